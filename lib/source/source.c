/* source.c: the table of live source plugins and the checks of a `sources:` item; see
 * source.h. Each plugin adapts one platform module (stream, telegram, reddit, facebook) to the
 * create / stats / destroy shape. */
#include "source/source.h"
#include "core/err.h"
#include "core/log.h"
#include "source/facebook.h"
#include "source/jetstream.h"
#include "source/reddit.h"
#include "source/source_util.h"
#include "source/telegram.h"
#include "source/x_rules.h"

#include <event2/event.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

const bv_option bv_source_conf_table[] = {
    BV_OPTION("platform", BV_OPT_STRING, bv_source_conf, platform, NULL,
              "mastodon, x, bluesky, facebook, telegram or reddit (required)"),
    BV_OPTION("name", BV_OPT_STRING, bv_source_conf, name, NULL,
              "for logs, stats and state files (default: the platform; letters, digits, -_.)"),
    BV_OPTION("url", BV_OPT_STRING, bv_source_conf, url, NULL,
              "the stream, API base or listing to read (all but facebook)"),
    BV_OPTION("token_env", BV_OPT_STRING, bv_source_conf, token_env, NULL,
              "environment variable holding the access token (mastodon, x, telegram; reddit "
              "optional)"),
    BV_OPTION_RANGE("flatline", BV_OPT_DURATION, bv_source_conf, flatline_ms, "0s", 0, 7 * DAY_MS,
                    "alert when no post arrives for this long (0s: never)"),
    BV_OPTION_RANGE("stall", BV_OPT_DURATION, bv_source_conf, stall_ms, "0s", 0, DAY_MS,
                    "reconnect after this long without a byte (0s: mastodon 45s, x 20s, "
                    "bluesky 60s)"),
    BV_OPTION_RANGE("backoff_min", BV_OPT_DURATION, bv_source_conf, backoff_min_ms, "0s", 0, DAY_MS,
                    "first wait after an error, doubled each time (0s: x 5s, others 1s)"),
    BV_OPTION_RANGE("backoff_max", BV_OPT_DURATION, bv_source_conf, backoff_max_ms, "0s", 0, DAY_MS,
                    "longest wait after errors (0s: x 320s, reddit 10m, others 60s)"),
    BV_OPTION_RANGE("network_step", BV_OPT_DURATION, bv_source_conf, network_step_ms, "0s", 0,
                    DAY_MS, "x: linear step after network errors (0s: 250ms)"),
    BV_OPTION_RANGE("network_max", BV_OPT_DURATION, bv_source_conf, network_max_ms, "0s", 0, DAY_MS,
                    "x: longest wait after network errors (0s: 16s)"),
    BV_OPTION_RANGE("rate_min", BV_OPT_DURATION, bv_source_conf, rate_min_ms, "0s", 0, DAY_MS,
                    "x: first wait after HTTP 429 (0s: 60s)"),
    BV_OPTION_RANGE("rate_max", BV_OPT_DURATION, bv_source_conf, rate_max_ms, "0s", 0, DAY_MS,
                    "x: longest wait after HTTP 429 (0s: 960s)"),
    BV_OPTION("stream_rules", BV_OPT_STRING_LIST, bv_source_conf, stream_rules, NULL,
              "x: the filtered stream's rules, kept in sync with X's server side"),
    BV_OPTION("listen", BV_OPT_STRING, bv_source_conf, listen, NULL,
              "facebook: HOST:PORT the webhook receiver listens on (behind an HTTPS proxy)"),
    BV_OPTION("app_secret_env", BV_OPT_STRING, bv_source_conf, app_secret_env, NULL,
              "facebook: environment variable holding the app secret (signature check)"),
    BV_OPTION("verify_token_env", BV_OPT_STRING, bv_source_conf, verify_token_env, NULL,
              "facebook: environment variable holding the subscription's verify token"),
    BV_OPTION_RANGE("poll", BV_OPT_DURATION, bv_source_conf, poll_ms, "0s", 0, DAY_MS,
                    "reddit: time between polls (0s: 60s; rate-limit headers may stretch it)"),
    BV_OPTION_RANGE("poll_timeout", BV_OPT_DURATION, bv_source_conf, poll_timeout_ms, "30s", 0,
                    50000, "telegram: how long one getUpdates long poll waits"),
    BV_OPTION_RANGE("rewind", BV_OPT_DURATION, bv_source_conf, rewind_ms, "5s", 0, 3600000,
                    "bluesky: how far before the cursor a reconnect resumes (then deduplicates)"),
    BV_OPTION("ca_file", BV_OPT_PATH, bv_source_conf, ca_file, NULL,
              "bluesky: CA certificates for wss:// (default: the system's)"),
    BV_OPTION_RANGE("max_message", BV_OPT_INT, bv_source_conf, max_message, "1048576", 1024,
                    64 << 20, "largest message, line or body accepted, in bytes"),
    BV_OPTION_END,
};

/* Secrets an item names, read from the environment at new. */
typedef struct secrets {
    const char *token, *app_secret, *verify_token;
} secrets;

typedef struct plugin {
    const char *platform;
    const char *keys;     /* keys it takes besides platform, name, flatline, max_message */
    const char *required; /* keys it needs */
    void *(*create)(const bv_source_conf *c, const secrets *sec, const bv_source_env *env,
                    char *errstr, size_t errlen);
    void (*stats)(const void *ctx, bv_source_stats *out);
    void (*destroy)(void *ctx);
    int (*port)(const void *ctx);
} plugin;

struct bv_source {
    const plugin *p;
    void *ctx;
    char *name;
};

/* --- plugins ---------------------------------------------------------------------------- */

/* A stream's options from an item; the strings are borrowed from c, env and token. */
static bv_stream_opts stream_opts(const bv_source_conf *c, const bv_source_env *env,
                                  bv_stream_kind kind, const char *token)
{
    bv_stream_opts o = {
        .kind = kind,
        .name = c->name,
        .url = c->url,
        .token = token,
        .stall_ms = c->stall_ms,
        .backoff = {.net_step = c->network_step_ms,
                    .net_max = c->network_max_ms,
                    .http_min = c->backoff_min_ms,
                    .http_max = c->backoff_max_ms,
                    .rate_min = c->rate_min_ms,
                    .rate_max = c->rate_max_ms},
        .max_line = (size_t)c->max_message,
        .clock = env->clock,
        .codec = env->codec,
        .post = env->post,
        .arg = env->arg,
        .full = env->full,
    };
    if (kind == BV_STREAM_MASTODON) {
        /* Mastodon documents no policy: one exponential backoff for every kind of error */
        o.backoff.net_step = c->backoff_min_ms;
        o.backoff.net_max = c->backoff_max_ms;
    }
    return o;
}

static void *stream_create(const bv_source_conf *c, const secrets *sec, const bv_source_env *env,
                           bv_stream_kind kind, char *errstr, size_t errlen)
{
    bv_stream_opts o = stream_opts(c, env, kind, sec->token);
    return bv_stream_new(env->base, env->curl, &o, errstr, errlen);
}

static void *mastodon_create(const bv_source_conf *c, const secrets *sec, const bv_source_env *env,
                             char *errstr, size_t errlen)
{
    return stream_create(c, sec, env, BV_STREAM_MASTODON, errstr, errlen);
}

/* X: the stream rules are put in sync with the config first (X applies rule changes to a
 * running stream, so a failed sync is retried while the stream runs on the rules X holds). */
typedef struct x_source {
    bv_stream_opts o;
    char *url, *token, *name;
    bv_stream *stream;
    bv_x_rules *sync;
    struct event *retry;
    struct event_base *base;
    bv_curl_loop *curl;
    int64_t wait_ms;
    char sync_error[200];
} x_source;

#define X_SYNC_RETRY_MIN 60000
#define X_SYNC_RETRY_MAX 900000

static void x_source_free(void *ctx)
{
    x_source *x = ctx;
    if (x == NULL) {
        return;
    }
    bv_x_rules_free(x->sync);
    bv_stream_free(x->stream);
    if (x->retry) {
        event_free(x->retry);
    }
    if (x->token) {
        memset(x->token, 0, strlen(x->token));
    }
    free(x->token);
    free(x->url);
    free(x->name);
    free(x);
}

static void x_synced(void *arg, const bv_x_rules_outcome *out)
{
    x_source *x = arg;
    if (out->cancelled) {
        return;
    }
    if (out->err) {
        snprintf(x->sync_error, sizeof x->sync_error, "stream rules: %s", out->error);
        x->wait_ms = bv_source_doubled(x->wait_ms, X_SYNC_RETRY_MIN, X_SYNC_RETRY_MAX);
        bv_log(BV_LOG_ERROR, x->name,
               "%s; the stream runs on the rules X holds; trying again in %llds", x->sync_error,
               (long long)(x->wait_ms / 1000));
        bv_source_arm(x->retry, x->wait_ms);
    } else {
        x->sync_error[0] = '\0';
        x->wait_ms = 0;
        bv_log(BV_LOG_INFO, x->name, "stream rules in sync: %zu kept, %zu deleted, %zu added",
               out->existing - out->deleted, out->deleted, out->added);
    }
    if (x->stream == NULL) {
        char err[256];
        x->stream = bv_stream_new(x->base, x->curl, &x->o, err, sizeof err);
        if (x->stream == NULL) {
            bv_log(BV_LOG_ERROR, x->name, "%s", err);
        }
    }
}

static void x_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    x_source *x = arg;
    if (bv_x_rules_sync(x->sync, x_synced, x) != 0) {
        bv_source_arm(x->retry, X_SYNC_RETRY_MAX);
    }
}

static void *x_create(const bv_source_conf *c, const secrets *sec, const bv_source_env *env,
                      char *errstr, size_t errlen)
{
    x_source *x = calloc(1, sizeof *x);
    if (x == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    x->base = env->base;
    x->curl = env->curl;
    x->url = strdup(c->url);
    x->name = strdup(c->name ? c->name : "x");
    x->token = strdup(sec->token ? sec->token : "");
    x->retry = evtimer_new(env->base, x_retry, x);
    if (x->url == NULL || x->name == NULL || x->token == NULL || x->retry == NULL) {
        snprintf(errstr, errlen, "out of memory");
        x_source_free(x);
        return NULL;
    }
    /* the stream starts after the rule sync, from copies that live as long as the source */
    x->o = stream_opts(c, env, BV_STREAM_X, x->token);
    x->o.name = x->name;
    x->o.url = x->url;
    if (c->stream_rules.n == 0) {
        /* no rules configured: the stream runs on whatever rules X holds */
        x->stream = bv_stream_new(env->base, env->curl, &x->o, errstr, errlen);
        if (x->stream == NULL) {
            x_source_free(x);
            return NULL;
        }
        return x;
    }
    bv_x_rules_opts ro = {
        .stream_url = x->url,
        .token = x->token,
        .values = (const char *const *)c->stream_rules.v,
        .nvalues = c->stream_rules.n,
    };
    x->sync = bv_x_rules_new(env->curl, &ro, errstr, errlen);
    if (x->sync == NULL || bv_x_rules_sync(x->sync, x_synced, x) != 0) {
        if (x->sync) {
            snprintf(errstr, errlen, "stream rules: cannot start the sync");
        }
        x_source_free(x);
        return NULL;
    }
    return x;
}

static void x_stats(const void *ctx, bv_source_stats *out)
{
    const x_source *x = ctx;
    if (x->stream) {
        bv_stream_stats_get(x->stream, out);
    } else {
        memset(out, 0, sizeof *out);
        out->state = "connecting";
    }
    if (x->sync_error[0] && !out->last_error[0]) {
        bv_source_set_error(out, x->sync_error);
    }
}

static void stream_stats(const void *ctx, bv_source_stats *out)
{
    bv_stream_stats_get(ctx, out);
}

static void stream_destroy(void *ctx)
{
    bv_stream_free(ctx);
}

static void *bluesky_create(const bv_source_conf *c, const secrets *sec, const bv_source_env *env,
                            char *errstr, size_t errlen)
{
    (void)sec;
    bv_jetstream_opts o = {
        .name = c->name,
        .url = c->url,
        .state_dir = env->state_dir,
        .ca_file = c->ca_file,
        .stall_ms = c->stall_ms,
        .backoff_min_ms = c->backoff_min_ms,
        .backoff_max_ms = c->backoff_max_ms,
        .rewind_ms = c->rewind_ms,
        .max_message = (size_t)c->max_message,
        .clock = env->clock,
        .codec = env->codec,
        .post = env->post,
        .arg = env->arg,
    };
    return bv_jetstream_new(env->base, env->dns, &o, errstr, errlen);
}

static void bluesky_stats(const void *ctx, bv_source_stats *out)
{
    bv_jetstream_stats_get(ctx, out);
}

static void bluesky_destroy(void *ctx)
{
    bv_jetstream_free(ctx);
}

static void *telegram_create(const bv_source_conf *c, const secrets *sec, const bv_source_env *env,
                             char *errstr, size_t errlen)
{
    bv_telegram_opts o = {
        .name = c->name,
        .url = c->url,
        .token = sec->token,
        .state_dir = env->state_dir,
        .poll_timeout_s = c->poll_timeout_ms / 1000,
        .backoff_min_ms = c->backoff_min_ms,
        .backoff_max_ms = c->backoff_max_ms,
        .max_body = (size_t)c->max_message * 8,
        .clock = env->clock,
        .codec = env->codec,
        .post = env->post,
        .arg = env->arg,
    };
    return bv_telegram_new(env->base, env->curl, &o, errstr, errlen);
}

static void telegram_stats(const void *ctx, bv_source_stats *out)
{
    bv_telegram_stats_get(ctx, out);
}

static void telegram_destroy(void *ctx)
{
    bv_telegram_free(ctx);
}

static void *reddit_create(const bv_source_conf *c, const secrets *sec, const bv_source_env *env,
                           char *errstr, size_t errlen)
{
    bv_reddit_opts o = {
        .name = c->name,
        .url = c->url,
        .token = sec->token,
        .state_dir = env->state_dir,
        .poll_ms = c->poll_ms,
        .backoff_min_ms = c->backoff_min_ms,
        .backoff_max_ms = c->backoff_max_ms,
        .max_body = (size_t)c->max_message * 8,
        .clock = env->clock,
        .codec = env->codec,
        .post = env->post,
        .arg = env->arg,
    };
    return bv_reddit_new(env->base, env->curl, &o, errstr, errlen);
}

static void reddit_stats(const void *ctx, bv_source_stats *out)
{
    bv_reddit_stats_get(ctx, out);
}

static void reddit_destroy(void *ctx)
{
    bv_reddit_free(ctx);
}

static void *facebook_create(const bv_source_conf *c, const secrets *sec, const bv_source_env *env,
                             char *errstr, size_t errlen)
{
    bv_facebook_opts o = {
        .name = c->name,
        .listen = c->listen,
        .app_secret = sec->app_secret,
        .verify_token = sec->verify_token,
        .max_body = (size_t)c->max_message,
        .clock = env->clock,
        .codec = env->codec,
        .post = env->post,
        .arg = env->arg,
    };
    return bv_facebook_new(env->base, &o, errstr, errlen);
}

static void facebook_stats(const void *ctx, bv_source_stats *out)
{
    bv_facebook_stats fs;
    bv_facebook_stats_get(ctx, &fs);
    *out = fs.src;
}

static void facebook_destroy(void *ctx)
{
    bv_facebook_free(ctx);
}

static int facebook_port(const void *ctx)
{
    return bv_facebook_port(ctx);
}

static const plugin plugins[] = {
    {"mastodon", "url token_env stall backoff_min backoff_max", "url token_env", mastodon_create,
     stream_stats, stream_destroy, NULL},
    {"x",
     "url token_env stall backoff_min backoff_max network_step network_max rate_min rate_max "
     "stream_rules",
     "url token_env", x_create, x_stats, x_source_free, NULL},
    {"bluesky", "url stall backoff_min backoff_max rewind ca_file", "url", bluesky_create,
     bluesky_stats, bluesky_destroy, NULL},
    {"facebook", "listen app_secret_env verify_token_env", "listen app_secret_env verify_token_env",
     facebook_create, facebook_stats, facebook_destroy, facebook_port},
    {"telegram", "url token_env poll_timeout backoff_min backoff_max", "url token_env",
     telegram_create, telegram_stats, telegram_destroy, NULL},
    {"reddit", "url token_env poll backoff_min backoff_max", "url", reddit_create, reddit_stats,
     reddit_destroy, NULL},
};

#define NPLUGINS (sizeof plugins / sizeof plugins[0])

/* --- checks ------------------------------------------------------------------------------ */

static const plugin *find_plugin(const char *platform)
{
    for (size_t i = 0; platform && i < NPLUGINS; i++) {
        if (strcmp(plugins[i].platform, platform) == 0) {
            return &plugins[i];
        }
    }
    return NULL;
}

const char *bv_source_platforms(void)
{
    static char list[128];
    if (list[0] == '\0') {
        size_t o = 0;
        for (size_t i = 0; i < NPLUGINS && o < sizeof list; i++) {
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "",
                                  plugins[i].platform);
        }
    }
    return list;
}

/* 1 when the space-separated list names key. */
static int names(const char *list, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = list; (p = strstr(p, key)) != NULL; p += n) {
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
            return 1;
        }
    }
    return 0;
}

static void say(char *errstr, size_t errlen, size_t index, const char *platform, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

static void say(char *errstr, size_t errlen, size_t index, const char *platform, const char *fmt,
                ...)
{
    int o =
        snprintf(errstr, errlen, "sources[%zu] (%s): ", index, platform ? platform : "no platform");
    if (o < 0 || (size_t)o >= errlen) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr + o, errlen - (size_t)o, fmt, ap);
    va_end(ap);
}

/* The value of the environment variable `var` (an item's *_env key), or NULL with a message. */
static const char *secret(const char *var, const char *key, char *why, size_t whylen)
{
    if (var == NULL) {
        return NULL;
    }
    const char *v = getenv(var);
    if (v == NULL || *v == '\0') {
        snprintf(why, whylen, "%s names %s, which is %s in the environment", key, var,
                 v ? "empty" : "not set");
        return NULL;
    }
    return v;
}

int bv_source_conf_check(bv_source_conf *c, const bv_config_item *info, size_t index, char *errstr,
                         size_t errlen)
{
    const plugin *p = find_plugin(c->platform);
    if (p == NULL) {
        say(errstr, errlen, index, c->platform, "%s; known platforms: %s",
            c->platform ? "unknown platform" : "'platform' is missing", bv_source_platforms());
        return BV_EINVAL;
    }
    for (size_t k = 0; bv_source_conf_table[k].key != NULL; k++) {
        const char *key = bv_source_conf_table[k].key;
        int given = info && (info->given >> k) & 1;
        int common = strcmp(key, "platform") == 0 || strcmp(key, "name") == 0 ||
                     strcmp(key, "flatline") == 0 || strcmp(key, "max_message") == 0;
        if (given && !common && !names(p->keys, key)) {
            char keys[256];
            size_t o = 0;
            for (const char *q = p->keys; *q && o + 3 < sizeof keys; q++) {
                if (*q == ' ') {
                    keys[o++] = ',';
                }
                keys[o++] = *q;
            }
            keys[o] = '\0';
            say(errstr, errlen, index, c->platform,
                "'%s' is not a key of %s sources (they take platform, name, flatline, "
                "max_message, %s)",
                key, p->platform, keys);
            return BV_EINVAL;
        }
    }
    struct {
        const char *key;
        const char *val;
    } need[] = {
        {"url", c->url},
        {"token_env", c->token_env},
        {"listen", c->listen},
        {"app_secret_env", c->app_secret_env},
        {"verify_token_env", c->verify_token_env},
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (names(p->required, need[i].key) && (need[i].val == NULL || !*need[i].val)) {
            say(errstr, errlen, index, c->platform, "'%s' is required", need[i].key);
            return BV_EINVAL;
        }
    }
    int ws = strcmp(p->platform, "bluesky") == 0;
    if (c->url && (ws ? strncmp(c->url, "ws://", 5) != 0 && strncmp(c->url, "wss://", 6) != 0
                      : !bv_source_url_ok(c->url))) {
        say(errstr, errlen, index, c->platform, "url must start with %s, not '%.40s'",
            ws ? "wss:// or ws://" : "https:// or http://", c->url);
        return BV_EINVAL;
    }
    if (c->name == NULL) {
        c->name = strdup(c->platform);
        if (c->name == NULL) {
            return BV_ENOMEM;
        }
    } else if (!bv_source_name_ok(c->name) || !*c->name || strlen(c->name) > 64) {
        say(errstr, errlen, index, c->platform,
            "name '%.64s' may hold only letters, digits, '-', '_' and '.' (at most 64)", c->name);
        return BV_EINVAL;
    }
    const char *envs[][2] = {{"token_env", c->token_env},
                             {"app_secret_env", c->app_secret_env},
                             {"verify_token_env", c->verify_token_env}};
    for (size_t i = 0; i < 3; i++) {
        char why[256];
        if (envs[i][1] && secret(envs[i][1], envs[i][0], why, sizeof why) == NULL) {
            say(errstr, errlen, index, c->platform, "%s", why);
            return BV_EINVAL;
        }
    }
    if (c->stream_rules.n > 0) {
        for (size_t i = 0; i < c->stream_rules.n; i++) {
            if (c->stream_rules.v[i][0] == '\0' || strlen(c->stream_rules.v[i]) > 1024) {
                say(errstr, errlen, index, c->platform,
                    "stream_rules[%zu] must hold 1 to 1024 bytes", i);
                return BV_EINVAL;
            }
        }
    }
    return BV_OK;
}

/* --- instances --------------------------------------------------------------------------- */

bv_source *bv_source_new(const bv_source_conf *c, const bv_source_env *env, char *errstr,
                         size_t errlen)
{
    const plugin *p = find_plugin(c->platform);
    if (p == NULL) {
        snprintf(errstr, errlen, "unknown platform '%s'", c->platform ? c->platform : "");
        return NULL;
    }
    char why[256] = "";
    secrets sec = {
        .token = secret(c->token_env, "token_env", why, sizeof why),
        .app_secret = secret(c->app_secret_env, "app_secret_env", why, sizeof why),
        .verify_token = secret(c->verify_token_env, "verify_token_env", why, sizeof why),
    };
    if (why[0]) {
        snprintf(errstr, errlen, "%s", why);
        return NULL;
    }
    bv_source *s = calloc(1, sizeof *s);
    if (s == NULL || (s->name = strdup(c->name ? c->name : c->platform)) == NULL) {
        snprintf(errstr, errlen, "out of memory");
        free(s);
        return NULL;
    }
    s->p = p;
    s->ctx = p->create(c, &sec, env, errstr, errlen);
    if (s->ctx == NULL) {
        free(s->name);
        free(s);
        return NULL;
    }
    return s;
}

void bv_source_stats_get(const bv_source *s, bv_source_stats *out)
{
    s->p->stats(s->ctx, out);
}

const char *bv_source_name(const bv_source *s)
{
    return s->name;
}

const char *bv_source_platform(const bv_source *s)
{
    return s->p->platform;
}

int bv_source_port(const bv_source *s)
{
    return s->p->port ? s->p->port(s->ctx) : 0;
}

void bv_source_free(bv_source *s)
{
    if (s == NULL) {
        return;
    }
    s->p->destroy(s->ctx);
    free(s->name);
    free(s);
}
