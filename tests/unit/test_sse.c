/* test_sse.c: the SSE parser against the WHATWG test vectors in tests/fixtures/platforms/sse
 * (every case fed whole, one byte at a time, and split in two at every offset), Mastodon's own
 * stream, the bounds (long lines, big events), stopping from the callback, reconnecting, and
 * garbage. */
#include "testutil.h"

#include "core/err.h"
#include "net/sse.h"

#include <dirent.h>
#include <yajl/yajl_tree.h>

typedef struct collected {
    char out[65536]; /* "type\x1fdata\x1fid\x1e" per event */
    size_t len;
    int n;
    int stop_at; /* stop after this many events (0: never) */
} collected;

static int collect(void *arg, const bv_sse_event *ev)
{
    collected *c = arg;
    int w =
        snprintf(c->out + c->len, sizeof c->out - c->len, "%.*s\x1f%.*s\x1f%.*s\x1e",
                 (int)ev->type_len, ev->type, (int)ev->data_len, ev->data, (int)ev->id_len, ev->id);
    assert_true(w > 0 && (size_t)w < sizeof c->out - c->len);
    c->len += (size_t)w;
    c->n++;
    return c->stop_at && c->n >= c->stop_at ? 7 : 0;
}

typedef struct result {
    collected ev;
    int64_t retry;
    char last_id[256];
} result;

/* Feeds data in pieces: cuts (sorted offsets) split it. */
static void run(const char *data, size_t len, const size_t *cuts, size_t ncuts, result *r)
{
    memset(r, 0, sizeof *r);
    bv_sse *p = bv_sse_new(0, 0);
    assert_non_null(p);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        assert_int_equal(bv_sse_feed(p, data + at, end - at, collect, &r->ev), 0);
        at = end;
    }
    bv_sse_reset(p); /* end of stream */
    r->retry = bv_sse_retry_ms(p);
    size_t idlen;
    const char *id = bv_sse_last_id(p, &idlen);
    snprintf(r->last_id, sizeof r->last_id, "%.*s", (int)idlen, id);
    bv_sse_free(p);
}

static void expected_of(yajl_val cas, result *want)
{
    memset(want, 0, sizeof *want);
    const char *ev_path[] = {"events", NULL};
    yajl_val evs = yajl_tree_get(cas, ev_path, yajl_t_array);
    assert_non_null(evs);
    for (size_t i = 0; i < YAJL_GET_ARRAY(evs)->len; i++) {
        yajl_val e = YAJL_GET_ARRAY(evs)->values[i];
        const char *tp[] = {"type", NULL}, *dp[] = {"data", NULL}, *ip[] = {"lastEventId", NULL};
        const char *t = YAJL_GET_STRING(yajl_tree_get(e, tp, yajl_t_string));
        const char *d = YAJL_GET_STRING(yajl_tree_get(e, dp, yajl_t_string));
        const char *id = YAJL_GET_STRING(yajl_tree_get(e, ip, yajl_t_string));
        assert_true(t && d && id);
        bv_sse_event ev = {t, strlen(t), d, strlen(d), id, strlen(id)};
        collect(&want->ev, &ev);
    }
    const char *rp[] = {"reconnectionTimeMs", NULL}, *lp[] = {"lastEventIdAtEOF", NULL};
    yajl_val rv = yajl_tree_get(cas, rp, yajl_t_any);
    want->retry = rv && YAJL_IS_INTEGER(rv) ? YAJL_GET_INTEGER(rv) : -1;
    yajl_val lv = yajl_tree_get(cas, lp, yajl_t_string);
    snprintf(want->last_id, sizeof want->last_id, "%s", lv ? YAJL_GET_STRING(lv) : "");
}

static void same(const result *got, const result *want, const char *name, const char *how)
{
    if (got->ev.len != want->ev.len || memcmp(got->ev.out, want->ev.out, got->ev.len) != 0 ||
        got->retry != want->retry || strcmp(got->last_id, want->last_id) != 0) {
        fail_msg("%s (%s): %d events, retry %lld, id '%s'; expected %d events, retry %lld, id '%s'",
                 name, how, got->ev.n, (long long)got->retry, got->last_id, want->ev.n,
                 (long long)want->retry, want->last_id);
    }
}

static void test_whatwg_vectors(void **state)
{
    (void)state;
    size_t jlen;
    char *json = tu_read_fixture("platforms/sse/expected.json", &jlen);
    char err[256];
    yajl_val root = yajl_tree_parse(json, err, sizeof err);
    assert_non_null(root);
    assert_true(YAJL_IS_OBJECT(root));
    size_t ncases = YAJL_GET_OBJECT(root)->len;
    assert_true(ncases >= 19);
    for (size_t k = 0; k < ncases; k++) {
        const char *name = YAJL_GET_OBJECT(root)->keys[k];
        char rel[256];
        snprintf(rel, sizeof rel, "platforms/sse/cases/%s", name);
        size_t len;
        char *data = tu_read_fixture(rel, &len);
        result want, got;
        expected_of(YAJL_GET_OBJECT(root)->values[k], &want);
        run(data, len, NULL, 0, &got);
        same(&got, &want, name, "whole");
        /* one byte at a time */
        size_t *cuts = malloc((len + 1) * sizeof *cuts);
        assert_non_null(cuts);
        for (size_t i = 0; i < len; i++) {
            cuts[i] = i;
        }
        run(data, len, cuts, len, &got);
        same(&got, &want, name, "byte by byte");
        /* two pieces, split at every offset: CRLF, UTF-8 sequences and the BOM cut everywhere */
        for (size_t i = 0; i <= len; i++) {
            run(data, len, &i, 1, &got);
            same(&got, &want, name, "split");
        }
        free(cuts);
        free(data);
    }
    yajl_tree_free(root);
    free(json);
}

/* Mastodon's public stream: the `:)` opener, `:thump` heartbeats, update and delete events. */
static void test_mastodon_stream(void **state)
{
    (void)state;
    size_t len;
    char *data = tu_read_fixture("platforms/mastodon/stream_public.sse", &len);
    bv_sse *p = bv_sse_new(0, 0);
    collected c = {0};
    assert_int_equal(bv_sse_feed(p, data, len, collect, &c), 0);
    bv_sse_stats st;
    bv_sse_stats_get(p, &st);
    assert_true(c.n >= 3);
    assert_true(st.comments >= 2); /* ":)" and ":thump" */
    assert_non_null(strstr(c.out, "update\x1f{"));
    assert_non_null(strstr(c.out, "delete\x1f"));
    assert_int_equal(st.dropped_lines + st.dropped_events + st.replaced, 0);
    bv_sse_free(p);
    free(data);
}

static void test_bounds(void **state)
{
    (void)state;
    bv_sse *p = bv_sse_new(32, 64);
    collected c = {0};
    char big[200];
    memset(big, 'x', sizeof big);
    /* a line past max_line: dropped with its event, the stream goes on */
    assert_int_equal(bv_sse_feed(p, "data: ", 6, collect, &c), 0);
    assert_int_equal(bv_sse_feed(p, big, sizeof big, collect, &c), 0);
    assert_int_equal(bv_sse_feed(p, "\n\ndata: ok\n\n", 12, collect, &c), 0);
    /* data past max_event over several lines: dropped */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(bv_sse_feed(p, "data: 0123456789abcdef\n", 23, collect, &c), 0);
    }
    assert_int_equal(bv_sse_feed(p, "\ndata: after\n\n", 14, collect, &c), 0);
    bv_sse_stats st;
    bv_sse_stats_get(p, &st);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(c.out, "message\x1fok\x1f"));
    assert_non_null(strstr(c.out, "message\x1f"
                                  "after\x1f"));
    assert_int_equal(st.dropped_lines, 1);
    assert_int_equal(st.dropped_events, 2);
    bv_sse_free(p);
}

static void test_stop_and_reconnect(void **state)
{
    (void)state;
    bv_sse *p = bv_sse_new(0, 0);
    collected c = {.stop_at = 1};
    const char *s = "id: 7\ndata: a\n\ndata: b\n\n";
    assert_int_equal(bv_sse_feed(p, s, strlen(s), collect, &c), 7); /* the callback's value */
    assert_int_equal(c.n, 1);
    /* a reconnect: the partial event is gone, the last id stays for Last-Event-ID */
    assert_int_equal(bv_sse_feed(p, "data: par", 9, collect, &c), 0);
    bv_sse_reset(p);
    c.stop_at = 0;
    assert_int_equal(bv_sse_feed(p,
                                 "\xEF\xBB\xBF"
                                 "data: c\n\n",
                                 12, collect, &c),
                     0);
    size_t n;
    const char *id = bv_sse_last_id(p, &n);
    assert_int_equal(n, 1);
    assert_memory_equal(id, "7", 1);
    /* the half event was dropped with the old stream; the new stream's BOM too */
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(c.out, "message\x1f"
                                  "c\x1f"
                                  "7"));
    bv_sse_free(p);
}

static void test_garbage(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    bv_sse *p = bv_sse_new(128, 256);
    collected c = {0};
    unsigned char buf[4096];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* mostly field-ish text, some newlines, some bytes >= 0x80 */
            unsigned v = (unsigned)(x & 0xFF);
            buf[i] = v < 20 ? '\n' : v < 30 ? '\r' : v < 40 ? ':' : (unsigned char)v;
        }
        c.len = 0;
        c.n = 0;
        assert_int_equal(bv_sse_feed(p, buf, sizeof buf, collect, &c), 0);
        if (round % 50 == 49) {
            bv_sse_reset(p);
        }
    }
    bv_sse_stats st;
    bv_sse_stats_get(p, &st);
    assert_true(st.replaced > 0);
    assert_int_equal(st.bytes, 200 * sizeof buf);
    bv_sse_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whatwg_vectors), cmocka_unit_test(test_mastodon_stream),
        cmocka_unit_test(test_bounds),         cmocka_unit_test(test_stop_and_reconnect),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
