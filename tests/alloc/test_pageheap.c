/* The page heap: coalescing of free runs, no page leak over many cycles (the
 * statistics return to their baseline), and in-place resizing of large blocks;
 * and the span lists' two ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <gort/alloc.h>
#include "alloc/types.h"

static gort_alloc_stats_t snap(void) {
    gort_alloc_stats_t s;
    assert_int_equal(gort_alloc_stats(&s), 0);
    return s;
}

static void shuffle(void **a, size_t n, unsigned *seed) {
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand_r(seed) % (i + 1);
        void *t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* 4000 blocks of 40 KiB (5 pages) fill most of an arena; freed in random order
 * they must coalesce back into runs big enough for one 60 MiB block without the
 * heap growing. */
static void frees_coalesce(void **state) {
    (void)state;
    gort_release_memory();
    gort_alloc_stats_t base = snap();
    enum { N = 6000 };
    static void *p[N];
    unsigned seed = 1;
    for (int i = 0; i < N; i++)
        p[i] = gort_malloc(40 << 10);
    gort_alloc_stats_t full = snap();
    assert_int_equal(full.heap_inuse, base.heap_inuse + (uint64_t)N * 40960);
    shuffle(p, N, &seed);
    for (int i = 0; i < N; i++)
        gort_free(p[i]);
    /* The thread's cache keeps up to 4 MiB of freed large blocks; flush it so that
     * every run is back in the page heap. */
    gort_release_memory();
    gort_alloc_stats_t empty = snap();
    assert_int_equal(empty.heap_inuse, base.heap_inuse);
    void *big = gort_malloc(28 << 20);   /* under half an arena: from the page heap */
    assert_non_null(big);
    gort_alloc_stats_t after = snap();
    assert_int_equal(after.heap_sys, full.heap_sys);   /* no new arena was needed */
    gort_free(big);
}

/* Many cycles of random large and small allocations: the heap returns to its
 * baseline each time and does not grow from cycle to cycle. */
static void no_page_leak_over_cycles(void **state) {
    (void)state;
    gort_release_memory();
    gort_alloc_stats_t base = snap();
    unsigned seed = 42;
    enum { N = 600 };
    void *p[N];
    uint64_t sys_after_first = 0;
    for (int cycle = 0; cycle < 300; cycle++) {
        for (int i = 0; i < N; i++) {
            size_t n = (rand_r(&seed) % 4) ? (size_t)rand_r(&seed) % 4000 + 1
                                           : (size_t)rand_r(&seed) % (600 << 10) + 32769;
            p[i] = gort_malloc(n);
            assert_non_null(p[i]);
            memset(p[i], cycle, n < 64 ? n : 64);
        }
        shuffle(p, N, &seed);
        for (int i = 0; i < N; i++)
            gort_free(p[i]);
        gort_release_memory();
        gort_alloc_stats_t s = snap();
        assert_int_equal(s.heap_objects, base.heap_objects);
        assert_int_equal(s.heap_alloc, base.heap_alloc);
        assert_int_equal(s.heap_inuse, base.heap_inuse);
        assert_int_equal(s.heap_released, s.heap_idle);   /* everything idle was released */
        if (cycle == 0)
            sys_after_first = s.heap_sys;
        else
            assert_true(s.heap_sys <= sys_after_first + (64u << 20));
    }
}

static void large_realloc_in_place(void **state) {
    (void)state;
    gort_release_memory();
    char *p = gort_malloc(100 << 10);
    memset(p, 7, 100 << 10);
    char *q = gort_realloc(p, 60 << 10);   /* shrink: stays, tail pages go back */
    assert_ptr_equal(p, q);
    assert_int_equal(gort_usable_size(q), 64 << 10);
    char *r = gort_realloc(q, 200 << 10);  /* the pages after it are free: grows in place */
    assert_ptr_equal(q, r);
    assert_int_equal(gort_usable_size(r), 200 << 10);
    for (int i = 0; i < (60 << 10); i++)
        assert_int_equal(r[i], 7);
    gort_free(r);
}

/* Walks l from head to tail and back, checking the links, the tail and the
 * count, and returns the spans in order (ids = their index in sp). */
static int list_order(const span_list *l, mspan *sp, int *out) {
    int n = 0;
    const mspan *prev = NULL;
    for (const mspan *s = l->head; s; s = s->next) {
        assert_ptr_equal(s->prev, prev);
        out[n++] = (int)(s - sp);
        prev = s;
    }
    assert_ptr_equal(l->tail, prev);
    assert_int_equal(l->n, n);
    return n;
}

/* Spans listed at the head and at the tail come off the list in the order
 * the gc's central lists rely on (a refill pops at the head), and removal from
 * either end or the middle keeps the tail right. */
static void span_list_ends(void **state) {
    (void)state;
    mspan *sp = calloc(6, sizeof *sp);
    assert_non_null(sp);
    span_list l = {0};
    int o[6];
    gort__span_list_push(&l, &sp[0]);        /* 0 */
    gort__span_list_push_back(&l, &sp[1]);   /* 0 1 */
    gort__span_list_push(&l, &sp[2]);        /* 2 0 1 */
    gort__span_list_push_back(&l, &sp[3]);   /* 2 0 1 3 */
    assert_int_equal(list_order(&l, sp, o), 4);
    assert_int_equal(o[0], 2);
    assert_int_equal(o[1], 0);
    assert_int_equal(o[2], 1);
    assert_int_equal(o[3], 3);
    gort__span_list_remove(&l, &sp[3]);      /* the tail: 2 0 1 */
    assert_int_equal(list_order(&l, sp, o), 3);
    assert_ptr_equal(l.tail, &sp[1]);
    gort__span_list_remove(&l, &sp[0]);      /* the middle: 2 1 */
    gort__span_list_remove(&l, &sp[2]);      /* the head: 1 */
    assert_int_equal(list_order(&l, sp, o), 1);
    assert_ptr_equal(l.head, &sp[1]);
    assert_ptr_equal(l.tail, &sp[1]);
    gort__span_list_remove(&l, &sp[1]);      /* empty */
    assert_null(l.head);
    assert_null(l.tail);
    assert_int_equal(l.n, 0);
    gort__span_list_push_back(&l, &sp[4]);   /* on an empty list: head and tail */
    gort__span_list_push(&l, &sp[5]);        /* 5 4 */
    assert_int_equal(list_order(&l, sp, o), 2);
    assert_int_equal(o[0], 5);
    assert_int_equal(o[1], 4);
    free(sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(span_list_ends),
        cmocka_unit_test(frees_coalesce),
        cmocka_unit_test(no_page_leak_over_cycles),
        cmocka_unit_test(large_realloc_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
