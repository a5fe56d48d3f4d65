/* gort's allocator: the public entry points and the design essay.
 *
 * STRUCTURES (glossary: alloc/types.h)
 *
 *   arena      64 MiB of address space, aligned to its size, reserved with mmap and
 *              committed by the kernel on first touch.  Its metadata (off the heap)
 *              holds a page table: page -> mspan, 8192 entries, and a bit per page
 *              saying whether the page is released (reads as zero, no RSS).
 *   arena map  two levels (address bits 36..47, then 26..35) from any address to its
 *              arena: span_of(p) is three dependent loads, O(1), valid for any p.
 *   mspan      a run of 8 KiB pages: free (in the page heap), small (objects of one
 *              size class), or large (one object).  A small span carries a local free
 *              list, and two bitmaps (allocated; freed by another thread, set
 *              atomically) that make every invalid or double free an O(1) check.
 *   size class Go's table (tools/mksizeclasses.py) less its 24-byte class: 66 classes
 *              from 8 B to 32 KiB, each with Go's span size (waste <= 12.5% + tail).
 *   cache      one per thread (Go's mcache; in scheduler programs, one per P): the
 *              current span of each class, plus the partial and full spans it owns.
 *   central    per class, spans whose owner thread exited (Go's mcentral).
 *   page heap  free runs in size bins, coalesced at once through the page table.
 *   scavenger  a background thread that madvises idle pages back to the OS.
 *
 * HOW A REQUEST FLOWS
 *
 *   malloc(n <= 32 KiB): class = table[n]; s = cache->alloc[class]; pop s->free; set
 *   the allocation bit.  No lock, no atomic read-modify-write.  When s->free is empty
 *   (gort__cache_refill): carve the next page of never-used objects of s (a fresh
 *   span is not pre-threaded, so it does not touch memory it does not hand out);
 *   else collect s's remote frees; else move s to the full list and take a partial
 *   span of this cache, else adopt one from central, else get pages from the heap.
 *   This slow path is the single place where allocation sampling will hook in.
 *
 *   free(p): s = span_of(p).  If this thread's cache owns s: check the bitmaps (live
 *   = allocated and not remote-freed), verify p is an object start, push on s->free.
 *   Otherwise (another thread's span) set p's bit in s->xfreebits with one atomic
 *   fetch-or, which also catches a second free of p; the owner collects those bits
 *   into its free list when it needs room.  A free into an owned *full* span also
 *   queues the span on its owner's `delayed` list, so the owner learns it has room
 *   again (mimalloc's delayed free).  A free into an *abandoned* span (its thread
 *   exited) adopts the span first, so this thread's later frees there are local
 *   (mimalloc's reclaim on free).  A local free into a full span moves it back to the
 *   partial list once an eighth of it is free; one that empties a partial span
 *   returns it to the page heap, beyond a few kept per class to absorb waves.
 *
 *   malloc(n > 32 KiB): a span of its own from the page heap; more than half an arena
 *   gets a reservation of its own, unmapped on free.
 *
 *   thread exit: a pthread key destructor flushes the cache: empty spans go to the
 *   page heap, the others to central, where other threads adopt them.
 *
 * INVARIANTS
 *
 *   - Only the owning cache touches a small span's free list, bump region and
 *     allocation bits; other threads touch only xfreebits and xstate (atomically).
 *     An abandoned span is "owned" by central's lock.
 *   - nalloc counts objects handed out and not yet collected back, so a span whose
 *     nalloc is zero has no live object and no remote free pending.
 *   - A block is live iff its allocbit is set and its xfreebit clear; free of a
 *     pointer that is not a live block's start dies with a message naming it.
 *   - Metadata (spans, arenas, caches) lives in mmap'd slabs of its own and is never
 *     unmapped: a stale span pointer always reads as some span.  Nothing in gort
 *     calls libc malloc.
 *
 * REJECTED ALTERNATIVES
 *
 *   - Go's "one span per class in the cache, the rest in mcentral" for explicit frees:
 *     a thread freeing objects of its own older spans would need an atomic (or a
 *     lock) per free.  Owning all of a thread's partial spans keeps those frees local.
 *   - Threading a fresh span's free list eagerly: touches every page of the span at
 *     once (RSS) and costs a pass over it; carving a page at a time does neither.
 *   - Detecting double frees with a cookie in the freed block (cheaper on malloc):
 *     probabilistic, and the collector needs allocation bits anyway.
 */
#include "alloc/types.h"

#include <errno.h>
#include <string.h>


/* ---- errors --------------------------------------------------------------------- */

void gort__bad_free(const void *p, const char *why, const mspan *s) {
    if (s && (s->state == SPAN_SMALL))
        gort__printf("gort: free(%p): %s (span %p: %u-byte objects at [%p, %p))\n", p, why,
                     (const void *)s, s->elemsize, (void *)s->base,
                     (void *)(s->base + s->npages * PAGE_SIZE));
    else
        gort__printf("gort: free(%p): %s\n", p, why);
    if (!gort__settings.invalidfree) {
        gort__printf("gort: GORT_DEBUG=invalidfree=0: the block is leaked and the program goes on\n");
        return;
    }
    gort__fatal("gort: invalid free of %p: %s", p, why);
}

/* The span of block p, checked to be a live block's start; dies otherwise (or, with
 * invalidfree=0, returns NULL).  `op` names the call for the message. */
static mspan *checked_span(const void *ptr) {
    uintptr_t p = (uintptr_t)ptr;
    mspan *s = span_of(p);
    if (!s || s->state == SPAN_FREE || s->state == SPAN_DEAD) {
        gort__bad_free(ptr, s || arena_of(p) ? "double free, or a pointer never allocated: no allocated block there"
                                             : "pointer was not allocated by gort", NULL);
        return NULL;
    }
    if (!s->big) {   /* a GC span (or a run the scavenger is releasing) */
        gort__bad_free(ptr, s->state >= SPAN_GCSMALL ? "the block belongs to the garbage-collected heap (gort_gc_alloc): "
                                                       "the collector frees it"
                                                     : "double free, or a pointer never allocated: no allocated block there",
                       NULL);
        return NULL;
    }
    if (s->state != SPAN_SMALL) {
        if (p != s->base) {
            gort__bad_free(ptr, "pointer is inside a large block, not at its start", s);
            return NULL;
        }
        if (!__atomic_load_n(&s->allocbits[0], __ATOMIC_ACQUIRE)) {
            gort__bad_free(ptr, "double free", s);
            return NULL;
        }
        return s;
    }
    uint32_t i = span_index(s, p);
    if (s->base + (uintptr_t)i * s->elemsize != p || i >= s->nelems) {
        gort__bad_free(ptr, "pointer is not the start of a block", s);
        return NULL;
    }
    uint64_t bit = (uint64_t)1 << (i & 63);
    if (!(__atomic_load_n(&s->allocbits[i >> 6], __ATOMIC_RELAXED) & bit) ||
        (atomic_load_explicit(&s->xfreebits[i >> 6], memory_order_relaxed) & bit)) {
        gort__bad_free(ptr, "double free (the block is not allocated)", s);
        return NULL;
    }
    return s;
}

/* ---- malloc ------------------------------------------------------------------------ */

/* The allocation slow paths are one of the scheduler's safe points: when a
 * goroutine that has been asked to yield refills its cache, it yields there,
 * with every allocator structure released.  Only when the allocation came from
 * the program's own code (ra, the public function's return address, outside the
 * runtime's text): the runtime allocates in the middle of its own work, where
 * yielding would not be safe.  The scheduler installs the hook (sched/preempt.c);
 * the fast paths never look at it. */
void (*gort__alloc_safepoint_hook)(uintptr_t ra);

GORT_INLINE void *alloc_safepoint(void *p, uintptr_t ra) {
    void (*hook)(uintptr_t) = __atomic_load_n(&gort__alloc_safepoint_hook, __ATOMIC_RELAXED);
    if (hook)
        hook(ra);
    return p;
}

/* The slow path of a small allocation; a tail call from the fast path. */
GORT_NOINLINE static void *small_alloc_slow(gort_cache *c, unsigned cls, uintptr_t ra) {
    void *p = gort__cache_refill(c, cls);
    if (GORT_UNLIKELY(!p))
        errno = ENOMEM;
    return alloc_safepoint(p, ra);
}

/* ra: the return address of the public function (for the safe point). */
GORT_INLINE void *small_alloc(gort_cache *c, unsigned cls, uintptr_t ra) {
    mspan *s = c->alloc[cls];
    void *p = s->free;
    if (GORT_LIKELY(p != NULL)) {
        s->free = *(void **)p;
        s->nalloc++;
        uint32_t i = DIV_INDEX(span_divide(s, (uintptr_t)p));
        BIT_SET(s->allocbits[i >> 6], i & 63);
        STAT_INC(c->nmalloc[cls]);
        return p;
    }
    return small_alloc_slow(c, cls, ra);
}

GORT_NOINLINE static void *malloc_medium_or_large(size_t n, uintptr_t ra) {
    if (n <= MAX_SMALL)
        return small_alloc(gort__tls_cache, size_to_class(n), ra);
    gort__settings_init();
    return alloc_safepoint(gort__large_alloc(n, PAGE_SIZE, false), ra);
}

#define RETURN_ADDRESS() ((uintptr_t)__builtin_return_address(0))

void *gort_malloc(size_t n) {
    if (GORT_LIKELY(n <= SMALL_MAX))
        return small_alloc(gort__tls_cache, gort__size_to_class8[(n + SMALL_DIV - 1) / SMALL_DIV], RETURN_ADDRESS());
    return malloc_medium_or_large(n, RETURN_ADDRESS());
}

/* ---- free --------------------------------------------------------------------------- */

/* free(p) by a thread that does not own p's span (or of anything the fast path
 * declined): validate in O(1), then one atomic fetch-or on the span's xfreebits —
 * which also catches a second free of the block — and, rarely, a notice to the
 * span's holder that a full span has room again. */
GORT_NOINLINE static void free_slow(void *ptr) {
    uintptr_t p = (uintptr_t)ptr;
    if (!ptr)
        return;
    mspan *s = span_of(p);
    if (GORT_LIKELY(s != NULL && s->state == SPAN_SMALL)) {
        uint64_t q = span_divide(s, p);
        uint32_t i = DIV_INDEX(q);
        uint64_t bit = (uint64_t)1 << (i & 63);
        gort_cache *owner = SPAN_OWNER(s);
        if (GORT_UNLIKELY(!DIV_IS_START(q, s) || i >= s->nelems || owner == gort__tls_cache ||
                          !(__atomic_load_n(&s->allocbits[i >> 6], __ATOMIC_RELAXED) & bit))) {
            checked_span(ptr);   /* dies with the precise complaint */
            return;
        }
        if (owner == NULL) {
            /* An abandoned span (its thread exited): adopt it, so that this thread's
             * further frees into it are local, then free as its owner. */
            gort_cache *c = gort__cache_get();
            if (gort__central_adopt_span(c, s)) {
                gort_free(ptr);
                return;
            }
        }
        /* Once the bit is set the owner may collect it, find the span empty and give
         * it back: from then on only s's atomic fields are read (a recycled span
         * struct is still mapped, and a notice is checked against its state). */
        unsigned cls = s->cls;
        uint64_t old = atomic_fetch_or(&s->xfreebits[i >> 6], bit);
        if (GORT_UNLIKELY(old & bit)) {
            gort__bad_free(ptr, "double free (the block was already freed by another thread)", s);
            return;
        }
        gort_cache *me = gort__tls_cache;
        if (me != &gort__empty_cache)
            STAT_INC(me->nfree[cls]);
        else
            atomic_fetch_add_explicit(&gort__retired_nfree[cls], 1, memory_order_relaxed);
        if (GORT_UNLIKELY(atomic_load(&s->xstate) & XF_FULL))
            gort__free_remote_notify(s, cls);
        return;
    }
    s = checked_span(ptr);   /* foreign, freed, interior or large */
    if (s)
        gort__large_free(s, ptr);
}

/* free(p): the owner's path is this function alone, with no call, lock or atomic
 * read-modify-write: look up the span, check the block is a live object start, push
 * it.  The rare follow-ups (a full span has room again, or a partial span became
 * empty) are one predictable compare against the span's slow_at. */
void gort_free(void *ptr) {
    uintptr_t p = (uintptr_t)ptr;
    mspan *s = span_of(p);
    gort_cache *c = gort__tls_cache;
    if (GORT_LIKELY(s != NULL && SPAN_OWNER(s) == c)) {
        uint64_t q = span_divide(s, p);
        uint32_t i = DIV_INDEX(q);
        uint64_t bit = (uint64_t)1 << (i & 63);
        uint64_t *w = &s->allocbits[i >> 6];
        uint64_t live = *w & ~atomic_load_explicit(&s->xfreebits[i >> 6], memory_order_relaxed);
        if (GORT_LIKELY((live & bit) && DIV_IS_START(q, s))) {
            BIT_CLEAR(*w, i & 63);
            *(void **)ptr = s->free;
            s->free = ptr;
            STAT_INC(c->nfree[s->cls]);
            if (GORT_UNLIKELY(--s->nalloc == s->slow_at))
                gort__cache_free_local_slow(c, s);
            return;
        }
    }
    free_slow(ptr);
}

/* ---- calloc, realloc, aligned_alloc, usable_size ---------------------------------------- */

void *gort_calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > MAX_SMALL) {
        gort__settings_init();
        return gort__large_alloc(total, PAGE_SIZE, true);
    }
    void *p = gort_malloc(total);
    if (p)
        memset(p, 0, total);
    return p;
}

size_t gort_usable_size(const void *p) {
    if (!p)
        return 0;
    mspan *s = checked_span(p);
    if (!s)
        return 0;
    return s->state == SPAN_SMALL ? s->elemsize : gort__large_size(s);
}

void *gort_realloc(void *p, size_t n) {
    if (!p)
        return gort_malloc(n);
    if (n == 0) {   /* glibc: realloc(p, 0) frees p and returns NULL */
        gort_free(p);
        return NULL;
    }
    mspan *s = checked_span(p);
    if (!s)
        return NULL;
    size_t old = s->state == SPAN_SMALL ? s->elemsize : gort__large_size(s);
    if (s->state == SPAN_SMALL) {
        /* Same class, or shrinking by less than half: keep the block. */
        if (n <= old && (n > old / 2 || old <= 16))
            return p;
    } else if (gort__large_resize(s, n)) {
        return p;
    } else if (n <= old && n > old / 2) {
        return p;
    }
    void *q = gort_malloc(n);
    if (!q)
        return NULL;   /* the old block is kept, as C requires */
    memcpy(q, p, n < old ? n : old);
    gort_free(p);
    return q;
}

void *gort_aligned_alloc(size_t align, size_t n) {
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    if (n == 0)
        n = 1;
    if (align <= 16)   /* malloc's blocks are aligned to min(16, 2^floor(log2 n)) */
        return gort_malloc(n < align ? align : n);
    if (align <= PAGE_SIZE && n <= MAX_SMALL) {
        /* The first class whose size is a multiple of align: its objects, at multiples
         * of their size from a page-aligned base, are all aligned. */
        size_t want = GORT_ROUND_UP(n, align);
        for (unsigned cls = size_to_class(want); cls < NUM_CLASSES; cls++)
            if ((gort__class_size[cls] & (align - 1)) == 0)   /* align is a power of two */
                return small_alloc(gort__tls_cache, cls, RETURN_ADDRESS());
    }
    gort__settings_init();
    if (n > ((size_t)1 << 46) || align > ((size_t)1 << 40)) {
        errno = ENOMEM;
        return NULL;
    }
    return gort__large_alloc(n, align, false);
}
