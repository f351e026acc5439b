/* sink_stream.c: the stdout / file sink: one alert per line, JSON or text, flushed at once so a
 * reader of the pipe sees each alert when it happens. As a recipient target (`file: PATH`) it
 * appends every alert of a message as a JSON line; its done callback runs on the next loop turn,
 * as the sink interface asks. */
#include "alert/sink.h"
#include "core/err.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct stream_sink stream_sink;

/* A delivery whose outcome is known and waits for the next loop turn. */
typedef struct pending_done {
    stream_sink *ss;
    struct event *ev;
    bv_sink_done_cb *done;
    void *arg;
    bv_sink_result r;
    struct pending_done *next;
} pending_done;

struct stream_sink {
    bv_sink base;
    FILE *f;
    int owns;
    bv_sink_format format;
    bv_buf line;
    pending_done *pending;
};

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

static void unlink_pending(stream_sink *ss, pending_done *p)
{
    for (pending_done **pp = &ss->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    event_free(p->ev);
    free(p);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pending_done *p = arg;
    bv_sink_done_cb *done = p->done;
    void *darg = p->arg;
    bv_sink_result r = p->r;
    unlink_pending(p->ss, p);
    done(darg, r, r == BV_SINK_OK ? "written" : "write failed");
}

static int stream_deliver(bv_sink *s, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    stream_sink *ss = (stream_sink *)s;
    if (s->env == NULL || s->env->base == NULL) {
        return BV_EINVAL;
    }
    pending_done *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return BV_ENOMEM;
    }
    p->ev = event_new(s->env->base, -1, 0, on_done, p);
    if (p->ev == NULL) {
        free(p);
        return BV_ENOMEM;
    }
    p->ss = ss;
    p->done = done;
    p->arg = arg;
    p->r = BV_SINK_OK;
    if (m->kind != BV_MSG_HEARTBEAT) {
        for (size_t i = 0; i < m->nalerts && p->r == BV_SINK_OK; i++) {
            p->r = stream_emit(s, m->alerts[i]);
        }
    }
    p->next = ss->pending;
    ss->pending = p;
    event_active(p->ev, EV_TIMEOUT, 0);
    return BV_OK;
}

static void stream_free(bv_sink *s)
{
    stream_sink *ss = (stream_sink *)s;
    while (ss->pending) {
        unlink_pending(ss, ss->pending);
    }
    if (ss->owns && ss->f) {
        fclose(ss->f);
    }
    bv_buf_free(&ss->line);
    free(s->label);
    free(ss);
}

static const bv_sink_ops stream_ops = {"stream", stream_emit, stream_deliver, stream_free};

bv_sink *bv_sink_stream_new(FILE *f, int owns, bv_sink_format format, const bv_sink_env *env)
{
    stream_sink *ss = calloc(1, sizeof *ss);
    if (ss == NULL) {
        return NULL;
    }
    ss->base.ops = &stream_ops;
    ss->base.env = env;
    ss->f = f;
    ss->owns = owns;
    ss->format = format;
    return &ss->base;
}

bv_sink *bv_sink_file_new(const bv_sink_env *env, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "a");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    bv_sink *s = bv_sink_stream_new(f, 1, BV_FORMAT_JSON, env);
    size_t n = strlen(path) + 6;
    char *label = malloc(n);
    if (s == NULL || label == NULL) {
        snprintf(err, errlen, "out of memory");
        free(label);
        if (s) {
            bv_sink_free(s);
        } else {
            fclose(f);
        }
        return NULL;
    }
    snprintf(label, n, "file %s", path);
    s->label = label;
    return s;
}
