/* envelope.h: blikveld's recording envelope
 * {"v":1,"platform":"<name>","received_at":"<ISO 8601>","kind":"post|delete","payload":<JSON>}:
 * checks the envelope and decodes the payload with the platform's codec from the same tree.
 * The caller owns the tree and the post. */
#ifndef BV_CODEC_ENVELOPE_H
#define BV_CODEC_ENVELOPE_H

#include "codec/codec_util.h"

/* 1 when the object has "v", "platform" and "payload". */
int bv_envelope_sniff(yajl_val v);
/* One envelope to a post. v must be 1, platform known, received_at an ISO 8601 time, kind
 * "post" (the default) or "delete", else "bad_envelope". received_ms = received_at. A delete's
 * payload is the post's id (a string) or the platform object. See codec_util.h. */
bv_decode bv_envelope_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                             bv_skip *why);

#endif
