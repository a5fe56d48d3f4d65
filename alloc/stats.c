/* Allocator statistics: exact counters per size class and per cache, summed on
 * demand; the GORT_DEBUG=allocstats=1 report at exit.  See alloc/alloc.c. */
#include "alloc/types.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gort_alloc_stats(gort_alloc_stats_t *out) {
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    memset(out, 0, sizeof *out);
    uint64_t nmalloc[NUM_CLASSES], nfree[NUM_CLASSES];
    int64_t large_bytes = atomic_load(&gort__retired_large_bytes);
    uint64_t large_total = atomic_load(&gort__retired_large_total);
    gort__caches_lock();
    for (unsigned i = 0; i < NUM_CLASSES; i++) {
        nmalloc[i] = atomic_load(&gort__retired_nmalloc[i]);
        nfree[i] = atomic_load(&gort__retired_nfree[i]);
    }
    for (gort_cache *c = gort__caches; c; c = c->all_next) {
        out->num_caches++;
        for (unsigned i = 0; i < NUM_CLASSES; i++) {
            nmalloc[i] += STAT_READ(c->nmalloc[i]);
            nfree[i] += STAT_READ(c->nfree[i]);
        }
        large_bytes += STAT_READ(c->large_bytes);
        large_total += STAT_READ(c->large_total);
    }
    gort__caches_unlock();
    for (unsigned i = 1; i < NUM_CLASSES; i++) {
        gort_alloc_class_stats_t *cs = &out->by_class[i];
        cs->size = gort__class_size[i];
        cs->mallocs = nmalloc[i];
        cs->frees = nfree[i];
        cs->objects = nmalloc[i] - nfree[i];
        out->mallocs += nmalloc[i];
        out->frees += nfree[i];
        out->heap_alloc += cs->objects * cs->size;
        out->total_alloc += nmalloc[i] * cs->size;
    }
    gort_alloc_class_stats_t *big = &out->by_class[0];
    big->size = MAX_SMALL + 1;
    big->mallocs = nmalloc[0];
    big->frees = nfree[0];
    big->objects = nmalloc[0] - nfree[0];
    out->large_objects = big->objects;
    out->large_bytes = (uint64_t)large_bytes;
    out->mallocs += nmalloc[0];
    out->frees += nfree[0];
    out->heap_alloc += out->large_bytes;
    out->total_alloc += large_total;
    out->heap_objects = out->mallocs - out->frees;

    gort__mutex_lock(&gort__heap.lock);
    out->heap_sys = gort__heap.sys_pages * PAGE_SIZE;
    out->heap_inuse = gort__heap.inuse_pages * PAGE_SIZE;
    out->heap_released = gort__heap.released_pages * PAGE_SIZE;
    gort__mutex_unlock(&gort__heap.lock);
    out->heap_idle = out->heap_sys - out->heap_inuse;
    out->meta_sys = atomic_load(&gort__meta_bytes);
    out->sys = out->heap_sys + out->meta_sys;
    static _Atomic uint64_t peak;
    uint64_t pk = atomic_load(&peak);
    while (out->heap_alloc > pk && !atomic_compare_exchange_weak(&peak, &pk, out->heap_alloc))
        ;
    out->peak_heap_alloc = out->heap_alloc > pk ? out->heap_alloc : pk;
    return 0;
}

static void human(char *buf, size_t n, uint64_t bytes) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

/* The value of "Key:  N kB" in /proc/self/status, in bytes (0 if absent).  Read with
 * open/read: stdio would allocate from the heap being reported. */
static uint64_t status_kb(const char *status, const char *key) {
    const char *p = strstr(status, key);
    if (!p)
        return 0;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    return v * 1024;
}

static uint64_t rss_bytes(uint64_t *peak) {
    static char buf[8192];
    *peak = 0;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n, len = 0;
    while (len < (ssize_t)sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0)
        len += n;
    close(fd);
    buf[len] = 0;
    *peak = status_kb(buf, "VmHWM:");
    return status_kb(buf, "VmRSS:");
}

void gort_alloc_stats_print(int fd) {
    gort_alloc_stats_t st;
    gort_alloc_stats(&st);
    char a[32], b[32], c[32], d[32], e[32], f[32];
    char line[512];
    int n;
#define EMIT(...) do { n = snprintf(line, sizeof line, __VA_ARGS__); gort__write_all(fd, line, (size_t)n); } while (0)
    uint64_t peak_rss, rss = rss_bytes(&peak_rss);
    human(a, sizeof a, st.heap_alloc);
    human(b, sizeof b, st.peak_heap_alloc);
    human(c, sizeof c, st.heap_inuse);
    human(d, sizeof d, st.heap_sys);
    human(e, sizeof e, st.heap_released);
    human(f, sizeof f, st.total_alloc);
    EMIT("gort allocstats (pid %d)\n", (int)getpid());
    EMIT("  live      %s in %llu objects (peak %s)\n", a, (unsigned long long)st.heap_objects, b);
    EMIT("  total     %llu mallocs, %llu frees, %s allocated\n", (unsigned long long)st.mallocs,
         (unsigned long long)st.frees, f);
    EMIT("  heap      %s in use, %s reserved, %s released to the OS\n", c, d, e);
    human(a, sizeof a, rss);
    human(b, sizeof b, peak_rss);
    human(c, sizeof c, st.meta_sys);
    EMIT("  process   RSS %s (peak %s), allocator metadata %s, %llu thread caches\n", a, b, c,
         (unsigned long long)st.num_caches);
    EMIT("  %-10s %14s %14s %12s %12s\n", "class", "mallocs", "frees", "live", "live bytes");
    for (unsigned i = 0; i < NUM_CLASSES; i++) {
        const gort_alloc_class_stats_t *cs = &st.by_class[i];
        if (!cs->mallocs)
            continue;
        uint64_t bytes = i ? cs->objects * cs->size : st.large_bytes;
        human(a, sizeof a, bytes);
        if (i)
            EMIT("  %7u B  %14llu %14llu %12llu %12s\n", cs->size, (unsigned long long)cs->mallocs,
                 (unsigned long long)cs->frees, (unsigned long long)cs->objects, a);
        else
            EMIT("  %-10s %14llu %14llu %12llu %12s\n", "> 32 KiB", (unsigned long long)cs->mallocs,
                 (unsigned long long)cs->frees, (unsigned long long)cs->objects, a);
    }
#undef EMIT
}

/* GORT_DEBUG=allocstats=1: the report at exit.  It goes to a duplicate of stderr
 * taken at start-up: a program may close fd 2 in its own exit handlers (coreutils'
 * close_stdout does), which run before a library's. */
static int report_fd = -1;

static void allocstats_at_exit(void) {
    if (gort__settings.allocstats && report_fd >= 0)
        gort_alloc_stats_print(report_fd);
}

/* rt/env.c refers to this, so that a static link pulls this file in (with its
 * constructor) whenever it links gort at all: nothing else may refer to it, and
 * an archive member nothing refers to is left out -- allocstats=1 then printed
 * nothing. */
const char gort__allocstats_linked = 1;

__attribute__((constructor)) static void allocstats_init(void) {
    gort__settings_init();
    if (gort__settings.allocstats) {
        report_fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
        atexit(allocstats_at_exit);
    }
}
