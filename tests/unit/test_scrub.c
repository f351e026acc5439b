/* test_scrub.c: pseudonymising payloads for recordings (codec/scrub.h). Every platform fixture
 * (tests/fixtures/platforms/) and hand-made payloads for the rules the fixtures do not reach:
 * after bv_scrub and bv_json_write none of the strings that identify a person (collected here
 * from the original tree, independently of the scrubber's rules) is left in the text, and the
 * scrubbed text decodes to the same post (text, times, language, kind, id except where scrub.h
 * says). Also: deterministic output, the JSON writer, and odd, garbage and deep trees. */
#include "testutil.h"

#include "codec/codec.h"
#include "codec/scrub.h"
#include "core/buf.h"
#include "core/err.h"
#include "engine/post.h"
#include "engine/pseudo.h"

#include <yajl/yajl_tree.h>

static bv_pseudo *ps;
static bv_codec_ctx ctx;

static int setup(void **state)
{
    (void)state;
    ps = bv_pseudo_new("scrub-test-key", 14);
    ctx.pseudo = ps;
    return ps ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bv_pseudo_free(ps);
    return 0;
}

/* ---- the identifying strings of an original payload, found by the test's own rules ---- */

typedef struct idset {
    char **s;
    size_t n, cap;
} idset;

static void ids_add(idset *ids, const char *s, size_t n)
{
    if (s == NULL || n == 0 || (n == 9 && memcmp(s, "[deleted]", 9) == 0)) {
        return;
    }
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? 2 * ids->cap : 64;
        ids->s = realloc(ids->s, ids->cap * sizeof *ids->s);
        assert_non_null(ids->s);
    }
    char *c = malloc(n + 1);
    assert_non_null(c);
    memcpy(c, s, n);
    c[n] = '\0';
    ids->s[ids->n++] = c;
}

static void ids_add_join(idset *ids, const char *a, const char *b, const char *c)
{
    bv_buf j = BV_BUF_INIT;
    assert_int_equal(bv_buf_printf(&j, "%s%s%s", a, b, c), 0);
    ids_add(ids, j.p, j.len);
    bv_buf_free(&j);
}

static void ids_free(idset *ids)
{
    for (size_t i = 0; i < ids->n; i++) {
        free(ids->s[i]);
    }
    free(ids->s);
    memset(ids, 0, sizeof *ids);
}

static yajl_val get(yajl_val o, const char *k)
{
    if (!YAJL_IS_OBJECT(o)) {
        return NULL;
    }
    for (size_t i = 0; i < o->u.object.len; i++) {
        if (strcmp(o->u.object.keys[i], k) == 0) {
            return o->u.object.values[i];
        }
    }
    return NULL;
}

static const char *text_of(yajl_val v)
{
    if (YAJL_IS_STRING(v)) {
        return v->u.string;
    }
    if (YAJL_IS_NUMBER(v)) {
        return v->u.number.r;
    }
    return NULL;
}

static void ids_field(idset *ids, yajl_val o, const char *k)
{
    const char *t = text_of(get(o, k));
    if (t != NULL) {
        ids_add(ids, t, strlen(t));
    }
}

static void ids_fields(idset *ids, yajl_val o, const char *const *keys)
{
    for (size_t i = 0; keys[i] != NULL; i++) {
        ids_field(ids, o, keys[i]);
    }
}

static int is_text_key(const char *k)
{
    static const char *const keys[] = {"text",  "full_text", "spoiler_text", "content", "message",
                                       "title", "selftext",  "body",         "caption", NULL};
    for (size_t i = 0; k != NULL && keys[i] != NULL; i++) {
        if (strcmp(k, keys[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The public content of the original (what its text fields say): a handle written in a post's
 * text stays, so strings found in here are not looked for. */
static void text_blob(yajl_val v, const char *key, bv_buf *blob)
{
    if (YAJL_IS_STRING(v) && is_text_key(key)) {
        assert_int_equal(bv_buf_puts(blob, v->u.string), 0);
        assert_int_equal(bv_buf_putc(blob, '\n'), 0);
    } else if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len; i++) {
            text_blob(v->u.object.values[i], v->u.object.keys[i], blob);
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            text_blob(v->u.array.values[i], key, blob);
        }
    }
}

typedef void (*collect_fn)(yajl_val v, const char *key, yajl_val parent, idset *ids);

/* Visits every value with its key and the object holding it. */
static void visit(yajl_val v, const char *key, yajl_val parent, collect_fn fn, idset *ids)
{
    fn(v, key, parent, ids);
    if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len; i++) {
            visit(v->u.object.values[i], v->u.object.keys[i], v, fn, ids);
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            visit(v->u.array.values[i], key, parent, fn, ids);
        }
    }
}

static void masto_person(yajl_val a, idset *ids, int account)
{
    static const char *const keys[] = {"id",   "username",      "acct",   "display_name",
                                       "url",  "avatar",        "header", "avatar_static",
                                       "note", "header_static", NULL};
    ids_fields(ids, a, keys);
    const char *u = text_of(get(a, "username"));
    if (u != NULL) {
        ids_add_join(ids, "/@", u, "");
        ids_add_join(ids, "/users/", u, "/");
    }
    yajl_val f = get(a, "fields");
    for (size_t i = 0; account && YAJL_IS_ARRAY(f) && i < f->u.array.len; i++) {
        ids_field(ids, f->u.array.values[i], "value");
    }
}

static void masto_collect(yajl_val v, const char *key, yajl_val parent, idset *ids)
{
    if (key == NULL) {
        return;
    }
    if (strcmp(key, "account") == 0 && YAJL_IS_OBJECT(v)) {
        masto_person(v, ids, 1);
    } else if (strcmp(key, "mentions") == 0 && YAJL_IS_OBJECT(v)) {
        masto_person(v, ids, 0); /* each element of the array */
    } else if (strcmp(key, "in_reply_to_account_id") == 0) {
        ids_field(ids, parent, key);
    }
}

/* Every DID in the strings that are not post text, and handles. */
static void jet_collect(yajl_val v, const char *key, yajl_val parent, idset *ids)
{
    if (key != NULL && strcmp(key, "handle") == 0) {
        ids_field(ids, parent, key);
    }
    if (!YAJL_IS_STRING(v) || (key != NULL && strcmp(key, "text") == 0)) {
        return;
    }
    const char *s = v->u.string;
    for (const char *p = strstr(s, "did:"); p != NULL; p = strstr(p + 4, "did:")) {
        const char *q = p + 4;
        while (*q >= 'a' && *q <= 'z') {
            q++;
        }
        if (*q != ':' || strncmp(p, "did:pseudo:", 11) == 0) {
            continue;
        }
        q++;
        while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
               *q == '.' || *q == '-' || *q == '_' || *q == ':' || *q == '%') {
            q++;
        }
        ids_add(ids, p, (size_t)(q - p));
    }
}

static void x_person(yajl_val u, idset *ids)
{
    static const char *const keys[] = {
        "id",
        "id_str",
        "screen_name",
        "username",
        "name",
        "description",
        "url",
        "profile_image_url",
        "profile_image_url_https",
        NULL}; /* not location: a geotagged post's place often says the same */
    ids_fields(ids, u, keys);
    const char *h = text_of(get(u, "screen_name"));
    if (h == NULL) {
        h = text_of(get(u, "username"));
    }
    if (h != NULL) {
        ids_add_join(ids, "/", h, "/");
    }
}

static void x_collect(yajl_val v, const char *key, yajl_val parent, idset *ids)
{
    if (key == NULL) {
        return;
    }
    if ((strcmp(key, "user") == 0 || strcmp(key, "users") == 0 || strcmp(key, "mentions") == 0 ||
         strcmp(key, "user_mentions") == 0) &&
        YAJL_IS_OBJECT(v)) {
        x_person(v, ids);
    }
    static const char *const keys[] = {"author_id",
                                       "in_reply_to_user_id",
                                       "in_reply_to_user_id_str",
                                       "in_reply_to_screen_name",
                                       "user_id",
                                       "user_id_str",
                                       NULL};
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (strcmp(key, keys[i]) == 0) {
            ids_field(ids, parent, key);
        }
    }
}

static const char *fb_page; /* the page id of the change being collected */

static void fb_collect(yajl_val v, const char *key, yajl_val parent, idset *ids)
{
    if (key == NULL) {
        return;
    }
    const char *id = text_of(get(v, "id"));
    int page = id != NULL && fb_page != NULL && strcmp(id, fb_page) == 0;
    if (strcmp(key, "from") == 0 && YAJL_IS_OBJECT(v) && !page) {
        ids_field(ids, v, "id");
        ids_field(ids, v, "name");
    }
    if (strcmp(key, "message_tags") == 0 && YAJL_IS_OBJECT(v)) {
        const char *type = text_of(get(v, "type"));
        if (type == NULL || strcmp(type, "page") != 0) {
            ids_field(ids, v, "id");
            ids_field(ids, v, "name");
        }
    }
    if (strcmp(key, "sender_id") == 0) {
        const char *s = text_of(v);
        if (s != NULL && (fb_page == NULL || strcmp(s, fb_page) != 0)) {
            ids_field(ids, parent, "sender_id");
            ids_field(ids, parent, "sender_name");
        }
    }
}

static void tg_collect(yajl_val v, const char *key, yajl_val parent, idset *ids)
{
    static const char *const person[] = {"id", "first_name", "last_name", "username", NULL};
    static const char *const users[] = {"from",
                                        "forward_from",
                                        "sender_user",
                                        "user",
                                        "left_chat_member",
                                        "new_chat_member",
                                        "new_chat_members",
                                        NULL};
    static const char *const names[] = {"author_signature", "forward_signature",
                                        "forward_sender_name", "sender_user_name", NULL};
    if (key == NULL) {
        return;
    }
    for (size_t i = 0; users[i] != NULL; i++) {
        if (strcmp(key, users[i]) == 0 && YAJL_IS_OBJECT(v)) {
            ids_fields(ids, v, person);
        }
    }
    for (size_t i = 0; names[i] != NULL; i++) {
        if (strcmp(key, names[i]) == 0) {
            ids_field(ids, parent, key);
        }
    }
    if (strcmp(key, "chat") == 0 && YAJL_IS_OBJECT(v)) {
        const char *type = text_of(get(v, "type"));
        if (type == NULL || strcmp(type, "private") == 0) {
            ids_fields(ids, v, person);
        }
    }
    if (strcmp(key, "sender_chat") == 0 && YAJL_IS_OBJECT(v)) {
        const char *own = text_of(get(v, "id")), *chat = text_of(get(get(parent, "chat"), "id"));
        if (own == NULL || chat == NULL || strcmp(own, chat) != 0) {
            ids_fields(ids, v, person);
            ids_field(ids, v, "title");
        }
    }
    if (strcmp(key, "contact") == 0 && YAJL_IS_OBJECT(v)) {
        static const char *const contact[] = {"phone_number", "first_name", "last_name",
                                              "user_id",      "vcard",      NULL};
        ids_fields(ids, v, contact);
    }
}

static void rd_collect(yajl_val v, const char *key, yajl_val parent, idset *ids)
{
    static const char *const keys[] = {"author",      "link_author", "author_fullname",
                                       "approved_by", "banned_by",   NULL};
    for (size_t i = 0; key != NULL && keys[i] != NULL; i++) {
        if (strcmp(key, keys[i]) == 0) {
            ids_field(ids, parent, key);
        }
    }
    if (key != NULL && strcmp(key, "subreddit") == 0 && YAJL_IS_STRING(v) &&
        strncmp(v->u.string, "u_", 2) == 0) {
        ids_add_join(ids, "u_", v->u.string + 2, "");
    }
}

static collect_fn collector(bv_platform p)
{
    switch (p) {
    case BV_PLATFORM_MASTODON:
        return masto_collect;
    case BV_PLATFORM_BLUESKY:
        return jet_collect;
    case BV_PLATFORM_X:
        return x_collect;
    case BV_PLATFORM_FACEBOOK:
        return fb_collect;
    case BV_PLATFORM_TELEGRAM:
        return tg_collect;
    default:
        return rd_collect;
    }
}

/* The needle as it appears in JSON text (escaped as yajl_gen escapes it). */
static void json_form(const char *s, bv_buf *out)
{
    struct yajl_val_s node;
    memset(&node, 0, sizeof node);
    node.type = yajl_t_string;
    node.u.string = (char *)s;
    bv_buf_reset(out);
    assert_int_equal(bv_json_write(&node, out), 0);
}

/* s must not be in the serialised text: short strings as a whole JSON string or number. */
static void assert_absent(const char *out, const char *s)
{
    bv_buf f = BV_BUF_INIT;
    json_form(s, &f);
    if (strlen(s) >= 6) {
        f.p[f.len - 1] = '\0';
        if (strstr(out, f.p + 1) != NULL) {
            fail_msg("identifying string %s left in %s", s, out);
        }
    } else {
        if (strstr(out, f.p) != NULL) {
            fail_msg("identifying string %s left in %s", f.p, out);
        }
        static const char before[] = ":::[,,", after[] = ",}],,]";
        for (size_t i = 0; i < sizeof before - 1; i++) {
            char pat[64];
            snprintf(pat, sizeof pat, "%c%s%c", before[i], s, after[i]);
            if (strstr(out, pat) != NULL) {
                fail_msg("identifying number %s left in %s", s, out);
            }
        }
    }
    bv_buf_free(&f);
}

/* ---- the check every payload goes through ---- */

typedef struct counts {
    int payloads, posts, ids_checked;
} counts;

static yajl_val parse(const char *json, size_t len)
{
    char *c = malloc(len + 1);
    assert_non_null(c);
    memcpy(c, json, len);
    c[len] = '\0';
    char err[256];
    yajl_val v = yajl_tree_parse(c, err, sizeof err);
    free(c);
    if (v == NULL) {
        fail_msg("fixture does not parse: %s", err);
    }
    return v;
}

static bv_decode decode(bv_platform p, const char *json, size_t len, bv_post *out, bv_skip *why)
{
    char *c = malloc(len + 1);
    assert_non_null(c);
    memcpy(c, json, len);
    bv_decode d = bv_codec_decode_platform(&ctx, p, c, len, out, why);
    free(c);
    return d;
}

/* Parses, scrubs and writes json; out gets the text. */
static void scrub_text(bv_platform p, const char *json, size_t len, bv_buf *out)
{
    yajl_val t = parse(json, len);
    assert_int_equal(bv_scrub(ps, p, t), 0);
    bv_buf_reset(out);
    assert_int_equal(bv_json_write(t, out), 0);
    yajl_tree_free(t);
}

static int is_private_telegram(const char *json, size_t len)
{
    yajl_val t = parse(json, len);
    yajl_val m = NULL;
    static const char *const kinds[] = {"message", "channel_post", "edited_message",
                                        "edited_channel_post"};
    for (size_t i = 0; i < 4 && m == NULL; i++) {
        m = get(t, kinds[i]);
    }
    const char *type = text_of(get(get(m, "chat"), "type"));
    int priv = type == NULL || strcmp(type, "private") == 0;
    yajl_tree_free(t);
    return priv;
}

static void check_payload(bv_platform p, const char *json, size_t len, counts *c)
{
    yajl_val orig = parse(json, len);
    idset ids = {0};
    bv_buf blob = BV_BUF_INIT, out = BV_BUF_INIT, again = BV_BUF_INIT;
    if (p == BV_PLATFORM_FACEBOOK) {
        const char *post = text_of(get(get(orig, "value"), "post_id"));
        static char page[128];
        fb_page = NULL;
        if (post != NULL && strchr(post, '_') != NULL &&
            (size_t)(strchr(post, '_') - post) < sizeof page) {
            snprintf(page, sizeof page, "%.*s", (int)(strchr(post, '_') - post), post);
            fb_page = page;
        }
    }
    visit(orig, NULL, NULL, collector(p), &ids);
    text_blob(orig, NULL, &blob);
    assert_int_equal(bv_buf_puts(&blob, ""), 0);
    yajl_tree_free(orig);

    scrub_text(p, json, len, &out);
    for (size_t i = 0; i < ids.n; i++) {
        if (strstr(blob.p, ids.s[i]) == NULL) {
            assert_absent(out.p, ids.s[i]);
            c->ids_checked++;
        }
    }
    /* deterministic: the same input gives the same bytes (so the same pseudonyms) */
    scrub_text(p, json, len, &again);
    assert_string_equal(out.p, again.p);

    bv_post a, b;
    bv_skip wa, wb;
    bv_decode da = decode(p, json, len, &a, &wa);
    bv_decode db = decode(p, out.p, out.len, &b, &wb);
    assert_int_equal(db, da);
    c->payloads++;
    if (da == BV_DECODE_SKIP) {
        assert_int_equal(wb, wa);
    } else {
        c->posts++;
        assert_int_equal(b.kind, a.kind);
        assert_string_equal(b.text, a.text);
        assert_true(b.created_ms == a.created_ms);
        assert_true(b.received_ms == a.received_ms);
        assert_string_equal(b.lang, a.lang);
        assert_int_equal(b.has_author, a.has_author);
        char *want = NULL;
        assert_int_equal(bv_scrub_post_id(ps, p, a.id, strlen(a.id), &want), 0);
        if (p == BV_PLATFORM_TELEGRAM && is_private_telegram(json, len)) {
            /* "<hex of the chat>:<message id>": the chat part comes from the numeric pseudonym */
            assert_string_not_equal(b.id, a.id);
            assert_string_equal(strchr(b.id, ':'), strchr(a.id, ':'));
        } else {
            assert_string_equal(b.id, want);
        }
        free(want);
        if (p == BV_PLATFORM_BLUESKY) {
            assert_non_null(strstr(b.id, "at://did:pseudo:"));
            assert_non_null(strstr(b.url, "/profile/did:pseudo:"));
        } else if (p == BV_PLATFORM_MASTODON || p == BV_PLATFORM_REDDIT) {
            assert_int_equal(b.url != NULL, a.url != NULL);
        } else if (a.url != NULL) {
            assert_string_equal(b.url, a.url);
        } else {
            assert_null(b.url);
        }
        bv_post_clear(&a);
        bv_post_clear(&b);
    }
    ids_free(&ids);
    bv_buf_free(&blob);
    bv_buf_free(&out);
    bv_buf_free(&again);
}

/* Each non-blank line of an NDJSON fixture (CR stripped). */
static void check_lines(bv_platform p, const char *rel, counts *c)
{
    size_t len;
    char *data = tu_read_fixture(rel, &len);
    char *line = data;
    while (line < data + len) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        char *end = nl ? nl : data + len;
        size_t n = (size_t)(end - line);
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        if (n > 0 && line[0] == '{') {
            check_payload(p, line, n, c);
        }
        line = end + 1;
    }
    free(data);
}

/* Each element of the array at path in a JSON fixture, as its own payload. */
static void check_elements(bv_platform p, yajl_val arr, counts *c)
{
    bv_buf b = BV_BUF_INIT;
    assert_true(YAJL_IS_ARRAY(arr));
    for (size_t i = 0; i < arr->u.array.len; i++) {
        bv_buf_reset(&b);
        assert_int_equal(bv_json_write(arr->u.array.values[i], &b), 0);
        check_payload(p, b.p, b.len, c);
    }
    bv_buf_free(&b);
}

/* ---- fixtures ---- */

static void test_mastodon_fixtures(void **state)
{
    (void)state;
    counts c = {0};
    size_t len;
    char *s = tu_read_fixture("platforms/mastodon/status.json", &len);
    check_payload(BV_PLATFORM_MASTODON, s, len, &c);
    free(s);
    s = tu_read_fixture("platforms/mastodon/stream_public.sse", &len);
    for (char *p = strstr(s, "data: {"); p != NULL; p = strstr(p + 1, "data: {")) {
        char *nl = strchr(p, '\n');
        check_payload(BV_PLATFORM_MASTODON, p + 6, (size_t)(nl - p - 6), &c);
    }
    free(s);
    assert_int_equal(c.payloads, 6);
    assert_int_equal(c.posts, 6);
    assert_true(c.ids_checked >= 60);
}

static void test_jetstream_fixtures(void **state)
{
    (void)state;
    counts c = {0};
    check_lines(BV_PLATFORM_BLUESKY, "platforms/jetstream/events.ndjson", &c);
    check_lines(BV_PLATFORM_BLUESKY, "platforms/jetstream/golden_v1.ndjson", &c);
    assert_int_equal(c.payloads, 162);
    assert_int_equal(c.posts, 18); /* posts and deletes; the rest are other kinds */
    assert_true(c.ids_checked >= 200);
}

static void test_x_fixtures(void **state)
{
    (void)state;
    counts c = {0};
    check_lines(BV_PLATFORM_X, "platforms/x-v2/stream.ndjson", &c);
    assert_int_equal(c.payloads, 8);
    assert_int_equal(c.posts, 3); /* the others have no created_at */
    counts v11 = {0};
    check_lines(BV_PLATFORM_X, "platforms/x-v1.1/tweets_original_format.ndjson", &v11);
    check_lines(BV_PLATFORM_X, "platforms/x-v1.1/public_api_sample.ndjson", &v11);
    assert_int_equal(v11.payloads, 45);
    assert_int_equal(v11.posts, 45);
    assert_true(c.ids_checked + v11.ids_checked >= 300);
}

static void test_facebook_fixtures(void **state)
{
    (void)state;
    static const char *const files[] = {"platforms/facebook/webhook_feed.json",
                                        "platforms/facebook/webhook_feed_batch.json",
                                        "platforms/facebook/webhook_feed_dashboard_test.json",
                                        "platforms/facebook/webhook_feed_docs.json"};
    counts c = {0};
    for (size_t f = 0; f < 4; f++) {
        size_t len;
        char *s = tu_read_fixture(files[f], &len);
        yajl_val t = parse(s, len);
        yajl_val entry = get(t, "entry");
        for (size_t i = 0; i < entry->u.array.len; i++) {
            check_elements(BV_PLATFORM_FACEBOOK, get(entry->u.array.values[i], "changes"), &c);
        }
        yajl_tree_free(t);
        free(s);
    }
    assert_int_equal(c.payloads, 7);
    assert_int_equal(c.posts, 7);
    assert_true(c.ids_checked >= 10);
}

static void test_telegram_fixtures(void **state)
{
    (void)state;
    static const char *const files[] = {"platforms/telegram/getUpdates.json",
                                        "platforms/telegram/getUpdates_next.json",
                                        "platforms/telegram/getUpdates_private_message.json"};
    counts c = {0};
    for (size_t f = 0; f < 3; f++) {
        size_t len;
        char *s = tu_read_fixture(files[f], &len);
        yajl_val t = parse(s, len);
        check_elements(BV_PLATFORM_TELEGRAM, get(t, "result"), &c);
        yajl_tree_free(t);
        free(s);
    }
    assert_int_equal(c.posts, 6);
    assert_true(c.ids_checked >= 8);
}

static void test_reddit_fixtures(void **state)
{
    (void)state;
    static const char *const files[] = {"platforms/reddit/new.json",
                                        "platforms/reddit/new_before.json"};
    counts c = {0};
    for (size_t f = 0; f < 2; f++) {
        size_t len;
        char *s = tu_read_fixture(files[f], &len);
        yajl_val t = parse(s, len);
        check_elements(BV_PLATFORM_REDDIT, get(get(t, "data"), "children"), &c);
        yajl_tree_free(t);
        free(s);
    }
    assert_int_equal(c.posts, 28);
    assert_true(c.ids_checked >= 28);
}

/* ---- hand-made payloads for the rules the fixtures do not reach ---- */

static void check_str(bv_platform p, const char *json, counts *c)
{
    check_payload(p, json, strlen(json), c);
}

/* out = scrubbed json */
static char *scrubbed(bv_platform p, const char *json)
{
    bv_buf out = BV_BUF_INIT;
    scrub_text(p, json, strlen(json), &out);
    return bv_buf_steal(&out);
}

static void hex_of(bv_platform p, const char *raw, char out[2 * BV_PSEUDO_LEN + 1])
{
    bv_post tmp;
    memset(&tmp, 0, sizeof tmp);
    bv_pseudo_author(ps, p, raw, strlen(raw), tmp.author);
    bv_post_author_hex(&tmp, out);
}

static const char masto_boost[] =
    "{\"id\":\"200\",\"created_at\":\"2026-11-28T06:30:00.000Z\",\"uri\":"
    "\"https://ex.social/users/booster/statuses/200/activity\",\"url\":null,\"content\":\"\","
    "\"account\":{\"id\":\"77\",\"username\":\"booster\",\"acct\":\"booster\",\"display_name\":"
    "\"Bea Booster\",\"url\":\"https://ex.social/@booster\",\"bot\":true,\"moved\":{\"acct\":"
    "\"oldname@old.example\"}},\"mentions\":[],\"in_reply_to_account_id\":null,\"reblog\":{"
    "\"id\":\"199\",\"created_at\":\"2026-11-28T06:29:00.000Z\",\"uri\":"
    "\"https://far.example/users/Alice_W/statuses/199\",\"url\":\"https://far.example/@Alice_W/"
    "199\",\"language\":\"nl\",\"in_reply_to_account_id\":\"5551212\",\"content\":\"<p><span "
    "class=\\\"h-card\\\"><a href=\\\"https://ex.social/@carol\\\" class=\\\"u-url "
    "mention\\\">@<span>carol</span></a></span> kijk: rellen bij het station</p>\","
    "\"account\":{\"id\":\"31337\",\"username\":\"Alice_W\",\"acct\":\"Alice_W@far.example\","
    "\"display_name\":\"Alice Wonder\",\"note\":\"<p>Lives in Haren</p>\",\"fields\":[{"
    "\"name\":\"home\",\"value\":\"https://alice.example/about\"}],\"avatar\":"
    "\"https://files.example/a/31337.png\"},\"mentions\":[{\"id\":\"4242\",\"username\":"
    "\"carol\",\"acct\":\"carol@ex.social\",\"url\":\"https://ex.social/@carol\"}],\"card\":{"
    "\"url\":\"https://news.example/x\",\"author_name\":\"Dan Reporter\",\"author_url\":"
    "\"https://news.example/dan\",\"authors\":[{\"name\":\"Dan Reporter\"}]},\"quote\":{"
    "\"state\":\"accepted\",\"quoted_status\":{\"id\":\"150\",\"content\":\"<p>q</p>\","
    "\"account\":{\"id\":\"999001\",\"username\":\"quoted_erin\",\"acct\":\"quoted_erin\"}}}}}";

static void test_mastodon_rules(void **state)
{
    (void)state;
    counts c = {0};
    check_str(BV_PLATFORM_MASTODON, masto_boost, &c);
    assert_int_equal(c.posts, 1);
    char *s = scrubbed(BV_PLATFORM_MASTODON, masto_boost);
    char hex[2 * BV_PSEUDO_LEN + 1], want[256];
    /* the handle in URLs becomes the pseudonym of the username */
    hex_of(BV_PLATFORM_MASTODON, "Alice_W", hex);
    snprintf(want, sizeof want, "\"url\":\"https://far.example/@%s/199\"", hex);
    assert_non_null(strstr(s, want));
    snprintf(want, sizeof want, "https://far.example/users/%s/statuses/199", hex);
    assert_non_null(strstr(s, want));
    /* the mention's profile link in content, text unchanged */
    hex_of(BV_PLATFORM_MASTODON, "carol", hex);
    snprintf(want, sizeof want, "href=\\\"https://ex.social/@%s\\\"", hex);
    assert_non_null(strstr(s, want));
    assert_non_null(strstr(s, "@<span>carol</span>"));
    /* account allowlist: booleans stay, moved/display_name/url go */
    assert_non_null(strstr(s, "\"bot\":true"));
    assert_null(strstr(s, "oldname"));
    assert_null(strstr(s, "Bea Booster"));
    assert_null(strstr(s, "Dan Reporter"));
    assert_null(strstr(s, "news.example/dan"));
    assert_null(strstr(s, "quoted_erin"));
    assert_null(strstr(s, "999001"));
    assert_null(strstr(s, "5551212"));
    assert_null(strstr(s, "alice.example"));
    /* the account's acct as the codec hashes it: author = hash of the acct's pseudonym */
    hex_of(BV_PLATFORM_MASTODON, "booster", hex);
    snprintf(want, sizeof want, "\"acct\":\"%s\"", hex);
    assert_non_null(strstr(s, want));
    bv_post p;
    bv_skip why;
    assert_int_equal(decode(BV_PLATFORM_MASTODON, s, strlen(s), &p, &why), BV_DECODE_POST);
    uint8_t author[BV_PSEUDO_LEN];
    bv_pseudo_author(ps, BV_PLATFORM_MASTODON, hex, strlen(hex), author);
    assert_memory_equal(p.author, author, BV_PSEUDO_LEN);
    assert_string_equal(p.id, "199");
    assert_string_equal(p.lang, "nl");
    assert_non_null(strstr(p.url, "https://far.example/@"));
    bv_post_clear(&p);
    free(s);
}

/* A link whose visible text would change is left as it was (the text must not change). */
static void test_mastodon_content_kept_when_text_would_change(void **state)
{
    (void)state;
    static const char j[] =
        "{\"id\":\"1\",\"created_at\":\"2026-11-28T06:30:00.000Z\",\"uri\":\"https://h/users/bob/"
        "statuses/1\",\"content\":\"<p>see https://h/@bob/5 now</p>\",\"account\":{\"id\":\"9\","
        "\"username\":\"bob\",\"acct\":\"bob\"}}";
    char *s = scrubbed(BV_PLATFORM_MASTODON, j);
    assert_non_null(strstr(s, "see https://h/@bob/5 now"));
    assert_null(strstr(s, "users/bob/"));
    counts c = {0};
    check_str(BV_PLATFORM_MASTODON, j, &c);
    free(s);
}

static const char jet_reply[] =
    "{\"did\":\"did:plc:author0000000000000000aa\",\"time_us\":1779719009157119,\"kind\":"
    "\"commit\",\"commit\":{\"rev\":\"3m\",\"operation\":\"create\",\"collection\":"
    "\"app.bsky.feed.post\",\"rkey\":\"3mmoojp4cd223\",\"record\":{\"$type\":"
    "\"app.bsky.feed.post\",\"createdAt\":\"2026-05-25T14:23:28.757Z\",\"langs\":[\"nl\"],"
    "\"text\":\"@bob.example.com kijk did:plc:inthetext\",\"facets\":[{\"index\":{"
    "\"byteStart\":0,\"byteEnd\":16},\"features\":[{\"$type\":"
    "\"app.bsky.richtext.facet#mention\",\"did\":\"did:plc:mentioned0000000000000bb\"}]}],"
    "\"reply\":{\"parent\":{\"cid\":\"bafy1\",\"uri\":\"at://did:plc:parent00000000000000000cc/"
    "app.bsky.feed.post/3p\"},\"root\":{\"cid\":\"bafy2\",\"uri\":"
    "\"at://did:web:root.example.org/app.bsky.feed.post/3r\"}},\"embed\":{\"$type\":"
    "\"app.bsky.embed.record\",\"record\":{\"cid\":\"bafy3\",\"uri\":"
    "\"at://did:plc:author0000000000000000aa/app.bsky.feed.post/3q\"}}},\"cid\":\"bafy4\"}}";

static void test_jetstream_rules(void **state)
{
    (void)state;
    counts c = {0};
    check_str(BV_PLATFORM_BLUESKY, jet_reply, &c);
    assert_int_equal(c.posts, 1);
    char *s = scrubbed(BV_PLATFORM_BLUESKY, jet_reply);
    char hex[2 * BV_PSEUDO_LEN + 1], want[256];
    hex_of(BV_PLATFORM_BLUESKY, "did:plc:author0000000000000000aa", hex);
    /* the author's DID, the same pseudonym everywhere */
    snprintf(want, sizeof want, "\"did\":\"did:pseudo:%s\"", hex);
    assert_non_null(strstr(s, want));
    snprintf(want, sizeof want, "at://did:pseudo:%s/app.bsky.feed.post/3q", hex);
    assert_non_null(strstr(s, want));
    hex_of(BV_PLATFORM_BLUESKY, "did:web:root.example.org", hex);
    snprintf(want, sizeof want, "at://did:pseudo:%s/app.bsky.feed.post/3r", hex);
    assert_non_null(strstr(s, want));
    assert_null(strstr(s, "mentioned000"));
    assert_null(strstr(s, "parent000"));
    /* text is content: kept as written */
    assert_non_null(strstr(s, "@bob.example.com kijk did:plc:inthetext"));
    /* scrubbing what is scrubbed changes nothing more */
    yajl_val t = parse(s, strlen(s));
    assert_int_equal(bv_scrub(ps, BV_PLATFORM_BLUESKY, t), 0);
    bv_buf again = BV_BUF_INIT;
    assert_int_equal(bv_json_write(t, &again), 0);
    assert_string_equal(again.p, s);
    bv_buf_free(&again);
    yajl_tree_free(t);
    free(s);

    /* a delete: the id bv_scrub_post_id gives is the one the scrubbed payload decodes to */
    static const char del[] =
        "{\"did\":\"did:plc:author0000000000000000aa\",\"time_us\":1779719009157119,\"kind\":"
        "\"commit\",\"commit\":{\"rev\":\"3n\",\"operation\":\"delete\",\"collection\":"
        "\"app.bsky.feed.post\",\"rkey\":\"3mmoojp4cd223\"}}";
    check_str(BV_PLATFORM_BLUESKY, del, &c);
    assert_int_equal(c.posts, 2);
    /* identity handle and profile records */
    static const char ident[] =
        "{\"did\":\"did:plc:ident0000000000000000dd\",\"time_us\":1,\"kind\":\"identity\","
        "\"identity\":{\"did\":\"did:plc:ident0000000000000000dd\",\"handle\":"
        "\"someone.bsky.social\",\"seq\":1,\"time\":\"2026-05-25T14:23:28.757Z\"}}";
    s = scrubbed(BV_PLATFORM_BLUESKY, ident);
    assert_null(strstr(s, "someone"));
    assert_null(strstr(s, "ident0000"));
    free(s);
    static const char profile[] =
        "{\"did\":\"did:plc:prof00000000000000000ee\",\"time_us\":1,\"kind\":\"commit\","
        "\"commit\":{\"operation\":\"update\",\"collection\":\"app.bsky.actor.profile\","
        "\"rkey\":\"self\",\"record\":{\"$type\":\"app.bsky.actor.profile\",\"displayName\":"
        "\"Eve Example\",\"description\":\"I live at Main St 1\",\"avatar\":{\"ref\":{"
        "\"$link\":\"bafkavatar\"}},\"createdAt\":\"2026-01-01T00:00:00Z\"}}}";
    s = scrubbed(BV_PLATFORM_BLUESKY, profile);
    assert_null(strstr(s, "Eve Example"));
    assert_null(strstr(s, "Main St"));
    assert_null(strstr(s, "bafkavatar"));
    assert_non_null(strstr(s, "\"createdAt\""));
    free(s);
}

static void test_post_id(void **state)
{
    (void)state;
    char *id = NULL, hex[2 * BV_PSEUDO_LEN + 1], want[256];
    const char raw[] = "at://did:plc:abc/app.bsky.feed.post/3k";
    assert_int_equal(bv_scrub_post_id(ps, BV_PLATFORM_BLUESKY, raw, strlen(raw), &id), 0);
    hex_of(BV_PLATFORM_BLUESKY, "did:plc:abc", hex);
    snprintf(want, sizeof want, "at://did:pseudo:%s/app.bsky.feed.post/3k", hex);
    assert_string_equal(id, want);
    free(id);
    assert_int_equal(bv_scrub_post_id(ps, BV_PLATFORM_BLUESKY, want, strlen(want), &id), 0);
    assert_string_equal(id, want); /* already pseudonymous */
    free(id);
    assert_int_equal(bv_scrub_post_id(ps, BV_PLATFORM_MASTODON, "123", 3, &id), 0);
    assert_string_equal(id, "123");
    free(id);
    assert_int_equal(bv_scrub_post_id(ps, BV_PLATFORM_X, "1234567890", 4, &id), 0);
    assert_string_equal(id, "1234");
    free(id);
    assert_int_equal(bv_scrub_post_id(ps, BV_PLATFORM_BLUESKY, "did:", 4, &id), 0);
    assert_string_equal(id, "did:");
    free(id);
}

static void test_x_rules(void **state)
{
    (void)state;
    counts c = {0};
    static const char v2[] =
        "{\"data\":{\"id\":\"1800000000000000001\",\"text\":\"@mayor_nl the square is "
        "flooding\",\"author_id\":\"444555666\",\"created_at\":\"2026-11-28T06:30:00.000Z\","
        "\"lang\":\"en\",\"in_reply_to_user_id\":\"777888999\",\"entities\":{\"mentions\":[{"
        "\"start\":0,\"end\":9,\"username\":\"mayor_nl\",\"id\":\"777888999\"}],\"urls\":[{"
        "\"expanded_url\":\"https://x.com/Reporter_Rik/status/1/photo/1\"}]}},\"includes\":{"
        "\"users\":[{\"id\":\"444555666\",\"username\":\"Reporter_Rik\",\"name\":\"Rik de "
        "Reporter\",\"description\":\"Local news from Haren\",\"location\":\"Haren, NL\","
        "\"verified\":true,\"pinned_tweet_id\":\"17\"}],\"tweets\":[{\"id\":\"17\",\"text\":"
        "\"old\",\"author_id\":\"101010101\"}]},\"matching_rules\":[{\"id\":\"5\",\"tag\":"
        "\"flood\"}]}";
    check_str(BV_PLATFORM_X, v2, &c);
    char *s = scrubbed(BV_PLATFORM_X, v2);
    assert_null(strstr(s, "444555666"));
    assert_null(strstr(s, "777888999"));
    assert_null(strstr(s, "101010101"));
    assert_null(strstr(s, "Reporter_Rik"));
    assert_null(strstr(s, "Local news"));
    assert_null(strstr(s, "Haren, NL"));
    assert_null(strstr(s, "pinned_tweet_id"));
    assert_non_null(strstr(s, "\"verified\":true"));
    assert_non_null(strstr(s, "@mayor_nl the square is flooding")); /* text stays */
    assert_non_null(strstr(s, "\"tag\":\"flood\""));
    free(s);

    static const char v11_rt[] =
        "{\"created_at\":\"Tue Jul 18 23:25:04 +0000 2017\",\"id\":887453193294282752,\"id_str\":"
        "\"887453193294282752\",\"text\":\"RT @orig_author: the bridge is closed\",\"lang\":"
        "\"en\",\"user\":{\"id\":12345678901,\"id_str\":\"12345678901\",\"screen_name\":"
        "\"retweeter_x\",\"name\":\"Ret Weeter\",\"profile_image_url\":"
        "\"http://pbs.example/p/12345678901.jpg\"},\"in_reply_to_user_id\":2244994945,"
        "\"in_reply_to_user_id_str\":\"2244994945\",\"in_reply_to_screen_name\":\"replied_to\","
        "\"contributors\":[{\"id\":5}],\"retweeted_status\":{\"created_at\":\"Tue Jul 18 "
        "23:20:00 +0000 2017\",\"id_str\":\"887453193294282000\",\"text\":\"the bridge is "
        "closed\",\"user\":{\"id_str\":\"98765432100\",\"screen_name\":\"orig_author\","
        "\"name\":\"Orig Author\"},\"entities\":{\"user_mentions\":[{\"screen_name\":"
        "\"mentioned_m\",\"name\":\"Men Tioned\",\"id\":3333333333,\"id_str\":\"3333333333\","
        "\"indices\":[0,\"evil\",12]}]},\"quoted_status\":{\"id_str\":\"1\",\"text\":\"q\","
        "\"user\":{\"id_str\":\"55555555555\",\"screen_name\":\"quoted_q\"}},"
        "\"quoted_status_permalink\":{\"expanded\":\"https://twitter.com/quoted_q/status/1\","
        "\"display\":\"twitter.com/quoted_q/status/1\"},\"entities\":{\"urls\":[{\"display_url\":"
        "\"twitter.com/quote\xe2\x80\xa6\",\"unwound\":{\"title\":\"Quinten Q on Twitter\"}}]}}}";
    check_str(BV_PLATFORM_X, v11_rt, &c);
    assert_int_equal(c.posts, 2);
    s = scrubbed(BV_PLATFORM_X, v11_rt);
    static const char *const gone[] = {"orig_author", "retweeter_x", "Ret Weeter",  "12345678901",
                                       "2244994945",  "replied_to",  "98765432100", "mentioned_m",
                                       "Men Tioned",  "3333333333",  "quoted_q",    "55555555555",
                                       "evil",        "contributors"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        if (strstr(s, gone[i]) != NULL) {
            fail_msg("%s left in %s", gone[i], s);
        }
    }
    char hex[2 * BV_PSEUDO_LEN + 1], want[128];
    hex_of(BV_PLATFORM_X, "orig_author", hex);
    snprintf(want, sizeof want, "\"text\":\"RT @%s: the bridge is closed\"", hex);
    assert_non_null(strstr(s, want));
    assert_non_null(strstr(s, "\"indices\":[0,12]"));
    assert_null(strstr(s, "Quinten"));
    hex_of(BV_PLATFORM_X, "quoted_q", hex);
    snprintf(want, sizeof want, "\"display_url\":\"twitter.com/%s\xe2\x80\xa6\"", hex);
    assert_non_null(strstr(s, want));
    free(s);

    /* a v1.1 delete notice */
    static const char del[] = "{\"delete\":{\"status\":{\"id\":1,\"id_str\":\"1234567\","
                              "\"user_id\":987654321,\"user_id_str\":\"987654321\"},"
                              "\"timestamp_ms\":\"1500000000000\"}}";
    check_str(BV_PLATFORM_X, del, &c);
    s = scrubbed(BV_PLATFORM_X, del);
    assert_null(strstr(s, "987654321"));
    free(s);
}

static void test_facebook_rules(void **state)
{
    (void)state;
    counts c = {0};
    static const char comment[] =
        "{\"field\":\"feed\",\"value\":{\"from\":{\"id\":\"6543210987654321\",\"name\":\"Prince "
        "Charming\",\"picture\":\"https://fb.example/p.jpg\"},\"item\":\"comment\","
        "\"comment_id\":\"444444444_555555555\",\"post_id\":\"44444444_444444444\",\"parent_id\":"
        "\"44444444_444444444\",\"verb\":\"add\",\"created_time\":1520544900,\"message\":\"Water "
        "on Main St, @Jan Jansen saw it\",\"message_tags\":[{\"id\":\"1112223334445\",\"name\":"
        "\"Jan Jansen\",\"type\":\"user\",\"offset\":14,\"length\":10},{\"id\":\"44444444\","
        "\"name\":\"Gemeente\",\"type\":\"page\"},\"junk\"],\"to\":{\"data\":[{\"id\":"
        "\"99\",\"name\":\"Someone Else\"}]},\"sender_id\":\"6543210987654321\",\"sender_name\":"
        "\"Prince Charming\"}}";
    check_str(BV_PLATFORM_FACEBOOK, comment, &c);
    char *s = scrubbed(BV_PLATFORM_FACEBOOK, comment);
    assert_null(strstr(s, "6543210987654321"));
    assert_null(strstr(s, "Prince"));
    assert_null(strstr(s, "fb.example"));
    assert_null(strstr(s, "1112223334445"));
    assert_null(strstr(s, "Someone Else"));
    assert_null(strstr(s, "junk"));
    assert_non_null(strstr(s, "Water on Main St, @Jan Jansen saw it")); /* the message stays */
    assert_non_null(strstr(s, "\"name\":\"Gemeente\""));                /* a page tag stays */
    assert_non_null(strstr(s, "\"post_id\":\"44444444_444444444\""));
    free(s);
    /* the Page itself speaking stays as it is */
    static const char page[] =
        "{\"field\":\"feed\",\"value\":{\"from\":{\"id\":\"55555555\",\"name\":\"Test Page "
        "2\"},\"item\":\"status\",\"post_id\":\"55555555_666666666\",\"verb\":\"edited\","
        "\"created_time\":1520545090,\"message\":\"Road closed.\",\"sender_id\":\"55555555\","
        "\"sender_name\":\"Test Page 2\"}}";
    check_str(BV_PLATFORM_FACEBOOK, page, &c);
    s = scrubbed(BV_PLATFORM_FACEBOOK, page);
    assert_non_null(strstr(s, "\"from\":{\"id\":\"55555555\",\"name\":\"Test Page 2\"}"));
    assert_non_null(strstr(s, "\"sender_name\":\"Test Page 2\""));
    free(s);
    assert_int_equal(c.posts, 2);
}

static void test_telegram_rules(void **state)
{
    (void)state;
    counts c = {0};
    static const char group[] =
        "{\"update_id\":1,\"message\":{\"message_id\":77,\"date\":1650205024,\"chat\":{\"id\":"
        "-1001234567890,\"title\":\"Buurtapp Haren\",\"username\":\"buurtharen\",\"type\":"
        "\"supergroup\"},\"from\":{\"id\":314159265,\"is_bot\":false,\"first_name\":\"Piet\","
        "\"last_name\":\"Pietersen\",\"username\":\"pietp\",\"language_code\":\"nl\"},"
        "\"sender_chat\":{\"id\":-1009876543210,\"title\":\"Piet's channel\",\"username\":"
        "\"pietschannel\",\"type\":\"channel\"},\"forward_from\":{\"id\":222333444,\"is_bot\":"
        "false,\"first_name\":\"Fenna\"},\"forward_sender_name\":\"Hidden Hans\","
        "\"forward_signature\":\"Sig Sietse\",\"author_signature\":\"Auth Anna\","
        "\"text\":\"Gathering at 21:00 @klaas\",\"entities\":[{\"type\":\"text_mention\","
        "\"offset\":0,\"length\":9,\"user\":{\"id\":555666777,\"is_bot\":false,\"first_name\":"
        "\"Klaas\",\"username\":\"klaasv\"}}],\"contact\":{\"phone_number\":\"+31612345678\","
        "\"first_name\":\"Con\",\"last_name\":\"Tact\",\"user_id\":888999000,\"vcard\":"
        "\"BEGIN:VCARD\"},\"reply_to_message\":{\"message_id\":76,\"date\":1650205000,\"chat\":"
        "{\"id\":-1001234567890,\"type\":\"supergroup\"},\"from\":{\"id\":111222333,\"is_bot\":"
        "false,\"first_name\":\"Riet\",\"username\":\"rietr\"},\"text\":\"earlier\"},"
        "\"new_chat_members\":[{\"id\":999888777,\"first_name\":\"Nieuw\"},42]}}";
    check_str(BV_PLATFORM_TELEGRAM, group, &c);
    char *s = scrubbed(BV_PLATFORM_TELEGRAM, group);
    static const char *const gone[] = {
        "314159265", "Pietersen",   "pietp",        "1009876543210", "pietschannel", "222333444",
        "Fenna",     "Hidden Hans", "Sig Sietse",   "Auth Anna",     "555666777",    "klaasv",
        "+316",      "Tact",        "888999000",    "VCARD",         "111222333",    "rietr",
        "999888777", "Nieuw",       "language_code"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        if (strstr(s, gone[i]) != NULL) {
            fail_msg("%s left in %s", gone[i], s);
        }
    }
    /* the public group stays; the text stays */
    assert_non_null(strstr(s, "\"username\":\"buurtharen\""));
    assert_non_null(strstr(s, "Gathering at 21:00 @klaas"));
    assert_non_null(strstr(s, "\"is_bot\":false"));
    free(s);
    /* a channel posting in its own chat stays */
    static const char own[] = "{\"update_id\":2,\"message\":{\"message_id\":5,\"date\":1650205024,"
                              "\"chat\":{\"id\":-100555,\"title\":\"Politie Haren\",\"type\":"
                              "\"supergroup\"},\"sender_chat\":{\"id\":-100555,\"title\":"
                              "\"Politie Haren\",\"type\":\"supergroup\"},\"text\":\"Info\"}}";
    check_str(BV_PLATFORM_TELEGRAM, own, &c);
    s = scrubbed(BV_PLATFORM_TELEGRAM, own);
    assert_non_null(strstr(s, "\"sender_chat\":{\"id\":-100555"));
    free(s);
    /* the numeric pseudonym: the same id in from and in a private chat gives the same number */
    static const char priv[] = "{\"update_id\":3,\"message\":{\"message_id\":9,\"date\":1650205024,"
                               "\"chat\":{\"id\":424242,\"first_name\":\"X\"},\"from\":{\"id\":"
                               "424242,\"is_bot\":false},\"text\":\"hoi\"}}";
    check_str(BV_PLATFORM_TELEGRAM, priv, &c);
    s = scrubbed(BV_PLATFORM_TELEGRAM, priv);
    yajl_val t = parse(s, strlen(s));
    yajl_val m = get(t, "message");
    const char *a = text_of(get(get(m, "chat"), "id")), *b = text_of(get(get(m, "from"), "id"));
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    long long n = strtoll(a, NULL, 10);
    assert_true(n >= 5000000000000000LL && n < 9007199254740992LL);
    assert_null(get(get(m, "chat"), "first_name"));
    yajl_tree_free(t);
    free(s);
    assert_int_equal(c.posts, 3);
}

static void test_reddit_rules(void **state)
{
    (void)state;
    counts c = {0};
    static const char profile[] =
        "{\"kind\":\"t3\",\"data\":{\"id\":\"abc12\",\"name\":\"t3_abc12\",\"title\":\"Fire at "
        "the square\",\"selftext\":\"seen by u/OtherUser\",\"author\":\"Jane_Doe_NL\","
        "\"author_fullname\":\"t2_janedoe\",\"author_flair_text\":\"Haren resident\","
        "\"author_flair_richtext\":[{\"t\":\"Haren resident\"}],\"author_premium\":true,"
        "\"subreddit\":\"u_Jane_Doe_NL\",\"subreddit_name_prefixed\":\"u/Jane_Doe_NL\","
        "\"subreddit_id\":\"t5_zzzz1\",\"domain\":\"self.u_Jane_Doe_NL\",\"permalink\":"
        "\"/r/u_Jane_Doe_NL/comments/abc12/fire_at_the_square/\",\"url\":"
        "\"https://www.reddit.com/r/u_Jane_Doe_NL/comments/abc12/fire_at_the_square/\","
        "\"approved_by\":\"mod_marco\",\"mod_reports\":[[\"spam\",\"mod_marco\"]],"
        "\"created_utc\":1456821458.0,\"crosspost_parent_list\":[{\"author\":\"cross_poster\","
        "\"author_fullname\":\"t2_cross\"}]}}";
    check_str(BV_PLATFORM_REDDIT, profile, &c);
    char *s = scrubbed(BV_PLATFORM_REDDIT, profile);
    static const char *const gone[] = {"Jane_Doe_NL", "janedoe",       "Haren resident",
                                       "zzzz1",       "mod_marco",     "cross_poster",
                                       "t2_cross",    "author_premium"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        if (strstr(s, gone[i]) != NULL) {
            fail_msg("%s left in %s", gone[i], s);
        }
    }
    char hex[2 * BV_PSEUDO_LEN + 1], want[256];
    hex_of(BV_PLATFORM_REDDIT, "Jane_Doe_NL", hex);
    snprintf(want, sizeof want, "\"permalink\":\"/r/u_%s/comments/abc12/fire_at_the_square/\"",
             hex);
    assert_non_null(strstr(s, want));
    snprintf(want, sizeof want, "\"domain\":\"self.u_%s\"", hex);
    assert_non_null(strstr(s, want));
    snprintf(want, sizeof want, "\"subreddit_name_prefixed\":\"u/%s\"", hex);
    assert_non_null(strstr(s, want));
    assert_non_null(strstr(s, "seen by u/OtherUser")); /* the text stays */
    free(s);
    static const char comment[] =
        "{\"kind\":\"t1\",\"data\":{\"name\":\"t1_c1\",\"body\":\"me too\",\"author\":"
        "\"[deleted]\",\"link_author\":\"op_person\",\"created_utc\":1456821458,\"permalink\":"
        "\"/r/Haren/comments/abc12/x/c1/\",\"replies\":{\"kind\":\"Listing\",\"data\":{"
        "\"children\":[{\"kind\":\"t1\",\"data\":{\"author\":\"nested_replier\"}}]}}}}";
    check_str(BV_PLATFORM_REDDIT, comment, &c);
    s = scrubbed(BV_PLATFORM_REDDIT, comment);
    assert_null(strstr(s, "op_person"));
    assert_null(strstr(s, "nested_replier"));
    assert_non_null(strstr(s, "\"author\":\"[deleted]\""));
    free(s);
    assert_int_equal(c.posts, 2);
}

/* Duplicate keys: the codec reads the first, but every one is scrubbed. */
static void test_duplicate_keys(void **state)
{
    (void)state;
    static const char j[] =
        "{\"data\":{\"id\":\"1\",\"text\":\"t\",\"author_id\":\"11111111\",\"author_id\":"
        "\"22222222\"},\"includes\":{\"users\":[{\"id\":\"11111111\",\"username\":\"first_one\","
        "\"username\":\"second_one\"}]}}";
    char *s = scrubbed(BV_PLATFORM_X, j);
    assert_null(strstr(s, "11111111"));
    assert_null(strstr(s, "22222222"));
    assert_null(strstr(s, "first_one"));
    assert_null(strstr(s, "second_one"));
    free(s);
    static const char m[] = "{\"id\":\"1\",\"account\":{\"acct\":\"a_one\"},\"account\":{\"acct\":"
                            "\"a_two\",\"display_name\":\"Two\"}}";
    s = scrubbed(BV_PLATFORM_MASTODON, m);
    assert_null(strstr(s, "a_one"));
    assert_null(strstr(s, "a_two"));
    assert_null(strstr(s, "Two"));
    free(s);
}

/* Wrong types where people are expected: values that could name someone go, nothing crashes. */
static void test_odd_shapes(void **state)
{
    (void)state;
    static const char *const odd[] = {
        "{}",
        "{\"account\":\"alice_str\",\"mentions\":\"bob_str\",\"in_reply_to_account_id\":{\"x\":"
        "\"carol_obj\"},\"reblog\":[1,{\"account\":[\"dave_arr\"]}]}",
        "{\"account\":null,\"mentions\":[null,\"erin_el\",7,{\"id\":{\"deep\":\"frank_deep\"}}]}",
        "{\"user\":true,\"users\":{\"id\":\"gina_obj\"},\"mentions\":[[\"hank_nested\"]],"
        "\"author_id\":[\"ivan_arr\"],\"user_mentions\":[{\"indices\":\"jan_str\"}]}",
        "{\"value\":{\"from\":\"kees_str\",\"message_tags\":{\"0\":\"lia_obj\"},\"sender_id\":"
        "[\"mo_arr\"]},\"field\":\"feed\"}",
        "{\"message\":{\"from\":[\"nina_arr\"],\"chat\":\"oscar_str\",\"sender_chat\":7,"
        "\"entities\":[{\"user\":\"piet_str\"}],\"contact\":\"quinn_str\"}}",
        "{\"data\":{\"author\":{\"x\":\"rob_obj\"},\"subreddit\":7,\"subreddit_id\":\"t5_x\","
        "\"author_flair\":\"sam_flair\"},\"kind\":\"t3\"}",
        "{\"did\":7,\"commit\":{\"record\":{\"text\":7,\"facets\":\"did:plc:tom_str\"}}}",
        "{\"did\":\"did:\",\"x\":\"did:plc:\",\"y\":\"did::x\",\"z\":\"xdid:plc:abc\",\"w\":"
        "\"did:plc:ok:\"}",
    };
    static const char *const names[] = {
        "alice_str",   "bob_str",  "carol_obj", "dave_arr", "erin_el",   "frank_deep", "gina_obj",
        "hank_nested", "ivan_arr", "jan_str",   "kees_str", "lia_obj",   "mo_arr",     "nina_arr",
        "oscar_str",   "piet_str", "quinn_str", "rob_obj",  "sam_flair", "tom_str"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        for (int p = 0; p < BV_PLATFORM__COUNT; p++) {
            yajl_val t = parse(odd[i], strlen(odd[i]));
            assert_int_equal(bv_scrub(ps, (bv_platform)p, t), 0);
            bv_buf out = BV_BUF_INIT;
            assert_int_equal(bv_json_write(t, &out), 0);
            yajl_tree_free(t);
            /* each name sits where one platform expects a person: that platform drops it */
            for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
                int owner = (i == 1 || i == 2) ? p == BV_PLATFORM_MASTODON
                            : i == 3           ? p == BV_PLATFORM_X
                            : i == 4           ? p == BV_PLATFORM_FACEBOOK
                            : i == 5           ? p == BV_PLATFORM_TELEGRAM
                            : i == 6           ? p == BV_PLATFORM_REDDIT
                            : i == 7           ? p == BV_PLATFORM_BLUESKY
                                               : 0;
                if (owner && strstr(odd[i], names[k]) != NULL && strstr(out.p, names[k]) != NULL) {
                    fail_msg("platform %d left %s in %s", p, names[k], out.p);
                }
            }
            bv_buf_free(&out);
        }
    }
    /* not an object, unknown platform, no pseudonymiser */
    yajl_val arr = parse("[1,2]", 5);
    assert_int_equal(bv_scrub(ps, BV_PLATFORM_X, arr), BV_EINVAL);
    yajl_tree_free(arr);
    yajl_val o = parse("{}", 2);
    assert_int_equal(bv_scrub(ps, BV_PLATFORM__COUNT, o), BV_EINVAL);
    assert_int_equal(bv_scrub(NULL, BV_PLATFORM_X, o), BV_EINVAL);
    assert_int_equal(bv_scrub(ps, BV_PLATFORM_X, NULL), BV_EINVAL);
    yajl_tree_free(o);
    /* DIDs at the edges of strings */
    char *s = scrubbed(BV_PLATFORM_BLUESKY, odd[8]);
    assert_non_null(strstr(s, "\"did\":\"did:\""));
    assert_non_null(strstr(s, "\"x\":\"did:plc:\""));
    assert_non_null(strstr(s, "\"z\":\"xdid:plc:abc\""));
    assert_null(strstr(s, "did:plc:ok"));
    assert_non_null(strstr(s, ":\"}")); /* the trailing ':' is not part of the DID */
    free(s);
}

static void test_deep(void **state)
{
    (void)state;
    for (size_t depth = 100; depth <= 400; depth += 300) {
        bv_buf j = BV_BUF_INIT;
        assert_int_equal(bv_buf_puts(&j, "{\"a\":"), 0);
        for (size_t i = 0; i < depth; i++) {
            assert_int_equal(bv_buf_puts(&j, "{\"k\":"), 0);
        }
        assert_int_equal(bv_buf_puts(&j, "{\"id\":\"deep_person\"}"), 0);
        for (size_t i = 0; i < depth + 1; i++) {
            assert_int_equal(bv_buf_putc(&j, '}'), 0);
        }
        for (int p = 0; p < BV_PLATFORM__COUNT; p++) {
            yajl_val t = parse(j.p, j.len);
            int rc = bv_scrub(ps, (bv_platform)p, t);
            bv_buf out = BV_BUF_INIT;
            if (depth > BV_SCRUB_MAX_DEPTH) {
                assert_int_equal(rc, BV_ELIMIT);
                assert_int_equal(bv_json_write(t, &out), BV_ELIMIT);
                assert_int_equal(out.len, 0);
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(bv_json_write(t, &out), 0);
            }
            bv_buf_free(&out);
            yajl_tree_free(t);
        }
        bv_buf_free(&j);
    }
}

/* A payload naming more than 1024 different handles is refused, not half scrubbed. */
static void test_many_handles(void **state)
{
    (void)state;
    for (int n = 1000; n <= 1100; n += 100) {
        bv_buf j = BV_BUF_INIT;
        assert_int_equal(bv_buf_puts(&j, "{\"id\":\"1\",\"url\":\"https://h/@u17/1\","
                                         "\"mentions\":["),
                         0);
        for (int i = 0; i < n; i++) {
            assert_int_equal(bv_buf_printf(&j, "%s{\"username\":\"u%d\"}", i ? "," : "", i), 0);
        }
        assert_int_equal(bv_buf_puts(&j, "]}"), 0);
        yajl_val t = parse(j.p, j.len);
        int rc = bv_scrub(ps, BV_PLATFORM_MASTODON, t);
        if (n <= 1024) {
            assert_int_equal(rc, 0);
            bv_buf out = BV_BUF_INIT;
            assert_int_equal(bv_json_write(t, &out), 0);
            assert_null(strstr(out.p, "@u17/"));
            bv_buf_free(&out);
        } else {
            assert_int_equal(rc, BV_ELIMIT);
        }
        yajl_tree_free(t);
        bv_buf_free(&j);
    }
}

/* ---- the JSON writer ---- */

static void roundtrip(const char *in, const char *want)
{
    yajl_val t = parse(in, strlen(in));
    bv_buf out = BV_BUF_INIT;
    assert_int_equal(bv_buf_puts(&out, "pre:"), 0);
    assert_int_equal(bv_json_write(t, &out), 0);
    assert_string_equal(out.p + 4, want);
    bv_buf_free(&out);
    yajl_tree_free(t);
}

static void test_json_write(void **state)
{
    (void)state;
    roundtrip("{ \"a\" : [ 1 , 2.50 , -0 , 1e400 , 1436114489988968481 , 18446744073709551617 ] }",
              "{\"a\":[1,2.50,-0,1e400,1436114489988968481,18446744073709551617]}");
    roundtrip("[true,false,null,{},[],\"\"]", "[true,false,null,{},[],\"\"]");
    roundtrip("{\"q\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\"}",
              "{\"q\":\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001F\"}");
    roundtrip("{\"u\":\"h\\u00e4\\u00f6 \xe2\x82\xac \xf0\x9f\x90\xb1 \\ud83d\\udc31\"}",
              "{\"u\":\"h\xc3\xa4\xc3\xb6 \xe2\x82\xac \xf0\x9f\x90\xb1 \xf0\x9f\x90\xb1\"}");
    roundtrip("{\"k\\n\\u00e9\":1}", "{\"k\\n\xc3\xa9\":1}");

    /* a string node that is not UTF-8 and a number without text */
    struct yajl_val_s bad;
    memset(&bad, 0, sizeof bad);
    bad.type = yajl_t_string;
    bad.u.string = (char *)"a\xff";
    bv_buf out = BV_BUF_INIT;
    assert_int_equal(bv_buf_puts(&out, "keep"), 0);
    assert_int_equal(bv_json_write(&bad, &out), BV_EINVAL);
    assert_string_equal(out.p, "keep");
    struct yajl_val_s num;
    memset(&num, 0, sizeof num);
    num.type = yajl_t_number;
    num.u.number.i = 42;
    num.u.number.flags = YAJL_NUMBER_INT_VALID;
    bv_buf_reset(&out);
    assert_int_equal(bv_json_write(&num, &out), 0);
    assert_string_equal(out.p, "42");
    bv_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mastodon_fixtures),
        cmocka_unit_test(test_jetstream_fixtures),
        cmocka_unit_test(test_x_fixtures),
        cmocka_unit_test(test_facebook_fixtures),
        cmocka_unit_test(test_telegram_fixtures),
        cmocka_unit_test(test_reddit_fixtures),
        cmocka_unit_test(test_mastodon_rules),
        cmocka_unit_test(test_mastodon_content_kept_when_text_would_change),
        cmocka_unit_test(test_jetstream_rules),
        cmocka_unit_test(test_post_id),
        cmocka_unit_test(test_x_rules),
        cmocka_unit_test(test_facebook_rules),
        cmocka_unit_test(test_telegram_rules),
        cmocka_unit_test(test_reddit_rules),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_odd_shapes),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_many_handles),
        cmocka_unit_test(test_json_write),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
