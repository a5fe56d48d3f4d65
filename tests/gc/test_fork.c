/* gc.fork: fork() in a program that uses the collector (gc/gc.c, "Fork").
 *
 *   - A child forked before the collector started has a collector of its own.
 *   - A child forked while a thread allocates and cycles run back to back
 *     inherits a heap between cycles: its data intact, GC allocation working
 *     with nothing collected (one warning says so), never waiting for a cycle
 *     that cannot come -- before the fork hooks, such a child waited 100 ms at
 *     each refill past the goal, or for ever on a lock the sweeper held at the
 *     fork -- and the parent's collector goes on.
 *   - gort_gc_collect in such a child dies, naming the reason.
 *   - A goroutine may fork while other goroutines allocate and cycles run: the
 *     fork waits for the cycle under way (which stops the forking goroutine's
 *     P too) without a deadlock, and the child may exit at once (Go's rule for
 *     a child forked from a goroutine: exec or exit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../common/death.h"
#include "common.h"

#include <gort/gort.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct node {
    struct node *next;
    uint64_t value;
} node;

enum { LIST_LEN = 4096 };

static node *list;   /* a root (bss), stored through the barrier */

static uint64_t value_of(int i) { return (uint64_t)i * 0x9E3779B97F4A7C15u; }

static void build_list(void) {
    GORT_GC_STORE(list, (node *)NULL);
    for (int i = LIST_LEN; i-- > 0;) {
        node *n = gort_gc_alloc(sizeof *n);
        DIE_UNLESS(n != NULL);
        n->value = value_of(i);
        GORT_GC_STORE(n->next, list);
        GORT_GC_STORE(list, n);
    }
}

/* 1 if the list holds exactly what build_list put there. */
static int list_intact(void) {
    int i = 0;
    for (node *n = list; n; n = n->next, i++)
        if (i >= LIST_LEN || n->value != value_of(i))
            return 0;
    return i == LIST_LEN;
}

/* Garbage: mib MiB of small objects, each linked to the list's head for a
 * moment (a barrier store, then a read). */
static void churn(int mib, node **slot) {
    for (long i = 0; i < (long)mib * (1 << 20) / 64; i++) {
        node *n = gort_gc_alloc(64);
        DIE_UNLESS(n != NULL);
        n->value = (uint64_t)i;
        GORT_GC_STORE(n->next, list);
        GORT_GC_STORE(*slot, n);
        DIE_UNLESS((*slot)->next == list && (*slot)->value == (uint64_t)i);
    }
}

static void collect_in_child(void *arg) {
    (void)arg;
    alarm(60);   /* a hang fails the test, not the whole run */
    gort_gc_stats_t st;
    build_list();
    static node *scratch;
    churn(8, &scratch);
    gort_gc_collect();
    DIE_UNLESS(gort_gc_stats(&st) == 0);
    DIE_UNLESS(st.num_gc > 0);
    DIE_UNLESS(list_intact());
}

/* First: no GC object exists yet in this process, so its collector has not started. */
static void test_child_of_unstarted_collector_collects(void **state) {
    (void)state;
    const char *out = capture_child(collect_in_child, NULL);
    assert_null(strstr(out, "nothing is collected"));
}

static _Atomic int stop_churner;
static _Atomic long churned;

static void *churner(void *arg) {
    (void)arg;
    DIE_UNLESS(gort_gc_register_thread() == 0);
    static node *slot;
    while (!atomic_load(&stop_churner)) {
        churn(1, &slot);
        atomic_fetch_add(&churned, 1);
    }
    GORT_GC_STORE(slot, (node *)NULL);
    gort_gc_unregister_thread();
    return NULL;
}

static void allocate_in_child(void *arg) {
    (void)arg;
    alarm(60);
    DIE_UNLESS(list_intact());
    static node *scratch;
    churn(16, &scratch);   /* several times the parent's heap goal */
    DIE_UNLESS(list_intact());
    gort_gc_stats_t st;
    DIE_UNLESS(gort_gc_stats(&st) == 0);
}

static void test_fork_while_collecting(void **state) {
    (void)state;
    build_list();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, churner, NULL), 0);
    gort_gc_stats_t a, b;
    assert_int_equal(gort_gc_stats(&a), 0);
    int warned = 0;
    for (int i = 0; i < 12; i++) {
        /* Fork at a different point of the churner's cycles each time. */
        struct timespec ts = {0, (i % 4) * 700000};
        nanosleep(&ts, NULL);
        const char *out = capture_child(allocate_in_child, NULL);
        if (strstr(out, "nothing is collected"))
            warned++;
        else if (out[0])
            fail_msg("child said: %s", out);
    }
    atomic_store(&stop_churner, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    /* Every child went past where a cycle would start. */
    assert_int_equal(warned, 12);
    /* The parent's collector runs on: the gate let it through after each fork. */
    gort_gc_collect();
    assert_int_equal(gort_gc_stats(&b), 0);
    assert_true(b.num_gc > a.num_gc);
    assert_true(list_intact());
    assert_true(atomic_load(&churned) > 0);
}

static void collect_after_fork(void *arg) {
    (void)arg;
    alarm(60);
    gort_gc_collect();
}

static void test_collect_in_forked_child_dies(void **state) {
    (void)state;
    gort_gc_collect();   /* the collector has started */
    gort_expect_death(collect_after_fork, NULL, "gort_gc_collect in a process forked from pid");
}

/* ---- fork from a goroutine ------------------------------------------------------- */
static _Atomic int g_stop;
static gort_waitgroup_t g_wg = GORT_WAITGROUP_INIT;

static void g_churner(void *arg) {
    (void)arg;
    static node *slot[2];
    int k = atomic_fetch_add(&churned, 1) & 1;
    while (!atomic_load(&g_stop))
        churn(1, &slot[k]);
    GORT_GC_STORE(slot[k], (node *)NULL);
    gort_wg_done(&g_wg);
}

static void forking_main(void *arg) {
    int *children_ok = arg;
    gort_gc_stats_t a, b;
    DIE_UNLESS(gort_gc_stats(&a) == 0);
    gort_wg_add(&g_wg, 2);
    DIE_UNLESS(gort_go(g_churner, NULL) == 0);
    DIE_UNLESS(gort_go(g_churner, NULL) == 0);
    for (int i = 0; i < 12; i++) {
        gort_sleep((i % 4) * 700000);
        pid_t pid = fork();
        DIE_UNLESS(pid >= 0);
        if (pid == 0)
            _exit(list_intact() ? 0 : 3);
        int st;
        DIE_UNLESS(waitpid(pid, &st, 0) == pid);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            (*children_ok)++;
    }
    atomic_store(&g_stop, 1);
    gort_wg_wait(&g_wg);
    gort_gc_collect();
    DIE_UNLESS(gort_gc_stats(&b) == 0);
    DIE_UNLESS(b.num_gc > a.num_gc);
}

static void test_fork_from_goroutine(void **state) {
    (void)state;
    int children_ok = 0;
    assert_int_equal(gort_main(forking_main, &children_ok), 0);
    assert_int_equal(children_ok, 12);
    assert_true(list_intact());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child_of_unstarted_collector_collects),
        cmocka_unit_test(test_fork_while_collecting),
        cmocka_unit_test(test_collect_in_forked_child_dies),
        cmocka_unit_test(test_fork_from_goroutine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
