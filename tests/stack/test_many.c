/* One million live stacks in one process, each switched into once, on a stock
 * kernel (vm.max_map_count = 65530): the pool's whole point (stack/stack.c,
 * "Regions" and "Overflow").  Not run under the sanitizers: their shadow
 * memory for a million stacks would be several GiB more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/gort/stack.h"
#include "stack/internal.h"

enum { N = 1000000, MAX_NEW_MAPPINGS = 16 };

static gort_ctx_t main_ctx;
static long ran;

static int count_maps(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    int n = 0, c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static long max_map_count(void) {
    long v = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

static void park(void *arg) {
    gort_ctx_t *self = arg;
    for (;;) {
        ran++;
        gort_ctx_switch(self, &main_ctx);
    }
}

static void test_million(void **state) {
    (void)state;
    gort_stack_t *s = calloc(N, sizeof *s);
    gort_ctx_t *c = calloc(N, sizeof *c);
    assert_non_null(s);
    assert_non_null(c);
    int maps_before = count_maps();
    for (long i = 0; i < N; i++) {
        if (gort_stack_alloc(&s[i], 0) != 0)
            fail_msg("stack %ld: %s", i, strerror(errno));
        gort_ctx_make(&c[i], &s[i], park, &c[i]);
        gort_ctx_switch(&main_ctx, &c[i]);
    }
    assert_int_equal(ran, N);
    int maps_after = count_maps();
    int guard = gort__stack_guard_kind(&s[N - 1]);
    print_message("%d stacks live: %d mappings before, %d after (guard kind %d)\n", N, maps_before,
                  maps_after, guard);
    if (guard == GORT_GUARD_KERNEL) {
        assert_true(maps_after - maps_before <= MAX_NEW_MAPPINGS);
    } else {
        /* A kernel without MADV_GUARD_INSTALL: guard pages on a budget of an
         * eighth of the mappings (two each), canaries for the rest. */
        print_message("note: no kernel guard markers here; fallback guards in use\n");
        assert_true(maps_after - maps_before <= MAX_NEW_MAPPINGS + 2 * (max_map_count() / 8));
    }
    /* Resume each once more: every context is intact. */
    for (long i = N - 1; i >= 0; i--)
        gort_ctx_switch(&main_ctx, &c[i]);
    assert_int_equal(ran, 2L * N);
    for (long i = 0; i < N; i++)
        gort_stack_free(&s[i]);
    /* All back in the pool: a second million costs no new mapping. */
    for (long i = 0; i < N; i++)
        assert_int_equal(gort_stack_alloc(&s[i], 0), 0);
    assert_true(count_maps() <= maps_after);
    for (long i = 0; i < N; i++)
        gort_stack_free(&s[i]);
    free(s);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
