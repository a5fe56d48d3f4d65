/* gort stack module, internal declarations shared by its files.
 * The design essay is at the top of stack/stack.c. */
#ifndef GORT_STACK_INTERNAL_H
#define GORT_STACK_INTERNAL_H

#include "include/gort/internal/lock.h"
#include "include/gort/internal/rt.h"
#include "include/gort/stack.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stack/sanitize.h"

/* ---- size classes -----------------------------------------------------------------
 * Class c has slots of (min_slot << c) bytes: a guard of one page at the bottom,
 * the usable stack above it.  min_slot is 64 KiB (16 pages if pages are larger). */
enum {
    GORT_STACK_MAX_CLASSES = 15,     /* 64 KiB .. 1 GiB slots with 4 KiB pages */
    GORT_STACK_MAX_REGIONS = 64,     /* reservations, all classes together */
};
#define GORT_STACK_MAX_SLOT ((size_t)1 << 30)

/* How the stack below a slot's usable memory is protected. */
enum {
    GORT_GUARD_KERNEL = 1,   /* MADV_GUARD_INSTALL marker: faults, costs no mapping */
    GORT_GUARD_PAGE = 2,     /* mprotect(PROT_NONE) page: faults, costs two mappings */
    GORT_GUARD_CANARY = 3,   /* readable red zone with canary words, checked at switches */
};

/* gort_stack_t.flags */
enum {
    GORT_STACK_HAD_CTX = 1u << 0,    /* a context was made on it (sanitizer state to reset) */
};

/* One record per slot, kept out of band at the end of the slot's region (so
 * that a free stack's memory can be released without losing its links). */
typedef struct gort__stack_slot {
    struct gort__stack_slot *next;  /* free list: under its class lock, or in the owner thread's cache */
    const char *owner_kind;         /* "goroutine", ... (gort__stack_set_owner); NULL: none */
    uint64_t owner_id;
    uint32_t live;                  /* 1 between gort_stack_alloc and gort_stack_free (owner writes) */
    uint8_t  guard;                 /* GORT_GUARD_*, set when the slot is carved, never changes */
    uint8_t  cls;
    uint8_t  released;              /* its memory was given back while free (pool release) */
    uint8_t  region;                /* index in the region table */
} gort__stack_slot_t;

/* A reservation carved into slots of one class.  Written once by the thread
 * that maps it (under its class lock) and then read by anyone, including the
 * fault handler: `ready` publishes it. */
typedef struct gort__stack_region {
    uintptr_t slots;                /* first slot; slot i is at slots + (i << shift) */
    size_t    nslots;
    gort__stack_slot_t *meta;       /* nslots records, after the last slot */
    size_t    map_len;              /* the whole mapping: slots + records */
    uint32_t  shift;                /* log2 of the slot size */
    uint8_t   cls;
    _Atomic uint8_t ready;
} gort__stack_region_t;

typedef struct gort__stack_regions {
    gort__stack_region_t r[GORT_STACK_MAX_REGIONS];
    _Atomic uint32_t n;             /* entries reserved; an entry is usable once ready */
} gort__stack_regions_t;
extern gort__stack_regions_t gort__stack_regions;

/* ---- pool (stack/pool.c) ---------------------------------------------------------- */
size_t gort__stack_page(void);          /* page size = guard size */
size_t gort__stack_min_slot(void);
int    gort__stack_class_of(size_t usable);              /* -1: too large */
/* A free slot of class cls (per-thread cache, then the global pool, then newly
 * carved), or NULL with errno = ENOMEM. */
gort__stack_slot_t *gort__stack_pool_get(int cls);
void   gort__stack_pool_put(gort__stack_slot_t *r);
/* Flush the calling thread's cache to the global pool (thread exit). */
void   gort__stack_cache_flush(void);
/* Give back the memory of the stacks free in the global pool; returns bytes. */
size_t gort__stack_pool_release(void);
/* The slot address of a record, and the record of an address inside a slot
 * (NULL if addr is in no slot). */
uintptr_t gort__stack_slot_addr(const gort__stack_slot_t *r);
gort__stack_slot_t *gort__stack_slot_of(uintptr_t addr, uintptr_t *slot, size_t *slot_size);

/* ---- guards (stack/guard.c) --------------------------------------------------------- */
/* Decided once, when the first region is mapped (gort__stack_guard_init):
 * true when stacks may lack a guard page, so switches track canaries. */
extern _Atomic bool gort__stack_track;
/* Probe the kernel with the first region's first guard and install the fault
 * handler.  Called once, under a class lock, before any slot is carved. */
void   gort__stack_guard_init(uintptr_t first_guard);
/* Protect the guard of a newly carved slot; returns its GORT_GUARD_* kind, or
 * 0 when the kernel refused (out of memory for page tables). */
int    gort__stack_guard_slot(uintptr_t slot, size_t slot_size);
/* Canary words in the red zone of a GORT_GUARD_CANARY slot, just below lo. */
enum { GORT_CANARY_WORDS = 8 };
GORT_INLINE uint64_t gort__stack_canary_value(const void *at) {
    return ((uint64_t)(uintptr_t)at * 0x9e3779b97f4a7c15ull) ^ 0x5afe57ac6b0a4d11ull;
}
void   gort__stack_canary_write(void *lo);
/* Fatal unless the canary below lo is intact. */
void   gort__stack_canary_check(const gort_stack_t *s, const char *when);
GORT_NORETURN GORT_COLD void gort__stack_canary_smashed(const uint64_t *word, const char *when);
/* Give the calling thread a signal stack (from the pool) if it has none. */
void   gort__stack_altstack_init(void);
void   gort__stack_altstack_drop(void);
/* Prints "<kind> <id>" (or "context") into buf. */
void   gort__stack_owner_name(const gort__stack_slot_t *r, char *buf, size_t n);

/* ---- stacks (stack/stack.c) ---------------------------------------------------------- */
/* Per-thread set-up for a thread that runs contexts: the signal stack and the
 * thread-exit hook that returns its cache.  Cheap after the first call. */
void   gort__stack_thread_init(void);
/* Fatal unless s is an allocated stack; returns its record. */
gort__stack_slot_t *gort__stack_check(const gort_stack_t *s, const char *who);
/* The scheduler names a stack's owner for overflow reports ("goroutine", 17). */
void   gort__stack_set_owner(gort_stack_t *s, const char *kind, uint64_t id);
/* gort_ctx_make for a runtime's own stack (from gort_stack_alloc, never a
 * user's): names its owner as gort__stack_set_owner does, and starts the
 * context with the FP control state fp (gort__ctx_fpstate's, read once by the
 * caller: reading it is slow).  No validation of s beyond GORT_DASSERT: a
 * goroutine's start is the scheduler's hottest path. */
void   gort__ctx_make_owned(gort_ctx_t *c, gort_stack_t *s, void (*fn)(void *), void *arg,
                            const char *kind, uint64_t id, uint64_t fp);
/* Tests: pretend the kernel lacks MADV_GUARD_INSTALL, and/or set the budget of
 * mprotect guard pages (-1 = the default).  Only before the first stack. */
void   gort__stack_test_config(bool no_kernel_guards, long guard_page_budget);
/* Guard kind of an allocated stack (GORT_GUARD_*). */
int    gort__stack_guard_kind(const gort_stack_t *s);

/* ---- contexts (stack/ctx.c) ---------------------------------------------------------- */
/* Canary word of the stack the calling thread runs on (tracked only when
 * gort__stack_track), for the fault handler. */
const uint64_t *gort__stack_current_guard(void);

#endif
