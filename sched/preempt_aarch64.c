/* Forced preemption, the AArch64 part: where a signal interrupted a thread.
 * See sched/preempt.c.  AArch64 has no red zone; the kernel saves the FP/SIMD
 * (and SVE) state in the signal frame, which rt_sigreturn restores. */
#include "sched/internal.h"

#include <ucontext.h>

uintptr_t gort__sched_uc_pc(const void *uc) {
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.pc;
}

uintptr_t gort__sched_uc_sp(const void *uc) {
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.sp;
}
