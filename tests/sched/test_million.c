/* A million goroutines spawned and completed; skynet (a 10-ary tree of a
 * million goroutines summing through channels), checked and measured for
 * memory: depth-first order keeps few of them alive (sched/sched.c, "Order"). */
#include "sched/common.h"

#include <sys/resource.h>

static gort_waitgroup_t wg = GORT_WAITGROUP_INIT;
static long sum;

static void add_one(void *arg) {
    __atomic_fetch_add(&sum, (long)(intptr_t)arg, __ATOMIC_RELAXED);
    gort_wg_done(&wg);
}

static void million_main(void *arg) {
    long n = (long)(intptr_t)arg;
    sum = 0;
    gort_wg_add(&wg, (int)n);
    for (long i = 0; i < n; i++)
        CHECK_EQ(gort_go(add_one, (void *)(intptr_t)i), 0);
    gort_wg_wait(&wg);
    CHECK_EQ(sum, n * (n - 1) / 2);
    /* The last one's gort_wg_done woke us; at P=2 we may run (stolen by the
     * other P) before it has finished exiting. */
    while (gort_num_goroutine() > 1)
        gort_yield();
    gort_sched_stats_t st;
    gort_sched_stats(&st);
    CHECK_EQ(st.spawned, (uint64_t)n + 1);
    CHECK_EQ(st.exited, (uint64_t)n);
    CHECK_EQ(gort_num_goroutine(), 1);
}

static void test_million(void **state) {
    (void)state;
#if GORT_TSAN   /* a minute a million under ThreadSanitizer: once */
    for (int procs = 2; procs <= 2; procs++) {
#else
    for (int procs = 1; procs <= 2; procs++) {
#endif
        set_procs(procs);
        run_main(million_main, (void *)(intptr_t)1000000);
    }
}

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
    long n = (long)(intptr_t)arg;
    gort_chan_t *c = gort_chan_make(sizeof(long), 0);
    sky_t root = {c, 0, n};
    gort_go(skynet, &root);
    long total = 0;
    gort_chan_recv(c, &total);
    CHECK_EQ(total, n * (n - 1) / 2);
    gort_chan_free(c);
}

static void test_skynet(void **state) {
    (void)state;
#if GORT_TSAN
    long n = 100000;
#else
    long n = 1000000;
#endif
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        run_main(skynet_main, (void *)(intptr_t)n);
    }
#ifndef GORT_SANITIZE_BUILD
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    print_message("peak RSS after a million goroutines and skynet: %ld MiB\n", ru.ru_maxrss >> 10);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million),
        cmocka_unit_test(test_skynet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
