/* detect.c: threshold, spike, unique_authors and growth on bucket counts; see detect.h and the
 * README's "Detectors" section, which states the same definitions for the crisis team. */
#include "engine/detect.h"

#include <math.h>
#include <string.h>

static size_t window_buckets(const bv_detector_spec *d)
{
    return (size_t)(d->window_ms / d->bucket_ms);
}

static unsigned growth_periods(const bv_detector_spec *d)
{
    unsigned k = d->periods ? d->periods : 1;
    return k > BV_DET_MAX_PERIODS ? BV_DET_MAX_PERIODS : k;
}

size_t bv_det_span(const bv_detector_spec *d)
{
    size_t w = window_buckets(d);
    switch (d->type) {
    case BV_DET_SPIKE:
        return w + (size_t)(d->baseline_ms / d->bucket_ms);
    case BV_DET_GROWTH:
        return w * (growth_periods(d) + 1);
    default:
        return w;
    }
}

size_t bv_det_author_group(const bv_detector_spec *d)
{
    if (d->type == BV_DET_UNIQUE_AUTHORS || (d->type == BV_DET_GROWTH && d->by_authors)) {
        return window_buckets(d);
    }
    return 0;
}

static uint64_t sum(const uint64_t *c, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        s += c[i];
    }
    return s;
}

void bv_det_evaluate(const bv_detector_spec *d, const uint64_t *counts, const uint64_t *authors,
                     int warm, bv_det_eval *out)
{
    size_t span = bv_det_span(d);
    size_t w = window_buckets(d);
    memset(out, 0, sizeof *out);
    out->type = d->type;
    out->window_ms = d->window_ms;
    out->count = sum(counts + span - w, w);
    size_t ngroups = bv_det_author_group(d) ? span / bv_det_author_group(d) : 0;
    out->authors = authors && ngroups ? authors[ngroups - 1] : 0;
    out->warm = 1;
    switch (d->type) {
    case BV_DET_THRESHOLD:
        out->threshold = d->count;
        out->holds = out->count >= d->count;
        break;
    case BV_DET_UNIQUE_AUTHORS:
        out->threshold = d->count;
        out->holds = out->authors >= d->count;
        break;
    case BV_DET_SPIKE: {
        size_t nb = span - w;
        double periods = (double)d->baseline_ms / (double)d->window_ms;
        out->baseline = periods > 0 ? (double)sum(counts, nb) / periods : 0.0;
        double eff = out->baseline > d->min_baseline ? out->baseline : d->min_baseline;
        out->ratio = eff > 0 ? (double)out->count / eff : 0.0;
        out->factor = d->factor;
        out->threshold = d->min_count;
        out->warm = warm;
        out->holds =
            warm && out->count >= d->min_count && eff > 0 && (double)out->count >= d->factor * eff;
        break;
    }
    case BV_DET_GROWTH: {
        /* Robust to noise at small counts: the newest window must be at least f^k times the
         * window k periods before it (on average doubling within `doubling`), no window may
         * fall below the one before it, and the oldest must not be empty. */
        unsigned k = growth_periods(d);
        double f = pow(2.0, (double)d->window_ms / (double)d->doubling_ms);
        out->factor = f;
        out->threshold = d->min_count;
        out->nwindows = k + 1;
        out->by_authors = d->by_authors && authors;
        for (unsigned i = 0; i <= k; i++) {
            /* window i counts back from the newest: buckets [span-(i+1)w, span-iw) */
            out->windows[i] = out->by_authors ? authors[ngroups - 1 - i]
                                              : sum(counts + span - (size_t)(i + 1) * w, w);
        }
        uint64_t newest = out->windows[0], oldest = out->windows[k];
        int holds = newest >= d->min_count && oldest > 0 &&
                    (double)newest >= pow(f, (double)k) * (double)oldest;
        for (unsigned i = 0; i < k; i++) {
            if (out->windows[i] < out->windows[i + 1]) {
                holds = 0;
            }
        }
        out->ratio = oldest ? pow((double)newest / (double)oldest, 1.0 / (double)k) : 0.0;
        out->holds = holds;
        break;
    }
    default:
        break;
    }
}
