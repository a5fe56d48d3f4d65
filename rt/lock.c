/* Futex-based mutex with lock ranks.  See include/gort/internal/lock.h. */
#include "include/gort/internal/lock.h"
#include "include/gort/internal/rt.h"

#include <errno.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void gort__futex_wake(_Atomic uint32_t *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Drepper's three-state mutex ("Futexes are tricky", mutex3), with a short spin
 * first because the runtime's critical sections are a few hundred cycles. */
void gort__mutex_lock_slow(gort_mutex_t *m) {
    for (int i = 0; i < 100; i++) {
        uint32_t z = 0;
        if (atomic_load_explicit(&m->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&m->state, &z, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        gort__cpu_relax();
    }
    uint32_t c = atomic_exchange_explicit(&m->state, 2, memory_order_acquire);
    while (c != 0) {
#if defined(GORT_TSAN)
        /* TSan hands a thread its signals only at an interceptor: a thread asleep
         * here would never answer the collector's stop while the holder may be
         * stopped already (gc/thread.c).  Wake up every millisecond and pass one. */
        gort__futex_wait(&m->state, 2, 1000000);
        sched_yield();
#else
        gort__futex_wait(&m->state, 2, -1);
#endif
        c = atomic_exchange_explicit(&m->state, 2, memory_order_acquire);
    }
}

void gort__mutex_unlock_slow(gort_mutex_t *m) {
    gort__futex_wake(&m->state, 1);
}

#ifdef GORT_DEBUG_CHECKS
/* Per-thread stack of held locks (a thread holds few at once; fork holds every
 * central lock of both heaps -- the allocator's 67, the collector's 204 --
 * hence the size).  Locks of one rank may be held together only when
 * taken in increasing address order (jemalloc's witness rule), as fork's
 * preparation takes the per-class central locks. */
enum { MAX_HELD = 512 };
static __thread struct { uint32_t rank; const void *lock; } held[MAX_HELD];
static __thread int nheld;

void gort__lockrank_acquire(const gort_mutex_t *m) {
    if (m->rank == GORT_RANK_NONE)
        return;
    if (nheld > 0) {
        uint32_t top = held[nheld - 1].rank;
        if (top > m->rank || (top == m->rank && (const void *)m <= held[nheld - 1].lock))
            gort__fatal("gort: lock order violation: taking lock %p of rank %u while holding "
                        "lock %p of rank %u", (const void *)m, m->rank, held[nheld - 1].lock, top);
    }
    if (nheld == MAX_HELD)
        gort__fatal("gort: too many locks held");
    held[nheld].rank = m->rank;
    held[nheld].lock = m;
    nheld++;
}

const void *gort__lockrank_top(void) {
    return nheld ? held[nheld - 1].lock : NULL;
}

void gort__lockrank_release(const gort_mutex_t *m) {
    if (m->rank == GORT_RANK_NONE)
        return;
    for (int i = nheld - 1; i >= 0; i--) {
        if (held[i].lock == m) {
            for (int j = i; j < nheld - 1; j++)
                held[j] = held[j + 1];
            nheld--;
            return;
        }
    }
    gort__fatal("gort: releasing lock %p of rank %u that is not held", (const void *)m, m->rank);
}
#endif
