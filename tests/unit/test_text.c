/* test_text.c: bv_text_normalise: case folding, diacritics, format characters, separators,
 * CamelCase hashtags, invalid UTF-8, garbage and oversized input. */
#include "testutil.h"

#include "core/err.h"
#include "engine/text.h"

#include <utf8proc.h>

static char *norm(const char *s, size_t len)
{
    static bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_text_normalise(s, len, &b), 0);
    return b.p;
}

#define N(s) norm((s), sizeof(s) - 1)

/* Every output: a space at both ends, no two spaces in a row, no ASCII upper case, no ASCII
 * punctuation, valid UTF-8. */
static void check_invariants(const char *p, size_t len)
{
    assert_true(len >= 1);
    assert_int_equal(p[0], ' ');
    assert_int_equal(p[len - 1], ' ');
    assert_int_equal(p[len], '\0');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80) {
            assert_true(c == ' ' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
        }
        if (i > 0 && c == ' ') {
            assert_int_not_equal(p[i - 1], ' ');
        }
    }
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r =
            utf8proc_iterate((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)(len - i), &cp);
        assert_true(r > 0);
        i += (size_t)r;
    }
}

static void test_ascii(void **state)
{
    (void)state;
    assert_string_equal(N("Project X in Haren"), " project x in haren ");
    assert_string_equal(N("PROJECT   X!!!"), " project x ");
    assert_string_equal(N("  feest, vanavond... om 22:00 uur?"), " feest vanavond om 22 00 uur ");
    assert_string_equal(N("@user feest"), " user feest ");
    assert_string_equal(N("Project-X"), " project x ");
    assert_string_equal(N("a\tb\nc\r\nd"), " a b c d ");
    assert_string_equal(N(""), " ");
    assert_string_equal(N("   "), " ");
    assert_string_equal(N("!?#@"), " ");
    assert_string_equal(N("x"), " x ");
}

static void test_diacritics(void **state)
{
    (void)state;
    assert_string_equal(N("Café"), " cafe ");
    assert_string_equal(N("geïnteresseerd"), " geinteresseerd ");
    assert_string_equal(N("één keer"), " een keer ");
    assert_string_equal(N("ÉÉN"), " een ");
    assert_string_equal(N("Ça va, naïef, coördinatie"), " ca va naief coordinatie ");
    /* decomposed input: e + combining acute */
    assert_string_equal(N("cafe\xcc\x81"), " cafe ");
    assert_string_equal(N("Straße"), " strasse ");
    assert_string_equal(N("STRASSE"), " strasse ");
    /* Turkish dotted capital I folds to i (its dot is a mark) */
    assert_string_equal(N("İstanbul"), " istanbul ");
    assert_string_equal(N("Ĳssel"), " ijssel ");
}

static void test_format_chars_removed(void **state)
{
    (void)state;
    assert_string_equal(N("pro\u200Bject"), " project ");
    assert_string_equal(N("pro\u200Cject"), " project ");
    assert_string_equal(N("pro\u200Dject"), " project ");
    assert_string_equal(N("pro\u2060ject"), " project ");
    assert_string_equal(N("pro\uFEFFject"), " project ");
    assert_string_equal(N("pro\u00ADject"), " project ");
    assert_string_equal(N("\uFEFFfeest"), " feest ");
    assert_string_equal(N("pro\u200Bject x"), " project x ");
}

static void test_emoji_and_symbols(void **state)
{
    (void)state;
    assert_string_equal(N("feest🎉🎉vanavond"), " feest vanavond ");
    assert_string_equal(N("🔥🔥🔥"), " ");
    assert_string_equal(N("👨\u200D👩\u200D👧 familie"), " familie ");
    assert_string_equal(N("5€ entree — iedereen welkom"), " 5 entree iedereen welkom ");
    assert_string_equal(N("“quoted” «text»"), " quoted text ");
    assert_string_equal(N("a\u00A0b\u3000c"), " a b c ");
}

static void test_compat(void **state)
{
    (void)state;
    assert_string_equal(N("ｐａｒｔｙ"), " party ");
    assert_string_equal(N("ＰＡＲＴＹ　ＴＯＮＩＧＨＴ"), " party tonight ");
    assert_string_equal(N("ﬁnale"), " finale ");
    assert_string_equal(N("①②"), " 12 ");
    assert_string_equal(N("Ⅻ"), " xii ");
}

static void test_other_scripts(void **state)
{
    (void)state;
    assert_string_equal(N("Привет МИР"), " привет мир ");
    assert_string_equal(N("ΣΟΦΙΑ"), " σοφια ");
    assert_string_equal(N("مرحبا بكم"), " مرحبا بكم ");
    assert_string_equal(N("東京 2027"), " 東京 2027 ");
}

static void test_hashtags(void **state)
{
    (void)state;
    assert_string_equal(N("#ProjectX"), " projectx project x ");
    assert_string_equal(N("Kom naar #ProjectXHaren!"), " kom naar projectxharen project x haren ");
    assert_string_equal(N("#projectx"), " projectx ");
    assert_string_equal(N("#Feest"), " feest ");
    assert_string_equal(N("#FEEST"), " feest ");
    assert_string_equal(N("#NOSJournaal"), " nosjournaal nos journaal ");
    assert_string_equal(N("#Koningsdag2027"), " koningsdag2027 koningsdag 2027 ");
    assert_string_equal(N("#koningsdag2027"), " koningsdag2027 ");
    assert_string_equal(N("#ÉénTwee"), " eentwee een twee ");
    assert_string_equal(N("#Pro\u200BjectX"), " projectx project x ");
    assert_string_equal(N("##ProjectX"), " projectx project x ");
    assert_string_equal(N("# ProjectX"), " projectx ");
    assert_string_equal(N("ProjectX"), " projectx ");
    assert_string_equal(N("#A#B"), " a b ");
    assert_string_equal(N("#StraßeFest"), " strassefest strasse fest ");
    /* more than the tracked boundaries still ends cleanly */
    char *p = N("#AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZzAaBbCcDdEeFfGg");
    check_invariants(p, strlen(p));
}

static void test_flags_no_split(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_text_normalise_flags("#ProjectX", 9, &b, BV_TEXT_NO_TAG_SPLIT), 0);
    assert_string_equal(b.p, " projectx ");
    bv_buf_free(&b);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    assert_string_equal(N("a\xff"
                          "b"),
                        " a b ");
    assert_string_equal(N("caf\xc3"), " caf ");    /* truncated at the end */
    assert_string_equal(N("caf\xc3x"), " caf x "); /* truncated in the middle */
    assert_string_equal(N("\xc0\xaf"
                          "x"),
                        " x "); /* overlong */
    assert_string_equal(N("\xed\xa0\x80"
                          "x"),
                        " x "); /* surrogate */
    assert_string_equal(N("\xf4\x90\x80\x80"
                          "x"),
                        " x "); /* above U+10FFFF */
    assert_string_equal(N("\xe2\x82"), " ");
    assert_string_equal(N("a\0b"), " a b "); /* NUL is a separator */
}

static void test_garbage(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    uint32_t x = 12345;
    char in[512];
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(round % 512);
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            in[i] = (char)(x >> 16);
            if (round % 3 == 0 && (x & 0x300) == 0) {
                in[i] = '#'; /* hashtags in the garbage */
            }
        }
        assert_int_equal(bv_text_normalise(in, len, &b), 0);
        check_invariants(b.p, b.len);
    }
    bv_buf_free(&b);
}

static void test_idempotent(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "Project X feest in Haren vanavond!",
        "Café één geïnteresseerd",
        "Straße İstanbul",
        "ｐａｒｔｙ 🎉",
        "pro\u200Bject",
        "Привет МИР ΣΟΦΙΑ",
        "a\xff"
        "b",
    };
    bv_buf a = BV_BUF_INIT, b = BV_BUF_INIT;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        assert_int_equal(bv_text_normalise(texts[i], strlen(texts[i]), &a), 0);
        assert_int_equal(bv_text_normalise(a.p, a.len, &b), 0);
        assert_string_equal(a.p, b.p);
    }
    bv_buf_free(&a);
    bv_buf_free(&b);
}

static void test_oversize(void **state)
{
    (void)state;
    size_t n = 4u << 20;
    char *in = malloc(n);
    assert_non_null(in);
    static const char pat[] = "#ProjectX Café én 🎉 feest! ";
    size_t pl = sizeof pat - 1;
    for (size_t i = 0; i < n; i++) {
        in[i] = pat[i % pl];
    }
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_text_normalise(in, n, &b), 0);
    check_invariants(b.p, b.len);
    assert_memory_equal(b.p, " projectx project x cafe en feest projectx", 42);
    /* the buffer is reset and reused by the next call */
    assert_int_equal(bv_text_normalise("X", 1, &b), 0);
    assert_string_equal(b.p, " x ");
    bv_buf_free(&b);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_diacritics),
        cmocka_unit_test(test_format_chars_removed),
        cmocka_unit_test(test_emoji_and_symbols),
        cmocka_unit_test(test_compat),
        cmocka_unit_test(test_other_scripts),
        cmocka_unit_test(test_hashtags),
        cmocka_unit_test(test_flags_no_split),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_oversize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
