/* sink_http.h: what the HTTP sinks (webhook, slack, telegram, sms, alertmanager) share: HTTP
 * requests on the curl loop, any number in flight (bv_http), the classification of each outcome
 * into the sink results, and the small pieces every sink needs: secrets read from the environment,
 * labels without secrets, header checks, printable excerpts of replies, and Alertmanager's labels.
 *
 * A request: POST (a body, a Content-Type) or GET, extra headers, User-Agent "blikveld", the
 * env's timeout (connect included) and CA file, redirects never followed. Its outcome:
 *   2xx                                          OK     "HTTP 204"
 *   408, 429, 5xx                                RETRY  "HTTP 503"
 *   no answer: refused, timeout, DNS, TLS, reset RETRY  "connection refused", "timeout after 10s"
 *   1xx, 3xx, other 4xx, a URL curl cannot use   FAIL   "HTTP 404", "HTTP 301 (redirect not
 *                                                        followed)"
 * A reason never holds the URL, a header or a reply's bytes: only the status or what kind of
 * transport error it was. The first BV_HTTP_BODY_MAX bytes of a reply are kept for the caller.
 *
 * Ownership: bv_http borrows its env (it must outlive it) and copies everything of a request when
 * it is sent. Each request's callback runs once, from the event loop, never inside bv_http_send;
 * the response is borrowed for the call. bv_http_free stops every request in flight without
 * calling its callback; it may be called from inside a callback (of any request). */
#ifndef BV_ALERT_SINK_HTTP_H
#define BV_ALERT_SINK_HTTP_H

#include "alert/render.h"
#include "alert/sink.h"
#include "core/buf.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#define BV_HTTP_BODY_MAX 65536           /* bytes of a reply kept */
#define BV_HTTP_TIMEOUT_MS_DEFAULT 10000 /* when env->timeout_ms is 0 */
#define BV_HTTP_USER_AGENT "blikveld"

typedef struct bv_http bv_http;

typedef struct bv_http_req {
    const char *method;       /* "POST" (also when NULL) or "GET" */
    const char *url;          /* http:// or https:// */
    const char *content_type; /* POST: the body's Content-Type (NULL: none sent) */
    const char *body;         /* POST: len bytes (may be NULL when len is 0) */
    size_t len;
    const char *const *headers; /* nheaders lines "Name: value" (checked by the caller) */
    size_t nheaders;
} bv_http_req;

typedef struct bv_http_resp {
    long status;           /* the HTTP status; 0 when no answer came */
    int transport;         /* 1: the request failed below HTTP (status may still be set) */
    const char *body;      /* the reply's first bytes, NUL-terminated (never NULL) */
    size_t len;            /* at most BV_HTTP_BODY_MAX */
    int truncated;         /* the reply was longer */
    bv_sink_result result; /* the classification above */
    const char *reason;    /* "HTTP 503", "timeout after 10s", ... (never a secret) */
} bv_http_resp;

/* What a sink makes of a reply: it calls done(arg, ...) once (ctx is the sink's own). */
typedef void bv_http_cb(void *ctx, const bv_http_resp *r, bv_sink_done_cb *done, void *arg);

/* NULL when env has no event base or curl loop, or out of memory. */
bv_http *bv_http_new(const bv_sink_env *env);
/* Stops every request in flight (nothing is called) and frees h. NULL is fine. */
void bv_http_free(bv_http *h);
/* Starts a request. When it ends, cb(ctx, reply, done, arg) runs, or with cb NULL
 * done(arg, result, reason) with the classification above. BV_OK, or BV_EINVAL (a bad method,
 * no URL), BV_ENOMEM or BV_ERR (curl refused it): nothing is called then. */
int bv_http_send(bv_http *h, const bv_http_req *rq, bv_http_cb *cb, void *ctx,
                 bv_sink_done_cb *done, void *arg);
/* Requests in flight. */
size_t bv_http_running(const bv_http *h);

/* The classification of an HTTP status (for replies a sink reads itself). */
/* What kind of transport error rc (not CURLE_OK) is, in words that hold nothing of the request
 * ("connection refused", "timeout after 10s", "TLS certificate not trusted", "bad URL"):
 * RETRY, or FAIL for a URL that can never work. Shared with the e-mail sink. */
bv_sink_result bv_http_transport_reason(CURL *easy, CURLcode rc, int64_t timeout_ms, char *out,
                                        size_t outlen);
bv_sink_result bv_http_classify(long status);
/* "HTTP 503" (and "(redirect not followed)" for 3xx) into out. Returns out. */
char *bv_http_status_reason(long status, char *out, size_t outlen);

/* 1 when url is an http:// or https:// URL with a host that curl accepts. */
int bv_http_url_ok(const char *url);
/* "PREFIX SCHEME://HOST[:PORT]" and, with with_path, the path: never the user info, the query
 * or the fragment. Caller frees; NULL when out of memory or the URL does not parse. */
char *bv_http_url_label(const char *prefix, const char *url, int with_path);

/* A copy of the environment variable var's value (caller frees with bv_http_secret_free). NULL
 * with err "environment variable VAR is not set" (or empty); the value is never put in err. */
char *bv_http_env_secret(const char *what, const char *var, char *err, size_t errlen);
/* Wipes and frees a secret. NULL is fine. */
void bv_http_secret_free(char *s);

/* 1 when name is an HTTP token (RFC 9110: letters, digits, !#$%&'*+-.^_`|~) and value holds no
 * control character but tab (no CR, LF or NUL: no header injection). */
int bv_http_header_ok(const char *name, const char *value);

/* Printable ASCII of s (whitespace runs as one space, other bytes as '?'), at most outlen-1
 * bytes, ending in "..." when shortened. For a reply's own words in a reason. Returns out. */
char *bv_http_excerpt(const char *s, size_t len, char *out, size_t outlen);

/* The render options of a sink's env: its language (nl when unset or unknown), console_url. */
void bv_http_render_opts(const bv_sink_env *env, bv_render_opts *o);
/* Appends s as a JSON string, quotes included. */
void bv_http_json_str(bv_buf *b, const char *s);

/* ---- Alertmanager's form of an alert (the webhook's alertmanager format and the v2 sink) ---- */

#define BV_AM_MAX_PAIRS 8
typedef struct bv_am_pair {
    const char *name;
    const char *value; /* borrowed */
} bv_am_pair;

/* The labels of alert a in message m, in this order: alertname (the rule id), rule, event,
 * severity, blikveld_id, then drill "true" for drills and health "true" for health alerts. */
size_t bv_am_labels(const bv_message *m, const bv_alert *a, bv_am_pair out[BV_AM_MAX_PAIRS]);
/* The Watchdog's: alertname "Watchdog", event, severity "none", drill "true" for drills. */
size_t bv_am_watchdog_labels(const bv_message *m, bv_am_pair out[BV_AM_MAX_PAIRS]);
/* Appends {"name":"value",...} of n pairs. */
void bv_am_object(bv_buf *b, const bv_am_pair *p, size_t n);
/* The message m would be with alert i alone in it (for a summary of one alert); taken from a
 * heartbeat, it is an ALERTS message. */
void bv_am_single(const bv_message *m, size_t i, bv_message *one);
/* CONSOLE/alerts/ID appended to b when a console_url is set; 0 when none (b unchanged). */
int bv_am_console_link(const bv_sink_env *env, const bv_alert *a, bv_buf *b);

/* ---- Telegram (sink_telegram.c) ---- */

/* What the Bot API's reply to sendMessage means: 2xx with "ok":true is delivered; "error_code"
 * 429 (or HTTP 429) is retried ("HTTP 429: retry after 5s" from parameters.retry_after), as is
 * 5xx; any other error fails with its description ("HTTP 400: Bad Request: chat not found",
 * shortened, printable ASCII, dropped when it would show token). A reply that is not such JSON
 * is classified by its status alone. body need not be NUL-terminated. reason gets the words. */
bv_sink_result bv_telegram_reply_classify(long status, const char *body, size_t len,
                                          const char *token, char *reason, size_t reasonlen);

#endif
