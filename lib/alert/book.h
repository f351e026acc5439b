/* book.h: the alert book owns each rule's episode: signals from the pipeline become a `firing`
 * alert (once per episode, claimed in the store so that one process of many sends it; a process
 * that loses the claim adopts the winner's id for the episode), then a
 * `resolved` one when, on a final bucket, none of its detectors holds any more (a rule that
 * fires when all its detectors hold stays firing while any of them does). A new episode fires no
 * sooner than the rule's cooldown after the previous one fired. Alert ids are derived from
 * namespace, rule and the bucket where the episode began.
 *
 * With an outbox callback, the claim's winner also writes the alert's outbox entry in the same
 * atomic step (the alert it emits then says in_outbox).
 *
 * Probe signals (pipeline.h) are for charts: the book ignores them.
 *
 * Ownership: the book borrows ruleset, store and pipeline; alerts passed to the emit callback are
 * borrowed for the call. */
#ifndef BV_ALERT_BOOK_H
#define BV_ALERT_BOOK_H

#include "alert/alert.h"
#include "engine/pipeline.h"
#include "engine/store.h"

typedef void bv_book_emit_cb(void *arg, const bv_alert *a);
/* With a shared store: fills the outbox entry the claim to send a writes in the same atomic
 * step (store.h bv_claim_outbox; its strings may point into scratch, which the book frees after
 * the claim is sent). 0, or -1 for none (the claim goes without an entry). */
typedef int bv_book_outbox_cb(void *arg, const bv_alert *a, bv_claim_outbox *ob, bv_buf *scratch);

typedef struct bv_book_opts {
    const char *event;    /* the event's name, shown in alerts */
    const char *ns;       /* namespace of ids: "live/EVENT" or "drill/EVENT" */
    const char *claim_ns; /* namespace of claims in the store (default ns): a drill run's own */
    int drill;            /* alerts are drills */
    bv_book_outbox_cb *outbox; /* NULL: claims write no outbox entry */
    void *outbox_arg;
} bv_book_opts;

typedef struct bv_book_stats {
    uint64_t fired, resolved, suppressed, lost_claims, claim_errors;
    uint64_t removed_firing; /* episodes dropped because a reload removed their firing rule */
    size_t firing_now;
} bv_book_stats;

typedef struct bv_book bv_book;

bv_book *bv_book_new(const bv_ruleset *rs, bv_store *store, const bv_book_opts *opts,
                     bv_book_emit_cb *emit, void *arg);
/* The pipeline whose signals this book receives (for bv_pipeline_set_firing). */
void bv_book_attach(bv_book *b, bv_pipeline *pl);
/* Sets (or clears) the outbox callback after the book is made (as in bv_book_opts). */
void bv_book_set_outbox(bv_book *b, bv_book_outbox_cb *cb, void *arg);
/* A bv_signal_cb: pass it with the book as arg to bv_pipeline_new. */
void bv_book_on_signal(void *book, const bv_signal *s);
/* Claims not yet answered (alerts waiting to be emitted). */
size_t bv_book_pending(const bv_book *b);
void bv_book_stats_get(const bv_book *b, bv_book_stats *out);

/* Hands the book a new rule set (borrowed from now on), and the attached pipeline too
 * (bv_pipeline_reload, which says what is kept): both change, or neither does. Episodes go by
 * rule id: a kept or changed rule keeps whether it fires, its alert id, when it last fired (the
 * cooldown, now the new rule's) and its claims under way; the pipeline then judges a changed
 * firing rule on its next final bucket and the book resolves it when it no longer holds. A
 * removed rule's episode is dropped: when it was firing, with a warning ("removed while
 * firing: no resolved notice will follow"), counted in removed_firing; its claims still under
 * way deliver their alert when they answer, and touch no episode.
 *
 * Returns BV_OK, or what bv_pipeline_reload returned (BV_EAGAIN while evaluations are under
 * way: try again on a later loop turn; BV_EINVAL with errstr for a rule the store cannot
 * follow), or BV_ENOMEM; nothing changes then. Reloading to the set the book has is a no-op.
 * The old set must stay alive: alerts still in flight borrow its rules (free old sets at exit).
 * out (may be NULL): counts by id, as bv_pipeline_reload gives them, with removed_firing as
 * the book saw it. */
int bv_book_reload(bv_book *b, const bv_ruleset *rs, bv_pipeline_reload_stats *out, char *errstr,
                   size_t errlen);
void bv_book_free(bv_book *b);

#endif
