/* test_source.c: the `sources:` items and the plugin table (lib/source/source.h): each
 * platform's keys, what it needs, secrets from the environment, names, and instances that start
 * and stop cleanly without a peer. */
#include "testutil.h"

#include "core/err.h"
#include "net/curl_loop.h"
#include "source/source.h"

#include <event2/event.h>
#include <stdlib.h>

typedef struct conf {
    bv_seclist sources;
} conf;

static const bv_option table[] = {
    BV_OPTION_SECTION_LIST("sources", conf, sources, bv_source_conf_table, bv_source_conf,
                           "sources"),
    BV_OPTION_END,
};

/* Loads yaml and checks item 0: the check's return, its message in *msg. */
static int check_one(const char *yaml, char *msg, size_t msglen)
{
    conf c;
    memset(&c, 0, sizeof c);
    bv_diag diag;
    int rc = bv_config_load_buffer("t.yaml", yaml, strlen(yaml), "/cfg", table, &c, &diag);
    if (rc != 0) {
        fail_msg("config: %s", diag.msg);
    }
    assert_int_equal(c.sources.n, 1);
    msg[0] = '\0';
    rc = bv_source_conf_check(c.sources.v, &c.sources.info[0], 0, msg, msglen);
    bv_config_free(table, &c);
    return rc;
}

static void expect_refused(const char *yaml, const char *want)
{
    char msg[512];
    int rc = check_one(yaml, msg, sizeof msg);
    if (rc != BV_EINVAL || strstr(msg, want) == NULL) {
        fail_msg("%s\n  got %d: %s\n  want: %s", yaml, rc, msg, want);
    }
}

static void test_checks(void **state)
{
    (void)state;
    setenv("BV_T_TOKEN", "tok-123", 1);
    setenv("BV_T_EMPTY", "", 1);
    unsetenv("BV_T_UNSET");
    char msg[512];
    assert_int_equal(check_one("sources:\n  - platform: mastodon\n    url: https://m.example/"
                               "api/v1/streaming/public\n    token_env: BV_T_TOKEN\n",
                               msg, sizeof msg),
                     BV_OK);
    assert_int_equal(check_one("sources:\n  - {platform: reddit, url: "
                               "'https://www.reddit.com/r/thehague/new.json', poll: 90s}\n",
                               msg, sizeof msg),
                     BV_OK);
    assert_int_equal(
        check_one("sources:\n  - {platform: facebook, listen: '127.0.0.1:8443', app_secret_env: "
                  "BV_T_TOKEN, verify_token_env: BV_T_TOKEN, flatline: 10m}\n",
                  msg, sizeof msg),
        BV_OK);
    expect_refused("sources:\n  - {url: 'https://x'}\n",
                   "sources[0] (no platform): 'platform' is missing; known platforms: mastodon");
    expect_refused("sources:\n  - {platform: myspace}\n",
                   "sources[0] (myspace): unknown platform; known platforms:");
    expect_refused("sources:\n  - {platform: mastodon, url: 'https://m', token_env: BV_T_TOKEN, "
                   "listen: '1.2.3.4:5'}\n",
                   "'listen' is not a key of mastodon sources (they take platform, name, "
                   "flatline, max_message, url, token_env, stall, backoff_min, backoff_max)");
    expect_refused("sources:\n  - {platform: reddit, url: 'https://r', stream_rules: [a]}\n",
                   "'stream_rules' is not a key of reddit sources");
    expect_refused("sources:\n  - {platform: mastodon, token_env: BV_T_TOKEN}\n",
                   "sources[0] (mastodon): 'url' is required");
    expect_refused("sources:\n  - {platform: telegram, url: 'https://api.telegram.org'}\n",
                   "'token_env' is required");
    expect_refused(
        "sources:\n  - {platform: facebook, listen: 'a:1', app_secret_env: BV_T_TOKEN}\n",
        "'verify_token_env' is required");
    expect_refused("sources:\n  - {platform: x, url: 'ftp://x', token_env: BV_T_TOKEN}\n",
                   "url must start with https:// or http://, not 'ftp://x'");
    expect_refused("sources:\n  - {platform: bluesky, url: 'https://jetstream.example/'}\n",
                   "url must start with wss:// or ws://, not 'https://jetstream.example/'");
    expect_refused("sources:\n  - {platform: bluesky, url: 'wss://j', token_env: BV_T_TOKEN}\n",
                   "'token_env' is not a key of bluesky sources");
    expect_refused("sources:\n  - {platform: x, url: 'https://x', token_env: BV_T_UNSET}\n",
                   "token_env names BV_T_UNSET, which is not set in the environment");
    expect_refused("sources:\n  - {platform: x, url: 'https://x', token_env: BV_T_EMPTY}\n",
                   "token_env names BV_T_EMPTY, which is empty in the environment");
    expect_refused("sources:\n  - {platform: reddit, url: 'https://r', name: '../etc'}\n",
                   "name '../etc' may hold only letters, digits");
    expect_refused("sources:\n  - {platform: x, url: 'https://x', token_env: BV_T_TOKEN, "
                   "stream_rules: ['']}\n",
                   "stream_rules[0] must hold 1 to 1024 bytes");
    /* the secret's value never appears in a message */
    expect_refused("sources:\n  - {platform: x, url: 'https://x', token_env: BV_T_TOKEN, "
                   "listen: 'a:1'}\n",
                   "'listen' is not a key of x sources");
}

/* The default name is the platform's; the list of platforms is printable. */
static void test_default_name(void **state)
{
    (void)state;
    conf c;
    memset(&c, 0, sizeof c);
    bv_diag diag;
    const char *y = "sources:\n  - {platform: reddit, url: 'https://r.example/r/a/new.json'}\n";
    assert_int_equal(bv_config_load_buffer("t", y, strlen(y), NULL, table, &c, &diag), 0);
    char msg[256];
    assert_int_equal(bv_source_conf_check(c.sources.v, &c.sources.info[0], 0, msg, sizeof msg),
                     BV_OK);
    assert_string_equal(((bv_source_conf *)c.sources.v)->name, "reddit");
    assert_int_equal(((bv_source_conf *)c.sources.v)->poll_timeout_ms, 30000);
    assert_int_equal(((bv_source_conf *)c.sources.v)->max_message, 1048576);
    bv_config_free(table, &c);
    assert_non_null(strstr(bv_source_platforms(), "mastodon, x, "));
}

static void on_post(void *arg, bv_post *p, const bv_raw *raw)
{
    (void)raw;
    (*(int *)arg)++;
    bv_post_clear(p);
}

/* Every plugin starts from a checked item and stops cleanly with no peer answering. */
static void test_instances(void **state)
{
    (void)state;
    setenv("BV_T_TOKEN", "tok-123", 1);
    char dir[] = "/tmp/bv_test_source_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *y = "sources:\n"
                    "  - {platform: mastodon, url: 'http://127.0.0.1:9/s', token_env: BV_T_TOKEN}\n"
                    "  - {platform: x, url: 'http://127.0.0.1:9/2/tweets/search/stream', "
                    "token_env: BV_T_TOKEN, stream_rules: [feest]}\n"
                    "  - {platform: x, name: x2, url: 'http://127.0.0.1:9/2/tweets/search/stream', "
                    "token_env: BV_T_TOKEN}\n"
                    "  - {platform: telegram, url: 'http://127.0.0.1:9', token_env: BV_T_TOKEN}\n"
                    "  - {platform: reddit, url: 'http://127.0.0.1:9/r/a/new.json'}\n"
                    "  - {platform: facebook, listen: '127.0.0.1:0', app_secret_env: BV_T_TOKEN, "
                    "verify_token_env: BV_T_TOKEN}\n"
                    "  - {platform: bluesky, url: 'ws://127.0.0.1:9/subscribe?"
                    "wantedCollections=app.bsky.feed.post'}\n";
    conf c;
    memset(&c, 0, sizeof c);
    bv_diag diag;
    assert_int_equal(bv_config_load_buffer("t", y, strlen(y), NULL, table, &c, &diag), 0);
    struct event_base *base = event_base_new();
    bv_curl_loop *cl = bv_curl_loop_new(base);
    bv_pseudo *ps = bv_pseudo_new("k-0123456789abcdef", 18);
    bv_codec_ctx codec = {.pseudo = ps};
    int posts = 0;
    bv_source_env env = {.base = base,
                         .curl = cl,
                         .codec = &codec,
                         .clock = bv_clock_system(),
                         .state_dir = dir,
                         .post = on_post,
                         .arg = &posts};
    bv_source *s[7];
    for (size_t i = 0; i < c.sources.n; i++) {
        char msg[256];
        bv_source_conf *sc = (bv_source_conf *)c.sources.v + i;
        assert_int_equal(bv_source_conf_check(sc, &c.sources.info[i], i, msg, sizeof msg), BV_OK);
        s[i] = bv_source_new(sc, &env, msg, sizeof msg);
        if (s[i] == NULL) {
            fail_msg("sources[%zu]: %s", i, msg);
        }
        assert_string_equal(bv_source_name(s[i]), sc->name);
        assert_string_equal(bv_source_platform(s[i]), sc->platform);
        bv_source_stats st;
        bv_source_stats_get(s[i], &st);
        assert_non_null(st.state);
    }
    assert_true(bv_source_port(s[5]) > 0);
    assert_int_equal(bv_source_port(s[0]), 0);
    /* a few turns: connections are refused, nothing arrives, nothing breaks */
    for (int i = 0; i < 20; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(posts, 0);
    for (size_t i = 0; i < c.sources.n; i++) {
        bv_source_free(s[i]);
    }
    bv_source_free(NULL);
    bv_curl_loop_free(cl);
    event_base_free(base);
    bv_pseudo_free(ps);
    bv_config_free(table, &c);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_default_name),
        cmocka_unit_test(test_instances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
