/* Per-thread caches (Go's mcache, with mimalloc's free-list sharding): refill of the
 * current span per class, the remote-free protocol, and the flush at thread exit.
 * See the design essay in alloc/alloc.c and the span glossary in alloc/types.h. */
#include "alloc/types.h"

#include <pthread.h>
#include <string.h>

mspan gort__empty_span = {.state = SPAN_DEAD};
gort_cache gort__empty_cache = {.alloc = {[0 ... NUM_CLASSES - 1] = &gort__empty_span}};
__thread gort_cache *gort__tls_cache = &gort__empty_cache;

static gort_mutex_t caches_lock = GORT_MUTEX_RANKED(GORT_RANK_CACHES);
gort_cache *gort__caches;
static gort_cache *caches_free;
_Atomic uint64_t gort__retired_nmalloc[NUM_CLASSES];
_Atomic uint64_t gort__retired_nfree[NUM_CLASSES];

void gort__caches_lock(void) { gort__mutex_lock(&caches_lock); }
void gort__caches_unlock(void) { gort__mutex_unlock(&caches_lock); }


/* ---- thread exit -------------------------------------------------------------- */
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void cache_thread_exit(void *arg) {
    gort_cache *c = arg;
    if (gort__tls_cache == c)
        gort__tls_cache = &gort__empty_cache;
    gort__cache_flush(c);
}

static void cache_key_init(void) {
    if (pthread_key_create(&cache_key, cache_thread_exit) != 0)
        gort__fatal("gort: pthread_key_create failed");
}

gort_cache *gort__cache_get(void) {
    gort_cache *c = gort__tls_cache;
    if (GORT_LIKELY(c != &gort__empty_cache))
        return c;
    gort__settings_init();
    gort__caches_lock();
    c = caches_free;
    if (c)
        caches_free = c->free_next;
    gort__caches_unlock();
    if (!c)
        c = gort__meta_alloc(sizeof *c);
    memset(c, 0, sizeof *c);
    for (unsigned i = 0; i < NUM_CLASSES; i++)
        c->alloc[i] = &gort__empty_span;
    gort__caches_lock();
    c->all_next = gort__caches;
    if (gort__caches)
        gort__caches->all_prev = c;
    gort__caches = c;
    gort__caches_unlock();
    gort__tls_cache = c;
    pthread_once(&cache_key_once, cache_key_init);
    pthread_setspecific(cache_key, c);
    return c;
}

/* Flush and retire the calling thread's cache (gort_release_memory); the next
 * allocation creates a fresh one. */
void gort__cache_release_current(void) {
    gort_cache *c = gort__tls_cache;
    if (c == &gort__empty_cache)
        return;
    gort__tls_cache = &gort__empty_cache;
    pthread_setspecific(cache_key, NULL);
    gort__cache_flush(c);
}

/* ---- collecting remote frees -------------------------------------------------- */

/* Move every block other threads freed into s (its xfreebits) to the local free list.
 * Caller owns s (its cache, or central's lock for an abandoned span).  True if any. */
static bool span_collect_bits(mspan *s) {
    bool any = false;
    unsigned nwords = ((unsigned)s->nelems + 63) / 64;
    for (unsigned w = 0; w < nwords; w++) {
        if (!atomic_load_explicit(&s->xfreebits[w], memory_order_relaxed))
            continue;
        uint64_t bits = atomic_exchange_explicit(&s->xfreebits[w], 0, memory_order_acquire);
        any |= bits != 0;
        while (bits) {
            unsigned b = (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            void *p = (void *)(s->base + (uintptr_t)(w * 64 + b) * s->elemsize);
            /* Freed locally too, at the same moment (a double free by two threads
             * racing): caught here rather than threading the block twice. */
            if (GORT_UNLIKELY(!(s->allocbits[w] & ((uint64_t)1 << b)))) {
                gort__bad_free(p, "double free (freed by two threads at once)", s);
                continue;
            }
            BIT_CLEAR(s->allocbits[w], b);
            *(void **)p = s->free;
            s->free = p;
            s->nalloc--;
        }
    }
    return any;
}

void gort__span_collect(mspan *s) {
    span_collect_bits(s);
}

/* Set XF_FULL on s, which has no free object: then the next remote free tells the
 * owner (or central).  A remote free sets its bit, then reads the flags; we set the
 * flag, then look at the bits again (both sequentially consistent), so one of the two
 * sees the other.  False if remote frees arrived meanwhile (the flag is not left set;
 * the caller collects them). */
bool gort__span_mark_full(mspan *s, uintptr_t base_flags) {
    atomic_store(&s->xstate, base_flags | XF_FULL);
    unsigned nwords = ((unsigned)s->nelems + 63) / 64;
    for (unsigned w = 0; w < nwords; w++) {
        if (atomic_load(&s->xfreebits[w])) {
            uintptr_t x = base_flags | XF_FULL;
            /* If a remote freer cleared the flag first, it also queued a notice:
             * harmless, the notice is checked against the span's state. */
            atomic_compare_exchange_strong(&s->xstate, &x, base_flags);
            return false;
        }
    }
    return true;
}

/* Give span s to the heap or to central; caller owns it and has unlinked it. */
static void span_give_up(mspan *s) {
    atomic_store(&s->xstate, XF_ABANDONED);
    span_collect_bits(s);
    if (s->nalloc == 0) {
        span_set_where(s, IN_NONE);
        SPAN_SET_OWNER(s, NULL);
        gort__pageheap_free(s);
        return;
    }
    gort__central_abandon(s);
}

/* Carve up to one OS page worth of never-used objects into the free list. */
static void span_carve(mspan *s) {
    uintptr_t size = s->elemsize;
    uintptr_t n = 4096 / size;
    if (n < 1)
        n = 1;
    uintptr_t avail = (s->limit - s->bump) / size;
    if (n > avail)
        n = avail;
    uintptr_t p = s->bump;
    for (uintptr_t k = 0; k + 1 < n; k++, p += size)
        *(void **)p = (void *)(p + size);
    *(void **)p = s->free;
    s->free = (void *)s->bump;
    s->bump = p + size;
}

static void span_init_small(mspan *s, gort_cache *c, unsigned cls) {
    __atomic_store_n(&s->cls, (uint8_t)cls, __ATOMIC_RELAXED);   /* see gort__central_notify */
    s->elemsize = gort__class_size[cls];
    s->divmul = gort__class_divmul[cls];
    s->nelems = gort__class_nelems[cls];
    s->nalloc = 0;
    s->free = NULL;
    s->bump = s->base;
    s->limit = s->base + (uintptr_t)s->nelems * s->elemsize;
    memset(s->allocbits, 0, sizeof s->allocbits);
    for (unsigned i = 0; i < BITMAP_WORDS; i++)
        atomic_store_explicit(&s->xfreebits[i], 0, memory_order_relaxed);
    atomic_store_explicit(&s->xstate, 0, memory_order_relaxed);
    atomic_store_explicit(&s->xqueued, 0, memory_order_relaxed);
    s->xnext = NULL;
    SPAN_SET_OWNER(s, c);
    span_set_where(s, IN_CURRENT);
}

/* Ensure s (c's current span) has a free object; false if it is exhausted, in which
 * case it has been moved to c's full list. */
static bool span_replenish(gort_cache *c, mspan *s) {
    for (;;) {
        if (s->free)
            return true;
        if (s->bump < s->limit) {
            span_carve(s);
            return true;
        }
        if (span_collect_bits(s))
            continue;
        /* Nothing free anywhere: flag it full, so the next remote free tells us. */
        if (!gort__span_mark_full(s, 0))
            continue;
        span_set_where(s, IN_FULL);
        gort__span_list_push(&c->full[s->cls], s);
        return false;
    }
}

void *gort__cache_refill(gort_cache *c, unsigned cls) {
    if (c == &gort__empty_cache)
        c = gort__cache_get();
    if (atomic_load_explicit(&c->delayed, memory_order_relaxed))
        gort__cache_drain_delayed(c);
    mspan *s = c->alloc[cls];
    if (s == &gort__empty_span || !span_replenish(c, s)) {
        c->alloc[cls] = &gort__empty_span;
        for (;;) {
            s = c->partial[cls].head;
            if (s) {
                gort__span_list_remove(&c->partial[cls], s);
                if (s->nalloc == 0)
                    c->nempty[cls]--;
                span_set_where(s, IN_CURRENT);
            } else if ((s = gort__central_adopt(c, cls)) == NULL) {
                s = gort__pageheap_alloc(gort__class_npages[cls], 1, SPAN_SMALL, false);
                if (!s)
                    return NULL;
                span_init_small(s, c, cls);
            }
            if (span_replenish(c, s))
                break;
        }
        c->alloc[cls] = s;
    }
    void *p = s->free;
    s->free = *(void **)p;
    s->nalloc++;
    uint32_t i = span_index(s, (uintptr_t)p);
    BIT_SET(s->allocbits[i >> 6], i & 63);
    STAT_INC(c->nmalloc[cls]);
    return p;
}

/* Put span s, just adopted by c (its remote frees collected), on c's lists. */
void gort__cache_take_span(gort_cache *c, mspan *s) {
    unsigned cls = s->cls;
    if (!s->free && s->bump >= s->limit) {
        if (gort__span_mark_full(s, 0)) {
            span_set_where(s, IN_FULL);
            gort__span_list_push(&c->full[cls], s);
            return;
        }
        span_collect_bits(s);
    }
    span_set_where(s, IN_PARTIAL);
    gort__span_list_push(&c->partial[cls], s);
    if (s->nalloc == 0)
        c->nempty[cls]++;
}

/* A local free made s empty (nalloc == 0) or landed in a full span. */
void gort__cache_free_local_slow(gort_cache *c, mspan *s) {
    unsigned cls = s->cls;
    if (s->where == IN_FULL) {
        /* Hysteresis: a full span goes back to the partial list only once an eighth
         * of it is free (span_set_where), so that a span does not ping-pong between
         * the lists (two atomic flag flips and four list edits) per object. */
        gort__span_list_remove(&c->full[cls], s);
        /* Remote frees need not tell us about this span any more. */
        uintptr_t x = atomic_load(&s->xstate);
        while ((x & XF_FULL) && !atomic_compare_exchange_weak(&s->xstate, &x, x & ~XF_FULL))
            ;
        span_set_where(s, IN_PARTIAL);
        gort__span_list_push(&c->partial[cls], s);
    }
    if (s->nalloc == 0 && s->where == IN_PARTIAL) {
        /* Keep a few empty spans per class to absorb alloc/free waves (enough for 64
         * objects, at most 1 MiB); more go back to the page heap. */
        unsigned span_bytes = gort__class_npages[cls] * (unsigned)PAGE_SIZE;
        unsigned keep = (64 + s->nelems - 1) / s->nelems;
        if (keep > (1u << 20) / span_bytes)
            keep = (1u << 20) / span_bytes;
        if (++c->nempty[cls] > keep) {
            c->nempty[cls]--;
            gort__span_list_remove(&c->partial[cls], s);
            span_set_where(s, IN_NONE);
            span_give_up(s);
        }
    }
}

/* Process the spans other threads queued on c's delayed list: each had been full
 * when one of them freed a block into it, so it goes back to the partial list (its
 * remote frees are collected when it becomes current).  A notice can be stale — the
 * span changed hands or lists since — so each is checked against the span's state. */
static void drain_list(gort_cache *c, uintptr_t h) {
    for (mspan *s = (mspan *)h, *next; s; s = next) {
        next = s->xnext;
        atomic_store(&s->xqueued, 0);   /* before looking: a later notice queues again */
        /* Owner first: only a span of ours has fields we may read plainly. */
        if (SPAN_OWNER(s) == c && s->where == IN_FULL) {
            unsigned cls = s->cls;
            gort__span_list_remove(&c->full[cls], s);
            span_set_where(s, IN_PARTIAL);
            gort__span_list_push(&c->partial[cls], s);
        }
    }
}

void gort__cache_drain_delayed(gort_cache *c) {
    uintptr_t h = atomic_load(&c->delayed);
    if (h == CACHE_CLOSED || h == 0)
        return;
    h = atomic_exchange(&c->delayed, 0);
    if (h == CACHE_CLOSED) {   /* cannot happen while c is live; keep it closed */
        atomic_store(&c->delayed, CACHE_CLOSED);
        return;
    }
    drain_list(c, h);
}

/* Queue s on owner c's delayed list, once; false if c is closed (exiting, or dead
 * after a fork): then the owner's flush, which collects every span, covers it. */
static bool push_delayed(gort_cache *c, mspan *s) {
    if (atomic_exchange(&s->xqueued, 1))
        return true;   /* already queued: that notice covers this free too */
    uintptr_t h = atomic_load_explicit(&c->delayed, memory_order_relaxed);
    do {
        if (h == CACHE_CLOSED) {
            atomic_store(&s->xqueued, 0);
            return false;
        }
        s->xnext = (mspan *)h;
    } while (!atomic_compare_exchange_weak_explicit(&c->delayed, &h, (uintptr_t)s,
                                                    memory_order_release, memory_order_relaxed));
    return true;
}

/* A remote free found XF_FULL on s (its bit is already set in xfreebits): clear the
 * flag and tell whoever holds the span that it has room again. */
void gort__free_remote_notify(mspan *s, unsigned cls) {
    uintptr_t x = atomic_load(&s->xstate);
    while (x & XF_FULL) {
        gort_cache *owner = SPAN_OWNER(s);
        if (atomic_compare_exchange_weak(&s->xstate, &x, x & ~XF_FULL)) {
            if (x & XF_ABANDONED)
                gort__central_notify(s, cls);
            else if (owner)
                push_delayed(owner, s);
            return;
        }
    }
}

/* In a fork child: retire every cache but `keep` without touching its spans (their
 * threads died at an unknown point; see alloc/fork.c).  Their counters are folded
 * into the retired totals; the structs are never reused. */
void gort__caches_retire_others(gort_cache *keep) {
    gort__caches_lock();
    gort_cache *c = gort__caches, *next;
    gort__caches = NULL;
    for (; c; c = next) {
        next = c->all_next;
        c->all_next = c->all_prev = NULL;
        if (c == keep) {
            c->all_next = gort__caches;
            gort__caches = c;
            continue;
        }
        atomic_store(&c->delayed, CACHE_CLOSED);
        for (unsigned cls = 0; cls < NUM_CLASSES; cls++) {
            atomic_fetch_add(&gort__retired_nmalloc[cls], c->nmalloc[cls]);
            atomic_fetch_add(&gort__retired_nfree[cls], c->nfree[cls]);
        }
        atomic_fetch_add(&gort__retired_large_bytes, c->large_bytes);
        atomic_fetch_add(&gort__retired_large_total, c->large_total);
    }
    gort__caches_unlock();
}

/* Give every span away and retire c (thread exit, or gort_release_memory). */
void gort__cache_flush(gort_cache *c) {
    /* Close the delayed list first: late deliveries then go to the spans directly.
     * What was queued before is ours to drain.  (Reopening the list to drain it
     * let a late delivery in between: it was found there after the drain.) */
    uintptr_t h = atomic_exchange(&c->delayed, CACHE_CLOSED);
    if (h != CACHE_CLOSED && h)
        drain_list(c, h);
    for (unsigned cls = 1; cls < NUM_CLASSES; cls++) {
        mspan *s = c->alloc[cls];
        c->alloc[cls] = &gort__empty_span;
        if (s != &gort__empty_span) {
            span_set_where(s, IN_NONE);
            span_give_up(s);
        }
        c->nempty[cls] = 0;
        span_list *lists[2] = {&c->partial[cls], &c->full[cls]};
        for (int k = 0; k < 2; k++) {
            while ((s = lists[k]->head) != NULL) {
                gort__span_list_remove(lists[k], s);
                span_set_where(s, IN_NONE);
                span_give_up(s);
            }
        }
    }
    for (unsigned n = 0; n <= LARGE_CACHE_PAGES; n++) {
        while (c->large[n]) {
            mspan *s = c->large[n];
            c->large[n] = s->next;
            s->next = NULL;
            gort__pageheap_free(s);
        }
    }
    c->large_cached = 0;
    /* Fold the counters into the retired totals and unlink, atomically for readers
     * of the statistics (who hold the caches lock). */
    gort__caches_lock();
    for (unsigned cls = 0; cls < NUM_CLASSES; cls++) {
        atomic_fetch_add(&gort__retired_nmalloc[cls], c->nmalloc[cls]);
        atomic_fetch_add(&gort__retired_nfree[cls], c->nfree[cls]);
        STAT_ADD(c->nmalloc[cls], -c->nmalloc[cls]);
        STAT_ADD(c->nfree[cls], -c->nfree[cls]);
    }
    atomic_fetch_add(&gort__retired_large_bytes, c->large_bytes);
    atomic_fetch_add(&gort__retired_large_total, c->large_total);
    STAT_ADD(c->large_bytes, -c->large_bytes);
    STAT_ADD(c->large_total, -c->large_total);
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        gort__caches = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    c->all_next = c->all_prev = NULL;
    c->free_next = caches_free;
    caches_free = c;
    gort__caches_unlock();
}
