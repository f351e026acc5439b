/* sink_http.c: one HTTP request per call on the curl loop, classified for the sinks, and the
 * helpers the HTTP sinks share; see sink_http.h. Each request is a call record holding its easy
 * handle, its own copies of the body and headers, and the reply's first bytes; the client keeps
 * the records in flight in a list so that freeing it stops them all. */
#include "alert/sink_http.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "net/curl_loop.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct http_call {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    bv_buf reply;
    int truncated;
    int64_t timeout_ms;
    bv_http_cb *cb; /* NULL: done gets the classification */
    void *ctx;
    bv_sink_done_cb *done;
    void *arg;
    bv_http *h;
    struct http_call *next, *prev;
} http_call;

struct bv_http {
    const bv_sink_env *env;
    http_call *calls;
    size_t n;
};

bv_http *bv_http_new(const bv_sink_env *env)
{
    if (env == NULL || env->base == NULL || env->curl == NULL) {
        return NULL;
    }
    bv_http *h = calloc(1, sizeof *h);
    if (h) {
        h->env = env;
    }
    return h;
}

/* Header lines may hold secrets (Authorization): wiped before they are freed. */
static void wipe_headers(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next) {
        if (p->data) {
            explicit_bzero(p->data, strlen(p->data));
        }
    }
    curl_slist_free_all(l);
}

static void call_free(http_call *c)
{
    if (c == NULL) {
        return;
    }
    if (c->easy) {
        curl_easy_cleanup(c->easy);
    }
    wipe_headers(c->headers);
    free(c->body);
    bv_buf_free(&c->reply);
    free(c);
}

static void call_unlink(http_call *c)
{
    bv_http *h = c->h;
    if (h == NULL) {
        return;
    }
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        h->calls = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    h->n--;
    c->h = NULL;
    c->next = c->prev = NULL;
}

void bv_http_free(bv_http *h)
{
    if (h == NULL) {
        return;
    }
    while (h->calls) {
        http_call *c = h->calls;
        bv_curl_loop_remove(h->env->curl, c->easy);
        call_unlink(c);
        call_free(c);
    }
    free(h);
}

size_t bv_http_running(const bv_http *h)
{
    return h ? h->n : 0;
}

bv_sink_result bv_http_classify(long status)
{
    if (status >= 200 && status <= 299) {
        return BV_SINK_OK;
    }
    if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
        return BV_SINK_RETRY;
    }
    return BV_SINK_FAIL;
}

char *bv_http_status_reason(long status, char *out, size_t outlen)
{
    snprintf(out, outlen, "HTTP %ld%s", status,
             status >= 300 && status <= 399 ? " (redirect not followed)" : "");
    return out;
}

bv_sink_result bv_http_transport_reason(CURL *easy, CURLcode rc, int64_t timeout_ms, char *out,
                                        size_t outlen)
{
    long oserr = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &oserr);
    char d[32];
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(out, outlen, "timeout after %s", bv_duration_format(timeout_ms, d));
        return BV_SINK_RETRY;
    case CURLE_COULDNT_CONNECT:
        snprintf(out, outlen, "%s",
                 oserr == ECONNREFUSED                           ? "connection refused"
                 : oserr == ENETUNREACH || oserr == EHOSTUNREACH ? "host unreachable"
                 : oserr == ETIMEDOUT                            ? "connect timeout"
                                                                 : "could not connect");
        return BV_SINK_RETRY;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(out, outlen, "could not resolve host");
        return BV_SINK_RETRY;
    case CURLE_PEER_FAILED_VERIFICATION:
        snprintf(out, outlen, "TLS certificate not trusted");
        return BV_SINK_RETRY;
    case CURLE_SSL_CONNECT_ERROR:
        snprintf(out, outlen, "TLS handshake failed");
        return BV_SINK_RETRY;
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(out, outlen, "CA file unreadable");
        return BV_SINK_RETRY;
    case CURLE_GOT_NOTHING:
        snprintf(out, outlen, "empty reply");
        return BV_SINK_RETRY;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        snprintf(out, outlen, "%s", oserr == ECONNRESET ? "connection reset" : "connection lost");
        return BV_SINK_RETRY;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        snprintf(out, outlen, "bad URL");
        return BV_SINK_FAIL;
    default:
        /* curl's static text for the code (no URL, no header) */
        snprintf(out, outlen, "%s", curl_easy_strerror(rc));
        return BV_SINK_RETRY;
    }
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    http_call *c = arg;
    size_t n = size * nmemb;
    size_t room = c->reply.len < BV_HTTP_BODY_MAX ? BV_HTTP_BODY_MAX - c->reply.len : 0;
    size_t take = n < room ? n : room;
    if (take < n) {
        c->truncated = 1;
    }
    if (take && bv_buf_append(&c->reply, data, take) != 0) {
        return 0; /* out of memory: the transfer ends with a write error */
    }
    return n;
}

/* The transfer ended (it has left the multi handle): classify, then answer. The call leaves the
 * client first, so the callback may free the client (and with it every other call). */
static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    http_call *c = arg;
    call_unlink(c);
    char reason[96];
    bv_http_resp r;
    memset(&r, 0, sizeof r);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (rc != CURLE_OK) {
        r.transport = 1;
        r.result = bv_http_transport_reason(easy, rc, c->timeout_ms, reason, sizeof reason);
    } else {
        r.result = bv_http_classify(r.status);
        bv_http_status_reason(r.status, reason, sizeof reason);
    }
    r.reason = reason;
    r.body = c->reply.p ? c->reply.p : "";
    r.len = c->reply.len;
    r.truncated = c->truncated;
    if (c->cb) {
        c->cb(c->ctx, &r, c->done, c->arg);
    } else if (c->done) {
        c->done(c->arg, r.result, r.reason);
    }
    call_free(c);
}

int bv_http_send(bv_http *h, const bv_http_req *rq, bv_http_cb *cb, void *ctx,
                 bv_sink_done_cb *done, void *arg)
{
    int get = 0;
    if (rq->method == NULL || strcmp(rq->method, "POST") == 0) {
        get = 0;
    } else if (strcmp(rq->method, "GET") == 0) {
        get = 1;
    } else {
        return BV_EINVAL;
    }
    if (h == NULL || rq->url == NULL || (rq->len && rq->body == NULL) ||
        (cb == NULL && done == NULL)) {
        return BV_EINVAL;
    }
    int rc = BV_ENOMEM;
    http_call *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return BV_ENOMEM;
    }
    c->cb = cb;
    c->ctx = ctx;
    c->done = done;
    c->arg = arg;
    c->timeout_ms = h->env->timeout_ms > 0 ? h->env->timeout_ms : BV_HTTP_TIMEOUT_MS_DEFAULT;
    c->easy = curl_easy_init();
    if (c->easy == NULL) {
        goto fail;
    }
    /* no "Expect: 100-continue" round trip before a large body */
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    if (l == NULL) {
        goto fail;
    }
    c->headers = l;
    if (!get && rq->content_type) {
        size_t n = strlen(rq->content_type) + 16;
        char *line = malloc(n);
        if (line == NULL) {
            goto fail;
        }
        snprintf(line, n, "Content-Type: %s", rq->content_type);
        l = curl_slist_append(c->headers, line);
        free(line);
        if (l == NULL) {
            goto fail;
        }
    }
    for (size_t i = 0; i < rq->nheaders; i++) {
        l = curl_slist_append(c->headers, rq->headers[i]);
        if (l == NULL) {
            goto fail;
        }
    }
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, BV_HTTP_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    if (h->env->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, h->env->ca_file);
    }
    if (get) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        c->body = malloc(rq->len + 1);
        if (c->body == NULL) {
            goto fail;
        }
        if (rq->len) {
            memcpy(c->body, rq->body, rq->len);
        }
        c->body[rq->len] = '\0';
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
    }
    rc = bv_curl_loop_add(h->env->curl, e, on_done, c);
    if (rc != BV_OK) {
        goto fail;
    }
    c->h = h;
    c->next = h->calls;
    if (h->calls) {
        h->calls->prev = c;
    }
    h->calls = c;
    h->n++;
    return BV_OK;
fail:
    call_free(c);
    return rc;
}

/* ---- URLs, secrets, headers, excerpts ---- */

static CURLU *parse_url(const char *url)
{
    if (url == NULL || !(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)) {
        return NULL;
    }
    CURLU *u = curl_url();
    if (u == NULL) {
        return NULL;
    }
    char *host = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL || !*host) {
        curl_free(host);
        curl_url_cleanup(u);
        return NULL;
    }
    curl_free(host);
    return u;
}

int bv_http_url_ok(const char *url)
{
    CURLU *u = parse_url(url);
    curl_url_cleanup(u);
    return u != NULL;
}

char *bv_http_url_label(const char *prefix, const char *url, int with_path)
{
    CURLU *u = parse_url(url);
    if (u == NULL) {
        return NULL;
    }
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL names one */
    if (with_path) {
        curl_url_get(u, CURLUPART_PATH, &path, 0);
    }
    bv_buf b = BV_BUF_INIT;
    bv_buf_printf(&b, "%s%s%s://%s%s%s%s", prefix ? prefix : "", prefix ? " " : "",
                  scheme ? scheme : "http", host ? host : "", port ? ":" : "", port ? port : "",
                  path && strcmp(path, "/") != 0 ? path : "");
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return bv_buf_steal(&b);
}

char *bv_http_env_secret(const char *what, const char *var, char *err, size_t errlen)
{
    if (var == NULL || *var == '\0') {
        snprintf(err, errlen, "%s: no environment variable named", what ? what : "secret");
        return NULL;
    }
    const char *v = getenv(var);
    if (v == NULL || *v == '\0') {
        snprintf(err, errlen, "%s: environment variable %s is %s", what ? what : "secret", var,
                 v ? "empty" : "not set");
        return NULL;
    }
    char *s = strdup(v);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
    }
    return s;
}

void bv_http_secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

int bv_http_header_ok(const char *name, const char *value)
{
    if (name == NULL || *name == '\0' || value == NULL) {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              (*p && strchr("!#$%&'*+-.^_`|~", *p)))) {
            return 0;
        }
    }
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            return 0;
        }
    }
    return 1;
}

char *bv_http_excerpt(const char *s, size_t len, char *out, size_t outlen)
{
    if (outlen == 0) {
        return out;
    }
    size_t n = 0;
    int space = 0, cut = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = n > 0;
            continue;
        }
        if (c >= 0x80) {
            while (i + 1 < len && ((unsigned char)s[i + 1] & 0xc0) == 0x80) {
                i++; /* one '?' for a whole UTF-8 character */
            }
        }
        char put = c >= 0x21 && c <= 0x7e ? (char)c : '?';
        if (n + space + 1 > outlen - 1) {
            cut = 1;
            break;
        }
        if (space) {
            out[n++] = ' ';
            space = 0;
        }
        out[n++] = put;
    }
    if (cut) {
        size_t keep = outlen - 1 >= 3 ? outlen - 4 : 0;
        if (n > keep) {
            n = keep;
        }
        while (n > 0 && out[n - 1] == ' ') {
            n--;
        }
        for (int k = 0; k < 3 && n < outlen - 1; k++) {
            out[n++] = '.';
        }
    }
    out[n] = '\0';
    return out;
}

void bv_http_render_opts(const bv_sink_env *env, bv_render_opts *o)
{
    int lang = env && env->language ? bv_lang_parse(env->language) : -1;
    o->lang = lang == BV_LANG_EN ? BV_LANG_EN : BV_LANG_NL;
    o->console_url = env && env->console_url && *env->console_url ? env->console_url : NULL;
}

void bv_http_json_str(bv_buf *b, const char *s)
{
    bv_buf_putc(b, '"');
    if (s) {
        bv_buf_json_str(b, s, strlen(s));
    }
    bv_buf_putc(b, '"');
}

/* ---- Alertmanager ---- */

size_t bv_am_labels(const bv_message *m, const bv_alert *a, bv_am_pair out[BV_AM_MAX_PAIRS])
{
    size_t n = 0;
    out[n++] = (bv_am_pair){"alertname", a->rule->id};
    out[n++] = (bv_am_pair){"rule", a->rule->id};
    out[n++] = (bv_am_pair){"event", a->event ? a->event : (m->event ? m->event : "")};
    out[n++] = (bv_am_pair){"severity", bv_severity_name(a->rule->severity)};
    out[n++] = (bv_am_pair){"blikveld_id", a->id};
    if (m->drill || a->drill) {
        out[n++] = (bv_am_pair){"drill", "true"};
    }
    if (a->health) {
        out[n++] = (bv_am_pair){"health", "true"};
    }
    return n;
}

size_t bv_am_watchdog_labels(const bv_message *m, bv_am_pair out[BV_AM_MAX_PAIRS])
{
    size_t n = 0;
    out[n++] = (bv_am_pair){"alertname", "Watchdog"};
    out[n++] = (bv_am_pair){"event", m->event ? m->event : ""};
    out[n++] = (bv_am_pair){"severity", "none"};
    if (m->drill) {
        out[n++] = (bv_am_pair){"drill", "true"};
    }
    return n;
}

void bv_am_object(bv_buf *b, const bv_am_pair *p, size_t n)
{
    bv_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i) {
            bv_buf_putc(b, ',');
        }
        bv_http_json_str(b, p[i].name);
        bv_buf_putc(b, ':');
        bv_http_json_str(b, p[i].value);
    }
    bv_buf_putc(b, '}');
}

void bv_am_single(const bv_message *m, size_t i, bv_message *one)
{
    *one = *m;
    if (m->kind == BV_MSG_HEARTBEAT) {
        one->kind = BV_MSG_ALERTS; /* a firing alert repeated with the heartbeat */
    }
    one->alerts = m->alerts + i;
    one->nalerts = 1;
    one->keys = m->keys ? m->keys + i : NULL;
    one->key = m->keys ? m->keys[i] : m->key;
}

int bv_am_console_link(const bv_sink_env *env, const bv_alert *a, bv_buf *b)
{
    const char *c = env ? env->console_url : NULL;
    if (c == NULL || *c == '\0') {
        return 0;
    }
    size_t n = strlen(c);
    while (n > 0 && c[n - 1] == '/') {
        n--;
    }
    bv_buf_append(b, c, n);
    bv_buf_printf(b, "/alerts/%s", a->id);
    return 1;
}
