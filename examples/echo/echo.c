/* examples/echo: a TCP echo server on 127.0.0.1, one goroutine per connection.
 *
 *   echo [PORT]             serve on 127.0.0.1:PORT (default 7007) until killed
 *   echo --selftest [N]     serve on a free port, run N concurrent clients
 *                           (default 1000) against it, check every echo, exit 0
 *
 * Each connection's goroutine reads with gort_read and writes back with
 * gort_write: a goroutine waiting for a client parks in the netpoller
 * (sched/netpoll.c) and costs no thread, so a thousand idle connections are a
 * thousand small goroutines on GORT_MAXPROCS threads.  Try it:
 *
 *   ./echo 7007 &  printf 'hello\n' | nc -q1 127.0.0.1 7007 */
#include <gort/gort.h>
#include <gort/net.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve(void *arg) {
    int c = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = gort_read(c, buf, sizeof buf)) > 0)
        if (gort_write(c, buf, (size_t)n) != n)
            break;
    gort_close(c);
}

static int listener(int port, struct sockaddr_in *addr) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        return -1;
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr->sin_port = htons((uint16_t)port);
    socklen_t l = sizeof *addr;
    if (bind(ls, (struct sockaddr *)addr, sizeof *addr) != 0 || listen(ls, 4096) != 0 ||
        getsockname(ls, (struct sockaddr *)addr, &l) != 0) {
        close(ls);
        return -1;
    }
    return ls;
}

static void accept_loop(void *arg) {
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int c = gort_accept(ls, NULL, NULL);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                gort_sleep(10 * 1000000);   /* out of descriptors: let some close */
                continue;
            }
            return;   /* the listener was closed */
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        gort_go(serve, (void *)(intptr_t)c);
    }
}

/* ---- the self-test: N clients at once ------------------------------------------------------- */

typedef struct {
    struct sockaddr_in addr;
    gort_waitgroup_t wg;
    long good;
} selftest_t;

static void client(void *arg) {
    selftest_t *t = arg;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char out[256], in[256];
    bool ok = s >= 0 && gort_connect(s, (struct sockaddr *)&t->addr, sizeof t->addr) == 0;
    for (int round = 0; ok && round < 10; round++) {
        int len = snprintf(out, sizeof out, "goroutine %llu, round %d\n", (unsigned long long)gort_goid(), round);
        ok = gort_write(s, out, (size_t)len) == len;
        int got = 0;
        while (ok && got < len) {
            ssize_t n = gort_read(s, in + got, (size_t)(len - got));
            ok = n > 0;
            got += ok ? (int)n : 0;
        }
        ok = ok && memcmp(in, out, (size_t)len) == 0;
    }
    if (ok)
        __atomic_fetch_add(&t->good, 1, __ATOMIC_RELAXED);
    if (s >= 0)
        gort_close(s);
    gort_wg_done(&t->wg);
}

static int nclients = 1000, port = 7007, selftest;
static int status;

static void main_g(void *arg) {
    (void)arg;
    struct sockaddr_in addr;
    int ls = listener(selftest ? 0 : port, &addr);
    if (ls < 0) {
        perror("echo: listen");
        status = 1;
        return;
    }
    gort_go(accept_loop, (void *)(intptr_t)ls);
    if (!selftest) {
        printf("echo: serving on 127.0.0.1:%d\n", ntohs(addr.sin_port));
        fflush(stdout);
        gort_chan_recv(NULL, NULL);   /* forever: the server runs until killed */
    }
    selftest_t t = {.addr = addr, .wg = GORT_WAITGROUP_INIT, .good = 0};
    int64_t t0 = gort_nanotime();
    gort_wg_add(&t.wg, nclients);
    for (int i = 0; i < nclients; i++)
        gort_go(client, &t);
    gort_wg_wait(&t.wg);
    gort_sched_stats_t st;
    gort_sched_stats(&st);
    printf("echo: %ld/%d clients echoed correctly in %.1f ms (%d processors, %llu threads)\n", t.good, nclients,
           (double)(gort_nanotime() - t0) / 1e6, st.procs, (unsigned long long)st.threads);
    status = t.good == nclients ? 0 : 1;
    gort_close(ls);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--selftest") == 0) {
        selftest = 1;
        if (argc > 2)
            nclients = atoi(argv[2]);
    } else if (argc > 1) {
        port = atoi(argv[1]);
    }
    struct rlimit rl;   /* two descriptors per self-test client */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (gort_main(main_g, NULL) != 0) {
        perror("echo: gort_main");
        return 1;
    }
    return status;
}
