/* timeutil.c: timestamp parsing and printing; see timeutil.h.
 * Written by hand rather than with strptime/timegm/localtime: those are locale- and TZ-dependent,
 * need NUL-terminated input and a process-wide TZ setting; these are pure functions of their input.
 */
#include "core/timeutil.h"
#include "core/err.h"

#include <stdio.h>
#include <string.h>

int64_t bv_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t len, size_t at, size_t n, int *out)
{
    if (at + n > len) {
        return -1;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return dm[m - 1];
}

int bv_time_parse_iso8601(const char *s, size_t len, int64_t *ms)
{
    int Y, M, D, h, mi, se;
    if (digits(s, len, 0, 4, &Y) || len < 5 || s[4] != '-' || digits(s, len, 5, 2, &M) || len < 8 ||
        s[7] != '-' || digits(s, len, 8, 2, &D) || len < 11 ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s, len, 11, 2, &h) || len < 14 ||
        s[13] != ':' || digits(s, len, 14, 2, &mi) || len < 17 || s[16] != ':' ||
        digits(s, len, 17, 2, &se)) {
        return BV_EINVAL;
    }
    if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 || se > 60) {
        return BV_EINVAL;
    }
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        i++;
        size_t start = i;
        int scale = 100;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start) {
            return BV_EINVAL;
        }
    }
    int64_t off = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh, om = 0;
        int sign = s[i] == '-' ? -1 : 1;
        if (digits(s, len, i + 1, 2, &oh)) {
            return BV_EINVAL;
        }
        i += 3;
        if (i < len && s[i] == ':') {
            i++;
            if (i == len) {
                return BV_EINVAL; /* "+01:" */
            }
        }
        if (i < len) {
            if (digits(s, len, i, 2, &om)) {
                return BV_EINVAL;
            }
            i += 2;
        }
        if (oh > 23 || om > 59) {
            return BV_EINVAL;
        }
        off = sign * ((int64_t)oh * 3600 + om * 60) * 1000;
    } else {
        return BV_EINVAL; /* a time without a zone is ambiguous: refuse it */
    }
    if (i != len) {
        return BV_EINVAL;
    }
    int64_t days = bv_days_from_civil(Y, (unsigned)M, (unsigned)D);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + se) * 1000) + frac - off;
    return BV_OK;
}

int bv_time_parse_twitter(const char *s, size_t len, int64_t *ms)
{
    /* "Tue Jul 18 23:25:04 +0000 2017" */
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (len != 30 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
        s[19] != ' ' || s[25] != ' ') {
        return BV_EINVAL;
    }
    int M = 0;
    for (int k = 0; k < 12; k++) {
        if (memcmp(s + 4, months + 3 * k, 3) == 0) {
            M = k + 1;
        }
    }
    int D, h, mi, se, oh, om, Y;
    if (!M || digits(s, len, 8, 2, &D) || digits(s, len, 11, 2, &h) || digits(s, len, 14, 2, &mi) ||
        digits(s, len, 17, 2, &se) || (s[20] != '+' && s[20] != '-') ||
        digits(s, len, 21, 2, &oh) || digits(s, len, 23, 2, &om) || digits(s, len, 26, 4, &Y)) {
        return BV_EINVAL;
    }
    if (D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 || se > 60) {
        return BV_EINVAL;
    }
    int64_t off = (s[20] == '-' ? -1 : 1) * ((int64_t)oh * 3600 + om * 60) * 1000;
    int64_t days = bv_days_from_civil(Y, (unsigned)M, (unsigned)D);
    *ms = (days * 86400 + h * 3600 + mi * 60 + se) * 1000 - off;
    return BV_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

char *bv_time_format_iso8601(int64_t ms, char *out)
{
    int64_t days = floor_div(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, BV_TIME_ISO_LEN, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
             (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
             (int)(rem % 1000));
    return out;
}

/* ms of the last Sunday of month m in year y, at 01:00 UTC */
static int64_t last_sunday_0100(int64_t y, unsigned m)
{
    int64_t last = bv_days_from_civil(y, m, (unsigned)days_in_month((int)y, (int)m));
    int64_t wd = ((last % 7) + 7 + 4) % 7; /* 1970-01-01 was a Thursday (4) */
    return ((last - wd) * 86400 + 3600) * 1000;
}

int64_t bv_time_amsterdam_offset(int64_t ms)
{
    int64_t days = floor_div(ms, 86400000);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (ms >= last_sunday_0100(y, 3) && ms < last_sunday_0100(y, 10)) {
        return 7200000;
    }
    return 3600000;
}

char *bv_time_format_amsterdam(int64_t ms, char *out)
{
    int64_t off = bv_time_amsterdam_offset(ms);
    int64_t local = ms + off;
    int64_t days = floor_div(local, 86400000);
    int64_t rem = local - days * 86400000;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, BV_TIME_ISO_LEN, "%04lld-%02u-%02u %02d:%02d:%02d %s", (long long)y, m, d,
             (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
             off == 7200000 ? "CEST" : "CET");
    return out;
}

int bv_duration_parse(const char *s, size_t len, int64_t *ms)
{
    if (len == 0) {
        return BV_EINVAL;
    }
    int64_t total = 0;
    size_t i = 0;
    while (i < len) {
        int64_t v = 0;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (v > 1000000000000LL) {
                return BV_EINVAL;
            }
            v = v * 10 + (s[i] - '0');
            i++;
        }
        if (i == start) {
            return BV_EINVAL;
        }
        int64_t unit;
        if (i == len) {
            if (start != 0) {
                return BV_EINVAL; /* "5m30" is ambiguous */
            }
            unit = 1000;
        } else if (len - i >= 2 && s[i] == 'm' && s[i + 1] == 's') {
            unit = 1;
            i += 2;
        } else if (s[i] == 's') {
            unit = 1000, i++;
        } else if (s[i] == 'm') {
            unit = 60000, i++;
        } else if (s[i] == 'h') {
            unit = 3600000, i++;
        } else if (s[i] == 'd') {
            unit = 86400000, i++;
        } else {
            return BV_EINVAL;
        }
        if (v > 100LL * 365 * 86400000 / unit) {
            return BV_EINVAL; /* v * unit would overflow before the total is checked */
        }
        total += v * unit;
        if (total > 100LL * 365 * 86400000) {
            return BV_EINVAL;
        }
    }
    *ms = total;
    return BV_OK;
}

char *bv_duration_format(int64_t ms, char *out)
{
    if (ms == 0) {
        snprintf(out, 32, "0s");
        return out;
    }
    /* the magnitude as uint64_t, so INT64_MIN prints too ("-106751991167d...808ms", 28 bytes) */
    uint64_t rest = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    size_t n = 0;
    if (ms < 0) {
        out[n++] = '-';
    }
    out[n] = '\0';
    static const struct {
        uint64_t unit;
        char name;
    } units[] = {{86400000, 'd'}, {3600000, 'h'}, {60000, 'm'}, {1000, 's'}};
    for (size_t k = 0; k < 4 && n < 28; k++) {
        if (rest >= units[k].unit) {
            n += (size_t)snprintf(out + n, 32 - n, "%llu%c",
                                  (unsigned long long)(rest / units[k].unit), units[k].name);
            rest %= units[k].unit;
        }
    }
    if (rest > 0 && n < 26) {
        snprintf(out + n, 32 - n, "%llums", (unsigned long long)rest);
    }
    return out;
}
