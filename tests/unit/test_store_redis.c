/* test_store_redis.c: the Redis window store against a real redis-server (started per test on a
 * unix socket): counting and the key layout, two stores (two processes) adding into one picture,
 * distinct authors as HyperLogLogs, the episode claims, scripts Redis forgot, a Redis that is
 * not there (deltas wait, bounded), and a server that never answers (the loop's timeout). */
#include "testutil.h"

#include "storeutil.h"

#include "redisutil.h"

#include "core/err.h"
#include "engine/hll.h"
#include "engine/post.h"
#include "engine/store_memory.h"
#include "engine/store_redis.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define T0 1781287200000LL /* 2026-06-12T18:00:00Z, a bucket boundary */
#define MIN 60000

static void author(uint8_t a[BV_PSEUDO_LEN], int k)
{
    memset(a, 0x11, BV_PSEUDO_LEN);
    a[0] = (uint8_t)k;
    a[1] = (uint8_t)(k >> 8);
}

/* One redis-server for the file, stopped by the group teardown even when a test fails; each test
 * counts under namespaces of its own. */
static tu_redis srv;

static int group_setup(void **state)
{
    (void)state;
    return tu_redis_start(&srv, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_redis_stop(&srv);
    return 0;
}

static bv_store *open_store(struct event_base *base, const char *url, int64_t timeout_ms,
                            uint64_t max_pending)
{
    bv_redis_addr addr;
    char err[256];
    assert_int_equal(bv_redis_url_parse(url, strlen(url), &addr, err, sizeof err), 0);
    bv_store_redis_opts o = {
        .addr = &addr, .flush_ms = 20, .timeout_ms = timeout_ms, .max_pending = max_pending};
    bv_store *st = bv_store_redis_new(base, &o, err, sizeof err);
    bv_redis_addr_free(&addr);
    assert_non_null(st);
    return st;
}

/* Runs the loop until the store has everything in Redis (bounded: a real server answers). */
static void drain(struct event_base *base, bv_store *st)
{
    got g = {0};
    assert_int_equal(bv_store_drain(st, done_cb, &g), 0);
    for (int i = 0; i < 100000 && g.calls == 0; i++) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.err, 0);
}

static void run_until(struct event_base *base, const int *flag)
{
    for (int i = 0; i < 100000 && *flag == 0; i++) {
        event_base_loop(base, EVLOOP_ONCE);
    }
}

static long long redis_int(redisContext *c, const char *fmt, const char *key)
{
    redisReply *r = redisCommand(c, fmt, key);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                  : r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10)
                                                  : -1;
    freeReplyObject(r);
    return v;
}

static void test_counts_and_keys(void **state)
{
    (void)state;
    char url[400];
    snprintf(url, sizeof url, "unix:%s", srv.sock);
    struct event_base *base = event_base_new();
    bv_store *st = open_store(base, url, 5000, 0);
    uint32_t s;
    assert_int_equal(bv_store_series(st, "drill/e/keys/r1/60000", MIN, 5 * MIN, 1, &s), 0);
    assert_int_equal(bv_store_series(st, "bad{tag}/r/60000", MIN, 5 * MIN, 0, &s), BV_EINVAL);
    assert_int_equal(bv_store_series(st, "drill/e/keys/r1/60000", MIN, 5 * MIN, 1, &s), 0);
    uint8_t a[BV_PSEUDO_LEN];
    for (int i = 0; i < 30; i++) {
        author(a, i % 10);
        assert_int_equal(bv_store_add(st, s, T0 + i * 1000, 1, a), 0);
    }
    author(a, 99);
    bv_store_add(st, s, T0 + MIN + 5, 2, a);
    /* answered from the local view at once, before anything reached Redis */
    got g = {0};
    assert_int_equal(bv_store_read(st, s, T0, 2, 2, read_cb, &g), 0);
    assert_int_equal(g.calls, 0); /* never inside the call */
    run_until(base, &g.calls);
    assert_int_equal(g.counts[0], 30);
    assert_int_equal(g.counts[1], 2);
    assert_int_equal(g.authors[0], 11);
    drain(base, st);
    bv_store_stats ss;
    bv_store_stats_get(st, &ss);
    assert_string_equal(ss.state, "connected");
    assert_int_equal(ss.pending, 0);
    assert_true(ss.pending_peak >= 32);
    assert_true(ss.commands > 0);
    /* the key layout of store_redis.h, with expiry */
    redisContext *c = redisConnectUnix(srv.sock);
    assert_non_null(c);
    char key[200];
    snprintf(key, sizeof key, "bv:{drill/e/keys/r1}:60000:%lld:n", T0);
    assert_int_equal(redis_int(c, "GET %s", key), 30);
    long long ttl = redis_int(c, "PTTL %s", key);
    assert_true(ttl > 0 && ttl <= 2 * 5 * MIN + 3600000);
    snprintf(key, sizeof key, "bv:{drill/e/keys/r1}:60000:%lld:a", T0);
    assert_int_equal(redis_int(c, "PFCOUNT %s", key), 10);
    assert_true(redis_int(c, "PTTL %s", key) > 0);
    snprintf(key, sizeof key, "bv:{drill/e/keys/r1}:60000:%lld:n", T0 + MIN);
    assert_int_equal(redis_int(c, "GET %s", key), 2);
    /* Redis forgets the scripts: the next round loads them again */
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    freeReplyObject(r);
    bv_store_add(st, s, T0 + 2 * MIN, 5, NULL);
    drain(base, st);
    snprintf(key, sizeof key, "bv:{drill/e/keys/r1}:60000:%lld:n", T0 + 2 * MIN);
    assert_int_equal(redis_int(c, "GET %s", key), 5);
    redisFree(c);
    bv_store_free(st);
    event_base_free(base);
}

/* Two processes, one picture: each counts its own posts; each reads the sum. */
static void test_two_stores_one_picture(void **state)
{
    (void)state;
    char url[400];
    snprintf(url, sizeof url, "unix:%s", srv.sock);
    struct event_base *base = event_base_new();
    bv_store *p1 = open_store(base, url, 5000, 0);
    bv_store *p2 = open_store(base, url, 5000, 0);
    bv_store *other = open_store(base, url, 5000, 0);
    uint32_t s1, s2, so;
    bv_store_series(p1, "drill/e/two/r1/60000", MIN, 10 * MIN, 1, &s1);
    bv_store_series(p2, "drill/e/two/r1/60000", MIN, 10 * MIN, 1, &s2);
    bv_store_series(other, "live/e/r1/60000", MIN, 10 * MIN, 1, &so); /* the live event */
    bv_hll exact = {0};
    uint8_t a[BV_PSEUDO_LEN];
    for (int i = 0; i < 600; i++) {
        author(a, i % 150); /* the same authors post through both processes */
        bv_store_add(i % 2 ? p1 : p2, i % 2 ? s1 : s2, T0 + i * 500, 1, a);
        bv_hll_add(&exact, a, BV_PSEUDO_LEN);
        bv_store_add(other, so, T0 + i * 500, 3, NULL);
    }
    drain(base, p1);
    drain(base, p2);
    drain(base, other);
    drain(base, p1); /* p1 flushed before p2 did: it learns p2's counts now */
    got g1 = {0}, g2 = {0}, go = {0};
    bv_store_read(p1, s1, T0, 5, 5, read_cb, &g1);
    bv_store_read(p2, s2, T0, 5, 5, read_cb, &g2);
    bv_store_read(other, so, T0, 5, 0, read_cb, &go);
    run_until(base, &g1.calls);
    run_until(base, &g2.calls);
    run_until(base, &go.calls);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(g1.counts[i], 120);
        assert_int_equal(g2.counts[i], 120);
        assert_int_equal(go.counts[i], 360); /* live and drill never see each other */
    }
    /* distinct authors across processes: the union of both sides' registers, which is what
     * PFCOUNT over the window's keys says */
    assert_int_equal(g1.authors[0], bv_hll_count(&exact));
    assert_int_equal(g2.authors[0], g1.authors[0]);
    assert_true(g1.authors[0] >= 148 && g1.authors[0] <= 152);
    bv_hll_free(&exact);
    bv_store_free(p1);
    bv_store_free(p2);
    bv_store_free(other);
    event_base_free(base);
}

/* The episode claim of store.h, across two stores; the same contract as the memory store. */
static void test_claims(void **state)
{
    (void)state;
    char url[400];
    snprintf(url, sizeof url, "unix:%s", srv.sock);
    struct event_base *base = event_base_new();
    bv_store *p1 = open_store(base, url, 5000, 0);
    bv_store *p2 = open_store(base, url, 5000, 0);
    got a = {0}, b = {0}, c = {0};
    bv_store_claim(p1, "drill/e/run1/r1", "A", BV_CLAIM_FIRE, 60000, claim_cb, &a);
    run_until(base, &a.calls);
    bv_store_claim(p2, "drill/e/run1/r1", "B", BV_CLAIM_FIRE, 60000, claim_cb, &b);
    bv_store_claim(p2, "drill/e/run1/r2", "C", BV_CLAIM_FIRE, 60000, claim_cb, &c);
    run_until(base, &b.calls);
    run_until(base, &c.calls);
    assert_int_equal(a.won, 1);
    assert_int_equal(b.won, 0);
    assert_string_equal(b.winner, "A"); /* the loser learns the id to adopt */
    assert_int_equal(c.won, 1);
    /* the winner asking again (its reply was lost) wins again */
    got a2 = {0};
    bv_store_claim(p1, "drill/e/run1/r1", "A", BV_CLAIM_FIRE, 60000, claim_cb, &a2);
    run_until(base, &a2.calls);
    assert_int_equal(a2.won, 1);
    /* resolving: under the firing id, once; p2 resolves the episode it adopted */
    got d = {0}, e = {0}, f = {0}, n = {0};
    bv_store_claim(p2, "drill/e/run1/r1", "A", BV_CLAIM_RESOLVE, 60000, claim_cb, &d);
    run_until(base, &d.calls);
    bv_store_claim(p1, "drill/e/run1/r1", "A", BV_CLAIM_RESOLVE, 60000, claim_cb, &e);
    run_until(base, &e.calls);
    bv_store_claim(p2, "drill/e/run1/r1", "A", BV_CLAIM_RESOLVE, 60000, claim_cb, &f);
    run_until(base, &f.calls);
    assert_int_equal(d.won, 1);
    assert_int_equal(e.won, 0);
    assert_int_equal(f.won, 1); /* p2 again: its own resolution */
    bv_store_claim(p1, "drill/e/run1/r1", "N", BV_CLAIM_FIRE, 60000, claim_cb, &n);
    run_until(base, &n.calls);
    assert_int_equal(n.won, 1); /* a new episode after the last resolved */
    /* a claim waiting at teardown is answered, with an error */
    got t = {0};
    bv_store_claim(p1, "drill/e/run1/r3", "T", BV_CLAIM_FIRE, 60000, claim_cb, &t);
    bv_store_free(p1);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.err, BV_EAGAIN);
    bv_store_free(p2);
    event_base_free(base);
}

/* No Redis at the address: reads still answer from the local view, deltas wait (bounded, the
 * rest counted as dropped), the state says so. */
static void test_redis_away(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-away-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof url, "unix:%s/none.sock", dir);
    struct event_base *base = event_base_new();
    bv_store *st = open_store(base, url, 200, 50);
    uint32_t s;
    bv_store_series(st, "live/e/r1/60000", MIN, 5 * MIN, 1, &s);
    uint8_t a[BV_PSEUDO_LEN];
    for (int i = 0; i < 100; i++) {
        author(a, i);
        bv_store_add(st, s, T0 + i * 100, 1, a);
    }
    got g = {0};
    bv_store_read(st, s, T0, 1, 1, read_cb, &g);
    run_until(base, &g.calls);
    assert_int_equal(g.counts[0], 100); /* counts cost no memory: all kept */
    bv_store_stats ss;
    bv_store_stats_get(st, &ss);
    assert_string_equal(ss.state, "down");
    assert_true(ss.errors >= 1);
    /* author entries past max_pending (the few whose register was already as high are not
     * entries at all) */
    assert_true(ss.dropped_pending >= 40 && ss.dropped_pending <= 50);
    assert_true(ss.pending >= 100);
    got d = {0};
    bv_store_drain(st, done_cb, &d);
    bv_store_free(st);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, BV_EAGAIN);
    event_base_free(base);
    rmdir(dir);
}

/* Redis is not there while a whole window goes by: buckets leave the ring with their counts
 * unsent; when Redis comes (a socket appears at the address), every count arrives, once. */
static void test_outage_longer_than_window(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-late-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[128], url[160];
    snprintf(link, sizeof link, "%s/r.sock", dir);
    snprintf(url, sizeof url, "unix:%s", link);
    struct event_base *base = event_base_new();
    bv_store *st = open_store(base, url, 2000, 0);
    uint32_t s;
    bv_store_series(st, "live/outage/r1/60000", MIN, 3 * MIN, 1, &s); /* a ring of 5 buckets */
    uint8_t a[BV_PSEUDO_LEN];
    for (int m = 0; m < 20; m++) {
        for (int i = 0; i <= m; i++) {
            author(a, 1000 * m + i);
            bv_store_add(st, s, T0 + m * MIN + i * 100, 1, a);
        }
    }
    /* and one bucket with more authors than one round sends */
    uint32_t big;
    bv_store_series(st, "live/outage/big/60000", MIN, 3 * MIN, 1, &big);
    for (int i = 0; i < 70000; i++) {
        author(a, i);
        a[2] = (uint8_t)(i >> 16);
        bv_store_add(st, big, T0 + (i % 600) * 100, 1, a);
    }
    event_base_loop(base, EVLOOP_NONBLOCK); /* it tries, and fails */
    bv_store_stats ss;
    bv_store_stats_get(st, &ss);
    assert_string_equal(ss.state, "down");
    assert_int_equal(ss.dropped_pending, 0);
    assert_int_equal(symlink(srv.sock, link), 0);
    drain(base, st);
    bv_store_stats_get(st, &ss);
    assert_string_equal(ss.state, "connected");
    assert_int_equal(ss.pending, 0);
    redisContext *c = redisConnectUnix(srv.sock);
    assert_non_null(c);
    for (int m = 0; m < 20; m++) {
        char key[200];
        snprintf(key, sizeof key, "bv:{live/outage/r1}:60000:%lld:n", T0 + m * MIN);
        assert_int_equal(redis_int(c, "GET %s", key), m + 1);
        snprintf(key, sizeof key, "bv:{live/outage/r1}:60000:%lld:a", T0 + m * MIN);
        assert_int_equal(redis_int(c, "PFCOUNT %s", key), m + 1);
    }
    char key[200];
    snprintf(key, sizeof key, "bv:{live/outage/big}:60000:%lld:n", T0);
    assert_int_equal(redis_int(c, "GET %s", key), 70000);
    snprintf(key, sizeof key, "bv:{live/outage/big}:60000:%lld:a", T0);
    long long pf = redis_int(c, "PFCOUNT %s", key);
    assert_true(pf > 70000 * 0.98 && pf < 70000 * 1.02);
    got g = {0};
    bv_store_read(st, big, T0, 1, 1, read_cb, &g);
    run_until(base, &g.calls);
    assert_int_equal(g.authors[0], pf); /* the local view is Redis's */
    redisFree(c);
    bv_store_free(st);
    event_base_free(base);
    unlink(link);
    rmdir(dir);
}

/* Once another process counts too, a bucket's end holds reads until a round has brought the
 * others' counts; with Redis gone, the hold ends after the timeout and the read is answered from
 * what this process knows: late, never skipped. */
static void test_hold_then_decide_late(void **state)
{
    (void)state;
    tu_redis own;
    assert_int_equal(tu_redis_start(&own, NULL), 0);
    char url[400];
    snprintf(url, sizeof url, "unix:%s", own.sock);
    struct event_base *base = event_base_new();
    bv_store *p1 = open_store(base, url, 300, 0);
    bv_store *p2 = open_store(base, url, 300, 0);
    uint32_t s1, s2;
    bv_store_series(p1, "live/hold/r1/60000", MIN, 5 * MIN, 0, &s1);
    bv_store_series(p2, "live/hold/r1/60000", MIN, 5 * MIN, 0, &s2);
    bv_store_add(p1, s1, T0, 1, NULL);
    drain(base, p1);
    bv_store_add(p2, s2, T0 + 1000, 1, NULL);
    drain(base, p2);
    bv_store_add(p1, s1, T0 + 2000, 1, NULL);
    drain(base, p1); /* p1 learns that p2 writes here too */
    /* a new bucket: its read waits for a round, which brings p2's next count */
    bv_store_add(p2, s2, T0 + MIN + 10, 5, NULL);
    drain(base, p2);
    bv_store_add(p1, s1, T0 + MIN + 20, 1, NULL);
    got g = {0};
    bv_store_read(p1, s1, T0, 2, 0, read_cb, &g);
    run_until(base, &g.calls);
    assert_int_equal(g.counts[0], 3);
    assert_int_equal(g.counts[1], 6); /* p2's 5 and p1's 1 */
    bv_store_stats ss;
    bv_store_stats_get(p1, &ss);
    assert_true(ss.waits >= 1);
    /* Redis goes away: the next bucket's read still comes, after the timeout */
    tu_redis_stop(&own);
    bv_store_add(p1, s1, T0 + 2 * MIN, 2, NULL);
    got h = {0};
    bv_store_read(p1, s1, T0, 3, 0, read_cb, &h);
    run_until(base, &h.calls);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.err, 0);
    assert_int_equal(h.counts[2], 2); /* its own count, decided without Redis */
    bv_store_stats_get(p1, &ss);
    assert_true(ss.waits >= 2);
    assert_true(ss.pending >= 2);
    bv_store_free(p1);
    bv_store_free(p2);
    event_base_free(base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* A server that accepts and never answers: the loop's own timer gives up on it. */
static void test_silent_server(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 8), 0);
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", ntohs(sa.sin_port));
    struct event_base *base = event_base_new();
    bv_store *st = open_store(base, url, 50, 0);
    int deadline = 0;
    struct event *dl = evtimer_new(base, on_deadline, &deadline);
    event_add(dl, &(struct timeval){10, 0});
    bv_store_stats ss = {0};
    while (!deadline && ss.errors < 2) {
        event_base_loop(base, EVLOOP_ONCE);
        bv_store_stats_get(st, &ss);
    }
    assert_true(ss.errors >= 2); /* timed out, and again after reconnecting */
    assert_string_not_equal(ss.state, "connected");
    event_free(dl);
    bv_store_free(st);
    event_base_free(base);
    close(lfd);
}

static char *redis_str(redisContext *c, const char *fmt, const char *key)
{
    redisReply *r = redisCommand(c, fmt, key);
    assert_non_null(r);
    char *s = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return s;
}

static void expect_str(redisContext *c, const char *key, const char *want)
{
    char *s = redis_str(c, "GET %s", key);
    if (want == NULL) {
        assert_null(s);
    } else {
        assert_non_null(s);
        assert_string_equal(s, want);
    }
    free(s);
}

static void claim_wait(struct event_base *base, bv_store *st, const char *scope, const char *id,
                       bv_claim_kind kind, const bv_claim_outbox *ob, got *g)
{
    memset(g, 0, sizeof *g);
    assert_int_equal(bv_store_claim_outbox(st, scope, id, kind, 60000, ob, claim_cb, g), 0);
    run_until(base, &g->calls);
    assert_int_equal(g->calls, 1);
    assert_int_equal(g->err, 0);
}

/* The claim's outbox entry (store.h bv_claim_outbox): a fresh win writes the entry and its lease
 * in the same step as the claim; a win repeated by its claimant, a lost claim and a claim
 * without an entry write none. */
static void test_claim_outbox_entry(void **state)
{
    (void)state;
    char url[400];
    snprintf(url, sizeof url, "unix:%s", srv.sock);
    struct event_base *base = event_base_new();
    bv_store *p1 = open_store(base, url, 5000, 0);
    bv_store *p2 = open_store(base, url, 5000, 0);
    redisContext *c = redisConnectUnix(srv.sock);
    assert_non_null(c);
    const char *scope = "drill/e/ob/r1";
    const char *stream = "bv:{drill/e/ob/r1}:outbox";
    static const char fire[] = "{\"id\":\"A\",\"state\":\"firing\",\n \"title\":\"Dr\xc3\xa4ngen "
                               "bij \\\"de brug\\\"\\n\",\"posts\":[1,2]}";
    static const char resolved[] = "{\"id\":\"A\",\"state\":\"resolved\"}";
    bv_claim_outbox ob1 = {
        .key = "A/firing",
        .alert = fire,
        .alert_len = sizeof fire - 1,
        .targets = "ops-slack\noc-sms\n",
        .at_ms = T0,
        .deadline_ms = T0 + 600000,
        .retention_ms = 3600000,
        .owner = "proc-1",
        .lease_ms = 5000,
    };
    got g;
    /* a fresh win: one entry, and the lease held by the owner named */
    claim_wait(base, p1, scope, "A", BV_CLAIM_FIRE, &ob1, &g);
    assert_int_equal(g.won, 1);
    assert_int_equal(redis_int(c, "XLEN %s", stream), 1);
    tu_redis_expect_entry(c, stream, 0, "A/firing", T0, T0 + 600000, "ops-slack\noc-sms\n", fire,
                          sizeof fire - 1);
    expect_str(c, "bv:{drill/e/ob/r1}:lease:A/firing", "proc-1");
    long long ttl = redis_int(c, "PTTL %s", "bv:{drill/e/ob/r1}:lease:A/firing");
    assert_true(ttl > 0 && ttl <= 5000);
    ttl = redis_int(c, "PTTL %s", stream);
    assert_true(ttl > 3600000 - 60000 && ttl <= 3600000);
    /* the winner asking again wins again, and writes no second entry */
    claim_wait(base, p1, scope, "A", BV_CLAIM_FIRE, &ob1, &g);
    assert_int_equal(g.won, 1);
    assert_int_equal(redis_int(c, "XLEN %s", stream), 1);
    /* another process loses: nothing of its own is written */
    bv_claim_outbox ob2 = ob1;
    ob2.key = "B/firing";
    ob2.owner = "proc-2";
    claim_wait(base, p2, scope, "B", BV_CLAIM_FIRE, &ob2, &g);
    assert_int_equal(g.won, 0);
    assert_string_equal(g.winner, "A");
    assert_int_equal(redis_int(c, "XLEN %s", stream), 1);
    assert_int_equal(redis_int(c, "EXISTS %s", "bv:{drill/e/ob/r1}:lease:B/firing"), 0);
    expect_str(c, "bv:{drill/e/ob/r1}:lease:A/firing", "proc-1");
    /* the resolution, won by the process that adopted the episode: its own entry and lease */
    bv_claim_outbox ob3 = {
        .key = "A/resolved",
        .alert = resolved,
        .alert_len = sizeof resolved - 1,
        .targets = "ops-slack\n",
        .at_ms = T0 + MIN,
        .deadline_ms = T0 + 11 * MIN,
        .retention_ms = 3600000,
        .owner = "proc-2",
        .lease_ms = 5000,
    };
    claim_wait(base, p2, scope, "A", BV_CLAIM_RESOLVE, &ob3, &g);
    assert_int_equal(g.won, 1);
    assert_int_equal(redis_int(c, "XLEN %s", stream), 2);
    tu_redis_expect_entry(c, stream, 0, "A/firing", T0, T0 + 600000, "ops-slack\noc-sms\n", fire,
                          sizeof fire - 1);
    tu_redis_expect_entry(c, stream, 1, "A/resolved", T0 + MIN, T0 + 11 * MIN, "ops-slack\n",
                          resolved, sizeof resolved - 1);
    expect_str(c, "bv:{drill/e/ob/r1}:lease:A/resolved", "proc-2");
    /* repeated by its winner: won, nothing written; lost by the other: nothing written */
    claim_wait(base, p2, scope, "A", BV_CLAIM_RESOLVE, &ob3, &g);
    assert_int_equal(g.won, 1);
    bv_claim_outbox ob4 = ob3;
    ob4.owner = "proc-1";
    claim_wait(base, p1, scope, "A", BV_CLAIM_RESOLVE, &ob4, &g);
    assert_int_equal(g.won, 0);
    assert_int_equal(redis_int(c, "XLEN %s", stream), 2);
    expect_str(c, "bv:{drill/e/ob/r1}:lease:A/resolved", "proc-2");
    /* the next episode: a fresh win again */
    bv_claim_outbox ob5 = ob1;
    ob5.key = "N/firing";
    claim_wait(base, p1, scope, "N", BV_CLAIM_FIRE, &ob5, &g);
    assert_int_equal(g.won, 1);
    assert_int_equal(redis_int(c, "XLEN %s", stream), 3);
    tu_redis_expect_entry(c, stream, 2, "N/firing", T0, T0 + 600000, "ops-slack\noc-sms\n", fire,
                          sizeof fire - 1);
    expect_str(c, "bv:{drill/e/ob/r1}:lease:N/firing", "proc-1");
    /* Redis forgot the scripts: the claim is sent again after loading them, entry and all */
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    freeReplyObject(r);
    ob5.key = "F/firing";
    claim_wait(base, p2, "drill/e/ob/r3", "F", BV_CLAIM_FIRE, &ob5, &g);
    assert_int_equal(g.won, 1);
    assert_int_equal(redis_int(c, "XLEN %s", "bv:{drill/e/ob/r3}:outbox"), 1);
    expect_str(c, "bv:{drill/e/ob/r3}:lease:F/firing", "proc-1");
    /* a claim without an entry writes no stream and no lease */
    memset(&g, 0, sizeof g);
    bv_store_claim(p1, "drill/e/ob/r2", "P", BV_CLAIM_FIRE, 60000, claim_cb, &g);
    run_until(base, &g.calls);
    assert_int_equal(g.won, 1);
    memset(&g, 0, sizeof g);
    bv_store_claim(p1, "drill/e/ob/r2", "P", BV_CLAIM_RESOLVE, 60000, claim_cb, &g);
    run_until(base, &g.calls);
    assert_int_equal(g.won, 1);
    assert_int_equal(redis_int(c, "EXISTS %s", "bv:{drill/e/ob/r2}:outbox"), 0);
    r = redisCommand(c, "KEYS %s", "bv:{drill/e/ob/r2}:lease:*");
    assert_non_null(r);
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    redisFree(c);
    bv_store_free(p1);
    bv_store_free(p2);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_keys),
        cmocka_unit_test(test_two_stores_one_picture),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_redis_away),
        cmocka_unit_test(test_silent_server),
        cmocka_unit_test(test_outage_longer_than_window),
        cmocka_unit_test(test_hold_then_decide_late),
        cmocka_unit_test(test_claim_outbox_entry),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
