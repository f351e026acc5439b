/* stream.h: a live source that holds one never-ending HTTP response open and turns what arrives
 * into posts. Two kinds (../shared/PLATFORMS.md):
 *
 * - BV_STREAM_MASTODON: a Mastodon streaming timeline over Server-Sent Events (GET
 *   /api/v1/streaming/public, /public/local, /hashtag?tag=..., with a user token: since 4.2 every
 *   stream needs one). `update` and `status.update` become posts, `delete` a delete; the rest is
 *   counted and skipped. The server writes `:thump` every 15 s, so stall_ms defaults to 45 s.
 *   Mastodon documents no backoff: exponential from 1 s to 60 s; 400, 401, 403 and 404 mean the
 *   configuration is wrong and retry only at the longest wait, the state saying "failed".
 *   Mastodon sends no event ids, so a reconnect cannot resume.
 * - BV_STREAM_X: the X API v2 filtered stream, NDJSON over chunked HTTP (GET
 *   /2/tweets/search/stream with an app-only bearer token). Blank lines are keep-alives (at
 *   least every 20 s: stall_ms defaults to 20 s); each other line is a message (posts, in-stream
 *   errors, new message types: decoded or counted as skipped). X's documented reconnects: at once
 *   after a drop; then network errors back off linearly (+250 ms to 16 s), HTTP errors
 *   exponentially (5 s to 320 s), 429 (and the legacy 420) exponentially from 60 s. 401, 403 and
 *   409 (no stream rules) say "failed" and keep the HTTP backoff.
 *
 * Every byte re-arms the stall timer (heartbeats included); a stall drops the connection. The
 * token goes only into the Authorization header, never into logs or stats.
 *
 * Ownership: the source borrows the loop, curl loop, codec context and clock; posts handed to the
 * callback are the callback's to keep or clear. */
#ifndef BV_SOURCE_STREAM_H
#define BV_SOURCE_STREAM_H

#include "codec/codec.h"
#include "core/clock.h"
#include "engine/post.h"
#include "net/curl_loop.h"

#include <stdint.h>
#include <yajl/yajl_tree.h>

struct event_base;

typedef struct bv_stream bv_stream;

typedef enum { BV_STREAM_MASTODON, BV_STREAM_X } bv_stream_kind;

/* What a post was decoded from, for the recorder: the platform's own object (the payload of a
 * recording envelope), either parsed (tree) or as JSON text (json[0..len), already checked by the
 * codec: UTF-8, depth, syntax). Borrowed for the call; the callback may change the tree in place.
 * Both empty when there is nothing to keep (a Mastodon `delete` is only an id). */
typedef struct bv_raw {
    yajl_val tree;
    const char *json;
    size_t len;
} bv_raw;

/* Takes *post (the callback owns it from here); raw is borrowed for the call (never NULL). */
typedef void bv_post_cb(void *arg, bv_post *post, const bv_raw *raw);

/* Backpressure: 1 when the consumer of the posts cannot take more now. paused says whether the
 * source is pausing already (so the answer can have hysteresis). */
typedef int bv_full_cb(void *arg, int paused);

/* Waits between connections, in ms; 0 takes the kind's documented default. */
typedef struct bv_stream_backoff {
    int64_t net_step, net_max;  /* network errors and stalls (X: linear by step) */
    int64_t http_min, http_max; /* HTTP errors (exponential) */
    int64_t rate_min, rate_max; /* 429 / 420 (exponential) */
} bv_stream_backoff;

typedef struct bv_stream_opts {
    bv_stream_kind kind;
    const char *name;  /* for logs and stats (the kind's name when NULL) */
    const char *url;   /* http:// or https:// */
    const char *token; /* bearer token; may be NULL (then the server says 401) */
    int64_t stall_ms;  /* 0: the kind's default */
    bv_stream_backoff backoff;
    size_t max_line;       /* longest message accepted (0: 1 MiB); longer ones are counted */
    const bv_clock *clock; /* default the system clock */
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
    /* May be NULL. Asked (with arg) before taking more bytes: 1 when whoever takes the posts is
     * full, so the source stops reading (TCP then slows the server down) and asks again every
     * few ms, with paused = 1, whether it may go on. A pause is not a stall. */
    bv_full_cb *full;
} bv_stream_opts;

typedef struct bv_source_stats {
    const char *state; /* "connecting", "streaming", "backing off", "failed" */
    uint64_t posts, deletes, skipped, bytes, errors, reconnects;
    uint64_t pauses;      /* times reading paused because the pipeline was behind */
    int64_t last_post_ms; /* wall clock of the last post, 0 before */
    long last_status;     /* the last HTTP status (0 before any) */
    int64_t next_wait_ms; /* the wait before the coming connection */
    char last_error[128];
} bv_source_stats;

/* Starts connecting on the loop. NULL with a message when the options are unusable. */
bv_stream *bv_stream_new(struct event_base *base, bv_curl_loop *cl, const bv_stream_opts *o,
                         char *errstr, size_t errlen);
void bv_stream_stats_get(const bv_stream *m, bv_source_stats *out);
void bv_stream_free(bv_stream *m);

#endif
