/* The scavenger: returns idle dirty pages to the OS (madvise) so that RSS follows the
 * live heap down after a peak.  A background thread, started the first time the heap
 * holds more idle dirty memory than it should retain; asleep on a futex (no CPU) when
 * there is nothing to do.  gort_release_memory() does the same work at once.
 * See alloc/alloc.c. */
#include "alloc/types.h"

#include <pthread.h>
#include <signal.h>

#define RETAIN_MIN_PAGES 512          /* 4 MiB of idle dirty pages are always kept */
#define SETTLE_NS        (200 * 1000000LL)   /* let short idle periods pass first */

static _Atomic int started;
static _Atomic uint32_t wake;         /* futex word: bumped on each kick */
static _Atomic int pending;

_Atomic uint64_t gort__scavenged_pages;   /* cumulative, for statistics */

/* Idle dirty pages the heap may keep: 10% of the in-use heap, at least 4 MiB
 * (Go's scavenger retains ~10% over its goal). */
static uint64_t retain_pages(void) {
    uint64_t inuse = __atomic_load_n(&gort__heap.inuse_pages, __ATOMIC_RELAXED);
    uint64_t r = inuse / 10;
    return r < RETAIN_MIN_PAGES ? RETAIN_MIN_PAGES : r;
}

static uint64_t dirty_pages(void) {
    return __atomic_load_n(&gort__heap.free_pages, __ATOMIC_RELAXED) -
           __atomic_load_n(&gort__heap.released_pages, __ATOMIC_RELAXED);
}

static void *scavenger_main(void *arg) {
    (void)arg;
    for (;;) {
        uint32_t w = atomic_load(&wake);
        if (!atomic_load(&pending))
            gort__futex_wait(&wake, w, -1);
        atomic_store(&pending, 0);
        gort__futex_wait(&wake, atomic_load(&wake) + 1, SETTLE_NS);   /* a plain sleep */
        uint64_t keep = retain_pages();
        if (dirty_pages() > keep) {
            gort__central_reclaim();
            atomic_fetch_add(&gort__scavenged_pages, gort__pageheap_scavenge(keep));
        }
    }
    return NULL;
}

static void scavenger_start(void) {
    int z = 0;
    if (!atomic_compare_exchange_strong(&started, &z, 1))
        return;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    /* Block every signal in the scavenger: it must never run a program's handler. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    if (pthread_create(&t, &attr, scavenger_main, NULL) != 0)
        atomic_store(&started, 0);   /* try again on a later kick */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

void gort__scavenger_kick(void) {
    if (!gort__settings.scavenge || dirty_pages() <= retain_pages())
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
