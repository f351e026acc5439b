/* cmd_check.c: `blikveld check [--explain] FILE...`: load and compile rule files, report the
 * first error as file:line:col, run every rule's examples. */
#include "cmd.h"
#include "core/diag.h"
#include "engine/rules.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: blikveld check [--explain] RULES.yaml...\n\n"
            "Validates rule files (they form one rule set: ids must be unique across them),\n"
            "compiles them and runs each rule's examples (texts that must and must not match).\n"
            "Errors are printed as file:line:col: message.\n\n"
            "  -e, --explain  print, per rule, what goes into the multi-pattern database\n"
            "                 and what pcre2 confirms\n"
            "  -h, --help     this help\n\n"
            "exit status: 0 valid and every example passes, 1 otherwise, 2 usage error\n");
}

int bv_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"explain", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int explain = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "eh", longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            explain = 1;
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
    if (bv_rules_load(&rs, (const char *const *)argv + optind, (size_t)(argc - optind), &d) != 0) {
        char msg[1200];
        fprintf(stderr, "%s\n", bv_diag_format(&d, msg, sizeof msg));
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
    return failed > 0 ? 1 : 0;
}
