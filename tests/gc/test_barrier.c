/* gc.barrier: the write barrier's store while no mark runs is a restartable
 * sequence (gc/barrier.c): a stop that lands between its phase read and its
 * store rewinds the thread to the read.  Two threads each rewire a small graph
 * of their own (no node is shared: no data race) in a tight loop of barrier
 * stores -- the old values they overwrite become garbage
 * unless shaded -- while the main thread runs cycles, until stops have landed
 * inside the sequence (gort__gc_wb_rewinds) and enough cycles have passed.
 * Registered with GORT_DEBUG=gccheckmark=1: every cycle re-marks the heap with
 * the world stopped and dies on a reachable object the mark missed, which a
 * store that skipped its barrier would leave.  Every node's checksum is then
 * checked.  Sanitizer builds take the barrier's critical-section path, without
 * the sequence: there the count stays 0 and only the graph is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <gort/gort.h>

#include "gc/common.h"

extern _Atomic uint64_t gort__gc_wb_rewinds;
int gort__gc_wb_restartable(void);

#define NROOTS 32   /* per thread */
#define NTHREADS 2

typedef struct node node;
struct node {
    node *next[2];
    uint64_t id, check;
};

static node *roots[NTHREADS][NROOTS];   /* bss: a root; row k is thread k's */
static _Atomic uint64_t next_id = 1;
static _Atomic int stop;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static node *make(void) {
    node *n = gort_gc_alloc(sizeof *n);
    assert_non_null(n);
    n->id = atomic_fetch_add(&next_id, 1);
    n->check = mix(n->id);
    return n;
}

/* Marsaglia's xorshift64: the next of a thread's own random sequence. */
static uint64_t next_rand(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void *mutator(void *arg) {
    node **r = roots[(uintptr_t)arg];
    uint64_t x = ((uintptr_t)arg + 1) * 0x9e3779b97f4a7c15ull + 1;
    assert_int_equal(gort_gc_register_thread(), 0);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int k = 0; k < 256; k++) {
            next_rand(&x);
            node *a = r[x % NROOTS], *b = r[(x >> 8) % NROOTS];
            /* Move b's edge to a: the only reference to a's old target may be
             * the one overwritten, held in no register after the store. */
            GORT_GC_STORE(a->next[(x >> 16) & 1], b->next[(x >> 17) & 1]);
            GORT_GC_STORE(b->next[(x >> 17) & 1], b);
        }
        GORT_GC_STORE(r[(x >> 24) % NROOTS], make());
    }
    gort_gc_unregister_thread();
    return NULL;
}

static void check_graph(void) {
    for (int k = 0; k < NTHREADS; k++) {
        for (int i = 0; i < NROOTS; i++) {
            node *n = roots[k][i];
            for (int d = 0; n && d < 64; d++) {
                assert_int_equal(n->check, mix(n->id));
                n = n->next[d & 1];
            }
        }
    }
}

static void test_restart(void **state) {
    (void)state;
    for (int k = 0; k < NTHREADS; k++) {
        node **r = roots[k];
        for (int i = 0; i < NROOTS; i++)
            GORT_GC_STORE(r[i], make());
        for (int i = 0; i < NROOTS; i++) {
            GORT_GC_STORE(r[i]->next[0], r[(i + 1) % NROOTS]);
            GORT_GC_STORE(r[i]->next[1], r[(i + 7) % NROOTS]);
        }
    }
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, mutator, (void *)(uintptr_t)i), 0);
    /* Until 10 rewinds and 50 cycles, or 60 s (a bound on waiting, not a
     * measurement: a stop lands inside the sequence within a few dozen). */
    bool want = gort__gc_wb_restartable();
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int cycles = 0;
    for (;;) {
        gort_gc_collect();
        cycles++;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (cycles >= 50 && (!want || atomic_load(&gort__gc_wb_rewinds) >= 10))
            break;
        if (t.tv_sec - t0.tv_sec >= 60)
            break;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    if (want)
        assert_true(atomic_load(&gort__gc_wb_rewinds) >= 10);
    else
        assert_int_equal(atomic_load(&gort__gc_wb_rewinds), 0);
    gort_gc_collect();
    check_graph();
}

/* Moves across a heap the mark is half way through.  Two threads each own
 * CHAINS lists of DEPTH nodes (about 6 MiB in all: a mark takes milliseconds,
 * so at any moment some lists are scanned and some are not) and swap nodes
 * between two of their lists at random depths, now and then replacing one with
 * a fresh node.  A swap loads a node from the heap and stores it into a node
 * that may be black, and overwrites its old parent, which may be white: only
 * the barrier's deletion half keeps it.  The threads' stacks are black for most
 * of each mark (scanned once, early), where the barrier shades no new value
 * (gc/barrier.c, stack_black): a barrier that dropped the deletion half there
 * too fails this test (gccheckmark dies on the first node the mark missed). */
#define CHAINS 1024   /* per mover */
#define DEPTH 64
#define NGMOVERS 4    /* goroutines (test_black_stack_moves_goroutines) */
static node *chains[NGMOVERS > NTHREADS ? NGMOVERS : NTHREADS][CHAINS];   /* bss: a root */

static node *walk(node *n, int d) {
    while (d-- > 0)
        n = n->next[0];
    return n;
}

/* Until `stop`: swaps between mover k's lists (chains[k]); a goroutine
 * (yield_every > 0) lets the others run every so many swaps. */
static void move(int k, long yield_every) {
    node **c = chains[k];
    uint64_t x = ((uint64_t)k + 1) * 0x9e3779b97f4a7c15ull + 7;
    for (long i = 1; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
        if (yield_every && i % yield_every == 0)
            gort_yield();
        next_rand(&x);
        unsigned c1 = x % CHAINS, c2 = (x >> 12) % CHAINS;
        if (c1 == c2)
            continue;
        /* Parents at depths 0 .. DEPTH-3: every node moved has a successor. */
        node *p = walk(c[c1], (int)((x >> 24) % (DEPTH - 2)));
        node *q = walk(c[c2], (int)((x >> 32) % (DEPTH - 2)));
        node *a = p->next[0], *b = q->next[0];
        node *an = a->next[0], *bn = b->next[0];
        if ((x >> 40) % 16 == 0) {
            node *f = make();   /* a fresh node takes a's place: a is garbage */
            GORT_GC_STORE(f->next[0], an);
            GORT_GC_STORE(p->next[0], f);
            continue;
        }
        GORT_GC_STORE(p->next[0], b);
        GORT_GC_STORE(q->next[0], a);
        GORT_GC_STORE(a->next[0], bn);
        GORT_GC_STORE(b->next[0], an);
    }
}

static void *mover(void *arg) {
    assert_int_equal(gort_gc_register_thread(), 0);
    move((int)(uintptr_t)arg, 0);
    gort_gc_unregister_thread();
    return NULL;
}

/* Every mover's lists of DEPTH nodes, fresh. */
static void build_chains(int nmovers) {
    for (int k = 0; k < nmovers; k++) {
        for (int i = 0; i < CHAINS; i++) {
            node *h = NULL;
            for (int d = 0; d < DEPTH; d++) {
                node *n = make();
                GORT_GC_STORE(n->next[0], h);
                h = n;
            }
            GORT_GC_STORE(chains[k][i], h);
        }
    }
}

/* 40 cycles (or 60 s: a bound on waiting in slow sanitizer builds, not a
 * measurement). */
static void run_cycles(void) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int cycles = 0; cycles < 40; cycles++) {
        gort_gc_collect();
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= 60)
            break;
    }
}

/* Every list is whole, every node's checksum right. */
static void check_chains(int nmovers) {
    gort_gc_collect();
    for (int k = 0; k < nmovers; k++) {
        for (int i = 0; i < CHAINS; i++) {
            int len = 0;
            for (node *n = chains[k][i]; n; n = n->next[0], len++)
                assert_int_equal(n->check, mix(n->id));
            assert_int_equal(len, DEPTH);
        }
    }
}

static void test_black_stack_moves(void **state) {
    (void)state;
    atomic_store(&stop, 0);
    build_chains(NTHREADS);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, mover, (void *)(uintptr_t)i), 0);
    run_cycles();
    atomic_store(&stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    check_chains(NTHREADS);
}

/* The same moves made by goroutines, NGMOVERS of them on GORT_MAXPROCS Ps,
 * yielding now and then: a goroutine's stack is scanned by its M when it is
 * switched to or stopped, or by the collector while it waits in a run queue,
 * and from then on the barrier on its M shades old values only (stack_black
 * through the M's gscan).  The main goroutine runs the cycles. */
static gort_waitgroup_t gmovers_wg;

static void gmover(void *arg) {
    move((int)(uintptr_t)arg, 256);
    gort_wg_done(&gmovers_wg);
}

static void gmoves_main(void *arg) {
    (void)arg;
    build_chains(NGMOVERS);
    for (int k = 0; k < NGMOVERS; k++) {
        gort_wg_add(&gmovers_wg, 1);
        assert_int_equal(gort_go(gmover, (void *)(uintptr_t)k), 0);
    }
    run_cycles();
    atomic_store(&stop, 1);
    gort_wg_wait(&gmovers_wg);
    check_chains(NGMOVERS);
}

static void test_black_stack_moves_goroutines(void **state) {
    (void)state;
    atomic_store(&stop, 0);
    assert_int_equal(gort_main(gmoves_main, NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_black_stack_moves),
        cmocka_unit_test(test_black_stack_moves_goroutines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
