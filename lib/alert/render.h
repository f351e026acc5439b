/* render.h: the human-facing text of a message (alert/sink.h), in Dutch or English, times in
 * Europe/Amsterdam: an e-mail subject, a plain-text body, an HTML body, and a short text for
 * SMS, Telegram and Slack. What it says, in this order: OEFENING / DRILL for drills; the
 * severity, state and rule title; for an escalation, that nobody acknowledged; when; the
 * evidence of each detector (count against its threshold or baseline, unique authors, growth);
 * the places named most (an ambiguous name said to be so); sample posts with their links; the
 * event; the acknowledge link (CONSOLE_URL/alerts/ID) when a console_url is set and the alert
 * is firing. A heartbeat says blikveld is running and how many alerts fire.
 *
 * Ownership: everything is borrowed; the text is appended to out. Text from posts (excerpts,
 * titles, places) is escaped in HTML and never interpreted. Returns BV_OK or BV_ENOMEM. */
#ifndef BV_ALERT_RENDER_H
#define BV_ALERT_RENDER_H

#include "alert/sink.h"
#include "core/buf.h"

#include <stddef.h>

typedef enum bv_lang { BV_LANG_NL = 0, BV_LANG_EN } bv_lang;

/* "nl" or "en" (case-insensitive; "nl-NL" and "en-GB" too). -1 for anything else. */
int bv_lang_parse(const char *s);

typedef struct bv_render_opts {
    bv_lang lang;
    const char *console_url; /* NULL or "": no acknowledge link */
} bv_render_opts;

/* One line, no newline, e.g. "[OEFENING] KRITIEK: Project X-oproep (project-x) - Haren" or,
 * for several alerts, "KRITIEK: 3 meldingen voor politie - Project X-oproep en 2 andere". */
int bv_render_subject(const bv_message *m, const bv_render_opts *o, bv_buf *out);
/* The full text, lines ending in "\n". */
int bv_render_text(const bv_message *m, const bv_render_opts *o, bv_buf *out);
/* A whole HTML document (<!DOCTYPE html>, inline styles only, no scripts or remote content). */
int bv_render_html(const bv_message *m, const bv_render_opts *o, bv_buf *out);
/* A concise text of at most max bytes (cut at a character boundary, ending in "…" when cut),
 * for SMS, Telegram and Slack: subject line, when, the top evidence and place, one sample link,
 * the acknowledge link. */
int bv_render_short(const bv_message *m, const bv_render_opts *o, size_t max, bv_buf *out);

/* One detector's evidence in the words messages use ("25 verschillende accounts in 30m
 * (drempel 25)"), as plain text (the caller escapes it where it is markup). */
int bv_render_evidence(const bv_det_eval *e, bv_lang lang, bv_buf *out);
/* A place as messages name it: "Haren 14 (gemeente Groningen)", or for an ambiguous name
 * "Haren 3 — welke? 2 plaatsen met die naam: Groningen, Groningen; Oss, Noord-Brabant";
 * plain text. */
int bv_render_place(const bv_alert_place *p, bv_lang lang, bv_buf *out);

#endif
