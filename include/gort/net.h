/* gort/net.h — descriptors for goroutines: reads, writes, accepts and
 * connects that park the goroutine, not its thread, until the descriptor is
 * ready (Go's internal/poll over the runtime's netpoller, sched/netpoll.c).
 *
 *   int ls = socket(AF_INET, SOCK_STREAM, 0);  bind(ls, ...); listen(ls, 128);
 *   for (;;) {
 *       int c = gort_accept(ls, NULL, NULL);      // parks until a client comes
 *       gort_go(serve, (void *)(intptr_t)c);      // serve: gort_read / gort_write / gort_close
 *   }
 *
 * The first call on a descriptor registers it with the poller (epoll, edge
 * triggered) and makes it non-blocking (O_NONBLOCK, as Go does: other users of
 * the same open file see that).  A descriptor epoll cannot watch (a regular
 * file) is read and written in place between gort_syscall_enter/exit instead.
 * Errors are returned as libc does (-1 and errno); EINTR is retried.  Close a
 * descriptor used here with gort_close, so the poller forgets it before its
 * number can be reused; do not close one another goroutine is blocked on.
 * Only from goroutines (gort/sched.h). */
#ifndef GORT_NET_H
#define GORT_NET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* read(2): returns once some bytes (or end of file, 0) are there. */
GORT_API ssize_t gort_read(int fd, void *buf, size_t n);
/* write(2), but as a blocking socket does: returns once all n bytes are
 * written (or an error: -1, or the bytes written before it). */
GORT_API ssize_t gort_write(int fd, const void *buf, size_t n);
/* accept4(2) with SOCK_CLOEXEC: parks until a connection comes. */
GORT_API int     gort_accept(int fd, struct sockaddr *addr, socklen_t *len);
/* connect(2): parks until the connection is made or fails (errno from SO_ERROR). */
GORT_API int     gort_connect(int fd, const struct sockaddr *addr, socklen_t len);
/* Forget fd in the poller, then close(2) it. */
GORT_API int     gort_close(int fd);

#ifdef __cplusplus
}
#endif
#endif
