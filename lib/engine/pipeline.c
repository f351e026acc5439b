/* pipeline.c: post -> watermark -> normalise -> match -> count -> detectors -> signals.
 * Evaluations are jobs: one store read per detector, then a signal; see pipeline.h. A reload
 * builds the per-rule state of the new set beside the old one and swaps only when all of it is
 * there, so a failure changes nothing. */
#include "engine/pipeline.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "engine/seen.h"
#include "engine/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING 32   /* recent matching posts kept per rule, for samples */
#define PRING 256 /* recent matching posts that name places, kept per rule */
#define PPOST 4   /* places kept per post */

typedef struct pnamed {
    int64_t t; /* event time */
    uint8_t n;
    uint32_t e[PPOST]; /* gazetteer entries */
} pnamed;

typedef struct job job;

typedef struct job_read {
    job *j;
    size_t det;
} job_read;

enum { JOB_LIVE = 0, JOB_FINAL, JOB_PROBE, JOB__N };

/* An evaluation under way. Each rule owns up to three, allocated once: a live one (on a
 * matching post), a final one (on a bucket boundary while firing) and, with probes, a probe
 * (on a probe boundary while not firing); a rule never needs two of a kind at once, because a
 * post is pushed only when the previous one is done. */
struct job {
    bv_pipeline *pl;
    uint32_t rule;
    int kind; /* JOB_LIVE, JOB_FINAL or JOB_PROBE */
    int busy;
    int64_t at_ms; /* live: post time; final, probe: boundary - 1 */
    int64_t boundary;
    size_t pending;
    int err;
    uint64_t **counts;  /* per detector: its span of buckets */
    uint64_t **authors; /* per detector: distinct authors per group, or NULL */
    int *warm;
    job_read *reads;
};

typedef struct rule_state {
    uint32_t *series;   /* per detector */
    size_t ndet;        /* the rule's detectors: the length of series and of the jobs' arrays */
    int64_t min_bucket; /* the smallest bucket of its detectors */
    int firing;
    int64_t next_final; /* the next boundary to evaluate while firing */
    int64_t probe_step; /* probes: at the multiples of this (0: never) */
    int64_t next_probe; /* the next boundary to probe; INT64_MAX before the first post */
    job jobs[JOB__N];   /* the probe job is allocated only with probe_ms */
    bv_sample ring[RING];
    char *ring_mem[RING]; /* one block per sample: id, url and text; reused */
    size_t ring_cap[RING];
    int ring_cut[RING]; /* the text was longer than what the block keeps */
    size_t ring_head, ring_n;
    pnamed *pring; /* PRING, allocated on first use */
    size_t pring_head, pring_n;
} rule_state;

/* A bv_pipeline_when_idle callback waiting. */
typedef struct idle_wait {
    void (*cb)(void *arg);
    void *arg;
    struct idle_wait *next;
} idle_wait;

/* A series this pipeline registered in the store, and what it asked for: the store keeps what
 * it was first told, so a reload must not ask for more. */
typedef struct series_reg {
    char *key;
    int64_t bucket_ms, keep_ms;
    int authors;
    uint32_t id;
} series_reg;

struct bv_pipeline {
    const bv_ruleset *rs;
    bv_store *store;
    bv_pipeline_opts opts;
    char *ns; /* opts.ns, copied (reloads register series under it) */
    series_reg *sreg;
    size_t nsreg, capsreg;
    bv_signal_cb *cb;
    void *cbarg;
    size_t nrules;
    rule_state *rules;
    bv_matcher *matcher;
    bv_seen *seen; /* recent ids of matching posts, for duplicates */
    uint32_t *hits;
    uint64_t *matches;
    bv_buf norm;
    bv_pipeline_stats st;
    int finishing;
    size_t outstanding; /* jobs under way */
    size_t nfiring;     /* rules firing now (final evaluations to schedule) */
    uint32_t *firing;   /* their indices, nfiring of them */
    int64_t min_due;    /* no final evaluation can start before the watermark reaches this */
    int64_t probe_due;  /* no probe can start before the watermark reaches this */
    int sched_dirty;    /* the firing set or a final evaluation changed: look again */
    bv_done_cb *done;
    void *donearg;
    struct idle_wait *idle; /* bv_pipeline_when_idle, oldest first */
    int in_call;            /* inside push, advance or finish */
    bv_det_eval *evals;     /* scratch, max detectors per rule */
    size_t maxdet;
    const bv_gazetteer *places; /* the rule set's, or NULL */
    bv_place_count placec[BV_SIGNAL_PLACES_MAX];
};

#define RAW_MAX (2 * BV_EXCERPT_MAX) /* bytes of text kept per sample, before collapsing */

/* Empties slot i (its block stays for reuse). */
static void sample_clear(rule_state *r, size_t i)
{
    memset(&r->ring[i], 0, sizeof r->ring[i]);
}

/* Turns the kept text into the excerpt, in place: whitespace collapsed, at most BV_EXCERPT_MAX
 * bytes cut at a UTF-8 boundary, an ellipsis when anything was cut (the block has room). */
static void make_excerpt(char *s, int cut)
{
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; s[i] && o < BV_EXCERPT_MAX; i++) {
        char c = s[i];
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            space = o > 0;
            continue;
        }
        if (space) {
            s[o++] = ' ';
            space = 0;
            if (o >= BV_EXCERPT_MAX) {
                break;
            }
        }
        s[o++] = c;
        if (o >= BV_EXCERPT_MAX && s[i + 1]) {
            cut = 1;
        }
    }
    if (cut) {
        while (o > 0 && ((unsigned char)s[o - 1] & 0xC0) == 0x80) {
            o--;
        }
        if (o > 0 && ((unsigned char)s[o - 1] & 0x80)) {
            o--; /* a lead byte whose continuation was cut */
        }
        memcpy(s + o, "\xe2\x80\xa6", 3);
        o += 3;
    }
    s[o] = '\0';
}

static void ring_add(rule_state *r, const bv_post *p)
{
    size_t i = r->ring_head;
    sample_clear(r, i);
    const char *id = p->id ? p->id : "";
    const char *url = p->url ? p->url : "";
    const char *text = p->text ? p->text : "";
    size_t il = strlen(id), ul = strlen(url), tl = strnlen(text, RAW_MAX + 1);
    int cut = tl > RAW_MAX;
    if (cut) {
        tl = RAW_MAX;
    }
    size_t need = il + ul + tl + 8;
    if (r->ring_cap[i] < need) {
        char *nm = realloc(r->ring_mem[i], need < 512 ? 512 : need);
        if (nm == NULL) {
            return; /* a sample less; counting is unaffected */
        }
        r->ring_mem[i] = nm;
        r->ring_cap[i] = need < 512 ? 512 : need;
    }
    char *m = r->ring_mem[i];
    memcpy(m, id, il + 1);
    memcpy(m + il + 1, url, ul + 1);
    memcpy(m + il + ul + 2, text, tl);
    m[il + ul + 2 + tl] = '\0';
    bv_sample *s = &r->ring[i];
    s->platform = p->platform;
    s->created_ms = p->created_ms;
    memcpy(s->author, p->author, BV_PSEUDO_LEN);
    s->id = m;
    s->url = p->url ? m + il + 1 : NULL;
    s->excerpt = NULL; /* made when first picked */
    r->ring_cut[i] = cut;
    r->ring_head = (r->ring_head + 1) % RING;
    if (r->ring_n < RING) {
        r->ring_n++;
    }
}

static void ring_delete(rule_state *r, bv_platform platform, const char *id)
{
    for (size_t i = 0; i < RING; i++) {
        bv_sample *s = &r->ring[i];
        if (s->id && s->platform == platform && strcmp(s->id, id) == 0) {
            sample_clear(r, i); /* a hole: skipped by samples */
        }
    }
}

/* Up to BV_SAMPLES_MAX samples of distinct authors, newest first, not newer than at_ms. */
static size_t pick_samples(rule_state *r, int64_t at_ms, const bv_sample **out)
{
    const bv_sample *cand[RING];
    size_t nc = 0;
    for (size_t k = 0; k < r->ring_n; k++) {
        const bv_sample *s = &r->ring[(r->ring_head + RING - 1 - k) % RING];
        if (s->id && s->created_ms <= at_ms) {
            cand[nc++] = s;
        }
    }
    /* newest first by event time (the ring is in arrival order), stable */
    for (size_t i = 1; i < nc; i++) {
        const bv_sample *x = cand[i];
        size_t j = i;
        while (j > 0 && cand[j - 1]->created_ms < x->created_ms) {
            cand[j] = cand[j - 1];
            j--;
        }
        cand[j] = x;
    }
    size_t n = 0;
    for (size_t i = 0; i < nc && n < BV_SAMPLES_MAX; i++) {
        int dup = 0;
        for (size_t k = 0; k < n; k++) {
            dup |= memcmp(out[k]->author, cand[i]->author, BV_PSEUDO_LEN) == 0;
        }
        if (!dup) {
            bv_sample *s = (bv_sample *)cand[i];
            if (s->excerpt == NULL) {
                size_t k = (size_t)(s - r->ring);
                char *text = s->id + strlen(s->id) + 1;
                text += strlen(text) + 1;
                make_excerpt(text, r->ring_cut[k]);
                s->excerpt = text;
            }
            out[n++] = s;
        }
    }
    return n;
}

/* Remembers the places a matching post names, for the rule's alerts. */
static void pring_add(rule_state *r, int64_t t, const uint32_t *e, size_t n)
{
    if (n == 0) {
        return;
    }
    if (r->pring == NULL && (r->pring = calloc(PRING, sizeof *r->pring)) == NULL) {
        return; /* places unlisted; counting is unaffected */
    }
    pnamed *x = &r->pring[r->pring_head];
    x->t = t;
    x->n = (uint8_t)(n < PPOST ? n : PPOST);
    memcpy(x->e, e, x->n * sizeof *e);
    r->pring_head = (r->pring_head + 1) % PRING;
    if (r->pring_n < PRING) {
        r->pring_n++;
    }
}

static int by_count(const void *a, const void *b)
{
    const bv_place_count *x = a, *y = b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

/* 1 when another place named in the window (not the entry self) is the municipality or
 * province of home h: "Katwijk" does not say which Katwijk by itself. */
static int named_home(const bv_gazetteer *g, const uint32_t *named, size_t n, uint32_t self,
                      const bv_place_home *h)
{
    for (size_t i = 0; i < n; i++) {
        if (named[i] == self) {
            continue;
        }
        const bv_place *p = bv_gazetteer_get(g, named[i]);
        const char *nm = p->official ? p->official : p->name;
        if (((p->kinds & BV_PLACE_MUNICIPALITY) || (p->kinds & BV_PLACE_ALIAS)) &&
            strcmp(nm, h->municipality) == 0) {
            return 1;
        }
        if ((p->kinds & BV_PLACE_PROVINCE) && strcmp(nm, h->province) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The places the rule's matching posts of (from_ms, at_ms] name, most named first. An
 * ambiguous name is placed only when the window also names the municipality or province of
 * exactly one of its places. */
static size_t pick_places(bv_pipeline *pl, rule_state *r, int64_t from_ms, int64_t at_ms)
{
    if (pl->places == NULL || r->pring_n == 0) {
        return 0;
    }
    uint32_t named[PRING * PPOST];
    uint32_t cnt[PRING * PPOST];
    size_t nn = 0;
    for (size_t k = 0; k < r->pring_n; k++) {
        const pnamed *x = &r->pring[(r->pring_head + PRING - 1 - k) % PRING];
        if (x->t <= from_ms || x->t > at_ms) {
            continue;
        }
        for (uint8_t q = 0; q < x->n; q++) {
            size_t f = 0;
            while (f < nn && named[f] != x->e[q]) {
                f++;
            }
            if (f == nn) {
                named[nn] = x->e[q];
                cnt[nn++] = 0;
            }
            cnt[f]++;
        }
    }
    bv_place_count all[PRING * PPOST];
    for (size_t i = 0; i < nn; i++) {
        const bv_place *p = bv_gazetteer_get(pl->places, named[i]);
        all[i] = (bv_place_count){.name = p->name, .count = cnt[i], .place = p};
        if (p->nhomes == 1) {
            all[i].home = &p->homes[0];
        } else if (p->nhomes > 1) {
            const bv_place_home *only = NULL;
            int several = 0;
            for (size_t h = 0; h < p->nhomes; h++) {
                if (named_home(pl->places, named, nn, named[i], &p->homes[h])) {
                    several |= only != NULL;
                    only = &p->homes[h];
                }
            }
            all[i].home = several ? NULL : only;
        }
    }
    qsort(all, nn, sizeof *all, by_count);
    size_t n = nn < BV_SIGNAL_PLACES_MAX ? nn : BV_SIGNAL_PLACES_MAX;
    memcpy(pl->placec, all, n * sizeof *all);
    return n;
}

static void job_release(job *j)
{
    j->busy = 0;
}

static void job_destroy(job *j, size_t ndet)
{
    for (size_t d = 0; d < ndet; d++) {
        free(j->counts ? j->counts[d] : NULL);
        free(j->authors ? j->authors[d] : NULL);
    }
    free(j->counts);
    free(j->authors);
    free(j->warm);
    free(j->reads);
}

/* Allocates a job's arrays once, for the rule's detectors. */
static int job_init(job *j, bv_pipeline *pl, const bv_rule *r, uint32_t rule, int kind)
{
    size_t n = r->ndetectors ? r->ndetectors : 1;
    j->pl = pl;
    j->rule = rule;
    j->kind = kind;
    j->counts = calloc(n, sizeof *j->counts);
    j->authors = calloc(n, sizeof *j->authors);
    j->warm = calloc(n, sizeof *j->warm);
    j->reads = calloc(n, sizeof *j->reads);
    if (!j->counts || !j->authors || !j->warm || !j->reads) {
        return BV_ENOMEM;
    }
    for (size_t d = 0; d < r->ndetectors; d++) {
        size_t span = bv_det_span(&r->detectors[d]);
        size_t group = bv_det_author_group(&r->detectors[d]);
        j->counts[d] = calloc(span, sizeof(uint64_t));
        if (group) {
            j->authors[d] = calloc(span / group, sizeof(uint64_t));
        }
        if (j->counts[d] == NULL || (group && j->authors[d] == NULL)) {
            return BV_ENOMEM;
        }
        j->reads[d].j = j;
        j->reads[d].det = d;
    }
    return BV_OK;
}

static void schedule_finals(bv_pipeline *pl);

/* Runs the bv_pipeline_when_idle callbacks while the pipeline is idle. */
static void run_idle(bv_pipeline *pl)
{
    while (pl->outstanding == 0 && !pl->in_call && pl->idle) {
        idle_wait *w = pl->idle;
        pl->idle = w->next;
        void (*cb)(void *) = w->cb;
        void *arg = w->arg;
        free(w);
        cb(arg);
    }
}

static void job_finished(bv_pipeline *pl)
{
    pl->outstanding--;
    if (pl->sched_dirty) {
        schedule_finals(pl);
    }
    if (pl->outstanding == 0) {
        /* the waiters first (a reload), then done: its caller may push the next post at once */
        bv_done_cb *done = pl->done;
        void *donearg = pl->donearg;
        pl->done = NULL;
        run_idle(pl);
        if (done) {
            done(donearg);
        }
    }
}

static void job_complete(job *j)
{
    bv_pipeline *pl = j->pl;
    const bv_rule *r = bv_rules_get(pl->rs, j->rule);
    rule_state *rs = &pl->rules[j->rule];
    int final = j->kind == JOB_FINAL, probe = j->kind == JOB_PROBE;
    if (final) {
        rs->next_final = j->boundary + rs->min_bucket;
        pl->sched_dirty = 1;
    }
    if (j->err == 0) {
        int all = 1, any = 0;
        for (size_t d = 0; d < r->ndetectors; d++) {
            bv_det_evaluate(&r->detectors[d], j->counts[d], j->authors[d], j->warm[d],
                            &pl->evals[d]);
            all &= pl->evals[d].holds;
            any |= pl->evals[d].holds;
        }
        const bv_sample *samples[BV_SAMPLES_MAX];
        bv_signal sig = {
            .rule = j->rule,
            .spec = r,
            .holds = r->require_any ? any : all,
            .any_holds = any,
            .final = final,
            .probe = probe,
            .at_ms = j->kind == JOB_LIVE ? j->at_ms : j->boundary,
            .episode_ms = bv_bucket_start(j->at_ms, rs->min_bucket),
            .evals = pl->evals,
            .nevals = r->ndetectors,
        };
        /* samples and places only where the book makes an alert (book.h): a rule that is not
         * firing holds on a post, or a firing one holds no more at a bucket's end. Not for the
         * final evaluations of a rule still firing: nine in ten holding signals of a replay */
        if ((!rs->firing && !final && !probe && sig.holds) ||
            (rs->firing && final && !sig.any_holds)) {
            sig.nsamples = pick_samples(rs, j->at_ms, samples);
            int64_t win = 0;
            for (size_t d = 0; d < r->ndetectors; d++) {
                win = r->detectors[d].window_ms > win ? r->detectors[d].window_ms : win;
            }
            sig.nplaces = pick_places(pl, rs, sig.at_ms - win, sig.at_ms);
        }
        sig.samples = samples;
        sig.places = pl->placec;
        pl->st.probes += (uint64_t)probe;
        pl->cb(pl->cbarg, &sig);
    }
    job_release(j);
    job_finished(pl);
}

static void on_read(void *arg, int err, const bv_series_read *res)
{
    job_read *jr = arg;
    job *j = jr->j;
    if (err != 0 || res == NULL) {
        j->err = err ? err : BV_ERR;
    } else {
        memcpy(j->counts[jr->det], res->counts, res->nbuckets * sizeof(uint64_t));
        if (res->authors && j->authors[jr->det]) {
            memcpy(j->authors[jr->det], res->authors, res->ngroups * sizeof(uint64_t));
        }
    }
    if (--j->pending == 0) {
        job_complete(j);
    }
}

/* Starts an evaluation of rule at event time at_ms (final, probe: of the bucket ending at
 * boundary). */
static int start_job(bv_pipeline *pl, uint32_t rule, int kind, int64_t at_ms, int64_t boundary)
{
    const bv_rule *r = bv_rules_get(pl->rs, rule);
    job *j = &pl->rules[rule].jobs[kind];
    if (j->busy) {
        return BV_EAGAIN; /* cannot happen while pushes wait for done */
    }
    j->busy = 1;
    j->err = 0;
    j->at_ms = at_ms;
    j->boundary = boundary;
    pl->outstanding++;
    j->pending = r->ndetectors;
    for (size_t d = 0; d < r->ndetectors; d++) {
        const bv_detector_spec *ds = &r->detectors[d];
        size_t span = bv_det_span(ds);
        int64_t cur = bv_bucket_start(at_ms, ds->bucket_ms);
        int64_t from = cur - (int64_t)(span - 1) * ds->bucket_ms;
        j->warm[d] =
            pl->st.first_ms != INT64_MIN && bv_bucket_start(pl->st.first_ms, ds->bucket_ms) <= from;
        int rc = bv_store_read(pl->store, pl->rules[rule].series[d], from, span,
                               bv_det_author_group(ds), on_read, &j->reads[d]);
        if (rc != 0) {
            /* the reads already issued will answer; account for the ones that will not */
            j->err = rc;
            j->pending -= r->ndetectors - d;
            if (j->pending == 0) {
                job_complete(j);
            }
            return rc;
        }
    }
    return BV_OK;
}

/* The boundary up to which buckets are final for this rule. */
static int64_t final_limit(const bv_pipeline *pl, const rule_state *rs)
{
    if (pl->st.max_ms == INT64_MIN) {
        return INT64_MIN;
    }
    if (pl->finishing) {
        return bv_bucket_start(pl->st.max_ms, rs->min_bucket) + rs->min_bucket;
    }
    return bv_bucket_start(pl->st.watermark_ms, rs->min_bucket);
}

/* Starts the final evaluations that are due, and notes when the next one can be: a boundary
 * is due once the watermark reaches it (boundaries are multiples of the rule's bucket). */
static void schedule_finals(bv_pipeline *pl)
{
    pl->sched_dirty = 0;
    for (size_t k = 0; k < pl->nfiring; k++) {
        uint32_t i = pl->firing[k];
        rule_state *rs = &pl->rules[i];
        if (rs->firing && !rs->jobs[JOB_FINAL].busy && rs->next_final <= final_limit(pl, rs)) {
            start_job(pl, i, JOB_FINAL, rs->next_final - 1, rs->next_final);
        }
    }
    pl->min_due = INT64_MAX;
    for (size_t k = 0; k < pl->nfiring; k++) {
        const rule_state *rs = &pl->rules[pl->firing[k]];
        if (!rs->jobs[JOB_FINAL].busy && rs->next_final < pl->min_due) {
            pl->min_due = rs->next_final; /* busy ones mark the schedule dirty when done */
        }
    }
}

void bv_pipeline_set_firing(bv_pipeline *pl, uint32_t rule, int firing, int64_t at_ms)
{
    if (rule >= pl->nrules) {
        return;
    }
    rule_state *rs = &pl->rules[rule];
    if (firing && !rs->firing) {
        rs->next_final = bv_bucket_start(at_ms, rs->min_bucket) + rs->min_bucket;
        pl->firing[pl->nfiring++] = rule;
    } else if (!firing && rs->firing) {
        for (size_t k = 0; k < pl->nfiring; k++) {
            if (pl->firing[k] == rule) {
                pl->firing[k] = pl->firing[--pl->nfiring];
                break;
            }
        }
    }
    rs->firing = firing;
    pl->sched_dirty = 1;
}

/* The first multiple of step at or after t. */
static int64_t align_up(int64_t t, int64_t step)
{
    return bv_bucket_start(t - 1, step) + step;
}

/* The first probe boundary of a rule once posts have come: after the first post and after the
 * watermark (a boundary already passed is not probed late). */
static int64_t first_probe(const bv_pipeline *pl, const rule_state *rs)
{
    if (rs->probe_step == 0 || pl->st.first_ms == INT64_MIN) {
        return INT64_MAX;
    }
    int64_t t = pl->st.first_ms;
    if (pl->st.watermark_ms > t) {
        t = pl->st.watermark_ms;
    }
    return bv_bucket_start(t, rs->probe_step) + rs->probe_step;
}

static void probe_due_update(bv_pipeline *pl)
{
    pl->probe_due = INT64_MAX;
    for (size_t i = 0; i < pl->nrules; i++) {
        if (pl->rules[i].next_probe < pl->probe_due) {
            pl->probe_due = pl->rules[i].next_probe;
        }
    }
}

/* Starts the probes that are due: for each rule whose next probe boundary the watermark has
 * passed, one probe at the last boundary passed (those in between are skipped, so a jump of an
 * hour costs one probe per rule, not sixty); none for a firing rule (it has final evaluations)
 * or one whose previous probe is still under way. */
static void schedule_probes(bv_pipeline *pl)
{
    int64_t wm = pl->st.watermark_ms;
    for (uint32_t i = 0; i < pl->nrules; i++) {
        rule_state *rs = &pl->rules[i];
        if (rs->next_probe > wm) {
            continue;
        }
        int64_t b = bv_bucket_start(wm, rs->probe_step);
        rs->next_probe = b + rs->probe_step;
        if (!rs->firing && !rs->jobs[JOB_PROBE].busy) {
            start_job(pl, i, JOB_PROBE, b - 1, b);
        }
    }
    probe_due_update(pl);
}

static int begin(bv_pipeline *pl, bv_done_cb *done, void *arg)
{
    if (pl->sched_dirty || pl->finishing || pl->st.watermark_ms >= pl->min_due) {
        schedule_finals(pl);
    }
    if (pl->opts.probe_ms > 0 && pl->st.watermark_ms >= pl->probe_due) {
        schedule_probes(pl);
    }
    if (pl->outstanding == 0) {
        return 1;
    }
    pl->done = done;
    pl->donearg = arg;
    return 0;
}

static int push_post(bv_pipeline *pl, bv_post *post, bv_done_cb *done, void *arg)
{
    if (post->kind == BV_POST_DELETE) {
        pl->st.deletes[post->platform]++;
        for (uint32_t i = 0; i < pl->nrules && post->id; i++) {
            ring_delete(&pl->rules[i], post->platform, post->id);
        }
        bv_post_clear(post);
        return 1;
    }
    int64_t t = post->created_ms;
    /* a post claiming to come from the future is clamped to when it was received; without a
     * receive time, to now: one forged date must not drag the watermark years ahead */
    int64_t received = post->received_ms > 0 ? post->received_ms
                       : pl->opts.clock      ? bv_now_ms(pl->opts.clock)
                                             : INT64_MAX;
    if (t > received) {
        t = received;
        post->created_ms = t;
        pl->st.clamped++;
    }
    pl->st.posts[post->platform]++;
    if (pl->opts.receive_watermark && post->received_ms > 0 && pl->st.max_ms != INT64_MIN &&
        post->received_ms - pl->opts.lateness_ms > pl->st.watermark_ms) {
        pl->st.watermark_ms = post->received_ms - pl->opts.lateness_ms;
    }
    int late = pl->st.max_ms != INT64_MIN && t < pl->st.watermark_ms;
    if (late) {
        pl->st.late++;
    }
    if (pl->st.first_ms == INT64_MIN && pl->opts.probe_ms > 0) {
        pl->st.first_ms = t; /* probes start after the first post */
        for (size_t i = 0; i < pl->nrules; i++) {
            pl->rules[i].next_probe = first_probe(pl, &pl->rules[i]);
        }
        probe_due_update(pl);
    }
    if (pl->st.first_ms == INT64_MIN || t < pl->st.first_ms) {
        pl->st.first_ms = t;
    }
    if (pl->st.max_ms == INT64_MIN || t > pl->st.max_ms) {
        pl->st.max_ms = t;
        if (t - pl->opts.lateness_ms > pl->st.watermark_ms) {
            pl->st.watermark_ms = t - pl->opts.lateness_ms;
        }
    }
    int rc = bv_text_normalise(post->text ? post->text : "", post->text ? strlen(post->text) : 0,
                               &pl->norm);
    int nhits = rc == 0 ? bv_match(pl->matcher, post, pl->norm.p, pl->norm.len, pl->hits) : rc;
    if (nhits < 0) {
        bv_post_clear(post);
        return nhits;
    }
    const uint32_t *places = NULL;
    size_t nplaces = nhits > 0 ? bv_match_places(pl->matcher, &places) : 0;
    if (nhits > 0 && post->id) {
        int dup = bv_seen_check(pl->seen, post->platform, post->id, pl->st.max_ms);
        if (dup == 1) {
            pl->st.duplicates++;
            bv_post_clear(post);
            return begin(pl, done, arg);
        }
    }
    for (int h = 0; h < nhits; h++) {
        uint32_t ri = pl->hits[h];
        pl->matches[ri]++;
        if (late) {
            continue;
        }
        const bv_rule *r = bv_rules_get(pl->rs, ri);
        rule_state *rs = &pl->rules[ri];
        for (size_t d = 0; d < r->ndetectors; d++) {
            /* detectors sharing a series count once */
            int seen = 0;
            for (size_t e = 0; e < d; e++) {
                seen |= rs->series[e] == rs->series[d];
            }
            if (!seen) {
                bv_store_add(pl->store, rs->series[d], t, 1,
                             post->has_author ? post->author : NULL);
            }
        }
        ring_add(rs, post);
        pring_add(rs, t, places, nplaces);
        if (!rs->firing) {
            start_job(pl, ri, JOB_LIVE, t, 0);
        }
    }
    bv_post_clear(post);
    return begin(pl, done, arg);
}

/* The end of push, advance and finish: the bv_pipeline_when_idle callbacks run only here or
 * from a store callback, never in the middle of a call (a reload would pull the rule set away
 * from under it). */
static int leave(bv_pipeline *pl, int rc)
{
    pl->in_call = 0;
    run_idle(pl);
    return rc;
}

int bv_pipeline_push(bv_pipeline *pl, bv_post *post, bv_done_cb *done, void *arg)
{
    pl->in_call = 1;
    return leave(pl, push_post(pl, post, done, arg));
}

int bv_pipeline_advance(bv_pipeline *pl, int64_t now_ms, bv_done_cb *done, void *arg)
{
    pl->in_call = 1;
    if (pl->st.max_ms != INT64_MIN && now_ms - pl->opts.lateness_ms > pl->st.watermark_ms) {
        pl->st.watermark_ms = now_ms - pl->opts.lateness_ms;
    }
    return leave(pl, begin(pl, done, arg));
}

int bv_pipeline_finish(bv_pipeline *pl, bv_done_cb *done, void *arg)
{
    pl->in_call = 1;
    pl->finishing = 1;
    if (pl->st.max_ms != INT64_MIN && pl->st.max_ms > pl->st.watermark_ms) {
        pl->st.watermark_ms = pl->st.max_ms;
    }
    return leave(pl, begin(pl, done, arg));
}

void bv_pipeline_stats_get(const bv_pipeline *pl, bv_pipeline_stats *out)
{
    *out = pl->st;
    out->matches = pl->matches;
}

const bv_ruleset *bv_pipeline_rules(const bv_pipeline *pl)
{
    return pl->rs;
}

int bv_pipeline_when_idle(bv_pipeline *pl, void (*cb)(void *arg), void *arg)
{
    idle_wait *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return BV_ENOMEM;
    }
    w->cb = cb;
    w->arg = arg;
    idle_wait **tail = &pl->idle;
    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = w;
    run_idle(pl);
    return BV_OK;
}

/* ---- per-rule state: made for a new pipeline and for each rule of a reloaded set ---- */

/* The store series of key for this pipeline. The store answers a second registration of a key
 * with the series it has, as it was first registered: one that would need more buckets kept or
 * distinct authors where none are counted is refused (reads of it would fail). */
static int series_get(bv_pipeline *pl, const bv_rule *r, const char *key, int64_t bucket_ms,
                      int64_t keep_ms, int authors, uint32_t *id, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < pl->nsreg; i++) {
        series_reg *g = &pl->sreg[i];
        if (strcmp(g->key, key) != 0) {
            continue;
        }
        char b1[32], b2[32], b3[32];
        if (keep_ms > g->keep_ms) {
            snprintf(errstr, errlen,
                     "rule '%s': its windows on %s buckets now need %s of counts, and the store "
                     "keeps %s for it (a series cannot grow while running): give the rule a "
                     "new id to start it afresh, or restart",
                     r->id, bv_duration_format(bucket_ms, b1), bv_duration_format(keep_ms, b2),
                     bv_duration_format(g->keep_ms, b3));
            return BV_EINVAL;
        }
        if (authors && !g->authors) {
            snprintf(errstr, errlen,
                     "rule '%s': it now counts distinct authors on %s buckets, which the store "
                     "does not keep for it (a series cannot grow while running): give the rule "
                     "a new id to start it afresh, or restart",
                     r->id, bv_duration_format(bucket_ms, b1));
            return BV_EINVAL;
        }
        *id = g->id;
        return BV_OK;
    }
    if (pl->nsreg == pl->capsreg) {
        size_t nc = pl->capsreg ? pl->capsreg * 2 : 16;
        series_reg *ns = realloc(pl->sreg, nc * sizeof *ns);
        if (ns == NULL) {
            snprintf(errstr, errlen, "out of memory");
            return BV_ENOMEM;
        }
        pl->sreg = ns;
        pl->capsreg = nc;
    }
    series_reg *g = &pl->sreg[pl->nsreg];
    memset(g, 0, sizeof *g);
    if ((g->key = strdup(key)) == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return BV_ENOMEM;
    }
    int rc = bv_store_series(pl->store, key, bucket_ms, keep_ms, authors, &g->id);
    if (rc != 0) {
        snprintf(errstr, errlen, "store: cannot register series %s", key);
        free(g->key);
        return rc;
    }
    g->bucket_ms = bucket_ms;
    g->keep_ms = keep_ms;
    g->authors = authors;
    *id = g->id;
    pl->nsreg++;
    return BV_OK;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b != 0) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The boundaries a rule is probed at: the multiples of probe_ms that are boundaries of all its
 * buckets, so every bucket a probe reads is final (0: not probed; also when that step would not
 * fit in int64). */
static int64_t probe_step(int64_t probe_ms, const bv_rule *r)
{
    if (probe_ms <= 0) {
        return 0;
    }
    int64_t step = probe_ms;
    for (size_t d = 0; d < r->ndetectors; d++) {
        int64_t m = r->detectors[d].bucket_ms / gcd64(step, r->detectors[d].bucket_ms);
        if (step > INT64_MAX / 4 / m) {
            return 0;
        }
        step *= m;
    }
    return step;
}

static void rule_state_free(rule_state *st)
{
    free(st->series);
    free(st->pring);
    for (int k = 0; k < JOB__N; k++) {
        job_destroy(&st->jobs[k], st->ndet);
    }
    for (size_t k = 0; k < RING; k++) {
        free(st->ring_mem[k]);
    }
    memset(st, 0, sizeof *st);
}

/* The state of rule r (index i of the set) with nothing counted yet: its series (one per
 * bucket size, kept long enough for every detector on it) and its jobs. Half-built on failure:
 * rule_state_free takes it. */
static int rule_init(bv_pipeline *pl, const bv_rule *r, uint32_t i, rule_state *st, char *errstr,
                     size_t errlen)
{
    st->ndet = r->ndetectors;
    st->min_bucket = INT64_MAX;
    st->next_probe = INT64_MAX;
    st->series = calloc(r->ndetectors ? r->ndetectors : 1, sizeof *st->series);
    if (st->series == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return BV_ENOMEM;
    }
    for (size_t d = 0; d < r->ndetectors; d++) {
        const bv_detector_spec *ds = &r->detectors[d];
        if (ds->bucket_ms < st->min_bucket) {
            st->min_bucket = ds->bucket_ms;
        }
        int64_t keep = 0;
        int authors = 0;
        for (size_t e = 0; e < r->ndetectors; e++) {
            const bv_detector_spec *es = &r->detectors[e];
            if (es->bucket_ms == ds->bucket_ms) {
                int64_t k = (int64_t)bv_det_span(es) * es->bucket_ms;
                keep = k > keep ? k : keep;
                authors |= bv_det_author_group(es) != 0;
            }
        }
        char key[512];
        snprintf(key, sizeof key, "%s/%s/%lld", pl->ns, r->id, (long long)ds->bucket_ms);
        int rc =
            series_get(pl, r, key, ds->bucket_ms, keep, authors, &st->series[d], errstr, errlen);
        if (rc != BV_OK) {
            return rc;
        }
    }
    if (st->min_bucket == INT64_MAX) {
        st->min_bucket = 60000;
    }
    st->probe_step = probe_step(pl->opts.probe_ms, r);
    if (job_init(&st->jobs[JOB_LIVE], pl, r, i, JOB_LIVE) != 0 ||
        job_init(&st->jobs[JOB_FINAL], pl, r, i, JOB_FINAL) != 0 ||
        (pl->opts.probe_ms > 0 && job_init(&st->jobs[JOB_PROBE], pl, r, i, JOB_PROBE) != 0)) {
        snprintf(errstr, errlen, "out of memory");
        return BV_ENOMEM;
    }
    return BV_OK;
}

void bv_pipeline_free(bv_pipeline *pl)
{
    if (pl == NULL) {
        return;
    }
    for (size_t i = 0; pl->rules && i < pl->nrules; i++) {
        rule_state_free(&pl->rules[i]);
    }
    free(pl->rules);
    while (pl->idle) {
        idle_wait *w = pl->idle;
        pl->idle = w->next;
        free(w);
    }
    for (size_t i = 0; i < pl->nsreg; i++) {
        free(pl->sreg[i].key);
    }
    free(pl->sreg);
    free(pl->ns);
    bv_matcher_free(pl->matcher);
    bv_seen_free(pl->seen);
    free(pl->hits);
    free(pl->matches);
    free(pl->firing);
    free(pl->evals);
    bv_buf_free(&pl->norm);
    free(pl);
}

bv_pipeline *bv_pipeline_new(const bv_ruleset *rs, bv_store *store, const bv_pipeline_opts *opts,
                             bv_signal_cb *cb, void *arg, char *errstr, size_t errlen)
{
    bv_pipeline *pl = calloc(1, sizeof *pl);
    if (pl == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    pl->rs = rs;
    pl->store = store;
    pl->opts = *opts;
    if (pl->opts.lateness_ms < 0) {
        pl->opts.lateness_ms = 0;
    }
    if (pl->opts.probe_ms < 0) {
        pl->opts.probe_ms = 0;
    }
    pl->ns = strdup(opts->ns ? opts->ns : "");
    pl->opts.ns = pl->ns;
    pl->cb = cb;
    pl->cbarg = arg;
    pl->nrules = bv_rules_count(rs);
    pl->st.first_ms = pl->st.max_ms = pl->st.watermark_ms = INT64_MIN;
    pl->min_due = INT64_MAX;
    pl->probe_due = INT64_MAX;
    pl->rules = calloc(pl->nrules ? pl->nrules : 1, sizeof *pl->rules);
    pl->hits = calloc(pl->nrules ? pl->nrules : 1, sizeof *pl->hits);
    pl->matches = calloc(pl->nrules ? pl->nrules : 1, sizeof *pl->matches);
    pl->firing = calloc(pl->nrules ? pl->nrules : 1, sizeof *pl->firing);
    pl->matcher = bv_matcher_new(rs);
    pl->places = bv_rules_places(rs);
    if (!pl->ns || !pl->rules || !pl->hits || !pl->matches || !pl->firing || !pl->matcher) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < pl->nrules; i++) {
        const bv_rule *r = bv_rules_get(rs, i);
        if (r->ndetectors > pl->maxdet) {
            pl->maxdet = r->ndetectors;
        }
        if (rule_init(pl, r, (uint32_t)i, &pl->rules[i], errstr, errlen) != BV_OK) {
            goto fail;
        }
    }
    /* ids are remembered as long as any window can still count them */
    int64_t horizon = 60000;
    for (size_t i = 0; i < pl->nrules; i++) {
        const bv_rule *r = bv_rules_get(rs, i);
        for (size_t d = 0; d < r->ndetectors; d++) {
            int64_t span = (int64_t)bv_det_span(&r->detectors[d]) * r->detectors[d].bucket_ms;
            horizon = span > horizon ? span : horizon;
        }
    }
    pl->seen = bv_seen_new(horizon + pl->opts.lateness_ms);
    pl->evals = calloc(pl->maxdet ? pl->maxdet : 1, sizeof *pl->evals);
    if (pl->evals == NULL || pl->seen == NULL) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    return pl;
fail:
    bv_pipeline_free(pl);
    return NULL;
}

/* ---- reload ---- */

/* Whether place entries (gazetteer indices) of one set mean the same places in the other. */
static int same_gazetteer(const bv_gazetteer *a, const bv_gazetteer *b)
{
    if (a == b) {
        return 1;
    }
    if (a == NULL || b == NULL || bv_gazetteer_count(a) != bv_gazetteer_count(b)) {
        return 0;
    }
    for (size_t i = 0; i < bv_gazetteer_count(a); i++) {
        const bv_place *x = bv_gazetteer_get(a, i), *y = bv_gazetteer_get(b, i);
        if (x->kinds != y->kinds || strcmp(x->name, y->name) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Moves what a rule remembers of its posts (samples and places) from os to ns. */
static void move_posts(rule_state *ns, rule_state *os, int places)
{
    memcpy(ns->ring, os->ring, sizeof ns->ring);
    memcpy(ns->ring_mem, os->ring_mem, sizeof ns->ring_mem);
    memcpy(ns->ring_cap, os->ring_cap, sizeof ns->ring_cap);
    memcpy(ns->ring_cut, os->ring_cut, sizeof ns->ring_cut);
    ns->ring_head = os->ring_head;
    ns->ring_n = os->ring_n;
    memset(os->ring_mem, 0, sizeof os->ring_mem); /* ns owns the blocks now */
    if (places) {
        ns->pring = os->pring;
        ns->pring_head = os->pring_head;
        ns->pring_n = os->pring_n;
        os->pring = NULL;
    }
}

int bv_pipeline_reload(bv_pipeline *pl, const bv_ruleset *rs, bv_pipeline_reload_stats *out,
                       char *errstr, size_t errlen)
{
    bv_pipeline_reload_stats st;
    memset(&st, 0, sizeof st);
    if (out) {
        *out = st;
    }
    if (pl->outstanding > 0 || pl->done || pl->in_call) {
        snprintf(errstr, errlen, "evaluations under way: try again when they are done");
        return BV_EAGAIN;
    }
    if (rs == pl->rs) {
        st.kept = pl->nrules;
        if (out) {
            *out = st;
        }
        return BV_OK;
    }
    /* everything the new set needs, beside the old state */
    size_t n = bv_rules_count(rs), maxdet = 0, ninit = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nd = bv_rules_get(rs, i)->ndetectors;
        maxdet = nd > maxdet ? nd : maxdet;
    }
    rule_state *rules = calloc(n ? n : 1, sizeof *rules);
    uint32_t *hits = calloc(n ? n : 1, sizeof *hits);
    uint32_t *firing = calloc(n ? n : 1, sizeof *firing);
    uint64_t *matches = calloc(n ? n : 1, sizeof *matches);
    long *from = calloc(n ? n : 1, sizeof *from);
    bv_det_eval *evals = calloc(maxdet ? maxdet : 1, sizeof *evals);
    bv_matcher *matcher = bv_matcher_new(rs);
    int rc = BV_OK;
    if (!rules || !hits || !firing || !matches || !from || !evals || !matcher) {
        snprintf(errstr, errlen, "out of memory");
        rc = BV_ENOMEM;
    }
    for (size_t i = 0; i < n && rc == BV_OK; i++) {
        const bv_rule *r = bv_rules_get(rs, i);
        ninit = i + 1;
        rc = rule_init(pl, r, (uint32_t)i, &rules[i], errstr, errlen);
        from[i] = bv_rules_find(pl->rs, r->id);
    }
    if (rc != BV_OK) {
        for (size_t i = 0; i < ninit; i++) {
            rule_state_free(&rules[i]);
        }
        free(rules);
        free(hits);
        free(firing);
        free(matches);
        free(from);
        free(evals);
        bv_matcher_free(matcher);
        return rc;
    }
    /* nothing fails from here on: carry the window state over by rule id */
    int places = same_gazetteer(bv_rules_places(pl->rs), bv_rules_places(rs));
    size_t nfiring = 0;
    for (size_t i = 0; i < n; i++) {
        rule_state *ns = &rules[i];
        if (from[i] < 0) {
            st.added++;
            ns->next_probe = first_probe(pl, ns);
            continue;
        }
        const bv_rule *nr = bv_rules_get(rs, i), *orule = bv_rules_get(pl->rs, (size_t)from[i]);
        if (memcmp(nr->fingerprint, orule->fingerprint, sizeof nr->fingerprint) == 0) {
            st.kept++;
        } else {
            st.changed++;
        }
        rule_state *os = &pl->rules[from[i]];
        move_posts(ns, os, places);
        matches[i] = pl->matches[from[i]];
        if (os->firing) {
            /* the next final boundary, on the new rule's smallest bucket */
            ns->firing = 1;
            ns->next_final = align_up(os->next_final, ns->min_bucket);
            firing[nfiring++] = (uint32_t)i;
        }
        ns->next_probe = os->next_probe != INT64_MAX && ns->probe_step
                             ? align_up(os->next_probe, ns->probe_step)
                             : first_probe(pl, ns);
    }
    for (size_t i = 0; i < pl->nrules; i++) {
        if (bv_rules_find(rs, bv_rules_get(pl->rs, i)->id) < 0) {
            st.removed++;
            st.removed_firing += pl->rules[i].firing != 0;
        }
        rule_state_free(&pl->rules[i]);
    }
    free(pl->rules);
    free(pl->hits);
    free(pl->firing);
    free(pl->matches);
    free(pl->evals);
    bv_matcher_free(pl->matcher);
    free(from);
    pl->rs = rs;
    pl->nrules = n;
    pl->rules = rules;
    pl->hits = hits;
    pl->firing = firing;
    pl->nfiring = nfiring;
    pl->matches = matches;
    pl->evals = evals;
    pl->maxdet = maxdet;
    pl->matcher = matcher;
    pl->places = bv_rules_places(rs);
    pl->sched_dirty = 1; /* the firing rules' finals are scheduled on the next begin */
    pl->min_due = INT64_MIN;
    probe_due_update(pl);
    if (out) {
        *out = st;
    }
    return BV_OK;
}
