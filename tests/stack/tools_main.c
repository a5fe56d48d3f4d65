/* A small program for the debugging tools: valgrind runs it (run_valgrind.sh:
 * no memcheck error, no "client switching stacks?" warning), gdb backtraces its
 * suspended context (run_gdb.sh, the recipe of docs/stack.md), and
 * run_cross.sh runs it, built for AArch64, under qemu-user.  Exits 0.
 *
 *   tools_main            the above
 *   tools_main overflow   a context named "goroutine 5" recurses until its
 *                         stack overflows: dies with gort's report */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "include/gort/stack.h"

gort_ctx_t tools_main_ctx, tools_parked;   /* global, for gdb */
static long total;

/* gdb stops here while tools_parked is suspended inside parked_leaf. */
__attribute__((noinline)) void tools_stop_here(void) {
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static long parked_leaf(int x) {
    volatile char buf[2048];
    memset((char *)buf, x, sizeof buf);
    gort_ctx_switch(&tools_parked, &tools_main_ctx);
    return buf[100];
}

__attribute__((noinline)) static long parked_middle(int x) {
    long r = parked_leaf(x + 1);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

static void parked_fn(void *arg) {
    (void)arg;
    total += parked_middle(1);
    for (;;)
        gort_ctx_switch(&tools_parked, &tools_main_ctx);
}

/* Many contexts, stacks reused, frames deep enough to grow into new pages. */
static gort_ctx_t ring[4];
__attribute__((noinline)) static long deep(int n) {
    volatile char frame[700];
    frame[0] = (char)n;
    frame[699] = (char)n;
    long r = n ? deep(n - 1) : 0;
    __asm__ volatile("" : : "r"(frame) : "memory");
    return r + frame[0] + frame[699];
}

static void ring_fn(void *arg) {
    int i = (int)(intptr_t)arg;
    for (;;) {
        total += deep(30 + i);
        gort_ctx_switch(&ring[i], i == 3 ? &tools_main_ctx : &ring[i + 1]);
    }
}

/* Recursion without end (in practice), a real frame per call. */
static volatile long runaway_limit = -1;
__attribute__((noinline)) static long runaway(long n) {
    volatile char frame[512];
    frame[0] = (char)n;
    if (n == runaway_limit)
        return 0;
    long r = runaway(n + 1);
    __asm__ volatile("" : : "r"(frame) : "memory");
    return r + frame[0];
}

static void runaway_fn(void *arg) {
    (void)arg;
    runaway(0);
}

/* Internal: name the owner in overflow reports (stack/internal.h). */
void gort__stack_set_owner(gort_stack_t *s, const char *kind, uint64_t id);

int main(int argc, char **argv) {
    gort_stack_t s, rs[4];
    if (argc > 1 && !strcmp(argv[1], "overflow")) {
        gort_ctx_t c;
        if (gort_stack_alloc(&s, 0) != 0)
            return 2;
        gort__stack_set_owner(&s, "goroutine", 5);
        printf("stack [%p, %p) size %zu\n", s.lo, s.hi, s.size);
        fflush(stdout);
        gort_ctx_make(&c, &s, runaway_fn, NULL);
        gort_ctx_switch(&tools_main_ctx, &c);
        return 0;   /* not reached */
    }
    if (gort_stack_alloc(&s, 0) != 0)
        return 2;
    gort_ctx_make(&tools_parked, &s, parked_fn, NULL);
    gort_ctx_switch(&tools_main_ctx, &tools_parked);
    tools_stop_here();
    gort_ctx_switch(&tools_main_ctx, &tools_parked);

    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 4; i++) {
            if (gort_stack_alloc(&rs[i], (size_t)i * 50000) != 0)
                return 2;
            gort_ctx_make(&ring[i], &rs[i], ring_fn, (void *)(intptr_t)i);
        }
        for (int lap = 0; lap < 10; lap++)
            gort_ctx_switch(&tools_main_ctx, &ring[0]);
        for (int i = 0; i < 4; i++) {
            gort_stack_shrink(&rs[i], ring[i].sp);
            gort_stack_free(&rs[i]);
        }
    }
    gort_stack_free(&s);
    printf("ok %ld\n", total);
    return 0;
}
