/* Channels and select (sched/chan.c, sched/select.c): Go's axioms, ordering,
 * select's fairness and default case.  Run at P=1 and P=2 where it matters. */
#include "sched/common.h"

#include <stdlib.h>

/* ---- the axioms table: {nil, open, closed} x {send, receive, close} ------------------------- */

enum { ST_NIL, ST_OPEN, ST_CLOSED };
enum { OP_SEND, OP_RECV, OP_CLOSE };
enum { RES_OK, RES_BLOCK, RES_FALSE, RES_FATAL };

typedef struct {
    int state, op, result;
    const char *fatal;   /* expected message for RES_FATAL */
} axiom_t;

static const axiom_t axioms[] = {
    {ST_NIL, OP_SEND, RES_BLOCK, NULL},
    {ST_NIL, OP_RECV, RES_BLOCK, NULL},
    {ST_NIL, OP_CLOSE, RES_FATAL, "fatal error: close of nil channel, goroutine 1"},
    {ST_OPEN, OP_SEND, RES_OK, NULL},     /* buffered with room: completes */
    {ST_OPEN, OP_RECV, RES_OK, NULL},     /* a value buffered: received */
    {ST_OPEN, OP_CLOSE, RES_OK, NULL},
    {ST_CLOSED, OP_SEND, RES_FATAL, "fatal error: send on closed channel: chan 0x"},
    {ST_CLOSED, OP_RECV, RES_FALSE, NULL},   /* at once, element zeroed */
    {ST_CLOSED, OP_CLOSE, RES_FATAL, "fatal error: close of closed channel: chan 0x"},
};

static gort_chan_t *axiom_chan(int state) {
    if (state == ST_NIL)
        return NULL;
    gort_chan_t *c = gort_chan_make(sizeof(int), 1);
    if (state == ST_CLOSED)
        gort_chan_close(c);
    return c;
}

typedef struct {
    const axiom_t *a;
    gort_chan_t *c;
    volatile int done;
    bool ok;
    int val;
} axiom_run_t;

static void do_op(void *arg) {
    axiom_run_t *r = arg;
    int v = 42;
    switch (r->a->op) {
    case OP_SEND: gort_chan_send(r->c, &v); break;
    case OP_RECV: r->val = -1; r->ok = gort_chan_recv(r->c, &r->val); break;
    case OP_CLOSE: gort_chan_close(r->c); break;
    }
    __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
}

static void axiom_main(void *arg) {
    axiom_run_t *r = arg;
    r->c = axiom_chan(r->a->state);
    if (r->a->state == ST_OPEN && r->a->op == OP_RECV) {
        int v = 7;
        gort_chan_send(r->c, &v);
    }
    if (r->a->result == RES_FATAL) {   /* in the main goroutine: goroutine 1 is named */
        do_op(r);
        return;
    }
    gort_go(do_op, r);
    settle(100);
    if (r->a->result == RES_BLOCK) {
        CHECK(!__atomic_load_n(&r->done, __ATOMIC_SEQ_CST));
        CHECK_EQ(gort_num_goroutine(), 2);   /* still there, parked for ever */
        return;                              /* gort_main returns: it is abandoned */
    }
    CHECK(wait_flag(&r->done, 5000));
    if (r->a->op == OP_RECV) {
        CHECK_EQ(r->ok, r->a->result == RES_OK);
        CHECK_EQ(r->val, r->a->result == RES_OK ? 7 : 0);
    }
    if (r->a->op == OP_SEND)
        CHECK_EQ(gort_chan_len(r->c), 1);
}

static void axiom_child(void *arg) {
    axiom_run_t r = {.a = arg};
    gort_main(axiom_main, &r);
}

static void test_axioms(void **state) {
    (void)state;
    for (size_t i = 0; i < GORT_ARRAY_LEN(axioms); i++) {
        const axiom_t *a = &axioms[i];
        if (a->result == RES_FATAL) {
            gort_expect_death(axiom_child, (void *)a, a->fatal);
        } else {
            axiom_run_t r = {.a = a};
            run_main(axiom_main, &r);
        }
    }
}

static void nop(void *arg) {
    (void)arg;
}

/* The fatal messages name the goroutine too. */
static void send_closed_in_g5(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(8, 0);
    gort_chan_close(c);
    for (int i = 0; i < 3; i++)
        gort_go(nop, NULL);                  /* goroutines 2..4: nothing to do */
    settle(10);
    axiom_run_t r = {.a = &axioms[6], .c = c};
    gort_go(do_op, &r);                      /* goroutine 5 sends on the closed channel */
    gort_chan_recv(NULL, NULL);              /* and dies before anything else can happen */
}
static void send_closed_child(void *arg) {
    (void)arg;
    set_procs(1);
    gort_main(send_closed_in_g5, NULL);
}

static void close_wakes_in_main(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(8, 0);
    axiom_run_t r = {.a = &axioms[6], .c = c};
    gort_go(do_op, &r);   /* blocks in send */
    settle(10);
    gort_chan_close(c);   /* the blocked sender dies */
    settle(10);
}
static void close_wakes_child(void *arg) {
    (void)arg;
    set_procs(1);
    gort_main(close_wakes_in_main, NULL);
}

static void test_fatal_names(void **state) {
    (void)state;
    gort_expect_death(send_closed_child, NULL, "(elem 8 bytes, cap 0), goroutine 5");
    gort_expect_death(close_wakes_child, NULL, "fatal error: send on closed channel");
}

/* ---- unbuffered hand-off ---------------------------------------------------------------------------- */

/* Senders parked on c.  Counted by the runtime: the channel's lock taken here,
 * in the program's text, could be preempted with it held. */
static int nsenders(gort_chan_t *c) {
    return gort__sched_chan_nwaiting(c, true);
}

typedef struct {
    gort_chan_t *c;
    int id;
    volatile int sent;
    int *log;
    int *nlog;
} sender_t;

static void send_id(void *arg) {
    sender_t *s = arg;
    gort_chan_send(s->c, &s->id);
    __atomic_store_n(&s->sent, 1, __ATOMIC_SEQ_CST);
}

static void handoff_main(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(int), 0);
    /* A send with no receiver does not complete. */
    sender_t s[10];
    for (int i = 0; i < 10; i++) {
        s[i] = (sender_t){.c = c, .id = i};
        gort_go(send_id, &s[i]);
        while (nsenders(c) < i + 1)   /* it is parked in send before the next one comes */
            gort_yield();
    }
    for (int i = 0; i < 10; i++)
        CHECK(!__atomic_load_n(&s[i].sent, __ATOMIC_SEQ_CST));
    /* Blocked senders are served in arrival order. */
    for (int i = 0; i < 10; i++) {
        int v = -1;
        CHECK(gort_chan_recv(c, &v));
        CHECK_EQ(v, i);
    }
    for (int i = 0; i < 10; i++)
        CHECK(wait_flag(&s[i].sent, 5000));
    gort_chan_free(c);
}

/* A receiver has the value when the send returns: the sender checks the
 * receiver's own variable. */
typedef struct {
    gort_chan_t *c, *done;
    volatile long *slot;   /* the receiver's destination, published before it blocks */
} direct_t;

static void direct_receiver(void *arg) {
    direct_t *d = arg;
    long v = 0;
    __atomic_store_n(&d->slot, &v, __ATOMIC_SEQ_CST);
    for (long i = 1; i <= 1000; i++) {
        gort_chan_recv(d->c, &v);
        CHECK_EQ(v, i);
    }
    gort_chan_send(d->done, NULL);
}

static void direct_main(void *arg) {
    (void)arg;
    direct_t d = {gort_chan_make(sizeof(long), 0), gort_chan_make(0, 0), NULL};
    gort_go(direct_receiver, &d);
    while (!__atomic_load_n(&d.slot, __ATOMIC_SEQ_CST))
        gort_yield();
    for (long i = 1; i <= 1000; i++) {
        gort_chan_send(d.c, &i);
        CHECK_EQ(*__atomic_load_n(&d.slot, __ATOMIC_SEQ_CST), i);
    }
    gort_chan_recv(d.done, NULL);
    gort_chan_free(d.c);
    gort_chan_free(d.done);
}

static void test_unbuffered_handoff(void **state) {
    (void)state;
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        run_main(handoff_main, NULL);
        run_main(direct_main, NULL);
    }
}

/* ---- buffered FIFO ------------------------------------------------------------------------------------ */

typedef struct {
    gort_chan_t *c;
    int n;
} prod_t;

static void producer(void *arg) {
    prod_t *p = arg;
    for (int i = 0; i < p->n; i++)
        gort_chan_send(p->c, &i);
    gort_chan_close(p->c);
}

static void fifo_main(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(int), 16);
    CHECK_EQ(gort_chan_cap(c), 16);
    CHECK_EQ(gort_chan_len(c), 0);
    for (int round = 0; round < 3; round++) {   /* wrap the ring */
        for (int i = 0; i < 11; i++)
            gort_chan_send(c, &i);
        CHECK_EQ(gort_chan_len(c), 11);
        for (int i = 0; i < 11; i++) {
            int v;
            CHECK(gort_chan_recv(c, &v));
            CHECK_EQ(v, i);
        }
    }
    /* Values sent before close are still received, then false and zero. */
    for (int i = 1; i <= 3; i++)
        gort_chan_send(c, &i);
    gort_chan_close(c);
    for (int i = 1; i <= 3; i++) {
        int v;
        CHECK(gort_chan_recv(c, &v));
        CHECK_EQ(v, i);
    }
    int v = 99;
    CHECK(!gort_chan_recv(c, &v));
    CHECK_EQ(v, 0);
    gort_chan_free(c);

    /* Through a small buffer with blocked senders, across Ps. */
    for (size_t cap = 1; cap <= 64; cap *= 4) {
        prod_t p = {gort_chan_make(sizeof(int), cap), 20000};
        gort_go(producer, &p);
        int expect = 0, got;
        while (gort_chan_recv(p.c, &got))
            CHECK_EQ(got, expect++);
        CHECK_EQ(expect, p.n);
        gort_chan_free(p.c);
    }
    CHECK_EQ(gort_chan_len(NULL), 0);
    CHECK_EQ(gort_chan_cap(NULL), 0);
}

static void test_buffered_fifo(void **state) {
    (void)state;
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        run_main(fifo_main, NULL);
    }
}

/* Many senders and receivers: every value arrives exactly once. */
typedef struct {
    gort_chan_t *c;
    gort_waitgroup_t *wg;
    long base, n;
    long *sum;
} mpmc_t;

static void mpmc_send(void *arg) {
    mpmc_t *m = arg;
    for (long i = 0; i < m->n; i++) {
        long v = m->base + i;
        gort_chan_send(m->c, &v);
    }
    gort_wg_done(m->wg);
}

static void mpmc_recv(void *arg) {
    mpmc_t *m = arg;
    long v, s = 0;
    while (gort_chan_recv(m->c, &v))
        s += v;
    __atomic_fetch_add(m->sum, s, __ATOMIC_RELAXED);
    gort_wg_done(m->wg);
}

static void mpmc_main(void *arg) {
    size_t cap = (size_t)(uintptr_t)arg;
    gort_waitgroup_t swg = GORT_WAITGROUP_INIT, rwg = GORT_WAITGROUP_INIT;
    long sum = 0;
    gort_chan_t *c = gort_chan_make(sizeof(long), cap);
    mpmc_t s[8], r[8];
    gort_wg_add(&swg, 8);
    gort_wg_add(&rwg, 8);
    for (int i = 0; i < 8; i++) {
        r[i] = (mpmc_t){c, &rwg, 0, 0, &sum};
        gort_go(mpmc_recv, &r[i]);
        s[i] = (mpmc_t){c, &swg, i * 10000L, 10000, &sum};
        gort_go(mpmc_send, &s[i]);
    }
    gort_wg_wait(&swg);
    gort_chan_close(c);
    gort_wg_wait(&rwg);
    CHECK_EQ(sum, 80000L * 79999 / 2);
    gort_chan_free(c);
}

static void test_mpmc(void **state) {
    (void)state;
    set_procs(2);
    run_main(mpmc_main, (void *)(uintptr_t)0);
    run_main(mpmc_main, (void *)(uintptr_t)7);
}

/* Buffered channels under churn (sched/chan.c's lock-free ring and its
 * handshake): producers send tagged values with gort_chan_send or a select
 * send beside a channel that never becomes ready; consumers take them with
 * gort_chan_recv or a select receive likewise.  Every value arrives exactly
 * once, each consumer sees each producer's values in order (FIFO), and the
 * close after the last send ends every consumer.  Capacities 1, 2, 3 (not a
 * power of two) and 64. */
enum { CH_PROD = 4, CH_CONS = 4, CH_N = 20000 };
typedef struct {
    gort_chan_t *c, *never;
    gort_waitgroup_t *wg;
    int id;
    unsigned char *seen;   /* CH_PROD * CH_N */
    long got;
} churn_t;

static void churn_send(void *arg) {
    churn_t *m = arg;
    for (long i = 0; i < CH_N; i++) {
        long v = (long)m->id * CH_N + i;
        if (i % 3 == 0) {
            long dummy;
            gort_select_case_t cs[2] = {{.chan = m->never, .dir = GORT_CHAN_RECV, .elem = &dummy},
                                        {.chan = m->c, .dir = GORT_CHAN_SEND, .elem = &v}};
            CHECK_EQ(gort_select(cs, 2, true), 1);
        } else {
            gort_chan_send(m->c, &v);
        }
        if (i % 1000 == 999)
            gort_yield();
    }
    gort_wg_done(m->wg);
}

static void churn_recv(void *arg) {
    churn_t *m = arg;
    long last[CH_PROD];
    for (int p = 0; p < CH_PROD; p++)
        last[p] = -1;
    for (long k = 0;; k++) {
        long v;
        bool ok;
        if (m->id % 2 == 0 && k % 2 == 0) {
            long dummy;
            gort_select_case_t cs[2] = {{.chan = m->never, .dir = GORT_CHAN_RECV, .elem = &dummy},
                                        {.chan = m->c, .dir = GORT_CHAN_RECV, .elem = &v}};
            CHECK_EQ(gort_select(cs, 2, true), 1);
            ok = cs[1].ok;
        } else {
            ok = gort_chan_recv(m->c, &v);
        }
        if (!ok)
            break;
        CHECK(v >= 0 && v < (long)CH_PROD * CH_N);
        int p = (int)(v / CH_N);
        long i = v % CH_N;
        CHECK(i > last[p]);   /* FIFO per producer */
        last[p] = i;
        CHECK_EQ(__atomic_fetch_add(&m->seen[v], 1, __ATOMIC_RELAXED), 0);
        m->got++;
    }
    gort_wg_done(m->wg);
}

static void churn_main(void *arg) {
    size_t cap = (size_t)(uintptr_t)arg;
    gort_chan_t *c = gort_chan_make(sizeof(long), cap), *never = gort_chan_make(sizeof(long), 0);
    unsigned char *seen = calloc((size_t)CH_PROD * CH_N, 1);
    gort_waitgroup_t swg = GORT_WAITGROUP_INIT, rwg = GORT_WAITGROUP_INIT;
    churn_t prod[CH_PROD], cons[CH_CONS];
    gort_wg_add(&rwg, CH_CONS);
    for (int i = 0; i < CH_CONS; i++) {
        cons[i] = (churn_t){c, never, &rwg, i, seen, 0};
        gort_go(churn_recv, &cons[i]);
    }
    gort_wg_add(&swg, CH_PROD);
    for (int i = 0; i < CH_PROD; i++) {
        prod[i] = (churn_t){c, never, &swg, i, seen, 0};
        gort_go(churn_send, &prod[i]);
    }
    gort_wg_wait(&swg);
    gort_chan_close(c);
    gort_wg_wait(&rwg);
    long total = 0;
    for (int i = 0; i < CH_CONS; i++)
        total += cons[i].got;
    CHECK_EQ(total, (long)CH_PROD * CH_N);
    for (long v = 0; v < (long)CH_PROD * CH_N; v++)
        CHECK_EQ(seen[v], 1);
    CHECK_EQ(gort_chan_len(c), 0);
    free(seen);
    gort_chan_free(c);
    gort_chan_free(never);
}

static void test_buffered_churn(void **state) {
    (void)state;
    static const size_t caps[] = {1, 2, 3, 64};
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++)
            run_main(churn_main, (void *)(uintptr_t)caps[k]);
    }
}

/* ---- select --------------------------------------------------------------------------------------------- */

static void fairness_main(void *arg) {
    (void)arg;
    enum { K = 4, ROUNDS = 40000 };
    gort_chan_t *c[K];
    gort_select_case_t cs[K];
    int val[K];
    long count[K] = {0};
    for (int i = 0; i < K; i++) {
        c[i] = gort_chan_make(sizeof(int), 1);
        cs[i] = (gort_select_case_t){.chan = c[i], .dir = GORT_CHAN_RECV, .elem = &val[i]};
        gort_chan_send(c[i], &i);
    }
    for (int r = 0; r < ROUNDS; r++) {
        int k = gort_select(cs, K, true);
        CHECK(k >= 0 && k < K);
        CHECK(cs[k].ok);
        CHECK_EQ(val[k], k);
        count[k]++;
        gort_chan_send(c[k], &k);   /* every case ready again */
    }
    /* Each count is Binomial(40000, 1/4): mean 10000, sd 86.6.  Six sd. */
    for (int i = 0; i < K; i++) {
        if (count[i] < 10000 - 520 || count[i] > 10000 + 520)
            fprintf(stderr, "select fairness: case %d taken %ld times of %d\n", i, count[i], ROUNDS);
        CHECK(count[i] >= 10000 - 520 && count[i] <= 10000 + 520);
    }
    /* Chi-square over the four counts, 3 degrees of freedom: p = 1e-6 at 30.7. */
    double chi2 = 0;
    for (int i = 0; i < K; i++)
        chi2 += (count[i] - 10000.0) * (count[i] - 10000.0) / 10000.0;
    CHECK(chi2 < 30.7);
    for (int i = 0; i < K; i++)
        gort_chan_free(c[i]);
}

static void test_select_fairness(void **state) {
    (void)state;
    set_procs(1);
    run_main(fairness_main, NULL);
}

static void default_main(void *arg) {
    (void)arg;
    gort_chan_t *a = gort_chan_make(sizeof(int), 1), *b = gort_chan_make(sizeof(int), 0);
    int x = 0, y = 0;
    gort_select_case_t cs[3] = {
        {.chan = a, .dir = GORT_CHAN_RECV, .elem = &x},
        {.chan = b, .dir = GORT_CHAN_RECV, .elem = &y},
        {.chan = NULL, .dir = GORT_CHAN_RECV, .elem = &y},
    };
    CHECK_EQ(gort_select(cs, 3, false), -1);   /* nothing ready: default */
    int v = 5;
    gort_chan_send(a, &v);
    CHECK_EQ(gort_select(cs, 3, false), 0);
    CHECK_EQ(x, 5);
    CHECK(cs[0].ok);
    CHECK_EQ(gort_select(cs, 3, false), -1);
    /* A send case with room in the buffer is ready. */
    gort_select_case_t snd = {.chan = a, .dir = GORT_CHAN_SEND, .elem = &v};
    CHECK_EQ(gort_select(&snd, 1, false), 0);
    CHECK_EQ(gort_select(&snd, 1, false), -1);   /* full now */
    CHECK_EQ(gort_chan_len(a), 1);
    /* Only NULL channels, or none: never ready. */
    CHECK_EQ(gort_select(&cs[2], 1, false), -1);
    CHECK_EQ(gort_select(NULL, 0, false), -1);
    /* A closed channel is ready for receive, with ok false. */
    gort_chan_close(b);
    CHECK_EQ(gort_select(&cs[1], 1, false), 1 - 1);
    CHECK(!cs[1].ok);
    gort_chan_free(a);
    gort_chan_free(b);
}

/* Blocking select woken by each kind of counterpart. */
typedef struct {
    gort_chan_t *c[3];
    int which;
} waker_t;

static void waker(void *arg) {
    waker_t *w = arg;
    settle(5);
    int v = 100 + w->which;
    if (w->which == 0)
        gort_chan_send(w->c[0], &v);             /* to a select receive */
    else if (w->which == 1) {
        int got = 0;
        gort_chan_recv(w->c[1], &got);           /* from a select send */
        CHECK_EQ(got, 77);
    } else {
        gort_chan_close(w->c[2]);                /* closes a select receive */
    }
}

static void blocking_main(void *arg) {
    (void)arg;
    for (int which = 0; which < 3; which++) {
        waker_t w = {{gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0),
                      gort_chan_make(sizeof(int), 0)}, which};
        int r0 = -1, s1 = 77, r2 = -1;
        gort_select_case_t cs[4] = {
            {.chan = w.c[0], .dir = GORT_CHAN_RECV, .elem = &r0},
            {.chan = w.c[1], .dir = GORT_CHAN_SEND, .elem = &s1},
            {.chan = w.c[2], .dir = GORT_CHAN_RECV, .elem = &r2},
            {.chan = NULL, .dir = GORT_CHAN_SEND, .elem = &s1},
        };
        gort_go(waker, &w);
        int k = gort_select(cs, 4, true);
        CHECK_EQ(k, which);
        if (which == 0) {
            CHECK_EQ(r0, 100);
            CHECK(cs[0].ok);
        }
        if (which == 2) {
            CHECK_EQ(r2, 0);
            CHECK(!cs[2].ok);
        }
        settle(5);
        /* Every channel's queues are empty again (the losing sudogs were removed). */
        for (int i = 0; i < 3; i++) {
            CHECK(!w.c[i]->recvq.first && !w.c[i]->sendq.first);
            gort_chan_free(w.c[i]);
        }
    }
}

/* Selects racing on shared channels with senders: every value once. */
typedef struct {
    gort_chan_t *in[3], *quit;
    long *sum;
    gort_waitgroup_t *wg;
} selrace_t;

static void select_consumer(void *arg) {
    selrace_t *s = arg;
    long v[3], local = 0;
    for (;;) {
        gort_select_case_t cs[4] = {
            {.chan = s->in[0], .dir = GORT_CHAN_RECV, .elem = &v[0]},
            {.chan = s->in[1], .dir = GORT_CHAN_RECV, .elem = &v[1]},
            {.chan = s->in[2], .dir = GORT_CHAN_RECV, .elem = &v[2]},
            {.chan = s->quit, .dir = GORT_CHAN_RECV, .elem = NULL},
        };
        int k = gort_select(cs, 4, true);
        if (k == 3)
            break;
        local += v[k];
    }
    __atomic_fetch_add(s->sum, local, __ATOMIC_RELAXED);
    gort_wg_done(s->wg);
}

static void select_producer(void *arg) {
    selrace_t *s = arg;
    for (long i = 1; i <= 30000; i++)
        gort_chan_send(s->in[i % 3], &i);
    gort_wg_done(s->wg);
}

static void selrace_main(void *arg) {
    (void)arg;
    long sum = 0;
    gort_waitgroup_t pwg = GORT_WAITGROUP_INIT, cwg = GORT_WAITGROUP_INIT;
    selrace_t s = {{gort_chan_make(sizeof(long), 0), gort_chan_make(sizeof(long), 2),
                    gort_chan_make(sizeof(long), 0)}, gort_chan_make(0, 0), &sum, &cwg};
    selrace_t p = s;
    p.wg = &pwg;
    gort_wg_add(&cwg, 4);
    for (int i = 0; i < 4; i++)
        gort_go(select_consumer, &s);
    gort_wg_add(&pwg, 2);
    gort_go(select_producer, &p);
    gort_go(select_producer, &p);
    gort_wg_wait(&pwg);
    gort_chan_close(s.quit);
    gort_wg_wait(&cwg);
    CHECK_EQ(sum, 2 * (30000L * 30001 / 2));
}

static void test_select(void **state) {
    (void)state;
    for (int procs = 1; procs <= 2; procs++) {
        set_procs(procs);
        run_main(default_main, NULL);
        run_main(blocking_main, NULL);
        run_main(selrace_main, NULL);
    }
}

static void select_send_closed(void *arg) {
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(int), 4);
    gort_chan_close(c);
    int v = 1;
    gort_select_case_t cs = {.chan = c, .dir = GORT_CHAN_SEND, .elem = &v};
    gort_select(&cs, 1, false);
}
static void select_send_closed_child(void *arg) {
    (void)arg;
    gort_main(select_send_closed, NULL);
}

static void test_select_fatal(void **state) {
    (void)state;
    gort_expect_death(select_send_closed_child, NULL, "fatal error: send on closed channel");
}

/* Big selects take their arrays from the heap. */
static void bigselect_main(void *arg) {
    (void)arg;
    enum { N = 100 };
    gort_chan_t *c[N];
    gort_select_case_t cs[N];
    int v;
    for (int i = 0; i < N; i++) {
        c[i] = gort_chan_make(sizeof(int), 1);
        cs[i] = (gort_select_case_t){.chan = c[i], .dir = GORT_CHAN_RECV, .elem = &v};
    }
    int x = 63;
    gort_chan_send(c[63], &x);
    CHECK_EQ(gort_select(cs, N, true), 63);
    CHECK_EQ(v, 63);
    for (int i = 0; i < N; i++)
        gort_chan_free(c[i]);
}

static void test_select_big(void **state) {
    (void)state;
    run_main(bigselect_main, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axioms),
        cmocka_unit_test(test_fatal_names),
        cmocka_unit_test(test_unbuffered_handoff),
        cmocka_unit_test(test_buffered_fifo),
        cmocka_unit_test(test_mpmc),
        cmocka_unit_test(test_buffered_churn),
        cmocka_unit_test(test_select_fairness),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_select_fatal),
        cmocka_unit_test(test_select_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
