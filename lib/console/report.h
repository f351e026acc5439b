/* report.h: the drill debrief (`blikveld replay --report FILE.html`): one self-contained HTML page
 * (an inline <style>, no scripts, no external resources) in Dutch or English, times in
 * Europe/Amsterdam, meant to be read and printed for the evaluation meeting. It says, in this
 * order: the event, the drill run, when it was made; a summary (the replayed span, posts, rules,
 * alerts fired and resolved per severity); per rule its title, id, severity, detectors in words,
 * matches and alerts, and a chart (inline SVG) of its first detector's value over the replayed
 * time against its level, each alert marked (a line and its number where it fired, a band until
 * it was resolved); then the table of alerts: when fired and resolved, the rule, the evidence at
 * firing, the places and sample posts with their links.
 *
 * Text from posts and rules (excerpts, urls, places, titles) is HTML-escaped; only http(s) urls
 * become links. The output depends on the options only (no clock is read), so the same inputs
 * give the same bytes.
 *
 * Ownership: everything in the options is borrowed for the call; the page is appended to out
 * (whole, or nothing on failure). */
#ifndef BV_CONSOLE_REPORT_H
#define BV_CONSOLE_REPORT_H

#include "alert/alert.h"
#include "alert/render.h"
#include "console/history.h"
#include "core/buf.h"
#include "engine/rules.h"

#include <stddef.h>
#include <stdint.h>

/* The chart's geometry (SVG user units): the view box is WIDTH x HEIGHT, the plot area runs from
 * x = PLOT_X over PLOT_W units. Its time axis runs from first_ms to last_ms, widened to hold every
 * point and alert of the report (the same axis for every rule): a time t is at
 * PLOT_X + (t - start) * PLOT_W / (end - start). */
#define BV_REPORT_WIDTH 900
#define BV_REPORT_HEIGHT 220
#define BV_REPORT_PLOT_X 56
#define BV_REPORT_PLOT_W 828

typedef struct bv_report_opts {
    const char *event; /* the event's name */
    const char *run;   /* the drill run's name; NULL or "": not said */
    bv_lang lang;
    const bv_ruleset *rules;       /* the rule set the replay ran; NULL: no rules */
    const bv_history *history;     /* on that rule set (point lists by rule index), keep_ms 0;
                                      NULL: no charts */
    const bv_alert *const *alerts; /* firing and resolved records in the order emitted; a
                                      resolved one pairs with the firing one of the same id */
    size_t nalerts;
    int64_t first_ms, last_ms; /* the first and last event time replayed; INT64_MIN: no posts */
    uint64_t posts;            /* posts replayed */
    const uint64_t *matches;   /* per rule of rules (bv_rules_count entries); NULL: unknown */
    int64_t generated_ms;      /* when the report is made (said on the page) */
} bv_report_opts;

/* Appends the page to out. BV_OK, BV_EINVAL (o or out NULL), or BV_ENOMEM. */
int bv_report_html(const bv_report_opts *o, bv_buf *out);

#endif
