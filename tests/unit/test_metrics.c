/* test_metrics.c: Prometheus text lines (lib/console/metrics.h). */
#include "console/metrics.h"
#include "testutil.h"

#include <math.h>

static void test_family_and_samples(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    bv_metrics_family(&b, "blikveld_posts_total", "counter", "Posts received, by platform.");
    bv_metrics_sample(&b, "blikveld_posts_total", 42, "platform", "x", NULL);
    bv_metrics_sample(&b, "blikveld_up", 1, NULL);
    bv_metrics_sample(&b, "blikveld_ratio", 0.25, "a", "1", "b", NULL, "c", "3", NULL);
    bv_metrics_sample(&b, "blikveld_nan", NAN, NULL);
    bv_metrics_sample(&b, "blikveld_big", 1e20, NULL);
    assert_string_equal(b.p, "# HELP blikveld_posts_total Posts received, by platform.\n"
                             "# TYPE blikveld_posts_total counter\n"
                             "blikveld_posts_total{platform=\"x\"} 42\n"
                             "blikveld_up 1\n"
                             "blikveld_ratio{a=\"1\",c=\"3\"} 0.25\n"
                             "blikveld_nan NaN\n"
                             "blikveld_big 1e+20\n");
    bv_buf_free(&b);
}

static void test_escape(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    bv_metrics_sample(&b, "m", 1, "source", "a\"b\\c\nd", NULL);
    assert_string_equal(b.p, "m{source=\"a\\\"b\\\\c\\nd\"} 1\n");
    bv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
