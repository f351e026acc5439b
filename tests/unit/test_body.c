/* test_body.c: the console API's JSON bodies (lib/console/body.h): the silence request, good and
 * bad, every cut, oversized, and bytes changed one at a time. */
#include "console/body.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static const char GOOD[] = "{\"for\": \"2h\", \"reason\": \"Demonstratie op het Malieveld "
                           "aangekondigd \xe2\x80\x94 politie weet het\"}";

static int parse(const char *s, bv_silence_req *r, char *err, size_t errlen)
{
    return bv_body_silence(s, strlen(s), r, err, errlen);
}

static void test_good(void **state)
{
    (void)state;
    bv_silence_req r;
    char err[200];
    assert_int_equal(parse(GOOD, &r, err, sizeof err), 0);
    assert_false(r.lift);
    assert_int_equal(r.for_ms, 2 * 3600000);
    assert_string_equal(r.reason, "Demonstratie op het Malieveld aangekondigd \xe2\x80\x94 "
                                  "politie weet het");
    assert_int_equal(parse(" \r\n{\"reason\":\"x\",\"for\":\"30m\"}\n", &r, err, sizeof err), 0);
    assert_int_equal(r.for_ms, 30 * 60000);
    assert_string_equal(r.reason, "x");
    assert_int_equal(
        parse("{\"for\":\"30d\",\"reason\":\"m\\u00e9t \\\"quotes\\\"\"}", &r, err, sizeof err), 0);
    assert_int_equal(r.for_ms, 30LL * 86400000);
    assert_string_equal(r.reason, "m\xc3\xa9t \"quotes\"");
    assert_int_equal(parse("{\"lift\": true}", &r, err, sizeof err), 0);
    assert_true(r.lift);
    assert_int_equal(r.for_ms, 0);
    assert_string_equal(r.reason, "");
    /* a reason of exactly the most bytes */
    char big[BV_SILENCE_REASON_MAX + 64];
    int n = snprintf(big, sizeof big, "{\"for\":\"1h\",\"reason\":\"");
    memset(big + n, 'a', BV_SILENCE_REASON_MAX);
    snprintf(big + n + BV_SILENCE_REASON_MAX, sizeof big - (size_t)n - BV_SILENCE_REASON_MAX,
             "\"}");
    assert_int_equal(parse(big, &r, err, sizeof err), 0);
    assert_int_equal(strlen(r.reason), BV_SILENCE_REASON_MAX);
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"", "a JSON object"},
        {"   ", "a JSON object"},
        {"[]", "a JSON object"},
        {"\"2h\"", "a JSON object"},
        {"null", "a JSON object"},
        {"{}", "give \"for\" and \"reason\""},
        {"{\"for\":\"2h\"}", "give \"for\" and \"reason\""},
        {"{\"reason\":\"x\"}", "give \"for\" and \"reason\""},
        {"{\"for\":\"2h\",\"reason\":\"x\",\"lift\":true}", "\"lift\" comes alone"},
        {"{\"lift\":true,\"reason\":\"x\"}", "\"lift\" comes alone"},
        {"{\"lift\":false}", "\"lift\" is true or absent"},
        {"{\"lift\":\"yes\"}", "not a string"},
        {"{\"lift\":1}", "a number"},
        {"{\"for\":7200,\"reason\":\"x\"}", "a number"},
        {"{\"for\":null,\"reason\":\"x\"}", "null"},
        {"{\"for\":true,\"reason\":\"x\"}", "only as \"lift\""},
        {"{\"for\":\"2 uur\",\"reason\":\"x\"}", "a duration"},
        {"{\"for\":\"0s\",\"reason\":\"x\"}", "a duration"},
        {"{\"for\":\"500ms\",\"reason\":\"x\"}", "a duration"},
        {"{\"for\":\"31d\",\"reason\":\"x\"}", "a duration"},
        {"{\"for\":\"-2h\",\"reason\":\"x\"}", "a duration"},
        {"{\"for\":\"2h\\u0000\",\"reason\":\"x\"}", "a duration"},
        {"{\"for\":\"2h\",\"reason\":\"\"}", "1 to 1000 bytes"},
        {"{\"for\":\"2h\",\"reason\":\"two\\nlines\"}", "one line"},
        {"{\"for\":\"2h\",\"reason\":\"nul\\u0000\"}", "one line"},
        {"{\"for\":\"2h\",\"reason\":\"esc\\u001b[31m\"}", "one line"},
        {"{\"for\":\"2h\",\"reason\":\"c1\\u0085\"}", "one line"},
        {"{\"for\":\"2h\",\"reason\":\"del\\u007f\"}", "one line"},
        {"{\"for\":\"2h\",\"reason\":\"lone \\udc00\"}", "not UTF-8"},
        {"{\"for\":\"2h\",\"reason\":\"\xff\"}", "well-formed"},
        {"{\"for\":\"2h\",\"reason\":\"\xed\xa0\x80\"}", "not UTF-8"},
        {"{\"for\":\"2h\",\"for\":\"3h\",\"reason\":\"x\"}", "twice"},
        {"{\"for\":\"2h\",\"reason\":\"x\",\"by\":\"me\"}", "the members are"},
        {"{\"For\":\"2h\",\"reason\":\"x\"}", "the members are"},
        {"{\"for\":\"2h\",\"reason\":{\"x\":1}}", "no nested"},
        {"{\"for\":\"2h\",\"reason\":[\"x\"]}", "no arrays"},
        {"{\"for\":\"2h\",\"reason\":\"x\"} {}", "well-formed"},
        {"{\"for\":\"2h\",\"reason\":\"x\"}]", "well-formed"},
        {"{\"for\":\"2h\", /* c */ \"reason\":\"x\"}", "well-formed"},
        {"{\"for\":\"2h\",\"reason\":\"x\",}", "well-formed"},
        {"{'for':'2h','reason':'x'}", "well-formed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bv_silence_req r;
        char err[200] = "";
        memset(&r, 0x5a, sizeof r);
        if (parse(bad[i].body, &r, err, sizeof err) != -1 || strstr(err, bad[i].why) == NULL) {
            fail_msg("%s: \"%s\", want \"%s\"", bad[i].body, err, bad[i].why);
        }
        assert_false(r.lift); /* nothing half-filled */
        assert_int_equal(r.for_ms, 0);
        assert_string_equal(r.reason, "");
    }
    /* a reason one byte too long; a body over the bound */
    char big[BV_BODY_MAX + 64];
    int n = snprintf(big, sizeof big, "{\"for\":\"1h\",\"reason\":\"");
    memset(big + n, 'a', BV_SILENCE_REASON_MAX + 1);
    snprintf(big + n + BV_SILENCE_REASON_MAX + 1,
             sizeof big - (size_t)n - BV_SILENCE_REASON_MAX - 1, "\"}");
    bv_silence_req r;
    char err[200];
    assert_int_equal(parse(big, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "1 to 1000 bytes"));
    memset(big, ' ', sizeof big); /* a lift at the end of BV_BODY_MAX bytes, then a space */
    memcpy(big + BV_BODY_MAX - 13, "{\"lift\":true}", 13);
    assert_int_equal(bv_body_silence(big, BV_BODY_MAX + 1, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than 4096"));
    assert_int_equal(bv_body_silence(big, BV_BODY_MAX, &r, err, sizeof err), 0);
    assert_true(r.lift);
    /* a tiny err buffer is cut, never overrun */
    char tiny[4];
    assert_int_equal(parse("{}", &r, tiny, sizeof tiny), -1);
    assert_int_equal(strlen(tiny), 3);
}

/* Every cut of a good body is refused (the whole one, and the whole one less trailing space,
 * are taken); so is each of them with one byte changed to each value, or accepted only as a
 * request that parses to what it says. */
static void test_every_cut_and_byte(void **state)
{
    (void)state;
    const char *bodies[] = {GOOD, "{\"lift\":true} "};
    for (size_t b = 0; b < 2; b++) {
        size_t len = strlen(bodies[b]);
        char copy[512];
        for (size_t n = 0; n <= len; n++) {
            memcpy(copy, bodies[b], n);
            bv_silence_req r;
            char err[200];
            int rc = bv_body_silence(copy, n, &r, err, sizeof err);
            int whole = n == len || (b == 1 && n == len - 1);
            if (rc != (whole ? 0 : -1)) {
                fail_msg("body %zu cut at %zu: %d (%s)", b, n, rc, err);
            }
        }
        for (size_t i = 0; i < len; i++) {
            for (int v = 0; v < 256; v++) {
                memcpy(copy, bodies[b], len);
                copy[i] = (char)v;
                bv_silence_req r;
                char err[200];
                if (bv_body_silence(copy, len, &r, err, sizeof err) == 0) {
                    /* what was accepted is a whole request */
                    assert_true(r.lift ? r.for_ms == 0 && r.reason[0] == '\0'
                                       : r.for_ms >= 1000 && r.reason[0] != '\0');
                } else {
                    assert_true(err[0] != '\0');
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_every_cut_and_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
