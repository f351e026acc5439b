/* storeutil.h: what the window-store tests share: a record of the answers a store gave (reads,
 * claims, drains) and the callbacks that fill it. Test code only. */
#ifndef BV_TEST_STOREUTIL_H
#define BV_TEST_STOREUTIL_H

#include "engine/store.h"

#include <stdio.h>
#include <string.h>

typedef struct got {
    int calls, err, won;
    char winner[64];
    uint64_t counts[64];
    size_t n;
    uint64_t authors[64];
    size_t ngroups;
    int64_t from;
} got;

static inline void read_cb(void *arg, int err, const bv_series_read *r)
{
    got *g = arg;
    g->calls++;
    g->err = err;
    if (r) {
        g->n = r->nbuckets;
        g->from = r->from_ms;
        memcpy(g->counts, r->counts, r->nbuckets * sizeof(uint64_t));
        g->ngroups = r->ngroups;
        if (r->authors) {
            memcpy(g->authors, r->authors, r->ngroups * sizeof(uint64_t));
        }
    }
}

static inline void claim_cb(void *arg, int err, int won, const char *winner)
{
    got *g = arg;
    g->calls++;
    g->err = err;
    g->won = won;
    snprintf(g->winner, sizeof g->winner, "%s", winner ? winner : "");
}

static inline void done_cb(void *arg, int err)
{
    got *g = arg;
    g->calls++;
    g->err = err;
}

#endif
