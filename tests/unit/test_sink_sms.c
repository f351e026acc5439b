/* test_sink_sms.c: the SMS gateway sink against a receiver in the test's loop: one request per
 * number with the Bearer token; the JSON template (values escaped, body parsed with yajl), form
 * encoding of '+', '&', spaces and UTF-8 in POST bodies and in a GET's query; the text cut to
 * max_chars; two numbers where the second is refused (FAIL), fails for now (RETRY), or both;
 * reasons naming positions, never numbers or the token; and the constructor's refusals. */
#include "testutil.h"

#include "hookutil.h"

#include "alert/render.h"
#include "alert/sink_http.h"

#define NOW 1781287205000LL
#define NR1 "+31612345678"
#define NR2 "+31687654321"

static int second_status, first_status;

/* The gateway answers by number: the second's status is the test's to choose. */
static tu_hook_reply by_number(tu_hook *h, const tu_hook_req *q)
{
    (void)h;
    int second = strstr(q->body, "87654321") || strstr(q->uri, "87654321");
    tu_hook_reply r = {second ? second_status : first_status, "{\"status\":\"queued\"}",
                       "application/json"};
    return r;
}

static bv_sink *sms(tu_env *e, const char *gateway, const char *method, const char *ctype,
                    const char *body, int64_t max_chars)
{
    static char *to[] = {(char *)NR1, (char *)NR2};
    setenv("BV_TEST_SMS_TOKEN", "sms-token-77", 1);
    bv_sms_conf c = {.gateway = (char *)gateway,
                     .token_env = (char *)"BV_TEST_SMS_TOKEN",
                     .to = {to, 2},
                     .method = (char *)method,
                     .content_type = (char *)ctype,
                     .body = (char *)body,
                     .max_chars = max_chars};
    char err[256];
    bv_sink *s = bv_sink_sms_new(&e->env, &c, err, sizeof err);
    if (s == NULL) {
        fail_msg("sms: %s", err);
    }
    return s;
}

/* Request i's value of a form field (decoded), from its body or its query. */
static char *form_value(const tu_hook_req *q, const char *name)
{
    const char *qs = q->len ? q->body : strchr(q->uri, '?') + 1;
    struct evkeyvalq kv;
    assert_int_equal(evhttp_parse_query_str(qs, &kv), 0);
    const char *v = evhttp_find_header(&kv, name);
    char *out = v ? strdup(v) : NULL;
    evhttp_clear_headers(&kv);
    return out;
}

static void test_json(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    hk.pick = by_number;
    first_status = second_status = 200;
    char url[160];
    snprintf(url, sizeof url, "%s/api/send", hk.url);
    bv_sink *s = sms(&e, url, NULL, NULL, NULL, 0);
    char want[200];
    snprintf(want, sizeof want, "sms %s/api/send (2 numbers)", hk.url);
    assert_string_equal(s->label, want);
    tu_alerts t;
    tu_alerts_init(&t, 1, NOW);
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 2, 1, NOW);
    bv_render_opts o = {.lang = BV_LANG_NL};
    bv_buf text = BV_BUF_INIT;
    assert_int_equal(bv_render_short(&m, &o, 320, &text), BV_OK);
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    assert_string_equal(d.reason, "sent to 2 numbers");
    assert_int_equal(hk.n, 2);
    int seen1 = 0, seen2 = 0;
    for (int i = 0; i < 2; i++) {
        tu_hook_req *q = &hk.req[i];
        assert_string_equal(q->method, "POST");
        assert_string_equal(q->uri, "/api/send");
        assert_string_equal(tu_hook_header(q, "Content-Type"), "application/json");
        assert_string_equal(tu_hook_header(q, "Authorization"), "Bearer sms-token-77");
        assert_string_equal(tu_hook_header(q, "User-Agent"), "blikveld");
        yajl_val v = tu_json(q->body);
        assert_int_equal(YAJL_GET_OBJECT(v)->len, 2);
        const char *to = tu_jstr(v, TU_P("to"));
        seen1 += strcmp(to, NR1) == 0;
        seen2 += strcmp(to, NR2) == 0;
        assert_string_equal(tu_jstr(v, TU_P("text")), text.p); /* quotes, newlines escaped */
        assert_true(strlen(tu_jstr(v, TU_P("text"))) <= 320);
        yajl_tree_free(v);
    }
    assert_int_equal(seen1, 1);
    assert_int_equal(seen2, 1);
    bv_buf_free(&text);

    /* the second number refused for good: FAIL; for now: RETRY; both: RETRY */
    static const struct {
        int first, second;
        bv_sink_result r;
        const char *reason;
    } cases[] = {
        {200, 400, BV_SINK_FAIL, "number 2 of 2: HTTP 400"},
        {200, 503, BV_SINK_RETRY, "number 2 of 2: HTTP 503"},
        {400, 429, BV_SINK_RETRY, "2 of 2 numbers failed; number 2 of 2: HTTP 429"},
        {404, 403, BV_SINK_FAIL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        first_status = cases[i].first;
        second_status = cases[i].second;
        hk.n = 0;
        tu_deliver(&e, s, &m, &d);
        assert_int_equal(hk.n, 2); /* done only after both answered */
        assert_int_equal(d.r, cases[i].r);
        if (cases[i].reason) {
            assert_string_equal(d.reason, cases[i].reason);
        } else {
            assert_non_null(strstr(d.reason, "2 of 2 numbers failed; number "));
        }
        assert_null(strstr(d.reason, "8765"));
        assert_null(strstr(d.reason, "sms-token"));
    }
    bv_sink_free(s);

    /* freed with requests in flight: no done */
    first_status = second_status = 0; /* held */
    hk.n = 0;
    s = sms(&e, url, "post", "application/json; charset=utf-8", NULL, 0);
    memset(&d, 0, sizeof d);
    assert_int_equal(bv_sink_deliver(s, &m, tu_on_done, &d), BV_OK);
    for (int i = 0; i < 100000 && hk.n < 2; i++) {
        event_base_loop(e.base, EVLOOP_ONCE);
    }
    assert_int_equal(hk.n, 2);
    assert_string_equal(tu_hook_header(&hk.req[0], "Content-Type"),
                        "application/json; charset=utf-8");
    bv_sink_free(s);
    event_base_loop(e.base, EVLOOP_NONBLOCK);
    assert_int_equal(d.calls, 0);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_form_and_get(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    hk.pick = by_number;
    first_status = second_status = 200;
    tu_alerts t;
    tu_alerts_init(&t, 0, NOW);
    t.rule.title = (char *)"Feest + drukte & caf\xc3\xa9 \"Dam\"";
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 1, 0, NOW);
    bv_render_opts o = {.lang = BV_LANG_NL};
    bv_buf text = BV_BUF_INIT;
    assert_int_equal(bv_render_short(&m, &o, 160, &text), BV_OK);
    assert_non_null(strstr(text.p, "Feest + drukte & caf\xc3\xa9"));

    char url[160];
    snprintf(url, sizeof url, "%s/api/send", hk.url);
    bv_sink *s = sms(&e, url, "POST", "application/x-www-form-urlencoded",
                     "phone={{to}}&msg={{text}}&keep={{other}}", 160);
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    for (int i = 0; i < 2; i++) {
        tu_hook_req *q = &hk.req[i];
        assert_string_equal(tu_hook_header(q, "Content-Type"), "application/x-www-form-urlencoded");
        /* the raw bytes: '+' %2B, '&' %26, space '+', UTF-8 %C3%A9 */
        assert_non_null(strstr(q->body, "Feest+%2B+drukte+%26+caf%C3%A9+%22Dam%22"));
        assert_true(strncmp(q->body, "phone=%2B316", 12) == 0);
        assert_non_null(strstr(q->body, "&keep={{other}}"));
        char *phone = form_value(q, "phone");
        char *msg = form_value(q, "msg");
        assert_true(strcmp(phone, NR1) == 0 || strcmp(phone, NR2) == 0);
        assert_string_equal(msg, text.p);
        free(phone);
        free(msg);
    }
    bv_sink_free(s);

    /* GET: the template is the query, added to the gateway's own */
    snprintf(url, sizeof url, "%s/api/send?user=blikveld", hk.url);
    hk.n = 0;
    s = sms(&e, url, "GET", NULL, NULL, 160);
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    for (int i = 0; i < 2; i++) {
        tu_hook_req *q = &hk.req[i];
        assert_string_equal(q->method, "GET");
        assert_int_equal(q->len, 0);
        assert_true(strncmp(q->uri, "/api/send?user=blikveld&to=%2B316", 33) == 0);
        assert_string_equal(tu_hook_header(q, "Authorization"), "Bearer sms-token-77");
        char *msg = form_value(q, "text");
        char *user = form_value(q, "user");
        assert_string_equal(msg, text.p);
        assert_string_equal(user, "blikveld");
        free(msg);
        free(user);
    }
    bv_sink_free(s);

    /* max_chars cuts the text */
    hk.n = 0;
    snprintf(url, sizeof url, "%s/api/send", hk.url);
    s = sms(&e, url, NULL, NULL, NULL, 70);
    tu_deliver(&e, s, &m, &d);
    yajl_val v = tu_json(hk.req[0].body);
    const char *sent = tu_jstr(v, TU_P("text"));
    assert_true(strlen(sent) <= 70);
    assert_true(strlen(sent) > 0);
    yajl_tree_free(v);
    bv_sink_free(s);
    bv_buf_free(&text);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_refusals(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    char err[256];
    char *to[] = {(char *)NR1, (char *)"06-1234"};
    bv_sms_conf c = {.gateway = (char *)"https://sms.example/api", .to = {to, 1}};
    bv_sink *s = bv_sink_sms_new(&e.env, &c, err, sizeof err);
    assert_non_null(s); /* no token: no Authorization */
    assert_string_equal(s->label, "sms https://sms.example/api (1 number)");
    bv_sink_free(s);
    c.to.n = 2;
    assert_null(bv_sink_sms_new(&e.env, &c, err, sizeof err));
    assert_string_equal(err, "sms: to: item 2 is not a phone number like +31612345678");
    c.to.n = 0;
    assert_null(bv_sink_sms_new(&e.env, &c, err, sizeof err));
    assert_string_equal(err, "sms: to names no number");
    c.to.n = 1;
    c.method = (char *)"PUT";
    assert_null(bv_sink_sms_new(&e.env, &c, err, sizeof err));
    assert_string_equal(err, "sms: method is POST or GET");
    c.method = NULL;
    c.content_type = (char *)"text/xml";
    assert_null(bv_sink_sms_new(&e.env, &c, err, sizeof err));
    assert_string_equal(
        err, "sms: content_type is application/json or application/x-www-form-urlencoded");
    c.content_type = NULL;
    c.token_env = (char *)"BV_TEST_SMS_UNSET";
    unsetenv("BV_TEST_SMS_UNSET");
    assert_null(bv_sink_sms_new(&e.env, &c, err, sizeof err));
    assert_string_equal(err, "sms token_env: environment variable BV_TEST_SMS_UNSET is not set");
    setenv("BV_TEST_SMS_UNSET", "tok\nX: y", 1);
    assert_null(bv_sink_sms_new(&e.env, &c, err, sizeof err));
    assert_string_equal(err,
                        "sms: environment variable BV_TEST_SMS_UNSET holds a control character");
    c.token_env = NULL;
    c.gateway = (char *)"sms.example";
    assert_null(bv_sink_sms_new(&e.env, &c, err, sizeof err));
    assert_string_equal(err, "sms: gateway is not an http:// or https:// URL");
    tu_env_free(&e);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_form_and_get),
        cmocka_unit_test(test_refusals),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
