/* metrics.c: Prometheus text lines; see metrics.h. A client library (prometheus-client-c) is
 * not packaged in Debian 12, and the format is three line shapes; it is written here. */
#include "console/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

void bv_metrics_family(bv_buf *out, const char *name, const char *type, const char *help)
{
    bv_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void bv_metrics_escape(bv_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\') {
            bv_buf_puts(out, "\\\\");
        } else if (*v == '"') {
            bv_buf_puts(out, "\\\"");
        } else if (*v == '\n') {
            bv_buf_puts(out, "\\n");
        } else {
            bv_buf_putc(out, *v);
        }
    }
}

void bv_metrics_sample(bv_buf *out, const char *name, double value, ...)
{
    bv_buf_puts(out, name);
    va_list ap;
    va_start(ap, value);
    int first = 1;
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL) {
            break;
        }
        const char *v = va_arg(ap, const char *);
        if (v == NULL) {
            continue;
        }
        bv_buf_puts(out, first ? "{" : ",");
        first = 0;
        bv_buf_printf(out, "%s=\"", k);
        bv_metrics_escape(out, v);
        bv_buf_putc(out, '"');
    }
    va_end(ap);
    if (!first) {
        bv_buf_putc(out, '}');
    }
    if (isnan(value)) {
        bv_buf_puts(out, " NaN\n");
    } else if (value == floor(value) && fabs(value) < 1e15) {
        bv_buf_printf(out, " %.0f\n", value);
    } else {
        bv_buf_printf(out, " %.6g\n", value);
    }
}
