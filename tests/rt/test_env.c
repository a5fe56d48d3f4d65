/* Settings: GORT_DEBUG parsing, sizes, and that bad input is reported, not fatal;
 * and that a setting works in a static link (this suite links gort statically). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/death.h"
#include "include/gort/gort.h"
#include "include/gort/internal/rt.h"

static const char *self_path;

static void debug_keys(void **state) {
    (void)state;
    assert_int_equal(gort__settings_parse_debug("allocstats=1,gctrace=2,schedtrace=1000"), 0);
    assert_int_equal(gort__settings.allocstats, 1);
    assert_int_equal(gort__settings.gctrace, 2);
    assert_int_equal(gort__settings.schedtrace, 1000);
    assert_int_equal(gort__settings_parse_debug("asyncpreemptoff=1"), 0);
    assert_int_equal(gort__settings.asyncpreemptoff, 1);
    assert_int_equal(gort__settings_parse_debug("asyncpreemptoff=2"), 1);   /* out of range */
    assert_int_equal(gort__settings_parse_debug("asyncpreemptoff=0"), 0);
    assert_int_equal(gort__settings_parse_debug(""), 0);
    assert_int_equal(gort__settings_parse_debug("allocstats=0,,"), 0);
    assert_int_equal(gort__settings.allocstats, 0);
}

static void bad_debug_values_are_reported_and_ignored(void **state) {
    (void)state;
    gort__settings.gctrace = 1;
    assert_int_equal(gort__settings_parse_debug("nosuchkey=1"), 1);
    assert_int_equal(gort__settings_parse_debug("gctrace=7"), 1);      /* out of range */
    assert_int_equal(gort__settings_parse_debug("gctrace=x"), 1);
    assert_int_equal(gort__settings_parse_debug("gctrace"), 1);        /* no value */
    assert_int_equal(gort__settings_parse_debug("gctrace=,allocstats=1,bogus=2"), 2);
    assert_int_equal(gort__settings.gctrace, 1);      /* unchanged by the bad items */
    assert_int_equal(gort__settings.allocstats, 1);   /* the good item in between applied */
}

static void sizes(void **state) {
    (void)state;
    assert_int_equal(gort__parse_size("0"), 0);
    assert_int_equal(gort__parse_size("123"), 123);
    assert_int_equal(gort__parse_size("123B"), 123);
    assert_int_equal(gort__parse_size("4KiB"), 4096);
    assert_int_equal(gort__parse_size("512MiB"), 512ll << 20);
    assert_int_equal(gort__parse_size("3GiB"), 3ll << 30);
    assert_int_equal(gort__parse_size("2TiB"), 2ll << 40);
    assert_int_equal(gort__parse_size(""), -1);
    assert_int_equal(gort__parse_size("12MB"), -1);
    assert_int_equal(gort__parse_size("-5"), -1);
    assert_int_equal(gort__parse_size("99999999999TiB"), -1);
}

/* GORT_DEBUG=allocstats=1 in a program linked with libgort.a: the report comes at
 * exit (its module used to be left out of static links, and nothing was printed). */
static void exec_self_with_allocstats(void *arg) {
    (void)arg;
    setenv("GORT_DEBUG", "allocstats=1", 1);
    execl(self_path, self_path, "allocate-and-exit", (char *)NULL);
    _exit(127);
}

static void allocstats_report_in_a_static_link(void **state) {
    (void)state;
    const char *out = capture_child(exec_self_with_allocstats, NULL);
    if (!strstr(out, "gort allocstats"))
        fail_msg("no allocstats report; the child said:\n%s", out);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "allocate-and-exit") == 0) {
        void *p = gort_malloc(100);
        gort_free(p);
        return 0;
    }
    self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocstats_report_in_a_static_link),
        cmocka_unit_test(debug_keys),
        cmocka_unit_test(bad_debug_values_are_reported_and_ignored),
        cmocka_unit_test(sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
