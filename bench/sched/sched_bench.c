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
 *
 * Issue 7's workloads (value: the median, in ns, of N samples, except echo):
 * sleep (a 1 ms gort_sleep, alone), hogsleep (a 1 ms sleep while another
 * goroutine spins with no calls: what the hog's preemption costs the
 * sleeper), syscallsleep (a 1 ms sleep while another goroutine is blocked in
 * read() on an empty pipe between gort_syscall_enter/exit), echo (1000 TCP
 * connections on loopback, one server goroutine each, clients doing N round
 * trips of 64 bytes in all; ns per round trip).
 * With SCHED_BENCH_STATS set, spawn, buf1 and buf1024 also print (to stderr)
 * the scheduler's counts per goroutine or message: parks, switches, steals,
 * goroutines stolen, global queue puts, thread sleeps.
 * Google Benchmark is not used here: the Go side cannot use it, and the
 * comparison is only fair with the same driver shape on both sides. */
#include <gort/gort.h>
#include <gort/net.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long N;
static double ns_per_op;

static int64_t now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- spawn --------------------------------------------------------------------------------- */
/* On a line of its own, as Go's (a heap object): beside N, which the spawner
 * reads at every iteration, each gort_wg_done took the line from it. */
static _Alignas(64) struct {
    gort_waitgroup_t wg;
    char pad[64 - sizeof(gort_waitgroup_t) % 64];
} spawn_wg = {GORT_WAITGROUP_INIT, {0}};
#define wg spawn_wg.wg
static void done(void *arg) {
    (void)arg;
    gort_wg_done(&wg);
}
/* With SCHED_BENCH_STATS set: how the scheduler got there, per operation. */
static void print_stats(const char *op) {
    if (!getenv("SCHED_BENCH_STATS"))
        return;
    gort_sched_stats_t st;
    gort_sched_stats(&st);
    fprintf(stderr, "per %s: %.3f parks, %.3f switches, %.4f steals (%.4f stolen), %.4f global puts, %.4f thread sleeps\n",
            op, (double)st.parks / N, (double)st.switches / N, (double)st.steals / N, (double)st.stolen / N,
            (double)st.global_puts / N, (double)st.mparks / N);
}

static void spawn_main(void *arg) {
    (void)arg;
    int64_t t0 = now();
    gort_wg_add(&wg, (int)N);
    for (long i = 0; i < N; i++)
        gort_go(done, NULL);
    gort_wg_wait(&wg);
    ns_per_op = (double)(now() - t0) / N;
    print_stats("goroutine");
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
    print_stats("message");
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

/* ---- issue 7: sleeps, a hog, a blocked system call, echo -------------------------------------- */
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}
static double median_of(int64_t *v, long n) {
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}
static double sample_sleeps(long n) {
    int64_t *v = malloc((size_t)n * sizeof *v);
    for (long i = 0; i < n; i++) {
        int64_t t0 = now();
        gort_sleep(1000000);
        v[i] = now() - t0;
    }
    double m = median_of(v, n);
    free(v);
    return m;
}

static void sleep_main(void *arg) {
    (void)arg;
    ns_per_op = sample_sleeps(N);
}

static volatile int hog_stop;
static void hog(void *arg) {
    (void)arg;
    while (!hog_stop)
        ;
}
static void hogsleep_main(void *arg) {
    (void)arg;
    gort_go(hog, NULL);
    gort_yield();
    ns_per_op = sample_sleeps(N);
    hog_stop = 1;
}

static int pipefd[2];
static void blocked_reader(void *arg) {
    (void)arg;
    char c;
    gort_syscall_enter();
    ssize_t r = read(pipefd[0], &c, 1);
    gort_syscall_exit();
    (void)r;
}
static void syscallsleep_main(void *arg) {
    (void)arg;
    if (pipe(pipefd) != 0)
        abort();
    gort_go(blocked_reader, NULL);
    gort_sleep(20 * 1000000);   /* it is blocked, and its P has been handed back */
    ns_per_op = sample_sleeps(N);
    if (write(pipefd[1], "x", 1) != 1)
        abort();
}

enum { ECHO_CONNS = 1000, ECHO_MSG = 64 };
static struct sockaddr_in echo_addr;
static int echo_ls;
static gort_waitgroup_t echo_wg = GORT_WAITGROUP_INIT;
static void echo_serve(void *arg) {
    int c = (int)(intptr_t)arg;
    char b[ECHO_MSG];
    ssize_t k;
    while ((k = gort_read(c, b, sizeof b)) > 0)
        if (gort_write(c, b, (size_t)k) != k)
            break;
    gort_close(c);
}
static void echo_accept(void *arg) {
    (void)arg;
    int one = 1;
    for (int i = 0; i < ECHO_CONNS; i++) {
        int c = gort_accept(echo_ls, NULL, NULL);
        if (c < 0)
            abort();
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        gort_go(echo_serve, (void *)(intptr_t)c);
    }
}
static void echo_client(void *arg) {
    long rounds = (long)(intptr_t)arg;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (gort_connect(s, (struct sockaddr *)&echo_addr, sizeof echo_addr) != 0)
        abort();
    char out[ECHO_MSG], in[ECHO_MSG];
    memset(out, 'e', sizeof out);
    for (long r = 0; r < rounds; r++) {
        if (gort_write(s, out, sizeof out) != (ssize_t)sizeof out)
            abort();
        size_t got = 0;
        while (got < sizeof in) {
            ssize_t k = gort_read(s, in + got, sizeof in - got);
            if (k <= 0)
                abort();
            got += (size_t)k;
        }
    }
    gort_close(s);
    gort_wg_done(&echo_wg);
}
static void echo_main(void *arg) {
    (void)arg;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    echo_ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    echo_addr.sin_family = AF_INET;
    echo_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof echo_addr;
    if (bind(echo_ls, (struct sockaddr *)&echo_addr, sizeof echo_addr) != 0 ||
        getsockname(echo_ls, (struct sockaddr *)&echo_addr, &l) != 0 || listen(echo_ls, 4096) != 0)
        abort();
    gort_go(echo_accept, NULL);
    long rounds = N / ECHO_CONNS;
    int64_t t0 = now();
    gort_wg_add(&echo_wg, ECHO_CONNS);
    for (int i = 0; i < ECHO_CONNS; i++)
        gort_go(echo_client, (void *)(intptr_t)rounds);
    gort_wg_wait(&echo_wg);
    ns_per_op = (double)(now() - t0) / (double)(rounds * ECHO_CONNS);
    gort_close(echo_ls);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sched_bench spawn|pingpong|buf1|buf1024|skynet|yield|sleep|hogsleep|"
                        "syscallsleep|echo [N]\n");
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
    else if (!strcmp(w, "sleep"))
        r = gort_main(sleep_main, NULL);
    else if (!strcmp(w, "hogsleep"))
        r = gort_main(hogsleep_main, NULL);
    else if (!strcmp(w, "syscallsleep"))
        r = gort_main(syscallsleep_main, NULL);
    else if (!strcmp(w, "echo"))
        r = gort_main(echo_main, NULL);
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
