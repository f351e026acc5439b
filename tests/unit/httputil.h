/* httputil.h: a real HTTP server for unit tests, in the test's own event loop (libevent's evhttp
 * on 127.0.0.1, a free port), and a helper that streams a chunked body a few bytes per loop turn
 * (so clients see every boundary). Test code only. */
#ifndef BV_TEST_HTTPUTIL_H
#define BV_TEST_HTTPUTIL_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct tu_stream {
    struct evhttp_request *req;
    const char *data;
    size_t len, off, step;
    int end; /* end the reply after the data (else leave it open: a silent stream) */
    struct event *ev;
} tu_stream;

static inline void tu_stream_more(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tu_stream *s = arg;
    if (s->off >= s->len) {
        if (s->end) {
            evhttp_send_reply_end(s->req);
        }
        event_free(s->ev);
        free(s);
        return;
    }
    size_t n = s->len - s->off < s->step ? s->len - s->off : s->step;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, s->data + s->off, n);
    evhttp_send_reply_chunk(s->req, b);
    evbuffer_free(b);
    s->off += n;
    event_active(s->ev, EV_TIMEOUT, 0); /* the next bytes on a later turn */
}

/* Answers req with 200, the content type, and data (borrowed: it must outlive the stream) sent
 * step bytes per loop turn; then ends the reply, or, with end 0, leaves it open and silent. */
static inline void tu_stream_start(struct evhttp_request *req, const char *ctype, const char *data,
                                   size_t len, size_t step, int end)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_send_reply_start(req, 200, "OK");
    tu_stream *s = calloc(1, sizeof *s);
    s->req = req;
    s->data = data;
    s->len = len;
    s->step = step ? step : 1;
    s->end = end;
    s->ev = event_new(evhttp_connection_get_base(evhttp_request_get_connection(req)), -1, 0,
                      tu_stream_more, s);
    event_active(s->ev, EV_TIMEOUT, 0);
}

/* A server on 127.0.0.1 and a free port, every request to cb. NULL on failure. */
static inline struct evhttp *tu_http_server(struct event_base *base,
                                            void (*cb)(struct evhttp_request *, void *), void *arg,
                                            int *port)
{
    struct evhttp *http = evhttp_new(base);
    if (http == NULL) {
        return NULL;
    }
    evhttp_set_gencb(http, cb, arg);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (bs == NULL ||
        getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) != 0) {
        evhttp_free(http);
        return NULL;
    }
    *port = ntohs(sa.sin_port);
    return http;
}

#endif
