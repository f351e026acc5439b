/* outbox.h: the durable outbox. An alert is written here, with the targets it must reach, before
 * any delivery is tried; each target's outcome (delivered, or failed for good) is written after.
 * A process that dies in between finds the alert pending when it starts again and delivers it
 * then: nothing is lost, and since every delivery carries the entry's key (alert id + state),
 * a receiver that drops repeated keys sees it once.
 *
 * The spool is one append-only file of JSON lines per namespace, DIR/NS.jsonl (mode 0600, "/"
 * in the namespace written as "+"):
 *   {"op":"put","key":K,"at":MS,"deadline":MS,"targets":[T,...],"alert":{...}}   fdatasync'd
 *   {"op":"done","key":K,"target":T,"at":MS,"attempts":N}
 *   {"op":"failed","key":K,"target":T,"at":MS,"attempts":N,"reason":"HTTP 400"}
 * A put whose key is already there is not written again (the existing entry is returned). A
 * torn last line (a crash in the middle of a write) is dropped; another line that does not
 * parse is skipped and counted. Opening compacts the file: entries older than the retention
 * go, and the rest is written anew (to a temporary file, then renamed).
 *
 * One process owns a spool at a time: opening for writing takes an exclusive lock on
 * DIR/NS.lock (flock) and fails with BV_EAGAIN, saying which process holds it, while another
 * has it. Opening read-only takes no lock and changes nothing.
 *
 * Ownership: the outbox owns its entries, their strings and its file; entries stay valid until
 * bv_outbox_close. Not thread-safe; one event loop. */
#ifndef BV_ALERT_OUTBOX_H
#define BV_ALERT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

typedef enum bv_out_status { BV_OUT_PENDING = 0, BV_OUT_DELIVERED, BV_OUT_FAILED } bv_out_status;

typedef struct bv_out_target {
    char *id; /* "police/0:webhook", "alertmanager": see dispatch.h */
    bv_out_status status;
    unsigned attempts;
    int64_t done_ms; /* when delivered or failed */
    char *reason;    /* failed: why (NULL otherwise) */
} bv_out_target;

typedef struct bv_out_entry {
    char *key;   /* "ID/firing", "ID/resolved", "ID/escalated" */
    char *alert; /* the alert's JSON (bv_alert_format_json) */
    size_t alert_len;
    int64_t at_ms;       /* when it was put */
    int64_t deadline_ms; /* deliveries not done by then fail */
    bv_out_target *targets;
    size_t ntargets;
    size_t npending; /* targets still pending */
} bv_out_entry;

typedef struct bv_outbox_opts {
    int read_only;        /* list only: no lock, no compaction, no writes */
    int64_t now_ms;       /* for retention */
    int64_t retention_ms; /* entries put longer ago than this go at open (0: kept) */
} bv_outbox_opts;

typedef struct bv_outbox_stats {
    size_t entries, pending_targets, failed_targets;
    uint64_t skipped_lines; /* lines that did not parse when it was read */
    uint64_t dropped_old;   /* entries dropped by retention at open */
    int torn_tail;          /* the last line was incomplete (dropped) */
} bv_outbox_stats;

typedef struct bv_outbox bv_outbox;

/* Opens (creating DIR 0700 and the file as needed) the spool of namespace ns. BV_OK; BV_EAGAIN
 * when another process holds it; BV_ENOENT read-only and there is no spool; BV_EIO, BV_ENOMEM.
 * err says why (with the holder's pid for BV_EAGAIN). */
int bv_outbox_open(bv_outbox **out, const char *dir, const char *ns, const bv_outbox_opts *o,
                   char *err, size_t errlen);
/* An outbox with no file, for processes whose outbox is kept in Redis (shared.h): the
 * same index of entries and outcomes; put and mark write nothing. NULL when out of memory. */
bv_outbox *bv_outbox_new_memory(void);
/* A read-only outbox from spool text in memory (for tests and fuzzing): as a read-only open of
 * a file holding text[0..len). NULL when out of memory. */
bv_outbox *bv_outbox_from_buffer(const char *text, size_t len);
void bv_outbox_close(bv_outbox *ob);

/* Puts an alert with its targets and writes it to disk (fdatasync) before returning. *entry
 * gets the new entry, or the existing one when key is there already (then *fresh is 0). BV_OK;
 * BV_EIO when the disk refused (the entry is kept in memory all the same, so the alert can
 * still be sent, but a restart would not know it); BV_ENOMEM; BV_EINVAL (read-only). */
int bv_outbox_put(bv_outbox *ob, const char *key, const char *alert, size_t alert_len,
                  int64_t at_ms, int64_t deadline_ms, const char *const *targets, size_t ntargets,
                  bv_out_entry **entry, int *fresh);
/* Records target i of e as delivered or failed (with reason), after attempts tries. The
 * record is written but not synced: a crash just after may deliver it again, under the same
 * key. BV_OK or BV_EIO (kept in memory all the same; the next open finds it pending). */
int bv_outbox_mark(bv_outbox *ob, bv_out_entry *e, size_t i, bv_out_status st, unsigned attempts,
                   const char *reason, int64_t now_ms);

/* The entries, oldest first (borrowed). */
size_t bv_outbox_count(const bv_outbox *ob);
bv_out_entry *bv_outbox_get(const bv_outbox *ob, size_t i);
/* The entry with this key, or NULL. */
bv_out_entry *bv_outbox_find(const bv_outbox *ob, const char *key);
void bv_outbox_stats_get(const bv_outbox *ob, bv_outbox_stats *out);
/* The spool's path (borrowed). */
const char *bv_outbox_path(const bv_outbox *ob);

/* The file name of namespace ns: "live/koningsdag" -> "live+koningsdag" (written to out, which
 * holds n bytes). -1 when ns is empty, too long, or holds anything but letters, digits, '-',
 * '_', '.' and '/'. */
int bv_outbox_file_name(const char *ns, char *out, size_t n);

#endif
