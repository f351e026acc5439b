/* codec_util.h: what the platform codecs share, internal to lib/codec: member lookup in a yajl
 * tree (ids read from raw number text, never through doubles), time and id checks, and filling
 * a bv_post (owned strings, pseudonymised author, skip bookkeeping). */
#ifndef BV_CODEC_CODEC_UTIL_H
#define BV_CODEC_CODEC_UTIL_H

#include "codec/codec.h"

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

/* Flags for the per-platform decoders. */
#define BV_CODEC_AS_DELETE 1u /* the payload names a deleted post: only its id (and author) */

/* Every platform decoder: v is borrowed (the parsed payload); on BV_DECODE_POST *out is filled
 * (caller frees with bv_post_clear), on BV_DECODE_SKIP *out is left cleared and *why is set. */
typedef bv_decode (*bv_codec_val_fn)(const bv_codec_ctx *ctx, yajl_val v, unsigned flags,
                                     bv_post *out, bv_skip *why);

/* Decodes one platform payload already parsed (the envelope's route in). */
bv_decode bv_codec_decode_value(const bv_codec_ctx *ctx, bv_platform platform, yajl_val v,
                                unsigned flags, bv_post *out, bv_skip *why);

/* Member `key` of object obj, or NULL (obj NULL or not an object, key absent). Borrowed. */
yajl_val bv_json_get(yajl_val obj, const char *key);
/* String member: its bytes (NUL-terminated, owned by the tree) and length; NULL otherwise. */
const char *bv_json_str(yajl_val obj, const char *key, size_t *len);
/* String or number member as text (a number gives its raw digits as written); NULL otherwise. */
const char *bv_json_text(yajl_val obj, const char *key, size_t *len);
/* An integer from a JSON number's raw text or a string of digits (optional '-'). 0 or BV_EINVAL
 * (not an integer, or out of int64 range). */
int bv_json_int64(yajl_val v, int64_t *out);
/* Unix seconds (integer or fraction, number or numeric string) to ms. 0 or BV_EINVAL. */
int bv_json_seconds_ms(yajl_val v, int64_t *ms);
/* True when s[0..n) (s may be NULL) equals the word w. */
int bv_json_str_is(const char *s, size_t n, const char *w);
/* True when v is a string of at least one byte that is not a space, tab, CR or LF. */
int bv_json_has_text(const char *s, size_t len);

/* 1 when s[0..len) is 1..max bytes long and every byte is in the set: digits when digits_only,
 * otherwise any printable ASCII except space, '"', '<', '>', '\\' (ids go into URLs). */
int bv_codec_id_ok(const char *s, size_t len, size_t max, int digits_only);

/* *dst = the concatenation of (const char *, size_t) pairs, ended by a NULL pointer, with a
 * NUL; caller frees. 0 or BV_ENOMEM. */
int bv_codec_join(char **dst, ...);
/* *dst = copy of s[0..len) with a NUL; 0 or BV_ENOMEM. */
int bv_codec_dup(char **dst, const char *s, size_t len);
/* Copies a language tag into p->lang when it fits and looks like a tag; else leaves "". */
void bv_codec_set_lang(bv_post *p, const char *s, size_t len);
/* Pseudonymises raw[0..len) into p->author (sets has_author); nothing when raw is empty. */
void bv_codec_set_author(const bv_codec_ctx *ctx, bv_post *p, const char *raw, size_t len);
/* Turns a filled post into a DELETE: text "" (owned), kind DELETE. 0 or BV_ENOMEM. */
int bv_codec_to_delete(bv_post *p);
/* Clears *out, sets *why, returns BV_DECODE_SKIP: the one way decoders give up. */
bv_decode bv_codec_skip(bv_post *out, bv_skip *why, bv_skip reason);

#endif
