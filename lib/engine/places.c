/* places.c: the gazetteer: built-in names (places_data.inc, generated from data/places by
 * gen_places.py) and a municipality's own list; see places.h. */
#include "engine/places.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/utf8.h"
#include "engine/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct place_entry {
    const char *name;
    unsigned char kinds;
    unsigned char context;
    const char *official;
    unsigned first_home, nhomes; /* in builtin_homes */
};

#include "engine/places_data.inc"

struct bv_gazetteer {
    bv_place *v;
    size_t n, cap;
    size_t *order; /* indexes of v sorted by norm, for find */
    size_t norder;
};

static int by_norm(const void *a, const void *b, void *arg)
{
    const bv_place *v = arg;
    const bv_place *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
    size_t n = x->norm_len < y->norm_len ? x->norm_len : y->norm_len;
    int c = memcmp(x->norm, y->norm, n);
    if (c != 0) {
        return c;
    }
    if (x->norm_len != y->norm_len) {
        return x->norm_len < y->norm_len ? -1 : 1;
    }
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1; /* stable: the first added first */
}

static int reindex(bv_gazetteer *g)
{
    size_t *o = realloc(g->order, (g->n ? g->n : 1) * sizeof *o);
    if (o == NULL) {
        return BV_ENOMEM;
    }
    g->order = o;
    for (size_t i = 0; i < g->n; i++) {
        o[i] = i;
    }
    qsort_r(o, g->n, sizeof *o, by_norm, g->v);
    g->norder = g->n;
    return BV_OK;
}

/* Appends one place; name and official are copied. The normalised form drops the spaces that
 * normalisation puts around the text. BV_OK, BV_EINVAL (nothing left after normalising),
 * BV_ENOMEM. */
static int add(bv_gazetteer *g, const char *name, size_t len, unsigned kinds, int context,
               const char *official, bv_buf *scratch)
{
    if (bv_text_normalise_flags(name, len, scratch, BV_TEXT_NO_TAG_SPLIT) != 0) {
        return BV_ENOMEM;
    }
    const char *p = scratch->p;
    size_t n = scratch->len;
    while (n && *p == ' ') {
        p++;
        n--;
    }
    while (n && p[n - 1] == ' ') {
        n--;
    }
    if (n == 0) {
        return BV_EINVAL;
    }
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 4096;
        bv_place *nv = realloc(g->v, nc * sizeof *nv);
        if (nv == NULL) {
            return BV_ENOMEM;
        }
        g->v = nv;
        g->cap = nc;
    }
    bv_place *e = &g->v[g->n];
    memset(e, 0, sizeof *e);
    e->name = strndup(name, len);
    e->norm = strndup(p, n);
    e->official = official ? strdup(official) : NULL;
    if (e->name == NULL || e->norm == NULL || (official && e->official == NULL)) {
        free((void *)e->name);
        free((void *)e->norm);
        free((void *)e->official);
        return BV_ENOMEM;
    }
    e->norm_len = n;
    e->kinds = kinds;
    e->needs_context = context;
    g->n++;
    return BV_OK;
}

bv_gazetteer *bv_gazetteer_new(void)
{
    bv_gazetteer *g = calloc(1, sizeof *g);
    bv_buf scratch = BV_BUF_INIT;
    if (g == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < BV_PLACES_BUILTIN; i++) {
        const struct place_entry *b = &builtin_places[i];
        int rc = add(g, b->name, strlen(b->name), b->kinds, b->context, b->official, &scratch);
        if (rc == BV_EINVAL) {
            continue; /* cannot happen with the register's names: each has a letter */
        }
        if (rc != BV_OK) {
            goto fail;
        }
        g->v[g->n - 1].homes = b->nhomes ? &builtin_homes[b->first_home] : NULL;
        g->v[g->n - 1].nhomes = b->nhomes;
    }
    if (reindex(g) != BV_OK) {
        goto fail;
    }
    bv_buf_free(&scratch);
    return g;
fail:
    bv_buf_free(&scratch);
    bv_gazetteer_free(g);
    return NULL;
}

void bv_gazetteer_free(bv_gazetteer *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->n; i++) {
        free((void *)g->v[i].name);
        free((void *)g->v[i].norm);
        free((void *)g->v[i].official);
    }
    free(g->v);
    free(g->order);
    free(g);
}

size_t bv_gazetteer_count(const bv_gazetteer *g)
{
    return g->n;
}

const bv_place *bv_gazetteer_get(const bv_gazetteer *g, size_t i)
{
    return i < g->n ? &g->v[i] : NULL;
}

long bv_gazetteer_find(const bv_gazetteer *g, const char *norm, size_t len)
{
    size_t lo = 0, hi = g->norder;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const bv_place *e = &g->v[g->order[mid]];
        size_t n = e->norm_len < len ? e->norm_len : len;
        int c = memcmp(e->norm, norm, n);
        if (c == 0 && e->norm_len != len) {
            c = e->norm_len < len ? -1 : 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < g->norder) {
        const bv_place *e = &g->v[g->order[lo]];
        if (e->norm_len == len && memcmp(e->norm, norm, len) == 0) {
            return (long)g->order[lo];
        }
    }
    return -1;
}

int bv_gazetteer_add_extra(bv_gazetteer *g, const char *name, const char *text, size_t len,
                           bv_diag *diag)
{
    if (len > BV_PLACES_EXTRA_MAX_BYTES) {
        bv_diag_set(diag, name, 0, 0, "larger than %u bytes", BV_PLACES_EXTRA_MAX_BYTES);
        return BV_ELIMIT;
    }
    size_t n0 = g->n;
    bv_buf scratch = BV_BUF_INIT;
    int rc = BV_OK, line = 1;
    size_t i = 0;
    while (i < len && rc == BV_OK) {
        size_t start = i;
        while (i < len && text[i] != '\n') {
            i++;
        }
        size_t end = i;
        if (i < len) {
            i++; /* the LF */
        }
        if (end > start && text[end - 1] == '\r') {
            end--;
        }
        /* trim spaces and tabs */
        while (start < end && (text[start] == ' ' || text[start] == '\t')) {
            start++;
        }
        while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t')) {
            end--;
        }
        if (start == end || text[start] == '#') {
            line++;
            continue;
        }
        for (size_t k = start; k < end;) {
            size_t u = bv_utf8_seq((const unsigned char *)text + k, end - k);
            if (u == 0 || (u == 1 && ((unsigned char)text[k] < 0x20 || text[k] == 0x7f))) {
                bv_diag_set(diag, name, line, (int)(k - start) + 1,
                            u == 0 ? "not UTF-8" : "a control character in a place name");
                rc = BV_EINVAL;
                break;
            }
            k += u;
        }
        if (rc != BV_OK) {
            break;
        }
        if (end - start > BV_PLACES_NAME_MAX) {
            bv_diag_set(diag, name, line, 1, "a place name longer than %d bytes",
                        BV_PLACES_NAME_MAX);
            rc = BV_EINVAL;
            break;
        }
        if (g->n - n0 >= BV_PLACES_EXTRA_MAX_NAMES) {
            bv_diag_set(diag, name, line, 1, "more than %d place names", BV_PLACES_EXTRA_MAX_NAMES);
            rc = BV_ELIMIT;
            break;
        }
        rc = add(g, text + start, end - start, BV_PLACE_EXTRA, 0, NULL, &scratch);
        if (rc == BV_EINVAL) {
            bv_diag_set(diag, name, line, 1, "a place name needs a letter or a digit");
            break;
        }
        if (rc == BV_OK) {
            /* a name the gazetteer knew before adds nothing (it keeps its own kind and
             * context); the same name twice in one list is harmless */
            bv_place *e = &g->v[g->n - 1];
            if (bv_gazetteer_find(g, e->norm, e->norm_len) >= 0) {
                free((void *)e->name);
                free((void *)e->norm);
                g->n--;
            }
        }
        line++;
    }
    bv_buf_free(&scratch);
    if (rc == BV_OK) {
        rc = reindex(g);
    }
    if (rc != BV_OK) {
        /* nothing added on failure */
        for (size_t k = n0; k < g->n; k++) {
            free((void *)g->v[k].name);
            free((void *)g->v[k].norm);
            free((void *)g->v[k].official);
        }
        g->n = n0;
        if (rc == BV_ENOMEM) {
            bv_diag_set(diag, name, 0, 0, "out of memory");
        }
        reindex(g);
    }
    return rc;
}

int bv_gazetteer_load_extra(bv_gazetteer *g, const char *path, bv_diag *diag)
{
    char *text = NULL;
    size_t len = 0;
    int err = 0;
    int rc = bv_file_read(path, BV_PLACES_EXTRA_MAX_BYTES, &text, &len, &err);
    if (rc == BV_EIO) {
        bv_diag_set(diag, path, 0, 0, "cannot read: %s",
                    err == EINVAL ? "not a regular file" : strerror(err));
        return rc;
    }
    if (rc == BV_ELIMIT) {
        bv_diag_set(diag, path, 0, 0, "larger than %u bytes", BV_PLACES_EXTRA_MAX_BYTES);
        return rc;
    }
    if (rc != BV_OK) {
        return rc;
    }
    rc = bv_gazetteer_add_extra(g, path, text, len, diag);
    free(text);
    return rc;
}

int bv_place_after_preposition(const char *norm, size_t len, size_t start)
{
    static const char *const preps[] = {"in", "naar", "bij",      "op",     "uit",
                                        "te", "rond", "richting", "vanuit", "near",
                                        "at", "to",   "from",     "around"};
    if (start > len || start < 2 || norm[start - 1] != ' ') {
        return 0;
    }
    size_t end = start - 1; /* the space before the name */
    size_t b = end;
    while (b > 0 && norm[b - 1] != ' ') {
        b--;
    }
    size_t n = end - b;
    for (size_t i = 0; i < sizeof preps / sizeof preps[0]; i++) {
        if (strlen(preps[i]) == n && memcmp(norm + b, preps[i], n) == 0) {
            return 1;
        }
    }
    return 0;
}
