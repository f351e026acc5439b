/* curl_loop.c: curl multi on libevent; see curl_loop.h. The pattern is libcurl's documented
 * event-driven one: CURLMOPT_SOCKETFUNCTION tells which sockets to watch, CURLMOPT_TIMERFUNCTION
 * when to call back, and every event calls curl_multi_socket_action, never from inside a libcurl
 * callback. Finished transfers are collected with curl_multi_info_read after each action.
 * The loop keeps its transfer record in each easy handle's CURLOPT_PRIVATE. */
#include "net/curl_loop.h"
#include "core/err.h"

#include <event2/event.h>
#include <stdlib.h>

typedef struct transfer {
    bv_curl_loop *loop;
    CURL *easy;
    bv_curl_done_cb *done;
    void *arg;
    int gone; /* removed while libcurl was running: leave on the way out */
    struct transfer *next, *prev;
} transfer;

typedef struct sockev {
    bv_curl_loop *loop;
    struct event *ev;
} sockev;

struct bv_curl_loop {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    transfer *all;
    int running;
    int in_curl; /* inside curl_multi_socket_action */
    int dirty;   /* transfers marked gone wait for removal */
};

static void remove_now(bv_curl_loop *l, transfer *t)
{
    curl_multi_remove_handle(l->multi, t->easy);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        l->all = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
    free(t);
}

static void sweep(bv_curl_loop *l)
{
    if (!l->dirty) {
        return;
    }
    l->dirty = 0;
    transfer *t = l->all;
    while (t) {
        transfer *next = t->next;
        if (t->gone) {
            remove_now(l, t);
        }
        t = next;
    }
}

/* Finished transfers: out of the multi handle first, then their done callbacks. */
static void collect(bv_curl_loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        transfer *t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        if (t == NULL || t->gone) {
            continue;
        }
        bv_curl_done_cb *done = t->done;
        void *arg = t->arg;
        remove_now(l, t);
        if (done) {
            done(arg, easy, rc);
        }
    }
}

static void act(bv_curl_loop *l, curl_socket_t fd, int flags)
{
    l->in_curl = 1;
    curl_multi_socket_action(l->multi, fd, flags, &l->running);
    l->in_curl = 0;
    sweep(l);
    collect(l);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
    sockev *s = arg;
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    act(s->loop, (curl_socket_t)fd, flags);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    act(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    bv_curl_loop *l = userp;
    sockev *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            event_free(s->ev);
            free(s);
            curl_multi_assign(l->multi, fd, NULL);
        }
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            return -1;
        }
        s->loop = l;
        curl_multi_assign(l->multi, fd, s);
    } else {
        event_free(s->ev);
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    s->ev = event_new(l->base, fd, kind, on_socket, s);
    if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
        return -1;
    }
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    bv_curl_loop *l = userp;
    if (timeout_ms < 0) {
        event_del(l->timer);
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    return event_add(l->timer, &tv) == 0 ? 0 : -1;
}

bv_curl_loop *bv_curl_loop_new(struct event_base *base)
{
    bv_curl_loop *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return NULL;
    }
    l->base = base;
    l->multi = curl_multi_init();
    l->timer = evtimer_new(base, on_timer, l);
    if (l->multi == NULL || l->timer == NULL) {
        bv_curl_loop_free(l);
        return NULL;
    }
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    return l;
}

int bv_curl_loop_add(bv_curl_loop *l, CURL *easy, bv_curl_done_cb *done, void *arg)
{
    transfer *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    if (t != NULL) {
        return BV_EINVAL;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return BV_ENOMEM;
    }
    t->loop = l;
    t->easy = easy;
    t->done = done;
    t->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)t);
    if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(t);
        return BV_ERR;
    }
    t->next = l->all;
    if (l->all) {
        l->all->prev = t;
    }
    l->all = t;
    return BV_OK; /* libcurl asks for a timer at once: the transfer starts on the loop */
}

void bv_curl_loop_remove(bv_curl_loop *l, CURL *easy)
{
    transfer *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    if (t == NULL || t->gone) {
        return;
    }
    if (l->in_curl) {
        t->gone = 1; /* not from inside a libcurl callback: after the action returns */
        t->done = NULL;
        l->dirty = 1;
        return;
    }
    remove_now(l, t);
}

int bv_curl_loop_running(const bv_curl_loop *l)
{
    int n = 0;
    for (const transfer *t = l->all; t; t = t->next) {
        n += !t->gone;
    }
    return n;
}

void bv_curl_loop_free(bv_curl_loop *l)
{
    if (l == NULL) {
        return;
    }
    while (l->all) {
        remove_now(l, l->all);
    }
    if (l->multi) {
        curl_multi_cleanup(l->multi); /* closes its sockets: socket_cb frees their events */
    }
    if (l->timer) {
        event_free(l->timer);
    }
    free(l);
}
