/* test_alert.c: alert ids, the alert book's claims (two books on one store, as two processes on
 * one Redis later: one alert per episode), and the stream sink (JSON and text lines, a failing
 * stream reported as FAIL). */
#include "testutil.h"

#include "alert/book.h"
#include "alert/sink.h"
#include "engine/rules.h"
#include "engine/store_memory.h"

#include <event2/event.h>

static const char rules_yaml[] = "rules:\n"
                                 "  - id: r1\n"
                                 "    severity: critical\n"
                                 "    recipients: [police]\n"
                                 "    match: {keyword: brand}\n"
                                 "    detectors:\n"
                                 "      - {type: threshold, window: 5m, bucket: 1m, count: 1}\n";

static int emitted[2];
static char last_id[2][33];

static void emit0(void *arg, const bv_alert *a)
{
    (void)arg;
    emitted[0]++;
    memcpy(last_id[0], a->id, sizeof last_id[0]);
}

static void emit1(void *arg, const bv_alert *a)
{
    (void)arg;
    emitted[1]++;
    memcpy(last_id[1], a->id, sizeof last_id[1]);
}

static bv_signal make_signal(const bv_ruleset *rs, int holds, int final, int64_t at,
                             bv_det_eval *ev)
{
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.rule = 0;
    s.spec = bv_rules_get(rs, 0);
    s.holds = holds;
    s.any_holds = holds;
    s.final = final;
    s.at_ms = at;
    s.episode_ms = at - at % 60000;
    memset(ev, 0, sizeof *ev);
    ev->type = BV_DET_THRESHOLD;
    ev->window_ms = 300000;
    ev->count = holds ? 1 : 0;
    ev->threshold = 1;
    ev->holds = holds;
    s.evals = ev;
    s.nevals = 1;
    return s;
}

static void test_ids(void **state)
{
    (void)state;
    char a[33], b[33], c[33], d[33];
    bv_alert_make_id("drill/e", "r1", 60000, a);
    bv_alert_make_id("drill/e", "r1", 60000, b);
    bv_alert_make_id("drill/e", "r1", 120000, c);
    bv_alert_make_id("live/e", "r1", 60000, d);
    assert_int_equal(strlen(a), 32);
    assert_string_equal(a, b);     /* deterministic */
    assert_string_not_equal(a, c); /* a new episode, a new id */
    assert_string_not_equal(a, d); /* a drill never shares ids with a live event */
}

static void test_two_books_one_store(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    bv_ruleset *rs;
    bv_diag diag;
    assert_int_equal(bv_rules_load_buffer(&rs, "t", rules_yaml, strlen(rules_yaml), &diag), 0);
    bv_store *st = bv_store_memory_new(base);
    bv_book_opts bo = {.event = "e", .ns = "drill/e", .drill = 1};
    bv_book *b0 = bv_book_new(rs, st, &bo, emit0, NULL);
    bv_book *b1 = bv_book_new(rs, st, &bo, emit1, NULL);
    emitted[0] = emitted[1] = 0;
    bv_det_eval ev;
    bv_signal s = make_signal(rs, 1, 0, 1781287205000, &ev);
    bv_book_on_signal(b0, &s); /* both processes see the same episode */
    bv_book_on_signal(b1, &s);
    assert_int_equal(bv_book_pending(b0) + bv_book_pending(b1), 2);
    assert_int_equal(emitted[0] + emitted[1], 0); /* nothing before the claim is answered */
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(emitted[0], 1);
    assert_int_equal(emitted[1], 0); /* one alert per episode */
    bv_book_stats bs;
    bv_book_stats_get(b1, &bs);
    assert_int_equal(bs.lost_claims, 1);
    /* a live signal while firing is no new alert; a final one that no longer holds resolves */
    bv_book_on_signal(b0, &s);
    assert_int_equal(bv_book_pending(b0), 0);
    bv_signal r = make_signal(rs, 0, 1, 1781287560000, &ev);
    bv_book_on_signal(b0, &r);
    bv_book_on_signal(b1, &r);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(emitted[0] + emitted[1], 2); /* one resolved notice */
    bv_book_stats_get(b0, &bs);
    assert_int_equal(bs.fired, 1);
    assert_int_equal(bs.resolved, 1);
    assert_int_equal(bs.firing_now, 0);
    /* a book freed with a claim under way: the answer goes nowhere, nothing leaks */
    bv_signal s2 = make_signal(rs, 1, 0, 1781294400000, &ev);
    bv_book_on_signal(b0, &s2);
    bv_book_free(b0);
    bv_book_free(b1);
    bv_store_free(st);
    bv_rules_free(rs);
    event_base_free(base);
}

/* Two processes that see the episode start in different buckets: the one that loses the claim
 * adopts the winner's id, so whichever resolves first sends one resolved alert, under that id. */
static void test_episode_adopted(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    bv_ruleset *rs;
    bv_diag diag;
    assert_int_equal(bv_rules_load_buffer(&rs, "t", rules_yaml, strlen(rules_yaml), &diag), 0);
    bv_store *st = bv_store_memory_new(base);
    bv_book_opts bo = {.event = "e", .ns = "drill/e", .claim_ns = "drill/e/run1", .drill = 1};
    bv_book *b0 = bv_book_new(rs, st, &bo, emit0, NULL);
    bv_book *b1 = bv_book_new(rs, st, &bo, emit1, NULL);
    emitted[0] = emitted[1] = 0;
    bv_det_eval ev;
    bv_signal s0 = make_signal(rs, 1, 0, 1781287205000, &ev);
    bv_book_on_signal(b0, &s0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    bv_signal s1 = make_signal(rs, 1, 0, 1781287265000, &ev); /* a bucket later */
    bv_book_on_signal(b1, &s1);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(emitted[0], 1);
    assert_int_equal(emitted[1], 0);
    char fired[33];
    memcpy(fired, last_id[0], sizeof fired);
    bv_signal r = make_signal(rs, 0, 1, 1781287560000, &ev);
    bv_book_on_signal(b1, &r); /* the loser resolves first */
    event_base_loop(base, EVLOOP_NONBLOCK);
    bv_book_on_signal(b0, &r);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(emitted[1], 1);
    assert_int_equal(emitted[0], 1);
    assert_string_equal(last_id[1], fired); /* under the id that fired */
    bv_book_free(b0);
    bv_book_free(b1);
    bv_store_free(st);
    bv_rules_free(rs);
    event_base_free(base);
}

static void test_stream_sink(void **state)
{
    (void)state;
    bv_ruleset *rs;
    bv_diag diag;
    assert_int_equal(bv_rules_load_buffer(&rs, "t", rules_yaml, strlen(rules_yaml), &diag), 0);
    bv_det_eval ev;
    bv_signal s = make_signal(rs, 1, 0, 1781287205000, &ev);
    bv_sample sm = {.platform = BV_PLATFORM_X,
                    .created_ms = 1781287205000,
                    .id = (char *)"9",
                    .url = (char *)"https://x.com/i/web/status/9",
                    .excerpt = (char *)"Brand!"};
    const bv_sample *samples[] = {&sm};
    s.samples = samples;
    s.nsamples = 1;
    bv_alert *a =
        bv_alert_from_signal(&s, BV_ALERT_FIRING, "e", 1, "0123456789abcdef0123456789abcdef");
    assert_non_null(a);

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    bv_sink *json = bv_sink_stream_new(f, 0, BV_FORMAT_JSON);
    bv_sink *text = bv_sink_stream_new(f, 0, BV_FORMAT_TEXT);
    assert_int_equal(bv_sink_emit(json, a), BV_SINK_OK);
    assert_int_equal(bv_sink_emit(text, a), BV_SINK_OK);
    fclose(f);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_true(strncmp(out,
                        "{\"type\":\"alert\",\"id\":\"0123456789abcdef0123456789abcdef\","
                        "\"state\":\"firing\",\"event\":\"e\",\"rule\":\"r1\"",
                        77) == 0);
    assert_non_null(strstr(out,
                           "\"samples\":[{\"platform\":\"x\",\"at\":\"2026-06-12T18:00:05.000Z\","
                           "\"url\":\"https://x.com/i/web/status/9\",\"excerpt\":\"Brand!\"}]"));
    assert_non_null(strstr(nl + 1, "2026-06-12 20:00:05 CEST [drill] FIRING   critical r1"));
    assert_non_null(strstr(nl + 1, "| x: \"Brand!\""));
    assert_int_equal(json->sent, 1);
    free(out);
    bv_sink_free(json);
    bv_sink_free(text);

    FILE *full = fopen("/dev/full", "w"); /* every write fails: reported, not ignored */
    assert_non_null(full);
    bv_sink *bad = bv_sink_stream_new(full, 1, BV_FORMAT_JSON);
    assert_int_equal(bv_sink_emit(bad, a), BV_SINK_FAIL);
    assert_int_equal(bad->failed, 1);
    bv_sink_free(bad);
    bv_alert_free(a);
    bv_rules_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_two_books_one_store),
        cmocka_unit_test(test_episode_adopted),
        cmocka_unit_test(test_stream_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
