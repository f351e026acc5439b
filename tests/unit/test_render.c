/* test_render.c: the human-facing text of messages (lib/alert/render.h): Dutch and English for
 * firing, resolved, escalated and heartbeat messages and drills, several alerts in one message,
 * the acknowledge link (only with a console_url, only for firing alerts), HTML escaping of what
 * posts say, the short text's byte limit and character boundaries, and Amsterdam time in summer
 * and winter. */
#include "testutil.h"

#include "alert/render.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "core/utf8.h"

#include <ctype.h>

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"
#define ID3 "00112233445566778899aabbccddeeff"
#define CONSOLE "https://blikveld.gemeente.example"

static int64_t ms(const char *iso)
{
    int64_t t = 0;
    assert_int_equal(bv_time_parse_iso8601(iso, strlen(iso), &t), 0);
    return t;
}

static char *dup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

static bv_alert *mk(const char *id, const char *rule, const char *title, bv_severity sev,
                    bv_alert_state st, const char *at)
{
    bv_alert *a = calloc(1, sizeof *a);
    assert_non_null(a);
    snprintf(a->id, sizeof a->id, "%s", id);
    a->state = st;
    a->event = dup("project-x");
    a->rule = &a->own_rule;
    a->own_rule.id = dup(rule);
    a->own_rule.title = dup(title);
    a->own_rule.severity = sev;
    a->at_ms = ms(at);
    return a;
}

static void add_eval(bv_alert *a, const bv_det_eval *e)
{
    a->evals = realloc(a->evals, (a->nevals + 1) * sizeof *a->evals);
    assert_non_null(a->evals);
    a->evals[a->nevals++] = *e;
}

/* homes: NULL-terminated "Municipality, Province" list, or NULL */
static void add_place(bv_alert *a, const char *name, uint32_t count, const char *mun,
                      const char *prov, const char *const *homes)
{
    a->places = realloc(a->places, (a->nplaces + 1) * sizeof *a->places);
    assert_non_null(a->places);
    bv_alert_place *p = &a->places[a->nplaces++];
    memset(p, 0, sizeof *p);
    p->name = dup(name);
    p->count = count;
    p->municipality = mun ? dup(mun) : NULL;
    p->province = prov ? dup(prov) : NULL;
    for (size_t k = 0; homes && homes[k]; k++) {
        p->ambiguous = realloc(p->ambiguous, (k + 1) * sizeof *p->ambiguous);
        assert_non_null(p->ambiguous);
        p->ambiguous[k] = dup(homes[k]);
        p->nambiguous = k + 1;
    }
}

static void add_sample(bv_alert *a, bv_platform pf, const char *at, const char *url,
                       const char *excerpt)
{
    a->samples = realloc(a->samples, (a->nsamples + 1) * sizeof *a->samples);
    assert_non_null(a->samples);
    bv_sample *s = &a->samples[a->nsamples++];
    memset(s, 0, sizeof *s);
    s->platform = pf;
    s->created_ms = ms(at);
    s->id = dup("1");
    s->url = url ? dup(url) : NULL;
    s->excerpt = dup(excerpt);
}

/* The project-x alert: every detector type, four places (one ambiguous, one a province), four
 * samples (one without a link). */
static bv_alert *projectx(bv_alert_state st)
{
    bv_alert *a =
        mk(ID1, "project-x", "Project X-oproep", BV_SEV_CRITICAL, st, "2026-06-12T21:41:07.000Z");
    bv_det_eval e;
    memset(&e, 0, sizeof e);
    e.type = BV_DET_UNIQUE_AUTHORS;
    e.window_ms = 1800000;
    e.count = 61;
    e.authors = 27;
    e.threshold = 25;
    e.holds = 1;
    add_eval(a, &e);
    memset(&e, 0, sizeof e);
    e.type = BV_DET_GROWTH;
    e.window_ms = 600000;
    e.count = 40;
    e.by_authors = 1;
    e.nwindows = 4;
    e.windows[0] = 38;
    e.windows[1] = 20;
    e.windows[2] = 10;
    e.windows[3] = 5;
    e.ratio = 2.1;
    e.factor = 1.26;
    e.threshold = 10;
    e.holds = 1;
    add_eval(a, &e);
    memset(&e, 0, sizeof e);
    e.type = BV_DET_THRESHOLD;
    e.window_ms = 300000;
    e.count = 1;
    e.threshold = 50;
    add_eval(a, &e);
    memset(&e, 0, sizeof e);
    e.type = BV_DET_SPIKE;
    e.window_ms = 600000;
    e.count = 48;
    e.baseline = 4;
    e.ratio = 12;
    e.factor = 3;
    e.threshold = 10;
    e.holds = 1;
    add_eval(a, &e);
    static const char *const katwijk[] = {"Katwijk, Zuid-Holland", "Sint Anthonis, Noord-Brabant",
                                          NULL};
    add_place(a, "Haren", 14, "Groningen", "Groningen", NULL);
    add_place(a, "Katwijk", 3, NULL, NULL, katwijk);
    add_place(a, "Drenthe", 2, NULL, "Drenthe", NULL);
    add_place(a, "Assen", 1, "Assen", "Drenthe", NULL);
    add_sample(a, BV_PLATFORM_X, "2026-06-12T21:41:00.000Z", "https://x.com/i/web/status/9",
               "Project X in Haren zaterdag, iedereen welkom!");
    add_sample(a, BV_PLATFORM_BLUESKY, "2026-06-12T21:40:00.000Z", NULL,
               "Busje naar Haren, nog 33 plekken");
    add_sample(a, BV_PLATFORM_MASTODON, "2026-06-12T21:39:00.000Z", "https://mastodon.example/@a/1",
               "Wie gaat er mee?");
    add_sample(a, BV_PLATFORM_REDDIT, "2026-06-12T21:38:00.000Z", "https://reddit.example/r/4",
               "de vierde");
    return a;
}

typedef enum { R_SUBJECT, R_TEXT, R_HTML, R_SHORT } which_t;

static bv_message msg(bv_msg_kind kind, const bv_alert *const *alerts, size_t n)
{
    bv_message m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.event = "project-x";
    m.group = "police";
    m.alerts = alerts;
    m.nalerts = n;
    m.key = "k";
    m.now_ms = ms("2026-06-12T21:53:37.000Z"); /* 12m30s after the project-x alert */
    m.every_ms = 60000;
    return m;
}

/* The rendering as a string (caller frees). */
static char *render(which_t which, const bv_message *m, bv_lang lang, const char *console,
                    size_t max)
{
    bv_render_opts o = {.lang = lang, .console_url = console};
    bv_buf b = BV_BUF_INIT;
    bv_buf_puts(&b, "<<"); /* appended, not overwritten */
    int rc = which == R_SUBJECT ? bv_render_subject(m, &o, &b)
             : which == R_TEXT  ? bv_render_text(m, &o, &b)
             : which == R_HTML  ? bv_render_html(m, &o, &b)
                                : bv_render_short(m, &o, max, &b);
    assert_int_equal(rc, BV_OK);
    assert_memory_equal(b.p, "<<", 2);
    char *s = dup(b.p + 2);
    bv_buf_free(&b);
    return s;
}

static void has(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) {
        fail_msg("expected \"%s\" in:\n%s", needle, hay);
    }
}

static void hasnt(const char *hay, const char *needle)
{
    if (strstr(hay, needle) != NULL) {
        fail_msg("did not expect \"%s\" in:\n%s", needle, hay);
    }
}

static void starts(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0) {
        fail_msg("expected to start with \"%s\":\n%s", prefix, s);
    }
}

static void valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = bv_utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            fail_msg("not UTF-8 at %zu of %zu", i, n);
        }
        i += k;
    }
}

static void test_lang_parse(void **state)
{
    (void)state;
    assert_int_equal(bv_lang_parse("nl"), BV_LANG_NL);
    assert_int_equal(bv_lang_parse("NL"), BV_LANG_NL);
    assert_int_equal(bv_lang_parse("nl-NL"), BV_LANG_NL);
    assert_int_equal(bv_lang_parse("en"), BV_LANG_EN);
    assert_int_equal(bv_lang_parse("en-GB"), BV_LANG_EN);
    assert_int_equal(bv_lang_parse("En_us"), BV_LANG_EN);
    assert_int_equal(bv_lang_parse("de"), -1);
    assert_int_equal(bv_lang_parse("nld"), -1);
    assert_int_equal(bv_lang_parse("nl-"), -1);
    assert_int_equal(bv_lang_parse("n"), -1);
    assert_int_equal(bv_lang_parse(""), -1);
    assert_int_equal(bv_lang_parse("en GB"), -1);
    assert_int_equal(bv_lang_parse(NULL), -1);
}

static void test_firing_nl(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_FIRING);
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    char *s = render(R_SUBJECT, &m, BV_LANG_NL, CONSOLE, 0);
    assert_string_equal(s, "KRITIEK ALARM: Project X-oproep (project-x) - Haren");
    free(s);

    char *t = render(R_TEXT, &m, BV_LANG_NL, CONSOLE, 0);
    has(t, "Evenement: project-x\n");
    has(t, "\nKRITIEK ALARM: Project X-oproep (project-x)\n");
    has(t, "Tijd: 2026-06-12 23:41:07 CEST\n");
    has(t, "Bewijs:\n- 27 verschillende accounts in 30m (drempel 25)\n");
    has(t, "- groei 2,1x per 10m (drempel 1,26x); accounts per venster: "
           "5 \xe2\x86\x92 10 \xe2\x86\x92 20 \xe2\x86\x92 38\n");
    has(t, "- 1 bericht in 5m (drempel 50) (niet gehaald)\n");
    has(t, "- 48 berichten in 10m, 12x het normale niveau (4 per 10m; drempel 3x, minimaal 10)\n");
    has(t, "Plaatsen:\n- Haren 14 (gemeente Groningen)\n");
    has(t, "- Katwijk 3 \xe2\x80\x94 welke? 2 plaatsen met die naam: Katwijk, Zuid-Holland; Sint "
           "Anthonis, Noord-Brabant\n");
    has(t, "- Drenthe 2 (provincie)\n");
    hasnt(t, "Assen"); /* the top three only */
    has(t, "Voorbeelden:\n- x, 2026-06-12 23:41:00 CEST: \"Project X in Haren zaterdag, iedereen "
           "welkom!\"\n  https://x.com/i/web/status/9\n");
    has(t, "- bluesky, 2026-06-12 23:40:00 CEST: \"Busje naar Haren, nog 33 plekken\"\n- mastodon");
    hasnt(t, "de vierde"); /* three samples */
    has(t, "Bevestigen: " CONSOLE "/alerts/" ID1 "\n");
    has(t, "Melding-id: " ID1 "\n");
    hasnt(t, "OEFENING");
    hasnt(t, "ESCALATIE");
    valid_utf8(t, strlen(t));
    free(t);

    char *h = render(R_HTML, &m, BV_LANG_NL, CONSOLE, 0);
    starts(h, "<!DOCTYPE html>\n<html lang=\"nl\">");
    has(h, "<title>KRITIEK ALARM: Project X-oproep (project-x) - Haren</title>");
    has(h, "<li>27 verschillende accounts in 30m (drempel 25)</li>");
    has(h, "<li>Haren 14 (gemeente Groningen)</li>");
    has(h, "Bevestigen: <a href=\"" CONSOLE "/alerts/" ID1 "\"");
    has(h, "<a href=\"https://x.com/i/web/status/9\"");
    assert_non_null(strstr(h, "</body>\n</html>\n"));
    free(h);

    char *sh = render(R_SHORT, &m, BV_LANG_NL, CONSOLE, 1000);
    assert_string_equal(sh, "KRITIEK ALARM: Project X-oproep (project-x) - Haren\n"
                            "2026-06-12 23:41:07 CEST\n"
                            "27 verschillende accounts in 30m (drempel 25)\n"
                            "Haren 14 (gemeente Groningen)\n"
                            "https://x.com/i/web/status/9\n"
                            "Bevestigen: " CONSOLE "/alerts/" ID1);
    free(sh);
    bv_alert_free(a);
}

static void test_firing_en(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_FIRING);
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    char *s = render(R_SUBJECT, &m, BV_LANG_EN, CONSOLE, 0);
    assert_string_equal(s, "CRITICAL FIRING: Project X-oproep (project-x) - Haren");
    free(s);
    char *t = render(R_TEXT, &m, BV_LANG_EN, CONSOLE, 0);
    has(t, "Event: project-x\n");
    has(t, "Time: 2026-06-12 23:41:07 CEST\n");
    has(t, "Evidence:\n- 27 different accounts in 30m (threshold 25)\n");
    has(t, "- growth 2.1x per 10m (threshold 1.26x); accounts per window: 5 \xe2\x86\x92 10");
    has(t, "- 1 post in 5m (threshold 50) (not met)\n");
    has(t, "- 48 posts in 10m, 12x the usual level (4 per 10m; threshold 3x, at least 10)\n");
    has(t, "Places:\n- Haren 14 (municipality of Groningen)\n");
    has(t, "- Katwijk 3 \xe2\x80\x94 which? 2 places of that name: Katwijk, Zuid-Holland;");
    has(t, "- Drenthe 2 (province)\n");
    has(t, "Sample posts:\n- x, 2026-06-12 23:41:00 CEST: \"Project X in Haren");
    has(t, "Acknowledge: " CONSOLE "/alerts/" ID1 "\n");
    has(t, "Alert id: " ID1 "\n");
    hasnt(t, "Bewijs");
    free(t);
    char *h = render(R_HTML, &m, BV_LANG_EN, CONSOLE, 0);
    has(h, "<html lang=\"en\">");
    has(h, "Acknowledge: <a href=\"" CONSOLE "/alerts/" ID1 "\"");
    free(h);
    char *sh = render(R_SHORT, &m, BV_LANG_EN, CONSOLE, 1000);
    has(sh, "CRITICAL FIRING: Project X-oproep (project-x) - Haren\n2026-06-12 23:41:07 CEST\n"
            "27 different accounts in 30m (threshold 25)\n");
    has(sh, "\nAcknowledge: " CONSOLE "/alerts/" ID1);
    free(sh);
    bv_alert_free(a);
}

static void test_resolved(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_RESOLVED);
    a->since_ms = ms("2026-06-12T20:00:00.000Z");
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    for (int lang = BV_LANG_NL; lang <= BV_LANG_EN; lang++) {
        int nl = lang == BV_LANG_NL;
        char *s = render(R_SUBJECT, &m, (bv_lang)lang, CONSOLE, 0);
        assert_string_equal(s, nl ? "KRITIEK OPGEHEVEN: Project X-oproep (project-x) - Haren"
                                  : "CRITICAL RESOLVED: Project X-oproep (project-x) - Haren");
        free(s);
        char *t = render(R_TEXT, &m, (bv_lang)lang, CONSOLE, 0);
        has(t, nl ? "Opgeheven: 2026-06-12 23:41:07 CEST\nAlarm sinds: 2026-06-12 22:00:00 CEST\n"
                  : "Resolved: 2026-06-12 23:41:07 CEST\nFiring since: 2026-06-12 22:00:00 CEST\n");
        hasnt(t, "/alerts/"); /* nothing to acknowledge */
        hasnt(t, nl ? "Bevestigen" : "Acknowledge");
        free(t);
        char *h = render(R_HTML, &m, (bv_lang)lang, CONSOLE, 0);
        hasnt(h, "/alerts/");
        free(h);
        char *sh = render(R_SHORT, &m, (bv_lang)lang, CONSOLE, 1000);
        hasnt(sh, "/alerts/");
        free(sh);
    }
    bv_alert_free(a);
}

static void test_escalation(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_FIRING);
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ESCALATION, as, 1);
    for (int lang = BV_LANG_NL; lang <= BV_LANG_EN; lang++) {
        int nl = lang == BV_LANG_NL;
        const char *esc =
            nl ? "ESCALATIE: niet bevestigd na 12m" : "ESCALATION: not acknowledged after 12m";
        char *s = render(R_SUBJECT, &m, (bv_lang)lang, CONSOLE, 0);
        starts(s, esc);
        has(s, nl ? "KRITIEK ALARM: Project X-oproep" : "CRITICAL FIRING: Project X-oproep");
        free(s);
        char *t = render(R_TEXT, &m, (bv_lang)lang, CONSOLE, 0);
        has(t, esc);
        has(t, "/alerts/" ID1 "\n");
        free(t);
        char *h = render(R_HTML, &m, (bv_lang)lang, CONSOLE, 0);
        has(h, esc);
        has(h, "<a href=\"" CONSOLE "/alerts/" ID1 "\"");
        free(h);
        char *sh = render(R_SHORT, &m, (bv_lang)lang, CONSOLE, 1000);
        has(sh, esc);
        has(sh, "/alerts/" ID1);
        free(sh);
    }
    /* under a minute: seconds; a clock behind the alert: 0s */
    m.now_ms = a->at_ms + 42500;
    char *s = render(R_SUBJECT, &m, BV_LANG_NL, NULL, 0);
    has(s, "niet bevestigd na 42s");
    free(s);
    m.now_ms = a->at_ms - 5000;
    s = render(R_SUBJECT, &m, BV_LANG_NL, NULL, 0);
    has(s, "niet bevestigd na 0s");
    free(s);
    bv_alert_free(a);
}

static void test_heartbeat(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_FIRING);
    bv_alert *b = mk(ID2, "brand", "Brand gemeld", BV_SEV_WARNING, BV_ALERT_FIRING,
                     "2026-06-12T21:00:00.000Z");
    const bv_alert *as[] = {a, b};
    bv_message m = msg(BV_MSG_HEARTBEAT, as, 2);
    m.event = "koningsdag";
    m.group = "";
    char *s = render(R_SUBJECT, &m, BV_LANG_NL, CONSOLE, 0);
    assert_string_equal(s, "blikveld draait (koningsdag): 2 alarmen actief");
    free(s);
    char *t = render(R_TEXT, &m, BV_LANG_NL, CONSOLE, 0);
    starts(t, "blikveld draait (koningsdag); 2 alarmen actief; volgende teken van leven "
              "binnen 1m\n");
    has(t, "- KRITIEK: Project X-oproep (project-x), Alarm sinds 2026-06-12 23:41:07 CEST\n");
    has(t, "- WAARSCHUWING: Brand gemeld (brand), Alarm sinds 2026-06-12 23:00:00 CEST\n");
    hasnt(t, "/alerts/"); /* a heartbeat asks nothing */
    free(t);
    char *sh = render(R_SHORT, &m, BV_LANG_EN, CONSOLE, 1000);
    starts(sh, "blikveld is running (koningsdag); 2 alerts firing; next heartbeat within 1m");
    free(sh);
    char *h = render(R_HTML, &m, BV_LANG_EN, CONSOLE, 0);
    has(h, "<title>blikveld is running (koningsdag): 2 alerts firing</title>");
    has(h, "<li>WARNING: Brand gemeld (brand), Firing since 2026-06-12 23:00:00 CEST</li>");
    free(h);
    /* one, none */
    m.nalerts = 1;
    s = render(R_SUBJECT, &m, BV_LANG_NL, NULL, 0);
    assert_string_equal(s, "blikveld draait (koningsdag): 1 alarm actief");
    free(s);
    s = render(R_SUBJECT, &m, BV_LANG_EN, NULL, 0);
    assert_string_equal(s, "blikveld is running (koningsdag): 1 alert firing");
    free(s);
    m.nalerts = 0;
    m.alerts = NULL;
    t = render(R_TEXT, &m, BV_LANG_NL, NULL, 0);
    assert_string_equal(t, "blikveld draait (koningsdag); 0 alarmen actief; volgende teken van "
                           "leven binnen 1m\n");
    free(t);
    h = render(R_HTML, &m, BV_LANG_NL, NULL, 0);
    has(h, "0 alarmen actief");
    free(h);
    bv_alert_free(a);
    bv_alert_free(b);
}

static void test_drill(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_FIRING);
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    for (int how = 0; how < 2; how++) {
        /* the message says so, or its alert does */
        m.drill = how == 0;
        a->drill = how == 1;
        char *s = render(R_SUBJECT, &m, BV_LANG_NL, NULL, 0);
        assert_string_equal(s, "[OEFENING] KRITIEK ALARM: Project X-oproep (project-x) - Haren");
        free(s);
        s = render(R_SUBJECT, &m, BV_LANG_EN, NULL, 0);
        assert_string_equal(s, "[DRILL] CRITICAL FIRING: Project X-oproep (project-x) - Haren");
        free(s);
        char *t = render(R_TEXT, &m, BV_LANG_NL, NULL, 0);
        starts(t, "OEFENING \xe2\x80\x94 dit is geen echte melding\n");
        free(t);
        t = render(R_TEXT, &m, BV_LANG_EN, NULL, 0);
        starts(t, "DRILL \xe2\x80\x94 this is not a real alert\n");
        free(t);
        char *h = render(R_HTML, &m, BV_LANG_NL, NULL, 0);
        char *banner = strstr(h, "OEFENING \xe2\x80\x94 dit is geen echte melding</div>");
        char *body = strstr(h, "<body");
        char *first = strstr(h, "<h2");
        assert_non_null(banner);
        assert_true(body < banner && banner < first); /* at the top of the body */
        has(h, "<title>[OEFENING] KRITIEK ALARM");
        free(h);
        h = render(R_HTML, &m, BV_LANG_EN, NULL, 0);
        has(h, "DRILL \xe2\x80\x94 this is not a real alert</div>");
        free(h);
        char *sh = render(R_SHORT, &m, BV_LANG_NL, NULL, 70);
        starts(sh, "[OEFENING] KRITIEK");
        free(sh);
    }
    /* a drill heartbeat */
    m.kind = BV_MSG_HEARTBEAT;
    m.drill = 1;
    char *s = render(R_SUBJECT, &m, BV_LANG_NL, NULL, 0);
    assert_string_equal(s, "[OEFENING] blikveld draait (project-x): 1 alarm actief");
    free(s);
    s = render(R_SHORT, &m, BV_LANG_EN, NULL, 1000);
    starts(s, "[DRILL] blikveld is running");
    free(s);
    /* not a drill: no word of it */
    m.kind = BV_MSG_ALERTS;
    m.drill = 0;
    a->drill = 0;
    char *t = render(R_TEXT, &m, BV_LANG_EN, NULL, 0);
    hasnt(t, "DRILL");
    free(t);
    bv_alert_free(a);
}

static void test_several(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_FIRING);
    bv_alert *b = mk(ID2, "brand", "Brand gemeld", BV_SEV_WARNING, BV_ALERT_FIRING,
                     "2026-06-12T21:30:00.000Z");
    bv_alert *c =
        mk(ID3, "rellen", "Rellen", BV_SEV_INFO, BV_ALERT_RESOLVED, "2026-06-12T21:20:00.000Z");
    const bv_alert *as[] = {a, b, c};
    bv_message m = msg(BV_MSG_ALERTS, as, 3);
    char *s = render(R_SUBJECT, &m, BV_LANG_NL, CONSOLE, 0);
    assert_string_equal(s, "KRITIEK ALARM: 3 meldingen voor police - Project X-oproep en 2 andere");
    free(s);
    s = render(R_SUBJECT, &m, BV_LANG_EN, CONSOLE, 0);
    assert_string_equal(s, "CRITICAL FIRING: 3 alerts for police - Project X-oproep and 2 others");
    free(s);
    char *t = render(R_TEXT, &m, BV_LANG_NL, CONSOLE, 0);
    has(t, "3 meldingen voor police\nEvenement: project-x\n");
    has(t, "\n1. KRITIEK ALARM: Project X-oproep (project-x)\n");
    has(t, "\n2. WAARSCHUWING ALARM: Brand gemeld (brand)\nTijd: 2026-06-12 23:30:00 CEST\n");
    has(t, "\n3. INFO OPGEHEVEN: Rellen (rellen)\nOpgeheven: 2026-06-12 23:20:00 CEST\n");
    has(t, "Bevestigen: " CONSOLE "/alerts/" ID1 "\n");
    has(t, "Bevestigen: " CONSOLE "/alerts/" ID2 "\n");
    hasnt(t, "/alerts/" ID3); /* resolved */
    free(t);
    char *h = render(R_HTML, &m, BV_LANG_EN, CONSOLE, 0);
    has(h, "3 alerts for police</p>");
    has(h, "WARNING FIRING: Brand gemeld");
    has(h, "INFO RESOLVED: Rellen");
    has(h, "/alerts/" ID2 "\"");
    hasnt(h, "/alerts/" ID3);
    free(h);
    char *sh = render(R_SHORT, &m, BV_LANG_NL, CONSOLE, 2000);
    assert_string_equal(sh,
                        "KRITIEK ALARM: 3 meldingen voor police - Project X-oproep en 2 andere\n"
                        "- KRITIEK ALARM: Project X-oproep (project-x)\n"
                        "Bevestigen: " CONSOLE "/alerts/" ID1 "\n"
                        "- WAARSCHUWING ALARM: Brand gemeld (brand)\n"
                        "Bevestigen: " CONSOLE "/alerts/" ID2 "\n"
                        "- INFO OPGEHEVEN: Rellen (rellen)");
    free(sh);
    /* two: "and 1 other"; all resolved: the subject says so */
    a->state = BV_ALERT_RESOLVED;
    b->state = BV_ALERT_RESOLVED;
    m.nalerts = 2;
    m.group = "";
    s = render(R_SUBJECT, &m, BV_LANG_NL, CONSOLE, 0);
    assert_string_equal(s, "KRITIEK OPGEHEVEN: 2 meldingen - Project X-oproep en 1 andere");
    free(s);
    s = render(R_SUBJECT, &m, BV_LANG_EN, CONSOLE, 0);
    assert_string_equal(s, "CRITICAL RESOLVED: 2 alerts - Project X-oproep and 1 other");
    free(s);
    /* several escalated at once */
    a->state = BV_ALERT_FIRING;
    b->state = BV_ALERT_FIRING;
    m.kind = BV_MSG_ESCALATION;
    m.group = "mayor";
    s = render(R_SUBJECT, &m, BV_LANG_NL, CONSOLE, 0);
    assert_string_equal(
        s, "ESCALATIE: niet bevestigd na 23m - KRITIEK ALARM: 2 meldingen voor mayor - "
           "Project X-oproep en 1 andere");
    free(s);
    t = render(R_TEXT, &m, BV_LANG_EN, CONSOLE, 0);
    has(t, "2 alerts for mayor, not acknowledged\n");
    has(t, "ESCALATION: not acknowledged after 12m\n");
    has(t, "ESCALATION: not acknowledged after 23m\n");
    free(t);
    bv_alert_free(a);
    bv_alert_free(b);
    bv_alert_free(c);
}

static void test_ack_link(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_FIRING);
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    const char *none[] = {NULL, ""};
    for (size_t i = 0; i < 2; i++) {
        for (which_t w = R_SUBJECT; w <= R_SHORT; w++) {
            char *s = render(w, &m, BV_LANG_NL, none[i], 1000);
            hasnt(s, "/alerts/");
            hasnt(s, "Bevestigen");
            free(s);
        }
    }
    /* trailing slashes go */
    char *t = render(R_TEXT, &m, BV_LANG_EN, "https://c.example//", 0);
    has(t, "Acknowledge: https://c.example/alerts/" ID1 "\n");
    free(t);
    /* an id that is not plain is percent-encoded */
    snprintf(a->id, sizeof a->id, "a b/<c>");
    t = render(R_HTML, &m, BV_LANG_EN, "https://c.example", 0);
    has(t, "<a href=\"https://c.example/alerts/a%20b%2F%3Cc%3E\"");
    has(t, "Alert id: a b/&lt;c&gt;");
    free(t);
    /* a console that is not http(s): shown, never a link */
    t = render(R_HTML, &m, BV_LANG_EN, "javascript:alert(1)", 0);
    has(t, "Acknowledge: javascript:alert(1)/alerts/");
    hasnt(t, "href=\"javascript");
    free(t);
    bv_alert_free(a);
}

static void test_html_escapes(void **state)
{
    (void)state;
    bv_alert *a = mk(ID1, "r<1>", "Title \"with\" <b>tags</b> & 'quotes'", BV_SEV_WARNING,
                     BV_ALERT_FIRING, "2026-06-12T21:41:07.000Z");
    free(a->event);
    a->event = dup("ev<i>ent");
    add_place(a, "<img src=x onerror=alert(1)>", 2, "Mun&cipality", NULL, NULL);
    add_sample(a, BV_PLATFORM_X, "2026-06-12T21:41:00.000Z",
               "https://x.example/?a=\"><script>alert(1)</script>",
               "<script>alert(\"pwned\")</script> & 'single' \"double\"");
    add_sample(a, BV_PLATFORM_X, "2026-06-12T21:41:00.000Z", "javascript:alert(1)", "js link");
    add_sample(a, BV_PLATFORM_X, "2026-06-12T21:41:00.000Z", "HTTPS://UPPER.example/x", "upper");
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    m.event = "ev<i>ent";
    m.group = "<g>";
    char *h = render(R_HTML, &m, BV_LANG_NL, CONSOLE, 0);
    has(h, "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;single&#39; "
           "&quot;double&quot;");
    has(h, "Title &quot;with&quot; &lt;b&gt;tags&lt;/b&gt; &amp; &#39;quotes&#39;");
    has(h, "(r&lt;1&gt;)");
    has(h, "&lt;img src=x onerror=alert(1)&gt; 2 (gemeente Mun&amp;cipality)");
    has(h, "Evenement: ev&lt;i&gt;ent");
    has(h, "<a href=\"https://x.example/?a=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\"");
    has(h, "<a href=\"HTTPS://UPPER.example/x\"");
    has(h, "javascript:alert(1)</li>"); /* shown as text */
    hasnt(h, "href=\"javascript");
    /* no markup from the alert survives: no script, image, link or handler anywhere */
    for (char *p = h; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    hasnt(h, "<script");
    hasnt(h, "<img");
    hasnt(h, "<b>");
    hasnt(h, "<i>");
    hasnt(h, "<link");
    free(h);
    /* text and subject keep the characters as they are */
    char *t = render(R_TEXT, &m, BV_LANG_NL, NULL, 0);
    has(t, "\"<script>alert(\"pwned\")</script> & 'single' \"double\"\"");
    free(t);
    bv_alert_free(a);
}

/* Control characters from an alert cannot start lines of their own, nor end the subject. */
static void test_control_chars(void **state)
{
    (void)state;
    bv_alert *a = mk(ID1, "r1", "Twee\r\nBcc: x@example", BV_SEV_WARNING, BV_ALERT_FIRING,
                     "2026-06-12T21:41:07.000Z");
    add_sample(a, BV_PLATFORM_X, "2026-06-12T21:41:00.000Z", "https://x.example/\n1",
               "regel\nBevestigen: https://evil.example\x7f\t!");
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    char *s = render(R_SUBJECT, &m, BV_LANG_NL, NULL, 0);
    assert_string_equal(s, "WAARSCHUWING ALARM: Twee  Bcc: x@example (r1)");
    free(s);
    char *t = render(R_TEXT, &m, BV_LANG_NL, NULL, 0);
    has(t, ": \"regel Bevestigen: https://evil.example  !\"\n  https://x.example/ 1\n");
    hasnt(t, "\nBevestigen");
    free(t);
    char *h = render(R_HTML, &m, BV_LANG_NL, NULL, 0);
    has(h, "regel Bevestigen: https://evil.example  !");
    free(h);
    bv_alert_free(a);
}

/* The short text: never more than max bytes, never a cut character, "…" when cut. */
static void test_short_max(void **state)
{
    (void)state;
    bv_alert *a = projectx(BV_ALERT_FIRING);
    free(a->own_rule.title);
    a->own_rule.title = dup("Feest \xf0\x9f\x8e\x89 in \xc3\x89\xc3\xa9n straat \xe2\x82\xac "
                            "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x8e\x89\xf0\x9f\x8e\x89");
    bv_alert *b = mk(ID2, "b", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                     BV_SEV_INFO, BV_ALERT_FIRING, "2026-01-15T12:00:00.000Z");
    const bv_alert *one[] = {a};
    const bv_alert *two[] = {a, b};
    bv_message ms1 = msg(BV_MSG_ALERTS, one, 1);
    bv_message ms2 = msg(BV_MSG_ESCALATION, two, 2);
    bv_message ms3 = msg(BV_MSG_HEARTBEAT, two, 2);
    ms3.drill = 1;
    const bv_message *msgs[] = {&ms1, &ms2, &ms3};
    for (size_t k = 0; k < 3; k++) {
        for (int lang = BV_LANG_NL; lang <= BV_LANG_EN; lang++) {
            char *full = render(R_SHORT, msgs[k], (bv_lang)lang, CONSOLE, (size_t)-1);
            size_t flen = strlen(full);
            assert_true(flen > 100);
            valid_utf8(full, flen);
            for (size_t max = 0; max <= 400; max++) {
                char *s = render(R_SHORT, msgs[k], (bv_lang)lang, CONSOLE, max);
                size_t n = strlen(s);
                assert_true(n <= max);
                valid_utf8(s, n);
                if (flen <= max) {
                    assert_string_equal(s, full);
                } else if (max >= 3) {
                    /* a prefix of the whole, then the mark */
                    assert_true(n >= 3);
                    assert_memory_equal(s + n - 3, "\xe2\x80\xa6", 3);
                    assert_memory_equal(s, full, n - 3);
                    assert_true(max - n <= 4); /* a cut character, a space trimmed */
                } else {
                    assert_memory_equal(s, full, n);
                }
                free(s);
            }
            free(full);
        }
    }
    /* the mark counts: 160 bytes exactly when cut there */
    char *s = render(R_SHORT, &ms1, BV_LANG_NL, CONSOLE, 160);
    assert_true(strlen(s) >= 157 && strlen(s) <= 160);
    free(s);
    bv_alert_free(a);
    bv_alert_free(b);
}

static void test_amsterdam_time(void **state)
{
    (void)state;
    bv_alert *w =
        mk(ID1, "r1", "Winter", BV_SEV_INFO, BV_ALERT_RESOLVED, "2026-01-15T12:00:00.000Z");
    w->since_ms = ms("2025-10-26T00:59:59.000Z"); /* the last second of summer time */
    add_sample(w, BV_PLATFORM_TELEGRAM, "2026-03-29T01:00:00.000Z", NULL, "de klok vooruit");
    const bv_alert *as[] = {w};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    char *t = render(R_TEXT, &m, BV_LANG_NL, NULL, 0);
    has(t, "Opgeheven: 2026-01-15 13:00:00 CET\n");
    has(t, "Alarm sinds: 2025-10-26 02:59:59 CEST\n");
    has(t, "- telegram, 2026-03-29 03:00:00 CEST: \"de klok vooruit\"\n");
    free(t);
    w->state = BV_ALERT_FIRING;
    w->at_ms = ms("2026-07-01T22:30:00.000Z");
    t = render(R_SHORT, &m, BV_LANG_EN, NULL, 1000);
    has(t, "\n2026-07-02 00:30:00 CEST");
    free(t);
    bv_alert_free(w);
}

/* A health alert: no evidence, no places; it says it is about blikveld itself. */
static void test_health(void **state)
{
    (void)state;
    bv_alert *a = mk(ID1, "flatline-mastodon-nl", "No posts from source mastodon-nl for 10m",
                     BV_SEV_WARNING, BV_ALERT_FIRING, "2027-04-27T12:10:00.000Z");
    a->health = 1;
    const bv_alert *as[] = {a};
    bv_message m = msg(BV_MSG_ALERTS, as, 1);
    char *t = render(R_TEXT, &m, BV_LANG_NL, NULL, 0);
    has(t, "Dit gaat over blikveld zelf, niet over berichten.\n");
    hasnt(t, "Bewijs");
    hasnt(t, "Plaatsen");
    free(t);
    t = render(R_SHORT, &m, BV_LANG_EN, NULL, 1000);
    assert_string_equal(t, "WARNING FIRING: No posts from source mastodon-nl for 10m "
                           "(flatline-mastodon-nl)\n2027-04-27 14:10:00 CEST");
    free(t);
    bv_alert_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lang_parse),     cmocka_unit_test(test_firing_nl),
        cmocka_unit_test(test_firing_en),      cmocka_unit_test(test_resolved),
        cmocka_unit_test(test_escalation),     cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_drill),          cmocka_unit_test(test_several),
        cmocka_unit_test(test_ack_link),       cmocka_unit_test(test_html_escapes),
        cmocka_unit_test(test_control_chars),  cmocka_unit_test(test_short_max),
        cmocka_unit_test(test_amsterdam_time), cmocka_unit_test(test_health),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
