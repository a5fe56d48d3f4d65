/* The write barrier's restartable store, x86-64 part (see "The store while no
 * mark runs" in gc/barrier.c; barrier_aarch64.h is the same for AArch64).
 *
 * GC_WB_STORE_OFF(slot, ptr, marking): if gort__gc_phase is GC_OFF, store ptr to
 * *slot; else jump to the label `marking`.  From its first instruction to the
 * store itself (gort__wb_rs_start .. gort__wb_rs_commit) the sequence is
 * restartable: a stop that interrupts it there rewinds the thread to the start
 * (gort__gc_wb_rewind), so the phase is read again after the stop.  Its inputs
 * stay in their registers throughout.  It may appear once in the library (its
 * labels are symbols of their own; a second copy would not assemble). */
#ifndef GORT_GC_BARRIER_X86_64_H
#define GORT_GC_BARRIER_X86_64_H

#define GC_WB_RESTARTABLE 1

#define GC_WB_STORE_OFF(slot, ptr, marking)                   \
    __asm__ goto("gort__wb_rs_start:\n\t"                     \
                 "cmpl $0, gort__gc_phase(%%rip)\n\t"         \
                 "jne %l[" #marking "]\n"                     \
                 "gort__wb_rs_commit:\n\t"                    \
                 "movq %1, (%0)"                              \
                 : /* no outputs */                           \
                 : "r"(slot), "r"(ptr)                        \
                 : "memory", "cc"                             \
                 : marking)

#endif
