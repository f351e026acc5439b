/* store_redis.c: the shared window store on Redis (hiredis async on the libevent loop); see
 * store_redis.h for the model, the key layout and the ownership rules.
 *
 * Each series holds a ring of buckets like the memory store. A bucket's count is base (what Redis
 * said the last time it answered for it, our acknowledged deltas included) + infl (our deltas in
 * the round under way) + pend (ours not yet sent). Its authors are HyperLogLog registers laid out
 * as Redis lays them out (engine/hll.h): the registers Redis returned, merged with our own adds.
 * An author whose add changes no local register is not sent: Redis already has (or is being
 * sent) a register at least as high, so its PFADD could not change anything either.
 *
 * A series' round is one EVALSHA of SYNC_LUA. A round's deltas keep their sequence number until
 * Redis acknowledges them; when a connection breaks, the same round is sent again, and the script
 * skips what it had already applied. */
#include "engine/store_redis.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "engine/hll.h"
#include "engine/post.h"

#include "net/redis_cluster.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* KEYS: version, seq, then (count, hll) per bucket. ARGV: seq, ttl, then per bucket: the count
 * the caller expects after its delta, delta, number of authors, the authors. Applies the deltas
 * unless this process's round seq was applied before; returns the version before and after, then
 * per bucket its count and, when the count is not the expected one, the raw HyperLogLog. */
static const char SYNC_LUA[] =
    "local prior = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local seq = tonumber(ARGV[1])\n"
    "local ttl = ARGV[2]\n"
    "local apply = seq > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') < seq\n"
    "local out = {prior, prior}\n"
    "local a = 3\n"
    "local wrote = false\n"
    "for i = 1, (#KEYS - 2) / 2 do\n"
    "  local ck, hk = KEYS[1 + 2 * i], KEYS[2 + 2 * i]\n"
    "  local expected, delta, na = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + "
    "2])\n"
    "  if apply and delta > 0 then\n"
    "    redis.call('INCRBY', ck, delta)\n"
    "    redis.call('PEXPIRE', ck, ttl)\n"
    "    wrote = true\n"
    "  end\n"
    "  if apply and na > 0 then\n"
    "    for j = a + 3, a + 2 + na, 256 do\n"
    "      redis.call('PFADD', hk, unpack(ARGV, j, math.min(j + 255, a + 2 + na)))\n"
    "    end\n"
    "    redis.call('PEXPIRE', hk, ttl)\n"
    "    wrote = true\n"
    "  end\n"
    "  a = a + 3 + na\n"
    "  local c = tonumber(redis.call('GET', ck) or '0')\n"
    "  out[#out + 1] = c\n"
    "  if c ~= expected then out[#out + 1] = redis.call('GET', hk) or false\n"
    "  else out[#out + 1] = false end\n"
    "end\n"
    "if wrote then\n"
    "  redis.call('SET', KEYS[2], seq, 'PX', ttl)\n"
    "  out[2] = redis.call('INCR', KEYS[1])\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "end\n"
    "return out\n";

/* KEYS: the rule's episode key, and with an outbox entry its outbox stream and the entry's
 * lease key. ARGV: fire|resolve, alert id, instance, ttl; with an entry: its key, alert JSON,
 * targets, at, deadline, retention (ms), lease owner, lease (ms). A fresh win writes the entry
 * (XADD) and the lease with the claim; a win repeated by its claimant writes nothing. See
 * store.h and alert/shared.h. */
static const char CLAIM_LUA[] =
    "local function entry()\n"
    "  if #KEYS < 3 then return end\n"
    "  redis.call('XADD', KEYS[2], '*', 'key', ARGV[5], 'at', ARGV[8], 'deadline', ARGV[9],\n"
    "             'targets', ARGV[7], 'alert', ARGV[6])\n"
    "  redis.call('PEXPIRE', KEYS[2], ARGV[10])\n"
    "  redis.call('SET', KEYS[3], ARGV[11], 'PX', ARGV[12])\n"
    "end\n"
    "local cur = redis.call('GET', KEYS[1])\n"
    "local st, who, id\n"
    "if cur then st, who, id = string.match(cur, '^(%a):([^:]*):(.*)$') end\n"
    "if ARGV[1] == 'fire' then\n"
    "  if st == 'F' then return {(who == ARGV[3] and id == ARGV[2]) and 1 or 0, id} end\n"
    "  redis.call('SET', KEYS[1], 'F:' .. ARGV[3] .. ':' .. ARGV[2], 'PX', ARGV[4])\n"
    "  entry()\n"
    "  return {1, ARGV[2]}\n"
    "end\n"
    "if st == 'F' and id == ARGV[2] then\n"
    "  redis.call('SET', KEYS[1], 'R:' .. ARGV[3] .. ':' .. ARGV[2], 'PX', ARGV[4])\n"
    "  entry()\n"
    "  return {1, ARGV[2]}\n"
    "end\n"
    "if st == 'R' and who == ARGV[3] and id == ARGV[2] then return {1, id} end\n"
    "return {0, id or ARGV[2]}\n";

enum { SCRIPT_SYNC, SCRIPT_CLAIM, SCRIPT__COUNT };

typedef struct rbucket {
    int64_t start; /* INT64_MIN when unused */
    uint64_t base, infl, pend;
    bv_hll regs;
    uint8_t *pa; /* authors to send: BV_PSEUDO_LEN bytes each */
    uint32_t npa, cappa;
} rbucket;

/* One bucket's deltas in a round. */
typedef struct item {
    int64_t start;
    uint64_t delta;
    uint8_t *auth;
    uint32_t nauth;
} item;

typedef struct rstore rstore;

typedef struct rseries {
    rstore *rs;
    char *tag;    /* "NS/RULE" */
    char *prefix; /* "bv:{NS/RULE}:BUCKET_MS:" */
    int64_t bucket_ms, ttl_ms;
    size_t nslots;
    int with_authors;
    rbucket *ring;
    int64_t newest;   /* newest bucket start added or read; INT64_MIN before */
    int64_t known_to; /* buckets up to here were read from Redis; INT64_MIN before */
    int64_t version;
    int answered;  /* a round for it came back */
    int stale;     /* others may have written since we last read the range */
    int dirty;     /* deltas added since the last round took them */
    int wanted;    /* read since the last round that asked what others wrote */
    item *orphans; /* deltas of buckets that left the ring before they were sent */
    size_t norphans, caporphans;
    /* the round under way, or one not acknowledged (seq != 0) */
    uint64_t seq, next_seq;
    item *items;
    size_t nitems, capitems;
    int64_t rfrom; /* the round reads nrange buckets from rfrom back (the whole range when */
    size_t nrange; /* sent stale, else the buckets not read yet) */
    int sent_stale;
    int on_wire; /* sent on the current connection, reply due */
    /* the distinct authors of the window read last (see store_memory.c) */
    bv_hll_sum *win;
    int64_t win_from;
    size_t win_n;
    int win_valid;
} rseries;

typedef enum { OP_READ, OP_CLAIM, OP_DRAIN } op_kind;

typedef struct op {
    struct op *next;
    op_kind kind;
    rstore *rs;
    uint32_t series;
    int64_t from_ms;
    size_t nbuckets, group;
    bv_store_read_cb *read_cb;
    bv_store_claim_cb *claim_cb;
    bv_store_done_cb *done_cb;
    void *arg;
    char *scope, *id;
    bv_claim_kind claim_kind;
    char *ob_key, *ob_alert, *ob_targets, *ob_owner; /* the outbox entry, or NULL */
    size_t ob_alert_len;
    int64_t ob_at, ob_deadline, ob_retention, ob_lease;
    int64_t ttl_ms;
    int on_wire;
    uint64_t gen; /* drains: rounds started before the call; done after a later one */
} op;

struct rstore {
    bv_store base;
    const bv_clock *clock;
    int64_t flush_ms, timeout_ms;
    uint64_t max_pending;
    char instance[17];

    bv_redis_router *conn; /* one server or a cluster (net/redis_cluster.h) */
    bv_redis_cmd *cmd;     /* the router's command builder */
    int down_logged;
    int64_t down_logged_ms;
    struct event *round_ev, *tick_ev, *answer_ev;

    /* series */
    rseries **series;
    size_t nseries, capseries;

    /* Shared: another process wrote into a series we read. Then a bucket closing holds reads
     * until a round has flushed it and read back what the others wrote (bounded by timeout_ms):
     * the process decides on the global window after its own flush. */
    int shared, hold;
    uint64_t round_gen, hold_gen;
    struct event *hold_ev;

    /* rounds */
    int in_round;
    size_t round_out; /* replies due in the round */
    int64_t round_started;
    int round_soon;

    /* reads answered on the next turn; claims and drains waiting on Redis */
    op *head, *tail, *spare;
    op *claims; /* FIFO by insertion at the tail */
    op *drains;
    uint64_t *counts, *groups;
    size_t capcounts;
    bv_hll_sum *scratch;

    int closing;
    bv_store_stats st;
    uint64_t author_entries_pending, orphan_buckets;
    int64_t dropped_logged_ms;
};

static void round_request(rstore *rs);
static void round_kick(rstore *rs);
static void hold_reads(rstore *rs);
static void check_drains(rstore *rs);

static size_t slot_of(const rseries *s, int64_t start)
{
    int64_t m = (start / s->bucket_ms) % (int64_t)s->nslots;
    return (size_t)(m < 0 ? m + (int64_t)s->nslots : m);
}

static int64_t mono(const rstore *rs)
{
    return bv_mono_ms(rs->clock);
}

/* ---- pending accounting ---- */

static void pending_add(rstore *rs, uint64_t n)
{
    rs->st.pending += n;
    if (rs->st.pending > rs->st.pending_peak) {
        rs->st.pending_peak = rs->st.pending;
    }
}

static void pending_sub(rstore *rs, uint64_t n)
{
    rs->st.pending = rs->st.pending >= n ? rs->st.pending - n : 0;
}

/* Past the bound: the delta is dropped, counted, and said (at most once a minute). */
static int over_bound(rstore *rs, uint64_t extra)
{
    if (rs->author_entries_pending + rs->orphan_buckets + extra <= rs->max_pending) {
        return 0;
    }
    rs->st.dropped_pending++;
    int64_t now = mono(rs);
    if (rs->dropped_logged_ms == 0 || now - rs->dropped_logged_ms >= 60000) {
        rs->dropped_logged_ms = now;
        bv_log(BV_LOG_ERROR, "redis",
               "%s: %" PRIu64 " deltas wait for Redis, the most kept (max_pending); dropping new "
               "ones until it is back (%" PRIu64 " dropped so far)",
               bv_redis_router_addr(rs->conn), rs->author_entries_pending + rs->orphan_buckets,
               rs->st.dropped_pending);
    }
    return 1;
}

/* ---- buckets ---- */

static int push_author(rbucket *b, const uint8_t *author)
{
    if (b->npa == b->cappa) {
        uint32_t nc = b->cappa ? b->cappa * 2 : 8;
        uint8_t *np = realloc(b->pa, (size_t)nc * BV_PSEUDO_LEN);
        if (np == NULL) {
            return BV_ENOMEM;
        }
        b->pa = np;
        b->cappa = nc;
    }
    memcpy(b->pa + (size_t)b->npa * BV_PSEUDO_LEN, author, BV_PSEUDO_LEN);
    b->npa++;
    return BV_OK;
}

static int in_window(const rseries *s, int64_t start)
{
    return s->win_valid && start >= s->win_from &&
           start < s->win_from + (int64_t)s->win_n * s->bucket_ms;
}

/* The bucket leaves the ring: its unsent deltas wait as an orphan item for the next round. */
static void evict(rstore *rs, rseries *s, rbucket *b)
{
    if (in_window(s, b->start)) {
        s->win_valid = 0;
    }
    if (b->pend || b->npa) {
        if (s->norphans == s->caporphans) {
            size_t nc = s->caporphans ? s->caporphans * 2 : 4;
            item *no = realloc(s->orphans, nc * sizeof *no);
            if (no == NULL) {
                goto drop;
            }
            s->orphans = no;
            s->caporphans = nc;
        }
        if (over_bound(rs, 1)) {
            goto drop;
        }
        item *it = &s->orphans[s->norphans++];
        it->start = b->start;
        it->delta = b->pend;
        it->auth = b->pa;
        it->nauth = b->npa;
        rs->orphan_buckets++;
        b->pa = NULL;
        b->npa = b->cappa = 0;
        b->pend = 0;
        return;
    drop:
        pending_sub(rs, b->pend + b->npa);
        rs->author_entries_pending -= b->npa;
        b->pend = 0;
        b->npa = 0;
    }
}

/* The ring's bucket for start, made fresh if its slot holds an older one; NULL when start is
 * older than what the slot holds. */
static rbucket *bucket_for(rstore *rs, rseries *s, int64_t start)
{
    rbucket *b = &s->ring[slot_of(s, start)];
    if (b->start == start) {
        return b;
    }
    if (b->start != INT64_MIN && b->start > start) {
        return NULL;
    }
    if (b->start == INT64_MIN) {
        rs->st.buckets++;
    } else {
        evict(rs, s, b);
    }
    b->start = start;
    b->base = b->infl = b->pend = 0;
    b->npa = 0;
    bv_hll_clear(&b->regs);
    return b;
}

/* ---- the store interface ---- */

static int r_series(bv_store *st, const char *key, int64_t bucket_ms, int64_t keep_ms,
                    int with_authors, uint32_t *id)
{
    rstore *rs = (rstore *)st;
    if (bucket_ms <= 0 || keep_ms < bucket_ms) {
        return BV_EINVAL;
    }
    const char *slash = strrchr(key, '/');
    if (slash == NULL || slash == key || strpbrk(key, "{}") != NULL) {
        return BV_EINVAL; /* the tag is "NS/RULE": braces would break the hash tag */
    }
    for (size_t i = 0; i < rs->nseries; i++) {
        rseries *s = rs->series[i];
        if (s->bucket_ms == bucket_ms && strlen(s->tag) == (size_t)(slash - key) &&
            memcmp(s->tag, key, (size_t)(slash - key)) == 0) {
            *id = (uint32_t)i;
            return BV_OK;
        }
    }
    if (rs->nseries == rs->capseries) {
        size_t nc = rs->capseries ? rs->capseries * 2 : 16;
        rseries **ns = realloc(rs->series, nc * sizeof *ns);
        if (ns == NULL) {
            return BV_ENOMEM;
        }
        rs->series = ns;
        rs->capseries = nc;
    }
    rseries *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return BV_ENOMEM;
    }
    s->rs = rs;
    s->tag = strndup(key, (size_t)(slash - key));
    size_t plen = strlen(s->tag) + 48;
    s->prefix = malloc(plen);
    s->bucket_ms = bucket_ms;
    s->ttl_ms = 2 * keep_ms + 3600000;
    s->nslots = (size_t)(keep_ms / bucket_ms) + 2;
    s->with_authors = with_authors;
    s->ring = calloc(s->nslots, sizeof *s->ring);
    s->newest = s->known_to = INT64_MIN;
    s->stale = 1; /* someone may have counted before us: read the range on the first round */
    s->next_seq = 1;
    if (with_authors) {
        s->win = malloc(sizeof *s->win);
    }
    if (s->tag == NULL || s->prefix == NULL || s->ring == NULL || (with_authors && !s->win)) {
        free(s->tag);
        free(s->prefix);
        free(s->ring);
        free(s->win);
        free(s);
        return BV_ENOMEM;
    }
    if (s->win) {
        bv_hll_sum_init(s->win);
    }
    snprintf(s->prefix, plen, "bv:{%s}:%lld:", s->tag, (long long)bucket_ms);
    for (size_t i = 0; i < s->nslots; i++) {
        s->ring[i].start = INT64_MIN;
    }
    rs->series[rs->nseries] = s;
    *id = (uint32_t)rs->nseries++;
    rs->st.series = rs->nseries;
    return BV_OK;
}

static int r_add(bv_store *st, uint32_t sid, int64_t t_ms, uint32_t n, const uint8_t *author)
{
    rstore *rs = (rstore *)st;
    if (sid >= rs->nseries) {
        return BV_EINVAL;
    }
    rseries *s = rs->series[sid];
    int64_t start = bv_bucket_start(t_ms, s->bucket_ms);
    rbucket *b = bucket_for(rs, s, start);
    if (b == NULL) {
        rs->st.dropped_old++;
        return BV_OK;
    }
    if (start > s->newest) {
        if (s->newest != INT64_MIN) {
            rs->round_soon = 1; /* a bucket closed: flush it now, not at the next tick */
            hold_reads(rs);
        }
        s->newest = start;
    }
    rs->st.adds++;
    b->pend += n;
    pending_add(rs, n);
    s->dirty = 1;
    if (s->with_authors && author) {
        uint32_t reg;
        uint8_t rank;
        bv_hll_hash(author, BV_PSEUDO_LEN, &reg, &rank);
        int r = bv_hll_set(&b->regs, reg, rank);
        if (r < 0) {
            return r;
        }
        if (r == 1) {
            if (in_window(s, start)) {
                bv_hll_sum_set(s->win, reg, rank);
            }
            if (!over_bound(rs, 1)) {
                if (push_author(b, author) != BV_OK) {
                    return BV_ENOMEM;
                }
                rs->author_entries_pending++;
                pending_add(rs, 1);
            }
        }
    }
    if (rs->round_soon) {
        round_kick(rs);
    }
    return BV_OK;
}

static op *op_new(rstore *rs)
{
    op *o = rs->spare;
    if (o) {
        rs->spare = o->next;
        memset(o, 0, sizeof *o);
        o->rs = rs;
        return o;
    }
    o = calloc(1, sizeof *o);
    if (o) {
        o->rs = rs;
    }
    return o;
}

static void op_done(rstore *rs, op *o)
{
    free(o->scope);
    free(o->id);
    free(o->ob_key);
    free(o->ob_alert);
    free(o->ob_targets);
    free(o->ob_owner);
    o->scope = o->id = o->ob_key = o->ob_alert = o->ob_targets = o->ob_owner = NULL;
    o->next = rs->spare;
    rs->spare = o;
}

static int r_read(bv_store *st, uint32_t sid, int64_t from_ms, size_t nbuckets, size_t group,
                  bv_store_read_cb *cb, void *arg)
{
    rstore *rs = (rstore *)st;
    if (rs->closing) {
        return BV_EAGAIN;
    }
    if (sid >= rs->nseries || nbuckets == 0 || nbuckets > rs->series[sid]->nslots ||
        (group && (nbuckets % group != 0 || !rs->series[sid]->with_authors))) {
        return BV_EINVAL;
    }
    op *o = op_new(rs);
    if (o == NULL) {
        return BV_ENOMEM;
    }
    rseries *s = rs->series[sid];
    o->kind = OP_READ;
    o->series = sid;
    o->from_ms = bv_bucket_start(from_ms, s->bucket_ms);
    o->nbuckets = nbuckets;
    o->group = group;
    o->read_cb = cb;
    o->arg = arg;
    int64_t last = o->from_ms + (int64_t)(nbuckets - 1) * s->bucket_ms;
    if (last > s->newest) {
        if (s->newest != INT64_MIN) {
            rs->round_soon = 1;
            hold_reads(rs);
        }
        s->newest = last;
    }
    s->wanted = 1;
    rs->st.reads++;
    o->next = NULL;
    if (rs->tail) {
        rs->tail->next = o;
    } else {
        rs->head = o;
    }
    rs->tail = o;
    if (!rs->hold) {
        event_active(rs->answer_ev, EV_TIMEOUT, 0);
    }
    return BV_OK;
}

static int r_claim(bv_store *st, const char *scope, const char *id, bv_claim_kind kind,
                   int64_t ttl_ms, const bv_claim_outbox *ob, bv_store_claim_cb *cb, void *arg)
{
    rstore *rs = (rstore *)st;
    if (rs->closing) {
        return BV_EAGAIN;
    }
    if (strpbrk(scope, "{}") != NULL || strchr(id, ':') != NULL) {
        return BV_EINVAL;
    }
    op *o = op_new(rs);
    if (o == NULL) {
        return BV_ENOMEM;
    }
    o->kind = OP_CLAIM;
    o->scope = strdup(scope);
    o->id = strdup(id);
    o->claim_kind = kind;
    o->ttl_ms = ttl_ms > 0 ? ttl_ms : 86400000;
    o->claim_cb = cb;
    o->arg = arg;
    if (o->scope == NULL || o->id == NULL) {
        op_done(rs, o);
        return BV_ENOMEM;
    }
    if (ob) {
        o->ob_key = strdup(ob->key);
        o->ob_alert = malloc(ob->alert_len + 1);
        o->ob_targets = strdup(ob->targets ? ob->targets : "");
        o->ob_owner = strdup(ob->owner ? ob->owner : rs->instance);
        if (o->ob_key == NULL || o->ob_alert == NULL || o->ob_targets == NULL ||
            o->ob_owner == NULL) {
            op_done(rs, o);
            return BV_ENOMEM;
        }
        memcpy(o->ob_alert, ob->alert, ob->alert_len);
        o->ob_alert[ob->alert_len] = '\0';
        o->ob_alert_len = ob->alert_len;
        o->ob_at = ob->at_ms;
        o->ob_deadline = ob->deadline_ms;
        o->ob_retention = ob->retention_ms > 0 ? ob->retention_ms : 30LL * 86400000;
        o->ob_lease = ob->lease_ms > 0 ? ob->lease_ms : 30000;
    }
    op **pp = &rs->claims;
    while (*pp) {
        pp = &(*pp)->next;
    }
    *pp = o;
    rs->st.claims++;
    round_request(rs);
    return BV_OK;
}

static int r_drain(bv_store *st, bv_store_done_cb *cb, void *arg)
{
    rstore *rs = (rstore *)st;
    if (rs->closing) {
        return BV_EAGAIN;
    }
    op *o = op_new(rs);
    if (o == NULL) {
        return BV_ENOMEM;
    }
    o->kind = OP_DRAIN;
    o->done_cb = cb;
    o->arg = arg;
    o->gen = rs->round_gen;
    o->next = rs->drains;
    rs->drains = o;
    round_request(rs);
    return BV_OK;
}

/* ---- answering reads from the local view ---- */

static uint64_t bucket_count(const rbucket *b)
{
    return b->base + b->infl + b->pend;
}

static void answer_read(rstore *rs, op *o)
{
    rseries *s = rs->series[o->series];
    if (rs->capcounts < o->nbuckets) {
        uint64_t *nc = realloc(rs->counts, o->nbuckets * sizeof *nc);
        if (nc) {
            rs->counts = nc;
        }
        uint64_t *ng = nc ? realloc(rs->groups, o->nbuckets * sizeof *ng) : NULL;
        if (ng == NULL) {
            o->read_cb(o->arg, BV_ENOMEM, NULL);
            return;
        }
        rs->groups = ng;
        rs->capcounts = o->nbuckets;
    }
    size_t ngroups = o->group ? o->nbuckets / o->group : 0;
    int whole = o->group && o->group == o->nbuckets;
    int cached = whole && s->win_valid && s->win_from == o->from_ms && s->win_n == o->nbuckets;
    bv_hll_sum *sum = whole ? s->win : rs->scratch;
    if (whole && !cached) {
        bv_hll_sum_clear(sum);
        s->win_valid = 0;
    }
    size_t slot = slot_of(s, o->from_ms);
    for (size_t i = 0; i < o->nbuckets; i++, slot = slot + 1 == s->nslots ? 0 : slot + 1) {
        int64_t start = o->from_ms + (int64_t)i * s->bucket_ms;
        const rbucket *b = &s->ring[slot];
        int live = b->start == start;
        rs->counts[i] = live ? bucket_count(b) : 0;
        if (o->group == 0 || cached) {
            continue;
        }
        if (!whole && i % o->group == 0) {
            bv_hll_sum_clear(sum);
        }
        if (live) {
            bv_hll_sum_merge(sum, &b->regs);
        }
        if (!whole && i % o->group == o->group - 1) {
            rs->groups[i / o->group] = bv_hll_sum_count(sum);
        }
    }
    if (whole) {
        s->win_valid = 1;
        s->win_from = o->from_ms;
        s->win_n = o->nbuckets;
        rs->groups[0] = bv_hll_sum_count(sum);
    }
    bv_series_read r = {
        o->from_ms, s->bucket_ms, o->nbuckets, rs->counts, ngroups ? rs->groups : NULL, ngroups};
    o->read_cb(o->arg, BV_OK, &r);
}

static void hold_reads(rstore *rs)
{
    if (!rs->shared || rs->hold) {
        return;
    }
    rs->hold = 1;
    rs->hold_gen = rs->round_gen;
    rs->st.waits++;
    struct timeval tv = {.tv_sec = (time_t)(rs->timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(rs->timeout_ms % 1000) * 1000};
    event_add(rs->hold_ev, &tv);
}

static void release_reads(rstore *rs)
{
    rs->hold = 0;
    event_del(rs->hold_ev);
    if (rs->head) {
        event_active(rs->answer_ev, EV_TIMEOUT, 0);
    }
}

/* Redis did not answer in time: decide on what this process knows. */
static void on_hold_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    release_reads(arg);
}

static void on_answer(evutil_socket_t fd, short what, void *arg)
{
    rstore *rs = arg;
    (void)fd;
    (void)what;
    if (rs->hold) {
        return; /* answered when the round is back */
    }
    op *o = rs->head;
    rs->head = rs->tail = NULL;
    while (o) {
        op *next = o->next;
        answer_read(rs, o);
        op_done(rs, o);
        o = next;
    }
    if (rs->round_soon) {
        round_kick(rs);
    }
}

/* ---- rounds ---- */

/* Moves the series' unsent deltas into its round (a new one: call only when seq == 0). */
/* Author entries one round sends per series, at most: after a long outage a bucket may hold
 * many; Redis refuses commands of more than 1M arguments, and a huge script stalls the server.
 * The rest go in the next round. */
#define ROUND_AUTHORS_MAX 32768

/* Moves up to budget entries of an author list into an item (the whole list when it fits: no
 * copy). The rest stays in the list. */
static int take_authors(item *it, uint8_t **pa, uint32_t *npa, uint32_t *cappa, size_t *budget)
{
    if (*npa <= *budget) {
        it->auth = *pa;
        it->nauth = *npa;
        *budget -= *npa;
        *pa = NULL;
        *npa = 0;
        if (cappa) {
            *cappa = 0;
        }
        return BV_OK;
    }
    size_t k = *budget;
    it->auth = k ? malloc(k * BV_PSEUDO_LEN) : NULL;
    if (k && it->auth == NULL) {
        return BV_ENOMEM;
    }
    if (k) {
        memcpy(it->auth, *pa, k * BV_PSEUDO_LEN);
        memmove(*pa, *pa + k * BV_PSEUDO_LEN, (*npa - k) * BV_PSEUDO_LEN);
    }
    it->nauth = (uint32_t)k;
    *npa -= (uint32_t)k;
    *budget = 0;
    return BV_OK;
}

/* Moves the series' unsent deltas into its round (a new one: call only when seq == 0). */
static int take_round(rseries *s)
{
    size_t need = s->norphans;
    for (size_t i = 0; i < s->nslots; i++) {
        need += s->ring[i].start != INT64_MIN && (s->ring[i].pend || s->ring[i].npa);
    }
    if (need > s->capitems) {
        item *ni = realloc(s->items, need * sizeof *ni);
        if (ni == NULL) {
            return BV_ENOMEM;
        }
        s->items = ni;
        s->capitems = need;
    }
    size_t budget = ROUND_AUTHORS_MAX;
    int left = 0;
    s->nitems = 0;
    size_t kept = 0;
    for (size_t i = 0; i < s->norphans; i++) {
        item *o = &s->orphans[i];
        if (budget == 0 && o->nauth) {
            s->orphans[kept++] = *o; /* the next round's */
            left = 1;
            continue;
        }
        item *it = &s->items[s->nitems++];
        it->start = o->start;
        it->delta = o->delta;
        uint32_t cap = 0;
        if (take_authors(it, &o->auth, &o->nauth, &cap, &budget) != BV_OK) {
            s->nitems--;
            s->orphans[kept++] = *o;
            left = 1;
            continue;
        }
        if (o->nauth) {
            o->delta = 0; /* the count went with the first part */
            s->orphans[kept++] = *o;
            left = 1;
        } else {
            s->rs->orphan_buckets--;
        }
    }
    s->norphans = kept;
    for (size_t i = 0; i < s->nslots; i++) {
        rbucket *b = &s->ring[i];
        if (b->start == INT64_MIN || (!b->pend && !b->npa) || (budget == 0 && !b->pend)) {
            left |= b->start != INT64_MIN && b->npa;
            continue;
        }
        item *it = &s->items[s->nitems++];
        it->start = b->start;
        it->delta = b->pend;
        if (take_authors(it, &b->pa, &b->npa, &b->cappa, &budget) != BV_OK) {
            it->auth = NULL;
            it->nauth = 0;
        }
        left |= b->npa != 0;
        b->infl += b->pend;
        b->pend = 0;
    }
    s->seq = s->nitems ? s->next_seq++ : 0;
    s->dirty = left;
    if (left) {
        s->rs->round_soon = 1;
    }
    return BV_OK;
}

static void items_free(rstore *rs, rseries *s)
{
    for (size_t i = 0; i < s->nitems; i++) {
        rs->author_entries_pending -= s->items[i].nauth;
        free(s->items[i].auth);
    }
    s->nitems = 0;
}

static void on_sync(redisAsyncContext *ac, void *r, void *priv);

static int range_has_item(const rseries *s, int64_t start)
{
    for (size_t i = 0; i < s->nitems; i++) {
        if (s->items[i].start == start) {
            return 1;
        }
    }
    return 0;
}

static int send_sync(rstore *rs, rseries *s)
{
    bv_redis_cmd_reset(rs->cmd);
    int rc = bv_redis_cmd_str(rs->cmd, "EVALSHA");
    rc |= bv_redis_cmd_str(rs->cmd, bv_redis_router_sha(rs->conn, SCRIPT_SYNC));
    size_t nkeys_at = bv_redis_cmd_nargs(rs->cmd);
    rc |= bv_redis_cmd_str(rs->cmd, "0"); /* numkeys, patched below */
    rc |= bv_redis_cmd_fmt(rs->cmd, "%sv", s->prefix);
    rc |= bv_redis_cmd_fmt(rs->cmd, "%ss:%s", s->prefix, rs->instance);
    size_t nb = s->nitems;
    s->sent_stale = s->stale;
    s->nrange = 0;
    if (s->newest != INT64_MIN) {
        int64_t lo = s->newest - (int64_t)(s->nslots - 2) * s->bucket_ms;
        if (!s->stale && s->known_to != INT64_MIN && s->known_to + s->bucket_ms > lo) {
            lo = s->known_to + s->bucket_ms; /* nobody else wrote: only what we never read */
        }
        s->rfrom = lo;
        s->nrange = lo <= s->newest ? (size_t)((s->newest - lo) / s->bucket_ms) + 1 : 0;
    }
    int64_t from = s->rfrom;
    size_t nrange = s->nrange;
    for (size_t i = 0; i < s->nitems; i++) {
        rc |= bv_redis_cmd_fmt(rs->cmd, "%s%lld:n", s->prefix, (long long)s->items[i].start);
        rc |= bv_redis_cmd_fmt(rs->cmd, "%s%lld:a", s->prefix, (long long)s->items[i].start);
    }
    for (size_t i = 0; i < nrange; i++) {
        int64_t start = from + (int64_t)i * s->bucket_ms;
        if (!range_has_item(s, start)) {
            rc |= bv_redis_cmd_fmt(rs->cmd, "%s%lld:n", s->prefix, (long long)start);
            rc |= bv_redis_cmd_fmt(rs->cmd, "%s%lld:a", s->prefix, (long long)start);
            nb++;
        }
    }
    rc |= bv_redis_cmd_fmt(rs->cmd, "%llu", (unsigned long long)s->seq);
    rc |= bv_redis_cmd_fmt(rs->cmd, "%lld", (long long)s->ttl_ms);
    for (size_t i = 0; i < s->nitems; i++) {
        const item *it = &s->items[i];
        const rbucket *b = &s->ring[slot_of(s, it->start)];
        uint64_t expect = b->start == it->start ? b->base + b->infl : 0;
        rc |= bv_redis_cmd_fmt(rs->cmd, "%llu", (unsigned long long)expect);
        rc |= bv_redis_cmd_fmt(rs->cmd, "%llu", (unsigned long long)it->delta);
        rc |= bv_redis_cmd_fmt(rs->cmd, "%u", it->nauth);
        for (uint32_t k = 0; k < it->nauth; k++) {
            rc |= bv_redis_cmd_arg(rs->cmd, it->auth + (size_t)k * BV_PSEUDO_LEN, BV_PSEUDO_LEN);
        }
    }
    for (size_t i = 0; i < nrange; i++) {
        int64_t start = from + (int64_t)i * s->bucket_ms;
        if (!range_has_item(s, start)) {
            const rbucket *b = &s->ring[slot_of(s, start)];
            uint64_t expect = b->start == start ? b->base + b->infl : 0;
            rc |= bv_redis_cmd_fmt(rs->cmd, "%llu", (unsigned long long)expect);
            rc |= bv_redis_cmd_str(rs->cmd, "0");
            rc |= bv_redis_cmd_str(rs->cmd, "0");
        }
    }
    if (rc != 0) {
        return BV_ENOMEM;
    }
    char nk[24];
    int nkl = snprintf(nk, sizeof nk, "%zu", 2 + 2 * nb); /* numkeys, known only now */
    if (bv_redis_cmd_set(rs->cmd, nkeys_at, nk, (size_t)nkl) != BV_OK) {
        return BV_ENOMEM;
    }
    s->on_wire = 1;
    return bv_redis_router_send(rs->conn, 3, on_sync, s);
}

static void on_claim_reply(redisAsyncContext *ac, void *r, void *priv);

static int send_claim(rstore *rs, op *o)
{
    bv_redis_cmd_reset(rs->cmd);
    int rc = bv_redis_cmd_str(rs->cmd, "EVALSHA");
    rc |= bv_redis_cmd_str(rs->cmd, bv_redis_router_sha(rs->conn, SCRIPT_CLAIM));
    rc |= bv_redis_cmd_str(rs->cmd, o->ob_key ? "3" : "1");
    rc |= bv_redis_cmd_fmt(rs->cmd, "bv:{%s}:ep", o->scope);
    if (o->ob_key) {
        rc |= bv_redis_cmd_fmt(rs->cmd, "bv:{%s}:outbox", o->scope);
        rc |= bv_redis_cmd_fmt(rs->cmd, "bv:{%s}:lease:%s", o->scope, o->ob_key);
    }
    rc |= bv_redis_cmd_str(rs->cmd, o->claim_kind == BV_CLAIM_FIRE ? "fire" : "resolve");
    rc |= bv_redis_cmd_str(rs->cmd, o->id);
    rc |= bv_redis_cmd_str(rs->cmd, rs->instance);
    rc |= bv_redis_cmd_fmt(rs->cmd, "%lld", (long long)o->ttl_ms);
    if (o->ob_key) {
        rc |= bv_redis_cmd_str(rs->cmd, o->ob_key);
        rc |= bv_redis_cmd_arg(rs->cmd, o->ob_alert, o->ob_alert_len);
        rc |= bv_redis_cmd_str(rs->cmd, o->ob_targets);
        rc |= bv_redis_cmd_fmt(rs->cmd, "%lld", (long long)o->ob_at);
        rc |= bv_redis_cmd_fmt(rs->cmd, "%lld", (long long)o->ob_deadline);
        rc |= bv_redis_cmd_fmt(rs->cmd, "%lld", (long long)o->ob_retention);
        rc |= bv_redis_cmd_str(rs->cmd, o->ob_owner);
        rc |= bv_redis_cmd_fmt(rs->cmd, "%lld", (long long)o->ob_lease);
    }
    if (rc != 0) {
        return BV_ENOMEM;
    }
    o->on_wire = 1;
    return bv_redis_router_send(rs->conn, 3, on_claim_reply, o);
}

/* Something to send or known to be stale; with learn, also a series read since (has anyone
 * else written?) or with buckets never read. Rounds at a bucket's end only send (unless reads
 * wait for the others); ticks and drains also learn: a process alone on its keys then spends
 * one command per series and round that has deltas, not per series it reads. */
static int series_needs_round(const rseries *s, int learn)
{
    return s->seq != 0 || s->norphans || s->dirty || (s->stale && s->newest != INT64_MIN) ||
           (learn && (s->wanted || (s->newest != INT64_MIN && s->known_to < s->newest)));
}

static void round_done(rstore *rs)
{
    rs->in_round = 0;
    bv_redis_router_guard(rs->conn, 0);
    int64_t ms = mono(rs) - rs->round_started;
    rs->st.flushes++;
    rs->st.flush_ms_last = (double)ms;
    if (ms > rs->st.flush_ms_max) {
        rs->st.flush_ms_max = (double)ms;
    }
    rs->st.flush_ms_avg += ((double)ms - rs->st.flush_ms_avg) / (double)rs->st.flushes;
    bv_redis_router_healthy(rs->conn);
    check_drains(rs);
    if (rs->closing) {
        return;
    }
    if (rs->hold && rs->round_gen > rs->hold_gen) {
        int stale = 0;
        for (size_t i = 0; i < rs->nseries && !stale; i++) {
            stale = rs->series[i]->stale && rs->series[i]->newest != INT64_MIN;
        }
        if (!stale) {
            release_reads(rs);
        }
    }
    int more = rs->round_soon;
    for (size_t i = 0; i < rs->nseries && !more; i++) {
        const rseries *s = rs->series[i];
        more = s->seq != 0 || s->norphans || (s->stale && s->newest != INT64_MIN);
    }
    more |= rs->claims != NULL || rs->drains != NULL;
    if (more) {
        round_kick(rs);
    }
}

/* A round: every series with something to say (or to learn), then the claims. */
static void round_start(rstore *rs, int learn)
{
    if (!bv_redis_router_ready(rs->conn) || rs->in_round || rs->closing) {
        return;
    }
    rs->round_soon = 0;
    event_del(rs->round_ev);
    rs->in_round = 1;
    rs->round_gen++;
    rs->round_out = 0;
    rs->round_started = mono(rs);
    for (size_t i = 0; i < rs->nseries; i++) {
        rseries *s = rs->series[i];
        /* a drain also asks every series whether others wrote, to end on the whole picture */
        if (!series_needs_round(s, learn) && !(rs->drains && s->newest != INT64_MIN)) {
            continue;
        }
        if (s->seq == 0 && take_round(s) != BV_OK) {
            continue; /* out of memory: the deltas stay pending */
        }
        if (learn) {
            s->wanted = 0;
        }
        if (send_sync(rs, s) != BV_OK) {
            s->on_wire = 0;
            bv_redis_router_fail(rs->conn, "cannot send a command");
            return;
        }
        rs->round_out++;
    }
    for (op *o = rs->claims; o; o = o->next) {
        if (!o->on_wire) {
            if (send_claim(rs, o) != BV_OK) {
                o->on_wire = 0;
                bv_redis_router_fail(rs->conn, "cannot send a command");
                return;
            }
            rs->round_out++;
        }
    }
    if (rs->round_out == 0) {
        rs->in_round = 0;
        check_drains(rs);
        return;
    }
    bv_redis_router_guard(rs->conn, rs->timeout_ms);
}

static void on_round_ev(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rstore *rs = arg;
    round_start(rs, rs->hold || rs->drains != NULL);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rstore *rs = arg;
    int any = rs->claims != NULL || rs->drains != NULL;
    for (size_t i = 0; i < rs->nseries && !any; i++) {
        any = series_needs_round(rs->series[i], 1);
    }
    if (any) {
        round_start(rs, 1);
    }
}

/* Starts a round on the next turn, or, within ROUND_GAP_MS of the last one, once the gap has
 * passed: a replay at full speed ends a bucket every few milliseconds, and rounds back to back
 * would cost more than they tell. Reads waiting for the others do not wait for the gap. */
#define ROUND_GAP_MS 10
static void round_kick(rstore *rs)
{
    if (!bv_redis_router_ready(rs->conn) || rs->in_round || rs->closing) {
        return; /* round_done or the handshake kicks again */
    }
    int64_t gap = rs->flush_ms < ROUND_GAP_MS ? rs->flush_ms : ROUND_GAP_MS;
    int64_t wait = rs->round_gen ? rs->round_started + gap - mono(rs) : 0;
    if (wait <= 0 || rs->hold) {
        event_active(rs->round_ev, EV_TIMEOUT, 0);
    } else if (!event_pending(rs->round_ev, EV_TIMEOUT, NULL)) {
        struct timeval tv = {0, (suseconds_t)wait * 1000};
        event_add(rs->round_ev, &tv);
    }
}

static void round_request(rstore *rs)
{
    rs->round_soon = 1;
    round_kick(rs);
}

static void reply_done(rstore *rs)
{
    if (rs->round_out > 0 && --rs->round_out == 0 && rs->in_round) {
        round_done(rs);
    }
}

static int is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void apply_sync(rstore *rs, rseries *s, const redisReply *rep)
{
    /* [prior version, version, (count, raw|nil) per bucket] */
    size_t nb = (rep->elements - 2) / 2;
    int64_t prior = rep->element[0]->integer;
    size_t k = 0;
    int64_t rfrom = s->rfrom;
    for (size_t i = 0; i < nb; i++) {
        int64_t start;
        uint64_t delta = 0;
        if (i < s->nitems) {
            start = s->items[i].start;
            delta = s->items[i].delta;
        } else {
            /* the range buckets that were not items, in order */
            for (;;) {
                start = rfrom + (int64_t)k * s->bucket_ms;
                k++;
                if (!range_has_item(s, start)) {
                    break;
                }
            }
        }
        const redisReply *c = rep->element[2 + 2 * i];
        const redisReply *raw = rep->element[3 + 2 * i];
        rbucket *b = bucket_for(rs, s, start);
        if (b == NULL) {
            continue; /* left the ring meanwhile: nothing to learn */
        }
        b->infl = b->infl >= delta ? b->infl - delta : 0;
        if (c->type == REDIS_REPLY_INTEGER && c->integer >= 0) {
            b->base = (uint64_t)c->integer;
        }
        if (raw->type == REDIS_REPLY_STRING && s->with_authors) {
            if (bv_hll_merge_raw(&b->regs, raw->str, raw->len) != BV_OK) {
                bv_log(BV_LOG_WARN, "redis", "%s: %s%lld:a is not a HyperLogLog; ignored",
                       bv_redis_router_addr(rs->conn), s->prefix, (long long)start);
            }
            if (in_window(s, start)) {
                s->win_valid = 0;
            }
        }
    }
    uint64_t sent = 0;
    for (size_t i = 0; i < s->nitems; i++) {
        sent += s->items[i].delta + s->items[i].nauth;
    }
    pending_sub(rs, sent);
    items_free(rs, s);
    int others = prior != s->version;
    s->version = rep->element[1]->integer;
    if (s->nrange) {
        int64_t to = s->rfrom + (int64_t)(s->nrange - 1) * s->bucket_ms;
        s->known_to = s->known_to == INT64_MIN || to > s->known_to ? to : s->known_to;
    }
    if (s->sent_stale && s->nrange) {
        s->stale = 0; /* read the whole range as of this version */
    } else if (others) {
        s->stale = 1;
    }
    if (others && s->answered) {
        rs->shared = 1; /* another process wrote here since our last round */
    }
    if (!s->answered && prior > 0 && !rs->st.found_counts) {
        rs->st.found_counts = 1; /* counts were there before this process's first round */
        bv_log(BV_LOG_INFO, "redis",
               "%s: bv:{%s} already holds counts (other processes, or an "
               "earlier run under the same name)",
               bv_redis_router_addr(rs->conn), s->tag);
    }
    s->answered = 1;
    s->seq = 0;
}

static int sync_reply_ok(const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 || rep->elements % 2 != 0) {
        return 0;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        int ok = i < 2 || i % 2 == 0 ? e->type == REDIS_REPLY_INTEGER
                                     : e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_NIL;
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static void on_sync(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    rseries *s = priv;
    rstore *rs = s->rs;
    redisReply *rep = r;
    s->on_wire = 0;
    if (rs->closing) {
        return;
    }
    if (rep == NULL) {
        return; /* the connection broke: the round is sent again on the next one */
    }
    if (is_noscript(rep)) {
        if (bv_redis_router_reload_scripts(rs->conn) != BV_OK || send_sync(rs, s) != BV_OK) {
            bv_redis_router_fail(rs->conn, "cannot send a command");
        }
        return; /* still due in this round */
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[256];
        snprintf(why, sizeof why, "round failed: %s", rep->str);
        bv_redis_router_fail(rs->conn, why);
        return;
    }
    if (!sync_reply_ok(rep) || (rep->elements - 2) / 2 < s->nitems) {
        bv_redis_router_fail(rs->conn, "unexpected reply to a round");
        return;
    }
    apply_sync(rs, s, rep);
    reply_done(rs);
}

static void on_claim_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    op *o = priv;
    rstore *rs = o->rs;
    redisReply *rep = r;
    o->on_wire = 0;
    if (rs->closing || rep == NULL) {
        return; /* closing: answered at teardown; broken: sent again */
    }
    if (is_noscript(rep)) {
        if (bv_redis_router_reload_scripts(rs->conn) != BV_OK || send_claim(rs, o) != BV_OK) {
            bv_redis_router_fail(rs->conn, "cannot send a command");
        }
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_STRING) {
        char why[256];
        snprintf(why, sizeof why, "claim failed: %s",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        bv_redis_router_fail(rs->conn, why);
        return;
    }
    op **pp = &rs->claims;
    while (*pp && *pp != o) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = o->next;
    }
    char winner[128];
    snprintf(winner, sizeof winner, "%.*s", (int)rep->element[1]->len, rep->element[1]->str);
    o->claim_cb(o->arg, BV_OK, rep->element[0]->integer == 1, winner);
    op_done(rs, o);
    reply_done(rs);
}

/* Drains complete once nothing waits: no deltas, no round unacknowledged, no claims, and the
 * view holds what others wrote up to the last round. */
static void check_drains(rstore *rs)
{
    if (rs->drains == NULL || rs->in_round || rs->claims != NULL) {
        return;
    }
    for (size_t i = 0; i < rs->nseries; i++) {
        rseries *s = rs->series[i];
        if (s->seq != 0 || s->norphans || (s->stale && s->newest != INT64_MIN)) {
            return; /* not yet in Redis, or others wrote what we have not read */
        }
        for (size_t j = 0; j < s->nslots; j++) {
            if (s->ring[j].start != INT64_MIN && (s->ring[j].pend || s->ring[j].npa)) {
                return;
            }
        }
    }
    /* only drains asked before a round that has completed since: that round asked every
     * series whether others wrote */
    op *d = rs->drains, *keep = NULL, *done = NULL;
    rs->drains = NULL;
    while (d) {
        op *next = d->next;
        if (rs->round_gen > d->gen) {
            d->next = done;
            done = d;
        } else {
            d->next = keep;
            keep = d;
        }
        d = next;
    }
    rs->drains = keep;
    while (done) {
        op *next = done->next;
        done->done_cb(done->arg, BV_OK);
        op_done(rs, done);
        done = next;
    }
}

/* ---- the connection's news ---- */

static size_t count_ops(const op *o)
{
    size_t n = 0;
    for (; o; o = o->next) {
        n++;
    }
    return n;
}

/* The connection failed: what was on the wire goes again on the next one. */
static void on_down(void *arg, const char *why, int was_ready)
{
    rstore *rs = arg;
    if (rs->closing) {
        return;
    }
    rs->in_round = 0;
    rs->round_out = 0;
    for (size_t i = 0; i < rs->nseries; i++) {
        rs->series[i]->on_wire = 0;
    }
    for (op *o = rs->claims; o; o = o->next) {
        o->on_wire = 0;
    }
    /* said when it goes, then once a minute while it stays away */
    int64_t now = mono(rs);
    if (!rs->down_logged || was_ready || now - rs->down_logged_ms >= 60000) {
        bv_log(was_ready ? BV_LOG_WARN : BV_LOG_ERROR, "redis",
               "%s: %s; %" PRIu64 " deltas and %zu claims wait, retrying",
               bv_redis_router_addr(rs->conn), why, rs->st.pending, count_ops(rs->claims));
        rs->down_logged = 1;
        rs->down_logged_ms = now;
    }
}

static void on_ready(void *arg)
{
    rstore *rs = arg;
    bv_redis_router_stats cs;
    bv_redis_router_stats_get(rs->conn, &cs);
    bv_log(cs.reconnects ? BV_LOG_WARN : BV_LOG_INFO, "redis",
           "%s: connected%s; %" PRIu64 " deltas wait", bv_redis_router_addr(rs->conn),
           cs.reconnects ? " again" : "", rs->st.pending);
    rs->down_logged = 0;
    event_active(rs->round_ev, EV_TIMEOUT, 0);
}

/* ---- stats and teardown ---- */

static void r_stats(bv_store *st, bv_store_stats *out)
{
    rstore *rs = (rstore *)st;
    *out = rs->st;
    out->state = bv_redis_router_state(rs->conn);
    bv_redis_router_stats cs;
    bv_redis_router_stats_get(rs->conn, &cs);
    out->commands = cs.commands;
    out->reconnects = cs.reconnects;
    out->errors = cs.errors;
    out->cluster_masters = cs.masters;
    out->moved = cs.moved;
    out->ask = cs.ask;
    out->tryagain = cs.tryagain;
    uint64_t entries = 0;
    for (size_t i = 0; i < rs->nseries; i++) {
        for (size_t j = 0; j < rs->series[i]->nslots; j++) {
            entries += bv_hll_nset(&rs->series[i]->ring[j].regs);
        }
    }
    out->author_entries = entries;
}

static void r_free(bv_store *st)
{
    rstore *rs = (rstore *)st;
    rs->closing = 1;
    bv_redis_router_free(rs->conn); /* replies due come back empty: ignored, we are closing */
    op *o = rs->head;
    rs->head = rs->tail = NULL;
    while (o) {
        op *next = o->next;
        o->read_cb(o->arg, BV_EAGAIN, NULL);
        op_done(rs, o);
        o = next;
    }
    o = rs->claims;
    rs->claims = NULL;
    while (o) {
        op *next = o->next;
        o->claim_cb(o->arg, BV_EAGAIN, 0, NULL);
        op_done(rs, o);
        o = next;
    }
    o = rs->drains;
    rs->drains = NULL;
    while (o) {
        op *next = o->next;
        o->done_cb(o->arg, BV_EAGAIN);
        op_done(rs, o);
        o = next;
    }
    while (rs->spare) {
        op *next = rs->spare->next;
        free(rs->spare);
        rs->spare = next;
    }
    for (size_t i = 0; i < rs->nseries; i++) {
        rseries *s = rs->series[i];
        for (size_t j = 0; j < s->nslots; j++) {
            bv_hll_free(&s->ring[j].regs);
            free(s->ring[j].pa);
        }
        items_free(rs, s);
        for (size_t j = 0; j < s->norphans; j++) {
            free(s->orphans[j].auth);
        }
        free(s->orphans);
        free(s->items);
        free(s->ring);
        free(s->tag);
        free(s->prefix);
        free(s->win);
        free(s);
    }
    free(rs->series);
    struct event *evs[] = {rs->round_ev, rs->tick_ev, rs->answer_ev, rs->hold_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        if (evs[i]) {
            event_free(evs[i]);
        }
    }
    free(rs->counts);
    free(rs->groups);
    free(rs->scratch);
    free(rs);
}

static const bv_store_ops redis_ops = {
    "redis", r_series, r_add, r_read, r_claim, r_drain, r_stats, r_free,
};

bv_store *bv_store_redis_new(struct event_base *base, const bv_store_redis_opts *opts, char *errstr,
                             size_t errlen)
{
    rstore *rs = calloc(1, sizeof *rs);
    if (rs == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    rs->base.ops = &redis_ops;
    rs->clock = opts->clock ? opts->clock : bv_clock_system();
    rs->flush_ms = opts->flush_ms > 0 ? opts->flush_ms : 250;
    rs->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 5000;
    rs->max_pending = opts->max_pending ? opts->max_pending : 1000000;
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        snprintf(errstr, errlen, "no random bytes for the instance id");
        goto fail;
    }
    for (size_t i = 0; i < sizeof rnd; i++) {
        snprintf(rs->instance + 2 * i, 3, "%02x", rnd[i]);
    }
    rs->scratch = malloc(sizeof *rs->scratch);
    rs->round_ev = event_new(base, -1, 0, on_round_ev, rs);
    rs->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, rs);
    rs->answer_ev = event_new(base, -1, 0, on_answer, rs);
    rs->hold_ev = evtimer_new(base, on_hold_timeout, rs);
    if (!rs->scratch || !rs->round_ev || !rs->tick_ev || !rs->answer_ev || !rs->hold_ev) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    bv_hll_sum_init(rs->scratch);
    static const char *const scripts[SCRIPT__COUNT] = {SYNC_LUA, CLAIM_LUA};
    bv_redis_conn_opts co = {
        .addr = opts->addr,
        .password = opts->password,
        .timeout_ms = rs->timeout_ms,
        .scripts = scripts,
        .nscripts = SCRIPT__COUNT,
        .ready = on_ready,
        .down = on_down,
        .arg = rs,
    };
    rs->conn = bv_redis_router_new(base, &co, errstr, errlen);
    if (rs->conn == NULL) {
        goto fail;
    }
    rs->cmd = bv_redis_router_cmd(rs->conn);
    struct timeval tick = {.tv_sec = (time_t)(rs->flush_ms / 1000),
                           .tv_usec = (suseconds_t)(rs->flush_ms % 1000) * 1000};
    event_add(rs->tick_ev, &tick);
    return &rs->base;
fail:
    r_free(&rs->base);
    return NULL;
}
