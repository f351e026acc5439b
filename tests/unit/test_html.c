/* test_html.c: HTML fragment -> text (tags, line breaks, script/style, comments) and character
 * references (numeric, every HTML5 named form, legacy names without ';'). */
#include "testutil.h"

#include "codec/html.h"
#include "core/buf.h"

static void text_is(const char *html, const char *want)
{
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_html_to_text(html, strlen(html), &b), 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, want);
    bv_buf_free(&b);
}

static void decoded_is(const char *in, const char *want)
{
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_html_decode(in, strlen(in), &b), 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, want);
    bv_buf_free(&b);
}

static void test_numeric(void **state)
{
    (void)state;
    decoded_is("it&#39;s &#x27;q&#X27;", "it's 'q'");
    decoded_is("&#39 x", "' x"); /* no ';' */
    decoded_is("&#0;", "\xEF\xBF\xBD");
    decoded_is("&#x110000;", "\xEF\xBF\xBD");
    decoded_is("&#xD800;", "\xEF\xBF\xBD");
    decoded_is("&#99999999999999999999;", "\xEF\xBF\xBD");
    decoded_is("&#128;", "\xE2\x82\xAC"); /* windows-1252 euro */
    decoded_is("&#x1F431;", "\xF0\x9F\x90\xB1");
    decoded_is("&#; &#x; &#xg;", "&#; &#x; &#xg;");
}

static void test_named(void **state)
{
    (void)state;
    decoded_is("&amp;&lt;&gt;&quot;&apos;&nbsp;", "&<>\"'\xC2\xA0");
    decoded_is("&amp &AMP; &copy2", "& & \xC2\xA9"
                                    "2");
    decoded_is("&notit; &notin;", "\xC2\xAC"
                                  "it; \xE2\x88\x89");
    decoded_is("&CounterClockwiseContourIntegral;", "\xE2\x88\xB3");
    decoded_is("&NotEqualTilde;", "\xE2\x89\x82\xCC\xB8"); /* two code points */
    decoded_is("&unknown; & &; &", "&unknown; & &; &");
    decoded_is("AT&T", "AT&T");
    decoded_is("&amp", "&");
    decoded_is("&ampx", "&x");
    /* the first and last names in the table */
    decoded_is("&AElig;&zwnj;", "\xC3\x86\xE2\x80\x8C");
    char u[8];
    size_t ulen = 0;
    assert_int_equal(bv_html_entity("&", 1, u, &ulen), 0);
    assert_int_equal(bv_html_entity("x", 1, u, &ulen), 0);
    assert_int_equal(bv_html_entity("&lt;", 4, u, &ulen), 4);
    assert_int_equal(bv_html_entity("&lt;", 3, u, &ulen), 3); /* "&lt" */
    assert_int_equal(ulen, 1);
}

static void test_tags(void **state)
{
    (void)state;
    text_is("<p>one</p><p>two<br>three<br/>four</p>", "one\ntwo\nthree\nfour");
    text_is("<P>Upper</P><DIV>case</DIV>", "Upper\ncase");
    text_is("a<script>alert('<p>x</p>')</script>b<style>p{}</style>c", "abc");
    text_is("a<!-- <p>hidden</p> -->b<!doctype html>c<?xml x?>d", "abcd");
    text_is("1 < 2 <3 a<>b", "1 < 2 <3 a<>b");
    text_is("<a href=\"x>y\" title='>'>link</a>", "link");
    text_is("unterminated <a href=", "unterminated");
    text_is("<span class=\"invisible\">https://www.</span><span class=\"ellipsis\">ex.com/a</span>"
            "<span class=\"invisible\">bc</span>",
            "https://www.ex.com/abc");
    text_is("<p><a href=\"https://m.s/tags/x\" class=\"mention hashtag\">#<span>x</span></a> "
            "&amp; <span class=\"h-card\"><a href=\"u\" class=\"u-url mention\">@<span>bob</span>"
            "</a></span></p>",
            "#x & @bob");
    text_is("", "");
    text_is("<p></p>", "");
    text_is("<script>never closed", "");
    text_is("<h1>T</h1><ul><li>a</li><li>b</li></ul>", "T\na\nb");
}

static void test_append_not_reset(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_buf_puts(&b, "CW\n"), 0);
    assert_int_equal(bv_html_to_text("<p>x</p>", 8, &b), 0);
    assert_string_equal(b.p, "CW\nx");
    bv_buf_free(&b);
}

static void test_prefixes(void **state)
{
    (void)state;
    /* every prefix of markup with references and tags: no crash, output no longer than needed */
    const char *s = "<p>&quot;Hi&#x1F431;&notin;</p><p><a href=\"x\">&amp</a><br></p>";
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        bv_buf b = BV_BUF_INIT;
        assert_int_equal(bv_html_to_text(s, cut, &b), 0);
        assert_true(b.len <= cut + 8);
        bv_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric),  cmocka_unit_test(test_named),
        cmocka_unit_test(test_tags),     cmocka_unit_test(test_append_not_reset),
        cmocka_unit_test(test_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
