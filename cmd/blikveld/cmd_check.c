/* cmd_check.c: `blikveld check [--explain] [--config FILE] RULES...`: load and compile rule
 * files, report the first error as file:line:col, run every rule's examples. */
#include "cmd.h"
#include "core/config.h"
#include "core/diag.h"
#include "engine/places.h"
#include "engine/rules.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blikveld check [--explain] [--config FILE] RULES.yaml...\n\n"
            "Validates rule files (they form one rule set: ids must be unique across them),\n"
            "compiles them and runs each rule's examples (texts that must and must not match).\n"
            "Errors are printed as file:line:col: message.\n\n"
            "  -e, --explain      print, per rule, what goes into the multi-pattern database\n"
            "                     and what pcre2 confirms\n"
            "  -c, --config FILE  the event's config: its places: (the municipality `place:\n"
            "                     own` means, and its own place names), and its delivery keys\n"
            "                     (recipients, escalation, ...: every group a rule names must\n"
            "                     exist); sources are checked by `run`\n"
            "  -h, --help         this help\n\n"
            "exit status: 0 valid and every example passes, 1 otherwise, 2 usage error\n");
}

typedef struct check_conf {
    bv_cmd_places_conf places;
    bv_cmd_alerting_conf alerting;
    bv_cmd_console_conf console;
} check_conf;

/* The config as check reads it: places:, and every other key a config may hold. */
static const bv_option check_table[] = {
    BV_OPTION_SECTION("places", check_conf, places, bv_cmd_places_table, "places"),
    BV_OPTION_IGNORE("event", ""),
    BV_OPTION_IGNORE("rules", ""),
    BV_OPTION_IGNORE("state_dir", ""),
    BV_OPTION_IGNORE("lateness", ""),
    BV_OPTION_IGNORE("max_queue", ""),
    BV_OPTION_IGNORE("redis", ""),
    BV_OPTION_IGNORE("record", ""),
    BV_OPTION_IGNORE("sources", ""),
    BV_OPTION_SECTION("console", check_conf, console, bv_cmd_console_table, "console"),
    BV_CMD_ALERTING_OPTIONS(check_conf, alerting),
    BV_OPTION_END,
};

int bv_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"explain", no_argument, NULL, 'e'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int explain = 0, c;
    const char *config = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ec:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            explain = 1;
            break;
        case 'c':
            config = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "blikveld check: no rule file given\n");
        usage(stderr);
        return 2;
    }
    bv_ruleset *rs = NULL;
    bv_diag d;
    memset(&d, 0, sizeof d);
    char msg[1200];
    check_conf conf;
    memset(&conf, 0, sizeof conf);
    if (config && bv_config_load(config, check_table, &conf, &d) != 0) {
        fprintf(stderr, "%s\n", bv_diag_format(&d, msg, sizeof msg));
        return 1;
    }
    bv_gazetteer *g = bv_gazetteer_new();
    if (g == NULL ||
        (conf.places.extra && bv_gazetteer_load_extra(g, conf.places.extra, &d) != 0)) {
        fprintf(stderr, "%s\n", g ? bv_diag_format(&d, msg, sizeof msg) : "out of memory");
        bv_gazetteer_free(g);
        bv_config_free(check_table, &conf);
        return 1;
    }
    bv_rules_opts ro = {.places = g, .own = conf.places.municipality};
    int rc = bv_rules_load_opts(&rs, (const char *const *)argv + optind, (size_t)(argc - optind),
                                &ro, &d);
    if (rc != 0) {
        fprintf(stderr, "%s\n", bv_diag_format(&d, msg, sizeof msg));
        bv_config_free(check_table, &conf);
        bv_gazetteer_free(g);
        return 1;
    }
    rc = config ? bv_cmd_alerting_check(&conf.alerting, config, rs) ||
                      bv_cmd_console_check(&conf.console, config)
                : 0;
    bv_config_free(check_table, &conf);
    if (rc != 0) {
        bv_rules_free(rs);
        bv_gazetteer_free(g);
        return 1;
    }
    if (explain) {
        bv_rules_explain(rs, stdout);
    }
    size_t total = 0;
    int failed = bv_rules_run_examples(rs, stderr, &total);
    size_t n = bv_rules_count(rs);
    if (failed > 0) {
        fprintf(stderr, "check: %d of %zu examples failed\n", failed, total);
    } else {
        printf("ok: %zu rule%s, %zu example%s passed\n", n, n == 1 ? "" : "s", total,
               total == 1 ? "" : "s");
    }
    bv_rules_free(rs);
    bv_gazetteer_free(g);
    return failed > 0 ? 1 : 0;
}
