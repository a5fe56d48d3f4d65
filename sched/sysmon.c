/* System calls (Go's entersyscall/exitsyscall), sysmon (retake, preemption
 * requests, the fallback poll, schedtrace) and the thread cap.  The design
 * essay is at the top of sched/sched.c ("Blocking in the kernel", "sysmon",
 * "Preemption"). */
#include "sched/internal.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
    FORCE_PREEMPT_NS = 10 * 1000 * 1000,   /* a goroutine may run 10 ms before it is preempted */
    SYSMON_MIN_NS = 20 * 1000,             /* sysmon's shortest sleep */
    /* ... and longest while something runs.  Go's is 10 ms; a time slice's
     * start is dated from sysmon's look before the one that sees the P's
     * schedtick change, so sysmon's period is how early a 10 ms slice may
     * end (Go: 10-20 ms, 9-10 ms here).  1000 wake-ups a second of a few us
     * each, only while something runs: an idle process sleeps (below). */
    SYSMON_MAX_NS = 1000 * 1000,
    POLL_FALLBACK_NS = 10 * 1000 * 1000,   /* sysmon polls if nobody did for this long */
};

/* ---- system calls ----------------------------------------------------------------------------
 * gort_syscall_enter keeps the M and the G but lends the P: P_SYSCALL, no
 * M.  Two parties may then take it, each by a CAS out of P_SYSCALL: the M
 * itself in gort_syscall_exit (back to P_RUNNING: the fast path, no lock),
 * or sysmon (to P_IDLE, then handoffp gives it to another M, or to the idle
 * list).  An M whose P was taken looks for an idle P; if there is none it
 * queues its G on the global queue and sleeps (Go's exitsyscall0). */

void gort_syscall_enter(void) {
    gort__m_t *m = gort__sched_tls_m;
    gort__g_t *gp = m ? m->curg : NULL;
    if (!gp)
        return;
    gort__p_t *p = m->p;
    BUMP(p->st.syscalls, 1);
    STORE(p->syscalltick, p->syscalltick + 1);
    m->oldp = p;
    m->gen = LOAD(gort__sched.gen);
    STORE(gp->status, G_SYSCALL);
    STORE(p->m, NULL);
    STORE(m->p, NULL);
    gort__gc_m_lendp(m->gct);   /* the P's collector state goes with the P */
    __atomic_store_n(&p->status, P_SYSCALL, __ATOMIC_SEQ_CST);
    gort__sched_sysmon_wake_check();
}

/* On g0, after the G is off its stack: no P came back -- queue it globally,
 * take an idle P if one appeared meanwhile, else the M sleeps (schedule()). */
static void exitsyscall0(gort__m_t *m, gort__g_t *prev, void *arg) {
    (void)arg;
    lock(&gort__sched.lock);
    STORE(prev->status, G_RUNNABLE);
    gort__sched_globrunqput_locked(prev);
    gort__p_t *p = gort__sched_pidleget_locked();
    unlock(&gort__sched.lock);
    if (p)
        gort__sched_acquirep(m, p);
}

/* The run this M's G belonged to is over: the G was abandoned, its M too. */
static GORT_NORETURN void exitsyscall_lost(gort__m_t *m) {
    lock(&gort__sched.lock);
    gort__sched.mcount--;
    gort__sched.mlost++;
    /* It was counted as running (in a system call) by the run under way, if
     * any: that run's last M may have gone idle meanwhile, trusting it. */
    gort__sched_checkdead_locked();
    unlock(&gort__sched.lock);
    _Atomic uint32_t never = 0;
    for (;;)
        gort__futex_wait(&never, 0, -1);
    (void)m;
}

void gort_syscall_exit(void) {
    gort__m_t *m = gort__sched_tls_m;
    gort__g_t *gp = m ? m->curg : NULL;
    if (!gp || !m->oldp)
        return;   /* no gort_syscall_enter from a goroutine before */
    if (m->gen != LOAD(gort__sched.gen) || !LOAD(gort__sched.running))
        exitsyscall_lost(m);   /* the run ended while it was in the kernel */
    gort__p_t *oldp = m->oldp;
    m->oldp = NULL;
    uint32_t s = P_SYSCALL;
    if (GORT_LIKELY(oldp && __atomic_compare_exchange_n(&oldp->status, &s, P_RUNNING, false,
                                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))) {
        /* Fast path: nobody took the P. */
        STORE(oldp->m, m);
        STORE(m->p, oldp);
        gort__gc_m_acquirep(m->gct, oldp->mcache);
        STORE(gp->status, G_RUNNING);
        if (GORT_UNLIKELY(LOAD(gort__sched.stopping)))
            goto park;   /* the main goroutine returned: this one stops here with the rest */
        gort__sched_checkpreempt(gp);
        return;
    }
    /* The P was handed off: any idle P will do. */
    gort__p_t *p = gort__sched_pidleget();
    if (p) {
        gort__sched_acquirep(m, p);
        STORE(gp->status, G_RUNNING);
        return;
    }
    /* None: the G waits on the global queue, this M sleeps. */
park:
    m->after = exitsyscall0;
    m->after_g = gp;
    gort__sched_switch_to(m, gp, &m->g0);
    gort__sched_after_switch(gp->m);
    gort__sched_checkpreempt(gp);
}

/* ---- the thread cap -------------------------------------------------------------------------- */

void gort__sched_checkmcount_locked(void) {
    if (gort__sched.mcount >= gort__sched.maxmcount)
        gort__fatal("thread exhaustion: the program exceeds its %d-thread limit (%d threads; "
                    "GORT_MAXTHREADS or gort_set_max_threads raise it)",
                    gort__sched.maxmcount, gort__sched.mcount);
}

int gort_set_max_threads(int n) {
    gort__settings_init();
    lock(&gort__sched.lock);
    int old = gort__sched.maxmcount ? gort__sched.maxmcount : gort__settings.maxthreads;
    if (n >= 1) {
        gort__sched.maxmcount = n;
        if (gort__sched.mcount > n) {
            unlock(&gort__sched.lock);
            gort__fatal("thread exhaustion: gort_set_max_threads(%d) below the %d threads in use", n,
                        gort__sched.mcount);
        }
    }
    unlock(&gort__sched.lock);
    return old;
}

/* ---- handing off a P ---------------------------------------------------------------------------- */

/* p was taken from an M in a system call (now P_IDLE, no M): run it on
 * another M if there is anything to run, else put it on the idle list. */
void gort__sched_handoffp(gort__p_t *p) {
    /* A mark with work to do: the P marks (Go's handoffp, gcMarkWorkAvailable). */
    if (!gort__sched_runqempty(p) || atomic_load(&gort__sched.runqsize) || gort__gc_mark_work_available()) {
        gort__sched_startm(p, false);
        return;
    }
    /* Nobody looks for work: this P's new M will. */
    int32_t zero = 0;
    if (atomic_load(&gort__sched.nmspinning) + atomic_load(&gort__sched.npidle) == 0 &&
        atomic_compare_exchange_strong(&gort__sched.nmspinning, &zero, 1)) {
        gort__sched_startm(p, true);
        return;
    }
    lock(&gort__sched.lock);
    if (atomic_load(&gort__sched.runqsize)) {
        unlock(&gort__sched.lock);
        gort__sched_startm(p, false);
        return;
    }
    /* The last P with nobody polling: an M must watch descriptors and timers. */
    if (atomic_load(&gort__sched.npidle) == gort__sched.gomaxprocs - 1 &&
        atomic_load(&gort__sched.lastpoll) != 0 &&
        (atomic_load(&gort__sched.netpollWaiters) > 0 || atomic_load(&gort__sched.ntimers) > 0)) {
        unlock(&gort__sched.lock);
        gort__sched_startm(p, false);
        return;
    }
    int64_t when = atomic_load(&p->timer0when);
    gort__sched_pidleput_locked(p);
    unlock(&gort__sched.lock);
    if (when)
        gort__sched_wakenetpoller(when);
}

/* ---- sysmon ------------------------------------------------------------------------------------ */

static pthread_t sysmon_thread;
static bool sysmon_running;
static _Atomic uint32_t sysmon_note;   /* futex word: sysmon sleeps on it */
static _Atomic uint32_t sysmon_stop;
static _Atomic int64_t sysmon_until;   /* when a sleeping sysmon wakes by itself */

void gort__sched_sysmon_wake(void) {
    /* It wakes for the next timer by itself; wake it only if that is far. */
    if (atomic_load_explicit(&sysmon_until, memory_order_relaxed) - gort__nanotime() <= SYSMON_MAX_NS)
        return;
    uint32_t one = 1;
    if (atomic_compare_exchange_strong(&gort__sched.sysmonwait, &one, 0)) {
        atomic_fetch_add(&sysmon_note, 1);
        gort__futex_wake(&sysmon_note, 1);
    }
}

/* Ask the G running on p to stop (flag, then the signal). */
static void preemptone(gort__p_t *p) {
    gort__m_t *m = LOAD(p->m);
    if (!m)
        return;
    gort__g_t *gp = LOADACQ(m->curg);
    if (!gp)
        return;
    STORE(gp->preempt, 1);
    gort__sched_preempt_m(m);
}

/* One pass over the Ps: preempt what ran too long, take Ps from system
 * calls.  Returns the Ps taken; *next is the time of the next deadline. */
static int retake(int64_t now, int64_t *next, int *insyscall) {
    /* A slice sysmon sees for the first time began after its last look, so
     * it is dated from that look (clamped to a period ago, after an idle
     * sleep): preempted at 9-10 ms of running rather than 10-11, and never
     * later than 10 -- dated from this look, a sleeper beside a hog waited
     * 10.07 ms in some runs and 11.08 ms in others (sysmon's phase). */
    static int64_t last_look;
    int64_t began = last_look > now - SYSMON_MAX_NS ? last_look : now - SYSMON_MAX_NS;
    last_look = now;
    int n = 0;
    *insyscall = 0;
    for (int32_t i = 0; i < gort__sched.gomaxprocs; i++) {
        gort__p_t *p = gort__sched.allp[i];
        uint32_t s = __atomic_load_n(&p->status, __ATOMIC_SEQ_CST);
        if (s == P_RUNNING || s == P_SYSCALL) {
            uint32_t t = LOAD(p->schedtick);
            if (p->sm_schedtick != t) {
                p->sm_schedtick = t;
                p->sm_schedwhen = began;
            } else if (s == P_RUNNING && p->sm_schedwhen + FORCE_PREEMPT_NS <= now) {
                preemptone(p);
                p->sm_schedwhen = now;   /* ask again in 10 ms if it does not stop */
                /* It switches within microseconds: look again soon, so the next
                 * slice's start is seen when it starts, not a period later. */
                if (now + SYSMON_MIN_NS < *next)
                    *next = now + SYSMON_MIN_NS;
                continue;
            }
            /* During a mark, a goroutine that never goes through schedule()
             * (binary-trees' builders) would leave its P's fractional share
             * unpaid, the mark to assists, and the mark longer: preempt it
             * when the share owes a slice, at most once a sysmon period. */
            if (s == P_RUNNING && p->mcache && p->sm_markwhen + SYSMON_MAX_NS <= now &&
                gort__gc_p_owes_mark(p->mcache, now)) {
                preemptone(p);
                p->sm_markwhen = now;
            }
            if (s == P_RUNNING) {
                int64_t d = p->sm_schedwhen + FORCE_PREEMPT_NS;
                if (d < *next)
                    *next = d;
            }
        }
        if (s != P_SYSCALL)
            continue;
        ++*insyscall;
        uint32_t t = LOAD(p->syscalltick);
        if (p->sm_syscalltick != t) {   /* a new system call: give it one sysmon tick */
            p->sm_syscalltick = t;
            p->sm_syscallwhen = now;
            if (now + SYSMON_MIN_NS < *next)
                *next = now + SYSMON_MIN_NS;
            continue;
        }
        /* Keep the P for a short call if it has no work and others are free
         * to look for some; after 10 ms take it regardless. */
        if (gort__sched_runqempty(p) &&
            atomic_load(&gort__sched.nmspinning) + atomic_load(&gort__sched.npidle) > 0 &&
            p->sm_syscallwhen + 10 * 1000 * 1000 > now) {
            if (p->sm_syscallwhen + 10 * 1000 * 1000 < *next)
                *next = p->sm_syscallwhen + 10 * 1000 * 1000;
            continue;
        }
        uint32_t want = P_SYSCALL;
        if (__atomic_compare_exchange_n(&p->status, &want, P_IDLE, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            n++;
            atomic_fetch_add_explicit(&gort__sched.handoffs, 1, memory_order_relaxed);
            gort__sched_handoffp(p);
        }
    }
    return n;
}

static void sysmon_sleep(int64_t ns) {
    uint32_t v = atomic_load(&sysmon_note);
    if (atomic_load(&sysmon_stop))
        return;
    gort__futex_wait(&sysmon_note, v, ns);
}

static void *sysmon_main(void *arg) {
    (void)arg;
    gort__os_thread_name("gort-sysmon");
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int64_t trace_period = (int64_t)gort__settings.schedtrace * 1000000;
    int64_t trace_next = trace_period > 0 ? gort__nanotime() + trace_period : INT64_MAX;
    int64_t delay = 0;
    int idle = 0, insyscall = 0;
    while (!atomic_load(&sysmon_stop)) {
        /* Go's adaptive period (20 us, doubling after 50 quiet looks) only
         * while a P is lent to a system call, where a quick retake matters;
         * otherwise the longest period, and the exact deadlines below.  (On
         * two cores a sysmon waking every 20 us costs a P=2 ping-pong 30%.) */
        if (!insyscall)
            delay = SYSMON_MAX_NS;
        else if (idle == 0)
            delay = SYSMON_MIN_NS;
        else if (idle > 50)
            delay *= 2;
        if (delay > SYSMON_MAX_NS)
            delay = SYSMON_MAX_NS;
        int64_t now = gort__nanotime();
        int64_t wake = now + delay;
        if (gort__sched.pnext < wake && gort__sched.pnext > now)
            wake = gort__sched.pnext;   /* the next preemption or retake deadline */
        if (trace_next < wake)
            wake = trace_next;
        sysmon_sleep(wake - now);
        gort__gc_wait_world_running();
        now = gort__nanotime();

        /* An idle process: sleep until an M takes a P (or schedtrace is due). */
        if (atomic_load(&gort__sched.npidle) == gort__sched.gomaxprocs && !LOAD(gort__sched.stopping)) {
            /* Until the next timer (an M wakes for it too: Go's sysmon does
             * the same) or schedtrace; an M that takes a P wakes it sooner. */
            int64_t until = gort__sched_timesleepuntil();
            if (!until || until > trace_next)
                until = trace_next;
            atomic_store(&sysmon_until, until);
            atomic_store(&gort__sched.sysmonwait, 1);
            if (atomic_load(&gort__sched.npidle) == gort__sched.gomaxprocs) {
                uint32_t v = atomic_load(&sysmon_note);
                if (atomic_load(&gort__sched.sysmonwait) && !atomic_load(&sysmon_stop) && until > now)
                    gort__futex_wait(&sysmon_note, v, until == INT64_MAX ? -1 : until - now);
            }
            atomic_store(&gort__sched.sysmonwait, 0);
            atomic_store(&sysmon_until, 0);
            idle = 0;
            now = gort__nanotime();
        }

        /* Nobody polled for 10 ms: poll, and queue what is ready. */
        int64_t lastpoll = atomic_load(&gort__sched.lastpoll);
        if (gort__sched_netpoll_inited() && lastpoll != 0 && lastpoll + POLL_FALLBACK_NS < now &&
            atomic_compare_exchange_strong(&gort__sched.lastpoll, &lastpoll, now)) {
            gort__g_t *list = gort__sched_netpoll(0);
            if (list)
                gort__sched_injectglist(NULL, list);
        }
        /* Timers overdue and nobody to run them (every P busy in one G). */
        int64_t tnext = gort__sched_timesleepuntil();
        if (tnext && tnext + SYSMON_MAX_NS < now)
            gort__sched_wakep();

        int64_t next = INT64_MAX;
        if (retake(now, &next, &insyscall))
            idle = 0;
        else
            idle++;
        gort__sched.pnext = next;

        if (now >= trace_next) {
            gort__sched_schedtrace(gort__settings.scheddetail != 0);
            trace_next += trace_period;
            if (trace_next < now)
                trace_next = now + trace_period;
        }
    }
    return NULL;
}

void gort__sched_sysmon_start(void) {
    atomic_store(&sysmon_stop, 0);
    atomic_store(&gort__sched.sysmonwait, 0);
    gort__sched.pnext = 0;
    sysmon_running = pthread_create(&sysmon_thread, NULL, sysmon_main, NULL) == 0;
    if (!sysmon_running)
        gort__fatal("gort: cannot start sysmon (pthread_create failed)");
}

void gort__sched_sysmon_stop(void) {
    if (!sysmon_running)
        return;
    atomic_store(&sysmon_stop, 1);
    atomic_fetch_add(&sysmon_note, 1);
    gort__futex_wake(&sysmon_note, 1);
    pthread_join(sysmon_thread, NULL);
    sysmon_running = false;
}
