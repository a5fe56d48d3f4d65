/* Arenas: 64 MiB reservations aligned to their size, and the arena map that takes
 * any address to its arena (and, through the arena's page table, to its span) in
 * O(1); alloc/types.h explains its levels.  See alloc/alloc.c. */
#include "alloc/types.h"

#include <string.h>

arena_l2 gort__arena_map;
arena *gort__arenas;
static arena *arena_free;   /* structs of released huge reservations, reused (heap lock) */

/* Register arena metadata for [base, base + ARENA_SIZE). Heap lock held. */
static arena *arena_register(uintptr_t base, int huge) {
    GORT_ASSERT((base >> ARENA_SHIFT) < ((uintptr_t)1 << ARENA_L2_BITS));
    arena *a = arena_free;
    if (a) {
        arena_free = a->next;
        memset(a, 0, sizeof *a);
    } else {
        a = gort__meta_alloc(sizeof(arena));
    }
    a->base = base;
    a->huge = (uint8_t)huge;
    __atomic_store_n(&gort__arena_map[base >> ARENA_SHIFT], a, __ATOMIC_RELEASE);
    return a;
}

/* GORT_DEBUG=hugepages=1 advises every arena MADV_HUGEPAGE, so that where the
 * kernel's transparent huge pages are "madvise" (Debian's default) a fault maps
 * 2 MiB at once: a fault per 512 pages instead of one each, and one TLB entry
 * for what the collector's mark reaches in 512.  bench/results/hugepages.md
 * (bench/thp/run.sh, the same binaries with and without it, on 2 CPUs): GCBench
 * 16% less CPU, the server workload 8-12% more requests/s, binary-trees with
 * goroutines 10% less CPU at P=2 (unchanged at P=1), minor faults 10-26 times
 * fewer, for 1-6% more peak RSS (23% on GCBench's 23 MiB heap: a huge page is
 * mapped whole).  Off by default: a small heap's RSS grows to whole huge pages,
 * and jemalloc, mimalloc and Go 1.19 (which gets none here) do not map them
 * unasked either.  The scavenger's releases turn them off where they leave a
 * huge page partly mapped (gort__os_nohugepages_around). */
static void advise(void *p, size_t len) {
    gort__settings_init();
    if (gort__settings.hugepages)
        gort__os_hugepages(p, len);
}

arena *gort__arena_grow(void) {
    void *p = gort__os_reserve(ARENA_SIZE, ARENA_SIZE);
    if (!p)
        return NULL;
    advise(p, ARENA_SIZE);
    arena *a = arena_register((uintptr_t)p, 0);
    /* Fresh memory reads as zero and has no RSS: it starts out "released". */
    memset(a->scav, 0xff, sizeof a->scav);
    a->next = gort__arenas;
    gort__arenas = a;
    return a;
}

void gort__arena_set_spans(uintptr_t base, uintptr_t npages, mspan *s) {
    uintptr_t p = base, end = base + npages * PAGE_SIZE;
    while (p < end) {
        arena *a = arena_of(p);
        GORT_ASSERT(a);
        uintptr_t first = (p - a->base) >> PAGE_SHIFT;
        uintptr_t last = (end - a->base) >> PAGE_SHIFT;
        if (last > ARENA_PAGES)
            last = ARENA_PAGES;
        for (uintptr_t i = first; i < last; i++)
            a->spans[i] = s;
        p = a->base + last * PAGE_SIZE;
    }
}

uintptr_t gort__arena_reserve_huge(size_t nbytes, size_t align) {
    if (align < ARENA_SIZE)
        align = ARENA_SIZE;
    void *p = gort__os_reserve(nbytes, align);
    if (!p)
        return 0;
    advise(p, nbytes);
    for (uintptr_t a = (uintptr_t)p; a < (uintptr_t)p + nbytes; a += ARENA_SIZE)
        arena_register(a, 1);
    return (uintptr_t)p;
}

void gort__arena_release_huge(uintptr_t base, size_t nbytes) {
    /* The arena structs stay (metadata is never freed) but are unmapped from the
     * arena map, so a later free of a stale pointer is reported as foreign. */
    for (uintptr_t a = base; a < base + nbytes; a += ARENA_SIZE) {
        arena **slot = &gort__arena_map[a >> ARENA_SHIFT];
        arena *ar = *slot;
        __atomic_store_n(slot, NULL, __ATOMIC_RELEASE);
        ar->next = arena_free;
        arena_free = ar;
    }
    gort__os_unmap((void *)base, nbytes);
}
