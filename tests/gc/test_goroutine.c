/* gc.goroutine: until goroutines are the collector's mutators (their stacks are
 * not scanned yet), the collector refuses them with a clear fatal error rather
 * than freeing what only a goroutine's stack holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <gort/gort.h>

#include "common/death.h"

static void alloc_in_goroutine(void *arg) {
    (void)arg;
    void *p = gort_gc_alloc(64);
    (void)p;
}

static void run_alloc(void *arg) {
    (void)arg;
    gort_main(alloc_in_goroutine, NULL);
}

static void collect_in_goroutine(void *arg) {
    (void)arg;
    gort_gc_collect();
}

static void run_collect(void *arg) {
    (void)arg;
    gort_main(collect_in_goroutine, NULL);
}

static void test_alloc_refused(void **state) {
    (void)state;
    gort_expect_death(run_alloc, NULL, "called on goroutine 1: goroutines are not the collector's mutators yet");
}

static void test_collect_refused(void **state) {
    (void)state;
    gort_expect_death(run_collect, NULL, "gort_gc_collect called on goroutine 1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_refused),
        cmocka_unit_test(test_collect_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
