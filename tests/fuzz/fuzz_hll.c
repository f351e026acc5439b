/* fuzz_hll.c: libFuzzer target for the raw Redis HLL reader (bv_hll_merge_raw in
 * lib/engine/hll.h). The input is merged into an empty HLL and into one holding a few registers;
 * both must agree on validity, a refused input must change nothing, and the counts must agree. */
#include "core/err.h"
#include "engine/hll.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bv_hll_sum g_sum;

static void check_sum(const bv_hll *h)
{
    bv_hll_sum_init(&g_sum);
    bv_hll_sum_merge(&g_sum, h);
    if (bv_hll_sum_count(&g_sum) != bv_hll_count(h) || g_sum.nused != bv_hll_nset(h)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bv_hll h = {0};
    int rc = bv_hll_merge_raw(&h, data, size);
    if (rc != BV_OK && rc != BV_EINVAL) {
        abort();
    }
    if (rc != BV_OK && (bv_hll_nset(&h) != 0 || bv_hll_count(&h) != 0)) {
        abort();
    }
    check_sum(&h);
    if (rc == BV_OK) {
        /* merging the same string again changes nothing */
        size_t n = bv_hll_nset(&h);
        uint64_t c = bv_hll_count(&h);
        if (bv_hll_merge_raw(&h, data, size) != BV_OK || bv_hll_nset(&h) != n ||
            bv_hll_count(&h) != c) {
            abort();
        }
    }

    /* a target that already holds registers: some from the input's own bytes */
    bv_hll g = {0};
    for (size_t i = 0; i + 4 <= size && i < 64; i += 4) {
        if (bv_hll_add(&g, data + i, 4) < 0) {
            abort();
        }
    }
    size_t before_n = bv_hll_nset(&g);
    uint64_t before_c = bv_hll_count(&g);
    int rc2 = bv_hll_merge_raw(&g, data, size);
    if (rc2 != rc) {
        abort();
    }
    if (rc2 != BV_OK && (bv_hll_nset(&g) != before_n || bv_hll_count(&g) != before_c)) {
        abort();
    }
    if (rc2 == BV_OK && (bv_hll_nset(&g) < before_n || bv_hll_nset(&g) < bv_hll_nset(&h))) {
        abort();
    }
    check_sum(&g);
    bv_hll_free(&g);
    bv_hll_free(&h);
    return 0;
}
