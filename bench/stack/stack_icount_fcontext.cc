// bench/stack/stack_icount_fcontext.cc — the jump_fcontext ping-pong for
// stack_icount.c (instructions per switch under callgrind).
#include <cstdlib>
#include <sys/mman.h>

#include <boost/context/detail/fcontext.hpp>

namespace ctx = boost::context::detail;

static void co_fn(ctx::transfer_t t) {
    for (;;)
        t = ctx::jump_fcontext(t.fctx, nullptr);
}

extern "C" __attribute__((noinline)) void stack_icount_fcontext(long n) {
    const size_t size = 64 << 10;
    void *mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        std::exit(2);
    ctx::fcontext_t f = ctx::make_fcontext(static_cast<char *>(mem) + size, size, co_fn);
    for (long i = 0; i < n; i++)
        f = ctx::jump_fcontext(f, nullptr).fctx;
}
