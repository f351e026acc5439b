/* test_redis_cluster.c: the router in front of one Redis server or a Redis Cluster
 * (lib/net/redis_cluster.h): key slots against the spec's vectors, MOVED/ASK parsing with
 * garbage and every prefix, and, against a real redis-server without cluster support, that the
 * router passes every command to that one server. */
#include "testutil.h"

#include "redisutil.h"

#include "core/err.h"
#include "net/redis_cluster.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>

static void test_key_slot(void **state)
{
    (void)state;
    /* the spec's CRC16 check value: CRC16("123456789") = 0x31C3 */
    assert_int_equal(bv_redis_key_slot("123456789", 9), 0x31C3 % BV_REDIS_SLOTS);
    /* hash tags: the part between the first '{' and the next '}', when not empty */
    const char *a = "{user1000}.following", *b = "{user1000}.followers";
    assert_int_equal(bv_redis_key_slot(a, strlen(a)), bv_redis_key_slot(b, strlen(b)));
    assert_int_equal(bv_redis_key_slot(a, strlen(a)), bv_redis_key_slot("user1000", 8));
    assert_int_equal(bv_redis_key_slot("foo{}{bar}", 10), bv_redis_key_slot("foo{}{bar}", 10));
    assert_int_not_equal(bv_redis_key_slot("foo{}{bar}", 10), bv_redis_key_slot("bar", 3));
    assert_int_equal(bv_redis_key_slot("foo{{bar}}zap", 13), bv_redis_key_slot("{bar", 4));
    assert_int_equal(bv_redis_key_slot("foo{bar}{zap}", 13), bv_redis_key_slot("bar", 3));
    assert_int_equal(bv_redis_key_slot("{", 1), bv_redis_key_slot("{", 1));
    assert_true(bv_redis_key_slot("", 0) < BV_REDIS_SLOTS);
    /* the store's keys: every key of a rule lands in its rule's slot */
    const char *k1 = "bv:{live/koningsdag-2027/project-x}:60000:1781287200000:n";
    const char *k2 = "bv:{live/koningsdag-2027/project-x}:ep";
    assert_int_equal(bv_redis_key_slot(k1, strlen(k1)), bv_redis_key_slot(k2, strlen(k2)));
}

static void test_parse_redirect(void **state)
{
    (void)state;
    unsigned slot;
    char host[64];
    int port;
    assert_int_equal(
        bv_redis_parse_redirect("MOVED 3999 127.0.0.1:6381", &slot, host, sizeof host, &port), 1);
    assert_int_equal(slot, 3999);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6381);
    assert_int_equal(bv_redis_parse_redirect("ASK 16383 ::1:7000", &slot, host, sizeof host, &port),
                     2);
    assert_int_equal(slot, 16383);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);
    assert_int_equal(
        bv_redis_parse_redirect("MOVED 0 redis-2.internal:6379", &slot, host, sizeof host, &port),
        1);
    assert_string_equal(host, "redis-2.internal");
    static const char *const bad[] = {
        "",
        "MOVED",
        "MOVED ",
        "MOVED 3999",
        "MOVED 3999 ",
        "MOVED 3999 127.0.0.1",
        "MOVED 3999 127.0.0.1:",
        "MOVED 3999 :6379",
        "MOVED 16384 127.0.0.1:6379",
        "MOVED -1 127.0.0.1:6379",
        "MOVED 99999999999999999999 h:1",
        "MOVED 3999 127.0.0.1:0",
        "MOVED 3999 127.0.0.1:65536",
        "MOVED 3999 127.0.0.1:63a",
        "MOVED 3999 127.0.0.1:-5",
        "MOVED 3999 host name:6379",
        "MOVED 3999 h\tx:6379",
        "moved 3999 127.0.0.1:6379",
        "ASK3999 127.0.0.1:6379",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN The cluster is down",
        "ERR unknown command",
        "MOVED 3999 "
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bv_redis_parse_redirect(bad[i], &slot, host, sizeof host, &port) != -1) {
            fail_msg("accepted: '%s'", bad[i]);
        }
    }
    /* every prefix of a good one: refused, or (the whole) accepted */
    const char *good = "ASK 12182 127.0.0.1:30002";
    for (size_t n = 0; n < strlen(good); n++) {
        char buf[64];
        memcpy(buf, good, n);
        buf[n] = '\0';
        int rc = bv_redis_parse_redirect(buf, &slot, host, sizeof host, &port);
        assert_true(rc == -1 || (rc == 2 && n >= strlen(good) - 4));
    }
}

/* ---- one server without cluster support: everything to it ---- */

typedef struct world {
    struct event_base *base;
    int ready, down, replies, nulls;
    char last[64];
} world;

static void on_ready(void *arg)
{
    ((world *)arg)->ready++;
}

static void on_down(void *arg, const char *why, int was_ready)
{
    (void)why;
    (void)was_ready;
    ((world *)arg)->down++;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    world *w = priv;
    redisReply *r = reply;
    if (r == NULL) {
        w->nulls++;
        return;
    }
    w->replies++;
    snprintf(w->last, sizeof w->last, "%.*s", r->str ? (int)r->len : 0, r->str ? r->str : "");
}

static void run_until(world *w, const int *what, int want)
{
    for (int i = 0; i < 200000 && *what < want; i++) {
        event_base_loop(w->base, EVLOOP_ONCE);
    }
    assert_true(*what >= want);
}

static void test_single_server(void **state)
{
    (void)state;
    tu_redis srv;
    assert_int_equal(tu_redis_start(&srv, NULL), 0);
    world w;
    memset(&w, 0, sizeof w);
    w.base = event_base_new();
    char url[400], err[256];
    snprintf(url, sizeof url, "unix:%s", srv.sock);
    bv_redis_addr addr;
    assert_int_equal(bv_redis_url_parse(url, strlen(url), &addr, err, sizeof err), 0);
    static const char *const scripts[] = {"return KEYS[1]"};
    bv_redis_conn_opts o = {.addr = &addr,
                            .timeout_ms = 5000,
                            .scripts = scripts,
                            .nscripts = 1,
                            .ready = on_ready,
                            .down = on_down,
                            .arg = &w};
    bv_redis_router *r = bv_redis_router_new(w.base, &o, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(bv_redis_router_ready(r), 0);
    assert_int_equal(bv_redis_router_send(r, 1, on_reply, &w), BV_EIO); /* not ready yet */
    run_until(&w, &w.ready, 1);
    assert_int_equal(bv_redis_router_is_cluster(r), 0);
    assert_string_equal(bv_redis_router_state(r), "connected");
    assert_non_null(strstr(bv_redis_router_addr(r), srv.sock));
    /* a script by its SHA, keys in any slot: all to the one server */
    for (int i = 0; i < 20; i++) {
        bv_redis_cmd *c = bv_redis_router_cmd(r);
        assert_int_equal(bv_redis_cmd_str(c, "EVALSHA"), 0);
        assert_int_equal(bv_redis_cmd_str(c, bv_redis_router_sha(r, 0)), 0);
        assert_int_equal(bv_redis_cmd_str(c, "1"), 0);
        assert_int_equal(bv_redis_cmd_fmt(c, "key-%d", i), 0);
        assert_int_equal(bv_redis_router_send(r, 3, on_reply, &w), BV_OK);
        assert_int_equal(bv_redis_cmd_nargs(c), 0); /* the builder was taken */
    }
    run_until(&w, &w.replies, 20);
    assert_string_equal(w.last, "key-19");
    bv_redis_router_stats st;
    bv_redis_router_stats_get(r, &st);
    assert_int_equal(st.masters, 0);
    assert_int_equal(st.moved + st.ask + st.tryagain, 0);
    /* failing it answers what is due with NULL, says down, and comes back */
    bv_redis_cmd *c = bv_redis_router_cmd(r);
    bv_redis_cmd_str(c, "PING");
    assert_int_equal(bv_redis_router_send(r, 0, on_reply, &w), BV_OK);
    bv_redis_router_fail(r, "test");
    assert_int_equal(w.nulls, 1);
    assert_int_equal(w.down, 1);
    assert_int_equal(bv_redis_router_ready(r), 0);
    run_until(&w, &w.ready, 2);
    /* freed with a command due: answered NULL, nothing else */
    c = bv_redis_router_cmd(r);
    bv_redis_cmd_str(c, "PING");
    assert_int_equal(bv_redis_router_send(r, 0, on_reply, &w), BV_OK);
    bv_redis_router_free(r);
    assert_int_equal(w.nulls, 2);
    assert_int_equal(w.down, 1);
    bv_redis_addr_free(&addr);
    event_base_free(w.base);
    tu_redis_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_slot),
        cmocka_unit_test(test_parse_redirect),
        cmocka_unit_test(test_single_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
