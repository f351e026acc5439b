/* alert.c: alert records, their ids and their JSON and text forms; see alert.h. */
#include "alert/alert.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bv_alert_make_id(const char *ns, const char *rule_id, int64_t episode_ms, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bv_buf msg = BV_BUF_INIT;
    bv_buf_append(&msg, ns, strlen(ns) + 1);
    bv_buf_append(&msg, rule_id, strlen(rule_id) + 1);
    bv_buf_printf(&msg, "%lld", (long long)episode_ms);
    memset(md, 0, sizeof md);
    if (msg.p) {
        EVP_Digest(msg.p, msg.len, md, &mdlen, EVP_sha256(), NULL);
    }
    bv_buf_free(&msg);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

void bv_alert_free(bv_alert *a)
{
    if (a == NULL) {
        return;
    }
    free(a->event);
    free(a->evals);
    for (size_t i = 0; i < a->nsamples; i++) {
        free(a->samples[i].id);
        free(a->samples[i].url);
        free(a->samples[i].excerpt);
    }
    free(a->samples);
    for (size_t i = 0; i < a->nplaces; i++) {
        bv_alert_place *p = &a->places[i];
        free(p->name);
        free(p->municipality);
        free(p->province);
        for (size_t k = 0; k < p->nambiguous; k++) {
            free(p->ambiguous[k]);
        }
        free(p->ambiguous);
    }
    free(a->places);
    free(a->own_rule.id);
    free(a->own_rule.title);
    for (size_t i = 0; i < a->own_rule.nrecipients; i++) {
        free(a->own_rule.recipients[i]);
    }
    free(a->own_rule.recipients);
    free(a);
}

const char *bv_alert_key(const bv_alert *a, int escalated, char out[BV_ALERT_KEY_LEN])
{
    snprintf(out, BV_ALERT_KEY_LEN, "%s/%s", a->id,
             escalated                       ? "escalated"
             : a->state == BV_ALERT_RESOLVED ? "resolved"
                                             : "firing");
    return out;
}

/* Copies the signal's places into a. 0 or -1 (out of memory). */
static int copy_places(bv_alert *a, const bv_signal *s)
{
    if (s->nplaces == 0) {
        return 0;
    }
    a->places = calloc(s->nplaces, sizeof *a->places);
    if (a->places == NULL) {
        return -1;
    }
    for (size_t i = 0; i < s->nplaces; i++) {
        const bv_place_count *src = &s->places[i];
        bv_alert_place *dst = &a->places[i];
        a->nplaces = i + 1;
        dst->count = src->count;
        if ((dst->name = strdup(src->name)) == NULL) {
            return -1;
        }
        if (src->home) {
            dst->municipality = strdup(src->home->municipality);
            dst->province = strdup(src->home->province);
            if (!dst->municipality || !dst->province) {
                return -1;
            }
        } else if (src->place && (src->place->kinds & BV_PLACE_PROVINCE)) {
            if ((dst->province = strdup(src->place->name)) == NULL) {
                return -1;
            }
        } else if (src->place && src->place->nhomes > 1) {
            dst->ambiguous = calloc(src->place->nhomes, sizeof *dst->ambiguous);
            if (dst->ambiguous == NULL) {
                return -1;
            }
            for (size_t h = 0; h < src->place->nhomes; h++) {
                char b[512];
                snprintf(b, sizeof b, "%s, %s", src->place->homes[h].municipality,
                         src->place->homes[h].province);
                if ((dst->ambiguous[h] = strdup(b)) == NULL) {
                    return -1;
                }
                dst->nambiguous = h + 1;
            }
        }
    }
    return 0;
}

bv_alert *bv_alert_from_signal(const bv_signal *s, bv_alert_state state, const char *event,
                               int drill, const char *id)
{
    bv_alert *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    snprintf(a->id, sizeof a->id, "%s", id);
    a->state = state;
    a->event = strdup(event);
    a->drill = drill;
    a->rule = s->spec;
    a->at_ms = s->at_ms;
    a->evals = calloc(s->nevals ? s->nevals : 1, sizeof *a->evals);
    a->samples = calloc(s->nsamples ? s->nsamples : 1, sizeof *a->samples);
    if (a->event == NULL || a->evals == NULL || a->samples == NULL) {
        goto fail;
    }
    memcpy(a->evals, s->evals, s->nevals * sizeof *a->evals);
    a->nevals = s->nevals;
    if (copy_places(a, s) != 0) {
        goto fail;
    }
    for (size_t i = 0; i < s->nsamples; i++) {
        const bv_sample *src = s->samples[i];
        bv_sample *dst = &a->samples[i];
        *dst = *src;
        dst->id = strdup(src->id ? src->id : "");
        dst->url = src->url ? strdup(src->url) : NULL;
        dst->excerpt = strdup(src->excerpt ? src->excerpt : "");
        a->nsamples = i + 1;
        if (!dst->id || !dst->excerpt || (src->url && !dst->url)) {
            goto fail;
        }
    }
    return a;
fail:
    bv_alert_free(a);
    return NULL;
}

static void json_kv_str(bv_buf *b, const char *k, const char *v)
{
    bv_buf_printf(b, "\"%s\":\"", k);
    bv_buf_json_str(b, v, strlen(v));
    bv_buf_putc(b, '"');
}

static void json_double(bv_buf *b, const char *k, double v)
{
    if (!isfinite(v)) {
        v = 0;
    }
    bv_buf_printf(b, ",\"%s\":%.3g", k, v);
}

static void format_eval(bv_buf *b, const bv_det_eval *e)
{
    char dur[32];
    bv_buf_printf(b, "{\"type\":\"%s\",\"window\":\"%s\",\"count\":%llu", bv_det_type_name(e->type),
                  bv_duration_format(e->window_ms, dur), (unsigned long long)e->count);
    switch (e->type) {
    case BV_DET_THRESHOLD:
        bv_buf_printf(b, ",\"threshold\":%llu", (unsigned long long)e->threshold);
        break;
    case BV_DET_UNIQUE_AUTHORS:
        bv_buf_printf(b, ",\"unique_authors\":%llu,\"threshold\":%llu",
                      (unsigned long long)e->authors, (unsigned long long)e->threshold);
        break;
    case BV_DET_SPIKE:
        json_double(b, "baseline", e->baseline);
        json_double(b, "ratio", e->ratio);
        json_double(b, "factor", e->factor);
        bv_buf_printf(b, ",\"min_count\":%llu", (unsigned long long)e->threshold);
        break;
    case BV_DET_GROWTH:
        bv_buf_printf(b, ",\"measure\":\"%s\",\"windows\":[", e->by_authors ? "authors" : "posts");
        for (unsigned i = 0; i < e->nwindows; i++) {
            bv_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)e->windows[i]);
        }
        bv_buf_putc(b, ']');
        json_double(b, "ratio", e->ratio);
        json_double(b, "factor", e->factor);
        bv_buf_printf(b, ",\"min_count\":%llu", (unsigned long long)e->threshold);
        break;
    default:
        break;
    }
    bv_buf_printf(b, ",\"holds\":%s}", e->holds ? "true" : "false");
}

int bv_alert_format_json(const bv_alert *a, bv_buf *b)
{
    char t[BV_TIME_ISO_LEN];
    size_t start = b->len;
    bv_buf_puts(b, "{\"type\":\"alert\",");
    json_kv_str(b, "id", a->id);
    bv_buf_putc(b, ',');
    json_kv_str(b, "state", a->state == BV_ALERT_FIRING ? "firing" : "resolved");
    bv_buf_putc(b, ',');
    json_kv_str(b, "event", a->event);
    bv_buf_putc(b, ',');
    json_kv_str(b, "rule", a->rule->id);
    bv_buf_putc(b, ',');
    json_kv_str(b, "title", a->rule->title ? a->rule->title : a->rule->id);
    bv_buf_putc(b, ',');
    json_kv_str(b, "severity", bv_severity_name(a->rule->severity));
    bv_buf_puts(b, ",\"recipients\":[");
    for (size_t i = 0; i < a->rule->nrecipients; i++) {
        bv_buf_puts(b, i ? ",\"" : "\"");
        bv_buf_json_str(b, a->rule->recipients[i], strlen(a->rule->recipients[i]));
        bv_buf_putc(b, '"');
    }
    bv_buf_puts(b, "],");
    json_kv_str(b, "at", bv_time_format_iso8601(a->at_ms, t));
    if (a->state == BV_ALERT_RESOLVED && a->since_ms) {
        bv_buf_putc(b, ',');
        json_kv_str(b, "fired_at", bv_time_format_iso8601(a->since_ms, t));
    }
    bv_buf_puts(b, ",\"detectors\":[");
    for (size_t i = 0; i < a->nevals; i++) {
        if (i) {
            bv_buf_putc(b, ',');
        }
        format_eval(b, &a->evals[i]);
    }
    bv_buf_puts(b, "],\"places\":[");
    for (size_t i = 0; i < a->nplaces; i++) {
        const bv_alert_place *p = &a->places[i];
        bv_buf_puts(b, i ? ",{" : "{");
        json_kv_str(b, "name", p->name);
        bv_buf_printf(b, ",\"count\":%u", p->count);
        if (p->municipality) {
            bv_buf_putc(b, ',');
            json_kv_str(b, "municipality", p->municipality);
        }
        if (p->province) {
            bv_buf_putc(b, ',');
            json_kv_str(b, "province", p->province);
        }
        if (p->nambiguous) {
            bv_buf_puts(b, ",\"ambiguous\":[");
            for (size_t k = 0; k < p->nambiguous; k++) {
                bv_buf_puts(b, k ? ",\"" : "\"");
                bv_buf_json_str(b, p->ambiguous[k], strlen(p->ambiguous[k]));
                bv_buf_putc(b, '"');
            }
            bv_buf_putc(b, ']');
        }
        bv_buf_putc(b, '}');
    }
    bv_buf_puts(b, "],\"samples\":[");
    for (size_t i = 0; i < a->nsamples; i++) {
        const bv_sample *s = &a->samples[i];
        bv_buf_puts(b, i ? ",{" : "{");
        json_kv_str(b, "platform", bv_platform_name(s->platform));
        bv_buf_putc(b, ',');
        json_kv_str(b, "at", bv_time_format_iso8601(s->created_ms, t));
        if (s->url) {
            bv_buf_putc(b, ',');
            json_kv_str(b, "url", s->url);
        }
        bv_buf_putc(b, ',');
        json_kv_str(b, "excerpt", s->excerpt ? s->excerpt : "");
        bv_buf_putc(b, '}');
    }
    if (a->health) {
        bv_buf_puts(b, "],\"health\":true");
    } else {
        bv_buf_putc(b, ']');
    }
    bv_buf_printf(b, ",\"drill\":%s}", a->drill ? "true" : "false");
    return b->p && b->len > start ? BV_OK : BV_ENOMEM;
}

int bv_alert_format_text(const bv_alert *a, bv_buf *b)
{
    char t[BV_TIME_ISO_LEN];
    size_t start = b->len;
    bv_buf_printf(b, "%s %s%-8s %-8s %s: %s", bv_time_format_amsterdam(a->at_ms, t),
                  a->drill ? "[drill] " : "", a->state == BV_ALERT_FIRING ? "FIRING" : "RESOLVED",
                  bv_severity_name(a->rule->severity), a->rule->id,
                  a->rule->title ? a->rule->title : a->rule->id);
    for (size_t i = 0; i < a->nevals; i++) {
        const bv_det_eval *e = &a->evals[i];
        char dur[32];
        bv_duration_format(e->window_ms, dur);
        switch (e->type) {
        case BV_DET_THRESHOLD:
            bv_buf_printf(b, " | %llu posts/%s (>= %llu)", (unsigned long long)e->count, dur,
                          (unsigned long long)e->threshold);
            break;
        case BV_DET_UNIQUE_AUTHORS:
            bv_buf_printf(b, " | %llu authors/%s (>= %llu)", (unsigned long long)e->authors, dur,
                          (unsigned long long)e->threshold);
            break;
        case BV_DET_SPIKE:
            bv_buf_printf(b, " | %llu posts/%s = %.1fx baseline %.1f (>= %.1fx)",
                          (unsigned long long)e->count, dur, e->ratio, e->baseline, e->factor);
            break;
        case BV_DET_GROWTH:
            bv_buf_printf(b, " | %s growth %.2fx per %s (>= %.2fx), %s per window",
                          e->by_authors ? "author" : "post", e->ratio, dur, e->factor,
                          e->by_authors ? "authors" : "posts");
            for (unsigned k = e->nwindows; k-- > 0;) {
                bv_buf_printf(b, "%s%llu", k + 1 == e->nwindows ? " " : " \xe2\x86\x92 ",
                              (unsigned long long)e->windows[k]);
            }
            break;
        default:
            break;
        }
    }
    /* where: the three places named most, an ambiguous one marked as such */
    for (size_t i = 0; i < a->nplaces && i < 3; i++) {
        const bv_alert_place *p = &a->places[i];
        bv_buf_printf(b, "%s%s %u", i ? ", " : " | places: ", p->name, p->count);
        if (p->nambiguous) {
            bv_buf_printf(b, " (which? %zu places of that name)", p->nambiguous);
        } else if (p->municipality && strcmp(p->municipality, p->name) != 0) {
            bv_buf_printf(b, " (%s)", p->municipality);
        }
    }
    if (a->state == BV_ALERT_FIRING && a->nsamples > 0) {
        /* the first 80 bytes of the excerpt, cut at a character boundary */
        const char *ex = a->samples[0].excerpt ? a->samples[0].excerpt : "";
        size_t n = strlen(ex);
        if (n > 80) {
            n = 80;
            while (n > 0 && ((unsigned char)ex[n] & 0xC0) == 0x80) {
                n--;
            }
        }
        bv_buf_printf(b, " | %s: \"%.*s%s\"", bv_platform_name(a->samples[0].platform), (int)n, ex,
                      ex[n] ? "\xe2\x80\xa6" : "");
    }
    bv_buf_printf(b, " [%s]", a->id);
    return b->p && b->len > start ? BV_OK : BV_ENOMEM;
}

/* ---- the JSON form read back, as the outbox keeps alerts ----
 * Strict: exactly the fields the formatter writes, each once and of its type, so a damaged line
 * is refused rather than half read. yajl builds the tree; a scan before it bounds the nesting
 * (yajl frees trees recursively), and refuses comments (yajl_tree_parse allows them), NUL bytes
 * and "\u0000" (yajl would cut the string there). Strings must be UTF-8 after decoding: yajl lets
 * a lone "\udc00" through as an encoded surrogate. */

#include <yajl/yajl_tree.h>

#include "core/utf8.h"

#include <errno.h>
#include <stdarg.h>

#define PARSE_MAX_DEPTH 8    /* the formatter nests 4 deep */
#define PARSE_MAX_ITEMS 64   /* detectors, places, samples */
#define PARSE_MAX_NAMES 1024 /* recipients, a place's ambiguous homes */

static void parse_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void parse_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    int n = snprintf(err, errlen, "alert JSON: ");
    if (n < 0 || (size_t)n >= errlen) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* What an error message quotes of the input: up to 40 bytes, printable ASCII, '?' for the rest
 * (an error goes to logs; the input's bytes do not). Returns out (>= 41 bytes). */
static const char *parse_show(const char *s, char *out)
{
    size_t i = 0;
    for (; s[i] && i < 40; i++) {
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    }
    out[i] = '\0';
    return out;
}

/* 0, or -1 with err set: nesting deeper than PARSE_MAX_DEPTH, a NUL byte, "\u0000", or a '/'
 * outside strings. */
static int parse_prescan(const char *s, size_t len, char *err, size_t errlen)
{
    unsigned depth = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\0') {
            parse_err(err, errlen, "a NUL byte at offset %zu", i);
            return -1;
        }
        if (in_str) {
            if (c == '"') {
                in_str = 0;
            } else if (c == '\\' && i + 1 < len) {
                i++;
                if (s[i] == 'u' && len - i > 4 && memcmp(s + i + 1, "0000", 4) == 0) {
                    parse_err(err, errlen, "\\u0000 in a string at offset %zu", i - 1);
                    return -1;
                }
                if (s[i] == '\0') {
                    parse_err(err, errlen, "a NUL byte at offset %zu", i);
                    return -1;
                }
            }
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > PARSE_MAX_DEPTH) {
                parse_err(err, errlen, "nested deeper than %d at offset %zu", PARSE_MAX_DEPTH, i);
                return -1;
            }
        } else if (c == ']' || c == '}') {
            if (depth > 0) {
                depth--;
            }
        } else if (c == '/') {
            parse_err(err, errlen, "not JSON: '/' at offset %zu", i);
            return -1;
        }
    }
    return 0;
}

/* The members of object v, each one of names[0..n) at most once, into vals (NULL: absent).
 * 0, or -1 with err set (not an object, an unknown or repeated member). */
static int parse_members(yajl_val v, const char *what, const char *const *names, size_t n,
                         yajl_val *vals, char *err, size_t errlen)
{
    if (!YAJL_IS_OBJECT(v)) {
        parse_err(err, errlen, "%s is not an object", what);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        vals[k] = NULL;
    }
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *key = v->u.object.keys[i];
        size_t k = 0;
        while (k < n && strcmp(names[k], key) != 0) {
            k++;
        }
        if (k == n) {
            char q[41];
            parse_err(err, errlen, "%s: unknown field \"%s\"", what, parse_show(key, q));
            return -1;
        }
        if (vals[k] != NULL) {
            parse_err(err, errlen, "%s: field \"%s\" twice", what, names[k]);
            return -1;
        }
        vals[k] = v->u.object.values[i];
    }
    return 0;
}

/* A string member: must be there. Returns it (owned by the tree) or NULL with err set (absent,
 * not a string, not UTF-8). */
static const char *parse_str(yajl_val v, const char *what, const char *field, char *err,
                             size_t errlen)
{
    if (v == NULL) {
        parse_err(err, errlen, "%s: field \"%s\" missing", what, field);
        return NULL;
    }
    if (!YAJL_IS_STRING(v)) {
        parse_err(err, errlen, "%s: field \"%s\" is not a string", what, field);
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)v->u.string;
    size_t len = strlen(v->u.string);
    for (size_t i = 0; i < len;) {
        size_t n = bv_utf8_seq(s + i, len - i);
        if (n == 0) {
            parse_err(err, errlen, "%s: field \"%s\" is not UTF-8", what, field);
            return NULL;
        }
        i += n;
    }
    return v->u.string;
}

/* A strdup'd string member (see parse_str). 0, or -1 with err set. */
static int parse_dup(yajl_val v, const char *what, const char *field, char **out, char *err,
                     size_t errlen)
{
    const char *s = parse_str(v, what, field, err, errlen);
    if (s == NULL) {
        return -1;
    }
    if ((*out = strdup(s)) == NULL) {
        parse_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* An unsigned integer member (digits only, up to max). 0, or -1 with err set. */
static int parse_uint(yajl_val v, const char *what, const char *field, uint64_t max, uint64_t *out,
                      char *err, size_t errlen)
{
    if (v == NULL) {
        parse_err(err, errlen, "%s: field \"%s\" missing", what, field);
        return -1;
    }
    const char *r = YAJL_IS_NUMBER(v) ? v->u.number.r : NULL;
    if (r == NULL || r[0] < '0' || r[0] > '9' || strspn(r, "0123456789") != strlen(r)) {
        parse_err(err, errlen, "%s: field \"%s\" is not an unsigned integer", what, field);
        return -1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long x = strtoull(r, &end, 10);
    if (errno != 0 || end == r || *end != '\0' || x > max) {
        parse_err(err, errlen, "%s: field \"%s\" is out of range", what, field);
        return -1;
    }
    *out = (uint64_t)x;
    return 0;
}

/* A number member of magnitude up to 1e300. 0, or -1 with err set. */
static int parse_double(yajl_val v, const char *what, const char *field, double *out, char *err,
                        size_t errlen)
{
    if (v == NULL) {
        parse_err(err, errlen, "%s: field \"%s\" missing", what, field);
        return -1;
    }
    const char *r = YAJL_IS_NUMBER(v) ? v->u.number.r : NULL;
    if (r == NULL) {
        parse_err(err, errlen, "%s: field \"%s\" is not a number", what, field);
        return -1;
    }
    char *end = NULL;
    double d = strtod(r, &end);
    /* bounded well inside double range: the formatter's %.3g rounding must not overflow */
    if (end == r || *end != '\0' || !isfinite(d) || fabs(d) > 1e300) {
        parse_err(err, errlen, "%s: field \"%s\" is not a number up to 1e300", what, field);
        return -1;
    }
    *out = d;
    return 0;
}

/* A boolean member: *out 0 or 1. 0, or -1 with err set. */
static int parse_bool(yajl_val v, const char *what, const char *field, int *out, char *err,
                      size_t errlen)
{
    if (v == NULL) {
        parse_err(err, errlen, "%s: field \"%s\" missing", what, field);
        return -1;
    }
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        parse_err(err, errlen, "%s: field \"%s\" is not a boolean", what, field);
        return -1;
    }
    *out = YAJL_IS_TRUE(v);
    return 0;
}

/* An ISO 8601 time member. 0, or -1 with err set. */
static int parse_time(yajl_val v, const char *what, const char *field, int64_t *ms, char *err,
                      size_t errlen)
{
    const char *s = parse_str(v, what, field, err, errlen);
    if (s == NULL) {
        return -1;
    }
    /* years 0000 to 9999, which the formatter writes back in the same form (an offset could
     * push a time out of them) */
    if (bv_time_parse_iso8601(s, strlen(s), ms) != BV_OK ||
        *ms < bv_days_from_civil(0, 1, 1) * 86400000 ||
        *ms >= bv_days_from_civil(10000, 1, 1) * 86400000) {
        parse_err(err, errlen, "%s: field \"%s\" is not an ISO 8601 time", what, field);
        return -1;
    }
    return 0;
}

/* An array member of at most max items: its items (owned by the tree). 0, or -1 with err set. */
static int parse_array(yajl_val v, const char *what, const char *field, size_t max,
                       yajl_val **items, size_t *n, char *err, size_t errlen)
{
    if (v == NULL) {
        parse_err(err, errlen, "%s: field \"%s\" missing", what, field);
        return -1;
    }
    if (!YAJL_IS_ARRAY(v)) {
        parse_err(err, errlen, "%s: field \"%s\" is not an array", what, field);
        return -1;
    }
    if (v->u.array.len > max) {
        parse_err(err, errlen, "%s: field \"%s\" has more than %zu entries", what, field, max);
        return -1;
    }
    *items = v->u.array.values;
    *n = v->u.array.len;
    return 0;
}

/* An array of strings, strdup'd into *out (caller frees each and the array; *n counts those
 * allocated, also on failure). 0, or -1 with err set. */
static int parse_strings(yajl_val v, const char *what, const char *field, char ***out, size_t *n,
                         char *err, size_t errlen)
{
    yajl_val *items;
    size_t len;
    *out = NULL;
    *n = 0;
    if (parse_array(v, what, field, PARSE_MAX_NAMES, &items, &len, err, errlen) != 0) {
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    if ((*out = calloc(len, sizeof **out)) == NULL) {
        parse_err(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (parse_dup(items[i], what, field, &(*out)[i], err, errlen) != 0) {
            return -1;
        }
        *n = i + 1;
    }
    return 0;
}

enum {
    DF_TYPE,
    DF_WINDOW,
    DF_COUNT,
    DF_THRESHOLD,
    DF_UNIQUE,
    DF_BASELINE,
    DF_RATIO,
    DF_FACTOR,
    DF_MIN_COUNT,
    DF_MEASURE,
    DF_WINDOWS,
    DF_HOLDS,
    DF__COUNT
};

static int parse_eval(yajl_val v, bv_det_eval *e, char *err, size_t errlen)
{
    static const char *const names[DF__COUNT] = {
        "type",  "window", "count",     "threshold", "unique_authors", "baseline",
        "ratio", "factor", "min_count", "measure",   "windows",        "holds"};
    /* the members each type has, besides type, window, count and holds */
    static const unsigned extra[BV_DET__COUNT] = {
        [BV_DET_THRESHOLD] = 1u << DF_THRESHOLD,
        [BV_DET_UNIQUE_AUTHORS] = 1u << DF_UNIQUE | 1u << DF_THRESHOLD,
        [BV_DET_SPIKE] = 1u << DF_BASELINE | 1u << DF_RATIO | 1u << DF_FACTOR | 1u << DF_MIN_COUNT,
        [BV_DET_GROWTH] = 1u << DF_MEASURE | 1u << DF_WINDOWS | 1u << DF_RATIO | 1u << DF_FACTOR |
                          1u << DF_MIN_COUNT,
    };
    const char *what = "detector";
    char q[41];
    yajl_val f[DF__COUNT];
    if (parse_members(v, what, names, DF__COUNT, f, err, errlen) != 0) {
        return -1;
    }
    memset(e, 0, sizeof *e);
    const char *type = parse_str(f[DF_TYPE], what, "type", err, errlen);
    if (type == NULL) {
        return -1;
    }
    int t = 0;
    while (t < BV_DET__COUNT && strcmp(bv_det_type_name((bv_det_type)t), type) != 0) {
        t++;
    }
    if (t == BV_DET__COUNT) {
        parse_err(err, errlen, "unknown detector type \"%s\"", parse_show(type, q));
        return -1;
    }
    e->type = (bv_det_type)t;
    for (int k = DF_THRESHOLD; k < DF_HOLDS; k++) {
        if (f[k] != NULL && !(extra[t] & (1u << k))) {
            parse_err(err, errlen, "%s detector: unexpected field \"%s\"", type, names[k]);
            return -1;
        }
    }
    const char *win = parse_str(f[DF_WINDOW], what, "window", err, errlen);
    if (win == NULL) {
        return -1;
    }
    if (bv_duration_parse(win, strlen(win), &e->window_ms) != BV_OK) {
        parse_err(err, errlen, "detector: field \"window\" is not a duration");
        return -1;
    }
    if (parse_uint(f[DF_COUNT], what, "count", UINT64_MAX, &e->count, err, errlen) != 0 ||
        parse_bool(f[DF_HOLDS], what, "holds", &e->holds, err, errlen) != 0) {
        return -1;
    }
    switch (e->type) {
    case BV_DET_THRESHOLD:
        return parse_uint(f[DF_THRESHOLD], what, "threshold", UINT64_MAX, &e->threshold, err,
                          errlen);
    case BV_DET_UNIQUE_AUTHORS:
        if (parse_uint(f[DF_UNIQUE], what, "unique_authors", UINT64_MAX, &e->authors, err,
                       errlen) != 0) {
            return -1;
        }
        return parse_uint(f[DF_THRESHOLD], what, "threshold", UINT64_MAX, &e->threshold, err,
                          errlen);
    case BV_DET_SPIKE:
        if (parse_double(f[DF_BASELINE], what, "baseline", &e->baseline, err, errlen) != 0) {
            return -1;
        }
        break;
    case BV_DET_GROWTH: {
        const char *m = parse_str(f[DF_MEASURE], what, "measure", err, errlen);
        if (m == NULL) {
            return -1;
        }
        if (strcmp(m, "authors") != 0 && strcmp(m, "posts") != 0) {
            parse_err(err, errlen, "growth detector: unknown measure \"%s\"", parse_show(m, q));
            return -1;
        }
        e->by_authors = m[0] == 'a';
        yajl_val *w;
        size_t nw;
        if (parse_array(f[DF_WINDOWS], what, "windows", BV_DET_MAX_PERIODS + 1, &w, &nw, err,
                        errlen) != 0) {
            return -1;
        }
        for (size_t i = 0; i < nw; i++) {
            if (parse_uint(w[i], what, "windows", UINT64_MAX, &e->windows[i], err, errlen) != 0) {
                return -1;
            }
        }
        e->nwindows = (unsigned)nw;
        break;
    }
    default:
        break;
    }
    /* spike and growth */
    if (parse_double(f[DF_RATIO], what, "ratio", &e->ratio, err, errlen) != 0 ||
        parse_double(f[DF_FACTOR], what, "factor", &e->factor, err, errlen) != 0) {
        return -1;
    }
    return parse_uint(f[DF_MIN_COUNT], what, "min_count", UINT64_MAX, &e->threshold, err, errlen);
}

static int parse_place(yajl_val v, bv_alert_place *p, char *err, size_t errlen)
{
    static const char *const names[] = {"name", "count", "municipality", "province", "ambiguous"};
    const char *what = "place";
    yajl_val f[5];
    uint64_t count;
    if (parse_members(v, what, names, 5, f, err, errlen) != 0 ||
        parse_dup(f[0], what, "name", &p->name, err, errlen) != 0 ||
        parse_uint(f[1], what, "count", UINT32_MAX, &count, err, errlen) != 0) {
        return -1;
    }
    p->count = (uint32_t)count;
    if ((f[2] && parse_dup(f[2], what, "municipality", &p->municipality, err, errlen) != 0) ||
        (f[3] && parse_dup(f[3], what, "province", &p->province, err, errlen) != 0) ||
        (f[4] &&
         parse_strings(f[4], what, "ambiguous", &p->ambiguous, &p->nambiguous, err, errlen) != 0)) {
        return -1;
    }
    return 0;
}

static int parse_sample(yajl_val v, bv_sample *s, char *err, size_t errlen)
{
    static const char *const names[] = {"platform", "at", "url", "excerpt"};
    const char *what = "sample";
    char q[41];
    yajl_val f[4];
    if (parse_members(v, what, names, 4, f, err, errlen) != 0) {
        return -1;
    }
    const char *platform = parse_str(f[0], what, "platform", err, errlen);
    if (platform == NULL) {
        return -1;
    }
    int p = bv_platform_from_name(platform, strlen(platform));
    if (p < 0) {
        parse_err(err, errlen, "sample: unknown platform \"%s\"", parse_show(platform, q));
        return -1;
    }
    s->platform = (bv_platform)p;
    if (parse_time(f[1], what, "at", &s->created_ms, err, errlen) != 0 ||
        (f[2] && parse_dup(f[2], what, "url", &s->url, err, errlen) != 0) ||
        parse_dup(f[3], what, "excerpt", &s->excerpt, err, errlen) != 0) {
        return -1;
    }
    return 0;
}

enum {
    AF_TYPE,
    AF_ID,
    AF_STATE,
    AF_EVENT,
    AF_RULE,
    AF_TITLE,
    AF_SEVERITY,
    AF_RECIPIENTS,
    AF_AT,
    AF_FIRED_AT,
    AF_DETECTORS,
    AF_PLACES,
    AF_SAMPLES,
    AF_HEALTH,
    AF_DRILL,
    AF__COUNT
};

/* Fills a from the root object v. 0, or -1 with err set; a is freed by the caller either way. */
static int parse_alert(yajl_val v, bv_alert *a, char *err, size_t errlen)
{
    static const char *const names[AF__COUNT] = {
        "type", "id",       "state",     "event",  "rule",    "title",  "severity", "recipients",
        "at",   "fired_at", "detectors", "places", "samples", "health", "drill"};
    const char *what = "alert";
    char q[41];
    yajl_val f[AF__COUNT];
    if (parse_members(v, what, names, AF__COUNT, f, err, errlen) != 0) {
        return -1;
    }
    const char *s = parse_str(f[AF_TYPE], what, "type", err, errlen);
    if (s == NULL) {
        return -1;
    }
    if (strcmp(s, "alert") != 0) {
        parse_err(err, errlen, "type is \"%s\", not \"alert\"", parse_show(s, q));
        return -1;
    }
    if ((s = parse_str(f[AF_ID], what, "id", err, errlen)) == NULL) {
        return -1;
    }
    size_t idlen = strlen(s);
    if (idlen == 0 || idlen >= sizeof a->id ||
        strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != idlen) {
        parse_err(err, errlen, "id is not 1 to 32 letters, digits, '_' or '-'");
        return -1;
    }
    memcpy(a->id, s, idlen + 1);
    if ((s = parse_str(f[AF_STATE], what, "state", err, errlen)) == NULL) {
        return -1;
    }
    if (strcmp(s, "firing") == 0) {
        a->state = BV_ALERT_FIRING;
    } else if (strcmp(s, "resolved") == 0) {
        a->state = BV_ALERT_RESOLVED;
    } else {
        parse_err(err, errlen, "unknown state \"%s\"", parse_show(s, q));
        return -1;
    }
    if ((s = parse_str(f[AF_SEVERITY], what, "severity", err, errlen)) == NULL) {
        return -1;
    }
    int sev = BV_SEV_INFO;
    while (sev <= BV_SEV_CRITICAL && strcmp(bv_severity_name((bv_severity)sev), s) != 0) {
        sev++;
    }
    if (sev > BV_SEV_CRITICAL) {
        parse_err(err, errlen, "unknown severity \"%s\"", parse_show(s, q));
        return -1;
    }
    a->own_rule.severity = (bv_severity)sev;
    if (parse_dup(f[AF_EVENT], what, "event", &a->event, err, errlen) != 0 ||
        parse_dup(f[AF_RULE], what, "rule", &a->own_rule.id, err, errlen) != 0 ||
        parse_dup(f[AF_TITLE], what, "title", &a->own_rule.title, err, errlen) != 0 ||
        parse_strings(f[AF_RECIPIENTS], what, "recipients", &a->own_rule.recipients,
                      &a->own_rule.nrecipients, err, errlen) != 0 ||
        parse_time(f[AF_AT], what, "at", &a->at_ms, err, errlen) != 0 ||
        parse_bool(f[AF_DRILL], what, "drill", &a->drill, err, errlen) != 0 ||
        (f[AF_HEALTH] && parse_bool(f[AF_HEALTH], what, "health", &a->health, err, errlen) != 0)) {
        return -1;
    }
    if (f[AF_FIRED_AT]) {
        if (a->state != BV_ALERT_RESOLVED) {
            parse_err(err, errlen, "fired_at in a firing alert");
            return -1;
        }
        if (parse_time(f[AF_FIRED_AT], what, "fired_at", &a->since_ms, err, errlen) != 0) {
            return -1;
        }
    }
    yajl_val *items;
    size_t n;
    if (parse_array(f[AF_DETECTORS], what, "detectors", PARSE_MAX_ITEMS, &items, &n, err, errlen) !=
        0) {
        return -1;
    }
    if (n && (a->evals = calloc(n, sizeof *a->evals)) == NULL) {
        goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        if (parse_eval(items[i], &a->evals[i], err, errlen) != 0) {
            return -1;
        }
        a->nevals = i + 1;
    }
    if (parse_array(f[AF_PLACES], what, "places", PARSE_MAX_ITEMS, &items, &n, err, errlen) != 0) {
        return -1;
    }
    if (n && (a->places = calloc(n, sizeof *a->places)) == NULL) {
        goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        a->nplaces = i + 1; /* counted first: a half-read place is freed with the rest */
        if (parse_place(items[i], &a->places[i], err, errlen) != 0) {
            return -1;
        }
    }
    if (parse_array(f[AF_SAMPLES], what, "samples", PARSE_MAX_ITEMS, &items, &n, err, errlen) !=
        0) {
        return -1;
    }
    if (n && (a->samples = calloc(n, sizeof *a->samples)) == NULL) {
        goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        a->nsamples = i + 1;
        if ((a->samples[i].id = strdup("")) == NULL) {
            goto nomem;
        }
        if (parse_sample(items[i], &a->samples[i], err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
nomem:
    parse_err(err, errlen, "out of memory");
    return -1;
}

bv_alert *bv_alert_parse_json(const char *json, size_t len, char *err, size_t errlen)
{
    char ybuf[128];
    if (err && errlen) {
        err[0] = '\0';
    }
    if (json == NULL) {
        parse_err(err, errlen, "no input");
        return NULL;
    }
    if (len > BV_ALERT_JSON_MAX) {
        parse_err(err, errlen, "%zu bytes, more than %d", len, BV_ALERT_JSON_MAX);
        return NULL;
    }
    if (parse_prescan(json, len, err, errlen) != 0) {
        return NULL;
    }
    char *copy = malloc(len + 1); /* yajl_tree_parse reads up to a NUL */
    if (copy == NULL) {
        parse_err(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    ybuf[0] = '\0';
    yajl_val root = yajl_tree_parse(copy, ybuf, sizeof ybuf);
    free(copy);
    if (root == NULL) {
        /* yajl's message spans lines (it quotes the input): keep its first line */
        ybuf[strcspn(ybuf, "\r\n")] = '\0';
        parse_err(err, errlen, "not JSON (%s)", ybuf[0] ? ybuf : "parse error");
        return NULL;
    }
    bv_alert *a = calloc(1, sizeof *a);
    if (a == NULL) {
        parse_err(err, errlen, "out of memory");
        yajl_tree_free(root);
        return NULL;
    }
    a->rule = &a->own_rule;
    int rc = parse_alert(root, a, err, errlen);
    yajl_tree_free(root);
    if (rc != 0) {
        bv_alert_free(a);
        return NULL;
    }
    return a;
}
