/* bench/stack/stack_icount.c — N round trips (2N switches) of a ping-pong, to
 * count instructions under callgrind:
 *
 *   stack_icount <gort|fcontext|ucontext> <N>
 *
 * bench/stack/run.sh runs it for N and 2N and takes (Ir(2N) - Ir(N)) / 2N: the
 * instructions of one switch, the calling loop's share included, set-up cancelled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <gort/stack.h>

void stack_icount_fcontext(long n);   /* stack_icount_fcontext.cc */

static gort_ctx_t g_main, g_co;

static void g_fn(void *arg) {
    (void)arg;
    for (;;)
        gort_ctx_switch(&g_co, &g_main);
}

__attribute__((noinline)) static void run_gort(long n) {
    gort_stack_t s;
    if (gort_stack_alloc(&s, 0) != 0)
        exit(2);
    gort_ctx_make(&g_co, &s, g_fn, NULL);
    for (long i = 0; i < n; i++)
        gort_ctx_switch(&g_main, &g_co);
    gort_stack_free(&s);
}

static ucontext_t u_main, u_co;

static void u_fn(void) {
    for (;;)
        swapcontext(&u_co, &u_main);
}

__attribute__((noinline)) static void run_ucontext(long n) {
    size_t size = 64 << 10;
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        exit(2);
    getcontext(&u_co);
    u_co.uc_stack.ss_sp = mem;
    u_co.uc_stack.ss_size = size;
    u_co.uc_link = NULL;
    makecontext(&u_co, u_fn, 0);
    for (long i = 0; i < n; i++)
        swapcontext(&u_main, &u_co);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s gort|fcontext|ucontext N\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "gort"))
        run_gort(n);
    else if (!strcmp(argv[1], "fcontext"))
        stack_icount_fcontext(n);
    else if (!strcmp(argv[1], "ucontext"))
        run_ucontext(n);
    else
        return 2;
    return 0;
}
