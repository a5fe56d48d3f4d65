/* Channels: Go's hchan (chan.go).  The design essay is at the top of
 * sched/sched.c; the channel's own story is here.
 *
 * A channel is a lock, a ring buffer of dataqsiz elements, and two queues of
 * waiting goroutines (sudogs, each on its goroutine's stack).  The invariants
 * are Go's:
 *
 *   - at most one of recvq, sendq is non-empty (ignoring select sudogs that
 *     lost their race and wait to be removed);
 *   - for a buffered channel, qcount > 0 implies recvq is empty, and
 *     qcount < dataqsiz implies sendq is empty.
 *
 * A sender that finds a waiting receiver copies straight into the receiver's
 * destination (which may be on the receiver's stack: C stacks do not move) and
 * readies it; an unbuffered send therefore completes exactly when a receiver
 * has the value.  A receiver that finds a waiting sender on a full buffered
 * channel takes the head of the buffer and moves the sender's value to the
 * tail, keeping FIFO order.  Waking is done after the lock is released (the
 * woken goroutine goes to runnext of the waker's P).  Closing wakes every
 * waiter: receivers get a zeroed element and false, senders die with "send on
 * closed channel", as Go's panic. */
#include "sched/internal.h"

#include <errno.h>
#include <string.h>

/* A buffer that can hold a pointer is a root of the collector's (sched/gcscan.c). */
static bool gc_listed(const gort_chan_t *c) {
    return c->dataqsiz && c->elemsize >= sizeof(void *);
}

gort_chan_t *gort_chan_make(size_t elem_size, size_t cap) {
    if (elem_size > ((size_t)1 << 16) || (elem_size && cap > (((size_t)1 << 40) / elem_size))) {
        errno = EINVAL;
        return NULL;
    }
    gort_chan_t *c = gort_calloc(1, sizeof *c + elem_size * cap);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->lock = (gort__lock_t)GORT_MUTEX_RANKED(GORT_RANK_CHAN);
    c->elemsize = elem_size;
    c->dataqsiz = cap;
    c->buf = (char *)(c + 1);
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
    lock(&c->lock);
    bool busy = c->recvq.first || c->sendq.first;
    unlock(&c->lock);
    if (busy)
        gort__sched_throw("gort_chan_free: goroutines are blocked on chan %p", (void *)c);
    if (gc_listed(c))
        gort__sched_gc_chan_remove(c);
    gort_free(c);
}

size_t gort_chan_len(gort_chan_t *c) {
    return c ? LOAD(c->qcount) : 0;
}

size_t gort_chan_cap(gort_chan_t *c) {
    return c ? c->dataqsiz : 0;
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

/* ---- wait queues (under c->lock) ----------------------------------------------------------- */

void gort__sched_waitq_enqueue(gort_chan_t *c, bool send, gort__sudog_t *sg) {
    __typeof__(c->recvq) *q = send ? &c->sendq : &c->recvq;
    sg->next = NULL;
    sg->prev = q->last;
    if (q->last)
        q->last->next = sg;
    else
        q->first = sg;
    q->last = sg;
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
    }
    sg->next = sg->prev = NULL;
}

/* ---- the halves select shares (c locked; the caller unlocks, then readies) ------------------- */

/* Hand ep to the receiver waiting in sg. */
static inline gort__g_t *send_locked(gort_chan_t *c, gort__sudog_t *sg, const void *ep) {
    gort__sched_chan_copy(c, sg->elem, ep);
    sg->success = true;
    sg->g->param = sg;
    return sg->g;
}

/* Take a value from the sender waiting in sg (through the full buffer if any). */
static inline gort__g_t *recv_locked(gort_chan_t *c, gort__sudog_t *sg, void *ep) {
    if (c->dataqsiz == 0) {
        gort__sched_chan_copy(c, ep, sg->elem);
    } else {
        void *qp = gort__sched_chanbuf(c, c->recvx);
        gort__sched_chan_copy(c, ep, qp);
        gort__sched_chan_copy(c, qp, sg->elem);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    sg->success = true;
    sg->g->param = sg;
    return sg->g;
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

void gort_chan_send(gort_chan_t *c, const void *ep) {
    gort__g_t *gp = gort__sched_mustg("gort_chan_send");
    gort__sched_checkpreempt(gp);
    if (!c) {
        gort__sched_park(gp, WAIT_CHAN_SEND_NIL, NULL, NULL, NULL);
        gort__fatal("gort: a goroutine blocked on a nil channel was woken");
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
    if (c->qcount < c->dataqsiz) {
        gort__sched_chan_copy(c, gort__sched_chanbuf(c, c->sendx), ep);
        if (++c->sendx == c->dataqsiz)
            c->sendx = 0;
        STORE(c->qcount, c->qcount + 1);
        chan_unlock(c);
        return;
    }
    gort__sudog_t me;   /* only the fields a channel wait uses */
    me.g = gp;
    me.elem = (void *)ep;
    me.c = c;
    me.is_select = false;
    me.success = false;
    gort__sched_waitq_enqueue(c, true, &me);
    gort__sched_park(gp, WAIT_CHAN_SEND, c, gort__sched_single() ? NULL : chan_unlock_park, c);
    if (!me.success)
        gort__sched_chan_closed_send(c, gp);
}

bool gort_chan_recv(gort_chan_t *c, void *ep) {
    gort__g_t *gp = gort__sched_mustg("gort_chan_recv");
    gort__sched_checkpreempt(gp);
    if (!c) {
        gort__sched_park(gp, WAIT_CHAN_RECV_NIL, NULL, NULL, NULL);
        gort__fatal("gort: a goroutine blocked on a nil channel was woken");
    }
    chan_lock(c);
    if (c->closed && c->qcount == 0) {
        chan_unlock(c);
        gort__sched_chan_copy(c, ep, NULL);
        return false;
    }
    gort__sudog_t *sg = gort__sched_waitq_dequeue(c, true);
    if (sg) {
        recv_from(c, sg, ep, gp);
        return true;
    }
    if (c->qcount > 0) {
        gort__sched_chan_recv_buf(c, ep);
        chan_unlock(c);
        return true;
    }
    gort__sudog_t me;
    me.g = gp;
    me.elem = ep;
    me.c = c;
    me.is_select = false;
    me.success = false;
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
    /* Collect every waiter, then wake them with the lock released. */
    gort__g_t *list = NULL;
    gort__sudog_t *sg;
    while ((sg = gort__sched_waitq_dequeue(c, false))) {
        gort__sched_chan_copy(c, sg->elem, NULL);
        sg->success = false;
        sg->g->param = sg;
        sg->g->schedlink = list;
        list = sg->g;
    }
    while ((sg = gort__sched_waitq_dequeue(c, true))) {
        sg->success = false;
        sg->g->param = sg;
        sg->g->schedlink = list;
        list = sg->g;
    }
    chan_unlock(c);
    while (list) {
        gort__g_t *g1 = list;
        list = g1->schedlink;
        g1->schedlink = NULL;
        gort__sched_ready(g1);
    }
}

/* A send that never blocks, from any context holding runp (gort_after's timer):
 * to a waiting receiver, else into the buffer, else dropped (an after-channel
 * has room for its one value). */
void gort__sched_chan_send_nb_p(gort__p_t *runp, gort_chan_t *c, const void *ep);
void gort__sched_chan_send_nb_p(gort__p_t *runp, gort_chan_t *c, const void *ep) {
    chan_lock(c);
    gort__sudog_t *sg = c->closed ? NULL : gort__sched_waitq_dequeue(c, false);
    if (sg) {
        gort__g_t *gp = send_locked(c, sg, ep);
        chan_unlock(c);
        gort__sched_ready_p(runp, gp);
        return;
    }
    if (!c->closed && c->qcount < c->dataqsiz) {
        gort__sched_chan_copy(c, gort__sched_chanbuf(c, c->sendx), ep);
        if (++c->sendx == c->dataqsiz)
            c->sendx = 0;
        STORE(c->qcount, c->qcount + 1);
    }
    chan_unlock(c);
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
