/* test_utf8.c: strict UTF-8 sequences (lib/core/utf8.h): each length, the edges of each range,
 * overlong forms, surrogates, beyond U+10FFFF, cut-off sequences. */
#include "testutil.h"

#include "core/utf8.h"

static size_t seq(const char *s, size_t n)
{
    return bv_utf8_seq((const unsigned char *)s, n);
}

static void test_sequences(void **state)
{
    (void)state;
    assert_int_equal(seq("a", 1), 1);
    assert_int_equal(seq("\x01", 1), 1);
    assert_int_equal(seq("\x7f", 1), 1);
    assert_int_equal(seq("", 0), 0);
    assert_int_equal(seq("\xc3\xa9", 2), 2);         /* é */
    assert_int_equal(seq("\xc2\x80", 2), 2);         /* U+0080 */
    assert_int_equal(seq("\xdf\xbf", 2), 2);         /* U+07FF */
    assert_int_equal(seq("\xe0\xa0\x80", 3), 3);     /* U+0800 */
    assert_int_equal(seq("\xe2\x82\xac", 3), 3);     /* € */
    assert_int_equal(seq("\xed\x9f\xbf", 3), 3);     /* U+D7FF */
    assert_int_equal(seq("\xee\x80\x80", 3), 3);     /* U+E000 */
    assert_int_equal(seq("\xef\xbf\xbf", 3), 3);     /* U+FFFF */
    assert_int_equal(seq("\xf0\x90\x80\x80", 4), 4); /* U+10000 */
    assert_int_equal(seq("\xf0\x9f\x8e\x89", 4), 4); /* 🎉 */
    assert_int_equal(seq("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
    static const char *const bad[] = {
        "\x80",
        "\xbf",
        "\xc0\x80",
        "\xc1\xbf",
        "\xe0\x80\x80",
        "\xe0\x9f\xbf",
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf",
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xff",
        "\xc3\x28",
        "\xe2\x82\x28",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (seq(bad[i], strlen(bad[i])) != 0) {
            fail_msg("bad[%zu] accepted", i);
        }
    }
    /* cut off: every shorter prefix of a good sequence is refused */
    assert_int_equal(seq("\xf0\x9f\x8e\x89", 3), 0);
    assert_int_equal(seq("\xf0\x9f\x8e\x89", 1), 0);
    assert_int_equal(seq("\xe2\x82\xac", 2), 0);
    assert_int_equal(seq("\xc3\xa9", 1), 0);
    /* only the first sequence is measured */
    assert_int_equal(seq("\xc3\xa9\xc3\xa9", 4), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
