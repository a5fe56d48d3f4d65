/* bench/gc: one C source per workload, built against gort (USE_GORT) and against
 * bdwgc (USE_BDWGC).  This header is the collector shim and the measurement:
 * progress stamps of the mutator (written to $STAMPS_FILE for bench/gc/mmu.py),
 * pause statistics, and a RESULT line that bench/gc/run.sh parses. */
#ifndef GORT_BENCH_GC_HARNESS_H
#define GORT_BENCH_GC_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#if defined(USE_GORT)
#include <gort/gort.h>
#define COLLECTOR "gort"
#define GC_ALLOC(n) gort_gc_alloc(n)
#define GC_ALLOC_ATOMIC(n) gort_gc_alloc_noscan(n)
#define GC_SET(lv, v) GORT_GC_STORE(lv, v)
static void gc_setup(void) {}
/* $PAUSES_FILE: the pause histogram, one "lo_ns hi_ns count" line per bucket. */
static void gc_pauses(FILE *fp) {
    gort_gc_pause_bucket_t b[1024];
    int n = gort_gc_pause_histogram(b, 1024);
    for (int i = 0; i < n && i < 1024; i++)
        fprintf(fp, "%llu %llu %llu\n", (unsigned long long)b[i].lo_ns, (unsigned long long)b[i].hi_ns,
                (unsigned long long)b[i].count);
}
static void gc_report(char *buf, size_t n) {
    gort_gc_stats_t st;
    gort_gc_stats(&st);
    snprintf(buf, n, "gcs=%llu p50_ns=%llu p99_ns=%llu max_ns=%llu npauses=%llu gc_cpu=%.4f assists=%llu capped=%llu "
             "ttsp_max_ns=%llu stops=polled:%llu,signalled:%llu,held:%llu "
             "cpu_ms=assist:%.1f,bg:%.1f,idle:%.1f,pause:%.1f,sweep:%.1f,collector:%.1f",
             (unsigned long long)st.num_gc, (unsigned long long)st.pause_p50_ns,
             (unsigned long long)st.pause_p99_ns, (unsigned long long)st.pause_max_ns,
             (unsigned long long)st.num_pauses, st.gc_cpu_fraction,
             (unsigned long long)st.num_assists, (unsigned long long)st.num_assists_capped,
             (unsigned long long)st.ttsp_max_ns, (unsigned long long)st.stops_polled,
             (unsigned long long)st.stops_signalled, (unsigned long long)st.stops_held,
             st.cpu_assist_ns * 1e-6, st.cpu_background_ns * 1e-6, st.cpu_idle_ns * 1e-6,
             st.cpu_pause_ns * 1e-6, st.cpu_sweep_ns * 1e-6, st.cpu_collector_ns * 1e-6);
}
#elif defined(USE_BDWGC)
#include <gc/gc.h>
#define COLLECTOR "bdwgc"
#define GC_ALLOC(n) GC_MALLOC(n)
#define GC_ALLOC_ATOMIC(n) GC_MALLOC_ATOMIC(n)
#define GC_SET(lv, v) ((lv) = (v))
#define MAX_PAUSES (1 << 20)
static int64_t pause_start, *pauses;
static size_t npauses;
static void on_event(GC_EventType e) {
    if (e == GC_EVENT_PRE_STOP_WORLD) {
        pause_start = now_ns();
    } else if (e == GC_EVENT_POST_START_WORLD && pause_start) {
        if (npauses < MAX_PAUSES)
            pauses[npauses++] = now_ns() - pause_start;
        pause_start = 0;
    }
}
static void gc_setup(void) {
    GC_INIT();
    pauses = malloc(MAX_PAUSES * sizeof *pauses);
    GC_set_on_collection_event(on_event);
}
static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}
static int64_t t_start_bdw;
static void gc_pauses(FILE *fp) {   /* every pause: "ns ns 1" */
    for (size_t i = 0; i < npauses; i++)
        fprintf(fp, "%lld %lld 1\n", (long long)pauses[i], (long long)pauses[i]);
}
static void gc_report(char *buf, size_t n) {
    qsort(pauses, npauses, sizeof *pauses, cmp64);
    int64_t p50 = npauses ? pauses[(npauses - 1) / 2] : 0;
    int64_t p99 = npauses ? pauses[(size_t)((double)(npauses - 1) * 0.99)] : 0;
    int64_t mx = npauses ? pauses[npauses - 1] : 0;
    double wall = (double)(now_ns() - t_start_bdw) * 1e-6;
    snprintf(buf, n, "gcs=%lu p50_ns=%lld p99_ns=%lld max_ns=%lld npauses=%zu gc_cpu=%.4f",
             (unsigned long)GC_get_gc_no(), (long long)p50, (long long)p99, (long long)mx, npauses,
             wall > 0 ? (double)GC_get_full_gc_total_time() / wall : 0.0);
}
#else
#error "define USE_GORT or USE_BDWGC"
#endif

/* Progress stamps: the mutator calls STAMP() every unit of work. */
static int64_t *stamps;
static size_t nstamps, stamps_cap;
/* With STAMPS_CPU=1 each stamp also records the thread's CPU time (written to
 * $STAMPS_FILE.cpu): a gap in which the thread ran is the runtime's doing; one in
 * which it did not run is a wait (a lock, a stop) or the OS's scheduling. */
static int64_t *cpu_stamps;

static int64_t t_begin;

static void bench_begin(void) {
    gc_setup();
#if defined(USE_BDWGC)
    t_start_bdw = now_ns();
#endif
    stamps_cap = (size_t)1 << 24;
    stamps = malloc(stamps_cap * sizeof *stamps);   /* libc memory: never scanned */
    if (getenv("STAMPS_CPU") && atoi(getenv("STAMPS_CPU")))
        cpu_stamps = malloc(stamps_cap * sizeof *cpu_stamps);
    t_begin = now_ns();
}


static inline int64_t thread_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void STAMP(void) {
    if (nstamps < stamps_cap) {
        if (cpu_stamps)
            cpu_stamps[nstamps] = thread_ns();
        stamps[nstamps++] = now_ns();
    }
}

static void bench_end(const char *workload, const char *extra) {
    int64_t wall = now_ns() - t_begin;
    char buf[512];
    gc_report(buf, sizeof buf);
    const char *pf = getenv("PAUSES_FILE");
    FILE *pfp;
    if (pf && (pfp = fopen(pf, "w"))) {
        gc_pauses(pfp);
        fclose(pfp);
    }
    const char *f = getenv("STAMPS_FILE");
    if (f) {
        FILE *fp = fopen(f, "wb");
        if (fp) {
            fwrite(stamps, sizeof *stamps, nstamps, fp);
            fclose(fp);
        }
        char cf[4096];
        if (cpu_stamps && snprintf(cf, sizeof cf, "%s.cpu", f) < (int)sizeof cf && (fp = fopen(cf, "wb"))) {
            fwrite(cpu_stamps, sizeof *cpu_stamps, nstamps, fp);
            fclose(fp);
        }
    }
    printf("RESULT collector=%s workload=%s wall_ns=%lld %s %s\n", COLLECTOR, workload,
           (long long)wall, buf, extra ? extra : "");
}

#endif
