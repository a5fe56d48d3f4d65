/* The scavenger: returns idle dirty pages to the OS (madvise) so that RSS follows the
 * live heap down after a peak.  A background thread, started the first time the heap
 * holds more idle dirty memory than it should retain; asleep on a futex (no CPU) when
 * there is nothing to do.  gort_release_memory() does the same work at once.
 * See alloc/alloc.c. */
#include "alloc/types.h"

#include <pthread.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GORT_HAVE_VALGRIND 1
#endif
#include <time.h>

#define TICK_NS (1000 * 1000000LL)   /* the scavenger's period while it has work */

static _Atomic int started;
static _Atomic uint32_t wake;         /* futex word: bumped on each kick */
static _Atomic int pending;

_Atomic uint64_t gort__scavenged_pages;   /* cumulative, for statistics */

static void *scavenger_main(void *arg) {
    (void)arg;
    gort__os_thread_name("gort-scavenger");
#ifdef GORT_HAVE_VALGRIND
    /* The scavenger threads freed blocks into free lists (central_reclaim), which
     * memcheck (told about blocks by the preload shim) would report as writes to freed
     * memory: they are the allocator's own, not the program's. */
    VALGRIND_DISABLE_ERROR_REPORTING;
#endif
    for (;;) {
        uint32_t w = atomic_load(&wake);
        if (!atomic_load(&pending))
            gort__futex_wait(&wake, w, -1);   /* asleep: no CPU while there is no work */
        atomic_store(&pending, 0);
        /* Tick about once a second until the in-use window has decayed and nothing
         * is over the retention any more. */
        do {
            struct timespec tick = {TICK_NS / 1000000000, TICK_NS % 1000000000};
            nanosleep(&tick, NULL);
            if (gort__pageheap_over_retain()) {
                gort__central_reclaim();
                atomic_fetch_add(&gort__scavenged_pages,
                                 gort__pageheap_scavenge(GORT_SCAVENGE_RETAIN));
            }
        } while (gort__pageheap_scavenge_tick());
    }
    return NULL;
}

static void scavenger_start(void) {
    int z = 0;
    if (!atomic_compare_exchange_strong(&started, &z, 1))
        return;
    if (gort__os_thread_start(scavenger_main, NULL, 64 * 1024) != 0)
        atomic_store(&started, 0);   /* try again on a later kick */
}

void gort__scavenger_kick(void) {
    /* Called by the page heap when it holds more than 4 MiB of idle dirty pages. */
    if (!gort__settings.scavenge)
        return;
    if (atomic_exchange(&pending, 1))
        return;
    if (!atomic_load(&started))
        scavenger_start();
    atomic_fetch_add(&wake, 1);
    gort__futex_wake(&wake, 1);
}

/* In a forked child the scavenger thread does not exist. */
void gort__scavenger_atfork_child(void) {
    atomic_store(&started, 0);
    atomic_store(&pending, 0);
}

void gort_release_memory(void) {
    /* Give this thread's spans back: empty ones go to the heap at once. */
    gort__cache_release_current();
    gort__central_reclaim();
    atomic_fetch_add(&gort__scavenged_pages, gort__pageheap_scavenge(0));
}
