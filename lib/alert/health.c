/* health.c: flatline alerts for quiet live sources; see health.h. */
#include "alert/health.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct watch {
    bv_rule rule; /* id "flatline-SOURCE", title, severity warning */
    int64_t flatline_ms;
    int64_t quiet_since; /* the latest post, or the start */
    int firing;
    char id[33];
} watch;

struct bv_health {
    char *event, *ns;
    int drill;
    bv_book_emit_cb *emit;
    void *arg;
    watch *w;
    size_t n;
    size_t firing;
};

bv_health *bv_health_new(const char *event, const char *ns, int drill, bv_book_emit_cb *emit,
                         void *arg)
{
    bv_health *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return NULL;
    }
    h->event = strdup(event);
    h->ns = strdup(ns);
    h->drill = drill;
    h->emit = emit;
    h->arg = arg;
    if (h->event == NULL || h->ns == NULL) {
        bv_health_free(h);
        return NULL;
    }
    return h;
}

int bv_health_watch(bv_health *h, const char *source, int64_t flatline_ms, int64_t start_ms)
{
    watch *nw = realloc(h->w, (h->n + 1) * sizeof *nw);
    if (nw == NULL) {
        return BV_ENOMEM;
    }
    h->w = nw;
    watch *w = &h->w[h->n];
    memset(w, 0, sizeof *w);
    char d[32], id[128], title[256];
    snprintf(id, sizeof id, "flatline-%s", source);
    snprintf(title, sizeof title, "No posts from source %s for %s", source,
             bv_duration_format(flatline_ms, d));
    w->rule.id = strdup(id);
    w->rule.title = strdup(title);
    w->rule.severity = BV_SEV_WARNING;
    if (w->rule.id == NULL || w->rule.title == NULL) {
        free(w->rule.id);
        free(w->rule.title);
        return BV_ENOMEM;
    }
    w->flatline_ms = flatline_ms;
    w->quiet_since = start_ms;
    return (int)h->n++;
}

static void emit(bv_health *h, watch *w, bv_alert_state state, int64_t at_ms)
{
    bv_alert a;
    memset(&a, 0, sizeof a);
    memcpy(a.id, w->id, sizeof a.id);
    a.state = state;
    a.event = h->event;
    a.drill = h->drill;
    a.health = 1;
    a.rule = &w->rule;
    a.at_ms = at_ms;
    if (state == BV_ALERT_RESOLVED) {
        a.since_ms = w->quiet_since + w->flatline_ms;
    }
    h->emit(h->arg, &a);
}

void bv_health_check(bv_health *h, size_t i, int64_t last_post_ms, int64_t now_ms)
{
    if (i >= h->n) {
        return;
    }
    watch *w = &h->w[i];
    if (last_post_ms > w->quiet_since) {
        if (w->firing) {
            emit(h, w, BV_ALERT_RESOLVED, last_post_ms);
            w->firing = 0;
            h->firing--;
        }
        w->quiet_since = last_post_ms;
    }
    if (!w->firing && w->flatline_ms > 0 && now_ms - w->quiet_since >= w->flatline_ms) {
        w->firing = 1;
        h->firing++;
        bv_alert_make_id(h->ns, w->rule.id, w->quiet_since, w->id);
        emit(h, w, BV_ALERT_FIRING, w->quiet_since + w->flatline_ms);
    }
}

size_t bv_health_firing(const bv_health *h)
{
    return h->firing;
}

void bv_health_free(bv_health *h)
{
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->n; i++) {
        free(h->w[i].rule.id);
        free(h->w[i].rule.title);
    }
    free(h->w);
    free(h->event);
    free(h->ns);
    free(h);
}
