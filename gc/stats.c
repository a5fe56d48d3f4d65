/* Collector statistics: the pause histogram (every stop-the-world phase, timed
 * from the request to stop until the collector releases the world; see
 * gort__gc_start_world), gort_gc_stats, and the
 * GORT_DEBUG=gctrace=1 line per cycle.  See "Observability" in gc/gc.c.
 *
 * The histogram has 16 buckets per power of two (each bucket's bounds within
 * 4.4% of each other) from 256 ns to 2^40 ns; a quantile is reported as the upper
 * bound of its bucket, capped by the exact maximum.  Counters are atomics, so
 * recording a pause never takes a lock. */
#include "gc/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SUB 16
#define MIN_LOG 8
#define MAX_LOG 40
#define NBUCKETS ((MAX_LOG - MIN_LOG) * SUB + 2)

/* A histogram of durations and their maximum. */
typedef struct {
    _Atomic uint64_t b[NBUCKETS];
    _Atomic uint64_t max;
} duration_hist;

static duration_hist pauses;
static _Atomic uint64_t pause_total, pause_count;
/* Time to safe point: from the request to stop until the last thread stopped. */
static duration_hist ttsp;
_Atomic uint64_t gort__gc_num, gort__gc_num_forced;
_Atomic uint64_t gort__gc_stw_cpu_ns;
_Atomic uint64_t gort__gc_idle_cpu_ns, gort__gc_sweep_cpu_ns, gort__gc_coord_cpu_ns;

int64_t gort__gc_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static int64_t t_start;

int64_t gort__gc_start_ns(void) { return t_start; }

static unsigned bucket_of(uint64_t ns) {
    if (ns < ((uint64_t)1 << MIN_LOG))
        return 0;
    unsigned lg = 63 - (unsigned)__builtin_clzll(ns);
    if (lg >= MAX_LOG)
        return NBUCKETS - 1;
    unsigned sub = (unsigned)((ns >> (lg - 4)) & (SUB - 1));   /* next 4 bits below the top */
    return 1 + (lg - MIN_LOG) * SUB + sub;
}

static uint64_t bucket_hi(unsigned b) {
    if (b == 0)
        return (uint64_t)1 << MIN_LOG;
    if (b >= NBUCKETS - 1)
        return UINT64_MAX;
    unsigned lg = (b - 1) / SUB + MIN_LOG, sub = (b - 1) % SUB;
    return ((uint64_t)1 << lg) + ((uint64_t)(sub + 1) << (lg - 4));
}

static void hist_record(duration_hist *h, uint64_t ns) {
    atomic_fetch_add_explicit(&h->b[bucket_of(ns)], 1, memory_order_relaxed);
    uint64_t m = atomic_load(&h->max);
    while (ns > m && !atomic_compare_exchange_weak(&h->max, &m, ns))
        ;
}

static void hist_reset(duration_hist *h) {
    for (unsigned b = 0; b < NBUCKETS; b++)
        atomic_store(&h->b[b], 0);
    atomic_store(&h->max, 0);
}

/* A copy of h's buckets into out; returns the count. */
static uint64_t hist_load(duration_hist *h, uint64_t out[NBUCKETS]) {
    uint64_t total = 0;
    for (unsigned b = 0; b < NBUCKETS; b++)
        total += out[b] = atomic_load(&h->b[b]);
    return total;
}

void gort__gc_pause_record(int64_t ns) {
    if (ns < 0)
        ns = 0;
    hist_record(&pauses, (uint64_t)ns);
    atomic_fetch_add_explicit(&pause_total, (uint64_t)ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&pause_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__gc_stw_cpu_ns, (uint64_t)ns * (uint64_t)gort__gc_ncpu, memory_order_relaxed);
}

void gort__gc_ttsp_record(int64_t ns) {
    hist_record(&ttsp, ns < 0 ? 0 : (uint64_t)ns);
}

static uint64_t quantile(const uint64_t *h, uint64_t total, double q, uint64_t max) {
    if (!total)
        return 0;
    double x = q * (double)total;
    uint64_t want = (uint64_t)x, acc = 0;
    if ((double)want < x)
        want++;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        acc += h[b];
        if (acc >= want && h[b]) {
            uint64_t hi = bucket_hi(b);
            return hi < max ? hi : max;
        }
    }
    return max;
}

static uint64_t bucket_lo(unsigned b) {
    return b == 0 ? 0 : bucket_hi(b - 1);
}

int gort_gc_pause_histogram(gort_gc_pause_bucket_t *out, int max) {
    int n = 0;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        uint64_t c = atomic_load_explicit(&pauses.b[b], memory_order_relaxed);
        if (!c)
            continue;
        if (out && n < max)
            out[n] = (gort_gc_pause_bucket_t){bucket_lo(b), bucket_hi(b), c};
        n++;
    }
    return n;
}

void gort_gc_stats_reset(void) {
    hist_reset(&pauses);
    atomic_store(&pause_total, 0);
    atomic_store(&pause_count, 0);
    hist_reset(&ttsp);
}

int gort_gc_stats(gort_gc_stats_t *out) {
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    gort__gc_init();
    memset(out, 0, sizeof *out);
    uint64_t h[NBUCKETS], total = hist_load(&pauses, h);
    uint64_t max = atomic_load(&pauses.max);
    out->num_gc = atomic_load(&gort__gc_num);
    out->pause_total_ns = atomic_load(&pause_total);
    out->pause_max_ns = max;
    out->pause_p50_ns = quantile(h, total, 0.50, max);
    out->pause_p99_ns = quantile(h, total, 0.99, max);
    out->num_pauses = total;
    out->heap_live = atomic_load(&gort__gc_heap_marked);
    uint64_t goal = atomic_load(&gort__gc_goal);
    out->heap_goal = goal == UINT64_MAX ? SIZE_MAX : goal;
    int64_t wall = gort__nanotime() - t_start;
    uint64_t bg = atomic_load(&gort__gc_bg_cpu_ns), idle = atomic_load(&gort__gc_idle_cpu_ns);
    out->cpu_assist_ns = atomic_load(&gort__gc_assist_cpu_ns);
    out->cpu_idle_ns = idle < bg ? idle : bg;
    out->cpu_background_ns = bg - out->cpu_idle_ns;
    out->cpu_pause_ns = atomic_load(&gort__gc_stw_cpu_ns);
    out->cpu_sweep_ns = atomic_load(&gort__gc_sweep_cpu_ns);
    out->cpu_collector_ns = atomic_load(&gort__gc_coord_cpu_ns);
    uint64_t cpu = bg + out->cpu_assist_ns + out->cpu_pause_ns;
    out->gc_cpu_fraction = wall > 0 ? (double)cpu / ((double)wall * gort__gc_ncpu) : 0;
    /* Counted per span handed to a P (its free room) and per large object: no
     * lock, so stats never wait for a collector that is stopping threads. */
    out->total_alloc = atomic_load(&gort__gc_total_alloc);
    out->heap_alloc = atomic_load(&gort__gc_heap_live);
    out->num_forced = atomic_load(&gort__gc_num_forced);
    out->num_assists = atomic_load(&gort__gc_nassists);
    out->finalizers_run = atomic_load(&gort__gc_finalizers_run);
    out->num_assists_capped = atomic_load(&gort__gc_nassists_capped);
    total = hist_load(&ttsp, h);
    max = atomic_load(&ttsp.max);
    out->ttsp_max_ns = max;
    out->ttsp_p99_ns = quantile(h, total, 0.99, max);
    gort__gc_stop_counts(&out->stops_polled, &out->stops_signalled, &out->stops_held);
    return 0;
}

/* GORT_DEBUG=gctrace=1, in the shape of Go's:
 *   gc 7 @1.234s 3%: 0.021+1.2+0.015 ms clock, 0.042+0.50/1.0/0+0.030 ms cpu,
 *   48->50->24 MB, 50 MB goal, 0 MB stacks, 0 MB globals, 2 P
 * clock: sweep termination STW + concurrent mark + mark termination STW;
 * cpu: STW1 x P + assist/background/idle + STW2 x P. */
void gort__gc_trace_cycle(uint32_t n, int64_t t0, int64_t stw1, int64_t mark, int64_t stw2,
                          uint64_t cpu_assist, uint64_t cpu_bg, uint64_t cpu_idle, uint64_t heap0, uint64_t heap1,
                          uint64_t marked, uint64_t goal, int nprocs, bool forced) {
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    double ms = 1e-6;
    char g[32];
    if (goal == UINT64_MAX)
        snprintf(g, sizeof g, "inf");
    else
        snprintf(g, sizeof g, "%llu", (unsigned long long)(goal >> 20));
    if (cpu_idle > cpu_bg)
        cpu_idle = cpu_bg;
    gort__printf("gc %u @%.3fs %d%%: %.3g+%.3g+%.3g ms clock, %.3g+%.3g/%.3g/%.3g+%.3g ms cpu, "
                 "%llu->%llu->%llu MB, %s MB goal, 0 MB stacks, 0 MB globals, %d P%s\n",
                 n, (double)(t0 - t_start) * 1e-9, (int)(st.gc_cpu_fraction * 100 + 0.5),
                 (double)stw1 * ms, (double)mark * ms, (double)stw2 * ms,
                 (double)stw1 * ms * nprocs, (double)cpu_assist * ms, (double)(cpu_bg - cpu_idle) * ms,
                 (double)cpu_idle * ms, (double)stw2 * ms * nprocs,
                 (unsigned long long)(heap0 >> 20), (unsigned long long)(heap1 >> 20),
                 (unsigned long long)(marked >> 20), g, nprocs, forced ? " (forced)" : "");
}

void gort__gc_stats_init(void);
void gort__gc_stats_init(void) {
    t_start = gort__nanotime();
}
