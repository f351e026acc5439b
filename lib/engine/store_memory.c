/* store_memory.c: the in-process window store. Per series a ring of event-time buckets, each with
 * its count and (optionally) an exact set of author pseudonyms; answers on the next loop turn. */
#include "engine/store_memory.h"
#include "core/err.h"
#include "engine/post.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

/* An open-addressing set of 64-bit author keys (0 means empty). `used` remembers where the
 * keys went when it is a scratch set, so clearing costs the keys, not the capacity. */
typedef struct aset {
    uint64_t *slots;
    size_t cap, n;
    uint32_t *used; /* scratch sets only: slot of each key, n entries */
    size_t capused;
} aset;

typedef struct bucket {
    int64_t start; /* INT64_MIN when unused */
    uint64_t count;
    aset authors;
} bucket;

typedef struct series {
    char *key;
    int64_t bucket_ms;
    size_t nslots;
    int with_authors;
    bucket *ring;
    /* The distinct authors of the window read last, kept up to date by adds into its range:
     * a detector reads the same window post after post, and a union per post would cost the
     * window's authors each time. */
    aset win;
    int64_t win_from;
    size_t win_n;
    int win_valid;
} series;

typedef enum { OP_READ, OP_CLAIM, OP_DRAIN } op_kind;

/* A rule's episode claim: the id it fires or last resolved as. */
typedef struct claim {
    char *scope;
    char *id;
    int firing;
} claim;

typedef struct op {
    struct op *next;
    op_kind kind;
    uint32_t series;
    int64_t from_ms;
    size_t nbuckets;
    size_t group;
    bv_store_read_cb *read_cb;
    bv_store_claim_cb *claim_cb;
    bv_store_done_cb *done_cb;
    void *arg;
    char *claim_scope, *claim_id;
    bv_claim_kind claim_kind;
} op;

typedef struct mem_store {
    bv_store base;
    struct event *ev;
    series *series;
    size_t nseries, capseries;
    op *head, *tail; /* pending answers, FIFO */
    op *spare;       /* answered ops, reused: a read per matching post must not cost a malloc */
    claim *claims;
    size_t nclaims, capclaims;
    aset tmp;         /* scratch for unions */
    uint64_t *counts; /* scratch for read answers */
    uint64_t *groups; /* scratch: authors per group */
    size_t capcounts;
    int closing; /* being freed: calls fail at once */
    bv_store_stats st;
} mem_store;

static uint64_t author_key(const uint8_t *a)
{
    uint64_t k;
    memcpy(&k, a, sizeof k);
    return k ? k : 1;
}

static int aset_grow(aset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 16;
    uint64_t *ns = calloc(ncap, sizeof *ns);
    if (ns == NULL) {
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t k = s->slots[i];
        if (k) {
            size_t j = (size_t)(k * 0x9E3779B97F4A7C15ULL) & (ncap - 1);
            while (ns[j]) {
                j = (j + 1) & (ncap - 1);
            }
            ns[j] = k;
        }
    }
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return BV_OK;
}

/* returns 1 when added, 0 when present, <0 on error */
static int aset_add(aset *s, uint64_t k)
{
    if ((s->n + 1) * 4 > s->cap * 3 && aset_grow(s) != BV_OK) {
        return BV_ENOMEM;
    }
    size_t j = (size_t)(k * 0x9E3779B97F4A7C15ULL) & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == k) {
            return 0;
        }
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = k;
    s->n++;
    return 1;
}

/* aset_add for the scratch set: remembers the slot for a cheap clear. */
static int aset_add_tracked(aset *s, uint64_t k)
{
    if (s->n + 1 > s->capused) {
        size_t nc = s->capused ? s->capused * 2 : 64;
        uint32_t *nu = realloc(s->used, nc * sizeof *nu);
        if (nu == NULL) {
            return BV_ENOMEM;
        }
        s->used = nu;
        s->capused = nc;
    }
    size_t cap_before = s->cap;
    int r = aset_add(s, k);
    if (s->cap != cap_before) {
        /* it grew (before looking for k, so whether or not k was new): every slot moved */
        size_t m = 0;
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i]) {
                s->used[m++] = (uint32_t)i;
            }
        }
    } else if (r == 1) {
        size_t j = (size_t)(k * 0x9E3779B97F4A7C15ULL) & (s->cap - 1);
        while (s->slots[j] != k) {
            j = (j + 1) & (s->cap - 1);
        }
        s->used[s->n - 1] = (uint32_t)j;
    }
    return r;
}

static void aset_clear_tracked(aset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        s->slots[s->used[i]] = 0;
    }
    s->n = 0;
}

static void aset_clear(aset *s)
{
    if (s->n) {
        memset(s->slots, 0, s->cap * sizeof *s->slots);
        s->n = 0;
    }
}

static void aset_free(aset *s)
{
    free(s->slots);
    free(s->used);
    memset(s, 0, sizeof *s);
}

static size_t slot_of(const series *s, int64_t start)
{
    int64_t idx = start / s->bucket_ms;
    int64_t m = idx % (int64_t)s->nslots;
    return (size_t)(m < 0 ? m + (int64_t)s->nslots : m);
}

static int mem_series(bv_store *st, const char *key, int64_t bucket_ms, int64_t keep_ms,
                      int with_authors, uint32_t *id)
{
    mem_store *ms = (mem_store *)st;
    if (bucket_ms <= 0 || keep_ms < bucket_ms) {
        return BV_EINVAL;
    }
    for (size_t i = 0; i < ms->nseries; i++) {
        if (strcmp(ms->series[i].key, key) == 0) {
            *id = (uint32_t)i;
            return BV_OK;
        }
    }
    if (ms->nseries == ms->capseries) {
        size_t ncap = ms->capseries ? ms->capseries * 2 : 16;
        series *ns = realloc(ms->series, ncap * sizeof *ns);
        if (ns == NULL) {
            return BV_ENOMEM;
        }
        ms->series = ns;
        ms->capseries = ncap;
    }
    series *s = &ms->series[ms->nseries];
    memset(s, 0, sizeof *s);
    s->key = strdup(key);
    s->bucket_ms = bucket_ms;
    s->nslots = (size_t)(keep_ms / bucket_ms) + 2;
    s->with_authors = with_authors;
    s->ring = calloc(s->nslots, sizeof *s->ring);
    if (s->key == NULL || s->ring == NULL) {
        free(s->key);
        free(s->ring);
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < s->nslots; i++) {
        s->ring[i].start = INT64_MIN;
    }
    *id = (uint32_t)ms->nseries++;
    ms->st.series = ms->nseries;
    return BV_OK;
}

static int mem_add(bv_store *st, uint32_t sid, int64_t t_ms, uint32_t n, const uint8_t *author)
{
    mem_store *ms = (mem_store *)st;
    if (sid >= ms->nseries) {
        return BV_EINVAL;
    }
    series *s = &ms->series[sid];
    int64_t start = bv_bucket_start(t_ms, s->bucket_ms);
    bucket *b = &s->ring[slot_of(s, start)];
    if (b->start != start) {
        if (b->start != INT64_MIN && b->start > start) {
            ms->st.dropped_old++; /* older than anything the series keeps */
            return BV_OK;
        }
        if (b->start == INT64_MIN) {
            ms->st.buckets++;
        } else if (s->win_valid && b->start >= s->win_from &&
                   b->start < s->win_from + (int64_t)s->win_n * s->bucket_ms) {
            s->win_valid = 0; /* a bucket of the cached window expires */
        }
        ms->st.author_entries -= b->authors.n;
        b->start = start;
        b->count = 0;
        aset_clear(&b->authors);
    }
    b->count += n;
    ms->st.adds++;
    if (s->with_authors && author) {
        int r = aset_add(&b->authors, author_key(author));
        if (r < 0) {
            return r;
        }
        ms->st.author_entries += (uint64_t)r;
        if (s->win_valid && start >= s->win_from &&
            start < s->win_from + (int64_t)s->win_n * s->bucket_ms &&
            aset_add(&s->win, author_key(author)) < 0) {
            s->win_valid = 0;
        }
    }
    return BV_OK;
}

static op *op_new(mem_store *ms)
{
    op *o = ms->spare;
    if (o) {
        ms->spare = o->next;
        memset(o, 0, sizeof *o);
        return o;
    }
    return calloc(1, sizeof *o);
}

static void op_done(mem_store *ms, op *o)
{
    free(o->claim_id);
    free(o->claim_scope);
    o->claim_id = o->claim_scope = NULL;
    o->next = ms->spare;
    ms->spare = o;
}

static int enqueue(mem_store *ms, op *o)
{
    o->next = NULL;
    if (ms->tail) {
        ms->tail->next = o;
    } else {
        ms->head = o;
    }
    ms->tail = o;
    event_active(ms->ev, EV_TIMEOUT, 0);
    return BV_OK;
}

static int mem_read(bv_store *st, uint32_t sid, int64_t from_ms, size_t nbuckets, size_t group,
                    bv_store_read_cb *cb, void *arg)
{
    mem_store *ms = (mem_store *)st;
    if (ms->closing) {
        return BV_EAGAIN;
    }
    if (sid >= ms->nseries || nbuckets == 0 || nbuckets > ms->series[sid].nslots ||
        (group && (nbuckets % group != 0 || !ms->series[sid].with_authors))) {
        return BV_EINVAL;
    }
    op *o = op_new(ms);
    if (o == NULL) {
        return BV_ENOMEM;
    }
    o->kind = OP_READ;
    o->series = sid;
    o->from_ms = bv_bucket_start(from_ms, ms->series[sid].bucket_ms);
    o->nbuckets = nbuckets;
    o->group = group;
    o->read_cb = cb;
    o->arg = arg;
    ms->st.reads++;
    return enqueue(ms, o);
}

static int mem_claim(bv_store *st, const char *scope, const char *id, bv_claim_kind kind,
                     int64_t ttl_ms, const bv_claim_outbox *ob, bv_store_claim_cb *cb, void *arg)
{
    mem_store *ms = (mem_store *)st;
    (void)ttl_ms; /* one process: claims live as long as the store */
    (void)ob;     /* and its outbox is a file */
    if (ms->closing) {
        return BV_EAGAIN;
    }
    op *o = op_new(ms);
    if (o == NULL) {
        return BV_ENOMEM;
    }
    o->claim_id = strdup(id);
    o->claim_scope = strdup(scope);
    if (o->claim_id == NULL || o->claim_scope == NULL) {
        op_done(ms, o);
        return BV_ENOMEM;
    }
    o->kind = OP_CLAIM;
    o->claim_kind = kind;
    o->claim_cb = cb;
    o->arg = arg;
    ms->st.claims++;
    return enqueue(ms, o);
}

static int mem_drain(bv_store *st, bv_store_done_cb *cb, void *arg)
{
    mem_store *ms = (mem_store *)st;
    if (ms->closing) {
        return BV_EAGAIN;
    }
    op *o = op_new(ms);
    if (o == NULL) {
        return BV_ENOMEM;
    }
    o->kind = OP_DRAIN;
    o->done_cb = cb;
    o->arg = arg;
    return enqueue(ms, o);
}

static void answer_read(mem_store *ms, op *o)
{
    series *s = &ms->series[o->series];
    if (ms->capcounts < o->nbuckets) {
        uint64_t *nc = realloc(ms->counts, o->nbuckets * sizeof *nc);
        uint64_t *ng = nc ? realloc(ms->groups, o->nbuckets * sizeof *ng) : NULL;
        if (nc) {
            ms->counts = nc;
        }
        if (ng == NULL) {
            o->read_cb(o->arg, BV_ENOMEM, NULL);
            return;
        }
        ms->groups = ng;
        ms->capcounts = o->nbuckets;
    }
    size_t ngroups = o->group ? o->nbuckets / o->group : 0;
    int cached = o->group == o->nbuckets && s->win_valid && s->win_from == o->from_ms &&
                 s->win_n == o->nbuckets;
    if (o->group == o->nbuckets && o->group > 1) {
        /* one group, the whole range: the series' window set answers (see struct series) */
        if (!cached) {
            aset_clear(&s->win);
            s->win_valid = 0;
        }
        size_t slot = slot_of(s, o->from_ms);
        for (size_t i = 0; i < o->nbuckets; i++, slot = slot + 1 == s->nslots ? 0 : slot + 1) {
            int64_t start = o->from_ms + (int64_t)i * s->bucket_ms;
            const bucket *b = &s->ring[slot];
            int live = b->start == start;
            ms->counts[i] = live ? b->count : 0;
            for (size_t j = 0; !cached && live && j < b->authors.cap; j++) {
                if (b->authors.slots[j] && aset_add(&s->win, b->authors.slots[j]) < 0) {
                    o->read_cb(o->arg, BV_ENOMEM, NULL);
                    return;
                }
            }
        }
        s->win_valid = 1;
        s->win_from = o->from_ms;
        s->win_n = o->nbuckets;
        ms->groups[0] = s->win.n;
        bv_series_read r = {o->from_ms, s->bucket_ms, o->nbuckets, ms->counts, ms->groups, 1};
        o->read_cb(o->arg, BV_OK, &r);
        return;
    }
    size_t slot = slot_of(s, o->from_ms);
    for (size_t i = 0; i < o->nbuckets; i++, slot = slot + 1 == s->nslots ? 0 : slot + 1) {
        int64_t start = o->from_ms + (int64_t)i * s->bucket_ms;
        const bucket *b = &s->ring[slot];
        int live = b->start == start;
        ms->counts[i] = live ? b->count : 0;
        if (o->group == 0) {
            continue;
        }
        if (i % o->group == 0) {
            aset_clear_tracked(&ms->tmp);
        }
        if (live && o->group == 1) {
            ms->groups[i] = b->authors.n;
            continue;
        }
        for (size_t j = 0; live && j < b->authors.cap; j++) {
            if (b->authors.slots[j] && aset_add_tracked(&ms->tmp, b->authors.slots[j]) < 0) {
                o->read_cb(o->arg, BV_ENOMEM, NULL);
                return;
            }
        }
        if (i % o->group == o->group - 1) {
            ms->groups[i / o->group] = ms->tmp.n;
        }
    }
    bv_series_read r = {
        o->from_ms, s->bucket_ms, o->nbuckets, ms->counts, ngroups ? ms->groups : NULL, ngroups};
    o->read_cb(o->arg, BV_OK, &r);
}

/* The episode state machine of store.h, for one process (or several books on one store). */
static void answer_claim(mem_store *ms, op *o)
{
    claim *c = NULL;
    for (size_t i = 0; i < ms->nclaims && c == NULL; i++) {
        if (strcmp(ms->claims[i].scope, o->claim_scope) == 0) {
            c = &ms->claims[i];
        }
    }
    if (c == NULL) {
        if (ms->nclaims == ms->capclaims) {
            size_t ncap = ms->capclaims ? ms->capclaims * 2 : 16;
            claim *nc = realloc(ms->claims, ncap * sizeof *nc);
            if (nc == NULL) {
                o->claim_cb(o->arg, BV_ENOMEM, 0, NULL);
                return;
            }
            ms->claims = nc;
            ms->capclaims = ncap;
        }
        c = &ms->claims[ms->nclaims++];
        c->scope = o->claim_scope;
        c->id = NULL;
        c->firing = 0;
        o->claim_scope = NULL;
    }
    int won;
    if (o->claim_kind == BV_CLAIM_FIRE) {
        won = !c->firing;
    } else {
        won = c->firing && strcmp(c->id, o->claim_id) == 0;
    }
    if (won) {
        free(c->id);
        c->id = o->claim_id;
        o->claim_id = NULL;
        c->firing = o->claim_kind == BV_CLAIM_FIRE;
    }
    o->claim_cb(o->arg, BV_OK, won, c->id ? c->id : o->claim_id);
}

/* Runs the answers queued before this turn; answers queued by callbacks wait for the next one. */
static void on_turn(evutil_socket_t fd, short what, void *arg)
{
    mem_store *ms = arg;
    (void)fd;
    (void)what;
    op *o = ms->head;
    ms->head = ms->tail = NULL;
    while (o) {
        op *next = o->next;
        if (o->kind == OP_READ) {
            answer_read(ms, o);
        } else if (o->kind == OP_CLAIM) {
            answer_claim(ms, o);
        } else {
            o->done_cb(o->arg, BV_OK);
        }
        op_done(ms, o);
        o = next;
    }
}

static void mem_stats(bv_store *st, bv_store_stats *out)
{
    *out = ((mem_store *)st)->st;
}

static void mem_free(bv_store *st)
{
    mem_store *ms = (mem_store *)st;
    ms->closing = 1;
    op *o = ms->head;
    ms->head = ms->tail = NULL;
    while (o) {
        op *next = o->next;
        if (o->kind == OP_READ) {
            o->read_cb(o->arg, BV_EAGAIN, NULL);
        } else if (o->kind == OP_CLAIM) {
            o->claim_cb(o->arg, BV_EAGAIN, 0, NULL);
        } else {
            o->done_cb(o->arg, BV_EAGAIN);
        }
        free(o->claim_id);
        free(o->claim_scope);
        free(o);
        o = next;
    }
    while (ms->spare) {
        op *next = ms->spare->next;
        free(ms->spare);
        ms->spare = next;
    }
    for (size_t i = 0; i < ms->nseries; i++) {
        for (size_t j = 0; j < ms->series[i].nslots; j++) {
            aset_free(&ms->series[i].ring[j].authors);
        }
        free(ms->series[i].ring);
        free(ms->series[i].key);
        aset_free(&ms->series[i].win);
    }
    free(ms->series);
    for (size_t i = 0; i < ms->nclaims; i++) {
        free(ms->claims[i].scope);
        free(ms->claims[i].id);
    }
    free(ms->claims);
    aset_free(&ms->tmp);
    free(ms->counts);
    free(ms->groups);
    if (ms->ev) {
        event_free(ms->ev);
    }
    free(ms);
}

static const bv_store_ops memory_ops = {
    "memory", mem_series, mem_add, mem_read, mem_claim, mem_drain, mem_stats, mem_free,
};

bv_store *bv_store_memory_new(struct event_base *base)
{
    mem_store *ms = calloc(1, sizeof *ms);
    if (ms == NULL) {
        return NULL;
    }
    ms->base.ops = &memory_ops;
    ms->ev = event_new(base, -1, 0, on_turn, ms);
    if (ms->ev == NULL) {
        goto fail;
    }
    return &ms->base;
fail:
    mem_free(&ms->base);
    return NULL;
}
