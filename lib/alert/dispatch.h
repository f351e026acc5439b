/* dispatch.h: the alerter. Alerts from the book come in; messages go out to the recipient
 * groups' targets through their sinks, on the event loop, and nothing gets lost on the way:
 *
 * - Routing: a firing alert goes to the groups its rule names (`recipients:`), to each target
 *   whose min_severity the alert's severity reaches, and to Alertmanager when it is configured;
 *   a resolved notice goes to the targets that got the firing alert. Health alerts (a quiet
 *   source) go to the watchdog's groups.
 * - The outbox first: the alert is written to the durable outbox, with its targets, before any
 *   delivery is tried (alert/outbox.h). Each target's outcome is written there after.
 * - Grouping (per recipient group): the first alert goes out at once and opens the group for
 *   `wait`; alerts that come meanwhile are sent together, one message per target, when it ends,
 *   and then every `interval` while more keep coming; a group with nothing new closes.
 *   Alertmanager does its own grouping and gets every alert at once.
 * - Retries: a delivery that answers RETRY is tried again after retry_min, doubling up to
 *   retry_max, each wait drawn between half and all of that (jitter), until it succeeds or its
 *   deadline passes; then it is recorded as failed, logged and audited. FAIL is final at once.
 * - Escalation: a firing alert of at least the step's severity that is still firing (and, with
 *   `unacknowledged`, not acknowledged) `after` its firing goes to the step's groups as an
 *   escalation (key "ID/escalated", "ID/escalated-2", ...), through the outbox too.
 * - Silences: a firing alert of a silenced rule is recorded in the outbox with no target and
 *   audited as "silenced"; its resolved notice goes nowhere either.
 * - Watchdog: every `every`, a heartbeat to the watchdog's groups and to Alertmanager (the
 *   always-firing Watchdog alert, with the alerts firing now repeated): receivers that miss it
 *   know blikveld stopped. Heartbeats are not kept in the outbox nor retried. Without a
 *   watchdog, Alertmanager still gets one every minute (or it would resolve the alerts).
 * - On start, deliveries still pending in the outbox are resumed (past their deadline: failed)
 *   and escalations of unresolved alerts are scheduled again.
 * - With a shared Redis store the outbox lives in Redis (shared.h): the book's claim
 *   writes the entry (bv_dispatch_prepare routes it), outcomes go there, and entries a dead
 *   process left are taken over when found (bv_dispatch_found).
 *
 * Target ids are "GROUP/INDEX:KIND" ("police/0:webhook"), and "alertmanager".
 *
 * Ownership: the dispatcher owns the sinks given to it; it borrows the outbox, control, clock
 * and event base, which must outlive it. Alerts passed in are borrowed for the call. */
#ifndef BV_ALERT_DISPATCH_H
#define BV_ALERT_DISPATCH_H

#include "alert/alert.h"
#include "alert/control.h"
#include "alert/outbox.h"
#include "alert/sink.h"
#include "core/buf.h"
#include "core/clock.h"
#include "engine/store.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct bv_escalation {
    int64_t after_ms;
    bv_severity severity; /* alerts of at least this severity */
    int unacknowledged;   /* only those nobody acknowledged */
    const char *const *notify;
    size_t nnotify;
} bv_escalation;

typedef struct bv_dispatch_opts {
    const char *event;
    int drill;                 /* a drill replay: no watchdog, no escalation */
    const char *audit_dir;     /* NULL: no audit log */
    bv_outbox *outbox;         /* required */
    bv_control *control;       /* NULL: no acks or silences */
    int64_t group_wait_ms;     /* default 30 s */
    int64_t group_interval_ms; /* default 5 min */
    int64_t retry_min_ms;      /* default 1 s */
    int64_t retry_max_ms;      /* default 5 min */
    int64_t deadline_ms;       /* default 2 h */
    const bv_escalation *escalation;
    size_t nescalation;
    int64_t watchdog_ms; /* 0: no heartbeats */
    const char *const *watchdog_notify;
    size_t nwatchdog_notify;
    uint64_t seed; /* jitter; 0: from the clock */
    /* With a shared Redis store: the outbox in Redis (outbox must then be a memory outbox,
     * bv_outbox_new_memory), this process as lease holder, and how long leases and entries
     * last. */
    struct bv_shared *shared;
    const char *owner;
    int64_t lease_ms, retention_ms;
} bv_dispatch_opts;

typedef struct bv_dispatch_stats {
    uint64_t alerts, silenced, escalated;
    uint64_t delivered, retries, failed; /* deliveries: (alert, target) pairs */
    uint64_t messages;                   /* messages sent, heartbeats included */
    uint64_t heartbeats, heartbeat_failures;
    uint64_t resumed;       /* pending deliveries found in the outbox at start */
    uint64_t outbox_errors; /* alerts that could not be written to the outbox (sent anyway) */
    size_t pending;         /* deliveries not finished (in flight, waiting, grouped) */
} bv_dispatch_stats;

typedef struct bv_dispatch bv_dispatch;

bv_dispatch *bv_dispatch_new(struct event_base *base, const bv_clock *clock,
                             const bv_dispatch_opts *o);
/* Adds a target of group (targets of a group in config order: index 0, 1, ...). The
 * dispatcher owns sink from now on, also when this fails. BV_OK, BV_ENOMEM, BV_EINVAL. */
int bv_dispatch_add_target(bv_dispatch *d, const char *group, bv_sink *sink,
                           bv_severity min_severity);
/* Alertmanager (owned from now on). */
int bv_dispatch_set_alertmanager(bv_dispatch *d, bv_sink *sink);
/* 1 when a group of that name has targets. */
int bv_dispatch_has_group(const bv_dispatch *d, const char *group);
/* Resumes what the outbox holds pending, schedules escalations and starts the watchdog. */
int bv_dispatch_start(bv_dispatch *d);
/* A bv_book_outbox_cb (arg: the dispatcher): the outbox entry the claim to send a writes in
 * Redis, routed as bv_dispatch_alert will route it. -1 without a shared outbox. */
int bv_dispatch_prepare(void *d, const bv_alert *a, bv_claim_outbox *ob, bv_buf *scratch);
/* A bv_outbox_found_cb (arg: the dispatcher): takes over an entry found in Redis. */
struct bv_outbox_found;
void bv_dispatch_found(void *d, const struct bv_outbox_found *f);
/* An alert from the book (or health): persisted, then routed. BV_OK or BV_ENOMEM. */
int bv_dispatch_alert(bv_dispatch *d, const bv_alert *a);
/* Stops heartbeats and the control poll (for a drain at the end: deliveries go on). */
void bv_dispatch_stop_timers(bv_dispatch *d);
/* Deliveries not finished yet (grouped ones waiting included). */
size_t bv_dispatch_pending(const bv_dispatch *d);
/* Sends what groups hold at once instead of waiting for their time (the end of a run). */
void bv_dispatch_flush_groups(bv_dispatch *d);
void bv_dispatch_stats_get(const bv_dispatch *d, bv_dispatch_stats *out);

/* Per target (Alertmanager included): deliveries ((alert, target) pairs) by outcome; retried
 * counts attempts that will be tried again. Strings are borrowed from the dispatcher. */
typedef struct bv_dispatch_target_stats {
    const char *id;   /* "police[0]" */
    const char *sink; /* "webhook", "email", ... */
    uint64_t delivered, retried, failed;
} bv_dispatch_target_stats;
size_t bv_dispatch_targets(const bv_dispatch *d);
void bv_dispatch_target_get(const bv_dispatch *d, size_t i, bv_dispatch_target_stats *out);
void bv_dispatch_free(bv_dispatch *d);

#endif
