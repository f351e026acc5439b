/* shared.c: what the processes of an event share in Redis: the outbox, acks and silences, the
 * audit log; see shared.h.
 *
 * One router connection (one server or a cluster) of its own. Writes go through a FIFO that is
 * sent again after the router comes back; a scan reads each rule's stream and outcomes, and
 * tries to take the lease of every entry with a target still pending that this process does
 * not hold already. The small scripts go with EVAL: they run a few times a minute. */
#include "alert/shared.h"
#include "alert/control.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "net/redis_cluster.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 16
#define GUARD_MS 10000 /* an answer due for this long: the connection is given up and made anew */
#define MAX_TARGETS 256

/* KEYS: outdone. ARGV: field, value, retention. */
static const char MARK_LUA[] = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
                               "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
                               "return 1\n";

/* KEYS: stream, lease. ARGV: key, at, deadline, targets, alert, retention, owner, lease. */
static const char PUT_LUA[] =
    "if redis.call('GET', KEYS[2]) == ARGV[7] then\n"
    "  redis.call('PEXPIRE', KEYS[2], ARGV[8])\n" /* sent again after a lost reply: done */
    "  return 1\n"
    "end\n"
    "redis.call('XADD', KEYS[1], '*', 'key', ARGV[1], 'at', ARGV[2], 'deadline', ARGV[3],\n"
    "           'targets', ARGV[4], 'alert', ARGV[5])\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[6])\n"
    "redis.call('SET', KEYS[2], ARGV[7], 'PX', ARGV[8])\n"
    "return 1\n";

/* KEYS: lease. ARGV: owner. Lets the lease go (the entry stays, with its outcomes, for
 * `blikveld outbox` and `blikveld ack`, until the retention). */
static const char RELEASE_LUA[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                  "  redis.call('DEL', KEYS[1])\n"
                                  "end\n"
                                  "return 1\n";

/* KEYS: a list. ARGV: a line, retention ms. */
static const char PUSH_LUA[] = "redis.call('RPUSH', KEYS[1], ARGV[1])\n"
                               "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                               "return 1\n";

/* KEYS: the audit list. ARGV: the oldest time kept (ISO 8601, as the lines begin). */
static const char TRIM_LUA[] = "local n = 0\n"
                               "while true do\n"
                               "  local x = redis.call('LINDEX', KEYS[1], 0)\n"
                               "  if not x then break end\n"
                               "  local at = string.match(x, '^{\"at\":\"([^\"]+)\"')\n"
                               "  if not at or at >= ARGV[1] then break end\n"
                               "  redis.call('LPOP', KEYS[1])\n"
                               "  n = n + 1\n"
                               "end\n"
                               "return n\n";

/* KEYS: lease. ARGV: owner, lease ms. Keeps (or takes back) the lease; 0 when another has it. */
static const char RENEW_LUA[] = "local who = redis.call('GET', KEYS[1])\n"
                                "if who and who ~= ARGV[1] then return 0 end\n"
                                "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                "return 1\n";

/* KEYS: lease. ARGV: owner, lease ms. Takes the lease when nobody (or this owner) has it. */
static const char TAKE_LUA[] = "local who = redis.call('GET', KEYS[1])\n"
                               "if who and who ~= ARGV[1] then return 0 end\n"
                               "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                               "return 1\n";

typedef struct wcmd wcmd;
struct wcmd {
    bv_shared *r;
    char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
    size_t argc, key_arg;
    int on_wire;
    wcmd *next;
};

typedef struct held {
    char *rule, *key;
} held;

/* One scan of one rule: the stream's entries, then their outcomes. */
typedef struct scan_entry {
    char *key, *alert, *targets;
    size_t alert_len;
    int64_t at, deadline;
} scan_entry;

typedef struct scan_job {
    bv_shared *r;
    size_t rule;
    scan_entry *e;
    size_t n;
    int stale; /* the router failed meanwhile */
} scan_job;

typedef struct take_job {
    bv_shared *r;
    size_t rule;
    scan_entry e;
    char **outcomes; /* per target, or NULL */
    char **targets;
    size_t ntargets;
} take_job;

struct bv_shared {
    struct event_base *base;
    bv_redis_router *conn;
    char *ns, *owner;
    char **rules;
    size_t nrules;
    int64_t lease_ms, scan_ms, retention_ms;
    bv_outbox_found_cb *found;
    void *arg;
    wcmd *head, *tail;
    size_t nqueued;
    held *held;
    size_t nheld, heldcap;
    struct event *scan_ev, *renew_ev;
    size_t scans_out; /* replies a scan waits for */
    size_t other_now; /* entries with pending targets another process holds, this scan */
    int scanning;
    int closing;
    int list_only;
    size_t inflight; /* commands sent and not answered yet */
    char *event;
    bv_control *control;
    int64_t audit_retention_ms;
    int64_t ctl_offset; /* control records read so far */
    int ctl_polling;
    struct event *ctl_ev;
    bv_shared_stats st;
};

/* A command went out: its answer is due within GUARD_MS. */
static void sent(bv_shared *r)
{
    r->inflight++;
    bv_redis_router_guard(r->conn, GUARD_MS);
}

/* An answer (or NULL, when the connection failed) came: the guard waits for the rest. */
static void answered(bv_shared *r)
{
    if (r->inflight > 0) {
        r->inflight--;
    }
    if (!r->closing) {
        bv_redis_router_guard(r->conn, r->inflight ? GUARD_MS : 0);
    }
}

static void wcmd_free(wcmd *c)
{
    for (size_t i = 0; i < c->argc; i++) {
        free(c->argv[i]);
    }
    free(c);
}

static int wcmd_arg(wcmd *c, const void *p, size_t n)
{
    if (c->argc >= MAX_ARGS) {
        return -1;
    }
    char *x = malloc(n + 1);
    if (x == NULL) {
        return -1;
    }
    memcpy(x, p, n);
    x[n] = '\0';
    c->argv[c->argc] = x;
    c->len[c->argc++] = n;
    return 0;
}

static int wcmd_fmt(wcmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wcmd_fmt(wcmd *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) {
        return -1;
    }
    return wcmd_arg(c, buf, (size_t)n);
}

static void send_queued(bv_shared *r);

static void on_write(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    wcmd *c = priv;
    bv_shared *r = c->r;
    answered(r);
    redisReply *rep = reply;
    c->on_wire = 0;
    if (r->closing) {
        return;
    }
    if (rep == NULL) {
        return; /* the router failed: sent again when it is back */
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        r->st.errors++;
        bv_log(BV_LOG_ERROR, "outbox", "redis refused an outbox write: %.200s", rep->str);
    } else if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 0 && c->argc > 3 &&
               strcmp(c->argv[1], RENEW_LUA) == 0) {
        /* another process took the lease (this one was cut off for longer than it): both may
         * deliver now, under the same keys */
        r->st.errors++;
        bv_log(BV_LOG_WARN, "outbox", "the lease %.300s went to another process", c->argv[3]);
    }
    for (wcmd **pp = &r->head; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            if (r->tail == c) {
                r->tail = NULL;
                for (wcmd *t = r->head; t; t = t->next) {
                    r->tail = t;
                }
            }
            break;
        }
    }
    r->nqueued--;
    wcmd_free(c);
}

static void send_one(bv_shared *r, wcmd *c)
{
    if (c->on_wire || !bv_redis_router_ready(r->conn)) {
        return;
    }
    bv_redis_cmd *cmd = bv_redis_router_cmd(r->conn);
    bv_redis_cmd_reset(cmd);
    int rc = 0;
    for (size_t i = 0; i < c->argc; i++) {
        rc |= bv_redis_cmd_arg(cmd, c->argv[i], c->len[i]);
    }
    if (rc != 0) {
        return;
    }
    if (bv_redis_router_send(r->conn, c->key_arg, on_write, c) == BV_OK) {
        c->on_wire = 1;
        r->st.writes++;
        sent(r);
    }
}

static void send_queued(bv_shared *r)
{
    for (wcmd *c = r->head; c; c = c->next) {
        send_one(r, c);
    }
}

static void enqueue(bv_shared *r, wcmd *c)
{
    c->r = r;
    if (r->tail) {
        r->tail->next = c;
    } else {
        r->head = c;
    }
    r->tail = c;
    r->nqueued++;
    r->st.queued++;
    send_one(r, c);
}

static wcmd *eval_new(const char *script, size_t nkeys)
{
    wcmd *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    if (wcmd_arg(c, "EVAL", 4) != 0 || wcmd_arg(c, script, strlen(script)) != 0 ||
        wcmd_fmt(c, "%zu", nkeys) != 0) {
        wcmd_free(c);
        return NULL;
    }
    c->key_arg = 3;
    return c;
}

/* ---- held leases ---- */

static int find_held(const bv_shared *r, const char *rule, const char *key)
{
    for (size_t i = 0; i < r->nheld; i++) {
        if (strcmp(r->held[i].key, key) == 0 && strcmp(r->held[i].rule, rule) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int bv_shared_hold(bv_shared *r, const char *rule, const char *key)
{
    if (find_held(r, rule, key) >= 0) {
        return BV_OK;
    }
    if (r->nheld == r->heldcap) {
        size_t nc = r->heldcap ? r->heldcap * 2 : 32;
        held *nh = realloc(r->held, nc * sizeof *nh);
        if (nh == NULL) {
            return BV_ENOMEM;
        }
        r->held = nh;
        r->heldcap = nc;
    }
    held *h = &r->held[r->nheld];
    h->rule = strdup(rule);
    h->key = strdup(key);
    if (h->rule == NULL || h->key == NULL) {
        free(h->rule);
        free(h->key);
        return BV_ENOMEM;
    }
    r->nheld++;
    return BV_OK;
}

static void drop_held(bv_shared *r, const char *rule, const char *key)
{
    int i = find_held(r, rule, key);
    if (i >= 0) {
        free(r->held[i].rule);
        free(r->held[i].key);
        r->held[i] = r->held[--r->nheld];
    }
}

void bv_shared_release(bv_shared *r, const char *rule, const char *key)
{
    drop_held(r, rule, key);
    wcmd *c = eval_new(RELEASE_LUA, 1);
    if (c == NULL) {
        return;
    }
    int rc = wcmd_fmt(c, "bv:{%s/%s}:lease:%s", r->ns, rule, key);
    rc |= wcmd_arg(c, r->owner, strlen(r->owner));
    if (rc != 0) {
        wcmd_free(c);
        return;
    }
    enqueue(r, c);
}

void bv_shared_mark(bv_shared *r, const char *rule, const char *key, const char *target, int failed,
                    unsigned attempts, int64_t at_ms, const char *reason)
{
    wcmd *c = eval_new(MARK_LUA, 1);
    if (c == NULL) {
        return;
    }
    int rc = wcmd_fmt(c, "bv:{%s/%s}:outdone", r->ns, rule);
    rc |= wcmd_fmt(c, "%s %s", key, target);
    if (failed) {
        rc |=
            wcmd_fmt(c, "failed %u %lld %.600s", attempts, (long long)at_ms, reason ? reason : "");
    } else {
        rc |= wcmd_fmt(c, "delivered %u %lld", attempts, (long long)at_ms);
    }
    rc |= wcmd_fmt(c, "%lld", (long long)r->retention_ms);
    if (rc != 0) {
        wcmd_free(c);
        return;
    }
    enqueue(r, c);
}

int bv_shared_put(bv_shared *r, const char *rule, const char *key, const char *alert,
                  size_t alert_len, int64_t at_ms, int64_t deadline_ms, const char *const *targets,
                  size_t ntargets)
{
    bv_buf t = BV_BUF_INIT;
    for (size_t i = 0; i < ntargets; i++) {
        bv_buf_printf(&t, "%s\n", targets[i]);
    }
    wcmd *c = eval_new(PUT_LUA, 2);
    if (c == NULL || (ntargets && t.p == NULL)) {
        bv_buf_free(&t);
        if (c) {
            wcmd_free(c);
        }
        return BV_ENOMEM;
    }
    int rc = wcmd_fmt(c, "bv:{%s/%s}:outbox", r->ns, rule);
    rc |= wcmd_fmt(c, "bv:{%s/%s}:lease:%s", r->ns, rule, key);
    rc |= wcmd_arg(c, key, strlen(key));
    rc |= wcmd_fmt(c, "%lld", (long long)at_ms);
    rc |= wcmd_fmt(c, "%lld", (long long)deadline_ms);
    rc |= wcmd_arg(c, t.p ? t.p : "", t.len);
    rc |= wcmd_arg(c, alert, alert_len);
    rc |= wcmd_fmt(c, "%lld", (long long)r->retention_ms);
    rc |= wcmd_arg(c, r->owner, strlen(r->owner));
    rc |= wcmd_fmt(c, "%lld", (long long)r->lease_ms);
    bv_buf_free(&t);
    if (rc != 0 || bv_shared_hold(r, rule, key) != BV_OK) {
        wcmd_free(c);
        return BV_ENOMEM;
    }
    enqueue(r, c);
    return BV_OK;
}

/* ---- acks, silences, the audit log ---- */

static int push_line(bv_shared *r, const char *list, const char *line, size_t len,
                     int64_t retention)
{
    if (r->event == NULL) {
        return BV_EINVAL;
    }
    wcmd *c = eval_new(PUSH_LUA, 1);
    if (c == NULL) {
        return BV_ENOMEM;
    }
    while (len > 0 && line[len - 1] == '\n') {
        len--;
    }
    if (wcmd_fmt(c, "bv:{ctl/%s}:%s", r->event, list) != 0 || wcmd_arg(c, line, len) != 0 ||
        wcmd_fmt(c, "%lld", (long long)retention) != 0) {
        wcmd_free(c);
        return BV_ENOMEM;
    }
    enqueue(r, c);
    return BV_OK;
}

int bv_shared_control_append(bv_shared *r, const char *line, size_t len)
{
    return push_line(r, "control", line, len, r->audit_retention_ms);
}

int bv_shared_audit_append(bv_shared *r, const char *line, size_t len)
{
    return push_line(r, "audit", line, len, r->audit_retention_ms);
}

int bv_shared_audit_trim(bv_shared *r, int64_t cutoff_ms)
{
    if (r->event == NULL) {
        return BV_EINVAL;
    }
    char t[BV_TIME_ISO_LEN];
    wcmd *c = eval_new(TRIM_LUA, 1);
    if (c == NULL || wcmd_fmt(c, "bv:{ctl/%s}:audit", r->event) != 0 ||
        wcmd_fmt(c, "%s", bv_time_format_iso8601(cutoff_ms, t)) != 0) {
        if (c) {
            wcmd_free(c);
        }
        return BV_ENOMEM;
    }
    enqueue(r, c);
    return BV_OK;
}

typedef struct read_job {
    bv_shared *r;
    bv_shared_text_cb *cb;
    void *arg;
} read_job;

static void on_lrange(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    read_job *j = priv;
    redisReply *rep = reply;
    answered(j->r);
    if (j->r->closing || rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        j->cb(j->arg, NULL, 0); /* also at teardown: every callback runs once */
        free(j);
        return;
    }
    bv_buf b = BV_BUF_INIT;
    for (size_t i = 0; i < rep->elements; i++) {
        if (rep->element[i]->type == REDIS_REPLY_STRING) {
            bv_buf_append(&b, rep->element[i]->str, rep->element[i]->len);
            bv_buf_putc(&b, '\n');
        }
    }
    j->cb(j->arg, b.p ? b.p : (char *)"", b.len);
    bv_buf_free(&b);
    free(j);
}

int bv_shared_read(bv_shared *r, const char *list, bv_shared_text_cb *cb, void *arg)
{
    if (r->event == NULL || !bv_redis_router_ready(r->conn)) {
        return BV_EAGAIN;
    }
    read_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return BV_ENOMEM;
    }
    j->r = r;
    j->cb = cb;
    j->arg = arg;
    bv_redis_cmd *cmd = bv_redis_router_cmd(r->conn);
    bv_redis_cmd_reset(cmd);
    if (bv_redis_cmd_str(cmd, "LRANGE") != 0 ||
        bv_redis_cmd_fmt(cmd, "bv:{ctl/%s}:%s", r->event, list) != 0 ||
        bv_redis_cmd_str(cmd, "0") != 0 || bv_redis_cmd_str(cmd, "-1") != 0 ||
        bv_redis_router_send(r->conn, 1, on_lrange, j) != BV_OK) {
        free(j);
        return BV_EIO;
    }
    sent(r);
    return BV_OK;
}

static void on_control(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    bv_shared *r = priv;
    answered(r);
    redisReply *rep = reply;
    if (r->closing) {
        return;
    }
    r->ctl_polling = 0;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        return;
    }
    r->st.control_reads++;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *x = rep->element[i];
        if (x->type == REDIS_REPLY_STRING) {
            bv_control_feed(r->control, x->str, x->len);
            bv_control_feed(r->control, "\n", 1);
        }
        r->ctl_offset++;
    }
}

/* Asks for the control records pushed since the last look. */
static void control_read(bv_shared *r)
{
    if (r->control && r->event && !r->ctl_polling && bv_redis_router_ready(r->conn)) {
        bv_redis_cmd *cmd = bv_redis_router_cmd(r->conn);
        bv_redis_cmd_reset(cmd);
        if (bv_redis_cmd_str(cmd, "LRANGE") == 0 &&
            bv_redis_cmd_fmt(cmd, "bv:{ctl/%s}:control", r->event) == 0 &&
            bv_redis_cmd_fmt(cmd, "%lld", (long long)r->ctl_offset) == 0 &&
            bv_redis_cmd_str(cmd, "-1") == 0 &&
            bv_redis_router_send(r->conn, 1, on_control, r) == BV_OK) {
            r->ctl_polling = 1;
            sent(r);
        }
    }
}

static void control_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_shared *r = arg;
    control_read(r);
    struct timeval tv = {1, 0};
    evtimer_add(r->ctl_ev, &tv);
}

/* ---- renewing leases ---- */

static void renew_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_shared *r = arg;
    for (size_t i = 0; i < r->nheld; i++) {
        /* at most one renewal per lease waits in the queue */
        int queued = 0;
        char lease[600];
        snprintf(lease, sizeof lease, "bv:{%s/%s}:lease:%s", r->ns, r->held[i].rule,
                 r->held[i].key);
        for (wcmd *c = r->head; c && !queued; c = c->next) {
            queued = c->argc > 3 && c->argv[1] == NULL
                         ? 0
                         : c->argc > 3 && strcmp(c->argv[1], RENEW_LUA) == 0 &&
                               strcmp(c->argv[3], lease) == 0;
        }
        if (queued) {
            continue;
        }
        wcmd *c = eval_new(RENEW_LUA, 1);
        if (c == NULL) {
            continue;
        }
        if (wcmd_arg(c, lease, strlen(lease)) != 0 ||
            wcmd_arg(c, r->owner, strlen(r->owner)) != 0 ||
            wcmd_fmt(c, "%lld", (long long)r->lease_ms) != 0) {
            wcmd_free(c);
            continue;
        }
        enqueue(r, c);
    }
    struct timeval tv = {(time_t)(r->lease_ms / 3000),
                         (suseconds_t)(r->lease_ms / 3 % 1000) * 1000};
    evtimer_add(r->renew_ev, &tv);
}

/* ---- scanning ---- */

static void scan_job_free(scan_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->e[i].key);
        free(j->e[i].alert);
        free(j->e[i].targets);
    }
    free(j->e);
    free(j);
}

static void take_job_free(take_job *t)
{
    free(t->e.key);
    free(t->e.alert);
    free(t->e.targets);
    for (size_t i = 0; i < t->ntargets; i++) {
        free(t->outcomes[i]);
    }
    free(t->outcomes);
    free(t->targets);
    free(t);
}

static int64_t num_of(const char *s, size_t n)
{
    char b[32];
    if (n == 0 || n >= sizeof b) {
        return 0;
    }
    memcpy(b, s, n);
    b[n] = '\0';
    return strtoll(b, NULL, 10);
}

static void scan_done_one(bv_shared *r)
{
    if (r->scans_out > 0) {
        r->scans_out--;
    }
    if (r->scans_out == 0 && r->scanning) {
        r->scanning = 0;
        r->st.scans_done++;
        r->st.other_pending = r->other_now;
    }
}

static void on_take(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    take_job *t = priv;
    bv_shared *r = t->r;
    answered(r);
    redisReply *rep = reply;
    if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0) {
        r->other_now++;
    }
    scan_done_one(r);
    if (!r->closing && r->arg && rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 &&
        find_held(r, r->rules[t->rule], t->e.key) < 0 &&
        bv_shared_hold(r, r->rules[t->rule], t->e.key) == BV_OK) {
        r->st.found++;
        bv_outbox_found f = {
            .rule = r->rules[t->rule],
            .key = t->e.key,
            .alert = t->e.alert,
            .alert_len = t->e.alert_len,
            .at_ms = t->e.at,
            .deadline_ms = t->e.deadline,
            .targets = (const char *const *)t->targets,
            .outcomes = (const char *const *)t->outcomes,
            .ntargets = t->ntargets,
        };
        r->found(r->arg, &f);
    }
    take_job_free(t);
}

/* The entry's targets ("a\nb\n") split in place into t->targets. */
static int split_targets(take_job *t)
{
    size_t n = 0;
    for (char *p = t->e.targets; *p; p++) {
        n += *p == '\n';
    }
    if (n > MAX_TARGETS) {
        return -1;
    }
    t->targets = calloc(n ? n : 1, sizeof *t->targets);
    t->outcomes = calloc(n ? n : 1, sizeof *t->outcomes);
    if (t->targets == NULL || t->outcomes == NULL) {
        return -1;
    }
    char *p = t->e.targets;
    for (size_t i = 0; i < n; i++) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        t->targets[i] = p;
        p = nl + 1;
    }
    t->ntargets = n;
    return 0;
}

static void outdone_reply(bv_shared *r, scan_job *j, redisReply *rep)
{
    if (r->closing || rep == NULL || rep->type != REDIS_REPLY_ARRAY || j->stale) {
        scan_job_free(j);
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        scan_entry *e = &j->e[i];
        if (find_held(r, r->rules[j->rule], e->key) >= 0) {
            continue; /* this process delivers it already */
        }
        take_job *t = calloc(1, sizeof *t);
        if (t == NULL) {
            break;
        }
        t->r = r;
        t->rule = j->rule;
        t->e = *e;
        memset(e, 0, sizeof *e); /* moved */
        if (split_targets(t) != 0) {
            take_job_free(t);
            continue;
        }
        size_t kl = strlen(t->e.key), pending = 0;
        for (size_t k = 0; k < t->ntargets; k++) {
            for (size_t x = 0; x + 1 < rep->elements; x += 2) {
                const redisReply *f = rep->element[x], *v = rep->element[x + 1];
                if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
                    f->len == kl + 1 + strlen(t->targets[k]) &&
                    strncmp(f->str, t->e.key, kl) == 0 && f->str[kl] == ' ' &&
                    strcmp(f->str + kl + 1, t->targets[k]) == 0) {
                    t->outcomes[k] = strndup(v->str, v->len);
                }
            }
            pending += t->outcomes[k] == NULL;
        }
        if (r->list_only) {
            bv_outbox_found f = {
                .rule = r->rules[t->rule],
                .key = t->e.key,
                .alert = t->e.alert,
                .alert_len = t->e.alert_len,
                .at_ms = t->e.at,
                .deadline_ms = t->e.deadline,
                .targets = (const char *const *)t->targets,
                .outcomes = (const char *const *)t->outcomes,
                .ntargets = t->ntargets,
            };
            if (r->arg) {
                r->found(r->arg, &f);
            }
            take_job_free(t);
            continue;
        }
        if (pending == 0) {
            take_job_free(t); /* settled: only listed by `blikveld outbox` */
            continue;
        }
        bv_redis_cmd *cmd = bv_redis_router_cmd(r->conn);
        bv_redis_cmd_reset(cmd);
        int rc = bv_redis_cmd_str(cmd, "EVAL");
        rc |= bv_redis_cmd_str(cmd, TAKE_LUA);
        rc |= bv_redis_cmd_str(cmd, "1");
        rc |= bv_redis_cmd_fmt(cmd, "bv:{%s/%s}:lease:%s", r->ns, r->rules[j->rule], t->e.key);
        rc |= bv_redis_cmd_str(cmd, r->owner);
        rc |= bv_redis_cmd_fmt(cmd, "%lld", (long long)r->lease_ms);
        if (rc != 0 || bv_redis_router_send(r->conn, 3, on_take, t) != BV_OK) {
            take_job_free(t);
            continue;
        }
        sent(r);
        r->scans_out++;
    }
    scan_job_free(j);
}

static void on_outdone(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    scan_job *j = priv;
    bv_shared *r = j->r;
    answered(r);
    outdone_reply(r, j, reply);
    scan_done_one(r);
}

static void stream_reply(bv_shared *r, scan_job *j, redisReply *rep)
{
    if (r->closing || rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        scan_job_free(j);
        return;
    }
    j->e = calloc(rep->elements ? rep->elements : 1, sizeof *j->e);
    if (j->e == NULL) {
        scan_job_free(j);
        return;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *x = rep->element[i];
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
            x->element[1]->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        const redisReply *f = x->element[1];
        scan_entry e;
        memset(&e, 0, sizeof e);
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            const redisReply *name = f->element[k], *v = f->element[k + 1];
            if (name->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
                continue;
            }
            if (strcmp(name->str, "key") == 0 && !e.key) {
                e.key = strndup(v->str, v->len);
            } else if (strcmp(name->str, "alert") == 0 && !e.alert) {
                e.alert = strndup(v->str, v->len);
                e.alert_len = v->len;
            } else if (strcmp(name->str, "targets") == 0 && !e.targets) {
                e.targets = strndup(v->str, v->len);
            } else if (strcmp(name->str, "at") == 0) {
                e.at = num_of(v->str, v->len);
            } else if (strcmp(name->str, "deadline") == 0) {
                e.deadline = num_of(v->str, v->len);
            }
        }
        if (e.key && e.alert && e.targets && e.alert_len == strlen(e.alert)) {
            j->e[j->n++] = e;
        } else {
            free(e.key);
            free(e.alert);
            free(e.targets);
        }
    }
    if (j->n == 0) {
        scan_job_free(j);
        return;
    }
    bv_redis_cmd *cmd = bv_redis_router_cmd(r->conn);
    bv_redis_cmd_reset(cmd);
    if (bv_redis_cmd_str(cmd, "HGETALL") != 0 ||
        bv_redis_cmd_fmt(cmd, "bv:{%s/%s}:outdone", r->ns, r->rules[j->rule]) != 0 ||
        bv_redis_router_send(r->conn, 1, on_outdone, j) != BV_OK) {
        scan_job_free(j);
        return;
    }
    sent(r);
    r->scans_out++;
}

static void on_stream(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    scan_job *j = priv;
    bv_shared *r = j->r;
    answered(r);
    stream_reply(r, j, reply);
    scan_done_one(r); /* after what it sent on: a scan is done when nothing more is due */
}

int bv_shared_watch(bv_shared *r, const char *rule)
{
    for (size_t i = 0; i < r->nrules; i++) {
        if (strcmp(r->rules[i], rule) == 0) {
            return BV_OK;
        }
    }
    /* scan jobs name rules by index: growing the array keeps every index */
    char **nr = realloc(r->rules, (r->nrules + 1) * sizeof *nr);
    if (nr == NULL) {
        return BV_ENOMEM;
    }
    r->rules = nr;
    if ((r->rules[r->nrules] = strdup(rule)) == NULL) {
        return BV_ENOMEM;
    }
    r->nrules++;
    return BV_OK;
}

void bv_shared_scan(bv_shared *r)
{
    if (!bv_redis_router_ready(r->conn)) {
        return;
    }
    r->st.scans++;
    r->other_now = 0;
    r->scanning = 1;
    for (size_t i = 0; i < r->nrules; i++) {
        scan_job *j = calloc(1, sizeof *j);
        if (j == NULL) {
            return;
        }
        j->r = r;
        j->rule = i;
        bv_redis_cmd *cmd = bv_redis_router_cmd(r->conn);
        bv_redis_cmd_reset(cmd);
        if (bv_redis_cmd_str(cmd, "XRANGE") != 0 ||
            bv_redis_cmd_fmt(cmd, "bv:{%s/%s}:outbox", r->ns, r->rules[i]) != 0 ||
            bv_redis_cmd_str(cmd, "-") != 0 || bv_redis_cmd_str(cmd, "+") != 0 ||
            bv_redis_router_send(r->conn, 1, on_stream, j) != BV_OK) {
            free(j);
            return;
        }
        sent(r);
        r->scans_out++;
    }
    if (r->scans_out == 0) {
        scan_done_one(r);
    }
}

static void scan_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_shared *r = arg;
    if (r->scans_out == 0) {
        bv_shared_scan(r);
    }
    struct timeval tv = {(time_t)(r->scan_ms / 1000), (suseconds_t)(r->scan_ms % 1000) * 1000};
    evtimer_add(r->scan_ev, &tv);
}

/* ---- life ---- */

static void on_ready(void *arg)
{
    bv_shared *r = arg;
    r->scans_out = 0;
    r->scanning = 0;
    bv_redis_router_healthy(r->conn); /* the next outage backs off from the shortest wait */
    control_read(r);                  /* acks and silences before anything else is sent */
    send_queued(r);
    bv_shared_scan(r);
}

static void on_down(void *arg, const char *why, int was_ready)
{
    bv_shared *r = arg;
    r->scans_out = 0;
    r->scanning = 0;
    r->ctl_polling = 0;
    for (wcmd *c = r->head; c; c = c->next) {
        c->on_wire = 0;
    }
    if (was_ready) {
        bv_log(BV_LOG_WARN, "outbox", "redis %s: %s; %zu outbox writes wait",
               bv_redis_router_addr(r->conn), why, r->nqueued);
    }
}

bv_shared *bv_shared_new(struct event_base *base, const bv_shared_opts *o,
                         bv_outbox_found_cb *found, void *arg, char *err, size_t errlen)
{
    bv_shared *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->base = base;
    r->found = found;
    r->arg = arg;
    r->list_only = o->list_only;
    r->control = o->control;
    r->audit_retention_ms = o->audit_retention_ms > 0 ? o->audit_retention_ms : 365LL * 86400000;
    r->ns = strdup(o->ns);
    r->owner = strdup(o->owner);
    r->lease_ms = o->lease_ms > 0 ? o->lease_ms : 30000;
    r->scan_ms = o->scan_ms > 0 ? o->scan_ms : 10000;
    r->retention_ms = o->retention_ms > 0 ? o->retention_ms : 30LL * 86400000;
    r->rules = calloc(o->nrules ? o->nrules : 1, sizeof *r->rules);
    r->scan_ev = evtimer_new(base, scan_tick, r);
    r->ctl_ev = evtimer_new(base, control_tick, r);
    if (o->event && (r->event = strdup(o->event)) == NULL) {
        snprintf(err, errlen, "out of memory");
        bv_shared_free(r);
        return NULL;
    }
    r->renew_ev = evtimer_new(base, renew_tick, r);
    if (r->ns == NULL || r->owner == NULL || r->rules == NULL || r->scan_ev == NULL ||
        r->renew_ev == NULL) {
        snprintf(err, errlen, "out of memory");
        bv_shared_free(r);
        return NULL;
    }
    for (size_t i = 0; i < o->nrules; i++) {
        if ((r->rules[i] = strdup(o->rules[i])) == NULL) {
            snprintf(err, errlen, "out of memory");
            bv_shared_free(r);
            return NULL;
        }
        r->nrules++;
    }
    bv_redis_conn_opts co = {
        .addr = o->addr,
        .password = o->password,
        .ready = on_ready,
        .down = on_down,
        .arg = r,
    };
    r->conn = bv_redis_router_new(base, &co, err, errlen);
    if (r->conn == NULL) {
        bv_shared_free(r);
        return NULL;
    }
    struct timeval tv = {(time_t)(r->scan_ms / 1000), (suseconds_t)(r->scan_ms % 1000) * 1000};
    evtimer_add(r->scan_ev, &tv);
    if (r->control && r->event && r->ctl_ev) {
        struct timeval cv = {0, 0};
        evtimer_add(r->ctl_ev, &cv);
    }
    if (!r->list_only) {
        struct timeval rv = {(time_t)(r->lease_ms / 3000),
                             (suseconds_t)(r->lease_ms / 3 % 1000) * 1000};
        evtimer_add(r->renew_ev, &rv);
    }
    return r;
}

void bv_shared_free(bv_shared *r)
{
    if (r == NULL) {
        return;
    }
    r->closing = 1;
    bv_redis_router_free(r->conn); /* answers what is due with NULL: freed there or below */
    while (r->head) {
        wcmd *c = r->head;
        r->head = c->next;
        wcmd_free(c);
    }
    for (size_t i = 0; i < r->nheld; i++) {
        free(r->held[i].rule);
        free(r->held[i].key);
    }
    free(r->held);
    for (size_t i = 0; i < r->nrules; i++) {
        free(r->rules[i]);
    }
    free(r->rules);
    if (r->scan_ev) {
        event_free(r->scan_ev);
    }
    if (r->renew_ev) {
        event_free(r->renew_ev);
    }
    if (r->ctl_ev) {
        event_free(r->ctl_ev);
    }
    free(r->event);
    free(r->ns);
    free(r->owner);
    free(r);
}

int bv_shared_outcome(const char *o, bv_out_status *st, unsigned *attempts, int64_t *at_ms,
                      const char **reason)
{
    int failed = strncmp(o, "failed ", 7) == 0;
    if (!failed && strncmp(o, "delivered ", 10) != 0) {
        return -1;
    }
    const char *rest = o + (failed ? 7 : 10);
    unsigned a = 0;
    long long at = 0;
    int used = 0;
    if (sscanf(rest, "%u %lld%n", &a, &at, &used) < 2) {
        return -1;
    }
    rest += used;
    while (*rest == ' ') {
        rest++;
    }
    *st = failed ? BV_OUT_FAILED : BV_OUT_DELIVERED;
    *attempts = a;
    *at_ms = at;
    *reason = failed ? rest : NULL;
    return 0;
}

void bv_shared_apply_outcomes(bv_outbox *ob, bv_out_entry *e, const bv_outbox_found *f)
{
    for (size_t k = 0; k < f->ntargets && k < e->ntargets; k++) {
        bv_out_status st;
        unsigned attempts;
        int64_t at;
        const char *reason;
        if (f->outcomes[k] &&
            bv_shared_outcome(f->outcomes[k], &st, &attempts, &at, &reason) == 0) {
            bv_outbox_mark(ob, e, k, st, attempts, reason, at);
        }
    }
}

typedef struct ep_job {
    bv_shared *r;
    bv_shared_episode_cb *cb;
    void *arg;
} ep_job;

static void on_episode(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    ep_job *j = priv;
    redisReply *rep = reply;
    answered(j->r);
    if (rep == NULL || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)) {
        j->cb(j->arg, -1, NULL);
    } else if (rep->type == REDIS_REPLY_NIL || rep->len < 3 || rep->str[1] != ':') {
        j->cb(j->arg, 0, NULL);
    } else {
        /* "F:INSTANCE:ID" */
        const char *id = strchr(rep->str + 2, ':');
        j->cb(j->arg, rep->str[0], id ? id + 1 : "");
    }
    free(j);
}

int bv_shared_episode(bv_shared *r, const char *rule, bv_shared_episode_cb *cb, void *arg)
{
    if (!bv_redis_router_ready(r->conn)) {
        return BV_EAGAIN;
    }
    ep_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return BV_ENOMEM;
    }
    j->r = r;
    j->cb = cb;
    j->arg = arg;
    bv_redis_cmd *cmd = bv_redis_router_cmd(r->conn);
    bv_redis_cmd_reset(cmd);
    if (bv_redis_cmd_str(cmd, "GET") != 0 ||
        bv_redis_cmd_fmt(cmd, "bv:{%s/%s}:ep", r->ns, rule) != 0 ||
        bv_redis_router_send(r->conn, 1, on_episode, j) != BV_OK) {
        free(j);
        return BV_EIO;
    }
    sent(r);
    return BV_OK;
}

int bv_shared_ready(const bv_shared *r)
{
    return bv_redis_router_ready(r->conn);
}

void bv_shared_set_arg(bv_shared *r, void *arg)
{
    r->arg = arg;
}

size_t bv_shared_pending(const bv_shared *r)
{
    return r->nqueued + r->scans_out;
}

void bv_shared_stats_get(const bv_shared *r, bv_shared_stats *out)
{
    *out = r->st;
    out->state = bv_redis_router_state(r->conn);
    out->held = r->nheld;
}
