/* test_post.c: platform names both ways, skip-reason names (the words --errors and the summary
 * print), clearing a post, the pseudonym in hex. */
#include "testutil.h"

#include "engine/post.h"

static void test_names(void **state)
{
    (void)state;
    for (int p = 0; p < BV_PLATFORM__COUNT; p++) {
        const char *n = bv_platform_name((bv_platform)p);
        assert_int_equal(bv_platform_from_name(n, strlen(n)), p);
    }
    assert_int_equal(bv_platform_from_name("myspace", 7), -1);
    assert_int_equal(bv_platform_from_name("x", 0), -1);
    assert_int_equal(bv_platform_from_name("xx", 1), BV_PLATFORM_X);
    assert_string_equal(bv_platform_name((bv_platform)99), "unknown");
    static const char *const want[BV_SKIP__COUNT] = {
        "none",    "not_json", "not_utf8",      "too_long",   "too_deep",
        "no_text", "no_time",  "unknown_shape", "other_kind", "bad_envelope",
    };
    for (int s = 0; s < BV_SKIP__COUNT; s++) {
        assert_string_equal(bv_skip_name((bv_skip)s), want[s]);
    }
    assert_string_equal(bv_skip_name((bv_skip)99), "unknown");
}

static void test_clear_and_hex(void **state)
{
    (void)state;
    bv_post p;
    memset(&p, 0, sizeof p);
    p.id = strdup("1");
    p.text = strdup("t");
    p.url = strdup("u");
    p.created_ms = 5;
    for (int i = 0; i < BV_PSEUDO_LEN; i++) {
        p.author[i] = (uint8_t)(i * 17);
    }
    char hex[2 * BV_PSEUDO_LEN + 1];
    assert_string_equal(bv_post_author_hex(&p, hex), "00112233445566778899aabbccddeeff");
    bv_post_clear(&p);
    assert_null(p.id);
    assert_null(p.text);
    assert_null(p.url);
    assert_int_equal(p.created_ms, 0);
    bv_post_clear(&p); /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_clear_and_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
