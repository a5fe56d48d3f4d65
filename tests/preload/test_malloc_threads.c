/* Threads on libgort_malloc.so:
 *   1. 10 000 short-lived threads, up to 64 alive at a time, each freeing the blocks
 *      the previous threads left in a shared mailbox (cross-thread frees into spans
 *      whose owner has exited) and leaving blocks of its own, checked by content;
 *   2. 10 000 threads alive at once, each allocating before a barrier and freeing a
 *      neighbour's block after it (10 000 live thread caches);
 *   3. frees and mallocs after the thread's gort cache was flushed: a pthread key
 *      created after gort's runs its destructor later, and C11 thread exit runs
 *      glibc's own frees after every destructor.
 * At the end every block is freed, so gort's statistics must show no live object
 * that the test made. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload/preload.h"

#define TOTAL     10000
#define WINDOW    64
#define MAILBOX   256
#define PER       8

static pthread_mutex_t mbox_lock = PTHREAD_MUTEX_INITIALIZER;
static struct block { unsigned char *p; size_t n; unsigned tag; } mbox[MAILBOX];

static size_t size_for(unsigned tag, int k) {
    unsigned h = tag * 2654435761u + (unsigned)k * 40503u;
    switch (h % 13) {
    case 0: return 40000 + h % 100000;   /* large */
    case 1: return 2000 + h % 20000;
    default: return 1 + h % 700;
    }
}

static void fill(struct block *b) {
    for (size_t i = 0; i < b->n; i += 61)
        b->p[i] = (unsigned char)(b->tag + i);
}

static void verify_free(struct block *b) {
    if (!b->p)
        return;
    for (size_t i = 0; i < b->n; i += 61)
        if (b->p[i] != (unsigned char)(b->tag + i)) {
            fprintf(stderr, "block of thread %u corrupted at %zu\n", b->tag, i);
            abort();
        }
    free(b->p);
    b->p = NULL;
}

static void *short_lived(void *arg) {
    unsigned tag = (unsigned)(uintptr_t)arg;
    struct block mine[PER];
    for (int k = 0; k < PER; k++) {
        mine[k].n = size_for(tag, k);
        mine[k].p = malloc(mine[k].n);
        mine[k].tag = tag;
        if (!mine[k].p)
            abort();
        fill(&mine[k]);
    }
    /* Swap ours into the mailbox; free what was there (others' blocks). */
    pthread_mutex_lock(&mbox_lock);
    for (int k = 0; k < PER; k++) {
        struct block *slot = &mbox[(tag * PER + (unsigned)k * 31) % MAILBOX];
        struct block old = *slot;
        *slot = mine[k];
        mine[k] = old;
    }
    pthread_mutex_unlock(&mbox_lock);
    for (int k = 0; k < PER; k++)
        verify_free(&mine[k]);
    return NULL;
}

/* ---- phase 2: all alive at once -------------------------------------------------- */
static pthread_barrier_t all_here;
static void *_Atomic held[TOTAL];

static void *alive(void *arg) {
    unsigned i = (unsigned)(uintptr_t)arg;
    char *p = malloc(24 + i % 200);
    if (!p)
        abort();
    memset(p, (int)(i & 0xff), 24);
    atomic_store(&held[i], p);
    pthread_barrier_wait(&all_here);
    /* Free the neighbour's block: a cross-thread free into a live cache's span. */
    char *q = atomic_exchange(&held[(i + 1) % TOTAL], NULL);
    if ((unsigned char)q[0] != (((i + 1) % TOTAL) & 0xff))
        abort();
    free(q);
    return NULL;
}

/* ---- phase 3: after the cache is gone ---------------------------------------------- */
static pthread_key_t late_key;
static _Atomic int late_ran;

static void late_destructor(void *v) {
    free(v);                    /* a block of this thread, after gort's flush */
    void *p = malloc(100);      /* and a new cache, flushed on the next round */
    memset(p, 1, 100);
    free(p);
    atomic_fetch_add(&late_ran, 1);
}

static void *late_thread(void *arg) {
    (void)arg;
    void *p = malloc(64);
    pthread_setspecific(late_key, p);
    char *s = strdup(strerror(EINVAL));   /* glibc per-thread state, freed at exit */
    free(s);
    return NULL;
}

int main(void) {
    preload_require_gort();
    gort_alloc_stats_t before, after;
    preload_stats(&before);

    /* Phase 1. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t win[WINDOW];
    int started = 0;
    for (unsigned t = 0; t < TOTAL; t++) {
        if (started == WINDOW) {
            pthread_join(win[t % WINDOW], NULL);
            started--;
        }
        if (pthread_create(&win[t % WINDOW], &attr, short_lived, (void *)(uintptr_t)(t + 1)) != 0) {
            perror("pthread_create");
            return 1;
        }
        started++;
    }
    for (unsigned t = TOTAL; t < TOTAL + WINDOW; t++)
        pthread_join(win[t % WINDOW], NULL);
    for (int i = 0; i < MAILBOX; i++)
        verify_free(&mbox[i]);
    printf("threads: %d short-lived threads freeing each other's blocks: ok\n", TOTAL);

    /* Phase 2. */
    pthread_attr_setstacksize(&attr, 16 * 1024 + 4096 * 4);
    static pthread_t all[TOTAL];
    pthread_barrier_init(&all_here, NULL, TOTAL);
    for (unsigned i = 0; i < TOTAL; i++) {
        int e = pthread_create(&all[i], &attr, alive, (void *)(uintptr_t)i);
        if (e != 0) {
            fprintf(stderr, "pthread_create #%u: %s\n", i, strerror(e));
            return 1;
        }
    }
    for (unsigned i = 0; i < TOTAL; i++)
        pthread_join(all[i], NULL);
    pthread_barrier_destroy(&all_here);
    printf("threads: %d threads alive at once: ok\n", TOTAL);

    /* Phase 3. */
    void *warm = malloc(8);   /* gort's key exists before ours */
    free(warm);
    pthread_key_create(&late_key, late_destructor);
    for (int r = 0; r < 100; r++) {
        pthread_t t;
        pthread_create(&t, NULL, late_thread, NULL);
        pthread_join(t, NULL);
    }
    if (atomic_load(&late_ran) != 100)
        return 1;
    printf("threads: frees and mallocs after the cache's destructor: ok\n");
    pthread_attr_destroy(&attr);

    preload_stats(&after);
    /* Everything the test allocated was freed.  glibc keeps the DTV (a gort block) of
     * every thread stack it caches for reuse: up to 40 MiB of stacks, ~1200 of the
     * 32 KiB ones of phase 2.  A leak of the test's own blocks would be ~10 000+. */
    long long grew = (long long)after.heap_objects - (long long)before.heap_objects;
    printf("threads: live objects %+lld, thread caches %llu\n", grew,
           (unsigned long long)after.num_caches);
    if (grew > 2000) {
        fprintf(stderr, "threads: %lld objects leaked\n", grew);
        return 1;
    }
    return 0;
}
