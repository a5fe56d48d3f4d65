/* Goroutines: creation, the switch between them, parking, readying, yield,
 * exit, and the pools of dead ones.  The design essay is at the top of
 * sched/sched.c ("Switching", "Dead goroutines"). */
#include "sched/internal.h"

#include "stack/internal.h"   /* gort__ctx_make_owned: a goroutine's context, its stack named */

#include <errno.h>
#include <string.h>

const char *const gort__sched_waitreason_str[WAIT_N] = {
    [WAIT_NONE] = "",
    [WAIT_CHAN_RECV] = "chan receive",
    [WAIT_CHAN_SEND] = "chan send",
    [WAIT_CHAN_RECV_NIL] = "chan receive (nil chan)",
    [WAIT_CHAN_SEND_NIL] = "chan send (nil chan)",
    [WAIT_SELECT] = "select",
    [WAIT_SELECT_NO_CASES] = "select (no cases)",
    [WAIT_MUTEX] = "sync.Mutex.Lock",
    [WAIT_RWMUTEX_R] = "sync.RWMutex.RLock",
    [WAIT_RWMUTEX_W] = "sync.RWMutex.Lock",
    [WAIT_WAITGROUP] = "sync.WaitGroup.Wait",
    [WAIT_COND] = "sync.Cond.Wait",
    [WAIT_SEMACQUIRE] = "semacquire",
    [WAIT_SLEEP] = "sleep",
    [WAIT_IO] = "IO wait",
};

void gort__sched_notg(const char *what) {
    gort__fatal("%s called outside a goroutine (only goroutines started by gort_main or "
                "gort_go may block in the scheduler)", what);
}

/* ---- G structs: slabs, never freed (a dump walks them all) --------------------------------- */

static gort__g_t *galloc(gort__p_t *p) {
    if (p->gslab_n == 0) {
        gort__gslab_t *s = gort_calloc(1, sizeof *s);
        if (!s)
            return NULL;
        lock(&gort__sched.glock);
        s->next = gort__sched.gslabs;
        __atomic_store_n(&gort__sched.gslabs, s, __ATOMIC_RELEASE);   /* read without the lock (gcscan.c) */
        unlock(&gort__sched.glock);
        p->gslab = s->g;
        p->gslab_n = GSLAB_N;
    }
    p->gslab_n--;
    return p->gslab++;
}

void gort__sched_forallg(void (*fn)(gort__g_t *gp, void *arg), void *arg) {
    lock(&gort__sched.glock);
    for (gort__gslab_t *s = gort__sched.gslabs; s; s = s->next)
        for (int i = 0; i < GSLAB_N; i++)
            if (LOAD(s->g[i].goid))
                fn(&s->g[i], arg);
    unlock(&gort__sched.glock);
}

/* ---- the pools of dead Gs -------------------------------------------------------------------
 * Per P, two lists: dead Gs that kept their (warm) stack, and Gs without one.
 * gort_go takes a G without a stack when it can; a G takes a stack from a dead
 * one when it first runs (take_stack).  Over GFREE_MAX a P moves half to the
 * global pools; it refills from there in batches (Go's gfput/gfget). */

static void gpush(gort__g_t **list, int32_t *n, gort__g_t *gp) {
    gp->schedlink = *list;
    *list = gp;
    STORE(*n, *n + 1);
}

static gort__g_t *gpop(gort__g_t **list, int32_t *n) {
    gort__g_t *gp = *list;
    if (gp) {
        *list = gp->schedlink;
        STORE(*n, *n - 1);
    }
    return gp;
}

static void gfput(gort__p_t *p, gort__g_t *gp) {
    STORE(gp->status, G_DEAD);
    bool has_stack = gp->stack.lo != NULL;
    gort__g_t **list = has_stack ? &p->gfree_stack : &p->gfree_nostack;
    int32_t *n = has_stack ? &p->n_gfree_stack : &p->n_gfree_nostack;
    gpush(list, n, gp);
    if (*n < GFREE_MAX)
        return;
    lock(&gort__sched.gflock);
    while (*n > GFREE_MAX / 2) {
        gort__g_t *g1 = gpop(list, n);
        if (has_stack)
            gpush(&gort__sched.gfree_stack, &gort__sched.n_gfree_stack, g1);
        else
            gpush(&gort__sched.gfree_nostack, &gort__sched.n_gfree_nostack, g1);
    }
    unlock(&gort__sched.gflock);
}

static bool gfrefill(gort__p_t *p, bool want_stack) {
    if (!LOAD(gort__sched.n_gfree_stack) && !LOAD(gort__sched.n_gfree_nostack))
        return false;
    bool got = false;
    lock(&gort__sched.gflock);
    for (int i = 0; i < GFREE_MAX / 2; i++) {
        gort__g_t *g1;
        if ((g1 = gpop(&gort__sched.gfree_nostack, &gort__sched.n_gfree_nostack))) {
            gpush(&p->gfree_nostack, &p->n_gfree_nostack, g1);
            got |= !want_stack;
        } else if ((g1 = gpop(&gort__sched.gfree_stack, &gort__sched.n_gfree_stack))) {
            gpush(&p->gfree_stack, &p->n_gfree_stack, g1);
            got = true;
        } else {
            break;
        }
    }
    unlock(&gort__sched.gflock);
    return got;
}

/* A G struct for gort_go: a dead one without a stack, else one with, else new. */
static gort__g_t *gfget(gort__p_t *p) {
    for (int tries = 0; tries < 2; tries++) {
        gort__g_t *gp = gpop(&p->gfree_nostack, &p->n_gfree_nostack);
        if (!gp)
            gp = gpop(&p->gfree_stack, &p->n_gfree_stack);
        if (gp)
            return gp;
        if (!gfrefill(p, false))
            break;
    }
    return galloc(p);
}

void gort__sched_gfpurge(gort__p_t *p) {
    gort__g_t *gp;
    lock(&gort__sched.gflock);
    while ((gp = gpop(&p->gfree_stack, &p->n_gfree_stack)))
        gpush(&gort__sched.gfree_stack, &gort__sched.n_gfree_stack, gp);
    while ((gp = gpop(&p->gfree_nostack, &p->n_gfree_nostack)))
        gpush(&gort__sched.gfree_nostack, &gort__sched.n_gfree_nostack, gp);
    unlock(&gort__sched.gflock);
}

/* gp is about to run for the first time: give it a stack -- a dead G's warm
 * one if there is any, else a new one from the stack pool -- and its context. */
static void g_entry(void *arg);
void gort__sched_take_stack(gort__p_t *p, gort__g_t *gp) {
    if (!gp->stack.lo) {
        gort__g_t *donor = gpop(&p->gfree_stack, &p->n_gfree_stack);
        if (!donor && gfrefill(p, true))
            donor = gpop(&p->gfree_stack, &p->n_gfree_stack);
        if (donor) {
            gp->stack = donor->stack;   /* a move: nothing points at the gort_stack_t */
            memset(&donor->stack, 0, sizeof donor->stack);
            gpush(&p->gfree_nostack, &p->n_gfree_nostack, donor);
        } else if (gort_stack_alloc(&gp->stack, 0) != 0) {
            gort__sched_throw("out of memory allocating a stack for goroutine %llu",
                              (unsigned long long)gp->goid);
        }
    }
    gort__ctx_make_owned(&gp->ctx, &gp->stack, g_entry, gp, "goroutine", gp->goid,
                         gort__sched.fpstate);
    gp->started = 1;
}

static inline __attribute__((always_inline)) void yield(gort__g_t *gp, bool global, bool via_g0);

/* ---- creation -------------------------------------------------------------------------------- */

static uint64_t newgoid(gort__p_t *p) {
    enum { GOID_BATCH = 16 };
    if (p->goidcache == p->goidcacheend) {
        p->goidcache = atomic_fetch_add_explicit(&gort__sched.goidgen, GOID_BATCH,
                                                 memory_order_relaxed) + 1;
        p->goidcacheend = p->goidcache + GOID_BATCH;
    }
    return p->goidcache++;
}

/* Make a runnable G on p (not yet queued). */
static gort__g_t *newproc(gort__p_t *p, void (*fn)(void *), void *arg) {
    gort__g_t *gp = gfget(p);
    if (!gp)
        return NULL;
    gp->fn = fn;
    gp->arg = arg;
    gp->started = 0;
    gp->waitreason = WAIT_NONE;
    gp->waiting_on = NULL;
    gp->param = NULL;
    gp->m = NULL;
    STORE(gp->goid, newgoid(p));
    STORE(gp->status, G_RUNNABLE);
    BUMP(p->st.spawned, 1);
    gort__sched_event(p, EV_GO_CREATE, gp->goid, (uint64_t)(uintptr_t)fn);
    return gp;
}

int gort_go(void (*fn)(void *), void *arg) {
    gort__g_t *self = gort__sched_mustg("gort_go");
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    gort__p_t *p = self->m->p;
    if (GORT_UNLIKELY(gort__sched_runqsize(p) > RUNQ_SIZE) &&
        !atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed)) {
        /* Back-pressure (below), before the queue overflows, when the global
         * queue is empty: the spawner alone goes there, and what it spawned
         * runs here -- rather than half of it taking the trip through the
         * global queue (a million-goroutine spawn loop put 0.98 goroutines
         * per goroutine there).  With others already waiting there (a
         * recursive spawner: skynet), overflowing as below keeps fewer
         * half-done spawners alive. */
        yield(self, true, false);
        p = self->m->p;
    }
    gort__g_t *gp = newproc(p, fn, arg);
    if (!gp) {
        errno = ENOMEM;
        return -1;
    }
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_inited, memory_order_relaxed)))
        gort__sched_gc_newg(self->m, gp);
    /* With thieves about (P >= 2), a new G takes runnext only when it is free:
     * moving an occupant to the queue costs a second locked instruction, each
     * of which waits for every store before it.  The newest then goes to the
     * queue's newest end, where the owner takes it after runnext (sched.c,
     * "Run queues and order"). */
    bool next = gort__sched_single() || !atomic_load_explicit(&p->runnext, memory_order_relaxed);
    bool overflowed = gort__sched_runqput(p, gp, next);
    gort__sched_wakep();
    /* Back-pressure: a goroutine that has filled its P's queue (256 runnable
     * goroutines, half of them just moved to the global queue) yields, behind
     * the global queue, so that what it spawned runs before it spawns more:
     * a loop spawning a million goroutines keeps a few hundred alive instead
     * of a million.  (Go's spawner is slowed instead by allocating each new
     * goroutine's stack, and preempted every 10 ms.) */
    if (GORT_UNLIKELY(overflowed))
        yield(self, true, false);
    else
        gort__sched_checkpreempt(self);
    return 0;
}

/* The main goroutine, on P0 (gort_main). */
gort__g_t *gort__sched_newmain(gort__p_t *p, void (*fn)(void *), void *arg);
gort__g_t *gort__sched_newmain(gort__p_t *p, void (*fn)(void *), void *arg) {
    gort__g_t *gp = newproc(p, fn, arg);
    if (gp)
        gort__sched_runqput(p, gp, true);
    return gp;
}

void gort__sched_after_unlock(gort__m_t *m, gort__g_t *prev, void *arg) {
    (void)m;
    (void)prev;
    gort__sched_park_ctx_t *ctx = arg;
    ctx->unlockf(ctx->arg);
}

void gort__sched_execute(gort__m_t *m, gort__g_t *gp) {
    gort__sched_switch_to(m, &m->g0, gp);
    gort__sched_after_switch(m);   /* g0 never migrates: m is still ours */
}

/* The new goroutine's first frame: finish the switch that started it, run fn,
 * exit.  It never returns. */
static GORT_NORETURN void goexit(gort__g_t *gp);
static void g_entry(void *arg) {
    gort__g_t *gp = arg;
    gort__gcm_exit(gp->m->gct);   /* the switch's critical section (gort__sched_switch_to) */
    gort__sched_after_switch(gp->m);
    gp->fn(gp->arg);
    goexit(gp);
}

static void after_gfput(gort__m_t *m, gort__g_t *prev, void *arg) {
    (void)arg;
    gfput(m->p, prev);
}

static void goexit(gort__g_t *gp) {
    gort__m_t *m = gp->m;
    BUMP(m->p->st.exited, 1);
    gort__sched_event(m->p, EV_GO_END, gp->goid, 0);
    if (GORT_UNLIKELY(gp == gort__sched.main_g)) {
        gort__gc_sched_procs(0);   /* a mark running now finishes without the Ps */
        gort__sched_stop_begin();
    }
    gp->waiting_on = NULL;
    m->after = after_gfput;
    m->after_g = gp;
    gort__sched_switch_away(m, gp);
    gort__fatal("gort: a dead goroutine was resumed");
}

/* ---- park, ready, yield -------------------------------------------------------------------------- */

void gort__sched_ready(gort__g_t *gp) {
    gort__g_t *self = gort__sched_getg();
    GORT_ASSERT(self);
    gort__p_t *p = self->m->p;
    GORT_DASSERT(LOAD(gp->status) == G_WAITING);
    STORE(gp->status, G_RUNNABLE);
    gort__sched_event(p, EV_GO_UNBLOCK, gp->goid, self->goid);
    gort__sched_runqput(p, gp, true);
    gort__sched_wakep();
}

void gort__sched_ready_p(gort__p_t *p, gort__g_t *gp) {
    GORT_DASSERT(LOAD(gp->status) == G_WAITING);
    STORE(gp->status, G_RUNNABLE);
    gort__sched_event(p, EV_GO_UNBLOCK, gp->goid, 0);
    gort__sched_runqput(p, gp, true);
    gort__sched_wakep();
}

/* Behind everything: the oldest end of the local queue; or the global queue
 * when the local queue is empty and the global one is not (so the goroutines
 * waiting there run first), or when arg says so (gort_go's back-pressure).
 * Go's Gosched always uses the global queue: a lock per yield. */
/* The yielder is queued only here, off its stack: a P woken before this
 * point could look, find nothing and sleep again (its M's last look races
 * with the put), leaving the yielder queued behind a goroutine that runs on
 * and an idle P beside it -- so the wake-up comes after the put. */
static void after_requeue(gort__m_t *m, gort__g_t *prev, void *arg) {
    if (!arg && (!atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) ||
                 !gort__sched_runqempty(m->p))) {
        gort__sched_runqput_head(m->p, prev);
    } else {
        lock(&gort__sched.lock);
        gort__sched_globrunqput_locked(prev);
        unlock(&gort__sched.lock);
        BUMP(m->p->st.global_puts, 1);
    }
    if (!gort__sched_single())
        gort__sched_wakep();
}

/* via_g0: through g0's schedule() even with nothing else to run (a P's share of
 * the mark is paid there). */
static inline __attribute__((always_inline)) void yield(gort__g_t *gp, bool global, bool via_g0) {
    gort__m_t *m = gp->m;
    gort__p_t *p = m->p;
    if (!via_g0 && (gort__sched_single() ? gort__sched_runqempty_single(p) : gort__sched_runqempty(p)) &&
        !atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) && !LOAD(gort__sched.stopping))
        return;   /* nothing else to run here: we would be picked again */
    /* Work stays queued here while a P may be idle: after_requeue wakes one
     * to come for it (two goroutines yielding to each other on one P while
     * the other P slept was a lottery of the start-up race before). */
    BUMP(p->st.yields, 1);
    gort__sched_event(p, EV_GO_YIELD, gp->goid, 0);
    STORE(gp->status, G_RUNNABLE);
    m->after = after_requeue;
    m->after_g = gp;
    m->after_arg = global ? (void *)1 : NULL;
    if (via_g0) {
        gort__sched_switch_to(m, gp, &m->g0);
        gort__sched_after_switch(gp->m);
    } else {
        gort__sched_switch_away(m, gp);
    }
}

void gort_yield(void) {
    /* m from the thread, not through gp->m (the same M at entry): one load
     * less on the chain everything below waits for. */
    gort__m_t *m = gort__sched_tls_m;
    gort__g_t *gp = m ? m->curg : NULL;
    if (GORT_UNLIKELY(!gp))
        gort__sched_notg("gort_yield");
    if (GORT_UNLIKELY(LOAD(gp->preempt))) {
        gort__sched_preempt_yield(gp);
        return;
    }
    gort__p_t *p = m->p;
    if (GORT_UNLIKELY(atomic_load_explicit(&p->timer0when, memory_order_relaxed))) {
        int64_t next;   /* a yielder gives due timers their turn too */
        gort__sched_checktimers(p, p, 0, &next);
    }
    if (gort__sched_single()) {
        /* One P: yield's work in one pass -- take the next G as
         * gort__sched_next_direct does; no other M can take gp from the
         * queue before it is off its stack, so after_requeue's usual choice
         * (the oldest end of the local queue) is made before the switch, and
         * the switch needs no deferred action. */
        uint32_t tick = p->schedtick + 1;
        gort__g_t *next;
        if (GORT_LIKELY(tick % 61 != 0 && !LOAD(gort__sched.stopping)) &&
            (next = gort__sched_runqget_single(p))) {
            STORE(p->schedtick, tick);
            BUMP(p->st.yields, 1);
            gort__sched_event(p, EV_GO_YIELD, gp->goid, 0);
            STORE(gp->status, G_RUNNABLE);
            if ((gort__sched_runqempty_single(p) &&
                 atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed)) ||
                !gort__sched_runqput_head_single(p, gp)) {
                m->after = after_requeue;
                m->after_g = gp;
                m->after_arg = NULL;
            }
            gort__sched_switch_to(m, gp, next);
            gort__sched_after_switch(gp->m);
            return;
        }
    }
    yield(gp, false, false);
}

void gort__sched_preempt_yield(gort__g_t *gp) {
    gort__p_t *p = gp->m->p;
    STORE(gp->preempt, 0);
    BUMP(p->st.preempts, 1);
    int64_t next;
    gort__sched_checktimers(p, p, 0, &next);
    /* Preempted for its P's share of a mark (sysmon, gort__gc_p_owes_mark): it
     * goes through g0, whose schedule() pays the share, and stays on this P. */
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_pmark, memory_order_relaxed)) && p->mcache &&
        gort__gc_p_owes_mark(p->mcache, gort__nanotime())) {
        yield(gp, false, true);
        return;
    }
    yield(gp, true, false);
}

uint64_t gort_goid(void) {
    gort__g_t *gp = gort__sched_getg();
    return gp ? gp->goid : 0;
}

/* ---- tear-down -------------------------------------------------------------------------------------
 * After a run, with every M stopped: any G not dead was abandoned (Go exits the
 * process instead).  Its stack is freed and the G goes back to the pools. */
static void reclaim(gort__g_t *gp, void *arg) {
    (void)arg;
    uint32_t st = LOAD(gp->status);
    if (st == G_DEAD || st == G_IDLE)
        return;
    if (st == G_SYSCALL) {
        /* Its thread still runs on its stack, in the kernel: the stack and the
         * G are leaked, never reused (the M stops when the call returns). */
        STORE(gp->status, G_DEAD);
        return;
    }
    if (gp->stack.lo)
        gort_stack_free(&gp->stack);
    gp->started = 0;
    STORE(gp->status, G_DEAD);
    gp->schedlink = NULL;
    lock(&gort__sched.gflock);
    gpush(&gort__sched.gfree_nostack, &gort__sched.n_gfree_nostack, gp);
    unlock(&gort__sched.gflock);
}

void gort__sched_gc_leftovers(void) {
    gort__sched_forallg(reclaim, NULL);
}
