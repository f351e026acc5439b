/* reddit.h: the live Reddit source: a subreddit's `new` listing, polled (../shared/PLATFORMS.md
 * §6). Each poll asks for what came after the newest post seen (`before=<fullname>`, limit 100,
 * raw_json=1); the newest fullname is kept in STATE_DIR/reddit-NAME.cursor, so a restart goes on
 * from there. A deleted anchor makes `before=` answer empty forever: after three empty answers
 * in a row one plain request is made, and posts already seen (the last 1024 names) are dropped.
 *
 * Pace: every poll_ms (default 60 s: anonymous access allows about 10 queries a minute), never
 * faster than the rate-limit headers allow (X-Ratelimit-Remaining, a float string, over
 * X-Ratelimit-Reset seconds); with no budget left, or on 429, it waits for the reset (60 s when
 * the headers are missing). 401, 403 and 404 say "failed" and retry at the longest wait; 5xx and
 * network errors back off exponentially. A token, when given, goes only into the Authorization
 * header.
 *
 * Ownership: as stream.h. */
#ifndef BV_SOURCE_REDDIT_H
#define BV_SOURCE_REDDIT_H

#include "source/stream.h"

typedef struct bv_reddit bv_reddit;

typedef struct bv_reddit_opts {
    const char *name;      /* for logs, stats and the cursor file ("reddit" when NULL) */
    const char *url;       /* the listing, e.g. https://www.reddit.com/r/thehague/new.json */
    const char *token;     /* OAuth bearer token, or NULL (anonymous) */
    const char *state_dir; /* where the cursor is kept (required) */
    int64_t poll_ms;       /* default 60000 */
    int64_t backoff_min_ms, backoff_max_ms; /* 1 s, 10 min */
    int64_t second_ms; /* how long a second of X-Ratelimit-Reset is (1000; tests set less) */
    size_t max_body;   /* default 8 MiB */
    const bv_clock *clock;
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
} bv_reddit_opts;

bv_reddit *bv_reddit_new(struct event_base *base, bv_curl_loop *cl, const bv_reddit_opts *o,
                         char *errstr, size_t errlen);
void bv_reddit_stats_get(const bv_reddit *r, bv_source_stats *out);
/* The newest fullname seen ("" before any). */
const char *bv_reddit_cursor(const bv_reddit *r);
void bv_reddit_free(bv_reddit *r);

#endif
