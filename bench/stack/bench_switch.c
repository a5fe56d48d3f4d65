/* bench/stack/bench_switch.c — context switches and stack pool (issue 4).
 *
 *   BM_stack_switch/i     gort_ctx_switch ping-pong between main and one context,
 *                         the two gort_ctx_t at placement i (see below)
 *   BM_stack_swapcontext  the same with glibc's swapcontext (a sigprocmask each)
 *   BM_stack_fcontext     the same with Boost.Context's jump_fcontext (bench_fcontext.cc)
 *   BM_stack_pool/n       gort_stack_alloc(n) + gort_stack_free: 0 = default class
 *                         (per-thread cache), 1 MiB (a class with only the global pool)
 *   BM_stack_spawn        alloc + gort_ctx_make + first switch in and back + free:
 *                         what a goroutine's start and exit cost the stack module
 *
 * An iteration of a ping-pong is a round trip, two switches: items_per_second
 * counts switches.  bench/stack/run.sh runs them and writes bench/results/stack.md. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <gort/stack.h>

#include "gort_bench.h"

/* ---- gort ---------------------------------------------------------------------------
 * gort_ctx_switch keeps the saved sp in memory (the gort_ctx_t, in a real
 * scheduler inside the goroutine's G), where jump_fcontext hands it back in a
 * register.  A load that matches an in-flight store in its address's low 12
 * bits can stall ("4K aliasing"), so the time depends a little on where the two
 * gort_ctx_t sit relative to the stack frames.  BM_stack_switch/i places them at
 * 16 page offsets, side by side as two globals would be (the context's at
 * i * 256 + 192, main's 64 bytes after it; i = 14 has the page offsets of two
 * globals that once measured 0.5 ns a switch slower, in an earlier version of
 * this file); run.sh reports the median over the placements, and the range. */

static char ctx_arena[3 * 4096] __attribute__((aligned(4096)));
static gort_ctx_t *g_main, *g_co;

static void g_fn(void *arg) {
    (void)arg;
    for (;;)
        gort_ctx_switch(g_co, g_main);
}

static void BM_stack_switch(gort_bench_state_t *st) {
    int64_t i = gort_bench_range(st, 0);
    g_co = (gort_ctx_t *)(ctx_arena + 4096 + i * 256 + 192);
    g_main = (gort_ctx_t *)((char *)g_co + 64);
    gort_stack_t s;
    if (gort_stack_alloc(&s, 0) != 0) {
        gort_bench_skip(st, "gort_stack_alloc failed");
        return;
    }
    gort_ctx_make(g_co, &s, g_fn, NULL);
    gort_ctx_switch(g_main, g_co);
    while (gort_bench_keep_running(st))
        gort_ctx_switch(g_main, g_co);
    gort_bench_set_items_processed(st, 2 * gort_bench_iterations(st));
    gort_stack_free(&s);
}
GORT_BENCHMARK(BM_stack_switch, .args = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
               .nargs = 16);

/* ---- swapcontext ------------------------------------------------------------------------ */

static ucontext_t u_main, u_co;

static void u_fn(void) {
    for (;;)
        swapcontext(&u_co, &u_main);
}

static void BM_stack_swapcontext(gort_bench_state_t *st) {
    size_t size = 64 << 10;
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        gort_bench_skip(st, "mmap failed");
        return;
    }
    getcontext(&u_co);
    u_co.uc_stack.ss_sp = mem;
    u_co.uc_stack.ss_size = size;
    u_co.uc_link = NULL;
    makecontext(&u_co, u_fn, 0);
    swapcontext(&u_main, &u_co);
    while (gort_bench_keep_running(st))
        swapcontext(&u_main, &u_co);
    gort_bench_set_items_processed(st, 2 * gort_bench_iterations(st));
    munmap(mem, size);
}
GORT_BENCHMARK(BM_stack_swapcontext);

/* ---- the pool ----------------------------------------------------------------------------- */

static void BM_stack_pool(gort_bench_state_t *st) {
    size_t size = (size_t)gort_bench_range(st, 0);
    gort_stack_t s;
    /* warm the pool for this class */
    if (gort_stack_alloc(&s, size) != 0) {
        gort_bench_skip(st, "gort_stack_alloc failed");
        return;
    }
    gort_stack_free(&s);
    while (gort_bench_keep_running(st)) {
        gort_stack_alloc(&s, size);
        gort_bench_do_not_optimize(s.lo);
        gort_stack_free(&s);
    }
    gort_bench_set_items_processed(st, gort_bench_iterations(st));
}
GORT_BENCHMARK(BM_stack_pool, .args = {0, 1 << 20}, .nargs = 2);

/* ---- a context's whole life ------------------------------------------------------------------ */

static gort_ctx_t sp_main, sp_co;

static void sp_fn(void *arg) {
    (void)arg;
    for (;;)
        gort_ctx_switch(&sp_co, &sp_main);
}

static void BM_stack_spawn(gort_bench_state_t *st) {
    gort_stack_t s;
    while (gort_bench_keep_running(st)) {
        gort_stack_alloc(&s, 0);
        gort_ctx_make(&sp_co, &s, sp_fn, NULL);
        gort_ctx_switch(&sp_main, &sp_co);
        gort_stack_free(&s);
    }
    gort_bench_set_items_processed(st, gort_bench_iterations(st));
}
GORT_BENCHMARK(BM_stack_spawn);
