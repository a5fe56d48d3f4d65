/* gort/gc.h — the garbage-collected heap: a concurrent, non-moving mark-sweep
 * collector after Go's (hybrid write barrier, mark assists, a pacer, concurrent
 * sweeping), in the same arenas and spans as gort_malloc.  docs/gc.md is the
 * user's guide; gc/gc.c holds the design essay.
 *
 * What the collector sees (its roots):
 *   - the data and bss of the executable and of every loaded shared object;
 *   - ranges registered with gort_gc_add_roots;
 *   - the stacks and registers of registered threads (the main thread is
 *     registered by itself; a thread that calls gort_gc_alloc* is registered on
 *     its first call; others call gort_gc_register_thread);
 *   - objects waiting for their finalizer.
 * Memory from gort_malloc, libc malloc or mmap is NOT scanned unless registered,
 * nor are __thread variables: a GC pointer kept only there may be collected.
 *
 * The rule of the write barrier: every store of a pointer into memory that is
 * not the storing thread's own stack (a GC object — a freshly allocated one
 * included —, a global, a registered range, another thread's stack) must go
 * through GORT_GC_STORE / gort_gc_store.  Objects allocated while a mark runs are
 * black (never scanned), so an unbarriered store into even a brand-new object can
 * hide what it points to.  Stores into a thread's own locals need no barrier.
 *
 * Registered threads are briefly stopped with a signal (SIGPWR) so that their
 * stacks can be scanned; system calls they are blocked in may return EINTR.  A
 * registered thread must not block SIGPWR.  gort_free/gort_realloc of a GC object
 * is a fatal error. */
#ifndef GORT_GC_H
#define GORT_GC_H

#include <stddef.h>
#include <stdint.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_gc_type {
    size_t          size;     /* bytes of one object; gort_gc_alloc_typed's n may be a multiple of it (an array) */
    const uint64_t *ptrmask;  /* bit i (LSB first: word i/64, bit i%64) set = word i of the object may hold a GC pointer */
    const char     *name;     /* optional (NULL allowed), shown in dumps and profiles */
} gort_gc_type_t;

typedef struct gort_gc_stats {
    uint64_t num_gc;                      /* completed cycles */
    uint64_t pause_total_ns, pause_max_ns;/* over every stop-the-world phase since start (or since the last reset) */
    uint64_t pause_p50_ns, pause_p99_ns;  /* quantiles of the same phases (histogram buckets of 1/16 octave) */
    size_t   heap_live;                   /* bytes marked live by the last completed cycle */
    size_t   heap_goal;                   /* the pacer's current goal */
    double   gc_cpu_fraction;             /* GC CPU time / (CPUs x wall time since start), as Go's */
    /* -- beyond the minimum -- */
    uint64_t num_pauses;                  /* stop-the-world phases counted in the quantiles */
    size_t   heap_alloc;                  /* bytes of GC objects allocated now (live + not yet swept) */
    uint64_t total_alloc;                 /* cumulative bytes handed to allocating threads (span room, large objects) */
    uint64_t num_forced;                  /* cycles started by gort_gc_collect */
    uint64_t num_assists;                 /* mark assists run by allocating threads */
    uint64_t finalizers_run;
    uint64_t num_assists_capped;          /* assists cut short by the per-thread assist time budget (docs/gc.md) */
    /* Time to safe point: the part of each pause from the request to stop until the
     * last thread (an M running goroutines, or a registered thread) has stopped. */
    uint64_t ttsp_max_ns, ttsp_p99_ns;
    /* Where the collector's CPU time went, in ns since start (gort_gc_stats_reset
     * leaves them).  The first four add up to what gc_cpu_fraction counts:
     * cpu_assist_ns        mark assists, on the allocating threads (time inside them);
     * cpu_background_ns    background marking: dedicated and fractional workers, the
     *                      Ps' shares, the collector thread's own marking;
     * cpu_idle_ns          marking on CPUs nothing else wanted (idle workers, idle Ps);
     * cpu_pause_ns         stop-the-world phases x CPUs, as Go counts them.
     * Beside them, not in gc_cpu_fraction:
     * cpu_sweep_ns         the background sweeper thread (a span swept by an allocating
     *                      thread before it reuses it is that thread's time, as in Go);
     * cpu_collector_ns     the collector thread's whole CPU time, stopping and
     *                      restarting the world and waiting for markers included
     *                      (its marking is also in cpu_background_ns). */
    uint64_t cpu_assist_ns, cpu_background_ns, cpu_idle_ns, cpu_pause_ns;
    uint64_t cpu_sweep_ns, cpu_collector_ns;
    /* How threads answered the collector's stops since start, one count per thread
     * per stop (the world's stops and the one-thread stops that scan a stack):
     * stops_polled         at the end of a runtime critical section (allocating, a
     *                      barrier, a goroutine switch), asked through memory;
     * stops_signalled      sent SIGPWR: the thread had not answered within 10 us, or
     *                      was waiting for the collector's own CPU (signalled at once);
     * stops_held           blocked inside gort (a wait, an idle M), or still parked
     *                      from the stop before: taken as stopped, no signal. */
    uint64_t stops_polled, stops_signalled, stops_held;
} gort_gc_stats_t;

/* The pause histogram behind gort_gc_stats: buckets of 1/16 octave, [lo_ns, hi_ns).
 * gort_gc_pause_histogram fills at most max non-empty buckets, lowest first, and
 * returns how many non-empty buckets there are (which may exceed max). */
typedef struct gort_gc_pause_bucket {
    uint64_t lo_ns, hi_ns;
    uint64_t count;
} gort_gc_pause_bucket_t;
GORT_API int gort_gc_pause_histogram(gort_gc_pause_bucket_t *out, int max);

/* Every GC object is zeroed, and 16-byte aligned if n >= 16, except for n of 17 to 24:
 * those come from a 24-byte class (Go's) and are 8-byte aligned (docs/gc.md). */
GORT_API void *gort_gc_alloc(size_t n);                 /* zeroed; scanned conservatively; interior pointers keep it alive */
GORT_API void *gort_gc_alloc_noscan(size_t n);          /* zeroed; never scanned */
GORT_API void *gort_gc_alloc_typed(size_t n, const gort_gc_type_t *t);  /* zeroed; scanned precisely by t->ptrmask */

/* The write barrier and the store: *slot = ptr. */
GORT_API void  gort_gc_store(void **slot, void *ptr);

/* GORT_GC_STORE(lvalue, value): the barrier for any pointer-typed lvalue inside a
 * GC object, a global, or a registered range; evaluates each argument once.  Old
 * and new values that are not gort heap pointers (NULL, integers in
 * conservatively scanned memory) are simply ignored by the barrier. */
#define GORT_GC_STORE(lv, v)                                             \
    do {                                                                 \
        __typeof__(lv) *gort_gc_slot_ = &(lv);                           \
        __typeof__(lv) gort_gc_val_ = (v);                               \
        gort_gc_store((void **)(void *)gort_gc_slot_, (void *)gort_gc_val_); \
    } while (0)

GORT_API void  gort_gc_collect(void);                   /* runtime.GC(): returns when a full cycle, sweep included, is done */
GORT_API void  gort_gc_add_roots(void *lo, void *hi);   /* scan [lo, hi) conservatively, as a global */
GORT_API void  gort_gc_remove_roots(void *lo, void *hi);
GORT_API int   gort_gc_register_thread(void);           /* 0, or -1 + errno */
GORT_API void  gort_gc_unregister_thread(void);
/* Run fn(obj, arg) once, on the finalizer thread, after obj becomes unreachable;
 * what obj reaches stays alive until fn has run, and obj itself until the cycle
 * after.  fn == NULL removes obj's finalizer.  obj must be a GC object's start. */
GORT_API void  gort_gc_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);
GORT_API int   gort_gc_set_percent(int pct);            /* returns the old value; -1 = off */
GORT_API void  gort_gc_set_memory_limit(size_t bytes);  /* SIZE_MAX = none */
GORT_API int   gort_gc_stats(gort_gc_stats_t *out);     /* 0 on success; -1 + EINVAL for NULL */
GORT_API void  gort_gc_stats_reset(void);               /* restart the pause histogram and maximum */

#ifdef __cplusplus
}
#endif
#endif
