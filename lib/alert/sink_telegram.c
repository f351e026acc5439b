/* sink_telegram.c: the Telegram sink: the short text of each message sent to one chat through
 * the Bot API's sendMessage. The bot token is read from the environment when the sink is made;
 * it sits only in the request URL the sink owns (wiped when freed) and never in a label, a log
 * line or a reason (the label is "telegram chat CHAT_ID").
 *
 * Request: POST API/botTOKEN/sendMessage (API: https://api.telegram.org unless configured),
 * Content-Type: application/json, User-Agent: blikveld, body
 *   {"chat_id":"CHAT_ID","text":SHORT,"disable_web_page_preview":true}
 * SHORT: the short human text (render.h, at most 4000 bytes, in the configured language), sent as
 * plain text (no parse_mode: nothing in it is read as markup). chat_id goes as a string, which
 * the Bot API takes for numeric ids ("-1001234567890") and @channel names alike.
 * The reply: {"ok":true,...} is delivered; {"ok":false,"error_code":429,
 * "parameters":{"retry_after":N}} and 5xx are retried; any other error fails with Telegram's
 * description ("HTTP 400: Bad Request: chat not found"); see bv_telegram_reply_classify. */
#include "alert/sink_http.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define TELEGRAM_TEXT_MAX 4000
#define TELEGRAM_API_DEFAULT "https://api.telegram.org"
#define REPLY_MAX_DEPTH 32

typedef struct telegram_sink {
    bv_sink base;
    bv_http *http;
    char *url;   /* API/botTOKEN/sendMessage: a secret */
    char *token; /* to keep it out of reasons */
    char *chat_id;
} telegram_sink;

bv_sink_result bv_telegram_reply_classify(long status, const char *body, size_t len,
                                          const char *token, char *reason, size_t reasonlen)
{
    bv_sink_result r = bv_http_classify(status);
    bv_http_status_reason(status, reason, reasonlen);
    if (len == 0 || len > BV_HTTP_BODY_MAX || !bv_json_depth_ok(body, len, REPLY_MAX_DEPTH)) {
        return r;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return r;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    yajl_val root = yajl_tree_parse(copy, NULL, 0);
    free(copy);
    static const char *okp[] = {"ok", NULL}, *codep[] = {"error_code", NULL},
                      *descp[] = {"description", NULL},
                      *rap[] = {"parameters", "retry_after", NULL};
    yajl_val ok = root && YAJL_IS_OBJECT(root) ? yajl_tree_get(root, okp, yajl_t_any) : NULL;
    if (ok == NULL || !(YAJL_IS_TRUE(ok) || YAJL_IS_FALSE(ok))) {
        yajl_tree_free(root);
        return r;
    }
    if (YAJL_IS_TRUE(ok)) {
        yajl_tree_free(root);
        return r; /* by its status: 2xx is delivered */
    }
    yajl_val code = yajl_tree_get(root, codep, yajl_t_number);
    yajl_val desc = yajl_tree_get(root, descp, yajl_t_string);
    yajl_val ra = yajl_tree_get(root, rap, yajl_t_number);
    long long c = code && YAJL_IS_INTEGER(code) ? YAJL_GET_INTEGER(code) : 0;
    long long after = ra && YAJL_IS_INTEGER(ra) ? YAJL_GET_INTEGER(ra) : -1;
    if (c == 429 || status == 429) {
        r = BV_SINK_RETRY;
        if (after >= 0 && after <= 86400) {
            snprintf(reason, reasonlen, "HTTP %ld: retry after %llds", status, after);
        } else {
            snprintf(reason, reasonlen, "HTTP %ld: too many requests", status);
        }
        yajl_tree_free(root);
        return r;
    }
    r = (c >= 500 && c <= 599) || c == 408 || bv_http_classify(status) == BV_SINK_RETRY
            ? BV_SINK_RETRY
            : BV_SINK_FAIL;
    const char *d = desc ? YAJL_GET_STRING(desc) : NULL;
    char ex[96];
    bv_http_excerpt(d ? d : "", d ? strlen(d) : 0, ex, sizeof ex);
    if (token && *token && d && strstr(d, token)) {
        ex[0] = '\0';
    }
    if (ex[0]) {
        snprintf(reason, reasonlen, "HTTP %ld: %s", status, ex);
    }
    yajl_tree_free(root);
    return r;
}

static void on_reply(void *ctx, const bv_http_resp *r, bv_sink_done_cb *done, void *arg)
{
    telegram_sink *t = ctx;
    if (r->transport) {
        done(arg, r->result, r->reason);
        return;
    }
    char reason[128];
    bv_sink_result res =
        bv_telegram_reply_classify(r->status, r->body, r->len, t->token, reason, sizeof reason);
    done(arg, res, reason);
}

static int telegram_deliver(bv_sink *s, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    telegram_sink *t = (telegram_sink *)s;
    if (m->kind != BV_MSG_HEARTBEAT && m->nalerts == 0) {
        return BV_EINVAL;
    }
    bv_render_opts o;
    bv_http_render_opts(s->env, &o);
    bv_buf text = BV_BUF_INIT, body = BV_BUF_INIT;
    int rc = bv_render_short(m, &o, TELEGRAM_TEXT_MAX, &text);
    if (rc == BV_OK) {
        bv_buf_puts(&body, "{\"chat_id\":");
        bv_http_json_str(&body, t->chat_id);
        bv_buf_puts(&body, ",\"text\":");
        bv_http_json_str(&body, text.p ? text.p : "");
        bv_buf_puts(&body, ",\"disable_web_page_preview\":true}");
        rc = body.p ? BV_OK : BV_ENOMEM;
    }
    if (rc == BV_OK) {
        bv_http_req rq = {.method = "POST",
                          .url = t->url,
                          .content_type = "application/json",
                          .body = body.p,
                          .len = body.len};
        rc = bv_http_send(t->http, &rq, on_reply, t, done, arg);
    }
    bv_buf_free(&text);
    bv_buf_free(&body);
    return rc;
}

static void telegram_free(bv_sink *s)
{
    telegram_sink *t = (telegram_sink *)s;
    bv_http_free(t->http);
    bv_http_secret_free(t->url);
    bv_http_secret_free(t->token);
    free(t->chat_id);
    free(s->label);
    free(t);
}

static const bv_sink_ops telegram_ops = {"telegram", NULL, telegram_deliver, telegram_free};

/* A bot token is "DIGITS:LETTERS" ([A-Za-z0-9_-]): nothing that changes the URL's path. */
static int token_ok(const char *s)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s) {
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == ':')) {
            return 0;
        }
    }
    return 1;
}

/* A chat is a number (-1001234567890) or @channelname. */
static int chat_ok(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64) {
        return 0;
    }
    if (*s == '@') {
        for (const char *p = s + 1; *p; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_')) {
                return 0;
            }
        }
        return s[1] != '\0';
    }
    const char *p = *s == '-' ? s + 1 : s;
    if (*p == '\0') {
        return 0;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
    }
    return 1;
}

bv_sink *bv_sink_telegram_new(const bv_sink_env *env, const bv_telegram_conf *c, char *err,
                              size_t errlen)
{
    telegram_sink *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->base.ops = &telegram_ops;
    t->base.env = env;
    const char *api = c->api && *c->api ? c->api : TELEGRAM_API_DEFAULT;
    if (!chat_ok(c->chat_id)) {
        snprintf(err, errlen, "telegram: chat_id is a number (-1001234567890) or @channel");
        goto fail;
    }
    if (!bv_http_url_ok(api)) {
        snprintf(err, errlen, "telegram: api is not an http:// or https:// URL");
        goto fail;
    }
    t->token = bv_http_env_secret("telegram token_env", c->token_env, err, errlen);
    if (t->token == NULL) {
        goto fail;
    }
    if (!token_ok(t->token)) {
        snprintf(err, errlen, "telegram: environment variable %s holds no bot token", c->token_env);
        goto fail;
    }
    size_t alen = strlen(api);
    while (alen > 0 && api[alen - 1] == '/') {
        alen--;
    }
    bv_buf u = BV_BUF_INIT;
    bv_buf_append(&u, api, alen);
    bv_buf_printf(&u, "/bot%s/sendMessage", t->token);
    t->url = bv_buf_steal(&u);
    t->chat_id = strdup(c->chat_id);
    t->http = bv_http_new(env);
    size_t ln = strlen(c->chat_id) + 16;
    t->base.label = malloc(ln);
    if (t->url == NULL || t->chat_id == NULL || t->http == NULL || t->base.label == NULL) {
        snprintf(err, errlen, "%s",
                 env == NULL || env->curl == NULL ? "telegram: needs the event loop"
                                                  : "out of memory");
        goto fail;
    }
    snprintf(t->base.label, ln, "telegram chat %s", c->chat_id);
    return &t->base;
fail:
    telegram_free(&t->base);
    return NULL;
}
