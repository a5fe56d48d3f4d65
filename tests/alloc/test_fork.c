/* alloc.fork: the allocator's fork handlers (alloc/fork.c) in a program linked
 * with the static library, as every test is.  That file is nothing but a
 * constructor, and an archive member nothing refers to is left out of a static
 * link: without rt/env.c's reference to it, fork() ran no allocator handler and
 * a child could inherit an allocator lock held by a thread that does not exist
 * in it (tests/preload/test_malloc_fork.c covers the shared library).
 *
 *   - fork() waits for a thread that holds the page heap's lock, and the child
 *     can then allocate from the page heap;
 *   - forks while threads allocate and free without pause leave children that
 *     allocate, free what they inherited, and start threads of their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/death.h"
#include "common/rng.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <gort/alloc.h>
#include "alloc/types.h"

#if GORT_TSAN
/* The children start threads (a thread of the test's, the scavenger): ThreadSanitizer
 * allows that after a multithreaded fork only when told to. */
const char *__tsan_default_options(void) { return "die_after_fork=0"; }
#endif

static _Atomic int holding, forked;

/* Holds the page heap's lock long enough for the main thread to fork meanwhile,
 * and lives on until the fork is over (a thread that ended unjoined at the fork
 * is a leak to ThreadSanitizer in the child). */
static void *hold_heap_lock(void *arg) {
    (void)arg;
    gort__mutex_lock(&gort__heap.lock);
    atomic_store(&holding, 1);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    gort__mutex_unlock(&gort__heap.lock);
    while (!atomic_load(&forked))
        sched_yield();
    return NULL;
}

static void large_alloc_in_child(void *arg) {
    (void)arg;
    alarm(30);   /* a child stuck on an inherited lock fails the test, not the run */
    void *p = gort_malloc(1 << 20);   /* large: straight from the page heap */
    DIE_UNLESS(p != NULL);
    memset(p, 1, 1 << 20);
    gort_free(p);
}

static void test_fork_waits_for_heap_lock(void **state) {
    (void)state;
    gort_free(gort_malloc(1 << 20));   /* the allocator is initialised */
    atomic_store(&holding, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hold_heap_lock, NULL), 0);
    while (!atomic_load(&holding))
        sched_yield();
    const char *out = capture_child(large_alloc_in_child, NULL);
    atomic_store(&forked, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_string_equal(out, "");
}

/* ---- forks while threads churn -------------------------------------------------- */
enum { NTHREADS = 3, NFORKS = 20, SLOTS = 256 };
static _Atomic int stop;
static void *_Atomic shared[SLOTS];   /* blocks passed between threads */

static size_t rand_size(uint64_t *s) {
    uint64_t r = test_rng_next(s);
    return (r & 7) == 0 ? 32768 + (r >> 8) % 200000 : 1 + (r >> 8) % 2048;
}

static void *churn(void *arg) {
    uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    while (!atomic_load(&stop)) {
        unsigned j = (unsigned)(test_rng_next(&s) % SLOTS);
        size_t n = rand_size(&s);
        void *p = gort_malloc(n);
        DIE_UNLESS(p != NULL);
        memset(p, 7, n < 16 ? n : 16);
        gort_free(atomic_exchange(&shared[j], p));
    }
    return NULL;
}

static void *child_thread(void *arg) {
    uint64_t s = (uintptr_t)arg + 99;
    for (int i = 0; i < 2000; i++) {
        size_t n = rand_size(&s);
        void *p = gort_malloc(n);
        DIE_UNLESS(p != NULL);
        memset(p, 3, n < 16 ? n : 16);
        gort_free(p);
    }
    return NULL;
}

static void churn_in_child(void *arg) {
    (void)arg;
    alarm(30);
    /* Free what the dead threads left, then allocate from this thread and two new
     * ones -- not under AddressSanitizer, whose own allocator (which a new thread's
     * start uses) is not fork-safe in gcc 12's libasan: a child of a multithreaded
     * parent that starts a thread can hang in it.  So there the scavenger, which
     * the frees below would start, stays off too. */
#if GORT_ASAN
    gort__settings.scavenge = 0;
#endif
    for (int i = 0; i < SLOTS; i++)
        gort_free(atomic_exchange(&shared[i], NULL));
#if !GORT_ASAN
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        DIE_UNLESS(pthread_create(&th[i], NULL, child_thread, (void *)(uintptr_t)i) == 0);
#endif
    child_thread((void *)(uintptr_t)2);
#if !GORT_ASAN
    for (int i = 0; i < 2; i++)
        DIE_UNLESS(pthread_join(th[i], NULL) == 0);
#endif
}

static void test_fork_while_threads_allocate(void **state) {
    (void)state;
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < NFORKS; i++) {
        struct timespec ts = {0, (i % 4) * 500000};
        nanosleep(&ts, NULL);
        const char *out = capture_child(churn_in_child, NULL);
        assert_string_equal(out, "");
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < SLOTS; i++)
        gort_free(atomic_exchange(&shared[i], NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_waits_for_heap_lock),
        cmocka_unit_test(test_fork_while_threads_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
