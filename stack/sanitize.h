/* Which sanitizers must hear about every context switch (compile-time).  Plain
 * preprocessor, so that stack/switch_<arch>.S can include it too: without a
 * sanitizer, gort_ctx_switch is the assembly entry itself; with one, it is a C
 * function in stack/ctx.c.  See the design essay in stack/stack.c ("Tools"). */
#ifndef GORT_STACK_SANITIZE_H
#define GORT_STACK_SANITIZE_H

#if defined(__SANITIZE_ADDRESS__)
#define GORT_STACK_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define GORT_STACK_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(GORT_STACK_ASAN)
#define GORT_STACK_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(GORT_STACK_TSAN)
#define GORT_STACK_TSAN 1
#endif
#endif
#ifndef GORT_STACK_ASAN
#define GORT_STACK_ASAN 0
#endif
#ifndef GORT_STACK_TSAN
#define GORT_STACK_TSAN 0
#endif
#define GORT_STACK_SANITIZED (GORT_STACK_ASAN || GORT_STACK_TSAN)

#endif
