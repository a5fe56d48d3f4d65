/* Registered threads and stopping them: registration (the main thread by itself,
 * others on their first GC call or by gort_gc_register_thread), the signal
 * handshake that parks one thread, and stop-the-world.  See "Stopping threads" in
 * gc/gc.c.
 *
 * A handshake (bdwgc's pthread_stop_world.c, one thread at a time where possible):
 * the collector bumps t->req and sets t->pending, and waits up to ACK_POLL_NS for
 * the thread to park itself at the end of a critical section
 * (gort__gc_park_deferred).  If it has not, the collector sends SIGPWR with
 * tgkill (at once to a thread on the collector's own CPU, see ACK_POLL_NS).
 * The handler, unless the thread is inside a critical section, records where
 * the thread's stack ends and its registers, acks (t->ack = req, wake_collector)
 * and waits on t->resume.  Inside a critical section the handler only sets
 * t->pending, and the thread parks when the section ends.  A thread inside a
 * blocking region (gort__gc_blocking), or still parked from the stop before, is
 * taken as held without either (bstate).  The collector holds the threads lock
 * from the first request to the last resume, so it is the only one stopping
 * threads and the thread list cannot change under it. */
#include "gc/internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define HAVE_RSEQ_AREA 1
#endif

#define GC_SIGNAL SIGPWR

__thread gc_thread *gort__gc_self;
gort_mutex_t gort__gc_threads_lock = GORT_MUTEX_RANKED(GORT_RANK_GC_THREADS);
gc_thread *gort__gc_threads;
int gort__gc_nthreads;
static gc_thread *threads_free;       /* recycled records (threads lock) */
gc_p *gort__gc_ps;

_Static_assert(offsetof(gc_thread, crit) == offsetof(gort__gcm_hdr_t, crit) &&
                   offsetof(gc_thread, pending) == offsetof(gort__gcm_hdr_t, pending) &&
                   offsetof(gc_thread, req) == offsetof(gort__gcm_hdr_t, req) &&
                   offsetof(gc_thread, ack) == offsetof(gort__gcm_hdr_t, ack) &&
                   offsetof(gc_thread, gscan) == offsetof(gort__gcm_hdr_t, gscan),
               "gc_thread must begin with gort__gcm_hdr_t's fields");

static void p_link_locked(gc_p *p) {
    p->allprev = NULL;
    p->allnext = gort__gc_ps;
    if (gort__gc_ps)
        gort__gc_ps->allprev = p;
    gort__gc_ps = p;
}

static void p_unlink_locked(gc_p *p) {
    if (p->allprev)
        p->allprev->allnext = p->allnext;
    else
        gort__gc_ps = p->allnext;
    if (p->allnext)
        p->allnext->allprev = p->allprev;
    p->allnext = p->allprev = NULL;
}

static void p_init(gc_p *p) {
    memset(p, 0, sizeof *p);
    for (unsigned i = 0; i < GC_NSPC; i++)
        p->alloc[i] = &gort__empty_span;
}
static gc_thread *main_thread;        /* the main thread's record (set once at init) */
static pid_t pid;
static pthread_key_t exit_key;

extern void *__libc_stack_end;

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

/* ---- parking ----------------------------------------------------------------------------- */
/* The collector, waiting in wait_ack, looks again: t answered, or entered a
 * blocking region (and can be taken as held).  It reads wake before looking,
 * so a bump after its look fails its futex wait. */
static void wake_collector(gc_thread *t) {
    atomic_fetch_add(&t->wake, 1);
    gort__futex_wake(&t->wake, 1);
}

/* Answer t's request and wait for the release.  The caller has saved where the
 * thread's stack ends and its registers.  While it waits, the thread counts
 * as blocked (bstate, as inside gort__gc_blocking): the stop that follows
 * before it runs again -- mark termination right after the coordinator
 * stopped it to scan its stack, say -- takes it as held with what was saved
 * here, instead of signalling a thread that is still waking up (it was the
 * signal in 8 of 9 stops of the server at P=1 that needed one). */
static void park(gc_thread *t) {
    uint32_t seq = atomic_load_explicit(&t->req, memory_order_acquire);
    /* Answered already (by an earlier park, or by the collector taking the
     * thread as held; a request's t->pending set from the collector's side
     * and outliving it ends up here), or inside a blocking region, whose end
     * answers. */
    if (atomic_load_explicit(&t->ack, memory_order_relaxed) == seq ||
        atomic_load_explicit(&t->bstate, memory_order_relaxed) != TS_RUNNING)
        return;
    atomic_store(&t->parked, 1);   /* before the release can be read: see gort__gc_resume_one */
    atomic_store_explicit(&t->ack, seq, memory_order_release);
    wake_collector(t);
    atomic_store_explicit(&t->bstate, TS_BLOCKED, memory_order_release);
    for (;;) {
        /* "Reached", not "equals": a later stop that took the thread as held
         * meanwhile releases it with its own, later request. */
        uint32_t r = atomic_load(&t->resume);
        if ((int32_t)(r - seq) >= 0)
            break;
        gort__futex_wait(&t->resume, r, -1);
    }
    for (;;) {
        uint32_t b = TS_BLOCKED;
        if (atomic_compare_exchange_strong(&t->bstate, &b, TS_RUNNING))
            break;
        gort__futex_wait(&t->bstate, TS_HELD, -1);
    }
    atomic_store_explicit(&t->parked, 0, memory_order_relaxed);
}

__attribute__((unused)) static void save_regs(gc_thread *t, const ucontext_t *uc) {
#if defined(__x86_64__)
    unsigned n = NGREG < 40 ? NGREG : 40;
    for (unsigned i = 0; i < n; i++)
        t->regs[i] = (uintptr_t)uc->uc_mcontext.gregs[i];
    t->nregs = n;
    t->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] - 128;   /* the red zone */
#elif defined(__aarch64__)
    for (unsigned i = 0; i < 31; i++)
        t->regs[i] = (uintptr_t)uc->uc_mcontext.regs[i];
    t->regs[31] = (uintptr_t)uc->uc_mcontext.sp;
    t->nregs = 32;
    t->sp = (uintptr_t)uc->uc_mcontext.sp;
#else
#error "gort: gc: unsupported architecture"
#endif
}

static uint64_t current_mask_bits(void) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return gort__sigset_bits(&cur);
}

/* Whether the stop's signal interrupted the handler of another signal: the
 * interrupted code blocks a signal the thread does not normally block (a
 * handler runs with its own signal blocked, and its sa_mask).  Parked there,
 * the thread could hold that handler's lock -- a sampling profiler's -- while
 * another thread, inside a critical section of the collector's (its stop
 * deferred), takes the same signal and spins on the lock: the stop would wait
 * forever (gperftools' profiler at P=2 did this).  So the thread does not park
 * in there: it says so (t->nested), returns to the handler, and the collector
 * sends the signal again until it arrives outside (wait_ack). */
__attribute__((unused)) static bool in_other_handler(gc_thread *t, const ucontext_t *uc) {
    uint64_t extra = gort__sigset_bits(&uc->uc_sigmask) & ~t->sigbase;
    extra &= ~(1ull << (GC_SIGNAL - 1));
    if (!extra)
        return false;
    /* Still there after many tries (50 ms): more likely the thread now blocks
     * more signals for good than a handler that runs this long.  This stop
     * parks it; the next one tries again (learning the mask for good once let
     * a later stop park a thread inside the handler, lock held: with six
     * threads spinning on a profiler's lock on two CPUs, one can wait there
     * for milliseconds). */
    if (atomic_load_explicit(&t->park_anyway, memory_order_relaxed))
        return false;
    atomic_store_explicit(&t->nested, 1, memory_order_release);
    wake_collector(t);
    return true;
}

static void on_signal(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    int saved = errno;
    gc_thread *t = gort__gc_self;
    gc_thread *m = __atomic_load_n(&main_thread, __ATOMIC_ACQUIRE);
    if (!t && m && gettid_() == pid)
        t = gort__gc_self = m;
    /* Ignore a signal whose request was already served: TSan delivers signals
     * late, after the thread may have answered by polling.  (A thread blocked
     * inside gort that gets a signal sent before it blocked answers it here.) */
    /* A thread inside a blocking region (gort__gc_blocking) is not parked here:
     * it may hold a lock the collector needs (the page heap's).  The collector
     * takes it as held instead (wait_ack), or the thread answers by polling when
     * the region ends. */
    if (t && __atomic_load_n(&t->registered, __ATOMIC_ACQUIRE) &&
        atomic_load_explicit(&t->bstate, memory_order_relaxed) == TS_RUNNING &&
        atomic_load_explicit(&t->req, memory_order_acquire) != atomic_load_explicit(&t->ack, memory_order_relaxed)) {
        if (t->crit) {
            t->pending = 1;
        } else {
#if defined(GORT_TSAN)
            /* TSan runs a handler late, at one of its interceptors, with the
             * ucontext of the signal's arrival: stale.  The thread is at a call
             * here, so its live registers are the callee-saved ones. */
            (void)ucv;
            gort__gc_park_deferred(t);
#else
            if (!in_other_handler(t, ucv)) {
                gort__gc_wb_rewind(ucv);
                save_regs(t, ucv);
                park(t);
            }
#endif
        }
    }
    errno = saved;
}

/* Parks the calling thread from its own code: the callee-saved registers of every
 * caller are spilled (__builtin_unwind_init) in this frame, above park_here's. */
GORT_NOINLINE static void park_here(gc_thread *t) {
    t->sp = (uintptr_t)__builtin_frame_address(0);
    t->nregs = 0;
    park(t);
    __asm__ volatile("" ::: "memory");
}

void gort__gc_park_deferred_hdr(gort__gcm_hdr_t *h) {
    gort__gc_park_deferred((gc_thread *)(void *)h);
}

GORT_NOINLINE void gort__gc_park_deferred(gc_thread *t) {
    __builtin_unwind_init();
    t->pending = 0;
    int saved = errno;
    park_here(t);
    errno = saved;
    __asm__ volatile("" ::: "memory");
}

/* ---- the collector's side ------------------------------------------------------------------ */
/* A stop asks first through memory, and signals only a thread that has not
 * answered after ACK_POLL_NS.  A thread inside a critical section -- every
 * allocation, barrier flush and goroutine switch is one -- answers at the
 * section's end, as it does for a signal that arrived there (t->pending).  On
 * the virtual machines this runs on, a signal costs the sender a 13 us system
 * call (median; p99 38 us) and reaches a thread running on the other CPU in 21
 * us (p99 56 us, max 350), where a store seen by the other CPU takes 0.25 us
 * (p99 2.4): the server's time to safe point at P=1 was 35-50 us a stop, and
 * up to 0.36 ms, nearly all of it the signal's.  A thread running the
 * program's own code (no critical section) gets the signal ACK_POLL_NS late.
 *
 * Not so a thread on the collector's own CPU (it ran there last; it cannot be
 * running now): it cannot answer while the collector polls, and a yield to it
 * may leave the collector off the CPU for milliseconds -- until a tick, or a
 * wake-up there -- while the thread runs the program's own code, where only a
 * signal stops it (binary-trees at P=2: stops of 0.6-5 ms, with the other CPU
 * idle).  Nor does a yield always hand it the CPU: the kernel (EEVDF) runs the
 * collector again while the thread is not eligible (tens of microseconds).  So
 * such a thread is signalled at once, and the collector, once it has polled
 * and signalled the others, sleeps until it answers (t->wake): the thread
 * runs meanwhile, into its handler.  The signal costs the thread its handler
 * when the next section's end was near.  Binary-trees at P=2: pause p50 8.7 ->
 * 25 us, run maxima 0.64-1.25 ms -> 60-84 us; the server at P=2: p50 12 -> 27
 * us, p99 86-102 -> 86-147 us, run maxima 92 us-1.0 ms -> 160-224 us.  (Then
 * the others were polled only once this CPU's had answered, two deliveries
 * end to end; in parallel, 4 runs each: the server's p50 26-30 -> 11 us, p99
 * 82-112 -> 70-86 us, and binary-trees' p99 51-84 -> 36-60 us.)  Two
 * alternatives measured worse: a one-shot POSIX timer that signals the thread
 * ACK_POLL_NS after a yield (arming a timer that short costs 7 us here, the
 * timer hardware being emulated; p50 50 us), and a yield before the sleep
 * (one stop of 0.77 ms in 3 runs). */
#define ACK_POLL_NS 10000

/* How threads answered (gort_gc_stats: stops_*); written under the threads lock. */
static _Atomic uint64_t n_polled, n_signalled, n_held;

void gort__gc_stop_counts(uint64_t *polled, uint64_t *signalled, uint64_t *held) {
    *polled = atomic_load_explicit(&n_polled, memory_order_relaxed);
    *signalled = atomic_load_explicit(&n_signalled, memory_order_relaxed);
    *held = atomic_load_explicit(&n_held, memory_order_relaxed);
}

static void count(_Atomic uint64_t *c) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void request(gc_thread *t) {
    atomic_store_explicit(&t->nested, 0, memory_order_relaxed);
    atomic_store_explicit(&t->park_anyway, 0, memory_order_relaxed);
    atomic_fetch_add(&t->req, 1);   /* seq_cst: against blocking_here's store, then load */
#if !defined(GORT_TSAN)
    /* The thread's own flag, written here too: at worst (the thread answered
     * before it saw it, and cleared it first) it parks once more at a later
     * section's end, finds its request served and its release given, and goes
     * on.  Under TSan the section's end polls req itself (GORT_GCM_POLL). */
    t->pending = 1;
#endif
}

GORT_NORETURN GORT_COLD static void thread_gone(const gc_thread *t) {
    gort__fatal("gort: gc: registered thread %d exited without gort_gc_unregister_thread", (int)t->tid);
}

/* False if the thread is gone. */
static bool signal_(gc_thread *t) {
    if (syscall(SYS_tgkill, pid, t->tid, GC_SIGNAL) != 0) {
        if (errno == ESRCH)
            return false;
        gort__fatal("gort: gc: tgkill(%d) failed: errno %d", (int)t->tid, errno);
    }
    return true;
}

/* A thread blocked inside gort is taken without a signal. */
static bool try_hold(gc_thread *t) {
    uint32_t b = TS_BLOCKED;
    if (atomic_compare_exchange_strong(&t->bstate, &b, TS_HELD)) {
        t->held = true;
        return true;
    }
    return false;
}

/* Whether t's request is served: t answered it, or t is blocked inside gort and
 * is taken as held now.  Taking it marks the request served, so a late handler
 * (TSan delivers them late) and the poll at the region's end both ignore it. */
static bool served(gc_thread *t) {
    uint32_t seq = atomic_load_explicit(&t->req, memory_order_relaxed);
    if (atomic_load_explicit(&t->ack, memory_order_acquire) == seq)
        return true;
    if (!try_hold(t))
        return false;
    atomic_store_explicit(&t->ack, seq, memory_order_release);
    return true;
}

/* A signal reaches a thread running on another CPU in a few microseconds;
 * sleeping on the futex at once adds the collector's own wake-up to every pause
 * (tens of microseconds on a virtual machine).  So for such a thread the
 * collector spins first, for a bounded time, giving the CPU away every 64
 * rounds if the thread has moved to this very CPU.  A yield when it runs
 * elsewhere only lets another thread in on this CPU -- an idle-priority mark
 * worker held it for 2 ms once while the answer waited.  A thread found on this
 * CPU (local) gets no spin: the collector sleeps at once (see ACK_POLL_NS). */
#define ACK_SPIN_NS 100000

/* The calling thread's rseq cpu_id, or NULL: glibc's area for the thread, at
 * __rseq_offset from the thread pointer, registered when __rseq_size is set
 * (not under valgrind, nor with glibc.pthread.rseq=0). */
static const volatile uint32_t *self_cpu_slot(void) {
#ifdef HAVE_RSEQ_AREA
    if (__rseq_size >= offsetof(struct rseq, cpu_id) + sizeof(uint32_t)) {
        char *area = (char *)__builtin_thread_pointer() + __rseq_offset;
        return (const volatile uint32_t *)(void *)(area + offsetof(struct rseq, cpu_id));
    }
#endif
    return NULL;
}

/* Whether t runs, or last ran, on the calling thread's CPU (true if unknown). */
static bool same_cpu(const gc_thread *t) {
    const volatile uint32_t *mine = self_cpu_slot();   /* the collector's threads are not registered */
    const volatile uint32_t *theirs = __atomic_load_n(&t->cpu, __ATOMIC_RELAXED);
    if (!theirs || !mine)
        return true;
    uint32_t a = *theirs;
    return a >= (1u << 31) || a == *mine;   /* "negative": not registered (yet) */
}

/* A thread whose handler found it inside another signal's handler (t->nested) is
 * sent the signal again, every NESTED_RESEND_NS; after NESTED_MAX_SENDS (50 ms) it
 * parks wherever the signal finds it. */
#define NESTED_RESEND_NS 20000
#define NESTED_MAX_SENDS 2500

/* Waits until t answers the signal just sent, or until it can be taken as held: a
 * thread that entered a blocking region before its handler ran does not park
 * there (served).  A local thread (on this CPU) is waited for asleep at once. */
static void wait_ack(gc_thread *t, bool local) {
    int64_t spin_until = gort__nanotime() + ACK_SPIN_NS;
    bool spinning = !local;
    int64_t resent_at = 0;
    int resends = 0;
    for (int spin = 0;; spin++) {
        uint32_t w = atomic_load(&t->wake);
        if (served(t))
            return;
        if (GORT_UNLIKELY(atomic_load_explicit(&t->nested, memory_order_acquire))) {
            int64_t now = gort__nanotime();
            if (now - resent_at < NESTED_RESEND_NS) {
                struct timespec ts = {0, NESTED_RESEND_NS / 4};
                nanosleep(&ts, NULL);
                continue;
            }
            resent_at = now;
            atomic_store_explicit(&t->nested, 0, memory_order_relaxed);
            if (++resends >= NESTED_MAX_SENDS)
                atomic_store_explicit(&t->park_anyway, 1, memory_order_relaxed);
            (void)signal_(t);   /* gone: the check below finds it */
            continue;
        }
        if (spinning && (spin & 63) == 63) {
            spinning = gort__nanotime() < spin_until;
            if (spinning && same_cpu(t))
                sched_yield();
        }
        if (spinning) {
            gort__cpu_relax();
            continue;
        }
        gort__futex_wait(&t->wake, w, 1000000);
        if (spin % 1000 == 999 && syscall(SYS_tgkill, pid, t->tid, 0) != 0)
            thread_gone(t);
    }
}

/* Whether t answered (or was taken as held) by `until`.  False at once when t
 * is on this CPU (it moved here): it cannot run while the collector spins. */
static bool poll_answer(gc_thread *t, int64_t until) {
    for (int spin = 0;; spin++) {
        if (t->held || served(t))
            return true;
        if ((spin & 63) == 0 && (same_cpu(t) || gort__nanotime() >= until))
            return false;
        gort__cpu_relax();
    }
}

/* After the poll: count how t answered; signal it if it has not.  False if it
 * is gone. */
static bool answer_or_signal(gc_thread *t, bool polled) {
    if (polled) {
        count(t->held ? &n_held : &n_polled);
        return true;
    }
    count(&n_signalled);
    return signal_(t);
}

bool gort__gc_stop_one(gc_thread *t) {
    if (try_hold(t)) {
        count(&n_held);
        return true;
    }
    request(t);
    bool local = same_cpu(t);
    if (!answer_or_signal(t, local ? served(t) : poll_answer(t, gort__nanotime() + ACK_POLL_NS)))
        return false;
    if (!t->held)
        wait_ack(t, local);
    return true;
}

/* The release always moves resume up to the request: a thread taken as held
 * may be inside park, waiting for it (for this stop's request, if it parked
 * just as the collector took it). */
void gort__gc_resume_one(gc_thread *t) {
    atomic_store(&t->resume, atomic_load(&t->req));
    bool parked = atomic_load(&t->parked);
    if (t->held) {
        t->held = false;
        atomic_store_explicit(&t->bstate, TS_BLOCKED, memory_order_release);
        gort__futex_wake(&t->bstate, 1);
    }
    if (parked)
        gort__futex_wake(&t->resume, 1);
}

GORT_NOINLINE static void blocking_here(gc_thread *t, void (*fn)(void *), void *arg) {
    t->sp = (uintptr_t)__builtin_frame_address(0);
    t->nregs = 0;
    atomic_store(&t->bstate, TS_BLOCKED);
    if (GORT_UNLIKELY(atomic_load(&t->req) != atomic_load_explicit(&t->ack, memory_order_relaxed)))
        wake_collector(t);   /* a stop waits: it takes the thread as held now */
    fn(arg);
    for (;;) {
        uint32_t b = TS_BLOCKED;
        if (atomic_compare_exchange_strong(&t->bstate, &b, TS_RUNNING))
            break;
        gort__futex_wait(&t->bstate, TS_HELD, -1);
    }
    /* A signal that arrived inside the region was left unanswered (see
     * on_signal); unless the collector took the thread as held, answer it now. */
    if (GORT_UNLIKELY(atomic_load_explicit(&t->req, memory_order_acquire) !=
                      atomic_load_explicit(&t->ack, memory_order_relaxed)))
        gort__gc_park_deferred(t);
}

/* The calling thread's record, read afresh: after a wait a goroutine may be on
 * another thread, and a compiler may keep the address of a __thread variable
 * computed at a function's entry for the whole function (it assumes one thread).
 * Out of line, the address is computed here, on the thread that calls. */
GORT_NOINLINE gc_thread *gort__gc_self_reload(void) {
    gc_thread *t = gort__gc_self;
    __asm__ volatile("" ::"r"(t) : "memory");
    return t;
}

/* A goroutine that waits for the collector lends its P meanwhile (as a system
 * call does): the P's other goroutines run, and so does the mark work on Ps the
 * wait may be for.  It may come back on another M: callers use gort__gc_self_reload. */
void gort__gc_wait(gc_thread *t, void (*fn)(void *), void *arg) {
    gort_syscall_enter();
    gort__gc_blocking(t, fn, arg);
    gort_syscall_exit();
}

void gort__gc_blocking(gc_thread *t, void (*fn)(void *), void *arg) {
    GORT_DASSERT(t == gort__gc_self_reload() && t->crit == 0);
    __builtin_unwind_init();   /* the callers' callee-saved registers, on this frame */
    blocking_here(t, fn, arg);
    __asm__ volatile("" ::: "memory");
}

static int64_t stw_start;
/* Set from the request to stop until the world is released.  The runtime's
 * threads that are not Ms (sysmon, the background sweeper) wait meanwhile, as
 * Go's -- goroutines there -- stop with the world: on two CPUs a sysmon or a
 * sweeper that ran during a stop held the CPU of an M the stop was waiting for
 * (both seen runnable on the late M's CPU). */
static _Atomic uint32_t world_stopped;
static _Atomic uint32_t world_waiter;    /* someone waits on world_stopped */

void gort__gc_wait_world_running(void) {
    while (atomic_load(&world_stopped)) {
        atomic_store(&world_waiter, 1);
        if (atomic_load(&world_stopped))   /* after the flag: start_world wakes us */
            gort__futex_wait(&world_stopped, 1, 10 * 1000 * 1000);
    }
}

void gort__gc_stop_world(void) {
    stw_start = gort__nanotime();
    atomic_store(&world_stopped, 1);
    gort__mutex_lock(&gort__gc_threads_lock);
    for (gc_thread *t = gort__gc_threads; t; t = t->next)
        if (!try_hold(t))
            request(t);
    /* This CPU's threads are signalled at once (see ACK_POLL_NS), the others
     * polled and then signalled; only then does the collector wait, asleep for
     * this CPU's, which run meanwhile.  Waiting for this CPU's before signalling
     * the others put two deliveries end to end: the server at P=2 had its
     * slowest stops there (~40 us to one's handler, then ~40 to the other's). */
    int64_t until = gort__nanotime() + ACK_POLL_NS;
    for (gc_thread *t = gort__gc_threads; t; t = t->next)
        if ((t->local = !t->held && same_cpu(t)) && !answer_or_signal(t, served(t)))
            thread_gone(t);
    for (gc_thread *t = gort__gc_threads; t; t = t->next)
        if (!t->local && !answer_or_signal(t, poll_answer(t, until)))
            thread_gone(t);
    for (gc_thread *t = gort__gc_threads; t; t = t->next)
        if (t->local && !t->held)
            wait_ack(t, true);
    for (gc_thread *t = gort__gc_threads; t; t = t->next)
        if (!t->local && !t->held)
            wait_ack(t, false);
    gort__gc_ttsp_record(gort__nanotime() - stw_start);
}

/* Returns when the world was released.  A pause ends when the collector lets the
 * threads go, before the wake-ups: the first thread woken often preempts the
 * collector on its CPU, and timing after the wake-ups measured that delay (up to
 * 1.5 ms on 2 CPUs) as pause although the world was already running.  What a
 * thread itself waits from its stop to running again is in the program's own
 * view (bench/gc's progress stamps). */
int64_t gort__gc_start_world(void) {
    int64_t released = gort__nanotime();
    for (gc_thread *t = gort__gc_threads; t; t = t->next)
        gort__gc_resume_one(t);
    gort__mutex_unlock(&gort__gc_threads_lock);
    gort__gc_pause_record(released - stw_start);
    atomic_store(&world_stopped, 0);
    if (atomic_exchange(&world_waiter, 0))
        gort__futex_wake(&world_stopped, INT32_MAX);
    return released;
}

/* ---- registration ---------------------------------------------------------------------------- */
static gc_thread *record_new(void) {
    gc_thread *t = threads_free;
    if (t) {
        threads_free = t->free_next;
    } else {
        gort__mutex_unlock(&gort__gc_threads_lock);
        t = gort__meta_alloc(sizeof *t);
        gort__mutex_lock(&gort__gc_threads_lock);
    }
    uint32_t req = atomic_load(&t->req);
    memset(t, 0, sizeof *t);
    atomic_store(&t->req, req);
    atomic_store(&t->ack, req);
    atomic_store(&t->resume, req);
    p_init(&t->own);
    t->p = &t->own;
#ifdef GORT_DEBUG_CHECKS
    t->own.user = t;
#endif
    return t;
}

static void link_locked(gc_thread *t) {
    t->next = gort__gc_threads;
    t->prev = NULL;
    if (gort__gc_threads)
        gort__gc_threads->prev = t;
    gort__gc_threads = t;
    gort__gc_nthreads++;
    p_link_locked(&t->own);
    /* A thread that joins during a mark has a stack the mark has not seen. */
    t->scanned_cycle = atomic_load(&gort__gc_cycle) - 1;
    t->gscan = &t->scanned_cycle;
    __atomic_store_n(&t->registered, true, __ATOMIC_RELEASE);
}

static void thread_exit(void *arg) {
    if (gort__gc_self == arg)
        gort_gc_unregister_thread();
}

int gort_gc_register_thread(void) {
    gort__gc_init();
    if (gort__gc_self)
        return 0;
    gc_thread *m = __atomic_load_n(&main_thread, __ATOMIC_ACQUIRE);
    if (gettid_() == pid && m) {
        gort__gc_self = m;
        m->sigbase = current_mask_bits();
        /* The record may be another thread's making (gort__gc_init). */
        __atomic_store_n(&m->cpu, self_cpu_slot(), __ATOMIC_RELAXED);
        if (__atomic_load_n(&m->registered, __ATOMIC_ACQUIRE))
            return 0;
    }
    uintptr_t lo, hi;
    if (gettid_() == pid) {
        hi = GORT_ROUND_UP((uintptr_t)__libc_stack_end, sizeof(uintptr_t));
        lo = 0;
    } else {
        pthread_attr_t attr;
        void *addr;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &attr) != 0)
            return -1;
        int rc = pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            errno = rc;
            return -1;
        }
        lo = (uintptr_t)addr;
        hi = lo + size;
    }
    gort__mutex_lock(&gort__gc_threads_lock);
    gc_thread *t = gort__gc_self ? gort__gc_self : record_new();
    t->stack_lo = lo;
    t->stack_hi = hi;
    t->tid = gettid_();
    t->sigbase = current_mask_bits();
    t->is_main = t->tid == pid;
    __atomic_store_n(&t->cpu, self_cpu_slot(), __ATOMIC_RELAXED);
    gort__gc_self = t;
    link_locked(t);
    gort__mutex_unlock(&gort__gc_threads_lock);
    if (!t->is_main)
        pthread_setspecific(exit_key, t);
    return 0;
}

gc_thread *gort__gc_self_slow(void) {
    if (gort_gc_register_thread() != 0)
        return NULL;
    return gort__gc_self;
}

static void lock_threads(void *arg) {
    (void)arg;
    gort__mutex_lock(&gort__gc_threads_lock);
}

void gort_gc_unregister_thread(void) {
    gc_thread *t = gort__gc_self;
    if (!t || !__atomic_load_n(&t->registered, __ATOMIC_ACQUIRE))
        return;
    if (t->m)
        gort__fatal("gort: gc: gort_gc_unregister_thread called on an M of the scheduler");
    crit_enter(t);
    gc_p *op = &t->own;
    gcwork *w = &op->gcw;
    if (atomic_load(&gort__gc_phase) != GC_OFF)
        gort__gc_flush_wbuf(op, w);
    op->wbn = 0;
    gort__gc_gcw_dispose(w);
    gort__gc_release_p(op);
    crit_exit(t);
    /* The collector holds the threads lock while it stops threads: wait for it as
     * a blocked thread, which the collector takes without a signal. */
    gort__gc_blocking(t, lock_threads, NULL);
    if (t->prev)
        t->prev->next = t->next;
    else
        gort__gc_threads = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->next = t->prev = NULL;
    p_unlink_locked(&t->own);
    __atomic_store_n(&t->registered, false, __ATOMIC_RELEASE);
    gort__gc_nthreads--;
    bool is_main = t->is_main;   /* once on the free list, t may be reused at once */
    if (!is_main) {
        t->free_next = threads_free;
        threads_free = t;
    }
    gort__mutex_unlock(&gort__gc_threads_lock);
    gort__gc_self = NULL;
    if (!is_main)
        pthread_setspecific(exit_key, NULL);
}

/* ---- the scheduler's Ms and Ps (include/gort/internal/gcsched.h) -------------------------- */
gort__gcm_hdr_t *gort__gc_m_register(void *m) {
    if (gort_gc_register_thread() != 0)
        return NULL;
    gc_thread *t = gort__gc_self;
    crit_enter(t);
    t->m = m;
    t->gscan = NULL;   /* on g0 */
    crit_exit(t);
    return (gort__gcm_hdr_t *)(void *)t;
}

void gort__gc_m_unregister(gort__gcm_hdr_t *h) {
    gc_thread *t = (gc_thread *)(void *)h;
    if (!t)
        return;
    GORT_ASSERT(t->p == &t->own);
    crit_enter(t);
    t->m = NULL;
    /* Its own stack again: the scans of it as an M covered its frames from
     * g0's sp up, and what the goroutines handed it since came through memory
     * the barrier watches. */
    t->gscan = &t->scanned_cycle;
    crit_exit(t);
}

/* The calling thread's record if it is registered, else NULL. */
static gc_thread *self_registered(void) {
    gc_thread *t = gort__gc_self;
    return t && __atomic_load_n(&t->registered, __ATOMIC_ACQUIRE) ? t : NULL;
}

void *gort__gc_p_new(void) {
    gort__gc_init();
    gc_p *p = gort__meta_alloc(sizeof *p);
    if (!p)
        return NULL;
    p_init(p);
    /* A registered caller waits for the threads lock as a blocked thread (the
     * collector holds it while it stops threads). */
    gort__gc_blocking_self(lock_threads, NULL);
    p_link_locked(p);
    gort__mutex_unlock(&gort__gc_threads_lock);
    return p;
}

void gort__gc_m_acquirep(gort__gcm_hdr_t *h, void *gcp) {
    gc_thread *t = (gc_thread *)(void *)h;
    GORT_DASSERT(t == gort__gc_self && t->crit == 0);
#ifdef GORT_DEBUG_CHECKS
    if (((gc_p *)gcp)->user)
        gort__fatal("gort: gc: M %p takes a P whose state thread %p still uses", t->m, ((gc_p *)gcp)->user);
    ((gc_p *)gcp)->user = t;
#endif
    t->p = gcp;
}

/* The thread stops using its P's state, and goes back to its own. */
static void use_own(gc_thread *t) {
#ifdef GORT_DEBUG_CHECKS
    t->p->user = NULL;
#endif
    t->p = &t->own;
}

/* The P's barrier buffer and assist work go to the markers before another M
 * may take it (a P left idle holds nothing the termination check waits for). */
void gort__gc_m_releasep(gort__gcm_hdr_t *h) {
    gc_thread *t = (gc_thread *)(void *)h;
    GORT_DASSERT(t == gort__gc_self && t->crit == 0);
    crit_enter(t);
    gc_p *p = t->p;
    if (atomic_load_explicit(&gort__gc_phase, memory_order_relaxed) == GC_MARK) {
        gort__gc_flush_wbuf(p, &p->gcw);
        gort__gc_gcw_dispose(&p->gcw);
    }
    use_own(t);
    crit_exit(t);
}

gort__gcm_hdr_t *gort__gc_self_hdr(void) {
    return (gort__gcm_hdr_t *)(void *)self_registered();
}

void gort__gc_m_lendp(gort__gcm_hdr_t *h) {
    gc_thread *t = (gc_thread *)(void *)h;
    GORT_DASSERT(t == gort__gc_self && t->crit == 0);
    use_own(t);
}

void gort__gc_blocking_self(void (*fn)(void *), void *arg) {
    gc_thread *t = self_registered();
    if (t)
        gort__gc_blocking(t, fn, arg);
    else
        fn(arg);
}

/* ---- set-up (from gort__gc_init, once) ----------------------------------------------------- */
void gort__gc_thread_init_signals(void) {
    pid = getpid();
    if (pthread_key_create(&exit_key, thread_exit) != 0)
        gort__fatal("gort: gc: pthread_key_create failed");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSEGV);
    sigdelset(&sa.sa_mask, SIGBUS);
    sigdelset(&sa.sa_mask, SIGFPE);
    sigdelset(&sa.sa_mask, SIGILL);
    if (sigaction(GC_SIGNAL, &sa, NULL) != 0)
        gort__fatal("gort: gc: cannot install the SIGPWR handler");
    /* The main thread is registered by itself: a record the collector can signal
     * (its tid is the pid) and scan up to __libc_stack_end, whichever thread
     * first uses the collector. */
    gort__mutex_lock(&gort__gc_threads_lock);
    gc_thread *m = record_new();
    m->tid = pid;
    m->is_main = true;
    if (gettid_() == pid) {
        m->sigbase = current_mask_bits();
        __atomic_store_n(&m->cpu, self_cpu_slot(), __ATOMIC_RELAXED);
    } else {
        m->sigbase = ~(uint64_t)0;
    }
    m->stack_hi = GORT_ROUND_UP((uintptr_t)__libc_stack_end, sizeof(uintptr_t));
    link_locked(m);
    __atomic_store_n(&main_thread, m, __ATOMIC_RELEASE);
    gort__mutex_unlock(&gort__gc_threads_lock);
}
