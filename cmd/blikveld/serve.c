/* serve.c: the console, wired for `run` and `replay --console`: the `console:` config section,
 * the tokens from the environment, the history of each rule's window, and the console's hooks
 * into what cmd/ holds (acks and the audit log in the state dir or Redis, silences, rule
 * reloads, and for `run` the alerts the outbox kept from before this start). The signal chain:
 * pipeline -> history -> console -> book. */
#include "alert/audit.h"
#include "alert/control.h"
#include "alert/shared.h"
#include "cmd.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_STEP_MS 60000

static const bv_option tls_table[] = {
    BV_OPTION("cert", BV_OPT_PATH, bv_cmd_console_tls, cert, NULL,
              "the certificate (PEM, with its chain): the console speaks HTTPS itself"),
    BV_OPTION("key", BV_OPT_PATH, bv_cmd_console_tls, key, NULL, "its private key (PEM)"),
    BV_OPTION_END,
};

static const bv_option token_table[] = {
    BV_OPTION("name", BV_OPT_STRING, bv_cmd_console_token, name, NULL,
              "who holds it, as acks and the audit log show it (required)"),
    BV_OPTION("token_env", BV_OPT_STRING, bv_cmd_console_token, token_env, NULL,
              "the environment variable holding the token (required; 16 characters or more)"),
    BV_OPTION("role", BV_OPT_STRING, bv_cmd_console_token, role, "read",
              "read (look) or ack (also acknowledge alerts and reload rules)"),
    BV_OPTION_END,
};

const bv_option bv_cmd_console_table[] = {
    BV_OPTION("listen", BV_OPT_STRING, bv_cmd_console_conf, listen, NULL,
              "HOST:PORT the console serves on (e.g. 127.0.0.1:8080; without tokens: loopback "
              "only)"),
    BV_OPTION_SECTION("tls", bv_cmd_console_conf, tls, tls_table,
                      "HTTPS: cert and key (PEM files); without it, plain HTTP"),
    BV_OPTION_SECTION_LIST("tokens", bv_cmd_console_conf, tokens, token_table, bv_cmd_console_token,
                           "who may use it: {name, token_env, role}; none: loopback only"),
    BV_OPTION_RANGE("session", BV_OPT_DURATION, bv_cmd_console_conf, session_ms, "12h", 60000,
                    7LL * 86400000, "a browser's login lasts this long after its last use"),
    BV_OPTION_RANGE("history", BV_OPT_DURATION, bv_cmd_console_conf, history_ms, "6h", 600000,
                    7LL * 86400000, "how far back the rules' charts go"),
    BV_OPTION_RANGE("keepalive", BV_OPT_DURATION, bv_cmd_console_conf, keepalive_ms, "15s", 100,
                    3600000, "a comment on the live feed this often (proxies close idle streams)"),
    BV_OPTION_END,
};

int bv_cmd_console_check(const bv_cmd_console_conf *c, const char *config)
{
    if (c->listen == NULL && (c->tokens.n || c->tls.cert || c->tls.key)) {
        fprintf(stderr, "%s: console: listen: is required (HOST:PORT)\n", config);
        return 1;
    }
    if ((c->tls.cert == NULL) != (c->tls.key == NULL)) {
        fprintf(stderr, "%s: console.tls needs both cert and key\n", config);
        return 1;
    }
    for (size_t i = 0; i < c->tokens.n; i++) {
        const bv_cmd_console_token *t = (const bv_cmd_console_token *)c->tokens.v + i;
        int line = c->tokens.info[i].line, col = c->tokens.info[i].col;
        if (t->name == NULL || !*t->name || t->token_env == NULL || !*t->token_env) {
            fprintf(stderr, "%s:%d:%d: console.tokens[%zu]: name and token_env are required\n",
                    config, line, col, i);
            return 1;
        }
        if (strcmp(t->role, "read") != 0 && strcmp(t->role, "ack") != 0) {
            fprintf(stderr, "%s:%d:%d: console.tokens[%zu]: role is read or ack, not '%s'\n",
                    config, line, col, i, t->role);
            return 1;
        }
        for (size_t k = 0; k < i; k++) {
            const bv_cmd_console_token *o = (const bv_cmd_console_token *)c->tokens.v + k;
            if (strcmp(o->name, t->name) == 0) {
                fprintf(stderr, "%s:%d:%d: console.tokens[%zu]: the name %s is given twice\n",
                        config, line, col, i, t->name);
                return 1;
            }
        }
    }
    return 0;
}

/* ---- hooks ---- */

static bv_control *control_of(bv_cmd_console *cc)
{
    return cc->al && cc->al->control ? cc->al->control : cc->own_control;
}

/* Records an ack or a silence (r->what "ack", "silence" or "unsilence") as `blikveld ack` and
 * `blikveld silence` do: with Redis there, for every process of the event, else in the state
 * dir's control file; this process knows it at once; then the audit log. 0, or -1 with the
 * reason in err. */
static int record(bv_cmd_console *cc, const bv_audit_rec *r, char *err, size_t errlen)
{
    int ack = strcmp(r->what, "ack") == 0;
    bv_control *ctl = control_of(cc);
    if (cc->al && cc->al->redis) {
        bv_buf line = BV_BUF_INIT, aud = BV_BUF_INIT;
        if (ack) {
            bv_control_format_ack(r->id, r->by, r->at_ms, &line);
        } else {
            bv_control_format_silence(r->rule, r->until_ms, r->by, r->reason, r->at_ms, &line);
        }
        bv_audit_format(r, &aud);
        int bad = bv_shared_control_append(cc->al->redis, line.p, line.len) != 0 ||
                  bv_shared_audit_append(cc->al->redis, aud.p, aud.len) != 0;
        if (!bad && ctl) {
            bv_control_feed(ctl, line.p, line.len);
        }
        bv_buf_free(&line);
        bv_buf_free(&aud);
        if (bad) {
            snprintf(err, errlen, "redis did not take the %s", ack ? "acknowledgement" : "silence");
            return -1;
        }
    } else {
        int rc =
            ack ? bv_control_append_ack(cc->ctl_dir, cc->event, r->id, r->by, r->at_ms, err, errlen)
                : bv_control_append_silence(cc->ctl_dir, cc->event, r->rule, r->until_ms, r->by,
                                            r->reason, r->at_ms, err, errlen);
        if (rc != 0) {
            return -1;
        }
        if (ctl) {
            bv_control_poll(ctl);
        }
    }
    char aerr[512];
    if (bv_audit_append(cc->aud_dir, r, aerr, sizeof aerr) != 0) {
        bv_log(BV_LOG_ERROR, "console", "audit log: %s", aerr);
    }
    return 0;
}

static int hook_ack(void *arg, const char *id, const char *rule, const char *by, int64_t at,
                    char *err, size_t errlen)
{
    bv_cmd_console *cc = arg;
    bv_control *ctl = control_of(cc);
    const char *prev = ctl ? bv_control_acked(ctl, id) : NULL;
    if (prev) {
        snprintf(err, errlen, "%s", prev);
        return 1;
    }
    bv_audit_rec r = {
        .at_ms = at,
        .event = cc->event,
        .what = "ack",
        .id = id,
        .rule = rule,
        .by = by,
        .drill = cc->drill,
    };
    if (record(cc, &r, err, errlen) != 0) {
        return -1;
    }
    bv_log(BV_LOG_INFO, "console", "alert %s (%s) acknowledged by %s", id, rule, by);
    return 0;
}

static int hook_silence(void *arg, const char *rule, int64_t until, const char *by,
                        const char *reason, int64_t at, char *err, size_t errlen)
{
    bv_cmd_console *cc = arg;
    bv_audit_rec r = {
        .at_ms = at,
        .event = cc->event,
        .what = until ? "silence" : "unsilence",
        .rule = rule,
        .by = by,
        .reason = reason,
        .until_ms = until,
        .drill = cc->drill,
    };
    if (record(cc, &r, err, errlen) != 0) {
        return -1;
    }
    if (until) {
        char ts[BV_TIME_ISO_LEN];
        bv_log(BV_LOG_INFO, "console", "rule %s silenced until %s by %s: %s", rule,
               bv_time_format_amsterdam(until, ts), by, reason);
    } else {
        bv_log(BV_LOG_INFO, "console", "rule %s: silence lifted by %s", rule, by);
    }
    return 0;
}

/* The audit file of an event in the state dir. */
static void audit_file(bv_cmd_console *cc, const char *event, bv_console_text_done *done,
                       void *done_arg)
{
    char msg[256];
    char *path = bv_audit_path(cc->aud_dir, event);
    char *data = NULL;
    size_t len = 0;
    int e = 0;
    if (path == NULL) {
        done(done_arg, 0, "out of memory", 13);
        return;
    }
    int rc = bv_file_read(path, 64u << 20, &data, &len, &e);
    free(path);
    if (rc != 0 && e != ENOENT) {
        int n =
            snprintf(msg, sizeof msg, "the audit log of %s cannot be read: %s", event, strerror(e));
        done(done_arg, 0, msg, (size_t)n);
        return;
    }
    done(done_arg, 1, data ? data : "", data ? len : 0);
    free(data);
}

typedef struct audit_read {
    bv_console_text_done *done;
    void *done_arg;
} audit_read;

static void on_audit_read(void *arg, char *text, size_t len)
{
    audit_read *ar = arg;
    if (text == NULL) {
        ar->done(ar->done_arg, 0, "redis did not answer", 20);
    } else {
        ar->done(ar->done_arg, 1, text, len);
    }
    free(ar);
}

/* With Redis, the event's record is there (every process writes to it); else in the state
 * dir's audit file. */
static void hook_audit(void *arg, const char *event, bv_console_text_done *done, void *done_arg)
{
    bv_cmd_console *cc = arg;
    if (!bv_cmd_name_ok(event)) {
        static const char m[] = "event names hold only letters, digits, '-', '_' and '.'";
        done(done_arg, 0, m, sizeof m - 1);
        return;
    }
    if (cc->al && cc->al->redis && strcmp(event, cc->event) == 0) {
        audit_read *ar = calloc(1, sizeof *ar);
        if (ar) {
            ar->done = done;
            ar->done_arg = done_arg;
            if (bv_shared_read(cc->al->redis, "audit", on_audit_read, ar) == 0) {
                return;
            }
            free(ar);
        }
        bv_log(BV_LOG_WARN, "console", "audit: redis is not connected: answering from %s",
               cc->aud_dir);
    }
    audit_file(cc, event, done, done_arg);
}

static int64_t hook_silenced(void *arg, const char *rule, int64_t now)
{
    bv_control *ctl = control_of(arg);
    const bv_silence *s = ctl ? bv_control_silenced(ctl, rule, now) : NULL;
    return s ? s->until_ms : 0;
}

static void on_ctl_ack(void *arg, const char *id, const char *by, int64_t at_ms)
{
    bv_cmd_console *cc = arg;
    if (cc->console) {
        bv_console_acked(cc->console, id, by, at_ms);
    }
}

static void on_ctl_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_cmd_console *cc = arg;
    bv_control_poll(cc->own_control);
}

static size_t hook_sources(void *arg, bv_console_source *out, size_t max)
{
    bv_cmd_console *cc = arg;
    return cc->sources_fn(cc->sources_arg, out, max);
}

static uint64_t hook_dropped(void *arg)
{
    bv_cmd_console *cc = arg;
    return cc->dropped_fn(cc->sources_arg);
}

/* ---- reload ---- */

typedef struct reload_job {
    bv_cmd_console *cc;
    bv_ruleset *rs;
    char *by;
    bv_console_reload_done *done;
    void *done_arg;
} reload_job;

static void reload_finish(reload_job *j, int ok, const char *json)
{
    if (j->done) {
        j->done(j->done_arg, ok, json);
    }
    bv_rules_free(j->rs);
    free(j->by);
    free(j);
}

/* The pipeline is idle: the new set takes over in every part at once. */
static void reload_apply(void *arg)
{
    reload_job *j = arg;
    bv_cmd_console *cc = j->cc;
    bv_cmd_reload *r = cc->reload;
    char err[512] = "";
    bv_pipeline_reload_stats st;
    memset(&st, 0, sizeof st);
    bv_buf json = BV_BUF_INIT;
    int rc = bv_book_reload(r->book, j->rs, &st, err, sizeof err);
    if (rc == BV_EAGAIN) {
        bv_pipeline_when_idle(r->pipeline, reload_apply, j); /* claims answered meanwhile */
        return;
    }
    if (rc != BV_OK) {
        bv_buf_puts(&json, "{\"ok\":false,\"error\":\"");
        bv_buf_json_str(&json, err, strlen(err));
        bv_buf_puts(&json, "\"}");
        bv_log(BV_LOG_ERROR, "rules", "reload refused: %s", err);
        reload_finish(j, 0, json.p);
        bv_buf_free(&json);
        return;
    }
    if (cc->history) {
        bv_history_reload(cc->history, j->rs);
    }
    for (size_t i = 0; cc->al && cc->al->redis && i < bv_rules_count(j->rs); i++) {
        /* an added rule's outbox in Redis is looked through for takeovers too */
        if (bv_shared_watch(cc->al->redis, bv_rules_get(j->rs, i)->id) != BV_OK) {
            bv_log(BV_LOG_ERROR, "outbox", "out of memory: rule '%s' is not watched for takeovers",
                   bv_rules_get(j->rs, i)->id);
        }
    }
    /* the old set stays alive: alerts in flight borrow its rules */
    bv_ruleset **keep = realloc(r->old, (r->nold + 1) * sizeof *keep);
    if (keep) {
        r->old = keep;
        r->old[r->nold++] = *r->current;
    }
    *r->current = j->rs;
    bv_ruleset *rs = j->rs;
    j->rs = NULL;
    bv_buf_printf(&json,
                  "{\"ok\":true,\"rules\":%zu,\"kept\":%zu,\"changed\":%zu,\"added\":%zu,"
                  "\"removed\":%zu,\"by\":\"",
                  bv_rules_count(rs), st.kept, st.changed, st.added, st.removed);
    bv_buf_json_str(&json, j->by, strlen(j->by));
    bv_buf_puts(&json, "\"}");
    bv_log(BV_LOG_INFO, "rules",
           "rule set reloaded by %s: %zu rules (%zu kept, %zu changed, %zu added, %zu removed)",
           j->by, bv_rules_count(rs), st.kept, st.changed, st.added, st.removed);
    if (cc->console) {
        bv_console_set_rules(cc->console, rs, json.p);
    }
    char reason[160];
    snprintf(reason, sizeof reason, "%zu rules: %zu kept, %zu changed, %zu added, %zu removed",
             bv_rules_count(rs), st.kept, st.changed, st.added, st.removed);
    bv_audit_rec ar = {.at_ms = bv_now_ms(bv_clock_system()),
                       .event = cc->event,
                       .what = "reload",
                       .by = j->by,
                       .reason = reason,
                       .drill = cc->drill};
    if (bv_audit_append(cc->aud_dir, &ar, err, sizeof err) != 0) {
        bv_log(BV_LOG_ERROR, "console", "audit log: %s", err);
    }
    reload_finish(j, 1, json.p);
    bv_buf_free(&json);
}

void bv_cmd_console_reload(bv_cmd_console *cc, const char *by, bv_console_reload_done *done,
                           void *done_arg)
{
    bv_cmd_reload *r = cc->reload;
    char errstr[1024];
    if (r == NULL) {
        if (done) {
            done(done_arg, 0,
                 "{\"ok\":false,\"error\":\"rule sets are reloaded by `blikveld run`; a drill "
                 "replays again with the new rules\"}");
        }
        return;
    }
    reload_job *j = calloc(1, sizeof *j);
    if (j == NULL || (j->by = strdup(by)) == NULL) {
        free(j);
        if (done) {
            done(done_arg, 0, "{\"ok\":false,\"error\":\"out of memory\"}");
        }
        return;
    }
    j->cc = cc;
    j->done = done;
    j->done_arg = done_arg;
    bv_diag diag;
    bv_rules_opts ro = {.places = r->places, .own = r->own};
    if (bv_rules_load_opts(&j->rs, r->files, r->nfiles, &ro, &diag) != 0) {
        const char *msg = bv_diag_format(&diag, errstr, sizeof errstr);
        bv_log(BV_LOG_ERROR, "rules", "reload by %s refused, the running rule set stays: %s", by,
               msg);
        bv_buf json = BV_BUF_INIT;
        bv_buf_puts(&json, "{\"ok\":false,\"error\":\"");
        bv_buf_json_str(&json, msg, strlen(msg));
        bv_buf_puts(&json, "\"}");
        j->rs = NULL;
        reload_finish(j, 0, json.p);
        bv_buf_free(&json);
        return;
    }
    bv_pipeline_when_idle(r->pipeline, reload_apply, j);
}

static void hook_reload(void *arg, const char *by, bv_console_reload_done *done, void *done_arg)
{
    bv_cmd_console_reload(arg, by, done, done_arg);
}

/* ---- the alerts from before this start ---- */

/* An alert the outbox kept (its JSON), for the page. Health alerts stay out: the sources'
 * states say what is true now. */
static void restore_one(bv_cmd_console *cc, const char *json, size_t len)
{
    char err[256];
    bv_alert *a = bv_alert_parse_json(json, len, err, sizeof err);
    if (a == NULL) {
        bv_log(BV_LOG_WARN, "console", "an alert in the outbox is not shown: %s", err);
        return;
    }
    if (!a->health) {
        bv_console_restore(cc->console, a);
        bv_control *ctl = control_of(cc);
        const char *by = ctl ? bv_control_acked(ctl, a->id) : NULL;
        if (by) {
            bv_console_acked(cc->console, a->id, by, 0);
        }
    }
    bv_alert_free(a);
}

static void on_listed(void *arg, const bv_outbox_found *f)
{
    restore_one(arg, f->alert, f->alert_len);
}

/* The page's span (console.history): older restored alerts go. */
static void restored_trim(bv_cmd_console *cc)
{
    bv_console_restored_drop(cc->console, bv_now_ms(bv_clock_system()) - cc->restore_span_ms);
}

static void lister_free(bv_cmd_console *cc)
{
    if (cc->lister_poll) {
        event_free(cc->lister_poll);
        cc->lister_poll = NULL;
    }
    bv_shared_free(cc->lister);
    cc->lister = NULL;
}

/* The lister is done after one whole scan (it is not freed inside its own callback). It keeps
 * trying while Redis is away; the live process does not wait for it. */
static void on_lister_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_cmd_console *cc = arg;
    if (bv_cmd_shared_scanned(cc->lister)) {
        lister_free(cc);
        restored_trim(cc);
    }
}

static void restore(bv_cmd_console *cc, const bv_cmd_console_args *a)
{
    cc->restore_span_ms = a->conf->history_ms;
    if (a->redis == NULL) {
        bv_outbox *ob = cc->al->outbox;
        for (size_t i = 0; i < bv_outbox_count(ob); i++) {
            const bv_out_entry *e = bv_outbox_get(ob, i);
            restore_one(cc, e->alert, e->alert_len);
        }
        restored_trim(cc);
        return;
    }
    char err[1024];
    cc->lister = bv_cmd_shared_lister(a->base, a->redis, a->redis_password, a->ns, a->rs, NULL, 0,
                                      on_listed, cc, err, sizeof err);
    cc->lister_poll = cc->lister ? event_new(a->base, -1, EV_PERSIST, on_lister_poll, cc) : NULL;
    struct timeval tv = {0, 50000};
    if (cc->lister_poll == NULL || event_add(cc->lister_poll, &tv) != 0) {
        bv_log(BV_LOG_WARN, "console", "the alerts in the outbox in redis are not shown: %s",
               cc->lister ? "out of memory" : err);
        lister_free(cc);
    }
}

/* ---- life ---- */

int bv_cmd_console_open(bv_cmd_console *cc, const bv_cmd_console_args *a)
{
    const bv_cmd_console_conf *c = a->conf;
    char err[1024];
    cc->event = a->event;
    cc->drill = a->drill;
    cc->al = a->al;
    cc->book = a->book;
    cc->reload = a->reload;
    size_t need = strlen(a->state_dir) + 16;
    cc->ctl_dir = malloc(need);
    cc->aud_dir = malloc(need);
    if (cc->ctl_dir == NULL || cc->aud_dir == NULL) {
        fprintf(stderr, "blikveld %s: out of memory\n", a->cmd);
        return 1;
    }
    snprintf(cc->ctl_dir, need, "%s/control", a->state_dir);
    snprintf(cc->aud_dir, need, "%s/audit", a->state_dir);
    if (a->listen || a->keep_all) {
        cc->history = bv_history_new(a->rs, HISTORY_STEP_MS, a->keep_all ? 0 : c->history_ms);
        if (cc->history == NULL) {
            fprintf(stderr, "blikveld %s: out of memory\n", a->cmd);
            return 1;
        }
    }
    if (a->listen == NULL) {
        return 0; /* reloads, and the history for a report */
    }
    cc->ntokens = c->tokens.n;
    cc->tokens = calloc(cc->ntokens ? cc->ntokens : 1, sizeof *cc->tokens);
    if (cc->tokens == NULL) {
        return 1;
    }
    for (size_t i = 0; i < c->tokens.n; i++) {
        const bv_cmd_console_token *t = (const bv_cmd_console_token *)c->tokens.v + i;
        const char *secret = getenv(t->token_env);
        if (secret == NULL || strlen(secret) < 16) {
            fprintf(stderr,
                    "blikveld %s: console.tokens[%zu] (%s): the environment variable %s is %s\n",
                    a->cmd, i, t->name, t->token_env,
                    secret ? "shorter than 16 characters (too easy to guess)" : "not set");
            return 1;
        }
        cc->tokens[i].name = t->name;
        cc->tokens[i].secret = secret;
        cc->tokens[i].role = strcmp(t->role, "ack") == 0 ? BV_ROLE_ACK : BV_ROLE_READ;
    }
    if (control_of(cc) == NULL) {
        /* nothing delivers here: the console reads acks and silences itself */
        cc->own_control = bv_control_open(cc->ctl_dir, cc->event, NULL, NULL);
        cc->poll = event_new(a->base, -1, EV_PERSIST, on_ctl_poll, cc);
        struct timeval tv = {1, 0};
        if (cc->own_control == NULL || cc->poll == NULL || event_add(cc->poll, &tv) != 0) {
            fprintf(stderr, "blikveld %s: out of memory\n", a->cmd);
            return 1;
        }
    }
    bv_control_set_ack_cb(control_of(cc), on_ctl_ack, cc);
    cc->sources_fn = a->sources;
    cc->dropped_fn = a->dropped;
    cc->sources_arg = a->sources_arg;
    bv_console_hooks hooks = {
        .arg = cc,
        .sources = a->sources ? hook_sources : NULL,
        .dropped = a->dropped ? hook_dropped : NULL,
        .ack = hook_ack,
        .reload = hook_reload,
        .audit = hook_audit,
        .silenced = hook_silenced,
        .silence = hook_silence,
    };
    bv_console_opts o = {
        .listen = a->listen,
        .tls_cert = c->tls.cert,
        .tls_key = c->tls.key,
        .tokens = cc->tokens,
        .ntokens = cc->ntokens,
        .session_ms = c->session_ms,
        .keepalive_ms = c->keepalive_ms,
        .event = a->event,
        .run = a->run,
        .drill = a->drill,
        .lang = a->lang,
        .version = BV_VERSION,
        .clock = bv_clock_system(),
        .rules = a->rs,
        .history = cc->history,
        .pipeline = a->pipeline,
        .book = a->book,
        .store = a->store,
        .dispatch = a->al ? a->al->dispatch : NULL,
    };
    cc->console = bv_console_new(a->base, &o, &hooks, err, sizeof err);
    if (cc->console == NULL) {
        fprintf(stderr, "blikveld %s: console: %s\n", a->cmd, err);
        return 1;
    }
    /* always said (the log level may hide INFO): with port 0 it is the only way to know */
    if (bv_console_open_local(cc->console)) {
        fprintf(stderr,
                "blikveld %s: console at %s (no tokens configured: loopback only, and anyone on "
                "this machine may use it)\n",
                a->cmd, bv_console_url(cc->console));
    } else {
        fprintf(stderr, "blikveld %s: console at %s (%zu tokens)\n", a->cmd,
                bv_console_url(cc->console), cc->ntokens);
    }
    if (a->restore && cc->al) {
        restore(cc, a);
    }
    return 0;
}

void bv_cmd_console_signal(void *arg, const bv_signal *s)
{
    bv_cmd_console *cc = arg;
    if (cc->history) {
        bv_history_signal(cc->history, s);
    }
    if (cc->console) {
        bv_console_signal(cc->console, s);
    }
    bv_book_on_signal(cc->book, s);
}

void bv_cmd_console_alert(bv_cmd_console *cc, const bv_alert *a)
{
    if (cc->console == NULL) {
        return;
    }
    bv_console_alert(cc->console, a);
    bv_control *ctl = control_of(cc);
    const char *by = ctl ? bv_control_acked(ctl, a->id) : NULL;
    if (by) {
        bv_console_acked(cc->console, a->id, by, 0);
    }
}

void bv_cmd_console_close(bv_cmd_console *cc)
{
    if (cc->own_control || cc->al) {
        bv_control *ctl = control_of(cc);
        if (ctl) {
            bv_control_set_ack_cb(ctl, NULL, NULL);
        }
    }
    lister_free(cc);
    bv_console_free(cc->console);
    if (cc->poll) {
        event_free(cc->poll);
    }
    bv_control_free(cc->own_control);
    bv_history_free(cc->history);
    free(cc->tokens);
    free(cc->ctl_dir);
    free(cc->aud_dir);
    memset(cc, 0, sizeof *cc);
}

void bv_cmd_reload_free(bv_cmd_reload *r)
{
    for (size_t i = 0; i < r->nold; i++) {
        bv_rules_free(r->old[i]);
    }
    free(r->old);
    r->old = NULL;
    r->nold = 0;
}
