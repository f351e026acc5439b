/* fuzz_control.c: libFuzzer target for the acks-and-silences reader (lib/alert/control.h). The
 * first three bytes pick how the rest is cut into 1-3 chunks; the chunked feed must end in the
 * same state as one whole feed and, for short inputs, as a feed of one byte at a time. */
#include "alert/control.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
    bv_control *c;
    int records; /* what feed counted */
    int acks;    /* callbacks */
} run;

static void on_ack(void *arg, const char *id, const char *by, int64_t at_ms)
{
    run *r = arg;
    if (id == NULL || by == NULL || at_ms < 0) {
        abort();
    }
    r->acks++;
}

static void feed(run *r, const char *p, size_t n)
{
    int k = bv_control_feed(r->c, p, n);
    if (k < 0) {
        abort(); /* only when out of memory */
    }
    r->records += k;
}

static void start(run *r)
{
    memset(r, 0, sizeof *r);
    r->c = bv_control_open("/nonexistent/blikveld-fuzz", "ev", on_ack, r);
    if (r->c == NULL) {
        abort();
    }
}

/* The same answers from both, to every question the API can ask. */
static void same(const run *a, const run *b)
{
    static const char *const ids[] = {"", "a", "a1", "4f0c", "x", "id"};
    static const int64_t times[] = {-1, 0, 1, 1000, INT64_C(1777291331250), INT64_MAX};
    if (a->records != b->records || a->acks != b->acks) {
        abort();
    }
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *x = bv_control_acked(a->c, ids[i]), *y = bv_control_acked(b->c, ids[i]);
        if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0)) {
            abort();
        }
    }
    size_t na, nb;
    const bv_silence *sa = bv_control_silences(a->c, &na), *sb = bv_control_silences(b->c, &nb);
    if (na != nb) {
        abort();
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(sa[i].rule, sb[i].rule) != 0 || strcmp(sa[i].by, sb[i].by) != 0 ||
            strcmp(sa[i].reason, sb[i].reason) != 0 || sa[i].at_ms != sb[i].at_ms ||
            sa[i].until_ms != sb[i].until_ms || sa[i].at_ms < 0 || sa[i].until_ms < 0) {
            abort();
        }
        for (size_t t = 0; t < sizeof times / sizeof times[0]; t++) {
            const bv_silence *x = bv_control_silenced(a->c, sa[i].rule, times[t]);
            const bv_silence *y = bv_control_silenced(b->c, sa[i].rule, times[t]);
            if ((x == NULL) != (y == NULL) || (x && x->until_ms <= times[t])) {
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return 0;
    }
    size_t nchunks = data[0] % 3 + 1;
    const char *text = (const char *)data + 3;
    size_t len = size - 3;
    size_t cut1 = len ? data[1] * len / 255 : 0, cut2 = len ? data[2] * len / 255 : 0;
    if (cut1 > cut2) {
        size_t t = cut1;
        cut1 = cut2;
        cut2 = t;
    }
    run whole, parts;
    start(&whole);
    start(&parts);
    feed(&whole, text, len);
    if (nchunks == 1) {
        feed(&parts, text, len);
    } else if (nchunks == 2) {
        feed(&parts, text, cut1);
        feed(&parts, text + cut1, len - cut1);
    } else {
        feed(&parts, text, cut1);
        feed(&parts, text + cut1, cut2 - cut1);
        feed(&parts, text + cut2, len - cut2);
    }
    same(&whole, &parts);
    if (len <= 4096) {
        run bytes;
        start(&bytes);
        for (size_t i = 0; i < len; i++) {
            feed(&bytes, text + i, 1);
        }
        same(&whole, &bytes);
        bv_control_free(bytes.c);
    }
    if (whole.acks > whole.records) {
        abort();
    }
    bv_control_free(whole.c);
    bv_control_free(parts.c);
    return 0;
}
