/* Marking: work buffers and their global pool, greying, scanning objects
 * (conservatively, or by a type's pointer mask; large objects in 128 KiB oblets),
 * draining, the background mark workers, and mark assists.  See gc/gc.c.
 *
 * A marker (a background worker, the coordinator, an assisting mutator, a thread
 * flushing its write-barrier buffer) greys objects into its gcwork: two local
 * buffers (Go's wbuf1/wbuf2), full ones going to the pool.  The pool counts the
 * markers that hold work ("active"): a marker becomes active when it takes a full
 * buffer or greys its first object, and inactive when it has disposed of its
 * buffers.  Both transitions happen under the pool lock, so "no full buffer and
 * no active marker" (gort__gc_mark_idle) means no grey object exists anywhere —
 * except in write-barrier buffers, which the termination protocol in gc/gc.c
 * flushes.  Mutators touch the pool only inside critical sections: a stopped
 * thread never holds the pool lock. */
#include "gc/internal.h"

#include <stddef.h>

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKBUF_LEN 510
/* Large objects are scanned in oblets (Go's), each one unit of a drain's work,
 * inside one critical section: so an oblet is what a stop may have to wait for
 * (as ASSIST_SLICE and PSLICE bound the rest).  Go's 128 KiB is 16 Ki words that
 * may each point to a random object: 0.4-1.7 ms of the server workload's mark
 * (its cache's slot array), during which a stop of that M waited; at 8 KiB
 * the same words take a sixteenth of that, 25-110 us.  An oblet at a multiple
 * of OBLET_GROUP oblets from the start (a leader) pushes the group's other
 * oblets and the next leader: a huge object's oblets are pushed a group at a
 * time, not all in one section. */
#define OBLET_BYTES ((uintptr_t)8 << 10)
#define OBLET_GROUP 64

struct workbuf {
    workbuf *next;
    uint64_t n;
    uintptr_t obj[WORKBUF_LEN];
};
_Static_assert(sizeof(workbuf) == 4096, "a work buffer is one page");

static struct {
    gort_mutex_t lock;
    workbuf *full, *empty;        /* lock */
    _Atomic uint64_t nfull;       /* full buffers (written under lock, read racily) */
    int active;                   /* markers holding work (lock) */
} pool = {.lock = GORT_MUTEX_RANKED(GORT_RANK_GC_POOL)};

/* Bumped when the last active marker lets go with no full buffer left (the pool
 * turned idle), or when a full buffer comes while a P is idle (the coordinator
 * enlists it); woken only while the coordinator sleeps on it
 * (gort__gc_mark_wait_idle), so a marker going idle costs no system call. */
static _Atomic uint32_t idle_seq;
static _Atomic int idle_waiting;

static void wake_coordinator(void) {
    atomic_fetch_add(&idle_seq, 1);
    if (atomic_load(&idle_waiting))
        gort__futex_wake(&idle_seq, 1);
}

static _Atomic uint64_t bytes_marked, bytes_black, scan_work;
_Atomic uint64_t gort__gc_bg_cpu_ns, gort__gc_assist_cpu_ns, gort__gc_nassists, gort__gc_nassists_capped;
_Atomic int64_t gort__gc_bg_credit;

/* ---- the pool ----------------------------------------------------------------------- */
/* The pool lock and the idle workers.  An idle worker runs SCHED_IDLE while a
 * mark runs: any thread that wants its CPU preempts it at once, and on a busy
 * machine it may then not run again for many milliseconds.  Preempted holding
 * the pool lock, it would hold up every other marker (an assisting mutator
 * waited 9.5 ms so on pause-stress).  So a marker that finds the lock held, and
 * still held after a short spin, by an idle worker lifts that worker to
 * SCHED_OTHER -- priority inheritance by hand, on contention only -- and the
 * worker lowers itself again when it lets go. */
static _Atomic int mark_running;
static bool set_policy(pid_t tid, int policy);
static __thread pid_t idle_self;            /* this thread's tid, if an idle worker */
static _Atomic pid_t pool_idle_holder;      /* the idle worker holding the pool lock, or 0 */
static _Atomic pid_t pool_lifted;           /* an idle worker lifted while holding it, or 0 */

static void pool_lock(void) {
    if (GORT_UNLIKELY(!gort__mutex_trylock(&pool.lock))) {
        for (int i = 0; i < 200 && atomic_load_explicit(&pool.lock.state, memory_order_relaxed); i++)
            gort__cpu_relax();
        pid_t h = atomic_load_explicit(&pool_idle_holder, memory_order_relaxed);
        pid_t none = 0;
        if (h && atomic_compare_exchange_strong(&pool_lifted, &none, h))
            set_policy(h, SCHED_OTHER);
        gort__mutex_lock(&pool.lock);
    }
    if (idle_self)
        atomic_store_explicit(&pool_idle_holder, idle_self, memory_order_relaxed);
}

static void pool_unlock(void) {
    pid_t me = idle_self;
    if (me)
        atomic_store_explicit(&pool_idle_holder, 0, memory_order_relaxed);
    gort__mutex_unlock(&pool.lock);
    /* Lifted (perhaps just after letting go): back to idle, unless the mark is
     * over (the coordinator lifts idle workers when it ends, see worker_main). */
    if (me && atomic_load_explicit(&pool_lifted, memory_order_relaxed) == me &&
        atomic_compare_exchange_strong(&pool_lifted, &me, 0) && atomic_load(&mark_running))
        set_policy(me, SCHED_IDLE);
}

/* fork takes the plain lock (no marker holds it between cycles, when a fork happens). */
unsigned gort__gc_mark_locks(gort_mutex_t **out) {
    out[0] = &pool.lock;
    return 1;
}

static workbuf *get_empty(void) {
    pool_lock();
    workbuf *b = pool.empty;
    if (b) {
        pool.empty = b->next;
    } else {
        enum { CHUNK = 64 };
        char *c = gort__os_reserve(CHUNK * sizeof(workbuf), 0);
        if (!c)
            gort__fatal("gort: out of memory for mark work buffers");
        for (int i = 1; i < CHUNK; i++) {
            workbuf *e = (workbuf *)(c + i * sizeof(workbuf));
            e->next = pool.empty;
            pool.empty = e;
        }
        b = (workbuf *)c;
    }
    pool_unlock();
    b->n = 0;
    b->next = NULL;
    return b;
}

static void put_empty(workbuf *b) {
    pool_lock();
    b->next = pool.empty;
    pool.empty = b;
    pool_unlock();
}

static void put_full(workbuf *b) {
    pool_lock();
    b->next = pool.full;
    pool.full = b;
    atomic_fetch_add_explicit(&pool.nfull, 1, memory_order_relaxed);
    pool_unlock();
    /* Work for an idle P: the coordinator enlists one (Go's enlistWorker). */
    if (atomic_load_explicit(&idle_waiting, memory_order_relaxed) && gort__gc_mark_work_available() &&
        gort__sched_gc_p_wanted())
        wake_coordinator();
}

static workbuf *try_get_full(gcwork *w) {
    if (!atomic_load_explicit(&pool.nfull, memory_order_relaxed))
        return NULL;
    pool_lock();
    workbuf *b = pool.full;
    if (b) {
        pool.full = b->next;
        atomic_fetch_sub_explicit(&pool.nfull, 1, memory_order_relaxed);
        if (!w->active) {
            w->active = true;
            pool.active++;
        }
    }
    pool_unlock();
    return b;
}

static void activate(gcwork *w) {
    pool_lock();
    pool.active++;
    pool_unlock();
    w->active = true;
}

bool gort__gc_mark_idle(void) {
    pool_lock();
    bool idle = !pool.full && pool.active == 0;
    pool_unlock();
    return idle;
}

/* The waiter announces itself before it looks, the marker bumps idle_seq before
 * it looks for a waiter (both sequentially consistent): either the waiter sees
 * the pool idle, or its futex_wait sees idle_seq changed, or the marker wakes it.
 * A full buffer is put under the pool lock, which gort__gc_mark_idle takes after
 * the announcement: either the waiter sees the buffer, or put_full sees the
 * waiter.  (A P that goes idle later marks by itself: gort__gc_p_idle.) */
void gort__gc_mark_wait_idle(int64_t timeout_ns) {
    uint32_t seq = atomic_load(&idle_seq);
    atomic_store(&idle_waiting, 1);
    if (!gort__gc_mark_idle() && !(gort__gc_mark_work_available() && gort__sched_gc_p_wanted()))
        gort__futex_wait(&idle_seq, seq, timeout_ns);
    atomic_store(&idle_waiting, 0);
}

void gort__gc_gcw_init(gcwork *w) {
    memset(w, 0, sizeof *w);
}

void gort__gc_gcw_dispose(gcwork *w) {
    workbuf *bs[2] = {w->b1, w->b2};
    w->b1 = w->b2 = NULL;
    for (int i = 0; i < 2; i++) {
        if (!bs[i])
            continue;
        if (bs[i]->n)
            put_full(bs[i]);
        else
            put_empty(bs[i]);
    }
    atomic_fetch_add_explicit(&bytes_marked, w->bytes_marked, memory_order_relaxed);
    atomic_fetch_add_explicit(&bytes_black, w->bytes_black, memory_order_relaxed);
    atomic_fetch_add_explicit(&scan_work, w->scan_work, memory_order_relaxed);
    w->bytes_marked = 0;
    w->bytes_black = 0;
    w->scan_work = 0;
    if (w->active) {
        pool_lock();
        bool idle = --pool.active == 0 && !pool.full;
        pool_unlock();
        w->active = false;
        if (idle)
            wake_coordinator();
    }
}

GORT_INLINE void put(gcwork *w, uintptr_t obj) {
    workbuf *b = w->b1;
    if (GORT_UNLIKELY(!b || b->n == WORKBUF_LEN)) {
        if (!w->active)
            activate(w);
        if (!b) {
            w->b1 = b = get_empty();
        } else {
            w->b1 = w->b2;
            w->b2 = b;
            b = w->b1;
            if (!b || b->n == WORKBUF_LEN) {
                if (b)
                    put_full(b);
                w->b1 = b = get_empty();
            }
        }
    } else if (GORT_UNLIKELY(!w->active)) {
        activate(w);
    }
    b->obj[b->n++] = obj;
}

static uintptr_t try_get(gcwork *w) {
    workbuf *b = w->b1;
    if (GORT_LIKELY(b && b->n))
        return b->obj[--b->n];
    workbuf *o = w->b2;
    if (o && o->n) {
        w->b2 = b;
        w->b1 = o;
        return o->obj[--o->n];
    }
    workbuf *f = try_get_full(w);
    if (!f)
        return 0;
    if (b)
        put_empty(b);
    w->b1 = f;
    return f->obj[--f->n];
}

/* Give half of our work to the pool when others are starving (Go's balance). */
static void balance(gcwork *w) {
    workbuf *b2 = w->b2;
    if (b2 && b2->n) {
        put_full(b2);
        w->b2 = get_empty();
        return;
    }
    workbuf *b1 = w->b1;
    if (b1 && b1->n > 4) {
        workbuf *h = get_empty();
        uint64_t k = b1->n / 2;
        memcpy(h->obj, b1->obj + b1->n - k, k * sizeof(uintptr_t));
        h->n = k;
        b1->n -= k;
        put_full(h);
    }
}

/* ---- greying ---------------------------------------------------------------------------- */
/* Grey what p points into, in s = span_of(p) (non-NULL). */
GC_NOSAN GORT_INLINE void shade_in(gcwork *w, mspan *s, uintptr_t p) {
    /* A plain load (the page heap writes states under its lock with plain stores;
     * an atomic load here would be a "race" to TSan), then acquire ordering. */
    uint8_t st = *(volatile uint8_t *)&s->state;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint32_t idx;
    uintptr_t base, size;
    if (GORT_LIKELY(st == SPAN_GCSMALL)) {
        const uint64_t *ab = __atomic_load_n(&s->gcallocbits, __ATOMIC_ACQUIRE);
        if (!ab)
            return;   /* not published yet: nothing in it is allocated */
        idx = DIV_INDEX(span_divide(s, p));
        if (idx >= s->nelems)
            return;
        if (!((ab[GC_BITW(idx / 64)] >> (idx % 64)) & 1)) {
            /* Not allocated at the last sweep: free, or allocated since.  Below
             * gcblackfrom (which never passes gcfreeindex) it was allocated before
             * this mark: white.  At or above it, it is free or was allocated during
             * this mark -- black, its bit set when its P lets go of the span
             * (alloc/gcheap.c, "Allocate-black in bulk") -- nothing to do either
             * way, so a marker never reads gcfreeindex, the line its owner writes
             * at every allocation. */
            if (idx >= atomic_load_explicit(&s->gcblackfrom, memory_order_acquire))
                return;
        }
        base = s->base + (uintptr_t)idx * s->elemsize;
        size = s->elemsize;
    } else if (st == SPAN_GCLARGE || st == SPAN_GCHUGE) {
        const uint64_t *ab = __atomic_load_n(&s->gcallocbits, __ATOMIC_ACQUIRE);
        if (!ab || !(__atomic_load_n(&ab[0], __ATOMIC_ACQUIRE) & 1))
            return;
        idx = 0;
        base = s->base;
        size = s->npages * PAGE_SIZE;
    } else {
        return;
    }
    _Atomic uint64_t *mw = (_Atomic uint64_t *)&s->gcmarkbits[GC_BITW(idx / 64)];
    uint64_t bit = (uint64_t)1 << (idx % 64);
    if (atomic_load_explicit(mw, memory_order_relaxed) & bit)
        return;
    /* Go's greyobject: test, then set without asking whether we set it (an OR
     * whose old value is unused is one locked instruction, not a compare-and-swap
     * loop).  Two markers that race here both grey the object: it is scanned
     * twice and its bytes counted twice, which is rare and harmless. */
    atomic_fetch_or_explicit(mw, bit, memory_order_relaxed);
    w->bytes_marked += size;
    if (s->gckind != GC_NOSCAN)
        put(w, base);
}

GC_NOSAN GORT_INLINE void shade_inline(gcwork *w, uintptr_t p) {
    mspan *s = span_of(p);
    if (s)
        shade_in(w, s, p);
}

/* Pointers a drain finds in an object are shaded SHADE_DEPTH pointers later,
 * their spans' two lines prefetched meanwhile: the drain's object FIFO hides
 * the miss on the object, this the misses on the span of what it points to
 * (its first line, and the line with the bitmaps' addresses).  head and tail
 * run free; the queue holds tail - head pointers. */
#define SHADE_DEPTH 16
typedef struct shadeq {
    struct { uintptr_t v; mspan *s; } e[SHADE_DEPTH];   /* a pointer and its span */
    unsigned head, tail;
} shadeq;

/* Shade v (a word that may point into the arenas): through q if the caller
 * drains, at once if q is NULL (roots). */
GC_NOSAN GORT_INLINE void shade_soon(gcwork *w, shadeq *q, uintptr_t v) {
    mspan *s = span_of(v);
    if (!s)
        return;
    if (!q) {
        shade_in(w, s, v);
        return;
    }
    __builtin_prefetch(s);
    __builtin_prefetch((const char *)s + offsetof(mspan, gcallocbits));
    unsigned i = q->tail % SHADE_DEPTH;
    if (q->tail - q->head == SHADE_DEPTH) {   /* full: the oldest's slot takes the new one */
        q->head++;
        shade_in(w, q->e[i].s, q->e[i].v);
    }
    q->e[i].v = v;
    q->e[i].s = s;
    q->tail++;
}

GC_NOSAN static void shade_soon_flush(gcwork *w, shadeq *q) {
    for (; q->head != q->tail; q->head++) {
        unsigned i = q->head % SHADE_DEPTH;
        shade_in(w, q->e[i].s, q->e[i].v);
    }
}

/* Greys the pointers v[0..n) that are GC objects, n <= SHADE_BATCH: the write
 * barrier's buffer, random pointers.  Shading one is a chain of dependent misses
 * on a heap bigger than the cache (the page's span entry, the span, the bitmap
 * line): shaded one by one, a 512-entry flush took 19 us of the mutator's time
 * at 1 GiB live, a quarter of its time during a mark (pause-stress).  So a first
 * pass finds every pointer's span and prefetches its two lines, the lookups in
 * flight together, and a second shades: 11 us.  A third pass prefetching the
 * bitmap words (7.7 us) cost GCBench 9% of its CPU time (its buffers point into
 * spans already cached), a pass prefetching the span entries gained nothing. */
GC_NOSAN void gort__gc_shade_batch(gcwork *w, const uintptr_t *v, uint32_t n) {
    mspan *sp[SHADE_BATCH];
    uintptr_t alo = __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED);
    uintptr_t an = __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED);
    GORT_DASSERT(n <= SHADE_BATCH);
    for (uint32_t i = 0; i < n; i++) {
        mspan *s = GC_MAYBE_HEAP(v[i], alo, an) ? span_of(v[i]) : NULL;
        sp[i] = s;
        if (s) {
            __builtin_prefetch(s);
            __builtin_prefetch((const char *)s + offsetof(mspan, gcallocbits));
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (sp[i])
            shade_in(w, sp[i], v[i]);
}

GC_NOSAN void gort__gc_shade(gcwork *w, uintptr_t p) {
    if (GC_MAYBE_HEAP(p, __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED),
                      __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED)))
        shade_inline(w, p);
}

/* Scan the words [lo, hi) conservatively.  own, if not NULL, is the small span
 * the words belong to (an object's): a pointer into it is shaded at once.  Trees
 * and lists are allocated a node after another, so most of a node's pointers
 * fall in its own span, whose lines the scan has just used: the lookup and the
 * queue that hide a miss on another span's lines would only cost (binary-trees,
 * callgrind: mark instructions per marked MiB -18%). */
GC_NOSAN GORT_INLINE void scan_words(gcwork *w, shadeq *q, uintptr_t lo, uintptr_t hi, mspan *own) {
    uintptr_t alo = __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED);
    uintptr_t an = __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED);
    uintptr_t sb = own ? own->base : 0, sn = own ? (uintptr_t)own->nelems * own->elemsize : 0;
    for (const uintptr_t *p = (const uintptr_t *)lo; p < (const uintptr_t *)hi; p++) {
        uintptr_t v = *p;
        if (v - sb < sn)
            shade_in(w, own, v);
        else if (GC_MAYBE_HEAP(v, alo, an))
            shade_soon(w, q, v);
    }
}

GC_NOSAN void gort__gc_scan_range(gcwork *w, uintptr_t lo, uintptr_t hi) {
    lo = GORT_ROUND_UP(lo, sizeof(uintptr_t));
    hi = GORT_ROUND_DOWN(hi, sizeof(uintptr_t));
    if (lo < hi)
        scan_words(w, NULL, lo, hi, NULL);
}

/* Scan [b, b + n) of an object of type ty whose element grid starts at off0 bytes
 * before b's offset within the object (b - base = off0). */
GC_NOSAN static void scan_typed(gcwork *w, shadeq *q, uintptr_t b, uintptr_t n, uintptr_t off0,
                                const gort_gc_type_t *ty) {
    uintptr_t esize = ty->size;
    if (esize < sizeof(uintptr_t) || esize % sizeof(uintptr_t))
        return;   /* no room for an aligned pointer: nothing to scan */
    uintptr_t ewords = esize / sizeof(uintptr_t);
    const uint64_t *mask = ty->ptrmask;
    uintptr_t alo = __atomic_load_n(&gort__gc_arena_lo, __ATOMIC_RELAXED);
    uintptr_t an = __atomic_load_n(&gort__gc_arena_n, __ATOMIC_RELAXED);
    uintptr_t end = b + n;
    if (GORT_LIKELY(off0 == 0 && ewords <= 64)) {
        /* A small object, or an array of small elements from its start: one
         * mask word per element, and only the last element can be cut short
         * (a size class's slack past the last element reads as a cut one). */
        uint64_t m0 = mask[0] & (ewords == 64 ? ~(uint64_t)0 : ((uint64_t)1 << ewords) - 1);
        for (uintptr_t elem = b; elem < end; elem += esize) {
            uint64_t bits = m0;
            if (GORT_UNLIKELY(end - elem < esize))
                bits &= ((uint64_t)1 << ((end - elem) / sizeof(uintptr_t))) - 1;
            while (bits) {
                uintptr_t v = ((const uintptr_t *)elem)[__builtin_ctzll(bits)];
                bits &= bits - 1;
                if (GC_MAYBE_HEAP(v, alo, an))
                    shade_soon(w, q, v);
            }
        }
        return;
    }
    uintptr_t e0 = off0 / esize;
    uintptr_t elem = b - (off0 - e0 * esize);   /* start of the element containing b */
    for (; elem < end; elem += esize) {
        for (uintptr_t mw = 0; mw * 64 < ewords; mw++) {
            uint64_t bits = mask[mw];
            while (bits) {
                uintptr_t i = mw * 64 + (uintptr_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                if (i >= ewords)
                    break;
                uintptr_t a = elem + i * sizeof(uintptr_t);
                if (a < b || a >= end)
                    continue;
                uintptr_t v = *(const uintptr_t *)a;
                if (GC_MAYBE_HEAP(v, alo, an))
                    shade_soon(w, q, v);
            }
        }
    }
}

/* Scan a large object's oblet at b (s is its span), pushing the next group of
 * oblets when b leads one (the object's start is the first leader). */
GC_NOSAN static void scan_large(gcwork *w, shadeq *q, mspan *s, uintptr_t b) {
    uintptr_t base = s->base, size = GORT_ROUND_UP(s->gcobjsize, sizeof(uintptr_t));
    uintptr_t end = base + size;
    if ((b - base) % (OBLET_GROUP * OBLET_BYTES) == 0) {
        uintptr_t last = b + OBLET_GROUP * OBLET_BYTES;   /* the next leader, pushed too */
        for (uintptr_t o = b + OBLET_BYTES; o <= last && o < end; o += OBLET_BYTES)
            put(w, o);
    }
    uintptr_t n = end - b < OBLET_BYTES ? end - b : OBLET_BYTES;
    w->scan_work += n;
    if (s->gckind == GC_CONS)
        scan_words(w, q, b, b + n, NULL);
    else if (s->gckind == GC_TYPED && s->gctype)
        scan_typed(w, q, b, n, b - base, s->gctype);
}

/* Scan the object (or oblet) at b, in span s, pushed by shade or by oblet
 * splitting.  Inlined into the drain: a small object's scan is a few dozen
 * instructions, and the call's own cost was a fifth of them.  Not in sanitizer
 * builds: the drain is instrumented, and inlined into it these reads of the
 * program's memory would be too (GC_NOSAN holds for a function's own body). */
#if defined(GORT_ASAN) || defined(GORT_TSAN)
#define SCAN_INLINE static __attribute__((noinline))
#else
#define SCAN_INLINE GORT_INLINE
#endif
GC_NOSAN SCAN_INLINE void scan_object(gcwork *w, shadeq *q, mspan *s, uintptr_t b) {
    uint8_t st = *(volatile uint8_t *)&s->state;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (GORT_UNLIKELY(st != SPAN_GCSMALL)) {
        if (st != SPAN_GCLARGE && st != SPAN_GCHUGE)
            gort__fatal("gort: gc: scanning %p, which is not in a GC span (state %u)", (void *)b, st);
        scan_large(w, q, s, b);
        return;
    }
    uintptr_t n = s->elemsize;
    w->scan_work += n;
    if (GORT_LIKELY(s->gckind == GC_CONS)) {
        scan_words(w, q, b, b + n, s);
    } else if (s->gckind == GC_TYPED) {
        /* Most spans hold one type: no miss on the per-object array. */
        const gort_gc_type_t *ty = __atomic_load_n(&s->gctype, __ATOMIC_ACQUIRE);
        if (ty == &gort__gc_type_mixed)
            ty = s->gctypes[span_index(s, b)];
        if (ty)
            scan_typed(w, q, b, n, 0, ty);
    }
}

/* Scan obj's contents now without marking obj (set_finalizer during a mark). */
GC_NOSAN void gort__gc_scan_object_now(gcwork *w, uintptr_t obj) {
    mspan *s = span_of(obj);
    if (!s || !span_is_gc(s) || s->gckind == GC_NOSCAN)
        return;
    /* A large object's first group of oblets is pushed, and through it the rest. */
    scan_object(w, NULL, s, obj);
}

/* Draining goes through a small FIFO of objects already prefetched (Cher, Hosking
 * and Vijaykumar's prefetch-on-grey): an object taken from the work buffers is
 * prefetched and scanned PREFETCH_DEPTH objects later, when its line has arrived.
 * The buffers are LIFO, so without it each scan starts with a miss on the object
 * just pushed.  Objects in the FIFO are still this marker's work (it stays active).
 * 32 deep: a miss to memory is several hundred ns and a small object's scan a few
 * dozen; GCBench's CPU (median of 9) was 0.36 s at 8, 0.33 at 32, 0.32 at 64,
 * binary-trees depth 18 1.37 s at 8, 1.30 at 32.  Each entry keeps the object's
 * span, looked up once. */
#define PREFETCH_DEPTH 32

/* The drain proper.  t: the thread draining inside a critical section (a
 * mutator's assist, a P's mark slice), or NULL.  A budgeted drain on such a
 * thread also ends when a stop is waiting for it (crit_exit's test):
 * the stop then waits for one object, at most an 8 KiB oblet, instead of the
 * whole budget.  A P marks 64 KiB per critical section (PSLICE), and 64 KiB of
 * the server's pointer-dense cache array, a miss per word, took 0.2-0.8 ms:
 * its largest times to safe point. */
GORT_INLINE bool drain(gcwork *w, int64_t budget, gc_thread *t) {
    uint64_t start = w->scan_work;
    struct { uintptr_t b; mspan *s; } fifo[PREFETCH_DEPTH];
    unsigned head = 0, tail = 0;   /* free-running: tail - head objects */
    shadeq soon = {.head = 0, .tail = 0};
    for (;;) {
        uintptr_t b = try_get(w);
        uintptr_t x;
        mspan *xs;
        if (b) {
            __builtin_prefetch((const void *)b);
            /* And, in a span of mixed types (only a typed small span's gctype
             * is ever that), the object's type. */
            mspan *bs = span_of(b);
            if (__atomic_load_n(&bs->gctype, __ATOMIC_RELAXED) == &gort__gc_type_mixed)
                __builtin_prefetch(&bs->gctypes[span_index(bs, b)]);
            unsigned i = tail++ % PREFETCH_DEPTH;
            if (tail - head <= PREFETCH_DEPTH) {
                fifo[i].b = b;
                fifo[i].s = bs;
                continue;
            }
            head++;   /* full: the oldest's slot (i) takes the new one */
            x = fifo[i].b;
            xs = fifo[i].s;
            fifo[i].b = b;
            fifo[i].s = bs;
        } else if (head != tail) {
            unsigned i = head++ % PREFETCH_DEPTH;
            x = fifo[i].b;
            xs = fifo[i].s;
        } else if (soon.head != soon.tail) {
            shade_soon_flush(w, &soon);   /* may grey more */
            continue;
        } else {
            return true;
        }
        scan_object(w, &soon, xs, x);
        if (budget >= 0 && ((int64_t)(w->scan_work - start) >= budget ||
                            (t && GORT_UNLIKELY(GORT_GCM_STOP_WAITING(t))))) {
            shade_soon_flush(w, &soon);
            for (; head != tail; head++)
                put(w, fifo[head % PREFETCH_DEPTH].b);
            return false;
        }
        if (GORT_UNLIKELY(!atomic_load_explicit(&pool.nfull, memory_order_relaxed)))
            balance(w);
    }
}

bool gort__gc_drain(gcwork *w, int64_t budget) { return drain(w, budget, NULL); }

uint64_t gort__gc_mark_bytes(void) { return atomic_load(&bytes_marked); }
uint64_t gort__gc_black_bytes(void) { return atomic_load(&bytes_black); }
uint64_t gort__gc_scan_work(void) { return atomic_load(&scan_work); }

/* At sweep termination (world stopped). */
void gort__gc_mark_prepare(void) {
    atomic_store(&bytes_marked, 0);
    atomic_store(&bytes_black, 0);
    atomic_store(&scan_work, 0);
    atomic_store(&gort__gc_bg_credit, 0);
    GORT_ASSERT(!pool.full && pool.active == 0);
}

/* ---- the write-barrier buffer ------------------------------------------------------------ */
void gort__gc_flush_wbuf(gc_p *p, gcwork *w) {
    uint32_t n = p->wbn;
    p->wbn = 0;
    for (uint32_t i = 0; i < n; i += SHADE_BATCH)
        gort__gc_shade_batch(w, p->wb + i, n - i < SHADE_BATCH ? n - i : SHADE_BATCH);
}

/* ---- background workers --------------------------------------------------------------------
 * Go runs 25% of the Ps as mark workers: floor(0.25 P + 0.5) dedicated ones, or, when
 * that rounding is more than 30% off, a fractional worker for the remainder.  Here
 * workers are threads: `dedicated` threads that mark flat out, and one fractional
 * thread that keeps its CPU time, together with the idle workers', at `fraction`
 * of the wall time of the mark.
 *
 * Go also marks on idle Ps (gcMarkWorkerIdleMode).  Here the rest of the CPUs get
 * idle workers: threads under SCHED_IDLE, which Linux runs only on a CPU nothing
 * else wants, so they take no time from mutators yet finish the mark sooner when a
 * CPU is free (less floating garbage, fewer assists).  GORT_DEBUG=gcidlemark=0
 * turns them off. */
static int dedicated;
static double fraction;
static _Atomic uint32_t mark_epoch;      /* futex: bumped when a mark starts or stops */
static _Atomic int workers_busy;         /* workers inside a mark (not parked between marks) */
static _Atomic int64_t mark_start_ns;   /* read by the Ps (relaxed: set before gort__gc_pmark) */
static _Atomic int64_t idle_busy_ns;    /* the idle workers' marking this mark */

static void sleep_ns(int64_t ns) {
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    nanosleep(&ts, NULL);
}

enum { W_DEDICATED, W_FRACTIONAL, W_IDLE };

/* Go's rule for the background 25% of n CPUs: floor(0.25 n + 0.5) dedicated
 * workers, one fewer when that is more than 30% over the goal; *frac gets the
 * rest of the goal, for fractional work. */
static int dedicated_workers(int n, double *frac) {
    double goal = 0.25 * n;
    int ded = (int)(goal + 0.5);
    if (ded > 0 && (double)ded / goal - 1 > 0.3)
        ded--;
    *frac = goal - ded;
    return ded;
}

/* Background scan work earns allocation credit that assists can spend. */
static void earn_bg_credit(int64_t scanned) {
    double wpb = gort__gc_assist_work_per_byte();
    if (wpb > 0)
        atomic_fetch_add(&gort__gc_bg_credit, (int64_t)((double)scanned / wpb));
}

/* An idle worker is SCHED_IDLE only while a mark runs: the coordinator waits for
 * every worker to leave the mark (gort__gc_workers_stop), and a SCHED_IDLE thread
 * on a busy machine may not run for a long time — the next cycle would wait behind
 * it (priority inversion).  So the coordinator lifts idle workers back to normal
 * when the mark ends, and each one lowers itself again when the next one starts. */
#define MAX_IDLE_WORKERS 64
static _Atomic pid_t idle_tids[MAX_IDLE_WORKERS];
static _Atomic int nidle;

static bool set_policy(pid_t tid, int policy) {
    struct sched_param sp = {0};
    return sched_setscheduler(tid, policy, &sp) == 0;
}

static void *worker_main(void *arg) {
    int kind = (int)(uintptr_t)arg;
    bool frac = kind == W_FRACTIONAL;
    gort__os_thread_name(kind == W_IDLE ? "gort-markidle" : "gort-mark");
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (kind == W_IDLE) {
        if (!set_policy(tid, SCHED_IDLE) || !set_policy(tid, SCHED_OTHER))
            return NULL;   /* not allowed here: the 25% share still marks */
        int i = atomic_fetch_add(&nidle, 1);
        if (i >= MAX_IDLE_WORKERS)
            return NULL;
        atomic_store(&idle_tids[i], tid);
        idle_self = tid;
    }
    uint32_t seen = 0;
    for (;;) {
        uint32_t e = atomic_load(&mark_epoch);
        if (e == seen || !atomic_load(&mark_running)) {
            gort__futex_wait(&mark_epoch, e, -1);
            continue;
        }
        seen = e;
        atomic_fetch_add(&workers_busy, 1);
        if (kind == W_IDLE)
            set_policy(tid, SCHED_IDLE);
        gcwork w;
        gort__gc_gcw_init(&w);
        int64_t cpu0 = gort__gc_thread_cpu_ns(), busy = 0;
        while (atomic_load(&mark_running) && atomic_load(&mark_epoch) == seen) {
            if (frac) {
                /* The idle workers' time counts: when they mark on a CPU
                 * nothing else wants, the fractional worker need not take a
                 * share of one a mutator wants (on two CPUs and one mutator,
                 * Linux kept it on the mutator's CPU, in 4 ms turns, while the
                 * idle worker had the other CPU). */
                int64_t elapsed = gort__nanotime() - mark_start_ns;
                double allowed = fraction * (double)elapsed;
                double done = (double)(busy + atomic_load_explicit(&idle_busy_ns, memory_order_relaxed));
                if (done > allowed) {
                    gort__gc_gcw_dispose(&w);
                    int64_t wait = (int64_t)((done - allowed) / fraction);
                    sleep_ns(wait < 20000 ? 20000 : wait > 2000000 ? 2000000 : wait);
                    continue;
                }
            }
            int64_t c0 = gort__gc_thread_cpu_ns();
            uint64_t sw = w.scan_work;
            bool dry = gort__gc_drain(&w, frac ? 64 << 10 : 256 << 10);
            earn_bg_credit((int64_t)(w.scan_work - sw));
            int64_t c1 = gort__gc_thread_cpu_ns();
            busy += c1 - c0;
            if (kind == W_IDLE)
                atomic_fetch_add_explicit(&idle_busy_ns, c1 - c0, memory_order_relaxed);
            if (dry) {
                gort__gc_gcw_dispose(&w);
                sleep_ns(50000);
            } else if (frac) {
                /* Turns of a short drain, not of the kernel's 3-4 ms slices: a
                 * mutator sharing the CPU waits for one drain at most. */
                sched_yield();
            }
        }
        gort__gc_gcw_dispose(&w);
        uint64_t used = (uint64_t)(gort__gc_thread_cpu_ns() - cpu0);
        atomic_fetch_add(&gort__gc_bg_cpu_ns, used);
        if (kind == W_IDLE)
            atomic_fetch_add(&gort__gc_idle_cpu_ns, used);
        atomic_fetch_sub(&workers_busy, 1);
    }
    return NULL;
}

static pthread_once_t workers_once = PTHREAD_ONCE_INIT;

static void workers_create(void) {
    dedicated = dedicated_workers(gort__gc_ncpu, &fraction);
    if (fraction < 0.05)
        fraction = 0;
    int n = dedicated + (fraction > 0 ? 1 : 0);
    int idle = gort__settings.gcidlemark ? gort__gc_ncpu - n : 0;
    for (int i = 0; i < n + idle; i++) {
        int kind = i < dedicated ? W_DEDICATED : i < n ? W_FRACTIONAL : W_IDLE;
        if (gort__os_thread_start(worker_main, (void *)(uintptr_t)kind, 0) != 0)
            gort__fatal("gort: cannot start a GC mark worker");
    }
}

/* ---- workers on Ps ---------------------------------------------------------------------------
 * While gort_main runs, the background share comes from its Ps instead of the
 * threads above (which would compete with the Ms for the CPUs): Go's rule picks
 * floor(0.25 P + 0.5) dedicated Ps, or a fractional goal per P when that is more
 * than 30% off.  schedule() calls gort__gc_p_background on every pass through g0
 * (forced every 8th switch during a mark, gort__sched_next_direct): the first Ps
 * to come claim the dedicated slots and mark until the pool runs dry (10 ms at a
 * time, so that their goroutines still run); the others mark while their own
 * mark time is under the fractional goal times the mark's wall time.  A P with
 * nothing to run marks instead of sleeping (Go's idle workers).  All of it runs
 * on the M's g0, in critical sections of 64 KiB of scan work, with the P's work
 * buffers (a P marks when they or the pool hold work).
 *
 * A goroutine that never blocks (binary-trees' builders) seldom goes through
 * schedule(): its P's share went unpaid, the mark fell to assists alone and
 * lasted longer, with more allocated black meanwhile.  So sysmon preempts a P's
 * goroutine when the share owes a slice (gort__gc_p_owes_mark), and the
 * preempted goroutine goes through g0 (sched/g.c, gort__sched_preempt_yield);
 * it is taken at the next safe point, which for a goroutine allocating GC
 * objects is the allocation slow path (alloc/gcheap.c, alloc_bail).
 * binary-trees with goroutines, depth 18: background mark time per cycle went
 * from 0.3-1 ms to 6-7 ms (P=2), peak RSS -25-30% at P=1 and P=2. */
_Atomic int gort__gc_pmark;
static _Atomic int sched_procs;
static _Atomic int ded_left;
static _Atomic int64_t pfraction_ppm;   /* each P's fractional goal, in millionths */

static void os_workers_wake(void);

/* The scheduler's Ps go away (gort_main's main goroutine returned): a mark that
 * counted on them finishes on the collector's own workers. */
void gort__gc_sched_procs(int nprocs) {
    atomic_store(&sched_procs, nprocs);
    if (nprocs == 0 && atomic_exchange(&gort__gc_pmark, 0))
        os_workers_wake();
}

#define PSLICE ((int64_t)64 << 10)
/* A fractional share is paid in slices of at most 200 us: a P whose goroutines
 * rarely switch (binary-trees' builders) comes through schedule() seldom, and
 * paid what it owed at once -- up to 2 ms, a stall its goroutines see
 * (binary-trees P=1: largest gap between progress stamps 2.0-6.8 ms at 2 ms
 * slices, 0.76-0.98 ms at 200 us; wall time the same).  What a P cannot pay
 * in slices, assists pay in small pieces. */
#define FRAC_SLICE_NS ((int64_t)200000)

/* One critical section of marking with t's P's buffers (assists, workers on Ps):
 * scan at most budget bytes, less if a stop comes for t meanwhile.  Returns -1
 * if the mark is over, 1 if the work ran out, 0 otherwise; *scanned gets the
 * bytes scanned. */
static int mark_slice(gc_thread *t, int64_t budget, int64_t *scanned) {
    gc_p *p = t->p;
    crit_enter(t);
    if (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) != GC_MARK) {
        gort__gc_gcw_dispose(&p->gcw);
        crit_exit(t);
        *scanned = 0;
        return -1;
    }
    uint64_t sw = p->gcw.scan_work;
    bool dry = drain(&p->gcw, budget, t);
    *scanned = (int64_t)(p->gcw.scan_work - sw);
    if (dry)
        gort__gc_gcw_dispose(&p->gcw);
    crit_exit(t);
    return dry;
}

/* Mark on t's P until deadline (ns) or no work; returns the time spent. */
static int64_t p_mark(gc_thread *t, int64_t deadline, bool (*stop)(void *), void *arg) {
    gc_p *p = t->p;
    int64_t t0 = gort__nanotime(), now = t0;
    for (;;) {
        int64_t scanned;
        int r = mark_slice(t, PSLICE, &scanned);
        if (r < 0)
            break;
        earn_bg_credit(scanned);
        now = gort__nanotime();
        if (r > 0 || now >= deadline || (stop && stop(arg)))
            break;
    }
    crit_enter(t);
    gort__gc_gcw_dispose(&p->gcw);
    crit_exit(t);
    atomic_fetch_add(&gort__gc_bg_cpu_ns, (uint64_t)(now - t0));
    return now - t0;
}

/* The P's own buffers hold grey objects (its owner only). */
static bool gcw_has_work(const gcwork *w) {
    return (w->b1 && w->b1->n) || (w->b2 && w->b2->n);
}

/* What a P whose share has paid done ns this mark still owes at time now (ns;
 * negative when ahead). */
static double frac_owed(int64_t now, int64_t done) {
    double frac = (double)atomic_load_explicit(&pfraction_ppm, memory_order_relaxed) * 1e-6;
    return frac * (double)(now - atomic_load_explicit(&mark_start_ns, memory_order_relaxed)) - (double)done;
}

bool gort__gc_p_background(gort__gcm_hdr_t *h, bool (*stop)(void *), void *arg) {
    gc_thread *t = (gc_thread *)(void *)h;
    gc_p *p = t->p;
    if (!atomic_load_explicit(&pool.nfull, memory_order_relaxed) && !gcw_has_work(&p->gcw))
        return false;
    uint32_t cyc = atomic_load_explicit(&gort__gc_cycle, memory_order_relaxed);
    if (p->mw_cycle != cyc) {
        int d = atomic_load(&ded_left);
        while (d > 0 && !atomic_compare_exchange_weak(&ded_left, &d, d - 1))
            ;
        /* Read by sysmon (gort__gc_p_owes_mark): relaxed atomics. */
        __atomic_store_n(&p->mw_ns, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&p->mw_dedicated, d > 0, __ATOMIC_RELAXED);
        __atomic_store_n(&p->mw_cycle, cyc, __ATOMIC_RELEASE);
    }
    int64_t now = gort__nanotime(), deadline;
    if (p->mw_dedicated) {
        deadline = now + 10000000;
    } else {
        double allowed = frac_owed(now, p->mw_ns);
        if (allowed < 20000)
            return false;
        deadline = now + (allowed > FRAC_SLICE_NS ? FRAC_SLICE_NS : (int64_t)allowed);
    }
    __atomic_store_n(&p->mw_ns, p->mw_ns + p_mark(t, deadline, stop, arg), __ATOMIC_RELAXED);
    return true;
}

bool gort__gc_p_owes_mark(void *gcp, int64_t now) {
    gc_p *p = gcp;
    if (!atomic_load_explicit(&gort__gc_pmark, memory_order_relaxed))
        return false;
    int64_t done = 0;
    if (__atomic_load_n(&p->mw_cycle, __ATOMIC_ACQUIRE) == atomic_load_explicit(&gort__gc_cycle, memory_order_relaxed)) {
        if (__atomic_load_n(&p->mw_dedicated, __ATOMIC_RELAXED))
            return false;   /* it claimed a dedicated slot: it marks at its next pass */
        done = __atomic_load_n(&p->mw_ns, __ATOMIC_RELAXED);
    }
    return frac_owed(now, done) >= FRAC_SLICE_NS;
}

bool gort__gc_mark_work_available(void) {
    return atomic_load_explicit(&gort__gc_pmark, memory_order_relaxed) &&
           atomic_load_explicit(&pool.nfull, memory_order_relaxed);
}

bool gort__gc_p_idle(gort__gcm_hdr_t *h, bool (*runnable)(void *), void *arg) {
    gc_thread *t = (gc_thread *)(void *)h;
    if (!atomic_load_explicit(&pool.nfull, memory_order_relaxed))
        return false;
    atomic_fetch_add(&gort__gc_idle_cpu_ns, (uint64_t)p_mark(t, INT64_MAX, runnable, arg));
    return true;
}

void gort__gc_workers_start(void) {
    atomic_store(&idle_busy_ns, 0);
    mark_start_ns = gort__nanotime();
    int np = atomic_load(&sched_procs);
    if (np > 0) {
        double frac;
        atomic_store(&ded_left, dedicated_workers(np, &frac));
        atomic_store(&pfraction_ppm, (int64_t)(frac / np * 1e6));
        atomic_store(&gort__gc_pmark, 1);
        return;
    }
    os_workers_wake();
}

static void os_workers_wake(void) {
    pthread_once(&workers_once, workers_create);
    atomic_store(&mark_running, 1);
    atomic_fetch_add(&mark_epoch, 1);
    gort__futex_wake(&mark_epoch, 1 << 20);
}

/* Tell the workers the mark is over (with the world stopped: no waiting). */
void gort__gc_workers_stop_async(void) {
    atomic_store(&gort__gc_pmark, 0);
    atomic_store(&mark_running, 0);
    atomic_fetch_add(&mark_epoch, 1);
    gort__futex_wake(&mark_epoch, 1 << 20);
    int n = atomic_load(&nidle);
    for (int i = 0; i < n && i < MAX_IDLE_WORKERS; i++) {
        pid_t tid = atomic_load(&idle_tids[i]);
        if (tid)
            set_policy(tid, SCHED_OTHER);
    }
}

void gort__gc_workers_stop(void) {
    gort__gc_workers_stop_async();
    while (atomic_load(&workers_busy))
        sleep_ns(20000);
}

/* ---- assists ------------------------------------------------------------------------------
 * A mutator that allocates during a mark owes scan work in proportion (the pacer's
 * work per byte).  It first spends background credit, then scans in slices of at
 * most ASSIST_SLICE (4 KiB), each inside a critical section (so a stop waits at most one slice
 * and no stopped thread ever holds the pool lock).  When no work is left, the rest
 * of the debt is forgiven rather than stalling the mutator: the mark is about to end. */
/* The mutator's share.  Assists are what a mutator feels of a concurrent mark,
 * so each P's assist time is a token bucket: it earns a share of the wall time,
 * holds at most ASSIST_BURST_NS, and an assist stops when the bucket is empty,
 * forgiving the rest of the debt.  The share is half while the heap is under its
 * goal and three quarters past it; a quarter past the goal (at once when the
 * goal is the memory limit's) the bucket no longer applies and assists are
 * Go's, paid in full (on a loaded machine the background workers may hardly run
 * at all, and an unbounded overshoot let binary-trees' heap reach 20x its
 * goal).  A mark the workers and the shares cannot finish in time lets the
 * heap overshoot its goal; the pacer then starts the next cycle earlier
 * (gort__gc_pacer_mark_done).
 *
 * The burst is small on purpose: the work is spread in pieces of a few
 * microseconds between the mutator's own, never a millisecond at once.  A
 * mutator that gets half of every few tens of microseconds runs at half speed
 * and stalls nowhere; one that gets the same half as millisecond-long assists
 * stalls for each of them (binary-trees' progress stamps: MMU at 10 ms went
 * from 0.02 to 0.6-0.8 at P=1 with these buckets in place of 1 ms bursts at a
 * quarter share). */
#define ASSIST_BURST_NS ((int64_t)30000)    /* 30 us */
#define ASSIST_SLICE ((int64_t)4 << 10)      /* scan work per critical section: what a stop may wait for */

static int64_t assist_budget(gc_p *p, int64_t now, bool over_goal) {
    int64_t dt = now - p->assist_budget_at;
    int64_t b = p->assist_budget_ns + (over_goal ? dt / 4 * 3 : dt / 2);
    if (p->assist_budget_at == 0 || b > ASSIST_BURST_NS)
        b = ASSIST_BURST_NS;
    p->assist_budget_at = now;
    return b;
}

/* Go's gcParkAssist: an assist that owes work past the goal's bound but finds
 * none (the markers hold it in their own buffers, and on a loaded machine they may
 * not be running) waits, as a blocked thread, until work appears in the pool, the
 * mark ends or 100 ms pass — rather than allocating on while the heap grows
 * without bound. */
static void wait_markers(void *arg) {
    (void)arg;
    int64_t until = gort__nanotime() + 100000000;
    while (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) == GC_MARK &&
           !atomic_load_explicit(&pool.nfull, memory_order_relaxed) && gort__nanotime() < until)
        sleep_ns(50000);
}

static void park_assist(void) {
    gc_thread *t = gort__gc_self_reload();
    if (t)
        gort__gc_wait(t, wait_markers, NULL);
}

void gort__gc_assist(gc_thread *t) {
    gc_p *p = t->p;
    int64_t debt = -p->assist_credit;
    if (debt <= 0)
        return;
    int64_t bg = atomic_load_explicit(&gort__gc_bg_credit, memory_order_relaxed);
    if (bg > 0) {
        int64_t take = bg < debt ? bg : debt;
        atomic_fetch_sub_explicit(&gort__gc_bg_credit, take, memory_order_relaxed);
        p->assist_credit += take;
        debt -= take;
        if (debt <= 0)
            return;
    }
    double wpb = gort__gc_assist_work_per_byte();
    int64_t work = (int64_t)((double)debt * wpb);
    if (work < (64 << 10))
        work = 64 << 10;
    int64_t now = gort__nanotime();
    uint64_t goal = atomic_load_explicit(&gort__gc_goal, memory_order_relaxed);
    uint64_t live = atomic_load_explicit(&gort__gc_heap_live, memory_order_relaxed);
    int64_t budget = assist_budget(p, now, live > goal);
    uint64_t bound = atomic_load_explicit(&gort__gc_goal_limited, memory_order_relaxed) ? 0 : goal / 4;
    if (live > goal + bound)
        budget = INT64_MAX / 2;   /* over the bound: no cap */
    if (budget <= 0) {
        p->assist_budget_ns = budget;
        p->assist_credit = 0;   /* forgiven: charged again at the next span */
        atomic_fetch_add_explicit(&gort__gc_nassists_capped, 1, memory_order_relaxed);
        return;
    }
    int64_t deadline = now + budget;
    /* Its time is wall time (an assist runs on, it does not block, but for
     * park_assist's wait, taken out below): a thread's CPU clock is a system
     * call, and assists come every few microseconds. */
    int64_t c0 = now;
    int64_t done = 0;
    bool dry = false, capped = false;
    while (done < work && !dry) {
        if (done > 0 && gort__nanotime() >= deadline) {
            capped = true;
            break;
        }
        int64_t scanned;
        int r = mark_slice(t, work - done < ASSIST_SLICE ? work - done : ASSIST_SLICE, &scanned);
        if (r < 0)
            break;
        done += scanned;
        dry = r > 0;
    }
    if (!dry) {
        crit_enter(t);
        gort__gc_gcw_dispose(&p->gcw);
        crit_exit(t);
    }
    p->assist_credit += wpb > 0 ? (int64_t)((double)done / wpb) : debt;
    if (dry && p->assist_credit < 0 && budget >= INT64_MAX / 2) {
        /* Past the bound with nothing to scan: wait for the markers.  A goroutine
         * may come back on another M, with another P. */
        int64_t spent = gort__nanotime() - c0;
        park_assist();
        t = gort__gc_self_reload();
        p = t->p;
        c0 = gort__nanotime() - spent;
    }
    if (p->assist_credit < 0 && (dry || capped))
        p->assist_credit = 0;
    int64_t end = gort__nanotime();
    p->assist_budget_ns = budget >= INT64_MAX / 2 ? 0 : budget - (end - now);
    p->assist_budget_at = end;
    if (capped)
        atomic_fetch_add_explicit(&gort__gc_nassists_capped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__gc_assist_cpu_ns, (uint64_t)(end - c0), memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__gc_nassists, 1, memory_order_relaxed);
}
