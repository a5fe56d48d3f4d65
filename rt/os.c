/* OS memory and time: every mapping system call goes through gort__os (a seam
 * tests swap to count calls or inject failures).  See include/gort/internal/rt.h. */
#include "include/gort/internal/rt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off) {
    return mmap(addr, len, prot, flags, fd, (off_t)off);
}

gort_os_ops_t gort__os = {
    .mmap = sys_mmap,
    .munmap = munmap,
    .madvise = madvise,
    .mprotect = mprotect,
};

size_t gort__os_page_size(void) {
    static size_t ps;
    if (!ps)
        ps = (size_t)sysconf(_SC_PAGESIZE);
    return ps;
}

void *gort__os_reserve(size_t len, size_t align) {
    const int prot = PROT_READ | PROT_WRITE;
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (align <= gort__os_page_size()) {
        void *p = gort__os.mmap(NULL, len, prot, flags, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    /* Over-reserve by align, then trim both ends to the aligned window. */
    size_t total = len + align;
    if (total < len)
        return NULL;
    char *raw = gort__os.mmap(NULL, total, prot, flags, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)GORT_ROUND_UP((uintptr_t)raw, align);
    if (p > raw)
        gort__os.munmap(raw, (size_t)(p - raw));
    char *end = raw + total;
    if (end > p + len)
        gort__os.munmap(p + len, (size_t)(end - (p + len)));
    return p;
}

void gort__os_unmap(void *p, size_t len) {
    if (gort__os.munmap(p, len) != 0)
        gort__fatal("gort: munmap(%p, %zu) failed: errno %d", p, len, errno);
}

void gort__os_release(void *p, size_t len) {
    /* MADV_DONTNEED: the pages read as zero afterwards, which the page heap relies
     * on to skip zeroing released memory. */
    if (gort__os.madvise(p, len, MADV_DONTNEED) != 0)
        gort__fatal("gort: madvise(%p, %zu, MADV_DONTNEED) failed: errno %d", p, len, errno);
}

uint64_t gort__os_read_number(const char *path) {
    uint64_t v = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(buf[i] - '0');
    return v;
}

/* The size of a transparent huge page (2 MiB on x86-64 and on AArch64 with 4 KiB
 * pages), from sysfs; 0 if the kernel has none. */
static size_t huge_page_size(void) {
    static _Atomic size_t hps = 1;   /* 1: not read yet */
    size_t v = atomic_load_explicit(&hps, memory_order_relaxed);
    if (v != 1)
        return v;
    v = (size_t)gort__os_read_number("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
    if (v & (v - 1))
        v = 0;
    atomic_store_explicit(&hps, v, memory_order_relaxed);
    return v;
}

void gort__os_hugepages(void *p, size_t len) {
    if (huge_page_size())
        gort__os.madvise(p, len, MADV_HUGEPAGE);
}

/* Go's sysUnused: khugepaged may collapse a huge page that has a single page
 * mapped back into a whole one, so a release that leaves a huge page partly
 * mapped turns huge pages off for that huge page (only the one or two at the
 * range's ends: every flag change splits the mapping, and there is a cap on
 * mappings).  They stay off when reused: small pages, as without the setting. */
void gort__os_nohugepages_around(void *p, size_t len) {
    size_t hp = huge_page_size();
    if (!hp || !len)
        return;
    uintptr_t lo = (uintptr_t)p, hi = lo + len;
    uintptr_t head = lo & (hp - 1) ? lo & ~(uintptr_t)(hp - 1) : 0;
    uintptr_t tail = hi & (hp - 1) ? (hi - 1) & ~(uintptr_t)(hp - 1) : 0;
    if (head)
        gort__os.madvise((void *)head, hp, MADV_NOHUGEPAGE);
    if (tail && tail != head)
        gort__os.madvise((void *)tail, hp, MADV_NOHUGEPAGE);
}

int *gort__errno_here(void) {
    return &errno;
}

int64_t gort__nanotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void gort__os_thread_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);   /* no allocation, no file */
}

int gort__os_thread_start(void *(*fn)(void *), void *arg, size_t stack) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack)
        pthread_attr_setstacksize(&attr, stack);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the new thread inherits the mask */
    pthread_t t;
    int err = pthread_create(&t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return err;
}
