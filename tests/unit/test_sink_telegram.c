/* test_sink_telegram.c: the Telegram sink against a fake Bot API in the test's loop: the request
 * (POST /botTOKEN/sendMessage, JSON chat_id, text of at most 4000 bytes,
 * disable_web_page_preview), the Bot API's JSON answers (ok; 429 with retry_after retried; 400
 * and 403 failed with their description, shortened and printable; 5xx retried), the token kept
 * out of the label and every reason, the constructor's refusals, and the reply classifier on
 * garbage. */
#include "testutil.h"

#include "hookutil.h"

#include "alert/render.h"
#include "alert/sink_http.h"

#define NOW 1781287205000LL
#define TOKEN "123456:ABC-token_x"

static bv_sink *telegram(tu_env *e, const char *api, const char *chat, char *err, size_t errlen)
{
    setenv("BV_TEST_TG_TOKEN", TOKEN, 1);
    bv_telegram_conf c = {
        .chat_id = (char *)chat, .token_env = (char *)"BV_TEST_TG_TOKEN", .api = (char *)api};
    return bv_sink_telegram_new(&e->env, &c, err, errlen);
}

static void test_send(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    char api[128], err[256];
    snprintf(api, sizeof api, "%s/", hk.url);
    bv_sink *s = telegram(&e, api, "-1001234567890", err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s->label, "telegram chat -1001234567890");

    tu_hook_reply script[] = {
        {200, "{\"ok\":true,\"result\":{\"message_id\":7}}", "application/json"},
        {429,
         "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after "
         "7\",\"parameters\":{\"retry_after\":7}}",
         "application/json"},
        {400, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}",
         "application/json"},
        {403,
         "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot was blocked by the "
         "user\"}",
         "application/json"},
        {502, "<html><body>Bad Gateway</body></html>", "text/html"},
        {401, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized " TOKEN "\"}",
         "application/json"},
        {400,
         "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: message text is "
         "empty \\u00e9\\n\\u0007 and then a very long tail that goes on and on and on and on "
         "and on and on and on and on\"}",
         "application/json"},
        {500, "{\"ok\":false,\"error_code\":500,\"description\":\"Internal Server Error\"}",
         "application/json"},
    };
    static const struct {
        bv_sink_result r;
        const char *reason;
    } want[] = {
        {BV_SINK_OK, "HTTP 200"},
        {BV_SINK_RETRY, "HTTP 429: retry after 7s"},
        {BV_SINK_FAIL, "HTTP 400: Bad Request: chat not found"},
        {BV_SINK_FAIL, "HTTP 403: Forbidden: bot was blocked by the user"},
        {BV_SINK_RETRY, "HTTP 502"},
        {BV_SINK_FAIL, "HTTP 401"}, /* a description showing the token is dropped */
        {BV_SINK_FAIL, "HTTP 400: Bad Request: message text is empty ? ? and then a very long "
                       "tail that goes on and on and on..."},
        {BV_SINK_RETRY, "HTTP 500: Internal Server Error"},
    };
    size_t n = sizeof script / sizeof script[0];
    tu_hook_script(&hk, script, (int)n);
    tu_alerts t;
    tu_alerts_init(&t, 1, NOW);
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 1, 1, NOW);
    for (size_t i = 0; i < n; i++) {
        tu_done d;
        tu_deliver(&e, s, &m, &d);
        assert_int_equal(d.r, want[i].r);
        assert_string_equal(d.reason, want[i].reason);
        assert_null(strstr(d.reason, "ABC-token"));
    }
    tu_hook_req *q = &hk.req[0];
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->uri, "/bot" TOKEN "/sendMessage");
    assert_string_equal(tu_hook_header(q, "Content-Type"), "application/json");
    yajl_val v = tu_json(q->body);
    assert_int_equal(YAJL_GET_OBJECT(v)->len, 3);
    assert_string_equal(tu_jstr(v, TU_P("chat_id")), "-1001234567890");
    bv_render_opts o = {.lang = BV_LANG_NL};
    bv_buf text = BV_BUF_INIT;
    assert_int_equal(bv_render_short(&m, &o, 4000, &text), BV_OK);
    assert_string_equal(tu_jstr(v, TU_P("text")), text.p);
    assert_non_null(strstr(text.p, "OEFENING"));
    bv_buf_free(&text);
    yajl_val p = yajl_tree_get(v, (const char *[]){"disable_web_page_preview", NULL}, yajl_t_any);
    assert_true(p && YAJL_IS_TRUE(p));
    yajl_tree_free(v);
    assert_null(strstr(s->label, "ABC"));
    bv_sink_free(s);

    /* @channel names; a refused connection */
    snprintf(api, sizeof api, "http://127.0.0.1:%d", tu_closed_port());
    s = telegram(&e, api, "@gemeente_crisis", err, sizeof err);
    assert_non_null(s);
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_RETRY);
    assert_string_equal(d.reason, "connection refused");
    bv_sink_free(s);
    tu_hook_free(&hk);
    tu_env_free(&e);
}

static void test_refusals(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    char err[256];
    assert_null(telegram(&e, NULL, "not a chat", err, sizeof err));
    assert_string_equal(err, "telegram: chat_id is a number (-1001234567890) or @channel");
    assert_null(telegram(&e, "api.telegram.org", "-100", err, sizeof err));
    assert_string_equal(err, "telegram: api is not an http:// or https:// URL");
    unsetenv("BV_TEST_TG_UNSET");
    bv_telegram_conf c = {.chat_id = (char *)"-100", .token_env = (char *)"BV_TEST_TG_UNSET"};
    assert_null(bv_sink_telegram_new(&e.env, &c, err, sizeof err));
    assert_string_equal(err,
                        "telegram token_env: environment variable BV_TEST_TG_UNSET is not set");
    setenv("BV_TEST_TG_UNSET", "123:abc/../../x", 1);
    assert_null(bv_sink_telegram_new(&e.env, &c, err, sizeof err));
    assert_string_equal(err, "telegram: environment variable BV_TEST_TG_UNSET holds no bot token");
    assert_null(strstr(err, "abc"));
    /* the default API */
    bv_sink *s = telegram(&e, NULL, "-100", err, sizeof err);
    assert_non_null(s);
    bv_sink_free(s);
    tu_env_free(&e);
}

static void test_classify(void **state)
{
    (void)state;
    char r[128];
    static const struct {
        long status;
        const char *body;
        bv_sink_result want;
        const char *reason;
    } cases[] = {
        {200, "{\"ok\":true}", BV_SINK_OK, "HTTP 200"},
        {200, "", BV_SINK_OK, "HTTP 200"},
        {200, "{\"ok\":false,\"error_code\":400,\"description\":\"x\"}", BV_SINK_FAIL,
         "HTTP 200: x"},
        {429, "not json", BV_SINK_RETRY, "HTTP 429"},
        {429, "{\"ok\":false,\"error_code\":429}", BV_SINK_RETRY, "HTTP 429: too many requests"},
        {429, "{\"ok\":false,\"error_code\":429,\"parameters\":{\"retry_after\":-5}}",
         BV_SINK_RETRY, "HTTP 429: too many requests"},
        {400, "{\"ok\":false,\"error_code\":\"400\",\"description\":7}", BV_SINK_FAIL, "HTTP 400"},
        {400, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", BV_SINK_FAIL, "HTTP 400"},
        {400, "{\"ok\":false /* comment */}", BV_SINK_FAIL, "HTTP 400"},
        {404, "{\"ok\":\"false\"}", BV_SINK_FAIL, "HTTP 404"},
        {503, "[]", BV_SINK_RETRY, "HTTP 503"},
        {0, "{}", BV_SINK_FAIL, "HTTP 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bv_sink_result got = bv_telegram_reply_classify(cases[i].status, cases[i].body,
                                                        strlen(cases[i].body), TOKEN, r, sizeof r);
        assert_int_equal(got, cases[i].want);
        assert_string_equal(r, cases[i].reason);
    }
    /* a body that is not NUL-terminated */
    const char raw[] = "{\"ok\":true}XXXX";
    assert_int_equal(bv_telegram_reply_classify(200, raw, 11, NULL, r, sizeof r), BV_SINK_OK);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_classify),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
