/* cmd.h: the subcommands of the blikveld binary. Each takes argv with argv[0] = its own name
 * and returns the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef BV_CMD_H
#define BV_CMD_H

#include "alert/book.h"
#include "alert/dispatch.h"
#include "alert/shared.h"
#include "alert/sink.h"
#include "console/console.h"
#include "console/history.h"
#include "core/config.h"
#include "engine/pipeline.h"
#include "engine/places.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "engine/store.h"
#include "net/redis_url.h"

#include <stdint.h>

struct event_base;

#define BV_VERSION "0.1.0"

int bv_cmd_check(int argc, char **argv);
int bv_cmd_replay(int argc, char **argv);
int bv_cmd_run(int argc, char **argv);
int bv_cmd_outbox(int argc, char **argv);
int bv_cmd_ack(int argc, char **argv);
int bv_cmd_silence(int argc, char **argv);
int bv_cmd_audit(int argc, char **argv);

/* common.c: what the subcommands share. */

/* The `redis:` section of a config file. */
typedef struct bv_cmd_redis_conf {
    char *url;
    char *password_env;
    int64_t flush_ms, timeout_ms, max_pending;
} bv_cmd_redis_conf;
extern const bv_option bv_cmd_redis_table[];

/* The `places:` section of a config file. */
typedef struct bv_cmd_places_conf {
    char *municipality; /* what `place: own` means */
    char *extra;        /* the municipality's own list of place names */
} bv_cmd_places_conf;
extern const bv_option bv_cmd_places_table[];

/* The config keys of alert delivery (alerting.c). */
typedef struct bv_cmd_retention_conf {
    int64_t outbox_ms, audit_ms;
} bv_cmd_retention_conf;
typedef struct bv_cmd_escalation_conf {
    int64_t after_ms;
    char *severity;
    bool unacknowledged;
    bv_strlist notify;
} bv_cmd_escalation_conf;
typedef struct bv_cmd_grouping_conf {
    int64_t wait_ms, interval_ms;
} bv_cmd_grouping_conf;
typedef struct bv_cmd_watchdog_conf {
    int64_t every_ms;
    bv_strlist notify;
} bv_cmd_watchdog_conf;
typedef struct bv_cmd_delivery_conf {
    int64_t deadline_ms, timeout_ms, retry_min_ms, retry_max_ms, drain_ms, lease_ms, scan_ms;
    char *ca_file;
} bv_cmd_delivery_conf;
typedef struct bv_cmd_alerting_conf {
    bv_groups recipients;
    bv_smtp_conf smtp;
    char *alertmanager;
    bv_cmd_retention_conf retention;
    char *language;
    char *console_url;
    bv_seclist escalation;
    bv_cmd_grouping_conf grouping;
    bv_cmd_watchdog_conf watchdog;
    bv_cmd_delivery_conf delivery;
} bv_cmd_alerting_conf;
extern const bv_option bv_cmd_retention_table[], bv_cmd_escalation_table[], bv_cmd_grouping_table[],
    bv_cmd_watchdog_table[], bv_cmd_delivery_table[];

/* The delivery keys of a command's config table, for the bv_cmd_alerting_conf field f of st. */
#define BV_CMD_ALERTING_OPTIONS(st, f)                                                             \
    BV_OPTION_GROUPS("recipients", st, f.recipients, bv_target_table, bv_target_conf,              \
                     "recipient groups: NAME: [targets] (webhook, email, sms, telegram, slack, "   \
                     "file)"),                                                                     \
        BV_OPTION_SECTION("smtp", st, f.smtp, bv_smtp_table, "how e-mail is sent"),                \
        BV_OPTION("alertmanager", BV_OPT_STRING, st, f.alertmanager, NULL,                         \
                  "also POST every alert to this Alertmanager (http://HOST:9093)"),                \
        BV_OPTION_SECTION("retention", st, f.retention, bv_cmd_retention_table,                    \
                          "how long the outbox and the audit log keep records"),                   \
        BV_OPTION("language", BV_OPT_STRING, st, f.language, "nl",                                 \
                  "nl or en: the language of messages"),                                           \
        BV_OPTION("console_url", BV_OPT_STRING, st, f.console_url, NULL,                           \
                  "the console's address, for acknowledge links in messages"),                     \
        BV_OPTION_SECTION_LIST("escalation", st, f.escalation, bv_cmd_escalation_table,            \
                               bv_cmd_escalation_conf,                                             \
                               "steps: who else gets an alert nobody acknowledged in time"),       \
        BV_OPTION_SECTION("grouping", st, f.grouping, bv_cmd_grouping_table,                       \
                          "alerts that follow a group's first one are sent together"),             \
        BV_OPTION_SECTION("watchdog", st, f.watchdog, bv_cmd_watchdog_table,                       \
                          "a heartbeat receivers can miss when blikveld stops"),                   \
        BV_OPTION_SECTION("delivery", st, f.delivery, bv_cmd_delivery_table,                       \
                          "timeouts, retries and deadlines of deliveries")

/* Checks what the tables cannot: language, console_url, severities, groups that escalation,
 * watchdog and the rules (when rs is given and recipients are configured) name. 0, or 1 after
 * printing why. */
int bv_cmd_alerting_check(const bv_cmd_alerting_conf *c, const char *config, const bv_ruleset *rs);
/* 1 when the config delivers anywhere (recipients or alertmanager). */
int bv_cmd_alerting_wanted(const bv_cmd_alerting_conf *c);

/* Alert delivery, wired: the outbox (locked), acks and silences, the dispatcher and its sinks. */
typedef struct bv_cmd_alerting {
    bv_sink_env env;
    bv_outbox *outbox;
    bv_control *control;
    bv_dispatch *dispatch;
    bv_escalation *esc;
    size_t nesc;
    char *out_dir, *audit_dir, *control_dir;
    int busy;         /* open failed: another process holds the outbox */
    bv_outbox *spool; /* with Redis: the state dir's spool, held for its lock */
    bv_shared *redis; /* with Redis: the outbox there */
    char owner[40];   /* this process as lease holder (kept in the state dir) */
} bv_cmd_alerting;
typedef struct bv_cmd_alerting_open_args {
    const char *cmd, *config; /* for messages */
    const bv_cmd_alerting_conf *conf;
    const char *event, *ns, *state_dir;
    struct event_base *base;
    struct bv_curl_loop *curl;
    int drill;      /* a drill replay: no watchdog, no escalation */
    int flush_only; /* outbox --flush: no watchdog, no escalation */
    /* a shared Redis store: the outbox goes there (NULL: the spool file) */
    const bv_redis_addr *redis;
    const char *redis_password;
    const bv_ruleset *rs; /* its rules name the outbox's keys */
} bv_cmd_alerting_open_args;
/* 0, or 1 after printing why (bv_cmd_alerting_close frees what was made either way). */
int bv_cmd_alerting_open(bv_cmd_alerting *al, const bv_cmd_alerting_open_args *a);
/* The book's outbox callback and its argument: the claim writes the outbox entry in Redis
 * (NULL when the outbox is the spool file). */
bv_book_outbox_cb *bv_cmd_alerting_book_cb(const bv_cmd_alerting *al);
/* With Redis: runs the loop until the acks and silences there are read (at most 5 s, then
 * says so), so that no alert is routed before they are known. */
void bv_cmd_alerting_ready(bv_cmd_alerting *al, struct event_base *base, const char *cmd);
/* Deliveries not finished, and outbox writes to Redis not acknowledged yet. */
size_t bv_cmd_alerting_pending(const bv_cmd_alerting *al);
/* The deliveries' lines of the summary, on stderr. */
void bv_cmd_alerting_print(const bv_cmd_alerting *al);
void bv_cmd_alerting_close(bv_cmd_alerting *al);

/* The config of the commands that look after delivery: outbox, ack, silence, audit. */
typedef struct bv_cmd_admin_conf {
    char *event;
    bv_strlist rules;
    char *state_dir;
    bv_cmd_redis_conf redis;
    bv_cmd_alerting_conf alerting;
} bv_cmd_admin_conf;
extern const bv_option bv_cmd_admin_table[];
typedef struct bv_cmd_admin {
    bv_cmd_admin_conf conf;
    char *event, *state_dir;
    char *ns; /* "live/EVENT" */
    /* with redis: in the config (bv_cmd_admin_redis) */
    int redis;
    bv_redis_addr raddr;
    const char *password;
    bv_ruleset *rs;
} bv_cmd_admin;
/* Loads config; the event is the flag's, the config's, or the first rule file's name; the state
 * dir the flag's, the config's or the default. 0, 1 (bad config) or 2 (usage), after printing
 * why; bv_cmd_admin_free either way. */
int bv_cmd_admin_load(bv_cmd_admin *ad, const char *cmd, const char *config, const char *event,
                      const char *state_dir);
void bv_cmd_admin_free(bv_cmd_admin *ad);
/* With redis.url in the config: its address, the password from redis.password_env, and the
 * rule set (whose rules name the keys). 0 (ad->redis says whether there is one), or 1 after
 * printing why. */
int bv_cmd_admin_redis(bv_cmd_admin *ad, const char *cmd);
/* A listing connection to what an event shares in Redis at addr (nothing written by itself, no
 * lease taken): the outboxes of rs's rules in namespace ns go to found (NULL: none is read);
 * event names the control and audit lists (NULL: none). NULL with the reason in err. */
bv_shared *bv_cmd_shared_lister(struct event_base *base, const bv_redis_addr *addr,
                                const char *password, const char *ns, const bv_ruleset *rs,
                                const char *event, int64_t audit_retention_ms,
                                bv_outbox_found_cb *found, void *arg, char *err, size_t errlen);
/* A connection to what the event shares in Redis, for a command that reads or appends once:
 * lists the outbox of namespace ns into found (NULL: reads no outbox). NULL after printing why. */
bv_shared *bv_cmd_admin_shared(bv_cmd_admin *ad, struct event_base *base, const char *ns,
                               bv_outbox_found_cb *found, void *arg, const char *cmd);
/* Waits until sh is connected, reads the event's list ("audit" or "control") and hands its
 * text to cb, then returns 0; -1 when Redis did not answer within 10 s each (cb not called). */
int bv_cmd_shared_read_wait(bv_shared *sh, struct event_base *base, const char *list,
                            bv_shared_text_cb *cb, void *arg);
/* Conditions for bv_cmd_wait, arg a bv_shared: connected; a scan of the outbox done; every
 * write answered. */
int bv_cmd_shared_connected(void *sh);
int bv_cmd_shared_scanned(void *sh);
int bv_cmd_shared_written(void *sh);
/* Appends a control record (one line) and its audit record to Redis and waits until Redis has
 * them (10 s at most). 0 or -1. */
struct bv_audit_rec;
int bv_cmd_shared_record(bv_shared *sh, struct event_base *base, const bv_buf *control,
                         const struct bv_audit_rec *r);
/* Runs the loop until done(arg) or ms pass: 0, or -1 on timeout. */
int bv_cmd_wait(struct event_base *base, int (*done)(void *arg), void *arg, int64_t ms);

/* The event a command runs: its name, state directory, Redis address, rule set and pseudonym
 * key. Owned; bv_cmd_event_free releases it (also after a failed setup). */
typedef struct bv_cmd_event {
    char *name;
    char *state_dir;
    int redis; /* a Redis URL was given: raddr and where hold it */
    bv_redis_addr raddr;
    char where[BV_REDIS_ADDR_FMT_MAX];
    bv_ruleset *rs;
    bv_pseudo *pseudo;
    bv_gazetteer *places; /* the place names the rules find (built in, plus the extra list) */
} bv_cmd_event;

/* Where each comes from: the flag first, then the config (all borrowed; NULL when not given). */
typedef struct bv_cmd_event_args {
    const char *cmd;                   /* "run", "replay": for messages */
    const char *name_flag, *conf_name; /* default: the first rule file's name */
    const char *const *rules;          /* at least one */
    size_t nrules;
    const char *state_flag, *conf_state; /* default: bv_cmd_default_state_dir() */
    const char *redis_flag, *conf_redis;
    int create_state_dir; /* make it (0700) when missing: cursors and offsets go there */
    const bv_cmd_places_conf *places; /* may be NULL */
} bv_cmd_event_args;

/* Sets the event up, printing why not ("blikveld CMD: ..." or the rule file's diagnostic).
 * 0, 1 (a failure: rules, state dir, key) or 2 (a usage error: a bad name or Redis URL). */
int bv_cmd_event_setup(bv_cmd_event *ev, const bv_cmd_event_args *a);
void bv_cmd_event_free(bv_cmd_event *ev);

/* The alert outputs: stdout in format, and alerts_path (JSON lines, opened with fopen's mode)
 * when given. 0, or -1 after printing why (sinks[0..*n) are open and the caller frees them). */
int bv_cmd_sinks_open(bv_sink **sinks, size_t *n, bv_sink_format format, const char *alerts_path,
                      const char *mode, const char *cmd);

/* The Redis store at addr (NULL: the memory store), with the password from the environment;
 * NULL after printing why ("blikveld CMD: ..."). */
bv_store *bv_cmd_store_new(struct event_base *base, const bv_redis_addr *addr,
                           const bv_cmd_redis_conf *rc, const char *cmd);
/* Lines of the summary, on stderr: posts by platform (returns their number); late, duplicate
 * and future posts; matches per rule and the alerts. */
uint64_t bv_cmd_print_posts(const bv_pipeline_stats *ps);
void bv_cmd_print_late(const bv_pipeline_stats *ps);
void bv_cmd_print_alerts(const bv_ruleset *rs, const bv_pipeline_stats *ps, const bv_book_stats *bs,
                         uint64_t firing, uint64_t resolved);
/* The store's lines of the summary, on stderr. */
void bv_cmd_print_store(const bv_store_stats *ss, const char *where, const char *ns,
                        uint64_t posts);
/* $XDG_STATE_HOME/blikveld, ~/.local/state/blikveld, or .blikveld-state (caller frees). */
char *bv_cmd_default_state_dir(void);
/* "project-x" from "rules/project-x.yaml" (caller frees). */
char *bv_cmd_name_from_path(const char *path);
/* 1 for names that may go into store keys: letters, digits, '-', '_', '.'; 1..100 bytes. */
int bv_cmd_name_ok(const char *s);

/* serve.c: the console, wired for run and replay --console. */
typedef struct bv_cmd_console_tls {
    char *cert, *key;
} bv_cmd_console_tls;
typedef struct bv_cmd_console_token {
    char *name, *token_env, *role;
} bv_cmd_console_token;
typedef struct bv_cmd_console_conf {
    char *listen;
    bv_cmd_console_tls tls;
    bv_seclist tokens;
    int64_t session_ms, history_ms, keepalive_ms;
} bv_cmd_console_conf;
extern const bv_option bv_cmd_console_table[];
/* What the tables cannot check: listen with tokens or tls, roles, names. 0, or 1 after printing
 * why. */
int bv_cmd_console_check(const bv_cmd_console_conf *c, const char *config);

/* Rule sets changed live (SIGHUP, POST /api/reload): how the set is loaded again, and the sets
 * it replaced (kept until exit: alerts in flight borrow their rules). */
typedef struct bv_cmd_reload {
    const char *const *files;
    size_t nfiles;
    const bv_gazetteer *places;
    const char *own;
    bv_ruleset **current; /* the running set (bv_cmd_event.rs): replaced on success */
    bv_pipeline *pipeline;
    bv_book *book;
    bv_ruleset **old;
    size_t nold;
} bv_cmd_reload;
void bv_cmd_reload_free(bv_cmd_reload *r);

typedef struct bv_cmd_console {
    bv_console *console; /* NULL: no console (the history may still be kept, for a report) */
    bv_history *history;
    bv_auth_token *tokens;
    size_t ntokens;
    bv_book *book;
    const char *event;
    char *ctl_dir, *aud_dir;
    int drill;
    bv_cmd_alerting *al; /* borrowed; NULL when nothing delivers */
    bv_control *own_control;
    struct event *poll;
    bv_cmd_reload *reload; /* NULL: no reloads (replay) */
    bv_shared *lister;     /* with Redis: reads the outbox there once, for the page */
    struct event *lister_poll;
    int64_t restore_span_ms; /* restored alerts older than this go (console.history) */
    size_t (*sources_fn)(void *arg, bv_console_source *out, size_t max);
    uint64_t (*dropped_fn)(void *arg);
    void *sources_arg;
} bv_cmd_console;
typedef struct bv_cmd_console_args {
    const char *cmd;
    const bv_cmd_console_conf *conf;
    const char *listen; /* NULL: no console, only the history */
    int keep_all;       /* the history keeps everything (a report) */
    const char *event, *run, *lang, *state_dir;
    int drill;
    struct event_base *base;
    const bv_ruleset *rs;
    bv_pipeline *pipeline;
    bv_book *book;
    bv_store *store;
    bv_cmd_alerting *al;
    bv_cmd_reload *reload;
    /* run: the page starts with the alerts of the outbox (al's spool, or the outbox in Redis
     * at redis, in namespace ns) of the last console.history, marked as from before this start */
    int restore;
    const bv_redis_addr *redis;
    const char *redis_password, *ns;
    size_t (*sources)(void *arg, bv_console_source *out, size_t max);
    uint64_t (*dropped)(void *arg);
    void *sources_arg;
} bv_cmd_console_args;
/* 0, or 1 after printing why (bv_cmd_console_close frees what was made either way). The
 * pipeline must be made with bv_cmd_console_signal as its signal callback and cc as argument
 * (set cc->book first). */
int bv_cmd_console_open(bv_cmd_console *cc, const bv_cmd_console_args *a);
/* A bv_signal_cb (arg: the bv_cmd_console): history, console, then the book. */
void bv_cmd_console_signal(void *cc, const bv_signal *s);
/* An alert for the console (nothing without one). */
void bv_cmd_console_alert(bv_cmd_console *cc, const bv_alert *a);
/* Loads the rule files again and hands the new set over (SIGHUP; the console's hook). */
void bv_cmd_console_reload(bv_cmd_console *cc, const char *by, bv_console_reload_done *done,
                           void *done_arg);
void bv_cmd_console_close(bv_cmd_console *cc);

#endif
