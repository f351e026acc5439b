/* test_seen.c: recently seen post ids: exact (per platform, no false duplicates), remembered for
 * at least the horizon, forgotten after two, memory following the posts of two horizons. */
#include "testutil.h"

#include "engine/seen.h"

static void test_duplicates(void **state)
{
    (void)state;
    bv_seen *s = bv_seen_new(60000);
    assert_non_null(s);
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "1234", 0), 0);
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "1234", 1000), 1);
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_MASTODON, "1234", 1000), 0); /* per platform */
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "12345", 1000), 0);       /* exact ids */
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "123", 1000), 0);
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "", 1000), 0);
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "", 1000), 1);
    assert_int_equal(bv_seen_size(s), 5);
    /* within the horizon after a rotation: still known */
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "1234", 61000), 1);
    /* two horizons on: forgotten */
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "other", 125000), 0);
    assert_int_equal(bv_seen_check(s, BV_PLATFORM_X, "1234", 125000), 0);
    assert_int_equal(bv_seen_size(s), 2);
    bv_seen_free(s);
    assert_null(bv_seen_new(0));
}

static void test_many(void **state)
{
    (void)state;
    bv_seen *s = bv_seen_new(3600000);
    char id[32];
    for (int i = 0; i < 50000; i++) {
        snprintf(id, sizeof id, "%d", i);
        assert_int_equal(bv_seen_check(s, BV_PLATFORM_BLUESKY, id, i), 0);
    }
    for (int i = 0; i < 50000; i += 7) {
        snprintf(id, sizeof id, "%d", i);
        assert_int_equal(bv_seen_check(s, BV_PLATFORM_BLUESKY, id, 50000), 1);
    }
    /* memory follows two horizons of posts: after four, only the last ones are kept */
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "late-%d", i);
        bv_seen_check(s, BV_PLATFORM_BLUESKY, id, 4 * 3600000LL + i);
    }
    bv_seen_check(s, BV_PLATFORM_BLUESKY, "last", 6 * 3600000LL);
    assert_true(bv_seen_size(s) <= 101);
    bv_seen_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
