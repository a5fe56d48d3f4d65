/* gort internal: what every module shares (never installed).
 * See rt/env.c for settings, rt/fatal.c for the fatal path, rt/lock.c for locks. */
#ifndef GORT_INTERNAL_RT_H
#define GORT_INTERNAL_RT_H

#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GORT_LIKELY(x)   __builtin_expect(!!(x), 1)
#define GORT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GORT_NOINLINE    __attribute__((noinline))
#define GORT_INLINE      static inline __attribute__((always_inline))
#define GORT_COLD        __attribute__((cold, noinline))
#define GORT_NORETURN    __attribute__((noreturn))
#define GORT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define GORT_CACHELINE   64
#define GORT_ALIGNED_CL  __attribute__((aligned(GORT_CACHELINE)))

/* A spin-wait hint to the CPU (x86-64's pause, AArch64's yield). */
GORT_INLINE void gort__cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Population count, without libgcc's __popcountdi2 where the CPU baseline has
 * no instruction for it (x86-64 without popcnt): the runtime never calls code
 * linked into the executable's own .text, which the preemption signal takes
 * for the program's (sched/preempt.c; tests/sched/preempt checks it). */
GORT_INLINE unsigned gort__popcount64(uint64_t x) {
#if defined(__POPCNT__) || defined(__aarch64__)
    return (unsigned)__builtin_popcountll(x);
#else
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* Sanitizer builds: GORT_TSAN / GORT_ASAN (gcc and clang spell the test differently). */
#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif

#define GORT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GORT_ROUND_UP(x, a)   (((x) + ((a) - 1)) & ~((uintptr_t)(a) - 1))
#define GORT_ROUND_DOWN(x, a) ((x) & ~((uintptr_t)(a) - 1))

/* ---- fatal errors and assertions (rt/fatal.c) ----------------------------------
 * One fatal path: prints "fatal error: <message>" and aborts.  It never
 * allocates, so it is safe inside the allocator and before main. */
GORT_NORETURN GORT_COLD GORT_PRINTF(1, 2) void gort__fatal(const char *fmt, ...);
GORT_NORETURN GORT_COLD void gort__fatal_assert(const char *expr, const char *file, int line);
/* Print to stderr without allocating; returns bytes written. */
GORT_PRINTF(1, 2) int gort__printf(const char *fmt, ...);
int gort__vprintf(const char *fmt, va_list ap);
int gort__write_all(int fd, const char *buf, size_t n);

/* Cheap assertions are always on; expensive ones only with GORT_DEBUG_CHECKS. */
#define GORT_ASSERT(e) \
    ((void)(GORT_LIKELY(e) ? 0 : (gort__fatal_assert(#e, __FILE__, __LINE__), 0)))
#ifdef GORT_DEBUG_CHECKS
#define GORT_DASSERT(e) GORT_ASSERT(e)
#else
#define GORT_DASSERT(e) ((void)0)
#endif

/* ---- OS memory (rt/os.c) ---------------------------------------------------------
 * Every mapping system call the runtime makes goes through gort__os, a table of
 * function pointers that tests may swap (to count calls or inject failure). */
typedef struct gort_os_ops {
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, long off);
    int   (*munmap)(void *addr, size_t len);
    int   (*madvise)(void *addr, size_t len, int advice);
    int   (*mprotect)(void *addr, size_t len, int prot);
} gort_os_ops_t;
extern gort_os_ops_t gort__os;

/* Reserve len bytes of address space aligned to align (a power of two >= page
 * size), readable and writable, committed lazily by the kernel.  NULL on failure. */
void *gort__os_reserve(size_t len, size_t align);

/* A bump allocator over chunks reserved from the OS (the caller holds its lock).
 * It keeps its chunk's start and an offset, never a pointer one past the chunk:
 * that address may be the start of the next mapping -- an arena -- and gort's own
 * globals are scanned as roots, so it would keep that arena's first object alive
 * (and gccheckmark would find the object reachable through a word no barrier saw
 * written).  Returns NULL when the OS refuses a chunk; chunks are line aligned. */
typedef struct gort_bump {
    char  *chunk;
    size_t used, size;
} gort_bump_t;

static inline void *gort__bump_take(gort_bump_t *b, size_t n, size_t chunk_size) {
    if (!b->chunk || b->size - b->used < n) {
        char *c = (char *)gort__os_reserve(chunk_size, 0);
        if (!c)
            return NULL;
        b->chunk = c;
        b->used = 0;
        b->size = chunk_size;
    }
    void *p = b->chunk + b->used;
    b->used += n;
    return p;
}
void  gort__os_unmap(void *p, size_t len);
/* Give pages back to the OS; they read as zero afterwards. */
void  gort__os_release(void *p, size_t len);
/* Transparent huge pages for [p, p + len) (MADV_HUGEPAGE), or off again for the
 * huge pages a release of [p, p + len) leaves partly mapped (MADV_NOHUGEPAGE):
 * see alloc/arena.c.  Failures (no THP in this kernel) are ignored. */
void  gort__os_hugepages(void *p, size_t len);
void  gort__os_nohugepages_around(void *p, size_t len);
size_t gort__os_page_size(void);
/* The decimal number a small kernel file (/proc/sys, sysfs) starts with, read
 * without allocating; 0 if it cannot be read or starts with no digit. */
uint64_t gort__os_read_number(const char *path);

/* Start a detached runtime thread (a collector worker, the sweeper, the scavenger)
 * with every signal blocked, so it never runs a program's handler or answers a
 * stop; stack 0 means the default size.  0, or an errno value. */
int gort__os_thread_start(void *(*fn)(void *), void *arg, size_t stack);
/* Name the calling thread (at most 15 characters), as ps -L, top -H and gdb show
 * it: every runtime thread is "gort-...", so that a profile or a hung process
 * tells the program's threads from the runtime's. */
void gort__os_thread_name(const char *name);

/* errno's address on the calling thread, computed anew at each call.  glibc
 * declares __errno_location const, so a compiler may compute errno's address once
 * per function -- clang hoisted it out of gort_accept's retry loop, across the
 * goroutine's park, which may resume it on another M: it then read (and could
 * write) another thread's errno.  Out of line, in its own file, the call cannot
 * be merged.  Code that parks a goroutine between two uses of errno uses this. */
int *gort__errno_here(void);

/* A signal handler's ucontext (rt/ucontext_<arch>.c): the interrupted pc and sp,
 * and the pc it resumes at. */
uintptr_t gort__uc_pc(const void *uc);
uintptr_t gort__uc_sp(const void *uc);
void gort__uc_set_pc(void *uc, uintptr_t pc);

/* Signals 1-64 of a mask, bit sig - 1, as the kernel keeps them: how the
 * handlers of a stop (gc/thread.c) and of a preemption (sched/preempt.c) tell
 * that they interrupted another signal's handler (it blocks more). */
GORT_INLINE uint64_t gort__sigset_bits(const sigset_t *s) {
    uint64_t b;
    __builtin_memcpy(&b, s, sizeof b);
    return b;
}

/* ---- time ---------------------------------------------------------------------- */
int64_t gort__nanotime(void);    /* CLOCK_MONOTONIC */

/* The scheduler's safe point in the allocation slow paths (alloc/alloc.c): called
 * with the public allocation function's return address, all allocator state
 * released.  NULL until the scheduler starts. */
extern void (*gort__alloc_safepoint_hook)(uintptr_t ra);

/* ---- settings (rt/env.c) -----------------------------------------------------------
 * Every GORT_* variable and GORT_DEBUG key is declared once in rt/env.c's
 * table and parsed once, on first use. */
typedef struct gort_settings {
    int     maxprocs;         /* GORT_MAXPROCS; 0 = number of CPUs */
    int     maxthreads;       /* GORT_MAXTHREADS: the scheduler's thread cap (default 10000) */
    int     gc_percent;       /* GORT_GC; -1 = off */
    int64_t memlimit;         /* GORT_MEMLIMIT bytes; INT64_MAX = none */
    int     allocstats;       /* GORT_DEBUG=allocstats=1 */
    int     gctrace;          /* GORT_DEBUG=gctrace=N */
    int     gccheckmark;      /* GORT_DEBUG=gccheckmark=1 */
    int     gcstoptheworld;   /* GORT_DEBUG=gcstoptheworld=1 */
    int     gcidlemark;       /* GORT_DEBUG=gcidlemark=0: no idle-priority mark workers */
    int     gcgoal;           /* GORT_DEBUG=gcgoal=N: the heap goal's basis (gc/pacer.c) */
    int     schedtrace;       /* GORT_DEBUG=schedtrace=ms */
    int     scheddetail;      /* GORT_DEBUG=scheddetail=1 */
    int     scavenge;         /* GORT_DEBUG=scavenge=0 disables the background scavenger */
    int     trace;            /* GORT_DEBUG=trace=1 turns the event rings on */
    int     asyncpreemptoff;  /* GORT_DEBUG=asyncpreemptoff=1: no preemption signal */
    int     invalidfree;      /* GORT_DEBUG=invalidfree=0 makes an invalid free non-fatal (reports, leaks) */
    int     hugepages;        /* GORT_DEBUG=hugepages=1: arenas advised MADV_HUGEPAGE (alloc/arena.c) */
} gort_settings_t;
extern gort_settings_t gort__settings;
/* Parse the environment once (idempotent, thread-safe, allocation-free). */
void gort__settings_init(void);
/* Parse a GORT_DEBUG-style string into gort__settings (exposed for tests);
 * returns the number of problems reported. */
int gort__settings_parse_debug(const char *s);
/* Parse a size with an optional B/KiB/MiB/GiB/TiB suffix (GOMEMLIMIT syntax); -1 if bad. */
int64_t gort__parse_size(const char *s);

#endif
