/* The goroutine scheduler.
 *
 * This is the scheduler module's entry file: the design essay, then gort_main,
 * the Ms and Ps, schedule() and findrunnable().  The other files:
 *
 *   g.c       goroutines: creation, the switch, park/ready/yield, exit, the
 *             pools of dead goroutines
 *   runq.c    the per-P run queues, the global queue, stealing
 *   chan.c    channels (Go's hchan)          select.c  select (Go's selectgo)
 *   sema.c    the runtime's semaphores and notify lists
 *   sync.c    Mutex, RWMutex, WaitGroup, Once, Cond (Go's sync package)
 *   time.c    per-P timer heaps, gort_sleep, gort_after, select with a timeout
 *   netpoll.c the epoll netpoller and gort/net.h's descriptor wrappers
 *   sysmon.c  system calls (hand-off), sysmon, the thread cap
 *   preempt.c forced preemption: the signal handler and its safe-point rule
 *             (the pc and sp of a signal's context: rt/ucontext_<arch>.c)
 *   trace.c   schedtrace, goroutine dumps, the deadlock report, event rings
 *
 * Go's proc.go is the reference; a reader who knows it should find their way.
 *
 * Structures
 * ----------
 * G, a goroutine: a saved context (gort_ctx_t), a stack, an id, a status and,
 * while parked, a wait reason and the object it waits on (for dumps).  M, an
 * OS thread: its own context g0 (the thread's stack, where schedule() runs),
 * the G it runs, its P, a futex word to sleep on.  P, a processor: what an M
 * needs to run goroutines -- a local run queue of 256 plus runnext, pools of
 * dead Gs, counters, and the slots later issues fill (the allocator's cache,
 * the collector's work buffers) and a heap of timers.  There are GORT_MAXPROCS Ps; an M
 * runs goroutines only while it holds one, so at most GORT_MAXPROCS
 * goroutines run at once.  Ms are made on demand and never exit; idle ones
 * sleep on their futex (sched.midle).  Ps live as long as the process.
 *
 * How a goroutine flows
 * ---------------------
 *   gort_go        newproc takes a dead G (or makes one) and puts it in
 *                  runnext of the caller's P; the old runnext moves to the
 *                  queue (at P >= 2, if runnext is taken, the new G goes to
 *                  the queue instead: "Run queues and order").  wakep()
 *                  starts a spinning M if a P is idle and no M is already
 *                  looking for work.
 *   running        an M switches from g0 into the G (execute).  The first
 *                  time, the G gets its stack: a dead G's warm one if the P
 *                  has any, else a fresh one from the stack pool, and its
 *                  context, with the FP control state gort_main read once
 *                  (sched.fpstate).
 *   blocking       the G enqueues a sudog (on its own stack) on the channel or
 *                  semaphore, holding that object's lock, and parks: status
 *                  WAITING, then a switch away; the lock is released by the
 *                  context it switches to, once the G is safely off its stack.
 *   readying       the counterpart (a sender, an unlocker) dequeues the sudog
 *                  and puts the G in runnext of its own P: the woken G runs
 *                  next, and inherits the rest of the waker's time (Go's
 *                  ready()), which is what makes ping-pong cheap.
 *   exit           fn returns; the G switches away and is put on its P's
 *                  free list, keeping its stack.
 *
 * Switching
 * ---------
 * Go always goes through g0 (mcall) to park a G, because another M may pick
 * the G up as soon as it is on a queue, and it must be off its stack by then.
 * gort switches from a G straight to the next G when the P has one (runnext,
 * or the local queue): one switch instead of two.  The publication that must
 * wait until the old G is off its stack -- releasing the channel lock it
 * parked under, requeueing a yielder, freeing a dead G -- is recorded in the
 * M (m->after) and run by whichever context the M resumes, first thing
 * (gort__sched_after_switch).  The switch path is inlined into the channel
 * and semaphore code: after a switch the CPU's return-stack predictor holds
 * the other goroutine's calls, so every frame between user code and
 * gort_ctx_switch is a mispredicted return (inlining took a P=1 ping-pong
 * round trip from 82 to 57 ns).  A G goes through g0 only when its P's queue is
 * empty (findrunnable may steal or sleep), on every 61st schedule (fairness,
 * below) and when the scheduler stops.
 *
 * The switch is entered with a jump, not a call (gort__sched_ctx_switch): the
 * return address is pushed by hand, so the CPU's return-stack predictor gets
 * no entry for it.  gort_ctx_switch resumes the other context with an indirect
 * jump, so a call's entry would never be popped: the resumed goroutine's next
 * return would be predicted to it, and every later return one entry off.
 * Kept in step, a goroutine resumed by one that switched from the same call
 * site (two yielders; the two ends of a channel parking in the same
 * operation) returns where the predictor says: a P=1 yield went from 15.5 to
 * 8.4 ns, a cap-1 buffered message at P=1 from 15 to 14.5 ns.
 *
 * After a switch returns, a goroutine may be on another thread: it finds its
 * M through g->m (set by whoever resumed it), never through the thread-local
 * gort__sched_tls_m it read before (a compiler may keep the thread pointer in
 * a register across the call).
 *
 * Run queues and order
 * --------------------
 * runnext holds the newest: gort_go and ready both put their G there (at
 * P >= 2 gort_go only when runnext is free, else at the queue's newest end:
 * one locked instruction instead of two -- the exchange, then the push of the
 * G it displaced -- for a loop spawning goroutines; spawn+run+exit at P=2
 * went from 39 to 32 ns, median of 11 alternating runs.  The G in runnext then
 * runs first, the newest after it: still depth-first).  Go's
 * local queue is FIFO: the owner takes the oldest.  For a recursive spawner
 * that is breadth-first: in skynet (a 10-ary tree of 1M goroutines) a model of
 * the P=1 schedule (tools in the docs, docs/sched.md) keeps 672 000 goroutines
 * alive at the peak, 75 000 of them started (each with a stack of at least a
 * page).  gort's owner takes the newest instead (LIFO, depth-first, the
 * work-first order of Cilk's deques), while thieves still take the oldest
 * half: the same model keeps 62 alive, 7 started.  Pure LIFO can starve the
 * oldest local G while newer ones keep coming, so on every 61st schedule the
 * P takes one G from the global queue, else its *oldest* local G (with
 * fairness ticks skynet peaks at 31 000 alive, 6 300 started: ~27 MB).  Go's
 * own 61-tick rule covers only the global queue; runnext starvation is cured
 * in Go by sysmon's 10 ms preemption (which gort has too, below), and the
 * oldest-local pick covers it sooner: a pair of goroutines handing the P to
 * each other through runnext cannot keep a third waiting for more than 61
 * schedules.  runq.c explains the lock-free queue that allows popping the
 * tail while thieves take the head.
 *
 * The global queue (a list under sched.lock) receives half of a full local
 * queue, yielders whose P has nothing else, and is drained by findrunnable
 * (a fair share, size/gomaxprocs + 1) and by the 61-tick check.
 *
 * Back-pressure.  A goroutine whose gort_go overflows its P's queue (256
 * runnable) yields behind the global queue, so what it spawned runs before it
 * spawns more: a loop spawning a million goroutines keeps a few hundred alive
 * (2 MB peak instead of 170 MB of G structs).  Go gets a similar effect by
 * being slower to spawn (it allocates each stack in newproc) and by sysmon's
 * preemption.  Yielding there is allowed: a goroutine may be preempted at any
 * call.  When the global queue is empty the spawner yields just before the
 * overflow instead, alone: its 256 goroutines run where they are, and none
 * takes the trip through the global queue (a P=2 spawn loop had put 0.4 of
 * every goroutine there).  With others already waiting in the global queue (a
 * recursive spawner such as skynet), it overflows as above: that keeps fewer
 * half-done spawners alive.
 *
 * One P
 * -----
 * With GORT_MAXPROCS=1 every goroutine runs on the M holding the one P: no
 * other M is ever started (wakep finds no idle P), the run queue has no
 * thieves and no channel can be touched by two threads at once.  So the run
 * queue's owner operations become plain loads and stores and channel locks
 * are skipped (gort__sched.single, fixed for a run).  This takes every locked
 * instruction off a P=1 ping-pong (twelve per round trip otherwise, ~4.5 ns
 * each here).  The invariant that keeps it true: goroutine code, timer
 * functions and the readying of polled goroutines onto a local queue run only
 * on an M holding a P.  An M in a system call has lent its P and touches no
 * run queue or channel until it has one again (gort_syscall_exit takes it
 * back with a CAS, which orders everything); an M back from the poller
 * without a P queues what it found on the global queue, under sched.lock;
 * sysmon never runs timers and never touches a local queue.
 *
 * The same invariant makes the rest of the P=1 paths short, and they are
 * inline in the channel and yield code: readying a woken G is three stores
 * into runnext (gort__sched_ready_from; no wakep, since no P can be idle), the
 * direct switch's pick is a plain pop, and gort_yield requeues the yielder at
 * the oldest end of the queue *before* the switch (no other M can take it
 * from there while it is still on its stack), so its switch carries no
 * deferred action.  Together: a P=1 ping-pong round trip from 52 to 38 ns, a
 * yield from 19.5 to 16.3 ns (~650 to ~480 and ~215 to ~160 instructions).
 *
 * Finding work, spinning, sleeping
 * --------------------------------
 * schedule() (on g0): the P's due timers; every 61st tick the global queue,
 * else the oldest local G; then runnext and the local queue; then
 * findrunnable: due timers, local, global, the poller without blocking (if
 * anyone waits on a descriptor and no M sleeps in the poller), then -- if
 * fewer than half the busy Ps already have a spinning M -- spin: up to four
 * passes over all Ps in random order (Go's stealOrder), stealing half of a
 * victim's queue, and on the last pass runnext too and the victim's due
 * timers (timers are stolen with the work: they ready onto the thief's P).
 * A running victim's runnext is taken only after a 3 us nap (Go's) during
 * which the victim did not schedule (its schedtick is unchanged): had it
 * scheduled, it ran that G itself, and what sits in runnext now is often the
 * same G readied again -- a pair of goroutines readying each other keeps one
 * of the two there, and Go's compare-and-swap after the nap succeeds on that
 * ABA and splits the pair across two Ps (a P=2 cap-1 channel stream went
 * from ~48 to ~35 ns a message, a ping-pong round trip from 86 to 68, when
 * the check came in).  After four such naps the thief moves on.  An M that found work stops spinning and, if it was the last
 * spinner and a P is idle, wakes another (resetspinning): so a burst of work
 * fans out one M at a time, and at most one M spins for nothing.
 *
 * Going to sleep without losing a wake-up (Go's "delicate dance"): the M
 * releases its P, then stops spinning (nmspinning-- ), then looks at every P's
 * queue once more; if any has work it takes an idle P and spins again.  The
 * readier, for its part, queues its G, then reads nmspinning/npidle (wakep).
 * Both sequences are seq_cst, so either the readier sees the spinner (and
 * lets it find the G) or the spinner's last look sees the G.  One exception:
 * a G put into its P's free runnext is published with a plain store (runq.c),
 * so the spinner may miss it while the readier sees it spinning; that G waits
 * for its own, running, P -- for a moment if the readier parks next, as in a
 * channel hand-off, at most until sysmon preempts the readier.  It cost a
 * locked instruction per wake-up (P=2 ping-pong 76 -> 67 ns, cap-1 messages
 * 40 -> 34 ns, 7 alternating runs).  A sleeping M
 * waits on its own futex word (stopm); startm hands it a P and wakes it.
 *
 * Before sleeping on its futex, the last M to give up its P sleeps in the
 * poller instead if goroutines wait on descriptors or any P has a timer
 * (sched.lastpoll = 0 says an M is there; sched.pollUntil is its deadline,
 * the earliest timer of all Ps).  It comes back with what the poll found, or
 * at the timer, takes an idle P and looks again; if no P is free it queues
 * the found goroutines globally and starts Ms for them.  A timer queued
 * earlier than that deadline, or a stop, interrupts the poll (an eventfd:
 * netpoll_break).  An idle process has every M asleep in futex_wait or in
 * epoll, and sysmon asleep on its futex: no CPU.
 *
 * Blocking in the kernel
 * ----------------------
 * gort_syscall_enter lends the P (P_SYSCALL, no M) and keeps the M and G;
 * gort_syscall_exit takes it back with one CAS if nobody took it (the fast
 * path, no lock), else an idle P, else it queues its G globally and its M
 * sleeps (Go's exitsyscall0).  sysmon takes a lent P (CAS to P_IDLE) when its
 * call has lasted one sysmon tick (>= 20 us) and there is work for it, or
 * after 10 ms regardless, and hands it off: to an M for its queue, to a
 * spinning M if nobody looks for work, else to the idle list (Go's retake and
 * handoffp).  Each hand-off may need a new M; Ms are capped (GORT_MAXTHREADS,
 * gort_set_max_threads, default 10000 as Go's) and past the cap the program
 * dies with "fatal error: thread exhaustion".
 *
 * Descriptors (gort/net.h, netpoll.c) never block an M: the wrappers make the
 * descriptor non-blocking and park the goroutine on its poll descriptor until
 * epoll reports it ready; a goroutine waiting on a socket costs no thread.
 *
 * Timers
 * ------
 * Each P has a heap of timers (time.c), stolen with its work.  A sleeping
 * goroutine's timer is on its stack and queued once it has parked; a
 * gort_after channel owns its timer, and gort_chan_free cancels it.  Due
 * timers fire in schedule(), findrunnable, gort_yield and at preemption, in
 * deadline order.  A million pending timers cost a heap slot each; nothing
 * scans them.
 *
 * sysmon and preemption
 * ---------------------
 * sysmon is a thread with no P (sysmon.c).  It looks every 1 ms while Ps
 * run (every 20 us, backing off, while a P is lent to a system call), and once
 * every P is idle it sleeps until the next timer (acquirep wakes it if that
 * is far).  Each look: retake (above); preempt a P whose
 * schedtick has not moved for 10 ms -- it sets the running G's preempt flag
 * and signals its M (Go's preemptone); poll if nobody has for 10 ms; and
 * print schedtrace when due.  It sleeps until the next 10 ms deadline rather
 * than a fixed period, so a hog is preempted 10 ms after sysmon first saw its
 * slice begin.  The flag is honoured at safe points (channel operations,
 * select, the lock slow path, gort_go, gort_yield, gort_sleep, leaving a
 * system call): the G yields behind the global queue after running the P's
 * due timers.  The signal (preempt.c) does the same at once when the thread
 * was interrupted in the program's own code (its executable's .text) --
 * never in libc, the PLT stubs, the allocator or the runtime (whose code is
 * the section gort_text), nor in a critical section of the collector's -- so
 * a loop with no calls cannot starve the others on one P.  A preempted G resumes, maybe on
 * another thread, with every register as it was.
 *
 * Deadlock
 * --------
 * When an M goes to sleep (mput, under sched.lock) and no M is left running,
 * nothing can ever make a G runnable.  The same test is made when an M leaves
 * the count: one stranded in a system call by an earlier run, coming back
 * (sysmon.c's exitsyscall_lost; Go makes it when an M exits).  An M in a
 * system call or asleep in the poller is not idle, so goroutines that sleep,
 * wait on descriptors or block in the kernel keep the program alive, as in
 * Go; and checkdead also returns while any timer is queued or any goroutine
 * waits on a descriptor (findrunnable keeps a poller M for those).  Otherwise
 * the program dies with "fatal error: all goroutines are asleep - deadlock!"
 * and a dump of every goroutine: id, state, wait reason, what it waits on.
 *
 * gort_main and stopping
 * ----------------------
 * gort_main makes the calling thread M0 (its g0 is the caller's stack), P0
 * its P, and the main goroutine G1 the first runnext, then runs schedule().
 * When G1 returns (on whichever M), gort__sched_stop_begin sets
 * sched.stopping: each M, at its next scheduling point, gives its P back and
 * sleeps; M0 waits until every P is idle, then reclaims the goroutines left
 * (their stacks go back to the pool) and returns.  A goroutine that never
 * blocks or yields is preempted (with async preemption off: at its next safe
 * point).  Ps lent to system calls are taken back; a goroutine still in the
 * kernel keeps its stack (leaked: its thread runs on it) and its M, when the
 * call returns, finds the run over (sched.gen) and stops for good.  Timers
 * and descriptor waiters of the run are forgotten.  Ms and Ps survive for the
 * next gort_main, and sysmon is stopped and restarted with it.
 *
 * Observability
 * -------------
 * Per-P counters (gort__pstats_t, written by the owner without locked
 * instructions) are summed by gort_sched_stats.  GORT_DEBUG=schedtrace=N
 * prints Go's SCHED line every N ms from sysmon; scheddetail=1 adds P, M and
 * G lines.  GORT_DEBUG=trace=1 turns on per-P
 * event rings (create, start, block with reason, unblock, end, yield, steal),
 * one predictable branch when off (trace.c).
 *
 * Hooks left for later issues: the P slots for mcache and GC buffers,
 * findrunnable's GC work check (marked), P_GCSTOP, and the preempt flag for
 * the allocator's slow paths (alloc/ does not check it yet).
 *
 * Rejected
 * --------
 *   - One global queue with a lock (a "simple" work queue): every spawn and
 *     wake-up contends; Go moved away from it in 1.1.
 *   - Chase-Lev deques: the owner pops the tail without a CAS, which is
 *     only safe against thieves taking one G at a time; Go's steal-half needs
 *     the whole-word CAS of runq.c.
 *   - Always parking through g0 (Go's mcall): a second switch per block.
 *   - Allocating the stack in gort_go (Go): a million queued goroutines would
 *     hold a million stacks; gort gives a G its stack when it first runs.
 *   - Per-object wait queues inside sync types: Go's semaphore table (sema.c)
 *     keeps gort_mutex_t at 8 bytes and zero-initialisable.
 *   - Stamping each time slice's start with the clock at every switch, so
 *     sysmon knows exactly when a slice began: a clock read per switch on a
 *     50 ns ping-pong.  sysmon observes schedtick instead, often enough.
 *   - Injecting a call to a preemption trampoline that saves the registers
 *     itself (Go's asyncPreempt): the kernel has already saved all of them,
 *     AVX included, in the signal frame on the goroutine's stack; switching
 *     inside the handler and letting rt_sigreturn restore them is the same
 *     thing with less machine code (preempt.c).
 *   - Level-triggered or one-shot epoll: a re-arm system call per wait;
 *     edge-triggered registration once per descriptor, as Go.
 *   - A 1 ns timer slack on every M (precise timed polls): it also shortens
 *     the spinning M's usleep(3) before it steals a running P's runnext from
 *     ~50 us to ~3 us, which splits a P=2 ping-pong pair across the Ps and
 *     made it 1.3x slower.  The slack is lowered around timed polls only.
 *
 * Invariants
 * ----------
 *   - A G is on at most one queue (runnext, a local queue, the global queue, a
 *     free list) and is RUNNABLE exactly while queued or being switched to.
 *   - A P is idle (on sched.pidle) exactly when no M holds it; an idle P's
 *     local queue and runnext are empty.
 *   - sched.nmspinning counts the Ms with m->spinning set.
 *   - At most one M is in the poller with a blocking poll (sched.lastpoll 0).
 *   - A P in P_SYSCALL has no M; only a CAS moves it out of that state.
 *   - A G leaves its stack only through switch_to, and whatever must not
 *     happen before that (m->after) runs right after the switch, on that M.
 */
#include "sched/internal.h"

#include "include/gort/internal/fork.h"
#include "stack/internal.h"   /* gort__stack_thread_init */
#include "stack/switch.h"     /* gort__ctx_fpstate */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

gort__sched_t gort__sched = {
    .lock = GORT_MUTEX_RANKED(GORT_RANK_SCHED),
    .gflock = GORT_MUTEX_RANKED(GORT_RANK_SCHED_GFREE),
    .glock = GORT_MUTEX_RANKED(GORT_RANK_SCHED_ALLG),
};
__thread gort__m_t *gort__sched_tls_m;

static gort__m_t m0;
enum { MAXPROCS_LIMIT = 1024 };
static gort__p_t *allp_store[MAXPROCS_LIMIT];

/* ---- random numbers (wyrand), per M ------------------------------------------------------ */

uint32_t gort__sched_fastrand(gort__m_t *m) {
    m->rand += 0xa0761d6478bd642full;
    __uint128_t t = (__uint128_t)m->rand * (m->rand ^ 0xe7037ed1a0b428dbull);
    return (uint32_t)((uint64_t)(t >> 64) ^ (uint64_t)t);
}

static void mcommoninit_locked(gort__m_t *m) {
    m->id = gort__sched.mnext++;
    m->rand = (uint64_t)gort__nanotime() ^ ((uint64_t)m->id << 32) ^ (uintptr_t)m;
    m->alllink = gort__sched.allm;
    __atomic_store_n(&gort__sched.allm, m, __ATOMIC_RELEASE);   /* the collector reads it unlocked (gcscan.c) */
}

/* ---- Ps ------------------------------------------------------------------------------------ */

static void acquirep(gort__m_t *m, gort__p_t *p) {
    GORT_ASSERT(!m->p && !p->m && LOAD(p->status) == P_IDLE);
    gort__gc_m_acquirep(m->gct, p->mcache);
    STORE(m->p, p);
    STORE(p->m, m);
    __atomic_store_n(&p->status, P_RUNNING, __ATOMIC_SEQ_CST);
    gort__sched_event(p, EV_PROC_START, 0, (uint64_t)m->id);
    gort__sched_sysmon_wake_check();
}

void gort__sched_acquirep(gort__m_t *m, gort__p_t *p) {
    acquirep(m, p);
}

static gort__p_t *releasep(gort__m_t *m) {
    gort__p_t *p = m->p;
    GORT_ASSERT(p && p->m == m);
    gort__sched_event(p, EV_PROC_STOP, 0, (uint64_t)m->id);
    STORE(p->m, NULL);
    STORE(p->status, P_IDLE);
    STORE(m->p, NULL);
    gort__gc_m_releasep(m->gct);
    return p;
}

static void pidleput_locked(gort__p_t *p) {
    GORT_DASSERT(gort__sched_runqempty(p));
    p->link = gort__sched.pidle;
    gort__sched.pidle = p;
    atomic_fetch_add_explicit(&gort__sched.npidle, 1, memory_order_seq_cst);
}

/* None while the run stops: M0 returns from gort_main once every P is idle, and
 * a P taken after that -- by an M in findrunnable's last look at the run queues,
 * or a startm -- was still held when the next gort_main's procresize reset it
 * (sched.netpoll: "internal assertion failed: !p->m ..." in procresize, with that
 * M in stop_self), or was never given back (M0 waiting for ever in stop_self). */
static gort__p_t *pidleget_locked(void) {
    if (LOAD(gort__sched.stopping))
        return NULL;
    gort__p_t *p = gort__sched.pidle;
    if (p) {
        gort__sched.pidle = p->link;
        atomic_fetch_sub_explicit(&gort__sched.npidle, 1, memory_order_seq_cst);
    }
    return p;
}

gort__p_t *gort__sched_pidleget_locked(void) {
    return pidleget_locked();
}

void gort__sched_pidleput_locked(gort__p_t *p) {
    pidleput_locked(p);
}

gort__p_t *gort__sched_pidleget(void) {
    if (!atomic_load_explicit(&gort__sched.npidle, memory_order_seq_cst))
        return NULL;
    lock(&gort__sched.lock);
    gort__p_t *p = pidleget_locked();
    unlock(&gort__sched.lock);
    return p;
}

/* ---- Ms: sleeping and waking --------------------------------------------------------------- */

static void notesleep_blocked(void *arg) {
    gort__m_t *m = arg;
    while (atomic_load_explicit(&m->park, memory_order_acquire) == 0)
        gort__futex_wait(&m->park, 0, -1);
}

/* An idle M sleeps as a thread blocked inside gort: the collector takes it as
 * stopped without a signal. */
static void notesleep(gort__m_t *m) {
    gort__gc_blocking_self(notesleep_blocked, m);
}

static void notewakeup(gort__m_t *m) {
    atomic_store_explicit(&m->park, 1, memory_order_release);
    gort__futex_wake(&m->park, 1);
}

void gort__sched_checkdead_locked(void) {
    if (!LOAD(gort__sched.running) || LOAD(gort__sched.stopping))
        return;
    int32_t run = gort__sched.mcount - gort__sched.nmidle;
    if (run > 0)
        return;
    if (run < 0)
        gort__fatal("gort: checkdead: inconsistent M counts (mcount %d, nmidle %d)",
                    gort__sched.mcount, gort__sched.nmidle);
    /* An M in a system call or blocked in the poller is running (it is not
     * idle): those wake-up sources are covered by the count.  Timers and
     * descriptor waiters always have a poller M (findrunnable keeps one);
     * should one be missing, do not call it a deadlock. */
    if (atomic_load(&gort__sched.ntimers) > 0 || atomic_load(&gort__sched.netpollWaiters) > 0)
        return;
    if (atomic_load(&gort__sched.runqsize))
        gort__fatal("gort: checkdead: runnable goroutines on the global queue with no M running");
    gort__sched_deadlock();
}

static void mput_locked(gort__m_t *m) {
    m->schedlink = gort__sched.midle;
    gort__sched.midle = m;
    STORE(gort__sched.nmidle, gort__sched.nmidle + 1);
    gort__sched_checkdead_locked();
}

static gort__m_t *mget_locked(void) {
    gort__m_t *m = gort__sched.midle;
    if (m) {
        gort__sched.midle = m->schedlink;
        STORE(gort__sched.nmidle, gort__sched.nmidle - 1);
    }
    return m;
}

/* Sleep until startm hands this M a P (or, for M0, until the scheduler stops). */
static void stopm(gort__m_t *m) {
    GORT_ASSERT(!m->p && !m->spinning);
    lock(&gort__sched.lock);
    if (m->is_m0 && LOAD(gort__sched.stopping)) {
        unlock(&gort__sched.lock);
        return;
    }
    atomic_store_explicit(&m->park, 0, memory_order_relaxed);
    mput_locked(m);
    unlock(&gort__sched.lock);
    notesleep(m);
    if (m->nextp) {
        gort__p_t *p = m->nextp;
        m->nextp = NULL;
        acquirep(m, p);
        BUMP(p->st.mparks, 1);
    }
}

static void schedule(gort__m_t *m);

/* The signal mask of the thread that called gort_main (Go's initSigmask): every M
 * runs goroutines with it, whoever made the M -- the collector's coordinator,
 * which wakes idle Ps for a mark (and may make their Ms), runs with every signal
 * blocked, and an M that inherited that would never answer the collector's stop
 * (SIGPWR) or a preemption (SIGURG). */
static sigset_t main_sigmask;

static void *mstart(void *arg) {
    gort__m_t *m = arg;
    sigset_t set = main_sigmask;
    sigdelset(&set, SIGPWR);
    sigdelset(&set, SIGURG);
    pthread_sigmask(SIG_SETMASK, &set, NULL);
    gort__sched_tls_m = m;
    m->tid = (pid_t)syscall(SYS_gettid);
    char name[16];   /* snprintf: no allocation for %lld (rt/fatal.c) */
    snprintf(name, sizeof name, "gort-m%lld", (long long)m->id);
    gort__os_thread_name(name);
    m->g0.m = m;
    m->gct = gort__gc_m_register(m);
    if (!m->gct)
        gort__fatal("gort: M%lld cannot register with the collector", (long long)m->id);
    gort__stack_thread_init();
    gort__p_t *p = m->nextp;
    m->nextp = NULL;
    acquirep(m, p);
    schedule(m);
    gort__fatal("gort: an M left schedule()");
}

/* The caller counted the new M in mcount already, under sched.lock, in the same
 * critical section that found no idle M (Go's mReserveID): else, until the count,
 * an M going idle meanwhile could find every M idle and goroutines queued, and
 * call it a deadlock. */
static void newm(gort__p_t *p, bool spinning) {
    gort__m_t *m = gort_calloc(1, sizeof *m);
    if (!m)
        gort__fatal("gort: out of memory making a thread (M)");
    m->nextp = p;
    m->spinning = spinning;
    lock(&gort__sched.lock);
    mcommoninit_locked(m);
    unlock(&gort__sched.lock);
    atomic_fetch_add_explicit(&gort__sched.threads_made, 1, memory_order_relaxed);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&m->thread, &attr, mstart, m);
    pthread_attr_destroy(&attr);
    if (err)
        gort__fatal("gort: pthread_create failed making M%lld (errno %d)", (long long)m->id, err);
}

/* Run p (or an idle P) on an idle M (or a new one).  With spinning, the
 * caller has already counted the M in nmspinning. */
void gort__sched_startm(gort__p_t *p, bool spinning) {
    lock(&gort__sched.lock);
    if (!p) {
        p = pidleget_locked();
        if (!p) {
            unlock(&gort__sched.lock);
            if (spinning)
                atomic_fetch_sub_explicit(&gort__sched.nmspinning, 1, memory_order_seq_cst);
            return;
        }
    }
    gort__m_t *nm = mget_locked();
    if (!nm) {
        gort__sched_checkmcount_locked();
        gort__sched.mcount++;   /* reserved: see newm */
        unlock(&gort__sched.lock);
        newm(p, spinning);
        return;
    }
    unlock(&gort__sched.lock);
    GORT_ASSERT(!nm->spinning && !nm->nextp);
    STORE(nm->spinning, spinning);
    nm->nextp = p;
    notewakeup(nm);
}

void gort__sched_wakep(void) {
    if (atomic_load_explicit(&gort__sched.npidle, memory_order_seq_cst) == 0)
        return;
    int32_t zero = 0;
    if (atomic_load_explicit(&gort__sched.nmspinning, memory_order_seq_cst) != 0 ||
        !atomic_compare_exchange_strong(&gort__sched.nmspinning, &zero, 1))
        return;
    gort__sched_startm(NULL, true);
}
#define startm gort__sched_startm

void gort__sched_injectglist(gort__m_t *m, gort__g_t *list) {
    if (!list)
        return;
    int n = 0;
    for (gort__g_t *g1 = list; g1; g1 = g1->schedlink) {
        STORE(g1->status, G_RUNNABLE);
        n++;
    }
    atomic_fetch_add_explicit(&gort__sched.netpoll_ready, (uint64_t)n, memory_order_relaxed);
    if (m && m->p) {
        while (list) {
            gort__g_t *g1 = list;
            list = g1->schedlink;
            gort__sched_runqput(m->p, g1, false);
        }
        gort__sched_wakep();
        return;
    }
    gort__g_t *tail = list;
    while (tail->schedlink)
        tail = tail->schedlink;
    lock(&gort__sched.lock);
    gort__sched_globrunqputbatch_locked(list, tail, n);
    unlock(&gort__sched.lock);
    for (int i = 0; i < n && atomic_load(&gort__sched.npidle); i++)
        startm(NULL, false);
}

static void resetspinning(gort__m_t *m) {
    STORE(m->spinning, false);
    int32_t n = atomic_fetch_sub_explicit(&gort__sched.nmspinning, 1, memory_order_seq_cst) - 1;
    GORT_ASSERT(n >= 0);
    /* The last spinner found work: there may be more, so wake another. */
    if (n == 0)
        gort__sched_wakep();
}

/* ---- finding work ---------------------------------------------------------------------------- */

static uint32_t gcd(uint32_t a, uint32_t b) {
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Four passes over the Ps in a random order (a random start and a stride
 * coprime with gomaxprocs: Go's randomOrder), runnext on the last. */
static gort__g_t *stealwork(gort__m_t *m, int64_t now) {
    gort__p_t *p = m->p;
    int32_t n = LOAD(gort__sched.gomaxprocs);
    for (int pass = 0; pass < 4; pass++) {
        bool last = pass == 3;
        uint32_t start = gort__sched_fastrandn(m, (uint32_t)n);
        uint32_t stride = 1;
        if (n > 2)
            do
                stride = 1 + gort__sched_fastrandn(m, (uint32_t)n - 1);
            while (gcd(stride, (uint32_t)n) != 1);
        for (int32_t i = 0; i < n; i++) {
            gort__p_t *v = LOAD(gort__sched.allp)[(start + (uint32_t)i * stride) % (uint32_t)n];
            if (v == p)
                continue;
            if (LOAD(gort__sched.stopping))
                return NULL;
            if (last) {
                /* Steal its due timers with its work: they ready onto p. */
                int64_t w = atomic_load_explicit(&v->timer0when, memory_order_acquire), next;
                if (w && w <= now) {
                    gort__sched_checktimers(p, v, now, &next);
                    gort__g_t *gp = gort__sched_runqget(p);
                    if (gp)
                        return gp;
                }
            }
            gort__g_t *gp = gort__sched_runqsteal(p, v, last);
            if (gp)
                return gp;
        }
    }
    return NULL;
}

/* A G from the poller's list: run the first, queue the rest on m's P. */
static gort__g_t *take_polled(gort__m_t *m, gort__g_t *list) {
    gort__g_t *gp = list;
    list = list->schedlink;
    STORE(gp->status, G_RUNNABLE);
    atomic_fetch_add_explicit(&gort__sched.netpoll_ready, 1, memory_order_relaxed);
    gort__sched_injectglist(m, list);
    return gp;
}

/* An idle P's mark stops when a goroutine may run: on the global queue or any
 * P's, or a timer of this P due. */
static bool runnable_somewhere(void *arg) {
    gort__m_t *m = arg;
    if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) || LOAD(gort__sched.stopping))
        return true;
    int64_t when = atomic_load_explicit(&m->p->timer0when, memory_order_relaxed);
    if (when && when <= gort__nanotime())
        return true;
    for (int32_t i = 0; i < LOAD(gort__sched.gomaxprocs); i++)
        if (!gort__sched_runqempty(LOAD(gort__sched.allp)[i]))
            return true;
    return false;
}

/* A runnable G for m, stealing if it must, sleeping if there is none (in the
 * poller, if descriptors or timers are waited for).  NULL when the scheduler
 * is stopping (m may then hold no P). */
static gort__g_t *findrunnable(gort__m_t *m) {
top:;
    gort__p_t *p = m->p;
    if (LOAD(gort__sched.stopping) || !p)
        return NULL;
    int64_t polluntil;
    int64_t now = gort__sched_checktimers(p, p, 0, &polluntil);
    gort__g_t *gp = gort__sched_runqget(p);
    if (gp)
        return gp;
    if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed)) {
        lock(&gort__sched.lock);
        gp = gort__sched_globrunqget_locked(p, 0);
        unlock(&gort__sched.lock);
        if (gp)
            return gp;
    }
    /* The poller, without blocking, if anyone waits on a descriptor and no M
     * is blocked in it already. */
    if (gort__sched_netpoll_inited() && atomic_load(&gort__sched.netpollWaiters) > 0 &&
        atomic_load(&gort__sched.lastpoll) != 0) {
        gort__g_t *list = gort__sched_netpoll(0);
        if (list)
            return take_polled(m, list);
    }
    int32_t procs = LOAD(gort__sched.gomaxprocs);
    if (procs > 1 &&
        (m->spinning || 2 * atomic_load(&gort__sched.nmspinning) < procs - atomic_load(&gort__sched.npidle))) {
        if (!m->spinning) {
            STORE(m->spinning, true);
            atomic_fetch_add_explicit(&gort__sched.nmspinning, 1, memory_order_seq_cst);
        }
        gp = stealwork(m, now ? now : gort__nanotime());
        if (gp)
            return gp;
    }

    /* Nothing to run: mark, if a mark has work (Go's idle mark worker). */
    if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_pmark, memory_order_relaxed)) &&
        gort__gc_p_idle(m->gct, runnable_somewhere, m))
        goto top;

    /* Nothing: give up the P and sleep. */
    lock(&gort__sched.lock);
    if (LOAD(gort__sched.stopping)) {
        unlock(&gort__sched.lock);
        return NULL;
    }
    if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed)) {
        gp = gort__sched_globrunqget_locked(p, 0);
        unlock(&gort__sched.lock);
        return gp;
    }
    if (!gort__sched_runqempty(p)) {   /* a wake-up readied onto our runnext meanwhile? */
        unlock(&gort__sched.lock);
        goto top;
    }
    releasep(m);
    pidleput_locked(p);
    unlock(&gort__sched.lock);

    if (m->spinning) {
        STORE(m->spinning, false);
        int32_t n = atomic_fetch_sub_explicit(&gort__sched.nmspinning, 1, memory_order_seq_cst);
        GORT_ASSERT(n > 0);
        /* The delicate dance: a G readied while we were still counted as
         * spinning did not wake anyone; look again before sleeping. */
        for (int32_t i = 0; i < procs; i++) {
            if (!gort__sched_runqempty(LOAD(gort__sched.allp)[i])) {
                lock(&gort__sched.lock);
                p = pidleget_locked();
                unlock(&gort__sched.lock);
                if (p) {
                    acquirep(m, p);
                    STORE(m->spinning, true);
                    atomic_fetch_add_explicit(&gort__sched.nmspinning, 1, memory_order_seq_cst);
                    goto top;
                }
                break;
            }
        }
        /* [GC work: a later issue] */
    }

    /* Sleep in the poller if descriptors or timers are waited for and no M
     * does already (lastpoll 0 marks the poller), until the next timer. */
    int64_t until = gort__sched_timesleepuntil();
    if (gort__sched_netpoll_inited() &&
        (atomic_load(&gort__sched.netpollWaiters) > 0 || until != 0) &&
        atomic_exchange(&gort__sched.lastpoll, 0) != 0) {
        atomic_store(&gort__sched.pollUntil, until);
        int64_t delay = -1;
        if (until) {
            now = gort__nanotime();
            delay = until > now ? until - now : 0;
        }
        if (LOAD(gort__sched.stopping))
            delay = 0;
        uint32_t gen = LOAD(gort__sched.gen);
        gort__g_t *list = gort__sched_netpoll(delay);
        now = gort__nanotime();
        atomic_store(&gort__sched.pollUntil, 0);
        atomic_store(&gort__sched.lastpoll, now);
        if (LOAD(gort__sched.stopping) || LOAD(gort__sched.gen) != gen)
            list = NULL;   /* the run ended meanwhile: they were abandoned with it */
        p = gort__sched_pidleget();
        if (p) {
            acquirep(m, p);
            if (list)
                return take_polled(m, list);
            /* A timer is due (or the poll was interrupted): look again, as a
             * spinner, so that the timers of every P are looked at. */
            if (procs > 1) {
                STORE(m->spinning, true);
                atomic_fetch_add_explicit(&gort__sched.nmspinning, 1, memory_order_seq_cst);
            }
            goto top;
        }
        gort__sched_injectglist(NULL, list);
    } else if (until && gort__sched_netpoll_inited()) {
        /* Another M polls: make sure it wakes for our next timer. */
        int64_t pu = atomic_load(&gort__sched.pollUntil);
        if (pu == 0 || pu > until)
            gort__sched_netpoll_break();
    }
    stopm(m);
    goto top;
}

/* ---- stopping (the main goroutine returned) ------------------------------------------------- */

void gort__sched_stop_begin(void) {
    __atomic_store_n(&gort__sched.stopping, 1, __ATOMIC_SEQ_CST);
    /* M0 must wake to finish gort_main: take it off the idle list if it sleeps. */
    lock(&gort__sched.lock);
    gort__m_t **pp = &gort__sched.midle;
    bool found = false;
    while (*pp) {
        if (*pp == &m0) {
            *pp = m0.schedlink;
            STORE(gort__sched.nmidle, gort__sched.nmidle - 1);
            found = true;
            break;
        }
        pp = &(*pp)->schedlink;
    }
    unlock(&gort__sched.lock);
    if (found)
        notewakeup(&m0);
    gort__sched_netpoll_break();   /* M0 may be the one blocked in the poller */
}

/* While stopping: Ps lent by goroutines in system calls are taken back
 * (those goroutines are abandoned with the rest; their Ms, when the calls
 * return, find the run over and stay out of the way). */
static void stop_retake_syscalls(void) {
    for (int32_t i = 0; i < LOAD(gort__sched.gomaxprocs); i++) {
        gort__p_t *p = LOAD(gort__sched.allp)[i];
        uint32_t s = P_SYSCALL;
        if (__atomic_compare_exchange_n(&p->status, &s, P_IDLE, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            lock(&gort__sched.lock);
            while (gort__sched_runqget(p))
                ;
            pidleput_locked(p);
            unlock(&gort__sched.lock);
        }
    }
}

/* At a scheduling point while stopping: give the P back.  M0 then waits for
 * every P and returns true (schedule returns to gort_main); others sleep. */
static bool stop_self(gort__m_t *m) {
    if (m->spinning) {
        STORE(m->spinning, false);
        atomic_fetch_sub_explicit(&gort__sched.nmspinning, 1, memory_order_seq_cst);
    }
    if (m->p) {
        lock(&gort__sched.lock);
        gort__p_t *p = releasep(m);
        /* Abandoned goroutines may still sit in its queues: drop them (they
         * are reclaimed by gort_main). */
        while (gort__sched_runqget(p))
            ;
        pidleput_locked(p);
        unlock(&gort__sched.lock);
        atomic_fetch_add_explicit(&gort__sched.stopwait, 1, memory_order_release);
        gort__futex_wake(&gort__sched.stopwait, 1);
    }
    if (!m->is_m0) {
        stopm(m);
        return false;
    }
    for (;;) {
        uint32_t v = atomic_load_explicit(&gort__sched.stopwait, memory_order_acquire);
        stop_retake_syscalls();
        if (atomic_load(&gort__sched.npidle) == gort__sched.gomaxprocs)
            return true;
        gort__futex_wait(&gort__sched.stopwait, v, 1000 * 1000);
    }
}

/* ---- schedule ---------------------------------------------------------------------------------- */

/* Timers another P should have run TIMER_LATE_NS ago: its M is not scheduling
 * -- preempted by the OS (a kernel thread took a CPU for 4 ms here), or stuck
 * in one long G.  Go leaves them to that P, or to a P that runs out of work;
 * with every P busy, a 1 ms ticker then woke up to 9 ms late.  Here a busy P
 * takes them over on its way through schedule() (runq.c's thieves do the same
 * with due timers, and they ready onto the thief's P). */
#define TIMER_LATE_NS 250000
static void steal_late_timers(gort__p_t *p) {
    int64_t now = 0;
    for (int32_t i = 0; i < LOAD(gort__sched.gomaxprocs); i++) {
        gort__p_t *v = LOAD(gort__sched.allp)[i];
        int64_t w = atomic_load_explicit(&v->timer0when, memory_order_relaxed);
        if (v == p || !w)
            continue;
        if (!now)
            now = gort__nanotime();
        if (w + TIMER_LATE_NS <= now) {
            int64_t next;
            gort__sched_checktimers(p, v, now, &next);
        }
    }
}

static bool timer_due(void *arg) {
    gort__p_t *p = arg;
    int64_t when = atomic_load_explicit(&p->timer0when, memory_order_relaxed);
    return (when && when <= gort__nanotime()) || LOAD(gort__sched.stopping);
}

static void schedule(gort__m_t *m) {
    for (;;) {
        if (GORT_UNLIKELY(LOAD(gort__sched.stopping) || !m->p)) {
            if (!m->p && !LOAD(gort__sched.stopping)) {
                stopm(m);   /* its G left a system call with no P free */
                continue;
            }
            if (stop_self(m))
                return;
            continue;
        }
        gort__p_t *p = m->p;
        gort__g_t *gp = NULL;
        /* A mark's background share (Go's findRunnableGCWorker), cut short
         * when one of this P's timers comes due: the timers are next. */
        if (GORT_UNLIKELY(atomic_load_explicit(&gort__gc_pmark, memory_order_relaxed)))
            gort__gc_p_background(m->gct, timer_due, p);
        uint64_t f0 = LOAD(p->st.timers_fired);
        if (atomic_load_explicit(&p->timer0when, memory_order_relaxed)) {
            int64_t next;
            gort__sched_checktimers(p, p, 0, &next);
        }
        if (gort__sched.gomaxprocs > 1)
            steal_late_timers(p);
        bool fired = LOAD(p->st.timers_fired) != f0;
        uint32_t tick = p->schedtick + 1;
        STORE(p->schedtick, tick);
        /* A goroutine a timer just readied is in runnext: it runs now.  Taking
         * the fairness pick first would let that G ready its partner into
         * runnext and push the sleeper to the newest end of the local queue,
         * under everything readied after it (the owner pops the newest): a
         * 1 ms ticker on a busy P woke milliseconds late.  The fairness pick
         * waits for the next 61st tick. */
        if (tick % 61 == 0 && !fired) {
            /* Fairness: the global queue, else this P's oldest. */
            if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed)) {
                lock(&gort__sched.lock);
                gp = gort__sched_globrunqget_locked(p, 1);
                unlock(&gort__sched.lock);
            }
            if (!gp)
                gp = gort__sched_runqget_oldest(p);
        }
        if (!gp)
            gp = gort__sched_runqget(p);
        if (!gp) {
            gp = findrunnable(m);
            if (!gp)
                continue;   /* stopping */
        }
        if (m->spinning)
            resetspinning(m);
        gort__sched_execute(m, gp);
    }
}

/* ---- gort_main --------------------------------------------------------------------------------- */

gort__g_t *gort__sched_newmain(gort__p_t *p, void (*fn)(void *), void *arg);

static int32_t nprocs(void) {
    gort__settings_init();
    long n = gort__settings.maxprocs;
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0)
        n = 1;
    if (n > MAXPROCS_LIMIT)
        n = MAXPROCS_LIMIT;
    return (int32_t)n;
}

int gort_maxprocs(void) {
    return LOAD(gort__sched.running) ? gort__sched.gomaxprocs : nprocs();
}

static void *gcp_store[MAXPROCS_LIMIT];

static int procresize(int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        if (!allp_store[i]) {
            gort__p_t *p = gort_calloc(1, sizeof *p);
            if (!p)
                return -1;
            p->id = i;
            p->mcache = gcp_store[i];   /* the collector's part of the P (gort_main) */
            allp_store[i] = p;
        }
        gort__p_t *p = allp_store[i];
        GORT_ASSERT(!p->m && gort__sched_runqempty(p));
        atomic_store(&p->runqw, 0);
        p->schedtick = 0;
        p->goidcache = p->goidcacheend = 0;
        memset(&p->st, 0, sizeof p->st);
        STORE(p->status, P_IDLE);
    }
    STORE(gort__sched.allp, allp_store);   /* relaxed: an M of the last run may still be on its way to sleep, reading it */
    STORE(gort__sched.gomaxprocs, n);
    STORE(gort__sched.single, n == 1);
    gort__sched.pidle = NULL;
    atomic_store(&gort__sched.npidle, 0);
    for (int32_t i = n - 1; i >= 0; i--)
        pidleput_locked(allp_store[i]);
    return 0;
}

int gort_main(void (*fn)(void *), void *arg) {
    int32_t zero = 0;
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    if (gort__sched_tls_m || !__atomic_compare_exchange_n(&gort__sched.running, &zero, 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        errno = EBUSY;
        return -1;
    }
    int32_t n = nprocs();
    pthread_sigmask(SIG_SETMASK, NULL, &main_sigmask);
    gort__sched_preempt_base_mask(&main_sigmask);   /* the Ms' too: they only unblock */
    /* The calling thread becomes M0: a mutator of the collector's, as every M
     * is, and every P gets the collector's part (its cached spans, barrier
     * buffer, assist state) before the scheduler's lock is taken. */
    m0.gct = gort__gc_m_register(&m0);
    for (int32_t i = 0; i < n && m0.gct; i++)
        if (!gcp_store[i] && !(gcp_store[i] = gort__gc_p_new()))
            m0.gct = NULL;
    if (!m0.gct) {
        __atomic_store_n(&gort__sched.running, 0, __ATOMIC_SEQ_CST);
        errno = ENOMEM;
        return -1;
    }
    lock(&gort__sched.lock);
    __atomic_store_n(&gort__sched.stopping, 0, __ATOMIC_SEQ_CST);
    gort__sched.runqhead = gort__sched.runqtail = NULL;
    atomic_store(&gort__sched.runqsize, 0);
    atomic_store(&gort__sched.goidgen, 0);
    if (procresize(n) != 0) {
        unlock(&gort__sched.lock);
        __atomic_store_n(&gort__sched.running, 0, __ATOMIC_SEQ_CST);
        errno = ENOMEM;
        return -1;
    }
    if (!m0.is_m0) {
        m0.is_m0 = true;
        mcommoninit_locked(&m0);
        gort__sched.mcount++;
    }
    STORE(gort__sched.gen, gort__sched.gen + 1);   /* a lost M reads it (sysmon.c) */
    if (!gort__sched.maxmcount)
        gort__sched.maxmcount = gort__settings.maxthreads;
    gort__p_t *p0 = pidleget_locked();
    unlock(&gort__sched.lock);
    GORT_ASSERT(p0 == allp_store[0]);

    gort__sched_tls_m = &m0;
    gort__stack_thread_init();
    m0.tid = (pid_t)syscall(SYS_gettid);
    m0.g0.m = &m0;
    m0.curg = NULL;
    m0.spinning = false;
    m0.after = NULL;
    acquirep(&m0, p0);
    gort__sched.m0 = &m0;
    gort__sched.start_time = gort__nanotime();
    gort__sched.fpstate = gort__ctx_fpstate();
    atomic_store(&gort__sched.lastpoll, gort__sched.start_time);
    atomic_store(&gort__sched.handoffs, 0);
    atomic_store(&gort__sched.netpoll_ready, 0);
    atomic_store(&gort__sched.pollUntil, 0);
    gort__sched_preempt_init();
    gort__gc_sched_procs(n);   /* a mark's background share comes from these Ps */
    gort__sched_trace_start();
    gort__sched_sysmon_start();
    gort__sched.main_g = gort__sched_newmain(p0, fn, arg);
    if (!gort__sched.main_g)
        gort__fatal("gort: out of memory making the main goroutine");

    schedule(&m0);   /* returns once the main goroutine has returned and every P is idle */

    gort__gc_sched_procs(0);
    gort__sched_sysmon_stop();
    gort__sched_trace_stop();
    gort__sched_timers_reset();
    gort__sched_netpoll_reset();
    lock(&gort__sched.lock);
    /* Goroutines left on the global queue, and every other live one: reclaimed. */
    gort__sched.runqhead = gort__sched.runqtail = NULL;
    atomic_store(&gort__sched.runqsize, 0);
    for (int32_t i = 0; i < n; i++) {
        gort__p_t *p = allp_store[i];
        gort__sched_gfpurge(p);
    }
    unlock(&gort__sched.lock);
    gort__sched_gc_leftovers();
    gort__sched.main_g = NULL;
    gort__gc_m_unregister(m0.gct);
    m0.gct = NULL;
    gort__sched_tls_m = NULL;
    __atomic_store_n(&gort__sched.running, 0, __ATOMIC_SEQ_CST);
    return 0;
}

/* ---- fork ----------------------------------------------------------------------------------------
 * A child has only the forking thread.  Forked outside gort_main, it forgets
 * the parent's sleeping Ms (their threads do not exist in it) and can run
 * gort_main itself.  Forked from a goroutine, it may only exec or exit, as in
 * Go. */
static void fork_prepare(void) {
    lock(&gort__sched.lock);
}

static void fork_parent(void) {
    unlock(&gort__sched.lock);
}

static void fork_child(void) {
    if (!LOAD(gort__sched.running)) {
        gort__sched_netpoll_forkchild();
        gort__sched.midle = NULL;
        gort__sched.nmidle = 0;
        m0.alllink = NULL;
        gort__sched.allm = m0.is_m0 ? &m0 : NULL;
        gort__sched.mcount = m0.is_m0 ? 1 : 0;
    }
    unlock(&gort__sched.lock);
}

__attribute__((constructor)) static void sched_fork_init(void) {
    static const struct gort_fork_hook hook = {GORT_RANK_SCHED, fork_prepare, fork_parent, fork_child};
    gort__fork_register(&hook);
}

/* ---- statistics ---------------------------------------------------------------------------------- */

static void st_add(gort__pstats_t *to, const gort__pstats_t *from) {
    to->spawned += LOAD(from->spawned);
    to->exited += LOAD(from->exited);
    to->switches += LOAD(from->switches);
    to->parks += LOAD(from->parks);
    to->yields += LOAD(from->yields);
    to->steals += LOAD(from->steals);
    to->stolen += LOAD(from->stolen);
    to->global_puts += LOAD(from->global_puts);
    to->global_gets += LOAD(from->global_gets);
    to->mparks += LOAD(from->mparks);
    to->syscalls += LOAD(from->syscalls);
    to->preempts += LOAD(from->preempts);
    to->async_preempts += LOAD(from->async_preempts);
    to->timers_fired += LOAD(from->timers_fired);
}

void gort__sched_pstats(int i, gort__pstats_t *out) {
    memset(out, 0, sizeof *out);
    if (i >= 0 && i < MAXPROCS_LIMIT && allp_store[i])
        st_add(out, &allp_store[i]->st);
}

void gort_sched_stats(gort_sched_stats_t *out) {
    gort__pstats_t s;
    memset(&s, 0, sizeof s);
    int32_t n = LOAD(gort__sched.running) ? gort__sched.gomaxprocs : 0;
    for (int32_t i = 0; i < n; i++)
        st_add(&s, &allp_store[i]->st);
    memset(out, 0, sizeof *out);
    out->spawned = s.spawned;
    out->exited = s.exited;
    out->switches = s.switches;
    out->parks = s.parks;
    out->yields = s.yields;
    out->steals = s.steals;
    out->stolen = s.stolen;
    out->global_puts = s.global_puts;
    out->global_gets = s.global_gets;
    out->mparks = s.mparks;
    out->threads = atomic_load(&gort__sched.threads_made);
    out->syscalls = s.syscalls;
    out->handoffs = atomic_load(&gort__sched.handoffs);
    out->preempts = s.preempts;
    out->async_preempts = s.async_preempts;
    out->timers_fired = s.timers_fired;
    out->netpoll_ready = atomic_load(&gort__sched.netpoll_ready);
    out->stack_shrunk = gort__sched_gc_shrunk_bytes();
    out->procs = n ? n : nprocs();
    out->goroutines = (int)(s.spawned - s.exited);
}

int gort_num_goroutine(void) {
    if (!LOAD(gort__sched.running))
        return 0;
    int64_t n = 0;
    for (int32_t i = 0; i < gort__sched.gomaxprocs; i++) {
        gort__p_t *p = allp_store[i];
        n += (int64_t)LOAD(p->st.spawned) - (int64_t)LOAD(p->st.exited);
    }
    return n < 0 ? 0 : (int)n;
}
