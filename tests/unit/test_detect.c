/* test_detect.c: the detectors' arithmetic, each type holding and not holding. */
#include "testutil.h"

#include "engine/detect.h"

#include <math.h>

static bv_detector_spec spec(bv_det_type t)
{
    bv_detector_spec d;
    memset(&d, 0, sizeof d);
    d.type = t;
    d.window_ms = 5 * 60000;
    d.bucket_ms = 60000;
    d.count = 10;
    d.factor = 3;
    d.min_count = 10;
    d.min_baseline = 1;
    d.baseline_ms = 30 * 60000;
    d.doubling_ms = 5 * 60000;
    d.periods = 3;
    return d;
}

static void test_threshold(void **state)
{
    (void)state;
    bv_detector_spec d = spec(BV_DET_THRESHOLD);
    assert_int_equal(bv_det_span(&d), 5);
    uint64_t c[5] = {1, 2, 3, 2, 1};
    bv_det_eval e;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_int_equal(e.count, 9);
    assert_false(e.holds);
    c[4] = 2;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_int_equal(e.count, 10);
    assert_true(e.holds);
    assert_int_equal(e.threshold, 10);
}

static void test_unique_authors(void **state)
{
    (void)state;
    bv_detector_spec d = spec(BV_DET_UNIQUE_AUTHORS);
    assert_int_equal(bv_det_author_group(&d), 5);
    uint64_t c[5] = {100, 100, 100, 100, 100};
    uint64_t nine = 9, ten = 10;
    bv_det_eval e;
    bv_det_evaluate(&d, c, &nine, 1,
                    &e); /* one account repeating itself: many posts, few authors */
    assert_false(e.holds);
    bv_det_evaluate(&d, c, &ten, 1, &e);
    assert_true(e.holds);
    assert_int_equal(e.authors, 10);
}

static void test_spike(void **state)
{
    (void)state;
    bv_detector_spec d = spec(BV_DET_SPIKE);
    assert_int_equal(bv_det_span(&d), 35);
    uint64_t c[35];
    for (int i = 0; i < 30; i++) {
        c[i] = 1; /* baseline: 1 per minute = 5 per 5-minute window */
    }
    for (int i = 30; i < 35; i++) {
        c[i] = 3; /* 15 in the window = 3x */
    }
    bv_det_eval e;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_true(fabs(e.baseline - 5.0) < 1e-9);
    assert_true(fabs(e.ratio - 3.0) < 1e-9);
    assert_true(e.holds);
    bv_det_evaluate(&d, c, NULL, 0, &e); /* silent until a baseline exists */
    assert_false(e.holds);
    assert_false(e.warm);
    c[34] = 2; /* 14 < 15 */
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_false(e.holds);
    /* minimum count: a spike from 0 to 9 is not a spike */
    memset(c, 0, sizeof c);
    c[34] = 9;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_false(e.holds);
    c[34] = 10; /* baseline 0 -> min_baseline 1: 10 >= 3 x 1 and >= min_count */
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_true(e.holds);
}

static void test_growth(void **state)
{
    (void)state;
    bv_detector_spec d = spec(BV_DET_GROWTH); /* doubling every window, 3 periods */
    assert_int_equal(bv_det_span(&d), 20);
    uint64_t c[20] = {0};
    /* windows oldest..newest: 3, 6, 12, 24 */
    c[4] = 3, c[9] = 6, c[14] = 12, c[19] = 24;
    bv_det_eval e;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_true(e.holds);
    assert_int_equal(e.nwindows, 4);
    assert_int_equal(e.windows[0], 24);
    assert_int_equal(e.windows[3], 3);
    assert_true(fabs(e.factor - 2.0) < 1e-9);
    /* steady high volume (a busy festival) is not growth */
    for (int i = 0; i < 20; i++) {
        c[i] = 50;
    }
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_false(e.holds);
    assert_true(fabs(e.ratio - 1.0) < 1e-9);
    /* growth from nothing is not doubling */
    memset(c, 0, sizeof c);
    c[14] = 12, c[19] = 24;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_false(e.holds);
    /* below the minimum count */
    memset(c, 0, sizeof c);
    c[4] = 1, c[9] = 2, c[14] = 4, c[19] = 8;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_false(e.holds);
    /* noise: one slow step is fine when the whole span grew enough */
    memset(c, 0, sizeof c);
    c[4] = 3, c[9] = 7, c[14] = 10, c[19] = 24; /* 24 >= 2^3 x 3 */
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_true(e.holds);
    assert_true(fabs(e.ratio - 2.0) < 1e-9);
    /* but a fall is not growth */
    c[4] = 3, c[9] = 12, c[14] = 10, c[19] = 24;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_false(e.holds);
    /* a slower doubling time needs less than 2x per window */
    d.doubling_ms = 10 * 60000; /* 2^(5/10) = 1.41 */
    memset(c, 0, sizeof c);
    c[4] = 10, c[9] = 15, c[14] = 22, c[19] = 29; /* 29 >= 1.41^3 x 10 = 28.3 */
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_true(e.holds);
    c[19] = 28;
    bv_det_evaluate(&d, c, NULL, 1, &e);
    assert_false(e.holds);
    /* measured in distinct authors: a spammer's growing volume is not growth */
    d.by_authors = 1;
    assert_int_equal(bv_det_author_group(&d), 5);
    for (int i = 0; i < 20; i++) {
        c[i] = (uint64_t)(1u << (i / 5)) * 10; /* posts double every window */
    }
    uint64_t flat[4] = {12, 12, 12, 12}, grow[4] = {10, 15, 22, 29};
    bv_det_evaluate(&d, c, flat, 1, &e);
    assert_false(e.holds);
    assert_int_equal(e.windows[0], 12);
    bv_det_evaluate(&d, c, grow, 1, &e);
    assert_true(e.holds);
    assert_int_equal(e.windows[0], 29);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_unique_authors),
        cmocka_unit_test(test_spike),
        cmocka_unit_test(test_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
