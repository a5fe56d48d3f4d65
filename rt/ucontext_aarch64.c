/* A signal's interrupted context, the AArch64 part: see ucontext_x86_64.c.
 * AArch64 has no red zone; the kernel saves the FP/SIMD (and SVE) state in the
 * signal frame, which rt_sigreturn restores. */
#include "include/gort/internal/rt.h"

#include <ucontext.h>

uintptr_t gort__uc_pc(const void *uc) {
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.pc;
}

void gort__uc_set_pc(void *uc, uintptr_t pc) {
    ((ucontext_t *)uc)->uc_mcontext.pc = pc;
}

uintptr_t gort__uc_sp(const void *uc) {
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.sp;
}
