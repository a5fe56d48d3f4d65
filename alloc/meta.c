/* Allocator metadata: a bump allocator over 1 MiB chunks from mmap, plus a free
 * list of span structs (Go's fixalloc).  Metadata is never returned to the OS, so
 * a stale pointer to a span struct is always readable.  See alloc/alloc.c. */
#include "alloc/types.h"

#include <string.h>

#define CHUNK_SIZE ((size_t)1 << 20)

static gort_mutex_t meta_lock = GORT_MUTEX_RANKED(GORT_RANK_META);
static char *chunk_cur, *chunk_end;
static mspan *span_free;   /* recycled span structs (meta_lock) */
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
    if ((size_t)(chunk_end - chunk_cur) < size) {
        char *c = gort__os_reserve(CHUNK_SIZE, 0);
        if (!c)
            gort__fatal("gort: out of memory for allocator metadata");
        chunk_cur = c;   /* page aligned, so every allocation stays line aligned */
        chunk_end = c + CHUNK_SIZE;
    }
    void *p = chunk_cur;
    chunk_cur += size;
    gort__mutex_unlock(&meta_lock);
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

mspan *gort__span_new(void) {
    gort__mutex_lock(&meta_lock);
    mspan *s = span_free;
    if (s)
        span_free = s->next;
    gort__mutex_unlock(&meta_lock);
    if (!s)
        return gort__meta_alloc(sizeof(mspan));
    memset(s, 0, sizeof *s);
    return s;
}

void gort__span_dispose(mspan *s) {
    s->state = SPAN_DEAD;
    SPAN_SET_OWNER(s, NULL);
    gort__mutex_lock(&meta_lock);
    s->next = span_free;
    span_free = s;
    gort__mutex_unlock(&meta_lock);
}

void gort__span_list_push(span_list *l, mspan *s) {
    s->prev = NULL;
    s->next = l->head;
    if (l->head)
        l->head->prev = s;
    l->head = s;
    l->n++;
}

void gort__span_list_remove(span_list *l, mspan *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        l->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    l->n--;
}
