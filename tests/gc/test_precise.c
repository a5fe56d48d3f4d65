/* gc.precise: precise (typed) objects whose non-pointer words hold heap-looking
 * integers retain nothing; noscan objects are never scanned; conservative objects
 * do retain what their words point to.  Retention is observed through finalizers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <gort/gort.h>

#include "gc/common.h"

/* Each run counts its own victim's finalizer (a late finalizer of an earlier
 * run must not be taken for this run's). */
static _Atomic int counts[8];
static _Atomic int *finalized = &counts[0];
static int nruns;

static void on_final(void *obj, void *arg) {
    (void)obj;
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static int victims_gone(void) {
    int n = atomic_load(finalized);
    if (n > 1)
        fail_msg("a finalizer ran %d times", n);
    return n == 1;
}

typedef struct holder {
    void *ptr;           /* a pointer word */
    uint64_t integer;    /* an integer word that may look like a heap address */
} holder;
static const uint64_t holder_mask[1] = {1};
static const gort_gc_type_t holder_t = {sizeof(holder), holder_mask, "holder"};

/* A type whose mask sets only bits past its last word: it has no pointer word,
 * so its objects are noscan. */
typedef struct plain {
    uint64_t w[8];
} plain;
static const uint64_t plain_mask[1] = {0x300};
static const gort_gc_type_t plain_t = {sizeof(plain), plain_mask, "plain"};

static void *holder_slot;   /* a global root */

/* Allocate a victim with a finalizer and a holder that refers to it only through
 * the given word; runs on its own thread so that no stale copy stays on a stack. */
enum { TYPED_INT, NOSCAN_WORD, CONS_WORD, TYPED_NOPTR };
static void *setup(void *arg) {
    int how = (int)(intptr_t)arg;
    void *victim = gort_gc_alloc(64);
    gort_gc_set_finalizer(victim, on_final, (void *)finalized);
    if (how == TYPED_INT) {
        holder *h = gort_gc_alloc_typed(sizeof *h, &holder_t);
        h->integer = (uint64_t)(uintptr_t)victim;   /* not a pointer word */
        GORT_GC_STORE(holder_slot, h);
    } else if (how == TYPED_NOPTR) {
        plain *h = gort_gc_alloc_typed(sizeof *h, &plain_t);
        h->w[3] = (uint64_t)(uintptr_t)victim;
        GORT_GC_STORE(holder_slot, h);
    } else if (how == NOSCAN_WORD) {
        uintptr_t *h = gort_gc_alloc_noscan(64);
        h[3] = (uintptr_t)victim;
        GORT_GC_STORE(holder_slot, h);
    } else {
        uintptr_t *h = gort_gc_alloc(64);
        gort_gc_store((void **)&h[3], victim);
        GORT_GC_STORE(holder_slot, h);
    }
    return NULL;
}

static void run(int how) {
    finalized = &counts[nruns++ % 8];
    atomic_store(finalized, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, setup, (void *)(intptr_t)how), 0);
    pthread_join(t, NULL);
}

/* A victim that only a typed integer word or a noscan word refers to must
 * go.  Other roots are scanned conservatively, and rarely (under load, about
 * one run in thirty) some stale word elsewhere pins the first victim through
 * every cycle; a second and third victim, at other addresses, tell that apart
 * from a holder that retains: a holder that retained would keep all three. */
static void expect_collected(int how) {
    for (int attempt = 0; attempt < 3; attempt++) {
        run(how);
        if (collect_until(victims_gone, 20)) {
            GORT_GC_STORE(holder_slot, NULL);
            return;
        }
        print_message("victim %d kept (a stale conservative root?); another\n", attempt);
        GORT_GC_STORE(holder_slot, NULL);
    }
    fail_msg("three victims referred to only by %s words were all retained",
             how == TYPED_INT ? "typed integer" : how == TYPED_NOPTR ? "pointer-free typed" : "noscan");
}

static void test_typed_integer_retains_nothing(void **state) {
    (void)state;
    expect_collected(TYPED_INT);
}

static void test_noscan_never_scanned(void **state) {
    (void)state;
    expect_collected(NOSCAN_WORD);
}

static void test_typed_without_pointer_words_is_noscan(void **state) {
    (void)state;
    expect_collected(TYPED_NOPTR);
}

static void test_conservative_retains(void **state) {
    (void)state;
    run(CONS_WORD);
    for (int i = 0; i < 5; i++) {
        clear_stack();
        gort_gc_collect();
    }
    assert_int_equal(atomic_load(finalized), 0);
    GORT_GC_STORE(holder_slot, NULL);
    assert_true(collect_until(victims_gone, 20));
}

static void test_typed_pointer_retains(void **state) {
    (void)state;
    holder *h = gort_gc_alloc_typed(4 * sizeof(holder), &holder_t);   /* an array of 4 */
    void *v = gort_gc_alloc_noscan(100);
    ((char *)v)[99] = 42;
    GORT_GC_STORE(h[3].ptr, v);
    GORT_GC_STORE(holder_slot, h);
    h = NULL;
    v = NULL;
    for (int i = 0; i < 3; i++) {
        clear_stack();
        gort_gc_collect();
        holder *hh = holder_slot;
        assert_int_equal(((char *)hh[3].ptr)[99], 42);
        for (int k = 0; k < 1000; k++)
            memset(gort_gc_alloc_noscan(100), 0xff, 100);   /* would overwrite it if freed */
    }
    GORT_GC_STORE(holder_slot, NULL);
}

/* Two types of one size, allocated in turn, share spans: each object must be
 * scanned by its own type (a span's objects are of one type until a second
 * comes: gort__gc_type_mixed).  A list alternates them, the link in word 0 of
 * one and word 3 of the other; a link scanned by the wrong mask is missed, its
 * target freed and overwritten. */
typedef struct mix_a { struct mix_b *next; uint64_t tag, pad[2]; } mix_a;
typedef struct mix_b { uint64_t tag, pad[2]; struct mix_a *next; } mix_b;
static const uint64_t mix_a_mask[1] = {0x1}, mix_b_mask[1] = {0x8};
static const gort_gc_type_t mix_a_t = {sizeof(mix_a), mix_a_mask, "mix_a"};
static const gort_gc_type_t mix_b_t = {sizeof(mix_b), mix_b_mask, "mix_b"};
static mix_a *mix_head;   /* a global root */

static void test_mixed_types_in_one_span(void **state) {
    (void)state;
    enum { PAIRS = 3000 };
    mix_a *prev = NULL;
    for (uint64_t i = 0; i < PAIRS; i++) {
        mix_a *a = gort_gc_alloc_typed(sizeof *a, &mix_a_t);
        mix_b *b = gort_gc_alloc_typed(sizeof *b, &mix_b_t);
        a->tag = 2 * i;
        b->tag = 2 * i + 1;
        GORT_GC_STORE(a->next, b);
        if (prev)
            GORT_GC_STORE(prev->next->next, a);
        else
            GORT_GC_STORE(mix_head, a);
        prev = a;
    }
    prev = NULL;
    for (int round = 0; round < 3; round++) {
        clear_stack();
        gort_gc_collect();
        for (int k = 0; k < 20000; k++)   /* would overwrite what was freed */
            memset(gort_gc_alloc_noscan(32), 0xff, 32);
        uint64_t i = 0;
        for (mix_a *a = mix_head; a; a = a->next->next, i++) {
            assert_int_equal(a->tag, 2 * i);
            assert_non_null(a->next);
            assert_int_equal(a->next->tag, 2 * i + 1);
        }
        assert_int_equal(i, PAIRS);
    }
    GORT_GC_STORE(mix_head, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typed_integer_retains_nothing),
        cmocka_unit_test(test_noscan_never_scanned),
        cmocka_unit_test(test_typed_without_pointer_words_is_noscan),
        cmocka_unit_test(test_conservative_retains),
        cmocka_unit_test(test_typed_pointer_retains),
        cmocka_unit_test(test_mixed_types_in_one_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
