/* control.h: acknowledgements and silences, as every process of an event sees them. They are
 * kept in DIR/EVENT.jsonl (mode 0600), appended under a lock by `blikveld ack` and `blikveld
 * silence` (bv_control_append_*); a running process reads what was appended since its last
 * look (bv_control_poll, once a second), so an ack stops an escalation within a second.
 *   {"op":"ack","id":ID,"by":NAME,"at":MS}
 *   {"op":"silence","rule":RULE,"until":MS,"by":NAME,"reason":TEXT,"at":MS}
 *   {"op":"unsilence","rule":RULE,"by":NAME,"at":MS}
 * A line that does not parse is skipped. A silence mutes the rule's new alerts until `until`,
 * in live runs and drills of the event alike.
 *
 * Ownership: the control owns its records; strings returned are borrowed until the next poll
 * or free. */
#ifndef BV_ALERT_CONTROL_H
#define BV_ALERT_CONTROL_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bv_control bv_control;

typedef struct bv_silence {
    char *rule, *by, *reason;
    int64_t at_ms, until_ms;
} bv_silence;

/* Called for each ack read by a poll (not for those read by open). */
typedef void bv_control_ack_cb(void *arg, const char *id, const char *by, int64_t at_ms);

/* Reads the event's file (a missing file is empty). NULL when out of memory. */
bv_control *bv_control_open(const char *dir, const char *event, bv_control_ack_cb *on_ack,
                            void *arg);
void bv_control_free(bv_control *c);
/* Sets (or clears) the callback for acks read by later polls and feeds. */
void bv_control_set_ack_cb(bv_control *c, bv_control_ack_cb *on_ack, void *arg);
/* Reads what was appended since the last look. The number of new records, or -1 on a read
 * error (the next poll tries again). */
int bv_control_poll(bv_control *c);

/* Takes bytes of the file as poll reads them (for tests and fuzzing): whole lines are applied,
 * a partial one is kept for the next call; lines over 8 KiB are skipped. The number of new
 * records, or -1 when out of memory. */
int bv_control_feed(bv_control *c, const char *data, size_t len);

/* Who acknowledged alert id (borrowed), or NULL. */
const char *bv_control_acked(const bv_control *c, const char *id);
/* The silence on rule at now_ms, or NULL. */
const bv_silence *bv_control_silenced(const bv_control *c, const char *rule, int64_t now_ms);
/* Every rule's latest silence record (borrowed), *n of them; until_ms <= now: over or lifted. */
const bv_silence *bv_control_silences(const bv_control *c, size_t *n);

/* The records as lines (with "\n"), appended to b: for the file or Redis (shared.h). A line
 * longer than 8 KiB is refused by readers: keep reasons short. */
void bv_control_format_ack(const char *id, const char *by, int64_t now_ms, bv_buf *b);
void bv_control_format_silence(const char *rule, int64_t until_ms, const char *by,
                               const char *reason, int64_t now_ms, bv_buf *b);
/* Appends a record to the event's file (creating DIR 0700). 0, or -1 with the reason in err. */
int bv_control_append_ack(const char *dir, const char *event, const char *id, const char *by,
                          int64_t now_ms, char *err, size_t errlen);
/* until_ms 0: lifts the rule's silence. */
int bv_control_append_silence(const char *dir, const char *event, const char *rule,
                              int64_t until_ms, const char *by, const char *reason, int64_t now_ms,
                              char *err, size_t errlen);

#endif
