/* A register-level check of the context switch, shared by test_switch.c (the
 * library) and switch_standalone.c (the bare assembly, e.g. under qemu).
 *
 * regs_switch(from, to, in, out, sw) loads every callee-saved register and the
 * FP control state from *in, calls sw(from, to), and when that returns stores
 * the same registers into *out (then restores its caller's).  A correct switch
 * brings back exactly *in, whatever the contexts that ran meanwhile did. */
#ifndef GORT_TEST_STACK_REGS_H
#define GORT_TEST_STACK_REGS_H

#include <stdint.h>
#include <string.h>

#include "include/gort/stack.h"

#if defined(__x86_64__)
enum { NGPR = 6, NFPR = 0 };   /* rbx rbp r12 r13 r14 r15 */
static const char *const gpr_names[NGPR] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
#elif defined(__aarch64__)
enum { NGPR = 11, NFPR = 8 };  /* x19..x29, d8..d15 */
static const char *const gpr_names[NGPR] = {"x19", "x20", "x21", "x22", "x23", "x24",
                                            "x25", "x26", "x27", "x28", "x29"};
#endif

typedef struct regset {
    uint64_t gpr[NGPR];
    uint64_t fpr[NFPR > 0 ? NFPR : 1];  /* d8..d15 as bits */
    uint64_t fpctl[2];  /* x86-64: MXCSR, x87 control word; AArch64: FPCR, 0 */
} regset_t;
#include <stddef.h>
_Static_assert(offsetof(regset_t, fpctl) == (NGPR + (NFPR > 0 ? NFPR : 1)) * 8 &&
               offsetof(regset_t, fpctl) == (NFPR ? 152 : 56),
               "regs_switch's assembly hard-codes these offsets");

typedef void (*switch_fn)(gort_ctx_t *from, gort_ctx_t *to);
void regs_switch(gort_ctx_t *from, gort_ctx_t *to, const regset_t *in, regset_t *out, switch_fn sw);

/* A distinctive register set; FP control values differ with seed. */
static inline void regs_pattern(regset_t *r, uint64_t seed) {
    memset(r, 0, sizeof *r);
    for (int i = 0; i < NGPR; i++)
        r->gpr[i] = (seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)(i + 1) << 56) ^ (0x1111111111111111ull * (uint64_t)i);
    for (int i = 0; i < NFPR; i++)
        r->fpr[i] = (seed * 0xbf58476d1ce4e5b9ull) ^ ((uint64_t)(i + 1) << 48);
#if defined(__x86_64__)
    /* All exceptions masked; rounding mode and FTZ/DAZ vary; x87 rounding and
     * precision control vary. */
    static const uint64_t mxcsr[4] = {0x1f80, 0x7f80 | 0x8040, 0x3f80, 0x5f80 | 0x0040};
    static const uint64_t x87cw[4] = {0x037f, 0x0c7f, 0x047f, 0x087f | 0x0200};
    r->fpctl[0] = mxcsr[seed & 3];
    r->fpctl[1] = x87cw[seed & 3];
#elif defined(__aarch64__)
    static const uint64_t fpcr[4] = {0, (3u << 22) | (1u << 24), (1u << 22) | (1u << 25), (2u << 22) | (1u << 26)};
    r->fpctl[0] = fpcr[seed & 3];
#endif
}

/* Compare, ignoring the exception flags of MXCSR (caller-saved status bits).
 * Returns the index of the first mismatch + 1 (gpr, then fpr, then fpctl), 0 if equal. */
static inline int regs_diff(const regset_t *want, const regset_t *got) {
    for (int i = 0; i < NGPR; i++)
        if (want->gpr[i] != got->gpr[i])
            return 1 + i;
    for (int i = 0; i < NFPR; i++)
        if (want->fpr[i] != got->fpr[i])
            return 1 + NGPR + i;
#if defined(__x86_64__)
    if ((want->fpctl[0] & ~0x3full) != (got->fpctl[0] & ~0x3full))
        return 1 + NGPR + NFPR;
#else
    if (want->fpctl[0] != got->fpctl[0])
        return 1 + NGPR + NFPR;
#endif
    if (want->fpctl[1] != got->fpctl[1])
        return 2 + NGPR + NFPR;
    return 0;
}

/* The FP control state of the calling code right now. */
static inline void regs_fpctl(uint64_t out[2]) {
#if defined(__x86_64__)
    uint32_t m;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(m), "=m"(cw));
    out[0] = m;
    out[1] = cw;
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    out[0] = v;
    out[1] = 0;
#endif
}

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl regs_switch\n"
    ".type regs_switch, @function\n"
    "regs_switch:\n"            /* rdi from, rsi to, rdx in, rcx out, r8 sw */
    "  pushq %rbx\n  pushq %rbp\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  subq $40, %rsp\n"        /* 16-byte aligned again */
    "  stmxcsr 0(%rsp)\n"
    "  fnstcw 4(%rsp)\n"
    "  movq %rcx, 8(%rsp)\n"
    "  ldmxcsr 56(%rdx)\n"
    "  fldcw 64(%rdx)\n"
    "  movq 0(%rdx), %rbx\n  movq 8(%rdx), %rbp\n  movq 16(%rdx), %r12\n"
    "  movq 24(%rdx), %r13\n  movq 32(%rdx), %r14\n  movq 40(%rdx), %r15\n"
    "  callq *%r8\n"
    "  movq 8(%rsp), %rcx\n"
    "  movq %rbx, 0(%rcx)\n  movq %rbp, 8(%rcx)\n  movq %r12, 16(%rcx)\n"
    "  movq %r13, 24(%rcx)\n  movq %r14, 32(%rcx)\n  movq %r15, 40(%rcx)\n"
    "  movq $0, 56(%rcx)\n  stmxcsr 56(%rcx)\n"
    "  movq $0, 64(%rcx)\n  fnstcw 64(%rcx)\n"
    "  ldmxcsr 0(%rsp)\n"
    "  fldcw 4(%rsp)\n"
    "  addq $40, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbp\n  popq %rbx\n"
    "  ret\n"
    ".size regs_switch, .-regs_switch\n");
#elif defined(__aarch64__)
/* regset_t: gpr at 0 (x19..x29, 88 bytes), fpr at 88 (d8..d15), fpctl at 152. */
__asm__(
    ".text\n"
    ".globl regs_switch\n"
    ".type regs_switch, %function\n"
    "regs_switch:\n"            /* x0 from, x1 to, x2 in, x3 out, x4 sw */
    "  sub sp, sp, #176\n"
    "  stp x19, x20, [sp, #0]\n  stp x21, x22, [sp, #16]\n  stp x23, x24, [sp, #32]\n"
    "  stp x25, x26, [sp, #48]\n  stp x27, x28, [sp, #64]\n  stp x29, x30, [sp, #80]\n"
    "  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n  stp d12, d13, [sp, #128]\n"
    "  stp d14, d15, [sp, #144]\n"
    "  mrs x9, fpcr\n  str x9, [sp, #160]\n  str x3, [sp, #168]\n"
    "  ldr x9, [x2, #152]\n  msr fpcr, x9\n"
    "  ldp x19, x20, [x2, #0]\n  ldp x21, x22, [x2, #16]\n  ldp x23, x24, [x2, #32]\n"
    "  ldp x25, x26, [x2, #48]\n  ldp x27, x28, [x2, #64]\n  ldr x29, [x2, #80]\n"
    "  ldp d8, d9, [x2, #88]\n  ldp d10, d11, [x2, #104]\n  ldp d12, d13, [x2, #120]\n"
    "  ldp d14, d15, [x2, #136]\n"
    "  blr x4\n"
    "  ldr x3, [sp, #168]\n"
    "  stp x19, x20, [x3, #0]\n  stp x21, x22, [x3, #16]\n  stp x23, x24, [x3, #32]\n"
    "  stp x25, x26, [x3, #48]\n  stp x27, x28, [x3, #64]\n  str x29, [x3, #80]\n"
    "  stp d8, d9, [x3, #88]\n  stp d10, d11, [x3, #104]\n  stp d12, d13, [x3, #120]\n"
    "  stp d14, d15, [x3, #136]\n"
    "  mrs x9, fpcr\n  str x9, [x3, #152]\n  str xzr, [x3, #160]\n"
    "  ldr x9, [sp, #160]\n  msr fpcr, x9\n"
    "  ldp x19, x20, [sp, #0]\n  ldp x21, x22, [sp, #16]\n  ldp x23, x24, [sp, #32]\n"
    "  ldp x25, x26, [sp, #48]\n  ldp x27, x28, [sp, #64]\n  ldp x29, x30, [sp, #80]\n"
    "  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n  ldp d12, d13, [sp, #128]\n"
    "  ldp d14, d15, [sp, #144]\n"
    "  add sp, sp, #176\n"
    "  ret\n"
    ".size regs_switch, .-regs_switch\n");
#endif

#endif
