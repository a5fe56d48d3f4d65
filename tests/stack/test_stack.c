/* Tests of the stack calls and the pool: stack/stack.c and stack/pool.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/death.h"
#include "include/gort/stack.h"
#include "stack/internal.h"

/* The frame stays live across the call (its address escapes). */
#define KEEP_FRAME(f) __asm__ volatile("" : : "r"(f) : "memory")

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static gort_ctx_t main_ctx;

/* ---- counting the mapping system calls (gort__os is the seam) ---------------------- */

static gort_os_ops_t real_os;
static _Atomic long n_mmap, n_munmap, n_madvise, n_mprotect;
static _Atomic int fail_mmap;

static void *count_mmap(void *a, size_t l, int p, int f, int fd, long o) {
    n_mmap++;
    if (fail_mmap)
        return MAP_FAILED;
    return real_os.mmap(a, l, p, f, fd, o);
}
static int count_munmap(void *a, size_t l) {
    n_munmap++;
    return real_os.munmap(a, l);
}
static int count_madvise(void *a, size_t l, int adv) {
    n_madvise++;
    return real_os.madvise(a, l, adv);
}
static int count_mprotect(void *a, size_t l, int p) {
    n_mprotect++;
    return real_os.mprotect(a, l, p);
}

static int counting_on(void **state) {
    (void)state;
    real_os = gort__os;
    gort__os = (gort_os_ops_t){count_mmap, count_munmap, count_madvise, count_mprotect};
    return 0;
}

static int counting_off(void **state) {
    (void)state;
    gort__os = real_os;
    fail_mmap = 0;
    return 0;
}

static long mapping_calls(void) {
    return n_mmap + n_munmap + n_madvise + n_mprotect;
}

/* Resident pages of [lo, hi), through mincore. */
static size_t resident_pages(const void *lo, const void *hi) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = (size_t)((const char *)hi - (const char *)lo) / pg;
    unsigned char *vec = malloc(n);
    assert_non_null(vec);
    assert_int_equal(mincore((void *)lo, n * pg, vec), 0);
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    free(vec);
    return r;
}

/* ---- sizes and classes -------------------------------------------------------------- */

static void test_default_stack(void **state) {
    (void)state;
    gort_stack_t s;
    assert_int_equal(gort_stack_alloc(&s, 0), 0);
    assert_int_equal(s.size, 60 * KiB);
    assert_ptr_equal((char *)s.lo + s.size, s.hi);
    assert_int_equal((uintptr_t)s.hi % 16, 0);
    assert_int_equal((uintptr_t)s.lo % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
    memset(s.lo, 0xa5, s.size);   /* all of it is ours */
    gort_stack_free(&s);
    assert_null(s.lo);
    assert_null(s.slot);
}

static void test_size_classes(void **state) {
    (void)state;
    static const struct { size_t ask, get; } cases[] = {
        {1, 60 * KiB},          {60 * KiB, 60 * KiB},      {60 * KiB + 1, 124 * KiB},
        {64 * KiB, 124 * KiB},  {200 * KiB, 252 * KiB},    {1 * MiB, 2 * MiB - 4 * KiB},
        {8 * MiB, 16 * MiB - 4 * KiB},                     {1024 * MiB - 4 * KiB, 1024 * MiB - 4 * KiB},
    };
    for (size_t i = 0; i < GORT_ARRAY_LEN(cases); i++) {
        gort_stack_t s;
        assert_int_equal(gort_stack_alloc(&s, cases[i].ask), 0);
        assert_int_equal(s.size, cases[i].get);
        ((volatile char *)s.hi)[-1] = 1;
        ((volatile char *)s.lo)[0] = 1;
        gort_stack_free(&s);
    }
}

static void test_bad_requests(void **state) {
    (void)state;
    gort_stack_t s;
    errno = 0;
    assert_int_equal(gort_stack_alloc(&s, 1024 * MiB), -1);   /* needs a 2 GiB slot */
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(gort_stack_alloc(&s, SIZE_MAX), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(gort_stack_alloc(NULL, 0), -1);
    assert_int_equal(errno, EINVAL);
    gort_stack_free(NULL);                  /* no-ops */
    gort_stack_t zero = {0};
    gort_stack_free(&zero);
    assert_int_equal(gort_stack_alloc(&s, 0), 0);
    gort_stack_free(&s);
    gort_stack_free(&s);                    /* freed through this struct: no-op */
}

static void double_free(void *arg) {
    (void)arg;
    gort_stack_t s, copy;
    gort_stack_alloc(&s, 0);
    copy = s;
    gort_stack_free(&s);
    gort_stack_free(&copy);
}

static void free_garbage(void *arg) {
    (void)arg;
    gort_stack_t s;
    gort_stack_alloc(&s, 0);
    s.lo = (char *)s.lo + 4096;
    gort_stack_free(&s);
}

static void shrink_outside(void *arg) {
    (void)arg;
    gort_stack_t s;
    gort_stack_alloc(&s, 0);
    gort_stack_shrink(&s, (char *)s.hi + 16);
}

static void test_misuse_is_fatal(void **state) {
    (void)state;
    gort_expect_death(double_free, NULL, "is not allocated (freed twice?)");
    gort_expect_death(free_garbage, NULL, "is not a gort stack");
    gort_expect_death(shrink_outside, NULL, "is outside stack [");
}

/* ---- distinct stacks, reuse ---------------------------------------------------------- */

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const gort_stack_t *)a)->lo, y = (uintptr_t)((const gort_stack_t *)b)->lo;
    return x < y ? -1 : x > y;
}

static void test_distinct(void **state) {
    (void)state;
    enum { N = 3000 };
    gort_stack_t *s = calloc(N, sizeof *s);
    assert_non_null(s);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            assert_int_equal(gort_stack_alloc(&s[i], (size_t)(i % 3) * 100 * KiB), 0);
            *(int *)((char *)s[i].hi - sizeof(int)) = i;
        }
        for (int i = 0; i < N; i++)
            assert_int_equal(*(int *)((char *)s[i].hi - sizeof(int)), i);
        qsort(s, N, sizeof *s, cmp_ptr);
        for (int i = 1; i < N; i++)
            assert_true((uintptr_t)s[i - 1].hi < (uintptr_t)s[i].lo);   /* a guard between */
        for (int i = 0; i < N; i++)
            gort_stack_free(&s[i]);
    }
    free(s);
}

/* Steady state: once the pool has the stacks, getting and putting them makes
 * no memory-mapping system call at all. */
static void test_reuse_makes_no_syscalls(void **state) {
    (void)state;
    enum { N = 200 };
    static gort_stack_t s[N];
    static const size_t sizes[] = {0, 100 * KiB, 200 * KiB, 1 * MiB, 8 * MiB, 60 * MiB};
    for (size_t k = 0; k < GORT_ARRAY_LEN(sizes); k++) {
        long before = mapping_calls();
        for (int i = 0; i < N; i++)   /* warm */
            assert_int_equal(gort_stack_alloc(&s[i], sizes[k]), 0);
        if (sizes[k] == 60 * MiB)     /* a class not used before: the seam sees the carving */
            assert_true(mapping_calls() >= 1 + N);
        for (int i = 0; i < N; i++)
            gort_stack_free(&s[i]);
        before = mapping_calls();
        for (int round = 0; round < 100; round++) {
            for (int i = 0; i < N; i++)
                assert_int_equal(gort_stack_alloc(&s[i], sizes[k]), 0);
            for (int i = N - 1; i >= 0; i -= 2)
                gort_stack_free(&s[i]);
            for (int i = N - 2; i >= 0; i -= 2)
                gort_stack_free(&s[i]);
        }
        if (mapping_calls() != before)
            fail_msg("size %zu: %ld mapping calls in steady state", sizes[k], mapping_calls() - before);
    }
}

/* Contexts made and run on pooled stacks: still no mapping call. */
static void ctx_park(void *arg) {
    gort_ctx_t *self = arg;
    for (;;)
        gort_ctx_switch(self, &main_ctx);
}

static void test_ctx_reuse_makes_no_syscalls(void **state) {
    (void)state;
    enum { N = 64 };
    static gort_stack_t s[N];
    static gort_ctx_t c[N];
    for (int round = 0; round < 20; round++) {
        long before = mapping_calls();
        for (int i = 0; i < N; i++) {
            assert_int_equal(gort_stack_alloc(&s[i], 0), 0);
            gort_ctx_make(&c[i], &s[i], ctx_park, &c[i]);
            gort_ctx_switch(&main_ctx, &c[i]);
        }
        for (int i = 0; i < N; i++)
            gort_stack_free(&s[i]);
        if (round > 0 && mapping_calls() != before)
            fail_msg("round %d: %ld mapping calls", round, mapping_calls() - before);
    }
}

static void test_out_of_memory(void **state) {
    (void)state;
    gort_stack_t s;
    fail_mmap = 1;   /* a class never used yet needs a region */
    errno = 0;
    assert_int_equal(gort_stack_alloc(&s, 500 * MiB), -1);
    assert_int_equal(errno, ENOMEM);
    fail_mmap = 0;
    assert_int_equal(gort_stack_alloc(&s, 500 * MiB), 0);
    gort_stack_free(&s);
}

/* ---- used, shrink, release -------------------------------------------------------------- */

struct deep {
    gort_ctx_t ctx;
    int depth;
};

static GORT_NOINLINE long use_stack(int depth) {
    volatile char frame[1024];
    for (int i = 0; i < 1024; i += 64)
        frame[i] = (char)depth;
    if (depth == 0)
        return 0;
    long r = use_stack(depth - 1);
    KEEP_FRAME(frame);   /* no tail-call or accumulator elimination: a real frame per call */
    return r + frame[0];
}

static void deep_fn(void *arg) {
    struct deep *d = arg;
    for (;;) {
        use_stack(d->depth);   /* touches ~depth KiB, then returns: the pages stay */
        gort_ctx_switch(&d->ctx, &main_ctx);
    }
}

static void test_used_and_shrink(void **state) {
    (void)state;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    gort_stack_t s;
    assert_int_equal(gort_stack_alloc(&s, 0), 0);
    struct deep d = {.depth = 40};
    gort_ctx_make(&d.ctx, &s, deep_fn, &d);
    gort_ctx_switch(&main_ctx, &d.ctx);

    size_t used = gort_stack_used(&s);
    size_t rss = resident_pages(s.lo, s.hi) * pg;
    assert_true(used >= 40 * KiB && used <= s.size);
    assert_true(rss >= 40 * KiB);
    /* The suspended context's sp is near the top: everything below goes. */
    assert_true((char *)d.ctx.sp > (char *)s.hi - 2 * pg);
    size_t released = gort_stack_shrink(&s, d.ctx.sp);
    size_t rss_after = resident_pages(s.lo, s.hi) * pg;
    assert_true(released >= 38 * KiB);
    assert_int_equal(rss - rss_after, released);
    assert_true(rss_after <= 2 * pg);
    assert_true(gort_stack_used(&s) <= 2 * pg);
    assert_int_equal(gort_stack_shrink(&s, d.ctx.sp), 0);   /* nothing left to give */

    /* The context runs on as if nothing happened, and grows again. */
    d.depth = 20;
    gort_ctx_switch(&main_ctx, &d.ctx);
    assert_true(gort_stack_used(&s) >= 20 * KiB);
    gort_stack_free(&s);
}

static void test_shrink_lowers_process_rss(void **state) {
    (void)state;
    /* The same through the process's own accounting (VmRSS), with enough
     * stacks to stand out from the noise. */
    enum { N = 64 };
    static gort_stack_t s[N];
    static struct deep d[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(gort_stack_alloc(&s[i], 0), 0);
        d[i].depth = 40;   /* ~40 KiB (ASan's redzones make frames bigger) */
        gort_ctx_make(&d[i].ctx, &s[i], deep_fn, &d[i]);
        gort_ctx_switch(&main_ctx, &d[i].ctx);
    }
    char buf[4096];
    long rss_before = -1, rss_after = -1;
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    while (fgets(buf, sizeof buf, f))
        sscanf(buf, "VmRSS: %ld kB", &rss_before);
    fclose(f);
    size_t released = 0;
    for (int i = 0; i < N; i++)
        released += gort_stack_shrink(&s[i], d[i].ctx.sp);
    f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    while (fgets(buf, sizeof buf, f))
        sscanf(buf, "VmRSS: %ld kB", &rss_after);
    fclose(f);
    assert_true(released >= N * 36 * KiB);
    /* Allow for the test's own pages coming and going. */
    if ((rss_before - rss_after) * (long)KiB < (long)(released * 3 / 4))
        fail_msg("VmRSS %ld kB -> %ld kB after releasing %zu kB", rss_before, rss_after, released / KiB);
    for (int i = 0; i < N; i++)
        gort_stack_free(&s[i]);
}

static void test_pool_release(void **state) {
    (void)state;
    enum { N = 40 };
    static gort_stack_t s[N];
    void *lo[N], *hi[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(gort_stack_alloc(&s[i], 300 * KiB), 0);   /* a class without thread caches */
        memset(s[i].lo, 1, s[i].size);
        lo[i] = s[i].lo;
        hi[i] = s[i].hi;
    }
    for (int i = 0; i < N; i++)
        gort_stack_free(&s[i]);
    assert_true(gort__stack_pool_release() >= N * 300 * KiB);
    for (int i = 0; i < N; i++)
        assert_int_equal(resident_pages(lo[i], hi[i]), 0);
    /* Released stacks come back usable (and zeroed, as it happens). */
    for (int i = 0; i < N; i++) {
        assert_int_equal(gort_stack_alloc(&s[i], 300 * KiB), 0);
        ((volatile char *)s[i].hi)[-1] = 1;
    }
    for (int i = 0; i < N; i++)
        gort_stack_free(&s[i]);
}

/* ---- threads ------------------------------------------------------------------------------ */

enum { THREADS = 4, PER_THREAD = 20000 };

static void *churn(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    gort_stack_t live[64];
    memset(live, 0, sizeof live);
    uint64_t x = id * 7919 + 1;
    for (int i = 0; i < PER_THREAD; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        gort_stack_t *s = &live[(x >> 33) % 64];
        if (s->slot) {
            if (*(uintptr_t *)((char *)s->hi - sizeof(uintptr_t)) != id)
                return (void *)"stack shared between threads";
            gort_stack_free(s);
        } else {
            if (gort_stack_alloc(s, (x >> 20) % 3 == 0 ? 300 * KiB : 0) != 0)
                return (void *)"alloc failed";
            *(uintptr_t *)((char *)s->hi - sizeof(uintptr_t)) = id;
        }
    }
    for (int i = 0; i < 64; i++)
        gort_stack_free(&live[i]);
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++) {
        void *err;
        assert_int_equal(pthread_join(t[i], &err), 0);
        if (err)
            fail_msg("%s", (const char *)err);
    }
}

/* A thread's cache goes back to the pool when it exits: stacks freed on a
 * thread that then exits are reused by the next one, not lost. */
static void *alloc_free_some(void *arg) {
    gort_stack_t *s = arg;
    for (int i = 0; i < 20; i++)
        if (gort_stack_alloc(&s[i], 0) != 0)
            return (void *)1;
    for (int i = 0; i < 20; i++)
        gort_stack_free(&s[i]);
    return NULL;
}

static void test_thread_exit_returns_cache(void **state) {
    (void)state;
    static gort_stack_t s[20];
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, alloc_free_some, s), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    long before = mapping_calls();
    for (int round = 0; round < 50; round++) {
        assert_int_equal(pthread_create(&t, NULL, alloc_free_some, s), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
    }
    /* Had each exiting thread kept its 20 stacks (and its signal stack), new
     * slots would have been carved: a guard madvise each. */
    assert_int_equal(mapping_calls(), before);
}

/* fork while other threads use the pool: the child's pool is consistent. */
static _Atomic int churning;

static void *churn_until_stopped(void *arg) {
    (void)arg;
    gort_stack_t s[8];
    while (churning) {
        for (int i = 0; i < 8; i++)
            if (gort_stack_alloc(&s[i], i % 2 ? 300 * KiB : 0) != 0)
                return (void *)1;
        for (int i = 0; i < 8; i++)
            gort_stack_free(&s[i]);
    }
    return NULL;
}

static void test_fork(void **state) {
    (void)state;
    pthread_t t[2];
    churning = 1;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn_until_stopped, NULL), 0);
    for (int round = 0; round < 50; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            gort_stack_t s[20];
            for (int i = 0; i < 20; i++)
                if (gort_stack_alloc(&s[i], i % 2 ? 300 * KiB : 0) != 0)
                    _exit(2);
            for (int i = 0; i < 20; i++)
                gort_stack_free(&s[i]);
            struct deep d = {.depth = 4};
            gort_stack_t one;
            if (gort_stack_alloc(&one, 0) != 0)
                _exit(3);
            gort_ctx_make(&d.ctx, &one, deep_fn, &d);
            gort_ctx_switch(&main_ctx, &d.ctx);
            _exit(0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("fork round %d: child status %#x", round, st);
    }
    churning = 0;
    for (int i = 0; i < 2; i++) {
        void *err;
        assert_int_equal(pthread_join(t[i], &err), 0);
        assert_null(err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_stack),
        cmocka_unit_test(test_size_classes),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_misuse_is_fatal),
        cmocka_unit_test(test_distinct),
        cmocka_unit_test_setup_teardown(test_reuse_makes_no_syscalls, counting_on, counting_off),
        cmocka_unit_test_setup_teardown(test_ctx_reuse_makes_no_syscalls, counting_on, counting_off),
        cmocka_unit_test_setup_teardown(test_out_of_memory, counting_on, counting_off),
        cmocka_unit_test(test_used_and_shrink),
        cmocka_unit_test(test_shrink_lowers_process_rss),
        cmocka_unit_test(test_pool_release),
        cmocka_unit_test(test_threads),
        cmocka_unit_test_setup_teardown(test_thread_exit_returns_cache, counting_on, counting_off),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
