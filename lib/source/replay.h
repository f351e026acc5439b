/* replay.h: the recording source. Reads recordings (files, or "-" for stdin) line by line,
 * auto-detects each line's platform shape, merges several inputs by event time, paces by event
 * time (--speed N) or runs flat out (--speed max), and pushes posts into a pipeline. Lines that
 * are not posts are counted by reason and, with an errors stream, listed as "path:line: reason".
 * At the end it closes every bucket (bv_pipeline_finish) and calls done.
 *
 * Ownership: the replay borrows the event base, codec context, pipeline, clock and errors stream
 * (they outlive it) and owns its inputs (files it opened are closed by bv_replay_free). */
#ifndef BV_SOURCE_REPLAY_H
#define BV_SOURCE_REPLAY_H

#include "codec/codec.h"
#include "core/clock.h"
#include "engine/pipeline.h"
#include "engine/post.h"

#include <stdint.h>
#include <stdio.h>

struct event_base;

#define BV_REPLAY_MAX_LINE_DEFAULT (1u << 20) /* 1 MiB */

typedef struct bv_replay_opts {
    const char *const *paths; /* "-" is stdin */
    size_t npaths;
    double speed;          /* N times real time; 0 = as fast as possible */
    size_t max_line;       /* bytes; BV_REPLAY_MAX_LINE_DEFAULT when 0 */
    FILE *errors;          /* NULL, or where skipped lines are listed */
    int progress;          /* print progress on stderr (callers pass isatty(2)) */
    const bv_clock *clock; /* pacing and progress */
} bv_replay_opts;

typedef struct bv_replay_stats {
    uint64_t lines, blank, bytes;
    uint64_t skipped[BV_SKIP__COUNT];
    uint64_t shapes[BV_SHAPE__COUNT];
    int64_t started_mono, ended_mono;
} bv_replay_stats;

typedef struct bv_replay bv_replay;
typedef void bv_replay_done_cb(void *arg, int err);

/* Opens every input; errstr says which one failed and why. */
bv_replay *bv_replay_new(struct event_base *base, const bv_replay_opts *opts,
                         const bv_codec_ctx *codec, bv_pipeline *pl, char *errstr, size_t errlen);
/* Starts reading on the loop; done(arg, err) runs exactly once when every input is consumed and
 * every bucket closed, or on a read error (err < 0). */
int bv_replay_start(bv_replay *r, bv_replay_done_cb *done, void *arg);
void bv_replay_stats_get(const bv_replay *r, bv_replay_stats *out);
void bv_replay_free(bv_replay *r);

#endif
