/* The one fatal path, and allocation-free printing.  See include/gort/internal/rt.h. */
#include "include/gort/internal/rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int gort__write_all(int fd, const char *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)w;
    }
    return (int)done;
}

/* vsnprintf into a stack buffer: glibc's does not allocate for the plain
 * conversions the runtime uses (%s %d %u %zu %lu %p %x %f). */
int gort__vprintf(const char *fmt, va_list ap) {
    char buf[2048];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return n;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    return gort__write_all(2, buf, (size_t)n);
}

int gort__printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = gort__vprintf(fmt, ap);
    va_end(ap);
    return n;
}

void gort__fatal(const char *fmt, ...) {
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "fatal error: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    gort__write_all(2, buf, (size_t)n);
    abort();
}

void gort__fatal_assert(const char *expr, const char *file, int line) {
    gort__fatal("gort: internal assertion failed: %s (%s:%d)", expr, file, line);
}
