/* gort's garbage collector: the public entry points, the cycle, and the design
 * essay.
 *
 * OVERVIEW (Go's mgc.go, in C)
 *
 *   A concurrent, non-moving, tri-colour mark-sweep collector with a hybrid write
 *   barrier.  Objects live in the allocator's arenas and spans (alloc/gcheap.c):
 *   size-segregated spans keep fragmentation bounded without moving anything.
 *   Conservative objects (gort_gc_alloc) and stacks are scanned word by word, any
 *   word that points into an allocated GC object (interior pointers included)
 *   keeping it alive; typed objects are scanned by their pointer mask; noscan
 *   objects are never scanned.  A cycle, run by one coordinator thread:
 *
 *   1. Sweep termination.  Finish sweeping the last cycle (concurrently), take the
 *      snapshot of global root ranges (dl_iterate_phdr, world running), then stop
 *      the world: turn the write barrier on (phase MARK), make allocation black,
 *      reset the assist credits.  Start the world.  The pause does nothing that
 *      grows with the heap or with the roots.
 *   2. Concurrent mark.  Background workers (25% of the CPUs: dedicated threads,
 *      or a fractional one) drain grey objects; allocating threads assist in
 *      proportion to what they allocate; the coordinator scans the roots: data
 *      and bss in chunks, registered ranges, finalizer records, and each
 *      registered thread's stack and registers — stopping that one thread with a
 *      signal, scanning, resuming it.  With the hybrid barrier, a stack is scanned
 *      once per cycle and never again in a pause.
 *   3. Termination.  When no grey object is left anywhere (gort__gc_mark_idle) the
 *      coordinator flushes each thread's barrier buffer, one thread at a time (a
 *      ragged barrier, Go's forEachP flush).  If that greyed nothing, it stops
 *      the world and flushes once more: anything new restarts the world and
 *      marking (Go's issue 27993), else the mark is complete.
 *   4. Mark termination (world stopped).  Barrier off (phase OFF); every thread's
 *      cached spans go back to central; sweepgen += 2, which turns every span into
 *      an unswept one at once; the pacer computes the next goal.  With
 *      gccheckmark, the heap is re-marked here and checked.  Start the world.
 *   5. Concurrent sweep.  The background sweeper, and allocating threads lazily
 *      before they reuse a span, swap each span's mark bits into its allocation
 *      bits; empty spans go back to the page heap and the scavenger returns their
 *      pages to the OS.  Finalizers of dead objects are queued.
 *
 * STOPPING THREADS (gc/thread.c)
 *
 *   Mutators are registered OS threads and the scheduler's Ms (every M registers
 *   itself when it starts).  Each uses a gc_p (cached spans, barrier buffer,
 *   assist work and credit): a plain thread its own, an M the one of the
 *   scheduler P it holds (see GOROUTINES).  A registered thread is stopped by a
 *   handshake (bdwgc's pthread_stop_world.c): the collector asks through memory
 *   first, and a thread that ends a critical section parks there; one that has
 *   not answered after 10 us gets SIGPWR (at once if it waits for the
 *   collector's own CPU: gc/thread.c, ACK_POLL_NS), whose handler saves the
 *   registers and the stack pointer, acks, and waits on a futex until
 *   released.  (A signal costs tens of microseconds each way on a virtual
 *   machine; the request in memory, a fraction of one.)  The world is stopped
 *   by doing that to every thread at once; stacks are scanned by doing it to
 *   one thread at a time.
 *
 *   A signal can land anywhere, so the runtime's own code protects itself with
 *   critical sections (gc/internal.h): allocation, the barrier and every GC lock
 *   a mutator takes run inside one, and a stop that arrives there is deferred to
 *   its end.  So no thread is ever stopped between reading the phase and acting
 *   on it (a barrier whose check saw "off" and whose store lands during the mark;
 *   an object allocated white after its stack was scanned), and no stopped thread
 *   holds a lock the collector needs.  The rule that makes this deadlock-free:
 *   inside a critical section a thread takes only the GC's own locks, which the
 *   collector never holds while waiting for a thread, and never gort_malloc's
 *   locks (a stopped thread may hold those) — pages are taken from the page heap
 *   outside it.  Pauses are timed from the first request to the last release.
 *
 * THE WRITE BARRIER (gc/barrier.c)
 *
 *   gort_gc_store(slot, ptr) shades the old value of *slot and ptr (Go's hybrid
 *   barrier: Yuasa's deletion half keeps what a thread loaded into a scanned
 *   stack alive; Dijkstra's insertion half covers stacks not yet scanned, so a
 *   thread whose stack -- or a goroutine whose stack -- this mark has scanned
 *   shades the old value alone),
 *   into a per-P buffer.  New objects are allocated black during a mark.  C has no
 *   compiler-inserted barrier, so the rule is the program's: every pointer store
 *   into memory other than the storing thread's own stack goes through the
 *   barrier — GC objects, globals, registered ranges.  That includes initialising
 *   a fresh object: it is black, so a pointer stored into it unshaded is never
 *   seen (gccheckmark catches exactly this: a chain of new objects ending in an
 *   old, unmarked one).
 *
 * GOROUTINES (sched/gcscan.c, include/gort/internal/gcsched.h)
 *
 *   Goroutines are mutators too: they allocate from the gc_p of their M's P (each
 *   scheduler P owns one for good; an M switches its pointer when it takes or
 *   lends a P, outside any critical section), assist on their own stack, and
 *   their stacks are roots scanned concurrently, once per cycle each:
 *     - with the world stopped at sweep termination, each goroutine an M is
 *       running is marked GS_SELF: its saved context is stale, only its M may
 *       scan it — when it next switches away, or when the coordinator stops that
 *       M to scan the M's own stack (the M's sp is then on the goroutine's stack);
 *     - every other goroutine is scanned by the coordinator, which takes it with
 *       a CAS on g->gcscan (a goroutine being scanned cannot be resumed; an M
 *       about to resume one it did not see taken scans it itself, before it
 *       runs: Dekker's pair of fences on status and gcscan), and gives the
 *       pages well below a parked goroutine's sp back (Go's shrinkstack);
 *     - a goroutine made during the mark has an empty stack: black; its start
 *       argument is shaded.
 *   So a pause never scans a goroutine: its length does not depend on how many
 *   there are.  Every switch is a critical section, so a stopped M is never
 *   half-way between two stacks.  Values the scheduler holds are roots as well:
 *   start arguments of goroutines not yet started, and the buffers of buffered
 *   channels (a list, scanned once per cycle, slots cleared when received
 *   from).  What a waiting sender offers sits in its own frame; sudogs and
 *   select cases live on their goroutines' stacks.  Channel elements are opaque
 *   bytes, so their copies are barriers of their own: during a mark every
 *   heap-looking word copied is shaded (gort__gc_shade_words, Go's sendDirect
 *   and typedmemmove barriers) — a pointer moved from an unscanned stack into a
 *   scanned one, or into a buffer already scanned, is never lost.
 *
 *   Stopping the world stops every M: the request is a flag checked at the end
 *   of every critical section (allocation, barrier, goroutine switch: the
 *   runtime's safe points) and a signal that stops the thread at once anywhere
 *   else — Go's preemptall, which also asks both ways at once.  An idle M, or one
 *   blocked in the poller, sleeps in a blocking region and is taken as stopped
 *   without a signal.  sysmon and the background sweeper, runtime threads that
 *   are not Ms, wait while the world is stopped (gort__gc_wait_world_running),
 *   so as not to hold a CPU an M needs to reach its safe point.  The time from
 *   the request until the last thread stopped is recorded apart (gort_gc_stats:
 *   ttsp_max_ns, ttsp_p99_ns).
 *
 * ROOTS (gc/roots.c)
 *
 *   Data and bss of the executable and of every shared object; registered ranges;
 *   stacks and registers of registered threads; goroutine stacks, start
 *   arguments and channel buffers (GOROUTINES); finalizer records and the
 *   finalizer queue.  Memory from gort_malloc (or libc) is not a root unless
 *   registered, and neither are __thread variables.
 *
 * MARKING (gc/mark.c)
 *
 *   Per-marker work buffers (two local, Go's gcWork) with a global pool; large
 *   objects are scanned in 8 KiB oblets, pushed 64 at a time (an oblet is what
 *   a stop may wait for); termination is a count of markers
 *   holding work, kept under the pool lock, plus the ragged barrier above.
 *   Assists: a thread that caches a span during a mark owes its bytes times the
 *   pacer's scan-work-per-byte; it spends background credit first, then scans in
 *   slices of 4 KiB of scan work, each a critical section.
 *
 * PACING (gc/pacer.c)
 *
 *   goal = live x (1 + GORT_GC/100); a cycle starts at a trigger between live and
 *   the goal that adapts to how the last cycle ended; GORT_MEMLIMIT caps the goal
 *   (Go 1.19's soft limit).  heap_live counts, as Go's heapLive, the marked bytes
 *   plus every span's free room when a P caches it.
 *
 * SWEEPING (alloc/gcheap.c, gc/sweep.c)
 *
 *   Go's sweepgen protocol; per span class, central lists of swept and unswept
 *   spans swap roles at each mark termination.  A background sweeper at low
 *   priority, lazy sweeping by allocating threads, proportional sweeping (an
 *   allocating thread sweeps spans in proportion to the heap's growth, so that
 *   the sweep is done before the next trigger: Go's deductSweepCredit), and the
 *   coordinator finishes whatever is left before the next cycle.
 *
 * FINALIZERS (gc/finalizer.c)
 *
 *   Run once, on their own (registered) thread; the object and what it reaches
 *   survive until the finalizer has run, the object until the cycle after.
 *
 * OBSERVABILITY (gc/stats.c)
 *
 *   Every stop-the-world phase goes into a histogram (gort_gc_stats: count, total,
 *   max, p50, p99); GORT_DEBUG=gctrace=1 prints Go's gctrace line per cycle;
 *   GORT_DEBUG=gccheckmark=1 verifies each mark (gc/checkmark.c);
 *   GORT_DEBUG=gcstoptheworld=1 runs each mark with the world stopped.
 *
 * INVARIANTS
 *
 *   - The phase changes only with the world stopped; a mutator reads it inside a
 *     critical section.
 *   - During a mark no span is swept and none is freed; every span is swept
 *     before the next mark starts (sweep termination waits for sweeps in flight).
 *   - An object is allocated iff index < gcfreeindex or its allocation bit is set;
 *     a span a P caches is never swept (caches are emptied at mark termination).
 *   - No GC-internal structure that lives in scanned memory (data, bss) holds a
 *     pointer to a GC object that should not be kept alive: records, queues and
 *     buffers live in mmap'd memory that is not a root.
 *
 * FORK
 *
 *   A child has only the thread that forked: no coordinator, no mark worker,
 *   sweeper or finalizer thread.  fork() therefore waits until no cycle runs
 *   (a gate the coordinator passes before each cycle: a fork waits for the
 *   cycle under way, and a cycle asked for meanwhile waits for the fork), and
 *   takes the collector's locks around it, as alloc/fork.c takes the
 *   allocator's: the child inherits a heap between cycles, with no list half
 *   changed by a thread that is not there.  In a child forked after the
 *   collector started (gort__gc_forked_from), GC objects can be allocated,
 *   written and read, but no cycle ever runs: the first time one would start,
 *   a warning says so once; an allocation never waits for an overdue cycle;
 *   gort_gc_collect is a fatal error (it could only wait for ever).  A child
 *   forked before the collector started gets a collector of its own.
 *
 * REJECTED ALTERNATIVES
 *
 *   - Scanning stacks and globals in a pause (bdwgc): pauses grow with roots; the
 *     hybrid barrier avoids it at the price of a barrier on global stores.
 *   - A barrier with a plain phase check and nothing else: a thread stopped
 *     between the check and the store by sweep termination would store unshaded
 *     during the mark.  A critical section around the two (the first design)
 *     cost two thread-local writes and a test on every store; the check and the
 *     store are now a restartable sequence instead (gc/barrier.c: a stop inside
 *     it rewinds the thread to the check), in assembly per architecture
 *     (gc/barrier_<arch>.h), the critical section kept for sanitizer builds.
 *   - Free lists threaded through GC objects: sweeping would write into every dead
 *     object; bitmaps (Go's allocBits) touch none.
 */
#include "gc/internal.h"

#include "include/gort/internal/fork.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const gort_gc_type_t gort__gc_type_mixed = {0, NULL, "(mixed)"};

_Atomic int gort__gc_phase;
_Atomic int gort__gc_gscan_on;
_Atomic int gort__gc_inited;
_Atomic uint32_t gort__gc_sweepgen = 4;
_Atomic uint32_t gort__gc_cycle;
int gort__gc_ncpu = 1;

static _Atomic uint32_t want_cycles;     /* cycles requested (coordinator runs until done >= want) */
static _Atomic uint32_t done_cycles;     /* futex: completed marks */
static _Atomic uint32_t coord_wake;      /* futex: the coordinator sleeps here */
static _Atomic int forced_pending;

void gort__gc_stats_init(void);

/* ---- requests ---------------------------------------------------------------------- */

static void wake_coordinator(void *arg) {
    (void)arg;
    atomic_fetch_add(&coord_wake, 1);
    gort__futex_wake(&coord_wake, 1);
}

/* Ask for a cycle (no lock: an allocation asks from inside a critical section).
 * The wake-up is a system call that can take tens of microseconds where it has
 * to wake an idle CPU (a virtual machine's: 20-60 us here), and the coordinator,
 * once awake, stops the world at once: a thread that asked from inside a
 * critical section and woke it there held up the cycle's first stop until the
 * call returned -- the server at P=2's slowest stops were that (the stop's
 * signal arriving in the middle of the futex call).  So such a thread only
 * notes it (t->kick), and wakes the coordinator when its allocation ends
 * (alloc_end: every caller inside a section is an allocation), in a blocking
 * region, where a stop takes it as held without waiting for the call. */
static void forked_warn(void);

void gort__gc_request_cycle(bool forced) {
    if (GORT_UNLIKELY(gort__gc_forked_from)) {
        forked_warn();
        return;
    }
    uint32_t started = atomic_load(&gort__gc_cycle);
    uint32_t w = atomic_load(&want_cycles);
    if (forced)
        atomic_store(&forced_pending, 1);
    while ((int32_t)(w - (started + 1)) < 0) {
        if (atomic_compare_exchange_weak(&want_cycles, &w, started + 1)) {
            gc_thread *t = gort__gc_self;
            if (t && t->crit)
                t->kick = true;
            else
                wake_coordinator(NULL);
            return;
        }
    }
}

/* The deferred wake-up of gort__gc_request_cycle: the allocation is done, the
 * critical section over. */
void gort__gc_kick(gc_thread *t) {
    t->kick = false;
    gort__gc_blocking(t, wake_coordinator, NULL);
}

static void wait_done(void *arg) {
    uint32_t target = *(uint32_t *)arg;
    for (;;) {
        uint32_t d = atomic_load(&done_cycles);
        if ((int32_t)(d - target) >= 0)
            break;
        gort__futex_wait(&done_cycles, d, -1);
    }
}

static void nap_blocked(void *arg) {
    (void)arg;
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

/* runtime.GC: wait for a cycle that starts after the call, then help sweep. */
void gort_gc_collect(void) {
    if (GORT_UNLIKELY(gort__gc_forked_from))
        gort__fatal("gort: gc: gort_gc_collect in a process forked from pid %d after its collector "
                    "started: the collector's threads do not exist here, so no cycle can run "
                    "(docs/gc.md, \"Fork\")", gort__gc_forked_from);
    gc_thread *t = gc_self();
    if (!t)
        gort__fatal("gort: gc: gort_gc_collect: cannot register the calling thread");
    uint32_t target = atomic_load(&gort__gc_cycle) + 1;
    gort__gc_request_cycle(true);
    gort__gc_wait(t, wait_done, &target);
    t = gort__gc_self_reload();
    for (;;) {
        while (gort__gc_sweep_one_mutator(t))
            ;
        if (atomic_load(&gort__gc_sweepers) == 0)
            break;
        gort__gc_blocking(t, nap_blocked, NULL);
    }
    gort__gc_sweeper_wake();   /* it gives the emptied spans back */
}

/* ---- the mark --------------------------------------------------------------------------- */
static void nap(int64_t ns) {
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* Scan the stacks of the threads not yet scanned this cycle, one at a time. */
static void scan_stacks(gcwork *w, uint32_t cycle) {
    gort__mutex_lock(&gort__gc_threads_lock);
    for (gc_thread *t = gort__gc_threads; t; t = t->next) {
        if (t->scanned_cycle == cycle)
            continue;
        if (!gort__gc_stop_one(t))
            continue;
        gort__gc_scan_thread(w, t, cycle);
        gort__gc_flush_wbuf(t->p, w);
        t->scanned_cycle = cycle;
        gort__gc_resume_one(t);
    }
    gort__mutex_unlock(&gort__gc_threads_lock);
}

/* The coordinator's ranges: work goes to the markers as it comes. */
static void scan_cb_dispose(uintptr_t lo, uintptr_t hi, const char *what, void *arg) {
    gcwork *w = arg;
    gort__gc_scan_cb(lo, hi, what, w);
    if (w->b2)
        gort__gc_gcw_dispose(w);
}

/* Goroutines (see "Goroutines" above): every one not running is scanned here;
 * one that runs is scanned by its M (at its next switch, or when the M's own
 * stack is scanned).  Loops until none is left unscanned: those still pending
 * are being switched to, which scans them. */
static void scan_goroutines(gcwork *w, uint32_t cycle) {
    while (!gort__sched_gc_scan_gs(cycle, scan_cb_dispose, w)) {
        gort__gc_gcw_dispose(w);
        nap(20000);
    }
    gort__gc_gcw_dispose(w);
    gort__sched_gc_scan_chans(scan_cb_dispose, w);
    gort__gc_gcw_dispose(w);
}

/* Flush every thread's barrier buffer, one thread at a time; true if it greyed
 * anything. */
static bool ragged_barrier(gcwork *w, uint32_t cycle) {
    gort__mutex_lock(&gort__gc_threads_lock);
    for (gc_thread *t = gort__gc_threads; t; t = t->next) {
        if (!gort__gc_stop_one(t))
            continue;
        if (t->scanned_cycle != cycle) {
            gort__gc_scan_thread(w, t, cycle);
            t->scanned_cycle = cycle;
        }
        gort__gc_flush_wbuf(t->p, w);
        gort__gc_resume_one(t);
    }
    gort__mutex_unlock(&gort__gc_threads_lock);
    return w->active;
}

/* Concurrent mark; returns with the world stopped and no grey object left.  The
 * coordinator's own CPU time while the world ran is added to *cpu. */
static void mark_concurrent(gcwork *w, uint32_t cycle, int64_t *stw2_start, int64_t *cpu) {
    int64_t c0 = gort__gc_thread_cpu_ns();
    gort__gc_finalizer_roots(w);
    while (gort__gc_roots_scan_globals(w))
        if (w->b2)
            gort__gc_gcw_dispose(w);   /* hand work to the workers as it comes */
    gort__gc_gcw_dispose(w);
    gort__sched_gc_enlist();
    scan_stacks(w, cycle);
    gort__gc_gcw_dispose(w);
    scan_goroutines(w, cycle);
    for (;;) {
        /* Sleep until the markers run dry.  Goroutine programs: an idle P
         * marks, enlisted here when work appears -- a marker that puts a full
         * buffer while a P is idle wakes the coordinator.  Waking every 50 us
         * to look instead took about 12 ms of GCBench's 0.25 s without a
         * scheduler, and on two CPUs with both Ps busy ~2% of the CPU (server
         * at P=2: 4% fewer requests/s). */
        while (!gort__gc_mark_idle()) {
            if (gort__gc_mark_work_available())
                gort__sched_gc_enlist();
            gort__gc_mark_wait_idle(1000000);
        }
        if (ragged_barrier(w, cycle)) {
            gort__gc_gcw_dispose(w);
            continue;
        }
        if (!gort__gc_mark_idle())
            continue;
        *stw2_start = gort__nanotime();
        *cpu += gort__gc_thread_cpu_ns() - c0;
        gort__gc_stop_world();
        for (gc_thread *t = gort__gc_threads; t; t = t->next) {
            if (t->scanned_cycle != cycle) {
                gort__gc_scan_thread(w, t, cycle);
                t->scanned_cycle = cycle;
            }
        }
        for (gc_p *p = gort__gc_ps; p; p = p->allnext)
            gort__gc_flush_wbuf(p, w);
        if (w->active || !gort__gc_mark_idle()) {
            gort__gc_gcw_dispose(w);
            gort__gc_start_world();
            c0 = gort__gc_thread_cpu_ns();
            continue;
        }
        return;
    }
}

/* gcstoptheworld=1: the whole mark with the world stopped. */
static void mark_stopped(gcwork *w, uint32_t cycle) {
    gort__gc_finalizer_roots(w);
    while (gort__gc_roots_scan_globals(w))
        ;
    for (gc_thread *t = gort__gc_threads; t; t = t->next) {
        gort__gc_scan_thread(w, t, cycle);
        t->scanned_cycle = cycle;
    }
    if (!gort__sched_gc_scan_gs(cycle, gort__gc_scan_cb, w))
        gort__fatal("gort: gc: a goroutine was left unscanned with the world stopped");
    gort__sched_gc_scan_chans(gort__gc_scan_cb, w);
    gort__gc_drain(w, -1);
    gort__gc_gcw_dispose(w);
    GORT_ASSERT(gort__gc_mark_idle());
}

extern void gort__gc_sweep_begin(void);

static void run_cycle(void) {
    bool forced = atomic_exchange(&forced_pending, 0);
    bool stw = gort__settings.gcstoptheworld != 0;
    int64_t t0 = gort__nanotime();
    int64_t coord_cpu = 0;
    gort__gc_finish_sweep();
    gort__gc_roots_snapshot();
#ifdef GORT_DEBUG_CHECKS
    {
        uint32_t sg = atomic_load(&gort__gc_sweepgen);
        for (unsigned spc = 0; spc < GC_NSPC; spc++) {
            gc_central *c = &gort__gc_central[spc];
            unsigned u = ((sg - 2) / 2) % 2;
            if (atomic_load(&c->n[u]) || atomic_load(&c->n[2 + u]))
                gort__fatal("gort: gc: sweep termination with unswept spans in class %u", spc);
        }
    }
#endif

    /* 1. Sweep termination. */
    int64_t s1 = gort__nanotime();
    gort__gc_stop_world();
    uint32_t cycle = atomic_fetch_add(&gort__gc_cycle, 1) + 1;
    gort__gc_mark_prepare();
    gort__gc_pacer_mark_start();
    uint64_t heap0 = atomic_load(&gort__gc_heap_live);
    uint64_t goal0 = atomic_load(&gort__gc_goal);   /* this cycle's goal, as Go's gctrace shows */
    for (gc_p *p = gort__gc_ps; p; p = p->allnext) {
        p->assist_credit = 0;
        gort__gc_mark_begin_p(p);
    }
    gort__sched_gc_mark_start();
    atomic_store(&gort__gc_gscan_on, 1);
    uint64_t assist0 = atomic_load(&gort__gc_assist_cpu_ns), bg0 = atomic_load(&gort__gc_bg_cpu_ns);
    uint64_t idle0 = atomic_load(&gort__gc_idle_cpu_ns);
    atomic_store(&gort__gc_phase, GC_MARK);
    int64_t e1 = gort__nanotime();
    gcwork w;
    gort__gc_gcw_init(&w);
    int64_t s2;
    if (stw) {
        mark_stopped(&w, cycle);
        s2 = gort__nanotime();
    } else {
        e1 = gort__gc_start_world();
        gort__gc_workers_start();
        mark_concurrent(&w, cycle, &s2, &coord_cpu);
    }

    /* 4. Mark termination: the world is stopped. */
    atomic_store(&gort__gc_phase, GC_MARKTERM);
    if (!stw)
        gort__gc_workers_stop_async();
    /* Every P lets go of its spans, marking what it allocated during the mark
     * (alloc/gcheap.c, "Allocate-black in bulk") before the bits are read. */
    atomic_store(&gort__gc_gscan_on, 0);
    for (gc_p *p = gort__gc_ps; p; p = p->allnext) {
        gort__gc_release_p(p);
        p->wbn = 0;
        gort__gc_gcw_dispose(&p->gcw);
    }
    gort__gc_gcw_dispose(&w);
    gort__gc_checkmark();
    uint64_t marked = gort__gc_mark_bytes();
    uint64_t heap1 = atomic_load(&gort__gc_heap_live);
    atomic_store(&gort__gc_phase, GC_OFF);
    atomic_fetch_add(&gort__gc_sweepgen, 2);
    gort__gc_sweep_begin();
    atomic_store(&gort__gc_heap_live, marked);
    gort__gc_pacer_mark_done(marked, marked - gort__gc_black_bytes(), heap1);
    gort__gc_sweep_pace(marked, atomic_load(&gort__gc_trigger));
    int64_t e2 = gort__gc_start_world();
    atomic_fetch_add(&gort__gc_bg_cpu_ns, (uint64_t)coord_cpu);

    /* 5. Sweep. */
    if (!stw)
        gort__gc_workers_stop();
    atomic_fetch_add(&gort__gc_num, 1);
    if (forced)
        atomic_fetch_add(&gort__gc_num_forced, 1);
    if (stw)
        gort__gc_finish_sweep();
    else
        gort__gc_sweeper_wake();
    atomic_fetch_add(&done_cycles, 1);
    gort__futex_wake(&done_cycles, 1 << 20);
    if (gort__settings.gctrace)
        gort__gc_trace_cycle(cycle, t0, e1 - s1, stw ? 0 : s2 - e1, e2 - s2,
                             atomic_load(&gort__gc_assist_cpu_ns) - assist0,
                             atomic_load(&gort__gc_bg_cpu_ns) - bg0,
                             atomic_load(&gort__gc_idle_cpu_ns) - idle0, heap0, heap1, marked,
                             goal0, gort__gc_ncpu, forced);
}

/* ---- fork (FORK above) ------------------------------------------------------------ */
static _Atomic uint32_t forks_pending;   /* futex: forks between their prepare and parent hooks */
static _Atomic uint32_t coord_busy;      /* futex: the coordinator is in a cycle */
static _Atomic int fork_parent_pid;   /* written by every fork's prepare: all the same value */
int gort__gc_forked_from;

/* The coordinator's side of the gate (Dekker's pair with fork_gate_prepare:
 * busy, then pending here; pending, then busy there).  False, once the forks
 * are done, if one was being prepared: the caller looks at its requests again. */
static bool gate_enter(void) {
    atomic_store(&coord_busy, 1);
    uint32_t f = atomic_load(&forks_pending);
    if (GORT_LIKELY(f == 0))
        return true;
    atomic_store(&coord_busy, 0);
    gort__futex_wake(&coord_busy, INT_MAX);
    while ((f = atomic_load(&forks_pending)) != 0)
        gort__futex_wait(&forks_pending, f, -1);
    return false;
}

static void gate_exit(void) {
    atomic_store(&coord_busy, 0);
    if (atomic_load(&forks_pending))
        gort__futex_wake(&coord_busy, INT_MAX);
}

static void wait_coordinator_idle(void *arg) {
    (void)arg;
    uint32_t b;
    while ((b = atomic_load(&coord_busy)) != 0)
        gort__futex_wait(&coord_busy, b, -1);
}

/* Before the sched hook (rank NONE): the cycle waited for may need the
 * scheduler's lock.  A registered thread waits in a blocking region (the cycle
 * stops the world); a goroutine too, on its own thread (a fork must return on
 * the thread that called it). */
static void fork_gate_prepare(void) {
    atomic_fetch_add(&forks_pending, 1);
    atomic_store(&fork_parent_pid, (int)getpid());
    gc_thread *t = gort__gc_self;
    if (t)
        gort__gc_blocking(t, wait_coordinator_idle, NULL);
    else
        wait_coordinator_idle(NULL);
}

static void fork_gate_parent(void) {
    if (atomic_fetch_sub(&forks_pending, 1) == 1)
        gort__futex_wake(&forks_pending, INT_MAX);
}

static void fork_gate_child(void) {
    atomic_store(&forks_pending, 0);
    if (atomic_load(&gort__gc_inited))
        gort__gc_forked_from = atomic_load(&fork_parent_pid);
}

/* Every lock of the collector's a thread may hold between cycles, gathered once
 * from their modules and sorted into the rank checker's order: by rank, and
 * locks of one rank by address.  The ones below the leaf rank are taken in the
 * hook of rank GC_THREADS; the leaf locks in the last hook, after the
 * allocator's. */
enum { NFORK_LOCKS = 1 + 2 + 1 + GC_HEAP_LOCKS + 1 + 1 };   /* threads, finalizer, roots, heap, pool, pacer */
static gort_mutex_t *fork_locks[NFORK_LOCKS];
static unsigned nfork_below_leaf;   /* fork_locks[0 .. this) rank below LEAF */

static bool lock_before(const gort_mutex_t *a, const gort_mutex_t *b) {
    return a->rank != b->rank ? a->rank < b->rank : (uintptr_t)a < (uintptr_t)b;
}

static void fork_locks_gather(void) {
    gort_mutex_t **v = fork_locks;
    unsigned n = 0;
    v[n++] = &gort__gc_threads_lock;
    n += gort__gc_finalizer_locks(v + n);
    n += gort__gc_roots_locks(v + n);
    n += gort__gc_heap_locks(v + n);
    n += gort__gc_mark_locks(v + n);
    n += gort__gc_pacer_locks(v + n);
    GORT_ASSERT(n == NFORK_LOCKS);
    for (unsigned i = 1; i < n; i++)   /* insertion sort: nearly in order already */
        for (unsigned j = i; j > 0 && lock_before(v[j], v[j - 1]); j--) {
            gort_mutex_t *m = v[j];
            v[j] = v[j - 1];
            v[j - 1] = m;
        }
    while (nfork_below_leaf < n && v[nfork_below_leaf]->rank < GORT_RANK_LEAF)
        nfork_below_leaf++;
}

static void fork_lock_range(unsigned lo, unsigned hi) {
    for (unsigned i = lo; i < hi; i++)
        gort__mutex_lock(fork_locks[i]);
}

static void fork_unlock_range(unsigned lo, unsigned hi) {
    for (unsigned i = hi; i-- > lo;)
        gort__mutex_unlock(fork_locks[i]);
}

static void fork_locks_take(void) { fork_lock_range(0, nfork_below_leaf); }
static void fork_locks_release(void) { fork_unlock_range(0, nfork_below_leaf); }
static void fork_leaf_take(void) { fork_lock_range(nfork_below_leaf, NFORK_LOCKS); }
static void fork_leaf_release(void) { fork_unlock_range(nfork_below_leaf, NFORK_LOCKS); }

__attribute__((constructor)) static void gc_fork_init(void) {
    static const struct gort_fork_hook gate = {GORT_RANK_NONE, fork_gate_prepare, fork_gate_parent,
                                               fork_gate_child};
    static const struct gort_fork_hook locks = {GORT_RANK_GC_THREADS, fork_locks_take, fork_locks_release,
                                                fork_locks_release};
    static const struct gort_fork_hook leaf = {GORT_RANK_LEAF, fork_leaf_take, fork_leaf_release,
                                               fork_leaf_release};
    fork_locks_gather();
    gort__fork_register(&gate);
    gort__fork_register(&locks);
    gort__fork_register(&leaf);
}

static void forked_warn(void) {
    static _Atomic int warned;
    if (!atomic_exchange(&warned, 1))
        gort__printf("gort: gc: warning: this process was forked from pid %d after its collector "
                     "started; the collector's threads do not exist here, so nothing is collected "
                     "(docs/gc.md, \"Fork\")\n", gort__gc_forked_from);
}

static void *coordinator_main(void *arg) {
    (void)arg;
    gort__os_thread_name("gort-gc");
    for (;;) {
        uint32_t seq = atomic_load(&coord_wake);
        uint32_t want = atomic_load(&want_cycles), started = atomic_load(&gort__gc_cycle);
        if ((int32_t)(want - started) > 0) {
            if (!gate_enter())
                continue;   /* waited for a fork */
            int64_t c0 = gort__gc_thread_cpu_ns();
            run_cycle();
            atomic_fetch_add(&gort__gc_coord_cpu_ns, (uint64_t)(gort__gc_thread_cpu_ns() - c0));
            gate_exit();
            continue;
        }
        gort__futex_wait(&coord_wake, seq, -1);
    }
    return NULL;
}

/* ---- set-up ------------------------------------------------------------------------------ */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void) {
    gort__settings_init();
    int n = gort__settings.maxprocs;
    if (n <= 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (n <= 0)
            n = 1;
    }
    gort__gc_ncpu = n;
    gort__gc_classes_init();
    gort__gc_stats_init();
    gort__gc_roots_init();
    gort__gc_pacer_init();
    gort__gc_thread_init_signals();
    if (gort__os_thread_start(coordinator_main, NULL, 0) != 0)
        gort__fatal("gort: gc: cannot start the collector thread");
    atomic_store(&gort__gc_inited, 1);
}

void gort__gc_init(void) {
    pthread_once(&init_once, init);
}

/* ---- allocation ------------------------------------------------------------------------------ */
/* return call, where call allocates for the program (GC_ALLOC_RA_TLS, gc/internal.h). */
#if GC_ALLOC_RA_TLS
#define RETURN_PROGRAM_ALLOC(call)                                    \
    do {                                                              \
        __atomic_store_n(&gort__gc_alloc_ra, (uintptr_t)__builtin_return_address(0), \
                         __ATOMIC_RELAXED);                           \
        void *obj_ = (call);                                          \
        __atomic_store_n(&gort__gc_alloc_ra, 0, __ATOMIC_RELAXED);    \
        return obj_;                                                  \
    } while (0)
#else
#define RETURN_PROGRAM_ALLOC(call) return (call)
#endif

void *gort_gc_alloc(size_t n) {
    RETURN_PROGRAM_ALLOC(gort__gc_alloc_cons(n));
}

void *gort_gc_alloc_noscan(size_t n) {
    RETURN_PROGRAM_ALLOC(gort__gc_alloc_noscan(n));
}

/* Whether an object of type t has a pointer word (else it is noscan). */
static bool type_has_pointers(const gort_gc_type_t *t) {
    size_t words = t->size / sizeof(void *);
    for (size_t i = 0; i < (words + 63) / 64; i++) {
        uint64_t m = t->ptrmask[i];
        if (i == words / 64 && words % 64)
            m &= ((uint64_t)1 << (words % 64)) - 1;
        if (m)
            return true;
    }
    return false;
}

void *gort_gc_alloc_typed(size_t n, const gort_gc_type_t *t) {
    /* One object of a type of at most 64 words -- nearly every call -- takes
     * neither the division nor the mask loop: a 64-bit division is tens of
     * cycles, next to an allocation fast path of ~50 instructions. */
    if (GORT_LIKELY(t && n == t->size && t->ptrmask && n >= sizeof(void *) && n <= 64 * sizeof(void *))) {
        size_t words = n / sizeof(void *);
        uint64_t m = t->ptrmask[0] & (words == 64 ? ~(uint64_t)0 : ((uint64_t)1 << words) - 1);
        RETURN_PROGRAM_ALLOC(m ? gort__gc_alloc_typed(n, t) : gort__gc_alloc_noscan(n));
    }
    if (!t || !t->size || n % t->size || (!t->ptrmask && t->size >= sizeof(void *))) {
        errno = EINVAL;
        return NULL;
    }
    bool any = type_has_pointers(t);
    RETURN_PROGRAM_ALLOC(any ? gort__gc_alloc_typed(n, t) : gort__gc_alloc_noscan(n));
}
