/* gc.memlimit: the soft memory limit holds against a growing live set (the heap's
 * footprint stays near the limit while the live set is below it, though GORT_GC
 * alone would allow twice the live set), and when the live set outgrows the limit
 * the program goes on (the collector runs more often instead of failing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <gort/gort.h>

#include "gc/common.h"

#define CHUNK (1 << 20)
#define MAXCHUNKS 160

static void **chunks;   /* a conservative GC array of 1 MiB noscan blocks: the live set */

static uint64_t footprint(void) {
    gort_alloc_stats_t as;
    gort_alloc_stats(&as);
    return as.heap_inuse + (as.heap_idle - as.heap_released) + as.meta_sys;
}

static void test_limit(void **state) {
    (void)state;
    const size_t limit = (size_t)96 << 20;
    gort_gc_set_memory_limit(limit);
    chunks = gort_gc_alloc(MAXCHUNKS * sizeof(void *));
    uint64_t worst = 0;
    int worst_at = 0;
    for (int n = 0; n < MAXCHUNKS; n++) {
        void *c = gort_gc_alloc_noscan(CHUNK);
        memset(c, n, CHUNK);
        GORT_GC_STORE(chunks[n], c);
        /* churn: 8 MiB of garbage per MiB of growth, written as a program would */
        for (int g = 0; g < 256; g++)
            memset(gort_gc_alloc_noscan(32 << 10), g, 32 << 10);
        uint64_t f = footprint();
        if (n < 64 && f > worst) {   /* live below 2/3 of the limit */
            worst = f;
            worst_at = n;
        }
    }
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    fprintf(stderr, "memlimit: limit %zu MiB; worst footprint %llu MiB at %d MiB live; "
            "at %d MiB live: %llu MiB, goal %zu MiB, %llu cycles\n",
            limit >> 20, (unsigned long long)(worst >> 20), worst_at, MAXCHUNKS,
            (unsigned long long)(footprint() >> 20), st.heap_goal >> 20, (unsigned long long)st.num_gc);
    /* A soft limit: the footprint passes it by what is allocated while a mark
     * finishes and its garbage is swept -- about 90 MiB alone, up to 113 with
     * the sanitizer suites beside it on two CPUs.  Without the limit it would
     * be twice the live set, at least 126 MiB at 63 MiB live. */
    assert_true(worst <= limit + limit / 4);
    /* Beyond the limit: still running, everything still there. */
    for (int n = 0; n < MAXCHUNKS; n++) {
        unsigned char *c = chunks[n];
        assert_non_null(c);
        assert_int_equal(c[0], (unsigned char)n);
        assert_int_equal(c[CHUNK - 1], (unsigned char)n);
    }
    gort_gc_set_memory_limit(SIZE_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
