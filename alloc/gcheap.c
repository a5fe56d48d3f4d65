/* The allocator side of garbage-collected objects: GC span classes, their bitmaps,
 * allocation from a P's cached span, the GC central lists, large GC objects, and
 * the sweep of one span.  The collector's design essay is at the top of gc/gc.c;
 * the span glossary is alloc/types.h.
 *
 * A GC span is an ordinary span of the page heap in state SPAN_GCSMALL (objects of
 * one size class), SPAN_GCLARGE (one object) or SPAN_GCHUGE (one object in a
 * reservation of its own).  Its span class is kind * GC_NCLASSES + GC size class,
 * the kind being NOSCAN, CONS (scanned conservatively) or TYPED (scanned by each
 * object's pointer mask); class 0 stands for large objects.  The GC size classes
 * are malloc's and a 24-byte one (gc/internal.h, GC_CLASS24).  It carries two
 * bitmaps, as Go's spans do:
 *
 *   gcallocbits  bit i set: object i was allocated when the span was last swept.
 *                Objects allocated since are those below gcfreeindex, so
 *                "allocated" = i < gcfreeindex || gcallocbits[i]  (Go's isFree).
 *   gcmarkbits   bit i set: object i was marked this cycle (atomic or, by markers
 *                and by allocation while a mark runs: "allocate black").
 *   The two are one block, interleaved word by word (alloc/types.h, GC_BITW):
 *   a marker's allocation-bit miss brings the mark bit along.
 *
 * Allocation (Go's nextFreeFast): gcalloccache holds the free slots (~gcallocbits)
 * of the 64-slot word gcfreeindex is in, from gcfreeindex on and below nelems; the
 * next free slot is a count-trailing-zeros away, and the cache's lowest bit is
 * cleared as it is taken.  No free list is threaded
 * through the objects, so sweeping never writes into dead objects.
 *
 * Sweeping swaps the bitmaps: the mark bits become the allocation bits, the old
 * allocation bits are cleared and become the next cycle's mark bits; gcfreeindex
 * returns to 0.  A span with nothing marked goes back to the page heap.
 *
 * sweepgen (Go's protocol), with sg = gort__gc_sweepgen:
 *   gcsweepgen == sg - 2   the span needs sweeping
 *   gcsweepgen == sg - 1   it is being swept
 *   gcsweepgen == sg       it is swept
 * Spans not cached by a P sit in gort__gc_central[spc]: partial[] (free slots) or
 * full[], each indexed by (gcsweepgen / 2) % 2 — so when sg grows by 2 at mark
 * termination, every swept list becomes an unswept list without touching a span.
 *
 * Locks: every GC span operation by a mutator runs inside a critical section
 * (gc/internal.h), so it takes only GC locks (central, bits) and never gort_malloc's;
 * pages come from the page heap outside the critical section, and spans emptied
 * by a mutator's lazy sweep are handed back after it. */
#include "gc/internal.h"

#include <errno.h>
#include <string.h>

gc_central gort__gc_central[GC_NSPC] = {
    [0 ... GC_NSPC - 1] = {.lock = GORT_MUTEX_RANKED(GORT_RANK_GC_CENTRAL)},
};
_Atomic uint64_t gort__gc_heap_live;
_Atomic uint64_t gort__gc_total_alloc;
_Atomic int64_t  gort__gc_sweepers;
_Atomic uint64_t gort__gc_nspans;
static _Atomic int64_t unswept;            /* spans left to sweep this cycle */
static _Atomic uint32_t sweep_cursor;      /* where sweep_one and gort__gc_sweep_batch look first */

const char *gort__gc_kind_name(int kind) {
    static const char *names[] = {"noscan", "conservative", "typed"};
    return kind >= 0 && kind < GC_NKINDS ? names[kind] : "?";
}

/* ---- GC size classes -----------------------------------------------------------------
 * malloc's table, and GC_CLASS24: 24-byte objects in one page (341 of them, 8 bytes
 * left over), divmul = ceil(2^32 / 24) (tests/gc/test_api.c checks every offset). */
enum { CLASS24_SIZE = 24, CLASS24_NELEMS = PAGE_SIZE / CLASS24_SIZE };
#define CLASS24_DIVMUL ((uint32_t)((((uint64_t)1 << 32) + CLASS24_SIZE - 1) / CLASS24_SIZE))

/* malloc's size_to_class8 with GC_CLASS24 for 17..24 bytes, and 0 bytes as 1: one
 * load for every size up to SMALL_MAX (gort__gc_classes_init, before any thread
 * is registered). */
static uint8_t gc_class8[SMALL_MAX / SMALL_DIV + 1];

void gort__gc_classes_init(void) {
    for (unsigned i = 0; i <= SMALL_MAX / SMALL_DIV; i++)
        gc_class8[i] = gort__size_to_class8[i ? i : 1];
    gc_class8[(CLASS24_SIZE + SMALL_DIV - 1) / SMALL_DIV] = GC_CLASS24;
}

/* The class of n bytes (0 <= n <= MAX_SMALL). */
GORT_INLINE unsigned gc_size_to_class(size_t n) {
    if (GORT_LIKELY(n <= SMALL_MAX))
        return gc_class8[(n + SMALL_DIV - 1) / SMALL_DIV];
    return size_to_class(n);
}
GORT_INLINE uint32_t gc_class_size(unsigned cls) {
    return cls == GC_CLASS24 ? CLASS24_SIZE : gort__class_size[cls];
}
GORT_INLINE uint32_t gc_class_divmul(unsigned cls) {
    return cls == GC_CLASS24 ? CLASS24_DIVMUL : gort__class_divmul[cls];
}
GORT_INLINE uint16_t gc_class_nelems(unsigned cls) {
    return cls == GC_CLASS24 ? CLASS24_NELEMS : gort__class_nelems[cls];
}
GORT_INLINE unsigned gc_class_npages(unsigned cls) {
    return cls == GC_CLASS24 ? 1 : gort__class_npages[cls];
}

/* ---- bitmap blocks ------------------------------------------------------------------
 * One block per span: [alloc bits W][mark bits W][check bits W, with gccheckmark]
 * [type pointers, typed small spans].  Its size is a function of the span class, so
 * free blocks are kept per class.  Memory comes straight from mmap (never from the
 * metadata slabs, whose lock a stopped thread may hold). */
static gort_mutex_t bits_lock = GORT_MUTEX_RANKED(GORT_RANK_LEAF);
static void *bits_free[GC_NSPC];
static gort_bump_t bits_chunk;   /* bits_lock */

static size_t bits_words(unsigned spc) {
    unsigned cls = spc % GC_NCLASSES, kind = spc / GC_NCLASSES;
    size_t nel = cls ? gc_class_nelems(cls) : 1;
    size_t w = (nel + 63) / 64;
    size_t words = w * (gort__settings.gccheckmark ? 3 : 2);
    if (kind == GC_TYPED && cls)
        words += nel;
    return words;
}

static uint64_t *bits_get(unsigned spc) {
    /* Whole lines, line aligned: the alloc and mark bits of a span of up to
     * 256 objects share one line (a marker reads both), and no two spans'
     * bitmaps share one (markers set bits while owners allocate). */
    size_t bytes = GORT_ROUND_UP(bits_words(spc) * 8, GORT_CACHELINE);
    gort__mutex_lock(&bits_lock);
    void *b = bits_free[spc];
    if (b) {
        bits_free[spc] = *(void **)b;
    } else {
        b = gort__bump_take(&bits_chunk, bytes, (size_t)1 << 20);
        if (!b)
            gort__fatal("gort: out of memory for GC bitmaps");
    }
    gort__mutex_unlock(&bits_lock);
    memset(b, 0, bytes);
    return b;
}

static void bits_put(unsigned spc, uint64_t *b) {
    gort__mutex_lock(&bits_lock);
    *(void **)b = bits_free[spc];
    bits_free[spc] = b;
    gort__mutex_unlock(&bits_lock);
}

static unsigned span_spc(const mspan *s) {
    return (unsigned)s->gckind * GC_NCLASSES + (s->state == SPAN_GCSMALL ? s->cls : 0);
}

#ifdef GORT_DEBUG_CHECKS
/* Where a GC span is (s->where, unused otherwise by GC spans): IN_NONE (owned by
 * whoever popped it), IN_CENTRAL_PARTIAL (a central list) or IN_CURRENT (a P's). */
static void span_moves(mspan *s, enum span_where from, enum span_where to, const char *what) {
    if (s->where != from)
        gort__fatal("gort: gc: span %p (class %u) %s: it is at %u, expected %u (sweepgen %u, heap's %u)",
                    (void *)s, span_spc(s), what, s->where, from, atomic_load(&s->gcsweepgen),
                    atomic_load(&gort__gc_sweepgen));
    span_set_where(s, to);
}
#define SPAN_MOVES(s, from, to, what) span_moves(s, from, to, what)
#else
#define SPAN_MOVES(s, from, to, what) ((void)0)
#endif

/* The block's start is whichever of the two bitmaps is at the lower address. */
static uint64_t *bits_block(const mspan *s) {
    return s->gcallocbits < s->gcmarkbits ? s->gcallocbits : s->gcmarkbits;
}

uintptr_t gort__gc_arena_lo, gort__gc_arena_n;   /* bounds_lock; read racily */
static gort_mutex_t bounds_lock = GORT_MUTEX_RANKED(GORT_RANK_LEAF);

static void note_bounds(uintptr_t lo, uintptr_t hi) {
    uintptr_t a = lo >> ARENA_SHIFT, b = (hi - 1) >> ARENA_SHIFT;
    uintptr_t cl = __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED);
    uintptr_t cn = __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED);
    if (cn && a >= cl && b < cl + cn)
        return;
    gort__mutex_lock(&bounds_lock);
    cl = gort__gc_arena_lo;
    cn = gort__gc_arena_n;
    uintptr_t nlo = cn && cl < a ? cl : a;
    uintptr_t nhi = cn && cl + cn - 1 > b ? cl + cn - 1 : b;
    /* Widen n first, then move lo: a racing reader sees a range that is too wide
     * (harmless: span_of decides), never one that misses a span. */
    __atomic_store_n(&gort__gc_arena_n, nhi - nlo + 1 + (cl > nlo ? cl - nlo : 0), __ATOMIC_RELAXED);
    __atomic_store_n(&gort__gc_arena_lo, nlo, __ATOMIC_RELAXED);
    __atomic_store_n(&gort__gc_arena_n, nhi - nlo + 1, __ATOMIC_RELAXED);
    gort__mutex_unlock(&bounds_lock);
}

/* Make s (fresh, zeroed pages, already in its GC state: the page heap set it under
 * its lock) a GC span of class spc.  Markers ignore it until gcallocbits is
 * published, last.  Critical section: the sweepgen read here cannot change before
 * s is published. */
static void span_init_gc(mspan *s, unsigned spc) {
    unsigned cls = spc % GC_NCLASSES;
    SPAN_SET_OWNER(s, NULL);
    s->cls = (uint8_t)cls;
    s->gckind = (uint8_t)(spc / GC_NCLASSES);
    if (cls) {
        s->elemsize = gc_class_size(cls);
        s->divmul = gc_class_divmul(cls);
        s->nelems = gc_class_nelems(cls);
    } else {
        s->elemsize = s->npages * PAGE_SIZE > UINT32_MAX ? 0 : (uint32_t)(s->npages * PAGE_SIZE);
        s->divmul = 0;
        s->nelems = 1;
    }
    size_t w = ((size_t)s->nelems + 63) / 64;
    uint64_t *b = bits_get(spc);
    s->gcbitwords = (uint8_t)w;
    s->gcmarkbits = b + 1;   /* interleaved with the allocation bits (GC_BITW) */
    s->gccheckbits = gort__settings.gccheckmark ? b + 2 * w : NULL;
    s->gctypes = (s->gckind == GC_TYPED && cls) ? (const gort_gc_type_t **)(b + w * (gort__settings.gccheckmark ? 3 : 2)) : NULL;
    s->gctype = NULL;
    s->gcspecials = NULL;
    s->gcobjsize = 0;
    s->gcalloccache = 0;   /* next_free_index loads it */
    atomic_store_explicit(&s->gcfreeindex, 0, memory_order_relaxed);
    atomic_store_explicit(&s->gcblackfrom, 0, memory_order_relaxed);
    s->gcnalloc = 0;
    s->gczero = cls && s->needzero ? (uint16_t)s->elemsize : 0;   /* pages not zeroed (refill) */
    s->gcqueued = 0;
    atomic_store_explicit(&s->gcsweepgen, atomic_load(&gort__gc_sweepgen), memory_order_relaxed);
    s->next = s->prev = NULL;
    s->where = IN_NONE;
    note_bounds(s->base, s->base + s->npages * PAGE_SIZE);
    atomic_fetch_add_explicit(&gort__gc_nspans, 1, memory_order_relaxed);
    __atomic_store_n(&s->gcallocbits, b, __ATOMIC_RELEASE);
}

/* Spans whose objects are all dead, waiting to go back to the page heap.  Only the
 * collector's own threads (never stopped, never while a mark runs) release them:
 * a mutator that empties a span while sweeping lazily just lists it. */
static gort_mutex_t retired_lock = GORT_MUTEX_RANKED(GORT_RANK_LEAF);
static mspan *retired;

unsigned gort__gc_heap_locks(gort_mutex_t **out) {
    unsigned n = 0;
    for (unsigned i = 0; i < GC_NSPC; i++)
        out[n++] = &gort__gc_central[i].lock;
    out[n++] = &bits_lock;
    out[n++] = &bounds_lock;
    out[n++] = &retired_lock;
    return n;
}

/* A mutator that sweeps (inside a critical section) keeps the spans it empties
 * here and releases them right after the section, still counted as a sweeper (so
 * no mark can start before they are gone). */
static __thread mspan *my_retired;
static __thread int my_sweeping;   /* this thread counts in gort__gc_sweepers */

static void retire(mspan *s) {
    SPAN_MOVES(s, IN_NONE, IN_NONE, "retired");
    if (my_sweeping) {
        s->next = my_retired;
        my_retired = s;
        return;
    }
    gort__mutex_lock(&retired_lock);
    s->next = retired;
    retired = s;
    gort__mutex_unlock(&retired_lock);
}

/* Back to the page heap.  The state changes under the heap lock (the page heap
 * reads its neighbours' states under it), and the bitmaps are recycled: no marker
 * runs now (sweeps and releases are counted in gort__gc_sweepers, and a mark only
 * starts when that is zero). */
static void span_release(mspan *s) {
    unsigned spc = span_spc(s);
    uint64_t *b = bits_block(s);
    bool huge = s->state == SPAN_GCHUGE;
    gort__mutex_lock(&gort__heap.lock);
    __atomic_store_n(&s->state, (uint8_t)(huge ? SPAN_HUGE : SPAN_LARGE), __ATOMIC_RELEASE);
    __atomic_store_n(&s->gcallocbits, NULL, __ATOMIC_RELAXED);
    s->gcmarkbits = s->gccheckbits = NULL;
    s->gctypes = NULL;
    s->gctype = NULL;
    bool kick = false;
    if (huge) {
        gort__heap.sys_pages -= s->npages;
        gort__heap.inuse_pages -= s->npages;
        gort__arena_set_spans(s->base, s->npages, NULL);
        gort__arena_release_huge(s->base, s->npages * PAGE_SIZE);
    } else {
        gort__pageheap_free_locked(s);
        kick = gort__heap.free_pages - gort__heap.released_pages > 512;
    }
    gort__mutex_unlock(&gort__heap.lock);
    if (huge)
        gort__span_dispose(s);
    if (kick)
        gort__scavenger_kick();
    bits_put(spc, b);
    atomic_fetch_sub_explicit(&gort__gc_nspans, 1, memory_order_relaxed);
}

/* After a mutator's critical section: give back what it swept empty, then stop
 * counting as a sweeper.  Returns the pages released. */
static void release_mine(void *arg) {
    uintptr_t *pages = arg;
    while (my_retired) {
        mspan *s = my_retired;
        my_retired = s->next;
        s->next = NULL;
        *pages += s->npages;
        span_release(s);
    }
}

static uintptr_t mutator_sweep_done(void) {
    uintptr_t pages = 0;
    if (my_retired) {
        gc_thread *t = gort__gc_self;
        if (t)
            gort__gc_blocking(t, release_mine, &pages);
        else
            release_mine(&pages);
    }
    if (my_sweeping) {
        my_sweeping = 0;
        atomic_fetch_sub(&gort__gc_sweepers, 1);
    }
    return pages;
}

static bool mutator_sweep_begin(void) {
    if (atomic_load_explicit(&unswept, memory_order_relaxed) <= 0)
        return false;
    if (!my_sweeping) {
        my_sweeping = 1;
        atomic_fetch_add(&gort__gc_sweepers, 1);
    }
    return true;
}

/* Release every retired span (the sweeper, the coordinator). */
void gort__gc_release_retired(void) {
    atomic_fetch_add(&gort__gc_sweepers, 1);
    gort__mutex_lock(&retired_lock);
    mspan *l = retired;
    retired = NULL;
    gort__mutex_unlock(&retired_lock);
    while (l) {
        mspan *s = l;
        l = s->next;
        s->next = NULL;
        span_release(s);
    }
    atomic_fetch_sub(&gort__gc_sweepers, 1);
}

/* ---- central lists ---------------------------------------------------------------- */
static span_list *list_for(gc_central *c, const mspan *s, bool full) {
    unsigned i = (atomic_load_explicit(&s->gcsweepgen, memory_order_relaxed) / 2) % 2;
    return full ? &c->full[i] : &c->partial[i];
}

/* ---- the page heap, from a mutator -----------------------------------------------------
 * A mutator calls the page heap (whose lock any thread may hold) as a blocked
 * thread (gort__gc_blocking): the collector then takes it without a signal, so a
 * thread waiting for the heap lock never has to answer one.  (Under TSan a signal
 * reaches a thread only at an interceptor, never inside gort's futex wait.)
 *
 * Zeroing.  A run of pages the heap had used before holds old data.  A span of
 * a small class of at most FAST_ZERO_MAX bytes takes it as it is, and each
 * object is zeroed as it is handed out (gczero, as after a sweep that freed
 * some of a span's objects; Go's needzero): in line in the fast path, on a
 * line the program is about to write anyway.  Zeroing the whole run at once
 * (8 KiB for most classes) was a second pass over it, and the locked
 * instruction that leaves the blocking region waited for all its stores:
 * binary-trees with goroutines, P=1, had 15% of its samples in that path.
 * No object is read before it is zeroed: a free slot is never scanned, and the
 * zeroing is in the allocation's critical section, before any stop can scan the
 * thread.  Larger classes and large objects still get zeroed runs. */
#define FAST_ZERO_MAX 128u
typedef struct heap_call {
    uintptr_t npages;
    int state;
    bool zero;
    mspan *span;
} heap_call;

/* A small span's pages are written here, one word each, as the page heap hands
 * them over.  Pages fresh from the OS (or released by the scavenger) are not
 * mapped yet, and the first access to a new object is often a read: the write
 * barrier loads the old value of the slot it stores to.  A read maps the shared
 * zero page and the store after it faults again, copying the page and flushing
 * the TLB of every CPU the process runs on (an interprocessor interrupt each, a
 * VM exit on a virtual machine): on two CPUs that second fault was a fifth of
 * binary-trees' CPU time.  A write first maps the page once, and no other CPU
 * has it in its TLB.  (Zeroed or fresh, the pages read as zero: writing zero
 * changes nothing else.)  Large objects are left to be faulted as they are
 * used: one may be a sparse array never touched in full.  A run handed over
 * unzeroed (needzero) was in use before and is mapped; the stores would only be
 * cache misses, which the locked instruction leaving the blocking region waits
 * for (8% of binary-trees' samples at P=1).  Its released pages, if any, fault
 * as before. */
#define PREFAULT_MAX_PAGES 16

static void heap_alloc_fn(void *arg) {
    heap_call *c = arg;
    mspan *s = gort__pageheap_alloc(c->npages, 1, c->state, c->zero);
    if (s && !s->needzero && c->npages <= PREFAULT_MAX_PAGES)
        for (uintptr_t off = 0; off < c->npages * PAGE_SIZE; off += gort__os_page_size())
            *(volatile uintptr_t *)(s->base + off) = 0;
    c->span = s;
}

static mspan *heap_alloc(gc_thread *t, uintptr_t npages, int state, bool zero) {
    heap_call c = {npages, state, zero, NULL};
    gort__gc_blocking(t, heap_alloc_fn, &c);
    return c.span;
}

static _Atomic uint32_t *count_for(gc_central *c, span_list *l) {
    if (l == &c->partial[0]) return &c->n[0];
    if (l == &c->partial[1]) return &c->n[1];
    if (l == &c->full[0]) return &c->n[2];
    return &c->n[3];
}

/* List s centrally: at the head of its list, or at the tail (back) when a
 * refill's sweep should reach it last (see uncache). */
static void central_push_at(unsigned spc, mspan *s, bool back) {
    gc_central *c = &gort__gc_central[spc];
#ifdef GORT_DEBUG_CHECKS
    uint32_t sg = atomic_load(&gort__gc_sweepgen), g = atomic_load(&s->gcsweepgen);
    if (g != sg && g != sg - 2)
        gort__fatal("gort: gc: span %p (class %u) listed with sweepgen %u, heap's %u", (void *)s, spc, g, sg);
#endif
    SPAN_MOVES(s, IN_NONE, IN_CENTRAL_PARTIAL, "listed centrally");
    gort__mutex_lock(&c->lock);
    span_list *l = list_for(c, s, s->gcnalloc == s->nelems);
    if (back)
        gort__span_list_push_back(l, s);
    else
        gort__span_list_push(l, s);
    atomic_store_explicit(count_for(c, l), l->n, memory_order_relaxed);
    gort__mutex_unlock(&c->lock);
}

static void central_push(unsigned spc, mspan *s) {
    central_push_at(spc, s, false);
}

static mspan *central_pop(unsigned spc, bool full, bool swept) {
    gc_central *c = &gort__gc_central[spc];
    uint32_t sg = atomic_load(&gort__gc_sweepgen);
    unsigned i = ((swept ? sg : sg - 2) / 2) % 2;
    span_list *l = full ? &c->full[i] : &c->partial[i];
    _Atomic uint32_t *cnt = count_for(c, l);
    if (!atomic_load_explicit(cnt, memory_order_relaxed))
        return NULL;
    gort__mutex_lock(&c->lock);
    mspan *s = l->head;
    if (s) {
        gort__span_list_remove(l, s);
        SPAN_MOVES(s, IN_CENTRAL_PARTIAL, IN_NONE, "taken from a central list");
    }
    atomic_store_explicit(cnt, l->n, memory_order_relaxed);
    gort__mutex_unlock(&c->lock);
    if (s) {
        uint32_t g = atomic_load_explicit(&s->gcsweepgen, memory_order_relaxed);
        if (g != (swept ? sg : sg - 2))
            gort__fatal("gort: gc: span %p (class %u) on the %s list has sweepgen %u, heap's %u",
                        (void *)s, spc, swept ? "swept" : "unswept", g, sg);
    }
    return s;
}

/* Up to max unswept spans of class spc, partial ones first, in one acquisition
 * of its lock (the background sweeper's batches, below; one at a time for an
 * allocating thread's lazy sweep, central_take). */
static unsigned central_pop_unswept(unsigned spc, mspan **out, unsigned max) {
    gc_central *c = &gort__gc_central[spc];
    uint32_t sg = atomic_load(&gort__gc_sweepgen);
    unsigned i = ((sg - 2) / 2) % 2, n = 0;
    span_list *ls[2] = {&c->partial[i], &c->full[i]};
    if (!atomic_load_explicit(count_for(c, ls[0]), memory_order_relaxed) &&
        !atomic_load_explicit(count_for(c, ls[1]), memory_order_relaxed))
        return 0;
    gort__mutex_lock(&c->lock);
    for (int k = 0; k < 2; k++) {
        span_list *l = ls[k];
        while (n < max && l->head) {
            mspan *s = l->head;
            gort__span_list_remove(l, s);
            SPAN_MOVES(s, IN_CENTRAL_PARTIAL, IN_NONE, "taken from a central list");
            out[n++] = s;
        }
        atomic_store_explicit(count_for(c, l), l->n, memory_order_relaxed);
    }
    gort__mutex_unlock(&c->lock);
    for (unsigned k = 0; k < n; k++) {
        uint32_t g = atomic_load_explicit(&out[k]->gcsweepgen, memory_order_relaxed);
        if (g != sg - 2)
            gort__fatal("gort: gc: span %p (class %u) on the unswept list has sweepgen %u, heap's %u",
                        (void *)out[k], spc, g, sg);
    }
    return n;
}

/* Put n swept spans of class spc back, in one acquisition of its lock. */
static void central_push_n(unsigned spc, mspan **sp, unsigned n) {
    if (!n)
        return;
    gc_central *c = &gort__gc_central[spc];
    for (unsigned k = 0; k < n; k++)
        SPAN_MOVES(sp[k], IN_NONE, IN_CENTRAL_PARTIAL, "listed centrally");
    gort__mutex_lock(&c->lock);
    for (unsigned k = 0; k < n; k++) {
        span_list *l = list_for(c, sp[k], sp[k]->gcnalloc == sp[k]->nelems);
        gort__span_list_push(l, sp[k]);
        atomic_store_explicit(count_for(c, l), l->n, memory_order_relaxed);
    }
    gort__mutex_unlock(&c->lock);
}

/* ---- sweeping one span (Go's mspan.sweep) ---------------------------------------------
 * The caller owns s (popped it from an unswept list, or is the STW sweeper) and has
 * set gcsweepgen to sg - 1.  Returns true if s was emptied: it is then on the
 * retired list, no longer the caller's.  With preserve (Go's preserve, for
 * mcentral.cacheSpan) an emptied span stays the caller's, every slot free, to
 * allocate from at once. */
GC_NOSAN static bool sweep_span(mspan *s, bool preserve) {
    uint32_t sg = atomic_load(&gort__gc_sweepgen);
    if (s->gcspecials)
        gort__gc_finalizer_sweep(s);   /* may set mark bits: the finalizer keeps it */
    unsigned w = s->gcbitwords;
    unsigned nel = s->nelems;
    unsigned marked = 0;
    for (unsigned i = 0; i < w; i++) {
        uint64_t m = atomic_load_explicit((_Atomic uint64_t *)&s->gcmarkbits[GC_BITW(i)], memory_order_relaxed);
        if (i == w - 1 && nel % 64)
            m &= ((uint64_t)1 << (nel % 64)) - 1;
        marked += (unsigned)gort__popcount64(m);
    }
    atomic_fetch_sub_explicit(&unswept, 1, memory_order_relaxed);
    if (marked == 0 && !preserve) {
        /* Nothing allocated any more; keep the bitmaps until it is released
         * (both zero: no mark bit is set). */
        memset(bits_block(s), 0, 2 * w * sizeof(uint64_t));
        atomic_store_explicit(&s->gcfreeindex, 0, memory_order_relaxed);
        atomic_store_explicit(&s->gcblackfrom, 0, memory_order_relaxed);
        s->gcnalloc = 0;
        retire(s);
        return true;
    }
    if (marked < s->gcnalloc)
        s->gczero = (uint16_t)s->elemsize;   /* small: at most 32 KiB */
    if (marked == 0 && s->gctype)
        __atomic_store_n(&s->gctype, NULL, __ATOMIC_RELAXED);   /* preserved empty: a span of no type yet */
    uint64_t *a = s->gcallocbits;
    s->gcallocbits = s->gcmarkbits;
    s->gcmarkbits = a;
    for (unsigned i = 0; i < w; i++)
        a[GC_BITW(i)] = 0;
    if (s->gctypes) {
        /* Dead objects' types are cleared so a stale type is never trusted. */
        for (unsigned i = 0; i < nel; i++)
            if (!((s->gcallocbits[GC_BITW(i / 64)] >> (i % 64)) & 1))
                s->gctypes[i] = NULL;
    }
    s->gcnalloc = (uint16_t)marked;
    atomic_store_explicit(&s->gcfreeindex, 0, memory_order_relaxed);
    atomic_store_explicit(&s->gcblackfrom, 0, memory_order_relaxed);
    s->gcalloccache = 0;   /* next_free_index loads it */
    atomic_store_explicit(&s->gcsweepgen, sg, memory_order_release);
    return false;
}

static bool sweep_claim(mspan *s) {
    uint32_t sg = atomic_load(&gort__gc_sweepgen);
    uint32_t want = sg - 2;
    return atomic_compare_exchange_strong(&s->gcsweepgen, &want, sg - 1);
}

/* The collector's threads (never stopped) sweep freely, SWEEP_BATCH spans of one
 * class at a time: a class's central lock is taken once to take them and once to
 * put back those that are not empty, not twice per span.  The background sweeper
 * and an allocating thread refilling from the same class met on that lock at
 * every span: on binary-trees (one class) the sweeper's thread took 530 ms of
 * CPU, and without it the program took 0.8-1 s less CPU in all. */
#define SWEEP_BATCH 16
/* Sweeps up to max (<= SWEEP_BATCH) unswept spans of the next class that has
 * any; returns how many it took, 0 if none is left. */
static int sweep_some(unsigned max) {
    if (atomic_load_explicit(&unswept, memory_order_relaxed) <= 0)
        return 0;
    atomic_fetch_add(&gort__gc_sweepers, 1);
    uint32_t start = atomic_load_explicit(&sweep_cursor, memory_order_relaxed);
    for (uint32_t k = 0; k < GC_NSPC; k++) {
        unsigned spc = (start + k) % GC_NSPC;
        mspan *b[SWEEP_BATCH];
        unsigned n = central_pop_unswept(spc, b, max), kept = 0;
        if (!n)
            continue;
        if (k)
            atomic_store_explicit(&sweep_cursor, spc, memory_order_relaxed);
        for (unsigned i = 0; i < n; i++)
            if (!sweep_claim(b[i]) || !sweep_span(b[i], false))
                b[kept++] = b[i];   /* a failed claim cannot happen: popping gives ownership */
        central_push_n(spc, b, kept);
        atomic_fetch_sub(&gort__gc_sweepers, 1);
        return (int)n;
    }
    atomic_fetch_sub(&gort__gc_sweepers, 1);
    return 0;
}

static int sweep_one(void) {
    return sweep_some(1);
}

int gort__gc_sweep_batch(void) {
    return sweep_some(SWEEP_BATCH);
}

/* A registered thread sweeps inside a critical section. */
int gort__gc_sweep_one_mutator(gc_thread *t) {
    if (!mutator_sweep_begin())
        return 0;
    crit_enter(t);
    int r = sweep_one();
    crit_exit(t);
    mutator_sweep_done();
    return r;
}

/* Before the heap grows by npages: sweep (Go's mheap.reclaim), large spans first,
 * until that many pages came back or a budget is spent.  Outside a critical
 * section; enters one per span.
 *
 * Go's reclaim sweeps only spans with nothing marked (its pageMarks bitmap finds
 * them).  This one cannot tell them apart without sweeping, so it sweeps only
 * when it must and while it pays:
 *   - not when the page heap has a free run of npages: the heap would not grow
 *     (the background sweeper has handed pages back);
 *   - not once this cycle's reclaims have swept RECLAIM_PROBE spans and got
 *     less than a page back for every RECLAIM_PROBE swept: on a dense heap the
 *     heap grows instead, by pages the background sweeper soon hands back.
 * Without these, on pause-stress's heap (256 MiB of live 32-byte nodes) reclaims
 * swept 4,300 spans a cycle on the allocating thread for 17 pages in all, 64
 * spans at a time and one reclaim every few allocations right after mark
 * termination, when every span is unswept: the mutator ran at a fifth of its
 * speed for 10 ms at a time (MMU at 10 ms 0.07-0.24). */
#define RECLAIM_BUDGET 64
#define RECLAIM_PROBE 64
static _Atomic uint64_t reclaim_swept, reclaim_pages;   /* this cycle's */

typedef struct has_run_call {
    uintptr_t npages;
    bool ok;
} has_run_call;

static void has_run_fn(void *arg) {
    has_run_call *c = arg;
    c->ok = gort__pageheap_has_run(c->npages);
}

static void reclaim(gc_thread *t, uintptr_t npages) {
    uint64_t rs = atomic_load_explicit(&reclaim_swept, memory_order_relaxed);
    if (rs >= RECLAIM_PROBE &&
        atomic_load_explicit(&reclaim_pages, memory_order_relaxed) * RECLAIM_PROBE < rs)
        return;
    if (atomic_load_explicit(&unswept, memory_order_relaxed) <= 0)
        return;
    if (npages <= ARENA_PAGES / 2) {   /* (a bigger object gets a reservation of its own) */
        has_run_call hc = {npages, false};
        gort__gc_blocking(t, has_run_fn, &hc);
        if (hc.ok)
            return;
    }
    uintptr_t got = 0;
    int n = 0;
    for (; n < RECLAIM_BUDGET && got < npages; n++) {
        if (!mutator_sweep_begin())
            break;
        crit_enter(t);
        mspan *s = NULL;
        unsigned spc = 0;
        for (unsigned k = 0; k < GC_NKINDS && !s; k++) {
            spc = k * GC_NCLASSES;
            s = central_pop(spc, true, false);
        }
        int any = 1;
        if (s) {
            if (sweep_claim(s) && !sweep_span(s, false))
                central_push(spc, s);
        } else {
            any = sweep_one();
        }
        crit_exit(t);
        got += mutator_sweep_done();
        if (!any)
            break;
    }
    if (n) {
        atomic_fetch_add_explicit(&reclaim_swept, (uint64_t)n, memory_order_relaxed);
        atomic_fetch_add_explicit(&reclaim_pages, got, memory_order_relaxed);
    }
}

bool gort__gc_sweep_done(void) {
    return atomic_load(&unswept) <= 0 && atomic_load(&gort__gc_sweepers) == 0;
}

/* Proportional sweeping (gort__gc_sweep_pace, below). */
static _Atomic uint64_t sweep_bytes_per_span;   /* 0: nothing owed */
static _Atomic uint64_t sweep_basis;            /* gort__gc_heap_live when the sweep began */
static _Atomic int64_t sweep_total;             /* spans to sweep this cycle */

/* At mark termination (STW), after sweepgen += 2: every GC span needs sweeping. */
void gort__gc_sweep_begin(void) {
    atomic_store(&sweep_bytes_per_span, 0);   /* none owed until gort__gc_sweep_pace */
    atomic_store(&unswept, (int64_t)atomic_load(&gort__gc_nspans));
    atomic_store(&sweep_cursor, 0);
    atomic_store(&reclaim_swept, 0);
    atomic_store(&reclaim_pages, 0);
}

/* ---- proportional sweeping (Go's deductSweepCredit) ------------------------------------
 * The next cycle cannot start before this one's sweep is done (sweep termination
 * reuses the mark bits), and the background sweeper, at a low priority, gets
 * little CPU when the program uses all of it.  So an allocating thread sweeps
 * too, in proportion to what it allocates: every sweep_bytes_per_span bytes of
 * heap growth since the sweep began (sweep_basis) owe one span, spread so that
 * the sweep is done a MiB before the heap reaches the next trigger.  Without it,
 * binary-trees with goroutines at P=2 reached its trigger with 4-10 ms of sweep
 * left, the cycle's start waited for it, and the heap grew 8-19 MiB past the
 * trigger -- often past the goal, where assists are no longer capped. */
#define SWEEP_PAY_MAX 32   /* spans per payment (each its own critical section); the rest next time */

void gort__gc_sweep_pace(uint64_t heap_live, uint64_t trigger) {
    int64_t n = atomic_load(&unswept);
    uint64_t dist = trigger > heap_live + (2u << 20) ? trigger - heap_live - (1u << 20) : (1u << 20);
    atomic_store(&sweep_total, n);
    atomic_store(&sweep_basis, heap_live);
    uint64_t bps = n > 0 ? dist / (uint64_t)n : 0;
    atomic_store(&sweep_bytes_per_span, n > 0 && bps == 0 ? 1 : bps);
}

/* Outside a critical section, after an allocation that grew the heap. */
static void pay_sweep(gc_thread *t) {
    uint64_t bps = atomic_load_explicit(&sweep_bytes_per_span, memory_order_relaxed);
    if (!bps)
        return;
    uint64_t live = atomic_load_explicit(&gort__gc_heap_live, memory_order_relaxed);
    uint64_t basis = atomic_load_explicit(&sweep_basis, memory_order_relaxed);
    if (live <= basis)
        return;
    int64_t owed = (int64_t)((live - basis) / bps) -
                   (atomic_load_explicit(&sweep_total, memory_order_relaxed) -
                    atomic_load_explicit(&unswept, memory_order_relaxed));
    for (int k = 0; k < owed && k < SWEEP_PAY_MAX; k++)
        if (!gort__gc_sweep_one_mutator(t))
            break;
}

void gort__gc_sweep_span_stw(void) {
    while (gort__gc_sweep_batch())
        ;
}

/* ---- a P's cached spans ----------------------------------------------------------------
 * Allocate-black in bulk.  While a mark runs, new objects must be marked (Go's
 * gcmarknewobject).  Setting each one's bit as it is allocated costs a locked
 * instruction per object on the hottest path; instead a P marks them when it lets
 * go of the span.  A P allocates a span's free slots in increasing order from
 * gcfreeindex, so the objects it allocated since taking the span are exactly the
 * slots in [gcblackfrom, gcfreeindex) that were free at the last sweep (clear in
 * gcallocbits).  Spans are let go during a mark (refill, thread exit) and, at
 * mark termination with the world stopped, all of them (gort__gc_release_p)
 * before the mark bits are read.  Until then a new object's bit may be clear, so
 * a marker that meets a pointer to an object whose bit is clear asks the span:
 * not allocated at the last sweep and at or above gcblackfrom means free or
 * allocated during this mark -- black -- and nothing to do either way; below it,
 * allocated before the mark (gcblackfrom never passes gcfreeindex), white (mark.c's
 * shade_in).  gcblackfrom moves only when a P takes a span (to its
 * gcfreeindex, where the last holder left it) and when it lets go (to its
 * gcfreeindex, after marking), so a marker that reads it late errs towards
 * greying a new object: extra work, never a miss.
 * Objects a P allocated before the mark began must not be blackened this way: they
 * were written without the barrier, so they must be scanned like any white
 * object.  So at sweep termination, with the world stopped, every span a P holds
 * starts its range afresh (gort__gc_mark_begin_p); p->cached lists the classes a
 * P holds spans of, so that this and the release touch only those. */
GC_NOSAN static void mark_allocated_black(mspan *s, gc_p *p) {
    unsigned from = atomic_load_explicit(&s->gcblackfrom, memory_order_relaxed);
    unsigned to = atomic_load_explicit(&s->gcfreeindex, memory_order_relaxed);
    if (from >= to)
        return;
    unsigned n = 0;
    for (unsigned w = from / 64; w * 64 < to; w++) {
        uint64_t m = ~s->gcallocbits[GC_BITW(w)];
        if (w == from / 64)
            m &= ~(uint64_t)0 << (from % 64);
        if ((w + 1) * 64 > to)
            m &= ((uint64_t)1 << (to % 64)) - 1;
        if (!m)
            continue;
        /* Count only the bits this sets: a marker may have greyed a new object
         * while it read an older gcblackfrom. */
        uint64_t old = atomic_fetch_or_explicit((_Atomic uint64_t *)&s->gcmarkbits[GC_BITW(w)], m, memory_order_relaxed);
        n += (unsigned)gort__popcount64(m & ~old);
    }
    atomic_store_explicit(&s->gcblackfrom, (uint16_t)to, memory_order_release);
    STAT_ADD(p->gcw.bytes_marked, (uint64_t)n * s->elemsize);
    STAT_ADD(p->gcw.bytes_black, (uint64_t)n * s->elemsize);
}

static void uncache(mspan *s, gc_p *p) {
#ifdef GORT_DEBUG_CHECKS
    /* Every P lets go of its spans at each mark termination: a cached span is swept. */
    uint32_t sg = atomic_load(&gort__gc_sweepgen), g = atomic_load(&s->gcsweepgen);
    if (g != sg)
        gort__fatal("gort: gc: span %p (class %u) cached by %p (used by %p) has sweepgen %u, heap's %u",
                    (void *)s, span_spc(s), (void *)p, p->user, g, sg);
#endif
    SPAN_MOVES(s, IN_CURRENT, IN_NONE, "uncached");
    bool black = false;
    if (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) != GC_OFF) {
        black = atomic_load_explicit(&s->gcblackfrom, memory_order_relaxed) < s->nelems / 4;
        mark_allocated_black(s, p);
    } else {   /* an empty range: what was allocated before a mark is white */
        atomic_store_explicit(&s->gcblackfrom, atomic_load_explicit(&s->gcfreeindex, memory_order_relaxed),
                              memory_order_relaxed);
    }
    uint64_t unused = (uint64_t)(s->nelems - s->gcnalloc) * s->elemsize;
    atomic_fetch_sub_explicit(&gort__gc_heap_live, unused, memory_order_relaxed);
    /* Of a span less than a quarter allocated before this mark, the rest of
     * what is allocated is black: the sweep after the mark frees little or
     * none of it.  It goes to the back of its list, so that a refill's sweep
     * (central_take, up to 100 spans) reaches the spans filled before the mark
     * first.  At the head, newest first, the black spans were all a refill
     * swept right after mark termination: it spent its budget on them and grew
     * the heap, every refill for 2-2.5 ms after each mark (binary-trees with
     * goroutines, P=2: the Ps' progress fell to a tenth for that time, 55 ms of
     * refill sweeping in the 3 ms after the marks of a 0.8 s run, 2.7 ms with
     * the black spans at the back; MMU at 10 ms, median of 8 runs,
     * 0.37 -> 0.47). */
    central_push_at(span_spc(s), s, black);
}

void gort__gc_release_p(gc_p *p) {
    for (unsigned w = 0; w < GORT_ARRAY_LEN(p->cached); w++) {
        for (uint64_t m = p->cached[w]; m; m &= m - 1) {
            unsigned spc = w * 64 + (unsigned)__builtin_ctzll(m);
            mspan *s = p->alloc[spc];
            if (s != &gort__empty_span) {
                p->alloc[spc] = &gort__empty_span;
                uncache(s, p);
            }
        }
        p->cached[w] = 0;
    }
}

void gort__gc_mark_begin_p(gc_p *p) {
    for (unsigned w = 0; w < GORT_ARRAY_LEN(p->cached); w++) {
        for (uint64_t m = p->cached[w]; m; m &= m - 1) {
            mspan *s = p->alloc[w * 64 + (unsigned)__builtin_ctzll(m)];
            if (s != &gort__empty_span)
                atomic_store_explicit(&s->gcblackfrom, atomic_load_explicit(&s->gcfreeindex, memory_order_relaxed),
                                      memory_order_relaxed);
        }
    }
}

/* Take a span with a free slot for class spc from central (Go's mcentral.cacheSpan):
 * a swept partial span, else sweep unswept ones (a bounded number), else NULL. */
static mspan *central_take(unsigned spc) {
    mspan *s = central_pop(spc, false, true);
    if (s)
        return s;
    /* Only while spans are left to sweep: counting ourselves a sweeper on every
     * refill would keep sweep termination waiting for ever. */
    if (!mutator_sweep_begin())
        return NULL;
    for (int budget = 0; budget < 100; budget++) {
        if (!central_pop_unswept(spc, &s, 1))
            break;
        if (!sweep_claim(s)) {
            central_push(spc, s);
            continue;
        }
        sweep_span(s, true);   /* preserve: an emptied span is ours to allocate from */
        if (s->gcnalloc < s->nelems)
            return s;
        central_push(spc, s);
    }
    return NULL;
}

/* The free slots of s's 64-slot word w from slot `from` on, below nelems: the
 * allocation cache's contents for that word. */
static uint64_t cache_load(const mspan *s, unsigned w, unsigned from) {
    uint64_t c = ~s->gcallocbits[GC_BITW(w)] & (~(uint64_t)0 << (from % 64));
    unsigned left = s->nelems - w * 64;
    if (left < 64)
        c &= ((uint64_t)1 << left) - 1;
    return c;
}

/* Take the free slot the cache's lowest set bit names, in the word of slot fi
 * (gcfreeindex): a set bit is above every slot taken from the word, so the slot
 * after the last one taken -- gcfreeindex -- is still in it. */
GORT_INLINE unsigned cache_take(mspan *s, uint64_t cache, unsigned fi) {
    unsigned idx = (fi & ~63u) | (unsigned)__builtin_ctzll(cache);
    s->gcalloccache = cache & (cache - 1);
    atomic_store_explicit(&s->gcfreeindex, (uint16_t)(idx + 1), memory_order_relaxed);
    return idx;
}

/* Go's nextFreeIndex: the next free slot of s at or after gcfreeindex, taken, or
 * nelems.  An empty cache may be the word gcfreeindex is in, not loaded yet (a
 * fresh or swept span, or the last slot of the word before was taken), or
 * loaded and used up: loading that word again finds out, and then the search
 * moves on a word at a time (the slots it passes are allocated). */
static unsigned next_free_index(mspan *s) {
    unsigned fi = atomic_load_explicit(&s->gcfreeindex, memory_order_relaxed);
    unsigned nel = s->nelems;
    uint64_t cache = s->gcalloccache;
    while (cache == 0) {
        if (fi >= nel) {
            atomic_store_explicit(&s->gcfreeindex, (uint16_t)nel, memory_order_relaxed);
            return nel;
        }
        cache = cache_load(s, fi / 64, fi);
        if (cache == 0)
            fi = (fi | 63) + 1;
    }
    return cache_take(s, cache, fi);
}

/* Slot idx of s, just taken: count it, note its type, and return its address
 * (the caller zeroes gczero bytes of it).  Inside the critical section. */
GORT_INLINE uintptr_t take_slot(mspan *s, unsigned idx, int kind, const gort_gc_type_t *ty) {
    s->gcnalloc++;
    if (kind == GC_TYPED) {
        s->gctypes[idx] = ty;
        /* The span's one type, until a second comes (both written before the
         * object can be published). */
        if (GORT_UNLIKELY(s->gctype != ty) && s->gctype != &gort__gc_type_mixed)
            __atomic_store_n(&s->gctype, s->gctype ? &gort__gc_type_mixed : ty, __ATOMIC_RELEASE);
    }
    return s->base + (uintptr_t)idx * s->elemsize;
}

/* Replace p's span of class spc with one that has room.  In a critical section;
 * may leave it (and re-enter) to get pages.  Returns the span or NULL (ENOMEM). */
static mspan *refill(gc_thread *t, unsigned spc) {
    gc_p *p = t->p;
    mspan *s = p->alloc[spc];
    if (s != &gort__empty_span) {
        p->alloc[spc] = &gort__empty_span;
        uncache(s, p);
    }
    s = central_take(spc);
    if (!s) {
        unsigned cls = spc % GC_NCLASSES;
        crit_exit(t);
        mutator_sweep_done();
        reclaim(t, gc_class_npages(cls));
        mspan *ns = heap_alloc(t, gc_class_npages(cls), SPAN_GCSMALL, gc_class_size(cls) > FAST_ZERO_MAX);
        crit_enter(t);
        if (!ns)
            return NULL;
        span_init_gc(ns, spc);
        s = ns;
        if (p->alloc[spc] != &gort__empty_span) {   /* cannot happen: only we fill it */
            mspan *o = p->alloc[spc];
            p->alloc[spc] = &gort__empty_span;
            uncache(o, p);
        }
    }
    SPAN_MOVES(s, IN_NONE, IN_CURRENT, "cached");
    p->alloc[spc] = s;
    p->cached[spc / 64] |= (uint64_t)1 << (spc % 64);
    atomic_store_explicit(&s->gcblackfrom, atomic_load_explicit(&s->gcfreeindex, memory_order_relaxed),
                          memory_order_relaxed);
    uint64_t room = (uint64_t)(s->nelems - s->gcnalloc) * s->elemsize;
    uint64_t live = atomic_fetch_add_explicit(&gort__gc_heap_live, room, memory_order_relaxed) + room;
    atomic_fetch_add_explicit(&gort__gc_total_alloc, room, memory_order_relaxed);
    if (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) != GC_OFF)
        p->assist_credit -= (int64_t)room;
    gort__gc_maybe_trigger(live);
    return s;
}

static void *large_alloc(gc_thread *t, size_t n, int kind, const gort_gc_type_t *ty) {
    uintptr_t npages = GORT_ROUND_UP(n, PAGE_SIZE) >> PAGE_SHIFT;
    mspan *s;
    reclaim(t, npages);
    if (npages > ARENA_PAGES / 2) {
        size_t bytes = npages * PAGE_SIZE;
        gort__mutex_lock(&gort__heap.lock);
        uintptr_t base = gort__arena_reserve_huge(bytes, ARENA_SIZE);
        if (!base) {
            gort__mutex_unlock(&gort__heap.lock);
            errno = ENOMEM;
            return NULL;
        }
        gort__heap.sys_pages += npages;
        gort__heap.inuse_pages += npages;
        gort__mutex_unlock(&gort__heap.lock);
        s = gort__span_new(false);
        s->base = base;
        s->npages = npages;
        gort__mutex_lock(&gort__heap.lock);
        s->state = SPAN_GCHUGE;
        gort__arena_set_spans(base, npages, s);
        gort__mutex_unlock(&gort__heap.lock);
    } else {
        s = heap_alloc(t, npages, SPAN_GCLARGE, true);
        if (!s) {
            errno = ENOMEM;
            return NULL;
        }
    }
    crit_enter(t);
    unsigned spc = (unsigned)kind * GC_NCLASSES;
    span_init_gc(s, spc);
    s->gctype = ty;
    s->gcobjsize = n;
    __atomic_store_n(&s->gcallocbits[0], 1, __ATOMIC_RELEASE);
    s->gcnalloc = 1;
    atomic_store_explicit(&s->gcfreeindex, 1, memory_order_relaxed);
    if (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) != GC_OFF) {
        atomic_fetch_or_explicit((_Atomic uint64_t *)&s->gcmarkbits[0], 1, memory_order_relaxed);
        STAT_ADD(t->p->gcw.bytes_marked, npages * PAGE_SIZE);
        STAT_ADD(t->p->gcw.bytes_black, npages * PAGE_SIZE);
    }
    central_push(spc, s);
    uint64_t bytes = npages * PAGE_SIZE;
    uint64_t live = atomic_fetch_add_explicit(&gort__gc_heap_live, bytes, memory_order_relaxed) + bytes;
    atomic_fetch_add_explicit(&gort__gc_total_alloc, bytes, memory_order_relaxed);
    if (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) != GC_OFF)
        t->p->assist_credit -= (int64_t)bytes;
    gort__gc_maybe_trigger(live);
    /* The object's address must be live across the end of the section: a stop
     * there scans this thread, and the span pointer alone keeps nothing alive. */
    void *obj = (void *)s->base;
    crit_exit(t);
    __asm__ volatile("" ::"r"(obj) : "memory");
    return obj;
}

/* ---- scrubbing the dead stack (after bdwgc's GC_clear_stack) ----------------------------
 * Stacks are scanned conservatively, and a live frame's unused slots keep whatever
 * an earlier call left at that address.  The runtime's slow paths (a span refill,
 * an assist, a large object, a barrier buffer flush) run deep call chains whose
 * frames hold heap pointers -- callee-saved registers pushed while they held the
 * caller's values -- and a later frame at that depth that never writes the slot
 * keeps the object alive: GCBench's stretch tree (12 MiB, garbage from the start)
 * stayed half reachable for the whole run through a barrier flush's frame, and the
 * marked heap was 21-24 MB a cycle instead of 9-10.  So after a slow path, on a
 * thread's own stack, the runtime zeroes the stack just below it, where those
 * frames were.  A goroutine's stack is left alone (its pages below sp are not
 * all there, and its frames are short-lived). */
enum { SCRUB_CHUNK = 256 };

GORT_NOINLINE static void scrub_below(unsigned n) {
    volatile char buf[SCRUB_CHUNK];
    memset((char *)buf, 0, sizeof buf);
    if (n > 1)
        scrub_below(n - 1);
    buf[0] = 0;   /* not a tail call: the next chunk goes below this one */
}

void gort__gc_scrub_stack(gc_thread *t, unsigned bytes) {
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (sp >= t->stack_hi || t->stack_hi - sp > ((uintptr_t)4 << 20))
        return;   /* not on its own stack (a goroutine), or deep in it */
    if (t->stack_lo ? sp - t->stack_lo < bytes + ((uintptr_t)64 << 10) : !t->is_main)
        return;
    scrub_below((bytes + SCRUB_CHUNK - 1) / SCRUB_CHUNK);
}

/* The end of an allocation: a stop that came during the fast path's critical
 * section (parked), then the collector's wake-up if the allocation asked for a
 * cycle, then an assist owed (and what its frames left on the stack), then a
 * wait if the cycle is overdue. */
GORT_NOINLINE static void *alloc_end(gc_thread *t, void *obj, bool parked) {
    if (parked)
        gort__gc_park_deferred(t);
    if (GORT_UNLIKELY(t->kick))
        gort__gc_kick(t);   /* a cycle asked for inside the section (gc/gc.c) */
    if (GORT_UNLIKELY(t->p->assist_credit < 0) &&
        atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) == GC_MARK) {
        gort__gc_assist(t);
        /* An assist may park a goroutine, which may come back on another M.
         * Nothing else in an allocation lets it move: runtime code is never
         * preempted asynchronously, and a thread parked for a stop is still
         * this one. */
        t = gort__gc_self_reload();
        gort__gc_scrub_stack(t, 2048);
    }
    if (GORT_UNLIKELY(t->p->overdue))
        gort__gc_wait_overdue(t);
    /* The object's address must be live until the end (scanned as a root). */
    __asm__ volatile("" ::"r"(obj) : "memory");
    return obj;
}

/* The allocation path of gort_gc_alloc*: kind is GC_NOSCAN, GC_CONS or GC_TYPED.
 * alloc_fast below takes a free slot from the cache's bits when there is one;
 * everything else -- a span to refill, a large object, an assist owed, a thread
 * not registered yet -- is here. */
GORT_NOINLINE static void *alloc_slow(size_t n, int kind, const gort_gc_type_t *ty) {
    gc_thread *t = gc_self();
    if (GORT_UNLIKELY(!t))
        return NULL;
    void *obj;
    if (GORT_UNLIKELY(n > MAX_SMALL)) {
        if (n > ((size_t)1 << 46)) {
            errno = ENOMEM;
            return NULL;
        }
        obj = large_alloc(t, n, kind, ty);
        gort__gc_scrub_stack(t, 4096);
    } else {
        unsigned cls = gc_size_to_class(n);
        unsigned spc = (unsigned)kind * GC_NCLASSES + cls;
        bool refilled = false;
        crit_enter(t);
        mspan *s = t->p->alloc[spc];
        unsigned idx = next_free_index(s);   /* the cache's next slot, if it has one */
        if (idx >= s->nelems) {
            refilled = true;
            s = refill(t, spc);
            if (GORT_UNLIKELY(!s)) {
                crit_exit(t);
                mutator_sweep_done();
                errno = ENOMEM;
                return NULL;
            }
            idx = next_free_index(s);
            GORT_ASSERT(idx < s->nelems);
        }
        uintptr_t p = take_slot(s, idx, kind, ty);
        if (s->gczero)
            memset((void *)p, 0, s->gczero);
        crit_exit(t);
        if (GORT_UNLIKELY(my_sweeping))
            mutator_sweep_done();
        if (GORT_UNLIKELY(refilled))
            gort__gc_scrub_stack(t, 2048);
        obj = (void *)p;
    }
    if (GORT_UNLIKELY(atomic_load_explicit(&unswept, memory_order_relaxed) > 0) && obj)
        pay_sweep(t);
    return alloc_end(t, obj, false);
}

/* Zero a slot of at most FAST_ZERO_MAX bytes (0, or a multiple of 8 from 8) in
 * line: a call to memset would make the whole fast path save registers.  As a
 * small memset does it, with two runs of 16-byte stores from either end that
 * meet or overlap, so each size takes one branch and no loop. */
typedef uint64_t zero16 __attribute__((vector_size(16), aligned(8), may_alias));
#define ZERO16(a) (*(zero16 *)(a) = (zero16){0, 0})
GORT_INLINE void zero_small(uintptr_t p, uint32_t size) {
    if (!size)
        return;
    uintptr_t e = p + size;
    if (size <= 16) {
        *(uint64_t *)p = 0;
        *(uint64_t *)(e - 8) = 0;
    } else if (size <= 32) {
        ZERO16(p);
        ZERO16(e - 16);
    } else if (size <= 64) {
        ZERO16(p);
        ZERO16(p + 16);
        ZERO16(e - 32);
        ZERO16(e - 16);
    } else {
        for (int i = 0; i < 4; i++) {
            ZERO16(p + 16 * i);
            ZERO16(e - 64 + 16 * i);
        }
    }
}

/* The fast path's way out to alloc_slow, from inside its critical section: the
 * cache's word is used up (every 64 allocations of a class at most), or the slot
 * is too big to zero in line.  Also the scheduler's safe point, as the explicit
 * allocator's slow paths are (alloc/alloc.c): a goroutine asked to yield -- a
 * 10 ms slice over, or its P's share of a mark due (sysmon) -- yields here,
 * outside every critical section.
 * The fast path reaches here by tail calls only, so the return address is the
 * program's call site; from the runtime's own code it is not, and the hook
 * does not yield.  The object stays in this frame (a root) across a yield. */
#if GC_ALLOC_RA_TLS
__thread uintptr_t gort__gc_alloc_ra;
#endif

GORT_NOINLINE static void *alloc_bail(gc_thread *t, size_t n, int kind, const gort_gc_type_t *ty) {
#if GC_ALLOC_RA_TLS
    uintptr_t ra = __atomic_exchange_n(&gort__gc_alloc_ra, 0, __ATOMIC_RELAXED);
#else
    uintptr_t ra = (uintptr_t)__builtin_return_address(0);
#endif
    crit_exit(t);
    void *obj = alloc_slow(n, kind, ty);
    void (*hook)(uintptr_t) = __atomic_load_n(&gort__alloc_safepoint_hook, __ATOMIC_RELAXED);
    if (hook && ra)
        hook(ra);
    __asm__ volatile("" ::"r"(obj) : "memory");
    return obj;
}

/* The fast path (Go's nextFreeFast): a free slot from the cache's word.
 * Straight-line code with no call on the way, so it saves few registers; one
 * copy per kind (below), so that the kind is a constant: the untyped kinds
 * neither store a type nor hold one in a register, and the whole path fits in
 * the registers a call may clobber (no frame, nothing saved).
 *
 * It does not look at the P's assist debt or overdue flag: both change only in
 * a slow path of the P's own (refill and large_alloc charge the debt and may
 * set the flag), and that slow path ends in alloc_end, which pays or forgives
 * the debt and waits.  A debt an assist leaves unpaid (the mark ended under it,
 * or its goroutine came back on another P) waits for the P's next refill, or
 * is cleared when the next mark starts.  (Checking both cost four instructions
 * an allocation; with the copies per kind, callgrind counts 53 instructions an
 * allocation in GCBench, 69 before: bench/results/gc-alloc-callgrind.txt.) */
GORT_INLINE void *alloc_fast(size_t n, int kind, const gort_gc_type_t *ty) {
    gc_thread *t = gort__gc_self;
    if (GORT_UNLIKELY(!t || n > SMALL_MAX))   /* 1-32 KiB: alloc_slow (a memset will dominate) */
        return alloc_slow(n, kind, ty);
    unsigned spc = (unsigned)kind * GC_NCLASSES + gc_size_to_class(n);
    crit_enter(t);
    mspan *s = t->p->alloc[spc];
    uint64_t cache = s->gcalloccache;
    unsigned zero = s->gczero;
    if (GORT_UNLIKELY(cache == 0 || zero > FAST_ZERO_MAX))
        return alloc_bail(t, n, kind, ty);
    unsigned fi = atomic_load_explicit(&s->gcfreeindex, memory_order_relaxed);
    uintptr_t obj = take_slot(s, cache_take(s, cache, fi), kind, ty);
    zero_small(obj, zero);
    /* crit_exit, with its call made a tail call (as every call here is). */
    atomic_signal_fence(memory_order_seq_cst);
    if (GORT_UNLIKELY(--t->crit == 0 && GORT_GCM_STOP_WAITING(t)))
        return alloc_end(t, (void *)obj, true);
    return (void *)obj;
}

void *gort__gc_alloc_cons(size_t n) {
    return alloc_fast(n, GC_CONS, NULL);
}

void *gort__gc_alloc_noscan(size_t n) {
    return alloc_fast(n, GC_NOSCAN, NULL);
}

void *gort__gc_alloc_typed(size_t n, const gort_gc_type_t *ty) {
    return alloc_fast(n, GC_TYPED, ty);
}

/* ---- object lookup ------------------------------------------------------------------- */
GC_NOSAN uintptr_t gort__gc_find_object(uintptr_t p, mspan **sp, uint32_t *idxp) {
    /* (mark.c's shade_inline is the same lookup, inlined.) */
    if (!GC_MAYBE_HEAP(p, __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED),
                       __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED)))
        return 0;
    mspan *s = span_of(p);
    if (!s)
        return 0;
    uint8_t st = *(volatile uint8_t *)&s->state;   /* plain: see mark.c's shade_inline */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    /* The state first, as shade_in does: the struct of a free span may be one the
     * page heap is initialising at this moment (a thread in a blocking region
     * runs on while the world is stopped; TSan saw checkmark's read of
     * gcallocbits race with that memset).  Only a GC span's bitmap is read. */
    if (st != SPAN_GCSMALL && st != SPAN_GCLARGE && st != SPAN_GCHUGE)
        return 0;
    const uint64_t *ab = __atomic_load_n(&s->gcallocbits, __ATOMIC_ACQUIRE);
    if (!ab)
        return 0;   /* not published yet */
    if (st == SPAN_GCSMALL) {
        uint32_t idx = DIV_INDEX(span_divide(s, p));
        if (idx >= s->nelems)
            return 0;
        if (idx >= atomic_load_explicit(&s->gcfreeindex, memory_order_relaxed) &&
            !((ab[GC_BITW(idx / 64)] >> (idx % 64)) & 1))
            return 0;
        *sp = s;
        *idxp = idx;
        return s->base + (uintptr_t)idx * s->elemsize;
    }
    /* SPAN_GCLARGE or SPAN_GCHUGE: one object. */
    if (!(__atomic_load_n(&ab[0], __ATOMIC_ACQUIRE) & 1))
        return 0;
    *sp = s;
    *idxp = 0;
    return s->base;
}

size_t gort__gc_obj_size(const mspan *s) {
    return s->state == SPAN_GCSMALL ? s->elemsize : s->gcobjsize;
}

/* ---- every span (world stopped) ------------------------------------------------------- */
void gort__gc_each_span(void (*fn)(mspan *s, void *arg), void *arg) {
    for (unsigned spc = 0; spc < GC_NSPC; spc++) {
        gc_central *c = &gort__gc_central[spc];
        gort__mutex_lock(&c->lock);
        for (int i = 0; i < 2; i++) {
            for (mspan *s = c->partial[i].head; s; s = s->next)
                fn(s, arg);
            for (mspan *s = c->full[i].head; s; s = s->next)
                fn(s, arg);
        }
        gort__mutex_unlock(&c->lock);
    }
    for (gc_p *p = gort__gc_ps; p; p = p->allnext)
        for (unsigned spc = 0; spc < GC_NSPC; spc++)
            if (p->alloc[spc] != &gort__empty_span)
                fn(p->alloc[spc], arg);
}
