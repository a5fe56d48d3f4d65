/* Finalizers: gort_gc_set_finalizer's records (per span, as Go's specials), the
 * queue of objects found dead, and the thread that runs them.  See "Finalizers" in
 * gc/gc.c.
 *
 * While a record exists, the mark treats what its object reaches (not the object)
 * as reachable, so when the object dies everything its finalizer may touch is
 * still there.  Sweeping a span with records: an unmarked object with a record is
 * moved to the queue and its mark bit set, so it survives this cycle; the queue is
 * a root.  The finalizer thread (a registered mutator) takes one entry at a time
 * and runs fn(obj, arg); the object is then an ordinary object again, freed by the
 * next cycle that finds it unreachable.  Records live outside the GC heap (mmap'd
 * chunks), so they never keep their objects alive themselves.
 *
 * Locks: specials, then finq (ranks in include/gort/internal/lock.h); mutators take
 * them only inside critical sections. */
#include "gc/internal.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

static gort_mutex_t specials_lock = GORT_MUTEX_RANKED(GORT_RANK_GC_SPECIALS);
static gc_special *all_specials;       /* every record, via next_all (specials lock) */
static gc_special *rec_free;           /* recycled records (specials lock) */
static gort_bump_t rec_chunk;        /* specials lock */

static gort_mutex_t finq_lock = GORT_MUTEX_RANKED(GORT_RANK_GC_FINQ);

unsigned gort__gc_finalizer_locks(gort_mutex_t **out) {
    out[0] = &specials_lock;
    out[1] = &finq_lock;
    return 2;
}
static gc_special *finq_head, *finq_tail;   /* finq lock */
static _Atomic uint32_t finq_seq;           /* futex: bumped when the queue grows */
_Atomic uint64_t gort__gc_finalizers_run;
static pthread_once_t finalizer_once = PTHREAD_ONCE_INIT;

static gc_special *rec_new_locked(void) {
    gc_special *r = rec_free;
    if (r) {
        rec_free = r->next;
    } else {
        r = gort__bump_take(&rec_chunk, sizeof *r, (size_t)64 << 10);
        if (!r)
            gort__fatal("gort: gc: out of memory for finalizer records");
    }
    memset(r, 0, sizeof *r);
    return r;
}

static void all_unlink_locked(gc_special *r) {
    if (r->prev_all)
        r->prev_all->next_all = r->next_all;
    else
        all_specials = r->next_all;
    if (r->next_all)
        r->next_all->prev_all = r->prev_all;
    r->next_all = r->prev_all = NULL;
}

static void *finalizer_main(void *arg);

static void finalizer_start(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, finalizer_main, NULL) != 0)
        gort__fatal("gort: gc: cannot start the finalizer thread");
    pthread_attr_destroy(&attr);
}

void gort__gc_scan_object_now(gcwork *w, uintptr_t obj);

void gort_gc_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg) {
    gc_thread *t = gc_self();
    if (!t)
        gort__fatal("gort: gc: gort_gc_set_finalizer: cannot register the calling thread");
    if (fn)
        pthread_once(&finalizer_once, finalizer_start);
    crit_enter(t);
    mspan *s;
    uint32_t idx;
    uintptr_t base = gort__gc_find_object((uintptr_t)obj, &s, &idx);
    if (base != (uintptr_t)obj)
        gort__fatal("gort: gort_gc_set_finalizer(%p): not the start of a GC object%s", obj,
                    base ? " (it points inside one)" : "");
    gort__mutex_lock(&specials_lock);
    gc_special **pp = &s->gcspecials, *r;
    while ((r = *pp) != NULL && r->obj != base)
        pp = &r->next;
    if (!fn) {
        if (r) {
            *pp = r->next;
            all_unlink_locked(r);
            r->next = rec_free;
            rec_free = r;
        }
    } else {
        if (!r) {
            r = rec_new_locked();
            r->obj = base;
            r->next = s->gcspecials;
            s->gcspecials = r;
            r->next_all = all_specials;
            if (all_specials)
                all_specials->prev_all = r;
            all_specials = r;
        }
        r->fn = fn;
        r->arg = arg;
    }
    gort__mutex_unlock(&specials_lock);
    /* A mark may already have passed the records: retain what obj reaches now. */
    if (fn && atomic_load(&gort__gc_phase) != GC_OFF) {
        gort__gc_scan_object_now(&t->p->gcw, base);
        gort__gc_shade(&t->p->gcw, (uintptr_t)arg);
        gort__gc_gcw_dispose(&t->p->gcw);
    }
    crit_exit(t);
}

/* Mark roots (the coordinator, world running). */
void gort__gc_finalizer_roots(gcwork *w) {
    gort__mutex_lock(&specials_lock);
    for (gc_special *r = all_specials; r; r = r->next_all) {
        gort__gc_scan_object_now(w, r->obj);
        gort__gc_shade(w, (uintptr_t)r->arg);
    }
    gort__mutex_unlock(&specials_lock);
    gort__mutex_lock(&finq_lock);
    for (gc_special *r = finq_head; r; r = r->next) {
        gort__gc_shade(w, r->obj);
        gort__gc_shade(w, (uintptr_t)r->arg);
    }
    gort__mutex_unlock(&finq_lock);
}

/* gccheckmark (world stopped): every record and queued entry. */
void gort__gc_finalizer_each(void (*fn)(uintptr_t obj, uintptr_t arg, bool queued, void *ctx), void *ctx) {
    for (gc_special *r = all_specials; r; r = r->next_all)
        fn(r->obj, (uintptr_t)r->arg, false, ctx);
    for (gc_special *r = finq_head; r; r = r->next)
        fn(r->obj, (uintptr_t)r->arg, true, ctx);
}

/* s is being swept by its owner: queue its unmarked finalizable objects. */
GC_NOSAN void gort__gc_finalizer_sweep(mspan *s) {
    bool queued = false;
    gort__mutex_lock(&specials_lock);
    gc_special **pp = &s->gcspecials, *r;
    while ((r = *pp) != NULL) {
        uint32_t idx = s->state == SPAN_GCSMALL ? span_index(s, r->obj) : 0;
        _Atomic uint64_t *mw = (_Atomic uint64_t *)&s->gcmarkbits[GC_BITW(idx / 64)];
        uint64_t bit = (uint64_t)1 << (idx % 64);
        if (atomic_load_explicit(mw, memory_order_relaxed) & bit) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        all_unlink_locked(r);
        atomic_fetch_or_explicit(mw, bit, memory_order_relaxed);   /* survives this cycle */
        r->next = NULL;
        gort__mutex_lock(&finq_lock);
        if (finq_tail)
            finq_tail->next = r;
        else
            finq_head = r;
        finq_tail = r;
        gort__mutex_unlock(&finq_lock);
        queued = true;
    }
    gort__mutex_unlock(&specials_lock);
    if (queued)
        gort__gc_finalizer_wake();
}

void gort__gc_finalizer_wake(void) {
    atomic_fetch_add(&finq_seq, 1);
    gort__futex_wake(&finq_seq, 1);
}

static void wait_queue(void *arg) {
    gort__futex_wait(&finq_seq, *(uint32_t *)arg, -1);
}

/* Take one record off the queue and run it; false if the queue was empty.  Its
 * own function, so that finalizer_main's frame never holds the object: after it
 * returns, the stack below is scrubbed, and the thread waits for the next record
 * without a stale pointer to the last object (and all it reaches) in its frames
 * -- it kept that object alive until the next finalizer ran. */
GORT_NOINLINE static bool run_one(gc_thread *t) {
    crit_enter(t);
    gort__mutex_lock(&finq_lock);
    gc_special *r = finq_head;
    if (r) {
        finq_head = r->next;
        if (!finq_head)
            finq_tail = NULL;
    }
    gort__mutex_unlock(&finq_lock);
    if (!r) {
        crit_exit(t);
        return false;
    }
    uintptr_t obj = r->obj, farg = (uintptr_t)r->arg;
    void (*fn)(void *, void *) = r->fn;
    /* Off the queue (a root) onto this thread's stack: a barrier. */
    if (atomic_load(&gort__gc_phase) != GC_OFF) {
        gort__gc_shade(&t->p->gcw, obj);
        gort__gc_shade(&t->p->gcw, farg);
        gort__gc_gcw_dispose(&t->p->gcw);
    }
    gort__mutex_lock(&specials_lock);
    r->next = rec_free;
    r->obj = 0;
    r->arg = NULL;
    rec_free = r;
    gort__mutex_unlock(&specials_lock);
    crit_exit(t);
    fn((void *)obj, (void *)farg);
    atomic_fetch_add(&gort__gc_finalizers_run, 1);
    return true;
}

static void *finalizer_main(void *arg) {
    (void)arg;
    gort__os_thread_name("gort-finalizer");
    if (gort_gc_register_thread() != 0)
        gort__fatal("gort: gc: the finalizer thread cannot register");
    gc_thread *t = gort__gc_self;
    for (;;) {
        uint32_t seq = atomic_load(&finq_seq);
        if (run_one(t)) {
            gort__gc_scrub_stack(t, 16384);   /* the finalizer's frames, and run_one's */
            continue;
        }
        gort__gc_blocking(t, wait_queue, &seq);
    }
    return NULL;
}
