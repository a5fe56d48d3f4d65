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

/* Collect until pred() holds, at most n cycles; returns whether it did.  Between
 * cycles the finalizer thread gets a moment to run (on a loaded machine 20 quick
 * cycles could pass before it was scheduled at all). */
static inline int collect_until(int (*pred)(void), int n) {
    for (int i = 0; i < n; i++) {
        clear_stack();
        gort_gc_collect();
        if (pred())
            return 1;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        if (pred())
            return 1;
    }
    return pred();
}

#endif
