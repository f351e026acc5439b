/* redis_conn.h: one connection to a Redis server on the libevent loop (hiredis async): resolving
 * the host without blocking (evdns), connecting, the handshake (AUTH, SELECT, SCRIPT LOAD of the
 * caller's scripts), a timeout guarded by the loop's own timer, and reconnecting with backoff
 * (100 ms doubling to 5 s) whenever the connection fails. Debian 12's hiredis 0.14 has neither
 * timeouts nor a non-blocking resolver; this is where both are made up for.
 *
 * Commands are built one at a time in the connection's builder and sent with a hiredis callback
 * of the caller's; when the connection fails, every callback still due runs with a NULL reply
 * (inside bv_redis_conn_fail or hiredis), and then `down` is called. `ready` is called once each
 * connection's handshake is through.
 *
 * Ownership: the connection copies the address, password and scripts; it borrows the loop and the
 * clock. bv_redis_conn_free runs due callbacks with NULL replies and calls neither ready nor down.
 */
#ifndef BV_NET_REDIS_CONN_H
#define BV_NET_REDIS_CONN_H

#include "net/redis_cmd.h"
#include "net/redis_url.h"

#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct bv_redis_conn bv_redis_conn;

typedef struct bv_redis_conn_opts {
    const bv_redis_addr *addr;  /* borrowed for the call */
    const char *password;       /* overrides the address's; may be NULL */
    int64_t timeout_ms;         /* connecting and the handshake; default 5000 */
    const char *const *scripts; /* Lua bodies, loaded on every connection */
    size_t nscripts;
    void (*ready)(void *arg);
    void (*down)(void *arg, const char *why, int was_ready);
    void *arg;
} bv_redis_conn_opts;

typedef struct bv_redis_conn_stats {
    uint64_t commands, reconnects, errors;
} bv_redis_conn_stats;

/* Starts connecting (on the loop). NULL with a message in errstr when it cannot. */
bv_redis_conn *bv_redis_conn_new(struct event_base *base, const bv_redis_conn_opts *opts,
                                 char *errstr, size_t errlen);
void bv_redis_conn_free(bv_redis_conn *c);

int bv_redis_conn_ready(const bv_redis_conn *c);
/* "connected", "connecting" or "down" */
const char *bv_redis_conn_state(const bv_redis_conn *c);
/* The address as redis://HOST:PORT/DB or unix:PATH, never with the password. */
const char *bv_redis_conn_addr(const bv_redis_conn *c);
/* The SHA-1 (hex) of script i, for EVALSHA. */
const char *bv_redis_conn_sha(const bv_redis_conn *c, size_t i);
void bv_redis_conn_stats_get(const bv_redis_conn *c, bv_redis_conn_stats *out);

/* Gives the connection up (logging is the caller's, in `down`) and tries again after the backoff.
 */
void bv_redis_conn_fail(bv_redis_conn *c, const char *why);
/* Arms the timeout for answers due (0 disarms): when it strikes, the connection fails. */
void bv_redis_conn_guard(bv_redis_conn *c, int64_t ms);
/* Answers came back: the next failure backs off from the shortest wait again. */
void bv_redis_conn_healthy(bv_redis_conn *c);
/* Sends SCRIPT LOAD for every script again (after NOSCRIPT), ahead of what is sent next. */
int bv_redis_conn_reload_scripts(bv_redis_conn *c);

/* The connection's own command, to build and send one at a time (redis_cmd.h). */
bv_redis_cmd *bv_redis_conn_cmd(bv_redis_conn *c);
/* Sends cmd (borrowed for the call: hiredis keeps its own copy) with fn(priv) to run on its
 * reply. BV_OK, or BV_EIO when there is no connection to send on. */
int bv_redis_conn_send(bv_redis_conn *c, bv_redis_cmd *cmd, redisCallbackFn *fn, void *priv);

#endif
