/* Allocator metadata: a bump allocator over 1 MiB chunks from mmap, plus a free
 * list of span structs (Go's fixalloc).  Metadata is never returned to the OS, so
 * a stale pointer to a span struct is always readable.  See alloc/alloc.c. */
#include "alloc/types.h"

#include <string.h>

#define CHUNK_SIZE ((size_t)1 << 20)

static gort_mutex_t meta_lock = GORT_MUTEX_RANKED(GORT_RANK_META);
static gort_bump_t meta_chunk;   /* meta_lock */
static mspan *span_free[2];   /* recycled span structs, short and big (meta_lock) */
_Atomic uint64_t gort__meta_bytes;

void *gort__meta_alloc(size_t size) {
    /* Cache-line granularity: span structs and caches of different threads must not
     * share a line (false sharing between their owners' fast paths). */
    size = GORT_ROUND_UP(size, GORT_CACHELINE);
    if (size > CHUNK_SIZE / 4) {
        void *p = gort__os_reserve(GORT_ROUND_UP(size, gort__os_page_size()), 0);
        if (!p)
            gort__fatal("gort: out of memory for allocator metadata (%zu bytes)", size);
        atomic_fetch_add(&gort__meta_bytes, size);
        return p;
    }
    gort__mutex_lock(&meta_lock);
    void *p = gort__bump_take(&meta_chunk, size, CHUNK_SIZE);   /* page aligned: allocations stay line aligned */
    gort__mutex_unlock(&meta_lock);
    if (!p)
        gort__fatal("gort: out of memory for allocator metadata");
    atomic_fetch_add(&gort__meta_bytes, size);
    return p;   /* fresh mmap memory: already zero */
}

void gort__meta_fork_lock(void) { gort__mutex_lock(&meta_lock); }
void gort__meta_fork_unlock(int child) {
    if (child)
        atomic_store(&meta_lock.state, 0);
    else
        gort__mutex_unlock(&meta_lock);
}

mspan *gort__span_new(bool big) {
    gort__mutex_lock(&meta_lock);
    mspan *s = span_free[big];
    if (s)
        span_free[big] = s->next;
    gort__mutex_unlock(&meta_lock);
    size_t size = big ? sizeof(mspan) : SPAN_SHORT;
    if (!s)
        s = gort__meta_alloc(size);   /* zero */
    else
        memset(s, 0, size);
    s->big = big;
    return s;
}

void gort__span_dispose(mspan *s) {
    s->state = SPAN_DEAD;
    SPAN_SET_OWNER(s, NULL);
    gort__mutex_lock(&meta_lock);
    s->next = span_free[s->big];
    span_free[s->big] = s;
    gort__mutex_unlock(&meta_lock);
}

void gort__span_list_push(span_list *l, mspan *s) {
    s->prev = NULL;
    s->next = l->head;
    if (l->head)
        l->head->prev = s;
    else
        l->tail = s;
    l->head = s;
    l->n++;
}

void gort__span_list_push_back(span_list *l, mspan *s) {
    s->next = NULL;
    s->prev = l->tail;
    if (l->tail)
        l->tail->next = s;
    else
        l->head = s;
    l->tail = s;
    l->n++;
}

void gort__span_list_remove(span_list *l, mspan *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        l->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        l->tail = s->prev;
    s->next = s->prev = NULL;
    l->n--;
}
