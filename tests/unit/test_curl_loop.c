/* test_curl_loop.c: curl multi on the libevent loop, against a real HTTP server in the same
 * loop (libevent's evhttp on 127.0.0.1): a chunked SSE stream sent a few bytes per loop turn
 * (Mastodon's fixture, parsed by lib/net/sse as it arrives), an error status, transfers running
 * side by side, a transfer removed from inside its own write callback, one removed while the
 * server never answers, and one added again from its done callback. */
#include "testutil.h"

#include "httputil.h"

#include "core/err.h"
#include "net/curl_loop.h"
#include "net/sse.h"


/* ---- the server ---- */

static char *sse_data;
static size_t sse_len;
static struct evhttp_request *hanging;

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    if (strcmp(uri, "/api/v1/streaming/public") == 0) {
        struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        const char *auth = evhttp_find_header(h, "Authorization");
        if (auth == NULL || strcmp(auth, "Bearer test-token") != 0) {
            evhttp_send_error(req, 401, "no token");
            return;
        }
        tu_stream_start(req, "text/event-stream", sse_data, sse_len, 7, 1);
        return;
    }
    if (strcmp(uri, "/hang") == 0) {
        hanging = req; /* never answered */
        return;
    }
    evhttp_send_error(req, 404, "not here");
}

/* ---- the clients ---- */

typedef struct client {
    CURL *easy;
    struct curl_slist *hdr;
    bv_sse *sse;
    int events;
    size_t bytes;
    int done;
    CURLcode rc;
    long status;
    int remove_after_bytes; /* remove itself from its write callback */
    bv_curl_loop *loop;
    int again; /* add itself again once from done */
} client;

static int on_event(void *arg, const bv_sse_event *ev)
{
    (void)ev;
    ((client *)arg)->events++;
    return 0;
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    client *c = arg;
    c->bytes += size * n;
    if (c->sse) {
        bv_sse_feed(c->sse, p, size * n, on_event, c);
    }
    if (c->remove_after_bytes && c->bytes >= (size_t)c->remove_after_bytes) {
        bv_curl_loop_remove(c->loop, c->easy);
    }
    return size * n;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    client *c = arg;
    c->done++;
    c->rc = rc;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &c->status);
    if (c->again) {
        c->again = 0;
        assert_int_equal(bv_curl_loop_add(c->loop, easy, on_done, c), BV_OK);
    }
}

static void client_init(client *c, bv_curl_loop *l, int port, const char *path, int sse)
{
    memset(c, 0, sizeof *c);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    c->easy = curl_easy_init();
    c->loop = l;
    assert_non_null(c->easy);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    c->hdr = curl_slist_append(NULL, "Authorization: Bearer test-token");
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdr);
    if (sse) {
        c->sse = bv_sse_new(0, 0);
    }
}

static void client_free(client *c)
{
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->hdr);
    bv_sse_free(c->sse);
}

static void test_transfers_on_the_loop(void **state)
{
    (void)state;
    size_t len;
    sse_data = tu_read_fixture("platforms/mastodon/stream_public.sse", &sse_len);
    (void)len;
    /* what the stream holds, parsed whole */
    bv_sse *ref = bv_sse_new(0, 0);
    client want = {0};
    bv_sse_feed(ref, sse_data, sse_len, on_event, &want);
    bv_sse_free(ref);
    assert_true(want.events >= 3);

    struct event_base *base = event_base_new();
    int port = 0;
    struct evhttp *http = tu_http_server(base, on_request, NULL, &port);
    assert_non_null(http);
    bv_curl_loop *l = bv_curl_loop_new(base);
    assert_non_null(l);
    client a, b, bad, cut, hang;
    client_init(&a, l, port, "/api/v1/streaming/public", 1);
    client_init(&b, l, port, "/api/v1/streaming/public", 1);
    client_init(&bad, l, port, "/nowhere", 0);
    client_init(&cut, l, port, "/api/v1/streaming/public", 0);
    client_init(&hang, l, port, "/hang", 0);
    cut.remove_after_bytes = 1;
    bad.again = 1;
    assert_int_equal(bv_curl_loop_add(l, a.easy, on_done, &a), BV_OK);
    assert_int_equal(bv_curl_loop_add(l, a.easy, on_done, &a), BV_EINVAL);
    assert_int_equal(bv_curl_loop_add(l, b.easy, on_done, &b), BV_OK);
    assert_int_equal(bv_curl_loop_add(l, bad.easy, on_done, &bad), BV_OK);
    assert_int_equal(bv_curl_loop_add(l, cut.easy, on_done, &cut), BV_OK);
    assert_int_equal(bv_curl_loop_add(l, hang.easy, on_done, &hang), BV_OK);
    assert_int_equal(bv_curl_loop_running(l), 5);
    for (int i = 0; i < 1000000 && (!a.done || !b.done || bad.done < 2 || hanging == NULL); i++) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    /* both streams arrived whole, a few bytes at a time, side by side */
    assert_int_equal(a.done, 1);
    assert_int_equal(a.rc, CURLE_OK);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.bytes, sse_len);
    assert_int_equal(a.events, want.events);
    assert_int_equal(b.events, want.events);
    /* an error status is a finished transfer; added again from done, it runs again */
    assert_int_equal(bad.done, 2);
    assert_int_equal(bad.status, 404);
    /* removed from its own write callback: no done, the others unharmed */
    assert_int_equal(cut.done, 0);
    assert_true(cut.bytes >= 1 && cut.bytes < sse_len);
    /* a server that never answers: removed by its owner (its own timer, in a source) */
    assert_int_equal(bv_curl_loop_running(l), 1);
    bv_curl_loop_remove(l, hang.easy);
    assert_int_equal(bv_curl_loop_running(l), 0);
    assert_int_equal(hang.done, 0);
    bv_curl_loop_free(l);
    client_free(&a);
    client_free(&b);
    client_free(&bad);
    client_free(&cut);
    client_free(&hang);
    evhttp_free(http);
    event_base_free(base);
    free(sse_data);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfers_on_the_loop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
