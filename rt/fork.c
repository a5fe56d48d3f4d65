/* fork() handlers of every module in one place, run in lock-rank order.
 *
 * pthread_atfork runs prepare handlers in the reverse order of registration, which
 * is the order constructors happened to run in: two modules registering their own
 * handlers would take their locks in an order nobody chose, and the lock-rank
 * checker (rightly) objects.  So modules register here, each with the lowest rank
 * it takes; prepare runs in increasing rank, the parent and child handlers in
 * decreasing rank, and pthread_atfork is called once. */
#include "include/gort/internal/fork.h"
#include "include/gort/internal/rt.h"

#include <pthread.h>

enum { MAX_HOOKS = 16 };
static struct gort_fork_hook hooks[MAX_HOOKS];
static int nhooks;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void prepare(void) {
    for (int i = 0; i < nhooks; i++)
        if (hooks[i].prepare)
            hooks[i].prepare();
}

static void parent(void) {
    for (int i = nhooks; i-- > 0;)
        if (hooks[i].parent)
            hooks[i].parent();
}

static void child(void) {
    for (int i = nhooks; i-- > 0;)
        if (hooks[i].child)
            hooks[i].child();
}

static void register_once(void) {
    pthread_atfork(prepare, parent, child);
}

/* Called from constructors, before any thread can fork; not thread-safe. */
void gort__fork_register(const struct gort_fork_hook *h) {
    pthread_once(&once, register_once);
    if (nhooks == MAX_HOOKS)
        gort__fatal("gort: too many fork hooks");
    int i = nhooks++;
    while (i > 0 && hooks[i - 1].rank > h->rank) {
        hooks[i] = hooks[i - 1];
        i--;
    }
    hooks[i] = *h;
}
