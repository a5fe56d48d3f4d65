/* gort/sync.h — Go's sync package for goroutines (gort/sched.h): Mutex,
 * RWMutex, WaitGroup, Once, Cond.  All of them park the goroutine, never the
 * thread, and all are usable zeroed or through their static initialisers:
 *
 *   static gort_mutex_t mu = GORT_MUTEX_INIT;
 *   gort_mutex_lock(&mu); ... gort_mutex_unlock(&mu);
 *
 *   gort_waitgroup_t wg = GORT_WAITGROUP_INIT;
 *   gort_wg_add(&wg, n); for (...) gort_go(work, &wg);   // each calls gort_wg_done(&wg)
 *   gort_wg_wait(&wg);
 *
 * The algorithms are Go's (sync/mutex.go: normal and starvation modes;
 * rwmutex.go: writer preference; waitgroup.go; once.go; cond.go over the
 * runtime's notify list), over the runtime's semaphores (sched/sema.c).
 * Misuse is a fatal error as in Go: unlocking an unlocked mutex, a negative
 * WaitGroup counter.  Only from goroutines; do not copy one after first use.
 * Fields are the implementation's. */
#ifndef GORT_SYNC_H
#define GORT_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_mutex {
    int32_t  state;        /* locked, woken, starving bits and the waiter count */
    uint32_t sema;
} gort_mutex_t;
#define GORT_MUTEX_INIT {0, 0}
GORT_API void gort_mutex_lock(gort_mutex_t *m);
GORT_API bool gort_mutex_trylock(gort_mutex_t *m);
GORT_API void gort_mutex_unlock(gort_mutex_t *m);

typedef struct gort_rwmutex {
    gort_mutex_t w;        /* held by a pending writer */
    uint32_t writer_sem;   /* writers wait here for readers to finish */
    uint32_t reader_sem;   /* readers wait here for a writer to finish */
    int32_t  reader_count; /* pending readers (negative: a writer is pending) */
    int32_t  reader_wait;  /* departing readers a writer waits for */
} gort_rwmutex_t;
#define GORT_RWMUTEX_INIT {GORT_MUTEX_INIT, 0, 0, 0, 0}
GORT_API void gort_rwmutex_rlock(gort_rwmutex_t *rw);
GORT_API void gort_rwmutex_runlock(gort_rwmutex_t *rw);
GORT_API void gort_rwmutex_lock(gort_rwmutex_t *rw);
GORT_API void gort_rwmutex_unlock(gort_rwmutex_t *rw);

typedef struct gort_waitgroup {
    uint64_t state;        /* counter in the high 32 bits, waiters in the low 32 */
    uint32_t sema;
} gort_waitgroup_t;
#define GORT_WAITGROUP_INIT {0, 0}
GORT_API void gort_wg_add(gort_waitgroup_t *wg, int delta);
GORT_API void gort_wg_done(gort_waitgroup_t *wg);
GORT_API void gort_wg_wait(gort_waitgroup_t *wg);

typedef struct gort_once {
    uint32_t     done;
    gort_mutex_t m;
} gort_once_t;
#define GORT_ONCE_INIT {0, GORT_MUTEX_INIT}
/* Call fn(arg) if and only if no call on o has yet; every caller returns after
 * that one call has returned. */
GORT_API void gort_once(gort_once_t *o, void (*fn)(void *), void *arg);

typedef struct gort_cond {
    uint32_t wait;         /* next ticket to hand a waiter */
    uint32_t notify;       /* next ticket to wake */
    void    *head, *tail;  /* parked waiters (the runtime's notify list) */
} gort_cond_t;
#define GORT_COND_INIT {0, 0, 0, 0}
/* Unlock m, park until signalled, lock m again (Go's Cond.Wait with L = m). */
GORT_API void gort_cond_wait(gort_cond_t *c, gort_mutex_t *m);
GORT_API void gort_cond_signal(gort_cond_t *c);
GORT_API void gort_cond_broadcast(gort_cond_t *c);

#ifdef __cplusplus
}
#endif
#endif
