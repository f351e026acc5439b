/* hll.h: a HyperLogLog register-for-register compatible with Redis 7.0's PFADD/PFCOUNT, so a
 * process can keep a local copy of a Redis HLL key (GET + merge) and count it without asking Redis.
 * A bv_hll owns its memory (bv_hll_free releases it); raw strings and elements are borrowed. */
#ifndef BV_ENGINE_HLL_H
#define BV_ENGINE_HLL_H

#include <stddef.h>
#include <stdint.h>

#define BV_HLL_P 14
#define BV_HLL_REGISTERS 16384 /* 1 << BV_HLL_P */
#define BV_HLL_RANK_MAX 51     /* 64 - P + 1: the largest rank Redis's hash can give */

/* A set of registers: sparse (an open-addressing table of (register, rank), the slot value being
 * reg << 8 | rank, 0 for empty) while at most 1024 registers are set, dense (one byte per
 * register, 16384 bytes) beyond that. A zero-initialised struct is a valid empty HLL. */
typedef struct bv_hll {
    uint8_t *dense;  /* BV_HLL_REGISTERS bytes once dense, else NULL */
    uint32_t *slots; /* sparse table of cap slots (cap 0 or a power of two); NULL once dense */
    uint32_t nset;   /* registers that are not zero */
    uint32_t cap;
} bv_hll;

/* Frees the memory (h itself is the caller's); h is empty and reusable after. */
void bv_hll_free(bv_hll *h);
/* Empties h. Keeps the sparse table; a dense HLL goes back to sparse (its 16 KiB are freed). */
void bv_hll_clear(bv_hll *h);
/* Redis's hash of an element (ele borrowed, len bytes, any bytes): the register index (0..16383)
 * and the rank (1..51), as PFADD computes them: MurmurHash64A with seed 0xadc83b19, low 14 bits
 * the register, then 1 + the number of zero bits above them. */
void bv_hll_hash(const void *ele, size_t len, uint32_t *reg, uint8_t *rank);
/* Sets register reg to max(current, rank). Returns 1 if it grew, 0 if not (rank 0 never grows),
 * BV_ENOMEM (h unchanged), or BV_EINVAL for reg >= 16384 or rank > 51. O(1) amortised. */
int bv_hll_set(bv_hll *h, uint32_t reg, uint8_t rank);
/* bv_hll_hash + bv_hll_set: 1 if a register grew, 0 if not, BV_ENOMEM. */
int bv_hll_add(bv_hll *h, const void *ele, size_t len);
/* Registers that are not zero. */
size_t bv_hll_nset(const bv_hll *h);
/* Calls fn(arg, reg, rank) for every non-zero register, in no particular order. fn must not
 * change h. */
void bv_hll_each(const bv_hll *h, void (*fn)(void *arg, uint32_t reg, uint8_t rank), void *arg);
/* Merges (register-wise max) a raw Redis HLL string (borrowed), as GET returns it for a key that
 * PFADD wrote: a 16-byte header ("HYLL", encoding byte 0 dense or 1 sparse, 3 unused bytes, 8
 * bytes of cached cardinality, all ignored but the magic and encoding), then either exactly
 * 12288 bytes of 6-bit registers packed from the least significant bit, or sparse opcodes (ZERO
 * 00xxxxxx, XZERO 01xxxxxx yyyyyyyy, VAL 1vvvvvxx) that cover exactly 16384 registers.
 * Returns BV_OK; BV_EINVAL for anything malformed, including a dense register above 51, which
 * PFADD never writes (h is unchanged then: the input is checked whole before merging);
 * BV_ENOMEM (h unchanged). */
int bv_hll_merge_raw(bv_hll *h, const void *raw, size_t len);
/* The estimate Redis 7.0's PFCOUNT gives for these registers (Ertl's estimator). */
uint64_t bv_hll_count(const bv_hll *h);

/* A union accumulator for window counts: the registers as 16384 bytes, the registers touched (so
 * clearing costs what was set, not 16384) and the rank histogram kept up to date, so a count
 * costs ~64 steps. It holds no pointers: embed or allocate it as a whole (~48 KiB). */
typedef struct bv_hll_sum {
    uint8_t regs[BV_HLL_REGISTERS];
    uint16_t used[BV_HLL_REGISTERS]; /* the registers that are not zero, nused of them */
    uint32_t nused;
    uint32_t histo[64]; /* histo[r]: registers holding rank r */
} bv_hll_sum;

/* Empties s from any state: histo[0] = 16384. O(16384). */
void bv_hll_sum_init(bv_hll_sum *s);
/* Empties an initialised s. O(nused). */
void bv_hll_sum_clear(bv_hll_sum *s);
/* Register reg becomes max(current, rank): 1 if it grew, 0 if not, BV_EINVAL for reg >= 16384 or
 * rank > 51. */
int bv_hll_sum_set(bv_hll_sum *s, uint32_t reg, uint8_t rank);
/* Register-wise max with h (borrowed). O(registers set) for a sparse h, O(16384) for a dense one.
 */
void bv_hll_sum_merge(bv_hll_sum *s, const bv_hll *h);
/* The same estimate as bv_hll_count, from the histogram. */
uint64_t bv_hll_sum_count(const bv_hll_sum *s);

#endif
