/* test_reddit.c: the Reddit listing poller against a fake Reddit in the same loop (evhttp)
 * answering with the recorded listings in tests/fixtures/platforms/reddit and real rate-limit
 * headers (a float string for Remaining). The server checks path and query (limit, raw_json,
 * before=<the newest fullname>) and fails the test when one is wrong. Covered: the first page,
 * paging with before=, three empty answers and the plain request that follows (seen posts
 * dropped), pacing by the budget, 429 waiting for the reset, 404 as failed, the cursor saved. */
#include "testutil.h"

#include "httputil.h"

#include "codec/codec.h"
#include "core/err.h"
#include "core/file.h"
#include "engine/pseudo.h"
#include "net/curl_loop.h"
#include "source/reddit.h"

#include <event2/keyvalq_struct.h>
#include <unistd.h>

typedef struct fake {
    int requests, wrong;
    char before[12][32];
    char *page, *newer;
} fake;

static void reply(struct evhttp_request *req, int code, const char *body, const char *remaining,
                  const char *reset)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json; charset=UTF-8");
    if (remaining) {
        evhttp_add_header(h, "x-ratelimit-remaining", remaining);
        evhttp_add_header(h, "x-ratelimit-reset", reset);
        evhttp_add_header(h, "x-ratelimit-used", "425");
    }
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

static const char EMPTY[] = "{\"kind\":\"Listing\",\"data\":{\"after\":null,\"before\":null,"
                            "\"children\":[]}}";

static void on_request(struct evhttp_request *req, void *arg)
{
    fake *f = arg;
    int n = f->requests++;
    const char *uri = evhttp_request_get_uri(req);
    const char *q = strchr(uri, '?');
    if (q == NULL || strncmp(uri, "/r/thehague/new.json?", 21) != 0) {
        f->wrong++;
        reply(req, 404, "{}", NULL, NULL);
        return;
    }
    struct evkeyvalq params;
    evhttp_parse_query_str(q + 1, &params);
    const char *limit = evhttp_find_header(&params, "limit");
    const char *raw = evhttp_find_header(&params, "raw_json");
    const char *before = evhttp_find_header(&params, "before");
    if (limit == NULL || strcmp(limit, "100") != 0 || raw == NULL || strcmp(raw, "1") != 0) {
        f->wrong++;
    }
    if (n < 12) {
        snprintf(f->before[n], sizeof f->before[n], "%s", before ? before : "");
    }
    evhttp_clear_headers(&params);
    switch (n) {
    case 0:
        reply(req, 200, f->page, "175.0", "154");
        break;
    case 1:
        reply(req, 200, f->newer, "174.0", "150");
        break;
    case 2:
    case 3:
    case 4:
        reply(req, 200, EMPTY, "173.0", "149");
        break;
    case 5:
        reply(req, 200, f->page, "0.0", "3"); /* plain again; and no budget left */
        break;
    case 6:
        reply(req, 429, "{\"message\": \"Too Many Requests\", \"error\": 429}", "0.0", "2");
        break;
    default:
        reply(req, 404, "{\"message\": \"Not Found\", \"error\": 404}", NULL, NULL);
    }
}

typedef struct sink {
    int posts;
    char names[64][16];
} sink;

static void on_post(void *arg, bv_post *p, const bv_raw *raw)
{
    sink *s = arg;
    /* the platform object the post came from, for the recorder */
    assert_non_null(raw->tree);
    assert_int_equal(p->platform, BV_PLATFORM_REDDIT);
    for (int i = 0; i < s->posts && i < 64; i++) {
        assert_string_not_equal(s->names[i], p->id); /* never twice */
    }
    if (s->posts < 64) {
        snprintf(s->names[s->posts], sizeof s->names[0], "%s", p->id);
    }
    s->posts++;
    bv_post_clear(p);
}

static void test_listing(void **state)
{
    (void)state;
    fake f = {0};
    size_t n;
    f.page = tu_read_fixture("platforms/reddit/new.json", &n);
    f.newer = tu_read_fixture("platforms/reddit/new_before.json", &n);
    char dir[] = "/tmp/bv-rd-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct event_base *base = event_base_new();
    int port = 0;
    struct evhttp *http = tu_http_server(base, on_request, &f, &port);
    assert_non_null(http);
    bv_curl_loop *cl = bv_curl_loop_new(base);
    bv_pseudo *ps = bv_pseudo_new("test-key-0123456789abcdef", 25);
    bv_codec_ctx codec = {.pseudo = ps};
    sink s = {0};
    char url[96], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r/thehague/new.json", port);
    bv_reddit_opts o = {.name = "thehague",
                        .url = url,
                        .state_dir = dir,
                        .poll_ms = 5,
                        .backoff_min_ms = 5,
                        .backoff_max_ms = 60000,
                        .second_ms = 4,
                        .codec = &codec,
                        .post = on_post,
                        .arg = &s};
    bv_reddit *r = bv_reddit_new(base, cl, &o, err, sizeof err);
    assert_non_null(r);
    bv_source_stats st = {0};
    int64_t waits[10] = {0};
    int seen_req = 0;
    for (int i = 0; i < 1000000; i++) {
        bv_reddit_stats_get(r, &st);
        if (f.requests != seen_req && seen_req < 10) {
            waits[seen_req] = st.next_wait_ms; /* the wait after answer seen_req */
        }
        seen_req = f.requests;
        if (f.requests >= 8 && strcmp(st.state, "failed") == 0) {
            break;
        }
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_int_equal(f.wrong, 0);
    assert_string_equal(f.before[0], "");
    assert_string_equal(f.before[1], "t3_48fbm9"); /* the newest of the first page */
    assert_string_equal(f.before[2], "t3_5jo144"); /* the newest of the next */
    assert_string_equal(f.before[3], "t3_5jo144");
    assert_string_equal(f.before[4], "t3_5jo144");
    assert_string_equal(f.before[5], ""); /* three empty answers: one plain request */
    assert_int_equal(s.posts, 25 + 3);    /* the plain page again: all seen, none twice */
    assert_int_equal(st.posts, 28);
    assert_string_equal(st.state, "failed");
    assert_int_equal(st.last_status, 404);
    /* the plain page's newest is the new anchor (the old one answered nothing: deleted) */
    assert_string_equal(bv_reddit_cursor(r), "t3_48fbm9");
    assert_int_equal(waits[1], 5);  /* budget 175 for 154 s: the poll interval */
    assert_int_equal(waits[6], 13); /* no budget left: the reset (3 s) first */
    assert_int_equal(waits[7], 9);  /* 429: the reset (2 s) */
    bv_reddit_free(r);
    char path[128];
    snprintf(path, sizeof path, "%s/reddit-thehague.cursor", dir);
    char *saved = NULL;
    size_t slen;
    int e;
    assert_int_equal(bv_file_read(path, 64, &saved, &slen, &e), 0);
    assert_string_equal(saved, "t3_48fbm9\n");
    free(saved);
    unlink(path);
    rmdir(dir);
    bv_curl_loop_free(cl);
    evhttp_free(http);
    bv_pseudo_free(ps);
    event_base_free(base);
    free(f.page);
    free(f.newer);
}

/* Garbage from Reddit: counted, and polling goes on. */
static const char *const garbage[] = {
    "",
    "{",
    "[]",
    "{\"kind\":\"Listing\"}",
    "{\"kind\":\"Listing\",\"data\":{\"children\":{}}}",
    "{\"kind\":\"Listing\",\"data\":{\"children\":[1,null,\"x\",{\"kind\":\"t3\"},"
    "{\"kind\":\"t3\",\"data\":{\"name\":\"t3_../../x\"}},"
    "{\"kind\":\"t3\",\"data\":{\"name\":\"t3_abc\",\"title\":7}}]}}",
};

typedef struct gfake {
    int requests;
} gfake;

static void on_garbage(struct evhttp_request *req, void *arg)
{
    gfake *g = arg;
    int n = g->requests++;
    const char *body = garbage[n % (int)(sizeof garbage / sizeof garbage[0])];
    reply(req, 200, body, n % 2 ? "abc" : "1e309", n % 2 ? "-4" : "nan");
}

static void test_garbage_answers(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-rdg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct event_base *base = event_base_new();
    gfake g = {0};
    int port = 0;
    struct evhttp *http = tu_http_server(base, on_garbage, &g, &port);
    bv_curl_loop *cl = bv_curl_loop_new(base);
    bv_pseudo *ps = bv_pseudo_new("test-key-0123456789abcdef", 25);
    bv_codec_ctx codec = {.pseudo = ps};
    sink s = {0};
    char url[96], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/r/thehague/new.json", port);
    bv_reddit_opts o = {.name = "g",
                        .url = url,
                        .state_dir = dir,
                        .poll_ms = 1,
                        .backoff_min_ms = 1,
                        .backoff_max_ms = 4,
                        .second_ms = 1,
                        .codec = &codec,
                        .post = on_post,
                        .arg = &s};
    bv_reddit *r = bv_reddit_new(base, cl, &o, err, sizeof err);
    assert_non_null(r);
    for (int i = 0; i < 1000000 && g.requests < 20; i++) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_true(g.requests >= 20);
    bv_source_stats st;
    bv_reddit_stats_get(r, &st);
    assert_true(st.errors >= 5);
    assert_int_equal(s.posts, (int)st.posts);
    bv_reddit_free(r);
    char cp[128];
    snprintf(cp, sizeof cp, "%s/reddit-g.cursor", dir);
    unlink(cp);
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
        cmocka_unit_test(test_listing),
        cmocka_unit_test(test_garbage_answers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
