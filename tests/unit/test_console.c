/* test_console.c: the console server (lib/console/console.h) in the test's own event loop on
 * 127.0.0.1 and a free port, driven by clients in the same loop (libevent's evhttp client, raw
 * bufferevent sockets for malformed input, a plain socket that never reads), with a fake clock,
 * a small rule set, a history and hooks that record their calls. The loop runs until a condition
 * holds, with a deadline; nothing sleeps (one wait of 1.5 s of real time: a keepalive that must
 * outlive the idle timeout).
 * Covered: the routes and their statuses (health, login with cookie attributes, bearer and
 * session access, 401/303/403/404/405, the security headers on every answer, no-store on the API,
 * ETag and 304 on assets, logout), the alerts (newest first by episode start, a resolved record
 * in place of its firing one with the firing evidence, eviction, acks through the hook and from
 * elsewhere), the rules (detectors, history points, silences, a new set keeping evaluations by
 * id), the feed (hello, alert, ack, rules, sources, reload, keepalive, the connection limit, an
 * idle feed outliving the idle timeout, a client that stops reading cut off while another keeps
 * its events, nothing left behind by a client that goes), reloads and audit reads (answered at
 * once and later, a client gone before the answer, role read, one at a time), the metrics
 * (families, grouping, label escaping), a console without a pipeline, garbage on the socket, the
 * open loopback console without tokens, HTTPS with a throwaway certificate, refused settings, and
 * a signal without evaluations. libevent's allocations are counted (event_set_mem_functions), so
 * a leak of its objects fails the plain build too, not only LeakSanitizer. */
#include "testutil.h"

#include "alert/alert.h"
#include "console/console.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "engine/rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define T0 1781287205000LL /* 2026-06-12T18:00:05Z */
#define MIN 60000LL
#define ACK_TOKEN "ack-token-0123456789abcdef"
#define READ_TOKEN "read-token-0123456789abcdef"
#define BEARER_ACK "Authorization: Bearer " ACK_TOKEN "\n"
#define BEARER_READ "Authorization: Bearer " READ_TOKEN "\n"
#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccc"
#define ID_D "dddddddddddddddddddddddddddddddd"
#define ID_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define ID_X "0123456789abcdef0123456789abcdef"

static const char rules_yaml[] =
    "rules:\n"
    "  - id: brand\n"
    "    title: Brand in de binnenstad\n"
    "    severity: critical\n"
    "    recipients: [police]\n"
    "    match: {keyword: brand}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 10m, bucket: 1m, count: 10}\n"
    "  - id: demo\n"
    "    title: Demonstratie\n"
    "    severity: warning\n"
    "    match: {keyword: demo}\n"
    "    detectors:\n"
    "      - {type: unique_authors, window: 30m, bucket: 1m, count: 25}\n"
    "      - {type: threshold, window: 5m, bucket: 1m, count: 3}\n";

/* the set after a reload: brand stays (a raised threshold), demo goes, nieuw comes */
static const char rules2_yaml[] = "rules:\n"
                                  "  - id: nieuw\n"
                                  "    match: {keyword: nieuw}\n"
                                  "    detectors:\n"
                                  "      - {type: threshold, window: 5m, bucket: 1m, count: 2}\n"
                                  "  - id: brand\n"
                                  "    title: Brand in de binnenstad\n"
                                  "    severity: critical\n"
                                  "    match: {keyword: brand}\n"
                                  "    detectors:\n"
                                  "      - {type: threshold, window: 10m, bucket: 1m, count: 12}\n";

/* and then: brand's detector of another type */
static const char rules3_yaml[] =
    "rules:\n"
    "  - id: brand\n"
    "    match: {keyword: brand}\n"
    "    detectors:\n"
    "      - {type: unique_authors, window: 10m, bucket: 1m, count: 5}\n";

/* ---- the loop with a deadline ---- */

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until cond holds or 5 s passed (a deadline for failures, never a wait). */
#define RUN_UNTIL(base, cond)                                                                      \
    do {                                                                                           \
        int expired_ = 0;                                                                          \
        struct timeval tv_ = {5, 0};                                                               \
        struct event *ev_ = evtimer_new((base), on_deadline, &expired_);                           \
        evtimer_add(ev_, &tv_);                                                                    \
        while (!(cond) && !expired_) {                                                             \
            event_base_loop((base), EVLOOP_ONCE);                                                  \
        }                                                                                          \
        event_free(ev_);                                                                           \
    } while (0)

#define WAIT(base, cond)                                                                           \
    do {                                                                                           \
        RUN_UNTIL(base, cond);                                                                     \
        assert_true(cond);                                                                         \
    } while (0)

/* ---- JSON ---- */

#define P(...) ((const char *[]){__VA_ARGS__, NULL})

static yajl_val parse(const char *s)
{
    char eb[256];
    yajl_val v = yajl_tree_parse(s, eb, sizeof eb);
    if (v == NULL) {
        fail_msg("not JSON (%s): %.400s", eb, s);
    }
    return v;
}

static yajl_val jget(yajl_val v, const char **path)
{
    yajl_val r = yajl_tree_get(v, path, yajl_t_any);
    if (r == NULL) {
        fail_msg("no field %s%s%s", path[0], path[1] ? "." : "", path[1] ? path[1] : "");
    }
    return r;
}

static int jhas(yajl_val v, const char **path)
{
    return yajl_tree_get(v, path, yajl_t_any) != NULL;
}

static const char *jstr(yajl_val v, const char **path)
{
    yajl_val r = jget(v, path);
    assert_true(YAJL_IS_STRING(r));
    return YAJL_GET_STRING(r);
}

static int64_t jint(yajl_val v, const char **path)
{
    yajl_val r = jget(v, path);
    assert_true(YAJL_IS_INTEGER(r));
    return (int64_t)YAJL_GET_INTEGER(r);
}

static double jdbl(yajl_val v, const char **path)
{
    yajl_val r = jget(v, path);
    assert_true(YAJL_IS_NUMBER(r));
    return YAJL_GET_DOUBLE(r);
}

static int jbool(yajl_val v, const char **path)
{
    yajl_val r = jget(v, path);
    assert_true(YAJL_IS_TRUE(r) || YAJL_IS_FALSE(r));
    return YAJL_IS_TRUE(r);
}

static int jnull(yajl_val v, const char **path)
{
    return YAJL_IS_NULL(jget(v, path));
}

static size_t jlen(yajl_val arr)
{
    assert_true(YAJL_IS_ARRAY(arr));
    return YAJL_GET_ARRAY(arr)->len;
}

static yajl_val jat(yajl_val arr, size_t i)
{
    assert_true(i < jlen(arr));
    return YAJL_GET_ARRAY(arr)->values[i];
}

/* ---- the hooks ---- */

typedef struct rec {
    bv_console_source src[4];
    size_t nsrc;
    uint64_t dropped;
    int acks;
    char ack_id[40], ack_rule[64], ack_by[64];
    int64_t ack_at;
    int ack_rc;          /* what the hook answers */
    const char *ack_err; /* with it */
    int reloads;
    char reload_by[64];
    int reload_later; /* 0: done at once; 1: kept for the test to call */
    int reload_ok;
    const char *reload_json;
    bv_console_reload_done *done;
    void *done_arg;
    int audits;
    char audit_event[64];
    int audit_rc;
    int audit_later; /* keep done for the test to call */
    bv_console_text_done *tdone;
    void *tdone_arg;
    int silences;
    char sil_rule[64], sil_by[64], sil_reason[1100];
    int sil_reason_null;
    int64_t sil_until, sil_at;
    int sil_rc;          /* what the hook answers */
    const char *sil_err; /* with it */
} rec;

static size_t h_sources(void *arg, bv_console_source *out, size_t max)
{
    rec *r = arg;
    for (size_t i = 0; i < r->nsrc && i < max; i++) {
        out[i] = r->src[i];
    }
    return r->nsrc;
}

static uint64_t h_dropped(void *arg)
{
    return ((rec *)arg)->dropped;
}

static int h_ack(void *arg, const char *id, const char *rule, const char *by, int64_t at_ms,
                 char *err, size_t errlen)
{
    rec *r = arg;
    r->acks++;
    snprintf(r->ack_id, sizeof r->ack_id, "%s", id);
    snprintf(r->ack_rule, sizeof r->ack_rule, "%s", rule);
    snprintf(r->ack_by, sizeof r->ack_by, "%s", by);
    r->ack_at = at_ms;
    if (r->ack_err) {
        snprintf(err, errlen, "%s", r->ack_err);
    }
    return r->ack_rc;
}

static void h_reload(void *arg, const char *by, bv_console_reload_done *done, void *done_arg)
{
    rec *r = arg;
    r->reloads++;
    snprintf(r->reload_by, sizeof r->reload_by, "%s", by);
    if (r->reload_later) {
        r->done = done;
        r->done_arg = done_arg;
    } else {
        done(done_arg, r->reload_ok, r->reload_json);
    }
}

static void h_audit(void *arg, const char *event, bv_console_text_done *done, void *done_arg)
{
    rec *r = arg;
    r->audits++;
    snprintf(r->audit_event, sizeof r->audit_event, "%s", event);
    if (r->audit_later) {
        r->tdone = done;
        r->tdone_arg = done_arg;
        return;
    }
    if (r->audit_rc) {
        char msg[128];
        snprintf(msg, sizeof msg, "no audit log for %s", event);
        done(done_arg, 0, msg, strlen(msg));
        return;
    }
    static const char text[] = "{\"kind\":\"ack\",\"id\":\"" ID_X "\"}\n"
                               "not json\n"
                               "\n"
                               "{\"torn\":\n"
                               "{\"kind\":\"reload\"}"; /* the last line without its newline */
    done(done_arg, 1, text, sizeof text - 1);
}

static int64_t h_silenced(void *arg, const char *rule, int64_t now_ms)
{
    rec *r = arg;
    if (r->silences && strcmp(rule, r->sil_rule) == 0) {
        return r->sil_until > now_ms ? r->sil_until : 0; /* what the last silence said */
    }
    return strcmp(rule, "brand") == 0 ? now_ms + 3600000 : 0;
}

static int h_silence(void *arg, const char *rule, int64_t until_ms, const char *by,
                     const char *reason, int64_t at_ms, char *err, size_t errlen)
{
    rec *r = arg;
    if (r->sil_rc) {
        snprintf(err, errlen, "%s", r->sil_err ? r->sil_err : "");
        return r->sil_rc;
    }
    r->silences++;
    snprintf(r->sil_rule, sizeof r->sil_rule, "%s", rule);
    snprintf(r->sil_by, sizeof r->sil_by, "%s", by);
    snprintf(r->sil_reason, sizeof r->sil_reason, "%s", reason ? reason : "");
    r->sil_reason_null = reason == NULL;
    r->sil_until = until_ms;
    r->sil_at = at_ms;
    return 0;
}

/* ---- the console under test ---- */

typedef struct fx {
    struct event_base *base;
    bv_fake_clock clock;
    bv_ruleset *rs;
    bv_history *hist;
    bv_auth_token tokens[2];
    bv_console_opts o;
    bv_console_hooks h;
    rec r;
    bv_console *c;
    char err[512];
    char host[64];   /* "127.0.0.1:PORT" */
    char origin[80]; /* "http://127.0.0.1:PORT" */
    SSL_CTX *cli;    /* HTTPS clients when set */
} fx;

static bv_ruleset *load(const char *yaml)
{
    bv_ruleset *rs = NULL;
    bv_diag diag;
    memset(&diag, 0, sizeof diag);
    assert_int_equal(bv_rules_load_buffer(&rs, "t.yaml", yaml, strlen(yaml), &diag), 0);
    return rs;
}

/* Options and hooks filled in; tests change them, then fx_start. */
static void fx_init(fx *f)
{
    memset(f, 0, sizeof *f);
    f->base = event_base_new();
    assert_non_null(f->base);
    bv_fake_clock_init(&f->clock, T0);
    f->rs = load(rules_yaml);
    f->hist = bv_history_new(f->rs, MIN, 6 * 3600000LL);
    assert_non_null(f->hist);
    f->tokens[0] = (bv_auth_token){"politie-oc", ACK_TOKEN, BV_ROLE_ACK};
    f->tokens[1] = (bv_auth_token){"kabinet", READ_TOKEN, BV_ROLE_READ};
    f->o.listen = "127.0.0.1:0";
    f->o.tokens = f->tokens;
    f->o.ntokens = 2;
    f->o.event = "koningsdag";
    f->o.lang = "en";
    f->o.version = "9.9.9-test";
    f->o.clock = &f->clock.clock;
    f->o.keepalive_ms = 60000;
    f->o.rules_ms = 60000;
    f->o.sources_ms = 60000;
    f->o.rules = f->rs;
    f->o.history = f->hist;
    f->r.src[0] = (bv_console_source){.name = "mastodon-nl",
                                      .platform = "mastodon",
                                      .state = "streaming",
                                      .posts = 120,
                                      .skipped = 3,
                                      .last_post_ms = T0 - 5000,
                                      .up = 1};
    f->r.nsrc = 1;
    f->r.reload_ok = 1;
    f->r.reload_json = "{\"ok\":true,\"rules\":2,\"kept\":2,\"changed\":0,\"added\":0,"
                       "\"removed\":0}";
    f->h = (bv_console_hooks){.arg = &f->r,
                              .sources = h_sources,
                              .dropped = h_dropped,
                              .ack = h_ack,
                              .reload = h_reload,
                              .audit = h_audit,
                              .silenced = h_silenced,
                              .silence = h_silence};
}

static void fx_start(fx *f)
{
    f->c = bv_console_new(f->base, &f->o, &f->h, f->err, sizeof f->err);
    if (f->c == NULL) {
        fail_msg("bv_console_new: %s", f->err);
    }
    assert_true(bv_console_port(f->c) > 0);
    snprintf(f->host, sizeof f->host, "127.0.0.1:%d", bv_console_port(f->c));
    snprintf(f->origin, sizeof f->origin, "%s://%s", f->cli ? "https" : "http", f->host);
}

static void fx_free(fx *f)
{
    bv_console_free(f->c);
    bv_history_free(f->hist);
    bv_rules_free(f->rs);
    if (f->cli) {
        SSL_CTX_free(f->cli);
    }
    event_base_free(f->base);
}

/* ---- an HTTP client (evhttp) ---- */

typedef struct resp resp;
struct resp {
    struct evhttp_connection *evcon;
    int got_headers, done, failed;
    int code;
    char *hn[48], *hv[48];
    size_t nh;
    bv_buf body;
    void (*on_data)(resp *r, const char *p, size_t n); /* NULL: into body */
};

static void resp_data(resp *r, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n == 0) {
        return;
    }
    char *p = malloc(n);
    assert_non_null(p);
    evbuffer_remove(in, p, n);
    if (r->on_data) {
        r->on_data(r, p, n);
    } else {
        bv_buf_append(&r->body, p, n);
    }
    free(p);
}

static int on_header(struct evhttp_request *req, void *arg)
{
    resp *r = arg;
    r->got_headers = 1;
    r->code = evhttp_request_get_response_code(req);
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
    {
        if (r->nh < 48) {
            r->hn[r->nh] = strdup(kv->key);
            r->hv[r->nh] = strdup(kv->value);
            r->nh++;
        }
    }
    return 0;
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
    resp_data(arg, req);
}

static void on_done(struct evhttp_request *req, void *arg)
{
    resp *r = arg;
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        r->failed = 1;
    } else {
        if (!r->got_headers) {
            on_header(req, r);
        }
        resp_data(r, req);
    }
    r->done = 1;
}

static void on_req_error(enum evhttp_request_error e, void *arg)
{
    (void)e;
    resp *r = arg;
    r->failed = 1;
    r->done = 1;
}

static struct evhttp_connection *fx_connect(fx *f)
{
    if (f->cli == NULL) {
        struct evhttp_connection *evcon = evhttp_connection_base_new(
            f->base, NULL, "127.0.0.1", (ev_uint16_t)bv_console_port(f->c));
        assert_non_null(evcon);
        return evcon;
    }
    SSL *ssl = SSL_new(f->cli);
    assert_non_null(ssl);
    assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1"), 1);
    struct bufferevent *bev =
        bufferevent_openssl_socket_new(f->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    assert_non_null(bev);
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    struct evhttp_connection *evcon = evhttp_connection_base_bufferevent_new(
        f->base, NULL, bev, "127.0.0.1", (ev_uint16_t)bv_console_port(f->c));
    assert_non_null(evcon);
    return evcon;
}

/* Sends a request; hdrs: "Name: value\n" lines (Host is added unless given). */
static void req_start(fx *f, resp *r, enum evhttp_cmd_type m, const char *path, const char *hdrs,
                      const char *body)
{
    void (*keep)(resp *, const char *, size_t) = r->on_data;
    memset(r, 0, sizeof *r);
    r->on_data = keep;
    r->evcon = fx_connect(f);
    struct evhttp_request *req = evhttp_request_new(on_done, r);
    assert_non_null(req);
    evhttp_request_set_header_cb(req, on_header);
    evhttp_request_set_chunked_cb(req, on_chunk);
    evhttp_request_set_error_cb(req, on_req_error);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    int host = 0;
    for (const char *p = hdrs; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[2048];
        assert_true(n < sizeof line);
        memcpy(line, p, n);
        line[n] = '\0';
        char *colon = strchr(line, ':');
        assert_non_null(colon);
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ') {
            v++;
        }
        host |= strcasecmp(line, "Host") == 0;
        evhttp_add_header(out, line, v);
        p = nl ? nl + 1 : p + n;
    }
    if (!host) {
        evhttp_add_header(out, "Host", f->host);
    }
    if (body) {
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    assert_int_equal(evhttp_make_request(r->evcon, req, m, path), 0);
}

static void resp_free(resp *r)
{
    if (r->evcon) {
        evhttp_connection_free(r->evcon);
    }
    for (size_t i = 0; i < r->nh; i++) {
        free(r->hn[i]);
        free(r->hv[i]);
    }
    bv_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

/* One request and its whole answer. */
static void http(fx *f, resp *r, enum evhttp_cmd_type m, const char *path, const char *hdrs,
                 const char *body)
{
    req_start(f, r, m, path, hdrs, body);
    WAIT(f->base, r->done);
    if (r->failed) {
        fail_msg("%s: no answer", path);
    }
    if (r->body.p == NULL) {
        bv_buf_puts(&r->body, "");
    }
}

static const char *hdr(const resp *r, const char *name)
{
    for (size_t i = 0; i < r->nh; i++) {
        if (strcasecmp(r->hn[i], name) == 0) {
            return r->hv[i];
        }
    }
    return NULL;
}

static void assert_hdr(const resp *r, const char *name, const char *want)
{
    const char *v = hdr(r, name);
    if (v == NULL) {
        fail_msg("no %s header (status %d)", name, r->code);
    }
    assert_string_equal(v, want);
}

/* The headers every answer carries. */
static void assert_secure(const resp *r)
{
    const char *csp = hdr(r, "Content-Security-Policy");
    if (csp == NULL) {
        fail_msg("no Content-Security-Policy (status %d)", r->code);
    }
    assert_string_equal(csp, "default-src 'none'; script-src 'self'; style-src 'self'; "
                             "img-src 'self'; connect-src 'self'; form-action 'self'; "
                             "frame-ancestors 'none'; base-uri 'none'");
    assert_hdr(r, "X-Content-Type-Options", "nosniff");
    assert_hdr(r, "Referrer-Policy", "no-referrer");
    assert_hdr(r, "X-Frame-Options", "DENY");
}

static void assert_api(const resp *r, int code)
{
    if (r->code != code) {
        fail_msg("status %d, not %d: %s", r->code, code, r->body.p ? r->body.p : "");
    }
    assert_secure(r);
    assert_hdr(r, "Cache-Control", "no-store");
    assert_hdr(r, "Content-Type", "application/json; charset=utf-8");
}

/* GET path and its JSON (status 200). */
static yajl_val get_json(fx *f, const char *path, const char *hdrs)
{
    resp r = {0};
    http(f, &r, EVHTTP_REQ_GET, path, hdrs, NULL);
    assert_api(&r, 200);
    yajl_val v = parse(r.body.p);
    resp_free(&r);
    return v;
}

/* A session cookie header line ("Cookie: bv_session=...\n") from a login. */
static void login(fx *f, const char *token, char *cookie, size_t len)
{
    resp r = {0};
    char body[128];
    snprintf(body, sizeof body, "token=%s", token);
    http(f, &r, EVHTTP_REQ_POST, "/login", "Content-Type: application/x-www-form-urlencoded\n",
         body);
    assert_int_equal(r.code, 303);
    assert_hdr(&r, "Location", "/");
    const char *sc = hdr(&r, "Set-Cookie");
    assert_non_null(sc);
    const char *semi = strchr(sc, ';');
    assert_non_null(semi);
    snprintf(cookie, len, "Cookie: %.*s\n", (int)(semi - sc), sc);
    resp_free(&r);
}

/* ---- the feed (SSE) client ---- */

#define FEED_KEEP 256

typedef struct feed {
    resp r; /* first: on_data gets it */
    bv_buf pend;
    char *name[FEED_KEEP], *data[FEED_KEEP];
    size_t n; /* events kept */
    size_t hello, alert, ack, rules, sources, reload, keepalive, other;
} feed;

static void feed_event(feed *fd, const char *p, size_t n)
{
    const char *name = NULL, *data = NULL;
    size_t nl_name = 0, nl_data = 0;
    int comment = 0;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n;
        const char *line = p + i;
        size_t ll = end - i;
        if (ll >= 7 && memcmp(line, "event: ", 7) == 0) {
            name = line + 7;
            nl_name = ll - 7;
        } else if (ll >= 6 && memcmp(line, "data: ", 6) == 0) {
            data = line + 6;
            nl_data = ll - 6;
        } else if (ll && line[0] == ':') {
            comment = 1;
        }
        i = end + 1;
    }
    if (name == NULL) {
        if (comment && n >= 11 && memcmp(p, ": keepalive", 11) == 0) {
            fd->keepalive++;
        } else if (!comment) {
            fd->other++;
        }
        return;
    }
    if (nl_name == 5 && memcmp(name, "hello", 5) == 0) {
        fd->hello++;
    } else if (nl_name == 5 && memcmp(name, "alert", 5) == 0) {
        fd->alert++;
    } else if (nl_name == 3 && memcmp(name, "ack", 3) == 0) {
        fd->ack++;
    } else if (nl_name == 5 && memcmp(name, "rules", 5) == 0) {
        fd->rules++;
    } else if (nl_name == 7 && memcmp(name, "sources", 7) == 0) {
        fd->sources++;
    } else if (nl_name == 6 && memcmp(name, "reload", 6) == 0) {
        fd->reload++;
    } else {
        fd->other++;
    }
    if (fd->n < FEED_KEEP) {
        fd->name[fd->n] = strndup(name, nl_name);
        fd->data[fd->n] = data ? strndup(data, nl_data) : strdup("");
        fd->n++;
    }
}

static void feed_data(resp *r, const char *p, size_t n)
{
    feed *fd = (feed *)r;
    bv_buf_append(&fd->pend, p, n);
    for (;;) {
        char *end = fd->pend.p ? strstr(fd->pend.p, "\n\n") : NULL;
        if (end == NULL) {
            break;
        }
        size_t len = (size_t)(end - fd->pend.p);
        feed_event(fd, fd->pend.p, len);
        bv_buf_consume(&fd->pend, len + 2);
    }
}

/* The data of the newest kept event of that name, or NULL. */
static const char *feed_last(const feed *fd, const char *name)
{
    for (size_t i = fd->n; i > 0; i--) {
        if (strcmp(fd->name[i - 1], name) == 0) {
            return fd->data[i - 1];
        }
    }
    return NULL;
}

static void feed_open(fx *f, feed *fd, const char *hdrs)
{
    memset(fd, 0, sizeof *fd);
    fd->r.on_data = feed_data;
    req_start(f, &fd->r, EVHTTP_REQ_GET, "/events", hdrs, NULL);
}

static void feed_close(feed *fd)
{
    resp_free(&fd->r);
    for (size_t i = 0; i < fd->n; i++) {
        free(fd->name[i]);
        free(fd->data[i]);
    }
    bv_buf_free(&fd->pend);
    memset(fd, 0, sizeof *fd);
}

/* ---- a raw socket client ---- */

typedef struct raw {
    struct bufferevent *bev;
    bv_buf in;
    int eof;
} raw;

static void raw_read(struct bufferevent *bev, void *arg)
{
    raw *w = arg;
    char buf[4096];
    size_t n;
    while ((n = bufferevent_read(bev, buf, sizeof buf)) > 0) {
        if (w->in.len < 1000000) {
            bv_buf_append(&w->in, buf, n);
        }
    }
}

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
    raw *w = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        raw_read(bev, arg);
        w->eof = 1;
    }
}

static void raw_open(fx *f, raw *w)
{
    memset(w, 0, sizeof *w);
    w->bev = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(w->bev);
    bufferevent_setcb(w->bev, raw_read, NULL, raw_event, w);
    bufferevent_enable(w->bev, EV_READ | EV_WRITE);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)bv_console_port(f->c))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bufferevent_socket_connect(w->bev, (struct sockaddr *)&sa, sizeof sa), 0);
}

static void raw_send(raw *w, const void *p, size_t n)
{
    assert_int_equal(bufferevent_write(w->bev, p, n), 0);
}

static void raw_close(raw *w)
{
    if (w->bev) {
        bufferevent_free(w->bev);
    }
    bv_buf_free(&w->in);
    memset(w, 0, sizeof *w);
}

/* Sends p and waits until the server closed the connection; returns what it answered. */
static void raw_exchange(fx *f, raw *w, const void *p, size_t n)
{
    raw_open(f, w);
    raw_send(w, p, n);
    WAIT(f->base, w->eof);
    if (w->in.p == NULL) {
        bv_buf_puts(&w->in, "");
    }
}

/* ---- alerts ---- */

/* An alert of rule i made as the book makes them: from a signal, with the rule's detectors
 * counting `count` (holding when firing) and, when excerpt is given, samples. A resolved one
 * says when its episode fired (since). */
static bv_alert *mk_alert(const bv_ruleset *rs, uint32_t i, bv_alert_state st, const char *id,
                          int64_t at, int64_t since, uint64_t count, const char *excerpt)
{
    const bv_rule *r = bv_rules_get(rs, i);
    assert_non_null(r);
    bv_det_eval ev[4];
    memset(ev, 0, sizeof ev);
    assert_true(r->ndetectors <= 4);
    for (size_t d = 0; d < r->ndetectors; d++) {
        ev[d].type = r->detectors[d].type;
        ev[d].window_ms = r->detectors[d].window_ms;
        ev[d].count = count;
        ev[d].authors = count;
        ev[d].threshold = r->detectors[d].count;
        ev[d].holds = st == BV_ALERT_FIRING;
        ev[d].warm = 1;
    }
    bv_sample sm[3];
    const bv_sample *smp[3];
    for (int k = 0; k < 3; k++) {
        sm[k] = (bv_sample){.platform = BV_PLATFORM_X,
                            .created_ms = at - 1000 * (k + 1),
                            .id = (char *)"9",
                            .url = (char *)"https://x.com/i/web/status/9",
                            .excerpt = (char *)excerpt};
        smp[k] = &sm[k];
    }
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.rule = i;
    s.spec = r;
    s.holds = st == BV_ALERT_FIRING;
    s.any_holds = s.holds;
    s.final = st == BV_ALERT_RESOLVED;
    s.at_ms = at;
    s.episode_ms = at - at % MIN;
    s.evals = ev;
    s.nevals = r->ndetectors;
    s.samples = excerpt ? smp : NULL;
    s.nsamples = excerpt ? 3 : 0;
    bv_alert *a = bv_alert_from_signal(&s, st, "koningsdag", 0, id);
    assert_non_null(a);
    if (st == BV_ALERT_RESOLVED) {
        a->since_ms = since;
    }
    return a;
}

static void push_alert(fx *f, uint32_t i, bv_alert_state st, const char *id, int64_t at,
                       int64_t since, uint64_t count, const char *excerpt)
{
    bv_alert *a = mk_alert(f->rs, i, st, id, at, since, count, excerpt);
    bv_console_alert(f->c, a);
    bv_alert_free(a);
}

/* A signal of rule i: every detector at `count` (and as many authors). */
static void signal_rule(fx *f, const bv_ruleset *rs, uint32_t i, int64_t at, uint64_t count,
                        int history)
{
    const bv_rule *r = bv_rules_get(rs, i);
    bv_det_eval ev[4];
    memset(ev, 0, sizeof ev);
    for (size_t d = 0; d < r->ndetectors; d++) {
        ev[d].type = r->detectors[d].type;
        ev[d].window_ms = r->detectors[d].window_ms;
        ev[d].count = count + d;
        ev[d].authors = count - 1;
        ev[d].threshold = r->detectors[d].count;
        ev[d].holds = ev[d].count >= ev[d].threshold;
        ev[d].warm = 1;
    }
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.rule = i;
    s.spec = r;
    s.holds = ev[0].holds;
    s.any_holds = s.holds;
    s.at_ms = at;
    s.episode_ms = at - at % MIN;
    s.evals = ev;
    s.nevals = r->ndetectors;
    bv_console_signal(f->c, &s);
    if (history) {
        bv_history_signal(f->hist, &s);
    }
}

static const char *iso(int64_t ms, char out[BV_TIME_ISO_LEN])
{
    return bv_time_format_iso8601(ms, out);
}

static void assert_healthy(fx *f)
{
    resp r = {0};
    http(f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.p, "ok\n");
    resp_free(&r);
}

/* libevent's allocations still live (its memory functions count them; set in main): what a
 * console leaves behind shows here in the plain build too, not only under LeakSanitizer */
static long ev_live;

static void *ev_malloc(size_t n)
{
    void *p = malloc(n);
    if (p) {
        ev_live++;
    }
    return p;
}

static void *ev_realloc(void *p, size_t n)
{
    if (p && n == 0) {
        free(p);
        ev_live--;
        return NULL;
    }
    void *q = realloc(p, n);
    if (q && p == NULL) {
        ev_live++;
    }
    return q;
}

static void ev_free(void *p)
{
    if (p) {
        ev_live--;
        free(p);
    }
}

/* ---- routes ---- */

static void test_health(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.p, "ok\n");
    assert_secure(&r);
    assert_hdr(&r, "Cache-Control", "no-store");
    resp_free(&r);

    /* a source down: 503, and the body says which and why */
    f.r.src[1] = (bv_console_source){
        .name = "bluesky", .platform = "bluesky", .state = "reconnecting", .up = 0};
    f.r.nsrc = 2;
    http(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    assert_int_equal(r.code, 503);
    assert_secure(&r);
    assert_non_null(strstr(r.body.p, "source bluesky: reconnecting"));
    assert_null(strstr(r.body.p, "mastodon-nl"));
    resp_free(&r);
    f.r.src[1].up = 1;
    http(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    assert_int_equal(r.code, 200);
    resp_free(&r);
    fx_free(&f);
}

static void test_login(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    resp r = {0};
    /* the login page */
    http(&f, &r, EVHTTP_REQ_GET, "/login", NULL, NULL);
    assert_int_equal(r.code, 200);
    assert_secure(&r);
    assert_hdr(&r, "Content-Type", "text/html; charset=utf-8");
    assert_non_null(strstr(r.body.p, "id=\"login\""));
    assert_non_null(strstr(r.body.p, "name=\"token\""));
    resp_free(&r);

    /* a good token: a session cookie with its attributes */
    http(&f, &r, EVHTTP_REQ_POST, "/login", "Content-Type: application/x-www-form-urlencoded\n",
         "token=" ACK_TOKEN);
    assert_int_equal(r.code, 303);
    assert_secure(&r);
    assert_hdr(&r, "Location", "/");
    const char *sc = hdr(&r, "Set-Cookie");
    assert_non_null(sc);
    assert_true(strncmp(sc, "bv_session=", 11) == 0);
    size_t sidlen = strcspn(sc + 11, ";");
    assert_int_equal(sidlen, BV_AUTH_SID_LEN);
    assert_int_equal(strspn(sc + 11, "0123456789abcdef"), BV_AUTH_SID_LEN);
    assert_non_null(strstr(sc, "; Path=/"));
    assert_non_null(strstr(sc, "; HttpOnly"));
    assert_non_null(strstr(sc, "; SameSite=Strict"));
    assert_null(strstr(sc, "Max-Age")); /* a session cookie: the server ends the session */
    assert_null(strstr(sc, "Secure;"));
    assert_false(strlen(sc) >= 8 && strcmp(sc + strlen(sc) - 8, "; Secure") == 0);
    char cookie[128];
    snprintf(cookie, sizeof cookie, "Cookie: theme=dark; %.*s\n", (int)(11 + sidlen), sc);
    resp_free(&r);

    /* the cookie opens the API and the page */
    yajl_val v = get_json(&f, "/api/me", cookie);
    assert_string_equal(jstr(v, P("name")), "politie-oc");
    assert_string_equal(jstr(v, P("role")), "ack");
    assert_string_equal(jstr(v, P("event")), "koningsdag");
    assert_string_equal(jstr(v, P("lang")), "en");
    assert_string_equal(jstr(v, P("version")), "9.9.9-test");
    assert_false(jbool(v, P("drill")));
    assert_true(jbool(v, P("auth")));
    yajl_tree_free(v);
    http(&f, &r, EVHTTP_REQ_GET, "/", cookie, NULL);
    assert_int_equal(r.code, 200);
    assert_secure(&r);
    assert_hdr(&r, "Content-Type", "text/html; charset=utf-8");
    assert_non_null(strstr(r.body.p, "app.js"));
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/alerts/" ID_X, cookie, NULL);
    assert_int_equal(r.code, 200);
    assert_hdr(&r, "Content-Type", "text/html; charset=utf-8");
    resp_free(&r);

    /* a wrong token, an empty one, no token field: back to the login page, no cookie */
    static const char *const bad[] = {"token=wrong-token-0123456789", "token=", "other=1",
                                      "token=%zz"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http(&f, &r, EVHTTP_REQ_POST, "/login", "Content-Type: application/x-www-form-urlencoded\n",
             bad[i]);
        assert_int_equal(r.code, 303);
        assert_hdr(&r, "Location", "/login?failed=1");
        assert_null(hdr(&r, "Set-Cookie"));
        assert_secure(&r);
        resp_free(&r);
    }
    /* a login posted from another site */
    http(&f, &r, EVHTTP_REQ_POST, "/login",
         "Content-Type: application/x-www-form-urlencoded\nOrigin: http://evil.example\n",
         "token=" ACK_TOKEN);
    assert_api(&r, 403);
    assert_null(hdr(&r, "Set-Cookie"));
    resp_free(&r);

    /* the read token's session */
    char rcookie[128];
    login(&f, READ_TOKEN, rcookie, sizeof rcookie);
    v = get_json(&f, "/api/me", rcookie);
    assert_string_equal(jstr(v, P("name")), "kabinet");
    assert_string_equal(jstr(v, P("role")), "read");
    yajl_tree_free(v);

    /* logout ends the session: the cookie no longer works, the browser is sent to /login */
    http(&f, &r, EVHTTP_REQ_POST, "/logout", cookie, NULL);
    assert_int_equal(r.code, 303);
    assert_hdr(&r, "Location", "/login");
    assert_non_null(strstr(hdr(&r, "Set-Cookie"), "Max-Age=0"));
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/api/me", cookie, NULL);
    assert_api(&r, 401);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/", cookie, NULL);
    assert_int_equal(r.code, 303);
    resp_free(&r);
    v = get_json(&f, "/api/me", rcookie); /* the other session lives on */
    yajl_tree_free(v);
    fx_free(&f);
}

/* The README's other HTTPS: a reverse proxy ends TLS and passes the Host on; the browser's
 * Origin then says https:// while the console speaks http. Its own host is no other origin. */
static void test_behind_tls_proxy(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_POST, "/login",
         "Origin: https://evil.example\nContent-Type: application/x-www-form-urlencoded\n",
         "token=" ACK_TOKEN);
    assert_api(&r, 403); /* another host stays refused */
    resp_free(&r);
    char hdrs[320];
    snprintf(hdrs, sizeof hdrs,
             "Origin: https://%s\nContent-Type: application/x-www-form-urlencoded\n", f.host);
    http(&f, &r, EVHTTP_REQ_POST, "/login", hdrs, "token=" ACK_TOKEN);
    int login = r.code;
    resp_free(&r);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0, 0, 12, NULL);
    snprintf(hdrs, sizeof hdrs, "%sOrigin: https://%s\n", BEARER_ACK, f.host);
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_A "/ack", hdrs, NULL);
    int ack = r.code;
    resp_free(&r);
    fx_free(&f);
    if (login != 303 || ack != 200) {
        fail_msg("behind a proxy that ends TLS (Origin https://HOST, Host HOST): login %d (not "
                 "303), ack %d (not 200): refused as cross-origin",
                 login, ack);
    }
}

static void test_access(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    resp r = {0};
    /* bearer tokens */
    yajl_val v = get_json(&f, "/api/me", BEARER_READ);
    assert_string_equal(jstr(v, P("name")), "kabinet");
    assert_string_equal(jstr(v, P("role")), "read");
    yajl_tree_free(v);
    v = get_json(&f, "/api/me", "Authorization: bearer   " ACK_TOKEN "\n");
    assert_string_equal(jstr(v, P("role")), "ack");
    yajl_tree_free(v);

    /* no token, a wrong one, a wrong cookie: 401 JSON with WWW-Authenticate */
    static const char *const none[] = {NULL, "Authorization: Bearer wrong-token-0123456789\n",
                                       "Authorization: Basic YTpi\n",
                                       "Cookie: bv_session=0123456789abcdef\n"};
    static const char *const apis[] = {"/api/me",  "/api/alerts", "/api/rules", "/api/sources",
                                       "/metrics", "/events",     "/api/audit", "/nope"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        for (size_t k = 0; k < sizeof apis / sizeof apis[0]; k++) {
            http(&f, &r, EVHTTP_REQ_GET, apis[k], none[i], NULL);
            assert_api(&r, 401);
            assert_hdr(&r, "WWW-Authenticate", "Bearer realm=\"blikveld\"");
            v = parse(r.body.p);
            assert_true(strlen(jstr(v, P("error"))) > 0);
            yajl_tree_free(v);
            resp_free(&r);
        }
    }
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_X "/ack", NULL, NULL);
    assert_api(&r, 401);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_READ "Cookie: a=b\n", NULL);
    assert_api(&r, 403);
    resp_free(&r);

    /* the page without a session: to the login page */
    static const char *const pages[] = {"/", "/index.html", "/alerts/" ID_X};
    for (size_t k = 0; k < 3; k++) {
        http(&f, &r, EVHTTP_REQ_GET, pages[k], NULL, NULL);
        assert_int_equal(r.code, 303);
        assert_hdr(&r, "Location", "/login");
        assert_secure(&r);
        resp_free(&r);
    }

    /* unknown paths: 404 JSON (after access) */
    static const char *const unknown[] = {"/nope", "/api/nope", "/api/alerts/" ID_X,
                                          "/login.html.bak", "/..%2f..%2fetc/passwd"};
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        http(&f, &r, EVHTTP_REQ_GET, unknown[k], BEARER_ACK, NULL);
        assert_api(&r, 404);
        resp_free(&r);
    }
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_X "/nack", BEARER_ACK, NULL);
    assert_api(&r, 404);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts//ack", BEARER_ACK, NULL);
    assert_api(&r, 404);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_POST,
         "/api/alerts/0123456789abcdef0123456789abcdef0123456789abcdef/ack", BEARER_ACK, NULL);
    assert_api(&r, 404);
    resp_free(&r);

    /* PUT, DELETE (and the other methods): 405 with Allow, with or without a token */
    enum evhttp_cmd_type ms[] = {EVHTTP_REQ_PUT, EVHTTP_REQ_DELETE, EVHTTP_REQ_PATCH,
                                 EVHTTP_REQ_OPTIONS};
    for (size_t k = 0; k < 4; k++) {
        http(&f, &r, ms[k], "/api/alerts", k % 2 ? BEARER_ACK : NULL, k == 0 ? "{}" : NULL);
        assert_api(&r, 405);
        assert_hdr(&r, "Allow", "GET, POST");
        resp_free(&r);
    }

    /* assets: public, ETag, no-cache, 304 for the same ETag */
    http(&f, &r, EVHTTP_REQ_GET, "/app.css", NULL, NULL);
    assert_int_equal(r.code, 200);
    assert_secure(&r);
    assert_hdr(&r, "Content-Type", "text/css; charset=utf-8");
    assert_hdr(&r, "Cache-Control", "no-cache");
    const char *etag = hdr(&r, "ETag");
    assert_non_null(etag);
    assert_int_equal(strlen(etag), 18);
    assert_true(etag[0] == '"' && etag[17] == '"');
    assert_true(r.body.len > 100);
    char inm[64];
    snprintf(inm, sizeof inm, "If-None-Match: %s\n", etag);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/app.css", inm, NULL);
    assert_int_equal(r.code, 304);
    assert_secure(&r);
    assert_int_equal(r.body.len, 0);
    assert_non_null(hdr(&r, "ETag"));
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/app.css", "If-None-Match: \"0000000000000000\"\n", NULL);
    assert_int_equal(r.code, 200);
    resp_free(&r);
    static const char *const pub[] = {"/login.js", "/favicon.svg", "/favicon.ico", "/app.js"};
    for (size_t k = 0; k < 4; k++) {
        http(&f, &r, EVHTTP_REQ_GET, pub[k], NULL, NULL);
        assert_int_equal(r.code, 200);
        assert_secure(&r);
        assert_non_null(hdr(&r, "ETag"));
        resp_free(&r);
    }

    /* the sources */
    v = get_json(&f, "/api/sources", BEARER_READ);
    yajl_val src = jget(v, P("sources"));
    assert_int_equal(jlen(src), 1);
    assert_string_equal(jstr(jat(src, 0), P("name")), "mastodon-nl");
    assert_string_equal(jstr(jat(src, 0), P("state")), "streaming");
    assert_int_equal(jint(jat(src, 0), P("posts")), 120);
    assert_int_equal(jint(jat(src, 0), P("last_post")), T0 - 5000);
    assert_true(jnull(jat(src, 0), P("last_error")));
    yajl_val nw = jget(v, P("not_watched"));
    assert_true(jlen(nw) >= 2);
    assert_non_null(strstr(jstr(jat(nw, 0), P("what")), "Facebook"));
    yajl_tree_free(v);
    fx_free(&f);
}

/* ---- alerts ---- */

static yajl_val alert_by_id(yajl_val list, const char *id)
{
    for (size_t i = 0; i < jlen(list); i++) {
        if (strcmp(jstr(jat(list, i), P("id")), id) == 0) {
            return jat(list, i);
        }
    }
    return NULL;
}

static void assert_order(fx *f, const char *const *ids, size_t n)
{
    yajl_val v = get_json(f, "/api/alerts", BEARER_READ);
    yajl_val list = jget(v, P("alerts"));
    if (jlen(list) != n) {
        fail_msg("%zu alerts, not %zu", jlen(list), n);
    }
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(jstr(jat(list, i), P("id")), ids[i]);
        assert_true(jhas(jat(list, i), P("ack")));
    }
    yajl_tree_free(v);
}

static void test_alerts(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.o.max_alerts = 4;
    fx_start(&f);
    yajl_val v = get_json(&f, "/api/alerts", BEARER_READ);
    assert_int_equal(jlen(jget(v, P("alerts"))), 0);
    yajl_tree_free(v);

    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0 - 10 * MIN, 0, 12, "Brand bij het station");
    push_alert(&f, 1, BV_ALERT_FIRING, ID_B, T0 - 1 * MIN, 0, 30, "Demo \"op\" de Dam\n<b>");
    push_alert(&f, 0, BV_ALERT_FIRING, ID_C, T0 - 5 * MIN, 0, 11, NULL);
    /* newest first by when the episode fired, not by arrival */
    assert_order(&f, (const char *[]){ID_B, ID_C, ID_A}, 3);
    /* the same start: the later arrival first */
    push_alert(&f, 1, BV_ALERT_FIRING, ID_D, T0 - 5 * MIN, 0, 26, NULL);
    assert_order(&f, (const char *[]){ID_B, ID_D, ID_C, ID_A}, 4);

    /* A resolves: in place, its firing evidence and samples, state and times of the resolve */
    push_alert(&f, 0, BV_ALERT_RESOLVED, ID_A, T0, T0 - 10 * MIN, 0, NULL);
    assert_order(&f, (const char *[]){ID_B, ID_D, ID_C, ID_A}, 4);
    v = get_json(&f, "/api/alerts", BEARER_READ);
    yajl_val list = jget(v, P("alerts"));
    char t[BV_TIME_ISO_LEN];
    yajl_val a = alert_by_id(list, ID_A);
    assert_non_null(a);
    assert_string_equal(jstr(a, P("type")), "alert");
    assert_string_equal(jstr(a, P("state")), "resolved");
    assert_string_equal(jstr(a, P("rule")), "brand");
    assert_string_equal(jstr(a, P("event")), "koningsdag");
    assert_string_equal(jstr(a, P("severity")), "critical");
    assert_string_equal(jstr(a, P("at")), iso(T0, t));
    assert_string_equal(jstr(a, P("fired_at")), iso(T0 - 10 * MIN, t));
    yajl_val det = jget(a, P("detectors"));
    assert_int_equal(jlen(det), 1);
    assert_int_equal(jint(jat(det, 0), P("count")), 12); /* what it fired with, not 0 */
    assert_true(jbool(jat(det, 0), P("holds")));
    yajl_val smp = jget(a, P("samples"));
    assert_int_equal(jlen(smp), 3);
    assert_string_equal(jstr(jat(smp, 0), P("excerpt")), "Brand bij het station");
    assert_true(jnull(a, P("ack")));
    yajl_val b = alert_by_id(list, ID_B);
    assert_string_equal(jstr(b, P("state")), "firing");
    assert_false(jhas(b, P("fired_at")));
    assert_string_equal(jstr(jat(jget(b, P("samples")), 0), P("excerpt")),
                        "Demo \"op\" de Dam\n<b>");
    assert_int_equal(jlen(jget(b, P("detectors"))), 2);
    for (size_t i = 0; i < jlen(list); i++) {
        assert_true(jnull(jat(list, i), P("ack")));
    }
    yajl_tree_free(v);

    /* a fifth: the oldest (A) goes */
    push_alert(&f, 1, BV_ALERT_FIRING, ID_E, T0 - 2 * MIN, 0, 27, NULL);
    assert_order(&f, (const char *[]){ID_B, ID_E, ID_D, ID_C}, 4);
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_A "/ack", BEARER_ACK, NULL);
    assert_api(&r, 404);
    resp_free(&r);
    /* one older than all kept: it takes the place of the oldest and is last */
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0 - 20 * MIN, 0, 12, NULL);
    assert_order(&f, (const char *[]){ID_B, ID_E, ID_D, ID_A}, 4);
    /* a new state of a kept one: still one entry per id */
    push_alert(&f, 1, BV_ALERT_RESOLVED, ID_E, T0, T0 - 2 * MIN, 0, NULL);
    assert_order(&f, (const char *[]){ID_B, ID_E, ID_D, ID_A}, 4);
    fx_free(&f);
}

static void restore_alert(fx *f, uint32_t i, bv_alert_state st, const char *id, int64_t at,
                          int64_t since, uint64_t count)
{
    bv_alert *a = mk_alert(f->rs, i, st, id, at, since, count, "Brand bij het station");
    bv_console_restore(f->c, a);
    bv_alert_free(a);
}

/* Alerts from before the start (the outbox): on the page, marked restored, not counted and not
 * sent to the feed; a live state takes over, and an older restored one never overwrites it. */
static void test_restored(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    feed fd;
    feed_open(&f, &fd, BEARER_READ);
    WAIT(f.base, fd.hello == 1);
    restore_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0 - 10 * MIN, 0, 12);
    restore_alert(&f, 1, BV_ALERT_FIRING, ID_B, T0 - 30 * MIN, 0, 30);
    restore_alert(&f, 1, BV_ALERT_RESOLVED, ID_B, T0 - 20 * MIN, T0 - 30 * MIN, 0);
    bv_console_acked(f.c, ID_B, "meldkamer", 0);
    assert_order(&f, (const char *[]){ID_A, ID_B}, 2);
    yajl_val v = get_json(&f, "/api/alerts", BEARER_READ);
    yajl_val list = jget(v, P("alerts"));
    yajl_val a = alert_by_id(list, ID_A), b = alert_by_id(list, ID_B);
    assert_true(jbool(a, P("restored")));
    assert_string_equal(jstr(a, P("state")), "firing");
    assert_true(jbool(b, P("restored")));
    assert_string_equal(jstr(b, P("state")), "resolved");
    assert_int_equal(jint(jat(jget(b, P("detectors")), 0), P("count")), 30); /* as it fired */
    assert_string_equal(jstr(b, P("ack", "by")), "meldkamer");
    yajl_tree_free(v);
    /* not counted as this process's alerts */
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_GET, "/metrics", BEARER_READ, NULL);
    assert_int_equal(r.code, 200);
    assert_non_null(
        strstr(r.body.p, "\nblikveld_alerts_total{rule=\"brand\",state=\"firing\"} 0\n"));
    assert_non_null(strstr(r.body.p, "\nblikveld_alerts_firing{rule=\"brand\"} 0\n"));
    resp_free(&r);

    /* a live alert goes to the feed, the first alert there (the restored ones were not sent) */
    push_alert(&f, 0, BV_ALERT_RESOLVED, ID_A, T0, T0 - 10 * MIN, 0, NULL);
    WAIT(f.base, fd.alert == 1);
    v = parse(feed_last(&fd, "alert"));
    assert_string_equal(jstr(v, P("id")), ID_A);
    assert_false(jhas(v, P("restored")));
    assert_int_equal(jint(jat(jget(v, P("detectors")), 0), P("count")), 12); /* as it fired */
    yajl_tree_free(v);
    /* an older record of it from the outbox changes nothing */
    restore_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0 - 10 * MIN, 0, 12);
    v = get_json(&f, "/api/alerts", BEARER_READ);
    a = alert_by_id(jget(v, P("alerts")), ID_A);
    assert_string_equal(jstr(a, P("state")), "resolved");
    assert_false(jhas(a, P("restored")));
    yajl_tree_free(v);
    http(&f, &r, EVHTTP_REQ_GET, "/metrics", BEARER_READ, NULL);
    assert_non_null(
        strstr(r.body.p, "\nblikveld_alerts_total{rule=\"brand\",state=\"resolved\"} 1\n"));
    resp_free(&r);
    assert_int_equal(fd.alert, 1);

    /* the restored ones whose latest state is older than the page's span go; live ones stay */
    restore_alert(&f, 1, BV_ALERT_FIRING, ID_C, T0 - 50 * MIN, 0, 26);
    push_alert(&f, 1, BV_ALERT_FIRING, ID_D, T0 - 60 * MIN, 0, 27, NULL);
    assert_order(&f, (const char *[]){ID_A, ID_B, ID_C, ID_D}, 4);
    bv_console_restored_drop(f.c, T0 - 25 * MIN); /* B resolved at -20 min stays, C goes */
    assert_order(&f, (const char *[]){ID_A, ID_B, ID_D}, 3);
    bv_console_restored_drop(f.c, T0);
    assert_order(&f, (const char *[]){ID_A, ID_D}, 2);
    feed_close(&fd);
    fx_free(&f);
}

/* POST /api/rules/ID/silence: role ack, a rule that exists, a strict JSON body; the hook records
 * it, /api/rules shows it; a lift; a hook that fails. */
static void test_silence(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
#define JSON_ACK BEARER_ACK "Content-Type: application/json\n"
    static const char good[] = "{\"for\":\"2h\",\"reason\":\"Demonstratie aangekondigd\"}";
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_POST, "/api/rules/demo/silence",
         BEARER_READ "Content-Type: application/json\n", good);
    assert_api(&r, 403);
    resp_free(&r);
    static const char *const missing[] = {"/api/rules/nope/silence", "/api/rules/demo/silenced",
                                          "/api/rules//silence", "/api/rules/demo",
                                          "/api/rules/demo/silence/x"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        http(&f, &r, EVHTTP_REQ_POST, missing[i], JSON_ACK, good);
        assert_api(&r, 404);
        resp_free(&r);
    }
    http(&f, &r, EVHTTP_REQ_POST, "/api/rules/demo/silence", BEARER_ACK, NULL);
    assert_api(&r, 400); /* no body */
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_POST, "/api/rules/demo/silence",
         BEARER_ACK "Content-Type: text/plain\n", good);
    assert_api(&r, 415);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_POST, "/api/rules/demo/silence", JSON_ACK, "{\"for\":\"2h\"}");
    assert_api(&r, 400);
    assert_non_null(strstr(r.body.p, "reason"));
    resp_free(&r);
    char big[5000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    http(&f, &r, EVHTTP_REQ_POST, "/api/rules/demo/silence", JSON_ACK, big);
    assert_api(&r, 413);
    resp_free(&r);
    assert_int_equal(f.r.silences, 0);

    /* a silence */
    http(&f, &r, EVHTTP_REQ_POST, "/api/rules/demo/silence", JSON_ACK, good);
    assert_api(&r, 200);
    yajl_val v = parse(r.body.p);
    assert_string_equal(jstr(v, P("rule")), "demo");
    assert_int_equal(jint(v, P("until")), T0 + 2 * 3600000);
    assert_string_equal(jstr(v, P("by")), "politie-oc");
    assert_int_equal(jint(v, P("at")), T0);
    yajl_tree_free(v);
    resp_free(&r);
    assert_int_equal(f.r.silences, 1);
    assert_string_equal(f.r.sil_rule, "demo");
    assert_string_equal(f.r.sil_by, "politie-oc");
    assert_string_equal(f.r.sil_reason, "Demonstratie aangekondigd");
    assert_int_equal(f.r.sil_until, T0 + 2 * 3600000);
    assert_int_equal(f.r.sil_at, T0);
    v = get_json(&f, "/api/rules", BEARER_READ);
    yajl_val rules = jget(v, P("rules"));
    yajl_val demo = NULL;
    for (size_t i = 0; i < jlen(rules); i++) {
        if (strcmp(jstr(jat(rules, i), P("id")), "demo") == 0) {
            demo = jat(rules, i);
        }
    }
    assert_non_null(demo);
    assert_int_equal(jint(demo, P("silenced_until")), T0 + 2 * 3600000);
    yajl_tree_free(v);

    /* the lift */
    bv_fake_clock_advance(&f.clock, 60000);
    http(&f, &r, EVHTTP_REQ_POST, "/api/rules/demo/silence", JSON_ACK, "{\"lift\": true}");
    assert_api(&r, 200);
    v = parse(r.body.p);
    assert_int_equal(jint(v, P("until")), 0);
    assert_int_equal(jint(v, P("at")), T0 + 60000);
    yajl_tree_free(v);
    resp_free(&r);
    assert_int_equal(f.r.silences, 2);
    assert_int_equal(f.r.sil_until, 0);
    assert_true(f.r.sil_reason_null);

    /* the hook could not record it: 500 with its reason */
    f.r.sil_rc = -1;
    f.r.sil_err = "redis did not take the silence";
    http(&f, &r, EVHTTP_REQ_POST, "/api/rules/demo/silence", JSON_ACK, good);
    assert_api(&r, 500);
    assert_non_null(strstr(r.body.p, "redis did not take the silence"));
    resp_free(&r);
#undef JSON_ACK
    fx_free(&f);
}

static void test_ack(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0 - 10 * MIN, 0, 12, "brand");
    push_alert(&f, 1, BV_ALERT_FIRING, ID_B, T0 - 1 * MIN, 0, 30, NULL);
    push_alert(&f, 1, BV_ALERT_FIRING, ID_C, T0 - 2 * MIN, 0, 30, NULL);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_D, T0 - 3 * MIN, 0, 30, NULL);
    bv_fake_clock_advance(&f.clock, 1234);
    resp r = {0};

    /* role ack (bearer): the hook records it, the answer and the list show it */
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_A "/ack", BEARER_ACK, NULL);
    assert_api(&r, 200);
    yajl_val v = parse(r.body.p);
    assert_string_equal(jstr(v, P("id")), ID_A);
    assert_string_equal(jstr(v, P("by")), "politie-oc");
    assert_int_equal(jint(v, P("at")), T0 + 1234);
    assert_false(jbool(v, P("already")));
    yajl_tree_free(v);
    resp_free(&r);
    assert_int_equal(f.r.acks, 1);
    assert_string_equal(f.r.ack_id, ID_A);
    assert_string_equal(f.r.ack_rule, "brand");
    assert_string_equal(f.r.ack_by, "politie-oc");
    assert_int_equal(f.r.ack_at, T0 + 1234);
    v = get_json(&f, "/api/alerts", BEARER_READ);
    yajl_val a = alert_by_id(jget(v, P("alerts")), ID_A);
    assert_string_equal(jstr(a, P("ack", "by")), "politie-oc");
    assert_int_equal(jint(a, P("ack", "at")), T0 + 1234);
    assert_true(jnull(alert_by_id(jget(v, P("alerts")), ID_B), P("ack")));
    yajl_tree_free(v);

    /* again: already, the first ack stands */
    bv_fake_clock_advance(&f.clock, 1000);
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_A "/ack", BEARER_ACK, NULL);
    assert_api(&r, 200);
    v = parse(r.body.p);
    assert_true(jbool(v, P("already")));
    assert_string_equal(jstr(v, P("by")), "politie-oc");
    assert_int_equal(jint(v, P("at")), T0 + 1234);
    yajl_tree_free(v);
    resp_free(&r);

    /* the hook knows it was acknowledged before (by someone else): already, by them */
    f.r.ack_rc = 1;
    f.r.ack_err = "meldkamer";
    char cookie[128];
    login(&f, ACK_TOKEN, cookie, sizeof cookie);
    char hdrs[256];
    snprintf(hdrs, sizeof hdrs, "%sOrigin: %s\nContent-Type: application/json\n", cookie, f.origin);
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_B "/ack", hdrs, "{}");
    assert_api(&r, 200);
    v = parse(r.body.p);
    assert_string_equal(jstr(v, P("id")), ID_B);
    assert_true(jbool(v, P("already")));
    assert_string_equal(jstr(v, P("by")), "meldkamer");
    yajl_tree_free(v);
    resp_free(&r);
    assert_string_equal(f.r.ack_id, ID_B);
    assert_string_equal(f.r.ack_rule, "demo");

    /* role read: 403, the hook is not asked */
    int acks = f.r.acks;
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_C "/ack", BEARER_READ, NULL);
    assert_api(&r, 403);
    resp_free(&r);
    assert_int_equal(f.r.acks, acks);
    /* an unknown id: 404 */
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_X "/ack", BEARER_ACK, NULL);
    assert_api(&r, 404);
    resp_free(&r);
    assert_int_equal(f.r.acks, acks);
    /* from another origin: 403, not recorded */
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_C "/ack",
         BEARER_ACK "Origin: http://evil.example\n", NULL);
    assert_api(&r, 403);
    resp_free(&r);
    assert_int_equal(f.r.acks, acks);
    /* the hook fails: 500 with its reason, nothing shown as acknowledged */
    f.r.ack_rc = -1;
    f.r.ack_err = "control file: disk full";
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_C "/ack", BEARER_ACK, NULL);
    assert_api(&r, 500);
    v = parse(r.body.p);
    assert_string_equal(jstr(v, P("error")), "control file: disk full");
    yajl_tree_free(v);
    resp_free(&r);
    v = get_json(&f, "/api/alerts", BEARER_READ);
    assert_true(jnull(alert_by_id(jget(v, P("alerts")), ID_C), P("ack")));
    yajl_tree_free(v);

    /* learnt elsewhere (blikveld ack, another process) */
    bv_console_acked(f.c, ID_D, "burgemeester", T0 + 77);
    bv_console_acked(f.c, ID_X, "niemand", T0 + 78); /* unknown: ignored */
    bv_console_acked(f.c, ID_D, "later", T0 + 79);   /* the first stands */
    v = get_json(&f, "/api/alerts", BEARER_READ);
    yajl_val list = jget(v, P("alerts"));
    assert_int_equal(jlen(list), 4);
    a = alert_by_id(list, ID_D);
    assert_string_equal(jstr(a, P("ack", "by")), "burgemeester");
    assert_int_equal(jint(a, P("ack", "at")), T0 + 77);
    assert_string_equal(jstr(alert_by_id(list, ID_B), P("ack", "by")), "meldkamer");
    yajl_tree_free(v);
    /* a resolved record keeps the ack */
    push_alert(&f, 0, BV_ALERT_RESOLVED, ID_A, T0, T0 - 10 * MIN, 0, NULL);
    v = get_json(&f, "/api/alerts", BEARER_READ);
    a = alert_by_id(jget(v, P("alerts")), ID_A);
    assert_string_equal(jstr(a, P("state")), "resolved");
    assert_string_equal(jstr(a, P("ack", "by")), "politie-oc");
    yajl_tree_free(v);
    fx_free(&f);
}

/* ---- rules ---- */

static int64_t bucket(int64_t t)
{
    return t - t % MIN;
}

static void assert_point(yajl_val p, int64_t t, double value, double level, int holds)
{
    assert_int_equal(jlen(p), 4);
    assert_true(YAJL_IS_INTEGER(jat(p, 0)));
    assert_int_equal(YAJL_GET_INTEGER(jat(p, 0)), t);
    assert_true(YAJL_GET_DOUBLE(jat(p, 1)) == value);
    assert_true(YAJL_GET_DOUBLE(jat(p, 2)) == level);
    assert_int_equal(YAJL_IS_TRUE(jat(p, 3)), holds);
}

static void assert_detector(yajl_val d, const char *type, const char *window, double value,
                            double level, int holds)
{
    assert_string_equal(jstr(d, P("type")), type);
    assert_string_equal(jstr(d, P("window")), window);
    assert_true(jdbl(d, P("value")) == value);
    assert_true(jdbl(d, P("level")) == level);
    assert_int_equal(jbool(d, P("holds")), holds);
}

static void test_rules(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    /* before any evaluation: the rules with empty detectors and no history */
    yajl_val v = get_json(&f, "/api/rules", BEARER_READ);
    assert_int_equal(jint(v, P("step_ms")), MIN);
    assert_int_equal(jint(v, P("span_ms")), 6 * 3600000LL);
    assert_int_equal(jint(v, P("now")), T0);
    yajl_val rules = jget(v, P("rules"));
    assert_int_equal(jlen(rules), 2);
    yajl_val d0 = jat(jget(jat(rules, 0), P("detectors")), 0);
    assert_true(jnull(d0, P("value")));
    assert_true(jnull(d0, P("level")));
    assert_false(jbool(d0, P("holds")));
    assert_int_equal(jlen(jget(jat(rules, 0), P("history"))), 0);
    yajl_tree_free(v);

    signal_rule(&f, f.rs, 0, T0 - 3 * MIN, 4, 1);
    signal_rule(&f, f.rs, 0, T0 - 1 * MIN, 7, 1);
    signal_rule(&f, f.rs, 1, T0 - 30000, 31, 1);
    v = get_json(&f, "/api/rules", BEARER_READ);
    rules = jget(v, P("rules"));
    yajl_val brand = jat(rules, 0), demo = jat(rules, 1);
    assert_string_equal(jstr(brand, P("id")), "brand");
    assert_string_equal(jstr(brand, P("title")), "Brand in de binnenstad");
    assert_string_equal(jstr(brand, P("severity")), "critical");
    assert_false(jbool(brand, P("firing")));
    assert_int_equal(jint(brand, P("silenced_until")), T0 + 3600000);
    assert_int_equal(jint(brand, P("matches")), 0);
    yajl_val dets = jget(brand, P("detectors"));
    assert_int_equal(jlen(dets), 1);
    assert_detector(jat(dets, 0), "threshold", "10m", 7, 10, 0);
    yajl_val hist = jget(brand, P("history"));
    assert_int_equal(jlen(hist), 2);
    assert_point(jat(hist, 0), bucket(T0 - 3 * MIN), 4, 10, 0);
    assert_point(jat(hist, 1), bucket(T0 - 1 * MIN), 7, 10, 0);
    assert_string_equal(jstr(demo, P("id")), "demo");
    assert_string_equal(jstr(demo, P("severity")), "warning");
    assert_true(jnull(demo, P("silenced_until")));
    dets = jget(demo, P("detectors"));
    assert_int_equal(jlen(dets), 2);
    assert_detector(jat(dets, 0), "unique_authors", "30m", 30, 25, 1); /* authors vs N */
    assert_detector(jat(dets, 1), "threshold", "5m", 32, 3, 1);
    hist = jget(demo, P("history"));
    assert_int_equal(jlen(hist), 1);
    assert_point(jat(hist, 0), bucket(T0 - 30000), 30, 25, 1);
    yajl_tree_free(v);

    /* an alert makes the rule fire */
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0, 0, 12, NULL);
    v = get_json(&f, "/api/rules", BEARER_READ);
    assert_true(jbool(jat(jget(v, P("rules")), 0), P("firing")));
    assert_false(jbool(jat(jget(v, P("rules")), 1), P("firing")));
    yajl_tree_free(v);

    /* a new set: brand (same id) keeps its counts, firing and history; nieuw has none; demo
     * is gone */
    bv_ruleset *rs2 = load(rules2_yaml);
    assert_int_equal(bv_history_reload(f.hist, rs2), BV_OK);
    bv_console_set_rules(f.c, rs2, NULL);
    bv_ruleset *old = f.rs;
    f.rs = rs2;
    v = get_json(&f, "/api/rules", BEARER_READ);
    rules = jget(v, P("rules"));
    assert_int_equal(jlen(rules), 2);
    assert_string_equal(jstr(jat(rules, 0), P("id")), "nieuw");
    d0 = jat(jget(jat(rules, 0), P("detectors")), 0);
    assert_true(jnull(d0, P("value")));
    assert_false(jbool(jat(rules, 0), P("firing")));
    assert_int_equal(jlen(jget(jat(rules, 0), P("history"))), 0);
    brand = jat(rules, 1);
    assert_string_equal(jstr(brand, P("id")), "brand");
    assert_true(jbool(brand, P("firing")));
    /* the last count stands, the level is the new definition's at once */
    assert_detector(jat(jget(brand, P("detectors")), 0), "threshold", "10m", 7, 12, 0);
    assert_int_equal(jlen(jget(brand, P("history"))), 2);
    yajl_tree_free(v);
    /* a signal of the old set (in flight during the reload) is ignored */
    signal_rule(&f, old, 0, T0, 99, 0);
    signal_rule(&f, old, 1, T0, 99, 0);
    bv_rules_free(old);
    v = get_json(&f, "/api/rules", BEARER_READ);
    rules = jget(v, P("rules"));
    assert_true(jnull(jat(jget(jat(rules, 0), P("detectors")), 0), P("value")));
    assert_true(jdbl(jat(jget(jat(rules, 1), P("detectors")), 0), P("value")) == 7);
    yajl_tree_free(v);
    /* the new set's signals count */
    signal_rule(&f, f.rs, 1, T0 + MIN, 13, 1);
    signal_rule(&f, f.rs, 0, T0 + MIN, 1, 1);
    v = get_json(&f, "/api/rules", BEARER_READ);
    rules = jget(v, P("rules"));
    assert_detector(jat(jget(jat(rules, 1), P("detectors")), 0), "threshold", "10m", 13, 12, 1);
    assert_detector(jat(jget(jat(rules, 0), P("detectors")), 0), "threshold", "5m", 1, 2, 0);
    assert_int_equal(jlen(jget(jat(rules, 1), P("history"))), 3);
    yajl_tree_free(v);

    /* brand counts authors now: the old count measured something else and goes; so do its
     * chart points */
    bv_ruleset *rs3 = load(rules3_yaml);
    assert_int_equal(bv_history_reload(f.hist, rs3), BV_OK);
    bv_console_set_rules(f.c, rs3, NULL);
    bv_rules_free(f.rs);
    f.rs = rs3;
    v = get_json(&f, "/api/rules", BEARER_READ);
    rules = jget(v, P("rules"));
    assert_int_equal(jlen(rules), 1);
    d0 = jat(jget(jat(rules, 0), P("detectors")), 0);
    assert_string_equal(jstr(d0, P("type")), "unique_authors");
    assert_true(jnull(d0, P("value")));
    assert_true(jnull(d0, P("level")));
    assert_true(jbool(jat(rules, 0), P("firing")));
    assert_int_equal(jlen(jget(jat(rules, 0), P("history"))), 0);
    yajl_tree_free(v);
    fx_free(&f);
}

/* ---- the feed ---- */

static void test_feed(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.o.keepalive_ms = 30;
    f.o.rules_ms = 20;
    f.o.sources_ms = 40;
    f.o.max_clients = 2;
    fx_start(&f);
    char cookie[128];
    login(&f, READ_TOKEN, cookie, sizeof cookie);

    feed f1, f2, f3;
    feed_open(&f, &f1, cookie); /* a browser: the session cookie */
    WAIT(f.base, f1.hello == 1);
    assert_int_equal(f1.r.code, 200);
    assert_secure(&f1.r);
    assert_hdr(&f1.r, "Content-Type", "text/event-stream; charset=utf-8");
    assert_hdr(&f1.r, "Cache-Control", "no-store");
    assert_string_equal(f1.name[0], "hello"); /* the first thing */
    yajl_val v = parse(f1.data[0]);
    assert_int_equal(jint(v, P("now")), T0);
    yajl_tree_free(v);
    assert_int_equal(bv_console_clients(f.c), 1);
    feed_open(&f, &f2, BEARER_ACK);
    WAIT(f.base, f2.hello == 1);
    assert_int_equal(bv_console_clients(f.c), 2);

    /* one too many */
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_GET, "/events", BEARER_ACK, NULL);
    assert_api(&r, 503);
    resp_free(&r);
    assert_int_equal(bv_console_clients(f.c), 2);

    /* an alert, to both */
    push_alert(&f, 1, BV_ALERT_FIRING, ID_B, T0 - MIN, 0, 30, "Demo op de Dam");
    WAIT(f.base, f1.alert == 1 && f2.alert == 1);
    v = parse(feed_last(&f1, "alert"));
    assert_string_equal(jstr(v, P("id")), ID_B);
    assert_string_equal(jstr(v, P("state")), "firing");
    assert_string_equal(jstr(v, P("rule")), "demo");
    assert_true(jnull(v, P("ack")));
    assert_int_equal(jlen(jget(v, P("detectors"))), 2);
    yajl_tree_free(v);
    assert_string_equal(feed_last(&f1, "alert"), feed_last(&f2, "alert"));

    /* acks: learnt elsewhere, and from the API */
    bv_console_acked(f.c, ID_B, "meldkamer", T0 + 5);
    WAIT(f.base, f1.ack == 1 && f2.ack == 1);
    v = parse(feed_last(&f1, "ack"));
    assert_string_equal(jstr(v, P("id")), ID_B);
    assert_string_equal(jstr(v, P("by")), "meldkamer");
    assert_int_equal(jint(v, P("at")), T0 + 5);
    yajl_tree_free(v);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0, 0, 12, NULL);
    WAIT(f.base, f1.alert == 2 && f2.alert == 2);
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_A "/ack", BEARER_ACK, NULL);
    assert_api(&r, 200);
    resp_free(&r);
    WAIT(f.base, f1.ack == 2 && f2.ack == 2);
    v = parse(feed_last(&f2, "ack"));
    assert_string_equal(jstr(v, P("id")), ID_A);
    assert_string_equal(jstr(v, P("by")), "politie-oc");
    yajl_tree_free(v);
    /* a resolved record carries the ack */
    push_alert(&f, 1, BV_ALERT_RESOLVED, ID_B, T0 + MIN, T0 - MIN, 0, NULL);
    WAIT(f.base, f1.alert == 3);
    v = parse(feed_last(&f1, "alert"));
    assert_string_equal(jstr(v, P("state")), "resolved");
    assert_string_equal(jstr(v, P("ack", "by")), "meldkamer");
    assert_string_equal(jstr(jat(jget(v, P("samples")), 0), P("excerpt")), "Demo op de Dam");
    yajl_tree_free(v);

    /* a signal: a rules event with the new value and the newest point, no history */
    size_t n0 = f1.rules;
    signal_rule(&f, f.rs, 0, T0, 8, 1);
    WAIT(f.base, f1.rules > n0);
    v = parse(feed_last(&f1, "rules"));
    assert_int_equal(jint(v, P("now")), T0);
    yajl_val brand = jat(jget(v, P("rules")), 0);
    assert_string_equal(jstr(brand, P("id")), "brand");
    assert_true(jdbl(jat(jget(brand, P("detectors")), 0), P("value")) == 8);
    assert_false(jhas(brand, P("history")));
    assert_point(jget(brand, P("point")), bucket(T0), 8, 10, 0);
    assert_true(jnull(jat(jget(v, P("rules")), 1), P("point")));
    yajl_tree_free(v);

    /* keepalives and sources */
    WAIT(f.base, f1.keepalive >= 1 && f2.keepalive >= 1);
    WAIT(f.base, f1.sources >= 1);
    v = parse(feed_last(&f1, "sources"));
    assert_string_equal(jstr(jat(jget(v, P("sources")), 0), P("name")), "mastodon-nl");
    yajl_tree_free(v);

    /* a reload's result */
    bv_console_set_rules(f.c, f.rs, "{\"ok\":true,\"rules\":2}\n");
    WAIT(f.base, f1.reload == 1 && f2.reload == 1);
    assert_string_equal(feed_last(&f1, "reload"), "{\"ok\":true,\"rules\":2}");
    assert_int_equal(f1.other + f2.other, 0);

    /* a client leaves: counted out, and its place is free again */
    feed_close(&f2);
    WAIT(f.base, bv_console_clients(f.c) == 1);
    feed_open(&f, &f3, BEARER_READ);
    WAIT(f.base, f3.hello == 1);
    assert_int_equal(bv_console_clients(f.c), 2);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_C, T0 + 2 * MIN, 0, 15, NULL);
    WAIT(f.base, f1.alert == 4 && f3.alert == 1);
    feed_close(&f1);
    feed_close(&f3);
    WAIT(f.base, bv_console_clients(f.c) == 0);
    fx_free(&f);
}

/* The feed's "rules" events carry every history point since the last one sent (a fast replay
 * adds several minutes between two), the newest again (it may have changed), at most 60 (then
 * "more": the page reads /api/rules). */
static void test_feed_points(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.o.rules_ms = 20;
    fx_start(&f);
    feed fd;
    feed_open(&f, &fd, BEARER_READ);
    WAIT(f.base, fd.hello == 1);
    for (int k = 0; k < 5; k++) {
        signal_rule(&f, f.rs, 0, T0 + k * MIN, (uint64_t)k + 1, 1);
    }
    WAIT(f.base, fd.rules >= 1);
    yajl_val v = parse(feed_last(&fd, "rules"));
    yajl_val brand = jat(jget(v, P("rules")), 0), demo = jat(jget(v, P("rules")), 1);
    yajl_val pts = jget(brand, P("points"));
    assert_int_equal(jlen(pts), 5);
    for (size_t k = 0; k < 5; k++) {
        assert_point(jat(pts, k), bucket(T0 + (int64_t)k * MIN), (double)k + 1, 10, 0);
    }
    assert_point(jget(brand, P("point")), bucket(T0 + 4 * MIN), 5, 10, 0);
    assert_false(jhas(brand, P("more")));
    assert_false(jhas(brand, P("history")));
    assert_int_equal(jlen(jget(demo, P("points"))), 0);
    assert_true(jnull(demo, P("point")));
    yajl_tree_free(v);

    /* the newest minute changes and one more comes: both */
    size_t seen = fd.rules;
    signal_rule(&f, f.rs, 0, T0 + 4 * MIN + 30000, 8, 1);
    signal_rule(&f, f.rs, 0, T0 + 5 * MIN, 9, 1);
    WAIT(f.base, fd.rules > seen);
    v = parse(feed_last(&fd, "rules"));
    pts = jget(jat(jget(v, P("rules")), 0), P("points"));
    assert_int_equal(jlen(pts), 2);
    assert_point(jat(pts, 0), bucket(T0 + 4 * MIN), 8, 10, 0);
    assert_point(jat(pts, 1), bucket(T0 + 5 * MIN), 9, 10, 0);
    yajl_tree_free(v);

    /* 100 minutes at once: the newest 60, and "more" */
    seen = fd.rules;
    for (int k = 6; k < 106; k++) {
        signal_rule(&f, f.rs, 0, T0 + k * MIN, 3, 1);
    }
    WAIT(f.base, fd.rules > seen);
    v = parse(feed_last(&fd, "rules"));
    brand = jat(jget(v, P("rules")), 0);
    pts = jget(brand, P("points"));
    assert_int_equal(jlen(pts), 60);
    assert_point(jat(pts, 0), bucket(T0 + 46 * MIN), 3, 10, 0);
    assert_point(jat(pts, 59), bucket(T0 + 105 * MIN), 3, 10, 0);
    assert_true(jbool(brand, P("more")));
    yajl_tree_free(v);
    feed_close(&fd);
    fx_free(&f);
}

/* A quiet feed outlives the idle timeout of other connections: the keepalive comes, not the
 * end (timeout_s 1, a keepalive after 1.5 s: the one wait of this file that takes real time). */
static void test_feed_idle(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.o.timeout_s = 1;
    f.o.keepalive_ms = 1500;
    fx_start(&f);
    feed fd;
    feed_open(&f, &fd, BEARER_READ);
    WAIT(f.base, fd.hello == 1);
    WAIT(f.base, fd.keepalive == 1 || fd.r.done);
    assert_false(fd.r.done);
    assert_int_equal(bv_console_clients(f.c), 1);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0, 0, 12, NULL);
    WAIT(f.base, fd.alert == 1);
    feed_close(&fd);
    fx_free(&f);
}

/* Nothing of a connection stays behind once it is gone: first the ones that end as they should
 * (answered requests, a feed the console's free ends), then a feed whose client goes. */
static void test_feed_gone_frees(void **state)
{
    (void)state;
    long live0 = ev_live;
    fx f;
    fx_init(&f);
    f.o.keepalive_ms = 20;
    fx_start(&f);
    assert_healthy(&f);
    yajl_tree_free(get_json(&f, "/api/me", BEARER_READ));
    feed fd;
    feed_open(&f, &fd, BEARER_READ);
    WAIT(f.base, fd.hello == 1 && fd.keepalive >= 1);
    bv_console_free(f.c);
    f.c = NULL;
    WAIT(f.base, fd.r.done); /* the client sees the end */
    feed_close(&fd);
    fx_free(&f);
    assert_int_equal(ev_live - live0, 0);

    fx_init(&f);
    f.o.keepalive_ms = 20;
    fx_start(&f);
    feed_open(&f, &fd, BEARER_READ);
    WAIT(f.base, fd.hello == 1);
    feed_close(&fd); /* the browser tab closes */
    WAIT(f.base, bv_console_clients(f.c) == 0);
    assert_healthy(&f);
    fx_free(&f);
    long left = ev_live - live0;
    if (left) {
        fail_msg("%ld libevent allocations left after a feed client went away (the "
                 "evhttp_request of its reply, detached by libevent, is the feed's to free)",
                 left);
    }
}

/* a plain socket that stopped reading: its end is noticed through an event on it */
typedef struct slow {
    int fd;
    int closed;
    size_t read;
    struct event *ev;
} slow;

static void slow_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    slow *s = arg;
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            s->read += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            s->closed = 1;
            event_del(s->ev);
        }
        return;
    }
}

static void test_feed_slow_client(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.o.client_buffer = 4096;
    fx_start(&f);
    feed fast;
    feed_open(&f, &fast, BEARER_READ);
    WAIT(f.base, fast.hello == 1);

    /* a client with a tiny receive buffer that never reads */
    slow s = {.fd = socket(AF_INET, SOCK_STREAM, 0)};
    assert_true(s.fd >= 0);
    int one = 1;
    assert_int_equal(setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)bv_console_port(f.c))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET /events HTTP/1.1\r\nHost: %s\r\n%s\r\n", f.host,
                     "Authorization: Bearer " READ_TOKEN "\r\n");
    assert_int_equal(send(s.fd, req, (size_t)n, 0), n);
    WAIT(f.base, bv_console_clients(f.c) == 2);

    /* big alerts, one at a time: the fast client gets each, the slow one falls behind */
    char excerpt[1500];
    memset(excerpt, 'x', sizeof excerpt - 1);
    excerpt[sizeof excerpt - 1] = '\0';
    size_t pushed = 0;
    while (pushed < 20000 && bv_console_clients(f.c) == 2) {
        push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0, 0, 12, excerpt);
        pushed++;
        WAIT(f.base, fast.alert == pushed);
    }
    assert_int_equal(bv_console_clients(f.c), 1);
    assert_true(pushed > 1);
    /* the loop goes on: the fast client still gets what comes */
    push_alert(&f, 1, BV_ALERT_FIRING, ID_B, T0, 0, 30, NULL);
    WAIT(f.base, fast.alert == pushed + 1);
    /* and the slow one was hung up on: reading now, it finds the end */
    evutil_make_socket_nonblocking(s.fd);
    s.ev = event_new(f.base, s.fd, EV_READ | EV_PERSIST, slow_readable, &s);
    event_add(s.ev, NULL);
    WAIT(f.base, s.closed);
    event_free(s.ev);
    close(s.fd);
    /* a new client gets in */
    feed again;
    feed_open(&f, &again, BEARER_READ);
    WAIT(f.base, again.hello == 1 && bv_console_clients(f.c) == 2);
    feed_close(&again);
    feed_close(&fast);
    fx_free(&f);
}

/* ---- reload ---- */

static int done_fired;

static void call_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rec *r = arg;
    bv_console_reload_done *done = r->done;
    r->done = NULL;
    done_fired = 1;
    done(r->done_arg, 1,
         "{\"ok\":true,\"rules\":3,\"kept\":2,\"changed\":0,\"added\":1,"
         "\"removed\":0}\n");
}

static void test_reload(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    resp r = {0};
    /* answered at once */
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    assert_api(&r, 200);
    assert_int_equal(f.r.reloads, 1);
    assert_string_equal(f.r.reload_by, "politie-oc");
    yajl_val v = parse(r.body.p);
    assert_true(jbool(v, P("ok")));
    assert_int_equal(jint(v, P("rules")), 2);
    assert_int_equal(jint(v, P("kept")), 2);
    yajl_tree_free(v);
    resp_free(&r);
    /* refused: 422 with the diagnostic */
    f.r.reload_ok = 0;
    f.r.reload_json = "{\"ok\":false,\"error\":\"rules/x.yaml:12:5: unknown key 'treshold'\"}";
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    assert_api(&r, 422);
    v = parse(r.body.p);
    assert_false(jbool(v, P("ok")));
    assert_string_equal(jstr(v, P("error")), "rules/x.yaml:12:5: unknown key 'treshold'");
    yajl_tree_free(v);
    resp_free(&r);
    /* no answer text from the hook */
    f.r.reload_ok = 1;
    f.r.reload_json = NULL;
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    assert_api(&r, 200);
    assert_string_equal(r.body.p, "{\"ok\":true}\n");
    resp_free(&r);
    /* role read: 403, the hook is not asked */
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_READ, NULL);
    assert_api(&r, 403);
    resp_free(&r);
    assert_int_equal(f.r.reloads, 3);
    /* from another origin */
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK "Origin: http://evil.example\n", NULL);
    assert_api(&r, 403);
    resp_free(&r);
    assert_int_equal(f.r.reloads, 3);

    /* answered later, from a timer; meanwhile the loop serves others and a second reload is
     * refused */
    f.r.reload_later = 1;
    resp pending = {0};
    req_start(&f, &pending, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    WAIT(f.base, f.r.reloads == 4);
    http(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    assert_int_equal(r.code, 200);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    assert_api(&r, 409);
    resp_free(&r);
    assert_int_equal(f.r.reloads, 4);
    assert_false(pending.done);
    done_fired = 0;
    struct timeval tv = {0, 20000};
    assert_int_equal(event_base_once(f.base, -1, EV_TIMEOUT, call_done, &f.r, &tv), 0);
    WAIT(f.base, pending.done);
    assert_true(done_fired);
    assert_api(&pending, 200);
    v = parse(pending.body.p);
    assert_int_equal(jint(v, P("rules")), 3);
    assert_int_equal(jint(v, P("added")), 1);
    yajl_tree_free(v);
    resp_free(&pending);

    /* the client goes away before the answer: the answer goes nowhere, nothing breaks */
    req_start(&f, &pending, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    WAIT(f.base, f.r.reloads == 5);
    resp_free(&pending);
    http(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL); /* the server sees the close */
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    resp_free(&r);
    done_fired = 0;
    assert_int_equal(event_base_once(f.base, -1, EV_TIMEOUT, call_done, &f.r, &tv), 0);
    WAIT(f.base, done_fired);
    http(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    assert_int_equal(r.code, 200);
    resp_free(&r);
    /* and the next reload is not refused as under way */
    f.r.reload_later = 0;
    f.r.reload_json = "{\"ok\":true,\"rules\":3}";
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    assert_api(&r, 200);
    assert_string_equal(r.body.p, "{\"ok\":true,\"rules\":3}\n");
    resp_free(&r);
    assert_int_equal(f.r.reloads, 6);

    /* a reload answered later with the console freed first: the pending request goes with it */
    f.r.reload_later = 1;
    req_start(&f, &pending, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    WAIT(f.base, f.r.reloads == 7);
    bv_console_free(f.c);
    f.c = NULL;
    RUN_UNTIL(f.base, pending.done);
    resp_free(&pending);
    fx_free(&f);
}

/* ---- the audit log; no reload hook ---- */

static void test_audit(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.h.reload = NULL;
    fx_start(&f);
    yajl_val v = get_json(&f, "/api/audit?event=oefening-1", BEARER_READ);
    assert_string_equal(f.r.audit_event, "oefening-1");
    assert_string_equal(jstr(v, P("event")), "oefening-1");
    yajl_val recs = jget(v, P("records"));
    assert_int_equal(jlen(recs), 2);
    assert_string_equal(jstr(jat(recs, 0), P("kind")), "ack");
    assert_string_equal(jstr(jat(recs, 0), P("id")), ID_X);
    assert_string_equal(jstr(jat(recs, 1), P("kind")), "reload");
    yajl_tree_free(v);
    v = get_json(&f, "/api/audit", BEARER_READ);
    assert_string_equal(f.r.audit_event, "koningsdag");
    assert_string_equal(jstr(v, P("event")), "koningsdag");
    yajl_tree_free(v);
    f.r.audit_rc = -1;
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_GET, "/api/audit?event=x%22y", BEARER_READ, NULL);
    assert_api(&r, 400);
    v = parse(r.body.p);
    assert_string_equal(jstr(v, P("error")), "no audit log for x\"y");
    yajl_tree_free(v);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", BEARER_ACK, NULL);
    assert_api(&r, 501);
    resp_free(&r);

    /* answered later */
    f.r.audit_rc = 0;
    f.r.audit_later = 1;
    resp pending = {0};
    req_start(&f, &pending, EVHTTP_REQ_GET, "/api/audit?event=later", BEARER_READ, NULL);
    WAIT(f.base, f.r.tdone != NULL);
    assert_healthy(&f);
    assert_false(pending.done);
    static const char one[] = "{\"kind\":\"silence\"}\n";
    f.r.tdone(f.r.tdone_arg, 1, one, sizeof one - 1);
    f.r.tdone = NULL;
    WAIT(f.base, pending.done);
    assert_api(&pending, 200);
    v = parse(pending.body.p);
    assert_string_equal(jstr(v, P("event")), "later");
    assert_int_equal(jlen(jget(v, P("records"))), 1);
    yajl_tree_free(v);
    resp_free(&pending);
    /* the client goes before the answer */
    req_start(&f, &pending, EVHTTP_REQ_GET, "/api/audit?event=gone", BEARER_READ, NULL);
    WAIT(f.base, f.r.tdone != NULL);
    resp_free(&pending);
    assert_healthy(&f);
    assert_healthy(&f);
    f.r.tdone(f.r.tdone_arg, 1, one, sizeof one - 1);
    f.r.tdone = NULL;
    assert_healthy(&f);
    fx_free(&f);
}

/* ---- metrics ---- */

/* The text exposition format: HELP and TYPE once per family, before its samples, and every
 * family's samples in one group. "" when it holds, else what is wrong. */
static void check_exposition(const char *text, char *why, size_t len)
{
    char family[128] = "", seen[64][128];
    size_t nseen = 0;
    why[0] = '\0';
    const char *p = text;
    int lineno = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (nl == NULL) {
            snprintf(why, len, "the last line has no newline");
            return;
        }
        lineno++;
        char line[2048];
        size_t ll = (size_t)(nl - p);
        if (ll >= sizeof line) {
            snprintf(why, len, "line %d too long", lineno);
            return;
        }
        memcpy(line, p, ll);
        line[ll] = '\0';
        p = nl + 1;
        char name[128];
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            size_t nl2 = strcspn(line + 7, " ");
            snprintf(name, sizeof name, "%.*s", (int)nl2, line + 7);
            if (line[2] == 'T') {
                const char *type = line + 7 + nl2 + 1;
                if (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0) {
                    snprintf(why, len, "line %d: type %s", lineno, type);
                    return;
                }
                for (size_t i = 0; i < nseen; i++) {
                    if (strcmp(seen[i], name) == 0) {
                        snprintf(why, len, "line %d: a second TYPE for %s", lineno, name);
                        return;
                    }
                }
                if (nseen < 64) {
                    snprintf(seen[nseen++], sizeof seen[0], "%s", name);
                }
                snprintf(family, sizeof family, "%s", name);
            }
            continue;
        }
        size_t nn = strcspn(line, "{ ");
        snprintf(name, sizeof name, "%.*s", (int)nn, line);
        if (strcmp(name, family) != 0) {
            snprintf(why, len,
                     "line %d: a sample of %s among those of %s (families must be "
                     "grouped, each after its TYPE): %.120s",
                     lineno, name, family, line);
            return;
        }
        const char *q = line + nn;
        if (*q == '{') { /* labels: name="value" with \\ \" \n escapes only */
            q++;
            while (*q != '}') {
                while ((*q >= 'a' && *q <= 'z') || *q == '_') {
                    q++;
                }
                if (q[0] != '=' || q[1] != '"') {
                    snprintf(why, len, "line %d: bad label: %.120s", lineno, line);
                    return;
                }
                q += 2;
                while (*q && *q != '"') {
                    if (*q == '\\') {
                        if (q[1] != '\\' && q[1] != '"' && q[1] != 'n') {
                            snprintf(why, len, "line %d: bad escape: %.120s", lineno, line);
                            return;
                        }
                        q++;
                    }
                    q++;
                }
                if (*q != '"') {
                    snprintf(why, len, "line %d: open label value: %.120s", lineno, line);
                    return;
                }
                q++;
                if (*q == ',') {
                    q++;
                }
            }
            q++;
        }
        char *end;
        if (*q != ' ' || (strtod(q + 1, &end), *end != '\0' || end == q + 1)) {
            snprintf(why, len, "line %d: bad value: %.120s", lineno, line);
            return;
        }
    }
}

static void test_metrics(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.r.src[1] = (bv_console_source){.name = "we\"ird\\name\nx",
                                     .platform = "x",
                                     .state = "down \"hard\"",
                                     .posts = 5,
                                     .errors = 2,
                                     .up = 0};
    f.r.nsrc = 2;
    f.r.dropped = 17;
    fx_start(&f);
    char cookie[128];
    login(&f, ACK_TOKEN, cookie, sizeof cookie);
    signal_rule(&f, f.rs, 0, T0, 7, 0);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0 - MIN, 0, 12, NULL);
    push_alert(&f, 0, BV_ALERT_RESOLVED, ID_A, T0, T0 - MIN, 0, NULL);
    push_alert(&f, 1, BV_ALERT_FIRING, ID_B, T0, 0, 30, NULL);

    resp r = {0};
    http(&f, &r, EVHTTP_REQ_GET, "/metrics", NULL, NULL);
    assert_int_equal(r.code, 401);
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/metrics", BEARER_READ, NULL);
    assert_int_equal(r.code, 200);
    assert_secure(&r);
    assert_hdr(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    assert_hdr(&r, "Cache-Control", "no-store");
    const char *t = r.body.p;
    static const char *const families[] = {
        "blikveld_posts_total counter",
        "blikveld_deletes_total counter",
        "blikveld_posts_skipped_total counter",
        "blikveld_rule_matches_total counter",
        "blikveld_rule_window_value gauge",
        "blikveld_rule_window_level gauge",
        "blikveld_alerts_total counter",
        "blikveld_alerts_firing gauge",
        "blikveld_source_up gauge",
        "blikveld_source_state gauge",
        "blikveld_source_posts_total counter",
        "blikveld_source_errors_total counter",
        "blikveld_watermark_seconds gauge",
        "blikveld_console_feed_clients gauge",
        "blikveld_console_sessions gauge",
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "\n# TYPE %s\n", families[i]);
        if (strstr(t, line) == NULL) {
            fail_msg("no family: %s", families[i]);
        }
    }
    static const char *const samples[] = {
        "\nblikveld_posts_total{platform=\"x\"} 0\n",
        "\nblikveld_posts_skipped_total{reason=\"not_a_post\"} 3\n",
        "\nblikveld_posts_skipped_total{reason=\"queue_full\"} 17\n",
        "\nblikveld_rule_matches_total{rule=\"demo\"} 0\n",
        "\nblikveld_rule_window_value{rule=\"brand\"} 7\n",
        "\nblikveld_rule_window_level{rule=\"brand\"} 10\n",
        "\nblikveld_alerts_total{rule=\"brand\",state=\"firing\"} 1\n",
        "\nblikveld_alerts_total{rule=\"brand\",state=\"resolved\"} 1\n",
        "\nblikveld_alerts_total{rule=\"demo\",state=\"firing\"} 1\n",
        "\nblikveld_alerts_firing{rule=\"brand\"} 0\n",
        "\nblikveld_alerts_firing{rule=\"demo\"} 1\n",
        "\nblikveld_source_up{source=\"mastodon-nl\",platform=\"mastodon\"} 1\n",
        "\nblikveld_source_up{source=\"we\\\"ird\\\\name\\nx\",platform=\"x\"} 0\n",
        "\nblikveld_source_state{source=\"we\\\"ird\\\\name\\nx\",state=\"down \\\"hard\\\"\"} 1\n",
        "\nblikveld_source_posts_total{source=\"mastodon-nl\",platform=\"mastodon\"} 120\n",
        "\nblikveld_source_errors_total{source=\"we\\\"ird\\\\name\\nx\",platform=\"x\"} 2\n",
        "\nblikveld_console_feed_clients 0\n",
        "\nblikveld_console_sessions 1\n",
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        if (strstr(t, samples[i]) == NULL) {
            fail_msg("no sample: %s", samples[i] + 1);
        }
    }
    assert_null(strstr(t, "blikveld_rule_window_value{rule=\"demo\"}")); /* no evaluation yet */
    char why[512];
    check_exposition(t, why, sizeof why);
    resp_free(&r);

    /* the odd name goes through the JSON and the health text as well */
    yajl_val v = get_json(&f, "/api/sources", cookie);
    assert_string_equal(jstr(jat(jget(v, P("sources")), 1), P("name")), "we\"ird\\name\nx");
    assert_false(jbool(jat(jget(v, P("sources")), 1), P("up")));
    yajl_tree_free(v);
    http(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    assert_int_equal(r.code, 503);
    assert_non_null(strstr(r.body.p, "source we\"ird\\name\nx: down \"hard\""));
    resp_free(&r);
    fx_free(&f);
    if (why[0]) {
        fail_msg("/metrics is not valid exposition text: %s", why);
    }
}

/* ---- without a pipeline ---- */

/* The pipeline is optional (console.h): without one there is no event time, so a drill's charts
 * end at the clock's now, span the shortest range, and the watermark is unknown (NaN). */
static void test_no_pipeline(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.o.drill = 1;
    f.o.history = NULL;
    fx_start(&f);
    char why[256] = "";
    yajl_val v = get_json(&f, "/api/rules", BEARER_READ);
    assert_int_equal(jint(v, P("step_ms")), MIN);
    assert_false(jhas(jat(jget(v, P("rules")), 0), P("history")));
    assert_false(jhas(jat(jget(v, P("rules")), 0), P("point")));
    if (jint(v, P("now")) != T0) {
        snprintf(why, sizeof why, "/api/rules now %lld, not the clock's %lld",
                 (long long)jint(v, P("now")), (long long)T0);
    } else if (jint(v, P("span_ms")) != 3600000) {
        snprintf(why, sizeof why, "/api/rules span_ms %lld, not 3600000",
                 (long long)jint(v, P("span_ms")));
    }
    yajl_tree_free(v);
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_GET, "/metrics", BEARER_READ, NULL);
    assert_int_equal(r.code, 200);
    if (why[0] == '\0' && strstr(r.body.p, "\nblikveld_watermark_seconds NaN\n") == NULL) {
        const char *w = strstr(r.body.p, "\nblikveld_watermark_seconds ");
        snprintf(why, sizeof why, "/metrics: %.40s, not NaN", w ? w + 1 : "no watermark");
    }
    resp_free(&r);
    fx_free(&f);
    if (why[0]) {
        fail_msg("%s", why);
    }
}

/* ---- garbage ---- */

/* The status of a raw answer ("HTTP/1.x NNN"), 0 when there was none. */
static int raw_status(const raw *w)
{
    if (w->in.len < 12 || strncmp(w->in.p, "HTTP/1.", 7) != 0) {
        return 0;
    }
    return (int)strtol(w->in.p + 9, NULL, 10);
}

/* Sends bytes, waits for the server to close; no answer or a 4xx one. */
static void garbage(fx *f, const char *what, const void *p, size_t n)
{
    raw w;
    raw_exchange(f, &w, p, n);
    int st = raw_status(&w);
    if (!(st == 0 || (st >= 400 && st < 500))) {
        fail_msg("%s: answered %d: %.200s", what, st, w.in.p);
    }
    assert_null(strstr(w.in.p, "Set-Cookie"));
    raw_close(&w);
    assert_healthy(f);
}

static void test_garbage(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    static const char junk[] = "\x00\xff GARBAGE\r\n\r\n";
    garbage(&f, "junk", junk, sizeof junk - 1);

    bv_buf b = {0};
    /* a request line of 20 KB */
    bv_buf_puts(&b, "GET /");
    for (int i = 0; i < 20000; i++) {
        bv_buf_putc(&b, 'a');
    }
    bv_buf_puts(&b, " HTTP/1.1\r\nHost: x\r\n\r\n");
    garbage(&f, "long request line", b.p, b.len);
    /* a header block over 16 KB */
    bv_buf_reset(&b);
    bv_buf_puts(&b, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 20; i++) {
        bv_buf_printf(&b, "X-Filler-%d: ", i);
        for (int k = 0; k < 1000; k++) {
            bv_buf_putc(&b, 'h');
        }
        bv_buf_puts(&b, "\r\n");
    }
    bv_buf_puts(&b, "\r\n");
    garbage(&f, "long header block", b.p, b.len);
    /* one header line over 16 KB */
    bv_buf_reset(&b);
    bv_buf_puts(&b, "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: ");
    for (int k = 0; k < 17000; k++) {
        bv_buf_putc(&b, 'c');
    }
    bv_buf_puts(&b, "\r\n\r\n");
    garbage(&f, "long header", b.p, b.len);
    /* a body over 16 KB to /login, with a length and chunked */
    bv_buf_reset(&b);
    bv_buf_puts(&b, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    "application/x-www-form-urlencoded\r\nContent-Length: 20006\r\n\r\ntoken=");
    for (int k = 0; k < 20000; k++) {
        bv_buf_putc(&b, 'a');
    }
    garbage(&f, "long body", b.p, b.len);
    bv_buf_reset(&b);
    bv_buf_puts(&b, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    "application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int c = 0; c < 5; c++) {
        bv_buf_puts(&b, "1000\r\n");
        for (int k = 0; k < 4096; k++) {
            bv_buf_putc(&b, c == 0 && k < 6 ? "token="[k] : 'a');
        }
        bv_buf_puts(&b, "\r\n");
    }
    bv_buf_puts(&b, "0\r\n\r\n");
    garbage(&f, "long chunked body", b.p, b.len);
    /* bad lengths and chunk sizes */
    static const char *const bad[] = {
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\ntoken",
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\ntoken",
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\nt",
        "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "fffffffffffffffffff\r\nab\r\n",
        "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        "GET\r\n\r\n",
        "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        " / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        garbage(&f, bad[i], bad[i], strlen(bad[i]));
    }
    /* odd but well-formed requests: answered, never a crash */
    static const char *const odd[] = {
        "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET //api//me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /api/audit?%zz&event&=&event=%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Authorization: Bearer " READ_TOKEN "\r\n\r\n",
        "GET http://other.example/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer\r\n"
        "Cookie: bv_session=; bv_session=" ACK_TOKEN "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        raw w;
        raw_exchange(&f, &w, odd[i], strlen(odd[i]));
        int st = raw_status(&w);
        if (st < 200 || st >= 600) {
            fail_msg("%s: answered %d", odd[i], st);
        }
        raw_close(&w);
    }
    assert_healthy(&f);

    /* HTTP/1.0 without Host */
    raw w;
    static const char h10[] = "GET /healthz HTTP/1.0\r\n\r\n";
    raw_exchange(&f, &w, h10, sizeof h10 - 1);
    assert_int_equal(raw_status(&w), 200);
    assert_non_null(strstr(w.in.p, "Content-Security-Policy: default-src 'none'"));
    assert_true(w.in.len >= 3 && strcmp(w.in.p + w.in.len - 3, "ok\n") == 0);
    raw_close(&w);
    static const char me10[] =
        "GET /api/me HTTP/1.0\r\nAuthorization: Bearer " ACK_TOKEN "\r\n\r\n";
    raw_exchange(&f, &w, me10, sizeof me10 - 1);
    assert_int_equal(raw_status(&w), 200);
    assert_non_null(strstr(w.in.p, "\"name\":\"politie-oc\""));
    raw_close(&w);
    /* a POST with an Origin and no Host cannot be shown to be from our page */
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0, 0, 12, NULL);
    static const char ack10[] =
        "POST /api/alerts/" ID_A "/ack HTTP/1.0\r\nAuthorization: Bearer " ACK_TOKEN
        "\r\nOrigin: http://127.0.0.1\r\n\r\n";
    raw_exchange(&f, &w, ack10, sizeof ack10 - 1);
    assert_int_equal(raw_status(&w), 403);
    raw_close(&w);
    assert_int_equal(f.r.acks, 0);

    /* two requests in one write (pipelined): both answered, in order */
    static const char two[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_exchange(&f, &w, two, sizeof two - 1);
    assert_int_equal(raw_status(&w), 200);
    const char *second = strstr(w.in.p + 1, "HTTP/1.1 401");
    assert_non_null(second);
    raw_close(&w);
    /* the feed to an HTTP/1.0 client: no chunks, the events as they are */
    raw_open(&f, &w);
    static const char ev10[] =
        "GET /events HTTP/1.0\r\nAuthorization: Bearer " READ_TOKEN "\r\n\r\n";
    raw_send(&w, ev10, sizeof ev10 - 1);
    WAIT(f.base, w.in.p && strstr(w.in.p, "\r\n\r\nretry: 2000\nevent: hello\ndata: {"));
    push_alert(&f, 1, BV_ALERT_FIRING, ID_B, T0, 0, 30, NULL);
    WAIT(f.base, strstr(w.in.p, "event: alert\ndata: {\"type\":\"alert\",\"id\":\"" ID_B));
    raw_close(&w);
    assert_healthy(&f);

    /* requests cut in the middle, then closed */
    static const char *const cut[] = {
        "GET /healthz HTTP/1.1\r\nHo",
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ntoken=ab",
        "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\ntoken",
        "GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " READ_TOKEN "\r\n",
    };
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        raw_open(&f, &w);
        raw_send(&w, cut[i], strlen(cut[i]));
        assert_healthy(&f); /* the server has read the part by now */
        raw_close(&w);
        assert_healthy(&f);
    }
    /* a feed request whose client goes at once */
    raw_open(&f, &w);
    static const char ev[] =
        "GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " READ_TOKEN "\r\n\r\n";
    raw_send(&w, ev, sizeof ev - 1);
    WAIT(f.base, w.in.p && strstr(w.in.p, "event: hello"));
    raw_close(&w);
    assert_healthy(&f);
    bv_buf_free(&b);
    fx_free(&f);
}

/* ---- without tokens ---- */

static void test_open_local(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.o.tokens = NULL;
    f.o.ntokens = 0;
    f.o.listen = "0.0.0.0:0";
    f.o.drill = 1;
    f.o.run = "oefening-3";
    f.o.lang = NULL;
    fx_start(&f);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", bv_console_port(f.c));
    assert_string_equal(bv_console_url(f.c), url);
    assert_int_equal(bv_console_open_local(f.c), 1);

    yajl_val v = get_json(&f, "/api/me", NULL);
    assert_string_equal(jstr(v, P("name")), "local");
    assert_string_equal(jstr(v, P("role")), "ack");
    assert_false(jbool(v, P("auth")));
    assert_true(jbool(v, P("drill")));
    assert_string_equal(jstr(v, P("run")), "oefening-3");
    assert_string_equal(jstr(v, P("lang")), "nl");
    yajl_tree_free(v);
    v = get_json(&f, "/api/me", "Authorization: Bearer whatever-it-says-0123\n");
    assert_string_equal(jstr(v, P("name")), "local");
    yajl_tree_free(v);
    resp r = {0};
    http(&f, &r, EVHTTP_REQ_GET, "/", NULL, NULL);
    assert_int_equal(r.code, 200);
    assert_hdr(&r, "Content-Type", "text/html; charset=utf-8");
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/login", NULL, NULL);
    assert_int_equal(r.code, 303);
    assert_hdr(&r, "Location", "/");
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_POST, "/login", NULL, "token=anything-at-all-0123");
    assert_int_equal(r.code, 303);
    assert_hdr(&r, "Location", "/");
    assert_null(hdr(&r, "Set-Cookie"));
    resp_free(&r);
    http(&f, &r, EVHTTP_REQ_GET, "/metrics", NULL, NULL);
    assert_int_equal(r.code, 200);
    resp_free(&r);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0, 0, 12, NULL);
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_A "/ack", NULL, NULL);
    assert_api(&r, 200);
    resp_free(&r);
    assert_string_equal(f.r.ack_by, "local");
    http(&f, &r, EVHTTP_REQ_POST, "/api/reload", NULL, NULL);
    assert_api(&r, 200);
    resp_free(&r);
    assert_string_equal(f.r.reload_by, "local");
    feed fd;
    feed_open(&f, &fd, NULL);
    WAIT(f.base, fd.hello == 1);
    feed_close(&fd);
    fx_free(&f);

    /* with tokens, 0.0.0.0 stays (the URL names loopback) and access is checked */
    fx_init(&f);
    f.o.listen = "0.0.0.0:0";
    fx_start(&f);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", bv_console_port(f.c));
    assert_string_equal(bv_console_url(f.c), url);
    assert_int_equal(bv_console_open_local(f.c), 0);
    http(&f, &r, EVHTTP_REQ_GET, "/api/me", NULL, NULL);
    assert_api(&r, 401);
    resp_free(&r);
    fx_free(&f);
}

/* ---- HTTPS ---- */

typedef struct tlsdir {
    char dir[64], cert[96], key[96], other[96];
} tlsdir;

static EVP_PKEY *write_key(const char *path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(fp);
    return k;
}

/* A self-signed certificate for 127.0.0.1 (SAN IP) and its key, and another key. */
static void tls_make(tlsdir *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/bv-console-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->cert, sizeof t->cert, "%s/cert.pem", t->dir);
    snprintf(t->key, sizeof t->key, "%s/key.pem", t->dir);
    snprintf(t->other, sizeof t->other, "%s/other.pem", t->dir);
    EVP_PKEY *k = write_key(t->key);
    EVP_PKEY_free(write_key(t->other));
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4711);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    assert_int_equal(X509_set_pubkey(x, k), 1);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"blikveld test", -1,
                               -1, 0);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    FILE *fp = fopen(t->cert, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_X509(fp, x), 1);
    fclose(fp);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void tls_remove(tlsdir *t)
{
    unlink(t->cert);
    unlink(t->key);
    unlink(t->other);
    rmdir(t->dir);
}

static SSL_CTX *client_ctx(const char *ca)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca) {
        assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
    }
    return ctx;
}

static void test_tls(void **state)
{
    (void)state;
    tlsdir t;
    tls_make(&t);
    fx f;
    fx_init(&f);
    f.o.tls_cert = t.cert;
    f.o.tls_key = t.key;
    f.cli = client_ctx(t.cert);
    fx_start(&f);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", bv_console_port(f.c));
    assert_string_equal(bv_console_url(f.c), url);

    assert_healthy(&f); /* verified against the certificate, for 127.0.0.1 */
    resp r = {0};
    char hdrs[320];
    snprintf(hdrs, sizeof hdrs, "Origin: %s\nContent-Type: application/x-www-form-urlencoded\n",
             f.origin);
    http(&f, &r, EVHTTP_REQ_POST, "/login", hdrs, "token=" ACK_TOKEN);
    assert_int_equal(r.code, 303);
    const char *sc = hdr(&r, "Set-Cookie");
    assert_non_null(sc);
    assert_non_null(strstr(sc, "; HttpOnly"));
    assert_true(strlen(sc) > 8 && strcmp(sc + strlen(sc) - 8, "; Secure") == 0);
    char cookie[128];
    snprintf(cookie, sizeof cookie, "Cookie: %.*s\n", (int)strcspn(sc, ";"), sc);
    resp_free(&r);
    yajl_val v = get_json(&f, "/api/me", cookie);
    assert_string_equal(jstr(v, P("name")), "politie-oc");
    yajl_tree_free(v);
    /* an https page may post to itself; http://same-host is another origin */
    snprintf(hdrs, sizeof hdrs, "%sOrigin: http://%s\n", cookie, f.host);
    push_alert(&f, 0, BV_ALERT_FIRING, ID_A, T0, 0, 12, NULL);
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_A "/ack", hdrs, NULL);
    assert_api(&r, 403);
    resp_free(&r);
    snprintf(hdrs, sizeof hdrs, "%sOrigin: %s\n", cookie, f.origin);
    http(&f, &r, EVHTTP_REQ_POST, "/api/alerts/" ID_A "/ack", hdrs, NULL);
    assert_api(&r, 200);
    resp_free(&r);
    /* the feed over TLS */
    feed fd;
    feed_open(&f, &fd, cookie);
    WAIT(f.base, fd.hello == 1);
    push_alert(&f, 1, BV_ALERT_FIRING, ID_B, T0, 0, 30, NULL);
    WAIT(f.base, fd.alert == 1);
    feed_close(&fd);

    /* a client that does not trust the certificate gets nothing */
    SSL_CTX *good = f.cli;
    f.cli = client_ctx(NULL);
    req_start(&f, &r, EVHTTP_REQ_GET, "/healthz", NULL, NULL);
    WAIT(f.base, r.done);
    assert_true(r.failed);
    resp_free(&r);
    SSL_CTX_free(f.cli);
    f.cli = good;
    /* plain HTTP on the HTTPS port: closed */
    raw w;
    static const char plain[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_exchange(&f, &w, plain, sizeof plain - 1);
    assert_int_equal(raw_status(&w), 0);
    raw_close(&w);
    assert_healthy(&f);
    fx_free(&f);

    /* refused at start: a key of another certificate, a missing file, half a pair */
    bv_console_opts o = {.listen = "127.0.0.1:0", .tls_cert = t.cert, .tls_key = t.other};
    char err[512];
    struct event_base *base = event_base_new();
    assert_null(bv_console_new(base, &o, NULL, err, sizeof err));
    /* OpenSSL's own words when the key is loaded after the certificate, or the console's */
    assert_true(strncmp(err, "console.tls.key ", 16) == 0);
    assert_non_null(strstr(err, t.other));
    assert_true(strstr(err, "key values mismatch") || strstr(err, "does not fit"));
    o.tls_cert = "/nonexistent/cert.pem";
    assert_null(bv_console_new(base, &o, NULL, err, sizeof err));
    assert_non_null(strstr(err, "console.tls.cert /nonexistent/cert.pem"));
    o.tls_cert = t.cert;
    o.tls_key = t.cert; /* a certificate is no key */
    assert_null(bv_console_new(base, &o, NULL, err, sizeof err));
    assert_non_null(strstr(err, "console.tls.key"));
    o.tls_key = NULL;
    assert_null(bv_console_new(base, &o, NULL, err, sizeof err));
    assert_string_equal(err, "console.tls needs both cert and key");
    event_base_free(base);
    tls_remove(&t);
}

/* ---- a signal without evaluations (last: under UBSan a failure here aborts the run) ---- */

/* The history ignores such a signal (history.h); the console must too, without handing NULL
 * to memcpy (UBSan: "null pointer passed as argument 2"). */
static void test_signal_without_evals(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    signal_rule(&f, f.rs, 0, T0, 7, 0);
    bv_signal empty;
    memset(&empty, 0, sizeof empty);
    empty.spec = bv_rules_get(f.rs, 0);
    empty.at_ms = T0;
    bv_console_signal(f.c, &empty);
    bv_history_signal(f.hist, &empty);
    empty.rule = 7; /* outside the set */
    bv_console_signal(f.c, &empty);
    yajl_val v = get_json(&f, "/api/rules", BEARER_READ);
    yajl_val d0 = jat(jget(jat(jget(v, P("rules")), 0), P("detectors")), 0);
    assert_true(jdbl(d0, P("value")) == 7);
    yajl_tree_free(v);
    fx_free(&f);
}

/* ---- refused settings ---- */

static void test_bad_listen(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    fx_start(&f);
    char err[512], taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", bv_console_port(f.c));
    static const char *const bad[] = {
        "nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", "[::1", "[::1]8080", ":"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bv_console_opts o = f.o;
        o.listen = bad[i];
        assert_null(bv_console_new(f.base, &o, &f.h, err, sizeof err));
        char want[128];
        snprintf(want, sizeof want, "console.listen '%s' is not HOST:PORT", bad[i]);
        assert_string_equal(err, want);
    }
    bv_console_opts o = f.o;
    o.listen = NULL;
    assert_null(bv_console_new(f.base, &o, &f.h, err, sizeof err));
    o.listen = taken; /* in use */
    assert_null(bv_console_new(f.base, &o, &f.h, err, sizeof err));
    assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
    assert_healthy(&f);
    fx_free(&f);
}

int main(void)
{
    bv_log_set_level(BV_LOG_ERROR);
    event_set_mem_functions(ev_malloc, ev_realloc, ev_free); /* before libevent allocates */
    if (getenv("TEST_FILTER")) { /* one test by name, when looking into one */
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_behind_tls_proxy),
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_restored),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_silence),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_feed),
        cmocka_unit_test(test_feed_points),
        cmocka_unit_test(test_feed_idle),
        cmocka_unit_test(test_feed_gone_frees),
        cmocka_unit_test(test_feed_slow_client),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_audit),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_no_pipeline),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_open_local),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_signal_without_evals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
