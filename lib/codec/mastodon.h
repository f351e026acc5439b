/* mastodon.h: the Mastodon codec: a Status entity (as in `update` / `status.update` events) to a
 * post; boosts decode as the boosted status. The caller owns the tree and the post. */
#ifndef BV_CODEC_MASTODON_H
#define BV_CODEC_MASTODON_H

#include "codec/codec_util.h"

/* 1 when the object looks like a Status (id, created_at, content, account, uri). */
int bv_mastodon_sniff(yajl_val v);
/* A Status (or, with BV_CODEC_AS_DELETE, a deleted one) to a post; see codec_util.h. */
bv_decode bv_mastodon_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                             bv_skip *why);

#endif
