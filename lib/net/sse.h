/* sse.h: a sans-IO parser of Server-Sent Events streams (WHATWG HTML §9.2.5 "Parsing an event
 * stream" and §9.2.6 "Interpreting an event stream"), as Mastodon's streaming API writes them.
 * Bytes go in at any boundaries (the parser keeps a pending CR, a split UTF-8 sequence and a
 * partial line); whole events come out through a callback. The stream is decoded as UTF-8 with
 * replacement (invalid bytes become U+FFFD), one leading BOM is dropped, CRLF, LF and CR all end
 * a line, comments (Mastodon's `:)` and `:thump`) are counted, `id` persists across events, and
 * an incomplete event at the end of the stream is discarded.
 *
 * Bounds: a line longer than max_line and an event whose data grows past max_event are dropped
 * (and counted); the stream goes on. Memory stays within about max_line + max_event.
 *
 * Ownership: the parser owns its buffers; an event and its strings are borrowed for the callback.
 */
#ifndef BV_NET_SSE_H
#define BV_NET_SSE_H

#include <stddef.h>
#include <stdint.h>

typedef struct bv_sse bv_sse;

typedef struct bv_sse_event {
    const char *type; /* "message" when the event named none */
    size_t type_len;
    const char *data; /* the data lines joined with LF, without the last LF. The data_len + 1
                         bytes from here are the parser's scratch until the callback returns:
                         the callback may change them (a codec that wants a spare byte after
                         the text may write data[data_len]) */
    size_t data_len;
    const char *id; /* the last event id (persists across events; may be empty) */
    size_t id_len;
} bv_sse_event;

/* Return 0 to go on; anything else stops bv_sse_feed, which returns it. */
typedef int bv_sse_event_cb(void *arg, const bv_sse_event *ev);

typedef struct bv_sse_stats {
    uint64_t events, comments, bytes;
    uint64_t dropped_lines;  /* longer than max_line */
    uint64_t dropped_events; /* data past max_event */
    uint64_t replaced;       /* invalid UTF-8 sequences replaced by U+FFFD */
} bv_sse_stats;

/* max_line, max_event: 0 for the defaults (1 MiB each). NULL when out of memory. */
bv_sse *bv_sse_new(size_t max_line, size_t max_event);
void bv_sse_free(bv_sse *p);

/* Parses len bytes (any boundaries). Returns 0, the callback's non-zero value, or BV_ENOMEM. */
int bv_sse_feed(bv_sse *p, const void *buf, size_t len, bv_sse_event_cb *cb, void *arg);

/* End of stream: what was not dispatched is discarded. The parser can start a new stream after
 * (a reconnect), keeping the last event id and the retry time, as the spec's EventSource does. */
void bv_sse_reset(bv_sse *p);

/* The reconnection time the server asked for (`retry:`), or -1. */
int64_t bv_sse_retry_ms(const bv_sse *p);
/* The last event id (for Last-Event-ID on reconnect); *len may be 0. Borrowed. */
const char *bv_sse_last_id(const bv_sse *p, size_t *len);
void bv_sse_stats_get(const bv_sse *p, bv_sse_stats *out);

#endif
