/* test_store_memory.c: the in-process window store: counting, distinct authors, bucket expiry,
 * claims, and the asynchronous contract (answers on a later loop turn, once). */
#include "testutil.h"

#include "storeutil.h"

#include "core/err.h"
#include "engine/post.h"
#include "engine/store_memory.h"

#include <event2/event.h>

static void author(uint8_t a[BV_PSEUDO_LEN], int k)
{
    memset(a, 0, BV_PSEUDO_LEN);
    a[0] = (uint8_t)k;
    a[1] = (uint8_t)(k >> 8);
    a[5] = 0x5a;
}

static void test_counts_and_authors(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    bv_store *st = bv_store_memory_new(base);
    assert_non_null(st);
    uint32_t s, s2;
    assert_int_equal(bv_store_series(st, "drill/x/r/60000", 60000, 300000, 1, &s), 0);
    assert_int_equal(bv_store_series(st, "drill/x/r/60000", 60000, 300000, 1, &s2), 0);
    assert_int_equal(s, s2); /* the same key is the same series */
    uint8_t a[BV_PSEUDO_LEN];
    int64_t t0 = 1781258400000; /* a minute boundary */
    for (int i = 0; i < 10; i++) {
        author(a, i % 4); /* 4 distinct authors in minute 0 */
        bv_store_add(st, s, t0 + i * 1000, 1, a);
    }
    for (int i = 0; i < 5; i++) {
        author(a, 3 + i); /* 3 again, and 4..7: 8 distinct over both minutes */
        bv_store_add(st, s, t0 + 60000 + i, 1, a);
    }
    got g = {0};
    assert_int_equal(bv_store_read(st, s, t0 - 60000, 3, 3, read_cb, &g), 0);
    assert_int_equal(g.calls, 0); /* never inside the call */
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.err, 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.from, t0 - 60000);
    assert_int_equal(g.counts[0], 0);
    assert_int_equal(g.counts[1], 10);
    assert_int_equal(g.counts[2], 5);
    assert_int_equal(g.ngroups, 1);
    assert_int_equal(g.authors[0], 8);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.calls, 1); /* exactly once */

    /* authors per bucket, and per group of two buckets */
    memset(&g, 0, sizeof g);
    bv_store_read(st, s, t0, 2, 1, read_cb, &g);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.ngroups, 2);
    assert_int_equal(g.authors[0], 4);
    assert_int_equal(g.authors[1], 5);
    memset(&g, 0, sizeof g);
    bv_store_read(st, s, t0 - 120000, 4, 2, read_cb, &g);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.ngroups, 2);
    assert_int_equal(g.authors[0], 0);
    assert_int_equal(g.authors[1], 8);
    /* groups must divide the range */
    assert_int_equal(bv_store_read(st, s, t0, 3, 2, read_cb, &g), BV_EINVAL);
    bv_store_free(st);
    event_base_free(base);
}

static void test_expiry(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    bv_store *st = bv_store_memory_new(base);
    uint32_t s;
    assert_int_equal(bv_store_series(st, "k", 60000, 120000, 0, &s), 0); /* keeps 2 (+2) buckets */
    int64_t t0 = 0;
    bv_store_add(st, s, t0, 7, NULL);
    bv_store_add(st, s, t0 + 4 * 60000, 1, NULL); /* reuses bucket 0's slot */
    got g = {0};
    bv_store_read(st, s, t0, 1, 0, read_cb, &g);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.counts[0], 0); /* expired, not 7 */
    bv_store_add(st, s, t0, 1, NULL); /* too old now: dropped and counted */
    bv_store_stats ss;
    bv_store_stats_get(st, &ss);
    assert_int_equal(ss.dropped_old, 1);
    /* a read longer than what the series keeps is refused */
    assert_int_equal(bv_store_read(st, s, t0, 100, 0, read_cb, &g), BV_EINVAL);
    assert_int_equal(bv_store_series(st, "bad", 0, 1, 0, &s), BV_EINVAL);
    bv_store_free(st);
    event_base_free(base);
}

static void test_claims_and_teardown(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    bv_store *st = bv_store_memory_new(base);
    got a = {0}, b = {0}, c = {0}, d = {0}, e = {0}, f = {0}, g = {0};
    bv_store_claim(st, "drill/x/r1", "A", BV_CLAIM_FIRE, 1000, claim_cb, &a);
    bv_store_claim(st, "drill/x/r1", "B", BV_CLAIM_FIRE, 1000, claim_cb, &b);
    bv_store_claim(st, "drill/x/r2", "C", BV_CLAIM_FIRE, 1000, claim_cb, &c);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(a.calls + b.calls + c.calls, 3);
    assert_int_equal(a.won, 1);
    assert_int_equal(b.won, 0);         /* one claimant wins the episode... */
    assert_string_equal(b.winner, "A"); /* ...and the other learns its id */
    assert_int_equal(c.won, 1);         /* another rule is another scope */
    /* resolving: only under the firing id, once */
    bv_store_claim(st, "drill/x/r1", "B", BV_CLAIM_RESOLVE, 1000, claim_cb, &d);
    bv_store_claim(st, "drill/x/r1", "A", BV_CLAIM_RESOLVE, 1000, claim_cb, &e);
    bv_store_claim(st, "drill/x/r1", "A", BV_CLAIM_RESOLVE, 1000, claim_cb, &f);
    bv_store_drain(st, done_cb, &g);
    assert_int_equal(g.calls, 0); /* asynchronous */
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(d.won, 0);
    assert_int_equal(e.won, 1);
    assert_int_equal(f.won, 0);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.err, 0);
    /* after the episode resolved, a new one can fire */
    got h = {0};
    bv_store_claim(st, "drill/x/r1", "N", BV_CLAIM_FIRE, 1000, claim_cb, &h);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(h.won, 1);
    assert_string_equal(h.winner, "N");
    /* pending calls answer with an error when the store goes away */
    got p = {0};
    uint32_t s;
    bv_store_series(st, "k", 60000, 60000, 0, &s);
    bv_store_read(st, s, 0, 1, 0, read_cb, &p);
    bv_store_free(st);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.err, BV_EAGAIN);
    event_base_free(base);
}

/* The window's distinct authors are cached between reads of the same range: adds into the
 * range and buckets expiring out of it must keep the answer exact. */
static void test_window_cache(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    bv_store *st = bv_store_memory_new(base);
    uint32_t s;
    assert_int_equal(bv_store_series(st, "w", 60000, 3 * 60000, 1, &s), 0); /* 5 slots */
    uint8_t a[BV_PSEUDO_LEN];
    got g;
    int64_t t0 = 600000;
    for (int i = 0; i < 3; i++) {
        author(a, i);
        bv_store_add(st, s, t0 + i * 60000, 1, a);
    }
    author(a, 5); /* only in the first minute */
    bv_store_add(st, s, t0, 1, a);
    memset(&g, 0, sizeof g);
    bv_store_read(st, s, t0, 3, 3, read_cb, &g);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.authors[0], 4);
    author(a, 7);
    bv_store_add(st, s, t0 + 60000, 1, a); /* into the range: seen by the next read */
    author(a, 0);
    bv_store_add(st, s, t0 + 120000, 1, a);    /* an author already counted */
    bv_store_add(st, s, t0 + 3 * 60000, 1, a); /* outside the range: not counted */
    memset(&g, 0, sizeof g);
    bv_store_read(st, s, t0, 3, 3, read_cb, &g);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.authors[0], 5);
    assert_int_equal(g.counts[1], 2);
    /* five minutes on, the first bucket's slot is reused: the range has lost its authors */
    author(a, 9);
    bv_store_add(st, s, t0 + 5 * 60000, 1, a);
    memset(&g, 0, sizeof g);
    bv_store_read(st, s, t0, 3, 3, read_cb, &g);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.counts[0], 0);
    assert_int_equal(g.authors[0], 4); /* 1, 7 (minute 1), 2, 0 (minute 2): author 5 is gone */
    bv_store_free(st);
    event_base_free(base);
}

/* Distinct authors per group and per window against a brute-force count, on random data with
 * many repeated authors (the scratch sets grow, are cleared and reused across groups and reads,
 * and the window cache is exercised by reads of the same range between adds). */
static uint64_t brute(uint64_t keys[][512], const int *nk, int from, int n)
{
    static uint64_t seen[8192];
    int m = 0;
    for (int b = from; b < from + n; b++) {
        for (int j = 0; j < nk[b]; j++) {
            int dup = 0;
            for (int q = 0; q < m && !dup; q++) {
                dup = seen[q] == keys[b][j];
            }
            if (!dup) {
                seen[m++] = keys[b][j];
            }
        }
    }
    return (uint64_t)m;
}

static void test_authors_against_brute_force(void **state)
{
    (void)state;
    static uint64_t keys[40][512];
    int nk[40] = {0};
    struct event_base *base = event_base_new();
    bv_store *st = bv_store_memory_new(base);
    uint32_t s;
    assert_int_equal(bv_store_series(st, "b", 60000, 40 * 60000, 1, &s), 0);
    uint64_t rng = 88172645463325252ULL;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 600; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int b = (int)(rng % 40);
            uint64_t k = (rng >> 8) % 250 + 1; /* many repeats */
            uint8_t a[BV_PSEUDO_LEN] = {0};
            memcpy(a, &k, sizeof k);
            bv_store_add(st, s, (int64_t)b * 60000 + 17, 1, a);
            int dup = 0;
            for (int j = 0; j < nk[b]; j++) {
                dup |= keys[b][j] == k;
            }
            if (!dup) {
                keys[b][nk[b]++] = k;
            }
        }
        static const size_t groups[] = {1, 2, 5, 10, 20, 40};
        for (size_t gi = 0; gi < sizeof groups / sizeof groups[0]; gi++) {
            got g;
            memset(&g, 0, sizeof g);
            size_t n = groups[gi] == 40 ? 40 : groups[gi] * 4 > 40 ? 40 : groups[gi] * 4;
            assert_int_equal(bv_store_read(st, s, 0, n, groups[gi], read_cb, &g), 0);
            event_base_loop(base, EVLOOP_NONBLOCK);
            assert_int_equal(g.ngroups, n / groups[gi]);
            for (size_t k = 0; k < g.ngroups; k++) {
                assert_int_equal(g.authors[k],
                                 brute(keys, nk, (int)(k * groups[gi]), (int)groups[gi]));
            }
        }
        /* the same window twice, with adds in between (the cache) */
        got g;
        memset(&g, 0, sizeof g);
        bv_store_read(st, s, 10 * 60000, 15, 15, read_cb, &g);
        event_base_loop(base, EVLOOP_NONBLOCK);
        assert_int_equal(g.authors[0], brute(keys, nk, 10, 15));
    }
    bv_store_free(st);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_authors),          cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_claims_and_teardown),         cmocka_unit_test(test_window_cache),
        cmocka_unit_test(test_authors_against_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
