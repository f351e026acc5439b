/* reddit.h: the Reddit codec: one listing child ({"kind":"t3","data":{...}}, also t1 comments)
 * to a post; other kinds are "other_kind". The caller owns the tree and the post. */
#ifndef BV_CODEC_REDDIT_H
#define BV_CODEC_REDDIT_H

#include "codec/codec_util.h"

/* One child to a post: text = title + "\n" + selftext (t1: body), id = name, url =
 * https://www.reddit.com + permalink, author = author unless "[deleted]". See codec_util.h. */
bv_decode bv_reddit_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                           bv_skip *why);

#endif
