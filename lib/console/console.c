/* console.c: the console's HTTP server: routes, access, the JSON it answers, the SSE feed and
 * the metrics; see console.h. One evhttp on the process's loop; every handler answers at once
 * (nothing here waits on the network), so no request can stall the loop. */
#include "console/console.h"

#include "alert/book.h"
#include "alert/render.h"
#include "console/assets.h"
#include "console/body.h"
#include "console/metrics.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <yajl/yajl_parse.h>

#define MAX_BODY 16384
#define FEED_POINTS 60 /* history points per rule in one "rules" event */
#define MAX_SOURCES 64
#define RATE_SAMPLES 64 /* per source: posts counts at each sources tick, for the rate */
#define RATE_SPAN_MS (5 * 60000)

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self'; connect-src 'self'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'";

typedef struct entry {
    char id[33];
    char *rule;
    char *json; /* the alert's JSON (without the console's fields) */
    int firing;
    int64_t fired_ms; /* the episode's start: the sort key */
    uint64_t seq;     /* arrival, for ties */
    char *evidence;   /* {"nl": [...], "en": [...]}: each detector's evidence in words */
    char *ack_by;
    int64_t ack_ms;
    int restored;    /* from the outbox at start (bv_console_restore), not seen live since */
    int64_t last_ms; /* when its latest state came (event time) */
} entry;

typedef struct client {
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    bv_console *c;
    int dead;
    struct client *next;
} client;

typedef struct rule_now {
    char *id;
    bv_det_eval *evals; /* the newest evaluation (by event time), ndet of them; NULL before one */
    int64_t evals_ms;   /* its at_ms */
    size_t ndet;
    int firing;
    uint64_t fired, resolved; /* alerts seen */
    int64_t sent_ms;          /* the feed: the newest history point sent (0: none yet) */
} rule_now;

typedef struct rate {
    char name[72];
    int64_t t[RATE_SAMPLES];
    uint64_t posts[RATE_SAMPLES];
    size_t n, head;
} rate;

struct bv_console {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ssl;
    int port, open_local;
    char url[300];
    bv_console_opts o;
    char *event, *run, *lang, *version;
    bv_console_hooks h;
    bv_auth *auth;
    entry *alerts;
    size_t nalerts;
    uint64_t seq;
    rule_now *rules;
    size_t nrules;
    const bv_ruleset *rs;
    client *clients;
    size_t nclients;
    uint64_t dropped_clients;
    struct event *t_keepalive, *t_rules, *t_sources;
    int rules_dirty;
    rate rates[MAX_SOURCES];
    size_t nrates;
    bv_buf scratch;
    int reloading;
    struct evhttp_request *reload_req; /* waiting for the reload's answer */
};

/* ---- small helpers ---- */

/* The pipeline's stats; without a pipeline: no posts (no event time, no watermark). */
static void pipeline_stats(const bv_console *c, bv_pipeline_stats *ps)
{
    memset(ps, 0, sizeof *ps);
    ps->first_ms = ps->max_ms = ps->watermark_ms = INT64_MIN;
    if (c->o.pipeline) {
        bv_pipeline_stats_get(c->o.pipeline, ps);
    }
}

static int64_t now_ms(const bv_console *c)
{
    return bv_now_ms(c->o.clock);
}

static void json_str(bv_buf *b, const char *s)
{
    bv_buf_putc(b, '"');
    bv_buf_json_str(b, s ? s : "", s ? strlen(s) : 0);
    bv_buf_putc(b, '"');
}

static void json_num(bv_buf *b, double v)
{
    if (isnan(v) || isinf(v)) {
        bv_buf_puts(b, "null");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        bv_buf_printf(b, "%.0f", v);
    } else {
        bv_buf_printf(b, "%.4g", v);
    }
}

static void headers_common(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy", CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
}

static void reply(struct evhttp_request *req, int code, const char *type, const void *body,
                  size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (type) {
        evhttp_add_header(h, "Content-Type", type);
    }
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (len) {
        evbuffer_add(b, body, len);
    }
    evhttp_send_reply(req, code, NULL, b);
    evbuffer_free(b);
}

/* An API answer: JSON, never cached. */
static void reply_json(struct evhttp_request *req, int code, const bv_buf *b)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    reply(req, code, "application/json; charset=utf-8", b->p, b->len);
}

static void reply_error(bv_console *c, struct evhttp_request *req, int code, const char *msg)
{
    bv_buf *b = &c->scratch;
    bv_buf_reset(b);
    bv_buf_puts(b, "{\"error\":");
    json_str(b, msg);
    bv_buf_puts(b, "}\n");
    reply_json(req, code, b);
}

static void redirect(struct evhttp_request *req, const char *to)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Location", to);
    evhttp_add_header(h, "Cache-Control", "no-store");
    reply(req, 303, "text/plain; charset=utf-8", "", 0);
}

static void reply_asset(struct evhttp_request *req, const bv_asset *a)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "ETag", a->etag);
    const char *inm = evhttp_find_header(in, "If-None-Match");
    if (inm && strcmp(inm, a->etag) == 0) {
        reply(req, 304, NULL, "", 0);
        return;
    }
    reply(req, 200, a->type, a->data, a->len);
}

/* "HOST:PORT" or "[V6]:PORT" */
static int split_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= hostlen) {
            return -1;
        }
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || (size_t)(colon - s) >= hostlen) {
            return -1;
        }
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535) {
        return -1;
    }
    *port = (int)p;
    return 0;
}

static int is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        return IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return strcmp(host, "localhost") == 0;
}

/* ---- alerts ---- */

static entry *find_alert(bv_console *c, const char *id)
{
    for (size_t i = 0; i < c->nalerts; i++) {
        if (strcmp(c->alerts[i].id, id) == 0) {
            return &c->alerts[i];
        }
    }
    return NULL;
}

static void entry_clear(entry *e)
{
    free(e->rule);
    free(e->json);
    free(e->evidence);
    free(e->ack_by);
    memset(e, 0, sizeof *e);
}

/* newest first: by the episode's start, then arrival */
static int entry_before(const entry *a, const entry *b)
{
    return a->fired_ms > b->fired_ms || (a->fired_ms == b->fired_ms && a->seq > b->seq);
}

/* The alert's JSON with the console's "ack" field, appended to b. */
static void write_alert(const entry *e, bv_buf *b)
{
    size_t n = strlen(e->json);
    while (n && e->json[n - 1] != '}') {
        n--;
    }
    if (n == 0) {
        bv_buf_puts(b, "null");
        return;
    }
    bv_buf_append(b, e->json, n - 1);
    bv_buf_puts(b, ",\"ack\":");
    if (e->ack_by) {
        bv_buf_puts(b, "{\"by\":");
        json_str(b, e->ack_by);
        if (e->ack_ms > 0) {
            bv_buf_printf(b, ",\"at\":%lld}", (long long)e->ack_ms);
        } else {
            bv_buf_puts(b, ",\"at\":null}"); /* acknowledged before this process saw it */
        }
    } else {
        bv_buf_puts(b, "null");
    }
    if (e->evidence) {
        bv_buf_puts(b, ",\"evidence_text\":");
        bv_buf_puts(b, e->evidence);
    }
    if (e->restored) {
        bv_buf_puts(b, ",\"restored\":true");
    }
    bv_buf_puts(b, ",\"current\":true}"); /* the list and the feed hold an id's newest record */
}

static rule_now *rule_by_id(bv_console *c, const char *id)
{
    for (size_t i = 0; i < c->nrules; i++) {
        if (strcmp(c->rules[i].id, id) == 0) {
            return &c->rules[i];
        }
    }
    return NULL;
}

/* ---- the feed ---- */

static void client_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    client *cl = arg;
    /* a connection that failed under a reply still streaming (EOF, timeout) leaves its request
     * to us, detached (libevent frees only what the connection still holds) */
    if (cl->req && evhttp_request_get_connection(cl->req) == NULL) {
        evhttp_request_free(cl->req);
    }
    cl->dead = 1;
    cl->req = NULL;
    cl->evcon = NULL;
}

static void sweep_clients(bv_console *c)
{
    client **pp = &c->clients;
    while (*pp) {
        client *cl = *pp;
        if (cl->dead) {
            *pp = cl->next;
            c->nclients--;
            free(cl);
        } else {
            pp = &cl->next;
        }
    }
}

/* Writes one SSE message (or comment, when event is NULL) to every client; a client that
 * does not take its output is cut off. */
static void broadcast(bv_console *c, const char *event, const char *data, size_t len)
{
    for (client *cl = c->clients; cl; cl = cl->next) {
        if (cl->dead) {
            continue;
        }
        struct bufferevent *bev = evhttp_connection_get_bufferevent(cl->evcon);
        if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > c->o.client_buffer) {
            bv_log(BV_LOG_WARN, "console",
                   "a feed client fell behind by more than %zu bytes: "
                   "disconnected (it reconnects)",
                   c->o.client_buffer);
            c->dropped_clients++;
            evhttp_connection_set_closecb(cl->evcon, NULL, NULL);
            evhttp_connection_free(cl->evcon);
            cl->dead = 1;
            continue;
        }
        struct evbuffer *b = evbuffer_new();
        if (b == NULL) {
            continue;
        }
        if (event) {
            evbuffer_add_printf(b, "event: %s\ndata: ", event);
            evbuffer_add(b, data, len);
            evbuffer_add(b, "\n\n", 2);
        } else {
            evbuffer_add(b, data, len);
        }
        evhttp_send_reply_chunk(cl->req, b);
        evbuffer_free(b);
    }
    sweep_clients(c);
}

/* ---- JSON answers ---- */

static void write_me(bv_console *c, const bv_principal *who, bv_buf *b)
{
    bv_buf_puts(b, "{\"name\":");
    json_str(b, who->name);
    bv_buf_printf(b, ",\"role\":\"%s\",\"event\":", who->role == BV_ROLE_ACK ? "ack" : "read");
    json_str(b, c->event);
    bv_buf_puts(b, ",\"run\":");
    if (c->run) {
        json_str(b, c->run);
    } else {
        bv_buf_puts(b, "null");
    }
    bv_buf_printf(b, ",\"drill\":%s,\"lang\":", c->o.drill ? "true" : "false");
    json_str(b, c->lang);
    bv_buf_printf(b, ",\"auth\":%s,\"version\":", bv_auth_enabled(c->auth) ? "true" : "false");
    json_str(b, c->version);
    bv_buf_puts(b, "}\n");
}

static void write_alerts(bv_console *c, bv_buf *b)
{
    bv_buf_puts(b, "{\"alerts\":[");
    for (size_t i = 0; i < c->nalerts; i++) {
        if (i) {
            bv_buf_putc(b, ',');
        }
        write_alert(&c->alerts[i], b);
    }
    bv_buf_puts(b, "]}\n");
}

static void write_detector(const bv_detector_spec *d, const bv_det_eval *e, bv_buf *b)
{
    char w[32];
    bv_buf_printf(b, "{\"type\":\"%s\",\"window\":\"%s\"", bv_det_type_name(d->type),
                  bv_duration_format(d->window_ms, w));
    if (e) {
        double value, level;
        bv_history_measure(d, e, &value, &level);
        bv_buf_puts(b, ",\"value\":");
        json_num(b, value);
        bv_buf_puts(b, ",\"level\":");
        json_num(b, level);
        bv_buf_printf(b, ",\"holds\":%s}", e->holds ? "true" : "false");
    } else {
        bv_buf_puts(b, ",\"value\":null,\"level\":null,\"holds\":false}");
    }
}

static void write_point(const bv_history_point *p, bv_buf *b)
{
    bv_buf_printf(b, "[%lld,", (long long)p->t_ms);
    json_num(b, p->value);
    bv_buf_putc(b, ',');
    json_num(b, p->level);
    bv_buf_puts(b, p->holds ? ",true]" : ",false]");
}

/* history: 1 for the whole history per rule (the API); 0 for the feed: the points since the
 * last it sent (the newest one sent again: its minute may have changed since), so a chart
 * drawn from the feed has every minute even when a fast replay adds several between two
 * sends; at most FEED_POINTS of them (then "more": the page reads /api/rules); and the newest
 * point alone */
static void write_rules(bv_console *c, int history, bv_buf *b)
{
    int64_t now = now_ms(c);
    bv_pipeline_stats ps;
    pipeline_stats(c, &ps);
    /* the charts end now; a drill's end where its event time is (it may be months ago), and
     * span the whole drill when everything is kept */
    int64_t step = c->o.history ? bv_history_step(c->o.history) : 60000;
    int64_t span = c->o.history ? bv_history_keep(c->o.history) : 0;
    int64_t chart_now = now;
    if (c->o.drill && ps.max_ms != INT64_MIN) {
        chart_now = bv_bucket_start(ps.max_ms, step) + step;
    }
    if (span == 0) {
        span = ps.max_ms != INT64_MIN ? chart_now - bv_bucket_start(ps.first_ms, step) : 0;
        span = span < 3600000 ? 3600000 : span;
    }
    bv_buf_printf(b, "{\"step_ms\":%lld,\"span_ms\":%lld,\"now\":%lld,\"rules\":[", (long long)step,
                  (long long)span, (long long)chart_now);
    size_t n = c->rs ? bv_rules_count(c->rs) : 0;
    bv_history_point *pts = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        const bv_rule *r = bv_rules_get(c->rs, i);
        rule_now *rn = i < c->nrules ? &c->rules[i] : NULL;
        if (i) {
            bv_buf_putc(b, ',');
        }
        bv_buf_puts(b, "{\"id\":");
        json_str(b, r->id);
        bv_buf_puts(b, ",\"title\":");
        json_str(b, r->title);
        bv_buf_printf(b, ",\"severity\":\"%s\",\"firing\":%s", bv_severity_name(r->severity),
                      rn && rn->firing ? "true" : "false");
        int64_t until = c->h.silenced ? c->h.silenced(c->h.arg, r->id, now) : 0;
        if (until > now) {
            bv_buf_printf(b, ",\"silenced_until\":%lld", (long long)until);
        } else {
            bv_buf_puts(b, ",\"silenced_until\":null");
        }
        bv_buf_printf(b, ",\"matches\":%llu,\"alerts\":%llu,\"detectors\":[",
                      (unsigned long long)(ps.matches ? ps.matches[i] : 0),
                      (unsigned long long)(rn ? rn->fired : 0));
        for (size_t d = 0; d < r->ndetectors; d++) {
            if (d) {
                bv_buf_putc(b, ',');
            }
            write_detector(&r->detectors[d], rn && rn->evals ? &rn->evals[d] : NULL, b);
        }
        bv_buf_putc(b, ']');
        if (c->o.history) {
            size_t np = bv_history_get(c->o.history, (uint32_t)i, NULL, 0);
            if (np > cap) {
                bv_history_point *np2 = realloc(pts, np * sizeof *pts);
                if (np2) {
                    pts = np2;
                    cap = np;
                }
            }
            np = bv_history_get(c->o.history, (uint32_t)i, pts, cap);
            np = np < cap ? np : cap;
            size_t from = 0;
            if (!history) {
                int64_t since = rn ? rn->sent_ms : INT64_MIN;
                while (from < np && pts[from].t_ms < since) {
                    from++;
                }
                if (np - from > FEED_POINTS) {
                    from = np - FEED_POINTS; /* the page asks for the whole history */
                    bv_buf_puts(b, ",\"more\":true");
                }
            }
            bv_buf_puts(b, history ? ",\"history\":[" : ",\"points\":[");
            for (size_t k = from; k < np; k++) {
                if (k > from) {
                    bv_buf_putc(b, ',');
                }
                write_point(&pts[k], b);
            }
            bv_buf_putc(b, ']');
            if (!history) {
                bv_buf_puts(b, ",\"point\":");
                if (np) {
                    write_point(&pts[np - 1], b);
                    if (rn) {
                        rn->sent_ms = pts[np - 1].t_ms;
                    }
                } else {
                    bv_buf_puts(b, "null");
                }
            }
        }
        bv_buf_putc(b, '}');
    }
    free(pts);
    bv_buf_puts(b, "]}\n");
}

static double source_rate(bv_console *c, const char *name, uint64_t posts, int64_t mono)
{
    for (size_t i = 0; i < c->nrates; i++) {
        rate *r = &c->rates[i];
        if (strcmp(r->name, name) != 0 || r->n == 0) {
            continue;
        }
        /* the oldest sample within the span */
        size_t oldest = (r->head + RATE_SAMPLES - r->n) % RATE_SAMPLES;
        for (size_t k = 0; k < r->n; k++) {
            size_t at = (oldest + k) % RATE_SAMPLES;
            if (mono - r->t[at] <= RATE_SPAN_MS) {
                int64_t dt = mono - r->t[at];
                if (dt <= 0 || posts < r->posts[at]) {
                    return 0;
                }
                return (double)(posts - r->posts[at]) * 60000.0 / (double)dt;
            }
        }
    }
    return 0;
}

static void sample_rates(bv_console *c, const bv_console_source *src, size_t n)
{
    int64_t mono = bv_mono_ms(c->o.clock);
    for (size_t i = 0; i < n; i++) {
        rate *r = NULL;
        for (size_t k = 0; k < c->nrates; k++) {
            if (strcmp(c->rates[k].name, src[i].name) == 0) {
                r = &c->rates[k];
            }
        }
        if (r == NULL && c->nrates < MAX_SOURCES) {
            r = &c->rates[c->nrates++];
            memset(r, 0, sizeof *r);
            snprintf(r->name, sizeof r->name, "%s", src[i].name);
        }
        if (r == NULL) {
            continue;
        }
        r->t[r->head] = mono;
        r->posts[r->head] = src[i].posts;
        r->head = (r->head + 1) % RATE_SAMPLES;
        if (r->n < RATE_SAMPLES) {
            r->n++;
        }
    }
}

static size_t get_sources(bv_console *c, bv_console_source *src)
{
    if (c->h.sources == NULL) {
        return 0;
    }
    size_t n = c->h.sources(c->h.arg, src, MAX_SOURCES);
    return n > MAX_SOURCES ? MAX_SOURCES : n;
}

/* What blikveld cannot see, and the platforms it could but was not given. */
static void write_not_watched(const bv_console_source *src, size_t n, bv_buf *b)
{
    static const struct {
        const char *platform, *label;
    } known[] = {
        {"mastodon", "Mastodon"}, {"x", "X"},
        {"bluesky", "Bluesky"},   {"facebook", "Facebook"},
        {"telegram", "Telegram"}, {"reddit", "Reddit"},
    };
    bv_buf_puts(b, "\"not_watched\":[");
    int first = 1;
    int replay = 0;
    for (size_t i = 0; i < n; i++) {
        replay |= strcmp(src[i].platform, "file") == 0;
    }
    if (!replay) {
        bv_buf missing = {0};
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
            int have = 0;
            for (size_t i = 0; i < n; i++) {
                have |= strcmp(src[i].platform, known[k].platform) == 0;
            }
            if (!have) {
                bv_buf_printf(&missing, "%s%s", missing.len ? ", " : "", known[k].label);
            }
        }
        if (missing.len) {
            bv_buf_puts(b, "{\"what\":");
            json_str(b, missing.p);
            bv_buf_puts(b, ",\"why\":\"not configured\"}");
            first = 0;
        }
        bv_buf_free(&missing);
        for (size_t i = 0; i < n; i++) {
            if (!src[i].up) {
                bv_buf_puts(b, first ? "{\"what\":" : ",{\"what\":");
                json_str(b, src[i].name);
                bv_buf_puts(b, ",\"why\":");
                json_str(b, src[i].state);
                bv_buf_putc(b, '}');
                first = 0;
            }
        }
    }
    bv_buf_printf(b,
                  "%s{\"what\":\"Instagram, WhatsApp, Snapchat, TikTok\",\"why\":\"no API for "
                  "public monitoring\"},{\"what\":\"personal Facebook profiles and events, "
                  "private groups and chats\",\"why\":\"not public\"}]",
                  first ? "" : ",");
}

static void write_sources(bv_console *c, bv_buf *b)
{
    bv_console_source src[MAX_SOURCES];
    size_t n = get_sources(c, src);
    int64_t mono = bv_mono_ms(c->o.clock);
    bv_buf_puts(b, "{\"sources\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) {
            bv_buf_putc(b, ',');
        }
        bv_buf_puts(b, "{\"name\":");
        json_str(b, src[i].name);
        bv_buf_puts(b, ",\"platform\":");
        json_str(b, src[i].platform);
        bv_buf_puts(b, ",\"state\":");
        json_str(b, src[i].state);
        bv_buf_printf(b, ",\"up\":%s,\"posts\":%llu,\"rate\":", src[i].up ? "true" : "false",
                      (unsigned long long)src[i].posts);
        json_num(b, round(source_rate(c, src[i].name, src[i].posts, mono) * 10) / 10);
        bv_buf_puts(b, ",\"last_post\":");
        if (src[i].last_post_ms) {
            bv_buf_printf(b, "%lld", (long long)src[i].last_post_ms);
        } else {
            bv_buf_puts(b, "null");
        }
        bv_buf_printf(b, ",\"errors\":%llu,\"last_error\":", (unsigned long long)src[i].errors);
        if (src[i].last_error && *src[i].last_error) {
            json_str(b, src[i].last_error);
        } else {
            bv_buf_puts(b, "null");
        }
        bv_buf_putc(b, '}');
    }
    bv_buf_puts(b, "],");
    write_not_watched(src, n, b);
    bv_buf_puts(b, "}\n");
}

/* ---- metrics ---- */

static void write_metrics(bv_console *c, bv_buf *b)
{
    bv_pipeline_stats ps;
    pipeline_stats(c, &ps);
    bv_metrics_family(b, "blikveld_posts_total", "counter", "Posts received, by platform.");
    for (int p = 0; p < BV_PLATFORM__COUNT; p++) {
        bv_metrics_sample(b, "blikveld_posts_total", (double)ps.posts[p], "platform",
                          bv_platform_name((bv_platform)p), NULL);
    }
    bv_metrics_family(b, "blikveld_deletes_total", "counter", "Deletions received, by platform.");
    for (int p = 0; p < BV_PLATFORM__COUNT; p++) {
        bv_metrics_sample(b, "blikveld_deletes_total", (double)ps.deletes[p], "platform",
                          bv_platform_name((bv_platform)p), NULL);
    }
    bv_console_source src[MAX_SOURCES];
    size_t ns = get_sources(c, src);
    uint64_t skipped = 0;
    for (size_t i = 0; i < ns; i++) {
        skipped += src[i].skipped;
    }
    bv_metrics_family(b, "blikveld_posts_skipped_total", "counter",
                      "Messages not counted, by reason: not_a_post (other message types a source "
                      "skips), queue_full (dropped: the pipeline fell behind), duplicate (seen "
                      "before), late (older than the watermark: matched, not windowed).");
    bv_metrics_sample(b, "blikveld_posts_skipped_total", (double)skipped, "reason", "not_a_post",
                      NULL);
    bv_metrics_sample(b, "blikveld_posts_skipped_total",
                      (double)(c->h.dropped ? c->h.dropped(c->h.arg) : 0), "reason", "queue_full",
                      NULL);
    bv_metrics_sample(b, "blikveld_posts_skipped_total", (double)ps.duplicates, "reason",
                      "duplicate", NULL);
    bv_metrics_sample(b, "blikveld_posts_skipped_total", (double)ps.late, "reason", "late", NULL);

    size_t nr = c->rs ? bv_rules_count(c->rs) : 0;
    bv_metrics_family(b, "blikveld_rule_matches_total", "counter", "Posts matched, by rule.");
    for (size_t i = 0; i < nr; i++) {
        bv_metrics_sample(b, "blikveld_rule_matches_total",
                          (double)(ps.matches ? ps.matches[i] : 0), "rule",
                          bv_rules_get(c->rs, i)->id, NULL);
    }
    bv_metrics_family(b, "blikveld_rule_window_value", "gauge",
                      "The last evaluation of each rule's first detector: its window count "
                      "(distinct authors for unique_authors).");
    for (int level_pass = 0; level_pass < 2; level_pass++) {
        /* each family's lines together (the exposition format wants one group per family) */
        if (level_pass) {
            bv_metrics_family(b, "blikveld_rule_window_level", "gauge",
                              "The value at which each rule's first detector holds.");
        }
        for (size_t i = 0; i < nr && i < c->nrules; i++) {
            const bv_rule *r = bv_rules_get(c->rs, i);
            if (c->rules[i].evals && r->ndetectors) {
                double value, level;
                bv_history_measure(&r->detectors[0], &c->rules[i].evals[0], &value, &level);
                bv_metrics_sample(
                    b, level_pass ? "blikveld_rule_window_level" : "blikveld_rule_window_value",
                    level_pass ? level : value, "rule", r->id, NULL);
            }
        }
    }
    bv_metrics_family(b, "blikveld_alerts_total", "counter", "Alerts, by rule and state.");
    for (size_t i = 0; i < c->nrules; i++) {
        bv_metrics_sample(b, "blikveld_alerts_total", (double)c->rules[i].fired, "rule",
                          c->rules[i].id, "state", "firing", NULL);
        bv_metrics_sample(b, "blikveld_alerts_total", (double)c->rules[i].resolved, "rule",
                          c->rules[i].id, "state", "resolved", NULL);
    }
    bv_metrics_family(b, "blikveld_alerts_firing", "gauge", "1 while a rule's alert fires.");
    for (size_t i = 0; i < c->nrules; i++) {
        bv_metrics_sample(b, "blikveld_alerts_firing", c->rules[i].firing ? 1 : 0, "rule",
                          c->rules[i].id, NULL);
    }
    if (c->o.dispatch) {
        bv_metrics_family(b, "blikveld_deliveries_total", "counter",
                          "Deliveries (an alert to a target), by target, sink and outcome.");
        size_t nt = bv_dispatch_targets(c->o.dispatch);
        for (size_t i = 0; i < nt; i++) {
            bv_dispatch_target_stats ts;
            bv_dispatch_target_get(c->o.dispatch, i, &ts);
            bv_metrics_sample(b, "blikveld_deliveries_total", (double)ts.delivered, "target", ts.id,
                              "sink", ts.sink, "outcome", "delivered", NULL);
            bv_metrics_sample(b, "blikveld_deliveries_total", (double)ts.retried, "target", ts.id,
                              "sink", ts.sink, "outcome", "retry", NULL);
            bv_metrics_sample(b, "blikveld_deliveries_total", (double)ts.failed, "target", ts.id,
                              "sink", ts.sink, "outcome", "failed", NULL);
        }
        bv_dispatch_stats ds;
        bv_dispatch_stats_get(c->o.dispatch, &ds);
        bv_metrics_family(b, "blikveld_deliveries_pending", "gauge",
                          "Deliveries not finished (in flight, waiting to retry, grouped).");
        bv_metrics_sample(b, "blikveld_deliveries_pending", (double)ds.pending, NULL);
    }
    if (c->o.store) {
        bv_store_stats ss;
        bv_store_stats_get(c->o.store, &ss);
        bv_metrics_family(b, "blikveld_store_up", "gauge",
                          "1 when the window store is usable (memory, or Redis connected).");
        bv_metrics_sample(b, "blikveld_store_up",
                          ss.state == NULL || strcmp(ss.state, "connected") == 0 ? 1 : 0, "store",
                          ss.state ? "redis" : "memory", NULL);
        if (ss.state) {
            bv_metrics_family(b, "blikveld_redis_flush_seconds", "gauge",
                              "Redis flush latency (send to last reply of a round): last, "
                              "max and average.");
            bv_metrics_sample(b, "blikveld_redis_flush_seconds", ss.flush_ms_last / 1000.0, "stat",
                              "last", NULL);
            bv_metrics_sample(b, "blikveld_redis_flush_seconds", ss.flush_ms_max / 1000.0, "stat",
                              "max", NULL);
            bv_metrics_sample(b, "blikveld_redis_flush_seconds", ss.flush_ms_avg / 1000.0, "stat",
                              "avg", NULL);
            bv_metrics_family(b, "blikveld_redis_pending_deltas", "gauge",
                              "Counts not yet acknowledged by Redis.");
            bv_metrics_sample(b, "blikveld_redis_pending_deltas", (double)ss.pending, NULL);
            bv_metrics_family(b, "blikveld_redis_reconnects_total", "counter",
                              "Connections to Redis made after the first.");
            bv_metrics_sample(b, "blikveld_redis_reconnects_total", (double)ss.reconnects, NULL);
        }
    }
    bv_metrics_family(b, "blikveld_source_up", "gauge", "1 while a source is up.");
    for (size_t i = 0; i < ns; i++) {
        bv_metrics_sample(b, "blikveld_source_up", src[i].up ? 1 : 0, "source", src[i].name,
                          "platform", src[i].platform, NULL);
    }
    bv_metrics_family(b, "blikveld_source_state", "gauge", "A source's state (value 1).");
    for (size_t i = 0; i < ns; i++) {
        bv_metrics_sample(b, "blikveld_source_state", 1, "source", src[i].name, "state",
                          src[i].state, NULL);
    }
    bv_metrics_family(b, "blikveld_source_posts_total", "counter", "Posts a source received.");
    for (size_t i = 0; i < ns; i++) {
        bv_metrics_sample(b, "blikveld_source_posts_total", (double)src[i].posts, "source",
                          src[i].name, "platform", src[i].platform, NULL);
    }
    bv_metrics_family(b, "blikveld_source_errors_total", "counter",
                      "Errors a source met (connections, HTTP, decoding).");
    for (size_t i = 0; i < ns; i++) {
        bv_metrics_sample(b, "blikveld_source_errors_total", (double)src[i].errors, "source",
                          src[i].name, "platform", src[i].platform, NULL);
    }
    bv_metrics_family(b, "blikveld_watermark_seconds", "gauge",
                      "The event-time watermark (Unix seconds).");
    bv_metrics_sample(b, "blikveld_watermark_seconds",
                      ps.watermark_ms == INT64_MIN ? NAN : (double)ps.watermark_ms / 1000.0, NULL);
    bv_metrics_family(b, "blikveld_console_feed_clients", "gauge", "Feed (SSE) connections.");
    bv_metrics_sample(b, "blikveld_console_feed_clients", (double)c->nclients, NULL);
    bv_metrics_family(b, "blikveld_console_sessions", "gauge", "Logged-in browser sessions.");
    bv_metrics_sample(b, "blikveld_console_sessions", (double)bv_auth_sessions(c->auth), NULL);
}

/* ---- health ---- */

static int healthy(bv_console *c, bv_buf *why)
{
    int ok = 1;
    if (c->o.store) {
        bv_store_stats ss;
        bv_store_stats_get(c->o.store, &ss);
        if (ss.state && strcmp(ss.state, "connected") != 0) {
            bv_buf_printf(why, "store: redis %s\n", ss.state);
            ok = 0;
        }
    }
    bv_console_source src[MAX_SOURCES];
    size_t n = get_sources(c, src);
    for (size_t i = 0; i < n; i++) {
        if (!src[i].up) {
            bv_buf_printf(why, "source %s: %s\n", src[i].name, src[i].state);
            ok = 0;
        }
    }
    return ok;
}

/* ---- routes ---- */

static const char *header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* A POST from a browser must come from our own page: its Origin (when sent) names our host.
 * The scheme may be https while we speak http: a reverse proxy in front ends TLS (the README's
 * way to HTTPS without `tls`); an attacker's page differs in its host, not only its scheme. */
static int same_origin(bv_console *c, struct evhttp_request *req)
{
    const char *origin = header(req, "Origin");
    if (origin == NULL) {
        return 1;
    }
    if (strcmp(origin, "null") == 0) {
        /* a form POST from a page under Referrer-Policy: no-referrer carries "Origin: null"
         * (Fetch: serializing a request origin); Sec-Fetch-Site still tells our own page */
        const char *site = header(req, "Sec-Fetch-Site");
        return site && strcmp(site, "same-origin") == 0;
    }
    const char *host = header(req, "Host");
    const char *rest = NULL;
    if (strncmp(origin, "https://", 8) == 0) {
        rest = origin + 8;
    } else if (!c->ssl && strncmp(origin, "http://", 7) == 0) {
        rest = origin + 7;
    }
    return host && rest && strcasecmp(rest, host) == 0;
}

static size_t read_body(struct evhttp_request *req, char *buf, size_t cap)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n >= cap) {
        return (size_t)-1;
    }
    evbuffer_copyout(in, buf, n);
    buf[n] = '\0';
    return n;
}

static void do_login(bv_console *c, struct evhttp_request *req)
{
    if (!bv_auth_enabled(c->auth)) {
        redirect(req, "/");
        return;
    }
    char body[MAX_BODY], tok[4096];
    size_t n = read_body(req, body, sizeof body);
    int tl = n == (size_t)-1 ? -1 : bv_auth_form_value(body, n, "token", tok, sizeof tok);
    char sid[BV_AUTH_SID_LEN + 1];
    const bv_principal *who = tl > 0 ? bv_auth_login(c->auth, tok, (size_t)tl, sid) : NULL;
    memset(tok, 0, sizeof tok);
    if (who == NULL) {
        bv_log(BV_LOG_WARN, "console", "a login with an unknown token was refused");
        redirect(req, "/login?failed=1");
        return;
    }
    char cookie[256];
    /* a session cookie (no Max-Age): the server ends the session after `session` unused */
    snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s", BV_AUTH_COOKIE,
             sid, c->ssl ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
    bv_log(BV_LOG_INFO, "console", "%s logged in (%s)", who->name,
           who->role == BV_ROLE_ACK ? "ack" : "read");
    redirect(req, "/");
}

static void do_logout(bv_console *c, struct evhttp_request *req)
{
    bv_auth_logout(c->auth, header(req, "Cookie"));
    char cookie[128];
    snprintf(cookie, sizeof cookie, "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
             BV_AUTH_COOKIE, c->ssl ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
    redirect(req, bv_auth_enabled(c->auth) ? "/login" : "/");
}

static void do_ack(bv_console *c, struct evhttp_request *req, const bv_principal *who,
                   const char *id)
{
    if (who->role != BV_ROLE_ACK) {
        reply_error(c, req, 403, "this token may look, not acknowledge (role read)");
        return;
    }
    entry *e = find_alert(c, id);
    if (e == NULL) {
        reply_error(c, req, 404, "no such alert");
        return;
    }
    int64_t at = now_ms(c);
    char err[256] = "";
    /* before the hook: recording the ack may report it back at once (bv_console_acked) */
    int had = e->ack_by != NULL;
    int rc = c->h.ack ? c->h.ack(c->h.arg, e->id, e->rule, who->name, at, err, sizeof err) : 0;
    if (rc < 0) {
        reply_error(c, req, 500, err[0] ? err : "the acknowledgement could not be recorded");
        return;
    }
    int already = rc == 1 || had;
    if (!already) {
        bv_console_acked(c, e->id, who->name, at);
    } else if (e->ack_by == NULL) {
        bv_console_acked(c, e->id, err[0] ? err : who->name, at);
    }
    bv_buf *b = &c->scratch;
    bv_buf_reset(b);
    bv_buf_puts(b, "{\"id\":");
    json_str(b, e->id);
    bv_buf_puts(b, ",\"by\":");
    json_str(b, e->ack_by);
    bv_buf_printf(b, ",\"at\":%lld,\"already\":%s}\n", (long long)e->ack_ms,
                  already ? "true" : "false");
    reply_json(req, 200, b);
}

/* POST /api/rules/ID/silence: {"for", "reason"} silences the rule, {"lift": true} ends its
 * silence (body.h); recorded by the hook as `blikveld silence` records it. */
static void do_silence(bv_console *c, struct evhttp_request *req, const bv_principal *who,
                       const char *rule)
{
    if (who->role != BV_ROLE_ACK) {
        reply_error(c, req, 403, "this token may look, not silence rules (role read)");
        return;
    }
    rule_now *rn = rule_by_id(c, rule);
    if (rn == NULL) {
        reply_error(c, req, 404, "no such rule");
        return;
    }
    if (c->h.silence == NULL) {
        reply_error(c, req, 501, "silencing is not available here");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char body[BV_BODY_MAX + 1];
    bv_silence_req sr;
    char err[256] = "";
    if (len > BV_BODY_MAX) {
        reply_error(c, req, 413, "the body is longer than 4096 bytes");
        return;
    }
    evbuffer_copyout(in, body, len);
    if (bv_body_silence(body, len, &sr, err, sizeof err) != 0) {
        reply_error(c, req, 400, err);
        return;
    }
    int64_t at = now_ms(c);
    int64_t until = sr.lift ? 0 : at + sr.for_ms;
    if (c->h.silence(c->h.arg, rn->id, until, who->name, sr.lift ? NULL : sr.reason, at, err,
                     sizeof err) != 0) {
        reply_error(c, req, 500, err[0] ? err : "the silence could not be recorded");
        return;
    }
    c->rules_dirty = 1; /* the feed's next "rules" carries silenced_until */
    bv_buf *b = &c->scratch;
    bv_buf_reset(b);
    bv_buf_puts(b, "{\"rule\":");
    json_str(b, rn->id);
    bv_buf_printf(b, ",\"until\":%lld,\"by\":", (long long)until);
    json_str(b, who->name);
    bv_buf_printf(b, ",\"at\":%lld}\n", (long long)at);
    reply_json(req, 200, b);
}

static void reload_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    ((bv_console *)arg)->reload_req = NULL; /* the answer has nobody to go to */
}

static void reload_done(void *arg, int ok, const char *json)
{
    bv_console *c = arg;
    c->reloading = 0;
    struct evhttp_request *req = c->reload_req;
    c->reload_req = NULL;
    if (req == NULL) {
        return;
    }
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
    bv_buf out = {0};
    bv_buf_puts(&out, json && *json ? json : ok ? "{\"ok\":true}" : "{\"ok\":false}");
    if (out.p[out.len - 1] != '\n') {
        bv_buf_putc(&out, '\n');
    }
    reply_json(req, ok ? 200 : 422, &out);
    bv_buf_free(&out);
}

static void do_reload(bv_console *c, struct evhttp_request *req, const bv_principal *who)
{
    if (who->role != BV_ROLE_ACK) {
        reply_error(c, req, 403, "this token may look, not reload rules (role read)");
        return;
    }
    if (c->h.reload == NULL) {
        reply_error(c, req, 501, "reloading is not available here");
        return;
    }
    if (c->reloading) {
        reply_error(c, req, 409, "a reload is under way");
        return;
    }
    c->reloading = 1;
    c->reload_req = req;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), reload_closed, c);
    c->h.reload(c->h.arg, who->name, reload_done, c); /* may answer at once */
}

/* A request answered later (the audit log may come from Redis): the client may be gone by
 * then; the connection's close callback says so. */
typedef struct pending {
    bv_console *c;
    struct evhttp_request *req;
    char event[128];
} pending;

static void pending_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    ((pending *)arg)->req = NULL;
}

/* 1 when line[0..n) is one JSON object (a record that can go into the answer as it is). */
static int json_object_ok(const char *line, size_t n)
{
    if (n == 0 || line[0] != '{' || !bv_json_depth_ok(line, n, 32)) {
        return 0;
    }
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    if (h == NULL) {
        return 0;
    }
    int ok = yajl_parse(h, (const unsigned char *)line, n) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    return ok;
}

static void audit_done(void *arg, int ok, const char *text, size_t len)
{
    pending *p = arg;
    struct evhttp_request *req = p->req;
    if (req == NULL) {
        free(p);
        return;
    }
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
    bv_console *c = p->c;
    if (!ok) {
        char msg[256];
        snprintf(msg, sizeof msg, "%.*s", (int)(len < 200 ? len : 200), text ? text : "");
        reply_error(c, req, 400, msg[0] ? msg : "the audit log could not be read");
        free(p);
        return;
    }
    bv_buf b = {0};
    bv_buf_puts(&b, "{\"event\":");
    json_str(&b, p->event);
    bv_buf_puts(&b, ",\"records\":[");
    /* the lines are the audit log's JSON objects; one that is not (a torn line) is left out */
    int first = 1;
    size_t i = 0;
    while (text && i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (json_object_ok(text + i, end - i)) {
            bv_buf_puts(&b, first ? "" : ",");
            bv_buf_append(&b, text + i, end - i);
            first = 0;
        }
        i = end + 1;
    }
    bv_buf_puts(&b, "]}\n");
    reply_json(req, 200, &b);
    bv_buf_free(&b);
    free(p);
}

static void do_audit(bv_console *c, struct evhttp_request *req, const char *query)
{
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    const char *ev = NULL;
    if (query && evhttp_parse_query_str(query, &q) == 0) {
        ev = evhttp_find_header(&q, "event");
    }
    if (ev == NULL || *ev == '\0') {
        ev = c->event;
    }
    pending *p = calloc(1, sizeof *p);
    if (p == NULL || strlen(ev) >= sizeof p->event) {
        free(p);
        evhttp_clear_headers(&q);
        reply_error(c, req, 400, "no such event");
        return;
    }
    p->c = c;
    p->req = req;
    snprintf(p->event, sizeof p->event, "%s", ev);
    evhttp_clear_headers(&q);
    if (c->h.audit == NULL) {
        audit_done(p, 1, "", 0);
        return;
    }
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), pending_closed, p);
    c->h.audit(c->h.arg, p->event, audit_done, p); /* may answer at once */
}

static void do_events(bv_console *c, struct evhttp_request *req)
{
    sweep_clients(c);
    if (c->nclients >= c->o.max_clients) {
        reply_error(c, req, 503, "too many feed connections");
        return;
    }
    client *cl = calloc(1, sizeof *cl);
    if (cl == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    cl->req = req;
    cl->evcon = evhttp_request_get_connection(req);
    cl->c = c;
    evhttp_send_reply_start(req, 200, "OK");
    evhttp_connection_set_closecb(cl->evcon, client_closed, cl);
    /* the feed writes keepalives: no read timeout on it, a write timeout stays */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(cl->evcon);
    struct timeval wtv = {c->o.timeout_s, 0};
    bufferevent_set_timeouts(bev, NULL, &wtv);
    cl->next = c->clients;
    c->clients = cl;
    c->nclients++;
    struct evbuffer *b = evbuffer_new();
    if (b) {
        evbuffer_add_printf(b, "retry: 2000\nevent: hello\ndata: {\"now\":%lld}\n\n",
                            (long long)now_ms(c));
        evhttp_send_reply_chunk(req, b);
        evbuffer_free(b);
    }
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* PREFIX ID SUFFIX: the ID (not empty, no '/', shorter than n bytes) into out; 1, else 0. */
static int path_id(const char *path, const char *prefix, const char *suffix, char *out, size_t n)
{
    size_t pl = strlen(prefix), len = strlen(path), sl = strlen(suffix);
    if (len <= pl + sl || strncmp(path, prefix, pl) != 0 || strcmp(path + len - sl, suffix) != 0) {
        return 0;
    }
    size_t il = len - pl - sl;
    if (il >= n || memchr(path + pl, '/', il) != NULL) {
        return 0;
    }
    memcpy(out, path + pl, il);
    out[il] = '\0';
    return 1;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    bv_console *c = arg;
    headers_common(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (path == NULL || *path == '\0') {
        path = "/";
    }
    int get = m == EVHTTP_REQ_GET, post = m == EVHTTP_REQ_POST;
    if (!get && !post) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST");
        reply_error(c, req, 405, "GET or POST only");
        return;
    }
    /* what needs no token */
    if (get && strcmp(path, "/healthz") == 0) {
        bv_buf why = {0};
        int ok = healthy(c, &why);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
        if (ok) {
            reply(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
        } else {
            reply(req, 503, "text/plain; charset=utf-8", why.p, why.len);
        }
        bv_buf_free(&why);
        return;
    }
    if (strcmp(path, "/login") == 0) {
        if (post) {
            if (!same_origin(c, req)) {
                reply_error(c, req, 403, "cross-origin request refused");
                return;
            }
            do_login(c, req);
        } else if (!bv_auth_enabled(c->auth)) {
            redirect(req, "/");
        } else {
            reply_asset(req, bv_asset_find("/login.html"));
        }
        return;
    }
    if (post && strcmp(path, "/logout") == 0) {
        do_logout(c, req);
        return;
    }
    const bv_asset *asset = get && strcmp(path, "/index.html") != 0 && strcmp(path, "/") != 0
                                ? bv_asset_find(path)
                                : NULL;
    if (asset) {
        reply_asset(req, asset);
        return;
    }
    const bv_principal *who =
        bv_auth_check(c->auth, header(req, "Authorization"), header(req, "Cookie"));
    int page = get && (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0 ||
                       starts(path, "/alerts/"));
    if (who == NULL) {
        if (page) {
            redirect(req, "/login");
        } else {
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                              "Bearer realm=\"blikveld\"");
            reply_error(c, req, 401, "a token is needed (log in, or send Authorization: Bearer)");
        }
        return;
    }
    if (post && !same_origin(c, req)) {
        reply_error(c, req, 403, "cross-origin request refused");
        return;
    }
    if (post && evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0) {
        /* the API's POSTs take no body, or JSON: no form a foreign page could send */
        const char *ct = header(req, "Content-Type");
        if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
            reply_error(c, req, 415, "a body must be application/json");
            return;
        }
    }
    bv_buf *b = &c->scratch;
    bv_buf_reset(b);
    char id[256];
    if (page) {
        reply_asset(req, bv_asset_find("/index.html"));
    } else if (get && strcmp(path, "/api/me") == 0) {
        write_me(c, who, b);
        reply_json(req, 200, b);
    } else if (get && strcmp(path, "/api/alerts") == 0) {
        write_alerts(c, b);
        reply_json(req, 200, b);
    } else if (get && strcmp(path, "/api/rules") == 0) {
        write_rules(c, 1, b);
        reply_json(req, 200, b);
    } else if (get && strcmp(path, "/api/sources") == 0) {
        write_sources(c, b);
        reply_json(req, 200, b);
    } else if (get && strcmp(path, "/api/audit") == 0) {
        do_audit(c, req, query);
    } else if (get && strcmp(path, "/metrics") == 0) {
        write_metrics(c, b);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
        reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b->p, b->len);
    } else if (get && strcmp(path, "/events") == 0) {
        do_events(c, req);
    } else if (post && path_id(path, "/api/alerts/", "/ack", id, 33)) {
        do_ack(c, req, who, id);
    } else if (post && path_id(path, "/api/rules/", "/silence", id, sizeof id)) {
        do_silence(c, req, who, id);
    } else if (post && strcmp(path, "/api/reload") == 0) {
        do_reload(c, req, who);
    } else {
        reply_error(c, req, 404, "no such resource");
    }
}

/* ---- timers ---- */

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_console *c = arg;
    if (c->clients) {
        broadcast(c, NULL, ": keepalive\n\n", 13);
    }
}

static void on_rules_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_console *c = arg;
    if (!c->rules_dirty || c->clients == NULL) {
        return;
    }
    c->rules_dirty = 0;
    bv_buf b = {0};
    write_rules(c, 0, &b);
    if (b.len && b.p[b.len - 1] == '\n') {
        b.len--;
    }
    broadcast(c, "rules", b.p, b.len);
    bv_buf_free(&b);
}

static void on_sources_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_console *c = arg;
    bv_console_source src[MAX_SOURCES];
    size_t n = get_sources(c, src);
    sample_rates(c, src, n);
    if (c->clients == NULL) {
        return;
    }
    bv_buf b = {0};
    write_sources(c, &b);
    if (b.len && b.p[b.len - 1] == '\n') {
        b.len--;
    }
    broadcast(c, "sources", b.p, b.len);
    bv_buf_free(&b);
}

static struct event *every(bv_console *c, int64_t ms, event_callback_fn fn)
{
    struct event *ev = event_new(c->base, -1, EV_PERSIST, fn, c);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (ev && event_add(ev, &tv) != 0) {
        event_free(ev);
        ev = NULL;
    }
    return ev;
}

/* ---- TLS ---- */

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
    SSL *ssl = SSL_new((SSL_CTX *)arg);
    if (ssl == NULL) {
        return NULL;
    }
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static void ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    char e[256];
    ERR_error_string_n(ERR_get_error(), e, sizeof e);
    snprintf(err, errlen, "%s %s: %s", what, path, e);
    ERR_clear_error();
}

static SSL_CTX *tls_setup(const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "tls: out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ssl_error(err, errlen, "console.tls.cert", cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_error(err, errlen, "console.tls.key", key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error(err, errlen, "console.tls.key does not fit the certificate", key);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- life ---- */

/* The last evaluation of a rule whose definition may have changed: its counts stand until the
 * next evaluation, its levels are the new definition's (a raised threshold shows at once).
 * 0 when the detectors' types differ (the counts measured something else). */
static int refresh_levels(const bv_rule *r, bv_det_eval *ev, size_t n)
{
    if (n != r->ndetectors) {
        return 0;
    }
    for (size_t d = 0; d < n; d++) {
        const bv_detector_spec *s = &r->detectors[d];
        bv_det_eval *e = &ev[d];
        if (e->type != s->type) {
            return 0;
        }
        switch (s->type) {
        case BV_DET_THRESHOLD:
            e->threshold = s->count;
            e->holds = e->count >= s->count;
            break;
        case BV_DET_UNIQUE_AUTHORS:
            e->threshold = s->count;
            e->holds = e->authors >= s->count;
            break;
        case BV_DET_SPIKE:
            e->threshold = s->min_count;
            e->factor = s->factor;
            break;
        case BV_DET_GROWTH:
            e->threshold = s->min_count;
            break;
        default:
            break;
        }
    }
    return 1;
}

static int set_rules(bv_console *c, const bv_ruleset *rs)
{
    size_t n = rs ? bv_rules_count(rs) : 0;
    rule_now *nr = calloc(n ? n : 1, sizeof *nr);
    if (nr == NULL) {
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const bv_rule *r = bv_rules_get(rs, i);
        rule_now *old = rule_by_id(c, r->id);
        nr[i].id = strdup(r->id);
        if (nr[i].id == NULL) {
            for (size_t k = 0; k < i; k++) {
                free(nr[k].id);
                free(nr[k].evals);
            }
            free(nr);
            return BV_ENOMEM;
        }
        nr[i].ndet = r->ndetectors;
        if (old) {
            nr[i].sent_ms = old->sent_ms;
            nr[i].firing = old->firing;
            nr[i].fired = old->fired;
            nr[i].resolved = old->resolved;
            if (old->evals && refresh_levels(r, old->evals, old->ndet)) {
                nr[i].evals = old->evals; /* the last counts stand until the next evaluation */
                nr[i].evals_ms = old->evals_ms;
                old->evals = NULL;
            }
        }
    }
    for (size_t i = 0; i < c->nrules; i++) {
        free(c->rules[i].id);
        free(c->rules[i].evals);
    }
    free(c->rules);
    c->rules = nr;
    c->nrules = n;
    c->rs = rs;
    c->rules_dirty = 1;
    return BV_OK;
}

bv_console *bv_console_new(struct event_base *base, const bv_console_opts *o,
                           const bv_console_hooks *hooks, char *err, size_t errlen)
{
    bv_console *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base = base;
    c->o = *o;
    if (hooks) {
        c->h = *hooks;
    }
    c->o.clock = o->clock ? o->clock : bv_clock_system();
    c->o.keepalive_ms = o->keepalive_ms > 0 ? o->keepalive_ms : 15000;
    c->o.rules_ms = o->rules_ms > 0 ? o->rules_ms : 2000;
    c->o.sources_ms = o->sources_ms > 0 ? o->sources_ms : 5000;
    c->o.max_alerts = o->max_alerts ? o->max_alerts : 500;
    c->o.max_clients = o->max_clients ? o->max_clients : 64;
    c->o.client_buffer = o->client_buffer ? o->client_buffer : 1024 * 1024;
    c->o.timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
    c->o.session_ms = o->session_ms > 0 ? o->session_ms : 12LL * 3600 * 1000;
    c->event = strdup(o->event ? o->event : "");
    c->run = o->run ? strdup(o->run) : NULL;
    c->lang = strdup(o->lang && strcmp(o->lang, "en") == 0 ? "en" : "nl");
    c->version = strdup(o->version ? o->version : "");
    c->auth = bv_auth_new(o->tokens, o->ntokens, c->o.session_ms, c->o.clock);
    c->alerts = calloc(c->o.max_alerts, sizeof *c->alerts);
    if (!c->event || (o->run && !c->run) || !c->lang || !c->version || !c->auth || !c->alerts ||
        set_rules(c, o->rules) != BV_OK) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    char host[256];
    int port;
    if (o->listen == NULL || split_listen(o->listen, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "console.listen '%s' is not HOST:PORT", o->listen ? o->listen : "");
        goto fail;
    }
    if (!bv_auth_enabled(c->auth) && !is_loopback(host)) {
        bv_log(BV_LOG_WARN, "console",
               "no tokens configured: the console listens on 127.0.0.1:%d only, not on %s", port,
               o->listen);
        snprintf(host, sizeof host, "127.0.0.1");
    }
    c->open_local = !bv_auth_enabled(c->auth);
    if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
        snprintf(err, errlen, "console.tls needs both cert and key");
        goto fail;
    }
    c->http = evhttp_new(base);
    if (c->http == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (o->tls_cert) {
        c->ssl = tls_setup(o->tls_cert, o->tls_key, err, errlen);
        if (c->ssl == NULL) {
            goto fail;
        }
        evhttp_set_bevcb(c->http, tls_bev, c->ssl);
    }
    evhttp_set_max_body_size(c->http, MAX_BODY);
    evhttp_set_max_headers_size(c->http, 16384);
    evhttp_set_timeout(c->http, c->o.timeout_s);
    evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(c->http, on_request, c);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(c->http, host, (ev_uint16_t)port);
    if (bound == NULL) {
        snprintf(err, errlen, "console: cannot listen on %s:%d: %s", host, port, strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0) {
        c->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    }
    int v6 = strchr(host, ':') != NULL;
    snprintf(c->url, sizeof c->url, "%s://%s%s%s:%d", c->ssl ? "https" : "http", v6 ? "[" : "",
             strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ? "127.0.0.1" : host,
             v6 ? "]" : "", c->port);
    c->t_keepalive = every(c, c->o.keepalive_ms, on_keepalive);
    c->t_rules = every(c, c->o.rules_ms, on_rules_tick);
    c->t_sources = every(c, c->o.sources_ms, on_sources_tick);
    if (!c->t_keepalive || !c->t_rules || !c->t_sources) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return c;
fail:
    bv_console_free(c);
    return NULL;
}

void bv_console_free(bv_console *c)
{
    if (c == NULL) {
        return;
    }
    for (client *cl = c->clients; cl; cl = cl->next) {
        if (!cl->dead && cl->evcon) {
            evhttp_connection_set_closecb(cl->evcon, NULL, NULL);
        }
        cl->dead = 1;
    }
    sweep_clients(c);
    if (c->http) {
        evhttp_free(c->http);
    }
    if (c->ssl) {
        SSL_CTX_free(c->ssl);
    }
    if (c->t_keepalive) {
        event_free(c->t_keepalive);
    }
    if (c->t_rules) {
        event_free(c->t_rules);
    }
    if (c->t_sources) {
        event_free(c->t_sources);
    }
    for (size_t i = 0; c->alerts && i < c->nalerts; i++) {
        entry_clear(&c->alerts[i]);
    }
    free(c->alerts);
    for (size_t i = 0; i < c->nrules; i++) {
        free(c->rules[i].id);
        free(c->rules[i].evals);
    }
    free(c->rules);
    bv_auth_free(c->auth);
    bv_buf_free(&c->scratch);
    free(c->event);
    free(c->run);
    free(c->lang);
    free(c->version);
    free(c);
}

int bv_console_port(const bv_console *c)
{
    return c->port;
}

const char *bv_console_url(const bv_console *c)
{
    return c->url;
}

int bv_console_open_local(const bv_console *c)
{
    return c->open_local;
}

size_t bv_console_clients(const bv_console *c)
{
    return c->nclients;
}

/* The alert's JSON (as blikveld prints alerts) into out, and into ev each detector's evidence
 * in the words messages use, in both languages ({"nl": [...], "en": [...]}: the page shows them
 * as they are). */
static int alert_json(const bv_alert *a, bv_buf *out, bv_buf *ev)
{
    int rc = bv_alert_format_json(a, out);
    bv_buf line = {0};
    for (int lang = 0; lang < 2; lang++) {
        bv_buf_puts(ev, lang ? "],\"en\":[" : "{\"nl\":[");
        for (size_t i = 0; i < a->nevals; i++) {
            bv_buf_reset(&line);
            if (bv_render_evidence(&a->evals[i], lang ? BV_LANG_EN : BV_LANG_NL, &line) != BV_OK) {
                rc = BV_ENOMEM;
            }
            bv_buf_puts(ev, i ? ",\"" : "\"");
            bv_buf_json_str(ev, line.p ? line.p : "", line.len);
            bv_buf_putc(ev, '"');
        }
    }
    bv_buf_puts(ev, "]}");
    bv_buf_free(&line);
    return rc == BV_OK && out->p && ev->p ? BV_OK : BV_ENOMEM;
}

/* A resolved record shows what the firing one did (the evidence and samples that made it fire;
 * at resolve time they are near zero), with the state and times of the resolved one. */
static int resolved_json(const entry *e, const bv_alert *a, bv_buf *out, bv_buf *ev)
{
    char err[128];
    bv_alert *f = e && e->firing && e->json
                      ? bv_alert_parse_json(e->json, strlen(e->json), err, sizeof err)
                      : NULL;
    if (f == NULL) {
        return alert_json(a, out, ev);
    }
    f->state = BV_ALERT_RESOLVED;
    f->since_ms = f->at_ms;
    f->at_ms = a->at_ms;
    int rc = alert_json(f, out, ev);
    bv_alert_free(f);
    return rc;
}

/* Keeps a (a new alert, or a new state of one) in the list, newest first; live: counted for
 * the rules and sent to the feed; else restored from before this process started. */
static void keep_alert(bv_console *c, const bv_alert *a, int live)
{
    if (!live) {
        const entry *seen = find_alert(c, a->id);
        if (seen && !seen->restored) {
            return; /* what this process saw itself is newer */
        }
    }
    bv_buf json = {0}, ev = {0};
    int firing = a->state == BV_ALERT_FIRING;
    int rc =
        firing ? alert_json(a, &json, &ev) : resolved_json(find_alert(c, a->id), a, &json, &ev);
    if (rc != BV_OK) {
        bv_buf_free(&json);
        bv_buf_free(&ev);
        return;
    }
    rule_now *rn = live && a->rule ? rule_by_id(c, a->rule->id) : NULL;
    if (rn) {
        rn->firing = firing;
        if (firing) {
            rn->fired++;
        } else {
            rn->resolved++;
        }
        c->rules_dirty = 1;
    }
    entry *e = find_alert(c, a->id);
    if (e == NULL) {
        if (c->nalerts == c->o.max_alerts) {
            /* the oldest goes */
            size_t oldest = 0;
            for (size_t i = 1; i < c->nalerts; i++) {
                if (entry_before(&c->alerts[oldest], &c->alerts[i])) {
                    oldest = i;
                }
            }
            entry_clear(&c->alerts[oldest]);
            c->alerts[oldest] = c->alerts[--c->nalerts];
        }
        e = &c->alerts[c->nalerts++];
        memset(e, 0, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", a->id);
        e->rule = strdup(a->rule && a->rule->id ? a->rule->id : "");
    }
    free(e->json);
    e->json = bv_buf_steal(&json);
    free(e->evidence);
    e->evidence = bv_buf_steal(&ev);
    e->firing = firing;
    e->fired_ms = firing ? a->at_ms : a->since_ms ? a->since_ms : a->at_ms;
    e->seq = ++c->seq;
    e->restored = !live;
    e->last_ms = a->at_ms;
    /* keep the list newest first: move e to its place */
    entry tmp = *e;
    size_t at = (size_t)(e - c->alerts);
    memmove(&c->alerts[at], &c->alerts[at + 1], (c->nalerts - at - 1) * sizeof *e);
    size_t pos = 0;
    while (pos < c->nalerts - 1 && entry_before(&c->alerts[pos], &tmp)) {
        pos++;
    }
    memmove(&c->alerts[pos + 1], &c->alerts[pos], (c->nalerts - 1 - pos) * sizeof *e);
    c->alerts[pos] = tmp;
    if (live && c->clients) {
        bv_buf b = {0};
        write_alert(&c->alerts[pos], &b);
        broadcast(c, "alert", b.p, b.len);
        bv_buf_free(&b);
    }
}

void bv_console_alert(bv_console *c, const bv_alert *a)
{
    keep_alert(c, a, 1);
}

void bv_console_restore(bv_console *c, const bv_alert *a)
{
    keep_alert(c, a, 0);
}

void bv_console_restored_drop(bv_console *c, int64_t before_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nalerts; i++) {
        if (c->alerts[i].restored && c->alerts[i].last_ms < before_ms) {
            entry_clear(&c->alerts[i]);
        } else {
            c->alerts[n++] = c->alerts[i]; /* the order stays */
        }
    }
    c->nalerts = n;
}

void bv_console_acked(bv_console *c, const char *id, const char *by, int64_t at_ms)
{
    entry *e = find_alert(c, id);
    if (e == NULL || e->ack_by) {
        return;
    }
    e->ack_by = strdup(by);
    e->ack_ms = at_ms;
    if (c->clients && e->ack_by) {
        bv_buf b = {0};
        bv_buf_puts(&b, "{\"id\":");
        json_str(&b, id);
        bv_buf_puts(&b, ",\"by\":");
        json_str(&b, by);
        bv_buf_printf(&b, ",\"at\":%lld}", (long long)at_ms);
        broadcast(c, "ack", b.p, b.len);
        bv_buf_free(&b);
    }
}

void bv_console_signal(bv_console *c, const bv_signal *s)
{
    if (s->rule >= c->nrules || c->rs == NULL || s->spec != bv_rules_get(c->rs, s->rule)) {
        return; /* a signal of a rule set that was replaced */
    }
    if (s->nevals == 0 || s->evals == NULL) {
        return; /* nothing evaluated (the history ignores such a signal too) */
    }
    rule_now *rn = &c->rules[s->rule];
    if (rn->evals && s->at_ms < rn->evals_ms) {
        return; /* a final evaluation lags the watermark: a post's newer one stands */
    }
    if (rn->evals == NULL) {
        rn->evals = calloc(rn->ndet ? rn->ndet : 1, sizeof *rn->evals);
        if (rn->evals == NULL) {
            return;
        }
    }
    size_t n = s->nevals < rn->ndet ? s->nevals : rn->ndet;
    memcpy(rn->evals, s->evals, n * sizeof *rn->evals);
    rn->evals_ms = s->at_ms;
    c->rules_dirty = 1;
}

void bv_console_set_rules(bv_console *c, const bv_ruleset *rs, const char *result)
{
    if (set_rules(c, rs) != BV_OK) {
        bv_log(BV_LOG_ERROR, "console", "out of memory taking the new rule set");
    }
    if (c->clients && result) {
        size_t n = strlen(result);
        while (n && result[n - 1] == '\n') {
            n--;
        }
        broadcast(c, "reload", result, n);
    }
}
