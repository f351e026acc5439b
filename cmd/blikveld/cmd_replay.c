/* cmd_replay.c: `blikveld replay`: parse flags and the config file, wire recording -> pipeline
 * -> alert book -> sinks on one event loop, run it, print the summary. No logic of its own. */
#include "alert/book.h"
#include "alert/sink.h"
#include "cmd.h"
#include "codec/codec.h"
#include "console/report.h"
#include "core/config.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "engine/pipeline.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "engine/store_memory.h"
#include "engine/store_redis.h"
#include "net/curl_loop.h"
#include "net/redis_url.h"
#include "source/replay.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct replay_conf {
    char *event;
    bv_strlist rules;
    char *state_dir;
    int64_t lateness_ms;
    bv_cmd_redis_conf redis;
    bv_cmd_places_conf places;
    bv_cmd_alerting_conf alerting;
    bv_cmd_console_conf console;
} replay_conf;

static const bv_option conf_table[] = {
    BV_OPTION("event", BV_OPT_STRING, replay_conf, event, NULL,
              "the event's name (default: the first rule file's name)"),
    BV_OPTION("rules", BV_OPT_PATH_LIST, replay_conf, rules, NULL,
              "rule files, one rule set (relative to the config file)"),
    BV_OPTION("state_dir", BV_OPT_PATH, replay_conf, state_dir, NULL,
              "cursors, offsets, pseudonym key (default $XDG_STATE_HOME/blikveld)"),
    BV_OPTION_RANGE("lateness", BV_OPT_DURATION, replay_conf, lateness_ms, "2m", 0, 86400000,
                    "how late a post may arrive and still count in its window"),
    BV_OPTION_SECTION("places", replay_conf, places, bv_cmd_places_table,
                      "where the event is: the municipality and its own place names"),
    BV_OPTION_SECTION("redis", replay_conf, redis, bv_cmd_redis_table,
                      "count in Redis, shared with other processes (default: in memory)"),
    BV_OPTION_IGNORE("sources", "live sources: read by `blikveld run`"),
    BV_OPTION_IGNORE("record", "recording of live posts: read by `blikveld run`"),
    BV_OPTION_IGNORE("max_queue", "the live ingest queue: read by `blikveld run`"),
    BV_OPTION_SECTION("console", replay_conf, console, bv_cmd_console_table,
                      "the console `replay --console` serves (listen, tls, tokens)"),
    BV_CMD_ALERTING_OPTIONS(replay_conf, alerting),
    BV_OPTION_END,
};

typedef struct drill {
    struct event_base *base;
    int drained;
    bv_sink *sinks[2];
    size_t nsinks;
    bv_book *book;
    uint64_t alerts_firing, alerts_resolved, sink_failures;
    bv_dispatch *dispatch; /* --deliver */
    int done, err;
    int serving, stop; /* --console: the replay is over, the console stays until a signal */
    bv_cmd_console cc;
    bv_pipeline *pl;
    bv_alert **kept; /* --report: a copy of every alert */
    size_t nkept;
} drill;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blikveld replay [OPTIONS] RECORDING...\n\n"
            "Replays recordings (files with one JSON object per line, or - for stdin) through\n"
            "an event's rule set and prints the alerts the live run would have given, one per\n"
            "line. Several recordings are merged by event time. Each line may be a Mastodon\n"
            "Status, a Bluesky Jetstream event, an X API v2 stream message or v1.1 Tweet, or a\n"
            "blikveld recording envelope; other lines are counted and skipped.\n\n"
            "  -r, --rules FILE     a rule file (repeat for several; overrides the config's)\n"
            "  -c, --config FILE    YAML config (event, rules, state_dir, lateness)\n"
            "  -E, --event NAME     the event's name (default: first rule file's name)\n"
            "  -s, --speed N|max    pace at N times real time by event time, or as fast as\n"
            "                       possible (default max); both give the same alerts\n"
            "  -f, --format F       json (default): one JSON object per line; text: one\n"
            "                       readable line per alert, times in Europe/Amsterdam\n"
            "  -a, --alerts FILE    also write the alerts (JSON lines) to FILE\n"
            "  -e, --errors FILE    list skipped lines as FILE:LINE: reason\n"
            "  -l, --lateness DUR   how late a post may be and still count (default 2m)\n"
            "      --redis URL      count in Redis (redis://[:PASSWORD@]HOST[:PORT][/DB] or\n"
            "                       unix:PATH), shared with other processes of the same run\n"
            "      --run NAME       the drill run's name: processes replaying parts of one drill\n"
            "                       into one Redis pass the same NAME (default: a new one)\n"
            "      --state-dir DIR  where the pseudonym key lives (default\n"
            "                       $XDG_STATE_HOME/blikveld, or ~/.local/state/blikveld)\n"
            "      --max-line BYTES longest line accepted (default 1048576)\n"
            "      --deliver        deliver the alerts to the config's recipients, marked as a\n"
            "                       drill (OEFENING) everywhere; waits until they are delivered\n"
            "                       (without it, recipients are only checked)\n"
            "      --console        serve the console over the drill (the page, the API,\n"
            "                       /metrics): alerts appear as the replay gives them, and it\n"
            "                       keeps serving after the replay until SIGINT or SIGTERM\n"
            "      --listen ADDR    where --console serves: HOST:PORT (default the config's\n"
            "                       console.listen, else 127.0.0.1:8080; tokens from the config)\n"
            "      --report FILE    write the drill debrief to FILE: one self-contained HTML page\n"
            "                       with each rule's window against its threshold over the\n"
            "                       replayed time (alerts marked) and the table of alerts\n"
            "  -q, --quiet          no progress and no summary on stderr\n"
            "  -h, --help           this help\n\n"
            "Authors are pseudonymised (HMAC-SHA256) with BLIKVELD_PSEUDONYM_KEY, or a key\n"
            "created once as STATE_DIR/pseudonym.key (mode 0600).\n"
            "exit status: 0 done, 1 failure (unreadable input, bad rules or config, alerts\n"
            "that could not be written), 2 usage error\n\n"
            "config file keys (flags override them; paths are relative to the file):\n");
    bv_config_help(conf_table, out);
}

static void on_alert(void *arg, const bv_alert *a)
{
    drill *d = arg;
    bv_cmd_console_alert(&d->cc, a);
    if (d->kept) {
        /* the report's copy, as the outbox keeps alerts: through their JSON */
        bv_buf json = BV_BUF_INIT;
        char err[256];
        bv_alert *copy = bv_alert_format_json(a, &json) == BV_OK
                             ? bv_alert_parse_json(json.p, json.len, err, sizeof err)
                             : NULL;
        bv_alert **more = copy ? realloc(d->kept, (d->nkept + 1) * sizeof *more) : NULL;
        if (more) {
            d->kept = more;
            d->kept[d->nkept++] = copy;
        } else {
            bv_alert_free(copy);
            d->sink_failures++;
            bv_log(BV_LOG_ERROR, "report", "alert %s: out of memory keeping it for the report",
                   a->id);
        }
        bv_buf_free(&json);
    }
    if (a->state == BV_ALERT_FIRING) {
        d->alerts_firing++;
    } else {
        d->alerts_resolved++;
    }
    if (d->dispatch && bv_dispatch_alert(d->dispatch, a) != BV_OK) {
        d->sink_failures++;
        bv_log(BV_LOG_ERROR, "alerts", "alert %s: out of memory on the way to its recipients",
               a->id);
    }
    for (size_t i = 0; i < d->nsinks; i++) {
        if (bv_sink_emit(d->sinks[i], a) != BV_SINK_OK) {
            d->sink_failures++;
            bv_log(BV_LOG_ERROR, "alerts", "writing alert %s failed: %s", a->id, strerror(errno));
        }
    }
}

static void on_done(void *arg, int err)
{
    drill *d = arg;
    d->done = 1;
    d->err = err;
}

static void on_drained(void *arg, int err)
{
    drill *d = arg;
    d->drained = 1;
    if (err) {
        d->err = err;
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    drill *d = arg;
    if (d->serving) {
        bv_log(BV_LOG_INFO, "replay", "signal %d: the console stops", (int)sig);
        d->stop = 1;
        event_base_loopbreak(d->base);
        return;
    }
    bv_log(BV_LOG_WARN, "replay", "interrupted by signal %d; stopping", (int)sig);
    d->err = BV_EAGAIN;
    event_base_loopbreak(d->base);
}

static void print_summary(const bv_ruleset *rs, const bv_replay_stats *rst,
                          const bv_pipeline_stats *ps, const bv_book_stats *bs,
                          const bv_store_stats *ss, const drill *d, int64_t elapsed_ms,
                          const char *where, const char *ns)
{
    char t1[BV_TIME_ISO_LEN], t2[BV_TIME_ISO_LEN];
    uint64_t deletes = 0, skipped = 0;
    for (int i = 0; i < BV_PLATFORM__COUNT; i++) {
        deletes += ps->deletes[i];
    }
    for (int i = 0; i < BV_SKIP__COUNT; i++) {
        skipped += rst->skipped[i];
    }
    fprintf(stderr, "summary:\n");
    fprintf(stderr, "  lines read      %llu (%.1f MB, %llu blank) in %.2f s\n",
            (unsigned long long)rst->lines, (double)rst->bytes / 1e6,
            (unsigned long long)rst->blank, (double)elapsed_ms / 1000.0);
    uint64_t posts = bv_cmd_print_posts(ps);
    if (ps->max_ms != INT64_MIN) {
        fprintf(stderr, "  event time      %s .. %s\n", bv_time_format_iso8601(ps->first_ms, t1),
                bv_time_format_iso8601(ps->max_ms, t2));
    }
    fprintf(stderr, "  deletes         %llu\n", (unsigned long long)deletes);
    fprintf(stderr, "  skipped         %llu", (unsigned long long)skipped);
    for (int i = 1; i < BV_SKIP__COUNT; i++) {
        if (rst->skipped[i]) {
            fprintf(stderr, "  %s %llu", bv_skip_name((bv_skip)i),
                    (unsigned long long)rst->skipped[i]);
        }
    }
    fputc('\n', stderr);
    bv_cmd_print_late(ps);
    bv_cmd_print_alerts(rs, ps, bs, d->alerts_firing, d->alerts_resolved);
    bv_cmd_print_store(ss, where, ns, posts);
    if (d->sink_failures) {
        fprintf(stderr, "  alert output    %llu writes FAILED\n",
                (unsigned long long)d->sink_failures);
    }
}

enum {
    OPT_STATE_DIR = 1000,
    OPT_MAX_LINE,
    OPT_REDIS,
    OPT_RUN,
    OPT_DELIVER,
    OPT_CONSOLE,
    OPT_LISTEN,
    OPT_REPORT
};

/* The console's one source: the recording. */
static size_t replay_source(void *arg, bv_console_source *out, size_t max)
{
    drill *d = arg;
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(d->pl, &ps);
    uint64_t posts = bv_pipeline_posts(&ps);
    if (max) {
        out[0] = (bv_console_source){
            .name = "replay",
            .platform = "file",
            .state = d->done ? "finished" : "replaying",
            .posts = posts,
            .last_post_ms = ps.max_ms != INT64_MIN ? ps.max_ms : 0, /* the drill's event time */
            .up = 1,
        };
    }
    return 1;
}

/* Writes the debrief (the history kept everything). 0, or -1 after saying why. */
static int write_report(const char *path, drill *d, const char *event, const char *run,
                        const char *lang, const bv_ruleset *rs)
{
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(d->pl, &ps);
    uint64_t posts = bv_pipeline_posts(&ps);
    bv_report_opts o = {
        .event = event,
        .run = run,
        .lang = lang && bv_lang_parse(lang) == BV_LANG_EN ? BV_LANG_EN : BV_LANG_NL,
        .rules = rs,
        .history = d->cc.history,
        .alerts = (const bv_alert *const *)d->kept,
        .nalerts = d->nkept,
        .first_ms = ps.first_ms,
        .last_ms = ps.max_ms,
        .posts = posts,
        .matches = ps.matches,
        .generated_ms = bv_now_ms(bv_clock_system()),
    };
    bv_buf page = BV_BUF_INIT;
    int rc = bv_report_html(&o, &page);
    FILE *f = rc == BV_OK ? fopen(path, "w") : NULL;
    if (f == NULL || fwrite(page.p, 1, page.len, f) != page.len || fclose(f) != 0) {
        fprintf(stderr, "blikveld replay: --report %s: %s\n", path,
                rc != BV_OK ? "out of memory" : strerror(errno));
        bv_buf_free(&page);
        return -1;
    }
    bv_buf_free(&page);
    return 0;
}

int bv_cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"event", required_argument, NULL, 'E'},
        {"speed", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"alerts", required_argument, NULL, 'a'},
        {"errors", required_argument, NULL, 'e'},
        {"lateness", required_argument, NULL, 'l'},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"max-line", required_argument, NULL, OPT_MAX_LINE},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"run", required_argument, NULL, OPT_RUN},
        {"deliver", no_argument, NULL, OPT_DELIVER},
        {"console", no_argument, NULL, OPT_CONSOLE},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"report", required_argument, NULL, OPT_REPORT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    replay_conf conf;
    memset(&conf, 0, sizeof conf);
    const char *config = NULL, *event = NULL, *alerts_path = NULL, *errors_path = NULL;
    const char *state_dir = NULL, *lateness = NULL, *redis_url = NULL, *run = NULL;
    const char *listen = NULL, *report = NULL;
    int console = 0;
    bv_cmd_event ev;
    memset(&ev, 0, sizeof ev);
    char *key_ns = NULL;
    const char **rules = calloc((size_t)argc + 1, sizeof *rules);
    size_t nrules = 0;
    double speed = 0;
    size_t max_line = 0;
    int quiet = 0, deliver = 0, c, rc = 1;
    bv_sink_format format = BV_FORMAT_JSON;
    bv_curl_loop *cl = NULL;
    bv_cmd_alerting al;
    memset(&al, 0, sizeof al);
    char errstr[1024];
    bv_diag diag;
    memset(&diag, 0, sizeof diag);

    const bv_ruleset *rs = NULL;
    const bv_pseudo *pseudo = NULL;
    bv_store *store = NULL;
    bv_pipeline *pl = NULL;
    bv_replay *rp = NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    FILE *errors = NULL;
    const char *event_name = NULL;
    char *ns = NULL;
    drill d;
    memset(&d, 0, sizeof d);
    if (rules == NULL) {
        return 1;
    }

    optind = 1;
    while ((c = getopt_long(argc, argv, "r:c:E:s:f:a:e:l:qh", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'r':
            rules[nrules++] = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'E':
            event = optarg;
            break;
        case 's':
            if (strcmp(optarg, "max") == 0) {
                speed = 0;
                break;
            }
            errno = 0;
            speed = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(speed > 0) || !isfinite(speed)) {
                fprintf(stderr,
                        "blikveld replay: --speed takes a positive number or 'max', not '%s'\n",
                        optarg);
                goto usage_error;
            }
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                format = BV_FORMAT_JSON;
            } else if (strcmp(optarg, "text") == 0) {
                format = BV_FORMAT_TEXT;
            } else {
                fprintf(stderr, "blikveld replay: --format takes json or text, not '%s'\n", optarg);
                goto usage_error;
            }
            break;
        case 'a':
            alerts_path = optarg;
            break;
        case 'e':
            errors_path = optarg;
            break;
        case 'l':
            lateness = optarg;
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case OPT_REDIS:
            redis_url = optarg;
            break;
        case OPT_RUN:
            if (!bv_cmd_name_ok(optarg)) {
                fprintf(stderr,
                        "blikveld replay: --run takes a name of letters, digits, '-', '_' and "
                        "'.', not '%s'\n",
                        optarg);
                goto usage_error;
            }
            run = optarg;
            break;
        case OPT_DELIVER:
            deliver = 1;
            break;
        case OPT_CONSOLE:
            console = 1;
            break;
        case OPT_LISTEN:
            listen = optarg;
            break;
        case OPT_REPORT:
            report = optarg;
            break;
        case OPT_MAX_LINE: {
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 64 || v > (1ull << 30)) {
                fprintf(stderr,
                        "blikveld replay: --max-line takes 64..1073741824 bytes, not '%s'\n",
                        optarg);
                goto usage_error;
            }
            max_line = (size_t)v;
            break;
        }
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            free(rules);
            return 0;
        default:
            goto usage_error;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "blikveld replay: no recording given (a file, or - for stdin)\n");
        goto usage_error;
    }
    if (deliver && config == NULL) {
        fprintf(stderr, "blikveld replay: --deliver needs --config FILE (its recipients)\n");
        goto usage_error;
    }

    if (config) {
        if (bv_config_load(config, conf_table, &conf, &diag) != 0) {
            fprintf(stderr, "%s\n", bv_diag_format(&diag, errstr, sizeof errstr));
            goto out;
        }
    } else {
        conf.lateness_ms = 120000;
        conf.redis.flush_ms = 250;
        conf.redis.timeout_ms = 5000;
        conf.redis.max_pending = 1000000;
    }
    if (lateness && bv_duration_parse(lateness, strlen(lateness), &conf.lateness_ms) != 0) {
        fprintf(stderr, "blikveld replay: --lateness takes a duration like 2m or 30s, not '%s'\n",
                lateness);
        goto usage_error;
    }
    if (nrules == 0) {
        for (size_t i = 0; i < conf.rules.n; i++) {
            rules[nrules++] = conf.rules.v[i];
        }
    }
    if (nrules == 0) {
        fprintf(stderr, "blikveld replay: no rule set: give --rules FILE or rules: in --config\n");
        goto usage_error;
    }
    bv_cmd_event_args ea = {
        .cmd = "replay",
        .name_flag = event,
        .conf_name = conf.event,
        .rules = rules,
        .nrules = nrules,
        .state_flag = state_dir,
        .conf_state = conf.state_dir,
        .redis_flag = redis_url,
        .conf_redis = conf.redis.url,
        .places = &conf.places,
    };
    int setup = bv_cmd_event_setup(&ev, &ea);
    if (setup == 2) {
        goto usage_error;
    }
    if (setup != 0) {
        goto out;
    }
    rs = ev.rs;
    pseudo = ev.pseudo;
    event_name = ev.name;
    if (config && (bv_cmd_alerting_check(&conf.alerting, config, rs) != 0 ||
                   bv_cmd_console_check(&conf.console, config) != 0)) {
        goto out;
    }
    if (listen && !console) {
        fprintf(stderr, "blikveld replay: --listen goes with --console\n");
        goto usage_error;
    }
    if (console && listen == NULL) {
        listen = conf.console.listen ? conf.console.listen : "127.0.0.1:8080";
    }
    if (report) {
        d.kept = calloc(1, sizeof *d.kept);
        if (d.kept == NULL) {
            goto out;
        }
    }
    if (deliver && !bv_cmd_alerting_wanted(&conf.alerting)) {
        fprintf(stderr, "blikveld replay: --deliver: %s has no recipients: nor alertmanager:\n",
                config);
        goto out;
    }
    d.base = event_base_new();
    if (d.base == NULL ||
        bv_cmd_sinks_open(d.sinks, &d.nsinks, format, alerts_path, "w", "replay") != 0) {
        goto out;
    }
    if (errors_path) {
        errors = fopen(errors_path, "w");
        if (errors == NULL) {
            fprintf(stderr, "blikveld replay: %s: %s\n", errors_path, strerror(errno));
            goto out;
        }
    }
    /* a drill has a namespace of its own: it never touches a live event's windows or claims.
     * Alert ids come from "drill/EVENT" (the same recording gives the same ids); in Redis, each
     * drill run counts under "drill/EVENT/RUN" of its own */
    size_t nslen = strlen(event_name) + 8;
    ns = malloc(nslen);
    key_ns = malloc(nslen + 128);
    if (ns == NULL || key_ns == NULL) {
        goto out;
    }
    snprintf(ns, nslen, "drill/%s", event_name);
    if (ev.redis) {
        char fresh[64];
        if (run == NULL) {
            char t[BV_TIME_ISO_LEN];
            bv_time_format_iso8601(bv_now_ms(bv_clock_system()), t);
            size_t o = 0;
            for (size_t i = 0; t[i] && o + 1 < sizeof fresh; i++) {
                if (t[i] != '-' && t[i] != ':' && t[i] != '.') {
                    fresh[o++] = t[i];
                }
            }
            snprintf(fresh + o, sizeof fresh - o, "-%ld", (long)getpid());
            run = fresh;
        }
        snprintf(key_ns, nslen + 128, "%s/%s", ns, run);
        store = bv_cmd_store_new(d.base, &ev.raddr, &conf.redis, "replay");
        if (store == NULL) {
            goto out;
        }
    } else {
        snprintf(key_ns, nslen + 128, "%s", ns);
        store = bv_cmd_store_new(d.base, NULL, &conf.redis, "replay");
        if (store == NULL) {
            goto out;
        }
    }
    if (deliver) {
        /* the drill's own outbox: drill/EVENT, or drill/EVENT/RUN with --run */
        char ons[512];
        snprintf(ons, sizeof ons, "%s", key_ns); /* drill/EVENT, or drill/EVENT/RUN */
        cl = bv_curl_loop_new(d.base);
        bv_cmd_alerting_open_args aa = {
            .cmd = "replay",
            .config = config,
            .conf = &conf.alerting,
            .event = event_name,
            .ns = ons,
            .state_dir = ev.state_dir,
            .base = d.base,
            .curl = cl,
            .drill = 1,
            .redis = ev.redis ? &ev.raddr : NULL,
            .redis_password = conf.redis.password_env ? getenv(conf.redis.password_env) : NULL,
            .rs = rs,
        };
        if (cl == NULL || bv_file_mkdirs(ev.state_dir) != 0 ||
            bv_cmd_alerting_open(&al, &aa) != 0) {
            goto out;
        }
        d.dispatch = al.dispatch;
        bv_cmd_alerting_ready(&al, d.base, "replay");
        bv_dispatch_start(d.dispatch);
    }
    bv_book_opts bo = {.event = event_name, .ns = ns, .claim_ns = key_ns, .drill = 1};
    d.book = bv_book_new(rs, store, &bo, on_alert, &d);
    if (d.book && deliver) {
        bv_book_set_outbox(d.book, bv_cmd_alerting_book_cb(&al), al.dispatch);
    }
    d.cc.book = d.book;
    /* the console's charts and the report's: quiet rules are evaluated once a minute (of
     * event time) too; the alerts do not change */
    bv_pipeline_opts po = {.lateness_ms = conf.lateness_ms,
                           .ns = key_ns,
                           .clock = bv_clock_system(),
                           .receive_watermark = 1,
                           .probe_ms = console || report ? 60000 : 0};
    pl = d.book
             ? bv_pipeline_new(rs, store, &po, bv_cmd_console_signal, &d.cc, errstr, sizeof errstr)
             : NULL;
    if (pl == NULL) {
        fprintf(stderr, "blikveld replay: %s\n", d.book ? errstr : "out of memory");
        goto out;
    }
    bv_book_attach(d.book, pl);
    d.pl = pl;
    bv_cmd_console_args ca = {
        .cmd = "replay",
        .conf = &conf.console,
        .listen = console ? listen : NULL,
        .keep_all = report != NULL,
        .event = event_name,
        .run = run,
        .lang = conf.alerting.language,
        .state_dir = ev.state_dir,
        .drill = 1,
        .base = d.base,
        .rs = rs,
        .pipeline = pl,
        .book = d.book,
        .store = store,
        .al = d.dispatch ? &al : NULL,
        .sources = replay_source,
        .sources_arg = &d,
    };
    if (bv_cmd_console_open(&d.cc, &ca) != 0) {
        goto out;
    }
    bv_codec_ctx codec = {.pseudo = pseudo, .max_depth = 0};
    bv_replay_opts ro = {
        .paths = (const char *const *)argv + optind,
        .npaths = (size_t)(argc - optind),
        .speed = speed,
        .max_line = max_line,
        .errors = errors,
        .progress = !quiet && isatty(2),
        .clock = bv_clock_system(),
    };
    rp = bv_replay_new(d.base, &ro, &codec, pl, errstr, sizeof errstr);
    if (rp == NULL) {
        fprintf(stderr, "blikveld replay: %s\n", errstr);
        goto out;
    }
    sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
    sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
    if (sigint == NULL || sigterm == NULL || event_add(sigint, NULL) || event_add(sigterm, NULL)) {
        goto out;
    }
    bv_replay_start(rp, on_done, &d);
    while (!d.err && (!d.done || bv_book_pending(d.book) > 0)) {
        if (event_base_loop(d.base, EVLOOP_ONCE) < 0) {
            break;
        }
    }
    /* every count and claim in the store before the end (a shared store waits out outages) */
    if (!d.err && bv_store_drain(store, on_drained, &d) == 0) {
        while (!d.err && !d.drained) {
            if (event_base_loop(d.base, EVLOOP_ONCE) < 0) {
                break;
            }
        }
    }
    if (d.dispatch) {
        /* a drill's deliveries: all of them, before the summary */
        bv_dispatch_flush_groups(d.dispatch);
        while (!d.err && bv_cmd_alerting_pending(&al) > 0) {
            if (event_base_loop(d.base, EVLOOP_ONCE) < 0) {
                break;
            }
        }
    }
    if (!quiet) {
        bv_replay_stats rst;
        bv_pipeline_stats ps;
        bv_book_stats bs;
        bv_store_stats ss;
        bv_store_stats_get(store, &ss);
        bv_replay_stats_get(rp, &rst);
        bv_pipeline_stats_get(pl, &ps);
        bv_book_stats_get(d.book, &bs);
        int64_t ended = rst.ended_mono ? rst.ended_mono : bv_mono_ms(bv_clock_system());
        print_summary(rs, &rst, &ps, &bs, &ss, &d, ended - rst.started_mono, ev.where, key_ns);
        bv_cmd_alerting_print(&al);
    }
    if (ev.redis) {
        bv_store_stats ss;
        bv_store_stats_get(store, &ss);
        if (ss.pending) {
            fprintf(stderr, "blikveld replay: %llu deltas were not written to Redis (%s)\n",
                    (unsigned long long)ss.pending, ss.state);
        }
    }
    if (report && !d.err &&
        write_report(report, &d, event_name, run, conf.alerting.language, rs) != 0) {
        d.err = BV_EIO;
    }
    if (report && !d.err && !quiet) {
        fprintf(stderr, "  report          %s\n", report);
    }
    if (d.cc.console && !d.err) {
        /* the drill stays on screen until the operator stops it */
        fprintf(stderr, "console: %s serves the drill; stop with Ctrl-C (SIGINT) or SIGTERM\n",
                bv_console_url(d.cc.console));
        fflush(stderr);
        d.serving = 1;
        while (!d.stop) {
            if (event_base_loop(d.base, EVLOOP_ONCE) < 0) {
                break;
            }
        }
    }
    rc = d.err || d.sink_failures ? 1 : 0;
    if (d.dispatch) {
        bv_dispatch_stats ds;
        bv_dispatch_stats_get(d.dispatch, &ds);
        if (ds.failed || ds.pending) {
            rc = 1; /* the drill's deliveries did not all arrive: the summary says which */
        }
    }
    goto out;

usage_error:
    rc = 2;
    if (optind < argc || argc > 1) {
        fprintf(stderr, "(see 'blikveld replay --help')\n");
    }
out:
    if (sigint) {
        event_free(sigint);
    }
    if (sigterm) {
        event_free(sigterm);
    }
    bv_cmd_console_close(&d.cc); /* it borrows the dispatcher, pipeline, book and store */
    /* the store first: its pending answers still reach a live pipeline, replay and book */
    bv_store_free(store);
    bv_cmd_alerting_close(&al);
    bv_curl_loop_free(cl);
    bv_replay_free(rp);
    bv_pipeline_free(pl);
    bv_book_free(d.book);
    for (size_t i = 0; i < d.nsinks; i++) {
        bv_sink_free(d.sinks[i]);
    }
    if (errors) {
        fclose(errors);
    }
    for (size_t i = 0; i < d.nkept; i++) {
        bv_alert_free(d.kept[i]);
    }
    free(d.kept);
    if (d.base) {
        event_base_free(d.base);
    }
    bv_cmd_event_free(&ev);
    bv_config_free(conf_table, &conf);
    free(ns);
    free(key_ns);
    free(rules);
    return rc;
}
