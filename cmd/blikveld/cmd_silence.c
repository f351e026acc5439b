/* cmd_silence.c: `blikveld silence RULE --for 2h --reason TEXT --by NAME`: mutes a rule's new
 * alerts for a while (a running blikveld sees it within a second), `--lift` ends it early,
 * `--list` shows the silences in force. Every change is audited. Parsing and wiring only. */
#include "alert/audit.h"
#include "alert/control.h"
#include "alert/shared.h"
#include "cmd.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SILENCE_MAX_MS (30LL * 86400000)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blikveld silence RULE --for DURATION --reason TEXT [--by NAME] --config FILE\n"
            "       blikveld silence RULE --lift [--by NAME] --config FILE\n"
            "       blikveld silence --list --config FILE\n\n"
            "Mutes a rule of the event: while the silence lasts its new alerts go to nobody\n"
            "(they are still printed by `run`, and kept in the outbox and the audit log as\n"
            "held back). A running blikveld sees a silence within a second. Every silence and\n"
            "lift is recorded in the audit log with who and why.\n\n"
            "  -f, --for DURATION   how long: 30m, 2h, 1d (at most 30d)\n"
            "  -r, --reason TEXT    why (required with --for)\n"
            "  -b, --by NAME        who (default: the login name, $USER or $LOGNAME)\n"
            "      --lift           end the rule's silence now\n"
            "  -l, --list           list the silences in force\n"
            "  -c, --config FILE    the event's config (rules, state_dir) (required)\n"
            "  -E, --event NAME     the event (default: config's, else first rule file)\n"
            "      --state-dir DIR  overrides the config's state_dir\n"
            "  -h, --help           this help\n\n"
            "exit status: 0 done, 1 an error (an unknown rule), 2 usage error\n");
}

/* 1 when the config's rule set has a rule of that id (its files are parsed and compiled). */
static int rule_exists(const bv_cmd_admin *ad, const char *id, int *checked)
{
    *checked = 0;
    if (ad->conf.rules.n == 0) {
        return 1;
    }
    bv_ruleset *rs = NULL;
    bv_diag diag;
    if (bv_rules_load(&rs, (const char *const *)ad->conf.rules.v, ad->conf.rules.n, &diag) != 0) {
        char b[1024];
        fprintf(stderr, "%s\n", bv_diag_format(&diag, b, sizeof b));
        return -1;
    }
    *checked = 1;
    int found = 0;
    for (size_t i = 0; i < bv_rules_count(rs); i++) {
        found |= strcmp(bv_rules_get(rs, i)->id, id) == 0;
    }
    bv_rules_free(rs);
    return found;
}

static void on_control(void *arg, char *text, size_t len)
{
    bv_control_feed(arg, text, len);
}

/* With Redis: the control records there, fed to ctrl. 0 or -1 (said why). */
static int read_redis(bv_shared *sh, struct event_base *base, bv_control *ctrl)
{
    if (bv_cmd_shared_read_wait(sh, base, "control", on_control, ctrl) != 0) {
        fprintf(stderr, "blikveld silence: redis: the silences could not be read\n");
        return -1;
    }
    return 0;
}

int bv_cmd_silence(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"for", required_argument, NULL, 'f'},   {"reason", required_argument, NULL, 'r'},
        {"by", required_argument, NULL, 'b'},    {"lift", no_argument, NULL, 1001},
        {"list", no_argument, NULL, 'l'},        {"config", required_argument, NULL, 'c'},
        {"event", required_argument, NULL, 'E'}, {"state-dir", required_argument, NULL, 1000},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *event = NULL, *state_dir = NULL, *by = NULL, *reason = NULL;
    const char *dur = NULL;
    int lift = 0, do_list = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:r:b:lc:E:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            dur = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'b':
            by = optarg;
            break;
        case 1001:
            lift = 1;
            break;
        case 'l':
            do_list = 1;
            break;
        case 'c':
            config = optarg;
            break;
        case 'E':
            event = optarg;
            break;
        case 1000:
            state_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "(see 'blikveld silence --help')\n");
            return 2;
        }
    }
    const char *rule = optind < argc ? argv[optind] : NULL;
    int64_t for_ms = 0;
    const char *problem = NULL;
    if (config == NULL) {
        problem = "--config FILE is required";
    } else if (do_list) {
        problem = rule || dur || lift ? "--list takes no RULE, --for or --lift" : NULL;
    } else if (rule == NULL || optind + 1 < argc) {
        problem = "give one RULE";
    } else if (lift == (dur != NULL)) {
        problem = "give --for DURATION or --lift";
    } else if ((by = by               ? by
                     : getenv("USER") ? getenv("USER")
                                      : getenv("LOGNAME")) == NULL ||
               !*by || strlen(by) > 200) {
        problem = "--by NAME is required (who silences: no $USER to take), at most 200 bytes";
    } else if (dur && (bv_duration_parse(dur, strlen(dur), &for_ms) != 0 || for_ms <= 0 ||
                       for_ms > SILENCE_MAX_MS)) {
        problem = "--for takes a duration from 1s to 30d: 30m, 2h, 1d";
    } else if (dur && (reason == NULL || !*reason || strlen(reason) > 1000)) {
        problem = "--reason TEXT is required with --for (at most 1000 bytes)";
    }
    if (problem) {
        fprintf(stderr, "blikveld silence: %s\n(see 'blikveld silence --help')\n", problem);
        return 2;
    }
    bv_cmd_admin ad;
    int rc = bv_cmd_admin_load(&ad, "silence", config, event, state_dir);
    if (rc != 0) {
        bv_cmd_admin_free(&ad);
        return rc;
    }
    char ctl[4096], aud[4096], err[1024], ts[BV_TIME_ISO_LEN];
    snprintf(ctl, sizeof ctl, "%s/control", ad.state_dir);
    snprintf(aud, sizeof aud, "%s/audit", ad.state_dir);
    int64_t now = bv_now_ms(bv_clock_system());
    struct event_base *base = NULL;
    bv_shared *sh = NULL;
    if (bv_cmd_admin_redis(&ad, "silence") != 0) {
        bv_cmd_admin_free(&ad);
        return 1;
    }
    if (ad.redis) {
        base = event_base_new();
        sh = base ? bv_cmd_admin_shared(&ad, base, ad.ns, NULL, NULL, "silence") : NULL;
        if (sh == NULL) {
            rc = 1;
            goto done;
        }
    }
    if (do_list) {
        bv_control *ctrl = bv_control_open(ctl, ad.event, NULL, NULL);
        if (ctrl && sh && read_redis(sh, base, ctrl) != 0) {
            bv_control_free(ctrl);
            rc = 1;
            goto done;
        }
        size_t n = 0, shown = 0;
        const bv_silence *s = ctrl ? bv_control_silences(ctrl, &n) : NULL;
        for (size_t i = 0; i < n; i++) {
            if (s[i].until_ms > now) {
                printf("%-28s until %s  by %s: %s\n", s[i].rule,
                       bv_time_format_amsterdam(s[i].until_ms, ts), s[i].by, s[i].reason);
                shown++;
            }
        }
        if (shown == 0) {
            printf("%s: no silences in force\n", ad.event);
        }
        bv_control_free(ctrl);
        rc = 0;
        goto done;
    }
    int checked;
    int ex = rule_exists(&ad, rule, &checked);
    rc = 1;
    if (ex <= 0) {
        if (ex == 0) {
            fprintf(stderr, "blikveld silence: the rule set of %s has no rule '%s'\n", config,
                    rule);
        }
        goto done;
    }
    int64_t until = lift ? 0 : now + for_ms;
    bv_audit_rec r = {.at_ms = now,
                      .event = ad.event,
                      .what = lift ? "unsilence" : "silence",
                      .rule = rule,
                      .by = by,
                      .reason = reason,
                      .until_ms = until};
    if (sh) {
        /* every process of the event reads silences from Redis */
        bv_buf line = BV_BUF_INIT;
        bv_control_format_silence(rule, until, by, reason, now, &line);
        int bad = bv_cmd_shared_record(sh, base, &line, &r) != 0;
        bv_buf_free(&line);
        if (bad) {
            fprintf(stderr, "blikveld silence: redis did not take the silence\n");
            goto done;
        }
    } else if (bv_control_append_silence(ctl, ad.event, rule, until, by, reason, now, err,
                                         sizeof err) != 0) {
        fprintf(stderr, "blikveld silence: %s\n", err);
        goto done;
    }
    if (bv_audit_append(aud, &r, err, sizeof err) != 0) {
        fprintf(stderr, "blikveld silence: audit log: %s\n", err);
        goto done;
    }
    if (lift) {
        printf("%s: silence lifted by %s\n", rule, by);
    } else {
        printf("%s: silenced until %s by %s%s\n", rule, bv_time_format_amsterdam(until, ts), by,
               checked ? "" : " (no rules: in the config, so the rule's name was not checked)");
    }
    rc = 0;
done:
    bv_shared_free(sh);
    if (base) {
        event_base_free(base);
    }
    bv_cmd_admin_free(&ad);
    return rc;
}
