/* The network poller (Go's netpoll.go and netpoll_epoll.go) and the
 * descriptor wrappers of gort/net.h.  The design essay is at the top of
 * sched/sched.c ("Blocking in the kernel").
 *
 * One epoll instance for the process, made on first use (a descriptor, or the
 * first timer: idle Ms sleep in epoll_pwait2 until the next timer), plus an
 * eventfd that interrupts a blocked poll (netpoll_break).  A descriptor is
 * registered once, edge-triggered for reading and writing, with its number as
 * the event's data; its poll descriptor (pd) is a slot of a table indexed by
 * the number, never freed.
 *
 * A pd has two semaphores, rg and wg, each one word (Go's pollDesc):
 *
 *     0        nothing
 *     READY    an edge came that nobody has consumed
 *     WAIT     a goroutine is about to park
 *     a G      that goroutine is parked
 *
 * The waiter moves 0 -> WAIT and parks; once it is off its stack the park's
 * after-switch hook moves WAIT -> G (netpollblockcommit), or, if the poller
 * made it READY meanwhile, readies the goroutine at once.  The poller moves
 * anything -> READY and readies the G it found.  The waiter, woken or not,
 * consumes READY -> 0 and retries its system call.  No lock anywhere.
 *
 * Who polls: findrunnable without blocking when goroutines wait on
 * descriptors and no M is blocked in the poller; the last M to run out of
 * work, blocking (with its P released) until a descriptor or the earliest
 * timer (sched.lastpoll = 0 meanwhile, sched.pollUntil its deadline); and
 * sysmon, when nobody has polled for 10 ms.  A goroutine waiting on a socket
 * costs its G and stack, no thread. */
#include "sched/internal.h"
#include "include/gort/net.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Every errno here is the running thread's, read anew: these calls park their
 * goroutine and retry, and it may come back on another M (gort__errno_here). */
#undef errno
#define errno (*gort__errno_here())

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

enum { PD_READY = 1, PD_WAIT = 2 };
enum { PD_NEW = 0, PD_REGISTERING, PD_POLLED, PD_UNPOLLABLE };

typedef struct gort__pd {
    _Atomic uintptr_t rg, wg;       /* 0, PD_READY, PD_WAIT or a parked G (see above) */
    _Atomic uint32_t state;         /* PD_*: registration (CAS NEW -> REGISTERING -> ...) */
} gort__pd_t;

enum { PD_CHUNK = 1024, PD_CHUNKS = 1 << 14 };   /* descriptors up to 16M */
static _Atomic(gort__pd_t *) pdtab[PD_CHUNKS];

static int epfd = -1, wakefd = -1;
static _Atomic uint32_t inited;
static _Atomic uint32_t wakesig;   /* a break is pending (one write at a time) */
static bool has_pwait2 = true;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
#define WAKE_DATA UINT64_MAX

static void do_init(void) {
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        gort__fatal("gort: netpoll: epoll_create1 failed: errno %d", errno);
    wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakefd < 0)
        gort__fatal("gort: netpoll: eventfd failed: errno %d", errno);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_DATA};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0)
        gort__fatal("gort: netpoll: epoll_ctl(eventfd) failed: errno %d", errno);
    atomic_store_explicit(&gort__sched.lastpoll, gort__nanotime(), memory_order_relaxed);
    atomic_store_explicit(&inited, 1, memory_order_release);
}

void gort__sched_netpoll_init(void) {
    pthread_once(&init_once, do_init);
}

bool gort__sched_netpoll_inited(void) {
    return atomic_load_explicit(&inited, memory_order_acquire) != 0;
}

void gort__sched_netpoll_break(void) {
    uint32_t zero = 0;
    if (!gort__sched_netpoll_inited() || !atomic_compare_exchange_strong(&wakesig, &zero, 1))
        return;
    uint64_t one = 1;
    while (write(wakefd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

void gort__sched_wakenetpoller(int64_t when) {
    if (atomic_load_explicit(&gort__sched.lastpoll, memory_order_seq_cst) == 0) {
        /* An M blocks in the poller: wake it if it would sleep past `when`. */
        int64_t until = atomic_load_explicit(&gort__sched.pollUntil, memory_order_seq_cst);
        if (until == 0 || until > when)
            gort__sched_netpoll_break();
    } else {
        gort__sched_wakep();
    }
}

/* ---- poll descriptors ---------------------------------------------------------------------- */

static gort__pd_t *pd_lookup(int fd) {
    if (fd < 0 || fd >= PD_CHUNK * PD_CHUNKS)
        return NULL;
    gort__pd_t *chunk = atomic_load_explicit(&pdtab[fd / PD_CHUNK], memory_order_acquire);
    return chunk ? &chunk[fd % PD_CHUNK] : NULL;
}

static gort__pd_t *pd_get(int fd) {
    if (fd < 0 || fd >= PD_CHUNK * PD_CHUNKS)
        return NULL;
    _Atomic(gort__pd_t *) *slot = &pdtab[fd / PD_CHUNK];
    gort__pd_t *chunk = atomic_load_explicit(slot, memory_order_acquire);
    if (!chunk) {
        gort__pd_t *fresh = gort_calloc(PD_CHUNK, sizeof *fresh);
        if (!fresh)
            return NULL;
        if (atomic_compare_exchange_strong(slot, &chunk, fresh))
            chunk = fresh;
        else
            gort_free(fresh);
    }
    return &chunk[fd % PD_CHUNK];
}

/* Register fd (once): NULL with errno if it cannot be; *unpollable set when
 * epoll refuses it (a regular file). */
static gort__pd_t *pd_open(int fd, bool *unpollable) {
    *unpollable = false;
    gort__pd_t *pd = pd_get(fd);
    if (!pd) {
        errno = fd < 0 ? EBADF : ENOMEM;
        return NULL;
    }
    for (;;) {
        uint32_t st = atomic_load_explicit(&pd->state, memory_order_acquire);
        if (st == PD_POLLED)
            return pd;
        if (st == PD_UNPOLLABLE) {
            *unpollable = true;
            return pd;
        }
        if (st == PD_REGISTERING) {
            gort_yield();
            continue;
        }
        if (atomic_compare_exchange_strong(&pd->state, &st, PD_REGISTERING))
            break;
    }
    gort__sched_netpoll_init();
    atomic_store_explicit(&pd->rg, 0, memory_order_relaxed);
    atomic_store_explicit(&pd->wg, 0, memory_order_relaxed);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = (uint64_t)fd};
    uint32_t st = PD_POLLED;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) {
        if (errno != EPERM) {
            int e = errno;
            atomic_store_explicit(&pd->state, PD_NEW, memory_order_release);
            errno = e;
            return NULL;
        }
        st = PD_UNPOLLABLE;   /* a regular file or the like: always "ready" */
        *unpollable = true;
    } else {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK))
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
    atomic_store_explicit(&pd->state, st, memory_order_release);
    return pd;
}

/* ---- blocking and unblocking ---------------------------------------------------------------- */

typedef struct {
    _Atomic uintptr_t *gpp;
    gort__g_t *gp;
} commit_t;

/* After the waiter is off its stack (on the same M, holding its P). */
static void netpollblockcommit(void *arg) {
    commit_t *c = arg;
    uintptr_t w = PD_WAIT;
    gort__g_t *gp = c->gp;
    gort__p_t *p = gp->m->p;   /* read before the CAS: once published, gp may run elsewhere */
    if (atomic_compare_exchange_strong(c->gpp, &w, (uintptr_t)gp)) {
        atomic_fetch_add_explicit(&gort__sched.netpollWaiters, 1, memory_order_seq_cst);
        return;
    }
    /* The descriptor became ready before the waiter parked: run it again. */
    gort__sched_ready_p(p, gp);
}

/* Park until pd is ready for mode ('r' or 'w').  True: an edge came (retry). */
static bool netpollblock(gort__pd_t *pd, int mode, int fd) {
    gort__g_t *gp = gort__sched_mustg(mode == 'r' ? "gort_read" : "gort_write");
    _Atomic uintptr_t *gpp = mode == 'r' ? &pd->rg : &pd->wg;
    for (;;) {
        uintptr_t old = atomic_load_explicit(gpp, memory_order_acquire);
        if (old == PD_READY) {
            if (atomic_compare_exchange_strong(gpp, &old, 0))
                return true;
            continue;
        }
        if (old != 0)
            gort__sched_throw("netpoll: two goroutines wait to %s fd %d at once",
                              mode == 'r' ? "read" : "write", fd);
        if (atomic_compare_exchange_strong(gpp, &old, PD_WAIT))
            break;
    }
    commit_t c = {gpp, gp};
    gort__sched_park(gp, WAIT_IO, (const void *)(intptr_t)fd, netpollblockcommit, &c);
    uintptr_t old = atomic_exchange_explicit(gpp, 0, memory_order_acq_rel);
    return old == PD_READY;
}

/* Mark pd ready for mode; the G parked on it, if any. */
static gort__g_t *netpollunblock(_Atomic uintptr_t *gpp) {
    for (;;) {
        uintptr_t old = atomic_load_explicit(gpp, memory_order_acquire);
        if (old == PD_READY)
            return NULL;
        if (atomic_compare_exchange_strong(gpp, &old, PD_READY)) {
            if (old == 0 || old == PD_WAIT)
                return NULL;   /* a waiter about to commit sees READY and does not park */
            atomic_fetch_sub_explicit(&gort__sched.netpollWaiters, 1, memory_order_seq_cst);
            return (gort__g_t *)old;
        }
    }
}

struct poll_args {
    struct epoll_event *evs;
    int nevs;
    int64_t delay;
    int n, err;
};

static void poll_wait(void *arg) {
    struct poll_args *a = arg;
    struct epoll_event *evs = a->evs;
    int64_t delay = a->delay;
    int n;
    for (;;) {
        if (has_pwait2) {
            struct timespec ts, *tp = NULL;
            if (delay >= 0) {
                ts.tv_sec = delay / 1000000000;
                ts.tv_nsec = delay % 1000000000;
                tp = &ts;
            }
            n = (int)syscall(SYS_epoll_pwait2, epfd, evs, a->nevs, tp, NULL, (size_t)8);
            if (n < 0 && errno == ENOSYS) {
                has_pwait2 = false;
                continue;
            }
        } else {
            int ms = delay < 0 ? -1 : delay == 0 ? 0 : delay < 1000000 ? 1
                   : delay > 1000000000000LL ? 1000000000 : (int)(delay / 1000000);
            n = epoll_wait(epfd, evs, a->nevs, ms);
        }
        if (n >= 0 || errno != EINTR || delay > 0)
            break;   /* a timed poll interrupted returns: the caller looks at its timers again */
    }
    a->n = n;
    a->err = errno;
}

gort__g_t *gort__sched_netpoll(int64_t delay) {
    if (!gort__sched_netpoll_inited())
        return NULL;
    struct epoll_event evs[128];
    int n;
    /* A timed poll is a sleep until the next timer: with the default timer
     * slack (50 us) the kernel may wake it that much late.  The slack is
     * lowered for the poll only: elsewhere, a spinning M's usleep(3) before
     * stealing a running P's runnext (runq.c) is meant to be ~50 us, the
     * slack Go's own usleep(3) gets, and with 1 ns a P=2 ping-pong's pair is
     * split across the Ps far more often (1.3x slower). */
    static __thread int slack0;
    if (delay > 0) {
        if (!slack0)
            slack0 = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    }
    /* A blocking poll is a blocking region of the collector's: an M asleep in the
     * kernel is taken as stopped without a signal. */
    struct poll_args a = {evs, (int)GORT_ARRAY_LEN(evs), delay, 0, 0};
    if (delay != 0)
        gort__gc_blocking_self(poll_wait, &a);
    else
        poll_wait(&a);
    n = a.n;
    errno = a.err;
    if (delay > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)(slack0 > 0 ? slack0 : 50000), 0, 0, 0);
    if (n < 0) {
        if (errno != EINTR)
            gort__fatal("gort: netpoll: epoll_wait failed: errno %d", errno);
        return NULL;
    }
    gort__g_t *list = NULL;
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        if (evs[i].data.u64 == WAKE_DATA) {
            uint64_t v;
            while (read(wakefd, &v, sizeof v) < 0 && errno == EINTR)
                ;
            atomic_store(&wakesig, 0);
            continue;
        }
        gort__pd_t *pd = pd_lookup((int)evs[i].data.u64);
        if (!pd)
            continue;
        gort__g_t *g1;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            if ((g1 = netpollunblock(&pd->rg))) {
                g1->schedlink = list;
                list = g1;
            }
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            if ((g1 = netpollunblock(&pd->wg))) {
                g1->schedlink = list;
                list = g1;
            }
    }
    return list;
}

/* A child forked outside gort_main gets its own epoll instance and eventfd:
 * the parent's are shared with it, so their events and wake-ups would cross.
 * Every descriptor registers again on its next use. */
void gort__sched_netpoll_forkchild(void) {
    if (!gort__sched_netpoll_inited())
        return;
    close(epfd);
    close(wakefd);
    atomic_store(&wakesig, 0);
    for (int c = 0; c < PD_CHUNKS; c++) {
        gort__pd_t *chunk = atomic_load_explicit(&pdtab[c], memory_order_acquire);
        if (!chunk)
            continue;
        for (int i = 0; i < PD_CHUNK; i++) {
            atomic_store(&chunk[i].state, PD_NEW);
            atomic_store(&chunk[i].rg, 0);
            atomic_store(&chunk[i].wg, 0);
        }
    }
    do_init();
}

void gort__sched_netpoll_reset(void) {
    for (int c = 0; c < PD_CHUNKS; c++) {
        gort__pd_t *chunk = atomic_load_explicit(&pdtab[c], memory_order_acquire);
        if (!chunk)
            continue;
        for (int i = 0; i < PD_CHUNK; i++) {
            uintptr_t r = atomic_load(&chunk[i].rg), w = atomic_load(&chunk[i].wg);
            if (r > PD_WAIT)
                atomic_store(&chunk[i].rg, 0);
            if (w > PD_WAIT)
                atomic_store(&chunk[i].wg, 0);
        }
    }
    atomic_store(&gort__sched.netpollWaiters, 0);
}

/* ---- the wrappers ---------------------------------------------------------------------------- */

ssize_t gort_read(int fd, void *buf, size_t n) {
    bool unpollable;
    gort__pd_t *pd = pd_open(fd, &unpollable);
    if (!pd)
        return -1;
    for (;;) {
        ssize_t r;
        if (unpollable) {
            gort_syscall_enter();
            r = read(fd, buf, n);
            int e = errno;
            gort_syscall_exit();
            errno = e;
        } else {
            r = read(fd, buf, n);
        }
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || unpollable)
            return -1;
        netpollblock(pd, 'r', fd);
    }
}

ssize_t gort_write(int fd, const void *buf, size_t n) {
    bool unpollable;
    gort__pd_t *pd = pd_open(fd, &unpollable);
    if (!pd)
        return -1;
    size_t done = 0;
    while (done < n || n == 0) {
        ssize_t r;
        if (unpollable) {
            gort_syscall_enter();
            r = write(fd, (const char *)buf + done, n - done);
            int e = errno;
            gort_syscall_exit();
            errno = e;
        } else {
            r = write(fd, (const char *)buf + done, n - done);
        }
        if (r >= 0) {
            done += (size_t)r;
            if (n == 0)
                break;
            continue;
        }
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || unpollable)
            return done ? (ssize_t)done : -1;
        netpollblock(pd, 'w', fd);
    }
    return (ssize_t)done;
}

int gort_accept(int fd, struct sockaddr *addr, socklen_t *len) {
    bool unpollable;
    gort__pd_t *pd = pd_open(fd, &unpollable);
    if (!pd)
        return -1;
    for (;;) {
        int c = accept4(fd, addr, len, SOCK_CLOEXEC);
        if (c >= 0)
            return c;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || unpollable)
            return -1;
        netpollblock(pd, 'r', fd);
    }
}

int gort_connect(int fd, const struct sockaddr *addr, socklen_t len) {
    bool unpollable;
    gort__pd_t *pd = pd_open(fd, &unpollable);
    if (!pd)
        return -1;
    if (connect(fd, addr, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR && errno != EALREADY)
        return -1;
    if (unpollable) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        netpollblock(pd, 'w', fd);
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
            return -1;
        if (err == 0) {
            /* Writable and no error: connected, unless it is still in progress. */
            struct sockaddr_storage peer;
            socklen_t pl = sizeof peer;
            if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
                return 0;
            if (errno != ENOTCONN)
                return -1;
            continue;
        }
        if (err == EINPROGRESS || err == EALREADY || err == EINTR)
            continue;
        errno = err;
        return -1;
    }
}

int gort_close(int fd) {
    gort__pd_t *pd = pd_lookup(fd);
    if (!pd)
        return close(fd);
    uint32_t st = atomic_load_explicit(&pd->state, memory_order_acquire);
    if (st == PD_POLLED)
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    if (st == PD_POLLED || st == PD_UNPOLLABLE)
        atomic_store_explicit(&pd->state, PD_NEW, memory_order_release);
    int r = close(fd);
    int e = errno;
    /* Goroutines parked on it wake, retry, and get EBADF (Go's evict). */
    gort__g_t *list = NULL, *g1;
    if ((g1 = netpollunblock(&pd->rg))) {
        g1->schedlink = list;
        list = g1;
    }
    if ((g1 = netpollunblock(&pd->wg))) {
        g1->schedlink = list;
        list = g1;
    }
    if (list) {
        gort__m_t *m = gort__sched_tls_m;
        gort__sched_injectglist(m && m->curg ? m : NULL, list);
    }
    errno = e;
    return r;
}
