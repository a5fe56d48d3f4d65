/* Seeing the scheduler: schedtrace lines, goroutine dumps, the deadlock
 * report, fatal errors that name a goroutine, and the per-P event rings.
 * The design essay is at the top of sched/sched.c ("Observability"). */
#include "sched/internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a line buffer that never allocates ---------------------------------------------------- */

typedef struct {
    char buf[4096];
    size_t n;
} out_t;

static void flush(out_t *o) {
    gort__write_all(2, o->buf, o->n);
    o->n = 0;
}

GORT_PRINTF(2, 3) static void outf(out_t *o, const char *fmt, ...) {
    va_list ap;
    for (int tries = 0; tries < 2; tries++) {
        size_t room = sizeof o->buf - o->n;
        va_start(ap, fmt);
        int k = vsnprintf(o->buf + o->n, room, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if ((size_t)k < room) {
            o->n += (size_t)k;
            return;
        }
        if (o->n == 0) {   /* longer than the buffer: truncated */
            o->n = sizeof o->buf - 1;
            return;
        }
        flush(o);
    }
}

/* ---- goroutine dumps ---------------------------------------------------------------------------- */

static const char *status_str(uint32_t st) {
    switch (st) {
    case G_IDLE: return "idle";
    case G_RUNNABLE: return "runnable";
    case G_RUNNING: return "running";
    case G_SYSCALL: return "syscall";
    case G_WAITING: return "waiting";
    case G_DEAD: return "dead";
    default: return "?";
    }
}

static void dump_g(gort__g_t *gp, void *arg) {
    out_t *o = arg;
    uint32_t st = LOAD(gp->status);
    if (st == G_DEAD || st == G_IDLE)
        return;
    uint8_t wr = LOAD(gp->waitreason);
    const char *what = st == G_WAITING && wr < WAIT_N ? gort__sched_waitreason_str[wr] : status_str(st);
    outf(o, "\ngoroutine %llu [%s", (unsigned long long)LOAD(gp->goid), what);
    outf(o, "]:\n");
    const void *on = gp->waiting_on;
    if (st == G_WAITING) {
        switch (wr) {
        case WAIT_CHAN_RECV:
        case WAIT_CHAN_SEND: {
            const gort_chan_t *c = on;
            outf(o, "\twaiting on chan %p (elem %zu bytes, len %zu, cap %zu%s)\n", on, c->elemsize,
                 gort_chan_len((gort_chan_t *)c), c->dataqsiz, LOAD(c->closed) ? ", closed" : "");
            if (c->dataqsiz)
                outf(o, "\t\tring: head %llu, tail %llu; waiting: %u receivers, %u senders\n",
                     (unsigned long long)atomic_load(&((gort_chan_t *)c)->head),
                     (unsigned long long)(atomic_load(&((gort_chan_t *)c)->tail) & ~CHAN_CLOSED),
                     gort__sched_chan_nrecvq((gort_chan_t *)c, memory_order_relaxed), gort__sched_chan_nsendq((gort_chan_t *)c, memory_order_relaxed));
            break;
        }
        case WAIT_CHAN_RECV_NIL:
        case WAIT_CHAN_SEND_NIL: outf(o, "\twaiting on nil chan, forever\n"); break;
        case WAIT_SELECT: outf(o, "\twaiting in select\n"); break;
        case WAIT_SELECT_NO_CASES: outf(o, "\twaiting in select with no cases, forever\n"); break;
        case WAIT_MUTEX: outf(o, "\twaiting on gort_mutex_t %p\n", on); break;
        case WAIT_RWMUTEX_R:
        case WAIT_RWMUTEX_W: outf(o, "\twaiting on gort_rwmutex_t %p\n", on); break;
        case WAIT_WAITGROUP: outf(o, "\twaiting on gort_waitgroup_t %p\n", on); break;
        case WAIT_COND: outf(o, "\twaiting on gort_cond_t %p\n", on); break;
        case WAIT_SLEEP: outf(o, "\tsleeping\n"); break;
        case WAIT_IO: outf(o, "\twaiting on fd %d\n", (int)(intptr_t)on); break;
        default: if (on) outf(o, "\twaiting on %p\n", on); break;
        }
    }
    Dl_info info;
    void *fn = (void *)(uintptr_t)gp->fn;
    if (fn && dladdr(fn, &info) && info.dli_sname)
        outf(o, "\tstarted as %s(%p) [%p]\n", info.dli_sname, gp->arg, fn);
    else if (fn)
        outf(o, "\tstarted as %p(%p)\n", fn, gp->arg);
    if (gp->stack.lo)
        outf(o, "\tstack [%p, %p) size %zu\n", gp->stack.lo, gp->stack.hi, gp->stack.size);
}

static void dump_all(out_t *o) {
    gort__sched_forallg(dump_g, o);
}

void gort__sched_deadlock(void) {
    out_t o = {.n = 0};
    outf(&o, "fatal error: all goroutines are asleep - deadlock!\n");
    dump_all(&o);
    flush(&o);
    _exit(2);
}

void gort__sched_throw(const char *fmt, ...) {
    out_t o = {.n = 0};
    outf(&o, "fatal error: ");
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o.buf + o.n, sizeof o.buf - o.n - 1, fmt, ap);
    va_end(ap);
    if (k > 0)
        o.n += (size_t)k < sizeof o.buf - o.n - 1 ? (size_t)k : sizeof o.buf - o.n - 2;
    outf(&o, "\n");
    gort__g_t *gp = gort__sched_getg();
    if (gp) {
        outf(&o, "\ngoroutine %llu [running]:\n", (unsigned long long)gp->goid);
        void *fn = (void *)(uintptr_t)gp->fn;
        Dl_info info;
        if (fn && dladdr(fn, &info) && info.dli_sname)
            outf(&o, "\tstarted as %s(%p) [%p]\n", info.dli_sname, gp->arg, fn);
        else if (fn)
            outf(&o, "\tstarted as %p(%p)\n", fn, gp->arg);
    }
    flush(&o);
    abort();
}

/* ---- schedtrace ------------------------------------------------------------------------------------ */

static void detail_g(gort__g_t *gp, void *arg) {
    out_t *o = arg;
    uint32_t st = LOAD(gp->status);
    if (st == G_IDLE)
        return;
    uint8_t wr = LOAD(gp->waitreason);
    gort__m_t *m = LOAD(gp->m);
    outf(o, "  G%llu: status=%u(%s) m=%lld lockedm=-1\n", (unsigned long long)LOAD(gp->goid), st,
         st == G_WAITING && wr < WAIT_N ? gort__sched_waitreason_str[wr] : "",
         st == G_RUNNING && m ? (long long)m->id : -1LL);
}

void gort__sched_schedtrace(bool detailed) {
    out_t o = {.n = 0};
    int64_t ms = (gort__nanotime() - gort__sched.start_time) / 1000000;
    int32_t procs = gort__sched.gomaxprocs;
    lock(&gort__sched.lock);
    outf(&o, "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d "
             "runqueue=%d",
         (long long)ms, procs, atomic_load(&gort__sched.npidle), gort__sched.mcount,
         atomic_load(&gort__sched.nmspinning), gort__sched.nmidle, atomic_load(&gort__sched.runqsize));
    if (detailed) {
        outf(&o, " gcwaiting=0 nmidlelocked=0 stopwait=%d sysmonwait=0\n", LOAD(gort__sched.stopping));
        for (int32_t i = 0; i < procs; i++) {
            gort__p_t *p = gort__sched.allp[i];
            gort__m_t *m = LOAD(p->m);
            outf(&o, "  P%d: status=%u schedtick=%u syscalltick=%u m=%lld runqsize=%u gfreecnt=%d timerslen=%d\n",
                 i, LOAD(p->status), LOAD(p->schedtick), LOAD(p->syscalltick), m ? (long long)m->id : -1LL,
                 gort__sched_runqsize(p), LOAD(p->n_gfree_stack) + LOAD(p->n_gfree_nostack),
                 LOAD(p->ntimers));
        }
        for (gort__m_t *m = gort__sched.allm; m; m = m->alllink) {
            gort__p_t *p = LOAD(m->p);
            gort__g_t *g = LOAD(m->curg);
            outf(&o, "  M%lld: p=%d curg=%lld mallocing=0 throwing=0 preemptoff= locks=0 dying=0 "
                     "spinning=%s blocked=%s lockedg=-1\n",
                 (long long)m->id, p ? p->id : -1, g ? (long long)LOAD(g->goid) : -1LL,
                 LOAD(m->spinning) ? "true" : "false",
                 atomic_load_explicit(&m->park, memory_order_relaxed) == 0 && !p ? "true" : "false");
        }
        unlock(&gort__sched.lock);
        gort__sched_forallg(detail_g, &o);
    } else {
        outf(&o, " [");
        for (int32_t i = 0; i < procs; i++)
            outf(&o, "%s%u", i ? " " : "", gort__sched_runqsize(gort__sched.allp[i]));
        outf(&o, "]\n");
        unlock(&gort__sched.lock);
    }
    flush(&o);
}

bool gort__sched_tracing;

/* schedtrace lines are printed by sysmon (sysmon.c). */
void gort__sched_trace_start(void) {
    STORE(gort__sched_tracing, gort__settings.trace != 0);   /* Ms of the last run may still read it */
}

void gort__sched_trace_stop(void) {
}

/* ---- event rings ------------------------------------------------------------------------------------
 * Per P, the last EV_RING events: {time, event, goroutine, argument}, written
 * by the P's owner only.  The record is a Chrome/Perfetto trace event in all
 * but spelling: ts, a name from the event number, tid = the P.  An exporter
 * (a later issue) reads the rings with gort__sched_events. */
enum { EV_RING = 4096 };
typedef struct gort__trace_ev {
    int64_t  ts;
    uint32_t ev;
    uint32_t p;
    uint64_t goid;
    uint64_t arg;
} gort__trace_ev_t;
struct gort__trace_ring {
    uint64_t n;                      /* events ever written (owner; LOAD by readers) */
    gort__trace_ev_t ev[EV_RING];
};

void gort__sched_event_slow(gort__p_t *p, int ev, uint64_t goid, uint64_t arg) {
    if (!p)
        return;
    struct gort__trace_ring *r = p->trace;
    if (!r) {
        r = gort_calloc(1, sizeof *r);
        if (!r)
            return;
        STOREREL(p->trace, r);
    }
    gort__trace_ev_t *e = &r->ev[r->n % EV_RING];
    e->ts = gort__nanotime();
    e->ev = (uint32_t)ev;
    e->p = (uint32_t)p->id;
    e->goid = goid;
    e->arg = arg;
    STOREREL(r->n, r->n + 1);
}

/* Call fn on P i's recorded events, oldest first (quiescent Ps only: after
 * gort_main returned, or from the P's own goroutines). */
size_t gort__sched_events(int i, void (*fn)(int64_t ts, int ev, uint64_t goid, uint64_t arg, void *a),
                          void *a);
size_t gort__sched_events(int i, void (*fn)(int64_t ts, int ev, uint64_t goid, uint64_t arg, void *a),
                          void *a) {
    if (i < 0 || !gort__sched.allp || i >= gort__sched.gomaxprocs)
        return 0;
    struct gort__trace_ring *r = LOADACQ(gort__sched.allp[i]->trace);
    if (!r)
        return 0;
    uint64_t n = LOADACQ(r->n);
    uint64_t first = n > EV_RING ? n - EV_RING : 0;
    for (uint64_t k = first; k < n; k++) {
        gort__trace_ev_t *e = &r->ev[k % EV_RING];
        fn(e->ts, (int)e->ev, e->goid, e->arg, a);
    }
    return (size_t)(n - first);
}
