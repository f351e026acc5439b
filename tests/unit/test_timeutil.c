/* test_timeutil.c: timestamps and durations (lib/core/timeutil.h): ISO 8601 variants, impossible
 * dates, X v1.1 dates, Amsterdam time across the 2026 and 2027 DST switches, durations. */
#include "testutil.h"

#include "core/err.h"
#include "core/timeutil.h"

/* 2019-12-08T03:48:33Z */
#define T0 1575776913000LL

/* Parses s from an exact-size copy (no NUL after it, so the sanitizers see any over-read). */
static int iso(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int rc = bv_time_parse_iso8601(copy, n, ms);
    free(copy);
    return rc;
}

static int64_t iso_ok(const char *s)
{
    int64_t ms = -12345;
    if (iso(s, &ms) != 0) {
        fail_msg("'%s' should parse", s);
    }
    return ms;
}

static void iso_bad(const char *s)
{
    int64_t ms = -12345;
    if (iso(s, &ms) != BV_EINVAL) {
        fail_msg("'%s' should be refused", s);
    }
    assert_int_equal(ms, -12345);
}

static void test_iso_variants(void **state)
{
    (void)state;
    assert_int_equal(iso_ok("2019-12-08T03:48:33.901Z"), T0 + 901);
    assert_int_equal(iso_ok("2019-12-08T03:48:33Z"), T0);
    assert_int_equal(iso_ok("2019-12-08 03:48:33Z"), T0);
    assert_int_equal(iso_ok("2019-12-08t03:48:33z"), T0);
    assert_int_equal(iso_ok("2019-12-08T04:48:33+01:00"), T0);
    assert_int_equal(iso_ok("2019-12-08T04:48:33+0100"), T0);
    assert_int_equal(iso_ok("2019-12-08T04:48:33+01"), T0);
    assert_int_equal(iso_ok("2019-12-07T22:18:33-05:30"), T0);
    assert_int_equal(iso_ok("2019-12-08T03:48:33+00:00"), T0);
    assert_int_equal(iso_ok("2019-12-08T03:48:33-00:00"), T0);
    /* fractions of any length; milliseconds kept, the rest cut */
    assert_int_equal(iso_ok("2019-12-08T03:48:33.9Z"), T0 + 900);
    assert_int_equal(iso_ok("2019-12-08T03:48:33.09Z"), T0 + 90);
    assert_int_equal(iso_ok("2019-12-08T03:48:33,5Z"), T0 + 500);
    assert_int_equal(iso_ok("2019-12-08T03:48:33.123456789Z"), T0 + 123);
    assert_int_equal(iso_ok("2019-12-08T03:48:33.999999999999999999999Z"), T0 + 999);
    assert_int_equal(iso_ok("2019-12-08T04:48:33.250+01:00"), T0 + 250);
    /* edges of the calendar */
    assert_int_equal(iso_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(iso_ok("1970-01-01T00:59:59.999+01:00"), -1);
    assert_int_equal(iso_ok("1969-12-31T23:59:59.999Z"), -1);
    assert_int_equal(iso_ok("2024-02-29T12:00:00Z"), 1709208000000LL);
    assert_int_equal(iso_ok("2000-02-29T00:00:00Z"), 951782400000LL);
    assert_int_equal(iso_ok("2019-12-31T23:59:59Z") + 1000, iso_ok("2020-01-01T00:00:00Z"));
    /* a leap second counts as the first second of the next minute */
    assert_int_equal(iso_ok("2016-12-31T23:59:60Z"), iso_ok("2017-01-01T00:00:00Z"));
}

static void test_iso_invalid(void **state)
{
    (void)state;
    iso_bad("");
    iso_bad("2019-02-30T00:00:00Z");
    iso_bad("2019-02-29T00:00:00Z");
    iso_bad("1900-02-29T00:00:00Z");
    iso_bad("2019-04-31T00:00:00Z");
    iso_bad("2019-13-01T00:00:00Z");
    iso_bad("2019-00-01T00:00:00Z");
    iso_bad("2019-12-00T00:00:00Z");
    iso_bad("2019-12-32T00:00:00Z");
    iso_bad("2019-12-08T24:00:00Z");
    iso_bad("2019-12-08T23:60:00Z");
    iso_bad("2019-12-08T23:59:61Z");
    iso_bad("2019-12-08T03:48:33");     /* no zone: ambiguous */
    iso_bad("2019-12-08T03:48:33.Z");   /* empty fraction */
    iso_bad("2019-12-08T03:48:33.901"); /* fraction, no zone */
    iso_bad("2019-12-08T03:48:33Zjunk");
    iso_bad("2019-12-08T03:48:33+01:00 ");
    iso_bad("2019-12-08T03:48:33+1:00");
    iso_bad("2019-12-08T03:48:33+01:0");
    iso_bad("2019-12-08T03:48:33+01:");
    iso_bad("2019-12-08T03:48:33+24:00");
    iso_bad("2019-12-08T03:48:33+01:60");
    iso_bad("2019-12-08X03:48:33Z");
    iso_bad("2019/12/08T03:48:33Z");
    iso_bad("19-12-08T03:48:33Z");
    iso_bad("2019-12-8T03:48:33Z");
    iso_bad("2019-12-08T3:48:33Z");
    iso_bad("+2019-12-08T03:48:33Z");
    iso_bad("2019-12-08T03:48Z");
    iso_bad("2019-12-08");
    iso_bad("Tue Jul 18 23:25:04 +0000 2017");
    /* every truncation of a valid stamp is refused, and nothing is read past len */
    const char *full = "2019-12-08T04:48:33.901+01:00";
    size_t n = strlen(full);
    for (size_t k = 0; k < n; k++) {
        int64_t ms = -12345;
        char *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, full, k);
        int rc = bv_time_parse_iso8601(copy, k, &ms);
        free(copy);
        /* "...+01" (k == n - 3) is a complete stamp with an hours-only offset */
        if (k == n - 3) {
            assert_int_equal(rc, 0);
            assert_int_equal(ms, T0 + 901);
        } else {
            assert_int_equal(rc, BV_EINVAL);
        }
    }
}

static int tw(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int rc = bv_time_parse_twitter(copy, n, ms);
    free(copy);
    return rc;
}

static void test_twitter(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(tw("Tue Jul 18 23:25:04 +0000 2017", &ms), 0);
    assert_int_equal(ms, 1500420304000LL);
    assert_int_equal(tw("Wed Jul 19 01:25:04 +0200 2017", &ms), 0);
    assert_int_equal(ms, 1500420304000LL);
    assert_int_equal(tw("Tue Jul 18 18:25:04 -0500 2017", &ms), 0);
    assert_int_equal(ms, 1500420304000LL);
    assert_int_equal(tw("Thu Feb 29 00:00:00 +0000 2024", &ms), 0);
    assert_int_equal(ms, iso_ok("2024-02-29T00:00:00Z"));
    assert_int_equal(tw("Sun Dec 31 23:59:59 +0000 2017", &ms), 0);
    assert_int_equal(ms, iso_ok("2017-12-31T23:59:59Z"));

    static const char *bad[] = {
        "",
        "Tue Jul 18 23:25:04 +0000 201",
        "Tue Jul 18 23:25:04 +0000 20171",
        "Tue Jux 18 23:25:04 +0000 2017",
        "Tue jul 18 23:25:04 +0000 2017",
        "Fri Feb 30 00:00:00 +0000 2018",
        "Thu Feb 29 00:00:00 +0000 2018",
        "Tue Jul 00 23:25:04 +0000 2017",
        "Tue Jul 18 24:25:04 +0000 2017",
        "Tue Jul 18 23:60:04 +0000 2017",
        "Tue Jul 18 23:25:04 0000 2017x",
        "Tue Jul 18 23:25:04 *0000 2017",
        "Tue Jul 18 23:25:04 +00a0 2017",
        "Tue Jul 18T23:25:04 +0000 2017",
        "2017-07-18T23:25:04.000000000Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (tw(bad[i], &ms) != BV_EINVAL) {
            fail_msg("'%s' should be refused", bad[i]);
        }
    }
}

static void test_days_and_iso_format(void **state)
{
    (void)state;
    assert_int_equal(bv_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(bv_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(bv_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(bv_days_from_civil(2024, 3, 1) - bv_days_from_civil(2024, 2, 28), 2);
    assert_int_equal(bv_days_from_civil(2023, 3, 1) - bv_days_from_civil(2023, 2, 28), 1);

    char out[BV_TIME_ISO_LEN];
    assert_string_equal(bv_time_format_iso8601(0, out), "1970-01-01T00:00:00.000Z");
    assert_string_equal(bv_time_format_iso8601(-1, out), "1969-12-31T23:59:59.999Z");
    assert_string_equal(bv_time_format_iso8601(T0 + 901, out), "2019-12-08T03:48:33.901Z");
    assert_string_equal(bv_time_format_iso8601(1795834057123LL, out), "2026-11-28T02:47:37.123Z");
    /* round trip over a spread of instants, before and after the epoch */
    for (int64_t ms = -5000000000000LL; ms < 5000000000000LL; ms += 123456789011LL) {
        int64_t back;
        bv_time_format_iso8601(ms, out);
        assert_int_equal(bv_time_parse_iso8601(out, strlen(out), &back), 0);
        assert_int_equal(back, ms);
    }
}

typedef struct ams_case {
    const char *utc;
    const char *local;
} ams_case;

static void test_amsterdam_dst(void **state)
{
    (void)state;
    static const ams_case cases[] = {
        {"2026-11-28T02:47:37Z", "2026-11-28 03:47:37 CET"},
        {"2026-07-01T12:00:00Z", "2026-07-01 14:00:00 CEST"},
        /* 2026: summer time from Sunday 29 March 01:00 UTC to Sunday 25 October 01:00 UTC */
        {"2026-03-28T01:00:00Z", "2026-03-28 02:00:00 CET"},
        {"2026-03-29T00:59:59Z", "2026-03-29 01:59:59 CET"},
        {"2026-03-29T01:00:00Z", "2026-03-29 03:00:00 CEST"},
        {"2026-03-29T01:00:01Z", "2026-03-29 03:00:01 CEST"},
        {"2026-10-25T00:00:00Z", "2026-10-25 02:00:00 CEST"},
        {"2026-10-25T00:59:59Z", "2026-10-25 02:59:59 CEST"},
        {"2026-10-25T01:00:00Z", "2026-10-25 02:00:00 CET"},
        {"2026-10-25T01:59:59Z", "2026-10-25 02:59:59 CET"},
        {"2026-10-18T01:00:00Z", "2026-10-18 03:00:00 CEST"},
        /* 2027: 28 March and 31 October (the last day of the month is the Sunday) */
        {"2027-03-28T00:59:59Z", "2027-03-28 01:59:59 CET"},
        {"2027-03-28T01:00:00Z", "2027-03-28 03:00:00 CEST"},
        {"2027-03-21T01:00:00Z", "2027-03-21 02:00:00 CET"},
        {"2027-04-27T10:00:00Z", "2027-04-27 12:00:00 CEST"},
        {"2027-10-31T00:59:59Z", "2027-10-31 02:59:59 CEST"},
        {"2027-10-31T01:00:00Z", "2027-10-31 02:00:00 CET"},
        {"2027-10-31T23:30:00Z", "2027-11-01 00:30:00 CET"},
        {"2027-12-31T23:00:00Z", "2028-01-01 00:00:00 CET"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[BV_TIME_ISO_LEN];
        int64_t ms = iso_ok(cases[i].utc);
        bv_time_format_amsterdam(ms, out);
        if (strcmp(out, cases[i].local) != 0) {
            fail_msg("%s: got '%s', want '%s'", cases[i].utc, out, cases[i].local);
        }
        int64_t want = strstr(cases[i].local, "CEST") ? 7200000 : 3600000;
        assert_int_equal(bv_time_amsterdam_offset(ms), want);
    }
    /* the switch instants exactly, in ms */
    assert_int_equal(bv_time_amsterdam_offset(1774746000000LL - 1), 3600000);
    assert_int_equal(bv_time_amsterdam_offset(1774746000000LL), 7200000);
    assert_int_equal(bv_time_amsterdam_offset(1792890000000LL - 1), 7200000);
    assert_int_equal(bv_time_amsterdam_offset(1792890000000LL), 3600000);
    assert_int_equal(bv_time_amsterdam_offset(1806195600000LL - 1), 3600000);
    assert_int_equal(bv_time_amsterdam_offset(1806195600000LL), 7200000);
    assert_int_equal(bv_time_amsterdam_offset(1824944400000LL - 1), 7200000);
    assert_int_equal(bv_time_amsterdam_offset(1824944400000LL), 3600000);
}

static int dur(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int rc = bv_duration_parse(copy, n, ms);
    free(copy);
    return rc;
}

static void test_duration_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"250ms", 250},
        {"30s", 30000},
        {"5m", 300000},
        {"2h", 7200000},
        {"7d", 604800000},
        {"90", 90000},
        {"0", 0},
        {"0s", 0},
        {"1h30m", 5400000},
        {"1m30s", 90000},
        {"1s500ms", 1500},
        {"2m0s", 120000},
        {"1d2h3m4s5ms", 93784005},
        {"36500d", 36500LL * 86400000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        if (dur(ok[i].s, &ms) != 0 || ms != ok[i].ms) {
            fail_msg("'%s': got %lld", ok[i].s, (long long)ms);
        }
    }
    static const char *bad[] = {
        "",
        "s",
        "ms",
        "5x",
        "-5s",
        "+5s",
        " 5s",
        "5s ",
        "5 s",
        "5m30",
        "1.5s",
        "5S",
        "5M",
        "h",
        "1hh",
        "5msx",
        "36501d",
        "100000000000000000000s",
        "9999999999999d",
        "9999999999999h",
        "99999999999999ms",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -1;
        if (dur(bad[i], &ms) != BV_EINVAL) {
            fail_msg("'%s' should be refused, got %lld", bad[i], (long long)ms);
        }
        assert_int_equal(ms, -1);
    }
}

static void test_duration_format(void **state)
{
    (void)state;
    char out[32];
    assert_string_equal(bv_duration_format(0, out), "0s");
    assert_string_equal(bv_duration_format(250, out), "250ms");
    assert_string_equal(bv_duration_format(1000, out), "1s");
    assert_string_equal(bv_duration_format(1500, out), "1s500ms");
    assert_string_equal(bv_duration_format(90000, out), "1m30s");
    assert_string_equal(bv_duration_format(300000, out), "5m");
    assert_string_equal(bv_duration_format(5400000, out), "1h30m");
    assert_string_equal(bv_duration_format(7200000, out), "2h");
    assert_string_equal(bv_duration_format(604800000, out), "7d");
    assert_string_equal(bv_duration_format(93784005, out), "1d2h3m4s5ms");
    assert_string_equal(bv_duration_format(-90000, out), "-1m30s");
    assert_string_equal(bv_duration_format(INT64_MAX, out), "106751991167d7h12m55s807ms");
    assert_string_equal(bv_duration_format(INT64_MIN, out), "-106751991167d7h12m55s808ms");
    /* what is printed parses back to the same value */
    for (int64_t ms = 0; ms < 40LL * 86400000; ms += 7654321) {
        int64_t back = -1;
        bv_duration_format(ms, out);
        assert_int_equal(bv_duration_parse(out, strlen(out), &back), 0);
        assert_int_equal(back, ms);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_variants),    cmocka_unit_test(test_iso_invalid),
        cmocka_unit_test(test_twitter),         cmocka_unit_test(test_days_and_iso_format),
        cmocka_unit_test(test_amsterdam_dst),   cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
