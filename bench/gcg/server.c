/* A server-like workload for goroutines as the collector's mutators (issue 8);
 * bench/gcg/go/server is the same program in Go.
 *
 * nclients client goroutines each loop: allocate a request (280 bytes: a reply
 * channel, two pointer fields, a key, a sequence number and a 240-byte payload),
 * send it to one of nhandlers handler goroutines, wait for the response on the
 * request's own reply channel, check it.  A handler builds the response (a header
 * and a list of four 48-byte items), looks the key up in a long-lived cache and,
 * on a miss, inserts a new entry (a 32-byte entry and a 256-byte value) in place
 * of the less recently used of the key's two slots: the old entry becomes
 * garbage.  The cache holds cache_mib of live entries; keys are drawn from twice
 * as many, so the cache churns.  Every channel is unbuffered: each send hands a
 * pointer from one goroutine's stack to another's.  Objects are typed
 * (gort_gc_alloc_typed: precise, as Go's) except the cache's slot array.
 *
 * A latency-sensitive goroutine wakes every millisecond to run a fixed unit of
 * work (a list of 16 small objects and a 70 000-step xorshift chain, ~100 us),
 * stamps, and sleeps until the next millisecond: a tenth of a processor whatever
 * the scheduler's policy.  Its stamps leave out the time it asked to sleep, so
 * the gaps between them (bench/gc/mmu.py) are its units of work plus whatever
 * delayed them: a late wake-up, other goroutines, a stop, an assist.
 *
 * The serving lasts `seconds` after the cache is built; the stamps, the request
 * count and the latencies cover that part.  The RESULT line adds requests/s and
 * the request latency (send to reply) p50/p99/max.
 * Usage: server [seconds=10] [cache_mib=128] [nclients=1000] [nhandlers=8]. */
#include "../gc/harness.h"

#include <gort/gort.h>

typedef struct response response;
typedef struct client client;

typedef struct request {
    gort_chan_t *reply;      /* gort_chan_make memory, not a GC object */
    client *cl;
    response *last;          /* the client's previous response */
    uint64_t key, seq;
    uint64_t payload[30];
} request;
static const uint64_t request_mask[] = {0x6};
static const gort_gc_type_t request_type = {sizeof(request), request_mask, "request"};

typedef struct item {
    struct item *next;
    uint64_t val, pad[4];
} item;
static const uint64_t item_mask[] = {0x1};
static const gort_gc_type_t item_type = {sizeof(item), item_mask, "item"};

typedef struct entry {
    uint64_t key, used;
    uint64_t *value;         /* 32 words, noscan */
    uint64_t pad;
} entry;
static const uint64_t entry_mask[] = {0x4};
static const gort_gc_type_t entry_type = {sizeof(entry), entry_mask, "entry"};

struct response {
    uint64_t key, sum;
    item *items;
    entry *ent;
};
static const uint64_t response_mask[] = {0xc};
static const gort_gc_type_t response_type = {sizeof(response), response_mask, "response"};

struct client {
    uint64_t id, rng, ok, bad;
    response *last;
};
static const uint64_t client_mask[] = {0x10};
static const gort_gc_type_t client_type = {sizeof(client), client_mask, "client"};

typedef struct unit {
    struct unit *next;
    uint64_t v;
} unit;
static const uint64_t unit_mask[] = {0x1};
static const gort_gc_type_t unit_type = {sizeof(unit), unit_mask, "unit"};

enum { SHARDS = 64, VALUE_WORDS = 32, LAT_BUCKETS = 64 * 8 };
#define LAT_PERIOD 1000000   /* ns */

/* The long-lived cache: 2 slots per set.  The globals are the collector's roots. */
static entry **slots;        /* GC object, 2 * sets pointers */
static uint64_t sets, nkeys;
static struct {
    gort_mutex_t m;
    char pad[64 - sizeof(gort_mutex_t)];
} shard[SHARDS];
static uint64_t hits, misses;

static client **clients;     /* GC object, nclients pointers */
static gort_chan_t **in;     /* the handlers' channels (libc memory) */
static int nclients = 1000, nhandlers = 8;
static uint32_t stop;
static uint64_t lat_hist[LAT_BUCKETS];
static uint64_t units;
static volatile uint64_t sink;
static gort_waitgroup_t hwg, cwg, lwg;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t *new_value(uint64_t key) {
    uint64_t *v = gort_gc_alloc_noscan(VALUE_WORDS * sizeof *v);
    for (int i = 0; i < VALUE_WORDS; i++)
        v[i] = key + (uint64_t)i;
    return v;
}

/* The key's entry, inserted on a miss. */
static entry *lookup(uint64_t key, uint64_t tick) {
    uint64_t set = mix(key) % sets;
    gort_mutex_t *m = &shard[set % SHARDS].m;
    gort_mutex_lock(m);
    entry *a = slots[2 * set], *b = slots[2 * set + 1], *e = NULL;
    if (a && a->key == key)
        e = a;
    else if (b && b->key == key)
        e = b;
    if (e) {
        e->used = tick;
        gort_mutex_unlock(m);
        __atomic_fetch_add(&hits, 1, __ATOMIC_RELAXED);
        return e;
    }
    gort_mutex_unlock(m);
    e = gort_gc_alloc_typed(sizeof *e, &entry_type);   /* built outside the lock */
    e->key = key;
    e->used = tick;
    GC_SET(e->value, new_value(key));
    gort_mutex_lock(m);
    uint64_t i = 2 * set;
    a = slots[i];
    b = slots[i + 1];
    if (a && (!b || b->used < a->used))   /* a free, else b free or less recent */
        i++;
    GC_SET(slots[i], e);
    gort_mutex_unlock(m);
    __atomic_fetch_add(&misses, 1, __ATOMIC_RELAXED);
    return e;
}

static int lat_bucket(int64_t ns) {
    if (ns < 1)
        ns = 1;
    int l = 63 - __builtin_clzll((unsigned long long)ns);
    int sub = l >= 3 ? (int)(((uint64_t)ns >> (l - 3)) & 7) : 0;
    return l * 8 + sub;
}

static int64_t lat_quantile(double q) {
    uint64_t total = 0, acc = 0;
    for (int i = 0; i < LAT_BUCKETS; i++)
        total += lat_hist[i];
    uint64_t want = (uint64_t)(q * (double)total);
    for (int i = 0; i < LAT_BUCKETS; i++) {
        acc += lat_hist[i];
        if (acc >= want && lat_hist[i])
            return (int64_t)((double)(1ull << (i / 8)) * (1 + (double)(i % 8 + 1) / 8));
    }
    return 0;
}

static void handler(void *arg) {
    gort_chan_t *c = arg;
    uint64_t tick = 0;
    request *r;
    while (gort_chan_recv(c, &r)) {
        tick++;
        response *resp = gort_gc_alloc_typed(sizeof *resp, &response_type);
        resp->key = r->key;
        uint64_t sum = 0;
        for (int k = 0; k < 4; k++) {
            item *it = gort_gc_alloc_typed(sizeof *it, &item_type);
            it->val = r->payload[k] ^ r->key;
            GC_SET(it->next, resp->items);
            GC_SET(resp->items, it);
            sum += it->val;
        }
        resp->sum = sum;
        GC_SET(resp->ent, lookup(r->key, tick));
        gort_chan_send(r->reply, &resp);
    }
    gort_wg_done(&hwg);
}

static void client_loop(void *arg) {
    client *c = clients[(intptr_t)arg];
    for (uint64_t seq = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); seq++) {
        uint64_t key = rnd(&c->rng) % nkeys;
        request *r = gort_gc_alloc_typed(sizeof *r, &request_type);
        r->reply = gort_chan_make(sizeof(response *), 0);
        GC_SET(r->cl, c);
        GC_SET(r->last, c->last);
        r->key = key;
        r->seq = seq;
        for (int k = 0; k < 30; k++)
            r->payload[k] = key * 31 + (uint64_t)k;
        int64_t t = now_ns();
        gort_chan_send(in[key % (uint64_t)nhandlers], &r);
        response *resp;
        gort_chan_recv(r->reply, &resp);
        __atomic_fetch_add(&lat_hist[lat_bucket(now_ns() - t)], 1, __ATOMIC_RELAXED);
        gort_chan_free(r->reply);
        uint64_t sum = 0, want = 0;
        int n = 0;
        for (item *it = resp->items; it; it = it->next, n++)
            sum += it->val;
        for (int k = 0; k < 4; k++)
            want += (key * 31 + (uint64_t)k) ^ key;
        if (resp->key == key && n == 4 && sum == want && resp->sum == want && resp->ent->key == key &&
            resp->ent->value[0] == key && resp->ent->value[31] == key + 31)
            c->ok++;
        else
            c->bad++;
        GC_SET(c->last, resp);
    }
    gort_wg_done(&cwg);
}

/* Every LAT_PERIOD, one fixed unit of work, then a sleep until the next period.
 * Its stamps (harness.h's array, written here) are on its own timeline: the time
 * it asked to sleep is taken out, so a gap is a unit of work plus whatever
 * delayed it (a late wake-up, a preemption, a stop, an assist). */
static void latency(void *arg) {
    (void)arg;
    uint64_t x = 88172645463325252ull;
    int64_t start = now_ns(), slept = 0;
    for (int64_t k = 1; !__atomic_load_n(&stop, __ATOMIC_RELAXED); k++) {
        unit *l = NULL;
        for (int i = 0; i < 16; i++) {
            unit *u = gort_gc_alloc_typed(sizeof *u, &unit_type);
            u->v = x + (uint64_t)i;
            GC_SET(u->next, l);
            l = u;
        }
        for (int i = 0; i < 70000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        for (unit *p = l; p; p = p->next)
            x += p->v;
        int64_t now = now_ns();
        if (nstamps < stamps_cap)
            stamps[nstamps++] = now - slept;
        units++;
        int64_t d = start + k * LAT_PERIOD - now;
        if (d > 0) {
            slept += d;
            gort_sleep(d);
        }
    }
    sink = x;
    gort_wg_done(&lwg);
}

typedef struct args {
    double secs;
    int cache_mib;
} args;

static void main_g(void *arg) {
    args *a = arg;
    bench_begin();
    /* an entry and its value: 32 + 256 bytes, plus its slot */
    sets = ((uint64_t)a->cache_mib << 20) / (2 * (32 + 256 + 8));
    GC_SET(slots, gort_gc_alloc(2 * sets * sizeof *slots));
    nkeys = 4 * sets;   /* twice the cache's capacity */
    for (uint64_t k = 0; k < 2 * sets; k++) {
        lookup(k * 2, 0);
    }
    hits = misses = 0;
    int64_t built = now_ns();

    in = calloc((size_t)nhandlers, sizeof *in);
    for (int i = 0; i < nhandlers; i++) {
        in[i] = gort_chan_make(sizeof(request *), 0);
        gort_wg_add(&hwg, 1);
        gort_go(handler, in[i]);
    }
    GC_SET(clients, gort_gc_alloc((size_t)nclients * sizeof *clients));
    for (int i = 0; i < nclients; i++) {
        client *c = gort_gc_alloc_typed(sizeof *c, &client_type);
        c->id = (uint64_t)i;
        c->rng = mix((uint64_t)i + 1);
        GC_SET(clients[i], c);
        gort_wg_add(&cwg, 1);
        if (gort_go(client_loop, (void *)(intptr_t)i) != 0) {
            perror("server: gort_go");
            exit(1);
        }
    }
    gort_wg_add(&lwg, 1);
    gort_go(latency, NULL);
    int64_t end = built + (int64_t)(a->secs * 1e9);
    gort_sleep(end - now_ns());
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    gort_wg_wait(&cwg);
    gort_wg_wait(&lwg);
    int64_t served = now_ns() - built;
    for (int i = 0; i < nhandlers; i++)
        gort_chan_close(in[i]);
    gort_wg_wait(&hwg);
    uint64_t ok = 0, bad = 0;
    for (int i = 0; i < nclients; i++) {
        ok += clients[i]->ok;
        bad += clients[i]->bad;
    }
    char extra[512];
    snprintf(extra, sizeof extra,
             "reqs=%llu rps=%.0f lat_p50_ns=%lld lat_p99_ns=%lld lat_max_ns=%lld hits=%llu misses=%llu units=%llu "
             "serve_ns=%lld build_ns=%lld cache_mib=%d clients=%d handlers=%d check=%s",
             (unsigned long long)(ok + bad), (double)(ok + bad) / ((double)served * 1e-9),
             (long long)lat_quantile(0.5), (long long)lat_quantile(0.99), (long long)lat_quantile(1.0),
             (unsigned long long)hits, (unsigned long long)misses, (unsigned long long)units, (long long)served,
             (long long)(built - t_begin), a->cache_mib, nclients, nhandlers, bad || !ok ? "BAD" : "ok");
    bench_end("server", extra);
}

int main(int argc, char **argv) {
    args a = {argc > 1 ? atof(argv[1]) : 10, argc > 2 ? atoi(argv[2]) : 128};
    if (argc > 3)
        nclients = atoi(argv[3]);
    if (argc > 4)
        nhandlers = atoi(argv[4]);
    if (gort_main(main_g, &a) != 0) {
        perror("server: gort_main");
        return 1;
    }
    return 0;
}
