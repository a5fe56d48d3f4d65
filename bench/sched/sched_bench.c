/* bench/sched/sched_bench: the scheduler workloads of issue 5, one per
 * process run, timed with the monotonic clock (wall time: with P=2 the work
 * is spread over threads), peak RSS from getrusage.  go/main.go runs the same
 * workloads in Go; bench/sched/run.sh runs both side by side.
 *
 *   sched_bench WORKLOAD [N]     prints "WORKLOAD ns_per_op maxrss_kib"
 *
 * Workloads: spawn (N goroutines each doing wg.Done, main waits), pingpong
 * (N round trips over two unbuffered channels), buf1 / buf1024 (N ints
 * through a channel of that capacity, one producer, one consumer), skynet (a
 * 10-ary tree of N goroutines, sums passed up by unbuffered channels; ns per
 * goroutine), yield (two goroutines yielding N times each; ns per yield).
 * Google Benchmark is not used here: the Go side cannot use it, and the
 * comparison is only fair with the same driver shape on both sides. */
#include <gort/gort.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static long N;
static double ns_per_op;

static int64_t now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- spawn --------------------------------------------------------------------------------- */
static gort_waitgroup_t wg = GORT_WAITGROUP_INIT;
static void done(void *arg) {
    (void)arg;
    gort_wg_done(&wg);
}
static void spawn_main(void *arg) {
    (void)arg;
    int64_t t0 = now();
    gort_wg_add(&wg, (int)N);
    for (long i = 0; i < N; i++)
        gort_go(done, NULL);
    gort_wg_wait(&wg);
    ns_per_op = (double)(now() - t0) / N;
}

/* ---- ping-pong ------------------------------------------------------------------------------ */
static gort_chan_t *ping, *pong;
static void ponger(void *arg) {
    (void)arg;
    long v;
    while (gort_chan_recv(ping, &v))
        gort_chan_send(pong, &v);
}
static void pingpong_main(void *arg) {
    (void)arg;
    ping = gort_chan_make(sizeof(long), 0);
    pong = gort_chan_make(sizeof(long), 0);
    gort_go(ponger, NULL);
    long v = 0;
    int64_t t0 = now();
    for (long i = 0; i < N; i++) {
        gort_chan_send(ping, &i);
        gort_chan_recv(pong, &v);
    }
    ns_per_op = (double)(now() - t0) / N;
    gort_chan_close(ping);
}

/* ---- buffered throughput ------------------------------------------------------------------------ */
static gort_chan_t *buf;
static void producer(void *arg) {
    (void)arg;
    for (long i = 0; i < N; i++)
        gort_chan_send(buf, &i);
    gort_chan_close(buf);
}
static void buffered_main(void *arg) {
    buf = gort_chan_make(sizeof(long), (size_t)(uintptr_t)arg);
    int64_t t0 = now();
    gort_go(producer, NULL);
    long v, sum = 0;
    while (gort_chan_recv(buf, &v))
        sum += v;
    ns_per_op = (double)(now() - t0) / N;
    if (sum != N * (N - 1) / 2)
        abort();
}

/* ---- skynet ------------------------------------------------------------------------------------------ */
typedef struct {
    gort_chan_t *out;
    long num, size;
} sky_t;
static void skynet(void *arg) {
    sky_t *s = arg;
    if (s->size == 1) {
        gort_chan_send(s->out, &s->num);
        return;
    }
    gort_chan_t *rc = gort_chan_make(sizeof(long), 0);
    sky_t kids[10];
    long step = s->size / 10;
    for (int i = 0; i < 10; i++) {
        kids[i] = (sky_t){rc, s->num + i * step, step};
        gort_go(skynet, &kids[i]);
    }
    long total = 0, v;
    for (int i = 0; i < 10; i++) {
        gort_chan_recv(rc, &v);
        total += v;
    }
    gort_chan_free(rc);
    gort_chan_send(s->out, &total);
}
static void skynet_main(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(long), 0);
    sky_t root = {c, 0, N};
    int64_t t0 = now();
    gort_go(skynet, &root);
    long total;
    gort_chan_recv(c, &total);
    ns_per_op = (double)(now() - t0) / N;   /* per leaf; x N for the run */
    if (total != N * (N - 1) / 2)
        abort();
}

/* ---- yield ------------------------------------------------------------------------------------------ */
static void yielder(void *arg) {
    (void)arg;
    for (long i = 0; i < N; i++)
        gort_yield();
    gort_wg_done(&wg);
}
static void yield_main(void *arg) {
    (void)arg;
    gort_wg_add(&wg, 2);
    int64_t t0 = now();
    gort_go(yielder, NULL);
    gort_go(yielder, NULL);
    gort_wg_wait(&wg);
    ns_per_op = (double)(now() - t0) / (2.0 * N);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sched_bench spawn|pingpong|buf1|buf1024|skynet|yield [N]\n");
        return 2;
    }
    const char *w = argv[1];
    N = argc > 2 ? atol(argv[2]) : 1000000;
    int r;
    if (!strcmp(w, "spawn"))
        r = gort_main(spawn_main, NULL);
    else if (!strcmp(w, "pingpong"))
        r = gort_main(pingpong_main, NULL);
    else if (!strcmp(w, "buf1"))
        r = gort_main(buffered_main, (void *)1);
    else if (!strcmp(w, "buf1024"))
        r = gort_main(buffered_main, (void *)1024);
    else if (!strcmp(w, "skynet"))
        r = gort_main(skynet_main, NULL);
    else if (!strcmp(w, "yield"))
        r = gort_main(yield_main, NULL);
    else {
        fprintf(stderr, "sched_bench: unknown workload %s\n", w);
        return 2;
    }
    if (r != 0)
        return 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s %.2f %ld\n", w, ns_per_op, ru.ru_maxrss);
    return 0;
}
