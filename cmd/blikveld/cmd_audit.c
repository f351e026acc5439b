/* cmd_audit.c: `blikveld audit --config FILE --event NAME`: the event's audit record (acks,
 * silences, deliveries) for the after-action report. Parsing and wiring only. */
#include "alert/audit.h"
#include "alert/shared.h"
#include "cmd.h"
#include "core/err.h"

#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: blikveld audit --config FILE [--event NAME] [--format json|text]\n\n"
                 "Prints the event's audit record, oldest first: every acknowledgement and\n"
                 "silence (who, when, why) and every delivery's outcome (delivered, retried,\n"
                 "failed, escalated, held back by a silence), live and drill alike (drill\n"
                 "records say so). For the after-action report.\n\n"
                 "  -c, --config FILE    the event's config (state_dir) (required)\n"
                 "  -E, --event NAME     the event (default: config's, else first rule file)\n"
                 "  -f, --format F       json (default): the records as JSON lines; text: one\n"
                 "                       readable line each, times in Europe/Amsterdam\n"
                 "      --state-dir DIR  overrides the config's state_dir\n"
                 "  -h, --help           this help\n\n"
                 "exit status: 0 printed, 1 no record for the event or an error, 2 usage\n");
}

typedef struct redis_read {
    int text;
    size_t n;
} redis_read;

static void on_audit(void *arg, char *text, size_t len)
{
    redis_read *rr = arg;
    rr->n = bv_audit_print(text, len, rr->text, stdout);
}

/* With Redis: the record every process of the event wrote there. */
static int export_redis(bv_cmd_admin *ad, int text)
{
    struct event_base *base = event_base_new();
    bv_shared *sh = base ? bv_cmd_admin_shared(ad, base, ad->ns, NULL, NULL, "audit") : NULL;
    redis_read rr = {.text = text};
    int rc = 1;
    if (sh == NULL) {
        goto out;
    }
    if (bv_cmd_shared_read_wait(sh, base, "audit", on_audit, &rr) != 0) {
        fprintf(stderr, "blikveld audit: redis: the audit log could not be read\n");
        goto out;
    }
    if (rr.n == 0) {
        fprintf(stderr, "blikveld audit: no audit record for event '%s' in redis\n", ad->event);
        goto out;
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    bv_shared_free(sh);
    if (base) {
        event_base_free(base);
    }
    return rc;
}

int bv_cmd_audit(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"event", required_argument, NULL, 'E'},
        {"format", required_argument, NULL, 'f'}, {"state-dir", required_argument, NULL, 1000},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *event = NULL, *state_dir = NULL;
    int text = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:E:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'E':
            event = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                fprintf(stderr, "blikveld audit: --format takes json or text, not '%s'\n", optarg);
                return 2;
            }
            text = optarg[0] == 't';
            break;
        case 1000:
            state_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "(see 'blikveld audit --help')\n");
            return 2;
        }
    }
    if (optind < argc || config == NULL) {
        fprintf(stderr, "blikveld audit: %s\n(see 'blikveld audit --help')\n",
                config ? "unexpected argument" : "--config FILE is required");
        return 2;
    }
    bv_cmd_admin ad;
    int rc = bv_cmd_admin_load(&ad, "audit", config, event, state_dir);
    if (rc != 0) {
        bv_cmd_admin_free(&ad);
        return rc;
    }
    if (bv_cmd_admin_redis(&ad, "audit") != 0) {
        bv_cmd_admin_free(&ad);
        return 1;
    }
    if (ad.redis) {
        rc = export_redis(&ad, text);
        bv_cmd_admin_free(&ad);
        return rc;
    }
    char dir[4096], err[1024];
    snprintf(dir, sizeof dir, "%s/audit", ad.state_dir);
    size_t n = 0;
    rc = bv_audit_export(dir, ad.event, text, stdout, &n, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "blikveld audit: %s\n", err);
    }
    bv_cmd_admin_free(&ad);
    return rc == 0 ? 0 : 1;
}
