/* Channels: Go's hchan (chan.go).  The design essay is at the top of
 * sched/sched.c; the channel's own story is here.
 *
 * A channel is a lock, two queues of waiting goroutines (sudogs, each on its
 * goroutine's stack) and, when buffered, a ring of cap slots.
 *
 * Unbuffered: Go's.  A sender that finds a waiting receiver copies straight
 * into the receiver's destination (which may be on the receiver's stack: C
 * stacks do not move) and readies it, so a send completes exactly when a
 * receiver has the value; otherwise it waits in sendq, and a receiver takes
 * from it the same way.  At most one of the queues is non-empty (ignoring
 * select sudogs that lost their race and wait to be removed).
 *
 * Buffered: sends and receives do not take the lock.  The ring is Vyukov's
 * bounded queue: each slot carries a sequence word (internal.h: 2p while free
 * for position p's send, 2p + 1 once published, 2(p + cap) once received).  A
 * send moves tail past a free slot with a compare-and-swap, writes the
 * element and publishes it; a receive moves head past a published slot,
 * copies the element out, clears it for the collector and frees it.  Two
 * operations never touch the same slot at once, and the two ends share a
 * slot's line only as it changes hands: on two Ps a stream through a large
 * buffer costs each end a compare-and-swap per element and no lock.
 * Positions order the values: FIFO holds as in Go.
 *
 * The lock guards only the queues.  It is a bit of one word, qword, which
 * also counts the sudogs queued at each end (nrecvq, nsendq), so that a
 * waiter locks and counts itself in one compare-and-swap; its holders run a
 * few dozen instructions and never sleep, so it is a spin lock (then yield)
 * and unlocking is a plain store.  (A futex lock with a separate count: a
 * P=2 cap-1 stream, which parks one end every message and a half, paid ~10
 * ns a message more for the two extra read-modify-writes.)  Waiting is a
 * handshake between the two ends, each half sequentially consistent:
 *
 *   - A receiver that finds nothing published and no send in flight (tail =
 *     head) spins a little if a sender may be running (gort__sched_can_spin),
 *     then takes the lock counting itself (nrecvq + 1), looks at tail once
 *     more and parks only if nothing came.  A sender, after moving tail,
 *     reads nrecvq.  Either the receiver sees the new tail or the sender sees
 *     the waiter -- and takes the lock and hands it the oldest value
 *     (gort__sched_chan_handoff).  A receive that finds a send in flight
 *     waits for it (a few instructions of the sender's; the runtime's code is
 *     never preempted, its thread may be: then it yields).
 *   - Mirrored for a sender that finds the ring full: it waits with its value
 *     in its sudog; a receive, after moving head, reads nsendq, and moves the
 *     first waiting sender's value into the ring.
 *   - One for one: each send lets at most one waiting receiver through, each
 *     receive one sender -- and a value handed to a receiver frees a slot for
 *     a waiting sender, whose value may go to the next receiver, and so on
 *     (a sender parked on a full ring of one must not be left there when the
 *     send after it hands the ring's value to a receiver).  If a lock-free
 *     operation took the value (or slot) first, the waiter goes back to the
 *     front of its queue; a select, once won, cannot go back, so it is woken
 *     to poll all its cases again.
 *   - A send that finds receivers waiting and the ring empty hands its value
 *     straight to the first, as an unbuffered send does (half the atomics).
 *   - Close sets the closed bit in tail -- no send gets a position after it,
 *     and those that try die with "send on closed channel" -- and wakes every
 *     waiter to try again: receivers drain the ring, then get a zeroed
 *     element and false; senders die.
 *
 * At one P (gort__sched_single) there is one thread: the lock is not taken,
 * and tail and head move with plain stores. */
#include "sched/internal.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

/* A buffer that can hold a pointer is a root of the collector's (sched/gcscan.c). */
static bool gc_listed(const gort_chan_t *c) {
    return c->dataqsiz && c->elemsize >= sizeof(void *);
}

gort_chan_t *gort_chan_make(size_t elem_size, size_t cap) {
    size_t stride = sizeof(uint64_t) + GORT_ROUND_UP(elem_size, sizeof(uint64_t));
    if (elem_size > ((size_t)1 << 16) || cap > (((size_t)1 << 40) / stride)) {
        errno = EINVAL;
        return NULL;
    }
    size_t ring = cap * stride;
    gort_chan_t *c = gort_aligned_alloc(64, GORT_ROUND_UP(sizeof *c + ring, 64));
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    memset(c, 0, sizeof *c + ring);
    c->rank = (gort__lock_t)GORT_MUTEX_RANKED(GORT_RANK_CHAN);
    c->elemsize = elem_size;
    c->dataqsiz = cap;
    if (cap) {
        c->stride = stride;
        c->mask = (cap & (cap - 1)) == 0 ? cap - 1 : SIZE_MAX;
        c->buf = (char *)(c + 1);
        for (size_t i = 0; i < cap; i++)
            atomic_store_explicit(CHAN_SEQ(c->buf + i * stride), 2 * (uint64_t)i, memory_order_relaxed);
    }
    if (gc_listed(c))
        gort__sched_gc_chan_add(c);
    return c;
}

void gort__sched_after_free(gort_chan_t *c);

void gort_chan_free(gort_chan_t *c) {
    if (!c)
        return;
    if (c->timer)
        gort__sched_after_free(c);   /* gort_after's: cancel its timer first */
    gort__sched_chan_lock(c, 0);
    bool busy = c->recvq.first || c->sendq.first;
    gort__sched_chan_unlock(c);
    if (busy)
        gort__sched_throw("gort_chan_free: goroutines are blocked on chan %p", (void *)c);
    if (gc_listed(c))
        gort__sched_gc_chan_remove(c);
    gort_free(c);
}

size_t gort_chan_len(gort_chan_t *c) {
    if (!c || !c->dataqsiz)
        return 0;
    uint64_t h = atomic_load_explicit(&c->head, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire) & ~CHAN_CLOSED;
    uint64_t n = t > h ? t - h : 0;
    return n < c->dataqsiz ? (size_t)n : c->dataqsiz;
}

size_t gort_chan_cap(gort_chan_t *c) {
    return c ? c->dataqsiz : 0;
}

/* The goroutines queued on c to send (send) or to receive: for tests and
 * dumps.  Counted here, in the runtime's text, because a channel's lock taken
 * in the program's text could be preempted with it held (sched/preempt.c). */
int gort__sched_chan_nwaiting(gort_chan_t *c, bool send) {
    int n = 0;
    gort__sched_chan_lock(c, 0);
    for (gort__sudog_t *sg = send ? c->sendq.first : c->recvq.first; sg; sg = sg->next)
        n++;
    gort__sched_chan_unlock(c);
    return n;
}

/* The common sizes without a call. */
static inline __attribute__((always_inline)) void copy_elem(void *dst, const void *src, size_t n) {
    switch (n) {
    case 0: break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, n); break;
    }
}

void gort__sched_chan_copy(gort_chan_t *c, void *dst, const void *src) {
    size_t n = c->elemsize;
    if (!dst)
        return;
    if (!src) {
        memset(dst, 0, n);
        return;
    }
    /* Once the collector runs, an element may be a GC pointer: a copy made while
     * a mark runs shades what it copied (Go's sendDirect/typedmemmove barriers).
     * The check comes after the copy: a mark that began before it sees the
     * shading; one that began after sees the value where it landed.  (A thread is
     * stopped between two instructions, so the check cannot be overtaken by the
     * stop.)  Zeroing needs no barrier: what a slot held was shaded when it was
     * copied out. */
    copy_elem(dst, src, n);
    atomic_signal_fence(memory_order_seq_cst);
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_gscan_on, memory_order_relaxed)) && n >= sizeof(void *))
        gort__gc_shade_words(dst, n);
}

/* ---- the lock and the wait queues ------------------------------------------------------------
 * qword (internal.h) holds the lock bit and, for buffered channels, the
 * number of sudogs queued at each end, for the lock-free operations.  A
 * waiter's increment is sequentially consistent (its half of the handshake
 * in the header): taken with the lock in one compare-and-swap (wait_buffered),
 * or an add under it (select).  The rest are plain stores of the holder's,
 * who alone writes qword while it is locked. */

/* Round i of a wait for another thread's few instructions: a pause for the
 * first spins rounds, then a yield of the CPU. */
static inline void spin_or_yield(int i, int spins) {
    if (i < spins)
        gort__cpu_relax();
    else
        sched_yield();
}

void gort__sched_chan_lock_slow(gort_chan_t *c, uint64_t add) {
    for (int i = 0;; i++) {
        uint64_t w = atomic_load_explicit(&c->qword, memory_order_relaxed);
        if (!(w & CHAN_QLOCKED) &&
            atomic_compare_exchange_weak_explicit(&c->qword, &w, (w | CHAN_QLOCKED) + add,
                                                  memory_order_seq_cst, memory_order_relaxed))
            return;
        /* The holder's thread may have been descheduled: after a short spin,
         * give it the CPU.  (Under TSan sched_yield is also where this thread
         * is handed the collector's stop signal.) */
        spin_or_yield(i, 100);
    }
}

static inline uint64_t waitq_unit(bool send) {
    return send ? CHAN_QSEND1 : CHAN_QRECV1;
}

/* Only buffered channels keep the counts; at one P they are plain stores. */
static inline void waitq_count_add(gort_chan_t *c, bool send, int d) {
    if (!c->dataqsiz)
        return;
    uint64_t u = waitq_unit(send);
    if (d > 0 && !gort__sched_single())
        atomic_fetch_add_explicit(&c->qword, u, memory_order_seq_cst);
    else
        atomic_store_explicit(&c->qword, atomic_load_explicit(&c->qword, memory_order_relaxed) + (d > 0 ? u : -u),
                              memory_order_relaxed);
}

/* Queue sg, already counted. */
void gort__sched_waitq_link(gort_chan_t *c, bool send, gort__sudog_t *sg) {
    __typeof__(c->recvq) *q = send ? &c->sendq : &c->recvq;
    sg->next = NULL;
    sg->prev = q->last;
    if (q->last)
        q->last->next = sg;
    else
        q->first = sg;
    q->last = sg;
}

void gort__sched_waitq_enqueue(gort_chan_t *c, bool send, gort__sudog_t *sg) {
    gort__sched_waitq_link(c, send, sg);
    waitq_count_add(c, send, 1);
}

/* The first waiter, skipping select waiters another case already won. */
gort__sudog_t *gort__sched_waitq_dequeue(gort_chan_t *c, bool send) {
    __typeof__(c->recvq) *q = send ? &c->sendq : &c->recvq;
    for (;;) {
        gort__sudog_t *sg = q->first;
        if (!sg)
            return NULL;
        q->first = sg->next;
        if (q->first)
            q->first->prev = NULL;
        else
            q->last = NULL;
        sg->next = sg->prev = NULL;
        waitq_count_add(c, send, -1);
        if (sg->is_select) {
            uint32_t zero = 0;
            if (!atomic_compare_exchange_strong(&sg->g->selectdone, &zero, 1))
                continue;
        }
        return sg;
    }
}

/* Remove sg if it is still queued (select's clean-up, Go's dequeueSudoG). */
void gort__sched_waitq_remove(gort_chan_t *c, bool send, gort__sudog_t *sg) {
    __typeof__(c->recvq) *q = send ? &c->sendq : &c->recvq;
    gort__sudog_t *x = sg->prev, *y = sg->next;
    if (x) {
        x->next = y;
        if (y)
            y->prev = x;
        else
            q->last = x;
    } else if (y) {
        y->prev = NULL;
        q->first = y;
    } else if (q->first == sg) {
        q->first = q->last = NULL;
    } else {
        return;   /* not queued: dequeued already */
    }
    sg->next = sg->prev = NULL;
    waitq_count_add(c, send, -1);
}

/* ---- buffered: waking ------------------------------------------------------------------------ */

static inline void push_g(gort__g_t **list, gort__g_t *gp) {
    gp->schedlink = *list;
    *list = gp;
}

/* The end of sg's wait: whether its operation happened, and for select which
 * case woke it; returns the goroutine to ready. */
static inline gort__g_t *sg_done(gort__sudog_t *sg, bool success) {
    sg->success = success;
    sg->g->param = sg;
    return sg->g;
}

/* A plain (not select) wait's sudog: only the fields a channel wait uses. */
static inline void sg_init(gort__sudog_t *sg, gort__g_t *gp, gort_chan_t *c, const void *elem) {
    sg->g = gp;
    sg->elem = (void *)elem;
    sg->c = c;
    sg->is_select = false;
    sg->success = false;
}

/* Buffered, c locked, after a send (to_sender false) or a receive (true) that
 * found waiters counted: the first waiting receiver is handed the oldest value
 * (the first waiting sender's value goes into the ring), and readied.  One for
 * one: a send lets one receive through, a receive one send -- and what that
 * moved lets one of the other side through in turn.  If a lock-free operation
 * took the value or the slot meanwhile, the waiter goes back to the front and
 * waits on -- or, a select (which once won cannot go back), is woken to poll
 * again.  The goroutines to ready go onto *list. */
static bool handoff_one(gort_chan_t *c, bool to_sender, gort__g_t **list) {
    __typeof__(c->recvq) *q = to_sender ? &c->sendq : &c->recvq;
    gort__sudog_t *sg;
    while ((sg = q->first)) {
        bool closed;
        if (!sg->is_select) {
            /* It stays queued, and counted, until its value has moved: a
             * lock-free operation that looks at the count meanwhile must see
             * it (a pop that emptied the ring while this push failed, and saw
             * no sender counted, left the sender beside an empty ring). */
            if (!(to_sender ? gort__sched_chan_push(c, sg->elem, &closed) : gort__sched_chan_pop(c, sg->elem)))
                return false;
            gort__sched_waitq_remove(c, to_sender, sg);
            push_g(list, sg_done(sg, true));
            return true;
        }
        /* A select must be won before its value moves (one another case won
         * is dropped), and once won cannot go back: if the move fails it
         * polls again -- counting itself again, and looking at the other end,
         * if it waits. */
        uint32_t zero = 0;
        bool won = atomic_compare_exchange_strong(&sg->g->selectdone, &zero, 1);
        gort__sched_waitq_remove(c, to_sender, sg);
        if (!won)
            continue;
        bool moved = to_sender ? gort__sched_chan_push(c, sg->elem, &closed) : gort__sched_chan_pop(c, sg->elem);
        push_g(list, sg_done(sg, moved));
        if (moved)
            return true;
    }
    return false;
}

void gort__sched_chan_handoff(gort_chan_t *c, bool to_sender, gort__g_t **list) {
    /* A value handed to a receiver frees a slot, one moved in for a sender
     * fills one: the other side's waiters are next. */
    while (handoff_one(c, to_sender, list)) {
        to_sender = !to_sender;
        if (!(to_sender ? gort__sched_chan_nsendq(c, memory_order_relaxed) : gort__sched_chan_nrecvq(c, memory_order_relaxed)))
            return;
    }
}

static GORT_NOINLINE void handoff(gort_chan_t *c, bool to_sender, gort__g_t *self) {
    gort__g_t *list = NULL;
    chan_lock(c);
    gort__sched_chan_handoff(c, to_sender, &list);
    chan_unlock(c);
    for (gort__g_t *gp; (gp = gort__sched_glist_pop(&list));)
        gort__sched_ready_from(self, gp);
}

void gort__sched_chan_spin(int *i) {
    spin_or_yield(++*i, 1000);
}

/* ---- the halves select shares (c locked; the caller unlocks, then readies) ------------------- */

/* Hand ep to the receiver waiting in sg. */
static inline gort__g_t *send_locked(gort_chan_t *c, gort__sudog_t *sg, const void *ep) {
    gort__sched_chan_copy(c, sg->elem, ep);
    return sg_done(sg, true);
}

/* Take a value from the sender waiting in sg (unbuffered). */
static inline gort__g_t *recv_locked(gort_chan_t *c, gort__sudog_t *sg, void *ep) {
    gort__sched_chan_copy(c, ep, sg->elem);
    return sg_done(sg, true);
}

/* Inline into send and receive: at one P, readying is a few stores. */
static inline __attribute__((always_inline)) void send_to(gort_chan_t *c, gort__sudog_t *sg,
                                                          const void *ep, gort__g_t *self) {
    gort__g_t *gp = send_locked(c, sg, ep);
    chan_unlock(c);
    gort__sched_ready_from(self, gp);
}

static inline __attribute__((always_inline)) void recv_from(gort_chan_t *c, gort__sudog_t *sg,
                                                            void *ep, gort__g_t *self) {
    gort__g_t *gp = recv_locked(c, sg, ep);
    chan_unlock(c);
    gort__sched_ready_from(self, gp);
}

void gort__sched_chan_send_to(gort_chan_t *c, gort__sudog_t *sg, const void *ep, gort__g_t *self) {
    send_to(c, sg, ep, self);
}

void gort__sched_chan_recv_from(gort_chan_t *c, gort__sudog_t *sg, void *ep, gort__g_t *self) {
    recv_from(c, sg, ep, self);
}

void gort__sched_chan_closed_send(gort_chan_t *c, gort__g_t *gp) {
    gort__sched_throw("send on closed channel: chan %p (elem %zu bytes, cap %zu), goroutine %llu",
                      (void *)c, c->elemsize, c->dataqsiz, (unsigned long long)gp->goid);
}

static void chan_unlock_park(void *c) {
    chan_unlock((gort_chan_t *)c);
}

/* ---- send, receive, close ----------------------------------------------------------------------- */

static GORT_NOINLINE void send_buffered_wait(gort_chan_t *c, const void *ep, gort__g_t *gp);

/* Receivers wait on a buffered channel: with the ring empty (nothing sent
 * and not received, nothing in flight), hand the value to the first, as an
 * unbuffered send does -- the ring's two trips cost twice the atomics. */
static GORT_NOINLINE bool send_direct(gort_chan_t *c, const void *ep, gort__g_t *gp) {
    chan_lock(c);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_seq_cst);
    if (!(t & CHAN_CLOSED) && t == atomic_load_explicit(&c->head, memory_order_seq_cst)) {
        gort__sudog_t *sg = gort__sched_waitq_dequeue(c, false);
        if (sg) {
            send_to(c, sg, ep, gp);
            return true;
        }
    }
    chan_unlock(c);
    return false;
}

void gort_chan_send(gort_chan_t *c, const void *ep) {
    gort__g_t *gp = gort__sched_mustg("gort_chan_send");
    gort__sched_checkpreempt(gp);
    if (!c) {
        gort__sched_park(gp, WAIT_CHAN_SEND_NIL, NULL, NULL, NULL);
        gort__fatal("gort: a goroutine blocked on a nil channel was woken");
    }
    if (c->dataqsiz) {
        bool closed;
        if (GORT_UNLIKELY(gort__sched_chan_nrecvq(c, memory_order_relaxed)) && send_direct(c, ep, gp))
            return;
        if (GORT_LIKELY(gort__sched_chan_push(c, ep, &closed))) {
            /* The sender's half of the handshake: tail moved, now the waiters. */
            if (GORT_UNLIKELY(gort__sched_chan_nrecvq(c, memory_order_seq_cst)))
                handoff(c, false, gp);
            return;
        }
        send_buffered_wait(c, ep, gp);
        return;
    }
    chan_lock(c);
    if (GORT_UNLIKELY(c->closed)) {
        chan_unlock(c);
        gort__sched_chan_closed_send(c, gp);
    }
    gort__sudog_t *sg = gort__sched_waitq_dequeue(c, false);
    if (sg) {
        send_to(c, sg, ep, gp);
        return;
    }
    gort__sudog_t me;
    sg_init(&me, gp, c, ep);
    gort__sched_waitq_enqueue(c, true, &me);
    gort__sched_park(gp, WAIT_CHAN_SEND, c, gort__sched_single() ? NULL : chan_unlock_park, c);
    if (!me.success)
        gort__sched_chan_closed_send(c, gp);
}

/* A buffered operation (send: a send) that found the ring full (empty) and
 * no operation of the other side in flight: spin while a goroutine on
 * another P may be about to make room (a value), else wait.  The waiter
 * counts itself, then looks at the other end once more (the handshake in the
 * header).  True when the wait ended with the value moved (sent into the
 * ring, or handed to the receiver); false to try again (the look found
 * something, a close woke it, or it was allowed to spin).  Inline into each
 * caller, so that each end parks from its own frame: out of line, the two
 * ends of a cap-1 stream at P=1 parked from the same call site and a message
 * cost 26 ns instead of 20 (the switch's return prediction, sched.c's
 * "Switching"). */
static inline __attribute__((always_inline)) bool wait_buffered(gort_chan_t *c, bool send, const void *ep, gort__g_t *gp, int *rounds, int *spins) {
    if (gort__sched_can_spin(*rounds)) {
        ++*rounds;
        gort__sched_spin_round();
        return false;
    }
    gort__sudog_t me;
    sg_init(&me, gp, c, ep);
    if (gort__sched_single()) {
        gort__sched_waitq_enqueue(c, send, &me);
    } else {
        gort__sched_chan_lock(c, waitq_unit(send));   /* locked and counted: one atomic */
        gort__sched_waitq_link(c, send, &me);
    }
    if (gort__sched_chan_wait_recheck(c, send)) {
        gort__sched_waitq_remove(c, send, &me);
        chan_unlock(c);
        return false;
    }
    gort__sched_park(gp, send ? WAIT_CHAN_SEND : WAIT_CHAN_RECV, c,
                     gort__sched_single() ? NULL : chan_unlock_park, c);
    *spins = 0;   /* if woken by a close: a fresh start */
    return me.success;
}

/* A buffered send that found the ring full or the channel closed. */
static GORT_NOINLINE void send_buffered_wait(gort_chan_t *c, const void *ep, gort__g_t *gp) {
    int spins = 0, rounds = 0;
    for (;;) {
        bool closed;
        if (gort__sched_chan_push(c, ep, &closed)) {
            if (gort__sched_chan_nrecvq(c, memory_order_seq_cst))
                handoff(c, false, gp);
            return;
        }
        if (closed)
            gort__sched_chan_closed_send(c, gp);
        if (gort__sched_chan_recv_inflight(c))   /* a slot is being freed */
            gort__sched_chan_spin(&spins);
        else if (wait_buffered(c, true, ep, gp, &rounds, &spins))
            return;   /* a receive moved the value into the ring */
    }
}

static bool recv_buffered(gort_chan_t *c, void *ep, gort__g_t *gp) {
    int spins = 0, rounds = 0;
    for (;;) {
        if (GORT_LIKELY(gort__sched_chan_pop(c, ep))) {
            /* The receiver's half, mirrored: head moved, now the waiting senders. */
            if (GORT_UNLIKELY(gort__sched_chan_nsendq(c, memory_order_seq_cst)))
                handoff(c, true, gp);
            return true;
        }
        if (gort__sched_chan_send_inflight(c))   /* a value is being published */
            gort__sched_chan_spin(&spins);
        else if (atomic_load_explicit(&c->tail, memory_order_seq_cst) & CHAN_CLOSED)
            break;
        else if (wait_buffered(c, false, ep, gp, &rounds, &spins))
            return true;   /* a send handed it the value */
    }
    gort__sched_chan_copy(c, ep, NULL);   /* closed and drained */
    return false;
}

bool gort_chan_recv(gort_chan_t *c, void *ep) {
    gort__g_t *gp = gort__sched_mustg("gort_chan_recv");
    gort__sched_checkpreempt(gp);
    if (!c) {
        gort__sched_park(gp, WAIT_CHAN_RECV_NIL, NULL, NULL, NULL);
        gort__fatal("gort: a goroutine blocked on a nil channel was woken");
    }
    if (c->dataqsiz)
        return recv_buffered(c, ep, gp);
    chan_lock(c);
    if (c->closed) {
        chan_unlock(c);
        gort__sched_chan_copy(c, ep, NULL);
        return false;
    }
    gort__sudog_t *sg = gort__sched_waitq_dequeue(c, true);
    if (sg) {
        recv_from(c, sg, ep, gp);
        return true;
    }
    gort__sudog_t me;
    sg_init(&me, gp, c, ep);
    gort__sched_waitq_enqueue(c, false, &me);
    gort__sched_park(gp, WAIT_CHAN_RECV, c, gort__sched_single() ? NULL : chan_unlock_park, c);
    return me.success;
}

void gort_chan_close(gort_chan_t *c) {
    gort__g_t *gp = gort__sched_mustg("gort_chan_close");
    if (!c)
        gort__sched_throw("close of nil channel, goroutine %llu", (unsigned long long)gp->goid);
    chan_lock(c);
    if (c->closed) {
        chan_unlock(c);
        gort__sched_throw("close of closed channel: chan %p (elem %zu bytes, cap %zu), goroutine %llu",
                          (void *)c, c->elemsize, c->dataqsiz, (unsigned long long)gp->goid);
    }
    STORE(c->closed, 1);
    if (c->dataqsiz)   /* no send gets a position from now on */
        atomic_fetch_or_explicit(&c->tail, CHAN_CLOSED, memory_order_seq_cst);
    /* Collect every waiter, then wake them with the lock released.  (A
     * buffered channel's waiters try again: receivers drain what the ring
     * holds first; senders die.) */
    gort__g_t *list = NULL;
    gort__sudog_t *sg;
    while ((sg = gort__sched_waitq_dequeue(c, false))) {
        gort__sched_chan_copy(c, sg->elem, NULL);
        push_g(&list, sg_done(sg, false));
    }
    while ((sg = gort__sched_waitq_dequeue(c, true)))
        push_g(&list, sg_done(sg, false));
    chan_unlock(c);
    for (gort__g_t *g1; (g1 = gort__sched_glist_pop(&list));)
        gort__sched_ready(g1);
}

/* A send that never blocks, from any context holding runp (gort_after's timer):
 * to a waiting receiver, else into the buffer, else dropped (an after-channel
 * has room for its one value). */
void gort__sched_chan_send_nb_p(gort__p_t *runp, gort_chan_t *c, const void *ep);
void gort__sched_chan_send_nb_p(gort__p_t *runp, gort_chan_t *c, const void *ep) {
    gort__g_t *list = NULL;
    if (c->dataqsiz) {
        bool closed;
        if (!gort__sched_chan_push(c, ep, &closed) || !gort__sched_chan_nrecvq(c, memory_order_seq_cst))
            return;
        chan_lock(c);
        gort__sched_chan_handoff(c, false, &list);
        chan_unlock(c);
    } else {
        chan_lock(c);
        gort__sudog_t *sg = c->closed ? NULL : gort__sched_waitq_dequeue(c, false);
        if (sg)
            push_g(&list, send_locked(c, sg, ep));
        chan_unlock(c);
    }
    for (gort__g_t *g1; (g1 = gort__sched_glist_pop(&list));)
        gort__sched_ready_p(runp, g1);
}

/* For select.c: the locked halves. */
gort__g_t *gort__sched_chan_send_locked(gort_chan_t *c, gort__sudog_t *sg, const void *ep);
gort__g_t *gort__sched_chan_send_locked(gort_chan_t *c, gort__sudog_t *sg, const void *ep) {
    return send_locked(c, sg, ep);
}
gort__g_t *gort__sched_chan_recv_locked(gort_chan_t *c, gort__sudog_t *sg, void *ep);
gort__g_t *gort__sched_chan_recv_locked(gort_chan_t *c, gort__sudog_t *sg, void *ep) {
    return recv_locked(c, sg, ep);
}
