/* x_rules.h: keeps the server-side rules of the X API v2 filtered stream equal to the configured
 * ones (../shared/PLATFORMS.md §3.1): GET /2/tweets/search/stream/rules (following
 * meta.next_token), then one POST {"delete":{"ids":[...]}} for every rule whose value is not
 * configured, then one POST {"add":[{"value":...,"tag":...}]} for the configured values X lacks.
 * Either POST is sent only when it has something to do.
 *
 * The configuration is the truth: an app has one filtered stream, and this module owns all of
 * its rules. Rules are matched by value only (byte for byte); a rule X holds whose value is not
 * configured is deleted whatever its tag, even if someone added it by hand or another program
 * uses the same app. The caller (the X stream source) decides whether and when to retry: this
 * module never retries and never logs. The bearer token goes only into the Authorization header,
 * never into errors.
 *
 * The two response parsers are sans-IO (a whole body in, a result out) for tests and fuzzing.
 * They refuse bodies over BV_X_RULES_BODY_MAX bytes, nested deeper than 16, holding a NUL byte,
 * or not valid UTF-8 JSON.
 *
 * Ownership: each function says. bv_x_rules borrows the curl loop (it must outlive the syncer)
 * and copies everything in its options. */
#ifndef BV_SOURCE_X_RULES_H
#define BV_SOURCE_X_RULES_H

#include "net/curl_loop.h"

#include <stddef.h>
#include <stdint.h>

#define BV_X_RULES_MAX 100             /* configured rules at most */
#define BV_X_RULE_VALUE_MAX 1024       /* bytes in one rule value */
#define BV_X_RULES_BODY_MAX (1u << 20) /* bytes in one response */
#define BV_X_RULES_PAGES_MAX 32        /* GET pages followed through meta.next_token */

/* ---- sans-IO pieces ---- */

/* The rules endpoint for a filtered stream URL: the same scheme, host and port, path
 * /2/tweets/search/stream/rules, no query, fragment or credentials. *out is the caller's (free).
 * BV_OK, BV_EINVAL (not an http(s) URL with a host), BV_ENOMEM. */
int bv_x_rules_url(const char *stream_url, char **out);

/* A rule as X holds it. Both strings are owned by the list they are in. */
typedef struct bv_x_rule {
    char *id;    /* X's rule id: 1 to 19 digits */
    char *value; /* the rule text */
} bv_x_rule;

typedef struct bv_x_rule_list {
    bv_x_rule *v; /* owned */
    size_t n, cap;
    char *next_token; /* meta.next_token of the last page parsed (owned), NULL when none */
} bv_x_rule_list;

/* Parses a GET rules response body (body[0..len), borrowed, no NUL needed):
 * {"data":[{"id","value","tag"?}...],"meta":{"sent","result_count","next_token"?}}; data may be
 * absent (no rules). Appends the page's rules to out (zero it before the first page) and sets
 * out->next_token. BV_OK; BV_EINVAL when the body is not such a response (not JSON, a rule
 * without a digit id or a string value, result_count not matching data[], or errors[] present:
 * errstr says which); BV_ELIMIT (too big or too deep); BV_ENOMEM. On error out holds what it
 * held before, maybe with some of the page's rules added: clear it. errstr may be NULL. */
int bv_x_rules_parse_list(const char *body, size_t len, bv_x_rule_list *out, char *errstr,
                          size_t errlen);
/* Frees what the list owns and zeroes it. */
void bv_x_rule_list_clear(bv_x_rule_list *l);

/* One entry of errors[]: a refused rule (invalid syntax, a duplicate) or another problem. */
typedef struct bv_x_rule_error {
    char *value;   /* the rule value it is about, or NULL (owned) */
    char *id;      /* the rule id it names (a duplicate's, a delete's), or NULL (owned) */
    char *message; /* why: title, then details[] / detail / message joined; never NULL (owned) */
} bv_x_rule_error;

/* An add or delete response, or the problem body of a refused request. */
typedef struct bv_x_rules_change {
    /* meta.summary; -1 where absent */
    int64_t created, not_created, valid, invalid, deleted, not_deleted;
    bv_x_rule_list data;     /* data[]: the rules created (owned) */
    bv_x_rule_error *errors; /* errors[] (owned); a problem body ({"title","detail"}) gives one */
    size_t nerrors;
} bv_x_rules_change;

/* Parses body[0..len) (borrowed) into *out, which it overwrites (clear it after, also on
 * error). BV_OK; BV_EINVAL when it is not JSON, holds none of data, meta, errors or a problem
 * title, or a member has the wrong type (errstr says which); BV_ELIMIT; BV_ENOMEM. */
int bv_x_rules_parse_change(const char *body, size_t len, bv_x_rules_change *out, char *errstr,
                            size_t errlen);
/* Frees what the change owns and zeroes it (counts back to -1). */
void bv_x_rules_change_clear(bv_x_rules_change *c);

/* ---- the syncer ---- */

typedef struct bv_x_rules bv_x_rules;

typedef struct bv_x_rules_opts {
    const char *stream_url;    /* the filtered stream URL (required); see bv_x_rules_url */
    const char *token;         /* the app-only bearer token (required) */
    const char *const *values; /* the wanted rule values (copied) */
    size_t nvalues;            /* 0..BV_X_RULES_MAX; 0 deletes every rule X holds */
    const char *tag;           /* the tag of the rules added ("blikveld" when NULL) */
    int64_t timeout_ms;        /* per request (0: 30 s) */
} bv_x_rules_opts;

/* How a sync ended. err says what the caller may do:
 * - BV_OK: the rules are the configured ones.
 * - BV_EINVAL: fix the configuration first: X refused the token (401, 403) or a rule value.
 * - BV_EAGAIN: try again later: 429 or 420 (rate_reset says until when, when X said), a 5xx, a
 *   network failure or timeout, or the syncer was freed before the end (cancelled).
 * - BV_ELIMIT: a response larger than BV_X_RULES_BODY_MAX, or more than BV_X_RULES_PAGES_MAX
 *   pages of rules.
 * - BV_ERR: another HTTP status, or a response that is not shaped like X's.
 * - BV_ENOMEM. */
typedef struct bv_x_rules_outcome {
    int err;
    const char *error;  /* NULL when ok, else one line for the log (no token in it) */
    const char *step;   /* the request that ended it: "list", "delete" or "add" */
    long status;        /* HTTP status of that request (0: no response) */
    int64_t rate_reset; /* 429/420: x-rate-limit-reset (unix seconds) when sent, else 0 */
    int cancelled;      /* freed before the end */
    size_t existing;    /* rules X held before */
    size_t deleted;     /* deleted by this sync */
    size_t added;       /* added by this sync (X may have refused others) */
} bv_x_rules_outcome;

/* o and its strings are borrowed for the call. The callback may call bv_x_rules_sync again or
 * bv_x_rules_free (the syncer is freed when the callback returns). */
typedef void bv_x_rules_done_cb(void *arg, const bv_x_rules_outcome *o);

/* A syncer for the options (checked and copied: at most BV_X_RULES_MAX values, each 1 to
 * BV_X_RULE_VALUE_MAX bytes of UTF-8, none repeated). NULL with a message in errstr when they are
 * unusable or memory runs out. Nothing is sent before bv_x_rules_sync. Caller frees. */
bv_x_rules *bv_x_rules_new(bv_curl_loop *cl, const bv_x_rules_opts *o, char *errstr, size_t errlen);
/* Starts a sync on the curl loop. BV_OK, and done(arg, ...) runs exactly once, later, from the
 * loop (or from bv_x_rules_free when the sync is cancelled); BV_EINVAL when a sync is running or
 * the syncer is being freed, BV_ENOMEM or BV_ERR (the transfer could not start): then done never
 * runs. */
int bv_x_rules_sync(bv_x_rules *r, bv_x_rules_done_cb *done, void *arg);
/* 1 while a sync is running. */
int bv_x_rules_running(const bv_x_rules *r);
/* Frees the syncer (NULL is fine). A running sync is stopped and its done callback runs with
 * cancelled set, before this returns. From inside the done callback, the free happens when the
 * callback returns. */
void bv_x_rules_free(bv_x_rules *r);

#endif
