/* jetstream.c: the Bluesky Jetstream source; see jetstream.h. One bv_ws per connection; each
 * message is scanned for its identity (did, time_us, kind, commit rev/collection/rkey: a yajl
 * event parse that stops once it has them, before the record), checked against the replayed
 * overlap, then decoded by the codec. The cursor is written by a timer, so a busy stream writes
 * it at most every cursor_save_ms. */
#include "source/jetstream.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "net/ws.h"
#include "source/source_util.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define DEDUPE_KEYS 4096 /* the events remembered for the replayed overlap */

struct bv_jetstream {
    struct event_base *base;
    struct evdns_base *dns;
    char *name, *url, *ca_file, *cursor_path;
    int64_t stall_ms, backoff_min_ms, backoff_max_ms, cursor_save_ms, rewind_ms;
    size_t max_message;
    const bv_clock *clock;
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;

    bv_ws *ws;
    int64_t wait_ms;   /* the last wait between connections; 0 after a good connection */
    int got_message;   /* this connection delivered a message */
    int64_t cursor_us; /* time_us of the last event handled; 0: none */
    int cursor_dirty;  /* not written yet */
    int64_t floor_us;  /* the cursor when this connection was made: replays lie at or below */
    uint64_t keys[DEDUPE_KEYS];
    size_t key_next, key_count;
    uint64_t bytes_done; /* bytes of the connections that ended */
    struct event *retry_ev, *save_ev;
    const char *state;
    bv_source_stats st;
};

static void connect_now(bv_jetstream *j);

/* ------------------------------------------------------------------------------------------ */
/* What identifies an event: a yajl event parse of the top level and of "commit". */

enum { K_NONE, K_DID, K_TIME, K_KIND, K_COMMIT, K_REV, K_COLL, K_RKEY };

typedef struct meta {
    int depth;     /* maps and arrays open */
    int in_commit; /* inside the top-level "commit" object */
    int key;       /* what the next value is */
    int have_did, have_time, have_kind, is_commit, have_rev, have_coll, have_rkey;
    uint64_t did, kind, rev, coll, rkey; /* hashes of the values */
    int64_t time_us;
} meta;

static uint64_t fnv(const unsigned char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ s[i]) * 0x100000001b3ull;
    }
    return h;
}

static int meta_done(const meta *m)
{
    return m->have_did && m->have_time && m->have_kind &&
           (!m->is_commit || (m->have_rev && m->have_coll && m->have_rkey));
}

/* After a value: 0 (stop parsing) once everything is known. */
static int meta_value(meta *m)
{
    m->key = K_NONE;
    return !meta_done(m);
}

static int m_null(void *ctx)
{
    return meta_value(ctx);
}

static int m_bool(void *ctx, int b)
{
    (void)b;
    return meta_value(ctx);
}

static int m_number(void *ctx, const char *s, size_t n)
{
    meta *m = ctx;
    if (m->key == K_TIME && m->depth == 1 && n > 0 && n < 19) {
        int64_t v = 0;
        size_t i = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i++] - '0');
        }
        if (i == n && v > 0) {
            m->time_us = v;
            m->have_time = 1;
        }
    }
    return meta_value(m);
}

static int m_string(void *ctx, const unsigned char *s, size_t n)
{
    meta *m = ctx;
    uint64_t h = fnv(s, n, 0xcbf29ce484222325ull);
    switch (m->key) {
    case K_DID:
        m->did = h;
        m->have_did = 1;
        break;
    case K_KIND:
        m->kind = h;
        m->have_kind = 1;
        m->is_commit = n == 6 && memcmp(s, "commit", 6) == 0;
        break;
    case K_REV:
        m->rev = h;
        m->have_rev = 1;
        break;
    case K_COLL:
        m->coll = h;
        m->have_coll = 1;
        break;
    case K_RKEY:
        m->rkey = h;
        m->have_rkey = 1;
        break;
    default:
        break;
    }
    return meta_value(m);
}

static int m_key(void *ctx, const unsigned char *s, size_t n)
{
    meta *m = ctx;
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(s, lit, n) == 0)
    m->key = K_NONE;
    if (m->depth == 1) {
        m->key = IS("did")       ? K_DID
                 : IS("time_us") ? K_TIME
                 : IS("kind")    ? K_KIND
                 : IS("commit")  ? K_COMMIT
                                 : K_NONE;
    } else if (m->depth == 2 && m->in_commit) {
        m->key = IS("rev") ? K_REV : IS("collection") ? K_COLL : IS("rkey") ? K_RKEY : K_NONE;
    }
#undef IS
    return 1;
}

static int m_start(void *ctx)
{
    meta *m = ctx;
    m->depth++;
    if (m->depth == 2 && m->key == K_COMMIT) {
        m->in_commit = 1;
    }
    m->key = K_NONE;
    return 1;
}

static int m_end(void *ctx)
{
    meta *m = ctx;
    if (m->depth == 2) {
        m->in_commit = 0;
    }
    m->depth--;
    return meta_value(m);
}

static int m_start_array(void *ctx)
{
    meta *m = ctx;
    m->depth++;
    m->key = K_NONE;
    return 1;
}

static int m_end_array(void *ctx)
{
    ((meta *)ctx)->depth--;
    return 1;
}

static const yajl_callbacks meta_cbs = {m_null,  m_bool, NULL,  NULL,          m_number,   m_string,
                                        m_start, m_key,  m_end, m_start_array, m_end_array};

/* 1 and *m filled when the message names its did, time_us and kind (and, for a commit, rev,
 * collection and rkey). */
static int meta_scan(const char *json, size_t len, meta *m)
{
    memset(m, 0, sizeof *m);
    yajl_handle h = yajl_alloc(&meta_cbs, NULL, m);
    if (h == NULL) {
        return 0;
    }
    yajl_status s = yajl_parse(h, (const unsigned char *)json, len);
    if (s == yajl_status_ok) {
        s = yajl_complete_parse(h);
    }
    yajl_free(h);
    return (s == yajl_status_ok || s == yajl_status_client_canceled) && meta_done(m);
}

/* (did, collection, rkey, rev) for commits; (did, kind, time_us) for the rest. */
static uint64_t meta_key(const meta *m)
{
    uint64_t k = m->did;
    k = (k ^ m->kind) * 0x100000001b3ull;
    if (m->is_commit) {
        k = (k ^ m->coll) * 0x100000001b3ull;
        k = (k ^ m->rkey) * 0x100000001b3ull;
        k = (k ^ m->rev) * 0x100000001b3ull;
    } else {
        k = (k ^ (uint64_t)m->time_us) * 0x100000001b3ull;
    }
    return k ^ (k >> 29);
}

static int key_seen(const bv_jetstream *j, uint64_t k)
{
    for (size_t i = 0; i < j->key_count; i++) {
        if (j->keys[i] == k) {
            return 1;
        }
    }
    return 0;
}

static void key_add(bv_jetstream *j, uint64_t k)
{
    j->keys[j->key_next] = k;
    j->key_next = (j->key_next + 1) % DEDUPE_KEYS;
    if (j->key_count < DEDUPE_KEYS) {
        j->key_count++;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The cursor file */

static void save_cursor(bv_jetstream *j)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, j->cursor_us);
    int e = bv_source_state_save(j->cursor_path, num);
    if (e != 0) {
        j->st.errors++;
        bv_log(BV_LOG_ERROR, j->name, "cannot save the cursor in %s: %s", j->cursor_path,
               strerror(e));
    }
    j->cursor_dirty = 0;
}

static void load_cursor(bv_jetstream *j)
{
    char buf[32];
    if (bv_source_state_load(j->cursor_path, buf, sizeof buf) != 0) {
        return; /* none yet: live tail */
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno == 0 && end != buf && *end == '\0' && v > 0) {
        j->cursor_us = v;
    } else {
        bv_log(BV_LOG_WARN, j->name, "%s holds no cursor; starting from the live tail",
               j->cursor_path);
    }
}

static void on_save(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_jetstream *j = arg;
    if (j->cursor_dirty) {
        save_cursor(j);
    }
}

static void set_cursor(bv_jetstream *j, int64_t us)
{
    j->cursor_us = us;
    if (!j->cursor_dirty) {
        j->cursor_dirty = 1;
        bv_source_arm(j->save_ev, j->cursor_save_ms);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Messages */

static void count_error(bv_jetstream *j, const char *detail)
{
    j->st.errors++;
    bv_source_set_error(&j->st, detail);
    bv_log(BV_LOG_DEBUG, j->name, "%s", detail);
}

static void on_message(void *arg, int opcode, char *data, size_t len)
{
    bv_jetstream *j = arg;
    if (!j->got_message) {
        j->got_message = 1; /* a good connection: trouble backs off from the start again */
        j->wait_ms = 0;
        j->st.next_wait_ms = 0;
    }
    if (opcode != BV_WS_TEXT) {
        count_error(j, "a binary message (compressed events are not supported)");
        return;
    }
    meta m;
    int known = meta_scan(data, len, &m);
    uint64_t key = known ? meta_key(&m) : 0;
    if (known && m.time_us <= j->floor_us && key_seen(j, key)) {
        j->st.skipped++; /* handled before the reconnect: the replayed overlap */
        return;
    }
    bv_post post;
    bv_skip why;
    bv_decode d = bv_codec_decode_platform(j->codec, BV_PLATFORM_BLUESKY, data, len, &post, &why);
    if (d != BV_DECODE_POST &&
        (why == BV_SKIP_NOT_JSON || why == BV_SKIP_NOT_UTF8 || why == BV_SKIP_TOO_LONG ||
         why == BV_SKIP_TOO_DEEP || why == BV_SKIP_UNKNOWN_SHAPE)) {
        char detail[96];
        snprintf(detail, sizeof detail, "a message that is not a Jetstream event (%s)",
                 bv_skip_name(why));
        count_error(j, detail);
        return;
    }
    if (known) {
        key_add(j, key);
        set_cursor(j, m.time_us);
    }
    if (d != BV_DECODE_POST) {
        j->st.skipped++; /* other collections, updates, identity and account events */
        return;
    }
    if (post.kind == BV_POST_DELETE) {
        j->st.deletes++;
    } else {
        j->st.posts++;
    }
    int64_t now = bv_now_ms(j->clock);
    if (post.received_ms == 0) {
        post.received_ms = now;
    }
    j->st.last_post_ms = now;
    bv_raw raw = {.json = data, .len = len};
    j->post(j->arg, &post, &raw); /* last: the callback may free the source */
}

/* ------------------------------------------------------------------------------------------ */
/* Connections */

static void retry_later(bv_jetstream *j, int refused, int64_t at_least_ms)
{
    int64_t w = bv_source_backoff(&j->wait_ms, j->backoff_min_ms, j->backoff_max_ms, refused);
    if (w < at_least_ms) {
        w = at_least_ms;
    }
    j->state = refused ? "failed" : "backing off";
    j->st.next_wait_ms = w;
    bv_source_arm(j->retry_ev, w);
}

static void on_open(void *arg)
{
    bv_jetstream *j = arg;
    j->state = "streaming";
    j->st.last_status = 101;
    bv_log(BV_LOG_INFO, j->name, "connected%s", j->cursor_us ? " (resuming)" : "");
}

static void on_close(void *arg, const bv_ws_close_info *info)
{
    bv_jetstream *j = arg;
    if (info->why == BV_WS_END_FREED) {
        return; /* bv_jetstream_free */
    }
    j->bytes_done += bv_ws_bytes_in(j->ws);
    bv_ws_free(j->ws); /* freed when this callback returns */
    j->ws = NULL;
    int refused = 0;
    int64_t at_least = 0;
    char detail[160];
    if (info->why == BV_WS_END_IDLE) {
        snprintf(detail, sizeof detail, "nothing received for %lld ms (stalled)",
                 (long long)j->stall_ms);
    } else {
        snprintf(detail, sizeof detail, "%s", info->errstr);
    }
    if (info->why == BV_WS_END_HTTP) {
        j->st.last_status = info->code;
        refused = info->code >= 400 && info->code < 500 && info->code != 429;
        if (info->code == 429 && info->retry_after > 0) {
            at_least = (int64_t)info->retry_after * 1000;
        }
    }
    if (info->why != BV_WS_END_CLOSED) {
        j->st.errors++;
    }
    bv_source_set_error(&j->st, detail);
    bv_log(refused ? BV_LOG_ERROR : BV_LOG_WARN, j->name, "%s%s", detail,
           refused ? " (check the url)" : "; reconnecting");
    retry_later(j, refused, at_least);
}

/* The configured URL with our cursor in place of its own (which counts only until we have one),
 * and maxMessageSizeBytes when it sets none. */
static int build_url(const bv_jetstream *j, bv_buf *out)
{
    const char *q = strchr(j->url, '?');
    size_t base = q ? (size_t)(q - j->url) : strlen(j->url);
    int rc = bv_buf_append(out, j->url, base);
    char sep = '?';
    int has_max = 0;
    for (const char *p = q ? q + 1 : NULL; p && *p && rc == 0;) {
        size_t n = strcspn(p, "&");
        size_t nl = strcspn(p, "=&");
        int is_cursor = j->cursor_us > 0 && nl == 6 && memcmp(p, "cursor", 6) == 0;
        has_max |= nl == 19 && memcmp(p, "maxMessageSizeBytes", 19) == 0;
        if (n > 0 && !is_cursor) {
            rc = bv_buf_putc(out, sep) || bv_buf_append(out, p, n);
            sep = '&';
        }
        p += n;
        p += *p == '&';
    }
    if (rc == 0 && j->cursor_us > 0) {
        int64_t from = j->cursor_us - j->rewind_ms * 1000;
        rc = bv_buf_printf(out, "%ccursor=%" PRId64, sep, from > 0 ? from : 1);
        sep = '&';
    }
    if (rc == 0 && !has_max) {
        rc = bv_buf_printf(out, "%cmaxMessageSizeBytes=%zu", sep, j->max_message);
    }
    return rc;
}

static void connect_now(bv_jetstream *j)
{
    bv_buf url = BV_BUF_INIT;
    char err[256];
    j->state = "connecting";
    j->floor_us = j->cursor_us;
    j->got_message = 0;
    if (build_url(j, &url) != 0) {
        bv_buf_free(&url);
        count_error(j, "out of memory");
        retry_later(j, 0, 0);
        return;
    }
    bv_ws_opts o = {.url = url.p,
                    .ca_file = j->ca_file,
                    .timeout_ms = j->stall_ms,
                    .idle_ms = j->stall_ms,
                    .max_message = j->max_message,
                    .on_open = on_open,
                    .on_message = on_message,
                    .on_close = on_close,
                    .arg = j};
    j->ws = bv_ws_connect(j->base, j->dns, &o, err, sizeof err);
    bv_buf_free(&url);
    if (j->ws == NULL) {
        bv_log(BV_LOG_WARN, j->name, "%s", err);
        count_error(j, err);
        retry_later(j, 0, 0);
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_jetstream *j = arg;
    j->st.reconnects++;
    connect_now(j);
}

bv_jetstream *bv_jetstream_new(struct event_base *base, struct evdns_base *dns,
                               const bv_jetstream_opts *o, char *errstr, size_t errlen)
{
    char uerr[160];
    if (o->url == NULL || (strncmp(o->url, "ws://", 5) != 0 && strncmp(o->url, "wss://", 6) != 0) ||
        bv_ws_url_check(o->url, uerr, sizeof uerr) != BV_OK) {
        snprintf(errstr, errlen, "bluesky: needs a ws:// or wss:// url (%s)",
                 o->url ? uerr : "none given");
        return NULL;
    }
    if (o->state_dir == NULL || o->codec == NULL || o->post == NULL) {
        snprintf(errstr, errlen, "bluesky: needs a state_dir, a codec and a post callback");
        return NULL;
    }
    if (!bv_source_name_ok(o->name)) {
        snprintf(errstr, errlen, "bluesky: a source name holds letters, digits, - _ . only");
        return NULL;
    }
    bv_jetstream *j = calloc(1, sizeof *j);
    if (j == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    j->base = base;
    j->dns = dns;
    j->name = strdup(o->name ? o->name : "bluesky");
    j->url = strdup(o->url);
    j->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
    j->cursor_path =
        j->name ? bv_source_state_path(o->state_dir, "bluesky", j->name, "cursor") : NULL;
    j->stall_ms = o->stall_ms > 0 ? o->stall_ms : 60000;
    j->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : 1000;
    j->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 60000;
    j->cursor_save_ms = o->cursor_save_ms > 0 ? o->cursor_save_ms : 5000;
    j->rewind_ms = o->rewind_ms > 0 ? o->rewind_ms : 5000;
    j->max_message = o->max_message ? o->max_message : BV_WS_MAX_MESSAGE_DEFAULT;
    j->clock = o->clock ? o->clock : bv_clock_system();
    j->codec = o->codec;
    j->post = o->post;
    j->arg = o->arg;
    j->retry_ev = evtimer_new(base, on_retry, j);
    j->save_ev = evtimer_new(base, on_save, j);
    if (!j->name || !j->url || (o->ca_file && !j->ca_file) || !j->cursor_path || !j->retry_ev ||
        !j->save_ev) {
        snprintf(errstr, errlen, "out of memory");
        bv_jetstream_free(j);
        return NULL;
    }
    load_cursor(j);
    connect_now(j);
    return j;
}

void bv_jetstream_stats_get(const bv_jetstream *j, bv_source_stats *out)
{
    *out = j->st;
    out->state = j->state;
    out->bytes = j->bytes_done + (j->ws ? bv_ws_bytes_in(j->ws) : 0);
}

int64_t bv_jetstream_cursor(const bv_jetstream *j)
{
    return j->cursor_us;
}

void bv_jetstream_free(bv_jetstream *j)
{
    if (j == NULL) {
        return;
    }
    if (j->cursor_dirty) {
        save_cursor(j);
    }
    bv_ws_free(j->ws); /* its on_close sees BV_WS_END_FREED and does nothing */
    if (j->retry_ev) {
        event_free(j->retry_ev);
    }
    if (j->save_ev) {
        event_free(j->save_ev);
    }
    free(j->name);
    free(j->url);
    free(j->ca_file);
    free(j->cursor_path);
    free(j);
}
