/* jetstream.h: the Bluesky Jetstream (v1 /subscribe) codec: app.bsky.feed.post creates become
 * posts, deletes become DELETE posts, every other event is "other_kind". The caller owns the tree
 * and the post. */
#ifndef BV_CODEC_JETSTREAM_H
#define BV_CODEC_JETSTREAM_H

#include "codec/codec_util.h"

/* 1 when the object looks like a Jetstream event (did, time_us, kind). */
int bv_jetstream_sniff(yajl_val v);
/* One event to a post; received_ms = time_us / 1000; see codec_util.h. */
bv_decode bv_jetstream_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                              bv_skip *why);

#endif
