/* Death tests for cmocka suites: run fn(arg) in a forked child and assert that it
 * dies (by a signal, or a non-zero exit) with stderr containing `expect`; or that
 * it exits 0 (capture_child, which returns what it said).
 *
 *   gort_expect_death(double_free, NULL, "double free");
 *
 * The child's stderr is captured through a pipe; on mismatch the whole captured
 * text is printed so the failure says what the child did say. */
#ifndef GORT_TEST_DEATH_H
#define GORT_TEST_DEATH_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Abort, naming the expression, unless e holds: for code where cmocka's assertions
 * cannot be used -- a forked child (a failure there would go on running the suite
 * in the child) or a thread of the test's (it would longjmp across threads). */
#define DIE_UNLESS(e)                                                                 \
    do {                                                                              \
        if (!(e)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #e);     \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* Run fn(arg) in a forked child (no core file) that exits 0 if fn returns; the
 * child's stderr goes to out (n bytes, NUL-terminated).  Returns its wait status. */
static inline int gort_run_child(void (*fn)(void *), void *arg, char *out, size_t n) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0);   /* survived: the parent decides what that means */
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got < n - 1 && (r = read(fds[0], out + got, n - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = 0;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static inline void gort_expect_death(void (*fn)(void *), void *arg, const char *expect) {
    static char out[65536];
    int status = gort_run_child(fn, arg, out, sizeof out);
    int died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!died || !strstr(out, expect)) {
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "died of signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "exited %d", WEXITSTATUS(status));
        print_error("child %s; expected stderr to contain \"%s\"; it said:\n%s\n", how, expect, out);
        fail();
    }
}

/* Run fn(arg) in a forked child that must exit 0; returns its stderr. */
static inline const char *capture_child(void (*fn)(void *), void *arg) {
    static char out[1 << 20];
    int status = gort_run_child(fn, arg, out, sizeof out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_error("child failed (status %d); it said:\n%s\n", status, out);
        fail();
    }
    return out;
}

#endif
