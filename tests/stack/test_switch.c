/* Tests of the context switch: stack/ctx.c and stack/switch_<arch>.S. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/death.h"
#include "include/gort/stack.h"
#include "stack/internal.h"

/* The frame stays live across the call (its address escapes). */
#define KEEP_FRAME(f) __asm__ volatile("" : : "r"(f) : "memory")
#include "tests/stack/regs.h"

static gort_ctx_t main_ctx;

/* ---- ping-pong ------------------------------------------------------------------ */

struct pp {
    gort_ctx_t ctx;
    long value;       /* main -> context */
    long reply;       /* context -> main */
};

static void pp_fn(void *arg) {
    struct pp *p = arg;
    for (;;) {
        p->reply = p->value * 2 + 1;
        gort_ctx_switch(&p->ctx, &main_ctx);
    }
}

static void test_pingpong(void **state) {
    (void)state;
    gort_stack_t s;
    assert_int_equal(gort_stack_alloc(&s, 0), 0);
    struct pp p = {.value = 0};
    gort_ctx_make(&p.ctx, &s, pp_fn, &p);
    for (long i = 0; i < 100000; i++) {
        p.value = i;
        gort_ctx_switch(&main_ctx, &p.ctx);
        if (p.reply != 2 * i + 1)
            fail_msg("round trip %ld: reply %ld", i, p.reply);
    }
    gort_stack_free(&s);
}

/* ---- callee-saved registers and FP control state ---------------------------------- */

static gort_ctx_t reg_ctx;
static regset_t in_a, in_b, in_c, out_a, out_b, out_c;
static uint64_t fpctl_made[2], fpctl_started[2];
static int ctx_diff = -1;

static void plain_switch(gort_ctx_t *from, gort_ctx_t *to) {
    gort_ctx_switch(from, to);
}

/* Scribbles over every callee-saved register and the FP control state, then
 * switches back with its own distinctive set. */
static void reg_fn(void *arg) {
    (void)arg;
    regs_fpctl(fpctl_started);
    regs_switch(&reg_ctx, &main_ctx, &in_b, &out_b, plain_switch);
    ctx_diff = regs_diff(&in_b, &out_b);
    for (;;)
        gort_ctx_switch(&reg_ctx, &main_ctx);
}

static void assert_same_regs(const char *what, const regset_t *want, const regset_t *got) {
    int d = regs_diff(want, got);
    if (!d)
        return;
    d--;
    if (d < NGPR) {
        fail_msg("%s: %s = %#llx, want %#llx", what, gpr_names[d], (unsigned long long)got->gpr[d],
                 (unsigned long long)want->gpr[d]);
    } else if (d < NGPR + NFPR) {
        fail_msg("%s: d%d = %#llx, want %#llx", what, 8 + d - NGPR,
                 (unsigned long long)got->fpr[d - NGPR], (unsigned long long)want->fpr[d - NGPR]);
    } else {
        unsigned k = (unsigned)(d - NGPR - NFPR);   /* regs_diff's index, past the FPRs */
        fail_msg("%s: FP control word %u = %#llx, want %#llx", what, k,
                 (unsigned long long)got->fpctl[k], (unsigned long long)want->fpctl[k]);
    }
}

static void test_registers(void **state) {
    (void)state;
    gort_stack_t s;
    assert_int_equal(gort_stack_alloc(&s, 0), 0);
    regs_pattern(&in_a, 11);
    regs_pattern(&in_b, 22);
    regs_pattern(&in_c, 33);
    regs_fpctl(fpctl_made);
    gort_ctx_make(&reg_ctx, &s, reg_fn, NULL);
    /* main: pattern A -> context (first run: B) -> main must see A again */
    regs_switch(&main_ctx, &reg_ctx, &in_a, &out_a, plain_switch);
    assert_same_regs("main, after the context's first run", &in_a, &out_a);
    assert_int_equal(fpctl_started[0], fpctl_made[0]);
    assert_int_equal(fpctl_started[1], fpctl_made[1]);
    /* main: pattern C -> context resumes, must see B -> back to main, must see C */
    regs_switch(&main_ctx, &reg_ctx, &in_c, &out_c, plain_switch);
    assert_same_regs("main, after the second switch", &in_c, &out_c);
    if (ctx_diff != 0) {
        regset_t copy = out_b;
        assert_same_regs("context, after being resumed", &in_b, &copy);
    }
    uint64_t now[2];
    regs_fpctl(now);
    assert_int_equal(now[0] & ~0x3full, fpctl_made[0] & ~0x3full);
    assert_int_equal(now[1], fpctl_made[1]);
    gort_stack_free(&s);
}

/* ---- the first frame ------------------------------------------------------------- */

static gort_ctx_t align_ctx;
static uintptr_t align_frame;
static double align_result;

static GORT_NOINLINE double sse_work(double x) {
    /* Vectorisable, with aligned 16-byte locals: misaligned stacks crash here. */
    double v[8] __attribute__((aligned(16)));
    for (int i = 0; i < 8; i++)
        v[i] = x * i;
    double sum = 0;
    for (int i = 0; i < 8; i++)
        sum += v[i];
    return sum;
}

static void align_fn(void *arg) {
    align_frame = (uintptr_t)__builtin_frame_address(0);
    align_result = sse_work(*(double *)arg);
    for (;;)
        gort_ctx_switch(&align_ctx, &main_ctx);
}

static void test_first_frame_aligned(void **state) {
    (void)state;
    gort_stack_t s;
    for (size_t size = 0; size <= (1 << 20); size = size ? size * 4 : 100) {
        assert_int_equal(gort_stack_alloc(&s, size), 0);
        double x = 1.5;
        gort_ctx_make(&align_ctx, &s, align_fn, &x);
        gort_ctx_switch(&main_ctx, &align_ctx);
        assert_true(align_frame % 16 == 0);
        assert_true(align_frame > (uintptr_t)s.lo && align_frame < (uintptr_t)s.hi);
        assert_true(align_result == 1.5 * 28);
        gort_stack_free(&s);
    }
}

/* ---- contexts switching among themselves --------------------------------------------- */

enum { RING = 5, LAPS = 1000 };
static gort_ctx_t ring[RING];
static long ring_count[RING];

static void ring_fn(void *arg) {
    long i = (long)(intptr_t)arg;
    for (;;) {
        ring_count[i]++;
        if (i == RING - 1 && ring_count[i] % LAPS == 0)
            gort_ctx_switch(&ring[i], &main_ctx);
        else
            gort_ctx_switch(&ring[i], &ring[(i + 1) % RING]);
    }
}

static void test_ring(void **state) {
    (void)state;
    gort_stack_t s[RING];
    for (int i = 0; i < RING; i++) {
        assert_int_equal(gort_stack_alloc(&s[i], i * 10000), 0);
        gort_ctx_make(&ring[i], &s[i], ring_fn, (void *)(intptr_t)i);
    }
    gort_ctx_switch(&main_ctx, &ring[0]);
    for (int i = 0; i < RING; i++)
        assert_int_equal(ring_count[i], LAPS);
    gort_ctx_switch(&main_ctx, &ring[0]);
    for (int i = 0; i < RING; i++)
        assert_int_equal(ring_count[i], 2 * LAPS);
    for (int i = 0; i < RING; i++)
        gort_stack_free(&s[i]);
}

/* ---- deep use of a stack; remaking contexts on one stack ------------------------------- */

static gort_ctx_t deep_ctx;

static GORT_NOINLINE long recurse(int depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = (char)depth;
    if (depth == 0)
        return frame[0];
    long r = recurse(depth - 1);
    KEEP_FRAME(frame);   /* no tail-call or accumulator elimination: a real frame per call */
    return r + frame[511];
}

static void deep_fn(void *arg) {
    long *out = arg;
    *out = recurse(80);   /* ~45 KiB of 60 */
    for (;;)
        gort_ctx_switch(&deep_ctx, &main_ctx);
}

static void test_deep_and_remake(void **state) {
    (void)state;
    gort_stack_t s;
    assert_int_equal(gort_stack_alloc(&s, 0), 0);
    for (int round = 0; round < 50; round++) {
        long out = -1;
        gort_ctx_make(&deep_ctx, &s, deep_fn, &out);
        gort_ctx_switch(&main_ctx, &deep_ctx);
        assert_int_equal(out, 80 * 81 / 2);
    }
    assert_true(gort_stack_used(&s) >= 80 * 512);
    gort_stack_free(&s);
}

/* ---- a context started on one thread and resumed on another ------------------------------- */

static gort_ctx_t mig_ctx;
static gort_ctx_t *mig_home;     /* the context to switch back to */
static pid_t mig_tid[2];         /* the thread that resumes it now */
static int mig_cur, mig_seen[2];

static void mig_fn(void *arg) {
    (void)arg;
    for (;;) {
        if (gettid() == mig_tid[mig_cur])
            mig_seen[mig_cur]++;
        gort_ctx_switch(&mig_ctx, mig_home);
    }
}

static void *mig_thread(void *arg) {
    gort_ctx_t home;
    mig_cur = (int)(intptr_t)arg;
    mig_tid[mig_cur] = gettid();
    for (int i = 0; i < 3; i++) {
        mig_home = &home;
        gort_ctx_switch(&home, &mig_ctx);
    }
    return NULL;
}

static void test_migrate(void **state) {
    (void)state;
    gort_stack_t s;
    assert_int_equal(gort_stack_alloc(&s, 0), 0);
    gort_ctx_make(&mig_ctx, &s, mig_fn, NULL);
    for (int t = 0; t < 2; t++) {
        /* one thread after the other: a context runs on one thread at a time */
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, mig_thread, (void *)(intptr_t)t), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
    }
    assert_int_equal(mig_seen[0], 3);
    assert_int_equal(mig_seen[1], 3);
    assert_true(mig_tid[0] != mig_tid[1]);
    gort_stack_free(&s);
}

/* ---- a context's function must not return ------------------------------------------------ */

static void returns(void *arg) {
    (void)arg;
}

static void run_returning(void *arg) {
    (void)arg;
    gort_stack_t s;
    gort_ctx_t c;
    if (gort_stack_alloc(&s, 0) != 0)
        return;
    gort_ctx_make(&c, &s, returns, NULL);
    gort_ctx_switch(&main_ctx, &c);
}

static void test_return_is_fatal(void **state) {
    (void)state;
    gort_expect_death(run_returning, NULL, "a context's function must never return");
}

static void run_returning_owned(void *arg) {
    (void)arg;
    gort_stack_t s;
    gort_ctx_t c;
    if (gort_stack_alloc(&s, 0) != 0)
        return;
    gort__stack_set_owner(&s, "goroutine", 42);
    gort_ctx_make(&c, &s, returns, NULL);
    gort_ctx_switch(&main_ctx, &c);
}

static void test_return_names_owner(void **state) {
    (void)state;
    gort_expect_death(run_returning_owned, NULL, "(goroutine 42, stack [0x");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pingpong),
        cmocka_unit_test(test_registers),
        cmocka_unit_test(test_first_frame_aligned),
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_deep_and_remake),
        cmocka_unit_test(test_migrate),
        cmocka_unit_test(test_return_is_fatal),
        cmocka_unit_test(test_return_names_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
