/* lines.h: a sans-IO line framer for NDJSON streams (X v2, recordings): fed bytes, hands out lines.
 * The framer owns its buffer; lines it hands out are borrowed views into it. */
#ifndef BV_NET_LINES_H
#define BV_NET_LINES_H

#include <stddef.h>
#include <stdint.h>

typedef struct bv_lines bv_lines;

/* One line, without its "\n" and without a "\r" right before it.
 * data is borrowed: valid until the next bv_lines_feed/next/finish/free call on the framer. It is
 * writable, and data[len] is a spare byte the caller may overwrite (e.g. with a NUL). A line may
 * hold NUL bytes. Blank lines (keep-alives) come out too, with len 0: callers skip them. */
typedef struct bv_line {
    char *data;
    size_t len;
    uint64_t lineno; /* 1-based number of the line in the stream */
    int too_long;    /* 1: the line was longer than max_line; len is 0 and its bytes are dropped */
} bv_line;

/* A framer that accepts lines of at most max_line bytes (max_line >= 1). NULL when out of memory
 * or max_line is 0. Caller frees with bv_lines_free. */
bv_lines *bv_lines_new(size_t max_line);
/* Frees the framer (NULL is fine). Lines handed out become invalid. */
void bv_lines_free(bv_lines *lr);

/* Appends len bytes of buf (borrowed; copied as needed). Call bv_lines_next until it returns 0
 * after each feed: the framer then holds at most max_line + 1 bytes between feeds, plus the
 * chunk being fed. Bytes of a too-long line are dropped as they arrive, never buffered.
 * Returns 0, BV_ENOMEM, or BV_EINVAL after bv_lines_finish. */
int bv_lines_feed(bv_lines *lr, const char *buf, size_t len);
/* Takes the next complete line: 1 and *out filled, or 0 when no complete line is buffered.
 * A line found to be longer than max_line is returned once, as soon as that is known, with
 * too_long = 1 and len 0; its remaining bytes up to its "\n" are discarded. */
int bv_lines_next(bv_lines *lr, bv_line *out);
/* At end of input: like bv_lines_next, then 1 more with the last, unterminated line if there is
 * one (a final "\r" is removed too), then 0. Call it until it returns 0. After the first call,
 * feed fails with BV_EINVAL. */
int bv_lines_finish(bv_lines *lr, bv_line *out);
/* Bytes currently held (consumed bytes excluded): for tests and metrics. */
size_t bv_lines_buffered(const bv_lines *lr);

#endif
