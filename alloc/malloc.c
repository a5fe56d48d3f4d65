/* The libc shim: libgort_malloc.so exports malloc and the rest of glibc's allocation
 * interface, so any dynamically linked program runs on gort's allocator untouched:
 *
 *     LD_PRELOAD=/path/to/libgort_malloc.so prog args...      (or tools/gort-run)
 *
 * This file is compiled only into that library (alloc/targets.cmake), never into
 * libgort.so or libgort.a, which export gort_* names alone.  The allocator itself,
 * and its design essay, are in alloc/alloc.c; this file is a thin translation layer.
 *
 * WHAT IS EXPORTED
 *
 *   C        malloc free calloc realloc reallocarray posix_memalign aligned_alloc
 *            memalign valloc pvalloc malloc_usable_size cfree free_sized
 *            free_aligned_sized
 *   glibc    malloc_trim malloc_stats mallinfo mallinfo2 mallopt malloc_info, and the
 *            __libc_malloc/free/calloc/realloc/memalign/valloc/pvalloc aliases that
 *            some programs (and old loaders) call directly
 *   C++      all twenty replaceable operator new/delete forms: plain, nothrow, sized,
 *            aligned (std::align_val_t), and their combinations, under their
 *            Itanium-ABI names (this file is C; see "C++" below)
 *
 * SEMANTICS (glibc's, checked by tests/preload/test_malloc_conformance.c)
 *
 *   malloc(0), calloc(0, n), memalign(a, 0), pvalloc(0)   a unique, freeable block
 *   any failure to allocate                               NULL, errno = ENOMEM
 *   calloc / reallocarray whose n * size overflows        NULL, errno = ENOMEM
 *   realloc(NULL, n)                                      malloc(n)
 *   realloc(p, 0)                                         free(p), NULL (glibc's choice)
 *   realloc that fails                                    NULL, ENOMEM, p untouched
 *   posix_memalign, alignment not a power of two times
 *     sizeof(void *)                                      returns EINVAL, errno kept
 *   aligned_alloc, alignment 0 or not a power of two      NULL, errno = EINVAL (C17
 *                                                         DR 460, glibc >= 2.38; 2.36
 *                                                         rounded the alignment up)
 *   memalign, alignment not a power of two                rounded up to one (glibc);
 *     alignment > SIZE_MAX / 2 + 1                        NULL, errno = EINVAL
 *   malloc_usable_size(NULL)                              0
 *   free / realloc / malloc_usable_size of a pointer that is not a live gort block:
 *                                                         dies with a message naming
 *                                                         it (gort__bad_free), never
 *                                                         corrupts
 *
 * SAFE FROM THE FIRST INSTRUCTION
 *
 *   With LD_PRELOAD the dynamic loader calls this malloc as soon as libc is relocated,
 *   before any constructor, possibly while it holds its own locks or grows a thread's
 *   TLS.  So nothing here, nor in the allocator behind it, may call dlsym, stdio, or
 *   anything that allocates from libc while initialising.  What makes it so:
 *
 *   - gort initialises lazily and allocation-free: the first malloc finds the
 *     thread's cache pointer aimed at an empty cache (a static), and the refill path
 *     parses GORT_* with getenv, maps memory with mmap, and registers the thread with
 *     pthread_once/pthread_key_create/pthread_setspecific — none of which allocate
 *     for the first 32 keys.  The cache pointer is set before pthread_setspecific,
 *     so even a key beyond 32 (whose slot glibc callocs) recurses harmlessly.
 *   - Every thread-local gort uses is initial-exec (-ftls-model=initial-exec): a
 *     first access is a plain load at a fixed offset from the thread pointer, never
 *     a call into __tls_get_addr, which could allocate.  (A preloaded library's TLS
 *     always fits the static TLS block.)
 *   - The library is linked -z now: the loader resolves every symbol it imports at
 *     load time, so no lazy-binding fixup ever runs inside malloc, and
 *     -Bsymbolic-functions, so malloc reaches gort_malloc with a direct jump, not
 *     through the PLT (where another definition could interpose it).
 *   - Nothing is needed from a constructor: the two that exist (fork handlers in
 *     alloc/fork.c, the allocstats report in alloc/stats.c) add features, and a
 *     malloc that runs before them is fully served.
 *
 *   Threads: a thread's cache is flushed by a pthread-key destructor.  glibc frees
 *   more after that (the thread's DTV, resolver and strerror state); those frees
 *   find no cache and take the remote-free path, which needs none.  fork: alloc/
 *   fork.c takes every allocator lock around fork() (pthread_atfork registered by a
 *   constructor here, i.e. before any later library's), so a child of a
 *   multithreaded parent can allocate and start threads.
 *
 * VALGRIND
 *
 *   Memcheck cannot see into gort's arenas: to it they are mmap'd memory.  When the
 *   program runs under Valgrind (RUNNING_ON_VALGRIND, asked once and cached, so the
 *   cost everywhere else is one predictable branch on a static), every entry point
 *   goes through the vg_* versions below, which describe each block to the tool with
 *   VALGRIND_MALLOCLIKE_BLOCK / VALGRIND_FREELIKE_BLOCK.  Memcheck then reports
 *   leaks, use-after-free, and uninitialised reads of the user's blocks as it would
 *   with its own malloc.  The allocator itself writes free-list links into freed
 *   (now unaddressable) blocks, so its calls run with error reporting disabled for
 *   the thread (VALGRIND_DISABLE_ERROR_REPORTING): memcheck would otherwise blame
 *   gort for touching memory it just declared free.  Under Valgrind realloc always
 *   moves the block (memcheck needs the block's requested size to resize in place,
 *   and gort does not keep it), and malloc_usable_size reports gort's usable size,
 *   so writing past the requested size is reported, as it should be.
 *
 * C++
 *
 *   The operators are defined here, in C, under their mangled names, so that one
 *   library serves C and C++ programs and needs no libstdc++.  operator new must
 *   call the installed new_handler in a loop and throw std::bad_alloc when there is
 *   none; both are reached through weak references to libstdc++'s
 *   std::get_new_handler() and std::__throw_bad_alloc() (present whenever a C++
 *   program is running; this file is compiled with -fexceptions so the exception
 *   unwinds through it).  The nothrow forms return NULL instead of throwing — but a
 *   new_handler that itself throws escapes them, where libstdc++'s would catch it:
 *   C cannot catch.  Sized deletes ignore the size (gort knows it).
 *
 * REJECTED ALTERNATIVES
 *
 *   - dlsym(RTLD_NEXT, "malloc") to fall back on glibc during initialisation, as
 *     many interposers do: dlsym allocates (dlerror state), which is the recursion
 *     it was meant to avoid; gort needs no bootstrap allocator at all.
 *   - A static bootstrap buffer for allocations before init: every later free must
 *     then test for it.  Lazy allocation-free init makes it unnecessary.
 *   - --defsym=malloc=gort_malloc (zero-cost aliases): leaves no place for the
 *     Valgrind branch, and the wrappers below are a load, a branch and a jump. */
#include "alloc/types.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND 1
#endif
#endif

#define EXPORT __attribute__((visibility("default")))

/* ---- Valgrind ---------------------------------------------------------------------- */

/* -1 not asked yet, 0 no, 1 yes.  Written once (racy but idempotent). */
static int vg_state = -1;

#ifdef HAVE_VALGRIND
GORT_COLD static bool vg_ask(void) {
    int on = RUNNING_ON_VALGRIND ? 1 : 0;
    __atomic_store_n(&vg_state, on, __ATOMIC_RELAXED);
    return on;
}

/* True when the vg_* path must be taken: one predictable branch when not on Valgrind. */
#define ON_VALGRIND() \
    (GORT_UNLIKELY(__atomic_load_n(&vg_state, __ATOMIC_RELAXED) != 0) && (vg_state > 0 || vg_ask()))

#define VG_QUIET(stmt)                      \
    do {                                    \
        VALGRIND_DISABLE_ERROR_REPORTING;   \
        stmt;                               \
        VALGRIND_ENABLE_ERROR_REPORTING;    \
    } while (0)

/* A value read from memory memcheck believes unaddressable (a free-list link in a
 * freed block) is "undefined" to it: declare it defined before anyone branches on it. */
#define VG_DEFINED(x) ((void)VALGRIND_MAKE_MEM_DEFINED(&(x), sizeof(x)))

/* Under Valgrind each block gets a head of VG_HEAD bytes (or of its alignment, if
 * larger) in front of what the user sees, and its tail slack is marked unaddressable:
 *
 *     base                      p = base + off             p + n          end
 *     | ...redzone... | n | chk |  user block (n bytes)    | slack ...    |
 *
 * The head does three things.  The user's pointer is never the start of gort's block
 * (which gort's own metadata points at — a span's base — and memcheck scans that
 * metadata for pointers, so a leaked block would look reachable).  It keeps the
 * requested size n, which memcheck needs and malloc_usable_size reports, as
 * memcheck's own malloc does.  And with the tail, it makes overruns errors.
 * chk = p ^ off ^ VG_MAGIC lets free find `off` again and refuse a pointer that is
 * not a block it handed out (that one goes to gort_free, which dies naming it). */
#define VG_HEAD  ((size_t)16)
#define VG_MAGIC ((uintptr_t)0x676f72742d766721ull)

GORT_INLINE void *vg_alloc(size_t align, size_t n, bool zero) {
    size_t off = align > VG_HEAD ? align : VG_HEAD, total, usable = 0;
    if (__builtin_add_overflow(n, off, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    char *base;
    VG_QUIET(base = align > VG_HEAD ? gort_aligned_alloc(align, total) : gort_malloc(total);
             if (base) usable = gort_usable_size(base));
    VG_DEFINED(base);
    VG_DEFINED(usable);
    if (!base)
        return NULL;
    char *p = base + off;
    (void)VALGRIND_MAKE_MEM_UNDEFINED(base, off);
    ((uintptr_t *)p)[-2] = n;
    ((uintptr_t *)p)[-1] = (uintptr_t)p ^ off ^ VG_MAGIC;
    (void)VALGRIND_MAKE_MEM_NOACCESS(base, off);
    if (zero) {
        (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
        memset(p, 0, n);
    }
    VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zero);
    (void)VALGRIND_MAKE_MEM_NOACCESS(p + n, usable - off - n);
    return p;
}

/* The head of block p: its start in gort and its requested size; false if p is not
 * a block vg_alloc handed out. */
static bool vg_head(void *p, char **base, size_t *n) {
    uintptr_t u = (uintptr_t)p, sz = 0, chk = 0;
    mspan *s = span_of(u);
    if (!s || s->state < SPAN_SMALL || (u & 15))
        return false;
    uintptr_t start = s->state == SPAN_SMALL
                          ? s->base + (uintptr_t)span_index(s, u) * s->elemsize
                          : s->base;
    if (start + VG_HEAD > u)
        return false;
    VG_QUIET(sz = ((uintptr_t *)p)[-2]; chk = ((uintptr_t *)p)[-1]);
    VG_DEFINED(sz);
    VG_DEFINED(chk);
    if ((chk ^ u ^ VG_MAGIC) != u - start)
        return false;
    *base = (char *)start;
    *n = sz;
    return true;
}

GORT_INLINE void vg_free(void *p) {
    char *base;
    size_t n;
    if (!p)
        return;
    VALGRIND_FREELIKE_BLOCK(p, 0);
    if (!vg_head(p, &base, &n)) {
        gort_free(p);   /* not ours: gort says so and dies */
        return;
    }
    VG_QUIET(gort_free(base));
}

GORT_INLINE void *vg_realloc(void *p, size_t n) {
    char *base;
    size_t old;
    if (!p)
        return vg_alloc(0, n, false);
    if (!vg_head(p, &base, &old)) {
        gort_free(p);   /* dies */
        return NULL;
    }
    if (n == 0) {
        vg_free(p);
        return NULL;
    }
    /* Always a new block: memcheck keeps the old block's definedness through the copy. */
    void *q = vg_alloc(0, n, false);
    if (!q)
        return NULL;
    memcpy(q, p, n < old ? n : old);
    vg_free(p);
    return q;
}

GORT_INLINE size_t vg_usable_size(void *p) {
    char *base;
    size_t n;
    if (!vg_head(p, &base, &n))
        return gort_usable_size(p);   /* dies */
    return n;
}

#define vg_malloc(n)       vg_alloc(0, (n), false)
#define vg_aligned(a, n)   vg_alloc((a), (n), false)
GORT_INLINE void *vg_calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return vg_alloc(0, total, true);
}
#else
#define ON_VALGRIND() 0
#define vg_malloc(n) gort_malloc(n)
#define vg_calloc(n, s) gort_calloc(n, s)
#define vg_aligned(a, n) gort_aligned_alloc(a, n)
#define vg_free(p) gort_free(p)
#define vg_realloc(p, n) gort_realloc(p, n)
#define vg_usable_size(p) gort_usable_size(p)
#endif

/* ---- the C interface ------------------------------------------------------------------ */

EXPORT void *malloc(size_t n) {
    if (ON_VALGRIND())
        return vg_malloc(n);
    return gort_malloc(n);
}

EXPORT void free(void *p) {
    if (ON_VALGRIND()) {
        vg_free(p);
        return;
    }
    gort_free(p);
}

EXPORT void *calloc(size_t n, size_t size) {
    if (ON_VALGRIND())
        return vg_calloc(n, size);
    return gort_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t n) {
    if (ON_VALGRIND())
        return vg_realloc(p, n);
    return gort_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

EXPORT void cfree(void *p) { free(p); }

/* C23: the size (and alignment) are hints gort does not need. */
EXPORT void free_sized(void *p, size_t n) { (void)n; free(p); }
EXPORT void free_aligned_sized(void *p, size_t align, size_t n) { (void)align; (void)n; free(p); }

/* align: a power of two (callers check). */
GORT_INLINE void *aligned(size_t align, size_t n) {
    if (ON_VALGRIND())
        return vg_aligned(align, n);
    return gort_aligned_alloc(align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, n);
}

EXPORT void *memalign(size_t align, size_t n) {
    if (align <= 16)
        return aligned(16, n);   /* glibc: malloc's alignment suffices */
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1))      /* round up to a power of two, as glibc does */
        align = (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
    return aligned(align, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
    if (align == 0 || align % sizeof(void *) != 0 || (align & (align - 1)))
        return EINVAL;
    void *p = aligned(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT void *valloc(size_t n) {
    return memalign(gort__os_page_size(), n);
}

EXPORT void *pvalloc(size_t n) {
    size_t ps = gort__os_page_size();
    if (n > SIZE_MAX - ps) {
        errno = ENOMEM;
        return NULL;
    }
    n = n ? GORT_ROUND_UP(n, ps) : ps;
    return memalign(ps, n);
}

EXPORT size_t malloc_usable_size(void *p) {
    if (!p)
        return 0;
    if (ON_VALGRIND())
        return vg_usable_size(p);
    return gort_usable_size(p);
}

/* glibc's internal names, which some programs and libraries call directly.  (gcc
 * would have the aliases repeat <stdlib.h>'s attributes on malloc; they need not.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#endif
EXPORT void *__libc_malloc(size_t n) __attribute__((alias("malloc")));
EXPORT void  __libc_free(void *p) __attribute__((alias("free")));
EXPORT void *__libc_calloc(size_t n, size_t size) __attribute__((alias("calloc")));
EXPORT void *__libc_realloc(void *p, size_t n) __attribute__((alias("realloc")));
EXPORT void *__libc_memalign(size_t align, size_t n) __attribute__((alias("memalign")));
EXPORT void *__libc_valloc(size_t n) __attribute__((alias("valloc")));
EXPORT void *__libc_pvalloc(size_t n) __attribute__((alias("pvalloc")));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* ---- glibc's introspection -------------------------------------------------------------- */

/* Return free memory to the OS now; 1 if any was released (glibc's contract). */
EXPORT int malloc_trim(size_t pad) {
    (void)pad;
    uint64_t before = atomic_load(&gort__scavenged_pages);
    gort_release_memory();
    return atomic_load(&gort__scavenged_pages) != before;
}

EXPORT void malloc_stats(void) {
    gort_alloc_stats_print(2);
}

/* mallinfo's fields, in gort's terms:
 *   arena     heap bytes obtained from the OS        ordblks  live objects
 *   hblks     live large objects (> 32 KiB)          hblkhd   their bytes
 *   uordblks  live bytes (rounded to class sizes)    fordblks heap bytes not live
 *   keepcost  idle heap bytes not yet released       usmblks  peak live bytes */
EXPORT struct mallinfo2 mallinfo2(void) {
    gort_alloc_stats_t st;
    gort_alloc_stats(&st);
    struct mallinfo2 mi = {0};
    mi.arena = st.heap_sys;
    mi.ordblks = st.heap_objects;
    mi.hblks = st.large_objects;
    mi.hblkhd = st.large_bytes;
    mi.usmblks = st.peak_heap_alloc;
    mi.uordblks = st.heap_alloc;
    mi.fordblks = st.heap_sys > st.heap_alloc ? st.heap_sys - st.heap_alloc : 0;
    mi.keepcost = st.heap_idle > st.heap_released ? st.heap_idle - st.heap_released : 0;
    return mi;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
EXPORT struct mallinfo mallinfo(void) {
    struct mallinfo2 m = mallinfo2();
    struct mallinfo mi;
#define CLAMP(v) ((int)((v) > INT32_MAX ? INT32_MAX : (v)))
    mi.arena = CLAMP(m.arena);
    mi.ordblks = CLAMP(m.ordblks);
    mi.smblks = 0;
    mi.hblks = CLAMP(m.hblks);
    mi.hblkhd = CLAMP(m.hblkhd);
    mi.usmblks = CLAMP(m.usmblks);
    mi.fsmblks = 0;
    mi.uordblks = CLAMP(m.uordblks);
    mi.fordblks = CLAMP(m.fordblks);
    mi.keepcost = CLAMP(m.keepcost);
#undef CLAMP
    return mi;
}
#pragma GCC diagnostic pop

/* glibc's tuning knobs mean nothing to gort: accepted and ignored. */
EXPORT int mallopt(int param, int value) {
    (void)param;
    (void)value;
    return 1;
}

EXPORT int malloc_info(int options, FILE *f) {
    if (options != 0 || !f) {
        errno = EINVAL;
        return -1;
    }
    gort_alloc_stats_t st;
    gort_alloc_stats(&st);
    fprintf(f,
            "<malloc version=\"gort-1\">\n"
            "<total type=\"live\" count=\"%llu\" size=\"%llu\"/>\n"
            "<total type=\"large\" count=\"%llu\" size=\"%llu\"/>\n"
            "<system type=\"current\" size=\"%llu\"/>\n"
            "<system type=\"released\" size=\"%llu\"/>\n"
            "</malloc>\n",
            (unsigned long long)st.heap_objects, (unsigned long long)st.heap_alloc,
            (unsigned long long)st.large_objects, (unsigned long long)st.large_bytes,
            (unsigned long long)st.sys, (unsigned long long)st.heap_released);
    return 0;
}

/* ---- C++ operators new and delete ---------------------------------------------------------- */

typedef void (*new_handler_fn)(void);
extern new_handler_fn _ZSt15get_new_handlerv(void) __attribute__((weak));    /* std::get_new_handler() */
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));  /* std::__throw_bad_alloc() */

/* operator new could not allocate: run the new_handler (true: try again), or
 * report failure (nothrow) or throw std::bad_alloc. */
GORT_COLD static bool new_failed(size_t n, bool nothrow) {
    new_handler_fn h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
    if (h) {
        h();
        return true;
    }
    if (nothrow)
        return false;
    if (_ZSt17__throw_bad_allocv)
        _ZSt17__throw_bad_allocv();
    gort__fatal("gort: operator new(%zu): out of memory, and std::bad_alloc cannot be thrown", n);
}

static void *cxx_new(size_t n, bool nothrow) {
    for (;;) {
        void *p = malloc(n);
        if (GORT_LIKELY(p != NULL))
            return p;
        if (!new_failed(n, nothrow))
            return NULL;
    }
}

static void *cxx_new_aligned(size_t n, size_t align, bool nothrow) {
    for (;;) {
        void *p = aligned(align, n);
        if (GORT_LIKELY(p != NULL))
            return p;
        if (!new_failed(n, nothrow))
            return NULL;
    }
}

/* The caller of an aligned operator new promises a power-of-two alignment. */
#define NOTHROW_T const void *   /* const std::nothrow_t & */
#define ALIGN_T   size_t         /* std::align_val_t */

EXPORT void *_Znwm(size_t n) { return cxx_new(n, false); }
EXPORT void *_Znam(size_t n) { return cxx_new(n, false); }
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, NOTHROW_T t) { (void)t; return cxx_new(n, true); }
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, NOTHROW_T t) { (void)t; return cxx_new(n, true); }
EXPORT void *_ZnwmSt11align_val_t(size_t n, ALIGN_T a) { return cxx_new_aligned(n, a, false); }
EXPORT void *_ZnamSt11align_val_t(size_t n, ALIGN_T a) { return cxx_new_aligned(n, a, false); }
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, ALIGN_T a, NOTHROW_T t) {
    (void)t;
    return cxx_new_aligned(n, a, true);
}
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, ALIGN_T a, NOTHROW_T t) {
    (void)t;
    return cxx_new_aligned(n, a, true);
}

EXPORT void _ZdlPv(void *p) { free(p); }
EXPORT void _ZdaPv(void *p) { free(p); }
EXPORT void _ZdlPvm(void *p, size_t n) { (void)n; free(p); }
EXPORT void _ZdaPvm(void *p, size_t n) { (void)n; free(p); }
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, NOTHROW_T t) { (void)t; free(p); }
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, NOTHROW_T t) { (void)t; free(p); }
EXPORT void _ZdlPvSt11align_val_t(void *p, ALIGN_T a) { (void)a; free(p); }
EXPORT void _ZdaPvSt11align_val_t(void *p, ALIGN_T a) { (void)a; free(p); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, ALIGN_T a) { (void)n; (void)a; free(p); }
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, ALIGN_T a) { (void)n; (void)a; free(p); }
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, ALIGN_T a, NOTHROW_T t) {
    (void)a;
    (void)t;
    free(p);
}
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, ALIGN_T a, NOTHROW_T t) {
    (void)a;
    (void)t;
    free(p);
}
