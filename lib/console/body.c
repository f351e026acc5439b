/* body.c: the API's JSON bodies (body.h), read with yajl's event parser: members are checked as
 * they come, so nesting and unknown members are refused without building a tree. */
#include "console/body.h"

#include "core/timeutil.h"
#include "core/utf8.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

enum { K_NONE = 0, K_FOR, K_REASON, K_LIFT };

typedef struct parse {
    bv_silence_req *out;
    int depth, key, seen_for, seen_reason, seen_lift;
    const char *why; /* the first thing found wrong */
} parse;

static int fail(parse *p, const char *why)
{
    if (p->why == NULL) {
        p->why = why;
    }
    return 0; /* stops yajl */
}

/* NULL when s[0..n) is one line of UTF-8 with no control characters (C0, DEL and C1), else
 * what it is not (yajl lets encoded surrogates through). */
static const char *one_line(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = bv_utf8_seq(s + i, n - i);
        if (k == 0) {
            return "\"reason\" is not UTF-8";
        }
        if ((k == 1 && (s[i] < 0x20 || s[i] == 0x7f)) ||
            (k == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)) {
            return "\"reason\" is one line of text (no control characters)";
        }
        i += k;
    }
    return NULL;
}

static int on_null(void *ctx)
{
    return fail(ctx, "null is not a value here");
}

static int on_number(void *ctx, const char *s, size_t n)
{
    (void)s;
    (void)n;
    return fail(ctx, "a number is not a value here (\"for\" is a string: \"2h\")");
}

static int on_bool(void *ctx, int v)
{
    parse *p = ctx;
    if (p->key != K_LIFT) {
        return fail(p, "true or false only as \"lift\"");
    }
    if (!v) {
        return fail(p, "\"lift\" is true or absent");
    }
    p->out->lift = 1;
    p->key = K_NONE;
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    parse *p = ctx;
    if (p->key == K_FOR) {
        if (bv_duration_parse((const char *)s, n, &p->out->for_ms) != 0 || p->out->for_ms < 1000 ||
            p->out->for_ms > BV_SILENCE_FOR_MAX_MS) {
            return fail(p, "\"for\" is a duration from 1s to 30d: \"30m\", \"2h\", \"1d\"");
        }
    } else if (p->key == K_REASON) {
        if (n == 0 || n > BV_SILENCE_REASON_MAX) {
            return fail(p, "\"reason\" is 1 to 1000 bytes");
        }
        const char *why = one_line(s, n);
        if (why) {
            return fail(p, why);
        }
        memcpy(p->out->reason, s, n);
        p->out->reason[n] = '\0';
    } else {
        return fail(p, "\"lift\" is true, not a string");
    }
    p->key = K_NONE;
    return 1;
}

static int on_start_map(void *ctx)
{
    parse *p = ctx;
    if (p->depth++ > 0) {
        return fail(p, "no nested objects");
    }
    return 1;
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
    parse *p = ctx;
    int *seen = NULL;
    if (n == 3 && memcmp(s, "for", 3) == 0) {
        p->key = K_FOR;
        seen = &p->seen_for;
    } else if (n == 6 && memcmp(s, "reason", 6) == 0) {
        p->key = K_REASON;
        seen = &p->seen_reason;
    } else if (n == 4 && memcmp(s, "lift", 4) == 0) {
        p->key = K_LIFT;
        seen = &p->seen_lift;
    } else {
        return fail(p, "the members are \"for\" and \"reason\", or \"lift\"");
    }
    if ((*seen)++) {
        return fail(p, "a member given twice");
    }
    return 1;
}

static int on_end_map(void *ctx)
{
    ((parse *)ctx)->depth--;
    return 1;
}

static int on_start_array(void *ctx)
{
    return fail(ctx, "no arrays");
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
};

static int said(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

int bv_body_silence(const char *body, size_t len, bv_silence_req *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > BV_BODY_MAX) {
        return said(err, errlen, "the body is longer than 4096 bytes");
    }
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) {
        i++;
    }
    if (i == len || body[i] != '{') {
        return said(err, errlen,
                    "the body is a JSON object: {\"for\": \"2h\", \"reason\": \"...\"}");
    }
    parse p = {.out = out};
    yajl_handle h = yajl_alloc(&callbacks, NULL, &p);
    if (h == NULL) {
        return said(err, errlen, "out of memory");
    }
    /* one value only; yajl checks UTF-8 and allows no comments unless told to */
    int ok = yajl_parse(h, (const unsigned char *)body, len) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    if (!ok || p.why) {
        memset(out, 0, sizeof *out);
        return said(err, errlen, p.why ? p.why : "the body is not well-formed JSON");
    }
    if (p.seen_lift && (p.seen_for || p.seen_reason)) {
        memset(out, 0, sizeof *out);
        return said(err, errlen, "\"lift\" comes alone");
    }
    if (!p.seen_lift && !(p.seen_for && p.seen_reason)) {
        memset(out, 0, sizeof *out);
        return said(err, errlen, "give \"for\" and \"reason\", or \"lift\": true");
    }
    return 0;
}
