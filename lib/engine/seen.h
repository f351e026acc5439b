/* seen.h: the post ids seen recently, so a post that arrives twice (X's stream may repeat posts,
 * a Mastodon status arrives on several streams, overlapping recordings are merged) counts once.
 * Two generations of exact sets, rotated by event time: an id is remembered for at least the
 * horizon and at most twice it, so memory follows the posts of two horizons, never all posts.
 * Ownership: the set copies the ids it keeps; bv_seen_free releases them. */
#ifndef BV_ENGINE_SEEN_H
#define BV_ENGINE_SEEN_H

#include "engine/post.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bv_seen bv_seen;

/* horizon_ms > 0. NULL when out of memory. */
bv_seen *bv_seen_new(int64_t horizon_ms);
void bv_seen_free(bv_seen *s);

/* now_ms is the latest event time (it only drives the rotation). Returns 1 when (platform, id)
 * was seen within the horizon, else remembers it and returns 0; BV_ENOMEM on failure. */
int bv_seen_check(bv_seen *s, bv_platform platform, const char *id, int64_t now_ms);
/* Ids remembered now (both generations). */
size_t bv_seen_size(const bv_seen *s);

#endif
