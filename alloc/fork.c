/* fork() in a multithreaded process: every allocator lock is taken before the fork
 * (in rank order) and released after it in both processes, so the child never
 * inherits a lock held by a thread that does not exist there.
 *
 * The caches of the threads that did not survive the fork are retired in the child
 * without being touched: such a thread may have been anywhere in its lock-free fast
 * or refill path (a span between two lists, a block between list and bitmap), so
 * its cache cannot be trusted.  Its spans stay owned by the dead cache, which is
 * never reused; blocks the child frees into them take the remote path and are
 * simply not reused — a bounded leak, never corruption (jemalloc and tcmalloc leak
 * dead threads' caches in a child likewise).  See alloc/alloc.c. */
#include "alloc/types.h"

#include "include/gort/internal/fork.h"

static void prefork(void) {
    gort__caches_lock();
    for (unsigned i = 0; i < NUM_CLASSES; i++)
        gort__mutex_lock(&gort__central[i].lock);
    gort__mutex_lock(&gort__heap.lock);
}

static void postfork_parent(void) {
    gort__mutex_unlock(&gort__heap.lock);
    for (unsigned i = NUM_CLASSES; i-- > 0;)
        gort__mutex_unlock(&gort__central[i].lock);
    gort__caches_unlock();
}

static void postfork_child(void) {
    /* Only this thread exists, and it holds every lock: release them as the parent does. */
    gort__mutex_unlock(&gort__heap.lock);
    for (unsigned i = NUM_CLASSES; i-- > 0;)
        gort__mutex_unlock(&gort__central[i].lock);
    gort__caches_unlock();
    gort__scavenger_atfork_child();
    gort__pageheap_atfork_child();
    gort__caches_retire_others(gort__tls_cache);
}

/* rt/env.c refers to this, so that a static link pulls this file in (with its
 * constructor) whenever it links gort at all: nothing else refers to it, and
 * without it a static link ran no allocator handler at fork. */
const char gort__allocfork_linked = 1;

static void meta_prefork(void) { gort__meta_fork_lock(); }
static void meta_postfork(void) { gort__meta_fork_unlock(0); }

__attribute__((constructor)) static void fork_init(void) {
    /* Two hooks: the metadata lock ranks after other modules' locks (the stack pool's),
     * and rt/fork.c runs hooks in rank order. */
    static const struct gort_fork_hook hook = {GORT_RANK_CACHES, prefork, postfork_parent,
                                               postfork_child};
    static const struct gort_fork_hook meta = {GORT_RANK_META, meta_prefork, meta_postfork,
                                               meta_postfork};
    gort__fork_register(&hook);
    gort__fork_register(&meta);
}
