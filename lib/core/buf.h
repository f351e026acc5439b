/* buf.h: a growable byte buffer. The buffer owns p; bv_buf_free releases it.
 * p is always NUL-terminated after any successful append (len excludes the NUL). */
#ifndef BV_CORE_BUF_H
#define BV_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct bv_buf {
    char *p;    /* owned; NULL until first append */
    size_t len; /* bytes used, without the trailing NUL */
    size_t cap; /* bytes allocated */
} bv_buf;

#define BV_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

int bv_buf_reserve(bv_buf *b, size_t extra); /* room for len+extra+1 */
int bv_buf_append(bv_buf *b, const void *data, size_t n);
int bv_buf_putc(bv_buf *b, char c);
int bv_buf_puts(bv_buf *b, const char *s);
int bv_buf_printf(bv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bv_buf_vprintf(bv_buf *b, const char *fmt, va_list ap);
/* Appends s as the inside of a JSON string (escapes ", \, control chars; well-formed UTF-8
 * kept, each byte of an ill-formed sequence written as U+FFFD, so the result is valid JSON). */
int bv_buf_json_str(bv_buf *b, const char *s, size_t n);
/* 1 when the JSON text s[0..n) nests brackets (outside strings) at most max deep and holds no
 * NUL or '/' outside strings: checked before a tree parser whose free recurses sees a line
 * (yajl's would overflow the stack; it would also take comments). */
int bv_json_depth_ok(const char *s, size_t n, unsigned max);
void bv_buf_reset(bv_buf *b);             /* len = 0, keeps memory */
void bv_buf_consume(bv_buf *b, size_t n); /* drops the first n bytes */
char *bv_buf_steal(bv_buf *b);            /* caller frees; b is emptied */
void bv_buf_free(bv_buf *b);

/* The value of hex digit c (0-9, a-f, A-F), or -1. */
static inline int bv_hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

#endif
