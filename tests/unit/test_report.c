/* test_report.c: the drill debrief page (lib/console/report.h): a small rule set, a history fed
 * with synthetic signals and alerts made from signals. The page is well-formed enough (one chart
 * per rule that matched, balanced svg, table and section tags), an alert's marker sits where its
 * time is on the axis, what posts say is escaped (a hostile excerpt, a javascript: url is no
 * link), Dutch and English wording and numbers, a rule without matches or points says so, there
 * is no script, the same inputs give the same bytes, and 10k points stay a chart of bounded
 * size. */
#include "testutil.h"

#include "console/report.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <ctype.h>
#include <math.h>

#define MIN 60000
#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"
#define ID3 "00112233445566778899aabbccddeeff"

static const char rules_yaml[] =
    "rules:\n"
    "  - id: project-x\n"
    "    title: \"Project X-oproep\"\n"
    "    severity: critical\n"
    "    match: {keyword: projectx}\n"
    "    detectors:\n"
    "      - {type: unique_authors, window: 30m, bucket: 1m, count: 25}\n"
    "      - {type: growth, window: 10m, bucket: 1m, periods: 3, min_count: 10}\n"
    "  - id: brand\n"
    "    title: \"Brand & <b>rook</b>\"\n"
    "    severity: warning\n"
    "    match: {keyword: brand}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 10m, bucket: 1m, count: 10}\n"
    "  - id: piek\n"
    "    severity: info\n"
    "    match: {keyword: piek}\n"
    "    detectors:\n"
    "      - {type: spike, window: 10m, bucket: 1m, factor: 3, min_count: 10, baseline: 1h}\n"
    "  - id: stil\n"
    "    title: Stil\n"
    "    match: {keyword: stil}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 10m, bucket: 1m, count: 5}\n"
    "  - id: leeg\n"
    "    title: Leeg\n"
    "    match: {keyword: leeg}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 10m, bucket: 1m, count: 5}\n";

static int64_t ms(const char *iso)
{
    int64_t t = 0;
    assert_int_equal(bv_time_parse_iso8601(iso, strlen(iso), &t), 0);
    return t;
}

typedef struct fixture {
    bv_ruleset *rs;
    bv_history *h;
    bv_alert *alerts[4];
    size_t nalerts;
    uint64_t matches[5];
    int64_t first, last;
} fixture;

static bv_signal signal_of(const bv_ruleset *rs, uint32_t rule, int64_t at, const bv_det_eval *e,
                           size_t ne, int holds)
{
    bv_signal s;
    memset(&s, 0, sizeof s);
    s.rule = rule;
    s.spec = bv_rules_get(rs, rule);
    s.holds = holds;
    s.any_holds = holds;
    s.at_ms = at;
    s.episode_ms = at - at % MIN;
    s.evals = e;
    s.nevals = ne;
    return s;
}

static bv_det_eval ev(bv_det_type type, int64_t window, uint64_t count, uint64_t thr)
{
    bv_det_eval e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.window_ms = window;
    e.count = count;
    e.threshold = thr;
    e.warm = 1;
    return e;
}

/* 20:00-23:00 CEST on 12 June 2026: project-x climbs and fires at 21:41:07 (resolved at 22:30),
 * brand fires at 22:50 and is still firing at the end, piek is warm after an hour, stil never
 * matched, leeg matched (the count says so) but has no points. */
static void fixture_make(fixture *f)
{
    memset(f, 0, sizeof *f);
    bv_diag diag;
    memset(&diag, 0, sizeof diag);
    assert_int_equal(bv_rules_load_buffer(&f->rs, "t.yaml", rules_yaml, strlen(rules_yaml), &diag),
                     0);
    f->h = bv_history_new(f->rs, MIN, 0);
    assert_non_null(f->h);
    f->first = ms("2026-06-12T18:00:00.000Z");
    f->last = ms("2026-06-12T21:00:00.000Z");
    for (int64_t t = f->first; t <= f->last; t += MIN) {
        int64_t k = (t - f->first) / MIN;
        bv_det_eval e[2];
        e[0] = ev(BV_DET_UNIQUE_AUTHORS, 30 * MIN, (uint64_t)k, 25);
        e[0].authors = (uint64_t)(k < 100 ? k / 2 : 50 - (k - 100) / 4);
        e[1] = ev(BV_DET_GROWTH, 10 * MIN, (uint64_t)k, 10);
        bv_signal s = signal_of(f->rs, 0, t + 7000, e, 2, e[0].authors >= 25);
        bv_history_signal(f->h, &s);
        if (k % 3 == 0) { /* brand: every third minute, a gap in between */
            bv_det_eval b = ev(BV_DET_THRESHOLD, 10 * MIN, (uint64_t)(k / 10), 10);
            s = signal_of(f->rs, 1, t, &b, 1, b.count >= 10);
            bv_history_signal(f->h, &s);
        }
        bv_det_eval p = ev(BV_DET_SPIKE, 10 * MIN, (uint64_t)(5 + k % 7), 10);
        p.factor = 3;
        p.baseline = 2 + (double)(k % 5) / 2;
        p.warm = k >= 60;
        s = signal_of(f->rs, 2, t, &p, 1, 0);
        bv_history_signal(f->h, &s);
    }
    f->matches[0] = 4321;
    f->matches[1] = 12;
    f->matches[2] = 1234567;
    f->matches[3] = 0;
    f->matches[4] = 3;

    /* project-x fires, with evidence, places and hostile samples */
    bv_det_eval e[2];
    e[0] = ev(BV_DET_UNIQUE_AUTHORS, 30 * MIN, 1500, 25);
    e[0].authors = 61;
    e[0].holds = 1;
    e[1] = ev(BV_DET_GROWTH, 10 * MIN, 40, 10);
    e[1].nwindows = 4;
    e[1].windows[0] = 40;
    e[1].windows[1] = 20;
    e[1].windows[2] = 10;
    e[1].windows[3] = 5;
    e[1].ratio = 2;
    e[1].factor = 2;
    e[1].holds = 1;
    bv_sample sm[3];
    memset(sm, 0, sizeof sm);
    sm[0].platform = BV_PLATFORM_X;
    sm[0].created_ms = ms("2026-06-12T19:41:00.000Z");
    sm[0].id = (char *)"1";
    sm[0].url = (char *)"javascript:alert(1)";
    sm[0].excerpt = (char *)"<script>alert('x')</script> Project X \"Haren\" & co";
    sm[1].platform = BV_PLATFORM_MASTODON;
    sm[1].created_ms = ms("2026-06-12T19:40:00.000Z");
    sm[1].id = (char *)"2";
    sm[1].url = (char *)"https://mastodon.example/@a/1?x=1&y=<2>\"";
    sm[1].excerpt = (char *)"Wie gaat er mee?\nOnclick=\"evil\"";
    sm[2].platform = BV_PLATFORM_BLUESKY;
    sm[2].created_ms = ms("2026-06-12T19:39:00.000Z");
    sm[2].id = (char *)"3";
    sm[2].excerpt = (char *)"bad \xff byte";
    const bv_sample *sp[] = {&sm[0], &sm[1], &sm[2]};
    bv_place_home home = {.municipality = "Groningen", .province = "Groningen"};
    bv_place_count pc[2];
    memset(pc, 0, sizeof pc);
    pc[0].name = "Haren";
    pc[0].count = 14;
    pc[0].home = &home;
    pc[1].name = "<img src=x onerror=alert(1)>";
    pc[1].count = 2;
    bv_signal s = signal_of(f->rs, 0, ms("2026-06-12T19:41:07.000Z"), e, 2, 1);
    s.samples = sp;
    s.nsamples = 3;
    s.places = pc;
    s.nplaces = 2;
    f->alerts[0] = bv_alert_from_signal(&s, BV_ALERT_FIRING, "koningsdag", 1, ID1);
    assert_non_null(f->alerts[0]);

    /* brand fires at 22:50 and stays firing */
    bv_det_eval b = ev(BV_DET_THRESHOLD, 10 * MIN, 17, 10);
    b.holds = 1;
    s = signal_of(f->rs, 1, ms("2026-06-12T20:50:00.000Z"), &b, 1, 1);
    f->alerts[1] = bv_alert_from_signal(&s, BV_ALERT_FIRING, "koningsdag", 1, ID2);
    assert_non_null(f->alerts[1]);

    /* project-x resolves at 22:30 */
    e[0].authors = 20;
    e[0].holds = 0;
    e[1].holds = 0;
    s = signal_of(f->rs, 0, ms("2026-06-12T20:30:00.000Z"), e, 2, 0);
    s.final = 1;
    f->alerts[2] = bv_alert_from_signal(&s, BV_ALERT_RESOLVED, "koningsdag", 1, ID1);
    assert_non_null(f->alerts[2]);
    f->alerts[2]->since_ms = f->alerts[0]->at_ms;
    f->nalerts = 3;
}

static void fixture_free(fixture *f)
{
    for (size_t i = 0; i < f->nalerts; i++) {
        bv_alert_free(f->alerts[i]);
    }
    bv_history_free(f->h);
    bv_rules_free(f->rs);
}

static bv_report_opts opts_of(const fixture *f, bv_lang lang)
{
    bv_report_opts o;
    memset(&o, 0, sizeof o);
    o.event = "koningsdag";
    o.run = "oefening <1>";
    o.lang = lang;
    o.rules = f->rs;
    o.history = f->h;
    o.alerts = (const bv_alert *const *)f->alerts;
    o.nalerts = f->nalerts;
    o.first_ms = f->first;
    o.last_ms = f->last;
    o.posts = 12345;
    o.matches = f->matches;
    o.generated_ms = ms("2026-06-13T07:00:00.000Z");
    return o;
}

/* The page (caller frees), checked to be appended whole. */
static char *report(const bv_report_opts *o)
{
    bv_buf b = BV_BUF_INIT;
    bv_buf_puts(&b, "<<");
    assert_int_equal(bv_report_html(o, &b), BV_OK);
    assert_memory_equal(b.p, "<<", 2);
    char *s = strdup(b.p + 2);
    assert_non_null(s);
    bv_buf_free(&b);
    return s;
}

static void has(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) {
        fail_msg("expected \"%s\" in the page", needle);
    }
}

static void hasnt(const char *hay, const char *needle)
{
    if (strstr(hay, needle) != NULL) {
        fail_msg("did not expect \"%s\" in the page", needle);
    }
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        if (strncasecmp(p, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The part of the page from the rule section of id to its end (caller frees). */
static char *rule_section(const char *page, const char *id)
{
    char key[128];
    snprintf(key, sizeof key, "<section class=\"rule\" id=\"rule-%s\"", id);
    const char *a = strstr(page, key);
    assert_non_null(a);
    const char *b = strstr(a, "</section>");
    assert_non_null(b);
    return strndup(a, (size_t)(b - a));
}

/* Tags open as often as they close, and never close before they open. */
static void balanced(const char *page, const char *name)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s", name);
    snprintf(close, sizeof close, "</%s>", name);
    size_t depth = 0, opened = 0;
    size_t lo = strlen(open), lc = strlen(close);
    for (const char *p = page; *p; p++) {
        if (strncmp(p, open, lo) == 0 && (p[lo] == ' ' || p[lo] == '>')) {
            depth++;
            opened++;
        } else if (strncmp(p, close, lc) == 0) {
            assert_true(depth > 0);
            depth--;
        }
    }
    assert_int_equal(depth, 0);
    assert_true(opened > 0);
}

/* No tag has an event handler or loads anything (text may say so: it is escaped). */
static void tags_clean(const char *page)
{
    for (const char *p = strchr(page, '<'); p; p = strchr(p + 1, '<')) {
        const char *e = strchr(p, '>');
        assert_non_null(e);
        for (const char *q = p; q < e; q++) {
            if (strncasecmp(q, " on", 3) == 0 || strncasecmp(q, " src=", 5) == 0 ||
                strncasecmp(q, " srcset=", 8) == 0) {
                fail_msg("a tag with a handler or a source: %.*s", (int)(e - p + 1), p);
            }
        }
    }
}

/* The x of the first attribute `attr="` after `after` in s. */
static double attr_after(const char *s, const char *after, const char *attr)
{
    const char *p = strstr(s, after);
    assert_non_null(p);
    char key[32];
    snprintf(key, sizeof key, " %s=\"", attr);
    p = strstr(p, key);
    assert_non_null(p);
    return strtod(p + strlen(key), NULL);
}

static double x_of(int64_t t, int64_t x0, int64_t x1)
{
    return BV_REPORT_PLOT_X + (double)(t - x0) * BV_REPORT_PLOT_W / (double)(x1 - x0);
}

static void test_structure(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_report_opts o = opts_of(&f, BV_LANG_NL);
    char *p = report(&o);
    assert_true(strncmp(p, "<!DOCTYPE html>\n<html lang=\"nl\">", 32) == 0);
    size_t n = strlen(p);
    assert_true(n > 7 && strcmp(p + n - 8, "</html>\n") == 0);
    has(p, "<meta charset=\"utf-8\">");
    has(p, "<style>");
    /* one chart per rule that matched and has points: project-x, brand, piek */
    assert_int_equal(count(p, "<svg"), 3);
    assert_int_equal(count(p, "</svg>"), 3);
    balanced(p, "svg");
    balanced(p, "table");
    balanced(p, "section");
    balanced(p, "tr");
    balanced(p, "ul");
    assert_int_equal(count(p, "<section class=\"rule\""), 5);
    assert_int_equal(count(p, "<html"), 1);
    assert_int_equal(count(p, "</body>"), 1);
    /* nothing runs and nothing is fetched */
    assert_false(contains_nocase(p, "<script"));
    hasnt(p, "@import");
    hasnt(p, "url(");
    tags_clean(p);
    /* a chart for piek (spike): its level varies, so runs of dashes, not one line */
    char *sec = rule_section(p, "piek");
    has(sec, "<svg");
    assert_true(count(sec, "class=\"level\"") >= 1);
    free(sec);
    /* brand's threshold never changed: one dashed line across; its points, every third minute,
     * make one line (the silences are shorter than its window) */
    sec = rule_section(p, "brand");
    assert_int_equal(count(sec, "<polyline class=\"value\""), 1);
    assert_int_equal(count(sec, "class=\"level\""), 1);
    has(sec, "class=\"level\" points=\"56,");
    free(sec);
    free(p);
    fixture_free(&f);
}

/* Each alert is marked where it fired (the axis spans the replay: 20:00 to 23:00), the band runs
 * to its resolution, or to the end while it still fires; the marker carries its number. */
static void test_markers(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_report_opts o = opts_of(&f, BV_LANG_NL);
    char *p = report(&o);
    char *sec = rule_section(p, "project-x");
    double x = attr_after(sec, "<line class=\"fired sev-critical\"", "x1");
    double want = x_of(f.alerts[0]->at_ms, f.first, f.last);
    assert_true(fabs(x - want) < 0.06);
    assert_true(fabs(want - (56 + 828 * (101.0 + 7.0 / 60) / 180)) < 1e-9);
    double bx = attr_after(sec, "<rect class=\"band sev-critical\"", "x");
    double bw = attr_after(sec, "<rect class=\"band sev-critical\"", "width");
    assert_true(fabs(bx - want) < 0.06);
    assert_true(fabs(bx + bw - x_of(f.alerts[2]->at_ms, f.first, f.last)) < 0.11);
    has(sec, "<text x=\"");
    has(sec, "\">1</text></g>"); /* its number in the table */
    assert_int_equal(count(sec, "class=\"fired "), 1);
    free(sec);
    sec = rule_section(p, "brand");
    x = attr_after(sec, "<line class=\"fired sev-warning\"", "x1");
    assert_true(fabs(x - x_of(f.alerts[1]->at_ms, f.first, f.last)) < 0.06);
    bx = attr_after(sec, "<rect class=\"band sev-warning\"", "x");
    bw = attr_after(sec, "<rect class=\"band sev-warning\"", "width");
    assert_true(fabs(bx + bw - (BV_REPORT_PLOT_X + BV_REPORT_PLOT_W)) < 0.11); /* still firing */
    has(sec, "\">2</text></g>");
    free(sec);
    sec = rule_section(p, "piek");
    hasnt(sec, "class=\"fired");
    free(sec);
    /* the axis: hours in Amsterdam time */
    has(p, ">20:00</text>");
    has(p, ">21:00</text>");
    has(p, ">23:00</text>");
    hasnt(p, ">18:00</text>"); /* that would be UTC */
    /* the table: numbered rows, times, the end state */
    has(p, "<tr class=\"head\" id=\"alert-1\"><td class=\"n\">1</td><td>21:41:07</td>"
           "<td>22:30:00 (48m)</td>");
    has(p, "<tr class=\"head\" id=\"alert-2\"><td class=\"n\">2</td><td>22:50:00</td>"
           "<td><em class=\"still\">nog actief aan het eind</em></td>");
    hasnt(p, "id=\"alert-3\""); /* the resolved record joins its firing one */
    free(p);
    fixture_free(&f);
}

static void test_escaping(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_report_opts o = opts_of(&f, BV_LANG_EN);
    o.event = "<script>ev</script>";
    char *p = report(&o);
    assert_false(contains_nocase(p, "<script"));
    has(p, "<title>Drill debrief: &lt;script&gt;ev&lt;/script&gt;</title>");
    has(p, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Project X &quot;Haren&quot; &amp; co");
    /* a javascript: url is shown, never linked */
    has(p, "javascript:alert(1)");
    assert_false(contains_nocase(p, "href=\"javascript"));
    /* an http(s) url is linked, escaped in the attribute and the text */
    has(p, "<a href=\"https://mastodon.example/@a/1?x=1&amp;y=&lt;2&gt;&quot;\" "
           "rel=\"noopener noreferrer\">https://mastodon.example/@a/1?x=1&amp;y=&lt;2&gt;&quot;"
           "</a>");
    assert_int_equal(count(p, "<a href="), 1);
    /* a newline in an excerpt is a space; a bad byte is U+FFFD */
    has(p, "Wie gaat er mee? Onclick=&quot;evil&quot;");
    has(p, "bad \xef\xbf\xbd byte");
    hasnt(p, "\xff");
    /* places and rule titles */
    has(p, "&lt;img src=x onerror=alert(1)&gt; 2");
    hasnt(p, "<img");
    has(p, "Brand &amp; &lt;b&gt;rook&lt;/b&gt;");
    hasnt(p, "<b>rook");
    has(p, "oefening &lt;1&gt;");
    free(p);
    fixture_free(&f);
}

static void test_languages(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_report_opts o = opts_of(&f, BV_LANG_NL);
    char *nl = report(&o);
    o.lang = BV_LANG_EN;
    char *en = report(&o);

    has(nl, "<title>Oefening-debrief: koningsdag</title>");
    has(nl, "<h1>Oefening-debrief: koningsdag</h1>");
    has(nl, "Oefenrun: oefening &lt;1&gt;");
    has(nl, "Gemaakt: 2026-06-13 09:00:00 CEST");
    has(nl, "2026-06-12 20:00:00 CEST \xe2\x80\x93 23:00:00 CEST (3h)");
    has(nl, "<td>12.345</td>"); /* posts */
    has(nl, "Treffers: 1.234.567");
    has(nl, "61 verschillende accounts in 30m (drempel 25)");
    has(nl, "groei 2x per 10m (drempel 2x); berichten per venster: 5 \xe2\x86\x92 10 \xe2\x86\x92 "
            "20 \xe2\x86\x92 40");
    has(nl, "17 berichten in 10m (drempel 10)");
    has(nl, "Haren 14 (gemeente Groningen)");
    has(nl, "drempel: minstens 10 berichten in 10m");
    has(nl, "minstens 25 verschillende accounts in 30m");
    has(nl, "piek: minstens 3x het normale niveau in 10m");
    has(nl, "alle detectoren moeten gelden");
    has(nl, "Bewijs bij alarm");
    has(nl, "x, 21:41:00");
    has(nl, ">kritiek</span>");

    has(en, "<html lang=\"en\">");
    has(en, "<title>Drill debrief: koningsdag</title>");
    has(en, "Drill run: oefening &lt;1&gt;");
    has(en, "Generated: 2026-06-13 09:00:00 CEST");
    has(en, "<td>12,345</td>");
    has(en, "Matches: 1,234,567");
    has(en, "61 different accounts in 30m (threshold 25)");
    has(en, "17 posts in 10m (threshold 10)");
    has(en, "Haren 14 (municipality of Groningen)");
    has(en, "threshold: at least 10 posts in 10m");
    has(en, "spike: at least 3x the usual level in 10m");
    has(en, "every detector must hold");
    has(en, "still firing at the end");
    has(en, ">critical</span>");
    hasnt(en, "drempel");
    hasnt(en, "berichten");
    hasnt(nl, "threshold");
    hasnt(nl, "still firing");

    /* summary counts per severity: critical fired 1 resolved 1; warning fired 1 still 1 */
    has(nl, "<span class=\"sev sev-critical\">kritiek</span></td><td class=\"num\">1</td>"
            "<td class=\"num\">1</td><td class=\"num\">0</td>");
    has(nl, "<span class=\"sev sev-warning\">waarschuwing</span></td><td class=\"num\">1</td>"
            "<td class=\"num\">0</td><td class=\"num\">1</td>");
    has(nl, "<tr class=\"total\"><td>Totaal</td><td class=\"num\">2</td><td class=\"num\">1</td>"
            "<td class=\"num\">1</td>");
    free(nl);
    free(en);

    /* decimals: a spike's evidence */
    bv_det_eval e = ev(BV_DET_SPIKE, 10 * MIN, 1200, 10);
    e.baseline = 3.5;
    e.ratio = 342.857;
    e.factor = 3;
    e.holds = 1;
    bv_signal s = signal_of(f.rs, 2, f.first + 90 * MIN, &e, 1, 1);
    bv_alert *a = bv_alert_from_signal(&s, BV_ALERT_FIRING, "koningsdag", 1, ID3);
    assert_non_null(a);
    const bv_alert *as[] = {a};
    o.alerts = as;
    o.nalerts = 1;
    o.lang = BV_LANG_NL;
    nl = report(&o);
    has(nl, "1200 berichten in 10m, 342,86x het normale niveau (3,5 per 10m; drempel 3x, "
            "minimaal 10)");
    o.lang = BV_LANG_EN;
    en = report(&o);
    has(en, "1200 posts in 10m, 342.86x the usual level (3.5 per 10m; threshold 3x, "
            "at least 10)");
    free(nl);
    free(en);
    bv_alert_free(a);
    fixture_free(&f);
}

static void test_no_points(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_report_opts o = opts_of(&f, BV_LANG_NL);
    char *p = report(&o);
    char *sec = rule_section(p, "stil");
    has(sec, "Deze regel had geen treffers in de afgespeelde periode.");
    has(sec, "Treffers: 0");
    hasnt(sec, "<svg");
    free(sec);
    sec = rule_section(p, "leeg");
    has(sec, "Geen meetpunten voor deze regel.");
    hasnt(sec, "<svg");
    free(sec);
    free(p);

    /* without match counts or history: every rule says it has no points */
    o.matches = NULL;
    o.history = NULL;
    o.lang = BV_LANG_EN;
    p = report(&o);
    assert_int_equal(count(p, "No data points for this rule."), 5);
    has(p, "Matches: unknown");
    hasnt(p, "<svg");
    free(p);

    /* nothing at all: still a page */
    memset(&o, 0, sizeof o);
    o.event = "leeg";
    o.first_ms = INT64_MIN;
    o.last_ms = INT64_MIN;
    p = report(&o);
    has(p, "Oefening-debrief: leeg");
    has(p, "geen berichten");
    has(p, "Er ging geen alarm af.");
    balanced(p, "section");
    hasnt(p, "<svg");
    free(p);
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_report_html(NULL, &b), BV_EINVAL);
    assert_int_equal(bv_report_html(&o, NULL), BV_EINVAL);
    assert_null(b.p);
    fixture_free(&f);
}

static void test_deterministic(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_report_opts o = opts_of(&f, BV_LANG_NL);
    char *a = report(&o);
    char *b = report(&o);
    assert_string_equal(a, b);
    /* a second fixture built the same way (other addresses) gives the same page */
    fixture g;
    fixture_make(&g);
    bv_report_opts o2 = opts_of(&g, BV_LANG_NL);
    char *c = report(&o2);
    assert_string_equal(a, c);
    free(a);
    free(b);
    free(c);
    fixture_free(&f);
    fixture_free(&g);
}

/* A week of minutes (10k points) is drawn at most once per unit of width, with dates on the
 * axis, and the page stays small. */
static void test_large(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_history *h = bv_history_new(f.rs, MIN, 0);
    assert_non_null(h);
    int64_t t0 = ms("2026-06-08T22:00:00.000Z"); /* midnight in Amsterdam */
    for (int64_t k = 0; k < 10000; k++) {
        bv_det_eval e = ev(BV_DET_THRESHOLD, 10 * MIN, (uint64_t)(k % 997), 10);
        bv_signal s = signal_of(f.rs, 1, t0 + k * MIN, &e, 1, e.count >= 10);
        bv_history_signal(h, &s);
    }
    assert_int_equal(bv_history_get(h, 1, NULL, 0), 10000);
    bv_report_opts o = opts_of(&f, BV_LANG_NL);
    o.history = h;
    o.alerts = NULL;
    o.nalerts = 0;
    o.first_ms = t0;
    o.last_ms = t0 + 9999 * MIN;
    char *p = report(&o);
    assert_true(strlen(p) < 200000);
    char *sec = rule_section(p, "brand");
    const char *pl = strstr(sec, "<polyline class=\"value\" points=\"");
    assert_non_null(pl);
    const char *end = strchr(pl + 33, '"');
    assert_non_null(end);
    size_t pairs = 0;
    for (const char *q = pl; q < end; q++) {
        pairs += *q == ',';
    }
    assert_true(pairs > 700 && pairs <= BV_REPORT_PLOT_W + 1);
    /* the top of the scale: the most (996) rounded up to the next tick (1.000) */
    has(sec, ">1.000</text>");
    free(sec);
    /* 9 to 15 June: days on the axis */
    has(p, ">9 jun</text>");
    has(p, ">15 jun</text>");
    assert_int_equal(count(p, "<svg"), 1); /* only brand has points in this history */
    free(p);
    bv_history_free(h);
    fixture_free(&f);
}

/* The value line goes on over silences shorter than the detector's window (its count still
 * held those posts) and breaks after longer ones; a lone point is a dot. */
static void test_gaps(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_history *h = bv_history_new(f.rs, MIN, 0);
    assert_non_null(h);
    int64_t t0 = f.first;
    /* brand (10m window): 0..10, a 5 min silence, 15..25, a 30 min silence, 55..65, then alone
     * at 120 */
    static const int64_t runs[][2] = {{0, 10}, {15, 25}, {55, 65}, {120, 120}};
    for (size_t r = 0; r < 4; r++) {
        for (int64_t k = runs[r][0]; k <= runs[r][1]; k++) {
            bv_det_eval e = ev(BV_DET_THRESHOLD, 10 * MIN, (uint64_t)k % 13, 10);
            bv_signal s = signal_of(f.rs, 1, t0 + k * MIN, &e, 1, 0);
            bv_history_signal(h, &s);
        }
    }
    bv_report_opts o = opts_of(&f, BV_LANG_NL);
    o.history = h;
    o.nalerts = 0;
    char *p = report(&o);
    char *sec = rule_section(p, "brand");
    assert_int_equal(count(sec, "<polyline class=\"value\""), 2);
    assert_int_equal(count(sec, "<circle class=\"dot\""), 1);
    double cx = attr_after(sec, "<circle class=\"dot\"", "cx");
    assert_true(fabs(cx - x_of(t0 + 120 * MIN, f.first, f.last)) < 0.06);
    free(sec);
    free(p);
    bv_history_free(h);
    fixture_free(&f);
}

/* A span over midnight puts the date under the first hour of each day; the alert table gives
 * days with its times. */
static void test_over_midnight(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f);
    bv_report_opts o = opts_of(&f, BV_LANG_EN);
    o.first_ms = ms("2026-06-12T18:00:00.000Z");
    o.last_ms = ms("2026-06-13T01:00:00.000Z"); /* 03:00 on the 13th */
    char *p = report(&o);
    has(p, ">12 Jun</text>");
    has(p, ">13 Jun</text>");
    has(p, ">00:00</text>");
    has(p, "<td>12 Jun 21:41:07</td>");
    has(p, "2026-06-12 20:00:00 CEST \xe2\x80\x93 2026-06-13 03:00:00 CEST (7h)");
    free(p);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure), cmocka_unit_test(test_markers),
        cmocka_unit_test(test_escaping),  cmocka_unit_test(test_languages),
        cmocka_unit_test(test_no_points), cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_large),     cmocka_unit_test(test_over_midnight),
        cmocka_unit_test(test_gaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
