/* console.h: the crisis team's console: an HTTP (or HTTPS) server on the process's event loop
 * (libevent's evhttp, with OpenSSL through bufferevent_openssl) that serves the page (HTML, CSS
 * and JS compiled into the binary, assets.h), the JSON API, the live feed over Server-Sent
 * Events, Prometheus metrics and a health check. The routes, the JSON and the SSE events are
 * listed in the README ("The console").
 *
 * Access (auth.h): with tokens, everything but /healthz, /login and the login page's assets needs
 * a session cookie or a bearer token; `read` may look, `ack` may also acknowledge, silence rules
 * and reload.
 * Without tokens the console listens on a loopback address only (a non-loopback `listen` is
 * moved to 127.0.0.1 at the same port, and that is logged) and every request counts as "local"
 * with role ack. Every answer carries a Content-Security-Policy that allows no inline script;
 * the API and the feed are never cached.
 *
 * What it shows comes from two directions: the command pushes alerts, acks, signals and reloads
 * in (bv_console_alert, ...), and the console pulls counts when a page or scraper asks (the
 * pipeline, book, store and dispatcher stats, and the hooks below for what lives in cmd/: the
 * sources, acks, silences, reload, the audit log).
 *
 * Ownership: the console borrows everything in its options (the rule set until the next
 * bv_console_set_rules) and copies what is pushed in. A slow feed client whose unsent output
 * passes client_buffer bytes is disconnected (it reconnects and reloads): no client can make
 * the process hold unbounded memory or stall the loop. */
#ifndef BV_CONSOLE_CONSOLE_H
#define BV_CONSOLE_CONSOLE_H

#include "alert/alert.h"
#include "alert/book.h"
#include "alert/dispatch.h"
#include "console/auth.h"
#include "console/history.h"
#include "core/buf.h"
#include "core/clock.h"
#include "engine/pipeline.h"
#include "engine/rules.h"
#include "engine/store.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* One source as the console shows it. Strings are borrowed until the next hook call. */
typedef struct bv_console_source {
    const char *name, *platform, *state;
    uint64_t posts, skipped, errors, reconnects;
    int64_t last_post_ms;   /* wall clock; 0: none yet */
    const char *last_error; /* NULL or "": none */
    int up;                 /* counts as up for /healthz */
} bv_console_source;

typedef void bv_console_reload_done(void *arg, int ok, const char *json);
typedef void bv_console_text_done(void *arg, int ok, const char *text, size_t len);

typedef struct bv_console_hooks {
    void *arg;
    /* The sources now: at most max into out; returns how many there are. */
    size_t (*sources)(void *arg, bv_console_source *out, size_t max);
    /* Posts dropped because the pipeline fell behind (0 when there is no queue). */
    uint64_t (*dropped)(void *arg);
    /* Records an acknowledgement of alert id (of rule) by `by` (the token's name) at at_ms, as
     * `blikveld ack` does (control file or Redis, and the audit log). 0 recorded; 1
     * acknowledged before (by whom in err); -1 with the reason in err. */
    int (*ack)(void *arg, const char *id, const char *rule, const char *by, int64_t at_ms,
               char *err, size_t errlen);
    /* Loads the rule files again and hands the new set over (now, or at the pipeline's next
     * idle moment), then calls done exactly once: ok 1 when the new set took over, 0 when it
     * was refused; json is the answer (with the diagnostic). */
    void (*reload)(void *arg, const char *by, bv_console_reload_done *done, void *done_arg);
    /* Reads the event's audit records and calls done exactly once (now or later): ok 1 with
     * the records as JSON lines in text[0..len), or ok 0 with the reason in text. */
    void (*audit)(void *arg, const char *event, bv_console_text_done *done, void *done_arg);
    /* Until when rule is silenced (0: it is not). */
    int64_t (*silenced)(void *arg, const char *rule, int64_t now_ms);
    /* Records a silence of rule until until_ms with reason by `by` at at_ms, or with until_ms 0
     * (reason NULL) its lift, as `blikveld silence` does (control file or Redis, and the audit
     * log). 0, or -1 with the reason in err. */
    int (*silence)(void *arg, const char *rule, int64_t until_ms, const char *by,
                   const char *reason, int64_t at_ms, char *err, size_t errlen);
} bv_console_hooks;

typedef struct bv_console_opts {
    const char *listen;             /* "HOST:PORT", "[V6]:PORT"; port 0: any free one */
    const char *tls_cert, *tls_key; /* both or neither: PEM files */
    const bv_auth_token *tokens;
    size_t ntokens;
    int64_t session_ms; /* 0: 12 h */
    const char *event;
    const char *run; /* a drill's run name, or NULL */
    int drill;
    const char *lang;    /* "nl" (default) or "en": the page's first language */
    const char *version; /* shown in /api/me */
    const bv_clock *clock;
    int64_t keepalive_ms; /* feed comments (default 15 s) */
    int64_t rules_ms;     /* the `rules` feed event at most this often (default 2 s) */
    int64_t sources_ms;   /* the `sources` feed event (default 5 s) */
    size_t max_alerts;    /* kept for the page (default 500) */
    size_t max_clients;   /* feed connections (default 64) */
    size_t client_buffer; /* unsent bytes per feed client (default 1 MiB) */
    int timeout_s;        /* idle connection timeout (default 60) */
    /* Borrowed; any may be NULL. */
    const bv_ruleset *rules;
    bv_history *history;
    bv_pipeline *pipeline;
    bv_book *book;
    bv_store *store;
    bv_dispatch *dispatch;
} bv_console_opts;

typedef struct bv_console bv_console;

/* Listens and serves on base. NULL with the reason in err (address in use, a certificate that
 * does not load, ...). */
bv_console *bv_console_new(struct event_base *base, const bv_console_opts *o,
                           const bv_console_hooks *hooks, char *err, size_t errlen);
void bv_console_free(bv_console *c);
/* The port it listens on, and its address as a URL ("http://127.0.0.1:8080"). */
int bv_console_port(const bv_console *c);
const char *bv_console_url(const bv_console *c);
/* 1 when it listens on loopback only because no tokens are configured. */
int bv_console_open_local(const bv_console *c);

/* A new alert (or a new state of one): kept for the page and sent to the feed. */
void bv_console_alert(bv_console *c, const bv_alert *a);
/* An alert from before this process started (the outbox, read at start): kept for the page as
 * bv_console_alert keeps it, marked "restored" until a new state of it comes, but neither
 * counted in the metrics nor sent to the feed. Call in the order the alerts came. */
void bv_console_restore(bv_console *c, const bv_alert *a);
/* Forgets the restored alerts whose latest state came before before_ms (event time), once
 * all are restored (a resolve needs its firing record before it to show what fired). */
void bv_console_restored_drop(bv_console *c, int64_t before_ms);
/* An acknowledgement learnt elsewhere (`blikveld ack`, another process). */
void bv_console_acked(bv_console *c, const char *id, const char *by, int64_t at_ms);
/* An evaluation from the pipeline (the rules' current counts; the history is fed apart). */
void bv_console_signal(bv_console *c, const bv_signal *s);
/* A new rule set took over (after a reload); result is the reload's JSON answer, sent to the
 * feed. */
void bv_console_set_rules(bv_console *c, const bv_ruleset *rs, const char *result);
/* Feed clients connected now. */
size_t bv_console_clients(const bv_console *c);

#endif
