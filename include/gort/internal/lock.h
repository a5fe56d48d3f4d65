/* gort internal: locks.  A futex-based mutex (never a spin without bound) with a
 * rank; in GORT_DEBUG_CHECKS builds every acquisition checks that the thread
 * takes locks in increasing rank order (jemalloc's witness idea). */
#ifndef GORT_INTERNAL_LOCK_H
#define GORT_INTERNAL_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

/* The lock order, declared once: a thread holding a lock of rank r may only
 * take locks of rank > r. */
typedef enum gort_lockrank {
    GORT_RANK_NONE = 0,
    GORT_RANK_SCHED_SEMA,     /* a bucket of goroutine semaphores (sched/sema.c) */
    GORT_RANK_CHAN,           /* a channel (select takes several, in address order) */
    GORT_RANK_SCHED,          /* scheduler global state */
    GORT_RANK_SCHED_ALLG,     /* the slabs of goroutine structs */
    GORT_RANK_SCHED_GFREE,    /* the global pools of dead goroutines */
    GORT_RANK_GC,             /* collector phase state */
    GORT_RANK_GC_THREADS,     /* registered threads (held by the collector while it stops them) */
    GORT_RANK_GC_SPECIALS,    /* finalizer records */
    GORT_RANK_GC_FINQ,        /* the finalizer queue (taken under the records' lock by the sweeper) */
    GORT_RANK_GC_ROOTS,       /* registered root ranges */
    GORT_RANK_SCHED_CHANS,    /* the buffered channels, roots of the collector (sched/gcscan.c) */
    GORT_RANK_GC_CENTRAL,     /* one GC span class's central lists */
    GORT_RANK_GC_POOL,        /* the global pool of mark work buffers */
    GORT_RANK_CACHES,         /* the list of live caches (stats, fork) */
    GORT_RANK_CENTRAL,        /* one mcentral (per size class) */
    GORT_RANK_HEAP,           /* the page heap */
    GORT_RANK_STACKPOOL,      /* the global stack pool (one lock per class) */
    GORT_RANK_STACKTABLE,     /* the stack regions' table */
    GORT_RANK_META,           /* metadata slabs */
    GORT_RANK_LEAF,           /* takes nothing else */
} gort_lockrank_t;

typedef struct gort_mutex {
    _Atomic uint32_t state;   /* 0 unlocked, 1 locked, 2 locked with waiters */
    uint32_t rank;
} gort_mutex_t;

#define GORT_MUTEX_RANKED(r) { 0, (r) }

void gort__mutex_lock_slow(gort_mutex_t *m);
void gort__mutex_unlock_slow(gort_mutex_t *m);
#ifdef GORT_DEBUG_CHECKS
void gort__lockrank_acquire(const gort_mutex_t *m);
void gort__lockrank_release(const gort_mutex_t *m);
const void *gort__lockrank_top(void);   /* the last ranked lock this thread took, or NULL */
#else
#define gort__lockrank_acquire(m) ((void)(m))
#define gort__lockrank_release(m) ((void)(m))
#endif

static inline void gort__mutex_lock(gort_mutex_t *m) {
    gort__lockrank_acquire(m);
    uint32_t z = 0;
    if (!atomic_compare_exchange_strong_explicit(&m->state, &z, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        gort__mutex_lock_slow(m);
}

static inline int gort__mutex_trylock(gort_mutex_t *m) {
    uint32_t z = 0;
    if (atomic_compare_exchange_strong_explicit(&m->state, &z, 1, memory_order_acquire,
                                                memory_order_relaxed)) {
        gort__lockrank_acquire(m);
        return 1;
    }
    return 0;
}

static inline void gort__mutex_unlock(gort_mutex_t *m) {
    gort__lockrank_release(m);
    if (atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2)
        gort__mutex_unlock_slow(m);
}

/* Futex wait/wake on a 32-bit word (private to the process). */
void gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns);
void gort__futex_wake(_Atomic uint32_t *addr, int n);

#endif
