/* sink_alertmanager.c: the Alertmanager sink: alerts POSTed to Alertmanager's v2 API, as
 * Prometheus does, so Alertmanager's routing, silences and receivers take them from there. The
 * heartbeat carries the always-firing Watchdog alert and repeats the alerts firing now, so
 * Alertmanager neither misses blikveld nor resolves its alerts by itself. Owns its URL.
 *
 * Request: POST BASE/api/v2/alerts, Content-Type: application/json, User-Agent: blikveld, body a
 * JSON array of postable alerts, one per alert of the message:
 *   {"labels":{"alertname":RULE,"rule":RULE,"event":E,"severity":SEV,"blikveld_id":ID
 *              [,"drill":"true"][,"health":"true"]},
 *    "annotations":{"title":TITLE,"summary":SHORT[,"console":CONSOLE_URL/alerts/ID]},
 *    "startsAt":T,"endsAt":T[,"generatorURL":CONSOLE_URL/alerts/ID]}
 * SHORT: the alert's short human text (render.h, at most 1000 bytes). Firing: startsAt when it
 * fired, endsAt the send time plus 4 x the heartbeat interval (every_ms, 1m when 0): Alertmanager
 * resolves it by itself when blikveld stops repeating it. Resolved: startsAt when it fired
 * (fired_at), endsAt when it resolved. drill "true" only for drills, health "true" only for
 * alerts about blikveld itself; generatorURL and console only with a console_url.
 * A heartbeat: the Watchdog, {"labels":{"alertname":"Watchdog","event":E,"severity":"none"
 * [,"drill":"true"]},"annotations":{"title":"Watchdog","summary":SHORT},"startsAt":NOW,
 * "endsAt":NOW + 4 x every}, followed by every firing alert of the message as above.
 * Alertmanager answers 200 (delivered); 400 (a label it refuses) fails with its words; 5xx and
 * no answer are retried. */
#include "alert/sink_http.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define AM_TEXT_MAX 1000
#define AM_EVERY_DEFAULT_MS 60000

typedef struct am_sink {
    bv_sink base;
    bv_http *http;
    char *url; /* BASE/api/v2/alerts */
} am_sink;

static void one_alert(am_sink *s, const bv_message *m, size_t i, int64_t ends, bv_buf *b)
{
    const bv_alert *a = m->alerts[i];
    bv_render_opts o;
    bv_http_render_opts(s->base.env, &o);
    bv_am_pair p[BV_AM_MAX_PAIRS];
    bv_buf_puts(b, "{\"labels\":");
    bv_am_object(b, p, bv_am_labels(m, a, p));
    bv_message one;
    bv_am_single(m, i, &one);
    bv_buf text = BV_BUF_INIT, link = BV_BUF_INIT;
    bv_render_short(&one, &o, AM_TEXT_MAX, &text);
    int has_link = bv_am_console_link(s->base.env, a, &link) && link.p;
    size_t n = 0;
    p[n++] = (bv_am_pair){"title", a->rule->title ? a->rule->title : a->rule->id};
    p[n++] = (bv_am_pair){"summary", text.p ? text.p : ""};
    if (has_link) {
        p[n++] = (bv_am_pair){"console", link.p};
    }
    bv_buf_puts(b, ",\"annotations\":");
    bv_am_object(b, p, n);
    char t[BV_TIME_ISO_LEN];
    int resolved = a->state == BV_ALERT_RESOLVED;
    int64_t start = resolved && a->since_ms ? a->since_ms : a->at_ms;
    bv_buf_printf(b, ",\"startsAt\":\"%s\"", bv_time_format_iso8601(start, t));
    bv_buf_printf(b, ",\"endsAt\":\"%s\"", bv_time_format_iso8601(resolved ? a->at_ms : ends, t));
    if (has_link) {
        bv_buf_puts(b, ",\"generatorURL\":");
        bv_http_json_str(b, link.p);
    }
    bv_buf_putc(b, '}');
    bv_buf_free(&text);
    bv_buf_free(&link);
}

static int am_body(am_sink *s, const bv_message *m, bv_buf *b)
{
    int64_t every = m->every_ms > 0 ? m->every_ms : AM_EVERY_DEFAULT_MS;
    int64_t ends = m->now_ms + 4 * every;
    char t[BV_TIME_ISO_LEN];
    int first = 1;
    bv_buf_putc(b, '[');
    if (m->kind == BV_MSG_HEARTBEAT) {
        bv_render_opts o;
        bv_http_render_opts(s->base.env, &o);
        bv_am_pair p[BV_AM_MAX_PAIRS];
        bv_buf_puts(b, "{\"labels\":");
        bv_am_object(b, p, bv_am_watchdog_labels(m, p));
        bv_buf text = BV_BUF_INIT;
        int rc = bv_render_short(m, &o, AM_TEXT_MAX, &text);
        p[0] = (bv_am_pair){"title", "Watchdog"};
        p[1] = (bv_am_pair){"summary", text.p ? text.p : ""};
        bv_buf_puts(b, ",\"annotations\":");
        bv_am_object(b, p, 2);
        bv_buf_free(&text);
        if (rc != BV_OK) {
            return rc;
        }
        bv_buf_printf(b, ",\"startsAt\":\"%s\"", bv_time_format_iso8601(m->now_ms, t));
        bv_buf_printf(b, ",\"endsAt\":\"%s\"}", bv_time_format_iso8601(ends, t));
        first = 0;
    }
    for (size_t i = 0; i < m->nalerts; i++) {
        if (m->kind == BV_MSG_HEARTBEAT && m->alerts[i]->state != BV_ALERT_FIRING) {
            continue;
        }
        if (!first) {
            bv_buf_putc(b, ',');
        }
        first = 0;
        one_alert(s, m, i, ends, b);
    }
    bv_buf_putc(b, ']');
    return b->p ? BV_OK : BV_ENOMEM;
}

/* A refusal (400) says which label: Alertmanager's words, shortened. */
static void on_reply(void *ctx, const bv_http_resp *r, bv_sink_done_cb *done, void *arg)
{
    (void)ctx;
    if (r->transport || r->result != BV_SINK_FAIL || r->len == 0) {
        done(arg, r->result, r->reason);
        return;
    }
    char ex[96], reason[128];
    bv_http_excerpt(r->body, r->len, ex, sizeof ex);
    snprintf(reason, sizeof reason, "%s: %s", r->reason, ex);
    done(arg, r->result, reason);
}

static int am_deliver(bv_sink *sk, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    am_sink *s = (am_sink *)sk;
    if (m->kind != BV_MSG_HEARTBEAT && m->nalerts == 0) {
        return BV_EINVAL;
    }
    bv_buf body = BV_BUF_INIT;
    int rc = am_body(s, m, &body);
    if (rc == BV_OK) {
        bv_http_req rq = {.method = "POST",
                          .url = s->url,
                          .content_type = "application/json",
                          .body = body.p,
                          .len = body.len};
        rc = bv_http_send(s->http, &rq, on_reply, s, done, arg);
    }
    bv_buf_free(&body);
    return rc;
}

static void am_free(bv_sink *sk)
{
    am_sink *s = (am_sink *)sk;
    bv_http_free(s->http);
    free(s->url);
    free(sk->label);
    free(s);
}

static const bv_sink_ops am_ops = {"alertmanager", NULL, am_deliver, am_free};

bv_sink *bv_sink_alertmanager_new(const bv_sink_env *env, const char *base_url, char *err,
                                  size_t errlen)
{
    am_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &am_ops;
    s->base.env = env;
    if (!bv_http_url_ok(base_url) || strchr(base_url, '?') || strchr(base_url, '#')) {
        snprintf(err, errlen, "alertmanager: not an http:// or https:// URL without a query");
        goto fail;
    }
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/') {
        n--;
    }
    bv_buf u = BV_BUF_INIT;
    bv_buf_append(&u, base_url, n);
    bv_buf_puts(&u, "/api/v2/alerts");
    s->url = bv_buf_steal(&u);
    s->http = bv_http_new(env);
    s->base.label = bv_http_url_label("alertmanager", base_url, 1);
    if (s->url == NULL || s->http == NULL || s->base.label == NULL) {
        snprintf(err, errlen, "%s",
                 env == NULL || env->curl == NULL ? "alertmanager: needs the event loop"
                                                  : "out of memory");
        goto fail;
    }
    return &s->base;
fail:
    am_free(&s->base);
    return NULL;
}
