/* diag.c: file:line:col diagnostics; see diag.h. */
#include "core/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bv_diag_set(bv_diag *d, const char *file, int line, int col, const char *fmt, ...)
{
    if (d == NULL) {
        return;
    }
    snprintf(d->file, sizeof d->file, "%s", file ? file : "");
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
}

const char *bv_diag_format(const bv_diag *d, char *out, size_t outlen)
{
    if (d->file[0] && d->line > 0 && d->col > 0) {
        snprintf(out, outlen, "%s:%d:%d: %s", d->file, d->line, d->col, d->msg);
    } else if (d->file[0] && d->line > 0) {
        snprintf(out, outlen, "%s:%d: %s", d->file, d->line, d->msg);
    } else if (d->file[0]) {
        snprintf(out, outlen, "%s: %s", d->file, d->msg);
    } else {
        snprintf(out, outlen, "%s", d->msg);
    }
    return out;
}
