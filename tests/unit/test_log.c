/* test_log.c: log level names (BLIKVELD_LOG) and the level setting. */
#include "testutil.h"

#include "core/log.h"

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(bv_log_level_from_name("error"), BV_LOG_ERROR);
    assert_int_equal(bv_log_level_from_name("warning"), BV_LOG_WARN);
    assert_int_equal(bv_log_level_from_name("warn"), BV_LOG_WARN);
    assert_int_equal(bv_log_level_from_name("info"), BV_LOG_INFO);
    assert_int_equal(bv_log_level_from_name("debug"), BV_LOG_DEBUG);
    assert_int_equal(bv_log_level_from_name("INFO"), -1); /* exact names only */
    assert_int_equal(bv_log_level_from_name(""), -1);
    assert_int_equal(bv_log_level_from_name(NULL), -1);
    assert_int_equal(bv_log_level(), BV_LOG_WARN); /* the default */
    bv_log_set_level(BV_LOG_DEBUG);
    assert_int_equal(bv_log_level(), BV_LOG_DEBUG);
    bv_log_set_level(BV_LOG_WARN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
