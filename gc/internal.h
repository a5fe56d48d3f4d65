/* gort collector: declarations shared by the files of gc/ and by alloc/gcheap.c.
 * essay is at the top of gc/gc.c. */
#ifndef GORT_GC_INTERNAL_H
#define GORT_GC_INTERNAL_H

#include "alloc/types.h"
#include "include/gort/gc.h"
#include "include/gort/sched.h"
#include "include/gort/internal/gcsched.h"

#include <pthread.h>
#include <sys/types.h>

/* Functions that read memory the program writes concurrently (conservative scans,
 * the mark bits of spans being allocated from) do so on purpose: the collector's
 * correctness argument is the write barrier's, not the C memory model's.  The
 * sanitizers are told to leave those functions alone. */
#if defined(__clang__)
#define GC_NOSAN __attribute__((no_sanitize("address", "thread", "undefined")))
#elif defined(GORT_ASAN) || defined(GORT_TSAN)
#define GC_NOSAN __attribute__((no_sanitize_address, no_sanitize_thread, no_sanitize_undefined))
#else
#define GC_NOSAN
#endif

/* ---- span kinds ----------------------------------------------------------------- */
enum { GC_NOSCAN = 0, GC_CONS = 1, GC_TYPED = 2, GC_NKINDS = 3 };

/* A typed small span's gctype when its objects are not all of one type: the
 * marker then reads each object's own (gctypes[i]). */
extern const gort_gc_type_t gort__gc_type_mixed;
/* GC size classes: the allocator's (1 .. NUM_CLASSES - 1; 0 = large), plus Go's
 * 24-byte class at GC_CLASS24, which malloc's table leaves out (its blocks of 16
 * bytes and more are 16-byte aligned).  A GC object of 17 to 24 bytes takes 24,
 * 8-byte aligned, as in Go: a third less memory and marking for a 24-byte node
 * than a 32-byte block (GCBench's).  alloc/gcheap.c has the class's numbers. */
#define GC_CLASS24 NUM_CLASSES
#define GC_NCLASSES (NUM_CLASSES + 1)
#define GC_NSPC (GC_NKINDS * GC_NCLASSES)   /* span classes: kind * GC_NCLASSES + GC size class */

GC_NOSAN GORT_INLINE bool span_is_gc(const mspan *s) {
    uint8_t st = *(const volatile uint8_t *)&s->state;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return st >= SPAN_GCSMALL && st <= SPAN_GCHUGE;
}

/* ---- phases (gc/gc.c) --------------------------------------------------------------
 * gort__gc_phase is written only with the world stopped (sweep termination and
 * mark termination) and read by everyone; mutators read it inside a critical
 * section (below), so it cannot change under them. */
enum { GC_OFF = 0, GC_MARK = 1, GC_MARKTERM = 2 };
extern _Atomic int gort__gc_phase;
extern _Atomic uint32_t gort__gc_sweepgen;   /* += 2 at each mark termination (STW) */
extern _Atomic uint32_t gort__gc_cycle;      /* cycles started (written at sweep termination) */
/* The arenas that hold GC spans, as arena indices [lo, lo + n): a fast filter for
 * conservative words.  Indices, not addresses: the bounds end up in globals and
 * in the registers and stack slots of threads that are scanned conservatively,
 * and a lowest-address bound would keep the lowest object alive. */
extern uintptr_t gort__gc_arena_lo, gort__gc_arena_n;
#define GC_MAYBE_HEAP(p, lo, n) (((uintptr_t)(p) >> ARENA_SHIFT) - (lo) < (n))
extern int gort__gc_ncpu;

/* ---- per-thread state: a registered thread and the P it uses -----------------------
 * A gc_p holds a mutator's cached GC spans, write-barrier buffer, assist work and
 * credit.  A plain registered thread uses its own; a scheduler M uses the gc_p of
 * the P it holds (each P owns one for good): goroutines allocate from their P's.
 * See GOROUTINES in gc/gc.c. */
#define WBUF_LEN 512
typedef struct workbuf workbuf;

typedef struct gcwork {             /* a marker's local work (Go's gcWork) */
    workbuf *b1, *b2;               /* b1 is pushed to and popped from; b2 is a spare */
    uint64_t bytes_marked;          /* bytes of objects this marker greyed */
    uint64_t bytes_black;           /* of which allocated during the mark (allocate-black) */
    uint64_t scan_work;             /* bytes scanned (flushed into the global count) */
    bool     active;                /* counted in the pool's active markers */
} gcwork;

typedef struct gc_p {
    mspan   *alloc[GC_NSPC];        /* current span per span class (&gort__empty_span if none); owner */
    uint64_t cached[(GC_NSPC + 63) / 64];   /* classes whose alloc[] was set since the last release (owner) */
    uint32_t wbn;                   /* entries in wb (owner, in a critical section) */
    uintptr_t wb[WBUF_LEN];         /* shaded pointers not yet greyed (owner) */
    int64_t  assist_credit;         /* bytes of allocation paid for by mark work; < 0 is debt (owner) */
    int64_t  assist_budget_ns;      /* assist time this thread may still spend (owner; gc/mark.c) */
    int64_t  assist_budget_at;      /* when the budget was last topped up (owner) */
    bool     overdue;               /* the heap passed its goal with no mark running (owner; gc/pacer.c) */
    gcwork   gcw;                   /* assists' local work */
    /* Background marking on a scheduler P (gc/mark.c, "Workers on Ps"), owner: */
    uint32_t mw_cycle;              /* the cycle mw_* are for */
    bool     mw_dedicated;          /* this P is a dedicated worker this cycle */
    int64_t  mw_ns;                 /* its background mark time this cycle */
    struct gc_p *allnext, *allprev; /* every live gc_p (threads lock): see gort__gc_ps */
#ifdef GORT_DEBUG_CHECKS
    void    *user;                  /* the gc_thread using it: a P's has at most one */
#endif
} gc_p;
/* Every gc_p in use: each registered thread's own, and each scheduler P's (those
 * for good).  Walked with the world stopped (threads lock held). */
extern gc_p *gort__gc_ps;

typedef struct gc_thread {
    /* The header the scheduler sees (include/gort/internal/gcsched.h): */
    volatile int crit;              /* > 0: in a critical section, a stop is deferred (own thread) */
    volatile int pending;           /* a stop waits: park when the section ends (own thread; set
                                       by the collector's request too, gc/thread.c) */
    /* handshakes (gc/thread.c): the collector writes req, then waits or signals; the
     * thread acks with ack = req once parked; the collector releases it with resume = req. */
    _Atomic uint32_t req, ack;
    /* Its stack's scan cycle, for the barrier (stack_black): &scanned_cycle for
     * a plain thread; for an M, that of the goroutine it runs, or NULL on g0
     * (the switch sets it; include/gort/internal/gcsched.h). */
    const uint32_t *gscan;
    _Atomic uint32_t resume;
    _Atomic uint32_t wake;          /* futex the collector sleeps on while it waits for an answer:
                                       bumped by the thread when it parks, or blocks, with a
                                       request open (gc/thread.c, wake_collector) */
    /* The P whose spans, barrier buffer and assist state the thread uses: its own,
     * or, for an M holding a scheduler P, that P's (changed by the thread itself,
     * outside critical sections). */
    gc_p    *p;
    gc_p     own;
    void    *m;                     /* the scheduler's M it is, or NULL (own thread) */
    _Atomic uint32_t bstate;        /* TS_RUNNING / TS_BLOCKED (own thread) / TS_HELD (collector) */
    bool      held;                 /* the collector holds it blocked (collector, threads lock) */
    bool      local;                /* this stop found it on the collector's CPU (collector, threads lock) */
    bool      kick;                 /* it asked for a cycle inside a critical section: wake the
                                       collector when the allocation ends (own thread, gc/gc.c) */
    uintptr_t sp;                   /* parked: lowest stack address to scan (own thread, before ack) */
    uintptr_t regs[40];             /* parked: the interrupted general registers */
    unsigned  nregs;
    uintptr_t stack_lo, stack_hi;   /* set at registration */
    pid_t     tid;
    /* The CPU the thread runs on or last ran on, as the kernel keeps it in the
     * thread's rseq area (glibc registers one per thread); NULL if none. */
    const volatile uint32_t *cpu;
    uint32_t  scanned_cycle;        /* cycle whose stack scan is done (collector, threads lock) */
    /* Signals 1-64 (bit sig - 1) the thread normally blocks: one blocked where a
     * stop's signal arrives and not here means another signal's handler was
     * interrupted (gc/thread.c, in_other_handler).  Own thread; ~0 if not known. */
    uint64_t  sigbase;
    _Atomic int nested;             /* a stop found it inside another handler: send again */
    _Atomic int park_anyway;        /* sent again too often: park even there (collector) */
    _Atomic uint32_t parked;        /* in park (gc/thread.c), waiting for resume (own thread) */
    bool      registered;           /* in the thread list (threads lock) */
    bool      is_main;
    struct gc_thread *next, *prev;  /* the thread list (threads lock) */
    struct gc_thread *free_next;
} gc_thread;

extern __thread gc_thread *gort__gc_self;
gc_thread *gort__gc_self_slow(void);          /* registers the caller if needed; NULL on failure */

GORT_INLINE gc_thread *gc_self(void) {
    gc_thread *t = gort__gc_self;
    return GORT_LIKELY(t != NULL) ? t : gort__gc_self_slow();
}

/* Critical sections: a registered thread is never stopped inside one; a stop that
 * arrives is deferred to the end of the section.  Inside, a thread may take only
 * the GC's own locks (never gort_malloc's, never the threads lock), and must not
 * block for long.  See "Stopping threads" in gc/gc.c. */
void gort__gc_park_deferred(gc_thread *t);
gc_thread *gort__gc_self_reload(void);
GORT_INLINE void crit_enter(gc_thread *t) {
    /* A record is its own thread's, a P's state one thread's (gort__gc_self_reload:
     * an inlined read of gort__gc_self may use a stale thread pointer). */
    GORT_DASSERT(t->crit > 0 || (t == gort__gc_self_reload() && t->p->user == t));
    t->crit++;
    atomic_signal_fence(memory_order_seq_cst);
}
/* The same test as the scheduler's gort__gcm_exit (include/gort/internal/gcsched.h). */
GORT_INLINE void crit_exit(gc_thread *t) {
    atomic_signal_fence(memory_order_seq_cst);
    if (--t->crit == 0 && GORT_UNLIKELY(GORT_GCM_STOP_WAITING(t)))
        gort__gc_park_deferred(t);
}

/* Blocking inside gort (Go's syscall state): fn(arg) runs with the thread marked
 * blocked, its stack published, so the collector treats it as stopped without a
 * signal; when fn returns, the thread waits if the collector holds it. */
enum { TS_RUNNING = 0, TS_BLOCKED = 1, TS_HELD = 2 };
void gort__gc_blocking(gc_thread *t, void (*fn)(void *), void *arg);
/* The same for a wait that may be long (a goroutine lends its P meanwhile, and
 * may return on another thread: gort__gc_self_reload after). */
void gort__gc_wait(gc_thread *t, void (*fn)(void *), void *arg);

/* In a child forked after the collector started, the parent's pid (else 0): the
 * collector's threads do not exist here, so no cycle ever runs (gc/gc.c, "Fork"). */
extern int gort__gc_forked_from;

/* ---- threads and handshakes (gc/thread.c) -------------------------------------------- */
void gort__gc_init(void);                     /* idempotent; everything on first use */
void gort__gc_classes_init(void);             /* alloc/gcheap.c's size-class table; at init */
extern gort_mutex_t gort__gc_threads_lock;
extern gc_thread *gort__gc_threads;           /* registered threads (threads lock) */
extern int gort__gc_nthreads;
/* Stop one thread / every thread (threads lock held); false if t is gone. */
bool gort__gc_stop_one(gc_thread *t);
void gort__gc_resume_one(gc_thread *t);
void gort__gc_stop_world(void);               /* takes the threads lock; times the pause */
int64_t gort__gc_start_world(void);           /* releases it; returns when (the end of the pause) */
void gort__gc_thread_init_signals(void);

/* ---- marking (gc/mark.c) ------------------------------------------------------------ */
void gort__gc_shade(gcwork *w, uintptr_t p);              /* grey p if it is a white GC object */
#define SHADE_BATCH 64
void gort__gc_shade_batch(gcwork *w, const uintptr_t *v, uint32_t n);   /* n <= SHADE_BATCH */
void gort__gc_scan_range(gcwork *w, uintptr_t lo, uintptr_t hi);   /* conservatively */
void gort__gc_gcw_init(gcwork *w);
void gort__gc_gcw_dispose(gcwork *w);                      /* push local work to the pool; inactive */
bool gort__gc_drain(gcwork *w, int64_t budget);            /* scan until budget bytes or no work; true if work ran out */
bool gort__gc_mark_idle(void);                             /* pool empty and no active marker */
void gort__gc_mark_wait_idle(int64_t timeout_ns);          /* sleep until the pool may be idle (coordinator) */
void gort__gc_mark_prepare(void);                          /* at sweep termination (STW) */
void gort__gc_workers_start(void);                          /* background workers for this mark */
void gort__gc_workers_stop(void);
void gort__gc_workers_stop_async(void);
uint64_t gort__gc_mark_bytes(void);                         /* bytes marked this cycle */
uint64_t gort__gc_black_bytes(void);                        /* of which allocated during the mark */
uint64_t gort__gc_scan_work(void);                          /* bytes scanned this cycle */
void gort__gc_flush_wbuf(gc_p *p, gcwork *w);
void gort__gc_scan_object_now(gcwork *w, uintptr_t obj);   /* obj's contents, not obj */
void gort__gc_assist(gc_thread *t);                         /* pay the P's allocation debt */
void gort__gc_scrub_stack(gc_thread *t, unsigned bytes);     /* zero the dead stack below (alloc/gcheap.c) */
/* CPU time of marking (ns): background workers (idle ones included), assists. */
extern _Atomic uint64_t gort__gc_bg_cpu_ns, gort__gc_assist_cpu_ns, gort__gc_nassists, gort__gc_nassists_capped;
/* Parts of the collector's CPU time that gort_gc_stats reports apart (gc/stats.c):
 * the idle workers' and idle Ps' marking (also in gort__gc_bg_cpu_ns), the
 * background sweeper thread, and the collector thread (gort-gc) itself. */
extern _Atomic uint64_t gort__gc_idle_cpu_ns, gort__gc_sweep_cpu_ns, gort__gc_coord_cpu_ns;
int64_t gort__gc_thread_cpu_ns(void);   /* the calling thread's CPU clock (a system call) */

/* ---- roots (gc/roots.c) --------------------------------------------------------------- */
void gort__gc_roots_init(void);
void gort__gc_roots_snapshot(void);          /* collect data/bss/registered ranges (world running) */
bool gort__gc_roots_scan_globals(gcwork *w); /* scan a chunk; false when none is left */
void gort__gc_scan_thread(gcwork *w, gc_thread *t, uint32_t cycle);   /* t parked: its stack and registers */
void gort__gc_scan_cb(uintptr_t lo, uintptr_t hi, const char *what, void *arg);   /* a gort__gc_range_fn into a gcwork */
typedef void (*gc_root_fn)(uintptr_t lo, uintptr_t hi, const char *what, void *arg);
void gort__gc_roots_each_global(gc_root_fn fn, void *arg);   /* snapshot's ranges */

/* ---- the allocator side (alloc/gcheap.c) ---------------------------------------------- */
typedef struct gc_central {
    gort_mutex_t lock;
    span_list partial[2];   /* [sweepgen/2 % 2]: swept, with free slots; the other: unswept */
    span_list full[2];      /* likewise, without free slots (large objects live here) */
    _Atomic uint32_t n[4];  /* partial[0], partial[1], full[0], full[1] lengths, for a lock-free peek */
} GORT_ALIGNED_CL gc_central;
extern gc_central gort__gc_central[GC_NSPC];
extern _Atomic uint64_t gort__gc_heap_live;     /* Go's heapLive: marked + handed to caches since */
extern _Atomic uint64_t gort__gc_total_alloc;   /* bytes of objects ever allocated */
extern _Atomic int64_t  gort__gc_sweepers;      /* sweeps in flight */
extern _Atomic uint64_t gort__gc_nspans;        /* live GC spans */
/* Allocation of a GC object of each kind (alloc/gcheap.c): zeroed, or NULL
 * with errno set.  t: an object's type, with a pointer word. */
void *gort__gc_alloc_cons(size_t n);
void *gort__gc_alloc_noscan(size_t n);
void *gort__gc_alloc_typed(size_t n, const gort_gc_type_t *t);
/* The allocation slow path is a scheduler safe point for calls from the program
 * only, told apart by alloc_bail's return address: the program's call site when
 * every call on the way is a tail call.  Builds where they may not be (sanitizers,
 * -O0) hand the call site over explicitly: the public entry points set this
 * around their call, and alloc_bail takes it (0 for the runtime's own calls).
 * Per thread, i.e. per M: goroutines on one M use it in turn (atomics, so that
 * ThreadSanitizer, which sees goroutines as fibers, does not call it a race). */
#if defined(GORT_SANITIZE_BUILD) || !defined(__OPTIMIZE__)
#define GC_ALLOC_RA_TLS 1
extern __thread uintptr_t gort__gc_alloc_ra;
#endif
void  gort__gc_release_retired(void);           /* emptied spans back to the page heap (collector threads) */
void  gort__gc_release_p(gc_p *p);             /* give a P's spans back (STW or its own thread in crit) */
void  gort__gc_mark_begin_p(gc_p *p);          /* at sweep termination (STW): see "Allocate-black in bulk" */
int   gort__gc_sweep_batch(void);              /* sweep unswept spans of a class (a batch): how many, or 0 if none is left */
int   gort__gc_sweep_one_mutator(gc_thread *t);   /* one unswept span, from a registered thread: 1, or 0 */
void  gort__gc_sweep_span_stw(void);           /* gcstoptheworld: sweep everything now */
bool  gort__gc_sweep_done(void);
void  gort__gc_sweep_begin(void);              /* mark termination, after sweepgen += 2 */
/* After the pacer set the next trigger (STW): allocations sweep in proportion
 * from heap_live on, so that the sweep is done before the trigger. */
void  gort__gc_sweep_pace(uint64_t heap_live, uint64_t trigger);
void  gort__gc_each_span(void (*fn)(mspan *s, void *arg), void *arg);   /* world stopped */
/* Object lookup: base of the allocated GC object containing p, its span and index;
 * 0 if p is not inside an allocated GC object. */
uintptr_t gort__gc_find_object(uintptr_t p, mspan **sp, uint32_t *idxp);
size_t gort__gc_obj_size(const mspan *s);      /* bytes to scan */
const char *gort__gc_kind_name(int kind);

/* ---- pacer (gc/pacer.c) ----------------------------------------------------------------- */
extern _Atomic uint64_t gort__gc_trigger;       /* heap_live at which the next cycle starts */
extern _Atomic uint64_t gort__gc_goal;
extern _Atomic int gort__gc_goal_limited;   /* the goal is the memory limit's, not GORT_GC's */
extern _Atomic uint64_t gort__gc_overdue_waits;
extern _Atomic uint64_t gort__gc_heap_marked;   /* live bytes after the last mark */
extern _Atomic int      gort__gc_percent;
extern _Atomic int64_t  gort__gc_memlimit;
void   gort__gc_pacer_init(void);
void   gort__gc_pacer_mark_start(void);         /* STW: assist ratio for this cycle */
void   gort__gc_pacer_mark_done(uint64_t marked, uint64_t traced, uint64_t heap_live_at_end);   /* STW */
double gort__gc_assist_work_per_byte(void);     /* scan work owed per byte allocated */
void   gort__gc_pacer_enforce_limit(void);      /* after sweeping: scavenge under the limit */
/* A stop's signal handler, before it parks the thread: a thread stopped inside the
 * barrier's restartable store goes back to its phase read (gc/barrier.c). */
void   gort__gc_wb_rewind(void *uc);
extern _Atomic uint64_t gort__gc_wb_rewinds;   /* how often (tests) */
int    gort__gc_wb_restartable(void);           /* 1 if the store is the restartable sequence */
/* A span refill or large allocation made heap_live grow: maybe start a cycle. */
void   gort__gc_maybe_trigger(uint64_t heap_live);

/* ---- cycles (gc/gc.c) ------------------------------------------------------------------- */
void gort__gc_request_cycle(bool forced);
void gort__gc_kick(gc_thread *t);

/* fork (gc/gc.c, "Fork"): every lock of a module's that a thread may hold between
 * cycles, written to out; the number written.  gc/gc.c takes them all around a
 * fork, in the rank checker's order, so that the child never inherits a list
 * half changed by a thread that is not there. */
enum { GC_HEAP_LOCKS = GC_NSPC + 3 };   /* the central lists; bitmaps, bounds, retired spans */
unsigned gort__gc_heap_locks(gort_mutex_t **out);        /* alloc/gcheap.c */
unsigned gort__gc_finalizer_locks(gort_mutex_t **out);   /* the records', the queue's */
unsigned gort__gc_roots_locks(gort_mutex_t **out);
unsigned gort__gc_mark_locks(gort_mutex_t **out);        /* the work pool's */
unsigned gort__gc_pacer_locks(gort_mutex_t **out);
void gort__gc_wait_overdue(gc_thread *t);    /* outside any critical section (gc/pacer.c) */
extern _Atomic int64_t gort__gc_bg_credit;      /* background scan credit, in bytes of allocation */

/* ---- finalizers (gc/finalizer.c) ---------------------------------------------------- */
typedef struct gc_special {
    uintptr_t obj;
    void (*fn)(void *obj, void *arg);
    void *arg;
    struct gc_special *next;          /* in its span's list, or in the queue */
    struct gc_special *next_all, *prev_all;   /* every record (not queued ones) */
} gc_special;
void gort__gc_finalizer_roots(gcwork *w);        /* mark what finalizable objects reach */
void gort__gc_finalizer_sweep(mspan *s);         /* s being swept: queue the dead */
void gort__gc_finalizer_wake(void);
extern _Atomic uint64_t gort__gc_finalizers_run;
void gort__gc_finalizer_each(void (*fn)(uintptr_t obj, uintptr_t arg, bool queued, void *ctx), void *ctx);

/* ---- sweeper (gc/sweep.c) --------------------------------------------------------------- */
void gort__gc_sweeper_wake(void);
void gort__gc_finish_sweep(void);               /* sweep what is left and wait for sweepers */

/* ---- checkmark (gc/checkmark.c) --------------------------------------------------------- */
void gort__gc_checkmark(void);                  /* world stopped, mark complete */

/* ---- statistics (gc/stats.c) ------------------------------------------------------------ */
void gort__gc_pause_record(int64_t ns);
void gort__gc_ttsp_record(int64_t ns);
void gort__gc_stop_counts(uint64_t *polled, uint64_t *signalled, uint64_t *held);   /* gc/thread.c */
int64_t gort__gc_start_ns(void);
void gort__gc_trace_cycle(uint32_t n, int64_t t0, int64_t stw1, int64_t mark, int64_t stw2,
                          uint64_t cpu_assist, uint64_t cpu_bg, uint64_t cpu_idle, uint64_t heap0, uint64_t heap1,
                          uint64_t marked, uint64_t goal, int nprocs, bool forced);
extern _Atomic uint64_t gort__gc_num, gort__gc_num_forced;
extern _Atomic uint64_t gort__gc_stw_cpu_ns;

#endif
