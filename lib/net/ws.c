/* ws.c: the WebSocket client; see ws.h. One bufferevent (a socket, or OpenSSL over one) carries
 * the upgrade request and response, then frames through libwslay, whose recv/send callbacks read
 * and write the bufferevent's buffers. In memory mode the same code runs on two evbuffers.
 * Messages are joined here (wslay without buffering), so the size limit holds across fragments and
 * a message gets a spare byte after it. Every entry from libevent counts in `depth`; bv_ws_free
 * inside a callback only marks the client, and the outermost entry frees it on the way out. */
#include "net/ws.h"
#include "core/buf.h"
#include "core/err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_URL_MAX 8192
#define WS_BODY_MAX 200            /* bytes of a refusal's body kept for the message */
#define WS_MSG_KEEP_CAP (64 << 10) /* a message buffer bigger than this is released after use */
#define WS_USER_AGENT "linux:blikveld:0.1 (crisis monitoring for Dutch municipalities)"

/* ------------------------------------------------------------------------------------------ */
/* The upgrade response head */

struct bv_ws_head {
    char *buf;
    size_t len, max;
    int rc; /* BV_EAGAIN until the head is complete or refused */
    bv_ws_response resp;
};

bv_ws_head *bv_ws_head_new(size_t max_head)
{
    bv_ws_head *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return NULL;
    }
    h->max = max_head ? max_head : BV_WS_MAX_HEAD_DEFAULT;
    h->buf = malloc(h->max);
    if (h->buf == NULL) {
        free(h);
        return NULL;
    }
    h->rc = BV_EAGAIN;
    return h;
}

void bv_ws_head_free(bv_ws_head *h)
{
    if (h == NULL) {
        return;
    }
    free(h->buf);
    free(h);
}

const bv_ws_response *bv_ws_head_response(const bv_ws_head *h)
{
    return h->rc == BV_OK ? &h->resp : NULL;
}

static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Copies s[0..n) into dst (size bytes), cut to fit. */
static void copy_cut(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* 1 when the comma-separated list v[0..n) holds token (case-insensitive). */
static int list_has(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token), i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',') {
            j++;
        }
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t')) {
            a++;
        }
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t')) {
            b--;
        }
        if (b - a == tl && strncasecmp(v + a, token, tl) == 0) {
            return 1;
        }
        i = j + 1;
    }
    return 0;
}

/* A decimal number of at most maxdig digits, else -1. */
static long long digits(const char *v, size_t n, size_t maxdig)
{
    if (n == 0 || n > maxdig) {
        return -1;
    }
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" */
static int status_line(bv_ws_response *r, const char *p, size_t n)
{
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ') {
        return -1;
    }
    long long code = digits(p + 9, 3, 3);
    if (code < 100 || code > 599 || (n > 12 && p[12] != ' ')) {
        return -1;
    }
    r->status = (int)code;
    if (n > 13) {
        copy_cut(r->reason, sizeof r->reason, p + 13, n - 13);
        for (char *c = r->reason; *c; c++) {
            *c = (unsigned char)*c >= 0x80 || *c == '\t' ? '?' : *c; /* it goes into messages */
        }
    }
    return 0;
}

static int header_line(bv_ws_response *r, const char *p, size_t n)
{
    size_t k = 0;
    while (k < n && is_tchar((unsigned char)p[k])) {
        k++;
    }
    if (k == 0 || k == n || p[k] != ':') {
        return -1; /* no name, a space before the colon, or a folded line */
    }
    const char *name = p;
    size_t nl = k;
    const char *v = p + k + 1;
    size_t vl = n - k - 1;
    while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
        vl--;
    }
#define NAME_IS(s) (nl == sizeof(s) - 1 && strncasecmp(name, s, nl) == 0)
    if (NAME_IS("upgrade")) {
        r->upgrade_websocket |= list_has(v, vl, "websocket");
    } else if (NAME_IS("connection")) {
        r->connection_upgrade |= list_has(v, vl, "upgrade");
    } else if (NAME_IS("sec-websocket-accept")) {
        r->accept_count++;
        copy_cut(r->accept, sizeof r->accept, v, vl);
    } else if (NAME_IS("sec-websocket-extensions")) {
        r->extensions = 1;
    } else if (NAME_IS("sec-websocket-protocol")) {
        r->protocol = 1;
    } else if (NAME_IS("retry-after")) {
        r->retry_after = (long)digits(v, vl, 9);
    } else if (NAME_IS("content-length")) {
        long long cl = digits(v, vl, 15);
        if (cl < 0 || (r->content_length >= 0 && r->content_length != cl)) {
            return -1;
        }
        r->content_length = cl;
    } else if (NAME_IS("transfer-encoding")) {
        r->chunked |= list_has(v, vl, "chunked");
    }
#undef NAME_IS
    return 0;
}

/* The whole head is in h->buf (it ends with an empty line). */
static int parse_head(bv_ws_head *h)
{
    bv_ws_response *r = &h->resp;
    memset(r, 0, sizeof *r);
    r->retry_after = -1;
    r->content_length = -1;
    const char *p = h->buf, *end = h->buf + h->len;
    int first = 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            return BV_EINVAL;
        }
        size_t n = (size_t)(nl - p);
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            break; /* the empty line */
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return BV_EINVAL; /* control bytes, a lone CR, NUL */
            }
        }
        if (first ? status_line(r, p, n) != 0 : header_line(r, p, n) != 0) {
            return BV_EINVAL;
        }
        first = 0;
        p = nl + 1;
    }
    return first ? BV_EINVAL : BV_OK;
}

int bv_ws_head_feed(bv_ws_head *h, const char *buf, size_t len, size_t *used)
{
    static const char magic[] = "HTTP/";
    size_t i = 0;
    while (h->rc == BV_EAGAIN && i < len) {
        if (h->len == h->max) {
            h->rc = BV_ELIMIT;
            break;
        }
        char c = buf[i++];
        h->buf[h->len++] = c;
        if (h->len < sizeof magic && c != magic[h->len - 1]) {
            h->rc = BV_EINVAL; /* not HTTP: say so at once rather than wait for more */
        } else if (c == '\n' && h->len >= 2 &&
                   (h->buf[h->len - 2] == '\n' ||
                    (h->len >= 3 && h->buf[h->len - 2] == '\r' && h->buf[h->len - 3] == '\n'))) {
            h->rc = parse_head(h);
        }
    }
    if (used) {
        *used = i;
    }
    return h->rc;
}

void bv_ws_accept_for(const char *key, char out[BV_WS_ACCEPT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL || EVP_DigestInit_ex(c, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(c, key, strlen(key)) != 1 ||
        EVP_DigestUpdate(c, WS_GUID, sizeof WS_GUID - 1) != 1 ||
        EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen != 20) {
        out[0] = '\0'; /* never equals a real accept value */
    } else {
        EVP_EncodeBlock((unsigned char *)out, md, 20);
    }
    EVP_MD_CTX_free(c);
}

int bv_ws_response_check(const bv_ws_response *r, const char *key, char *errstr, size_t errlen)
{
    char want[BV_WS_ACCEPT_LEN + 1];
    bv_ws_accept_for(key, want);
    const char *why = NULL;
    if (r->status != 101) {
        snprintf(errstr, errlen, "HTTP %d %s", r->status, r->reason);
        return BV_EINVAL;
    }
    if (!r->upgrade_websocket) {
        why = "101 without Upgrade: websocket";
    } else if (!r->connection_upgrade) {
        why = "101 without Connection: upgrade";
    } else if (r->accept_count == 0) {
        why = "101 without Sec-WebSocket-Accept";
    } else if (r->accept_count > 1 || want[0] == '\0' || strcmp(r->accept, want) != 0) {
        why = "a wrong Sec-WebSocket-Accept";
    } else if (r->extensions) {
        why = "an extension we did not ask for";
    } else if (r->protocol) {
        why = "a subprotocol we did not ask for";
    }
    if (why) {
        snprintf(errstr, errlen, "bad upgrade response: %s", why);
        return BV_EINVAL;
    }
    return BV_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* URLs */

typedef struct ws_url {
    int tls, port, ip;
    char host[256];     /* without brackets */
    char hostport[300]; /* the Host header */
    char *target;       /* path and query, owned */
} ws_url;

static int url_fail(char *errstr, size_t errlen, const char *why)
{
    snprintf(errstr, errlen, "websocket url: %s", why);
    return BV_EINVAL;
}

static int parse_url(const char *url, ws_url *u, char *errstr, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (url == NULL) {
        return url_fail(errstr, errlen, "none given");
    }
    size_t n = strlen(url);
    if (n > WS_URL_MAX) {
        return url_fail(errstr, errlen, "too long");
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            return url_fail(errstr, errlen, "spaces, control or non-ASCII bytes (percent-encode)");
        }
    }
    const char *p;
    if (strncasecmp(url, "ws://", 5) == 0) {
        p = url + 5;
        u->port = 80;
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        p = url + 6;
        u->port = 443;
        u->tls = 1;
    } else {
        return url_fail(errstr, errlen, "needs ws:// or wss://");
    }
    if (strchr(url, '#') != NULL) {
        return url_fail(errstr, errlen, "a fragment (#) has no place in a WebSocket URL");
    }
    size_t al = strcspn(p, "/?");
    const char *auth = p, *rest = p + al;
    if (memchr(auth, '@', al) != NULL) {
        return url_fail(errstr, errlen, "user info (@) is not supported");
    }
    const char *hs = auth, *he;
    const char *port = NULL;
    if (al > 0 && auth[0] == '[') {
        he = memchr(auth, ']', al);
        if (he == NULL) {
            return url_fail(errstr, errlen, "an unclosed [ in the host");
        }
        hs = auth + 1;
        if (he + 1 < auth + al) {
            if (he[1] != ':') {
                return url_fail(errstr, errlen, "junk after ]");
            }
            port = he + 2;
        }
    } else {
        he = memchr(auth, ':', al);
        if (he != NULL) {
            port = he + 1;
        } else {
            he = auth + al;
        }
        for (const char *c = hs; c < he; c++) {
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_') {
                return url_fail(errstr, errlen, "a host name holds letters, digits, - . _ only");
            }
        }
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= sizeof u->host) {
        return url_fail(errstr, errlen, "no host, or one too long");
    }
    memcpy(u->host, hs, hl);
    u->host[hl] = '\0';
    unsigned char addr[16];
    if (auth[0] == '[') {
        if (inet_pton(AF_INET6, u->host, addr) != 1) {
            return url_fail(errstr, errlen, "not an IPv6 address inside [ ]");
        }
        u->ip = 1;
    } else {
        u->ip = inet_pton(AF_INET, u->host, addr) == 1;
    }
    if (port != NULL) {
        long long pv = digits(port, (size_t)(auth + al - port), 5);
        if (pv < 1 || pv > 65535) {
            return url_fail(errstr, errlen, "a port is 1..65535");
        }
        u->port = (int)pv;
    }
    const char *lb = auth[0] == '[' ? "[" : "", *rb = auth[0] == '[' ? "]" : "";
    if (u->port == (u->tls ? 443 : 80)) {
        snprintf(u->hostport, sizeof u->hostport, "%s%s%s", lb, u->host, rb);
    } else {
        snprintf(u->hostport, sizeof u->hostport, "%s%s%s:%d", lb, u->host, rb, u->port);
    }
    size_t rl = strlen(rest);
    u->target = malloc(rl + 2);
    if (u->target == NULL) {
        return url_fail(errstr, errlen, "out of memory");
    }
    if (rest[0] == '/') {
        memcpy(u->target, rest, rl + 1);
    } else {
        u->target[0] = '/'; /* "" or "?query" */
        memcpy(u->target + 1, rest, rl + 1);
    }
    return BV_OK;
}

int bv_ws_url_check(const char *url, char *errstr, size_t errlen)
{
    ws_url u;
    int rc = parse_url(url, &u, errstr, errlen);
    free(u.target);
    return rc;
}

/* "Name: value" with a token name and no control bytes; not one of the headers we write. */
static int header_ok(const char *h)
{
    static const char *const ours[] = {"host",
                                       "upgrade",
                                       "connection",
                                       "sec-websocket-key",
                                       "sec-websocket-version",
                                       "sec-websocket-extensions",
                                       "content-length",
                                       "transfer-encoding",
                                       NULL};
    size_t k = 0;
    while (is_tchar((unsigned char)h[k])) {
        k++;
    }
    if (k == 0 || h[k] != ':') {
        return 0;
    }
    for (const char *c = h + k; *c; c++) {
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
            return 0;
        }
    }
    for (int i = 0; ours[i]; i++) {
        if (strlen(ours[i]) == k && strncasecmp(h, ours[i], k) == 0) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The client */

enum { WS_CONNECTING, WS_HANDSHAKE, WS_BODY, WS_OPEN, WS_CLOSING, WS_DONE };

struct bv_ws {
    struct event_base *base;
    struct evdns_base *dns;
    ws_url url;
    bv_buf request;
    char *ca_file;
    int64_t timeout_ms, idle_ms, close_wait_ms;
    size_t max_message;
    bv_ws_open_cb *on_open;
    bv_ws_message_cb *on_message;
    bv_ws_close_cb *on_close;
    void *arg;
    char key[32];

    int state;
    int memory;
    struct bufferevent *bev;
    SSL_CTX *ssl_ctx;
    SSL *ssl; /* owned by bev once bev exists */
    struct evbuffer *mem_in, *mem_out;
    struct event *timer; /* until open: the deadline; when closing: the close wait */
    bv_ws_head *head;
    bv_ws_response resp;
    char body[WS_BODY_MAX + 1];
    size_t body_len, body_want;

    wslay_event_context_ptr wctx;
    int in_recv; /* inside wslay_event_recv: frames are only queued */
    char *msg;   /* the message being joined; msg[msg_len] is kept free for a NUL */
    size_t msg_len, msg_cap;
    int frame_ctrl, too_big;
    char close_reason[128];

    uint64_t bytes_in;
    int depth, dead;
    int local_close, local_code;
    int pend; /* the end is decided; it is reported once our last bytes are out */
    bv_ws_end pend_why;
    int pend_code;
    char pend_err[224];
};

static void destroy(bv_ws *ws);

const char *bv_ws_end_name(bv_ws_end why)
{
    static const char *const names[] = {"freed",     "closed",   "eof",     "network",
                                        "tls",       "timeout",  "idle",    "http",
                                        "handshake", "protocol", "too_big", "local"};
    return (unsigned)why < sizeof names / sizeof names[0] ? names[why] : "unknown";
}

static void enter(bv_ws *ws)
{
    ws->depth++;
}

static void leave(bv_ws *ws)
{
    if (--ws->depth == 0 && ws->dead) {
        destroy(ws);
    }
}

static struct evbuffer *in_buf(bv_ws *ws)
{
    return ws->memory ? ws->mem_in : bufferevent_get_input(ws->bev);
}

static struct evbuffer *out_buf(bv_ws *ws)
{
    return ws->memory ? ws->mem_out : bufferevent_get_output(ws->bev);
}

static void arm(struct event *ev, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(ev, &tv);
}

/* Closes the connection (not the client): socket, TLS, framing state. */
static void drop_conn(bv_ws *ws)
{
    if (ws->timer) {
        event_del(ws->timer);
    }
    if (ws->bev) {
        bufferevent_free(ws->bev); /* frees the SSL too */
        ws->bev = NULL;
        ws->ssl = NULL;
    }
    if (ws->wctx) {
        wslay_event_context_free(ws->wctx);
        ws->wctx = NULL;
    }
    bv_ws_head_free(ws->head);
    ws->head = NULL;
    free(ws->msg);
    ws->msg = NULL;
    ws->msg_len = ws->msg_cap = 0;
    if (ws->mem_in) {
        evbuffer_drain(ws->mem_in, evbuffer_get_length(ws->mem_in));
    }
}

/* The one place on_close is called. */
static void finish(bv_ws *ws, bv_ws_end why, int code, long retry_after, const char *err)
{
    if (ws->state == WS_DONE) {
        return;
    }
    ws->state = WS_DONE;
    drop_conn(ws);
    bv_ws_close_info info = {why, code, retry_after, err ? err : bv_ws_end_name(why)};
    ws->depth++;
    ws->on_close(ws->arg, &info);
    ws->depth--;
}

static void finish_f(bv_ws *ws, bv_ws_end why, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish_f(bv_ws *ws, bv_ws_end why, int code, const char *fmt, ...)
{
    char err[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, sizeof err, fmt, ap);
    va_end(ap);
    finish(ws, why, code, -1, err);
}

static void set_pending(bv_ws *ws, bv_ws_end why, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_pending(bv_ws *ws, bv_ws_end why, int code, const char *fmt, ...)
{
    if (ws->pend) {
        return;
    }
    ws->pend = 1;
    ws->pend_why = why;
    ws->pend_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ws->pend_err, sizeof ws->pend_err, fmt, ap);
    va_end(ap);
}

static void finish_pending(bv_ws *ws)
{
    finish(ws, ws->pend_why, ws->pend_code, -1, ws->pend_err);
}

/* A refused upgrade: the status, and the start of the body when it came. */
static void finish_http(bv_ws *ws)
{
    char err[96 + WS_BODY_MAX];
    size_t n = ws->body_len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ws->body[i];
        ws->body[i] = c < 0x20 || c >= 0x7f ? ' ' : (char)c;
    }
    while (n > 0 && ws->body[n - 1] == ' ') {
        n--;
    }
    snprintf(err, sizeof err, "HTTP %d %s%s%.*s", ws->resp.status, ws->resp.reason, n ? ": " : "",
             (int)n, ws->body);
    finish(ws, BV_WS_END_HTTP, ws->resp.status, ws->resp.retry_after, err);
}

/* wslay's side */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    bv_ws *ws = user;
    int n = ws->dead ? 0 : evbuffer_remove(in_buf(ws), buf, len);
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    bv_ws *ws = user;
    if (evbuffer_add(out_buf(ws), data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    (void)user;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* Stops reading and answers with close code (once). */
static void refuse(bv_ws *ws, wslay_event_context_ptr ctx, uint16_t code)
{
    wslay_event_queue_close(ctx, code, NULL, 0);
    wslay_event_shutdown_read(ctx);
}

static void frame_start_cb(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *a, void *user)
{
    bv_ws *ws = user;
    ws->frame_ctrl = (a->opcode & 0x8) != 0;
    if (ws->frame_ctrl || ws->too_big) {
        return; /* control frames: wslay keeps them */
    }
    if (a->opcode != WSLAY_CONTINUATION_FRAME) {
        ws->msg_len = 0; /* a new message */
    }
    if ((uint64_t)ws->msg_len + a->payload_length > (uint64_t)ws->max_message) {
        ws->too_big = 1;
        refuse(ws, ctx, WSLAY_CODE_MESSAGE_TOO_BIG);
        return;
    }
    size_t need = ws->msg_len + (size_t)a->payload_length + 1;
    if (need > ws->msg_cap) {
        size_t cap = ws->msg_cap ? ws->msg_cap : 1024;
        while (cap < need) {
            cap *= 2;
        }
        if (cap > ws->max_message + 1) {
            cap = ws->max_message + 1;
        }
        char *p = realloc(ws->msg, cap);
        if (p == NULL) {
            set_pending(ws, BV_WS_END_NET, 1011, "out of memory for a %zu-byte message", need - 1);
            refuse(ws, ctx, WSLAY_CODE_INTERNAL_SERVER_ERROR);
            ws->too_big = 1; /* ignore the rest */
            return;
        }
        ws->msg = p;
        ws->msg_cap = cap;
    }
}

static void frame_chunk_cb(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *a, void *user)
{
    (void)ctx;
    bv_ws *ws = user;
    if (ws->frame_ctrl || ws->too_big || a->data_length == 0) {
        return;
    }
    /* frame_start_cb made room for the whole frame; wslay never hands more than announced */
    if (ws->msg_len + a->data_length + 1 > ws->msg_cap) {
        ws->too_big = 1;
        refuse(ws, ctx, WSLAY_CODE_PROTOCOL_ERROR);
        return;
    }
    memcpy(ws->msg + ws->msg_len, a->data, a->data_length);
    ws->msg_len += a->data_length;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *user)
{
    (void)ctx;
    bv_ws *ws = user;
    if (a->opcode == WSLAY_CONNECTION_CLOSE) {
        size_t n = a->msg_length > 2 ? a->msg_length - 2 : 0;
        if (n >= sizeof ws->close_reason) {
            n = sizeof ws->close_reason - 1;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = a->msg[2 + i];
            ws->close_reason[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
        }
        ws->close_reason[n] = '\0';
        return;
    }
    if ((a->opcode != WSLAY_TEXT_FRAME && a->opcode != WSLAY_BINARY_FRAME) || ws->too_big ||
        ws->dead) {
        return;
    }
    if (ws->msg == NULL) { /* an empty message */
        ws->msg = malloc(1);
        if (ws->msg == NULL) {
            return;
        }
        ws->msg_cap = 1;
    }
    size_t len = ws->msg_len;
    ws->msg[len] = '\0';
    ws->msg_len = 0;
    if (ws->on_message) {
        ws->on_message(ws->arg, a->opcode, ws->msg, len);
    }
    if (!ws->dead && ws->msg_cap > WS_MSG_KEEP_CAP) {
        free(ws->msg);
        ws->msg = NULL;
        ws->msg_cap = 0;
    }
}

static int output_flushed(bv_ws *ws)
{
    return ws->memory || evbuffer_get_length(out_buf(ws)) == 0;
}

static void start_closing(bv_ws *ws)
{
    if (ws->state != WS_CLOSING) {
        ws->state = WS_CLOSING;
        if (ws->timer) {
            arm(ws->timer, ws->close_wait_ms);
        }
    }
}

/* After reading (r: what wslay_event_recv said) or queueing: writes what wslay queued, then
 * decides whether the connection is over. */
static void after_io(bv_ws *ws, int r)
{
    int s = wslay_event_send(ws->wctx);
    if (r == WSLAY_ERR_CALLBACK_FAILURE) {
        set_pending(ws, BV_WS_END_PROTOCOL, 1002, "the server sent a malformed frame");
    } else if (r != 0) {
        set_pending(ws, BV_WS_END_NET, 1011, "out of memory while reading frames");
    }
    if (s != 0) {
        finish_f(ws, BV_WS_END_NET, 1006, "cannot write to the connection");
        return;
    }
    if (!ws->pend) {
        if (wslay_event_get_close_received(ws->wctx)) {
            int code = wslay_event_get_status_code_received(ws->wctx);
            if (ws->local_close) {
                set_pending(ws, BV_WS_END_LOCAL, code, "closed (%d); the server answered %d %s",
                            ws->local_code, code, ws->close_reason);
            } else {
                set_pending(ws, BV_WS_END_CLOSED, code, "the server closed the connection: %d %s",
                            code, ws->close_reason);
            }
        } else if (wslay_event_get_close_sent(ws->wctx) && !ws->local_close) {
            int code = wslay_event_get_status_code_sent(ws->wctx);
            if (code == WSLAY_CODE_MESSAGE_TOO_BIG) {
                set_pending(ws, BV_WS_END_TOO_BIG, code,
                            "a message longer than %zu bytes (closed with 1009)", ws->max_message);
            } else if (code == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA) {
                set_pending(ws, BV_WS_END_PROTOCOL, code,
                            "a text message that is not UTF-8 (closed with 1007)");
            } else {
                set_pending(ws, BV_WS_END_PROTOCOL, code,
                            "the server broke the framing rules (closed with %d)", code);
            }
        }
    }
    if (ws->pend && output_flushed(ws)) {
        finish_pending(ws);
    } else if (ws->pend) {
        start_closing(ws); /* finished when the write callback sees the output gone */
    }
}

static void read_frames(bv_ws *ws)
{
    ws->in_recv = 1;
    int r = wslay_event_recv(ws->wctx);
    ws->in_recv = 0;
    if (ws->dead || ws->state == WS_DONE) {
        return;
    }
    if (!wslay_event_get_read_enabled(ws->wctx)) {
        struct evbuffer *in = in_buf(ws);
        evbuffer_drain(in, evbuffer_get_length(in)); /* after a close: nothing more is read */
    }
    after_io(ws, r);
}

static void open_ws(bv_ws *ws)
{
    struct wslay_event_callbacks cb = {recv_cb,        send_cb, genmask_cb, frame_start_cb,
                                       frame_chunk_cb, NULL,    msg_cb};
    if (wslay_event_context_client_init(&ws->wctx, &cb, ws) != 0) {
        ws->wctx = NULL;
        finish_f(ws, BV_WS_END_NET, 1006, "out of memory");
        return;
    }
    wslay_event_config_set_no_buffering(ws->wctx, 1);
    wslay_event_config_set_max_recv_msg_length(ws->wctx, ws->max_message);
    ws->state = WS_OPEN;
    if (ws->timer) {
        event_del(ws->timer);
    }
    if (ws->bev && ws->idle_ms > 0) {
        struct timeval tv = {(time_t)(ws->idle_ms / 1000),
                             (suseconds_t)(ws->idle_ms % 1000) * 1000};
        bufferevent_set_timeouts(ws->bev, &tv, NULL);
    }
    if (ws->on_open) {
        ws->on_open(ws->arg);
    }
}

static void read_head(bv_ws *ws, struct evbuffer *in)
{
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) {
            return;
        }
        size_t used = 0;
        int rc = bv_ws_head_feed(ws->head, v.iov_base, v.iov_len, &used);
        evbuffer_drain(in, used);
        if (rc == BV_EAGAIN) {
            continue;
        }
        if (rc == BV_ELIMIT) {
            finish_f(ws, BV_WS_END_HANDSHAKE, 0, "the upgrade response head is over %zu bytes",
                     ws->head->max);
            return;
        }
        if (rc != BV_OK) {
            finish_f(ws, BV_WS_END_HANDSHAKE, 0, "the server's answer is not an HTTP response");
            return;
        }
        ws->resp = *bv_ws_head_response(ws->head);
        bv_ws_head_free(ws->head);
        ws->head = NULL;
        if (ws->resp.status != 101) {
            long long cl = ws->resp.content_length;
            ws->body_want = cl >= 0            ? (cl < WS_BODY_MAX ? (size_t)cl : WS_BODY_MAX)
                            : ws->resp.chunked ? 0
                                               : WS_BODY_MAX;
            ws->state = WS_BODY;
            return;
        }
        char err[160];
        if (bv_ws_response_check(&ws->resp, ws->key, err, sizeof err) != BV_OK) {
            finish(ws, BV_WS_END_HANDSHAKE, 0, -1, err);
            return;
        }
        open_ws(ws);
        return;
    }
}

/* Takes what the server sent: every byte is used or dropped before this returns. */
static void process_input(bv_ws *ws)
{
    struct evbuffer *in = in_buf(ws);
    ws->bytes_in += evbuffer_get_length(in);
    if (ws->state == WS_HANDSHAKE) {
        read_head(ws, in);
    }
    if (ws->state == WS_BODY) {
        size_t n = evbuffer_get_length(in);
        size_t room = ws->body_want - ws->body_len;
        size_t take = n < room ? n : room;
        evbuffer_remove(in, ws->body + ws->body_len, take);
        ws->body_len += take;
        evbuffer_drain(in, evbuffer_get_length(in));
        if (ws->body_len >= ws->body_want) {
            finish_http(ws);
        }
        return;
    }
    if (!ws->dead && (ws->state == WS_OPEN || ws->state == WS_CLOSING)) {
        read_frames(ws);
    }
}

/* The server side went away (EOF), or the connection failed (is_error). */
static void conn_lost(bv_ws *ws, int is_error)
{
    char err[400] = "";
    int tls = 0;
    if (is_error && ws->bev) {
        int dnserr = bufferevent_socket_get_dns_error(ws->bev);
        unsigned long e, first = 0;
        while (ws->ssl && (e = bufferevent_get_openssl_error(ws->bev)) != 0) {
            if (first == 0) {
                first = e;
            }
        }
        long vr = ws->ssl ? SSL_get_verify_result(ws->ssl) : X509_V_OK;
        if (dnserr) {
            snprintf(err, sizeof err, "cannot resolve %s: %s", ws->url.host,
                     evutil_gai_strerror(dnserr));
        } else if (ws->ssl && vr != X509_V_OK && ws->state == WS_CONNECTING) {
            tls = 1;
            snprintf(err, sizeof err, "TLS: %s's certificate was refused: %s", ws->url.host,
                     X509_verify_cert_error_string(vr));
        } else if (first) {
            char es[160];
            ERR_error_string_n(first, es, sizeof es);
            tls = 1;
            snprintf(err, sizeof err, "TLS: %s", es);
        } else {
            int se = EVUTIL_SOCKET_ERROR();
            snprintf(err, sizeof err, "%s:%d: %s", ws->url.host, ws->url.port,
                     se ? evutil_socket_error_to_string(se) : "connection failed");
        }
    }
    switch (ws->state) {
    case WS_CONNECTING:
        if (!is_error && ws->url.tls) {
            finish_f(ws, BV_WS_END_TLS, 1006, "TLS: %s closed the connection during the handshake",
                     ws->url.host);
        } else {
            finish(ws, tls ? BV_WS_END_TLS : BV_WS_END_NET, 1006, -1,
                   err[0] ? err : "the connection failed");
        }
        break;
    case WS_HANDSHAKE:
        if (is_error) {
            finish(ws, tls ? BV_WS_END_TLS : BV_WS_END_NET, 1006, -1, err);
        } else {
            finish_f(ws, BV_WS_END_EOF, 1006,
                     "the server closed the connection before answering the upgrade");
        }
        break;
    case WS_BODY:
        finish_http(ws);
        break;
    case WS_OPEN:
    case WS_CLOSING:
        if (ws->pend) {
            finish_pending(ws);
        } else if (ws->local_close) {
            finish_f(ws, BV_WS_END_LOCAL, ws->local_code,
                     "closed (%d); the server dropped the connection", ws->local_code);
        } else if (is_error) {
            finish(ws, tls ? BV_WS_END_TLS : BV_WS_END_NET, 1006, -1, err);
        } else {
            finish_f(ws, BV_WS_END_EOF, 1006, "the connection ended without a close frame");
        }
        break;
    default:
        break;
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    bv_ws *ws = arg;
    enter(ws);
    if (!ws->dead && ws->state != WS_DONE && ws->state != WS_CONNECTING) {
        process_input(ws);
    }
    leave(ws);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    bv_ws *ws = arg;
    enter(ws);
    if (!ws->dead && ws->state == WS_CLOSING && ws->pend) {
        finish_pending(ws); /* our close frame is out */
    }
    leave(ws);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    bv_ws *ws = arg;
    enter(ws);
    if (ws->dead || ws->state == WS_DONE) {
        goto out;
    }
    if (what & BEV_EVENT_CONNECTED) {
        if (ws->state == WS_CONNECTING) {
            ws->state = WS_HANDSHAKE;
            if (bufferevent_write(bev, ws->request.p, ws->request.len) != 0) {
                finish_f(ws, BV_WS_END_NET, 1006, "out of memory");
            }
        }
        goto out;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        finish_f(ws, BV_WS_END_IDLE, 1006, "nothing received for %lld ms", (long long)ws->idle_ms);
        goto out;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (ws->state != WS_CONNECTING && evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
            process_input(ws); /* what came before the end */
        }
        if (!ws->dead && ws->state != WS_DONE) {
            conn_lost(ws, (what & BEV_EVENT_ERROR) != 0);
        }
    }
out:
    leave(ws);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_ws *ws = arg;
    enter(ws);
    if (!ws->dead) {
        switch (ws->state) {
        case WS_CONNECTING:
        case WS_HANDSHAKE:
            finish_f(ws, BV_WS_END_TIMEOUT, 0, "no WebSocket connection to %s within %lld ms (%s)",
                     ws->url.hostport, (long long)ws->timeout_ms,
                     ws->state == WS_CONNECTING ? "connecting" : "waiting for the upgrade answer");
            break;
        case WS_BODY:
            finish_http(ws);
            break;
        case WS_CLOSING:
            if (ws->pend) {
                finish_pending(ws);
            } else {
                finish_f(ws, BV_WS_END_LOCAL, ws->local_code,
                         "closed (%d); the server did not answer within %lld ms", ws->local_code,
                         (long long)ws->close_wait_ms);
            }
            break;
        default:
            break;
        }
    }
    leave(ws);
}

/* What both kinds of client share: options checked and copied, the request written. */
static bv_ws *ws_new(const bv_ws_opts *o, char *errstr, size_t errlen)
{
    if (o->on_close == NULL) {
        snprintf(errstr, errlen, "websocket: on_close is required");
        return NULL;
    }
    bv_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    ws->state = WS_DONE; /* no callback until it is set up */
    if (parse_url(o->url, &ws->url, errstr, errlen) != BV_OK) {
        goto fail;
    }
    for (const char *const *h = o->headers; h && *h; h++) {
        if (!header_ok(*h)) {
            snprintf(errstr, errlen,
                     "websocket: bad extra header (\"Name: value\", not one of ours)");
            goto fail;
        }
    }
    ws->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : BV_WS_TIMEOUT_DEFAULT_MS;
    ws->idle_ms = o->idle_ms > 0 ? o->idle_ms : 0;
    ws->close_wait_ms = o->close_wait_ms > 0 ? o->close_wait_ms : BV_WS_CLOSE_WAIT_DEFAULT_MS;
    ws->max_message = o->max_message ? o->max_message : BV_WS_MAX_MESSAGE_DEFAULT;
    if (ws->max_message > ((size_t)1 << 31) - 2) {
        ws->max_message = ((size_t)1 << 31) - 2; /* wslay's ceiling */
    }
    ws->on_open = o->on_open;
    ws->on_message = o->on_message;
    ws->on_close = o->on_close;
    ws->arg = o->arg;
    ws->head = bv_ws_head_new(o->max_head);
    if (o->ca_file) {
        ws->ca_file = strdup(o->ca_file);
    }
    unsigned char nonce[16];
    if (ws->head == NULL || (o->ca_file && ws->ca_file == NULL)) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    if (RAND_bytes(nonce, 16) != 1) {
        snprintf(errstr, errlen, "websocket: no random bytes for the key");
        goto fail;
    }
    EVP_EncodeBlock((unsigned char *)ws->key, nonce, 16);
    bv_buf *r = &ws->request;
    int bad = bv_buf_printf(r,
                            "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                            ws->url.target, ws->url.hostport, WS_USER_AGENT, ws->key);
    for (const char *const *h = o->headers; h && *h && !bad; h++) {
        bad = bv_buf_printf(r, "%s\r\n", *h);
    }
    if (bad || bv_buf_puts(r, "\r\n") != 0) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    return ws;
fail:
    destroy(ws);
    return NULL;
}

static SSL *make_ssl(bv_ws *ws, char *errstr, size_t errlen)
{
    ws->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (ws->ssl_ctx == NULL) {
        snprintf(errstr, errlen, "TLS: cannot make a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ws->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ws->ssl_ctx, SSL_VERIFY_PEER, NULL);
    int ok = ws->ca_file ? SSL_CTX_load_verify_locations(ws->ssl_ctx, ws->ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(ws->ssl_ctx);
    if (ok != 1) {
        ERR_clear_error();
        snprintf(errstr, errlen, "TLS: cannot load the CA certificates%s%s",
                 ws->ca_file ? " of " : "", ws->ca_file ? ws->ca_file : "");
        return NULL;
    }
    SSL *ssl = SSL_new(ws->ssl_ctx);
    if (ssl == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    if (ws->url.ip) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ws->url.host);
    } else {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set_tlsext_host_name(ssl, ws->url.host) == 1 && SSL_set1_host(ssl, ws->url.host);
    }
    if (ok != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        snprintf(errstr, errlen, "TLS: cannot set the host name to check");
        return NULL;
    }
    return ssl;
}

bv_ws *bv_ws_connect(struct event_base *base, struct evdns_base *dns, const bv_ws_opts *o,
                     char *errstr, size_t errlen)
{
    bv_ws *ws = ws_new(o, errstr, errlen);
    if (ws == NULL) {
        return NULL;
    }
    ws->base = base;
    ws->dns = dns;
    if (!ws->url.ip && dns == NULL) {
        snprintf(errstr, errlen, "websocket: %s is a name and no resolver was given", ws->url.host);
        goto fail;
    }
    ws->timer = evtimer_new(base, on_timer, ws);
    if (ws->timer == NULL) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    if (ws->url.tls) {
        SSL *ssl = make_ssl(ws, errstr, errlen);
        if (ssl == NULL) {
            goto fail;
        }
        ws->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
        if (ws->bev == NULL) {
            SSL_free(ssl);
        } else {
            ws->ssl = ssl;
            bufferevent_openssl_set_allow_dirty_shutdown(ws->bev, 1);
        }
    } else {
        ws->bev = bufferevent_socket_new(base, -1, opts);
    }
    if (ws->bev == NULL) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    bufferevent_setcb(ws->bev, on_read, on_write, on_event, ws);
    bufferevent_enable(ws->bev, EV_READ | EV_WRITE);
    ws->state = WS_CONNECTING;
    arm(ws->timer, ws->timeout_ms);
    int rc;
    if (ws->url.ip) {
        /* an address: no resolver at all */
        struct sockaddr_storage ss;
        int sl = sizeof ss;
        char hp[300];
        snprintf(hp, sizeof hp, strchr(ws->url.host, ':') ? "[%s]:%d" : "%s:%d", ws->url.host,
                 ws->url.port);
        rc = evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sl);
        if (rc == 0) {
            rc = bufferevent_socket_connect(ws->bev, (struct sockaddr *)&ss, sl);
        }
    } else {
        rc = bufferevent_socket_connect_hostname(ws->bev, dns, AF_UNSPEC, ws->url.host,
                                                 ws->url.port);
    }
    if (rc != 0) {
        snprintf(errstr, errlen, "websocket: cannot connect to %s:%d", ws->url.host, ws->url.port);
        goto fail;
    }
    return ws;
fail:
    ws->state = WS_DONE; /* failing here calls no callback */
    destroy(ws);
    return NULL;
}

bv_ws *bv_ws_new_memory(const bv_ws_opts *o, char *errstr, size_t errlen)
{
    bv_ws *ws = ws_new(o, errstr, errlen);
    if (ws == NULL) {
        return NULL;
    }
    ws->memory = 1;
    ws->mem_in = evbuffer_new();
    ws->mem_out = evbuffer_new();
    if (ws->mem_in == NULL || ws->mem_out == NULL ||
        evbuffer_add(ws->mem_out, ws->request.p, ws->request.len) != 0) {
        snprintf(errstr, errlen, "out of memory");
        destroy(ws);
        return NULL;
    }
    ws->state = WS_HANDSHAKE;
    return ws;
}

int bv_ws_feed(bv_ws *ws, const void *data, size_t len)
{
    if (!ws->memory || ws->dead || ws->state == WS_DONE) {
        return BV_EINVAL;
    }
    if (len > 0 && evbuffer_add(ws->mem_in, data, len) != 0) {
        return BV_ENOMEM;
    }
    enter(ws);
    process_input(ws);
    leave(ws);
    return BV_OK;
}

void bv_ws_feed_eof(bv_ws *ws)
{
    if (!ws->memory || ws->dead || ws->state == WS_DONE) {
        return;
    }
    enter(ws);
    conn_lost(ws, 0);
    leave(ws);
}

size_t bv_ws_take_output(bv_ws *ws, void *buf, size_t size)
{
    if (!ws->memory) {
        return 0;
    }
    int n = evbuffer_remove(ws->mem_out, buf, size);
    return n > 0 ? (size_t)n : 0;
}

const char *bv_ws_key(const bv_ws *ws)
{
    return ws->key;
}

int bv_ws_send(bv_ws *ws, int opcode, const void *data, size_t len)
{
    if (ws == NULL || ws->dead || ws->state != WS_OPEN || ws->wctx == NULL ||
        (opcode != BV_WS_TEXT && opcode != BV_WS_BINARY)) {
        return BV_EINVAL;
    }
    struct wslay_event_msg m = {(uint8_t)opcode, data, len};
    int r = wslay_event_queue_msg(ws->wctx, &m);
    if (r != 0) {
        return r == WSLAY_ERR_NOMEM ? BV_ENOMEM : BV_EINVAL;
    }
    if (!ws->in_recv && wslay_event_send(ws->wctx) != 0) {
        return BV_ENOMEM;
    }
    return BV_OK;
}

int bv_ws_close(bv_ws *ws, int code, const char *reason)
{
    size_t rl = reason ? strlen(reason) : 0;
    if (ws == NULL || ws->dead || ws->state != WS_OPEN || ws->wctx == NULL || code < 1000 ||
        code > 4999 || code == 1004 || code == 1005 || code == 1006 || code == 1015 || rl > 123) {
        return BV_EINVAL;
    }
    if (wslay_event_queue_close(ws->wctx, (uint16_t)code, (const uint8_t *)reason, rl) != 0) {
        return BV_EINVAL;
    }
    ws->local_close = 1;
    ws->local_code = code;
    start_closing(ws);
    if (!ws->in_recv) {
        wslay_event_send(ws->wctx);
    }
    return BV_OK;
}

uint64_t bv_ws_bytes_in(const bv_ws *ws)
{
    return ws->bytes_in;
}

int bv_ws_is_open(const bv_ws *ws)
{
    return ws->state == WS_OPEN && !ws->dead;
}

static void destroy(bv_ws *ws)
{
    drop_conn(ws);
    if (ws->timer) {
        event_free(ws->timer);
    }
    if (ws->ssl_ctx) {
        SSL_CTX_free(ws->ssl_ctx);
    }
    if (ws->mem_in) {
        evbuffer_free(ws->mem_in);
    }
    if (ws->mem_out) {
        evbuffer_free(ws->mem_out);
    }
    bv_buf_free(&ws->request);
    free(ws->ca_file);
    free(ws->url.target);
    free(ws);
}

void bv_ws_free(bv_ws *ws)
{
    if (ws == NULL || ws->dead) {
        return;
    }
    ws->dead = 1;
    if (ws->state != WS_DONE) {
        /* the owner hears of it now; the connection goes with the memory */
        ws->state = WS_DONE;
        bv_ws_close_info info = {BV_WS_END_FREED, 0, -1, "freed"};
        ws->depth++;
        ws->on_close(ws->arg, &info);
        ws->depth--;
    }
    if (ws->depth == 0) {
        destroy(ws); /* else the outermost callback entry does it on the way out */
    }
}
