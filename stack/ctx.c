/* Contexts: gort_ctx_make and gort_ctx_switch around the assembly switch, with
 * the sanitizer hand-offs and canary tracking.  See the design essay in
 * stack/stack.c ("The switch", "Tools"). */
#include "stack/internal.h"
#include "stack/switch.h"

#include <stddef.h>

#if GORT_STACK_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if GORT_STACK_TSAN
#include <sanitizer/tsan_interface.h>
#endif

_Static_assert(offsetof(gort_ctx_t, sp) == 0, "the assembly reads and writes gort_ctx_t.sp at offset 0");

/* The canary word of the stack this thread runs on: NULL on a thread's own
 * stack and on stacks with a guard page.  Only maintained when
 * gort__stack_track (stacks without guard pages exist). */
static __thread uint64_t *cur_guard;

const uint64_t *gort__stack_current_guard(void) {
    return cur_guard;
}

/* Just arrived on a context, resumed by prev (which just saved itself). */
GORT_INLINE void arrived(gort_ctx_t *prev, gort_ctx_t *self) {
#if GORT_STACK_ASAN
    /* ASan tells us the bounds of the stack we left: prev's, which for a
     * thread's own context we learn only here. */
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(self ? self->asan_fake : NULL, &bottom, &size);
    prev->stack_lo = bottom;
    prev->stack_size = size;
#else
    (void)prev;
    (void)self;
#endif
}

/* Every switch when sanitizers or canaries need to hear about it.  Without a
 * sanitizer, gort_ctx_switch is the assembly entry (switch_<arch>.S), which
 * comes here only when gort__stack_track is on. */
GORT_NOINLINE void gort__ctx_switch_slow(gort_ctx_t *from, gort_ctx_t *to) {
    if (atomic_load_explicit(&gort__stack_track, memory_order_relaxed)) {
        uint64_t *g = cur_guard;
        /* Leaving a stack without a guard page: it overflowed if we are
         * running below its lo, or if something overwrote its canary. */
        if (g && GORT_UNLIKELY(*g != gort__stack_canary_value(g) ||
                               (uintptr_t)__builtin_frame_address(0) < (uintptr_t)(g + 1)))
            gort__stack_canary_smashed(g, "at a context switch");
        from->guard = g;
        cur_guard = to->guard;
    }
#if GORT_STACK_ASAN
    __sanitizer_start_switch_fiber(&from->asan_fake, to->stack_lo, to->stack_size);
#endif
#if GORT_STACK_TSAN
    from->tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    gort_ctx_t *prev = gort__ctx_jump(from, to);
    arrived(prev, from);
}

#if GORT_STACK_SANITIZED
void gort_ctx_switch(gort_ctx_t *from, gort_ctx_t *to) {
    gort__ctx_switch_slow(from, to);
}
#endif

/* A context's first C code: boot stub -> here -> fn(arg). */
static void ctx_entry(gort_ctx_t *from, void *fn, void *arg) {
    arrived(from, NULL);
    gort__stack_thread_init();   /* this thread may never have made a context */
    ((void (*)(void *))fn)(arg);
    uintptr_t slot;
    size_t size;
    const gort__stack_slot_t *r = gort__stack_slot_of((uintptr_t)__builtin_frame_address(0), &slot, &size);
    char who[96];
    gort__stack_owner_name(r, who, sizeof who);
    gort__fatal("gort: the function %p of a context (%s, stack [%p, %p)) returned; a context's "
                "function must never return: switch to another context instead",
                fn, who, r ? (void *)(slot + gort__stack_page()) : NULL,
                r ? (void *)(slot + size) : NULL);
}

static void make_on(gort_ctx_t *c, gort_stack_t *s, const gort__stack_slot_t *r,
                    void (*fn)(void *), void *arg, uint64_t fp) {
    gort__stack_thread_init();
#if GORT_STACK_ASAN
    if (s->flags & GORT_STACK_HAD_CTX)
        __asan_unpoison_memory_region(s->lo, s->size);
#endif
#if GORT_STACK_TSAN
    if (s->tsan_fiber)
        __tsan_destroy_fiber(s->tsan_fiber);
    s->tsan_fiber = __tsan_create_fiber(0);
#endif
    s->flags |= GORT_STACK_HAD_CTX;
    c->sp = gort__ctx_init(s->hi, ctx_entry, (void *)fn, arg, fp);
    c->guard = r->guard == GORT_GUARD_CANARY ? (uint64_t *)s->lo - 1 : NULL;
    c->stack_lo = s->lo;
    c->stack_size = s->size;
    c->asan_fake = NULL;
    c->tsan_fiber = s->tsan_fiber;
}

void gort_ctx_make(gort_ctx_t *c, gort_stack_t *s, void (*fn)(void *), void *arg) {
    GORT_ASSERT(c != NULL && fn != NULL);
    gort__stack_slot_t *r = gort__stack_check(s, "gort_ctx_make");
    make_on(c, s, r, fn, arg, gort__ctx_fpstate());
}

void gort__ctx_make_owned(gort_ctx_t *c, gort_stack_t *s, void (*fn)(void *), void *arg,
                          const char *kind, uint64_t id, uint64_t fp) {
    gort__stack_slot_t *r = s->slot;
    GORT_DASSERT(r == gort__stack_check(s, "gort__ctx_make_owned"));
    r->owner_kind = kind;
    r->owner_id = id;
    make_on(c, s, r, fn, arg, fp);
}
