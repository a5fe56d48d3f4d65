/* A signal's interrupted context, the x86-64 part (ucontext_aarch64.c is the same
 * for AArch64): where a signal interrupted a thread -- forced preemption
 * (sched/preempt.c) -- and where it resumes -- the write barrier's restartable
 * store (gc/barrier.c), rewound by a stop's handler. */
#include "include/gort/internal/rt.h"

#include <ucontext.h>

uintptr_t gort__uc_pc(const void *uc) {
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
}

void gort__uc_set_pc(void *uc, uintptr_t pc) {
    ((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
}

uintptr_t gort__uc_sp(const void *uc) {
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
}
