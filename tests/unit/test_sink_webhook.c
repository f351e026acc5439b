/* test_sink_webhook.c: the webhook sink against a receiver in the test's loop. Our JSON (alerts,
 * escalation, heartbeat: every field, parsed with yajl), the headers (Idempotency-Key,
 * User-Agent, Content-Type, headers_env), the Alertmanager webhook format (version 4, group and
 * common labels, times, fingerprint, Watchdog), outcomes (503 retried, 400 failed, refused
 * retried) without secrets in reasons or the label, and the constructor's refusals (unset
 * variable named, its value never shown). */
#include "testutil.h"

#include "hookutil.h"

#include "alert/render.h"
#include "alert/sink_http.h"
#include "core/timeutil.h"

#define NOW 1781287205000LL

static bv_target_conf conf_of(const char *url, const char *format, char **keys, char **vals,
                              size_t n)
{
    bv_target_conf t;
    memset(&t, 0, sizeof t);
    t.webhook = (char *)url;
    t.format = (char *)format;
    t.headers_env.keys = keys;
    t.headers_env.vals = vals;
    t.headers_env.n = n;
    return t;
}

static bv_sink *webhook(tu_env *e, const char *url, const char *format)
{
    static char *keys[] = {(char *)"Authorization", (char *)"X-Tenant"};
    static char *vals[] = {(char *)"BV_TEST_HOOK_AUTH", (char *)"BV_TEST_HOOK_TENANT"};
    setenv("BV_TEST_HOOK_AUTH", "Bearer hook-secret-42", 1);
    setenv("BV_TEST_HOOK_TENANT", "gemeente-groningen", 1);
    bv_target_conf t = conf_of(url, format, keys, vals, 2);
    char err[256] = "";
    bv_sink *s = bv_sink_webhook_new(&e->env, &t, err, sizeof err);
    if (s == NULL) {
        fail_msg("webhook: %s", err);
    }
    return s;
}

static long long jint(yajl_val v, const char *const *path)
{
    yajl_val n = yajl_tree_get(v, (const char **)path, yajl_t_number);
    assert_non_null(n);
    return YAJL_GET_INTEGER(n);
}

static int jbool(yajl_val v, const char *const *path)
{
    yajl_val b = yajl_tree_get(v, (const char **)path, yajl_t_any);
    assert_non_null(b);
    assert_true(YAJL_IS_TRUE(b) || YAJL_IS_FALSE(b));
    return YAJL_IS_TRUE(b);
}

static yajl_val jarr(yajl_val v, const char *const *path, size_t n)
{
    yajl_val a = yajl_tree_get(v, (const char **)path, yajl_t_array);
    assert_non_null(a);
    assert_int_equal(YAJL_GET_ARRAY(a)->len, n);
    return a;
}

static void check_headers(const tu_hook_req *q, const char *key)
{
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->uri, "/hooks/blikveld?tenant=x");
    assert_string_equal(tu_hook_header(q, "Content-Type"), "application/json");
    assert_string_equal(tu_hook_header(q, "User-Agent"), "blikveld");
    assert_string_equal(tu_hook_header(q, "Idempotency-Key"), key);
    assert_string_equal(tu_hook_header(q, "Authorization"), "Bearer hook-secret-42");
    assert_string_equal(tu_hook_header(q, "X-Tenant"), "gemeente-groningen");
}

static void test_blikveld_alerts(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    e.env.console_url = "https://blikveld.gemeente.example";
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    char url[160];
    snprintf(url, sizeof url, "http://u:pw@127.0.0.1:%d/hooks/blikveld?tenant=x", hk.port);
    bv_sink *s = webhook(&e, url, NULL);
    char want[160];
    snprintf(want, sizeof want, "webhook http://127.0.0.1:%d/hooks/blikveld", hk.port);
    assert_string_equal(s->label, want);
    assert_string_equal(s->ops->name, "webhook");

    tu_alerts t;
    tu_alerts_init(&t, 1, NOW);
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 2, 1, NOW);
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    assert_string_equal(d.reason, "HTTP 200");
    assert_int_equal(hk.n, 1);
    tu_hook_req *q = &hk.req[0];
    char key[128];
    snprintf(key, sizeof key, "%s/firing,%s/resolved", t.a[0].id, t.a[1].id);
    assert_string_equal(m.key, key);
    check_headers(q, key);

    yajl_val v = tu_json(q->body);
    assert_string_equal(tu_jstr(v, TU_P("type")), "notification");
    assert_string_equal(tu_jstr(v, TU_P("kind")), "alerts");
    assert_string_equal(tu_jstr(v, TU_P("event")), "oud-en-nieuw");
    assert_string_equal(tu_jstr(v, TU_P("group")), "police");
    assert_true(jbool(v, TU_P("drill")));
    char iso[BV_TIME_ISO_LEN];
    assert_string_equal(tu_jstr(v, TU_P("sent_at")), bv_time_format_iso8601(NOW, iso));
    assert_string_equal(tu_jstr(v, TU_P("key")), key);
    /* the text is the short rendering, at most 1000 bytes */
    bv_render_opts o = {.lang = BV_LANG_NL, .console_url = e.env.console_url};
    bv_buf text = BV_BUF_INIT;
    assert_int_equal(bv_render_short(&m, &o, 1000, &text), BV_OK);
    assert_string_equal(tu_jstr(v, TU_P("text")), text.p);
    assert_true(strlen(text.p) <= 1000);
    assert_non_null(strstr(text.p, "OEFENING"));
    bv_buf_free(&text);
    yajl_val alerts = jarr(v, TU_P("alerts"), 2);
    for (size_t i = 0; i < 2; i++) {
        yajl_val a = YAJL_GET_ARRAY(alerts)->values[i];
        assert_true(YAJL_IS_OBJECT(a));
        /* "key" first, then the alert's own JSON */
        assert_string_equal(YAJL_GET_OBJECT(a)->keys[0], "key");
        assert_string_equal(tu_jstr(a, TU_P("key")), t.keys[i]);
        assert_string_equal(tu_jstr(a, TU_P("type")), "alert");
        assert_string_equal(tu_jstr(a, TU_P("id")), t.a[i].id);
        assert_string_equal(tu_jstr(a, TU_P("rule")), i ? "dam-square" : "project-x");
        assert_string_equal(tu_jstr(a, TU_P("state")), i ? "resolved" : "firing");
        assert_true(jbool(a, TU_P("drill")));
        bv_buf one = BV_BUF_INIT;
        assert_int_equal(bv_alert_format_json(&t.a[i], &one), BV_OK);
        char head[96];
        snprintf(head, sizeof head, "{\"key\":\"%s\",", t.keys[i]);
        bv_buf both = BV_BUF_INIT;
        bv_buf_puts(&both, head);
        bv_buf_puts(&both, one.p + 1);
        assert_non_null(strstr(q->body, both.p)); /* byte for byte the alert's JSON */
        bv_buf_free(&one);
        bv_buf_free(&both);
    }
    assert_string_equal(tu_jstr(YAJL_GET_ARRAY(alerts)->values[1], TU_P("fired_at")),
                        bv_time_format_iso8601(NOW - 330000, iso));
    yajl_tree_free(v);

    /* an escalation */
    m = tu_message(&t, BV_MSG_ESCALATION, 0, 1, 1, NOW);
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    snprintf(key, sizeof key, "%s/escalated", t.a[0].id);
    check_headers(&hk.req[1], key);
    v = tu_json(hk.req[1].body);
    assert_string_equal(tu_jstr(v, TU_P("kind")), "escalation");
    assert_string_equal(tu_jstr(v, TU_P("key")), key);
    jarr(v, TU_P("alerts"), 1);
    assert_string_equal(
        tu_jstr(YAJL_GET_ARRAY(yajl_tree_get(v, (const char *[]){"alerts", NULL}, yajl_t_array))
                    ->values[0],
                TU_P("key")),
        key);
    yajl_tree_free(v);
    bv_sink_free(s);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_blikveld_heartbeat(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    char url[160];
    snprintf(url, sizeof url, "%s/hooks/blikveld?tenant=x", hk.url);
    bv_sink *s = webhook(&e, url, "blikveld");
    tu_alerts t;
    tu_alerts_init(&t, 0, NOW);
    t.ptr[1] = &t.a[2]; /* firing now: a[0] and a[2] */
    bv_message m = tu_message(&t, BV_MSG_HEARTBEAT, 0, 2, 0, NOW);
    m.every_ms = 60000;
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    check_headers(&hk.req[0], m.key);
    char want[64];
    snprintf(want, sizeof want, "heartbeat/oud-en-nieuw/%lld", NOW / 1000);
    assert_string_equal(tu_hook_header(&hk.req[0], "Idempotency-Key"), want);
    yajl_val v = tu_json(hk.req[0].body);
    char iso[BV_TIME_ISO_LEN];
    assert_string_equal(tu_jstr(v, TU_P("type")), "heartbeat");
    assert_string_equal(tu_jstr(v, TU_P("event")), "oud-en-nieuw");
    assert_string_equal(tu_jstr(v, TU_P("group")), "police");
    assert_false(jbool(v, TU_P("drill")));
    assert_string_equal(tu_jstr(v, TU_P("sent_at")), bv_time_format_iso8601(NOW, iso));
    assert_string_equal(tu_jstr(v, TU_P("next_within")), "1m");
    assert_int_equal(jint(v, TU_P("firing")), 2);
    assert_int_equal(YAJL_GET_OBJECT(v)->len, 7); /* nothing else */
    yajl_tree_free(v);
    bv_sink_free(s);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_alertmanager_format(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    e.env.console_url = "https://blikveld.gemeente.example/";
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    char url[160];
    snprintf(url, sizeof url, "%s/hooks/blikveld?tenant=x", hk.url);
    bv_sink *s = webhook(&e, url, "alertmanager");
    tu_alerts t;
    tu_alerts_init(&t, 1, NOW);
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 2, 1, NOW);
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    check_headers(&hk.req[0], m.key);
    yajl_val v = tu_json(hk.req[0].body);
    assert_string_equal(tu_jstr(v, TU_P("version")), "4");
    assert_string_equal(tu_jstr(v, TU_P("groupKey")),
                        "{}/{event=\"oud-en-nieuw\"}:{group=\"police\"}");
    assert_int_equal(jint(v, TU_P("truncatedAlerts")), 0);
    assert_string_equal(tu_jstr(v, TU_P("status")), "firing");
    assert_string_equal(tu_jstr(v, TU_P("receiver")), "police");
    assert_string_equal(tu_jstr(v, TU_P("groupLabels", "group")), "police");
    assert_int_equal(
        YAJL_GET_OBJECT(yajl_tree_get(v, (const char *[]){"groupLabels", NULL}, yajl_t_object))
            ->len,
        1);
    /* common: what both alerts share (not the rule, severity or id) */
    yajl_val cl = yajl_tree_get(v, (const char *[]){"commonLabels", NULL}, yajl_t_object);
    assert_non_null(cl);
    assert_int_equal(YAJL_GET_OBJECT(cl)->len, 2);
    assert_string_equal(tu_jstr(cl, TU_P("event")), "oud-en-nieuw");
    assert_string_equal(tu_jstr(cl, TU_P("drill")), "true");
    yajl_val ca = yajl_tree_get(v, (const char *[]){"commonAnnotations", NULL}, yajl_t_object);
    assert_non_null(ca);
    assert_int_equal(YAJL_GET_OBJECT(ca)->len, 0);
    assert_string_equal(tu_jstr(v, TU_P("externalURL")), "https://blikveld.gemeente.example/");
    yajl_val alerts = jarr(v, TU_P("alerts"), 2);
    char iso[BV_TIME_ISO_LEN], link[160], fp[17];
    for (size_t i = 0; i < 2; i++) {
        yajl_val a = YAJL_GET_ARRAY(alerts)->values[i];
        assert_string_equal(tu_jstr(a, TU_P("status")), i ? "resolved" : "firing");
        assert_string_equal(tu_jstr(a, TU_P("labels", "alertname")), t.a[i].rule->id);
        assert_string_equal(tu_jstr(a, TU_P("labels", "rule")), t.a[i].rule->id);
        assert_string_equal(tu_jstr(a, TU_P("labels", "event")), "oud-en-nieuw");
        assert_string_equal(tu_jstr(a, TU_P("labels", "severity")), i ? "warning" : "critical");
        assert_string_equal(tu_jstr(a, TU_P("labels", "blikveld_id")), t.a[i].id);
        assert_string_equal(tu_jstr(a, TU_P("labels", "drill")), "true");
        assert_string_equal(tu_jstr(a, TU_P("annotations", "title")), t.a[i].rule->title);
        bv_message one;
        bv_am_single(&m, i, &one);
        bv_render_opts o = {.lang = BV_LANG_NL, .console_url = e.env.console_url};
        bv_buf text = BV_BUF_INIT;
        bv_render_short(&one, &o, 1000, &text);
        assert_string_equal(tu_jstr(a, TU_P("annotations", "summary")), text.p);
        bv_buf_free(&text);
        assert_string_equal(tu_jstr(a, TU_P("startsAt")),
                            bv_time_format_iso8601(i ? NOW - 330000 : NOW - 30000, iso));
        assert_string_equal(tu_jstr(a, TU_P("endsAt")),
                            i ? bv_time_format_iso8601(NOW - 30000, iso) : "0001-01-01T00:00:00Z");
        snprintf(link, sizeof link, "https://blikveld.gemeente.example/alerts/%s", t.a[i].id);
        assert_string_equal(tu_jstr(a, TU_P("generatorURL")), link);
        snprintf(fp, sizeof fp, "%.16s", t.a[i].id);
        assert_string_equal(tu_jstr(a, TU_P("fingerprint")), fp);
    }
    yajl_tree_free(v);

    /* all resolved: status resolved; no console: empty URLs; same rule: common title */
    e.env.console_url = NULL;
    t.a[0].state = BV_ALERT_RESOLVED;
    t.a[0].since_ms = NOW - 90000;
    t.a[1].rule = &t.rule;
    m = tu_message(&t, BV_MSG_ALERTS, 0, 2, 0, NOW);
    t.a[0].drill = t.a[1].drill = 0;
    tu_deliver(&e, s, &m, &d);
    v = tu_json(hk.req[1].body);
    assert_string_equal(tu_jstr(v, TU_P("status")), "resolved");
    assert_string_equal(tu_jstr(v, TU_P("externalURL")), "");
    assert_string_equal(tu_jstr(v, TU_P("commonLabels", "alertname")), "project-x");
    assert_string_equal(tu_jstr(v, TU_P("commonAnnotations", "title")), "Project X-oproep");
    assert_null(yajl_tree_get(v, (const char *[]){"commonLabels", "drill", NULL}, yajl_t_any));
    alerts = jarr(v, TU_P("alerts"), 2);
    assert_string_equal(tu_jstr(YAJL_GET_ARRAY(alerts)->values[0], TU_P("generatorURL")), "");
    assert_null(yajl_tree_get(YAJL_GET_ARRAY(alerts)->values[0],
                              (const char *[]){"labels", "drill", NULL}, yajl_t_any));
    yajl_tree_free(v);

    /* the heartbeat: one Watchdog alert */
    m = tu_message(&t, BV_MSG_HEARTBEAT, 0, 0, 1, NOW);
    tu_deliver(&e, s, &m, &d);
    v = tu_json(hk.req[2].body);
    assert_string_equal(tu_jstr(v, TU_P("status")), "firing");
    alerts = jarr(v, TU_P("alerts"), 1);
    yajl_val w = YAJL_GET_ARRAY(alerts)->values[0];
    assert_string_equal(tu_jstr(w, TU_P("status")), "firing");
    assert_string_equal(tu_jstr(w, TU_P("labels", "alertname")), "Watchdog");
    assert_string_equal(tu_jstr(w, TU_P("labels", "severity")), "none");
    assert_string_equal(tu_jstr(w, TU_P("labels", "event")), "oud-en-nieuw");
    assert_string_equal(tu_jstr(w, TU_P("labels", "drill")), "true");
    assert_string_equal(tu_jstr(w, TU_P("startsAt")), bv_time_format_iso8601(NOW, iso));
    assert_string_equal(tu_jstr(w, TU_P("endsAt")), "0001-01-01T00:00:00Z");
    assert_int_equal(strlen(tu_jstr(w, TU_P("fingerprint"))), 16);
    assert_true(strlen(tu_jstr(w, TU_P("annotations", "summary"))) > 0);
    yajl_tree_free(v);
    bv_sink_free(s);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_outcomes(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    char url[160];
    snprintf(url, sizeof url, "%s/hooks/blikveld?tenant=x", hk.url);
    bv_sink *s = webhook(&e, url, NULL);
    tu_alerts t;
    tu_alerts_init(&t, 0, NOW);
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 1, 0, NOW);
    tu_hook_reply script[] = {
        {503, "Bearer hook-secret-42", NULL}, {400, "bad", NULL}, {204, "", NULL}, {429, "", NULL}};
    tu_hook_script(&hk, script, 4);
    static const bv_sink_result want[] = {BV_SINK_RETRY, BV_SINK_FAIL, BV_SINK_OK, BV_SINK_RETRY};
    static const char *const reason[] = {"HTTP 503", "HTTP 400", "HTTP 204", "HTTP 429"};
    tu_done d;
    for (int i = 0; i < 4; i++) {
        tu_deliver(&e, s, &m, &d);
        assert_int_equal(d.r, want[i]);
        assert_string_equal(d.reason, reason[i]);
        /* the same key every time: the receiver drops duplicates */
        assert_string_equal(tu_hook_header(&hk.req[i], "Idempotency-Key"), m.key);
    }
    bv_sink_free(s);
    /* a refused connection */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/x?token=zzz", tu_closed_port());
    s = webhook(&e, url, NULL);
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_RETRY);
    assert_string_equal(d.reason, "connection refused");
    assert_null(strstr(s->label, "zzz"));
    /* a message without alerts cannot start */
    m.nalerts = 0;
    assert_int_equal(bv_sink_deliver(s, &m, tu_on_done, &d), BV_EINVAL);
    /* freed with a delivery in flight: done is never called */
    bv_sink_free(s);
    tu_hook_reply hold = {0, NULL, NULL};
    tu_hook_script(&hk, &hold, 1);
    snprintf(url, sizeof url, "%s/hooks/blikveld?tenant=x", hk.url);
    s = webhook(&e, url, NULL);
    m.nalerts = 1;
    memset(&d, 0, sizeof d);
    assert_int_equal(bv_sink_deliver(s, &m, tu_on_done, &d), BV_OK);
    tu_run_until(e.base, &hk.n);
    bv_sink_free(s);
    event_base_loop(e.base, EVLOOP_NONBLOCK);
    assert_int_equal(d.calls, 0);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_refusals(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    char err[256];
    char *keys[] = {(char *)"Authorization"};
    char *vals[] = {(char *)"BV_TEST_HOOK_UNSET"};
    unsetenv("BV_TEST_HOOK_UNSET");
    bv_target_conf t = conf_of("https://meldkamer.example/hooks", NULL, keys, vals, 1);
    assert_null(bv_sink_webhook_new(&e.env, &t, err, sizeof err));
    assert_string_equal(err,
                        "webhook header Authorization: environment variable BV_TEST_HOOK_UNSET "
                        "is not set");
    setenv("BV_TEST_HOOK_UNSET", "", 1);
    assert_null(bv_sink_webhook_new(&e.env, &t, err, sizeof err));
    assert_non_null(strstr(err, "BV_TEST_HOOK_UNSET is empty"));
    setenv("BV_TEST_HOOK_UNSET", "Bearer x\r\nX-Evil: injected", 1);
    assert_null(bv_sink_webhook_new(&e.env, &t, err, sizeof err));
    assert_non_null(strstr(err, "BV_TEST_HOOK_UNSET"));
    assert_null(strstr(err, "Evil"));
    setenv("BV_TEST_HOOK_UNSET", "fine", 1);
    keys[0] = (char *)"Idempotency-Key";
    assert_null(bv_sink_webhook_new(&e.env, &t, err, sizeof err));
    assert_string_equal(err, "webhook: headers_env: Idempotency-Key is set by blikveld");
    keys[0] = (char *)"Bad Header";
    assert_null(bv_sink_webhook_new(&e.env, &t, err, sizeof err));
    assert_string_equal(err, "webhook: headers_env: Bad Header is not a header name");
    keys[0] = (char *)"Authorization";
    t.format = (char *)"prometheus";
    assert_null(bv_sink_webhook_new(&e.env, &t, err, sizeof err));
    assert_string_equal(err, "webhook: format is blikveld or alertmanager");
    t.format = NULL;
    t.webhook = (char *)"file:///etc/passwd";
    assert_null(bv_sink_webhook_new(&e.env, &t, err, sizeof err));
    assert_string_equal(err, "webhook: not an http:// or https:// URL");
    t.webhook = (char *)"https://meldkamer.example/hooks";
    bv_sink_env noloop = {.language = "nl"};
    assert_null(bv_sink_webhook_new(&noloop, &t, err, sizeof err));
    assert_string_equal(err, "webhook: needs the event loop");
    bv_sink *s = bv_sink_webhook_new(&e.env, &t, err, sizeof err);
    assert_non_null(s);
    bv_sink_free(s);
    tu_env_free(&e);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blikveld_alerts),
        cmocka_unit_test(test_blikveld_heartbeat),
        cmocka_unit_test(test_alertmanager_format),
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_refusals),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
