/* alert.h: the alert record, as every sink sees it, and its two printed forms: one JSON object
 * per line (the contract documented in the README) and one readable line (times in
 * Europe/Amsterdam). An alert owns copies of everything it shows; bv_alert_free releases them. */
#ifndef BV_ALERT_ALERT_H
#define BV_ALERT_ALERT_H

#include "core/buf.h"
#include "engine/detect.h"
#include "engine/pipeline.h"
#include "engine/rules.h"

#include <stdint.h>

typedef enum bv_alert_state { BV_ALERT_FIRING = 0, BV_ALERT_RESOLVED } bv_alert_state;

/* A place the alert's window names (see bv_place_count). Owned by the alert. */
typedef struct bv_alert_place {
    char *name;
    uint32_t count;
    char *municipality, *province; /* where it lies; NULL when ambiguous or unknown */
    char **ambiguous;              /* "Municipality, Province" of each place of that name,
                                      when the window does not say which */
    size_t nambiguous;
} bv_alert_place;

typedef struct bv_alert {
    char id[33]; /* hex; see bv_alert_make_id */
    bv_alert_state state;
    char *event; /* owned */
    int drill;
    int health;          /* about blikveld itself (a quiet source), not about posts */
    const bv_rule *rule; /* borrowed from the ruleset, which outlives alerts */
    int64_t at_ms;       /* event time of the transition */
    int64_t since_ms;    /* resolved: when the episode fired */
    bv_det_eval *evals;  /* owned copy */
    size_t nevals;
    bv_sample *samples; /* owned copies */
    size_t nsamples;
    bv_alert_place *places; /* owned; most named first */
    size_t nplaces;
    int in_outbox;    /* the claim that sent it wrote its entry to the shared store's outbox
                         (book.h, shared.h); not in the JSON */
    bv_rule own_rule; /* a parsed alert's rule: id, title, severity and recipients (owned;
                         rule points here); zero otherwise */
} bv_alert;

/* Deterministic id: hex of SHA-256(namespace NUL rule-id NUL episode-bucket-ms), 16 bytes. */
void bv_alert_make_id(const char *ns, const char *rule_id, int64_t episode_ms, char out[33]);

/* A new alert from a signal: copies evidence and samples. NULL when out of memory. */
bv_alert *bv_alert_from_signal(const bv_signal *s, bv_alert_state state, const char *event,
                               int drill, const char *id);
void bv_alert_free(bv_alert *a);

/* The alert one object of bv_alert_format_json describes, as the outbox keeps it: formatting
 * the result again gives the same JSON. The rule's id, title, severity and recipients are copied
 * into own_rule (rule points there); sample ids are not in the JSON and come back empty. NULL
 * with the reason in err (anything but such an object: not JSON, a field missing or of the wrong
 * type, an unknown state, severity, detector or platform, more than BV_ALERT_JSON_MAX bytes). */
#define BV_ALERT_JSON_MAX (1024 * 1024)
bv_alert *bv_alert_parse_json(const char *json, size_t len, char *err, size_t errlen);

/* The idempotency key of the alert's delivery: "ID/firing", "ID/resolved", or "ID/escalated"
 * (escalated: the message that goes to more people when nobody acknowledged). */
#define BV_ALERT_KEY_LEN 48
const char *bv_alert_key(const bv_alert *a, int escalated, char out[BV_ALERT_KEY_LEN]);

/* One JSON object (no newline) appended to out. */
int bv_alert_format_json(const bv_alert *a, bv_buf *out);
/* One readable line (no newline): "2026-06-12 22:41:00 CEST FIRING critical project-x ..." */
int bv_alert_format_text(const bv_alert *a, bv_buf *out);

#endif
