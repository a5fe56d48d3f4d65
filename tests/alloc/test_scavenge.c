/* Free pages go back to the OS: at once with gort_release_memory, and in the
 * background by the scavenger thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gort/alloc.h>
#include "alloc/types.h"

static long rss_pages(void) {
    long size, rss;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &size, &rss), 2);
    fclose(f);
    return rss;
}

static gort_alloc_stats_t snap(void) {
    gort_alloc_stats_t s;
    assert_int_equal(gort_alloc_stats(&s), 0);
    return s;
}

enum { N = 200 };
static void *blocks[N];

static void touch_and_free(size_t each) {
    for (int i = 0; i < N; i++) {
        blocks[i] = gort_malloc(each);
        memset(blocks[i], 1, each);
    }
    for (int i = 0; i < N; i++)
        gort_free(blocks[i]);
}

static void release_memory_returns_pages(void **state) {
    (void)state;
    gort__settings.scavenge = 0;   /* only the explicit call releases here */
    gort_release_memory();
    long before = rss_pages();
    touch_and_free(256 << 10);   /* 50 MiB touched, then idle */
    long peak = rss_pages();
    gort_alloc_stats_t idle = snap();
    assert_true(idle.heap_idle - idle.heap_released >= (uint64_t)N * (256 << 10) - (8 << 20));
    gort_release_memory();
    gort_alloc_stats_t s = snap();
    assert_int_equal(s.heap_released, s.heap_idle);
    long after = rss_pages();
    long page = sysconf(_SC_PAGESIZE);
    assert_true((peak - before) * page >= 40l << 20);
    assert_true((peak - after) * page >= 40l << 20);   /* RSS followed the heap down */
}

/* The background scavenger gets there on its own.  It is given up to 20 s: the
 * check is that it happens, not how fast. */
static void background_scavenger_releases(void **state) {
    (void)state;
    gort__settings.scavenge = 1;
    gort_release_memory();
    touch_and_free(256 << 10);
    gort_alloc_stats_t s = snap();
    uint64_t dirty = s.heap_idle - s.heap_released;
    assert_true(dirty >= 40u << 20);
    for (int i = 0; i < 200; i++) {
        usleep(100000);
        s = snap();
        if (s.heap_idle - s.heap_released < dirty / 2)
            return;
    }
    fail_msg("the scavenger released nothing: %llu dirty idle bytes remain",
             (unsigned long long)(s.heap_idle - s.heap_released));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(release_memory_returns_pages),
        cmocka_unit_test(background_scavenger_releases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
