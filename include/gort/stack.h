/* gort/stack.h — goroutine stacks and the context switch.
 *
 * A stack is a contiguous, fixed-size reservation whose pages the kernel commits
 * on first touch, with a guard below it; stacks come from power-of-two size
 * classes (64 KiB slots by default) and are recycled through per-thread and
 * global pools, so that allocating and freeing one makes no system call.
 *
 *   gort_stack_t s;
 *   gort_ctx_t   main_ctx, co;
 *   gort_stack_alloc(&s, 0);                  // default size (60 KiB usable)
 *   gort_ctx_make(&co, &s, fn, arg);          // fn(arg) runs on s at the first switch
 *   gort_ctx_switch(&main_ctx, &co);          // save here, resume co
 *   ...                                       // fn switches back with gort_ctx_switch(&co, &main_ctx)
 *   gort_stack_free(&s);                      // once co will never be resumed
 *
 * Overflowing a stack is always a fatal error that names the stack
 * ("fatal error: stack overflow: goroutine 17 stack [lo, hi) size N"), never
 * silent corruption.  docs/stack.md explains the guard strategy, the tools
 * that keep working across switches (ASan, TSan, valgrind) and how to get a
 * backtrace of a suspended context in gdb. */
#ifndef GORT_STACK_H
#define GORT_STACK_H

#include <stddef.h>
#include <stdint.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A stack.  Usable memory is [lo, hi), size = hi - lo (the guard below lo is
 * not counted); hi is 16-byte aligned.  The struct is the caller's; it must not
 * be copied while the stack is allocated (free the one you allocated). */
typedef struct gort_stack {
    void  *lo, *hi;
    size_t size;
    void  *slot;           /* the pool's record of this stack (stack/pool.c) */
    void  *tsan_fiber;     /* ThreadSanitizer fiber of the context made on it, or NULL */
    unsigned valgrind_id;  /* VALGRIND_STACK_REGISTER id, 0 if not under valgrind */
    unsigned flags;        /* internal */
} gort_stack_t;

/* Allocate a stack of at least size usable bytes (0 = the default, 60 KiB in a
 * 64 KiB slot).  Returns 0, or -1 with errno = EINVAL (size above the largest
 * class, 1 GiB) or ENOMEM (no address space or mappings left). */
GORT_API int    gort_stack_alloc(gort_stack_t *s, size_t size);
/* Return a stack to the pool.  No context may be running on it or be resumed
 * on it afterwards.  Freeing a stack that is not allocated is a fatal error;
 * a zeroed gort_stack_t (or one already freed through this struct) is a no-op. */
GORT_API void   gort_stack_free(gort_stack_t *s);
/* Bytes of the stack touched (resident) below hi: hi minus the lowest resident
 * page.  A system call (mincore), meant for statistics and the collector. */
GORT_API size_t gort_stack_used(const gort_stack_t *s);
/* Give the pages below sp back to the OS: sp is the lowest address in use (a
 * suspended context's saved sp, gort_ctx_t.sp).  The pages read as zero if
 * touched again.  Returns the bytes of resident memory released. */
GORT_API size_t gort_stack_shrink(gort_stack_t *s, void *sp);

/* A saved execution context.  The switch saves the callee-saved registers
 * (x86-64: rbx rbp r12-r15 + MXCSR and x87 control words; AArch64: x19-x29 lr
 * d8-d15 + FPCR) on the context's own stack, below sp, and records sp here: a
 * suspended context's whole state is [sp, hi) of its stack plus this struct. */
typedef struct gort_ctx {
    void       *sp;          /* saved stack pointer (written by the switch) */
    void       *guard;       /* canary word of its stack when it has no guard page, else NULL */
    const void *stack_lo;    /* bounds of the stack it runs on (sanitizers); */
    size_t      stack_size;  /*   learned at the first switch for a thread's own context */
    void       *asan_fake;   /* AddressSanitizer fake-stack handle */
    void       *tsan_fiber;  /* ThreadSanitizer fiber */
} gort_ctx_t;

/* Prepare c to run fn(arg) on stack s at the first switch into it.  fn must
 * never return (switch away instead; free the stack from another context): if
 * it does, the program dies with a fatal error.  Any context previously made
 * on s is dead.  The new context inherits the caller's FP control state. */
GORT_API void gort_ctx_make(gort_ctx_t *c, gort_stack_t *s, void (*fn)(void *), void *arg);
/* Save the running context into from and resume to.  Returns when some context
 * switches back to from.  from needs no initialisation. */
GORT_API void gort_ctx_switch(gort_ctx_t *from, gort_ctx_t *to);

#ifdef __cplusplus
}
#endif
#endif
