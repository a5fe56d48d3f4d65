/* Randomized stress: threads allocate, stamp, hand over, reallocate and free blocks
 * of random sizes; every block's stamp is checked before it is freed, and at
 * checkpoints no two live blocks overlap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gort/alloc.h>
#include "alloc/types.h"

enum { THREADS = 4, SLOTS = 4096, OPS = 400000 };

typedef struct { unsigned char *p; size_t n; uint32_t stamp; } block;
static block shared[THREADS][SLOTS];
static pthread_mutex_t shared_mu[THREADS];

static size_t rand_size(unsigned *seed) {
    unsigned r = (unsigned)rand_r(seed) % 100;
    if (r < 70)
        return (size_t)rand_r(seed) % 128 + 1;
    if (r < 95)
        return (size_t)rand_r(seed) % 4096 + 1;
    if (r < 99)
        return (size_t)rand_r(seed) % 65536 + 1;
    return (size_t)rand_r(seed) % (2 << 20) + 1;
}

static void stamp(block *b) {
    for (size_t i = 0; i < b->n; i += 1 + (b->n >> 6))
        b->p[i] = (unsigned char)(b->stamp + i);
    b->p[b->n - 1] = (unsigned char)(b->stamp ^ 0x5a);
}

static void verify(const block *b) {
    for (size_t i = 0; i < b->n - 1; i += 1 + (b->n >> 6))
        if (b->p[i] != (unsigned char)(b->stamp + i))
            fail_msg("block %p (%zu bytes): byte %zu overwritten", (void *)b->p, b->n, i);
    if (b->p[b->n - 1] != (unsigned char)(b->stamp ^ 0x5a))
        fail_msg("block %p (%zu bytes): last byte overwritten", (void *)b->p, b->n);
}

static void *worker(void *arg) {
    int id = (int)((uintptr_t)arg & 0xff), round = (int)((uintptr_t)arg >> 8);
    unsigned seed = (unsigned)(id + round * THREADS) * 7919 + 1;
    for (int op = 0; op < OPS; op++) {
        /* mostly our own slots, sometimes another thread's: cross-thread frees */
        int owner = (rand_r(&seed) % 8) ? id : rand_r(&seed) % THREADS;
        int slot = rand_r(&seed) % SLOTS;
        pthread_mutex_lock(&shared_mu[owner]);
        block *b = &shared[owner][slot];
        if (b->p) {
            verify(b);
            if (rand_r(&seed) % 4 == 0) {
                size_t n = rand_size(&seed);
                unsigned char *q = gort_realloc(b->p, n);
                assert_non_null(q);
                /* the kept prefix still carries the old stamp */
                size_t keep = n < b->n ? n : b->n;
                for (size_t i = 0; i < keep - 1 && i < b->n - 1; i += 1 + (b->n >> 6))
                    if (q[i] != (unsigned char)(b->stamp + i))
                        fail_msg("realloc(%zu -> %zu) lost byte %zu", b->n, n, i);
                b->p = q;
                b->n = n;
                stamp(b);
            } else {
                gort_free(b->p);
                b->p = NULL;
            }
        } else {
            b->n = rand_size(&seed);
            b->p = (rand_r(&seed) % 8) ? gort_malloc(b->n) : gort_calloc(1, b->n);
            assert_non_null(b->p);
            b->stamp = (uint32_t)rand_r(&seed);
            stamp(b);
        }
        pthread_mutex_unlock(&shared_mu[owner]);
    }
    return NULL;
}

static int by_addr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const block *)a)->p, y = (uintptr_t)((const block *)b)->p;
    return x < y ? -1 : x > y;
}

static void check_no_overlap(void) {
    static block all[THREADS * SLOTS];
    size_t n = 0;
    for (int t = 0; t < THREADS; t++)
        for (int s = 0; s < SLOTS; s++)
            if (shared[t][s].p)
                all[n++] = shared[t][s];
    qsort(all, n, sizeof all[0], by_addr);
    for (size_t i = 0; i + 1 < n; i++) {
        verify(&all[i]);
        if ((uintptr_t)all[i].p + gort_usable_size(all[i].p) > (uintptr_t)all[i + 1].p)
            fail_msg("blocks %p (+%zu) and %p overlap", (void *)all[i].p,
                     gort_usable_size(all[i].p), (void *)all[i + 1].p);
    }
}

static void randomized_stress(void **state) {
    (void)state;
    gort_alloc_stats_t base;
    gort_alloc_stats(&base);
    for (int t = 0; t < THREADS; t++)
        pthread_mutex_init(&shared_mu[t], NULL);
    for (int round = 0; round < 3; round++) {
        pthread_t th[THREADS];
        for (int t = 0; t < THREADS; t++)
            pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)(t | round << 8));
        for (int t = 0; t < THREADS; t++)
            pthread_join(th[t], NULL);
        check_no_overlap();
    }
    for (int t = 0; t < THREADS; t++)
        for (int s = 0; s < SLOTS; s++)
            if (shared[t][s].p) {
                verify(&shared[t][s]);
                gort_free(shared[t][s].p);
                shared[t][s].p = NULL;
            }
    gort_alloc_stats_t end;
    gort_alloc_stats(&end);
    assert_int_equal(end.heap_objects, base.heap_objects);
    assert_int_equal(end.heap_alloc, base.heap_alloc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(randomized_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
