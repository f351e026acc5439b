/* lines.c: the NDJSON line framer; see lines.h. One buffer with a read offset: lines are handed
 * out in place, consumed bytes are skipped, and the buffer is compacted only when it must grow. */
#include "net/lines.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

/* A buffer this much bigger than a line may be after a large feed is released when it empties. */
#define LINES_KEEP_CAP 65536

struct bv_lines {
    char *buf;
    size_t cap;   /* bytes allocated */
    size_t start; /* first unconsumed byte */
    size_t end;   /* one past the last buffered byte; buf[end] is always allocated */
    size_t scan;  /* bytes in [start, scan) hold no '\n': never searched twice */
    size_t max_line;
    uint64_t done;  /* lines completed (terminated, or ended by finish) */
    int discarding; /* inside a too-long line that was already reported */
    int finished;   /* bv_lines_finish was called: no more feeds */
    int tail_done;  /* the unterminated last line was handed out (or there was none) */
    char spare[1];  /* data of too-long lines: a writable byte outside the buffer */
};

bv_lines *bv_lines_new(size_t max_line)
{
    if (max_line == 0) {
        return NULL;
    }
    bv_lines *lr = calloc(1, sizeof *lr);
    if (lr == NULL) {
        goto fail;
    }
    /* keeps max_line + 2 and the buffer arithmetic clear of overflow */
    lr->max_line = max_line < ((size_t)-1) / 4 ? max_line : ((size_t)-1) / 4;
    return lr;
fail:
    bv_lines_free(lr);
    return NULL;
}

void bv_lines_free(bv_lines *lr)
{
    if (lr == NULL) {
        return;
    }
    free(lr->buf);
    free(lr);
}

size_t bv_lines_buffered(const bv_lines *lr)
{
    return lr->end - lr->start;
}

/* Makes room for len more bytes plus the spare byte after them. Moves the unconsumed bytes to the
 * front only when the tail is too short, so each byte is moved a bounded number of times. */
static int make_room(bv_lines *lr, size_t len)
{
    if (lr->start == lr->end) {
        lr->start = lr->end = lr->scan = 0;
        if (lr->cap > LINES_KEEP_CAP && lr->cap > 4 * (lr->max_line + 2)) {
            free(lr->buf);
            lr->buf = NULL;
            lr->cap = 0;
        }
    }
    if (len > ((size_t)-1) / 2 - lr->end) {
        return BV_ENOMEM;
    }
    if (lr->end + len + 1 <= lr->cap) {
        return BV_OK;
    }
    if (lr->start > 0) {
        memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
        lr->end -= lr->start;
        lr->scan -= lr->start;
        lr->start = 0;
    }
    size_t need = lr->end + len + 1;
    if (need <= lr->cap) {
        return BV_OK;
    }
    size_t cap = lr->cap ? lr->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    char *p = realloc(lr->buf, cap);
    if (p == NULL) {
        return BV_ENOMEM;
    }
    lr->buf = p;
    lr->cap = cap;
    return BV_OK;
}

int bv_lines_feed(bv_lines *lr, const char *buf, size_t len)
{
    if (lr->finished) {
        return BV_EINVAL;
    }
    if (len == 0) {
        return BV_OK;
    }
    if (lr->discarding) {
        /* the rest of a too-long line: drop it here, never buffer it */
        const char *nl = memchr(buf, '\n', len);
        if (nl == NULL) {
            return BV_OK;
        }
        size_t skip = (size_t)(nl - buf) + 1;
        buf += skip;
        len -= skip;
        lr->discarding = 0;
        lr->done++;
        if (len == 0) {
            return BV_OK;
        }
    }
    int rc = make_room(lr, len);
    if (rc != BV_OK) {
        return rc;
    }
    memcpy(lr->buf + lr->end, buf, len);
    lr->end += len;
    return BV_OK;
}

static void too_long(bv_lines *lr, bv_line *out)
{
    lr->spare[0] = '\0';
    out->data = lr->spare;
    out->len = 0;
    out->too_long = 1;
    out->lineno = lr->done + 1;
}

int bv_lines_next(bv_lines *lr, bv_line *out)
{
    if (lr->discarding || lr->start == lr->end) {
        return 0;
    }
    char *nl = memchr(lr->buf + lr->scan, '\n', lr->end - lr->scan);
    if (nl != NULL) {
        size_t pos = (size_t)(nl - lr->buf);
        size_t n = pos - lr->start;
        if (n > 0 && lr->buf[pos - 1] == '\r') {
            n--;
        }
        if (n > lr->max_line) {
            too_long(lr, out);
        } else {
            out->data = lr->buf + lr->start;
            out->len = n;
            out->too_long = 0;
            out->lineno = lr->done + 1;
        }
        lr->done++;
        lr->start = lr->scan = pos + 1;
        return 1;
    }
    lr->scan = lr->end;
    /* max_line bytes and a possible '\r' fit; anything more cannot become a valid line */
    if (lr->end - lr->start > lr->max_line + 1) {
        too_long(lr, out);
        lr->discarding = 1;
        lr->start = lr->end = lr->scan = 0;
        return 1;
    }
    return 0;
}

int bv_lines_finish(bv_lines *lr, bv_line *out)
{
    lr->finished = 1;
    if (lr->tail_done) {
        return 0;
    }
    if (bv_lines_next(lr, out)) {
        return 1;
    }
    lr->tail_done = 1;
    if (lr->discarding || lr->start == lr->end) {
        return 0;
    }
    size_t n = lr->end - lr->start;
    if (lr->buf[lr->end - 1] == '\r') {
        n--;
    }
    if (n > lr->max_line) {
        too_long(lr, out);
    } else {
        out->data = lr->buf + lr->start;
        out->len = n;
        out->too_long = 0;
        out->lineno = lr->done + 1;
    }
    lr->done++;
    lr->start = lr->scan = lr->end;
    return 1;
}
