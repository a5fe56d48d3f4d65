/* Helpers shared by the scheduler suites.
 *
 * cmocka's assertions longjmp to the test's frame: fatal from inside a
 * goroutine (another stack, maybe another thread).  Goroutines CHECK instead,
 * which counts failures; run_main asserts there were none once gort_main has
 * returned. */
#ifndef GORT_TEST_SCHED_COMMON_H
#define GORT_TEST_SCHED_COMMON_H

#include "sched/internal.h"   /* first: it renames the runtime lock type */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/death.h"

#if GORT_TSAN
/* Death tests fork a process whose earlier tests left parked M threads, and
 * the child starts Ms of its own. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) {
    return "die_after_fork=0";
}
#endif

static int check_failures;
#define CHECK(e)                                                                               \
    do {                                                                                       \
        if (!(e)) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #e);              \
            __atomic_fetch_add(&check_failures, 1, __ATOMIC_RELAXED);                          \
        }                                                                                      \
    } while (0)
#define CHECK_EQ(a, b)                                                                         \
    do {                                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                                    \
        if (a_ != b_) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__,        \
                    __LINE__, #a, #b, a_, b_);                                                 \
            __atomic_fetch_add(&check_failures, 1, __ATOMIC_RELAXED);                          \
        }                                                                                      \
    } while (0)

/* Set the number of Ps for the next gort_main (GORT_MAXPROCS, from C). */
static inline void set_procs(int n) {
    gort__settings_init();
    gort__settings.maxprocs = n;
}

static inline void run_main(void (*fn)(void *), void *arg) {
    __atomic_store_n(&check_failures, 0, __ATOMIC_RELAXED);
    assert_int_equal(gort_main(fn, arg), 0);
    assert_int_equal(__atomic_load_n(&check_failures, __ATOMIC_RELAXED), 0);
}

/* Let everything runnable run: yield until this goroutine is the only one
 * that ran for `rounds` yields. */
static inline void settle(int rounds) {
    for (int i = 0; i < rounds; i++)
        gort_yield();
}

/* Yield until *flag is set (by a goroutine that may run on another P), at
 * most `ms` milliseconds; returns whether it was set. */
static inline bool wait_flag(volatile int *flag, int ms) {
    int64_t end = gort__nanotime() + (int64_t)ms * 1000000;
    while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
        if (gort__nanotime() > end)
            return false;
        gort_yield();
    }
    return true;
}

#endif
