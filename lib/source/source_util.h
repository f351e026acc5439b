/* source_util.h: what the live sources (stream, telegram, reddit, facebook) share: checking
 * their options, setting up a libcurl handle the same way, the Authorization header, exponential
 * waits, the last error in their stats, and small state files (cursors, offsets) written
 * atomically in the state dir. Nothing is owned here beyond what each function says. */
#ifndef BV_SOURCE_SOURCE_UTIL_H
#define BV_SOURCE_SOURCE_UTIL_H

#include "source/stream.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

struct event;

/* 1 for an http:// or https:// URL. */
int bv_source_url_ok(const char *url);
/* 1 when name is NULL or holds only letters, digits, '-', '_' and '.' (it names state files). */
int bv_source_name_ok(const char *name);
/* No signals, our User-Agent, http(s) only, errors into errbuf (CURL_ERROR_SIZE bytes). */
void bv_source_easy_defaults(CURL *easy, char *errbuf);
/* Appends "Authorization: SCHEME TOKEN" to h (the formatted copy is wiped). The new list, or
 * NULL when out of memory (h is freed then). */
struct curl_slist *bv_source_auth_header(struct curl_slist *h, const char *scheme,
                                         const char *token);
/* Arms the timer ev to fire in ms milliseconds. */
void bv_source_arm(struct event *ev, int64_t ms);
/* The wait after a failure, kept in *wait: the longest (hi) when the server refuses the
 * configuration, else the next exponential one. */
int64_t bv_source_backoff(int64_t *wait, int64_t lo, int64_t hi, int refused);
/* The next exponential wait: lo first, then doubling, at most hi. */
int64_t bv_source_doubled(int64_t last, int64_t lo, int64_t hi);
/* Copies detail into st->last_error, cut to fit. */
void bv_source_set_error(bv_source_stats *st, const char *detail);
/* "DIR/KIND-NAME.EXT" (caller frees), NULL when out of memory. */
char *bv_source_state_path(const char *dir, const char *kind, const char *name, const char *ext);
/* Writes text and a newline to path atomically (a temporary file, fsync, rename), mode 0600.
 * 0, or the errno of what failed. */
int bv_source_state_save(const char *path, const char *text);
/* The file's first line (at most size-1 bytes, no newline) into buf. 0, or -1 when there is
 * none (missing, empty, too long). */
int bv_source_state_load(const char *path, char *buf, size_t size);

#endif
