/* book.c: episodes -> alerts, with cooldown and the claim to fire; see book.h. */
#include "alert/book.h"
#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_RULE UINT32_MAX /* a pending claim whose rule a reload removed */

typedef struct episode {
    int firing;
    int has_fired;
    char id[33];
    int64_t fired_at;
} episode;

typedef struct pending {
    bv_book *book;
    bv_alert *alert;
    uint32_t rule; /* index in the book's current set (reloads renumber it), or NO_RULE */
    bv_claim_kind kind;
    int with_entry; /* the claim carries the alert's outbox entry */
    struct pending *next, *prev;
} pending;

struct bv_book {
    const bv_ruleset *rs;
    bv_store *store;
    bv_pipeline *pl;
    char *event, *ns, *claim_ns;
    int drill;
    bv_book_emit_cb *emit;
    void *arg;
    bv_book_outbox_cb *outbox;
    void *outbox_arg;
    episode *eps;
    size_t nrules;
    pending *pend; /* claims under way */
    size_t npend;
    bv_book_stats st;
    int warned_stale; /* a signal came from another rule set than the book's (logged once) */
};

static void on_claim(void *arg, int err, int claimed, const char *winner)
{
    pending *p = arg;
    bv_book *b = p->book;
    if (b) {
        if (p->prev) {
            p->prev->next = p->next;
        } else {
            b->pend = p->next;
        }
        if (p->next) {
            p->next->prev = p->prev;
        }
        b->npend--;
        if (err != 0) {
            /* better twice than never: a store that cannot answer does not silence an alert */
            b->st.claim_errors++;
            bv_log(BV_LOG_WARN, "alerts", "claim for %s failed (%s); sending it anyway",
                   p->alert->id, bv_strerror(err));
            claimed = 1;
        }
        if (claimed) {
            p->alert->in_outbox = err == 0 && p->with_entry;
            b->emit(b->arg, p->alert);
        } else if (p->rule == NO_RULE) {
            b->st.lost_claims++; /* its rule was removed: there is no episode to adopt into */
        } else {
            b->st.lost_claims++;
            episode *ep = &b->eps[p->rule];
            if (p->kind == BV_CLAIM_FIRE && winner && ep->firing &&
                strcmp(ep->id, p->alert->id) == 0 && strlen(winner) < sizeof ep->id) {
                /* another process fired this episode first: resolve it under that id */
                memcpy(ep->id, winner, strlen(winner) + 1);
            }
        }
    }
    bv_alert_free(p->alert);
    free(p);
}

static void claim_and_emit(bv_book *b, bv_alert *a, uint32_t rule, bv_claim_kind kind)
{
    pending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        b->emit(b->arg, a);
        bv_alert_free(a);
        return;
    }
    p->book = b;
    p->alert = a;
    p->rule = rule;
    p->kind = kind;
    p->next = b->pend;
    if (b->pend) {
        b->pend->prev = p;
    }
    b->pend = p;
    b->npend++;
    char scope[512];
    snprintf(scope, sizeof scope, "%s/%s", b->claim_ns, bv_rules_get(b->rs, rule)->id);
    /* claims live a day: longer than any cooldown a team sets for one event */
    bv_claim_outbox ob;
    bv_buf scratch = BV_BUF_INIT;
    memset(&ob, 0, sizeof ob);
    p->with_entry = b->outbox && b->outbox(b->outbox_arg, a, &ob, &scratch) == 0;
    if (bv_store_claim_outbox(b->store, scope, a->id, kind, 86400000, p->with_entry ? &ob : NULL,
                              on_claim, p) != 0) {
        on_claim(p, BV_ERR, 0, NULL);
    }
    bv_buf_free(&scratch);
}

void bv_book_on_signal(void *arg, const bv_signal *s)
{
    bv_book *b = arg;
    if (s->probe) {
        return; /* for charts; never fires or resolves anything */
    }
    if (s->rule >= b->nrules || bv_rules_get(b->rs, s->rule) != s->spec) {
        /* a pipeline reloaded without its book (reload through bv_book_reload) */
        if (!b->warned_stale) {
            b->warned_stale = 1;
            bv_log(BV_LOG_ERROR, "alerts",
                   "signal for rule '%s' of another rule set than the book's: ignored",
                   s->spec ? s->spec->id : "?");
        }
        return;
    }
    episode *ep = &b->eps[s->rule];
    if (!ep->firing && s->holds && !s->final) {
        if (ep->has_fired && s->at_ms - ep->fired_at < s->spec->cooldown_ms) {
            b->st.suppressed++;
            return;
        }
        bv_alert_make_id(b->ns, s->spec->id, s->episode_ms, ep->id);
        ep->firing = 1;
        ep->has_fired = 1;
        ep->fired_at = s->at_ms;
        b->st.fired++;
        if (b->pl) {
            bv_pipeline_set_firing(b->pl, s->rule, 1, s->at_ms);
        }
        bv_alert *a = bv_alert_from_signal(s, BV_ALERT_FIRING, b->event, b->drill, ep->id);
        if (a == NULL) {
            bv_log(BV_LOG_ERROR, "alerts", "out of memory building alert %s", ep->id);
            return;
        }
        claim_and_emit(b, a, s->rule, BV_CLAIM_FIRE);
    } else if (ep->firing && s->final && !s->any_holds) {
        ep->firing = 0;
        b->st.resolved++;
        if (b->pl) {
            bv_pipeline_set_firing(b->pl, s->rule, 0, s->at_ms);
        }
        bv_alert *a = bv_alert_from_signal(s, BV_ALERT_RESOLVED, b->event, b->drill, ep->id);
        if (a == NULL) {
            bv_log(BV_LOG_ERROR, "alerts", "out of memory building alert %s", ep->id);
            return;
        }
        a->since_ms = ep->fired_at;
        claim_and_emit(b, a, s->rule, BV_CLAIM_RESOLVE);
    }
}

bv_book *bv_book_new(const bv_ruleset *rs, bv_store *store, const bv_book_opts *opts,
                     bv_book_emit_cb *emit, void *arg)
{
    bv_book *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    b->rs = rs;
    b->store = store;
    b->nrules = bv_rules_count(rs);
    b->eps = calloc(b->nrules ? b->nrules : 1, sizeof *b->eps);
    b->event = strdup(opts->event ? opts->event : "");
    b->ns = strdup(opts->ns ? opts->ns : "");
    b->claim_ns = strdup(opts->claim_ns ? opts->claim_ns : b->ns ? b->ns : "");
    b->drill = opts->drill;
    b->emit = emit;
    b->arg = arg;
    b->outbox = opts->outbox;
    b->outbox_arg = opts->outbox_arg;
    if (!b->eps || !b->event || !b->ns || !b->claim_ns) {
        goto fail;
    }
    return b;
fail:
    bv_book_free(b);
    return NULL;
}

void bv_book_set_outbox(bv_book *b, bv_book_outbox_cb *cb, void *arg)
{
    b->outbox = cb;
    b->outbox_arg = arg;
}

void bv_book_attach(bv_book *b, bv_pipeline *pl)
{
    b->pl = pl;
}

size_t bv_book_pending(const bv_book *b)
{
    return b->npend;
}

void bv_book_stats_get(const bv_book *b, bv_book_stats *out)
{
    *out = b->st;
    out->firing_now = 0;
    for (size_t i = 0; i < b->nrules; i++) {
        out->firing_now += b->eps[i].firing != 0;
    }
}

int bv_book_reload(bv_book *b, const bv_ruleset *rs, bv_pipeline_reload_stats *out, char *errstr,
                   size_t errlen)
{
    bv_pipeline_reload_stats st;
    memset(&st, 0, sizeof st);
    if (out) {
        *out = st;
    }
    size_t n = bv_rules_count(rs);
    episode *eps = rs == b->rs ? NULL : calloc(n ? n : 1, sizeof *eps);
    if (rs != b->rs && eps == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return BV_ENOMEM;
    }
    /* the pipeline first: it may refuse (evaluations under way, a series that cannot grow) */
    if (b->pl) {
        int rc = bv_pipeline_reload(b->pl, rs, &st, errstr, errlen);
        if (rc != BV_OK) {
            free(eps);
            return rc;
        }
    }
    if (rs == b->rs) {
        st.kept = n;
        st.changed = st.added = st.removed = st.removed_firing = 0;
        if (out) {
            *out = st;
        }
        return BV_OK;
    }
    /* nothing fails from here on: episodes follow their rule id */
    size_t kept = 0, changed = 0, added = 0, removed = 0, removed_firing = 0;
    for (size_t i = 0; i < n; i++) {
        const bv_rule *nr = bv_rules_get(rs, i);
        long o = bv_rules_find(b->rs, nr->id);
        if (o < 0) {
            added++;
            continue;
        }
        const bv_rule *orule = bv_rules_get(b->rs, (size_t)o);
        if (memcmp(nr->fingerprint, orule->fingerprint, sizeof nr->fingerprint) == 0) {
            kept++;
        } else {
            changed++;
        }
        eps[i] = b->eps[o];
    }
    for (size_t i = 0; i < b->nrules; i++) {
        const bv_rule *orule = bv_rules_get(b->rs, i);
        if (bv_rules_find(rs, orule->id) >= 0) {
            continue;
        }
        removed++;
        if (b->eps[i].firing) {
            removed_firing++;
            b->st.removed_firing++;
            bv_log(BV_LOG_WARN, "alerts",
                   "rule '%s' removed while firing (alert %s): no resolved notice will follow",
                   orule->id, b->eps[i].id);
        }
    }
    for (pending *p = b->pend; p; p = p->next) {
        if (p->rule != NO_RULE) {
            long ni = bv_rules_find(rs, bv_rules_get(b->rs, p->rule)->id);
            p->rule = ni < 0 ? NO_RULE : (uint32_t)ni;
        }
    }
    free(b->eps);
    b->eps = eps;
    b->rs = rs;
    b->nrules = n;
    b->warned_stale = 0;
    st.kept = kept;
    st.changed = changed;
    st.added = added;
    st.removed = removed;
    st.removed_firing = removed_firing;
    if (out) {
        *out = st;
    }
    return BV_OK;
}

void bv_book_free(bv_book *b)
{
    if (b == NULL) {
        return;
    }
    /* claims still under way answer later (or at store teardown) into nothing */
    for (pending *p = b->pend; p; p = p->next) {
        p->book = NULL;
    }
    free(b->eps);
    free(b->event);
    free(b->ns);
    free(b->claim_ns);
    free(b);
}
