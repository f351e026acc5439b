/* cmd_ack.c: `blikveld ack ALERT_ID --by NAME`: records that someone took an alert on, which
 * stops its escalation (a running blikveld sees it within a second), and audits it. Parsing
 * and wiring only. */
#include "alert/audit.h"
#include "alert/control.h"
#include "alert/outbox.h"
#include "alert/shared.h"
#include "cmd.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <dirent.h>
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blikveld ack ALERT_ID --by NAME --config FILE [OPTIONS]\n\n"
            "Acknowledges an alert: someone has taken it on. Its escalation stops (a running\n"
            "blikveld sees the acknowledgement within a second), and the audit log records\n"
            "who and when. ALERT_ID is the alert's id, or its first 8 or more characters;\n"
            "it is looked up in the event's outbox (live, then drills).\n\n"
            "  -b, --by NAME        who acknowledges (a name or role: politie-oc) (required)\n"
            "  -c, --config FILE    the event's config (state_dir) (required)\n"
            "  -E, --event NAME     the event (default: config's, else first rule file)\n"
            "      --state-dir DIR  overrides the config's state_dir\n"
            "  -h, --help           this help\n\n"
            "exit status: 0 acknowledged (or already), 1 unknown alert or an error, 2 usage\n");
}

typedef struct found {
    char id[33];
    char rule[128], title[256];
    int resolved, drill, matches;
} found;

/* One entry of the outbox: does its id start with prefix? */
static void consider(found *f, const char *prefix, const char *key, const char *alert,
                     size_t alert_len)
{
    size_t pl = strlen(prefix);
    if (strncmp(key, prefix, pl) != 0) {
        return;
    }
    char id[33], err[256];
    size_t n = strcspn(key, "/");
    snprintf(id, sizeof id, "%.*s", (int)(n > 32 ? 32 : n), key);
    if (f->matches == 0 || strcmp(f->id, id) != 0) {
        f->matches++;
        snprintf(f->id, sizeof f->id, "%s", id);
        f->resolved = 0;
        bv_alert *a = bv_alert_parse_json(alert, alert_len, err, sizeof err);
        if (a) {
            snprintf(f->rule, sizeof f->rule, "%s", a->rule->id);
            snprintf(f->title, sizeof f->title, "%s", a->rule->title ? a->rule->title : "");
            f->drill = a->drill;
            bv_alert_free(a);
        }
    }
    if (strstr(key, "/resolved")) {
        f->resolved = 1;
    }
}

typedef struct redis_search {
    found *f;
    const char *prefix;
} redis_search;

static void on_found(void *arg, const bv_outbox_found *e)
{
    redis_search *rs = arg;
    consider(rs->f, rs->prefix, e->key, e->alert, e->alert_len);
}

/* Looks for alerts whose id starts with prefix in one spool. */
static void search(const char *dir, const char *ns, const char *prefix, found *f)
{
    bv_outbox *ob = NULL;
    char err[512];
    bv_outbox_opts oo = {.read_only = 1};
    if (bv_outbox_open(&ob, dir, ns, &oo, err, sizeof err) != BV_OK) {
        return;
    }
    for (size_t i = 0; i < bv_outbox_count(ob); i++) {
        const bv_out_entry *e = bv_outbox_get(ob, i);
        consider(f, prefix, e->key, e->alert, e->alert_len);
    }
    bv_outbox_close(ob);
}

int bv_cmd_ack(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"by", required_argument, NULL, 'b'},    {"config", required_argument, NULL, 'c'},
        {"event", required_argument, NULL, 'E'}, {"state-dir", required_argument, NULL, 1000},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *event = NULL, *state_dir = NULL, *by = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:c:E:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            by = optarg;
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
            fprintf(stderr, "(see 'blikveld ack --help')\n");
            return 2;
        }
    }
    const char *prefix = optind < argc ? argv[optind] : NULL;
    const char *problem = prefix == NULL        ? "give the ALERT_ID"
                          : optind + 1 < argc   ? "one ALERT_ID at a time"
                          : by == NULL || !*by  ? "--by NAME is required (who acknowledges)"
                          : config == NULL      ? "--config FILE is required"
                          : strlen(prefix) < 8  ? "ALERT_ID: give at least 8 characters"
                          : strlen(by) > 200    ? "--by: at most 200 bytes"
                          : strchr(prefix, '/') ? "ALERT_ID is the id alone (no /state)"
                                                : NULL;
    if (problem) {
        fprintf(stderr, "blikveld ack: %s\n(see 'blikveld ack --help')\n", problem);
        return 2;
    }
    bv_cmd_admin ad;
    int rc = bv_cmd_admin_load(&ad, "ack", config, event, state_dir);
    if (rc != 0) {
        bv_cmd_admin_free(&ad);
        return rc;
    }
    char dir[4096], ctl[4096], aud[4096];
    snprintf(dir, sizeof dir, "%s/outbox", ad.state_dir);
    snprintf(ctl, sizeof ctl, "%s/control", ad.state_dir);
    snprintf(aud, sizeof aud, "%s/audit", ad.state_dir);
    found f;
    memset(&f, 0, sizeof f);
    if (bv_cmd_admin_redis(&ad, "ack") != 0) {
        bv_cmd_admin_free(&ad);
        return 1;
    }
    struct event_base *base = NULL;
    bv_shared *sh = NULL;
    if (ad.redis) {
        /* the live outbox in Redis (drills replayed into Redis keep theirs under their run) */
        base = event_base_new();
        redis_search rsr = {&f, prefix};
        sh = base ? bv_cmd_admin_shared(&ad, base, ad.ns, on_found, &rsr, "ack") : NULL;
        if (sh == NULL || bv_cmd_wait(base, bv_cmd_shared_scanned, sh, 10000) != 0) {
            if (sh) {
                fprintf(stderr, "blikveld ack: redis: the outbox could not be read\n");
            }
            rc = 1;
            goto done;
        }
    }
    search(dir, ad.ns, prefix, &f);
    if (f.matches == 0) {
        /* drills: drill/EVENT and drill/EVENT/RUN */
        char pre[300];
        snprintf(pre, sizeof pre, "drill+%s", ad.event);
        DIR *dh = opendir(dir);
        struct dirent *de;
        while (dh && (de = readdir(dh)) != NULL) {
            size_t n = strlen(de->d_name), pl = strlen(pre);
            if (n > 6 && strcmp(de->d_name + n - 6, ".jsonl") == 0 &&
                strncmp(de->d_name, pre, pl) == 0 &&
                (de->d_name[pl] == '.' || de->d_name[pl] == '+')) {
                char ns[300];
                snprintf(ns, sizeof ns, "%.*s", (int)(n - 6), de->d_name);
                for (char *p = ns; *p; p++) {
                    *p = *p == '+' ? '/' : *p;
                }
                search(dir, ns, prefix, &f);
            }
        }
        if (dh) {
            closedir(dh);
        }
    }
    if (f.matches > 1) {
        fprintf(stderr, "blikveld ack: '%s' fits %d alerts of event %s: give more of the id\n",
                prefix, f.matches, ad.event);
    } else if (f.matches == 0) {
        fprintf(stderr,
                "blikveld ack: no alert '%s' in the outbox of event %s (`blikveld outbox --all` "
                "lists them)\n",
                prefix, ad.event);
    }
    if (f.matches != 1) {
        rc = 1;
        goto done;
    }
    bv_control *ctrl = bv_control_open(ctl, ad.event, NULL, NULL);
    const char *already = ctrl ? bv_control_acked(ctrl, f.id) : NULL;
    if (already) {
        printf("%s (%s) was acknowledged already, by %s\n", f.id, f.rule, already);
        bv_control_free(ctrl);
        rc = 0;
        goto done;
    }
    bv_control_free(ctrl);
    char err[1024];
    int64_t now = bv_now_ms(bv_clock_system());
    bv_audit_rec r = {.at_ms = now,
                      .event = ad.event,
                      .what = "ack",
                      .id = f.id,
                      .rule = f.rule,
                      .by = by,
                      .drill = f.drill};
    rc = 1;
    if (sh) {
        /* every process of the event reads acks from Redis */
        bv_buf line = BV_BUF_INIT;
        bv_control_format_ack(f.id, by, now, &line);
        int bad = bv_cmd_shared_record(sh, base, &line, &r) != 0;
        bv_buf_free(&line);
        if (bad) {
            fprintf(stderr, "blikveld ack: redis did not take the acknowledgement\n");
            goto done;
        }
    } else if (bv_control_append_ack(ctl, ad.event, f.id, by, now, err, sizeof err) != 0) {
        fprintf(stderr, "blikveld ack: %s\n", err);
        goto done;
    }
    if (bv_audit_append(aud, &r, err, sizeof err) != 0) {
        fprintf(stderr, "blikveld ack: audit log: %s\n", err);
        goto done;
    }
    char ts[BV_TIME_ISO_LEN];
    printf("acknowledged %s (%s: %s)%s%s by %s at %s\n", f.id, f.rule, f.title,
           f.resolved ? ", already resolved," : "", f.drill ? " [drill]" : "", by,
           bv_time_format_amsterdam(now, ts));
    rc = 0;
done:
    bv_shared_free(sh);
    if (base) {
        event_base_free(base);
    }
    bv_cmd_admin_free(&ad);
    return rc;
}
