/* test_telegram.c: the Telegram getUpdates source against a fake Bot API in the same loop
 * (evhttp), answering with the recorded payloads in tests/fixtures/platforms/telegram. The server
 * checks the path (with the token), the offset of every poll and the allowed updates; it fails
 * the test when one is wrong. Covered: two batches, the offset confirmed and written to the state
 * dir, 429 with retry_after, an empty long poll, 409 as failed, and a restart resuming from the
 * saved offset. */
#include "testutil.h"

#include "httputil.h"

#include "codec/codec.h"
#include "core/err.h"
#include "core/file.h"
#include "engine/pseudo.h"
#include "net/curl_loop.h"
#include "source/telegram.h"

#include <event2/keyvalq_struct.h>
#include <unistd.h>

typedef struct fake {
    int requests, wrong;
    char offsets[8][32]; /* the offset each poll asked for ("" when none) */
    char *batch1, *batch2, *flood, *conflict;
    int resume; /* a restarted source: only checks the offset, then 409 */
} fake;

static void reply(struct evhttp_request *req, int code, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    fake *f = arg;
    int n = f->requests++;
    const char *uri = evhttp_request_get_uri(req);
    const char *q = strchr(uri, '?');
    if (strncmp(uri, "/bot123456:ABC-token/getUpdates?", 32) != 0 || q == NULL) {
        f->wrong++;
        reply(req, 404, "{\"ok\":false,\"error_code\":404,\"description\":\"Not Found\"}");
        return;
    }
    struct evkeyvalq params;
    evhttp_parse_query_str(q + 1, &params);
    const char *off = evhttp_find_header(&params, "offset");
    const char *allowed = evhttp_find_header(&params, "allowed_updates");
    const char *timeout = evhttp_find_header(&params, "timeout");
    if (n < 8) {
        snprintf(f->offsets[n], sizeof f->offsets[n], "%s", off ? off : "");
    }
    if (allowed == NULL || strstr(allowed, "\"channel_post\"") == NULL || timeout == NULL ||
        strcmp(timeout, "1") != 0) {
        f->wrong++;
    }
    evhttp_clear_headers(&params);
    if (f->resume) {
        reply(req, 409, f->conflict);
        return;
    }
    switch (n) {
    case 0:
        reply(req, 200, f->batch1);
        break;
    case 1:
        reply(req, 200, f->batch2);
        break;
    case 2:
        reply(req, 429, f->flood);
        break;
    case 3:
        reply(req, 200, "{\"ok\":true,\"result\":[]}");
        break;
    default:
        reply(req, 409, f->conflict);
    }
}

typedef struct sink {
    int posts;
} sink;

static void on_post(void *arg, bv_post *p, const bv_raw *raw)
{
    ((sink *)arg)->posts++;
    /* the platform object the post came from, for the recorder */
    assert_non_null(raw->tree);
    assert_int_equal(p->platform, BV_PLATFORM_TELEGRAM);
    bv_post_clear(p);
}

static bv_telegram *source(struct event_base *base, bv_curl_loop *cl, int port, const char *dir,
                           const bv_codec_ctx *codec, sink *s)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    bv_telegram_opts o = {.name = "t1",
                          .url = url,
                          .token = "123456:ABC-token",
                          .state_dir = dir,
                          .poll_timeout_s = 1,
                          .backoff_min_ms = 5,
                          .backoff_max_ms = 60000,
                          .second_ms = 5,
                          .codec = codec,
                          .post = on_post,
                          .arg = s};
    bv_telegram *t = bv_telegram_new(base, cl, &o, err, sizeof err);
    assert_non_null(t);
    return t;
}

static void test_polling(void **state)
{
    (void)state;
    fake f = {0};
    size_t n;
    f.batch1 = tu_read_fixture("platforms/telegram/getUpdates.json", &n);
    f.batch2 = tu_read_fixture("platforms/telegram/getUpdates_next.json", &n);
    f.flood = tu_read_fixture("platforms/telegram/error_429_flood.json", &n);
    f.conflict = tu_read_fixture("platforms/telegram/error_409_conflict_polling.json", &n);
    char dir[] = "/tmp/bv-tg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct event_base *base = event_base_new();
    int port = 0;
    struct evhttp *http = tu_http_server(base, on_request, &f, &port);
    assert_non_null(http);
    bv_curl_loop *cl = bv_curl_loop_new(base);
    bv_pseudo *ps = bv_pseudo_new("test-key-0123456789abcdef", 25);
    bv_codec_ctx codec = {.pseudo = ps};
    sink s = {0};
    bv_telegram *t = source(base, cl, port, dir, &codec, &s);
    bv_source_stats st = {0};
    for (int i = 0; i < 1000000; i++) {
        bv_telegram_stats_get(t, &st);
        if (f.requests >= 5 && strcmp(st.state, "failed") == 0) {
            break;
        }
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_int_equal(f.wrong, 0);
    assert_string_equal(f.offsets[0], "");
    assert_string_equal(f.offsets[1], "500676844"); /* one past the highest id of batch 1 */
    assert_string_equal(f.offsets[2], "500676846");
    assert_string_equal(f.offsets[3], "500676846"); /* after 429: the same offset again */
    assert_string_equal(f.offsets[4], "500676846");
    assert_int_equal(bv_telegram_offset(t), 500676846);
    assert_int_equal(st.posts + st.skipped, 5);
    assert_true(st.posts >= 3);
    assert_int_equal(s.posts, (int)st.posts);
    assert_string_equal(st.state, "failed");
    assert_int_equal(st.last_status, 409);
    assert_non_null(strstr(st.last_error, "Conflict"));
    assert_null(strstr(st.last_error, "ABC-token"));
    bv_telegram_free(t);
    /* the offset survived in the state dir: a restart asks from there */
    char path[128];
    snprintf(path, sizeof path, "%s/telegram-t1.offset", dir);
    char *saved = NULL;
    size_t slen;
    int e;
    assert_int_equal(bv_file_read(path, 64, &saved, &slen, &e), 0);
    assert_string_equal(saved, "500676846\n");
    free(saved);
    f.resume = 1;
    int before = f.requests;
    t = source(base, cl, port, dir, &codec, &s);
    for (int i = 0; i < 1000000 && f.requests == before; i++) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_string_equal(f.offsets[before < 8 ? before : 7], "500676846");
    bv_telegram_free(t);
    unlink(path);
    rmdir(dir);
    bv_curl_loop_free(cl);
    evhttp_free(http);
    bv_pseudo_free(ps);
    event_base_free(base);
    free(f.batch1);
    free(f.batch2);
    free(f.flood);
    free(f.conflict);
}

/* Garbage from the Bot API: whatever it answers, the source counts it and polls on. */
static const char *const garbage[] = {
    "",
    "{",
    "not json at all",
    "{\"ok\":true}",
    "{\"ok\":true,\"result\":{}}",
    "{\"ok\":true,\"result\":[1,\"x\",null,{\"update_id\":\"7\"},{\"update_id\":"
    "9223372036854775807}]}",
    "{\"ok\":true,\"result\":[{\"update_id\":5,\"channel_post\":{\"text\":\"no chat\"}}]}",
    "{\"ok\":false}",
    "{\"ok\":false,\"error_code\":\"429\",\"parameters\":{\"retry_after\":-5}}",
    "[]",
};

typedef struct gfake {
    int requests;
} gfake;

static void on_garbage(struct evhttp_request *req, void *arg)
{
    gfake *g = arg;
    int n = g->requests++;
    const char *body = garbage[n % (int)(sizeof garbage / sizeof garbage[0])];
    reply(req, n % 3 == 2 ? 500 : 200, body);
}

static void test_garbage_answers(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-tgg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct event_base *base = event_base_new();
    gfake g = {0};
    int port = 0;
    struct evhttp *http = tu_http_server(base, on_garbage, &g, &port);
    bv_curl_loop *cl = bv_curl_loop_new(base);
    bv_pseudo *ps = bv_pseudo_new("test-key-0123456789abcdef", 25);
    bv_codec_ctx codec = {.pseudo = ps};
    sink s = {0};
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    bv_telegram_opts o = {.name = "g",
                          .url = url,
                          .token = "123456:ABC-token",
                          .state_dir = dir,
                          .poll_timeout_s = 1,
                          .backoff_min_ms = 1,
                          .backoff_max_ms = 4,
                          .second_ms = 1,
                          .codec = &codec,
                          .post = on_post,
                          .arg = &s};
    bv_telegram *t = bv_telegram_new(base, cl, &o, err, sizeof err);
    assert_non_null(t);
    for (int i = 0; i < 1000000 && g.requests < 25; i++) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_true(g.requests >= 25); /* it kept polling */
    bv_source_stats st;
    bv_telegram_stats_get(t, &st);
    assert_true(st.errors >= 10);
    assert_int_equal(s.posts, (int)st.posts);
    bv_telegram_free(t);
    char op[128];
    snprintf(op, sizeof op, "%s/telegram-g.offset", dir);
    unlink(op);
    rmdir(dir);
    bv_curl_loop_free(cl);
    evhttp_free(http);
    bv_pseudo_free(ps);
    event_base_free(base);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_polling),
        cmocka_unit_test(test_garbage_answers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
