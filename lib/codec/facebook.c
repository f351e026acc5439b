/* facebook.c: Page `feed` change -> post (id = comment_id or post_id, url from post_id,
 * author = from.id pseudonymised); see facebook.h. */
#include "codec/facebook.h"

#include <string.h>

bv_decode bv_facebook_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                             bv_skip *why)
{
    out->platform = BV_PLATFORM_FACEBOOK;
    size_t n = 0;
    yajl_val value = bv_json_get(v, "value");
    const char *field = bv_json_str(v, "field", &n);
    if (field == NULL || !YAJL_IS_OBJECT(value)) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    if (!bv_json_str_is(field, n, "feed")) {
        return bv_codec_skip(out, why, BV_SKIP_OTHER_KIND);
    }
    const char *item = bv_json_str(value, "item", &n);
    if (item == NULL || bv_json_str_is(item, n, "reaction") || bv_json_str_is(item, n, "like")) {
        return bv_codec_skip(out, why, BV_SKIP_OTHER_KIND);
    }
    int is_comment = bv_json_str_is(item, n, "comment");
    const char *verb = bv_json_str(value, "verb", &n);
    int is_delete = bv_json_str_is(verb, n, "remove") || (flags & BV_CODEC_AS_DELETE);
    if (!is_delete && !bv_json_str_is(verb, n, "add") && !bv_json_str_is(verb, n, "edited")) {
        return bv_codec_skip(out, why, BV_SKIP_OTHER_KIND); /* hide, unhide, ... */
    }
    size_t pl = 0;
    const char *post_id = bv_json_text(value, "post_id", &pl);
    const char *id = is_comment ? bv_json_text(value, "comment_id", &n) : post_id;
    if (!is_comment) {
        n = pl;
    }
    if (!bv_codec_id_ok(id, n, 128, 0) || bv_codec_dup(&out->id, id, n) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    if (bv_codec_id_ok(post_id, pl, 128, 0)) {
        static const char web[] = "https://www.facebook.com/";
        if (bv_codec_join(&out->url, web, sizeof web - 1, post_id, pl, (const char *)NULL) != 0) {
            return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
        }
    }
    const char *from = bv_json_text(bv_json_get(value, "from"), "id", &n);
    bv_codec_set_author(ctx, out, from, from ? n : 0);
    int have_time = bv_json_seconds_ms(bv_json_get(value, "created_time"), &out->created_ms) == 0;
    if (is_delete) {
        return bv_codec_to_delete(out) == 0 ? BV_DECODE_POST
                                            : bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    const char *msg = bv_json_str(value, "message", &n);
    if (msg == NULL || !bv_json_has_text(msg, n)) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TEXT);
    }
    if (!have_time) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TIME);
    }
    if (bv_codec_dup(&out->text, msg, n) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    out->kind = BV_POST_CREATE;
    return BV_DECODE_POST;
}
