/* mastodon.c: Mastodon Status -> post: HTML content to text, spoiler first, boosts unwrapped,
 * author = account.acct pseudonymised; see mastodon.h. */
#include "codec/mastodon.h"
#include "codec/html.h"
#include "core/buf.h"
#include "core/timeutil.h"

int bv_mastodon_sniff(yajl_val v)
{
    return bv_json_get(v, "id") != NULL && bv_json_get(v, "created_at") != NULL &&
           bv_json_get(v, "content") != NULL && bv_json_get(v, "account") != NULL &&
           bv_json_get(v, "uri") != NULL;
}

bv_decode bv_mastodon_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                             bv_skip *why)
{
    out->platform = BV_PLATFORM_MASTODON;
    /* a boost carries the boosted status in `reblog`; the booster stays the author */
    yajl_val s = bv_json_get(v, "reblog");
    if (s == NULL || s->type != yajl_t_object) {
        s = v;
    }
    size_t n = 0;
    const char *id = bv_json_text(s, "id", &n);
    if (!bv_codec_id_ok(id, n, 256, 0) || bv_codec_dup(&out->id, id, n) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    yajl_val acct = bv_json_get(v, "account");
    const char *who = bv_json_str(acct, "acct", &n);
    if (who == NULL || n == 0) {
        who = bv_json_text(acct, "id", &n);
    }
    bv_codec_set_author(ctx, out, who, n);
    const char *url = bv_json_str(s, "url", &n);
    if (url == NULL || n == 0) {
        url = bv_json_str(s, "uri", &n);
    }
    if (url != NULL && n > 0 && bv_codec_dup(&out->url, url, n) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    const char *ca = bv_json_str(s, "created_at", &n);
    int have_time = ca != NULL && bv_time_parse_iso8601(ca, n, &out->created_ms) == 0;
    if (flags & BV_CODEC_AS_DELETE) {
        return bv_codec_to_delete(out) == 0 ? BV_DECODE_POST
                                            : bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    size_t sl = 0, cl = 0;
    const char *spoiler = bv_json_str(s, "spoiler_text", &sl);
    const char *content = bv_json_str(s, "content", &cl);
    bv_buf b = BV_BUF_INIT;
    if (spoiler != NULL && bv_json_has_text(spoiler, sl)) {
        if (bv_buf_append(&b, spoiler, sl) != 0 || bv_buf_putc(&b, '\n') != 0) {
            goto nomem;
        }
    }
    if (content != NULL && bv_html_to_text(content, cl, &b) != 0) {
        goto nomem;
    }
    if (b.p == NULL || !bv_json_has_text(b.p, b.len)) {
        bv_buf_free(&b);
        return bv_codec_skip(out, why, BV_SKIP_NO_TEXT);
    }
    if (!have_time) {
        bv_buf_free(&b);
        return bv_codec_skip(out, why, BV_SKIP_NO_TIME);
    }
    out->text = bv_buf_steal(&b);
    const char *lang = bv_json_str(s, "language", &n);
    bv_codec_set_lang(out, lang, lang ? n : 0);
    out->kind = BV_POST_CREATE;
    return BV_DECODE_POST;
nomem:
    bv_buf_free(&b);
    return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
}
