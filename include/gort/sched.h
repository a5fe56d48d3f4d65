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
 * channels (gort/chan.h), locks (gort/sync.h), sleeps and timers (below) and
 * descriptors (gort/net.h) by parking, never by blocking their thread.  A
 * goroutine that must make a blocking system call brackets it with
 * gort_syscall_enter/exit, so that its processor runs other goroutines
 * meanwhile.  A goroutine that runs for more than 10 ms is preempted: at its
 * next call into the runtime, or, if it makes none, by a signal that switches
 * it out when it is in the program's own code (sched/preempt.c).
 *
 * GORT_MAXPROCS sets the number of processors (default: the CPU count);
 * GORT_MAXTHREADS the thread cap (default 10000, Go's); GORT_DEBUG=schedtrace=N
 * prints the scheduler's state every N ms, scheddetail=1 adds a line per
 * processor, thread and goroutine, asyncpreemptoff=1 turns the signal off. */
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

typedef struct gort_chan gort_chan_t;

/* Start the scheduler with GORT_MAXPROCS processors and run fn(arg) as the
 * main goroutine (goroutine 1) on the calling thread's processor.  Returns 0
 * when fn returns; as in Go, other goroutines are not waited for: they are
 * abandoned where they are (their stacks are reclaimed; channels and locks they
 * are blocked on must not be used again).  One exception: a goroutine blocked
 * in a system call (gort_syscall_enter) on the calling thread itself holds
 * that thread, and gort_main returns when the call does.  gort_main may be called again after
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

/* Around a call that may block in the kernel (a read of a file or a pipe, a
 * wait for a child...): between the two, the goroutine keeps its thread but
 * lends its processor, which sysmon hands to another thread after ~20 us if
 * other goroutines are waiting (Go's entersyscall/exitsyscall).  Make no other
 * gort call in between.  gort_syscall_exit returns on a processor again (maybe
 * after waiting for one).  Outside goroutines both do nothing.  A thread is
 * made for each processor handed off while its goroutine is blocked, up to
 * the thread cap: past it, the program dies with "fatal error: thread
 * exhaustion", as Go's. */
GORT_API void gort_syscall_enter(void);
GORT_API void gort_syscall_exit(void);

/* Go's debug.SetMaxThreads: set the thread cap (n >= 1), return the old one. */
GORT_API int gort_set_max_threads(int n);

/* Park the calling goroutine for at least ns nanoseconds (time.Sleep);
 * ns <= 0 returns at once.  Only from a goroutine. */
GORT_API void gort_sleep(int64_t ns);

/* time.After: a channel of int64_t with capacity 1 that receives, once, the
 * monotonic time in ns (CLOCK_MONOTONIC) at which it fired, ns from now.  The
 * caller frees it with gort_chan_free, which cancels it if it has not fired.
 * NULL with errno = ENOMEM. */
GORT_API gort_chan_t *gort_after(int64_t ns);

/* The monotonic clock the timers use (CLOCK_MONOTONIC), in ns. */
GORT_API int64_t gort_nanotime(void);

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
    uint64_t syscalls;      /* gort_syscall_enter calls from goroutines */
    uint64_t handoffs;      /* processors sysmon took from threads in system calls */
    uint64_t preempts;      /* goroutines preempted (cooperatively or by signal) */
    uint64_t async_preempts;/* ... of which by signal, at an arbitrary instruction */
    uint64_t timers_fired;  /* sleeps and gort_after timers that expired */
    uint64_t netpoll_ready; /* goroutines woken by the network poller */
    uint64_t stack_shrunk;  /* bytes of parked goroutines' stacks the collector gave back to the OS */
    int      procs;         /* processors */
    int      goroutines;    /* live goroutines */
} gort_sched_stats_t;
GORT_API void gort_sched_stats(gort_sched_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
