/* The context switch for x86-64 (System V ABI).  See stack/stack.c for the design.
 *
 * A suspended context is its saved sp (gort_ctx_t.sp, offset 0) and this
 * frame, which the switch pushes on the context's own stack:
 *
 *     sp+56  return address (where the context resumes)
 *     sp+48  rbp
 *     sp+40  rbx
 *     sp+32  r12
 *     sp+24  r13
 *     sp+16  r14
 *     sp+8   r15
 *     sp+0   MXCSR (bytes 0-3), x87 control word (bytes 4-5), zero (6-7)
 *
 * That is all the ABI makes callee-saved: every other general register, the
 * vector registers, the flags and the x87 stack are caller-saved, and the ABI's
 * "control bits" of MXCSR and the x87 control word are the only FP state a
 * callee must preserve.  No system call, no signal mask.
 *
 * The MXCSR/x87 control words are reloaded unconditionally.  Comparing them
 * first, to skip the loads, measured slower (AMD EPYC: 5.6 against 4.3 ns a
 * switch): reading back the words stmxcsr/fnstcw just stored defeats store
 * forwarding, and ldmxcsr/fldcw of unchanged values are cheap.  The resumed
 * context is entered with an indirect jmp rather than ret, so the return-stack
 * predictor is not wrong on every switch (ret: 10.4 ns a switch).
 *
 * gdb: the label gort__ctx_suspended is an instruction at which the frame above
 * is complete and described by CFI, so "set $sp = ctx->sp; set $pc =
 * gort__ctx_suspended; bt" unwinds a suspended context (docs/stack.md). */

#include "sanitize.h"

#define FRAME 64

/* Push the frame above (CFA = rsp + FRAME afterwards). */
#define SAVE_FRAME                              \
        pushq   %rbp;                           \
        .cfi_adjust_cfa_offset 8;               \
        .cfi_rel_offset rbp, 0;                 \
        pushq   %rbx;                           \
        .cfi_adjust_cfa_offset 8;               \
        .cfi_rel_offset rbx, 0;                 \
        pushq   %r12;                           \
        .cfi_adjust_cfa_offset 8;               \
        .cfi_rel_offset r12, 0;                 \
        pushq   %r13;                           \
        .cfi_adjust_cfa_offset 8;               \
        .cfi_rel_offset r13, 0;                 \
        pushq   %r14;                           \
        .cfi_adjust_cfa_offset 8;               \
        .cfi_rel_offset r14, 0;                 \
        pushq   %r15;                           \
        .cfi_adjust_cfa_offset 8;               \
        .cfi_rel_offset r15, 0;                 \
        pushq   $0;                             \
        .cfi_adjust_cfa_offset 8;               \
        stmxcsr (%rsp);                         \
        fnstcw  4(%rsp)

/* Switch stacks and pop the resumed context's frame (CFA = rsp + FRAME before). */
#define SWITCH_TAIL                                                     \
        movq    %rsp, (%rdi);           /* from->sp */                  \
        movq    (%rsi), %rsp;           /* to->sp: the resumed stack */ \
        ldmxcsr (%rsp);                 /* its FP control state */      \
        fldcw   4(%rsp);                                                \
        addq    $8, %rsp;                                               \
        .cfi_adjust_cfa_offset -8;                                      \
        popq    %r15;                                                   \
        .cfi_adjust_cfa_offset -8;                                      \
        .cfi_restore r15;                                               \
        popq    %r14;                                                   \
        .cfi_adjust_cfa_offset -8;                                      \
        .cfi_restore r14;                                               \
        popq    %r13;                                                   \
        .cfi_adjust_cfa_offset -8;                                      \
        .cfi_restore r13;                                               \
        popq    %r12;                                                   \
        .cfi_adjust_cfa_offset -8;                                      \
        .cfi_restore r12;                                               \
        popq    %rbx;                                                   \
        .cfi_adjust_cfa_offset -8;                                      \
        .cfi_restore rbx;                                               \
        popq    %rbp;                                                   \
        .cfi_adjust_cfa_offset -8;                                      \
        .cfi_restore rbp;                                               \
        movq    %rdi, %rax;             /* who switched to it */        \
        popq    %r8;                                                    \
        .cfi_adjust_cfa_offset -8;                                      \
        .cfi_register rip, r8;                                          \
        jmpq    *%r8

/* The CFI of a pushed frame, for code reached by a jump from elsewhere. */
#define FRAME_CFI                               \
        .cfi_adjust_cfa_offset FRAME;           \
        .cfi_rel_offset rip, FRAME - 8;         \
        .cfi_rel_offset rbp, FRAME - 16;        \
        .cfi_rel_offset rbx, FRAME - 24;        \
        .cfi_rel_offset r12, FRAME - 32;        \
        .cfi_rel_offset r13, FRAME - 40;        \
        .cfi_rel_offset r14, FRAME - 48;        \
        .cfi_rel_offset r15, FRAME - 56

/* Without a sanitizer, the library's gort_ctx_switch is assembly (below). */
#if defined(GORT_BUILDING) && !GORT_STACK_SANITIZED
#define PUBLIC_SWITCH 1
#endif

        .text

/* gort_ctx_t *gort__ctx_jump(gort_ctx_t *from, gort_ctx_t *to)
 * The switch (stack/ctx.c's slow path calls it).  Returns, on the resumed
 * side, the from of the jump that resumed it. */
        .globl  gort__ctx_jump
        .hidden gort__ctx_jump
        .type   gort__ctx_jump, @function
        .p2align 4
gort__ctx_jump:
        .cfi_startproc
        SAVE_FRAME
#ifdef PUBLIC_SWITCH
        jmp     gort__ctx_suspended     /* the tail is gort_ctx_switch's */
#else
        .globl  gort__ctx_suspended
        .hidden gort__ctx_suspended
gort__ctx_suspended:
        SWITCH_TAIL
#endif
        .cfi_endproc
        .size   gort__ctx_jump, .-gort__ctx_jump

#ifdef PUBLIC_SWITCH
/* void gort_ctx_switch(gort_ctx_t *from, gort_ctx_t *to) -- the public entry.
 * When stacks without guard pages exist (gort__stack_track), every switch goes
 * to the C slow path for its canary check.  The flag is tested after the frame
 * is pushed, where it costs nothing measurable (0.2 ns a switch before it). */
        .globl  gort_ctx_switch
        .type   gort_ctx_switch, @function
        .hidden gort__stack_track
        .hidden gort__ctx_switch_slow
        .p2align 4
gort_ctx_switch:
        .cfi_startproc
        SAVE_FRAME
        cmpb    $0, gort__stack_track(%rip)
        jne     .Lslow
        .globl  gort__ctx_suspended
        .hidden gort__ctx_suspended
gort__ctx_suspended:
        SWITCH_TAIL
        FRAME_CFI
.Lslow: addq    $FRAME - 8, %rsp        /* drop the frame: the registers are intact */
        .cfi_adjust_cfa_offset -(FRAME - 8)
        .cfi_restore rbp
        .cfi_restore rbx
        .cfi_restore r12
        .cfi_restore r13
        .cfi_restore r14
        .cfi_restore r15
        .cfi_restore rip
        jmp     gort__ctx_switch_slow
        .cfi_endproc
        .size   gort_ctx_switch, .-gort_ctx_switch
#endif

/* void *gort__ctx_init(void *top, void (*entry)(gort_ctx_t *from, void *a, void *b),
 *                      void *a, void *b, uint64_t fp)
 * Writes a frame below top (16-byte aligned) that the first jump "resumes":
 * it enters gort__ctx_boot with r12 = entry, r13 = a, r14 = b, rbp = 0, and
 * the FP control words fp (gort__ctx_fpstate's).  Returns the context's
 * initial sp. */
        .globl  gort__ctx_init
        .hidden gort__ctx_init
        .type   gort__ctx_init, @function
        .p2align 4
gort__ctx_init:
        .cfi_startproc
        andq    $-16, %rdi
        movq    $0, -8(%rdi)            /* end of the frame chain for unwinders */
        movq    $0, -16(%rdi)
        leaq    -(16 + FRAME)(%rdi), %rax
        leaq    gort__ctx_boot(%rip), %r9
        movq    %r9, 56(%rax)           /* "return" into the boot stub */
        movq    $0, 48(%rax)            /* rbp */
        movq    $0, 40(%rax)            /* rbx */
        movq    %rsi, 32(%rax)          /* r12 = entry */
        movq    %rdx, 24(%rax)          /* r13 = a */
        movq    %rcx, 16(%rax)          /* r14 = b */
        movq    $0, 8(%rax)             /* r15 */
        movq    %r8, (%rax)             /* MXCSR, x87 control word */
        ret
        .cfi_endproc
        .size   gort__ctx_init, .-gort__ctx_init

/* uint64_t gort__ctx_fpstate(void)
 * The calling thread's FP control state as a frame holds it: MXCSR in bytes
 * 0-3, the x87 control word in bytes 4-5.  stmxcsr is slow (on AMD EPYC it
 * was two thirds of gort__ctx_init's samples when init read it itself), so
 * a caller making many contexts reads it once. */
        .globl  gort__ctx_fpstate
        .hidden gort__ctx_fpstate
        .type   gort__ctx_fpstate, @function
        .p2align 4
gort__ctx_fpstate:
        .cfi_startproc
        movq    $0, -8(%rsp)            /* the red zone */
        stmxcsr -8(%rsp)
        fnstcw  -4(%rsp)
        movq    -8(%rsp), %rax
        ret
        .cfi_endproc
        .size   gort__ctx_fpstate, .-gort__ctx_fpstate

/* The first code a new context runs, with rsp = top - 16 (16-byte aligned) and
 * rax = the context that switched to it.  entry must not return; if it does
 * anyway, trap rather than run off the top of the stack. */
        .type   gort__ctx_boot, @function
        .p2align 4
gort__ctx_boot:
        .cfi_startproc
        .cfi_undefined rip              /* outermost frame: unwinders stop here */
        movq    %rax, %rdi
        movq    %r13, %rsi
        movq    %r14, %rdx
        callq   *%r12
        ud2
        .cfi_endproc
        .size   gort__ctx_boot, .-gort__ctx_boot

        .section .note.GNU-stack, "", @progbits
