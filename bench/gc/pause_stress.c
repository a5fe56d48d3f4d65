/* pause-stress: a live heap of small linked objects (32-byte nodes in chains of
 * 16, reached from an array of chain heads), and a mutator that for a fixed time
 * replaces random nodes (the old one becomes garbage), rewires random cross-links
 * and sends a 256-byte message about each replacement into a ring of the last
 * 1024 (older messages become garbage): enough allocation that the churn, not only
 * the build, runs collections.  The mutator's progress stamps cover the churn
 * only (the build is set-up).  Usage: pause_stress LIVE_MIB SECONDS. */
#include "harness.h"

typedef struct node {
    struct node *next, *other;
    uint64_t a, b;
} node;

#define CHAIN 16
#define RING 1024

typedef struct msg {
    node *about;
    uint64_t seq, pad[30];
} msg;

static uint64_t rng = 88172645463325252ull;
static inline uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv) {
    size_t live_mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
    double secs = argc > 2 ? atof(argv[2]) : 10;
    bench_begin();
    size_t nodes = (live_mib << 20) / (sizeof(node) + sizeof(node *) / CHAIN);
    size_t nchains = nodes / CHAIN;
    node **heads = GC_ALLOC(nchains * sizeof(node *));
    for (size_t c = 0; c < nchains; c++) {
        node *h = NULL;
        for (int k = 0; k < CHAIN; k++) {
            node *n = GC_ALLOC(sizeof *n);
            n->a = c;
            n->b = (uint64_t)k;
            GC_SET(n->next, h);
            h = n;
        }
        GC_SET(heads[c], h);
        if ((c & 255) == 0)
            STAMP();
    }
    msg **ring = GC_ALLOC(RING * sizeof(msg *));
    int64_t built = now_ns();
    nstamps = 0;   /* the mutator's view covers the churn */
    STAMP();
    uint64_t ops = 0;
    int64_t end = built + (int64_t)(secs * 1e9);
    for (;;) {
        for (int i = 0; i < 64; i++) {
            node *h = heads[rnd() % nchains];
            int k = (int)(rnd() % (CHAIN - 1));
            node *p = h;
            for (int s = 0; s < k && p->next && p->next->next; s++)
                p = p->next;
            node *old = p->next;
            if (old) {
                node *n = GC_ALLOC(sizeof *n);
                n->a = old->a;
                n->b = old->b;
                GC_SET(n->next, old->next);
                GC_SET(p->next, n);   /* old is garbage once its message is */
                msg *m = GC_ALLOC(sizeof *m);
                m->seq = ops;
                GC_SET(m->about, old);
                GC_SET(ring[ops % RING], m);
            }
            GC_SET(h->other, heads[rnd() % nchains]);
            ops++;
        }
        STAMP();
        if ((ops & 4095) == 0 && now_ns() >= end)
            break;
    }
    /* Check: every chain still has CHAIN nodes with consistent a. */
    size_t bad = 0;
    for (size_t c = 0; c < nchains; c++) {
        int len = 0;
        for (node *p = heads[c]; p; p = p->next, len++)
            if (p->a != c)
                bad++;
        if (len != CHAIN)
            bad++;
    }
    char extra[128];
    snprintf(extra, sizeof extra, "live_mib=%zu ops=%llu build_ns=%lld check=%s", live_mib,
             (unsigned long long)ops, (long long)(built - t_begin), bad ? "BAD" : "ok");
    bench_end("pause-stress", extra);
    return bad != 0;
}
