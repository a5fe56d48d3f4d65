/* gc.gtorture: ten thousand goroutines (GC_GTORTURE_G) build and rewire random
 * graphs held only in their own stack frames, pass nodes to one another through
 * buffered and unbuffered channels and through a global array, and check the
 * checksum of everything they can reach, while cycles run concurrently -- plus
 * two plain registered OS threads doing the same beside them through the global
 * array.  A node freed while reachable is reused zeroed, and its checksum fails.
 * Registered again with GORT_DEBUG=gccheckmark=1 (gc.gtorture_checkmark), which
 * also re-marks the heap after every mark and dies naming any reachable object
 * left unmarked.  GC_TORTURE_SECONDS sets the duration (default 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gort/gort.h>

#include "common/rng.h"

#define LOCALS 6
#define MAILBOXES 64
#define SHARED 64

typedef struct node node;
struct node {
    uint64_t id;
    uint64_t check;
    node *edge[2];
    uint64_t depth;   /* edges only go to shallower nodes: what a root reaches stays small */
};

#define MAXDEPTH 8
static node *shallower(node *x, const node *than) {
    return x && (!than || x->depth < than->depth) ? x : NULL;
}

static gort_chan_t *mailbox[MAILBOXES];   /* buffered, cap 8 */
static gort_chan_t *handoff;              /* unbuffered */
static gort_chan_t *gate;                 /* closed once every mutator exists */
static _Atomic int stop, errors, alive;
static _Atomic uint64_t next_id = 1, ops, handed;
static int ngoroutines;
static gort_waitgroup_t wg = GORT_WAITGROUP_INIT;

/* Nodes are shared between threads: edges are loaded with acquire, matching the
 * barrier's release store. */
#define LD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)

static uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15u;
    x ^= x >> 29;
    return x | 1;
}

static node *new_node(void) {
    node *x = gort_gc_alloc(sizeof *x);
    if (!x) {
        errors++;
        return NULL;
    }
    x->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    x->check = mix(x->id);
    return x;
}

/* Check what x reaches, to a small depth. */
static void verify(const node *x, int depth) {
    if (!x)
        return;
    if (x->check != mix(x->id)) {
        if (errors++ < 5)
            fprintf(stderr, "gc.gtorture: node %p: id %llu check %llx (freed while reachable?)\n", (const void *)x,
                    (unsigned long long)x->id, (unsigned long long)x->check);
        return;
    }
    if (depth > 0) {
        verify(LD(x->edge[0]), depth - 1);
        verify(LD(x->edge[1]), depth - 1);
    }
}

/* A root: the node and the id it must still have.  A node freed while a root
 * held it is reused by another node, with another id.  Roots move (channels,
 * the global array), never copy, so the pair stays exact. */
typedef struct ref {
    node *p;
    uint64_t id;
} ref;

static void verify_ref(ref r, int depth) {
    if (r.p && r.p->id != r.id && errors++ < 5)
        fprintf(stderr, "gc.gtorture: root %p: id %llu, expected %llu (freed while a root held it)\n",
                (void *)r.p, (unsigned long long)r.p->id, (unsigned long long)r.id);
    verify(r.p, depth);
}

static node *shared_p[SHARED];   /* bss: a root; written through the barrier */
static uint64_t shared_id[SHARED];
static _Atomic int shared_lock;

/* One step on a graph whose roots are local[] (a frame of the caller's). */
static void step(ref *local, uint64_t *seed, bool goroutine) {
    uint64_t r = test_rng_next(seed);
    unsigned i = (unsigned)(r % LOCALS), j = (unsigned)((r >> 8) % LOCALS);
    switch ((r >> 16) % 8) {
    case 0:
    case 1: {   /* a new node, linked to two others */
        node *x = new_node();
        if (!x)
            return;
        x->depth = (r >> 40) % MAXDEPTH;
        GORT_GC_STORE(x->edge[0], shallower(local[j].p, x));
        GORT_GC_STORE(x->edge[1], shallower(local[(j + 1) % LOCALS].p, x));
        local[i] = (ref){x, x->id};
        break;
    }
    case 2:   /* rewire: a heap edge */
        if (local[i].p)
            GORT_GC_STORE(local[i].p->edge[(r >> 24) & 1], shallower(local[j].p, local[i].p));
        break;
    case 3:   /* follow an edge, dropping the root */
        if (local[i].p) {
            node *y = LD(local[i].p->edge[(r >> 24) & 1]);
            local[i] = (ref){y, y ? y->id : 0};
        }
        break;
    case 4: {   /* swap with a global */
        unsigned k = (unsigned)((r >> 32) % SHARED);
        int z = 0;
        /* A plain thread spins with sched_yield: under TSan a thread answers a
         * stop only at an interceptor, and the holder may be stopped
         * (gc.torture's shared_acquire).  A goroutine spins with gort_yield:
         * the holder may be a goroutine preempted with the lock held, waiting
         * in a run queue for a P, and a goroutine in sched_yield keeps its P
         * (the preemption signal finds it inside libc and leaves it). */
        while (!atomic_compare_exchange_weak(&shared_lock, &z, 1)) {
            z = 0;
            if (goroutine)
                gort_yield();
            else
                sched_yield();
        }
        ref old = {LD(shared_p[k]), shared_id[k]};
        GORT_GC_STORE(shared_p[k], local[i].p);
        shared_id[k] = local[i].id;
        atomic_store(&shared_lock, 0);
        local[i] = old;
        break;
    }
    case 5:
        if (goroutine) {   /* through a mailbox, without blocking */
            gort_chan_t *c = mailbox[(r >> 32) % MAILBOXES];
            ref in = {0};
            gort_select_case_t cs[2] = {{c, GORT_CHAN_SEND, &local[i], false}, {c, GORT_CHAN_RECV, &in, false}};
            int got = gort_select(cs, 2, false);
            if (got == 0)
                local[i] = (ref){0};
            else if (got == 1)
                local[j] = in;
            handed += got >= 0;
        }
        break;
    case 6:
        if (goroutine && ((r >> 40) & 15) == 0) {   /* hand-off: blocks until a partner comes */
            ref in = {0};
            gort_select_case_t cs[2] = {{handoff, GORT_CHAN_SEND, &local[i], false},
                                        {handoff, GORT_CHAN_RECV, &in, false}};
            if (gort_select(cs, 2, true) == 0)
                local[i] = (ref){0};
            else
                local[j] = in;
            handed++;
        }
        break;
    default:
        verify_ref(local[i], 3);
        break;
    }
}

static void mutator(void *arg) {
    uint64_t seed = mix((uint64_t)(uintptr_t)arg);
    ref local[LOCALS] = {{0}};   /* the roots: this frame only */
    char c;
    gort_chan_recv(gate, &c);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int k = 0; k < 64; k++)
            step(local, &seed, true);
        ops += 64;
        for (int k = 0; k < LOCALS; k++)
            verify_ref(local[k], 2);
        gort_yield();
    }
    alive--;
    gort_wg_done(&wg);
}

/* The hand-off channel's partners: select both ways until every mutator is
 * done, so that a mutator blocked in a hand-off always finds one. */
static void partner(void *arg) {
    (void)arg;
    ref x = {0};
    while (atomic_load_explicit(&alive, memory_order_relaxed) > 0) {
        ref in = {0};
        gort_select_case_t cs[2] = {{handoff, GORT_CHAN_SEND, &x, false}, {handoff, GORT_CHAN_RECV, &in, false}};
        int got = gort_select(cs, 2, false);
        if (got < 0)
            gort_sleep(100000);
        else if (got == 0)
            x = (ref){0};
        else
            x = in;
        verify_ref(x, 2);
    }
    gort_wg_done(&wg);
}

static void *thread_main(void *arg) {
    gort_gc_register_thread();
    uint64_t seed = mix((uint64_t)(uintptr_t)arg + 77);
    ref local[LOCALS] = {{0}};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int k = 0; k < 64; k++)
            step(local, &seed, false);
        for (int k = 0; k < LOCALS; k++)
            verify_ref(local[k], 2);
    }
    gort_gc_unregister_thread();
    return NULL;
}

static void torture_main(void *arg) {
    (void)arg;
    int secs = getenv("GC_TORTURE_SECONDS") ? atoi(getenv("GC_TORTURE_SECONDS")) : 5;
    for (int i = 0; i < MAILBOXES; i++)
        mailbox[i] = gort_chan_make(sizeof(ref), 8);
    handoff = gort_chan_make(sizeof(ref), 0);
    gate = gort_chan_make(1, 0);
    gort_wg_add(&wg, ngoroutines + 2);
    alive = ngoroutines;
    for (int i = 0; i < ngoroutines; i++)
        assert_int_equal(gort_go(mutator, (void *)(uintptr_t)(i + 1)), 0);
    gort_go(partner, NULL);
    gort_go(partner, NULL);
    gort_chan_close(gate);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, (void *)(uintptr_t)i), 0);
    gort_gc_stats_t s0;
    gort_gc_stats(&s0);
    int64_t t0 = gort_nanotime();
    gort_sleep((int64_t)secs * 1000000000);
    int64_t t1 = gort_nanotime();
    atomic_store(&stop, 1);
    gort_wg_wait(&wg);
    if (getenv("GTORTURE_VERBOSE"))
        fprintf(stderr, "slept %.3f s, stopped in %.3f s\n", (t1 - t0) / 1e9, (gort_nanotime() - t1) / 1e9);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    gort_gc_stats_t s1;
    gort_gc_stats(&s1);
    printf("gc.gtorture: %d goroutines, %llu steps, %llu channel hand-offs, %llu cycles, pause max %.1f us, "
           "time to safe point max %.1f us\n",
           ngoroutines, (unsigned long long)ops, (unsigned long long)handed,
           (unsigned long long)(s1.num_gc - s0.num_gc), s1.pause_max_ns / 1e3, s1.ttsp_max_ns / 1e3);
    assert_true(s1.num_gc - s0.num_gc >= 3);
    /* Drain the mailboxes: what they hold must still be intact. */
    for (int i = 0; i < MAILBOXES; i++) {
        ref x;
        gort_select_case_t cs[1] = {{mailbox[i], GORT_CHAN_RECV, &x, false}};
        while (gort_select(cs, 1, false) == 0)
            verify_ref(x, 3);
        gort_chan_free(mailbox[i]);
    }
    gort_chan_free(handoff);
    gort_chan_free(gate);
}

static void test_gtorture(void **state) {
    (void)state;
    ngoroutines = getenv("GC_GTORTURE_G") ? atoi(getenv("GC_GTORTURE_G")) : 10000;
    assert_int_equal(gort_main(torture_main, NULL), 0);
    assert_int_equal(errors, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gtorture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
