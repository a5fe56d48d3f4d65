/* Concurrent sweeping: the background sweeper thread, and finishing the sweep
 * before the next cycle.  Spans are also swept lazily by allocating threads
 * (alloc/gcheap.c's central_take) before they are reused.  See "Sweeping" in
 * gc/gc.c.
 *
 * The sweeper runs at a low priority (nice 10): on a machine with few CPUs it
 * takes what the program leaves -- and it yields the CPU every 100 us of
 * sweeping, since a low priority shrinks a thread's share, not its time slice.
 * But the next cycle waits for a sweep in flight, so the coordinator lifts the
 * sweeper to normal priority while it waits (no priority inversion: on a loaded
 * machine a nice-10 thread can be kept off the CPU for long, and the heap would
 * grow past its goal meanwhile).  After a sweep it applies the memory limit
 * (gc/pacer.c), and the allocator's scavenger returns the freed pages to the OS
 * over the next seconds (alloc/scavenge.c). */
#include "gc/internal.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint32_t sweeper_wake;
static pthread_once_t sweeper_once = PTHREAD_ONCE_INIT;
static _Atomic pid_t sweeper_tid;

#define SWEEPER_NICE 10
#define YIELD_NS 100000   /* 100 us */

static void *sweeper_main(void *arg) {
    (void)arg;
    gort__os_thread_name("gort-sweeper");
    pid_t tid = (pid_t)syscall(SYS_gettid);
    /* Low priority only where it can be lifted again (an unprivileged process
     * may not lower a nice value): otherwise stay at the program's own. */
    struct rlimit rl;
    bool can_lift = geteuid() == 0 || (getrlimit(RLIMIT_NICE, &rl) == 0 && rl.rlim_cur >= 20);
    if (can_lift)
        setpriority(PRIO_PROCESS, (id_t)tid, SWEEPER_NICE);
    atomic_store(&sweeper_tid, can_lift ? tid : 0);
    for (;;) {
        uint32_t w = atomic_load(&sweeper_wake);
        int n = 0;
        int64_t t0 = gort__nanotime(), c0 = gort__gc_thread_cpu_ns();
        int k;
        while ((k = gort__gc_sweep_batch()) > 0) {
            gort__gc_wait_world_running();
            /* Every YIELD_NS, let a waiting thread have the CPU: a low nice value
             * makes the share small, not the slice -- a woken sweeper ran 4.3 ms
             * straight while an M (and the goroutine it ran) waited for the
             * CPU (Linux 6.18, EEVDF).  Go's background sweeper yields after
             * each span the same way. */
            n += k;
            int64_t t = gort__nanotime();   /* once a batch (16 spans) */
            if (t - t0 >= YIELD_NS) {
                sched_yield();
                t0 = gort__nanotime();
            }
        }
        gort__gc_release_retired();
        if (n)
            gort__gc_pacer_enforce_limit();
        atomic_fetch_add(&gort__gc_sweep_cpu_ns, (uint64_t)(gort__gc_thread_cpu_ns() - c0));
        if (atomic_load(&sweeper_wake) == w)
            gort__futex_wait(&sweeper_wake, w, -1);
    }
    return NULL;
}

static void sweeper_start(void) {
    if (gort__os_thread_start(sweeper_main, NULL, 0) != 0)
        gort__fatal("gort: gc: cannot start the background sweeper");
}

void gort__gc_sweeper_wake(void) {
    pthread_once(&sweeper_once, sweeper_start);
    atomic_fetch_add(&sweeper_wake, 1);
    gort__futex_wake(&sweeper_wake, 1);
}

/* Sweep whatever is left and wait for sweeps in flight (the coordinator, before
 * sweep termination; gort_gc_collect, before it returns). */
void gort__gc_finish_sweep(void) {
    pid_t boosted = 0;
    for (;;) {
        while (gort__gc_sweep_batch())
            ;
        /* No unswept span is listed; one popped before that check counted itself
         * in gort__gc_sweepers before popping (Go's sweep.active). */
        if (atomic_load(&gort__gc_sweepers) == 0) {
            gort__gc_release_retired();
            if (atomic_load(&gort__gc_sweepers) == 0) {
                if (boosted)
                    setpriority(PRIO_PROCESS, (id_t)boosted, SWEEPER_NICE);
                return;
            }
        }
        pid_t tid = atomic_load(&sweeper_tid);
        if (!boosted && tid && setpriority(PRIO_PROCESS, (id_t)tid, 0) == 0)
            boosted = tid;
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}
