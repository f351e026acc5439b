/* fuzz_lines.c: libFuzzer target for the line framer (lib/net/lines.h). The first byte picks the
 * chunk size and the line limit; the rest is fed in chunks and checked against one whole feed. */
#include "net/lines.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen {
    char *data; /* all line bytes, back to back */
    size_t len, cap;
    size_t n;     /* lines */
    uint64_t sum; /* a digest of (lineno, len, too_long) */
} seen;

static void seen_add(seen *s, const bv_line *l)
{
    if (s->len + l->len > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + l->len) {
            cap *= 2;
        }
        char *p = realloc(s->data, cap);
        if (p == NULL) {
            abort();
        }
        s->data = p;
        s->cap = cap;
    }
    if (l->len) {
        memcpy(s->data + s->len, l->data, l->len);
    }
    /* the spare byte must be writable */
    l->data[l->len] = '\0';
    s->len += l->len;
    s->n++;
    s->sum = s->sum * 1000003u + l->lineno * 31u + l->len * 7u + (uint64_t)l->too_long;
    if (l->lineno != s->n || (l->too_long && l->len != 0)) {
        abort();
    }
}

static void run(const uint8_t *data, size_t size, size_t chunk, size_t max_line, seen *out)
{
    bv_lines *lr = bv_lines_new(max_line);
    if (lr == NULL) {
        abort();
    }
    bv_line l;
    size_t off = 0;
    while (off < size) {
        size_t c = size - off < chunk ? size - off : chunk;
        if (bv_lines_feed(lr, (const char *)data + off, c) != 0) {
            abort();
        }
        off += c;
        while (bv_lines_next(lr, &l) == 1) {
            seen_add(out, &l);
        }
        if (bv_lines_buffered(lr) > max_line + 1) {
            abort();
        }
    }
    while (bv_lines_finish(lr, &l) == 1) {
        seen_add(out, &l);
    }
    bv_lines_free(lr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t chunk = (size_t)data[0] % 64 + 1;
    size_t max_line = (size_t)(data[0] >> 2) + 1;
    data++;
    size--;
    seen a = {0}, b = {0};
    run(data, size, chunk, max_line, &a);
    run(data, size, size ? size : 1, max_line, &b);
    if (a.n != b.n || a.len != b.len || a.sum != b.sum ||
        (a.len && memcmp(a.data, b.data, a.len) != 0)) {
        abort();
    }
    free(a.data);
    free(b.data);
    return 0;
}
