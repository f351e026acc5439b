/* test_record.c: the live recorder (source/record.h) with a fake clock: posts of every platform
 * (from the fixtures) and deletes written as envelopes that bv_codec_decode_line reads back as
 * the same posts, with no raw author left in the file; the day rollover; retention deleting only
 * this event's old day files; errors (unusable directory, a directory that vanishes, a full
 * disk, payloads that cannot be recorded) counted and logged once a minute, never fatal. */
#include "testutil.h"

#include "codec/codec.h"
#include "codec/scrub.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "engine/post.h"
#include "engine/pseudo.h"
#include "source/record.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define DAY (86400LL * 1000)

static bv_pseudo *ps;
static bv_codec_ctx ctx;
static bv_fake_clock fc;
static char root[64];
static int64_t T0; /* 2026-11-28T06:30:00.123Z */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    ps = bv_pseudo_new("record-test-key", 15);
    ctx.pseudo = ps;
    snprintf(root, sizeof root, "/tmp/bv_record_XXXXXX");
    if (mkdtemp(root) == NULL) {
        return -1;
    }
    T0 = bv_days_from_civil(2026, 11, 28) * DAY + (6 * 3600 + 30 * 60) * 1000LL + 123;
    bv_fake_clock_init(&fc, T0);
    return ps ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    bv_pseudo_free(ps);
    return 0;
}

/* A fresh directory path under root (not created). */
static void fresh_dir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", root, name);
}

static bv_recorder *recorder(const char *dir, int64_t retention)
{
    bv_recorder_opts o = {.dir = dir,
                          .event = "project-x",
                          .retention_ms = retention,
                          .pseudo = ps,
                          .clock = &fc.clock};
    char err[256] = "";
    bv_recorder *r = bv_recorder_new(&o, err, sizeof err);
    if (r == NULL) {
        fail_msg("recorder: %s", err);
    }
    return r;
}

static void touch(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{}\n", 3), 3);
    close(fd);
}

static int exists(const char *dir, const char *name)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &sb) == 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    bv_buf b = BV_BUF_INIT;
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        assert_int_equal(bv_buf_append(&b, chunk, r), 0);
    }
    fclose(f);
    assert_int_equal(bv_buf_append(&b, "", 0), 0);
    *len = b.len;
    return bv_buf_steal(&b);
}

/* Decodes every line of a recording; each must be an envelope. Returns the number of lines. */
static size_t read_posts(const char *path, bv_post *out, size_t max)
{
    size_t len, n = 0;
    char *data = read_file(path, &len);
    char *line = data;
    while (line < data + len) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        assert_non_null(nl); /* whole lines only */
        bv_skip why;
        bv_shape shape;
        assert_true(n < max);
        bv_decode d = bv_codec_decode_line(&ctx, line, (size_t)(nl - line), &out[n], &why, &shape);
        if (d != BV_DECODE_POST) {
            fail_msg("line %zu not decoded: %s", n + 1, bv_skip_name(why));
        }
        assert_int_equal(shape, BV_SHAPE_ENVELOPE);
        n++;
        line = nl + 1;
    }
    free(data);
    return n;
}

static void day_file(char *out, size_t n, const char *dir, const char *date)
{
    snprintf(out, n, "%s/project-x-%s.jsonl", dir, date);
}

/* ---- posts from the fixtures ---- */

typedef struct item {
    bv_post post;
    bv_raw raw;
    yajl_val own; /* the tree raw points into, freed at the end */
    char *json;   /* raw.json's buffer */
} item;

static void from_json(item *it, bv_platform p, const char *json, size_t len, int as_tree)
{
    memset(it, 0, sizeof *it);
    char *c = malloc(len + 1);
    assert_non_null(c);
    memcpy(c, json, len);
    c[len] = '\0';
    bv_skip why;
    char *d = strdup(c);
    assert_int_equal(bv_codec_decode_platform(&ctx, p, d, len, &it->post, &why), BV_DECODE_POST);
    free(d);
    if (it->post.received_ms == 0) {
        it->post.received_ms = T0;
    }
    if (as_tree) {
        it->own = yajl_tree_parse(c, NULL, 0);
        assert_non_null(it->own);
        it->raw.tree = it->own;
        free(c);
    } else {
        it->json = c;
        it->raw.json = c;
        it->raw.len = len;
    }
}

/* Element i of the array at key path k1.k2 of a fixture, as JSON text. */
static char *fixture_element(const char *rel, const char *k1, const char *k2, size_t i, size_t *len)
{
    size_t n;
    char *s = tu_read_fixture(rel, &n);
    yajl_val t = yajl_tree_parse(s, NULL, 0);
    assert_non_null(t);
    const char *path[] = {k1, k2, NULL};
    if (k2 == NULL) {
        path[1] = NULL;
    }
    yajl_val arr = yajl_tree_get(t, path, yajl_t_array);
    assert_non_null(arr);
    assert_true(i < arr->u.array.len);
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_json_write(arr->u.array.values[i], &b), 0);
    yajl_tree_free(t);
    free(s);
    *len = b.len;
    return bv_buf_steal(&b);
}

static char *fixture_line(const char *rel, int lineno, size_t *len)
{
    size_t n;
    char *s = tu_read_fixture(rel, &n);
    char *line = s;
    for (int i = 1; i < lineno; i++) {
        line = strchr(line, '\n') + 1;
    }
    char *end = strchr(line, '\n');
    *len = (size_t)(end - line);
    if (*len > 0 && line[*len - 1] == '\r') {
        (*len)--;
    }
    char *c = strndup(line, *len);
    free(s);
    return c;
}

static const char jet_delete[] =
    "{\"did\":\"did:plc:q235v55g5unth4zjjdpacfdr\",\"time_us\":1779719019157119,\"kind\":"
    "\"commit\","
    "\"commit\":{\"rev\":\"3mmoojpaqkn3z\",\"operation\":\"delete\",\"collection\":"
    "\"app.bsky.feed.post\",\"rkey\":\"3mmoojp4cd223\"}}";

enum { N_ITEMS = 8 };

static void make_items(item *its)
{
    size_t len;
    char *s = tu_read_fixture("platforms/mastodon/status.json", &len);
    from_json(&its[0], BV_PLATFORM_MASTODON, s, len, 0);
    free(s);
    s = fixture_line("platforms/jetstream/golden_v1.ndjson", 2, &len);
    from_json(&its[1], BV_PLATFORM_BLUESKY, s, len, 1);
    free(s);
    s = fixture_line("platforms/x-v2/stream.ndjson", 1, &len);
    from_json(&its[2], BV_PLATFORM_X, s, len, 0);
    free(s);
    s = fixture_element("platforms/telegram/getUpdates.json", "result", NULL, 0, &len);
    from_json(&its[3], BV_PLATFORM_TELEGRAM, s, len, 1);
    free(s);
    size_t n;
    char *batch = tu_read_fixture("platforms/facebook/webhook_feed_batch.json", &n);
    yajl_val t = yajl_tree_parse(batch, NULL, 0);
    const char *path[] = {"entry", NULL};
    yajl_val entry = yajl_tree_get(t, path, yajl_t_array);
    const char *cp[] = {"changes", NULL};
    yajl_val changes = yajl_tree_get(entry->u.array.values[0], cp, yajl_t_array);
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_json_write(changes->u.array.values[1], &b), 0); /* a person's comment */
    from_json(&its[4], BV_PLATFORM_FACEBOOK, b.p, b.len, 1);
    bv_buf_free(&b);
    yajl_tree_free(t);
    free(batch);
    s = fixture_element("platforms/reddit/new.json", "data", "children", 0, &len);
    from_json(&its[5], BV_PLATFORM_REDDIT, s, len, 1);
    free(s);
    /* a Mastodon streaming delete (a bare id, nothing raw) and a Jetstream delete */
    memset(&its[6], 0, sizeof its[6]);
    assert_int_equal(bv_codec_mastodon_delete("103270115826048975", 18, &its[6].post), 0);
    its[6].post.received_ms = T0 + 5;
    from_json(&its[7], BV_PLATFORM_BLUESKY, jet_delete, strlen(jet_delete), 0);
}

static void free_items(item *its, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bv_post_clear(&its[i].post);
        yajl_tree_free(its[i].own);
        free(its[i].json);
    }
}

static void test_roundtrip(void **state)
{
    (void)state;
    char dir[256], path[512];
    fresh_dir(dir, sizeof dir, "a/b/rec"); /* parents too */
    bv_fake_clock_init(&fc, T0);
    bv_recorder *r = recorder(dir, BV_RECORDER_RETENTION_DEFAULT);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);

    item its[N_ITEMS];
    make_items(its);
    for (size_t i = 0; i < N_ITEMS; i++) {
        assert_int_equal(bv_recorder_write(r, &its[i].post, &its[i].raw), 0);
    }
    bv_recorder_stats st;
    bv_recorder_stats_get(r, &st);
    day_file(path, sizeof path, dir, "2026-11-28");
    assert_string_equal(st.path, path);
    assert_int_equal(st.lines, N_ITEMS);
    assert_int_equal(st.errors, 0);
    assert_int_equal(bv_recorder_flush(r), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal((uint64_t)sb.st_size, st.bytes);

    bv_post back[16];
    assert_int_equal(read_posts(path, back, 16), N_ITEMS);
    for (size_t i = 0; i < N_ITEMS; i++) {
        const bv_post *a = &its[i].post, *b = &back[i];
        char *want = NULL;
        assert_int_equal(bv_scrub_post_id(ps, a->platform, a->id, strlen(a->id), &want), 0);
        assert_int_equal(b->platform, a->platform);
        assert_int_equal(b->kind, a->kind);
        assert_string_equal(b->id, want);
        assert_string_equal(b->text, a->text);
        assert_true(b->received_ms == a->received_ms);
        if (a->kind == BV_POST_CREATE) {
            assert_true(b->created_ms == a->created_ms);
            assert_string_equal(b->lang, a->lang);
            assert_int_equal(b->has_author, a->has_author);
        }
        free(want);
    }
    /* a Bluesky post and its delete still name the same (pseudonymous) post */
    assert_string_equal(back[1].id, back[7].id);
    assert_non_null(strstr(back[1].id, "did:pseudo:"));
    for (size_t i = 0; i < N_ITEMS; i++) {
        bv_post_clear(&back[i]);
    }

    size_t len;
    char *data = read_file(path, &len);
    static const char *const raw_people[] = {
        "Gargron",          "Eugen",           "did:plc:q235v55g5unth4zjjdpacfdr",
        "9876543210",       "catperson",       "Chunlei Wang",
        "6543210987654321", "Prince Charming", "RedHeadQc"};
    for (size_t i = 0; i < sizeof raw_people / sizeof raw_people[0]; i++) {
        if (strstr(data, raw_people[i]) != NULL) {
            fail_msg("%s is in the recording", raw_people[i]);
        }
    }
    assert_non_null(strstr(data, "{\"v\":1,\"platform\":\"mastodon\",\"received_at\":"
                                 "\"2026-11-28T06:30:00.123Z\",\"kind\":\"post\",\"payload\":{"));
    assert_non_null(strstr(data, "\"kind\":\"delete\",\"payload\":\"103270115826048975\"}\n"));
    assert_non_null(strstr(data, "\"received_at\":\"2026-11-28T06:30:00.128Z\""));
    free(data);
    free_items(its, N_ITEMS);
    bv_recorder_free(r);
}

static void test_day_rollover(void **state)
{
    (void)state;
    char dir[256], p1[512], p2[512];
    fresh_dir(dir, sizeof dir, "roll");
    bv_fake_clock_init(&fc, bv_days_from_civil(2026, 11, 28) * DAY + DAY - 1000);
    bv_recorder *r = recorder(dir, 0);
    bv_post p;
    assert_int_equal(bv_codec_mastodon_delete("1", 1, &p), 0);
    bv_raw none = {0};
    assert_int_equal(bv_recorder_write(r, &p, &none), 0);
    bv_fake_clock_advance(&fc, 2000); /* past midnight UTC */
    assert_int_equal(bv_recorder_write(r, &p, &none), 0);
    assert_int_equal(bv_recorder_write(r, &p, &none), 0);
    bv_fake_clock_advance(&fc, -5000); /* the clock steps back: stays in today's file */
    assert_int_equal(bv_recorder_write(r, &p, &none), 0);
    bv_recorder_stats st;
    bv_recorder_stats_get(r, &st);
    day_file(p1, sizeof p1, dir, "2026-11-28");
    day_file(p2, sizeof p2, dir, "2026-11-29");
    assert_string_equal(st.path, p2);
    assert_int_equal(st.lines, 4);
    bv_post back[8];
    assert_int_equal(read_posts(p1, back, 8), 1);
    bv_post_clear(&back[0]);
    assert_int_equal(read_posts(p2, back, 8), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(back[i].kind, BV_POST_DELETE);
        assert_string_equal(back[i].id, "1");
        bv_post_clear(&back[i]);
    }
    bv_post_clear(&p);
    bv_recorder_free(r);
}

/* --record FILE: one file, alone or besides the daily files; each line goes to both. */
static void test_one_file(void **state)
{
    (void)state;
    char dir[256], file[512], day[512];
    fresh_dir(dir, sizeof dir, "one");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(file, sizeof file, "%s/live.jsonl", dir);
    bv_fake_clock_init(&fc, T0);
    bv_recorder_opts o = {
        .path = file, .event = "project-x", .retention_ms = 0, .pseudo = ps, .clock = &fc.clock};
    char err[256] = "";
    bv_recorder *r = bv_recorder_new(&o, err, sizeof err);
    assert_non_null(r);
    bv_post p;
    assert_int_equal(bv_codec_mastodon_delete("7", 1, &p), 0);
    bv_raw none = {0};
    assert_int_equal(bv_recorder_write(r, &p, &none), 0);
    bv_fake_clock_advance(&fc, DAY); /* no days in one file */
    assert_int_equal(bv_recorder_write(r, &p, &none), 0);
    bv_recorder_stats st;
    bv_recorder_stats_get(r, &st);
    assert_string_equal(st.path, file);
    assert_int_equal(st.lines, 2);
    bv_recorder_free(r);
    bv_post back[4];
    assert_int_equal(read_posts(file, back, 4), 2);
    bv_post_clear(&back[0]);
    bv_post_clear(&back[1]);
    /* both: the file is appended to, the day file gets the same line */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/days", dir);
    o.dir = sub;
    r = bv_recorder_new(&o, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(bv_recorder_write(r, &p, &none), 0);
    bv_recorder_free(r);
    assert_int_equal(read_posts(file, back, 4), 3);
    for (int i = 0; i < 3; i++) {
        bv_post_clear(&back[i]);
    }
    day_file(day, sizeof day, sub, "2026-11-29");
    assert_int_equal(read_posts(day, back, 4), 1);
    bv_post_clear(&back[0]);
    /* neither, or an unwritable file: refused at new */
    o.dir = NULL;
    o.path = NULL;
    assert_null(bv_recorder_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "a directory or a file is required"));
    snprintf(file, sizeof file, "%s/no/such/dir/x.jsonl", dir);
    o.path = file;
    assert_null(bv_recorder_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "cannot write"));
    bv_post_clear(&p);
}

static void test_retention(void **state)
{
    (void)state;
    char dir[256], other[256];
    fresh_dir(dir, sizeof dir, "ret");
    assert_int_equal(mkdir(dir, 0700), 0);
    static const char *const old[] = {"project-x-2026-10-01.jsonl", "project-x-2026-10-28.jsonl",
                                      "project-x-1999-12-31.jsonl"};
    static const char *const kept[] = {
        "project-x-2026-10-29.jsonl", /* its day ended less than 30 days ago */
        "project-x-2026-11-27.jsonl",     "project-x-2026-10-01.json",
        "project-x-2026-10-01.jsonl.bak", "project-x-2026-13-01.jsonl",
        "project-x-2026-1-011.jsonl",     "project-x-notadate.jsonl",
        "project-x-x-2026-01-01.jsonl",   "project-y-2026-01-01.jsonl",
        "project-2026-01-01.jsonl",       "pseudonym.key",
        "PROJECT-X-2026-01-01.jsonl"};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        touch(dir, old[i]);
    }
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        touch(dir, kept[i]);
    }
    /* not regular files: a directory and a symlink named like day files */
    char path[512];
    snprintf(path, sizeof path, "%s/project-x-2026-01-02.jsonl", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/project-x-2026-01-03.jsonl", dir);
    assert_int_equal(symlink("pseudonym.key", path), 0);

    bv_fake_clock_init(&fc, T0);
    bv_recorder *r = recorder(dir, BV_RECORDER_RETENTION_DEFAULT);
    bv_recorder_stats st;
    bv_recorder_stats_get(r, &st);
    assert_int_equal(st.files_deleted, 3);
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        assert_false(exists(dir, old[i]));
    }
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        assert_true(exists(dir, kept[i]));
    }
    assert_true(exists(dir, "project-x-2026-01-02.jsonl"));
    assert_true(exists(dir, "project-x-2026-01-03.jsonl"));
    assert_true(exists(dir, "project-x-2026-11-28.jsonl"));

    /* the next day's file: retention runs again, 10-29 is now past it */
    bv_fake_clock_advance(&fc, DAY);
    bv_post p;
    assert_int_equal(bv_codec_mastodon_delete("7", 1, &p), 0);
    bv_raw none = {0};
    assert_int_equal(bv_recorder_write(r, &p, &none), 0);
    bv_recorder_stats_get(r, &st);
    assert_int_equal(st.files_deleted, 4);
    assert_false(exists(dir, "project-x-2026-10-29.jsonl"));
    assert_true(exists(dir, "project-x-2026-11-27.jsonl"));
    assert_true(exists(dir, "project-x-2026-11-28.jsonl"));
    assert_true(exists(dir, "project-x-2026-11-29.jsonl"));
    bv_recorder_free(r);

    /* a short retention: yesterday's file goes, today's (being written) never */
    bv_fake_clock_advance(&fc, DAY);
    r = recorder(dir, 1);
    bv_recorder_stats_get(r, &st);
    assert_false(exists(dir, "project-x-2026-11-29.jsonl"));
    assert_true(exists(dir, "project-x-2026-11-30.jsonl"));
    assert_true(exists(dir, "project-y-2026-01-01.jsonl"));
    bv_recorder_free(r);

    /* 0 keeps everything */
    fresh_dir(other, sizeof other, "keep");
    assert_int_equal(mkdir(other, 0700), 0);
    touch(other, "project-x-2000-01-01.jsonl");
    r = recorder(other, 0);
    bv_recorder_stats_get(r, &st);
    assert_int_equal(st.files_deleted, 0);
    assert_true(exists(other, "project-x-2000-01-01.jsonl"));
    bv_recorder_free(r);
    bv_post_clear(&p);
}

/* Runs fn with stderr going to a file; returns how many lines mention the recorder. */
static int count_logs(void (*fn)(void *), void *arg)
{
    char path[256];
    snprintf(path, sizeof path, "%s/stderr.txt", root);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len;
    char *s = read_file(path, &len);
    int n = 0;
    for (char *p = strstr(s, "recorder: project-x:"); p != NULL;
         p = strstr(p + 1, "recorder: project-x:")) {
        n++;
    }
    free(s);
    unlink(path);
    return n;
}

typedef struct err_rig {
    bv_recorder *r;
    char dir[256];
} err_rig;

static void lose_dir(void *arg)
{
    err_rig *g = arg;
    bv_post p;
    bv_raw none = {0};
    assert_int_equal(bv_codec_mastodon_delete("42", 2, &p), 0);
    /* the directory vanishes; a new day needs a new file */
    char path[512];
    day_file(path, sizeof path, g->dir, "2026-11-28");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(g->dir), 0);
    bv_fake_clock_advance(&fc, DAY);
    assert_int_equal(bv_recorder_write(g->r, &p, &none), BV_EIO);
    assert_int_equal(bv_recorder_write(g->r, &p, &none), BV_EIO); /* logged once */
    bv_fake_clock_advance(&fc, 61 * 1000);
    assert_int_equal(bv_recorder_write(g->r, &p, &none), BV_EIO); /* a minute later: again */
    /* it comes back: the file is opened again */
    assert_int_equal(mkdir(g->dir, 0700), 0);
    assert_int_equal(bv_recorder_write(g->r, &p, &none), 0);
    bv_post_clear(&p);
}

static void test_errors(void **state)
{
    (void)state;
    char err[256];
    bv_recorder_opts o = {.dir = "/tmp", .event = "project-x", .pseudo = ps, .clock = &fc.clock};
    /* options */
    static const char *const bad_events[] = {"", ".hidden", "a/b", "a b", "x\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_events / sizeof bad_events[0]; i++) {
        o.event = bad_events[i];
        err[0] = '\0';
        assert_null(bv_recorder_new(&o, err, sizeof err));
        assert_true(err[0] != '\0');
    }
    o.event = NULL;
    assert_null(bv_recorder_new(&o, err, sizeof err));
    o.event = "project-x";
    o.pseudo = NULL;
    assert_null(bv_recorder_new(&o, err, sizeof err));
    o.pseudo = ps;
    o.retention_ms = -5;
    assert_null(bv_recorder_new(&o, err, sizeof err));
    o.retention_ms = 0;
    o.dir = NULL;
    assert_null(bv_recorder_new(&o, err, sizeof err));
    assert_null(bv_recorder_new(NULL, err, sizeof err));
    /* a directory that cannot be: below a regular file */
    char file[256], dir[512];
    snprintf(file, sizeof file, "%s/plainfile", root);
    touch(root, "plainfile");
    snprintf(dir, sizeof dir, "%s/sub", file);
    o.dir = dir;
    err[0] = '\0';
    assert_null(bv_recorder_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "cannot create"));
    o.dir = file; /* a file, not a directory */
    assert_null(bv_recorder_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "cannot create"));

    /* errors while running: counted, logged at most once a minute */
    err_rig g;
    fresh_dir(g.dir, sizeof g.dir, "vanish");
    bv_fake_clock_init(&fc, T0);
    g.r = recorder(g.dir, 0);
    assert_int_equal(count_logs(lose_dir, &g), 2);
    bv_recorder_stats st;
    bv_recorder_stats_get(g.r, &st);
    assert_int_equal(st.errors, 3);
    assert_int_equal(st.lines, 1);
    assert_non_null(strstr(st.last_error, "cannot open"));

    /* payloads that cannot be recorded: nothing written, counted */
    bv_post p;
    memset(&p, 0, sizeof p);
    p.platform = BV_PLATFORM_X;
    p.kind = BV_POST_CREATE;
    p.id = (char *)"1";
    p.text = (char *)"t";
    bv_raw none = {0};
    assert_int_equal(bv_recorder_write(g.r, &p, &none), BV_EINVAL);
    bv_raw garbage = {.json = "not json", .len = 8};
    assert_int_equal(bv_recorder_write(g.r, &p, &garbage), BV_EINVAL);
    bv_raw arr = {.json = "[1,2]", .len = 5};
    assert_int_equal(bv_recorder_write(g.r, &p, &arr), BV_EINVAL);
    bv_buf deep = BV_BUF_INIT;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(bv_buf_puts(&deep, "{\"a\":"), 0);
    }
    assert_int_equal(bv_buf_puts(&deep, "1"), 0);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(bv_buf_putc(&deep, '}'), 0);
    }
    bv_raw deep_raw = {.json = deep.p, .len = deep.len};
    assert_int_equal(bv_recorder_write(g.r, &p, &deep_raw), BV_ELIMIT);
    bv_buf_free(&deep);
    p.platform = (bv_platform)99;
    bv_raw ok = {.json = "{}", .len = 2};
    assert_int_equal(bv_recorder_write(g.r, &p, &ok), BV_EINVAL);
    p.platform = BV_PLATFORM_MASTODON;
    p.kind = BV_POST_DELETE;
    p.id = (char *)"";
    assert_int_equal(bv_recorder_write(g.r, &p, &none), BV_EINVAL);
    bv_recorder_stats_get(g.r, &st);
    assert_int_equal(st.errors, 9);
    assert_int_equal(st.lines, 1);
    bv_recorder_free(g.r);
    bv_recorder_free(NULL);
}

/* A disk that fills up in the middle of a line: the part written is cut off again. */
static void test_disk_full(void **state)
{
    (void)state;
    char dir[256], path[512];
    fresh_dir(dir, sizeof dir, "full");
    bv_fake_clock_init(&fc, T0);
    bv_recorder *r = recorder(dir, 0);
    size_t len;
    char *s = tu_read_fixture("platforms/mastodon/status.json", &len);
    item it;
    from_json(&it, BV_PLATFORM_MASTODON, s, len, 0);
    free(s);
    assert_int_equal(bv_recorder_write(r, &it.post, &it.raw), 0);
    day_file(path, sizeof path, dir, "2026-11-28");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    off_t before = sb.st_size;

    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = (rlim_t)before + 100; /* the next line is longer than that */
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = bv_recorder_write(r, &it.post, &it.raw);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old);
    assert_int_equal(rc, BV_EIO);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, before);
    assert_int_equal(bv_recorder_write(r, &it.post, &it.raw), 0);
    bv_recorder_stats st;
    bv_recorder_stats_get(r, &st);
    assert_int_equal(st.lines, 2);
    assert_int_equal(st.errors, 1);
    bv_post back[4];
    assert_int_equal(read_posts(path, back, 4), 2);
    bv_post_clear(&back[0]);
    bv_post_clear(&back[1]);
    free_items(&it, 1);
    bv_recorder_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_day_rollover),
        cmocka_unit_test(test_retention), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_disk_full), cmocka_unit_test(test_one_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
