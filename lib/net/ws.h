/* ws.h: a WebSocket client (RFC 6455) on libevent: ws:// over TCP or wss:// over TLS (OpenSSL,
 * the server's certificate and host name checked against the system CA store or a given CA file),
 * host names resolved with the caller's evdns base. The upgrade response is read by a sans-IO
 * head parser; framing (fragments, ping -> pong, close) is libwslay's.
 *
 * One bv_ws is one connection: connect, handshake, messages, one end. A client that wants to
 * reconnect frees it and makes a new one.
 *
 * Ownership:
 * - bv_ws_connect copies what it needs from the options (url, headers, ca_file); it borrows the
 *   event and evdns bases, which must outlive the client.
 * - The caller frees the client with bv_ws_free, from any state and from inside any of its
 *   callbacks (then the memory goes when the callback returns, but no callback follows).
 * - on_close runs exactly once per client: when the connection ends by itself, or inside
 *   bv_ws_free (why BV_WS_END_FREED) when it had not ended before. No callback runs after it.
 * - Data handed to callbacks is borrowed for the call. */
#ifndef BV_NET_WS_H
#define BV_NET_WS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;

typedef struct bv_ws bv_ws;

#define BV_WS_TEXT 1   /* opcode of a text message (UTF-8, checked) */
#define BV_WS_BINARY 2 /* opcode of a binary message */

#define BV_WS_MAX_MESSAGE_DEFAULT (1u << 20) /* 1 MiB */
#define BV_WS_MAX_HEAD_DEFAULT 16384         /* bytes of the upgrade response head */
#define BV_WS_TIMEOUT_DEFAULT_MS 30000       /* resolve + connect + TLS + upgrade */
#define BV_WS_CLOSE_WAIT_DEFAULT_MS 2000     /* for the rest of a close handshake */

/* How a connection ended. */
typedef enum bv_ws_end {
    BV_WS_END_FREED = 0, /* bv_ws_free came first */
    BV_WS_END_CLOSED,    /* the server closed with a close frame; code: its close code (1005:
                            none given) */
    BV_WS_END_EOF,       /* the connection ended without a close frame (code 1006) */
    BV_WS_END_NET,       /* resolving, connecting, reading or writing failed */
    BV_WS_END_TLS,       /* the TLS handshake failed or the certificate was refused */
    BV_WS_END_TIMEOUT,   /* not open within timeout_ms */
    BV_WS_END_IDLE,      /* open, but nothing arrived for idle_ms */
    BV_WS_END_HTTP,      /* the server answered the upgrade with another status; code: it */
    BV_WS_END_HANDSHAKE, /* an unusable upgrade answer: not HTTP, malformed, over the head
                            limit, no or a wrong Sec-WebSocket-Accept, an extension not asked for */
    BV_WS_END_PROTOCOL,  /* the server broke the framing rules; we closed (code: 1002, 1007) */
    BV_WS_END_TOO_BIG,   /* a message over max_message; we closed with 1009 */
    BV_WS_END_LOCAL,     /* we closed (bv_ws_close); code: the server's answer, else ours */
} bv_ws_end;

/* "freed", "closed", "eof", "network", "tls", "timeout", "idle", "http", "handshake", "protocol",
 * "too_big", "local"; never NULL. */
const char *bv_ws_end_name(bv_ws_end why);

typedef struct bv_ws_close_info {
    bv_ws_end why;
    int code;           /* HTTP: the status; else the WebSocket close code (1006: no frame) */
    long retry_after;   /* HTTP: Retry-After in seconds, -1 when absent or not a number */
    const char *errstr; /* one line saying what happened; never NULL */
} bv_ws_close_info;

/* After a good upgrade (101 and the right Sec-WebSocket-Accept). */
typedef void bv_ws_open_cb(void *arg);
/* One complete message (fragments joined). data is borrowed for the call; it is writable and
 * data[len] is a spare byte (a NUL), so a codec may parse it in place. */
typedef void bv_ws_message_cb(void *arg, int opcode, char *data, size_t len);
/* The end; info is borrowed for the call. */
typedef void bv_ws_close_cb(void *arg, const bv_ws_close_info *info);

typedef struct bv_ws_opts {
    const char *url;            /* ws://HOST[:PORT][/PATH][?QUERY] or wss://...; no user, no #. */
    const char *const *headers; /* extra request headers "Name: value", NULL-terminated, or NULL */
    const char *ca_file;        /* wss: trust only this PEM file (tests); NULL: the system store */
    int64_t timeout_ms;         /* until open (DNS, TCP, TLS, upgrade); 0: 30 s */
    int64_t idle_ms;            /* once open: nothing received this long ends it; 0: no limit */
    int64_t close_wait_ms;      /* after a close frame went out, the longest wait; 0: 2 s */
    size_t max_message;         /* longest message accepted; 0: 1 MiB */
    size_t max_head;            /* longest upgrade response head; 0: 16 KiB */
    bv_ws_open_cb *on_open;     /* may be NULL */
    bv_ws_message_cb *on_message;
    bv_ws_close_cb *on_close; /* required */
    void *arg;
} bv_ws_opts;

/* 0 when url is a ws:// or wss:// URL this client can use, else BV_EINVAL and why in errstr. */
int bv_ws_url_check(const char *url, char *errstr, size_t errlen);

/* Starts connecting on base. dns resolves host names (never a blocking resolver); it may be NULL
 * when the host is an IP address. NULL with a message in errstr when the options are unusable
 * (URL, headers, CA file) or out of memory; every later failure comes through on_close. No
 * callback runs before this returns. */
bv_ws *bv_ws_connect(struct event_base *base, struct evdns_base *dns, const bv_ws_opts *o,
                     char *errstr, size_t errlen);
/* Queues a message (BV_WS_TEXT, whose data the caller keeps UTF-8, or BV_WS_BINARY; data
 * copied) and writes it out. BV_OK, BV_EINVAL when the connection is not open, BV_ENOMEM. */
int bv_ws_send(bv_ws *ws, int opcode, const void *data, size_t len);
/* Starts the close handshake with code (1000..4999) and a reason (at most 123 bytes, may be
 * NULL); on_close follows (BV_WS_END_LOCAL) when the server answers, drops the connection or
 * close_wait_ms pass. BV_EINVAL when not open. */
int bv_ws_close(bv_ws *ws, int code, const char *reason);
/* Bytes received from the server so far (after TLS): the upgrade response and frames. */
uint64_t bv_ws_bytes_in(const bv_ws *ws);
/* 1 between on_open and the end. */
int bv_ws_is_open(const bv_ws *ws);
/* Frees the client (NULL is fine); see the ownership rules above. */
void bv_ws_free(bv_ws *ws);

/* --- In memory, without sockets: for fuzzing and tests. ---
 * bv_ws_new_memory makes a client exactly like bv_ws_connect (same options, same callbacks) whose
 * connection is two byte buffers: bv_ws_feed hands it what the server would send (the upgrade
 * response, then frames) and runs the callbacks before returning; what the client sends (the
 * upgrade request, pongs, close frames, bv_ws_send) is read with bv_ws_take_output. There are no
 * timers (timeout_ms, idle_ms and close_wait_ms do nothing). If a callback frees the client, it
 * is gone when bv_ws_feed returns. */
bv_ws *bv_ws_new_memory(const bv_ws_opts *o, char *errstr, size_t errlen);
/* BV_OK, or BV_EINVAL when the connection has ended (the bytes are ignored). */
int bv_ws_feed(bv_ws *ws, const void *data, size_t len);
/* The server closed the connection (TCP EOF). */
void bv_ws_feed_eof(bv_ws *ws);
/* Moves up to size bytes the client wrote into buf; returns how many (0 when none). */
size_t bv_ws_take_output(bv_ws *ws, void *buf, size_t size);
/* The Sec-WebSocket-Key this client sent (24 characters, NUL-terminated; owned by the client). */
const char *bv_ws_key(const bv_ws *ws);

/* --- The upgrade response head, sans-IO. --- */

/* What a response head said. Strings are NUL-terminated copies, cut to fit. */
typedef struct bv_ws_response {
    int status;               /* 100..599 */
    char reason[64];          /* the reason phrase */
    char accept[64];          /* Sec-WebSocket-Accept ("" when absent) */
    int accept_count;         /* how many Sec-WebSocket-Accept lines there were */
    int upgrade_websocket;    /* an Upgrade header names websocket */
    int connection_upgrade;   /* a Connection header lists upgrade */
    int extensions;           /* Sec-WebSocket-Extensions present (we offer none) */
    int protocol;             /* Sec-WebSocket-Protocol present (we ask none) */
    long retry_after;         /* Retry-After seconds; -1 when absent or an HTTP date */
    long long content_length; /* -1 when absent */
    int chunked;              /* Transfer-Encoding: chunked */
} bv_ws_response;

typedef struct bv_ws_head bv_ws_head;

/* A parser for one head of at most max_head bytes (0: BV_WS_MAX_HEAD_DEFAULT). NULL when out of
 * memory. Caller frees with bv_ws_head_free. */
bv_ws_head *bv_ws_head_new(size_t max_head);
void bv_ws_head_free(bv_ws_head *h);
/* Feeds len bytes (borrowed). *used (may be NULL) gets how many belong to the head: the rest
 * (frames, a body) is the caller's. Returns BV_EAGAIN (the head is not complete; all bytes were
 * used), BV_OK (complete: see bv_ws_head_response), BV_ELIMIT (longer than max_head), or
 * BV_EINVAL (not an HTTP/1.x response head: bad status line, header syntax, control bytes,
 * folded lines). Once it has answered anything but BV_EAGAIN it keeps that answer, using no
 * more bytes. */
int bv_ws_head_feed(bv_ws_head *h, const char *buf, size_t len, size_t *used);
/* The parsed head after BV_OK; NULL before. Owned by the parser. */
const bv_ws_response *bv_ws_head_response(const bv_ws_head *h);

/* Whether r accepts the upgrade asked for with key: 101, Upgrade: websocket, Connection: upgrade,
 * exactly one Sec-WebSocket-Accept equal to bv_ws_accept_for(key), no extension or subprotocol.
 * BV_OK, or BV_EINVAL and why in errstr. */
int bv_ws_response_check(const bv_ws_response *r, const char *key, char *errstr, size_t errlen);

#define BV_WS_ACCEPT_LEN 28
/* out = base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), NUL-terminated. */
void bv_ws_accept_for(const char *key, char out[BV_WS_ACCEPT_LEN + 1]);

#endif
