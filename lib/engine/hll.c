/* hll.c: HyperLogLog registers, hashing and counting as Redis 7.0 does them; see hll.h. Sparse
 * HLLs are a small hash table, dense ones one byte per register; a sum keeps its histogram.
 *
 * Why our own: blikveld keeps per-bucket distinct-author counts in Redis (PFADD) and a local copy
 * of the same registers, so the local hash must put every element in the register and rank Redis
 * does, the local estimate must be PFCOUNT's to the unit, and GET's raw string must be readable.
 * No Debian library speaks Redis's HLL (the HLL libraries there use other hashes, register counts
 * and estimators). What is mirrored, from Redis 7.0 src/hyperloglog.c (7.0.15 in Debian 12):
 * - P = 14 (16384 registers), Q = 50; the element hash is MurmurHash64A (seed 0xadc83b19) with
 *   8-byte blocks read little-endian, as Redis reads them on little-endian machines;
 * - register = low 14 bits of the hash, rank = 1 + the trailing zero bits of the other 50
 *   (capped at 51 by a sentinel bit), a register keeping the largest rank seen;
 * - the estimate: Ertl's improved raw estimator from the rank histogram (hllSigma, hllTau,
 *   alpha_inf = 0.5/ln 2), rounded with llroundl and turned into an unsigned 64-bit number
 *   exactly as PFCOUNT does, so the same histogram gives the same answer, bit for bit;
 * - the raw string: "HYLL", encoding byte, 3 unused and 8 cached-cardinality bytes, then dense
 *   6-bit registers packed from the least significant bit, or the ZERO/XZERO/VAL sparse opcodes.
 * We are stricter than Redis on input Redis itself never writes: an XZERO cut off at the end of
 * the string (Redis reads the string's terminating NUL as its second byte) and dense registers
 * above 51 (Redis leaves them out of the estimate) are rejected as malformed. */
#include "engine/hll.h"
#include "core/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HLL_Q (64 - BV_HLL_P)
#define HLL_HDR 16
#define HLL_DENSE_BYTES (BV_HLL_REGISTERS * 6 / 8)
#define HLL_ENC_DENSE 0
#define HLL_ENC_SPARSE 1
/* A sparse HLL goes dense when it would hold more registers than this. Its table then has at most
 * 2048 slots (8 KiB), about what the dense array costs. */
#define HLL_SPARSE_MAX 1024
#define HLL_MIN_CAP 16
/* A table bigger than this is freed by bv_hll_clear, so iterating a cleared HLL stays cheap. */
#define HLL_KEEP_CAP 64
#define HLL_SEED 0xadc83b19u
#define HLL_ALPHA_INF 0.721347520444481703680 /* 0.5 / ln(2) */

/* ------------------------------------------------------------------------------------------- */
/* The hash */

static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

/* Austin Appleby's MurmurHash64A as Redis uses it: blocks of 8 bytes taken little-endian, the
 * 1..7 tail bytes xor-ed in at their little-endian places, then the final avalanche. Redis passes
 * the length as an int; PFADD's elements (at most 512 MB) never notice. */
static uint64_t murmur64a(const uint8_t *p, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ ((uint64_t)len * m);
    size_t blocks = len / 8;
    for (size_t i = 0; i < blocks; i++, p += 8) {
        uint64_t k = load_le64(p);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t tail = len & 7;
    if (tail > 0) {
        for (size_t i = tail; i > 0; i--) {
            h ^= (uint64_t)p[i - 1] << (8 * (i - 1));
        }
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

void bv_hll_hash(const void *ele, size_t len, uint32_t *reg, uint8_t *rank)
{
    uint64_t hash = murmur64a(ele, len, HLL_SEED);
    *reg = (uint32_t)(hash & (BV_HLL_REGISTERS - 1));
    /* the sentinel bit at Q bounds the run of zeros: rank is 1..Q+1 */
    uint64_t rest = (hash >> BV_HLL_P) | ((uint64_t)1 << HLL_Q);
    *rank = (uint8_t)(__builtin_ctzll(rest) + 1);
}

/* ------------------------------------------------------------------------------------------- */
/* The estimator */

/* Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1), summed until it stops changing (as hllSigma). */
static double hll_sigma(double x)
{
    if (x == 1.0) {
        return INFINITY;
    }
    double y = 1.0, z = x, before;
    do {
        x *= x;
        before = z;
        z += x * y;
        y += y;
    } while (before != z);
    return z;
}

/* Ertl's tau(x) = (1 - x - sum_k (1 - x^(2^-k))^2 2^-k) / 3, summed the same way (as hllTau). */
static double hll_tau(double x)
{
    if (x == 0.0 || x == 1.0) {
        return 0.0;
    }
    double y = 1.0, z = 1.0 - x, before;
    do {
        x = sqrt(x);
        before = z;
        y *= 0.5;
        z -= pow(1.0 - x, 2) * y;
    } while (before != z);
    return z / 3.0;
}

/* PFCOUNT's arithmetic from a histogram of ranks (histo[r] registers hold rank r; ranks above
 * Q+1 do not take part). The same double operations in the same order, then llroundl, then the
 * conversion to unsigned: where llroundl overflows (only for register sets PFADD cannot make,
 * such as every register at 51) Redis on x86-64 answers 2^63, and so do we, without the
 * undefined conversion of a negative double. */
static uint64_t hll_estimate(const uint32_t histo[64])
{
    double m = BV_HLL_REGISTERS;
    double z = m * hll_tau((m - histo[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; j--) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * hll_sigma(histo[0] / m);
    double e = (double)llroundl(HLL_ALPHA_INF * m * m / z);
    if (e < 0) {
        return (uint64_t)(int64_t)e;
    }
    return (uint64_t)e;
}

/* ------------------------------------------------------------------------------------------- */
/* Sparse table and dense array */

static uint32_t slot_reg(uint32_t v)
{
    return v >> 8;
}

static uint8_t slot_rank(uint32_t v)
{
    return (uint8_t)(v & 0xff);
}

/* The slot holding reg, or the empty slot where it would go (cap > 0 and never full). */
static uint32_t slot_find(const uint32_t *slots, uint32_t cap, uint32_t reg)
{
    uint32_t mask = cap - 1;
    uint32_t i = (reg * 2654435761u) >> 16 & mask;
    while (slots[i] != 0 && slot_reg(slots[i]) != reg) {
        i = (i + 1) & mask;
    }
    return i;
}

/* The rank register reg holds (0 when unset). */
static uint8_t hll_get(const bv_hll *h, uint32_t reg)
{
    if (h->dense != NULL) {
        return h->dense[reg];
    }
    if (h->cap == 0) {
        return 0;
    }
    return slot_rank(h->slots[slot_find(h->slots, h->cap, reg)]);
}

static int to_dense(bv_hll *h)
{
    uint8_t *d = calloc(BV_HLL_REGISTERS, 1);
    if (d == NULL) {
        return BV_ENOMEM;
    }
    for (uint32_t i = 0; i < h->cap; i++) {
        if (h->slots[i] != 0) {
            d[slot_reg(h->slots[i])] = slot_rank(h->slots[i]);
        }
    }
    free(h->slots);
    h->slots = NULL;
    h->cap = 0;
    h->dense = d;
    return BV_OK;
}

static int regrow(bv_hll *h, uint32_t cap)
{
    uint32_t *s = calloc(cap, sizeof *s);
    if (s == NULL) {
        return BV_ENOMEM;
    }
    for (uint32_t i = 0; i < h->cap; i++) {
        if (h->slots[i] != 0) {
            s[slot_find(s, cap, slot_reg(h->slots[i]))] = h->slots[i];
        }
    }
    free(h->slots);
    h->slots = s;
    h->cap = cap;
    return BV_OK;
}

/* Makes room for `extra` more set registers, so that putting them cannot fail: a bigger table
 * (kept at most half full), or the dense array past HLL_SPARSE_MAX. h is unchanged on
 * BV_ENOMEM (its registers are unchanged in any case). */
static int reserve(bv_hll *h, uint32_t extra)
{
    if (h->dense != NULL || extra == 0) {
        return BV_OK;
    }
    uint32_t want = h->nset + extra;
    if (want > HLL_SPARSE_MAX) {
        return to_dense(h);
    }
    if (want * 2 <= h->cap) {
        return BV_OK;
    }
    uint32_t cap = h->cap ? h->cap : HLL_MIN_CAP;
    while (cap < want * 2) {
        cap *= 2;
    }
    return regrow(h, cap);
}

/* Register-wise max for one register, with room already there for a new one. */
static int put(bv_hll *h, uint32_t reg, uint8_t rank)
{
    if (h->dense != NULL) {
        uint8_t old = h->dense[reg];
        if (rank <= old) {
            return 0;
        }
        h->nset += old == 0;
        h->dense[reg] = rank;
        return 1;
    }
    uint32_t i = slot_find(h->slots, h->cap, reg);
    uint32_t v = h->slots[i];
    if (v != 0 && rank <= slot_rank(v)) {
        return 0;
    }
    h->nset += v == 0;
    h->slots[i] = reg << 8 | rank;
    return 1;
}

/* ------------------------------------------------------------------------------------------- */
/* bv_hll */

void bv_hll_free(bv_hll *h)
{
    free(h->dense);
    free(h->slots);
    memset(h, 0, sizeof *h);
}

void bv_hll_clear(bv_hll *h)
{
    free(h->dense);
    h->dense = NULL;
    if (h->cap > HLL_KEEP_CAP) {
        free(h->slots);
        h->slots = NULL;
        h->cap = 0;
    } else if (h->cap > 0) {
        memset(h->slots, 0, h->cap * sizeof *h->slots);
    }
    h->nset = 0;
}

int bv_hll_set(bv_hll *h, uint32_t reg, uint8_t rank)
{
    if (reg >= BV_HLL_REGISTERS || rank > BV_HLL_RANK_MAX) {
        return BV_EINVAL;
    }
    if (rank == 0) {
        return 0;
    }
    uint8_t old = hll_get(h, reg);
    if (rank <= old) {
        return 0;
    }
    if (old == 0) {
        int rc = reserve(h, 1);
        if (rc != BV_OK) {
            return rc;
        }
    }
    return put(h, reg, rank);
}

int bv_hll_add(bv_hll *h, const void *ele, size_t len)
{
    uint32_t reg;
    uint8_t rank;
    bv_hll_hash(ele, len, &reg, &rank);
    return bv_hll_set(h, reg, rank);
}

size_t bv_hll_nset(const bv_hll *h)
{
    return h->nset;
}

void bv_hll_each(const bv_hll *h, void (*fn)(void *arg, uint32_t reg, uint8_t rank), void *arg)
{
    if (h->dense != NULL) {
        for (uint32_t r = 0; r < BV_HLL_REGISTERS; r++) {
            if (h->dense[r] != 0) {
                fn(arg, r, h->dense[r]);
            }
        }
        return;
    }
    for (uint32_t i = 0; i < h->cap; i++) {
        if (h->slots[i] != 0) {
            fn(arg, slot_reg(h->slots[i]), slot_rank(h->slots[i]));
        }
    }
}

static void histo_of(const bv_hll *h, uint32_t histo[64])
{
    memset(histo, 0, 64 * sizeof *histo);
    if (h->dense != NULL) {
        for (uint32_t r = 0; r < BV_HLL_REGISTERS; r++) {
            histo[h->dense[r]]++;
        }
        return;
    }
    histo[0] = BV_HLL_REGISTERS - h->nset;
    for (uint32_t i = 0; i < h->cap; i++) {
        if (h->slots[i] != 0) {
            histo[slot_rank(h->slots[i])]++;
        }
    }
}

uint64_t bv_hll_count(const bv_hll *h)
{
    uint32_t histo[64];
    histo_of(h, histo);
    return hll_estimate(histo);
}

/* ------------------------------------------------------------------------------------------- */
/* Raw Redis strings */

typedef void raw_visit(void *arg, uint32_t reg, uint8_t rank);

/* Walks the non-zero registers of a raw string, checking it as it goes: BV_OK when the whole
 * string is valid, else BV_EINVAL (fn may have seen some registers by then). */
static int raw_walk(const uint8_t *raw, size_t len, raw_visit *fn, void *arg)
{
    if (len < HLL_HDR || memcmp(raw, "HYLL", 4) != 0) {
        return BV_EINVAL;
    }
    const uint8_t *p = raw + HLL_HDR, *end = raw + len;
    if (raw[4] == HLL_ENC_DENSE) {
        if (len != HLL_HDR + HLL_DENSE_BYTES) {
            return BV_EINVAL;
        }
        /* 4 registers in every 3 bytes, from the least significant bit up */
        for (uint32_t r = 0; r < BV_HLL_REGISTERS; r += 4, p += 3) {
            uint8_t v[4] = {
                (uint8_t)(p[0] & 63),
                (uint8_t)((p[0] >> 6 | p[1] << 2) & 63),
                (uint8_t)((p[1] >> 4 | p[2] << 4) & 63),
                (uint8_t)(p[2] >> 2),
            };
            for (uint32_t k = 0; k < 4; k++) {
                if (v[k] > BV_HLL_RANK_MAX) {
                    return BV_EINVAL;
                }
                if (v[k] != 0) {
                    fn(arg, r + k, v[k]);
                }
            }
        }
        return BV_OK;
    }
    if (raw[4] != HLL_ENC_SPARSE) {
        return BV_EINVAL;
    }
    /* every opcode covers at least one register in at most two bytes */
    if (len - HLL_HDR > 2 * (size_t)BV_HLL_REGISTERS) {
        return BV_EINVAL;
    }
    uint32_t idx = 0;
    while (p < end) {
        uint8_t op = *p;
        if ((op & 0xc0) == 0) { /* ZERO: 00xxxxxx, 1..64 zero registers */
            idx += (uint32_t)(op & 63) + 1;
            p++;
        } else if ((op & 0xc0) == 0x40) { /* XZERO: 01xxxxxx yyyyyyyy, 1..16384 */
            if (end - p < 2) {
                return BV_EINVAL;
            }
            idx += ((uint32_t)(op & 63) << 8 | p[1]) + 1;
            p += 2;
        } else { /* VAL: 1vvvvvxx, 1..4 registers at 1..32 */
            uint32_t run = (uint32_t)(op & 3) + 1;
            uint8_t val = (uint8_t)(((op >> 2) & 31) + 1);
            if (idx + run > BV_HLL_REGISTERS) {
                return BV_EINVAL;
            }
            for (uint32_t k = 0; k < run; k++) {
                fn(arg, idx + k, val);
            }
            idx += run;
            p++;
        }
        if (idx > BV_HLL_REGISTERS) {
            return BV_EINVAL;
        }
    }
    return idx == BV_HLL_REGISTERS ? BV_OK : BV_EINVAL;
}

typedef struct count_new {
    const bv_hll *h;
    uint32_t n;
} count_new;

/* First pass: how many registers would go from zero to set. */
static void visit_count_new(void *arg, uint32_t reg, uint8_t rank)
{
    count_new *c = arg;
    c->n += hll_get(c->h, reg) == 0;
}

static void visit_put(void *arg, uint32_t reg, uint8_t rank)
{
    put(arg, reg, rank);
}

/* Two walks: the first checks the whole string and counts the new registers, so the room is
 * made (the only step that can fail) before the second changes anything. */
int bv_hll_merge_raw(bv_hll *h, const void *raw, size_t len)
{
    if (raw == NULL && len > 0) {
        return BV_EINVAL;
    }
    count_new c = {h, 0};
    int rc = raw_walk(raw, len, visit_count_new, &c);
    if (rc != BV_OK) {
        return rc;
    }
    rc = reserve(h, c.n);
    if (rc != BV_OK) {
        return rc;
    }
    raw_walk(raw, len, visit_put, h);
    return BV_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* bv_hll_sum */

void bv_hll_sum_init(bv_hll_sum *s)
{
    memset(s->regs, 0, sizeof s->regs);
    s->nused = 0;
    memset(s->histo, 0, sizeof s->histo);
    s->histo[0] = BV_HLL_REGISTERS;
}

void bv_hll_sum_clear(bv_hll_sum *s)
{
    for (uint32_t i = 0; i < s->nused; i++) {
        s->regs[s->used[i]] = 0;
    }
    s->nused = 0;
    memset(s->histo, 0, sizeof s->histo);
    s->histo[0] = BV_HLL_REGISTERS;
}

static int sum_put(bv_hll_sum *s, uint32_t reg, uint8_t rank)
{
    uint8_t old = s->regs[reg];
    if (rank <= old) {
        return 0;
    }
    if (old == 0) {
        s->used[s->nused++] = (uint16_t)reg;
    }
    s->histo[old]--;
    s->histo[rank]++;
    s->regs[reg] = rank;
    return 1;
}

int bv_hll_sum_set(bv_hll_sum *s, uint32_t reg, uint8_t rank)
{
    if (reg >= BV_HLL_REGISTERS || rank > BV_HLL_RANK_MAX) {
        return BV_EINVAL;
    }
    return sum_put(s, reg, rank);
}

void bv_hll_sum_merge(bv_hll_sum *s, const bv_hll *h)
{
    if (h->dense != NULL) {
        for (uint32_t r = 0; r < BV_HLL_REGISTERS; r++) {
            if (h->dense[r] > s->regs[r]) {
                sum_put(s, r, h->dense[r]);
            }
        }
        return;
    }
    for (uint32_t i = 0; i < h->cap; i++) {
        uint32_t v = h->slots[i];
        if (v != 0) {
            sum_put(s, slot_reg(v), slot_rank(v));
        }
    }
}

uint64_t bv_hll_sum_count(const bv_hll_sum *s)
{
    return hll_estimate(s->histo);
}
