/* pseudo.h: pseudonymisation of authors with a keyed hash (HMAC-SHA256, truncated to
 * BV_PSEUDO_LEN bytes). The same key gives the same pseudonym for the same (platform, raw id), so
 * distinct authors can be counted without knowing who they are. The key is read from
 * BLIKVELD_PSEUDONYM_KEY or created once as STATE_DIR/pseudonym.key (mode 0600). */
#ifndef BV_ENGINE_PSEUDO_H
#define BV_ENGINE_PSEUDO_H

#include "engine/post.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bv_pseudo bv_pseudo;

/* Makes a pseudonymiser from key bytes (copied). Caller frees with bv_pseudo_free. */
bv_pseudo *bv_pseudo_new(const void *key, size_t keylen);
/* Key from $BLIKVELD_PSEUDONYM_KEY, else state_dir/pseudonym.key (created with 32 random bytes,
 * mode 0600, state_dir created 0700 when missing). errstr gets a message on failure. */
int bv_pseudo_load(bv_pseudo **out, const char *state_dir, char *errstr, size_t errlen);
void bv_pseudo_free(bv_pseudo *ps);
/* out = HMAC(key, platform name ":" raw)[0..BV_PSEUDO_LEN). raw is borrowed. Uses the
 * pseudonymiser's own HMAC state: one thread at a time per bv_pseudo. */
void bv_pseudo_author(const bv_pseudo *ps, bv_platform platform, const char *raw, size_t len,
                      uint8_t out[BV_PSEUDO_LEN]);

#endif
