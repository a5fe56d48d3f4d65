/* Larson & Krishnan's server simulation ("Memory allocation for long-running server
 * applications", ISMM 1998): each thread owns a set of blocks and replaces random
 * ones with new blocks of random size; after each round the thread exits and a new
 * thread takes over its blocks, so blocks are freed by threads that did not
 * allocate them, long after. */
#include "wl.h"

#define SLOTS  1000
#define ROUNDS 20

typedef struct {
    void *slot[SLOTS];
    long ops;
    uint64_t seed;
} lane;

static void *round_fn(void *arg) {
    lane *l = arg;
    for (long i = 0; i < l->ops; i++) {
        uint64_t r = wl_rand(&l->seed);
        unsigned k = (unsigned)(r % SLOTS);
        free(l->slot[k]);
        size_t n = 8 + (r >> 32) % 504;
        l->slot[k] = malloc(n);
        wl_touch(l->slot[k], n);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int nt = wl_threads();
    long total = (long)(40e6 * wl_scale(argc, argv));
    lane *lanes = calloc((size_t)nt, sizeof(lane));
    for (int t = 0; t < nt; t++) {
        lanes[t].ops = total / nt / ROUNDS;
        lanes[t].seed = 1000 + (uint64_t)t;
    }
    double t0 = wl_now();
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t th[64];
        for (int t = 0; t < nt; t++)
            pthread_create(&th[t], NULL, round_fn, &lanes[t]);
        for (int t = 0; t < nt; t++)
            pthread_join(th[t], NULL);
    }
    for (int t = 0; t < nt; t++)
        for (int k = 0; k < SLOTS; k++)
            free(lanes[t].slot[k]);
    wl_report(wl_now() - t0);
    free(lanes);
    return 0;
}
