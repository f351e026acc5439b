/* fuzz_sse.c: libFuzzer target for the SSE parser (lib/net/sse.h). The first byte picks the chunk
 * size and the bounds; the rest is fed whole and in chunks, and both feeds must dispatch the same
 * events (a digest of type, data and id), with every event's strings within the bounds. */
#include "net/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct digest {
    uint64_t sum, n;
    size_t max_event;
} digest;

static uint64_t mix(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)p[i]) * 0x100000001B3ULL;
    }
    return h * 31 + n;
}

static int on_event(void *arg, const bv_sse_event *ev)
{
    digest *d = arg;
    if (ev->type_len == 0 || ev->data_len + 1 > d->max_event || ev->type == NULL ||
        ev->data == NULL || ev->id == NULL) {
        abort();
    }
    d->sum =
        mix(mix(mix(d->sum, ev->type, ev->type_len), ev->data, ev->data_len), ev->id, ev->id_len);
    d->n++;
    return 0;
}

static void run(const uint8_t *data, size_t size, size_t chunk, size_t max_line, size_t max_event,
                digest *out)
{
    bv_sse *p = bv_sse_new(max_line, max_event);
    if (p == NULL) {
        abort();
    }
    out->max_event = max_event;
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (bv_sse_feed(p, data + off, n, on_event, out) != 0) {
            abort();
        }
    }
    bv_sse_reset(p);
    size_t idlen = 0;
    const char *id = bv_sse_last_id(p, &idlen);
    out->sum = mix(out->sum, id, idlen) + (uint64_t)bv_sse_retry_ms(p);
    bv_sse_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t chunk = (size_t)(data[0] & 0x0F) + 1;
    size_t max_line = (data[0] & 0x10) ? 16 : 4096;
    size_t max_event = (data[0] & 0x20) ? 24 : 8192;
    digest whole = {0}, pieces = {0};
    run(data + 1, size - 1, size, max_line, max_event, &whole);
    run(data + 1, size - 1, chunk, max_line, max_event, &pieces);
    if (whole.sum != pieces.sum || whole.n != pieces.n) {
        abort();
    }
    return 0;
}
