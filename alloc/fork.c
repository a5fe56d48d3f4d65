/* fork() in a multithreaded process: every allocator lock is taken before the fork
 * (in rank order) and released after it in both processes, so the child never
 * inherits a lock held by a thread that does not exist there.  In the child, the
 * caches of the threads that did not survive the fork are flushed (their spans go
 * to central) so their memory is reusable.  See alloc/alloc.c. */
#include "alloc/types.h"

#include <pthread.h>

static void prefork(void) {
    gort__caches_lock();
    for (unsigned i = 0; i < NUM_CLASSES; i++)
        gort__mutex_lock(&gort__central[i].lock);
    gort__mutex_lock(&gort__heap.lock);
    gort__meta_fork_lock();
}

static void postfork_parent(void) {
    gort__meta_fork_unlock(0);
    gort__mutex_unlock(&gort__heap.lock);
    for (unsigned i = NUM_CLASSES; i-- > 0;)
        gort__mutex_unlock(&gort__central[i].lock);
    gort__caches_unlock();
}

static void postfork_child(void) {
    /* Only this thread exists, and it holds every lock: release them as the parent does. */
    gort__meta_fork_unlock(0);
    gort__mutex_unlock(&gort__heap.lock);
    for (unsigned i = NUM_CLASSES; i-- > 0;)
        gort__mutex_unlock(&gort__central[i].lock);
    gort__caches_unlock();
    gort__scavenger_atfork_child();
    /* Flush every cache but ours: their threads are gone. */
    for (;;) {
        gort__caches_lock();
        gort_cache *c = gort__caches;
        while (c && c == gort__tls_cache)
            c = c->all_next;
        gort__caches_unlock();
        if (!c)
            break;
        gort__cache_flush(c);
    }
}

__attribute__((constructor)) static void fork_init(void) {
    pthread_atfork(prefork, postfork_parent, postfork_child);
}
