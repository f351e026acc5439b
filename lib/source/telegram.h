/* telegram.h: the live Telegram source: the Bot API's getUpdates long polling (../shared/
 * PLATFORMS.md §5). A bot sees the channels where it is an admin and the groups its privacy mode
 * allows; nothing else.
 *
 * Each poll asks for updates from offset (one more than the highest update id processed) with a
 * long-poll timeout (default 30 s; the HTTP timeout is 10 s longer), for message, channel_post
 * and their edits. The offset is written to STATE_DIR/telegram-NAME.offset (atomically) after
 * each batch is handed on, so a restart neither loses nor repeats updates. Errors: 429 waits
 * `parameters.retry_after` seconds; 401 (bad token) and 409 (another poller, or a webhook set)
 * say "failed" and retry at the longest wait; 5xx and network errors back off exponentially.
 * The token is part of the URL path, so the URL is never logged.
 *
 * Ownership: as stream.h. */
#ifndef BV_SOURCE_TELEGRAM_H
#define BV_SOURCE_TELEGRAM_H

#include "source/stream.h"

typedef struct bv_telegram bv_telegram;

typedef struct bv_telegram_opts {
    const char *name;       /* for logs, stats and the offset file ("telegram" when NULL) */
    const char *url;        /* the API base, e.g. https://api.telegram.org */
    const char *token;      /* the bot token (required) */
    const char *state_dir;  /* where the offset is kept (required) */
    int64_t poll_timeout_s; /* long-poll seconds (default 30) */
    int64_t backoff_min_ms, backoff_max_ms; /* 1 s, 60 s */
    int64_t second_ms; /* how long a second of retry_after is (1000; tests set it small) */
    size_t max_body;   /* largest response accepted (default 8 MiB) */
    const bv_clock *clock;
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
} bv_telegram_opts;

bv_telegram *bv_telegram_new(struct event_base *base, bv_curl_loop *cl, const bv_telegram_opts *o,
                             char *errstr, size_t errlen);
void bv_telegram_stats_get(const bv_telegram *t, bv_source_stats *out);
/* The next offset asked for (0 before any update). */
int64_t bv_telegram_offset(const bv_telegram *t);
void bv_telegram_free(bv_telegram *t);

#endif
