/* test_diag.c: diagnostics print as file:line:col: message, leaving out what is unknown, and
 * never overflow their buffers; error names. */
#include "testutil.h"

#include "core/diag.h"
#include "core/err.h"

static void test_format(void **state)
{
    (void)state;
    bv_diag d;
    char out[128];
    bv_diag_set(&d, "rules/x.yaml", 3, 7, "unknown list '%s'", "feest");
    assert_string_equal(bv_diag_format(&d, out, sizeof out),
                        "rules/x.yaml:3:7: unknown list 'feest'");
    bv_diag_set(&d, "rules/x.yaml", 3, 0, "no column");
    assert_string_equal(bv_diag_format(&d, out, sizeof out), "rules/x.yaml:3: no column");
    bv_diag_set(&d, "rules/x.yaml", 0, 0, "cannot read");
    assert_string_equal(bv_diag_format(&d, out, sizeof out), "rules/x.yaml: cannot read");
    bv_diag_set(&d, NULL, 0, 0, "out of memory");
    assert_string_equal(bv_diag_format(&d, out, sizeof out), "out of memory");
    bv_diag_set(NULL, "x", 1, 1, "ignored"); /* a NULL diagnostic is allowed */
    char longname[2000];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    bv_diag_set(&d, longname, 1, 1, "%s", longname); /* truncated, not overflowed */
    char small[16];
    assert_int_equal(strlen(bv_diag_format(&d, small, sizeof small)), 15);
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(bv_strerror(BV_OK), "ok");
    assert_string_equal(bv_strerror(BV_ENOMEM), "out of memory");
    assert_string_equal(bv_strerror(BV_ELIMIT), "limit exceeded");
    assert_string_equal(bv_strerror(-999), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
