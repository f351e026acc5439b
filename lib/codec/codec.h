/* codec.h: platform JSON -> bv_post. Codecs are sans-IO: given one complete JSON text (a line of
 * a recording, one SSE data field, one WebSocket message) they fill a post or say why not.
 * Raw author ids are pseudonymised inside the codec (ctx->pseudo) and never leave it.
 *
 * Ownership: `json` is borrowed for the call (it may be modified in place, it need not be
 * NUL-terminated but has one spare byte at json[len]); on BV_DECODE_POST the caller owns *out and
 * frees it with bv_post_clear. */
#ifndef BV_CODEC_CODEC_H
#define BV_CODEC_CODEC_H

#include "engine/post.h"
#include "engine/pseudo.h"

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#define BV_CODEC_MAX_DEPTH_DEFAULT 64
#define BV_CODEC_MAX_LEN_DEFAULT (8u << 20) /* 8 MiB */

typedef struct bv_codec_ctx {
    const bv_pseudo *pseudo; /* borrowed; required */
    unsigned max_depth;      /* deepest nesting accepted; BV_CODEC_MAX_DEPTH_DEFAULT when 0 */
    size_t max_len;          /* longest JSON text accepted (BV_SKIP_TOO_LONG); the default when 0 */
} bv_codec_ctx;

typedef enum bv_decode {
    BV_DECODE_SKIP = 0, /* no post; *why says why */
    BV_DECODE_POST = 1, /* *out holds a post (kind CREATE or DELETE) */
} bv_decode;

/* What a line looked like (the sniffer's answer); "unknown" when it looked like nothing. */
typedef enum bv_shape {
    BV_SHAPE_UNKNOWN = 0,
    BV_SHAPE_ENVELOPE,  /* blikveld recording envelope {"v":1,"platform":...} */
    BV_SHAPE_MASTODON,  /* Mastodon Status entity */
    BV_SHAPE_JETSTREAM, /* Bluesky Jetstream event */
    BV_SHAPE_X_V2,      /* X API v2 filtered-stream message */
    BV_SHAPE_X_V11,     /* X v1.1 Tweet */
    BV_SHAPE__COUNT
} bv_shape;
const char *bv_shape_name(bv_shape s);

/* Auto-detects the shape of one recording line and decodes it. Checks, in this order and
 * reporting the first that fails: length (BV_SKIP_TOO_LONG), UTF-8 validity (BV_SKIP_NOT_UTF8),
 * nesting depth (BV_SKIP_TOO_DEEP), JSON syntax (BV_SKIP_NOT_JSON), shape
 * (BV_SKIP_UNKNOWN_SHAPE), then the shape's own fields. *shape (may be NULL) gets the detected
 * shape. Never crashes on any input. */
bv_decode bv_codec_decode_line(const bv_codec_ctx *ctx, char *json, size_t len, bv_post *out,
                               bv_skip *why, bv_shape *shape);

/* One platform's payload JSON (as embedded in a recording envelope, or as a live source hands
 * it over): a Mastodon Status, a Jetstream event, an X v2 message or v1.1 Tweet, a Facebook
 * Page feed `change` object ({"field":"feed","value":{...}}), a Telegram Update, a Reddit child
 * ({"kind":"t3","data":{...}}). Same contract as bv_codec_decode_line. */
bv_decode bv_codec_decode_platform(const bv_codec_ctx *ctx, bv_platform platform, char *json,
                                   size_t len, bv_post *out, bv_skip *why);

/* One platform object already parsed (v borrowed), e.g. a Telegram Update out of a getUpdates
 * result: the same answers as bv_codec_decode_platform. */
bv_decode bv_codec_decode_parsed(const bv_codec_ctx *ctx, bv_platform platform, yajl_val v,
                                 bv_post *out, bv_skip *why);

/* Mastodon streaming `delete` carries a bare id: makes a DELETE post for it. */
int bv_codec_mastodon_delete(const char *id, size_t len, bv_post *out);

#endif
