/* gort/chan.h — Go's channels and select, for goroutines (gort/sched.h).
 *
 *   gort_chan_t *c = gort_chan_make(sizeof(int), 0);    // unbuffered
 *   // goroutine A:                    // goroutine B:
 *   int v = 42;                        int w;
 *   gort_chan_send(c, &v);             while (gort_chan_recv(c, &w)) use(w);
 *   gort_chan_close(c);
 *
 * Semantics are Go's: a send on an unbuffered channel completes only when a
 * receiver has the value; buffered channels are FIFO; a receive from a closed
 * channel returns at once (false once drained, the element zeroed); a send on
 * a closed channel, and closing a closed or NULL channel, are fatal errors that
 * name the channel and the goroutine; a NULL channel blocks forever in send and
 * receive and is never ready in select.  All blocking parks the goroutine,
 * never its thread.  Elements are copied (memcpy of elem_size bytes). */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_chan gort_chan_t;

/* A channel of elements of elem_size bytes (0 allowed) with a buffer of cap
 * elements (0: unbuffered).  NULL with errno = ENOMEM or EINVAL (too large). */
GORT_API gort_chan_t *gort_chan_make(size_t elem_size, size_t cap);
/* Free a channel nobody uses any more (no goroutine blocked on it: that is a
 * fatal error).  NULL does nothing.  Closing first is not required. */
GORT_API void   gort_chan_free(gort_chan_t *c);
/* Send the elem_size bytes at elem (elem may be NULL when elem_size is 0). */
GORT_API void   gort_chan_send(gort_chan_t *c, const void *elem);
/* Receive into elem (NULL: discard).  true: a value sent; false: the channel is
 * closed and drained, *elem zeroed. */
GORT_API bool   gort_chan_recv(gort_chan_t *c, void *elem);
GORT_API void   gort_chan_close(gort_chan_t *c);
/* Elements buffered, and the capacity (both 0 for NULL). */
GORT_API size_t gort_chan_len(gort_chan_t *c);
GORT_API size_t gort_chan_cap(gort_chan_t *c);

enum { GORT_CHAN_SEND = 1, GORT_CHAN_RECV = 2 };

/* One case of a select: a send of *elem or a receive into elem (NULL: discard).
 * ok is set for the receive case taken: true for a value, false for closed. */
typedef struct gort_select_case {
    gort_chan_t *chan;   /* NULL: never ready */
    int          dir;    /* GORT_CHAN_SEND or GORT_CHAN_RECV */
    void        *elem;
    bool         ok;
} gort_select_case_t;

/* Go's select: among the ready cases choose one uniformly at random and do it;
 * if none is ready, block until one is (block), or return -1 at once (!block,
 * Go's default case).  Returns the index of the case taken.  With no case that
 * can ever be ready (n == 0 or all channels NULL) a blocking select blocks
 * forever. */
GORT_API int gort_select(gort_select_case_t *cases, int n, bool block);

/* select with a timeout case: as gort_select(cases, n, true), but returns -1
 * if no case was ready within timeout_ns (< 0: no timeout; 0: the default
 * case).  The timer is gort_after's, freed before returning. */
GORT_API int gort_select_timeout(gort_select_case_t *cases, int n, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif
