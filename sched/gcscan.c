/* Goroutines as the collector's mutators: the scheduler's side of scanning.
 * The story is "Goroutines" in gc/gc.c; the interface is
 * include/gort/internal/gcsched.h.
 *
 * Every goroutine's stack is scanned once per cycle, concurrently, by whoever
 * can see it still: a goroutine that is not running is scanned by the
 * collector's coordinator (and its stack shrunk if it is mostly unused); one
 * that is running is scanned by its own M -- when it switches away (it was
 * running when the mark started), when it is switched to (before it runs), or
 * when the coordinator stops its M to scan the M's own stack.  After that its
 * stack is black: the hybrid barrier and the shading copies of channel
 * elements (gc/barrier.c) keep it so, and it is never scanned again in a
 * pause.
 *
 * Who may scan a goroutine is g->gcscan:
 *   GS_FREE    nobody is scanning it; whoever scans takes it with a CAS first;
 *   GS_WORKER  the coordinator is scanning it: an M about to run it waits;
 *   GS_SELF    it was running when the mark started (set with the world
 *              stopped): its saved context is stale, only its M may scan it.
 * The race between the coordinator taking a goroutine and an M resuming it is
 * Dekker's: the M stores status RUNNING, fences, and reads gcscan; the
 * coordinator CASes gcscan (a full fence) and then reads the status.  One of
 * them sees the other.  The M side costs a fence only while a mark scans
 * goroutines (gort__gc_gscan_on); the switch is a critical section of the
 * collector's (gort__sched_switch_to), so the flag cannot change during it.
 *
 * Invariant: while gort__gc_gscan_on, a goroutine whose scancycle is not the
 * cycle's and whose gcscan is GS_FREE is not running and its saved context is
 * exact (it has not run since the mark started, and was not running then).
 *
 * Other roots the scheduler holds: the start argument of a goroutine not yet
 * started (g->arg; shaded at gort_go during a mark), and the buffers of
 * buffered channels (the list below).  Sudogs and select cases live on their
 * goroutines' stacks, and a value a sender waits with is in its frame. */
#include "sched/internal.h"

#include <sys/mman.h>
#include <unistd.h>

enum { GS_FREE = 0, GS_WORKER = 1, GS_SELF = 2 };

/* The coordinator reads goroutines' saved contexts and stacks, which the
 * switch's assembly wrote, under the gcscan protocol rather than the C
 * memory model's: the sanitizers are told to leave those functions alone. */
#if defined(__clang__)
#define NOSAN __attribute__((no_sanitize("address", "thread", "undefined")))
#elif defined(GORT_ASAN) || defined(GORT_TSAN)
#define NOSAN __attribute__((no_sanitize_address, no_sanitize_thread, no_sanitize_undefined))
#else
#define NOSAN
#endif

static _Atomic uint64_t shrunk_bytes;

uint64_t gort__sched_gc_shrunk_bytes(void) {
    return atomic_load_explicit(&shrunk_bytes, memory_order_relaxed);
}

static bool on_cpu(uint32_t st) {
    return st == G_RUNNING || st == G_SYSCALL;
}

/* A goroutine's roots with its stack in use from sp: its start argument (still
 * in the struct until fn has it), and its stack from sp up -- all of it if sp
 * is elsewhere (a signal stack; never expected for a saved context). */
NOSAN static void g_ranges_from(gort__g_t *gp, uintptr_t sp, gort__gc_range_fn fn, void *arg) {
    uintptr_t a = (uintptr_t)&gp->arg;
    fn(a, a + sizeof gp->arg, "a goroutine's start argument", arg);
    uintptr_t lo = (uintptr_t)gp->stack.lo, hi = (uintptr_t)gp->stack.hi;
    if (!gp->started || !lo)
        return;
    fn(sp >= lo && sp < hi ? sp : lo, hi, "a goroutine's stack", arg);
}

/* An off-CPU goroutine's roots: from its saved context's sp. */
NOSAN static void g_ranges(gort__g_t *gp, gort__gc_range_fn fn, void *arg) {
    g_ranges_from(gp, (uintptr_t)gp->ctx.sp, fn, arg);
}

/* Go's shrinkstack, for C stacks that do not move: the pages well below a
 * parked goroutine's sp go back to the OS.  Probing costs a system call, so a
 * goroutine is looked at every fourth cycle; two pages below sp stay. */
NOSAN static void maybe_shrink(gort__g_t *gp, uint32_t cycle) {
    if (!gp->started || ((cycle + (uint32_t)gp->goid) & 3))
        return;
    static uintptr_t pg;
    if (!pg)
        pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t sp = (uintptr_t)gp->ctx.sp;
    uintptr_t probe = (sp & ~(pg - 1)) - 2 * pg;
    if (sp < (uintptr_t)gp->stack.lo + 3 * pg || probe >= (uintptr_t)gp->stack.hi)
        return;
    unsigned char v = 0;
    if (mincore((void *)probe, pg, &v) != 0 || !(v & 1))
        return;
    size_t n = gort_stack_shrink(&gp->stack, (void *)(probe + pg));
    atomic_fetch_add_explicit(&shrunk_bytes, n, memory_order_relaxed);
}

/* ---- the coordinator ------------------------------------------------------------------------ */

void gort__sched_gc_mark_start(void) {
    /* The world is stopped, and no M is inside a switch: each M's curg is the
     * goroutine on its CPU.  allm is append-only: read without the lock (a
     * stopped M may hold it). */
    for (gort__m_t *m = __atomic_load_n(&gort__sched.allm, __ATOMIC_ACQUIRE); m; m = m->alllink) {
        gort__g_t *gp = LOAD(m->curg);
        if (gp)
            atomic_store_explicit(&gp->gcscan, GS_SELF, memory_order_relaxed);
    }
}

/* Without the lock: the collector may hold the world stopped, and a stopped
 * thread may hold it.  Slabs are never freed and their links never change. */
static gort__gslab_t *slabs(void) {
    return __atomic_load_n(&gort__sched.gslabs, __ATOMIC_ACQUIRE);
}

NOSAN bool gort__sched_gc_scan_gs(uint32_t cycle, gort__gc_range_fn fn, void *arg) {
    bool done = true;
    for (gort__gslab_t *s = slabs(); s; s = s->next) {
        for (int i = 0; i < GSLAB_N; i++) {
            gort__g_t *gp = &s->g[i];
            if (!LOAD(gp->goid) || __atomic_load_n(&gp->scancycle, __ATOMIC_ACQUIRE) == cycle)
                continue;
            uint32_t st = LOAD(gp->status);
            if (st == G_DEAD || st == G_IDLE)
                continue;
            uint32_t z = GS_FREE;
            if (on_cpu(st) ||
                !atomic_compare_exchange_strong_explicit(&gp->gcscan, &z, GS_WORKER, memory_order_seq_cst,
                                                         memory_order_relaxed)) {
                done = false;   /* its M scans it */
                continue;
            }
            st = LOAD(gp->status);
            if (on_cpu(st)) {
                atomic_store_explicit(&gp->gcscan, GS_FREE, memory_order_release);
                done = false;
                continue;
            }
            if (st != G_DEAD && st != G_IDLE && __atomic_load_n(&gp->scancycle, __ATOMIC_RELAXED) != cycle) {
                g_ranges(gp, fn, arg);
                maybe_shrink(gp, cycle);
                __atomic_store_n(&gp->scancycle, cycle, __ATOMIC_RELEASE);
            }
            atomic_store_explicit(&gp->gcscan, GS_FREE, memory_order_release);
        }
    }
    return done;
}

NOSAN void gort__sched_gc_m_ranges(void *mv, uintptr_t sp, uintptr_t thread_hi, uint32_t cycle,
                             gort__gc_range_fn fn, void *arg) {
    gort__m_t *m = mv;
    gort__g_t *gp = LOAD(m->curg);
    if (!gp) {   /* on g0: the thread's own stack */
        if (sp < thread_hi)
            fn(sp, thread_hi, "an M's stack", arg);
        return;
    }
    uintptr_t g0sp = (uintptr_t)m->g0.ctx.sp;
    if (g0sp && g0sp < thread_hi)
        fn(g0sp, thread_hi, "an M's stack", arg);
    if (cycle && __atomic_load_n(&gp->scancycle, __ATOMIC_ACQUIRE) == cycle)
        return;   /* scanned already this cycle */
    g_ranges_from(gp, sp, fn, arg);
    if (cycle) {
        __atomic_store_n(&gp->scancycle, cycle, __ATOMIC_RELEASE);
        uint32_t self = GS_SELF;
        atomic_compare_exchange_strong(&gp->gcscan, &self, GS_FREE);
    }
}

NOSAN void gort__sched_gc_each_root(gort__gc_range_fn fn, void *arg) {
    for (gort__gslab_t *s = slabs(); s; s = s->next) {
        for (int i = 0; i < GSLAB_N; i++) {
            gort__g_t *gp = &s->g[i];
            uint32_t st = LOAD(gp->status);
            if (!LOAD(gp->goid) || st == G_DEAD || st == G_IDLE || on_cpu(st))
                continue;   /* a running goroutine is its M's (gort__sched_gc_m_ranges) */
            g_ranges(gp, fn, arg);
        }
    }
    gort__sched_gc_scan_chans(fn, arg);
}

/* ---- M side: switches and new goroutines ------------------------------------------------------ */

/* Scan the running goroutine's own stack, from this frame up, with every
 * callee-saved register of its callers spilled here. */
GORT_NOINLINE static void scan_self(gort__g_t *gp) {
    __builtin_unwind_init();
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t a = (uintptr_t)&gp->arg;
    gort__gc_scan_self_range(a, a + sizeof gp->arg);
    gort__gc_scan_self_range(sp, (uintptr_t)gp->stack.hi);
    __asm__ volatile("" ::: "memory");
}

static void scanned_range(uintptr_t lo, uintptr_t hi, const char *what, void *arg) {
    (void)what;
    (void)arg;
    gort__gc_scan_self_range(lo, hi);
}

NOSAN GORT_NOINLINE void gort__sched_gc_switch(gort__m_t *m, gort__g_t *from, gort__g_t *to) {
    uint32_t cycle = atomic_load_explicit(&gort__gc_cycle, memory_order_relaxed);
    if (from != &m->g0 && atomic_load_explicit(&from->gcscan, memory_order_relaxed) == GS_SELF) {
        /* It was running when the mark started: this is its last moment on
         * the CPU with its stack as it is. */
        scan_self(from);
        __atomic_store_n(&from->scancycle, cycle, __ATOMIC_RELEASE);
        atomic_store_explicit(&from->gcscan, GS_FREE, memory_order_release);
    }
    if (to != &m->g0) {
        /* status is RUNNING (switch_prep): Dekker's fence, then wait for a scan
         * the coordinator took before it could see that. */
        atomic_thread_fence(memory_order_seq_cst);
        while (atomic_load_explicit(&to->gcscan, memory_order_acquire) == GS_WORKER)
            gort__cpu_relax();
        if (__atomic_load_n(&to->scancycle, __ATOMIC_ACQUIRE) != cycle) {
            g_ranges(to, scanned_range, NULL);
            __atomic_store_n(&to->scancycle, cycle, __ATOMIC_RELEASE);
        }
    }
}

void gort__sched_gc_newg(gort__m_t *m, gort__g_t *gp) {
    gort__gcm_enter(m->gct);
    if (atomic_load_explicit(&gort__gc_gscan_on, memory_order_relaxed)) {
        gort__gc_shade_words(&gp->arg, sizeof gp->arg);
        __atomic_store_n(&gp->scancycle, atomic_load_explicit(&gort__gc_cycle, memory_order_relaxed),
                         __ATOMIC_RELEASE);
    }
    gort__gcm_exit(m->gct);
}

/* ---- channels ------------------------------------------------------------------------------------ */

static gort__lock_t chans_lock = GORT_MUTEX_RANKED(GORT_RANK_SCHED_CHANS);
static gort_chan_t *chans;

/* The list's lock is taken inside a critical section of the collector's: the
 * collector takes it with the world stopped (gcstoptheworld, gccheckmark), so
 * no thread may be stopped holding it. */
void gort__sched_gc_chan_add(gort_chan_t *c) {
    gort__gcm_hdr_t *h = gort__gc_self_hdr();
    if (h)
        gort__gcm_enter(h);
    lock(&chans_lock);
    c->gcprev = NULL;
    c->gcnext = chans;
    if (chans)
        chans->gcprev = c;
    chans = c;
    unlock(&chans_lock);
    if (h)
        gort__gcm_exit(h);
}

void gort__sched_gc_chan_remove(gort_chan_t *c) {
    gort__gcm_hdr_t *h = gort__gc_self_hdr();
    if (h)
        gort__gcm_enter(h);
    lock(&chans_lock);
    if (c->gcprev)
        c->gcprev->gcnext = c->gcnext;
    else
        chans = c->gcnext;
    if (c->gcnext)
        c->gcnext->gcprev = c->gcprev;
    unlock(&chans_lock);
    if (h)
        gort__gcm_exit(h);
}

void gort__sched_gc_scan_chans(gort__gc_range_fn fn, void *arg) {
    lock(&chans_lock);
    for (gort_chan_t *c = chans; c; c = c->gcnext)
        fn((uintptr_t)c->buf, (uintptr_t)c->buf + c->dataqsiz * c->stride, "a channel's buffer", arg);
    unlock(&chans_lock);
}

/* ---- idle Ps and the mark ---------------------------------------------------------------------- */

/* The collector has mark work and the mark wants Ps: wake an idle one, which
 * marks in findrunnable (Go's enlistWorker / wakep at gcStart).  From the
 * coordinator, which is not an M. */
void gort__sched_gc_enlist(void) {
    if (!gort__sched_gc_p_wanted())
        return;
    gort__p_t *p = gort__sched_pidleget();
    if (p)
        gort__sched_startm(p, false);
}

bool gort__sched_gc_p_wanted(void) {
    return LOAD(gort__sched.running) && !LOAD(gort__sched.stopping) &&
           atomic_load_explicit(&gort__sched.npidle, memory_order_seq_cst) != 0 &&
           atomic_load_explicit(&gort__sched.nmspinning, memory_order_seq_cst) == 0;
}
