/* x.c: X API v2 messages and v1.1 Tweets -> post; author = author_id / user.id_str
 * pseudonymised; see x.h. */
#include "codec/x.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <string.h>

#define X_ID_MAX 24

int bv_x_v2_sniff(yajl_val v)
{
    yajl_val data = bv_json_get(v, "data");
    if (YAJL_IS_OBJECT(data)) {
        return bv_json_get(data, "id") != NULL && bv_json_get(data, "text") != NULL;
    }
    return data == NULL && YAJL_IS_ARRAY(bv_json_get(v, "errors"));
}

int bv_x_v11_sniff(yajl_val v)
{
    if (bv_json_get(v, "id_str") != NULL && bv_json_get(v, "created_at") != NULL &&
        bv_json_get(v, "user") != NULL &&
        (bv_json_get(v, "text") != NULL || bv_json_get(v, "full_text") != NULL)) {
        return 1;
    }
    yajl_val del = bv_json_get(v, "delete");
    return YAJL_IS_OBJECT(bv_json_get(del, "status"));
}

/* id and url https://x.com/i/web/status/{id} from a digits-only id. */
static int set_id_url(bv_post *out, const char *id, size_t n)
{
    static const char web[] = "https://x.com/i/web/status/";
    if (!bv_codec_id_ok(id, n, X_ID_MAX, 1)) {
        return BV_EINVAL;
    }
    if (bv_codec_dup(&out->id, id, n) != 0 ||
        bv_codec_join(&out->url, web, sizeof web - 1, id, n, (const char *)NULL) != 0) {
        return BV_ENOMEM;
    }
    return 0;
}

bv_decode bv_x_v2_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                         bv_skip *why)
{
    out->platform = BV_PLATFORM_X;
    yajl_val data = bv_json_get(v, "data");
    if (!YAJL_IS_OBJECT(data)) {
        /* in-stream errors, and message types we do not know yet */
        return bv_codec_skip(out, why,
                             YAJL_IS_ARRAY(bv_json_get(v, "errors")) ? BV_SKIP_OTHER_KIND
                                                                     : BV_SKIP_UNKNOWN_SHAPE);
    }
    size_t n = 0;
    const char *id = bv_json_text(data, "id", &n);
    int rc = id != NULL ? set_id_url(out, id, n) : BV_EINVAL;
    if (rc != 0) {
        return bv_codec_skip(out, why, rc == BV_ENOMEM ? BV_SKIP_TOO_LONG : BV_SKIP_UNKNOWN_SHAPE);
    }
    const char *author = bv_json_text(data, "author_id", &n);
    bv_codec_set_author(ctx, out, author, author ? n : 0);
    const char *ca = bv_json_str(data, "created_at", &n);
    int have_time = ca != NULL && bv_time_parse_iso8601(ca, n, &out->created_ms) == 0;
    if (flags & BV_CODEC_AS_DELETE) {
        return bv_codec_to_delete(out) == 0 ? BV_DECODE_POST
                                            : bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    const char *text = bv_json_str(bv_json_get(data, "note_tweet"), "text", &n);
    if (text == NULL || !bv_json_has_text(text, n)) {
        text = bv_json_str(data, "text", &n);
    }
    if (text == NULL || !bv_json_has_text(text, n)) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TEXT);
    }
    if (!have_time) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TIME);
    }
    if (bv_codec_dup(&out->text, text, n) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    const char *lang = bv_json_str(data, "lang", &n);
    bv_codec_set_lang(out, lang, lang ? n : 0);
    out->kind = BV_POST_CREATE;
    return BV_DECODE_POST;
}

/* v1.1 text is HTML-escaped for exactly &, < and >; nothing else is decoded. */
static int unescape_v11(const char *s, size_t n, char **dst)
{
    if (memchr(s, '&', n) == NULL) {
        return bv_codec_dup(dst, s, n);
    }
    bv_buf b = BV_BUF_INIT;
    if (bv_buf_reserve(&b, n) != 0) {
        return BV_ENOMEM;
    }
    size_t i = 0;
    while (i < n) {
        if (s[i] == '&') {
            if (n - i >= 5 && memcmp(s + i, "&amp;", 5) == 0) {
                b.p[b.len++] = '&';
                i += 5;
                continue;
            }
            if (n - i >= 4 && (memcmp(s + i, "&lt;", 4) == 0 || memcmp(s + i, "&gt;", 4) == 0)) {
                b.p[b.len++] = s[i + 1] == 'l' ? '<' : '>';
                i += 4;
                continue;
            }
        }
        b.p[b.len++] = s[i++];
    }
    b.p[b.len] = '\0';
    *dst = bv_buf_steal(&b);
    return 0;
}

/* The full text of a v1.1 Tweet object: extended_tweet.full_text, full_text, text. */
static const char *v11_text(yajl_val t, size_t *n)
{
    const char *s = bv_json_str(bv_json_get(t, "extended_tweet"), "full_text", n);
    if (s == NULL) {
        s = bv_json_str(t, "full_text", n);
    }
    if (s == NULL) {
        s = bv_json_str(t, "text", n);
    }
    return s;
}

static bv_decode v11_delete(const bv_codec_ctx *ctx, yajl_val del, bv_post *out, bv_skip *why)
{
    yajl_val st = bv_json_get(del, "status");
    size_t n = 0;
    const char *id = bv_json_text(st, "id_str", &n);
    int rc = id != NULL ? set_id_url(out, id, n) : BV_EINVAL;
    if (rc != 0) {
        return bv_codec_skip(out, why, rc == BV_ENOMEM ? BV_SKIP_TOO_LONG : BV_SKIP_UNKNOWN_SHAPE);
    }
    const char *uid = bv_json_text(st, "user_id_str", &n);
    bv_codec_set_author(ctx, out, uid, uid ? n : 0);
    int64_t ms;
    if (bv_json_int64(bv_json_get(del, "timestamp_ms"), &ms) == 0 && ms > 0) {
        out->created_ms = ms;
    }
    return bv_codec_to_delete(out) == 0 ? BV_DECODE_POST
                                        : bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
}

bv_decode bv_x_v11_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                          bv_skip *why)
{
    out->platform = BV_PLATFORM_X;
    yajl_val del = bv_json_get(v, "delete");
    if (YAJL_IS_OBJECT(del)) {
        return v11_delete(ctx, del, out, why);
    }
    size_t n = 0;
    const char *id = bv_json_str(v, "id_str", &n);
    int rc = id != NULL ? set_id_url(out, id, n) : BV_EINVAL;
    if (rc != 0) {
        return bv_codec_skip(out, why, rc == BV_ENOMEM ? BV_SKIP_TOO_LONG : BV_SKIP_UNKNOWN_SHAPE);
    }
    const char *uid = bv_json_text(bv_json_get(v, "user"), "id_str", &n);
    bv_codec_set_author(ctx, out, uid, uid ? n : 0);
    const char *ca = bv_json_str(v, "created_at", &n);
    int have_time = ca != NULL && bv_time_parse_twitter(ca, n, &out->created_ms) == 0;
    int64_t ms;
    if (!have_time && bv_json_int64(bv_json_get(v, "timestamp_ms"), &ms) == 0 && ms > 0) {
        out->created_ms = ms;
        have_time = 1;
    }
    if (flags & BV_CODEC_AS_DELETE) {
        return bv_codec_to_delete(out) == 0 ? BV_DECODE_POST
                                            : bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    /* a retweet's own text is truncated ("RT @name: ..."); the original holds the full text */
    yajl_val rt = bv_json_get(v, "retweeted_status");
    const char *text = v11_text(YAJL_IS_OBJECT(rt) ? rt : v, &n);
    if (text == NULL && YAJL_IS_OBJECT(rt)) {
        text = v11_text(v, &n);
    }
    if (text == NULL || !bv_json_has_text(text, n)) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TEXT);
    }
    if (!have_time) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TIME);
    }
    if (unescape_v11(text, n, &out->text) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    const char *lang = bv_json_str(v, "lang", &n);
    bv_codec_set_lang(out, lang, lang ? n : 0);
    out->kind = BV_POST_CREATE;
    return BV_DECODE_POST;
}

bv_decode bv_x_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                      bv_skip *why)
{
    if (bv_json_get(v, "data") != NULL || bv_json_get(v, "errors") != NULL) {
        return bv_x_v2_decode(ctx, v, flags, out, why);
    }
    return bv_x_v11_decode(ctx, v, flags, out, why);
}
