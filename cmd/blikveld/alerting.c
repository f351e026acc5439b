/* alerting.c: the config keys of alert delivery (recipients, smtp, alertmanager, retention,
 * language, console_url, escalation, grouping, watchdog, delivery), their checks, and wiring
 * them into sinks, the outbox, acks and silences and the dispatcher, for run, replay --deliver
 * and outbox --flush. No logic of its own. */
#include "alert/audit.h"
#include "alert/render.h"
#include "alert/shared.h"
#include "cmd.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"

#include <event2/event.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const bv_option bv_cmd_retention_table[] = {
    BV_OPTION_RANGE("outbox", BV_OPT_DURATION, bv_cmd_retention_conf, outbox_ms, "30d", 0,
                    3650LL * 86400000, "outbox entries older than this go (0s: kept)"),
    BV_OPTION_RANGE("audit", BV_OPT_DURATION, bv_cmd_retention_conf, audit_ms, "365d", 0,
                    3650LL * 86400000, "audit records older than this go (0s: kept)"),
    BV_OPTION_END,
};

const bv_option bv_cmd_escalation_table[] = {
    BV_OPTION_RANGE("after", BV_OPT_DURATION, bv_cmd_escalation_conf, after_ms, NULL, 1000,
                    7LL * 86400000, "how long after it fired (required)"),
    BV_OPTION("severity", BV_OPT_STRING, bv_cmd_escalation_conf, severity, "critical",
              "alerts of at least this severity (info, warning, critical)"),
    BV_OPTION("unacknowledged", BV_OPT_BOOL, bv_cmd_escalation_conf, unacknowledged, "true",
              "only when nobody acknowledged it"),
    BV_OPTION("notify", BV_OPT_STRING_LIST, bv_cmd_escalation_conf, notify, NULL,
              "the recipient groups it goes to then (required)"),
    BV_OPTION_END,
};

const bv_option bv_cmd_grouping_table[] = {
    BV_OPTION_RANGE("wait", BV_OPT_DURATION, bv_cmd_grouping_conf, wait_ms, "30s", 1, 3600000,
                    "after a group's first alert (sent at once), collect what follows this long"),
    BV_OPTION_RANGE("interval", BV_OPT_DURATION, bv_cmd_grouping_conf, interval_ms, "5m", 1,
                    86400000, "then send what is collected at most this often"),
    BV_OPTION_END,
};

const bv_option bv_cmd_watchdog_table[] = {
    BV_OPTION_RANGE("every", BV_OPT_DURATION, bv_cmd_watchdog_conf, every_ms, "1m", 0, 86400000,
                    "a heartbeat this often (0s: none)"),
    BV_OPTION("notify", BV_OPT_STRING_LIST, bv_cmd_watchdog_conf, notify, NULL,
              "the groups that get it (Alertmanager always does); health alerts go here too"),
    BV_OPTION_END,
};

const bv_option bv_cmd_delivery_table[] = {
    BV_OPTION_RANGE("deadline", BV_OPT_DURATION, bv_cmd_delivery_conf, deadline_ms, "2h", 1000,
                    7LL * 86400000, "a delivery not done by then is recorded as failed"),
    BV_OPTION_RANGE("timeout", BV_OPT_DURATION, bv_cmd_delivery_conf, timeout_ms, "10s", 100,
                    600000, "one attempt, connecting included"),
    BV_OPTION_RANGE("retry_min", BV_OPT_DURATION, bv_cmd_delivery_conf, retry_min_ms, "1s", 1,
                    3600000, "the first wait before a retry (doubling, with jitter)"),
    BV_OPTION_RANGE("retry_max", BV_OPT_DURATION, bv_cmd_delivery_conf, retry_max_ms, "5m", 1,
                    86400000, "the longest wait between retries"),
    BV_OPTION_RANGE("drain", BV_OPT_DURATION, bv_cmd_delivery_conf, drain_ms, "10s", 0, 3600000,
                    "at a stop, wait this long for deliveries in flight (the rest stays pending)"),
    BV_OPTION_RANGE("lease", BV_OPT_DURATION, bv_cmd_delivery_conf, lease_ms, "30s", 100, 3600000,
                    "with Redis: a process that stops renewing its deliveries' leases this long "
                    "is taken to be gone, and another takes them over"),
    BV_OPTION_RANGE("scan", BV_OPT_DURATION, bv_cmd_delivery_conf, scan_ms, "10s", 100, 3600000,
                    "with Redis: how often the outbox there is looked through for them"),
    BV_OPTION("ca_file", BV_OPT_PATH, bv_cmd_delivery_conf, ca_file, NULL,
              "trust these CAs for HTTPS and SMTP (default: the system's)"),
    BV_OPTION_END,
};

static int severity_of(const char *s, bv_severity *out)
{
    for (int i = BV_SEV_INFO; i <= BV_SEV_CRITICAL; i++) {
        if (strcmp(s, bv_severity_name((bv_severity)i)) == 0) {
            *out = (bv_severity)i;
            return 0;
        }
    }
    return -1;
}

static int has_group(const bv_groups *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

static char *join_dir(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s/%s", a, b);
    }
    return p;
}

int bv_cmd_alerting_check(const bv_cmd_alerting_conf *c, const char *config, const bv_ruleset *rs)
{
    if (bv_lang_parse(c->language) < 0) {
        fprintf(stderr, "%s: language: nl or en, not '%s'\n", config, c->language);
        return 1;
    }
    if (c->console_url && strncmp(c->console_url, "http://", 7) != 0 &&
        strncmp(c->console_url, "https://", 8) != 0) {
        fprintf(stderr, "%s: console_url: an http:// or https:// address, not '%s'\n", config,
                c->console_url);
        return 1;
    }
    for (size_t i = 0; i < c->recipients.n; i++) {
        if (c->recipients.lists[i].n == 0) {
            fprintf(stderr, "%s:%d: recipients.%s: no targets\n", config, c->recipients.line[i],
                    c->recipients.names[i]);
            return 1;
        }
        for (size_t k = 0; k < c->recipients.lists[i].n; k++) {
            const bv_target_conf *t = (const bv_target_conf *)c->recipients.lists[i].v + k;
            bv_severity sev;
            if (severity_of(t->min_severity, &sev) != 0) {
                fprintf(stderr,
                        "%s:%d:%d: recipients.%s[%zu]: min_severity: info, warning or "
                        "critical, not '%s'\n",
                        config, c->recipients.lists[i].info[k].line,
                        c->recipients.lists[i].info[k].col, c->recipients.names[i], k,
                        t->min_severity);
                return 1;
            }
        }
    }
    for (size_t i = 0; i < c->escalation.n; i++) {
        const bv_cmd_escalation_conf *e = (const bv_cmd_escalation_conf *)c->escalation.v + i;
        const bv_config_item *it = &c->escalation.info[i];
        bv_severity sev;
        if (e->after_ms <= 0 || e->notify.n == 0) {
            fprintf(stderr, "%s:%d:%d: escalation[%zu]: give after: and notify:\n", config,
                    it->line, it->col, i);
            return 1;
        }
        if (severity_of(e->severity, &sev) != 0) {
            fprintf(stderr,
                    "%s:%d:%d: escalation[%zu]: severity: info, warning or critical, not "
                    "'%s'\n",
                    config, it->line, it->col, i, e->severity);
            return 1;
        }
        for (size_t k = 0; k < e->notify.n; k++) {
            if (!has_group(&c->recipients, e->notify.v[k])) {
                fprintf(stderr,
                        "%s:%d:%d: escalation[%zu]: notify: '%s' is not a group of recipients:\n",
                        config, it->line, it->col, i, e->notify.v[k]);
                return 1;
            }
        }
    }
    for (size_t k = 0; k < c->watchdog.notify.n; k++) {
        if (!has_group(&c->recipients, c->watchdog.notify.v[k])) {
            fprintf(stderr, "%s: watchdog.notify: '%s' is not a group of recipients:\n", config,
                    c->watchdog.notify.v[k]);
            return 1;
        }
    }
    if (c->delivery.retry_max_ms < c->delivery.retry_min_ms) {
        fprintf(stderr, "%s: delivery.retry_max is shorter than delivery.retry_min\n", config);
        return 1;
    }
    if (c->recipients.n > 0 && rs) {
        for (size_t i = 0; i < bv_rules_count(rs); i++) {
            const bv_rule *r = bv_rules_get(rs, i);
            for (size_t k = 0; k < r->nrecipients; k++) {
                if (!has_group(&c->recipients, r->recipients[k])) {
                    fprintf(stderr,
                            "%s:%d: rule %s sends to '%s', which recipients: in %s does not "
                            "define\n",
                            r->file, r->line, r->id, r->recipients[k], config);
                    return 1;
                }
            }
        }
    }
    return 0;
}

int bv_cmd_alerting_wanted(const bv_cmd_alerting_conf *c)
{
    return c->recipients.n > 0 || c->alertmanager != NULL;
}

/* This process's name as lease holder: STATE_DIR/instance.id, made once (16 random bytes in
 * hex), so a restarted process takes its own leases back at once. */
static int load_owner(const char *state_dir, char out[40], char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/instance.id", state_dir);
    char *text = NULL;
    size_t len = 0;
    int ferr = 0;
    if (bv_file_read(path, 64, &text, &len, &ferr) == BV_OK && len >= 32) {
        snprintf(out, 40, "%.32s", text);
        free(text);
        return 0;
    }
    free(text);
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) {
        snprintf(err, errlen, "no randomness for %.900s", path);
        return -1;
    }
    for (int i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, out, 32) != 32) {
        snprintf(err, errlen, "%.900s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return 0;
}

static int control_known(void *arg)
{
    bv_shared_stats st;
    bv_shared_stats_get(arg, &st);
    return st.control_reads > 0;
}

void bv_cmd_alerting_ready(bv_cmd_alerting *al, struct event_base *base, const char *cmd)
{
    if (al->redis == NULL) {
        return; /* the state dir's acks and silences were read when it opened */
    }
    if (bv_cmd_wait(base, control_known, al->redis, 5000) != 0) {
        bv_log(BV_LOG_WARN, cmd,
               "redis did not answer within 5s: acks and silences kept there are read once it "
               "does");
    }
}

size_t bv_cmd_alerting_pending(const bv_cmd_alerting *al)
{
    return (al->dispatch ? bv_dispatch_pending(al->dispatch) : 0) +
           (al->redis ? bv_shared_pending(al->redis) : 0);
}

bv_book_outbox_cb *bv_cmd_alerting_book_cb(const bv_cmd_alerting *al)
{
    return al->redis ? bv_dispatch_prepare : NULL;
}

int bv_cmd_alerting_open(bv_cmd_alerting *al, const bv_cmd_alerting_open_args *a)
{
    const bv_cmd_alerting_conf *c = a->conf;
    char err[1024];
    memset(al, 0, sizeof *al);
    al->out_dir = join_dir(a->state_dir, "outbox");
    al->audit_dir = join_dir(a->state_dir, "audit");
    al->control_dir = join_dir(a->state_dir, "control");
    if (al->out_dir == NULL || al->audit_dir == NULL || al->control_dir == NULL) {
        fprintf(stderr, "blikveld %s: out of memory\n", a->cmd);
        return 1;
    }
    int64_t now = bv_now_ms(bv_clock_system());
    size_t dropped = 0;
    if (bv_audit_retain(al->audit_dir, a->event, now, c->retention.audit_ms, &dropped, err,
                        sizeof err) != 0) {
        bv_log(BV_LOG_WARN, "audit", "retention: %s", err);
    }
    bv_outbox_opts oo = {.now_ms = now, .retention_ms = c->retention.outbox_ms};
    int rc = bv_outbox_open(&al->outbox, al->out_dir, a->ns, &oo, err, sizeof err);
    if (rc != BV_OK) {
        al->busy = rc == BV_EAGAIN;
        fprintf(stderr, "blikveld %s: outbox: %s\n", a->cmd, err);
        return 1;
    }
    if (a->redis) {
        /* the spool stays open for its lock (one process per state dir and event); the
         * outbox itself is in Redis, indexed here in memory */
        al->spool = al->outbox;
        al->outbox = bv_outbox_new_memory();
        if (al->outbox == NULL || load_owner(a->state_dir, al->owner, err, sizeof err) != 0) {
            fprintf(stderr, "blikveld %s: outbox: %s\n", a->cmd,
                    al->outbox ? err : "out of memory");
            return 1;
        }
    }
    bv_outbox_stats os;
    bv_outbox_stats_get(al->outbox, &os);
    if (os.skipped_lines || os.torn_tail) {
        bv_log(BV_LOG_WARN, "outbox", "%s: %llu lines did not parse%s", bv_outbox_path(al->outbox),
               (unsigned long long)os.skipped_lines,
               os.torn_tail ? "; the last was cut short (a crash while writing)" : "");
    }
    al->control = bv_control_open(al->control_dir, a->event, NULL, NULL);
    if (al->control == NULL) {
        fprintf(stderr, "blikveld %s: out of memory\n", a->cmd);
        return 1;
    }
    al->env.base = a->base;
    al->env.curl = a->curl;
    al->env.clock = bv_clock_system();
    al->env.language = c->language;
    al->env.console_url = c->console_url;
    al->env.timeout_ms = c->delivery.timeout_ms;
    al->env.ca_file = c->delivery.ca_file;
    al->nesc = c->escalation.n;
    al->esc = calloc(al->nesc ? al->nesc : 1, sizeof *al->esc);
    if (al->esc == NULL) {
        return 1;
    }
    for (size_t i = 0; i < al->nesc; i++) {
        const bv_cmd_escalation_conf *e = (const bv_cmd_escalation_conf *)c->escalation.v + i;
        al->esc[i].after_ms = e->after_ms;
        severity_of(e->severity, &al->esc[i].severity);
        al->esc[i].unacknowledged = e->unacknowledged;
        al->esc[i].notify = (const char *const *)e->notify.v;
        al->esc[i].nnotify = e->notify.n;
    }
    bv_dispatch_opts dopts = {
        .event = a->event,
        .drill = a->drill,
        .audit_dir = al->audit_dir,
        .outbox = al->outbox,
        .control = al->control,
        .group_wait_ms = c->grouping.wait_ms,
        .group_interval_ms = c->grouping.interval_ms,
        .retry_min_ms = c->delivery.retry_min_ms,
        .retry_max_ms = c->delivery.retry_max_ms,
        .deadline_ms = c->delivery.deadline_ms,
        .escalation = a->flush_only ? NULL : al->esc,
        .nescalation = a->flush_only ? 0 : al->nesc,
        .watchdog_ms = a->flush_only || a->drill ? 0 : c->watchdog.every_ms,
        .watchdog_notify = (const char *const *)c->watchdog.notify.v,
        .nwatchdog_notify = c->watchdog.notify.n,
    };
    if (a->redis) {
        size_t nr = a->rs ? bv_rules_count(a->rs) : 0;
        const char **rules = calloc(nr ? nr : 1, sizeof *rules);
        if (rules == NULL) {
            return 1;
        }
        for (size_t i = 0; i < nr; i++) {
            rules[i] = bv_rules_get(a->rs, i)->id;
        }
        bv_shared_opts ro = {
            .addr = a->redis,
            .password = a->redis_password,
            .ns = a->ns,
            .rules = rules,
            .nrules = nr,
            .owner = al->owner,
            .lease_ms = c->delivery.lease_ms,
            .scan_ms = c->delivery.scan_ms,
            .retention_ms = c->retention.outbox_ms,
            .event = a->event,
            .control = al->control,
            .audit_retention_ms = c->retention.audit_ms,
        };
        al->redis = bv_shared_new(a->base, &ro, bv_dispatch_found, NULL, err, sizeof err);
        free(rules);
        if (al->redis == NULL) {
            fprintf(stderr, "blikveld %s: outbox in redis: %s\n", a->cmd, err);
            return 1;
        }
        if (c->retention.audit_ms > 0) {
            bv_shared_audit_trim(al->redis, now - c->retention.audit_ms);
        }
        dopts.shared = al->redis;
        dopts.owner = al->owner;
        dopts.lease_ms = c->delivery.lease_ms;
        dopts.retention_ms = c->retention.outbox_ms;
    }
    al->dispatch = bv_dispatch_new(a->base, bv_clock_system(), &dopts);
    if (al->dispatch == NULL) {
        fprintf(stderr, "blikveld %s: out of memory\n", a->cmd);
        return 1;
    }
    if (al->redis) {
        bv_shared_set_arg(al->redis, al->dispatch);
    }
    for (size_t i = 0; i < c->recipients.n; i++) {
        for (size_t k = 0; k < c->recipients.lists[i].n; k++) {
            const bv_target_conf *t = (const bv_target_conf *)c->recipients.lists[i].v + k;
            bv_sink *s = bv_sink_from_conf(&al->env, t, &c->smtp, err, sizeof err);
            if (s == NULL) {
                fprintf(stderr, "%s:%d:%d: recipients.%s[%zu]: %s\n", a->config,
                        c->recipients.lists[i].info[k].line, c->recipients.lists[i].info[k].col,
                        c->recipients.names[i], k, err);
                return 1;
            }
            bv_severity sev = BV_SEV_INFO;
            severity_of(t->min_severity, &sev);
            if (bv_dispatch_add_target(al->dispatch, c->recipients.names[i], s, sev) != BV_OK) {
                fprintf(stderr, "blikveld %s: recipients.%s: cannot add a target\n", a->cmd,
                        c->recipients.names[i]);
                return 1;
            }
        }
    }
    if (c->alertmanager) {
        bv_sink *s = bv_sink_alertmanager_new(&al->env, c->alertmanager, err, sizeof err);
        if (s == NULL || bv_dispatch_set_alertmanager(al->dispatch, s) != BV_OK) {
            fprintf(stderr, "%s: alertmanager: %s\n", a->config, s ? "cannot add it" : err);
            return 1;
        }
    }
    return 0;
}

void bv_cmd_alerting_print(const bv_cmd_alerting *al)
{
    if (al->dispatch == NULL) {
        return;
    }
    bv_dispatch_stats ds;
    bv_dispatch_stats_get(al->dispatch, &ds);
    fprintf(stderr,
            "  deliveries      %llu delivered, %llu FAILED, %zu pending (`blikveld outbox` lists "
            "them), %llu retries\n",
            (unsigned long long)ds.delivered, (unsigned long long)ds.failed, ds.pending,
            (unsigned long long)ds.retries);
    if (ds.resumed || ds.silenced || ds.escalated || ds.heartbeats || ds.outbox_errors) {
        fprintf(stderr,
                "    also          %llu resumed from the outbox, %llu held back by silences, "
                "%llu escalations, %llu heartbeats (%llu failed)",
                (unsigned long long)ds.resumed, (unsigned long long)ds.silenced,
                (unsigned long long)ds.escalated, (unsigned long long)ds.heartbeats,
                (unsigned long long)ds.heartbeat_failures);
        if (ds.outbox_errors) {
            fprintf(stderr, ", %llu alerts NOT WRITTEN to the outbox",
                    (unsigned long long)ds.outbox_errors);
        }
        fputc('\n', stderr);
    }
    if (al->redis) {
        bv_shared_stats rs;
        bv_shared_stats_get(al->redis, &rs);
        fprintf(stderr,
                "    outbox        redis (%s): %llu writes, %llu waiting, %llu entries taken over "
                "from other processes, %zu leases held\n",
                rs.state, (unsigned long long)rs.writes,
                (unsigned long long)bv_shared_pending(al->redis), (unsigned long long)rs.found,
                rs.held);
    } else {
        fprintf(stderr, "    outbox        %s\n", bv_outbox_path(al->outbox));
    }
}

void bv_cmd_alerting_close(bv_cmd_alerting *al)
{
    bv_dispatch_free(al->dispatch);
    bv_shared_free(al->redis); /* after the dispatcher: it calls in while it goes */
    bv_outbox_close(al->spool);
    bv_control_free(al->control);
    bv_outbox_close(al->outbox);
    free(al->esc);
    free(al->out_dir);
    free(al->audit_dir);
    free(al->control_dir);
    memset(al, 0, sizeof *al);
}

/* ---- the config of the commands that look after delivery (outbox, ack, silence, audit) ---- */

const bv_option bv_cmd_admin_table[] = {
    BV_OPTION("event", BV_OPT_STRING, bv_cmd_admin_conf, event, NULL,
              "the event's name (default: the first rule file's name)"),
    BV_OPTION("rules", BV_OPT_PATH_LIST, bv_cmd_admin_conf, rules, NULL,
              "rule files, one rule set (relative to the config file)"),
    BV_OPTION("state_dir", BV_OPT_PATH, bv_cmd_admin_conf, state_dir, NULL,
              "outbox, audit log, acks and silences (default $XDG_STATE_HOME/blikveld)"),
    BV_OPTION_IGNORE("lateness", "read by run and replay"),
    BV_OPTION_IGNORE("max_queue", "read by run"),
    BV_OPTION_IGNORE("places", "read by run, replay and check"),
    BV_OPTION_SECTION("redis", bv_cmd_admin_conf, redis, bv_cmd_redis_table,
                      "with Redis, the outbox, acks and silences are kept there"),
    BV_OPTION_IGNORE("record", "read by run"),
    BV_OPTION_IGNORE("sources", "read by run"),
    BV_OPTION_IGNORE("console", "read by run and replay --console"),
    BV_CMD_ALERTING_OPTIONS(bv_cmd_admin_conf, alerting),
    BV_OPTION_END,
};

int bv_cmd_admin_load(bv_cmd_admin *ad, const char *cmd, const char *config, const char *event,
                      const char *state_dir)
{
    bv_diag diag;
    char errstr[1024];
    memset(ad, 0, sizeof *ad);
    if (bv_config_load(config, bv_cmd_admin_table, &ad->conf, &diag) != 0) {
        fprintf(stderr, "%s\n", bv_diag_format(&diag, errstr, sizeof errstr));
        return 1;
    }
    if (event) {
        ad->event = strdup(event);
    } else if (ad->conf.event) {
        ad->event = strdup(ad->conf.event);
    } else if (ad->conf.rules.n) {
        ad->event = bv_cmd_name_from_path(ad->conf.rules.v[0]);
    } else {
        fprintf(stderr, "blikveld %s: %s names no event: give --event NAME\n", cmd, config);
        return 2;
    }
    ad->state_dir = state_dir            ? strdup(state_dir)
                    : ad->conf.state_dir ? strdup(ad->conf.state_dir)
                                         : bv_cmd_default_state_dir();
    if (ad->event == NULL || ad->state_dir == NULL) {
        fprintf(stderr, "blikveld %s: out of memory\n", cmd);
        return 1;
    }
    if (!bv_cmd_name_ok(ad->event)) {
        fprintf(stderr,
                "blikveld %s: the event's name '%s' may hold only letters, digits, '-', '_' "
                "and '.'\n",
                cmd, ad->event);
        return 2;
    }
    size_t n = strlen(ad->event) + 8;
    ad->ns = malloc(n);
    if (ad->ns == NULL) {
        return 1;
    }
    snprintf(ad->ns, n, "live/%s", ad->event);
    return 0;
}

int bv_cmd_admin_redis(bv_cmd_admin *ad, const char *cmd)
{
    char err[1024];
    bv_diag diag;
    const char *url = ad->conf.redis.url;
    if (url == NULL) {
        return 0;
    }
    if (bv_redis_url_parse(url, strlen(url), &ad->raddr, err, sizeof err) != 0) {
        fprintf(stderr, "blikveld %s: redis: %s\n", cmd, err);
        return 1;
    }
    ad->redis = 1;
    if (ad->conf.redis.password_env) {
        ad->password = getenv(ad->conf.redis.password_env);
        if (ad->password == NULL) {
            fprintf(stderr, "blikveld %s: redis.password_env names %s, which is not set\n", cmd,
                    ad->conf.redis.password_env);
            return 1;
        }
    }
    if (ad->conf.rules.n == 0) {
        fprintf(stderr,
                "blikveld %s: the config has no rules: (the outbox in Redis is kept per "
                "rule)\n",
                cmd);
        return 1;
    }
    if (bv_rules_load(&ad->rs, (const char *const *)ad->conf.rules.v, ad->conf.rules.n, &diag) !=
        0) {
        fprintf(stderr, "%s\n", bv_diag_format(&diag, err, sizeof err));
        return 1;
    }
    return 0;
}

static void on_wait_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg; /* wakes the loop to look at the condition again */
}

int bv_cmd_wait(struct event_base *base, int (*done)(void *arg), void *arg, int64_t ms)
{
    struct event *tick = evtimer_new(base, on_wait_tick, NULL);
    int64_t t0 = bv_mono_ms(bv_clock_system());
    int ok = 0;
    while (tick) {
        if (done(arg)) {
            ok = 1;
            break;
        }
        if (bv_mono_ms(bv_clock_system()) - t0 > ms) {
            break;
        }
        struct timeval tv = {0, 50000};
        evtimer_add(tick, &tv);
        if (event_base_loop(base, EVLOOP_ONCE) < 0) {
            break;
        }
    }
    if (tick) {
        event_free(tick);
    }
    return ok ? 0 : -1;
}

int bv_cmd_shared_connected(void *sh)
{
    return bv_shared_ready(sh);
}

int bv_cmd_shared_scanned(void *sh)
{
    bv_shared_stats st;
    bv_shared_stats_get(sh, &st);
    return st.scans_done >= 1;
}

int bv_cmd_shared_written(void *sh)
{
    return bv_shared_pending(sh) == 0;
}

int bv_cmd_shared_record(bv_shared *sh, struct event_base *base, const bv_buf *control,
                         const bv_audit_rec *r)
{
    bv_buf line = BV_BUF_INIT;
    int ok = control->p && bv_shared_control_append(sh, control->p, control->len) == BV_OK &&
             bv_audit_format(r, &line) == BV_OK &&
             bv_shared_audit_append(sh, line.p, line.len) == BV_OK;
    bv_buf_free(&line);
    return ok && bv_cmd_wait(base, bv_cmd_shared_written, sh, 10000) == 0 ? 0 : -1;
}

bv_shared *bv_cmd_shared_lister(struct event_base *base, const bv_redis_addr *addr,
                                const char *password, const char *ns, const bv_ruleset *rs,
                                const char *event, int64_t audit_retention_ms,
                                bv_outbox_found_cb *found, void *arg, char *err, size_t errlen)
{
    size_t nr = found && rs ? bv_rules_count(rs) : 0;
    const char **rules = calloc(nr ? nr : 1, sizeof *rules);
    if (rules == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < nr; i++) {
        rules[i] = bv_rules_get(rs, i)->id;
    }
    bv_shared_opts so = {
        .addr = addr,
        .password = password,
        .ns = ns,
        .rules = rules,
        .nrules = nr,
        .owner = "list",
        .list_only = 1,
        .event = event,
        .audit_retention_ms = audit_retention_ms,
    };
    bv_shared *r = bv_shared_new(base, &so, found, arg, err, errlen);
    free(rules);
    return r;
}

bv_shared *bv_cmd_admin_shared(bv_cmd_admin *ad, struct event_base *base, const char *ns,
                               bv_outbox_found_cb *found, void *arg, const char *cmd)
{
    char err[1024];
    bv_shared *r =
        bv_cmd_shared_lister(base, &ad->raddr, ad->password, ns, ad->rs, ad->event,
                             ad->conf.alerting.retention.audit_ms, found, arg, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "blikveld %s: redis: %s\n", cmd, err);
    }
    return r;
}

typedef struct read_wait {
    bv_shared_text_cb *cb;
    void *arg;
    int done, failed;
} read_wait;

static void on_read_wait(void *arg, char *text, size_t len)
{
    read_wait *w = arg;
    w->done = 1;
    if (text == NULL) {
        w->failed = 1;
        return;
    }
    w->cb(w->arg, text, len);
}

static int read_waited(void *arg)
{
    return ((read_wait *)arg)->done;
}

int bv_cmd_shared_read_wait(bv_shared *sh, struct event_base *base, const char *list,
                            bv_shared_text_cb *cb, void *arg)
{
    read_wait w = {.cb = cb, .arg = arg};
    if (bv_cmd_wait(base, bv_cmd_shared_connected, sh, 10000) != 0 ||
        bv_shared_read(sh, list, on_read_wait, &w) != 0 ||
        bv_cmd_wait(base, read_waited, &w, 10000) != 0 || w.failed) {
        return -1;
    }
    return 0;
}

void bv_cmd_admin_free(bv_cmd_admin *ad)
{
    bv_rules_free(ad->rs);
    if (ad->redis) {
        bv_redis_addr_free(&ad->raddr);
    }
    bv_config_free(bv_cmd_admin_table, &ad->conf);
    free(ad->event);
    free(ad->state_dir);
    free(ad->ns);
    memset(ad, 0, sizeof *ad);
}
