/* Death tests for cmocka suites: run fn(arg) in a forked child and assert that it
 * dies (by a signal, or a non-zero exit) with stderr containing `expect`.
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

static inline void gort_expect_death(void (*fn)(void *), void *arg, const char *expect) {
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
        _exit(0);   /* survived: the parent reports it */
    }
    close(fds[1]);
    static char out[65536];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    int died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!died || !strstr(out, expect)) {
        print_error("child %s; expected stderr to contain \"%s\"; it said:\n%s\n",
                    died ? "died" : "exited 0", expect, out);
        fail();
    }
}

#endif
