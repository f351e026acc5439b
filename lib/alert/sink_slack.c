/* sink_slack.c: the Slack / Mattermost incoming-webhook sink: the short text of each message
 * POSTed to the hook's URL. The URL is the hook's secret (its path is the token): the sink owns a
 * copy, wiped when it is freed, and its label shows only the scheme and host.
 *
 * Request: POST URL, Content-Type: application/json, User-Agent: blikveld, body
 *   {"text":SHORT}
 * SHORT: the short human text (render.h, at most 3000 bytes, in the configured language; a
 * heartbeat says blikveld runs). Both Slack and Mattermost answer 200 "ok". 2xx is delivered;
 * 408, 429, 5xx and no answer are retried; any other status fails. The reason carries the word
 * the service answered when it is one lower-case word (Slack: "HTTP 400 invalid_payload",
 * "HTTP 404 no_service", "HTTP 410 channel_is_archived", "HTTP 500 rollup_error"); any other
 * reply body is left out of it. */
#include "alert/sink_http.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

#define SLACK_TEXT_MAX 3000

typedef struct slack_sink {
    bv_sink base;
    bv_http *http;
    char *url; /* a secret */
} slack_sink;

/* Slack's error bodies are one lower-case word ("invalid_payload"): kept in the reason. */
static int error_word(const char *s, size_t len)
{
    if (len == 0 || len > 40) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) {
            return 0;
        }
    }
    return 1;
}

static void on_reply(void *ctx, const bv_http_resp *r, bv_sink_done_cb *done, void *arg)
{
    (void)ctx;
    if (r->transport || r->result == BV_SINK_OK || !error_word(r->body, r->len)) {
        done(arg, r->result, r->reason);
        return;
    }
    char reason[96];
    snprintf(reason, sizeof reason, "%s %.*s", r->reason, (int)r->len, r->body);
    done(arg, r->result, reason);
}

static int slack_deliver(bv_sink *s, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    slack_sink *k = (slack_sink *)s;
    if (m->kind != BV_MSG_HEARTBEAT && m->nalerts == 0) {
        return BV_EINVAL;
    }
    bv_render_opts o;
    bv_http_render_opts(s->env, &o);
    bv_buf text = BV_BUF_INIT, body = BV_BUF_INIT;
    int rc = bv_render_short(m, &o, SLACK_TEXT_MAX, &text);
    if (rc == BV_OK) {
        bv_buf_puts(&body, "{\"text\":");
        bv_http_json_str(&body, text.p ? text.p : "");
        bv_buf_putc(&body, '}');
        rc = body.p ? BV_OK : BV_ENOMEM;
    }
    if (rc == BV_OK) {
        bv_http_req rq = {.method = "POST",
                          .url = k->url,
                          .content_type = "application/json",
                          .body = body.p,
                          .len = body.len};
        rc = bv_http_send(k->http, &rq, on_reply, k, done, arg);
    }
    bv_buf_free(&text);
    bv_buf_free(&body);
    return rc;
}

static void slack_free(bv_sink *s)
{
    slack_sink *k = (slack_sink *)s;
    bv_http_free(k->http);
    bv_http_secret_free(k->url);
    free(s->label);
    free(k);
}

static const bv_sink_ops slack_ops = {"slack", NULL, slack_deliver, slack_free};

bv_sink *bv_sink_slack_new(const bv_sink_env *env, const char *url, char *err, size_t errlen)
{
    slack_sink *k = calloc(1, sizeof *k);
    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->base.ops = &slack_ops;
    k->base.env = env;
    if (!bv_http_url_ok(url)) {
        snprintf(err, errlen, "slack: not an http:// or https:// URL");
        goto fail;
    }
    k->http = bv_http_new(env);
    k->url = strdup(url);
    k->base.label = bv_http_url_label("slack", url, 0);
    if (k->http == NULL || k->url == NULL || k->base.label == NULL) {
        snprintf(err, errlen, "%s",
                 env == NULL || env->curl == NULL ? "slack: needs the event loop"
                                                  : "out of memory");
        goto fail;
    }
    return &k->base;
fail:
    slack_free(&k->base);
    return NULL;
}
