/* gc.reclaim: unreachable memory is reclaimed — over a thousand cycles with a
 * steady live set and fresh garbage each cycle, heap_live stays bounded, and the
 * pages of empty spans go back to the page heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <gort/gort.h>

#include "gc/common.h"

typedef struct cell {
    struct cell *next;
    uint64_t v[3];
} cell;

static cell *live;   /* a global root: a steady 256 KiB list */

static cell *list(int n) {
    cell *h = NULL;
    for (int i = 0; i < n; i++) {
        cell *c = gort_gc_alloc(sizeof *c);
        c->v[0] = (uint64_t)i;
        GORT_GC_STORE(c->next, h);
        h = c;
    }
    return h;
}

__attribute__((noinline)) static void garbage(int k) {
    list(4000);                           /* 128 KiB of small objects */
    gort_gc_alloc_noscan(40000 + (size_t)k % 7 * 1000);   /* and a large one */
}

#if defined(__SANITIZE_THREAD__)
#define CYCLES 150
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CYCLES 150   /* TSan: each cycle is ~50x slower */
#endif
#endif
#ifndef CYCLES
#define CYCLES 1000
#endif

static void test_thousand_cycles(void **state) {
    (void)state;
    GORT_GC_STORE(live, list(8192));
    size_t max_live = 0;
    gort_alloc_stats_t as;
    uint64_t inuse_early = 0;
    for (int k = 0; k < CYCLES; k++) {
        garbage(k);
        clear_stack();
        gort_gc_collect();
        gort_gc_stats_t st;
        gort_gc_stats(&st);
        if (k >= 10 && st.heap_live > max_live)
            max_live = st.heap_live;
        if (k == 20) {
            gort_alloc_stats(&as);
            inuse_early = as.heap_inuse;
        }
    }
    gort_alloc_stats(&as);
    fprintf(stderr, "reclaim: max heap_live %zu KiB over cycles 10..%d; heap in use %llu KiB at cycle 20, %llu KiB at the end\n",
            max_live >> 10, CYCLES - 1, (unsigned long long)(inuse_early >> 10), (unsigned long long)(as.heap_inuse >> 10));
    assert_true(max_live < (1 << 20));                  /* 256 KiB live + slack */
    assert_true(as.heap_inuse < inuse_early + (4 << 20));
    int n = 0;
    for (cell *c = live; c; c = c->next)
        n++;
    assert_int_equal(n, 8192);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousand_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
