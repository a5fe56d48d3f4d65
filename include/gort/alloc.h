/* gort/alloc.h — the explicit allocator: a Go-style heap (arenas, 8 KiB pages,
 * spans, 66 size classes, per-thread caches) behind a malloc-shaped API.
 *
 * Alignment: a block of n bytes is aligned to min(16, the largest power of two
 * <= n); gort_aligned_alloc honours any power-of-two alignment (tested to 2 MiB).
 * Errors: a call that cannot allocate returns NULL with errno = ENOMEM.
 * gort_free(NULL) does nothing; freeing a pointer gort did not hand out, or
 * freeing one twice, is a fatal error naming the pointer. */
#ifndef GORT_ALLOC_H
#define GORT_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

GORT_API void  *gort_malloc(size_t n);
GORT_API void   gort_free(void *p);
GORT_API void  *gort_calloc(size_t n, size_t size);
GORT_API void  *gort_realloc(void *p, size_t n);
GORT_API void  *gort_aligned_alloc(size_t align, size_t n);
GORT_API size_t gort_usable_size(const void *p);   /* 0 for NULL */

/* Return every free page to the OS now (the background scavenger does this
 * gradually on its own), and flush the calling thread's cache. */
GORT_API void   gort_release_memory(void);

/* Statistics, named after Go's runtime.MemStats.  All byte counts are exact:
 * after every block is freed they return to their baseline. */
typedef struct gort_alloc_class_stats {
    uint32_t size;            /* object size of this class (bytes) */
    uint64_t mallocs, frees;  /* cumulative */
    uint64_t objects;         /* live objects: mallocs - frees */
} gort_alloc_class_stats_t;

#define GORT_NUM_SIZE_CLASSES 67   /* class 0 stands for large objects */

typedef struct gort_alloc_stats {
    uint64_t heap_alloc;      /* bytes of live objects (rounded to their class size) */
    uint64_t heap_sys;        /* bytes of heap address space obtained from the OS */
    uint64_t heap_idle;       /* bytes in spans with no objects (free pages) */
    uint64_t heap_inuse;      /* bytes in spans holding objects */
    uint64_t heap_released;   /* bytes of idle pages returned to (or never taken from) the OS */
    uint64_t heap_objects;    /* live objects */
    uint64_t mallocs;         /* cumulative allocations */
    uint64_t frees;           /* cumulative frees */
    uint64_t total_alloc;     /* cumulative bytes allocated */
    uint64_t peak_heap_alloc; /* highest heap_alloc seen at a span refill or large allocation */
    uint64_t sys;             /* heap_sys + metadata bytes */
    uint64_t meta_sys;        /* bytes of allocator metadata (spans, arena tables, caches) */
    uint64_t num_caches;      /* live per-thread caches */
    uint64_t large_objects;   /* live objects larger than 32 KiB */
    uint64_t large_bytes;     /* bytes of those */
    gort_alloc_class_stats_t by_class[GORT_NUM_SIZE_CLASSES];
} gort_alloc_stats_t;

GORT_API int gort_alloc_stats(gort_alloc_stats_t *out);   /* 0 on success, -1 + EINVAL for NULL */

/* Print a human-readable summary (what GORT_DEBUG=allocstats=1 prints at exit). */
GORT_API void gort_alloc_stats_print(int fd);

#ifdef __cplusplus
}
#endif
#endif
