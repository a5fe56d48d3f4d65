/* Invalid and double frees die at once with a message naming the pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <gort/alloc.h>
#include "common/death.h"
#include "include/gort/internal/rt.h"

static char expect[128];
static const char *names(void *p, const char *what) {
    snprintf(expect, sizeof expect, "free(%p): %s", p, what);
    return expect;
}

static void *victim;
static void do_free(void *arg) { gort_free(arg); }
static void do_double_free(void *arg) { gort_free(arg); gort_free(arg); }
static void do_realloc(void *arg) { gort_realloc(arg, 100); }

static void foreign_pointers(void **state) {
    (void)state;
    int on_stack;
    gort_expect_death(do_free, &on_stack, names(&on_stack, "pointer was not allocated by gort"));
    void *libc = malloc(32);
    gort_expect_death(do_free, libc, names(libc, "pointer was not allocated by gort"));
    free(libc);
    gort_expect_death(do_free, (void *)(uintptr_t)0x10, names((void *)(uintptr_t)0x10, "pointer was not allocated by gort"));
    gort_expect_death(do_free, (void *)~(uintptr_t)0xf, "not allocated by gort");
    gort_expect_death(do_realloc, &on_stack, "not allocated by gort");
}

static void small_double_and_interior(void **state) {
    (void)state;
    char *p = gort_malloc(48);
    gort_expect_death(do_double_free, p, names(p, "double free"));
    gort_expect_death(do_free, p + 8, names(p + 8, "pointer is not the start of a block"));
    gort_expect_death(do_free, p + 1, names(p + 1, "pointer is not the start of a block"));
    char *never = gort_malloc(48);   /* its neighbour in the span was never handed out */
    gort_expect_death(do_free, never + 48 * 40, "double free");
    gort_free(p);
    gort_free(never);
}

static void *remote_free_twice(void *arg) {
    gort_free(arg);
    gort_free(arg);
    return NULL;
}
static void do_remote_double(void *arg) {
    pthread_t t;
    pthread_create(&t, NULL, remote_free_twice, arg);
    pthread_join(t, NULL);
}
static void *remote_free_once(void *arg) {
    gort_free(arg);
    return NULL;
}
static void do_remote_then_local(void *arg) {
    pthread_t t;
    pthread_create(&t, NULL, remote_free_once, arg);
    pthread_join(t, NULL);
    gort_free(arg);   /* already freed by the other thread (its xfreebit is set) */
}

static void remote_double_free(void **state) {
    (void)state;
    void *p = gort_malloc(64);
    void *keep = gort_malloc(64);   /* keeps the span alive */
    gort_expect_death(do_remote_double, p, names(p, "double free"));
    gort_expect_death(do_remote_then_local, p, names(p, "double free"));
    gort_free(p);
    gort_free(keep);
}

static void large_errors(void **state) {
    (void)state;
    char *p = gort_malloc(100000);
    gort_expect_death(do_double_free, p, names(p, "double free"));
    gort_expect_death(do_free, p + 4096, names(p + 4096, "pointer is inside a large block"));
    gort_free(p);
    /* after the free the pages are free: a second free is caught from the page table */
    gort_expect_death(do_free, p, names(p, "double free"));
    victim = gort_malloc(200 << 20);
    gort_free(victim);   /* a huge block: its reservation is gone */
    gort_expect_death(do_free, victim, names(victim, "pointer was not allocated by gort"));
}

/* GORT_DEBUG=invalidfree=0: reported, leaked, and the program goes on. */
static void invalidfree_zero_reports_and_continues(void **state) {
    (void)state;
    gort__settings.invalidfree = 0;
    int x;
    gort_free(&x);
    void *p = gort_malloc(16);
    gort_free(p);
    gort_free(p);
    gort__settings.invalidfree = 1;
    void *q = gort_malloc(16);   /* the allocator still works */
    assert_non_null(q);
    gort_free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(foreign_pointers),
        cmocka_unit_test(small_double_and_interior),
        cmocka_unit_test(remote_double_free),
        cmocka_unit_test(large_errors),
        cmocka_unit_test(invalidfree_zero_reports_and_continues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
