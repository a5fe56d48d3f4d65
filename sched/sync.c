/* Go's sync package over the runtime's semaphores: Mutex, RWMutex,
 * WaitGroup, Once, Cond.  The design essay is at the top of sched/sched.c; the
 * algorithms are Go's (sync/mutex.go, rwmutex.go, waitgroup.go, once.go,
 * cond.go), whose comments explain them; the short version of each is here. */
#include "sched/internal.h"

#define ACQ_REL __ATOMIC_ACQ_REL
#define SEQ     __ATOMIC_SEQ_CST

/* ---- Mutex ---------------------------------------------------------------------------------------
 * Normal mode: waiters queue FIFO, but a woken waiter competes with newly
 * arriving goroutines (which are on a CPU and usually win), and a loser goes to
 * the front of the queue.  A waiter that has waited over 1 ms switches the
 * mutex to starvation mode: unlock hands it straight to the first waiter, and
 * newcomers queue at the tail without trying.  Back to normal when the waiter
 * that gets it is the last, or waited under 1 ms.  A goroutine may spin
 * briefly before queueing when other Ps are running (the holder is probably
 * about to unlock) and its own P has nothing else to do. */
enum {
    MUTEX_LOCKED = 1,
    MUTEX_WOKEN = 2,
    MUTEX_STARVING = 4,
    MUTEX_WAITER_SHIFT = 3,
};
#define STARVATION_NS 1000000

static GORT_NOINLINE void mutex_lock_slow(gort_mutex_t *m) {
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = __atomic_load_n(&m->state, SEQ);
    for (;;) {
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && gort__sched_can_spin(iter)) {
            if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                __atomic_compare_exchange_n(&m->state, &old, old | MUTEX_WOKEN, false, SEQ, SEQ))
                awoke = true;
            gort__sched_spin_round();
            iter++;
            old = __atomic_load_n(&m->state, SEQ);
            continue;
        }
        int32_t new = old;
        if (!(old & MUTEX_STARVING))
            new |= MUTEX_LOCKED;
        if (old & (MUTEX_LOCKED | MUTEX_STARVING))
            new += 1 << MUTEX_WAITER_SHIFT;
        if (starving && (old & MUTEX_LOCKED))
            new |= MUTEX_STARVING;
        if (awoke) {
            if (!(new & MUTEX_WOKEN))
                gort__sched_throw("sync: inconsistent mutex state (mutex %p)", (void *)m);
            new &= ~MUTEX_WOKEN;
        }
        if (__atomic_compare_exchange_n(&m->state, &old, new, false, SEQ, SEQ)) {
            if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
                return;   /* locked it with the CAS */
            bool lifo = wait_start != 0;
            if (!wait_start)
                wait_start = gort__nanotime();
            gort__sched_semacquire(&m->sema, lifo, WAIT_MUTEX, m);
            starving = starving || gort__nanotime() - wait_start > STARVATION_NS;
            old = __atomic_load_n(&m->state, SEQ);
            if (old & MUTEX_STARVING) {
                /* Handed to us; the state is still "unlocked, woken" for us to fix. */
                if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) || (old >> MUTEX_WAITER_SHIFT) == 0)
                    gort__sched_throw("sync: inconsistent mutex state (mutex %p)", (void *)m);
                int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
                if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
                    delta -= MUTEX_STARVING;
                __atomic_fetch_add(&m->state, delta, SEQ);
                return;
            }
            awoke = true;
            iter = 0;
        }
        /* a failed CAS reloaded old */
    }
}

void gort_mutex_lock(gort_mutex_t *m) {
    int32_t zero = 0;
    if (__atomic_compare_exchange_n(&m->state, &zero, MUTEX_LOCKED, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
        return;
    gort__sched_mustg("gort_mutex_lock");
    mutex_lock_slow(m);
}

bool gort_mutex_trylock(gort_mutex_t *m) {
    int32_t old = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
    if (old & (MUTEX_LOCKED | MUTEX_STARVING))
        return false;
    return __atomic_compare_exchange_n(&m->state, &old, old | MUTEX_LOCKED, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static GORT_NOINLINE void mutex_unlock_slow(gort_mutex_t *m, int32_t new) {
    if (!((new + MUTEX_LOCKED) & MUTEX_LOCKED))
        gort__sched_throw("sync: unlock of unlocked mutex %p (goroutine %llu)", (void *)m,
                          (unsigned long long)gort_goid());
    if (!(new & MUTEX_STARVING)) {
        int32_t old = new;
        for (;;) {
            /* No waiters, or someone is already awake or has the lock. */
            if ((old >> MUTEX_WAITER_SHIFT) == 0 || (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
                return;
            new = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
            if (__atomic_compare_exchange_n(&m->state, &old, new, false, SEQ, SEQ)) {
                gort__sched_semrelease(&m->sema, false);
                return;
            }
        }
    } else {
        gort__sched_semrelease(&m->sema, true);
    }
}

void gort_mutex_unlock(gort_mutex_t *m) {
    int32_t new = __atomic_sub_fetch(&m->state, MUTEX_LOCKED, ACQ_REL);
    if (new != 0)
        mutex_unlock_slow(m, new);
}

/* ---- RWMutex ----------------------------------------------------------------------------------------
 * reader_count counts readers; a writer subtracts MAX_READERS so that new
 * readers see it negative and wait on reader_sem, and waits on writer_sem for
 * the reader_wait readers that were already in. */
#define MAX_READERS (1 << 30)

void gort_rwmutex_rlock(gort_rwmutex_t *rw) {
    if (__atomic_add_fetch(&rw->reader_count, 1, SEQ) < 0)
        gort__sched_semacquire(&rw->reader_sem, false, WAIT_RWMUTEX_R, rw);
}

void gort_rwmutex_runlock(gort_rwmutex_t *rw) {
    int32_t r = __atomic_sub_fetch(&rw->reader_count, 1, SEQ);
    if (r < 0) {
        if (r + 1 == 0 || r + 1 == -MAX_READERS)
            gort__sched_throw("sync: RUnlock of unlocked RWMutex %p", (void *)rw);
        if (__atomic_sub_fetch(&rw->reader_wait, 1, SEQ) == 0)
            gort__sched_semrelease(&rw->writer_sem, false);
    }
}

void gort_rwmutex_lock(gort_rwmutex_t *rw) {
    gort_mutex_lock(&rw->w);
    int32_t r = __atomic_add_fetch(&rw->reader_count, -MAX_READERS, SEQ) + MAX_READERS;
    if (r != 0 && __atomic_add_fetch(&rw->reader_wait, r, SEQ) != 0)
        gort__sched_semacquire(&rw->writer_sem, false, WAIT_RWMUTEX_W, rw);
}

void gort_rwmutex_unlock(gort_rwmutex_t *rw) {
    int32_t r = __atomic_add_fetch(&rw->reader_count, MAX_READERS, SEQ);
    if (r >= MAX_READERS)
        gort__sched_throw("sync: Unlock of unlocked RWMutex %p", (void *)rw);
    for (int32_t i = 0; i < r; i++)
        gort__sched_semrelease(&rw->reader_sem, false);
    gort_mutex_unlock(&rw->w);
}

/* ---- WaitGroup ----------------------------------------------------------------------------------------
 * state: counter << 32 | waiters.  The Add that brings the counter to 0 with
 * waiters resets state and releases each waiter once. */
void gort_wg_add(gort_waitgroup_t *wg, int delta) {
    uint64_t state = __atomic_add_fetch(&wg->state, (uint64_t)(int64_t)delta << 32, SEQ);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (v < 0)
        gort__sched_throw("sync: negative WaitGroup counter (waitgroup %p)", (void *)wg);
    if (w != 0 && delta > 0 && v == delta)
        gort__sched_throw("sync: WaitGroup misuse: Add called concurrently with Wait (waitgroup %p)",
                          (void *)wg);
    if (v > 0 || w == 0)
        return;
    if (__atomic_load_n(&wg->state, SEQ) != state)
        gort__sched_throw("sync: WaitGroup misuse: Add called concurrently with Wait (waitgroup %p)",
                          (void *)wg);
    __atomic_store_n(&wg->state, 0, SEQ);
    for (; w != 0; w--)
        gort__sched_semrelease(&wg->sema, false);
}

void gort_wg_done(gort_waitgroup_t *wg) {
    gort_wg_add(wg, -1);
}

void gort_wg_wait(gort_waitgroup_t *wg) {
    for (;;) {
        uint64_t state = __atomic_load_n(&wg->state, SEQ);
        if ((int32_t)(state >> 32) == 0)
            return;
        if (__atomic_compare_exchange_n(&wg->state, &state, state + 1, false, SEQ, SEQ)) {
            gort__sched_semacquire(&wg->sema, false, WAIT_WAITGROUP, wg);
            if (__atomic_load_n(&wg->state, SEQ) != 0)
                gort__sched_throw("sync: WaitGroup is reused before previous Wait has returned "
                                  "(waitgroup %p)", (void *)wg);
            return;
        }
    }
}

/* ---- Once ---------------------------------------------------------------------------------------------- */

void gort_once(gort_once_t *o, void (*fn)(void *), void *arg) {
    if (__atomic_load_n(&o->done, __ATOMIC_ACQUIRE))
        return;
    gort_mutex_lock(&o->m);
    if (!o->done) {
        fn(arg);
        __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    }
    gort_mutex_unlock(&o->m);
}

/* ---- Cond ------------------------------------------------------------------------------------------------ */

void gort_cond_wait(gort_cond_t *c, gort_mutex_t *m) {
    uint32_t t = gort__sched_notify_add(c);
    gort_mutex_unlock(m);
    gort__sched_notify_wait(c, t);
    gort_mutex_lock(m);
}

void gort_cond_signal(gort_cond_t *c) {
    gort__sched_notify_one(c);
}

void gort_cond_broadcast(gort_cond_t *c) {
    gort__sched_notify_all(c);
}
