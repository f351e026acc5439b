/* reddit.c: Reddit listing child (t3 submission, t1 comment) -> post; see reddit.h. */
#include "codec/reddit.h"

#include <string.h>

/* selftext/body placeholders that stand for "no text" */
static int placeholder(const char *s, size_t n)
{
    return bv_json_str_is(s, n, "[removed]") || bv_json_str_is(s, n, "[deleted]");
}

bv_decode bv_reddit_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                           bv_skip *why)
{
    out->platform = BV_PLATFORM_REDDIT;
    size_t n = 0;
    const char *kind = bv_json_str(v, "kind", &n);
    yajl_val data = bv_json_get(v, "data");
    if (kind == NULL || !YAJL_IS_OBJECT(data)) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    int is_comment = bv_json_str_is(kind, n, "t1");
    if (!is_comment && !bv_json_str_is(kind, n, "t3")) {
        return bv_codec_skip(out, why, BV_SKIP_OTHER_KIND);
    }
    const char *id = bv_json_str(data, "name", &n);
    if (!bv_codec_id_ok(id, n, 64, 0) || bv_codec_dup(&out->id, id, n) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    const char *perm = bv_json_str(data, "permalink", &n);
    if (perm != NULL && n > 0 && perm[0] == '/' && bv_codec_id_ok(perm, n, 1024, 0)) {
        static const char web[] = "https://www.reddit.com";
        if (bv_codec_join(&out->url, web, sizeof web - 1, perm, n, (const char *)NULL) != 0) {
            return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
        }
    }
    const char *author = bv_json_str(data, "author", &n);
    if (author != NULL && !bv_json_str_is(author, n, "[deleted]")) {
        bv_codec_set_author(ctx, out, author, n);
    }
    int have_time = bv_json_seconds_ms(bv_json_get(data, "created_utc"), &out->created_ms) == 0;
    if (flags & BV_CODEC_AS_DELETE) {
        return bv_codec_to_delete(out) == 0 ? BV_DECODE_POST
                                            : bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    size_t tl = 0, sl = 0;
    const char *title = is_comment ? NULL : bv_json_str(data, "title", &tl);
    const char *self = bv_json_str(data, is_comment ? "body" : "selftext", &sl);
    int has_title = title != NULL && bv_json_has_text(title, tl);
    int has_self = self != NULL && bv_json_has_text(self, sl) && !placeholder(self, sl);
    if (!has_title && !has_self) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TEXT);
    }
    if (!have_time) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TIME);
    }
    int rc;
    if (has_title && has_self) {
        rc = bv_codec_join(&out->text, title, tl, "\n", (size_t)1, self, sl, (const char *)NULL);
    } else if (has_title) {
        rc = bv_codec_dup(&out->text, title, tl);
    } else {
        rc = bv_codec_dup(&out->text, self, sl);
    }
    if (rc != 0) {
        return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    out->kind = BV_POST_CREATE;
    return BV_DECODE_POST;
}
