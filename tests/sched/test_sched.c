/* The scheduler itself (sched/sched.c, sched/g.c): gort_main, ids and
 * counts, the run order, yield, stealing between Ps, idling without CPU,
 * schedtrace and the event rings. */
#include "sched/common.h"

#include <errno.h>
#include <fenv.h>
#include <time.h>

void gort__sched_pstats(int i, gort__pstats_t *out);
size_t gort__sched_events(int i, void (*fn)(int64_t ts, int ev, uint64_t goid, uint64_t arg, void *a),
                          void *a);

/* ---- gort_main --------------------------------------------------------------------------------------- */

static void block_forever(void *arg) {
    gort_chan_recv((gort_chan_t *)arg, NULL);
}

static void basics_main(void *arg) {
    int *ran = arg;
    *ran = 1;
    CHECK_EQ(gort_goid(), 1);
    CHECK_EQ(gort_num_goroutine(), 1);
    CHECK(gort_main(basics_main, arg) == -1 && errno == EBUSY);   /* not from inside */
    gort_chan_t *c = gort_chan_make(0, 0);
    for (int i = 0; i < 10; i++)
        gort_go(block_forever, c);
    settle(20);
    CHECK_EQ(gort_num_goroutine(), 11);
    /* Returning abandons the ten (Go does not wait for them). */
}

static void test_main(void **state) {
    (void)state;
    assert_int_equal(gort_goid(), 0);
    for (int run = 0; run < 3; run++) {
        int ran = 0;
        run_main(basics_main, &ran);
        assert_int_equal(ran, 1);
        assert_int_equal(gort_num_goroutine(), 0);
    }
    errno = 0;
    assert_int_equal(gort_main(NULL, NULL), -1);
    assert_int_equal(errno, EINVAL);
}

static void go_outside(void *arg) {
    (void)arg;
    gort_go(block_forever, NULL);
}

static void test_outside(void **state) {
    (void)state;
    gort_expect_death(go_outside, NULL, "gort_go called outside a goroutine");
}

/* ---- order ------------------------------------------------------------------------------------------- */

static int order_log[16], norder;

static void log_id(void *arg) {
    order_log[norder++] = (int)(intptr_t)arg;
}

static void order_main(void *arg) {
    (void)arg;
    norder = 0;
    for (int i = 1; i <= 5; i++)
        gort_go(log_id, (void *)(intptr_t)i);
    settle(1);
    /* Newest first: runnext (5), then the local queue from its newest end. */
    CHECK_EQ(norder, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(order_log[i], 5 - i);
}

typedef struct {
    char *log;
    int *n;
    char id;
} yarg_t;

static void yielder(void *arg) {
    yarg_t *y = arg;
    for (int i = 0; i < 4; i++) {
        y->log[(*y->n)++] = y->id;
        gort_yield();
    }
}

static void yield_main(void *arg) {
    (void)arg;
    char log[64] = {0};
    int n = 0;
    yarg_t a = {log, &n, 'a'}, b = {log, &n, 'b'}, c = {log, &n, 'c'};
    gort_go(yielder, &a);
    gort_go(yielder, &b);
    gort_go(yielder, &c);
    while (n < 12)
        gort_yield();
    /* A yielder goes behind the others: round robin. */
    CHECK(strcmp(log, "cbacbacbacba") == 0);
    if (strcmp(log, "cbacbacbacba") != 0)
        fprintf(stderr, "yield order: %s\n", log);
    gort_yield();   /* alone: returns at once */
}

static void test_order(void **state) {
    (void)state;
    set_procs(1);
    run_main(order_main, NULL);
    run_main(yield_main, NULL);
}

/* Fairness: two goroutines handing the P to each other through runnext do
 * not starve a third waiting in the local queue. */
static volatile int starved_ran;
static void starved(void *arg) {
    (void)arg;
    starved_ran = 1;
}

static void pinger(void *arg) {
    gort_chan_t **c = arg;
    int v = 0;
    while (gort_chan_recv(c[0], &v))
        gort_chan_send(c[1], &v);
}

static void fair_main(void *arg) {
    (void)arg;
    starved_ran = 0;
    gort_chan_t *c[2] = {gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0)};
    gort_go(pinger, c);
    settle(1);
    gort_go(starved, NULL);   /* in runnext... */
    int v = 0;
    gort_chan_send(c[0], &v);   /* ...kicked to the queue by the pinger's wake-up */
    int rounds = 0;
    while (!starved_ran && rounds < 1000) {
        gort_chan_recv(c[1], &v);
        gort_chan_send(c[0], &v);
        rounds++;
    }
    CHECK(starved_ran);
    CHECK(rounds <= 62);
    gort_chan_close(c[0]);
}

static void test_fairness(void **state) {
    (void)state;
    set_procs(1);
    run_main(fair_main, NULL);
}

/* ---- stealing ------------------------------------------------------------------------------------------ */

static void spin_work(void *arg) {
    gort_waitgroup_t *wg = arg;
    int64_t end = gort__nanotime() + 100000;   /* 100 us of CPU */
    while (gort__nanotime() < end)
        ;
    gort_wg_done(wg);
}

static void steal_main(void *arg) {
    (void)arg;
    gort_waitgroup_t wg = GORT_WAITGROUP_INIT;
    /* 200 fit in the main goroutine's local queue: none go to the global
     * queue, so the other P can get work only by stealing. */
    gort_wg_add(&wg, 200);
    for (int i = 0; i < 200; i++)
        gort_go(spin_work, &wg);
    gort_wg_wait(&wg);
}

static void test_steal(void **state) {
    (void)state;
    set_procs(2);
    /* The thief's share depends on the host too: a thread descheduled for most
     * of the 20 ms of work leaves its P little to steal.  So up to 5 runs, each
     * checked in full, and one of them must show a fair share. */
    bool fair = false;
    for (int run = 0; run < 5 && !fair; run++) {
        run_main(steal_main, NULL);
        gort__pstats_t p0, p1;
        gort__sched_pstats(0, &p0);
        gort__sched_pstats(1, &p1);
        print_message("P0: spawned %llu ran %llu steals %llu stolen %llu | P1: spawned %llu ran %llu "
                      "steals %llu stolen %llu | global puts %llu, preemptions %llu\n",
                      (unsigned long long)p0.spawned, (unsigned long long)p0.switches,
                      (unsigned long long)p0.steals, (unsigned long long)p0.stolen,
                      (unsigned long long)p1.spawned, (unsigned long long)p1.switches,
                      (unsigned long long)p1.steals, (unsigned long long)p1.stolen,
                      (unsigned long long)(p0.global_puts + p1.global_puts),
                      (unsigned long long)(p0.preempts + p1.preempts));
        assert_int_equal(p0.spawned + p1.spawned, 201);
        /* Spawning puts nothing on the global queue.  A preempted goroutine goes
         * there (Go's gopreempt_m): under TSan on a loaded machine the spawning
         * loop itself may run 10 ms and be preempted at a gort_go. */
        assert_true(p0.global_puts + p1.global_puts <= p0.preempts + p1.preempts);
        /* Whichever P the main goroutine ran on, the other stole a fair share
         * (half a queue at a time) and ran it. */
        gort__pstats_t *thief = p0.spawned ? &p1 : &p0;
        assert_true(thief->steals > 0);
        fair = thief->stolen >= 50 && thief->switches >= 20;
    }
    assert_true(fair);
    gort_sched_stats_t st;
    gort_sched_stats(&st);   /* not running: zero procs summed */
    assert_int_equal(st.goroutines, 0);
}

/* ---- idling ------------------------------------------------------------------------------------------------ */

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void idle_main(void *arg) {
    double *cpu = arg;
    /* Wake the other P's M once, so there is an M to go idle. */
    gort_waitgroup_t wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 100);
    for (int i = 0; i < 100; i++)
        gort_go(spin_work, &wg);
    gort_wg_wait(&wg);
    /* Now block this M in the kernel: the other Ms have nothing to do. */
    double t0 = cpu_seconds();
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    *cpu = cpu_seconds() - t0;
}

static void test_idle_no_cpu(void **state) {
    (void)state;
    set_procs(2);
    double cpu = 1;
    run_main(idle_main, &cpu);
    print_message("CPU while idle for 300 ms: %.2f ms\n", cpu * 1e3);
    assert_true(cpu < 0.030);
}

/* ---- schedtrace ------------------------------------------------------------------------------------------------ */

static void busy_for(void *arg) {
    int64_t end = gort__nanotime() + (int64_t)(intptr_t)arg * 1000000;
    while (gort__nanotime() < end)
        gort_yield();
}

static void trace_child(void *arg) {
    gort__settings.schedtrace = 20;
    gort__settings.scheddetail = (int)(intptr_t)arg;
    set_procs(2);
    gort_main(busy_for, (void *)(intptr_t)70);
}

static void test_schedtrace(void **state) {
    (void)state;
    const char *out = capture_child(trace_child, (void *)0);
    assert_non_null(strstr(out, "SCHED "));
    int ms, procs, idle, threads, spinning, idlethreads, runq, q0, q1;
    const char *line = strstr(out, "SCHED ");
    int k = sscanf(line,
                   "SCHED %dms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
                   "idlethreads=%d runqueue=%d [%d %d]",
                   &ms, &procs, &idle, &threads, &spinning, &idlethreads, &runq, &q0, &q1);
    if (k != 9)
        print_error("schedtrace said:\n%s\n", out);
    assert_int_equal(k, 9);
    assert_int_equal(procs, 2);
    out = capture_child(trace_child, (void *)1);
    assert_non_null(strstr(out, "gcwaiting=0"));
    assert_non_null(strstr(out, "  P0: status="));
    assert_non_null(strstr(out, "  P1: status="));
    assert_non_null(strstr(out, "  M0: p="));
    assert_non_null(strstr(out, "  G1: status=2() m=0"));
}

/* ---- events ------------------------------------------------------------------------------------------------------ */

static void count_ev(int64_t ts, int ev, uint64_t goid, uint64_t arg, void *a) {
    (void)ts;
    (void)goid;
    (void)arg;
    ((int *)a)[ev]++;
}

static void events_main(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(0, 0);
    gort_go(block_forever, c);
    settle(2);
    gort_chan_send(c, NULL);
    settle(2);
}

static void test_events(void **state) {
    (void)state;
    set_procs(1);
    gort__settings.trace = 1;
    run_main(events_main, NULL);
    gort__settings.trace = 0;
    int counts[16] = {0};
    size_t n = gort__sched_events(0, count_ev, counts);
    assert_true(n > 0);
    assert_int_equal(counts[EV_GO_CREATE], 2);
    assert_true(counts[EV_GO_START] >= 3);
    assert_int_equal(counts[EV_GO_BLOCK], 1);
    assert_int_equal(counts[EV_GO_UNBLOCK], 1);
    assert_int_equal(counts[EV_GO_END], 2);
}

/* ---- the FP control state ---------------------------------------------------------------------------- */
/* Every goroutine starts with the rounding mode of gort_main's caller (read
 * once, at gort_main: sched/g.c), whichever M runs it and whatever the
 * goroutine that ran there before it did to its own. */

enum { NFP = 200 };
static int fp_seen[NFP];
static gort_waitgroup_t fp_wg = GORT_WAITGROUP_INIT;

static void fp_child(void *arg) {
    int i = (int)(intptr_t)arg;
    fp_seen[i] = fegetround();
    fesetround(i % 2 ? FE_DOWNWARD : FE_TOWARDZERO);   /* its own, not the next one's */
    gort_yield();
    CHECK_EQ(fegetround(), i % 2 ? FE_DOWNWARD : FE_TOWARDZERO);
    gort_wg_done(&fp_wg);
}

static void fp_main(void *arg) {
    (void)arg;
    CHECK_EQ(fegetround(), FE_UPWARD);
    gort_wg_add(&fp_wg, NFP);
    for (int i = 0; i < NFP; i++) {
        gort_go(fp_child, (void *)(intptr_t)i);
        if (i % 16 == 0)
            gort_yield();
    }
    gort_wg_wait(&fp_wg);
    CHECK_EQ(fegetround(), FE_UPWARD);
}

static void test_fpstate(void **state) {
    (void)state;
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        memset(fp_seen, 0, sizeof fp_seen);
        assert_int_equal(fesetround(FE_UPWARD), 0);
        run_main(fp_main, NULL);
        int mode = fegetround();
        fesetround(FE_TONEAREST);
        assert_int_equal(mode, FE_UPWARD);
        for (int i = 0; i < NFP; i++)
            assert_int_equal(fp_seen[i], FE_UPWARD);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_main),
        cmocka_unit_test(test_outside),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_fairness),
        cmocka_unit_test(test_steal),
        cmocka_unit_test(test_idle_no_cpu),
        cmocka_unit_test(test_schedtrace),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_fpstate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
