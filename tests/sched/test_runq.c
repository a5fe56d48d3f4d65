/* The run queues (sched/runq.c) on their own, with fake Ps and Gs: LIFO for
 * the owner, FIFO for thieves, runnext, overflow to the global queue, and a
 * concurrent stress in which every G must be taken exactly once. */
#include "sched/common.h"

#include <pthread.h>

enum { NG = 4096 };
static gort__g_t gs[NG];

static gort__p_t *newp(int id) {
    gort__p_t *p = calloc(1, sizeof *p);
    p->id = id;
    return p;
}

static void reset_global(int procs) {
    gort__sched.runqhead = gort__sched.runqtail = NULL;
    atomic_store(&gort__sched.runqsize, 0);
    gort__sched.gomaxprocs = procs;
}

static void test_order(void **state) {
    (void)state;
    reset_global(1);
    gort__p_t *p = newp(0);
    assert_true(gort__sched_runqempty(p));
    assert_null(gort__sched_runqget(p));
    for (int i = 0; i < 10; i++)
        gort__sched_runqput(p, &gs[i], false);
    assert_int_equal(gort__sched_runqsize(p), 10);
    assert_ptr_equal(gort__sched_runqget(p), &gs[9]);          /* owner: newest */
    assert_ptr_equal(gort__sched_runqget_oldest(p), &gs[0]);   /* fairness: oldest */
    gort__sched_runqput_head(p, &gs[100]);                      /* yield: behind all */
    assert_ptr_equal(gort__sched_runqget_oldest(p), &gs[100]);
    /* runnext first, and a new runnext pushes the old one to the queue's newest end. */
    gort__sched_runqput(p, &gs[200], true);
    gort__sched_runqput(p, &gs[201], true);
    assert_ptr_equal(gort__sched_runqget(p), &gs[201]);
    assert_ptr_equal(gort__sched_runqget(p), &gs[200]);
    assert_ptr_equal(gort__sched_runqget(p), &gs[8]);
    /* A thief takes the oldest half (rounded up). */
    gort__p_t *t = newp(1);
    gort__g_t *g = gort__sched_runqsteal(t, p, false);   /* p holds 1..7 */
    assert_ptr_equal(g, &gs[1]);
    assert_int_equal(gort__sched_runqsize(t), 3);          /* 2, 3, 4 */
    assert_int_equal(gort__sched_runqsize(p), 3);          /* 5, 6, 7 */
    assert_ptr_equal(gort__sched_runqget(t), &gs[2]);       /* next-oldest first */
    /* runnext is stolen only when asked, and only when the queue is empty. */
    while (gort__sched_runqget(p))
        ;
    gort__sched_runqput(p, &gs[300], true);
    assert_null(gort__sched_runqsteal(t, p, false));
    assert_ptr_equal(gort__sched_runqsteal(t, p, true), &gs[300]);
    assert_true(gort__sched_runqempty(p));
    free(p);
    free(t);
}

static void test_overflow(void **state) {
    (void)state;
    reset_global(1);
    gort__p_t *p = newp(0);
    for (int i = 0; i < 300; i++)
        gort__sched_runqput(p, &gs[i], false);
    /* The 257th push moved the oldest 128 and itself to the global queue. */
    assert_int_equal(atomic_load(&gort__sched.runqsize), 129);
    assert_int_equal(gort__sched_runqsize(p), 300 - 129);
    assert_ptr_equal(gort__sched.runqhead, &gs[0]);
    lock(&gort__sched.lock);
    gort__p_t *q = newp(1);
    gort__g_t *g = gort__sched_globrunqget_locked(q, 0);
    unlock(&gort__sched.lock);
    assert_ptr_equal(g, &gs[0]);
    assert_int_equal(gort__sched_runqsize(q), 127);   /* a batch of 128: one to run */
    free(p);
    free(q);
    reset_global(1);
}

/* One owner pushing and popping, three thieves stealing; every G is taken once. */
static gort__p_t *owner;
static _Atomic int taken[NG];
static _Atomic int stop_thieves;

static void take(gort__g_t *g) {
    atomic_fetch_add(&taken[g - gs], 1);
}

static void *thief(void *arg) {
    gort__p_t *t = arg;
    while (!atomic_load(&stop_thieves)) {
        gort__g_t *g = gort__sched_runqsteal(t, owner, (t->id & 1) != 0);
        if (g)
            take(g);
        while ((g = gort__sched_runqget(t)))
            take(g);
    }
    return NULL;
}

static void test_concurrent(void **state) {
    (void)state;
    reset_global(4);
    owner = newp(0);
    pthread_t th[3];
    gort__p_t *tp[3];
    for (int i = 0; i < 3; i++) {
        tp[i] = newp(i + 1);
        pthread_create(&th[i], NULL, thief, tp[i]);
    }
    uint32_t rnd = 1;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < NG; i++) {
            rnd = rnd * 1103515245 + 12345;
            gort__sched_runqput(owner, &gs[i], (rnd >> 16) % 5 == 0);
            gort__g_t *g;
            switch ((rnd >> 20) % 4) {
            case 0: if ((g = gort__sched_runqget(owner))) take(g); break;
            case 1: if ((g = gort__sched_runqget_oldest(owner))) take(g); break;
            case 2:
                if ((g = gort__sched_runqget(owner))) gort__sched_runqput_head(owner, g);
                break;
            default: break;
            }
        }
        gort__g_t *g;
        while ((g = gort__sched_runqget(owner)))
            take(g);
        /* Drain what overflowed to the global queue. */
        lock(&gort__sched.lock);
        while ((g = gort__sched.runqhead)) {
            gort__sched.runqhead = g->schedlink;
            take(g);
        }
        gort__sched.runqtail = NULL;
        atomic_store(&gort__sched.runqsize, 0);
        unlock(&gort__sched.lock);
        /* The thieves drain their own queues; wait until every G is accounted for. */
        for (int spins = 0;; spins++) {
            int missing = 0;
            for (int i = 0; i < NG; i++)
                missing += atomic_load(&taken[i]) != round + 1;
            if (!missing)
                break;
            if (spins > 100000) {
                for (int i = 0; i < NG; i++)
                    if (atomic_load(&taken[i]) != round + 1)
                        print_error("round %d: G %d taken %d times\n", round, i, atomic_load(&taken[i]));
                fail();
            }
            sched_yield();
        }
    }
    atomic_store(&stop_thieves, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        free(tp[i]);
    }
    free(owner);
    reset_global(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
