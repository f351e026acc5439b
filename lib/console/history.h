/* history.h: per rule, the course of its first detector over event time: one point per step
 * (say 1 min), for the console's live chart and the drill report. Fed with the pipeline's signals
 * (every evaluation: on matching posts, the final ones of firing rules, and the periodic probes
 * of quiet rules). A point's value is the most the step saw, its level that of the step's latest
 * evaluation (by event time; of equal times the one that came last), holds whether the rule held
 * (bv_signal.holds) in any evaluation of the step.
 *   threshold:      value = count,   level = threshold
 *   unique_authors: value = authors, level = threshold
 *   spike:          value = count,   level = max(min_count, factor * max(baseline, min_baseline)),
 *                   NAN while the baseline is not warm
 *   growth:         value = the newest window's measure (posts, or authors with
 *                   `measure: authors`), level = min_count
 * A point is keyed by its step's start (at_ms floored to the step). Signals may come a little out
 * of order (late finals): one for an older step that is still kept updates (or adds) that step's
 * point; one older than kept is ignored. Steps without a signal have no point (gaps).
 *
 * Cost: bv_history_signal is O(1) and allocates nothing once a rule's ring has grown to what it
 * keeps (a point out of order costs a shift of the points after it, few in practice).
 * Not thread-safe: one loop feeds and reads it.
 *
 * Ownership: the history borrows the rule set given to new/reload (it must outlive the history
 * or the next successful reload); the points it hands out are copies. */
#ifndef BV_CONSOLE_HISTORY_H
#define BV_CONSOLE_HISTORY_H

#include "engine/detect.h"
#include "engine/pipeline.h"
#include "engine/rules.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bv_history bv_history;

typedef struct bv_history_point {
    int64_t t_ms; /* the step's start */
    double value;
    double level; /* NAN: none yet (spike not warm) */
    int holds;
} bv_history_point;

/* step_ms > 0: the resolution. keep_ms: how much time behind the newest point of a rule is kept
 * (points with t_ms >= newest - keep_ms); 0 keeps everything (a replay's report: one point per
 * step per rule that had a signal). NULL when out of memory, or step_ms <= 0 or keep_ms < 0. */
bv_history *bv_history_new(const bv_ruleset *rs, int64_t step_ms, int64_t keep_ms);
void bv_history_free(bv_history *h); /* NULL is fine */

/* Records one evaluation (borrowed for the call). Ignored: a rule index outside the set, a
 * signal whose spec is another rule (its id differs from the set's rule at that index), one
 * without evaluations, one older than kept. Never fails: when a ring cannot grow (out of
 * memory), the oldest point of the rule makes room. */
void bv_history_signal(bv_history *h, const bv_signal *s);

/* The points of rule i (index in the current rule set), oldest first: copies up to max of them
 * into out (the oldest ones) and returns how many there are (max 0, out NULL: to size). 0 for an
 * index outside the set. */
size_t bv_history_get(const bv_history *h, uint32_t rule, bv_history_point *out, size_t max);
/* The newest point of rule i into *out: 1, or 0 when it has none. */
int bv_history_last(const bv_history *h, uint32_t rule, bv_history_point *out);

/* A new rule set (borrowed as in new): rules are matched by id; those that are kept keep their
 * points, unless the type of their first detector changed (the points would measure something
 * else). BV_OK, or BV_ENOMEM with the history unchanged (still on the old set). */
int bv_history_reload(bv_history *h, const bv_ruleset *rs);

int64_t bv_history_step(const bv_history *h);
int64_t bv_history_keep(const bv_history *h);

/* The value and level of one evaluation of detector d (as above); d may be NULL (spike then
 * takes min_baseline as 0). */
void bv_history_measure(const bv_detector_spec *d, const bv_det_eval *e, double *value,
                        double *level);

#endif
