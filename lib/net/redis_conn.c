/* redis_conn.c: a Redis connection on the loop: resolve, connect, handshake, timeout, backoff;
 * see redis_conn.h. */
#include "net/redis_conn.h"
#include "core/buf.h"
#include "core/err.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CONN_DOWN, CONN_RESOLVING, CONN_HANDSHAKE, CONN_READY } conn_state;

struct bv_redis_conn {
    struct event_base *evb;
    bv_redis_addr addr;
    char *password;
    char addr_text[BV_REDIS_ADDR_FMT_MAX];
    int64_t timeout_ms, backoff_ms;
    char **scripts;
    char (*sha)[41];
    size_t nscripts;
    void (*ready)(void *arg);
    void (*down)(void *arg, const char *why, int was_ready);
    void *arg;

    conn_state state;
    redisAsyncContext *ac;
    struct evdns_base *dns;
    struct evdns_getaddrinfo_request *dnsreq;
    char ip[64];
    int handshake_left;
    int ever_connected;
    int closing;
    struct event *reconnect_ev, *timeout_ev;
    bv_redis_conn_stats st;

    bv_redis_cmd cmd; /* the command being built (handshake, SCRIPT LOAD) */
};

static void conn_start(bv_redis_conn *c);

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* ---- sending ---- */

int bv_redis_conn_send(bv_redis_conn *c, bv_redis_cmd *cmd, redisCallbackFn *fn, void *priv)
{
    const char **argv = bv_redis_cmd_argv(cmd);
    if (c->ac == NULL || cmd->nargs == 0 ||
        redisAsyncCommandArgv(c->ac, fn, priv, (int)cmd->nargs, argv, cmd->arglen) != REDIS_OK) {
        return BV_EIO;
    }
    c->st.commands++;
    return BV_OK;
}

bv_redis_cmd *bv_redis_conn_cmd(bv_redis_conn *c)
{
    return &c->cmd;
}

/* ---- failing and reconnecting ---- */

void bv_redis_conn_fail(bv_redis_conn *c, const char *why)
{
    if (c->closing || c->state == CONN_DOWN) {
        return;
    }
    int was_ready = c->state == CONN_READY;
    c->state = CONN_DOWN;
    c->st.errors++;
    event_del(c->timeout_ev);
    if (c->dnsreq) {
        evdns_getaddrinfo_cancel(c->dnsreq); /* its callback runs with EVUTIL_EAI_CANCEL */
        c->dnsreq = NULL;
    }
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac); /* due callbacks run with no reply (later, when inside hiredis) */
    }
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
    if (c->backoff_ms > 5000) {
        c->backoff_ms = 5000;
    }
    struct timeval tv = tv_ms(c->backoff_ms);
    event_add(c->reconnect_ev, &tv);
    if (c->down) {
        c->down(c->arg, why, was_ready);
    }
}

/* A connection that could not be made: hiredis frees it after this returns. */
static void on_connect(const redisAsyncContext *ac, int status)
{
    bv_redis_conn *c = ac->data;
    if (status != REDIS_OK && c && c->ac == ac) {
        c->ac = NULL;
        char why[300];
        snprintf(why, sizeof why, "cannot connect: %s", ac->errstr[0] ? ac->errstr : "refused");
        bv_redis_conn_fail(c, why);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    bv_redis_conn *c = ac->data;
    (void)status;
    if (c && c->ac == ac) {
        c->ac = NULL;
        bv_redis_conn_fail(c, ac->errstr[0] ? ac->errstr : "connection closed");
    }
}

static void on_handshake(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    bv_redis_conn *c = priv;
    redisReply *rep = r;
    if (c->closing || rep == NULL) {
        return;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof why, "%s", rep->str);
        bv_redis_conn_fail(c, why);
        return;
    }
    if (--c->handshake_left == 0 && c->state == CONN_HANDSHAKE) {
        c->state = CONN_READY;
        event_del(c->timeout_ev);
        if (c->ever_connected) {
            c->st.reconnects++;
        }
        c->ever_connected = 1;
        if (c->ready) {
            c->ready(c->arg);
        }
    }
}

static void on_script_load(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    bv_redis_conn *c = priv;
    redisReply *rep = r;
    if (c->closing || rep == NULL) {
        return; /* the connection is going */
    }
    if (rep->type != REDIS_REPLY_STRING) {
        char why[256];
        snprintf(why, sizeof why, "SCRIPT LOAD failed: %s",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        bv_redis_conn_fail(c, why);
    }
}

int bv_redis_conn_reload_scripts(bv_redis_conn *c)
{
    for (size_t i = 0; i < c->nscripts; i++) {
        bv_redis_cmd_reset(&c->cmd);
        if (bv_redis_cmd_str(&c->cmd, "SCRIPT") || bv_redis_cmd_str(&c->cmd, "LOAD") ||
            bv_redis_cmd_str(&c->cmd, c->scripts[i]) ||
            bv_redis_conn_send(c, &c->cmd, on_script_load, c) != 0) {
            return BV_EIO;
        }
    }
    return BV_OK;
}

static void connect_to(bv_redis_conn *c)
{
    redisAsyncContext *ac =
        c->addr.path ? redisAsyncConnectUnix(c->addr.path) : redisAsyncConnect(c->ip, c->addr.port);
    if (ac == NULL || ac->err) {
        char why[300];
        snprintf(why, sizeof why, "cannot connect: %s", ac ? ac->errstr : "out of memory");
        if (ac) {
            redisAsyncFree(ac);
        }
        c->state = CONN_HANDSHAKE; /* so that failing counts */
        bv_redis_conn_fail(c, why);
        return;
    }
    ac->data = c;
    c->ac = ac;
    c->state = CONN_HANDSHAKE;
    if (redisLibeventAttach(ac, c->evb) != REDIS_OK) {
        bv_redis_conn_fail(c, "cannot attach to the event loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->handshake_left = 0;
    int rc = 0;
    if (c->password) {
        bv_redis_cmd_reset(&c->cmd);
        rc |= bv_redis_cmd_str(&c->cmd, "AUTH") | bv_redis_cmd_str(&c->cmd, c->password);
        rc |= bv_redis_conn_send(c, &c->cmd, on_handshake, c);
        c->handshake_left++;
    }
    if (c->addr.db) {
        bv_redis_cmd_reset(&c->cmd);
        rc |= bv_redis_cmd_str(&c->cmd, "SELECT") | bv_redis_cmd_fmt(&c->cmd, "%d", c->addr.db);
        rc |= bv_redis_conn_send(c, &c->cmd, on_handshake, c);
        c->handshake_left++;
    }
    for (size_t i = 0; i < c->nscripts; i++) {
        bv_redis_cmd_reset(&c->cmd);
        rc |= bv_redis_cmd_str(&c->cmd, "SCRIPT") | bv_redis_cmd_str(&c->cmd, "LOAD") |
              bv_redis_cmd_str(&c->cmd, c->scripts[i]);
        rc |= bv_redis_conn_send(c, &c->cmd, on_handshake, c);
        c->handshake_left++;
    }
    if (c->handshake_left == 0) {
        bv_redis_cmd_reset(&c->cmd);
        rc |= bv_redis_cmd_str(&c->cmd, "PING") | bv_redis_conn_send(c, &c->cmd, on_handshake, c);
        c->handshake_left++;
    }
    if (rc != 0) {
        bv_redis_conn_fail(c, "cannot send the handshake");
    }
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    bv_redis_conn *c = arg;
    if (result == EVUTIL_EAI_CANCEL) {
        return;
    }
    c->dnsreq = NULL;
    if (result != 0 || res == NULL) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", c->addr.host,
                 evutil_gai_strerror(result));
        if (res) {
            evutil_freeaddrinfo(res);
        }
        bv_redis_conn_fail(c, why);
        return;
    }
    const void *a = res->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    evutil_inet_ntop(res->ai_family, a, c->ip, sizeof c->ip);
    evutil_freeaddrinfo(res);
    connect_to(c);
}

static void conn_start(bv_redis_conn *c)
{
    if (c->closing || c->state != CONN_DOWN) {
        return;
    }
    bv_redis_conn_guard(c, c->timeout_ms);
    if (c->addr.path || c->addr.host_is_ip) {
        connect_to(c);
        return;
    }
    c->state = CONN_RESOLVING;
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(c->dns, c->addr.host, NULL, &hints, on_resolved, c);
    if (c->state == CONN_RESOLVING) {
        c->dnsreq = req; /* NULL when it answered at once */
    }
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_start(arg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_redis_conn *c = arg;
    char why[128];
    snprintf(why, sizeof why, "no answer within %lld ms", (long long)c->timeout_ms);
    bv_redis_conn_fail(c, c->state == CONN_READY ? why : "connecting timed out");
}

void bv_redis_conn_guard(bv_redis_conn *c, int64_t ms)
{
    if (ms <= 0) {
        event_del(c->timeout_ev);
        return;
    }
    struct timeval tv = tv_ms(ms);
    event_add(c->timeout_ev, &tv);
}

void bv_redis_conn_healthy(bv_redis_conn *c)
{
    c->backoff_ms = 0;
}

/* ---- state ---- */

int bv_redis_conn_ready(const bv_redis_conn *c)
{
    return c->state == CONN_READY;
}

const char *bv_redis_conn_state(const bv_redis_conn *c)
{
    return c->state == CONN_READY ? "connected" : c->state == CONN_DOWN ? "down" : "connecting";
}

const char *bv_redis_conn_addr(const bv_redis_conn *c)
{
    return c->addr_text;
}

const char *bv_redis_conn_sha(const bv_redis_conn *c, size_t i)
{
    return i < c->nscripts ? c->sha[i] : "";
}

void bv_redis_conn_stats_get(const bv_redis_conn *c, bv_redis_conn_stats *out)
{
    *out = c->st;
}

/* ---- life ---- */

void bv_redis_conn_free(bv_redis_conn *c)
{
    if (c == NULL) {
        return;
    }
    c->closing = 1;
    if (c->dnsreq) {
        evdns_getaddrinfo_cancel(c->dnsreq);
        c->dnsreq = NULL;
    }
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    if (c->reconnect_ev) {
        event_free(c->reconnect_ev);
    }
    if (c->timeout_ev) {
        event_free(c->timeout_ev);
    }
    if (c->dns) {
        evdns_base_free(c->dns, 1);
    }
    for (size_t i = 0; i < c->nscripts; i++) {
        free(c->scripts ? c->scripts[i] : NULL);
    }
    free(c->scripts);
    free(c->sha);
    bv_redis_cmd_free(&c->cmd);
    bv_redis_addr_free(&c->addr);
    free(c->password);
    free(c);
}

static int sha1_hex(const char *s, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL) != 1 || n != 20) {
        return BV_ERR;
    }
    for (unsigned i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    return BV_OK;
}

bv_redis_conn *bv_redis_conn_new(struct event_base *base, const bv_redis_conn_opts *opts,
                                 char *errstr, size_t errlen)
{
    const bv_redis_addr *a = opts->addr;
    if (a == NULL || (a->path == NULL && a->host == NULL)) {
        snprintf(errstr, errlen, "no Redis address");
        return NULL;
    }
    bv_redis_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    c->evb = base;
    c->state = CONN_DOWN;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 5000;
    c->ready = opts->ready;
    c->down = opts->down;
    c->arg = opts->arg;
    c->addr.host = a->host ? strdup(a->host) : NULL;
    c->addr.path = a->path ? strdup(a->path) : NULL;
    c->addr.port = a->port;
    c->addr.db = a->db;
    c->addr.host_is_ip = a->host_is_ip;
    const char *pw = opts->password ? opts->password : a->password;
    c->password = pw && *pw ? strdup(pw) : NULL;
    bv_redis_addr_format(&c->addr, c->addr_text, sizeof c->addr_text);
    if (c->addr.host_is_ip) {
        snprintf(c->ip, sizeof c->ip, "%s", c->addr.host);
    }
    c->scripts = calloc(opts->nscripts ? opts->nscripts : 1, sizeof *c->scripts);
    c->sha = calloc(opts->nscripts ? opts->nscripts : 1, sizeof *c->sha);
    c->reconnect_ev = evtimer_new(base, on_reconnect, c);
    c->timeout_ev = evtimer_new(base, on_timeout, c);
    if ((a->host && !c->addr.host) || (a->path && !c->addr.path) || (pw && *pw && !c->password) ||
        !c->scripts || !c->sha || !c->reconnect_ev || !c->timeout_ev) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < opts->nscripts; i++) {
        c->scripts[i] = strdup(opts->scripts[i]);
        c->nscripts = i + 1;
        if (c->scripts[i] == NULL || sha1_hex(c->scripts[i], c->sha[i]) != BV_OK) {
            snprintf(errstr, errlen, "cannot prepare the scripts (SHA-1)");
            goto fail;
        }
    }
    if (!c->addr.path && !c->addr.host_is_ip) {
        c->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                          EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (c->dns == NULL) {
            snprintf(errstr, errlen, "cannot set up name resolution (/etc/resolv.conf)");
            goto fail;
        }
    }
    event_active(c->reconnect_ev, EV_TIMEOUT, 0); /* on the loop: no callback inside new */
    return c;
fail:
    bv_redis_conn_free(c);
    return NULL;
}
