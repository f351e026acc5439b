/* test_pipeline.c: post -> windows -> signals -> alerts, on a real loop and the memory store:
 * firing on the post that makes the condition true, resolving on final buckets, late posts,
 * future posts clamped, deletes leaving the samples, distinct-author samples, cooldown, ids. */
#include "testutil.h"

#include "alert/book.h"
#include "core/buf.h"
#include "core/err.h"
#include "engine/pipeline.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "engine/store_memory.h"

#include <event2/event.h>

#define T0 1781287200000LL /* 2026-06-12T18:00:00Z */
#define MIN 60000LL

static const char rules_yaml[] =
    "rules:\n"
    "  - id: brand\n"
    "    title: Brand\n"
    "    severity: critical\n"
    "    recipients: [police, mayor]\n"
    "    cooldown: 30m\n"
    "    match: {keyword: brand}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 5m, bucket: 1m, count: 3}\n"
    "  - id: many\n"
    "    match: {keyword: feest}\n"
    "    detectors:\n"
    "      - {type: unique_authors, window: 5m, bucket: 1m, count: 2}\n";

typedef struct world {
    struct event_base *base;
    bv_ruleset *rs;
    bv_store *store;
    bv_book *book;
    bv_pipeline *pl;
    bv_pseudo *ps;
    bv_fake_clock clock; /* "now" for posts without a receive time: a day after T0 */
    bv_alert *alerts[16];
    char ids[16][33];
    char json[16][4096]; /* each alert as its JSON line */
    size_t nalerts;
    int done;
} world;

static void on_alert(void *arg, const bv_alert *a)
{
    world *w = arg;
    assert_true(w->nalerts < 16);
    /* keep what the tests look at: state, rule, at, samples (copied via a fresh alert) */
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.spec = a->rule;
    s.at_ms = a->at_ms;
    s.evals = a->evals;
    s.nevals = a->nevals;
    const bv_sample *samples[BV_SAMPLES_MAX];
    for (size_t i = 0; i < a->nsamples; i++) {
        samples[i] = &a->samples[i];
    }
    s.samples = samples;
    s.nsamples = a->nsamples;
    w->alerts[w->nalerts] = bv_alert_from_signal(&s, a->state, a->event, a->drill, a->id);
    memcpy(w->ids[w->nalerts], a->id, 33);
    bv_buf jb = BV_BUF_INIT;
    assert_int_equal(bv_alert_format_json(a, &jb), 0);
    snprintf(w->json[w->nalerts], sizeof w->json[w->nalerts], "%s", jb.p);
    bv_buf_free(&jb);
    w->nalerts++;
}

static void on_done(void *arg)
{
    ((world *)arg)->done = 1;
}

static const char *world_rules = rules_yaml;

static void setup_world(world *w)
{
    memset(w, 0, sizeof *w);
    w->base = event_base_new();
    bv_diag d;
    assert_int_equal(bv_rules_load_buffer(&w->rs, "t.yaml", world_rules, strlen(world_rules), &d),
                     0);
    w->store = bv_store_memory_new(w->base);
    bv_book_opts bo = {.event = "test", .ns = "drill/test", .drill = 1};
    w->book = bv_book_new(w->rs, w->store, &bo, on_alert, w);
    bv_fake_clock_init(&w->clock, T0 + 24 * 60 * MIN);
    bv_pipeline_opts po = {.lateness_ms = 2 * MIN, .ns = "drill/test", .clock = &w->clock.clock};
    char err[256];
    w->pl = bv_pipeline_new(w->rs, w->store, &po, bv_book_on_signal, w->book, err, sizeof err);
    assert_non_null(w->pl);
    bv_book_attach(w->book, w->pl);
    w->ps = bv_pseudo_new("unit-test-key-0123", 18);
}

static void teardown_world(world *w)
{
    bv_store_free(w->store);
    bv_pipeline_free(w->pl);
    bv_book_free(w->book);
    bv_rules_free(w->rs);
    bv_pseudo_free(w->ps);
    for (size_t i = 0; i < w->nalerts; i++) {
        bv_alert_free(w->alerts[i]);
    }
    event_base_free(w->base);
}

/* Pushes one post and runs the loop until the pipeline and the book are idle. */
static void push(world *w, int64_t t, const char *author, const char *text, const char *id)
{
    bv_post p;
    memset(&p, 0, sizeof p);
    p.platform = BV_PLATFORM_MASTODON;
    p.kind = BV_POST_CREATE;
    p.id = strdup(id);
    p.text = strdup(text);
    p.url = NULL;
    p.created_ms = t;
    p.has_author = 1;
    bv_pseudo_author(w->ps, p.platform, author, strlen(author), p.author);
    w->done = 0;
    int rc = bv_pipeline_push(w->pl, &p, on_done, w);
    assert_true(rc >= 0);
    if (rc == 1) {
        w->done = 1;
    }
    while (!w->done || bv_book_pending(w->book) > 0) {
        assert_int_equal(event_base_loop(w->base, EVLOOP_ONCE), 0);
    }
    assert_null(p.text); /* the pipeline took it */
}

static void del(world *w, const char *id)
{
    bv_post p;
    memset(&p, 0, sizeof p);
    p.platform = BV_PLATFORM_MASTODON;
    p.kind = BV_POST_DELETE;
    p.id = strdup(id);
    p.text = strdup("");
    assert_int_equal(bv_pipeline_push(w->pl, &p, on_done, w), 1);
}

static void finish(world *w)
{
    w->done = 0;
    if (bv_pipeline_finish(w->pl, on_done, w) == 1) {
        w->done = 1;
    }
    while (!w->done || bv_book_pending(w->book) > 0) {
        assert_int_equal(event_base_loop(w->base, EVLOOP_ONCE), 0);
    }
}

static void test_fires_on_the_post_and_resolves_on_final_buckets(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "Brand in de haven", "1");
    push(&w, T0 + 2000, "a", "brand!", "2");
    assert_int_equal(w.nalerts, 0);
    push(&w, T0 + 3000, "b", "grote BRAND", "3");
    assert_int_equal(w.nalerts, 1); /* on the third post, at its time */
    assert_int_equal(w.alerts[0]->state, BV_ALERT_FIRING);
    assert_int_equal(w.alerts[0]->at_ms, T0 + 3000);
    assert_string_equal(w.alerts[0]->rule->id, "brand");
    assert_int_equal(w.alerts[0]->evals[0].count, 3);
    /* samples: distinct authors, newest first */
    assert_int_equal(w.alerts[0]->nsamples, 2);
    assert_string_equal(w.alerts[0]->samples[0].id, "3");
    assert_string_equal(w.alerts[0]->samples[1].id, "2");
    /* more matches while firing: no repeat */
    push(&w, T0 + 4000, "c", "brand", "4");
    assert_int_equal(w.nalerts, 1);
    /* time passes (other talk); the window drains; resolves once its bucket is final */
    for (int m = 1; m <= 9; m++) {
        push(&w, T0 + m * MIN + 500, "z", "mooi weer", "x");
    }
    assert_int_equal(w.nalerts, 2);
    assert_int_equal(w.alerts[1]->state, BV_ALERT_RESOLVED);
    assert_int_equal(w.alerts[1]->at_ms, T0 + 6 * MIN);
    assert_string_equal(w.ids[0], w.ids[1]); /* one episode, one id */
    char id[33];
    bv_alert_make_id("drill/test", "brand", T0, id);
    assert_string_equal(w.ids[0], id);
    teardown_world(&w);
}

static void test_late_posts_are_counted_not_windowed(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 10 * MIN, "a", "mooi weer", "1");
    push(&w, T0 + 1000, "a", "brand", "2"); /* 10 minutes late, lateness 2m */
    push(&w, T0 + 2000, "b", "brand", "3");
    push(&w, T0 + 3000, "c", "brand", "4");
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.late, 3);
    assert_int_equal(st.matches[0], 3); /* matched, */
    assert_int_equal(w.nalerts, 0);     /* but not counted in final windows */
    /* a post from the future is clamped to its receive time (or, without one, to now) */
    bv_post p;
    memset(&p, 0, sizeof p);
    p.id = strdup("f");
    p.text = strdup("x");
    p.created_ms = T0 + 100 * MIN;
    p.received_ms = T0 + 11 * MIN;
    assert_int_equal(bv_pipeline_push(w.pl, &p, on_done, &w), 1);
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.clamped, 1);
    assert_int_equal(st.max_ms, T0 + 11 * MIN);
    /* a forged date years ahead without a receive time is clamped to now, so the watermark
     * does not leave every later post behind */
    memset(&p, 0, sizeof p);
    p.id = strdup("g");
    p.text = strdup("x");
    p.created_ms = T0 + 10LL * 365 * 24 * 60 * MIN;
    assert_int_equal(bv_pipeline_push(w.pl, &p, on_done, &w), 1);
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.clamped, 2);
    assert_int_equal(st.max_ms, T0 + 24 * 60 * MIN);
    teardown_world(&w);
}

static void advance(world *w, int64_t now)
{
    w->done = 0;
    if (bv_pipeline_advance(w->pl, now, on_done, w) == 1) {
        w->done = 1;
    }
    while (!w->done || bv_book_pending(w->book) > 0) {
        assert_int_equal(event_base_loop(w->base, EVLOOP_ONCE), 0);
    }
}

/* Live: a feed that goes quiet still resolves, because the watermark follows the wall clock. */
static void test_advance_resolves_a_quiet_feed(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    advance(&w, T0); /* before any post: nothing to move */
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_true(st.watermark_ms == INT64_MIN);
    push(&w, T0 + 1000, "a", "brand", "1");
    push(&w, T0 + 2000, "b", "brand", "2");
    push(&w, T0 + 3000, "c", "brand", "3");
    assert_int_equal(w.nalerts, 1);
    advance(&w, T0 + 5 * MIN); /* the window still holds the three */
    assert_int_equal(w.nalerts, 1);
    advance(&w, T0 + 3 * MIN); /* never backwards */
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.watermark_ms, T0 + 3 * MIN);
    advance(&w, T0 + 9 * MIN); /* no posts, but the clock moved on: resolved */
    assert_int_equal(w.nalerts, 2);
    assert_int_equal(w.alerts[1]->state, BV_ALERT_RESOLVED);
    assert_int_equal(w.alerts[1]->at_ms, T0 + 6 * MIN);
    teardown_world(&w);
}

/* With receive_watermark, a post's receive time moves the watermark as the live clock did, so
 * a post that arrived long after it was written is late in a replay as it was live. */
static void test_receive_watermark(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    bv_pipeline_free(w.pl);
    bv_pipeline_opts po = {.lateness_ms = 2 * MIN,
                           .ns = "drill/test",
                           .clock = &w.clock.clock,
                           .receive_watermark = 1};
    char err[256];
    w.pl = bv_pipeline_new(w.rs, w.store, &po, bv_book_on_signal, w.book, err, sizeof err);
    assert_non_null(w.pl);
    bv_book_attach(w.book, w.pl);
    push(&w, T0 + 1000, "a", "mooi weer", "1");
    bv_post p;
    memset(&p, 0, sizeof p);
    p.id = strdup("2");
    p.text = strdup("brand");
    p.created_ms = T0 + 2000;
    p.received_ms = T0 + 10 * MIN; /* written at T0, arrived ten minutes later */
    assert_int_equal(bv_pipeline_push(w.pl, &p, on_done, &w), 1);
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.watermark_ms, T0 + 8 * MIN);
    assert_int_equal(st.late, 1);
    assert_int_equal(st.max_ms, T0 + 2000);
    teardown_world(&w);
}

static void test_deletes_leave_samples_and_unique_authors(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "feest", "p1");
    push(&w, T0 + 2000, "a", "feest", "p2"); /* one author twice: not two authors */
    assert_int_equal(w.nalerts, 0);
    del(&w, "p2");
    push(&w, T0 + 3000, "b", "Feest!", "p3");
    assert_int_equal(w.nalerts, 1);
    assert_string_equal(w.alerts[0]->rule->id, "many");
    assert_int_equal(w.alerts[0]->evals[0].authors, 2);
    assert_int_equal(w.alerts[0]->nsamples, 2);
    assert_string_equal(w.alerts[0]->samples[0].id, "p3");
    assert_string_equal(w.alerts[0]->samples[1].id, "p1"); /* p2 was deleted */
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.deletes[BV_PLATFORM_MASTODON], 1);
    /* at the end every bucket up to the last post's is final: still firing here */
    finish(&w);
    assert_int_equal(w.nalerts, 1);
    bv_book_stats bs;
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.firing_now, 1);
    teardown_world(&w);
}

static void test_cooldown_and_new_episode_id(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    int64_t starts[3] = {T0, T0 + 15 * MIN, T0 + 45 * MIN};
    int n = 0;
    for (int e = 0; e < 3; e++) {
        for (int i = 0; i < 3; i++) {
            char id[16];
            snprintf(id, sizeof id, "%d", n++);
            push(&w, starts[e] + i * 1000, "a", "brand", id);
        }
        for (int m = 1; m <= 14; m++) {
            push(&w, starts[e] + m * MIN, "z", "niets", "q");
        }
    }
    assert_int_equal(w.nalerts, 4); /* fire, resolve, (held back), fire, resolve */
    assert_int_equal(w.alerts[2]->state, BV_ALERT_FIRING);
    assert_int_equal(w.alerts[2]->at_ms, T0 + 45 * MIN + 2000);
    assert_string_not_equal(w.ids[0], w.ids[2]);
    bv_book_stats bs;
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.suppressed, 1);
    teardown_world(&w);
}

static void test_duplicates_count_once(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "brand", "same");
    push(&w, T0 + 2000, "b", "brand", "same"); /* the same post again (X repeats posts) */
    push(&w, T0 + 3000, "c", "brand", "same");
    assert_int_equal(w.nalerts, 0); /* three arrivals, one post: below the threshold of 3 */
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(st.matches[0], 1);
    push(&w, T0 + 4000, "b", "brand", "other");
    push(&w, T0 + 5000, "c", "brand", "third");
    assert_int_equal(w.nalerts, 1);
    assert_int_equal(w.alerts[0]->evals[0].count, 3);
    teardown_world(&w);
}

static void test_alert_json(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "brand \"quoted\"\n", "1");
    push(&w, T0 + 2000, "b", "brand", "2");
    push(&w, T0 + 3000, "c", "brand", "3");
    assert_int_equal(w.nalerts, 1);
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_alert_format_json(w.alerts[0], &b), 0);
    assert_non_null(strstr(b.p, "\"type\":\"alert\""));
    assert_non_null(strstr(b.p, "\"state\":\"firing\""));
    assert_non_null(strstr(b.p, "\"rule\":\"brand\""));
    assert_non_null(strstr(b.p, "\"severity\":\"critical\""));
    assert_non_null(strstr(b.p, "\"recipients\":[\"police\",\"mayor\"]"));
    assert_non_null(strstr(b.p, "\"at\":\"2026-06-12T18:00:03.000Z\""));
    assert_non_null(strstr(b.p, "\"drill\":true"));
    assert_non_null(strstr(b.p, "brand \\\"quoted\\\""));
    assert_null(strchr(b.p, '\n'));
    bv_buf_reset(&b);
    assert_int_equal(bv_alert_format_text(w.alerts[0], &b), 0);
    assert_non_null(strstr(b.p, "2026-06-12 20:00:03 CEST"));
    assert_non_null(strstr(b.p, "FIRING"));
    bv_buf_free(&b);
    teardown_world(&w);
}

/* Alerts name the places of their window's posts, most named first; an ambiguous name is
 * placed only when the window also names its municipality or province. */
static void test_alert_places(void **state)
{
    (void)state;
    world_rules = "rules:\n"
                  "  - id: feest\n"
                  "    match: {all: [{keyword: feest}, {place: any}]}\n"
                  "    detectors: [{type: threshold, window: 5m, bucket: 1m, count: 3}]\n"
                  "  - id: rel\n"
                  "    match: {all: [{keyword: rel}, {place: any}]}\n"
                  "    detectors: [{type: threshold, window: 5m, bucket: 1m, count: 3}]\n";
    world w;
    setup_world(&w);
    world_rules = rules_yaml; /* read by setup only */
    push(&w, T0 + 1000, "a", "feest in Haren", "1");
    push(&w, T0 + 2000, "b", "feest in Haren vanavond", "2");
    push(&w, T0 + 3000, "c", "feest in Haren (Groningen)!", "3");
    assert_int_equal(w.nalerts, 1);
    /* 2018: Haren was a municipality of its own, in the province named */
    assert_non_null(strstr(w.json[0], "\"places\":[{\"name\":\"Haren\",\"count\":3,"
                                      "\"municipality\":\"Haren\",\"province\":\"Groningen\"},"
                                      "{\"name\":\"Groningen\",\"count\":1,"));
    /* Katwijk alone: the two Katwijks */
    push(&w, T0 + 4000, "a", "rel in Katwijk", "4");
    push(&w, T0 + 5000, "b", "rel in Katwijk!", "5");
    push(&w, T0 + 6000, "c", "rel bij Katwijk", "6");
    assert_int_equal(w.nalerts, 2);
    assert_non_null(strstr(w.json[1], "\"places\":[{\"name\":\"Katwijk\",\"count\":3,"
                                      "\"ambiguous\":[\"Cuijk, Noord-Brabant\",\"Katwijk, "
                                      "Zuid-Holland\"]}]"));
    /* rules of the plain set name no places */
    teardown_world(&w);
    setup_world(&w);
    push(&w, T0 + 1000, "a", "brand in Haren", "1");
    push(&w, T0 + 2000, "b", "brand in Haren", "2");
    push(&w, T0 + 3000, "c", "brand in Haren", "3");
    assert_int_equal(w.nalerts, 1);
    assert_non_null(strstr(w.json[0], "\"places\":[]"));
    teardown_world(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_on_the_post_and_resolves_on_final_buckets),
        cmocka_unit_test(test_late_posts_are_counted_not_windowed),
        cmocka_unit_test(test_advance_resolves_a_quiet_feed),
        cmocka_unit_test(test_receive_watermark),
        cmocka_unit_test(test_alert_places),
        cmocka_unit_test(test_deletes_leave_samples_and_unique_authors),
        cmocka_unit_test(test_cooldown_and_new_episode_id),
        cmocka_unit_test(test_duplicates_count_once),
        cmocka_unit_test(test_alert_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
