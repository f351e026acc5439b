/* jetstream.c: Jetstream commit events of app.bsky.feed.post -> post (at:// id, bsky.app url,
 * author = DID pseudonymised); see jetstream.h. */
#include "codec/jetstream.h"
#include "core/timeutil.h"

#include <string.h>

#define POST_COLLECTION "app.bsky.feed.post"

int bv_jetstream_sniff(yajl_val v)
{
    return bv_json_get(v, "did") != NULL && bv_json_get(v, "time_us") != NULL &&
           bv_json_get(v, "kind") != NULL;
}

/* DIDs and record keys are plain ASCII without '/' (atproto syntax); they go into URLs. */
static int atproto_ok(const char *s, size_t n, size_t max)
{
    if (!bv_codec_id_ok(s, n, max, 0)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/' || s[i] == '?' || s[i] == '#' || s[i] == '@') {
            return 0;
        }
    }
    return 1;
}

bv_decode bv_jetstream_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                              bv_skip *why)
{
    out->platform = BV_PLATFORM_BLUESKY;
    size_t n = 0, dl = 0, rl = 0;
    const char *kind = bv_json_str(v, "kind", &n);
    if (kind == NULL) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    if (!bv_json_str_is(kind, n, "commit")) {
        return bv_codec_skip(out, why, BV_SKIP_OTHER_KIND);
    }
    yajl_val commit = bv_json_get(v, "commit");
    const char *coll = bv_json_str(commit, "collection", &n);
    if (!bv_json_str_is(coll, n, POST_COLLECTION)) {
        return bv_codec_skip(out, why, BV_SKIP_OTHER_KIND);
    }
    const char *op = bv_json_str(commit, "operation", &n);
    int is_delete = bv_json_str_is(op, n, "delete") || (flags & BV_CODEC_AS_DELETE);
    if (!is_delete && !bv_json_str_is(op, n, "create")) {
        return bv_codec_skip(out, why, BV_SKIP_OTHER_KIND);
    }
    const char *did = bv_json_str(v, "did", &dl);
    const char *rkey = bv_json_str(commit, "rkey", &rl);
    if (!atproto_ok(did, dl, 2048) || dl < 5 || memcmp(did, "did:", 4) != 0 ||
        !atproto_ok(rkey, rl, 512)) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    int64_t us;
    if (bv_json_int64(bv_json_get(v, "time_us"), &us) == 0 && us > 0) {
        out->received_ms = us / 1000;
    }
    static const char at[] = "at://", mid[] = "/" POST_COLLECTION "/";
    static const char web[] = "https://bsky.app/profile/", post[] = "/post/";
    if (bv_codec_join(&out->id, at, sizeof at - 1, did, dl, mid, sizeof mid - 1, rkey, rl,
                      (const char *)NULL) != 0 ||
        bv_codec_join(&out->url, web, sizeof web - 1, did, dl, post, sizeof post - 1, rkey, rl,
                      (const char *)NULL) != 0) {
        goto nomem;
    }
    bv_codec_set_author(ctx, out, did, dl);
    if (is_delete) {
        out->created_ms = out->received_ms;
        return bv_codec_to_delete(out) == 0 ? BV_DECODE_POST
                                            : bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    yajl_val record = bv_json_get(commit, "record");
    const char *text = bv_json_str(record, "text", &n);
    if (text == NULL || !bv_json_has_text(text, n)) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TEXT);
    }
    if (bv_codec_dup(&out->text, text, n) != 0) {
        goto nomem;
    }
    const char *ca = bv_json_str(record, "createdAt", &n);
    if (ca == NULL || bv_time_parse_iso8601(ca, n, &out->created_ms) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TIME);
    }
    yajl_val langs = bv_json_get(record, "langs");
    if (YAJL_IS_ARRAY(langs) && langs->u.array.len > 0 &&
        YAJL_IS_STRING(langs->u.array.values[0])) {
        const char *l = langs->u.array.values[0]->u.string;
        bv_codec_set_lang(out, l, strlen(l));
    }
    out->kind = BV_POST_CREATE;
    return BV_DECODE_POST;
nomem:
    return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
}
