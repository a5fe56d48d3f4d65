/* The page heap (Go's mheap): allocates and frees runs of 8 KiB pages inside arenas,
 * coalescing free runs with their neighbours in O(1) through the arena page table,
 * and tracking per page whether it has been released to the OS.  See alloc/alloc.c.
 *
 * Free runs are FREE spans kept in size bins: bins 0..127 hold runs of exactly 1..128
 * pages; bins 128..134 hold runs of [2^k, 2^(k+1)) pages for k = 7..13.  A bitmap of
 * non-empty bins finds the smallest usable bin with one count-trailing-zeros, so an
 * allocation looks at one exact bin or one list of same-magnitude runs — never at all
 * spans.  A free run never crosses an arena boundary.
 *
 * Invariants (heap lock):
 *   - every page of an arena belongs to exactly one span (FREE or in use);
 *   - a FREE span is mapped at its first and last page only; its interior entries are
 *     NULL, so span_of() on a free interior page says "not allocated";
 *   - two FREE spans are never adjacent (frees coalesce at once);
 *   - arena->scav bit set <=> the page reads as zero and holds no RSS; only FREE pages
 *     (or pages being released) have it set; released_pages counts them. */
#include "alloc/types.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

pageheap gort__heap = {.lock = GORT_MUTEX_RANKED(GORT_RANK_HEAP)};

#define EXACT_BINS 128
#define NUM_BINS   (EXACT_BINS + 7)

static mspan *bins[NUM_BINS];
static uint64_t busy_pages;   /* free pages out of the bins while the scavenger releases them */
static mspan *busy_runs[4];   /* those runs (one per concurrent scavenger), for fork */
static uint64_t nonempty[(NUM_BINS + 63) / 64];

static unsigned bin_of(uintptr_t npages) {
    if (npages <= EXACT_BINS)
        return (unsigned)npages - 1;
    unsigned k = 63 - (unsigned)__builtin_clzll(npages);   /* floor(log2) >= 7 */
    return EXACT_BINS + (k - 7);
}

static void bin_insert(mspan *s) {
    unsigned b = bin_of(s->npages);
    s->prev = NULL;
    s->next = bins[b];
    if (bins[b])
        bins[b]->prev = s;
    bins[b] = s;
    nonempty[b / 64] |= (uint64_t)1 << (b % 64);
}

static void bin_remove(mspan *s) {
    unsigned b = bin_of(s->npages);
    if (s->prev)
        s->prev->next = s->next;
    else
        bins[b] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    if (!bins[b])
        nonempty[b / 64] &= ~((uint64_t)1 << (b % 64));
}

/* First non-empty bin >= b, or NUM_BINS. */
static unsigned bin_next(unsigned b) {
    while (b < NUM_BINS) {
        uint64_t w = nonempty[b / 64] >> (b % 64);
        if (w)
            return b + (unsigned)__builtin_ctzll(w);
        b = (b / 64 + 1) * 64;
    }
    return NUM_BINS;
}

/* ---- per-page scavenged bits (within one arena) ---- */
static uintptr_t bits_count(const uint64_t *bm, uintptr_t i, uintptr_t n) {
    uintptr_t c = 0;
    while (n) {
        unsigned off = i % 64, take = (unsigned)(n < 64 - off ? n : 64 - off);
        uint64_t mask = take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1) << off;
        c += (uintptr_t)gort__popcount64(bm[i / 64] & mask);
        i += take;
        n -= take;
    }
    return c;
}

static void bits_assign(uint64_t *bm, uintptr_t i, uintptr_t n, bool set) {
    while (n) {
        unsigned off = i % 64, take = (unsigned)(n < 64 - off ? n : 64 - off);
        uint64_t mask = take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1) << off;
        if (set)
            bm[i / 64] |= mask;
        else
            bm[i / 64] &= ~mask;
        i += take;
        n -= take;
    }
}

static inline bool bit_get(const uint64_t *bm, uintptr_t i) {
    return (bm[i / 64] >> (i % 64)) & 1;
}

static inline uintptr_t page_index(const arena *a, uintptr_t addr) {
    return (addr - a->base) >> PAGE_SHIFT;
}

/* Make s a FREE span in the bins, mapped at its ends. */
static void insert_free(mspan *s) {
    arena *a = arena_of(s->base);
    uintptr_t first = page_index(a, s->base);
    s->state = SPAN_FREE;
    SPAN_SET_OWNER(s, NULL);
    a->spans[first] = s;
    a->spans[first + s->npages - 1] = s;
    bin_insert(s);
}

/* Carve [base, base+npages) out of the FREE span s (already out of the bins); the
 * leftovers on either side go back to the bins. */
static void carve(mspan *s, uintptr_t base, uintptr_t npages) {
    uintptr_t lead = (base - s->base) >> PAGE_SHIFT;
    uintptr_t tail = s->npages - lead - npages;
    if (lead) {
        mspan *l = gort__span_new(false);
        l->base = s->base;
        l->npages = lead;
        l->needzero = s->needzero;
        insert_free(l);
    }
    if (tail) {
        mspan *t = gort__span_new(false);
        t->base = base + npages * PAGE_SIZE;
        t->npages = tail;
        t->needzero = s->needzero;
        insert_free(t);
    }
    s->base = base;
    s->npages = npages;
}

/* A FREE span that can hold npages pages at an align-page boundary, left in its bin. */
static mspan *peek_locked(uintptr_t npages, uintptr_t align_pages, uintptr_t *at) {
    uintptr_t need = npages + align_pages - 1;
    if (need > ARENA_PAGES)
        need = npages;   /* try an exact fit; the alignment check below decides */
    for (unsigned b = bin_next(bin_of(need)); b < NUM_BINS; b = bin_next(b + 1)) {
        for (mspan *s = bins[b]; s; s = s->next) {
            uintptr_t base = GORT_ROUND_UP(s->base, align_pages * PAGE_SIZE);
            if (base + npages * PAGE_SIZE <= s->base + s->npages * PAGE_SIZE) {
                *at = base;
                return s;
            }
            if (b < EXACT_BINS && align_pages == 1)
                break;
        }
    }
    return NULL;
}

/* The same, out of its bin. */
static mspan *find_locked(uintptr_t npages, uintptr_t align_pages, uintptr_t *at) {
    mspan *s = peek_locked(npages, align_pages, at);
    if (s)
        bin_remove(s);
    return s;
}

bool gort__pageheap_has_run(uintptr_t npages) {
    uintptr_t base;
    gort__mutex_lock(&gort__heap.lock);
    bool ok = peek_locked(npages, 1, &base) != NULL;
    gort__mutex_unlock(&gort__heap.lock);
    return ok;
}

mspan *gort__pageheap_alloc(uintptr_t npages, uintptr_t align_pages, int state, bool needzero) {
    GORT_ASSERT(npages >= 1 && npages <= ARENA_PAGES);
    pageheap *h = &gort__heap;
    uintptr_t base;
    gort__mutex_lock(&h->lock);
    mspan *s = find_locked(npages, align_pages, &base);
    if (!s) {
        arena *a = gort__arena_grow();
        if (!a) {
            gort__mutex_unlock(&h->lock);
            errno = ENOMEM;
            return NULL;
        }
        mspan *f = gort__span_new(false);
        f->base = a->base;
        f->npages = ARENA_PAGES;
        h->sys_pages += ARENA_PAGES;
        h->free_pages += ARENA_PAGES;
        h->released_pages += ARENA_PAGES;
        insert_free(f);
        s = find_locked(npages, align_pages, &base);
        if (!s) {   /* alignment larger than an arena can satisfy */
            gort__mutex_unlock(&h->lock);
            errno = ENOMEM;
            return NULL;
        }
    }
    arena *a = arena_of(s->base);
    /* The ends of the old free run no longer map to it. */
    a->spans[page_index(a, s->base)] = NULL;
    a->spans[page_index(a, s->base) + s->npages - 1] = NULL;
    carve(s, base, npages);
    bool big = state == SPAN_SMALL || state == SPAN_LARGE || state == SPAN_HUGE;
    if (s->big != big) {
        /* The run goes to the other heap: give it a struct of the size that heap
         * uses ("Two sizes of span struct", alloc/types.h).  It is out of the bins
         * and unmapped, so nothing else holds it. */
        mspan *n = gort__span_new(big);
        n->base = s->base;
        n->npages = s->npages;
        gort__span_dispose(s);
        s = n;
    }

    uintptr_t first = page_index(a, base);
    uintptr_t released = bits_count(a->scav, first, npages);
    /* Zero only the pages that may hold old data: released ones read as zero.
     * When none was released (the common case), zero after the lock is let go:
     * the run is the caller's alone from here on. */
    bool zero_all = needzero && released == 0;
    if (needzero && released != 0 && released != npages) {
        for (uintptr_t i = 0; i < npages; i++)
            if (!bit_get(a->scav, first + i))
                memset((void *)(base + i * PAGE_SIZE), 0, PAGE_SIZE);
    }
    bits_assign(a->scav, first, npages, false);
    h->released_pages -= released;
    h->free_pages -= npages;
    h->inuse_pages += npages;
    if (h->inuse_pages > h->peak_cur)
        h->peak_cur = h->inuse_pages;
    s->needzero = !needzero && released != npages;
    s->state = (uint8_t)state;
    gort__arena_set_spans(base, npages, s);
    gort__mutex_unlock(&h->lock);
    if (zero_all)
        memset((void *)base, 0, npages * PAGE_SIZE);
    return s;
}

/* Return run s to the bins, coalescing; `count`: it was in use (not a scavenger's
 * busy free run, whose pages never stopped counting as free). */
static void free_run_locked(mspan *s, bool count) {
    pageheap *h = &gort__heap;
    arena *a = arena_of(s->base);
    uintptr_t first = page_index(a, s->base);
    if (count) {
        h->inuse_pages -= s->npages;
        h->free_pages += s->npages;
    }
    memset(&a->spans[first], 0, s->npages * sizeof(mspan *));
    s->needzero = 1;
    __atomic_store_n(&s->cls, 0, __ATOMIC_RELAXED);   /* see gort__central_notify */
    SPAN_SET_OWNER(s, NULL);
    s->free = NULL;
    /* Coalesce with the neighbours inside this arena. */
    if (first > 0) {
        mspan *l = a->spans[first - 1];
        if (l && l->state == SPAN_FREE) {
            bin_remove(l);
            a->spans[first - 1] = NULL;
            a->spans[page_index(a, l->base)] = NULL;
            s->base = l->base;
            s->npages += l->npages;
            gort__span_dispose(l);
        }
    }
    uintptr_t end = page_index(a, s->base) + s->npages;
    if (end < ARENA_PAGES) {
        mspan *r = a->spans[end];
        if (r && r->state == SPAN_FREE) {
            bin_remove(r);
            a->spans[end] = NULL;
            a->spans[end + r->npages - 1] = NULL;
            s->npages += r->npages;
            gort__span_dispose(r);
        }
    }
    insert_free(s);
}

void gort__pageheap_free_locked(mspan *s) {
    free_run_locked(s, true);
}

/* In a fork child (the heap lock is free again): a scavenger that was releasing a run
 * does not exist there; put its run back, unreleased (its scav bits were not set). */
void gort__pageheap_atfork_child(void) {
    gort__mutex_lock(&gort__heap.lock);
    for (int i = 0; i < 4; i++) {
        mspan *v = busy_runs[i];
        if (v) {
            busy_runs[i] = NULL;
            busy_pages -= v->npages;
            free_run_locked(v, false);
        }
    }
    gort__mutex_unlock(&gort__heap.lock);
}

/* Idle dirty pages the heap may keep: what the program used within the last one to
 * two scavenger ticks (about a second) and no longer does, plus 10% of that peak, and
 * at least 4 MiB.  So a program that frees and re-allocates a large working set keeps
 * it, while RSS follows a heap that has really shrunk within about two seconds (Go's
 * scavenger likewise retains ~10% over its goal).  Heap lock held. */
static uint64_t retain_locked(void) {
    pageheap *h = &gort__heap;
    uint64_t peak = h->peak_cur > h->peak_prev ? h->peak_cur : h->peak_prev;
    if (peak < h->inuse_pages)
        peak = h->inuse_pages;
    uint64_t r = peak - h->inuse_pages + peak / 10;
    return r < 512 ? 512 : r;
}

bool gort__pageheap_scavenge_tick(void) {
    pageheap *h = &gort__heap;
    gort__mutex_lock(&h->lock);
    h->peak_prev = h->peak_cur;
    h->peak_cur = h->inuse_pages;
    bool pending = h->peak_prev > h->inuse_pages ||
                   h->free_pages - h->released_pages > retain_locked();
    gort__mutex_unlock(&h->lock);
    return pending;
}

static bool over_retain_locked(void) {
    return gort__heap.free_pages - gort__heap.released_pages > retain_locked();
}

bool gort__pageheap_over_retain(void) {
    gort__mutex_lock(&gort__heap.lock);
    bool over = over_retain_locked();
    gort__mutex_unlock(&gort__heap.lock);
    return over;
}

void gort__pageheap_free(mspan *s) {
    gort__mutex_lock(&gort__heap.lock);
    gort__pageheap_free_locked(s);
    /* More than 4 MiB idle and dirty: the scavenger's ticks decide what to release. */
    bool dirty = gort__heap.free_pages - gort__heap.released_pages > 512;
    gort__mutex_unlock(&gort__heap.lock);
    if (dirty)
        gort__scavenger_kick();
}

void gort__pageheap_shrink(mspan *s, uintptr_t npages) {
    GORT_ASSERT(npages >= 1 && npages < s->npages);
    gort__mutex_lock(&gort__heap.lock);
    mspan *t = gort__span_new(false);
    t->base = s->base + npages * PAGE_SIZE;
    t->npages = s->npages - npages;
    t->state = s->state;
    s->npages = npages;
    gort__pageheap_free_locked(t);
    gort__mutex_unlock(&gort__heap.lock);
}

bool gort__pageheap_grow_inplace(mspan *s, uintptr_t npages) {
    pageheap *h = &gort__heap;
    bool ok = false;
    gort__mutex_lock(&h->lock);
    arena *a = arena_of(s->base);
    uintptr_t end = page_index(a, s->base) + s->npages;
    uintptr_t extra = npages - s->npages;
    if (end < ARENA_PAGES && end + extra <= ARENA_PAGES) {
        mspan *r = a->spans[end];
        if (r && r->state == SPAN_FREE && r->npages >= extra) {
            bin_remove(r);
            a->spans[end] = NULL;
            a->spans[end + r->npages - 1] = NULL;
            carve(r, r->base, extra);   /* leftover tail goes back to the bins */
            uintptr_t released = bits_count(a->scav, end, extra);
            bits_assign(a->scav, end, extra, false);
            h->released_pages -= released;
            h->free_pages -= extra;
            h->inuse_pages += extra;
            gort__span_dispose(r);
            s->npages = npages;
            gort__arena_set_spans(s->base, npages, s);
            ok = true;
        }
    }
    gort__mutex_unlock(&h->lock);
    return ok;
}

/* Release the dirty pages of one FREE span, biggest runs first, with the heap lock
 * dropped around the madvise calls.  The span is taken out of the bins and marked
 * busy (SPAN_LARGE state, owner-less) while the lock is dropped so that neighbours
 * do not coalesce into it. */
uint64_t gort__pageheap_scavenge(uint64_t keep) {
    pageheap *h = &gort__heap;
    uint64_t total = 0;
    for (;;) {
        gort__mutex_lock(&h->lock);
        uint64_t k = keep == GORT_SCAVENGE_RETAIN ? retain_locked() : keep;
        if (h->free_pages - h->released_pages <= k) {
            gort__mutex_unlock(&h->lock);
            return total;
        }
        mspan *victim = NULL;
        for (int b = NUM_BINS - 1; b >= 0 && !victim; b--) {
            if (!(nonempty[b / 64] >> (b % 64) & 1))
                continue;
            for (mspan *s = bins[b]; s; s = s->next) {
                arena *a = arena_of(s->base);
                if (bits_count(a->scav, page_index(a, s->base), s->npages) < s->npages) {
                    victim = s;
                    break;
                }
            }
        }
        if (!victim) {
            uint64_t busy = busy_pages;
            gort__mutex_unlock(&h->lock);
            if (busy && keep == 0) {   /* another scavenger is mid-release: wait for it */
                sched_yield();
                continue;
            }
            return total;
        }
        bin_remove(victim);
        victim->state = SPAN_LARGE;   /* busy: not coalescable */
        busy_pages += victim->npages;
        int slot = -1;
        for (int i = 0; i < 4 && slot < 0; i++)
            if (!busy_runs[i])
                busy_runs[slot = i] = victim;
        arena *a = arena_of(victim->base);
        uintptr_t first = page_index(a, victim->base), n = victim->npages;
        /* A private copy of the victim's bits: the words are shared with other spans. */
        uint64_t scav[ARENA_PAGES / 64] = {0};
        for (uintptr_t i = 0; i < n; i++)
            if (bit_get(a->scav, first + i))
                scav[i / 64] |= (uint64_t)1 << (i % 64);
        gort__mutex_unlock(&h->lock);

        uintptr_t released = 0;
        for (uintptr_t i = 0; i < n;) {
            if (bit_get(scav, i)) {
                i++;
                continue;
            }
            uintptr_t j = i;
            while (j < n && !bit_get(scav, j))
                j++;
            gort__os_release((void *)(victim->base + i * PAGE_SIZE), (j - i) * PAGE_SIZE);
            if (gort__settings.hugepages)
                gort__os_nohugepages_around((void *)(victim->base + i * PAGE_SIZE), (j - i) * PAGE_SIZE);
            released += j - i;
            i = j;
        }

        gort__mutex_lock(&h->lock);
        bits_assign(a->scav, first, n, true);
        h->released_pages += released;
        total += released;
        /* Back into the bins, coalescing with whatever was freed meanwhile. */
        busy_pages -= n;
        if (slot >= 0)
            busy_runs[slot] = NULL;
        free_run_locked(victim, false);
        gort__mutex_unlock(&h->lock);
    }
}
