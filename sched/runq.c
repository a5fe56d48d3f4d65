/* Run queues: each P's local queue and runnext, the global queue, stealing.
 * The design essay is at the top of sched/sched.c ("Run queues", "Order"). */
#include "sched/internal.h"

#include <unistd.h>

/* The local queue is Go's ring of 256 with one change: the owner pops the
 * newest end (tail) instead of the oldest (head), so that a goroutine's
 * children run depth-first (sched.c, "Order").  Thieves still take the oldest
 * half from the head.  Popping the tail races with a thief's batch exactly
 * where Chase-Lev deques do (a thief that read the tail before the pop may
 * take the popped slot), so head, tail and an ABA tag share one 64-bit word
 * and every change to the queue is one CAS on it:
 *
 *   runqw = tag << 32 | head << 16 | tail      (positions mod 2^16, size = tail - head <= 256)
 *
 *   push (owner)       write slot[tail], CAS tail+1          (release publishes the slot)
 *   pop tail (owner)   read slot[tail-1], CAS tail-1, tag+1
 *   pop head (owner)   read slot[head], CAS head+1            (fairness, 1 in 61)
 *   push head (owner)  write slot[head-1], CAS head-1, tag+1  (yield)
 *   grab (thief)       read slots [head, head+n), CAS head+n
 *
 * A thief's CAS succeeds only if nothing changed since its snapshot, so the
 * slots it copied are the ones it takes.  The tag makes "changed" detectable
 * when positions come back to the same values (pop then push rewrites slot
 * tail-1); it would have to wrap (2^32 pops) inside one thief's few-instruction
 * window to fool it.  Go's runqput needs no locked instruction (a store-release
 * of tail); ours costs one CAS, uncontended in the common case. */

/* RQ_TAIL/RQ_HEAD/RQ_TAG/RQ_MAKE/RQ_SLOT are in internal.h (the one-P inline
 * operations use them). */
#define SLOT(p, i) RQ_SLOT(p, i)

/* Every change but one is seq_cst: a readier's push followed by its load of
 * sched.nmspinning (wakep), against a spinning M's decrement of nmspinning
 * followed by its look at every queue, is Dekker's pattern -- one of the two
 * must see the other (sched.c, "Spinning").  On x86 a CAS is seq_cst anyway.
 * The exception is filling a free runnext (gort__sched_runqput). */
static inline bool rq_cas(gort__p_t *p, uint64_t *old, uint64_t new, int order) {
    (void)order;
    return atomic_compare_exchange_strong_explicit(&p->runqw, old, new, memory_order_seq_cst,
                                                   memory_order_acquire);
}

bool gort__sched_runqempty(gort__p_t *p) {
    if (gort__sched_single() && LOAD(p->m) == gort__sched_tls_m)   /* the owner, alone */
        return gort__sched_runqempty_single(p);
    /* Go's version rechecks runnext against a concurrent runqput moving it to the
     * queue; with runnext exchanged before the push, read runnext last. */
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_seq_cst);
        gort__g_t *next = atomic_load_explicit(&p->runnext, memory_order_seq_cst);
        if (w == atomic_load_explicit(&p->runqw, memory_order_seq_cst))
            return RQ_HEAD(w) == RQ_TAIL(w) && next == NULL;
    }
}

uint32_t gort__sched_runqsize(gort__p_t *p) {
    uint64_t w = atomic_load_explicit(&p->runqw, memory_order_relaxed);
    return (uint16_t)(RQ_TAIL(w) - RQ_HEAD(w)) +
           (atomic_load_explicit(&p->runnext, memory_order_relaxed) ? 1 : 0);
}

/* The queue is full: move half of it (the oldest) and gp to the global queue,
 * Go's runqputslow.  False if a thief changed the queue meanwhile (retry). */
static bool runqputslow(gort__p_t *p, gort__g_t *gp, uint64_t w) {
    enum { N = RUNQ_SIZE / 2 };
    gort__g_t *batch[N + 1];
    uint16_t h = RQ_HEAD(w);
    for (int i = 0; i < N; i++)
        batch[i] = atomic_load_explicit(SLOT(p, h + i), memory_order_relaxed);
    if (!rq_cas(p, &w, RQ_MAKE(RQ_TAG(w), h + N, RQ_TAIL(w)), memory_order_acq_rel))
        return false;
    batch[N] = gp;
    for (int i = 0; i < N; i++)
        batch[i]->schedlink = batch[i + 1];
    lock(&gort__sched.lock);
    gort__sched_globrunqputbatch_locked(batch[0], batch[N], N + 1);
    unlock(&gort__sched.lock);
    BUMP(p->st.global_puts, N + 1);
    return true;
}

/* One P (sched.c, "One P"): the owner is alone with its queue; plain loads
 * and stores, the same layout (so traces and dumps read it the same way). */
static inline bool put_single(gort__p_t *p, gort__g_t *gp, bool next) {
    if (next) {
        gort__g_t *old = atomic_load_explicit(&p->runnext, memory_order_relaxed);
        atomic_store_explicit(&p->runnext, gp, memory_order_relaxed);
        if (!old)
            return false;
        gp = old;
    }
    uint64_t w = atomic_load_explicit(&p->runqw, memory_order_relaxed);
    uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
    if ((uint16_t)(t - h) < RUNQ_SIZE) {
        atomic_store_explicit(SLOT(p, t), gp, memory_order_relaxed);
        atomic_store_explicit(&p->runqw, RQ_MAKE(RQ_TAG(w), h, t + 1), memory_order_relaxed);
        return false;
    }
    return runqputslow(p, gp, w);   /* its CAS cannot fail: no thieves */
}


bool gort__sched_runqput(gort__p_t *p, gort__g_t *gp, bool next) {
    if (gort__sched_single())
        return put_single(p, gp, next);
    if (next && !atomic_load_explicit(&p->runnext, memory_order_relaxed)) {
        /* A free runnext is the caller's to fill with a store: only its P's
         * holder makes runnext non-NULL, and a thief's CAS needs it non-NULL.
         * Release publishes the G.  Not seq_cst (an exchange, a locked
         * instruction: 12-14% of a P=2 ping-pong round trip or cap-1 message):
         * a spinning M going to sleep just now may miss this G in its last look
         * while our wakep reads it still spinning -- the G is not lost, its own
         * P runs it at its next schedule, as with any work a running P queues
         * while no M comes for it (Go's non-spinning Ms give up their P with no
         * last look at all).  See sched.c, "Spinning". */
        atomic_store_explicit(&p->runnext, gp, memory_order_release);
        return false;
    }
    if (next) {
        gp = atomic_exchange_explicit(&p->runnext, gp, memory_order_seq_cst);
        if (!gp)
            return false;
        /* The old runnext goes to the newest end of the queue. */
    }
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
        if ((uint16_t)(t - h) < RUNQ_SIZE) {
            atomic_store_explicit(SLOT(p, t), gp, memory_order_relaxed);
            if (rq_cas(p, &w, RQ_MAKE(RQ_TAG(w), h, t + 1), memory_order_release))
                return false;
            continue;
        }
        if (runqputslow(p, gp, w))
            return true;
    }
}

void gort__sched_runqput_head(gort__p_t *p, gort__g_t *gp) {
    if (gort__sched_single() && gort__sched_runqput_head_single(p, gp))
        return;
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
        if ((uint16_t)(t - h) >= RUNQ_SIZE) {
            lock(&gort__sched.lock);
            gort__sched_globrunqput_locked(gp);
            unlock(&gort__sched.lock);
            BUMP(p->st.global_puts, 1);
            return;
        }
        atomic_store_explicit(SLOT(p, h - 1), gp, memory_order_relaxed);
        if (rq_cas(p, &w, RQ_MAKE(RQ_TAG(w) + 1, h - 1, t), memory_order_release))
            return;
    }
}

gort__g_t *gort__sched_runqget(gort__p_t *p) {
    if (gort__sched_single())
        return gort__sched_runqget_single(p);
    gort__g_t *next = atomic_load_explicit(&p->runnext, memory_order_relaxed);
    if (next && atomic_compare_exchange_strong_explicit(&p->runnext, &next, NULL,
                                                        memory_order_acquire, memory_order_relaxed))
        return next;
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
        if (h == t)
            return NULL;
        gort__g_t *gp = atomic_load_explicit(SLOT(p, t - 1), memory_order_relaxed);
        if (rq_cas(p, &w, RQ_MAKE(RQ_TAG(w) + 1, h, t - 1), memory_order_acquire))
            return gp;
    }
}

gort__g_t *gort__sched_runqget_oldest(gort__p_t *p) {
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
        if (h == t)
            return NULL;
        gort__g_t *gp = atomic_load_explicit(SLOT(p, h), memory_order_relaxed);
        if (rq_cas(p, &w, RQ_MAKE(RQ_TAG(w), h + 1, t), memory_order_acquire))
            return gp;
    }
}

/* Take the oldest half of victim's queue into batch (Go's runqgrab).  With
 * stealnext, and an empty queue, take its runnext -- after a pause if the
 * victim is running, since it is about to run it itself (Go sleeps 3 us). */
static uint32_t runqgrab(gort__p_t *victim, gort__g_t **batch, bool stealnext) {
    for (int naps = 0;;) {
        uint64_t w = atomic_load_explicit(&victim->runqw, memory_order_acquire);
        uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
        uint32_t n = (uint16_t)(t - h);
        n = n - n / 2;
        if (n == 0) {
            if (!stealnext)
                return 0;
            gort__g_t *next = atomic_load_explicit(&victim->runnext, memory_order_acquire);
            if (!next)
                return 0;
            if (LOAD(victim->status) == P_RUNNING) {
                /* Its owner will run it if it schedules meanwhile -- and then
                 * leave it alone: two goroutines readying each other keep one
                 * of the same two in runnext, and a compare-and-swap after
                 * the nap would succeed on the other's return (ABA) and split
                 * the pair across two Ps for nothing.  Its owner has looked
                 * at runnext since when schedtick moved.  A few naps, then the
                 * other victims and the global queue get a look. */
                uint32_t tick = LOAD(victim->schedtick);
                usleep(3);
                if (LOAD(victim->schedtick) != tick) {
                    if (++naps == 4)
                        return 0;
                    continue;
                }
            }
            if (!atomic_compare_exchange_strong_explicit(&victim->runnext, &next, NULL,
                                                         memory_order_acq_rel, memory_order_relaxed))
                continue;
            batch[0] = next;
            return 1;
        }
        for (uint32_t i = 0; i < n; i++)
            batch[i] = atomic_load_explicit(SLOT(victim, h + i), memory_order_relaxed);
        if (rq_cas(victim, &w, RQ_MAKE(RQ_TAG(w), h + n, t), memory_order_acq_rel))
            return n;
    }
}

/* Steal into p from victim; returns one G to run, the rest queued on p. */
gort__g_t *gort__sched_runqsteal(gort__p_t *p, gort__p_t *victim, bool stealnext) {
    gort__g_t *batch[RUNQ_SIZE / 2];
    uint32_t n = runqgrab(victim, batch, stealnext);
    if (n == 0)
        return NULL;
    /* Run the oldest; queue the others so the next-oldest is popped next --
     * in one CAS when they fit (the thief's queue is usually empty). */
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->runqw, memory_order_acquire);
        uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
        if ((uint16_t)(t - h) + n - 1 > RUNQ_SIZE) {
            for (uint32_t i = n - 1; i >= 1; i--)
                gort__sched_runqput(p, batch[i], false);
            break;
        }
        for (uint32_t i = n - 1; i >= 1; i--)
            atomic_store_explicit(SLOT(p, t + (n - 1 - i)), batch[i], memory_order_relaxed);
        if (rq_cas(p, &w, RQ_MAKE(RQ_TAG(w), h, (uint16_t)(t + n - 1)), memory_order_release))
            break;
    }
    BUMP(p->st.steals, 1);
    BUMP(p->st.stolen, n);
    gort__sched_event(p, EV_STEAL, batch[0]->goid, (uint64_t)victim->id);
    return batch[0];
}

/* ---- the global queue (under sched.lock) ---------------------------------------------------- */

void gort__sched_globrunqput_locked(gort__g_t *gp) {
    gp->schedlink = NULL;
    if (gort__sched.runqtail)
        gort__sched.runqtail->schedlink = gp;
    else
        gort__sched.runqhead = gp;
    gort__sched.runqtail = gp;
    atomic_fetch_add_explicit(&gort__sched.runqsize, 1, memory_order_relaxed);
}

void gort__sched_globrunqputbatch_locked(gort__g_t *head, gort__g_t *tail, int32_t n) {
    tail->schedlink = NULL;
    if (gort__sched.runqtail)
        gort__sched.runqtail->schedlink = head;
    else
        gort__sched.runqhead = head;
    gort__sched.runqtail = tail;
    atomic_fetch_add_explicit(&gort__sched.runqsize, n, memory_order_relaxed);
}

/* Take a fair share of the global queue (its size / gomaxprocs + 1, at most
 * max if max > 0, at most half a local queue): one to run, the rest onto p. */
gort__g_t *gort__sched_globrunqget_locked(gort__p_t *p, int32_t max) {
    int32_t size = atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed);
    if (size == 0)
        return NULL;
    int32_t n = size / gort__sched.gomaxprocs + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > RUNQ_SIZE / 2)
        n = RUNQ_SIZE / 2;
    atomic_fetch_sub_explicit(&gort__sched.runqsize, n, memory_order_relaxed);
    gort__g_t *gp = gort__sched.runqhead;
    gort__sched.runqhead = gp->schedlink;
    for (int32_t i = 1; i < n; i++) {
        gort__g_t *g1 = gort__sched.runqhead;
        gort__sched.runqhead = g1->schedlink;
        gort__sched_runqput(p, g1, false);
    }
    if (!gort__sched.runqhead)
        gort__sched.runqtail = NULL;
    BUMP(p->st.global_gets, n);
    return gp;
}
