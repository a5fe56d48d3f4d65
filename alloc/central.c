/* Central (Go's mcentral), per size class: the spans whose owning cache gave them up
 * (its thread exited) and that still hold live objects.  A cache that runs out of
 * room adopts a partial span from here before asking the page heap for a new one.
 * See alloc/alloc.c.
 *
 * An abandoned span has owner NULL and XF_ABANDONED in its xstate; frees into it set
 * their xfreebits lock-free (or adopt it: gort__central_adopt_span).  One in `full`
 * also has XF_FULL: the first free into it clears the flag and calls
 * gort__central_notify, which moves it to `partial`. */
#include "alloc/types.h"

mcentral gort__central[NUM_CLASSES] = {
    [0 ... NUM_CLASSES - 1] = {.lock = GORT_MUTEX_RANKED(GORT_RANK_CENTRAL)},
};

void gort__central_abandon(mspan *s) {
    mcentral *m = &gort__central[s->cls];
    gort__mutex_lock(&m->lock);
    SPAN_SET_OWNER(s, NULL);
    bool full = !s->free && s->bump >= s->limit;
    if (full && gort__span_mark_full(s, XF_ABANDONED)) {
        span_set_where(s, IN_CENTRAL_FULL);
        gort__span_list_push(&m->full, s);
    } else {
        span_set_where(s, IN_CENTRAL_PARTIAL);
        gort__span_list_push(&m->partial, s);
    }
    atomic_store_explicit(&m->npartial, m->partial.n, memory_order_relaxed);
    gort__mutex_unlock(&m->lock);
}

/* cls was read while the freer's block kept s alive; s may have been given back and
 * reused since (its struct stays mapped), so it is moved only if it is still in this
 * class's full list. */
void gort__central_notify(mspan *s, unsigned cls) {
    mcentral *m = &gort__central[cls];
    gort__mutex_lock(&m->lock);
    if (__atomic_load_n(&s->where, __ATOMIC_RELAXED) == IN_CENTRAL_FULL &&
        __atomic_load_n(&s->cls, __ATOMIC_RELAXED) == cls) {
        gort__span_list_remove(&m->full, s);
        span_set_where(s, IN_CENTRAL_PARTIAL);
        gort__span_list_push(&m->partial, s);
    }
    atomic_store_explicit(&m->npartial, m->partial.n, memory_order_relaxed);
    gort__mutex_unlock(&m->lock);
}

mspan *gort__central_adopt(gort_cache *c, unsigned cls) {
    mcentral *m = &gort__central[cls];
    if (!atomic_load_explicit(&m->npartial, memory_order_relaxed))
        return NULL;   /* the common case for a program without exited threads: no lock */
    gort__mutex_lock(&m->lock);
    mspan *s = m->partial.head;
    if (s) {
        gort__span_list_remove(&m->partial, s);
        atomic_store(&s->xstate, 0);
        gort__span_collect(s);
        SPAN_SET_OWNER(s, c);
        span_set_where(s, IN_CURRENT);
        atomic_store_explicit(&m->npartial, m->partial.n, memory_order_relaxed);
    }
    gort__mutex_unlock(&m->lock);
    return s;
}

/* Adopt abandoned span s into cache c because c's thread frees into it (mimalloc's
 * reclaim-on-free): its later frees become local.  True if s is now c's; it is put
 * on c's partial or full list. */
bool gort__central_adopt_span(gort_cache *c, mspan *s) {
    unsigned cls = __atomic_load_n(&s->cls, __ATOMIC_RELAXED);
    if (cls >= NUM_CLASSES)
        return false;   /* s became a GC span meanwhile (its classes go one further) */
    mcentral *m = &gort__central[cls];
    gort__mutex_lock(&m->lock);
    bool ok = SPAN_OWNER(s) == NULL && s->state == SPAN_SMALL && s->cls == cls &&
              (s->where == IN_CENTRAL_PARTIAL || s->where == IN_CENTRAL_FULL);
    if (ok) {
        gort__span_list_remove(s->where == IN_CENTRAL_PARTIAL ? &m->partial : &m->full, s);
        atomic_store_explicit(&m->npartial, m->partial.n, memory_order_relaxed);
        atomic_store(&s->xstate, 0);
        gort__span_collect(s);
        SPAN_SET_OWNER(s, c);
        gort__cache_take_span(c, s);
    }
    gort__mutex_unlock(&m->lock);
    return ok;
}

uint64_t gort__central_reclaim(void) {
    uint64_t pages = 0;
    for (unsigned cls = 1; cls < NUM_CLASSES; cls++) {
        mcentral *m = &gort__central[cls];
        mspan *empty = NULL;
        gort__mutex_lock(&m->lock);
        for (mspan *s = m->partial.head, *next; s; s = next) {
            next = s->next;
            gort__span_collect(s);
            if (s->nalloc == 0) {
                gort__span_list_remove(&m->partial, s);
                span_set_where(s, IN_NONE);
                s->next = empty;
                empty = s;
            }
        }
        atomic_store_explicit(&m->npartial, m->partial.n, memory_order_relaxed);
        gort__mutex_unlock(&m->lock);
        while (empty) {
            mspan *s = empty;
            empty = s->next;
            pages += s->npages;
            gort__pageheap_free(s);
        }
    }
    return pages;
}
