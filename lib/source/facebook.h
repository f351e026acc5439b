/* facebook.h: the Facebook Page webhook receiver (../shared/PLATFORMS.md §4). Meta POSTs to us:
 * blikveld listens on a loopback address behind a public HTTPS reverse proxy (Meta requires a
 * valid certificate), and sees the Pages whose app subscription the team set up; personal
 * profiles, personal events and private groups are not reachable through any API.
 *
 * - GET with hub.mode=subscribe and the right hub.verify_token answers 200 with hub.challenge,
 *   byte for byte; anything else 403.
 * - POST: the body (at most max_body, else 413) must carry X-Hub-Signature-256 =
 *   sha256=HMAC-SHA256(app secret, the exact bytes), compared in constant time; unsigned or
 *   wrongly signed bodies get 403 and are counted. gzip bodies get 415 (counted). A good body is
 *   answered 200 at once; then every entry's `feed` change becomes a post (or a delete), other
 *   fields are skipped, and Meta's retries are dropped: a change seen before (entry, post or
 *   comment id, verb, time) within the last 4096 counts once.
 *
 * Ownership: the receiver borrows the loop, codec context and clock; secrets are copied and wiped
 * at free; posts handed to the callback are the callback's. */
#ifndef BV_SOURCE_FACEBOOK_H
#define BV_SOURCE_FACEBOOK_H

#include "source/stream.h"

typedef struct bv_facebook bv_facebook;

typedef struct bv_facebook_opts {
    const char *name;         /* "facebook" when NULL */
    const char *listen;       /* HOST:PORT, e.g. 127.0.0.1:8443 (port 0: any free one) */
    const char *app_secret;   /* required */
    const char *verify_token; /* required */
    size_t max_body;          /* default 1 MiB */
    const bv_clock *clock;
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
} bv_facebook_opts;

typedef struct bv_facebook_stats {
    bv_source_stats src;
    uint64_t verified, rejected, duplicates, deliveries;
} bv_facebook_stats;

bv_facebook *bv_facebook_new(struct event_base *base, const bv_facebook_opts *o, char *errstr,
                             size_t errlen);
/* The port it listens on (useful with port 0). */
int bv_facebook_port(const bv_facebook *f);
void bv_facebook_stats_get(const bv_facebook *f, bv_facebook_stats *out);
void bv_facebook_free(bv_facebook *f);

#endif
