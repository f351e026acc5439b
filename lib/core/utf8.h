/* utf8.h: strict UTF-8 (RFC 3629, as the WHATWG decoder reads it): no overlong forms, no
 * surrogates, nothing above U+10FFFF. Written here rather than taken from a library because the
 * framers and codecs need it one sequence at a time, in their own loops, without copying. */
#ifndef BV_CORE_UTF8_H
#define BV_CORE_UTF8_H

#include <stddef.h>

/* The length (1..4) of the well-formed UTF-8 sequence at s[0..avail), or 0 when there is none
 * there (a bad or a cut-off sequence; avail 0). An ASCII byte, control characters included, is a
 * sequence of 1. */
size_t bv_utf8_seq(const unsigned char *s, size_t avail);

#endif
