/* jetstream.h: the live Bluesky source: Jetstream v1 /subscribe over a WebSocket (../shared/
 * PLATFORMS.md §2), e.g. wss://jetstream2.us-east.bsky.network/subscribe?wantedCollections=
 * app.bsky.feed.post. No authentication. Each text message is one event: app.bsky.feed.post
 * creates become posts, deletes become DELETE posts, everything else (other collections, updates,
 * identity and account events) is counted as skipped; a message that is not a Jetstream event
 * (not JSON, too deep, no kind) or a binary one (compression is not supported) is counted as an
 * error and the stream goes on.
 *
 * Cursor: the time_us of the last event handled (of any kind) is the cursor. It is written to
 * STATE_DIR/bluesky-NAME.cursor (atomically) at most every cursor_save_ms and when the source is
 * freed. Once there is a cursor (from an event, or from the file after a restart), every
 * connection asks for cursor = that time_us - rewind_ms, in place of a cursor parameter of the
 * configured URL (which counts only for a first start, with no cursor file): Jetstream
 * time-stamps events when its own instance ingests them, so a few seconds of rewind cover events
 * it sent a connection out of order, or another instance stamped differently. The replayed
 * overlap is dropped again: an event whose time_us is not after the last one handled before the
 * reconnect and whose (did, collection, rkey, rev) -- (did, kind, time_us) for identity and account
 * events -- is among the last 4096 handled is counted as skipped, not handed on. After a restart
 * that memory is empty, so up to rewind_ms + cursor_save_ms of events can come twice (the
 * pipeline's seen set drops repeated post ids).
 *
 * The source also asks maxMessageSizeBytes = max_message (unless the URL sets it) so that
 * Jetstream skips events we could not take; a message over max_message anyway closes the
 * connection (1009), counts as an error, and the source reconnects.
 *
 * Reconnects: exponential waits from backoff_min_ms to backoff_max_ms, starting over once a
 * connection has delivered a message. An HTTP 4xx other than 429 at the upgrade means the
 * configuration is wrong: state "failed", retried at the longest wait; 429 waits at least its
 * Retry-After. A connection silent for stall_ms (Jetstream pings every 30 s) is dropped and made
 * again; stall_ms also bounds connecting (DNS, TCP, TLS, upgrade).
 *
 * Ownership: the source borrows the event base, the evdns base, the codec context and the clock;
 * it copies the strings of the options. Posts handed to the callback are the callback's to keep
 * or clear; raw (the message text) is borrowed for the call. */
#ifndef BV_SOURCE_JETSTREAM_H
#define BV_SOURCE_JETSTREAM_H

#include "source/stream.h"

#include <stdint.h>

struct event_base;
struct evdns_base;

typedef struct bv_jetstream bv_jetstream;

typedef struct bv_jetstream_opts {
    const char *name;      /* for logs, stats and the cursor file ("bluesky" when NULL) */
    const char *url;       /* ws:// or wss://, used as given (plus cursor, maxMessageSizeBytes) */
    const char *state_dir; /* where the cursor is kept (required) */
    const char *ca_file;   /* wss: trust only this PEM file (tests); NULL: the system store */
    int64_t stall_ms;      /* 0: 60 s */
    int64_t backoff_min_ms, backoff_max_ms; /* 0: 1 s, 60 s */
    int64_t cursor_save_ms;                 /* 0: 5 s */
    int64_t rewind_ms;                      /* 0: 5 s */
    size_t max_message;                     /* 0: 1 MiB */
    const bv_clock *clock;                  /* default the system clock */
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
} bv_jetstream_opts;

/* Starts connecting on base (dns resolves the host; it may be NULL for an IP address). NULL with
 * a message when the options are unusable. */
bv_jetstream *bv_jetstream_new(struct event_base *base, struct evdns_base *dns,
                               const bv_jetstream_opts *o, char *errstr, size_t errlen);
void bv_jetstream_stats_get(const bv_jetstream *j, bv_source_stats *out);
/* The time_us of the last event handled (0 before any, and none saved). */
int64_t bv_jetstream_cursor(const bv_jetstream *j);
/* Saves the cursor, closes the connection, frees the source (NULL is fine). */
void bv_jetstream_free(bv_jetstream *j);

#endif
