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
 * Probes (opts.probe_ms > 0), for charts of a rule's window over time: when the watermark
 * passes a multiple B of probe_ms, each rule that is not firing is evaluated once at B - 1, as
 * a live evaluation would be, and the signal says probe (firing rules have their final signals
 * instead). Every bucket before B is final by then, so a probe's numbers depend on the posts
 * only, not on when they arrived: a replay that moves the watermark past B gives the same probe
 * as the live run. A rule is probed at the multiples of probe_ms that are also boundaries of
 * all its buckets (with probe_ms a multiple of its bucket sizes, the usual case, at each one:
 * with 1m buckets and probe_ms 5m every 5 minutes; with a 5m bucket and probe_ms 1m, every 5
 * minutes). No boundary before the first post is probed, and when the watermark jumps past
 * several boundaries at once (a quiet hour in a replay, a live feed that stalled) only the last
 * one is: one probe per rule per move of the watermark, at most.
 *
 * Rule sets change live (bv_pipeline_reload): rules are paired by id, and a rule keeps its
 * window state (the counts in the store, its samples and places, whether it is firing) across
 * the change, also when its definition changed (bv_rule.fingerprint tells which did).
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
    int probe;          /* a probe (see above): for charts, never fires or resolves anything;
                           final is 0, and no samples or places are picked */
    int64_t at_ms;      /* live: the post's event time; final, probe: the boundary (the window
                           read ends there) */
    int64_t episode_ms; /* start of the smallest bucket holding at_ms */
    const bv_det_eval *evals;
    size_t nevals;
    const bv_sample *const *samples; /* up to BV_SAMPLES_MAX, distinct authors, newest first;
                                        only where an alert can follow: a live signal that
                                        holds for a rule not firing, or a final one that holds
                                        no detector for a firing rule (bv_pipeline_set_firing;
                                        never for probes) */
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
    int64_t probe_ms;      /* > 0: probe the rules that are not firing at each multiple of
                              probe_ms the watermark passes (see above); 0: no probes (default) */
} bv_pipeline_opts;

typedef struct bv_pipeline_stats {
    uint64_t posts[BV_PLATFORM__COUNT]; /* posts (creations) by platform */
    uint64_t deletes[BV_PLATFORM__COUNT];
    uint64_t late;
    uint64_t clamped;                       /* created after received: clamped */
    uint64_t duplicates;                    /* matching posts seen before: counted once */
    uint64_t probes;                        /* probe signals delivered */
    const uint64_t *matches;                /* per rule of the current set, bv_rules_count
                                               entries; valid until the next reload */
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
/* The posts of every platform together. */
static inline uint64_t bv_pipeline_posts(const bv_pipeline_stats *ps)
{
    uint64_t n = 0;
    for (int i = 0; i < BV_PLATFORM__COUNT; i++) {
        n += ps->posts[i];
    }
    return n;
}

/* What a reload did, by rule id: kept (same id, same fingerprint), changed (same id, another
 * fingerprint), added, removed; removed_firing: removed rules that were firing (their episode
 * ends without a resolved notice). */
typedef struct bv_pipeline_reload_stats {
    size_t kept, changed, added, removed, removed_firing;
} bv_pipeline_reload_stats;

/* Hands the pipeline a new rule set (borrowed from now on). Rules are paired by id:
 *  - kept and changed rules keep their window state: their series in the store (keyed
 *    "NS/RULE-ID/BUCKET-MS", so the counts belong to the rule id: a changed rule whose
 *    detectors keep a bucket size reads the same counts, a raised threshold is judged against
 *    the posts already counted), recent samples and places, the matches count, whether they are
 *    firing and the next final boundary: the alert book decides, on the next final bucket,
 *    whether a changed rule still fires. A bucket size that is new to a rule starts empty.
 *  - added rules start empty (unless the store still holds counts under their id: a rule
 *    removed and added back finds its old counts);
 *  - removed rules are dropped (their series stay in the store, unread).
 * The watermark, first and latest event times, the set of seen post ids and the stats stay. The
 * places of samples stay when both sets find places with the same gazetteer (else they start
 * over). The seen set keeps the horizon it was made with: a window longer than any before may
 * count a duplicate older than that horizon twice.
 *
 * Only between evaluations: with any outstanding (after push/advance/finish returned 0 and
 * before its done ran) returns BV_EAGAIN and changes nothing; the caller tries again later:
 * from bv_pipeline_when_idle (below), the done callback, or a timer. A store series cannot grow
 * once registered: a rule whose window on a bucket size it already counts in needs more buckets
 * kept, or distinct authors where none were counted, is refused with BV_EINVAL and errstr
 * naming it (give the rule a new id to start it afresh, or restart). On any failure nothing
 * changes. With a book attached, reload through bv_book_reload, which calls this, so the two
 * change together.
 *
 * The old set is no longer used by the pipeline, but alerts and claims still under way borrow
 * its rules (bv_alert.rule): keep every set alive until the pipeline and book are freed (free
 * old sets at exit only). Reloading to the set the pipeline has is a no-op (all rules kept).
 * out may be NULL. */
int bv_pipeline_reload(bv_pipeline *pl, const bv_ruleset *rs, bv_pipeline_reload_stats *out,
                       char *errstr, size_t errlen);
/* cb(arg) once, when no evaluation is outstanding: at once (inside this call) when none is,
 * else when the last one finishes, before that push's done callback runs (so the post after it
 * already meets what cb did). For a reload: bv_pipeline_reload / bv_book_reload from cb do not
 * return BV_EAGAIN. cb must not push, advance or finish. Callbacks still waiting when the
 * pipeline is freed are dropped, not called. BV_OK or BV_ENOMEM (cb will not run). */
int bv_pipeline_when_idle(bv_pipeline *pl, void (*cb)(void *arg), void *arg);
/* The rule set the pipeline works with (borrowed). */
const bv_ruleset *bv_pipeline_rules(const bv_pipeline *pl);

#endif
