/* config.h: the YAML config loader. Options are data: a table of key, type, offset, default and
 * help fills a struct, rejects what it does not know with file:line:col, and prints --help. */
#ifndef BV_CORE_CONFIG_H
#define BV_CORE_CONFIG_H

#include "core/diag.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A list of strings owned by the struct it sits in: v[0..n-1] and v[n] == NULL (v is NULL while
 * the list is empty). bv_config_free releases it. */
typedef struct bv_strlist {
    char **v;
    size_t n;
} bv_strlist;

/* A list of sections (a YAML sequence of mappings) owned by the struct it sits in: n items of
 * the option's elem_size bytes at v, each filled from the option's `sub` table; info[i] says
 * where item i starts in the file and which of its keys were given (bit k: sub[k]), so a caller
 * can check combinations the table cannot express and point at the line. */
typedef struct bv_config_item {
    int line, col; /* 1-based */
    uint64_t given;
} bv_config_item;

typedef struct bv_seclist {
    void *v;
    size_t n;
    bv_config_item *info;
} bv_seclist;

/* A mapping of names the file chooses to strings (`headers_env: {Authorization: VAR}`): keys[i]
 * -> vals[i] in file order, owned by the struct it sits in. */
typedef struct bv_strmap {
    char **keys, **vals;
    size_t n;
} bv_strmap;

/* A mapping of names the file chooses to section lists (`recipients: {police: [...], mayor:
 * [...]}`): names[i] -> lists[i] in file order; line[i] is where name i is written. */
typedef struct bv_groups {
    char **names;
    bv_seclist *lists;
    int *line;
    size_t n;
} bv_groups;

#define BV_CONFIG_MAX_ITEMS 256 /* items of a section list, keys of a map, groups */

/* What the field at `offset` is:
 *   STRING       char *        owned (strdup'd); NULL when unset and without default
 *   PATH         char *        as STRING; a relative path is joined to the config file's folder
 *   STRING_LIST  bv_strlist    a YAML sequence of strings, or one string for a list of one
 *   PATH_LIST    bv_strlist    as STRING_LIST, each item made relative as PATH
 *   DURATION     int64_t ms    "250ms", "30s", "5m", "2h", "7d" (bv_duration_parse)
 *   INT          int64_t       decimal; within [min, max] unless both are 0
 *   BOOL         bool          true/false/yes/no (any case)
 *   SECTION      a struct      a nested mapping filled from `sub`, whose offsets are relative to
 *                              the nested struct
 *   SECTION_LIST bv_seclist    a YAML sequence of mappings, each an elem_size struct filled from
 *                              `sub` (at most 64 keys) with its defaults; at most
 *                              BV_CONFIG_MAX_ITEMS items; empty when absent
 *   STRING_MAP   bv_strmap     a mapping of names (any the file gives) to strings
 *   GROUPS       bv_groups     a mapping of names (any the file gives) to lists of mappings,
 *                              each item filled from `sub` as in SECTION_LIST
 *   IGNORE       (no field)    accepted and skipped whole: a key another module parses itself
 * DURATION is range-checked against [min, max] like INT when they are not both 0. */
typedef enum bv_opt_type {
    BV_OPT_STRING = 1,
    BV_OPT_PATH,
    BV_OPT_STRING_LIST,
    BV_OPT_PATH_LIST,
    BV_OPT_DURATION,
    BV_OPT_INT,
    BV_OPT_BOOL,
    BV_OPT_SECTION,
    BV_OPT_SECTION_LIST,
    BV_OPT_STRING_MAP,
    BV_OPT_GROUPS,
    BV_OPT_IGNORE,
} bv_opt_type;

/* One option. A table is a static const array of these ending with an entry whose key is NULL.
 * `def` is the default written as in the file ("2m", "true", "state"); for lists, a YAML flow
 * sequence ("[a, b]"); NULL for none (NULL/empty/0/false). Defaults are parsed like values, so a
 * default PATH is relative to the config file's folder too. */
typedef struct bv_option {
    const char *key;
    bv_opt_type type;
    size_t offset;
    const char *def;
    const char *help;
    int64_t min, max;            /* INT and DURATION bounds; both 0: unbounded */
    const struct bv_option *sub; /* SECTION, SECTION_LIST: the nested table */
    size_t elem_size;            /* SECTION_LIST: bytes of one item's struct */
} bv_option;

#define BV_OPTION(k, t, st, field, d, h)                                                           \
    {                                                                                              \
        .key = (k), .type = (t), .offset = offsetof(st, field), .def = (d), .help = (h)            \
    }
#define BV_OPTION_RANGE(k, t, st, field, d, lo, hi, h)                                             \
    {                                                                                              \
        .key = (k), .type = (t), .offset = offsetof(st, field), .def = (d), .help = (h),           \
        .min = (lo), .max = (hi)                                                                   \
    }
#define BV_OPTION_SECTION(k, st, field, table, h)                                                  \
    {                                                                                              \
        .key = (k), .type = BV_OPT_SECTION, .offset = offsetof(st, field), .help = (h),            \
        .sub = (table)                                                                             \
    }
#define BV_OPTION_SECTION_LIST(k, st, field, table, elem, h)                                       \
    {                                                                                              \
        .key = (k), .type = BV_OPT_SECTION_LIST, .offset = offsetof(st, field), .help = (h),       \
        .sub = (table), .elem_size = sizeof(elem)                                                  \
    }
#define BV_OPTION_GROUPS(k, st, field, table, elem, h)                                             \
    {                                                                                              \
        .key = (k), .type = BV_OPT_GROUPS, .offset = offsetof(st, field), .help = (h),             \
        .sub = (table), .elem_size = sizeof(elem)                                                  \
    }
#define BV_OPTION_IGNORE(k, h)                                                                     \
    {                                                                                              \
        .key = (k), .type = BV_OPT_IGNORE, .help = (h)                                             \
    }
#define BV_OPTION_END                                                                              \
    {                                                                                              \
        .key = NULL                                                                                \
    }

/* Config files and buffers larger than this are refused (BV_ELIMIT). */
#define BV_CONFIG_MAX_BYTES (1024 * 1024)

/* Loads the YAML file at path (borrowed) into target (borrowed) per table: defaults first, then
 * the file's keys. The table's fields in target are overwritten without being freed, so they
 * must own nothing (zero the struct or bv_config_free it first). A file that is empty or holds
 * only comments gives the defaults. Refused, with `file:line:col: message` in *diag (may be
 * NULL): unknown keys (the message lists the known ones), duplicate keys, values of the wrong
 * type or out of range, a top level that is not a mapping, more than one document, anchors and
 * aliases, YAML syntax errors. On error target owns nothing (as after bv_config_free).
 * Returns 0, BV_EINVAL (bad content), BV_EIO (unreadable), BV_ELIMIT (too large), BV_ENOMEM. */
int bv_config_load(const char *path, const bv_option *table, void *target, bv_diag *diag);
/* The same from memory: yaml[0..len) (no NUL needed), `name` for diagnostics, relative paths
 * joined to base_dir (NULL or "": left as written). All borrowed. */
int bv_config_load_buffer(const char *name, const char *yaml, size_t len, const char *base_dir,
                          const bv_option *table, void *target, bv_diag *diag);
/* Frees the strings and lists the table's fields in target own and sets them to NULL/empty.
 * Safe to call twice and on a target that load left after an error. */
void bv_config_free(const bv_option *table, void *target);
/* Prints one line per option, "  key  (type, default X)  help"; sections as "  redis.url ...",
 * section lists as "  sources[].url ...", groups as "  recipients.NAME[].webhook ...". */
void bv_config_help(const bv_option *table, FILE *out);

#endif
