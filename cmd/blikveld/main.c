/* main.c: the blikveld binary: picks the subcommand and hands it the arguments. Each subcommand
 * lives in its own cmd_*.c and only parses arguments and wires library modules together. */
#include "cmd.h"
#include "core/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"check", bv_cmd_check, "validate rule files and run their examples"},
    {"run", bv_cmd_run, "watch the configured live sources and alert (until SIGINT/SIGTERM)"},
    {"replay", bv_cmd_replay, "replay recordings through an event's rule set (a drill)"},
    {"outbox", bv_cmd_outbox, "list pending and failed deliveries; --flush delivers them"},
    {"ack", bv_cmd_ack, "acknowledge an alert (stops its escalation)"},
    {"silence", bv_cmd_silence, "mute a rule for a while, lift or list silences"},
    {"audit", bv_cmd_audit, "print an event's audit record (acks, silences, deliveries)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: blikveld COMMAND [OPTIONS]\n\n"
                 "blikveld watches public posts for the signals a crisis team needs.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
    }
    fprintf(out, "\n'blikveld COMMAND --help' describes a command. See README.md.\n"
                 "BLIKVELD_LOG=error|warning|info|debug sets what is logged on stderr "
                 "(default warning).\n");
}

int main(int argc, char **argv)
{
    /* a peer that went away is an error on the write, never a signal that ends the process */
    signal(SIGPIPE, SIG_IGN);
    const char *lv = getenv("BLIKVELD_LOG");
    if (lv && *lv) {
        int level = bv_log_level_from_name(lv);
        if (level < 0) {
            fprintf(stderr,
                    "blikveld: BLIKVELD_LOG takes error, warning, info or debug, not '%s'\n", lv);
            return 2;
        }
        bv_log_set_level(level);
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("blikveld %s\n", BV_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "blikveld: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
