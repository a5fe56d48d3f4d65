/* Passive false sharing (Hoard's cache-scratch): the main thread allocates one small
 * object per thread, back to back (so they share cache lines), and hands one to each
 * thread, which frees it and then allocates, writes and frees small objects in a
 * loop.  An allocator that reuses the freed object for the thread's next allocation
 * keeps the threads writing to one cache line. */
#include "wl.h"

static long iters;

static void *run(void *arg) {
    free(arg);
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
    void *first[64];
    for (int t = 0; t < nt; t++)
        first[t] = malloc(8);
    double t0 = wl_now();
    for (int t = 0; t < nt; t++)
        pthread_create(&th[t], NULL, run, first[t]);
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    wl_report(wl_now() - t0);
    return 0;
}
