/* gort/bench shim: register plain C benchmark functions with Google Benchmark.
 *
 *   static void BM_alloc_pair(gort_bench_state_t *st) {
 *       size_t n = (size_t)gort_bench_range(st, 0);
 *       while (gort_bench_keep_running(st)) gort_free(gort_malloc(n));
 *   }
 *   GORT_BENCHMARK(BM_alloc_pair, .args = {16, 256, 4096}, .nargs = 3);
 *
 * Each source file may register any number; bench/shim/gort_bench.cc holds main(). */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_bench_state gort_bench_state_t;
typedef void (*gort_bench_fn)(gort_bench_state_t *st);

typedef struct gort_bench_opts {
    int64_t args[16];   /* one benchmark instance per argument (state.range(0)) */
    int     nargs;      /* 0: a single instance without argument */
    int     threads;    /* > 1: run the function on this many threads at once */
    bool    real_time;  /* report wall time rather than CPU time */
    int64_t iterations; /* > 0: a fixed number of iterations */
} gort_bench_opts_t;

void    gort_bench_register(const char *name, gort_bench_fn fn, gort_bench_opts_t opts);
bool    gort_bench_keep_running(gort_bench_state_t *st);
int64_t gort_bench_range(gort_bench_state_t *st, int i);
int     gort_bench_thread_index(gort_bench_state_t *st);
int     gort_bench_threads(gort_bench_state_t *st);
int64_t gort_bench_iterations(gort_bench_state_t *st);
void    gort_bench_set_items_processed(gort_bench_state_t *st, int64_t n);
void    gort_bench_set_bytes_processed(gort_bench_state_t *st, int64_t n);
void    gort_bench_counter(gort_bench_state_t *st, const char *name, double value);
void    gort_bench_pause(gort_bench_state_t *st);
void    gort_bench_resume(gort_bench_state_t *st);
void    gort_bench_skip(gort_bench_state_t *st, const char *why);
void    gort_bench_do_not_optimize(void *p);

#define GORT_BENCHMARK(fn, ...)                                                   \
    __attribute__((constructor)) static void gort_bench_reg_##fn(void) {          \
        gort_bench_register(#fn, fn, (gort_bench_opts_t){__VA_ARGS__});            \
    }

#ifdef __cplusplus
}
#endif
#endif
