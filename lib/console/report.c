/* report.c: the drill debrief page; see report.h. One writer that remembers a failed append and
 * escapes every string that is not our own markup; the words of each language in one table (the
 * evidence and places in the words of messages, bv_render_evidence and bv_render_place); the charts
 * drawn from the history's points, merged per unit of width when there are more points than
 * units, on one time axis for every rule. Nothing is kept beyond the call. */
#include "console/report.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "core/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOP_PLACES 5
#define TOP_SAMPLES 3

/* chart geometry; see report.h */
#define CW BV_REPORT_WIDTH
#define CH BV_REPORT_HEIGHT
#define PX BV_REPORT_PLOT_X
#define PW BV_REPORT_PLOT_W
#define PY 18
#define PH 160
#define MAX_XTICKS 8

typedef struct words {
    const char *html_lang;
    const char *title, *drill, *drill_note;
    const char *event, *run, *generated, *summary, *span, *no_posts, *posts, *rules, *with_matches;
    const char *times_in;
    const char *sev[3];
    const char *severity, *alerts_h, *fired, *resolved, *still, *still_h, *total, *no_alerts;
    const char *rule, *detectors, *matches, *alerts_of_rule, *unknown;
    const char *require_all, *require_any;
    const char *never_matched, *no_points, *chart_of, *legend_alert, *legend_band;
    const char *evidence, *at_resolution, *places, *samples;
    /* detectors in words */
    const char *at_least_w, *spike, *usual_n, *mean_per, *over_the, *before, *doubling;
    const char *windows_of, *in_a_row, *newest_window, *in_newest, *spike_level;
    /* detectors' words shared with the evidence (render.c's, which says the evidence) */
    const char *posts_w, *accounts, *diff_accounts, *threshold, *usual, *at_least, *growth;
    const char *months[12];
    char decimal, thousands;
} words;

static const words nl_words = {
    .html_lang = "nl",
    .title = "Oefening-debrief",
    .drill = "OEFENING",
    .drill_note = "Afgespeeld uit een opname: dit zijn geen echte meldingen.",
    .event = "Evenement",
    .run = "Oefenrun",
    .generated = "Gemaakt",
    .summary = "Samenvatting",
    .span = "Afgespeelde periode",
    .no_posts = "geen berichten",
    .posts = "Berichten",
    .rules = "Regels",
    .with_matches = "met treffers",
    .times_in = "Tijden in Europe/Amsterdam",
    .sev = {"info", "waarschuwing", "kritiek"},
    .severity = "Ernst",
    .alerts_h = "Alarmen",
    .fired = "Alarm",
    .resolved = "Opgeheven",
    .still = "nog actief aan het eind",
    .still_h = "Nog actief aan het eind",
    .total = "Totaal",
    .no_alerts = "Er ging geen alarm af.",
    .rule = "Regel",
    .detectors = "Detectoren",
    .matches = "Treffers",
    .alerts_of_rule = "Alarmen",
    .unknown = "onbekend",
    .require_all = "alle detectoren moeten gelden",
    .require_any = "\xc3\xa9\xc3\xa9n detector volstaat",
    .never_matched = "Deze regel had geen treffers in de afgespeelde periode.",
    .no_points = "Geen meetpunten voor deze regel.",
    .chart_of = "Grafiek: de eerste detector",
    .legend_alert = "alarm (nummer in de tabel)",
    .legend_band = "actief tot opgeheven",
    .evidence = "Bewijs bij alarm",
    .at_resolution = "bij opheffen",
    .places = "Plaatsen",
    .samples = "Voorbeelden",
    .at_least_w = "minstens",
    .spike = "piek",
    .usual_n = "normaal",
    .mean_per = "gemiddelde per",
    .over_the = "over de",
    .before = "ervoor",
    .doubling = "verdubbelen elke",
    .windows_of = "vensters van",
    .in_a_row = "achter elkaar",
    .newest_window = "nieuwste venster",
    .in_newest = "in het nieuwste venster van",
    .spike_level = "piekdrempel",
    .posts_w = "berichten",
    .accounts = "accounts",
    .diff_accounts = "verschillende accounts",
    .threshold = "drempel",
    .usual = "het normale niveau",
    .at_least = "minimaal",
    .growth = "groei",
    .months = {"jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"},
    .decimal = ',',
    .thousands = '.',
};

static const words en_words = {
    .html_lang = "en",
    .title = "Drill debrief",
    .drill = "DRILL",
    .drill_note = "Replayed from a recording: these are not real alerts.",
    .event = "Event",
    .run = "Drill run",
    .generated = "Generated",
    .summary = "Summary",
    .span = "Replayed period",
    .no_posts = "no posts",
    .posts = "Posts",
    .rules = "Rules",
    .with_matches = "with matches",
    .times_in = "Times in Europe/Amsterdam",
    .sev = {"info", "warning", "critical"},
    .severity = "Severity",
    .alerts_h = "Alerts",
    .fired = "Fired",
    .resolved = "Resolved",
    .still = "still firing at the end",
    .still_h = "Still firing at the end",
    .total = "Total",
    .no_alerts = "No alert fired.",
    .rule = "Rule",
    .detectors = "Detectors",
    .matches = "Matches",
    .alerts_of_rule = "Alerts",
    .unknown = "unknown",
    .require_all = "every detector must hold",
    .require_any = "any one detector will do",
    .never_matched = "This rule had no matches in the replayed period.",
    .no_points = "No data points for this rule.",
    .chart_of = "Chart: the first detector",
    .legend_alert = "alert (number in the table)",
    .legend_band = "firing until resolved",
    .evidence = "Evidence when fired",
    .at_resolution = "at resolution",
    .places = "Places",
    .samples = "Sample posts",
    .at_least_w = "at least",
    .spike = "spike",
    .usual_n = "usual",
    .mean_per = "the mean per",
    .over_the = "over the",
    .before = "before",
    .doubling = "doubling every",
    .windows_of = "windows of",
    .in_a_row = "in a row",
    .newest_window = "newest window",
    .in_newest = "in the newest window of",
    .spike_level = "spike level",
    .posts_w = "posts",
    .accounts = "accounts",
    .diff_accounts = "different accounts",
    .threshold = "threshold",
    .usual = "the usual level",
    .at_least = "at least",
    .growth = "growth",
    .months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
    .decimal = '.',
    .thousands = ',',
};

static const char css[] =
    "@page{size:A4;margin:14mm 12mm}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:24px auto;max-width:980px;padding:0 20px;font:13px/1.45 \"Liberation Sans\","
    "Arial,Helvetica,sans-serif;color:#1a1a1a;background:#fff;-webkit-print-color-adjust:exact;"
    "print-color-adjust:exact}\n"
    "h1{font-size:24px;margin:4px 0 2px}\n"
    "h2{font-size:18px;margin:0 0 6px}\n"
    "h3{font-size:13px;margin:10px 0 4px}\n"
    "header{border-bottom:3px solid #6a1b9a;padding-bottom:8px}\n"
    "header p{margin:2px 0;color:#444}\n"
    ".drill{display:inline-block;background:#6a1b9a;color:#fff;font-weight:bold;"
    "padding:1px 8px;border-radius:3px;font-size:12px;letter-spacing:.06em}\n"
    "section{margin:18px 0}\n"
    "section.rule{border-top:1px solid #ccc;padding-top:12px;break-inside:avoid;"
    "page-break-inside:avoid}\n"
    ".cols{display:flex;flex-wrap:wrap;gap:12px 40px;align-items:flex-start}\n"
    "table{border-collapse:collapse}\n"
    "th,td{text-align:left;vertical-align:top;padding:3px 10px 3px 0;border-bottom:1px solid "
    "#e3e3e3}\n"
    "th{font-weight:bold;color:#333}\n"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;padding-left:10px}\n"
    "tr.total td{font-weight:bold;border-bottom:none}\n"
    "code{font:12px/1.3 \"Liberation Mono\",Consolas,monospace;background:#f2f2f2;"
    "padding:0 3px;border-radius:2px}\n"
    ".sev{display:inline-block;padding:0 6px;border-radius:3px;font-size:11px;font-weight:bold;"
    "text-transform:uppercase;color:#fff;vertical-align:2px}\n"
    ".sev.sev-critical{background:#c01c28}.sev.sev-warning{background:#b35900}"
    ".sev.sev-info{background:#1a5fb4}\n"
    ".meta{color:#444;margin:2px 0 4px}\n"
    "ul{margin:2px 0;padding-left:18px}\n"
    ".note{color:#555;font-style:italic;margin:6px 0}\n"
    "svg.chart{display:block;width:100%;height:auto;max-width:900px;margin:6px 0 2px}\n"
    ".chart text{font:11px \"Liberation Sans\",Arial,sans-serif;fill:#444}\n"
    ".chart .grid{stroke:#e8e8e8;stroke-width:1}\n"
    ".chart .axis{stroke:#777;stroke-width:1}\n"
    ".chart .tick{stroke:#777}\n"
    ".chart .ylab{text-anchor:end}\n"
    ".chart .xlab{text-anchor:middle}\n"
    ".chart .value{fill:none;stroke:#1a5fb4;stroke-width:1.6;stroke-linejoin:round}\n"
    ".chart .dot{fill:#1a5fb4}\n"
    ".chart .level{fill:none;stroke:#333;stroke-width:1.2;stroke-dasharray:6 4}\n"
    ".chart .band{fill-opacity:.12}\n"
    ".chart .fired{stroke-width:1.5}\n"
    ".chart .mark text{fill:#fff;font-weight:bold;text-anchor:middle;font-size:10px}\n"
    ".chart .sev-critical{fill:#c01c28;stroke:#c01c28}\n"
    ".chart .sev-warning{fill:#b35900;stroke:#b35900}\n"
    ".chart .sev-info{fill:#1a5fb4;stroke:#1a5fb4}\n"
    ".chart .band{stroke:none}\n"
    ".legend{color:#444;font-size:12px;margin:0 0 4px}\n"
    ".legend span{display:inline-block;vertical-align:middle;margin:0 4px 0 14px}\n"
    ".legend span:first-child{margin-left:0}\n"
    ".k-value{width:22px;border-top:2px solid #1a5fb4}\n"
    ".k-level{width:22px;border-top:2px dashed #333}\n"
    ".k-alert{width:2px;height:12px}\n"
    ".k-band{width:18px;height:12px}\n"
    ".k-alert.sev-critical{background:#c01c28}.k-band.sev-critical{background:#f6dcde}\n"
    ".k-alert.sev-warning{background:#b35900}.k-band.sev-warning{background:#f4e4d6}\n"
    ".k-alert.sev-info{background:#1a5fb4}.k-band.sev-info{background:#dde6f3}\n"
    "table.alerts{width:100%}\n"
    "table.alerts thead th{border-bottom:2px solid #999}\n"
    "table.alerts td.n{font-weight:bold;width:2.5em}\n"
    "table.alerts tr.head td{border-bottom:none;padding-top:8px}\n"
    "table.alerts tr.detail td{border-bottom:1px solid #bbb;padding-bottom:8px}\n"
    "table.alerts tr{break-inside:avoid;page-break-inside:avoid}\n"
    "thead{display:table-header-group}\n"
    ".detail .cols{gap:4px 32px}\n"
    ".detail .cols>div{flex:1 1 300px}\n"
    ".excerpt{display:block;margin:1px 0;padding-left:8px;border-left:3px solid #ccc;"
    "color:#333}\n"
    ".smeta{color:#555}\n"
    "a{color:#1a5fb4;overflow-wrap:anywhere;word-break:break-word}\n"
    "em.still{color:#c01c28;font-style:normal;font-weight:bold}\n"
    "footer{margin-top:24px;border-top:1px solid #ccc;padding-top:6px;color:#666;"
    "font-size:11px}\n"
    "@media print{body{margin:0;max-width:none;padding:0;font-size:11px}"
    "h1{font-size:20px}h2{font-size:15px}a{color:#1a1a1a}"
    "section.alerts{break-before:page;page-break-before:always}}\n";

/* ---- the writer ---- */

typedef struct rp {
    bv_buf *b;
    int fail;
    const words *L;
    const bv_report_opts *o;
    /* the time axis */
    int has_axis;
    double x0, x1; /* ms */
    int64_t step_ms;
    int multi_day;     /* the axis crosses local days: dates go with times */
    int64_t window_ms; /* of the rule being drawn */
} rp;

static void w_raw(rp *w, const char *s, size_t n)
{
    if (!w->fail && bv_buf_append(w->b, s, n) != BV_OK) {
        w->fail = 1;
    }
}

/* Our markup, as is. */
static void w_lit(rp *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

/* Our markup with numbers (no strings from outside in the arguments). */
static void w_fmt(rp *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_fmt(rp *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!w->fail && bv_buf_vprintf(w->b, fmt, ap) != BV_OK) {
        w->fail = 1;
    }
    va_end(ap);
}

/* Text: & < > " ' escaped, control characters as spaces, ill-formed UTF-8 as U+FFFD. */
static void w_strn(rp *w, const char *s, size_t n)
{
    size_t run = 0; /* bytes of s[i - run, i) to copy unchanged */
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t k = 1;
        if (c < 0x20 || c == 0x7f) {
            rep = " ";
        } else if (c == '&') {
            rep = "&amp;";
        } else if (c == '<') {
            rep = "&lt;";
        } else if (c == '>') {
            rep = "&gt;";
        } else if (c == '"') {
            rep = "&quot;";
        } else if (c == '\'') {
            rep = "&#39;";
        } else if (c >= 0x80) {
            k = bv_utf8_seq((const unsigned char *)s + i, n - i);
            if (k == 0) {
                rep = "\xef\xbf\xbd";
                k = 1;
            }
        }
        if (rep == NULL) {
            run += k;
            i += k;
            continue;
        }
        w_raw(w, s + i - run, run);
        run = 0;
        w_lit(w, rep);
        i += k;
    }
    w_raw(w, s + n - run, run);
}

static void w_str(rp *w, const char *s)
{
    if (s) {
        w_strn(w, s, strlen(s));
    }
}

/* Our words with numbers and strings (escaped all the same). */
static void w_sfmt(rp *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_sfmt(rp *w, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) {
        w_strn(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
    }
}

static int is_web_url(const char *u)
{
    return u && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0);
}

/* An <a> when url is http(s), else the url as text. */
static void w_link(rp *w, const char *url)
{
    if (is_web_url(url)) {
        w_lit(w, "<a href=\"");
        w_str(w, url);
        w_lit(w, "\" rel=\"noopener noreferrer\">");
        w_str(w, url);
        w_lit(w, "</a>");
    } else {
        w_str(w, url);
    }
}

/* ---- numbers ---- */

/* digits (an optional '-' then digits) with the thousands mark every three. */
static void group(const char *digits, char sep, char *out, size_t cap)
{
    size_t o = 0, n = strlen(digits);
    size_t i = 0;
    if (n && digits[0] == '-') {
        if (o + 1 < cap) {
            out[o++] = '-';
        }
        i = 1;
    }
    size_t nd = n - i;
    for (size_t k = 0; i < n; i++, k++) {
        if (k > 0 && (nd - k) % 3 == 0 && o + 1 < cap) {
            out[o++] = sep;
        }
        if (o + 1 < cap) {
            out[o++] = digits[i];
        }
    }
    out[o] = '\0';
}

static const char *n_int(const words *L, uint64_t v, char out[40])
{
    char d[32];
    snprintf(d, sizeof d, "%llu", (unsigned long long)v);
    group(d, L->thousands, out, 40);
    return out;
}

/* At most two decimals, trailing zeros dropped, the language's marks. */
static const char *n_dec(const words *L, double v, char out[48])
{
    if (!isfinite(v)) {
        snprintf(out, 48, "\xe2\x80\x93");
        return out;
    }
    if (fabs(v) >= 1e15) {
        snprintf(out, 48, "%.3g", v);
        return out;
    }
    char d[48];
    snprintf(d, sizeof d, "%.2f", v);
    char *dot = strchr(d, '.');
    char frac[8] = "";
    if (dot) {
        *dot = '\0';
        snprintf(frac, sizeof frac, "%s", dot + 1);
        size_t n = strlen(frac);
        while (n > 0 && frac[n - 1] == '0') {
            frac[--n] = '\0';
        }
    }
    if (strcmp(d, "-0") == 0 && frac[0] == '\0') {
        d[0] = '0';
        d[1] = '\0';
    }
    group(d, L->thousands, out, 40);
    if (frac[0]) {
        size_t n = strlen(out);
        snprintf(out + n, 48 - n, "%c%s", L->decimal, frac);
    }
    return out;
}

/* ---- time ---- */

/* Europe/Amsterdam civil time of ms. */
static void local_tm(int64_t ms, struct tm *tm)
{
    double l = (double)ms + (double)bv_time_amsterdam_offset(ms);
    time_t sec = (time_t)floor(l / 1000.0);
    memset(tm, 0, sizeof *tm);
    if (gmtime_r(&sec, tm) == NULL) {
        memset(tm, 0, sizeof *tm);
    }
}

static const char *zone(int64_t ms)
{
    return bv_time_amsterdam_offset(ms) == 7200000 ? "CEST" : "CET";
}

/* "23:41" or "23:41:07" */
static const char *t_hm(int64_t ms, int secs, char out[16])
{
    struct tm tm;
    local_tm(ms, &tm);
    if (secs) {
        snprintf(out, 16, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    } else {
        snprintf(out, 16, "%02d:%02d", tm.tm_hour, tm.tm_min);
    }
    return out;
}

/* "12 jun" */
static const char *t_day(const words *L, int64_t ms, char out[16])
{
    struct tm tm;
    local_tm(ms, &tm);
    snprintf(out, 16, "%d %s", tm.tm_mday, L->months[tm.tm_mon % 12]);
    return out;
}

static int same_day(int64_t a, int64_t b)
{
    struct tm x, y;
    local_tm(a, &x);
    local_tm(b, &y);
    return x.tm_year == y.tm_year && x.tm_yday == y.tm_yday;
}

/* A time in the alert table: "23:41:07", with the day when the report spans several. */
static void w_when(rp *w, int64_t ms)
{
    char d[16], t[16];
    if (w->multi_day) {
        w_sfmt(w, "%s %s", t_day(w->L, ms, d), t_hm(ms, 1, t));
    } else {
        w_str(w, t_hm(ms, 1, t));
    }
}

/* The UTC time at which Amsterdam's clocks show local ms l; 0 when they never do (the hour
 * skipped in spring). Of the hour shown twice in autumn, the first. */
static int from_local(int64_t l, int64_t *t)
{
    for (int64_t off = 7200000; off >= 3600000; off -= 3600000) {
        int64_t c = l - off;
        if (c + bv_time_amsterdam_offset(c) == l) {
            *t = c;
            return 1;
        }
    }
    return 0;
}

/* ---- alerts and episodes ---- */

typedef struct episode {
    const bv_alert *fire; /* NULL when only the resolved record was given */
    const bv_alert *res;  /* NULL while still firing */
    int64_t fired_ms, resolved_ms;
} episode;

static const char *alert_rule_id(const bv_alert *a)
{
    return a->rule && a->rule->id ? a->rule->id : "";
}

static const char *alert_rule_title(const bv_alert *a)
{
    if (a->rule && a->rule->title && a->rule->title[0]) {
        return a->rule->title;
    }
    return alert_rule_id(a);
}

static bv_severity clamp_sev(bv_severity s)
{
    return (unsigned)s <= BV_SEV_CRITICAL ? s : BV_SEV_WARNING;
}

static bv_severity alert_sev(const bv_alert *a)
{
    return clamp_sev(a->rule ? a->rule->severity : BV_SEV_WARNING);
}

static const char *sev_class(bv_severity s)
{
    static const char *const c[] = {"sev-info", "sev-warning", "sev-critical"};
    return c[clamp_sev(s)];
}

static const bv_alert *ep_alert(const episode *e)
{
    return e->fire ? e->fire : e->res;
}

/* Pairs the records: a resolved one closes the latest open episode of its id. */
static episode *episodes(const bv_report_opts *o, size_t *n)
{
    *n = 0;
    episode *v = calloc(o->nalerts ? o->nalerts : 1, sizeof *v);
    if (v == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < o->nalerts; i++) {
        const bv_alert *a = o->alerts[i];
        if (a == NULL) {
            continue;
        }
        if (a->state == BV_ALERT_RESOLVED) {
            size_t k = *n;
            while (k-- > 0) {
                if (v[k].fire && !v[k].res && strcmp(v[k].fire->id, a->id) == 0) {
                    break;
                }
            }
            if (k != (size_t)-1) {
                v[k].res = a;
                v[k].resolved_ms = a->at_ms;
                continue;
            }
            v[*n].res = a;
            v[*n].fired_ms = a->since_ms ? a->since_ms : a->at_ms;
            v[*n].resolved_ms = a->at_ms;
        } else {
            v[*n].fire = a;
            v[*n].fired_ms = a->at_ms;
        }
        (*n)++;
    }
    return v;
}

/* ---- words for detectors ---- */

/* A detector's spec, in words. */
static void w_spec(rp *w, const bv_detector_spec *d)
{
    const words *L = w->L;
    char win[32], n1[48], n2[48], n3[40], dd[32], bl[32];
    bv_duration_format(d->window_ms, win);
    switch (d->type) {
    case BV_DET_THRESHOLD:
        /* "drempel: minstens 25 berichten in 10m" */
        w_sfmt(w, "%s: %s %s %s in %s", L->threshold, L->at_least_w, n_int(L, d->count, n3),
               L->posts_w, win);
        break;
    case BV_DET_UNIQUE_AUTHORS:
        /* "minstens 25 verschillende accounts in 30m" */
        w_sfmt(w, "%s %s %s in %s", L->at_least_w, n_int(L, d->count, n3), L->diff_accounts, win);
        break;
    case BV_DET_SPIKE:
        /* "piek: minstens 3x het normale niveau in 10m (normaal: gemiddelde per 10m over de 1h
         * ervoor, minimaal 1; minimaal 10 berichten)" */
        w_sfmt(w, "%s: %s %sx %s in %s (%s: %s %s %s %s %s, %s %s; %s %s %s)", L->spike,
               L->at_least_w, n_dec(L, d->factor, n1), L->usual, win, L->usual_n, L->mean_per, win,
               L->over_the, bv_duration_format(d->baseline_ms, bl), L->before, L->at_least,
               n_dec(L, d->min_baseline, n2), L->at_least, n_int(L, d->min_count, n3), L->posts_w);
        break;
    case BV_DET_GROWTH:
        /* "groei: berichten verdubbelen elke 10m, 3 vensters van 10m achter elkaar, nieuwste
         * venster minimaal 10" */
        w_sfmt(w, "%s: %s %s %s, %u %s %s %s, %s %s %s", L->growth,
               d->by_authors ? L->accounts : L->posts_w, L->doubling,
               bv_duration_format(d->doubling_ms, dd), d->periods, L->windows_of, win, L->in_a_row,
               L->newest_window, L->at_least, n_int(L, d->min_count, n3));
        break;
    default:
        w_str(w, bv_det_type_name(d->type));
        break;
    }
}

/* Words from render.c (messages and the debrief say the same), escaped here. */
static void w_rendered(rp *w, int (*render)(const void *, bv_lang, bv_buf *), const void *x)
{
    bv_buf t = BV_BUF_INIT;
    if (render(x, w->o->lang, &t) != BV_OK) {
        w->fail = 1;
    } else {
        w_strn(w, t.p ? t.p : "", t.len);
    }
    bv_buf_free(&t);
}

static int render_evidence(const void *e, bv_lang lang, bv_buf *out)
{
    return bv_render_evidence(e, lang, out);
}

static int render_place(const void *p, bv_lang lang, bv_buf *out)
{
    return bv_render_place(p, lang, out);
}

/* One detector's evidence. */
static void w_evidence(rp *w, const bv_det_eval *e)
{
    w_rendered(w, render_evidence, e);
}

/* "Haren 14 (gemeente Groningen)", "Katwijk 3 — welke? 2 plaatsen met die naam: ..." */
static void w_place(rp *w, const bv_alert_place *p)
{
    w_rendered(w, render_place, p);
}

/* ---- the chart ---- */

typedef struct col {
    double x;
    int64_t t0, t1; /* first and last step in it */
    double v;       /* the most */
    double l;       /* the last level */
} col;

static double xpos(const rp *w, int64_t t)
{
    return PX + ((double)t - w->x0) * PW / (w->x1 - w->x0);
}

static double ypos(double v, double ymax)
{
    double y = PY + PH - v / ymax * PH;
    return y < PY ? PY : y > PY + PH ? PY + PH : y;
}

/* A round step for about four ticks up to d (at least 1: counts are whole). */
static double nice_step(double d)
{
    double raw = d / 4;
    if (raw <= 1) {
        return 1;
    }
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void w_yaxis(rp *w, double ymax, double ystep)
{
    char n[48];
    for (double v = 0; v <= ymax + ystep / 2; v += ystep) {
        double y = ypos(v, ymax);
        w_fmt(w, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", PX, y,
              PX + PW, y);
        w_fmt(w, "<text class=\"ylab\" x=\"%d\" y=\"%.1f\">", PX - 6, y + 4);
        w_str(w, n_dec(w->L, v, n));
        w_lit(w, "</text>\n");
    }
}

static void w_xaxis(rp *w)
{
    static const int64_t steps[] = {60000,    120000,   300000,    600000,   900000,
                                    1800000,  3600000,  7200000,   10800000, 21600000,
                                    43200000, 86400000, 172800000, 604800000};
    double span = w->x1 - w->x0;
    int64_t step = 0;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        if (span / (double)steps[i] <= MAX_XTICKS) {
            step = steps[i];
            break;
        }
    }
    if (step == 0) {
        step = 604800000 * (int64_t)ceil(span / (604800000.0 * MAX_XTICKS));
    }
    int64_t a = (int64_t)floor(w->x0), b = (int64_t)ceil(w->x1);
    int64_t la = a + bv_time_amsterdam_offset(a);
    int64_t l = la - (la % step + step) % step;
    int64_t prev = 0;
    int have_prev = 0;
    for (int guard = 0; guard < 4 * MAX_XTICKS + 8; guard++, l += step) {
        int64_t t;
        if (!from_local(l, &t) || t < a) {
            continue;
        }
        if (t > b) {
            break;
        }
        double x = xpos(w, t);
        char s[16];
        w_fmt(w,
              "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
              "<text class=\"xlab\" x=\"%.1f\" y=\"%d\">",
              x, PY + PH, x, PY + PH + 4, x, PY + PH + 16);
        if (step >= 86400000) {
            w_str(w, t_day(w->L, t, s));
        } else {
            w_str(w, t_hm(t, 0, s));
        }
        w_lit(w, "</text>");
        if (w->multi_day && step < 86400000 && (!have_prev || !same_day(prev, t))) {
            w_fmt(w, "<text class=\"xlab\" x=\"%.1f\" y=\"%d\">", x, PY + PH + 30);
            w_str(w, t_day(w->L, t, s));
            w_lit(w, "</text>");
        }
        w_lit(w, "\n");
        prev = t;
        have_prev = 1;
    }
}

/* The points as columns: one per point, or per unit of width when there are more points. */
static size_t columns(const rp *w, const bv_history_point *p, size_t n, col *c)
{
    size_t k = 0;
    long cur = 0;
    for (size_t i = 0; i < n; i++) {
        double x = xpos(w, p[i].t_ms);
        long ci = (long)floor(x - PX);
        if (n > PW && k > 0 && ci == cur) {
            col *last = &c[k - 1];
            last->t1 = p[i].t_ms;
            last->v = p[i].value > last->v ? p[i].value : last->v;
            last->l = p[i].level;
            continue;
        }
        cur = ci;
        c[k].x = n > PW ? PX + (double)ci + 0.5 : x;
        c[k].t0 = c[k].t1 = p[i].t_ms;
        c[k].v = p[i].value;
        c[k].l = p[i].level;
        k++;
    }
    return k;
}

/* Whether the line breaks between columns a and b. Values are window counts: steps without a
 * signal within a window of the last one mostly saw the same posts, so the line goes on; after a
 * longer silence (or one wider than a few units of width) it breaks. */
static int gap(const rp *w, const col *a, const col *b)
{
    double unit = (w->x1 - w->x0) / PW; /* ms per unit of width */
    double min = 3 * unit > (double)w->step_ms ? 3 * unit : (double)w->step_ms;
    min = min > (double)w->window_ms ? min : (double)w->window_ms;
    return (double)b->t0 - (double)a->t1 > min;
}

/* Polylines of the values (runs without gaps), a dot for a lone point. */
static void w_values(rp *w, const col *c, size_t n, double ymax)
{
    size_t start = 0;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && !gap(w, &c[i - 1], &c[i])) {
            continue;
        }
        if (i - start == 1) {
            w_fmt(w, "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"2\"/>\n", c[start].x,
                  ypos(c[start].v, ymax));
        } else {
            w_lit(w, "<polyline class=\"value\" points=\"");
            for (size_t k = start; k < i; k++) {
                w_fmt(w, "%s%.1f,%.1f", k > start ? " " : "", c[k].x, ypos(c[k].v, ymax));
            }
            w_lit(w, "\"/>\n");
        }
        start = i;
    }
}

/* The level: one dashed line across when it never changed, else dashed runs where it is known. */
static void w_levels(rp *w, const col *c, size_t n, double ymax)
{
    int constant = 1, any = 0;
    double lv = NAN;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(c[i].l)) {
            if (any && c[i].l != lv) {
                constant = 0;
            }
            lv = c[i].l;
            any = 1;
        }
    }
    if (!any) {
        return;
    }
    if (constant) {
        double y = ypos(lv, ymax);
        w_fmt(w, "<polyline class=\"level\" points=\"%d,%.1f %d,%.1f\"/>\n", PX, y, PX + PW, y);
        return;
    }
    size_t i = 0;
    while (i < n) {
        if (!isfinite(c[i].l)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && isfinite(c[j].l) && !gap(w, &c[j - 1], &c[j])) {
            j++;
        }
        w_lit(w, "<polyline class=\"level\" points=\"");
        if (j - i == 1) {
            double y = ypos(c[i].l, ymax);
            w_fmt(w, "%.1f,%.1f %.1f,%.1f", c[i].x - 3, y, c[i].x + 3, y);
        } else {
            for (size_t k = i; k < j; k++) {
                w_fmt(w, "%s%.1f,%.1f", k > i ? " " : "", c[k].x, ypos(c[k].l, ymax));
            }
        }
        w_lit(w, "\"/>\n");
        i = j;
    }
}

/* The alerts of the rule: a band while firing, a line and the alert's number where it fired. */
static void w_marks(rp *w, const bv_rule *r, const episode *eps, size_t neps)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < neps; i++) {
            const bv_alert *a = ep_alert(&eps[i]);
            if (strcmp(alert_rule_id(a), r->id ? r->id : "") != 0) {
                continue;
            }
            const char *sc = sev_class(r->severity);
            double xa = xpos(w, eps[i].fired_ms);
            if (pass == 0) {
                double xb = eps[i].res ? xpos(w, eps[i].resolved_ms) : PX + PW;
                double wd = xb - xa < 1.5 ? 1.5 : xb - xa;
                w_fmt(w,
                      "<rect class=\"band %s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                      "height=\"%d\"/>\n",
                      sc, xa, PY, wd, PH);
                continue;
            }
            w_fmt(w,
                  "<line class=\"fired %s\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                  "<g class=\"mark\"><circle class=\"%s\" cx=\"%.1f\" cy=\"%d\" r=\"8\"/>"
                  "<text x=\"%.1f\" y=\"%d\">%zu</text></g>\n",
                  sc, xa, PY, xa, PY + PH, sc, xa, PY, xa, PY + 3, i + 1);
        }
    }
}

/* The legend above a chart: what the line and the dashes are. */
static void w_legend(rp *w, const bv_detector_spec *d, int has_alerts, bv_severity sev)
{
    const words *L = w->L;
    char win[32], n1[48], n2[40];
    bv_duration_format(d->window_ms, win);
    w_lit(w, "<p class=\"legend\"><span class=\"k-value\"></span>");
    switch (d->type) {
    case BV_DET_UNIQUE_AUTHORS:
        w_sfmt(w, "%s in %s", L->diff_accounts, win);
        break;
    case BV_DET_GROWTH:
        w_sfmt(w, "%s %s %s", d->by_authors ? L->accounts : L->posts_w, L->in_newest, win);
        break;
    default:
        w_sfmt(w, "%s in %s", L->posts_w, win);
        break;
    }
    w_lit(w, "<span class=\"k-level\"></span>");
    switch (d->type) {
    case BV_DET_THRESHOLD:
    case BV_DET_UNIQUE_AUTHORS:
        w_sfmt(w, "%s %s", L->threshold, n_int(L, d->count, n2));
        break;
    case BV_DET_SPIKE:
        w_sfmt(w, "%s (%sx %s, %s %s)", L->spike_level, n_dec(L, d->factor, n1), L->usual_n,
               L->at_least, n_int(L, d->min_count, n2));
        break;
    case BV_DET_GROWTH:
        w_sfmt(w, "%s %s", L->at_least, n_int(L, d->min_count, n2));
        break;
    default:
        break;
    }
    if (has_alerts) {
        w_fmt(w, "<span class=\"k-alert %s\"></span>", sev_class(sev));
        w_str(w, L->legend_alert);
        w_fmt(w, "<span class=\"k-band %s\"></span>", sev_class(sev));
        w_str(w, L->legend_band);
    }
    w_lit(w, "</p>\n");
}

static void w_chart(rp *w, const bv_rule *r, const bv_history_point *p, size_t n,
                    const episode *eps, size_t neps, size_t nalerts)
{
    col *c = malloc(n * sizeof *c);
    if (c == NULL) {
        w->fail = 1;
        return;
    }
    size_t nc = columns(w, p, n, c);
    double top = 0;
    for (size_t i = 0; i < nc; i++) {
        top = c[i].v > top ? c[i].v : top;
        top = isfinite(c[i].l) && c[i].l > top ? c[i].l : top;
    }
    double ystep = nice_step(top > 0 ? top : 1);
    double ymax = ystep * ceil((top > 0 ? top : 1) / ystep);
    w->window_ms = r->detectors[0].window_ms;
    w_legend(w, &r->detectors[0], nalerts > 0, r->severity);
    w_fmt(w,
          "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
          "width=\"%d\" height=\"%d\" role=\"img\">\n<title>",
          CW, CH, CW, CH);
    w_str(w, w->L->chart_of);
    w_lit(w, ": ");
    w_spec(w, &r->detectors[0]);
    w_lit(w, "</title>\n");
    w_yaxis(w, ymax, ystep);
    w_marks(w, r, eps, neps); /* the bands, under the lines */
    w_levels(w, c, nc, ymax);
    w_values(w, c, nc, ymax);
    w_fmt(w, "<polyline class=\"axis\" points=\"%d,%d %d,%d %d,%d\" fill=\"none\"/>\n", PX, PY, PX,
          PY + PH, PX + PW, PY + PH);
    w_xaxis(w);
    w_lit(w, "</svg>\n");
    free(c);
}

/* ---- the page ---- */

static void w_header(rp *w)
{
    const words *L = w->L;
    const bv_report_opts *o = w->o;
    char t[BV_TIME_ISO_LEN];
    w_lit(w, "<header>\n<p><span class=\"drill\">");
    w_str(w, L->drill);
    w_lit(w, "</span></p>\n<h1>");
    w_str(w, L->title);
    w_lit(w, ": ");
    w_str(w, o->event);
    w_lit(w, "</h1>\n<p>");
    if (o->run && o->run[0]) {
        w_sfmt(w, "%s: ", L->run);
        w_str(w, o->run);
        w_lit(w, " \xc2\xb7 ");
    }
    w_sfmt(w, "%s: %s", L->generated, bv_time_format_amsterdam(o->generated_ms, t));
    w_lit(w, "</p>\n<p>");
    w_str(w, L->drill_note);
    w_lit(w, "</p>\n</header>\n");
}

static void w_summary(rp *w, const episode *eps, size_t neps)
{
    const words *L = w->L;
    const bv_report_opts *o = w->o;
    char t1[BV_TIME_ISO_LEN], t2[BV_TIME_ISO_LEN], d[32], n[40];
    size_t nrules = o->rules ? bv_rules_count(o->rules) : 0;
    w_lit(w, "<section class=\"summary\">\n<h2>");
    w_str(w, L->summary);
    w_lit(w, "</h2>\n<div class=\"cols\">\n<table class=\"facts\">\n<tr><th>");
    w_str(w, L->event);
    w_lit(w, "</th><td>");
    w_str(w, o->event);
    w_lit(w, "</td></tr>\n");
    if (o->run && o->run[0]) {
        w_lit(w, "<tr><th>");
        w_str(w, L->run);
        w_lit(w, "</th><td>");
        w_str(w, o->run);
        w_lit(w, "</td></tr>\n");
    }
    w_lit(w, "<tr><th>");
    w_str(w, L->span);
    w_lit(w, "</th><td>");
    if (o->first_ms == INT64_MIN) {
        w_str(w, L->no_posts);
    } else {
        int64_t last = o->last_ms >= o->first_ms ? o->last_ms : o->first_ms;
        w_str(w, bv_time_format_amsterdam(o->first_ms, t1));
        w_lit(w, " \xe2\x80\x93 ");
        if (same_day(o->first_ms, last)) {
            char hm[16];
            w_sfmt(w, "%s %s", t_hm(last, 1, hm), zone(last));
        } else {
            w_str(w, bv_time_format_amsterdam(last, t2));
        }
        w_sfmt(w, " (%s)", bv_duration_format(last - o->first_ms, d));
    }
    w_lit(w, "</td></tr>\n<tr><th>");
    w_str(w, L->posts);
    w_lit(w, "</th><td>");
    w_str(w, n_int(L, o->posts, n));
    w_lit(w, "</td></tr>\n<tr><th>");
    w_str(w, L->rules);
    w_lit(w, "</th><td>");
    w_str(w, n_int(L, nrules, n));
    if (o->matches) {
        size_t with = 0;
        for (size_t i = 0; i < nrules; i++) {
            with += o->matches[i] > 0;
        }
        w_sfmt(w, " (%s %s)", n_int(L, with, n), L->with_matches);
    }
    w_lit(w, "</td></tr>\n</table>\n");

    /* alerts per severity, most severe first */
    size_t fired[3] = {0}, resolved[3] = {0};
    for (size_t i = 0; i < neps; i++) {
        bv_severity s = alert_sev(ep_alert(&eps[i]));
        fired[s]++;
        resolved[s] += eps[i].res != NULL;
    }
    w_lit(w, "<table class=\"counts\">\n<thead><tr><th>");
    w_str(w, L->severity);
    w_lit(w, "</th><th class=\"num\">");
    w_str(w, L->alerts_h);
    w_lit(w, "</th><th class=\"num\">");
    w_str(w, L->resolved);
    w_lit(w, "</th><th class=\"num\">");
    w_str(w, L->still_h);
    w_lit(w, "</th></tr></thead>\n<tbody>\n");
    size_t tf = 0, tr = 0;
    for (int s = BV_SEV_CRITICAL; s >= BV_SEV_INFO; s--) {
        w_fmt(w, "<tr><td><span class=\"sev %s\">", sev_class((bv_severity)s));
        w_str(w, L->sev[s]);
        w_fmt(w,
              "</span></td><td class=\"num\">%zu</td><td class=\"num\">%zu</td>"
              "<td class=\"num\">%zu</td></tr>\n",
              fired[s], resolved[s], fired[s] - resolved[s]);
        tf += fired[s];
        tr += resolved[s];
    }
    w_lit(w, "<tr class=\"total\"><td>");
    w_str(w, L->total);
    w_fmt(w,
          "</td><td class=\"num\">%zu</td><td class=\"num\">%zu</td><td class=\"num\">%zu</td>"
          "</tr>\n</tbody>\n</table>\n</div>\n<p class=\"note\">",
          tf, tr, tf - tr);
    w_str(w, L->times_in);
    w_lit(w, ".</p>\n</section>\n");
}

static void w_rule(rp *w, size_t ri, const episode *eps, size_t neps)
{
    const words *L = w->L;
    const bv_report_opts *o = w->o;
    const bv_rule *r = bv_rules_get(o->rules, ri);
    char n[40];
    size_t nalerts = 0;
    for (size_t i = 0; i < neps; i++) {
        nalerts += strcmp(alert_rule_id(ep_alert(&eps[i])), r->id ? r->id : "") == 0;
    }
    w_lit(w, "<section class=\"rule\" id=\"rule-");
    w_str(w, r->id);
    w_lit(w, "\" data-rule=\"");
    w_str(w, r->id);
    w_lit(w, "\">\n<h2>");
    w_str(w, r->title && r->title[0] ? r->title : r->id);
    w_fmt(w, " <span class=\"sev %s\">", sev_class(r->severity));
    w_str(w, L->sev[clamp_sev(r->severity)]);
    w_lit(w, "</span></h2>\n<p class=\"meta\">id <code>");
    w_str(w, r->id);
    w_lit(w, "</code> \xc2\xb7 ");
    w_sfmt(w, "%s: ", L->matches);
    if (o->matches) {
        w_str(w, n_int(L, o->matches[ri], n));
    } else {
        w_str(w, L->unknown);
    }
    w_lit(w, " \xc2\xb7 ");
    w_sfmt(w, "%s: %s", L->alerts_of_rule, n_int(L, nalerts, n));
    w_lit(w, "</p>\n<ul class=\"detectors\">\n");
    for (size_t i = 0; i < r->ndetectors; i++) {
        w_lit(w, "<li>");
        w_spec(w, &r->detectors[i]);
        w_lit(w, "</li>\n");
    }
    w_lit(w, "</ul>\n");
    if (r->ndetectors > 1) {
        w_lit(w, "<p class=\"meta\">");
        w_str(w, r->require_any ? L->require_any : L->require_all);
        w_lit(w, "</p>\n");
    }
    size_t np = o->history && r->ndetectors ? bv_history_get(o->history, (uint32_t)ri, NULL, 0) : 0;
    if (o->matches && o->matches[ri] == 0) {
        w_lit(w, "<p class=\"note\">");
        w_str(w, L->never_matched);
        w_lit(w, "</p>\n");
    } else if (np == 0 || !w->has_axis) {
        w_lit(w, "<p class=\"note\">");
        w_str(w, L->no_points);
        w_lit(w, "</p>\n");
    } else {
        bv_history_point *p = malloc(np * sizeof *p);
        if (p == NULL) {
            w->fail = 1;
        } else {
            np = bv_history_get(o->history, (uint32_t)ri, p, np);
            w_chart(w, r, p, np, eps, neps, nalerts);
            free(p);
        }
    }
    w_lit(w, "</section>\n");
}

static void w_alert_rows(rp *w, size_t num, const episode *e)
{
    const words *L = w->L;
    const bv_alert *a = ep_alert(e);
    bv_severity sev = alert_sev(a);
    w_fmt(w, "<tr class=\"head\" id=\"alert-%zu\"><td class=\"n\">%zu</td><td>", num, num);
    w_when(w, e->fired_ms);
    w_lit(w, "</td><td>");
    if (e->res) {
        /* and how long it fired: whole minutes, or seconds under a minute */
        char d[32];
        int64_t dt = e->resolved_ms - e->fired_ms;
        dt = dt < 0 ? 0 : dt >= 60000 ? dt - dt % 60000 : dt - dt % 1000;
        w_when(w, e->resolved_ms);
        w_sfmt(w, " (%s)", bv_duration_format(dt, d));
    } else {
        w_lit(w, "<em class=\"still\">");
        w_str(w, L->still);
        w_lit(w, "</em>");
    }
    w_lit(w, "</td><td>");
    w_str(w, alert_rule_title(a));
    w_lit(w, " <code>");
    w_str(w, alert_rule_id(a));
    w_fmt(w, "</code></td><td><span class=\"sev %s\">", sev_class(sev));
    w_str(w, L->sev[sev]);
    w_lit(w, "</span></td></tr>\n<tr class=\"detail\"><td></td><td colspan=\"4\">\n");
    if (a->nevals) {
        w_lit(w, "<h3>");
        w_str(w, L->evidence);
        if (e->fire == NULL) {
            w_sfmt(w, " (%s)", L->at_resolution);
        }
        w_lit(w, "</h3>\n<ul>\n");
        for (size_t i = 0; i < a->nevals; i++) {
            w_lit(w, "<li>");
            w_evidence(w, &a->evals[i]);
            w_lit(w, "</li>\n");
        }
        w_lit(w, "</ul>\n");
    }
    if (a->nplaces || a->nsamples) {
        w_lit(w, "<div class=\"cols\">\n");
    }
    if (a->nplaces) {
        w_lit(w, "<div>\n<h3>");
        w_str(w, L->places);
        w_lit(w, "</h3>\n<ul>\n");
        for (size_t i = 0; i < a->nplaces && i < TOP_PLACES; i++) {
            w_lit(w, "<li>");
            w_place(w, &a->places[i]);
            w_lit(w, "</li>\n");
        }
        w_lit(w, "</ul>\n</div>\n");
    }
    if (a->nsamples) {
        w_lit(w, "<div>\n<h3>");
        w_str(w, L->samples);
        w_lit(w, "</h3>\n<ul>\n");
        for (size_t i = 0; i < a->nsamples && i < TOP_SAMPLES; i++) {
            const bv_sample *s = &a->samples[i];
            w_lit(w, "<li><span class=\"smeta\">");
            w_str(w, bv_platform_name(s->platform));
            w_lit(w, ", ");
            w_when(w, s->created_ms);
            w_lit(w, "</span><span class=\"excerpt\">");
            w_str(w, s->excerpt);
            w_lit(w, "</span>");
            if (s->url && s->url[0]) {
                w_link(w, s->url);
            }
            w_lit(w, "</li>\n");
        }
        w_lit(w, "</ul>\n</div>\n");
    }
    if (a->nplaces || a->nsamples) {
        w_lit(w, "</div>\n");
    }
    w_lit(w, "</td></tr>\n");
}

static void w_alerts(rp *w, const episode *eps, size_t neps)
{
    const words *L = w->L;
    w_lit(w, "<section class=\"alerts\">\n<h2>");
    w_str(w, L->alerts_h);
    w_fmt(w, " (%zu)</h2>\n", neps);
    if (neps == 0) {
        w_lit(w, "<p class=\"note\">");
        w_str(w, L->no_alerts);
        w_lit(w, "</p>\n</section>\n");
        return;
    }
    w_lit(w, "<table class=\"alerts\">\n<thead><tr><th>#</th><th>");
    w_str(w, L->fired);
    w_lit(w, "</th><th>");
    w_str(w, L->resolved);
    w_lit(w, "</th><th>");
    w_str(w, L->rule);
    w_lit(w, "</th><th>");
    w_str(w, L->severity);
    w_lit(w, "</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < neps; i++) {
        w_alert_rows(w, i + 1, &eps[i]);
    }
    w_lit(w, "</tbody>\n</table>\n</section>\n");
}

/* The time axis: the replayed span, widened to every point and alert. */
static void axis(rp *w, const episode *eps, size_t neps)
{
    const bv_report_opts *o = w->o;
    int64_t a = INT64_MAX, b = INT64_MIN;
    if (o->first_ms != INT64_MIN) {
        a = o->first_ms;
        b = o->last_ms > o->first_ms ? o->last_ms : o->first_ms;
    }
    size_t nrules = o->rules ? bv_rules_count(o->rules) : 0;
    for (size_t i = 0; o->history && i < nrules; i++) {
        bv_history_point p;
        if (bv_history_get(o->history, (uint32_t)i, &p, 1) > 0) {
            a = p.t_ms < a ? p.t_ms : a;
            b = p.t_ms > b ? p.t_ms : b;
            bv_history_last(o->history, (uint32_t)i, &p);
            b = p.t_ms > b ? p.t_ms : b;
        }
    }
    for (size_t i = 0; i < neps; i++) {
        a = eps[i].fired_ms < a ? eps[i].fired_ms : a;
        b = eps[i].fired_ms > b ? eps[i].fired_ms : b;
        if (eps[i].res) {
            b = eps[i].resolved_ms > b ? eps[i].resolved_ms : b;
        }
    }
    w->step_ms = o->history ? bv_history_step(o->history) : 60000;
    if (a > b) {
        w->has_axis = 0;
        return;
    }
    w->has_axis = 1;
    w->x0 = (double)a;
    w->x1 = (double)b;
    if (w->x1 - w->x0 < (double)w->step_ms) {
        w->x1 = w->x0 + (double)w->step_ms;
    }
    w->multi_day = !same_day(a, (int64_t)w->x1);
}

int bv_report_html(const bv_report_opts *o, bv_buf *out)
{
    if (o == NULL || out == NULL) {
        return BV_EINVAL;
    }
    rp w;
    memset(&w, 0, sizeof w);
    w.b = out;
    w.o = o;
    w.L = o->lang == BV_LANG_EN ? &en_words : &nl_words;
    size_t start = out->len;
    size_t neps = 0;
    episode *eps = episodes(o, &neps);
    if (eps == NULL) {
        return BV_ENOMEM;
    }
    axis(&w, eps, neps);

    w_lit(&w, "<!DOCTYPE html>\n<html lang=\"");
    w_lit(&w, w.L->html_lang);
    w_lit(&w, "\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
              "<meta name=\"generator\" content=\"blikveld\">\n<title>");
    w_str(&w, w.L->title);
    w_lit(&w, ": ");
    w_str(&w, o->event);
    w_lit(&w, "</title>\n<style>\n");
    w_lit(&w, css);
    w_lit(&w, "</style>\n</head>\n<body>\n");
    w_header(&w);
    w_summary(&w, eps, neps);
    size_t nrules = o->rules ? bv_rules_count(o->rules) : 0;
    for (size_t i = 0; i < nrules; i++) {
        w_rule(&w, i, eps, neps);
    }
    w_alerts(&w, eps, neps);
    w_lit(&w, "<footer>blikveld \xc2\xb7 ");
    w_str(&w, w.L->title);
    w_lit(&w, " \xc2\xb7 ");
    w_str(&w, w.L->times_in);
    w_lit(&w, "</footer>\n</body>\n</html>\n");
    free(eps);
    if (w.fail || out->p == NULL) {
        if (out->p) {
            out->len = start;
            out->p[start] = '\0';
        }
        return BV_ENOMEM;
    }
    return BV_OK;
}
