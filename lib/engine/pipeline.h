/* pipeline.h: what happens to one post: event time and the watermark, normalisation, one matching
 * scan, counting into the window store, and the detectors' verdicts, handed on as signals.
 * A signal says, for one rule at one event time, whether its detectors hold, with the evidence;
 * the alert book (lib/alert/book.h) turns signals into alerts.
 *
 * A matching post whose (platform, id) was seen within the longest span any detector reads is a
 * duplicate (X repeats posts, a status arrives on several streams, recordings overlap): it is
 * counted as such and nothing else.
 *
 * Time: the watermark is the latest event time seen minus the lateness. A post older than the
 * watermark is late: counted, matched, but not added to windows (its buckets are final). Live
 * signals come on the post that matched, at its event time; final signals come for rules that
 * are firing, once per bucket boundary the watermark passes, and may resolve them.
 *
 * Ownership: the pipeline borrows the ruleset and store (they outlive it) and owns
 * the posts pushed into it. Signals and everything in them are borrowed for the callback. */
#ifndef BV_ENGINE_PIPELINE_H
#define BV_ENGINE_PIPELINE_H

#include "core/clock.h"
#include "engine/detect.h"
#include "engine/places.h"
#include "engine/post.h"
#include "engine/rules.h"
#include "engine/store.h"

#include <stddef.h>
#include <stdint.h>

#define BV_SAMPLES_MAX 3
#define BV_EXCERPT_MAX 200 /* bytes of text in a sample's excerpt */

typedef struct bv_sample {
    bv_platform platform;
    int64_t created_ms;
    uint8_t author[BV_PSEUDO_LEN];
    char *id;      /* owned by the pipeline */
    char *url;     /* may be NULL */
    char *excerpt; /* whitespace-collapsed start of the text */
} bv_sample;

#define BV_SIGNAL_PLACES_MAX 10 /* places listed per signal */

/* A place the window's matching posts name. */
typedef struct bv_place_count {
    const char *name;          /* as the gazetteer writes it; borrowed from it */
    uint32_t count;            /* matching posts in the window that name it */
    const bv_place *place;     /* the gazetteer's entry (homes: where places of that name lie) */
    const bv_place_home *home; /* where it lies: the one home, or the one the window's other
                                  names (a municipality, a province) point at; NULL when
                                  ambiguous or a province */
} bv_place_count;

typedef struct bv_signal {
    uint32_t rule; /* index in the ruleset */
    const bv_rule *spec;
    int holds;          /* the detectors, combined by the rule's `require` */
    int any_holds;      /* at least one detector holds (a firing rule stays firing) */
    int final;          /* evaluated on final buckets (can resolve); else on a post */
    int64_t at_ms;      /* live: the post's event time; final: the bucket boundary */
    int64_t episode_ms; /* start of the smallest bucket holding at_ms */
    const bv_det_eval *evals;
    size_t nevals;
    const bv_sample *const *samples; /* up to BV_SAMPLES_MAX, distinct authors, newest first;
                                        only when holds, or final and !any_holds */
    size_t nsamples;
    const bv_place_count *places; /* the places the window's matching posts name, most named
                                     first (of the last posts kept per rule); with samples */
    size_t nplaces;
} bv_signal;

typedef void bv_signal_cb(void *arg, const bv_signal *s);
typedef void bv_done_cb(void *arg);

typedef struct bv_pipeline_opts {
    int64_t lateness_ms;   /* default 2 min */
    const char *ns;        /* key namespace in the store: "live/EVENT" or "drill/EVENT" */
    const bv_clock *clock; /* borrowed, may be NULL: a post without a receive time cannot
                              have been received after now, so it is clamped to now */
    int receive_watermark; /* the watermark also follows receive times: before a post counts,
                              it moves to post->received_ms - lateness (when that is later),
                              as bv_pipeline_advance does live. A recording keeps receive
                              times, so its replay sees the same watermark as the live run. */
} bv_pipeline_opts;

typedef struct bv_pipeline_stats {
    uint64_t posts[BV_PLATFORM__COUNT]; /* posts (creations) by platform */
    uint64_t deletes[BV_PLATFORM__COUNT];
    uint64_t late;
    uint64_t clamped;                       /* created after received: clamped */
    uint64_t duplicates;                    /* matching posts seen before: counted once */
    const uint64_t *matches;                /* per rule, bv_rules_count entries */
    int64_t first_ms, max_ms, watermark_ms; /* INT64_MIN before the first post */
} bv_pipeline_stats;

typedef struct bv_pipeline bv_pipeline;

bv_pipeline *bv_pipeline_new(const bv_ruleset *rs, bv_store *store, const bv_pipeline_opts *opts,
                             bv_signal_cb *cb, void *arg, char *errstr, size_t errlen);
void bv_pipeline_free(bv_pipeline *pl);

/* Takes ownership of *post (it is cleared). Returns 1 when the post was handled at once, 0 when
 * store answers are pending (then done(arg) runs exactly once, on a later loop turn; push no
 * other post before it), or a negative bv_err. */
int bv_pipeline_push(bv_pipeline *pl, bv_post *post, bv_done_cb *done, void *arg);

/* End of input: every bucket up to the newest post's is final and evaluated. Same return
 * contract as bv_pipeline_push. */
int bv_pipeline_finish(bv_pipeline *pl, bv_done_cb *done, void *arg);

/* Live: the watermark follows the wall clock too, so a quiet feed does not hold windows open:
 * it moves to now_ms - lateness when that is later (and there was a post before), and the final
 * evaluations that became due start. Same return contract as bv_pipeline_push. */
int bv_pipeline_advance(bv_pipeline *pl, int64_t now_ms, bv_done_cb *done, void *arg);

/* The alert book tells the pipeline which rules are firing: those get final evaluations from the
 * end of the bucket holding at_ms on, and no live ones. */
void bv_pipeline_set_firing(bv_pipeline *pl, uint32_t rule, int firing, int64_t at_ms);

void bv_pipeline_stats_get(const bv_pipeline *pl, bv_pipeline_stats *out);

#endif
