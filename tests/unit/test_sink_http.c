/* test_sink_http.c: the HTTP request the sinks share, against a receiver in the test's loop:
 * method, headers, body; the classification of 200/201/204 (OK), 408/429/500/503 (RETRY),
 * 301/400/404 (FAIL), a timeout and a refused connection (RETRY) with their reasons; redirects
 * not followed; a reply kept up to 64 KiB; requests in flight stopped on free (also from a
 * callback); and the helpers: URL labels, secrets from the environment, header checks,
 * excerpts, Alertmanager labels. */
#include "testutil.h"

#include "hookutil.h"

#include "alert/sink_http.h"

#include <unistd.h>

typedef struct got {
    int calls;
    long status;
    int transport;
    bv_sink_result r;
    char reason[128];
    size_t len;
    int truncated;
    char body[64];
    bv_http *free_me; /* freed from inside the callback */
} got;

static void on_resp(void *ctx, const bv_http_resp *r, bv_sink_done_cb *done, void *arg)
{
    (void)done;
    (void)arg;
    got *g = ctx;
    g->calls++;
    g->status = r->status;
    g->transport = r->transport;
    g->r = r->result;
    snprintf(g->reason, sizeof g->reason, "%s", r->reason);
    g->len = r->len;
    g->truncated = r->truncated;
    snprintf(g->body, sizeof g->body, "%s", r->body);
    assert_int_equal(r->body[r->len], '\0');
    if (g->free_me) {
        bv_http_free(g->free_me);
        g->free_me = NULL;
    }
}

static void send_one(tu_env *e, bv_http *h, const bv_http_req *rq, got *g)
{
    memset(g, 0, sizeof *g);
    assert_int_equal(bv_http_send(h, rq, on_resp, g, NULL, NULL), BV_OK);
    assert_int_equal(g->calls, 0); /* never from inside send */
    tu_run_until(e->base, &g->calls);
    assert_int_equal(g->calls, 1);
}

static void test_post_headers_body(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    bv_http *h = bv_http_new(&e.env);
    assert_non_null(h);
    char url[128];
    snprintf(url, sizeof url, "%s/hooks/x?a=1", hk.url);
    const char *hdr[] = {"Authorization: Bearer s3cret", "X-Custom: een waarde"};
    bv_http_req rq = {.url = url,
                      .content_type = "application/json",
                      .body = "{\"a\":1}",
                      .len = 7,
                      .headers = hdr,
                      .nheaders = 2};
    got g;
    send_one(&e, h, &rq, &g);
    assert_int_equal(hk.n, 1);
    tu_hook_req *q = &hk.req[0];
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->uri, "/hooks/x?a=1");
    assert_string_equal(q->body, "{\"a\":1}");
    assert_string_equal(tu_hook_header(q, "Content-Type"), "application/json");
    assert_string_equal(tu_hook_header(q, "User-Agent"), "blikveld");
    assert_string_equal(tu_hook_header(q, "Authorization"), "Bearer s3cret");
    assert_string_equal(tu_hook_header(q, "X-Custom"), "een waarde");
    assert_null(tu_hook_header(q, "Expect"));
    assert_int_equal(g.status, 200);
    assert_int_equal(g.r, BV_SINK_OK);
    assert_string_equal(g.reason, "HTTP 200");
    assert_string_equal(g.body, "ok");
    /* GET: no body, no Content-Type */
    bv_http_req get = {.method = "GET", .url = url, .content_type = "application/json"};
    send_one(&e, h, &get, &g);
    assert_string_equal(hk.req[1].method, "GET");
    assert_int_equal(hk.req[1].len, 0);
    assert_null(tu_hook_header(&hk.req[1], "Content-Type"));
    /* what cannot start */
    bv_http_req bad = {.method = "PUT", .url = url};
    assert_int_equal(bv_http_send(h, &bad, on_resp, &g, NULL, NULL), BV_EINVAL);
    bv_http_req nourl = {.method = "POST"};
    assert_int_equal(bv_http_send(h, &nourl, on_resp, &g, NULL, NULL), BV_EINVAL);
    assert_int_equal(bv_http_send(h, &rq, NULL, NULL, NULL, NULL), BV_EINVAL);
    assert_int_equal(bv_http_running(h), 0);
    bv_http_free(h);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_classification(void **state)
{
    (void)state;
    static const struct {
        int status;
        bv_sink_result r;
        const char *reason;
    } cases[] = {
        {200, BV_SINK_OK, "HTTP 200"},
        {201, BV_SINK_OK, "HTTP 201"},
        {204, BV_SINK_OK, "HTTP 204"},
        {400, BV_SINK_FAIL, "HTTP 400"},
        {404, BV_SINK_FAIL, "HTTP 404"},
        {408, BV_SINK_RETRY, "HTTP 408"},
        {429, BV_SINK_RETRY, "HTTP 429"},
        {500, BV_SINK_RETRY, "HTTP 500"},
        {503, BV_SINK_RETRY, "HTTP 503"},
        {401, BV_SINK_FAIL, "HTTP 401"},
        {302, BV_SINK_FAIL, "HTTP 302 (redirect not followed)"},
    };
    size_t n = sizeof cases / sizeof cases[0];
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    bv_http *h = bv_http_new(&e.env);
    bv_http_req rq = {.url = hk.url, .content_type = "text/plain", .body = "x", .len = 1};
    for (size_t i = 0; i < n; i++) {
        tu_hook_reply rep = {cases[i].status, "body", NULL};
        tu_hook_script(&hk, &rep, 1);
        got g;
        send_one(&e, h, &rq, &g);
        assert_int_equal(g.status, cases[i].status);
        assert_int_equal(g.transport, 0);
        assert_int_equal(g.r, cases[i].r);
        assert_string_equal(g.reason, cases[i].reason);
        assert_int_equal(hk.n, 1); /* one request: a redirect is not followed */
        assert_int_equal(bv_http_classify(cases[i].status), cases[i].r);
    }
    /* done gets the classification when no reply callback is given */
    tu_hook_reply rep = {503, "busy", NULL};
    tu_hook_script(&hk, &rep, 1);
    tu_done d = {0};
    assert_int_equal(bv_http_send(h, &rq, NULL, NULL, tu_on_done, &d), BV_OK);
    tu_run_until(e.base, &d.calls);
    assert_int_equal(d.r, BV_SINK_RETRY);
    assert_string_equal(d.reason, "HTTP 503");
    bv_http_free(h);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_timeout_refused(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    e.env.timeout_ms = 300;
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    tu_hook_reply hold = {0, NULL, NULL};
    tu_hook_script(&hk, &hold, 1);
    bv_http *h = bv_http_new(&e.env);
    char url[128];
    snprintf(url, sizeof url, "http://user:pw@127.0.0.1:%d/secret/path?token=abc", hk.port);
    bv_http_req rq = {.url = url, .body = "x", .len = 1};
    got g;
    send_one(&e, h, &rq, &g);
    assert_int_equal(hk.n, 1);
    assert_int_equal(g.transport, 1);
    assert_int_equal(g.r, BV_SINK_RETRY);
    assert_string_equal(g.reason, "timeout after 300ms");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/secret/path?token=abc", tu_closed_port());
    send_one(&e, h, &rq, &g);
    assert_int_equal(g.transport, 1);
    assert_int_equal(g.status, 0);
    assert_int_equal(g.r, BV_SINK_RETRY);
    assert_string_equal(g.reason, "connection refused");
    bv_http_free(h);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_big_reply(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    size_t big = 100000;
    char *body = malloc(big + 1);
    memset(body, 'a', big);
    body[big] = '\0';
    tu_hook_reply rep = {200, body, NULL};
    tu_hook_script(&hk, &rep, 1);
    bv_http *h = bv_http_new(&e.env);
    bv_http_req rq = {.url = hk.url};
    got g;
    send_one(&e, h, &rq, &g);
    assert_int_equal(g.r, BV_SINK_OK);
    assert_int_equal(g.len, BV_HTTP_BODY_MAX);
    assert_int_equal(g.truncated, 1);
    body[10] = '\0';
    tu_hook_reply small = {200, body, NULL};
    tu_hook_script(&hk, &small, 1);
    send_one(&e, h, &rq, &g);
    assert_int_equal(g.len, 10);
    assert_int_equal(g.truncated, 0);
    assert_string_equal(g.body, "aaaaaaaaaa");
    bv_http_free(h);
    free(body);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

/* Freed with requests in flight: none calls back, nothing leaks; freed from a callback: the
 * other request in flight is stopped too. */
static void test_free_in_flight(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    tu_hook_reply hold = {0, NULL, NULL};
    tu_hook_script(&hk, &hold, 1);
    bv_http *h = bv_http_new(&e.env);
    bv_http_req rq = {.url = hk.url, .body = "x", .len = 1};
    got g;
    memset(&g, 0, sizeof g);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bv_http_send(h, &rq, on_resp, &g, NULL, NULL), BV_OK);
    }
    assert_int_equal(bv_http_running(h), 3);
    for (int i = 0; i < 100000 && hk.n < 3; i++) {
        event_base_loop(e.base, EVLOOP_ONCE);
    }
    assert_int_equal(hk.n, 3);
    bv_http_free(h);
    assert_int_equal(bv_curl_loop_running(e.curl), 0);
    event_base_loop(e.base, EVLOOP_NONBLOCK);
    assert_int_equal(g.calls, 0);
    /* from inside a callback: request 0 answers, request 1 hangs */
    tu_hook_reply two[] = {{200, "ok", NULL}, {0, NULL, NULL}};
    tu_hook_script(&hk, two, 2);
    h = bv_http_new(&e.env);
    memset(&g, 0, sizeof g);
    g.free_me = h;
    assert_int_equal(bv_http_send(h, &rq, on_resp, &g, NULL, NULL), BV_OK);
    tu_run_until(e.base, &hk.n);
    assert_int_equal(bv_http_send(h, &rq, on_resp, &g, NULL, NULL), BV_OK);
    tu_run_until(e.base, &g.calls);
    assert_int_equal(g.calls, 1);
    assert_null(g.free_me);
    assert_int_equal(bv_curl_loop_running(e.curl), 0);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_helpers(void **state)
{
    (void)state;
    assert_true(bv_http_url_ok("https://hooks.example/a/b"));
    assert_true(bv_http_url_ok("http://127.0.0.1:9093"));
    assert_false(bv_http_url_ok("ftp://x.example/"));
    assert_false(bv_http_url_ok("https://"));
    assert_false(bv_http_url_ok(NULL));
    char *l =
        bv_http_url_label("webhook", "https://u:pw@meldkamer.example/hooks/blikveld?k=s#f", 1);
    assert_string_equal(l, "webhook https://meldkamer.example/hooks/blikveld");
    free(l);
    l = bv_http_url_label("slack", "https://hooks.slack.example/services/T000/B000/XXX", 0);
    assert_string_equal(l, "slack https://hooks.slack.example");
    free(l);
    l = bv_http_url_label("alertmanager", "http://127.0.0.1:9093/", 1);
    assert_string_equal(l, "alertmanager http://127.0.0.1:9093");
    free(l);
    assert_null(bv_http_url_label("x", "nope", 1));

    char err[128];
    setenv("BV_TEST_SECRET", "geheim-123", 1);
    setenv("BV_TEST_EMPTY", "", 1);
    unsetenv("BV_TEST_UNSET");
    char *s = bv_http_env_secret("webhook header X", "BV_TEST_SECRET", err, sizeof err);
    assert_string_equal(s, "geheim-123");
    bv_http_secret_free(s);
    assert_null(bv_http_env_secret("sms token_env", "BV_TEST_UNSET", err, sizeof err));
    assert_string_equal(err, "sms token_env: environment variable BV_TEST_UNSET is not set");
    assert_null(bv_http_env_secret("sms token_env", "BV_TEST_EMPTY", err, sizeof err));
    assert_string_equal(err, "sms token_env: environment variable BV_TEST_EMPTY is empty");

    assert_true(bv_http_header_ok("Authorization", "Bearer abc\tdef"));
    assert_true(bv_http_header_ok("X-My_Header.1", ""));
    assert_false(bv_http_header_ok("Bad Name", "v"));
    assert_false(bv_http_header_ok("X:Y", "v"));
    assert_false(bv_http_header_ok("", "v"));
    assert_false(bv_http_header_ok("X", "a\r\nInjected: yes"));
    assert_false(bv_http_header_ok("X", "a\nb"));

    char ex[16];
    assert_string_equal(bv_http_excerpt("  Bad\r\n Request ", 16, ex, sizeof ex), "Bad Request");
    assert_string_equal(bv_http_excerpt("h\xc3\xa9 \x01x", 6, ex, sizeof ex), "h? ?x");
    assert_string_equal(bv_http_excerpt("abcdefghijklmnopqrstuvwxyz", 26, ex, sizeof ex),
                        "abcdefghijkl...");
    assert_string_equal(bv_http_excerpt("", 0, ex, sizeof ex), "");

    char r[64];
    assert_string_equal(bv_http_status_reason(503, r, sizeof r), "HTTP 503");
    assert_string_equal(bv_http_status_reason(301, r, sizeof r),
                        "HTTP 301 (redirect not followed)");

    bv_sink_env env = {.language = "en-GB", .console_url = ""};
    bv_render_opts o;
    bv_http_render_opts(&env, &o);
    assert_int_equal(o.lang, BV_LANG_EN);
    assert_null(o.console_url);
    env.language = "fr";
    env.console_url = "https://c.example";
    bv_http_render_opts(&env, &o);
    assert_int_equal(o.lang, BV_LANG_NL);
    assert_string_equal(o.console_url, "https://c.example");
    assert_null(bv_http_new(&env)); /* no loop */
}

static void test_am_labels(void **state)
{
    (void)state;
    tu_alerts t;
    tu_alerts_init(&t, 1, 1781287205000);
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 3, 1, 1781287205000);
    bv_am_pair p[BV_AM_MAX_PAIRS];
    size_t n = bv_am_labels(&m, &t.a[2], p);
    bv_buf b = BV_BUF_INIT;
    bv_am_object(&b, p, n);
    char want[256];
    snprintf(want, sizeof want,
             "{\"alertname\":\"project-x\",\"rule\":\"project-x\",\"event\":\"oud-en-nieuw\","
             "\"severity\":\"critical\",\"blikveld_id\":\"%s\",\"drill\":\"true\","
             "\"health\":\"true\"}",
             t.a[2].id);
    assert_string_equal(b.p, want);
    bv_buf_reset(&b);
    m.drill = 0;
    t.a[0].drill = 0;
    bv_am_object(&b, p, bv_am_labels(&m, &t.a[0], p));
    assert_null(strstr(b.p, "drill"));
    assert_null(strstr(b.p, "health"));
    bv_buf_reset(&b);
    bv_am_object(&b, p, bv_am_watchdog_labels(&m, p));
    assert_string_equal(b.p, "{\"alertname\":\"Watchdog\",\"event\":\"oud-en-nieuw\","
                             "\"severity\":\"none\"}");
    bv_buf_reset(&b);
    bv_sink_env env = {.console_url = "https://c.example/"};
    assert_int_equal(bv_am_console_link(&env, &t.a[0], &b), 1);
    snprintf(want, sizeof want, "https://c.example/alerts/%s", t.a[0].id);
    assert_string_equal(b.p, want);
    env.console_url = NULL;
    assert_int_equal(bv_am_console_link(&env, &t.a[0], &b), 0);
    bv_message one;
    bv_am_single(&m, 1, &one);
    assert_int_equal(one.nalerts, 1);
    assert_ptr_equal(one.alerts[0], &t.a[1]);
    assert_string_equal(one.key, t.keys[1]);
    bv_buf_free(&b);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_headers_body), cmocka_unit_test(test_classification),
        cmocka_unit_test(test_timeout_refused),   cmocka_unit_test(test_big_reply),
        cmocka_unit_test(test_free_in_flight),    cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_am_labels),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
