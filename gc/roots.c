/* Roots: the data and bss of the executable and of every loaded shared object
 * (dl_iterate_phdr), the ranges registered with gort_gc_add_roots, and the stacks
 * and registers of registered threads.  See "Roots" in gc/gc.c.
 *
 * The global ranges are collected once per cycle with the world running (the
 * dynamic loader's lock is taken there, never while a thread is stopped), then
 * scanned concurrently in chunks: a store into a global during the mark goes
 * through the write barrier like a store into the heap.  gort's own arena map
 * (32 MiB of bss that holds no heap pointer) is left out. */
#include "gc/internal.h"

#include <errno.h>
#include <link.h>
#include <string.h>

#define MAX_RANGES 4096
#define CHUNK_BYTES ((uintptr_t)256 << 10)

typedef struct root_range {
    uintptr_t lo, hi;
    const char *what;
} root_range;

/* The snapshot: written by the coordinator before a mark, read during it. */
static root_range *snap;               /* MAX_RANGES entries, mmap'd (not a root itself) */
static unsigned nsnap;
static unsigned cursor;                /* next range to scan */
static uintptr_t cursor_at;            /* and where in it */

/* Registered ranges (roots lock; mutators change them inside a critical section,
 * so with the world stopped they are consistent without the lock). */
static gort_mutex_t roots_lock = GORT_MUTEX_RANKED(GORT_RANK_GC_ROOTS);

unsigned gort__gc_roots_locks(gort_mutex_t **out) {
    out[0] = &roots_lock;
    return 1;
}
static root_range *reg;                /* MAX_RANGES entries, mmap'd */
static unsigned nreg;
static unsigned reg_cursor;            /* the coordinator's scan position (roots lock) */
static uintptr_t reg_at;

void gort__gc_roots_init(void) {
    snap = gort__os_reserve(MAX_RANGES * sizeof(root_range), 0);
    reg = gort__os_reserve(MAX_RANGES * sizeof(root_range), 0);
    if (!snap || !reg)
        gort__fatal("gort: gc: out of memory for root tables");
}

static void add_snap(uintptr_t lo, uintptr_t hi, const char *what) {
    /* Cut gort's arena map out. */
    uintptr_t xlo = (uintptr_t)&gort__arena_map, xhi = xlo + sizeof gort__arena_map;
    if (lo < xhi && hi > xlo) {
        if (lo < xlo)
            add_snap(lo, xlo, what);
        if (hi > xhi)
            add_snap(xhi, hi, what);
        return;
    }
    if (lo >= hi)
        return;
    if (nsnap == MAX_RANGES)
        gort__fatal("gort: gc: more than %d root ranges", MAX_RANGES);
    snap[nsnap++] = (root_range){lo, hi, what};
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        uintptr_t hi = lo + ph->p_memsz;
        const char *name = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "the executable";
        add_snap(lo, hi, name);
    }
    return 0;
}

void gort__gc_roots_snapshot(void) {
    nsnap = 0;
    dl_iterate_phdr(phdr_cb, NULL);
    cursor = 0;
    cursor_at = nsnap ? snap[0].lo : 0;
    gort__mutex_lock(&roots_lock);
    reg_cursor = 0;
    reg_at = 0;
    gort__mutex_unlock(&roots_lock);
}

/* Scan the next chunk of the global ranges (the coordinator only); false when the
 * ranges are done. */
bool gort__gc_roots_scan_globals(gcwork *w) {
    while (cursor < nsnap) {
        root_range *r = &snap[cursor];
        if (cursor_at < r->lo)
            cursor_at = r->lo;
        if (cursor_at >= r->hi) {
            if (++cursor < nsnap)
                cursor_at = snap[cursor].lo;
            continue;
        }
        uintptr_t end = cursor_at + CHUNK_BYTES < r->hi ? cursor_at + CHUNK_BYTES : r->hi;
        gort__gc_scan_range(w, cursor_at, end);
        w->scan_work += end - cursor_at;
        cursor_at = end;
        return true;
    }
    gort__mutex_lock(&roots_lock);
    while (reg_cursor < nreg) {
        root_range *r = &reg[reg_cursor];
        if (reg_at < r->lo)
            reg_at = r->lo;
        if (reg_at >= r->hi) {
            reg_cursor++;
            reg_at = 0;
            continue;
        }
        uintptr_t end = reg_at + CHUNK_BYTES < r->hi ? reg_at + CHUNK_BYTES : r->hi;
        gort__gc_scan_range(w, reg_at, end);
        w->scan_work += end - reg_at;
        reg_at = end;
        gort__mutex_unlock(&roots_lock);
        return true;
    }
    gort__mutex_unlock(&roots_lock);
    return false;
}

/* World stopped (gccheckmark): every global range. */
void gort__gc_roots_each_global(gc_root_fn fn, void *arg) {
    for (unsigned i = 0; i < nsnap; i++)
        fn(snap[i].lo, snap[i].hi, snap[i].what, arg);
    for (unsigned i = 0; i < nreg; i++)
        fn(reg[i].lo, reg[i].hi, reg[i].what, arg);
}

/* A range the scheduler reports (a goroutine's stack, a channel buffer), into w. */
void gort__gc_scan_cb(uintptr_t lo, uintptr_t hi, const char *what, void *arg) {
    (void)what;
    gcwork *w = arg;
    gort__gc_scan_range(w, lo, hi);
    w->scan_work += hi - lo;
}

/* t is parked: scan its stack from where it stopped, and its registers.  An M's
 * stack pointer may be on the goroutine it runs: the scheduler says what to scan
 * (its g0 part and that goroutine's stack, which counts as scanned for cycle). */
void gort__gc_scan_thread(gcwork *w, gc_thread *t, uint32_t cycle) {
    for (unsigned i = 0; i < t->nregs; i++)
        gort__gc_shade(w, t->regs[i]);
    uintptr_t sp = t->sp, hi = t->stack_hi;
    if (t->m) {
        gort__sched_gc_m_ranges(t->m, sp, hi, cycle, gort__gc_scan_cb, w);
    } else if (sp < hi && (t->stack_lo == 0 || sp >= t->stack_lo)) {
        gort__gc_scan_cb(sp, hi, "a thread's stack", w);
    } else {
        static _Atomic int warned;
        if (!atomic_exchange(&warned, 1))
            gort__printf("gort: gc: thread %d is running on a stack gort does not know "
                         "(sp %p, stack [%p, %p)); only its registers are scanned\n",
                         (int)t->tid, (void *)sp, (void *)t->stack_lo, (void *)hi);
    }
}

/* ---- registered ranges ---------------------------------------------------------------- */
void gort_gc_add_roots(void *lo, void *hi) {
    if ((uintptr_t)lo >= (uintptr_t)hi)
        return;
    gc_thread *t = gc_self();
    if (!t)
        gort__fatal("gort: gc: cannot register the calling thread");
    crit_enter(t);
    gort__mutex_lock(&roots_lock);
    if (nreg == MAX_RANGES)
        gort__fatal("gort: gc: more than %d registered root ranges", MAX_RANGES);
    reg[nreg++] = (root_range){(uintptr_t)lo, (uintptr_t)hi, "a registered range"};
    gort__mutex_unlock(&roots_lock);
    /* Pointers stored there before the call went through no barrier: during a mark,
     * the range is scanned now (it may be past the coordinator's cursor). */
    if (atomic_load(&gort__gc_phase) != GC_OFF) {
        gort__gc_scan_range(&t->p->gcw, (uintptr_t)lo, (uintptr_t)hi);
        gort__gc_gcw_dispose(&t->p->gcw);
    }
    crit_exit(t);
}

void gort_gc_remove_roots(void *lo, void *hi) {
    gc_thread *t = gc_self();
    if (!t)
        gort__fatal("gort: gc: cannot register the calling thread");
    crit_enter(t);
    gort__mutex_lock(&roots_lock);
    for (unsigned i = 0; i < nreg; i++) {
        if (reg[i].lo == (uintptr_t)lo && reg[i].hi == (uintptr_t)hi) {
            memmove(&reg[i], &reg[i + 1], (nreg - i - 1) * sizeof *reg);
            nreg--;
            if (i < reg_cursor)
                reg_cursor--;
            else if (i == reg_cursor)
                reg_at = 0;
            break;
        }
    }
    gort__mutex_unlock(&roots_lock);
    crit_exit(t);
}

/* A goroutine's stack, scanned by its own M at a switch (inside the switch's
 * critical section), into the M's P work, handed to the markers at once. */
void gort__gc_scan_self_range(uintptr_t lo, uintptr_t hi) {
    gc_thread *t = gort__gc_self;
    gcwork *w = &t->p->gcw;
    gort__gc_scan_cb(lo, hi, "a goroutine's stack", w);
    gort__gc_gcw_dispose(w);
}
