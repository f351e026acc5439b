/* sink_sms.c: the SMS sink: the short text of each message sent through an HTTP gateway, one
 * request per number, built from a template. Owns its copy of the config and the gateway token
 * (read from the environment when it is made, wiped when freed), and the deliveries in flight.
 *
 * Per number in `to`, in parallel:
 *   POST (default): POST GATEWAY, Content-Type: CONTENT_TYPE, body: the template with {{to}} and
 *     {{text}} replaced, escaped for the content type: application/json (default) as the inside
 *     of a JSON string, application/x-www-form-urlencoded form-encoded (space as '+', every byte
 *     but letters, digits and -._* as %XX: '+' is %2B, '&' is %26, UTF-8 "ë" is %C3%AB).
 *     Default template: {"to":"{{to}}","text":"{{text}}"} for JSON, to={{to}}&text={{text}} for
 *     form encoding.
 *   GET: GET GATEWAY?QUERY (GATEWAY&QUERY when it has a query already), QUERY the template
 *     (default to={{to}}&text={{text}}) with the values form-encoded; no body.
 * Every request: User-Agent: blikveld, and Authorization: Bearer TOKEN when token_env is given.
 * TEXT: the short human text (render.h) cut to max_chars bytes (default 320) at a character
 * boundary.
 *
 * Outcome: delivered when every number's request answered 2xx. Retried when any number's failed
 * in a way that may pass (408, 429, 5xx, no answer), even if another number's was refused;
 * failed when a number was refused for good (another 4xx, 3xx) and none may pass. The reason
 * names numbers by position, never by number: "number 2 of 2: HTTP 400". A retry sends the
 * message to every number again, those that had it included (a gateway gives no idempotency key
 * per number; the price is a duplicate SMS rather than a lost one). */
#include "alert/sink_http.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SMS_MAX_CHARS_DEFAULT 320
#define SMS_TPL_JSON "{\"to\":\"{{to}}\",\"text\":\"{{text}}\"}"
#define SMS_TPL_FORM "to={{to}}&text={{text}}"

typedef enum sms_enc { ENC_JSON, ENC_FORM } sms_enc;

typedef struct sms_sink sms_sink;

/* One message on its way to every number. */
typedef struct sms_delivery {
    sms_sink *s;
    bv_sink_done_cb *done;
    void *arg;
    size_t total, left;
    size_t nretry, nfail;
    char retry_reason[96], fail_reason[96]; /* the first of each */
    struct sms_delivery *next, *prev;
} sms_delivery;

struct sms_sink {
    bv_sink base;
    bv_http *http;
    char *gateway;
    int get;
    sms_enc enc;
    char *content_type;
    char *tpl;
    char **to;
    size_t nto;
    char *auth; /* "Authorization: Bearer TOKEN" or NULL: a secret */
    size_t max_chars;
    sms_delivery *pending;
};

static void form_encode(bv_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '*') {
            bv_buf_putc(b, (char)c);
        } else if (c == ' ') {
            bv_buf_putc(b, '+');
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            bv_buf_append(b, e, 3);
        }
    }
}

/* The template with {{to}} and {{text}} replaced by their escaped values. */
static int expand(const char *tpl, const char *to, const char *text, sms_enc enc, bv_buf *out)
{
    const char *p = tpl;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (open == NULL) {
            bv_buf_puts(out, p);
            break;
        }
        bv_buf_append(out, p, (size_t)(open - p));
        const char *val = NULL;
        size_t skip = 2;
        if (strncmp(open, "{{to}}", 6) == 0) {
            val = to;
            skip = 6;
        } else if (strncmp(open, "{{text}}", 8) == 0) {
            val = text;
            skip = 8;
        }
        if (val == NULL) {
            bv_buf_append(out, open, 2); /* not a placeholder: kept as written */
        } else if (enc == ENC_JSON) {
            bv_buf_json_str(out, val, strlen(val));
        } else {
            form_encode(out, val);
        }
        p = open + skip;
    }
    return out->p ? BV_OK : BV_ENOMEM;
}

static void delivery_unlink(sms_delivery *d)
{
    sms_sink *s = d->s;
    if (d->prev) {
        d->prev->next = d->next;
    } else if (s) {
        s->pending = d->next;
    }
    if (d->next) {
        d->next->prev = d->prev;
    }
    d->next = d->prev = NULL;
}

/* Every number answered: one outcome for the message. */
static void delivery_finish(sms_delivery *d)
{
    delivery_unlink(d);
    char reason[256];
    bv_sink_result r;
    if (d->nretry) {
        r = BV_SINK_RETRY;
    } else if (d->nfail) {
        r = BV_SINK_FAIL;
    } else {
        r = BV_SINK_OK;
    }
    size_t bad = d->nretry + d->nfail;
    if (r == BV_SINK_OK) {
        snprintf(reason, sizeof reason, "sent to %zu number%s", d->total, d->total == 1 ? "" : "s");
    } else if (bad == 1) {
        snprintf(reason, sizeof reason, "%s", d->nretry ? d->retry_reason : d->fail_reason);
    } else {
        snprintf(reason, sizeof reason, "%zu of %zu numbers failed; %s", bad, d->total,
                 d->nretry ? d->retry_reason : d->fail_reason);
    }
    bv_sink_done_cb *done = d->done;
    void *arg = d->arg;
    free(d);
    done(arg, r, reason);
}

static void note(sms_delivery *d, size_t i, bv_sink_result r, const char *why)
{
    if (r == BV_SINK_RETRY) {
        if (d->nretry++ == 0) {
            snprintf(d->retry_reason, sizeof d->retry_reason, "number %zu of %zu: %s", i + 1,
                     d->total, why);
        }
    } else if (r == BV_SINK_FAIL) {
        if (d->nfail++ == 0) {
            snprintf(d->fail_reason, sizeof d->fail_reason, "number %zu of %zu: %s", i + 1,
                     d->total, why);
        }
    }
}

static void on_reply(void *ctx, const bv_http_resp *r, bv_sink_done_cb *done, void *arg)
{
    (void)done;
    sms_delivery *d = ctx;
    note(d, (size_t)(uintptr_t)arg, r->result, r->reason);
    if (--d->left == 0) {
        delivery_finish(d);
    }
}

static int sms_deliver(bv_sink *sk, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    sms_sink *s = (sms_sink *)sk;
    if (m->kind != BV_MSG_HEARTBEAT && m->nalerts == 0) {
        return BV_EINVAL;
    }
    bv_render_opts o;
    bv_http_render_opts(sk->env, &o);
    bv_buf text = BV_BUF_INIT, req = BV_BUF_INIT;
    int rc = bv_render_short(m, &o, s->max_chars, &text);
    sms_delivery *d = rc == BV_OK ? calloc(1, sizeof *d) : NULL;
    if (rc == BV_OK && d == NULL) {
        rc = BV_ENOMEM;
    }
    if (rc != BV_OK) {
        bv_buf_free(&text);
        return rc;
    }
    d->s = s;
    d->done = done;
    d->arg = arg;
    d->total = d->left = s->nto;
    const char *hdr[1] = {s->auth};
    size_t started = 0;
    for (size_t i = 0; i < s->nto; i++) {
        bv_buf_reset(&req);
        bv_http_req rq = {.headers = hdr, .nheaders = s->auth ? 1 : 0};
        if (s->get) {
            size_t gl = strlen(s->gateway);
            bv_buf_puts(&req, s->gateway);
            if (strchr(s->gateway, '?') == NULL) {
                bv_buf_putc(&req, '?');
            } else if (gl && s->gateway[gl - 1] != '?' && s->gateway[gl - 1] != '&') {
                bv_buf_putc(&req, '&');
            }
            rc = expand(s->tpl, s->to[i], text.p ? text.p : "", ENC_FORM, &req);
            rq.method = "GET";
            rq.url = req.p;
        } else {
            rc = expand(s->tpl, s->to[i], text.p ? text.p : "", s->enc, &req);
            rq.method = "POST";
            rq.url = s->gateway;
            rq.content_type = s->content_type;
            rq.body = req.p;
            rq.len = req.len;
        }
        if (rc == BV_OK) {
            rc = bv_http_send(s->http, &rq, on_reply, d, NULL, (void *)(uintptr_t)i);
        }
        if (rc != BV_OK) {
            break;
        }
        started++;
    }
    bv_buf_free(&text);
    bv_buf_free(&req);
    if (started == 0) {
        free(d);
        return rc;
    }
    if (started < s->nto) {
        /* what could not start is retried with the rest; done comes when the others end */
        note(d, started, BV_SINK_RETRY, "not sent");
        d->left -= s->nto - started;
    }
    d->next = s->pending;
    if (s->pending) {
        s->pending->prev = d;
    }
    s->pending = d;
    return BV_OK;
}

static void sms_free(bv_sink *sk)
{
    sms_sink *s = (sms_sink *)sk;
    bv_http_free(s->http); /* no reply comes after this */
    while (s->pending) {
        sms_delivery *d = s->pending;
        delivery_unlink(d);
        free(d);
    }
    free(s->gateway);
    free(s->content_type);
    free(s->tpl);
    for (size_t i = 0; i < s->nto; i++) {
        free(s->to[i]);
    }
    free(s->to);
    bv_http_secret_free(s->auth);
    free(sk->label);
    free(s);
}

static const bv_sink_ops sms_ops = {"sms", NULL, sms_deliver, sms_free};

/* +31612345678: an optional '+' and 3 to 20 digits. */
static int number_ok(const char *s)
{
    size_t n = 0;
    for (const char *p = *s == '+' ? s + 1 : s; *p; p++, n++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
    }
    return n >= 3 && n <= 20;
}

bv_sink *bv_sink_sms_new(const bv_sink_env *env, const bv_sms_conf *c, char *err, size_t errlen)
{
    sms_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &sms_ops;
    s->base.env = env;
    if (!bv_http_url_ok(c->gateway)) {
        snprintf(err, errlen, "sms: gateway is not an http:// or https:// URL");
        goto fail;
    }
    if (c->method == NULL || strcasecmp(c->method, "POST") == 0) {
        s->get = 0;
    } else if (strcasecmp(c->method, "GET") == 0) {
        s->get = 1;
    } else {
        snprintf(err, errlen, "sms: method is POST or GET");
        goto fail;
    }
    const char *ct = c->content_type ? c->content_type : "application/json";
    if (strncasecmp(ct, "application/json", 16) == 0) {
        s->enc = ENC_JSON;
    } else if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        s->enc = ENC_FORM;
    } else if (!s->get) {
        snprintf(err, errlen,
                 "sms: content_type is application/json or application/x-www-form-urlencoded");
        goto fail;
    }
    if (s->get) {
        s->enc = ENC_FORM;
    }
    if (!bv_http_header_ok("Content-Type", ct)) {
        snprintf(err, errlen, "sms: content_type holds a control character");
        goto fail;
    }
    if (c->to.n == 0) {
        snprintf(err, errlen, "sms: to names no number");
        goto fail;
    }
    s->to = calloc(c->to.n, sizeof *s->to);
    if (s->to == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < c->to.n; i++) {
        if (!number_ok(c->to.v[i])) {
            snprintf(err, errlen, "sms: to: item %zu is not a phone number like +31612345678",
                     i + 1);
            goto fail;
        }
        s->to[i] = strdup(c->to.v[i]);
        if (s->to[i] == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        s->nto++;
    }
    if (c->token_env) {
        char *tok = bv_http_env_secret("sms token_env", c->token_env, err, errlen);
        if (tok == NULL) {
            goto fail;
        }
        if (!bv_http_header_ok("Authorization", tok)) {
            snprintf(err, errlen, "sms: environment variable %s holds a control character",
                     c->token_env);
            bv_http_secret_free(tok);
            goto fail;
        }
        size_t n = strlen(tok) + 32;
        s->auth = malloc(n);
        if (s->auth) {
            snprintf(s->auth, n, "Authorization: Bearer %s", tok);
        }
        bv_http_secret_free(tok);
    }
    s->max_chars = c->max_chars > 0 ? (size_t)c->max_chars : SMS_MAX_CHARS_DEFAULT;
    s->gateway = strdup(c->gateway);
    s->content_type = strdup(ct);
    s->tpl = strdup(c->body ? c->body : (s->enc == ENC_JSON ? SMS_TPL_JSON : SMS_TPL_FORM));
    s->http = bv_http_new(env);
    char *gw = bv_http_url_label("sms", c->gateway, 1);
    if (gw) {
        bv_buf l = BV_BUF_INIT;
        bv_buf_printf(&l, "%s (%zu number%s)", gw, s->nto, s->nto == 1 ? "" : "s");
        s->base.label = bv_buf_steal(&l);
        free(gw);
    }
    if ((c->token_env && s->auth == NULL) || s->gateway == NULL || s->content_type == NULL ||
        s->tpl == NULL || s->http == NULL || s->base.label == NULL) {
        snprintf(err, errlen, "%s",
                 env == NULL || env->curl == NULL ? "sms: needs the event loop" : "out of memory");
        goto fail;
    }
    return &s->base;
fail:
    sms_free(&s->base);
    return NULL;
}
