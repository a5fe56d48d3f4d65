/* Forced preemption, the x86-64 part: where a signal interrupted a thread.
 * See sched/preempt.c.  (preempt_aarch64.c is the same for AArch64.) */
#include "sched/internal.h"

#include <ucontext.h>

uintptr_t gort__sched_uc_pc(const void *uc) {
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
}

uintptr_t gort__sched_uc_sp(const void *uc) {
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
}
