/* Timers (sched/time.c): sleeps wake in order and never early, 100 000 timers
 * fire, gort_after's value and cancellation, select with a timeout, a million
 * pending timers cost no CPU, a busy P's overdue timers are taken over. */
#include "sched/common.h"

#include <time.h>

/* ---- sleeps wake in order ----------------------------------------------------------------------- */

enum { NSLEEPERS = 20 };
static int wake_order[NSLEEPERS], nwoken;
static gort_waitgroup_t swg;

static void sleeper(void *arg) {
    int i = (int)(intptr_t)arg;
    int64_t want = 2000000LL * (i + 1);
    int64_t t0 = gort_nanotime();
    gort_sleep(want);
    CHECK(gort_nanotime() - t0 >= want);   /* never early */
    wake_order[__atomic_fetch_add(&nwoken, 1, __ATOMIC_SEQ_CST)] = i;
    gort_wg_done(&swg);
}

static void order_main(void *arg) {
    (void)arg;
    nwoken = 0;
    gort_wg_add(&swg, NSLEEPERS);
    for (int i = NSLEEPERS - 1; i >= 0; i--)   /* spawned longest first */
        gort_go(sleeper, (void *)(intptr_t)i);
    gort_wg_wait(&swg);
    CHECK_EQ(nwoken, NSLEEPERS);
}

static void test_sleep_order(void **state) {
    (void)state;
    set_procs(1);
    run_main(order_main, NULL);
    for (int i = 0; i < NSLEEPERS; i++)
        assert_int_equal(wake_order[i], i);   /* one P: exactly by deadline */
    set_procs(2);
    run_main(order_main, NULL);   /* two Ps: all wake, none early */
}

/* ---- 100 000 timers fire --------------------------------------------------------------------------- */

static gort_waitgroup_t twg;

static void many_sleeps(void *arg) {
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < 100; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        gort_sleep((int64_t)(x % 50000) + 1);   /* 1 ns..50 us */
    }
    gort_wg_done(&twg);
}

static void hundred_k_main(void *arg) {
    (void)arg;
    gort_sched_stats_t before, after;
    gort_sched_stats(&before);
    /* 1000 goroutines sleeping 100 times each ... */
    gort_wg_add(&twg, 1000);
    for (int i = 0; i < 1000; i++)
        gort_go(many_sleeps, (void *)(intptr_t)i);
    gort_wg_wait(&twg);
    /* ... and 100 000 gort_after channels at once from one goroutine. */
    enum { N = 100000 };
    gort_chan_t **cs = gort_malloc(N * sizeof *cs);
    int64_t t0 = gort_nanotime();
    for (int i = 0; i < N; i++) {
        cs[i] = gort_after((int64_t)(i % 1000) * 10000);   /* 0..10 ms */
        CHECK(cs[i] != NULL);
    }
    for (int i = 0; i < N; i++) {
        int64_t when = 0;
        CHECK(gort_chan_recv(cs[i], &when));
        CHECK(when >= t0 + (int64_t)(i % 1000) * 10000);
        gort_chan_free(cs[i]);
    }
    gort_free(cs);
    gort_sched_stats(&after);
    CHECK_EQ(after.timers_fired - before.timers_fired, 200000);
}

static void test_hundred_thousand(void **state) {
    (void)state;
    set_procs(1);
    run_main(hundred_k_main, NULL);
    set_procs(2);
    run_main(hundred_k_main, NULL);
}

/* ---- gort_after and select with a timeout ---------------------------------------------------------- */

static void send_later(void *arg) {
    gort_sleep(1000000);
    long v = 42;
    gort_chan_send(arg, &v);
}

static void after_main(void *arg) {
    (void)arg;
    /* The value is the time it fired. */
    int64_t t0 = gort_nanotime();
    gort_chan_t *a = gort_after(2000000);
    CHECK_EQ(gort_chan_cap(a), 1);
    int64_t when = 0;
    CHECK(gort_chan_recv(a, &when));
    CHECK(when >= t0 + 2000000);
    gort_chan_free(a);

    /* Freed before it fires: cancelled, never fires.  (On a loaded machine a
     * free may come after its timer was due: that one may have fired.) */
    gort_sched_stats_t st0, st1;
    gort_sched_stats(&st0);
    int late = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t due = gort_nanotime() + 1000000;
        gort_chan_free(gort_after(1000000));
        late += gort_nanotime() >= due;
    }
    gort_sleep(3000000);
    gort_sched_stats(&st1);
    CHECK(st1.timers_fired - st0.timers_fired >= 1);   /* the sleep's */
    CHECK(st1.timers_fired - st0.timers_fired <= 1 + (uint64_t)late);
    if (late)
        print_message("%d of 1000 frees came after the timer was due\n", late);

    /* select: nothing comes -> the timeout. */
    gort_chan_t *never = gort_chan_make(sizeof(long), 0);
    long v = 0;
    gort_select_case_t cs[2] = {{.chan = never, .dir = GORT_CHAN_RECV, .elem = &v}, {.chan = NULL}};
    t0 = gort_nanotime();
    CHECK_EQ(gort_select_timeout(cs, 1, 3000000), -1);
    CHECK(gort_nanotime() - t0 >= 3000000);
    CHECK_EQ(gort_select_timeout(cs, 1, 0), -1);   /* 0: the default case */

    /* A value comes first. */
    gort_go(send_later, never);
    CHECK_EQ(gort_select_timeout(cs, 1, 60LL * 1000000000), 0);
    CHECK(cs[0].ok);
    CHECK_EQ(v, 42);

    /* Only a timeout, no cases: a plain sleep. */
    CHECK_EQ(gort_select_timeout(NULL, 0, 1000000), -1);

    /* Many cases (past the on-stack array). */
    gort_select_case_t many[40];
    for (int i = 0; i < 40; i++)
        many[i] = (gort_select_case_t){.chan = never, .dir = GORT_CHAN_RECV, .elem = &v};
    CHECK_EQ(gort_select_timeout(many, 40, 1000000), -1);
    gort_chan_free(never);
    gort_sleep(0);
    gort_sleep(-5);
}

static void test_after_select(void **state) {
    (void)state;
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        run_main(after_main, NULL);
    }
}

/* ---- cancelling races with firing ---------------------------------------------------------------------------- */

static gort_waitgroup_t cwg;
static void cancel_racer(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        gort_chan_t *a = gort_after(i % 20 * 500);   /* 0..10 us: often firing as it is freed */
        if (i % 3 == 0)
            gort_yield();
        gort_chan_free(a);
    }
    gort_wg_done(&cwg);
}

static void cancel_main(void *arg) {
    (void)arg;
    gort_wg_add(&cwg, 8);
    for (int i = 0; i < 8; i++)
        gort_go(cancel_racer, NULL);
    gort_wg_wait(&cwg);
}

static void test_cancel_race(void **state) {
    (void)state;
    set_procs(2);
    run_main(cancel_main, NULL);
}

/* ---- a million pending timers cost memory, not CPU --------------------------------------------------- */

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void million_pending_main(void *arg) {
    double *cpu = arg;
    enum { N = 1000000 };
    gort_chan_t **cs = gort_malloc(N * sizeof *cs);
    for (int i = 0; i < N; i++)
        cs[i] = gort_after(3600LL * 1000000000 + i);   /* an hour away */
    double t0 = cpu_seconds();
    gort_sleep(200 * 1000000);   /* the process idles 200 ms with a million timers queued */
    *cpu = cpu_seconds() - t0;
    for (int i = 0; i < N; i++)
        gort_chan_free(cs[i]);   /* cancels */
    gort_free(cs);
    gort_sched_stats_t st;
    gort_sched_stats(&st);
    CHECK(st.timers_fired < 10);
}

static void test_million_pending(void **state) {
    (void)state;
    set_procs(2);
    double cpu = 1;
    run_main(million_pending_main, &cpu);
    print_message("CPU while 1M timers pend for 200 ms: %.2f ms\n", cpu * 1e3);
    assert_true(cpu < 0.030);
}

/* ---- a P that does not schedule loses its due timers ----------------------------------------------
 * The sleeper readies a goroutine that spins without a scheduling point onto its
 * own P, then sleeps 1 ms: its timer is on that P, whose M is busy in the
 * spinner (signal preemption off).  The other P runs a channel ping-pong: on
 * its way through schedule() it must take the overdue timer over, so the sleeper wakes while
 * the spinner still spins (which gives up after 2 s: a timer left to its own P
 * would fire only then). */
static int lt_woke, lt_spin_saw_wake, lt_done;
static gort_waitgroup_t lwg;

static void lt_spinner(void *arg) {
    (void)arg;
    int64_t t0 = gort_nanotime();
    while (!__atomic_load_n(&lt_woke, __ATOMIC_ACQUIRE) && gort_nanotime() - t0 < 2000000000LL)
        ;
    __atomic_store_n(&lt_spin_saw_wake, __atomic_load_n(&lt_woke, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
    __atomic_store_n(&lt_done, 1, __ATOMIC_RELEASE);
    gort_wg_done(&lwg);
}

static void lt_sleeper(void *arg) {
    (void)arg;
    gort_go(lt_spinner, NULL);   /* runnext of this P: it runs when we sleep */
    gort_sleep(1000000);
    __atomic_store_n(&lt_woke, 1, __ATOMIC_RELEASE);
    gort_wg_done(&lwg);
}

/* Two goroutines handing a value back and forth: their P passes through
 * schedule() every 61st switch (a lone yielder never does: with nothing else
 * to run, gort_yield returns at once). */
static gort_chan_t *lt_ping, *lt_pong;

static void lt_pinger(void *arg) {
    (void)arg;
    int v = 0;
    while (!__atomic_load_n(&lt_done, __ATOMIC_ACQUIRE)) {
        gort_chan_send(lt_ping, &v);
        gort_chan_recv(lt_pong, &v);
    }
    gort_chan_close(lt_ping);
    gort_wg_done(&lwg);
}

static void lt_ponger(void *arg) {
    (void)arg;
    int v;
    while (gort_chan_recv(lt_ping, &v))
        gort_chan_send(lt_pong, &v);
    gort_wg_done(&lwg);
}

static void late_timer_main(void *arg) {
    (void)arg;
    lt_woke = lt_spin_saw_wake = lt_done = 0;
    lt_ping = gort_chan_make(sizeof(int), 0);
    lt_pong = gort_chan_make(sizeof(int), 0);
    gort_wg_add(&lwg, 5);   /* sleeper, spinner, the pair, and ourselves */
    gort_go(lt_pinger, NULL);
    gort_go(lt_ponger, NULL);
    gort_go(lt_sleeper, NULL);
    gort_wg_done(&lwg);
    gort_wg_wait(&lwg);
    CHECK(lt_spin_saw_wake);
    gort_chan_free(lt_ping);
    gort_chan_free(lt_pong);
}

static void test_late_timer_taken_over(void **state) {
    (void)state;
    set_procs(2);
    int async = gort__settings.asyncpreemptoff;
    gort__settings.asyncpreemptoff = 1;
    run_main(late_timer_main, NULL);
    gort__settings.asyncpreemptoff = async;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_timer_taken_over),
        cmocka_unit_test(test_sleep_order),
        cmocka_unit_test(test_hundred_thousand),
        cmocka_unit_test(test_after_select),
        cmocka_unit_test(test_cancel_race),
        cmocka_unit_test(test_million_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
