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
typedef void bv_store_claim_cb(void *arg, int err, int claimed);

typedef struct bv_store_stats {
    uint64_t series;
    uint64_t buckets;        /* buckets held now */
    uint64_t author_entries; /* author-set entries held now */
    uint64_t reads, claims, adds;
    uint64_t dropped_old; /* adds for buckets older than the series keeps */
} bv_store_stats;

typedef struct bv_store_ops {
    const char *name;
    int (*series)(bv_store *st, const char *key, int64_t bucket_ms, int64_t keep_ms,
                  int with_authors, uint32_t *id);
    int (*add)(bv_store *st, uint32_t series, int64_t t_ms, uint32_t n, const uint8_t *author);
    int (*read)(bv_store *st, uint32_t series, int64_t from_ms, size_t nbuckets,
                size_t author_group, bv_store_read_cb *cb, void *arg);
    int (*claim)(bv_store *st, const char *id, int64_t ttl_ms, bv_store_claim_cb *cb, void *arg);
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
/* Claims the right to fire alert `id` (one claimant wins across all processes sharing the
 * store). Asynchronous: claimed is 1 for the winner, 0 for everyone else. */
static inline int bv_store_claim(bv_store *st, const char *id, int64_t ttl_ms,
                                 bv_store_claim_cb *cb, void *arg)
{
    return st->ops->claim(st, id, ttl_ms, cb, arg);
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
