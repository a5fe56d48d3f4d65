/* The futex mutex excludes, and (in debug builds) lock ranks are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>

#include "common/death.h"
#include "include/gort/internal/lock.h"

static gort_mutex_t mu = GORT_MUTEX_RANKED(GORT_RANK_LEAF);
static long counter;

static void *bump(void *arg) {
    (void)arg;
    for (int i = 0; i < 200000; i++) {
        gort__mutex_lock(&mu);
        counter++;
        gort__mutex_unlock(&mu);
    }
    return NULL;
}

static void mutual_exclusion(void **state) {
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, bump, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(counter, 800000);
    assert_true(gort__mutex_trylock(&mu));
    assert_false(gort__mutex_trylock(&mu));
    gort__mutex_unlock(&mu);
}

#ifdef GORT_DEBUG_CHECKS
static void wrong_order(void *arg) {
    (void)arg;
    static gort_mutex_t heap = GORT_MUTEX_RANKED(GORT_RANK_HEAP);
    static gort_mutex_t central = GORT_MUTEX_RANKED(GORT_RANK_CENTRAL);
    gort__mutex_lock(&heap);
    gort__mutex_lock(&central);   /* central ranks below heap: a violation */
}

static void same_rank_descending(void *arg) {
    (void)arg;
    static gort_mutex_t pair[2] = {GORT_MUTEX_RANKED(GORT_RANK_CENTRAL), GORT_MUTEX_RANKED(GORT_RANK_CENTRAL)};
    gort__mutex_lock(&pair[1]);
    gort__mutex_lock(&pair[0]);
}

static void rank_violation_dies(void **state) {
    (void)state;
    gort_expect_death(wrong_order, NULL, "lock order violation");
    gort_expect_death(same_rank_descending, NULL, "lock order violation");
    /* the same rank in increasing address order is allowed (fork takes every central lock) */
    static gort_mutex_t pair[3] = {GORT_MUTEX_RANKED(GORT_RANK_CENTRAL), GORT_MUTEX_RANKED(GORT_RANK_CENTRAL),
                                   GORT_MUTEX_RANKED(GORT_RANK_HEAP)};
    for (int i = 0; i < 3; i++)
        gort__mutex_lock(&pair[i]);
    for (int i = 3; i-- > 0;)
        gort__mutex_unlock(&pair[i]);
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mutual_exclusion),
#ifdef GORT_DEBUG_CHECKS
        cmocka_unit_test(rank_violation_dies),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
