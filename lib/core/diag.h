/* diag.h: a diagnostic "file:line:col: message" for parsers of files (rules, config).
 * A bv_diag is a plain value owned by the caller; setters copy everything they are given. */
#ifndef BV_CORE_DIAG_H
#define BV_CORE_DIAG_H

#include <stddef.h>

typedef struct bv_diag {
    char file[512]; /* "" when not about a file */
    int line;       /* 1-based, 0 when unknown */
    int col;        /* 1-based, 0 when unknown */
    char msg[512];
} bv_diag;

void bv_diag_set(bv_diag *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Writes "file:line:col: msg" (parts that are unknown left out) into out; returns out. */
const char *bv_diag_format(const bv_diag *d, char *out, size_t outlen);

#endif
