/* store.h: the window store interface. Counters per series (one series per rule and bucket size)
 * in event-time buckets, with optional distinct-author sets, and the claim to fire an alert.
 * Every call that answers is asynchronous: the answer comes through a callback that runs exactly
 * once, on a later turn of the event loop (never inside the call), with err != 0 and no data on
 * failure or teardown. Data handed to a callback is borrowed for the duration of the call.
 *
 * Ownership: a bv_store owns its series and buffered deltas; bv_store_free cancels pending calls
 * (their callbacks run with BV_EAGAIN). Keys and ids passed in are copied. */
#ifndef BV_ENGINE_STORE_H
#define BV_ENGINE_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct bv_store bv_store;

/* The start of the bucket of size b holding event time t (floor, also before 1970). */
static inline int64_t bv_bucket_start(int64_t t, int64_t b)
{
    int64_t q = t / b;
    if (t % b != 0 && t < 0) {
        q--;
    }
    return q * b;
}

/* A read answer: counts of the buckets [from_ms, from_ms + nbuckets*bucket_ms), oldest first,
 * and, when asked for, the number of distinct authors in each group of author_group consecutive
 * buckets (nbuckets / author_group groups, oldest first). */
typedef struct bv_series_read {
    int64_t from_ms;
    int64_t bucket_ms;
    size_t nbuckets;
    const uint64_t *counts;  /* borrowed */
    const uint64_t *authors; /* borrowed; distinct authors per group, or NULL */
    size_t ngroups;
} bv_series_read;

typedef void bv_store_read_cb(void *arg, int err, const bv_series_read *r);
/* won: this claimant sends the alert. winner: the id the scope's episode goes by now (borrowed;
 * NULL on error): a process that lost a `fire` claim adopts it for the episode. */
typedef void bv_store_claim_cb(void *arg, int err, int won, const char *winner);
typedef void bv_store_done_cb(void *arg, int err);

typedef enum { BV_CLAIM_FIRE, BV_CLAIM_RESOLVE } bv_claim_kind;

/* What the winner of a claim writes, in the same atomic step, to the scope's outbox in a shared
 * store (the alert and the targets it must reach, alert/shared.h), and the lease that
 * says which process delivers it. Borrowed for the call; the store copies it. The memory store
 * ignores it (one process keeps its outbox in a file). */
typedef struct bv_claim_outbox {
    const char *key;   /* the delivery key: "ID/firing", "ID/resolved" */
    const char *alert; /* the alert's JSON */
    size_t alert_len;
    const char *targets; /* target ids, each ending in "\n" ("" for none) */
    int64_t at_ms, deadline_ms;
    int64_t retention_ms; /* the outbox keys live this long after their last write */
    const char *owner;    /* the lease holder (this process) */
    int64_t lease_ms;
} bv_claim_outbox;

typedef struct bv_store_stats {
    uint64_t series;
    uint64_t buckets;        /* buckets held now */
    uint64_t author_entries; /* author-set entries held now */
    uint64_t reads, claims, adds;
    uint64_t dropped_old; /* adds for buckets older than the series keeps */
    /* shared stores only (zero for the memory store): */
    const char *state;             /* "connected", "connecting", "down"; NULL when not shared */
    uint64_t pending;              /* deltas (bucket counts, author entries) not yet acknowledged */
    uint64_t pending_peak;         /* the most that were pending at once */
    uint64_t dropped_pending;      /* deltas dropped past the pending bound */
    uint64_t reconnects;           /* connections made after the first */
    uint64_t commands;             /* commands sent */
    uint64_t flushes;              /* flush rounds acknowledged */
    uint64_t errors;               /* failed connections, timeouts, error replies */
    uint64_t waits;                /* times reads waited for other processes' counts */
    int found_counts;              /* the store held counts of these series before this process */
    size_t cluster_masters;        /* a Redis Cluster's masters (0: one server) */
    uint64_t moved, ask, tryagain; /* cluster redirects followed */
    double flush_ms_last, flush_ms_max, flush_ms_avg; /* send to last reply of a round */
} bv_store_stats;

typedef struct bv_store_ops {
    const char *name;
    int (*series)(bv_store *st, const char *key, int64_t bucket_ms, int64_t keep_ms,
                  int with_authors, uint32_t *id);
    int (*add)(bv_store *st, uint32_t series, int64_t t_ms, uint32_t n, const uint8_t *author);
    int (*read)(bv_store *st, uint32_t series, int64_t from_ms, size_t nbuckets,
                size_t author_group, bv_store_read_cb *cb, void *arg);
    int (*claim)(bv_store *st, const char *scope, const char *id, bv_claim_kind kind,
                 int64_t ttl_ms, const bv_claim_outbox *ob, bv_store_claim_cb *cb, void *arg);
    int (*drain)(bv_store *st, bv_store_done_cb *cb, void *arg);
    void (*stats)(bv_store *st, bv_store_stats *out);
    void (*free)(bv_store *st);
} bv_store_ops;

struct bv_store {
    const bv_store_ops *ops;
};

/* Registers (or finds) a series: buckets of bucket_ms, kept for at least keep_ms behind the
 * newest bucket, with a distinct-author set per bucket when with_authors. *id names it after. */
static inline int bv_store_series(bv_store *st, const char *key, int64_t bucket_ms, int64_t keep_ms,
                                  int with_authors, uint32_t *id)
{
    return st->ops->series(st, key, bucket_ms, keep_ms, with_authors, id);
}
/* Adds n to the bucket holding event time t_ms (buffered locally; synchronous). author is
 * BV_PSEUDO_LEN bytes or NULL. */
static inline int bv_store_add(bv_store *st, uint32_t series, int64_t t_ms, uint32_t n,
                               const uint8_t *author)
{
    return st->ops->add(st, series, t_ms, n, author);
}
/* Reads nbuckets buckets from from_ms (a bucket boundary). author_group 0: no authors; else
 * distinct authors per group of that many buckets (it divides nbuckets). Asynchronous. */
static inline int bv_store_read(bv_store *st, uint32_t series, int64_t from_ms, size_t nbuckets,
                                size_t author_group, bv_store_read_cb *cb, void *arg)
{
    return st->ops->read(st, series, from_ms, nbuckets, author_group, cb, arg);
}
/* The claim to send an alert for an episode of one rule, decided once across every process
 * sharing the store. scope names the rule ("NS/RULE"), id is the caller's alert id for the
 * episode. BV_CLAIM_FIRE is won when no episode of the scope is firing (it now fires as id);
 * otherwise lost, and winner names the episode that is (the caller adopts that id).
 * BV_CLAIM_RESOLVE is won when the scope fires as id (it is now resolved), lost otherwise.
 * A claim repeated by its winner (after a lost reply) is won again. Asynchronous. */
static inline int bv_store_claim(bv_store *st, const char *scope, const char *id,
                                 bv_claim_kind kind, int64_t ttl_ms, bv_store_claim_cb *cb,
                                 void *arg)
{
    return st->ops->claim(st, scope, id, kind, ttl_ms, NULL, cb, arg);
}
/* The same, and the winner's outbox entry written with it (ob may be NULL: none). A claim won
 * again by its winner writes no second entry. */
static inline int bv_store_claim_outbox(bv_store *st, const char *scope, const char *id,
                                        bv_claim_kind kind, int64_t ttl_ms,
                                        const bv_claim_outbox *ob, bv_store_claim_cb *cb, void *arg)
{
    return st->ops->claim(st, scope, id, kind, ttl_ms, ob, cb, arg);
}
/* cb runs once everything added and claimed before the call is acknowledged by the store
 * (a shared store flushes now, and waits through outages), or with BV_EAGAIN at teardown. */
static inline int bv_store_drain(bv_store *st, bv_store_done_cb *cb, void *arg)
{
    return st->ops->drain(st, cb, arg);
}
static inline void bv_store_stats_get(bv_store *st, bv_store_stats *out)
{
    st->ops->stats(st, out);
}
static inline void bv_store_free(bv_store *st)
{
    if (st) {
        st->ops->free(st);
    }
}

#endif
