/* metrics.h: the Prometheus text exposition format (version 0.0.4), written into a buffer:
 * a family's HELP and TYPE lines, then its samples with labels. Label values are escaped
 * (backslash, double quote, newline); metric and label names are the caller's constants.
 * Nothing is kept between scrapes: the console writes every family from the current stats.
 *
 * Ownership: everything is borrowed; text is appended to out. */
#ifndef BV_CONSOLE_METRICS_H
#define BV_CONSOLE_METRICS_H

#include "core/buf.h"

#include <stdint.h>

/* "# HELP name help\n# TYPE name type\n"; type: "counter", "gauge". */
void bv_metrics_family(bv_buf *out, const char *name, const char *type, const char *help);
/* One sample: name{k1="v1",k2="v2"} value. The labels are pairs of const char * (key, value)
 * ending with NULL; a NULL value leaves its pair out. */
void bv_metrics_sample(bv_buf *out, const char *name, double value, ...) __attribute__((sentinel));
/* Appends the label value v escaped as the format wants it. */
void bv_metrics_escape(bv_buf *out, const char *v);

#endif
