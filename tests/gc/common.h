/* Helpers shared by the GC suites. */
#ifndef GORT_TEST_GC_COMMON_H
#define GORT_TEST_GC_COMMON_H

#include <gort/gc.h>
#include <string.h>
#include <time.h>

/* Overwrite a deep stretch of the stack below the caller, so that stale copies of
 * pointers in dead frames do not keep objects alive (the stack is scanned
 * conservatively). */
__attribute__((noinline)) static void clear_stack(void) {
    volatile char buf[64 << 10];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" ::"r"(buf) : "memory");
}

/* Collect until pred() holds: at least n cycles, and on until 5 s have passed;
 * returns whether it did.  Between cycles the finalizer thread gets a moment to
 * run (on a loaded machine -- ctest -j2 beside the torture suites -- 20 quick
 * cycles, or 50, could pass before it was scheduled at all).  The time is a
 * bound on waiting, never a measurement. */
static inline int collect_until(int (*pred)(void), int n) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0;; i++) {
        clear_stack();
        gort_gc_collect();
        if (pred())
            return 1;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        if (pred())
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (i + 1 >= n && t.tv_sec - t0.tv_sec >= 5)
            break;
    }
    return pred();
}

#endif
