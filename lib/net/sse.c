/* sse.c: the Server-Sent Events parser; see sse.h. Written here rather than taken from a
 * library: Debian has no C SSE parser apart from browser engines, and this one has to be
 * sans-IO (libcurl hands us bytes at arbitrary boundaries) and bounded.
 *
 * Two stages per byte: a UTF-8 decoder with replacement that follows the WHATWG Encoding
 * standard's algorithm (so a bad sequence gives the same number of U+FFFD a browser gives), then
 * the line and field rules of the event-stream format. Valid sequences pass through unchanged. */
#include "net/sse.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

#define SSE_DEFAULT_MAX (1u << 20)

struct bv_sse {
    size_t max_line, max_event;
    /* UTF-8 decoder */
    uint8_t seq[4];
    int seen, needed;
    uint8_t lower, upper;
    int bom_checked; /* the stream's first code point was looked at */
    /* lines */
    int pending_cr;
    int line_too_long;
    bv_buf line;
    /* the event being built */
    bv_buf data, type, id_buf;
    int event_too_big;
    /* state kept across events */
    bv_buf last_id;
    int64_t retry_ms;
    bv_sse_stats st;
    /* the callback of the feed under way */
    bv_sse_event_cb *cb;
    void *arg;
};

bv_sse *bv_sse_new(size_t max_line, size_t max_event)
{
    bv_sse *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->max_line = max_line ? max_line : SSE_DEFAULT_MAX;
    p->max_event = max_event ? max_event : SSE_DEFAULT_MAX;
    p->lower = 0x80;
    p->upper = 0xBF;
    p->retry_ms = -1;
    return p;
}

void bv_sse_free(bv_sse *p)
{
    if (p == NULL) {
        return;
    }
    bv_buf_free(&p->line);
    bv_buf_free(&p->data);
    bv_buf_free(&p->type);
    bv_buf_free(&p->id_buf);
    bv_buf_free(&p->last_id);
    free(p);
}

void bv_sse_reset(bv_sse *p)
{
    p->seen = p->needed = 0;
    p->lower = 0x80;
    p->upper = 0xBF;
    p->bom_checked = 0;
    p->pending_cr = 0;
    p->line_too_long = 0;
    p->event_too_big = 0;
    bv_buf_reset(&p->line);
    bv_buf_reset(&p->data);
    bv_buf_reset(&p->type);
    /* the id buffer and the last id persist, as they do for an EventSource that reconnects */
}

int64_t bv_sse_retry_ms(const bv_sse *p)
{
    return p->retry_ms;
}

const char *bv_sse_last_id(const bv_sse *p, size_t *len)
{
    *len = p->last_id.len;
    return p->last_id.len ? p->last_id.p : "";
}

void bv_sse_stats_get(const bv_sse *p, bv_sse_stats *out)
{
    *out = p->st;
}

/* ---- interpreting lines ---- */

static int buf_set(bv_buf *b, const char *s, size_t n)
{
    bv_buf_reset(b);
    return bv_buf_append(b, s, n);
}

static int dispatch(bv_sse *p)
{
    /* the last event id is set even when nothing is dispatched */
    if (buf_set(&p->last_id, p->id_buf.p ? p->id_buf.p : "", p->id_buf.len) != 0) {
        return BV_ENOMEM;
    }
    int big = p->event_too_big;
    p->event_too_big = 0;
    if (p->data.len == 0 || big) {
        if (big) {
            p->st.dropped_events++;
        }
        bv_buf_reset(&p->data);
        bv_buf_reset(&p->type);
        return 0;
    }
    bv_sse_event ev = {
        .type = p->type.len ? p->type.p : "message",
        .type_len = p->type.len ? p->type.len : 7,
        .data = p->data.p,
        .data_len = p->data.len - 1, /* one trailing LF */
        .id = p->last_id.len ? p->last_id.p : "",
        .id_len = p->last_id.len,
    };
    p->st.events++;
    int rc = p->cb ? p->cb(p->arg, &ev) : 0;
    bv_buf_reset(&p->data);
    bv_buf_reset(&p->type);
    return rc;
}

static int field(bv_sse *p, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (nlen == 5 && memcmp(name, "event", 5) == 0) {
        return buf_set(&p->type, value, vlen) != 0 ? BV_ENOMEM : 0;
    }
    if (nlen == 4 && memcmp(name, "data", 4) == 0) {
        if (p->event_too_big || p->data.len + vlen + 1 > p->max_event) {
            p->event_too_big = 1;
            bv_buf_reset(&p->data);
            return 0;
        }
        if (bv_buf_append(&p->data, value, vlen) != 0 || bv_buf_append(&p->data, "\n", 1) != 0) {
            return BV_ENOMEM;
        }
        return 0;
    }
    if (nlen == 2 && memcmp(name, "id", 2) == 0) {
        if (memchr(value, '\0', vlen) == NULL && buf_set(&p->id_buf, value, vlen) != 0) {
            return BV_ENOMEM;
        }
        return 0;
    }
    if (nlen == 5 && memcmp(name, "retry", 5) == 0) {
        int64_t v = 0;
        if (vlen == 0 || vlen > 15) {
            return 0;
        }
        for (size_t i = 0; i < vlen; i++) {
            if (value[i] < '0' || value[i] > '9') {
                return 0;
            }
            v = v * 10 + (value[i] - '0');
        }
        p->retry_ms = v;
        return 0;
    }
    return 0; /* other fields are ignored */
}

static int line_done(bv_sse *p)
{
    if (p->line_too_long) {
        p->line_too_long = 0;
        p->st.dropped_lines++;
        bv_buf_reset(&p->line);
        p->event_too_big = 1; /* the event lost a line: it is not the event that was sent */
        return 0;
    }
    const char *l = p->line.p ? p->line.p : "";
    size_t n = p->line.len;
    int rc;
    if (n == 0) {
        rc = dispatch(p);
    } else if (l[0] == ':') {
        p->st.comments++;
        rc = 0;
    } else {
        const char *colon = memchr(l, ':', n);
        size_t nlen = colon ? (size_t)(colon - l) : n;
        const char *v = colon ? colon + 1 : l + n;
        size_t vlen = colon ? n - nlen - 1 : 0;
        if (vlen && v[0] == ' ') {
            v++;
            vlen--;
        }
        rc = field(p, l, nlen, v, vlen);
    }
    bv_buf_reset(&p->line);
    return rc;
}

/* One decoded code point's bytes, into the line machinery. */
static int put(bv_sse *p, const uint8_t *b, size_t n)
{
    if (!p->bom_checked) {
        p->bom_checked = 1;
        if (n == 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
            return 0; /* one leading BOM */
        }
    }
    if (n == 1 && (b[0] == '\r' || b[0] == '\n')) {
        if (b[0] == '\n' && p->pending_cr) {
            p->pending_cr = 0; /* the LF of a CRLF */
            return 0;
        }
        p->pending_cr = b[0] == '\r';
        return line_done(p);
    }
    p->pending_cr = 0;
    if (p->line_too_long) {
        return 0;
    }
    if (p->line.len + n > p->max_line) {
        p->line_too_long = 1;
        bv_buf_reset(&p->line);
        return 0;
    }
    return bv_buf_append(&p->line, b, n) != 0 ? BV_ENOMEM : 0;
}

static const uint8_t REPLACEMENT[3] = {0xEF, 0xBF, 0xBD};

static int replace(bv_sse *p)
{
    p->st.replaced++;
    return put(p, REPLACEMENT, 3);
}

/* The WHATWG UTF-8 decoder, one byte at a time; returns what the line stage returned. */
static int decode(bv_sse *p, uint8_t c)
{
    for (;;) {
        if (p->needed == 0) {
            if (c <= 0x7F) {
                return put(p, &c, 1);
            }
            if (c >= 0xC2 && c <= 0xDF) {
                p->needed = 1;
            } else if (c >= 0xE0 && c <= 0xEF) {
                p->lower = c == 0xE0 ? 0xA0 : 0x80;
                p->upper = c == 0xED ? 0x9F : 0xBF;
                p->needed = 2;
            } else if (c >= 0xF0 && c <= 0xF4) {
                p->lower = c == 0xF0 ? 0x90 : 0x80;
                p->upper = c == 0xF4 ? 0x8F : 0xBF;
                p->needed = 3;
            } else {
                return replace(p);
            }
            p->seq[0] = c;
            p->seen = 0;
            return 0;
        }
        if (c < p->lower || c > p->upper) {
            /* the sequence so far is one U+FFFD; c is looked at again on its own */
            p->needed = p->seen = 0;
            p->lower = 0x80;
            p->upper = 0xBF;
            int rc = replace(p);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        p->lower = 0x80;
        p->upper = 0xBF;
        p->seq[++p->seen] = c;
        if (p->seen == p->needed) {
            size_t n = (size_t)p->needed + 1;
            p->needed = p->seen = 0;
            return put(p, p->seq, n);
        }
        return 0;
    }
}

/* How many bytes from b[0..n) can be taken as they are: ASCII other than CR and LF, and
 * well-formed UTF-8 sequences. */
static size_t plain_run(const uint8_t *b, size_t n)
{
    size_t j = 0;
    while (j < n) {
        if (b[j] < 0x80) {
            if (b[j] == '\r' || b[j] == '\n') {
                break;
            }
            j++;
            continue;
        }
        size_t k = bv_utf8_seq(b + j, n - j);
        if (k == 0) {
            break;
        }
        j += k;
    }
    return j;
}

int bv_sse_feed(bv_sse *p, const void *buf, size_t len, bv_sse_event_cb *cb, void *arg)
{
    const uint8_t *b = buf;
    p->cb = cb;
    p->arg = arg;
    p->st.bytes += len;
    for (size_t i = 0; i < len;) {
        int rc = 0;
        size_t run = p->needed == 0 && p->bom_checked ? plain_run(b + i, len - i) : 0;
        if (run > 0) {
            /* a run of well-formed text within a line: what decode() and put() do byte by
             * byte, at once */
            size_t j = i + run;
            p->pending_cr = 0;
            if (!p->line_too_long) {
                if (p->line.len + (j - i) > p->max_line) {
                    p->line_too_long = 1;
                    bv_buf_reset(&p->line);
                } else if (bv_buf_append(&p->line, b + i, j - i) != 0) {
                    rc = BV_ENOMEM;
                }
            }
            i = j;
        } else {
            rc = decode(p, b[i++]);
        }
        if (rc != 0) {
            p->cb = NULL;
            return rc;
        }
    }
    p->cb = NULL;
    return 0;
}
