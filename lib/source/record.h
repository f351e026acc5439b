/* record.h: the live recorder. Every post a live source hands over becomes one line of a
 * recording, a blikveld recording envelope (README "Recordings") that `blikveld replay` reads:
 *   {"v":1,"platform":"mastodon","received_at":"2026-11-28T06:30:00.123Z","kind":"post",
 *    "payload":{...the platform's object, scrubbed...}}
 * A post's payload is its platform object with every field that names a person pseudonymised
 * or removed (codec/scrub.h); a delete's payload is only the deleted post's id (as it appears
 * in scrubbed recordings: a Bluesky id holds the pseudonymous DID). received_at is the post's
 * received_ms (the clock's time when it has none).
 *
 * Files: DIR/EVENT-YYYY-MM-DD.jsonl, one per UTC day of the clock when the line is written (not
 * of received_at: Jetstream's receive time comes from its server and is old after a cursor
 * rewind, and would put fresh lines into files retention is about to delete), opened
 * O_APPEND|O_CREAT with mode 0600 in a directory created 0700. Each line goes to the kernel in
 * one write(2) as soon as it is made, and a line that could not be written whole (disk full) is
 * cut off again: a crash of blikveld loses no line, a crash of the machine what the kernel had
 * not yet written back (bv_recorder_flush and bv_recorder_free wait for the disk). One process
 * writes one event's files.
 *
 * Retention: when the recorder starts and whenever it opens a new day's file, it deletes the
 * regular files DIR/EVENT-YYYY-MM-DD.jsonl whose whole day ended more than retention_ms ago (by
 * the date in the name: with 30 days a line is kept at least 30 and at most 31 days). Nothing
 * else in DIR is touched, other events' files included.
 *
 * Errors (an unwritable directory, a full disk, a payload that cannot be parsed or scrubbed)
 * never stop the caller: the line is dropped, counted in the stats, and logged (core/log.h) at
 * most once a minute with the count so far.
 *
 * Ownership: the recorder borrows the pseudonymiser and the clock (they outlive it) and copies
 * the strings of its options. Posts are borrowed for the call; raw->tree may be changed in
 * place (scrubbed). One thread at a time. */
#ifndef BV_SOURCE_RECORD_H
#define BV_SOURCE_RECORD_H

#include "core/clock.h"
#include "engine/post.h"
#include "engine/pseudo.h"
#include "source/stream.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bv_recorder bv_recorder;

#define BV_RECORDER_RETENTION_DEFAULT (-1)                     /* retention_ms: 30 days */
#define BV_RECORDER_RETENTION_DEFAULT_MS (30LL * 86400 * 1000) /* what that means */

typedef struct bv_recorder_opts {
    const char *dir;   /* daily files here; created (mode 0700, parents too) when missing */
    const char *path;  /* and/or one file every line also goes to (`run --record FILE`):
                          appended to, mode 0600, no days, no retention. One of the two is
                          required; with both, each line goes to both. */
    const char *event; /* required: the files' prefix; letters, digits, '-', '_', '.' */
    /* BV_RECORDER_RETENTION_DEFAULT: 30 days; 0: keep every file; > 0: delete older files */
    int64_t retention_ms;
    const bv_pseudo *pseudo; /* required */
    const bv_clock *clock;   /* NULL: the system clock */
} bv_recorder_opts;

typedef struct bv_recorder_stats {
    uint64_t lines;         /* lines written */
    uint64_t bytes;         /* bytes written */
    uint64_t errors;        /* lines lost, and failed retention scans */
    uint64_t files_deleted; /* by retention */
    char path[4096];        /* the file lines go to now ("" before the first) */
    char last_error[256];   /* "" before the first error */
} bv_recorder_stats;

/* Opens the one file; creates the directory, deletes what retention says and opens today's file: an
 * unusable directory is found here. NULL with a message in errstr on bad options or a directory
 * that cannot be created or written. */
bv_recorder *bv_recorder_new(const bv_recorder_opts *o, char *errstr, size_t errlen);

/* Records one post: kind "delete" with the id for BV_POST_DELETE, else kind "post" with the
 * scrubbed raw payload (raw->tree, or raw->json parsed when tree is NULL). 0, or the error that
 * dropped the line (counted and logged): BV_EINVAL (no payload, or one that is not a JSON
 * object), BV_ELIMIT (nested too deep), BV_ENOMEM, BV_EIO (the file). */
int bv_recorder_write(bv_recorder *r, const bv_post *post, const bv_raw *raw);

/* Waits until what was written is on the disk (fdatasync; blocks). 0 or BV_EIO. */
int bv_recorder_flush(bv_recorder *r);

void bv_recorder_stats_get(const bv_recorder *r, bv_recorder_stats *out);

/* Flushes, closes and frees; r may be NULL or half built. */
void bv_recorder_free(bv_recorder *r);

#endif
