/* The assembly context switch (stack/switch_<arch>.S).  See stack/stack.c.
 * This header depends on nothing but include/gort/stack.h, so that the
 * assembly can be tested alone (tests/stack/aarch64_main.c under qemu). */
#ifndef GORT_STACK_SWITCH_H
#define GORT_STACK_SWITCH_H

#include "include/gort/stack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The first function a new context runs: from is the context that switched to
 * it, a and b are gort__ctx_init's.  Must not return. */
typedef void (*gort__ctx_entry_fn)(gort_ctx_t *from, void *a, void *b);

/* Push the callee-saved state on the running stack, store sp in from->sp,
 * load to->sp and resume to.  Returns, on the resumed side, the from argument
 * of the jump that resumed it. */
__attribute__((visibility("hidden"))) gort_ctx_t *gort__ctx_jump(gort_ctx_t *from, gort_ctx_t *to);

/* Write below top (rounded down to 16 bytes) a frame that the first
 * gort__ctx_jump to it resumes as entry(from, a, b), on an ABI-aligned stack,
 * with the FP control state fp.  Returns the initial sp. */
__attribute__((visibility("hidden"))) void *gort__ctx_init(void *top, gort__ctx_entry_fn entry,
                                                           void *a, void *b, uint64_t fp);

/* The calling thread's FP control state, as gort__ctx_init takes it (x86-64:
 * MXCSR and the x87 control word; AArch64: FPCR).  Reading it is slow on some
 * CPUs: a caller that makes many contexts keeps it. */
__attribute__((visibility("hidden"))) uint64_t gort__ctx_fpstate(void);

/* The C side of gort_ctx_switch (stack/ctx.c): the assembly entry jumps there
 * when stacks without guard pages exist; with a sanitizer it is every switch. */
__attribute__((visibility("hidden"))) void gort__ctx_switch_slow(gort_ctx_t *from, gort_ctx_t *to);

/* The instruction inside gort__ctx_jump at which a suspended context's frame is
 * complete: with sp = ctx->sp and pc = this, a debugger unwinds the context. */
__attribute__((visibility("hidden"))) extern const char gort__ctx_suspended[];

#ifdef __cplusplus
}
#endif
#endif
