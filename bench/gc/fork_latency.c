/* What fork() costs a program that uses the collector (docs/gc.md, "Fork"): a
 * fork waits for the cycle under way.  The main thread holds a live list of
 * LIVE_MIB MiB, forks 200 times (2 ms apart; each child exits at once), and
 * prints the quantiles of fork()'s time in the parent: with a second thread
 * allocating so that cycles run back to back, and, given a second argument,
 * without it (no cycle runs: what the fork costs alone at that heap size).
 *
 *   gcbench_fork_latency LIVE_MIB [quiet] */
#include <gort/gc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *keep[4096];   /* the allocating thread's slots (a root) */
static void *live;         /* the live list (a root) */
static _Atomic int stop;

static void *allocate(void *arg) {
    (void)arg;
    gort_gc_register_thread();
    for (long i = 0; !atomic_load(&stop); i++)
        gort_gc_store(&keep[i % 4096], gort_gc_alloc(64));
    gort_gc_unregister_thread();
    return NULL;
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int live_mib = argc > 1 ? atoi(argv[1]) : 0;
    int quiet = argc > 2;
    for (long i = 0; i < (long)live_mib * (1 << 20) / 64; i++) {
        void **n = gort_gc_alloc(64);
        gort_gc_store(n, live);
        gort_gc_store(&live, n);
    }
    pthread_t th;
    if (!quiet && pthread_create(&th, NULL, allocate, NULL) != 0)
        return 1;
    enum { N = 200 };
    double d[N];
    gort_gc_stats_t a, b;
    gort_gc_stats(&a);
    for (int i = 0; i < N; i++) {
        struct timespec gap = {0, 2000000};
        nanosleep(&gap, NULL);
        double t0 = now_us();
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        d[i] = now_us() - t0;
        waitpid(p, NULL, 0);
    }
    gort_gc_stats(&b);
    atomic_store(&stop, 1);
    if (!quiet)
        pthread_join(th, NULL);
    qsort(d, N, sizeof d[0], cmp);
    printf("| %d | %s | %.0f | %.0f | %.0f | %.0f | %lu |\n", live_mib,
           quiet ? "no" : "back to back", d[N / 2], d[N * 9 / 10], d[N * 99 / 100], d[N - 1],
           (unsigned long)(b.num_gc - a.num_gc));
    return 0;
}
