/* The write barrier's restartable store, AArch64 part: barrier_x86_64.h's
 * GC_WB_STORE_OFF.  The store is a store-release (stlr), as gort_gc_store's C
 * path: a marker that loads the new pointer sees the object's contents written
 * before it.  x16 is scratch (the intra-procedure
 * call register), recomputed from the start on a rewind. */
#ifndef GORT_GC_BARRIER_AARCH64_H
#define GORT_GC_BARRIER_AARCH64_H

#define GC_WB_RESTARTABLE 1

#define GC_WB_STORE_OFF(slot, ptr, marking)                   \
    __asm__ goto("gort__wb_rs_start:\n\t"                     \
                 "adrp x16, gort__gc_phase\n\t"               \
                 "ldr w16, [x16, :lo12:gort__gc_phase]\n\t"   \
                 "cbnz w16, %l[" #marking "]\n"               \
                 "gort__wb_rs_commit:\n\t"                    \
                 "stlr %1, [%0]"                              \
                 : /* no outputs */                           \
                 : "r"(slot), "r"(ptr)                        \
                 : "x16", "memory", "cc"                      \
                 : marking)

#endif
