/* test_dispatch.c: the alerter on a real event loop, with recording sinks that answer as each
 * test scripts: routing by recipients and severity, resolved notices to whoever got the firing
 * alert, grouping (the first at once, the rest together), retries with backoff until success
 * or the deadline, FAIL at once, resuming from the outbox after a "crash", silences,
 * escalation (and an ack or a resolve that stops it), heartbeats, and a repeated alert sent
 * once. Delays are configured small; the loop runs until a condition holds, never sleeps. */
#include "testutil.h"

#include "alert/audit.h"
#include "alert/control.h"
#include "alert/dispatch.h"
#include "alert/outbox.h"
#include "core/err.h"
#include "core/file.h"

#include <event2/event.h>
#include <ftw.h>
#include <unistd.h>

#define MAXREC 64

/* ---- a sink that records what it is given and answers from a script ---- */

typedef struct rec_msg {
    bv_msg_kind kind;
    char group[32];
    size_t nalerts;
    char key[512];
    int drill;
} rec_msg;

typedef struct rec_sink rec_sink;

/* One answer on its way (the sink answers from the loop, as real sinks do). */
typedef struct rec_pending {
    rec_sink *r;
    struct event *ev;
    bv_sink_done_cb *done;
    void *arg;
    bv_sink_result answer;
    struct rec_pending *next;
} rec_pending;

struct rec_sink {
    bv_sink base;
    struct event_base *evb;
    const bv_sink_result *script; /* answers in turn; past its end: OK */
    size_t nscript, used;
    rec_msg msgs[MAXREC];
    size_t nmsgs;
    rec_pending *pending; /* answers not given yet */
};

static void rec_unlink(rec_sink *r, rec_pending *p)
{
    for (rec_pending **pp = &r->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    event_free(p->ev);
    free(p);
}

static void rec_answer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rec_pending *p = arg;
    bv_sink_done_cb *done = p->done;
    void *darg = p->arg;
    bv_sink_result answer = p->answer;
    rec_unlink(p->r, p);
    done(darg, answer, answer == BV_SINK_OK ? "ok" : "HTTP 503");
}

static int rec_deliver(bv_sink *s, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    rec_sink *r = (rec_sink *)s;
    if (r->nmsgs < MAXREC) {
        rec_msg *x = &r->msgs[r->nmsgs++];
        x->kind = m->kind;
        snprintf(x->group, sizeof x->group, "%s", m->group);
        x->nalerts = m->nalerts;
        snprintf(x->key, sizeof x->key, "%s", m->key);
        x->drill = m->drill;
    }
    rec_pending *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->r = r;
    p->answer = r->used < r->nscript ? r->script[r->used] : BV_SINK_OK;
    r->used++;
    p->done = done;
    p->arg = arg;
    p->ev = event_new(r->evb, -1, 0, rec_answer, p);
    assert_non_null(p->ev);
    p->next = r->pending;
    r->pending = p;
    event_active(p->ev, EV_TIMEOUT, 0);
    return BV_OK;
}

static void rec_free(bv_sink *s)
{
    rec_sink *r = (rec_sink *)s;
    while (r->pending) {
        rec_unlink(r, r->pending); /* dropped without an answer, as the interface says */
    }
    free(s->label);
    /* the test keeps reading msgs after the dispatcher is gone: freed by the test */
}

static const bv_sink_ops rec_ops = {"rec", NULL, rec_deliver, rec_free};

static rec_sink *rec_new(struct event_base *evb, const bv_sink_result *script, size_t n)
{
    rec_sink *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->base.ops = &rec_ops;
    r->base.label = strdup("rec");
    r->evb = evb;
    r->script = script;
    r->nscript = n;
    return r;
}

/* ---- fixture ---- */

typedef struct fx {
    char dir[64], outdir[128], auditdir[128], ctldir[128];
    struct event_base *evb;
    bv_fake_clock fc;
    bv_outbox *ob;
    bv_control *ctl;
    bv_dispatch *d;
    rec_sink *police0, *police1, *mayor0, *am;
    bv_escalation esc;
    const char *esc_notify[1];
    const char *wd_notify[1];
} fx;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void fx_open_outbox(fx *f)
{
    char err[256];
    bv_outbox_opts oo = {.now_ms = f->fc.now};
    assert_int_equal(bv_outbox_open(&f->ob, f->outdir, "live/test", &oo, err, sizeof err), BV_OK);
}

static void fx_init(fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/bv-dispatch-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->outdir, sizeof f->outdir, "%s/outbox", f->dir);
    snprintf(f->auditdir, sizeof f->auditdir, "%s/audit", f->dir);
    snprintf(f->ctldir, sizeof f->ctldir, "%s/control", f->dir);
    f->evb = event_base_new();
    assert_non_null(f->evb);
    bv_fake_clock_init(&f->fc, 1781000000000LL);
    fx_open_outbox(f);
    f->ctl = bv_control_open(f->ctldir, "test", NULL, NULL);
    assert_non_null(f->ctl);
}

/* The dispatcher with groups police (two targets, the second for critical only) and mayor,
 * and an Alertmanager, each a recording sink with its script. */
static void fx_dispatch(fx *f, bv_dispatch_opts *o, const bv_sink_result *ps, size_t nps)
{
    o->event = "test";
    o->outbox = f->ob;
    o->control = f->ctl;
    o->audit_dir = f->auditdir;
    o->seed = 7;
    if (o->group_wait_ms == 0) {
        o->group_wait_ms = 60000;
    }
    f->d = bv_dispatch_new(f->evb, &f->fc.clock, o);
    assert_non_null(f->d);
    f->police0 = rec_new(f->evb, ps, nps);
    f->police1 = rec_new(f->evb, NULL, 0);
    f->mayor0 = rec_new(f->evb, NULL, 0);
    f->am = rec_new(f->evb, NULL, 0);
    assert_int_equal(bv_dispatch_add_target(f->d, "police", &f->police0->base, BV_SEV_INFO), 0);
    assert_int_equal(bv_dispatch_add_target(f->d, "police", &f->police1->base, BV_SEV_CRITICAL), 0);
    assert_int_equal(bv_dispatch_add_target(f->d, "mayor", &f->mayor0->base, BV_SEV_INFO), 0);
    assert_int_equal(bv_dispatch_set_alertmanager(f->d, &f->am->base), 0);
    assert_true(bv_dispatch_has_group(f->d, "police"));
    assert_false(bv_dispatch_has_group(f->d, "comms"));
    assert_int_equal(bv_dispatch_start(f->d), 0);
}

static void fx_free_sinks(fx *f)
{
    free(f->police0);
    free(f->police1);
    free(f->mayor0);
    free(f->am);
    f->police0 = f->police1 = f->mayor0 = f->am = NULL;
}

static void fx_done(fx *f)
{
    bv_dispatch_free(f->d);
    fx_free_sinks(f);
    bv_outbox_close(f->ob);
    bv_control_free(f->ctl);
    event_base_free(f->evb);
    nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Runs the loop until cond(f) holds; fails after 5 s of wall time. */
static void run_until(fx *f, int (*cond)(fx *), const char *what)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!cond(f)) {
        event_base_loop(f->evb, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > 5000) {
            fail_msg("timed out waiting for %s", what);
        }
    }
}

static int nothing_pending(fx *f)
{
    return bv_dispatch_pending(f->d) == 0;
}

/* ---- alerts ---- */

static char police_s[] = "police", mayor_s[] = "mayor";
static char *police_mayor[] = {police_s, mayor_s};
static char *police_only[] = {police_s};

static char rwarn_id[] = "r-warn", rwarn_title[] = "Waarschuwing";
static char rcrit_id[] = "r-crit", rcrit_title[] = "Kritiek";
static bv_rule rule_warn = {.id = rwarn_id,
                            .title = rwarn_title,
                            .severity = BV_SEV_WARNING,
                            .recipients = police_mayor,
                            .nrecipients = 2};
static bv_rule rule_crit = {.id = rcrit_id,
                            .title = rcrit_title,
                            .severity = BV_SEV_CRITICAL,
                            .recipients = police_only,
                            .nrecipients = 1};

static bv_alert mk(const bv_rule *r, const char *id, bv_alert_state st, int64_t at)
{
    bv_alert a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "%s", id);
    a.state = st;
    a.event = (char *)"test";
    a.rule = r;
    a.at_ms = at;
    if (st == BV_ALERT_RESOLVED) {
        a.since_ms = at - 60000;
    }
    return a;
}

static size_t audit_count(fx *f, const char *what)
{
    char path[256], *text = NULL, needle[64];
    size_t len = 0, n = 0;
    int err;
    snprintf(path, sizeof path, "%s/test.jsonl", f->auditdir);
    if (bv_file_read(path, 1 << 20, &text, &len, &err) != 0) {
        return 0;
    }
    snprintf(needle, sizeof needle, "\"what\":\"%s\"", what);
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    free(text);
    return n;
}

/* ---- tests ---- */

static void test_routing(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    bv_dispatch_opts o = {0};
    fx_dispatch(&f, &o, NULL, 0);
    bv_alert a = mk(&rule_warn, "aaaa0000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    /* persisted before anything was delivered */
    bv_out_entry *e = bv_outbox_find(f.ob, "aaaa0000000000000000000000000001/firing");
    assert_non_null(e);
    assert_int_equal(e->ntargets, 3); /* police/0, mayor/0, alertmanager: not police/1 (critical) */
    assert_string_equal(e->targets[0].id, "police/0:rec");
    assert_string_equal(e->targets[1].id, "mayor/0:rec");
    assert_string_equal(e->targets[2].id, "alertmanager");
    assert_int_equal(f.police0->nmsgs + f.mayor0->nmsgs, 0);
    run_until(&f, nothing_pending, "deliveries");
    assert_int_equal(f.police0->nmsgs, 1);
    assert_int_equal(f.police1->nmsgs, 0);
    assert_int_equal(f.mayor0->nmsgs, 1);
    assert_int_equal(f.am->nmsgs, 1);
    assert_string_equal(f.police0->msgs[0].group, "police");
    assert_string_equal(f.police0->msgs[0].key, "aaaa0000000000000000000000000001/firing");
    assert_int_equal(f.police0->msgs[0].kind, BV_MSG_ALERTS);
    assert_int_equal(e->npending, 0);
    assert_int_equal(e->targets[0].status, BV_OUT_DELIVERED);
    assert_int_equal(audit_count(&f, "delivered"), 3);

    /* the resolved notice goes to the same three, although the group is open: it is queued for
     * the group's next batch, so flush it */
    bv_alert r =
        mk(&rule_warn, "aaaa0000000000000000000000000001", BV_ALERT_RESOLVED, f.fc.now + 600000);
    assert_int_equal(bv_dispatch_alert(f.d, &r), 0);
    bv_out_entry *re = bv_outbox_find(f.ob, "aaaa0000000000000000000000000001/resolved");
    assert_non_null(re);
    assert_int_equal(re->ntargets, 3);
    bv_dispatch_flush_groups(f.d);
    run_until(&f, nothing_pending, "resolved deliveries");
    assert_int_equal(f.police0->nmsgs, 2);
    assert_string_equal(f.police0->msgs[1].key, "aaaa0000000000000000000000000001/resolved");
    assert_int_equal(f.am->nmsgs, 2);

    /* the same alert again (a restart that fired it anew): nothing new is sent */
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    run_until(&f, nothing_pending, "nothing");
    assert_int_equal(f.police0->nmsgs, 2);
    bv_dispatch_stats ds;
    bv_dispatch_stats_get(f.d, &ds);
    assert_int_equal(ds.delivered, 6);
    assert_int_equal(ds.failed, 0);
    fx_done(&f);
}

static int police_has_two(fx *f)
{
    return f->police0->nmsgs >= 2 && bv_dispatch_pending(f->d) == 0;
}

static void test_grouping(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    bv_dispatch_opts o = {.group_wait_ms = 80, .group_interval_ms = 80};
    fx_dispatch(&f, &o, NULL, 0);
    bv_alert a1 = mk(&rule_crit, "bbbb0000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    bv_alert a2 = mk(&rule_crit, "bbbb0000000000000000000000000002", BV_ALERT_FIRING, f.fc.now);
    bv_alert a3 = mk(&rule_crit, "bbbb0000000000000000000000000003", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &a1), 0);
    assert_int_equal(bv_dispatch_alert(f.d, &a2), 0);
    assert_int_equal(bv_dispatch_alert(f.d, &a3), 0);
    /* the first went at once (to both police targets: it is critical); the others wait */
    assert_int_equal(bv_dispatch_pending(f.d), 2 + 4 + 3 - 0);
    run_until(&f, police_has_two, "the grouped message");
    assert_int_equal(f.police0->nmsgs, 2);
    assert_int_equal(f.police0->msgs[0].nalerts, 1);
    assert_int_equal(f.police0->msgs[1].nalerts, 2);
    assert_string_equal(f.police0->msgs[1].key, "bbbb0000000000000000000000000002/firing,"
                                                "bbbb0000000000000000000000000003/firing");
    assert_int_equal(f.police1->nmsgs, 2);
    assert_int_equal(f.am->nmsgs, 3); /* Alertmanager groups by itself: each at once */
    fx_done(&f);
}

static const bv_sink_result retry_twice[] = {BV_SINK_RETRY, BV_SINK_RETRY};
static const bv_sink_result always_retry[] = {BV_SINK_RETRY, BV_SINK_RETRY, BV_SINK_RETRY,
                                              BV_SINK_RETRY, BV_SINK_RETRY, BV_SINK_RETRY,
                                              BV_SINK_RETRY, BV_SINK_RETRY, BV_SINK_RETRY};
static const bv_sink_result refuse[] = {BV_SINK_FAIL};

static void test_retry_then_ok(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    bv_dispatch_opts o = {.retry_min_ms = 5, .retry_max_ms = 20};
    fx_dispatch(&f, &o, retry_twice, 2);
    bv_alert a = mk(&rule_crit, "cccc0000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    run_until(&f, nothing_pending, "retries");
    assert_int_equal(f.police0->nmsgs, 3);
    /* the same key every time: a receiver that drops repeats sees it once */
    assert_string_equal(f.police0->msgs[2].key, f.police0->msgs[0].key);
    bv_out_entry *e = bv_outbox_find(f.ob, "cccc0000000000000000000000000001/firing");
    assert_int_equal(e->targets[0].status, BV_OUT_DELIVERED);
    assert_int_equal(e->targets[0].attempts, 3);
    assert_int_equal(audit_count(&f, "retry"), 2);
    bv_dispatch_stats ds;
    bv_dispatch_stats_get(f.d, &ds);
    assert_int_equal(ds.retries, 2);
    fx_done(&f);
}

static void test_deadline_and_fail(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    /* the fake clock does not move: the deadline passes because the next wait would end after
     * it (deadline 30 ms, waits 20..40 ms) */
    bv_dispatch_opts o = {.retry_min_ms = 40, .retry_max_ms = 40, .deadline_ms = 30};
    fx_dispatch(&f, &o, always_retry, 9);
    f.mayor0->script = refuse;
    f.mayor0->nscript = 1;
    bv_alert a = mk(&rule_warn, "dddd0000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    run_until(&f, nothing_pending, "give up");
    bv_out_entry *e = bv_outbox_find(f.ob, "dddd0000000000000000000000000001/firing");
    assert_int_equal(e->targets[0].status, BV_OUT_FAILED);
    assert_non_null(strstr(e->targets[0].reason, "deadline"));
    assert_int_equal(e->targets[1].status, BV_OUT_FAILED); /* mayor: refused for good */
    assert_int_equal(e->targets[1].attempts, 1);
    assert_int_equal(f.mayor0->nmsgs, 1);
    assert_int_equal(audit_count(&f, "failed"), 2);
    fx_done(&f);
}

static void test_resume(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    /* a first process puts two alerts and dies before delivering: its sinks never answer */
    bv_dispatch_opts o = {0};
    fx_dispatch(&f, &o, NULL, 0);
    bv_alert a = mk(&rule_crit, "eeee0000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    bv_dispatch_free(f.d); /* in flight: dropped without an answer, as by SIGKILL */
    fx_free_sinks(&f);
    bv_outbox_close(f.ob);
    /* the next process finds them pending and delivers each once */
    fx_open_outbox(&f);
    bv_dispatch_opts o2 = {0};
    fx_dispatch(&f, &o2, NULL, 0);
    run_until(&f, nothing_pending, "resumed deliveries");
    assert_int_equal(f.police0->nmsgs, 1);
    assert_int_equal(f.police1->nmsgs, 1);
    assert_int_equal(f.am->nmsgs, 1);
    assert_string_equal(f.police0->msgs[0].key, "eeee0000000000000000000000000001/firing");
    bv_dispatch_stats ds;
    bv_dispatch_stats_get(f.d, &ds);
    assert_int_equal(ds.resumed, 3);
    bv_dispatch_free(f.d);
    f.d = NULL;
    fx_free_sinks(&f);
    bv_outbox_close(f.ob);
    /* and a third finds nothing left to do */
    fx_open_outbox(&f);
    fx_dispatch(&f, &o2, NULL, 0);
    run_until(&f, nothing_pending, "nothing");
    assert_int_equal(f.police0->nmsgs, 0);
    fx_done(&f);
}

static void test_resume_past_deadline(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    bv_dispatch_opts o = {.deadline_ms = 60000};
    fx_dispatch(&f, &o, NULL, 0);
    bv_alert a = mk(&rule_warn, "ffff0000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    bv_dispatch_free(f.d);
    fx_free_sinks(&f);
    bv_outbox_close(f.ob);
    bv_fake_clock_advance(&f.fc, 120000); /* down for two minutes: past the deadline */
    fx_open_outbox(&f);
    fx_dispatch(&f, &o, NULL, 0);
    run_until(&f, nothing_pending, "nothing");
    assert_int_equal(f.police0->nmsgs, 0);
    bv_out_entry *e = bv_outbox_find(f.ob, "ffff0000000000000000000000000001/firing");
    for (size_t i = 0; i < e->ntargets; i++) {
        assert_int_equal(e->targets[i].status, BV_OUT_FAILED);
        assert_non_null(strstr(e->targets[i].reason, "deadline"));
    }
    fx_done(&f);
}

static void test_silence(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    char err[256];
    assert_int_equal(bv_control_append_silence(f.ctldir, "test", "r-warn", f.fc.now + 3600000,
                                               "kabinet", "bekend: oefening", f.fc.now, err,
                                               sizeof err),
                     0);
    assert_int_equal(bv_control_poll(f.ctl), 1);
    bv_dispatch_opts o = {0};
    fx_dispatch(&f, &o, NULL, 0);
    bv_alert a = mk(&rule_warn, "a1110000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    bv_out_entry *e = bv_outbox_find(f.ob, "a1110000000000000000000000000001/firing");
    assert_non_null(e);
    assert_int_equal(e->ntargets, 0);
    bv_alert r = mk(&rule_warn, "a1110000000000000000000000000001", BV_ALERT_RESOLVED, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &r), 0);
    assert_int_equal(bv_outbox_find(f.ob, "a1110000000000000000000000000001/resolved")->ntargets,
                     0);
    /* another rule is not silenced */
    bv_alert c = mk(&rule_crit, "a1110000000000000000000000000002", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &c), 0);
    run_until(&f, nothing_pending, "deliveries");
    assert_int_equal(f.mayor0->nmsgs, 0);
    assert_int_equal(f.police0->nmsgs, 1);
    assert_string_equal(f.police0->msgs[0].key, "a1110000000000000000000000000002/firing");
    assert_int_equal(audit_count(&f, "silenced"), 1);
    fx_done(&f);
}

static int mayor_has_one(fx *f)
{
    return f->mayor0->nmsgs >= 1 && f->mayor0->pending == NULL;
}

static void test_escalation(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.esc_notify[0] = "mayor";
    f.esc = (bv_escalation){.after_ms = 30,
                            .severity = BV_SEV_CRITICAL,
                            .unacknowledged = 1,
                            .notify = f.esc_notify,
                            .nnotify = 1};
    bv_dispatch_opts o = {.escalation = &f.esc, .nescalation = 1};
    fx_dispatch(&f, &o, NULL, 0);
    /* three critical alerts: one nobody acknowledges, one acknowledged, one resolved */
    bv_alert a = mk(&rule_crit, "e5c00000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    bv_alert b = mk(&rule_crit, "e5c00000000000000000000000000002", BV_ALERT_FIRING, f.fc.now);
    bv_alert c = mk(&rule_crit, "e5c00000000000000000000000000003", BV_ALERT_FIRING, f.fc.now);
    bv_alert w = mk(&rule_warn, "e5c00000000000000000000000000004", BV_ALERT_FIRING, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    assert_int_equal(bv_dispatch_alert(f.d, &b), 0);
    assert_int_equal(bv_dispatch_alert(f.d, &c), 0);
    char err[256];
    assert_int_equal(
        bv_control_append_ack(f.ctldir, "test", b.id, "politie-oc", f.fc.now, err, sizeof err), 0);
    assert_int_equal(bv_control_poll(f.ctl), 1);
    bv_alert cr = mk(&rule_crit, c.id, BV_ALERT_RESOLVED, f.fc.now);
    assert_int_equal(bv_dispatch_alert(f.d, &cr), 0);
    run_until(&f, mayor_has_one, "the escalation");
    assert_int_equal(f.mayor0->nmsgs, 1);
    assert_int_equal(f.mayor0->msgs[0].kind, BV_MSG_ESCALATION);
    assert_string_equal(f.mayor0->msgs[0].key, "e5c00000000000000000000000000001/escalated");
    assert_non_null(bv_outbox_find(f.ob, "e5c00000000000000000000000000001/escalated"));
    assert_null(bv_outbox_find(f.ob, "e5c00000000000000000000000000002/escalated"));
    assert_null(bv_outbox_find(f.ob, "e5c00000000000000000000000000003/escalated"));
    assert_int_equal(audit_count(&f, "escalated"), 1);
    /* a warning never escalates (the step is for critical) */
    assert_int_equal(bv_dispatch_alert(f.d, &w), 0);
    bv_dispatch_flush_groups(f.d);
    run_until(&f, nothing_pending, "the warning");
    assert_null(bv_outbox_find(f.ob, "e5c00000000000000000000000000004/escalated"));
    fx_done(&f);
}

static int heartbeats_seen(fx *f)
{
    return f->police0->nmsgs >= 2 && f->am->nmsgs >= 3 && f->police0->pending == NULL &&
           f->am->pending == NULL;
}

static void test_watchdog(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.wd_notify[0] = "police";
    bv_dispatch_opts o = {.watchdog_ms = 20, .watchdog_notify = f.wd_notify, .nwatchdog_notify = 1};
    fx_dispatch(&f, &o, NULL, 0);
    bv_alert a = mk(&rule_warn, "9d000000000000000000000000000001", BV_ALERT_FIRING, f.fc.now);
    /* the alert goes to mayor and Alertmanager only when police is not among its groups:
     * r-warn names police too, so police gets the alert and the heartbeats */
    assert_int_equal(bv_dispatch_alert(f.d, &a), 0);
    run_until(&f, heartbeats_seen, "heartbeats");
    size_t hb = 0, am_hb_with_alert = 0;
    for (size_t i = 0; i < f.police0->nmsgs; i++) {
        hb += f.police0->msgs[i].kind == BV_MSG_HEARTBEAT;
    }
    for (size_t i = 0; i < f.am->nmsgs; i++) {
        am_hb_with_alert += f.am->msgs[i].kind == BV_MSG_HEARTBEAT && f.am->msgs[i].nalerts == 1;
    }
    assert_true(hb >= 1);
    assert_true(am_hb_with_alert >= 1);   /* the firing alert is repeated to Alertmanager */
    assert_int_equal(f.mayor0->nmsgs, 1); /* mayor is not a watchdog group: the alert only */
    bv_dispatch_stop_timers(f.d);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),       cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_retry_then_ok), cmocka_unit_test(test_deadline_and_fail),
        cmocka_unit_test(test_resume),        cmocka_unit_test(test_resume_past_deadline),
        cmocka_unit_test(test_silence),       cmocka_unit_test(test_escalation),
        cmocka_unit_test(test_watchdog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
