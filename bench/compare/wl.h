/* Shared helpers of the comparison workloads (bench/compare/run.sh runs each under
 * glibc, jemalloc, mimalloc, tcmalloc and gort through LD_PRELOAD).  A workload
 * takes an optional scale factor (argv[1], default 1) and prints
 *     time_s <seconds of its measured part>
 * and, where it matters, rss_after_kb <RSS after it freed most of its heap>.
 * They link nothing but libc: the allocator is whatever LD_PRELOAD says. */
#ifndef GORT_BENCH_WL_H
#define GORT_BENCH_WL_H

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double wl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t wl_rand(uint64_t *s) {   /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline double wl_scale(int argc, char **argv) {
    double s = argc > 1 ? atof(argv[1]) : 1.0;
    return s > 0 ? s : 1.0;
}

/* Threads: $WL_THREADS, else the CPU count (at least 2). */
static inline int wl_threads(void) {
    const char *e = getenv("WL_THREADS");
    int n = e ? atoi(e) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2 : n;
}

/* Resident set size in KiB, read without stdio (which would allocate). */
static inline long wl_rss_kb(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    long size = 0, res = 0;
    sscanf(buf, "%ld %ld", &size, &res);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Keep the compiler from deleting a malloc/free pair. */
static inline void wl_touch(void *p, size_t n) {
    volatile char *c = p;
    c[0] = 1;
    c[n - 1] = 2;
}

static inline void wl_report(double seconds) {
    printf("time_s %.4f\n", seconds);
}

#endif
