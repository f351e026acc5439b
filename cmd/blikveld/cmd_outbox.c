/* cmd_outbox.c: `blikveld outbox`: list the deliveries an event's outbox holds pending or
 * failed, and with --flush deliver what is pending, then exit. Parsing and wiring only. */
#include "alert/outbox.h"
#include "alert/shared.h"
#include "cmd.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "net/curl_loop.h"

#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: blikveld outbox --config FILE [--flush] [OPTIONS]\n\n"
                 "Lists the deliveries of the event's alerts that are pending (not delivered yet)\n"
                 "or failed (given up: the receiver refused, or the deadline passed), from the\n"
                 "durable outbox in STATE_DIR/outbox. With --flush, delivers what is pending to\n"
                 "the recipients of the config, then exits; it refuses while a running blikveld\n"
                 "holds the outbox (that one delivers what is pending itself).\n\n"
                 "  -c, --config FILE    the event's config (recipients, state_dir) (required)\n"
                 "  -E, --event NAME     the event (default: config's, else first rule file)\n"
                 "      --state-dir DIR  overrides the config's state_dir\n"
                 "      --drill NAME     a drill's outbox: NAME is the replay's --run (or - for a\n"
                 "                       drill replayed without --run)\n"
                 "  -A, --all            list delivered ones too\n"
                 "      --flush          deliver what is pending, then exit\n"
                 "  -h, --help           this help\n\n"
                 "exit status: 0 nothing pending or failed (--flush: all delivered), 1 some are\n"
                 "pending or failed, or an error; 2 usage error\n");
}

static const char *status_name(bv_out_status s)
{
    return s == BV_OUT_PENDING ? "pending" : s == BV_OUT_DELIVERED ? "delivered" : "FAILED";
}

/* The rule and title of an entry, from its alert JSON. */
static void entry_rule(const bv_out_entry *e, char *rule, size_t n)
{
    char err[64];
    bv_alert *a = bv_alert_parse_json(e->alert, e->alert_len, err, sizeof err);
    snprintf(rule, n, "%s", a ? a->rule->id : "?");
    bv_alert_free(a);
}

static void list(const bv_outbox *ob, int all, size_t *pending, size_t *failed)
{
    *pending = *failed = 0;
    size_t shown = 0;
    for (size_t i = 0; i < bv_outbox_count(ob); i++) {
        const bv_out_entry *e = bv_outbox_get(ob, i);
        char rule[128];
        int ruled = 0;
        for (size_t k = 0; k < e->ntargets; k++) {
            const bv_out_target *t = &e->targets[k];
            *pending += t->status == BV_OUT_PENDING;
            *failed += t->status == BV_OUT_FAILED;
            if (t->status == BV_OUT_DELIVERED && !all) {
                continue;
            }
            if (!ruled) {
                entry_rule(e, rule, sizeof rule);
                ruled = 1;
            }
            char ts[BV_TIME_ISO_LEN];
            if (shown++ == 0) {
                printf("%-24s %-9s %-22s %-42s %-20s %s\n", "put", "status", "target", "key",
                       "rule", "attempts / why");
            }
            printf("%-24s %-9s %-22s %-42s %-20s %u", bv_time_format_amsterdam(e->at_ms, ts),
                   status_name(t->status), t->id, e->key, rule, t->attempts);
            if (t->reason) {
                printf("  %s", t->reason);
            }
            putchar('\n');
        }
        if (e->ntargets == 0 && all) {
            char ts[BV_TIME_ISO_LEN];
            entry_rule(e, rule, sizeof rule);
            printf("%-24s %-9s %-22s %-42s %-20s -  (silenced: sent to nobody)\n",
                   bv_time_format_amsterdam(e->at_ms, ts), "held", "-", e->key, rule);
        }
    }
}

/* Each entry a listing scan of the outbox in Redis finds, into a memory outbox. */
static void on_listed(void *arg, const bv_outbox_found *f)
{
    bv_outbox *ob = arg;
    bv_out_entry *e = NULL;
    int fresh = 0;
    if (bv_outbox_put(ob, f->key, f->alert, f->alert_len, f->at_ms, f->deadline_ms, f->targets,
                      f->ntargets, &e, &fresh) != BV_OK ||
        e == NULL || !fresh) {
        return;
    }
    bv_shared_apply_outcomes(ob, e, f);
}

/* The listing of the outbox in Redis: delivered entries have left it; pending and failed ones
 * are there until the retention. */
static int list_redis(bv_cmd_admin *ad, const char *ns, int all)
{
    struct event_base *base = event_base_new();
    bv_outbox *ob = bv_outbox_new_memory();
    int rc = 1;
    if (base == NULL || ob == NULL) {
        goto out;
    }
    bv_shared *r = bv_cmd_admin_shared(ad, base, ns, on_listed, ob, "outbox");
    if (r == NULL) {
        goto out;
    }
    bv_cmd_wait(base, bv_cmd_shared_scanned, r, 10000);
    bv_shared_stats rs;
    bv_shared_stats_get(r, &rs);
    if (rs.scans_done == 0) {
        char where[BV_REDIS_ADDR_FMT_MAX];
        bv_redis_addr_format(&ad->raddr, where, sizeof where);
        fprintf(stderr, "blikveld outbox: redis %s: %s: the outbox could not be read\n", where,
                rs.state);
        bv_shared_free(r);
        goto out;
    }
    bv_shared_free(r);
    size_t pending, failed;
    list(ob, all, &pending, &failed);
    printf("%s: %zu alerts in the outbox in redis; deliveries %zu pending, %zu failed\n", ad->event,
           bv_outbox_count(ob), pending, failed);
    rc = pending || failed ? 1 : 0;
out:
    bv_outbox_close(ob);
    if (base) {
        event_base_free(base);
    }
    return rc;
}

static volatile sig_atomic_t stop_flag;

/* With Redis: two scans found nothing more to take, and what was taken is delivered. */
static int flushed(void *arg)
{
    bv_cmd_alerting *al = arg;
    bv_shared_stats rs;
    bv_shared_stats_get(al->redis, &rs);
    return stop_flag || (rs.scans_done >= 2 && rs.other_pending == 0 &&
                         bv_cmd_alerting_pending(al) == 0 && rs.held == 0);
}

static int taken_done(void *dispatch)
{
    return stop_flag || bv_dispatch_pending(dispatch) == 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    stop_flag = 1;
    event_base_loopbreak(arg);
}

static int flush(bv_cmd_admin *ad, const char *config, const char *ns)
{
    int rc = 1;
    struct event_base *base = event_base_new();
    bv_curl_loop *cl = base ? bv_curl_loop_new(base) : NULL;
    struct event *si = base ? evsignal_new(base, SIGINT, on_signal, base) : NULL;
    struct event *st = base ? evsignal_new(base, SIGTERM, on_signal, base) : NULL;
    bv_cmd_alerting al;
    memset(&al, 0, sizeof al);
    if (cl == NULL || si == NULL || st == NULL || event_add(si, NULL) || event_add(st, NULL)) {
        fprintf(stderr, "blikveld outbox: out of memory\n");
        goto out;
    }
    int ds_unreachable = 0;
    if (bv_cmd_alerting_check(&ad->conf.alerting, config, NULL) != 0) {
        goto out;
    }
    bv_cmd_alerting_open_args aa = {
        .cmd = "outbox",
        .config = config,
        .conf = &ad->conf.alerting,
        .event = ad->event,
        .ns = ns,
        .state_dir = ad->state_dir,
        .base = base,
        .curl = cl,
        .flush_only = 1,
        .redis = ad->redis ? &ad->raddr : NULL,
        .redis_password = ad->password,
        .rs = ad->rs,
    };
    if (bv_cmd_alerting_open(&al, &aa) != 0) {
        if (al.busy) {
            fprintf(stderr, "blikveld outbox: not flushing: the running blikveld delivers what "
                            "is pending itself\n");
        }
        goto out;
    }
    bv_dispatch_start(al.dispatch);
    if (al.redis) {
        /* Redis: what nobody holds is taken over as scans find it; entries a dead process
         * held wait out their lease. Done when two scans found nothing more and everything
         * taken is delivered; entries another running process holds are left to it. */
        int64_t patience =
            2 * ad->conf.alerting.delivery.lease_ms + 2 * ad->conf.alerting.delivery.scan_ms + 5000;
        if (bv_cmd_wait(base, flushed, &al, patience) != 0) {
            /* what this process took goes on to its end; the rest is not ours */
            bv_cmd_wait(base, taken_done, al.dispatch, INT64_MAX / 4);
            bv_shared_stats rs;
            bv_shared_stats_get(al.redis, &rs);
            if (rs.other_pending) {
                printf("%zu alerts are being delivered by another running blikveld (it holds "
                       "their leases)\n",
                       rs.other_pending);
            }
            if (rs.scans_done == 0) {
                char where[BV_REDIS_ADDR_FMT_MAX];
                bv_redis_addr_format(&ad->raddr, where, sizeof where);
                printf("redis %s: %s: nothing could be read\n", where, rs.state);
                ds_unreachable = 1;
            }
        }
    } else {
        while (!stop_flag && bv_cmd_alerting_pending(&al) > 0) {
            if (event_base_loop(base, EVLOOP_ONCE) < 0) {
                break;
            }
        }
    }
    bv_dispatch_stats ds;
    bv_dispatch_stats_get(al.dispatch, &ds);
    printf("flushed %s: %llu delivered, %llu failed, %zu still pending%s\n",
           al.redis ? "the outbox in redis" : bv_outbox_path(al.outbox),
           (unsigned long long)ds.delivered, (unsigned long long)ds.failed, ds.pending,
           stop_flag ? " (interrupted)" : "");
    rc = ds.failed || ds.pending || ds_unreachable ? 1 : 0;
out:
    bv_cmd_alerting_close(&al);
    bv_curl_loop_free(cl);
    if (si) {
        event_free(si);
    }
    if (st) {
        event_free(st);
    }
    if (base) {
        event_base_free(base);
    }
    return rc;
}

enum { OPT_STATE_DIR = 1000, OPT_FLUSH, OPT_DRILL };

int bv_cmd_outbox(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"event", required_argument, NULL, 'E'},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"drill", required_argument, NULL, OPT_DRILL},
        {"all", no_argument, NULL, 'A'},
        {"flush", no_argument, NULL, OPT_FLUSH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *event = NULL, *state_dir = NULL, *drill = NULL;
    int all = 0, do_flush = 0, c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:E:Ah", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'E':
            event = optarg;
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case OPT_DRILL:
            drill = optarg;
            break;
        case 'A':
            all = 1;
            break;
        case OPT_FLUSH:
            do_flush = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "(see 'blikveld outbox --help')\n");
            return 2;
        }
    }
    if (optind < argc || config == NULL) {
        fprintf(stderr,
                optind < argc ? "blikveld outbox: unexpected argument '%s'\n"
                              : "blikveld outbox: --config FILE is required%s\n",
                optind < argc ? argv[optind] : "");
        fprintf(stderr, "(see 'blikveld outbox --help')\n");
        return 2;
    }
    if (drill && strcmp(drill, "-") != 0 && !bv_cmd_name_ok(drill)) {
        fprintf(stderr, "blikveld outbox: --drill takes a run name of letters, digits, '-', '_' "
                        "and '.'\n");
        return 2;
    }
    bv_cmd_admin ad;
    rc = bv_cmd_admin_load(&ad, "outbox", config, event, state_dir);
    if (rc != 0) {
        bv_cmd_admin_free(&ad);
        return rc;
    }
    char ns[512];
    if (drill && strcmp(drill, "-") != 0) {
        snprintf(ns, sizeof ns, "drill/%s/%s", ad.event, drill);
    } else if (drill) {
        snprintf(ns, sizeof ns, "drill/%s", ad.event);
    } else {
        snprintf(ns, sizeof ns, "%s", ad.ns);
    }
    if (bv_cmd_admin_redis(&ad, "outbox") != 0) {
        bv_cmd_admin_free(&ad);
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/outbox", ad.state_dir);
    if (do_flush) {
        rc = flush(&ad, config, ns);
        bv_cmd_admin_free(&ad);
        return rc;
    }
    bv_outbox *ob = NULL;
    char err[1024];
    if (ad.redis) {
        rc = list_redis(&ad, ns, all);
        bv_cmd_admin_free(&ad);
        return rc;
    }
    bv_outbox_opts oo = {.read_only = 1};
    int orc = bv_outbox_open(&ob, dir, ns, &oo, err, sizeof err);
    if (orc == BV_ENOENT) {
        printf("%s: nothing pending or failed (no outbox yet)\n", ad.event);
        bv_cmd_admin_free(&ad);
        return 0;
    }
    if (orc != BV_OK) {
        fprintf(stderr, "blikveld outbox: %s\n", err);
        bv_cmd_admin_free(&ad);
        return 1;
    }
    size_t pending, failed;
    list(ob, all, &pending, &failed);
    bv_outbox_stats os;
    bv_outbox_stats_get(ob, &os);
    printf("%s: %zu alerts in %s; deliveries %zu pending, %zu failed\n", ad.event, os.entries,
           bv_outbox_path(ob), pending, failed);
    if (os.skipped_lines || os.torn_tail) {
        printf("note: %llu lines did not parse%s\n", (unsigned long long)os.skipped_lines,
               os.torn_tail ? "; the last was cut short (a crash while writing)" : "");
    }
    bv_outbox_close(ob);
    bv_cmd_admin_free(&ad);
    return pending || failed ? 1 : 0;
}
