/* Large objects (> 32 KiB, or over-aligned): a span of their own from the page heap;
 * huge ones (more than an arena) get a reservation of their own, unmapped on free.
 * See alloc/alloc.c. */
#include "alloc/types.h"

#include <errno.h>
#include <string.h>

_Atomic int64_t gort__retired_large_bytes;
_Atomic uint64_t gort__retired_large_total;

/* Large-object statistics live in the calling thread's cache, like the small
 * classes' (class 0 of nmalloc/nfree), so a large malloc/free pair makes no atomic
 * read-modify-write for them; stats.c sums the caches. */
static void count_alloc(uintptr_t bytes) {
    gort_cache *c = gort__cache_get();
    STAT_INC(c->nmalloc[0]);
    STAT_ADD(c->large_bytes, (int64_t)bytes);
    STAT_ADD(c->large_total, bytes);
}

static void count_free(uintptr_t bytes) {
    gort_cache *c = gort__cache_get();
    STAT_INC(c->nfree[0]);
    STAT_ADD(c->large_bytes, -(int64_t)bytes);
}

static void *huge_alloc(size_t n, size_t align) {
    uintptr_t npages = GORT_ROUND_UP(n, PAGE_SIZE) >> PAGE_SHIFT;
    size_t bytes = npages * PAGE_SIZE;
    gort__mutex_lock(&gort__heap.lock);
    uintptr_t base = gort__arena_reserve_huge(bytes, align);
    if (!base) {
        gort__mutex_unlock(&gort__heap.lock);
        errno = ENOMEM;
        return NULL;
    }
    mspan *s = gort__span_new(true);
    s->base = base;
    s->npages = npages;
    s->state = SPAN_HUGE;
    s->elemsize = 0;   /* usable size is npages * PAGE_SIZE: may exceed 32 bits */
    s->nelems = 1;
    s->allocbits[0] = 1;
    gort__arena_set_spans(base, npages, s);
    gort__heap.sys_pages += npages;
    gort__heap.inuse_pages += npages;
    gort__mutex_unlock(&gort__heap.lock);
    count_alloc(bytes);
    return (void *)base;   /* fresh mapping: zero */
}

void *gort__large_alloc(size_t n, size_t align, bool zero) {
    if (n > ((size_t)1 << 46)) {   /* more than the address space could hold */
        errno = ENOMEM;
        return NULL;
    }
    if (align < PAGE_SIZE)
        align = PAGE_SIZE;
    uintptr_t npages = GORT_ROUND_UP(n, PAGE_SIZE) >> PAGE_SHIFT;
    uintptr_t align_pages = align >> PAGE_SHIFT;
    if (npages + align_pages - 1 > ARENA_PAGES / 2)
        return huge_alloc(n, align);
    gort_cache *c = gort__tls_cache;
    mspan *s = NULL;
    if (npages <= LARGE_CACHE_PAGES && align_pages == 1 && c->large[npages]) {
        /* A block this thread freed earlier: no page-heap lock. */
        s = c->large[npages];
        c->large[npages] = s->next;
        s->next = NULL;
        c->large_cached -= npages * PAGE_SIZE;
        if (zero)
            memset((void *)s->base, 0, npages * PAGE_SIZE);
    } else {
        s = gort__pageheap_alloc(npages, align_pages, SPAN_LARGE, zero);
        if (!s)
            return NULL;
    }
    __atomic_store_n(&s->cls, 0, __ATOMIC_RELAXED);
    s->elemsize = (uint32_t)(npages * PAGE_SIZE);
    s->nelems = 1;
    s->nalloc = 1;
    SPAN_SET_OWNER(s, NULL);
    span_set_where(s, IN_NONE);
    __atomic_store_n(&s->allocbits[0], 1, __ATOMIC_RELEASE);
    count_alloc(npages * PAGE_SIZE);
    return (void *)s->base;
}

size_t gort__large_size(const mspan *s) {
    return s->npages * PAGE_SIZE;
}

void gort__large_free(mspan *s, void *p) {
    /* One atomic exchange decides between two racing frees of the same block. */
    if (__atomic_exchange_n(&s->allocbits[0], 0, __ATOMIC_ACQ_REL) == 0)
        gort__bad_free(p, "double free", s);
    size_t bytes = s->npages * PAGE_SIZE;
    count_free(bytes);
    if (s->state == SPAN_HUGE) {
        gort__mutex_lock(&gort__heap.lock);
        gort__heap.sys_pages -= s->npages;
        gort__heap.inuse_pages -= s->npages;
        gort__arena_set_spans(s->base, s->npages, NULL);
        gort__arena_release_huge(s->base, bytes);
        gort__mutex_unlock(&gort__heap.lock);
        gort__span_dispose(s);
        return;
    }
    gort_cache *c = gort__tls_cache;
    if (s->npages <= LARGE_CACHE_PAGES && c != &gort__empty_cache &&
        c->large_cached + bytes <= LARGE_CACHE_BYTES) {
        /* Keep it for this thread's next large block of the same size.  It stays a
         * LARGE span with its allocation bit clear, so a second free is still caught. */
        s->next = c->large[s->npages];
        c->large[s->npages] = s;
        c->large_cached += bytes;
        return;
    }
    gort__pageheap_free(s);
}

/* Resize large block p (span s) to n bytes in place if possible; true if done. */
bool gort__large_resize(mspan *s, size_t n) {
    if (s->state != SPAN_LARGE || n <= MAX_SMALL)
        return false;
    uintptr_t npages = GORT_ROUND_UP(n, PAGE_SIZE) >> PAGE_SHIFT;
    uintptr_t old = s->npages;
    if (npages == old)
        return true;
    if (npages < old) {
        gort__pageheap_shrink(s, npages);
    } else if (npages > ARENA_PAGES / 2 || !gort__pageheap_grow_inplace(s, npages)) {
        return false;
    }
    s->elemsize = (uint32_t)(npages * PAGE_SIZE);
    intptr_t delta = ((intptr_t)npages - (intptr_t)old) * (intptr_t)PAGE_SIZE;
    gort_cache *c = gort__cache_get();
    STAT_ADD(c->large_bytes, (int64_t)delta);
    if (delta > 0)
        STAT_ADD(c->large_total, (uint64_t)delta);
    return true;
}
