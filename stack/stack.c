/* Goroutine stacks and the context switch.
 *
 * This is the stack module's entry file: the design essay, then the public
 * stack calls.  The other files:
 *
 *   switch_x86_64.S, switch_aarch64.S   the switch itself (gort_ctx_switch,
 *             gort__ctx_jump) and a new context's first frame
 *   ctx.c     gort_ctx_make / gort_ctx_switch: the C side, sanitizer hand-offs
 *   pool.c    size classes, regions, per-thread caches and the global pool
 *   guard.c   guard pages, canaries, the fault handler and its signal stacks
 *
 * What a stack is
 * ---------------
 * Go grows a goroutine's stack by copying it into a bigger one and fixing up
 * the pointers into it.  C cannot: any frame may hold the address of a local,
 * in a register or in the heap, and nothing says where.  So a gort stack never
 * moves.  It is a fixed-size, contiguous reservation of address space whose
 * pages the kernel commits on first touch: a goroutine that only ever uses 3
 * KiB costs one page of memory however big its reservation; "growing" is the
 * kernel faulting in the next page down, and "shrinking" is giving pages back
 * (gort_stack_shrink, which the collector will call on suspended goroutines,
 * Go's shrinkstack).
 *
 * Slots and classes.  Stacks come in power-of-two slot sizes, 64 KiB (the
 * default) to 1 GiB: class c has slots of 64 KiB << c.  A slot is one guard page
 * at its bottom and the usable stack [lo, hi) above it, so the default stack
 * has 60 KiB usable, and a request for n bytes gets the smallest class whose
 * slot minus the guard holds n.
 *
 * Regions.  Slots are carved from a few large reservations ("regions"), one
 * class per region: mmap(PROT_READ|PROT_WRITE, MAP_NORESERVE) of 1 GiB of
 * slots for a class's first region, each further region twice the last, up to
 * 64 GiB.  A million default stacks (64 GiB) take 7 regions: at most 7
 * mappings, in practice 1 or 2 as the kernel merges adjacent ones.  The
 * region's tail holds one 32-byte record per slot (gort__stack_slot_t: free-list
 * link, guard kind, owner), out of band so a free stack's memory can be
 * released whole and a corrupted stack cannot corrupt the pool.  Regions are
 * never unmapped; the table of them (at most 64) is append-only and lock-free
 * to read, which the fault handler needs.
 *
 * How a request flows (pool.c).  gort_stack_alloc maps the size to a class and
 * takes a slot: from the calling thread's cache (classes up to 256 KiB: a
 * thread-local list, no lock, no atomic), else a batch of 16 from the class's
 * global pool (one lock, GORT_RANK_STACKPOOL), else 16 newly carved slots from
 * the class's current region, else a new region.  gort_stack_free pushes the
 * slot on the thread's cache; a cache over 32 returns half to the global pool,
 * and a thread's cache goes back whole when the thread exits.  In steady state
 * this makes no system call at all: not mmap, munmap, mprotect nor madvise
 * (tests/stack/test_stack.c counts them through gort__os).  Stacks are not
 * cleared when reused: like malloc'd memory they hold garbage.  Around fork()
 * every pool lock is taken, so the child's pool is consistent.
 *
 * Overflow (guard.c).  An overflow must never corrupt silently.  The obvious
 * guard -- an mprotect(PROT_NONE) page below each stack -- costs two mappings
 * per stack (it splits the region's mapping), and Linux allows 65 530 mappings
 * per process (vm.max_map_count): it stops near 32 000 stacks.  So, probed once
 * when the first region is mapped:
 *
 *   - Linux >= 6.13: MADV_GUARD_INSTALL puts a guard marker in the page table
 *     entries of the guard page.  Touching it faults like PROT_NONE, but the
 *     mapping is not split and no memory is used: a million guarded stacks in
 *     at most 7 mappings.  Installed once per slot, when it is carved.  The
 *     probe also checks that the guard faults (a write() from it must fail
 *     with EFAULT): qemu-user accepts the advice and ignores it.
 *   - Older kernels: mprotect'ed guard pages for the first max_map_count/8
 *     slots carved (about 8 000, 16 000 mappings), then a red zone with
 *     canary words just below lo.  With canaries, every switch compares the
 *     canary of the stack it leaves (ctx.c keeps the running stack's canary in
 *     a thread-local; gort__stack_track turns that on, decided before any
 *     context exists), as do gort_stack_free and gort_stack_shrink, and the
 *     fault handler.  An overflow is then caught at the next switch instead of
 *     at the first byte, and one that runs through the red zone into a
 *     neighbour is reported by the fault it eventually causes: the handler
 *     checks the running stack's canary and the faulting sp against its lo
 *     first, so it names the right stack.  Such a stack costs a page more
 *     (the canary's).
 *
 * A guard fault raises SIGSEGV.  The handler (installed with the first region,
 * SA_ONSTACK) runs on a per-thread signal stack -- itself a pool stack, set up
 * lazily for every thread that makes or starts a context -- looks the address
 * up in the region table, and if it is a guard page prints
 *
 *   fatal error: stack overflow: goroutine 17 stack [lo, hi) size N
 *
 * and aborts.  The owner ("goroutine 17") is whatever the scheduler recorded
 * with gort__stack_set_owner; "context" otherwise.  Any other fault goes to the
 * handler that was installed before ours, or gets the default action.
 *
 * The switch (switch_*.S, ctx.c).  A context is a saved stack pointer: the
 * switch pushes the callee-saved registers -- all the ABI says survive a call,
 * including the MXCSR/x87 control words (x86-64) and d8-d15 and FPCR
 * (AArch64) -- on the running stack, stores sp into `from`, loads `to`'s sp and
 * pops.  No system call, no signal mask (ucontext's swapcontext makes a
 * sigprocmask call per switch: 30x slower).  Because the registers live on the
 * stack just below the saved sp, a suspended context's whole state is [sp, hi):
 * the collector scans exactly that range, gort_stack_shrink releases below sp,
 * and a debugger unwinds from sp (docs/stack.md).  A new context starts in a
 * tiny boot stub that calls a C entry (ctx.c), which calls fn(arg) and turns
 * fn's return into a fatal error: there is nothing to return to.
 *
 * gort_ctx_switch itself is assembly: it pushes the frame, tests
 * gort__stack_track (one predicted branch, placed where it costs nothing
 * measurable), and switches; about 4.4 ns and 30 instructions, as fast as
 * Boost.Context's jump_fcontext (bench/results/stack.md).  With canary-only
 * stacks around, it drops the frame and goes to ctx.c's slow path instead.
 *
 * Tools.  Under AddressSanitizer and ThreadSanitizer (compile-time),
 * gort_ctx_switch is ctx.c's slow path, which tells the sanitizer about the
 * new stack (__sanitizer_start/finish_switch_fiber, __tsan_switch_to_fiber).
 * Under valgrind (run-time) each stack is registered with
 * VALGRIND_STACK_REGISTER.
 *
 * Rejected
 * --------
 *   - ucontext: a system call per switch.
 *   - One mmap (plus guard) per stack, as pthreads do: a system call per
 *     allocation and two mappings per stack; see Overflow.
 *   - Copying stacks (Go): impossible for C, see above.  A segmented mode on
 *     GCC's -fsplit-stack (gccgo) could start stacks below a page; not yet.
 *   - Zeroing or releasing stacks when they are freed: costs a system call or a
 *     memset per goroutine; the pool hands back warm stacks and the collector
 *     releases what is idle (gort__stack_pool_release, gort_stack_shrink).
 *
 * Invariants
 * ----------
 *   - A slot's guard is set when it is carved and never removed; a slot never
 *     leaves its class.
 *   - A record's `live` is 1 exactly between gort_stack_alloc and
 *     gort_stack_free; a free record is on exactly one list (a thread cache or
 *     its class's pool).
 *   - gort__stack_track never changes once a region exists, so every context
 *     saved while it is on has a meaningful `guard`.
 */
#include "stack/internal.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GORT_HAVE_VALGRIND 1
#endif
#endif

#if GORT_STACK_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if GORT_STACK_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* ---- per-thread set-up ------------------------------------------------------------ */

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static __thread bool thread_ready;

static void on_thread_exit(void *unused) {
    (void)unused;
    thread_ready = false;   /* a later destructor that uses stacks registers again */
    gort__stack_altstack_drop();
    gort__stack_cache_flush();
}

static void make_exit_key(void) {
    if (pthread_key_create(&exit_key, on_thread_exit) != 0)
        gort__fatal("gort: stack: pthread_key_create failed");
}

void gort__stack_thread_init(void) {
    if (GORT_LIKELY(thread_ready))
        return;
    thread_ready = true;
    pthread_once(&exit_once, make_exit_key);
    pthread_setspecific(exit_key, (void *)1);
    gort__stack_altstack_init();
}

/* ---- the public stack calls -------------------------------------------------------- */

#if GORT_HAVE_VALGRIND
static _Atomic int on_valgrind = -1;   /* -1: not asked yet */
#endif

int gort_stack_alloc(gort_stack_t *s, size_t size) {
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    int cls = gort__stack_class_of(size);
    if (cls < 0) {
        errno = EINVAL;
        return -1;
    }
    gort__stack_slot_t *r = gort__stack_pool_get(cls);
    if (!r) {
        errno = ENOMEM;
        return -1;
    }
    GORT_DASSERT(!r->live && r->cls == cls);
    size_t pg = gort__stack_page();
    uintptr_t slot = gort__stack_slot_addr(r);
    s->lo = (void *)(slot + pg);
    s->hi = (void *)(slot + (gort__stack_min_slot() << cls));
    s->size = (size_t)((char *)s->hi - (char *)s->lo);
    s->slot = r;
    s->tsan_fiber = NULL;
    s->valgrind_id = 0;
    s->flags = 0;
    r->live = 1;
    r->owner_kind = NULL;
    r->owner_id = 0;
    r->released = 0;
#if GORT_HAVE_VALGRIND
    int vg = atomic_load_explicit(&on_valgrind, memory_order_relaxed);
    if (GORT_UNLIKELY(vg != 0)) {
        if (vg < 0) {
            vg = RUNNING_ON_VALGRIND ? 1 : 0;
            atomic_store_explicit(&on_valgrind, vg, memory_order_relaxed);
        }
        if (vg)
            s->valgrind_id = VALGRIND_STACK_REGISTER(s->lo, s->hi);
    }
#endif
    return 0;
}

gort__stack_slot_t *gort__stack_check(const gort_stack_t *s, const char *who) {
    if (!s || !s->slot)
        gort__fatal("%s: stack %p is not allocated", who, (const void *)s);
    uintptr_t slot;
    size_t size;
    gort__stack_slot_t *r = gort__stack_slot_of((uintptr_t)s->lo, &slot, &size);
    if (!r || r != s->slot || (uintptr_t)s->lo != slot + gort__stack_page() ||
        (uintptr_t)s->hi != slot + size)
        gort__fatal("%s: %p is not a gort stack (lo %p, hi %p, size %zu)", who, (const void *)s,
                    s->lo, s->hi, s->size);
    if (!r->live)
        gort__fatal("%s: stack [%p, %p) is not allocated (freed twice?)", who, s->lo, s->hi);
    return r;
}

void gort_stack_free(gort_stack_t *s) {
    if (!s || !s->slot)
        return;
    gort__stack_slot_t *r = gort__stack_check(s, "gort_stack_free");
    gort__stack_canary_check(s, "when the stack was freed");
#if GORT_STACK_TSAN
    if (s->tsan_fiber)
        __tsan_destroy_fiber(s->tsan_fiber);
#endif
#if GORT_STACK_ASAN
    /* Frames that never returned leave poisoned shadow behind. */
    if (s->flags & GORT_STACK_HAD_CTX)
        __asan_unpoison_memory_region(s->lo, s->size);
#endif
#if GORT_HAVE_VALGRIND
    if (s->valgrind_id)
        VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
    r->live = 0;
    r->owner_kind = NULL;
    gort__stack_pool_put(r);
    s->lo = s->hi = NULL;
    s->size = 0;
    s->slot = NULL;
    s->tsan_fiber = NULL;
    s->valgrind_id = 0;
    s->flags = 0;
}

/* Resident pages of [lo, lo + n pages), lowest first, through mincore. */
typedef struct { uintptr_t lowest; size_t count; } resident_t;
static resident_t resident(uintptr_t lo, uintptr_t hi, bool stop_at_first) {
    size_t pg = gort__stack_page();
    unsigned char vec[512];
    resident_t res = {0, 0};
    for (uintptr_t p = lo; p < hi;) {
        size_t n = (hi - p) / pg;
        if (n > sizeof vec)
            n = sizeof vec;
        if (mincore((void *)p, n * pg, vec) != 0)
            gort__fatal("gort: stack: mincore(%p, %zu) failed: errno %d", (void *)p, n * pg, errno);
        for (size_t i = 0; i < n; i++) {
            if (vec[i] & 1) {
                if (!res.count++)
                    res.lowest = p + i * pg;
                if (stop_at_first)
                    return res;
            }
        }
        p += n * pg;
    }
    return res;
}

size_t gort_stack_used(const gort_stack_t *s) {
    gort__stack_check(s, "gort_stack_used");
    resident_t r = resident((uintptr_t)s->lo, (uintptr_t)s->hi, true);
    return r.count ? (size_t)((uintptr_t)s->hi - r.lowest) : 0;
}

size_t gort_stack_shrink(gort_stack_t *s, void *sp) {
    gort__stack_check(s, "gort_stack_shrink");
    gort__stack_canary_check(s, "when the stack was shrunk");
    uintptr_t lo = (uintptr_t)s->lo, hi = (uintptr_t)s->hi, p = (uintptr_t)sp;
    if (p < lo || p > hi)
        gort__fatal("gort_stack_shrink: sp %p is outside stack [%p, %p)", sp, s->lo, s->hi);
    uintptr_t end = GORT_ROUND_DOWN(p, gort__stack_page());
    if (end <= lo)
        return 0;
    resident_t r = resident(lo, end, false);
    if (!r.count)
        return 0;
    gort__os_release((void *)r.lowest, (size_t)(end - r.lowest));
    return r.count * gort__stack_page();
}

/* ---- hooks for the scheduler, the collector and tests -------------------------------- */

void gort__stack_set_owner(gort_stack_t *s, const char *kind, uint64_t id) {
    gort__stack_slot_t *r = gort__stack_check(s, "gort__stack_set_owner");
    r->owner_kind = kind;
    r->owner_id = id;
}

int gort__stack_guard_kind(const gort_stack_t *s) {
    return gort__stack_check(s, "gort__stack_guard_kind")->guard;
}
