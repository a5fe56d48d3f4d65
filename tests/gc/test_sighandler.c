/* gc.sighandler: a program's own signal handler that takes a lock (a sampling
 * profiler's, gperftools' for one) deadlocks neither the collector's stops nor
 * the scheduler.
 *
 * Two deadlocks this test found:
 *   - a stop parked thread A inside the handler while A held the handler's
 *     lock; thread B, inside one of the collector's critical sections (where a
 *     stop is deferred to the section's end), took the same signal and spun on
 *     the lock A held; the stop waited for B forever (gc/thread.c,
 *     in_other_handler);
 *   - the handler interrupted the runtime holding the page heap's lock, and
 *     sysmon's preemption signal, arriving inside the handler, found a pc of
 *     the program's and switched the goroutine out, lock held; every other M
 *     then waited for that lock (sched/preempt.c, in_handler).
 * Here a plain thread (not the collector's) sends SIGPROF to every thread of
 * the process every few tens of microseconds while goroutines on two Ps
 * allocate and the collector runs cycle after cycle; the handler holds its lock
 * for a few microseconds each time.  A watchdog aborts, naming the deadlock, if
 * no cycle completes for 10 s.  Before both fixes it did so in 2 runs of 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <gort/gort.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct node {
    struct node *next;
    uint64_t value;
} node;

static atomic_flag prof_lock = ATOMIC_FLAG_INIT;
static _Atomic uint64_t nprof;
static _Atomic int stop_sender;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A profiler's handler in miniature: a spinlock around a few microseconds of
 * work (clock_gettime is async-signal-safe). */
static void on_prof(int sig) {
    (void)sig;
    while (atomic_flag_test_and_set_explicit(&prof_lock, memory_order_acquire))
        ;
    int64_t until = now_ns() + 5000;
    while (now_ns() < until)
        ;
    atomic_fetch_add_explicit(&nprof, 1, memory_order_relaxed);
    atomic_flag_clear_explicit(&prof_lock, memory_order_release);
}

/* Sends SIGPROF to each of the process's threads in turn (not to itself); a
 * thread that blocks it (the collector's own) just keeps one pending.  Also
 * the watchdog. */
static void *sender(void *arg) {
    (void)arg;
    pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
    pid_t tids[256];
    int n = 0;
    int64_t listed = 0, progress_at = now_ns();
    uint64_t last_gc = 0;
    while (!atomic_load(&stop_sender)) {
        int64_t now = now_ns();
        if (now - listed > 10000000) {
            listed = now;
            n = 0;
            DIR *d = opendir("/proc/self/task");
            if (d) {
                struct dirent *e;
                while ((e = readdir(d)) && n < 256) {
                    pid_t t = (pid_t)atoi(e->d_name);
                    if (t > 0 && t != self)
                        tids[n++] = t;
                }
                closedir(d);
            }
            gort_gc_stats_t st;
            if (gort_gc_stats(&st) == 0 && st.num_gc != last_gc) {
                last_gc = st.num_gc;
                progress_at = now;
            }
            if (now - progress_at > 10000000000LL) {
                fprintf(stderr, "gc.sighandler: no cycle completed for 10 s (at cycle %llu): "
                                "a stop or a preemption deadlocked with the SIGPROF handler\n",
                        (unsigned long long)last_gc);
                abort();
            }
        }
        for (int i = 0; i < n; i++)
            syscall(SYS_tgkill, pid, tids[i], SIGPROF);
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static gort_waitgroup_t wg;

static void allocator(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    int64_t until = now_ns() + 2000000000;
    while (now_ns() < until) {
        node *head = NULL;
        for (int i = 0; i < 2000; i++) {
            node *x = gort_gc_alloc(sizeof *x);
            x->value = seed + (uint64_t)i;
            GORT_GC_STORE(x->next, head);
            head = x;
        }
        uint64_t sum = 0, want = 0;
        for (node *x = head; x; x = x->next)
            sum += x->value;
        for (int i = 0; i < 2000; i++)
            want += seed + (uint64_t)i;
        if (sum != want)
            abort();
    }
    gort_wg_done(&wg);
}

static void main_g(void *arg) {
    (void)arg;
    gort_wg_add(&wg, 4);
    for (uintptr_t i = 0; i < 4; i++)
        gort_go(allocator, (void *)(i << 32));
    gort_wg_wait(&wg);
}

static void test_profiler_lock(void **state) {
    (void)state;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prof;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGPROF, &sa, NULL), 0);
    gort_gc_stats_t st0, st1;
    assert_int_equal(gort_gc_stats(&st0), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sender, NULL), 0);
    assert_int_equal(gort_main(main_g, NULL), 0);
    atomic_store(&stop_sender, 1);
    pthread_join(t, NULL);
    assert_int_equal(gort_gc_stats(&st1), 0);
    printf("gc.sighandler: %llu cycles, %llu SIGPROF handled, pause max %.3f ms\n",
           (unsigned long long)(st1.num_gc - st0.num_gc), (unsigned long long)atomic_load(&nprof),
           (double)st1.pause_max_ns * 1e-6);
    assert_true(st1.num_gc - st0.num_gc >= 10);
    assert_true(atomic_load(&nprof) > 0);
}

int main(void) {
    setenv("GORT_MAXPROCS", "2", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiler_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
