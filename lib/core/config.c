/* config.c: the YAML config loader on libyaml's event parser; see config.h.
 * Events, not the document API: aliases stay visible (and are refused), no tree is built. */
#include "core/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Ignored subtrees nested deeper than this are refused. */
#define CONFIG_MAX_DEPTH 64

typedef struct cfg_ctx {
    yaml_parser_t parser;
    const char *name;  /* for diagnostics */
    const char *input; /* the text, to place reader errors that libyaml gives as an offset */
    size_t input_len;
    const char *base_dir; /* NULL: paths stay as written */
    bv_diag *diag;
} cfg_ctx;

static void set_err(cfg_ctx *c, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(cfg_ctx *c, yaml_mark_t m, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bv_diag_set(c->diag, c->name, (int)m.line + 1, (int)m.column + 1, "%s", msg);
}

/* A value as it may appear in a message: at most 40 bytes, control characters as '?'. */
static const char *show(const char *s, size_t n, char out[48])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 40; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[k++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (n > 40) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static const char *event_kind(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return "single value";
    case YAML_SEQUENCE_START_EVENT:
        return "list";
    case YAML_MAPPING_START_EVENT:
        return "mapping";
    default:
        return "YAML event";
    }
}

/* libyaml reports reader errors (bad UTF-8, control characters) as a byte offset only. */
static yaml_mark_t mark_at_offset(const cfg_ctx *c, size_t off)
{
    yaml_mark_t m = {0, 0, 0};
    for (size_t i = 0; i < off && i < c->input_len; i++) {
        unsigned char ch = (unsigned char)c->input[i];
        if (ch == '\n') {
            m.line++;
            m.column = 0;
        } else if ((ch & 0xc0) != 0x80) {
            m.column++;
        }
    }
    m.index = off;
    return m;
}

/* The next event, with syntax errors, aliases and anchors turned into a diagnostic. On error
 * nothing is left to delete. */
static int next_event(cfg_ctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev)) {
        const yaml_parser_t *p = &c->parser;
        if (p->error == YAML_MEMORY_ERROR) {
            bv_diag_set(c->diag, c->name, 0, 0, "out of memory");
            return BV_ENOMEM;
        }
        const char *problem = p->problem ? p->problem : "unreadable YAML";
        if (p->error == YAML_READER_ERROR) {
            set_err(c, mark_at_offset(c, p->problem_offset), "%s", problem);
        } else if (p->context) {
            set_err(c, p->problem_mark, "%s: %s", p->context, problem);
        } else {
            set_err(c, p->problem_mark, "%s", problem);
        }
        return BV_EINVAL;
    }
    const yaml_char_t *anchor = NULL;
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
    } else if (ev->type == YAML_ALIAS_EVENT) {
        anchor = ev->data.alias.anchor;
    }
    if (anchor != NULL) {
        char buf[48];
        set_err(c, ev->start_mark, "anchors and aliases (%c%s) are not supported in config files",
                ev->type == YAML_ALIAS_EVENT ? '*' : '&',
                show((const char *)anchor, strlen((const char *)anchor), buf));
        yaml_event_delete(ev);
        return BV_EINVAL;
    }
    return BV_OK;
}

static bool is_null(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    return n == 0 || (n == 1 && v[0] == '~') ||
           (n == 4 &&
            (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 || memcmp(v, "NULL", 4) == 0));
}

static const char *type_wants(bv_opt_type t)
{
    switch (t) {
    case BV_OPT_STRING:
        return "a string";
    case BV_OPT_PATH:
        return "a path";
    case BV_OPT_STRING_LIST:
        return "a list of strings";
    case BV_OPT_PATH_LIST:
        return "a list of paths";
    case BV_OPT_DURATION:
        return "a duration like 30s, 5m, 2h";
    case BV_OPT_INT:
        return "a whole number";
    case BV_OPT_BOOL:
        return "true or false";
    case BV_OPT_SECTION_LIST:
        return "a list of mappings";
    case BV_OPT_STRING_MAP:
        return "a mapping of names to strings";
    case BV_OPT_GROUPS:
        return "a mapping of names to lists of mappings";
    case BV_OPT_SECTION:
        return "a mapping of options";
    case BV_OPT_IGNORE:
        return "anything";
    }
    return "a value";
}

/* A copy of the path, joined to base_dir when relative. Caller frees; NULL when out of memory. */
static char *make_path(const char *base_dir, const char *s, size_t n)
{
    size_t blen = (base_dir && s[0] != '/') ? strlen(base_dir) : 0;
    bool slash = blen > 0 && base_dir[blen - 1] != '/';
    char *p = malloc(blen + slash + n + 1);
    if (p == NULL) {
        return NULL;
    }
    if (blen) {
        memcpy(p, base_dir, blen);
    }
    if (slash) {
        p[blen] = '/';
    }
    memcpy(p + blen + slash, s, n);
    p[blen + slash + n] = '\0';
    return p;
}

static int parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    if (i == n) {
        return BV_EINVAL;
    }
    uint64_t v = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return BV_EINVAL;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) {
            return BV_EINVAL;
        }
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return BV_OK;
}

static int parse_bool(const char *s, size_t n, bool *out)
{
    if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 3 && strncasecmp(s, "yes", 3) == 0)) {
        *out = true;
        return BV_OK;
    }
    if ((n == 5 && strncasecmp(s, "false", 5) == 0) || (n == 2 && strncasecmp(s, "no", 2) == 0)) {
        *out = false;
        return BV_OK;
    }
    return BV_EINVAL;
}

static int strlist_push(bv_strlist *l, char *s)
{
    char **v = realloc(l->v, (l->n + 2) * sizeof *v);
    if (v == NULL) {
        return BV_ENOMEM;
    }
    v[l->n++] = s;
    v[l->n] = NULL;
    l->v = v;
    return BV_OK;
}

/* Stores one scalar s[0..n) into field per opt (or appends it, for lists). path is the dotted key
 * for messages, m where the value stands. */
static int set_scalar(cfg_ctx *c, const bv_option *opt, void *field, const char *s, size_t n,
                      yaml_mark_t m, const char *path)
{
    char shown[48];
    if (memchr(s, '\0', n) != NULL) {
        set_err(c, m, "'%s' contains a NUL character", path);
        return BV_EINVAL;
    }
    switch (opt->type) {
    case BV_OPT_STRING:
    case BV_OPT_PATH: {
        if (opt->type == BV_OPT_PATH && n == 0) {
            set_err(c, m, "'%s' is an empty path", path);
            return BV_EINVAL;
        }
        char *v = opt->type == BV_OPT_PATH ? make_path(c->base_dir, s, n) : strndup(s, n);
        if (v == NULL) {
            return BV_ENOMEM;
        }
        char **slot = field;
        free(*slot);
        *slot = v;
        return BV_OK;
    }
    case BV_OPT_STRING_LIST:
    case BV_OPT_PATH_LIST: {
        if (opt->type == BV_OPT_PATH_LIST && n == 0) {
            set_err(c, m, "'%s' holds an empty path", path);
            return BV_EINVAL;
        }
        char *v = opt->type == BV_OPT_PATH_LIST ? make_path(c->base_dir, s, n) : strndup(s, n);
        if (v == NULL || strlist_push(field, v) != BV_OK) {
            free(v);
            return BV_ENOMEM;
        }
        return BV_OK;
    }
    case BV_OPT_DURATION:
    case BV_OPT_INT: {
        int64_t v;
        bool dur = opt->type == BV_OPT_DURATION;
        if ((dur ? bv_duration_parse(s, n, &v) : parse_int(s, n, &v)) != BV_OK) {
            set_err(c, m, "'%s' must be %s, not '%s'", path, type_wants(opt->type),
                    show(s, n, shown));
            return BV_EINVAL;
        }
        if ((opt->min != 0 || opt->max != 0) && (v < opt->min || v > opt->max)) {
            if (dur) {
                char lo[32], hi[32];
                set_err(c, m, "'%s' must be between %s and %s, not '%s'", path,
                        bv_duration_format(opt->min, lo), bv_duration_format(opt->max, hi),
                        show(s, n, shown));
            } else {
                set_err(c, m, "'%s' must be between %" PRId64 " and %" PRId64 ", not '%s'", path,
                        opt->min, opt->max, show(s, n, shown));
            }
            return BV_EINVAL;
        }
        *(int64_t *)field = v;
        return BV_OK;
    }
    case BV_OPT_BOOL: {
        bool v;
        if (parse_bool(s, n, &v) != BV_OK) {
            set_err(c, m, "'%s' must be true or false, not '%s'", path, show(s, n, shown));
            return BV_EINVAL;
        }
        *(bool *)field = v;
        return BV_OK;
    }
    case BV_OPT_SECTION:
    case BV_OPT_SECTION_LIST:
    case BV_OPT_STRING_MAP:
    case BV_OPT_GROUPS:
    case BV_OPT_IGNORE:
        break;
    }
    set_err(c, m, "'%s': option table has a bad type", path);
    return BV_EINVAL;
}

/* Skips the node that begins with *first (already taken, and deleted here). */
static int skip_node(cfg_ctx *c, yaml_event_t *first)
{
    int depth = first->type == YAML_SCALAR_EVENT ? 0 : 1;
    yaml_event_delete(first);
    while (depth > 0) {
        yaml_event_t ev;
        int rc = next_event(c, &ev);
        if (rc != BV_OK) {
            return rc;
        }
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > CONFIG_MAX_DEPTH) {
                set_err(c, ev.start_mark, "nested deeper than %d levels", CONFIG_MAX_DEPTH);
                yaml_event_delete(&ev);
                return BV_ELIMIT;
            }
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
    }
    return BV_OK;
}

static int load_mapping(cfg_ctx *c, const bv_option *table, char *base, const char *prefix,
                        uint64_t *given);
static void zero_fields(const bv_option *table, char *base);
static int fill_defaults(cfg_ctx *c, const bv_option *table, char *base, const char *prefix);

/* Reads a sequence of mappings (its SEQUENCE-START is taken) into the bv_seclist at field. */
static int load_section_list(cfg_ctx *c, const bv_option *opt, bv_seclist *l, const char *path)
{
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(c, &ev);
        if (rc != BV_OK) {
            return rc;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return BV_OK;
        }
        char ipath[300];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, l->n);
        if (ev.type != YAML_MAPPING_START_EVENT) {
            set_err(c, ev.start_mark, "items of '%s' must be mappings of options, not a %s", path,
                    is_null(&ev) ? "missing value" : event_kind(&ev));
            yaml_event_delete(&ev);
            return BV_EINVAL;
        }
        if (l->n >= BV_CONFIG_MAX_ITEMS) {
            set_err(c, ev.start_mark, "'%s' has more than %d items", path, BV_CONFIG_MAX_ITEMS);
            yaml_event_delete(&ev);
            return BV_ELIMIT;
        }
        yaml_mark_t m = ev.start_mark;
        yaml_event_delete(&ev);
        char *nv = realloc(l->v, (l->n + 1) * opt->elem_size);
        if (nv == NULL) {
            return BV_ENOMEM;
        }
        l->v = nv;
        bv_config_item *ni = realloc(l->info, (l->n + 1) * sizeof *ni);
        if (ni == NULL) {
            return BV_ENOMEM;
        }
        l->info = ni;
        char *item = nv + l->n * opt->elem_size;
        memset(item, 0, opt->elem_size);
        zero_fields(opt->sub, item);
        memset(&ni[l->n], 0, sizeof ni[l->n]);
        ni[l->n].line = (int)m.line + 1;
        ni[l->n].col = (int)m.column + 1;
        l->n++; /* counted now, so a failure below frees what the item holds */
        rc = fill_defaults(c, opt->sub, item, ipath);
        if (rc == BV_OK) {
            rc = load_mapping(c, opt->sub, item, ipath, &ni[l->n - 1].given);
        }
        if (rc != BV_OK) {
            return rc;
        }
    }
}

/* The next key of a mapping whose keys the file chooses: BV_OK with *key set (a scalar event the
 * caller deletes), 1 at the mapping's end, or an error. Keys must be non-empty plain names and
 * not repeat among names[0..n). */
static int next_name(cfg_ctx *c, yaml_event_t *key, char *const *names, size_t n, const char *path)
{
    int rc = next_event(c, key);
    if (rc != BV_OK) {
        return rc;
    }
    if (key->type == YAML_MAPPING_END_EVENT) {
        yaml_event_delete(key);
        return 1;
    }
    if (key->type != YAML_SCALAR_EVENT || is_null(key)) {
        set_err(c, key->start_mark, "keys of '%s' must be names, not a %s", path,
                is_null(key) ? "missing value" : event_kind(key));
        yaml_event_delete(key);
        return BV_EINVAL;
    }
    const char *k = (const char *)key->data.scalar.value;
    size_t klen = key->data.scalar.length;
    char shown[48];
    if (klen == 0 || memchr(k, '\0', klen) != NULL) {
        set_err(c, key->start_mark, "keys of '%s' must be names, not '%s'", path,
                show(k, klen, shown));
        yaml_event_delete(key);
        return BV_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) == klen && memcmp(names[i], k, klen) == 0) {
            set_err(c, key->start_mark, "duplicate key '%s' in '%s'", show(k, klen, shown), path);
            yaml_event_delete(key);
            return BV_EINVAL;
        }
    }
    if (n >= BV_CONFIG_MAX_ITEMS) {
        set_err(c, key->start_mark, "'%s' has more than %d keys", path, BV_CONFIG_MAX_ITEMS);
        yaml_event_delete(key);
        return BV_ELIMIT;
    }
    return BV_OK;
}

/* Reads a mapping of names to strings (its MAPPING-START is taken). */
static int load_string_map(cfg_ctx *c, bv_strmap *m, const char *path)
{
    for (;;) {
        yaml_event_t key, val;
        int rc = next_name(c, &key, m->keys, m->n, path);
        if (rc != BV_OK) {
            return rc == 1 ? BV_OK : rc;
        }
        char ipath[300];
        snprintf(ipath, sizeof ipath, "%s.%.*s", path,
                 (int)(key.data.scalar.length > 64 ? 64 : key.data.scalar.length),
                 (const char *)key.data.scalar.value);
        rc = next_event(c, &val);
        if (rc != BV_OK) {
            yaml_event_delete(&key);
            return rc;
        }
        if (val.type != YAML_SCALAR_EVENT || is_null(&val)) {
            set_err(c, val.start_mark, "'%s' must be a string, not a %s", ipath,
                    is_null(&val) ? "missing value" : event_kind(&val));
            yaml_event_delete(&key);
            yaml_event_delete(&val);
            return BV_EINVAL;
        }
        char **nk = realloc(m->keys, (m->n + 1) * sizeof *nk);
        if (nk != NULL) {
            m->keys = nk;
        }
        char **nv = realloc(m->vals, (m->n + 1) * sizeof *nv);
        if (nv != NULL) {
            m->vals = nv;
        }
        char *k = NULL, *v = NULL;
        if (nk && nv) {
            k = strndup((const char *)key.data.scalar.value, key.data.scalar.length);
            v = strndup((const char *)val.data.scalar.value, val.data.scalar.length);
        }
        yaml_event_delete(&key);
        yaml_event_delete(&val);
        if (k == NULL || v == NULL) {
            free(k);
            free(v);
            return BV_ENOMEM;
        }
        m->keys[m->n] = k;
        m->vals[m->n] = v;
        m->n++;
    }
}

/* Reads a mapping of names to section lists (its MAPPING-START is taken). */
static int load_groups(cfg_ctx *c, const bv_option *opt, bv_groups *g, const char *path)
{
    for (;;) {
        yaml_event_t key, val;
        int rc = next_name(c, &key, g->names, g->n, path);
        if (rc != BV_OK) {
            return rc == 1 ? BV_OK : rc;
        }
        char ipath[300];
        snprintf(ipath, sizeof ipath, "%s.%.*s", path,
                 (int)(key.data.scalar.length > 64 ? 64 : key.data.scalar.length),
                 (const char *)key.data.scalar.value);
        char **nn = realloc(g->names, (g->n + 1) * sizeof *nn);
        if (nn != NULL) {
            g->names = nn;
        }
        bv_seclist *nl = realloc(g->lists, (g->n + 1) * sizeof *nl);
        if (nl != NULL) {
            g->lists = nl;
        }
        int *nline = realloc(g->line, (g->n + 1) * sizeof *nline);
        if (nline != NULL) {
            g->line = nline;
        }
        char *name = NULL;
        if (nn && nl && nline) {
            name = strndup((const char *)key.data.scalar.value, key.data.scalar.length);
        }
        int line = (int)key.start_mark.line + 1;
        yaml_event_delete(&key);
        if (name == NULL) {
            return BV_ENOMEM;
        }
        g->names[g->n] = name;
        memset(&g->lists[g->n], 0, sizeof g->lists[g->n]);
        g->line[g->n] = line;
        g->n++; /* counted now, so a failure below frees what the list holds */
        rc = next_event(c, &val);
        if (rc != BV_OK) {
            return rc;
        }
        if (val.type != YAML_SEQUENCE_START_EVENT) {
            set_err(c, val.start_mark, "'%s' must be a list of mappings, not a %s", ipath,
                    is_null(&val) ? "missing value" : event_kind(&val));
            yaml_event_delete(&val);
            return BV_EINVAL;
        }
        yaml_event_delete(&val);
        rc = load_section_list(c, opt, &g->lists[g->n - 1], ipath);
        if (rc != BV_OK) {
            return rc;
        }
    }
}

/* Reads the value node of opt (the key is already taken) into field. */
static int load_value(cfg_ctx *c, const bv_option *opt, void *field, const char *path)
{
    yaml_event_t ev;
    int rc = next_event(c, &ev);
    if (rc != BV_OK) {
        return rc;
    }
    if (opt->type == BV_OPT_IGNORE) {
        return skip_node(c, &ev);
    }
    if (opt->type == BV_OPT_SECTION) {
        if (ev.type != YAML_MAPPING_START_EVENT) {
            set_err(c, ev.start_mark, "'%s' must be a mapping of options, not a %s", path,
                    is_null(&ev) ? "missing value" : event_kind(&ev));
            yaml_event_delete(&ev);
            return BV_EINVAL;
        }
        yaml_event_delete(&ev);
        return load_mapping(c, opt->sub, field, path, NULL);
    }
    if (opt->type == BV_OPT_SECTION_LIST) {
        if (ev.type != YAML_SEQUENCE_START_EVENT) {
            set_err(c, ev.start_mark, "'%s' must be a list of mappings, not a %s", path,
                    is_null(&ev) ? "missing value" : event_kind(&ev));
            yaml_event_delete(&ev);
            return BV_EINVAL;
        }
        yaml_event_delete(&ev);
        return load_section_list(c, opt, field, path);
    }
    if (opt->type == BV_OPT_STRING_MAP || opt->type == BV_OPT_GROUPS) {
        if (ev.type != YAML_MAPPING_START_EVENT) {
            set_err(c, ev.start_mark, "'%s' must be %s, not a %s", path, type_wants(opt->type),
                    is_null(&ev) ? "missing value" : event_kind(&ev));
            yaml_event_delete(&ev);
            return BV_EINVAL;
        }
        yaml_event_delete(&ev);
        return opt->type == BV_OPT_STRING_MAP ? load_string_map(c, field, path)
                                              : load_groups(c, opt, field, path);
    }
    bool list = opt->type == BV_OPT_STRING_LIST || opt->type == BV_OPT_PATH_LIST;
    if (ev.type == YAML_SCALAR_EVENT && is_null(&ev)) {
        set_err(c, ev.start_mark, "'%s' has no value (expected %s)", path, type_wants(opt->type));
        rc = BV_EINVAL;
    } else if (ev.type == YAML_SCALAR_EVENT) {
        if (list) {
            /* a single string stands for a list of one, but replaces the default like a list */
            bv_strlist *l = field;
            for (size_t i = 0; i < l->n; i++) {
                free(l->v[i]);
            }
            free(l->v);
            l->v = NULL;
            l->n = 0;
        }
        rc = set_scalar(c, opt, field, (const char *)ev.data.scalar.value, ev.data.scalar.length,
                        ev.start_mark, path);
    } else if (list && ev.type == YAML_SEQUENCE_START_EVENT) {
        bv_strlist *l = field;
        for (size_t i = 0; i < l->n; i++) {
            free(l->v[i]);
        }
        free(l->v);
        l->v = NULL;
        l->n = 0;
        for (;;) {
            yaml_event_t item;
            rc = next_event(c, &item);
            if (rc != BV_OK) {
                break;
            }
            if (item.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&item);
                break;
            }
            if (item.type != YAML_SCALAR_EVENT || is_null(&item)) {
                set_err(c, item.start_mark, "items of '%s' must be strings, not a %s", path,
                        is_null(&item) ? "missing value" : event_kind(&item));
                yaml_event_delete(&item);
                rc = BV_EINVAL;
                break;
            }
            rc = set_scalar(c, opt, field, (const char *)item.data.scalar.value,
                            item.data.scalar.length, item.start_mark, path);
            yaml_event_delete(&item);
            if (rc != BV_OK) {
                break;
            }
        }
    } else {
        set_err(c, ev.start_mark, "'%s' must be %s, not a %s", path, type_wants(opt->type),
                event_kind(&ev));
        rc = BV_EINVAL;
    }
    yaml_event_delete(&ev);
    return rc;
}

static void unknown_key(cfg_ctx *c, const bv_option *table, const yaml_event_t *ev,
                        const char *prefix)
{
    char shown[48];
    bv_buf known = BV_BUF_INIT;
    for (const bv_option *o = table; o->key != NULL; o++) {
        bv_buf_printf(&known, "%s%s", o == table ? "" : ", ", o->key);
    }
    const char *k = show((const char *)ev->data.scalar.value, ev->data.scalar.length, shown);
    if (prefix) {
        set_err(c, ev->start_mark, "unknown key '%s' in '%s' (known: %s)", k, prefix,
                known.p ? known.p : "none");
    } else {
        set_err(c, ev->start_mark, "unknown key '%s' (known: %s)", k, known.p ? known.p : "none");
    }
    bv_buf_free(&known);
}

/* Reads a mapping's keys and values (its MAPPING-START is taken) into base per table; *given
 * (may be NULL; tables of at most 64 keys) gets bit k for each key table[k] found. */
static int load_mapping(cfg_ctx *c, const bv_option *table, char *base, const char *prefix,
                        uint64_t *given)
{
    size_t nopt = 0;
    while (table[nopt].key != NULL) {
        nopt++;
    }
    if (given && nopt > 64) {
        return BV_EINVAL; /* a table bug: section list items hold at most 64 keys */
    }
    int *seen_line = calloc(nopt ? nopt : 1, sizeof *seen_line);
    if (seen_line == NULL) {
        return BV_ENOMEM;
    }
    int rc;
    for (;;) {
        yaml_event_t ev;
        rc = next_event(c, &ev);
        if (rc != BV_OK) {
            break;
        }
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            set_err(c, ev.start_mark, "keys must be plain names, not a %s", event_kind(&ev));
            yaml_event_delete(&ev);
            rc = BV_EINVAL;
            break;
        }
        const char *key = (const char *)ev.data.scalar.value;
        size_t klen = ev.data.scalar.length;
        size_t i = 0;
        while (i < nopt &&
               !(strlen(table[i].key) == klen && memcmp(table[i].key, key, klen) == 0)) {
            i++;
        }
        if (i == nopt) {
            unknown_key(c, table, &ev, prefix);
            yaml_event_delete(&ev);
            rc = BV_EINVAL;
            break;
        }
        char path[256];
        if (prefix) {
            snprintf(path, sizeof path, "%s.%s", prefix, table[i].key);
        } else {
            snprintf(path, sizeof path, "%s", table[i].key);
        }
        if (seen_line[i]) {
            set_err(c, ev.start_mark, "duplicate key '%s' (first given on line %d)", path,
                    seen_line[i]);
            yaml_event_delete(&ev);
            rc = BV_EINVAL;
            break;
        }
        seen_line[i] = (int)ev.start_mark.line + 1;
        if (given) {
            *given |= 1ull << i;
        }
        yaml_event_delete(&ev);
        rc = load_value(c, &table[i], base + table[i].offset, path);
        if (rc != BV_OK) {
            break;
        }
    }
    free(seen_line);
    return rc;
}

/* Takes the next event and checks its type (for stream and document framing). */
static int expect(cfg_ctx *c, yaml_event_type_t type, yaml_event_t *ev)
{
    int rc = next_event(c, ev);
    if (rc != BV_OK) {
        return rc;
    }
    if (ev->type != type) {
        set_err(c, ev->start_mark, "unexpected %s", event_kind(ev));
        yaml_event_delete(ev);
        return BV_EINVAL;
    }
    return BV_OK;
}

/* A list default is a YAML flow sequence: parse it with the same code as a value. */
static int list_default(cfg_ctx *c, const bv_option *opt, void *field, const char *path)
{
    cfg_ctx d = *c;
    if (!yaml_parser_initialize(&d.parser)) {
        return BV_ENOMEM;
    }
    d.input = opt->def;
    d.input_len = strlen(opt->def);
    yaml_parser_set_input_string(&d.parser, (const unsigned char *)d.input, d.input_len);
    yaml_event_t ev;
    int rc = expect(&d, YAML_STREAM_START_EVENT, &ev);
    if (rc == BV_OK) {
        yaml_event_delete(&ev);
        rc = expect(&d, YAML_DOCUMENT_START_EVENT, &ev);
    }
    if (rc == BV_OK) {
        yaml_event_delete(&ev);
        rc = load_value(&d, opt, field, path);
    }
    yaml_parser_delete(&d.parser);
    return rc;
}

/* Sets every field of the table to empty (NULL, 0, false) without freeing what was there. */
static void zero_fields(const bv_option *table, char *base)
{
    for (const bv_option *o = table; o->key != NULL; o++) {
        void *field = base + o->offset;
        switch (o->type) {
        case BV_OPT_STRING:
        case BV_OPT_PATH:
            *(char **)field = NULL;
            break;
        case BV_OPT_STRING_LIST:
        case BV_OPT_PATH_LIST:
            ((bv_strlist *)field)->v = NULL;
            ((bv_strlist *)field)->n = 0;
            break;
        case BV_OPT_DURATION:
        case BV_OPT_INT:
            *(int64_t *)field = 0;
            break;
        case BV_OPT_BOOL:
            *(bool *)field = false;
            break;
        case BV_OPT_SECTION:
            zero_fields(o->sub, field);
            break;
        case BV_OPT_SECTION_LIST:
            memset(field, 0, sizeof(bv_seclist));
            break;
        case BV_OPT_STRING_MAP:
            memset(field, 0, sizeof(bv_strmap));
            break;
        case BV_OPT_GROUPS:
            memset(field, 0, sizeof(bv_groups));
            break;
        case BV_OPT_IGNORE:
            break;
        }
    }
}

/* Sets the fields that have a default to it; the fields must be empty (zero_fields). */
static int fill_defaults(cfg_ctx *c, const bv_option *table, char *base, const char *prefix)
{
    for (const bv_option *o = table; o->key != NULL; o++) {
        void *field = base + o->offset;
        char path[256];
        if (prefix) {
            snprintf(path, sizeof path, "%s.%s", prefix, o->key);
        } else {
            snprintf(path, sizeof path, "%s", o->key);
        }
        int rc = BV_OK;
        if (o->type == BV_OPT_SECTION) {
            rc = fill_defaults(c, o->sub, field, path);
        } else if (o->type == BV_OPT_IGNORE || o->type == BV_OPT_SECTION_LIST ||
                   o->type == BV_OPT_STRING_MAP || o->type == BV_OPT_GROUPS || o->def == NULL) {
            continue;
        } else {
            yaml_mark_t m = {0, 0, 0};
            rc = (o->type == BV_OPT_STRING_LIST || o->type == BV_OPT_PATH_LIST)
                     ? list_default(c, o, field, path)
                     : set_scalar(c, o, field, o->def, strlen(o->def), m, path);
            if (rc != BV_OK && c->diag) {
                /* a bug in the table, not in the file: say so */
                char msg[sizeof c->diag->msg];
                snprintf(msg, sizeof msg, "%s", c->diag->msg);
                bv_diag_set(c->diag, "", 0, 0, "default of '%s' in the option table: %s", path,
                            msg);
            }
        }
        if (rc != BV_OK) {
            return rc;
        }
    }
    return BV_OK;
}

static int load_document(cfg_ctx *c, const bv_option *table, void *target)
{
    yaml_event_t ev;
    int rc = expect(c, YAML_STREAM_START_EVENT, &ev);
    if (rc != BV_OK) {
        return rc;
    }
    yaml_event_delete(&ev);
    if ((rc = next_event(c, &ev)) != BV_OK) {
        return rc;
    }
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return BV_OK; /* nothing but comments: the defaults */
    }
    yaml_event_delete(&ev); /* DOCUMENT-START: the parser allows nothing else here */
    if ((rc = next_event(c, &ev)) != BV_OK) {
        return rc;
    }
    if (ev.type == YAML_MAPPING_START_EVENT) {
        yaml_event_delete(&ev);
        rc = load_mapping(c, table, target, NULL, NULL);
    } else if (is_null(&ev)) {
        yaml_event_delete(&ev); /* "---" alone: the defaults */
    } else {
        set_err(c, ev.start_mark,
                "a config file must be a mapping of options (key: value), not a %s",
                event_kind(&ev));
        yaml_event_delete(&ev);
        rc = BV_EINVAL;
    }
    if (rc != BV_OK) {
        return rc;
    }
    if ((rc = expect(c, YAML_DOCUMENT_END_EVENT, &ev)) != BV_OK) {
        return rc;
    }
    yaml_event_delete(&ev);
    if ((rc = next_event(c, &ev)) != BV_OK) {
        return rc;
    }
    if (ev.type != YAML_STREAM_END_EVENT) {
        set_err(c, ev.start_mark, "a config file holds one YAML document, not several");
        rc = BV_EINVAL;
    }
    yaml_event_delete(&ev);
    return rc;
}

int bv_config_load_buffer(const char *name, const char *yaml, size_t len, const char *base_dir,
                          const bv_option *table, void *target, bv_diag *diag)
{
    cfg_ctx c;
    memset(&c, 0, sizeof c);
    c.name = name ? name : "";
    c.input = yaml;
    c.input_len = len;
    c.base_dir = base_dir && base_dir[0] ? base_dir : NULL;
    c.diag = diag;
    zero_fields(table, target);
    int rc = fill_defaults(&c, table, target, NULL);
    if (rc != BV_OK) {
        goto fail;
    }
    if (len > BV_CONFIG_MAX_BYTES) {
        bv_diag_set(diag, c.name, 0, 0, "larger than %d bytes", BV_CONFIG_MAX_BYTES);
        rc = BV_ELIMIT;
        goto fail;
    }
    if (!yaml_parser_initialize(&c.parser)) {
        rc = BV_ENOMEM;
        goto fail;
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)yaml, len);
    rc = load_document(&c, table, target);
    yaml_parser_delete(&c.parser);
    if (rc != BV_OK) {
        goto fail;
    }
    return BV_OK;
fail:
    bv_config_free(table, target);
    return rc;
}

int bv_config_load(const char *path, const bv_option *table, void *target, bv_diag *diag)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    int err = 0;
    int rc = bv_file_read(path, BV_CONFIG_MAX_BYTES, &text, &len, &err);
    if (rc == BV_EIO) {
        bv_diag_set(diag, path, 0, 0, "cannot read: %s",
                    err == EINVAL ? "not a regular file" : strerror(err));
        goto fail;
    }
    if (rc == BV_ELIMIT) {
        bv_diag_set(diag, path, 0, 0, "larger than %d bytes", BV_CONFIG_MAX_BYTES);
        goto fail;
    }
    if (rc != BV_OK) {
        goto fail;
    }
    const char *slash = strrchr(path, '/');
    if (slash != NULL) {
        dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
        if (dir == NULL) {
            rc = BV_ENOMEM;
            goto fail;
        }
    }
    rc = bv_config_load_buffer(path, text, len, dir, table, target, diag);
    free(text);
    free(dir);
    return rc;
fail:
    free(text);
    free(dir);
    /* the target owns nothing after an error, as after a failed load_buffer */
    zero_fields(table, target);
    return rc;
}

void bv_config_free(const bv_option *table, void *target)
{
    char *base = target;
    for (const bv_option *o = table; o->key != NULL; o++) {
        void *field = base + o->offset;
        switch (o->type) {
        case BV_OPT_STRING:
        case BV_OPT_PATH:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        case BV_OPT_STRING_LIST:
        case BV_OPT_PATH_LIST: {
            bv_strlist *l = field;
            for (size_t i = 0; i < l->n; i++) {
                free(l->v[i]);
            }
            free(l->v);
            l->v = NULL;
            l->n = 0;
            break;
        }
        case BV_OPT_SECTION:
            bv_config_free(o->sub, field);
            break;
        case BV_OPT_SECTION_LIST: {
            bv_seclist *l = field;
            for (size_t i = 0; i < l->n; i++) {
                bv_config_free(o->sub, (char *)l->v + i * o->elem_size);
            }
            free(l->v);
            free(l->info);
            memset(l, 0, sizeof *l);
            break;
        }
        case BV_OPT_STRING_MAP: {
            bv_strmap *m = field;
            for (size_t i = 0; i < m->n; i++) {
                free(m->keys[i]);
                free(m->vals[i]);
            }
            free(m->keys);
            free(m->vals);
            memset(m, 0, sizeof *m);
            break;
        }
        case BV_OPT_GROUPS: {
            bv_groups *g = field;
            for (size_t i = 0; i < g->n; i++) {
                free(g->names[i]);
                bv_seclist *l = &g->lists[i];
                for (size_t k = 0; k < l->n; k++) {
                    bv_config_free(o->sub, (char *)l->v + k * o->elem_size);
                }
                free(l->v);
                free(l->info);
            }
            free(g->names);
            free(g->lists);
            free(g->line);
            memset(g, 0, sizeof *g);
            break;
        }
        default:
            break;
        }
    }
}

static const char *help_type(const bv_option *o, char *buf, size_t n)
{
    switch (o->type) {
    case BV_OPT_STRING:
        return "string";
    case BV_OPT_PATH:
        return "path";
    case BV_OPT_STRING_LIST:
        return "list of strings";
    case BV_OPT_PATH_LIST:
        return "list of paths";
    case BV_OPT_DURATION:
        if (o->min != 0 || o->max != 0) {
            char lo[32], hi[32];
            snprintf(buf, n, "duration %s..%s", bv_duration_format(o->min, lo),
                     bv_duration_format(o->max, hi));
            return buf;
        }
        return "duration";
    case BV_OPT_INT:
        if (o->min != 0 || o->max != 0) {
            snprintf(buf, n, "integer %" PRId64 "..%" PRId64, o->min, o->max);
            return buf;
        }
        return "integer";
    case BV_OPT_BOOL:
        return "true/false";
    case BV_OPT_SECTION:
        return "section";
    case BV_OPT_SECTION_LIST:
        return "list of sections";
    case BV_OPT_STRING_MAP:
        return "mapping of names to strings";
    case BV_OPT_GROUPS:
        return "mapping of names to lists of sections";
    case BV_OPT_IGNORE:
        return "described separately";
    }
    return "?";
}

static size_t help_width(const bv_option *table, size_t prefix_len)
{
    size_t w = 0;
    for (const bv_option *o = table; o->key != NULL; o++) {
        size_t k = prefix_len + strlen(o->key);
        if (k > w) {
            w = k;
        }
        if (o->type == BV_OPT_SECTION || o->type == BV_OPT_SECTION_LIST ||
            o->type == BV_OPT_GROUPS) {
            size_t s = help_width(o->sub, k + (o->type == BV_OPT_SECTION        ? 1
                                               : o->type == BV_OPT_SECTION_LIST ? 3
                                                                                : 8));
            if (s > w) {
                w = s;
            }
        }
    }
    return w;
}

static void help_lines(const bv_option *table, FILE *out, const char *prefix, int width)
{
    for (const bv_option *o = table; o->key != NULL; o++) {
        char key[256], tbuf[96];
        if (prefix) {
            snprintf(key, sizeof key, "%s.%s", prefix, o->key);
        } else {
            snprintf(key, sizeof key, "%s", o->key);
        }
        const char *t = help_type(o, tbuf, sizeof tbuf);
        if (o->def != NULL && o->def[0] != '\0') {
            fprintf(out, "  %-*s  (%s, default %s)  %s\n", width, key, t, o->def,
                    o->help ? o->help : "");
        } else {
            fprintf(out, "  %-*s  (%s)  %s\n", width, key, t, o->help ? o->help : "");
        }
        if (o->type == BV_OPT_SECTION) {
            help_lines(o->sub, out, key, width);
        } else if (o->type == BV_OPT_SECTION_LIST) {
            char item[260];
            snprintf(item, sizeof item, "%s[]", key);
            help_lines(o->sub, out, item, width);
        } else if (o->type == BV_OPT_GROUPS) {
            char item[264];
            snprintf(item, sizeof item, "%s.NAME[]", key);
            help_lines(o->sub, out, item, width);
        }
    }
}

void bv_config_help(const bv_option *table, FILE *out)
{
    help_lines(table, out, NULL, (int)help_width(table, 0));
}
