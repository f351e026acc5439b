/* cmd_run.c: `blikveld run`: parse flags and the config file, wire the live sources -> recorder
 * and ingest -> pipeline -> alert book -> sinks on one event loop, run until SIGINT or SIGTERM,
 * then flush and print the summary. SIGUSR1 prints the sources' state, SIGHUP reloads the rules
 * (serve.c), console.listen serves the console. No logic of its own. */
#include "alert/book.h"
#include "alert/health.h"
#include "alert/sink.h"
#include "cmd.h"
#include "codec/codec.h"
#include "core/config.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "engine/pipeline.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "net/curl_loop.h"
#include "source/ingest.h"
#include "source/record.h"
#include "source/source.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 1000 /* the watermark follows the clock, flatlines are looked at, this often */

typedef struct record_conf {
    char *dir;
    int64_t retention_ms;
} record_conf;

typedef struct run_conf {
    char *event;
    bv_strlist rules;
    char *state_dir;
    int64_t lateness_ms;
    int64_t max_queue;
    bv_cmd_redis_conf redis;
    bv_cmd_places_conf places;
    record_conf record;
    bv_seclist sources;
    bv_cmd_alerting_conf alerting;
    bv_cmd_console_conf console;
} run_conf;

static const bv_option record_table[] = {
    BV_OPTION("dir", BV_OPT_PATH, record_conf, dir, NULL,
              "write every received post here, one file per day (EVENT-YYYY-MM-DD.jsonl)"),
    BV_OPTION_RANGE("retention", BV_OPT_DURATION, record_conf, retention_ms, "30d", 0,
                    3650LL * 86400000, "delete the event's daily files older than this (0s: keep)"),
    BV_OPTION_END,
};

static const bv_option conf_table[] = {
    BV_OPTION("event", BV_OPT_STRING, run_conf, event, NULL,
              "the event's name (default: the first rule file's name)"),
    BV_OPTION("rules", BV_OPT_PATH_LIST, run_conf, rules, NULL,
              "rule files, one rule set (relative to the config file)"),
    BV_OPTION("state_dir", BV_OPT_PATH, run_conf, state_dir, NULL,
              "cursors, offsets, pseudonym key (default $XDG_STATE_HOME/blikveld)"),
    BV_OPTION_RANGE("lateness", BV_OPT_DURATION, run_conf, lateness_ms, "2m", 0, 86400000,
                    "how late a post may arrive and still count in its window"),
    BV_OPTION_RANGE("max_queue", BV_OPT_INT, run_conf, max_queue, "10000", 1, 10000000,
                    "posts waiting for the pipeline at most; more are dropped and counted"),
    BV_OPTION_SECTION("places", run_conf, places, bv_cmd_places_table,
                      "where the event is: the municipality and its own place names"),
    BV_OPTION_SECTION("redis", run_conf, redis, bv_cmd_redis_table,
                      "count in Redis, shared with other processes (default: in memory)"),
    BV_OPTION_SECTION("record", run_conf, record, record_table,
                      "record the live posts, so the event can be replayed as a drill"),
    BV_OPTION_SECTION_LIST("sources", run_conf, sources, bv_source_conf_table, bv_source_conf,
                           "where posts come from: one item per stream, listener or poller"),
    BV_OPTION_SECTION("console", run_conf, console, bv_cmd_console_table,
                      "the crisis team's console: live page, API, metrics, health"),
    BV_CMD_ALERTING_OPTIONS(run_conf, alerting),
    BV_OPTION_END,
};

typedef struct live {
    struct event_base *base;
    bv_sink *sinks[2];
    size_t nsinks;
    bv_book *book;
    bv_health *health;
    bv_ingest *ingest;
    bv_recorder *rec;
    bv_source **sources;
    size_t nsources, nfinal;
    bv_source_stats *final; /* the sources' stats when they were stopped (for the summary) */
    char (*final_name)[2][72];
    int *watch; /* per source: its health watch, or -1 */
    uint64_t alerts_firing, alerts_resolved, health_alerts, sink_failures;
    bv_dispatch *dispatch; /* NULL: nothing configured to deliver to */
    int stopping, drained, err, drain_timeout;
    int64_t started_ms;
    bv_cmd_console cc;
    bv_source_stats shown[64]; /* the sources as the console last asked (it borrows strings) */
} live;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blikveld run --config FILE [OPTIONS]\n\n"
            "Streams public posts from the configured sources (Mastodon, X, Bluesky, Facebook\n"
            "Page webhooks, Telegram, Reddit) through the event's rule set and prints each\n"
            "alert as it happens, one per line on stdout; with recipients: (or alertmanager:)\n"
            "in the config it also delivers each alert through the durable outbox in\n"
            "STATE_DIR/outbox (or Redis), with grouping, retries, escalation and a watchdog\n"
            "heartbeat (README: Delivering alerts). Runs until SIGINT or SIGTERM, then hands\n"
            "on what was received, writes the counts and recording, waits up to delivery.drain\n"
            "for deliveries in flight (the rest stays pending for the next start), prints a\n"
            "summary and exits 0. SIGUSR1 prints every source's state on stderr; SIGHUP loads\n"
            "the rule files again (a broken file is refused and the running set stays; the\n"
            "windows of rules that did not change are kept). With console.listen (or\n"
            "--listen) it serves the crisis team's console: the live page, the API, /metrics\n"
            "and /healthz (README: The console).\n\n"
            "  -c, --config FILE    YAML config: event, rules, sources (required)\n"
            "  -E, --event NAME     the event's name (default: config's, else first rule file)\n"
            "  -R, --record FILE    also record every received post to FILE (envelopes that\n"
            "                       `blikveld replay` reads), besides the config's record: dir\n"
            "  -f, --format F       json (default): one JSON object per alert; text: one\n"
            "                       readable line per alert, times in Europe/Amsterdam\n"
            "  -a, --alerts FILE    also write the alerts (JSON lines) to FILE\n"
            "      --listen ADDR    serve the console on HOST:PORT (overrides console.listen)\n"
            "      --redis URL      count in Redis (overrides the config's redis.url)\n"
            "      --state-dir DIR  cursors, offsets and the pseudonym key (overrides the\n"
            "                       config's; default $XDG_STATE_HOME/blikveld)\n"
            "  -q, --quiet          no summary on stderr\n"
            "  -h, --help           this help\n\n"
            "Secrets (tokens, app secrets) come only from the environment variables the\n"
            "config's *_env keys name; they never appear in logs, recordings or the summary.\n"
            "Authors are pseudonymised (HMAC-SHA256) with BLIKVELD_PSEUDONYM_KEY, or a key\n"
            "created once as STATE_DIR/pseudonym.key (mode 0600).\n"
            "A second SIGINT or SIGTERM stops at once, without waiting for Redis.\n"
            "exit status: 0 stopped by a signal after a clean flush, 1 failure (bad config,\n"
            "rules, sources or state dir; a second signal), 2 usage error\n\n"
            "config file keys (paths are relative to the file):\n");
    bv_config_help(conf_table, out);
    fprintf(out, "\nplatforms: %s\n", bv_source_platforms());
}

static void emit_alert(live *l, const bv_alert *a)
{
    bv_cmd_console_alert(&l->cc, a);
    if (l->dispatch && bv_dispatch_alert(l->dispatch, a) != BV_OK) {
        l->sink_failures++;
        bv_log(BV_LOG_ERROR, "alerts", "alert %s: out of memory on the way to its recipients",
               a->id);
    }
    for (size_t i = 0; i < l->nsinks; i++) {
        if (bv_sink_emit(l->sinks[i], a) != BV_SINK_OK) {
            l->sink_failures++;
            bv_log(BV_LOG_ERROR, "alerts", "writing alert %s failed: %s", a->id, strerror(errno));
        }
    }
}

static void on_alert(void *arg, const bv_alert *a)
{
    live *l = arg;
    if (a->state == BV_ALERT_FIRING) {
        l->alerts_firing++;
    } else {
        l->alerts_resolved++;
    }
    emit_alert(l, a);
}

static void on_health(void *arg, const bv_alert *a)
{
    live *l = arg;
    l->health_alerts++;
    bv_log(a->state == BV_ALERT_FIRING ? BV_LOG_WARN : BV_LOG_INFO, "health", "%s: %s",
           a->state == BV_ALERT_FIRING ? "firing" : "resolved", a->rule->title);
    emit_alert(l, a);
}

/* Every post of every source: recorded first (the recording holds what arrived, even what
 * the queue had to drop), then queued for the pipeline. */
static void on_post(void *arg, bv_post *post, const bv_raw *raw)
{
    live *l = arg;
    if (l->rec) {
        bv_recorder_write(l->rec, post, raw);
    }
    bv_ingest_offer(l->ingest, post);
}

static int on_full(void *arg, int paused)
{
    return bv_ingest_full(((live *)arg)->ingest, paused);
}

static void print_sources(const live *l, FILE *out)
{
    int64_t now = bv_now_ms(bv_clock_system());
    size_t n = l->nsources ? l->nsources : l->final ? l->nfinal : 0;
    fprintf(out, "  %-14s %-9s %-12s %8s %7s %7s %10s %6s %5s  %s\n", "source", "platform", "state",
            "posts", "deletes", "skipped", "bytes", "errors", "recon", "last post");
    for (size_t i = 0; i < n; i++) {
        bv_source_stats st;
        memset(&st, 0, sizeof st);
        const char *name, *platform;
        if (l->nsources) {
            bv_source_stats_get(l->sources[i], &st);
            name = bv_source_name(l->sources[i]);
            platform = bv_source_platform(l->sources[i]);
        } else {
            st = l->final[i];
            name = l->final_name[i][0];
            platform = l->final_name[i][1];
        }
        char last[64] = "never";
        if (st.last_post_ms) {
            char t[BV_TIME_ISO_LEN], d[32];
            snprintf(last, sizeof last, "%s (%s ago)", bv_time_format_amsterdam(st.last_post_ms, t),
                     bv_duration_format(now - st.last_post_ms < 0 ? 0 : now - st.last_post_ms, d));
        }
        fprintf(out, "  %-14s %-9s %-12s %8llu %7llu %7llu %10llu %6llu %5llu  %s\n", name,
                platform, st.state ? st.state : "?", (unsigned long long)st.posts,
                (unsigned long long)st.deletes, (unsigned long long)st.skipped,
                (unsigned long long)st.bytes, (unsigned long long)st.errors,
                (unsigned long long)st.reconnects, last);
        if (st.last_error[0] && (st.errors || strcmp(st.state ? st.state : "", "streaming"))) {
            fprintf(out, "  %-14s last error: %s", "", st.last_error);
            if (st.last_status && strncmp(st.last_error, "HTTP ", 5) != 0) {
                fprintf(out, " (HTTP %ld)", st.last_status);
            }
            fputc('\n', out);
        }
    }
}

/* The console's view of the sources. */
static size_t console_sources(void *arg, bv_console_source *out, size_t max)
{
    live *l = arg;
    bv_source_stats *st = l->shown;
    size_t cap = sizeof l->shown / sizeof l->shown[0];
    for (size_t i = 0; i < l->nsources && i < max && i < cap; i++) {
        bv_source_stats_get(l->sources[i], &st[i]);
        const char *state = st[i].state ? st[i].state : "?";
        out[i] = (bv_console_source){
            .name = bv_source_name(l->sources[i]),
            .platform = bv_source_platform(l->sources[i]),
            .state = state,
            .posts = st[i].posts,
            .skipped = st[i].skipped,
            .errors = st[i].errors,
            .reconnects = st[i].reconnects,
            .last_post_ms = st[i].last_post_ms,
            .last_error = st[i].last_error,
            .up = strcmp(state, "streaming") == 0 || strcmp(state, "listening") == 0,
        };
    }
    return l->nsources;
}

static uint64_t console_dropped(void *arg)
{
    bv_ingest_stats is;
    bv_ingest_stats_get(((live *)arg)->ingest, &is);
    return is.dropped;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    live *l = arg;
    bv_log(BV_LOG_INFO, "run", "SIGHUP: loading the rule set again");
    bv_cmd_console_reload(&l->cc, "SIGHUP", NULL, NULL);
}

static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    live *l = arg;
    bv_ingest_stats is;
    bv_ingest_stats_get(l->ingest, &is);
    fprintf(stderr, "sources:\n");
    print_sources(l, stderr);
    fprintf(stderr,
            "  queue %zu now, %zu at most, %llu dropped; alerts %llu firing, %llu resolved\n",
            is.queued, is.queued_max, (unsigned long long)is.dropped,
            (unsigned long long)l->alerts_firing, (unsigned long long)l->alerts_resolved);
    fflush(stderr);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    live *l = arg;
    if (l->stopping) {
        /* a second signal: the operator will not wait (for Redis, say) */
        bv_log(BV_LOG_WARN, "run", "signal %d again: stopping without waiting for the store",
               (int)sig);
        l->err = BV_EAGAIN;
    } else {
        bv_log(BV_LOG_INFO, "run", "signal %d: stopping", (int)sig);
        l->stopping = 1;
    }
    event_base_loopbreak(l->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    live *l = arg;
    int64_t now = bv_now_ms(bv_clock_system());
    bv_ingest_advance(l->ingest, now);
    for (size_t i = 0; i < l->nsources; i++) {
        if (l->watch[i] >= 0) {
            bv_source_stats st;
            bv_source_stats_get(l->sources[i], &st);
            bv_health_check(l->health, (size_t)l->watch[i], st.last_post_ms, now);
        }
    }
    /* no fdatasync here: it would block the loop; each line is written as it comes, and the
     * recording is synced once, at the end */
}

static void on_ingest_drained(void *arg)
{
    ((live *)arg)->drained = 1;
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((live *)arg)->drain_timeout = 1;
}

static void on_store_drained(void *arg, int err)
{
    live *l = arg;
    l->drained = 1;
    if (err) {
        l->err = err;
    }
}

static void print_summary(const live *l, const bv_ruleset *rs, const bv_pipeline_stats *ps,
                          const bv_book_stats *bs, const bv_store_stats *ss, const char *where,
                          const char *ns)
{
    int64_t now = bv_now_ms(bv_clock_system());
    char d[32];
    uint64_t deletes = 0;
    for (int i = 0; i < BV_PLATFORM__COUNT; i++) {
        deletes += ps->deletes[i];
    }
    bv_ingest_stats is;
    bv_ingest_stats_get(l->ingest, &is);
    fprintf(stderr, "summary:\n");
    fprintf(stderr, "  ran             %s\n", bv_duration_format(now - l->started_ms, d));
    uint64_t posts = bv_cmd_print_posts(ps);
    fprintf(stderr, "  deletes         %llu\n", (unsigned long long)deletes);
    bv_cmd_print_late(ps);
    fprintf(stderr, "  queue           %zu at most", is.queued_max);
    if (is.dropped) {
        fprintf(stderr, ", %llu posts DROPPED (the pipeline fell behind)",
                (unsigned long long)is.dropped);
    }
    fputc('\n', stderr);
    bv_cmd_print_alerts(rs, ps, bs, l->alerts_firing, l->alerts_resolved);
    if (l->health_alerts) {
        fprintf(stderr, "  health alerts   %llu (quiet sources), %zu firing at the end\n",
                (unsigned long long)l->health_alerts, bv_health_firing(l->health));
    }
    bv_cmd_print_store(ss, where, ns, posts);
    if (l->rec) {
        bv_recorder_stats rst;
        bv_recorder_stats_get(l->rec, &rst);
        fprintf(stderr, "  recording       %llu posts, %.1f MB", (unsigned long long)rst.lines,
                (double)rst.bytes / 1e6);
        if (rst.errors) {
            fprintf(stderr, ", %llu write ERRORS", (unsigned long long)rst.errors);
        }
        if (rst.files_deleted) {
            fprintf(stderr, ", %llu old files deleted", (unsigned long long)rst.files_deleted);
        }
        fputc('\n', stderr);
    }
    fprintf(stderr, "  sources\n");
    print_sources(l, stderr);
    if (l->sink_failures) {
        fprintf(stderr, "  alert output    %llu writes FAILED\n",
                (unsigned long long)l->sink_failures);
    }
}

/* Runs the loop until cond is set (or an error). */
static void loop_until(live *l, const int *cond)
{
    while (!*cond && !l->err) {
        if (event_base_loop(l->base, EVLOOP_ONCE) < 0) {
            break;
        }
    }
}

enum { OPT_STATE_DIR = 1000, OPT_REDIS, OPT_LISTEN };

int bv_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"event", required_argument, NULL, 'E'},
        {"record", required_argument, NULL, 'R'},
        {"format", required_argument, NULL, 'f'},
        {"alerts", required_argument, NULL, 'a'},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    run_conf conf;
    memset(&conf, 0, sizeof conf);
    const char *config = NULL, *event = NULL, *record_path = NULL, *alerts_path = NULL;
    const char *state_dir = NULL, *redis_url = NULL, *listen = NULL;
    bv_cmd_reload reload;
    memset(&reload, 0, sizeof reload);
    bv_cmd_event ev;
    memset(&ev, 0, sizeof ev);
    int quiet = 0, c, rc = 1;
    bv_sink_format format = BV_FORMAT_JSON;
    char errstr[1024];
    bv_diag diag;
    memset(&diag, 0, sizeof diag);

    const bv_ruleset *rs = NULL;
    const bv_pseudo *pseudo = NULL;
    bv_store *store = NULL;
    bv_pipeline *pl = NULL;
    bv_curl_loop *cl = NULL;
    bv_cmd_alerting al;
    memset(&al, 0, sizeof al);
    struct evdns_base *dns = NULL;
    struct event *sigint = NULL, *sigterm = NULL, *sigusr1 = NULL, *sighup = NULL, *tick = NULL;
    const char *event_name = NULL, *sd = NULL;
    char *ns = NULL;
    live l;
    memset(&l, 0, sizeof l);

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:E:R:f:a:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'E':
            event = optarg;
            break;
        case 'R':
            record_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                format = BV_FORMAT_JSON;
            } else if (strcmp(optarg, "text") == 0) {
                format = BV_FORMAT_TEXT;
            } else {
                fprintf(stderr, "blikveld run: --format takes json or text, not '%s'\n", optarg);
                goto usage_error;
            }
            break;
        case 'a':
            alerts_path = optarg;
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case OPT_REDIS:
            redis_url = optarg;
            break;
        case OPT_LISTEN:
            listen = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto usage_error;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "blikveld run: unexpected argument '%s'\n", argv[optind]);
        goto usage_error;
    }
    if (config == NULL) {
        fprintf(stderr, "blikveld run: --config FILE is required (it lists the sources)\n");
        goto usage_error;
    }
    if (bv_config_load(config, conf_table, &conf, &diag) != 0) {
        fprintf(stderr, "%s\n", bv_diag_format(&diag, errstr, sizeof errstr));
        goto out;
    }
    if (conf.sources.n == 0) {
        fprintf(stderr,
                "%s: no sources: list them under 'sources:' (see 'blikveld run --help' and the "
                "README)\n",
                config);
        goto out;
    }
    for (size_t i = 0; i < conf.sources.n; i++) {
        bv_source_conf *sc = (bv_source_conf *)conf.sources.v + i;
        if (bv_source_conf_check(sc, &conf.sources.info[i], i, errstr, sizeof errstr) != 0) {
            fprintf(stderr, "%s:%d:%d: %s\n", config, conf.sources.info[i].line,
                    conf.sources.info[i].col, errstr);
            goto out;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(((bv_source_conf *)conf.sources.v)[k].name, sc->name) == 0) {
                fprintf(stderr,
                        "%s:%d:%d: sources[%zu] (%s): the name '%s' is taken by sources[%zu]; "
                        "give each source a name of its own\n",
                        config, conf.sources.info[i].line, conf.sources.info[i].col, i,
                        sc->platform, sc->name, k);
                goto out;
            }
        }
    }
    if (conf.rules.n == 0) {
        fprintf(stderr, "%s: no rule set: give rules: [FILE, ...]\n", config);
        goto out;
    }
    bv_cmd_event_args ea = {
        .cmd = "run",
        .name_flag = event,
        .conf_name = conf.event,
        .rules = (const char *const *)conf.rules.v,
        .nrules = conf.rules.n,
        .state_flag = state_dir,
        .conf_state = conf.state_dir,
        .redis_flag = redis_url,
        .conf_redis = conf.redis.url,
        .places = &conf.places,
        .create_state_dir = 1,
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
    sd = ev.state_dir;
    if (bv_cmd_alerting_check(&conf.alerting, config, rs) != 0 ||
        bv_cmd_console_check(&conf.console, config) != 0) {
        goto out;
    }
    if (listen == NULL) {
        listen = conf.console.listen;
    }

    l.base = event_base_new();
    if (l.base == NULL ||
        bv_cmd_sinks_open(l.sinks, &l.nsinks, format, alerts_path, "a", "run") != 0) {
        goto out;
    }
    size_t nslen = strlen(event_name) + 8;
    ns = malloc(nslen);
    if (ns == NULL) {
        goto out;
    }
    snprintf(ns, nslen, "live/%s", event_name);
    store = bv_cmd_store_new(l.base, ev.redis ? &ev.raddr : NULL, &conf.redis, "run");
    if (store == NULL) {
        goto out;
    }
    bv_book_opts bo = {.event = event_name, .ns = ns, .claim_ns = ns, .drill = 0};
    l.book = bv_book_new(rs, store, &bo, on_alert, &l);
    l.cc.book = l.book;
    /* with a console, quiet rules are evaluated once a minute too (their charts go on) */
    bv_pipeline_opts po = {.lateness_ms = conf.lateness_ms,
                           .ns = ns,
                           .clock = bv_clock_system(),
                           .receive_watermark = 1,
                           .probe_ms = listen ? 60000 : 0};
    pl = l.book
             ? bv_pipeline_new(rs, store, &po, bv_cmd_console_signal, &l.cc, errstr, sizeof errstr)
             : NULL;
    if (pl == NULL) {
        fprintf(stderr, "blikveld run: %s\n", l.book ? errstr : "out of memory");
        goto out;
    }
    bv_book_attach(l.book, pl);
    l.ingest = bv_ingest_new(l.base, pl, (size_t)conf.max_queue);
    l.health = bv_health_new(event_name, ns, 0, on_health, &l);
    dns = evdns_base_new(l.base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    cl = bv_curl_loop_new(l.base);
    if (l.ingest == NULL || l.health == NULL || cl == NULL) {
        fprintf(stderr, "blikveld run: out of memory\n");
        goto out;
    }
    if (dns == NULL) {
        dns = evdns_base_new(l.base, 0); /* no resolv.conf: names resolve only by address */
    }
    if (bv_cmd_alerting_wanted(&conf.alerting)) {
        bv_cmd_alerting_open_args aa = {
            .cmd = "run",
            .config = config,
            .conf = &conf.alerting,
            .event = event_name,
            .ns = ns,
            .state_dir = sd,
            .base = l.base,
            .curl = cl,
            .redis = ev.redis ? &ev.raddr : NULL,
            .redis_password = conf.redis.password_env ? getenv(conf.redis.password_env) : NULL,
            .rs = rs,
        };
        if (bv_cmd_alerting_open(&al, &aa) != 0) {
            goto out;
        }
        bv_book_set_outbox(l.book, bv_cmd_alerting_book_cb(&al), al.dispatch);
        l.dispatch = al.dispatch;
        bv_cmd_alerting_ready(&al, l.base, "run");
        bv_dispatch_start(l.dispatch);
    }
    reload = (bv_cmd_reload){
        .files = (const char *const *)conf.rules.v,
        .nfiles = conf.rules.n,
        .places = ev.places,
        .own = conf.places.municipality,
        .current = &ev.rs,
        .pipeline = pl,
        .book = l.book,
    };
    bv_cmd_console_args ca = {
        .cmd = "run",
        .conf = &conf.console,
        .listen = listen,
        .event = event_name,
        .lang = conf.alerting.language,
        .state_dir = sd,
        .base = l.base,
        .rs = rs,
        .pipeline = pl,
        .book = l.book,
        .store = store,
        .al = l.dispatch ? &al : NULL,
        .reload = &reload,
        .restore = 1,
        .redis = ev.redis ? &ev.raddr : NULL,
        .redis_password = conf.redis.password_env ? getenv(conf.redis.password_env) : NULL,
        .ns = ns,
        .sources = console_sources,
        .dropped = console_dropped,
        .sources_arg = &l,
    };
    if (bv_cmd_console_open(&l.cc, &ca) != 0) {
        goto out;
    }
    if (conf.record.dir || record_path) {
        bv_recorder_opts ro = {
            .dir = conf.record.dir,
            .path = record_path,
            .event = event_name,
            .retention_ms = conf.record.retention_ms,
            .pseudo = pseudo,
            .clock = bv_clock_system(),
        };
        l.rec = bv_recorder_new(&ro, errstr, sizeof errstr);
        if (l.rec == NULL) {
            fprintf(stderr, "blikveld run: record: %s\n", errstr);
            goto out;
        }
    }

    bv_codec_ctx codec = {.pseudo = pseudo, .max_depth = 0};
    bv_source_env env = {
        .base = l.base,
        .curl = cl,
        .dns = dns,
        .codec = &codec,
        .clock = bv_clock_system(),
        .state_dir = sd,
        .post = on_post,
        .arg = &l,
        .full = on_full,
    };
    l.sources = calloc(conf.sources.n, sizeof *l.sources);
    l.watch = calloc(conf.sources.n, sizeof *l.watch);
    if (l.sources == NULL || l.watch == NULL) {
        goto out;
    }
    l.started_ms = bv_now_ms(bv_clock_system());
    for (size_t i = 0; i < conf.sources.n; i++) {
        const bv_source_conf *sc = (const bv_source_conf *)conf.sources.v + i;
        l.sources[i] = bv_source_new(sc, &env, errstr, sizeof errstr);
        if (l.sources[i] == NULL) {
            fprintf(stderr, "%s:%d:%d: sources[%zu] (%s): %s\n", config, conf.sources.info[i].line,
                    conf.sources.info[i].col, i, sc->platform, errstr);
            goto out;
        }
        l.nsources++;
        l.watch[i] = -1;
        if (sc->flatline_ms > 0) {
            l.watch[i] = bv_health_watch(l.health, sc->name, sc->flatline_ms, l.started_ms);
            if (l.watch[i] < 0) {
                goto out;
            }
        }
        if (bv_source_port(l.sources[i]) > 0) {
            bv_log(BV_LOG_INFO, "run", "source %s listens on port %d", sc->name,
                   bv_source_port(l.sources[i]));
        }
    }
    sigint = evsignal_new(l.base, SIGINT, on_stop, &l);
    sigterm = evsignal_new(l.base, SIGTERM, on_stop, &l);
    sigusr1 = evsignal_new(l.base, SIGUSR1, on_usr1, &l);
    sighup = evsignal_new(l.base, SIGHUP, on_hup, &l);
    tick = event_new(l.base, -1, EV_PERSIST, on_tick, &l);
    struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
    if (sigint == NULL || sigterm == NULL || sigusr1 == NULL || sighup == NULL || tick == NULL ||
        event_add(sigint, NULL) || event_add(sigterm, NULL) || event_add(sigusr1, NULL) ||
        event_add(sighup, NULL) || event_add(tick, &tv)) {
        goto out;
    }
    bv_log(BV_LOG_INFO, "run", "event %s: %zu sources, %zu rules, store %s", event_name, l.nsources,
           bv_rules_count(rs), ev.redis ? ev.where : "memory");

    while (!l.stopping && !l.err) {
        if (event_base_loop(l.base, EVLOOP_ONCE) < 0) {
            break;
        }
    }

    /* Stopping: no new posts; what was received goes through; counts and claims reach the
     * store; the recording is written out. */
    l.final = calloc(l.nsources ? l.nsources : 1, sizeof *l.final);
    l.final_name = calloc(l.nsources ? l.nsources : 1, sizeof *l.final_name);
    for (size_t i = 0; l.final && l.final_name && i < l.nsources; i++) {
        bv_source_stats_get(l.sources[i], &l.final[i]);
        snprintf(l.final_name[i][0], sizeof l.final_name[i][0], "%s", bv_source_name(l.sources[i]));
        snprintf(l.final_name[i][1], sizeof l.final_name[i][1], "%s",
                 bv_source_platform(l.sources[i]));
        l.nfinal++;
    }
    for (size_t i = 0; i < l.nsources; i++) {
        bv_source_free(l.sources[i]);
        l.sources[i] = NULL;
    }
    l.nsources = 0;
    event_del(tick);
    l.drained = 0;
    if (bv_ingest_drain(l.ingest, on_ingest_drained, &l) == 0) {
        loop_until(&l, &l.drained);
    }
    while (!l.err && bv_book_pending(l.book) > 0) {
        if (event_base_loop(l.base, EVLOOP_ONCE) < 0) {
            break;
        }
    }
    l.drained = 0;
    if (!l.err && bv_store_drain(store, on_store_drained, &l) == 0) {
        loop_until(&l, &l.drained);
    }
    if (l.dispatch) {
        /* what groups hold goes now; deliveries in flight get delivery.drain to finish, and
         * what is left stays pending in the outbox for the next start */
        bv_dispatch_stop_timers(l.dispatch);
        bv_dispatch_flush_groups(l.dispatch);
        struct event *dt = evtimer_new(l.base, on_drain_timeout, &l);
        struct timeval dtv = {(time_t)(conf.alerting.delivery.drain_ms / 1000),
                              (suseconds_t)(conf.alerting.delivery.drain_ms % 1000) * 1000};
        if (dt && evtimer_add(dt, &dtv) == 0) {
            while (!l.err && !l.drain_timeout && bv_cmd_alerting_pending(&al) > 0) {
                if (event_base_loop(l.base, EVLOOP_ONCE) < 0) {
                    break;
                }
            }
        }
        if (dt) {
            event_free(dt);
        }
    }
    if (l.rec) {
        bv_recorder_flush(l.rec);
    }
    if (!quiet) {
        bv_pipeline_stats ps;
        bv_book_stats bs;
        bv_store_stats ss;
        bv_store_stats_get(store, &ss);
        bv_pipeline_stats_get(pl, &ps);
        bv_book_stats_get(l.book, &bs);
        print_summary(&l, ev.rs, &ps, &bs, &ss, ev.where, ns);
        bv_cmd_alerting_print(&al);
    }
    if (ev.redis) {
        bv_store_stats ss;
        bv_store_stats_get(store, &ss);
        if (ss.pending) {
            fprintf(stderr, "blikveld run: %llu deltas were not written to Redis (%s)\n",
                    (unsigned long long)ss.pending, ss.state);
        }
    }
    rc = l.err || l.sink_failures ? 1 : 0;
    goto out;

usage_error:
    rc = 2;
    fprintf(stderr, "(see 'blikveld run --help')\n");
out:
    for (size_t i = 0; i < l.nsources; i++) {
        bv_source_free(l.sources[i]);
    }
    free(l.sources);
    free(l.watch);
    free(l.final);
    free(l.final_name);
    if (sigint) {
        event_free(sigint);
    }
    if (sigterm) {
        event_free(sigterm);
    }
    if (sigusr1) {
        event_free(sigusr1);
    }
    if (sighup) {
        event_free(sighup);
    }
    if (tick) {
        event_free(tick);
    }
    bv_cmd_console_close(&l.cc); /* it borrows the dispatcher, pipeline, book and store */
    bv_cmd_alerting_close(&al);  /* its sinks use the curl loop */
    bv_curl_loop_free(cl);
    bv_store_free(store);
    bv_ingest_free(l.ingest);
    bv_pipeline_free(pl);
    bv_book_free(l.book);
    bv_cmd_reload_free(&reload); /* the sets reloads replaced (ev's is the current one) */
    bv_health_free(l.health);
    bv_recorder_free(l.rec);
    for (size_t i = 0; i < l.nsinks; i++) {
        bv_sink_free(l.sinks[i]);
    }
    if (dns) {
        evdns_base_free(dns, 0);
    }
    if (l.base) {
        event_base_free(l.base);
    }
    bv_cmd_event_free(&ev);
    bv_config_free(conf_table, &conf);
    free(ns);
    return rc;
}
