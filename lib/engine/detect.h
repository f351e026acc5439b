/* detect.h: the detectors' arithmetic. Pure functions: given a detector's spec and the bucket
 * counts of its span (oldest first), decide whether it holds and say why (the evidence an alert
 * carries). Windows are read by the pipeline; nothing here is stored or allocated. */
#ifndef BV_ENGINE_DETECT_H
#define BV_ENGINE_DETECT_H

#include "engine/rules.h"

#include <stddef.h>
#include <stdint.h>

#define BV_DET_MAX_PERIODS 12

typedef struct bv_det_eval {
    bv_det_type type;
    int holds;
    int warm; /* spike: a full baseline period had been observed */
    int64_t window_ms;
    uint64_t count;     /* the current window's count */
    uint64_t threshold; /* threshold, unique_authors: N; spike, growth: min_count */
    uint64_t authors;   /* distinct authors in the current window (when read) */
    double baseline;    /* spike: mean count per window over the baseline period */
    double ratio;       /* spike: count / max(baseline, min_baseline);
                           growth: the mean window-to-window ratio over the periods */
    double factor;      /* spike: k; growth: 2^(window/doubling), the mean ratio needed */
    int by_authors;     /* growth: windows count distinct authors, not posts */
    unsigned nwindows;  /* growth: counts of consecutive windows, newest first */
    uint64_t windows[BV_DET_MAX_PERIODS + 1];
} bv_det_eval;

/* How many buckets of the detector's bucket size it reads, ending with the current bucket. */
size_t bv_det_span(const bv_detector_spec *d);
/* 0 when it needs no distinct authors; else the buckets per author group it reads (its window):
 * unique_authors one group, growth by authors one group per window. */
size_t bv_det_author_group(const bv_detector_spec *d);

/* counts: bv_det_span(d) buckets, oldest first, the last one the current bucket. authors: NULL,
 * or distinct authors per group of bv_det_author_group(d) buckets, oldest first. warm: whether
 * observation started before the span (spike's baseline exists). */
void bv_det_evaluate(const bv_detector_spec *d, const uint64_t *counts, const uint64_t *authors,
                     int warm, bv_det_eval *out);

#endif
