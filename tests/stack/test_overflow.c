/* Tests of stack overflow detection: stack/guard.c.
 *
 * The guard strategy is chosen once per process, when the first stack is
 * allocated, so every test that needs a particular strategy (or a handler
 * installed before gort's) runs in a child process it forks first.  The parent
 * itself allocates no stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/death.h"
#include "include/gort/stack.h"
#include "stack/internal.h"

/* The frame stays live across the call (its address escapes). */
#define KEEP_FRAME(f) __asm__ volatile("" : : "r"(f) : "memory")

static gort_ctx_t main_ctx;

/* ---- helpers ---------------------------------------------------------------------- */

/* Run fn in a child; return its wait status, and its stderr in out. */
struct child_call {
    void (*fn)(void *);
    void *arg;
};
static void child_defaults(void *arg) {
    const struct child_call *c = arg;
    /* cmocka catches SIGSEGV to report a crashing test; the child wants the
     * plain default it would have in a program. */
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    c->fn(c->arg);
}
static int run_child(void (*fn)(void *), void *arg, char *out, size_t n) {
    struct child_call c = {fn, arg};
    return gort_run_child(child_defaults, &c, out, n);
}

/* Recurse with 1 KiB frames, each touched, until the stack runs out. */
static volatile long runaway_limit = LONG_MAX;
static GORT_NOINLINE long runaway(long depth) {
    volatile char frame[1024];
    frame[0] = (char)depth;
    frame[1023] = (char)depth;
    if (depth == runaway_limit)
        return 0;
    long r = runaway(depth + 1);
    KEEP_FRAME(frame);   /* no tail-call or accumulator elimination: a real frame per call */
    return r + frame[0] + frame[1023];
}

static void runaway_fn(void *arg) {
    (void)arg;
    runaway(0);
}

/* Recurse until frames are `past` bytes below lo, then switch back: a
 * bounded overflow (what a canary catches at the next switch). */
struct bounded {
    gort_ctx_t ctx;
    uintptr_t stop_below;
};

static GORT_NOINLINE long dig(struct bounded *b, long depth) {
    volatile char frame[256];
    for (int i = 0; i < 256; i++)   /* every byte: a canary catches only what is written */
        frame[i] = (char)depth;
    if ((uintptr_t)frame < b->stop_below) {
        gort_ctx_switch(&b->ctx, &main_ctx);
        return frame[0];
    }
    long r = dig(b, depth + 1);
    KEEP_FRAME(frame);
    return r + frame[255];
}

static void dig_fn(void *arg) {
    dig(arg, 0);
    for (;;)
        gort_ctx_switch(&((struct bounded *)arg)->ctx, &main_ctx);
}

static char expect[256];

static void overflow_on(gort_stack_t *s) {
    gort_ctx_t c;
    snprintf(expect, sizeof expect, "stack [%p, %p) size %zu", s->lo, s->hi, s->size);
    gort_ctx_make(&c, s, runaway_fn, NULL);
    gort_ctx_switch(&main_ctx, &c);
}

/* ---- a handler installed before gort's still gets the faults that are not ours ---- */

static void user_handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "user handler: signal %d at %p\n", sig, si->si_addr);
    write(2, buf, (size_t)n);
    _exit(42);
}

static void null_deref_fn(void *arg) {
    (void)arg;
    uintptr_t a = 16;
    __asm__ volatile("" : "+r"(a));   /* an address the compiler cannot see */
    volatile int *p = (volatile int *)a;
    *p = 1;
}

static void chain_child(void *arg) {
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = user_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    gort_stack_t s;
    gort_ctx_t c;
    if (gort_stack_alloc(&s, 0) != 0)   /* installs gort's handler in front of ours */
        _exit(3);
    gort_ctx_make(&c, &s, null_deref_fn, NULL);
    gort_ctx_switch(&main_ctx, &c);
}

static void test_chains_to_previous_handler(void **state) {
    (void)state;
    char out[4096];
    int st = run_child(chain_child, NULL, out, sizeof out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 42)
        fail_msg("child status %#x, said: %s", st, out);
    assert_non_null(strstr(out, "user handler: signal 11 at 0x10"));
    assert_null(strstr(out, "stack overflow"));
}

/* ---- faults that are not overflows get the default action ------------------------------ */

static void default_child(void *arg) {
    gort_stack_t s;
    gort_ctx_t c;
    if (gort_stack_alloc(&s, 0) != 0)
        _exit(3);
    if (arg) {
        raise(SIGSEGV);   /* sent, not a fault: re-raised with the default action */
        _exit(4);
    }
    gort_ctx_make(&c, &s, null_deref_fn, NULL);
    gort_ctx_switch(&main_ctx, &c);
}

static void test_other_faults_default(void **state) {
    (void)state;
    char out[4096];
    for (int sent = 0; sent < 2; sent++) {
        int st = run_child(default_child, sent ? (void *)1 : NULL, out, sizeof out);
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV)
            fail_msg("%s: child status %#x, said: %s", sent ? "raise" : "fault", st, out);
        assert_null(strstr(out, "stack overflow"));
    }
}

/* ---- overflow into a guard -------------------------------------------------------------- */

static void overflow_default(void *arg) {
    (void)arg;
    gort_stack_t s;
    if (gort_stack_alloc(&s, 0) != 0)
        _exit(3);
    overflow_on(&s);
}

static void test_overflow_is_fatal(void **state) {
    (void)state;
    gort_expect_death(overflow_default, NULL, "fatal error: stack overflow: context stack [0x");
    gort_expect_death(overflow_default, NULL, "in the guard page below lo");
}

struct owned {
    size_t size;
    const char *kind;
    uint64_t id;
};

static void overflow_owned(void *arg) {
    struct owned *o = arg;
    gort_stack_t s;
    if (gort_stack_alloc(&s, o->size) != 0)
        _exit(3);
    gort__stack_set_owner(&s, o->kind, o->id);
    /* The exact line, addresses and all (the child prints them). */
    gort_ctx_t c;
    snprintf(expect, sizeof expect, "fatal error: stack overflow: %s %llu stack [%p, %p) size %zu\n",
             o->kind, (unsigned long long)o->id, s.lo, s.hi, s.size);
    gort__printf("expect: %s", expect);
    gort_ctx_make(&c, &s, runaway_fn, NULL);
    gort_ctx_switch(&main_ctx, &c);
}

static void test_overflow_names_owner(void **state) {
    (void)state;
    static const size_t sizes[] = {0, 100 << 10, 1 << 20};
    for (size_t i = 0; i < GORT_ARRAY_LEN(sizes); i++) {
        struct owned o = {sizes[i], "goroutine", 17 + i};
        char out[4096];
        int st = run_child(overflow_owned, &o, out, sizeof out);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
        /* The child printed "expect: <line>" first; the same line must follow. */
        char *e = strstr(out, "expect: ");
        assert_non_null(e);
        char *nl = strchr(e, '\n');
        assert_non_null(nl);
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(nl + 1 - (e + 8)), e + 8);
        if (!strstr(nl + 1, line))
            fail_msg("expected \"%s\" in:\n%s", line, out);
    }
}

/* An overflow on a thread of its own: that thread needs its own signal stack. */
static void *thread_overflow(void *arg) {
    gort_stack_t s;
    gort_ctx_t c, home;
    (void)arg;
    if (gort_stack_alloc(&s, 0) != 0)
        _exit(3);
    gort__stack_set_owner(&s, "goroutine", 99);
    gort_ctx_make(&c, &s, runaway_fn, NULL);
    gort_ctx_switch(&home, &c);
    return NULL;
}

static void overflow_in_thread(void *arg) {
    (void)arg;
    pthread_t t;
    pthread_create(&t, NULL, thread_overflow, NULL);
    pthread_join(t, NULL);
}

static void test_overflow_in_thread(void **state) {
    (void)state;
    gort_expect_death(overflow_in_thread, NULL, "stack overflow: goroutine 99 stack [");
}

/* ---- without kernel guard markers: guard pages on a budget, then canaries -------------- */

/* Allocate the 16 slots of the first carve with a budget of 2 guard pages, and
 * return one of the given kind. */
static void fallback_stack(gort_stack_t *out, int kind) {
    gort__stack_test_config(true, 2);
    static gort_stack_t s[16];
    int found = -1;
    for (int i = 0; i < 16; i++) {
        if (gort_stack_alloc(&s[i], 0) != 0)
            _exit(3);
        if (found < 0 && gort__stack_guard_kind(&s[i]) == kind)
            found = i;
    }
    if (found < 0) {
        gort__printf("no stack with guard kind %d\n", kind);
        _exit(5);
    }
    *out = s[found];
    s[found].slot = NULL;   /* not ours to free */
    for (int i = 0; i < 16; i++)
        gort_stack_free(&s[i]);
}

static void fallback_guard_page(void *arg) {
    (void)arg;
    gort_stack_t s;
    fallback_stack(&s, GORT_GUARD_PAGE);
    overflow_on(&s);
}

static void fallback_canary_switch(void *arg) {
    (void)arg;
    gort_stack_t s;
    fallback_stack(&s, GORT_GUARD_CANARY);
    static struct bounded b;
    b.stop_below = (uintptr_t)s.lo - 512;
    gort_ctx_make(&b.ctx, &s, dig_fn, &b);
    gort_ctx_switch(&main_ctx, &b.ctx);
    gort__printf("survived the switch back\n");
}

static void fallback_canary_free(void *arg) {
    (void)arg;
    gort_stack_t s;
    fallback_stack(&s, GORT_GUARD_CANARY);
    ((volatile char *)s.lo)[-1] ^= 0x5a;   /* what a frame past lo would do (always a change:
                                            * writing a fixed 'x' left the canary intact
                                            * whenever its byte there was 'x' already) */
    gort_stack_free(&s);
}

static void fallback_canary_runaway(void *arg) {
    (void)arg;
    gort_stack_t s;
    fallback_stack(&s, GORT_GUARD_CANARY);
    gort__stack_set_owner(&s, "goroutine", 7);
    overflow_on(&s);
}

static void fallback_pingpong(void *arg) {
    (void)arg;
    gort_stack_t s;
    fallback_stack(&s, GORT_GUARD_CANARY);
    static struct bounded b;
    b.stop_below = (uintptr_t)s.hi - 4096;   /* a few frames, well within the stack */
    gort_ctx_make(&b.ctx, &s, dig_fn, &b);
    for (int i = 0; i < 1000; i++)
        gort_ctx_switch(&main_ctx, &b.ctx);
    gort_stack_free(&s);
    _exit(0);
}

static void test_fallback(void **state) {
    (void)state;
    char out[4096];
    /* Contexts work, and track canaries, when some stacks have none. */
    int st = run_child(fallback_pingpong, NULL, out, sizeof out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("ping-pong on a canary stack: status %#x, said: %s", st, out);
    gort_expect_death(fallback_guard_page, NULL, "stack overflow: context stack [");
    gort_expect_death(fallback_canary_switch, NULL, "detected at a context switch");
    gort_expect_death(fallback_canary_switch, NULL, "stack overflow: context stack [");
    gort_expect_death(fallback_canary_free, NULL, "detected when the stack was freed");
    /* Unbounded: runs through the red zone and the free stacks below it until a
     * guard page stops it; the report names the stack that overflowed. */
    gort_expect_death(fallback_canary_runaway, NULL, "stack overflow: goroutine 7 stack [");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chains_to_previous_handler),
        cmocka_unit_test(test_other_faults_default),
        cmocka_unit_test(test_overflow_is_fatal),
        cmocka_unit_test(test_overflow_names_owner),
        cmocka_unit_test(test_overflow_in_thread),
        cmocka_unit_test(test_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
