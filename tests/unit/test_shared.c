/* test_shared.c: what the processes of an event share in Redis (lib/alert/shared.h), against a
 * real redis-server (one for the file on a unix socket; the outage tests start their own): an
 * entry put with its lease, outcomes marked, a lease released only by its holder and renewed
 * past its time, another process's scan that takes an entry over once its holder stopped (once,
 * with the outcomes so far), settled entries left alone, a restarted owner taking its leases back
 * at once, listing, the claim's entry (store_redis) found by a scan, acks through the control
 * list, the audit list and its trim, writes queued while Redis is stopped, the reconnect after a
 * second outage, reads answered at teardown, and the stats.
 * Leases of 200 ms and scans every 50 ms; every wait runs the loop until a condition holds, with a
 * deadline in loop time. */
#include "testutil.h"

#include "redisutil.h"
#include "storeutil.h"

#include "alert/audit.h"
#include "alert/control.h"
#include "alert/shared.h"
#include "core/buf.h"
#include "core/err.h"
#include "engine/store_redis.h"
#include "net/redis_url.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>

#define T0 1781287200000LL /* 2026-06-12T18:00:00Z */
#define LEASE 200
#define SCAN 50
#define RETENTION 3600000

/* The file's redis-server, and the two the outage test starts and stops (stopped by the group
 * teardown too when a test fails half way). */
static tu_redis srv, out1, out2, out3;

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as blikveld's main: a write to a server that died is an error */
    return tu_redis_start(&srv, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_redis_stop(&srv);
    tu_redis_stop(&out1);
    tu_redis_stop(&out2);
    tu_redis_stop(&out3);
    return 0;
}

/* ---- the loop ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

typedef int cond_fn(void *arg);

/* Runs the loop until cond holds or ms of loop time have gone by; a 5 ms timer keeps it turning,
 * so conditions on Redis itself (asked by the test) are checked too. cond's last answer (0
 * without a cond: then it runs the loop for ms). */
static int run_until(struct event_base *base, cond_fn *cond, void *arg, long ms)
{
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    assert_non_null(tick);
    struct timeval tv = {0, 5000};
    event_add(tick, &tv);
    long deadline = tu_redis_now_ms() + ms;
    int ok = cond ? cond(arg) : 0;
    while (!ok && tu_redis_now_ms() < deadline) {
        event_base_loop(base, EVLOOP_ONCE);
        ok = cond ? cond(arg) : 0;
    }
    event_free(tick);
    return ok;
}

static void run_for(struct event_base *base, long ms)
{
    run_until(base, NULL, NULL, ms);
}

static int is_ready(void *arg)
{
    return bv_shared_ready(arg);
}

/* Connected, and every write answered. */
static int is_idle(void *arg)
{
    return bv_shared_ready(arg) && bv_shared_pending(arg) == 0;
}

static int is_down(void *arg)
{
    bv_shared_stats st;
    bv_shared_stats_get(arg, &st);
    return strcmp(st.state, "connected") != 0;
}

static void wait_idle(struct event_base *base, bv_shared *r)
{
    assert_true(run_until(base, is_idle, r, 3000));
}

typedef struct scans_wait {
    bv_shared *r;
    uint64_t n;
} scans_wait;

static int scans_reached(void *arg)
{
    scans_wait *w = arg;
    bv_shared_stats st;
    bv_shared_stats_get(w->r, &st);
    return st.scans_done >= w->n;
}

/* Runs the loop until r has done n more scans (every answer in). */
static void wait_scans(struct event_base *base, bv_shared *r, uint64_t n)
{
    bv_shared_stats st;
    bv_shared_stats_get(r, &st);
    scans_wait w = {r, st.scans_done + n};
    assert_true(run_until(base, scans_reached, &w, 3000));
}

/* ---- what found was given ---- */

#define MAXF 8
#define MAXT 4

typedef struct found_rec {
    char rule[32], key[64];
    char alert[512];
    size_t alert_len;
    int64_t at, deadline;
    size_t ntargets;
    char targets[MAXT][32];
    char outcomes[MAXT][128];
    int has_outcome[MAXT];
} found_rec;

typedef struct finds {
    size_t n;
    found_rec e[MAXF];
} finds;

static void on_found(void *arg, const bv_outbox_found *f)
{
    finds *fs = arg;
    if (fs->n < MAXF) {
        found_rec *e = &fs->e[fs->n];
        snprintf(e->rule, sizeof e->rule, "%s", f->rule);
        snprintf(e->key, sizeof e->key, "%s", f->key);
        e->alert_len = f->alert_len < sizeof e->alert ? f->alert_len : sizeof e->alert - 1;
        memcpy(e->alert, f->alert, e->alert_len);
        e->at = f->at_ms;
        e->deadline = f->deadline_ms;
        e->ntargets = f->ntargets;
        for (size_t i = 0; i < f->ntargets && i < MAXT; i++) {
            snprintf(e->targets[i], sizeof e->targets[i], "%s", f->targets[i]);
            e->has_outcome[i] = f->outcomes[i] != NULL;
            snprintf(e->outcomes[i], sizeof e->outcomes[i], "%s",
                     f->outcomes[i] ? f->outcomes[i] : "");
        }
    }
    fs->n++;
}

static int found_any(void *arg)
{
    return ((finds *)arg)->n > 0;
}

static const found_rec *find_key(const finds *fs, const char *key)
{
    for (size_t i = 0; i < fs->n && i < MAXF; i++) {
        if (strcmp(fs->e[i].key, key) == 0) {
            return &fs->e[i];
        }
    }
    return NULL;
}

/* ---- Redis as the test sees it ---- */

static redisContext *rconn(const char *sock)
{
    redisContext *c = redisConnectUnix(sock);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
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

/* GET key is want (NULL: the key is not there). */
static void expect_get(redisContext *c, const char *key, const char *want)
{
    redisReply *r = redisCommand(c, "GET %s", key);
    assert_non_null(r);
    if (want == NULL) {
        assert_int_equal(r->type, REDIS_REPLY_NIL);
    } else {
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, want);
    }
    freeReplyObject(r);
}

static void expect_hget(redisContext *c, const char *key, const char *field, const char *want)
{
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    assert_non_null(r);
    if (want == NULL) {
        assert_int_equal(r->type, REDIS_REPLY_NIL);
    } else {
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, want);
    }
    freeReplyObject(r);
}

typedef struct key_wait {
    redisContext *c;
    const char *key;
} key_wait;

static int key_gone(void *arg)
{
    key_wait *w = arg;
    return redis_int(w->c, "EXISTS %s", w->key) == 0;
}

/* ---- opening one ---- */

static const char *const RULES[] = {"r1", "r2"};

/* A bv_shared on sock with o's settings (lease, scan and retention small unless given; rules r1
 * and r2 unless given); found goes to f. */
static bv_shared *open_shared(struct event_base *base, const char *sock, bv_shared_opts o, finds *f)
{
    char url[400];
    snprintf(url, sizeof url, "unix:%s", sock);
    bv_redis_addr addr;
    char err[256];
    assert_int_equal(bv_redis_url_parse(url, strlen(url), &addr, err, sizeof err), 0);
    o.addr = &addr;
    if (o.rules == NULL) {
        o.rules = RULES;
        o.nrules = 2;
    }
    o.lease_ms = o.lease_ms ? o.lease_ms : LEASE;
    o.scan_ms = o.scan_ms ? o.scan_ms : SCAN;
    o.retention_ms = o.retention_ms ? o.retention_ms : RETENTION;
    bv_shared *r = bv_shared_new(base, &o, on_found, f, err, sizeof err);
    bv_redis_addr_free(&addr);
    assert_non_null(r);
    return r;
}

static const char ALERT[] = "{\"id\":\"a1\",\"state\":\"firing\",\n \"title\":\"Dr\xc3\xa4ngen bij "
                            "\\\"de brug\\\"\\n\",\"posts\":[1,2]}";
static const char *const TARGETS[] = {"ops-slack", "oc-sms"};

static void put(bv_shared *r, const char *rule, const char *key)
{
    assert_int_equal(
        bv_shared_put(r, rule, key, ALERT, sizeof ALERT - 1, T0, T0 + 600000, TARGETS, 2), BV_OK);
}

/* ---- the tests ---- */

/* put writes the entry and its lease (queued until Redis answers); mark writes the outcomes. */
static void test_put_and_mark(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0};
    bv_shared *a = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/put", .owner = "A"}, &fa);
    assert_false(bv_shared_ready(a)); /* connects on the loop */
    put(a, "r1", "a1/firing");
    assert_true(bv_shared_pending(a) >= 1);
    wait_idle(base, a);
    redisContext *c = rconn(srv.sock);
    assert_int_equal(redis_int(c, "XLEN %s", "bv:{t/put/r1}:outbox"), 1);
    tu_redis_expect_entry(c, "bv:{t/put/r1}:outbox", 0, "a1/firing", T0, T0 + 600000,
                          "ops-slack\noc-sms\n", ALERT, sizeof ALERT - 1);
    long long ttl = redis_int(c, "PTTL %s", "bv:{t/put/r1}:outbox");
    assert_true(ttl > RETENTION - 60000 && ttl <= RETENTION);
    expect_get(c, "bv:{t/put/r1}:lease:a1/firing", "A");
    ttl = redis_int(c, "PTTL %s", "bv:{t/put/r1}:lease:a1/firing");
    assert_true(ttl > 0 && ttl <= LEASE);
    /* the outcomes */
    bv_shared_mark(a, "r1", "a1/firing", "ops-slack", 0, 1, T0 + 1500, NULL);
    bv_shared_mark(a, "r1", "a1/firing", "oc-sms", 1, 3, T0 + 9000, "HTTP 503: busy");
    wait_idle(base, a);
    expect_hget(c, "bv:{t/put/r1}:outdone", "a1/firing ops-slack", "delivered 1 1781287201500");
    expect_hget(c, "bv:{t/put/r1}:outdone", "a1/firing oc-sms",
                "failed 3 1781287209000 HTTP 503: busy");
    ttl = redis_int(c, "PTTL %s", "bv:{t/put/r1}:outdone");
    assert_true(ttl > RETENTION - 60000 && ttl <= RETENTION);
    /* r2's keys were not touched */
    assert_int_equal(redis_int(c, "EXISTS %s", "bv:{t/put/r2}:outbox"), 0);
    bv_shared_stats st;
    bv_shared_stats_get(a, &st);
    assert_string_equal(st.state, "connected");
    assert_true(st.writes >= 3);
    assert_true(st.queued >= 3);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.held, 1);
    assert_int_equal(fa.n, 0); /* its own entry is not "found" */
    redisFree(c);
    bv_shared_free(a);
    event_base_free(base);
}

/* release lets the lease go only when this owner holds it; the entry stays. */
static void test_release_only_by_holder(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0}, fb = {0};
    bv_shared *a = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/rel", .owner = "A"}, &fa);
    bv_shared *b = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/rel", .owner = "B"}, &fb);
    put(a, "r1", "k/firing");
    wait_idle(base, a);
    wait_idle(base, b);
    redisContext *c = rconn(srv.sock);
    const char *lease = "bv:{t/rel/r1}:lease:k/firing";
    expect_get(c, lease, "A");
    bv_shared_release(b, "r1", "k/firing"); /* not B's */
    wait_idle(base, b);
    expect_get(c, lease, "A");
    /* every target settled: the holder lets it go */
    bv_shared_mark(a, "r1", "k/firing", "ops-slack", 0, 1, T0 + 1, NULL);
    bv_shared_mark(a, "r1", "k/firing", "oc-sms", 0, 1, T0 + 2, NULL);
    bv_shared_release(a, "r1", "k/firing");
    wait_idle(base, a);
    expect_get(c, lease, NULL);
    assert_int_equal(redis_int(c, "XLEN %s", "bv:{t/rel/r1}:outbox"), 1);
    bv_shared_stats st;
    bv_shared_stats_get(a, &st);
    assert_int_equal(st.held, 0);
    /* and it is not renewed back into being */
    key_wait w = {c, lease};
    run_for(base, 3 * LEASE);
    assert_true(key_gone(&w));
    assert_int_equal(fb.n, 0); /* held, then settled: B never takes it */
    redisFree(c);
    bv_shared_free(a);
    bv_shared_free(b);
    event_base_free(base);
}

typedef struct lease_watch {
    redisContext *c;
    const char *keys[2];
} lease_watch;

static int lease_missing(void *arg)
{
    lease_watch *w = arg;
    for (size_t i = 0; i < 2; i++) {
        if (redis_int(w->c, "EXISTS %s", w->keys[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* hold (and put) keep the lease alive by renewing it, long past its time. */
static void test_hold_renews(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0};
    bv_shared *a =
        open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/renew", .owner = "A"}, &fa);
    assert_true(run_until(base, is_ready, a, 3000));
    redisContext *c = rconn(srv.sock);
    /* a lease as a claim takes it, then held */
    redisReply *r =
        redisCommand(c, "SET %s %s PX %d", "bv:{t/renew/r1}:lease:c1/firing", "A", LEASE);
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(bv_shared_hold(a, "r1", "c1/firing"), BV_OK);
    assert_int_equal(bv_shared_hold(a, "r1", "c1/firing"), BV_OK); /* once */
    put(a, "r2", "p1/firing");
    wait_idle(base, a);
    lease_watch w = {c, {"bv:{t/renew/r1}:lease:c1/firing", "bv:{t/renew/r2}:lease:p1/firing"}};
    assert_false(run_until(base, lease_missing, &w, 3 * LEASE)); /* never gone */
    for (size_t i = 0; i < 2; i++) {
        expect_get(c, w.keys[i], "A");
        long long ttl = redis_int(c, "PTTL %s", w.keys[i]);
        assert_true(ttl > 0 && ttl <= LEASE);
    }
    bv_shared_stats st;
    bv_shared_stats_get(a, &st);
    assert_int_equal(st.held, 2);
    assert_int_equal(st.errors, 0);
    redisFree(c);
    bv_shared_free(a);
    event_base_free(base);
}

/* Another process's scan finds nothing while the holder renews; once the holder stops and the
 * lease expires, it takes the entry over, once, with the outcomes so far; and it renews it. */
static void test_takeover_after_holder_stops(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0}, fb = {0};
    bv_shared *a = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/take", .owner = "A"}, &fa);
    put(a, "r1", "x1/firing");
    bv_shared_mark(a, "r1", "x1/firing", "ops-slack", 0, 2, T0 + 700, NULL);
    wait_idle(base, a);
    bv_shared *b = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/take", .owner = "B"}, &fb);
    assert_true(run_until(base, is_ready, b, 3000));
    wait_scans(base, b, 6); /* 300 ms: more than a lease */
    assert_int_equal(fb.n, 0);
    bv_shared_stats st;
    bv_shared_stats_get(b, &st);
    assert_int_equal(st.other_pending, 1);
    assert_int_equal(st.found, 0);
    assert_int_equal(st.held, 0);
    assert_true(st.scans >= st.scans_done);
    /* A stops renewing */
    bv_shared_free(a);
    redisContext *c = rconn(srv.sock);
    const char *lease = "bv:{t/take/r1}:lease:x1/firing";
    long t_free = tu_redis_now_ms();
    assert_true(run_until(base, found_any, &fb, 3000));
    long took = tu_redis_now_ms() - t_free;
    assert_true(took >= LEASE / 2); /* not before the lease had (nearly) run out */
    assert_int_equal(fb.n, 1);
    const found_rec *e = &fb.e[0];
    assert_string_equal(e->rule, "r1");
    assert_string_equal(e->key, "x1/firing");
    assert_int_equal(e->alert_len, sizeof ALERT - 1);
    assert_memory_equal(e->alert, ALERT, e->alert_len);
    assert_int_equal(e->at, T0);
    assert_int_equal(e->deadline, T0 + 600000);
    assert_int_equal(e->ntargets, 2);
    assert_string_equal(e->targets[0], "ops-slack");
    assert_string_equal(e->targets[1], "oc-sms");
    assert_true(e->has_outcome[0]);
    assert_string_equal(e->outcomes[0], "delivered 2 1781287200700");
    assert_false(e->has_outcome[1]); /* pending */
    expect_get(c, lease, "B");
    /* B holds it now: found once only, and renewed past its time */
    wait_scans(base, b, 8);
    assert_int_equal(fb.n, 1);
    expect_get(c, lease, "B");
    bv_shared_stats_get(b, &st);
    assert_int_equal(st.found, 1);
    assert_int_equal(st.held, 1);
    assert_int_equal(st.other_pending, 0);
    redisFree(c);
    bv_shared_free(b);
    event_base_free(base);
}

/* A rule added by a reload (bv_shared_watch): its outbox is looked through from then on, so an
 * entry of it whose holder stopped is taken over; watching a rule twice scans it once. */
static void test_watch_added_rule(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0}, fb = {0};
    bv_shared *a =
        open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/watch", .owner = "A"}, &fa);
    put(a, "r3", "x3/firing");
    wait_idle(base, a);
    bv_shared_free(a); /* its lease runs out */
    bv_shared *b =
        open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/watch", .owner = "B"}, &fb);
    assert_true(run_until(base, is_ready, b, 3000));
    wait_scans(base, b, 8); /* 400 ms: the lease is gone, but r3 is not B's rule */
    assert_int_equal(fb.n, 0);
    bv_shared_stats st;
    bv_shared_stats_get(b, &st);
    assert_int_equal(st.other_pending, 0);
    assert_int_equal(bv_shared_watch(b, "r3"), BV_OK);
    assert_int_equal(bv_shared_watch(b, "r3"), BV_OK);
    assert_int_equal(bv_shared_watch(b, "r1"), BV_OK);
    assert_true(run_until(base, found_any, &fb, 3000));
    wait_scans(base, b, 4);
    assert_int_equal(fb.n, 1); /* once, though watched twice */
    assert_string_equal(fb.e[0].rule, "r3");
    assert_string_equal(fb.e[0].key, "x3/firing");
    redisContext *c = rconn(srv.sock);
    expect_get(c, "bv:{t/watch/r3}:lease:x3/firing", "B");
    redisFree(c);
    bv_shared_free(b);
    event_base_free(base);
}

/* An entry whose targets are all settled (delivered or failed) is left alone; so is one with no
 * targets. */
static void test_settled_not_found(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0}, fb = {0};
    bv_shared *a = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/done", .owner = "A"}, &fa);
    put(a, "r1", "s1/firing");
    bv_shared_mark(a, "r1", "s1/firing", "ops-slack", 0, 1, T0 + 100, NULL);
    bv_shared_mark(a, "r1", "s1/firing", "oc-sms", 1, 5, T0 + 200, "gave up");
    assert_int_equal(
        bv_shared_put(a, "r2", "s2/firing", ALERT, sizeof ALERT - 1, T0, T0 + 1, NULL, 0), BV_OK);
    wait_idle(base, a);
    bv_shared_free(a); /* its leases run out */
    redisContext *c = rconn(srv.sock);
    key_wait w1 = {c, "bv:{t/done/r1}:lease:s1/firing"};
    key_wait w2 = {c, "bv:{t/done/r2}:lease:s2/firing"};
    assert_true(run_until(base, key_gone, &w1, 3000));
    assert_true(run_until(base, key_gone, &w2, 3000));
    bv_shared *b = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/done", .owner = "B"}, &fb);
    assert_true(run_until(base, is_ready, b, 3000));
    wait_scans(base, b, 4);
    assert_int_equal(fb.n, 0);
    bv_shared_stats st;
    bv_shared_stats_get(b, &st);
    assert_int_equal(st.found, 0);
    assert_int_equal(st.other_pending, 0);
    assert_int_equal(st.held, 0);
    assert_true(key_gone(&w1));
    assert_true(key_gone(&w2));
    redisFree(c);
    bv_shared_free(b);
    event_base_free(base);
}

/* A process restarted under the same owner takes its own lease back at once, without waiting
 * for it to run out; another owner still finds nothing. */
static void test_restart_same_owner(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0}, fb = {0}, fa2 = {0};
    bv_shared_opts oa = {.ns = "t/restart", .owner = "A", .lease_ms = 5000};
    bv_shared *a = open_shared(base, srv.sock, oa, &fa);
    put(a, "r2", "y1/firing");
    bv_shared_mark(a, "r2", "y1/firing", "oc-sms", 1, 4, T0 + 5000, "HTTP 500");
    wait_idle(base, a);
    bv_shared_free(a);
    bv_shared *b =
        open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/restart", .owner = "B"}, &fb);
    assert_true(run_until(base, is_ready, b, 3000));
    wait_scans(base, b, 2);
    assert_int_equal(fb.n, 0);
    bv_shared_stats st;
    bv_shared_stats_get(b, &st);
    assert_int_equal(st.other_pending, 1);
    bv_shared *a2 = open_shared(base, srv.sock, oa, &fa2);
    assert_true(run_until(base, found_any, &fa2, 2000));
    redisContext *c = rconn(srv.sock);
    const char *lease = "bv:{t/restart/r2}:lease:y1/firing";
    expect_get(c, lease, "A");
    assert_int_equal(fa2.n, 1);
    assert_string_equal(fa2.e[0].rule, "r2");
    assert_string_equal(fa2.e[0].key, "y1/firing");
    assert_false(fa2.e[0].has_outcome[0]);
    assert_true(fa2.e[0].has_outcome[1]);
    assert_string_equal(fa2.e[0].outcomes[1], "failed 4 1781287205000 HTTP 500");
    wait_scans(base, b, 2);
    wait_scans(base, a2, 2);
    assert_int_equal(fb.n, 0);
    assert_int_equal(fa2.n, 1);
    bv_shared_stats_get(a2, &st);
    assert_int_equal(st.found, 1);
    assert_int_equal(st.held, 1);
    redisFree(c);
    bv_shared_free(a2);
    bv_shared_free(b);
    event_base_free(base);
}

/* list_only: every entry, settled ones too, is reported; no lease is taken, nothing written. */
static void test_list_only(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0}, fh = {0}, fl = {0};
    /* H scans only when it connects, before l1's lease runs out: it does not take l1 */
    bv_shared *h = open_shared(
        base, srv.sock, (bv_shared_opts){.ns = "t/list", .owner = "H", .scan_ms = 60000}, &fh);
    assert_true(run_until(base, is_ready, h, 3000));
    wait_scans(base, h, 1);
    bv_shared *a = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/list", .owner = "A"}, &fa);
    put(a, "r1", "l1/firing"); /* pending, its lease runs out */
    put(a, "r1", "l2/firing"); /* settled */
    bv_shared_mark(a, "r1", "l2/firing", "ops-slack", 0, 1, T0 + 1, NULL);
    bv_shared_mark(a, "r1", "l2/firing", "oc-sms", 0, 1, T0 + 2, NULL);
    wait_idle(base, a);
    bv_shared_free(a);
    put(h, "r2", "l3/firing"); /* pending, held */
    wait_idle(base, h);
    redisContext *c = rconn(srv.sock);
    key_wait w = {c, "bv:{t/list/r1}:lease:l1/firing"};
    assert_true(run_until(base, key_gone, &w, 3000));
    bv_shared *l = open_shared(
        base, srv.sock,
        (bv_shared_opts){.ns = "t/list", .owner = "L", .list_only = 1, .scan_ms = 60000}, &fl);
    assert_true(run_until(base, is_ready, l, 3000));
    wait_scans(base, l, 1);
    assert_int_equal(fl.n, 3);
    const found_rec *e1 = find_key(&fl, "l1/firing");
    const found_rec *e2 = find_key(&fl, "l2/firing");
    const found_rec *e3 = find_key(&fl, "l3/firing");
    assert_non_null(e1);
    assert_non_null(e2);
    assert_non_null(e3);
    assert_string_equal(e1->rule, "r1");
    assert_string_equal(e3->rule, "r2");
    assert_false(e1->has_outcome[0] || e1->has_outcome[1]);
    assert_true(e2->has_outcome[0] && e2->has_outcome[1]);
    assert_string_equal(e2->outcomes[1], "delivered 1 1781287200002");
    assert_int_equal(e3->alert_len, sizeof ALERT - 1);
    /* nothing taken, nothing written */
    run_for(base, 2 * LEASE);
    assert_true(key_gone(&w));
    expect_get(c, "bv:{t/list/r2}:lease:l3/firing", "H");
    bv_shared_stats st;
    bv_shared_stats_get(l, &st);
    assert_int_equal(st.writes, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.held, 0);
    assert_int_equal(fh.n, 0);
    redisFree(c);
    bv_shared_free(l);
    bv_shared_free(h);
    event_base_free(base);
}

/* The entry the claim to fire wrote (store_redis, store.h bv_claim_outbox) is what a scan reads:
 * another process takes it over once the claimant's lease runs out. */
static void test_claim_entry_found_by_scan(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    char url[400];
    snprintf(url, sizeof url, "unix:%s", srv.sock);
    bv_redis_addr addr;
    char err[256];
    assert_int_equal(bv_redis_url_parse(url, strlen(url), &addr, err, sizeof err), 0);
    bv_store_redis_opts so = {.addr = &addr, .flush_ms = 20, .timeout_ms = 5000};
    bv_store *st = bv_store_redis_new(base, &so, err, sizeof err);
    bv_redis_addr_free(&addr);
    assert_non_null(st);
    finds fb = {0};
    bv_shared *b =
        open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/claim", .owner = "B"}, &fb);
    bv_claim_outbox ob = {
        .key = "E/firing",
        .alert = ALERT,
        .alert_len = sizeof ALERT - 1,
        .targets = "ops-slack\noc-sms\n",
        .at_ms = T0 + 42,
        .deadline_ms = T0 + 900000,
        .retention_ms = RETENTION,
        .owner = "P",
        .lease_ms = 2 * LEASE, /* the first scan comes well before it runs out */
    };
    got g = {0};
    assert_int_equal(
        bv_store_claim_outbox(st, "t/claim/r2", "E", BV_CLAIM_FIRE, 60000, &ob, claim_cb, &g), 0);
    for (int i = 0; i < 100000 && g.calls == 0; i++) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.won, 1);
    assert_true(run_until(base, is_ready, b, 3000));
    wait_scans(base, b, 2); /* the second began after the claim was answered */
    bv_shared_stats ss;
    bv_shared_stats_get(b, &ss);
    assert_int_equal(fb.n, 0); /* P holds it (nobody renews it: it runs out) */
    assert_int_equal(ss.other_pending, 1);
    assert_true(run_until(base, found_any, &fb, 3000));
    assert_int_equal(fb.n, 1);
    assert_string_equal(fb.e[0].rule, "r2");
    assert_string_equal(fb.e[0].key, "E/firing");
    assert_int_equal(fb.e[0].alert_len, sizeof ALERT - 1);
    assert_memory_equal(fb.e[0].alert, ALERT, sizeof ALERT - 1);
    assert_int_equal(fb.e[0].at, T0 + 42);
    assert_int_equal(fb.e[0].deadline, T0 + 900000);
    assert_int_equal(fb.e[0].ntargets, 2);
    assert_string_equal(fb.e[0].targets[1], "oc-sms");
    assert_false(fb.e[0].has_outcome[0] || fb.e[0].has_outcome[1]);
    redisContext *c = rconn(srv.sock);
    expect_get(c, "bv:{t/claim/r2}:lease:E/firing", "B");
    redisFree(c);
    bv_shared_free(b);
    bv_store_free(st);
    event_base_free(base);
}

typedef struct acks {
    int n;
    char id[64], by[64];
} acks;

static void on_ack(void *arg, const char *id, const char *by, int64_t at_ms)
{
    (void)at_ms;
    acks *a = arg;
    a->n++;
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->by, sizeof a->by, "%s", by);
}

static int acked(void *arg)
{
    return bv_control_acked(arg, "alert-1") != NULL;
}

typedef struct text {
    int calls;
    int null;
    char buf[4096];
    size_t len;
} text;

static void on_text(void *arg, char *t, size_t len)
{
    text *x = arg;
    x->calls++;
    x->null = t == NULL;
    x->len = len < sizeof x->buf ? len : sizeof x->buf - 1;
    if (t) {
        memcpy(x->buf, t, x->len);
    }
    x->buf[x->len] = '\0';
}

static int text_in(void *arg)
{
    return ((text *)arg)->calls > 0;
}

static void read_list(struct event_base *base, bv_shared *r, const char *list, text *x)
{
    memset(x, 0, sizeof *x);
    assert_int_equal(bv_shared_read(r, list, on_text, x), BV_OK);
    assert_true(run_until(base, text_in, x, 3000));
    assert_int_equal(x->calls, 1);
    assert_false(x->null);
}

/* An ack appended (as `blikveld ack` does) reaches the control of a running process through its
 * poll within about a second; so does a silence. */
static void test_control_ack(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    char dir[] = "/tmp/bv-shctl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    acks ak = {0};
    bv_control *ctl = bv_control_open(dir, "ev-ctl", on_ack, &ak);
    assert_non_null(ctl);
    finds fr = {0}, fw = {0};
    bv_shared *run = open_shared(
        base, srv.sock,
        (bv_shared_opts){.ns = "t/ctl", .owner = "A", .event = "ev-ctl", .control = ctl}, &fr);
    bv_shared *cli = open_shared(
        base, srv.sock, (bv_shared_opts){.ns = "t/ctl", .owner = "cli", .event = "ev-ctl"}, &fw);
    assert_true(run_until(base, is_ready, run, 3000));
    assert_true(run_until(base, is_ready, cli, 3000));
    bv_buf b = BV_BUF_INIT;
    bv_control_format_ack("alert-1", "oc", T0, &b);
    bv_control_format_silence("r1", T0 + 3600000, "oc", "drill", T0, &b);
    const char *nl = memchr(b.p, '\n', b.len);
    assert_non_null(nl);
    size_t first = (size_t)(nl - b.p) + 1;
    assert_int_equal(bv_shared_control_append(cli, b.p, first), BV_OK);
    assert_int_equal(bv_shared_control_append(cli, b.p + first, b.len - first), BV_OK);
    long t0 = tu_redis_now_ms();
    assert_true(run_until(base, acked, ctl, 1500));
    assert_true(tu_redis_now_ms() - t0 <= 1500);
    assert_string_equal(bv_control_acked(ctl, "alert-1"), "oc");
    assert_int_equal(ak.n, 1);
    assert_string_equal(ak.id, "alert-1");
    const bv_silence *s = bv_control_silenced(ctl, "r1", T0 + 1000);
    assert_non_null(s);
    assert_int_equal(s->until_ms, T0 + 3600000);
    /* the list holds the records as lines; read back as such */
    text x;
    read_list(base, cli, "control", &x);
    assert_int_equal(x.len, b.len);
    assert_memory_equal(x.buf, b.p, b.len);
    /* polled again (once a second): each record goes to the control once */
    run_for(base, 1050);
    assert_int_equal(ak.n, 1);
    /* no event: no control list */
    finds fn = {0};
    bv_shared *none =
        open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/ctl", .owner = "n"}, &fn);
    assert_int_equal(bv_shared_control_append(none, b.p, first), BV_EINVAL);
    assert_int_equal(bv_shared_audit_append(none, b.p, first), BV_EINVAL);
    assert_int_equal(bv_shared_audit_trim(none, T0), BV_EINVAL);
    assert_int_equal(bv_shared_read(none, "audit", on_text, &x), BV_EAGAIN);
    bv_buf_free(&b);
    bv_shared_free(none);
    bv_shared_free(cli);
    bv_shared_free(run);
    bv_control_free(ctl);
    char path[128];
    snprintf(path, sizeof path, "%s/ev-ctl.jsonl", dir);
    unlink(path);
    rmdir(dir);
    event_base_free(base);
}

static void audit_line(bv_buf *b, int64_t at, const char *what)
{
    bv_audit_rec rec = {.at_ms = at, .event = "ev-audit", .what = what, .id = "a1", .rule = "r1"};
    assert_int_equal(bv_audit_format(&rec, b), BV_OK);
}

/* Audit records appended, read back as lines, and trimmed from the front by their time. */
static void test_audit_append_read_trim(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds f = {0};
    bv_shared *r = open_shared(
        base, srv.sock, (bv_shared_opts){.ns = "t/audit", .owner = "A", .event = "ev-audit"}, &f);
    text x;
    assert_int_equal(bv_shared_read(r, "audit", on_text, &x), BV_EAGAIN); /* not connected yet */
    bv_buf l0 = BV_BUF_INIT, l1 = BV_BUF_INIT, l2 = BV_BUF_INIT;
    audit_line(&l0, T0, "delivered");
    audit_line(&l1, T0 + 1000, "retry");
    audit_line(&l2, T0 + 2000, "failed");
    assert_int_equal(bv_shared_audit_append(r, l0.p, l0.len), BV_OK);
    assert_int_equal(bv_shared_audit_append(r, l1.p, l1.len), BV_OK);
    assert_int_equal(bv_shared_audit_append(r, l2.p, l2.len), BV_OK);
    wait_idle(base, r);
    bv_buf all = BV_BUF_INIT;
    bv_buf_append(&all, l0.p, l0.len);
    bv_buf_append(&all, l1.p, l1.len);
    bv_buf_append(&all, l2.p, l2.len);
    read_list(base, r, "audit", &x);
    assert_int_equal(x.len, all.len);
    assert_memory_equal(x.buf, all.p, all.len);
    redisContext *c = rconn(srv.sock);
    long long ttl = redis_int(c, "PTTL %s", "bv:{ctl/ev-audit}:audit");
    assert_true(ttl > 360LL * 86400000); /* the audit retention, 365 days by default */
    /* older than the cutoff goes; a record at the cutoff stays */
    assert_int_equal(bv_shared_audit_trim(r, T0 + 1000), BV_OK);
    wait_idle(base, r);
    read_list(base, r, "audit", &x);
    assert_int_equal(x.len, l1.len + l2.len);
    assert_memory_equal(x.buf, all.p + l0.len, l1.len + l2.len);
    assert_int_equal(bv_shared_audit_trim(r, T0 + 5000), BV_OK);
    wait_idle(base, r);
    read_list(base, r, "audit", &x);
    assert_int_equal(x.len, 0);
    /* the control list is another list */
    read_list(base, r, "control", &x);
    assert_int_equal(x.len, 0);
    bv_buf_free(&l0);
    bv_buf_free(&l1);
    bv_buf_free(&l2);
    bv_buf_free(&all);
    redisFree(c);
    bv_shared_free(r);
    event_base_free(base);
}

/* Writes made while redis-server is stopped wait in the queue (with at most one renewal per lease)
 * and reach the server started in its place, once each. The server is reached through a link
 * that the test points at the running one. */
static void test_writes_queued_while_stopped(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-shout-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[128];
    snprintf(link, sizeof link, "%s/r.sock", dir);
    assert_int_equal(tu_redis_start(&out1, NULL), 0);
    assert_int_equal(symlink(out1.sock, link), 0);
    struct event_base *base = event_base_new();
    finds f = {0};
    bv_shared *r = open_shared(
        base, link, (bv_shared_opts){.ns = "t/out", .owner = "A", .event = "ev-out"}, &f);
    put(r, "r1", "e0/firing");
    wait_idle(base, r);
    /* stopped, with a write handed over but not yet on its way */
    put(r, "r1", "e2/firing");
    tu_redis_stop(&out1);
    unlink(link);
    assert_true(run_until(base, is_down, r, 3000));
    put(r, "r1", "e1/firing");
    bv_shared_mark(r, "r1", "e1/firing", "ops-slack", 0, 1, T0 + 10, NULL);
    bv_buf l = BV_BUF_INIT;
    audit_line(&l, T0 + 10, "delivered");
    assert_int_equal(bv_shared_audit_append(r, l.p, l.len), BV_OK);
    bv_buf k = BV_BUF_INIT;
    bv_control_format_ack("e1", "oc", T0, &k);
    assert_int_equal(bv_shared_control_append(r, k.p, k.len), BV_OK);
    run_for(base, 2 * LEASE); /* renewals come due meanwhile */
    assert_true(bv_shared_pending(r) >= 5);
    assert_true(bv_shared_pending(r) <= 5 + 3); /* and a renewal per lease at most */
    bv_shared_stats st;
    bv_shared_stats_get(r, &st);
    assert_string_not_equal(st.state, "connected");
    /* started again */
    assert_int_equal(tu_redis_start(&out2, NULL), 0);
    assert_int_equal(symlink(out2.sock, link), 0);
    assert_true(run_until(base, is_idle, r, 8000));
    redisContext *c = rconn(out2.sock);
    assert_int_equal(redis_int(c, "XLEN %s", "bv:{t/out/r1}:outbox"), 2);
    tu_redis_expect_entry(c, "bv:{t/out/r1}:outbox", 0, "e2/firing", T0, T0 + 600000,
                          "ops-slack\noc-sms\n", ALERT, sizeof ALERT - 1);
    tu_redis_expect_entry(c, "bv:{t/out/r1}:outbox", 1, "e1/firing", T0, T0 + 600000,
                          "ops-slack\noc-sms\n", ALERT, sizeof ALERT - 1);
    expect_get(c, "bv:{t/out/r1}:lease:e1/firing", "A");
    expect_get(c, "bv:{t/out/r1}:lease:e2/firing", "A");
    expect_hget(c, "bv:{t/out/r1}:outdone", "e1/firing ops-slack", "delivered 1 1781287200010");
    redisReply *rep = redisCommand(c, "LRANGE %s 0 -1", "bv:{ctl/ev-out}:audit");
    assert_non_null(rep);
    assert_int_equal(rep->elements, 1);
    assert_int_equal(rep->element[0]->len, l.len - 1);
    assert_memory_equal(rep->element[0]->str, l.p, l.len - 1);
    freeReplyObject(rep);
    rep = redisCommand(c, "LRANGE %s 0 -1", "bv:{ctl/ev-out}:control");
    assert_non_null(rep);
    assert_int_equal(rep->elements, 1);
    assert_memory_equal(rep->element[0]->str, k.p, k.len - 1);
    freeReplyObject(rep);
    /* the lease held from before is renewed onto the new server */
    key_wait w = {c, "bv:{t/out/r1}:lease:e0/firing"};
    run_for(base, LEASE);
    assert_false(key_gone(&w));
    expect_get(c, "bv:{t/out/r1}:lease:e0/firing", "A");
    bv_shared_stats_get(r, &st);
    assert_string_equal(st.state, "connected");
    assert_int_equal(st.errors, 0);
    bv_buf_free(&l);
    bv_buf_free(&k);
    redisFree(c);
    bv_shared_free(r);
    event_base_free(base);
    tu_redis_stop(&out2);
    unlink(link);
    rmdir(dir);
}

/* After Redis came back once, the next outage is retried from the shortest wait again
 * (redis_conn.h: bv_redis_conn_healthy, as the window store does once answers come): a second,
 * short outage costs about 100 ms, not the backoff the first one built up. A read under way when
 * Redis goes is answered, with NULL. */
static void test_second_outage_reconnects_promptly(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-shout-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[128];
    snprintf(link, sizeof link, "%s/r.sock", dir);
    assert_int_equal(tu_redis_start(&out1, NULL), 0);
    assert_int_equal(symlink(out1.sock, link), 0);
    struct event_base *base = event_base_new();
    finds f = {0};
    bv_shared *r = open_shared(
        base, link, (bv_shared_opts){.ns = "t/again", .owner = "A", .event = "ev-again"}, &f);
    assert_true(run_until(base, is_ready, r, 3000));
    /* the first outage: the tries at 100 and 300 ms fail; the next waits 400 ms */
    tu_redis_stop(&out1);
    unlink(link);
    assert_true(run_until(base, is_down, r, 3000));
    run_for(base, 2 * LEASE);
    assert_int_equal(tu_redis_start(&out2, NULL), 0);
    assert_int_equal(symlink(out2.sock, link), 0);
    assert_true(run_until(base, is_ready, r, 5000));
    put(r, "r1", "g1/firing");
    wait_idle(base, r);
    /* the second: a read under way is answered with NULL; the server is back at once */
    text x = {0};
    assert_int_equal(bv_shared_read(r, "audit", on_text, &x), BV_OK);
    tu_redis_stop(&out2);
    unlink(link);
    assert_true(run_until(base, is_down, r, 3000));
    assert_true(run_until(base, text_in, &x, 1000));
    assert_int_equal(x.calls, 1);
    assert_true(x.null);
    assert_int_equal(tu_redis_start(&out3, NULL), 0);
    assert_int_equal(symlink(out3.sock, link), 0);
    long t = tu_redis_now_ms();
    assert_true(run_until(base, is_idle, r, 3000));
    long took = tu_redis_now_ms() - t;
    redisContext *c = rconn(out3.sock);
    expect_get(c, "bv:{t/again/r1}:lease:g1/firing", "A"); /* renewed onto the new server */
    redisFree(c);
    bv_shared_free(r);
    event_base_free(base);
    tu_redis_stop(&out3);
    unlink(link);
    rmdir(dir);
    if (took >= 500) {
        fail_msg("the second outage: ready %ld ms after the server was back", took);
    }
}

/* A read still under way when the shared goes is answered, once, with NULL (as every callback is
 * at teardown). */
static void test_read_answered_at_teardown(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds f = {0};
    bv_shared *r = open_shared(base, srv.sock,
                               (bv_shared_opts){.ns = "t/td", .owner = "A", .event = "ev-td"}, &f);
    assert_true(run_until(base, is_ready, r, 3000));
    text x = {0};
    assert_int_equal(bv_shared_read(r, "audit", on_text, &x), BV_OK);
    bv_shared_free(r);
    event_base_free(base);
    assert_int_equal(x.calls, 1);
    assert_true(x.null);
}

/* The episode state a claim key holds, as escalation asks for it. */
typedef struct ep_answer {
    int got, state;
    char id[64];
} ep_answer;

static void on_ep(void *arg, int state, const char *id)
{
    ep_answer *a = arg;
    a->got++;
    a->state = state;
    snprintf(a->id, sizeof a->id, "%s", id ? id : "");
}

static int ep_got(void *arg)
{
    return ((ep_answer *)arg)->got > 0;
}

static void test_episode_state(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    finds fa = {0};
    bv_shared *a = open_shared(base, srv.sock, (bv_shared_opts){.ns = "t/ep", .owner = "A"}, &fa);
    ep_answer none = {0};
    assert_int_equal(bv_shared_episode(a, "r1", on_ep, &none), BV_EAGAIN); /* not connected */
    assert_true(run_until(base, is_ready, a, 5000));
    redisContext *c = rconn(srv.sock);
    redisReply *rep = redisCommand(c, "SET %s %s", "bv:{t/ep/r1}:ep", "R:inst1:abc123");
    freeReplyObject(rep);
    rep = redisCommand(c, "SET %s %s", "bv:{t/ep/r2}:ep", "F:inst2:def456");
    freeReplyObject(rep);
    ep_answer r1 = {0}, r2 = {0}, r3 = {0};
    assert_int_equal(bv_shared_episode(a, "r1", on_ep, &r1), BV_OK);
    assert_int_equal(bv_shared_episode(a, "r2", on_ep, &r2), BV_OK);
    assert_int_equal(bv_shared_episode(a, "nope", on_ep, &r3), BV_OK);
    assert_true(run_until(base, ep_got, &r3, 5000));
    assert_true(run_until(base, ep_got, &r1, 5000));
    assert_true(run_until(base, ep_got, &r2, 5000));
    assert_int_equal(r1.state, 'R');
    assert_string_equal(r1.id, "abc123");
    assert_int_equal(r2.state, 'F');
    assert_string_equal(r2.id, "def456");
    assert_int_equal(r3.state, 0);
    assert_int_equal(r1.got + r2.got + r3.got, 3);
    /* asked while it goes: answered once, with -1 */
    ep_answer late = {0};
    assert_int_equal(bv_shared_episode(a, "r1", on_ep, &late), BV_OK);
    bv_shared_free(a);
    assert_int_equal(late.got, 1);
    assert_int_equal(late.state, -1);
    redisFree(c);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_and_mark),
        cmocka_unit_test(test_release_only_by_holder),
        cmocka_unit_test(test_hold_renews),
        cmocka_unit_test(test_takeover_after_holder_stops),
        cmocka_unit_test(test_watch_added_rule),
        cmocka_unit_test(test_settled_not_found),
        cmocka_unit_test(test_restart_same_owner),
        cmocka_unit_test(test_list_only),
        cmocka_unit_test(test_claim_entry_found_by_scan),
        cmocka_unit_test(test_control_ack),
        cmocka_unit_test(test_audit_append_read_trim),
        cmocka_unit_test(test_writes_queued_while_stopped),
        cmocka_unit_test(test_second_outage_reconnects_promptly),
        cmocka_unit_test(test_read_answered_at_teardown),
        cmocka_unit_test(test_episode_state),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
