/* redis_cluster.c: one Redis server or a Redis Cluster behind one interface; see
 * redis_cluster.h. Written here because Debian 12's hiredis (0.14) has no cluster client and
 * the window store needs only routing by slot, the redirects and failing over as a whole. */
#include "net/redis_cluster.h"
#include "core/err.h"
#include "core/log.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_NODE 0xFFFF
#define MAX_REDIRECTS 16
#define TRYAGAIN_MS 50
#define REFRESH_MIN_MS 100
#define REFRESH_MAX_MS 2000

typedef enum { R_CONNECTING, R_READY } router_state;
typedef enum { MODE_UNKNOWN, MODE_SINGLE, MODE_CLUSTER } router_mode;

typedef struct node {
    struct bv_redis_router *r;
    char host[256];
    int port;
    bv_redis_conn *conn;
    int ready;   /* its handshake is through */
    int in_map;  /* a master of the current slot map */
    int dropped; /* no longer wanted: freed on the next turn */
} node;

typedef struct pending {
    struct bv_redis_router *r;
    bv_redis_cmd cmd; /* kept for a resend after a redirect */
    unsigned slot;
    redisCallbackFn *fn;
    void *priv;
    int redirects;
    int answered; /* the user got NULL already (the router failed): drop the late reply */
    int on_wire;  /* hiredis holds it (a reply is due) */
    int busy;     /* being handled: whoever handles it frees it */
    struct event *retry;
    struct pending *prev, *next;
} pending;

struct bv_redis_router {
    struct event_base *base;
    int db;         /* the database the address names (a cluster has only 0) */
    char *password; /* the option's, else the address's: every node gets it */
    int64_t timeout_ms;
    char **scripts;
    size_t nscripts;
    void (*ready)(void *arg);
    void (*down)(void *arg, const char *why, int was_ready);
    void *arg;

    router_state state;
    router_mode mode;
    node **nodes; /* nodes[0]: the address given */
    size_t nnodes;
    uint16_t slot_node[BV_REDIS_SLOTS];
    size_t masters;
    int asking_map; /* CLUSTER SLOTS in flight */
    int failing;    /* inside bv_redis_router_fail */
    int closing;
    pending *pend;
    bv_redis_cmd cmd;
    struct event *refresh_ev, *defer_ev;
    int64_t refresh_wait;
    char label[BV_REDIS_ADDR_FMT_MAX + 32];
    bv_redis_router_stats st;
    uint64_t gone_commands, gone_reconnects, gone_errors; /* of nodes freed */
};

/* ---- slots ---- */

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as the cluster spec defines it. */
static uint16_t crc16(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++) {
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

unsigned bv_redis_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) %
                   BV_REDIS_SLOTS;
        }
    }
    return crc16((const unsigned char *)key, len) % BV_REDIS_SLOTS;
}

/* ---- pending commands ---- */

static void pending_free(pending *p)
{
    bv_redis_router *r = p->r;
    if (p->prev) {
        p->prev->next = p->next;
    } else if (r->pend == p) {
        r->pend = p->next;
    }
    if (p->next) {
        p->next->prev = p->prev;
    }
    if (p->retry) {
        event_free(p->retry);
    }
    bv_redis_cmd_free(&p->cmd);
    free(p);
}

/* Answers p's user once (reply may be NULL). */
static void pending_answer(pending *p, void *reply)
{
    if (!p->answered) {
        p->answered = 1;
        p->fn(NULL, reply, p->priv);
    }
}

/* Every command due gets NULL now; replies still to come are dropped. */
static void answer_all_null(bv_redis_router *r)
{
    pending *p = r->pend;
    while (p) {
        pending *next = p->next;
        pending_answer(p, NULL);
        if (!p->on_wire && !p->busy) {
            pending_free(p);
        }
        p = next;
    }
}

/* ---- nodes ---- */

static void node_ready(void *arg);
static void node_down(void *arg, const char *why, int was_ready);
static void check_ready(bv_redis_router *r);

static node *node_find(bv_redis_router *r, const char *host, int port)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        if (!r->nodes[i]->dropped && r->nodes[i]->port == port &&
            strcmp(r->nodes[i]->host, host) == 0) {
            return r->nodes[i];
        }
    }
    return NULL;
}

/* A node of the map we have no connection to yet. NULL when out of memory. */
static node *node_add(bv_redis_router *r, const char *host, int port)
{
    if (r->nnodes >= NO_NODE - 1) {
        return NULL;
    }
    node **nn = realloc(r->nodes, (r->nnodes + 1) * sizeof *nn);
    if (nn == NULL) {
        return NULL;
    }
    r->nodes = nn;
    node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        return NULL;
    }
    n->r = r;
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    char url[320];
    snprintf(url, sizeof url, "redis://%s:%d/0", host, port);
    bv_redis_addr a;
    memset(&a, 0, sizeof a);
    char err[256];
    if (bv_redis_url_parse(url, strlen(url), &a, err, sizeof err) != 0) {
        free(n);
        return NULL;
    }
    bv_redis_conn_opts co = {.addr = &a,
                             .password = r->password,
                             .timeout_ms = r->timeout_ms,
                             .scripts = (const char *const *)r->scripts,
                             .nscripts = r->nscripts,
                             .ready = node_ready,
                             .down = node_down,
                             .arg = n};
    n->conn = bv_redis_conn_new(r->base, &co, err, sizeof err);
    bv_redis_addr_free(&a);
    if (n->conn == NULL) {
        free(n);
        return NULL;
    }
    r->nodes[r->nnodes++] = n;
    return n;
}

static int node_index(const bv_redis_router *r, const node *n)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        if (r->nodes[i] == n) {
            return (int)i;
        }
    }
    return -1;
}

/* Frees the nodes marked dropped (on a turn of their own: never inside their callbacks). */
static void on_defer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_redis_router *r = arg;
    uint16_t *moved_to = malloc(r->nnodes * sizeof *moved_to);
    if (moved_to == NULL) {
        event_active(r->defer_ev, EV_TIMEOUT, 0); /* try again on the next turn */
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < r->nnodes; i++) {
        node *n = r->nodes[i];
        if (!n->dropped) {
            moved_to[i] = (uint16_t)o;
            r->nodes[o++] = n;
            continue;
        }
        moved_to[i] = NO_NODE;
        bv_redis_conn_stats cs;
        bv_redis_conn_stats_get(n->conn, &cs);
        r->gone_commands += cs.commands;
        r->gone_reconnects += cs.reconnects;
        r->gone_errors += cs.errors;
        bv_redis_conn_free(n->conn); /* replies due come back NULL: already answered */
        free(n);
    }
    /* the slot map holds places in nodes[]: follow the moves (a dropped node owns no slot) */
    for (size_t s = 0; s < BV_REDIS_SLOTS; s++) {
        if (r->slot_node[s] != NO_NODE) {
            r->slot_node[s] = r->slot_node[s] < r->nnodes ? moved_to[r->slot_node[s]] : NO_NODE;
        }
    }
    r->nnodes = o;
    free(moved_to);
    check_ready(r);
}

/* ---- state ---- */

static void router_down(bv_redis_router *r, const char *why)
{
    int was_ready = r->state == R_READY;
    bv_log(BV_LOG_DEBUG, "redis", "%s: down: %s", r->label, why);
    r->state = R_CONNECTING;
    r->st.errors++;
    answer_all_null(r);
    if (!r->closing && r->down) {
        r->down(r->arg, why, was_ready);
    }
    if (r->mode == MODE_CLUSTER && !event_pending(r->refresh_ev, EV_TIMEOUT, NULL)) {
        r->refresh_wait = REFRESH_MIN_MS;
        struct timeval tv = {0, REFRESH_MIN_MS * 1000};
        event_add(r->refresh_ev, &tv);
    }
}

static void check_ready(bv_redis_router *r)
{
    if (r->state == R_READY || r->closing) {
        return;
    }
    int ok = 0;
    if (r->mode == MODE_SINGLE) {
        ok = r->nodes[0]->ready;
    } else if (r->mode == MODE_CLUSTER && r->masters > 0) {
        ok = 1;
        for (size_t s = 0; s < BV_REDIS_SLOTS && ok; s++) {
            uint16_t i = r->slot_node[s];
            ok = i != NO_NODE && i < r->nnodes && r->nodes[i]->ready && !r->nodes[i]->dropped;
        }
    }
    if (!ok) {
        return;
    }
    r->state = R_READY;
    bv_log(BV_LOG_DEBUG, "redis", "%s: ready (%zu masters)", r->label, r->masters);
    r->refresh_wait = REFRESH_MIN_MS;
    event_del(r->refresh_ev);
    if (r->ready) {
        r->ready(r->arg);
    }
}

/* ---- the slot map ---- */

static void ask_map(bv_redis_router *r);

/* One CLUSTER SLOTS entry: [start, end, [host, port, id?], replicas...]. */
static int slot_entry(const redisReply *e, long long *start, long long *end, const char **host,
                      long long *port)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER ||
        e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
        e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
        e->element[2]->element[1]->type != REDIS_REPLY_INTEGER) {
        return -1;
    }
    *start = e->element[0]->integer;
    *end = e->element[1]->integer;
    *host = e->element[2]->element[0]->str;
    *port = e->element[2]->element[1]->integer;
    if (*start < 0 || *end >= BV_REDIS_SLOTS || *start > *end || *port <= 0 || *port > 65535 ||
        (*host)[0] == '\0') {
        return -1;
    }
    return 0;
}

static void on_slots(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    node *from = priv;
    bv_redis_router *r = from->r;
    redisReply *rep = reply;
    r->asking_map = 0;
    if (rep == NULL || r->closing) {
        return; /* that node went down: its down handler goes on */
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        if (r->mode != MODE_CLUSTER && strstr(rep->str, "cluster support disabled")) {
            r->mode = MODE_SINGLE;
            check_ready(r);
            return;
        }
        bv_log(BV_LOG_WARN, "redis", "%s: CLUSTER SLOTS: %s", r->label, rep->str);
        router_down(r, "the cluster's slot map could not be read");
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY) {
        router_down(r, "unexpected reply to CLUSTER SLOTS");
        return;
    }
    if (r->mode != MODE_CLUSTER) {
        r->mode = MODE_CLUSTER;
        snprintf(r->label, sizeof r->label, "cluster via %.*s", (int)(sizeof r->label - 20),
                 bv_redis_conn_addr(r->nodes[0]->conn));
    }
    if (r->db != 0) {
        router_down(r, "a Redis Cluster has only database 0 (the address names another)");
        return;
    }
    r->st.refreshes++;
    uint16_t map[BV_REDIS_SLOTS];
    for (size_t s = 0; s < BV_REDIS_SLOTS; s++) {
        map[s] = NO_NODE;
    }
    int changed = 0;
    for (size_t i = 0; i < rep->elements; i++) {
        long long start, end, port;
        const char *host;
        if (slot_entry(rep->element[i], &start, &end, &host, &port) != 0) {
            router_down(r, "a CLUSTER SLOTS entry that makes no sense");
            return;
        }
        node *n = node_find(r, host, (int)port);
        if (n == NULL) {
            n = node_add(r, host, (int)port);
            changed = 1;
            if (n == NULL) {
                router_down(r, "out of memory");
                return;
            }
        }
        uint16_t idx = (uint16_t)node_index(r, n);
        for (long long s = start; s <= end; s++) {
            map[s] = idx;
        }
    }
    r->masters = 0;
    for (size_t i = 0; i < r->nnodes; i++) {
        r->nodes[i]->in_map = 0;
    }
    for (size_t s = 0; s < BV_REDIS_SLOTS; s++) {
        if (map[s] != NO_NODE && !r->nodes[map[s]]->in_map) {
            r->nodes[map[s]]->in_map = 1;
            r->masters++;
        }
        changed |= map[s] != r->slot_node[s];
        r->slot_node[s] = map[s];
    }
    /* nodes no longer masters go (the address given stays: it is where we start again) */
    int drop = 0;
    for (size_t i = 1; i < r->nnodes; i++) {
        if (!r->nodes[i]->in_map && !r->nodes[i]->dropped) {
            r->nodes[i]->dropped = 1;
            drop = 1;
        }
    }
    if (drop) {
        event_active(r->defer_ev, EV_TIMEOUT, 0);
    }
    if (r->state == R_READY && changed) {
        /* a master we do not talk to yet: start again on the new map */
        for (size_t s = 0; s < BV_REDIS_SLOTS; s++) {
            if (!r->nodes[r->slot_node[s]]->ready) {
                router_down(r, "the cluster's slot map changed");
                return;
            }
        }
    }
    check_ready(r);
}

static void ask_map(bv_redis_router *r)
{
    if (r->asking_map || r->closing) {
        return;
    }
    for (size_t i = 0; i < r->nnodes; i++) {
        node *n = r->nodes[i];
        if (!n->ready || n->dropped) {
            continue;
        }
        bv_redis_cmd *c = bv_redis_conn_cmd(n->conn);
        bv_redis_cmd_reset(c);
        if (bv_redis_cmd_str(c, "CLUSTER") == 0 && bv_redis_cmd_str(c, "SLOTS") == 0 &&
            bv_redis_conn_send(n->conn, c, on_slots, n) == 0) {
            r->asking_map = 1;
            return;
        }
    }
}

/* While not ready: ask the map again now and then (a failover takes the cluster a while). */
static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_redis_router *r = arg;
    ask_map(r);
    if (r->state != R_READY && r->mode != MODE_SINGLE) {
        r->refresh_wait =
            r->refresh_wait * 2 > REFRESH_MAX_MS ? REFRESH_MAX_MS : r->refresh_wait * 2;
        struct timeval tv = {(time_t)(r->refresh_wait / 1000),
                             (suseconds_t)(r->refresh_wait % 1000) * 1000};
        event_add(r->refresh_ev, &tv);
    }
}

static void node_ready(void *arg)
{
    node *n = arg;
    bv_redis_router *r = n->r;
    n->ready = 1;
    if (n->dropped || r->closing) {
        return;
    }
    if (r->mode == MODE_SINGLE) {
        check_ready(r);
        return;
    }
    if (r->state != R_READY && (r->mode == MODE_UNKNOWN || r->masters == 0 || !n->in_map)) {
        ask_map(r); /* first contact, or after a failure: learn the map from whoever answers */
    }
    check_ready(r);
}

static void node_down(void *arg, const char *why, int was_ready)
{
    (void)was_ready;
    node *n = arg;
    bv_redis_router *r = n->r;
    n->ready = 0;
    if (n->dropped || r->closing) {
        return;
    }
    /* a node outside the map (the address given, now a replica, or dead) fails nothing */
    if (r->mode == MODE_CLUSTER && !n->in_map) {
        return;
    }
    if (r->failing) {
        return; /* bv_redis_router_fail says it once */
    }
    char msg[512];
    if (r->mode == MODE_CLUSTER) {
        snprintf(msg, sizeof msg, "%s:%d: %s", n->host, n->port, why);
    } else {
        snprintf(msg, sizeof msg, "%s", why);
    }
    router_down(r, msg);
}

/* ---- sending ---- */

static int dispatch(bv_redis_router *r, pending *p, node *to, int asking);

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pending *p = arg;
    bv_redis_router *r = p->r;
    if (p->answered) {
        pending_free(p);
        return;
    }
    if (r->state != R_READY || dispatch(r, p, NULL, 0) != BV_OK) {
        p->busy = 1; /* the user's callback may fail the router, which must not free p */
        pending_answer(p, NULL);
        pending_free(p);
    }
}

int bv_redis_parse_redirect(const char *msg, unsigned *slot, char *host, size_t hostlen, int *port)
{
    int moved = strncmp(msg, "MOVED ", 6) == 0;
    if (!moved && strncmp(msg, "ASK ", 4) != 0) {
        return -1;
    }
    const char *p = msg + (moved ? 6 : 4);
    if (*p < '0' || *p > '9') {
        return -1;
    }
    char *end;
    unsigned long s = strtoul(p, &end, 10);
    if (*end != ' ' || s >= BV_REDIS_SLOTS) {
        return -1;
    }
    const char *hp = end + 1;
    const char *colon = strrchr(hp, ':');
    if (colon == NULL || colon == hp || (size_t)(colon - hp) >= hostlen) {
        return -1;
    }
    const char *q = colon + 1;
    if (*q < '0' || *q > '9') {
        return -1;
    }
    long pt = strtol(q, &end, 10);
    if (*end != '\0' || pt <= 0 || pt > 65535) {
        return -1;
    }
    for (const char *c = hp; c < colon; c++) {
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
            return -1;
        }
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    *slot = (unsigned)s;
    *port = (int)pt;
    return moved ? 1 : 2;
}

/* The node a MOVED or ASK names, created when new; NULL when the message makes no sense. */
static node *redirect_target(bv_redis_router *r, const char *msg, unsigned *slot)
{
    char host[256];
    int port;
    if (bv_redis_parse_redirect(msg, slot, host, sizeof host, &port) <= 0) {
        return NULL;
    }
    node *n = node_find(r, host, port);
    return n ? n : node_add(r, host, port);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    pending *p = priv;
    bv_redis_router *r = p->r;
    redisReply *rep = reply;
    p->on_wire = 0;
    if (p->answered) {
        pending_free(p);
        return;
    }
    /* from here on p is ours to free: a user callback that fails the router must leave it */
    p->busy = 1;
    if (rep == NULL) {
        pending_answer(p, NULL); /* the node broke: its down handler fails the router */
        pending_free(p);
        return;
    }
    if (rep->type == REDIS_REPLY_ERROR && r->mode == MODE_CLUSTER && p->redirects < MAX_REDIRECTS) {
        int moved = strncmp(rep->str, "MOVED ", 6) == 0;
        int ask = strncmp(rep->str, "ASK ", 4) == 0;
        if (moved || ask) {
            p->redirects++;
            unsigned slot;
            node *to = redirect_target(r, rep->str, &slot);
            if (moved) {
                r->st.moved++;
            } else {
                r->st.ask++;
            }
            if (to != NULL && moved) {
                r->slot_node[slot] = (uint16_t)node_index(r, to);
                to->in_map = 1;
                ask_map(r); /* a moved slot seldom comes alone */
            }
            if (to == NULL || !to->ready || dispatch(r, p, to, ask) != BV_OK) {
                pending_answer(p, NULL);
                pending_free(p);
                router_down(r, to == NULL ? "a redirect to a node that cannot be reached"
                                          : "a redirect to a node not connected yet");
                return;
            }
            p->busy = 0;
            return;
        }
        if (strncmp(rep->str, "TRYAGAIN", 8) == 0) {
            /* a migration under way: wait and start over (bounded by the answer timeout) */
            p->redirects = 0;
            r->st.tryagain++;
            if (p->retry == NULL) {
                p->retry = evtimer_new(r->base, on_retry, p);
            }
            struct timeval tv = {0, TRYAGAIN_MS * 1000};
            if (p->retry && event_add(p->retry, &tv) == 0) {
                p->busy = 0;
                return;
            }
        }
    }
    pending_answer(p, reply);
    pending_free(p);
}

static void on_asking(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)reply;
    (void)priv; /* +OK; the command after it says the rest */
}

/* Sends p to `to`, or to its slot's owner; with asking, ASKING first. */
static int dispatch(bv_redis_router *r, pending *p, node *to, int asking)
{
    if (to == NULL) {
        uint16_t i = r->mode == MODE_CLUSTER ? r->slot_node[p->slot] : 0;
        to = i < r->nnodes ? r->nodes[i] : NULL;
    }
    if (to == NULL || !to->ready || to->dropped) {
        return BV_EIO;
    }
    if (asking) {
        bv_redis_cmd *c = bv_redis_conn_cmd(to->conn);
        bv_redis_cmd_reset(c);
        if (bv_redis_cmd_str(c, "ASKING") != 0 ||
            bv_redis_conn_send(to->conn, c, on_asking, NULL) != BV_OK) {
            return BV_EIO;
        }
    }
    if (bv_redis_conn_send(to->conn, &p->cmd, on_reply, p) != BV_OK) {
        return BV_EIO;
    }
    p->on_wire = 1;
    return BV_OK;
}

bv_redis_cmd *bv_redis_router_cmd(bv_redis_router *r)
{
    return &r->cmd;
}

int bv_redis_router_send(bv_redis_router *r, size_t key_arg, redisCallbackFn *fn, void *priv)
{
    if (r->state != R_READY) {
        bv_redis_cmd_reset(&r->cmd);
        return BV_EIO;
    }
    pending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        bv_redis_cmd_reset(&r->cmd);
        return BV_ENOMEM;
    }
    size_t klen = 0;
    const char *key = bv_redis_cmd_get(&r->cmd, key_arg, &klen);
    p->r = r;
    p->slot = key ? bv_redis_key_slot(key, klen) : 0;
    p->fn = fn;
    p->priv = priv;
    bv_redis_cmd_move(&p->cmd, &r->cmd);
    p->next = r->pend;
    if (r->pend) {
        r->pend->prev = p;
    }
    r->pend = p;
    if (dispatch(r, p, NULL, 0) != BV_OK) {
        p->answered = 1; /* the caller is told by the return value */
        pending_free(p);
        return BV_EIO;
    }
    r->st.commands++;
    return BV_OK;
}

/* ---- the rest of the interface ---- */

int bv_redis_router_ready(const bv_redis_router *r)
{
    return r->state == R_READY;
}

int bv_redis_router_is_cluster(const bv_redis_router *r)
{
    return r->mode == MODE_CLUSTER;
}

const char *bv_redis_router_state(const bv_redis_router *r)
{
    if (r->state == R_READY) {
        return "connected";
    }
    return r->mode == MODE_CLUSTER ? "connecting" : bv_redis_conn_state(r->nodes[0]->conn);
}

const char *bv_redis_router_addr(const bv_redis_router *r)
{
    return r->label;
}

const char *bv_redis_router_sha(const bv_redis_router *r, size_t i)
{
    return bv_redis_conn_sha(r->nodes[0]->conn, i);
}

void bv_redis_router_stats_get(const bv_redis_router *r, bv_redis_router_stats *out)
{
    *out = r->st;
    out->commands = r->gone_commands;
    out->reconnects = r->gone_reconnects;
    out->errors = r->gone_errors + r->st.errors;
    for (size_t i = 0; i < r->nnodes; i++) {
        bv_redis_conn_stats cs;
        bv_redis_conn_stats_get(r->nodes[i]->conn, &cs);
        out->commands += cs.commands;
        out->reconnects += cs.reconnects;
    }
    out->masters = r->mode == MODE_CLUSTER ? r->masters : 0;
}

void bv_redis_router_fail(bv_redis_router *r, const char *why)
{
    router_down(r, why);
    r->failing = 1;
    for (size_t i = 0; i < r->nnodes; i++) {
        if (!r->nodes[i]->dropped && (r->mode != MODE_CLUSTER || r->nodes[i]->in_map || i == 0)) {
            bv_redis_conn_fail(r->nodes[i]->conn, why);
        }
    }
    r->failing = 0;
}

void bv_redis_router_guard(bv_redis_router *r, int64_t ms)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        if (r->nodes[i]->ready && !r->nodes[i]->dropped) {
            bv_redis_conn_guard(r->nodes[i]->conn, ms);
        }
    }
}

void bv_redis_router_healthy(bv_redis_router *r)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        bv_redis_conn_healthy(r->nodes[i]->conn);
    }
}

int bv_redis_router_reload_scripts(bv_redis_router *r)
{
    int rc = BV_OK;
    for (size_t i = 0; i < r->nnodes; i++) {
        if (r->nodes[i]->ready && !r->nodes[i]->dropped &&
            bv_redis_conn_reload_scripts(r->nodes[i]->conn) != BV_OK) {
            rc = BV_EIO;
        }
    }
    return rc;
}

void bv_redis_router_free(bv_redis_router *r)
{
    if (r == NULL) {
        return;
    }
    r->closing = 1;
    answer_all_null(r);
    for (size_t i = 0; i < r->nnodes; i++) {
        bv_redis_conn_free(r->nodes[i]->conn); /* replies due come back NULL: freed there */
        free(r->nodes[i]);
    }
    while (r->pend) {
        pending_free(r->pend);
    }
    free(r->nodes);
    if (r->refresh_ev) {
        event_free(r->refresh_ev);
    }
    if (r->defer_ev) {
        event_free(r->defer_ev);
    }
    for (size_t i = 0; i < r->nscripts; i++) {
        free(r->scripts[i]);
    }
    free(r->scripts);
    if (r->password) {
        memset(r->password, 0, strlen(r->password));
        free(r->password);
    }
    bv_redis_cmd_free(&r->cmd);
    free(r);
}

bv_redis_router *bv_redis_router_new(struct event_base *base, const bv_redis_conn_opts *opts,
                                     char *errstr, size_t errlen)
{
    bv_redis_router *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    r->base = base;
    r->timeout_ms = opts->timeout_ms;
    r->ready = opts->ready;
    r->down = opts->down;
    r->arg = opts->arg;
    for (size_t s = 0; s < BV_REDIS_SLOTS; s++) {
        r->slot_node[s] = NO_NODE;
    }
    r->refresh_wait = REFRESH_MIN_MS;
    r->refresh_ev = evtimer_new(base, on_refresh, r);
    r->defer_ev = event_new(base, -1, 0, on_defer, r);
    r->scripts = calloc(opts->nscripts + 1, sizeof *r->scripts);
    r->nodes = calloc(1, sizeof *r->nodes);
    node *seed = calloc(1, sizeof *seed);
    if (r->refresh_ev == NULL || r->defer_ev == NULL || r->scripts == NULL || r->nodes == NULL ||
        seed == NULL) {
        free(seed);
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < opts->nscripts; i++) {
        if ((r->scripts[i] = strdup(opts->scripts[i])) == NULL) {
            free(seed);
            snprintf(errstr, errlen, "out of memory");
            goto fail;
        }
        r->nscripts++;
    }
    r->db = opts->addr->db;
    const char *pw = opts->password ? opts->password : opts->addr->password;
    if (pw && (r->password = strdup(pw)) == NULL) {
        free(seed);
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    seed->r = r;
    snprintf(seed->host, sizeof seed->host, "%s", opts->addr->host ? opts->addr->host : "");
    seed->port = opts->addr->port;
    r->nodes[0] = seed;
    r->nnodes = 1;
    bv_redis_conn_opts co = *opts;
    co.password = r->password;
    co.ready = node_ready;
    co.down = node_down;
    co.arg = seed;
    seed->conn = bv_redis_conn_new(base, &co, errstr, errlen);
    if (seed->conn == NULL) {
        r->nnodes = 0;
        free(seed);
        goto fail;
    }
    snprintf(r->label, sizeof r->label, "%s", bv_redis_conn_addr(seed->conn));
    return r;
fail:
    bv_redis_router_free(r);
    return NULL;
}
