/* gc.torture: four threads build and rewire random graphs through the barrier
 * while collections run concurrently — shared nodes (under a lock), cycles,
 * interior pointers, large nodes with an edge in a far oblet, pointers held only
 * on stacks and in registers, in globals and in a registered range, precise nodes
 * whose integer words look like heap pointers — and check every reachable node's
 * checksum after every cycle.  Registered again with GORT_DEBUG=gccheckmark=1
 * (gc.torture_checkmark) and gcstoptheworld=1 (gc.torture_stw).
 * GC_TORTURE_SECONDS sets the duration (default 8).  Its own bookkeeping uses
 * libc malloc (the registered range too: any memory can be a root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gort/gort.h>

#define NTHREADS 4
#define NROOTS 8
#define SHARED 32
#define BIG_BYTES (200 << 10)
#define BIG_FAR (150000 & ~7)
#define SHARED_BIT ((uint64_t)1 << 63)
#define LIMIT 20000

enum { CONS = 0, TYPED = 1, BIG = 2 };

typedef struct node node;
struct node {
    uint64_t id;
    uint64_t check;
    uint64_t kind;
    node *edge[4];
    char *interior;          /* &other->payload[2] */
    uint64_t payload[6];     /* payload[0]: a heap-looking integer */
};

static const uint64_t node_mask[1] = {0xF8};   /* words 3..7: edge[0..3], interior */
static const gort_gc_type_t node_type = {sizeof(node), node_mask, "torture.node"};

static node *g_roots[NTHREADS][NROOTS];        /* globals: bss */
static node *shared[SHARED];                   /* shared nodes, under shared_lock */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int stop;

/* Take shared_lock without sleeping in the kernel: under TSan a signal reaches a
 * thread only at an interceptor, so a thread asleep in pthread_mutex_lock while
 * the holder is stopped by the collector would never answer its own stop signal.
 * Each trylock is an interceptor; without TSan this costs nothing. */
static void shared_acquire(void) {
    while (pthread_mutex_trylock(&shared_lock) != 0)
        sched_yield();
}
static _Atomic uint64_t verified_cycles, nodes_checked, failures;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t checksum(const node *n) {
    uint64_t h = mix(n->id ^ (n->kind << 56));
    for (int i = 0; i < 6; i++)
        h = mix(h ^ n->payload[i]);
    return h;
}

static node **far_slot(node *n) {
    return (node **)((char *)n + BIG_FAR);
}

typedef struct tstate {
    int me;
    uint64_t rng, next_id;
    node **reg;                                /* registered range (libc malloc) */
    node *stack[NROOTS];                       /* stack roots live in the thread's frame */
} tstate;

static uint64_t rnd(tstate *s) {
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static node *make_node(tstate *s, bool is_shared) {
    uint64_t r = rnd(s);
    int kind = is_shared ? CONS : (r % 400 == 0 ? BIG : (int)(r % 2));
    node *n;
    if (kind == BIG)
        n = gort_gc_alloc(BIG_BYTES);
    else if (kind == TYPED)
        n = gort_gc_alloc_typed(sizeof(node), &node_type);
    else
        n = gort_gc_alloc(sizeof(node));
    if (!n)
        fail_msg("out of memory");
    n->id = ((uint64_t)s->me << 48) | s->next_id++ | (is_shared ? SHARED_BIT : 0);
    n->kind = (uint64_t)kind;
    for (int i = 0; i < 6; i++)
        n->payload[i] = rnd(s);
    n->check = checksum(n);
    return n;
}

static node **root_slot(tstate *s, uint64_t r, int *kind) {
    int i = (int)((r >> 8) % NROOTS);
    *kind = (int)(r % 3);
    return *kind == 0 ? &g_roots[s->me][i] : *kind == 1 ? &s->reg[i] : &s->stack[i];
}

static void set_root(tstate *s, node *n) {
    int kind;
    node **slot = root_slot(s, rnd(s), &kind);
    if (kind == 2)
        *slot = n;                 /* own stack: no barrier */
    else
        GORT_GC_STORE(*slot, n);
}

/* A random private node reachable from s's roots, or NULL. */
static node *pick(tstate *s) {
    int kind;
    node *n = *root_slot(s, rnd(s), &kind);
    for (int steps = (int)(rnd(s) % 6); n && steps > 0; steps--) {
        if (n->id & SHARED_BIT)
            return NULL;
        node *nx = n->edge[rnd(s) % 4];
        if (!nx)
            break;
        n = nx;
    }
    return n && !(n->id & SHARED_BIT) ? n : NULL;
}

/* ---- verification ---------------------------------------------------------------- */
typedef struct vset {
    node **tab;
    size_t cap, n;
    node **stk;
    size_t sn, scap;
} vset;

static bool vset_add(vset *v, node *n) {
    size_t h = (size_t)(mix((uintptr_t)n) & (v->cap - 1));
    while (v->tab[h]) {
        if (v->tab[h] == n)
            return false;
        h = (h + 1) & (v->cap - 1);
    }
    v->tab[h] = n;
    v->n++;
    return true;
}

static void check_node(node *n) {
    if (n->check != checksum(n) || (n->kind != CONS && n->kind != TYPED && n->kind != BIG)) {
        fprintf(stderr, "torture: node %p (id %llx, kind %llu) is corrupt: check %llx, want %llx\n",
                (void *)n, (unsigned long long)n->id, (unsigned long long)n->kind,
                (unsigned long long)n->check, (unsigned long long)checksum(n));
        atomic_fetch_add(&failures, 1);
        abort();
    }
}

static void visit(vset *v, node *n) {
    if (!n || !vset_add(v, n))
        return;
    if (v->sn == v->scap) {
        v->scap *= 2;
        v->stk = realloc(v->stk, v->scap * sizeof *v->stk);
    }
    v->stk[v->sn++] = n;
}

/* Walk everything reachable from s's roots (not through shared nodes' edges). */
static size_t verify(tstate *s) {
    vset v = {0};
    v.cap = 1 << 17;
    v.tab = calloc(v.cap, sizeof *v.tab);
    v.scap = 1024;
    v.stk = malloc(v.scap * sizeof *v.stk);
    for (int i = 0; i < NROOTS; i++) {
        visit(&v, g_roots[s->me][i]);
        visit(&v, s->reg[i]);
        visit(&v, s->stack[i]);
    }
    while (v.sn) {
        node *n = v.stk[--v.sn];
        check_node(n);
        if (v.n > v.cap / 2)
            break;
        if (n->id & SHARED_BIT)
            continue;
        for (int k = 0; k < 4; k++)
            visit(&v, n->edge[k]);
        if (n->interior)
            visit(&v, (node *)(n->interior - offsetof(node, payload[2])));
        if (n->kind == BIG)
            visit(&v, *far_slot(n));
    }
    size_t count = v.n;
    atomic_fetch_add(&nodes_checked, count);
    free(v.tab);
    free(v.stk);
    return count;
}

static void verify_shared(void) {
    shared_acquire();
    for (int i = 0; i < SHARED; i++) {
        node *n = shared[i];
        for (int d = 0; n && d < 8; d++) {
            check_node(n);
            n = n->edge[d % 4];
        }
    }
    pthread_mutex_unlock(&shared_lock);
}

/* A node held only in a local (a register or this frame) across allocation. */
__attribute__((noinline)) static void register_held(tstate *s) {
    node *keep = make_node(s, false);
    for (int i = 0; i < 300; i++) {
        node *g = make_node(s, false);   /* garbage */
        GORT_GC_STORE(g->edge[0], keep);
    }
    check_node(keep);
}

static void *worker(void *arg) {
    tstate st = {.me = (int)(intptr_t)arg};
    tstate *s = &st;
    s->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(s->me + 1);
    s->reg = malloc(NROOTS * sizeof(node *));   /* libc memory, registered */
    memset(s->reg, 0, NROOTS * sizeof(node *));
    gort_gc_add_roots(s->reg, s->reg + NROOTS);
    gort_gc_stats_t gs;
    gort_gc_stats(&gs);
    uint64_t seen = gs.num_gc;
    while (!atomic_load(&stop)) {
        uint64_t r = rnd(s) % 100;
        if (r < 35) {
            node *n = make_node(s, false);
            for (int k = 0; k < 4; k++)
                GORT_GC_STORE(n->edge[k], pick(s));
            node *other = pick(s);
            /* A heap-looking integer: precise nodes must not retain it; in a
             * conservative node it is a pointer to the collector, so it goes
             * through the barrier. */
            if (n->kind == TYPED)
                n->payload[0] = (uint64_t)(uintptr_t)other;
            else
                gort_gc_store((void **)&n->payload[0], other);
            n->check = checksum(n);
            if (n->kind == BIG)
                GORT_GC_STORE(*far_slot(n), pick(s));
            set_root(s, n);
        } else if (r < 60) {
            node *a = pick(s);
            if (a)
                GORT_GC_STORE(a->edge[rnd(s) % 4], pick(s));
        } else if (r < 70) {
            node *a = pick(s), *b = pick(s);
            if (a && b)
                GORT_GC_STORE(a->interior, (char *)&b->payload[2]);
        } else if (r < 75) {
            int kind;
            node **slot = root_slot(s, rnd(s), &kind);
            if (kind == 2)
                *slot = NULL;
            else
                GORT_GC_STORE(*slot, NULL);
        } else if (r < 82) {
            shared_acquire();
            node *sh = shared[rnd(s) % SHARED];
            pthread_mutex_unlock(&shared_lock);
            node *a = pick(s);
            if (a && sh)
                GORT_GC_STORE(a->edge[rnd(s) % 4], sh);
        } else if (r < 90) {
            node *fresh = rnd(s) % 4 == 0 ? make_node(s, true) : NULL;
            shared_acquire();
            int i = (int)(rnd(s) % SHARED), j = (int)(rnd(s) % SHARED);
            if (fresh) {
                for (int k = 0; k < 4; k++)
                    GORT_GC_STORE(fresh->edge[k], shared[(i + k) % SHARED]);
                GORT_GC_STORE(shared[i], fresh);
            } else if (shared[i]) {
                GORT_GC_STORE(shared[i]->edge[rnd(s) % 4], shared[j]);
            }
            pthread_mutex_unlock(&shared_lock);
        } else if (r < 92) {
            register_held(s);
        } else {
            for (int i = 0; i < 20; i++)
                make_node(s, false);   /* garbage */
        }
        gort_gc_stats(&gs);
        if (gs.num_gc != seen) {
            seen = gs.num_gc;
            size_t n = verify(s);
            if (s->me == 0)
                verify_shared();
            atomic_fetch_add(&verified_cycles, 1);
            if (n > LIMIT) {   /* drop most of the graph */
                for (int i = 0; i < NROOTS; i++) {
                    GORT_GC_STORE(g_roots[s->me][i], NULL);
                    if (i % 4)
                        GORT_GC_STORE(s->reg[i], NULL);
                    if (i % 2)
                        s->stack[i] = NULL;
                }
            }
        }
    }
    verify(s);
    gort_gc_remove_roots(s->reg, s->reg + NROOTS);
    free(s->reg);
    return NULL;
}

static void test_torture(void **state) {
    (void)state;
    const char *e = getenv("GC_TORTURE_SECONDS");
    double secs = e ? atof(e) : 8;
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int forced = 0;
    do {
        struct timespec nap = {0, 20 * 1000000};
        nanosleep(&nap, NULL);
        gort_gc_collect();
        forced++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9 < secs);
    atomic_store(&stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    fprintf(stderr, "torture: %llu cycles (%d forced), %llu verifications, %llu nodes checked, "
            "pauses p50 %llu ns p99 %llu ns max %llu ns, live %zu KiB\n",
            (unsigned long long)st.num_gc, forced, (unsigned long long)atomic_load(&verified_cycles),
            (unsigned long long)atomic_load(&nodes_checked), (unsigned long long)st.pause_p50_ns,
            (unsigned long long)st.pause_p99_ns, (unsigned long long)st.pause_max_ns, st.heap_live >> 10);
    assert_int_equal(atomic_load(&failures), 0);
    assert_true(st.num_gc >= 10);
    assert_true(atomic_load(&verified_cycles) >= 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
