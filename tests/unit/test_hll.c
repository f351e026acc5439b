/* test_hll.c: the Redis-compatible HyperLogLog (lib/engine/hll.h) against a real redis-server:
 * hashes vs PFDEBUG GETREG, counts vs PFCOUNT, raw GET strings (sparse and dense) merged, unions
 * vs multi-key PFCOUNT, crafted register sets vs PFCOUNT, and malformed raw strings. */
#include "testutil.h"

#include "core/err.h"
#include "engine/hll.h"
#include "redisutil.h"

#include <hiredis/hiredis.h>

#define NREG BV_HLL_REGISTERS
#define RAW_DENSE_LEN (16 + NREG * 6 / 8)

static tu_redis g_redis;
static int g_redis_up;
static redisContext *g_rc;

/* ------------------------------------------------------------------------------------------- */
/* helpers */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_bytes(uint64_t *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)rng_next(s);
    }
}

static redisContext *redis(void)
{
    if (!g_redis_up) {
        fail_msg("redis-server could not be started (is the redis-server package installed?)");
    }
    return g_rc;
}

/* A command that must not fail; caller frees the reply. */
static redisReply *cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(redis(), fmt, ap);
    va_end(ap);
    if (rep == NULL) {
        fail_msg("redis: %s", g_rc->errstr);
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        fail_msg("redis error for %s: %s", fmt, rep->str);
    }
    return rep;
}

static redisReply *cmd_argv(int argc, const char **argv, const size_t *lens)
{
    redisReply *rep = redisCommandArgv(redis(), argc, argv, lens);
    if (rep == NULL) {
        fail_msg("redis: %s", g_rc->errstr);
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        fail_msg("redis error for %s: %s", argv[0], rep->str);
    }
    return rep;
}

static long long cmd_int(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(redis(), fmt, ap);
    va_end(ap);
    assert_non_null(rep);
    if (rep->type != REDIS_REPLY_INTEGER) {
        fail_msg("redis: %s gave type %d (%s)", fmt, rep->type,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    }
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

/* GET key: a malloc'd copy of the raw string. */
static uint8_t *get_raw(const char *key, size_t *len)
{
    redisReply *rep = cmd("GET %s", key);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    uint8_t *raw = malloc(rep->len ? rep->len : 1);
    assert_non_null(raw);
    memcpy(raw, rep->str, rep->len);
    *len = rep->len;
    freeReplyObject(rep);
    return raw;
}

/* PFADD key e[0..n) in batches; n = 0 still creates the key. */
static void pfadd(const char *key, uint8_t (*e)[16], size_t n)
{
    enum { BATCH = 1000 };
    const char *argv[BATCH + 2];
    size_t lens[BATCH + 2];
    argv[0] = "PFADD";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = strlen(key);
    size_t off = 0;
    do {
        size_t k = n - off < BATCH ? n - off : BATCH;
        for (size_t i = 0; i < k; i++) {
            argv[2 + i] = (const char *)e[off + i];
            lens[2 + i] = 16;
        }
        freeReplyObject(cmd_argv((int)(2 + k), argv, lens));
        off += k;
    } while (off < n);
}

static void put_reg(void *arg, uint32_t reg, uint8_t rank)
{
    uint8_t *regs = arg;
    assert_true(reg < NREG);
    assert_true(rank >= 1 && rank <= BV_HLL_RANK_MAX);
    /* each register is visited once */
    assert_int_equal(regs[reg], 0);
    regs[reg] = rank;
}

/* The registers of h as 16384 bytes, checked against bv_hll_nset. */
static void regs_of(const bv_hll *h, uint8_t *regs)
{
    memset(regs, 0, NREG);
    bv_hll_each(h, put_reg, regs);
    size_t n = 0;
    for (uint32_t i = 0; i < NREG; i++) {
        n += regs[i] != 0;
    }
    assert_int_equal(n, bv_hll_nset(h));
}

static void assert_same_regs(const bv_hll *a, const bv_hll *b)
{
    static uint8_t ra[NREG], rb[NREG];
    regs_of(a, ra);
    regs_of(b, rb);
    assert_memory_equal(ra, rb, NREG);
}

/* The registers Redis holds for key, by PFDEBUG GETREG (which makes the key dense). */
static void redis_getreg(const char *key, uint8_t *regs)
{
    redisReply *rep = cmd("PFDEBUG GETREG %s", key);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, NREG);
    for (size_t i = 0; i < NREG; i++) {
        assert_int_equal(rep->element[i]->type, REDIS_REPLY_INTEGER);
        regs[i] = (uint8_t)rep->element[i]->integer;
    }
    freeReplyObject(rep);
}

static void hll_from_regs(bv_hll *h, const uint8_t *regs)
{
    for (uint32_t i = 0; i < NREG; i++) {
        assert_true(bv_hll_set(h, i, regs[i]) >= 0);
    }
}

/* Our own encoders for raw strings, to hand Redis register sets PFADD would take ages to make.
 * The cached cardinality is marked stale, so PFCOUNT computes it. */
static void raw_header(uint8_t *out, uint8_t enc)
{
    memset(out, 0, 16);
    memcpy(out, "HYLL", 4);
    out[4] = enc;
    out[15] = 0x80;
}

static void enc_dense(const uint8_t *regs, uint8_t *out)
{
    raw_header(out, 0);
    uint8_t *p = out + 16;
    memset(p, 0, NREG * 6 / 8);
    for (uint32_t i = 0; i < NREG; i++) {
        uint32_t bit = i * 6;
        uint32_t v = (uint32_t)regs[i] << (bit & 7);
        p[bit / 8] |= (uint8_t)v;
        if ((bit & 7) > 2) {
            p[bit / 8 + 1] |= (uint8_t)(v >> 8);
        }
    }
}

/* regs at most 32; out has room for 16 + 2 * 16384 bytes. Returns the length. */
static size_t enc_sparse(const uint8_t *regs, uint8_t *out)
{
    raw_header(out, 1);
    size_t n = 16;
    uint32_t i = 0;
    while (i < NREG) {
        uint32_t j = i;
        if (regs[i] == 0) {
            while (j < NREG && regs[j] == 0) {
                j++;
            }
            uint32_t run = j - i;
            while (run > 0) {
                if (run > 64) {
                    uint32_t k = run > 16384 ? 16384 : run;
                    out[n++] = (uint8_t)(0x40 | (k - 1) >> 8);
                    out[n++] = (uint8_t)((k - 1) & 0xff);
                    run -= k;
                } else {
                    out[n++] = (uint8_t)(run - 1);
                    run = 0;
                }
            }
        } else {
            assert_true(regs[i] <= 32);
            while (j < NREG && j - i < 4 && regs[j] == regs[i]) {
                j++;
            }
            out[n++] = (uint8_t)(0x80 | (regs[i] - 1) << 2 | (j - i - 1));
        }
        i = j;
    }
    return n;
}

/* An independent reading of a raw string, for random inputs: 0 with regs, or -1. */
static int ref_decode(const uint8_t *raw, size_t len, uint8_t *regs)
{
    memset(regs, 0, NREG);
    if (len < 16 || memcmp(raw, "HYLL", 4) != 0) {
        return -1;
    }
    if (raw[4] == 0) {
        if (len != RAW_DENSE_LEN) {
            return -1;
        }
        for (uint32_t i = 0; i < NREG; i++) {
            uint32_t bit = i * 6, v = raw[16 + bit / 8] >> (bit & 7);
            if ((bit & 7) > 2) {
                v |= (uint32_t)raw[16 + bit / 8 + 1] << (8 - (bit & 7));
            }
            regs[i] = (uint8_t)(v & 63);
            if (regs[i] > 51) {
                return -1;
            }
        }
        return 0;
    }
    if (raw[4] != 1) {
        return -1;
    }
    size_t pos = 16;
    long idx = 0;
    while (pos < len) {
        uint8_t b = raw[pos];
        if (b >= 0x80) {
            long run = (b & 3) + 1;
            for (long k = 0; k < run; k++) {
                if (idx + k >= NREG) {
                    return -1;
                }
                regs[idx + k] = (uint8_t)(((b >> 2) & 31) + 1);
            }
            idx += run;
            pos++;
        } else if (b >= 0x40) {
            if (pos + 1 >= len) {
                return -1;
            }
            idx += ((long)(b & 63) << 8) + raw[pos + 1] + 1;
            pos += 2;
        } else {
            idx += b + 1;
            pos++;
        }
    }
    return idx == NREG ? 0 : -1;
}

/* Whether the last opcode of a sparse string is an XZERO missing its second byte. */
static int ends_in_cut_xzero(const uint8_t *raw, size_t len)
{
    size_t pos = 16;
    while (pos < len) {
        if ((raw[pos] & 0xc0) == 0x40) {
            if (pos + 1 == len) {
                return 1;
            }
            pos += 2;
        } else {
            pos++;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------- */
/* group setup: one redis-server for the file */

static int group_setup(void **state)
{
    if (tu_redis_start(&g_redis, NULL) != 0) {
        return 0; /* the tests that need it fail */
    }
    g_rc = redisConnectUnix(g_redis.sock);
    if (g_rc == NULL || g_rc->err) {
        fprintf(stderr, "test_hll: cannot connect to %s\n", g_redis.sock);
        return 0;
    }
    g_redis_up = 1;
    return 0;
}

static int group_teardown(void **state)
{
    if (g_rc != NULL) {
        redisFree(g_rc);
        g_rc = NULL;
    }
    tu_redis_stop(&g_redis);
    return 0;
}

/* ------------------------------------------------------------------------------------------- */
/* without redis */

static void test_set_basics(void **state)
{
    bv_hll h = {0};
    assert_int_equal(bv_hll_nset(&h), 0);
    assert_int_equal(bv_hll_count(&h), 0);
    assert_int_equal(bv_hll_set(&h, NREG, 1), BV_EINVAL);
    assert_int_equal(bv_hll_set(&h, 0, BV_HLL_RANK_MAX + 1), BV_EINVAL);
    assert_int_equal(bv_hll_set(&h, 5, 0), 0);
    assert_int_equal(bv_hll_nset(&h), 0);
    assert_int_equal(bv_hll_set(&h, 5, 3), 1);
    assert_int_equal(bv_hll_set(&h, 5, 3), 0);
    assert_int_equal(bv_hll_set(&h, 5, 2), 0);
    assert_int_equal(bv_hll_set(&h, 5, 51), 1);
    assert_int_equal(bv_hll_set(&h, NREG - 1, 1), 1);
    assert_int_equal(bv_hll_nset(&h), 2);
    static uint8_t regs[NREG];
    regs_of(&h, regs);
    assert_int_equal(regs[5], 51);
    assert_int_equal(regs[NREG - 1], 1);

    /* grow through the sparse table into the dense array; each value stays */
    static uint8_t want[NREG];
    memset(want, 0, sizeof want);
    want[5] = 51;
    want[NREG - 1] = 1;
    uint64_t s = 7;
    for (int i = 0; i < 40000; i++) {
        uint32_t reg = (uint32_t)(rng_next(&s) % NREG);
        uint8_t rank = (uint8_t)(rng_next(&s) % 52);
        int grew = rank > want[reg];
        assert_int_equal(bv_hll_set(&h, reg, rank), grew);
        if (grew) {
            want[reg] = rank;
        }
        if (i % 997 == 0) {
            regs_of(&h, regs);
            assert_memory_equal(regs, want, NREG);
        }
    }
    regs_of(&h, regs);
    assert_memory_equal(regs, want, NREG);

    /* clear empties, reuse works, free leaves an empty reusable struct */
    bv_hll_clear(&h);
    assert_int_equal(bv_hll_nset(&h), 0);
    assert_int_equal(bv_hll_count(&h), 0);
    assert_int_equal(bv_hll_add(&h, "x", 1), 1);
    assert_int_equal(bv_hll_add(&h, "x", 1), 0);
    assert_int_equal(bv_hll_nset(&h), 1);
    assert_int_equal(bv_hll_count(&h), 1);
    bv_hll_free(&h);
    assert_null(h.dense);
    assert_null(h.slots);
    assert_int_equal(bv_hll_nset(&h), 0);
    assert_int_equal(bv_hll_add(&h, "y", 1), 1);
    bv_hll_clear(&h);
    bv_hll_clear(&h);
    bv_hll_free(&h);
    bv_hll_free(&h);
}

/* The same registers counted sparse (few set) and through the sum agree; counts grow with n. */
static void test_sparse_dense_and_sum_agree(void **state)
{
    bv_hll h = {0};
    static bv_hll_sum sum;
    bv_hll_sum_init(&sum);
    uint64_t s = 11, last = 0;
    uint8_t e[16];
    for (int i = 1; i <= 30000; i++) {
        rng_bytes(&s, e, sizeof e);
        assert_true(bv_hll_add(&h, e, sizeof e) >= 0);
        if (i % 500 == 0 || i < 50) {
            bv_hll_sum_clear(&sum);
            bv_hll_sum_merge(&sum, &h);
            uint64_t c = bv_hll_count(&h);
            assert_int_equal(bv_hll_sum_count(&sum), c);
            assert_int_equal(sum.nused, bv_hll_nset(&h));
            /* within 5% of the truth past the first few */
            if (i >= 1000) {
                assert_true(c > (uint64_t)i * 95 / 100 && c < (uint64_t)i * 105 / 100);
            }
            assert_true(c + 30 >= last);
            last = c;
        }
    }
    bv_hll_free(&h);
}

static void test_sum_basics(void **state)
{
    static bv_hll_sum s;
    static const uint8_t zero[NREG];
    memset(&s, 0xa5, sizeof s); /* init works from any state */
    bv_hll_sum_init(&s);
    assert_int_equal(s.histo[0], NREG);
    assert_int_equal(s.nused, 0);
    assert_int_equal(bv_hll_sum_count(&s), 0);
    assert_int_equal(bv_hll_sum_set(&s, NREG, 1), BV_EINVAL);
    assert_int_equal(bv_hll_sum_set(&s, 0, 52), BV_EINVAL);
    assert_int_equal(bv_hll_sum_set(&s, 3, 0), 0);
    assert_int_equal(bv_hll_sum_set(&s, 3, 4), 1);
    assert_int_equal(bv_hll_sum_set(&s, 3, 4), 0);
    assert_int_equal(bv_hll_sum_set(&s, 3, 2), 0);
    assert_int_equal(bv_hll_sum_set(&s, 3, 9), 1);
    assert_int_equal(s.nused, 1);
    assert_int_equal(s.histo[0], NREG - 1);
    assert_int_equal(s.histo[9], 1);
    assert_int_equal(s.histo[4], 0);

    bv_hll h = {0};
    uint64_t r = 3;
    for (int round = 0; round < 3; round++) {
        bv_hll_clear(&h);
        int n = round == 0 ? 50 : round == 1 ? 3000 : 100000;
        for (int i = 0; i < n; i++) {
            uint64_t v = rng_next(&r);
            assert_true(bv_hll_add(&h, &v, sizeof v) >= 0);
        }
        bv_hll_sum_clear(&s);
        assert_int_equal(bv_hll_sum_count(&s), 0);
        bv_hll_sum_merge(&s, &h);
        bv_hll_sum_merge(&s, &h); /* idempotent */
        assert_int_equal(bv_hll_sum_count(&s), bv_hll_count(&h));
        static uint8_t regs[NREG];
        regs_of(&h, regs);
        assert_memory_equal(s.regs, regs, NREG);
        uint32_t total = 0;
        for (int k = 0; k < 64; k++) {
            total += s.histo[k];
        }
        assert_int_equal(total, NREG);

        /* clearing costs what was set and leaves a truly empty sum */
        bv_hll_sum_clear(&s);
        assert_int_equal(s.nused, 0);
        assert_int_equal(s.histo[0], NREG);
        assert_memory_equal(s.regs, zero, NREG);
        assert_int_equal(bv_hll_sum_count(&s), 0);
    }
    bv_hll_free(&h);
}

/* Hashes checked against Redis once (PFADD of the element, PFDEBUG GETREG), kept here so a
 * change shows without a server too. */
static void test_hash_known(void **state)
{
    static const struct {
        const char *ele;
        uint32_t reg;
        uint8_t rank;
    } known[] = {
        {"", 5938, 2},
        {"a", 12711, 2},
        {"hello", 9216, 1},
        {"blikveld", 13853, 1},
        {"0123456789abcdef", 5949, 1},
        {"author:mastodon:12345", 1529, 2},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        uint32_t reg;
        uint8_t rank;
        bv_hll_hash(known[i].ele, strlen(known[i].ele), &reg, &rank);
        if (reg != known[i].reg || rank != known[i].rank) {
            fail_msg("hash of \"%s\": reg %u rank %u, want %u %u", known[i].ele, reg, rank,
                     known[i].reg, known[i].rank);
        }
    }
}

/* ------------------------------------------------------------------------------------------- */
/* against redis-server */

/* Single elements of every length 0..40 (every tail length, several blocks), text and binary. */
static void test_hash_vs_redis(void **state)
{
    static uint8_t regs[NREG];
    uint64_t s = 99;
    uint8_t e[64];
    const char *texts[] = {
        "", "a", "hello", "blikveld", "0123456789abcdef", "author:mastodon:12345"};
    for (int round = 0; round < 3 * 41 + 6; round++) {
        size_t len;
        if (round < 6) {
            len = strlen(texts[round]);
            memcpy(e, texts[round], len);
        } else {
            len = (size_t)(round - 6) % 41;
            rng_bytes(&s, e, len);
        }
        freeReplyObject(cmd("DEL h1"));
        assert_int_equal(cmd_int("PFADD h1 %b", e, len), 1);
        redis_getreg("h1", regs);
        uint32_t reg;
        uint8_t rank;
        bv_hll_hash(e, len, &reg, &rank);
        for (uint32_t i = 0; i < NREG; i++) {
            if (i == reg) {
                assert_int_equal(regs[i], rank);
            } else {
                assert_int_equal(regs[i], 0);
            }
        }
    }
}

typedef struct set_case {
    size_t n;
    int sparse; /* the encoding Redis keeps after PFADD with its default limits */
} set_case;

/* Sets of 16 random bytes per element: counts vs PFCOUNT, raw strings vs local registers. */
static void test_sets_vs_redis(void **state)
{
    static const set_case cases[] = {
        {0, 1},   {1, 1},    {2, 1},    {10, 1},    {25, 1},
        {100, 1}, {1000, 1}, {5000, 0}, {20000, 0}, {100000, 0},
    };
    uint64_t s = 2024;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c].n;
        uint8_t(*e)[16] = malloc((n ? n : 1) * sizeof *e);
        assert_non_null(e);
        for (size_t i = 0; i < n; i++) {
            rng_bytes(&s, e[i], 16);
        }
        freeReplyObject(cmd("DEL s"));
        pfadd("s", e, n);

        /* (a) local adds count what PFCOUNT counts */
        bv_hll local = {0};
        for (size_t i = 0; i < n; i++) {
            assert_true(bv_hll_add(&local, e[i], 16) >= 0);
        }
        long long pf = cmd_int("PFCOUNT s");
        assert_int_equal(bv_hll_count(&local), (uint64_t)pf);

        /* (b) GET's raw string gives the same registers and count */
        size_t len;
        uint8_t *raw = get_raw("s", &len);
        assert_true(len >= 16);
        assert_memory_equal(raw, "HYLL", 4);
        assert_int_equal(raw[4], cases[c].sparse ? 1 : 0);
        bv_hll fromraw = {0};
        assert_int_equal(bv_hll_merge_raw(&fromraw, raw, len), BV_OK);
        assert_same_regs(&fromraw, &local);
        assert_int_equal(bv_hll_count(&fromraw), (uint64_t)pf);
        /* merging the same again changes nothing */
        assert_int_equal(bv_hll_merge_raw(&fromraw, raw, len), BV_OK);
        assert_same_regs(&fromraw, &local);
        assert_int_equal(bv_hll_merge_raw(&local, raw, len), BV_OK);
        assert_same_regs(&fromraw, &local);
        free(raw);

        /* (c) the same key made dense */
        freeReplyObject(cmd("PFDEBUG TODENSE s"));
        raw = get_raw("s", &len);
        assert_int_equal(len, RAW_DENSE_LEN);
        assert_int_equal(raw[4], 0);
        bv_hll fromdense = {0};
        assert_int_equal(bv_hll_merge_raw(&fromdense, raw, len), BV_OK);
        assert_same_regs(&fromdense, &local);
        assert_int_equal(bv_hll_count(&fromdense), (uint64_t)pf);
        assert_int_equal(cmd_int("PFCOUNT s"), pf);
        free(raw);

        /* the estimate through a sum is the same */
        static bv_hll_sum sum;
        bv_hll_sum_init(&sum);
        bv_hll_sum_merge(&sum, &fromdense);
        assert_int_equal(bv_hll_sum_count(&sum), (uint64_t)pf);

        bv_hll_free(&local);
        bv_hll_free(&fromraw);
        bv_hll_free(&fromdense);
        free(e);
    }
}

/* A big sparse string (Redis allowed to keep it sparse), merged into a sparse and a dense HLL. */
static void test_large_sparse_vs_redis(void **state)
{
    freeReplyObject(cmd("CONFIG SET hll-sparse-max-bytes 20000"));
    uint64_t s = 5;
    size_t n = 6000;
    uint8_t(*e)[16] = malloc(n * sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < n; i++) {
        rng_bytes(&s, e[i], 16);
    }
    freeReplyObject(cmd("DEL big"));
    pfadd("big", e, n);
    size_t len;
    uint8_t *raw = get_raw("big", &len);
    assert_int_equal(raw[4], 1);
    assert_true(len > 3000);
    long long pf = cmd_int("PFCOUNT big");

    bv_hll local = {0}, merged = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(bv_hll_add(&local, e[i], 16) >= 0);
    }
    /* into a sparse HLL holding some of them: the union is all of them */
    for (size_t i = 0; i < 200; i++) {
        assert_true(bv_hll_add(&merged, e[i * 7], 16) >= 0);
    }
    assert_int_equal(bv_hll_merge_raw(&merged, raw, len), BV_OK);
    assert_same_regs(&merged, &local);
    assert_int_equal(bv_hll_count(&merged), (uint64_t)pf);
    /* and into a dense one */
    assert_int_equal(bv_hll_merge_raw(&local, raw, len), BV_OK);
    assert_same_regs(&merged, &local);
    free(raw);
    free(e);
    bv_hll_free(&local);
    bv_hll_free(&merged);
    freeReplyObject(cmd("CONFIG SET hll-sparse-max-bytes 3000"));
}

/* (d) Buckets with overlapping authors: a sum of their registers counts what PFCOUNT k1 k2 ...
 * counts, for several subsets, clearing the sum in between. */
static void test_union_vs_redis(void **state)
{
    enum { NB = 5, POOL = 40000 };
    static const size_t from[NB] = {0, 30, 400, 3000, 9000};
    static const size_t count[NB] = {60, 700, 4000, 12000, 30000};
    uint8_t(*pool)[16] = malloc(POOL * sizeof *pool);
    assert_non_null(pool);
    uint64_t s = 77;
    for (size_t i = 0; i < POOL; i++) {
        rng_bytes(&s, pool[i], 16);
    }
    bv_hll b[NB];
    memset(b, 0, sizeof b);
    char key[NB][16];
    for (int k = 0; k < NB; k++) {
        snprintf(key[k], sizeof key[k], "b%d", k);
        freeReplyObject(cmd("DEL %s", key[k]));
        pfadd(key[k], pool + from[k], count[k]);
        if (k % 2 == 0) { /* half built locally, half read back from Redis */
            for (size_t i = 0; i < count[k]; i++) {
                assert_true(bv_hll_add(&b[k], pool[from[k] + i], 16) >= 0);
            }
        } else {
            size_t len;
            uint8_t *raw = get_raw(key[k], &len);
            assert_int_equal(bv_hll_merge_raw(&b[k], raw, len), BV_OK);
            free(raw);
        }
    }
    static bv_hll_sum sum;
    bv_hll_sum_init(&sum);
    static const unsigned subsets[] = {0x1f, 0x03, 0x1c, 0x01, 0x10, 0x0a, 0x15, 0x1e};
    for (size_t t = 0; t < sizeof subsets / sizeof subsets[0]; t++) {
        bv_hll_sum_clear(&sum);
        assert_int_equal(bv_hll_sum_count(&sum), 0);
        const char *argv[NB + 1];
        argv[0] = "PFCOUNT";
        int argc = 1;
        for (int k = 0; k < NB; k++) {
            if (subsets[t] & (1u << k)) {
                bv_hll_sum_merge(&sum, &b[k]);
                argv[argc++] = key[k];
            }
        }
        redisReply *rep = cmd_argv(argc, argv, NULL);
        assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
        assert_int_equal(bv_hll_sum_count(&sum), (uint64_t)rep->integer);
        freeReplyObject(rep);
    }
    for (int k = 0; k < NB; k++) {
        bv_hll_free(&b[k]);
    }
    free(pool);
}

/* Register sets PFADD would need billions of elements for: each written as a dense string with
 * SET, counted by PFCOUNT (one key and two keys) and by us. Covers every rank 0..51, the limits
 * (all 51: llroundl overflows) and histograms of huge cardinalities. */
static void test_estimator_vs_redis(void **state)
{
    static uint8_t regs[NREG], raw[RAW_DENSE_LEN], back[NREG];
    static bv_hll_sum sum;
    uint64_t s = 31337;
    for (int t = 0; t < 48; t++) {
        for (uint32_t i = 0; i < NREG; i++) {
            uint8_t v = 0;
            if (t == 0) {
                v = 0;
            } else if (t == 1) {
                v = 51;
            } else if (t == 2) {
                v = 50;
            } else if (t == 3) {
                v = i < 52 ? (uint8_t)i : 0; /* one register per rank */
            } else if (t == 4) {
                v = (uint8_t)(i % 52);
            } else if (t == 5) {
                v = i == 0 ? 50 : 51;
            } else if (t == 6) {
                v = i == 0 ? 0 : 51;
            } else if (t == 7) {
                v = (uint8_t)(rng_next(&s) % 52);
            } else {
                /* the max of d geometric ranks per register, d from 0 to ~2^40 */
                int shift = (t - 8);
                uint64_t d = (uint64_t)1 << shift; /* expected hits per register */
                int rank = 0;
                if (d <= 64) {
                    for (uint64_t k = 0; k < d; k++) {
                        if (rng_next(&s) % 2 == 0) {
                            continue; /* about half the registers miss each round */
                        }
                        uint64_t h = rng_next(&s) | (1ULL << 50);
                        int r = __builtin_ctzll(h) + 1;
                        rank = r > rank ? r : rank;
                    }
                } else {
                    /* the max of d ranks is about log2(d) plus a geometric spread */
                    uint64_t h = rng_next(&s) | (1ULL << 50);
                    rank = shift + __builtin_ctzll(h) - 1;
                    if (rank > 51) {
                        rank = 51;
                    }
                    if (rank < 1) {
                        rank = 1;
                    }
                }
                v = (uint8_t)rank;
            }
            regs[i] = v;
        }
        enc_dense(regs, raw);
        freeReplyObject(cmd("SET e %b", raw, (size_t)RAW_DENSE_LEN));
        freeReplyObject(cmd("SET e2 %b", raw, (size_t)RAW_DENSE_LEN));
        long long one = cmd_int("PFCOUNT e");
        long long two = cmd_int("PFCOUNT e e2");

        bv_hll h = {0};
        hll_from_regs(&h, regs);
        uint64_t c = bv_hll_count(&h);
        if (c != (uint64_t)one || c != (uint64_t)two) {
            fail_msg("case %d: count %llu, PFCOUNT %lld, PFCOUNT of two %lld", t,
                     (unsigned long long)c, one, two);
        }
        bv_hll_sum_init(&sum);
        bv_hll_sum_merge(&sum, &h);
        assert_int_equal(bv_hll_sum_count(&sum), c);

        /* our dense string reads back as the same registers */
        bv_hll m = {0};
        assert_int_equal(bv_hll_merge_raw(&m, raw, sizeof raw), BV_OK);
        regs_of(&m, back);
        assert_memory_equal(back, regs, NREG);
        bv_hll_free(&m);
        bv_hll_free(&h);
    }
}

/* Our sparse strings of register sets up to 32: Redis accepts them and counts as we do. Random
 * opcode strings: Redis calls them corrupt exactly when we refuse them. */
static void test_sparse_vs_redis(void **state)
{
    static uint8_t regs[NREG], raw[16 + 2 * NREG + 64], back[NREG];
    uint64_t s = 4242;
    for (int t = 0; t < 20; t++) {
        memset(regs, 0, sizeof regs);
        int nset = t * t * 40;
        for (int k = 0; k < nset; k++) {
            uint32_t reg = (uint32_t)(rng_next(&s) % NREG);
            regs[reg] = (uint8_t)(1 + rng_next(&s) % (t < 10 ? 3 : 32));
            if (t % 3 == 0 && reg + 3 < NREG) { /* runs of equal values, for long VALs */
                regs[reg + 1] = regs[reg + 2] = regs[reg + 3] = regs[reg];
            }
        }
        size_t len = enc_sparse(regs, raw);
        freeReplyObject(cmd("SET sp %b", raw, len));
        long long pf = cmd_int("PFCOUNT sp");
        bv_hll h = {0};
        assert_int_equal(bv_hll_merge_raw(&h, raw, len), BV_OK);
        regs_of(&h, back);
        assert_memory_equal(back, regs, NREG);
        assert_int_equal(bv_hll_count(&h), (uint64_t)pf);
        bv_hll_free(&h);
    }

    int valid = 0, invalid = 0;
    for (int t = 0; t < 400; t++) {
        raw_header(raw, 1);
        size_t len = 16;
        long idx = 0;
        /* opcodes until about 16384 registers are covered, then sometimes a nudge */
        while (idx < NREG - 70 && len < sizeof raw - 8) {
            uint64_t r = rng_next(&s);
            switch (r % 3) {
            case 0:
                raw[len++] = (uint8_t)(r >> 8 & 63);
                idx += (long)(r >> 8 & 63) + 1;
                break;
            case 1: {
                uint32_t k = (uint32_t)(r >> 8) % 1500;
                if (idx + (long)k + 1 > NREG - 70) {
                    k = (uint32_t)(NREG - 70 - idx - 1);
                }
                raw[len++] = (uint8_t)(0x40 | k >> 8);
                raw[len++] = (uint8_t)(k & 0xff);
                idx += k + 1;
                break;
            }
            default:
                raw[len++] = (uint8_t)(0x80 | (r >> 8 & 0x7f));
                idx += (long)(r >> 8 & 3) + 1;
                break;
            }
        }
        long left = NREG - idx;
        int how = (int)(rng_next(&s) % 4);
        if (left > 0 && how != 3) {
            long fill = left + (how == 1 ? 1 : how == 2 ? -1 : 0);
            if (fill >= 1) {
                raw[len++] = (uint8_t)(0x40 | (fill - 1) >> 8);
                raw[len++] = (uint8_t)((fill - 1) & 0xff);
            }
        }
        if (t % 10 == 9) {
            raw[len++] = 0x80 | 3; /* a VAL of 4 more registers */
        }
        if (ends_in_cut_xzero(raw, len)) {
            /* Redis reads the string's NUL terminator as the XZERO's second byte; we refuse */
            continue;
        }
        freeReplyObject(cmd("SET rs %b", raw, len));
        redisReply *rep = redisCommand(redis(), "PFCOUNT rs");
        assert_non_null(rep);
        bv_hll h = {0};
        int rc = bv_hll_merge_raw(&h, raw, len);
        int ref = ref_decode(raw, len, regs);
        if (rep->type == REDIS_REPLY_ERROR) {
            assert_int_equal(rc, BV_EINVAL);
            assert_int_equal(ref, -1);
            assert_int_equal(bv_hll_nset(&h), 0);
            invalid++;
        } else {
            assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
            assert_int_equal(rc, BV_OK);
            assert_int_equal(ref, 0);
            regs_of(&h, back);
            assert_memory_equal(back, regs, NREG);
            assert_int_equal(bv_hll_count(&h), (uint64_t)rep->integer);
            valid++;
        }
        freeReplyObject(rep);
        bv_hll_free(&h);
    }
    /* both sides were exercised */
    assert_true(valid > 50);
    assert_true(invalid > 50);
}

/* A merge that fails leaves h exactly as it was. */
static void assert_refused(bv_hll *h, const uint8_t *raw, size_t len)
{
    static uint8_t before[NREG], after[NREG];
    regs_of(h, before);
    size_t n = bv_hll_nset(h);
    uint64_t c = bv_hll_count(h);
    assert_int_equal(bv_hll_merge_raw(h, raw, len), BV_EINVAL);
    regs_of(h, after);
    assert_memory_equal(before, after, NREG);
    assert_int_equal(bv_hll_nset(h), n);
    assert_int_equal(bv_hll_count(h), c);
}

/* Cheaper check for the many truncations: nset and count unchanged, registers checked by a
 * digest. */
static uint64_t regs_digest(const bv_hll *h)
{
    static uint8_t r[NREG];
    regs_of(h, r);
    uint64_t d = 1469598103934665603ULL;
    for (uint32_t i = 0; i < NREG; i++) {
        d = (d ^ r[i]) * 1099511628211ULL;
    }
    return d;
}

static void test_merge_raw_garbage(void **state)
{
    /* valid strings from Redis: sparse (300 elements) and dense (5000) */
    uint64_t s = 8;
    uint8_t(*e)[16] = malloc(5000 * sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < 5000; i++) {
        rng_bytes(&s, e[i], 16);
    }
    freeReplyObject(cmd("DEL g1 g2"));
    pfadd("g1", e, 300);
    pfadd("g2", e, 5000);
    size_t slen, dlen;
    uint8_t *sparse = get_raw("g1", &slen);
    uint8_t *dense = get_raw("g2", &dlen);
    assert_int_equal(sparse[4], 1);
    assert_int_equal(dense[4], 0);
    assert_int_equal(dlen, RAW_DENSE_LEN);

    /* targets: a sparse HLL with a few registers, and a dense one */
    bv_hll hs = {0}, hd = {0};
    for (size_t i = 0; i < 40; i++) {
        assert_true(bv_hll_add(&hs, e[4000 + i], 16) >= 0);
    }
    for (size_t i = 0; i < 3000; i++) {
        uint64_t v = i * 31 + 5;
        assert_true(bv_hll_add(&hd, &v, sizeof v) >= 0);
    }
    assert_non_null(hd.dense);
    uint64_t ds = regs_digest(&hs), dd = regs_digest(&hd);
    size_t ns = bv_hll_nset(&hs), nd = bv_hll_nset(&hd);

    /* every truncation of both is refused, and changes nothing */
    for (size_t cut = 0; cut < slen; cut++) {
        assert_int_equal(bv_hll_merge_raw(&hs, sparse, cut), BV_EINVAL);
        assert_int_equal(bv_hll_merge_raw(&hd, sparse, cut), BV_EINVAL);
    }
    for (size_t cut = 0; cut < dlen; cut++) {
        assert_int_equal(bv_hll_merge_raw(&hs, dense, cut), BV_EINVAL);
        if (cut % 64 == 0) {
            assert_int_equal(bv_hll_merge_raw(&hd, dense, cut), BV_EINVAL);
        }
    }
    assert_int_equal(regs_digest(&hs), ds);
    assert_int_equal(regs_digest(&hd), dd);
    assert_int_equal(bv_hll_nset(&hs), ns);
    assert_int_equal(bv_hll_nset(&hd), nd);
    assert_refused(&hs, sparse, slen - 1);
    assert_refused(&hd, dense, dlen - 1);
    assert_refused(&hs, NULL, 0);

    static uint8_t buf[16 + 2 * NREG + 16];
    bv_hll *targets[2] = {&hs, &hd};
    for (int t = 0; t < 2; t++) {
        bv_hll *h = targets[t];
        /* wrong magic */
        memcpy(buf, sparse, slen);
        buf[0] = 'h';
        assert_refused(h, buf, slen);
        memcpy(buf, dense, dlen);
        buf[3] = 'X';
        assert_refused(h, buf, dlen);
        /* wrong encoding byte */
        for (int enc = 2; enc < 256; enc += 37) {
            memcpy(buf, sparse, slen);
            buf[4] = (uint8_t)enc;
            assert_refused(h, buf, slen);
        }
        memcpy(buf, sparse, slen);
        buf[4] = 0; /* sparse bytes called dense */
        assert_refused(h, buf, slen);
        memcpy(buf, dense, dlen);
        buf[4] = 1; /* dense bytes called sparse */
        assert_refused(h, buf, dlen);
        /* sparse opcodes covering one register more, and one fewer */
        memcpy(buf, sparse, slen);
        buf[slen] = 0x00; /* ZERO:1 */
        assert_refused(h, buf, slen + 1);
        uint8_t few[] = {'H', 'Y', 'L', 'L', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x7f, 0xfe};
        assert_refused(h, few, sizeof few);
        uint8_t more[] = {'H', 'Y', 'L', 'L', 1, 0,    0,    0,    0,   0,
                          0,   0,   0,   0,   0, 0x80, 0x7f, 0xff, 0x80};
        assert_refused(h, more, sizeof more);
        /* XZERO:16383 then VAL of 2 registers: runs past the end */
        uint8_t over[] = {'H', 'Y', 'L', 'L', 1, 0,    0,    0,    0,   0,
                          0,   0,   0,   0,   0, 0x80, 0x7f, 0xfe, 0x81};
        assert_refused(h, over, sizeof over);
        /* XZERO cut after its first byte */
        uint8_t cutx[] = {'H', 'Y', 'L', 'L', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x7f};
        assert_refused(h, cutx, sizeof cutx);
        /* oversized: a dense string one byte long, a sparse one of 2 * 16384 + 1 opcode bytes */
        memcpy(buf, dense, dlen);
        buf[dlen] = 0;
        assert_refused(h, buf, dlen + 1);
        raw_header(buf, 1);
        memset(buf + 16, 0, 2 * NREG + 1);
        assert_refused(h, buf, 16 + 2 * NREG + 1);
        /* dense registers above 51, which PFADD never writes */
        static uint8_t regs[NREG];
        memset(regs, 0, sizeof regs);
        regs[100] = 52;
        enc_dense(regs, buf);
        assert_refused(h, buf, RAW_DENSE_LEN);
        regs[100] = 0;
        regs[NREG - 1] = 63;
        enc_dense(regs, buf);
        assert_refused(h, buf, RAW_DENSE_LEN);
        /* random bytes, with and without a header */
        uint64_t rs = 1000 + (uint64_t)t;
        for (int k = 0; k < 300; k++) {
            size_t len = (size_t)(rng_next(&rs) % (k < 100 ? 64 : 20000));
            rng_bytes(&rs, buf, len);
            if (k >= 200 && len >= 16) {
                memcpy(buf, "HYLL", 4);
                buf[4] = (uint8_t)(k % 2);
            }
            static uint8_t ref[NREG], before[NREG], after[NREG];
            if (ref_decode(buf, len, ref) != 0) {
                assert_refused(h, buf, len);
            } else {
                /* a random string that happens to be valid merges as the reference reads it */
                regs_of(h, before);
                assert_int_equal(bv_hll_merge_raw(h, buf, len), BV_OK);
                regs_of(h, after);
                for (uint32_t i = 0; i < NREG; i++) {
                    assert_int_equal(after[i], before[i] > ref[i] ? before[i] : ref[i]);
                }
            }
        }
    }
    /* the valid strings still merge after all that */
    bv_hll fin = {0};
    assert_int_equal(bv_hll_merge_raw(&fin, sparse, slen), BV_OK);
    assert_int_equal(bv_hll_merge_raw(&fin, dense, dlen), BV_OK);
    assert_int_equal(bv_hll_count(&fin), (uint64_t)cmd_int("PFCOUNT g2 g1 g0"));
    bv_hll_free(&fin);
    free(sparse);
    free(dense);
    free(e);
    bv_hll_free(&hs);
    bv_hll_free(&hd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_basics),
        cmocka_unit_test(test_sparse_dense_and_sum_agree),
        cmocka_unit_test(test_sum_basics),
        cmocka_unit_test(test_hash_known),
        cmocka_unit_test(test_hash_vs_redis),
        cmocka_unit_test(test_sets_vs_redis),
        cmocka_unit_test(test_large_sparse_vs_redis),
        cmocka_unit_test(test_union_vs_redis),
        cmocka_unit_test(test_estimator_vs_redis),
        cmocka_unit_test(test_sparse_vs_redis),
        cmocka_unit_test(test_merge_raw_garbage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
