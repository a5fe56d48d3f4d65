/* Conformance of every function libgort_malloc.so exports (alloc/malloc.c), run with
 * the library preloaded: alignment, errno, edge sizes, realloc's edge cases, glibc's
 * introspection calls, the C++ operators (through dlsym: this is C), and the
 * deaths that a pointer gort did not allocate must cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/death.h"

/* This file makes impossible requests and frees bad pointers on purpose. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wfree-nonheap-object"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif
#include "preload/preload.h"

static size_t natural_align(size_t n) {
    size_t a = 1;
    while (a < 16 && a * 2 <= n)
        a *= 2;
    return a;
}

static void *vsym(const char *name) { return preload_sym(name); }

static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 100,
                               127, 128, 255, 256, 511, 512, 1000, 1024, 1025, 2047, 4095, 4096,
                               4097, 8191, 8192, 8193, 16384, 32767, 32768, 32769, 65536, 100000,
                               1 << 20, (1 << 20) + 1, 9 << 20, 70 << 20};

static void test_is_gort(void **state) {
    (void)state;
    preload_require_gort();
    /* The aliases are the same functions. */
    assert_ptr_equal(vsym("__libc_malloc"), vsym("malloc"));
    assert_ptr_equal(vsym("__libc_free"), vsym("free"));
    assert_ptr_equal(vsym("__libc_calloc"), vsym("calloc"));
    assert_ptr_equal(vsym("__libc_realloc"), vsym("realloc"));
    assert_ptr_equal(vsym("__libc_memalign"), vsym("memalign"));
}

static void test_malloc_sizes(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        errno = 4321;
        unsigned char *p = malloc(n);
        assert_non_null(p);
        assert_int_equal(errno, 4321);   /* success leaves errno alone */
        assert_int_equal((uintptr_t)p % natural_align(n), 0);
        size_t u = malloc_usable_size(p);
        assert_true(u >= n);
        assert_true(u >= 1);
        memset(p, 0xa5, u);   /* the whole usable size is ours */
        free(p);
        assert_int_equal(errno, 4321);
    }
    /* malloc(0) blocks are distinct. */
    void *a = malloc(0), *b = malloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    free(a);
    free(b);
    free(NULL);
    assert_int_equal(malloc_usable_size(NULL), 0);
}

static void test_malloc_enomem(void **state) {
    (void)state;
    const size_t bad[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1,
                          (size_t)1 << 50};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_null(malloc(bad[i]));
        assert_int_equal(errno, ENOMEM);
    }
}

static void test_calloc_zeroes(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        /* Dirty a block of this size first, so calloc may get it back. */
        unsigned char *d = malloc(n);
        memset(d, 0xff, malloc_usable_size(d));
        free(d);
        unsigned char *p = calloc(1, n);
        assert_non_null(p);
        for (size_t k = 0; k < n; k++)
            if (p[k]) fail_msg("calloc(1, %zu)[%zu] = %u", n, k, p[k]);
        free(p);
        p = calloc(n, 1);
        assert_non_null(p);
        free(p);
    }
    unsigned char *p = calloc(1000, 1000);
    for (size_t k = 0; k < 1000000; k++)
        if (p[k]) fail_msg("calloc(1000, 1000)[%zu] != 0", k);
    free(p);
    errno = 0;
    assert_null(calloc(SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(calloc((size_t)1 << 33, (size_t)1 << 33));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(calloc(1, SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static void check(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            fail_msg("byte %zu of %zu lost", i, n);
}

static void test_realloc_edges(void **state) {
    (void)state;
    /* NULL: malloc. */
    unsigned char *p = realloc(NULL, 10);
    assert_non_null(p);
    fill(p, 10, 1);
    /* Grow and shrink through every size, keeping the contents. */
    size_t cur = 10;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i] ? sizes[i] : 1;
        p = realloc(p, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % natural_align(n), 0);
        check(p, cur < n ? cur : n, 1);
        fill(p, n, 1);
        cur = n;
    }
    for (size_t i = sizeof sizes / sizeof sizes[0]; i-- > 1;) {
        size_t n = sizes[i];
        p = realloc(p, n);
        assert_non_null(p);
        check(p, cur < n ? cur : n, 1);
        fill(p, n, 1);
        cur = n;
        assert_true(malloc_usable_size(p) >= n);
    }
    /* A failed realloc keeps the old block intact (and it is still freeable). */
    const size_t bad[] = {SIZE_MAX, (size_t)PTRDIFF_MAX, (size_t)1 << 50};
    for (size_t i = 0; i < 3; i++) {
        errno = 0;
        assert_null(realloc(p, bad[i]));
        assert_int_equal(errno, ENOMEM);
        check(p, cur, 1);
    }
    /* realloc(p, 0) frees p and returns NULL (glibc). */
    gort_alloc_stats_t before, after;
    preload_stats(&before);
    assert_null(realloc(p, 0));
    preload_stats(&after);
    assert_int_equal(after.frees - before.frees, 1);
    /* realloc(NULL, 0) is malloc(0): a block. */
    p = realloc(NULL, 0);
    assert_non_null(p);
    free(p);
    /* Large growth in place and out of place keeps every byte. */
    p = malloc(100000);
    fill(p, 100000, 9);
    for (size_t n = 150000; n < (40u << 20); n = n * 3 / 2) {
        p = realloc(p, n);
        assert_non_null(p);
        check(p, 100000, 9);
    }
    free(p);
}

static void test_reallocarray(void **state) {
    (void)state;
    void *(*ra)(void *, size_t, size_t) = (void *(*)(void *, size_t, size_t))vsym("reallocarray");
    unsigned char *p = ra(NULL, 10, 10);
    assert_non_null(p);
    fill(p, 100, 3);
    p = ra(p, 100, 100);
    assert_non_null(p);
    check(p, 100, 3);
    errno = 0;
    assert_null(ra(p, SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    check(p, 100, 3);   /* kept */
    free(p);
}

static void test_posix_memalign(void **state) {
    (void)state;
    for (size_t a = sizeof(void *); a <= ((size_t)4 << 20); a *= 2) {
        const size_t ns[] = {0, 1, 8, 17, 100, 4096, 5000, 40000, 3 << 20};
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            void *p = NULL;
            assert_int_equal(posix_memalign(&p, a, ns[k]), 0);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % a, 0);
            assert_true(malloc_usable_size(p) >= ns[k]);
            memset(p, 1, ns[k]);
            free(p);
        }
    }
    const size_t bad[] = {0, 1, 2, 4, 12, 24, 48, 100, 4097, SIZE_MAX};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        void *p = (void *)0x1234;
        errno = 777;
        assert_int_equal(posix_memalign(&p, bad[k], 16), EINVAL);
        assert_ptr_equal(p, (void *)0x1234);   /* untouched */
        assert_int_equal(errno, 777);          /* errno is not how it reports */
    }
    void *p = (void *)0x1234;
    assert_int_equal(posix_memalign(&p, 64, SIZE_MAX), ENOMEM);
    assert_ptr_equal(p, (void *)0x1234);
    assert_int_equal(posix_memalign(&p, (size_t)1 << 62, 16), ENOMEM);
    assert_ptr_equal(p, (void *)0x1234);
}

static void test_aligned_alloc(void **state) {
    (void)state;
    for (size_t a = 1; a <= ((size_t)2 << 20); a *= 2) {
        const size_t ns[] = {0, 1, 3, 64, 1000, 4096, 33000, 1 << 20};
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            void *p = aligned_alloc(a, ns[k]);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % a, 0);
            assert_true(malloc_usable_size(p) >= ns[k]);
            free(p);
        }
    }
    const size_t bad[] = {0, 3, 24, 96, 4097, SIZE_MAX};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        errno = 0;
        assert_null(aligned_alloc(bad[k], 64));
        assert_int_equal(errno, EINVAL);
    }
    errno = 0;
    assert_null(aligned_alloc(64, SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
}

static void test_memalign_valloc_pvalloc(void **state) {
    (void)state;
    /* memalign rounds a non-power-of-two alignment up, as glibc does. */
    const struct { size_t align, expect; } cases[] = {
        {0, 16}, {1, 16}, {3, 16}, {16, 16}, {24, 32}, {96, 128}, {4096, 4096},
        {5000, 8192}, {1 << 21, 1 << 21},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        void *p = memalign(cases[k].align, 100);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % cases[k].expect, 0);
        free(p);
    }
    /* volatile: compilers check constant alignments of memalign at compile time. */
    volatile size_t too_big = SIZE_MAX / 2 + 2, half = SIZE_MAX / 2 + 1;
    errno = 0;
    assert_null(memalign(too_big, 10));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(memalign(half, 10));
    assert_int_equal(errno, ENOMEM);
    void *p = memalign(64, 0);
    assert_non_null(p);
    free(p);

    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    p = valloc(10);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % ps, 0);
    free(p);
    errno = 0;
    assert_null(valloc(SIZE_MAX));
    assert_int_equal(errno, ENOMEM);

    void *(*pv)(size_t) = (void *(*)(size_t))vsym("pvalloc");
    const size_t ns[] = {0, 1, 4095, 4096, 4097, 100000};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        p = pv(ns[k]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % ps, 0);
        size_t want = ns[k] ? (ns[k] + ps - 1) / ps * ps : ps;
        assert_true(malloc_usable_size(p) >= want);
        memset(p, 2, want);
        free(p);
    }
    errno = 0;
    assert_null(pv(SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(pv(SIZE_MAX - ps / 2));
    assert_int_equal(errno, ENOMEM);
}

static void test_other_frees(void **state) {
    (void)state;
    void (*cf)(void *) = (void (*)(void *))vsym("cfree");
    void (*fs)(void *, size_t) = (void (*)(void *, size_t))vsym("free_sized");
    void (*fas)(void *, size_t, size_t) = (void (*)(void *, size_t, size_t))vsym("free_aligned_sized");
    gort_alloc_stats_t before, after;
    preload_stats(&before);
    cf(malloc(10));
    fs(malloc(100), 100);
    fas(aligned_alloc(256, 512), 256, 512);
    cf(NULL);
    preload_stats(&after);
    assert_int_equal(after.frees - before.frees, 3);
    void *(*lm)(size_t) = (void *(*)(size_t))vsym("__libc_malloc");
    void (*lf)(void *) = (void (*)(void *))vsym("__libc_free");
    void *(*lc)(size_t, size_t) = (void *(*)(size_t, size_t))vsym("__libc_calloc");
    void *(*lr)(void *, size_t) = (void *(*)(void *, size_t))vsym("__libc_realloc");
    void *(*lma)(size_t, size_t) = (void *(*)(size_t, size_t))vsym("__libc_memalign");
    char *p = lm(10);
    strcpy(p, "gort");
    p = lr(p, 5000);
    assert_string_equal(p, "gort");
    lf(p);
    p = lc(10, 10);
    assert_int_equal(p[99], 0);
    free(p);
    p = lma(1024, 10);
    assert_int_equal((uintptr_t)p % 1024, 0);
    free(p);
}

/* Run fn with stderr captured into buf. */
static void capture_stderr(void (*fn)(void), char *buf, size_t n) {
    char path[] = "/tmp/gort-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t r = pread(fd, buf, n - 1, 0);
    buf[r > 0 ? r : 0] = 0;
    close(fd);
}

static void call_malloc_stats(void) { malloc_stats(); }

static FILE *info_file;
static void call_malloc_info(void) { assert_int_equal(malloc_info(0, stderr), 0); }

static void test_introspection(void **state) {
    (void)state;
    (void)info_file;
    /* mallinfo2 follows the live heap. */
    struct mallinfo2 a = mallinfo2();
    void *big = malloc(8 << 20);
    memset(big, 1, 8 << 20);
    struct mallinfo2 b = mallinfo2();
    if (b.uordblks < a.uordblks + (8 << 20))
        fail_msg("mallinfo2: uordblks %zu -> %zu, hblkhd %zu -> %zu after an 8 MiB malloc",
                 a.uordblks, b.uordblks, a.hblkhd, b.hblkhd);
    assert_true(b.hblkhd >= a.hblkhd + (8 << 20));
    assert_true(b.arena >= b.uordblks);
    struct mallinfo (*mi)(void) = (struct mallinfo (*)(void))vsym("mallinfo");
    assert_true(mi().uordblks > 0);
    /* malloc_trim gives the freed memory back and says so. */
    void *many[64];
    for (int i = 0; i < 64; i++) {
        many[i] = malloc(256 << 10);
        memset(many[i], 1, 256 << 10);
    }
    for (int i = 0; i < 64; i++)
        free(many[i]);
    free(big);
    assert_int_equal(malloc_trim(0), 1);
    assert_int_equal(mallopt(M_ARENA_MAX, 1), 1);
    char buf[8192];
    capture_stderr(call_malloc_stats, buf, sizeof buf);
    assert_non_null(strstr(buf, "gort allocstats"));
    assert_non_null(strstr(buf, "live"));
    capture_stderr(call_malloc_info, buf, sizeof buf);
    assert_non_null(strstr(buf, "<malloc version=\"gort"));
    errno = 0;
    assert_int_equal(malloc_info(1, stderr), -1);
    assert_int_equal(errno, EINVAL);
}

/* The C++ operators, called by their mangled names. */
typedef void *(*new_fn)(size_t);
typedef void *(*new_nt_fn)(size_t, const void *);
typedef void *(*new_al_fn)(size_t, size_t);
typedef void *(*new_al_nt_fn)(size_t, size_t, const void *);

static void test_cxx_operators(void **state) {
    (void)state;
    static const char nothrow_tag = 0;
    const char *plain[] = {"_Znwm", "_Znam"};
    const char *nt[] = {"_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t"};
    const char *al[] = {"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t"};
    const char *alnt[] = {"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t"};
    gort_alloc_stats_t before, after;
    preload_stats(&before);
    int n = 0;
    for (int k = 0; k < 2; k++) {
        void *p = ((new_fn)vsym(plain[k]))(0);
        assert_non_null(p);
        ((void (*)(void *))vsym(k ? "_ZdaPv" : "_ZdlPv"))(p);
        p = ((new_fn)vsym(plain[k]))(100);
        ((void (*)(void *, size_t))vsym(k ? "_ZdaPvm" : "_ZdlPvm"))(p, 100);
        p = ((new_nt_fn)vsym(nt[k]))(100, &nothrow_tag);
        assert_non_null(p);
        ((void (*)(void *, const void *))vsym(k ? "_ZdaPvRKSt9nothrow_t" : "_ZdlPvRKSt9nothrow_t"))(p, &nothrow_tag);
        /* No new_handler is installed (no libstdc++ here): nothrow new fails with NULL. */
        assert_null(((new_nt_fn)vsym(nt[k]))((size_t)1 << 62, &nothrow_tag));
        for (size_t a = 16; a <= 8192; a *= 8) {
            p = ((new_al_fn)vsym(al[k]))(40, a);
            assert_int_equal((uintptr_t)p % a, 0);
            ((void (*)(void *, size_t))vsym(k ? "_ZdaPvSt11align_val_t" : "_ZdlPvSt11align_val_t"))(p, a);
            p = ((new_al_fn)vsym(al[k]))(40, a);
            ((void (*)(void *, size_t, size_t))vsym(k ? "_ZdaPvmSt11align_val_t" : "_ZdlPvmSt11align_val_t"))(p, 40, a);
            p = ((new_al_nt_fn)vsym(alnt[k]))(40, a, &nothrow_tag);
            assert_int_equal((uintptr_t)p % a, 0);
            ((void (*)(void *, size_t, const void *))vsym(k ? "_ZdaPvSt11align_val_tRKSt9nothrow_t"
                                                            : "_ZdlPvSt11align_val_tRKSt9nothrow_t"))(p, a, &nothrow_tag);
            n += 3;
        }
        assert_null(((new_al_nt_fn)vsym(alnt[k]))((size_t)1 << 62, 64, &nothrow_tag));
        n += 3;
    }
    preload_stats(&after);
    /* Every operator new reached gort and every delete gave its block back (dlsym
     * itself may allocate, hence >= and the balance). */
    assert_true(after.mallocs - before.mallocs >= (uint64_t)n);
    assert_int_equal(after.mallocs - before.mallocs, after.frees - before.frees);
}

/* ---- pointers gort did not allocate die loudly ------------------------------------- */

static void free_stack(void *arg) {
    (void)arg;
    char local[64];
    free(local + 16);
}
static void free_global(void *arg) {
    (void)arg;
    static char g[64];
    free(g);
}
static void free_mmap(void *arg) {
    (void)arg;
    void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    free((char *)m + 4096);
}
static void free_interior(void *arg) {
    (void)arg;
    char *volatile p = malloc(100);
    free(p + 8);
}
static void free_interior_large(void *arg) {
    (void)arg;
    char *volatile p = malloc(1 << 20);
    free(p + 4096);
}
/* volatile: an optimiser may delete a malloc/free pair, and a double free is UB. */
static void free_twice(void *arg) {
    (void)arg;
    void *volatile p = malloc(100);
    free(p);
    free(p);
}
static void free_twice_large(void *arg) {
    (void)arg;
    void *volatile p = malloc(100000);
    free(p);
    free(p);
}
static void realloc_bogus(void *arg) {
    (void)arg;
    static char g[64];
    void *volatile r = realloc(g, 100);
    (void)r;
}
static void usable_bogus(void *arg) {
    (void)arg;
    char local[16];
    malloc_usable_size(local);
}
static void delete_bogus(void *arg) {
    (void)arg;
    static char g[64];
    ((void (*)(void *))vsym("_ZdlPv"))(g + 8);
}

static void test_bad_pointers_die(void **state) {
    (void)state;
    gort_expect_death(free_stack, NULL, "not allocated by gort");
    gort_expect_death(free_global, NULL, "not allocated by gort");
    gort_expect_death(free_mmap, NULL, "not allocated by gort");
    gort_expect_death(free_interior, NULL, "not the start of a block");
    gort_expect_death(free_interior_large, NULL, "not at its start");
    gort_expect_death(free_twice, NULL, "double free");
    gort_expect_death(free_twice_large, NULL, "free");
    gort_expect_death(realloc_bogus, NULL, "not allocated by gort");
    gort_expect_death(usable_bogus, NULL, "not allocated by gort");
    gort_expect_death(delete_bogus, NULL, "not allocated by gort");
}

int main(void) {
    preload_require_gort();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_gort),
        cmocka_unit_test(test_malloc_sizes),
        cmocka_unit_test(test_malloc_enomem),
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_realloc_edges),
        cmocka_unit_test(test_reallocarray),
        cmocka_unit_test(test_posix_memalign),
        cmocka_unit_test(test_aligned_alloc),
        cmocka_unit_test(test_memalign_valloc_pvalloc),
        cmocka_unit_test(test_other_frees),
        cmocka_unit_test(test_introspection),
        cmocka_unit_test(test_cxx_operators),
        cmocka_unit_test(test_bad_pointers_die),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
