/* Active false sharing (Hoard's cache-thrash, Berger et al., ASPLOS 2000): each
 * thread repeatedly allocates a small object, writes it many times, frees it.  An
 * allocator that gives threads objects on the same cache line makes the writes
 * ping-pong the line between cores. */
#include "wl.h"

static long iters;

static void *run(void *arg) {
    (void)arg;
    for (long i = 0; i < iters; i++) {
        volatile char *p = malloc(8);
        for (int k = 0; k < 200; k++)
            p[k & 7] = (char)(p[k & 7] + 1);
        free((void *)p);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int nt = wl_threads();
    iters = (long)(8e6 * wl_scale(argc, argv)) / nt;
    pthread_t th[64];
    double t0 = wl_now();
    for (int t = 0; t < nt; t++)
        pthread_create(&th[t], NULL, run, NULL);
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    wl_report(wl_now() - t0);
    return 0;
}
