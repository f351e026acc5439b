/* mastodon.h: the live Mastodon source: one streaming timeline over Server-Sent Events
 * (GET /api/v1/streaming/public, /public/local, /hashtag?tag=..., with a user token: since
 * Mastodon 4.2 every stream needs one). `update` and `status.update` become posts, `delete`
 * becomes a delete; everything else is counted and skipped.
 *
 * Behaviour (../shared/PLATFORMS.md §1): the server writes `:)` and then `:thump` every 15 s, so
 * a stream that stays silent for stall_ms (default 45 s: three heartbeats) is dead and is
 * reconnected. Network errors, 5xx and stalls back off exponentially from backoff_min_ms to
 * backoff_max_ms; 400, 401 and 404 mean the configuration is wrong (unknown stream, token) and
 * retry only at backoff_max_ms, with the state saying so. Mastodon sends no event ids, so a
 * reconnect cannot resume: what was posted in between is not seen (the stats count reconnects).
 * The token goes only into the Authorization header, never into logs.
 *
 * Ownership: the source borrows the loop, curl loop, codec context and clock; posts handed to the
 * callback are the callback's to keep or clear. */
#ifndef BV_SOURCE_MASTODON_H
#define BV_SOURCE_MASTODON_H

#include "codec/codec.h"
#include "core/clock.h"
#include "engine/post.h"
#include "net/curl_loop.h"

#include <stdint.h>

struct event_base;

typedef struct bv_mastodon bv_mastodon;

/* Takes *post (the callback owns it from here). */
typedef void bv_post_cb(void *arg, bv_post *post);

typedef struct bv_mastodon_opts {
    const char *name;  /* for logs and stats ("mastodon" when NULL) */
    const char *url;   /* the stream's URL */
    const char *token; /* the user token; may be NULL (then the server says 401) */
    int64_t stall_ms, backoff_min_ms, backoff_max_ms; /* 0: 45 s, 1 s, 60 s */
    const bv_clock *clock;                            /* default the system clock */
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
} bv_mastodon_opts;

typedef struct bv_source_stats {
    const char *state; /* "connecting", "streaming", "backing off", "failed" */
    uint64_t posts, deletes, skipped, bytes, errors, reconnects;
    int64_t last_post_ms; /* wall clock of the last post, 0 before */
    long last_status;     /* the last HTTP status (0 before any) */
    char last_error[128];
} bv_source_stats;

/* Starts connecting on the loop. NULL with a message when the options are unusable. */
bv_mastodon *bv_mastodon_new(struct event_base *base, bv_curl_loop *cl, const bv_mastodon_opts *o,
                             char *errstr, size_t errlen);
void bv_mastodon_stats_get(const bv_mastodon *m, bv_source_stats *out);
void bv_mastodon_free(bv_mastodon *m);

#endif
