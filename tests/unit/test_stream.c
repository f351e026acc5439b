/* test_stream.c: the live streaming sources against fake platform servers in the same loop
 * (evhttp) speaking the real wire formats, sent a few bytes per turn:
 * - Mastodon SSE (tests/fixtures/platforms/mastodon/stream_public.sse: `:)`, `:thump`, update,
 *   status.update and delete): the server checks the path and the bearer token. Posts and deletes
 *   decoded and pseudonymised, the stream ending and the source reconnecting, a token refused
 *   (401: failed, retried at the longest wait), no token, a stream that goes silent (stall).
 * - X v2 filtered stream (tests/fixtures/platforms/x-v2/stream.ndjson: messages and `\r\n`
 *   keep-alives): the server checks path, query and token. X's reconnect policy: at once after a
 *   drop, 429 from the rate wait, 5xx from the HTTP wait doubling, 409 (no rules) as failed. */
#include "testutil.h"

#include "httputil.h"

#include "codec/codec.h"
#include "core/err.h"
#include "engine/pseudo.h"
#include "net/curl_loop.h"
#include "source/stream.h"

typedef struct fake {
    char *sse;
    size_t sse_len;
    int requests, bad_requests;
    int refuse_after;                /* answer 401 from this request on (0: never) */
    int silent;                      /* send `:)` and then nothing */
    struct evhttp_request *open[64]; /* silent replies: ended by the test, as evhttp wants */
    int nopen;
    char last_auth[128];
} fake;

/* The X side: a stream, then 429, 503, 409, then streams again; the source's wait before each
 * request is noted (the stats say what it waited). */
static const bv_stream *x_source;
static char *x_garbage; /* when set: every X connection streams this, then stays silent */
static size_t rig_max_line;
static int64_t x_waits[16];

static void x_reply(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static void x_request(fake *f, struct evhttp_request *req, const char *uri, const char *auth)
{
    if (x_source && f->requests <= 16) {
        bv_source_stats st;
        bv_stream_stats_get(x_source, &st);
        x_waits[f->requests - 1] = st.next_wait_ms;
    }
    if (strcmp(uri, "/2/tweets/search/stream?tweet.fields=created_at,author_id,lang") != 0 ||
        auth == NULL || strcmp(auth, "Bearer user-token-123") != 0) {
        f->bad_requests++;
        x_reply(req, 401, "Unauthorized", "{\"title\":\"Unauthorized\",\"status\":401}");
        return;
    }
    if (x_garbage && f->nopen < 64) {
        f->open[f->nopen++] = req; /* left open: ended by rig_stop */
        tu_stream_start(req, "application/json", x_garbage, strlen(x_garbage), 7, 0);
        return;
    }
    switch (f->requests) {
    case 2:
        x_reply(req, 429, "Too Many Requests",
                "{\"errors\":[{\"code\":88,\"message\":\"Rate limit exceeded\"}]}");
        return;
    case 3:
        x_reply(req, 503, "Service Unavailable", "{}");
        return;
    case 4:
        x_reply(req, 409, "Conflict", "{\"title\":\"ConnectionException\"}");
        return;
    default:
        tu_stream_start(req, "application/json", f->sse, f->sse_len, 3, 1);
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    fake *f = arg;
    f->requests++;
    const char *uri = evhttp_request_get_uri(req);
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    snprintf(f->last_auth, sizeof f->last_auth, "%s", auth ? auth : "");
    if (strncmp(uri, "/2/tweets/search/stream", 23) == 0) {
        x_request(f, req, uri, auth);
        return;
    }
    if (strcmp(uri, "/api/v1/streaming/public") != 0 ||
        evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        f->bad_requests++;
        evhttp_send_error(req, 400, "Unknown channel requested");
        return;
    }
    if (auth == NULL || strcmp(auth, "Bearer user-token-123") != 0 ||
        (f->refuse_after && f->requests >= f->refuse_after)) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "{\"error\":\"Invalid access token\"}");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evhttp_send_reply(req, 401, "Unauthorized", b);
        evbuffer_free(b);
        return;
    }
    if (f->silent && f->nopen < 64) {
        f->open[f->nopen++] = req;
        tu_stream_start(req, "text/event-stream", ":)\n", 3, 3, 0);
        return;
    }
    tu_stream_start(req, "text/event-stream", f->sse, f->sse_len, 5, 1);
}

typedef struct sink {
    int posts, deletes, with_author;
    char first_id[64];
    int64_t first_received;
} sink;

static void on_post(void *arg, bv_post *p, const bv_raw *raw)
{
    sink *s = arg;
    /* the platform object the post came from (a Mastodon delete has only its id) */
    assert_true(raw->json != NULL ||
                (p->kind == BV_POST_DELETE && p->platform == BV_PLATFORM_MASTODON));
    if (raw->json) {
        assert_true(raw->len > 0 && raw->json[0] == '{');
    }
    if (p->kind == BV_POST_DELETE) {
        s->deletes++;
    } else {
        if (s->posts == 0) {
            snprintf(s->first_id, sizeof s->first_id, "%s", p->id);
            s->first_received = p->received_ms;
        }
        s->posts++;
        s->with_author += p->has_author;
    }
    bv_post_clear(p);
}

typedef struct rig {
    struct event_base *base;
    struct evhttp *http;
    int port;
    bv_curl_loop *cl;
    bv_pseudo *ps;
    bv_codec_ctx codec;
    fake f;
    sink s;
    bv_stream *m;
} rig;

static void rig_start_kind(rig *r, bv_stream_kind kind, const char *token, int64_t stall_ms);

/* Backpressure: the consumer says it is full for its first full_until asks. */
static bv_full_cb *rig_full;
static int full_asks, full_until, full_asked_paused;

static int test_full(void *arg, int paused)
{
    (void)arg;
    full_asks++;
    full_asked_paused += paused;
    return full_asks <= full_until;
}

static void rig_start(rig *r, const char *token, int64_t stall_ms)
{
    rig_start_kind(r, BV_STREAM_MASTODON, token, stall_ms);
}

static void rig_start_kind(rig *r, bv_stream_kind kind, const char *token, int64_t stall_ms)
{
    memset(r, 0, sizeof *r);
    r->base = event_base_new();
    r->f.sse = tu_read_fixture(kind == BV_STREAM_X ? "platforms/x-v2/stream.ndjson"
                                                   : "platforms/mastodon/stream_public.sse",
                               &r->f.sse_len);
    r->http = tu_http_server(r->base, on_request, &r->f, &r->port);
    assert_non_null(r->http);
    r->cl = bv_curl_loop_new(r->base);
    r->ps = bv_pseudo_new("test-key-0123456789abcdef", 25);
    r->codec.pseudo = r->ps;
    char url[128], err[256];
    if (kind == BV_STREAM_X) {
        snprintf(
            url, sizeof url,
            "http://127.0.0.1:%d/2/tweets/search/stream?tweet.fields=created_at,author_id,lang",
            r->port);
    } else {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/streaming/public", r->port);
    }
    bv_stream_opts o = {.kind = kind,
                        .name = "test",
                        .url = url,
                        .token = token,
                        .stall_ms = stall_ms,
                        .backoff = {.net_step = 5,
                                    .net_max = 40,
                                    .http_min = 10,
                                    .http_max = 40,
                                    .rate_min = 30,
                                    .rate_max = 100},
                        .max_line = rig_max_line,
                        .codec = &r->codec,
                        .post = on_post,
                        .arg = &r->s,
                        .full = rig_full};
    r->m = bv_stream_new(r->base, r->cl, &o, err, sizeof err);
    assert_non_null(r->m);
}

static void rig_stop(rig *r)
{
    bv_stream_free(r->m);
    bv_curl_loop_free(r->cl);
    for (int i = 0; i < r->f.nopen; i++) {
        evhttp_send_reply_end(r->f.open[i]); /* frees the ones whose client went away */
    }
    evhttp_free(r->http);
    bv_pseudo_free(r->ps);
    event_base_free(r->base);
    free(r->f.sse);
}

static void run_until_requests(rig *r, int n)
{
    for (int i = 0; i < 2000000 && r->f.requests < n; i++) {
        event_base_loop(r->base, EVLOOP_ONCE);
    }
    assert_true(r->f.requests >= n);
}

static int count(const char *hay, size_t len, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++) {
        n += memcmp(hay + i, needle, nl) == 0;
    }
    return n;
}

static void test_stream_reconnect_refused(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, "user-token-123", 5000);
    r.f.refuse_after = 3;
    int updates = count(r.f.sse, r.f.sse_len, "event: update\n") +
                  count(r.f.sse, r.f.sse_len, "event: status.update\n");
    int deletes = count(r.f.sse, r.f.sse_len, "event: delete\n");
    assert_true(updates >= 2 && deletes >= 1);
    /* two whole streams (the server ends each), then the token is refused */
    run_until_requests(&r, 3);
    bv_source_stats st;
    for (int i = 0; i < 100000; i++) {
        bv_stream_stats_get(r.m, &st);
        if (strcmp(st.state, "failed") == 0) {
            break;
        }
        event_base_loop(r.base, EVLOOP_ONCE);
    }
    assert_int_equal(r.f.bad_requests, 0);
    assert_string_equal(r.f.last_auth, "Bearer user-token-123");
    assert_int_equal(r.s.posts, 2 * updates);
    assert_int_equal(r.s.deletes, 2 * deletes);
    assert_int_equal(r.s.with_author, r.s.posts); /* pseudonymised, never absent */
    assert_true(r.s.first_received > 0);
    assert_string_equal(st.state, "failed");
    assert_int_equal(st.last_status, 401);
    assert_non_null(strstr(st.last_error, "HTTP 401"));
    assert_non_null(strstr(st.last_error, "Invalid access token"));
    assert_null(strstr(st.last_error, "user-token-123"));
    assert_true(st.reconnects >= 2);
    assert_int_equal(st.posts, (uint64_t)(2 * updates));
    assert_true(st.bytes >= 2 * r.f.sse_len);
    /* refused: it keeps asking, at the longest backoff */
    run_until_requests(&r, 5);
    rig_stop(&r);
}

static void test_no_token(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, NULL, 5000);
    run_until_requests(&r, 1);
    bv_source_stats st;
    for (int i = 0; i < 100000; i++) {
        bv_stream_stats_get(r.m, &st);
        if (st.last_status) {
            break;
        }
        event_base_loop(r.base, EVLOOP_ONCE);
    }
    assert_string_equal(r.f.last_auth, "");
    assert_int_equal(st.last_status, 401);
    assert_string_equal(st.state, "failed");
    assert_int_equal(r.s.posts, 0);
    rig_stop(&r);
}

/* `:)` and then silence: the stall timer gives the connection up and connects again. */
static void test_stall(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, "user-token-123", 60);
    r.f.silent = 1;
    run_until_requests(&r, 3);
    bv_source_stats st;
    bv_stream_stats_get(r.m, &st);
    assert_true(st.reconnects >= 2);
    assert_true(st.errors >= 2);
    assert_non_null(strstr(st.last_error, "stalled"));
    assert_int_equal(r.s.posts, 0);
    rig_stop(&r);
}

/* A full consumer pauses the transfer: nothing is lost, the bytes wait in curl and TCP, and a
 * pause longer than the stall time is not taken for a stall. */
static void test_backpressure(void **state)
{
    (void)state;
    rig r;
    rig_full = test_full;
    full_asks = full_asked_paused = 0;
    full_until = 80; /* about 80 ms of asking at 1 ms, longer than the 60 ms stall time */
    rig_start(&r, "user-token-123", 60);
    int updates = count(r.f.sse, r.f.sse_len, "event: update\n") +
                  count(r.f.sse, r.f.sse_len, "event: status.update\n");
    for (int i = 0; i < 2000000 && r.s.posts < updates; i++) {
        event_base_loop(r.base, EVLOOP_ONCE);
    }
    bv_source_stats st;
    bv_stream_stats_get(r.m, &st);
    assert_int_equal(r.s.posts, updates);
    assert_true(full_asks > full_until);
    assert_true(full_asked_paused >= full_until - 1); /* asked again while paused */
    assert_true(st.pauses >= 1);
    assert_int_equal(st.errors, 0);
    assert_null(strstr(st.last_error, "stalled"));
    assert_int_equal(r.f.requests, 1);
    rig_stop(&r);
    rig_full = NULL;
}

static void test_x_stream_and_policy(void **state)
{
    (void)state;
    rig r;
    rig_start_kind(&r, BV_STREAM_X, "user-token-123", 5000);
    x_source = r.m;
    /* the posts the fixture holds, decoded directly */
    int want = 0;
    {
        size_t off = 0;
        while (off < r.f.sse_len) {
            const char *nl = memchr(r.f.sse + off, '\n', r.f.sse_len - off);
            size_t end = nl ? (size_t)(nl - r.f.sse) : r.f.sse_len;
            size_t n = end - off;
            char *l = malloc(n + 1);
            memcpy(l, r.f.sse + off, n);
            l[n] = '\0';
            bv_post p;
            bv_skip why;
            if (n && bv_codec_decode_platform(&r.codec, BV_PLATFORM_X, l, n, &p, &why) ==
                         BV_DECODE_POST) {
                want++;
                bv_post_clear(&p);
            }
            free(l);
            off = end + 1;
        }
    }
    assert_true(want >= 2);
    run_until_requests(&r, 6); /* stream, 429, 503, 409, stream, stream */
    bv_source_stats st;
    bv_stream_stats_get(r.m, &st);
    assert_int_equal(r.f.bad_requests, 0);
    assert_true(r.s.posts >= 2 * want);
    assert_int_equal(st.last_status, 200);
    assert_int_equal(x_waits[0], 0);  /* the first connection */
    assert_int_equal(x_waits[1], 0);  /* after the stream ended: at once */
    assert_int_equal(x_waits[2], 30); /* after 429: the rate wait */
    assert_int_equal(x_waits[3], 10); /* after 503: the HTTP wait */
    assert_int_equal(x_waits[4], 20); /* after 409 (no rules): failed, the HTTP wait doubled */
    assert_int_equal(x_waits[5], 0);  /* the stream was good again: at once */
    x_source = NULL;
    rig_stop(&r);
}

/* Garbage on the X stream: truncated JSON, bytes that are not UTF-8, in-stream errors, a line
 * past max_line; all counted as skipped, and the good message after them still arrives. */
static void test_x_garbage(void **state)
{
    (void)state;
    rig_max_line = 2048;
    rig r;
    rig_start_kind(&r, BV_STREAM_X, "user-token-123", 5000);
    const char *first_end = memchr(r.f.sse, '\n', r.f.sse_len);
    assert_non_null(first_end);
    size_t good = (size_t)(first_end - r.f.sse) + 1;
    size_t cap = 8192 + good;
    x_garbage = malloc(cap);
    size_t o = 0;
    o += (size_t)snprintf(x_garbage + o, cap - o, "{\"data\":{\"id\":\r\n");
    o += (size_t)snprintf(x_garbage + o, cap - o, "\xff\xfe not utf-8 \xc3\r\n\r\n");
    o += (size_t)snprintf(x_garbage + o, cap - o,
                          "{\"errors\":[{\"title\":\"operational-disconnect\"}]}\r\n");
    memset(x_garbage + o, 'x', 3000);
    o += 3000;
    o += (size_t)snprintf(x_garbage + o, cap - o, "\r\n");
    memcpy(x_garbage + o, r.f.sse, good);
    o += good;
    x_garbage[o] = '\0';
    bv_source_stats st;
    for (int i = 0; i < 1000000; i++) {
        bv_stream_stats_get(r.m, &st);
        if (st.posts >= 1) {
            break;
        }
        event_base_loop(r.base, EVLOOP_ONCE);
    }
    assert_int_equal(st.posts, 1);
    assert_true(st.skipped >= 4);
    assert_string_equal(st.state, "streaming");
    rig_stop(&r);
    free(x_garbage);
    x_garbage = NULL;
    rig_max_line = 0;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_reconnect_refused),
        cmocka_unit_test(test_no_token),
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_x_stream_and_policy),
        cmocka_unit_test(test_x_garbage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
