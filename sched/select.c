/* select: Go's selectgo (select.go).  The design essay is at the top of
 * sched/sched.c; select's own story is here.
 *
 *   1. Poll order: a uniformly random permutation of the cases with a
 *      channel (Fisher-Yates on the M's fastrand), so that among ready cases
 *      each is taken with equal probability.  NULL channels are left out:
 *      never ready.
 *   2. Lock order: the same cases sorted by channel address; every distinct
 *      channel is locked in that order (the lock-rank checker allows equal
 *      ranks only in increasing address order: this is that order).
 *   3. Pass 1, in poll order: the first ready case is done and returned.
 *   4. None ready and !block: -1 (Go's default case).
 *   5. Pass 2: a sudog per case (on this goroutine's stack) on every channel's
 *      queue, then park; the channels are unlocked by the context switched to.
 *   6. Woken: a counterpart claimed one sudog by CAS of g->selectdone (0 -> 1,
 *      see waitq_dequeue) and completed it.  Lock all again, take the other
 *      sudogs off their queues (pass 3), return the winner's index. */
#include "sched/internal.h"

#include <string.h>

gort__g_t *gort__sched_chan_send_locked(gort_chan_t *c, gort__sudog_t *sg, const void *ep);
gort__g_t *gort__sched_chan_recv_locked(gort_chan_t *c, gort__sudog_t *sg, void *ep);

enum { SELECT_STACK_CASES = 32 };

typedef struct {
    gort_select_case_t *cases;
    uint16_t *lockorder;
    int n;                    /* entries in lockorder */
} sel_t;

static void sellock(sel_t *s) {
    gort_chan_t *prev = NULL;
    for (int i = 0; i < s->n; i++) {
        gort_chan_t *c = s->cases[s->lockorder[i]].chan;
        if (c != prev)
            chan_lock(c);
        prev = c;
    }
}

static void selunlock(void *arg) {
    sel_t *s = arg;
    /* Go unlocks in reverse, and must not touch a channel after its last
     * unlock: once it is released the goroutine may be woken and free it. */
    for (int i = s->n - 1; i >= 0; i--) {
        gort_chan_t *c = s->cases[s->lockorder[i]].chan;
        if (i > 0 && s->cases[s->lockorder[i - 1]].chan == c)
            continue;
        chan_unlock(c);
    }
}

static void sort_by_chan(gort_select_case_t *cases, uint16_t *a, int n) {
    /* Insertion sort: selects are small.  Larger ones use a shell sort gap sequence. */
    static const int gaps[] = {57, 23, 10, 4, 1};
    for (size_t gi = 0; gi < GORT_ARRAY_LEN(gaps); gi++) {
        int gap = gaps[gi];
        for (int i = gap; i < n; i++) {
            uint16_t v = a[i];
            uintptr_t key = (uintptr_t)cases[v].chan;
            int j = i;
            while (j >= gap && (uintptr_t)cases[a[j - gap]].chan > key) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = v;
        }
    }
}

int gort_select(gort_select_case_t *cases, int n, bool block) {
    gort__g_t *gp = gort__sched_mustg("gort_select");
    gort__sched_checkpreempt(gp);
    if (n < 0 || n > 65535)
        gort__sched_throw("gort_select: %d cases", n);
    uint16_t order_buf[2 * SELECT_STACK_CASES];
    gort__sudog_t sg_buf[SELECT_STACK_CASES];
    uint16_t *pollorder = order_buf, *lockorder = order_buf + SELECT_STACK_CASES;
    gort__sudog_t *sgs = sg_buf;
    void *heap = NULL;
    if (n > SELECT_STACK_CASES) {
        heap = gort_malloc((size_t)n * (2 * sizeof(uint16_t) + sizeof(gort__sudog_t)));
        if (!heap)
            gort__sched_throw("gort_select: out of memory for %d cases", n);
        sgs = heap;
        pollorder = (uint16_t *)(sgs + n);
        lockorder = pollorder + n;
    }

    /* 1. Random poll order over the non-NULL cases. */
    gort__m_t *m = gp->m;
    int norder = 0;
    for (int i = 0; i < n; i++) {
        if (!cases[i].chan)
            continue;
        uint32_t j = gort__sched_fastrandn(m, (uint32_t)norder + 1);
        pollorder[norder] = pollorder[j];
        pollorder[j] = (uint16_t)i;
        norder++;
    }
    if (norder == 0) {
        gort_free(heap);
        if (!block)
            return -1;
        gort__sched_park(gp, WAIT_SELECT_NO_CASES, NULL, NULL, NULL);
        gort__fatal("gort: a goroutine blocked in an empty select was woken");
    }
    /* 2. Lock order. */
    memcpy(lockorder, pollorder, (size_t)norder * sizeof *lockorder);
    sort_by_chan(cases, lockorder, norder);
    sel_t s = {cases, lockorder, norder};
    sellock(&s);

    /* 3. Pass 1: the first ready case in poll order. */
again:
    for (int k = 0; k < norder; k++) {
        int i = pollorder[k];
        gort_select_case_t *cs = &cases[i];
        gort_chan_t *c = cs->chan;
        gort__g_t *wake = NULL;
        if (cs->dir == GORT_CHAN_RECV) {
            if (c->dataqsiz) {
                int spins = 0;
                bool got;
                while (!(got = gort__sched_chan_pop(c, cs->elem)) && gort__sched_chan_send_inflight(c))
                    gort__sched_chan_spin(&spins);
                if (got) {
                    cs->ok = true;
                    if (gort__sched_chan_nsendq(c, memory_order_seq_cst))
                        gort__sched_chan_handoff(c, true, &wake);
                } else if (atomic_load_explicit(&c->tail, memory_order_seq_cst) & CHAN_CLOSED) {
                    gort__sched_chan_copy(c, cs->elem, NULL);
                    cs->ok = false;
                } else {
                    continue;
                }
            } else {
                gort__sudog_t *sg = gort__sched_waitq_dequeue(c, true);
                if (sg) {
                    wake = gort__sched_chan_recv_locked(c, sg, cs->elem);
                    wake->schedlink = NULL;
                    cs->ok = true;
                } else if (c->closed) {
                    gort__sched_chan_copy(c, cs->elem, NULL);
                    cs->ok = false;
                } else {
                    continue;
                }
            }
        } else if (cs->dir == GORT_CHAN_SEND) {
            if (c->closed) {
                selunlock(&s);
                gort__sched_chan_closed_send(c, gp);
            }
            if (c->dataqsiz) {
                int spins = 0;
                bool got, closed;
                while (!(got = gort__sched_chan_push(c, cs->elem, &closed)) && gort__sched_chan_recv_inflight(c))
                    gort__sched_chan_spin(&spins);
                if (!got)
                    continue;
                if (gort__sched_chan_nrecvq(c, memory_order_seq_cst))
                    gort__sched_chan_handoff(c, false, &wake);
            } else {
                gort__sudog_t *sg = gort__sched_waitq_dequeue(c, false);
                if (!sg)
                    continue;
                wake = gort__sched_chan_send_locked(c, sg, cs->elem);
                wake->schedlink = NULL;
            }
        } else {
            selunlock(&s);
            gort__sched_throw("gort_select: case %d has direction %d", i, cs->dir);
        }
        selunlock(&s);
        for (gort__g_t *g1; (g1 = gort__sched_glist_pop(&wake));)
            gort__sched_ready(g1);
        gort_free(heap);
        return i;
    }

    /* 4. Nothing ready. */
    if (!block) {
        selunlock(&s);
        gort_free(heap);
        return -1;
    }

    /* 5. Pass 2: wait on every channel. */
    gp->param = NULL;
    atomic_store_explicit(&gp->selectdone, 0, memory_order_relaxed);
    for (int k = 0; k < norder; k++) {
        int i = lockorder[k];
        gort__sudog_t *sg = &sgs[k];
        memset(sg, 0, sizeof *sg);
        sg->g = gp;
        sg->c = cases[i].chan;
        sg->elem = cases[i].elem;
        sg->is_select = true;
        sg->case_index = i;
        gort__sched_waitq_enqueue(cases[i].chan, cases[i].dir == GORT_CHAN_SEND, sg);
    }
    /* Buffered channels: the waiter's half of chan.c's handshake, counted as
     * waiting, now a look at the other end; an operation in flight (or a
     * close) makes the select poll again. */
    for (int k = 0; k < norder; k++) {
        gort_select_case_t *cs = &cases[lockorder[k]];
        if (cs->chan->dataqsiz && gort__sched_chan_wait_recheck(cs->chan, cs->dir == GORT_CHAN_SEND)) {
            for (int j = 0; j < norder; j++)
                gort__sched_waitq_remove(sgs[j].c, cases[sgs[j].case_index].dir == GORT_CHAN_SEND, &sgs[j]);
            goto again;
        }
    }
    gort__sched_park(gp, WAIT_SELECT, NULL, selunlock, &s);

    /* 6. Woken by one case; take the others off their queues. */
    sellock(&s);
    gort__sudog_t *won = gp->param;
    GORT_ASSERT(won);
    for (int k = 0; k < norder; k++) {
        gort__sudog_t *sg = &sgs[k];
        if (sg != won)
            gort__sched_waitq_remove(sg->c, cases[sg->case_index].dir == GORT_CHAN_SEND, sg);
    }
    int casi = won->case_index;
    gort_select_case_t *cs = &cases[casi];
    if (cs->chan->dataqsiz && !won->success) {
        /* Woken to try again (chan.c's handoff, or a close): poll once more. */
        gp->param = NULL;
        goto again;
    }
    if (cs->dir == GORT_CHAN_SEND && !won->success) {
        selunlock(&s);
        gort__sched_chan_closed_send(cs->chan, gp);
    }
    if (cs->dir == GORT_CHAN_RECV)
        cs->ok = won->success;
    selunlock(&s);
    gp->param = NULL;
    gort_free(heap);
    return casi;
}
