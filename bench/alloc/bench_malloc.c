/* bench/alloc/bench_malloc.c — malloc/free micro-benchmarks (issue 2).
 *
 * One body, two allocators: built as bench_alloc_gort (ALLOC/FREE are
 * gort_malloc/gort_free, -DBENCH_GORT) and as bench_alloc_libc (plain malloc/free;
 * bench/alloc/run.sh runs it as is for glibc and with LD_PRELOAD for jemalloc,
 * mimalloc and tcmalloc).
 *
 *   BM_alloc_pair/n     malloc(n), touch the first byte, free: one pair per iteration.
 *   BM_alloc_batch64/n  64 mallocs (each touched), then their 64 frees in allocation
 *                       order; items = pairs, so items_per_second is per pair.
 *
 * The pointer escapes through an empty asm with a memory clobber (what
 * benchmark::DoNotOptimize does, without the shim's out-of-line call in the timed
 * loop), so the compiler can neither drop the pair nor the store into the block. */
#include <stdlib.h>

#include "gort_bench.h"

#ifdef BENCH_GORT
#include <gort/alloc.h>
#define ALLOC(n) gort_malloc(n)
#define FREE(p)  gort_free(p)
#else
#define ALLOC(n) malloc(n)
#define FREE(p)  free(p)
#endif

#define BATCH 64

static inline void escape(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

static void BM_alloc_pair(gort_bench_state_t *st) {
    size_t n = (size_t)gort_bench_range(st, 0);
    while (gort_bench_keep_running(st)) {
        char *p = ALLOC(n);
        p[0] = 1;
        escape(p);
        FREE(p);
    }
    gort_bench_set_items_processed(st, gort_bench_iterations(st));
}

static void BM_alloc_batch64(gort_bench_state_t *st) {
    size_t n = (size_t)gort_bench_range(st, 0);
    void *ptrs[BATCH];
    while (gort_bench_keep_running(st)) {
        for (int i = 0; i < BATCH; i++) {
            char *p = ALLOC(n);
            p[0] = 1;
            ptrs[i] = p;
        }
        escape(ptrs);
        for (int i = 0; i < BATCH; i++)
            FREE(ptrs[i]);
    }
    gort_bench_set_items_processed(st, gort_bench_iterations(st) * BATCH);
}

#define SIZES .args = {16, 32, 64, 128, 256, 512, 1 << 10, 4 << 10, 16 << 10, 32 << 10, \
                       64 << 10, 256 << 10},                                        \
              .nargs = 12
GORT_BENCHMARK(BM_alloc_pair, SIZES);
GORT_BENCHMARK(BM_alloc_batch64, SIZES);
