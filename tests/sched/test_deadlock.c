/* Deadlock detection (sched/sched.c checkdead) and the goroutine dump
 * (sched/trace.c): every goroutine blocked, nothing can wake one. */
#include "sched/common.h"

#include "include/gort/net.h"

typedef struct {
    gort_chan_t *c, *unbuf;
    gort_mutex_t *mu;
} dl_t;

static void wait_mutex(void *arg) {
    dl_t *d = arg;
    gort_mutex_lock(d->mu);
}

static void wait_send(void *arg) {
    dl_t *d = arg;
    long v = 1;
    gort_chan_send(d->unbuf, &v);   /* the main goroutine never receives from it */
}

static void wait_nil(void *arg) {
    (void)arg;
    gort_chan_recv(NULL, NULL);
}

static void deadlock_main(void *arg) {
    dl_t *d = arg;
    gort_mutex_lock(d->mu);
    gort_go(wait_mutex, d);   /* goroutine 2 */
    gort_go(wait_send, d);    /* goroutine 3 */
    gort_go(wait_nil, d);     /* goroutine 4 */
    gort_chan_recv(d->c, NULL);   /* goroutine 1: nobody sends */
}

static void deadlock_child(void *arg) {
    set_procs((int)(intptr_t)((void **)arg)[1]);
    gort_main(deadlock_main, ((void **)arg)[0]);
}

static void test_deadlock(void **state) {
    (void)state;
    static gort_mutex_t mu = GORT_MUTEX_INIT;
    /* Made here so the parent knows the addresses the child will print. */
    dl_t d = {gort_chan_make(0, 0), gort_chan_make(sizeof(long), 0), &mu};
    char expect[6][160];
    snprintf(expect[0], sizeof expect[0], "fatal error: all goroutines are asleep - deadlock!\n");
    snprintf(expect[1], sizeof expect[1],
             "goroutine 1 [chan receive]:\n\twaiting on chan %p (elem 0 bytes, len 0, cap 0)", (void *)d.c);
    snprintf(expect[2], sizeof expect[2], "goroutine 2 [sync.Mutex.Lock]:\n\twaiting on gort_mutex_t %p",
             (void *)&mu);
    snprintf(expect[3], sizeof expect[3],
             "goroutine 3 [chan send]:\n\twaiting on chan %p (elem 8 bytes, len 0, cap 0)", (void *)d.unbuf);
    snprintf(expect[4], sizeof expect[4], "goroutine 4 [chan receive (nil chan)]:");
    snprintf(expect[5], sizeof expect[5], "\tstarted as ");
    for (intptr_t procs = 1; procs <= 2; procs++) {
        void *args[2] = {&d, (void *)procs};
        for (int i = 0; i < 6; i++)
            gort_expect_death(deadlock_child, args, expect[i]);
    }
}

/* Blocked in a select with no cases, and in sync types: also a deadlock. */
static void all_kinds(void *arg) {
    (void)arg;
    static gort_waitgroup_t wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 1);
    gort_wg_wait(&wg);
}
static void all_kinds_child(void *arg) {
    (void)arg;
    gort_main(all_kinds, NULL);
}
static void empty_select(void *arg) {
    (void)arg;
    gort_select(NULL, 0, true);
}
static void empty_select_child(void *arg) {
    (void)arg;
    gort_main(empty_select, NULL);
}

static void test_deadlock_kinds(void **state) {
    (void)state;
    gort_expect_death(all_kinds_child, NULL, "goroutine 1 [sync.WaitGroup.Wait]:\n\twaiting on gort_waitgroup_t 0x");
    gort_expect_death(empty_select_child, NULL, "goroutine 1 [select (no cases)]:");
}

/* Not a deadlock: the main goroutine returns while others are blocked. */
static void leave_blocked(void *arg) {
    (void)arg;
    gort_go(wait_nil, NULL);
}

static void test_not_deadlock(void **state) {
    (void)state;
    set_procs(2);
    run_main(leave_blocked, NULL);
}

/* Timers and descriptors that are done with do not hide a deadlock: after a
 * sleep, a gort_after that fired and a pipe read that completed, every
 * goroutine waits on a channel with no timer or descriptor pending. */
static void sleep_then_block(void *arg) {
    gort_sleep(2 * 1000000);
    gort_chan_recv(arg, NULL);
}

static void after_io_main(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(0, 0);
    gort_go(sleep_then_block, c);
    gort_chan_t *a = gort_after(1000000);
    gort_chan_recv(a, NULL);
    gort_chan_free(a);
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    if (write(fds[1], "x", 1) != 1)
        abort();
    char ch;
    if (gort_read(fds[0], &ch, 1) != 1)
        abort();
    gort_chan_recv(c, NULL);
}

static void after_io_child(void *arg) {
    set_procs((int)(intptr_t)arg);
    gort_main(after_io_main, NULL);
}

static void test_deadlock_after_timers(void **state) {
    (void)state;
    for (intptr_t procs = 1; procs <= 2; procs++) {
        gort_expect_death(after_io_child, (void *)procs, "fatal error: all goroutines are asleep - deadlock!");
        gort_expect_death(after_io_child, (void *)procs, "goroutine 2 [chan receive]:");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlock),
        cmocka_unit_test(test_deadlock_kinds),
        cmocka_unit_test(test_deadlock_after_timers),
        cmocka_unit_test(test_not_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
