/* bench/alloc/alloc_icount.c — a loop of malloc(32)+free pairs to count under
 * callgrind (issue 2: target <= 40 instructions per pair).
 *
 *   alloc_icount <gort|libc> <pair|batch64> <N>
 *
 * pair: N times malloc(32), touch, free.  batch64: N/64 times 64 mallocs, then their
 * frees.  "gort" calls gort_malloc/gort_free, "libc" plain malloc/free (run it with
 * LD_PRELOAD for the peers).  bench/alloc/run.sh runs it for N and 2N under
 * `valgrind --tool=callgrind --toggle-collect=run_<loop>_<alloc>` and takes
 * (Ir(2N) - Ir(N)) / N, so set-up and first-touch costs cancel.  The loops are
 * noinline so that callgrind can collect exactly them, and so that their own cost
 * (the loop, the store, the calls) shows as the self cost of run_*. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gort/alloc.h>

#define SIZE  32
#define BATCH 64

static inline void escape(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

#define DEFINE_LOOPS(name, ALLOC, FREE)                                  \
    __attribute__((noinline)) static void run_pair_##name(long n) {      \
        for (long k = 0; k < n; k++) {                                   \
            char *p = ALLOC(SIZE);                                       \
            p[0] = 1;                                                    \
            escape(p);                                                   \
            FREE(p);                                                     \
        }                                                                \
    }                                                                    \
    __attribute__((noinline)) static void run_batch64_##name(long n) {   \
        void *ptrs[BATCH];                                               \
        for (long k = 0; k < n / BATCH; k++) {                           \
            for (int i = 0; i < BATCH; i++) {                            \
                char *p = ALLOC(SIZE);                                   \
                p[0] = 1;                                                \
                ptrs[i] = p;                                             \
            }                                                            \
            escape(ptrs);                                                \
            for (int i = 0; i < BATCH; i++)                              \
                FREE(ptrs[i]);                                           \
        }                                                                \
    }

DEFINE_LOOPS(gort, gort_malloc, gort_free)
DEFINE_LOOPS(libc, malloc, free)

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <gort|libc> <pair|batch64> <N>\n", argv[0]);
        return 2;
    }
    const char *a = argv[1], *b = argv[2];
    long n = atol(argv[3]);
    int pair = !strcmp(b, "pair");
    if (!pair && strcmp(b, "batch64")) {
        fprintf(stderr, "alloc_icount: unknown loop '%s'\n", b);
        return 2;
    }
    if (!strcmp(a, "gort") || !strcmp(a, "alloc"))
        pair ? run_pair_gort(n) : run_batch64_gort(n);
    else if (!strcmp(a, "libc"))
        pair ? run_pair_libc(n) : run_batch64_libc(n);
    else {
        fprintf(stderr, "alloc_icount: unknown allocator '%s'\n", a);
        return 2;
    }
    return 0;
}
