/* The network poller and the descriptor wrappers (sched/netpoll.c): a reader
 * parked on an empty pipe costs no thread; an echo server with one goroutine
 * per connection answers 1 000 concurrent clients correctly; connect errors;
 * files that epoll cannot watch; socket waiters and sleepers are not a
 * deadlock. */
#include "sched/common.h"

#include "include/gort/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* ---- a pipe: the reader parks, its thread does not ------------------------------------------------------ */

static void pipe_reader(void *arg) {
    int *fds = arg;
    char buf[16];
    ssize_t n = gort_read(fds[0], buf, sizeof buf);
    CHECK_EQ(n, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(gort_read(fds[0], buf, sizeof buf), 0);   /* end of file */
    __atomic_store_n(&fds[2], 1, __ATOMIC_SEQ_CST);
}

static void pipe_main(void *arg) {
    (void)arg;
    int fds[3] = {0, 0, 0};
    CHECK_EQ(pipe(fds), 0);
    gort_sched_stats_t st0, st1;
    gort_sched_stats(&st0);
    for (int i = 0; i < 1; i++)
        gort_go(pipe_reader, fds);
    for (int i = 0; i < 100; i++)
        gort_yield();   /* the reader is parked: we run, on the same P */
    CHECK_EQ(__atomic_load_n(&fds[2], __ATOMIC_SEQ_CST), 0);
    CHECK_EQ(gort_num_goroutine(), 2);
    CHECK_EQ(gort_write(fds[1], "hello", 5), 5);
    gort_close(fds[1]);
    while (!__atomic_load_n(&fds[2], __ATOMIC_SEQ_CST))
        gort_sleep(100000);
    gort_sched_stats(&st1);
    CHECK(st1.netpoll_ready >= 1);
    CHECK_EQ(st1.syscalls, st0.syscalls);   /* parked in the poller, not in a system call */
    gort_close(fds[0]);
}

static void test_pipe(void **state) {
    (void)state;
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        run_main(pipe_main, NULL);
    }
}

/* ---- echo: 1000 concurrent clients ------------------------------------------------------------------------ */

enum { NCLIENTS = 1000, ROUNDS = 5, MSG = 100 };

static void serve(void *arg) {
    int c = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = gort_read(c, buf, sizeof buf)) > 0)
        if (gort_write(c, buf, (size_t)n) != n)
            break;
    gort_close(c);
}

typedef struct {
    int ls;
    struct sockaddr_in addr;
    gort_waitgroup_t wg;
    long ok;
} echo_t;

static void acceptor(void *arg) {
    echo_t *e = arg;
    for (;;) {
        int c = gort_accept(e->ls, NULL, NULL);
        if (c < 0)
            return;   /* the listener was closed */
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        gort_go(serve, (void *)(intptr_t)c);
    }
}

static void client(void *arg) {
    echo_t *e = arg;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (gort_connect(s, (struct sockaddr *)&e->addr, sizeof e->addr) != 0) {
        CHECK(!"connect");
        fprintf(stderr, "connect: errno %d\n", errno);
        gort_wg_done(&e->wg);
        return;
    }
    char out[MSG], in[MSG];
    bool good = true;
    for (int r = 0; r < ROUNDS && good; r++) {
        for (int i = 0; i < MSG; i++)
            out[i] = (char)(s * 7 + r * 13 + i);
        good = gort_write(s, out, MSG) == MSG;
        size_t got = 0;
        while (good && got < MSG) {
            ssize_t n = gort_read(s, in + got, MSG - got);
            good = n > 0;
            if (good)
                got += (size_t)n;
        }
        good = good && memcmp(in, out, MSG) == 0;
    }
    CHECK(good);
    if (good)
        __atomic_fetch_add(&e->ok, 1, __ATOMIC_RELAXED);
    gort_close(s);
    gort_wg_done(&e->wg);
}

static void echo_main(void *arg) {
    (void)arg;
    echo_t e = {.wg = GORT_WAITGROUP_INIT};
    e.ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(e.ls >= 0);
    int one = 1;
    setsockopt(e.ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    e.addr.sin_family = AF_INET;
    e.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e.addr.sin_port = 0;
    CHECK_EQ(bind(e.ls, (struct sockaddr *)&e.addr, sizeof e.addr), 0);
    socklen_t l = sizeof e.addr;
    CHECK_EQ(getsockname(e.ls, (struct sockaddr *)&e.addr, &l), 0);
    CHECK_EQ(listen(e.ls, 4096), 0);
    gort_go(acceptor, &e);
    gort_wg_add(&e.wg, NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++)
        gort_go(client, &e);
    gort_wg_wait(&e.wg);
    CHECK_EQ(e.ok, NCLIENTS);
    gort_sched_stats_t st;
    gort_sched_stats(&st);
    print_message("echo, %d clients x %d rounds: %llu threads made, %llu woken by the poller\n", NCLIENTS,
                  ROUNDS, (unsigned long long)st.threads, (unsigned long long)st.netpoll_ready);
    CHECK(st.threads < 16);   /* 2000 sockets waited on, a handful of threads */
    gort_close(e.ls);
}

static void test_echo(void **state) {
    (void)state;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * NCLIENTS + 100) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        run_main(echo_main, NULL);
    }
}

/* ---- errors, files -------------------------------------------------------------------------------------- */

static void errors_main(void *arg) {
    (void)arg;
    /* A port nobody listens on. */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(ls, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &l);
    close(ls);   /* bound, then closed: the port refuses */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    CHECK_EQ(gort_connect(s, (struct sockaddr *)&a, sizeof a), -1);
    CHECK_EQ(errno, ECONNREFUSED);
    gort_close(s);
    /* A bad descriptor. */
    char buf[8];
    errno = 0;
    CHECK_EQ(gort_read(-1, buf, sizeof buf), -1);
    CHECK_EQ(errno, EBADF);
    /* A regular file: epoll refuses it, the wrappers read it in place. */
    char path[] = "/tmp/gort_netpoll_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(gort_write(fd, "file data", 9), 9);
    lseek(fd, 0, SEEK_SET);
    CHECK_EQ(gort_read(fd, buf, sizeof buf), 8);
    CHECK(memcmp(buf, "file dat", 8) == 0);
    gort_close(fd);
}

static void test_errors(void **state) {
    (void)state;
    set_procs(1);
    run_main(errors_main, NULL);
}

/* ---- waiting on a socket or a timer is not a deadlock ------------------------------------------------------ */

static void late_writer(void *arg) {
    int *fds = arg;
    gort_sleep(20 * 1000000);   /* every goroutine is parked meanwhile: one sleeps, one reads */
    CHECK_EQ(gort_write(fds[1], "z", 1), 1);
}

static void not_dead_main(void *arg) {
    (void)arg;
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    gort_go(late_writer, fds);
    char c;
    CHECK_EQ(gort_read(fds[0], &c, 1), 1);
    CHECK_EQ(c, 'z');
    gort_close(fds[0]);
    gort_close(fds[1]);
}

static void test_not_deadlock(void **state) {
    (void)state;
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        run_main(not_dead_main, NULL);
    }
}

/* ---- a child forked outside gort_main polls on its own ------------------------------------------------------ */

static void fork_child_fn(void *arg) {
    (void)arg;
    set_procs(2);
    check_failures = 0;
    if (gort_main(not_dead_main, NULL) != 0 || check_failures)
        _exit(1);
}

static void test_fork_child(void **state) {
    (void)state;
    set_procs(1);
    run_main(pipe_main, NULL);   /* the parent's poller exists, with registrations */
    capture_child(fork_child_fn, NULL);
    run_main(not_dead_main, NULL);   /* and still works */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_child),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_not_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
