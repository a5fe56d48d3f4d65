/* Free pages go back to the OS: at once with gort_release_memory, and in the
 * background by the scavenger thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdbool.h>
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

/* The VmFlags of the mapping that holds addr ("" if none), from /proc/self/smaps. */
static void vmflags(uintptr_t addr, char *out, size_t n) {
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    bool in = false;
    out[0] = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = addr >= lo && addr < hi;
        else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, n, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

static bool has_flag(uintptr_t addr, const char *flag) {
    char f[512];
    vmflags(addr, f, sizeof f);
    char want[8];
    snprintf(want, sizeof want, " %s", flag);
    return strstr(f, want) != NULL;
}

/* GORT_DEBUG=hugepages=1: new arenas (here a huge block's own reservation) are
 * advised MADV_HUGEPAGE, the default leaves them alone; a release turns huge
 * pages off for the huge pages it leaves partly mapped, and only those. */
static void hugepages_advised_and_released(void **state) {
    (void)state;
    size_t hp = (size_t)gort__os_read_number("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
    if (hp != 2u << 20)
        skip();   /* no transparent huge pages, or not 2 MiB ones: nothing to check */
    gort__settings.hugepages = 0;
    char *plain = gort_malloc(80u << 20);
    assert_non_null(plain);
    assert_false(has_flag((uintptr_t)plain, "hg"));
    gort__settings.hugepages = 1;
    char *huge = gort_malloc(80u << 20);
    assert_non_null(huge);
    assert_true(has_flag((uintptr_t)huge, "hg"));
    gort_free(huge);
    gort_free(plain);
    gort__settings.hugepages = 0;

    /* Four huge pages, advised; release [1 MiB, 5 MiB): the first and the third
     * are left partly mapped, the second is released whole, the fourth untouched. */
    char *r = gort__os_reserve(4 * hp, hp);
    assert_non_null(r);
    gort__os_hugepages(r, 4 * hp);
    memset(r, 1, 4 * hp);
    gort__os_release(r + hp / 2, 2 * hp);
    gort__os_nohugepages_around(r + hp / 2, 2 * hp);
    assert_true(has_flag((uintptr_t)r, "nh"));
    assert_true(has_flag((uintptr_t)r + hp, "hg"));
    assert_true(has_flag((uintptr_t)r + 2 * hp, "nh"));
    assert_true(has_flag((uintptr_t)r + 3 * hp, "hg"));
    assert_int_equal(r[hp / 2 - 1], 1);      /* kept */
    assert_int_equal(r[hp / 2], 0);          /* released: reads as zero */
    assert_int_equal(r[5 * hp / 2 - 1], 0);
    assert_int_equal(r[5 * hp / 2], 1);
    gort__os_unmap(r, 4 * hp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(release_memory_returns_pages),
        cmocka_unit_test(background_scavenger_releases),
        cmocka_unit_test(hugepages_advised_and_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
