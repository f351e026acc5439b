/* stream.c: live streaming sources (Mastodon SSE, X NDJSON); see stream.h. One easy handle, used
 * again for every connection; a stall timer that every received byte re-arms; waits between
 * connections by the kind's policy. */
#include "source/stream.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "net/lines.h"
#include "net/sse.h"
#include "source/source_util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRBODY_MAX 200   /* bytes of an error response kept for the message */
#define RESUME_CHECK_MS 1 /* while paused, how often the consumer is asked again */

typedef enum { W_ENDED, W_NET, W_HTTP, W_RATE, W_REFUSED } wait_kind;

struct bv_stream {
    bv_curl_loop *cl;
    bv_stream_kind kind;
    char *name, *url;
    struct curl_slist *headers; /* holds the token: never printed */
    int64_t stall_ms;
    bv_stream_backoff bo;
    int64_t w_net, w_http, w_rate; /* the last wait of each kind; 0 after a good connection */
    int net_fresh;                 /* no network trouble since the last good connection */
    size_t max_line;
    bv_lines *lines; /* X: the connection's line framer */
    const bv_clock *clock;
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;

    CURL *easy;
    char curl_err[CURL_ERROR_SIZE];
    bv_sse *sse;
    int running;    /* the transfer is in the curl loop */
    int got_status; /* the status of this connection was looked at */
    long status;
    bv_buf errbody;
    struct event *stall_ev, *retry_ev, *resume_ev;
    bv_full_cb *full;
    int paused; /* the transfer is paused: the consumer is full */
    const char *state;
    bv_source_stats st;
};

static void connect_now(bv_stream *m);

/* Waits by the kind's policy (stream.h), then connects again. */
static void retry_later(bv_stream *m, wait_kind why)
{
    int64_t w;
    int x = m->kind == BV_STREAM_X;
    switch (why) {
    case W_ENDED:
    case W_NET:
        if (x) {
            /* X: at once after a drop; then +250 ms per failed attempt, up to 16 s */
            w = m->net_fresh ? 0 : m->w_net + m->bo.net_step;
            w = w > m->bo.net_max ? m->bo.net_max : w;
        } else {
            w = bv_source_doubled(m->w_net, m->bo.net_step, m->bo.net_max);
        }
        m->w_net = w;
        m->net_fresh = 0;
        break;
    case W_HTTP:
        w = m->w_http = bv_source_doubled(m->w_http, m->bo.http_min, m->bo.http_max);
        break;
    case W_RATE:
        w = m->w_rate = bv_source_doubled(m->w_rate, m->bo.rate_min, m->bo.rate_max);
        break;
    default: /* W_REFUSED: the configuration is wrong */
        w = x ? (m->w_http = bv_source_doubled(m->w_http, m->bo.http_min, m->bo.http_max))
              : m->bo.http_max;
        break;
    }
    m->state = why == W_REFUSED ? "failed" : "backing off";
    m->st.next_wait_ms = w;
    event_del(m->stall_ev);
    bv_source_arm(m->retry_ev, w);
}

static int on_event(void *arg, const bv_sse_event *ev)
{
    bv_stream *m = arg;
    bv_post post;
    bv_raw raw = {0};
    int is_update = (ev->type_len == 6 && memcmp(ev->type, "update", 6) == 0) ||
                    (ev->type_len == 13 && memcmp(ev->type, "status.update", 13) == 0);
    int is_delete = ev->type_len == 6 && memcmp(ev->type, "delete", 6) == 0;
    if (is_update) {
        /* the codec parses in place and needs a spare byte after the text: the event's bytes
         * are the SSE parser's scratch, ours to change during this call (sse.h) */
        char *json = (char *)ev->data;
        bv_skip why;
        if (bv_codec_decode_platform(m->codec, BV_PLATFORM_MASTODON, json, ev->data_len, &post,
                                     &why) != BV_DECODE_POST) {
            m->st.skipped++;
            return 0;
        }
        m->st.posts++;
        raw.json = json;
        raw.len = ev->data_len;
    } else if (is_delete) {
        if (bv_codec_mastodon_delete(ev->data, ev->data_len, &post) != 0) {
            m->st.skipped++;
            return 0;
        }
        m->st.deletes++;
    } else {
        m->st.skipped++; /* filters_changed, notifications, ... */
        return 0;
    }
    int64_t now = bv_now_ms(m->clock);
    if (post.received_ms == 0) {
        post.received_ms = now;
    }
    m->st.last_post_ms = now;
    m->post(m->arg, &post, &raw);
    return 0;
}

/* One X message: a post, an in-stream error or a message type we do not know (skipped). */
static void on_line(bv_stream *m, bv_line *ln)
{
    if (ln->too_long) {
        m->st.skipped++;
        return;
    }
    size_t k = 0;
    while (k < ln->len && (ln->data[k] == ' ' || ln->data[k] == '\t')) {
        k++;
    }
    if (k == ln->len) {
        return; /* a keep-alive */
    }
    ln->data[ln->len] = '\0';
    bv_post post;
    bv_skip why;
    if (bv_codec_decode_platform(m->codec, BV_PLATFORM_X, ln->data, ln->len, &post, &why) !=
        BV_DECODE_POST) {
        m->st.skipped++;
        return;
    }
    if (post.kind == BV_POST_DELETE) {
        m->st.deletes++;
    } else {
        m->st.posts++;
    }
    int64_t now = bv_now_ms(m->clock);
    if (post.received_ms == 0) {
        post.received_ms = now;
    }
    m->st.last_post_ms = now;
    bv_raw raw = {.json = ln->data, .len = ln->len};
    m->post(m->arg, &post, &raw);
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    bv_stream *m = arg;
    size_t len = size * n;
    m->st.bytes += len;
    if (!m->got_status) {
        m->got_status = 1;
        curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &m->status);
        m->st.last_status = m->status;
        if (m->status == 200) {
            m->state = "streaming";
            /* a good connection: trouble backs off from the start again */
            m->w_net = m->w_http = m->w_rate = 0;
            m->net_fresh = 1;
            m->st.next_wait_ms = 0;
        }
    }
    bv_source_arm(m->stall_ev,
                  m->stall_ms); /* any byte, heartbeats included, shows the stream is alive */
    if (m->status == 200 && m->full && m->full(m->arg, 0)) {
        /* the consumer is behind: leave these bytes in curl, which gives them again once the
         * transfer goes on; until then TCP holds the rest at the server */
        m->st.bytes -= len;
        m->paused = 1;
        m->st.pauses++;
        event_del(m->stall_ev);
        bv_source_arm(m->resume_ev, RESUME_CHECK_MS);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (m->status != 200) {
        size_t room = m->errbody.len < ERRBODY_MAX ? ERRBODY_MAX - m->errbody.len : 0;
        if (room && bv_buf_append(&m->errbody, p, len < room ? len : room) != 0) {
            return 0;
        }
        return len;
    }
    if (m->kind == BV_STREAM_X) {
        if (bv_lines_feed(m->lines, p, len) != 0) {
            return 0; /* out of memory: the transfer fails and is retried */
        }
        bv_line ln;
        while (bv_lines_next(m->lines, &ln) == 1) {
            on_line(m, &ln);
        }
        return len;
    }
    bv_sse_feed(m->sse, p, len, on_event, m);
    return len;
}

/* While paused: go on once the consumer has room again. */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_stream *m = arg;
    if (!m->paused || !m->running) {
        m->paused = 0;
        return;
    }
    if (m->full && m->full(m->arg, 1)) {
        bv_source_arm(m->resume_ev, RESUME_CHECK_MS);
        return;
    }
    m->paused = 0;
    bv_source_arm(m->stall_ev, m->stall_ms);
    curl_easy_pause(m->easy, CURLPAUSE_CONT); /* may hand over the held bytes at once */
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    bv_stream *m = arg;
    (void)easy;
    m->running = 0;
    m->paused = 0;
    event_del(m->resume_ev);
    event_del(m->stall_ev);
    if (!m->got_status) {
        curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &m->status);
        m->st.last_status = m->status;
    }
    if (rc != CURLE_OK) {
        m->st.errors++;
        bv_source_set_error(&m->st, m->curl_err[0] ? m->curl_err : curl_easy_strerror(rc));
        bv_log(BV_LOG_WARN, m->name, "%s", m->st.last_error);
        retry_later(m, W_NET);
        return;
    }
    if (m->status == 200) {
        bv_source_set_error(&m->st, "the server ended the stream");
        retry_later(m, W_ENDED);
        return;
    }
    m->st.errors++;
    char detail[ERRBODY_MAX + 32];
    snprintf(detail, sizeof detail, "HTTP %ld %.*s", m->status, (int)m->errbody.len,
             m->errbody.p ? m->errbody.p : "");
    for (char *c = detail; *c; c++) {
        if (*c == '\n' || *c == '\r') {
            *c = ' ';
        }
    }
    bv_source_set_error(&m->st, detail);
    long st = m->status;
    int refused = m->kind == BV_STREAM_X ? st == 401 || st == 403 || st == 409
                                         : st == 400 || st == 401 || st == 403 || st == 404;
    const char *hint = st == 401                             ? " (the token is missing or wrong)"
                       : st == 409 && m->kind == BV_STREAM_X ? " (the stream has no rules)"
                       : st == 403                           ? " (not entitled to this stream)"
                                                             : "";
    bv_log(refused ? BV_LOG_ERROR : BV_LOG_WARN, m->name, "%s%s", detail, hint);
    retry_later(m, refused ? W_REFUSED : st == 429 || st == 420 ? W_RATE : W_HTTP);
}

static void on_stall(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_stream *m = arg;
    if (m->running) {
        bv_curl_loop_remove(m->cl, m->easy);
        m->running = 0;
    }
    m->st.errors++;
    char why[96];
    snprintf(why, sizeof why, "nothing received for %lld ms (stalled)", (long long)m->stall_ms);
    bv_source_set_error(&m->st, why);
    bv_log(BV_LOG_WARN, m->name, "%s; reconnecting", m->st.last_error);
    retry_later(m, W_NET);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_stream *m = arg;
    m->st.reconnects++;
    connect_now(m);
}

static void connect_now(bv_stream *m)
{
    bv_sse_reset(m->sse);
    if (m->kind == BV_STREAM_X) {
        bv_lines_free(m->lines); /* a new connection starts at a line's beginning */
        m->lines = bv_lines_new(m->max_line);
        if (m->lines == NULL) {
            bv_source_set_error(&m->st, "out of memory");
            retry_later(m, W_NET);
            return;
        }
    }
    bv_buf_reset(&m->errbody);
    m->got_status = 0;
    m->status = 0;
    m->curl_err[0] = '\0';
    m->state = "connecting";
    bv_source_arm(m->stall_ev, m->stall_ms); /* connecting counts as silence too */
    if (bv_curl_loop_add(m->cl, m->easy, on_done, m) != BV_OK) {
        m->st.errors++;
        bv_source_set_error(&m->st, "cannot start a transfer");
        retry_later(m, W_NET);
        return;
    }
    m->running = 1;
}

bv_stream *bv_stream_new(struct event_base *base, bv_curl_loop *cl, const bv_stream_opts *o,
                         char *errstr, size_t errlen)
{
    const char *kname = o->kind == BV_STREAM_X ? "x" : "mastodon";
    if (!bv_source_url_ok(o->url) || o->codec == NULL || o->post == NULL) {
        snprintf(errstr, errlen, "%s: url must be an http(s):// streaming URL", kname);
        return NULL;
    }
    bv_stream *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    m->cl = cl;
    m->kind = o->kind;
    m->name = strdup(o->name ? o->name : kname);
    m->url = strdup(o->url);
    int x = o->kind == BV_STREAM_X;
    m->stall_ms = o->stall_ms > 0 ? o->stall_ms : x ? 20000 : 45000;
    /* the documented defaults (stream.h), each overridable */
    bv_stream_backoff d = x ? (bv_stream_backoff){250, 16000, 5000, 320000, 60000, 960000}
                            : (bv_stream_backoff){1000, 60000, 1000, 60000, 60000, 900000};
    m->bo.net_step = o->backoff.net_step > 0 ? o->backoff.net_step : d.net_step;
    m->bo.net_max = o->backoff.net_max > 0 ? o->backoff.net_max : d.net_max;
    m->bo.http_min = o->backoff.http_min > 0 ? o->backoff.http_min : d.http_min;
    m->bo.http_max = o->backoff.http_max > 0 ? o->backoff.http_max : d.http_max;
    m->bo.rate_min = o->backoff.rate_min > 0 ? o->backoff.rate_min : d.rate_min;
    m->bo.rate_max = o->backoff.rate_max > 0 ? o->backoff.rate_max : d.rate_max;
    m->net_fresh = 1;
    m->max_line = o->max_line ? o->max_line : (1u << 20);
    m->clock = o->clock ? o->clock : bv_clock_system();
    m->codec = o->codec;
    m->post = o->post;
    m->arg = o->arg;
    m->state = "connecting";
    m->sse = bv_sse_new(0, 0);
    m->easy = curl_easy_init();
    m->stall_ev = evtimer_new(base, on_stall, m);
    m->retry_ev = evtimer_new(base, on_retry, m);
    m->resume_ev = evtimer_new(base, on_resume, m);
    m->full = o->full;
    m->headers =
        curl_slist_append(NULL, x ? "Accept: application/json" : "Accept: text/event-stream");
    if (m->headers && o->token && *o->token) {
        m->headers = bv_source_auth_header(m->headers, "Bearer", o->token);
    }
    if (!m->name || !m->url || !m->sse || !m->easy || !m->stall_ev || !m->retry_ev ||
        !m->resume_ev || !m->headers) {
        snprintf(errstr, errlen, "out of memory");
        bv_stream_free(m);
        return NULL;
    }
    curl_easy_setopt(m->easy, CURLOPT_URL, m->url);
    curl_easy_setopt(m->easy, CURLOPT_HTTPHEADER, m->headers);
    curl_easy_setopt(m->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(m->easy, CURLOPT_WRITEDATA, m);
    /* bigger reads: fewer trips through the loop when a stream bursts */
    curl_easy_setopt(m->easy, CURLOPT_BUFFERSIZE, 128L * 1024);
    bv_source_easy_defaults(m->easy, m->curl_err);
    connect_now(m);
    return m;
}

void bv_stream_stats_get(const bv_stream *m, bv_source_stats *out)
{
    *out = m->st;
    out->state = m->state;
}

void bv_stream_free(bv_stream *m)
{
    if (m == NULL) {
        return;
    }
    if (m->running) {
        bv_curl_loop_remove(m->cl, m->easy);
    }
    if (m->easy) {
        curl_easy_cleanup(m->easy);
    }
    curl_slist_free_all(m->headers);
    if (m->stall_ev) {
        event_free(m->stall_ev);
    }
    if (m->resume_ev) {
        event_free(m->resume_ev);
    }
    if (m->retry_ev) {
        event_free(m->retry_ev);
    }
    bv_sse_free(m->sse);
    bv_lines_free(m->lines);
    bv_buf_free(&m->errbody);
    free(m->name);
    free(m->url);
    free(m);
}
