/* gc.goroutine: goroutines as the collector's mutators.  What only a goroutine's
 * stack, a channel's buffer or a goroutine's start argument holds survives any
 * number of cycles; parked goroutines keep their data; the pause does not grow
 * with the number of parked goroutines (measured and printed: a figure, not an
 * assertion); stacks left mostly unused after a deep recursion are shrunk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <gort/gort.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

typedef struct node {
    struct node *next;
    uint64_t value;
    uint64_t pad[2];
} node;

static _Atomic int errors;

/* Run fn as gort_main's main goroutine; no goroutine may have counted an error. */
static void run_checked(void (*fn)(void *)) {
    errors = 0;
    assert_int_equal(gort_main(fn, NULL), 0);
    assert_int_equal(errors, 0);
}

/* clear_stack for a goroutine's (60 KiB) stack. */
__attribute__((noinline)) static void clear_gstack(void) {
    volatile char buf[8 << 10];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" ::"r"(buf) : "memory");
}

/* A list of n nodes reachable only from the returned pointer. */
static node *make_list(uint64_t seed, int n) {
    node *head = NULL;
    for (int i = 0; i < n; i++) {
        node *x = gort_gc_alloc(sizeof *x);
        assert_non_null(x);
        x->value = seed * 1000003u + (uint64_t)i;
        GORT_GC_STORE(x->next, head);
        head = x;
    }
    return head;
}

static int check_list(const node *head, uint64_t seed, int n) {
    int i = n - 1, bad = 0;
    for (const node *x = head; x; x = x->next, i--)
        if (i < 0 || x->value != seed * 1000003u + (uint64_t)i)
            bad++;
    return bad + (i != -1);
}

/* Garbage, so that freed memory is reused (and zeroed) quickly. */
static void churn(int n) {
    for (int i = 0; i < n; i++) {
        node *x = gort_gc_alloc(sizeof *x);
        x->value = 0xdead;
    }
}

static void cycles(int n) {
    for (int i = 0; i < n; i++) {
        churn(2000);
        gort_gc_collect();
    }
}

/* ---- parked goroutines keep their data -------------------------------------------- */
enum { NPARKED = 200, LIST = 40 };
static gort_chan_t *release_ch;
static gort_waitgroup_t parked_wg = GORT_WAITGROUP_INIT, done_wg = GORT_WAITGROUP_INIT;

static void parked(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    node *list = make_list(seed, LIST);
    gort_wg_done(&parked_wg);
    char c;
    gort_chan_recv(release_ch, &c);   /* parked across the cycles; only this frame holds list */
    if (check_list(list, seed, LIST))
        errors++;
    gort_wg_done(&done_wg);
}

static void parked_main(void *arg) {
    (void)arg;
    release_ch = gort_chan_make(1, 0);
    gort_wg_add(&parked_wg, NPARKED);
    gort_wg_add(&done_wg, NPARKED);
    for (int i = 0; i < NPARKED; i++)
        gort_go(parked, (void *)(uintptr_t)(i + 1));
    gort_wg_wait(&parked_wg);
    cycles(10);
    for (int i = 0; i < NPARKED; i++) {
        char c = 1;
        gort_chan_send(release_ch, &c);
    }
    gort_wg_wait(&done_wg);
    gort_chan_free(release_ch);
}

static void test_parked_keep_data(void **state) {
    (void)state;
    run_checked(parked_main);
}

/* ---- a channel's buffer is a root; elements handed over during marks ------------------ */
enum { CAP = 64 };

static void chan_main(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(node *), CAP);
    for (int i = 0; i < CAP; i++) {
        node *x = make_list((uint64_t)i + 7, 5);
        gort_chan_send(c, &x);
    }
    clear_gstack();
    cycles(8);
    for (int i = 0; i < CAP; i++) {
        node *x = NULL;
        assert_true(gort_chan_recv(c, &x));
        if (check_list(x, (uint64_t)i + 7, 5))
            errors++;
    }
    gort_chan_free(c);
}

static void test_chan_buffer_root(void **state) {
    (void)state;
    run_checked(chan_main);
}

/* Lists passed back and forth over an unbuffered channel while cycles run: each
 * hop is a copy from one stack into another. */
static gort_chan_t *pp_ch;
static void pinger(void *arg) {
    (void)arg;
    for (int i = 0; i < 3000; i++) {
        node *x = NULL;
        gort_chan_recv(pp_ch, &x);
        if (check_list(x, 99, 20))
            errors++;
        churn(20);
        gort_chan_send(pp_ch, &x);
        x = NULL;
    }
}

static void pingpong_main(void *arg) {
    (void)arg;
    pp_ch = gort_chan_make(sizeof(node *), 0);
    gort_go(pinger, NULL);
    node *x = make_list(99, 20);
    for (int i = 0; i < 3000; i++) {
        gort_chan_send(pp_ch, &x);
        x = NULL;
        clear_gstack();
        churn(20);
        if (i % 300 == 0)
            gort_gc_collect();
        gort_chan_recv(pp_ch, &x);
    }
    if (check_list(x, 99, 20))
        errors++;
    gort_chan_free(pp_ch);
}

static void test_chan_handoff(void **state) {
    (void)state;
    run_checked(pingpong_main);
}

/* ---- start arguments -------------------------------------------------------------------- */
static void check_arg(void *arg) {
    node *x = arg;
    if (check_list(x, x ? x->value / 1000003u : 0, 10))
        errors++;
    gort_wg_done(&done_wg);
}

static void args_main(void *arg) {
    (void)arg;
    enum { N = 300 };
    gort_wg_add(&done_wg, N);
    /* At one P none of them starts before this goroutine blocks: during the
     * cycles their lists are held by their start arguments alone. */
    for (int i = 0; i < N; i++)
        gort_go(check_arg, make_list((uint64_t)i + 1000, 10));
    clear_gstack();
    cycles(4);
    gort_wg_wait(&done_wg);
}

static void test_start_args(void **state) {
    (void)state;
    run_checked(args_main);
}

/* ---- the pause with many parked goroutines ------------------------------------------------- */
static int nwaiters;
static gort_chan_t *block_ch;

static void waiter(void *arg) {
    node *x = make_list((uint64_t)(uintptr_t)arg, 2);
    gort_wg_done(&parked_wg);
    char c;
    gort_chan_recv(block_ch, &c);
    if (check_list(x, (uint64_t)(uintptr_t)arg, 2))
        errors++;
    gort_wg_done(&done_wg);
}

static gort_gc_stats_t pause_st[2];

static void pauses_main(void *arg) {
    int slot = (int)(uintptr_t)arg;
    block_ch = gort_chan_make(1, 0);
    gort_wg_add(&parked_wg, nwaiters);
    gort_wg_add(&done_wg, nwaiters);
    for (int i = 0; i < nwaiters; i++)
        gort_go(waiter, (void *)(uintptr_t)(i + 1));
    gort_wg_wait(&parked_wg);
    gort_gc_collect();
    gort_gc_stats_reset();
    cycles(10);
    gort_gc_stats(&pause_st[slot]);
    gort_chan_close(block_ch);
    gort_wg_wait(&done_wg);
    gort_chan_free(block_ch);
}

static void test_pause_many_parked(void **state) {
    (void)state;
    errors = 0;
    /* GC_PARKED_MANY: fewer under TSan, whose per-goroutine shadow stacks run out. */
    int counts[2] = {100, getenv("GC_PARKED_MANY") ? atoi(getenv("GC_PARKED_MANY")) : 100000};
    for (int i = 0; i < 2; i++) {
        nwaiters = counts[i];
        assert_int_equal(gort_main(pauses_main, (void *)(uintptr_t)i), 0);
        assert_true(pause_st[i].num_pauses >= 20);
    }
    assert_int_equal(errors, 0);
    for (int i = 0; i < 2; i++)
        printf("gc.goroutine: %6d parked goroutines: %llu pauses, max %.1f us, p99 %.1f us, "
               "time to safe point max %.1f us\n",
               counts[i], (unsigned long long)pause_st[i].num_pauses, pause_st[i].pause_max_ns / 1e3,
               pause_st[i].pause_p99_ns / 1e3, pause_st[i].ttsp_max_ns / 1e3);
}

/* ---- shrinking ------------------------------------------------------------------------------- */
enum { NDEEP = 300, DEPTH_BYTES = 40 << 10 };

__attribute__((noinline)) static uint64_t recurse(volatile char *prev, int depth) {
    volatile char frame[1024];
    frame[0] = (char)depth;
    frame[1023] = prev ? prev[0] : 0;
    if (depth == 0)
        return frame[0];
    return recurse(frame, depth - 1) + frame[1023];
}

static void deep(void *arg) {
    (void)arg;
    recurse(NULL, DEPTH_BYTES / 1024);
    gort_wg_done(&parked_wg);
    char c;
    gort_chan_recv(block_ch, &c);
    gort_wg_done(&done_wg);
}

static size_t rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static size_t rss_before, rss_deep, rss_after;
static uint64_t shrunk;

static void shrink_main(void *arg) {
    (void)arg;
    block_ch = gort_chan_make(1, 0);
    gort_wg_add(&parked_wg, NDEEP);
    gort_wg_add(&done_wg, NDEEP);
    rss_before = rss();
    for (int i = 0; i < NDEEP; i++)
        gort_go(deep, NULL);
    gort_wg_wait(&parked_wg);
    rss_deep = rss();
    gort_sched_stats_t s0, s1;
    gort_sched_stats(&s0);
    for (int i = 0; i < 8; i++)   /* each parked stack is looked at every fourth cycle */
        gort_gc_collect();
    gort_sched_stats(&s1);
    rss_after = rss();
    shrunk = s1.stack_shrunk - s0.stack_shrunk;
    gort_chan_close(block_ch);
    gort_wg_wait(&done_wg);
    gort_chan_free(block_ch);
}

static void test_shrink(void **state) {
    (void)state;
    assert_int_equal(gort_main(shrink_main, NULL), 0);
    printf("gc.goroutine: %d stacks recursed %d KiB deep: RSS %zu -> %zu -> %zu KiB, %llu KiB shrunk\n", NDEEP,
           DEPTH_BYTES >> 10, rss_before >> 10, rss_deep >> 10, rss_after >> 10, (unsigned long long)(shrunk >> 10));
    assert_true(shrunk >= (uint64_t)NDEEP * (DEPTH_BYTES / 2));
#if !UNDER_TSAN
    /* (TSan's shadow of the stacks grows RSS too, and is not given back.) */
    assert_true(rss_deep > rss_before);
    assert_true(rss_after < rss_deep - (rss_deep - rss_before) / 2);
#endif
}

/* ---- Ms made by sysmon ------------------------------------------------------------------------
 * A goroutine in a long system call has its P handed to a new M, which sysmon
 * makes (sysmon runs with every signal blocked): that M must still answer the
 * collector's stop signal, or the next cycle waits for it forever. */
/* Whoever made this goroutine's M, the collector's stop signal reaches it. */
static void check_mask(void) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (sigismember(&cur, SIGPWR) || sigismember(&cur, SIGURG))
        errors++;
}

static void in_syscall(void *arg) {
    (void)arg;
    check_mask();
    gort_syscall_enter();
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    gort_syscall_exit();
    check_mask();
    gort_wg_done(&done_wg);
}

static void spinner(void *arg) {
    (void)arg;
    node *keep = make_list(5, 10);
    for (int i = 0; i < 200; i++) {
        churn(500);
        check_mask();
        gort_yield();
    }
    if (check_list(keep, 5, 10))
        errors++;
    gort_wg_done(&done_wg);
}

static void handoff_main(void *arg) {
    (void)arg;
    enum { NCALLS = 12 };   /* more than the Ms earlier tests left idle: sysmon makes some */
    gort_wg_add(&done_wg, NCALLS + 1);
    for (int i = 0; i < NCALLS; i++)
        gort_go(in_syscall, NULL);
    gort_go(spinner, NULL);
    gort_sleep(100000000);   /* the calls have begun and their P was handed off each time */
    cycles(5);
    gort_wg_wait(&done_wg);
}

static void test_handoff_m_stops(void **state) {
    (void)state;
    run_checked(handoff_main);
    gort_sched_stats_t st;
    gort_sched_stats(&st);
    assert_true(st.handoffs >= 12);
}

int main(void) {
    /* One P: the start arguments test relies on it (see args_main). */
    setenv("GORT_MAXPROCS", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parked_keep_data),
        cmocka_unit_test(test_chan_buffer_root),
        cmocka_unit_test(test_chan_handoff),
        cmocka_unit_test(test_start_args),
        cmocka_unit_test(test_pause_many_parked),
        cmocka_unit_test(test_shrink),
        cmocka_unit_test(test_handoff_m_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
