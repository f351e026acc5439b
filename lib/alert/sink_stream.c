/* sink_stream.c: the stdout / file sink: one alert per line, JSON or text, flushed at once so a
 * reader of the pipe sees each alert when it happens. */
#include "alert/sink.h"

#include <stdlib.h>

typedef struct stream_sink {
    bv_sink base;
    FILE *f;
    int owns;
    bv_sink_format format;
    bv_buf line;
} stream_sink;

static bv_sink_result stream_emit(bv_sink *s, const bv_alert *a)
{
    stream_sink *ss = (stream_sink *)s;
    bv_buf_reset(&ss->line);
    int rc = ss->format == BV_FORMAT_TEXT ? bv_alert_format_text(a, &ss->line)
                                          : bv_alert_format_json(a, &ss->line);
    if (rc != 0 || bv_buf_putc(&ss->line, '\n') != 0) {
        return BV_SINK_FAIL;
    }
    if (fwrite(ss->line.p, 1, ss->line.len, ss->f) != ss->line.len || fflush(ss->f) != 0) {
        return BV_SINK_FAIL;
    }
    return BV_SINK_OK;
}

static void stream_free(bv_sink *s)
{
    stream_sink *ss = (stream_sink *)s;
    if (ss->owns && ss->f) {
        fclose(ss->f);
    }
    bv_buf_free(&ss->line);
    free(ss);
}

static const bv_sink_ops stream_ops = {"stream", stream_emit, stream_free};

bv_sink *bv_sink_stream_new(FILE *f, int owns, bv_sink_format format)
{
    stream_sink *ss = calloc(1, sizeof *ss);
    if (ss == NULL) {
        return NULL;
    }
    ss->base.ops = &stream_ops;
    ss->f = f;
    ss->owns = owns;
    ss->format = format;
    return &ss->base;
}
