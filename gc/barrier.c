/* The write barrier: Go's hybrid barrier (Yuasa's deletion barrier shading the old
 * value, Dijkstra's insertion barrier shading the new one), buffered per P.  See
 * "The write barrier" in gc/gc.c.
 *
 * The store is a release store (a plain one on x86-64): a thread that loads the
 * pointer with acquire sees the object as its writer left it.
 *
 * gort_gc_store(slot, ptr) reads the phase and stores so that no stop falls
 * between the two (see "The store while no mark runs" below): while no mark
 * runs, that is the whole cost -- a test of the phase and the store.  While
 * one runs, the old and the new value, if they fall inside the GC heap's bounds,
 * are appended to the P's buffer; a full buffer is greyed by its own thread (Go's
 * wbBufFlush) after the store, in chunks (flush_chunked), and the collector greys
 * the rest at the ragged barrier and at mark termination, with the thread parked. */
#include "gc/internal.h"

#include <string.h>

#if !defined(GORT_ASAN) && !defined(GORT_TSAN)   /* sanitizers: the C path, checked */
#if defined(__x86_64__)
#include "gc/barrier_x86_64.h"
#elif defined(__aarch64__)
#include "gc/barrier_aarch64.h"
#endif
#endif

/* The new value needs shading only while the storing thread's stack is grey
 * (the hybrid barrier as Go's proposal states it: "shade(ptr) if current stack
 * is grey").  Once its stack is scanned, a thread holds only pointers to objects
 * that are black (allocated during the mark), or that it loaded from the heap, a
 * global or a registered range after the scan: those were reachable at the start
 * of the mark through a slot the deletion half watches, so they are marked
 * through that slot, or shaded when it is overwritten.  A goroutine's stack is
 * the same, with two more ways in, both shaded: what a channel copies into it
 * during a mark (gort__gc_shade_words), and its start argument (gort_go).  Go
 * shades both values always, its compiled barrier having no cheap way to know
 * its stack's colour; here the colour is the scan cycle t->gscan points at: a
 * plain thread's scanned_cycle, written by the collector with the thread
 * stopped (gc/gc.c), or the running goroutine's scancycle, which changes only
 * while the goroutine is off the CPU or by its own M (sched/gcscan.c), and
 * which the switch points at inside its critical section.  An M on its own
 * stack (g0) has NULL there and shades both.
 * Pause-stress: buffer entries per update 8 -> 3 (the new values stored are
 * mostly new objects, the old ones old), and at 1 GiB live the mutator's MMU
 * at 10 ms went from 0.40-0.47 to 0.64-0.75 (2 runs each); GCBench's CPU
 * time -10% and its cycles 62-65 -> 53-55 (5 runs each), binary-trees' -5%. */
GC_NOSAN GORT_INLINE bool stack_black(const gc_thread *t) {
    const uint32_t *c = t->gscan;
    return c && __atomic_load_n(c, __ATOMIC_RELAXED) ==
                    atomic_load_explicit(&gort__gc_cycle, memory_order_relaxed);
}

/* Returns whether the buffer is full (flushed by the caller, after the section). */
GC_NOSAN static bool store_marking(gc_thread *t, void **slot, void *ptr) {
    gc_p *p = t->p;
    uintptr_t old = (uintptr_t)__atomic_load_n(slot, __ATOMIC_RELAXED);
    uintptr_t lo = __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED);
    uintptr_t n = __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED);
    if (GC_MAYBE_HEAP(old, lo, n))
        p->wb[p->wbn++] = old;
    if (GC_MAYBE_HEAP(ptr, lo, n) && !stack_black(t))
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

/* The store while no mark runs.  The phase read and the store must not be split
 * by a stop: one that started a mark between them would let the store skip the
 * barrier.  Go's compiler puts no safe point between the two.  Here a stop is a
 * signal that may land anywhere, so the two are either a critical section (a
 * stop that lands there waits for its end: two thread-local writes and a test
 * on every store) or, where the architecture's file provides it, a restartable
 * sequence (the kernel's rseq): a stop that lands inside it rewinds the thread
 * to the phase read (gort__gc_wb_rewind, from the stop's signal handler), and
 * the store costs the phase test alone.  A thread in a critical section is not
 * stopped inside the sequence at all (its stop is deferred to the section's
 * end), so the rewind concerns only a stop that parks the thread in its
 * handler. */
_Atomic uint64_t gort__gc_wb_rewinds;

#ifdef GC_WB_RESTARTABLE
extern const char gort__wb_rs_start[] __attribute__((visibility("hidden")));
extern const char gort__wb_rs_commit[] __attribute__((visibility("hidden")));

void gort__gc_wb_rewind(void *uc) {
    uintptr_t pc = gort__uc_pc(uc);
    if (pc >= (uintptr_t)gort__wb_rs_start && pc <= (uintptr_t)gort__wb_rs_commit) {
        gort__uc_set_pc(uc, (uintptr_t)gort__wb_rs_start);   /* at the store: it has not run */
        atomic_fetch_add_explicit(&gort__gc_wb_rewinds, 1, memory_order_relaxed);
    }
}
#else
void gort__gc_wb_rewind(void *uc) {
    (void)uc;
}
#endif

int gort__gc_wb_restartable(void) {
#ifdef GC_WB_RESTARTABLE
    return 1;
#else
    return 0;
#endif
}

/* Not inlined, not cloned: the restartable sequence exists once (its labels). */
#if defined(GC_WB_RESTARTABLE) && defined(__clang__)
__attribute__((noinline))
#elif defined(GC_WB_RESTARTABLE)
__attribute__((noinline, noclone))
#endif
void gort_gc_store(void **slot, void *ptr) {
    gc_thread *t = gort__gc_self;
    if (GORT_UNLIKELY(t == NULL)) {
        store_unregistered(slot, ptr);
        return;
    }
#ifdef GC_WB_RESTARTABLE
    GC_WB_STORE_OFF(slot, ptr, marking);
    return;
marking:
#endif
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
