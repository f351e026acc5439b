/* fuzz_ws.c: libFuzzer target for the WebSocket client's sans-IO parts (lib/net/ws.h): the bytes
 * are what a server sends, fed to a client in memory (bv_ws_new_memory) in chunks; and the same
 * bytes through the upgrade response parser whole and one byte at a time, which must agree.
 * The first byte picks: bit 0, a correct 101 answer goes first (so frames are reached); bits 1-3,
 * the chunk size; bit 4, the client starts closing once open; bit 5, EOF at the end; bits 6-7,
 * the message size limit. Messages starting with 'F' free the client from inside the callback;
 * others are sent back (queued while reading). Checked: no crash, on_close exactly once, no
 * message after it, the spare byte after each message, the size limit. */
#include "core/err.h"
#include "net/ws.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct state {
    bv_ws *ws;
    int opened, closes, freed;
    size_t max;
    int close_on_open;
} state;

static void on_open(void *arg)
{
    state *s = arg;
    s->opened++;
    if (s->closes || s->opened > 1) {
        abort();
    }
    if (s->close_on_open) {
        bv_ws_close(s->ws, 1000, "fuzz");
    }
}

static void on_message(void *arg, int opcode, char *data, size_t len)
{
    state *s = arg;
    if (s->closes || !s->opened || data[len] != '\0' || len > s->max ||
        (opcode != BV_WS_TEXT && opcode != BV_WS_BINARY)) {
        abort();
    }
    if (len > 0 && data[0] == 'F') {
        bv_ws_free(s->ws);
        s->freed = 1;
        return;
    }
    bv_ws_send(s->ws, opcode, data, len < 300 ? len : 300);
}

static void on_close(void *arg, const bv_ws_close_info *info)
{
    state *s = arg;
    s->closes++;
    if (s->closes > 1 || info->errstr == NULL || bv_ws_end_name(info->why) == NULL) {
        abort();
    }
    if (info->why == BV_WS_END_TOO_BIG && info->code != 1009) {
        abort();
    }
}

static void head_agrees(const uint8_t *data, size_t size)
{
    bv_ws_head *whole = bv_ws_head_new(1024), *bytes = bv_ws_head_new(1024);
    if (whole == NULL || bytes == NULL) {
        abort();
    }
    size_t used_whole = 0, used_bytes = 0, u;
    int rc_whole = bv_ws_head_feed(whole, (const char *)data, size, &used_whole);
    int rc_bytes = BV_EAGAIN;
    for (size_t i = 0; i < size && rc_bytes == BV_EAGAIN; i++) {
        rc_bytes = bv_ws_head_feed(bytes, (const char *)data + i, 1, &u);
        used_bytes += u;
    }
    if (rc_whole != rc_bytes || used_whole != used_bytes || used_whole > size) {
        abort();
    }
    if (rc_whole == BV_OK) {
        const bv_ws_response *a = bv_ws_head_response(whole), *b = bv_ws_head_response(bytes);
        if (a == NULL || b == NULL || memcmp(a, b, sizeof *a) != 0 || a->status < 100 ||
            a->status > 599) {
            abort();
        }
        char err[128];
        bv_ws_response_check(a, "dGhlIHNhbXBsZSBub25jZQ==", err, sizeof err);
    } else if (bv_ws_head_response(whole) != NULL) {
        abort();
    }
    bv_ws_head_free(whole);
    bv_ws_head_free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    static const size_t chunks[] = {1, 2, 3, 7, 16, 64, 512, (size_t)-1};
    static const size_t maxes[] = {0, 16, 200, 70000};
    uint8_t flags = data[0];
    data++;
    size--;
    head_agrees(data, size);

    state s = {.max = maxes[flags >> 6] ? maxes[flags >> 6] : BV_WS_MAX_MESSAGE_DEFAULT,
               .close_on_open = (flags & 16) != 0};
    bv_ws_opts o = {.url = "ws://fuzz.example:8080/subscribe?x=1",
                    .max_message = maxes[flags >> 6],
                    .on_open = on_open,
                    .on_message = on_message,
                    .on_close = on_close,
                    .arg = &s};
    char err[256];
    s.ws = bv_ws_new_memory(&o, err, sizeof err);
    if (s.ws == NULL) {
        abort();
    }
    char out[4096];
    while (bv_ws_take_output(s.ws, out, sizeof out) > 0) {
    }
    if (flags & 1) {
        char acc[BV_WS_ACCEPT_LEN + 1], head[256];
        bv_ws_accept_for(bv_ws_key(s.ws), acc);
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                         acc);
        if (bv_ws_feed(s.ws, head, (size_t)n) != BV_OK || s.opened != 1) {
            abort();
        }
    }
    size_t chunk = chunks[(flags >> 1) & 7], off = 0;
    while (off < size && !s.freed) {
        size_t c = size - off < chunk ? size - off : chunk;
        int rc = bv_ws_feed(s.ws, data + off, c);
        if (s.freed) {
            break; /* freed inside a callback: gone */
        }
        if (rc != BV_OK && (rc != BV_EINVAL || s.closes != 1)) {
            abort();
        }
        while (bv_ws_take_output(s.ws, out, sizeof out) > 0) {
        }
        off += c;
    }
    if (!s.freed) {
        if (flags & 32) {
            bv_ws_feed_eof(s.ws);
        }
        bv_ws_free(s.ws);
    }
    if (s.closes != 1) {
        abort();
    }
    return 0;
}
