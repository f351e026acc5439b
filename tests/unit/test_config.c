/* test_config.c: the YAML option-table loader (lib/core/config.h) on a small demo table: values,
 * defaults, relative paths, each error with its line:col, garbage, every prefix, size limits. */
#include "testutil.h"

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct demo_redis {
    char *url;
    char *password_env;
} demo_redis;

typedef struct demo_feed {
    char *platform;
    char *url;
    int64_t every;
    bv_strlist words;
} demo_feed;

typedef struct demo {
    char *event;
    bv_strlist rules;
    char *state_dir;
    int64_t lateness;
    demo_redis redis;
    bool drill;
    int64_t workers;
    bv_strlist tags;
    bv_seclist feeds;
} demo;

static const bv_option redis_table[] = {
    BV_OPTION("url", BV_OPT_STRING, demo_redis, url, "redis://127.0.0.1:6379", "server URL"),
    BV_OPTION("password_env", BV_OPT_STRING, demo_redis, password_env, NULL,
              "environment variable holding the password"),
    BV_OPTION_END,
};

static const bv_option feed_table[] = {
    BV_OPTION("platform", BV_OPT_STRING, demo_feed, platform, NULL, "which platform"),
    BV_OPTION("url", BV_OPT_STRING, demo_feed, url, NULL, "where"),
    BV_OPTION_RANGE("every", BV_OPT_DURATION, demo_feed, every, "1m", 1000, 3600000, "how often"),
    BV_OPTION("words", BV_OPT_STRING_LIST, demo_feed, words, "[feest]", "search words"),
    BV_OPTION_END,
};

static const bv_option demo_table[] = {
    BV_OPTION("event", BV_OPT_STRING, demo, event, NULL, "name of the event"),
    BV_OPTION("rules", BV_OPT_PATH_LIST, demo, rules, NULL, "rule files"),
    BV_OPTION("state_dir", BV_OPT_PATH, demo, state_dir, "state", "state directory"),
    BV_OPTION_RANGE("lateness", BV_OPT_DURATION, demo, lateness, "2m", 0, 3600000,
                    "how late a post may be"),
    BV_OPTION_SECTION("redis", demo, redis, redis_table, "the Redis store"),
    BV_OPTION_IGNORE("sources", "platforms to stream from"),
    BV_OPTION("drill", BV_OPT_BOOL, demo, drill, "false", "mark alerts as a drill"),
    BV_OPTION_RANGE("workers", BV_OPT_INT, demo, workers, "1", 1, 64, "worker count"),
    BV_OPTION("tags", BV_OPT_STRING_LIST, demo, tags, "[crisis, nl]", "labels on alerts"),
    BV_OPTION_SECTION_LIST("feeds", demo, feeds, feed_table, demo_feed, "where posts come from"),
    BV_OPTION_END,
};

static const char valid[] =
    "# King's Day\n"
    "event: koningsdag-2027\n"
    "rules:\n"
    "  - rules/base.yaml\n"
    "  - /etc/blikveld/extra.yaml\n"
    "state_dir: var/state\n"
    "lateness: 90s\n"
    "redis:\n"
    "  url: redis://10.0.0.5:6379/2\n"
    "  password_env: BV_REDIS_PASSWORD\n"
    "sources:\n"
    "  mastodon: {instance: mastodon.social, tags: [haren, feest]}\n"
    "  x: {rules: [\"a\", 'b']}\n"
    "drill: yes\n"
    "workers: 8\n"
    "tags: [\"crisis\", amsterdam]\n"
    "feeds:\n"
    "  - platform: mastodon\n"
    "    url: https://social.example/api/v1/streaming/public\n"
    "    every: 10m\n"
    "  - {platform: x, words: [\"(feest OR party) lang:nl\", '#projectx']}\n";

static int load(const char *yaml, demo *d, bv_diag *diag)
{
    memset(d, 0x5a, sizeof *d); /* load must not read or free what is there */
    memset(diag, 0, sizeof *diag);
    return bv_config_load_buffer("t.yaml", yaml, strlen(yaml), "/cfg", demo_table, d, diag);
}

static void assert_owns_nothing(const demo *d)
{
    assert_null(d->event);
    assert_null(d->rules.v);
    assert_int_equal(d->rules.n, 0);
    assert_null(d->state_dir);
    assert_null(d->redis.url);
    assert_null(d->redis.password_env);
    assert_null(d->tags.v);
    assert_null(d->feeds.v);
    assert_int_equal(d->feeds.n, 0);
    assert_null(d->feeds.info);
}

/* Loads yaml, expects failure with rc and "t.yaml:LINE:COL: <msg starting with want>". */
static void expect_error(const char *yaml, int rc, int line, int col, const char *want)
{
    demo d;
    bv_diag diag;
    int got = load(yaml, &d, &diag);
    char text[1200];
    bv_diag_format(&diag, text, sizeof text);
    if (got != rc || diag.line != line || diag.col != col ||
        strncmp(diag.msg, want, strlen(want)) != 0) {
        fail_msg("input %s\n  got rc %d: %s\n  want rc %d at %d:%d: %s", yaml, got, text, rc, line,
                 col, want);
    }
    assert_string_equal(diag.file, "t.yaml");
    assert_owns_nothing(&d);
    bv_config_free(demo_table, &d);
}

static void test_valid(void **state)
{
    (void)state;
    demo d;
    bv_diag diag;
    assert_int_equal(load(valid, &d, &diag), 0);
    assert_string_equal(d.event, "koningsdag-2027");
    assert_int_equal(d.rules.n, 2);
    assert_string_equal(d.rules.v[0], "/cfg/rules/base.yaml");
    assert_string_equal(d.rules.v[1], "/etc/blikveld/extra.yaml");
    assert_null(d.rules.v[2]);
    assert_string_equal(d.state_dir, "/cfg/var/state");
    assert_int_equal(d.lateness, 90000);
    assert_string_equal(d.redis.url, "redis://10.0.0.5:6379/2");
    assert_string_equal(d.redis.password_env, "BV_REDIS_PASSWORD");
    assert_true(d.drill);
    assert_int_equal(d.workers, 8);
    assert_int_equal(d.tags.n, 2);
    assert_string_equal(d.tags.v[0], "crisis");
    assert_string_equal(d.tags.v[1], "amsterdam");
    /* a list of sections: each item filled from its table, defaults for what it leaves out,
     * and where it stands with the keys it gave */
    assert_int_equal(d.feeds.n, 2);
    const demo_feed *f = d.feeds.v;
    assert_string_equal(f[0].platform, "mastodon");
    assert_string_equal(f[0].url, "https://social.example/api/v1/streaming/public");
    assert_int_equal(f[0].every, 600000);
    assert_int_equal(f[0].words.n, 1);
    assert_string_equal(f[0].words.v[0], "feest");
    assert_int_equal(d.feeds.info[0].line, 18);
    assert_int_equal(d.feeds.info[0].col, 5);
    assert_int_equal(d.feeds.info[0].given, 0x7); /* platform, url, every */
    assert_string_equal(f[1].platform, "x");
    assert_null(f[1].url);
    assert_int_equal(f[1].every, 60000);
    assert_int_equal(f[1].words.n, 2);
    assert_string_equal(f[1].words.v[0], "(feest OR party) lang:nl");
    assert_string_equal(f[1].words.v[1], "#projectx");
    assert_int_equal(d.feeds.info[1].line, 21);
    assert_int_equal(d.feeds.info[1].given, 0x9); /* platform, words */
    bv_config_free(demo_table, &d);
    assert_owns_nothing(&d);
    bv_config_free(demo_table, &d); /* twice is fine */
}

static void check_defaults(const demo *d, const char *state_dir)
{
    assert_null(d->event);
    assert_int_equal(d->rules.n, 0);
    assert_null(d->rules.v);
    assert_string_equal(d->state_dir, state_dir);
    assert_int_equal(d->lateness, 120000);
    assert_string_equal(d->redis.url, "redis://127.0.0.1:6379");
    assert_null(d->redis.password_env);
    assert_false(d->drill);
    assert_int_equal(d->workers, 1);
    assert_int_equal(d->tags.n, 2);
    assert_string_equal(d->tags.v[0], "crisis");
    assert_string_equal(d->tags.v[1], "nl");
}

static void test_defaults(void **state)
{
    (void)state;
    static const char *empty[] = {"",    "# only a comment\n", "---\n", "---\n...\n",
                                  "~\n", "\n\n   \n",          "{}",    "redis: {}\n"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        demo d;
        bv_diag diag;
        assert_int_equal(load(empty[i], &d, &diag), 0);
        check_defaults(&d, "/cfg/state");
        bv_config_free(demo_table, &d);
    }
    /* a section given in part keeps the defaults of the rest */
    demo d;
    bv_diag diag;
    assert_int_equal(load("redis:\n  password_env: PW\n", &d, &diag), 0);
    assert_string_equal(d.redis.url, "redis://127.0.0.1:6379");
    assert_string_equal(d.redis.password_env, "PW");
    bv_config_free(demo_table, &d);
    /* a value replaces a default list entirely; one string is a list of one */
    assert_int_equal(load("tags: solo\nrules: one.yaml\n", &d, &diag), 0);
    assert_int_equal(d.tags.n, 1);
    assert_string_equal(d.tags.v[0], "solo");
    assert_int_equal(d.rules.n, 1);
    assert_string_equal(d.rules.v[0], "/cfg/one.yaml");
    bv_config_free(demo_table, &d);
    assert_int_equal(load("tags: []\n", &d, &diag), 0);
    assert_int_equal(d.tags.n, 0);
    bv_config_free(demo_table, &d);
}

static void test_relative_paths(void **state)
{
    (void)state;
    const char *yaml = "state_dir: s\nrules: [a.yaml, ./b.yaml, /abs/c.yaml, ../d.yaml]\n";
    demo d;
    bv_diag diag;
    memset(&d, 0, sizeof d);
    assert_int_equal(bv_config_load_buffer("x", yaml, strlen(yaml), NULL, demo_table, &d, &diag),
                     0);
    assert_string_equal(d.state_dir, "s");
    assert_string_equal(d.rules.v[0], "a.yaml");
    bv_config_free(demo_table, &d);
    assert_int_equal(bv_config_load_buffer("x", yaml, strlen(yaml), "", demo_table, &d, &diag), 0);
    assert_string_equal(d.state_dir, "s");
    bv_config_free(demo_table, &d);
    assert_int_equal(bv_config_load_buffer("x", yaml, strlen(yaml), "/", demo_table, &d, &diag), 0);
    assert_string_equal(d.state_dir, "/s");
    assert_string_equal(d.rules.v[3], "/../d.yaml");
    bv_config_free(demo_table, &d);
    assert_int_equal(
        bv_config_load_buffer("x", yaml, strlen(yaml), "etc/bv/", demo_table, &d, &diag), 0);
    assert_string_equal(d.state_dir, "etc/bv/s");
    assert_string_equal(d.rules.v[0], "etc/bv/a.yaml");
    assert_string_equal(d.rules.v[1], "etc/bv/./b.yaml");
    assert_string_equal(d.rules.v[2], "/abs/c.yaml");
    assert_string_equal(d.rules.v[3], "etc/bv/../d.yaml");
    bv_config_free(demo_table, &d);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("event: x\nfoo: 1\n", BV_EINVAL, 2, 1,
                 "unknown key 'foo' (known: event, rules, state_dir, lateness, redis, sources, "
                 "drill, workers, tags, feeds)");
    /* lists of sections */
    expect_error("feeds: {a: 1}\n", BV_EINVAL, 1, 8,
                 "'feeds' must be a list of mappings, not a mapping");
    expect_error("feeds:\n", BV_EINVAL, 1, 7,
                 "'feeds' must be a list of mappings, not a missing value");
    expect_error("feeds:\n  - x\n", BV_EINVAL, 2, 5,
                 "items of 'feeds' must be mappings of options, not a single value");
    expect_error("feeds:\n  - {platform: x}\n  - [a]\n", BV_EINVAL, 3, 5,
                 "items of 'feeds' must be mappings of options, not a list");
    expect_error("feeds:\n  - platform: x\n  - platform: y\n    port: 1\n", BV_EINVAL, 4, 5,
                 "unknown key 'port' in 'feeds[1]' (known: platform, url, every, words)");
    expect_error("feeds:\n  - platform: x\n    platform: y\n", BV_EINVAL, 3, 5,
                 "duplicate key 'feeds[0].platform' (first given on line 2)");
    expect_error("feeds:\n  - every: 1ms\n", BV_EINVAL, 2, 12,
                 "'feeds[0].every' must be between 1s and 1h");
    expect_error("feeds:\n  - words: {a: b}\n", BV_EINVAL, 2, 12,
                 "'feeds[0].words' must be a list of strings");
    expect_error("redis:\n  url: x\n  host: y\n", BV_EINVAL, 3, 3,
                 "unknown key 'host' in 'redis' (known: url, password_env)");
    expect_error("event: [a]\n", BV_EINVAL, 1, 8, "'event' must be a string, not a list");
    expect_error("event: {a: 1}\n", BV_EINVAL, 1, 8, "'event' must be a string, not a mapping");
    expect_error("redis: 5\n", BV_EINVAL, 1, 8, "'redis' must be a mapping of options");
    expect_error("rules: {a: 1}\n", BV_EINVAL, 1, 8, "'rules' must be a list of paths");
    expect_error("rules:\n  - a\n  - [b]\n", BV_EINVAL, 3, 5,
                 "items of 'rules' must be strings, not a list");
    expect_error("rules:\n  - a\n  -\n", BV_EINVAL, 3, 4, "items of 'rules' must be strings");
    expect_error("lateness: 2 minutes\n", BV_EINVAL, 1, 11,
                 "'lateness' must be a duration like 30s, 5m, 2h, not '2 minutes'");
    expect_error("lateness: 2h\n", BV_EINVAL, 1, 11, "'lateness' must be between 0s and 1h");
    expect_error("lateness: -5s\n", BV_EINVAL, 1, 11, "'lateness' must be a duration");
    expect_error("workers: 100\n", BV_EINVAL, 1, 10,
                 "'workers' must be between 1 and 64, not '100'");
    expect_error("workers: 8.5\n", BV_EINVAL, 1, 10, "'workers' must be a whole number");
    expect_error("workers: 99999999999999999999999\n", BV_EINVAL, 1, 10,
                 "'workers' must be a whole number");
    expect_error("drill: maybe\n", BV_EINVAL, 1, 8, "'drill' must be true or false, not 'maybe'");
    expect_error("event: a\nevent: b\n", BV_EINVAL, 2, 1,
                 "duplicate key 'event' (first given on line 1)");
    expect_error("redis:\n  url: a\n  url: b\n", BV_EINVAL, 3, 3,
                 "duplicate key 'redis.url' (first given on line 2)");
    expect_error("event:\nrules: []\n", BV_EINVAL, 1, 7, "'event' has no value");
    expect_error("state_dir: ''\n", BV_EINVAL, 1, 12, "'state_dir' is an empty path");
    expect_error("event: \"a\\0b\"\n", BV_EINVAL, 1, 8, "'event' contains a NUL character");
    expect_error("- a\n- b\n", BV_EINVAL, 1, 1, "a config file must be a mapping of options");
    expect_error("just text\n", BV_EINVAL, 1, 1, "a config file must be a mapping of options");
    expect_error("event: a\n---\nevent: b\n", BV_EINVAL, 2, 1,
                 "a config file holds one YAML document");
    expect_error("? [a, b]\n: c\n", BV_EINVAL, 1, 3, "keys must be plain names, not a list");
    /* anchors and aliases: refused where they stand */
    expect_error("event: &e x\nstate_dir: *e\n", BV_EINVAL, 1, 8,
                 "anchors and aliases (&e) are not supported");
    expect_error("sources: *x\n", BV_EINVAL, 1, 10, "anchors and aliases (*x) are not supported");
    /* YAML syntax errors carry libyaml's marks */
    expect_error("event: \"open\n", BV_EINVAL, 2, 1, "while scanning a quoted scalar");
    expect_error("event: a\n\tstate_dir: b\n", BV_EINVAL, 2, 1, "while scanning");
    expect_error("event: a: b\n", BV_EINVAL, 1, 9, "mapping values are not allowed");
    expect_error("rules: [a, b\n", BV_EINVAL, 2, 1, "while parsing a flow sequence");
    /* invalid UTF-8 is placed by counting to libyaml's byte offset */
    expect_error("event: ok\nrules: [\xc3\x28]\n", BV_EINVAL, 2, 10,
                 "invalid trailing UTF-8 octet");
}

/* A bad default in the table is reported as such, not blamed on the file. */
static void test_bad_default(void **state)
{
    (void)state;
    typedef struct t {
        int64_t d;
        char *s;
    } t;
    static const bv_option table[] = {
        BV_OPTION("s", BV_OPT_STRING, t, s, "x", "a string"),
        BV_OPTION("d", BV_OPT_DURATION, t, d, "soon", "a duration"),
        BV_OPTION_END,
    };
    t v;
    bv_diag diag;
    assert_int_equal(bv_config_load_buffer("f", "", 0, NULL, table, &v, &diag), BV_EINVAL);
    assert_null(v.s);
    assert_string_equal(diag.msg,
                        "default of 'd' in the option table: 'd' must be a duration like 30s, "
                        "5m, 2h, not 'soon'");
}

/* Every prefix of a valid file loads or fails cleanly, and owns nothing after failing. */
static void test_every_prefix(void **state)
{
    (void)state;
    size_t len = strlen(valid);
    size_t ok = 0;
    for (size_t n = 0; n <= len; n++) {
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, valid, n);
        demo d;
        bv_diag diag;
        memset(&d, 0x5a, sizeof d);
        int rc = bv_config_load_buffer("p", copy, n, "/cfg", demo_table, &d, &diag);
        if (rc == 0) {
            ok++;
        } else {
            assert_int_equal(rc, BV_EINVAL);
            assert_true(diag.line >= 1);
            assert_true(diag.col >= 1);
            assert_owns_nothing(&d);
        }
        bv_config_free(demo_table, &d);
        free(copy);
    }
    assert_true(ok > 10);
}

static uint32_t rng = 99;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Random bytes and random mutations of the valid file: no crash, no leak, a clean answer. */
static void test_garbage(void **state)
{
    (void)state;
    static const char alphabet[] = "abc: -[]{},&*!|>'\"#\n\t ?%@`\\0123456789\x01\xff\xc3";
    size_t vlen = strlen(valid);
    for (int round = 0; round < 2000; round++) {
        size_t n;
        char buf[1024];
        if (round % 2) {
            n = rnd() % 200;
            for (size_t i = 0; i < n; i++) {
                buf[i] = alphabet[rnd() % (sizeof alphabet - 1)];
            }
        } else {
            memcpy(buf, valid, vlen);
            n = vlen;
            for (int k = 0; k < 3; k++) {
                buf[rnd() % n] = alphabet[rnd() % (sizeof alphabet - 1)];
            }
        }
        demo d;
        bv_diag diag;
        int rc = bv_config_load_buffer("g", buf, n, "/cfg", demo_table, &d, &diag);
        if (rc != 0) {
            assert_true(rc == BV_EINVAL || rc == BV_ELIMIT);
            assert_owns_nothing(&d);
        } else {
            assert_non_null(d.state_dir);
        }
        bv_config_free(demo_table, &d);
    }
}

static void test_limits(void **state)
{
    (void)state;
    /* too large */
    size_t big = BV_CONFIG_MAX_BYTES + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    demo d;
    bv_diag diag;
    assert_int_equal(bv_config_load_buffer("big", text, big, NULL, demo_table, &d, &diag),
                     BV_ELIMIT);
    assert_owns_nothing(&d);
    /* just under the limit: a long comment and a long value */
    size_t n = BV_CONFIG_MAX_BYTES;
    memcpy(text, "event: ", 7);
    memset(text + 7, 'e', n - 8);
    text[n - 1] = '\n';
    assert_int_equal(bv_config_load_buffer("big", text, n, NULL, demo_table, &d, &diag), 0);
    assert_int_equal(strlen(d.event), n - 8);
    bv_config_free(demo_table, &d);
    free(text);

    /* a list of sections holds at most BV_CONFIG_MAX_ITEMS items */
    bv_buf many = BV_BUF_INIT;
    bv_buf_printf(&many, "feeds:\n");
    for (int i = 0; i <= BV_CONFIG_MAX_ITEMS; i++) {
        bv_buf_printf(&many, "  - {platform: p%d, words: [a, b]}\n", i);
    }
    assert_int_equal(bv_config_load_buffer("many", many.p, many.len, NULL, demo_table, &d, &diag),
                     BV_ELIMIT);
    assert_int_equal(diag.line, 2 + BV_CONFIG_MAX_ITEMS);
    assert_owns_nothing(&d);
    /* one fewer loads */
    many.len -= strlen("  - {platform: p256, words: [a, b]}\n");
    assert_int_equal(bv_config_load_buffer("many", many.p, many.len, NULL, demo_table, &d, &diag),
                     0);
    assert_int_equal(d.feeds.n, BV_CONFIG_MAX_ITEMS);
    assert_string_equal(((demo_feed *)d.feeds.v)[255].platform, "p255");
    bv_config_free(demo_table, &d);
    bv_buf_free(&many);

    /* an ignored node nested without end is cut off */
    char deep[400];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "sources: ");
    for (int i = 0; i < 100; i++) {
        deep[k++] = '[';
    }
    deep[k] = '\0';
    assert_int_equal(bv_config_load_buffer("deep", deep, k, NULL, demo_table, &d, &diag),
                     BV_ELIMIT);
    assert_int_equal(diag.line, 1);
    assert_int_equal(diag.col, 10 + 64);
    /* nesting within the limit is skipped whole */
    assert_int_equal(bv_config_load_buffer("ok", "sources: [[[[{a: [1]}]]]]\nevent: e\n", 34, NULL,
                                           demo_table, &d, &diag),
                     0);
    assert_string_equal(d.event, "e");
    bv_config_free(demo_table, &d);

    /* the "billion laughs": refused at the first anchor, nothing expanded */
    const char *bomb = "sources:\n"
                       "  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                       "  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";
    assert_int_equal(load(bomb, &d, &diag), BV_EINVAL);
    assert_int_equal(diag.line, 2);
    assert_int_equal(diag.col, 6);
    bv_config_free(demo_table, &d);
}

static void test_load_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv_test_config_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/blikveld.yaml", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(valid, f);
    fclose(f);

    demo d;
    bv_diag diag;
    memset(&d, 0, sizeof d);
    assert_int_equal(bv_config_load(path, demo_table, &d, &diag), 0);
    char want[300];
    snprintf(want, sizeof want, "%s/rules/base.yaml", dir);
    assert_string_equal(d.rules.v[0], want);
    snprintf(want, sizeof want, "%s/var/state", dir);
    assert_string_equal(d.state_dir, want);
    bv_config_free(demo_table, &d);

    /* an error names the file */
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("event: x\nlateness: never\n", f);
    fclose(f);
    assert_int_equal(bv_config_load(path, demo_table, &d, &diag), BV_EINVAL);
    char text[1200];
    snprintf(want, sizeof want, "%s:2:11: 'lateness' must be a duration", path);
    bv_diag_format(&diag, text, sizeof text);
    assert_memory_equal(text, want, strlen(want));
    assert_owns_nothing(&d);

    /* too large */
    f = fopen(path, "wb");
    assert_non_null(f);
    char comment[64];
    memset(comment, '#', sizeof comment);
    comment[63] = '\n';
    for (size_t i = 0; i < BV_CONFIG_MAX_BYTES / 64 + 1; i++) {
        assert_int_equal(fwrite(comment, 1, sizeof comment, f), sizeof comment);
    }
    fclose(f);
    assert_int_equal(bv_config_load(path, demo_table, &d, &diag), BV_ELIMIT);
    assert_owns_nothing(&d);
    unlink(path);

    /* missing file, a directory */
    assert_int_equal(bv_config_load(path, demo_table, &d, &diag), BV_EIO);
    assert_string_equal(diag.file, path);
    assert_owns_nothing(&d);
    assert_int_equal(bv_config_load(dir, demo_table, &d, &diag), BV_EIO);
    assert_owns_nothing(&d);
    rmdir(dir);

    /* a file name without a folder: paths stay relative to the working directory */
    char cwd_name[64];
    snprintf(cwd_name, sizeof cwd_name, "bv_test_config_%d.yaml", (int)getpid());
    f = fopen(cwd_name, "wb");
    assert_non_null(f);
    fputs("state_dir: st\n", f);
    fclose(f);
    assert_int_equal(bv_config_load(cwd_name, demo_table, &d, &diag), 0);
    assert_string_equal(d.state_dir, "st");
    bv_config_free(demo_table, &d);
    unlink(cwd_name);
}

static void test_help(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    bv_config_help(demo_table, f);
    fclose(f);
    assert_non_null(strstr(text, "  event               (string)  name of the event\n"));
    assert_non_null(strstr(
        text, "  lateness            (duration 0s..1h, default 2m)  how late a post may be\n"));
    assert_non_null(strstr(text, "  redis               (section)  the Redis store\n"));
    assert_non_null(strstr(
        text, "  redis.url           (string, default redis://127.0.0.1:6379)  server URL\n"));
    assert_non_null(strstr(text, "  redis.password_env  (string)  environment variable"));
    assert_non_null(
        strstr(text, "  workers             (integer 1..64, default 1)  worker count\n"));
    assert_non_null(strstr(text, "  tags                (list of strings, default [crisis, nl])"));
    assert_non_null(strstr(text, "  sources             (described separately)"));
    assert_non_null(
        strstr(text, "  feeds               (list of sections)  where posts come from\n"));
    assert_non_null(
        strstr(text, "  feeds[].every       (duration 1s..1h, default 1m)  how often\n"));
    free(text);
}

/* ---- mappings of chosen names: STRING_MAP and GROUPS ---- */

typedef struct rc_target {
    char *webhook;
    bv_strmap headers_env;
    bv_strlist email;
    int64_t timeout;
} rc_target;

typedef struct rc_conf {
    bv_groups recipients;
    bv_strmap labels;
    char *event;
} rc_conf;

static const bv_option rc_target_table[] = {
    BV_OPTION("webhook", BV_OPT_STRING, rc_target, webhook, NULL, "URL to POST alerts to"),
    BV_OPTION("headers_env", BV_OPT_STRING_MAP, rc_target, headers_env, NULL,
              "headers from environment variables"),
    BV_OPTION("email", BV_OPT_STRING_LIST, rc_target, email, NULL, "addresses"),
    BV_OPTION("timeout", BV_OPT_DURATION, rc_target, timeout, "10s", "per request"),
    BV_OPTION_END,
};

static const bv_option rc_table[] = {
    BV_OPTION_GROUPS("recipients", rc_conf, recipients, rc_target_table, rc_target,
                     "who gets alerts"),
    BV_OPTION("labels", BV_OPT_STRING_MAP, rc_conf, labels, NULL, "extra labels"),
    BV_OPTION("event", BV_OPT_STRING, rc_conf, event, NULL, "name of the event"),
    BV_OPTION_END,
};

static const char rc_valid[] =
    "recipients:\n"
    "  police:\n"
    "    - webhook: https://meldkamer.example/hooks/blikveld\n"
    "      headers_env: {Authorization: POLICE_HOOK_AUTH, X-Team: TEAM_ENV}\n"
    "    - email: [oc@politie.example]\n"
    "  mayor:\n"
    "    - email: kabinet@gemeente.example\n"
    "      timeout: 30s\n"
    "  \"comms team\": []\n"
    "labels:\n"
    "  team: crisis\n"
    "  'quoted key': \"v: w\"\n"
    "  number: 1\n"
    "event: kd\n";

static int rc_load(const char *yaml, size_t len, rc_conf *c, bv_diag *diag)
{
    memset(c, 0x5a, sizeof *c); /* load must not read or free what is there */
    memset(diag, 0, sizeof *diag);
    return bv_config_load_buffer("r.yaml", yaml, len, NULL, rc_table, c, diag);
}

static void rc_assert_owns_nothing(const rc_conf *c)
{
    assert_null(c->recipients.names);
    assert_null(c->recipients.lists);
    assert_null(c->recipients.line);
    assert_int_equal(c->recipients.n, 0);
    assert_null(c->labels.keys);
    assert_null(c->labels.vals);
    assert_int_equal(c->labels.n, 0);
    assert_null(c->event);
}

static void rc_expect_error(const char *yaml, int rc, int line, int col, const char *want)
{
    rc_conf c;
    bv_diag diag;
    int got = rc_load(yaml, strlen(yaml), &c, &diag);
    char text[1200];
    bv_diag_format(&diag, text, sizeof text);
    if (got != rc || diag.line != line || diag.col != col ||
        strncmp(diag.msg, want, strlen(want)) != 0) {
        bv_config_free(rc_table, &c); /* a load that wrongly succeeded leaks nothing either */
        fail_msg("input %s\n  got rc %d: %s\n  want rc %d at %d:%d: %s", yaml, got, text, rc, line,
                 col, want);
    }
    assert_string_equal(diag.file, "r.yaml");
    rc_assert_owns_nothing(&c);
    bv_config_free(rc_table, &c);
}

static void test_groups_valid(void **state)
{
    (void)state;
    rc_conf c;
    bv_diag diag;
    assert_int_equal(rc_load(rc_valid, strlen(rc_valid), &c, &diag), 0);
    const bv_groups *g = &c.recipients;
    assert_int_equal(g->n, 3);
    assert_string_equal(g->names[0], "police");
    assert_string_equal(g->names[1], "mayor");
    assert_string_equal(g->names[2], "comms team");
    assert_int_equal(g->line[0], 2);
    assert_int_equal(g->line[1], 6);
    assert_int_equal(g->line[2], 9);

    const bv_seclist *police = &g->lists[0];
    assert_int_equal(police->n, 2);
    const rc_target *t = police->v;
    assert_string_equal(t[0].webhook, "https://meldkamer.example/hooks/blikveld");
    assert_int_equal(t[0].headers_env.n, 2);
    assert_string_equal(t[0].headers_env.keys[0], "Authorization");
    assert_string_equal(t[0].headers_env.vals[0], "POLICE_HOOK_AUTH");
    assert_string_equal(t[0].headers_env.keys[1], "X-Team");
    assert_string_equal(t[0].headers_env.vals[1], "TEAM_ENV");
    assert_int_equal(t[0].email.n, 0);
    assert_int_equal(t[0].timeout, 10000); /* the default */
    assert_int_equal(police->info[0].line, 3);
    assert_int_equal(police->info[0].col, 7);
    assert_int_equal(police->info[0].given, 0x3); /* webhook, headers_env */
    assert_null(t[1].webhook);
    assert_int_equal(t[1].headers_env.n, 0);
    assert_null(t[1].headers_env.keys);
    assert_int_equal(t[1].email.n, 1);
    assert_string_equal(t[1].email.v[0], "oc@politie.example");
    assert_int_equal(police->info[1].line, 5);
    assert_int_equal(police->info[1].given, 0x4);

    const bv_seclist *mayor = &g->lists[1];
    assert_int_equal(mayor->n, 1);
    t = mayor->v;
    assert_int_equal(t[0].email.n, 1);
    assert_string_equal(t[0].email.v[0], "kabinet@gemeente.example");
    assert_int_equal(t[0].timeout, 30000);
    assert_int_equal(mayor->info[0].given, 0xc);
    assert_int_equal(g->lists[2].n, 0); /* a group may be empty */

    assert_int_equal(c.labels.n, 3);
    assert_string_equal(c.labels.keys[0], "team");
    assert_string_equal(c.labels.vals[0], "crisis");
    assert_string_equal(c.labels.keys[1], "quoted key");
    assert_string_equal(c.labels.vals[1], "v: w");
    assert_string_equal(c.labels.keys[2], "number");
    assert_string_equal(c.labels.vals[2], "1"); /* a scalar is a string */
    assert_string_equal(c.event, "kd");
    bv_config_free(rc_table, &c);
    rc_assert_owns_nothing(&c);
    bv_config_free(rc_table, &c); /* twice is fine */

    /* flow style; absent and empty mappings */
    const char *flow = "recipients: {a: [{webhook: x}], b: [{webhook: y}, {webhook: z}]}\n";
    assert_int_equal(rc_load(flow, strlen(flow), &c, &diag), 0);
    assert_int_equal(c.recipients.n, 2);
    assert_int_equal(c.recipients.lists[1].n, 2);
    assert_string_equal(((rc_target *)c.recipients.lists[1].v)[1].webhook, "z");
    assert_int_equal(c.labels.n, 0);
    bv_config_free(rc_table, &c);
    static const char *const empty[] = {"", "event: e\n", "recipients: {}\nlabels: {}\n"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        assert_int_equal(rc_load(empty[i], strlen(empty[i]), &c, &diag), 0);
        assert_int_equal(c.recipients.n, 0);
        assert_null(c.recipients.names);
        assert_int_equal(c.labels.n, 0);
        assert_null(c.labels.keys);
        bv_config_free(rc_table, &c);
    }
}

static void test_groups_errors(void **state)
{
    (void)state;
    /* the wrong kind of node where a mapping of names is wanted */
    rc_expect_error("recipients: [a]\n", BV_EINVAL, 1, 13,
                    "'recipients' must be a mapping of names to lists of mappings, not a list");
    rc_expect_error("recipients: police\n", BV_EINVAL, 1, 13,
                    "'recipients' must be a mapping of names to lists of mappings, not a single "
                    "value");
    rc_expect_error("recipients:\nevent: x\n", BV_EINVAL, 1, 12,
                    "'recipients' must be a mapping of names to lists of mappings, not a missing "
                    "value");
    rc_expect_error("labels: [a]\n", BV_EINVAL, 1, 9,
                    "'labels' must be a mapping of names to strings, not a list");
    rc_expect_error("labels: x\n", BV_EINVAL, 1, 9,
                    "'labels' must be a mapping of names to strings, not a single value");
    rc_expect_error("labels: ~\n", BV_EINVAL, 1, 9,
                    "'labels' must be a mapping of names to strings, not a missing value");
    /* a group that is not a list of mappings */
    rc_expect_error("recipients:\n  police: {webhook: x}\n", BV_EINVAL, 2, 11,
                    "'recipients.police' must be a list of mappings, not a mapping");
    rc_expect_error("recipients:\n  police: x\n", BV_EINVAL, 2, 11,
                    "'recipients.police' must be a list of mappings, not a single value");
    rc_expect_error("recipients:\n  police:\n  mayor: []\n", BV_EINVAL, 2, 10,
                    "'recipients.police' must be a list of mappings, not a missing value");
    rc_expect_error("recipients:\n  police:\n    - x\n", BV_EINVAL, 3, 7,
                    "items of 'recipients.police' must be mappings of options, not a single value");
    rc_expect_error("recipients:\n  police:\n    - [webhook]\n", BV_EINVAL, 3, 7,
                    "items of 'recipients.police' must be mappings of options, not a list");
    /* what an item holds is checked against its table, with the item's path */
    rc_expect_error("recipients:\n  police:\n    - {webhook: a}\n    - {webhook: b, port: 1}\n",
                    BV_EINVAL, 4, 20,
                    "unknown key 'port' in 'recipients.police[1]' (known: webhook, headers_env, "
                    "email, timeout)");
    rc_expect_error("recipients:\n  police:\n    - webhook: a\n      webhook: b\n", BV_EINVAL, 4, 7,
                    "duplicate key 'recipients.police[0].webhook' (first given on line 3)");
    rc_expect_error("recipients:\n  p:\n    - timeout: soon\n", BV_EINVAL, 3, 16,
                    "'recipients.p[0].timeout' must be a duration");
    rc_expect_error("recipients:\n  p:\n    - headers_env: X\n", BV_EINVAL, 3, 20,
                    "'recipients.p[0].headers_env' must be a mapping of names to strings, not a "
                    "single value");
    rc_expect_error("recipients:\n  p:\n    - headers_env: {A: 1, A: 2}\n", BV_EINVAL, 3, 27,
                    "duplicate key 'A' in 'recipients.p[0].headers_env'");
    rc_expect_error("recipients:\n  p:\n    - headers_env: {A: [x]}\n", BV_EINVAL, 3, 24,
                    "'recipients.p[0].headers_env.A' must be a string, not a list");
    /* names: not repeated, not empty, not a list, no NUL */
    rc_expect_error("recipients:\n  police: []\n  mayor: []\n  police: []\n", BV_EINVAL, 4, 3,
                    "duplicate key 'police' in 'recipients'");
    rc_expect_error("labels: {a: x, b: y, a: z}\n", BV_EINVAL, 1, 22,
                    "duplicate key 'a' in 'labels'");
    rc_expect_error("recipients: {~: []}\n", BV_EINVAL, 1, 14,
                    "keys of 'recipients' must be names, not a missing value");
    rc_expect_error("labels:\n  ? \n  : x\n", BV_EINVAL, 2, 4,
                    "keys of 'labels' must be names, not a missing value");
    rc_expect_error("recipients: {[a]: []}\n", BV_EINVAL, 1, 14,
                    "keys of 'recipients' must be names, not a list");
    rc_expect_error("labels: {{a: b}: c}\n", BV_EINVAL, 1, 10,
                    "keys of 'labels' must be names, not a mapping");
    rc_expect_error("labels: {\"a\\0b\": c}\n", BV_EINVAL, 1, 10,
                    "keys of 'labels' must be names, not 'a?b'");
    /* values: a string, not nothing */
    rc_expect_error("labels: {a: }\n", BV_EINVAL, 1, 13,
                    "'labels.a' must be a string, not a missing value");
    rc_expect_error("labels:\n  a: ~\n", BV_EINVAL, 2, 6,
                    "'labels.a' must be a string, not a missing value");
    rc_expect_error("labels:\n  a: {b: c}\n", BV_EINVAL, 2, 6,
                    "'labels.a' must be a string, not a mapping");
    /* anchors and aliases, and syntax errors inside */
    rc_expect_error("recipients:\n  police: &p []\n", BV_EINVAL, 2, 11,
                    "anchors and aliases (&p) are not supported");
    rc_expect_error("labels: {a: *x}\n", BV_EINVAL, 1, 13,
                    "anchors and aliases (*x) are not supported");
    rc_expect_error("recipients:\n  police: [{webhook: x}\n", BV_EINVAL, 3, 1,
                    "while parsing a flow sequence");
    /* the message as printed: file:line:col first */
    {
        const char *y = "recipients:\n  police: []\n  police: []\n";
        rc_conf c;
        bv_diag diag;
        assert_int_equal(rc_load(y, strlen(y), &c, &diag), BV_EINVAL);
        char text[1200];
        bv_diag_format(&diag, text, sizeof text);
        assert_string_equal(text, "r.yaml:3:3: duplicate key 'police' in 'recipients'");
        bv_config_free(rc_table, &c);
    }
    /* the whole key is given twice */
    rc_expect_error("labels: {a: b}\nlabels: {c: d}\n", BV_EINVAL, 2, 1,
                    "duplicate key 'labels' (first given on line 1)");
}

/* An empty name written with quotes is still no name for a group or a header. */
static void test_groups_empty_quoted_name(void **state)
{
    (void)state;
    rc_expect_error("recipients: {\"\": []}\n", BV_EINVAL, 1, 14,
                    "keys of 'recipients' must be names");
    rc_expect_error("labels: {'': x}\n", BV_EINVAL, 1, 10, "keys of 'labels' must be names");
}

static void test_groups_limits(void **state)
{
    (void)state;
    rc_conf c;
    bv_diag diag;
    bv_buf b = BV_BUF_INIT;
    /* BV_CONFIG_MAX_ITEMS names, each with an item: fine; one more is not */
    bv_buf_puts(&b, "recipients:\n");
    for (int i = 0; i <= BV_CONFIG_MAX_ITEMS; i++) {
        bv_buf_printf(&b, "  g%d: [{webhook: w%d, headers_env: {A: B}}]\n", i, i);
    }
    size_t last = strlen("  g256: [{webhook: w256, headers_env: {A: B}}]\n");
    assert_int_equal(rc_load(b.p, b.len - last, &c, &diag), 0);
    assert_int_equal(c.recipients.n, BV_CONFIG_MAX_ITEMS);
    assert_string_equal(c.recipients.names[255], "g255");
    assert_string_equal(((rc_target *)c.recipients.lists[255].v)[0].webhook, "w255");
    assert_int_equal(c.recipients.line[255], 257);
    bv_config_free(rc_table, &c);
    rc_assert_owns_nothing(&c);
    assert_int_equal(rc_load(b.p, b.len, &c, &diag), BV_ELIMIT);
    assert_int_equal(diag.line, 2 + BV_CONFIG_MAX_ITEMS);
    assert_int_equal(diag.col, 3);
    assert_non_null(strstr(diag.msg, "'recipients' has more than 256 keys"));
    rc_assert_owns_nothing(&c);

    /* the same for the keys of a string map */
    bv_buf_reset(&b);
    bv_buf_puts(&b, "labels:\n");
    for (int i = 0; i <= BV_CONFIG_MAX_ITEMS; i++) {
        bv_buf_printf(&b, "  k%d: v%d\n", i, i);
    }
    last = strlen("  k256: v256\n");
    assert_int_equal(rc_load(b.p, b.len - last, &c, &diag), 0);
    assert_int_equal(c.labels.n, BV_CONFIG_MAX_ITEMS);
    assert_string_equal(c.labels.vals[255], "v255");
    bv_config_free(rc_table, &c);
    assert_int_equal(rc_load(b.p, b.len, &c, &diag), BV_ELIMIT);
    assert_int_equal(diag.line, 2 + BV_CONFIG_MAX_ITEMS);
    assert_non_null(strstr(diag.msg, "'labels' has more than 256 keys"));
    rc_assert_owns_nothing(&c);

    /* and for the items of one group */
    bv_buf_reset(&b);
    bv_buf_puts(&b, "recipients:\n  police:\n");
    for (int i = 0; i <= BV_CONFIG_MAX_ITEMS; i++) {
        bv_buf_printf(&b, "    - {webhook: w%d}\n", i);
    }
    assert_int_equal(rc_load(b.p, b.len, &c, &diag), BV_ELIMIT);
    assert_int_equal(diag.line, 3 + BV_CONFIG_MAX_ITEMS);
    assert_non_null(strstr(diag.msg, "'recipients.police' has more than 256 items"));
    rc_assert_owns_nothing(&c);

    /* a long name is cut in messages, not in the value */
    bv_buf_reset(&b);
    bv_buf_puts(&b, "recipients:\n  ");
    for (int i = 0; i < 300; i++) {
        bv_buf_putc(&b, 'n');
    }
    bv_buf_puts(&b, ":\n    - {webhook: x, bad: 1}\n");
    assert_int_equal(rc_load(b.p, b.len, &c, &diag), BV_EINVAL);
    assert_non_null(strstr(diag.msg, "unknown key 'bad' in 'recipients.nnnn"));
    rc_assert_owns_nothing(&c);
    bv_buf_reset(&b);
    bv_buf_puts(&b, "labels:\n  ");
    for (int i = 0; i < 300; i++) {
        bv_buf_putc(&b, 'n');
    }
    bv_buf_puts(&b, ": x\n");
    assert_int_equal(rc_load(b.p, b.len, &c, &diag), 0);
    assert_int_equal(strlen(c.labels.keys[0]), 300);
    bv_config_free(rc_table, &c);
    bv_buf_free(&b);
}

/* Every prefix, and random mutations: a clean answer, nothing owned after a failure (ASan checks
 * that bv_config_free releases everything after a success). */
static void test_groups_prefix_garbage(void **state)
{
    (void)state;
    size_t len = strlen(rc_valid);
    size_t ok = 0;
    for (size_t n = 0; n <= len; n++) {
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, rc_valid, n);
        rc_conf c;
        bv_diag diag;
        int rc = rc_load(copy, n, &c, &diag);
        if (rc == 0) {
            ok++;
        } else {
            assert_int_equal(rc, BV_EINVAL);
            assert_true(diag.line >= 1);
            assert_true(diag.col >= 1);
            rc_assert_owns_nothing(&c);
        }
        bv_config_free(rc_table, &c);
        free(copy);
    }
    assert_true(ok > 10);
    static const char alphabet[] = "ab: -[]{},&*!|>'\"#\n\t ?~\\0\x01\xff";
    char buf[sizeof rc_valid];
    for (int round = 0; round < 3000; round++) {
        memcpy(buf, rc_valid, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            buf[rnd() % len] = alphabet[rnd() % (sizeof alphabet - 1)];
        }
        rc_conf c;
        bv_diag diag;
        int rc = rc_load(buf, len, &c, &diag);
        if (rc != 0) {
            assert_true(rc == BV_EINVAL || rc == BV_ELIMIT);
            rc_assert_owns_nothing(&c);
        } else {
            for (size_t i = 0; i < c.recipients.n; i++) {
                assert_non_null(c.recipients.names[i]);
                assert_true(c.recipients.lists[i].n == 0 || c.recipients.lists[i].v != NULL);
            }
            for (size_t i = 0; i < c.labels.n; i++) {
                assert_non_null(c.labels.keys[i]);
                assert_non_null(c.labels.vals[i]);
            }
        }
        bv_config_free(rc_table, &c);
    }
}

static void test_groups_help(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    bv_config_help(rc_table, f);
    fclose(f);
    /* the widest key sets the column: recipients.NAME[].headers_env */
    static const char *const want[][2] = {
        {"recipients", "(mapping of names to lists of sections)  who gets alerts"},
        {"recipients.NAME[].webhook", "(string)  URL to POST alerts to"},
        {"recipients.NAME[].headers_env",
         "(mapping of names to strings)  headers from environment variables"},
        {"recipients.NAME[].email", "(list of strings)  addresses"},
        {"recipients.NAME[].timeout", "(duration, default 10s)  per request"},
        {"labels", "(mapping of names to strings)  extra labels"},
        {"event", "(string)  name of the event"},
    };
    bv_buf all = BV_BUF_INIT;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bv_buf_printf(&all, "  %-29s  %s\n", want[i][0], want[i][1]);
    }
    assert_string_equal(text, all.p);
    bv_buf_free(&all);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_default),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_groups_valid),
        cmocka_unit_test(test_groups_errors),
        cmocka_unit_test(test_groups_empty_quoted_name),
        cmocka_unit_test(test_groups_limits),
        cmocka_unit_test(test_groups_prefix_garbage),
        cmocka_unit_test(test_groups_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
