/* test_sink_slack.c: the Slack / Mattermost sink against a receiver in the test's loop: the
 * request (POST to the hook's path, JSON {"text": short text of at most 3000 bytes}), answers as
 * Slack and Mattermost give them (200 "ok"; 400 invalid_payload, 404 no_service fail with the
 * word; 500 rollup_error, 429 and a refused connection are retried), and the hook's secret path
 * kept out of the label and every reason. */
#include "testutil.h"

#include "hookutil.h"

#include "alert/render.h"
#include "alert/sink_http.h"

#define NOW 1781287205000LL

static void test_slack(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    e.env.language = "en";
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    char url[160];
    snprintf(url, sizeof url, "%s/services/T000/B000/XXXSECRET", hk.url);
    char err[256];
    bv_sink *s = bv_sink_slack_new(&e.env, url, err, sizeof err);
    assert_non_null(s);
    char want[160];
    snprintf(want, sizeof want, "slack %s", hk.url);
    assert_string_equal(s->label, want);
    assert_string_equal(s->ops->name, "slack");

    tu_alerts t;
    tu_alerts_init(&t, 0, NOW);
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 2, 0, NOW);
    tu_hook_reply script[] = {
        {200, "ok", NULL},
        {400, "invalid_payload", NULL},
        {404, "no_service", NULL},
        {500, "rollup_error", NULL},
        {429, "", NULL},
        {403, "Invalid Token XXXSECRET", NULL}, /* not one word: not repeated */
        {301, "", NULL},
    };
    static const struct {
        bv_sink_result r;
        const char *reason;
    } want_r[] = {
        {BV_SINK_OK, "HTTP 200"},
        {BV_SINK_FAIL, "HTTP 400 invalid_payload"},
        {BV_SINK_FAIL, "HTTP 404 no_service"},
        {BV_SINK_RETRY, "HTTP 500 rollup_error"},
        {BV_SINK_RETRY, "HTTP 429"},
        {BV_SINK_FAIL, "HTTP 403"},
        {BV_SINK_FAIL, "HTTP 301 (redirect not followed)"},
    };
    size_t n = sizeof script / sizeof script[0];
    tu_hook_script(&hk, script, (int)n);
    for (size_t i = 0; i < n; i++) {
        tu_done d;
        tu_deliver(&e, s, &m, &d);
        assert_int_equal(d.r, want_r[i].r);
        assert_string_equal(d.reason, want_r[i].reason);
        assert_null(strstr(d.reason, "SECRET"));
    }
    tu_hook_req *q = &hk.req[0];
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->uri, "/services/T000/B000/XXXSECRET");
    assert_string_equal(tu_hook_header(q, "Content-Type"), "application/json");
    assert_string_equal(tu_hook_header(q, "User-Agent"), "blikveld");
    yajl_val v = tu_json(q->body);
    assert_true(YAJL_IS_OBJECT(v));
    assert_int_equal(YAJL_GET_OBJECT(v)->len, 1);
    bv_render_opts o = {.lang = BV_LANG_EN};
    bv_buf text = BV_BUF_INIT;
    assert_int_equal(bv_render_short(&m, &o, 3000, &text), BV_OK);
    assert_string_equal(tu_jstr(v, TU_P("text")), text.p);
    bv_buf_free(&text);
    yajl_tree_free(v);

    /* a long message is cut to 3000 bytes */
    bv_alert many[40];
    const bv_alert *ptr[40];
    for (int i = 0; i < 40; i++) {
        many[i] = t.a[0];
        ptr[i] = &many[i];
    }
    m.alerts = ptr;
    m.nalerts = 40;
    m.keys = NULL;
    tu_hook_script(&hk, script, 1);
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    v = tu_json(hk.req[0].body);
    assert_true(strlen(tu_jstr(v, TU_P("text"))) <= 3000);
    yajl_tree_free(v);
    bv_sink_free(s);

    /* refused: retried; the URL's path is in no reason */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/services/T000/B000/XXXSECRET", tu_closed_port());
    s = bv_sink_slack_new(&e.env, url, err, sizeof err);
    m = tu_message(&t, BV_MSG_HEARTBEAT, 0, 1, 0, NOW);
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_RETRY);
    assert_string_equal(d.reason, "connection refused");
    assert_null(strstr(s->label, "SECRET"));
    bv_sink_free(s);

    assert_null(bv_sink_slack_new(&e.env, "hooks.slack.example/x", err, sizeof err));
    assert_string_equal(err, "slack: not an http:// or https:// URL");
    tu_hook_free(&hk);
    tu_env_free(&e);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
