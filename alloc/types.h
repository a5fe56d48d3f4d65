/* gort allocator: the glossary of its structures and the few inline helpers every
 * file of alloc/ shares.  The design essay is at the top of alloc/alloc.c. */
#ifndef GORT_ALLOC_TYPES_H
#define GORT_ALLOC_TYPES_H

#include "include/gort/alloc.h"
#include "include/gort/internal/lock.h"
#include "include/gort/internal/rt.h"

/* ---- geometry ------------------------------------------------------------------- */
#define PAGE_SHIFT      13
#define PAGE_SIZE       ((uintptr_t)1 << PAGE_SHIFT)               /* 8 KiB */
#define ARENA_SHIFT     26
#define ARENA_SIZE      ((uintptr_t)1 << ARENA_SHIFT)              /* 64 MiB, aligned to its size */
#define ARENA_PAGES     (ARENA_SIZE >> PAGE_SHIFT)                 /* 8192 */
#define ADDR_BITS       48                                         /* user address space */

#define MAX_SMALL       32768u           /* largest size-classed object */
#define NUM_CLASSES     GORT_NUM_SIZE_CLASSES   /* 67: class 0 = large, 1..66 small */
#define SMALL_DIV       8                /* size_to_class8 granularity, sizes <= 1024 */
#define SMALL_MAX       1024u
#define LARGE_DIV       128              /* size_to_class128 granularity, 1024 < size <= 32768 */
#define MAX_OBJS        1024             /* most objects in one small span (8-byte class) */
#define BITMAP_WORDS    (MAX_OBJS / 64)

/* ---- size classes (alloc/sizeclass.c) --------------------------------------------- */
extern const uint32_t gort__class_size[NUM_CLASSES];     /* bytes per object */
extern const uint8_t  gort__class_npages[NUM_CLASSES];   /* pages per span */
extern const uint32_t gort__class_divmul[NUM_CLASSES];   /* ceil(2^32 / size): offset -> index */
extern const uint16_t gort__class_nelems[NUM_CLASSES];   /* objects per span */
extern const uint8_t  gort__size_to_class8[SMALL_MAX / SMALL_DIV + 1];
extern const uint8_t  gort__size_to_class128[(MAX_SMALL - SMALL_MAX) / LARGE_DIV + 1];

GORT_INLINE unsigned size_to_class(size_t n) {
    if (n <= SMALL_MAX)
        return gort__size_to_class8[(n + SMALL_DIV - 1) / SMALL_DIV];
    return gort__size_to_class128[(n - SMALL_MAX + LARGE_DIV - 1) / LARGE_DIV];
}

/* ---- spans ---------------------------------------------------------------------------
 * An mspan is a run of pages.  It is in exactly one of these states:
 *   SPAN_FREE   in the page heap's free bins; only its first and last page map to it.
 *   SPAN_SMALL  objects of one size class; owned by a cache (or abandoned to central).
 *   SPAN_LARGE  one object of npages pages (> 32 KiB, or an over-aligned block).
 *   SPAN_HUGE   a large object bigger than an arena, in a reservation of its own.
 *   SPAN_DEAD   on the metadata free list.
 *   SPAN_GCSMALL, SPAN_GCLARGE, SPAN_GCHUGE
 *               the garbage-collected heap's small, large and huge spans (gc/gc.c,
 *               alloc/gcheap.c); gort_free of a GC object dies as an invalid free.
 * Every page of a SMALL/LARGE/HUGE/GC* span maps to the span in its arena's page table.
 *
 * Two sizes of span struct.  allocbits and xfreebits (256 bytes) serve only the
 * malloc heap's spans; a GC span or a free run has no use for them, and with one
 * struct per 8 KiB span they were 3% of a GC heap.  So a struct is short
 * (SPAN_SHORT bytes, the fields up to allocbits) or big (`big` set, the whole
 * struct), for its life: gort__span_new(big) takes one from the matching free
 * list.  SMALL, LARGE and HUGE spans have big structs; GC spans and FREE runs short
 * ones, except that a run freed by the malloc heap keeps its big struct until it
 * is taken again.  The page heap swaps the struct when a run is allocated for the
 * other heap (gort__pageheap_alloc); nothing but the page heap holds a FREE
 * run's struct, and a stale reader of the old one sees SPAN_DEAD.
 *
 * Small-span free paths (mimalloc's free-list sharding, with a bitmap for the
 * remote side):
 *   - free:   the local free list, touched only by the owner (no atomics);
 *   - xfreebits:  bit i set = object i was freed by another thread and not yet
 *                 collected.  A remote free is one atomic fetch-or (which also
 *                 catches a second free of the same block); the owner collects by
 *                 exchanging the words that are non-zero.  No list is threaded
 *                 through remotely freed blocks.
 *   - xstate: flags, changed with compare-and-swap:
 *       XF_FULL       the span had no free object when the flag was set; the first
 *                     remote free clears it and queues the span on its owner's
 *                     `delayed` list (or, abandoned, moves it to central's partial
 *                     list) so that its room is found again;
 *       XF_ABANDONED  the span has no owner (its thread exited): it sits in central.
 *   - allocbits:  bit i set = object i is allocated.  Written by the owner only.
 *   So an object is live exactly when allocbits[i] && !xfreebits[i]; a free of anything
 *   else is a double free, caught in O(1). */
enum span_state { SPAN_DEAD = 0, SPAN_FREE, SPAN_SMALL, SPAN_LARGE, SPAN_HUGE,
                  SPAN_GCSMALL, SPAN_GCLARGE, SPAN_GCHUGE };
enum span_where { IN_NONE = 0, IN_CURRENT, IN_PARTIAL, IN_FULL, IN_CENTRAL_PARTIAL, IN_CENTRAL_FULL };

#define XF_FULL      ((uintptr_t)1)
#define XF_ABANDONED ((uintptr_t)2)

struct gort_cache;
struct gort_gc_type;
struct gc_special;

typedef struct mspan {
    /* -- hot: the malloc/free fast paths read only this first cache line -- */
    void      *free;           /* local free list (owner) */
    uintptr_t  base;           /* first byte (page aligned) */
    struct gort_cache *owner;  /* owning cache; NULL when free, large, or in central */
    uint32_t   elemsize;       /* object size (large: npages * PAGE_SIZE) */
    uint32_t   divmul;         /* ceil(2^32 / elemsize) */
    uint16_t   nalloc;         /* allocated objects, counting those on xfree (owner) */
    uint16_t   slow_at;        /* a local free that brings nalloc to this calls the slow path
                                  (owner; set with `where`, see span_set_where) */
    uint16_t   nelems;         /* objects in the span */
    uint8_t    cls;            /* size class; 0 for large */
    uint8_t    state;          /* enum span_state (heap lock, or owner for SMALL) */
    uint8_t    where;          /* enum span_where: which list holds it (owner / central lock) */
    uint8_t    needzero;       /* FREE/fresh, or allocated without zeroing
                                * (gort__pageheap_alloc): some page may hold old data */
    uint8_t    big;            /* the struct has allocbits and xfreebits (fixed for its life) */
    uintptr_t  bump, limit;    /* [bump, limit): objects never handed out yet (owner) */
    /* -- cross-thread -- */
    _Atomic uintptr_t xstate;  /* XF_* flags (compare-and-swap) */
    _Atomic uint32_t xqueued;  /* on its owner's delayed list (the notifier sets it) */
    struct mspan *xnext;       /* link in the owner's delayed list */
    /* -- lists -- */
    struct mspan *next, *prev; /* cache/central lists, page-heap bins (owner / lock) */
    uintptr_t  npages;
    /* -- garbage-collected spans only (SPAN_GC*): see gc/gc.c and alloc/gcheap.c.
     *    Owner = the GC P (per-thread cache) holding the span; otherwise the sweeper
     *    that won the gcsweepgen CAS, or the GC central lock. -- */
    /* Written by the owner at every allocation, and not read by markers: the
     * tail of the line that ends at byte 128 on x86-64, apart from what markers
     * read (a marker reading it would take the line from the owner at every
     * allocation). */
    uint64_t   gcalloccache;   /* free slots of gcfreeindex's word, from it on (owner; alloc/gcheap.c) */
    _Atomic uint16_t gcfreeindex;  /* slots below it are allocated (owner; gccheckmark reads) */
    uint16_t   gcnalloc;       /* allocated objects (owner / sweeper) */
    uint16_t   gczero;         /* bytes to zero on allocation: elemsize once freed slots
                                  may hold old data, else 0 (owner / sweeper) */
    uint8_t    gcqueued;       /* gccheckmark / sweep bookkeeping (STW or sweeper) */
    /* What a marker reads besides the first line, in one line of its own
     * (span structs are line aligned; this starts at byte 128 on x86-64),
     * written about once a cycle: a shade and an object scan miss on two
     * lines of the span, not three, and allocation does not take the line
     * away from the markers. */
    uint64_t  *gcallocbits;    /* allocated as of the last sweep (owner/sweeper; read by markers) */
    uint64_t  *gcmarkbits;     /* marked this cycle: atomic or by markers; sweep swaps the two.
                                  The two are interleaved word by word: word i of
                                  either is [GC_BITW(i)] (see below) */
    const struct gort_gc_type **gctypes;  /* typed small spans: each object's type (owner) */
    const struct gort_gc_type *gctype;    /* typed large object: its type; typed small span: the
                                             type of every object allocated in it since it was
                                             set up, or &gort__gc_type_mixed (owner writes) */
    uint64_t  *gccheckbits;    /* gccheckmark's own bits (STW only), or NULL */
    struct gc_special *gcspecials;        /* finalizers of this span's objects (specials lock) */
    uintptr_t  gcobjsize;      /* large: bytes requested (the scanned extent) */
    _Atomic uint32_t gcsweepgen;   /* Go's sweepgen protocol (gc/gc.c) */
    _Atomic uint16_t gcblackfrom;  /* gcfreeindex when the owner took it (or the mark began),
                                  never above gcfreeindex: slots allocated from there on
                                  are black, marked in bulk when it lets go (owner writes;
                                  markers read) */
    uint8_t    gckind;         /* GC_NOSCAN, GC_CONS or GC_TYPED (gc/internal.h) */
    uint8_t    gcbitwords;     /* words per bitmap: (nelems + 63) / 64 */
    /* -- the malloc heap's spans only (a struct with `big` set): a short struct,
     *    SPAN_SHORT bytes, ends here.  See "Two sizes of span struct" above. -- */
    uint64_t   allocbits[BITMAP_WORDS];
    _Atomic uint64_t xfreebits[BITMAP_WORDS];
} mspan;

#define SPAN_SHORT offsetof(mspan, allocbits)
#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(offsetof(mspan, xstate) == 64 && offsetof(mspan, gcallocbits) == 128 && SPAN_SHORT == 192,
               "span struct lines: the fast paths' line, the cross-thread and owner line, the markers' line");
#endif

/* A GC span's allocation and mark bitmaps share one block, interleaved word by
 * word (a0 m0 a1 m1 ...; sweeping swaps the pointers, so either may come first):
 * word i of either bitmap is bits[GC_BITW(i)], and a marker that reads an
 * object's allocation bit finds its mark bit on the same cache line -- one miss
 * where there were two (the server workload's mark: the allocation word's load
 * was a third of scan_object's samples, the mark word's a ninth). */
#define GC_BITW(i) (2 * (size_t)(i))

typedef struct span_list {
    mspan *head, *tail;
    uint32_t n;
} span_list;

void gort__span_list_push(span_list *l, mspan *s);        /* at the head */
void gort__span_list_push_back(span_list *l, mspan *s);   /* at the tail */
void gort__span_list_remove(span_list *l, mspan *s);

/* ---- arenas and the arena map (alloc/arena.c) -----------------------------------------
 * Two levels, as Go's: arena_l1[addr >> (ARENA_SHIFT + ARENA_L2_BITS)] -> an l2 table;
 * l2[(addr >> ARENA_SHIFT) % 2^ARENA_L2_BITS] -> arena; arena->spans[page] -> span.
 * With a 48-bit address space (x86-64, AArch64 with 48-bit VA) L1 has a single entry,
 * a static table, so the lookup is one bounds check and two dependent loads (Go does
 * the same on amd64: arenaL1Bits = 0).  The L2 table is 4M pointers (32 MiB) of bss,
 * touched only where arenas are. */
typedef struct arena {
    uintptr_t base;
    mspan    *spans[ARENA_PAGES];        /* page -> span (see span states above) */
    uint64_t  scav[ARENA_PAGES / 64];    /* bit set: page released (reads as zero, no RSS); heap lock */
    struct arena *next;                  /* all arenas, for the scavenger and stats */
    uint8_t   huge;                      /* part of a huge object's own reservation */
} arena;

#define ARENA_L1_BITS   0
#define ARENA_L2_BITS   (ADDR_BITS - ARENA_SHIFT)   /* 22: address bits 26..47 */

typedef arena *arena_l2[(size_t)1 << ARENA_L2_BITS];
extern arena_l2 gort__arena_map;        /* the single L2 table */

GORT_INLINE arena *arena_of(uintptr_t p) {
    uintptr_t i = p >> ARENA_SHIFT;
    if (GORT_UNLIKELY(i >= ((uintptr_t)1 << ARENA_L2_BITS)))
        return NULL;
    return __atomic_load_n(&gort__arena_map[i], __ATOMIC_RELAXED);
}

/* The span holding address p, or NULL: O(1), safe for any p. */
GORT_INLINE mspan *span_of(uintptr_t p) {
    arena *a = arena_of(p);
    if (GORT_UNLIKELY(!a))
        return NULL;
    return a->spans[(p >> PAGE_SHIFT) & (ARENA_PAGES - 1)];
}

/* Map [base, base + npages pages) to s (may cross arenas of one huge reservation). */
void    gort__arena_set_spans(uintptr_t base, uintptr_t npages, mspan *s);
/* Reserve a new arena (or, for huge objects, nbytes aligned to align); registers it in
 * the arena map.  Heap lock held. */
arena  *gort__arena_grow(void);
uintptr_t gort__arena_reserve_huge(size_t nbytes, size_t align);
void    gort__arena_release_huge(uintptr_t base, size_t nbytes);
extern arena *gort__arenas;           /* list of all (non-huge) arenas; heap lock */

/* ---- metadata (alloc/meta.c): off-heap, never libc malloc ------------------------------ */
void  *gort__meta_alloc(size_t size);          /* zeroed, cache-line aligned, never freed */
mspan *gort__span_new(bool big);               /* zeroed span struct, short or big */
void   gort__span_dispose(mspan *s);
extern _Atomic uint64_t gort__meta_bytes;
void   gort__meta_fork_lock(void);
void   gort__meta_fork_unlock(int child);

/* ---- page heap (alloc/pageheap.c) ------------------------------------------------------ */
typedef struct pageheap {
    gort_mutex_t lock;
    uint64_t     sys_pages;        /* pages of arenas and huge reservations */
    uint64_t     inuse_pages;      /* pages in SMALL/LARGE/HUGE spans */
    uint64_t     free_pages;       /* pages in FREE spans */
    uint64_t     released_pages;   /* FREE pages with their scav bit set */
    uint64_t     peak_cur, peak_prev;   /* highest inuse_pages in this / the last scavenger tick */
} pageheap;
extern pageheap gort__heap;

/* Allocate npages pages aligned to align_pages pages (a power of two); needzero: make
 * them read as zero.  Returns a span in state `state`, or NULL (ENOMEM); its
 * needzero is set when the caller did not ask for zeroing and some page may hold
 * old data. */
mspan *gort__pageheap_alloc(uintptr_t npages, uintptr_t align_pages, int state, bool needzero);
void   gort__pageheap_free(mspan *s);
/* Whether npages free pages in one run are there now (the heap would not grow). */
bool   gort__pageheap_has_run(uintptr_t npages);
void   gort__pageheap_free_locked(mspan *s);
/* Release dirty free pages to the OS until at most `keep` dirty free pages remain
 * (GORT_SCAVENGE_RETAIN: the retention policy's amount); returns the pages released. */
#define GORT_SCAVENGE_RETAIN UINT64_MAX
uint64_t gort__pageheap_scavenge(uint64_t keep);
bool     gort__pageheap_over_retain(void);   /* more idle dirty pages than the policy keeps */
void     gort__pageheap_atfork_child(void);  /* put back a run a dead scavenger was releasing */
/* One scavenger tick: rotate the in-use peak window; true while a release may still
 * come due (the window has not decayed to the current use). */
bool     gort__pageheap_scavenge_tick(void);
/* Shrink a large span in place to npages (the tail goes back to the heap). */
void   gort__pageheap_shrink(mspan *s, uintptr_t npages);
/* Grow a large span in place to npages if the pages after it are free; true if done. */
bool   gort__pageheap_grow_inplace(mspan *s, uintptr_t npages);

/* A cache keeps freed large blocks of up to 256 KiB for reuse, up to 4 MiB of them
 * (tcmalloc's thread caches hold objects to 256 KiB too). */
#define LARGE_CACHE_PAGES 32
#define LARGE_CACHE_BYTES ((uint64_t)4 << 20)

/* ---- caches (alloc/cache.c) ------------------------------------------------------------- */
typedef struct gort_cache {
    mspan     *alloc[NUM_CLASSES];       /* current span per class (&gort__empty_span if none) */
    uint64_t   nmalloc[NUM_CLASSES];     /* cumulative, this cache (owner writes) */
    uint64_t   nfree[NUM_CLASSES];
    span_list  partial[NUM_CLASSES];     /* owned spans with free objects, not current */
    uint16_t   nempty[NUM_CLASSES];      /* spans in partial[] with no object at all */
    span_list  full[NUM_CLASSES];        /* owned spans with none */
    _Atomic uintptr_t delayed;           /* our full spans others freed into (via xnext); CACHE_CLOSED */
    struct gort_cache *all_next, *all_prev;   /* every live cache (caches lock) */
    struct gort_cache *free_next;             /* recycled caches */
    mspan     *large[LARGE_CACHE_PAGES + 1];   /* freed large spans by page count, LIFO */
    uint64_t   large_cached;             /* bytes held in large[] (<= LARGE_CACHE_BYTES) */
    int64_t    large_bytes;              /* large bytes allocated minus freed here (owner writes);
                                            large object counts are nmalloc[0] / nfree[0] */
    uint64_t   large_total;              /* cumulative large bytes allocated here */
} gort_cache;

#define CACHE_CLOSED ((uintptr_t)1)

extern mspan gort__empty_span;
extern gort_cache gort__empty_cache;
extern __thread gort_cache *gort__tls_cache;

gort_cache *gort__cache_get(void);                      /* the calling thread's, created if needed */
void *gort__cache_refill(gort_cache *c, unsigned cls);  /* slow path of a small malloc */
void  gort__cache_flush(gort_cache *c);                 /* give every span away (thread exit) */
void  gort__cache_release_current(void);                /* flush and retire this thread's */
void  gort__caches_retire_others(gort_cache *keep);     /* fork child: dead threads' caches */
void  gort__cache_take_span(gort_cache *c, mspan *s);   /* list a span c just adopted */
void  gort__cache_drain_delayed(gort_cache *c);
void  gort__cache_free_local_slow(gort_cache *c, mspan *s);  /* span became empty, or was full */
void  gort__free_remote_notify(mspan *s, unsigned cls); /* a remote free found XF_FULL set */
void  gort__span_collect(mspan *s);                     /* move remote frees to the free list */
bool  gort__span_mark_full(mspan *s, uintptr_t flags);  /* set XF_FULL (false: frees arrived) */
void  gort__caches_lock(void);
void  gort__caches_unlock(void);
extern gort_cache *gort__caches;                        /* live caches (caches lock) */
/* Counters of caches that have exited, and of frees made by threads without a cache. */
extern _Atomic uint64_t gort__retired_nmalloc[NUM_CLASSES];
extern _Atomic uint64_t gort__retired_nfree[NUM_CLASSES];

/* ---- central (alloc/central.c): spans whose owner exited ------------------------------ */
typedef struct mcentral {
    gort_mutex_t lock;
    span_list    partial;   /* abandoned spans with free objects (maybe on xfree) */
    span_list    full;      /* abandoned spans with none (XF_FULL set) */
    _Atomic uint32_t npartial;   /* partial.n, for a lock-free "anything here?" */
} GORT_ALIGNED_CL mcentral;
extern mcentral gort__central[NUM_CLASSES];

void   gort__central_abandon(mspan *s);             /* owner gives a span up */
mspan *gort__central_adopt(gort_cache *c, unsigned cls);   /* a span with room, now c's, or NULL */
void   gort__central_notify(mspan *s, unsigned cls); /* first free into an abandoned full span */
uint64_t gort__central_reclaim(void);               /* free abandoned spans that emptied; pages */
bool   gort__central_adopt_span(gort_cache *c, mspan *s);  /* reclaim-on-free of an abandoned span */

/* ---- scavenger (alloc/scavenge.c) -------------------------------------------------------- */
void gort__scavenger_kick(void);     /* the heap grew idle dirty pages: maybe wake the scavenger */
void gort__scavenger_atfork_child(void);
extern _Atomic uint64_t gort__scavenged_pages;

/* ---- large objects (alloc/large.c) ----------------------------------------------------- */
void  *gort__large_alloc(size_t n, size_t align, bool zero);
void   gort__large_free(mspan *s, void *p);
size_t gort__large_size(const mspan *s);
bool   gort__large_resize(mspan *s, size_t n);
/* Large-object counters of exited caches (see gort_cache.large_bytes). */
extern _Atomic int64_t  gort__retired_large_bytes;
extern _Atomic uint64_t gort__retired_large_total;

/* ---- errors (alloc/alloc.c) ---------------------------------------------------------------- */
GORT_COLD void gort__bad_free(const void *p, const char *why, const mspan *s);

/* ---- counters ------------------------------------------------------------------------
 * Per-cache counters are written by their owner with plain stores and read by the
 * stats reader with relaxed loads (a stale value is fine; a torn one cannot happen for
 * aligned 64-bit words on the targets gort supports).  TSan builds use relaxed atomics
 * so the reader is not reported as a race. */
#if defined(GORT_TSAN)
#define STAT_INC(x) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED)
#define STAT_ADD(x, v) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#else
#define STAT_INC(x) ((x)++)
#define STAT_ADD(x, v) ((x) += (v))
#endif
#define STAT_READ(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Allocation bits: written by the span's owner, read by remote freers (plain
 * read-modify-write in the owner; relaxed atomics under TSan, as for counters). */
#if defined(GORT_TSAN)
#define BIT_SET(w, b)   __atomic_fetch_or(&(w), (uint64_t)1 << (b), __ATOMIC_RELAXED)
#define BIT_CLEAR(w, b) __atomic_fetch_and(&(w), ~((uint64_t)1 << (b)), __ATOMIC_RELAXED)
#else
#define BIT_SET(w, b)   ((w) |= (uint64_t)1 << (b))
#define BIT_CLEAR(w, b) ((w) &= ~((uint64_t)1 << (b)))
#endif

/* A span's owner is read by any thread freeing into it (relaxed: a plain load) and
 * written by the owner or under central's lock. */
#define SPAN_OWNER(s)        __atomic_load_n(&(s)->owner, __ATOMIC_RELAXED)
#define SPAN_SET_OWNER(s, c) __atomic_store_n(&(s)->owner, (c), __ATOMIC_RELAXED)

/* Move s to list `w` of its owner and set the nalloc value at which a local free must
 * take the slow path: never for the current span; on becoming empty for a partial
 * one; once an eighth is free for a full one (its way back to the partial list). */
#define SLOW_NEVER 0xffff
GORT_INLINE void span_set_where(mspan *s, int w) {
    /* Relaxed atomic (a plain store): a remote freer's notice may read `where` of a
     * span struct that has meanwhile been recycled (see gort__central_notify). */
    __atomic_store_n(&s->where, (uint8_t)w, __ATOMIC_RELAXED);
    s->slow_at = w == IN_PARTIAL ? 0
               : w == IN_FULL   ? (uint16_t)(s->nelems - (s->nelems + 7) / 8)
               : SLOW_NEVER;
}

/* Object index of p in small span s (p - base < 2^32 always holds). */
GORT_INLINE uint32_t span_index(const mspan *s, uintptr_t p) {
    return (uint32_t)(((uint64_t)(uint32_t)(p - s->base) * s->divmul) >> 32);
}

/* off * divmul, where divmul = ceil(2^32 / size): the high half is off / size and the
 * low half is below divmul exactly when off is a multiple of size.  Proof: write
 * size * divmul = 2^32 + e, 0 <= e < size, and off = k * size + r.  Then
 * off * divmul = k * 2^32 + k * e + r * divmul, and k * e + r * divmul < 2^32 because
 * r * divmul <= 2^32 + e - divmul and k * e < span bytes <= 80 KiB < divmul - e (divmul
 * >= 2^17, e < 2^15).  So the low half is k * e < divmul when r = 0, and >= divmul
 * otherwise.  tests/alloc/test_sizeclass.c checks it for every offset of every class. */
GORT_INLINE uint64_t span_divide(const mspan *s, uintptr_t p) {
    return (uint64_t)(uint32_t)(p - s->base) * s->divmul;
}
#define DIV_INDEX(q)          ((uint32_t)((q) >> 32))
#define DIV_IS_START(q, s)    ((uint32_t)(q) < (s)->divmul)

#endif
