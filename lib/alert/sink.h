/* sink.h: where alerts go. A sink is a const table of callbacks plus an instance (STYLE.md 1).
 *
 * Two ways in:
 *  - emit (stream sinks only: stdout and files) writes one alert at once and answers OK or FAIL;
 *  - deliver sends one message (one or more alerts for one recipient group, an escalation or a
 *    heartbeat) to one target asynchronously, on the event loop, and answers OK, RETRY or FAIL
 *    through its done callback. Every sink has deliver; the dispatcher (alert/dispatch.h) calls
 *    it from the durable outbox and retries what answers RETRY.
 *
 * One file per sink: sink_stream.c (stdout, file), sink_webhook.c (our JSON, or the
 * Alertmanager webhook format), sink_slack.c (Slack and Mattermost incoming webhooks),
 * sink_telegram.c (Bot API sendMessage), sink_sms.c (an HTTP gateway, templated request),
 * sink_email.c (SMTP through libcurl), sink_alertmanager.c (Alertmanager v2 POST
 * /api/v2/alerts). sink_http.{c,h} holds what the HTTP sinks share.
 *
 * Ownership: a sink owns its instance and copies what it keeps of its config (secrets are read
 * from the environment when it is made and never printed); messages and alerts are borrowed for
 * the call to deliver only. The env is borrowed and must outlive the sink. bv_sink_free stops
 * every delivery in flight without calling its done callback. */
#ifndef BV_ALERT_SINK_H
#define BV_ALERT_SINK_H

#include "alert/alert.h"
#include "core/clock.h"
#include "core/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct event_base;
struct bv_curl_loop;

typedef enum bv_sink_result { BV_SINK_OK = 0, BV_SINK_RETRY = 1, BV_SINK_FAIL = 2 } bv_sink_result;

typedef enum bv_msg_kind {
    BV_MSG_ALERTS = 0, /* alerts (firing or resolved) for a recipient group */
    BV_MSG_ESCALATION, /* firing alerts nobody acknowledged in time, to more people */
    BV_MSG_HEARTBEAT,  /* the watchdog: blikveld is alive (alerts: what is firing now) */
} bv_msg_kind;

/* One message to one target. Everything is borrowed for the call to deliver. */
typedef struct bv_message {
    bv_msg_kind kind;
    const char *event;             /* the event's name */
    const char *group;             /* the recipient group ("police"); "" for global sinks */
    const bv_alert *const *alerts; /* ALERTS, ESCALATION: >= 1; HEARTBEAT: those firing now */
    size_t nalerts;
    const char *const *keys; /* idempotency key per alert (bv_alert_key), same order */
    const char *key;         /* the message's: its alerts' keys joined with "," (HEARTBEAT:
                                "heartbeat/EVENT/SECONDS") */
    int drill;               /* a drill: every sink says so (OEFENING / DRILL, a drill label) */
    int64_t now_ms;          /* when it is sent (wall clock) */
    int64_t every_ms;        /* HEARTBEAT: the next one comes within this */
} bv_message;

/* What every sink is made with (borrowed; outlives the sinks). */
typedef struct bv_sink_env {
    struct event_base *base;
    struct bv_curl_loop *curl; /* for HTTP and SMTP */
    const bv_clock *clock;
    const char *language;    /* "nl" (default) or "en": human-facing text */
    const char *console_url; /* NULL: messages carry no acknowledge link */
    int64_t timeout_ms;      /* one attempt, connect included (default 10 s) */
    const char *ca_file;     /* NULL: the system's CAs (tests: their own CA) */
} bv_sink_env;

typedef void bv_sink_done_cb(void *arg, bv_sink_result r, const char *reason);

typedef struct bv_sink bv_sink;

typedef struct bv_sink_ops {
    const char *name; /* "stream", "webhook", "email", ... */
    /* stream sinks only (NULL elsewhere): writes a at once. OK or FAIL. */
    bv_sink_result (*emit)(bv_sink *s, const bv_alert *a);
    /* Starts delivering m. done runs once, from the event loop and never before deliver has
     * returned, with OK, RETRY (it may work later: a timeout, a refused connection, HTTP 5xx,
     * 408, 429) or FAIL (it never will: another 4xx, a rejected recipient), and a short reason
     * for the log and the audit log (a status line, never a secret). Returns BV_OK, or a bv_err
     * when it could not start (done is then not called; the caller takes it as RETRY). */
    int (*deliver)(bv_sink *s, const bv_message *m, bv_sink_done_cb *done, void *arg);
    void (*free)(bv_sink *s);
} bv_sink_ops;

struct bv_sink {
    const bv_sink_ops *ops;
    const bv_sink_env *env;
    char *label; /* "webhook https://meldkamer.example/hooks/blikveld" (no secret), for logs;
                    owned, freed by ops->free */
    uint64_t sent, failed;
};

typedef enum bv_sink_format { BV_FORMAT_JSON = 0, BV_FORMAT_TEXT } bv_sink_format;

/* A stream sink. owns: fclose f on free. Each alert is written as one line and flushed; env
 * may be NULL when only emit is used (deliver needs env->base). */
bv_sink *bv_sink_stream_new(FILE *f, int owns, bv_sink_format format, const bv_sink_env *env);
/* A file target: alerts appended to path as JSON lines (created 0600). NULL with err. */
bv_sink *bv_sink_file_new(const bv_sink_env *env, const char *path, char *err, size_t errlen);

/* ---- the config of a recipient target: one item of `recipients: {GROUP: [...]}` ---- */

typedef struct bv_sms_conf {
    char *gateway;      /* URL the request goes to */
    char *token_env;    /* sent as "Authorization: Bearer TOKEN" when given */
    bv_strlist to;      /* numbers; one request each */
    char *method;       /* POST (default) or GET */
    char *content_type; /* default application/json */
    char *body;         /* template: {{to}}, {{text}}; default {"to":"{{to}}","text":"{{text}}"}
                           (values escaped for the content type: JSON or form encoding) */
    int64_t max_chars;  /* the text is cut to this (default 320) */
} bv_sms_conf;

typedef struct bv_telegram_conf {
    char *chat_id;
    char *token_env;
    char *api; /* default https://api.telegram.org (tests: their own server) */
} bv_telegram_conf;

typedef struct bv_target_conf {
    char *webhook;         /* URL */
    bv_strmap headers_env; /* webhook: header name -> environment variable holding its value */
    char *format;          /* webhook: "blikveld" (default) or "alertmanager" */
    bv_strlist email;      /* addresses; the smtp section says how */
    bv_sms_conf sms;
    bv_telegram_conf telegram;
    char *slack;        /* incoming-webhook URL (Slack or Mattermost) */
    char *file;         /* a file alerts are appended to as JSON lines */
    char *min_severity; /* info (default), warning or critical: lower alerts skip this target */
} bv_target_conf;
extern const bv_option bv_target_table[]; /* keys of one target */

typedef struct bv_smtp_conf {
    char *url;  /* smtp://host:port (STARTTLS when offered) or smtps://host:port */
    char *from; /* the sender address */
    char *user_env, *password_env;
    bool require_tls; /* refuse to send without STARTTLS (default false: use it when offered) */
} bv_smtp_conf;
extern const bv_option bv_smtp_table[];

/* Makes the sink a target config asks for (exactly one of webhook, email, sms, telegram, slack,
 * file). smtp: needed for email (NULL otherwise). NULL with a reason in err (an unset *_env
 * variable is named, its value never shown). */
bv_sink *bv_sink_from_conf(const bv_sink_env *env, const bv_target_conf *t,
                           const bv_smtp_conf *smtp, char *err, size_t errlen);

/* The constructors behind it (each in its own file). */
bv_sink *bv_sink_webhook_new(const bv_sink_env *env, const bv_target_conf *t, char *err,
                             size_t errlen);
bv_sink *bv_sink_slack_new(const bv_sink_env *env, const char *url, char *err, size_t errlen);
bv_sink *bv_sink_telegram_new(const bv_sink_env *env, const bv_telegram_conf *t, char *err,
                              size_t errlen);
bv_sink *bv_sink_sms_new(const bv_sink_env *env, const bv_sms_conf *t, char *err, size_t errlen);
bv_sink *bv_sink_email_new(const bv_sink_env *env, const bv_strlist *to, const bv_smtp_conf *smtp,
                           char *err, size_t errlen);
/* Alertmanager v2 at base_url (http://host:9093): alerts, and the always-firing Watchdog alert
 * with every heartbeat (which also repeats the alerts firing now, as Prometheus does, so
 * Alertmanager does not resolve them by itself). */
bv_sink *bv_sink_alertmanager_new(const bv_sink_env *env, const char *base_url, char *err,
                                  size_t errlen);

static inline bv_sink_result bv_sink_emit(bv_sink *s, const bv_alert *a)
{
    bv_sink_result r = s->ops->emit(s, a);
    if (r == BV_SINK_OK) {
        s->sent++;
    } else {
        s->failed++;
    }
    return r;
}
static inline int bv_sink_deliver(bv_sink *s, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    return s->ops->deliver(s, m, done, arg);
}
static inline void bv_sink_free(bv_sink *s)
{
    if (s) {
        s->ops->free(s);
    }
}

#endif
