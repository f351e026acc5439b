/* cmd.h: the subcommands of the blikveld binary. Each takes argv with argv[0] = its own name
 * and returns the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef BV_CMD_H
#define BV_CMD_H

#include "alert/book.h"
#include "alert/sink.h"
#include "core/config.h"
#include "engine/pipeline.h"
#include "engine/places.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "engine/store.h"
#include "net/redis_url.h"

#include <stdint.h>

struct event_base;

int bv_cmd_check(int argc, char **argv);
int bv_cmd_replay(int argc, char **argv);
int bv_cmd_run(int argc, char **argv);

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

#endif
