/* codec_util.c: yajl tree lookups, integer and time conversions, and post filling shared by
 * the platform codecs; see codec_util.h. */
#include "codec/codec_util.h"
#include "core/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

yajl_val bv_json_get(yajl_val obj, const char *key)
{
    if (obj == NULL || obj->type != yajl_t_object) {
        return NULL;
    }
    size_t n = obj->u.object.len;
    for (size_t i = 0; i < n; i++) {
        const char *k = obj->u.object.keys[i];
        if (k[0] == key[0] && strcmp(k, key) == 0) {
            return obj->u.object.values[i];
        }
    }
    return NULL;
}

const char *bv_json_str(yajl_val obj, const char *key, size_t *len)
{
    yajl_val v = bv_json_get(obj, key);
    if (v == NULL || v->type != yajl_t_string) {
        return NULL;
    }
    *len = strlen(v->u.string);
    return v->u.string;
}

const char *bv_json_text(yajl_val obj, const char *key, size_t *len)
{
    yajl_val v = bv_json_get(obj, key);
    if (v == NULL) {
        return NULL;
    }
    if (v->type == yajl_t_string) {
        *len = strlen(v->u.string);
        return v->u.string;
    }
    if (v->type == yajl_t_number && v->u.number.r != NULL) {
        *len = strlen(v->u.number.r);
        return v->u.number.r;
    }
    return NULL;
}

/* Parses an optionally negative decimal integer filling all of s[0..len). */
static int parse_int64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len || len - i > 19) {
        return BV_EINVAL;
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return BV_EINVAL;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX) {
        return BV_EINVAL;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

int bv_json_int64(yajl_val v, int64_t *out)
{
    if (v == NULL) {
        return BV_EINVAL;
    }
    if (v->type == yajl_t_number && v->u.number.r != NULL) {
        return parse_int64(v->u.number.r, strlen(v->u.number.r), out);
    }
    if (v->type == yajl_t_string) {
        return parse_int64(v->u.string, strlen(v->u.string), out);
    }
    return BV_EINVAL;
}

/* Seconds beyond year 9999 are nonsense for a post (and would overflow as ms far later). */
#define MAX_SECONDS 253402300799LL

int bv_json_seconds_ms(yajl_val v, int64_t *ms)
{
    int64_t s;
    if (bv_json_int64(v, &s) == 0) {
        if (s < 0 || s > MAX_SECONDS) {
            return BV_EINVAL;
        }
        *ms = s * 1000;
        return 0;
    }
    /* a fraction ("1456821458.0", 1.456821458E9): a double holds ms exactly in this range */
    const char *txt = NULL;
    if (v != NULL && v->type == yajl_t_number) {
        txt = v->u.number.r;
    } else if (v != NULL && v->type == yajl_t_string) {
        txt = v->u.string;
    }
    if (txt == NULL || txt[0] == '\0') {
        return BV_EINVAL;
    }
    char *end = NULL;
    double d = strtod(txt, &end);
    if (end == txt || *end != '\0' || !isfinite(d) || d < 0 || d > (double)MAX_SECONDS) {
        return BV_EINVAL;
    }
    *ms = (int64_t)llround(d * 1000.0);
    return 0;
}

int bv_json_str_is(const char *s, size_t n, const char *w)
{
    return s != NULL && strlen(w) == n && memcmp(s, w, n) == 0;
}

int bv_json_has_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return 1;
        }
    }
    return 0;
}

int bv_codec_id_ok(const char *s, size_t len, size_t max, int digits_only)
{
    if (s == NULL || len == 0 || len > max) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (digits_only) {
            if (c < '0' || c > '9') {
                return 0;
            }
        } else if (c <= ' ' || c >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

int bv_codec_join(char **dst, ...)
{
    va_list ap;
    size_t total = 0;
    va_start(ap, dst);
    for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *)) {
        total += va_arg(ap, size_t);
    }
    va_end(ap);
    char *p = malloc(total + 1);
    if (p == NULL) {
        return BV_ENOMEM;
    }
    size_t at = 0;
    va_start(ap, dst);
    for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *)) {
        size_t n = va_arg(ap, size_t);
        memcpy(p + at, s, n);
        at += n;
    }
    va_end(ap);
    p[at] = '\0';
    *dst = p;
    return 0;
}

int bv_codec_dup(char **dst, const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p == NULL) {
        return BV_ENOMEM;
    }
    if (len) {
        memcpy(p, s, len);
    }
    p[len] = '\0';
    *dst = p;
    return 0;
}

void bv_codec_set_lang(bv_post *p, const char *s, size_t len)
{
    p->lang[0] = '\0';
    if (s == NULL || len == 0 || len >= sizeof p->lang) {
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return;
        }
    }
    memcpy(p->lang, s, len);
    p->lang[len] = '\0';
}

void bv_codec_set_author(const bv_codec_ctx *ctx, bv_post *p, const char *raw, size_t len)
{
    if (raw == NULL || len == 0 || ctx->pseudo == NULL) {
        return;
    }
    bv_pseudo_author(ctx->pseudo, p->platform, raw, len, p->author);
    p->has_author = 1;
}

int bv_codec_to_delete(bv_post *p)
{
    char *empty = NULL;
    if (bv_codec_dup(&empty, "", 0) != 0) {
        return BV_ENOMEM;
    }
    free(p->text);
    p->text = empty;
    p->kind = BV_POST_DELETE;
    p->lang[0] = '\0';
    return 0;
}

bv_decode bv_codec_skip(bv_post *out, bv_skip *why, bv_skip reason)
{
    bv_post_clear(out);
    *why = reason;
    return BV_DECODE_SKIP;
}
