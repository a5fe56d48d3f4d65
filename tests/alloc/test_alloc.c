/* The public allocation API: every class, alignment, calloc, realloc, large objects,
 * aligned_alloc, usable_size and the ENOMEM / EINVAL cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <gort/alloc.h>
#include "alloc/types.h"

static size_t want_align(size_t n) {
    size_t a = 1;
    while (a * 2 <= n && a < 16)
        a *= 2;
    return a;
}

static void every_class(void **state) {
    (void)state;
    for (unsigned c = 1; c < NUM_CLASSES; c++) {
        size_t size = gort__class_size[c];
        void *p[8];
        for (int i = 0; i < 8; i++) {
            p[i] = gort_malloc(size);
            assert_non_null(p[i]);
            assert_int_equal(gort_usable_size(p[i]), size);
            memset(p[i], i + 1, size);
        }
        for (int i = 0; i < 8; i++) {
            const unsigned char *b = p[i];
            assert_int_equal(b[0], i + 1);
            assert_int_equal(b[size - 1], i + 1);
            gort_free(p[i]);
        }
    }
}

static void alignment_of_every_size_to_64k(void **state) {
    (void)state;
    for (size_t n = 0; n <= 65536; n++) {
        void *p = gort_malloc(n);
        assert_non_null(p);
        if ((uintptr_t)p % want_align(n)) {
            print_error("malloc(%zu) = %p is not %zu-aligned\n", n, p, want_align(n));
            fail();
        }
        assert_true(gort_usable_size(p) >= n);
        gort_free(p);
    }
}

static void aligned_alloc_to_2mib(void **state) {
    (void)state;
    for (size_t align = 1; align <= ((size_t)2 << 20); align *= 2) {
        size_t sizes[] = {1, align / 2 + 1, align, align + 1, 3 * align, 40000, 300000};
        void *keep[GORT_ARRAY_LEN(sizes)];
        for (size_t i = 0; i < GORT_ARRAY_LEN(sizes); i++) {
            void *p = gort_aligned_alloc(align, sizes[i]);
            assert_non_null(p);
            if ((uintptr_t)p % align) {
                print_error("aligned_alloc(%zu, %zu) = %p\n", align, sizes[i], p);
                fail();
            }
            assert_true(gort_usable_size(p) >= sizes[i]);
            memset(p, 0x5a, sizes[i]);
            keep[i] = p;
        }
        for (size_t i = 0; i < GORT_ARRAY_LEN(sizes); i++)
            gort_free(keep[i]);
    }
    errno = 0;
    assert_null(gort_aligned_alloc(24, 100));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(gort_aligned_alloc(0, 100));
    assert_int_equal(errno, EINVAL);
}

static void calloc_zeroes_after_dirty_reuse(void **state) {
    (void)state;
    size_t sizes[] = {1, 8, 24, 100, 1000, 4096, 30000, 40000, 200000, 3 << 20, 40 << 20};
    for (int round = 0; round < 3; round++) {
        void *p[GORT_ARRAY_LEN(sizes)][16];
        for (size_t s = 0; s < GORT_ARRAY_LEN(sizes); s++)
            for (int i = 0; i < 16; i++) {
                p[s][i] = gort_malloc(sizes[s]);
                assert_non_null(p[s][i]);
                memset(p[s][i], 0xAA, sizes[s]);
            }
        for (size_t s = 0; s < GORT_ARRAY_LEN(sizes); s++)
            for (int i = 0; i < 16; i++)
                gort_free(p[s][i]);
        for (size_t s = 0; s < GORT_ARRAY_LEN(sizes); s++)
            for (int i = 0; i < 16; i++) {
                unsigned char *q = gort_calloc(1, sizes[s]);
                assert_non_null(q);
                for (size_t k = 0; k < sizes[s]; k += (sizes[s] > 100000 ? 509 : 1))
                    if (q[k]) {
                        print_error("calloc(%zu)[%zu] = %#x\n", sizes[s], k, q[k]);
                        fail();
                    }
                assert_int_equal(q[sizes[s] - 1], 0);
                p[s][i] = q;
            }
        for (size_t s = 0; s < GORT_ARRAY_LEN(sizes); s++)
            for (int i = 0; i < 16; i++)
                gort_free(p[s][i]);
    }
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 31 + seed);
}
static void check(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 31 + seed)) {
            print_error("byte %zu of %zu lost\n", i, n);
            fail();
        }
}

static void realloc_keeps_content(void **state) {
    (void)state;
    size_t n = 1;
    unsigned char *p = gort_malloc(n);
    fill(p, n, 7);
    while (n < (8u << 20)) {   /* grow through every regime: small, large, huge */
        size_t m = n * 3 / 2 + 1;
        p = gort_realloc(p, m);
        assert_non_null(p);
        check(p, n, 7);
        fill(p, m, 7);
        n = m;
    }
    while (n > 1) {            /* and shrink back */
        size_t m = n / 3;
        if (m == 0)
            m = 1;
        p = gort_realloc(p, m);
        assert_non_null(p);
        check(p, m, 7);
        n = m;
    }
    gort_free(p);
    /* realloc(NULL, n) is malloc; realloc(p, 0) frees and returns NULL (glibc) */
    p = gort_realloc(NULL, 100);
    assert_non_null(p);
    assert_null(gort_realloc(p, 0));
}

static void large_objects(void **state) {
    (void)state;
    size_t sizes[] = {32769, 65536, 100000, 1 << 20, 31 << 20, 33 << 20, 100 << 20, 300 << 20};
    for (size_t i = 0; i < GORT_ARRAY_LEN(sizes); i++) {
        unsigned char *p = gort_malloc(sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % PAGE_SIZE, 0);
        assert_true(gort_usable_size(p) >= sizes[i]);
        p[0] = 1;
        p[sizes[i] / 2] = 2;
        p[sizes[i] - 1] = 3;
        assert_int_equal(p[0] + p[sizes[i] / 2] + p[sizes[i] - 1], 6);
        gort_free(p);
    }
}

static void enomem_and_edges(void **state) {
    (void)state;
    errno = 0;
    assert_null(gort_malloc(SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gort_malloc(SIZE_MAX / 2));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gort_calloc(SIZE_MAX / 2, 3));   /* overflow */
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gort_calloc((size_t)1 << 33, (size_t)1 << 33));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gort_aligned_alloc(64, SIZE_MAX - 10));
    assert_int_equal(errno, ENOMEM);
    /* a failed realloc keeps the old block */
    unsigned char *p = gort_malloc(100);
    fill(p, 100, 3);
    errno = 0;
    assert_null(gort_realloc(p, SIZE_MAX - 4096));
    assert_int_equal(errno, ENOMEM);
    check(p, 100, 3);
    gort_free(p);
    gort_free(NULL);
    assert_int_equal(gort_usable_size(NULL), 0);
    /* malloc(0) returns a unique, freeable pointer */
    void *a = gort_malloc(0), *b = gort_malloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    gort_free(a);
    gort_free(b);
}

static void stats_balance(void **state) {
    (void)state;
    gort_alloc_stats_t before, mid, after;
    assert_int_equal(gort_alloc_stats(NULL), -1);
    assert_int_equal(gort_alloc_stats(&before), 0);
    void *p[1000];
    for (int i = 0; i < 1000; i++)
        p[i] = gort_malloc(32);
    void *big = gort_malloc(100000);
    assert_int_equal(gort_alloc_stats(&mid), 0);
    assert_int_equal(mid.heap_objects - before.heap_objects, 1001);
    assert_int_equal(mid.mallocs - before.mallocs, 1001);
    assert_int_equal(mid.heap_alloc - before.heap_alloc, 1000 * 32 + gort_usable_size(big));
    assert_int_equal(mid.by_class[size_to_class(32)].objects - before.by_class[size_to_class(32)].objects, 1000);
    for (int i = 0; i < 1000; i++)
        gort_free(p[i]);
    gort_free(big);
    assert_int_equal(gort_alloc_stats(&after), 0);
    assert_int_equal(after.heap_objects, before.heap_objects);
    assert_int_equal(after.heap_alloc, before.heap_alloc);
    assert_int_equal(after.frees - before.frees, 1001);
    assert_true(after.heap_idle + after.heap_inuse == after.heap_sys);
    assert_true(after.heap_released <= after.heap_idle);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_class),
        cmocka_unit_test(alignment_of_every_size_to_64k),
        cmocka_unit_test(aligned_alloc_to_2mib),
        cmocka_unit_test(calloc_zeroes_after_dirty_reuse),
        cmocka_unit_test(realloc_keeps_content),
        cmocka_unit_test(large_objects),
        cmocka_unit_test(enomem_and_edges),
        cmocka_unit_test(stats_balance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
