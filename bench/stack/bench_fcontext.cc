// bench/stack/bench_fcontext.cc — Boost.Context's jump_fcontext, the reference
// for gort_ctx_switch (issue 4): the same ping-pong as BM_stack_switch.
// jump_fcontext/make_fcontext are extern "C" in <boost/context/detail/fcontext.hpp>
// (libboost-context-dev; linked with -lboost_context).
#include <sys/mman.h>

#include <boost/context/detail/fcontext.hpp>

#include "gort_bench.h"

namespace ctx = boost::context::detail;

static void co_fn(ctx::transfer_t t) {
    for (;;)
        t = ctx::jump_fcontext(t.fctx, nullptr);
}

static void BM_stack_fcontext(gort_bench_state_t *st) {
    const size_t size = 64 << 10;
    void *mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        gort_bench_skip(st, "mmap failed");
        return;
    }
    ctx::fcontext_t f = ctx::make_fcontext(static_cast<char *>(mem) + size, size, co_fn);
    f = ctx::jump_fcontext(f, nullptr).fctx;
    while (gort_bench_keep_running(st))
        f = ctx::jump_fcontext(f, nullptr).fctx;
    gort_bench_set_items_processed(st, 2 * gort_bench_iterations(st));
    munmap(mem, size);
}
GORT_BENCHMARK(BM_stack_fcontext);
