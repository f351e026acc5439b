/* audit.h: the audit log, for the after-action report: every acknowledgement, silence and
 * delivery outcome (delivered, retried, failed, escalated, held back by a silence), one JSON
 * object per line in DIR/EVENT.jsonl (mode 0600), appended under a lock so that several
 * processes (a running `run`, `blikveld ack`) can write at once (not synced record by record:
 * the outcomes are in the outbox too):
 *   {"at":"2026-04-27T14:02:11.250Z","event":"koningsdag","what":"ack","id":"4f0c...",
 *    "by":"politie-oc"}
 * Fields: at, event, what; then those that apply: id, rule, key, target, attempts, by,
 * reason, until, drill. Nothing in it names a post's author; reasons are the sinks' short
 * status lines, which never hold a secret.
 *
 * Ownership: records and strings are borrowed for the call. */
#ifndef BV_ALERT_AUDIT_H
#define BV_ALERT_AUDIT_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct bv_audit_rec {
    int64_t at_ms;
    const char *event;
    const char *what; /* "ack", "silence", "delivered", "retry", "failed", "escalated",
                         "silenced" (held back by a silence), "expired" */
    const char *id, *rule, *key, *target, *by, *reason; /* NULL: left out */
    unsigned attempts;                                  /* 0: left out */
    int64_t until_ms;                                   /* silence: until when (0: left out) */
    int drill;
} bv_audit_rec;

/* r as one line (with its "\n") appended to out. BV_OK or BV_ENOMEM. */
int bv_audit_format(const bv_audit_rec *r, bv_buf *out);
/* Writes the records of buf[0..len) (JSON lines; a last line without "\n" is left out) to out,
 * as they are or as readable text; the number written. */
size_t bv_audit_print(char *buf, size_t len, int text, FILE *out);
/* The audit file of an event: DIR/EVENT.jsonl (caller frees; NULL when out of memory). */
char *bv_audit_path(const char *dir, const char *event);
/* Appends r to the event's audit file (creating DIR 0700). 0, or -1 with the reason in err. */
int bv_audit_append(const char *dir, const bv_audit_rec *r, char *err, size_t errlen);
/* Drops the lines of the event's file older than retention_ms before now_ms (a line whose time
 * does not parse is kept). 0 (also when there is no file), or -1 with the reason in err. */
int bv_audit_retain(const char *dir, const char *event, int64_t now_ms, int64_t retention_ms,
                    size_t *dropped, char *err, size_t errlen);
/* Writes the event's record to out: its lines as they are (JSON), or one readable line each
 * (text: times in Europe/Amsterdam). 0 with *n the number of records; BV_ENOENT when the event
 * has none; -1 with the reason in err. */
int bv_audit_export(const char *dir, const char *event, int text, FILE *out, size_t *n, char *err,
                    size_t errlen);

#endif
