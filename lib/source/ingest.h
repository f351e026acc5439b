/* ingest.h: where live sources hand their posts to the pipeline. Sources produce whenever bytes
 * arrive, the pipeline takes one post at a time (bv_pipeline_push's contract): in between, a
 * bounded FIFO. A post offered while the queue is full is dropped and counted (a source can look
 * at bv_ingest_room first and pause its transfer instead). Posts go to the pipeline on the loop,
 * never inside bv_ingest_offer, and the ingest yields to the loop every few hundred posts.
 *
 * Ownership: the ingest borrows the loop and the pipeline (they outlive it) and owns the queued
 * posts; bv_ingest_free clears what is still queued. */
#ifndef BV_SOURCE_INGEST_H
#define BV_SOURCE_INGEST_H

#include "engine/pipeline.h"
#include "engine/post.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct bv_ingest bv_ingest;

typedef struct bv_ingest_stats {
    uint64_t offered, pushed, dropped, errors, advances;
    size_t queued, queued_max;
} bv_ingest_stats;

/* max_queue: posts waiting at most (0: 10000). NULL when out of memory. */
bv_ingest *bv_ingest_new(struct event_base *base, bv_pipeline *pl, size_t max_queue);
void bv_ingest_free(bv_ingest *in);

/* Takes *post (cleared in every case). BV_OK, or BV_ELIMIT when the queue is full (dropped). */
int bv_ingest_offer(bv_ingest *in, bv_post *post);
/* Live: the watermark follows the wall clock (bv_pipeline_advance), after the posts queued now
 * and never while the pipeline holds a post. Calls made before that happens merge (the latest
 * time wins). */
void bv_ingest_advance(bv_ingest *in, int64_t now_ms);
/* Backpressure for the sources (a bv_full_cb): 1 when a source should stop reading: the queue
 * holds BV_INGEST_HIGH posts or half its size, whichever is less; a source that is paused
 * already goes on only once the queue is down to a quarter of that. */
#define BV_INGEST_HIGH 4096
int bv_ingest_full(const bv_ingest *in, int paused);
/* Posts that can still be offered without a drop. */
size_t bv_ingest_room(const bv_ingest *in);
/* cb(arg) once, on the loop, when the queue is empty and the pipeline idle. BV_OK or BV_ENOMEM. */
int bv_ingest_drain(bv_ingest *in, void (*cb)(void *arg), void *arg);
void bv_ingest_stats_get(const bv_ingest *in, bv_ingest_stats *out);

#endif
