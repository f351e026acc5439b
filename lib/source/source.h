/* source.h: the live sources as plugins (STYLE.md item 1): one static table holds, per
 * platform, the config keys it takes and its create, stats and destroy callbacks; `blikveld run`
 * builds one instance per item of the config's `sources:` list. Adding a platform is one file
 * and one line in that table.
 *
 * An item of `sources:` is read with bv_source_conf_table (one table for every platform), then
 * bv_source_conf_check says which keys the item's platform takes, which it needs, and that the
 * environment holds the secrets its *_env keys name. Secrets are read from the environment
 * here, handed to the platform module, and never logged or printed.
 *
 * Ownership: a bv_source owns its platform instance and a copy of its name; it borrows the env
 * (loop, curl loop, dns base, codec, clock, callback), which must outlive it. */
#ifndef BV_SOURCE_SOURCE_H
#define BV_SOURCE_SOURCE_H

#include "codec/codec.h"
#include "core/clock.h"
#include "core/config.h"
#include "net/curl_loop.h"
#include "source/stream.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;

/* One item of `sources:`. Durations are ms; 0 means the platform's documented default. */
typedef struct bv_source_conf {
    char *platform;
    char *name;
    char *url;
    char *token_env;
    int64_t flatline_ms;
    int64_t stall_ms;
    int64_t backoff_min_ms, backoff_max_ms;
    int64_t network_step_ms, network_max_ms;
    int64_t rate_min_ms, rate_max_ms;
    bv_strlist stream_rules;
    char *listen;
    char *app_secret_env;
    char *verify_token_env;
    int64_t poll_ms;
    int64_t poll_timeout_ms;
    int64_t rewind_ms;
    char *ca_file;
    int64_t max_message;
} bv_source_conf;

/* The table of an item's keys, for BV_OPTION_SECTION_LIST. */
extern const bv_option bv_source_conf_table[];

/* Checks one item (info: where it stands and which keys it gave; index: its place in the list)
 * and fills its defaults: a known platform, only keys that platform takes, the keys it needs,
 * secrets present in the environment, a name fit for state files (default: the platform's name;
 * give names when a platform appears twice). BV_OK, or BV_EINVAL with "sources[N] (platform):
 * what is wrong" in errstr (the caller adds the file and info->line). */
int bv_source_conf_check(bv_source_conf *c, const bv_config_item *info, size_t index, char *errstr,
                         size_t errlen);

/* What every source gets from the command that runs it. All borrowed. */
typedef struct bv_source_env {
    struct event_base *base;
    bv_curl_loop *curl;
    struct evdns_base *dns;
    const bv_codec_ctx *codec;
    const bv_clock *clock;
    const char *state_dir; /* cursors and offsets */
    bv_post_cb *post;
    void *arg;
    bv_full_cb *full; /* may be NULL: backpressure, asked with arg (stream.h) */
} bv_source_env;

typedef struct bv_source bv_source;

/* Starts the source the (checked) item describes. NULL with a message when it cannot. */
bv_source *bv_source_new(const bv_source_conf *c, const bv_source_env *env, char *errstr,
                         size_t errlen);
void bv_source_stats_get(const bv_source *s, bv_source_stats *out);
const char *bv_source_name(const bv_source *s);
const char *bv_source_platform(const bv_source *s);
/* A Facebook receiver's port (0 for other sources): useful with `listen: 127.0.0.1:0`. */
int bv_source_port(const bv_source *s);
void bv_source_free(bv_source *s);

/* The platforms the table knows, space-separated ("mastodon x bluesky ..."), for messages. */
const char *bv_source_platforms(void);

#endif
