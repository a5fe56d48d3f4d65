// gort/bench shim: the C++ side.  Turns gort_bench_register() calls into Google
// Benchmark registrations and forwards the State methods to C.
#include <benchmark/benchmark.h>

#include "gort_bench.h"

struct gort_bench_state {
    benchmark::State *s;
};

extern "C" {

void gort_bench_register(const char *name, gort_bench_fn fn, gort_bench_opts_t o) {
    auto *b = benchmark::RegisterBenchmark(name, [fn](benchmark::State &s) {
        gort_bench_state st{&s};
        fn(&st);
    });
    for (int i = 0; i < o.nargs; i++)
        b->Arg(o.args[i]);
    if (o.threads > 1)
        b->Threads(o.threads);
    if (o.real_time)
        b->UseRealTime();
    if (o.iterations > 0)
        b->Iterations(o.iterations);
}

bool gort_bench_keep_running(gort_bench_state_t *st) { return st->s->KeepRunning(); }
int64_t gort_bench_range(gort_bench_state_t *st, int i) { return st->s->range(i); }
int gort_bench_thread_index(gort_bench_state_t *st) { return st->s->thread_index(); }
int gort_bench_threads(gort_bench_state_t *st) { return st->s->threads(); }
int64_t gort_bench_iterations(gort_bench_state_t *st) { return st->s->iterations(); }
void gort_bench_set_items_processed(gort_bench_state_t *st, int64_t n) { st->s->SetItemsProcessed(n); }
void gort_bench_set_bytes_processed(gort_bench_state_t *st, int64_t n) { st->s->SetBytesProcessed(n); }
void gort_bench_counter(gort_bench_state_t *st, const char *name, double v) { st->s->counters[name] = v; }
void gort_bench_pause(gort_bench_state_t *st) { st->s->PauseTiming(); }
void gort_bench_resume(gort_bench_state_t *st) { st->s->ResumeTiming(); }
void gort_bench_skip(gort_bench_state_t *st, const char *why) { st->s->SkipWithError(why); }
void gort_bench_do_not_optimize(void *p) { benchmark::DoNotOptimize(p); }

}  // extern "C"

BENCHMARK_MAIN();
