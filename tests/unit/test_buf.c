/* test_buf.c: the growable byte buffer (lib/core/buf.h): appends, printf, JSON string escaping of
 * quotes and control characters, consume, steal, and the limits of reserve. */
#include "testutil.h"

#include "core/buf.h"
#include "core/err.h"

static void test_append(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    assert_null(b.p);
    bv_buf_reset(&b); /* fine before the first append */
    assert_int_equal(bv_buf_append(&b, "", 0), 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, "");
    assert_int_equal(bv_buf_append(&b, "abc", 3), 0);
    assert_int_equal(bv_buf_putc(&b, '-'), 0);
    assert_int_equal(bv_buf_puts(&b, "def"), 0);
    assert_int_equal(b.len, 7);
    assert_string_equal(b.p, "abc-def");
    assert_true(b.cap > b.len);
    /* a NUL byte is data like any other; the terminator stays after it */
    assert_int_equal(bv_buf_putc(&b, '\0'), 0);
    assert_int_equal(b.len, 8);
    assert_int_equal(b.p[7], '\0');
    assert_int_equal(b.p[8], '\0');
    /* growth across many appends keeps everything */
    bv_buf_reset(&b);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(bv_buf_putc(&b, (char)('a' + i % 26)), 0);
    }
    assert_int_equal(b.len, 10000);
    assert_int_equal(strlen(b.p), 10000);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(b.p[i], 'a' + i % 26);
    }
    bv_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    bv_buf_free(&b); /* twice is fine */
}

static void test_reserve(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_buf_reserve(&b, 100), 0);
    assert_true(b.cap >= 101);
    char *p = b.p;
    size_t cap = b.cap;
    assert_int_equal(bv_buf_append(&b, "0123456789", 10), 0);
    assert_ptr_equal(b.p, p); /* reserved room is used without moving */
    assert_int_equal(b.cap, cap);
    assert_int_equal(bv_buf_reserve(&b, (size_t)-1), BV_ENOMEM);
    assert_int_equal(bv_buf_reserve(&b, (size_t)-1 / 2), BV_ENOMEM);
    assert_int_equal(bv_buf_append(&b, "x", (size_t)-1), BV_ENOMEM);
    /* a failed reserve leaves the buffer as it was */
    assert_int_equal(b.len, 10);
    assert_string_equal(b.p, "0123456789");
    bv_buf_free(&b);
}

static void test_printf(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_buf_printf(&b, "%s", ""), 0);
    assert_string_equal(b.p, "");
    assert_int_equal(bv_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_int_equal(bv_buf_printf(&b, "/%05.1f/", 3.14159), 0);
    assert_string_equal(b.p, "42-x/003.1/");
    assert_int_equal(b.len, 11);
    char big[300];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(bv_buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 11 + 301);
    assert_int_equal(b.p[b.len - 1], ']');
    assert_int_equal(strlen(b.p), b.len);
    bv_buf_free(&b);
}

static void json(const char *in, size_t n, const char *want)
{
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_buf_json_str(&b, in, n), 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, want);
    assert_int_equal(b.len, strlen(want));
    bv_buf_free(&b);
}

static void test_json_str(void **state)
{
    (void)state;
    json("", 0, "");
    json("plain text", 10, "plain text");
    json("say \"hi\"", 8, "say \\\"hi\\\"");
    json("a\\b", 3, "a\\\\b");
    json("l1\nl2\r\n\tx", 9, "l1\\nl2\\r\\n\\tx");
    json("\x01\x08\x0c\x1f", 4, "\\u0001\\u0008\\u000c\\u001f");
    json("del\x7f", 4, "del\\u007f");
    json("nul\0byte", 8, "nul\\u0000byte");
    json(" ", 1, " ");
    json("/", 1, "/");
    /* UTF-8 is kept as is; each byte that is not part of a well-formed sequence becomes
     * U+FFFD, so the output is valid JSON (a JSON parser refuses ill-formed UTF-8) */
    json("caf\xc3\xa9 \xf0\x9f\x90\xb1", 10, "caf\xc3\xa9 \xf0\x9f\x90\xb1");
    json("\xe2\x80\x8b\xff", 4, "\xe2\x80\x8b\xef\xbf\xbd");
    json("a\xe2\x80", 3, "a\xef\xbf\xbd\xef\xbf\xbd");   /* cut short */
    json("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");     /* overlong '/' */
    json("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* a surrogate */
    /* n is honoured: nothing past it is read */
    json("abc\"def", 3, "abc");

    /* every control character comes out escaped, never raw */
    bv_buf b = BV_BUF_INIT;
    char all[32];
    for (int i = 0; i < 32; i++) {
        all[i] = (char)i;
    }
    assert_int_equal(bv_buf_json_str(&b, all, sizeof all), 0);
    for (size_t i = 0; i < b.len; i++) {
        assert_true((unsigned char)b.p[i] >= 0x20);
    }
    assert_int_equal(b.len, 29 * 6 + 3 * 2);
    /* it appends: what was there stays */
    bv_buf_reset(&b);
    assert_int_equal(bv_buf_puts(&b, "{\"t\":\""), 0);
    assert_int_equal(bv_buf_json_str(&b, "x\"y", 3), 0);
    assert_int_equal(bv_buf_puts(&b, "\"}"), 0);
    assert_string_equal(b.p, "{\"t\":\"x\\\"y\"}");
    bv_buf_free(&b);
}

static void test_consume_reset_steal(void **state)
{
    (void)state;
    bv_buf b = BV_BUF_INIT;
    bv_buf_consume(&b, 5); /* nothing there: nothing happens */
    assert_int_equal(b.len, 0);
    assert_int_equal(bv_buf_puts(&b, "hello world"), 0);
    bv_buf_consume(&b, 0);
    assert_string_equal(b.p, "hello world");
    bv_buf_consume(&b, 6);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.p, "world");
    bv_buf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    assert_int_equal(bv_buf_puts(&b, "abc"), 0);
    bv_buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");

    assert_int_equal(bv_buf_puts(&b, "keep"), 0);
    size_t cap = b.cap;
    bv_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.p, "");

    assert_int_equal(bv_buf_puts(&b, "mine"), 0);
    char *s = bv_buf_steal(&b);
    assert_string_equal(s, "mine");
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
    /* stealing an empty buffer gives an empty string the caller frees */
    s = bv_buf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    /* the buffer is usable after a steal */
    assert_int_equal(bv_buf_puts(&b, "again"), 0);
    assert_string_equal(b.p, "again");
    bv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_consume_reset_steal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
