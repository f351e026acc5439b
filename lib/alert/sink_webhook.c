/* sink_webhook.c: the webhook sink: each message POSTed as JSON to one URL, in blikveld's own
 * format (the default) or in the Alertmanager webhook format (`format: alertmanager`), so that a
 * receiver written for Alertmanager takes our alerts as they are. Owns its URL and its header
 * lines (values read from the environment when it is made, wiped when it is freed).
 *
 * Every request: POST URL, Content-Type: application/json, User-Agent: blikveld,
 * Idempotency-Key: KEY (the message's key: its alerts' keys "ID/firing", "ID/resolved",
 * "ID/escalated" joined with ","; a heartbeat's "heartbeat/EVENT/SECONDS"), and one header per
 * headers_env entry (NAME: the value of its environment variable). 2xx is delivered; 408, 429,
 * 5xx and no answer are retried; any other status fails.
 *
 * Format blikveld, alerts and escalations:
 *   {"type":"notification","kind":"alerts"|"escalation","event":E,"group":G,"drill":BOOL,
 *    "sent_at":ISO8601,"key":KEY,"text":SHORT,"alerts":[ALERT,...]}
 * where SHORT is the short human text (render.h, at most 1000 bytes, in the configured language)
 * and each ALERT is the alert's JSON (README "Alerts", bv_alert_format_json) with its own
 * delivery key as first member: {"key":"ID/firing","type":"alert","id":...}.
 * Format blikveld, heartbeat:
 *   {"type":"heartbeat","event":E,"group":G,"drill":BOOL,"sent_at":ISO8601,
 *    "next_within":"1m","firing":N}
 * next_within is the promised interval (bv_duration_format), firing the alerts firing now.
 *
 * Format alertmanager (Alertmanager's webhook payload, version 4):
 *   {"receiver":G,"status":"firing"|"resolved","alerts":[AMALERT,...],"groupLabels":{"group":G},
 *    "commonLabels":{...},"commonAnnotations":{...},"externalURL":CONSOLE_URL or "",
 *    "version":"4","groupKey":"{}/{event=\"E\"}:{group=\"G\"}","truncatedAlerts":0}
 *   AMALERT: {"status":"firing"|"resolved","labels":{"alertname":RULE,"rule":RULE,"event":E,
 *    "severity":SEV,"blikveld_id":ID[,"drill":"true"][,"health":"true"]},
 *    "annotations":{"title":TITLE,"summary":SHORT},"startsAt":T,"endsAt":T,
 *    "generatorURL":CONSOLE_URL/alerts/ID or "","fingerprint":first 16 hex digits of ID}
 * status is "firing" when any alert fires. startsAt: when it fired (a resolved alert: its
 * fired_at); endsAt: "0001-01-01T00:00:00Z" while firing, when it resolved otherwise.
 * commonLabels / commonAnnotations: the pairs every alert has with the same value.
 * A heartbeat is one firing alert: labels {"alertname":"Watchdog","event":E,"severity":"none"
 * [,"drill":"true"]}, annotations {"title":"Watchdog","summary":SHORT}, startsAt the send time,
 * fingerprint from the event's name. */
#include "alert/sink_http.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WEBHOOK_TEXT_MAX 1000
#define AM_ZERO_TIME "0001-01-01T00:00:00Z"

typedef struct webhook_sink {
    bv_sink base;
    bv_http *http;
    char *url;
    int am;         /* the Alertmanager webhook format */
    char **headers; /* "Name: value" (values are secrets) */
    size_t nheaders;
} webhook_sink;

static void key_member(bv_buf *b, const char *k, const char *v)
{
    bv_http_json_str(b, k);
    bv_buf_putc(b, ':');
    bv_http_json_str(b, v);
}

static int blikveld_body(webhook_sink *w, const bv_message *m, bv_buf *b)
{
    char t[BV_TIME_ISO_LEN];
    bv_render_opts o;
    bv_http_render_opts(w->base.env, &o);
    int heartbeat = m->kind == BV_MSG_HEARTBEAT;
    bv_buf_printf(b, "{\"type\":\"%s\",", heartbeat ? "heartbeat" : "notification");
    if (!heartbeat) {
        bv_buf_printf(b, "\"kind\":\"%s\",",
                      m->kind == BV_MSG_ESCALATION ? "escalation" : "alerts");
    }
    key_member(b, "event", m->event ? m->event : "");
    bv_buf_putc(b, ',');
    key_member(b, "group", m->group ? m->group : "");
    bv_buf_printf(b, ",\"drill\":%s,", m->drill ? "true" : "false");
    key_member(b, "sent_at", bv_time_format_iso8601(m->now_ms, t));
    if (heartbeat) {
        char d[32];
        size_t firing = 0;
        for (size_t i = 0; i < m->nalerts; i++) {
            firing += m->alerts[i]->state == BV_ALERT_FIRING;
        }
        bv_buf_putc(b, ',');
        key_member(b, "next_within", bv_duration_format(m->every_ms, d));
        bv_buf_printf(b, ",\"firing\":%zu}", firing);
        return BV_OK;
    }
    bv_buf_putc(b, ',');
    key_member(b, "key", m->key ? m->key : "");
    bv_buf_puts(b, ",\"text\":");
    bv_buf text = BV_BUF_INIT;
    int rc = bv_render_short(m, &o, WEBHOOK_TEXT_MAX, &text);
    bv_http_json_str(b, rc == BV_OK && text.p ? text.p : "");
    bv_buf_free(&text);
    if (rc != BV_OK) {
        return rc;
    }
    bv_buf_puts(b, ",\"alerts\":[");
    bv_buf one = BV_BUF_INIT;
    for (size_t i = 0; i < m->nalerts && rc == BV_OK; i++) {
        const bv_alert *a = m->alerts[i];
        char kb[BV_ALERT_KEY_LEN];
        const char *key =
            m->keys && m->keys[i] ? m->keys[i] : bv_alert_key(a, m->kind == BV_MSG_ESCALATION, kb);
        bv_buf_reset(&one);
        rc = bv_alert_format_json(a, &one);
        if (rc == BV_OK && (one.len < 2 || one.p[0] != '{')) {
            rc = BV_ERR;
        }
        if (rc == BV_OK) {
            bv_buf_puts(b, i ? ",{" : "{");
            key_member(b, "key", key);
            bv_buf_putc(b, ',');
            bv_buf_append(b, one.p + 1, one.len - 1);
        }
    }
    bv_buf_free(&one);
    bv_buf_puts(b, "]}");
    return rc;
}

/* ---- the Alertmanager webhook format ---- */

typedef struct am_alert {
    bv_am_pair labels[BV_AM_MAX_PAIRS];
    size_t nlabels;
    bv_am_pair ann[2];
    bv_buf summary;
} am_alert;

/* The pairs of the first set that every set holds with the same value. */
static size_t common_pairs(const am_alert *v, size_t n, int labels, bv_am_pair *out)
{
    size_t k = 0;
    const bv_am_pair *first = labels ? v[0].labels : v[0].ann;
    size_t nfirst = labels ? v[0].nlabels : 2;
    for (size_t i = 0; i < nfirst; i++) {
        int all = 1;
        for (size_t j = 1; j < n && all; j++) {
            const bv_am_pair *p = labels ? v[j].labels : v[j].ann;
            size_t np = labels ? v[j].nlabels : 2;
            int found = 0;
            for (size_t q = 0; q < np && !found; q++) {
                found = strcmp(p[q].name, first[i].name) == 0 &&
                        strcmp(p[q].value, first[i].value) == 0;
            }
            all = found;
        }
        if (all) {
            out[k++] = first[i];
        }
    }
    return k;
}

static void am_times(bv_buf *b, const bv_alert *a)
{
    char t[BV_TIME_ISO_LEN];
    int64_t start = a->state == BV_ALERT_RESOLVED && a->since_ms ? a->since_ms : a->at_ms;
    bv_buf_printf(b, ",\"startsAt\":\"%s\"", bv_time_format_iso8601(start, t));
    if (a->state == BV_ALERT_RESOLVED) {
        bv_buf_printf(b, ",\"endsAt\":\"%s\"", bv_time_format_iso8601(a->at_ms, t));
    } else {
        bv_buf_puts(b, ",\"endsAt\":\"" AM_ZERO_TIME "\"");
    }
}

static int am_body(webhook_sink *w, const bv_message *m, bv_buf *b)
{
    const bv_sink_env *env = w->base.env;
    bv_render_opts o;
    bv_http_render_opts(env, &o);
    int heartbeat = m->kind == BV_MSG_HEARTBEAT;
    size_t n = heartbeat ? 1 : m->nalerts;
    if (n == 0) {
        return BV_EINVAL;
    }
    am_alert *v = calloc(n, sizeof *v);
    if (v == NULL) {
        return BV_ENOMEM;
    }
    int rc = BV_OK;
    int firing = heartbeat;
    for (size_t i = 0; i < n && rc == BV_OK; i++) {
        bv_message one;
        if (heartbeat) {
            v[i].nlabels = bv_am_watchdog_labels(m, v[i].labels);
            v[i].ann[0] = (bv_am_pair){"title", "Watchdog"};
            rc = bv_render_short(m, &o, WEBHOOK_TEXT_MAX, &v[i].summary);
        } else {
            const bv_alert *a = m->alerts[i];
            firing |= a->state == BV_ALERT_FIRING;
            v[i].nlabels = bv_am_labels(m, a, v[i].labels);
            v[i].ann[0] = (bv_am_pair){"title", a->rule->title ? a->rule->title : a->rule->id};
            bv_am_single(m, i, &one);
            rc = bv_render_short(&one, &o, WEBHOOK_TEXT_MAX, &v[i].summary);
        }
        v[i].ann[1] = (bv_am_pair){"summary", v[i].summary.p ? v[i].summary.p : ""};
    }
    if (rc != BV_OK) {
        goto out;
    }
    const char *group = m->group ? m->group : "";
    bv_buf_puts(b, "{\"receiver\":");
    bv_http_json_str(b, group);
    bv_buf_printf(b, ",\"status\":\"%s\",\"alerts\":[", firing ? "firing" : "resolved");
    char t[BV_TIME_ISO_LEN];
    for (size_t i = 0; i < n; i++) {
        bv_buf_puts(b, i ? ",{" : "{");
        if (heartbeat) {
            bv_buf_puts(b, "\"status\":\"firing\"");
        } else {
            bv_buf_printf(b, "\"status\":\"%s\"",
                          m->alerts[i]->state == BV_ALERT_FIRING ? "firing" : "resolved");
        }
        bv_buf_puts(b, ",\"labels\":");
        bv_am_object(b, v[i].labels, v[i].nlabels);
        bv_buf_puts(b, ",\"annotations\":");
        bv_am_object(b, v[i].ann, 2);
        if (heartbeat) {
            char id[33];
            bv_alert_make_id("watchdog", m->event ? m->event : "", 0, id);
            bv_buf_printf(b,
                          ",\"startsAt\":\"%s\",\"endsAt\":\"" AM_ZERO_TIME
                          "\",\"generatorURL\":\"\",\"fingerprint\":\"%.16s\"}",
                          bv_time_format_iso8601(m->now_ms, t), id);
            continue;
        }
        const bv_alert *a = m->alerts[i];
        am_times(b, a);
        bv_buf_puts(b, ",\"generatorURL\":\"");
        bv_buf link = BV_BUF_INIT;
        if (bv_am_console_link(env, a, &link) && link.p) {
            bv_buf_json_str(b, link.p, link.len);
        }
        bv_buf_free(&link);
        bv_buf_printf(b, "\",\"fingerprint\":\"%.16s\"}", a->id);
    }
    bv_buf_puts(b, "],\"groupLabels\":{\"group\":");
    bv_http_json_str(b, group);
    bv_am_pair common[BV_AM_MAX_PAIRS];
    bv_buf_puts(b, "},\"commonLabels\":");
    bv_am_object(b, common, common_pairs(v, n, 1, common));
    bv_buf_puts(b, ",\"commonAnnotations\":");
    bv_am_object(b, common, common_pairs(v, n, 0, common));
    bv_buf_puts(b, ",\"externalURL\":");
    bv_http_json_str(b, o.console_url ? o.console_url : "");
    bv_buf_puts(b, ",\"version\":\"4\",\"groupKey\":");
    bv_buf gk = BV_BUF_INIT;
    bv_buf_puts(&gk, "{}/{event=\"");
    bv_buf_json_str(&gk, m->event ? m->event : "", m->event ? strlen(m->event) : 0);
    bv_buf_puts(&gk, "\"}:{group=\"");
    bv_buf_json_str(&gk, group, strlen(group));
    bv_buf_puts(&gk, "\"}");
    bv_http_json_str(b, gk.p ? gk.p : "");
    bv_buf_free(&gk);
    bv_buf_puts(b, ",\"truncatedAlerts\":0}");
out:
    for (size_t i = 0; i < n; i++) {
        bv_buf_free(&v[i].summary);
    }
    free(v);
    return rc;
}

static int webhook_deliver(bv_sink *s, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    webhook_sink *w = (webhook_sink *)s;
    if (m->kind != BV_MSG_HEARTBEAT && m->nalerts == 0) {
        return BV_EINVAL;
    }
    bv_buf body = BV_BUF_INIT;
    int rc = w->am ? am_body(w, m, &body) : blikveld_body(w, m, &body);
    if (rc == BV_OK && body.p == NULL) {
        rc = BV_ENOMEM;
    }
    /* the custom headers, then the idempotency key (CR and LF can never be in it) */
    const char **h = rc == BV_OK ? calloc(w->nheaders + 1, sizeof *h) : NULL;
    bv_buf idem = BV_BUF_INIT;
    if (rc == BV_OK && h == NULL) {
        rc = BV_ENOMEM;
    }
    if (rc == BV_OK) {
        bv_buf_puts(&idem, "Idempotency-Key: ");
        for (const char *k = m->key ? m->key : ""; *k; k++) {
            bv_buf_putc(&idem, *k == '\r' || *k == '\n' ? ' ' : *k);
        }
        for (size_t i = 0; i < w->nheaders; i++) {
            h[i] = w->headers[i];
        }
        h[w->nheaders] = idem.p;
        bv_http_req rq = {.method = "POST",
                          .url = w->url,
                          .content_type = "application/json",
                          .body = body.p,
                          .len = body.len,
                          .headers = h,
                          .nheaders = idem.p ? w->nheaders + 1 : w->nheaders};
        rc = bv_http_send(w->http, &rq, NULL, NULL, done, arg);
    }
    free(h);
    bv_buf_free(&idem);
    bv_buf_free(&body);
    return rc;
}

static void webhook_free(bv_sink *s)
{
    webhook_sink *w = (webhook_sink *)s;
    bv_http_free(w->http);
    for (size_t i = 0; i < w->nheaders; i++) {
        bv_http_secret_free(w->headers[i]);
    }
    free(w->headers);
    free(w->url);
    free(s->label);
    free(w);
}

static const bv_sink_ops webhook_ops = {"webhook", NULL, webhook_deliver, webhook_free};

/* Headers blikveld sets itself (or that would break the request). */
static int reserved_header(const char *name)
{
    static const char *const names[] = {"Content-Type",      "Content-Length",  "Host",
                                        "Transfer-Encoding", "Idempotency-Key", "Expect",
                                        "Connection"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

bv_sink *bv_sink_webhook_new(const bv_sink_env *env, const bv_target_conf *t, char *err,
                             size_t errlen)
{
    webhook_sink *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->base.ops = &webhook_ops;
    w->base.env = env;
    if (!bv_http_url_ok(t->webhook)) {
        snprintf(err, errlen, "webhook: not an http:// or https:// URL");
        goto fail;
    }
    if (t->format == NULL || strcmp(t->format, "blikveld") == 0) {
        w->am = 0;
    } else if (strcmp(t->format, "alertmanager") == 0) {
        w->am = 1;
    } else {
        snprintf(err, errlen, "webhook: format is blikveld or alertmanager");
        goto fail;
    }
    w->http = bv_http_new(env);
    w->url = strdup(t->webhook);
    w->base.label = bv_http_url_label("webhook", t->webhook, 1);
    w->headers = calloc(t->headers_env.n + 1, sizeof *w->headers);
    if (w->http == NULL || w->url == NULL || w->base.label == NULL || w->headers == NULL) {
        snprintf(err, errlen,
                 w->http == NULL && (env == NULL || env->curl == NULL)
                     ? "webhook: needs the event loop"
                     : "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < t->headers_env.n; i++) {
        const char *name = t->headers_env.keys[i];
        char what[96];
        snprintf(what, sizeof what, "webhook header %s", name);
        if (!bv_http_header_ok(name, "") || reserved_header(name)) {
            snprintf(err, errlen, "webhook: headers_env: %s is %s", name,
                     reserved_header(name) ? "set by blikveld" : "not a header name");
            goto fail;
        }
        char *v = bv_http_env_secret(what, t->headers_env.vals[i], err, errlen);
        if (v == NULL) {
            goto fail;
        }
        if (!bv_http_header_ok(name, v)) {
            snprintf(err, errlen,
                     "webhook header %s: environment variable %s holds a control character", name,
                     t->headers_env.vals[i]);
            bv_http_secret_free(v);
            goto fail;
        }
        size_t n = strlen(name) + strlen(v) + 3;
        char *line = malloc(n);
        if (line == NULL) {
            snprintf(err, errlen, "out of memory");
            bv_http_secret_free(v);
            goto fail;
        }
        snprintf(line, n, "%s: %s", name, v);
        bv_http_secret_free(v);
        w->headers[w->nheaders++] = line;
    }
    return &w->base;
fail:
    webhook_free(&w->base);
    return NULL;
}
