/* x.h: the X codec: API v2 filtered-stream messages ({"data":{...}}, in-stream {"errors":[...]})
 * and legacy v1.1 Tweets (and v1.1 {"delete":...} notices). Urls are built from the post id only
 * (https://x.com/i/web/status/{id}), never from a screen name. The caller owns tree and post. */
#ifndef BV_CODEC_X_H
#define BV_CODEC_X_H

#include "codec/codec_util.h"

/* 1 when the object is a v2 message: data{id,text}, or errors[] without data. */
int bv_x_v2_sniff(yajl_val v);
/* 1 when the object is a v1.1 Tweet (id_str, text or full_text, created_at, user) or delete. */
int bv_x_v11_sniff(yajl_val v);
/* A v2 message to a post; errors and other messages are "other_kind"; see codec_util.h. */
bv_decode bv_x_v2_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                         bv_skip *why);
/* A v1.1 Tweet to a post (retweets give the retweeted full text); see codec_util.h. */
bv_decode bv_x_v11_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                          bv_skip *why);
/* Either of the two, chosen by shape (the platform entry point for X). */
bv_decode bv_x_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                      bv_skip *why);

#endif
