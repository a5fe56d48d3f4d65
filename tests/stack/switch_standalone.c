/* The context switch alone: stack/switch_<arch>.S and this file, no library,
 * no cmocka, so that it can be cross-compiled and run under qemu-user
 * (tests/stack/run_cross.sh builds it for AArch64; CTest runs it natively too).
 * Exits 0 if every check passes, 1 (after saying which) otherwise. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "stack/switch.h"
#include "tests/stack/regs.h"

static int failures;
#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            printf(__VA_ARGS__);                                          \
            printf("\n");                                                 \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static gort_ctx_t main_ctx, co;
static regset_t in_a, in_b, in_c, out_a, out_b, out_c;
static uint64_t fpctl_at_make[2], fpctl_at_start[2];
static long counter;

static void jump(gort_ctx_t *from, gort_ctx_t *to) {
    gort__ctx_jump(from, to);
}

static void report_diff(const char *what, const regset_t *want, const regset_t *got) {
    int d = regs_diff(want, got);
    if (!d)
        return;
    d--;
    if (d < NGPR)
        CHECK(0, "%s: %s = %#llx, want %#llx", what, gpr_names[d], (unsigned long long)got->gpr[d],
              (unsigned long long)want->gpr[d]);
    else if (d < NGPR + NFPR)
        CHECK(0, "%s: d%d = %#llx, want %#llx", what, 8 + d - NGPR,
              (unsigned long long)got->fpr[d - NGPR], (unsigned long long)want->fpr[d - NGPR]);
    else
        CHECK(0, "%s: FP control word %d = %#llx, want %#llx", what, d - NGPR - NFPR,
              (unsigned long long)got->fpctl[d - NGPR - NFPR], (unsigned long long)want->fpctl[d - NGPR - NFPR]);
}

static void entry(gort_ctx_t *from, void *a, void *b) {
    regs_fpctl(fpctl_at_start);
    CHECK(from == &main_ctx, "boot got from = %p, want %p", (void *)from, (void *)&main_ctx);
    CHECK(a == (void *)0x1234 && b == (void *)0x5678, "boot arguments %p %p", a, b);
    CHECK((uintptr_t)__builtin_frame_address(0) % 16 == 0, "frame %p not 16-byte aligned",
          __builtin_frame_address(0));
    /* Back to main with every callee-saved register changed... */
    regs_switch(&co, &main_ctx, &in_b, &out_b, jump);
    /* ...and main has resumed us with its own set in place: ours must be back. */
    report_diff("context after resume", &in_b, &out_b);
    for (;;) {
        counter++;
        gort_ctx_t *p = gort__ctx_jump(&co, &main_ctx);
        CHECK(p == &main_ctx, "resumed by %p, want %p", (void *)p, (void *)&main_ctx);
    }
}

int main(void) {
    static char stack[64 * 1024] __attribute__((aligned(16)));
    regs_pattern(&in_a, 1);
    regs_pattern(&in_b, 2);
    regs_pattern(&in_c, 3);
    regs_fpctl(fpctl_at_make);
    co.sp = gort__ctx_init(stack + sizeof stack, entry, (void *)0x1234, (void *)0x5678, gort__ctx_fpstate());
    CHECK((char *)co.sp > stack && (char *)co.sp < stack + sizeof stack, "initial sp %p", co.sp);

    regs_switch(&main_ctx, &co, &in_a, &out_a, jump);
    CHECK(fpctl_at_start[0] == fpctl_at_make[0] && fpctl_at_start[1] == fpctl_at_make[1],
          "new context started with FP control %#llx/%#llx, made with %#llx/%#llx",
          (unsigned long long)fpctl_at_start[0], (unsigned long long)fpctl_at_start[1],
          (unsigned long long)fpctl_at_make[0], (unsigned long long)fpctl_at_make[1]);
    report_diff("main after the context's first run", &in_a, &out_a);

    regs_switch(&main_ctx, &co, &in_c, &out_c, jump);
    report_diff("main after the second switch", &in_c, &out_c);
    CHECK(counter == 1, "counter %ld", counter);

    for (int i = 0; i < 100000; i++) {
        gort_ctx_t *p = gort__ctx_jump(&main_ctx, &co);
        if (p != &co) {
            CHECK(p == &co, "resumed by %p, want %p", (void *)p, (void *)&co);
            break;
        }
    }
    CHECK(counter == 100001, "counter %ld after 100000 round trips", counter);
    printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
