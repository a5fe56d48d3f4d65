/* Timers: per-P heaps, gort_sleep, gort_after, select with a timeout (Go's
 * time.go).  The design essay is at the top of sched/sched.c ("Timers").
 *
 * Each P has a 4-ary min-heap of timers ordered by `when`, under the P's
 * timerslock, and publishes its earliest `when` in timer0when (0: empty), so
 * that schedule() and the pollers look at a P's timers with one load.  Due
 * timers are run by an M holding a P: its own P's in schedule() and
 * findrunnable, other Ps' when it steals (their timers are stolen with their
 * work, Go's stealWork), and the preempted goroutine's P before it yields.  A
 * timer function runs with the lock released (state RUNNING), so it may ready
 * goroutines (runq, wakep) and send on channels; gort__sched_deltimer waits
 * for a RUNNING function to return, which is what lets gort_chan_free free an
 * after-channel whose timer is firing on another M.
 *
 * Nobody scans the heaps: a million pending timers cost their 48 bytes and a
 * heap slot each, and an idle process sleeps in epoll until the earliest one
 * (findrunnable computes it over all Ps, timesleepuntil).
 *
 * A sleeping goroutine's timer lives on its own stack, like a sudog, and is
 * queued by the park's after-switch hook: once the goroutine is off its stack,
 * so a thief running the timer on another M cannot ready it before it has
 * parked (Go's resetForSleep). */
#include "sched/internal.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

int64_t gort_nanotime(void) {
    return gort__nanotime();
}

/* ---- the heap (under p->timerslock) ------------------------------------------------------- */

static void siftup(gort__timer_t **h, int32_t i) {
    gort__timer_t *t = h[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (t->when >= h[parent]->when)
            break;
        h[i] = h[parent];
        h[i]->idx = i;
        i = parent;
    }
    h[i] = t;
    t->idx = i;
}

static void siftdown(gort__timer_t **h, int32_t n, int32_t i) {
    gort__timer_t *t = h[i];
    for (;;) {
        int32_t c = 4 * i + 1;
        if (c >= n)
            break;
        int32_t best = c;
        for (int32_t k = c + 1; k < c + 4 && k < n; k++)
            if (h[k]->when < h[best]->when)
                best = k;
        if (h[best]->when >= t->when)
            break;
        h[i] = h[best];
        h[i]->idx = i;
        i = best;
    }
    h[i] = t;
    t->idx = i;
}

static void publish0_locked(gort__p_t *p) {
    atomic_store_explicit(&p->timer0when, p->ntimers ? p->timers[0]->when : 0, memory_order_release);
}

/* Remove heap slot i (under the lock). */
static void heap_remove_locked(gort__p_t *p, int32_t i) {
    gort__timer_t **h = p->timers;
    int32_t last = --p->ntimers;
    h[i]->idx = -1;
    STOREREL(h[i]->pp, NULL);   /* after state = RUNNING: deltimer reads them in the other order */
    if (i != last) {
        h[i] = h[last];
        h[i]->idx = i;
        siftdown(h, last, i);
        siftup(h, h[i]->idx);
    }
    atomic_fetch_sub_explicit(&gort__sched.ntimers, 1, memory_order_relaxed);
}

void gort__sched_addtimer(gort__p_t *p, gort__timer_t *t) {
    if (t->when <= 0)
        t->when = 1;   /* 0 means "no timer" in timer0when */
    if (!gort__sched_netpoll_inited())
        gort__sched_netpoll_init();   /* idle Ms sleep in epoll until the next timer */
    lock(&p->timerslock);
    while (p->ntimers == p->timerscap) {
        /* Grow outside the lock: the allocator's locks rank above it. */
        int32_t cap = p->timerscap;
        unlock(&p->timerslock);
        int32_t ncap = cap ? cap * 2 : 64;
        gort__timer_t **nh = gort_malloc((size_t)ncap * sizeof *nh);
        if (!nh)
            gort__sched_throw("out of memory growing P%d's timer heap to %d timers", p->id, ncap);
        lock(&p->timerslock);
        if (p->timerscap != cap) {
            unlock(&p->timerslock);
            gort_free(nh);
            lock(&p->timerslock);
            continue;
        }
        if (p->ntimers)
            memcpy(nh, p->timers, (size_t)p->ntimers * sizeof *nh);
        gort__timer_t **old = p->timers;
        p->timers = nh;
        p->timerscap = ncap;
        unlock(&p->timerslock);
        gort_free(old);
        lock(&p->timerslock);
    }
    atomic_store_explicit(&t->state, TIMER_QUEUED, memory_order_relaxed);
    STORE(t->pp, p);
    int32_t i = p->ntimers++;
    p->timers[i] = t;
    siftup(p->timers, i);
    bool first = t->idx == 0;
    publish0_locked(p);
    unlock(&p->timerslock);
    atomic_fetch_add_explicit(&gort__sched.ntimers, 1, memory_order_relaxed);
    if (first)
        gort__sched_wakenetpoller(t->when);
}

bool gort__sched_deltimer(gort__timer_t *t) {
    for (int spins = 0;; spins++) {
        gort__p_t *p = LOADACQ(t->pp);
        if (p) {
            lock(&p->timerslock);
            if (t->pp == p && t->idx >= 0) {
                heap_remove_locked(p, t->idx);
                publish0_locked(p);
                atomic_store_explicit(&t->state, TIMER_IDLE, memory_order_relaxed);
                unlock(&p->timerslock);
                return true;
            }
            unlock(&p->timerslock);
            continue;   /* it moved (ran) meanwhile: look again */
        }
        if (atomic_load_explicit(&t->state, memory_order_acquire) != TIMER_RUNNING)
            return false;
        /* Its function runs on another M right now (it never blocks). */
        if (spins > 100)
            sched_yield();
    }
}

int64_t gort__sched_checktimers(gort__p_t *runp, gort__p_t *p, int64_t now, int64_t *next) {
    int64_t w = atomic_load_explicit(&p->timer0when, memory_order_acquire);
    if (w == 0) {
        *next = 0;
        return now;
    }
    if (!now)
        now = gort__nanotime();
    if (w > now) {
        *next = w;
        return now;
    }
    /* Due timers are taken in batches and fired latest first: each readied
     * goroutine goes to runnext, pushing the one before it to the queue's
     * newest end, so they run earliest first (sleeps wake in order). */
    enum { BATCH = 32 };
    gort__timer_t *batch[BATCH];
    uint64_t fired = 0;
    lock(&p->timerslock);
    while (p->ntimers && p->timers[0]->when <= now) {
        int n = 0;
        while (n < BATCH && p->ntimers && p->timers[0]->when <= now) {
            gort__timer_t *t = p->timers[0];
            atomic_store_explicit(&t->state, TIMER_RUNNING, memory_order_relaxed);
            heap_remove_locked(p, 0);
            batch[n++] = t;
        }
        publish0_locked(p);
        unlock(&p->timerslock);
        for (int i = n - 1; i >= 0; i--) {
            gort__timer_t *t = batch[i];
            void (*f)(gort__p_t *, void *, int64_t) = t->f;
            void *arg = t->arg;
            if (t->on_gstack) {
                /* Its goroutine may run (and leave gort_sleep) as soon as f readied it. */
                atomic_store_explicit(&t->state, TIMER_IDLE, memory_order_relaxed);
                f(runp, arg, now);
                continue;
            }
            f(runp, arg, now);
            /* After this store t may be freed (deltimer returned): f and arg were read before. */
            atomic_store_explicit(&t->state, TIMER_IDLE, memory_order_release);
        }
        fired += (uint64_t)n;
        lock(&p->timerslock);
    }
    *next = p->ntimers ? p->timers[0]->when : 0;
    unlock(&p->timerslock);
    if (fired)
        BUMP(runp->st.timers_fired, fired);
    return now;
}

int64_t gort__sched_timesleepuntil(void) {
    int64_t next = 0;
    for (int32_t i = 0; i < gort__sched.gomaxprocs; i++) {
        int64_t w = atomic_load_explicit(&gort__sched.allp[i]->timer0when, memory_order_acquire);
        if (w && (!next || w < next))
            next = w;
    }
    return next;
}

void gort__sched_timers_reset(void) {
    for (int32_t i = 0; i < gort__sched.gomaxprocs; i++) {
        gort__p_t *p = gort__sched.allp[i];
        lock(&p->timerslock);
        while (p->ntimers) {
            gort__timer_t *t = p->timers[p->ntimers - 1];
            heap_remove_locked(p, p->ntimers - 1);
            atomic_store_explicit(&t->state, TIMER_IDLE, memory_order_relaxed);
        }
        publish0_locked(p);
        unlock(&p->timerslock);
    }
}

/* ---- gort_sleep ------------------------------------------------------------------------------ */

static void sleep_wake(gort__p_t *runp, void *arg, int64_t now) {
    (void)now;
    gort__sched_ready_p(runp, arg);
}

/* The park's after-switch hook: the sleeper is off its stack, queue its timer. */
static void sleep_commit(void *arg) {
    gort__timer_t *t = arg;
    gort__g_t *gp = t->arg;
    gort__sched_addtimer(gp->m->p, t);
}

void gort_sleep(int64_t ns) {
    gort__g_t *gp = gort__sched_mustg("gort_sleep");
    if (ns <= 0) {
        gort__sched_checkpreempt(gp);
        return;
    }
    int64_t now = gort__nanotime();
    gort__timer_t t = {.when = now + ns, .f = sleep_wake, .arg = gp, .idx = -1, .on_gstack = true};
    if (t.when < now)
        t.when = INT64_MAX;   /* overflow: forever */
    gort__sched_park(gp, WAIT_SLEEP, NULL, sleep_commit, &t);
}

/* ---- gort_after ------------------------------------------------------------------------------ */

/* Send now on the after-channel without blocking (it has room for its one value). */
void gort__sched_chan_send_nb_p(gort__p_t *runp, gort_chan_t *c, const void *ep);

static void after_fire(gort__p_t *runp, void *arg, int64_t now) {
    gort__sched_chan_send_nb_p(runp, arg, &now);
}

gort_chan_t *gort_after(int64_t ns) {
    gort__g_t *gp = gort__sched_mustg("gort_after");
    gort_chan_t *c = gort_chan_make(sizeof(int64_t), 1);
    if (!c)
        return NULL;
    gort__timer_t *t = gort_calloc(1, sizeof *t);
    if (!t) {
        gort_chan_free(c);
        errno = ENOMEM;
        return NULL;
    }
    int64_t now = gort__nanotime();
    t->when = ns <= 0 ? now : now + ns;
    if (t->when < now)
        t->when = INT64_MAX;
    t->f = after_fire;
    t->arg = c;
    t->idx = -1;
    c->timer = t;
    gort__sched_addtimer(gp->m->p, t);
    return c;
}

/* gort_chan_free of an after-channel: cancel, then free the timer. */
void gort__sched_after_free(gort_chan_t *c);
void gort__sched_after_free(gort_chan_t *c) {
    gort__timer_t *t = c->timer;
    gort__sched_deltimer(t);
    c->timer = NULL;
    gort_free(t);
}

int gort_select_timeout(gort_select_case_t *cases, int n, int64_t timeout_ns) {
    if (timeout_ns < 0)
        return gort_select(cases, n, true);
    if (timeout_ns == 0)
        return gort_select(cases, n, false);
    if (n < 0 || n > 65534)
        gort__sched_throw("gort_select_timeout: %d cases", n);
    enum { STACK_CASES = 16 };
    gort_select_case_t buf[STACK_CASES + 1];
    gort_select_case_t *all = buf;
    if (n + 1 > STACK_CASES + 1) {
        all = gort_malloc((size_t)(n + 1) * sizeof *all);
        if (!all)
            gort__sched_throw("gort_select_timeout: out of memory for %d cases", n);
    }
    if (n)
        memcpy(all, cases, (size_t)n * sizeof *all);
    gort_chan_t *after = gort_after(timeout_ns);
    if (!after)
        gort__sched_throw("gort_select_timeout: out of memory for the timer");
    all[n] = (gort_select_case_t){.chan = after, .dir = GORT_CHAN_RECV, .elem = NULL};
    int k = gort_select(all, n + 1, true);
    gort_chan_free(after);
    if (k == n) {
        k = -1;
    } else if (n) {
        cases[k].ok = all[k].ok;
    }
    if (all != buf)
        gort_free(all);
    return k;
}
