/* sink.h: where alerts go. A sink is a const table of callbacks plus an instance (STYLE.md 1);
 * emit answers OK, RETRY or FAIL. Sinks in this file: a stream (stdout or a file) printing JSON
 * lines or readable text. Ownership: a sink owns its instance; alerts are borrowed. */
#ifndef BV_ALERT_SINK_H
#define BV_ALERT_SINK_H

#include "alert/alert.h"

#include <stdint.h>
#include <stdio.h>

typedef enum bv_sink_result { BV_SINK_OK = 0, BV_SINK_RETRY = 1, BV_SINK_FAIL = 2 } bv_sink_result;

typedef struct bv_sink bv_sink;

typedef struct bv_sink_ops {
    const char *name;
    bv_sink_result (*emit)(bv_sink *s, const bv_alert *a);
    void (*free)(bv_sink *s);
} bv_sink_ops;

struct bv_sink {
    const bv_sink_ops *ops;
    uint64_t sent, failed;
};

typedef enum bv_sink_format { BV_FORMAT_JSON = 0, BV_FORMAT_TEXT } bv_sink_format;

/* A stream sink. owns: fclose f on free. Each alert is written as one line and flushed. */
bv_sink *bv_sink_stream_new(FILE *f, int owns, bv_sink_format format);

static inline bv_sink_result bv_sink_emit(bv_sink *s, const bv_alert *a)
{
    bv_sink_result r = s->ops->emit(s, a);
    if (r == BV_SINK_OK) {
        s->sent++;
    } else {
        s->failed++;
    }
    return r;
}
static inline void bv_sink_free(bv_sink *s)
{
    if (s) {
        s->ops->free(s);
    }
}

#endif
