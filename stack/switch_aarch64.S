/* The context switch for AArch64 (AAPCS64).  See stack/stack.c for the design,
 * and stack/switch_x86_64.S for the same thing on x86-64.
 *
 * A suspended context is its saved sp (gort_ctx_t.sp, offset 0) and this
 * 176-byte frame on its own stack:
 *
 *     sp+0xa0  FPCR (8 bytes), then 8 bytes of padding
 *     sp+0x90  x29 (frame pointer), x30 (lr: where the context resumes)
 *     sp+0x40  x19 .. x28
 *     sp+0x00  d8 .. d15 (the low halves of v8-v15)
 *
 * AAPCS64 makes exactly these callee-saved, and the FPCR's rounding and
 * exception-control fields are preserved across calls as well (FPSR's flags
 * are not).  The FPCR is written only when it differs: msr fpcr can be slow.
 * No system call, no signal mask. */

#include "sanitize.h"

#define FRAME 0xb0

        .text

/* void gort_ctx_switch(gort_ctx_t *from, gort_ctx_t *to) -- the public entry,
 * unless a sanitizer needs to hear about switches (then stack/ctx.c has it).
 * Stacks without guard pages (gort__stack_track) need canary checks: the C
 * slow path.  Otherwise it falls straight into the switch. */
#if defined(GORT_BUILDING) && !GORT_STACK_SANITIZED
        .globl  gort_ctx_switch
        .type   gort_ctx_switch, %function
        .hidden gort__stack_track
        .hidden gort__ctx_switch_slow
        .p2align 4
gort_ctx_switch:
        .cfi_startproc
        adrp    x9, gort__stack_track
        ldrb    w9, [x9, :lo12:gort__stack_track]
        cbz     w9, gort__ctx_jump
        b       gort__ctx_switch_slow
#define JUMP_CFI_STARTED 1
#endif

/* gort_ctx_t *gort__ctx_jump(gort_ctx_t *from, gort_ctx_t *to)
 * Returns, on the resumed side, the from of the jump that resumed it. */
        .globl  gort__ctx_jump
        .hidden gort__ctx_jump
        .type   gort__ctx_jump, %function
#ifndef JUMP_CFI_STARTED
        .p2align 4
#endif
gort__ctx_jump:
#ifndef JUMP_CFI_STARTED
        .cfi_startproc
#endif
        sub     sp, sp, #FRAME
        .cfi_def_cfa_offset FRAME
        stp     d8,  d9,  [sp, #0x00]
        stp     d10, d11, [sp, #0x10]
        stp     d12, d13, [sp, #0x20]
        stp     d14, d15, [sp, #0x30]
        stp     x19, x20, [sp, #0x40]
        stp     x21, x22, [sp, #0x50]
        stp     x23, x24, [sp, #0x60]
        stp     x25, x26, [sp, #0x70]
        stp     x27, x28, [sp, #0x80]
        stp     x29, x30, [sp, #0x90]
        .cfi_offset d8,  -FRAME + 0x00
        .cfi_offset d9,  -FRAME + 0x08
        .cfi_offset d10, -FRAME + 0x10
        .cfi_offset d11, -FRAME + 0x18
        .cfi_offset d12, -FRAME + 0x20
        .cfi_offset d13, -FRAME + 0x28
        .cfi_offset d14, -FRAME + 0x30
        .cfi_offset d15, -FRAME + 0x38
        .cfi_offset x19, -FRAME + 0x40
        .cfi_offset x20, -FRAME + 0x48
        .cfi_offset x21, -FRAME + 0x50
        .cfi_offset x22, -FRAME + 0x58
        .cfi_offset x23, -FRAME + 0x60
        .cfi_offset x24, -FRAME + 0x68
        .cfi_offset x25, -FRAME + 0x70
        .cfi_offset x26, -FRAME + 0x78
        .cfi_offset x27, -FRAME + 0x80
        .cfi_offset x28, -FRAME + 0x88
        .cfi_offset x29, -FRAME + 0x90
        .cfi_offset x30, -FRAME + 0x98
        mrs     x9, fpcr
        str     x9, [sp, #0xa0]
        .globl  gort__ctx_suspended
        .hidden gort__ctx_suspended
gort__ctx_suspended:
        mov     x10, sp
        str     x10, [x0]               /* from->sp */
        ldr     x10, [x1]               /* to->sp: now on the resumed stack */
        mov     sp, x10
        ldr     x11, [sp, #0xa0]
        cmp     x11, x9
        b.eq    1f
        msr     fpcr, x11               /* the resumed context's FP control state */
1:      ldp     d8,  d9,  [sp, #0x00]
        ldp     d10, d11, [sp, #0x10]
        ldp     d12, d13, [sp, #0x20]
        ldp     d14, d15, [sp, #0x30]
        ldp     x19, x20, [sp, #0x40]
        ldp     x21, x22, [sp, #0x50]
        ldp     x23, x24, [sp, #0x60]
        ldp     x25, x26, [sp, #0x70]
        ldp     x27, x28, [sp, #0x80]
        ldp     x29, x30, [sp, #0x90]
        add     sp, sp, #FRAME
        .cfi_def_cfa_offset 0
        /* x0 still holds from: the resumed side's return value. */
        ret
        .cfi_endproc
        .size   gort__ctx_jump, .-gort__ctx_jump
#ifdef JUMP_CFI_STARTED
        .size   gort_ctx_switch, .-gort_ctx_switch
#endif

/* void *gort__ctx_init(void *top, void (*entry)(gort_ctx_t *from, void *a, void *b),
 *                      void *a, void *b, uint64_t fp)
 * Writes a frame below top (16-byte aligned) that the first jump "resumes":
 * it enters gort__ctx_boot with x19 = entry, x20 = a, x21 = b, x29 = 0 and the
 * FPCR fp (gort__ctx_fpstate's).  Returns the context's initial sp. */
        .globl  gort__ctx_init
        .hidden gort__ctx_init
        .type   gort__ctx_init, %function
        .p2align 4
gort__ctx_init:
        .cfi_startproc
        and     x0, x0, #~15
        stp     xzr, xzr, [x0, #-16]    /* end of the frame chain for unwinders */
        sub     x0, x0, #(16 + FRAME)
        mov     x9, #0
1:      str     xzr, [x0, x9]           /* zero the frame */
        add     x9, x9, #8
        cmp     x9, #FRAME
        b.lo    1b
        stp     x1, x2, [x0, #0x40]     /* x19 = entry, x20 = a */
        str     x3, [x0, #0x50]         /* x21 = b */
        adr     x9, gort__ctx_boot
        str     x9, [x0, #0x98]         /* x30: "return" into the boot stub */
        str     x4, [x0, #0xa0]         /* FPCR */
        ret
        .cfi_endproc
        .size   gort__ctx_init, .-gort__ctx_init

/* uint64_t gort__ctx_fpstate(void): the calling thread's FPCR. */
        .globl  gort__ctx_fpstate
        .hidden gort__ctx_fpstate
        .type   gort__ctx_fpstate, %function
        .p2align 4
gort__ctx_fpstate:
        .cfi_startproc
        mrs     x0, fpcr
        ret
        .cfi_endproc
        .size   gort__ctx_fpstate, .-gort__ctx_fpstate

/* The first code a new context runs, with sp = top - 16 (16-byte aligned) and
 * x0 = the context that switched to it.  entry must not return; if it does
 * anyway, trap rather than run off the top of the stack. */
        .type   gort__ctx_boot, %function
        .p2align 4
gort__ctx_boot:
        .cfi_startproc
        .cfi_undefined x30              /* outermost frame: unwinders stop here */
        mov     x1, x20
        mov     x2, x21
        blr     x19
        brk     #1
        .cfi_endproc
        .size   gort__ctx_boot, .-gort__ctx_boot

        .section .note.GNU-stack, "", %progbits
