/* OS memory and time: every mapping system call goes through gort__os (a seam
 * tests swap to count calls or inject failures).  See include/gort/internal/rt.h. */
#include "include/gort/internal/rt.h"

#include <errno.h>
#include <pthread.h>
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
