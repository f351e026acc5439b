/* pipeline.c: post -> watermark -> normalise -> match -> count -> detectors -> signals.
 * Evaluations are jobs: one store read per detector, then a signal; see pipeline.h. */
#include "engine/pipeline.h"
#include "core/buf.h"
#include "core/err.h"
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

/* An evaluation under way. Each rule owns two, allocated once: a live one (on a matching post)
 * and a final one (on a bucket boundary while firing); a rule never needs two of a kind at once,
 * because a post is pushed only when the previous one is done. */
struct job {
    bv_pipeline *pl;
    uint32_t rule;
    int final;
    int busy;
    int64_t at_ms; /* live: post time; final: boundary - 1 */
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
    int64_t min_bucket; /* the smallest bucket of its detectors */
    int firing;
    int64_t next_final; /* the next boundary to evaluate while firing */
    job jobs[2];        /* [0] live, [1] final */
    bv_sample ring[RING];
    char *ring_mem[RING]; /* one block per sample: id, url and text; reused */
    size_t ring_cap[RING];
    int ring_cut[RING]; /* the text was longer than what the block keeps */
    size_t ring_head, ring_n;
    pnamed *pring; /* PRING, allocated on first use */
    size_t pring_head, pring_n;
} rule_state;

struct bv_pipeline {
    const bv_ruleset *rs;
    bv_store *store;
    bv_pipeline_opts opts;
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
    int sched_dirty;    /* the firing set or a final evaluation changed: look again */
    bv_done_cb *done;
    void *donearg;
    bv_det_eval *evals; /* scratch, max detectors per rule */
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
static int job_init(job *j, bv_pipeline *pl, uint32_t rule, int final)
{
    const bv_rule *r = bv_rules_get(pl->rs, rule);
    size_t n = r->ndetectors ? r->ndetectors : 1;
    j->pl = pl;
    j->rule = rule;
    j->final = final;
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

static void job_finished(bv_pipeline *pl)
{
    pl->outstanding--;
    if (pl->sched_dirty) {
        schedule_finals(pl);
    }
    if (pl->outstanding == 0 && pl->done) {
        bv_done_cb *done = pl->done;
        pl->done = NULL;
        done(pl->donearg);
    }
}

static void job_complete(job *j)
{
    bv_pipeline *pl = j->pl;
    const bv_rule *r = bv_rules_get(pl->rs, j->rule);
    rule_state *rs = &pl->rules[j->rule];
    if (j->final) {
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
            .final = j->final,
            .at_ms = j->final ? j->boundary : j->at_ms,
            .episode_ms = bv_bucket_start(j->at_ms, rs->min_bucket),
            .evals = pl->evals,
            .nevals = r->ndetectors,
        };
        /* samples only where an alert can follow: a rule holding, or one resolving */
        if (sig.holds || (j->final && !sig.any_holds)) {
            sig.nsamples = pick_samples(rs, j->at_ms, samples);
            int64_t win = 0;
            for (size_t d = 0; d < r->ndetectors; d++) {
                win = r->detectors[d].window_ms > win ? r->detectors[d].window_ms : win;
            }
            sig.nplaces = pick_places(pl, rs, sig.at_ms - win, sig.at_ms);
        }
        sig.samples = samples;
        sig.places = pl->placec;
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

/* Starts an evaluation of rule at event time at_ms (final: of the bucket ending at boundary). */
static int start_job(bv_pipeline *pl, uint32_t rule, int final, int64_t at_ms, int64_t boundary)
{
    const bv_rule *r = bv_rules_get(pl->rs, rule);
    job *j = &pl->rules[rule].jobs[final ? 1 : 0];
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
        if (rs->firing && !rs->jobs[1].busy && rs->next_final <= final_limit(pl, rs)) {
            start_job(pl, i, 1, rs->next_final - 1, rs->next_final);
        }
    }
    pl->min_due = INT64_MAX;
    for (size_t k = 0; k < pl->nfiring; k++) {
        const rule_state *rs = &pl->rules[pl->firing[k]];
        if (!rs->jobs[1].busy && rs->next_final < pl->min_due) {
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

static int begin(bv_pipeline *pl, bv_done_cb *done, void *arg)
{
    if (pl->sched_dirty || pl->finishing || pl->st.watermark_ms >= pl->min_due) {
        schedule_finals(pl);
    }
    if (pl->outstanding == 0) {
        return 1;
    }
    pl->done = done;
    pl->donearg = arg;
    return 0;
}

int bv_pipeline_push(bv_pipeline *pl, bv_post *post, bv_done_cb *done, void *arg)
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
            start_job(pl, ri, 0, t, 0);
        }
    }
    bv_post_clear(post);
    return begin(pl, done, arg);
}

int bv_pipeline_advance(bv_pipeline *pl, int64_t now_ms, bv_done_cb *done, void *arg)
{
    if (pl->st.max_ms != INT64_MIN && now_ms - pl->opts.lateness_ms > pl->st.watermark_ms) {
        pl->st.watermark_ms = now_ms - pl->opts.lateness_ms;
    }
    return begin(pl, done, arg);
}

int bv_pipeline_finish(bv_pipeline *pl, bv_done_cb *done, void *arg)
{
    pl->finishing = 1;
    if (pl->st.max_ms != INT64_MIN && pl->st.max_ms > pl->st.watermark_ms) {
        pl->st.watermark_ms = pl->st.max_ms;
    }
    return begin(pl, done, arg);
}

void bv_pipeline_stats_get(const bv_pipeline *pl, bv_pipeline_stats *out)
{
    *out = pl->st;
    out->matches = pl->matches;
}

void bv_pipeline_free(bv_pipeline *pl)
{
    if (pl == NULL) {
        return;
    }
    for (size_t i = 0; pl->rules && i < pl->nrules; i++) {
        size_t ndet = bv_rules_get(pl->rs, i)->ndetectors;
        free(pl->rules[i].series);
        free(pl->rules[i].pring);
        job_destroy(&pl->rules[i].jobs[0], ndet);
        job_destroy(&pl->rules[i].jobs[1], ndet);
        for (size_t k = 0; k < RING; k++) {
            free(pl->rules[i].ring_mem[k]);
        }
    }
    free(pl->rules);
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
    pl->cb = cb;
    pl->cbarg = arg;
    pl->nrules = bv_rules_count(rs);
    pl->st.first_ms = pl->st.max_ms = pl->st.watermark_ms = INT64_MIN;
    pl->min_due = INT64_MAX;
    pl->rules = calloc(pl->nrules ? pl->nrules : 1, sizeof *pl->rules);
    pl->hits = calloc(pl->nrules ? pl->nrules : 1, sizeof *pl->hits);
    pl->matches = calloc(pl->nrules ? pl->nrules : 1, sizeof *pl->matches);
    pl->firing = calloc(pl->nrules ? pl->nrules : 1, sizeof *pl->firing);
    pl->matcher = bv_matcher_new(rs);
    pl->places = bv_rules_places(rs);
    if (!pl->rules || !pl->hits || !pl->matches || !pl->firing || !pl->matcher) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < pl->nrules; i++) {
        const bv_rule *r = bv_rules_get(rs, i);
        rule_state *st = &pl->rules[i];
        if (r->ndetectors > pl->maxdet) {
            pl->maxdet = r->ndetectors;
        }
        st->series = calloc(r->ndetectors ? r->ndetectors : 1, sizeof *st->series);
        if (st->series == NULL) {
            snprintf(errstr, errlen, "out of memory");
            goto fail;
        }
        st->min_bucket = INT64_MAX;
        for (size_t d = 0; d < r->ndetectors; d++) {
            const bv_detector_spec *ds = &r->detectors[d];
            if (ds->bucket_ms < st->min_bucket) {
                st->min_bucket = ds->bucket_ms;
            }
            /* one series per (rule, bucket size), kept long enough for every detector on it */
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
            snprintf(key, sizeof key, "%s/%s/%lld", opts->ns ? opts->ns : "", r->id,
                     (long long)ds->bucket_ms);
            if (bv_store_series(store, key, ds->bucket_ms, keep, authors, &st->series[d]) != 0) {
                snprintf(errstr, errlen, "store: cannot register series %s", key);
                goto fail;
            }
        }
        if (st->min_bucket == INT64_MAX) {
            st->min_bucket = 60000;
        }
        if (job_init(&st->jobs[0], pl, (uint32_t)i, 0) != 0 ||
            job_init(&st->jobs[1], pl, (uint32_t)i, 1) != 0) {
            snprintf(errstr, errlen, "out of memory");
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
