/* test_ws.c: the WebSocket client (lib/net/ws.h).
 * - The upgrade response parser, sans-IO: byte at a time, garbage, truncated, oversized heads,
 *   the fields it reports, the accept check (RFC 6455's own example).
 * - The client in memory (bv_ws_new_memory): the request it writes, frames fed byte at a time,
 *   fragments with a ping between them (the pong it writes), a 64-bit length, oversized messages
 *   (close 1009 on the wire), framing errors, EOF, a refused upgrade, closing, and freeing from
 *   every state and from inside each callback.
 * - Live, against tests/unit/ws_server.py (python3-websockets, started on a free port): echo,
 *   extra headers, path and query, fragments with pings, 70000-byte messages, an abrupt drop, a
 *   clean close with a code, an oversized message (the server sees 1009), refused upgrades
 *   (status and Retry-After reported), the idle limit; wss:// with a CA made by `openssl` at test
 *   time (by address, and by name through evdns and a hosts file), the wrong CA, the system store,
 *   a certificate for another name.
 * - Live, against a raw TCP server in this test: a wrong Sec-WebSocket-Accept, a 101 without
 *   Upgrade, a non-HTTP answer, a head over the limit, frames in the same packet as the 101, a
 *   server that never answers (timeout, also during TLS), a closed port. */
#include "testutil.h"

#include "core/err.h"
#include "net/ws.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------------------------ */
/* What the callbacks saw */

typedef struct rec {
    int opens, closes, messages;
    int last_opcode;
    char *last; /* the last message (copied) */
    size_t last_len;
    char all[512]; /* short messages joined with '|' */
    bv_ws_close_info info;
    char errstr[512];
    bv_ws *ws;
    int free_on_message, free_on_open, free_on_close, send_on_open;
    size_t big_text; /* length of a long text message of a b c ... z a b ... */
} rec;

static void r_open(void *arg)
{
    rec *r = arg;
    r->opens++;
    if (r->send_on_open) {
        assert_int_equal(bv_ws_send(r->ws, BV_WS_TEXT, "ping-1", 6), BV_OK);
        assert_int_equal(bv_ws_send(r->ws, BV_WS_BINARY, "\x00\x01\x02", 3), BV_OK);
    }
    if (r->free_on_open) {
        bv_ws_free(r->ws);
    }
}

static void r_message(void *arg, int opcode, char *data, size_t len)
{
    rec *r = arg;
    assert_true(r->closes == 0);
    assert_int_equal(data[len], '\0'); /* the spare byte */
    r->messages++;
    r->last_opcode = opcode;
    free(r->last);
    r->last = malloc(len + 1);
    memcpy(r->last, data, len + 1);
    r->last_len = len;
    if (opcode == BV_WS_TEXT && len >= 1000) {
        size_t i = 0;
        while (i < len && data[i] == (char)('a' + i % 26)) {
            i++;
        }
        r->big_text = i == len ? len : 0;
    }
    size_t al = strlen(r->all);
    if (len < 64 && al + len + 2 < sizeof r->all) {
        snprintf(r->all + al, sizeof r->all - al, "%s%.*s", al ? "|" : "", (int)len, data);
    }
    if (r->free_on_message) {
        bv_ws_free(r->ws);
        bv_ws_free(r->ws); /* twice: still one free */
    }
}

static void r_close(void *arg, const bv_ws_close_info *info)
{
    rec *r = arg;
    r->closes++;
    assert_int_equal(r->closes, 1);
    r->info = *info;
    snprintf(r->errstr, sizeof r->errstr, "%s", info->errstr);
    r->info.errstr = r->errstr;
    if (r->free_on_close) {
        bv_ws_free(r->ws);
    }
}

static bv_ws_opts r_opts(rec *r, const char *url)
{
    bv_ws_opts o = {
        .url = url, .on_open = r_open, .on_message = r_message, .on_close = r_close, .arg = r};
    return o;
}

static void r_clear(rec *r)
{
    free(r->last);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------------------------ */
/* The head parser */

static const char ok_head[] = "HTTP/1.1 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                              "\r\n";
static const char rfc_key[] = "dGhlIHNhbXBsZSBub25jZQ==";

static void test_accept_rfc_example(void **state)
{
    (void)state;
    char acc[BV_WS_ACCEPT_LEN + 1];
    bv_ws_accept_for(rfc_key, acc); /* RFC 6455 section 1.3 */
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_head_byte_at_a_time(void **state)
{
    (void)state;
    bv_ws_head *h = bv_ws_head_new(0);
    size_t n = strlen(ok_head), used = 99;
    for (size_t i = 0; i + 1 < n; i++) {
        assert_int_equal(bv_ws_head_feed(h, ok_head + i, 1, &used), BV_EAGAIN);
        assert_int_equal(used, 1);
        assert_null(bv_ws_head_response(h));
    }
    assert_int_equal(bv_ws_head_feed(h, ok_head + n - 1, 1, &used), BV_OK);
    const bv_ws_response *r = bv_ws_head_response(h);
    assert_non_null(r);
    assert_int_equal(r->status, 101);
    assert_string_equal(r->reason, "Switching Protocols");
    assert_true(r->upgrade_websocket && r->connection_upgrade);
    assert_int_equal(r->accept_count, 1);
    assert_int_equal(r->retry_after, -1);
    assert_int_equal(r->content_length, -1);
    char err[128];
    assert_int_equal(bv_ws_response_check(r, rfc_key, err, sizeof err), BV_OK);
    assert_int_equal(bv_ws_response_check(r, "AAAAAAAAAAAAAAAAAAAAAA==", err, sizeof err),
                     BV_EINVAL);
    assert_non_null(strstr(err, "Sec-WebSocket-Accept"));
    /* done: it keeps its answer and takes nothing more */
    assert_int_equal(bv_ws_head_feed(h, "\x81\x00", 2, &used), BV_OK);
    assert_int_equal(used, 0);
    bv_ws_head_free(h);

    /* in one piece with frame bytes after it: only the head is used */
    h = bv_ws_head_new(0);
    char both[256];
    memcpy(both, ok_head, n);
    memcpy(both + n, "\x81\x02hi", 4);
    assert_int_equal(bv_ws_head_feed(h, both, n + 4, &used), BV_OK);
    assert_int_equal(used, n);
    bv_ws_head_free(h);

    /* bare LF line ends, header names in any case, lists */
    h = bv_ws_head_new(0);
    const char *lf = "HTTP/1.1 101\nupgrade: WebSocket\nCONNECTION: keep-alive, Upgrade\n"
                     "sec-websocket-accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \n\n";
    assert_int_equal(bv_ws_head_feed(h, lf, strlen(lf), &used), BV_OK);
    assert_int_equal(bv_ws_response_check(bv_ws_head_response(h), rfc_key, err, sizeof err), BV_OK);
    assert_string_equal(bv_ws_head_response(h)->reason, "");
    bv_ws_head_free(h);
}

static int head_rc(const char *s, size_t max)
{
    bv_ws_head *h = bv_ws_head_new(max);
    int rc = bv_ws_head_feed(h, s, strlen(s), NULL);
    bv_ws_head_free(h);
    return rc;
}

static void test_head_garbage(void **state)
{
    (void)state;
    /* not HTTP: said at the first wrong byte */
    bv_ws_head *h = bv_ws_head_new(0);
    size_t used;
    assert_int_equal(bv_ws_head_feed(h, "S", 1, &used), BV_EINVAL);
    assert_int_equal(bv_ws_head_feed(h, "SH-2.0-OpenSSH\r\n", 16, &used), BV_EINVAL);
    assert_int_equal(used, 0);
    bv_ws_head_free(h);
    static const char *const bad[] = {
        "SSH-2.0-OpenSSH_9.2\r\n",
        "\x16\x03\x01\x00\xa5",
        "HTTP/2 101\r\n\r\n",
        "HTTP/1.1 1O1 Switching\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1 1011 Long\r\n\r\n",
        "HTTP/1.1 101Switching\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n",
        "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n",
        "HTTP/1.1 101 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 101 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 101 OK\r\nX: a\rb\r\n\r\n",
        "HTTP/1.1 101 OK\r\nX: a\x01\r\n\r\n",
        "HTTP/1.1 101 O\x7fK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (head_rc(bad[i], 0) != BV_EINVAL) {
            fail_msg("accepted bad head %zu: %s", i, bad[i]);
        }
    }
    /* a NUL inside a header */
    h = bv_ws_head_new(0);
    const char nul[] = "HTTP/1.1 101 OK\r\nX: a\0b\r\n\r\n";
    assert_int_equal(bv_ws_head_feed(h, nul, sizeof nul - 1, NULL), BV_EINVAL);
    bv_ws_head_free(h);
}

static void test_head_truncated_and_oversized(void **state)
{
    (void)state;
    /* every proper prefix is incomplete, never an answer */
    size_t n = strlen(ok_head);
    for (size_t cut = 0; cut < n; cut++) {
        bv_ws_head *h = bv_ws_head_new(0);
        assert_int_equal(bv_ws_head_feed(h, ok_head, cut, NULL), BV_EAGAIN);
        assert_null(bv_ws_head_response(h));
        bv_ws_head_free(h);
    }
    /* a head that fits exactly, and one byte more than the limit */
    assert_int_equal(head_rc(ok_head, n), BV_OK);
    assert_int_equal(head_rc(ok_head, n - 1), BV_ELIMIT);
    /* a server that never stops sending header lines */
    bv_ws_head *h = bv_ws_head_new(1024);
    int rc = BV_EAGAIN;
    assert_int_equal(bv_ws_head_feed(h, "HTTP/1.1 101 OK\r\n", 17, NULL), BV_EAGAIN);
    for (int i = 0; i < 1000 && rc == BV_EAGAIN; i++) {
        rc = bv_ws_head_feed(h, "X-Pad: 0123456789\r\n", 19, NULL);
    }
    assert_int_equal(rc, BV_ELIMIT);
    bv_ws_head_free(h);
}

static void test_head_fields(void **state)
{
    (void)state;
    bv_ws_head *h = bv_ws_head_new(0);
    const char *s = "HTTP/1.0 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 12\r\n"
                    "Transfer-Encoding: gzip, chunked\r\n\r\n";
    assert_int_equal(bv_ws_head_feed(h, s, strlen(s), NULL), BV_OK);
    const bv_ws_response *r = bv_ws_head_response(h);
    assert_int_equal(r->status, 429);
    assert_string_equal(r->reason, "Too Many Requests");
    assert_int_equal(r->retry_after, 30);
    assert_int_equal(r->content_length, 12);
    assert_true(r->chunked);
    char err[128];
    assert_int_equal(bv_ws_response_check(r, rfc_key, err, sizeof err), BV_EINVAL);
    assert_string_equal(err, "HTTP 429 Too Many Requests");
    bv_ws_head_free(h);

    h = bv_ws_head_new(0);
    s = "HTTP/1.1 503 Busy\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n";
    assert_int_equal(bv_ws_head_feed(h, s, strlen(s), NULL), BV_OK);
    assert_int_equal(bv_ws_head_response(h)->retry_after, -1);
    bv_ws_head_free(h);

    /* a reason phrase goes into messages: bytes beyond ASCII become '?' */
    h = bv_ws_head_new(0);
    s = "HTTP/1.1 500 Gr\xc3\xbc\xc3\x9f"
        "e\tnot ok\r\n\r\n";
    assert_int_equal(bv_ws_head_feed(h, s, strlen(s), NULL), BV_OK);
    assert_string_equal(bv_ws_head_response(h)->reason, "Gr????e?not ok");
    bv_ws_head_free(h);

    /* each way a 101 can be unusable */
    static const struct {
        const char *head, *why;
    } cases[] = {
        {"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "Upgrade"},
        {"HTTP/1.1 101 OK\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "Upgrade"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: "
         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "Connection"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "without Sec"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Accept: "
         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "wrong"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
         "extension"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
         "subprotocol"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h = bv_ws_head_new(0);
        assert_int_equal(bv_ws_head_feed(h, cases[i].head, strlen(cases[i].head), NULL), BV_OK);
        assert_int_equal(bv_ws_response_check(bv_ws_head_response(h), rfc_key, err, sizeof err),
                         BV_EINVAL);
        if (strstr(err, cases[i].why) == NULL) {
            fail_msg("case %zu: %s", i, err);
        }
        bv_ws_head_free(h);
    }
}

static void test_url_check(void **state)
{
    (void)state;
    char err[128];
    static const char *const good[] = {
        "ws://127.0.0.1:8080/subscribe?wantedCollections=app.bsky.feed.post",
        "wss://jetstream2.us-east.bsky.network/subscribe",
        "WSS://example.org",
        "ws://[::1]:9/x",
        "ws://host?q=1",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (bv_ws_url_check(good[i], err, sizeof err) != BV_OK) {
            fail_msg("refused %s: %s", good[i], err);
        }
    }
    static const char *const bad[] = {
        "http://example.org/", "ws:/x",         "ws://",           "ws://:80/",
        "ws://a b/",           "ws://h/a b",    "ws://h/#frag",    "ws://user@h/",
        "ws://h:0/",           "ws://h:65536/", "ws://h:8x/",      "ws://[::1/",
        "ws://[nothost]/",     "ws://h\r\n/",   "ws://ex%41mple/", "ws://[::1]x/",
        "ws://h/\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bv_ws_url_check(bad[i], err, sizeof err) != BV_EINVAL) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    assert_int_equal(bv_ws_url_check(NULL, err, sizeof err), BV_EINVAL);
}

/* ------------------------------------------------------------------------------------------ */
/* The client in memory */

/* A server frame (never masked). */
static size_t frame(uint8_t *out, int fin, int opcode, const void *data, size_t len)
{
    size_t k = 0;
    out[k++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        out[k++] = (uint8_t)len;
    } else if (len < 65536) {
        out[k++] = 126;
        out[k++] = (uint8_t)(len >> 8);
        out[k++] = (uint8_t)len;
    } else {
        out[k++] = 127;
        for (int i = 7; i >= 0; i--) {
            out[k++] = (uint8_t)((uint64_t)len >> (8 * i));
        }
    }
    if (len) {
        memcpy(out + k, data, len);
    }
    return k + len;
}

typedef struct cframe {
    int fin, opcode;
    size_t len;
    uint8_t data[256];
} cframe;

/* One client frame from p[0..n): it must be masked; the payload is unmasked into f. */
static size_t client_frame(const uint8_t *p, size_t n, cframe *f)
{
    assert_true(n >= 6);
    f->fin = p[0] >> 7;
    f->opcode = p[0] & 0xf;
    assert_true(p[1] & 0x80); /* a client always masks */
    size_t len = p[1] & 0x7f, k = 2;
    if (len == 126) {
        len = (size_t)p[2] << 8 | p[3];
        k = 4;
    }
    assert_true(len < 126 || k == 4);
    const uint8_t *mask = p + k;
    k += 4;
    assert_true(n >= k + len && len <= sizeof f->data);
    for (size_t i = 0; i < len; i++) {
        f->data[i] = p[k + i] ^ mask[i % 4];
    }
    f->len = len;
    return k + len;
}

static bv_ws *mem_client(rec *r, bv_ws_opts *o)
{
    char err[256];
    bv_ws *ws = bv_ws_new_memory(o, err, sizeof err);
    assert_non_null(ws);
    r->ws = ws;
    return ws;
}

/* The upgrade answer for ws's key, fed; the request it wrote is dropped. */
static void mem_open(bv_ws *ws)
{
    char acc[BV_WS_ACCEPT_LEN + 1], head[256];
    bv_ws_accept_for(bv_ws_key(ws), acc);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     acc);
    uint8_t junk[1024];
    while (bv_ws_take_output(ws, junk, sizeof junk) > 0) {
    }
    assert_int_equal(bv_ws_feed(ws, head, (size_t)n), BV_OK);
}

static void test_mem_request_and_frames(void **state)
{
    (void)state;
    rec r = {0};
    bv_ws_opts o = r_opts(&r, "ws://example.org:8080/sub?wantedCollections=app.bsky.feed.post");
    const char *hdrs[] = {"X-Test: yes", NULL};
    o.headers = hdrs;
    bv_ws *ws = mem_client(&r, &o);
    char req[2048];
    size_t n = bv_ws_take_output(ws, req, sizeof req - 1);
    req[n] = '\0';
    const char *line1 = "GET /sub?wantedCollections=app.bsky.feed.post HTTP/1.1\r\n";
    assert_true(strncmp(req, line1, strlen(line1)) == 0);
    assert_non_null(strstr(req, "\r\nHost: example.org:8080\r\n"));
    assert_non_null(strstr(req, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(req, "\r\nConnection: Upgrade\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr(req, "\r\nX-Test: yes\r\n"));
    char keyline[64];
    snprintf(keyline, sizeof keyline, "\r\nSec-WebSocket-Key: %s\r\n", bv_ws_key(ws));
    assert_non_null(strstr(req, keyline));
    assert_int_equal(strlen(bv_ws_key(ws)), 24);
    assert_int_equal(strcmp(req + n - 4, "\r\n\r\n"), 0);

    /* the 101 and a first message in one piece */
    char acc[BV_WS_ACCEPT_LEN + 1];
    bv_ws_accept_for(bv_ws_key(ws), acc);
    uint8_t in[200000];
    size_t k = (size_t)snprintf((char *)in, sizeof in,
                                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                                acc);
    k += frame(in + k, 1, 1, "hi", 2);
    assert_int_equal(bv_ws_feed(ws, in, k), BV_OK);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.messages, 1);
    assert_string_equal(r.last, "hi");
    assert_true(bv_ws_is_open(ws));
    assert_int_equal(bv_ws_bytes_in(ws), k);

    /* fragments with a ping between them, byte at a time */
    k = frame(in, 0, 1, "ab", 2);
    k += frame(in + k, 1, 9, "p!", 2);
    k += frame(in + k, 0, 0, "cd", 2);
    k += frame(in + k, 1, 0xA, "unasked pong", 12);
    k += frame(in + k, 1, 0, "ef", 2);
    k += frame(in + k, 1, 2, "", 0); /* an empty binary message */
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(bv_ws_feed(ws, in + i, 1), BV_OK);
    }
    assert_int_equal(r.messages, 3);
    assert_string_equal(r.all, "hi|abcdef|");
    assert_int_equal(r.last_opcode, BV_WS_BINARY);
    assert_int_equal(r.last_len, 0);
    uint8_t out[512];
    n = bv_ws_take_output(ws, out, sizeof out);
    cframe f;
    assert_int_equal(client_frame(out, n, &f), n);
    assert_int_equal(f.opcode, 0xA); /* the pong, with the ping's data */
    assert_true(f.fin);
    assert_int_equal(f.len, 2);
    assert_memory_equal(f.data, "p!", 2);

    /* a 64-bit length */
    static char big[70000];
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (char)('a' + i % 26);
    }
    k = frame(in, 1, 1, big, sizeof big);
    assert_int_equal(in[1], 127);
    assert_int_equal(bv_ws_feed(ws, in, k), BV_OK);
    assert_int_equal(r.messages, 4);
    assert_int_equal(r.last_len, sizeof big);
    assert_memory_equal(r.last, big, sizeof big);

    /* sending */
    assert_int_equal(bv_ws_send(ws, BV_WS_TEXT, "up", 2), BV_OK);
    n = bv_ws_take_output(ws, out, sizeof out);
    assert_int_equal(client_frame(out, n, &f), n);
    assert_int_equal(f.opcode, 1);
    assert_memory_equal(f.data, "up", 2);
    assert_int_equal(bv_ws_send(ws, 9, "x", 1), BV_EINVAL);

    /* the server closes: the client answers with the same code and reports it */
    uint8_t cl[] = {0x03, 0xE8, 'd', 'o', 'n', 'e'};
    k = frame(in, 1, 8, cl, sizeof cl);
    assert_int_equal(bv_ws_feed(ws, in, k), BV_OK);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.info.why, BV_WS_END_CLOSED);
    assert_int_equal(r.info.code, 1000);
    assert_non_null(strstr(r.errstr, "1000 done"));
    n = bv_ws_take_output(ws, out, sizeof out);
    assert_int_equal(client_frame(out, n, &f), n);
    assert_int_equal(f.opcode, 8);
    assert_int_equal(f.data[0] << 8 | f.data[1], 1000);
    /* ended: more bytes are refused, nothing more is reported */
    assert_int_equal(bv_ws_feed(ws, in, 2), BV_EINVAL);
    assert_false(bv_ws_is_open(ws));
    assert_int_equal(bv_ws_send(ws, BV_WS_TEXT, "late", 4), BV_EINVAL);
    bv_ws_free(ws);
    assert_int_equal(r.closes, 1);
    r_clear(&r);
}

/* The close frame the client wrote last, its code. */
static int sent_close_code(bv_ws *ws)
{
    uint8_t out[4096];
    size_t n = bv_ws_take_output(ws, out, sizeof out), off = 0;
    int code = -1;
    cframe f;
    while (off < n) {
        off += client_frame(out + off, n - off, &f);
        if (f.opcode == 8) {
            code = f.len >= 2 ? f.data[0] << 8 | f.data[1] : 0;
        }
    }
    return code;
}

static void test_mem_oversize(void **state)
{
    (void)state;
    uint8_t in[4096];
    char data[300];
    memset(data, 'x', sizeof data);
    /* one frame over the limit */
    rec r = {0};
    bv_ws_opts o = r_opts(&r, "ws://h/");
    o.max_message = 100;
    bv_ws *ws = mem_client(&r, &o);
    mem_open(ws);
    size_t k = frame(in, 1, 1, data, 100);
    assert_int_equal(bv_ws_feed(ws, in, k), BV_OK); /* exactly the limit: fine */
    assert_int_equal(r.messages, 1);
    k = frame(in, 1, 1, data, 101);
    assert_int_equal(bv_ws_feed(ws, in, k), BV_OK);
    assert_int_equal(r.messages, 1);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.info.why, BV_WS_END_TOO_BIG);
    assert_int_equal(r.info.code, 1009);
    assert_int_equal(sent_close_code(ws), 1009);
    bv_ws_free(ws);
    r_clear(&r);

    /* fragments that are small, joined over the limit */
    ws = mem_client(&r, &o);
    mem_open(ws);
    k = frame(in, 0, 1, data, 60);
    k += frame(in + k, 1, 9, "", 0);
    k += frame(in + k, 1, 0, data, 60);
    k += frame(in + k, 1, 1, "after", 5);
    assert_int_equal(bv_ws_feed(ws, in, k), BV_OK);
    assert_int_equal(r.messages, 0);
    assert_int_equal(r.info.why, BV_WS_END_TOO_BIG);
    assert_int_equal(sent_close_code(ws), 1009);
    bv_ws_free(ws);
    r_clear(&r);
}

static void test_mem_protocol_errors(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[16];
        size_t len;
        int code;
    } cases[] = {
        {{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}, 8, 1002}, /* masked by the server */
        {{0x81, 0x02, 0xC3, 0x28}, 4, 1007},                   /* not UTF-8 */
        {{0x83, 0x00}, 2, 1002},                               /* reserved opcode */
        {{0xC1, 0x01, 'x'}, 3, 1002},                          /* RSV1 without an extension */
        {{0x80, 0x01, 'x'}, 3, 1002},                          /* continuation of nothing */
        {{0x01, 0x01, 'a', 0x81, 0x01, 'b'}, 6, 1002},         /* a new message inside one */
        {{0x88, 0x02, 0x03, 0xEC}, 4, 1002},                   /* close code 1004 */
        {{0x89, 0x7E, 0x00, 0x80}, 4, 1002},                   /* a ping over 125 bytes */
        {{0x09, 0x00}, 2, 1002},                               /* a fragmented ping */
        {{0x81, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, 1002},   /* a length with the top bit */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rec r = {0};
        bv_ws_opts o = r_opts(&r, "ws://h/");
        bv_ws *ws = mem_client(&r, &o);
        mem_open(ws);
        assert_int_equal(bv_ws_feed(ws, cases[i].bytes, cases[i].len), BV_OK);
        if (r.closes != 1 || r.info.why != BV_WS_END_PROTOCOL) {
            fail_msg("case %zu: closes %d why %s", i, r.closes, bv_ws_end_name(r.info.why));
        }
        assert_int_equal(r.messages, 0);
        int sent = sent_close_code(ws);
        if (cases[i].code == 1007) {
            assert_int_equal(sent, 1007);
            assert_int_equal(r.info.code, 1007);
        } else {
            assert_true(sent == 1002 || sent == 0); /* wslay sends no code for a bad header */
        }
        bv_ws_free(ws);
        r_clear(&r);
    }
}

static void test_mem_handshake_failures(void **state)
{
    (void)state;
    rec r = {0};
    bv_ws_opts o = r_opts(&r, "ws://h/");
    /* refused, with a body in two pieces */
    bv_ws *ws = mem_client(&r, &o);
    const char *s = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 23\r\n"
                    "\r\nslow down,\r\n";
    assert_int_equal(bv_ws_feed(ws, s, strlen(s)), BV_OK);
    assert_int_equal(r.closes, 0); /* the body is not all there */
    assert_int_equal(bv_ws_feed(ws, " please\x01!\r\n", 11), BV_OK);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.opens, 0);
    assert_int_equal(r.info.why, BV_WS_END_HTTP);
    assert_int_equal(r.info.code, 429);
    assert_int_equal(r.info.retry_after, 30);
    assert_string_equal(r.errstr, "HTTP 429 Too Many Requests: slow down,   please !");
    bv_ws_free(ws);
    r_clear(&r);

    /* refused, the body ends with the connection */
    ws = mem_client(&r, &o);
    s = "HTTP/1.1 400 Bad Request\r\n\r\ninvalid cursor: soon";
    assert_int_equal(bv_ws_feed(ws, s, strlen(s)), BV_OK);
    assert_int_equal(r.closes, 0);
    bv_ws_feed_eof(ws);
    assert_int_equal(r.info.why, BV_WS_END_HTTP);
    assert_int_equal(r.info.code, 400);
    assert_int_equal(r.info.retry_after, -1);
    assert_string_equal(r.errstr, "HTTP 400 Bad Request: invalid cursor: soon");
    bv_ws_free(ws);
    r_clear(&r);

    /* a wrong accept */
    ws = mem_client(&r, &o);
    assert_int_equal(bv_ws_feed(ws, ok_head, strlen(ok_head)), BV_OK);
    assert_int_equal(r.info.why, BV_WS_END_HANDSHAKE);
    assert_non_null(strstr(r.errstr, "Sec-WebSocket-Accept"));
    bv_ws_free(ws);
    r_clear(&r);

    /* EOF before any answer, and in the middle of a frame */
    ws = mem_client(&r, &o);
    assert_int_equal(bv_ws_feed(ws, "HTTP/1.1 10", 11), BV_OK);
    bv_ws_feed_eof(ws);
    assert_int_equal(r.info.why, BV_WS_END_EOF);
    bv_ws_free(ws);
    r_clear(&r);
    ws = mem_client(&r, &o);
    mem_open(ws);
    assert_int_equal(bv_ws_feed(ws, "\x81\x05he", 4), BV_OK);
    bv_ws_feed_eof(ws);
    assert_int_equal(r.messages, 0);
    assert_int_equal(r.info.why, BV_WS_END_EOF);
    assert_int_equal(r.info.code, 1006);
    bv_ws_free(ws);
    r_clear(&r);
}

static void test_mem_local_close(void **state)
{
    (void)state;
    rec r = {0};
    bv_ws_opts o = r_opts(&r, "ws://h/");
    bv_ws *ws = mem_client(&r, &o);
    assert_int_equal(bv_ws_close(ws, 1000, "bye"), BV_EINVAL); /* not open yet */
    mem_open(ws);
    assert_int_equal(bv_ws_close(ws, 1005, NULL), BV_EINVAL);
    assert_int_equal(bv_ws_close(ws, 1000, "bye"), BV_OK);
    assert_int_equal(bv_ws_close(ws, 1000, "bye"), BV_EINVAL);
    assert_int_equal(sent_close_code(ws), 1000);
    /* a message still in flight is delivered; then the server's answer ends it */
    uint8_t in[64];
    size_t k = frame(in, 1, 1, "late", 4);
    k += frame(in + k, 1, 8, "\x03\xe8", 2);
    assert_int_equal(bv_ws_feed(ws, in, k), BV_OK);
    assert_int_equal(r.messages, 1);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.info.why, BV_WS_END_LOCAL);
    assert_int_equal(r.info.code, 1000);
    bv_ws_free(ws);
    r_clear(&r);
}

static void test_mem_free_anywhere(void **state)
{
    (void)state;
    rec r = {0};
    bv_ws_opts o = r_opts(&r, "ws://h/");
    /* at once */
    bv_ws *ws = mem_client(&r, &o);
    bv_ws_free(ws);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.info.why, BV_WS_END_FREED);
    r_clear(&r);
    /* half way through the head */
    ws = mem_client(&r, &o);
    assert_int_equal(bv_ws_feed(ws, "HTTP/1.1 101 Sw", 15), BV_OK);
    bv_ws_free(ws);
    assert_int_equal(r.info.why, BV_WS_END_FREED);
    r_clear(&r);
    /* inside on_message, with more messages behind it in the same feed */
    r.free_on_message = 1;
    ws = mem_client(&r, &o);
    mem_open(ws);
    uint8_t in[64];
    size_t k = frame(in, 1, 1, "one", 3);
    k += frame(in + k, 1, 1, "two", 3);
    k += frame(in + k, 1, 9, "", 0);
    bv_ws_feed(ws, in, k); /* ws is gone after this */
    assert_int_equal(r.messages, 1);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.info.why, BV_WS_END_FREED);
    r_clear(&r);
    /* inside on_open, with a message behind the head */
    r.free_on_open = 1;
    ws = mem_client(&r, &o);
    char acc[BV_WS_ACCEPT_LEN + 1], head[256];
    bv_ws_accept_for(bv_ws_key(ws), acc);
    k = (size_t)snprintf(head, sizeof head,
                         "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n\r\n",
                         acc);
    k += frame((uint8_t *)head + k, 1, 1, "never", 5);
    bv_ws_feed(ws, head, k);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.messages, 0);
    assert_int_equal(r.closes, 1);
    r_clear(&r);
    /* inside on_close */
    r.free_on_close = 1;
    ws = mem_client(&r, &o);
    bv_ws_feed(ws, "garbage", 7);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.info.why, BV_WS_END_HANDSHAKE);
    r_clear(&r);
    /* options that cannot work */
    char err[128];
    bv_ws_opts bad = r_opts(&r, "http://h/");
    assert_null(bv_ws_new_memory(&bad, err, sizeof err));
    bad = r_opts(&r, "ws://h/");
    bad.on_close = NULL;
    assert_null(bv_ws_new_memory(&bad, err, sizeof err));
    bad = r_opts(&r, "ws://h/");
    const char *hdrs[] = {"Host: evil", NULL};
    bad.headers = hdrs;
    assert_null(bv_ws_new_memory(&bad, err, sizeof err));
    const char *hdrs2[] = {"X-A: b\r\nX-Injected: 1", NULL};
    bad.headers = hdrs2;
    assert_null(bv_ws_new_memory(&bad, err, sizeof err));
    assert_int_equal(r.closes, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Live: the python server, a raw server, the event loop */

typedef struct pyserver {
    pid_t pid;
    int fd;
    int port;
    struct event *ev;
    char out[8192]; /* what it printed */
    size_t out_len;
} pyserver;

typedef struct rawconn rawconn;
typedef struct world {
    struct event_base *base;
    struct evdns_base *dns;
    char dir[64]; /* certificates and the hosts file */
    pyserver plain, tls, wrong;
    struct evconnlistener *raw;
    int raw_port;
    int raw_mode;
    int raw_conns;
    struct evdns_base *nxdns; /* asks the fake name server below */
    evutil_socket_t dns_fd;
    struct event *dns_ev;
    int dns_queries;
} world;

static world W;

static void py_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    pyserver *s = arg;
    ssize_t n = read(fd, s->out + s->out_len, sizeof s->out - 1 - s->out_len);
    if (n > 0) {
        s->out_len += (size_t)n;
        s->out[s->out_len] = '\0';
    } else {
        event_del(s->ev);
    }
}

/* Starts ws_server.py with args; waits (poll, 10 s at most) for the port it prints. */
static int py_start(pyserver *s, const char *a1, const char *a2, const char *a3)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    char *argv[] = {(char *)"python3", (char *)"tests/unit/ws_server.py",
                    (char *)a1,        (char *)a2,
                    (char *)a3,        NULL};
    int rc = posix_spawn(&s->pid, "/usr/bin/python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return -1;
    }
    s->fd = p[0];
    char line[32];
    size_t n = 0;
    struct pollfd pf = {.fd = s->fd, .events = POLLIN};
    while (n < sizeof line - 1 && poll(&pf, 1, 10000) == 1) {
        if (read(s->fd, line + n, 1) != 1) {
            break;
        }
        if (line[n++] == '\n') {
            break;
        }
    }
    line[n] = '\0';
    s->port = (int)strtol(line, NULL, 10);
    if (s->port <= 0) {
        return -1;
    }
    fcntl(s->fd, F_SETFL, O_NONBLOCK);
    s->ev = event_new(W.base, s->fd, EV_READ | EV_PERSIST, py_read, s);
    event_add(s->ev, NULL);
    return 0;
}

static void py_stop(pyserver *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->ev) {
        event_free(s->ev);
        s->ev = NULL;
    }
    if (s->fd > 0) {
        close(s->fd);
        s->fd = 0;
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until cond holds or ms pass. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        int hit_ = 0;                                                                              \
        struct event *dl_ = evtimer_new(W.base, on_deadline, &hit_);                               \
        struct timeval tv_ = {(ms) / 1000, ((ms) % 1000) * 1000};                                  \
        evtimer_add(dl_, &tv_);                                                                    \
        while (!(cond) && !hit_) {                                                                 \
            event_base_loop(W.base, EVLOOP_ONCE);                                                  \
        }                                                                                          \
        event_free(dl_);                                                                           \
    } while (0)

/* The raw server: reads the request, then answers by W.raw_mode. */
enum {
    RAW_SILENT,
    RAW_BAD_ACCEPT,
    RAW_NO_UPGRADE,
    RAW_GARBAGE,
    RAW_HUGE_HEAD,
    RAW_EARLY_FRAMES,
};

static void raw_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) {
        return;
    }
    size_t n = evbuffer_get_length(in);
    char *req = malloc(n + 1);
    evbuffer_remove(in, req, n);
    req[n] = '\0';
    char key[64] = "", acc[BV_WS_ACCEPT_LEN + 1];
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    if (k) {
        snprintf(key, sizeof key, "%.24s", k + 19);
    }
    free(req);
    bv_ws_accept_for(key, acc);
    struct evbuffer *out = bufferevent_get_output(bev);
    switch (W.raw_mode) {
    case RAW_BAD_ACCEPT:
        evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                                 "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n");
        break;
    case RAW_NO_UPGRADE:
        evbuffer_add_printf(out,
                            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: %s\r\n\r\n",
                            acc);
        break;
    case RAW_GARBAGE:
        evbuffer_add_printf(out, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
        break;
    case RAW_HUGE_HEAD:
        evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\n");
        for (int i = 0; i < 2000; i++) {
            evbuffer_add_printf(out, "X-Pad-%d: 0123456789\r\n", i);
        }
        break;
    case RAW_EARLY_FRAMES:
        /* the 101, a message and a close, all in one write */
        evbuffer_add_printf(out,
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                            acc);
        evbuffer_add(out,
                     "\x81\x05"
                     "early"
                     "\x88\x02\x03\xe8",
                     11);
        break;
    default:
        break;
    }
}

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

static void raw_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                       void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    (void)arg;
    W.raw_conns++;
    struct bufferevent *bev = bufferevent_socket_new(W.base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, raw_read, NULL, raw_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A name server that answers every query with NXDOMAIN. */
static void dns_query(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    unsigned char q[512];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
    if (n < 12) {
        return;
    }
    W.dns_queries++;
    q[2] = 0x81; /* a response, recursion desired */
    q[3] = 0x83; /* recursion available, NXDOMAIN */
    sendto(fd, q, (size_t)n, 0, (struct sockaddr *)&from, fl);
}

static int world_up(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    W.base = event_base_new();
    W.dns = evdns_base_new(W.base, 0); /* no name servers: names come from the hosts file */
    snprintf(W.dir, sizeof W.dir, "/tmp/bv-ws-XXXXXX");
    if (W.base == NULL || W.dns == NULL || mkdtemp(W.dir) == NULL) {
        return -1;
    }
    char hosts[128];
    snprintf(hosts, sizeof hosts, "%s/hosts", W.dir);
    FILE *f = fopen(hosts, "w");
    fprintf(f, "127.0.0.1 localhost\n");
    fclose(f);
    evdns_base_load_hosts(W.dns, hosts);
    W.dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in ds = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t dl = sizeof ds;
    if (bind(W.dns_fd, (struct sockaddr *)&ds, sizeof ds) != 0 ||
        getsockname(W.dns_fd, (struct sockaddr *)&ds, &dl) != 0) {
        return -1;
    }
    W.dns_ev = event_new(W.base, W.dns_fd, EV_READ | EV_PERSIST, dns_query, NULL);
    event_add(W.dns_ev, NULL);
    char ns[64];
    snprintf(ns, sizeof ns, "127.0.0.1:%d", ntohs(ds.sin_port));
    W.nxdns = evdns_base_new(W.base, 0);
    if (W.nxdns == NULL || evdns_base_nameserver_ip_add(W.nxdns, ns) != 0) {
        return -1;
    }
    /* certificates made now, never kept */
    pid_t pid;
    char *argv[] = {(char *)"python3", (char *)"tests/unit/ws_server.py", (char *)"--make-certs",
                    W.dir, NULL};
    int st = -1;
    if (posix_spawn(&pid, "/usr/bin/python3", NULL, NULL, argv, environ) != 0 ||
        waitpid(pid, &st, 0) != pid || st != 0) {
        fprintf(stderr, "cannot make the test certificates\n");
        return -1;
    }
    char cert[128], key[128], wcert[128], wkey[128];
    snprintf(cert, sizeof cert, "%s/server.pem", W.dir);
    snprintf(key, sizeof key, "%s/server.key", W.dir);
    snprintf(wcert, sizeof wcert, "%s/wrong.pem", W.dir);
    snprintf(wkey, sizeof wkey, "%s/wrong.key", W.dir);
    if (py_start(&W.plain, NULL, NULL, NULL) != 0 || py_start(&W.tls, "--tls", cert, key) != 0 ||
        py_start(&W.wrong, "--tls", wcert, wkey) != 0) {
        fprintf(stderr, "cannot start tests/unit/ws_server.py\n");
        return -1;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    W.raw =
        evconnlistener_new_bind(W.base, raw_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                -1, (struct sockaddr *)&sin, sizeof sin);
    if (W.raw == NULL) {
        return -1;
    }
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    getsockname(evconnlistener_get_fd(W.raw), (struct sockaddr *)&bound, &bl);
    W.raw_port = ntohs(bound.sin_port);
    return 0;
}

static int world_down(void **state)
{
    (void)state;
    py_stop(&W.plain);
    py_stop(&W.tls);
    py_stop(&W.wrong);
    if (W.raw) {
        evconnlistener_free(W.raw);
    }
    static const char *const files[] = {"ca.pem",     "ca.key",     "other-ca.pem", "other-ca.key",
                                        "server.pem", "server.key", "wrong.pem",    "wrong.key",
                                        "hosts",      NULL};
    for (int i = 0; files[i]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", W.dir, files[i]);
        unlink(p);
    }
    rmdir(W.dir);
    if (W.dns) {
        evdns_base_free(W.dns, 0);
    }
    if (W.nxdns) {
        evdns_base_free(W.nxdns, 0);
    }
    if (W.dns_ev) {
        event_free(W.dns_ev);
        close(W.dns_fd);
    }
    if (W.base) {
        event_base_free(W.base);
    }
    return 0;
}

/* Connects to url; runs the loop until the end (or 5 s). */
static bv_ws *live(rec *r, bv_ws_opts *o)
{
    char err[256];
    bv_ws *ws = bv_ws_connect(W.base, W.dns, o, err, sizeof err);
    if (ws == NULL) {
        fail_msg("connect: %s", err);
    }
    r->ws = ws;
    return ws;
}

static void url_of(char *buf, size_t n, const char *scheme, const char *host, int port,
                   const char *path)
{
    snprintf(buf, n, "%s://%s:%d%s", scheme, host, port, path);
}

static void test_live_echo(void **state)
{
    (void)state;
    char url[128];
    rec r = {.send_on_open = 1};
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/echo");
    bv_ws_opts o = r_opts(&r, url);
    bv_ws *ws = live(&r, &o);
    RUN_UNTIL(r.messages >= 2, 5000);
    assert_int_equal(r.opens, 1);
    assert_string_equal(r.all, "ping-1|\x00\x01\x02");
    assert_int_equal(r.last_opcode, BV_WS_BINARY);
    assert_int_equal(r.last_len, 3);
    assert_memory_equal(r.last, "\x00\x01\x02", 3);
    assert_true(bv_ws_bytes_in(ws) > 100);
    assert_int_equal(bv_ws_close(ws, 1000, "done"), BV_OK);
    RUN_UNTIL(r.closes == 1 && strstr(W.plain.out, "end /echo 1000\n"), 5000);
    assert_int_equal(r.info.why, BV_WS_END_LOCAL);
    assert_int_equal(r.info.code, 1000);
    if (strstr(W.plain.out, "end /echo 1000\n") == NULL) {
        fail_msg("server said: %s", W.plain.out);
    }
    bv_ws_free(ws);
    r_clear(&r);

    /* extra header; path and query go as given */
    const char *hdrs[] = {"X-Test: present", NULL};
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/header");
    o = r_opts(&r, url);
    o.headers = hdrs;
    ws = live(&r, &o);
    RUN_UNTIL(r.messages == 1, 5000);
    assert_string_equal(r.last, "present");
    bv_ws_free(ws); /* while open */
    assert_int_equal(r.info.why, BV_WS_END_FREED);
    r_clear(&r);
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port,
           "/query?wantedCollections=app.bsky.feed.post&cursor=1783175888085434&x=%20");
    o = r_opts(&r, url);
    ws = live(&r, &o);
    RUN_UNTIL(r.messages == 1, 5000);
    assert_string_equal(
        r.last, "/query?wantedCollections=app.bsky.feed.post&cursor=1783175888085434&x=%20");
    bv_ws_free(ws);
    r_clear(&r);
}

static void test_live_fragments_and_big(void **state)
{
    (void)state;
    char url[128];
    rec r = {0};
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/fragments");
    bv_ws_opts o = r_opts(&r, url);
    bv_ws *ws = live(&r, &o);
    RUN_UNTIL(r.messages == 1 && strstr(W.plain.out, "pongs 2\n"), 5000);
    assert_string_equal(r.last, "frag-1 frag-2 frag-3");
    assert_non_null(strstr(W.plain.out, "pongs 2\n")); /* each ping was answered in between */
    bv_ws_free(ws);
    r_clear(&r);

    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/big");
    o = r_opts(&r, url);
    ws = live(&r, &o);
    RUN_UNTIL(r.messages == 2, 5000);
    assert_int_equal(r.messages, 2);
    assert_int_equal(r.big_text, 70000);
    assert_int_equal(r.last_opcode, BV_WS_BINARY);
    assert_int_equal(r.last_len, 70000);
    for (size_t i = 0; i < 70000; i++) {
        if (r.last[i] != (char)('a' + i % 26)) {
            fail_msg("byte %zu wrong", i);
        }
    }
    bv_ws_free(ws);
    r_clear(&r);
}

static void test_live_ends(void **state)
{
    (void)state;
    char url[128];
    rec r = {.free_on_close = 1};
    /* dropped without a close frame */
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/abrupt");
    bv_ws_opts o = r_opts(&r, url);
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_string_equal(r.all, "bye");
    assert_int_equal(r.info.why, BV_WS_END_EOF);
    assert_int_equal(r.info.code, 1006);
    r_clear(&r);

    /* closed by the server with its code */
    r.free_on_close = 1;
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/close");
    o = r_opts(&r, url);
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_string_equal(r.all, "closing");
    assert_int_equal(r.info.why, BV_WS_END_CLOSED);
    assert_int_equal(r.info.code, 4000);
    assert_non_null(strstr(r.errstr, "4000 bye"));
    RUN_UNTIL(strstr(W.plain.out, "end /close 4000\n"), 5000); /* our answer reached it */
    if (strstr(W.plain.out, "end /close 4000\n") == NULL) {
        fail_msg("server said: %s", W.plain.out);
    }
    r_clear(&r);

    /* too big: the server is told 1009 */
    r.free_on_close = 1;
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/oversize/5000");
    o = r_opts(&r, url);
    o.max_message = 1000;
    live(&r, &o);
    RUN_UNTIL(r.closes == 1 && strstr(W.plain.out, "end /oversize/5000 "), 5000);
    assert_non_null(strstr(W.plain.out, "end /oversize/5000 "));
    RUN_UNTIL(strstr(strstr(W.plain.out, "end /oversize/5000 "), "\n"), 5000);
    assert_int_equal(r.messages, 0);
    assert_int_equal(r.info.why, BV_WS_END_TOO_BIG);
    assert_int_equal(r.info.code, 1009);
    if (strstr(W.plain.out, "end /oversize/5000 1009\n") == NULL) {
        fail_msg("server said: %s", W.plain.out);
    }
    r_clear(&r);

    /* refused upgrades: the status, Retry-After and the body are reported */
    r.free_on_close = 1;
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/refuse/403");
    o = r_opts(&r, url);
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.opens, 0);
    assert_int_equal(r.info.why, BV_WS_END_HTTP);
    assert_int_equal(r.info.code, 403);
    assert_int_equal(r.info.retry_after, -1);
    assert_non_null(strstr(r.errstr, "HTTP 403 Forbidden: refused: 403"));
    r_clear(&r);
    r.free_on_close = 1;
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/refuse/503");
    o = r_opts(&r, url);
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.info.code, 503);
    assert_int_equal(r.info.retry_after, 7);
    r_clear(&r);

    /* open but silent: the idle limit */
    r.free_on_close = 1;
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/silent");
    o = r_opts(&r, url);
    o.idle_ms = 150;
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.info.why, BV_WS_END_IDLE);
    r_clear(&r);
}

static void test_live_raw_server(void **state)
{
    (void)state;
    char url[128];
    url_of(url, sizeof url, "ws", "127.0.0.1", W.raw_port, "/");
    static const struct {
        int mode;
        bv_ws_end why;
        const char *text;
    } cases[] = {
        {RAW_BAD_ACCEPT, BV_WS_END_HANDSHAKE, "Sec-WebSocket-Accept"},
        {RAW_NO_UPGRADE, BV_WS_END_HANDSHAKE, "Upgrade"},
        {RAW_GARBAGE, BV_WS_END_HANDSHAKE, "not an HTTP response"},
        {RAW_HUGE_HEAD, BV_WS_END_HANDSHAKE, "over 16384 bytes"},
        {RAW_SILENT, BV_WS_END_TIMEOUT, "within 200 ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rec r = {.free_on_close = 1};
        W.raw_mode = cases[i].mode;
        bv_ws_opts o = r_opts(&r, url);
        o.timeout_ms = 200;
        live(&r, &o);
        RUN_UNTIL(r.closes == 1, 5000);
        if (r.info.why != cases[i].why || strstr(r.errstr, cases[i].text) == NULL) {
            fail_msg("case %zu: %s: %s", i, bv_ws_end_name(r.info.why), r.errstr);
        }
        assert_int_equal(r.opens, 0);
        r_clear(&r);
    }
    /* frames in the same packet as the 101 */
    rec r = {.free_on_close = 1};
    W.raw_mode = RAW_EARLY_FRAMES;
    bv_ws_opts o = r_opts(&r, url);
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_string_equal(r.all, "early");
    assert_int_equal(r.info.why, BV_WS_END_CLOSED);
    assert_int_equal(r.info.code, 1000);
    r_clear(&r);

    /* TLS to a server that accepts and never speaks */
    r.free_on_close = 1;
    W.raw_mode = RAW_SILENT;
    url_of(url, sizeof url, "wss", "127.0.0.1", W.raw_port, "/");
    o = r_opts(&r, url);
    o.timeout_ms = 200;
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.info.why, BV_WS_END_TIMEOUT);
    r_clear(&r);

    /* nobody listening */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&sin, sizeof sin);
    socklen_t sl = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    url_of(url, sizeof url, "ws", "127.0.0.1", ntohs(sin.sin_port), "/");
    close(fd); /* the port is free and closed */
    r.free_on_close = 1;
    o = r_opts(&r, url);
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.info.why, BV_WS_END_NET);
    assert_non_null(strstr(r.errstr, "refused"));
    r_clear(&r);

    /* a name the name server says does not exist */
    r.free_on_close = 1;
    o = r_opts(&r, "ws://no-such-host.invalid/");
    char err[256];
    r.ws = bv_ws_connect(W.base, W.nxdns, &o, err, sizeof err);
    assert_non_null(r.ws);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.info.why, BV_WS_END_NET);
    assert_non_null(strstr(r.errstr, "cannot resolve no-such-host.invalid"));
    assert_true(W.dns_queries > 0);
    r_clear(&r);
    /* a name without a resolver is refused at once */
    o = r_opts(&r, "ws://localhost/");
    assert_null(bv_ws_connect(W.base, NULL, &o, err, sizeof err));
    assert_non_null(strstr(err, "resolver"));
    assert_int_equal(r.closes, 0);
}

static void test_live_tls(void **state)
{
    (void)state;
    char url[128], ca[128], other[128];
    snprintf(ca, sizeof ca, "%s/ca.pem", W.dir);
    snprintf(other, sizeof other, "%s/other-ca.pem", W.dir);
    /* by address, the test CA */
    rec r = {0};
    url_of(url, sizeof url, "wss", "127.0.0.1", W.tls.port, "/hello");
    bv_ws_opts o = r_opts(&r, url);
    o.ca_file = ca;
    bv_ws *ws = live(&r, &o);
    RUN_UNTIL(r.messages == 1, 5000);
    assert_string_equal(r.last, "hello");
    assert_int_equal(bv_ws_close(ws, 1001, NULL), BV_OK);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.info.why, BV_WS_END_LOCAL);
    bv_ws_free(ws);
    r_clear(&r);
    /* by name (evdns, the hosts file): SNI and the name check */
    url_of(url, sizeof url, "wss", "localhost", W.tls.port, "/echo");
    o = r_opts(&r, url);
    o.ca_file = ca;
    r.send_on_open = 1;
    ws = live(&r, &o);
    RUN_UNTIL(r.messages == 2 || r.closes, 5000);
    assert_string_equal(r.all, "ping-1|\x00\x01\x02");
    bv_ws_free(ws);
    r_clear(&r);

    /* refused: another CA, the system store, a certificate for another name */
    static const struct {
        int wrong_server;
        int use_ca; /* 0: the system store, 1: the test CA, 2: the other CA */
        const char *text;
    } cases[] = {
        {0, 2, "certificate"},
        {0, 0, "certificate"},
        {1, 1, "mismatch"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r.free_on_close = 1;
        url_of(url, sizeof url, "wss", "127.0.0.1",
               cases[i].wrong_server ? W.wrong.port : W.tls.port, "/hello");
        o = r_opts(&r, url);
        o.ca_file = cases[i].use_ca == 1 ? ca : cases[i].use_ca == 2 ? other : NULL;
        live(&r, &o);
        RUN_UNTIL(r.closes == 1, 5000);
        if (r.info.why != BV_WS_END_TLS || strstr(r.errstr, cases[i].text) == NULL) {
            fail_msg("case %zu: %s: %s", i, bv_ws_end_name(r.info.why), r.errstr);
        }
        assert_int_equal(r.opens, 0);
        assert_int_equal(r.messages, 0);
        r_clear(&r);
    }
    /* TLS to a plain server */
    r.free_on_close = 1;
    url_of(url, sizeof url, "wss", "127.0.0.1", W.plain.port, "/hello");
    o = r_opts(&r, url);
    o.ca_file = ca;
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.info.why, BV_WS_END_TLS);
    r_clear(&r);
    /* a CA file that is not there */
    char err[256];
    o = r_opts(&r, url);
    o.ca_file = "/nonexistent/ca.pem";
    assert_null(bv_ws_connect(W.base, W.dns, &o, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
}

static void test_live_free_anywhere(void **state)
{
    (void)state;
    char url[128], ca[128];
    snprintf(ca, sizeof ca, "%s/ca.pem", W.dir);
    /* freed before the loop ran: while connecting, by address and by name, TCP and TLS */
    const char *hosts[] = {"127.0.0.1", "localhost"};
    for (int tls = 0; tls < 2; tls++) {
        for (int h = 0; h < 2; h++) {
            rec r = {0};
            url_of(url, sizeof url, tls ? "wss" : "ws", hosts[h], tls ? W.tls.port : W.plain.port,
                   "/hello");
            bv_ws_opts o = r_opts(&r, url);
            o.ca_file = ca;
            bv_ws *ws = live(&r, &o);
            bv_ws_free(ws);
            assert_int_equal(r.closes, 1);
            assert_int_equal(r.info.why, BV_WS_END_FREED);
            r_clear(&r);
        }
    }
    /* freed after one loop turn, then after a few (TLS handshake, upgrade in flight) */
    for (int turns = 1; turns < 6; turns++) {
        rec r = {0};
        url_of(url, sizeof url, "wss", "127.0.0.1", W.tls.port, "/hello");
        bv_ws_opts o = r_opts(&r, url);
        o.ca_file = ca;
        bv_ws *ws = live(&r, &o);
        for (int i = 0; i < turns && r.closes == 0; i++) {
            event_base_loop(W.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        }
        bv_ws_free(ws);
        assert_int_equal(r.closes, 1);
        r_clear(&r);
    }
    /* freed inside on_message and inside on_open */
    rec r = {.free_on_message = 1};
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/big");
    bv_ws_opts o = r_opts(&r, url);
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.messages, 1);
    assert_int_equal(r.info.why, BV_WS_END_FREED);
    r_clear(&r);
    r.free_on_open = 1;
    url_of(url, sizeof url, "ws", "127.0.0.1", W.plain.port, "/hello");
    o = r_opts(&r, url);
    live(&r, &o);
    RUN_UNTIL(r.closes == 1, 5000);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.messages, 0);
    r_clear(&r);
    /* the loop runs on with nothing left behind */
    event_base_loop(W.base, EVLOOP_NONBLOCK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_rfc_example),
        cmocka_unit_test(test_head_byte_at_a_time),
        cmocka_unit_test(test_head_garbage),
        cmocka_unit_test(test_head_truncated_and_oversized),
        cmocka_unit_test(test_head_fields),
        cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_mem_request_and_frames),
        cmocka_unit_test(test_mem_oversize),
        cmocka_unit_test(test_mem_protocol_errors),
        cmocka_unit_test(test_mem_handshake_failures),
        cmocka_unit_test(test_mem_local_close),
        cmocka_unit_test(test_mem_free_anywhere),
        cmocka_unit_test(test_live_echo),
        cmocka_unit_test(test_live_fragments_and_big),
        cmocka_unit_test(test_live_ends),
        cmocka_unit_test(test_live_raw_server),
        cmocka_unit_test(test_live_tls),
        cmocka_unit_test(test_live_free_anywhere),
    };
    return cmocka_run_group_tests(tests, world_up, world_down);
}
