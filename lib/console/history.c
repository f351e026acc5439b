/* history.c: the per-rule course of the first detector; see history.h. Each rule has a ring of
 * points sorted by step, oldest first: a signal for the newest step updates the last point, one
 * for a newer step appends (evicting what fell out of keep_ms at the front), one for an older
 * step is found by binary search and updated, or inserted by shifting the few points after it.
 * Rings grow by doubling and never shrink; the history owns them. */
#include "console/history.h"
#include "core/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RING_MIN 16

typedef struct hpoint {
    int64_t t_ms;    /* step start */
    int64_t last_at; /* event time of the evaluation the level is from */
    double value;
    double level;
    int holds;
} hpoint;

typedef struct ring {
    hpoint *v;
    size_t cap; /* a power of two (or 0) */
    size_t head;
    size_t n;
} ring;

struct bv_history {
    const bv_ruleset *rs;
    size_t nrules;
    ring *rings; /* nrules of them */
    int64_t step_ms;
    int64_t keep_ms; /* 0: everything */
};

static hpoint *at(const ring *r, size_t i)
{
    return &r->v[(r->head + i) & (r->cap - 1)];
}

static void ring_free(ring *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Doubles the ring, the points moved to the front in order. */
static int ring_grow(ring *r)
{
    size_t cap = r->cap ? r->cap * 2 : RING_MIN;
    if (cap == 0 || cap > ((size_t)-1) / sizeof(hpoint)) {
        return BV_ENOMEM;
    }
    hpoint *v = malloc(cap * sizeof *v);
    if (v == NULL) {
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < r->n; i++) {
        v[i] = *at(r, i);
    }
    free(r->v);
    r->v = v;
    r->cap = cap;
    r->head = 0;
    return BV_OK;
}

/* Whether step t lies more than keep_ms behind newest (t <= newest; exact for any int64s). */
static int too_old(const bv_history *h, int64_t newest, int64_t t)
{
    return h->keep_ms > 0 && t < newest && (uint64_t)newest - (uint64_t)t > (uint64_t)h->keep_ms;
}

static void point_init(hpoint *p, int64_t t, int64_t at_ms, double value, double level, int holds)
{
    p->t_ms = t;
    p->last_at = at_ms;
    p->value = value;
    p->level = level;
    p->holds = holds != 0;
}

static void point_update(hpoint *p, int64_t at_ms, double value, double level, int holds)
{
    if (!(value <= p->value)) {
        p->value = value;
    }
    if (at_ms >= p->last_at) {
        p->last_at = at_ms;
        p->level = level;
    }
    p->holds |= holds != 0;
}

/* Room for one more point: grows, or when that fails drops the oldest. 0 when there is no room
 * (nothing to drop). */
static int ring_room(ring *r)
{
    if (r->n < r->cap || ring_grow(r) == BV_OK) {
        return 1;
    }
    if (r->n == 0) {
        return 0;
    }
    r->head = (r->head + 1) & (r->cap - 1);
    r->n--;
    return 1;
}

/* The floor of at_ms to the step; 0 when that is not representable. */
static int step_floor(int64_t step, int64_t at_ms, int64_t *t)
{
    if (at_ms < INT64_MIN + step) {
        return 0;
    }
    int64_t q = at_ms / step;
    if (at_ms % step != 0 && at_ms < 0) {
        q--;
    }
    *t = q * step;
    return 1;
}

static int same_id(const bv_rule *a, const bv_rule *b)
{
    return a == b || (a->id && b->id && strcmp(a->id, b->id) == 0);
}

void bv_history_measure(const bv_detector_spec *d, const bv_det_eval *e, double *value,
                        double *level)
{
    double v = (double)e->count, l = NAN;
    switch (e->type) {
    case BV_DET_THRESHOLD:
        l = (double)e->threshold;
        break;
    case BV_DET_UNIQUE_AUTHORS:
        v = (double)e->authors;
        l = (double)e->threshold;
        break;
    case BV_DET_SPIKE:
        if (e->warm) {
            double min_baseline = d ? d->min_baseline : 0.0;
            double base = e->baseline > min_baseline ? e->baseline : min_baseline;
            double need = e->factor * base;
            l = need > (double)e->threshold ? need : (double)e->threshold;
        }
        break;
    case BV_DET_GROWTH:
        if (e->nwindows > 0 && e->nwindows <= BV_DET_MAX_PERIODS + 1) {
            v = (double)e->windows[0];
        }
        l = (double)e->threshold;
        break;
    default:
        break;
    }
    *value = v;
    *level = l;
}

bv_history *bv_history_new(const bv_ruleset *rs, int64_t step_ms, int64_t keep_ms)
{
    if (step_ms <= 0 || keep_ms < 0) {
        return NULL;
    }
    bv_history *h = calloc(1, sizeof *h);
    if (h == NULL) {
        goto fail;
    }
    h->rs = rs;
    h->nrules = rs ? bv_rules_count(rs) : 0;
    h->step_ms = step_ms;
    h->keep_ms = keep_ms;
    h->rings = calloc(h->nrules ? h->nrules : 1, sizeof *h->rings);
    if (h->rings == NULL) {
        goto fail;
    }
    return h;
fail:
    bv_history_free(h);
    return NULL;
}

void bv_history_free(bv_history *h)
{
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; h->rings && i < h->nrules; i++) {
        ring_free(&h->rings[i]);
    }
    free(h->rings);
    free(h);
}

int64_t bv_history_step(const bv_history *h)
{
    return h->step_ms;
}

int64_t bv_history_keep(const bv_history *h)
{
    return h->keep_ms;
}

/* The common cases first: the newest step again, or a newer one. */
void bv_history_signal(bv_history *h, const bv_signal *s)
{
    if (s->rule >= h->nrules || s->evals == NULL || s->nevals == 0) {
        return;
    }
    const bv_rule *rule = bv_rules_get(h->rs, s->rule);
    if (s->spec && !same_id(s->spec, rule)) {
        return;
    }
    int64_t t;
    if (!step_floor(h->step_ms, s->at_ms, &t)) {
        return;
    }
    double value, level;
    bv_history_measure(rule->ndetectors ? &rule->detectors[0] : NULL, &s->evals[0], &value, &level);
    ring *r = &h->rings[s->rule];
    hpoint *last = r->n ? at(r, r->n - 1) : NULL;
    if (last && t == last->t_ms) {
        point_update(last, s->at_ms, value, level, s->holds);
        return;
    }
    if (last == NULL || t > last->t_ms) {
        while (r->n > 0 && too_old(h, t, at(r, 0)->t_ms)) {
            r->head = (r->head + 1) & (r->cap - 1);
            r->n--;
        }
        if (!ring_room(r)) {
            return;
        }
        point_init(at(r, r->n), t, s->at_ms, value, level, s->holds);
        r->n++;
        return;
    }
    /* an older step: find it, or the first point after it */
    if (too_old(h, last->t_ms, t)) {
        return;
    }
    size_t lo = 0, hi = r->n - 1; /* the point at hi is after t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(r, mid)->t_ms < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (at(r, lo)->t_ms == t) {
        point_update(at(r, lo), s->at_ms, value, level, s->holds);
        return;
    }
    size_t n0 = r->n;
    if (!ring_room(r)) {
        return;
    }
    if (r->n < n0) { /* the oldest made room */
        if (lo == 0) {
            return; /* this one would be the oldest: it goes too */
        }
        lo--;
    }
    for (size_t i = r->n; i > lo; i--) {
        *at(r, i) = *at(r, i - 1);
    }
    point_init(at(r, lo), t, s->at_ms, value, level, s->holds);
    r->n++;
}

static void copy_point(const hpoint *p, bv_history_point *out)
{
    out->t_ms = p->t_ms;
    out->value = p->value;
    out->level = p->level;
    out->holds = p->holds;
}

size_t bv_history_get(const bv_history *h, uint32_t rule, bv_history_point *out, size_t max)
{
    if (rule >= h->nrules) {
        return 0;
    }
    const ring *r = &h->rings[rule];
    for (size_t i = 0; out && i < r->n && i < max; i++) {
        copy_point(at(r, i), &out[i]);
    }
    return r->n;
}

int bv_history_last(const bv_history *h, uint32_t rule, bv_history_point *out)
{
    if (rule >= h->nrules || h->rings[rule].n == 0) {
        return 0;
    }
    const ring *r = &h->rings[rule];
    copy_point(at(r, r->n - 1), out);
    return 1;
}

/* Whether an old rule's points still mean the same for its new version. */
static int same_measure(const bv_rule *a, const bv_rule *b)
{
    if (a->ndetectors == 0 || b->ndetectors == 0) {
        return a->ndetectors == b->ndetectors;
    }
    const bv_detector_spec *x = &a->detectors[0], *y = &b->detectors[0];
    return x->type == y->type && (x->type != BV_DET_GROWTH || x->by_authors == y->by_authors);
}

int bv_history_reload(bv_history *h, const bv_ruleset *rs)
{
    size_t n = rs ? bv_rules_count(rs) : 0;
    ring *rings = calloc(n ? n : 1, sizeof *rings);
    if (rings == NULL) {
        return BV_ENOMEM;
    }
    for (size_t j = 0; j < n; j++) {
        const bv_rule *nr = bv_rules_get(rs, j);
        for (size_t i = 0; i < h->nrules; i++) {
            const bv_rule *orule = bv_rules_get(h->rs, i);
            if (h->rings[i].v && same_id(orule, nr)) {
                if (same_measure(orule, nr)) {
                    rings[j] = h->rings[i];
                    memset(&h->rings[i], 0, sizeof h->rings[i]);
                }
                break;
            }
        }
    }
    for (size_t i = 0; i < h->nrules; i++) {
        ring_free(&h->rings[i]);
    }
    free(h->rings);
    h->rings = rings;
    h->rs = rs;
    h->nrules = n;
    return BV_OK;
}
