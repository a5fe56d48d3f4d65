/* The pacer: when the next cycle starts, its heap goal, how much scan work an
 * allocation owes during a mark, and the soft memory limit.  See "Pacing" in
 * gc/gc.c.
 *
 *   goal    = what GORT_GC promises -- the traced bytes (what the last mark
 *             found reachable) * (1 + GORT_GC / 100) -- but never so little that
 *             the marks take over, and never more than Go's goal:
 *               marked = every byte the last mark marked (Go's heapMarked): the
 *                        traced bytes and those allocated during the mark (black,
 *                        liveness unknown; under churn mostly garbage by the
 *                        next cycle, yet they survive its sweep);
 *               black  = marked - traced;
 *               goal   = max(traced * (1 + g), min(marked * (1 + g), marked + 3g * black))
 *             with g = GORT_GC / 100.  After a sweep the heap is `marked`; a cycle
 *             then allows goal - marked of allocation, of which the mark itself
 *             takes about `black`.  The first term keeps the heap within GORT_GC's
 *             promise; the floor keeps each cycle's allocation at least 3g times
 *             the mark's own, so that marks do not run back to back where marking
 *             is slow next to allocation (binary-trees allocates, during a mark,
 *             most of what the mark traces); the cap is Go's own goal.  A heap
 *             with a slow mark (black near the traced bytes) is paced as Go paces
 *             it; one with a quick mark stays near GORT_GC's promise.  Go's basis
 *             alone (goal = marked * (1 + g)) compounds under churn -- a longer
 *             mark allocates more black, which raises the goal, which lengthens
 *             the next mark -- and settles near 3x the live data (pause-stress:
 *             2.6x for gort, 3.0x for Go).  GORT_DEBUG=gcgoal=1 paces from the
 *             traced bytes alone, gcgoal=2 from the marked bytes alone (Go's).
 *             At least 4 MiB * g (Go's heapMinimum); with a memory limit, at most
 *             what fits under it.
 *   trigger = marked + (goal - marked) * r, where r (0.5 .. 0.95) adapts: a cycle
 *             that ended past its goal starts the next one earlier, one that ended
 *             well short of it starts the next one later (Go 1.19 solves for the
 *             trigger from its cons/mark model; this is its feedback, not its
 *             model).
 *   assist  = scan work still expected / heap bytes left before the goal: the
 *             rate at which allocating threads must mark so that the mark ends
 *             by the goal even if the background workers fall behind.
 *
 * The memory limit (Go 1.19's GOMEMLIMIT): the heap's goal is capped so that the
 * heap in use, the idle pages it keeps and the allocator's metadata stay under the
 * limit; after each sweep, idle pages beyond it go back to the OS at once.  When
 * the live heap itself outgrows the limit, the goal becomes marked * 1.0625: the
 * collector runs often rather than failing. */
#include "gc/internal.h"

#include <limits.h>
#include <time.h>

_Atomic uint64_t gort__gc_trigger = UINT64_MAX;
_Atomic uint64_t gort__gc_goal;
_Atomic int gort__gc_goal_limited;
_Atomic uint64_t gort__gc_heap_marked;
_Atomic uint64_t gort__gc_overdue_waits;
static _Atomic uint64_t heap_traced;        /* what the last mark traced (see above) */
_Atomic int      gort__gc_percent = 100;
_Atomic int64_t  gort__gc_memlimit = INT64_MAX;
static double trigger_ratio = 0.7;           /* pacer lock */
static gort_mutex_t pacer_lock = GORT_MUTEX_RANKED(GORT_RANK_LEAF);

unsigned gort__gc_pacer_locks(gort_mutex_t **out) {
    out[0] = &pacer_lock;
    return 1;
}

static _Atomic uint64_t scan_expected;     /* scan work expected this mark */
static _Atomic uint64_t heap_at_start;

#define HEAP_MIN ((uint64_t)4 << 20)

static uint64_t limit_goal(void) {
    int64_t lim = atomic_load(&gort__gc_memlimit);
    if (lim == INT64_MAX)
        return UINT64_MAX;
    uint64_t meta = atomic_load(&gort__meta_bytes);
    /* What is not the GC heap's: metadata, explicit allocations and free pages
     * are charged against the limit; leave 5% for fragmentation inside spans. */
    uint64_t other = meta;
    uint64_t avail = (uint64_t)lim > other ? (uint64_t)lim - other : 0;
    return avail - avail / 20;
}

/* The goal for a heap whose last mark marked `marked` bytes and traced `traced`
 * of them (see the top of the file). */
static uint64_t goal_for(int pct, uint64_t marked, uint64_t traced) {
    if (traced > marked)
        traced = marked;
    uint64_t g_marked = marked + marked / 100 * (uint64_t)pct;
    uint64_t g_traced = traced + traced / 100 * (uint64_t)pct;
    switch (gort__settings.gcgoal) {
    case 1:
        return g_traced;
    case 2:
        return g_marked;
    }
    uint64_t black = marked - traced;
    uint64_t floor = marked + black / 100 * 3 * (uint64_t)pct;
    uint64_t g = floor < g_marked ? floor : g_marked;
    return g > g_traced ? g : g_traced;
}

static void compute_locked(void) {
    int pct = atomic_load(&gort__gc_percent);
    uint64_t marked = atomic_load(&gort__gc_heap_marked);
    uint64_t goal = UINT64_MAX;
    if (pct >= 0) {
        goal = goal_for(pct, marked, atomic_load(&heap_traced));
        uint64_t min = HEAP_MIN / 100 * (uint64_t)pct;
        if (goal < min)
            goal = min;
    }
    uint64_t lg = limit_goal();
    atomic_store(&gort__gc_goal_limited, lg < goal);
    if (lg < goal) {
        goal = lg;
        if (goal < marked + marked / 16)
            goal = marked + marked / 16;   /* over the limit: collect often, not fail */
        if (goal < HEAP_MIN / 4)
            goal = HEAP_MIN / 4;
    }
    atomic_store(&gort__gc_goal, goal);
    /* The trigger is placed between what the sweep leaves (marked) and the goal. */
    uint64_t base = marked < goal ? marked : goal;
    uint64_t trig = goal == UINT64_MAX ? UINT64_MAX : base + (uint64_t)((double)(goal - base) * trigger_ratio);
    if (goal != UINT64_MAX && trig < base + (goal - base) / 2 && lg == UINT64_MAX)
        trig = base + (goal - base) / 2;
    atomic_store(&gort__gc_trigger, trig);
}

/* Mutators call this inside a critical section (the collector calls it with the
 * world stopped, and a stopped thread must not hold the pacer lock). */
static void compute(void) {
    gort__mutex_lock(&pacer_lock);
    compute_locked();
    gort__mutex_unlock(&pacer_lock);
}

void gort__gc_pacer_init(void) {
    atomic_store(&gort__gc_percent, gort__settings.gc_percent);
    atomic_store(&gort__gc_memlimit, gort__settings.memlimit);
    compute();
}

void gort__gc_pacer_mark_start(void) {
    uint64_t marked = atomic_load(&gort__gc_heap_marked);
    atomic_store(&scan_expected, marked + (1 << 20));
    atomic_store(&heap_at_start, atomic_load(&gort__gc_heap_live));
}

double gort__gc_assist_work_per_byte(void) {
    uint64_t exp = atomic_load_explicit(&scan_expected, memory_order_relaxed);
    uint64_t done = gort__gc_scan_work();
    uint64_t left = exp > done ? exp - done : exp / 10 + (64 << 10);
    uint64_t goal = atomic_load_explicit(&gort__gc_goal, memory_order_relaxed);
    uint64_t live = atomic_load_explicit(&gort__gc_heap_live, memory_order_relaxed);
    uint64_t runway = goal > live + (1 << 20) ? goal - live : (1 << 20);
    if (goal == UINT64_MAX)
        runway = live + (64 << 20);
    return (double)left / (double)runway;
}

void gort__gc_pacer_mark_done(uint64_t marked, uint64_t traced, uint64_t heap_live_at_end) {
    gort__mutex_lock(&pacer_lock);
    uint64_t goal = atomic_load(&gort__gc_goal);
    uint64_t base = atomic_load(&gort__gc_heap_marked);   /* where this cycle started */
    if (base > goal)
        base = goal;
    if (goal != UINT64_MAX) {
        if (heap_live_at_end > goal)
            trigger_ratio -= 0.1;
        else if (heap_live_at_end < goal - (goal - base) / 4)
            trigger_ratio += 0.05;
        if (trigger_ratio < 0.5)
            trigger_ratio = 0.5;
        if (trigger_ratio > 0.95)
            trigger_ratio = 0.95;
    }
    atomic_store(&gort__gc_heap_marked, marked);
    atomic_store(&heap_traced, traced);
    compute_locked();
    gort__mutex_unlock(&pacer_lock);
}

void gort__gc_maybe_trigger(uint64_t heap_live) {
    if (GORT_UNLIKELY(heap_live >= atomic_load_explicit(&gort__gc_trigger, memory_order_relaxed)) &&
        atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) == GC_OFF) {
        gort__gc_request_cycle(false);
        /* A quarter past the goal and still no mark: the collector's thread is not
         * getting the CPU (a loaded machine).  Go starts the cycle on the
         * allocating goroutine; here the allocating thread waits for it
         * (gort__gc_wait_overdue, when the allocation is done), instead of letting
         * the heap grow without bound meanwhile. */
        uint64_t goal = atomic_load_explicit(&gort__gc_goal, memory_order_relaxed);
        gc_thread *t = gort__gc_self;
        if (t && goal != UINT64_MAX && heap_live > goal + goal / 4)
            t->p->overdue = true;
    }
}

static void wait_cycle(void *arg) {
    uint32_t c0 = *(uint32_t *)arg;
    int64_t until = gort__nanotime() + 100000000;   /* never more than 100 ms */
    while (atomic_load(&gort__gc_phase) == GC_OFF && atomic_load(&gort__gc_cycle) == c0 &&
           gort__nanotime() < until) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

void gort__gc_wait_overdue(gc_thread *t) {
    t->p->overdue = false;
    if (GORT_UNLIKELY(gort__gc_forked_from))
        return;   /* no collector in this process: nothing to wait for (gc/gc.c, "Fork") */
    uint32_t c0 = atomic_load(&gort__gc_cycle);
    if (atomic_load(&gort__gc_phase) != GC_OFF)
        return;
    atomic_fetch_add_explicit(&gort__gc_overdue_waits, 1, memory_order_relaxed);
    gort__gc_wait(t, wait_cycle, &c0);
}

/* After a sweep: give idle pages back while the process is over its limit. */
void gort__gc_pacer_enforce_limit(void) {
    int64_t lim = atomic_load(&gort__gc_memlimit);
    if (lim == INT64_MAX)
        return;
    gort__mutex_lock(&gort__heap.lock);
    uint64_t inuse = gort__heap.inuse_pages * PAGE_SIZE;
    uint64_t dirty = (gort__heap.free_pages - gort__heap.released_pages) * PAGE_SIZE;
    gort__mutex_unlock(&gort__heap.lock);
    uint64_t used = inuse + dirty + atomic_load(&gort__meta_bytes);
    if (used > (uint64_t)lim && dirty) {
        uint64_t over = used - (uint64_t)lim;
        uint64_t keep = dirty > over ? (dirty - over) / PAGE_SIZE : 0;
        gort__central_reclaim();
        gort__pageheap_scavenge(keep);
    }
}

int gort_gc_set_percent(int pct) {
    gort__gc_init();
    if (pct < 0)
        pct = -1;
    gc_thread *t = gc_self();
    int old = atomic_exchange(&gort__gc_percent, pct);
    if (t)
        crit_enter(t);
    compute();
    if (t)
        crit_exit(t);
    gort__gc_maybe_trigger(atomic_load(&gort__gc_heap_live));
    return old;
}

void gort_gc_set_memory_limit(size_t bytes) {
    gort__gc_init();
    gc_thread *t = gc_self();
    atomic_store(&gort__gc_memlimit, bytes >= (size_t)INT64_MAX ? INT64_MAX : (int64_t)bytes);
    if (t)
        crit_enter(t);
    compute();
    if (t)
        crit_exit(t);
    gort__gc_maybe_trigger(atomic_load(&gort__gc_heap_live));
}
