/* ingest.c: live posts -> a bounded FIFO -> the pipeline, one at a time; see ingest.h. */
#include "source/ingest.h"
#include "core/err.h"
#include "core/log.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define YIELD_EVERY 256 /* posts between yields to the loop (sockets, timers) */

typedef struct waiter {
    void (*cb)(void *arg);
    void *arg;
    struct waiter *next;
} waiter;

struct bv_ingest {
    bv_pipeline *pl;
    bv_post *ring;
    size_t cap, head, n;
    int busy; /* the pipeline has a post it has not finished */
    int since_yield;
    struct event *next; /* push more, on a later turn (a zero timer: after sockets are polled) */
    waiter *waiters;
    int advance_pending; /* bv_ingest_advance asked to move the watermark to advance_to */
    int64_t advance_to;
    bv_ingest_stats st;
};

static void schedule(bv_ingest *in)
{
    if (!event_pending(in->next, EV_TIMEOUT, NULL)) {
        struct timeval zero = {0, 0};
        event_add(in->next, &zero);
    }
}

static void wake_waiters(bv_ingest *in)
{
    if (in->n || in->busy || in->advance_pending) {
        return;
    }
    waiter *w = in->waiters;
    in->waiters = NULL;
    while (w) {
        waiter *next = w->next;
        w->cb(w->arg);
        free(w);
        w = next;
    }
}

static void push_some(bv_ingest *in);

static void on_pipeline_done(void *arg)
{
    bv_ingest *in = arg;
    in->busy = 0;
    push_some(in);
}

/* Pushes queued posts until the pipeline is busy, the queue is empty, or it is time to yield. */
static void push_some(bv_ingest *in)
{
    while (!in->busy && in->n) {
        if (in->since_yield >= YIELD_EVERY) {
            in->since_yield = 0;
            schedule(in);
            return;
        }
        in->since_yield++;
        bv_post post = in->ring[in->head];
        memset(&in->ring[in->head], 0, sizeof in->ring[in->head]);
        in->head = (in->head + 1) % in->cap;
        in->n--;
        in->st.pushed++;
        in->busy = 1;
        int rc = bv_pipeline_push(in->pl, &post, on_pipeline_done, in);
        if (rc == 0) {
            return; /* on_pipeline_done goes on */
        }
        in->busy = 0;
        if (rc < 0) {
            in->st.errors++;
            bv_log(BV_LOG_ERROR, "ingest", "pipeline: %s", bv_strerror(rc));
        }
    }
    if (!in->busy && in->n == 0 && in->advance_pending) {
        /* the queued posts first: they were received before now */
        in->advance_pending = 0;
        in->st.advances++;
        in->busy = 1;
        int rc = bv_pipeline_advance(in->pl, in->advance_to, on_pipeline_done, in);
        if (rc == 0) {
            return;
        }
        in->busy = 0;
        if (rc < 0) {
            in->st.errors++;
            bv_log(BV_LOG_ERROR, "ingest", "pipeline: %s", bv_strerror(rc));
        }
    }
    wake_waiters(in);
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    push_some(arg);
}

bv_ingest *bv_ingest_new(struct event_base *base, bv_pipeline *pl, size_t max_queue)
{
    bv_ingest *in = calloc(1, sizeof *in);
    if (in == NULL) {
        return NULL;
    }
    in->pl = pl;
    in->cap = max_queue ? max_queue : 10000;
    in->ring = calloc(in->cap, sizeof *in->ring);
    in->next = evtimer_new(base, on_next, in);
    if (in->ring == NULL || in->next == NULL) {
        bv_ingest_free(in);
        return NULL;
    }
    return in;
}

void bv_ingest_free(bv_ingest *in)
{
    if (in == NULL) {
        return;
    }
    for (size_t i = 0; in->ring && i < in->n; i++) {
        bv_post_clear(&in->ring[(in->head + i) % in->cap]);
    }
    while (in->waiters) {
        waiter *next = in->waiters->next;
        free(in->waiters);
        in->waiters = next;
    }
    if (in->next) {
        event_free(in->next);
    }
    free(in->ring);
    free(in);
}

int bv_ingest_offer(bv_ingest *in, bv_post *post)
{
    in->st.offered++;
    if (in->n == in->cap) {
        in->st.dropped++;
        bv_post_clear(post);
        return BV_ELIMIT;
    }
    in->ring[(in->head + in->n) % in->cap] = *post;
    memset(post, 0, sizeof *post);
    in->n++;
    if (in->n > in->st.queued_max) {
        in->st.queued_max = in->n;
    }
    if (!in->busy) {
        schedule(in);
    }
    return BV_OK;
}

void bv_ingest_advance(bv_ingest *in, int64_t now_ms)
{
    if (!in->advance_pending || now_ms > in->advance_to) {
        in->advance_to = now_ms;
    }
    in->advance_pending = 1;
    if (!in->busy) {
        schedule(in);
    }
}

int bv_ingest_full(const bv_ingest *in, int paused)
{
    size_t high = in->cap / 2 < BV_INGEST_HIGH ? in->cap / 2 : BV_INGEST_HIGH;
    if (high == 0) {
        high = 1;
    }
    return paused ? in->n > high / 4 : in->n >= high;
}

size_t bv_ingest_room(const bv_ingest *in)
{
    return in->cap - in->n;
}

int bv_ingest_drain(bv_ingest *in, void (*cb)(void *arg), void *arg)
{
    waiter *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return BV_ENOMEM;
    }
    w->cb = cb;
    w->arg = arg;
    w->next = in->waiters;
    in->waiters = w;
    schedule(in); /* answers on the loop, even when there is nothing to wait for */
    return BV_OK;
}

void bv_ingest_stats_get(const bv_ingest *in, bv_ingest_stats *out)
{
    *out = in->st;
    out->queued = in->n;
}
