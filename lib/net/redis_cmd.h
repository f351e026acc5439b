/* redis_cmd.h: one Redis command being built, argument by argument (binary-safe), ready to be
 * handed to hiredis as argv/argvlen: what a connection and the cluster router build their
 * commands in. The arguments are copied into the command, which owns them; moving a whole
 * command (bv_redis_cmd_move) keeps it for a resend after a redirect without copying it.
 * Zero-initialised (BV_REDIS_CMD_INIT) it is empty; bv_redis_cmd_free releases it. */
#ifndef BV_NET_REDIS_CMD_H
#define BV_NET_REDIS_CMD_H

#include "core/buf.h"

#include <stddef.h>

typedef struct bv_redis_cmd {
    bv_buf args;
    size_t *argoff, *arglen;
    size_t nargs, capargs;
    const char **argv;
} bv_redis_cmd;

#define BV_REDIS_CMD_INIT                                                                          \
    {                                                                                              \
        BV_BUF_INIT, NULL, NULL, 0, 0, NULL                                                        \
    }

void bv_redis_cmd_reset(bv_redis_cmd *c);
void bv_redis_cmd_free(bv_redis_cmd *c);
/* Appends one argument (copied). BV_OK or BV_ENOMEM. */
int bv_redis_cmd_arg(bv_redis_cmd *c, const void *p, size_t n);
int bv_redis_cmd_str(bv_redis_cmd *c, const char *s);
/* printf into one argument of at most 1023 bytes (BV_EINVAL when longer). */
int bv_redis_cmd_fmt(bv_redis_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t bv_redis_cmd_nargs(const bv_redis_cmd *c);
/* Replaces argument i (added before) with p. */
int bv_redis_cmd_set(bv_redis_cmd *c, size_t i, const void *p, size_t n);
/* Argument i (not NUL-terminated) and its length; NULL when there is no such argument. */
const char *bv_redis_cmd_get(const bv_redis_cmd *c, size_t i, size_t *len);
/* argv for hiredis (valid until the command changes). */
const char **bv_redis_cmd_argv(bv_redis_cmd *c);
/* Moves everything from src into dst (dst's old contents are freed); src is left empty. */
void bv_redis_cmd_move(bv_redis_cmd *dst, bv_redis_cmd *src);

#endif
