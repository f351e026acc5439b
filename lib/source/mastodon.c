/* mastodon.c: the live Mastodon SSE source; see mastodon.h. One easy handle, used again for every
 * connection; a stall timer that every received byte re-arms; backoff between connections. */
#include "source/mastodon.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "net/sse.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRBODY_MAX 200 /* bytes of an error response kept for the message */

struct bv_mastodon {
    struct event_base *base;
    bv_curl_loop *cl;
    char *name, *url;
    struct curl_slist *headers; /* holds the token: never printed */
    int64_t stall_ms, backoff_min_ms, backoff_max_ms, backoff_ms;
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
    int streamed; /* this connection delivered a 200 stream */
    bv_buf errbody;
    bv_buf scratch; /* an event's data, NUL-terminated for the codec */
    struct event *stall_ev, *retry_ev;
    const char *state;
    bv_source_stats st;
};

static void connect_now(bv_mastodon *m);

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* The last error, cut to fit (it is shown in stats and logs). */
static void set_error(bv_mastodon *m, const char *detail)
{
    size_t n = strlen(detail);
    if (n >= sizeof m->st.last_error) {
        n = sizeof m->st.last_error - 1;
    }
    memcpy(m->st.last_error, detail, n);
    m->st.last_error[n] = '\0';
}

/* Waits, then connects again: exponential from the minimum for passing trouble, the maximum for
 * a configuration the server refuses. */
static void retry_later(bv_mastodon *m, int refused)
{
    if (refused) {
        m->backoff_ms = m->backoff_max_ms;
        m->state = "failed";
    } else {
        m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : m->backoff_min_ms;
        if (m->backoff_ms > m->backoff_max_ms) {
            m->backoff_ms = m->backoff_max_ms;
        }
        m->state = "backing off";
    }
    event_del(m->stall_ev);
    struct timeval tv = tv_ms(m->backoff_ms);
    event_add(m->retry_ev, &tv);
}

static int on_event(void *arg, const bv_sse_event *ev)
{
    bv_mastodon *m = arg;
    bv_post post;
    int is_update = (ev->type_len == 6 && memcmp(ev->type, "update", 6) == 0) ||
                    (ev->type_len == 13 && memcmp(ev->type, "status.update", 13) == 0);
    int is_delete = ev->type_len == 6 && memcmp(ev->type, "delete", 6) == 0;
    if (is_update) {
        bv_buf_reset(&m->scratch);
        if (bv_buf_append(&m->scratch, ev->data, ev->data_len) != 0 ||
            bv_buf_append(&m->scratch, "\0", 1) != 0) {
            m->st.errors++;
            return 0;
        }
        bv_skip why;
        if (bv_codec_decode_platform(m->codec, BV_PLATFORM_MASTODON, m->scratch.p, ev->data_len,
                                     &post, &why) != BV_DECODE_POST) {
            m->st.skipped++;
            return 0;
        }
        m->st.posts++;
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
    m->post(m->arg, &post);
    return 0;
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    bv_mastodon *m = arg;
    size_t len = size * n;
    m->st.bytes += len;
    if (!m->got_status) {
        m->got_status = 1;
        curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &m->status);
        m->st.last_status = m->status;
        if (m->status == 200) {
            m->streamed = 1;
            m->state = "streaming";
            m->backoff_ms = 0; /* a good connection: trouble backs off from the start again */
        }
    }
    struct timeval tv = tv_ms(m->stall_ms);
    event_add(m->stall_ev, &tv); /* any byte, heartbeats included, shows the stream is alive */
    if (m->status != 200) {
        size_t room = m->errbody.len < ERRBODY_MAX ? ERRBODY_MAX - m->errbody.len : 0;
        if (room && bv_buf_append(&m->errbody, p, len < room ? len : room) != 0) {
            return 0;
        }
        return len;
    }
    bv_sse_feed(m->sse, p, len, on_event, m);
    return len;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    bv_mastodon *m = arg;
    (void)easy;
    m->running = 0;
    event_del(m->stall_ev);
    if (!m->got_status) {
        curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &m->status);
        m->st.last_status = m->status;
    }
    if (rc != CURLE_OK) {
        m->st.errors++;
        set_error(m, m->curl_err[0] ? m->curl_err : curl_easy_strerror(rc));
        bv_log(BV_LOG_WARN, "mastodon", "%s: %s", m->name, m->st.last_error);
        retry_later(m, 0);
        return;
    }
    if (m->status == 200) {
        set_error(m, "the server ended the stream");
        retry_later(m, 0);
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
    set_error(m, detail);
    int refused = m->status == 400 || m->status == 401 || m->status == 403 || m->status == 404;
    bv_log(refused ? BV_LOG_ERROR : BV_LOG_WARN, "mastodon", "%s: %s%s", m->name, detail,
           m->status == 401 ? " (the token is missing, wrong or lacks a scope)" : "");
    retry_later(m, refused);
}

static void on_stall(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_mastodon *m = arg;
    if (m->running) {
        bv_curl_loop_remove(m->cl, m->easy);
        m->running = 0;
    }
    m->st.errors++;
    char why[96];
    snprintf(why, sizeof why, "nothing received for %lld ms (stalled)", (long long)m->stall_ms);
    set_error(m, why);
    bv_log(BV_LOG_WARN, "mastodon", "%s: %s; reconnecting", m->name, m->st.last_error);
    retry_later(m, 0);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_mastodon *m = arg;
    m->st.reconnects++;
    connect_now(m);
}

static void connect_now(bv_mastodon *m)
{
    bv_sse_reset(m->sse);
    bv_buf_reset(&m->errbody);
    m->got_status = 0;
    m->status = 0;
    m->streamed = 0;
    m->curl_err[0] = '\0';
    m->state = "connecting";
    struct timeval tv = tv_ms(m->stall_ms);
    event_add(m->stall_ev, &tv); /* connecting counts as silence too */
    if (bv_curl_loop_add(m->cl, m->easy, on_done, m) != BV_OK) {
        m->st.errors++;
        set_error(m, "cannot start a transfer");
        retry_later(m, 0);
        return;
    }
    m->running = 1;
}

bv_mastodon *bv_mastodon_new(struct event_base *base, bv_curl_loop *cl, const bv_mastodon_opts *o,
                             char *errstr, size_t errlen)
{
    if (o->url == NULL || o->codec == NULL || o->post == NULL ||
        (strncmp(o->url, "https://", 8) != 0 && strncmp(o->url, "http://", 7) != 0)) {
        snprintf(errstr, errlen, "mastodon: url must be an http(s):// streaming URL");
        return NULL;
    }
    bv_mastodon *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    m->base = base;
    m->cl = cl;
    m->name = strdup(o->name ? o->name : "mastodon");
    m->url = strdup(o->url);
    m->stall_ms = o->stall_ms > 0 ? o->stall_ms : 45000;
    m->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : 1000;
    m->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 60000;
    if (m->backoff_max_ms < m->backoff_min_ms) {
        m->backoff_max_ms = m->backoff_min_ms;
    }
    m->clock = o->clock ? o->clock : bv_clock_system();
    m->codec = o->codec;
    m->post = o->post;
    m->arg = o->arg;
    m->state = "connecting";
    m->sse = bv_sse_new(0, 0);
    m->easy = curl_easy_init();
    m->stall_ev = evtimer_new(base, on_stall, m);
    m->retry_ev = evtimer_new(base, on_retry, m);
    m->headers = curl_slist_append(NULL, "Accept: text/event-stream");
    if (o->token && *o->token) {
        size_t n = strlen(o->token) + 32;
        char *h = malloc(n);
        if (h) {
            snprintf(h, n, "Authorization: Bearer %s", o->token);
            struct curl_slist *nh = curl_slist_append(m->headers, h);
            memset(h, 0, n);
            free(h);
            m->headers = nh;
        } else {
            m->headers = NULL;
        }
    }
    if (!m->name || !m->url || !m->sse || !m->easy || !m->stall_ev || !m->retry_ev || !m->headers) {
        snprintf(errstr, errlen, "out of memory");
        bv_mastodon_free(m);
        return NULL;
    }
    curl_easy_setopt(m->easy, CURLOPT_URL, m->url);
    curl_easy_setopt(m->easy, CURLOPT_HTTPHEADER, m->headers);
    curl_easy_setopt(m->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(m->easy, CURLOPT_WRITEDATA, m);
    curl_easy_setopt(m->easy, CURLOPT_ERRORBUFFER, m->curl_err);
    curl_easy_setopt(m->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(m->easy, CURLOPT_USERAGENT, "blikveld/0.1 (crisis monitoring)");
    curl_easy_setopt(m->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    connect_now(m);
    return m;
}

void bv_mastodon_stats_get(const bv_mastodon *m, bv_source_stats *out)
{
    *out = m->st;
    out->state = m->state;
}

void bv_mastodon_free(bv_mastodon *m)
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
    if (m->retry_ev) {
        event_free(m->retry_ev);
    }
    bv_sse_free(m->sse);
    bv_buf_free(&m->errbody);
    bv_buf_free(&m->scratch);
    free(m->name);
    free(m->url);
    free(m);
}
