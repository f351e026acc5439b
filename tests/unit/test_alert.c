/* test_alert.c: alert ids, the alert book's claims (two books on one store, as two processes on
 * one Redis later: one alert per episode), and the stream sink (JSON and text lines, a failing
 * stream reported as FAIL). */
#include "testutil.h"

#include "alert/book.h"
#include "alert/sink.h"
#include "core/err.h"
#include "core/timeutil.h"
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
    bv_sink *json = bv_sink_stream_new(f, 0, BV_FORMAT_JSON, NULL);
    bv_sink *text = bv_sink_stream_new(f, 0, BV_FORMAT_TEXT, NULL);
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
    bv_sink *bad = bv_sink_stream_new(full, 1, BV_FORMAT_JSON, NULL);
    assert_int_equal(bv_sink_emit(bad, a), BV_SINK_FAIL);
    assert_int_equal(bad->failed, 1);
    bv_sink_free(bad);
    bv_alert_free(a);
    bv_rules_free(rs);
}

/* ---- bv_alert_parse_json: the JSON form read back ---- */

static int64_t pj_ms(const char *iso)
{
    int64_t t = 0;
    assert_int_equal(bv_time_parse_iso8601(iso, strlen(iso), &t), 0);
    return t;
}

static char *pj_dup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

/* An alert built by hand, owning everything (own_rule), freed by bv_alert_free. */
static bv_alert *pj_alert(bv_alert_state st, const char *title)
{
    bv_alert *a = calloc(1, sizeof *a);
    assert_non_null(a);
    snprintf(a->id, sizeof a->id, "0123456789abcdef0123456789abcdef");
    a->state = st;
    a->event = pj_dup("koningsdag \"2027\" \\ K\xc3\xb6nigstag \xf0\x9f\x91\x91");
    a->rule = &a->own_rule;
    a->own_rule.id = pj_dup("project-x");
    a->own_rule.title = pj_dup(title);
    a->own_rule.severity = BV_SEV_CRITICAL;
    a->own_rule.recipients = calloc(2, sizeof *a->own_rule.recipients);
    assert_non_null(a->own_rule.recipients);
    a->own_rule.recipients[0] = pj_dup("police");
    a->own_rule.recipients[1] = pj_dup("mayor \"kabinet\"");
    a->own_rule.nrecipients = 2;
    a->at_ms = pj_ms("2027-04-27T12:10:00.123Z");
    return a;
}

/* Every detector type, with doubles of several shapes. */
static void pj_evals(bv_alert *a)
{
    a->evals = calloc(5, sizeof *a->evals);
    assert_non_null(a->evals);
    bv_det_eval *e = a->evals;
    e[0].type = BV_DET_THRESHOLD;
    e[0].window_ms = 300000;
    e[0].count = UINT64_MAX;
    e[0].threshold = 50;
    e[0].holds = 1;
    e[1].type = BV_DET_UNIQUE_AUTHORS;
    e[1].window_ms = 1800000;
    e[1].count = 61;
    e[1].authors = 58;
    e[1].threshold = 25;
    e[1].holds = 1;
    e[2].type = BV_DET_SPIKE;
    e[2].window_ms = 90000; /* written "1m30s" */
    e[2].count = 48;
    e[2].baseline = 1.0 / 3;
    e[2].ratio = 12345.678;
    e[2].factor = 3;
    e[2].threshold = 10;
    e[3].type = BV_DET_GROWTH;
    e[3].window_ms = 600000;
    e[3].count = 40;
    e[3].by_authors = 1;
    e[3].nwindows = 4;
    e[3].windows[0] = 38;
    e[3].windows[1] = 20;
    e[3].windows[2] = 10;
    e[3].windows[3] = 5;
    e[3].ratio = 1.96;
    e[3].factor = 1e10;
    e[3].threshold = 10;
    e[3].holds = 1;
    e[4].type = BV_DET_GROWTH;
    e[4].window_ms = 250; /* "250ms" */
    e[4].nwindows = BV_DET_MAX_PERIODS + 1;
    e[4].ratio = -0.5e-7;
    e[4].factor = 0;
    a->nevals = 5;
}

static void pj_places(bv_alert *a)
{
    a->places = calloc(3, sizeof *a->places);
    assert_non_null(a->places);
    a->nplaces = 3;
    a->places[0].name = pj_dup("Haren");
    a->places[0].count = 14;
    a->places[0].municipality = pj_dup("Groningen");
    a->places[0].province = pj_dup("Groningen");
    a->places[1].name = pj_dup("Katwijk");
    a->places[1].count = UINT32_MAX;
    a->places[1].ambiguous = calloc(3, sizeof(char *));
    assert_non_null(a->places[1].ambiguous);
    a->places[1].ambiguous[0] = pj_dup("Katwijk, Zuid-Holland");
    a->places[1].ambiguous[1] = pj_dup("Sint Anthonis, Noord-Brabant");
    a->places[1].ambiguous[2] = pj_dup("'s-Hertogenbosch, \"Noord\\Brabant\"");
    a->places[1].nambiguous = 3;
    a->places[2].name = pj_dup("Drenthe");
    a->places[2].count = 0;
    a->places[2].province = pj_dup("Drenthe");
}

static void pj_samples(bv_alert *a)
{
    a->samples = calloc(3, sizeof *a->samples);
    assert_non_null(a->samples);
    a->nsamples = 3;
    a->samples[0].platform = BV_PLATFORM_X;
    a->samples[0].created_ms = pj_ms("2027-04-27T12:09:59.999Z");
    a->samples[0].id = pj_dup("1234");
    a->samples[0].url = pj_dup("https://x.com/i/web/status/1234?a=\"b\"&c=\\d");
    a->samples[0].excerpt = pj_dup("Quotes \" backslash \\ tab\t nl\n cr\r bell\x01 del\x7f "
                                   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\x89 </script>");
    a->samples[1].platform = BV_PLATFORM_TELEGRAM;
    a->samples[1].created_ms = pj_ms("1999-12-31T23:59:59.000Z");
    a->samples[1].id = pj_dup("9");
    a->samples[1].url = NULL; /* no public link */
    a->samples[1].excerpt = pj_dup("");
    a->samples[2].platform = BV_PLATFORM_REDDIT;
    a->samples[2].created_ms = 0;
    a->samples[2].id = pj_dup("t3_x");
    a->samples[2].url = pj_dup("");
    a->samples[2].excerpt = pj_dup("\xe4\xb8\xad\xe6\x96\x87");
}

/* format(a) parses, and formatting the parsed alert gives the same bytes. Returns the parsed
 * alert (caller frees). */
static bv_alert *pj_round_trip(const bv_alert *a)
{
    bv_buf j1 = BV_BUF_INIT, j2 = BV_BUF_INIT;
    assert_int_equal(bv_alert_format_json(a, &j1), BV_OK);
    char err[256];
    bv_alert *b = bv_alert_parse_json(j1.p, j1.len, err, sizeof err);
    if (b == NULL) {
        fail_msg("%s\nin: %s", err, j1.p);
    }
    assert_ptr_equal(b->rule, &b->own_rule);
    assert_int_equal(bv_alert_format_json(b, &j2), BV_OK);
    assert_string_equal(j1.p, j2.p);
    /* the parsed alert has all the text form needs */
    bv_buf_reset(&j2);
    assert_int_equal(bv_alert_format_text(b, &j2), BV_OK);
    assert_non_null(strstr(j2.p, b->id));
    bv_buf_free(&j1);
    bv_buf_free(&j2);
    return b;
}

static void test_parse_round_trip(void **state)
{
    (void)state;
    /* firing, a drill, every detector type, places with ambiguity, samples with and without url,
     * text with quotes, backslashes, UTF-8 and control characters */
    bv_alert *a = pj_alert(BV_ALERT_FIRING, "Project \"X\" \\ oproep\n\t\x02 \xc3\xa9\xc3\xa9n");
    a->drill = 1;
    pj_evals(a);
    pj_places(a);
    pj_samples(a);
    bv_alert *b = pj_round_trip(a);
    assert_string_equal(b->id, a->id);
    assert_int_equal(b->state, BV_ALERT_FIRING);
    assert_string_equal(b->event, a->event);
    assert_string_equal(b->rule->id, "project-x");
    assert_string_equal(b->rule->title, a->own_rule.title);
    assert_int_equal(b->rule->severity, BV_SEV_CRITICAL);
    assert_int_equal(b->rule->nrecipients, 2);
    assert_string_equal(b->rule->recipients[1], "mayor \"kabinet\"");
    assert_int_equal(b->at_ms, a->at_ms);
    assert_int_equal(b->since_ms, 0);
    assert_int_equal(b->drill, 1);
    assert_int_equal(b->health, 0);
    assert_int_equal(b->nevals, 5);
    for (size_t i = 0; i < 5; i++) {
        const bv_det_eval *x = &a->evals[i], *y = &b->evals[i];
        assert_int_equal(y->type, x->type);
        assert_int_equal(y->window_ms, x->window_ms);
        assert_true(y->count == x->count);
        assert_true(y->threshold == x->threshold);
        assert_true(y->authors == x->authors);
        assert_int_equal(y->holds, x->holds);
        assert_int_equal(y->by_authors, x->by_authors);
        assert_int_equal(y->nwindows, x->nwindows);
        assert_memory_equal(y->windows, x->windows, sizeof x->windows);
    }
    assert_true(b->evals[2].ratio == 12300.0); /* through %.3g */
    assert_true(b->evals[3].factor == 1e10);
    assert_int_equal(b->nplaces, 3);
    assert_string_equal(b->places[0].municipality, "Groningen");
    assert_null(b->places[1].municipality);
    assert_null(b->places[1].province);
    assert_true(b->places[1].count == UINT32_MAX);
    assert_int_equal(b->places[1].nambiguous, 3);
    assert_string_equal(b->places[1].ambiguous[2], "'s-Hertogenbosch, \"Noord\\Brabant\"");
    assert_null(b->places[2].municipality);
    assert_string_equal(b->places[2].province, "Drenthe");
    assert_int_equal(b->nsamples, 3);
    assert_int_equal(b->samples[0].platform, BV_PLATFORM_X);
    assert_int_equal(b->samples[0].created_ms, a->samples[0].created_ms);
    assert_string_equal(b->samples[0].excerpt, a->samples[0].excerpt);
    assert_string_equal(b->samples[0].url, a->samples[0].url);
    assert_string_equal(b->samples[0].id, ""); /* ids are not in the JSON */
    assert_null(b->samples[1].url);
    assert_string_equal(b->samples[2].url, "");
    bv_alert_free(b);
    bv_alert_free(a);

    /* resolved with fired_at, about blikveld itself, nothing else */
    a = pj_alert(BV_ALERT_RESOLVED, "No posts from source mastodon-nl for 10m");
    a->since_ms = pj_ms("2027-04-27T11:00:00.000Z");
    a->health = 1;
    a->own_rule.severity = BV_SEV_INFO;
    b = pj_round_trip(a);
    assert_int_equal(b->state, BV_ALERT_RESOLVED);
    assert_int_equal(b->since_ms, a->since_ms);
    assert_int_equal(b->health, 1);
    assert_int_equal(b->drill, 0);
    assert_int_equal(b->rule->severity, BV_SEV_INFO);
    assert_int_equal(b->nevals + b->nplaces + b->nsamples, 0);
    bv_alert_free(b);
    /* resolved without fired_at; no recipients; warning */
    a->since_ms = 0;
    a->health = 0;
    a->own_rule.severity = BV_SEV_WARNING;
    for (size_t i = 0; i < a->own_rule.nrecipients; i++) {
        free(a->own_rule.recipients[i]);
    }
    a->own_rule.nrecipients = 0;
    b = pj_round_trip(a);
    assert_int_equal(b->since_ms, 0);
    assert_int_equal(b->rule->nrecipients, 0);
    bv_alert_free(b);
    /* text that is not UTF-8 is written with U+FFFD (bv_buf_json_str), so it still reads back */
    free(a->own_rule.title);
    a->own_rule.title = pj_dup("J\xf6rg \xc3");
    b = pj_round_trip(a);
    assert_string_equal(b->rule->title, "J\xef\xbf\xbdrg \xef\xbf\xbd");
    bv_alert_free(b);
    /* the first and the last millisecond the form can hold */
    a->at_ms = bv_days_from_civil(0, 1, 1) * 86400000;
    a->since_ms = bv_days_from_civil(10000, 1, 1) * 86400000 - 1;
    a->state = BV_ALERT_RESOLVED;
    b = pj_round_trip(a);
    assert_int_equal(b->at_ms, a->at_ms);
    assert_int_equal(b->since_ms, a->since_ms);
    bv_alert_free(b);
    bv_alert_free(a);

    /* an alert as the engine makes it, from a rule set and a signal */
    bv_ruleset *rs;
    bv_diag diag;
    assert_int_equal(bv_rules_load_buffer(&rs, "t", rules_yaml, strlen(rules_yaml), &diag), 0);
    bv_det_eval ev;
    bv_signal s = make_signal(rs, 1, 0, 1781287205000, &ev);
    bv_sample sm = {.platform = BV_PLATFORM_MASTODON,
                    .created_ms = 1781287200000,
                    .id = (char *)"110",
                    .url = (char *)"https://mastodon.example/@a/110",
                    .excerpt = (char *)"Brand in de Grote Markt"};
    const bv_sample *samples[] = {&sm};
    s.samples = samples;
    s.nsamples = 1;
    a = bv_alert_from_signal(&s, BV_ALERT_FIRING, "e", 0, "0123456789abcdef0123456789abcdef");
    assert_non_null(a);
    b = pj_round_trip(a);
    assert_string_equal(b->rule->title, "r1"); /* the title defaults to the id */
    bv_alert_free(b);
    bv_alert_free(a);
    bv_rules_free(rs);
}

/* The JSON of a small valid alert with one of each list, for the refusal tests. */
static char *pj_valid_json(size_t *len)
{
    bv_alert *a = pj_alert(BV_ALERT_RESOLVED, "T");
    a->since_ms = a->at_ms - 60000;
    a->health = 1;
    pj_evals(a);
    pj_places(a);
    pj_samples(a);
    bv_buf j = BV_BUF_INIT;
    assert_int_equal(bv_alert_format_json(a, &j), BV_OK);
    bv_alert_free(a);
    *len = j.len;
    return bv_buf_steal(&j);
}

/* json with the first `from` replaced by `to`; caller frees. */
static char *pj_subst(const char *json, const char *from, const char *to)
{
    const char *at = strstr(json, from);
    if (at == NULL) {
        fail_msg("\"%s\" not in %s", from, json);
    }
    bv_buf b = BV_BUF_INIT;
    bv_buf_append(&b, json, (size_t)(at - json));
    bv_buf_puts(&b, to);
    bv_buf_puts(&b, at + strlen(from));
    return bv_buf_steal(&b);
}

/* Parses s[0..len) from an exact-size copy (no NUL after it): NULL expected, with want in err. */
static void pj_refused(const char *s, size_t len, const char *want)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    char err[256];
    bv_alert *a = bv_alert_parse_json(copy, len, err, sizeof err);
    free(copy);
    if (a != NULL) {
        bv_alert_free(a);
        fail_msg("parsed, expected a refusal (%s): %.*s", want, (int)len, s);
    }
    assert_true(strncmp(err, "alert JSON: ", 12) == 0);
    if (strstr(err, want) == NULL) {
        fail_msg("err \"%s\" does not say \"%s\"", err, want);
    }
}

static void pj_refused_subst(const char *json, const char *from, const char *to, const char *want)
{
    char *bad = pj_subst(json, from, to);
    pj_refused(bad, strlen(bad), want);
    free(bad);
}

/* A list of n copies of item, as "[item,item,...]". Caller frees. */
static char *pj_list(const char *item, size_t n)
{
    bv_buf b = BV_BUF_INIT;
    bv_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        bv_buf_puts(&b, i ? "," : "");
        bv_buf_puts(&b, item);
    }
    bv_buf_putc(&b, ']');
    return bv_buf_steal(&b);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    size_t len;
    char *j = pj_valid_json(&len);
    static const struct {
        const char *from, *to, *want;
    } cases[] = {
        {"\"type\":\"alert\"", "\"type\":\"alerts\"", "not \"alert\""},
        {"\"type\":\"alert\",", "", "\"type\" missing"},
        {"\"state\":\"resolved\"", "\"state\":\"gone\"", "unknown state \"gone\""},
        {"\"severity\":\"critical\"", "\"severity\":\"urgent\"", "unknown severity"},
        {"\"severity\":\"critical\"", "\"severity\":2", "\"severity\" is not a string"},
        {"\"event\":", "\"evnt\":", "unknown field \"evnt\""},
        {"\"drill\":false", "\"drill\":\"no\"", "\"drill\" is not a boolean"},
        {",\"drill\":false", "", "\"drill\" missing"},
        {"\"health\":true", "\"health\":1", "\"health\" is not a boolean"},
        {"\"id\":\"0123456789abcdef0123456789abcdef\"",
         "\"id\":\"0123456789abcdef0123456789abcdef0\"", "id is not"},
        {"\"id\":\"0123456789abcdef0123456789abcdef\"", "\"id\":\"\"", "id is not"},
        {"\"id\":\"0123456789abcdef0123456789abcdef\"", "\"id\":\"a/b\"", "id is not"},
        {"\"recipients\":[\"police\"", "\"recipients\":[1", "\"recipients\" is not a string"},
        {"\"recipients\":[\"police\",\"mayor \\\"kabinet\\\"\"]", "\"recipients\":{\"police\":1}",
         "\"recipients\" is not an array"},
        {"\"at\":\"2027-04-27T12:10:00.123Z\"", "\"at\":\"2027-04-27 noon\"", "ISO 8601"},
        {"\"at\":\"2027-04-27T12:10:00.123Z\"", "\"at\":\"2027-02-30T12:10:00.123Z\"", "ISO 8601"},
        {"\"at\":\"2027-04-27T12:10:00.123Z\"", "\"at\":\"9999-12-31T23:59:59.000-01:00\"",
         "ISO 8601"}, /* beyond year 9999 */
        {"\"at\":\"2027-04-27T12:10:00.123Z\"", "\"at\":\"0000-01-01T00:00:00+01:00\"",
         "ISO 8601"}, /* before year 0 */
        {"\"ratio\":1.96", "\"ratio\":1.7976931348623157e308", "up to 1e300"},
        {"\"ratio\":1.96", "\"ratio\":1e999", "up to 1e300"},
        {"\"ratio\":1.96", "\"ratio\":true", "\"ratio\" is not a number"},
        {"\"fired_at\":\"2027-04-27T12:09:00.123Z\"", "\"fired_at\":7",
         "\"fired_at\" is not a string"},
        {"\"state\":\"resolved\"", "\"state\":\"firing\"", "fired_at in a firing alert"},
        {"\"type\":\"threshold\"", "\"type\":\"median\"", "unknown detector type \"median\""},
        {"\"window\":\"5m\"", "\"window\":\"5x\"", "not a duration"},
        {"\"window\":\"5m\"", "\"window\":\"-5m\"", "not a duration"},
        {"\"threshold\":50", "\"threshold\":-50", "not an unsigned integer"},
        {"\"threshold\":50", "\"threshold\":50.5", "not an unsigned integer"},
        {"\"threshold\":50", "\"threshold\":5e1", "not an unsigned integer"},
        {"\"threshold\":50", "\"threshold\":\"50\"", "not an unsigned integer"},
        {"\"count\":18446744073709551615", "\"count\":18446744073709551616", "out of range"},
        {"\"threshold\":50", "\"threshold\":50,\"ratio\":2", "unexpected field \"ratio\""},
        {"\"threshold\":50,", "", "\"threshold\" missing"},
        {"\"baseline\":0.333", "\"baseline\":\"0.333\"", "\"baseline\" is not a number"},
        {"\"measure\":\"authors\"", "\"measure\":\"likes\"", "unknown measure \"likes\""},
        {"\"windows\":[38,", "\"windows\":[-38,", "not an unsigned integer"},
        {"\"holds\":true", "\"holds\":null", "\"holds\" is not a boolean"},
        {"\"count\":4294967295", "\"count\":4294967296", "out of range"},
        {"\"name\":\"Haren\"", "\"name\":[\"Haren\"]", "\"name\" is not a string"},
        {"\"ambiguous\":[", "\"ambiguous\":[3,", "\"ambiguous\" is not a string"},
        {"\"platform\":\"x\"", "\"platform\":\"myspace\"", "unknown platform \"myspace\""},
        {"\"platform\":\"x\",", "", "\"platform\" missing"},
        {"\"excerpt\":\"\"", "\"excerpt\":null", "\"excerpt\" is not a string"},
        {"\"places\":[", "\"places\":[7,", "place is not an object"},
        {"\"samples\":[", "\"samples\":[[],", "sample is not an object"},
        {"\"detectors\":[", "\"detectors\":[\"x\",", "detector is not an object"},
        {"\"detectors\":[", "\"detectors\":[{},", "\"type\" missing"},
        {",\"places\":[", ",\"places\":[],\"places\":[", "\"places\" twice"},
        {"\"excerpt\":\"\"", "\"excerpt\":\"\\u0000\"", "\\u0000"},
        {"\"excerpt\":\"\"", "\"excerpt\":\"\\udc00\"", "not UTF-8"},
        {"\"excerpt\":\"\"", "\"excerpt\":\"\xc3\x28\"", "not JSON"},
        {"\"excerpt\":\"\"", "\"excerpt\":\"\xed\xa0\x80\"", "not UTF-8"}, /* a surrogate */
        {"\"excerpt\":\"\"", "\"excerpt\":\"\xc0\xaf\"", "not"},           /* overlong */
        {"{\"type\"", "/* c */{\"type\"", "'/'"},
        {"{\"type\"", "// c\n{\"type\"", "'/'"},
        {"{\"type\"", "[{\"type\"", "not JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pj_refused_subst(j, cases[i].from, cases[i].to, cases[i].want);
    }
    pj_refused("", 0, "not JSON");
    pj_refused("nope", 4, "not JSON");
    pj_refused("[]", 2, "alert is not an object");
    pj_refused("\"alert\"", 7, "alert is not an object");
    pj_refused("{}", 2, "\"type\" missing");
    pj_refused("null", 4, "not an object");
    /* trailing bytes, a second object */
    char *two = malloc(2 * len + 1);
    assert_non_null(two);
    memcpy(two, j, len);
    memcpy(two + len, j, len);
    pj_refused(two, 2 * len, "not JSON");
    two[len] = 'x';
    pj_refused(two, len + 1, "not JSON");
    /* a NUL inside */
    memcpy(two, j, len);
    two[len / 2] = '\0';
    pj_refused(two, len, "NUL");
    free(two);
    /* nested too deep, also where yajl would take it */
    char deep[64 + 1];
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    deep[64] = '\0';
    pj_refused(deep, 64, "nested deeper");
    char *nest = pj_subst(j, "\"health\":true", "\"health\":[[[[[[[[[1]]]]]]]]]");
    pj_refused(nest, strlen(nest), "nested deeper");
    free(nest);
    /* more than 64 entries; exactly 64 are fine */
    static const char det[] = "{\"type\":\"threshold\",\"window\":\"5m\",\"count\":1,\"threshold\":"
                              "1,\"holds\":true}";
    static const char place[] = "{\"name\":\"A\",\"count\":1}";
    static const char sample[] = "{\"platform\":\"x\",\"at\":\"2027-04-27T12:10:00.000Z\","
                                 "\"excerpt\":\"e\"}";
    static const char *const lists[] = {"detectors", "places", "samples"};
    static const char *const items[] = {det, place, sample};
    for (size_t k = 0; k < 3; k++) {
        for (size_t n = 64; n <= 65; n++) {
            char key[32], *list = pj_list(items[k], n);
            snprintf(key, sizeof key, "\"%s\":", lists[k]);
            char *with = pj_subst(j, key, "\"x_\":");
            /* swap the list: the old one is renamed, then dropped through its own name */
            char *cut = strstr(with, "\"x_\":");
            bv_buf b = BV_BUF_INIT;
            bv_buf_append(&b, with, (size_t)(cut - with));
            bv_buf_puts(&b, key);
            bv_buf_puts(&b, list);
            /* skip the old list: balanced brackets from cut + 5 */
            const char *p = cut + 5;
            int depth = 0, in_str = 0;
            do {
                if (in_str) {
                    if (*p == '\\') {
                        p++;
                    } else if (*p == '"') {
                        in_str = 0;
                    }
                } else if (*p == '"') {
                    in_str = 1;
                } else if (*p == '[' || *p == '{') {
                    depth++;
                } else if (*p == ']' || *p == '}') {
                    depth--;
                }
                p++;
            } while (depth > 0);
            bv_buf_puts(&b, p);
            if (n == 64) {
                char err[256];
                bv_alert *a = bv_alert_parse_json(b.p, b.len, err, sizeof err);
                if (a == NULL) {
                    fail_msg("%s: %s", lists[k], err);
                }
                bv_alert_free(a);
            } else {
                pj_refused(b.p, b.len, "more than 64 entries");
            }
            bv_buf_free(&b);
            free(with);
            free(list);
        }
    }
    /* growth: at most BV_DET_MAX_PERIODS + 1 windows */
    char *w14 = pj_subst(j, "\"windows\":[38,", "\"windows\":[1,2,3,4,5,6,7,8,9,10,11,12,13,38,");
    pj_refused(w14, strlen(w14), "\"windows\" has more than 13 entries");
    free(w14);
    /* err may be NULL or tiny */
    assert_null(bv_alert_parse_json("{", 1, NULL, 0));
    char tiny[4];
    assert_null(bv_alert_parse_json("{", 1, tiny, sizeof tiny));
    assert_true(strlen(tiny) < sizeof tiny);
    assert_null(bv_alert_parse_json(NULL, 0, tiny, sizeof tiny));
    free(j);
}

/* Every proper prefix of a valid alert is refused, cleanly. */
static void test_parse_truncations(void **state)
{
    (void)state;
    size_t len;
    char *j = pj_valid_json(&len);
    for (size_t n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, j, n);
        char err[256] = "";
        bv_alert *a = bv_alert_parse_json(copy, n, err, sizeof err);
        if (a != NULL) {
            fail_msg("a prefix of %zu bytes parsed", n);
        }
        assert_true(err[0] != '\0');
        free(copy);
    }
    char err[256];
    bv_alert *a = bv_alert_parse_json(j, len, err, sizeof err);
    assert_non_null(a);
    bv_alert_free(a);
    free(j);
}

/* One byte changed (or dropped) anywhere: refused with a reason, or read into an alert that
 * formats and parses back stably. */
static void test_parse_byte_changes(void **state)
{
    (void)state;
    size_t len;
    char *j = pj_valid_json(&len);
    static const unsigned char subs[] = {'x', '"', '\\', '{',  '}',  '[',  ']',  ',',  ':', '0',
                                         '9', '-', ' ',  0x00, 0x01, 0x7f, 0x80, 0xc3, 0xff};
    char *copy = malloc(len);
    assert_non_null(copy);
    size_t parsed = 0, refused = 0;
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k <= sizeof subs; k++) {
            size_t n = len;
            memcpy(copy, j, len);
            if (k == sizeof subs) {
                memmove(copy + i, copy + i + 1, len - i - 1); /* dropped */
                n--;
            } else if ((unsigned char)j[i] == subs[k]) {
                continue;
            } else {
                copy[i] = (char)subs[k];
            }
            char err[256] = "";
            bv_alert *a = bv_alert_parse_json(copy, n, err, sizeof err);
            if (a == NULL) {
                assert_true(err[0] != '\0');
                refused++;
                continue;
            }
            parsed++;
            bv_buf f1 = BV_BUF_INIT, f2 = BV_BUF_INIT;
            assert_int_equal(bv_alert_format_json(a, &f1), BV_OK);
            bv_alert *b = bv_alert_parse_json(f1.p, f1.len, err, sizeof err);
            if (b == NULL) {
                fail_msg("reformatted alert refused: %s\n%s", err, f1.p);
            }
            assert_int_equal(bv_alert_format_json(b, &f2), BV_OK);
            assert_string_equal(f1.p, f2.p);
            bv_buf_free(&f1);
            bv_buf_free(&f2);
            bv_alert_free(a);
            bv_alert_free(b);
        }
    }
    /* most changes break it; some (a digit, a letter in a string) give another valid alert */
    assert_true(refused > parsed);
    assert_true(parsed > 0);
    free(copy);
    free(j);
}

static void test_parse_oversized(void **state)
{
    (void)state;
    size_t len;
    char *j = pj_valid_json(&len);
    /* padded with spaces to exactly the limit: read; one byte more: refused unread */
    char *big = malloc(BV_ALERT_JSON_MAX + 1);
    assert_non_null(big);
    memcpy(big, j, len);
    memset(big + len, ' ', BV_ALERT_JSON_MAX + 1 - len);
    char err[256];
    bv_alert *a = bv_alert_parse_json(big, BV_ALERT_JSON_MAX, err, sizeof err);
    if (a == NULL) {
        fail_msg("%s", err);
    }
    bv_alert_free(a);
    pj_refused(big, BV_ALERT_JSON_MAX + 1, "more than 1048576");
    /* a long excerpt inside the limit is fine */
    bv_buf b = BV_BUF_INIT;
    bv_buf_append(&b, j, len);
    char *at = strstr(b.p, "\"excerpt\":\"\"");
    assert_non_null(at);
    size_t off = (size_t)(at - b.p) + 11;
    bv_buf e = BV_BUF_INIT;
    bv_buf_append(&e, b.p, off);
    for (size_t i = 0; i < 100000; i++) {
        bv_buf_puts(&e, "\\\"\xc3\xa9");
    }
    bv_buf_puts(&e, b.p + off);
    a = bv_alert_parse_json(e.p, e.len, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(strlen(a->samples[1].excerpt), 300000);
    bv_alert_free(a);
    bv_buf_free(&e);
    bv_buf_free(&b);
    free(big);
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_two_books_one_store),
        cmocka_unit_test(test_episode_adopted),
        cmocka_unit_test(test_stream_sink),
        cmocka_unit_test(test_parse_round_trip),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_parse_truncations),
        cmocka_unit_test(test_parse_byte_changes),
        cmocka_unit_test(test_parse_oversized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
