/* render.c: the human-facing text of a message in Dutch or English; see render.h. Everything is
 * written through one small writer that remembers a failed allocation and, in HTML mode, escapes
 * every string that comes from an alert; in text mode control characters from alerts become
 * spaces, so an excerpt cannot forge lines (or a subject header). Output is appended whole or
 * not at all. Nothing here owns memory beyond the call. */
#include "alert/render.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "core/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TOP_PLACES 3
#define TOP_SAMPLES 3

/* The words of one language. */
typedef struct words {
    const char *html_lang;
    const char *sev[3];
    const char *firing, *resolved;
    const char *drill_tag, *drill_banner;
    const char *escalated; /* "...: not acknowledged after" + duration */
    const char *event, *time, *resolved_at, *since, *alert_id, *ack;
    const char *evidence, *places, *samples;
    const char *health;  /* a health alert is about blikveld itself */
    const char *not_met; /* a detector that does not hold */
    const char *post1, *posts;
    const char *account1, *accounts, *diff_accounts;
    const char *threshold;  /* "(threshold N)" */
    const char *usual;      /* spike: "x the usual level" */
    const char *per;        /* "per" */
    const char *at_least;   /* spike: min_count */
    const char *growth;     /* "growth" */
    const char *per_window; /* "per window" */
    const char *municipality, *province;
    const char *which, *which_n; /* "which?" N "places of that name" */
    const char *alerts1, *alerts, *for_group;
    const char *and_, *other1, *others; /* "and" N "other(s)" */
    const char *not_acked;              /* several alerts: "not acknowledged" */
    const char *running;                /* "blikveld is running" */
    const char *firing_now1, *firing_now;
    const char *next_beat;
    char decimal;
} words;

static const words nl_words = {
    .html_lang = "nl",
    .sev = {"INFO", "WAARSCHUWING", "KRITIEK"},
    .firing = "ALARM",
    .resolved = "OPGEHEVEN",
    .drill_tag = "[OEFENING]",
    .drill_banner = "OEFENING \xe2\x80\x94 dit is geen echte melding",
    .escalated = "ESCALATIE: niet bevestigd na",
    .event = "Evenement",
    .time = "Tijd",
    .resolved_at = "Opgeheven",
    .since = "Alarm sinds",
    .alert_id = "Melding-id",
    .ack = "Bevestigen",
    .evidence = "Bewijs",
    .places = "Plaatsen",
    .samples = "Voorbeelden",
    .health = "Dit gaat over blikveld zelf, niet over berichten.",
    .not_met = "niet gehaald",
    .post1 = "bericht",
    .posts = "berichten",
    .account1 = "account",
    .accounts = "accounts",
    .diff_accounts = "verschillende accounts",
    .threshold = "drempel",
    .usual = "het normale niveau",
    .per = "per",
    .at_least = "minimaal",
    .growth = "groei",
    .per_window = "per venster",
    .municipality = "gemeente",
    .province = "provincie",
    .which = "welke?",
    .which_n = "plaatsen met die naam",
    .alerts1 = "melding",
    .alerts = "meldingen",
    .for_group = "voor",
    .and_ = "en",
    .other1 = "andere",
    .others = "andere",
    .not_acked = "niet bevestigd",
    .running = "blikveld draait",
    .firing_now1 = "alarm actief",
    .firing_now = "alarmen actief",
    .next_beat = "volgende teken van leven binnen",
    .decimal = ',',
};

static const words en_words = {
    .html_lang = "en",
    .sev = {"INFO", "WARNING", "CRITICAL"},
    .firing = "FIRING",
    .resolved = "RESOLVED",
    .drill_tag = "[DRILL]",
    .drill_banner = "DRILL \xe2\x80\x94 this is not a real alert",
    .escalated = "ESCALATION: not acknowledged after",
    .event = "Event",
    .time = "Time",
    .resolved_at = "Resolved",
    .since = "Firing since",
    .alert_id = "Alert id",
    .ack = "Acknowledge",
    .evidence = "Evidence",
    .places = "Places",
    .samples = "Sample posts",
    .health = "This is about blikveld itself, not about posts.",
    .not_met = "not met",
    .post1 = "post",
    .posts = "posts",
    .account1 = "account",
    .accounts = "accounts",
    .diff_accounts = "different accounts",
    .threshold = "threshold",
    .usual = "the usual level",
    .per = "per",
    .at_least = "at least",
    .growth = "growth",
    .per_window = "per window",
    .municipality = "municipality of",
    .province = "province",
    .which = "which?",
    .which_n = "places of that name",
    .alerts1 = "alert",
    .alerts = "alerts",
    .for_group = "for",
    .and_ = "and",
    .other1 = "other",
    .others = "others",
    .not_acked = "not acknowledged",
    .running = "blikveld is running",
    .firing_now1 = "alert firing",
    .firing_now = "alerts firing",
    .next_beat = "next heartbeat within",
    .decimal = '.',
};

/* ---- the writer ---- */

typedef struct rw {
    bv_buf *b;
    int html; /* escape strings from alerts */
    int fail; /* an append failed: the result is dropped */
    const words *w;
    const char *console; /* console_url without trailing '/', or NULL */
    size_t console_len;
} rw;

static void w_raw(rw *w, const char *s, size_t n)
{
    if (!w->fail && bv_buf_append(w->b, s, n) != BV_OK) {
        w->fail = 1;
    }
}

/* Markup and fixed text, written as is. */
static void w_lit(rw *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

/* Fixed text with numbers (no strings from alerts in the arguments). */
static void w_fmt(rw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_fmt(rw *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!w->fail && bv_buf_vprintf(w->b, fmt, ap) != BV_OK) {
        w->fail = 1;
    }
    va_end(ap);
}

/* Text: control characters become spaces unless ctl (words of ours may hold "\n"); in HTML
 * & < > " ' are escaped. */
static void w_text(rw *w, const char *s, size_t n, int ctl)
{
    size_t run = 0; /* bytes of s[i - run, i) to copy unchanged */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        if (!ctl && (c < 0x20 || c == 0x7f)) {
            rep = " ";
        } else if (w->html) {
            rep = c == '&'    ? "&amp;"
                  : c == '<'  ? "&lt;"
                  : c == '>'  ? "&gt;"
                  : c == '"'  ? "&quot;"
                  : c == '\'' ? "&#39;"
                              : NULL;
        }
        if (rep == NULL) {
            run++;
            continue;
        }
        w_raw(w, s + i - run, run);
        run = 0;
        w_lit(w, rep);
    }
    w_raw(w, s + n - run, run);
}

/* Text from an alert. */
static void w_strn(rw *w, const char *s, size_t n)
{
    w_text(w, s, n, 0);
}

static void w_str(rw *w, const char *s)
{
    if (s) {
        w_strn(w, s, strlen(s));
    }
}

/* Our words and numbers (no strings from alerts), escaped in HTML. */
static void w_sfmt(rw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_sfmt(rw *w, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) {
        w_text(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1, 1);
    }
}

static int is_web_url(const char *u)
{
    return u && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0);
}

/* A link: in HTML an <a> when url is http(s), else the URL as text. */
static void w_link(rw *w, const char *url)
{
    if (w->html && is_web_url(url)) {
        w_lit(w, "<a href=\"");
        w_str(w, url);
        w_lit(w, "\" style=\"color:#1a5fb4\">");
        w_str(w, url);
        w_lit(w, "</a>");
    } else {
        w_str(w, url);
    }
}

/* ---- pieces shared by every form ---- */

static const char *rule_id(const bv_alert *a)
{
    return a->rule && a->rule->id ? a->rule->id : "";
}

static const char *rule_title(const bv_alert *a)
{
    if (a->rule && a->rule->title && a->rule->title[0]) {
        return a->rule->title;
    }
    return rule_id(a);
}

static bv_severity rule_sev(const bv_alert *a)
{
    bv_severity s = a->rule ? a->rule->severity : BV_SEV_WARNING;
    return (unsigned)s <= BV_SEV_CRITICAL ? s : BV_SEV_WARNING;
}

static int msg_drill(const bv_message *m)
{
    if (m->drill) {
        return 1;
    }
    for (size_t i = 0; m->kind != BV_MSG_HEARTBEAT && i < m->nalerts; i++) {
        if (m->alerts[i] && m->alerts[i]->drill) {
            return 1;
        }
    }
    return 0;
}

static const char *msg_event(const bv_message *m)
{
    if (m->event) {
        return m->event;
    }
    return m->nalerts && m->alerts[0] && m->alerts[0]->event ? m->alerts[0]->event : "";
}

/* A number with at most two decimals, trailing zeros dropped, the language's decimal mark. */
static const char *num(const words *L, double v, char out[48])
{
    if (!isfinite(v)) {
        snprintf(out, 48, "-");
        return out;
    }
    if (fabs(v) >= 1e15) {
        snprintf(out, 48, "%.3g", v);
    } else {
        snprintf(out, 48, "%.2f", v);
        char *dot = strchr(out, '.');
        if (dot) {
            size_t n = strlen(out);
            while (out[n - 1] == '0') {
                out[--n] = '\0';
            }
            if (out[n - 1] == '.') {
                out[--n] = '\0';
            }
        }
    }
    char *dot = strchr(out, '.');
    if (dot) {
        *dot = L->decimal;
    }
    return out;
}

/* How long the alert has gone unacknowledged: whole minutes, or seconds under a minute. */
static const char *waited(const bv_message *m, const bv_alert *a, char out[32])
{
    int64_t d = m->now_ms - a->at_ms;
    if (d < 0) {
        d = 0;
    }
    d = d >= 60000 ? d - d % 60000 : d - d % 1000;
    return bv_duration_format(d, out);
}

/* The acknowledge link of a (when there is a console and it is wanted): console/alerts/ID,
 * the id percent-encoded. */
static void w_ack_url(rw *w, const bv_alert *a)
{
    static const char hex[] = "0123456789ABCDEF";
    bv_buf u = BV_BUF_INIT;
    bv_buf_append(&u, w->console, w->console_len);
    bv_buf_puts(&u, "/alerts/");
    for (const char *p = a->id; p < a->id + sizeof a->id && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            bv_buf_putc(&u, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            bv_buf_append(&u, e, 3);
        }
    }
    if (u.p == NULL) {
        w->fail = 1;
    } else {
        w_link(w, u.p);
    }
    bv_buf_free(&u);
}

/* Whether a gets an acknowledge link in m: a console is set, and a fires (or m escalates). */
static int wants_ack(const rw *w, const bv_message *m, const bv_alert *a)
{
    if (w->console == NULL || m->kind == BV_MSG_HEARTBEAT) {
        return 0;
    }
    return m->kind == BV_MSG_ESCALATION || a->state == BV_ALERT_FIRING;
}

/* "KRITIEK ALARM" */
static void w_sev_state(rw *w, const bv_alert *a)
{
    w_str(w, w->w->sev[rule_sev(a)]);
    w_lit(w, " ");
    w_str(w, a->state == BV_ALERT_FIRING ? w->w->firing : w->w->resolved);
}

/* One detector's evidence, in words. */
static void w_evidence(rw *w, const bv_det_eval *e)
{
    const words *L = w->w;
    char dur[32], n1[48], n2[48], n3[48];
    unsigned long long count = (unsigned long long)e->count;
    unsigned long long thr = (unsigned long long)e->threshold;
    bv_duration_format(e->window_ms, dur);
    switch (e->type) {
    case BV_DET_THRESHOLD:
        w_sfmt(w, "%llu %s in %s (%s %llu)", count, count == 1 ? L->post1 : L->posts, dur,
               L->threshold, thr);
        break;
    case BV_DET_UNIQUE_AUTHORS: {
        unsigned long long au = (unsigned long long)e->authors;
        w_sfmt(w, "%llu %s in %s (%s %llu)", au, au == 1 ? L->account1 : L->diff_accounts, dur,
               L->threshold, thr);
        break;
    }
    case BV_DET_SPIKE:
        w_sfmt(w, "%llu %s in %s, %sx %s (%s %s %s; %s %sx, %s %llu)", count,
               count == 1 ? L->post1 : L->posts, dur, num(L, e->ratio, n1), L->usual,
               num(L, e->baseline, n2), L->per, dur, L->threshold, num(L, e->factor, n3),
               L->at_least, thr);
        break;
    case BV_DET_GROWTH:
        w_sfmt(w, "%s %sx %s %s (%s %sx); %s %s:", L->growth, num(L, e->ratio, n1), L->per, dur,
               L->threshold, num(L, e->factor, n2), e->by_authors ? L->accounts : L->posts,
               L->per_window);
        /* oldest first, so it reads as growth */
        for (unsigned k = e->nwindows <= BV_DET_MAX_PERIODS + 1 ? e->nwindows : 0; k-- > 0;) {
            w_sfmt(w, "%s%llu", k + 1 == e->nwindows ? " " : " \xe2\x86\x92 ",
                   (unsigned long long)e->windows[k]);
        }
        break;
    default:
        w_sfmt(w, "%llu %s in %s", count, count == 1 ? L->post1 : L->posts, dur);
        break;
    }
    if (!e->holds) {
        w_sfmt(w, " (%s)", L->not_met);
    }
}

/* The evaluation to show when there is room for one: the first that holds. */
static const bv_det_eval *top_eval(const bv_alert *a)
{
    for (size_t i = 0; i < a->nevals; i++) {
        if (a->evals[i].holds) {
            return &a->evals[i];
        }
    }
    return a->nevals ? &a->evals[0] : NULL;
}

/* "Haren 14 (gemeente Groningen)", "Haren 3 — welke? 2 plaatsen met die naam" and, with homes,
 * ": Groningen, Groningen; Oss, Noord-Brabant". */
static void w_place(rw *w, const bv_alert_place *p, int homes)
{
    const words *L = w->w;
    w_str(w, p->name);
    w_sfmt(w, " %u", p->count);
    if (p->nambiguous) {
        w_lit(w, " \xe2\x80\x94 ");
        w_sfmt(w, "%s %zu %s", L->which, p->nambiguous, L->which_n);
        for (size_t k = 0; homes && k < p->nambiguous; k++) {
            w_lit(w, k ? "; " : ": ");
            w_str(w, p->ambiguous[k]);
        }
    } else if (p->municipality && (!p->name || strcmp(p->municipality, p->name) != 0)) {
        w_sfmt(w, " (%s ", L->municipality);
        w_str(w, p->municipality);
        w_lit(w, ")");
    } else if (!p->municipality && p->province && p->name && strcmp(p->province, p->name) == 0) {
        w_sfmt(w, " (%s)", L->province);
    }
}

/* "x, 2026-06-12 23:41:07 CEST" */
static void w_sample_head(rw *w, const bv_sample *s)
{
    char t[BV_TIME_ISO_LEN];
    w_str(w, bv_platform_name(s->platform));
    w_lit(w, ", ");
    w_str(w, bv_time_format_amsterdam(s->created_ms, t));
}

/* ---- the subject ---- */

/* "[OEFENING] KRITIEK ALARM: Project X-oproep (project-x) - Haren", "[OEFENING] ESCALATIE:
 * niet bevestigd na 10m - KRITIEK ALARM: ...", "KRITIEK ALARM: 3 meldingen voor politie -
 * Project X-oproep en 2 andere", "blikveld draait (koningsdag): 2 alarmen actief". */
static void w_subject(rw *w, const bv_message *m)
{
    const words *L = w->w;
    if (msg_drill(m)) {
        w_str(w, L->drill_tag);
        w_lit(w, " ");
    }
    if (m->kind == BV_MSG_HEARTBEAT) {
        size_t firing = 0;
        for (size_t i = 0; i < m->nalerts; i++) {
            firing += m->alerts[i] && m->alerts[i]->state == BV_ALERT_FIRING;
        }
        w_str(w, L->running);
        w_lit(w, " (");
        w_str(w, msg_event(m));
        w_sfmt(w, "): %zu %s", firing, firing == 1 ? L->firing_now1 : L->firing_now);
        return;
    }
    if (m->nalerts == 0 || m->alerts[0] == NULL) {
        w_sfmt(w, "0 %s", L->alerts);
        return;
    }
    const bv_alert *a = m->alerts[0];
    if (m->nalerts == 1) {
        if (m->kind == BV_MSG_ESCALATION) {
            char d[32];
            w_sfmt(w, "%s %s - ", L->escalated, waited(m, a, d));
        }
        w_sev_state(w, a);
        w_lit(w, ": ");
        w_str(w, rule_title(a));
        w_lit(w, " (");
        w_str(w, rule_id(a));
        w_lit(w, ")");
        if (a->nplaces) {
            w_lit(w, " - ");
            w_str(w, a->places[0].name);
        }
        return;
    }
    /* several: the highest severity, firing when any fires */
    bv_severity sev = BV_SEV_INFO;
    int any_firing = 0;
    for (size_t i = 0; i < m->nalerts; i++) {
        if (m->alerts[i]) {
            any_firing |= m->alerts[i]->state == BV_ALERT_FIRING;
            sev = rule_sev(m->alerts[i]) > sev ? rule_sev(m->alerts[i]) : sev;
        }
    }
    if (m->kind == BV_MSG_ESCALATION) {
        /* the longest wait */
        const bv_alert *oldest = a;
        for (size_t i = 1; i < m->nalerts; i++) {
            if (m->alerts[i] && m->alerts[i]->at_ms < oldest->at_ms) {
                oldest = m->alerts[i];
            }
        }
        char d[32];
        w_sfmt(w, "%s %s - ", L->escalated, waited(m, oldest, d));
    }
    w_str(w, L->sev[sev]);
    w_lit(w, " ");
    w_str(w, any_firing ? L->firing : L->resolved);
    w_sfmt(w, ": %zu %s", m->nalerts, L->alerts);
    if (m->group && m->group[0]) {
        w_sfmt(w, " %s ", L->for_group);
        w_str(w, m->group);
    }
    w_lit(w, " - ");
    w_str(w, rule_title(a));
    w_sfmt(w, " %s %zu %s", L->and_, m->nalerts - 1, m->nalerts == 2 ? L->other1 : L->others);
}

/* ---- plain text ---- */

static void text_alert(rw *w, const bv_message *m, const bv_alert *a)
{
    const words *L = w->w;
    char t[BV_TIME_ISO_LEN];
    w_sev_state(w, a);
    w_lit(w, ": ");
    w_str(w, rule_title(a));
    w_lit(w, " (");
    w_str(w, rule_id(a));
    w_lit(w, ")\n");
    if (m->kind == BV_MSG_ESCALATION) {
        char d[32];
        w_sfmt(w, "%s %s\n", L->escalated, waited(m, a, d));
    }
    if (a->event && strcmp(a->event, msg_event(m)) != 0) {
        w_sfmt(w, "%s: ", L->event);
        w_str(w, a->event);
        w_lit(w, "\n");
    }
    if (a->state == BV_ALERT_FIRING) {
        w_sfmt(w, "%s: %s\n", L->time, bv_time_format_amsterdam(a->at_ms, t));
    } else {
        w_sfmt(w, "%s: %s\n", L->resolved_at, bv_time_format_amsterdam(a->at_ms, t));
        if (a->since_ms) {
            w_sfmt(w, "%s: %s\n", L->since, bv_time_format_amsterdam(a->since_ms, t));
        }
    }
    if (a->health) {
        w_str(w, L->health);
        w_lit(w, "\n");
    }
    if (a->nevals) {
        w_sfmt(w, "%s:\n", L->evidence);
        for (size_t i = 0; i < a->nevals; i++) {
            w_lit(w, "- ");
            w_evidence(w, &a->evals[i]);
            w_lit(w, "\n");
        }
    }
    if (a->nplaces) {
        w_sfmt(w, "%s:\n", L->places);
        for (size_t i = 0; i < a->nplaces && i < TOP_PLACES; i++) {
            w_lit(w, "- ");
            w_place(w, &a->places[i], 1);
            w_lit(w, "\n");
        }
    }
    if (a->nsamples) {
        w_sfmt(w, "%s:\n", L->samples);
        for (size_t i = 0; i < a->nsamples && i < TOP_SAMPLES; i++) {
            const bv_sample *s = &a->samples[i];
            w_lit(w, "- ");
            w_sample_head(w, s);
            w_lit(w, ": \"");
            w_str(w, s->excerpt);
            w_lit(w, "\"\n");
            if (s->url && s->url[0]) {
                w_lit(w, "  ");
                w_str(w, s->url);
                w_lit(w, "\n");
            }
        }
    }
    if (wants_ack(w, m, a)) {
        w_sfmt(w, "%s: ", L->ack);
        w_ack_url(w, a);
        w_lit(w, "\n");
    }
    w_sfmt(w, "%s: ", L->alert_id);
    w_str(w, a->id);
    w_lit(w, "\n");
}

/* "blikveld draait (EVENT); 2 alarmen actief; volgende teken van leven binnen 1m" */
static void w_heartbeat_line(rw *w, const bv_message *m)
{
    const words *L = w->w;
    size_t firing = 0;
    for (size_t i = 0; i < m->nalerts; i++) {
        firing += m->alerts[i] && m->alerts[i]->state == BV_ALERT_FIRING;
    }
    w_str(w, L->running);
    w_lit(w, " (");
    w_str(w, msg_event(m));
    w_sfmt(w, "); %zu %s", firing, firing == 1 ? L->firing_now1 : L->firing_now);
    if (m->every_ms > 0) {
        char d[32];
        w_sfmt(w, "; %s %s", L->next_beat, bv_duration_format(m->every_ms, d));
    }
}

/* "- KRITIEK: Project X-oproep (project-x), sinds 2026-06-12 23:41:07 CEST" */
static void w_firing_item(rw *w, const bv_alert *a)
{
    char t[BV_TIME_ISO_LEN];
    w_str(w, w->w->sev[rule_sev(a)]);
    w_lit(w, ": ");
    w_str(w, rule_title(a));
    w_lit(w, " (");
    w_str(w, rule_id(a));
    w_sfmt(w, "), %s %s", w->w->since, bv_time_format_amsterdam(a->at_ms, t));
}

static void text_body(rw *w, const bv_message *m)
{
    const words *L = w->w;
    if (msg_drill(m)) {
        w_str(w, L->drill_banner);
        w_lit(w, "\n\n");
    }
    if (m->kind == BV_MSG_HEARTBEAT) {
        w_heartbeat_line(w, m);
        w_lit(w, "\n");
        for (size_t i = 0; i < m->nalerts; i++) {
            if (m->alerts[i] && m->alerts[i]->state == BV_ALERT_FIRING) {
                w_lit(w, "- ");
                w_firing_item(w, m->alerts[i]);
                w_lit(w, "\n");
            }
        }
        return;
    }
    if (m->nalerts != 1) {
        w_sfmt(w, "%zu %s", m->nalerts, L->alerts);
        if (m->group && m->group[0]) {
            w_sfmt(w, " %s ", L->for_group);
            w_str(w, m->group);
        }
        if (m->kind == BV_MSG_ESCALATION) {
            w_sfmt(w, ", %s", L->not_acked);
        }
        w_lit(w, "\n");
    }
    w_sfmt(w, "%s: ", L->event);
    w_str(w, msg_event(m));
    w_lit(w, "\n");
    for (size_t i = 0; i < m->nalerts; i++) {
        if (m->alerts[i]) {
            w_lit(w, "\n");
            if (m->nalerts > 1) {
                w_fmt(w, "%zu. ", i + 1);
            }
            text_alert(w, m, m->alerts[i]);
        }
    }
}

/* ---- HTML ---- */

#define H_P "<p style=\"margin:4px 0\">"
#define H_HEAD "<p style=\"margin:10px 0 2px;font-weight:bold\">"
#define H_UL "<ul style=\"margin:0;padding-left:20px\">"

static const char *sev_colour(const bv_alert *a)
{
    static const char *const colours[] = {"#1a5fb4", "#b35900", "#c01c28"};
    return a->state == BV_ALERT_RESOLVED ? "#26803a" : colours[rule_sev(a)];
}

static void html_alert(rw *w, const bv_message *m, const bv_alert *a)
{
    const words *L = w->w;
    char t[BV_TIME_ISO_LEN];
    w_fmt(w, "<div style=\"border-left:6px solid %s;padding:4px 12px;margin:14px 0\">\n",
          sev_colour(a));
    w_fmt(w, "<h2 style=\"margin:0 0 6px;font-size:18px;color:%s\">", sev_colour(a));
    w_sev_state(w, a);
    w_lit(w, ": ");
    w_str(w, rule_title(a));
    w_lit(w, " <span style=\"color:#666666;font-weight:normal\">(");
    w_str(w, rule_id(a));
    w_lit(w, ")</span></h2>\n");
    if (m->kind == BV_MSG_ESCALATION) {
        char d[32];
        w_lit(w, "<p style=\"margin:4px 0;font-weight:bold;color:#c01c28\">");
        w_sfmt(w, "%s %s", L->escalated, waited(m, a, d));
        w_lit(w, "</p>\n");
    }
    w_lit(w, H_P);
    if (a->event && strcmp(a->event, msg_event(m)) != 0) {
        w_sfmt(w, "%s: ", L->event);
        w_str(w, a->event);
        w_lit(w, "<br>\n");
    }
    if (a->state == BV_ALERT_FIRING) {
        w_sfmt(w, "%s: %s", L->time, bv_time_format_amsterdam(a->at_ms, t));
    } else {
        w_sfmt(w, "%s: %s", L->resolved_at, bv_time_format_amsterdam(a->at_ms, t));
        if (a->since_ms) {
            w_lit(w, "<br>\n");
            w_sfmt(w, "%s: %s", L->since, bv_time_format_amsterdam(a->since_ms, t));
        }
    }
    w_lit(w, "</p>\n");
    if (a->health) {
        w_lit(w, H_P);
        w_str(w, L->health);
        w_lit(w, "</p>\n");
    }
    if (a->nevals) {
        w_lit(w, H_HEAD);
        w_str(w, L->evidence);
        w_lit(w, "</p>\n" H_UL "\n");
        for (size_t i = 0; i < a->nevals; i++) {
            w_lit(w, "<li>");
            w_evidence(w, &a->evals[i]);
            w_lit(w, "</li>\n");
        }
        w_lit(w, "</ul>\n");
    }
    if (a->nplaces) {
        w_lit(w, H_HEAD);
        w_str(w, L->places);
        w_lit(w, "</p>\n" H_UL "\n");
        for (size_t i = 0; i < a->nplaces && i < TOP_PLACES; i++) {
            w_lit(w, "<li>");
            w_place(w, &a->places[i], 1);
            w_lit(w, "</li>\n");
        }
        w_lit(w, "</ul>\n");
    }
    if (a->nsamples) {
        w_lit(w, H_HEAD);
        w_str(w, L->samples);
        w_lit(w, "</p>\n" H_UL "\n");
        for (size_t i = 0; i < a->nsamples && i < TOP_SAMPLES; i++) {
            const bv_sample *s = &a->samples[i];
            w_lit(w, "<li style=\"margin-bottom:6px\">");
            w_sample_head(w, s);
            w_lit(w, "<br>\n<span style=\"display:block;margin:2px 0;padding-left:8px;"
                     "border-left:3px solid #cccccc;color:#333333\">");
            w_str(w, s->excerpt);
            w_lit(w, "</span>");
            if (s->url && s->url[0]) {
                w_link(w, s->url);
            }
            w_lit(w, "</li>\n");
        }
        w_lit(w, "</ul>\n");
    }
    if (wants_ack(w, m, a)) {
        w_lit(w, "<p style=\"margin:10px 0 4px;font-weight:bold\">");
        w_sfmt(w, "%s: ", L->ack);
        w_ack_url(w, a);
        w_lit(w, "</p>\n");
    }
    w_lit(w, "<p style=\"margin:4px 0;color:#666666;font-size:12px\">");
    w_sfmt(w, "%s: ", L->alert_id);
    w_str(w, a->id);
    w_lit(w, "</p>\n</div>\n");
}

static void html_body(rw *w, const bv_message *m)
{
    const words *L = w->w;
    w_lit(w, "<!DOCTYPE html>\n<html lang=\"");
    w_lit(w, L->html_lang);
    w_lit(w, "\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width\">\n<title>");
    w_subject(w, m);
    w_lit(w, "</title>\n</head>\n<body style=\"margin:0;padding:16px;font-family:Arial,Helvetica,"
             "sans-serif;font-size:14px;line-height:1.4;color:#1a1a1a;background:#ffffff\">\n");
    if (msg_drill(m)) {
        w_lit(w, "<div style=\"padding:8px 12px;margin:0 0 12px;background:#6a1b9a;"
                 "color:#ffffff;font-weight:bold;font-size:16px\">");
        w_str(w, L->drill_banner);
        w_lit(w, "</div>\n");
    }
    if (m->kind == BV_MSG_HEARTBEAT) {
        w_lit(w, H_P);
        w_heartbeat_line(w, m);
        w_lit(w, "</p>\n");
        int list = 0;
        for (size_t i = 0; i < m->nalerts; i++) {
            if (m->alerts[i] && m->alerts[i]->state == BV_ALERT_FIRING) {
                w_lit(w, list++ ? "<li>" : H_UL "\n<li>");
                w_firing_item(w, m->alerts[i]);
                w_lit(w, "</li>\n");
            }
        }
        w_lit(w, list ? "</ul>\n</body>\n</html>\n" : "</body>\n</html>\n");
        return;
    }
    if (m->nalerts != 1) {
        w_lit(w, "<p style=\"margin:4px 0;font-weight:bold;font-size:16px\">");
        w_sfmt(w, "%zu %s", m->nalerts, L->alerts);
        if (m->group && m->group[0]) {
            w_sfmt(w, " %s ", L->for_group);
            w_str(w, m->group);
        }
        if (m->kind == BV_MSG_ESCALATION) {
            w_sfmt(w, ", %s", L->not_acked);
        }
        w_lit(w, "</p>\n");
    }
    w_lit(w, H_P);
    w_sfmt(w, "%s: ", L->event);
    w_str(w, msg_event(m));
    w_lit(w, "</p>\n");
    for (size_t i = 0; i < m->nalerts; i++) {
        if (m->alerts[i]) {
            html_alert(w, m, m->alerts[i]);
        }
    }
    w_lit(w, "</body>\n</html>\n");
}

/* ---- short ---- */

/* One alert of the short text: after the subject, when it is the only one, its time, top
 * evidence, top place and first link; when there are several, one line each. Then the
 * acknowledge link. */
static void short_alert(rw *w, const bv_message *m, const bv_alert *a, int one)
{
    char t[BV_TIME_ISO_LEN];
    if (one) {
        w_sfmt(w, "\n%s", bv_time_format_amsterdam(a->at_ms, t));
        const bv_det_eval *e = top_eval(a);
        if (e) {
            w_lit(w, "\n");
            w_evidence(w, e);
        }
        if (a->nplaces) {
            w_lit(w, "\n");
            w_place(w, &a->places[0], 0);
        }
        for (size_t i = 0; i < a->nsamples; i++) {
            if (a->samples[i].url && a->samples[i].url[0]) {
                w_lit(w, "\n");
                w_str(w, a->samples[i].url);
                break;
            }
        }
    } else {
        w_lit(w, "\n- ");
        w_sev_state(w, a);
        w_lit(w, ": ");
        w_str(w, rule_title(a));
        w_lit(w, " (");
        w_str(w, rule_id(a));
        w_lit(w, ")");
    }
    if (wants_ack(w, m, a)) {
        w_sfmt(w, "\n%s: ", w->w->ack);
        w_ack_url(w, a);
    }
}

static void short_body(rw *w, const bv_message *m)
{
    if (m->kind == BV_MSG_HEARTBEAT) {
        if (msg_drill(m)) {
            w_str(w, w->w->drill_tag);
            w_lit(w, " ");
        }
        w_heartbeat_line(w, m);
        for (size_t i = 0; i < m->nalerts; i++) {
            if (m->alerts[i] && m->alerts[i]->state == BV_ALERT_FIRING) {
                w_lit(w, "\n- ");
                w_firing_item(w, m->alerts[i]);
            }
        }
        return;
    }
    w_subject(w, m);
    for (size_t i = 0; i < m->nalerts; i++) {
        if (m->alerts[i]) {
            short_alert(w, m, m->alerts[i], m->nalerts == 1);
        }
    }
}

/* ---- entry points ---- */

static void rw_init(rw *w, bv_buf *b, const bv_render_opts *o, int html)
{
    memset(w, 0, sizeof *w);
    w->b = b;
    w->html = html;
    w->w = o && o->lang == BV_LANG_EN ? &en_words : &nl_words;
    if (o && o->console_url && o->console_url[0]) {
        size_t n = strlen(o->console_url);
        while (n > 0 && o->console_url[n - 1] == '/') {
            n--;
        }
        w->console = o->console_url;
        w->console_len = n;
    }
}

/* Drops what a failed render appended. */
static int rw_done(rw *w, size_t start)
{
    if (w->fail || w->b->p == NULL) {
        if (w->b->p) {
            w->b->len = start;
            w->b->p[start] = '\0';
        }
        return BV_ENOMEM;
    }
    return BV_OK;
}

int bv_lang_parse(const char *s)
{
    if (s == NULL) {
        return -1;
    }
    size_t n = strlen(s);
    if (n < 2 || n > 16 || (n > 2 && ((s[2] != '-' && s[2] != '_') || n == 3))) {
        return -1;
    }
    for (size_t i = 3; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return -1;
        }
    }
    if (strncasecmp(s, "nl", 2) == 0) {
        return BV_LANG_NL;
    }
    if (strncasecmp(s, "en", 2) == 0) {
        return BV_LANG_EN;
    }
    return -1;
}

int bv_render_evidence(const bv_det_eval *e, bv_lang lang, bv_buf *out)
{
    bv_render_opts o = {.lang = lang};
    rw w;
    size_t start = out->len;
    rw_init(&w, out, &o, 0);
    w_evidence(&w, e);
    return rw_done(&w, start);
}

int bv_render_place(const bv_alert_place *p, bv_lang lang, bv_buf *out)
{
    bv_render_opts o = {.lang = lang};
    rw w;
    size_t start = out->len;
    rw_init(&w, out, &o, 0);
    w_place(&w, p, 1);
    return rw_done(&w, start);
}

int bv_render_subject(const bv_message *m, const bv_render_opts *o, bv_buf *out)
{
    rw w;
    size_t start = out->len;
    rw_init(&w, out, o, 0);
    w_subject(&w, m);
    w_raw(&w, "", 0);
    return rw_done(&w, start);
}

int bv_render_text(const bv_message *m, const bv_render_opts *o, bv_buf *out)
{
    rw w;
    size_t start = out->len;
    rw_init(&w, out, o, 0);
    text_body(&w, m);
    return rw_done(&w, start);
}

int bv_render_html(const bv_message *m, const bv_render_opts *o, bv_buf *out)
{
    rw w;
    size_t start = out->len;
    rw_init(&w, out, o, 1);
    html_body(&w, m);
    return rw_done(&w, start);
}

int bv_render_short(const bv_message *m, const bv_render_opts *o, size_t max, bv_buf *out)
{
    static const char ellipsis[] = "\xe2\x80\xa6";
    bv_buf tmp = BV_BUF_INIT;
    rw w;
    rw_init(&w, &tmp, o, 0);
    short_body(&w, m);
    w_raw(&w, "", 0);
    if (rw_done(&w, 0) != BV_OK) {
        bv_buf_free(&tmp);
        return BV_ENOMEM;
    }
    size_t n = tmp.len;
    int cut = n > max;
    if (cut) {
        /* whole characters (a stray byte counts as one) up to the room left for the mark */
        size_t room = max >= sizeof ellipsis - 1 ? max - (sizeof ellipsis - 1) : max;
        size_t i = 0;
        for (;;) {
            size_t k = bv_utf8_seq((const unsigned char *)tmp.p + i, n - i);
            k = k ? k : 1;
            if (i + k > room) {
                break;
            }
            i += k;
        }
        while (i > 0 && (tmp.p[i - 1] == ' ' || tmp.p[i - 1] == '\n')) {
            i--;
        }
        n = i;
    }
    int rc = bv_buf_append(out, tmp.p, n);
    if (rc == BV_OK && cut && max >= sizeof ellipsis - 1) {
        rc = bv_buf_append(out, ellipsis, sizeof ellipsis - 1);
        if (rc != BV_OK && out->p) {
            out->len -= n;
            out->p[out->len] = '\0';
        }
    }
    bv_buf_free(&tmp);
    return rc;
}
