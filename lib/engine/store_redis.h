/* store_redis.h: the shared window store: counters and distinct-author HyperLogLogs in Redis, so
 * that several processes (one per platform, or several machines) count into one picture.
 *
 * Each process keeps a local view of every series (the counts and HyperLogLog registers it last
 * read from Redis, plus its own deltas since) and answers reads from it on the next loop turn,
 * as the memory store does: a read never waits on Redis, so detectors decide on every post.
 * Deltas go to Redis in rounds, at most flush_ms apart, and when a bucket closes: one script per
 * series and round (its increments, PFADDs and expiry as one atomic step), so commands grow with
 * rules x buckets, never with posts. A round also learns whether anyone else wrote the series and
 * then reads back its window. While Redis is away, deltas wait (up to max_pending entries) and go
 * on reconnect, exactly once (each round carries a sequence number Redis remembers). Claims go
 * after the round's deltas, so a process claims an alert on the counts it has flushed.
 *
 * Keys (every key of one rule shares the hash tag {NS/RULE}; NS is "live/EVENT" or
 * "drill/EVENT/RUN"):
 *   bv:{NS/RULE}:BUCKET_MS:START:n   the bucket's count (INCRBY)
 *   bv:{NS/RULE}:BUCKET_MS:START:a   the bucket's distinct authors (PFADD)
 *   bv:{NS/RULE}:BUCKET_MS:v         the series' version: bumped by every round that wrote
 *   bv:{NS/RULE}:BUCKET_MS:s:ID      the last round applied from process instance ID
 *   bv:{NS/RULE}:ep                  the rule's episode: F|R:ID:ALERT (firing or resolved)
 * Bucket keys expire 2 x the series' span + 1 h after their last write (wall clock).
 *
 * The connection (net/redis_conn.h) resolves host names with evdns and guards connecting and the
 * handshake with the loop's timers (hiredis 0.14 has neither); rounds are guarded the same way.
 *
 * Ownership: the store borrows `base` and the clock (they outlive it), copies the address, and
 * owns its connection, series, deltas and queued calls; bv_store_free answers what is queued with
 * BV_EAGAIN (deltas not yet in Redis are lost then: drain first). */
#ifndef BV_ENGINE_STORE_REDIS_H
#define BV_ENGINE_STORE_REDIS_H

#include "core/clock.h"
#include "engine/store.h"
#include "net/redis_url.h"

struct event_base;

typedef struct bv_store_redis_opts {
    const bv_redis_addr *addr; /* borrowed for the call */
    const char *password;      /* overrides the address's; may be NULL */
    int64_t flush_ms;          /* the longest deltas wait before a round; default 250 */
    int64_t timeout_ms;        /* connect, handshake and round timeout; default 5000 */
    uint64_t max_pending;      /* author entries and buckets kept while Redis is away; 1e6 */
    const bv_clock *clock;     /* for latencies; default the system clock */
} bv_store_redis_opts;

/* Starts connecting at once (on the loop); calls made before the connection is up wait. NULL
 * with a message in errstr when the options are unusable or memory runs out. */
bv_store *bv_store_redis_new(struct event_base *base, const bv_store_redis_opts *opts, char *errstr,
                             size_t errlen);

#endif
