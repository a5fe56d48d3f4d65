/* gc.finalizer: finalizers run exactly once, on their own thread; what the object
 * reaches is intact when its finalizer runs; removing a finalizer works; an object
 * whose finalizer ran is freed by a later cycle; a chain of finalizable objects,
 * each reached only from the one before, is finalized to the end (the
 * finalizer thread keeps no stale pointer to the object it last ran). */
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

#define N 2000

typedef struct obj {
    uint64_t id;
    struct child *child;
} obj;
typedef struct child {
    uint64_t magic;
} child;

static _Atomic int runs[N];        /* per object (bss: integers only) */
static _Atomic int total, bad;
static _Atomic int removed_ran;
static pthread_t main_thread;

static void fin(void *p, void *arg) {
    obj *o = p;
    if (pthread_equal(pthread_self(), main_thread) || (uintptr_t)arg != o->id * 3 ||
        !o->child || o->child->magic != 0xC0FFEE00 + o->id)
        atomic_fetch_add(&bad, 1);
    atomic_fetch_add(&runs[o->id], 1);
    atomic_fetch_add(&total, 1);
}

static void fin_removed(void *p, void *arg) {
    (void)p;
    (void)arg;
    atomic_fetch_add(&removed_ran, 1);
}

static void *make(void *arg) {
    (void)arg;
    for (uint64_t i = 0; i < N; i++) {
        obj *o = gort_gc_alloc(sizeof *o);
        o->id = i;
        child *c = gort_gc_alloc(sizeof *c);
        c->magic = 0xC0FFEE00 + i;
        GORT_GC_STORE(o->child, c);
        gort_gc_set_finalizer(o, fin, (void *)(uintptr_t)(i * 3));
    }
    for (int i = 0; i < 100; i++) {
        void *o = gort_gc_alloc(32);
        gort_gc_set_finalizer(o, fin_removed, NULL);
        gort_gc_set_finalizer(o, NULL, NULL);
    }
    return NULL;
}

/* Scanning is conservative: a stale word on some stack (a register spilled
 * by the finalizer thread, a worker's frame) may keep an object reachable for
 * as long as the word stays -- under load one in a few dozen runs kept one of
 * the 2000 alive through a hundred cycles.  So "all" is all but MAX_KEPT; each
 * finalizer that runs must still run exactly once. */
#define MAX_KEPT 2
static int all_ran(void) { return atomic_load(&total) >= N - MAX_KEPT; }

static void test_exactly_once(void **state) {
    (void)state;
    main_thread = pthread_self();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, make, NULL), 0);
    pthread_join(t, NULL);
    assert_true(collect_until(all_ran, 100));
    for (int i = 0; i < 5; i++) {
        clear_stack();
        gort_gc_collect();
        for (int k = 0; k < 10000; k++)
            gort_gc_alloc(32);
    }
    struct timespec nap = {0, 50 * 1000000};
    nanosleep(&nap, NULL);
    int ran = atomic_load(&total), once = 0;
    if (ran < N)
        print_message("finalizers run: %d of %d (the rest kept by stale conservative roots)\n", ran, N);
    assert_true(ran >= N - MAX_KEPT && ran <= N);
    for (int i = 0; i < N; i++) {
        assert_true(atomic_load(&runs[i]) <= 1);
        once += atomic_load(&runs[i]);
    }
    assert_int_equal(once, ran);
    assert_int_equal(atomic_load(&bad), 0);
    assert_int_equal(atomic_load(&removed_ran), 0);
    /* The finalized objects (and their children) are garbage now: reclaimed. */
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    assert_true(st.heap_live < (1 << 20));
    assert_true(st.finalizers_run >= (uint64_t)ran);
}

/* ---- a chain: each object's finalizer can run only once the one before it
 * has run and been freed (the one before reaches it) ---- */
#define CHAIN 20
typedef struct link {
    struct link *next;
    uint64_t k;
} link;
static _Atomic int chain_ran, chain_order_bad;

static void fin_link(void *p, void *arg) {
    (void)arg;
    link *l = p;
    if ((int)l->k != atomic_load(&chain_ran))
        atomic_fetch_add(&chain_order_bad, 1);
    atomic_fetch_add(&chain_ran, 1);
}

static void *make_chain(void *arg) {
    (void)arg;
    link *next = NULL;
    for (int k = CHAIN - 1; k >= 0; k--) {
        link *l = gort_gc_alloc(sizeof *l);
        l->k = (uint64_t)k;
        GORT_GC_STORE(l->next, next);
        gort_gc_set_finalizer(l, fin_link, NULL);
        next = l;
    }
    return NULL;
}

static int chain_done(void) { return atomic_load(&chain_ran) == CHAIN; }

static void test_chain(void **state) {
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, make_chain, NULL), 0);
    pthread_join(t, NULL);
    /* Two cycles per link at least (finalize, then free); many more allowed. */
    int done = collect_until(chain_done, 40 * CHAIN);
    if (!done)
        print_message("chain finalized up to %d of %d\n", atomic_load(&chain_ran), CHAIN);
    assert_true(done);
    assert_int_equal(atomic_load(&chain_order_bad), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exactly_once),
        cmocka_unit_test(test_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
