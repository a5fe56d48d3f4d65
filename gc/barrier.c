/* The write barrier: Go's hybrid barrier (Yuasa's deletion barrier shading the old
 * value, Dijkstra's insertion barrier shading the new one), buffered per P.  See
 * "The write barrier" in gc/gc.c.
 *
 * The store is a release store (a plain one on x86-64): a thread that loads the
 * pointer with acquire sees the object as its writer left it.
 *
 * gort_gc_store(slot, ptr) runs as a critical section, so the phase it reads
 * cannot change before its store lands: a thread is never stopped between the
 * check and the store (the one window a compiler-inserted barrier closes by having
 * no safe point there).  While no mark runs, that is the whole cost: the section's
 * two thread-local stores and one load, a load of the phase, and the store.  While
 * one runs, the old and the new value, if they fall inside the GC heap's bounds,
 * are appended to the P's buffer; a full buffer is greyed by its own thread (Go's
 * wbBufFlush) after the store, in chunks (flush_chunked), and the collector greys
 * the rest at the ragged barrier and at mark termination, with the thread parked. */
#include "gc/internal.h"

#include <string.h>

/* Returns whether the buffer is full (flushed by the caller, after the section). */
GC_NOSAN static bool store_marking(gc_thread *t, void **slot, void *ptr) {
    gc_p *p = t->p;
    uintptr_t old = (uintptr_t)__atomic_load_n(slot, __ATOMIC_RELAXED);
    uintptr_t lo = __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED);
    uintptr_t n = __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED);
    if (GC_MAYBE_HEAP(old, lo, n))
        p->wb[p->wbn++] = old;
    if (GC_MAYBE_HEAP(ptr, lo, n))
        p->wb[p->wbn++] = (uintptr_t)ptr;
    __atomic_store_n(slot, ptr, __ATOMIC_RELEASE);
    return GORT_UNLIKELY(p->wbn > WBUF_LEN - 2);
}

/* A full buffer is greyed a chunk at a time, each chunk its own critical section:
 * a stop never waits for more than one chunk (greying a whole buffer in one section
 * had made some stops wait ~0.1 ms).  Between chunks the collector may stop the
 * thread and grey the rest itself (the ragged barrier, mark termination), or the
 * mark may end: each chunk rereads the count and the phase.  A chunk is one
 * batch of gort__gc_shade_batch (its misses overlapped). */

GORT_NOINLINE static void flush_chunked(gc_thread *t) {
    gc_p *p = t->p;
    for (;;) {
        crit_enter(t);
        if (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) != GC_MARK) {
            crit_exit(t);
            return;   /* the mark ended: termination greyed or dropped the rest */
        }
        uint32_t n = p->wbn;
        if (n == 0) {
            gort__gc_gcw_dispose(&p->gcw);
            crit_exit(t);
            return;
        }
        uint32_t k = n < SHADE_BATCH ? n : SHADE_BATCH;
        gort__gc_shade_batch(&p->gcw, p->wb + n - k, k);
        p->wbn = n - k;
        crit_exit(t);
    }
}

/* Out of line, so that the stores that need neither save no registers: a
 * full buffer (entered inside the store's critical section), and a thread not
 * registered yet. */
GORT_NOINLINE static void store_full(gc_thread *t) {
    crit_exit(t);
    flush_chunked(t);
    gort__gc_scrub_stack(t, 2048);   /* alloc/gcheap.c: what its frames held */
}

GORT_NOINLINE static void store_unregistered(void **slot, void *ptr) {
    gc_thread *t = gc_self();
    if (GORT_UNLIKELY(!t))
        gort__fatal("gort: gc: gort_gc_store: cannot register the calling thread");
    gort_gc_store(slot, ptr);
}

void gort_gc_store(void **slot, void *ptr) {
    gc_thread *t = gort__gc_self;
    if (GORT_UNLIKELY(t == NULL)) {
        store_unregistered(slot, ptr);
        return;
    }
    crit_enter(t);
    if (GORT_LIKELY(atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) == GC_OFF)) {
        __atomic_store_n(slot, ptr, __ATOMIC_RELEASE);
    } else if (GORT_UNLIKELY(store_marking(t, slot, ptr))) {
        store_full(t);
        return;
    }
    crit_exit(t);
}

/* ---- copies the scheduler makes (channel elements, goroutine arguments) ----------------
 * Values a channel carries are opaque bytes: during a mark, every word of what was
 * copied that falls inside the GC heap's bounds is shaded (Go's sendDirect and
 * typedmemmove barriers, done conservatively; the copy itself is sched/chan.c's).
 * So a pointer moved from a stack not yet scanned into one already scanned (or into
 * a channel buffer already scanned) is never lost. */
GC_NOSAN static void shade_words_p(gc_p *p, const void *src, size_t n) {
    uintptr_t lo = __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED);
    uintptr_t an = __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED);
    const char *b = (const char *)GORT_ROUND_UP((uintptr_t)src, sizeof(uintptr_t));
    const char *e = (const char *)src + n;
    bool direct = false;
    for (; b + sizeof(uintptr_t) <= e; b += sizeof(uintptr_t)) {
        uintptr_t v = __atomic_load_n((const uintptr_t *)(const void *)b, __ATOMIC_RELAXED);
        if (!GC_MAYBE_HEAP(v, lo, an))
            continue;
        if (p->wbn < WBUF_LEN) {
            p->wb[p->wbn++] = v;
        } else {
            gort__gc_shade(&p->gcw, v);
            direct = true;
        }
    }
    if (direct)
        gort__gc_gcw_dispose(&p->gcw);
}

void gort__gc_shade_words(const void *src, size_t n) {
    gc_thread *t = gort__gc_self;
    if (!t)
        return;
    crit_enter(t);
    bool full = false;
    if (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) == GC_MARK) {
        shade_words_p(t->p, src, n);
        full = t->p->wbn > WBUF_LEN - 2;
    }
    crit_exit(t);
    if (GORT_UNLIKELY(full)) {
        flush_chunked(t);
        gort__gc_scrub_stack(t, 2048);   /* alloc/gcheap.c: what its frames held */
    }
}
