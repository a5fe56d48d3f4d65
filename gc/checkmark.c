/* GORT_DEBUG=gccheckmark=1: after each concurrent mark, with the world stopped,
 * mark the heap again from every root into a separate bitmap (each span's
 * gccheckbits) and die if an object reached this way was not marked by the
 * concurrent mark — naming the object and the path it was found through.  See
 * "Verification" in gc/gc.c.
 *
 * The re-mark records, for each object it reaches, the address of the word it was
 * found in (or, for a register, the thread and register), in an open-addressing
 * table outside the heap; a failure walks those words back to a root.
 *
 * One exception: an unmarked object found directly from a stack word or a register
 * is skipped, not reported.  Stacks are scanned conservatively and once per cycle,
 * and after that scan a live frame can come to hold a stale word (an uninitialised
 * slot, a span base the allocator computed) that points at an object which was
 * already garbage; the program never uses it.  Such hits are counted
 * (gort__gc_checkmark_stale).  A lost object that the program does use is caught by
 * its contents going bad, which the torture test checks. */
#include "gc/internal.h"

#include <dlfcn.h>
#include <string.h>

typedef struct cm_entry {
    uintptr_t obj;     /* 0 = empty */
    uintptr_t slot;    /* where the pointer was; odd: (tid << 16 | reg << 1 | 1) */
} cm_entry;

static cm_entry *table;
static size_t table_cap;          /* power of two */
static uintptr_t *stack;
static size_t nstack, stack_cap;
static const char *root_what;     /* description of the root being scanned */

static void *map(size_t bytes) {
    void *p = gort__os_reserve(GORT_ROUND_UP(bytes, 4096), 0);
    if (!p)
        gort__fatal("gort: gccheckmark: out of memory (%zu bytes)", bytes);
    return p;
}

static size_t hash(uintptr_t k) {
    return (size_t)((k >> 3) * 0x9E3779B97F4A7C15ull) & (table_cap - 1);
}

static const cm_entry *lookup(uintptr_t obj) {
    for (size_t i = hash(obj);; i = (i + 1) & (table_cap - 1)) {
        if (table[i].obj == obj)
            return &table[i];
        if (!table[i].obj)
            return NULL;
    }
}

static void insert(uintptr_t obj, uintptr_t slot) {
    for (size_t i = hash(obj);; i = (i + 1) & (table_cap - 1)) {
        if (!table[i].obj) {
            table[i].obj = obj;
            table[i].slot = slot;
            return;
        }
    }
}

static void count_span(mspan *s, void *arg) {
    size_t *n = arg;
    *n += s->nelems;
    memset(s->gccheckbits, 0, s->gcbitwords * sizeof(uint64_t));
}

static void describe_obj(uintptr_t base, mspan *s, uint32_t idx) {
    const gort_gc_type_t *ty = s->state == SPAN_GCSMALL ? (s->gctypes ? s->gctypes[idx] : NULL) : s->gctype;
    gort__printf("  object %p: %zu bytes, %s%s%s\n", (void *)base, gort__gc_obj_size(s),
                 gort__gc_kind_name(s->gckind), ty && ty->name ? ", type " : "",
                 ty && ty->name ? ty->name : "");
}

static void describe_root(uintptr_t slot) {
    if (slot & 1) {
        gort__printf("  <- register %u of thread %u\n", (unsigned)((slot >> 1) & 0x7fff), (unsigned)(slot >> 16));
        return;
    }
    for (gc_thread *t = gort__gc_threads; t; t = t->next)
        if (slot >= t->sp && slot < t->stack_hi) {
            gort__printf("  <- word %p on the stack of thread %d\n", (void *)slot, (int)t->tid);
            return;
        }
    Dl_info di;
    if (dladdr((void *)slot, &di) && di.dli_fbase) {
        /* Which global: a runtime's or a library's own variable, written without
         * the barrier, is a root the mark cannot follow (module offset for
         * addr2line/nm, and the nearest exported symbol when there is one). */
        gort__printf("  <- word %p in %s (%s+%#lx%s%s)\n", (void *)slot, root_what ? root_what : "a root",
                     di.dli_fname && *di.dli_fname ? di.dli_fname : "?", (unsigned long)(slot - (uintptr_t)di.dli_fbase),
                     di.dli_sname ? ", near " : "", di.dli_sname ? di.dli_sname : "");
        return;
    }
    gort__printf("  <- word %p in %s\n", (void *)slot, root_what ? root_what : "a root");
}

GORT_NORETURN static void fail(uintptr_t base, mspan *s, uint32_t idx, uintptr_t slot) {
    gort__printf("gort: gccheckmark: a reachable object was not marked by the concurrent mark:\n");
    describe_obj(base, s, idx);
    /* Walk back to the root; print the first links and the last ones. */
    size_t depth = 0, skipped = 0;
    for (;; depth++) {
        mspan *ps;
        uint32_t pidx;
        uintptr_t parent = (slot & 1) ? 0 : gort__gc_find_object(slot, &ps, &pidx);
        if (!parent) {
            if (skipped)
                gort__printf("  <- ... (%zu more objects) ...\n", skipped);
            describe_root(slot);
            break;
        }
        const cm_entry *e = lookup(parent);
        bool show = depth < 6 || !e || !lookup(e->slot & 1 ? 0 : gort__gc_find_object(e->slot, &ps, &pidx) ? gort__gc_find_object(e->slot, &ps, &pidx) : 0);
        if (show) {
            if (skipped) {
                gort__printf("  <- ... (%zu more objects) ...\n", skipped);
                skipped = 0;
            }
            gort__printf("  <- at offset %zu of\n", (size_t)(slot - parent));
            gort__gc_find_object(slot, &ps, &pidx);
            describe_obj(parent, ps, pidx);
        } else {
            skipped++;
        }
        if (!e) {
            gort__printf("  <- (an object with a finalizer, or queued for one)\n");
            break;
        }
        slot = e->slot;
    }
    gort__fatal("gort: gccheckmark: object %p is reachable but unmarked (the path is above)", (void *)base);
}

static bool from_stack;            /* the root being scanned is a stack or registers */
uint64_t gort__gc_checkmark_stale;

GC_NOSAN static void grey(uintptr_t p, uintptr_t slot) {
    mspan *s;
    uint32_t idx;
    uintptr_t base = gort__gc_find_object(p, &s, &idx);
    if (!base)
        return;
    uint64_t bit = (uint64_t)1 << (idx % 64);
    if (s->gccheckbits[idx / 64] & bit)
        return;
    if (from_stack && !(s->gcmarkbits[GC_BITW(idx / 64)] & bit)) {
        gort__gc_checkmark_stale++;
        return;
    }
    s->gccheckbits[idx / 64] |= bit;
    insert(base, slot);
    if (!(s->gcmarkbits[GC_BITW(idx / 64)] & bit))
        fail(base, s, idx, slot);
    if (s->gckind == GC_NOSCAN)
        return;
    if (nstack == stack_cap) {
        size_t ncap = stack_cap ? stack_cap * 2 : 65536;
        uintptr_t *ns = map(ncap * sizeof *ns);
        if (stack) {
            memcpy(ns, stack, nstack * sizeof *ns);
            gort__os_unmap(stack, GORT_ROUND_UP(stack_cap * sizeof *ns, 4096));
        }
        stack = ns;
        stack_cap = ncap;
    }
    stack[nstack++] = base;
}

GC_NOSAN static void scan_words(uintptr_t lo, uintptr_t hi) {
    lo = GORT_ROUND_UP(lo, sizeof(uintptr_t));
    for (uintptr_t a = lo; a + sizeof(uintptr_t) <= hi; a += sizeof(uintptr_t))
        grey(*(const uintptr_t *)a, a);
}

GC_NOSAN static void scan_obj(uintptr_t base) {
    mspan *s = span_of(base);
    uintptr_t n = gort__gc_obj_size(s);
    const gort_gc_type_t *ty = s->state == SPAN_GCSMALL ? (s->gctypes ? s->gctypes[span_index(s, base)] : NULL) : s->gctype;
    if (s->gckind == GC_CONS) {
        scan_words(base, base + n);
    } else if (s->gckind == GC_TYPED && ty && ty->size >= 8 && ty->size % 8 == 0) {
        uintptr_t ew = ty->size / 8;
        for (uintptr_t e = base; e + ty->size <= base + GORT_ROUND_UP(n, 8); e += ty->size)
            for (uintptr_t i = 0; i < ew; i++)
                if ((ty->ptrmask[i / 64] >> (i % 64)) & 1)
                    grey(*(const uintptr_t *)(e + i * 8), e + i * 8);
    }
}

static void drain(void) {
    while (nstack)
        scan_obj(stack[--nstack]);
}

static void global_cb(uintptr_t lo, uintptr_t hi, const char *what, void *arg) {
    (void)arg;
    root_what = what;
    scan_words(lo, hi);
    drain();
}

/* The scheduler's roots: goroutine stacks are stacks (see from_stack). */
static void sched_cb(uintptr_t lo, uintptr_t hi, const char *what, void *arg) {
    (void)arg;
    from_stack = strstr(what, "stack") != NULL;
    root_what = what;
    scan_words(lo, hi);
    drain();
    from_stack = false;
}

static void fin_cb(uintptr_t obj, uintptr_t arg, bool queued, void *ctx) {
    (void)ctx;
    root_what = "a finalizer record";
    if (queued) {
        grey(obj, 0);
    } else {
        scan_obj(obj);
    }
    grey(arg, 0);
    drain();
}

void gort__gc_checkmark(void) {
    if (!gort__settings.gccheckmark)
        return;
    size_t nobj = 0;
    gort__gc_each_span(count_span, &nobj);
    table_cap = 1024;
    while (table_cap < nobj * 2)
        table_cap *= 2;
    table = map(table_cap * sizeof *table);
    nstack = 0;
    gort__gc_roots_each_global(global_cb, NULL);
    root_what = "a thread's stack";
    for (gc_thread *t = gort__gc_threads; t; t = t->next) {
        from_stack = true;
        for (unsigned i = 0; i < t->nregs; i++)
            grey(t->regs[i], ((uintptr_t)t->tid << 16) | ((uintptr_t)i << 1) | 1);
        if (t->m)
            gort__sched_gc_m_ranges(t->m, t->sp, t->stack_hi, 0, sched_cb, NULL);
        else if (t->sp < t->stack_hi && (t->stack_lo == 0 || t->sp >= t->stack_lo))
            scan_words(t->sp, t->stack_hi);
        from_stack = false;
        root_what = "a thread's stack";
        drain();
    }
    gort__sched_gc_each_root(sched_cb, NULL);
    gort__gc_finalizer_each(fin_cb, NULL);
    drain();
    gort__os_unmap(table, GORT_ROUND_UP(table_cap * sizeof *table, 4096));
    table = NULL;
}
