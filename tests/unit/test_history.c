/* test_history.c: the per-rule course of the first detector (lib/console/history.h): one point
 * per step keyed by the step's start, the most a step saw and its latest level, gaps, signals out
 * of order, eviction after keep_ms, reloads keeping and dropping rules by id, each detector
 * type's measure (a spike that is not warm has no level), big jumps and negative times, and a
 * long random run against a plain model. */
#include "testutil.h"

#include "console/history.h"
#include "core/err.h"

#include <math.h>

#define MIN 60000

static const char rules_yaml[] =
    "rules:\n"
    "  - id: thr\n"
    "    match: {keyword: a}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 10m, bucket: 1m, count: 10}\n"
    "  - id: auth\n"
    "    match: {keyword: b}\n"
    "    detectors:\n"
    "      - {type: unique_authors, window: 30m, bucket: 1m, count: 25}\n"
    "      - {type: threshold, window: 5m, bucket: 1m, count: 3}\n"
    "  - id: spk\n"
    "    match: {keyword: c}\n"
    "    detectors:\n"
    "      - {type: spike, window: 10m, bucket: 1m, factor: 3, min_count: 10, min_baseline: 2, "
    "baseline: 1h}\n"
    "  - id: grow\n"
    "    match: {keyword: d}\n"
    "    detectors:\n"
    "      - {type: growth, window: 10m, bucket: 1m, periods: 3, min_count: 10, measure: "
    "authors}\n";

static bv_ruleset *load(const char *yaml)
{
    bv_ruleset *rs = NULL;
    bv_diag diag;
    memset(&diag, 0, sizeof diag);
    assert_int_equal(bv_rules_load_buffer(&rs, "t.yaml", yaml, strlen(yaml), &diag), 0);
    return rs;
}

/* A threshold-style evaluation: count against threshold. */
static bv_det_eval ev_count(uint64_t count, uint64_t threshold)
{
    bv_det_eval e;
    memset(&e, 0, sizeof e);
    e.type = BV_DET_THRESHOLD;
    e.window_ms = 10 * MIN;
    e.count = count;
    e.threshold = threshold;
    e.holds = count >= threshold;
    e.warm = 1;
    return e;
}

static void feed(bv_history *h, const bv_ruleset *rs, uint32_t rule, int64_t at_ms,
                 const bv_det_eval *e, int holds)
{
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.rule = rule;
    s.spec = bv_rules_get(rs, rule);
    s.holds = holds;
    s.any_holds = holds;
    s.at_ms = at_ms;
    s.evals = e;
    s.nevals = 1;
    bv_history_signal(h, &s);
}

static void feed_count(bv_history *h, const bv_ruleset *rs, uint32_t rule, int64_t at_ms,
                       uint64_t count, uint64_t threshold)
{
    bv_det_eval e = ev_count(count, threshold);
    feed(h, rs, rule, at_ms, &e, e.holds);
}

/* The points of a rule (caller frees); *n how many. */
static bv_history_point *points(const bv_history *h, uint32_t rule, size_t *n)
{
    *n = bv_history_get(h, rule, NULL, 0);
    bv_history_point *p = calloc(*n ? *n : 1, sizeof *p);
    assert_non_null(p);
    assert_int_equal(bv_history_get(h, rule, p, *n), *n);
    return p;
}

static void test_points_per_step(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    bv_history *h = bv_history_new(rs, MIN, 0);
    assert_non_null(h);
    assert_int_equal(bv_history_step(h), MIN);
    assert_int_equal(bv_history_keep(h), 0);
    int64_t t0 = 1781287200000; /* a whole minute */
    feed_count(h, rs, 0, t0, 1, 10);
    feed_count(h, rs, 0, t0 + 10000, 2, 10);
    feed_count(h, rs, 0, t0 + MIN - 1, 3, 10);
    feed_count(h, rs, 0, t0 + MIN, 4, 10);
    feed_count(h, rs, 0, t0 + 2 * MIN + 5000, 5, 10);
    size_t n;
    bv_history_point *p = points(h, 0, &n);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].t_ms, t0);
    assert_true(p[0].value == 3 && p[0].level == 10 && p[0].holds == 0);
    assert_int_equal(p[1].t_ms, t0 + MIN);
    assert_true(p[1].value == 4);
    assert_int_equal(p[2].t_ms, t0 + 2 * MIN);
    assert_true(p[2].value == 5);
    free(p);

    /* fewer than there are: the oldest ones, and the total */
    bv_history_point two[2];
    memset(two, 0xff, sizeof two);
    assert_int_equal(bv_history_get(h, 0, two, 1), 3);
    assert_int_equal(two[0].t_ms, t0);
    assert_int_equal(two[1].t_ms, -1); /* untouched */

    bv_history_point last;
    assert_int_equal(bv_history_last(h, 0, &last), 1);
    assert_int_equal(last.t_ms, t0 + 2 * MIN);
    /* the other rules have nothing */
    assert_int_equal(bv_history_get(h, 1, NULL, 0), 0);
    assert_int_equal(bv_history_last(h, 1, &last), 0);
    bv_history_free(h);
    bv_rules_free(rs);
}

/* value: the most the step saw; level: of the latest evaluation by event time (of equal times,
 * the one that came last); holds: any. */
static void test_max_last(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    bv_history *h = bv_history_new(rs, MIN, 0);
    assert_non_null(h);
    feed_count(h, rs, 0, 1000, 5, 10);
    feed_count(h, rs, 0, 2000, 12, 10); /* holds */
    feed_count(h, rs, 0, 3000, 7, 20);  /* the level changed (a reload) */
    bv_history_point p;
    assert_int_equal(bv_history_last(h, 0, &p), 1);
    assert_true(p.value == 12);
    assert_true(p.level == 20);
    assert_int_equal(p.holds, 1);
    /* an earlier evaluation arriving late raises the value but not the level */
    feed_count(h, rs, 0, 1500, 15, 30);
    assert_int_equal(bv_history_last(h, 0, &p), 1);
    assert_true(p.value == 15);
    assert_true(p.level == 20);
    /* the same time again: the one that came last */
    feed_count(h, rs, 0, 3000, 1, 25);
    assert_int_equal(bv_history_last(h, 0, &p), 1);
    assert_true(p.value == 15);
    assert_true(p.level == 25);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 1);

    /* holds is the rule's verdict, not the detector's */
    feed_count(h, rs, 1, 1000, 50, 10);
    bv_det_eval e = ev_count(50, 10);
    feed(h, rs, 2, 1000, &e, 0);
    assert_int_equal(bv_history_last(h, 2, &p), 1);
    assert_int_equal(p.holds, 0);
    bv_history_free(h);
    bv_rules_free(rs);
}

static void test_gaps(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    bv_history *h = bv_history_new(rs, MIN, 6 * 3600000);
    assert_non_null(h);
    int64_t steps[] = {0, 1, 5, 6, 30};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        feed_count(h, rs, 0, steps[i] * MIN + 30000, (uint64_t)i + 1, 10);
    }
    size_t n;
    bv_history_point *p = points(h, 0, &n);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].t_ms, steps[i] * MIN);
        assert_true(p[i].value == (double)(i + 1));
    }
    free(p);
    bv_history_free(h);
    bv_rules_free(rs);
}

static void test_out_of_order(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    bv_history *h = bv_history_new(rs, MIN, 10 * MIN);
    assert_non_null(h);
    feed_count(h, rs, 0, 0, 1, 10);
    feed_count(h, rs, 0, 3 * MIN, 4, 10);
    feed_count(h, rs, 0, 6 * MIN, 7, 10);
    feed_count(h, rs, 0, 1 * MIN, 2, 10); /* a late final: inserted */
    feed_count(h, rs, 0, 5 * MIN, 6, 10);
    feed_count(h, rs, 0, 3 * MIN + 1, 9, 10); /* updates step 3 */
    feed_count(h, rs, 0, -MIN, 99, 10);       /* older than the oldest, still kept: added */
    size_t n;
    bv_history_point *p = points(h, 0, &n);
    assert_int_equal(n, 6);
    int64_t want_t[] = {-MIN, 0, MIN, 3 * MIN, 5 * MIN, 6 * MIN};
    double want_v[] = {99, 1, 2, 9, 6, 7};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].t_ms, want_t[i]);
        assert_true(p[i].value == want_v[i]);
    }
    free(p);
    /* older than kept (10 min behind step 6): ignored */
    feed_count(h, rs, 0, -5 * MIN, 1, 10);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 6);
    /* exactly keep_ms behind: kept */
    feed_count(h, rs, 0, -4 * MIN, 1, 10);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 7);
    bv_history_free(h);
    bv_rules_free(rs);
}

static void test_keep_eviction(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    bv_history *h = bv_history_new(rs, MIN, 5 * MIN);
    assert_non_null(h);
    for (int64_t i = 0; i <= 1000; i++) { /* wraps the ring many times */
        feed_count(h, rs, 0, i * MIN + 7, (uint64_t)i, 10);
    }
    size_t n;
    bv_history_point *p = points(h, 0, &n);
    assert_int_equal(n, 6); /* steps 995..1000 */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].t_ms, (int64_t)(995 + i) * MIN);
        assert_true(p[i].value == (double)(995 + i));
    }
    free(p);
    feed_count(h, rs, 0, 994 * MIN, 1, 10); /* fell out */
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 6);
    feed_count(h, rs, 0, 995 * MIN, 5000, 10); /* still there */
    bv_history_point first;
    assert_int_equal(bv_history_get(h, 0, &first, 1), 6);
    assert_true(first.value == 5000);
    /* a gap evicts by time, not by count */
    feed_count(h, rs, 0, 1003 * MIN, 1, 10);
    p = points(h, 0, &n);
    assert_int_equal(n, 4); /* 998, 999, 1000 are within 5 min of 1003 */
    assert_int_equal(p[0].t_ms, 998 * MIN);
    assert_int_equal(p[2].t_ms, 1000 * MIN);
    assert_int_equal(p[3].t_ms, 1003 * MIN);
    free(p);

    /* keep not a multiple of the step: points with t >= newest - keep */
    bv_history *h2 = bv_history_new(rs, MIN, 150000);
    assert_non_null(h2);
    for (int64_t i = 0; i < 10; i++) {
        feed_count(h2, rs, 0, i * MIN, 1, 10);
    }
    assert_int_equal(bv_history_get(h2, 0, NULL, 0), 3); /* 7, 8, 9 */
    bv_history_free(h2);
    bv_history_free(h);
    bv_rules_free(rs);
}

/* Rules are matched by id: kept ones keep their points (under their new index), removed ones go,
 * new ones start empty, and a rule whose first detector changed type starts again. */
static void test_reload(void **state)
{
    (void)state;
    bv_ruleset *a = load(rules_yaml);
    bv_history *h = bv_history_new(a, MIN, 0);
    assert_non_null(h);
    for (uint32_t r = 0; r < 4; r++) {
        feed_count(h, a, r, 0, r + 1, 10);
        feed_count(h, a, r, MIN, r + 1, 10);
    }
    bv_ruleset *b = load("rules:\n"
                         "  - id: new\n"
                         "    match: {keyword: z}\n"
                         "    detectors:\n"
                         "      - {type: threshold, window: 10m, bucket: 1m, count: 1}\n"
                         "  - id: spk\n"
                         "    match: {keyword: c}\n"
                         "    detectors:\n"
                         "      - {type: threshold, window: 10m, bucket: 1m, count: 1}\n"
                         "  - id: thr\n"
                         "    match: {keyword: a}\n"
                         "    detectors:\n"
                         "      - {type: threshold, window: 10m, bucket: 1m, count: 99}\n"
                         "  - id: grow\n"
                         "    match: {keyword: d}\n"
                         "    detectors:\n"
                         "      - {type: growth, window: 10m, bucket: 1m, periods: 3, "
                         "min_count: 10, measure: authors}\n");
    assert_int_equal(bv_history_reload(h, b), BV_OK);
    bv_rules_free(a);                                   /* the history no longer refers to it */
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 0); /* new */
    assert_int_equal(bv_history_get(h, 1, NULL, 0), 0); /* spk became a threshold: dropped */
    assert_int_equal(bv_history_get(h, 2, NULL, 0), 2); /* thr kept (its count changed) */
    assert_int_equal(bv_history_get(h, 3, NULL, 0), 2); /* grow kept */
    assert_int_equal(bv_history_get(h, 4, NULL, 0), 0); /* beyond the set */
    bv_history_point p;
    assert_int_equal(bv_history_last(h, 2, &p), 1);
    assert_true(p.value == 1);
    /* it goes on under its new index */
    feed_count(h, b, 2, 2 * MIN, 7, 99);
    assert_int_equal(bv_history_get(h, 2, NULL, 0), 3);
    assert_int_equal(bv_history_last(h, 2, &p), 1);
    assert_true(p.value == 7 && p.level == 99);

    /* a signal of the old set's numbering (spec of another rule at that index): ignored */
    bv_ruleset *c = load(rules_yaml);
    bv_det_eval e = ev_count(3, 10);
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.rule = 1;
    s.spec = bv_rules_get(c, 1); /* auth; index 1 is spk now */
    s.at_ms = 5 * MIN;
    s.evals = &e;
    s.nevals = 1;
    bv_history_signal(h, &s);
    assert_int_equal(bv_history_get(h, 1, NULL, 0), 0);
    /* a spec from another load of the same rule (same id) is taken */
    s.rule = 2;
    s.spec = bv_rules_get(c, 0); /* thr */
    bv_history_signal(h, &s);
    assert_int_equal(bv_history_get(h, 2, NULL, 0), 4);
    /* no spec: the index says */
    s.spec = NULL;
    s.rule = 0;
    bv_history_signal(h, &s);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 1);

    /* back to the first set: thr and grow survive again, spk (threshold now) does not carry into
     * a spike, the others start empty */
    assert_int_equal(bv_history_reload(h, c), BV_OK);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 4); /* thr */
    assert_int_equal(bv_history_get(h, 1, NULL, 0), 0); /* auth */
    assert_int_equal(bv_history_get(h, 2, NULL, 0), 0); /* spk */
    assert_int_equal(bv_history_get(h, 3, NULL, 0), 2); /* grow */
    /* an empty set */
    assert_int_equal(bv_history_reload(h, NULL), BV_OK);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 0);
    feed_count(h, c, 0, 0, 1, 1); /* index outside the (empty) set: ignored */
    assert_int_equal(bv_history_reload(h, c), BV_OK);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 0);
    bv_history_free(h);
    bv_rules_free(b);
    bv_rules_free(c);
}

static void test_measures(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    const bv_detector_spec *thr = &bv_rules_get(rs, 0)->detectors[0];
    const bv_detector_spec *auth = &bv_rules_get(rs, 1)->detectors[0];
    const bv_detector_spec *spk = &bv_rules_get(rs, 2)->detectors[0];
    const bv_detector_spec *grow = &bv_rules_get(rs, 3)->detectors[0];
    double v, l;

    /* threshold: count against the threshold, from the real evaluation */
    uint64_t counts[60];
    for (size_t i = 0; i < 60; i++) {
        counts[i] = 1;
    }
    bv_det_eval e;
    assert_true(bv_det_span(thr) <= 60);
    bv_det_evaluate(thr, counts, NULL, 1, &e);
    bv_history_measure(thr, &e, &v, &l);
    assert_true(v == 10 && l == 10);

    /* unique authors: the authors, not the posts */
    uint64_t authors[1] = {7};
    bv_det_evaluate(auth, counts, authors, 1, &e);
    assert_int_equal(e.count, 30);
    bv_history_measure(auth, &e, &v, &l);
    assert_true(v == 7 && l == 25);

    /* spike, not warm: no level */
    size_t span = bv_det_span(spk);
    uint64_t *sc = calloc(span, sizeof *sc);
    assert_non_null(sc);
    for (size_t i = span - 10; i < span; i++) {
        sc[i] = 3; /* 30 in the window, nothing before */
    }
    bv_det_evaluate(spk, sc, NULL, 0, &e);
    bv_history_measure(spk, &e, &v, &l);
    assert_true(v == 30);
    assert_true(isnan(l));
    /* warm, baseline 0 < min_baseline 2: max(min_count 10, 3 x 2) = 10 */
    bv_det_evaluate(spk, sc, NULL, 1, &e);
    bv_history_measure(spk, &e, &v, &l);
    assert_true(v == 30 && l == 10);
    /* baseline 5 per window: 3 x 5 = 15 */
    for (size_t i = 0; i < span - 10; i++) {
        sc[i] = i % 2; /* 30 per hour = 5 per 10 min */
    }
    bv_det_evaluate(spk, sc, NULL, 1, &e);
    assert_true(fabs(e.baseline - 5) < 1e-9);
    bv_history_measure(spk, &e, &v, &l);
    assert_true(v == 30 && fabs(l - 15) < 1e-9);
    /* no spec: min_baseline 0 */
    e.baseline = 1;
    bv_history_measure(NULL, &e, &v, &l);
    assert_true(l == 10);
    e.baseline = 4;
    bv_history_measure(NULL, &e, &v, &l);
    assert_true(l == 12);
    free(sc);

    /* growth by authors: the newest window's authors against min_count */
    memset(&e, 0, sizeof e);
    e.type = BV_DET_GROWTH;
    e.count = 80;
    e.by_authors = 1;
    e.nwindows = 4;
    e.windows[0] = 40;
    e.windows[1] = 20;
    e.threshold = 10;
    bv_history_measure(grow, &e, &v, &l);
    assert_true(v == 40 && l == 10);
    /* by posts the newest window is the count */
    e.by_authors = 0;
    e.windows[0] = 80;
    bv_history_measure(grow, &e, &v, &l);
    assert_true(v == 80 && l == 10);

    /* a spike rule's points carry NAN until warm, through signals */
    bv_history *h = bv_history_new(rs, MIN, 0);
    assert_non_null(h);
    memset(&e, 0, sizeof e);
    e.type = BV_DET_SPIKE;
    e.count = 12;
    e.factor = 3;
    e.threshold = 10;
    e.warm = 0;
    feed(h, rs, 2, 0, &e, 0);
    e.warm = 1;
    e.baseline = 5;
    feed(h, rs, 2, MIN, &e, 0);
    size_t n;
    bv_history_point *p = points(h, 2, &n);
    assert_int_equal(n, 2);
    assert_true(isnan(p[0].level) && p[0].value == 12);
    assert_true(p[1].level == 15);
    free(p);
    /* a step's level follows its latest evaluation, NAN included */
    e.warm = 0;
    feed(h, rs, 2, MIN + 1, &e, 0);
    bv_history_point last;
    assert_int_equal(bv_history_last(h, 2, &last), 1);
    assert_true(isnan(last.level));
    bv_history_free(h);
    bv_rules_free(rs);
}

static void test_big_jumps_and_negative_times(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    bv_history *h = bv_history_new(rs, MIN, 3600000);
    assert_non_null(h);
    /* negative times floor down */
    feed_count(h, rs, 0, -1, 1, 10);
    feed_count(h, rs, 0, -MIN, 2, 10);
    feed_count(h, rs, 0, -MIN - 1, 3, 10);
    size_t n;
    bv_history_point *p = points(h, 0, &n);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].t_ms, -2 * MIN);
    assert_true(p[0].value == 3);
    assert_int_equal(p[1].t_ms, -MIN);
    assert_true(p[1].value == 2);
    free(p);
    /* ten years on: everything before falls out */
    int64_t far = 315569520000;
    feed_count(h, rs, 0, far, 4, 10);
    p = points(h, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].t_ms, far - far % MIN);
    free(p);
    /* the far ends of int64 */
    feed_count(h, rs, 0, INT64_MAX, 5, 10);
    feed_count(h, rs, 0, INT64_MIN, 6, 10);       /* no step start for it: ignored */
    feed_count(h, rs, 0, INT64_MIN + MIN, 7, 10); /* far behind: ignored */
    p = points(h, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].t_ms, INT64_MAX - INT64_MAX % MIN);
    assert_true(p[0].value == 5);
    free(p);
    bv_history_free(h);

    /* keeping everything: both ends stay, in order */
    h = bv_history_new(rs, MIN, 0);
    assert_non_null(h);
    feed_count(h, rs, 0, INT64_MAX, 1, 10);
    feed_count(h, rs, 0, 0, 2, 10);
    feed_count(h, rs, 0, INT64_MIN + MIN, 3, 10);
    feed_count(h, rs, 0, INT64_MIN, 4, 10);
    p = points(h, 0, &n);
    assert_int_equal(n, 3);
    assert_true(p[0].t_ms <= INT64_MIN + MIN && p[0].t_ms > INT64_MIN + MIN - MIN);
    assert_int_equal(p[1].t_ms, 0);
    assert_true(p[2].value == 1);
    free(p);
    bv_history_free(h);
    bv_rules_free(rs);
}

static void test_invalid(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    assert_null(bv_history_new(rs, 0, 0));
    assert_null(bv_history_new(rs, -MIN, 0));
    assert_null(bv_history_new(rs, MIN, -1));
    bv_history_free(NULL);
    bv_history *h = bv_history_new(rs, MIN, 0);
    assert_non_null(h);
    bv_det_eval e = ev_count(1, 1);
    feed(h, rs, 0, 0, &e, 1);
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.rule = 4; /* outside */
    s.evals = &e;
    s.nevals = 1;
    bv_history_signal(h, &s);
    s.rule = 0;
    s.nevals = 0; /* nothing to measure */
    s.at_ms = 5 * MIN;
    bv_history_signal(h, &s);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 1);
    assert_int_equal(bv_history_get(h, 99, NULL, 0), 0);
    bv_history_point p;
    assert_int_equal(bv_history_last(h, 99, &p), 0);
    bv_history_free(h);
    /* no rule set at all */
    h = bv_history_new(NULL, MIN, 0);
    assert_non_null(h);
    bv_history_signal(h, &s);
    assert_int_equal(bv_history_get(h, 0, NULL, 0), 0);
    bv_history_free(h);
    bv_rules_free(rs);
}

/* ---- a long random run against a plain model ---- */

#define MODEL_STEPS 4096

typedef struct model {
    int has[MODEL_STEPS];
    double value[MODEL_STEPS], level[MODEL_STEPS];
    int64_t last_at[MODEL_STEPS];
    int holds[MODEL_STEPS];
    int64_t newest; /* step index, -1 before any */
    int64_t keep;   /* in steps; -1: everything */
} model;

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void model_signal(model *m, int64_t at_ms, double v, double l, int holds)
{
    int64_t k = at_ms / MIN;
    if (m->keep >= 0 && m->newest >= 0 && k < m->newest - m->keep) {
        return;
    }
    if (!m->has[k]) {
        m->has[k] = 1;
        m->value[k] = v;
        m->level[k] = l;
        m->last_at[k] = at_ms;
        m->holds[k] = holds;
    } else {
        m->value[k] = v > m->value[k] ? v : m->value[k];
        if (at_ms >= m->last_at[k]) {
            m->last_at[k] = at_ms;
            m->level[k] = l;
        }
        m->holds[k] |= holds;
    }
    if (k > m->newest) {
        m->newest = k;
        for (int64_t i = 0; m->keep >= 0 && i < k - m->keep; i++) {
            m->has[i] = 0;
        }
    }
}

static void run_random(int64_t keep_steps, uint64_t seed)
{
    bv_ruleset *rs = load(rules_yaml);
    bv_history *h = bv_history_new(rs, MIN, keep_steps < 0 ? 0 : keep_steps * MIN);
    assert_non_null(h);
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->newest = -1;
    m->keep = keep_steps;
    rnd_state = seed;
    int64_t now = 0;
    for (int i = 0; i < 100000; i++) {
        /* mostly forward by a few seconds, sometimes a jump, sometimes late by minutes */
        uint64_t r = rnd();
        if (r % 100 == 0) {
            now += (int64_t)(rnd() % (20 * MIN));
        } else {
            now += (int64_t)(rnd() % 3000);
        }
        if (now >= (int64_t)(MODEL_STEPS - 1) * MIN) {
            break;
        }
        int64_t at_ms = now;
        if (r % 7 == 0) {
            at_ms -= (int64_t)(rnd() % (12 * MIN));
            at_ms = at_ms < 0 ? 0 : at_ms;
        }
        uint64_t count = rnd() % 50;
        uint64_t thr = 10 + rnd() % 3;
        bv_det_eval e = ev_count(count, thr);
        int holds = (int)(rnd() % 5 == 0);
        feed(h, rs, 0, at_ms, &e, holds);
        model_signal(m, at_ms, (double)count, (double)thr, holds);
    }
    size_t n;
    bv_history_point *p = points(h, 0, &n);
    size_t j = 0;
    for (int64_t k = 0; k < MODEL_STEPS; k++) {
        if (!m->has[k]) {
            continue;
        }
        assert_true(j < n);
        assert_int_equal(p[j].t_ms, k * MIN);
        assert_true(p[j].value == m->value[k]);
        assert_true(p[j].level == m->level[k]);
        assert_int_equal(p[j].holds, m->holds[k]);
        j++;
    }
    assert_int_equal(j, n);
    free(p);
    free(m);
    bv_history_free(h);
    bv_rules_free(rs);
}

static void test_random_against_model(void **state)
{
    (void)state;
    run_random(-1, 0x1234567ull);
    run_random(5, 0x89abcdefull);
    run_random(30, 0x55aa55aaull);
}

static void test_keep_one_step(void **state)
{
    (void)state;
    bv_ruleset *rs = load(rules_yaml);
    bv_history *h = bv_history_new(rs, MIN, MIN);
    assert_non_null(h);
    feed_count(h, rs, 0, 0, 1, 10);
    feed_count(h, rs, 0, MIN, 2, 10);
    feed_count(h, rs, 0, 2 * MIN, 3, 10);
    feed_count(h, rs, 0, 0, 4, 10); /* fell out */
    size_t n;
    bv_history_point *p = points(h, 0, &n);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].t_ms, MIN);
    assert_int_equal(p[1].t_ms, 2 * MIN);
    free(p);
    bv_history_free(h);
    bv_rules_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_points_per_step),
        cmocka_unit_test(test_max_last),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_keep_eviction),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_measures),
        cmocka_unit_test(test_big_jumps_and_negative_times),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_keep_one_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
