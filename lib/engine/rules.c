/* rules.c: compiling a parsed rule set into one Vectorscan database plus pcre2 confirmers, and
 * matching posts against it (fast path, reference path), examples and --explain output. */
#include "engine/rules_int.h"

#include "core/err.h"
#include "core/file.h"
#include "core/timeutil.h"
#include "engine/text.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *bv_severity_name(bv_severity s)
{
    static const char *const names[] = {"info", "warning", "critical"};
    return (unsigned)s <= BV_SEV_CRITICAL ? names[s] : "unknown";
}

const char *bv_det_type_name(bv_det_type t)
{
    static const char *const names[BV_DET__COUNT] = {"threshold", "spike", "unique_authors",
                                                     "growth"};
    return (unsigned)t < BV_DET__COUNT ? names[t] : "unknown";
}

struct bv_matcher {
    const bv_ruleset *rs; /* borrowed */
    hs_scratch_t *scratch;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    uint32_t gen;       /* this post's generation: x_gen[i] == gen means "set for this post" */
    uint32_t *atom_gen; /* atom hit */
    uint32_t *cand_gen; /* regex atom is a candidate */
    uint32_t *rule_gen; /* rule is a candidate */
    uint32_t *cand_rules;
    size_t ncand_rules;
    uint32_t *cand_regex;
    size_t ncand_regex;
    /* places of the post being matched */
    const char *norm, *text; /* borrowed for the call: normalised and original text */
    size_t normlen, textlen;
    uint32_t *place_gen; /* per gazetteer entry: found in this post */
    uint32_t *cap_gen;   /* per entry: its capital was looked for in this post, in vain */
    uint32_t *places;    /* found, in order */
    size_t nplaces;
};

#define PLACES_PER_POST 64 /* more places named in one post are not listed */

/* ---- compiling ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static int append_u32(uint32_t **arr, size_t *n, uint32_t v)
{
    /* capacity implied by the count: 4, then doubling at each power of two */
    if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
        uint32_t *p = realloc(*arr, (*n == 0 ? 4 : *n * 2) * sizeof *p);
        if (p == NULL) {
            return BV_ENOMEM;
        }
        *arr = p;
    }
    (*arr)[(*n)++] = v;
    return BV_OK;
}

/* Gives every distinct keyword pattern of the atoms in use one pattern id (a pattern shared by
 * several lists is scanned once and marks them all). */
static int build_pats(bv_ruleset *rs)
{
    size_t total = 0;
    for (size_t i = 0; i < rs->natoms; i++) {
        if (rs->atoms[i].nrules > 0 && rs->atoms[i].kind != ATOM_REGEX) {
            total += rs->atoms[i].nexprs;
        }
    }
    if (total == 0) {
        return BV_OK;
    }
    size_t tsize = 16;
    while (tsize < total * 2) {
        tsize *= 2;
    }
    uint32_t *table = calloc(tsize, sizeof *table); /* pattern index + 1, 0 = empty */
    rs->pats = calloc(total, sizeof *rs->pats);
    if (table == NULL || rs->pats == NULL) {
        free(table);
        return BV_ENOMEM;
    }
    int rc = BV_OK;
    for (size_t i = 0; i < rs->natoms && rc == BV_OK; i++) {
        ratom *a = &rs->atoms[i];
        if (a->nrules == 0 || a->kind == ATOM_REGEX) {
            continue;
        }
        if ((a->pats = calloc(a->nexprs, sizeof *a->pats)) == NULL) {
            rc = BV_ENOMEM;
            break;
        }
        for (size_t k = 0; k < a->nexprs && rc == BV_OK; k++) {
            size_t slot = (size_t)hash_str(a->exprs[k]) & (tsize - 1);
            while (table[slot] != 0 && strcmp(rs->pats[table[slot] - 1].expr, a->exprs[k]) != 0) {
                slot = (slot + 1) & (tsize - 1);
            }
            if (table[slot] == 0) {
                rs->pats[rs->npats].expr = a->exprs[k];
                table[slot] = (uint32_t)++rs->npats;
            }
            uint32_t pi = table[slot] - 1;
            rpat *p = &rs->pats[pi];
            if (p->natoms == 0 || p->atoms[p->natoms - 1] != (uint32_t)i) {
                rc = append_u32(&p->atoms, &p->natoms, (uint32_t)i);
            }
            int dup = 0;
            for (size_t j = 0; j < a->npats; j++) {
                dup |= a->pats[j] == pi;
            }
            if (!dup) {
                a->pats[a->npats++] = pi;
            }
        }
    }
    free(table);
    return rc;
}

static int eval(const rrule *r, uint32_t ni, const uint32_t *atom_gen, uint32_t gen)
{
    const rcond *c = &r->nodes[ni];
    switch (c->type) {
    case COND_ATOM:
        return atom_gen[c->atom] == gen;
    case COND_ANY:
        for (uint32_t k = 0; k < c->n; k++) {
            if (eval(r, r->kids[c->first + k], atom_gen, gen)) {
                return 1;
            }
        }
        return 0;
    case COND_ALL:
        for (uint32_t k = 0; k < c->n; k++) {
            if (!eval(r, r->kids[c->first + k], atom_gen, gen)) {
                return 0;
            }
        }
        return 1;
    default:
        return !eval(r, r->kids[c->first], atom_gen, gen);
    }
}

/* The literal spellings of a keyword pattern: each " ?" (the optional space between words) as
 * " " or as nothing. Pure literals let Vectorscan use its literal matcher rather than an
 * automaton; a phrase of more than 5 words stays one regex. */
static int add_variants(const char *expr, uint32_t id, char ***lits, uint32_t **ids, size_t *n,
                        size_t *cap)
{
    unsigned nopt = 0;
    for (const char *p = expr; (p = strstr(p, " ?")) != NULL; p += 2) {
        nopt++;
    }
    unsigned nvar = nopt > 4 ? 1 : 1u << nopt;
    if (*n + nvar > *cap) {
        size_t nc = (*cap ? *cap : 64) * 2 + nvar;
        char **nl = realloc(*lits, nc * sizeof *nl);
        if (nl == NULL) {
            return BV_ENOMEM;
        }
        *lits = nl;
        uint32_t *ni = realloc(*ids, nc * sizeof *ni);
        if (ni == NULL) {
            return BV_ENOMEM;
        }
        *ids = ni;
        *cap = nc;
    }
    for (unsigned mask = 0; mask < nvar; mask++) {
        char *v;
        if (nopt > 4) {
            v = strdup(expr);
        } else {
            v = malloc(strlen(expr) + 1);
            if (v != NULL) {
                size_t o = 0;
                unsigned bit = 0;
                for (const char *p = expr; *p;) {
                    if (p[0] == ' ' && p[1] == '?') {
                        if (mask & (1u << bit)) {
                            v[o++] = ' ';
                        }
                        bit++;
                        p += 2;
                    } else {
                        v[o++] = *p++;
                    }
                }
                v[o] = '\0';
            }
        }
        if (v == NULL) {
            return BV_ENOMEM;
        }
        (*lits)[*n] = v;
        (*ids)[*n] = id;
        (*n)++;
    }
    return BV_OK;
}

static int compile_hs(bv_ruleset *rs, bv_diag *diag)
{
    size_t nre = 0;
    for (size_t i = 0; i < rs->natoms; i++) {
        ratom *a = &rs->atoms[i];
        if (a->kind != ATOM_REGEX || a->nrules == 0) {
            continue;
        }
        /* A regex Vectorscan cannot prefilter, or one that matches the empty string, is run
         * by pcre2 on every post instead. */
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *cerr = NULL;
        if (hs_expression_info(a->regex, HS_FLAG_PREFILTER, &info, &cerr) != HS_SUCCESS) {
            a->always = 1;
            hs_free_compile_error(cerr);
        } else {
            a->always = info->min_width == 0;
            free(info);
        }
        nre += !a->always;
    }
    char **lits = NULL;
    uint32_t *lit_ids = NULL;
    size_t nlits = 0, caplits = 0;
    int rc = BV_OK;
    for (size_t i = 0; i < rs->npats && rc == BV_OK; i++) {
        rc = add_variants(rs->pats[i].expr, (uint32_t)i, &lits, &lit_ids, &nlits, &caplits);
    }
    size_t nplace = rs->places ? bv_gazetteer_count(rs->places) : 0;
    char **place_lits = nplace ? calloc(nplace, sizeof *place_lits) : NULL;
    if (nplace && place_lits == NULL) {
        rc = BV_ENOMEM;
    }
    for (size_t i = 0; rc == BV_OK && i < nplace; i++) {
        /* " name ": whole words in normalised text, which holds only letters, digits and
         * single spaces: a plain literal (Vectorscan's literal matcher), no escapes needed */
        const bv_place *pl = bv_gazetteer_get(rs->places, i);
        char *e = malloc(pl->norm_len + 3);
        if (e == NULL) {
            rc = BV_ENOMEM;
            break;
        }
        e[0] = ' ';
        memcpy(e + 1, pl->norm, pl->norm_len);
        e[pl->norm_len + 1] = ' ';
        e[pl->norm_len + 2] = '\0';
        place_lits[i] = e;
    }
    rs->place_base = (unsigned)(rs->npats + rs->natoms);
    size_t n = nlits + nre + nplace;
    const char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    if (n > UINT_MAX / 2) {
        bv_diag_set(diag, "", 0, 0, "too many patterns");
        rc = BV_ELIMIT;
    }
    if (rc == BV_OK && n > 0) {
        exprs = calloc(n, sizeof *exprs);
        flags = calloc(n, sizeof *flags);
        ids = calloc(n, sizeof *ids);
        if (exprs == NULL || flags == NULL || ids == NULL) {
            rc = BV_ENOMEM;
        }
    }
    for (int attempt = 0; rc == BV_OK && n > 0; attempt++) {
        size_t k = 0;
        for (size_t i = 0; i < nlits; i++, k++) {
            exprs[k] = lits[i];
            flags[k] = HS_FLAG_SINGLEMATCH;
            ids[k] = lit_ids[i];
        }
        for (size_t i = 0; i < rs->natoms; i++) {
            ratom *a = &rs->atoms[i];
            if (a->kind == ATOM_REGEX && a->nrules > 0 && !a->always) {
                exprs[k] = a->regex;
                flags[k] = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH;
                ids[k] = (unsigned)(rs->npats + i);
                k++;
            }
        }
        for (size_t i = 0; i < nplace; i++) {
            /* names that normalise alike ("Noord Brabant", "Noord-Brabant") are one pattern:
             * the first of them is the place found */
            const bv_place *pl = bv_gazetteer_get(rs->places, i);
            if (bv_gazetteer_find(rs->places, pl->norm, pl->norm_len) != (long)i) {
                continue;
            }
            exprs[k] = place_lits[i];
            /* once per post: the later occurrences of a name that needs context are looked
             * at when the first has none (on_place) */
            flags[k] = HS_FLAG_SINGLEMATCH;
            ids[k] = rs->place_base + (unsigned)i;
            k++;
        }
        if (k == 0) {
            break;
        }
        hs_compile_error_t *cerr = NULL;
        if (hs_compile_multi(exprs, flags, ids, (unsigned)k, HS_MODE_BLOCK, NULL, &rs->db, &cerr) ==
            HS_SUCCESS) {
            rs->nhs = (unsigned)k;
            break;
        }
        /* A regex that fails only in the combined database goes to the always-run list and
         * the database is built again; anything else is an error. */
        int e = cerr->expression;
        if (e >= 0 && (size_t)e < k && ids[e] >= rs->npats && ids[e] < rs->place_base &&
            attempt < 64) {
            rs->atoms[ids[e] - rs->npats].always = 1;
            hs_free_compile_error(cerr);
            continue;
        }
        if (e >= 0 && (size_t)e < k && ids[e] < rs->npats) {
            const rpat *p = &rs->pats[ids[e]];
            const ratom *a = &rs->atoms[p->atoms[0]];
            bv_diag_set(diag, a->file, a->line, a->col, "keyword pattern '%s' does not compile: %s",
                        p->expr, cerr->message);
        } else {
            bv_diag_set(diag, "", 0, 0, "cannot build the pattern database: %s", cerr->message);
        }
        hs_free_compile_error(cerr);
        rc = BV_EINVAL;
    }
    free(exprs);
    free(flags);
    free(ids);
    for (size_t i = 0; place_lits && i < nplace; i++) {
        free(place_lits[i]);
    }
    free(place_lits);
    for (size_t i = 0; i < nlits; i++) {
        free(lits[i]);
    }
    free(lits);
    free(lit_ids);
    return rc;
}

/* The normalised form of s without the spaces around it, into b; its length. */
static size_t place_norm(const char *s, bv_buf *b)
{
    if (bv_text_normalise_flags(s, strlen(s), b, BV_TEXT_NO_TAG_SPLIT) != 0) {
        return 0;
    }
    size_t st = 0, n = b->len;
    while (st < n && b->p[st] == ' ') {
        st++;
    }
    while (n > st && b->p[n - 1] == ' ') {
        n--;
    }
    memmove(b->p, b->p + st, n - st);
    b->len = n - st;
    b->p[b->len] = '\0';
    return b->len;
}

static int norm_eq(const char *s, const char *norm, size_t len, bv_buf *b)
{
    size_t n = s ? place_norm(s, b) : 0;
    return n == len && n > 0 && memcmp(b->p, norm, n) == 0;
}

/* Normalised names a [names] condition takes. */
typedef struct targets {
    char **v;
    size_t *len;
    size_t n;
} targets;

static int target_add(targets *t, const char *s, size_t n)
{
    char **nv = realloc(t->v, (t->n + 1) * sizeof *nv);
    if (nv == NULL) {
        return BV_ENOMEM;
    }
    t->v = nv;
    size_t *nl = realloc(t->len, (t->n + 1) * sizeof *nl);
    if (nl == NULL) {
        return BV_ENOMEM;
    }
    t->len = nl;
    if ((t->v[t->n] = strndup(s, n)) == NULL) {
        return BV_ENOMEM;
    }
    t->len[t->n++] = n;
    return BV_OK;
}

static int target_has(const targets *t, const char *s, size_t n)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->len[i] == n && n > 0 && memcmp(t->v[i], s, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void targets_free(targets *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i]);
    }
    free(t->v);
    free(t->len);
    memset(t, 0, sizeof *t);
}

/* place: atoms: the gazetteer (the built-in one when none was given and a rule uses place:),
 * and for `own` and [names] the entries that count. */
static int resolve_places(bv_ruleset *rs, bv_diag *diag)
{
    for (size_t i = 0; i < rs->natoms; i++) {
        if (rs->atoms[i].kind == ATOM_PLACE && rs->atoms[i].nrules > 0 &&
            append_u32(&rs->place_atoms, &rs->nplace_atoms, (uint32_t)i) != BV_OK) {
            return BV_ENOMEM;
        }
    }
    if (rs->nplace_atoms == 0) {
        return BV_OK;
    }
    if (rs->places == NULL) {
        rs->places_owned = bv_gazetteer_new();
        if (rs->places_owned == NULL) {
            return BV_ENOMEM;
        }
        rs->places = rs->places_owned;
    }
    bv_buf b = BV_BUF_INIT, own = BV_BUF_INIT;
    targets tg = {0};
    int rc = BV_OK;
    size_t ownlen = rs->own ? place_norm(rs->own, &own) : 0;
    /* "Den Haag" is 's-Gravenhage in the register: the municipality under both names */
    bv_buf own2 = BV_BUF_INIT;
    size_t own2len = 0;
    long of = ownlen ? bv_gazetteer_find(rs->places, own.p, ownlen) : -1;
    if (of >= 0 && bv_gazetteer_get(rs->places, (size_t)of)->official) {
        own2len = place_norm(bv_gazetteer_get(rs->places, (size_t)of)->official, &own2);
    }
    size_t n = bv_gazetteer_count(rs->places);
    for (size_t k = 0; k < rs->nplace_atoms && rc == BV_OK; k++) {
        ratom *a = &rs->atoms[rs->place_atoms[k]];
        if (a->place_mode == PLACE_ANY) {
            continue;
        }
        if (a->place_mode == PLACE_OWN && ownlen == 0) {
            bv_diag_set(diag, a->file, a->line, a->col,
                        "'place: own' needs the municipality: places: {municipality: NAME} in "
                        "the config");
            rc = BV_EINVAL;
            break;
        }
        /* [names]: each listed name normalised, and the register's name of an alias */
        targets_free(&tg);
        for (size_t q = 0; q < a->nplace_names && rc == BV_OK; q++) {
            size_t ql = place_norm(a->place_names[q], &b);
            rc = target_add(&tg, b.p, ql);
            long f = ql ? bv_gazetteer_find(rs->places, b.p, ql) : -1;
            const char *off = f >= 0 ? bv_gazetteer_get(rs->places, (size_t)f)->official : NULL;
            size_t ol = off && rc == BV_OK ? place_norm(off, &b) : 0;
            if (ol) {
                rc = target_add(&tg, b.p, ol);
            }
        }
        for (size_t e = 0; e < n && rc == BV_OK; e++) {
            const bv_place *pl = bv_gazetteer_get(rs->places, e);
            int in = 0;
            if (a->place_mode == PLACE_OWN) {
                in = (pl->kinds & BV_PLACE_EXTRA) ||
                     (pl->norm_len == ownlen && memcmp(pl->norm, own.p, ownlen) == 0) ||
                     (own2len && pl->norm_len == own2len &&
                      memcmp(pl->norm, own2.p, own2len) == 0) ||
                     norm_eq(pl->official, own.p, ownlen, &b) ||
                     (own2len && norm_eq(pl->official, own2.p, own2len, &b));
                /* a residence of the municipality, when it lies there alone */
                if (!in && pl->nhomes == 1) {
                    in = norm_eq(pl->homes[0].municipality, own.p, ownlen, &b) ||
                         (own2len && norm_eq(pl->homes[0].municipality, own2.p, own2len, &b));
                }
            } else {
                /* a name, its official name (an alias), and the aliases and parts of both */
                in = target_has(&tg, pl->norm, pl->norm_len);
                if (!in && pl->official) {
                    size_t ol = place_norm(pl->official, &b);
                    in = ol && target_has(&tg, b.p, ol);
                }
            }
            if (in) {
                rc = append_u32(&a->place_entries, &a->nplace_entries, (uint32_t)e);
            }
        }
        /* a name nobody can find is a mistake in the rule file */
        for (size_t q = 0; q < a->nplace_names && rc == BV_OK; q++) {
            size_t ql = place_norm(a->place_names[q], &b);
            if (ql == 0 || bv_gazetteer_find(rs->places, b.p, ql) < 0) {
                bv_diag_set(diag, a->file, a->line, a->col,
                            "unknown place '%s' (not a Dutch residence, municipality or "
                            "province, nor in the municipality's own list)",
                            a->place_names[q]);
                rc = BV_EINVAL;
            }
        }
    }
    targets_free(&tg);
    bv_buf_free(&b);
    bv_buf_free(&own);
    bv_buf_free(&own2);
    return rc;
}

int bv_rules__compile(bv_ruleset *rs, bv_diag *diag)
{
    int rc = build_pats(rs);
    if (rc != BV_OK) {
        return rc;
    }
    /* the pcre2 equivalents of the keyword patterns, for the reference path */
    for (size_t i = 0; i < rs->npats; i++) {
        int err;
        PCRE2_SIZE off;
        rs->pats[i].re = pcre2_compile((PCRE2_SPTR)rs->pats[i].expr, PCRE2_ZERO_TERMINATED,
                                       PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &err, &off, NULL);
        if (rs->pats[i].re == NULL) {
            bv_diag_set(diag, "", 0, 0, "keyword pattern '%s' does not compile in pcre2",
                        rs->pats[i].expr);
            return BV_EINVAL;
        }
        (void)pcre2_jit_compile(rs->pats[i].re, PCRE2_JIT_COMPLETE);
    }
    if ((rc = resolve_places(rs, diag)) != BV_OK) {
        return rc;
    }
    if ((rc = compile_hs(rs, diag)) != BV_OK) {
        return rc;
    }
    for (size_t i = 0; i < rs->natoms; i++) {
        const ratom *a = &rs->atoms[i];
        if (a->kind == ATOM_REGEX && a->nrules > 0 && a->always &&
            append_u32(&rs->always_regex, &rs->nalways_regex, (uint32_t)i) != BV_OK) {
            return BV_ENOMEM;
        }
    }
    /* Rules whose condition holds with no atom at all (a lone `not`) cannot be found through
     * their atoms' hits: they are evaluated on every post. */
    uint32_t *zero = calloc(rs->natoms + 1, sizeof *zero);
    if (zero == NULL) {
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < rs->nrules && rc == BV_OK; i++) {
        rrule *r = &rs->rules[i];
        r->always = eval(r, r->root, zero, 1);
        if (r->always) {
            rc = append_u32(&rs->always_rules, &rs->nalways_rules, (uint32_t)i);
        }
    }
    free(zero);
    return rc == BV_OK ? bv_rules__finish(rs) : rc;
}

/* ---- the id index and fingerprints ---- */

/* Fingerprints are SHA-256 over a byte string written field by field: integers as 8 bytes
 * little-endian, strings with their length first (NULL as a length of all ones), so no two
 * different rules write the same string. */
typedef struct fpbuf {
    bv_buf b;
    int err;
} fpbuf;

static void fp_bytes(fpbuf *f, const void *p, size_t n)
{
    if (f->err == 0 && n > 0) {
        f->err = bv_buf_append(&f->b, p, n);
    }
}

static void fp_u64(fpbuf *f, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    fp_bytes(f, b, sizeof b);
}

static void fp_dbl(fpbuf *f, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    fp_u64(f, u);
}

static void fp_str(fpbuf *f, const char *s)
{
    if (s == NULL) {
        fp_u64(f, UINT64_MAX);
        return;
    }
    size_t n = strlen(s);
    fp_u64(f, n);
    fp_bytes(f, s, n);
}

/* The digest of what was written; f is emptied for the next one. */
static int fp_digest(fpbuf *f, uint8_t out[BV_RULE_FINGERPRINT_LEN])
{
    unsigned int len = 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    int rc = f->err;
    if (rc == BV_OK &&
        EVP_Digest(f->b.p ? f->b.p : "", f->b.len, md, &len, EVP_sha256(), NULL) != 1) {
        rc = BV_ENOMEM;
    }
    if (rc == BV_OK) {
        memcpy(out, md, BV_RULE_FINGERPRINT_LEN);
    }
    bv_buf_reset(&f->b);
    f->err = BV_OK;
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What the gazetteer recognises and says about each place: a place condition matches by it. */
static int gazetteer_digest(const bv_gazetteer *g, fpbuf *f, uint8_t out[BV_RULE_FINGERPRINT_LEN])
{
    size_t n = g ? bv_gazetteer_count(g) : 0;
    fp_u64(f, n);
    for (size_t i = 0; i < n; i++) {
        const bv_place *p = bv_gazetteer_get(g, i);
        fp_str(f, p->name);
        fp_u64(f, p->kinds);
        fp_u64(f, (uint64_t)p->needs_context);
        fp_str(f, p->official);
        fp_u64(f, p->nhomes);
        for (size_t h = 0; h < p->nhomes; h++) {
            fp_str(f, p->homes[h].municipality);
            fp_str(f, p->homes[h].province);
        }
    }
    return fp_digest(f, out);
}

/* An atom by what it matches: lists and inline keywords alike as the set of their keyword
 * patterns, regexes by their text, places by mode and the entries they resolved to. */
static int atom_digest(const ratom *a, const uint8_t *gaz, fpbuf *f,
                       uint8_t out[BV_RULE_FINGERPRINT_LEN])
{
    if (a->kind == ATOM_LIST || a->kind == ATOM_KEYWORD) {
        const char **v = malloc((a->nexprs ? a->nexprs : 1) * sizeof *v);
        if (v == NULL) {
            return BV_ENOMEM;
        }
        for (size_t k = 0; k < a->nexprs; k++) {
            v[k] = a->exprs[k];
        }
        qsort(v, a->nexprs, sizeof *v, cmp_str);
        size_t n = 0;
        for (size_t k = 0; k < a->nexprs; k++) {
            if (n == 0 || strcmp(v[n - 1], v[k]) != 0) {
                v[n++] = v[k];
            }
        }
        fp_u64(f, 'K');
        fp_u64(f, n);
        for (size_t k = 0; k < n; k++) {
            fp_str(f, v[k]);
        }
        free(v);
    } else if (a->kind == ATOM_REGEX) {
        fp_u64(f, 'R');
        fp_str(f, a->regex);
    } else {
        fp_u64(f, 'P');
        fp_u64(f, (uint64_t)a->place_mode);
        fp_u64(f, a->nplace_entries);
        for (size_t k = 0; k < a->nplace_entries; k++) {
            fp_u64(f, a->place_entries[k]);
        }
        fp_bytes(f, gaz, BV_RULE_FINGERPRINT_LEN);
    }
    return fp_digest(f, out);
}

/* The condition tree from node ni, atoms by their digests. */
static void fp_cond(const rrule *r, uint32_t ni, const uint8_t (*adig)[BV_RULE_FINGERPRINT_LEN],
                    fpbuf *f)
{
    const rcond *c = &r->nodes[ni];
    fp_u64(f, c->type);
    if (c->type == COND_ATOM) {
        fp_bytes(f, adig[c->atom], BV_RULE_FINGERPRINT_LEN);
        return;
    }
    fp_u64(f, c->n);
    for (uint32_t k = 0; k < c->n; k++) {
        fp_cond(r, r->kids[c->first + k], adig, f);
    }
}

static void fp_rule(const rrule *rr, const uint8_t (*adig)[BV_RULE_FINGERPRINT_LEN], fpbuf *f)
{
    const bv_rule *r = &rr->pub;
    fp_str(f, "blikveld rule 1");
    fp_str(f, r->title);
    fp_u64(f, (uint64_t)r->severity);
    fp_u64(f, r->nrecipients);
    for (size_t k = 0; k < r->nrecipients; k++) {
        fp_str(f, r->recipients[k]);
    }
    fp_u64(f, (uint64_t)r->cooldown_ms);
    fp_u64(f, r->platform_mask);
    fp_u64(f, r->nlanguages);
    for (size_t k = 0; k < r->nlanguages; k++) {
        fp_str(f, r->languages[k]);
    }
    fp_u64(f, (uint64_t)r->require_any);
    fp_u64(f, r->ndetectors);
    for (size_t k = 0; k < r->ndetectors; k++) {
        const bv_detector_spec *d = &r->detectors[k];
        fp_u64(f, (uint64_t)d->type);
        fp_u64(f, (uint64_t)d->window_ms);
        fp_u64(f, (uint64_t)d->bucket_ms);
        fp_u64(f, d->count);
        fp_dbl(f, d->factor);
        fp_u64(f, d->min_count);
        fp_dbl(f, d->min_baseline);
        fp_u64(f, (uint64_t)d->baseline_ms);
        fp_u64(f, (uint64_t)d->doubling_ms);
        fp_u64(f, d->periods);
        fp_u64(f, (uint64_t)d->by_authors);
    }
    fp_cond(rr, rr->root, adig, f);
}

static int cmp_by_id(const void *a, const void *b, void *arg)
{
    const bv_ruleset *rs = arg;
    return strcmp(rs->rules[*(const uint32_t *)a].pub.id, rs->rules[*(const uint32_t *)b].pub.id);
}

int bv_rules__finish(bv_ruleset *rs)
{
    rs->by_id = malloc((rs->nrules ? rs->nrules : 1) * sizeof *rs->by_id);
    uint8_t(*adig)[BV_RULE_FINGERPRINT_LEN] = calloc(rs->natoms ? rs->natoms : 1, sizeof *adig);
    if (rs->by_id == NULL || adig == NULL) {
        free(adig);
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < rs->nrules; i++) {
        rs->by_id[i] = (uint32_t)i;
    }
    qsort_r(rs->by_id, rs->nrules, sizeof *rs->by_id, cmp_by_id, rs);
    fpbuf f = {BV_BUF_INIT, BV_OK};
    uint8_t gaz[BV_RULE_FINGERPRINT_LEN] = {0};
    int rc = BV_OK;
    if (rs->nplace_atoms > 0) {
        rc = gazetteer_digest(rs->places, &f, gaz);
    }
    /* only the atoms rules use: those are the ones conditions point at */
    for (size_t i = 0; i < rs->natoms && rc == BV_OK; i++) {
        if (rs->atoms[i].nrules > 0) {
            rc = atom_digest(&rs->atoms[i], gaz, &f, adig[i]);
        }
    }
    for (size_t i = 0; i < rs->nrules && rc == BV_OK; i++) {
        fp_rule(&rs->rules[i], (const uint8_t(*)[BV_RULE_FINGERPRINT_LEN])adig, &f);
        rc = fp_digest(&f, rs->rules[i].pub.fingerprint);
    }
    bv_buf_free(&f.b);
    free(adig);
    return rc;
}

long bv_rules_find(const bv_ruleset *rs, const char *id)
{
    size_t lo = 0, hi = rs->by_id ? rs->nrules : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t i = rs->by_id[mid];
        int c = strcmp(rs->rules[i].pub.id, id);
        if (c == 0) {
            return (long)i;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

void bv_rule_fingerprint_hex(const bv_rule *r, char out[2 * BV_RULE_FINGERPRINT_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < BV_RULE_FINGERPRINT_LEN; i++) {
        out[2 * i] = hex[r->fingerprint[i] >> 4];
        out[2 * i + 1] = hex[r->fingerprint[i] & 15];
    }
    out[2 * BV_RULE_FINGERPRINT_LEN] = '\0';
}

void bv_rules_free(bv_ruleset *rs)
{
    if (rs == NULL) {
        return;
    }
    for (size_t i = 0; i < rs->npats; i++) {
        pcre2_code_free(rs->pats[i].re);
        free(rs->pats[i].atoms);
    }
    free(rs->pats);
    hs_free_database(rs->db);
    free(rs->always_rules);
    free(rs->always_regex);
    free(rs->place_atoms);
    free(rs->by_id);
    bv_gazetteer_free(rs->places_owned);
    free(rs->own);
    bv_rules__free_parsed(rs);
    free(rs);
}

int bv_rules_load_buffer(bv_ruleset **out, const char *name, const char *yaml, size_t len,
                         bv_diag *diag)
{
    *out = NULL;
    bv_ruleset *rs = calloc(1, sizeof *rs);
    if (rs == NULL) {
        return BV_ENOMEM;
    }
    int rc = bv_rules__parse(rs, name ? name : "<rules>", yaml, len, diag);
    if (rc == BV_OK) {
        rc = bv_rules__compile(rs, diag);
    }
    if (rc != BV_OK) {
        if (rc == BV_ENOMEM) {
            bv_diag_set(diag, name ? name : "<rules>", 0, 0, "out of memory");
        }
        bv_rules_free(rs);
        return rc;
    }
    *out = rs;
    return BV_OK;
}

int bv_rules_load(bv_ruleset **out, const char *const *files, size_t nfiles, bv_diag *diag)
{
    return bv_rules_load_opts(out, files, nfiles, NULL, diag);
}

int bv_rules_load_opts(bv_ruleset **out, const char *const *files, size_t nfiles,
                       const bv_rules_opts *opts, bv_diag *diag)
{
    *out = NULL;
    bv_ruleset *rs = calloc(1, sizeof *rs);
    if (rs == NULL) {
        return BV_ENOMEM;
    }
    int rc = BV_OK;
    if (opts) {
        rs->places = opts->places;
        if (opts->own && (rs->own = strdup(opts->own)) == NULL) {
            free(rs);
            return BV_ENOMEM;
        }
    }
    for (size_t i = 0; i < nfiles && rc == BV_OK; i++) {
        char *buf = NULL;
        size_t len = 0;
        int err = 0;
        rc = bv_file_read(files[i], RULES_MAX_FILE_BYTES, &buf, &len, &err);
        if (rc == BV_EIO) {
            bv_diag_set(diag, files[i], 0, 0, "cannot read: %s",
                        err == EINVAL ? "not a regular file" : strerror(err));
        } else if (rc == BV_ELIMIT) {
            bv_diag_set(diag, files[i], 0, 0, "rule file larger than %u bytes",
                        RULES_MAX_FILE_BYTES);
        } else if (rc == BV_OK) {
            rc = bv_rules__parse(rs, files[i], buf, len, diag);
        }
        free(buf);
    }
    if (rc == BV_OK) {
        rc = bv_rules__compile(rs, diag);
    }
    if (rc != BV_OK) {
        if (rc == BV_ENOMEM) {
            bv_diag_set(diag, "", 0, 0, "out of memory");
        }
        bv_rules_free(rs);
        return rc;
    }
    *out = rs;
    return BV_OK;
}

size_t bv_rules_count(const bv_ruleset *rs)
{
    return rs->nrules;
}

const bv_rule *bv_rules_get(const bv_ruleset *rs, size_t i)
{
    return i < rs->nrules ? &rs->rules[i].pub : NULL;
}

/* ---- matching ---- */

void bv_matcher_free(bv_matcher *m)
{
    if (m == NULL) {
        return;
    }
    hs_free_scratch(m->scratch);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    free(m->atom_gen);
    free(m->cand_gen);
    free(m->rule_gen);
    free(m->cand_rules);
    free(m->cand_regex);
    free(m->place_gen);
    free(m->cap_gen);
    free(m->places);
    free(m);
}

bv_matcher *bv_matcher_new(const bv_ruleset *rs)
{
    bv_matcher *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    m->rs = rs;
    m->gen = 1;
    size_t na = rs->natoms + 1, nr = rs->nrules + 1;
    m->atom_gen = calloc(na, sizeof *m->atom_gen);
    m->cand_gen = calloc(na, sizeof *m->cand_gen);
    m->cand_regex = calloc(na, sizeof *m->cand_regex);
    m->rule_gen = calloc(nr, sizeof *m->rule_gen);
    m->cand_rules = calloc(nr, sizeof *m->cand_rules);
    m->md = pcre2_match_data_create(1, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    size_t np = rs->places ? bv_gazetteer_count(rs->places) : 0;
    m->place_gen = calloc(np + 1, sizeof *m->place_gen);
    m->cap_gen = calloc(np + 1, sizeof *m->cap_gen);
    m->places = calloc(PLACES_PER_POST, sizeof *m->places);
    if (m->place_gen == NULL || m->cap_gen == NULL || m->places == NULL) {
        goto fail;
    }
    if (m->atom_gen == NULL || m->cand_gen == NULL || m->cand_regex == NULL ||
        m->rule_gen == NULL || m->cand_rules == NULL || m->md == NULL || m->mctx == NULL) {
        goto fail;
    }
    pcre2_set_match_limit(m->mctx, RULES_PCRE2_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mctx, RULES_PCRE2_DEPTH_LIMIT);
    if (rs->db != NULL && hs_alloc_scratch(rs->db, &m->scratch) != HS_SUCCESS) {
        goto fail;
    }
    return m;
fail:
    bv_matcher_free(m);
    return NULL;
}

/* A new generation for each post makes every per-post mark stale without clearing arrays. */
static void next_gen(bv_matcher *m)
{
    if (++m->gen == 0) {
        const bv_ruleset *rs = m->rs;
        memset(m->atom_gen, 0, (rs->natoms + 1) * sizeof *m->atom_gen);
        memset(m->cand_gen, 0, (rs->natoms + 1) * sizeof *m->cand_gen);
        memset(m->rule_gen, 0, (rs->nrules + 1) * sizeof *m->rule_gen);
        memset(m->place_gen, 0,
               ((rs->places ? bv_gazetteer_count(rs->places) : 0) + 1) * sizeof *m->place_gen);
        memset(m->cap_gen, 0,
               ((rs->places ? bv_gazetteer_count(rs->places) : 0) + 1) * sizeof *m->cap_gen);
        m->gen = 1;
    }
    m->ncand_rules = 0;
    m->ncand_regex = 0;
    m->nplaces = 0;
}

static void mark_rule(bv_matcher *m, uint32_t r)
{
    if (m->rule_gen[r] != m->gen) {
        m->rule_gen[r] = m->gen;
        m->cand_rules[m->ncand_rules++] = r;
    }
}

static void mark_atom(bv_matcher *m, uint32_t a)
{
    if (m->atom_gen[a] != m->gen) {
        m->atom_gen[a] = m->gen;
        const ratom *at = &m->rs->atoms[a];
        for (size_t k = 0; k < at->nrules; k++) {
            mark_rule(m, at->rules[k]);
        }
    }
}

static void cand_regex(bv_matcher *m, uint32_t a)
{
    if (m->cand_gen[a] != m->gen) {
        m->cand_gen[a] = m->gen;
        m->cand_regex[m->ncand_regex++] = a;
    }
}

/* 1 when the original text writes name with its capital inside a sentence: not at the start of
 * the text, nor after a full stop, question or exclamation mark, colon or line break. */
static int capital_mid_sentence(const char *text, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (text == NULL || n == 0 || len < n) {
        return 0;
    }
    for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), name, n)) != NULL; p++) {
        const char *end = p + n;
        int word_end = end == text + len || !(isalnum((unsigned char)*end) || (*end & 0x80));
        int word_start = p == text || !(isalnum((unsigned char)p[-1]) || (p[-1] & 0x80));
        if (!word_start || !word_end) {
            continue;
        }
        const char *q = p;
        while (q > text && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '"' || q[-1] == '\'' ||
                            q[-1] == '(' || q[-1] == '#' || q[-1] == '@')) {
            q--;
        }
        if (q > text && !strchr(".!?:\n\r", q[-1])) {
            return 1;
        }
        if ((size_t)(p - text) + 1 >= len) {
            break;
        }
    }
    return 0;
}

/* One occurrence of a place's name: counted once per post, a name that is also a word only
 * with context. */
static void on_place(bv_matcher *m, uint32_t e, unsigned long long to)
{
    if (m->place_gen[e] == m->gen) {
        return;
    }
    const bv_place *pl = bv_gazetteer_get(m->rs->places, e);
    if (pl->needs_context) {
        /* a preposition before this or a later occurrence, or a capital inside a sentence */
        size_t start = (size_t)to - pl->norm_len - 1;
        int prep = pl->needs_context == 1; /* "in een tent" names no place */
        int ok = prep && bv_place_after_preposition(m->norm, m->normlen, start);
        for (size_t at = start + pl->norm_len; prep && !ok && at < m->normlen;) {
            const char *nx = memmem(m->norm + at, m->normlen - at, pl->norm, pl->norm_len);
            if (nx == NULL) {
                break;
            }
            size_t s0 = (size_t)(nx - m->norm);
            size_t s1 = s0 + pl->norm_len;
            ok = nx[-1] == ' ' && s1 < m->normlen && m->norm[s1] == ' ' &&
                 bv_place_after_preposition(m->norm, m->normlen, s0);
            at = s1;
        }
        if (!ok && m->cap_gen[e] != m->gen) {
            m->cap_gen[e] = m->gen;
            ok = capital_mid_sentence(m->text, m->textlen, pl->name);
        }
        if (!ok) {
            return;
        }
    }
    m->place_gen[e] = m->gen;
    if (m->nplaces < PLACES_PER_POST) {
        m->places[m->nplaces++] = e;
    }
}

static int cmp_u32(const void *a, const void *b);

/* place: atoms from the places found. */
static void mark_place_atoms(bv_matcher *m)
{
    const bv_ruleset *rs = m->rs;
    if (m->nplaces == 0) {
        return;
    }
    for (size_t k = 0; k < rs->nplace_atoms; k++) {
        uint32_t ai = rs->place_atoms[k];
        const ratom *a = &rs->atoms[ai];
        int hit = a->place_mode == PLACE_ANY;
        for (size_t i = 0; i < m->nplaces && !hit; i++) {
            hit = bsearch(&m->places[i], a->place_entries, a->nplace_entries,
                          sizeof *a->place_entries, cmp_u32) != NULL;
        }
        if (hit) {
            mark_atom(m, ai);
        }
    }
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    bv_matcher *m = ctx;
    const bv_ruleset *rs = m->rs;
    if (rs->places && id >= rs->place_base) {
        on_place(m, id - rs->place_base, to);
        return 0;
    }
    if (id < rs->npats) {
        const rpat *p = &rs->pats[id];
        for (size_t k = 0; k < p->natoms; k++) {
            mark_atom(m, p->atoms[k]);
        }
    } else {
        cand_regex(m, (uint32_t)(id - rs->npats));
    }
    return 0;
}

static int re_matches(bv_matcher *m, const pcre2_code *re, const char *s, size_t len)
{
    /* limits hit (PCRE2_ERROR_MATCHLIMIT, ...) count as no match, on both paths alike */
    return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, m->md, m->mctx) >= 0;
}

static int lang_ok(const bv_rule *r, const bv_post *p)
{
    size_t pl = strnlen(p->lang, sizeof p->lang);
    if (r->nlanguages == 0 || pl == 0) {
        return 1;
    }
    for (size_t i = 0; i < r->nlanguages; i++) {
        size_t n = strlen(r->languages[i]);
        if (n <= pl && strncasecmp(p->lang, r->languages[i], n) == 0 &&
            (n == pl || p->lang[n] == '-' || p->lang[n] == '_')) {
            return 1;
        }
    }
    return 0;
}

/* Platform and language filters; a NULL post (examples) passes every filter. */
static int filters_ok(const bv_rule *r, const bv_post *p)
{
    if (p == NULL) {
        return 1;
    }
    if (r->platform_mask != 0 &&
        ((unsigned)p->platform >= 32 || !(r->platform_mask & (1u << p->platform)))) {
        return 0;
    }
    return lang_ok(r, p);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_u32(uint32_t *v, size_t n)
{
    if (n > 24) {
        qsort(v, n, sizeof *v, cmp_u32);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* One scan with Vectorscan marks keyword atoms and regex candidates; pcre2 confirms the
 * candidates; only rules with a hit atom (or that hold with none) are evaluated. */
static int match_text(bv_matcher *m, const bv_post *post, const char *text, const char *norm,
                      size_t normlen, uint32_t *hits);

int bv_match(bv_matcher *m, const bv_post *post, const char *norm, size_t normlen, uint32_t *hits)
{
    return match_text(m, post, post ? post->text : NULL, norm, normlen, hits);
}

/* bv_match with the original text given apart (examples have a text but no post). */
static int match_text(bv_matcher *m, const bv_post *post, const char *text, const char *norm,
                      size_t normlen, uint32_t *hits)
{
    const bv_ruleset *rs = m->rs;
    if (normlen > UINT_MAX) {
        return BV_ELIMIT;
    }
    next_gen(m);
    m->norm = norm;
    m->normlen = normlen;
    m->text = text;
    m->textlen = text ? strlen(text) : 0;
    if (rs->db != NULL) {
        if (hs_scan(rs->db, norm, (unsigned)normlen, 0, m->scratch, on_match, m) != HS_SUCCESS) {
            return BV_ERR;
        }
    }
    mark_place_atoms(m);
    for (size_t i = 0; i < rs->nalways_regex; i++) {
        cand_regex(m, rs->always_regex[i]);
    }
    for (size_t i = 0; i < m->ncand_regex; i++) {
        uint32_t a = m->cand_regex[i];
        if (re_matches(m, rs->atoms[a].re, norm, normlen)) {
            mark_atom(m, a);
        }
    }
    for (size_t i = 0; i < rs->nalways_rules; i++) {
        mark_rule(m, rs->always_rules[i]);
    }
    /* hits go out in ascending order: few candidates are sorted, many are collected by a
     * pass over the rules' marks */
    if (m->ncand_rules * 8 > rs->nrules) {
        size_t k = 0;
        for (size_t i = 0; i < rs->nrules; i++) {
            if (m->rule_gen[i] == m->gen) {
                m->cand_rules[k++] = (uint32_t)i;
            }
        }
    } else {
        sort_u32(m->cand_rules, m->ncand_rules);
    }
    int n = 0;
    for (size_t i = 0; i < m->ncand_rules; i++) {
        const rrule *r = &rs->rules[m->cand_rules[i]];
        if (filters_ok(&r->pub, post) && eval(r, r->root, m->atom_gen, m->gen)) {
            hits[n++] = m->cand_rules[i];
        }
    }
    return n;
}

/* Every pattern of every atom in use through pcre2, then every rule: the baseline the fast
 * path must agree with. */
int bv_match_reference(bv_matcher *m, const bv_post *post, const char *norm, size_t normlen,
                       uint32_t *hits)
{
    const bv_ruleset *rs = m->rs;
    next_gen(m);
    m->norm = norm;
    m->normlen = normlen;
    m->text = post && post->text ? post->text : NULL;
    m->textlen = m->text ? strlen(m->text) : 0;
    /* places: every name searched for on its own (the order found may differ; the set not) */
    for (size_t e = 0; rs->places && e < bv_gazetteer_count(rs->places); e++) {
        const bv_place *pl = bv_gazetteer_get(rs->places, e);
        if (bv_gazetteer_find(rs->places, pl->norm, pl->norm_len) != (long)e) {
            continue; /* one pattern per normalised name, as in the database */
        }
        for (size_t at = 0; at + pl->norm_len + 2 <= normlen; at++) {
            if (norm[at] == ' ' && memcmp(norm + at + 1, pl->norm, pl->norm_len) == 0 &&
                norm[at + 1 + pl->norm_len] == ' ') {
                on_place(m, (uint32_t)e, at + pl->norm_len + 2);
            }
        }
    }
    for (size_t i = 0; i < rs->nplace_atoms; i++) {
        const ratom *a = &rs->atoms[rs->place_atoms[i]];
        int hit = m->nplaces > 0 && a->place_mode == PLACE_ANY;
        for (size_t k = 0; k < m->nplaces && !hit; k++) {
            for (size_t q = 0; q < a->nplace_entries && !hit; q++) {
                hit = a->place_entries[q] == m->places[k];
            }
        }
        if (hit) {
            m->atom_gen[rs->place_atoms[i]] = m->gen;
        }
    }
    for (size_t i = 0; i < rs->natoms; i++) {
        const ratom *a = &rs->atoms[i];
        if (a->nrules == 0 || a->kind == ATOM_PLACE) {
            continue;
        }
        int hit = 0;
        if (a->kind == ATOM_REGEX) {
            hit = re_matches(m, a->re, norm, normlen);
        } else {
            for (size_t k = 0; k < a->npats && !hit; k++) {
                hit = re_matches(m, rs->pats[a->pats[k]].re, norm, normlen);
            }
        }
        if (hit) {
            m->atom_gen[i] = m->gen;
        }
    }
    int n = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const rrule *r = &rs->rules[i];
        if (filters_ok(&r->pub, post) && eval(r, r->root, m->atom_gen, m->gen)) {
            hits[n++] = (uint32_t)i;
        }
    }
    return n;
}

const struct bv_gazetteer *bv_rules_places(const bv_ruleset *rs)
{
    return rs->places;
}

size_t bv_match_places(const bv_matcher *m, const uint32_t **entries)
{
    *entries = m->places;
    return m->nplaces;
}

/* ---- examples and explain ---- */

int bv_rules_run_examples(const bv_ruleset *rs, FILE *out, size_t *total)
{
    size_t run = 0;
    int failed = 0;
    bv_matcher *m = bv_matcher_new(rs);
    uint32_t *hits = calloc(rs->nrules + 1, sizeof *hits);
    bv_buf nb = BV_BUF_INIT;
    if (m == NULL || hits == NULL) {
        bv_matcher_free(m);
        free(hits);
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < rs->nrules; i++) {
        const rrule *r = &rs->rules[i];
        for (size_t k = 0; k < r->nex; k++) {
            const rexample *x = &r->ex[k];
            if (bv_text_normalise(x->text, strlen(x->text), &nb) != BV_OK) {
                failed = BV_ENOMEM;
                goto done;
            }
            int n = match_text(m, NULL, x->text, nb.p, nb.len, hits);
            int got = 0;
            for (int j = 0; j < n; j++) {
                got |= hits[j] == (uint32_t)i;
            }
            run++;
            if (n < 0 || got != x->want) {
                failed++;
                if (out != NULL) {
                    fprintf(out, "%s:%d:%d: rule %s: example \"%s\" should %s\n", r->pub.file,
                            x->line, x->col, r->pub.id, x->text, x->want ? "match" : "not match");
                }
            }
        }
    }
done:
    if (total != NULL) {
        *total = run;
    }
    bv_buf_free(&nb);
    bv_matcher_free(m);
    free(hits);
    return failed;
}

static void explain_cond(const bv_ruleset *rs, const rrule *r, uint32_t ni, int depth, FILE *out)
{
    const rcond *c = &r->nodes[ni];
    fprintf(out, "%*s", 4 + 2 * depth, "");
    if (c->type == COND_ATOM) {
        const ratom *a = &rs->atoms[c->atom];
        static const char *const kinds[] = {"list", "regex", "keyword", "place"};
        fprintf(out, "%s %s%s%s\n", kinds[a->kind], a->kind == ATOM_KEYWORD ? "\"" : "", a->name,
                a->kind == ATOM_KEYWORD ? "\"" : "");
        return;
    }
    fprintf(out, "%s\n", c->type == COND_ANY ? "any" : c->type == COND_ALL ? "all" : "not");
    for (uint32_t k = 0; k < c->n; k++) {
        explain_cond(rs, r, r->kids[c->first + k], depth + 1, out);
    }
}

static void explain_atom(const bv_ruleset *rs, uint32_t ai, FILE *out)
{
    const ratom *a = &rs->atoms[ai];
    static const char *const kinds[] = {"list", "regex", "keyword", "place"};
    fprintf(out, "    %s %s (%s:%d:%d)\n", kinds[a->kind], a->name, a->file, a->line, a->col);
    if (a->kind == ATOM_PLACE) {
        size_t n = rs->places ? bv_gazetteer_count(rs->places) : 0;
        if (a->place_mode == PLACE_ANY) {
            fprintf(out, "      any of %zu place names (hs ids %u..%zu, every occurrence)\n", n,
                    rs->place_base, rs->place_base + n - 1);
        } else {
            fprintf(out,
                    "      %zu place names of the %zu (hs ids from %u); names that are also "
                    "words need a preposition or a capital\n",
                    a->nplace_entries, n, rs->place_base);
        }
        return;
    }
    if (a->kind == ATOM_REGEX) {
        if (a->always) {
            fprintf(out, "      not prefilterable: pcre2 runs /%s/ on every post\n", a->regex);
        } else {
            fprintf(out, "      hs id %zu  /%s/  PREFILTER|SINGLEMATCH; pcre2 (JIT) confirms\n",
                    rs->npats + ai, a->regex);
        }
        return;
    }
    for (size_t k = 0; k < a->npats; k++) {
        const char *e = rs->pats[a->pats[k]].expr;
        unsigned nopt = 0;
        for (const char *q = e; (q = strstr(q, " ?")) != NULL; q += 2) {
            nopt++;
        }
        if (nopt > 4) {
            fprintf(out, "      hs id %u  /%s/  SINGLEMATCH\n", a->pats[k], e);
        } else {
            fprintf(out, "      hs id %u  /%s/  SINGLEMATCH, as %u literal%s\n", a->pats[k], e,
                    1u << nopt, nopt ? "s" : "");
        }
    }
}

void bv_rules_explain(const bv_ruleset *rs, FILE *out)
{
    size_t nre = 0;
    for (size_t i = 0; i < rs->natoms; i++) {
        nre += rs->atoms[i].kind == ATOM_REGEX && rs->atoms[i].nrules > 0;
    }
    fprintf(out,
            "rule set: %zu rule%s, %u patterns in one Vectorscan block database (%zu keyword "
            "patterns, %zu regexes in use, %zu of them run by pcre2 on every post)\n",
            rs->nrules, rs->nrules == 1 ? "" : "s", rs->nhs, rs->npats, nre, rs->nalways_regex);
    fprintf(out, "text is normalised first: lower case, no diacritics, single spaces, a space at "
                 "both ends\n");
    char b1[32], b2[32], b3[32];
    for (size_t i = 0; i < rs->nrules; i++) {
        const rrule *r = &rs->rules[i];
        const bv_rule *p = &r->pub;
        fprintf(out, "\nrule %s (%s:%d): \"%s\", severity %s, cooldown %s\n", p->id, p->file,
                p->line, p->title, bv_severity_name(p->severity),
                bv_duration_format(p->cooldown_ms, b1));
        fprintf(out, "  condition (%s):\n",
                r->always ? "holds with no atom: evaluated on every post"
                          : "evaluated when one of its atoms hits");
        explain_cond(rs, r, r->root, 0, out);
        fprintf(out, "  atoms:\n");
        /* each atom once, in the order of first use */
        for (size_t n = 0; n < r->nnodes; n++) {
            if (r->nodes[n].type != COND_ATOM) {
                continue;
            }
            int seen = 0;
            for (size_t q = 0; q < n; q++) {
                seen |= r->nodes[q].type == COND_ATOM && r->nodes[q].atom == r->nodes[n].atom;
            }
            if (!seen) {
                explain_atom(rs, r->nodes[n].atom, out);
            }
        }
        if (p->platform_mask != 0) {
            fprintf(out, "  platforms:");
            for (int k = 0; k < BV_PLATFORM__COUNT; k++) {
                if (p->platform_mask & (1u << k)) {
                    fprintf(out, " %s", bv_platform_name((bv_platform)k));
                }
            }
            fprintf(out, "\n");
        }
        if (p->nlanguages > 0) {
            fprintf(out, "  languages:");
            for (size_t k = 0; k < p->nlanguages; k++) {
                fprintf(out, " %s", p->languages[k]);
            }
            fprintf(out, " (a post without a language passes)\n");
        }
        fprintf(out, "  detectors (require %s):\n", p->require_any ? "any" : "all");
        for (size_t k = 0; k < p->ndetectors; k++) {
            const bv_detector_spec *d = &p->detectors[k];
            fprintf(out, "    %s window %s bucket %s", bv_det_type_name(d->type),
                    bv_duration_format(d->window_ms, b1), bv_duration_format(d->bucket_ms, b2));
            switch (d->type) {
            case BV_DET_THRESHOLD:
            case BV_DET_UNIQUE_AUTHORS:
                fprintf(out, " count %llu\n", (unsigned long long)d->count);
                break;
            case BV_DET_SPIKE:
                fprintf(out, " factor %g min_count %llu min_baseline %g baseline %s\n", d->factor,
                        (unsigned long long)d->min_count, d->min_baseline,
                        bv_duration_format(d->baseline_ms, b3));
                break;
            default:
                fprintf(out, " doubling %s periods %u min_count %llu\n",
                        bv_duration_format(d->doubling_ms, b3), d->periods,
                        (unsigned long long)d->min_count);
                break;
            }
        }
        if (p->nrecipients > 0) {
            fprintf(out, "  recipients:");
            for (size_t k = 0; k < p->nrecipients; k++) {
                fprintf(out, " %s", p->recipients[k]);
            }
            fprintf(out, "\n");
        }
        if (r->nex > 0) {
            fprintf(out, "  examples: %zu\n", r->nex);
        }
    }
}
