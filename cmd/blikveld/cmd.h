/* cmd.h: the subcommands of the blikveld binary. Each takes argv with argv[0] = its own name
 * and returns the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef BV_CMD_H
#define BV_CMD_H

#include "core/config.h"
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

/* The Redis store at addr (NULL: the memory store), with the password from the environment;
 * NULL after printing why ("blikveld CMD: ..."). */
bv_store *bv_cmd_store_new(struct event_base *base, const bv_redis_addr *addr,
                           const bv_cmd_redis_conf *rc, const char *cmd);
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
