/* Per-thread caches: cross-thread frees with 8 producer/consumer threads, thread exit
 * returns the cache, frees into full spans reach their owner, frees into spans whose
 * owner exited, and many short-lived threads freeing each other's blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gort/alloc.h>
#include "alloc/types.h"

static gort_alloc_stats_t snap(void) {
    gort_alloc_stats_t s;
    assert_int_equal(gort_alloc_stats(&s), 0);
    return s;
}

/* ---- a bounded queue of blocks between producers and consumers ---- */
enum { QCAP = 1024 };
static struct {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    void *buf[QCAP];
    size_t head, len;
    int producers_left;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

static void q_put(void *p) {
    pthread_mutex_lock(&q.mu);
    while (q.len == QCAP)
        pthread_cond_wait(&q.nonfull, &q.mu);
    q.buf[(q.head + q.len++) % QCAP] = p;
    pthread_cond_signal(&q.nonempty);
    pthread_mutex_unlock(&q.mu);
}

static void *q_get(void) {
    pthread_mutex_lock(&q.mu);
    while (q.len == 0 && q.producers_left > 0)
        pthread_cond_wait(&q.nonempty, &q.mu);
    void *p = NULL;
    if (q.len) {
        p = q.buf[q.head];
        q.head = (q.head + 1) % QCAP;
        q.len--;
        pthread_cond_signal(&q.nonfull);
    }
    pthread_mutex_unlock(&q.mu);
    return p;
}

typedef struct { uint32_t size, stamp; } hdr;

static void *producer(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 100000; i++) {
        uint32_t n = (rand_r(&seed) % 8) ? (uint32_t)(rand_r(&seed) % 500 + 8) : (uint32_t)(rand_r(&seed) % 60000 + 8);
        hdr *h = gort_malloc(n);
        assert_non_null(h);
        h->size = n;
        h->stamp = n * 2654435761u;
        memset(h + 1, (int)(n & 0xff), n - sizeof *h);
        q_put(h);
    }
    pthread_mutex_lock(&q.mu);
    q.producers_left--;
    pthread_cond_broadcast(&q.nonempty);
    pthread_mutex_unlock(&q.mu);
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    hdr *h;
    while ((h = q_get()) != NULL) {
        if (h->stamp != h->size * 2654435761u)
            fail_msg("block %p: stamp damaged", (void *)h);
        const unsigned char *b = (const unsigned char *)(h + 1);
        for (uint32_t k = 0; k < h->size - sizeof *h; k += 61)
            if (b[k] != (h->size & 0xff))
                fail_msg("block %p: byte %u damaged", (void *)h, k);
        gort_free(h);
    }
    return NULL;
}

static void cross_thread_producer_consumer(void **state) {
    (void)state;
    gort_alloc_stats_t base = snap();
    pthread_t t[8];
    q.producers_left = 4;
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, producer, (void *)(uintptr_t)(i + 1));
    for (int i = 4; i < 8; i++)
        pthread_create(&t[i], NULL, consumer, NULL);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    gort_alloc_stats_t s = snap();
    assert_int_equal(s.heap_objects, base.heap_objects);
    assert_int_equal(s.heap_alloc, base.heap_alloc);
    assert_int_equal(s.mallocs - base.mallocs, 400000);
    assert_int_equal(s.frees - base.frees, 400000);
}

/* ---- thread exit returns the cache ---- */
static void *allocs[3000];
static void *alloc_and_exit(void *arg) {
    (void)arg;
    for (int i = 0; i < 3000; i++)
        allocs[i] = gort_malloc((size_t)(i % 700) + 1);
    for (int i = 0; i < 3000; i += 2)
        gort_free(allocs[i]);
    return NULL;
}

static void thread_exit_returns_cache(void **state) {
    (void)state;
    gort_release_memory();
    gort_alloc_stats_t base = snap();
    pthread_t t;
    pthread_create(&t, NULL, alloc_and_exit, NULL);
    pthread_join(t, NULL);
    gort_alloc_stats_t mid = snap();
    assert_int_equal(mid.num_caches, base.num_caches);   /* the thread's cache is gone */
    assert_int_equal(mid.heap_objects - base.heap_objects, 1500);
    for (int i = 1; i < 3000; i += 2)   /* free into the abandoned spans */
        gort_free(allocs[i]);
    gort_release_memory();
    gort_alloc_stats_t end = snap();
    assert_int_equal(end.heap_objects, base.heap_objects);
    assert_int_equal(end.heap_inuse, base.heap_inuse);   /* every span went back */
}

/* ---- frees into an owner's full spans come back to it ---- */
static void *batch[20000];
static void *free_batch(void *arg) {
    (void)arg;
    for (int i = 0; i < 20000; i++)
        gort_free(batch[i]);
    return NULL;
}

static void remote_frees_into_full_spans_are_reused(void **state) {
    (void)state;
    gort_release_memory();
    uint64_t sys = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 20000; i++)   /* fills ~80 spans of 32 bytes: all full */
            batch[i] = gort_malloc(32);
        pthread_t t;
        pthread_create(&t, NULL, free_batch, NULL);
        pthread_join(t, NULL);
        gort_alloc_stats_t s = snap();
        if (round == 1)
            sys = s.heap_inuse;
        if (round > 1 && s.heap_inuse > sys)
            fail_msg("round %d: heap_inuse grew from %llu to %llu: remote frees not reused", round,
                     (unsigned long long)sys, (unsigned long long)s.heap_inuse);
    }
}

/* ---- 10 000 short-lived threads freeing each other's blocks ---- */
static _Atomic(void *) slots[64];
static void *short_lived(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 20; i++) {
        void *mine = gort_malloc((size_t)(rand_r(&seed) % 300) + 1);
        void *theirs = atomic_exchange(&slots[rand_r(&seed) % 64], mine);
        gort_free(theirs);
    }
    return NULL;
}

static void many_short_lived_threads(void **state) {
    (void)state;
    gort_alloc_stats_t base = snap();
    for (int round = 0; round < 1250; round++) {
        pthread_t t[8];
        for (int i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, short_lived, (void *)(uintptr_t)(round * 8 + i + 1));
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
    }
    for (int i = 0; i < 64; i++)
        gort_free(atomic_exchange(&slots[i], NULL));
    gort_alloc_stats_t s = snap();
    assert_int_equal(s.heap_objects, base.heap_objects);
    assert_int_equal(s.num_caches, base.num_caches);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cross_thread_producer_consumer),
        cmocka_unit_test(thread_exit_returns_cache),
        cmocka_unit_test(remote_frees_into_full_spans_are_reused),
        cmocka_unit_test(many_short_lived_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
