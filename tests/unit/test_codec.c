/* test_codec.c: the platform codecs against the recorded fixtures (tests/fixtures/platforms/),
 * every skip reason, envelopes, privacy of authors, truncations, garbage and deep nesting. */
#include "testutil.h"

#include "codec/codec.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "engine/post.h"
#include "engine/pseudo.h"

static bv_pseudo *ps;
static bv_codec_ctx ctx;

static int setup(void **state)
{
    (void)state;
    ps = bv_pseudo_new("test-key", 8);
    ctx.pseudo = ps;
    ctx.max_depth = 0;
    ctx.max_len = 0;
    return ps ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bv_pseudo_free(ps);
    return 0;
}

/* Strict UTF-8 check for what codecs hand out. */
static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        size_t n = c < 0x80                 ? 0
                   : c >= 0xC2 && c <= 0xDF ? 1
                   : c >= 0xE0 && c <= 0xEF ? 2
                   : c >= 0xF0 && c <= 0xF4 ? 3
                                            : 9;
        if (n == 9) {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80) {
                return 0;
            }
        }
        p += n + 1;
    }
    return 1;
}

/* Every post a codec returns is whole: id, text (valid UTF-8), a sane kind and time. */
static void check_sane(const bv_post *p)
{
    assert_non_null(p->id);
    assert_true(p->id[0] != '\0');
    assert_non_null(p->text);
    assert_true(utf8_ok(p->text));
    assert_true(utf8_ok(p->id));
    if (p->url) {
        assert_true(utf8_ok(p->url));
    }
    assert_true(p->kind == BV_POST_CREATE || p->kind == BV_POST_DELETE);
    assert_true((unsigned)p->platform < BV_PLATFORM__COUNT);
    assert_true(strlen(p->lang) < sizeof p->lang);
    if (p->kind == BV_POST_CREATE) {
        assert_true(p->text[0] != '\0');
        assert_true(p->created_ms > 0);
    } else {
        assert_string_equal(p->text, "");
    }
    if (p->received_ms > 0) {
        assert_true(p->created_ms <= p->received_ms);
    }
}

/* Decodes a copy of s[0..n) (the codec may write json[n]). */
static bv_decode line_n(const char *s, size_t n, bv_post *p, bv_skip *why, bv_shape *shape)
{
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    memcpy(buf, s, n);
    bv_decode d = bv_codec_decode_line(&ctx, buf, n, p, why, shape);
    free(buf);
    if (d == BV_DECODE_POST) {
        assert_int_equal(*why, BV_SKIP_NONE);
        check_sane(p);
    } else {
        assert_int_equal(d, BV_DECODE_SKIP);
        assert_true(*why > BV_SKIP_NONE && *why < BV_SKIP__COUNT);
        assert_null(p->id);
        assert_null(p->text);
        assert_null(p->url);
    }
    return d;
}

static bv_decode line(const char *s, bv_post *p, bv_skip *why, bv_shape *shape)
{
    return line_n(s, strlen(s), p, why, shape);
}

static bv_decode plat(bv_platform pl, const char *s, bv_post *p, bv_skip *why)
{
    size_t n = strlen(s);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    memcpy(buf, s, n);
    bv_decode d = bv_codec_decode_platform(&ctx, pl, buf, n, p, why);
    free(buf);
    if (d == BV_DECODE_POST) {
        check_sane(p);
    }
    return d;
}

/* The skip reason of a line that must not decode. */
static bv_skip skip_of(const char *s)
{
    bv_post p;
    bv_skip why;
    assert_int_equal(line(s, &p, &why, NULL), BV_DECODE_SKIP);
    return why;
}

static void assert_author(const bv_post *p, bv_platform pl, const char *raw)
{
    uint8_t want[BV_PSEUDO_LEN];
    bv_pseudo_author(ps, pl, raw, strlen(raw), want);
    assert_true(p->has_author);
    assert_memory_equal(p->author, want, BV_PSEUDO_LEN);
}

static int64_t iso(const char *s)
{
    int64_t ms = 0;
    assert_int_equal(bv_time_parse_iso8601(s, strlen(s), &ms), 0);
    return ms;
}

/* Calls fn on each non-blank line (CR LF or LF) of a fixture. */
typedef void (*line_fn)(const char *s, size_t n, void *arg);
static size_t each_line(const char *rel, line_fn fn, void *arg)
{
    size_t len, count = 0;
    char *all = tu_read_fixture(rel, &len);
    char *p = all, *end = all + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t m = n;
        if (m > 0 && p[m - 1] == '\r') {
            m--;
        }
        if (m > 0) {
            fn(p, m, arg);
            count++;
        }
        p += n + 1;
    }
    free(all);
    return count;
}

struct tally {
    size_t posts, deletes, skips[BV_SKIP__COUNT];
    bv_shape shape; /* expected for every line, or BV_SHAPE__COUNT for any */
};

static void tally_line(const char *s, size_t n, void *arg)
{
    struct tally *t = arg;
    bv_post p;
    bv_skip why;
    bv_shape shape;
    if (line_n(s, n, &p, &why, &shape) == BV_DECODE_POST) {
        if (p.kind == BV_POST_DELETE) {
            t->deletes++;
        } else {
            t->posts++;
        }
        bv_post_clear(&p);
    } else {
        t->skips[why]++;
    }
    if (t->shape != BV_SHAPE__COUNT) {
        assert_int_equal(shape, t->shape);
    }
}

/* ---- Mastodon ---- */

static void test_mastodon_status(void **state)
{
    (void)state;
    size_t len;
    char *s = tu_read_fixture("platforms/mastodon/status.json", &len);
    bv_post p;
    bv_skip why;
    bv_shape shape;
    assert_int_equal(line_n(s, len, &p, &why, &shape), BV_DECODE_POST);
    free(s);
    assert_int_equal(shape, BV_SHAPE_MASTODON);
    assert_int_equal(p.platform, BV_PLATFORM_MASTODON);
    assert_int_equal(p.kind, BV_POST_CREATE);
    assert_string_equal(p.id, "103270115826048975");
    assert_string_equal(p.text,
                        "\"I lost my inheritance with one wrong digit on my sort code\"\n"
                        "https://www.theguardian.com/money/2019/dec/07/"
                        "i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code");
    assert_string_equal(p.url, "https://mastodon.social/@Gargron/103270115826048975");
    assert_string_equal(p.lang, "en");
    assert_int_equal(p.created_ms, 1575776913901LL);
    assert_int_equal(p.received_ms, 0);
    assert_author(&p, BV_PLATFORM_MASTODON, "Gargron");
    bv_post_clear(&p);
}

static void test_mastodon_stream(void **state)
{
    (void)state;
    /* the stream's events in order; "-" marks a delete */
    static const char *const want_ids[] = {
        "108914354907984653", "109348684737626801",  "-107214471804101576", "108914398911648589",
        "109348699525106378", "-108914398911648589", "108914430312582020",  "-108914430312582020",
    };
    size_t len;
    char *all = tu_read_fixture("platforms/mastodon/stream_public.sse", &len);
    char event[64] = "";
    size_t updates = 0, deletes = 0, found = 0;
    for (char *p = all; p && *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n > 7 && memcmp(p, "event: ", 7) == 0 && n - 7 < sizeof event) {
            memcpy(event, p + 7, n - 7);
            event[n - 7] = '\0';
        } else if (n > 6 && memcmp(p, "data: ", 6) == 0) {
            bv_post post;
            bv_skip why;
            bv_shape shape;
            if (strcmp(event, "delete") == 0) {
                assert_int_equal(bv_codec_mastodon_delete(p + 6, n - 6, &post), 0);
                assert_int_equal(post.kind, BV_POST_DELETE);
                assert_string_equal(post.text, "");
                deletes++;
            } else {
                assert_int_equal(line_n(p + 6, n - 6, &post, &why, &shape), BV_DECODE_POST);
                assert_int_equal(shape, BV_SHAPE_MASTODON);
                assert_int_equal(post.kind, BV_POST_CREATE);
                assert_true(post.has_author);
                assert_non_null(post.url);
                assert_null(strchr(post.text, '<'));
                updates++;
            }
            assert_true(found < sizeof want_ids / sizeof want_ids[0]);
            const char *want = want_ids[found++];
            assert_int_equal(post.kind == BV_POST_DELETE, want[0] == '-');
            assert_string_equal(post.id, want + (want[0] == '-'));
            bv_post_clear(&post);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(all);
    assert_int_equal(updates, 5);
    assert_int_equal(deletes, 3);
    assert_int_equal(found, 8);
}

static void test_mastodon_shapes(void **state)
{
    (void)state;
    bv_post p;
    bv_skip why;
    /* a boost: the boosted status's id, text, url and time; the booster as author */
    const char *boost =
        "{\"id\":\"2\",\"created_at\":\"2024-01-02T00:00:00Z\",\"content\":\"\",\"uri\":\"u2\","
        "\"url\":null,\"spoiler_text\":\"\",\"language\":null,"
        "\"account\":{\"id\":\"7\",\"acct\":\"booster@example.org\"},"
        "\"reblog\":{\"id\":\"1\",\"created_at\":\"2024-01-01T00:00:00.5Z\",\"uri\":\"u1\","
        "\"url\":\"https://example.org/@orig/1\",\"content\":\"<p>Hi &amp; bye</p>\","
        "\"spoiler_text\":\"CW: test\",\"language\":\"nl\",\"account\":{\"acct\":\"orig\"}}}";
    assert_int_equal(line(boost, &p, &why, NULL), BV_DECODE_POST);
    assert_string_equal(p.id, "1");
    assert_string_equal(p.text, "CW: test\nHi & bye");
    assert_string_equal(p.url, "https://example.org/@orig/1");
    assert_string_equal(p.lang, "nl");
    assert_int_equal(p.created_ms, iso("2024-01-01T00:00:00.5Z"));
    assert_author(&p, BV_PLATFORM_MASTODON, "booster@example.org");
    bv_post_clear(&p);
    /* url null: uri; acct missing: account id */
    const char *plain =
        "{\"id\":\"3\",\"created_at\":\"2024-01-02T00:00:00Z\",\"uri\":\"https://"
        "e.org/s/3\",\"url\":null,\"content\":\"<p>x</p>\",\"account\":{\"id\":\"9\"}}";
    assert_int_equal(line(plain, &p, &why, NULL), BV_DECODE_POST);
    assert_string_equal(p.url, "https://e.org/s/3");
    assert_string_equal(p.lang, "");
    assert_author(&p, BV_PLATFORM_MASTODON, "9");
    bv_post_clear(&p);
    /* empty content -> no_text; bad time -> no_time */
    assert_int_equal(skip_of("{\"id\":\"3\",\"created_at\":\"2024-01-02T00:00:00Z\",\"uri\":\"u\","
                             "\"content\":\"<p> </p>\",\"account\":{\"id\":\"9\"}}"),
                     BV_SKIP_NO_TEXT);
    assert_int_equal(skip_of("{\"id\":\"3\",\"created_at\":\"yesterday\",\"uri\":\"u\","
                             "\"content\":\"<p>x</p>\",\"account\":{\"id\":\"9\"}}"),
                     BV_SKIP_NO_TIME);
    /* a delete id */
    assert_int_equal(bv_codec_mastodon_delete("", 0, &p), BV_EINVAL);
    assert_int_equal(bv_codec_mastodon_delete("a b", 3, &p), BV_EINVAL);
    assert_int_equal(bv_codec_mastodon_delete("123", 3, &p), 0);
    assert_int_equal(p.platform, BV_PLATFORM_MASTODON);
    assert_string_equal(p.id, "123");
    bv_post_clear(&p);
}

/* ---- Jetstream ---- */

static void test_jetstream_events(void **state)
{
    (void)state;
    struct tally t = {.shape = BV_SHAPE_JETSTREAM};
    assert_int_equal(each_line("platforms/jetstream/events.ndjson", tally_line, &t), 152);
    assert_int_equal(t.posts, 16);
    assert_int_equal(t.deletes, 1);
    assert_int_equal(t.skips[BV_SKIP_NO_TEXT], 1);
    assert_int_equal(t.skips[BV_SKIP_OTHER_KIND], 134);
}

struct golden {
    size_t posts, other;
};

static void golden_line(const char *s, size_t n, void *arg)
{
    struct golden *g = arg;
    bv_post p;
    bv_skip why;
    bv_shape shape;
    if (line_n(s, n, &p, &why, &shape) == BV_DECODE_POST) {
        g->posts++;
        assert_string_equal(
            p.id, "at://did:plc:q235v55g5unth4zjjdpacfdr/app.bsky.feed.post/3mmoojp4cd223");
        assert_string_equal(
            p.url, "https://bsky.app/profile/did:plc:q235v55g5unth4zjjdpacfdr/post/3mmoojp4cd223");
        assert_string_equal(p.text, "Try RSV for a good time !!");
        assert_string_equal(p.lang, "en");
        assert_int_equal(p.platform, BV_PLATFORM_BLUESKY);
        assert_int_equal(p.created_ms, iso("2026-05-25T14:23:28.757Z"));
        assert_int_equal(p.received_ms, 1779719009157LL);
        assert_author(&p, BV_PLATFORM_BLUESKY, "did:plc:q235v55g5unth4zjjdpacfdr");
        bv_post_clear(&p);
    } else {
        assert_int_equal(why, BV_SKIP_OTHER_KIND);
        g->other++;
    }
    assert_int_equal(shape, BV_SHAPE_JETSTREAM);
}

static void test_jetstream_golden(void **state)
{
    (void)state;
    struct golden g = {0, 0};
    assert_int_equal(each_line("platforms/jetstream/golden_v1.ndjson", golden_line, &g), 10);
    assert_int_equal(g.posts, 1);
    assert_int_equal(g.other, 9);
}

static void test_jetstream_shapes(void **state)
{
    (void)state;
    bv_post p;
    bv_skip why;
    /* delete */
    assert_int_equal(
        line("{\"did\":\"did:plc:abc\",\"time_us\":1700000000000000,\"kind\":\"commit\","
             "\"commit\":{\"operation\":\"delete\",\"collection\":\"app.bsky.feed.post\","
             "\"rkey\":\"3k\"}}",
             &p, &why, NULL),
        BV_DECODE_POST);
    assert_int_equal(p.kind, BV_POST_DELETE);
    assert_string_equal(p.id, "at://did:plc:abc/app.bsky.feed.post/3k");
    assert_int_equal(p.received_ms, 1700000000000LL);
    bv_post_clear(&p);
    /* createdAt in the future of time_us: clamped */
    assert_int_equal(
        line("{\"did\":\"did:plc:abc\",\"time_us\":1700000000000000,\"kind\":\"commit\","
             "\"commit\":{\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\","
             "\"rkey\":\"3k\",\"record\":{\"text\":\"hi\",\"createdAt\":"
             "\"2099-01-01T00:00:00Z\"}}}",
             &p, &why, NULL),
        BV_DECODE_POST);
    assert_int_equal(p.created_ms, 1700000000000LL);
    bv_post_clear(&p);
    /* update, identity, bad did, bad time */
    assert_int_equal(
        skip_of("{\"did\":\"did:plc:abc\",\"time_us\":1,\"kind\":\"commit\",\"commit\":"
                "{\"operation\":\"update\",\"collection\":\"app.bsky.feed.post\","
                "\"rkey\":\"3k\",\"record\":{\"text\":\"x\"}}}"),
        BV_SKIP_OTHER_KIND);
    assert_int_equal(skip_of("{\"did\":\"did:plc:abc\",\"time_us\":1,\"kind\":\"identity\"}"),
                     BV_SKIP_OTHER_KIND);
    assert_int_equal(
        skip_of("{\"did\":\"did:plc:a/b\",\"time_us\":1,\"kind\":\"commit\",\"commit\":"
                "{\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\","
                "\"rkey\":\"3k\",\"record\":{\"text\":\"x\"}}}"),
        BV_SKIP_UNKNOWN_SHAPE);
    assert_int_equal(
        skip_of("{\"did\":\"did:plc:abc\",\"time_us\":1,\"kind\":\"commit\",\"commit\":"
                "{\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\","
                "\"rkey\":\"3k\",\"record\":{\"text\":\"x\"}}}"),
        BV_SKIP_NO_TIME);
}

/* ---- X ---- */

struct xv2 {
    size_t posts, no_time, other;
};

static void xv2_line(const char *s, size_t n, void *arg)
{
    struct xv2 *x = arg;
    bv_post p;
    bv_skip why;
    bv_shape shape;
    if (line_n(s, n, &p, &why, &shape) == BV_DECODE_POST) {
        x->posts++;
        assert_int_equal(p.platform, BV_PLATFORM_X);
        assert_true(strncmp(p.url, "https://x.com/i/web/status/", 27) == 0);
        assert_string_equal(p.url + 27, p.id);
        if (strcmp(p.id, "1234567890") == 0) {
            assert_string_equal(p.text, "Look at this cute cat! \xF0\x9F\x90\xB1");
            assert_int_equal(p.created_ms, iso("2024-01-15T10:35:00.000Z"));
            assert_author(&p, BV_PLATFORM_X, "9876543210");
            assert_string_equal(p.lang, "");
        } else if (strcmp(p.id, "1212092628029698048") == 0) {
            assert_string_equal(p.lang, "en");
            assert_author(&p, BV_PLATFORM_X, "2244994945");
        } else {
            assert_string_equal(p.id, "1346889436626259968");
        }
        /* the handles from includes.users never reach the post */
        assert_null(strstr(p.url, "catperson"));
        assert_null(strstr(p.url, "Xdevelopers"));
        bv_post_clear(&p);
    } else if (why == BV_SKIP_NO_TIME) {
        x->no_time++;
    } else {
        assert_int_equal(why, BV_SKIP_OTHER_KIND);
        x->other++;
    }
    assert_int_equal(shape, BV_SHAPE_X_V2);
}

static void test_x_v2_stream(void **state)
{
    (void)state;
    struct xv2 x = {0, 0, 0};
    assert_int_equal(each_line("platforms/x-v2/stream.ndjson", xv2_line, &x), 8);
    assert_int_equal(x.posts, 3);
    assert_int_equal(x.no_time, 4);
    assert_int_equal(x.other, 1);
    /* note_tweet holds the long text */
    bv_post p;
    bv_skip why;
    assert_int_equal(line("{\"data\":{\"id\":\"5\",\"text\":\"short\",\"note_tweet\":{\"text\":"
                          "\"the long one\"},\"created_at\":\"2024-01-01T00:00:00Z\"}}",
                          &p, &why, NULL),
                     BV_DECODE_POST);
    assert_string_equal(p.text, "the long one");
    assert_false(p.has_author);
    bv_post_clear(&p);
    /* ids are digits only */
    assert_int_equal(skip_of("{\"data\":{\"id\":\"5/../x\",\"text\":\"t\"}}"),
                     BV_SKIP_UNKNOWN_SHAPE);
}

struct xv11 {
    size_t posts;
    int big_id_seen;
};

static void xv11_line(const char *s, size_t n, void *arg)
{
    struct xv11 *x = arg;
    bv_post p;
    bv_skip why;
    bv_shape shape;
    assert_int_equal(line_n(s, n, &p, &why, &shape), BV_DECODE_POST);
    assert_int_equal(shape, BV_SHAPE_X_V11);
    x->posts++;
    assert_true(p.has_author);
    assert_null(strstr(p.text, "&amp;"));
    assert_true(strncmp(p.url, "https://x.com/i/web/status/", 27) == 0);
    assert_string_equal(p.url + 27, p.id);
    if (strcmp(p.id, "872836479608733696") == 0) {
        x->big_id_seen = 1;
    }
    if (strcmp(p.id, "887453193294282752") == 0) {
        assert_string_equal(p.text,
                            "N) A Tweet with explicit geo coordinates https://t.co/XkcFAgHhsj");
        assert_string_equal(p.lang, "en");
        assert_author(&p, BV_PLATFORM_X, "815279070241955840");
        int64_t ms;
        assert_int_equal(bv_time_parse_twitter("Tue Jul 18 23:25:04 +0000 2017", 30, &ms), 0);
        assert_int_equal(p.created_ms, ms);
        assert_null(strstr(p.url, "RobotPrincessFi"));
    }
    if (strcmp(p.id, "867472736871866368") == 0) {
        assert_non_null(strstr(p.text, "140 chars & replies"));
    }
    bv_post_clear(&p);
}

static void test_x_v11(void **state)
{
    (void)state;
    struct xv11 x = {0, 0};
    assert_int_equal(each_line("platforms/x-v1.1/tweets_original_format.ndjson", xv11_line, &x),
                     25);
    assert_int_equal(x.posts, 25);
    struct xv11 y = {0, 0};
    assert_int_equal(each_line("platforms/x-v1.1/public_api_sample.ndjson", xv11_line, &y), 20);
    assert_int_equal(y.posts, 20);
    assert_true(y.big_id_seen);
    /* a v1.1 delete notice, a retweet, timestamp_ms */
    bv_post p;
    bv_skip why;
    assert_int_equal(
        line("{\"delete\":{\"status\":{\"id\":1,\"id_str\":\"11\",\"user_id_str\":\"7\"},"
             "\"timestamp_ms\":\"1500000000000\"}}",
             &p, &why, NULL),
        BV_DECODE_POST);
    assert_int_equal(p.kind, BV_POST_DELETE);
    assert_string_equal(p.id, "11");
    bv_post_clear(&p);
    assert_int_equal(
        line("{\"id_str\":\"12\",\"created_at\":\"nope\",\"timestamp_ms\":\"1500000000000\","
             "\"text\":\"RT @a: trunc\",\"user\":{\"id_str\":\"8\"},"
             "\"retweeted_status\":{\"text\":\"short\",\"extended_tweet\":"
             "{\"full_text\":\"full &lt;3 &amp;amp;\"}}}",
             &p, &why, NULL),
        BV_DECODE_POST);
    assert_string_equal(p.text, "full <3 &amp;");
    assert_int_equal(p.created_ms, 1500000000000LL);
    bv_post_clear(&p);
}

/* ---- Facebook, Telegram, Reddit: each payload wrapped in an envelope ---- */

static bv_decode envelope(const char *platform, const char *kind, const char *payload, size_t n,
                          bv_post *p, bv_skip *why)
{
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_buf_printf(&b,
                                   "{\"v\":1,\"platform\":\"%s\",\"received_at\":"
                                   "\"2026-11-28T12:00:00Z\",\"kind\":\"%s\",\"payload\":",
                                   platform, kind),
                     0);
    assert_int_equal(bv_buf_append(&b, payload, n), 0);
    assert_int_equal(bv_buf_putc(&b, '}'), 0);
    bv_shape shape;
    bv_decode d = line_n(b.p, b.len, p, why, &shape);
    assert_int_equal(shape, BV_SHAPE_ENVELOPE);
    if (d == BV_DECODE_POST) {
        assert_int_equal(p->received_ms, iso("2026-11-28T12:00:00Z"));
    }
    bv_buf_free(&b);
    return d;
}

/* Calls fn with the JSON text of each element of the array at key path[0]/path[1]/... of the
 * fixture (a tiny re-serialiser is not needed: the arrays are located by bracket matching). */
static size_t each_element(const char *all, const char *key, line_fn fn, void *arg)
{
    size_t count = 0;
    for (const char *p = strstr(all, key); p; p = strstr(p + 1, key)) {
        const char *a = strchr(p, '[');
        assert_non_null(a);
        const char *q = a + 1;
        while (*q == ' ' || *q == '\n') {
            q++;
        }
        while (*q == '{') {
            int depth = 0, in_str = 0;
            const char *start = q;
            for (; *q; q++) {
                if (in_str) {
                    if (*q == '\\') {
                        q++;
                    } else if (*q == '"') {
                        in_str = 0;
                    }
                } else if (*q == '"') {
                    in_str = 1;
                } else if (*q == '{' || *q == '[') {
                    depth++;
                } else if (*q == '}' || *q == ']') {
                    if (--depth == 0) {
                        q++;
                        break;
                    }
                }
            }
            fn(start, (size_t)(q - start), arg);
            count++;
            while (*q == ',' || *q == ' ' || *q == '\n') {
                q++;
            }
        }
    }
    return count;
}

struct env {
    const char *platform;
    size_t posts, deletes, skips[BV_SKIP__COUNT];
};

static void env_elem(const char *s, size_t n, void *arg)
{
    struct env *e = arg;
    bv_post p;
    bv_skip why;
    if (envelope(e->platform, "post", s, n, &p, &why) == BV_DECODE_POST) {
        if (p.kind == BV_POST_DELETE) {
            e->deletes++;
        } else {
            e->posts++;
        }
        bv_post_clear(&p);
    } else {
        e->skips[why]++;
    }
}

static void fixture_elements(const char *rel, const char *key, struct env *e)
{
    char *all = tu_read_fixture(rel, NULL);
    each_element(all, key, env_elem, e);
    free(all);
}

static void test_facebook(void **state)
{
    (void)state;
    struct env e = {.platform = "facebook"};
    fixture_elements("platforms/facebook/webhook_feed.json", "\"changes\"", &e);
    fixture_elements("platforms/facebook/webhook_feed_docs.json", "\"changes\"", &e);
    fixture_elements("platforms/facebook/webhook_feed_dashboard_test.json", "\"changes\"", &e);
    fixture_elements("platforms/facebook/webhook_feed_batch.json", "\"changes\"", &e);
    assert_int_equal(e.posts, 3 + 3);
    assert_int_equal(e.deletes, 1);
    /* the comment, exactly */
    const char *comment =
        "{\"field\":\"feed\",\"value\":{\"from\":{\"id\":\"6543210987654321\",\"name\":\"Prince "
        "Charming\"},\"item\":\"comment\",\"comment_id\":\"444444444_555555555\",\"post_id\":"
        "\"44444444_444444444\",\"parent_id\":\"44444444_444444444\",\"verb\":\"add\","
        "\"created_time\":1520544900,\"message\":\"Flooding reported on Main St "
        "\\u00e4\\u00f6\\u00e5\"}}";
    bv_post p;
    bv_skip why;
    assert_int_equal(plat(BV_PLATFORM_FACEBOOK, comment, &p, &why), BV_DECODE_POST);
    assert_string_equal(p.id, "444444444_555555555");
    assert_string_equal(p.url, "https://www.facebook.com/44444444_444444444");
    assert_string_equal(p.text, "Flooding reported on Main St \xC3\xA4\xC3\xB6\xC3\xA5");
    assert_int_equal(p.created_ms, 1520544900000LL);
    assert_author(&p, BV_PLATFORM_FACEBOOK, "6543210987654321");
    bv_post_clear(&p);
    assert_int_equal(plat(BV_PLATFORM_FACEBOOK,
                          "{\"field\":\"feed\",\"value\":{\"item\":\"reaction\","
                          "\"verb\":\"add\",\"post_id\":\"1_2\"}}",
                          &p, &why),
                     BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_OTHER_KIND);
    assert_int_equal(plat(BV_PLATFORM_FACEBOOK, "{\"field\":\"mention\",\"value\":{}}", &p, &why),
                     BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_OTHER_KIND);
    assert_int_equal(plat(BV_PLATFORM_FACEBOOK,
                          "{\"field\":\"feed\",\"value\":{\"item\":\"photo\","
                          "\"verb\":\"add\",\"post_id\":\"1_2\","
                          "\"created_time\":5}}",
                          &p, &why),
                     BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_NO_TEXT);
}

static void test_telegram(void **state)
{
    (void)state;
    struct env e = {.platform = "telegram"};
    fixture_elements("platforms/telegram/getUpdates.json", "\"result\"", &e);
    fixture_elements("platforms/telegram/getUpdates_next.json", "\"result\"", &e);
    fixture_elements("platforms/telegram/getUpdates_private_message.json", "\"result\"", &e);
    fixture_elements("platforms/telegram/getUpdates_empty.json", "\"result\"", &e);
    assert_int_equal(e.posts, 6);
    bv_post p;
    bv_skip why;
    const char *chan = "{\"update_id\":500676843,\"channel_post\":{\"message_id\":20,\"author_"
                       "signature\":\"Chunlei Wang\",\"chat\":{\"id\":-1001241558182,\"title\":"
                       "\"VVV talk\",\"type\":\"channel\"},\"date\":1529659834,\"text\":\"NES "
                       "\\u624d\\u662f\\u6c38\\u6052\\u7684\\u6e38\\u620f\"}}";
    assert_int_equal(plat(BV_PLATFORM_TELEGRAM, chan, &p, &why), BV_DECODE_POST);
    assert_string_equal(p.id, "-1001241558182:20");
    assert_null(p.url);
    assert_int_equal(p.created_ms, 1529659834000LL);
    assert_string_equal(p.text, "NES 才是永恒的游戏");
    assert_author(&p, BV_PLATFORM_TELEGRAM, "-1001241558182");
    bv_post_clear(&p);
    /* a public channel with a username gets a link; a caption stands in for text */
    assert_int_equal(plat(BV_PLATFORM_TELEGRAM,
                          "{\"update_id\":1,\"edited_channel_post\":{\"message_id\":7,\"chat\":"
                          "{\"id\":-100,\"type\":\"channel\",\"username\":\"newsroom\"},"
                          "\"sender_chat\":{\"id\":-100},\"date\":1,\"caption\":\"photo\"}}",
                          &p, &why),
                     BV_DECODE_POST);
    assert_string_equal(p.url, "https://t.me/newsroom/7");
    assert_string_equal(p.text, "photo");
    bv_post_clear(&p);
    /* a private chat: neither the user's id nor their username appear */
    char *priv = tu_read_fixture("platforms/telegram/getUpdates_private_message.json", NULL);
    char *u = strstr(priv, "{\"update_id\"");
    assert_non_null(u);
    *strrchr(u, ']') = '\0'; /* drop "]}" */
    assert_int_equal(plat(BV_PLATFORM_TELEGRAM, u, &p, &why), BV_DECODE_POST);
    free(priv);
    assert_null(strstr(p.id, "234140659"));
    assert_null(p.url);
    assert_true(strlen(p.id) == 2 * BV_PSEUDO_LEN + 4 &&
                strcmp(p.id + 2 * BV_PSEUDO_LEN, ":698") == 0);
    assert_author(&p, BV_PLATFORM_TELEGRAM, "234140659");
    assert_string_equal(p.text, "test");
    bv_post_clear(&p);
    assert_int_equal(plat(BV_PLATFORM_TELEGRAM, "{\"update_id\":1,\"poll\":{}}", &p, &why),
                     BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_OTHER_KIND);
}

static void test_reddit(void **state)
{
    (void)state;
    struct env e = {.platform = "reddit"};
    fixture_elements("platforms/reddit/new.json", "\"children\"", &e);
    assert_int_equal(e.posts, 25);
    fixture_elements("platforms/reddit/new_before.json", "\"children\"", &e);
    assert_int_equal(e.posts, 28);
    bv_post p;
    bv_skip why;
    assert_int_equal(plat(BV_PLATFORM_REDDIT,
                          "{\"kind\":\"t3\",\"data\":{\"id\":\"48fbm9\",\"name\":\"t3_48fbm9\","
                          "\"title\":\"Title\",\"selftext\":\"Body\",\"author\":\"[deleted]\","
                          "\"created_utc\":1456821458.0,\"permalink\":\"/r/AskReddit/comments/"
                          "48fbm9/x/\"}}",
                          &p, &why),
                     BV_DECODE_POST);
    assert_string_equal(p.id, "t3_48fbm9");
    assert_string_equal(p.text, "Title\nBody");
    assert_string_equal(p.url, "https://www.reddit.com/r/AskReddit/comments/48fbm9/x/");
    assert_int_equal(p.created_ms, 1456821458000LL);
    assert_false(p.has_author);
    bv_post_clear(&p);
    assert_int_equal(plat(BV_PLATFORM_REDDIT,
                          "{\"kind\":\"t3\",\"data\":{\"name\":\"t3_a\",\"title\":\"T\","
                          "\"selftext\":\"[removed]\",\"author\":\"someone\","
                          "\"created_utc\":1.5}}",
                          &p, &why),
                     BV_DECODE_POST);
    assert_string_equal(p.text, "T");
    assert_int_equal(p.created_ms, 1500);
    assert_author(&p, BV_PLATFORM_REDDIT, "someone");
    bv_post_clear(&p);
    assert_int_equal(plat(BV_PLATFORM_REDDIT, "{\"kind\":\"t5\",\"data\":{}}", &p, &why),
                     BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_OTHER_KIND);
}

/* ---- envelopes ---- */

static void test_envelope(void **state)
{
    (void)state;
    bv_post p;
    bv_skip why;
    const char *jet = "{\"did\":\"did:plc:abc\",\"time_us\":1,\"kind\":\"commit\",\"commit\":"
                      "{\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\",\"rkey\":"
                      "\"3k\",\"record\":{\"text\":\"x\",\"createdAt\":\"2030-01-01T00:00:00Z\"}}}";
    /* post, clamped to received_at */
    assert_int_equal(envelope("bluesky", "post", jet, strlen(jet), &p, &why), BV_DECODE_POST);
    assert_int_equal(p.kind, BV_POST_CREATE);
    assert_int_equal(p.created_ms, iso("2026-11-28T12:00:00Z"));
    bv_post_clear(&p);
    /* delete with the platform object */
    assert_int_equal(envelope("bluesky", "delete", jet, strlen(jet), &p, &why), BV_DECODE_POST);
    assert_int_equal(p.kind, BV_POST_DELETE);
    assert_string_equal(p.id, "at://did:plc:abc/app.bsky.feed.post/3k");
    bv_post_clear(&p);
    /* delete with a bare id */
    assert_int_equal(envelope("mastodon", "delete", "\"107214471804101576\"", 20, &p, &why),
                     BV_DECODE_POST);
    assert_int_equal(p.kind, BV_POST_DELETE);
    assert_int_equal(p.platform, BV_PLATFORM_MASTODON);
    assert_string_equal(p.id, "107214471804101576");
    assert_int_equal(p.created_ms, iso("2026-11-28T12:00:00Z"));
    bv_post_clear(&p);
    /* kind defaults to post */
    assert_int_equal(
        line("{\"v\":1,\"platform\":\"reddit\",\"received_at\":\"2020-01-01T00:00:00Z\","
             "\"payload\":{\"kind\":\"t3\",\"data\":{\"name\":\"t3_a\",\"title\":\"T\","
             "\"created_utc\":1}}}",
             &p, &why, NULL),
        BV_DECODE_POST);
    bv_post_clear(&p);
    /* bad envelopes */
    static const char *const bad[] = {
        "{\"v\":2,\"platform\":\"x\",\"received_at\":\"2020-01-01T00:00:00Z\",\"payload\":{}}",
        "{\"v\":\"1\",\"platform\":\"x\",\"received_at\":\"2020-01-01T00:00:00Z\",\"payload\":{}}",
        "{\"v\":1.0,\"platform\":\"x\",\"received_at\":\"2020-01-01T00:00:00Z\",\"payload\":{}}",
        "{\"v\":1,\"platform\":\"myspace\",\"received_at\":\"2020-01-01T00:00:00Z\",\"payload\":{}"
        "}",
        "{\"v\":1,\"platform\":\"x\",\"received_at\":\"yesterday\",\"payload\":{}}",
        "{\"v\":1,\"platform\":\"x\",\"payload\":{}}",
        "{\"v\":1,\"platform\":\"x\",\"received_at\":\"2020-01-01T00:00:00Z\",\"kind\":\"like\","
        "\"payload\":{}}",
        "{\"v\":1,\"platform\":\"x\",\"received_at\":\"2020-01-01T00:00:00Z\",\"payload\":\"1\"}",
        "{\"v\":1,\"platform\":\"x\",\"received_at\":\"2020-01-01T00:00:00Z\",\"payload\":[]}",
        "{\"v\":1,\"platform\":\"x\",\"received_at\":\"2020-01-01T00:00:00Z\",\"kind\":\"delete\","
        "\"payload\":\"a b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(skip_of(bad[i]), BV_SKIP_BAD_ENVELOPE);
    }
}

/* ---- every skip reason, limits, robustness ---- */

static void test_skip_reasons(void **state)
{
    (void)state;
    bv_post p;
    bv_skip why;
    assert_int_equal(skip_of("not json"), BV_SKIP_NOT_JSON);
    assert_int_equal(skip_of("[1,2]"), BV_SKIP_NOT_JSON);
    assert_int_equal(skip_of("\"s\""), BV_SKIP_NOT_JSON);
    assert_int_equal(skip_of("{} {}"), BV_SKIP_NOT_JSON);
    assert_int_equal(skip_of("{\"a\":1 /* c */}"), BV_SKIP_NOT_JSON);
    assert_int_equal(skip_of(""), BV_SKIP_NOT_JSON);
    assert_int_equal(line_n("{\"a\":1}\0{", 9, &p, &why, NULL), BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_NOT_JSON);
    assert_int_equal(skip_of("{\"a\":\"\xC0\xAF\"}"), BV_SKIP_NOT_UTF8);         /* overlong */
    assert_int_equal(skip_of("{\"a\":\"\xED\xA0\x80\"}"), BV_SKIP_NOT_UTF8);     /* surrogate */
    assert_int_equal(skip_of("{\"a\":\"\xF4\x90\x80\x80\"}"), BV_SKIP_NOT_UTF8); /* > U+10FFFF */
    assert_int_equal(skip_of("{\"a\":\"\xE2\x82\"}"), BV_SKIP_NOT_UTF8);         /* cut short */
    assert_int_equal(skip_of("{\"a\":\"\xFF\"}"), BV_SKIP_NOT_UTF8);
    assert_int_equal(skip_of("[[[[\xFF"), BV_SKIP_NOT_UTF8); /* UTF-8 is checked first */
    assert_int_equal(skip_of("{\"a\":1}"), BV_SKIP_UNKNOWN_SHAPE);
    assert_int_equal(skip_of("{\"data\":{\"id\":\"1\",\"text\":\"\"}}"), BV_SKIP_NO_TEXT);
    assert_int_equal(skip_of("{\"data\":{\"id\":\"1\",\"text\":\"x\"}}"), BV_SKIP_NO_TIME);
    assert_int_equal(skip_of("{\"errors\":[{\"title\":\"operational-disconnect\"}]}"),
                     BV_SKIP_OTHER_KIND);
    assert_int_equal(skip_of("{\"v\":9,\"platform\":\"x\",\"payload\":{}}"), BV_SKIP_BAD_ENVELOPE);
    /* too long */
    ctx.max_len = 8;
    assert_int_equal(skip_of("{\"a\":\"123456\"}"), BV_SKIP_TOO_LONG);
    ctx.max_len = 0;
    /* the byte-order mark is tolerated */
    assert_int_equal(skip_of("\xEF\xBB\xBF{\"a\":1}"), BV_SKIP_UNKNOWN_SHAPE);
    /* the same reasons through the platform entry point */
    assert_int_equal(plat(BV_PLATFORM_X, "{\"data\":", &p, &why), BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_NOT_JSON);
    assert_int_equal(plat(BV_PLATFORM_REDDIT, "{\"x\":1}", &p, &why), BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_UNKNOWN_SHAPE);
    assert_int_equal(plat((bv_platform)99, "{\"x\":1}", &p, &why), BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_UNKNOWN_SHAPE);
    for (int i = 0; i < BV_SKIP__COUNT; i++) {
        assert_non_null(bv_skip_name((bv_skip)i));
    }
    assert_string_equal(bv_shape_name(BV_SHAPE_X_V11), "x_v11");
    assert_string_equal(bv_shape_name(BV_SHAPE__COUNT), "unknown");
}

static void test_depth(void **state)
{
    (void)state;
    size_t n = 100000;
    char *deep = malloc(n + 1);
    assert_non_null(deep);
    memset(deep, '[', n);
    deep[n] = '\0';
    assert_int_equal(skip_of(deep), BV_SKIP_TOO_DEEP);
    memset(deep, '{', n);
    assert_int_equal(skip_of(deep), BV_SKIP_TOO_DEEP);
    free(deep);
    /* exactly the limit is fine; one more is not; brackets inside strings do not count */
    bv_buf b = BV_BUF_INIT;
    for (int d = 63; d <= 64; d++) {
        bv_buf_reset(&b);
        assert_int_equal(bv_buf_puts(&b, "{\"a\":\"[[[[{{{{\\\"[[[\",\"b\":"), 0);
        for (int i = 0; i < d - 1; i++) {
            assert_int_equal(bv_buf_putc(&b, '['), 0);
        }
        for (int i = 0; i < d - 1; i++) {
            assert_int_equal(bv_buf_putc(&b, ']'), 0);
        }
        assert_int_equal(bv_buf_putc(&b, '}'), 0);
        bv_skip want = d == 64 ? BV_SKIP_UNKNOWN_SHAPE : BV_SKIP_UNKNOWN_SHAPE;
        assert_int_equal(skip_of(b.p), want);
    }
    bv_buf_reset(&b);
    assert_int_equal(bv_buf_puts(&b, "{\"b\":"), 0);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(bv_buf_putc(&b, '['), 0);
    }
    for (int i = 0; i < 64; i++) {
        assert_int_equal(bv_buf_putc(&b, ']'), 0);
    }
    assert_int_equal(bv_buf_putc(&b, '}'), 0);
    assert_int_equal(skip_of(b.p), BV_SKIP_TOO_DEEP);
    ctx.max_depth = 200;
    assert_int_equal(skip_of(b.p), BV_SKIP_UNKNOWN_SHAPE);
    ctx.max_depth = 0;
    bv_buf_free(&b);
}

static void test_oversize_strings(void **state)
{
    (void)state;
    size_t big = 2u << 20;
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_buf_puts(&b,
                                 "{\"data\":{\"id\":\"1\",\"created_at\":\"2024-01-01T00:00:00Z\","
                                 "\"lang\":\"a-very-long-language-tag\",\"text\":\""),
                     0);
    assert_int_equal(bv_buf_reserve(&b, big), 0);
    memset(b.p + b.len, 'a', big);
    b.len += big;
    assert_int_equal(bv_buf_puts(&b, "\"}}"), 0);
    bv_post p;
    bv_skip why;
    assert_int_equal(line_n(b.p, b.len, &p, &why, NULL), BV_DECODE_POST);
    assert_int_equal(strlen(p.text), big);
    assert_string_equal(p.lang, ""); /* does not fit: dropped, not cut */
    bv_post_clear(&p);
    ctx.max_len = 1u << 20;
    assert_int_equal(line_n(b.p, b.len, &p, &why, NULL), BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_TOO_LONG);
    ctx.max_len = 0;
    bv_buf_free(&b);
    /* huge numbers as ids and times */
    assert_int_equal(skip_of("{\"data\":{\"id\":\"1\",\"text\":\"x\",\"created_at\":1e999}}"),
                     BV_SKIP_NO_TIME);
    assert_int_equal(plat(BV_PLATFORM_TELEGRAM,
                          "{\"update_id\":1,\"message\":{\"message_id\":99999999999999999999999,"
                          "\"chat\":{\"id\":1},\"date\":1,\"text\":\"x\"}}",
                          &p, &why),
                     BV_DECODE_SKIP);
    assert_int_equal(plat(BV_PLATFORM_FACEBOOK,
                          "{\"field\":\"feed\",\"value\":{\"item\":\"post\",\"verb\":\"add\","
                          "\"post_id\":\"1_2\",\"message\":\"m\",\"created_time\":1e300}}",
                          &p, &why),
                     BV_DECODE_SKIP);
    assert_int_equal(why, BV_SKIP_NO_TIME);
}

/* Every prefix of a valid line is skipped (as not JSON, or as cut UTF-8), never half-decoded. */
static void truncations_of(const char *s, size_t n)
{
    for (size_t cut = 0; cut < n; cut++) {
        bv_post p;
        bv_skip why;
        bv_decode d = line_n(s, cut, &p, &why, NULL);
        if (d == BV_DECODE_POST) {
            fail_msg("prefix of %zu bytes decoded", cut);
        }
        assert_true(why == BV_SKIP_NOT_JSON || why == BV_SKIP_NOT_UTF8);
    }
    bv_post p;
    bv_skip why;
    assert_int_equal(line_n(s, n, &p, &why, NULL), BV_DECODE_POST);
    bv_post_clear(&p);
}

static void trunc_line(const char *s, size_t n, void *arg)
{
    size_t *left = arg;
    if (*left > 0) {
        bv_post p;
        bv_skip why;
        if (line_n(s, n, &p, &why, NULL) == BV_DECODE_POST) {
            bv_post_clear(&p);
            truncations_of(s, n);
            (*left)--;
        }
    }
}

static void test_truncations(void **state)
{
    (void)state;
    size_t left = 2;
    each_line("platforms/jetstream/golden_v1.ndjson", trunc_line, &left);
    left = 2;
    each_line("platforms/x-v2/stream.ndjson", trunc_line, &left);
    left = 1;
    each_line("platforms/x-v1.1/tweets_original_format.ndjson", trunc_line, &left);
    size_t len;
    char *s = tu_read_fixture("platforms/mastodon/status.json", &len);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ')) {
        len--;
    }
    truncations_of(s, len);
    free(s);
    const char *env = "{\"v\":1,\"platform\":\"telegram\",\"received_at\":\"2026-01-01T00:00:00Z\","
                      "\"payload\":{\"update_id\":1,\"message\":{\"message_id\":2,\"chat\":{\"id\":"
                      "3,\"type\":\"group\"},\"date\":4,\"text\":\"h\xC3\xA9\"}}}";
    truncations_of(env, strlen(env));
}

static void test_garbage(void **state)
{
    (void)state;
    /* deterministic pseudo-random bytes, and random mutations of a valid line */
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    char buf[512];
    const char *base = "{\"v\":1,\"platform\":\"bluesky\",\"received_at\":\"2026-01-01T00:00:00Z\","
                       "\"payload\":{\"did\":\"did:plc:abc\",\"time_us\":1,\"kind\":\"commit\","
                       "\"commit\":{\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\","
                       "\"rkey\":\"3k\",\"record\":{\"text\":\"x\",\"createdAt\":"
                       "\"2020-01-01T00:00:00Z\"}}}}";
    size_t blen = strlen(base);
    for (int iter = 0; iter < 20000; iter++) {
        size_t n;
        if (iter % 2 == 0) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            n = (size_t)(x % sizeof buf);
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[i] = (char)(x & 0xFF);
            }
        } else {
            memcpy(buf, base, blen);
            n = blen;
            for (int k = 0; k < 3; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                static const char alphabet[] = "{}[]\":,\\a1\x80 ";
                buf[x % n] = alphabet[(x >> 32) % (sizeof alphabet - 1)];
            }
        }
        bv_post p;
        bv_skip why;
        if (line_n(buf, n, &p, &why, NULL) == BV_DECODE_POST) {
            bv_post_clear(&p);
        }
        for (int pl = 0; pl < BV_PLATFORM__COUNT; pl++) {
            char *copy = malloc(n + 1);
            assert_non_null(copy);
            memcpy(copy, buf, n);
            if (bv_codec_decode_platform(&ctx, (bv_platform)pl, copy, n, &p, &why) ==
                BV_DECODE_POST) {
                check_sane(&p);
                bv_post_clear(&p);
            }
            free(copy);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mastodon_status),  cmocka_unit_test(test_mastodon_stream),
        cmocka_unit_test(test_mastodon_shapes),  cmocka_unit_test(test_jetstream_events),
        cmocka_unit_test(test_jetstream_golden), cmocka_unit_test(test_jetstream_shapes),
        cmocka_unit_test(test_x_v2_stream),      cmocka_unit_test(test_x_v11),
        cmocka_unit_test(test_facebook),         cmocka_unit_test(test_telegram),
        cmocka_unit_test(test_reddit),           cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_skip_reasons),     cmocka_unit_test(test_depth),
        cmocka_unit_test(test_oversize_strings), cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
