/* Many threads each churning their own objects (after mimalloc-bench's mstress,
 * Leijen et al., "Mimalloc: free list sharding in action", 2019): rounds of 4x as
 * many threads as CPUs, each allocating a working set of mixed sizes, freeing and
 * reallocating most of it, and leaving a quarter behind in a shared table for a
 * thread of the next round to free. */
#include "wl.h"

#include <stdatomic.h>

#define WORKSET 2000
#define ROUNDS  10

static void *_Atomic *transfer;   /* per thread slot: blocks left for the next round */
static long steps;
static int nthreads;

static size_t pick(uint64_t *s) {
    uint64_t r = wl_rand(s);
    return (r & 31) == 0 ? 1024 + (r >> 8) % 15360 : 8 + (r >> 8) % 248;
}

static void *worker(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    uint64_t s = id * 7919 + 13;
    void **set = malloc(WORKSET * sizeof(void *));
    for (int i = 0; i < WORKSET; i++) {
        size_t n = pick(&s);
        set[i] = malloc(n);
        wl_touch(set[i], n);
    }
    for (long k = 0; k < steps; k++) {
        unsigned i = (unsigned)(wl_rand(&s) % WORKSET);
        free(set[i]);
        size_t n = pick(&s);
        set[i] = malloc(n);
        wl_touch(set[i], n);
    }
    /* Free three quarters; leave the rest for someone else. */
    for (int i = 0; i < WORKSET; i++) {
        if (i % 4 == 0)
            continue;
        free(set[i]);
        set[i] = NULL;
    }
    void **old = atomic_exchange(&transfer[(id * 5 + 3) % (uintptr_t)nthreads], (void *)set);
    if (old) {
        for (int i = 0; i < WORKSET; i++)
            free(old[i]);
        free(old);
    }
    return NULL;
}

int main(int argc, char **argv) {
    nthreads = 4 * wl_threads();
    steps = (long)(30e6 * wl_scale(argc, argv)) / (nthreads * ROUNDS);
    transfer = calloc((size_t)nthreads, sizeof *transfer);
    pthread_t th[256];
    double t0 = wl_now();
    for (int r = 0; r < ROUNDS; r++) {
        for (int t = 0; t < nthreads; t++)
            pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)(r * nthreads + t));
        for (int t = 0; t < nthreads; t++)
            pthread_join(th[t], NULL);
    }
    for (int t = 0; t < nthreads; t++) {
        void **old = transfer[t];
        if (old) {
            for (int i = 0; i < WORKSET; i++)
                free(old[i]);
            free(old);
        }
    }
    wl_report(wl_now() - t0);
    free((void *)transfer);
    return 0;
}
