/* envelope.c: recording envelope -> the payload's post, decoded from the already-parsed tree;
 * see envelope.h. */
#include "codec/envelope.h"
#include "core/timeutil.h"

#include <string.h>

int bv_envelope_sniff(yajl_val v)
{
    return bv_json_get(v, "v") != NULL && bv_json_get(v, "platform") != NULL &&
           bv_json_get(v, "payload") != NULL;
}

bv_decode bv_envelope_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                             bv_skip *why)
{
    size_t n = 0;
    yajl_val ver = bv_json_get(v, "v");
    if (!YAJL_IS_NUMBER(ver) || ver->u.number.r == NULL || strcmp(ver->u.number.r, "1") != 0) {
        return bv_codec_skip(out, why, BV_SKIP_BAD_ENVELOPE);
    }
    const char *pname = bv_json_str(v, "platform", &n);
    int platform = pname != NULL ? bv_platform_from_name(pname, n) : -1;
    if (platform < 0) {
        return bv_codec_skip(out, why, BV_SKIP_BAD_ENVELOPE);
    }
    int64_t received_ms = 0;
    const char *ra = bv_json_str(v, "received_at", &n);
    if (ra == NULL || bv_time_parse_iso8601(ra, n, &received_ms) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_BAD_ENVELOPE);
    }
    yajl_val kind = bv_json_get(v, "kind");
    int is_delete = 0;
    if (kind != NULL) {
        if (!YAJL_IS_STRING(kind)) {
            return bv_codec_skip(out, why, BV_SKIP_BAD_ENVELOPE);
        }
        n = strlen(kind->u.string);
        is_delete = bv_json_str_is(kind->u.string, n, "delete");
        if (!is_delete && !bv_json_str_is(kind->u.string, n, "post")) {
            return bv_codec_skip(out, why, BV_SKIP_BAD_ENVELOPE);
        }
    }
    yajl_val payload = bv_json_get(v, "payload");
    bv_decode d;
    if (YAJL_IS_STRING(payload) && is_delete) {
        /* a bare id, as Mastodon's streaming `delete` carries it */
        out->platform = (bv_platform)platform;
        n = strlen(payload->u.string);
        if (!bv_codec_id_ok(payload->u.string, n, 512, 0) ||
            bv_codec_dup(&out->id, payload->u.string, n) != 0 || bv_codec_to_delete(out) != 0) {
            return bv_codec_skip(out, why, BV_SKIP_BAD_ENVELOPE);
        }
        d = BV_DECODE_POST;
    } else if (YAJL_IS_OBJECT(payload)) {
        d = bv_codec_decode_value(ctx, (bv_platform)platform, payload,
                                  flags | (is_delete ? BV_CODEC_AS_DELETE : 0u), out, why);
    } else {
        return bv_codec_skip(out, why, BV_SKIP_BAD_ENVELOPE);
    }
    if (d == BV_DECODE_POST) {
        out->received_ms = received_ms;
        if (out->kind == BV_POST_DELETE && out->created_ms == 0) {
            out->created_ms = received_ms;
        }
    }
    return d;
}
