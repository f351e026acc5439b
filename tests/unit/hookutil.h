/* hookutil.h: what the HTTP sink tests share: a receiver on 127.0.0.1 (evhttp, in the test's
 * loop) that records every request (method, URI, headers, body) and answers each from a script
 * (status and body, or no answer at all), the sink env around it, sample alerts, running the
 * loop until a delivery is done (with a deadline, never a sleep), and JSON checks with yajl.
 * Test code only. */
#ifndef BV_TEST_HOOKUTIL_H
#define BV_TEST_HOOKUTIL_H

#include "httputil.h"

#include "alert/alert.h"
#include "alert/sink.h"
#include "core/err.h"
#include "net/curl_loop.h"

#include <event2/keyvalq_struct.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define TU_HOOK_MAX 16

typedef struct tu_hook_req {
    char method[8];
    char *uri;
    char *body; /* NUL-terminated */
    size_t len;
    char *hname[32], *hval[32];
    size_t nh;
} tu_hook_req;

typedef struct tu_hook_reply {
    int status; /* 0: no answer (the request is held until the server is freed) */
    const char *body;
    const char *ctype;
} tu_hook_reply;

typedef struct tu_hook tu_hook;
struct tu_hook {
    /* when set, answers each request instead of the script */
    tu_hook_reply (*pick)(tu_hook *h, const tu_hook_req *q);
    struct evhttp *http;
    int port;
    char url[96]; /* http://127.0.0.1:PORT */
    tu_hook_req req[TU_HOOK_MAX];
    int n;
    tu_hook_reply reply[TU_HOOK_MAX]; /* reply[i] answers request i; past nreply: the last */
    int nreply;
};

static inline void tu_hook_on_request(struct evhttp_request *r, void *arg)
{
    tu_hook *h = arg;
    int i = h->n < TU_HOOK_MAX ? h->n : TU_HOOK_MAX - 1;
    tu_hook_req *q = &h->req[i];
    if (h->n < TU_HOOK_MAX) {
        h->n++;
    }
    switch (evhttp_request_get_command(r)) {
    case EVHTTP_REQ_GET:
        snprintf(q->method, sizeof q->method, "GET");
        break;
    case EVHTTP_REQ_POST:
        snprintf(q->method, sizeof q->method, "POST");
        break;
    default:
        snprintf(q->method, sizeof q->method, "OTHER");
    }
    free(q->uri);
    q->uri = strdup(evhttp_request_get_uri(r));
    struct evbuffer *in = evhttp_request_get_input_buffer(r);
    size_t len = evbuffer_get_length(in);
    free(q->body);
    q->body = malloc(len + 1);
    evbuffer_copyout(in, q->body, len);
    q->body[len] = '\0';
    q->len = len;
    for (size_t k = 0; k < q->nh; k++) {
        free(q->hname[k]);
        free(q->hval[k]);
    }
    q->nh = 0;
    for (struct evkeyval *kv = evhttp_request_get_input_headers(r)->tqh_first; kv;
         kv = kv->next.tqe_next) {
        if (q->nh < 32) {
            q->hname[q->nh] = strdup(kv->key);
            q->hval[q->nh] = strdup(kv->value);
            q->nh++;
        }
    }
    const tu_hook_reply *rep = NULL;
    tu_hook_reply picked;
    if (h->pick) {
        picked = h->pick(h, q);
        rep = &picked;
    } else if (h->nreply > 0) {
        rep = &h->reply[i < h->nreply ? i : h->nreply - 1];
    }
    int status = rep ? rep->status : 200;
    if (status == 0) {
        return; /* held: no answer */
    }
    const char *body = rep && rep->body ? rep->body : "ok";
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type",
                      rep && rep->ctype ? rep->ctype : "text/plain");
    evhttp_send_reply(r, status, status < 400 ? "OK" : "Error", b);
    evbuffer_free(b);
}

static inline void tu_hook_start(tu_hook *h, struct event_base *base)
{
    memset(h, 0, sizeof *h);
    h->http = tu_http_server(base, tu_hook_on_request, h, &h->port);
    assert_non_null(h->http);
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", h->port);
}

/* The script: replies for the next requests, from request 0 (resets what was recorded). */
static inline void tu_hook_script(tu_hook *h, const tu_hook_reply *r, int n)
{
    for (int i = 0; i < n && i < TU_HOOK_MAX; i++) {
        h->reply[i] = r[i];
    }
    h->nreply = n;
    h->n = 0;
}

static inline void tu_hook_free(tu_hook *h)
{
    if (h->http) {
        evhttp_free(h->http);
    }
    for (int i = 0; i < TU_HOOK_MAX; i++) {
        free(h->req[i].uri);
        free(h->req[i].body);
        for (size_t k = 0; k < h->req[i].nh; k++) {
            free(h->req[i].hname[k]);
            free(h->req[i].hval[k]);
        }
    }
    memset(h, 0, sizeof *h);
}

static inline const char *tu_hook_header(const tu_hook_req *q, const char *name)
{
    for (size_t k = 0; k < q->nh; k++) {
        if (strcasecmp(q->hname[k], name) == 0) {
            return q->hval[k];
        }
    }
    return NULL;
}

/* ---- the env and running deliveries ---- */

typedef struct tu_env {
    struct event_base *base;
    bv_curl_loop *curl;
    bv_sink_env env;
} tu_env;

static inline void tu_env_init(tu_env *e)
{
    memset(e, 0, sizeof *e);
    e->base = event_base_new();
    assert_non_null(e->base);
    e->curl = bv_curl_loop_new(e->base);
    assert_non_null(e->curl);
    e->env.base = e->base;
    e->env.curl = e->curl;
    e->env.language = "nl";
    e->env.timeout_ms = 2000;
}

static inline void tu_env_free(tu_env *e)
{
    bv_curl_loop_free(e->curl);
    event_base_free(e->base);
}

typedef struct tu_done {
    int calls;
    int early; /* called before deliver returned */
    int in_deliver;
    bv_sink_result r;
    char reason[256];
} tu_done;

static inline void tu_on_done(void *arg, bv_sink_result r, const char *reason)
{
    tu_done *d = arg;
    d->calls++;
    d->early |= d->in_deliver;
    d->r = r;
    snprintf(d->reason, sizeof d->reason, "%s", reason ? reason : "(null)");
}

static inline int64_t tu_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static inline void tu_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop until *flag is non-zero or 5 s have passed (a timer wakes the loop then). */
static inline void tu_run_until(struct event_base *base, const int *flag)
{
    int64_t deadline = tu_now_ms() + 5000;
    struct event *t = evtimer_new(base, tu_wake, NULL);
    struct timeval tv = {5, 0};
    evtimer_add(t, &tv);
    while (!*flag && tu_now_ms() < deadline) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(t);
}

/* Delivers m through s and runs the loop until done was called; checks it was called once and
 * not before deliver returned. */
static inline void tu_deliver(tu_env *e, bv_sink *s, const bv_message *m, tu_done *d)
{
    memset(d, 0, sizeof *d);
    d->in_deliver = 1;
    int rc = bv_sink_deliver(s, m, tu_on_done, d);
    d->in_deliver = 0;
    assert_int_equal(rc, BV_OK);
    tu_run_until(e->base, &d->calls);
    assert_int_equal(d->calls, 1);
    assert_int_equal(d->early, 0);
}

/* A port nobody listens on: bound, then closed. */
static inline int tu_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- sample alerts ---- */

typedef struct tu_alerts {
    bv_rule rule, rule2;
    bv_det_eval ev;
    bv_sample sample;
    bv_alert_place place;
    bv_alert a[3];
    const bv_alert *ptr[3];
    char key[3][BV_ALERT_KEY_LEN];
    const char *keys[3];
    char joined[3 * BV_ALERT_KEY_LEN];
} tu_alerts;

/* a[0]: firing critical project-x, a[1]: resolved warning dam-square (fired 5 min before),
 * a[2]: a firing health alert. Times: at_ms near now (Alertmanager wants that). */
static inline void tu_alerts_init(tu_alerts *t, int drill, int64_t now)
{
    memset(t, 0, sizeof *t);
    static char *recipients[] = {(char *)"police"};
    t->rule.id = (char *)"project-x";
    t->rule.title = (char *)"Project X-oproep";
    t->rule.severity = BV_SEV_CRITICAL;
    t->rule.recipients = recipients;
    t->rule.nrecipients = 1;
    t->rule2.id = (char *)"dam-square";
    t->rule2.title = (char *)"Drukte \"Dam\" & co";
    t->rule2.severity = BV_SEV_WARNING;
    t->rule2.recipients = recipients;
    t->rule2.nrecipients = 1;
    t->ev.type = BV_DET_THRESHOLD;
    t->ev.holds = 1;
    t->ev.window_ms = 300000;
    t->ev.count = 42;
    t->ev.threshold = 20;
    t->sample.platform = BV_PLATFORM_MASTODON;
    t->sample.created_ms = now - 60000;
    t->sample.url = (char *)"https://social.example/@a/1";
    t->sample.excerpt = (char *)"feest in Haren, iedereen komen";
    t->place.name = (char *)"Haren";
    t->place.count = 12;
    for (int i = 0; i < 3; i++) {
        bv_alert *a = &t->a[i];
        a->event = (char *)"oud-en-nieuw";
        a->drill = drill;
        a->rule = i == 1 ? &t->rule2 : &t->rule;
        a->at_ms = now - 30000;
        a->evals = &t->ev;
        a->nevals = 1;
        a->samples = &t->sample;
        a->nsamples = 1;
        a->places = &t->place;
        a->nplaces = 1;
        t->ptr[i] = a;
    }
    bv_alert_make_id("test", "project-x", drill ? 1 : 0, t->a[0].id);
    bv_alert_make_id("test", "dam-square", drill ? 1 : 0, t->a[1].id);
    bv_alert_make_id("test", "health", drill ? 1 : 0, t->a[2].id);
    t->a[1].state = BV_ALERT_RESOLVED;
    t->a[1].since_ms = now - 330000;
    t->a[2].health = 1;
    t->joined[0] = '\0';
    for (int i = 0; i < 3; i++) {
        t->keys[i] = bv_alert_key(&t->a[i], 0, t->key[i]);
    }
}

/* A message of alerts [first, first+n). */
static inline bv_message tu_message(tu_alerts *t, bv_msg_kind kind, size_t first, size_t n,
                                    int drill, int64_t now)
{
    bv_message m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.event = "oud-en-nieuw";
    m.group = "police";
    m.alerts = t->ptr + first;
    m.nalerts = n;
    if (kind == BV_MSG_ESCALATION) {
        for (size_t i = first; i < first + n; i++) {
            t->keys[i] = bv_alert_key(&t->a[i], 1, t->key[i]);
        }
    } else {
        for (size_t i = first; i < first + n; i++) {
            t->keys[i] = bv_alert_key(&t->a[i], 0, t->key[i]);
        }
    }
    m.keys = t->keys + first;
    t->joined[0] = '\0';
    size_t off = 0;
    if (kind == BV_MSG_HEARTBEAT) {
        snprintf(t->joined, sizeof t->joined, "heartbeat/oud-en-nieuw/%lld",
                 (long long)(now / 1000));
    } else {
        for (size_t i = first; i < first + n; i++) {
            off += (size_t)snprintf(t->joined + off, sizeof t->joined - off, "%s%s",
                                    i > first ? "," : "", t->keys[i]);
        }
    }
    m.key = t->joined;
    m.drill = drill;
    m.now_ms = now;
    m.every_ms = 60000;
    return m;
}

/* ---- JSON ---- */

static inline yajl_val tu_json(const char *s)
{
    char err[256];
    yajl_val v = yajl_tree_parse(s, err, sizeof err);
    if (v == NULL) {
        fail_msg("not JSON (%s): %s", err, s);
    }
    return v;
}

/* The string at a path of keys (NULL-terminated), or fails. */
static inline const char *tu_jstr(yajl_val v, const char *const *path)
{
    yajl_val s = yajl_tree_get(v, (const char **)path, yajl_t_string);
    if (s == NULL) {
        fail_msg("no string at %s", path[0]);
    }
    return YAJL_GET_STRING(s);
}

#define TU_P(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
