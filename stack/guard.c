/* Stack guards: the kernel probe, guarding new slots, canaries, the fault
 * handler and its per-thread signal stack.  See the design essay in stack/stack.c
 * ("Overflow"). */
#include "stack/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102   /* Linux 6.13 */
#endif

_Atomic bool gort__stack_track;

static bool kernel_guards;        /* MADV_GUARD_INSTALL works (set once, at init) */
static bool test_no_kernel;       /* gort__stack_test_config */
static long test_budget = -1;
static _Atomic long page_budget;  /* mprotect guard pages we may still spend */
static long page_budget_total;
static struct sigaction old_segv, old_bus;

void gort__stack_test_config(bool no_kernel_guards, long guard_page_budget) {
    test_no_kernel = no_kernel_guards;
    test_budget = guard_page_budget;
}

/* vm.max_map_count, read without allocating; the kernel's default if unreadable. */
static long max_map_count(void) {
    long v = (long)gort__os_read_number("/proc/sys/vm/max_map_count");
    return v > 0 ? v : 65530;
}

static void on_fault(int sig, siginfo_t *si, void *uc);

/* Does the guard at p really fault?  A kernel that knows MADV_GUARD_INSTALL
 * makes write() fail with EFAULT reading from it; an emulator that accepts
 * the advice and ignores it (qemu-user) lets the write through. */
static bool guard_works(const void *p) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return true;   /* cannot tell: trust the kernel's answer */
    ssize_t n = write(fds[1], p, 1);
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return n < 0 && err == EFAULT;
}

void gort__stack_guard_init(uintptr_t first_guard) {
    size_t pg = gort__stack_page();
    if (!test_no_kernel && gort__os.madvise((void *)first_guard, pg, MADV_GUARD_INSTALL) == 0 &&
        guard_works((const void *)first_guard)) {
        kernel_guards = true;
    } else {
        /* Each mprotect'ed guard splits its region's mapping in two: spend at
         * most an eighth of the process's mappings on them. */
        page_budget_total = test_budget >= 0 ? test_budget : max_map_count() / 8;
        atomic_store(&page_budget, page_budget_total);
        atomic_store(&gort__stack_track, true);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

void gort__stack_canary_write(void *lo) {
    uint64_t *w = (uint64_t *)lo - GORT_CANARY_WORDS;
    for (int i = 0; i < GORT_CANARY_WORDS; i++)
        w[i] = gort__stack_canary_value(&w[i]);
}

int gort__stack_guard_slot(uintptr_t slot, size_t slot_size) {
    (void)slot_size;
    size_t pg = gort__stack_page();
    if (kernel_guards) {
        /* A guard marker in the page table: no new mapping, no memory. */
        return gort__os.madvise((void *)slot, pg, MADV_GUARD_INSTALL) == 0 ? GORT_GUARD_KERNEL : 0;
    }
    if (atomic_fetch_sub(&page_budget, 1) > 0) {
        if (gort__os.mprotect((void *)slot, pg, PROT_NONE) == 0)
            return GORT_GUARD_PAGE;
        /* ENOMEM: the process is out of mappings after all. */
    }
    atomic_store(&page_budget, 0);
    gort__stack_canary_write((void *)(slot + pg));
    return GORT_GUARD_CANARY;
}

void gort__stack_owner_name(const gort__stack_slot_t *r, char *buf, size_t n) {
    if (r && r->owner_kind && r->owner_id)
        snprintf(buf, n, "%s %llu", r->owner_kind, (unsigned long long)r->owner_id);
    else if (r && r->owner_kind)
        snprintf(buf, n, "%s", r->owner_kind);
    else
        snprintf(buf, n, "context");
}

/* "fatal error: stack overflow: <owner> stack [lo, hi) size N" and a line of detail. */
static GORT_NORETURN void overflow(const gort__stack_slot_t *r, uintptr_t slot, size_t slot_size,
                                   const char *detail, const void *at) {
    char who[96];
    gort__stack_owner_name(r, who, sizeof who);
    uintptr_t lo = slot + gort__stack_page(), hi = slot + slot_size;
    gort__fatal("stack overflow: %s stack [%p, %p) size %zu\n\t%s %p%s", who, (void *)lo, (void *)hi,
                (size_t)(hi - lo), detail, at,
                r->live ? "" : " (a free stack: the overflowing one ran past its own guard)");
}

void gort__stack_canary_smashed(const uint64_t *word, const char *when) {
    uintptr_t slot;
    size_t size;
    gort__stack_slot_t *r = gort__stack_slot_of((uintptr_t)word, &slot, &size);
    if (!r)
        gort__fatal("stack overflow: canary %p overwritten (detected %s)", (const void *)word, when);
    char detail[256];
    snprintf(detail, sizeof detail,
             "ran below lo: sp was below it or the canary under it was overwritten (detected %s); "
             "this stack has no guard page (the kernel lacks MADV_GUARD_INSTALL and the %ld guard "
             "pages allowed are spent); canary at",
             when, page_budget_total);
    overflow(r, slot, size, detail, word);
}

void gort__stack_canary_check(const gort_stack_t *s, const char *when) {
    const gort__stack_slot_t *r = s->slot;
    if (r->guard != GORT_GUARD_CANARY)
        return;
    const uint64_t *w = (const uint64_t *)s->lo - GORT_CANARY_WORDS;
    for (int i = GORT_CANARY_WORDS - 1; i >= 0; i--)
        if (w[i] != gort__stack_canary_value(&w[i]))
            gort__stack_canary_smashed(&w[i], when);
}

/* Pass a fault that is not ours to whoever had the signal before us. */
static void chain(int sig, siginfo_t *si, void *uc) {
    const struct sigaction *o = sig == SIGBUS ? &old_bus : &old_segv;
    if ((o->sa_flags & SA_SIGINFO) && o->sa_sigaction) {
        o->sa_sigaction(sig, si, uc);
        return;
    }
    if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) {
        o->sa_handler(sig);
        return;
    }
    /* The default action.  A fault happens again when we return and kills the
     * process then (with its core dump); a signal sent by kill is re-raised. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

/* The stack pointer at the fault. */
static uintptr_t fault_sp(void *uc) {
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)u->uc_mcontext.sp;
#else
    (void)u;
    return UINTPTR_MAX;
#endif
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
    if (si->si_code > 0) {   /* raised by the kernel for an access */
        /* The running stack first: an overflow through an unguarded red zone
         * may fault only further down, in a neighbour's guard. */
        const uint64_t *g = gort__stack_current_guard();
        if (g && (*g != gort__stack_canary_value(g) || fault_sp(uc) < (uintptr_t)(g + 1)))
            gort__stack_canary_smashed(g, "at a fault");
        uintptr_t a = (uintptr_t)si->si_addr, slot;
        size_t size;
        const gort__stack_slot_t *r = gort__stack_slot_of(a, &slot, &size);
        if (r && a - slot < gort__stack_page())
            overflow(r, slot, size, "fault in the guard page below lo, at", (void *)a);
    }
    chain(sig, si, uc);
}

/* ---- per-thread signal stack ------------------------------------------------------
 * The handler cannot run on the stack that overflowed, so every thread that runs
 * contexts gets a signal stack: a pool stack (with its own guard). */
enum { ALT_MIN = 16 << 10 };
static __thread gort_stack_t alt;
static __thread bool alt_ours;

void gort__stack_altstack_init(void) {
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= ALT_MIN)
        return;   /* the thread has one (e.g. AddressSanitizer's) */
    if (gort_stack_alloc(&alt, 0) != 0)
        return;   /* an overflow will still kill the thread, by a plain SIGSEGV */
    stack_t ss = {.ss_sp = alt.lo, .ss_size = alt.size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        gort_stack_free(&alt);
        return;
    }
    alt_ours = true;
}

void gort__stack_altstack_drop(void) {
    if (!alt_ours)
        return;
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    gort_stack_free(&alt);
    alt_ours = false;
}
