/* testutil.h: the few helpers unit tests share (cmocka does the rest): reading a fixture file
 * into memory. Test code only; never linked into the library. */
#ifndef BV_TESTUTIL_H
#define BV_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Reads tests/fixtures/<rel> (tests run from the repository root); caller frees. The buffer has
 * a NUL after the data. Fails the test when the file is missing. */
static inline char *tu_read_fixture(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "tests/fixtures/%s", rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open fixture %s", path);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len) {
        *len = n;
    }
    return buf;
}

#endif
