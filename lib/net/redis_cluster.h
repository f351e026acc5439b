/* redis_cluster.h: the Redis the window store talks to, one server or a Redis Cluster, behind
 * one interface. Debian 12's hiredis 0.14 has no cluster client; this is the thin routing
 * layer of our own the store needs, no more:
 *
 * - Given any node's address, the first connection asks CLUSTER SLOTS. A server without
 *   cluster support answers with an error: then everything goes to that one connection, as
 *   before. A cluster answers with its slot map: the router connects to every master (one
 *   bv_redis_conn each, with the same password and the caller's scripts loaded on each), and
 *   is ready once all of them are.
 * - A command is sent to the master owning the slot of one of its keys (CRC16 of the key's
 *   hash tag, as the cluster spec says; the store's keys all carry a tag per rule, so every
 *   command's keys share a slot). A round's commands thus split per node, each node's in its
 *   own pipeline.
 * - MOVED: the slot map is wrong; the slot is set to the node named, the command goes there,
 *   and the whole map is asked for again. ASK: the slot is being migrated; ASKING and the
 *   command go to the node named, the map stays. TRYAGAIN (a multi-key command during a
 *   migration): sent again after 50 ms. At most 16 redirects per command.
 * - One node failing fails the router as a whole, as one server failing would: every command
 *   in flight on any node is answered NULL at once (a late reply from a healthy node is
 *   dropped), `down` is called, and the router comes back by asking the map again from any
 *   node it knows (so a master replaced by its replica is found), connecting to the masters
 *   of the new map, and calling `ready`. The caller sends again what was not answered.
 *
 * Ownership: the router copies its options (address, password, scripts); it borrows the loop.
 * User callbacks run exactly once per command sent: with the final reply (borrowed for the
 * call), or NULL when the router failed or was freed. bv_redis_router_free answers due
 * commands with NULL and calls neither ready nor down. */
#ifndef BV_NET_REDIS_CLUSTER_H
#define BV_NET_REDIS_CLUSTER_H

#include "net/redis_cmd.h"
#include "net/redis_conn.h"

#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define BV_REDIS_SLOTS 16384

/* The cluster slot of a key: CRC16 (XMODEM) of its hash tag, the part between the first '{'
 * and the next '}' when that is not empty, else of the whole key; mod 16384. */
unsigned bv_redis_key_slot(const char *key, size_t len);

/* A MOVED or ASK error ("MOVED 3999 127.0.0.1:6381"): 1 (MOVED) or 2 (ASK) with the slot,
 * host (NUL-terminated, at most hostlen - 1 bytes) and port; -1 for anything else. */
int bv_redis_parse_redirect(const char *msg, unsigned *slot, char *host, size_t hostlen, int *port);

typedef struct bv_redis_router bv_redis_router;

typedef struct bv_redis_router_stats {
    uint64_t commands, reconnects, errors;
    uint64_t moved, ask, tryagain; /* redirects followed */
    uint64_t refreshes;            /* slot maps read */
    size_t masters;                /* in the map now (0: not a cluster) */
} bv_redis_router_stats;

/* Starts connecting to opts->addr (ready and down as in bv_redis_conn_opts). A cluster has only
 * database 0: another in the address is refused once the server says it is a cluster. */
bv_redis_router *bv_redis_router_new(struct event_base *base, const bv_redis_conn_opts *opts,
                                     char *errstr, size_t errlen);
void bv_redis_router_free(bv_redis_router *r);

int bv_redis_router_ready(const bv_redis_router *r);
/* 1 once the server said it is a cluster. */
int bv_redis_router_is_cluster(const bv_redis_router *r);
/* "connected", "connecting" or "down" */
const char *bv_redis_router_state(const bv_redis_router *r);
/* The address given, never with the password; "cluster via ADDR" for a cluster. */
const char *bv_redis_router_addr(const bv_redis_router *r);
/* The SHA-1 (hex) of script i, for EVALSHA (the same on every node). */
const char *bv_redis_router_sha(const bv_redis_router *r, size_t i);
void bv_redis_router_stats_get(const bv_redis_router *r, bv_redis_router_stats *out);

/* Fails the router (as one failing node does) and starts coming back. */
void bv_redis_router_fail(bv_redis_router *r, const char *why);
/* The answer timeout on every node (0 disarms); see bv_redis_conn_guard. */
void bv_redis_router_guard(bv_redis_router *r, int64_t ms);
void bv_redis_router_healthy(bv_redis_router *r);
/* SCRIPT LOAD again on every node (after NOSCRIPT), ahead of what is sent next. */
int bv_redis_router_reload_scripts(bv_redis_router *r);

/* The command to build next (redis_cmd.h); bv_redis_router_send takes what it holds. */
bv_redis_cmd *bv_redis_router_cmd(bv_redis_router *r);
/* Sends the built command to the node owning the slot of argument key_arg, following
 * redirects; fn(priv) gets the final reply. The builder is left empty. BV_OK, or BV_EIO when
 * the router is not ready (fn is not called then), BV_ENOMEM. */
int bv_redis_router_send(bv_redis_router *r, size_t key_arg, redisCallbackFn *fn, void *priv);

#endif
