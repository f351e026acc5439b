/* shared.h: what the processes of an event share in Redis when they share a Redis store: the
 * outbox, so that an alert one process claimed is delivered even when that process dies; acks
 * and silences, so that every process sees them; and the audit log.
 *
 * The outbox. Keys, per rule scope S = "NS/RULE" (the hash tag keeps them in the slot of the
 * rule's episode key, so the claim script writes them in the same atomic step, store.h
 * bv_claim_outbox):
 *   bv:{S}:outbox      stream: one entry per alert to deliver: key, at, deadline, targets
 *                      (ids each ending in "\n"), alert (its JSON)
 *   bv:{S}:outdone     hash: "KEY TARGET" -> "delivered ATTEMPTS AT" or
 *                      "failed ATTEMPTS AT REASON", the outcome of each delivery
 *   bv:{S}:lease:KEY   string: the process delivering the entry, expiring after the lease time
 * The claim's winner writes the entry and takes its lease. While a process delivers an entry it
 * renews the lease; when every target is settled it lets the lease go (the entry and its
 * outcomes stay for `blikveld outbox` and `blikveld ack` until the retention). A process that
 * dies stops renewing: its leases expire, and the next scan of any process of the event (at
 * start, then every scan interval) finds the entries with targets still pending and no lease,
 * takes the lease and hands each to `found`. A process restarted with the same owner (kept in
 * its state dir) takes its own leases back at once. Keys expire `retention` after their last
 * write.
 *
 * Acks, silences and the audit log, per event E:
 *   bv:{ctl/E}:control  list: the control records (control.h), pushed by `blikveld ack` and
 *                       `blikveld silence`, read by every running process once a second
 *   bv:{ctl/E}:audit    list: the audit records (audit.h), pushed by every process
 *
 * Writes are queued while Redis is away and sent when it is back.
 *
 * Ownership: copies its options; borrows the loop and the control. Strings given to callbacks
 * are borrowed for the call. */
#ifndef BV_ALERT_SHARED_H
#define BV_ALERT_SHARED_H

#include "alert/outbox.h"
#include "net/redis_url.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct bv_shared_opts {
    const bv_redis_addr *addr;
    const char *password;
    const char *ns; /* the claim namespace: scopes are NS/RULE */
    const char *const *rules;
    size_t nrules;
    const char *owner;          /* this process, as lease holder */
    int64_t lease_ms;           /* default 30 s */
    int64_t scan_ms;            /* default 10 s */
    int64_t retention_ms;       /* default 30 days */
    int list_only;              /* `found` gets every entry, settled ones too, and no lease is taken
                                   (for listing); nothing is written */
    const char *event;          /* for acks, silences and the audit log (NULL: none) */
    struct bv_control *control; /* fed the control records, polled once a second (or NULL) */
    int64_t audit_retention_ms; /* default 365 days */
} bv_shared_opts;

/* An entry whose lease this process took: deliver its pending targets. */
typedef struct bv_outbox_found {
    const char *rule, *key;
    const char *alert;
    size_t alert_len;
    int64_t at_ms, deadline_ms;
    const char *const *targets;
    const char *const *outcomes; /* per target: NULL (pending), or the outdone value */
    size_t ntargets;
} bv_outbox_found;
typedef void bv_outbox_found_cb(void *arg, const bv_outbox_found *f);
/* An outcome of bv_outbox_found ("delivered N AT", "failed N AT REASON") read back: 0, or -1
 * for anything else. *reason points into o (failed) or is NULL. */
int bv_shared_outcome(const char *o, bv_out_status *st, unsigned *attempts, int64_t *at_ms,
                      const char **reason);
/* Records f's outcomes on e (the entry put from f into a memory outbox, same targets). */
void bv_shared_apply_outcomes(bv_outbox *ob, bv_out_entry *e, const bv_outbox_found *f);

typedef struct bv_shared_stats {
    const char *state; /* "connected", "connecting", "down" */
    uint64_t scans, found, writes, queued, errors;
    uint64_t scans_done;    /* scans that got every answer */
    uint64_t control_reads; /* reads of the control list answered (the first: acks and
                               silences known) */
    size_t other_pending;   /* in the last scan done: entries with targets pending that another
                               process holds the lease of */
    size_t held;
} bv_shared_stats;

typedef struct bv_shared bv_shared;

/* Connects (on the loop) and scans as soon as Redis answers. NULL with err. */
bv_shared *bv_shared_new(struct event_base *base, const bv_shared_opts *o,
                         bv_outbox_found_cb *found, void *arg, char *err, size_t errlen);
void bv_shared_free(bv_shared *r);
/* Sets the argument passed to `found` (when that is made after this module). */
void bv_shared_set_arg(bv_shared *r, void *arg);

/* Scans the outbox of rule too from the next scan on (a rule a reload added; a rule there
 * already is left as it is): BV_OK or BV_ENOMEM. A rule is never unwatched: a removed rule's
 * entries may still wait for delivery. */
int bv_shared_watch(bv_shared *r, const char *rule);
/* An entry this process delivers (the claim gave it its lease): renewed until released. */
int bv_shared_hold(bv_shared *r, const char *rule, const char *key);
/* Every target of the entry is settled: its lease goes. */
void bv_shared_release(bv_shared *r, const char *rule, const char *key);
/* The outcome of one delivery: delivered (failed 0) or failed with reason. */
void bv_shared_mark(bv_shared *r, const char *rule, const char *key, const char *target, int failed,
                    unsigned attempts, int64_t at_ms, const char *reason);
/* An entry not written by a claim (an escalation; an alert whose claim could not be made):
 * written with its lease held by this process. */
int bv_shared_put(bv_shared *r, const char *rule, const char *key, const char *alert,
                  size_t alert_len, int64_t at_ms, int64_t deadline_ms, const char *const *targets,
                  size_t ntargets);
/* Appends a control record (control.h, one line with its "\n") to the event's list. */
int bv_shared_control_append(bv_shared *r, const char *line, size_t len);
/* Appends an audit record (audit.h, one line with its "\n") to the event's list. */
int bv_shared_audit_append(bv_shared *r, const char *line, size_t len);
/* Drops the audit records older than cutoff_ms from the front of the event's list. */
int bv_shared_audit_trim(bv_shared *r, int64_t cutoff_ms);
/* Reads the event's list "audit" or "control"; cb gets the records as lines (text[0..len),
 * writable), or NULL when Redis did not answer. BV_EAGAIN while Redis is not connected. */
typedef void bv_shared_text_cb(void *arg, char *text, size_t len);
int bv_shared_read(bv_shared *r, const char *list, bv_shared_text_cb *cb, void *arg);
/* The episode state of a rule (its claim key bv:{NS/RULE}:ep, store_redis.c): cb gets 'F'
 * (firing) or 'R' (resolved) and the episode's alert id, 0 when there is none, or -1 when
 * Redis did not answer (also at teardown). BV_EAGAIN while Redis is not connected. */
typedef void bv_shared_episode_cb(void *arg, int state, const char *id);
int bv_shared_episode(bv_shared *r, const char *rule, bv_shared_episode_cb *cb, void *arg);
/* 1 once connected to Redis. */
int bv_shared_ready(const bv_shared *r);
/* Scans now (tests; the timer does it every scan interval). */
void bv_shared_scan(bv_shared *r);
/* Writes and scans not answered yet. */
size_t bv_shared_pending(const bv_shared *r);
void bv_shared_stats_get(const bv_shared *r, bv_shared_stats *out);

#endif
