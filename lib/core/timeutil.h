/* timeutil.h: parsing and printing the timestamps platforms use. Times are int64 ms since the
 * Unix epoch, UTC. Parsers take (s, len) without needing a NUL; nothing is allocated. */
#ifndef BV_CORE_TIMEUTIL_H
#define BV_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* "2019-12-08T03:48:33.901Z", "2019-12-08T03:48:33Z", "2019-12-08T03:48:33+01:00",
 * "2019-12-08 03:48:33Z"; fraction of any length (ms kept). Returns 0 or BV_EINVAL. */
int bv_time_parse_iso8601(const char *s, size_t len, int64_t *ms);
/* X v1.1: "Tue Jul 18 23:25:04 +0000 2017". Returns 0 or BV_EINVAL. */
int bv_time_parse_twitter(const char *s, size_t len, int64_t *ms);
/* Days since epoch for a civil date (proleptic Gregorian). */
int64_t bv_days_from_civil(int64_t y, unsigned m, unsigned d);

#define BV_TIME_ISO_LEN 32
/* "2026-11-28T02:47:37.123Z" into out (>= BV_TIME_ISO_LEN bytes); returns out. */
char *bv_time_format_iso8601(int64_t ms, char *out);
/* Europe/Amsterdam local time "2026-11-28 03:47:37 CET" (EU summer-time rule: CEST from the last
 * Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC). */
char *bv_time_format_amsterdam(int64_t ms, char *out);
/* Offset of Europe/Amsterdam from UTC at ms, in ms (3600000 or 7200000). */
int64_t bv_time_amsterdam_offset(int64_t ms);

/* Durations as written in config and rules: "250ms", "30s", "5m", "2h", "7d", or a plain
 * number of seconds. Returns 0 or BV_EINVAL. */
int bv_duration_parse(const char *s, size_t len, int64_t *ms);
/* Prints a duration compactly ("5m", "90s", "1h30m") into out (>= 32 bytes); returns out. */
char *bv_duration_format(int64_t ms, char *out);

#endif
