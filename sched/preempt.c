/* Forced preemption: sysmon's signal and its handler.  The design essay is at
 * the top of sched/sched.c ("Preemption").
 *
 * sysmon sets gp->preempt on a goroutine that has run for 10 ms and sends
 * SIGURG to its M (Go's preemptone and preemptM).  The flag alone is the
 * cooperative request, honoured at the runtime's safe points.  The handler
 * switches the goroutine out on the spot only where that is safe:
 *
 *   - the interrupted pc is in the program's own code: the main executable's
 *     .text section (read from its section headers at start-up), minus the
 *     runtime's code.  Not the rest of its executable segment: the PLT stubs
 *     (.plt, .plt.got, .plt.sec) are where the runtime's own calls to memcpy
 *     and memset pass, with a channel's lock held or inside a critical
 *     section of the collector's, and .init/.fini are the loader's.  Nor
 *     anything the runtime calls there: it calls no compiler helper linked
 *     into .text (gort__popcount64 instead of libgcc's __popcountdi2;
 *     tests/sched/preempt disassembles the runtime to check).  A static
 *     executable (libc in its .text) gets no asynchronous preemption.  The
 *     runtime's code is the section gort_text: sched/targets.cmake renames
 *     every .text* section of libgort.a to it, so the linker brackets it with
 *     __start_gort_text / __stop_gort_text.  (Linked with libgort.so, the
 *     runtime is another object, outside the executable anyway.)  So never
 *     inside libc, the allocator, a runtime lock or the scheduler's own
 *     unlocked one-P paths;
 *   - the M runs that goroutine on its P (P_RUNNING, no deferred action), is
 *     in no critical section of the collector's, and the goroutine's sp is on
 *     its own stack with room for the switch.  (Debug builds also check that
 *     the thread holds no runtime lock.)
 *   - the interrupted code is not another signal's handler: its signal mask
 *     blocks nothing the goroutines' usual mask does not (a handler runs with
 *     its own signal blocked, and its sa_mask).  A program's handler -- a
 *     sampling profiler's SIGPROF -- may have interrupted the runtime with a
 *     lock held; its pc is the program's, yet switching there would leave the
 *     lock held by a goroutine that is not running (gc.sighandler deadlocked
 *     on the page heap's lock so in 2 runs of 3).  A goroutine that changed
 *     its thread's mask for good loses asynchronous preemption, not the
 *     cooperative kind; a handler installed with SA_NODEFER and an empty
 *     sa_mask cannot be told apart from the program.
 *
 * Elsewhere the handler returns and the flag waits for the next safe point.
 *
 * At a safe pc the handler yields right there, on the goroutine's stack: the
 * kernel has saved every register (general, flags, x87/SSE/AVX through
 * xsave) in the signal frame, below the interrupted sp and its 128-byte red
 * zone, and when the goroutine is resumed -- on this thread or another -- the
 * handler returns and rt_sigreturn restores them all.  That is Go's injected
 * asyncPreempt call, with the kernel doing the register saving.  The handler
 * is installed with SA_NODEFER, so the thread's signal mask is never changed
 * and the next goroutine on this thread runs with the usual one; fs (the
 * thread pointer) is not part of the frame the kernel restores on x86-64, so
 * a goroutine resumed on another thread keeps that thread's TLS.
 *
 * Off in sanitizer builds (TSan delivers signals late with a stale context;
 * the sanitizer runtimes live in the executable's text, where the pc test
 * would take them for the program's), with GORT_DEBUG=asyncpreemptoff=1, and
 * when the executable's section headers cannot be read: the flag still works
 * at safe points. */
#include "sched/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PREEMPT_SIGNAL SIGURG

extern const char __start_gort_text[] __attribute__((weak, visibility("hidden")));
extern const char __stop_gort_text[] __attribute__((weak, visibility("hidden")));

enum { STACK_ROOM = 16 * 1024 };
static struct { uintptr_t lo, hi; } text;   /* the executable's .text, loaded */
static bool async_on;
static uint64_t base_mask;   /* signals 1-64 (bit sig - 1) the goroutines' threads block */
static struct sigaction old_action;
static pid_t pid;

static int first_object(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    *(uintptr_t *)arg = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_INTERP)
            return 1;   /* the first object is the program */
    *(uintptr_t *)arg = UINTPTR_MAX;   /* static: libc's code is in its .text too */
    return 1;
}

/* The executable's .text section, from its section headers (no allocation: this
 * runs before the program's first goroutine).  False if they cannot be read, or
 * if the executable is static (no program interpreter): libc is linked into its
 * .text, and the runtime calls libc. */
static bool find_text(void) {
    uintptr_t base = 0;
    dl_iterate_phdr(first_object, &base);
    if (base == UINTPTR_MAX)
        return false;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool found = false;
    ElfW(Ehdr) eh;
    ElfW(Shdr) strtab;
    /* The file must be the program that runs (its entry point is the kernel's
     * AT_ENTRY): started as `ld.so ./prog`, /proc/self/exe is the loader. */
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        base + eh.e_entry != getauxval(AT_ENTRY) ||
        eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shstrndx >= eh.e_shnum ||
        pread(fd, &strtab, sizeof strtab, (off_t)(eh.e_shoff + (ElfW(Off))eh.e_shstrndx * sizeof strtab)) !=
            (ssize_t)sizeof strtab)
        goto out;
    for (unsigned i = 0; i < eh.e_shnum && !found; i++) {
        ElfW(Shdr) sh;
        char name[8];
        if (pread(fd, &sh, sizeof sh, (off_t)(eh.e_shoff + (ElfW(Off))i * sizeof sh)) != (ssize_t)sizeof sh)
            goto out;
        if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR) || sh.sh_name >= strtab.sh_size ||
            pread(fd, name, sizeof name, (off_t)(strtab.sh_offset + sh.sh_name)) < 6)
            continue;
        if (memcmp(name, ".text", 6) == 0) {
            text.lo = base + sh.sh_addr;
            text.hi = text.lo + sh.sh_size;
            found = true;
        }
    }
out:
    close(fd);
    return found;
}

static bool program_pc(uintptr_t pc) {
    if (__start_gort_text && pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text)
        return false;
    return pc >= text.lo && pc < text.hi;
}

bool gort__sched_preempt_pc(uintptr_t pc) {
    return program_pc(pc);
}

/* Whether the interrupted code blocks signals the goroutines do not: it is
 * another signal's handler (see above). */
static bool in_handler(const ucontext_t *uc) {
    return (gort__sigset_bits(&uc->uc_sigmask) & ~base_mask) != 0;
}

void gort__sched_preempt_base_mask(const sigset_t *usual) {
    base_mask = gort__sigset_bits(usual);
}

/* Whether the goroutine's M may switch it out here, besides the pc: see above. */
static bool m_preemptible(gort__m_t *m, gort__g_t *gp) {
    gort__p_t *p = m->p;
    if (!p || LOAD(p->m) != m || LOAD(p->status) != P_RUNNING || m->after || LOAD(gp->status) != G_RUNNING ||
        gp->m != m || (m->gct && m->gct->crit))
        return false;
#ifdef GORT_DEBUG_CHECKS
    const void *l = gort__lockrank_top();
    if (l)
        gort__fatal("gort: preemption at a program pc with runtime lock %p held", l);
#endif
    return true;
}

static void on_signal(int sig, siginfo_t *si, void *uc) {
    int saved = errno;
    gort__m_t *m = gort__sched_tls_m;
    gort__g_t *gp = m ? __atomic_load_n(&m->curg, __ATOMIC_RELAXED) : NULL;
    if (!gp || !LOAD(gp->preempt)) {
        /* Not ours: the program's own handler, if it had one. */
        if ((old_action.sa_flags & SA_SIGINFO) && old_action.sa_sigaction)
            old_action.sa_sigaction(sig, si, uc);
        else if (!(old_action.sa_flags & SA_SIGINFO) && old_action.sa_handler != SIG_DFL &&
                 old_action.sa_handler != SIG_IGN && old_action.sa_handler)
            old_action.sa_handler(sig);
        errno = saved;
        return;
    }
    if (!async_on)
        goto out;
    uintptr_t pc = gort__uc_pc(uc), sp = gort__uc_sp(uc);
    if (!program_pc(pc) || in_handler(uc) || !gp->stack.lo || sp < (uintptr_t)gp->stack.lo + STACK_ROOM ||
        sp >= (uintptr_t)gp->stack.hi || !m_preemptible(m, gp))
        goto out;
    BUMP(m->p->st.async_preempts, 1);
    gort__sched_preempt_yield(gp);   /* returns when it is resumed, maybe on another thread */
out:
    errno = saved;
}

/* The allocation slow paths' safe point (alloc/alloc.c): the same conditions as
 * the signal's, with the program's call site as the pc. */
static void alloc_safepoint(uintptr_t ra) {
    gort__m_t *m = gort__sched_tls_m;
    gort__g_t *gp = m ? __atomic_load_n(&m->curg, __ATOMIC_RELAXED) : NULL;
    if (GORT_LIKELY(!gp || !LOAD(gp->preempt)))
        return;
    if (!program_pc(ra) || !m_preemptible(m, gp))
        return;
    gort__sched_preempt_yield(gp);
}

void gort__sched_preempt_init(void) {
    static bool done;
    gort__settings_init();
#if defined(GORT_SANITIZE_BUILD)
    async_on = false;
#else
    async_on = !gort__settings.asyncpreemptoff;
#endif
    if (done) {
        async_on = async_on && text.hi;
        return;
    }
    done = true;
    pid = getpid();
    if (!find_text())
        async_on = false;
    __atomic_store_n(&gort__alloc_safepoint_hook, alloc_safepoint, __ATOMIC_RELEASE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(PREEMPT_SIGNAL, &sa, &old_action) != 0)
        gort__fatal("gort: cannot install the preemption signal handler (errno %d)", errno);
}

void gort__sched_preempt_m(gort__m_t *m) {
    if (!async_on || !m->tid)
        return;
    if (getpid() != pid)
        pid = getpid();   /* a forked child that runs gort_main */
    syscall(SYS_tgkill, pid, m->tid, PREEMPT_SIGNAL);
}
