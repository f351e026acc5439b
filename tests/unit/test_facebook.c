/* test_facebook.c: the Page webhook receiver, spoken to by a real HTTP client (libcurl, on the
 * same loop) the way Meta speaks: the verification handshake (right and wrong token), signed
 * deliveries from tests/fixtures/platforms/facebook with the signatures in signatures.txt
 * (secret test-app-secret), an unsigned and a wrongly signed body (403, counted), a retry (not
 * counted twice), a batch, gzip (415) and an oversized body (413). */
#include "testutil.h"

#include "codec/codec.h"
#include "core/err.h"
#include "engine/pseudo.h"
#include "net/curl_loop.h"
#include "source/facebook.h"

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

typedef struct call {
    CURL *easy;
    struct curl_slist *hdr;
    char body[512];
    size_t len;
    long status;
    int done;
} call;

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    call *c = arg;
    size_t len = size * n;
    size_t room = sizeof c->body - 1 - c->len;
    size_t k = len < room ? len : room;
    memcpy(c->body + c->len, p, k);
    c->len += k;
    c->body[c->len] = '\0';
    return len;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    call *c = arg;
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &c->status);
    c->done = 1;
}

typedef struct rig {
    struct event_base *base;
    bv_curl_loop *cl;
    bv_facebook *fb;
    int port;
    int posts, deletes;
} rig;

static void on_post(void *arg, bv_post *p, const bv_raw *raw)
{
    rig *r = arg;
    /* the platform object the post came from, for the recorder */
    assert_non_null(raw->tree);
    assert_int_equal(p->platform, BV_PLATFORM_FACEBOOK);
    if (p->kind == BV_POST_DELETE) {
        r->deletes++;
    } else {
        r->posts++;
    }
    bv_post_clear(p);
}

/* One request, run to its end. body NULL: GET. */
static long request(rig *r, const char *path, const char *body, size_t len, const char *sig,
                    const char *extra_header, char *answer, size_t alen)
{
    call c;
    memset(&c, 0, sizeof c);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", r->port, path);
    c.easy = curl_easy_init();
    curl_easy_setopt(c.easy, CURLOPT_URL, url);
    curl_easy_setopt(c.easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c.easy, CURLOPT_WRITEDATA, &c);
    if (body) {
        curl_easy_setopt(c.easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c.easy, CURLOPT_POSTFIELDSIZE, (long)len);
        c.hdr = curl_slist_append(c.hdr, "Content-Type: application/json");
    }
    if (sig) {
        char h[128];
        snprintf(h, sizeof h, "X-Hub-Signature-256: %s", sig);
        c.hdr = curl_slist_append(c.hdr, h);
    }
    if (extra_header) {
        c.hdr = curl_slist_append(c.hdr, extra_header);
    }
    curl_easy_setopt(c.easy, CURLOPT_HTTPHEADER, c.hdr);
    assert_int_equal(bv_curl_loop_add(r->cl, c.easy, on_done, &c), BV_OK);
    for (int i = 0; i < 1000000 && !c.done; i++) {
        event_base_loop(r->base, EVLOOP_ONCE);
    }
    assert_true(c.done);
    if (answer) {
        snprintf(answer, alen, "%s", c.body);
    }
    curl_easy_cleanup(c.easy);
    curl_slist_free_all(c.hdr);
    return c.status;
}

/* "sha256=..." for a fixture file, from signatures.txt */
static void signature_of(const char *file, char *out, size_t outlen)
{
    char *sigs = tu_read_fixture("platforms/facebook/signatures.txt", NULL);
    const char *line = strstr(sigs, file);
    assert_non_null(line);
    const char *s = strstr(line, "sha256=");
    assert_non_null(s);
    size_t n = strcspn(s, "\r\n");
    snprintf(out, outlen, "%.*s", (int)n, s);
    free(sigs);
}

static void test_webhooks(void **state)
{
    (void)state;
    rig r;
    memset(&r, 0, sizeof r);
    r.base = event_base_new();
    r.cl = bv_curl_loop_new(r.base);
    bv_pseudo *ps = bv_pseudo_new("test-key-0123456789abcdef", 25);
    bv_codec_ctx codec = {.pseudo = ps};
    char err[256];
    bv_facebook_opts o = {.listen = "127.0.0.1:0",
                          .app_secret = "test-app-secret",
                          .verify_token = "meatyhamhock",
                          .max_body = 64 * 1024,
                          .codec = &codec,
                          .post = on_post,
                          .arg = &r};
    r.fb = bv_facebook_new(r.base, &o, err, sizeof err);
    assert_non_null(r.fb);
    r.port = bv_facebook_port(r.fb);
    assert_true(r.port > 0);
    char answer[512];
    /* the handshake: the challenge back byte for byte; a wrong token refused */
    assert_int_equal(request(&r,
                             "/webhooks/facebook?hub.mode=subscribe&hub.challenge=1158201444"
                             "&hub.verify_token=meatyhamhock",
                             NULL, 0, NULL, NULL, answer, sizeof answer),
                     200);
    assert_string_equal(answer, "1158201444");
    assert_int_equal(request(&r,
                             "/webhooks/facebook?hub.mode=subscribe&hub.challenge=1"
                             "&hub.verify_token=wrong",
                             NULL, 0, NULL, NULL, NULL, 0),
                     403);
    /* a signed delivery */
    size_t len;
    char *feed = tu_read_fixture("platforms/facebook/webhook_feed.json", &len);
    char sig[128];
    signature_of("webhook_feed.json", sig, sizeof sig);
    assert_int_equal(request(&r, "/webhooks/facebook", feed, len, sig, NULL, NULL, 0), 200);
    int after_one = r.posts + r.deletes;
    assert_true(after_one >= 1);
    /* Meta retries: the same changes count once */
    assert_int_equal(request(&r, "/webhooks/facebook", feed, len, sig, NULL, NULL, 0), 200);
    assert_int_equal(r.posts + r.deletes, after_one);
    /* unsigned, wrongly signed, signed for other bytes: refused, nothing counted */
    assert_int_equal(request(&r, "/", feed, len, NULL, NULL, NULL, 0), 403);
    char bad[80] = "sha256=";
    memset(bad + 7, '0', 64);
    bad[71] = '\0';
    assert_int_equal(request(&r, "/", feed, len, bad, NULL, NULL, 0), 403);
    feed[len / 2] ^= 1;
    assert_int_equal(request(&r, "/", feed, len, sig, NULL, NULL, 0), 403);
    feed[len / 2] ^= 1;
    assert_int_equal(r.posts + r.deletes, after_one);
    /* a batch: several entries and changes in one POST */
    size_t blen;
    char *batch = tu_read_fixture("platforms/facebook/webhook_feed_batch.json", &blen);
    signature_of("webhook_feed_batch.json", sig, sizeof sig);
    assert_int_equal(request(&r, "/", batch, blen, sig, NULL, NULL, 0), 200);
    assert_true(r.posts + r.deletes >= after_one + 2);
    /* gzip is refused; so is a body over max_body */
    assert_int_equal(request(&r, "/", batch, blen, sig, "Content-Encoding: gzip", NULL, 0), 415);
    char *big = malloc(100 * 1024);
    memset(big, 'x', 100 * 1024);
    assert_int_equal(request(&r, "/", big, 100 * 1024, sig, NULL, NULL, 0), 413);
    free(big);
    /* signed garbage: accepted (Meta signed it), counted as skipped, nothing breaks */
    static const char *const garbage[] = {
        "",
        "{",
        "[]",
        "{\"object\":\"page\"}",
        "{\"entry\":{}}",
        "{\"entry\":[1,null,{\"changes\":7},{\"id\":5,\"changes\":[1,{\"field\":\"feed\"},"
        "{\"field\":\"feed\",\"value\":{\"item\":\"post\",\"verb\":\"add\"}}]}]}",
    };
    for (size_t g = 0; g < sizeof garbage / sizeof garbage[0]; g++) {
        unsigned char mac[32];
        unsigned int ml = 0;
        HMAC(EVP_sha256(), "test-app-secret", 15, (const unsigned char *)garbage[g],
             strlen(garbage[g]), mac, &ml);
        char gs[80] = "sha256=";
        for (int k = 0; k < 32; k++) {
            snprintf(gs + 7 + 2 * k, 3, "%02x", mac[k]);
        }
        assert_int_equal(request(&r, "/", garbage[g], strlen(garbage[g]), gs, NULL, NULL, 0), 200);
    }
    bv_facebook_stats st;
    bv_facebook_stats_get(r.fb, &st);
    assert_int_equal(st.verified, 1);
    assert_int_equal(st.deliveries, 3 + 6);
    assert_true(st.src.skipped >= 4);
    assert_true(st.rejected >= 5);
    assert_true(st.duplicates >= 1);
    assert_int_equal(st.src.posts, (uint64_t)r.posts);
    free(feed);
    free(batch);
    bv_facebook_free(r.fb);
    bv_curl_loop_free(r.cl);
    bv_pseudo_free(ps);
    event_base_free(r.base);
}

static void test_bad_options(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    bv_pseudo *ps = bv_pseudo_new("test-key-0123456789abcdef", 25);
    bv_codec_ctx codec = {.pseudo = ps};
    char err[256];
    bv_facebook_opts o = {.listen = "127.0.0.1",
                          .app_secret = "s",
                          .verify_token = "v",
                          .codec = &codec,
                          .post = on_post};
    assert_null(bv_facebook_new(base, &o, err, sizeof err));
    assert_non_null(strstr(err, "HOST:PORT"));
    o.listen = "127.0.0.1:0";
    o.app_secret = "";
    assert_null(bv_facebook_new(base, &o, err, sizeof err));
    assert_non_null(strstr(err, "app secret"));
    bv_pseudo_free(ps);
    event_base_free(base);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhooks),
        cmocka_unit_test(test_bad_options),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
