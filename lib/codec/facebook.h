/* facebook.h: the Facebook codec: one Page webhook `change` ({"field":"feed","value":{...}}) to
 * a post; verb add/edited -> post, remove -> DELETE, others "other_kind". The caller owns the
 * tree and the post. */
#ifndef BV_CODEC_FACEBOOK_H
#define BV_CODEC_FACEBOOK_H

#include "codec/codec_util.h"

/* One change object to a post; see codec_util.h. */
bv_decode bv_facebook_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                             bv_skip *why);

#endif
