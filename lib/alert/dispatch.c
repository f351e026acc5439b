/* dispatch.c: the alerter; see dispatch.h.
 *
 * A delivery is a (outbox entry, target) pair. Pairs wait in their group's queue while the
 * group is open, then travel in a job: one message to one target, tried until it answers OK or
 * FAIL or its deadline passes. Every message's alerts are read back from the outbox's JSON, so
 * a delivery resumed after a restart says exactly what the first try would have. */
#include "alert/dispatch.h"
#include "alert/audit.h"
#include "alert/shared.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define NO_GROUP ((size_t)-1)
#define JOB_MAX_ALERTS 50   /* alerts in one message; more go in the next */
#define AM_REFRESH_MS 60000 /* without a watchdog, Alertmanager still hears this often */
#define FIRING_MAX 1000     /* alerts repeated to Alertmanager with each heartbeat */

typedef struct pair {
    bv_out_entry *e;
    size_t ti; /* index in e->targets */
} pair;

typedef struct tgt_t {
    char *id;
    size_t group;
    bv_sink *sink;
    bv_severity min;
    int hb_failing;
    uint64_t delivered, retried, failed; /* deliveries ((alert, target) pairs) */
} tgt_t;

typedef struct grp_t {
    bv_dispatch *d;
    char *name;
    size_t *t; /* target indices */
    size_t nt;
    int open;
    struct event *timer;
    pair *q;
    size_t nq, qcap;
} grp_t;

typedef struct job job;
struct job {
    bv_dispatch *d;
    size_t target;
    bv_msg_kind kind;
    pair *p;
    size_t n;
    unsigned attempts;
    int in_flight;
    int heartbeat;
    int64_t deadline_ms;
    struct event *timer;
    job *prev, *next;
};

typedef struct esc_timer esc_timer;
struct esc_timer {
    bv_dispatch *d;
    char id[33];
    size_t step;
    struct event *ev;
    esc_timer *prev, *next;
    int checked;   /* with Redis: the episode's state there was asked for */
    int checking;  /* its answer is due: esc_free leaves the struct to the answer */
    int cancelled; /* freed while its answer was due */
};

typedef struct firing {
    bv_alert *a;
} firing;

struct bv_dispatch {
    struct event_base *base;
    const bv_clock *clock;
    bv_dispatch_opts o;
    tgt_t *t;
    size_t nt;
    size_t am; /* the Alertmanager target, or NO_GROUP */
    grp_t **g; /* pointers: timers hold them */
    size_t ng;
    job *jobs;
    esc_timer *esc;
    firing *fire;
    size_t nfire;
    struct event *watchdog, *poll;
    uint64_t rng;
    bv_dispatch_stats st;
};

/* ---- small things ---- */

static uint64_t next_rand(bv_dispatch *d)
{
    uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static struct timeval tv_of(int64_t ms)
{
    if (ms < 0) {
        ms = 0;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static int64_t now(const bv_dispatch *d)
{
    return bv_now_ms(d->clock);
}

static void audit(bv_dispatch *d, const char *what, const bv_out_entry *e, const char *target,
                  unsigned attempts, const char *reason, const char *rule, const char *id)
{
    if (d->o.audit_dir == NULL) {
        return;
    }
    bv_audit_rec r = {
        .at_ms = now(d),
        .event = d->o.event,
        .what = what,
        .id = id,
        .rule = rule,
        .key = e ? e->key : NULL,
        .target = target,
        .reason = reason,
        .attempts = attempts,
        .drill = d->o.drill,
    };
    char err[512];
    if (bv_audit_append(d->o.audit_dir, &r, err, sizeof err) != 0) {
        bv_log(BV_LOG_ERROR, "audit", "%s", err);
    }
    if (d->o.shared) {
        bv_buf line = BV_BUF_INIT;
        if (bv_audit_format(&r, &line) == BV_OK) {
            bv_shared_audit_append(d->o.shared, line.p, line.len);
        }
        bv_buf_free(&line);
    }
}

static size_t find_target(const bv_dispatch *d, const char *id)
{
    for (size_t i = 0; i < d->nt; i++) {
        if (strcmp(d->t[i].id, id) == 0) {
            return i;
        }
    }
    return NO_GROUP;
}

static size_t find_group(const bv_dispatch *d, const char *name)
{
    for (size_t i = 0; i < d->ng; i++) {
        if (strcmp(d->g[i]->name, name) == 0) {
            return i;
        }
    }
    return NO_GROUP;
}

int bv_dispatch_has_group(const bv_dispatch *d, const char *group)
{
    return find_group(d, group) != NO_GROUP;
}

static int is_escalation_key(const char *key)
{
    const char *s = strrchr(key, '/');
    return s && strncmp(s, "/escalated", 10) == 0;
}

/* The id part of a key ("ID/firing" -> ID). */
static void key_id(const char *key, char id[33])
{
    size_t n = strcspn(key, "/");
    if (n > 32) {
        n = 32;
    }
    memcpy(id, key, n);
    id[n] = '\0';
}

static void shared_mark(bv_dispatch *d, bv_out_entry *e, size_t i);

/* ---- jobs ---- */

static void job_free(job *j)
{
    bv_dispatch *d = j->d;
    if (j->prev) {
        j->prev->next = j->next;
    } else if (d->jobs == j) {
        d->jobs = j->next;
    }
    if (j->next) {
        j->next->prev = j->prev;
    }
    if (j->timer) {
        event_free(j->timer);
    }
    free(j->p);
    free(j);
}

static void job_attempt(evutil_socket_t fd, short what, void *arg);

static job *job_new(bv_dispatch *d, size_t target, bv_msg_kind kind, const pair *p, size_t n)
{
    job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return NULL;
    }
    j->d = d;
    j->target = target;
    j->kind = kind;
    j->deadline_ms = INT64_MAX;
    if (n) {
        j->p = malloc(n * sizeof *j->p);
        if (j->p == NULL) {
            free(j);
            return NULL;
        }
        memcpy(j->p, p, n * sizeof *p);
        j->n = n;
        for (size_t i = 0; i < n; i++) {
            if (p[i].e->deadline_ms < j->deadline_ms) {
                j->deadline_ms = p[i].e->deadline_ms;
            }
        }
    }
    j->timer = evtimer_new(d->base, job_attempt, j);
    if (j->timer == NULL) {
        free(j->p);
        free(j);
        return NULL;
    }
    j->next = d->jobs;
    if (d->jobs) {
        d->jobs->prev = j;
    }
    d->jobs = j;
    return j;
}

/* Records the outcome of every pair of j. */
static void job_settle(job *j, bv_out_status st, const char *reason)
{
    bv_dispatch *d = j->d;
    const char *tid = d->t[j->target].id;
    for (size_t i = 0; i < j->n; i++) {
        bv_out_entry *e = j->p[i].e;
        if (e->targets[j->p[i].ti].status != BV_OUT_PENDING) {
            continue;
        }
        if (bv_outbox_mark(d->o.outbox, e, j->p[i].ti, st, j->attempts, reason, now(d)) != 0) {
            bv_log(BV_LOG_ERROR, "outbox", "%s: cannot record the outcome of %s to %s",
                   bv_outbox_path(d->o.outbox), e->key, tid);
        }
        shared_mark(d, e, j->p[i].ti);
        if (st == BV_OUT_DELIVERED) {
            d->st.delivered++;
            d->t[j->target].delivered++;
            audit(d, "delivered", e, tid, j->attempts, NULL, NULL, NULL);
        } else {
            d->st.failed++;
            d->t[j->target].failed++;
            audit(d, "failed", e, tid, j->attempts, reason, NULL, NULL);
        }
    }
}

static void job_done(void *arg, bv_sink_result r, const char *reason)
{
    job *j = arg;
    bv_dispatch *d = j->d;
    tgt_t *t = &d->t[j->target];
    j->in_flight = 0;
    j->attempts++;
    if (j->heartbeat) {
        if (r != BV_SINK_OK) {
            d->st.heartbeat_failures++;
            if (!t->hb_failing) {
                bv_log(BV_LOG_WARN, "watchdog", "heartbeat to %s: %s", t->sink->label,
                       reason ? reason : "failed");
            }
        } else if (t->hb_failing) {
            bv_log(BV_LOG_INFO, "watchdog", "heartbeat to %s: delivered again", t->sink->label);
        }
        t->hb_failing = r != BV_SINK_OK;
        job_free(j);
        return;
    }
    if (r == BV_SINK_OK) {
        t->sink->sent++;
        job_settle(j, BV_OUT_DELIVERED, NULL);
        job_free(j);
        return;
    }
    char why[512];
    snprintf(why, sizeof why, "%s", reason ? reason : "failed");
    int64_t wait = 0;
    if (r == BV_SINK_RETRY) {
        int64_t cap = d->o.retry_min_ms;
        for (unsigned k = 1; k < j->attempts && cap < d->o.retry_max_ms; k++) {
            cap *= 2;
        }
        if (cap > d->o.retry_max_ms) {
            cap = d->o.retry_max_ms;
        }
        wait = cap / 2 + (int64_t)(next_rand(d) % (uint64_t)(cap / 2 + 1));
        if (now(d) + wait > j->deadline_ms) {
            snprintf(why, sizeof why, "gave up at the deadline after %u attempts: %s", j->attempts,
                     reason ? reason : "failed");
            r = BV_SINK_FAIL;
        }
    }
    if (r == BV_SINK_FAIL) {
        t->sink->failed++;
        bv_log(BV_LOG_ERROR, "deliver", "%s: %s (%zu alerts not delivered)", t->sink->label, why,
               j->n);
        job_settle(j, BV_OUT_FAILED, why);
        job_free(j);
        return;
    }
    d->st.retries++;
    t->retried += j->n;
    bv_log(BV_LOG_WARN, "deliver", "%s: %s; attempt %u in %.1f s", t->sink->label, why,
           j->attempts + 1, (double)wait / 1000.0);
    for (size_t i = 0; i < j->n; i++) {
        audit(d, "retry", j->p[i].e, t->id, j->attempts, why, NULL, NULL);
    }
    struct timeval tv = tv_of(wait);
    evtimer_add(j->timer, &tv);
}

/* The message of j: its alerts read back from the outbox. 0, or -1 when an entry does not
 * parse (it is failed then and left out). */
static void job_attempt(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    job *j = arg;
    bv_dispatch *d = j->d;
    size_t cap = j->heartbeat ? (d->nfire < FIRING_MAX ? d->nfire : FIRING_MAX) : j->n;
    bv_alert **alerts = calloc(cap ? cap : 1, sizeof *alerts);
    const char **keys = calloc(j->n ? j->n : 1, sizeof *keys);
    bv_buf mkey = BV_BUF_INIT;
    size_t n = 0;
    int drill = d->o.drill;
    if (alerts == NULL || keys == NULL) {
        goto retry_later;
    }
    if (j->heartbeat) {
        for (size_t i = 0; i < d->nfire && i < FIRING_MAX; i++) {
            alerts[n++] = d->fire[i].a; /* borrowed: freed only by a resolved notice */
        }
        bv_buf_printf(&mkey, "heartbeat/%s/%lld", d->o.event, (long long)(now(d) / 1000));
    } else {
        for (size_t i = 0; i < j->n; i++) {
            char err[256];
            bv_out_entry *e = j->p[i].e;
            bv_alert *a = bv_alert_parse_json(e->alert, e->alert_len, err, sizeof err);
            if (a == NULL) {
                bv_log(BV_LOG_ERROR, "outbox", "%s: %s does not parse: %s",
                       bv_outbox_path(d->o.outbox), e->key, err);
                bv_outbox_mark(d->o.outbox, e, j->p[i].ti, BV_OUT_FAILED, j->attempts,
                               "the outbox entry does not parse", now(d));
                shared_mark(d, e, j->p[i].ti);
                d->st.failed++;
                d->t[j->target].failed++;
                j->p[i] = j->p[--j->n];
                i--;
                continue;
            }
            drill |= a->drill;
            alerts[n] = a;
            keys[n] = e->key;
            bv_buf_printf(&mkey, "%s%s", n ? "," : "", e->key);
            n++;
        }
        if (n == 0) {
            free(alerts);
            free(keys);
            bv_buf_free(&mkey);
            job_free(j);
            return;
        }
    }
    bv_message m = {
        .kind = j->heartbeat ? BV_MSG_HEARTBEAT : j->kind,
        .event = d->o.event,
        .group = d->t[j->target].group == NO_GROUP ? "" : d->g[d->t[j->target].group]->name,
        .alerts = (const bv_alert *const *)alerts,
        .nalerts = n,
        .keys = j->heartbeat ? NULL : keys,
        .key = mkey.p ? mkey.p : "",
        .drill = drill,
        .now_ms = now(d),
        .every_ms = d->o.watchdog_ms ? d->o.watchdog_ms : AM_REFRESH_MS,
    };
    j->in_flight = 1;
    d->st.messages++;
    int rc = bv_sink_deliver(d->t[j->target].sink, &m, job_done, j);
    if (!j->heartbeat) {
        for (size_t i = 0; i < n; i++) {
            bv_alert_free(alerts[i]);
        }
    }
    free(alerts);
    free(keys);
    bv_buf_free(&mkey);
    if (rc != BV_OK) {
        j->in_flight = 0;
        job_done(j, BV_SINK_RETRY, "could not start");
    }
    return;
retry_later:
    free(alerts);
    free(keys);
    bv_buf_free(&mkey);
    job_done(j, BV_SINK_RETRY, "out of memory");
}

/* Sends pairs (all for target t) in messages of at most JOB_MAX_ALERTS, now. */
static void send_now(bv_dispatch *d, size_t t, bv_msg_kind kind, const pair *p, size_t n)
{
    for (size_t off = 0; off < n; off += JOB_MAX_ALERTS) {
        size_t k = n - off < JOB_MAX_ALERTS ? n - off : JOB_MAX_ALERTS;
        job *j = job_new(d, t, kind, p + off, k);
        if (j == NULL) {
            bv_log(BV_LOG_ERROR, "deliver", "out of memory: %zu deliveries wait for a restart", k);
            continue;
        }
        struct timeval tv = {0, 0};
        evtimer_add(j->timer, &tv);
    }
}

/* ---- groups ---- */

static void group_flush(grp_t *g)
{
    bv_dispatch *d = g->d;
    pair *buf = malloc((g->nq ? g->nq : 1) * sizeof *buf);
    if (buf == NULL) {
        return;
    }
    for (size_t k = 0; k < g->nt; k++) {
        size_t n = 0;
        for (size_t i = 0; i < g->nq; i++) {
            if (find_target(d, g->q[i].e->targets[g->q[i].ti].id) == g->t[k]) {
                buf[n++] = g->q[i];
            }
        }
        if (n) {
            send_now(d, g->t[k], BV_MSG_ALERTS, buf, n);
        }
    }
    free(buf);
    g->nq = 0;
}

static void group_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    grp_t *g = arg;
    if (g->nq == 0) {
        g->open = 0; /* nothing came: the next alert goes out at once */
        return;
    }
    group_flush(g);
    struct timeval tv = tv_of(g->d->o.group_interval_ms);
    evtimer_add(g->timer, &tv);
}

/* Routes one pair: Alertmanager and escalations at once; a group's first alert at once, the
 * ones that follow while it is open in its next batch. */
static void route_pair(bv_dispatch *d, bv_out_entry *e, size_t ti)
{
    size_t t = find_target(d, e->targets[ti].id);
    if (t == NO_GROUP) {
        char why[256];
        snprintf(why, sizeof why, "target %s is not in the config any more", e->targets[ti].id);
        bv_outbox_mark(d->o.outbox, e, ti, BV_OUT_FAILED, 0, why, now(d));
        shared_mark(d, e, ti);
        d->st.failed++;
        audit(d, "failed", e, e->targets[ti].id, 0, why, NULL, NULL);
        bv_log(BV_LOG_ERROR, "deliver", "%s: %s", e->key, why);
        return;
    }
    pair p = {e, ti};
    int esc = is_escalation_key(e->key);
    if (d->t[t].group == NO_GROUP || esc) {
        send_now(d, t, esc ? BV_MSG_ESCALATION : BV_MSG_ALERTS, &p, 1);
        return;
    }
    grp_t *g = d->g[d->t[t].group];
    if (!g->open) {
        /* the first alert of the group goes at once, to this target; the group opens for the
         * rest of this alert's targets in it too (route_alert sends those at once as well) */
        send_now(d, t, BV_MSG_ALERTS, &p, 1);
        return;
    }
    if (g->nq == g->qcap) {
        size_t nc = g->qcap ? g->qcap * 2 : 16;
        pair *nq = realloc(g->q, nc * sizeof *nq);
        if (nq == NULL) {
            send_now(d, t, BV_MSG_ALERTS, &p, 1);
            return;
        }
        g->q = nq;
        g->qcap = nc;
    }
    g->q[g->nq++] = p;
}

/* Routes every pending target of e; groups that were closed open now. */
static void route_entry(bv_dispatch *d, bv_out_entry *e)
{
    for (size_t i = 0; i < e->ntargets; i++) {
        if (e->targets[i].status == BV_OUT_PENDING) {
            route_pair(d, e, i);
        }
    }
    if (is_escalation_key(e->key)) {
        return;
    }
    for (size_t i = 0; i < e->ntargets; i++) {
        size_t t = find_target(d, e->targets[i].id);
        if (t != NO_GROUP && d->t[t].group != NO_GROUP) {
            grp_t *g = d->g[d->t[t].group];
            if (!g->open) {
                g->open = 1;
                struct timeval tv = tv_of(d->o.group_wait_ms);
                evtimer_add(g->timer, &tv);
            }
        }
    }
}

/* ---- escalation ---- */

static void esc_free(esc_timer *x)
{
    bv_dispatch *d = x->d;
    if (x->prev) {
        x->prev->next = x->next;
    } else if (d->esc == x) {
        d->esc = x->next;
    }
    if (x->next) {
        x->next->prev = x->prev;
    }
    event_free(x->ev);
    if (x->checking) {
        x->cancelled = 1; /* the answer from Redis frees it */
        x->prev = x->next = NULL;
        return;
    }
    free(x);
}

static void esc_key(const char *id, size_t step, char out[BV_ALERT_KEY_LEN + 8])
{
    if (step == 0) {
        snprintf(out, BV_ALERT_KEY_LEN + 8, "%s/escalated", id);
    } else {
        snprintf(out, BV_ALERT_KEY_LEN + 8, "%s/escalated-%zu", id, step + 1);
    }
}

/* Adds the targets of the named groups that take severity sev to ids (deduplicated). */
static size_t group_targets(bv_dispatch *d, const char *const *names, size_t nnames,
                            bv_severity sev, const char **ids, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nnames; i++) {
        size_t g = find_group(d, names[i]);
        if (g == NO_GROUP) {
            continue;
        }
        for (size_t k = 0; k < d->g[g]->nt && n < max; k++) {
            tgt_t *t = &d->t[d->g[g]->t[k]];
            int dup = 0;
            for (size_t x = 0; x < n; x++) {
                dup |= strcmp(ids[x], t->id) == 0;
            }
            if (!dup && sev >= t->min) {
                ids[n++] = t->id;
            }
        }
    }
    return n;
}

static bv_severity entry_severity(const bv_out_entry *e, char *rule, size_t rulelen)
{
    char err[128];
    bv_alert *a = bv_alert_parse_json(e->alert, e->alert_len, err, sizeof err);
    bv_severity s = BV_SEV_INFO;
    if (a) {
        s = a->rule->severity;
        if (rule) {
            snprintf(rule, rulelen, "%s", a->rule->id);
        }
        bv_alert_free(a);
    }
    return s;
}

static void esc_fire(evutil_socket_t fd, short what, void *arg);

/* The episode's state in Redis, asked for before an escalation. */
static void esc_episode(void *arg, int state, const char *id)
{
    esc_timer *x = arg;
    x->checking = 0;
    if (x->cancelled) {
        free(x);
        return;
    }
    if ((state == 'R' && id && strcmp(id, x->id) == 0) ||
        (state == 'F' && id && strcmp(id, x->id) != 0)) {
        bv_log(BV_LOG_INFO, "escalate", "%s: resolved (by another process), not escalated", x->id);
        esc_free(x);
        return;
    }
    esc_fire(-1, 0, x); /* still firing here (or unknown: better once than never) */
}

static void esc_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    esc_timer *x = arg;
    bv_dispatch *d = x->d;
    const bv_escalation *s = &d->o.escalation[x->step];
    char key[BV_ALERT_KEY_LEN + 8], fkey[BV_ALERT_KEY_LEN + 8], rkey[BV_ALERT_KEY_LEN + 8];
    snprintf(fkey, sizeof fkey, "%s/firing", x->id);
    snprintf(rkey, sizeof rkey, "%s/resolved", x->id);
    esc_key(x->id, x->step, key);
    bv_out_entry *fe = bv_outbox_find(d->o.outbox, fkey);
    if (d->o.control) {
        bv_control_poll(d->o.control); /* an ack given a moment ago counts */
    }
    const char *by = d->o.control ? bv_control_acked(d->o.control, x->id) : NULL;
    if (fe == NULL || bv_outbox_find(d->o.outbox, rkey) != NULL ||
        bv_outbox_find(d->o.outbox, key) != NULL) {
        esc_free(x); /* resolved meanwhile, or escalated before a restart */
        return;
    }
    if (s->unacknowledged && by) {
        bv_log(BV_LOG_INFO, "escalate", "%s: acknowledged by %s, not escalated", x->id, by);
        esc_free(x);
        return;
    }
    char rule[128] = "";
    bv_severity sev = entry_severity(fe, rule, sizeof rule);
    if (d->o.shared && !x->checked) {
        /* another process may have sent its resolved notice: ask the episode's state */
        x->checked = 1;
        if (bv_shared_episode(d->o.shared, rule, esc_episode, x) == BV_OK) {
            x->checking = 1;
            return;
        }
    }
    const char *ids[256];
    size_t n = group_targets(d, s->notify, s->nnotify, sev, ids, 256);
    bv_out_entry *e = NULL;
    int fresh = 0;
    int rc = bv_outbox_put(d->o.outbox, key, fe->alert, fe->alert_len, now(d),
                           now(d) + d->o.deadline_ms, ids, n, &e, &fresh);
    if (rc != BV_OK || e == NULL) {
        d->st.outbox_errors++;
        bv_log(BV_LOG_ERROR, "escalate", "%s: cannot write to the outbox %s", key,
               bv_outbox_path(d->o.outbox));
        esc_free(x);
        return;
    }
    if (d->o.shared && fresh &&
        bv_shared_put(d->o.shared, rule, key, fe->alert, fe->alert_len, e->at_ms, e->deadline_ms,
                      ids, n) != BV_OK) {
        d->st.outbox_errors++;
    }
    d->st.escalated++;
    bv_log(BV_LOG_WARN, "escalate", "%s (%s) not acknowledged after %llds: to %zu more targets",
           x->id, rule, (long long)(s->after_ms / 1000), n);
    audit(d, "escalated", e, NULL, 0, NULL, rule, x->id);
    route_entry(d, e);
    esc_free(x);
}

static void esc_schedule(bv_dispatch *d, const char *id, bv_severity sev, int64_t fired_ms)
{
    if (d->o.drill) {
        return;
    }
    for (size_t k = 0; k < d->o.nescalation; k++) {
        if (sev < d->o.escalation[k].severity) {
            continue;
        }
        esc_timer *x = calloc(1, sizeof *x);
        if (x == NULL) {
            return;
        }
        x->d = d;
        snprintf(x->id, sizeof x->id, "%s", id);
        x->step = k;
        x->ev = evtimer_new(d->base, esc_fire, x);
        if (x->ev == NULL) {
            free(x);
            return;
        }
        x->next = d->esc;
        if (d->esc) {
            d->esc->prev = x;
        }
        d->esc = x;
        struct timeval tv = tv_of(fired_ms + d->o.escalation[k].after_ms - now(d));
        evtimer_add(x->ev, &tv);
    }
}

/* ---- firing alerts (repeated to Alertmanager) ---- */

static void firing_set(bv_dispatch *d, const char *json, size_t len, const char *id, int on)
{
    for (size_t i = 0; i < d->nfire; i++) {
        if (strcmp(d->fire[i].a->id, id) == 0) {
            bv_alert_free(d->fire[i].a);
            d->fire[i] = d->fire[--d->nfire];
            break;
        }
    }
    if (!on || d->nfire >= FIRING_MAX) {
        return;
    }
    firing *nf = realloc(d->fire, (d->nfire + 1) * sizeof *nf);
    if (nf == NULL) {
        return;
    }
    d->fire = nf;
    char err[128];
    bv_alert *a = bv_alert_parse_json(json, len, err, sizeof err);
    if (a) {
        d->fire[d->nfire++].a = a;
    }
}

/* ---- the way in ---- */

/* The targets alert a goes to (ids borrowed from the dispatcher or the firing entry; at most
 * 257), and the silence that holds it back (then none). A resolved notice goes to the targets
 * of its firing entry when this process has it, else it is routed as a firing alert would be. */
static size_t route_ids(bv_dispatch *d, const bv_alert *a, const char **ids, const bv_silence **sil)
{
    size_t n = 0;
    *sil = NULL;
    if (a->state == BV_ALERT_RESOLVED) {
        char fkey[BV_ALERT_KEY_LEN];
        snprintf(fkey, sizeof fkey, "%s/firing", a->id);
        bv_out_entry *fe = bv_outbox_find(d->o.outbox, fkey);
        if (fe) {
            for (size_t i = 0; i < fe->ntargets && n < 256; i++) {
                ids[n++] = fe->targets[i].id;
            }
            return n;
        }
    } else if (d->o.control) {
        *sil = bv_control_silenced(d->o.control, a->rule->id, now(d));
        if (*sil) {
            return 0;
        }
    }
    if (a->health) {
        n = group_targets(d, d->o.watchdog_notify, d->o.nwatchdog_notify, a->rule->severity, ids,
                          256);
    } else {
        n = group_targets(d, (const char *const *)a->rule->recipients, a->rule->nrecipients,
                          a->rule->severity, ids, 256);
    }
    if (d->am != NO_GROUP) {
        ids[n++] = d->t[d->am].id;
    }
    return n;
}

/* ---- the outbox in Redis ---- */

/* The rule of an entry (from its alert JSON) into out; "" when it does not parse. */
static void entry_rule_id(const bv_out_entry *e, char *out, size_t n)
{
    char err[64];
    bv_alert *a = bv_alert_parse_json(e->alert, e->alert_len, err, sizeof err);
    snprintf(out, n, "%s", a ? a->rule->id : "");
    bv_alert_free(a);
}

/* After a mark: the outcome to Redis, and the lease let go once every target is settled. */
static void shared_mark(bv_dispatch *d, bv_out_entry *e, size_t i)
{
    if (d->o.shared == NULL) {
        return;
    }
    char rule[128];
    entry_rule_id(e, rule, sizeof rule);
    const bv_out_target *t = &e->targets[i];
    bv_shared_mark(d->o.shared, rule, e->key, t->id, t->status == BV_OUT_FAILED, t->attempts,
                   t->done_ms, t->reason);
    if (e->npending == 0) {
        bv_shared_release(d->o.shared, rule, e->key);
    }
}

int bv_dispatch_prepare(void *arg, const bv_alert *a, bv_claim_outbox *ob, bv_buf *scratch)
{
    bv_dispatch *d = arg;
    if (d->o.shared == NULL) {
        return -1;
    }
    const char *ids[300];
    const bv_silence *sil;
    size_t n = route_ids(d, a, ids, &sil);
    bv_buf_reset(scratch);
    char key[BV_ALERT_KEY_LEN];
    bv_alert_key(a, 0, key);
    bv_buf_puts(scratch, key);
    bv_buf_putc(scratch, '\0');
    size_t toff = scratch->len;
    for (size_t i = 0; i < n; i++) {
        bv_buf_printf(scratch, "%s\n", ids[i]);
    }
    bv_buf_putc(scratch, '\0');
    size_t joff = scratch->len;
    if (bv_alert_format_json(a, scratch) != BV_OK || scratch->p == NULL) {
        return -1;
    }
    ob->key = scratch->p;
    ob->targets = scratch->p + toff;
    ob->alert = scratch->p + joff;
    ob->alert_len = scratch->len - joff;
    ob->at_ms = now(d);
    ob->deadline_ms = now(d) + d->o.deadline_ms;
    ob->retention_ms = d->o.retention_ms;
    ob->owner = d->o.owner;
    ob->lease_ms = d->o.lease_ms;
    return 0;
}

/* ---- the way in ---- */

int bv_dispatch_alert(bv_dispatch *d, const bv_alert *a)
{
    char key[BV_ALERT_KEY_LEN];
    bv_alert_key(a, 0, key);
    bv_buf json = BV_BUF_INIT;
    if (bv_alert_format_json(a, &json) != BV_OK) {
        bv_buf_free(&json);
        return BV_ENOMEM;
    }
    d->st.alerts++;
    const char *ids[300];
    const bv_silence *sil = NULL;
    size_t n = route_ids(d, a, ids, &sil);
    if (a->state == BV_ALERT_RESOLVED) {
        for (esc_timer *x = d->esc; x;) {
            esc_timer *nx = x->next;
            if (strcmp(x->id, a->id) == 0) {
                esc_free(x);
            }
            x = nx;
        }
        firing_set(d, NULL, 0, a->id, 0);
    }
    bv_out_entry *e = NULL;
    int fresh = 0;
    int rc = bv_outbox_put(d->o.outbox, key, json.p, json.len, now(d), now(d) + d->o.deadline_ms,
                           ids, n, &e, &fresh);
    if (rc != BV_OK) {
        d->st.outbox_errors++;
        bv_log(BV_LOG_ERROR, "outbox", "%s: cannot write %s (%s)%s", bv_outbox_path(d->o.outbox),
               key, rc == BV_EIO ? "I/O error" : "out of memory",
               e ? ": it is sent all the same, but a restart would not know it" : "");
        if (e == NULL) {
            bv_buf_free(&json);
            return rc == BV_ENOMEM ? BV_ENOMEM : BV_OK;
        }
    }
    if (!fresh) {
        bv_buf_free(&json); /* sent before (a restart re-fired it): nothing new */
        return BV_OK;
    }
    if (d->o.shared) {
        /* the claim wrote the entry and its lease in Redis; without one (the store could not
         * claim, or a health alert), it is written now */
        int src = a->in_outbox ? bv_shared_hold(d->o.shared, a->rule->id, key)
                               : bv_shared_put(d->o.shared, a->rule->id, key, json.p, json.len,
                                               e->at_ms, e->deadline_ms, ids, n);
        if (src != BV_OK) {
            d->st.outbox_errors++;
        }
        if (e->ntargets == 0) {
            bv_shared_release(d->o.shared, a->rule->id, key);
        }
    }
    if (sil) {
        d->st.silenced++;
        audit(d, "silenced", e, NULL, 0, sil->reason, a->rule->id, a->id);
        char until[BV_TIME_ISO_LEN];
        bv_log(BV_LOG_INFO, "silence", "%s (%s) held back: silenced by %s until %s", a->id,
               a->rule->id, sil->by, bv_time_format_amsterdam(sil->until_ms, until));
    } else {
        if (a->state == BV_ALERT_FIRING && !a->health) {
            esc_schedule(d, a->id, a->rule->severity, now(d));
        }
        if (a->state == BV_ALERT_FIRING) {
            firing_set(d, json.p, json.len, a->id, 1); /* heartbeats count and repeat them */
        }
        route_entry(d, e);
    }
    bv_buf_free(&json);
    return BV_OK;
}

/* Sends again what an entry has pending (past its deadline: failed, with why_late), and
 * schedules the escalations of a firing alert that did not resolve: at start (from the spool)
 * and when an entry is taken over (from Redis). */
static void resume_entry(bv_dispatch *d, bv_out_entry *e, const char *why_late)
{
    int64_t t = now(d);
    for (size_t k = 0; k < e->ntargets && e->npending > 0; k++) {
        if (e->targets[k].status != BV_OUT_PENDING) {
            continue;
        }
        d->st.resumed++;
        if (e->deadline_ms < t) {
            bv_outbox_mark(d->o.outbox, e, k, BV_OUT_FAILED, e->targets[k].attempts, why_late, t);
            d->st.failed++;
            audit(d, "failed", e, e->targets[k].id, 0, why_late, NULL, NULL);
            shared_mark(d, e, k);
            continue;
        }
        size_t tg = find_target(d, e->targets[k].id);
        pair p = {e, k};
        if (tg == NO_GROUP) {
            route_pair(d, e, k); /* fails it, saying why */
        } else {
            send_now(d, tg, is_escalation_key(e->key) ? BV_MSG_ESCALATION : BV_MSG_ALERTS, &p, 1);
        }
    }
    size_t kl = strlen(e->key);
    if (kl > 7 && strcmp(e->key + kl - 7, "/firing") == 0 && e->ntargets > 0 && !d->o.drill) {
        char id[33], rkey[BV_ALERT_KEY_LEN];
        key_id(e->key, id);
        snprintf(rkey, sizeof rkey, "%s/resolved", id);
        if (bv_outbox_find(d->o.outbox, rkey) == NULL) {
            esc_schedule(d, id, entry_severity(e, NULL, 0), e->at_ms);
        }
    }
}

/* An entry another process (or this one, before a restart) claimed and did not finish: its
 * lease is ours now. */
void bv_dispatch_found(void *arg, const bv_outbox_found *f)
{
    bv_dispatch *d = arg;
    if (bv_outbox_find(d->o.outbox, f->key) != NULL) {
        return; /* known here already */
    }
    bv_out_entry *e = NULL;
    int fresh = 0;
    if (bv_outbox_put(d->o.outbox, f->key, f->alert, f->alert_len, f->at_ms, f->deadline_ms,
                      f->targets, f->ntargets, &e, &fresh) != BV_OK ||
        e == NULL) {
        return;
    }
    bv_shared_apply_outcomes(d->o.outbox, e, f);
    bv_log(BV_LOG_INFO, "outbox", "taking over %s: %zu deliveries pending", e->key, e->npending);
    resume_entry(d, e, "its deadline passed before a process could deliver it");
}

/* ---- watchdog and control ---- */

static void watchdog_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_dispatch *d = arg;
    const char *ids[256];
    size_t n = 0;
    if (d->o.watchdog_ms > 0) {
        n = group_targets(d, d->o.watchdog_notify, d->o.nwatchdog_notify, BV_SEV_CRITICAL, ids,
                          255);
    }
    if (d->am != NO_GROUP) {
        ids[n++] = d->t[d->am].id;
    }
    for (size_t i = 0; i < n; i++) {
        job *j = job_new(d, find_target(d, ids[i]), BV_MSG_HEARTBEAT, NULL, 0);
        if (j) {
            j->heartbeat = 1;
            d->st.heartbeats++;
            job_attempt(-1, 0, j);
        }
    }
    struct timeval tv = tv_of(d->o.watchdog_ms > 0 ? d->o.watchdog_ms : AM_REFRESH_MS);
    evtimer_add(d->watchdog, &tv);
}

static void poll_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_dispatch *d = arg;
    bv_control_poll(d->o.control);
    struct timeval tv = {1, 0};
    evtimer_add(d->poll, &tv);
}

/* ---- life ---- */

bv_dispatch *bv_dispatch_new(struct event_base *base, const bv_clock *clock,
                             const bv_dispatch_opts *o)
{
    if (o->outbox == NULL || o->event == NULL) {
        return NULL;
    }
    bv_dispatch *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return NULL;
    }
    d->base = base;
    d->clock = clock;
    d->o = *o;
    d->am = NO_GROUP;
    if (d->o.group_wait_ms <= 0) {
        d->o.group_wait_ms = 30000;
    }
    if (d->o.group_interval_ms <= 0) {
        d->o.group_interval_ms = 300000;
    }
    if (d->o.retry_min_ms <= 0) {
        d->o.retry_min_ms = 1000;
    }
    if (d->o.retry_max_ms < d->o.retry_min_ms) {
        d->o.retry_max_ms = d->o.retry_min_ms > 300000 ? d->o.retry_min_ms : 300000;
    }
    if (d->o.deadline_ms <= 0) {
        d->o.deadline_ms = 7200000;
    }
    d->rng = o->seed ? o->seed : (uint64_t)bv_mono_ms(clock) ^ 0x5deece66dull;
    d->watchdog = evtimer_new(base, watchdog_tick, d);
    d->poll = evtimer_new(base, poll_tick, d);
    if (d->watchdog == NULL || d->poll == NULL) {
        bv_dispatch_free(d);
        return NULL;
    }
    return d;
}

static int add_target(bv_dispatch *d, const char *id, size_t group, bv_sink *sink, bv_severity min)
{
    tgt_t *nt = realloc(d->t, (d->nt + 1) * sizeof *nt);
    if (nt == NULL) {
        bv_sink_free(sink);
        return BV_ENOMEM;
    }
    d->t = nt;
    tgt_t *t = &d->t[d->nt];
    memset(t, 0, sizeof *t);
    if ((t->id = strdup(id)) == NULL) {
        bv_sink_free(sink);
        return BV_ENOMEM;
    }
    t->group = group;
    t->sink = sink;
    t->min = min;
    d->nt++;
    return BV_OK;
}

int bv_dispatch_add_target(bv_dispatch *d, const char *group, bv_sink *sink,
                           bv_severity min_severity)
{
    if (d->nt >= 250 || strchr(group, '/') != NULL || *group == '\0') {
        bv_sink_free(sink);
        return BV_EINVAL;
    }
    size_t g = find_group(d, group);
    if (g == NO_GROUP) {
        grp_t **ng = realloc(d->g, (d->ng + 1) * sizeof *ng);
        grp_t *x = calloc(1, sizeof *x);
        if (ng) {
            d->g = ng;
        }
        if (ng == NULL || x == NULL || (x->name = strdup(group)) == NULL ||
            (x->timer = evtimer_new(d->base, group_timer, x)) == NULL) {
            if (x) {
                free(x->name);
                free(x);
            }
            bv_sink_free(sink);
            return BV_ENOMEM;
        }
        x->d = d;
        g = d->ng++;
        d->g[g] = x;
    }
    char id[300];
    snprintf(id, sizeof id, "%s/%zu:%s", group, d->g[g]->nt, sink->ops->name);
    size_t *nt = realloc(d->g[g]->t, (d->g[g]->nt + 1) * sizeof *nt);
    if (nt == NULL) {
        bv_sink_free(sink);
        return BV_ENOMEM;
    }
    d->g[g]->t = nt;
    int rc = add_target(d, id, g, sink, min_severity);
    if (rc == BV_OK) {
        d->g[g]->t[d->g[g]->nt++] = d->nt - 1;
    }
    return rc;
}

int bv_dispatch_set_alertmanager(bv_dispatch *d, bv_sink *sink)
{
    if (d->am != NO_GROUP) {
        bv_sink_free(sink);
        return BV_EINVAL;
    }
    int rc = add_target(d, "alertmanager", NO_GROUP, sink, BV_SEV_INFO);
    if (rc == BV_OK) {
        d->am = d->nt - 1;
    }
    return rc;
}

int bv_dispatch_start(bv_dispatch *d)
{
    for (size_t i = 0; i < bv_outbox_count(d->o.outbox); i++) {
        resume_entry(d, bv_outbox_get(d->o.outbox, i),
                     "its deadline passed while blikveld was not running");
    }
    if (d->st.resumed) {
        bv_log(BV_LOG_INFO, "outbox", "%s: %llu deliveries were pending: resumed",
               bv_outbox_path(d->o.outbox), (unsigned long long)d->st.resumed);
    }
    if ((d->o.watchdog_ms > 0 || d->am != NO_GROUP) && !d->o.drill) {
        /* a watchdog's first heartbeat says at once that blikveld is up */
        struct timeval tv = tv_of(d->o.watchdog_ms > 0 ? 0 : AM_REFRESH_MS);
        evtimer_add(d->watchdog, &tv);
    }
    if (d->o.control) {
        struct timeval tv = {1, 0};
        evtimer_add(d->poll, &tv);
    }
    return BV_OK;
}

void bv_dispatch_stop_timers(bv_dispatch *d)
{
    evtimer_del(d->watchdog);
    evtimer_del(d->poll);
    while (d->esc) {
        esc_free(d->esc);
    }
}

void bv_dispatch_flush_groups(bv_dispatch *d)
{
    for (size_t i = 0; i < d->ng; i++) {
        if (d->g[i]->nq) {
            group_flush(d->g[i]);
        }
    }
}

size_t bv_dispatch_pending(const bv_dispatch *d)
{
    size_t n = 0;
    for (const job *j = d->jobs; j; j = j->next) {
        n += j->heartbeat ? 0 : j->n;
    }
    for (size_t i = 0; i < d->ng; i++) {
        n += d->g[i]->nq;
    }
    return n;
}

size_t bv_dispatch_targets(const bv_dispatch *d)
{
    return d->nt;
}

void bv_dispatch_target_get(const bv_dispatch *d, size_t i, bv_dispatch_target_stats *out)
{
    const tgt_t *t = &d->t[i];
    out->id = t->id;
    out->sink = t->sink->ops->name;
    out->delivered = t->delivered;
    out->retried = t->retried;
    out->failed = t->failed;
}

void bv_dispatch_stats_get(const bv_dispatch *d, bv_dispatch_stats *out)
{
    *out = d->st;
    out->pending = bv_dispatch_pending(d);
}

void bv_dispatch_free(bv_dispatch *d)
{
    if (d == NULL) {
        return;
    }
    while (d->jobs) {
        job_free(d->jobs);
    }
    while (d->esc) {
        esc_free(d->esc);
    }
    for (size_t i = 0; i < d->nt; i++) {
        bv_sink_free(d->t[i].sink); /* stops what is in flight, without callbacks */
        free(d->t[i].id);
    }
    free(d->t);
    for (size_t i = 0; i < d->ng; i++) {
        if (d->g[i]->timer) {
            event_free(d->g[i]->timer);
        }
        free(d->g[i]->name);
        free(d->g[i]->t);
        free(d->g[i]->q);
        free(d->g[i]);
    }
    free(d->g);
    for (size_t i = 0; i < d->nfire; i++) {
        bv_alert_free(d->fire[i].a);
    }
    free(d->fire);
    if (d->watchdog) {
        event_free(d->watchdog);
    }
    if (d->poll) {
        event_free(d->poll);
    }
    free(d);
}
