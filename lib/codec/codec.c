/* codec.c: the codec entry points: checks a line (UTF-8, depth, syntax), parses it once with
 * yajl, sniffs its shape and hands the tree to the platform codec; see codec.h. */
#include "codec/codec.h"
#include "codec/codec_util.h"
#include "codec/envelope.h"
#include "codec/facebook.h"
#include "codec/jetstream.h"
#include "codec/mastodon.h"
#include "codec/reddit.h"
#include "codec/telegram.h"
#include "codec/x.h"
#include "core/err.h"
#include "core/utf8.h"

#include <string.h>

const char *bv_shape_name(bv_shape s)
{
    static const char *const names[BV_SHAPE__COUNT] = {
        "unknown", "envelope", "mastodon", "jetstream", "x_v2", "x_v11",
    };
    return (unsigned)s < BV_SHAPE__COUNT ? names[s] : "unknown";
}

/* Byte classes for the pre-scan: the bytes that end a fast run outside / inside a string. */
#define C_PLAIN 0
static const unsigned char class_out[256] = {
    [0] = 1, ['"'] = 1, ['['] = 1, ['{'] = 1, [']'] = 1, ['}'] = 1, ['/'] = 1, [0x80 ... 0xFF] = 1,
};
static const unsigned char class_in[256] = {
    [0] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xFF] = 1,
};

/* One pass over the bytes: strict UTF-8, nesting depth (brackets outside strings), and bytes
 * JSON never has outside strings that yajl would take (NUL ends its input; it allows comments,
 * which could hide brackets from this scan). Reports in the contract's order. */
static bv_skip prescan(const unsigned char *s, size_t len, unsigned max_depth)
{
    unsigned depth = 0;
    int too_deep = 0, not_json = 0, in_str = 0;
    size_t i = 0;
    while (i < len) {
        const unsigned char *cls = in_str ? class_in : class_out;
        while (i < len && cls[s[i]] == C_PLAIN) {
            i++;
        }
        if (i >= len) {
            break;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t n = bv_utf8_seq(s + i, len - i);
            if (n == 0) {
                return BV_SKIP_NOT_UTF8;
            }
            i += n;
            continue;
        }
        if (in_str) {
            if (c == '"') {
                in_str = 0;
            } else if (c == '\\' && i + 1 < len && s[i + 1] < 0x80) {
                i++; /* the escaped byte (NUL included) is part of the string */
                not_json |= s[i] == 0;
            } else if (c == 0) {
                not_json = 1;
            }
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                too_deep = 1;
            }
        } else if (c == ']' || c == '}') {
            if (depth > 0) {
                depth--;
            }
        } else {
            not_json = 1; /* NUL or '/' */
        }
        i++;
    }
    if (too_deep) {
        return BV_SKIP_TOO_DEEP;
    }
    return not_json ? BV_SKIP_NOT_JSON : BV_SKIP_NONE;
}

/* Checks and parses json[0..len) (json[len] is ours to write); *root is an object on success. */
static bv_skip parse_checked(const bv_codec_ctx *ctx, char *json, size_t len, yajl_val *root)
{
    *root = NULL;
    if (json == NULL) {
        return BV_SKIP_NOT_JSON;
    }
    size_t max_len = ctx->max_len ? ctx->max_len : BV_CODEC_MAX_LEN_DEFAULT;
    if (len > max_len) {
        return BV_SKIP_TOO_LONG;
    }
    size_t off = 0;
    if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
        off = 3; /* a byte-order mark */
    }
    unsigned max_depth = ctx->max_depth ? ctx->max_depth : BV_CODEC_MAX_DEPTH_DEFAULT;
    bv_skip s = prescan((const unsigned char *)json + off, len - off, max_depth);
    if (s != BV_SKIP_NONE) {
        return s;
    }
    json[len] = '\0';
    yajl_val v = yajl_tree_parse(json + off, NULL, 0);
    if (v == NULL) {
        return BV_SKIP_NOT_JSON;
    }
    if (!YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        return BV_SKIP_NOT_JSON;
    }
    *root = v;
    return BV_SKIP_NONE;
}

/* Event time never lies in the future of the receive time. */
static void finish(bv_post *out)
{
    if (out->received_ms > 0 && out->created_ms > out->received_ms) {
        out->created_ms = out->received_ms;
    }
}

bv_decode bv_codec_decode_value(const bv_codec_ctx *ctx, bv_platform platform, yajl_val v,
                                unsigned flags, bv_post *out, bv_skip *why)
{
    static const bv_codec_val_fn fns[BV_PLATFORM__COUNT] = {
        [BV_PLATFORM_MASTODON] = bv_mastodon_decode,
        [BV_PLATFORM_BLUESKY] = bv_jetstream_decode,
        [BV_PLATFORM_X] = bv_x_decode,
        [BV_PLATFORM_FACEBOOK] = bv_facebook_decode,
        [BV_PLATFORM_TELEGRAM] = bv_telegram_decode,
        [BV_PLATFORM_REDDIT] = bv_reddit_decode,
    };
    if ((unsigned)platform >= BV_PLATFORM__COUNT || !YAJL_IS_OBJECT(v)) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    return fns[platform](ctx, v, flags, out, why);
}

static bv_shape sniff(yajl_val v)
{
    if (bv_envelope_sniff(v)) {
        return BV_SHAPE_ENVELOPE;
    }
    if (bv_x_v2_sniff(v)) {
        return BV_SHAPE_X_V2;
    }
    if (bv_jetstream_sniff(v)) {
        return BV_SHAPE_JETSTREAM;
    }
    if (bv_mastodon_sniff(v)) {
        return BV_SHAPE_MASTODON;
    }
    if (bv_x_v11_sniff(v)) {
        return BV_SHAPE_X_V11;
    }
    return BV_SHAPE_UNKNOWN;
}

bv_decode bv_codec_decode_line(const bv_codec_ctx *ctx, char *json, size_t len, bv_post *out,
                               bv_skip *why, bv_shape *shape)
{
    memset(out, 0, sizeof *out);
    *why = BV_SKIP_NONE;
    if (shape != NULL) {
        *shape = BV_SHAPE_UNKNOWN;
    }
    yajl_val root;
    bv_skip s = parse_checked(ctx, json, len, &root);
    if (s != BV_SKIP_NONE) {
        *why = s;
        return BV_DECODE_SKIP;
    }
    bv_shape sh = sniff(root);
    if (shape != NULL) {
        *shape = sh;
    }
    bv_decode d;
    switch (sh) {
    case BV_SHAPE_ENVELOPE:
        d = bv_envelope_decode(ctx, root, 0, out, why);
        break;
    case BV_SHAPE_MASTODON:
        d = bv_mastodon_decode(ctx, root, 0, out, why);
        break;
    case BV_SHAPE_JETSTREAM:
        d = bv_jetstream_decode(ctx, root, 0, out, why);
        break;
    case BV_SHAPE_X_V2:
        d = bv_x_v2_decode(ctx, root, 0, out, why);
        break;
    case BV_SHAPE_X_V11:
        d = bv_x_v11_decode(ctx, root, 0, out, why);
        break;
    default:
        d = bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
        break;
    }
    if (d == BV_DECODE_POST) {
        finish(out);
    }
    yajl_tree_free(root);
    return d;
}

bv_decode bv_codec_decode_platform(const bv_codec_ctx *ctx, bv_platform platform, char *json,
                                   size_t len, bv_post *out, bv_skip *why)
{
    memset(out, 0, sizeof *out);
    *why = BV_SKIP_NONE;
    yajl_val root;
    bv_skip s = parse_checked(ctx, json, len, &root);
    if (s != BV_SKIP_NONE) {
        *why = s;
        return BV_DECODE_SKIP;
    }
    bv_decode d = bv_codec_decode_value(ctx, platform, root, 0, out, why);
    if (d == BV_DECODE_POST) {
        finish(out);
    }
    yajl_tree_free(root);
    return d;
}

bv_decode bv_codec_decode_parsed(const bv_codec_ctx *ctx, bv_platform platform, yajl_val v,
                                 bv_post *out, bv_skip *why)
{
    memset(out, 0, sizeof *out);
    *why = BV_SKIP_NONE;
    bv_decode d = bv_codec_decode_value(ctx, platform, v, 0, out, why);
    if (d == BV_DECODE_POST) {
        finish(out);
    }
    return d;
}

int bv_codec_mastodon_delete(const char *id, size_t len, bv_post *out)
{
    memset(out, 0, sizeof *out);
    while (len > 0 && (id[0] == ' ' || id[0] == '"')) {
        id++;
        len--;
    }
    while (len > 0 && (id[len - 1] == ' ' || id[len - 1] == '"' || id[len - 1] == '\r' ||
                       id[len - 1] == '\n')) {
        len--;
    }
    if (!bv_codec_id_ok(id, len, 256, 0)) {
        return BV_EINVAL;
    }
    out->platform = BV_PLATFORM_MASTODON;
    if (bv_codec_dup(&out->id, id, len) != 0 || bv_codec_to_delete(out) != 0) {
        bv_post_clear(out);
        return BV_ENOMEM;
    }
    return 0;
}
