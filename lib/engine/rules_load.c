/* rules_load.c: reading rule files (YAML through libyaml's document API) into a rule set:
 * lists, regexes, rules, detectors and examples, every error as file:line:col: message. */
#include "engine/detect.h"
#include "engine/rules_int.h"

#include "core/err.h"
#include "core/file.h"
#include "core/timeutil.h"
#include "engine/text.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

typedef struct named {
    char *name;
    uint32_t atom;
} named;

/* The state of loading one file. */
typedef struct ld {
    bv_ruleset *rs;
    const char *file; /* borrowed from rs->files */
    bv_diag *diag;
    yaml_document_t doc;
    uint8_t *seen; /* per node: already walked (a second visit means an alias) */
    size_t nseen;
    named *lists, *regexes;
    size_t nlists, nregexes;
    bv_buf nbuf;
    rrule *cur;         /* the rule being parsed */
    uint32_t cur_index; /* its index */
} ld;

static int fail_at(ld *l, int line, int col, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail_at(ld *l, int line, int col, const char *file, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bv_diag_set(l->diag, file ? file : l->file, line, col, "%s", msg);
    return BV_EINVAL;
}

static int fail(ld *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(ld *l, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bv_diag_set(l->diag, l->file, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1, "%s",
                msg);
    return BV_EINVAL;
}

/* Every node is walked at most once; libyaml resolves aliases into shared nodes, so a second
 * visit is an alias (refused: they buy nothing in a rule file and allow "billion laughs"). */
static int take(ld *l, int idx, yaml_node_t **out)
{
    yaml_node_t *n = yaml_document_get_node(&l->doc, idx);
    if (n == NULL || idx < 1 || (size_t)idx > l->nseen) {
        bv_diag_set(l->diag, l->file, 0, 0, "malformed YAML document");
        return BV_EINVAL;
    }
    if (l->seen[idx - 1]) {
        return fail(l, n, "YAML aliases are not supported in rule files");
    }
    l->seen[idx - 1] = 1;
    *out = n;
    return BV_OK;
}

static int scalar(ld *l, const yaml_node_t *n, const char *what, const char **s, size_t *len)
{
    *s = "";
    *len = 0;
    if (n->type != YAML_SCALAR_NODE) {
        return fail(l, n, "%s must be a string", what);
    }
    *s = (const char *)n->data.scalar.value;
    *len = n->data.scalar.length;
    if (memchr(*s, '\0', *len) != NULL) {
        return fail(l, n, "%s contains a NUL character", what);
    }
    return BV_OK;
}

static int dup_scalar(ld *l, const yaml_node_t *n, const char *what, char **out)
{
    const char *s;
    size_t len;
    int rc = scalar(l, n, what, &s, &len);
    if (rc != BV_OK) {
        return rc;
    }
    *out = strndup(s, len);
    return *out ? BV_OK : BV_ENOMEM;
}

static int is_name(const char *s, size_t len, int upper_ok)
{
    if (len == 0 || len > 64) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              (upper_ok && c >= 'A' && c <= 'Z'))) {
            return 0;
        }
    }
    return 1;
}

/* Grows *arr (of *cap elements of size sz) so that it holds at least need elements. */
static int grow(void *arr, size_t *cap, size_t need, size_t sz)
{
    void **p = arr;
    if (need <= *cap) {
        return BV_OK;
    }
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need) {
        nc *= 2;
    }
    void *np = realloc(*p, nc * sz);
    if (np == NULL) {
        return BV_ENOMEM;
    }
    *p = np;
    *cap = nc;
    return BV_OK;
}

/* Grows an array whose capacity is implied by its count (the next power of two >= max(n, 8),
 * or 0 when n is 0) so that it holds need elements. */
static int grow_n(void *arr, size_t n, size_t need, size_t sz)
{
    size_t cap = 0;
    if (n > 0) {
        cap = 8;
        while (cap < n) {
            cap *= 2;
        }
    }
    if (need <= cap) {
        return BV_OK;
    }
    return grow(arr, &cap, need, sz);
}

static int push_u32(uint32_t **arr, size_t *n, uint32_t v)
{
    if (grow_n(arr, *n, *n + 1, sizeof **arr) != BV_OK) {
        return BV_ENOMEM;
    }
    (*arr)[(*n)++] = v;
    return BV_OK;
}

/* Looks a mapping key up in a table of the keys allowed there; rejects unknown and repeated
 * keys. Returns the key's index or a negative bv_err. */
static int key_index(ld *l, const yaml_node_t *key, const char *const *names, size_t n,
                     uint32_t *mask, const char *where)
{
    const char *s;
    size_t len;
    int rc = scalar(l, key, "a key", &s, &len);
    if (rc != BV_OK) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            if (*mask & (1u << i)) {
                return fail(l, key, "duplicate key '%.*s' in %s", (int)len, s, where);
            }
            *mask |= 1u << i;
            return (int)i;
        }
    }
    char known[256];
    size_t k = 0;
    known[0] = '\0';
    for (size_t i = 0; i < n && k < sizeof known; i++) {
        k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", names[i]);
    }
    return fail(l, key, "unknown key '%.*s' in %s (expected %s)", (int)(len > 64 ? 64 : len), s,
                where, known);
}

static ratom *new_atom(ld *l, int kind, const yaml_node_t *at, uint32_t *index)
{
    bv_ruleset *rs = l->rs;
    if (rs->natoms >= RULES_MAX_ATOMS ||
        grow(&rs->atoms, &rs->capatoms, rs->natoms + 1, sizeof *rs->atoms) != BV_OK) {
        return NULL;
    }
    ratom *a = &rs->atoms[rs->natoms];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->file = l->file;
    a->line = (int)at->start_mark.line + 1;
    a->col = (int)at->start_mark.column + 1;
    *index = (uint32_t)rs->natoms++;
    return a;
}

/* The Vectorscan (and pcre2) pattern of one keyword, over normalised text: the normalised words
 * with a space before, "one space or none" between words, and a space after unless the keyword
 * ends in '*' (a prefix match). "Project X" -> " project ?x ", "feest*" -> " feest". Bytes
 * other than ASCII letters and digits are written as \xHH. On a bad keyword returns BV_EINVAL
 * with the reason in *why. */
static int keyword_expr(bv_buf *nb, const char *kw, size_t len, char **out, const char **why)
{
    while (len > 0 && (kw[len - 1] == ' ' || kw[len - 1] == '\t')) {
        len--;
    }
    int prefix = 0;
    if (len > 0 && kw[len - 1] == '*') {
        prefix = 1;
        len--;
    }
    if (memchr(kw, '*', len) != NULL) {
        *why = "'*' is allowed only at the end of a keyword (a prefix match)";
        return BV_EINVAL;
    }
    if (bv_text_normalise_flags(kw, len, nb, BV_TEXT_NO_TAG_SPLIT) != BV_OK) {
        return BV_ENOMEM;
    }
    if (nb->len <= 2) {
        *why = "empty keyword (no letters or digits)";
        return BV_EINVAL;
    }
    if (nb->len - 2 > RULES_MAX_KEYWORD) {
        *why = "keyword too long";
        return BV_EINVAL;
    }
    bv_buf e = BV_BUF_INIT;
    int rc = bv_buf_putc(&e, ' ');
    for (size_t i = 1; i + 1 < nb->len && rc == BV_OK; i++) {
        unsigned char c = (unsigned char)nb->p[i];
        if (c == ' ') {
            rc = bv_buf_puts(&e, " ?");
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            rc = bv_buf_putc(&e, (char)c);
        } else {
            rc = bv_buf_printf(&e, "\\x%02x", c);
        }
    }
    if (rc == BV_OK && !prefix) {
        rc = bv_buf_putc(&e, ' ');
    }
    if (rc != BV_OK) {
        bv_buf_free(&e);
        return BV_ENOMEM;
    }
    *out = bv_buf_steal(&e);
    return BV_OK;
}

static int atom_add_keyword(ld *l, ratom *a, const char *kw, size_t len, const char *file, int line,
                            int col)
{
    const char *why = NULL;
    char *e = NULL;
    int rc = keyword_expr(&l->nbuf, kw, len, &e, &why);
    if (rc == BV_EINVAL) {
        return fail_at(l, line, col, file, "%s", why);
    }
    if (rc != BV_OK) {
        return rc;
    }
    if (grow_n(&a->exprs, a->nexprs, a->nexprs + 1, sizeof *a->exprs) != BV_OK) {
        free(e);
        return BV_ENOMEM;
    }
    a->exprs[a->nexprs++] = e;
    return BV_OK;
}

/* {file: PATH}: one keyword per line, '#' starts a comment line, blank lines skipped; the path
 * is relative to the rule file's folder. */
static int load_list_file(ld *l, ratom *a, const yaml_node_t *pathnode)
{
    const char *p;
    size_t plen;
    int rc = scalar(l, pathnode, "file", &p, &plen);
    if (rc != BV_OK) {
        return rc;
    }
    if (plen == 0) {
        return fail(l, pathnode, "empty list file name");
    }
    bv_buf path = BV_BUF_INIT;
    const char *slash = strrchr(l->file, '/');
    if (p[0] != '/' && slash != NULL) {
        rc = bv_buf_append(&path, l->file, (size_t)(slash - l->file) + 1);
    }
    if (rc == BV_OK) {
        rc = bv_buf_append(&path, p, plen);
    }
    if (rc != BV_OK) {
        bv_buf_free(&path);
        return rc;
    }
    char *data = NULL;
    size_t len = 0;
    int err = 0;
    rc = bv_file_read(path.p, RULES_MAX_LIST_BYTES, &data, &len, &err);
    if (rc == BV_ENOMEM) {
        bv_buf_free(&path);
        return rc;
    }
    if (rc != BV_OK) {
        rc = fail(l, pathnode, "cannot read list file '%s': %s", path.p,
                  rc == BV_ELIMIT ? "larger than 1 MiB"
                                  : (err == EINVAL ? "not a regular file" : strerror(err)));
        bv_buf_free(&path);
        return rc;
    }
    /* the list file's name outlives this call in diagnostics only, so path stays local */
    int line = 0;
    size_t i = 0;
    rc = BV_OK;
    while (i < len && rc == BV_OK) {
        size_t e = i;
        while (e < len && data[e] != '\n') {
            e++;
        }
        line++;
        size_t s = i, t = e;
        while (s < t && (data[s] == ' ' || data[s] == '\t')) {
            s++;
        }
        while (t > s && (data[t - 1] == ' ' || data[t - 1] == '\t' || data[t - 1] == '\r')) {
            t--;
        }
        if (t > s && data[s] != '#') {
            if (memchr(data + s, '\0', t - s) != NULL) {
                rc = fail_at(l, line, (int)(s - i) + 1, path.p, "NUL character in list file");
            } else {
                rc = atom_add_keyword(l, a, data + s, t - s, path.p, line, (int)(s - i) + 1);
            }
        }
        i = e + 1;
    }
    if (rc == BV_OK && a->nexprs == 0) {
        rc = fail(l, pathnode, "list file '%s' has no keywords", path.p);
    }
    free(data);
    bv_buf_free(&path);
    return rc;
}

static int find_named(const named *t, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(t[i].name) == len && memcmp(t[i].name, s, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int add_named(named **t, size_t *n, const char *s, size_t len, uint32_t atom)
{
    if (grow_n(t, *n, *n + 1, sizeof **t) != BV_OK) {
        return BV_ENOMEM;
    }
    char *name = strndup(s, len);
    if (name == NULL) {
        return BV_ENOMEM;
    }
    (*t)[*n].name = name;
    (*t)[*n].atom = atom;
    (*n)++;
    return BV_OK;
}

static int parse_lists(ld *l, const yaml_node_t *m)
{
    if (m->type != YAML_MAPPING_NODE) {
        return fail(l, m, "'lists' must be a mapping of list names to keyword lists");
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k, *v;
        int rc = take(l, p->key, &k);
        if (rc == BV_OK) {
            rc = take(l, p->value, &v);
        }
        const char *s;
        size_t len;
        if (rc == BV_OK) {
            rc = scalar(l, k, "a list name", &s, &len);
        }
        if (rc != BV_OK) {
            return rc;
        }
        if (!is_name(s, len, 1)) {
            return fail(l, k, "bad list name '%.*s' (letters, digits, '_' and '-')",
                        (int)(len > 64 ? 64 : len), s);
        }
        if (find_named(l->lists, l->nlists, s, len) >= 0) {
            return fail(l, k, "duplicate list '%.*s'", (int)len, s);
        }
        uint32_t ai;
        ratom *a = new_atom(l, ATOM_LIST, k, &ai);
        if (a == NULL || (a->name = strndup(s, len)) == NULL ||
            add_named(&l->lists, &l->nlists, s, len, ai) != BV_OK) {
            return BV_ENOMEM;
        }
        if (v->type == YAML_SEQUENCE_NODE) {
            if (v->data.sequence.items.start == v->data.sequence.items.top) {
                return fail(l, v, "list '%s' is empty", a->name);
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                yaml_node_t *kn;
                const char *kw;
                size_t kwlen;
                rc = take(l, *it, &kn);
                if (rc == BV_OK) {
                    rc = scalar(l, kn, "a keyword", &kw, &kwlen);
                }
                if (rc == BV_OK) {
                    rc = atom_add_keyword(l, &l->rs->atoms[ai], kw, kwlen, NULL,
                                          (int)kn->start_mark.line + 1,
                                          (int)kn->start_mark.column + 1);
                }
                if (rc != BV_OK) {
                    return rc;
                }
            }
        } else if (v->type == YAML_MAPPING_NODE) {
            static const char *const keys[] = {"file"};
            uint32_t mask = 0;
            yaml_node_t *fnode = NULL;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                yaml_node_t *qk;
                rc = take(l, q->key, &qk);
                if (rc == BV_OK) {
                    rc = key_index(l, qk, keys, 1, &mask, "a list");
                }
                if (rc >= 0) {
                    rc = take(l, q->value, &fnode);
                }
                if (rc < 0) {
                    return rc;
                }
            }
            if (fnode == NULL) {
                return fail(l, v, "list '%s' needs 'file'", a->name);
            }
            rc = load_list_file(l, &l->rs->atoms[ai], fnode);
            if (rc != BV_OK) {
                return rc;
            }
        } else {
            return fail(l, v, "list '%s' must be a sequence of keywords or {file: PATH}", a->name);
        }
    }
    return BV_OK;
}

static int parse_regexes(ld *l, const yaml_node_t *m)
{
    if (m->type != YAML_MAPPING_NODE) {
        return fail(l, m, "'regexes' must be a mapping of names to regexes");
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k, *v;
        const char *s, *re;
        size_t len, relen;
        int rc = take(l, p->key, &k);
        if (rc == BV_OK) {
            rc = take(l, p->value, &v);
        }
        if (rc == BV_OK) {
            rc = scalar(l, k, "a regex name", &s, &len);
        }
        if (rc == BV_OK) {
            rc = scalar(l, v, "a regex", &re, &relen);
        }
        if (rc != BV_OK) {
            return rc;
        }
        if (!is_name(s, len, 1)) {
            return fail(l, k, "bad regex name '%.*s' (letters, digits, '_' and '-')",
                        (int)(len > 64 ? 64 : len), s);
        }
        if (find_named(l->regexes, l->nregexes, s, len) >= 0) {
            return fail(l, k, "duplicate regex '%.*s'", (int)len, s);
        }
        if (relen == 0) {
            return fail(l, v, "empty regex");
        }
        if (relen > RULES_MAX_REGEX) {
            return fail(l, v, "regex longer than %u bytes", RULES_MAX_REGEX);
        }
        uint32_t ai;
        ratom *a = new_atom(l, ATOM_REGEX, k, &ai);
        if (a == NULL || (a->name = strndup(s, len)) == NULL ||
            (a->regex = strndup(re, relen)) == NULL ||
            add_named(&l->regexes, &l->nregexes, s, len, ai) != BV_OK) {
            return BV_ENOMEM;
        }
        /* Byte mode, never UTF: the normalised text needs no Unicode classes, and Vectorscan's
         * prefilter (also byte mode) must see the same pattern language. */
        int errcode;
        PCRE2_SIZE off;
        a->re = pcre2_compile((PCRE2_SPTR)re, relen, PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &errcode,
                              &off, NULL);
        if (a->re == NULL) {
            char msg[256];
            pcre2_get_error_message(errcode, (PCRE2_UCHAR *)msg, sizeof msg);
            int quoted = v->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                         v->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
            return fail_at(
                l, (int)v->start_mark.line + 1, (int)v->start_mark.column + 1 + quoted + (int)off,
                NULL, "regex '%s' does not compile: %s (at offset %zu)", a->name, msg, (size_t)off);
        }
        (void)pcre2_jit_compile(a->re, PCRE2_JIT_COMPLETE); /* the interpreter when JIT fails */
    }
    return BV_OK;
}

/* Records that the current rule uses atom ai (atoms keep the ascending list of their rules). */
static int use_atom(ld *l, uint32_t ai)
{
    ratom *a = &l->rs->atoms[ai];
    if (a->nrules > 0 && a->rules[a->nrules - 1] == l->cur_index) {
        return BV_OK;
    }
    return push_u32(&a->rules, &a->nrules, l->cur_index);
}

static int new_node(ld *l, const yaml_node_t *at, uint32_t *out)
{
    rrule *r = l->cur;
    if (r->nnodes >= RULES_MAX_NODES) {
        return fail(l, at, "condition has more than %u parts", RULES_MAX_NODES);
    }
    if (grow_n(&r->nodes, r->nnodes, r->nnodes + 1, sizeof *r->nodes) != BV_OK) {
        return BV_ENOMEM;
    }
    memset(&r->nodes[r->nnodes], 0, sizeof *r->nodes);
    *out = (uint32_t)r->nnodes++;
    return BV_OK;
}

static const char cond_help[] =
    "a condition is {list: NAME}, {regex: NAME}, {keyword: TEXT}, {place: any|own|[NAMES]}, "
    "{any: [...]}, {all: [...]} or {not: CONDITION}";

/* {place: any}, {place: own} or {place: [NAME, ...]}: a new PLACE atom in *ai. */
static int parse_place(ld *l, const yaml_node_t *v, uint32_t *ai)
{
    ratom *a = new_atom(l, ATOM_PLACE, v, ai);
    if (a == NULL) {
        return BV_ENOMEM;
    }
    if (v->type == YAML_SCALAR_NODE) {
        const char *s;
        size_t len;
        int rc = scalar(l, v, "any, own or a list of place names", &s, &len);
        if (rc != BV_OK) {
            return rc;
        }
        if (len == 3 && memcmp(s, "any", 3) == 0) {
            a->place_mode = PLACE_ANY;
        } else if (len == 3 && memcmp(s, "own", 3) == 0) {
            a->place_mode = PLACE_OWN;
        } else {
            return fail(l, v, "'place' takes any, own or a list of place names, not '%.*s'",
                        (int)(len > 64 ? 64 : len), s);
        }
        a->name = strndup(s, len);
        return a->name ? BV_OK : BV_ENOMEM;
    }
    if (v->type != YAML_SEQUENCE_NODE ||
        v->data.sequence.items.start == v->data.sequence.items.top) {
        return fail(l, v, "'place' takes any, own or a non-empty list of place names");
    }
    a->place_mode = PLACE_NAMES;
    a->name = strdup("[names]");
    if (a->name == NULL) {
        return BV_ENOMEM;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *c;
        const char *s;
        size_t len;
        int rc = take(l, *it, &c);
        if (rc == BV_OK) {
            rc = scalar(l, c, "a place name", &s, &len);
        }
        if (rc != BV_OK) {
            return rc;
        }
        if (len == 0 || len > BV_PLACES_NAME_MAX) {
            return fail(l, c, "a place name of 1 to %d bytes", BV_PLACES_NAME_MAX);
        }
        if (grow_n(&a->place_names, a->nplace_names, a->nplace_names + 1, sizeof *a->place_names) !=
                BV_OK ||
            (a->place_names[a->nplace_names] = strndup(s, len)) == NULL) {
            return BV_ENOMEM;
        }
        a->nplace_names++;
    }
    return BV_OK;
}

static int parse_cond(ld *l, const yaml_node_t *n, int depth, uint32_t *out)
{
    if (depth > RULES_MAX_DEPTH) {
        return fail(l, n, "conditions nested deeper than %d", RULES_MAX_DEPTH);
    }
    if (n->type != YAML_MAPPING_NODE ||
        n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1) {
        return fail(l, n, "%s", cond_help);
    }
    static const char *const keys[] = {"list", "regex", "keyword", "any", "all", "not", "place"};
    yaml_node_pair_t *p = n->data.mapping.pairs.start;
    yaml_node_t *k, *v;
    uint32_t mask = 0;
    int rc = take(l, p->key, &k);
    if (rc == BV_OK) {
        rc = key_index(l, k, keys, 7, &mask, "a condition");
    }
    int which = rc;
    if (rc >= 0) {
        rc = take(l, p->value, &v);
    }
    if (rc < 0) {
        return rc;
    }
    uint32_t me = 0;
    if ((rc = new_node(l, n, &me)) != BV_OK) {
        return rc;
    }
    const char *s;
    size_t len;
    if (which <= 2 || which == 6) {
        uint32_t ai;
        if (which == 6) {
            if ((rc = parse_place(l, v, &ai)) != BV_OK) {
                return rc;
            }
        } else if (which == 2) {
            if ((rc = scalar(l, v, "a keyword", &s, &len)) != BV_OK) {
                return rc;
            }
            ratom *a = new_atom(l, ATOM_KEYWORD, v, &ai);
            if (a == NULL || (a->name = strndup(s, len)) == NULL) {
                return BV_ENOMEM;
            }
            rc = atom_add_keyword(l, a, s, len, NULL, (int)v->start_mark.line + 1,
                                  (int)v->start_mark.column + 1);
            if (rc != BV_OK) {
                return rc;
            }
        } else {
            if ((rc = scalar(l, v, which == 0 ? "a list name" : "a regex name", &s, &len)) !=
                BV_OK) {
                return rc;
            }
            int f = which == 0 ? find_named(l->lists, l->nlists, s, len)
                               : find_named(l->regexes, l->nregexes, s, len);
            if (f < 0) {
                return fail(l, v, "unknown %s '%.*s'", which == 0 ? "list" : "regex",
                            (int)(len > 64 ? 64 : len), s);
            }
            ai = which == 0 ? l->lists[f].atom : l->regexes[f].atom;
        }
        l->cur->nodes[me].type = COND_ATOM;
        l->cur->nodes[me].atom = ai;
        *out = me;
        return use_atom(l, ai);
    }
    uint32_t kidbuf[64];
    uint32_t *kids = kidbuf;
    size_t nk = 0, capk = 64;
    if (which == 5) {
        if ((rc = parse_cond(l, v, depth + 1, &kids[0])) != BV_OK) {
            return rc;
        }
        nk = 1;
    } else {
        if (v->type != YAML_SEQUENCE_NODE ||
            v->data.sequence.items.start == v->data.sequence.items.top) {
            return fail(l, v, "'%s' needs a non-empty sequence of conditions", keys[which]);
        }
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *c;
            if ((rc = take(l, *it, &c)) != BV_OK) {
                break;
            }
            if (nk == capk) {
                uint32_t *nkids = malloc(capk * 2 * sizeof *nkids);
                if (nkids == NULL) {
                    rc = BV_ENOMEM;
                    break;
                }
                memcpy(nkids, kids, nk * sizeof *kids);
                if (kids != kidbuf) {
                    free(kids);
                }
                kids = nkids;
                capk *= 2;
            }
            if ((rc = parse_cond(l, c, depth + 1, &kids[nk])) != BV_OK) {
                break;
            }
            nk++;
        }
    }
    rrule *r = l->cur;
    if (rc == BV_OK) {
        if (grow_n(&r->kids, r->nkids, r->nkids + nk, sizeof *r->kids) != BV_OK) {
            rc = BV_ENOMEM;
        }
    }
    if (rc == BV_OK) {
        memcpy(r->kids + r->nkids, kids, nk * sizeof *kids);
        r->nodes[me].type = which == 3 ? COND_ANY : which == 4 ? COND_ALL : COND_NOT;
        r->nodes[me].first = (uint32_t)r->nkids;
        r->nodes[me].n = (uint32_t)nk;
        r->nkids += nk;
        *out = me;
    }
    if (kids != kidbuf) {
        free(kids);
    }
    return rc;
}

static int parse_u64(ld *l, const yaml_node_t *n, const char *what, uint64_t *out)
{
    const char *s;
    size_t len;
    int rc = scalar(l, n, what, &s, &len);
    if (rc != BV_OK) {
        return rc;
    }
    uint64_t v = 0;
    if (len == 0 || len > 12) {
        return fail(l, n, "%s must be a whole number", what);
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return fail(l, n, "%s must be a whole number", what);
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return BV_OK;
}

static int parse_double(ld *l, const yaml_node_t *n, const char *what, double *out)
{
    const char *s;
    size_t len;
    int rc = scalar(l, n, what, &s, &len);
    if (rc != BV_OK) {
        return rc;
    }
    char tmp[64];
    if (len == 0 || len >= sizeof tmp) {
        return fail(l, n, "%s must be a number", what);
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(tmp, &end);
    if (*end != '\0' || errno != 0 || !isfinite(d) || d < 0 || tmp[0] == '-' || tmp[0] == ' ') {
        return fail(l, n, "%s must be a number >= 0", what);
    }
    *out = d;
    return BV_OK;
}

static int parse_duration(ld *l, const yaml_node_t *n, const char *what, int64_t *out)
{
    const char *s;
    size_t len;
    int rc = scalar(l, n, what, &s, &len);
    if (rc != BV_OK) {
        return rc;
    }
    if (bv_duration_parse(s, len, out) != BV_OK || *out < 0 || *out > 366LL * 86400000) {
        return fail(l, n, "%s: bad duration '%.*s' (e.g. 30s, 5m, 2h, 1d)", what,
                    (int)(len > 32 ? 32 : len), s);
    }
    return BV_OK;
}

enum {
    DK_TYPE = 0,
    DK_WINDOW,
    DK_BUCKET,
    DK_COUNT,
    DK_FACTOR,
    DK_MIN_COUNT,
    DK_MIN_BASELINE,
    DK_BASELINE,
    DK_DOUBLING,
    DK_PERIODS,
    DK_MEASURE,
    DK__N
};

/* Which keys each detector type takes (bit per DK_*). */
static const uint32_t det_keys[BV_DET__COUNT] = {
    [BV_DET_THRESHOLD] = 1u << DK_TYPE | 1u << DK_WINDOW | 1u << DK_BUCKET | 1u << DK_COUNT,
    [BV_DET_SPIKE] = 1u << DK_TYPE | 1u << DK_WINDOW | 1u << DK_BUCKET | 1u << DK_FACTOR |
                     1u << DK_MIN_COUNT | 1u << DK_MIN_BASELINE | 1u << DK_BASELINE,
    [BV_DET_UNIQUE_AUTHORS] = 1u << DK_TYPE | 1u << DK_WINDOW | 1u << DK_BUCKET | 1u << DK_COUNT,
    [BV_DET_GROWTH] = 1u << DK_TYPE | 1u << DK_WINDOW | 1u << DK_BUCKET | 1u << DK_MIN_COUNT |
                      1u << DK_DOUBLING | 1u << DK_PERIODS | 1u << DK_MEASURE,
};

static int parse_detector(ld *l, const yaml_node_t *n, bv_detector_spec *d)
{
    static const char *const keys[DK__N] = {"type",     "window",    "bucket",       "count",
                                            "factor",   "min_count", "min_baseline", "baseline",
                                            "doubling", "periods",   "measure"};
    if (n->type != YAML_MAPPING_NODE) {
        return fail(l, n, "a detector must be a mapping with a 'type'");
    }
    yaml_node_t *val[DK__N] = {0};
    yaml_node_t *keyn[DK__N] = {0};
    uint32_t mask = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k;
        int rc = take(l, p->key, &k);
        if (rc == BV_OK) {
            rc = key_index(l, k, keys, DK__N, &mask, "a detector");
        }
        if (rc < 0) {
            return rc;
        }
        keyn[rc] = k;
        int rc2 = take(l, p->value, &val[rc]);
        if (rc2 != BV_OK) {
            return rc2;
        }
    }
    if (val[DK_TYPE] == NULL) {
        return fail(l, n, "detector has no 'type' (threshold, spike, unique_authors, growth)");
    }
    const char *s;
    size_t len;
    int rc = scalar(l, val[DK_TYPE], "type", &s, &len);
    if (rc != BV_OK) {
        return rc;
    }
    int t = -1;
    for (int i = 0; i < BV_DET__COUNT; i++) {
        if (strlen(bv_det_type_name((bv_det_type)i)) == len &&
            memcmp(bv_det_type_name((bv_det_type)i), s, len) == 0) {
            t = i;
        }
    }
    if (t < 0) {
        return fail(l, val[DK_TYPE],
                    "unknown detector type '%.*s' (threshold, spike, unique_authors, growth)",
                    (int)(len > 32 ? 32 : len), s);
    }
    for (int i = 0; i < DK__N; i++) {
        if (keyn[i] && !(det_keys[t] & (1u << i))) {
            return fail(l, keyn[i], "'%s' does not apply to a %s detector", keys[i],
                        bv_det_type_name((bv_det_type)t));
        }
    }
    memset(d, 0, sizeof *d);
    d->type = (bv_det_type)t;
    d->window_ms = 600000;
    d->bucket_ms = 60000;
    d->factor = 3;
    d->min_count = 10;
    d->min_baseline = 1;
    d->periods = 3;
    if (val[DK_WINDOW] && (rc = parse_duration(l, val[DK_WINDOW], "window", &d->window_ms))) {
        return rc;
    }
    if (val[DK_BUCKET] && (rc = parse_duration(l, val[DK_BUCKET], "bucket", &d->bucket_ms))) {
        return rc;
    }
    if (d->bucket_ms <= 0) {
        return fail(l, val[DK_BUCKET], "bucket must be longer than 0");
    }
    const yaml_node_t *wat = val[DK_WINDOW] ? val[DK_WINDOW] : val[DK_BUCKET] ? val[DK_BUCKET] : n;
    if (d->window_ms <= 0) {
        return fail(l, wat, "window must be longer than 0");
    }
    char b1[32], b2[32];
    if (d->window_ms % d->bucket_ms != 0) {
        return fail(l, wat, "window %s is not a multiple of bucket %s",
                    bv_duration_format(d->window_ms, b1), bv_duration_format(d->bucket_ms, b2));
    }
    if (d->window_ms / d->bucket_ms > RULES_MAX_BUCKETS) {
        return fail(l, wat, "window has more than %d buckets", RULES_MAX_BUCKETS);
    }
    if (t == BV_DET_THRESHOLD || t == BV_DET_UNIQUE_AUTHORS) {
        if (val[DK_COUNT] == NULL) {
            return fail(l, n, "a %s detector needs 'count'", bv_det_type_name((bv_det_type)t));
        }
        if ((rc = parse_u64(l, val[DK_COUNT], "count", &d->count)) != BV_OK) {
            return rc;
        }
        if (d->count == 0) {
            return fail(l, val[DK_COUNT], "count must be at least 1");
        }
    }
    if (val[DK_FACTOR]) {
        if ((rc = parse_double(l, val[DK_FACTOR], "factor", &d->factor)) != BV_OK) {
            return rc;
        }
        if (!(d->factor > 1.0)) {
            return fail(l, val[DK_FACTOR], "factor must be greater than 1");
        }
    }
    if (val[DK_MIN_COUNT] &&
        (rc = parse_u64(l, val[DK_MIN_COUNT], "min_count", &d->min_count)) != BV_OK) {
        return rc;
    }
    if (val[DK_MIN_BASELINE] &&
        (rc = parse_double(l, val[DK_MIN_BASELINE], "min_baseline", &d->min_baseline))) {
        return rc;
    }
    d->baseline_ms = 6 * d->window_ms;
    if (val[DK_BASELINE]) {
        if ((rc = parse_duration(l, val[DK_BASELINE], "baseline", &d->baseline_ms)) != BV_OK) {
            return rc;
        }
        if (d->baseline_ms <= 0 || d->baseline_ms % d->window_ms != 0) {
            return fail(l, val[DK_BASELINE], "baseline %s is not a multiple of window %s",
                        bv_duration_format(d->baseline_ms, b1),
                        bv_duration_format(d->window_ms, b2));
        }
        if (d->baseline_ms / d->bucket_ms > 10 * RULES_MAX_BUCKETS) {
            return fail(l, val[DK_BASELINE], "baseline has too many buckets");
        }
    }
    d->doubling_ms = d->window_ms;
    if (val[DK_DOUBLING]) {
        if ((rc = parse_duration(l, val[DK_DOUBLING], "doubling", &d->doubling_ms)) != BV_OK) {
            return rc;
        }
        if (d->doubling_ms <= 0) {
            return fail(l, val[DK_DOUBLING], "doubling must be longer than 0");
        }
    }
    if (val[DK_PERIODS]) {
        uint64_t p;
        if ((rc = parse_u64(l, val[DK_PERIODS], "periods", &p)) != BV_OK) {
            return rc;
        }
        if (p < 1 || p > BV_DET_MAX_PERIODS) {
            return fail(l, val[DK_PERIODS], "periods must be between 1 and %d", BV_DET_MAX_PERIODS);
        }
        d->periods = (unsigned)p;
    }
    if (val[DK_MEASURE]) {
        if ((rc = scalar(l, val[DK_MEASURE], "measure", &s, &len)) != BV_OK) {
            return rc;
        }
        if (len == 7 && memcmp(s, "authors", 7) == 0) {
            d->by_authors = 1;
        } else if (!(len == 5 && memcmp(s, "posts", 5) == 0)) {
            return fail(l, val[DK_MEASURE], "measure must be posts or authors");
        }
    }
    return BV_OK;
}

static int parse_string_seq(ld *l, const yaml_node_t *n, const char *what, char ***out,
                            size_t *nout)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        return fail(l, n, "'%s' must be a sequence", what);
    }
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0) {
        return fail(l, n, "'%s' is empty", what);
    }
    *out = calloc(cnt, sizeof **out);
    if (*out == NULL) {
        return BV_ENOMEM;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *v;
        int rc = take(l, *it, &v);
        if (rc == BV_OK) {
            rc = dup_scalar(l, v, what, &(*out)[*nout]);
        }
        if (rc != BV_OK) {
            return rc;
        }
        (*nout)++;
        const char *s = (*out)[*nout - 1];
        if (strcmp(what, "languages") == 0) {
            size_t len = strlen(s);
            int ok = len >= 2 && len <= 15;
            for (size_t i = 0; i < len && ok; i++) {
                ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (i >= 2 && (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')));
            }
            if (!ok) {
                return fail(l, v, "bad language tag '%.32s' (e.g. nl, en, nl-NL)", s);
            }
        } else if (!is_name(s, strlen(s), 0)) {
            return fail(l, v, "bad %s entry '%.32s' (lower-case letters, digits, '_', '-')", what,
                        s);
        }
    }
    return BV_OK;
}

static int parse_examples(ld *l, const yaml_node_t *n)
{
    static const char *const keys[] = {"match", "no_match"};
    if (n->type != YAML_MAPPING_NODE) {
        return fail(l, n, "'examples' must be a mapping with match and no_match");
    }
    uint32_t mask = 0;
    rrule *r = l->cur;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k, *v;
        int rc = take(l, p->key, &k);
        if (rc == BV_OK) {
            rc = key_index(l, k, keys, 2, &mask, "examples");
        }
        int want = rc == 0;
        if (rc >= 0) {
            rc = take(l, p->value, &v);
        }
        if (rc < 0) {
            return rc;
        }
        if (v->type != YAML_SEQUENCE_NODE) {
            return fail(l, v, "examples '%s' must be a sequence of texts", keys[!want]);
        }
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *e;
            if ((rc = take(l, *it, &e)) != BV_OK) {
                return rc;
            }
            if (grow_n(&r->ex, r->nex, r->nex + 1, sizeof *r->ex) != BV_OK) {
                return BV_ENOMEM;
            }
            rexample *x = &r->ex[r->nex];
            memset(x, 0, sizeof *x);
            if ((rc = dup_scalar(l, e, "an example", &x->text)) != BV_OK) {
                return rc;
            }
            x->line = (int)e->start_mark.line + 1;
            x->col = (int)e->start_mark.column + 1;
            x->want = want;
            r->nex++;
        }
    }
    return BV_OK;
}

enum {
    RK_ID = 0,
    RK_TITLE,
    RK_SEVERITY,
    RK_RECIPIENTS,
    RK_COOLDOWN,
    RK_PLATFORMS,
    RK_LANGUAGES,
    RK_MATCH,
    RK_DETECTORS,
    RK_REQUIRE,
    RK_EXAMPLES,
    RK__N
};

static int parse_rule(ld *l, const yaml_node_t *n)
{
    static const char *const keys[RK__N] = {"id",        "title",     "severity",  "recipients",
                                            "cooldown",  "platforms", "languages", "match",
                                            "detectors", "require",   "examples"};
    bv_ruleset *rs = l->rs;
    if (n->type != YAML_MAPPING_NODE) {
        return fail(l, n, "a rule must be a mapping");
    }
    if (rs->nrules >= RULES_MAX_RULES) {
        return fail(l, n, "more than %d rules", RULES_MAX_RULES);
    }
    if (grow(&rs->rules, &rs->caprules, rs->nrules + 1, sizeof *rs->rules) != BV_OK) {
        return BV_ENOMEM;
    }
    rrule *r = &rs->rules[rs->nrules];
    memset(r, 0, sizeof *r);
    l->cur = r;
    l->cur_index = (uint32_t)rs->nrules;
    rs->nrules++; /* counted now so a half-built rule is freed with the set */
    bv_rule *pub = &r->pub;
    pub->file = (char *)l->file;
    pub->line = (int)n->start_mark.line + 1;
    pub->severity = BV_SEV_WARNING;
    pub->cooldown_ms = 30 * 60000;

    yaml_node_t *val[RK__N] = {0};
    uint32_t mask = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k;
        int rc = take(l, p->key, &k);
        if (rc == BV_OK) {
            rc = key_index(l, k, keys, RK__N, &mask, "a rule");
        }
        if (rc < 0) {
            return rc;
        }
        if ((rc = take(l, p->value, &val[rc])) != BV_OK) {
            return rc;
        }
    }
    const char *s;
    size_t len;
    int rc;
    if (val[RK_ID] == NULL) {
        return fail(l, n, "rule has no 'id'");
    }
    if ((rc = scalar(l, val[RK_ID], "id", &s, &len)) != BV_OK) {
        return rc;
    }
    if (!is_name(s, len, 0)) {
        return fail(l, val[RK_ID], "bad rule id '%.*s' (a-z, 0-9, '_', '-'; at most 64)",
                    (int)(len > 64 ? 64 : len), s);
    }
    for (size_t i = 0; i + 1 < rs->nrules; i++) {
        const bv_rule *o = &rs->rules[i].pub;
        if (strlen(o->id) == len && memcmp(o->id, s, len) == 0) {
            return fail(l, val[RK_ID], "duplicate rule id '%.*s' (first at %s:%d)", (int)len, s,
                        o->file, o->line);
        }
    }
    if ((pub->id = strndup(s, len)) == NULL) {
        return BV_ENOMEM;
    }
    if (val[RK_TITLE]) {
        if ((rc = dup_scalar(l, val[RK_TITLE], "title", &pub->title)) != BV_OK) {
            return rc;
        }
    } else if ((pub->title = strdup(pub->id)) == NULL) {
        return BV_ENOMEM;
    }
    if (val[RK_SEVERITY]) {
        if ((rc = scalar(l, val[RK_SEVERITY], "severity", &s, &len)) != BV_OK) {
            return rc;
        }
        int found = 0;
        for (int i = 0; i <= BV_SEV_CRITICAL; i++) {
            const char *nm = bv_severity_name((bv_severity)i);
            if (strlen(nm) == len && memcmp(nm, s, len) == 0) {
                pub->severity = (bv_severity)i;
                found = 1;
            }
        }
        if (!found) {
            return fail(l, val[RK_SEVERITY], "unknown severity '%.*s' (info, warning, critical)",
                        (int)(len > 32 ? 32 : len), s);
        }
    }
    if (val[RK_REQUIRE]) {
        if ((rc = scalar(l, val[RK_REQUIRE], "require", &s, &len)) != BV_OK) {
            return rc;
        }
        if (len == 3 && memcmp(s, "all", 3) == 0) {
            pub->require_any = 0;
        } else if (len == 3 && memcmp(s, "any", 3) == 0) {
            pub->require_any = 1;
        } else {
            return fail(l, val[RK_REQUIRE], "require must be 'all' or 'any'");
        }
    }
    if (val[RK_RECIPIENTS] && (rc = parse_string_seq(l, val[RK_RECIPIENTS], "recipients",
                                                     &pub->recipients, &pub->nrecipients))) {
        return rc;
    }
    if (val[RK_COOLDOWN] &&
        (rc = parse_duration(l, val[RK_COOLDOWN], "cooldown", &pub->cooldown_ms)) != BV_OK) {
        return rc;
    }
    if (val[RK_PLATFORMS]) {
        yaml_node_t *pn = val[RK_PLATFORMS];
        if (pn->type != YAML_SEQUENCE_NODE ||
            pn->data.sequence.items.start == pn->data.sequence.items.top) {
            return fail(l, pn, "'platforms' must be a non-empty sequence");
        }
        for (yaml_node_item_t *it = pn->data.sequence.items.start; it < pn->data.sequence.items.top;
             it++) {
            yaml_node_t *v;
            if ((rc = take(l, *it, &v)) != BV_OK ||
                (rc = scalar(l, v, "a platform", &s, &len)) != BV_OK) {
                return rc;
            }
            int pf = bv_platform_from_name(s, len);
            if (pf < 0) {
                return fail(l, v,
                            "unknown platform '%.*s' (mastodon, bluesky, x, facebook, telegram, "
                            "reddit)",
                            (int)(len > 32 ? 32 : len), s);
            }
            pub->platform_mask |= 1u << pf;
        }
    }
    if (val[RK_LANGUAGES] && (rc = parse_string_seq(l, val[RK_LANGUAGES], "languages",
                                                    &pub->languages, &pub->nlanguages))) {
        return rc;
    }
    if (val[RK_MATCH] == NULL) {
        return fail(l, n, "rule '%s' has no 'match'", pub->id);
    }
    if ((rc = parse_cond(l, val[RK_MATCH], 0, &r->root)) != BV_OK) {
        return rc;
    }
    if (val[RK_DETECTORS] == NULL) {
        return fail(l, n, "rule '%s' has no 'detectors'", pub->id);
    }
    yaml_node_t *dn = val[RK_DETECTORS];
    if (dn->type != YAML_SEQUENCE_NODE ||
        dn->data.sequence.items.start == dn->data.sequence.items.top) {
        return fail(l, dn, "'detectors' must be a non-empty sequence");
    }
    size_t nd = (size_t)(dn->data.sequence.items.top - dn->data.sequence.items.start);
    if (nd > 16) {
        return fail(l, dn, "more than 16 detectors");
    }
    if ((pub->detectors = calloc(nd, sizeof *pub->detectors)) == NULL) {
        return BV_ENOMEM;
    }
    for (yaml_node_item_t *it = dn->data.sequence.items.start; it < dn->data.sequence.items.top;
         it++) {
        yaml_node_t *v;
        if ((rc = take(l, *it, &v)) != BV_OK ||
            (rc = parse_detector(l, v, &pub->detectors[pub->ndetectors])) != BV_OK) {
            return rc;
        }
        pub->ndetectors++;
    }
    if (val[RK_EXAMPLES] && (rc = parse_examples(l, val[RK_EXAMPLES])) != BV_OK) {
        return rc;
    }
    return BV_OK;
}

static int parse_root(ld *l)
{
    yaml_node_t *root = yaml_document_get_root_node(&l->doc);
    if (root == NULL) {
        return BV_OK; /* an empty file: no rules */
    }
    yaml_node_t *r;
    int rc = take(l, 1, &r);
    if (rc != BV_OK) {
        return rc;
    }
    if (r->type != YAML_MAPPING_NODE) {
        return fail(l, r, "a rule file is a mapping with 'lists', 'regexes' and 'rules'");
    }
    static const char *const keys[] = {"lists", "regexes", "rules"};
    yaml_node_t *val[3] = {0};
    uint32_t mask = 0;
    for (yaml_node_pair_t *p = r->data.mapping.pairs.start; p < r->data.mapping.pairs.top; p++) {
        yaml_node_t *k;
        rc = take(l, p->key, &k);
        if (rc == BV_OK) {
            rc = key_index(l, k, keys, 3, &mask, "a rule file");
        }
        if (rc < 0) {
            return rc;
        }
        if ((rc = take(l, p->value, &val[rc])) != BV_OK) {
            return rc;
        }
    }
    if (val[0] && (rc = parse_lists(l, val[0])) != BV_OK) {
        return rc;
    }
    if (val[1] && (rc = parse_regexes(l, val[1])) != BV_OK) {
        return rc;
    }
    if (val[2]) {
        if (val[2]->type != YAML_SEQUENCE_NODE) {
            return fail(l, val[2], "'rules' must be a sequence of rules");
        }
        for (yaml_node_item_t *it = val[2]->data.sequence.items.start;
             it < val[2]->data.sequence.items.top; it++) {
            yaml_node_t *rn;
            if ((rc = take(l, *it, &rn)) != BV_OK || (rc = parse_rule(l, rn)) != BV_OK) {
                return rc;
            }
        }
    }
    return BV_OK;
}

int bv_rules__parse(bv_ruleset *rs, const char *name, const char *yaml, size_t len, bv_diag *diag)
{
    ld l = {.rs = rs, .diag = diag};
    if (grow_n(&rs->files, rs->nfiles, rs->nfiles + 1, sizeof *rs->files) != BV_OK) {
        return BV_ENOMEM;
    }
    if ((rs->files[rs->nfiles] = strdup(name)) == NULL) {
        return BV_ENOMEM;
    }
    l.file = rs->files[rs->nfiles++];
    if (len > RULES_MAX_FILE_BYTES) {
        bv_diag_set(diag, l.file, 0, 0, "rule file larger than %u bytes", RULES_MAX_FILE_BYTES);
        return BV_ELIMIT;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        return BV_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    int rc = BV_OK;
    if (!yaml_parser_load(&parser, &l.doc)) {
        const char *what = parser.problem ? parser.problem : "YAML error";
        yaml_mark_t m = parser.problem_mark;
        if (parser.error == YAML_MEMORY_ERROR) {
            yaml_parser_delete(&parser);
            return BV_ENOMEM;
        }
        if (parser.context) {
            bv_diag_set(diag, l.file, (int)m.line + 1, (int)m.column + 1, "%s %s", parser.context,
                        what);
        } else {
            bv_diag_set(diag, l.file, (int)m.line + 1, (int)m.column + 1, "%s", what);
        }
        yaml_parser_delete(&parser);
        return BV_EINVAL;
    }
    /* a second document in the stream is an error, not silently ignored */
    if (yaml_document_get_root_node(&l.doc) != NULL) {
        yaml_document_t second;
        if (!yaml_parser_load(&parser, &second)) {
            yaml_mark_t m = parser.problem_mark;
            bv_diag_set(diag, l.file, (int)m.line + 1, (int)m.column + 1, "%s",
                        parser.problem ? parser.problem : "YAML error");
            rc = BV_EINVAL;
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&second);
            if (r2 != NULL) {
                bv_diag_set(diag, l.file, (int)r2->start_mark.line + 1,
                            (int)r2->start_mark.column + 1, "only one YAML document per rule file");
                rc = BV_EINVAL;
            }
            yaml_document_delete(&second);
        }
    }
    yaml_parser_delete(&parser);
    if (rc == BV_OK) {
        l.nseen = (size_t)(l.doc.nodes.top - l.doc.nodes.start);
        l.seen = calloc(l.nseen + 1, 1);
        rc = l.seen ? parse_root(&l) : BV_ENOMEM;
    }
    yaml_document_delete(&l.doc);
    free(l.seen);
    for (size_t i = 0; i < l.nlists; i++) {
        free(l.lists[i].name);
    }
    for (size_t i = 0; i < l.nregexes; i++) {
        free(l.regexes[i].name);
    }
    free(l.lists);
    free(l.regexes);
    bv_buf_free(&l.nbuf);
    return rc;
}

void bv_rules__free_parsed(bv_ruleset *rs)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        rrule *r = &rs->rules[i];
        free(r->pub.id);
        free(r->pub.title);
        for (size_t k = 0; k < r->pub.nrecipients; k++) {
            free(r->pub.recipients[k]);
        }
        free(r->pub.recipients);
        for (size_t k = 0; k < r->pub.nlanguages; k++) {
            free(r->pub.languages[k]);
        }
        free(r->pub.languages);
        free(r->pub.detectors);
        free(r->nodes);
        free(r->kids);
        for (size_t k = 0; k < r->nex; k++) {
            free(r->ex[k].text);
        }
        free(r->ex);
    }
    free(rs->rules);
    for (size_t i = 0; i < rs->natoms; i++) {
        ratom *a = &rs->atoms[i];
        free(a->name);
        for (size_t k = 0; k < a->nexprs; k++) {
            free(a->exprs[k]);
        }
        free(a->exprs);
        free(a->pats);
        free(a->regex);
        pcre2_code_free(a->re);
        free(a->rules);
        for (size_t k = 0; k < a->nplace_names; k++) {
            free(a->place_names[k]);
        }
        free(a->place_names);
        free(a->place_entries);
    }
    free(rs->atoms);
    for (size_t i = 0; i < rs->nfiles; i++) {
        free(rs->files[i]);
    }
    free(rs->files);
}
