/* buf.c: growable byte buffer; see buf.h. Doubling growth, always NUL-terminated. */
#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bv_buf_reserve(bv_buf *b, size_t extra)
{
    if (extra > ((size_t)-1) / 2 - b->len) {
        return BV_ENOMEM;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return BV_OK;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        return BV_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    /* keeps p NUL-terminated whenever it is allocated, even if nothing is appended after all
     * (bv_buf_json_str of an empty string) */
    b->p[b->len] = '\0';
    return BV_OK;
}

int bv_buf_append(bv_buf *b, const void *data, size_t n)
{
    if (bv_buf_reserve(b, n) != BV_OK) {
        return BV_ENOMEM;
    }
    if (n) {
        memcpy(b->p + b->len, data, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return BV_OK;
}

int bv_buf_putc(bv_buf *b, char c)
{
    return bv_buf_append(b, &c, 1);
}

int bv_buf_puts(bv_buf *b, const char *s)
{
    return bv_buf_append(b, s, strlen(s));
}

int bv_buf_vprintf(bv_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) {
        return BV_EINVAL;
    }
    if (bv_buf_reserve(b, (size_t)n) != BV_OK) {
        return BV_ENOMEM;
    }
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BV_OK;
}

int bv_buf_printf(bv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bv_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int bv_buf_json_str(bv_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (bv_buf_reserve(b, n + 2) != BV_OK) {
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = bv_buf_append(b, e, 2);
        } else if (c == '\n') {
            rc = bv_buf_append(b, "\\n", 2);
        } else if (c == '\r') {
            rc = bv_buf_append(b, "\\r", 2);
        } else if (c == '\t') {
            rc = bv_buf_append(b, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = bv_buf_append(b, e, 6);
        } else if (c < 0x80) {
            rc = bv_buf_putc(b, (char)c);
        } else {
            /* JSON is UTF-8: a well-formed sequence goes as it is, a stray byte as U+FFFD */
            size_t k = bv_utf8_seq((const unsigned char *)s + i, n - i);
            if (k == 0) {
                rc = bv_buf_append(b, "\xef\xbf\xbd", 3);
            } else {
                rc = bv_buf_append(b, s + i, k);
                i += k - 1;
            }
        }
        if (rc != BV_OK) {
            return rc;
        }
    }
    return BV_OK;
}

int bv_json_depth_ok(const char *s, size_t n, unsigned max)
{
    unsigned depth = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_str = 0;
            }
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max) {
                return 0;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        } else if (c == '\0' || c == '/') {
            return 0; /* never in JSON outside strings; yajl would read a comment */
        }
    }
    return 1;
}

void bv_buf_reset(bv_buf *b)
{
    b->len = 0;
    if (b->p) {
        b->p[0] = '\0';
    }
}

void bv_buf_consume(bv_buf *b, size_t n)
{
    if (n >= b->len) {
        bv_buf_reset(b);
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = '\0';
}

char *bv_buf_steal(bv_buf *b)
{
    char *p = b->p;
    if (p == NULL) {
        p = calloc(1, 1);
    }
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void bv_buf_free(bv_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
