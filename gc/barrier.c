/* The write barrier: Go's hybrid barrier (Yuasa's deletion barrier shading the old
 * value, Dijkstra's insertion barrier shading the new one), buffered per P.  See
 * "The write barrier" in gc/gc.c.
 *
 * gort_gc_store(slot, ptr) runs as a critical section, so the phase it reads
 * cannot change before its store lands: a thread is never stopped between the
 * check and the store (the one window a compiler-inserted barrier closes by having
 * no safe point there).  While no mark runs, that is the whole cost: the section's
 * two thread-local stores and one load, a load of the phase, and the store.  While
 * one runs, the old and the new value, if they fall inside the GC heap's bounds,
 * are appended to the P's buffer; a full buffer is greyed by its own thread (Go's
 * wbBufFlush), and the collector greys the rest at the ragged barrier and at mark
 * termination, with the thread parked. */
#include "gc/internal.h"

GC_NOSAN static void store_marking(gc_thread *t, void **slot, void *ptr) {
    gc_p *p = &t->p;
    uintptr_t old = (uintptr_t)__atomic_load_n(slot, __ATOMIC_RELAXED);
    uintptr_t lo = __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED);
    uintptr_t n = __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED);
    if (GC_MAYBE_HEAP(old, lo, n))
        p->wb[p->wbn++] = old;
    if (GC_MAYBE_HEAP(ptr, lo, n))
        p->wb[p->wbn++] = (uintptr_t)ptr;
    if (GORT_UNLIKELY(p->wbn > WBUF_LEN - 2)) {
        gort__gc_flush_wbuf(p, &p->gcw);
        gort__gc_gcw_dispose(&p->gcw);
    }
    *slot = ptr;
}

void gort_gc_store(void **slot, void *ptr) {
    gc_thread *t = gc_self();
    if (GORT_UNLIKELY(!t)) {
        gort__fatal("gort: gc: gort_gc_store: cannot register the calling thread");
    }
    crit_enter(t);
    if (GORT_LIKELY(atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) == GC_OFF))
        *slot = ptr;
    else
        store_marking(t, slot, ptr);
    crit_exit(t);
}
