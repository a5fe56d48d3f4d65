/* gort/sched.h — goroutines: many of them on a few OS threads.
 *
 *   static void hello(void *arg) { printf("goroutine %llu says %s\n",
 *                                         (unsigned long long)gort_goid(), (char *)arg); }
 *   static void main_g(void *arg) {
 *       gort_go(hello, "hi");          // spawn; runs on one of GORT_MAXPROCS processors
 *       gort_yield();                  // let it run (runtime.Gosched)
 *   }
 *   int main(void) { return gort_main(main_g, NULL); }
 *
 * Go's G-M-P scheduler (sched/sched.c explains it): goroutines block in
 * channels (gort/chan.h) and locks (gort/sync.h) by parking, never by blocking
 * their thread.  A goroutine that blocks in a system call blocks its processor
 * (syscall hand-off comes with a later issue), and a goroutine that loops
 * without blocking or yielding keeps its processor (no forced preemption yet).
 *
 * GORT_MAXPROCS sets the number of processors (default: the CPU count);
 * GORT_DEBUG=schedtrace=N prints the scheduler's state every N ms, and
 * scheddetail=1 adds a line per processor, thread and goroutine. */
#ifndef GORT_SCHED_H
#define GORT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Start the scheduler with GORT_MAXPROCS processors and run fn(arg) as the
 * main goroutine (goroutine 1) on the calling thread's processor.  Returns 0
 * when fn returns; as in Go, other goroutines are not waited for: they are
 * abandoned where they are (their stacks are reclaimed; channels and locks they
 * are blocked on must not be used again).  gort_main may be called again after
 * it returns.  -1 with errno = EBUSY if the scheduler is already running (in
 * this thread or another), ENOMEM if it cannot start. */
GORT_API int gort_main(void (*fn)(void *), void *arg);

/* Spawn a goroutine running fn(arg); it runs before older runnable goroutines
 * of this processor (newest first: see sched/sched.c, "Order").  Only from a
 * goroutine.  0, or -1 with errno = ENOMEM. */
GORT_API int gort_go(void (*fn)(void *), void *arg);

/* runtime.Gosched: let the other runnable goroutines run; this one runs again
 * after them.  Returns at once when nothing else is runnable. */
GORT_API void gort_yield(void);

/* The calling goroutine's id (1 for the main goroutine), 0 outside goroutines. */
GORT_API uint64_t gort_goid(void);

/* Goroutines that exist (running, runnable or blocked). */
GORT_API int gort_num_goroutine(void);

/* The number of processors (GOMAXPROCS) of the running scheduler, or the
 * number gort_main would start. */
GORT_API int gort_maxprocs(void);

/* Scheduler counters, summed over processors (exact; read while running they
 * are a consistent-enough snapshot, as Go's runtime metrics). */
typedef struct gort_sched_stats {
    uint64_t spawned;       /* goroutines created */
    uint64_t exited;        /* goroutines finished */
    uint64_t switches;      /* goroutine executions started by the schedulers */
    uint64_t parks;         /* goroutines blocked (channel, select, lock) */
    uint64_t yields;        /* gort_yield calls that let another goroutine run */
    uint64_t steals;        /* successful steals (each moved >= 1 goroutine) */
    uint64_t stolen;        /* goroutines moved by steals */
    uint64_t global_puts;   /* goroutines put on the global run queue */
    uint64_t global_gets;   /* goroutines taken from it */
    uint64_t mparks;        /* times a thread went to sleep for want of work */
    uint64_t threads;       /* OS threads created for the scheduler */
    int      procs;         /* processors */
    int      goroutines;    /* live goroutines */
} gort_sched_stats_t;
GORT_API void gort_sched_stats(gort_sched_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
