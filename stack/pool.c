/* Stack pool: size classes, the regions slots are carved from, and the
 * per-thread and global free lists.  See the design essay in stack/stack.c. */
#include "stack/internal.h"
#include "include/gort/internal/fork.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

gort__stack_regions_t gort__stack_regions;

enum {
    NCACHED = 3,       /* classes with a per-thread cache: 64, 128, 256 KiB slots */
    CACHE_MAX = 32,    /* a cache holding more than this returns half of it */
    BATCH = 16,        /* slots moved between a cache and the pool, or carved, at once */
    MIN_REGION_SLOTS = 4,
};
#define FIRST_REGION ((size_t)1 << 30)   /* slot bytes of a class's first region */
#define MAX_REGION   ((size_t)64 << 30)  /* regions double up to this */

/* The global pool of one class.  Everything under lock. */
struct cpool {
    gort_mutex_t lock;
    gort__stack_slot_t *free;   /* free slots, linked through their records */
    size_t nfree;
    int cur;                    /* region being carved, -1 before the first */
    size_t carved;              /* slots of it carved so far */
    size_t next_len;            /* slot bytes of the next region, 0: FIRST_REGION */
} GORT_ALIGNED_CL;

static struct cpool pools[GORT_STACK_MAX_CLASSES] = {
    [0 ... GORT_STACK_MAX_CLASSES - 1] = {.lock = GORT_MUTEX_RANKED(GORT_RANK_STACKPOOL), .cur = -1},
};

/* Appending to the region table (taken inside a class lock). */
static gort_mutex_t table_lock = GORT_MUTEX_RANKED(GORT_RANK_STACKTABLE);
static bool guards_ready;   /* under table_lock */

/* The calling thread's cache: free slots of the small classes, no locks. */
static __thread struct {
    gort__stack_slot_t *head[NCACHED];
    uint32_t n[NCACHED];
} cache;

static size_t page_size, min_slot;
static uint32_t min_shift;
static int nclasses;

static void sizes_compute(void) {
    size_t pg = gort__os_page_size();
    size_t ms = (size_t)64 << 10;
    if (ms < 16 * pg)
        ms = 16 * pg;
    min_slot = ms;
    min_shift = (uint32_t)__builtin_ctzl(ms);
    nclasses = 0;
    while (nclasses < GORT_STACK_MAX_CLASSES && (ms << nclasses) <= GORT_STACK_MAX_SLOT)
        nclasses++;
    __atomic_store_n(&page_size, pg, __ATOMIC_RELEASE);
}

static void sizes_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (GORT_UNLIKELY(!__atomic_load_n(&page_size, __ATOMIC_ACQUIRE)))
        pthread_once(&once, sizes_compute);
}

size_t gort__stack_page(void) {
    sizes_init();
    return page_size;
}

size_t gort__stack_min_slot(void) {
    sizes_init();
    return min_slot;
}

int gort__stack_class_of(size_t usable) {
    sizes_init();
    if (usable > GORT_STACK_MAX_SLOT)
        return -1;
    for (int c = 0; c < nclasses; c++)
        if ((min_slot << c) - page_size >= usable)
            return c;
    return -1;
}

uintptr_t gort__stack_slot_addr(const gort__stack_slot_t *r) {
    const gort__stack_region_t *g = &gort__stack_regions.r[r->region];
    return g->slots + ((uintptr_t)(r - g->meta) << g->shift);
}

/* Async-signal-safe: the fault handler calls it. */
gort__stack_slot_t *gort__stack_slot_of(uintptr_t addr, uintptr_t *slot, size_t *slot_size) {
    uint32_t n = atomic_load_explicit(&gort__stack_regions.n, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < GORT_STACK_MAX_REGIONS; i++) {
        gort__stack_region_t *g = &gort__stack_regions.r[i];
        if (!atomic_load_explicit(&g->ready, memory_order_acquire))
            continue;
        if (addr < g->slots || addr - g->slots >= (g->nslots << g->shift))
            continue;
        size_t idx = (addr - g->slots) >> g->shift;
        if (slot)
            *slot = g->slots + (idx << g->shift);
        if (slot_size)
            *slot_size = (size_t)1 << g->shift;
        return &g->meta[idx];
    }
    return NULL;
}

/* Map a new region for class cls and make it p's current one. */
static int new_region(struct cpool *p, int cls) {
    uint32_t shift = min_shift + (uint32_t)cls;
    size_t slot = (size_t)1 << shift;
    size_t len = p->next_len ? p->next_len : FIRST_REGION;
    if (len < MIN_REGION_SLOTS * slot)
        len = MIN_REGION_SLOTS * slot;
    for (;;) {
        size_t nslots = len >> shift;
        size_t meta_len = GORT_ROUND_UP(nslots * sizeof(gort__stack_slot_t), page_size);
        size_t map_len = (nslots << shift) + meta_len;
        void *m = gort__os.mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            /* Short of address space (ulimit -v, strict overcommit): try
             * smaller, down to a single slot. */
            if (nslots > 1) {
                len /= 2;
                continue;
            }
            errno = ENOMEM;
            return -1;
        }
        gort__mutex_lock(&table_lock);
        uint32_t idx = atomic_load_explicit(&gort__stack_regions.n, memory_order_relaxed);
        if (idx == GORT_STACK_MAX_REGIONS) {
            gort__mutex_unlock(&table_lock);
            gort__os_unmap(m, map_len);
            errno = ENOMEM;
            return -1;
        }
        gort__stack_region_t *g = &gort__stack_regions.r[idx];
        g->slots = (uintptr_t)m;
        g->nslots = nslots;
        g->meta = (gort__stack_slot_t *)((char *)m + (nslots << shift));
        g->map_len = map_len;
        g->shift = shift;
        g->cls = (uint8_t)cls;
        atomic_store_explicit(&g->ready, 1, memory_order_release);
        atomic_store_explicit(&gort__stack_regions.n, idx + 1, memory_order_release);
        if (!guards_ready) {
            /* The first region ever: probe the kernel's guard support on its
             * first guard, and install the fault handler. */
            gort__stack_guard_init(g->slots);
            guards_ready = true;
        }
        gort__mutex_unlock(&table_lock);
        p->cur = (int)idx;
        p->carved = 0;
        p->next_len = len * 2 <= MAX_REGION ? len * 2 : MAX_REGION;
        return 0;
    }
}

/* Carve up to BATCH new slots onto p's free list; returns how many (0 and
 * errno = ENOMEM when none).  Each new slot gets its guard here, once: a slot
 * keeps its guard for the life of the process. */
static size_t carve_locked(struct cpool *p, int cls) {
    size_t got = 0;
    while (got < BATCH) {
        if (p->cur < 0 || p->carved == gort__stack_regions.r[p->cur].nslots) {
            if (got)
                break;
            if (new_region(p, cls) != 0)
                return 0;
        }
        gort__stack_region_t *g = &gort__stack_regions.r[p->cur];
        size_t i = p->carved;
        int kind = gort__stack_guard_slot(g->slots + (i << g->shift), (size_t)1 << g->shift);
        if (!kind) {
            if (!got)
                errno = ENOMEM;
            break;
        }
        gort__stack_slot_t *r = &g->meta[i];
        r->guard = (uint8_t)kind;
        r->cls = (uint8_t)cls;
        r->region = (uint8_t)p->cur;
        r->live = 0;
        r->next = p->free;
        p->free = r;
        p->nfree++;
        p->carved++;
        got++;
    }
    return got;
}

static gort__stack_slot_t *pop_locked(struct cpool *p) {
    gort__stack_slot_t *r = p->free;
    if (r) {
        p->free = r->next;
        p->nfree--;
    }
    return r;
}

/* The slow path of a cached class: take a batch from the global pool. */
static GORT_NOINLINE gort__stack_slot_t *refill(int cls) {
    gort__stack_thread_init();   /* so the thread returns its cache when it exits */
    if (cache.head[cls])         /* thread_init may have used (and refilled) the cache */
        goto pop;
    struct cpool *p = &pools[cls];
    gort__mutex_lock(&p->lock);
    if (p->nfree == 0 && carve_locked(p, cls) == 0) {
        gort__mutex_unlock(&p->lock);
        return NULL;
    }
    for (int i = 0; i < BATCH && p->free; i++) {
        gort__stack_slot_t *r = pop_locked(p);
        r->next = cache.head[cls];
        cache.head[cls] = r;
        cache.n[cls]++;
    }
    gort__mutex_unlock(&p->lock);
pop:;
    gort__stack_slot_t *r = cache.head[cls];
    cache.head[cls] = r->next;
    cache.n[cls]--;
    return r;
}

gort__stack_slot_t *gort__stack_pool_get(int cls) {
    if (GORT_LIKELY(cls < NCACHED)) {
        gort__stack_slot_t *r = cache.head[cls];
        if (GORT_LIKELY(r != NULL)) {
            cache.head[cls] = r->next;
            cache.n[cls]--;
            return r;
        }
        return refill(cls);
    }
    struct cpool *p = &pools[cls];
    gort__mutex_lock(&p->lock);
    gort__stack_slot_t *r = pop_locked(p);
    if (!r && carve_locked(p, cls))
        r = pop_locked(p);
    gort__mutex_unlock(&p->lock);
    return r;
}

static void put_locked(struct cpool *p, gort__stack_slot_t *r) {
    r->next = p->free;
    p->free = r;
    p->nfree++;
}

/* Return n slots of the cache of class cls to the global pool. */
static void spill(int cls, uint32_t n) {
    struct cpool *p = &pools[cls];
    gort__mutex_lock(&p->lock);
    while (n-- && cache.head[cls]) {
        gort__stack_slot_t *r = cache.head[cls];
        cache.head[cls] = r->next;
        cache.n[cls]--;
        put_locked(p, r);
    }
    gort__mutex_unlock(&p->lock);
}

void gort__stack_pool_put(gort__stack_slot_t *r) {
    int cls = r->cls;
    if (GORT_LIKELY(cls < NCACHED)) {
        r->next = cache.head[cls];
        cache.head[cls] = r;
        if (GORT_UNLIKELY(++cache.n[cls] > CACHE_MAX))
            spill(cls, CACHE_MAX / 2);
        return;
    }
    struct cpool *p = &pools[cls];
    gort__mutex_lock(&p->lock);
    put_locked(p, r);
    gort__mutex_unlock(&p->lock);
}

void gort__stack_cache_flush(void) {
    for (int c = 0; c < NCACHED; c++)
        if (cache.head[c])
            spill(c, UINT32_MAX);
}

size_t gort__stack_pool_release(void) {
    sizes_init();
    size_t total = 0;
    for (int c = 0; c < nclasses; c++) {
        struct cpool *p = &pools[c];
        gort__mutex_lock(&p->lock);
        for (gort__stack_slot_t *r = p->free; r; r = r->next) {
            if (r->released)
                continue;
            uintptr_t slot = gort__stack_slot_addr(r);
            size_t len = (min_slot << c) - page_size;
            gort__os_release((void *)(slot + page_size), len);
            r->released = 1;
            total += len;
        }
        gort__mutex_unlock(&p->lock);
    }
    return total;
}

/* ---- fork ------------------------------------------------------------------------------
 * fork() in a multithreaded process: every pool lock is taken before the fork and
 * released after it in both processes, so the child never inherits a lock held
 * by a thread that does not exist there, nor a list half updated.  The class
 * locks share a rank and are taken in address order, as the rank checker
 * requires; the region table's lock ranks after them.  The caches of the threads
 * that do not survive the fork are lost to the child (at most 32 stacks of
 * address space each). */
static void prefork(void) {
    for (int c = 0; c < GORT_STACK_MAX_CLASSES; c++)
        gort__mutex_lock(&pools[c].lock);
    gort__mutex_lock(&table_lock);
}

static void postfork(void) {
    gort__mutex_unlock(&table_lock);
    for (int c = GORT_STACK_MAX_CLASSES - 1; c >= 0; c--)
        gort__mutex_unlock(&pools[c].lock);
}

__attribute__((constructor)) static void pool_fork_init(void) {
    static const struct gort_fork_hook hook = {GORT_RANK_STACKPOOL, prefork, postfork, postfork};
    gort__fork_register(&hook);   /* rt/fork.c runs every module's hooks in rank order */
}
