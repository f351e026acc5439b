/* test_clock.c: the injected clock: a fake clock moves only when told to; the system clock is
 * near the real time and monotonic time does not go backwards. */
#include "testutil.h"

#include "core/clock.h"

#include <time.h>

static void test_fake(void **state)
{
    (void)state;
    bv_fake_clock fc;
    bv_fake_clock_init(&fc, 1781287200000LL);
    assert_int_equal(bv_now_ms(&fc.clock), 1781287200000LL);
    assert_int_equal(bv_now_ms(&fc.clock), 1781287200000LL);
    bv_fake_clock_advance(&fc, 1500);
    assert_int_equal(bv_now_ms(&fc.clock), 1781287201500LL);
    assert_int_equal(bv_mono_ms(&fc.clock), 1781287201500LL);
}

static void test_system(void **state)
{
    (void)state;
    const bv_clock *c = bv_clock_system();
    int64_t now = bv_now_ms(c);
    int64_t t = (int64_t)time(NULL) * 1000;
    assert_true(now >= t - 2000 && now <= t + 2000);
    int64_t m1 = bv_mono_ms(c), m2 = bv_mono_ms(c);
    assert_true(m2 >= m1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake),
        cmocka_unit_test(test_system),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
