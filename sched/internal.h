/* gort scheduler, internal declarations shared by its files.
 * The design essay is at the top of sched/sched.c. */
#ifndef GORT_SCHED_INTERNAL_H
#define GORT_SCHED_INTERNAL_H

/* include/gort/internal/lock.h calls the runtime's futex lock gort_mutex_t,
 * which is also the public goroutine mutex of gort/sync.h: inside sched/ the
 * runtime lock is spelled gort__lock_t.  This header must come first. */
#define gort_mutex   gort__lock
#define gort_mutex_t gort__lock_t
#include "include/gort/internal/lock.h"
#undef gort_mutex
#undef gort_mutex_t

#include "include/gort/internal/rt.h"
#include "include/gort/internal/gcsched.h"
#include "include/gort/alloc.h"
#include "include/gort/chan.h"
#include "include/gort/sched.h"
#include "include/gort/stack.h"
#include "include/gort/sync.h"
#include "stack/sanitize.h"   /* GORT_STACK_SANITIZED: gort__sched_ctx_switch */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define lock(l)   gort__mutex_lock(l)
#define unlock(l) gort__mutex_unlock(l)

/* Racy-but-intended reads and writes of plain fields (statistics, traces,
 * the fast "is there anything?" checks): atomic, relaxed, so the sanitizers
 * and the compiler see what is meant. */
#define LOAD(x)      __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v)  __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define LOADACQ(x)   __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STOREREL(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
/* A counter only its owner writes: a load and a store, no locked instruction. */
#define BUMP(x, n)   STORE(x, LOAD(x) + (n))

typedef struct gort__g gort__g_t;
typedef struct gort__m gort__m_t;
typedef struct gort__p gort__p_t;
typedef struct gort__sudog gort__sudog_t;
typedef struct gort__timer gort__timer_t;

/* ---- G: a goroutine ------------------------------------------------------------------ */

enum {                      /* gort__g_t.status (Go's _G* states) */
    G_IDLE = 0,             /* in a free pool (never started, or dead and recycled) */
    G_RUNNABLE = 1,         /* on a run queue, or about to be */
    G_RUNNING = 2,          /* an M runs it */
    G_SYSCALL = 3,          /* inside gort_syscall_enter/exit: its M runs it, without a P */
    G_WAITING = 4,          /* parked: waitreason says on what */
    G_DEAD = 6,             /* finished; its struct and stack wait for reuse */
};

typedef enum {              /* gort__g_t.waitreason: Go's waitReason strings */
    WAIT_NONE = 0,
    WAIT_CHAN_RECV,
    WAIT_CHAN_SEND,
    WAIT_CHAN_RECV_NIL,
    WAIT_CHAN_SEND_NIL,
    WAIT_SELECT,
    WAIT_SELECT_NO_CASES,
    WAIT_MUTEX,
    WAIT_RWMUTEX_R,
    WAIT_RWMUTEX_W,
    WAIT_WAITGROUP,
    WAIT_COND,
    WAIT_SEMACQUIRE,
    WAIT_SLEEP,             /* gort_sleep (time.c) */
    WAIT_IO,                /* a descriptor not ready (netpoll.c) */
    WAIT_N
} gort__waitreason_t;
extern const char *const gort__sched_waitreason_str[WAIT_N];

struct gort__g {
    gort_ctx_t    ctx;          /* saved context; written by the switch */
    gort_stack_t  stack;        /* lo == NULL: none yet (taken when it first runs) */
    void        (*fn)(void *);  /* entry, set by gort_go (kept for dumps) */
    void         *arg;
    uint64_t      goid;         /* set by gort_go; read by dumps (LOAD) */
    uint32_t      status;       /* G_*; the M running it or the parker writes (STORE) */
    uint8_t       waitreason;   /* set with status = G_WAITING (STORE) */
    uint8_t       started;      /* its context exists (ctx made on stack) */
    uint8_t       preempt;      /* sysmon asks it to yield at its next safe point (STORE by
                                 * sysmon, cleared when it is switched to) */
    _Atomic uint32_t selectdone;/* a select's wake-up is claimed: 0 -> 1 by the waker */
    const void   *waiting_on;   /* the channel / lock it is parked on, for dumps */
    gort__g_t    *schedlink;    /* global run queue, free lists: under their lock */
    gort__m_t    *m;            /* the M running it; set by whoever switches to it */
    gort__sudog_t *param;       /* the sudog that woke it (select); set by the waker */
    /* The collector (sched/gcscan.c): who may scan its stack now (GS_*), and the
     * last cycle its stack was scanned in. */
    _Atomic uint32_t gcscan;
    uint32_t      scancycle;    /* atomic builtins */
};

/* G structs are carved from slabs, never freed (g.c; a dump or the collector
 * walks them all, sched.gslabs, under sched.glock). */
enum { GSLAB_N = 64 };
typedef struct gort__gslab {
    struct gort__gslab *next;
    gort__g_t g[GSLAB_N];
} gort__gslab_t;

/* A goroutine waiting on a channel or a semaphore: Go's sudog.  It lives on
 * the waiting goroutine's own stack (a C stack never moves), so blocking
 * allocates nothing.  Fields are under the lock of the queue it is on. */
struct gort__sudog {
    gort__g_t     *g;
    gort__sudog_t *next, *prev;
    void          *elem;        /* data to send / where to receive (may be on g's stack) */
    gort_chan_t   *c;           /* channel (select: which case's) */
    const void    *addr;        /* semaphore address (sema.c) */
    uint32_t       ticket;      /* sema: handed off; cond: notify ticket */
    int            case_index;  /* select */
    bool           is_select;
    bool           success;     /* channel: woken by a value (true) or a close (false) */
};

/* ---- P: a processor -------------------------------------------------------------------- */

enum { P_IDLE = 0, P_RUNNING = 1, P_SYSCALL = 2 };   /* later: P_GCSTOP */
enum { RUNQ_SIZE = 256, GFREE_MAX = 64 };

typedef struct gort__pstats {       /* written by the owner only (BUMP), summed by readers */
    uint64_t spawned, exited, switches, parks, yields, steals, stolen;
    uint64_t global_puts, global_gets, mparks;
    uint64_t syscalls, preempts, async_preempts, timers_fired;
} gort__pstats_t;

struct gort__p {
    int32_t     id;
    uint32_t    status;             /* P_*; under sched.lock when idle, else its M (STORE); the
                                     * ways out of P_SYSCALL are CASes (sysmon.c) */
    uint32_t    syscalltick;        /* bumped at each gort_syscall_enter (owner, STORE) */
    gort__p_t  *link;               /* sched.pidle list: under sched.lock */
    gort__m_t  *m;                  /* its M, or NULL when idle (STORE) */
    uint32_t    schedtick;          /* incremented at each schedule; owner (STORE) */
    uint64_t    goidcache, goidcacheend;  /* goroutine ids reserved for this P; owner */

    /* Run queue (runq.c): owner pushes and pops at the tail, thieves take from
     * the head.  runqw = tag << 32 | head << 16 | tail (positions mod 2^16). */
    _Atomic uint64_t runqw GORT_ALIGNED_CL;
    _Atomic(gort__g_t *) runnext;   /* the next G to run: owner sets, owner or thief takes (CAS) */
    _Atomic(gort__g_t *) runq[RUNQ_SIZE];

    /* Dead Gs (g.c), owner only: with a stack kept warm, and without. */
    gort__g_t  *gfree_stack GORT_ALIGNED_CL;
    gort__g_t  *gfree_nostack;
    int32_t     n_gfree_stack, n_gfree_nostack;  /* STORE, for traces */
    gort__g_t  *gslab;              /* new G structs carved here (g.c) */
    int32_t     gslab_n;

    gort__pstats_t st;              /* owner BUMPs */

    /* Timers (time.c): a 4-ary min-heap on `when`, under timerslock (rank LEAF:
     * nothing is taken inside it; timer functions run with it released).
     * timer0when is heap[0]'s when, or 0 when empty: the lock-free "anything
     * due?" check of schedule() and the pollers. */
    gort__lock_t timerslock GORT_ALIGNED_CL;
    gort__timer_t **timers;
    int32_t     ntimers, timerscap;  /* under timerslock (LOAD for traces) */
    _Atomic int64_t timer0when;

    /* sysmon's record of this P (sysmon.c), sysmon only. */
    uint32_t    sm_schedtick, sm_syscalltick;
    int64_t     sm_schedwhen, sm_syscallwhen;
    int64_t     sm_markwhen;            /* when sysmon last preempted it for the mark's share */

    /* Hooks for later issues: the allocator's per-P cache, the collector's work
     * buffer and write-barrier buffer, trace buffer. */
    void       *mcache, *gcw, *wbbuf;
    struct gort__trace_ring *trace;
};

/* ---- M: an OS thread ----------------------------------------------------------------------- */

struct gort__m {
    gort__g_t   g0;                 /* the thread's own context (schedule() runs on it) */
    gort__g_t  *curg;               /* the G it runs, NULL on g0 (STORE) */
    gort__p_t  *p;                  /* attached P (STORE) */
    gort__p_t  *nextp;              /* P handed over by startm, under sched.lock */
    bool        spinning;           /* looking for work, counted in sched.nmspinning (STORE) */
    bool        is_m0;              /* the thread that called gort_main */
    _Atomic uint32_t park;          /* note: 0 asleep-able, 1 woken (futex word) */
    gort__m_t  *schedlink;          /* sched.midle: under sched.lock */
    gort__m_t  *alllink;            /* sched.allm: append-only under sched.lock */
    int64_t     id;
    pthread_t   thread;
    pid_t       tid;                /* for sysmon's preemption signal (set at start) */
    gort__p_t  *oldp;               /* the P it held when its G entered a system call (own) */
    gort__gcm_hdr_t *gct;           /* its record as a thread registered with the collector */
    uint32_t    gen;                /* sched.gen of the run its syscall G belongs to (own) */
    uint64_t    rand;               /* fastrand state, owner only */
    /* Deferred action run by whatever context the M switches to next, once the
     * previous G is off its stack (Go's waitunlockf / gfput after mcall). */
    void      (*after)(gort__m_t *m, gort__g_t *prev, void *arg);
    gort__g_t  *after_g;
    void       *after_arg;
};

/* ---- the global scheduler state ---------------------------------------------------------- */

typedef struct gort__sched {
    gort__lock_t lock;              /* GORT_RANK_SCHED: everything marked "under sched.lock" */
    gort__m_t   *midle;             /* idle Ms (under lock) */
    int32_t      nmidle;            /* under lock (LOAD for traces) */
    int32_t      mcount;            /* Ms that exist, M0 included (under lock) */
    int64_t      mnext;             /* next M id (under lock) */
    gort__m_t   *allm;              /* every M ever made (under lock, append-only) */
    gort__p_t   *pidle;             /* idle Ps (under lock) */
    _Atomic int32_t npidle;
    _Atomic int32_t nmspinning;

    gort__g_t   *runqhead, *runqtail;  /* global run queue (under lock) */
    _Atomic int32_t runqsize;

    gort__lock_t gflock;            /* GORT_RANK_SCHED_GFREE: the global G pools */
    gort__g_t   *gfree_stack, *gfree_nostack;
    int32_t      n_gfree_stack, n_gfree_nostack;

    gort__lock_t glock;             /* GORT_RANK_SCHED_ALLG: the slabs of G structs */
    gort__gslab_t *gslabs;

    int32_t      gomaxprocs;        /* set by gort_main, constant while it runs */
    bool         single;            /* gomaxprocs == 1: see "One P" in sched.c */
    gort__p_t  **allp;
    _Atomic uint64_t goidgen;
    gort__g_t   *main_g;
    gort__m_t   *m0;
    int32_t      running;           /* gort_main is active (atomic builtins) */
    int32_t      stopping;          /* the main goroutine returned: Ms release their Ps (atomic builtins) */
    _Atomic uint32_t stopwait;      /* futex word: Ps still held during a stop */
    int64_t      start_time;        /* nanotime at gort_main */
    uint64_t     fpstate;           /* the FP control state goroutines start with: gort_main's
                                     * caller's (gort__ctx_fpstate), set before any M runs */
    _Atomic uint64_t threads_made;
    int32_t      maxmcount;         /* the thread cap (GORT_MAXTHREADS, gort_set_max_threads; under lock) */
    int32_t      mlost;             /* Ms stranded in a system call past the end of their run (under lock) */
    uint32_t     gen;               /* gort_main runs so far (under lock) */

    /* The network poller (netpoll.c): lastpoll is the time of the last poll, 0
     * while an M blocks in it; pollUntil is when that M's poll times out (0:
     * never).  netpollWaiters counts goroutines parked on descriptors. */
    _Atomic int64_t lastpoll;
    _Atomic int64_t pollUntil;
    _Atomic int32_t netpollWaiters;
    _Atomic int64_t ntimers;        /* timers queued on every P (time.c) */
    _Atomic uint32_t sysmonwait;    /* sysmon sleeps until an M takes a P (sysmon.c) */
    int64_t      pnext;             /* sysmon's next preemption/retake deadline (sysmon only) */
    _Atomic uint64_t handoffs;      /* Ps sysmon took from system calls */
    _Atomic uint64_t netpoll_ready; /* goroutines the poller woke */
} gort__sched_t;
extern gort__sched_t gort__sched;

/* One P: every goroutine runs on the M holding it, so run queues have no
 * thieves and channels no concurrent users; owners use plain loads and stores
 * and channel locks are skipped (sched.c, "One P").  Constant during a run. */
GORT_INLINE bool gort__sched_single(void) {
    /* Relaxed: an M of the last run, on its way to sleep, may read it while the
     * next run's procresize writes it (the same plain load on x86-64). */
    return __atomic_load_n(&gort__sched.single, __ATOMIC_RELAXED);
}
/* A channel's lock (gort__sched_chan_lock, below); skipped at one P. */
#define chan_lock(c)   do { if (!gort__sched_single()) gort__sched_chan_lock(c, 0); } while (0)
#define chan_unlock(c) do { if (!gort__sched_single()) gort__sched_chan_unlock(c); } while (0)

/* The M running on this thread.  Read it only at entry to a call: after a
 * switch a goroutine may be on another thread, and must use g->m. */
extern __thread gort__m_t *gort__sched_tls_m;
GORT_INLINE gort__g_t *gort__sched_getg(void) {
    gort__m_t *m = gort__sched_tls_m;
    return m ? m->curg : NULL;
}
/* The calling goroutine, or a fatal error naming `what` outside one (inline:
 * every channel operation starts with it). */
GORT_NORETURN GORT_COLD void gort__sched_notg(const char *what);
GORT_INLINE gort__g_t *gort__sched_mustg(const char *what) {
    gort__g_t *gp = gort__sched_getg();
    if (GORT_UNLIKELY(!gp))
        gort__sched_notg(what);
    return gp;
}

/* ---- sched.c ------------------------------------------------------------------------------ */
void gort__sched_wakep(void);
/* Run p (or an idle P) on an idle or new M (Go's startm). */
void gort__sched_startm(gort__p_t *p, bool spinning);
/* Give up a P whose M is in a system call (Go's handoffp): start an M for it
 * if it has work, else make it idle. */
void gort__sched_handoffp(gort__p_t *p);
/* Take an idle P for m (exitsyscall, the netpoller): NULL if none. */
gort__p_t *gort__sched_pidleget(void);
gort__p_t *gort__sched_pidleget_locked(void);
void gort__sched_pidleput_locked(gort__p_t *p);
/* Whether no M is left running (sched.lock held): the deadlock report if so
 * (see "Deadlock" in sched/sched.c).  Called whenever the running count
 * drops: an M goes idle, or a lost M leaves the count (sysmon.c). */
void gort__sched_checkdead_locked(void);
void gort__sched_acquirep(gort__m_t *m, gort__p_t *p);
/* Make the goroutines of a list (through schedlink) runnable: on m's P if it
 * has one, else on the global queue, starting Ms for idle Ps (Go's injectglist). */
void gort__sched_injectglist(gort__m_t *m, gort__g_t *list);
uint32_t gort__sched_fastrand(gort__m_t *m);
GORT_INLINE uint32_t gort__sched_fastrandn(gort__m_t *m, uint32_t n) {
    return (uint32_t)(((uint64_t)gort__sched_fastrand(m) * n) >> 32);
}
/* Counters of P i (tests: stealing really moves work). */
void gort__sched_pstats(int i, gort__pstats_t *out);
/* The main goroutine returned: stop every M (g.c calls it from goexit). */
void gort__sched_stop_begin(void);

/* ---- g.c: goroutines, switching, parking --------------------------------------------------- */
/* Run the M's deferred action, if any (every context does it after a switch). */
GORT_INLINE void gort__sched_after_switch(gort__m_t *m) {
    if (m->after) {
        void (*f)(gort__m_t *, gort__g_t *, void *) = m->after;
        m->after = NULL;
        f(m, m->after_g, m->after_arg);
    }
}
/* Make a parked gp runnable on the calling goroutine's P, in runnext (it runs
 * next: Go's ready, the woken goroutine inherits the time slice). */
void gort__sched_ready(gort__g_t *gp);
/* The same onto p, from any context holding p (g0, timer functions). */
void gort__sched_ready_p(gort__p_t *p, gort__g_t *gp);
/* Preempted (sysmon's flag or signal): run due timers, then yield behind the
 * global queue (Go's gopreempt_m). */
void gort__sched_preempt_yield(gort__g_t *gp);
/* The cooperative preemption check, at the runtime's safe points (channel and
 * lock operations, gort_go, gort_yield, gort_syscall_exit). */
GORT_INLINE void gort__sched_checkpreempt(gort__g_t *gp) {
    if (GORT_UNLIKELY(LOAD(gp->preempt)))
        gort__sched_preempt_yield(gp);
}
/* Switch from g0 into gp (schedule's execute). */
void gort__sched_execute(gort__m_t *m, gort__g_t *gp);
/* Tear-down after a run: every G left is reclaimed (gort_main's return). */
void gort__sched_gc_leftovers(void);
/* Move p's free Gs to the global pools (P destroyed). */
void gort__sched_gfpurge(gort__p_t *p);
/* Walk every G struct ever made (dumps, tear-down). */
void gort__sched_forallg(void (*fn)(gort__g_t *gp, void *arg), void *arg);

/* ---- runq.c: run queues ------------------------------------------------------------------- */
/* true: the queue was full and half of it went to the global queue */
bool       gort__sched_runqput(gort__p_t *p, gort__g_t *gp, bool next);
void       gort__sched_runqput_head(gort__p_t *p, gort__g_t *gp);   /* oldest end (yield) */
gort__g_t *gort__sched_runqget(gort__p_t *p);        /* runnext, then newest */
gort__g_t *gort__sched_runqget_oldest(gort__p_t *p); /* fairness: the head */
bool       gort__sched_runqempty(gort__p_t *p);
uint32_t   gort__sched_runqsize(gort__p_t *p);
gort__g_t *gort__sched_runqsteal(gort__p_t *p, gort__p_t *victim, bool stealnext);
/* Global queue, under sched.lock. */
void       gort__sched_globrunqput_locked(gort__g_t *gp);
void       gort__sched_globrunqputbatch_locked(gort__g_t *head, gort__g_t *tail, int32_t n);
gort__g_t *gort__sched_globrunqget_locked(gort__p_t *p, int32_t max);

/* One P (sched.c, "One P"): the owner's operations on its own queue, plain
 * loads and stores, inline on the channel and yield paths (runq.c has the
 * layout; the queue's head and tail share runqw). */
#define RQ_TAIL(w) ((uint16_t)(w))
#define RQ_HEAD(w) ((uint16_t)((w) >> 16))
#define RQ_TAG(w)  ((uint32_t)((w) >> 32))
#define RQ_MAKE(tag, h, t) (((uint64_t)(uint32_t)(tag) << 32) | ((uint64_t)(uint16_t)(h) << 16) | (uint16_t)(t))
#define RQ_SLOT(p, i) (&(p)->runq[(uint16_t)(i) % RUNQ_SIZE])
/* runnext, else the newest. */
GORT_INLINE gort__g_t *gort__sched_runqget_single(gort__p_t *p) {
    gort__g_t *next = atomic_load_explicit(&p->runnext, memory_order_relaxed);
    if (next) {
        atomic_store_explicit(&p->runnext, NULL, memory_order_relaxed);
        return next;
    }
    uint64_t w = atomic_load_explicit(&p->runqw, memory_order_relaxed);
    uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
    if (h == t)
        return NULL;
    atomic_store_explicit(&p->runqw, RQ_MAKE(RQ_TAG(w) + 1, h, t - 1), memory_order_relaxed);
    return atomic_load_explicit(RQ_SLOT(p, t - 1), memory_order_relaxed);
}
GORT_INLINE bool gort__sched_runqempty_single(gort__p_t *p) {
    uint64_t w = atomic_load_explicit(&p->runqw, memory_order_relaxed);
    return RQ_HEAD(w) == RQ_TAIL(w) && !atomic_load_explicit(&p->runnext, memory_order_relaxed);
}
/* gp to the oldest end; false if the queue is full. */
GORT_INLINE bool gort__sched_runqput_head_single(gort__p_t *p, gort__g_t *gp) {
    uint64_t w = atomic_load_explicit(&p->runqw, memory_order_relaxed);
    uint16_t h = RQ_HEAD(w), t = RQ_TAIL(w);
    if ((uint16_t)(t - h) >= RUNQ_SIZE)
        return false;
    atomic_store_explicit(RQ_SLOT(p, h - 1), gp, memory_order_relaxed);
    atomic_store_explicit(&p->runqw, RQ_MAKE(RQ_TAG(w) + 1, h - 1, t), memory_order_relaxed);
    return true;
}

/* ---- time.c: timers ---------------------------------------------------------------------- */
enum { TIMER_IDLE = 0, TIMER_QUEUED = 1, TIMER_RUNNING = 2 };
struct gort__timer {
    int64_t     when;               /* monotonic ns (gort__nanotime) */
    /* Runs on an M holding runp, no lock held, once `when` has passed; it must
     * not block (it readies goroutines, or sends without blocking). */
    void      (*f)(gort__p_t *runp, void *arg, int64_t now);
    void       *arg;
    gort__p_t  *pp;                 /* the P whose heap holds it (under pp->timerslock) */
    int32_t     idx;                /* its heap index, -1 when not queued */
    _Atomic uint32_t state;         /* TIMER_*: deltimer waits while RUNNING */
    bool        on_gstack;          /* lives on the stack of the G f readies (a sleep): not
                                     * touched once f ran, and never deltimer'd */
};
/* Queue t (when, f, arg set) on p's heap; p is the caller's. */
void    gort__sched_addtimer(gort__p_t *p, gort__timer_t *t);
/* Unqueue t: true if it had not fired; waits for a running f to finish. */
bool    gort__sched_deltimer(gort__timer_t *t);
/* Run p's due timers (now = 0: read the clock if needed); returns the time
 * read (or 0) and sets *next to p's next timer (0: none). */
int64_t gort__sched_checktimers(gort__p_t *runp, gort__p_t *p, int64_t now, int64_t *next);
/* The earliest timer over all Ps, 0 if none. */
int64_t gort__sched_timesleepuntil(void);
/* A run ended: forget every queued timer (they belong to abandoned goroutines). */
void    gort__sched_timers_reset(void);

/* ---- netpoll.c: the network poller --------------------------------------------------------- */
bool    gort__sched_netpoll_inited(void);
void    gort__sched_netpoll_init(void);
/* Poll: delay < 0 blocks, 0 does not, > 0 waits at most delay ns.  Returns
 * the goroutines made ready (a schedlink list), not yet queued. */
gort__g_t *gort__sched_netpoll(int64_t delay);
/* Wake an M blocked in gort__sched_netpoll. */
void    gort__sched_netpoll_break(void);
/* A timer at `when` was queued: make sure a poller will wake for it (Go's
 * wakeNetPoller). */
void    gort__sched_wakenetpoller(int64_t when);
/* A run ended: forget the goroutines parked on descriptors. */
void    gort__sched_netpoll_reset(void);
/* fork's child, outside gort_main: a poller of its own. */
void    gort__sched_netpoll_forkchild(void);

/* ---- sysmon.c: system calls, sysmon, preemption requests ------------------------------------ */
void gort__sched_sysmon_start(void);
void gort__sched_sysmon_stop(void);
/* An M took a P: wake sysmon if it sleeps for an idle process. */
void gort__sched_sysmon_wake(void);
GORT_INLINE void gort__sched_sysmon_wake_check(void) {
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__sched.sysmonwait, memory_order_relaxed)))
        gort__sched_sysmon_wake();
}
/* An M is about to be made: past the thread cap, a fatal error. */
void gort__sched_checkmcount_locked(void);

/* ---- preempt.c: forced preemption ----------------------------------------------------------- */
/* Install the handler; learn the program's text (once per gort_main). */
void gort__sched_preempt_init(void);
/* The signal mask goroutines run with (gort_main's, less what the Ms unblock):
 * the preemption handler does not switch out code that blocks more. */
void gort__sched_preempt_base_mask(const sigset_t *usual);
/* Signal m (its G has run too long): the handler switches it out if it is at
 * a safe place, else leaves the flag for the next safe point. */
void gort__sched_preempt_m(gort__m_t *m);
/* Whether pc is in the program's own code, where the signal may switch a
 * goroutine out (sched/preempt.c; set up by gort_main). */
bool gort__sched_preempt_pc(uintptr_t pc);

/* ---- trace.c: schedtrace, dumps, the deadlock report, events ------------------------------ */
void gort__sched_trace_start(void);
void gort__sched_trace_stop(void);
void gort__sched_schedtrace(bool detailed);
GORT_NORETURN GORT_COLD void gort__sched_deadlock(void);
/* Goroutine-naming fatal error: "fatal error: <msg>" then the goroutine dump. */
GORT_NORETURN GORT_COLD GORT_PRINTF(1, 2) void gort__sched_throw(const char *fmt, ...);

/* Events (per-P rings, off by default: one predictable branch). */
enum {
    EV_GO_CREATE = 1, EV_GO_START, EV_GO_BLOCK, EV_GO_UNBLOCK, EV_GO_END,
    EV_GO_YIELD, EV_PROC_START, EV_PROC_STOP, EV_STEAL,
};
extern bool gort__sched_tracing;
void gort__sched_event_slow(gort__p_t *p, int ev, uint64_t goid, uint64_t arg);
GORT_INLINE void gort__sched_event(gort__p_t *p, int ev, uint64_t goid, uint64_t arg) {
    if (GORT_UNLIKELY(LOAD(gort__sched_tracing)))
        gort__sched_event_slow(p, ev, goid, arg);
}

/* ---- the switch (inline: every frame between a goroutine's code and
 * gort_ctx_switch costs a mispredicted return after each switch, since the
 * return stack buffer holds the other goroutine's calls) ---- */

/* gp is about to run for the first time: its stack and context (g.c). */
void gort__sched_take_stack(gort__p_t *p, gort__g_t *gp);
typedef struct {
    void (*unlockf)(void *);
    void *arg;
} gort__sched_park_ctx_t;
void gort__sched_after_unlock(gort__m_t *m, gort__g_t *prev, void *arg);

/* from is the running context (a G or the M's g0), to the one to resume.  The
 * M's deferred action (m->after) is set by the caller; the context resumed
 * runs it.  Returns when something switches back to `from`, possibly on
 * another M. */
GORT_INLINE void gort__sched_switch_prep(gort__m_t *m, gort__g_t *to) {
    if (to != &m->g0) {
        to->m = m;
        STORE(to->status, G_RUNNING);
        STOREREL(m->curg, to);   /* sysmon reads it (acquire) to flag the G */
        m->gct->gscan = &to->scancycle;   /* its stack's colour, for the barrier */
        STORE(to->preempt, 0);
        BUMP(m->p->st.switches, 1);
        gort__sched_event(m->p, EV_GO_START, to->goid, 0);
    } else {
        STORE(m->curg, NULL);
        m->gct->gscan = NULL;
    }
}
/* gort_ctx_switch, entered with a jump after pushing the return address
 * rather than with a call.  The switch resumes the other context with an
 * indirect jump, so a call's entry in the CPU's return-stack predictor would
 * never be consumed: the resumed goroutine's next return would be predicted
 * to it (wrong), and every later return one entry off.  Without it the
 * predictor's stack stays in step with the goroutine's calls: a goroutine
 * resumed by one that switched at the same call site (two yielders, two
 * parties parking in the same channel operation) returns exactly where the
 * predictor says (sched.c, "Switching").  The red zone below
 * the stack pointer is stepped over first.  Sanitizer builds (whose
 * gort_ctx_switch is C code that tells them about the switch) and other
 * architectures use the call. */
GORT_INLINE void gort__sched_ctx_switch(gort_ctx_t *from, gort_ctx_t *to) {
#if defined(__x86_64__) && !GORT_STACK_SANITIZED
    /* sp as an operand (the Linux kernel's ASM_CALL_CONSTRAINT) tells the
     * compiler that the asm calls: its frame is set up, the stack aligned as
     * at a call site, before it. */
    register uintptr_t sp __asm__("rsp");
    __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "jmp gort_ctx_switch@PLT\n"
                     "1:\n\t"
                     "leaq 128(%%rsp), %%rsp"
                     : "+D"(from), "+S"(to), "+r"(sp)
                     :
                     : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc",
                       "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#ifdef __AVX512F__
                       , "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
                       "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
                       "k1", "k2", "k3", "k4", "k5", "k6", "k7"
#endif
                     );
#else
    gort_ctx_switch(from, to);
#endif
}
/* The collector's part of a switch while goroutine stacks are being scanned
 * (sched/gcscan.c). */
void gort__sched_gc_switch(gort__m_t *m, gort__g_t *from, gort__g_t *to);
/* gp was just made by a goroutine on m: during a mark its start argument is
 * shaded and its (empty) stack counts as scanned. */
void gort__sched_gc_newg(gort__m_t *m, gort__g_t *gp);
uint64_t gort__sched_gc_shrunk_bytes(void);
/* A switch is one critical section of the collector's (include/gort/internal/
 * gcsched.h): an M is never stopped half-way through one, so a stopped M's
 * stack pointer is on the stack of m->curg, or on its own when that is NULL.
 * The section is left on the resumed side, on whatever M resumed it. */
GORT_INLINE void gort__sched_switch_to(gort__m_t *m, gort__g_t *from, gort__g_t *to) {
    if (GORT_UNLIKELY(to != &m->g0 && !to->started))
        gort__sched_take_stack(m->p, to);   /* allocates: before the critical section */
    gort__gcm_enter(m->gct);
    gort__sched_switch_prep(m, to);
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_gscan_on, memory_order_relaxed)))
        gort__sched_gc_switch(m, from, to);
    gort__sched_ctx_switch(&from->ctx, &to->ctx);
    gort__gcm_exit(from->m->gct);   /* from->m: set by whoever resumed it (g0's is its M) */
}

/* The next G this M may switch to directly from a goroutine, without a trip
 * through g0: runnext or the newest of the local queue.  Every 61st schedule,
 * or when the scheduler is stopping, NULL: g0's schedule() then looks at the
 * global queue and the oldest local G (fairness), or stops. */
GORT_INLINE gort__g_t *gort__sched_next_direct(gort__m_t *m) {
    gort__p_t *p = m->p;
    uint32_t tick = p->schedtick + 1;
    if (GORT_UNLIKELY(tick % 61 == 0 || LOAD(gort__sched.stopping)))
        return NULL;
    /* During a mark, every 8th switch goes through schedule() too: it is where a
     * P takes its share of the background marking (gc/mark.c). */
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_pmark, memory_order_relaxed)) && tick % 8 == 0)
        return NULL;
    gort__g_t *gp = gort__sched_single() ? gort__sched_runqget_single(p) : gort__sched_runqget(p);
    if (gp)
        STORE(p->schedtick, tick);
    return gp;
}

GORT_INLINE void gort__sched_switch_away(gort__m_t *m, gort__g_t *gp) {
    gort__g_t *next = gort__sched_next_direct(m);
    gort__sched_switch_to(m, gp, next ? next : &m->g0);
    gort__sched_after_switch(gp->m);
}

/* Park the calling goroutine gp (status WAITING, reason, on `on`); after it is
 * off its stack, the next context calls unlockf(arg) (e.g. releasing the
 * channel lock the caller still holds).  Returns once some ready(gp) ran and
 * an M switched back to it -- possibly on another thread: use gp->m. */
GORT_INLINE void gort__sched_park(gort__g_t *gp, gort__waitreason_t reason, const void *on,
                                  void (*unlockf)(void *), void *arg) {
    gort__m_t *m = gp->m;
    gort__sched_park_ctx_t ctx = {unlockf, arg};   /* on gp's stack: it stays put while parked */
    gp->waitreason = (uint8_t)reason;
    gp->waiting_on = on;
    STORE(gp->status, G_WAITING);
    BUMP(m->p->st.parks, 1);
    gort__sched_event(m->p, EV_GO_BLOCK, gp->goid, (uint64_t)reason);
    if (unlockf) {
        m->after = gort__sched_after_unlock;
        m->after_g = gp;
        m->after_arg = &ctx;
    }
    gort__sched_switch_away(m, gp);
    gp->waiting_on = NULL;
}
/* gort__sched_ready(gp) from the running goroutine self: at one P, inline --
 * gp into runnext, the old runnext to the queue, and no wakep (the one P is
 * self's: no P is idle). */
GORT_INLINE void gort__sched_ready_from(gort__g_t *self, gort__g_t *gp) {
    if (!gort__sched_single()) {
        gort__sched_ready(gp);
        return;
    }
    gort__p_t *p = self->m->p;
    GORT_DASSERT(LOAD(gp->status) == G_WAITING);
    STORE(gp->status, G_RUNNABLE);
    gort__sched_event(p, EV_GO_UNBLOCK, gp->goid, self->goid);
    gort__g_t *old = atomic_load_explicit(&p->runnext, memory_order_relaxed);
    atomic_store_explicit(&p->runnext, gp, memory_order_relaxed);
    if (old)
        gort__sched_runqput(p, old, false);
}

/* Go's sync_runtime_canSpin: a blocked goroutine may spin a little (iter of
 * 4 rounds) rather than park when other Ps run (one of them may be about to
 * let it through) and its own P has nothing else to run. */
GORT_INLINE bool gort__sched_can_spin(int iter) {
    if (iter >= 4)
        return false;
    int32_t procs = gort__sched.gomaxprocs;
    if (procs <= 1 ||
        procs <= atomic_load_explicit(&gort__sched.npidle, memory_order_relaxed) +
                     atomic_load_explicit(&gort__sched.nmspinning, memory_order_relaxed) + 1)
        return false;
    gort__g_t *gp = gort__sched_getg();
    return gp && gort__sched_runqempty(gp->m->p);
}

/* One round of that spinning. */
GORT_INLINE void gort__sched_spin_round(void) {
    for (int i = 0; i < 30; i++)
        gort__cpu_relax();
}

/* The first goroutine of a list chained through schedlink, unlinked; NULL
 * when the list is empty. */
GORT_INLINE gort__g_t *gort__sched_glist_pop(gort__g_t **list) {
    gort__g_t *gp = *list;
    if (gp) {
        *list = gp->schedlink;
        gp->schedlink = NULL;
    }
    return gp;
}

/* ---- sema.c: the runtime's semaphores (for sync.c) ---------------------------------------- */
void gort__sched_semacquire(uint32_t *addr, bool lifo, gort__waitreason_t reason, const void *obj);
void gort__sched_semrelease(uint32_t *addr, bool handoff);
/* Cond's notify list (Go's notifyList). */
uint32_t gort__sched_notify_add(gort_cond_t *c);
void gort__sched_notify_wait(gort_cond_t *c, uint32_t ticket);
void gort__sched_notify_one(gort_cond_t *c);
void gort__sched_notify_all(gort_cond_t *c);

/* ---- chan.c ------------------------------------------------------------------------------- */
/* A buffered channel's buffer is a ring of slots, each a sequence word and
 * then the element (chan.c's header tells the protocol).  Positions count
 * from 0 and never wrap (2^62 operations at one a nanosecond is 146 years).
 * The sequence word of the slot for position p is 2p while free for p's send,
 * 2p + 1 once p's value is published, and 2(p + cap) once it is received. */
#define CHAN_CLOSED ((uint64_t)1 << 63)   /* in tail: closed, no send gets a position */

struct gort_chan {
    /* The wait queues; the constants. */
    gort__lock_t  rank;             /* GORT_RANK_CHAN: names the lock for the rank checks (its
                                     * state is unused: the lock is qword's bit) */
    uint32_t      closed;           /* also CHAN_CLOSED in tail when buffered (LOAD for the dump) */
    size_t        dataqsiz;         /* cap, constant */
    size_t        elemsize;         /* constant */
    size_t        stride;           /* buffered: bytes per slot, constant */
    size_t        mask;             /* buffered: cap - 1 when cap is a power of two, else SIZE_MAX */
    char         *buf;              /* buffered: the ring, after the struct */
    struct { gort__sudog_t *first, *last; } recvq, sendq;
    gort__timer_t *timer;           /* gort_after's channel: its timer (cancelled by gort_chan_free) */
    struct gort_chan *gcnext, *gcprev;   /* buffered: the collector's list (sched/gcscan.c) */
    /* Taken by every wait, read by every buffered operation: the lock (it
     * guards the queues and closed) and, when buffered, the number of sudogs
     * in recvq and sendq (CHAN_Q*; changed under the lock). */
    _Alignas(64) _Atomic uint64_t qword;
    /* The receivers' position, and the senders' (each with its own line). */
    _Alignas(64) _Atomic uint64_t head;   /* the next position to receive */
    _Alignas(64) _Atomic uint64_t tail;   /* the next position to send into, | CHAN_CLOSED */
};
#define CHAN_QLOCKED   ((uint64_t)1)          /* qword: the lock */
#define CHAN_QRECV1    ((uint64_t)2)          /* qword: one receiver queued (bits 1-31) */
#define CHAN_QSEND1    ((uint64_t)1 << 32)    /* qword: one sender queued (bits 32-63) */
#define CHAN_QNRECV(w) ((uint32_t)((w) >> 1) & 0x7fffffffu)
#define CHAN_QNSEND(w) ((uint32_t)((w) >> 32))

/* Take c's lock and, in the same sequentially consistent read-modify-write,
 * add add to the waiter counts (a waiter's half of chan.c's handshake costs
 * no second atomic).  A spin lock: its holders run a few dozen instructions
 * and never sleep, so unlocking is a plain store -- no read-modify-write and
 * no waiter to wake.  The runtime's code only: inlined into the program's
 * text, the lock could be held where the signal preempts (debug builds die
 * there); a test counts the queues with gort__sched_chan_nwaiting. */
void gort__sched_chan_lock_slow(gort_chan_t *c, uint64_t add);
GORT_INLINE void gort__sched_chan_lock(gort_chan_t *c, uint64_t add) {
    gort__lockrank_acquire(&c->rank);
    uint64_t w = atomic_load_explicit(&c->qword, memory_order_relaxed) & ~CHAN_QLOCKED;
    if (GORT_UNLIKELY(!atomic_compare_exchange_strong_explicit(&c->qword, &w, (w | CHAN_QLOCKED) + add,
                                                               memory_order_seq_cst, memory_order_relaxed)))
        gort__sched_chan_lock_slow(c, add);
}

GORT_INLINE void gort__sched_chan_unlock(gort_chan_t *c) {
    gort__lockrank_release(&c->rank);
    /* Only the holder writes qword while it is locked. */
    uint64_t w = atomic_load_explicit(&c->qword, memory_order_relaxed);
    atomic_store_explicit(&c->qword, w & ~CHAN_QLOCKED, memory_order_release);
}

int gort__sched_chan_nwaiting(gort_chan_t *c, bool send);   /* sudogs in sendq (recvq), under the lock */

/* The receivers (senders) counted as waiting on a buffered channel. */
GORT_INLINE uint32_t gort__sched_chan_nrecvq(gort_chan_t *c, memory_order mo) {
    return CHAN_QNRECV(atomic_load_explicit(&c->qword, mo));
}
GORT_INLINE uint32_t gort__sched_chan_nsendq(gort_chan_t *c, memory_order mo) {
    return CHAN_QNSEND(atomic_load_explicit(&c->qword, mo));
}

/* Buffered channels are roots: their buffers are scanned once per cycle. */
void gort__sched_gc_chan_add(gort_chan_t *c);
void gort__sched_gc_chan_remove(gort_chan_t *c);
void gort__sched_waitq_enqueue(gort_chan_t *c, bool send, gort__sudog_t *sg);
void gort__sched_waitq_link(gort_chan_t *c, bool send, gort__sudog_t *sg);
void gort__sched_waitq_remove(gort_chan_t *c, bool send, gort__sudog_t *sg);
/* The parts of send and receive select shares (c locked; they unlock it). */
void gort__sched_chan_send_to(gort_chan_t *c, gort__sudog_t *sg, const void *ep, gort__g_t *self);
void gort__sched_chan_recv_from(gort_chan_t *c, gort__sudog_t *sg, void *ep, gort__g_t *self);
gort__sudog_t *gort__sched_waitq_dequeue(gort_chan_t *c, bool send);
GORT_NORETURN GORT_COLD void gort__sched_chan_closed_send(gort_chan_t *c, gort__g_t *gp);
void gort__sched_chan_copy(gort_chan_t *c, void *dst, const void *src);

/* Move a position (tail or head) from *p to *p + 1: a compare-and-swap, or at
 * one P a plain store; false (with *p reloaded) if another operation moved it. */
GORT_INLINE bool gort__sched_chan_advance(_Atomic uint64_t *pos, uint64_t *p) {
    if (gort__sched_single()) {
        atomic_store_explicit(pos, *p + 1, memory_order_relaxed);
        return true;
    }
    return atomic_compare_exchange_weak_explicit(pos, p, *p + 1, memory_order_seq_cst, memory_order_relaxed);
}

GORT_INLINE char *gort__sched_chan_slot(gort_chan_t *c, uint64_t pos) {
    return c->buf + (c->mask != SIZE_MAX ? (size_t)pos & c->mask : (size_t)(pos % c->dataqsiz)) * c->stride;
}
#define CHAN_SEQ(s)  ((_Atomic uint64_t *)(void *)(s))
#define CHAN_ELEM(s) ((s) + sizeof(uint64_t))

/* gort__sched_chan_copy (chan.c), with the common 8-byte element inline: a
 * buffered operation at P=1 is a few nanoseconds, and the call was one of
 * them. */
GORT_INLINE void gort__sched_chan_copy_inl(gort_chan_t *c, void *dst, const void *src) {
    if (GORT_LIKELY(c->elemsize == sizeof(uint64_t) && dst && src)) {
        memcpy(dst, src, sizeof(uint64_t));
        atomic_signal_fence(memory_order_seq_cst);   /* the check after the copy (chan.c) */
        if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_gscan_on, memory_order_relaxed)))
            gort__gc_shade_words(dst, sizeof(uint64_t));
        return;
    }
    gort__sched_chan_copy(c, dst, src);
}

/* A send into the ring, lock-free (any number of senders and receivers at
 * once; at one P plain stores): true, or false when the ring is full
 * (*closed = false) or the channel closed (*closed = true). */
GORT_INLINE bool gort__sched_chan_push(gort_chan_t *c, const void *ep, bool *closed) {
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    for (;;) {
        if (GORT_UNLIKELY(t & CHAN_CLOSED)) {
            *closed = true;
            return false;
        }
        char *s = gort__sched_chan_slot(c, t);
        uint64_t q = atomic_load_explicit(CHAN_SEQ(s), memory_order_acquire);
        if (q != 2 * t) {
            /* The last lap's value still there (or its receive in flight): full;
             * else t is stale. */
            if ((int64_t)(q - 2 * t) < 0) {
                *closed = false;
                return false;
            }
            t = atomic_load_explicit(&c->tail, memory_order_relaxed);
            continue;
        }
        if (!gort__sched_chan_advance(&c->tail, &t))
            continue;
        gort__sched_chan_copy_inl(c, CHAN_ELEM(s), ep);
        atomic_store_explicit(CHAN_SEQ(s), 2 * t + 1, memory_order_release);
        return true;
    }
}

/* A receive from the ring, lock-free: the oldest value into ep (NULL:
 * dropped), its slot cleared for the collector (Go's typedmemclr) and freed;
 * false when nothing is published at head. */
GORT_INLINE bool gort__sched_chan_pop(gort_chan_t *c, void *ep) {
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    for (;;) {
        char *s = gort__sched_chan_slot(c, h);
        uint64_t q = atomic_load_explicit(CHAN_SEQ(s), memory_order_acquire);
        if (q != 2 * h + 1) {
            if ((int64_t)(q - (2 * h + 1)) < 0)
                return false;   /* not sent yet, or its send in flight */
            h = atomic_load_explicit(&c->head, memory_order_relaxed);   /* stale */
            continue;
        }
        if (!gort__sched_chan_advance(&c->head, &h))
            continue;
        char *e = CHAN_ELEM(s);
        gort__sched_chan_copy_inl(c, ep, e);
        if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_inited, memory_order_relaxed))) {
            if (c->elemsize == sizeof(uint64_t))   /* the common size without a call */
                memset(e, 0, sizeof(uint64_t));
            else
                memset(e, 0, c->elemsize);
        }
        atomic_store_explicit(CHAN_SEQ(s), 2 * (h + c->dataqsiz), memory_order_release);
        return true;
    }
}

/* After a failed pop: a send holds a position it has not published yet.
 * (Sequentially consistent: the receiver's half of chan.c's handshake.) */
GORT_INLINE bool gort__sched_chan_send_inflight(gort_chan_t *c) {
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_seq_cst) & ~CHAN_CLOSED;
    return t != atomic_load_explicit(&c->head, memory_order_seq_cst);
}

/* After a failed push: a receive holds a position whose slot it has not
 * freed yet.  (The sender's half.) */
GORT_INLINE bool gort__sched_chan_recv_inflight(gort_chan_t *c) {
    uint64_t h = atomic_load_explicit(&c->head, memory_order_seq_cst);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_seq_cst) & ~CHAN_CLOSED;
    return t - h < c->dataqsiz;
}

/* A waiter's second half of the handshake (counted as waiting, c locked):
 * whether to try again rather than park -- the channel closed, or an
 * operation of the other side (send: a receive) is in flight. */
GORT_INLINE bool gort__sched_chan_wait_recheck(gort_chan_t *c, bool send) {
    return (atomic_load_explicit(&c->tail, memory_order_seq_cst) & CHAN_CLOSED) ||
           (send ? gort__sched_chan_recv_inflight(c) : gort__sched_chan_send_inflight(c));
}

/* Buffered, c locked: hand a value to the first waiting receiver, or a free
 * slot to the first waiting sender (chan.c); goroutines to ready onto *list. */
void gort__sched_chan_handoff(gort_chan_t *c, bool to_sender, gort__g_t **list);

/* Wait, briefly, for an operation in flight on c to finish (the runtime's
 * code is never preempted, but its thread may be: then yield). */
void gort__sched_chan_spin(int *i);

#endif
