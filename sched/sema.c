/* The runtime's semaphores (Go's sema.go) and Cond's notify list.  The design
 * essay is at the top of sched/sched.c; this file's story is here.
 *
 * A semaphore is a uint32_t count anywhere in memory (inside a gort_mutex_t,
 * a gort_waitgroup_t, ...).  Goroutines that must wait for it park on a sudog
 * (on their own stack) in one of 251 buckets chosen by the address, as Go's
 * semtable does, so the sync types stay small and usable zeroed.  A bucket is
 * a lock and a list; Go keeps a treap of addresses per bucket with a FIFO per
 * address, gort a single list scanned for the address (waiters on distinct
 * contended addresses rarely share a bucket).
 *
 *   semacquire: take a unit (CAS count > 0 -> count - 1), else, under the
 *     bucket lock, count the waiter (nwait++), look once more, queue (at the
 *     tail, or the head for lifo: a Mutex waiter that lost again) and park.
 *   semrelease: count++, and if the bucket has waiters, wake the first on this
 *     address.  With handoff (a starving Mutex) the unit goes straight to the
 *     woken waiter (ticket = 1), so no newcomer can take it first.
 *
 * The waiter's nwait++ then count check, and the releaser's count++ then nwait
 * check, are seq_cst: one of them sees the other, no wake-up is lost.
 *
 * Cond (Go's notifyList): tickets.  A waiter takes a ticket (wait++) before it
 * unlocks the user's mutex, and parks unless its ticket was already notified;
 * signal wakes the holder of ticket `notify` and advances it; broadcast wakes
 * all.  The list lives in the gort_cond_t, under the bucket lock of its address. */
#include "sched/internal.h"

enum { SEMTABSZ = 251 };

typedef struct semroot {
    gort__lock_t     lock;
    gort__sudog_t   *head, *tail;
    _Atomic uint32_t nwait;
} GORT_ALIGNED_CL semroot_t;

static semroot_t semtable[SEMTABSZ] = {
    [0 ... SEMTABSZ - 1] = {.lock = GORT_MUTEX_RANKED(GORT_RANK_SCHED_SEMA)},
};

static semroot_t *semroot(const void *addr) {
    return &semtable[((uintptr_t)addr >> 3) % SEMTABSZ];
}

static bool cansemacquire(uint32_t *addr) {
    uint32_t v = __atomic_load_n(addr, __ATOMIC_SEQ_CST);
    while (v != 0) {
        if (__atomic_compare_exchange_n(addr, &v, v - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return true;
    }
    return false;
}

static void root_unlock(void *root) {
    unlock(&((semroot_t *)root)->lock);
}

void gort__sched_semacquire(uint32_t *addr, bool lifo, gort__waitreason_t reason, const void *obj) {
    if (cansemacquire(addr))
        return;
    gort__g_t *gp = gort__sched_mustg("semacquire");
    gort__sched_checkpreempt(gp);
    semroot_t *root = semroot(addr);
    gort__sudog_t sg = {.g = gp, .addr = addr};
    for (;;) {
        lock(&root->lock);
        atomic_fetch_add_explicit(&root->nwait, 1, memory_order_seq_cst);
        if (cansemacquire(addr)) {
            atomic_fetch_sub_explicit(&root->nwait, 1, memory_order_seq_cst);
            unlock(&root->lock);
            return;
        }
        sg.ticket = 0;
        sg.prev = NULL;
        if (lifo && root->head) {
            sg.next = root->head;
            root->head->prev = &sg;
            root->head = &sg;
        } else {
            sg.next = NULL;
            sg.prev = root->tail;
            if (root->tail)
                root->tail->next = &sg;
            else
                root->head = &sg;
            root->tail = &sg;
        }
        gort__sched_park(gp, reason, obj, root_unlock, root);
        if (sg.ticket != 0 || cansemacquire(addr))
            return;
    }
}

void gort__sched_semrelease(uint32_t *addr, bool handoff) {
    semroot_t *root = semroot(addr);
    __atomic_fetch_add(addr, 1, __ATOMIC_SEQ_CST);
    if (atomic_load_explicit(&root->nwait, memory_order_seq_cst) == 0)
        return;
    lock(&root->lock);
    if (atomic_load_explicit(&root->nwait, memory_order_relaxed) == 0) {
        unlock(&root->lock);
        return;
    }
    gort__sudog_t *sg = root->head;
    while (sg && sg->addr != addr)
        sg = sg->next;
    if (sg) {
        if (sg->prev)
            sg->prev->next = sg->next;
        else
            root->head = sg->next;
        if (sg->next)
            sg->next->prev = sg->prev;
        else
            root->tail = sg->prev;
        sg->next = sg->prev = NULL;
        atomic_fetch_sub_explicit(&root->nwait, 1, memory_order_seq_cst);
        if (handoff && cansemacquire(addr))
            sg->ticket = 1;
    }
    unlock(&root->lock);
    if (sg)
        gort__sched_ready(sg->g);
}

/* ---- notify lists (Cond) ---------------------------------------------------------------------- */

static inline bool less(uint32_t a, uint32_t b) {
    return (int32_t)(a - b) < 0;
}

uint32_t gort__sched_notify_add(gort_cond_t *c) {
    return __atomic_fetch_add(&c->wait, 1, __ATOMIC_SEQ_CST);
}

void gort__sched_notify_wait(gort_cond_t *c, uint32_t t) {
    gort__g_t *gp = gort__sched_mustg("gort_cond_wait");
    semroot_t *root = semroot(c);
    lock(&root->lock);
    if (less(t, LOAD(c->notify))) {
        unlock(&root->lock);
        return;
    }
    gort__sudog_t sg = {.g = gp, .ticket = t};
    if (c->tail)
        ((gort__sudog_t *)c->tail)->next = &sg;
    else
        c->head = &sg;
    c->tail = &sg;
    gort__sched_park(gp, WAIT_COND, c, root_unlock, root);
}

void gort__sched_notify_one(gort_cond_t *c) {
    if (__atomic_load_n(&c->wait, __ATOMIC_SEQ_CST) == LOAD(c->notify))
        return;
    semroot_t *root = semroot(c);
    lock(&root->lock);
    uint32_t t = c->notify;
    if (t == __atomic_load_n(&c->wait, __ATOMIC_SEQ_CST)) {
        unlock(&root->lock);
        return;
    }
    STORE(c->notify, t + 1);
    gort__sudog_t *prev = NULL;
    for (gort__sudog_t *s = c->head; s; prev = s, s = s->next) {
        if (s->ticket == t) {
            gort__sudog_t *n = s->next;
            if (prev)
                prev->next = n;
            else
                c->head = n;
            if (c->tail == s)
                c->tail = prev;
            s->next = NULL;
            gort__g_t *g = s->g;
            unlock(&root->lock);
            gort__sched_ready(g);
            return;
        }
    }
    unlock(&root->lock);
}

void gort__sched_notify_all(gort_cond_t *c) {
    if (__atomic_load_n(&c->wait, __ATOMIC_SEQ_CST) == LOAD(c->notify))
        return;
    semroot_t *root = semroot(c);
    lock(&root->lock);
    gort__sudog_t *s = c->head;
    c->head = c->tail = NULL;
    STORE(c->notify, __atomic_load_n(&c->wait, __ATOMIC_SEQ_CST));
    unlock(&root->lock);
    while (s) {
        gort__sudog_t *next = s->next;   /* before ready: s is on the waiter's stack */
        s->next = NULL;
        gort__sched_ready(s->g);
        s = next;
    }
}
