/* gort internal: the collector and the scheduler, goroutines as mutators.
 * What each side calls of the other; the story is "Goroutines" in gc/gc.c.
 * Types stay opaque (void *, struct gcwork) so that neither side's internal
 * header has to include the other's. */
#ifndef GORT_INTERNAL_GCSCHED_H
#define GORT_INTERNAL_GCSCHED_H

#include "include/gort/internal/rt.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct gcwork;

/* ---- the collector's side (gc/) ----------------------------------------------------- */

/* The leading fields of the collector's record of a registered thread (gc_thread in
 * gc/internal.h, which asserts the layout): the scheduler brackets every goroutine
 * switch with a critical section, so that no M is ever stopped half-way through
 * one (its stack pointer would belong to neither goroutine). */
typedef struct gort__gcm_hdr {
    volatile int crit;
    volatile int pending;
    _Atomic uint32_t req, ack;
    /* The colour of the stack the thread runs on, for the barrier (gc/barrier.c,
     * stack_black): the scan cycle of the goroutine an M runs (&g->scancycle,
     * set by the switch, inside its critical section), NULL while an M runs its
     * own code (g0). */
    const uint32_t *gscan;
} gort__gcm_hdr_t;

/* Under TSan, asynchronous signals are delivered only at the runtime's
 * interceptors, so a thread also polls for a request (req != ack) when a
 * critical section ends.  t: a gort__gcm_hdr_t or the collector's gc_thread. */
#if defined(GORT_TSAN)
#define GORT_GCM_POLL(t) (atomic_load_explicit(&(t)->req, memory_order_relaxed) != \
                          atomic_load_explicit(&(t)->ack, memory_order_relaxed))
#else
#define GORT_GCM_POLL(t) 0
#endif
/* A stop waits for the thread: the test a critical section's end makes (and a
 * drain inside one, gc/mark.c; the allocation fast path, alloc/gcheap.c).  t: as
 * for GORT_GCM_POLL. */
#define GORT_GCM_STOP_WAITING(t) ((t)->pending || GORT_GCM_POLL(t))

void gort__gc_park_deferred_hdr(gort__gcm_hdr_t *t);
GORT_INLINE void gort__gcm_enter(gort__gcm_hdr_t *t) {
    t->crit++;
    atomic_signal_fence(memory_order_seq_cst);
}
GORT_INLINE void gort__gcm_exit(gort__gcm_hdr_t *t) {
    atomic_signal_fence(memory_order_seq_cst);
    if (--t->crit == 0 && GORT_UNLIKELY(GORT_GCM_STOP_WAITING(t)))
        gort__gc_park_deferred_hdr(t);
}

/* The calling thread's record if it is registered (NULL otherwise): for a critical
 * section around a lock the collector takes while the world is stopped. */
gort__gcm_hdr_t *gort__gc_self_hdr(void);

/* Set with the world stopped when a mark starts, cleared when it ends: goroutine
 * stacks are being scanned this cycle (gort__gc_cycle is its number). */
extern _Atomic int gort__gc_gscan_on;
extern _Atomic uint32_t gort__gc_cycle;
/* Set once the collector is initialised (a goroutine program initialises it in
 * gort_main): channel copies shade what they copy only after that. */
extern _Atomic int gort__gc_inited;
/* sysmon and the background sweeper: while the collector stops the world, wait
 * until it runs again (Go's sysmon sleeps while gcwaiting; its sweeper is a
 * goroutine): nothing is to be retaken, preempted or swept then, and one that
 * runs takes a CPU from an M the stop is waiting for. */
void gort__gc_wait_world_running(void);

/* An M thread: register it (its record's header is returned, also kept in m->gct),
 * and tell the collector which M it is; NULL if registration failed. */
gort__gcm_hdr_t *gort__gc_m_register(void *m);
/* gort_main returned: the thread is no longer an M (it stays registered). */
void gort__gc_m_unregister(gort__gcm_hdr_t *t);
/* The collector's part of a P (its cached spans, barrier buffer, assist state). */
void *gort__gc_p_new(void);
/* The calling M took / lets go of a P (outside any critical section). */
void gort__gc_m_acquirep(gort__gcm_hdr_t *t, void *gcp);
void gort__gc_m_releasep(gort__gcm_hdr_t *t);
/* The calling M lends its P (a system call): it stops using the P's state, which
 * stays as it is for whichever M takes the P. */
void gort__gc_m_lendp(gort__gcm_hdr_t *t);
/* Block the calling thread in fn(arg) as a thread blocked inside gort: the
 * collector takes it as stopped without a signal (idle Ms, the poller). */
void gort__gc_blocking_self(void (*fn)(void *), void *arg);

/* Background marking on the scheduler's Ps (gc/mark.c, "Workers on Ps"): while
 * gort_main runs, the mark's 25% share of CPU is taken from its Ps, as Go's
 * dedicated and fractional workers do, and idle Ps mark; the collector's own
 * worker threads stay asleep.  gort__gc_pmark is set while a mark wants it. */
extern _Atomic int gort__gc_pmark;
void gort__gc_sched_procs(int nprocs);   /* gort_main starts (GOMAXPROCS) / ends (0) */
/* schedule(), on g0 with a P: this P's dedicated or fractional share, if due,
 * until stop(arg) (checked between slices of marking); true if it marked. */
bool gort__gc_p_background(gort__gcm_hdr_t *t, bool (*stop)(void *), void *arg);
/* sysmon, at time now: the P whose collector part is gcp (its mcache) owes its
 * fractional share at least a slice of marking -- its goroutine has not been
 * through schedule() for a while -- so preempting it would let it pay. */
bool gort__gc_p_owes_mark(void *gcp, int64_t now);
/* findrunnable, with a P and nothing to run: mark while there is work and
 * runnable(arg) is false; true if it marked. */
bool gort__gc_p_idle(gort__gcm_hdr_t *t, bool (*runnable)(void *), void *arg);
/* A mark wants Ps and its pool has work. */
bool gort__gc_mark_work_available(void);

/* During a mark, shade every heap-looking word of [p, p + n) (a channel element
 * just copied, a start argument): gc/barrier.c. */
void gort__gc_shade_words(const void *p, size_t n);
/* Scan [lo, hi) into the calling thread's P work and hand it to the markers
 * (inside the switch's critical section). */
void gort__gc_scan_self_range(uintptr_t lo, uintptr_t hi);

/* ---- the scheduler's side (sched/gcscan.c) -------------------------------------------- */

/* The scheduler reports memory to scan as ranges, to a function of the collector's. */
typedef void (*gort__gc_range_fn)(uintptr_t lo, uintptr_t hi, const char *what, void *arg);

/* World stopped, a mark starts: every goroutine an M is running is left for its
 * M to scan (its stack is live, its saved context stale); the coordinator scans
 * the others. */
void gort__sched_gc_mark_start(void);
/* Scan every goroutine not yet scanned this cycle that is not running (a
 * goroutine being scanned cannot be resumed); true when none is left. */
bool gort__sched_gc_scan_gs(uint32_t cycle, gort__gc_range_fn fn, void *arg);
/* m (an M) is stopped at sp: its g0 stack part, up to thread_hi, and the
 * goroutine it runs, which is then scanned for the cycle (cycle 0: report every
 * range and change nothing, for gccheckmark). */
void gort__sched_gc_m_ranges(void *m, uintptr_t sp, uintptr_t thread_hi, uint32_t cycle,
                             gort__gc_range_fn fn, void *arg);
/* The coordinator has mark work: wake an idle P to do it (it marks in findrunnable),
 * if gort__sched_gc_p_wanted. */
void gort__sched_gc_enlist(void);
/* An idle P that gort__sched_gc_enlist would wake: the scheduler runs, a P is idle
 * and no M is spinning to find work.  A few loads, from any thread. */
bool gort__sched_gc_p_wanted(void);
/* Channel buffers (every element, conservatively), with the world running. */
void gort__sched_gc_scan_chans(gort__gc_range_fn fn, void *arg);
/* World stopped (gccheckmark): every goroutine that is not running, and the
 * channel buffers. */
void gort__sched_gc_each_root(gort__gc_range_fn fn, void *arg);

#endif
