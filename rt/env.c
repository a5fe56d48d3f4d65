/* Settings: every GORT_* environment variable and GORT_DEBUG key, declared once in
 * the tables below, parsed once (on first use, allocation-free, before main is fine).
 * Unknown keys and bad values are reported once on stderr and otherwise ignored:
 * never silently, never fatally.  The README's knob table mirrors these tables. */
#include "include/gort/internal/rt.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

gort_settings_t gort__settings = {
    .maxprocs = 0,
    .maxthreads = 10000,
    .gc_percent = 100,
    .memlimit = INT64_MAX,
    .scavenge = 1,
    .invalidfree = 1,
    .gcidlemark = 1,
};

/* GORT_DEBUG keys: name, where the value goes, its range. */
static const struct debug_key {
    const char *name;
    int *value;
    int min, max;
    const char *doc;
} debug_keys[] = {
    {"allocstats", &gort__settings.allocstats, 0, 1, "print allocator statistics at exit"},
    {"gctrace", &gort__settings.gctrace, 0, 2, "one line per GC cycle"},
    {"gccheckmark", &gort__settings.gccheckmark, 0, 1, "verify each mark stop-the-world"},
    {"gcstoptheworld", &gort__settings.gcstoptheworld, 0, 2, "run whole collections stopped"},
    {"gcidlemark", &gort__settings.gcidlemark, 0, 1, "0: no idle-priority mark workers"},
    {"gcgoal", &gort__settings.gcgoal, 0, 2, "heap goal's basis: 0 traced, bounded by the mark's allocation; 1 traced only; 2 marked (Go's)"},
    {"schedtrace", &gort__settings.schedtrace, 0, INT_MAX, "scheduler state every N ms"},
    {"scheddetail", &gort__settings.scheddetail, 0, 1, "per-P/M/G lines in schedtrace"},
    {"scavenge", &gort__settings.scavenge, 0, 1, "background return of free pages"},
    {"trace", &gort__settings.trace, 0, 1, "record runtime events"},
    {"asyncpreemptoff", &gort__settings.asyncpreemptoff, 0, 1, "no signal-based preemption"},
    {"invalidfree", &gort__settings.invalidfree, 0, 1, "0: report an invalid free and leak instead of dying"},
    {"hugepages", &gort__settings.hugepages, 0, 1, "1: transparent huge pages for the arenas"},
};

static int parse_int(const char *s, size_t n, long long *out) {
    if (n == 0 || n > 19)
        return -1;
    long long v = 0;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return -1;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

int64_t gort__parse_size(const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    long long v;
    if (parse_int(s, i, &v) != 0)
        return -1;
    static const struct { const char *suffix; int shift; } units[] = {
        {"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40},
    };
    for (size_t u = 0; u < GORT_ARRAY_LEN(units); u++) {
        if (strcmp(s + i, units[u].suffix) == 0) {
            if (v > (INT64_MAX >> units[u].shift))
                return -1;
            return (int64_t)v << units[u].shift;
        }
    }
    return -1;
}

int gort__settings_parse_debug(const char *s) {
    int problems = 0;
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (len == 0) {
            /* empty item (",,"): ignore */
        } else if (!eq) {
            gort__printf("gort: GORT_DEBUG: '%.*s' has no '=value'; ignored\n", (int)len, s);
            problems++;
        } else {
            size_t klen = (size_t)(eq - s);
            const struct debug_key *k = NULL;
            for (size_t i = 0; i < GORT_ARRAY_LEN(debug_keys); i++)
                if (strlen(debug_keys[i].name) == klen && memcmp(debug_keys[i].name, s, klen) == 0)
                    k = &debug_keys[i];
            long long v;
            if (!k) {
                gort__printf("gort: GORT_DEBUG: unknown key '%.*s'; ignored\n", (int)klen, s);
                problems++;
            } else if (parse_int(eq + 1, len - klen - 1, &v) != 0 || v < k->min || v > k->max) {
                gort__printf("gort: GORT_DEBUG: bad value '%.*s' for %s (want %d..%d); ignored\n",
                             (int)(len - klen - 1), eq + 1, k->name, k->min, k->max);
                problems++;
            } else {
                *k->value = (int)v;
            }
        }
        s = end ? end + 1 : NULL;
    }
    return problems;
}

static void parse_env(void) {
    const char *v;
    long long n;
    if ((v = getenv("GORT_MAXPROCS")) && *v) {
        if (parse_int(v, strlen(v), &n) == 0 && n >= 1 && n <= 1024)
            gort__settings.maxprocs = (int)n;
        else
            gort__printf("gort: GORT_MAXPROCS='%s' is not a number in 1..1024; using the CPU count\n", v);
    }
    if ((v = getenv("GORT_MAXTHREADS")) && *v) {
        if (parse_int(v, strlen(v), &n) == 0 && n >= 1 && n <= 1000000)
            gort__settings.maxthreads = (int)n;
        else
            gort__printf("gort: GORT_MAXTHREADS='%s' is not a number in 1..1000000; using 10000\n", v);
    }
    if ((v = getenv("GORT_GC")) && *v) {
        if (strcmp(v, "off") == 0)
            gort__settings.gc_percent = -1;
        else if (parse_int(v, strlen(v), &n) == 0 && n >= 0 && n <= INT_MAX)
            gort__settings.gc_percent = (int)n;
        else
            gort__printf("gort: GORT_GC='%s' is not a percentage or 'off'; using 100\n", v);
    }
    if ((v = getenv("GORT_MEMLIMIT")) && *v) {
        int64_t b = strcmp(v, "off") == 0 ? INT64_MAX : gort__parse_size(v);
        if (b >= 0)
            gort__settings.memlimit = b;
        else
            gort__printf("gort: GORT_MEMLIMIT='%s' is not a size (e.g. 512MiB) or 'off'; no limit\n", v);
    }
    if ((v = getenv("GORT_DEBUG")))
        gort__settings_parse_debug(v);
}

/* Pull into a static link the two files that are nothing but a constructor:
 * alloc/stats.c (the GORT_DEBUG=allocstats=1 report) and alloc/fork.c (the
 * allocator's fork handlers).  Nothing else refers to them, and an archive member
 * nothing refers to is left out. */
extern const char gort__allocstats_linked, gort__allocfork_linked;
__attribute__((used)) static const char *const allocstats_ref = &gort__allocstats_linked;
__attribute__((used)) static const char *const allocfork_ref = &gort__allocfork_linked;

void gort__settings_init(void) {
    static _Atomic int state; /* 0 not yet, 1 parsing, 2 done */
    if (atomic_load_explicit(&state, memory_order_acquire) == 2)
        return;
    int z = 0;
    if (atomic_compare_exchange_strong(&state, &z, 1)) {
        parse_env();
        atomic_store_explicit(&state, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&state, memory_order_acquire) != 2)
        ;
}
