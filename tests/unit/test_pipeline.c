/* test_pipeline.c: post -> windows -> signals -> alerts, on a real loop and the memory store:
 * firing on the post that makes the condition true, resolving on final buckets, late posts,
 * future posts clamped, deletes leaving the samples, distinct-author samples, cooldown, ids;
 * probes (the window count of quiet rules at each boundary); rule sets reloaded live (window
 * state kept by rule id, changed thresholds, added and removed rules, refusals). */
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

/* A signal as the tests look at it. */
typedef struct rec {
    char rule[32];
    int probe, final, holds;
    int64_t at_ms;
    uint64_t count; /* the first detector's window count */
    size_t nsamples, nplaces;
} rec;

#define MAX_RECS 512

typedef struct world {
    struct event_base *base;
    bv_ruleset *rs;
    bv_ruleset *old[4]; /* sets replaced by reloads: alive until teardown */
    size_t nold;
    rec recs[MAX_RECS]; /* every signal, in order */
    size_t nrecs;
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
static int64_t world_probe_ms = 0;

/* Records every signal, then hands it to the book as the real program does. */
static void on_signal(void *arg, const bv_signal *s)
{
    world *w = arg;
    assert_true(w->nrecs < MAX_RECS);
    rec *r = &w->recs[w->nrecs++];
    snprintf(r->rule, sizeof r->rule, "%s", s->spec->id);
    r->probe = s->probe;
    r->final = s->final;
    r->holds = s->holds;
    r->at_ms = s->at_ms;
    r->count = s->nevals ? s->evals[0].count : 0;
    r->nsamples = s->nsamples;
    r->nplaces = s->nplaces;
    bv_book_on_signal(w->book, s);
}

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
    bv_pipeline_opts po = {.lateness_ms = 2 * MIN,
                           .ns = "drill/test",
                           .clock = &w->clock.clock,
                           .probe_ms = world_probe_ms};
    char err[256];
    w->pl = bv_pipeline_new(w->rs, w->store, &po, on_signal, w, err, sizeof err);
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
    for (size_t i = 0; i < w->nold; i++) {
        bv_rules_free(w->old[i]);
    }
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
    /* samples only where an alert follows: the firing post and the resolving evaluation, not
     * the final evaluations in between that still hold (the book ignores them) */
    size_t held = 0, with = 0;
    for (size_t i = 0; i < w.nrecs; i++) {
        const rec *r = &w.recs[i];
        if (strcmp(r->rule, "brand") != 0) {
            continue;
        }
        if (r->final && r->holds) {
            held++;
            assert_int_equal(r->nsamples, 0);
        }
        with += r->nsamples > 0;
        if (r->final && !r->holds && r->at_ms == T0 + 6 * MIN) {
            assert_int_equal(r->nsamples, 3); /* a, b and c, who posted while it fired */
        }
    }
    assert_true(held >= 2);
    assert_int_equal(with, 2);
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

/* ---- probes ---- */

static const char probe_yaml[] =
    "rules:\n"
    "  - id: brand\n"
    "    cooldown: 30m\n"
    "    match: {keyword: brand}\n"
    "    detectors: [{type: threshold, window: 5m, bucket: 1m, count: 3}]\n"
    "  - id: slow\n"
    "    match: {keyword: rook}\n"
    "    detectors: [{type: threshold, window: 10m, bucket: 5m, count: 100}]\n";

static void setup_probe_world(world *w, const char *yaml)
{
    world_rules = yaml;
    world_probe_ms = MIN;
    setup_world(w);
    world_rules = rules_yaml; /* read by setup only */
    world_probe_ms = 0;
}

static size_t count_recs(const world *w, const char *rule, int probe)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nrecs; i++) {
        n += strcmp(w->recs[i].rule, rule) == 0 && w->recs[i].probe == probe;
    }
    return n;
}

/* The probe of rule at boundary at, or NULL; fails when there are two. */
static const rec *find_probe(const world *w, const char *rule, int64_t at)
{
    const rec *found = NULL;
    for (size_t i = 0; i < w->nrecs; i++) {
        const rec *r = &w->recs[i];
        if (r->probe && r->at_ms == at && strcmp(r->rule, rule) == 0) {
            assert_null(found);
            found = r;
        }
    }
    return found;
}

/* A quiet rule's window count, probed at each boundary the watermark passes, as it decays;
 * nothing before the first post; a rule with 5m buckets only every 5 minutes. */
static void test_probes_follow_the_window(void **state)
{
    (void)state;
    world w;
    setup_probe_world(&w, probe_yaml);
    advance(&w, T0 + 10 * MIN); /* no post yet: the watermark does not move, no probes */
    assert_int_equal(w.nrecs, 0);
    push(&w, T0 + 30000, "a", "brand", "1");
    push(&w, T0 + 40000, "b", "brand", "2");
    assert_int_equal(w.nrecs, 2); /* the two live signals */
    advance(&w, T0 + 2 * MIN);    /* the watermark reaches T0, before the first post: none */
    assert_int_equal(count_recs(&w, "brand", 1) + count_recs(&w, "slow", 1), 0);
    for (int m = 1; m <= 8; m++) {
        advance(&w, T0 + (m + 2) * MIN); /* the watermark passes T0 + m minutes */
        const rec *p = find_probe(&w, "brand", T0 + m * MIN);
        assert_non_null(p);
        assert_int_equal(p->final, 0);
        assert_int_equal(p->holds, 0);
        assert_int_equal(p->count, m <= 5 ? 2 : 0); /* the window (B-5m, B] lets them go */
        assert_int_equal(p->nsamples, 0);
        assert_int_equal(p->nplaces, 0);
    }
    assert_int_equal(count_recs(&w, "brand", 1), 8);
    assert_int_equal(count_recs(&w, "slow", 1), 1); /* 5m buckets: at T0+5m only */
    assert_non_null(find_probe(&w, "slow", T0 + 5 * MIN));
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.probes, 9);
    assert_int_equal(w.nalerts, 0);
    teardown_world(&w);
}

/* A firing rule has final evaluations and no probes; once resolved it is probed again. A probe
 * that holds (a burst within the cooldown) neither fires nor counts as suppressed. */
static void test_probes_skip_firing_rules(void **state)
{
    (void)state;
    world w;
    setup_probe_world(&w, probe_yaml);
    push(&w, T0 + 1000, "a", "brand", "1");
    push(&w, T0 + 2000, "b", "brand", "2");
    push(&w, T0 + 3000, "c", "brand", "3");
    assert_int_equal(w.nalerts, 1);
    for (int m = 3; m <= 10; m++) {
        advance(&w, T0 + m * MIN);
    }
    assert_int_equal(w.nalerts, 2); /* resolved at T0+6m */
    assert_int_equal(w.alerts[1]->at_ms, T0 + 6 * MIN);
    for (size_t i = 0; i < w.nrecs; i++) {
        assert_false(w.recs[i].probe && strcmp(w.recs[i].rule, "brand") == 0 &&
                     w.recs[i].at_ms <= T0 + 6 * MIN);
    }
    assert_int_equal(count_recs(&w, "brand", 0), 3 + 6); /* 3 live, finals T0+1m .. T0+6m */
    assert_non_null(find_probe(&w, "brand", T0 + 7 * MIN));
    assert_non_null(find_probe(&w, "brand", T0 + 8 * MIN));
    /* a new burst within the cooldown: held back once, on the post that makes it hold */
    push(&w, T0 + 8 * MIN + 10000, "a", "brand", "4");
    push(&w, T0 + 8 * MIN + 20000, "b", "brand", "5");
    push(&w, T0 + 8 * MIN + 30000, "c", "brand", "6");
    bv_book_stats bs;
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.suppressed, 1);
    advance(&w, T0 + 11 * MIN);
    const rec *p = find_probe(&w, "brand", T0 + 9 * MIN);
    assert_non_null(p);
    assert_int_equal(p->holds, 1);
    assert_int_equal(p->count, 3);
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.suppressed, 1); /* the book ignored the probe */
    assert_int_equal(bs.fired, 1);
    assert_int_equal(w.nalerts, 2);
    teardown_world(&w);
}

/* A watermark that jumps an hour (a quiet feed, a gap in a replay) probes the last boundary it
 * passed only: one probe per rule, not one per minute. */
static void test_probes_catch_up_once(void **state)
{
    (void)state;
    world w;
    setup_probe_world(&w, probe_yaml);
    push(&w, T0 + 1000, "a", "brand", "1");
    push(&w, T0 + 2000, "b", "brand", "2");
    advance(&w, T0 + 120 * MIN); /* the watermark jumps to T0+118m */
    assert_int_equal(count_recs(&w, "brand", 1), 1);
    assert_int_equal(count_recs(&w, "slow", 1), 1);
    assert_int_equal(find_probe(&w, "brand", T0 + 118 * MIN)->count, 0);
    assert_non_null(find_probe(&w, "slow", T0 + 115 * MIN));
    /* the same through a post (a replay moves the watermark with its posts) */
    push(&w, T0 + 180 * MIN, "c", "brand", "3");
    assert_int_equal(count_recs(&w, "brand", 1), 2);
    assert_int_equal(count_recs(&w, "slow", 1), 2);
    assert_non_null(find_probe(&w, "brand", T0 + 178 * MIN));
    assert_non_null(find_probe(&w, "slow", T0 + 175 * MIN));
    advance(&w, T0 + 183 * MIN); /* two boundaries more: the last one, which counts the post */
    assert_int_equal(count_recs(&w, "brand", 1), 3);
    assert_null(find_probe(&w, "brand", T0 + 179 * MIN));
    assert_null(find_probe(&w, "brand", T0 + 180 * MIN));
    assert_int_equal(find_probe(&w, "brand", T0 + 181 * MIN)->count, 1);
    assert_int_equal(count_recs(&w, "slow", 1), 3);
    assert_non_null(find_probe(&w, "slow", T0 + 180 * MIN));
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.probes, 6);
    teardown_world(&w);
}

/* The book ignores probe signals, even one that holds. */
static void test_book_ignores_probes(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    bv_det_eval ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BV_DET_THRESHOLD;
    ev.holds = 1;
    ev.count = 5;
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.rule = 0;
    s.spec = bv_rules_get(w.rs, 0);
    s.holds = s.any_holds = 1;
    s.probe = 1;
    s.at_ms = T0 + MIN;
    s.episode_ms = T0;
    s.evals = &ev;
    s.nevals = 1;
    bv_book_on_signal(w.book, &s);
    assert_int_equal(bv_book_pending(w.book), 0);
    bv_book_stats bs;
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.fired, 0);
    assert_int_equal(bs.firing_now, 0);
    s.probe = 0; /* the same as a live signal fires */
    bv_book_on_signal(w.book, &s);
    assert_int_equal(bv_book_pending(w.book), 1);
    while (bv_book_pending(w.book) > 0) {
        assert_int_equal(event_base_loop(w.base, EVLOOP_ONCE), 0);
    }
    assert_int_equal(w.nalerts, 1);
    s.probe = 1; /* a probe that no longer holds resolves nothing either */
    s.holds = s.any_holds = 0;
    ev.holds = 0;
    bv_book_on_signal(w.book, &s);
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.firing_now, 1);
    assert_int_equal(bs.resolved, 0);
    teardown_world(&w);
}

/* One run of posts and clock moves, with or without probes. */
static void probe_scenario(world *w)
{
    push(w, T0 + 1000, "a", "Brand in de haven", "1");
    push(w, T0 + 2000, "a", "feest", "2");
    push(w, T0 + 3000, "b", "grote BRAND", "3");
    advance(w, T0 + 4 * MIN);
    push(w, T0 + 3 * MIN, "c", "brand! feest!", "4");
    push(w, T0 + 3 * MIN + 1, "d", "brand", "5");
    for (int m = 5; m <= 14; m++) {
        advance(w, T0 + m * MIN);
    }
    push(w, T0 + 40 * MIN, "z", "mooi weer", "6");
    finish(w);
}

/* With probe_ms 0 there are no probes, and probes change nothing else: the other signals and
 * the alerts are the same with and without them. */
static void test_probes_off_change_nothing(void **state)
{
    (void)state;
    world a, b;
    setup_world(&a);
    world_probe_ms = MIN;
    setup_world(&b);
    world_probe_ms = 0;
    probe_scenario(&a);
    probe_scenario(&b);
    bv_pipeline_stats st;
    bv_pipeline_stats_get(a.pl, &st);
    assert_int_equal(st.probes, 0);
    assert_int_equal(count_recs(&a, "brand", 1) + count_recs(&a, "many", 1), 0);
    assert_true(count_recs(&b, "brand", 1) > 0);
    assert_true(count_recs(&b, "many", 1) > 0);
    size_t k = 0;
    for (size_t i = 0; i < b.nrecs; i++) {
        if (b.recs[i].probe) {
            continue;
        }
        assert_true(k < a.nrecs);
        const rec *x = &a.recs[k++], *y = &b.recs[i];
        assert_string_equal(x->rule, y->rule);
        assert_int_equal(x->probe, 0);
        assert_int_equal(x->final, y->final);
        assert_int_equal(x->holds, y->holds);
        assert_int_equal(x->at_ms, y->at_ms);
        assert_int_equal(x->count, y->count);
        assert_int_equal(x->nsamples, y->nsamples);
        assert_int_equal(x->nplaces, y->nplaces);
    }
    assert_int_equal(k, a.nrecs);
    assert_true(a.nalerts >= 2);
    assert_int_equal(a.nalerts, b.nalerts);
    for (size_t i = 0; i < a.nalerts; i++) {
        assert_string_equal(a.json[i], b.json[i]);
    }
    teardown_world(&a);
    teardown_world(&b);
}

/* ---- reloading the rule set ---- */

/* Loads yaml and hands it to the book (and through it the pipeline); the old set stays alive
 * until teardown, as the program keeps it. A refused set is freed. */
static int reload(world *w, const char *yaml, bv_pipeline_reload_stats *st, char *err,
                  size_t errlen)
{
    bv_ruleset *rs = NULL;
    bv_diag d;
    assert_int_equal(bv_rules_load_buffer(&rs, "t2.yaml", yaml, strlen(yaml), &d), 0);
    err[0] = '\0';
    int rc = bv_book_reload(w->book, rs, st, err, errlen);
    if (rc == 0) {
        assert_true(w->nold < 4);
        w->old[w->nold++] = w->rs;
        w->rs = rs;
        assert_ptr_equal(bv_pipeline_rules(w->pl), rs);
    } else {
        bv_rules_free(rs);
    }
    return rc;
}

static void reload_ok(world *w, const char *yaml, size_t kept, size_t changed, size_t added,
                      size_t removed)
{
    bv_pipeline_reload_stats st;
    char err[512];
    int rc = reload(w, yaml, &st, err, sizeof err);
    if (rc != 0) {
        fail_msg("reload failed (%d): %s", rc, err);
    }
    assert_int_equal(st.kept, kept);
    assert_int_equal(st.changed, changed);
    assert_int_equal(st.added, added);
    assert_int_equal(st.removed, removed);
}

/* The same rules, reordered, with an example and a comment more: all kept, and the window
 * count, samples and episode id go on as if nothing happened. */
static void test_reload_keeps_the_window(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "Brand in de haven", "1");
    push(&w, T0 + 2000, "a", "brand!", "2");
    reload_ok(&w,
              "# edited during the event\n"
              "rules:\n"
              "  - id: many\n"
              "    match: {keyword: feest}\n"
              "    detectors:\n"
              "      - {type: unique_authors, window: 5m, bucket: 1m, count: 2}\n"
              "  - id: brand\n"
              "    title: Brand\n"
              "    severity: critical\n"
              "    recipients: [police, mayor]\n"
              "    cooldown: 30m\n"
              "    match: {keyword: BRAND}\n"
              "    detectors:\n"
              "      - {type: threshold, window: 5m, bucket: 1m, count: 3}\n"
              "    examples: {match: [brand]}\n",
              2, 0, 0, 0);
    assert_int_equal(w.nalerts, 0);
    push(&w, T0 + 3000, "b", "grote BRAND", "3");
    assert_int_equal(w.nalerts, 1); /* on the third post, as without the reload */
    assert_int_equal(w.alerts[0]->at_ms, T0 + 3000);
    assert_ptr_equal(w.alerts[0]->rule, bv_rules_get(w.rs, 1));
    assert_int_equal(w.alerts[0]->evals[0].count, 3);
    assert_int_equal(w.alerts[0]->nsamples, 2);
    assert_string_equal(w.alerts[0]->samples[0].id, "3");
    assert_string_equal(w.alerts[0]->samples[1].id, "2");
    char id[33];
    bv_alert_make_id("drill/test", "brand", T0, id);
    assert_string_equal(w.ids[0], id);
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.matches[1], 3); /* carried to brand's new index */
    assert_int_equal(st.matches[0], 0);
    /* and it resolves on its final buckets, under the same id */
    reload_ok(&w, rules_yaml, 2, 0, 0, 0);
    advance(&w, T0 + 9 * MIN);
    assert_int_equal(w.nalerts, 2);
    assert_int_equal(w.alerts[1]->state, BV_ALERT_RESOLVED);
    assert_int_equal(w.alerts[1]->at_ms, T0 + 6 * MIN);
    assert_string_equal(w.ids[1], id);
    teardown_world(&w);
}

static const char brand4_yaml[] =
    "rules:\n"
    "  - id: brand\n"
    "    title: Brand\n"
    "    match: {keyword: brand}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 5m, bucket: 1m, count: 4}\n"
    "  - id: many\n"
    "    match: {keyword: feest}\n"
    "    detectors:\n"
    "      - {type: unique_authors, window: 5m, bucket: 1m, count: 2}\n";

/* A raised threshold is judged against the posts already counted; a firing rule changed so
 * that it no longer holds resolves on its next final bucket, under its episode's id. */
static void test_reload_changed_threshold_keeps_counts(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "brand", "1");
    push(&w, T0 + 2000, "b", "brand", "2");
    reload_ok(&w, brand4_yaml, 1, 1, 0, 0);
    push(&w, T0 + 3000, "c", "brand", "3");
    assert_int_equal(w.nalerts, 0); /* 3 < 4 */
    push(&w, T0 + 4000, "d", "brand", "4");
    assert_int_equal(w.nalerts, 1);
    assert_int_equal(w.alerts[0]->evals[0].count, 4);
    assert_int_equal(w.alerts[0]->evals[0].threshold, 4);
    char raised[sizeof brand4_yaml + 8];
    snprintf(raised, sizeof raised, "%s", brand4_yaml);
    char *c = strstr(raised, "count: 4}");
    assert_non_null(c);
    memcpy(c, "count: 9}", 9);
    reload_ok(&w, raised, 1, 1, 0, 0);
    bv_book_stats bs;
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.firing_now, 1); /* the episode goes on; the next final decides */
    advance(&w, T0 + 3 * MIN);
    assert_int_equal(w.nalerts, 2);
    assert_int_equal(w.alerts[1]->state, BV_ALERT_RESOLVED);
    assert_int_equal(w.alerts[1]->at_ms, T0 + MIN);
    assert_string_equal(w.ids[0], w.ids[1]);
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.firing_now, 0);
    teardown_world(&w);
}

/* An added rule starts at zero (the posts before it were not counted for it); the others keep
 * their counts under their new indices. */
static void test_reload_added_rule_starts_empty(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "rook", "1");
    push(&w, T0 + 2000, "b", "rook", "2");
    push(&w, T0 + 3000, "a", "brand", "3");
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "rules:\n"
             "  - id: rook\n"
             "    match: {keyword: rook}\n"
             "    detectors: [{type: threshold, window: 5m, bucket: 1m, count: 2}]\n"
             "%s",
             rules_yaml + strlen("rules:\n"));
    reload_ok(&w, yaml, 2, 0, 1, 0);
    bv_pipeline_stats st;
    bv_pipeline_stats_get(w.pl, &st);
    assert_int_equal(st.matches[0], 0);
    assert_int_equal(st.matches[1], 1); /* brand */
    push(&w, T0 + 4000, "c", "rook", "4");
    assert_int_equal(w.nalerts, 0); /* one post counted, not three */
    push(&w, T0 + 5000, "d", "rook", "5");
    assert_int_equal(w.nalerts, 1);
    assert_string_equal(w.alerts[0]->rule->id, "rook");
    assert_int_equal(w.alerts[0]->evals[0].count, 2);
    push(&w, T0 + 6000, "b", "brand", "6");
    push(&w, T0 + 7000, "c", "brand", "7");
    assert_int_equal(w.nalerts, 2); /* brand kept its first post */
    assert_string_equal(w.alerts[1]->rule->id, "brand");
    assert_int_equal(w.alerts[1]->evals[0].count, 3);
    teardown_world(&w);
}

static void run_until_done(world *w)
{
    while (!w->done) {
        assert_int_equal(event_base_loop(w->base, EVLOOP_ONCE), 0);
    }
}

/* A done callback that reloads, as a program does that was asked to while a post was under
 * way: the claims of the alerts that post fired are still unanswered then. */
typedef struct reload_at_done {
    world *w;
    const char *yaml;
    int rc;
    size_t pending; /* claims under way when it reloaded */
    bv_pipeline_reload_stats st;
    char err[512];
} reload_at_done;

static void on_done_reload(void *arg)
{
    reload_at_done *r = arg;
    r->w->done = 1;
    r->pending = bv_book_pending(r->w->book);
    r->rc = reload(r->w, r->yaml, &r->st, r->err, sizeof r->err);
}

static void on_claimed(void *arg, int err, int won, const char *winner)
{
    (void)winner;
    assert_int_equal(err, 0);
    assert_true(won);
    *(int *)arg = 1;
}

/* Rules removed while firing, with their claims still under way (one to be won, one lost to
 * another process): the episodes are dropped and counted, the claims answer into nothing
 * harmful (the won one still delivers its alert, whose rule the old set keeps alive). */
static void test_reload_removes_firing_rules(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    int claimed = 0;
    assert_int_equal(bv_store_claim(w.store, "drill/test/many", "0123456789abcdef0123456789abcdef",
                                    BV_CLAIM_FIRE, 86400000, on_claimed, &claimed),
                     0);
    while (!claimed) {
        assert_int_equal(event_base_loop(w.base, EVLOOP_ONCE), 0);
    }
    push(&w, T0 + 1000, "a", "feest", "1");
    push(&w, T0 + 2000, "a", "brand", "2");
    push(&w, T0 + 3000, "b", "brand", "3");
    bv_post p;
    memset(&p, 0, sizeof p);
    p.platform = BV_PLATFORM_MASTODON;
    p.id = strdup("4");
    p.text = strdup("brand feest");
    p.created_ms = T0 + 4000;
    p.has_author = 1;
    bv_pseudo_author(w.ps, p.platform, "c", 1, p.author);
    w.done = 0;
    reload_at_done r = {.w = &w,
                        .yaml = "rules:\n"
                                "  - id: rook\n"
                                "    match: {keyword: rook}\n"
                                "    detectors: [{type: threshold, count: 2}]\n"};
    assert_int_equal(bv_pipeline_push(w.pl, &p, on_done_reload, &r), 0);
    run_until_done(&w);
    if (r.rc != 0) {
        fail_msg("reload failed (%d): %s", r.rc, r.err);
    }
    assert_int_equal(r.pending, 2); /* both fired; their claims were under way */
    assert_int_equal(r.st.removed, 2);
    assert_int_equal(r.st.added, 1);
    assert_int_equal(r.st.removed_firing, 2);
    bv_book_stats bs;
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.firing_now, 0);
    assert_int_equal(bs.removed_firing, 2);
    while (bv_book_pending(w.book) > 0) {
        assert_int_equal(event_base_loop(w.base, EVLOOP_ONCE), 0);
    }
    assert_int_equal(w.nalerts, 1); /* brand's claim was won: its alert goes out */
    assert_int_equal(w.alerts[0]->state, BV_ALERT_FIRING);
    assert_string_equal(w.alerts[0]->rule->id, "brand");
    bv_book_stats_get(w.book, &bs);
    assert_int_equal(bs.lost_claims, 1); /* many's was lost, and adopted into nothing */
    /* the new set works; no final or resolved notice for the removed rules */
    push(&w, T0 + 5000, "a", "rook", "5");
    push(&w, T0 + 6000, "b", "rook brand feest", "6");
    assert_int_equal(w.nalerts, 2);
    assert_string_equal(w.alerts[1]->rule->id, "rook");
    advance(&w, T0 + 30 * MIN);
    assert_int_equal(w.nalerts, 3); /* rook resolves; brand and many say nothing more */
    assert_string_equal(w.alerts[2]->rule->id, "rook");
    assert_int_equal(w.alerts[2]->state, BV_ALERT_RESOLVED);
    teardown_world(&w);
}

/* A set the loader refuses never reaches the pipeline; one the store cannot follow (a window
 * that needs more buckets than its series keeps, authors where none were counted) is refused
 * by the reload with nothing changed: the old set keeps working. */
static void test_reload_refusals(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "brand", "1");
    bv_ruleset *bad = NULL;
    bv_diag d;
    const char broken[] = "rules:\n  - id: brand\n    match: {keyword: brand}\n";
    assert_int_equal(bv_rules_load_buffer(&bad, "t2.yaml", broken, strlen(broken), &d), BV_EINVAL);
    assert_null(bad);
    const bv_ruleset *before = w.rs;
    bv_pipeline_reload_stats st;
    char err[512];
    char longer[sizeof rules_yaml + 8];
    snprintf(longer, sizeof longer, "%s", rules_yaml);
    char *c = strstr(longer, "window: 5m, bucket: 1m, count: 3");
    assert_non_null(c);
    memcpy(c, "window: 9m", 10);
    assert_int_equal(reload(&w, longer, &st, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "rule 'brand'"));
    assert_non_null(strstr(err, "new id"));
    assert_int_equal(st.kept + st.changed + st.added + st.removed, 0);
    assert_ptr_equal(bv_pipeline_rules(w.pl), before);
    static const char authors[] =
        "rules:\n"
        "  - id: brand\n"
        "    match: {keyword: brand}\n"
        "    detectors:\n"
        "      - {type: threshold, window: 5m, bucket: 1m, count: 3}\n"
        "      - {type: unique_authors, window: 5m, bucket: 1m, count: 3}\n";
    assert_int_equal(reload(&w, authors, &st, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "distinct authors"));
    assert_ptr_equal(bv_pipeline_rules(w.pl), before);
    /* the old set goes on as before */
    push(&w, T0 + 2000, "b", "brand", "2");
    push(&w, T0 + 3000, "c", "brand", "3");
    assert_int_equal(w.nalerts, 1);
    assert_ptr_equal(w.alerts[0]->rule, bv_rules_get(before, 0));
    assert_int_equal(w.alerts[0]->evals[0].count, 3);
    /* a shorter window, or a new bucket size, is fine: the latter starts empty */
    static const char buckets[] = "rules:\n"
                                  "  - id: brand\n"
                                  "    match: {keyword: brand}\n"
                                  "    detectors:\n"
                                  "      - {type: threshold, window: 2m, bucket: 1m, count: 3}\n"
                                  "      - {type: threshold, window: 10m, bucket: 5m, count: 1}\n";
    reload_ok(&w, buckets, 0, 1, 0, 1);
    teardown_world(&w);
}

typedef struct idle_reload {
    world *w;
    int ran, done_before; /* ran; and whether the push's done had come by then */
    int rc;
    bv_pipeline_reload_stats st;
    char err[512];
} idle_reload;

static void on_idle_reload(void *arg)
{
    idle_reload *r = arg;
    r->ran++;
    r->done_before = r->w->done;
    r->rc = reload(r->w, brand4_yaml, &r->st, r->err, sizeof r->err);
}

static void on_idle_count(void *arg)
{
    (*(int *)arg)++;
}

/* While evaluations are under way a reload is refused with BV_EAGAIN and nothing changes; once
 * they are done it goes through: bv_pipeline_when_idle runs it then, before the push's done. */
static void test_reload_waits_for_evaluations(void **state)
{
    (void)state;
    world w;
    setup_world(&w);
    push(&w, T0 + 1000, "a", "brand", "1");
    bv_post p;
    memset(&p, 0, sizeof p);
    p.platform = BV_PLATFORM_MASTODON;
    p.id = strdup("2");
    p.text = strdup("brand");
    p.created_ms = T0 + 2000;
    w.done = 0;
    assert_int_equal(bv_pipeline_push(w.pl, &p, on_done, &w), 0);
    const bv_ruleset *before = w.rs;
    bv_pipeline_reload_stats st;
    char err[512];
    assert_int_equal(reload(&w, brand4_yaml, &st, err, sizeof err), BV_EAGAIN);
    assert_true(err[0] != '\0');
    assert_ptr_equal(bv_pipeline_rules(w.pl), before);
    bv_ruleset *rs = NULL;
    bv_diag d;
    assert_int_equal(bv_rules_load_buffer(&rs, "t2.yaml", brand4_yaml, strlen(brand4_yaml), &d), 0);
    assert_int_equal(bv_pipeline_reload(w.pl, rs, &st, err, sizeof err), BV_EAGAIN);
    bv_rules_free(rs);
    idle_reload ir = {.w = &w};
    assert_int_equal(bv_pipeline_when_idle(w.pl, on_idle_reload, &ir), 0);
    assert_int_equal(ir.ran, 0); /* not while the post is under way */
    run_until_done(&w);
    assert_int_equal(w.nrecs, 2);
    assert_int_equal(ir.ran, 1);
    assert_int_equal(ir.done_before, 0); /* before the push's done: the next post meets it */
    if (ir.rc != 0) {
        fail_msg("reload failed (%d): %s", ir.rc, ir.err);
    }
    assert_int_equal(ir.st.kept, 1);
    assert_int_equal(ir.st.changed, 1);
    int idle = 0;
    assert_int_equal(bv_pipeline_when_idle(w.pl, on_idle_count, &idle), 0);
    assert_int_equal(idle, 1); /* idle now: at once */
    push(&w, T0 + 3000, "c", "brand", "3");
    push(&w, T0 + 4000, "d", "brand", "4");
    assert_int_equal(w.nalerts, 1);
    assert_int_equal(w.alerts[0]->evals[0].count, 4);
    teardown_world(&w);
}

/* Probes go on across a reload: kept rules at their next boundary (none twice), an added rule
 * from the next boundary on. */
static void test_reload_and_probes(void **state)
{
    (void)state;
    world w;
    setup_probe_world(&w, probe_yaml);
    push(&w, T0 + 1000, "a", "brand", "1");
    push(&w, T0 + 2000, "b", "brand", "2");
    advance(&w, T0 + 3 * MIN);
    assert_int_equal(find_probe(&w, "brand", T0 + MIN)->count, 2);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "%s"
             "  - id: feest\n"
             "    match: {keyword: feest}\n"
             "    detectors: [{type: threshold, window: 5m, bucket: 1m, count: 3}]\n",
             probe_yaml);
    reload_ok(&w, yaml, 2, 0, 1, 0);
    advance(&w, T0 + 3 * MIN); /* nothing new passed: nothing probed again */
    assert_int_equal(count_recs(&w, "brand", 1), 1);
    advance(&w, T0 + 4 * MIN);
    assert_int_equal(find_probe(&w, "brand", T0 + 2 * MIN)->count, 2);
    assert_int_equal(find_probe(&w, "feest", T0 + 2 * MIN)->count, 0);
    assert_int_equal(count_recs(&w, "feest", 1), 1);
    assert_int_equal(count_recs(&w, "brand", 1), 2);
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
        cmocka_unit_test(test_probes_follow_the_window),
        cmocka_unit_test(test_probes_skip_firing_rules),
        cmocka_unit_test(test_probes_catch_up_once),
        cmocka_unit_test(test_book_ignores_probes),
        cmocka_unit_test(test_probes_off_change_nothing),
        cmocka_unit_test(test_reload_keeps_the_window),
        cmocka_unit_test(test_reload_changed_threshold_keeps_counts),
        cmocka_unit_test(test_reload_added_rule_starts_empty),
        cmocka_unit_test(test_reload_removes_firing_rules),
        cmocka_unit_test(test_reload_refusals),
        cmocka_unit_test(test_reload_waits_for_evaluations),
        cmocka_unit_test(test_reload_and_probes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
