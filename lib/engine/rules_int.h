/* rules_int.h: the inside of a rule set, shared by the YAML loader (rules_load.c) and the
 * compiler/matcher (rules.c). Not for use outside lib/engine/rules*.c. Everything here is owned
 * by the bv_ruleset (freed by bv_rules_free) unless marked borrowed. */
#ifndef BV_ENGINE_RULES_INT_H
#define BV_ENGINE_RULES_INT_H

#include "engine/places.h"
#include "engine/rules.h"

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stddef.h>
#include <stdint.h>

/* Limits that keep a hostile or broken rule file from using unbounded time or memory. */
#define RULES_MAX_FILE_BYTES (4u << 20) /* a rule file */
#define RULES_MAX_LIST_BYTES (1u << 20) /* a list file */
#define RULES_MAX_KEYWORD 256           /* bytes of a normalised keyword */
#define RULES_MAX_REGEX 4096            /* bytes of a regex */
#define RULES_MAX_DEPTH 32              /* nesting of conditions */
#define RULES_MAX_NODES 4096            /* condition nodes per rule */
#define RULES_MAX_RULES 20000           /* rules per set */
#define RULES_MAX_ATOMS 200000          /* lists, regexes and inline keywords per set */
#define RULES_MAX_BUCKETS 10080         /* buckets per window */
#define RULES_PCRE2_MATCH_LIMIT 100000u
#define RULES_PCRE2_DEPTH_LIMIT 1000u

enum { COND_ATOM = 0, COND_ANY, COND_ALL, COND_NOT };

typedef struct rcond {
    uint8_t type;
    uint32_t atom;  /* COND_ATOM: index into rs->atoms */
    uint32_t first; /* ANY/ALL/NOT: first child's index in the rule's kids */
    uint32_t n;     /* number of children */
} rcond;

enum { ATOM_LIST = 0, ATOM_REGEX, ATOM_KEYWORD, ATOM_PLACE };
enum { PLACE_ANY = 0, PLACE_OWN, PLACE_NAMES };

typedef struct ratom {
    int kind;
    char *name;       /* list or regex name, or the keyword as written */
    const char *file; /* borrowed from rs->files */
    int line, col;
    char **exprs; /* LIST/KEYWORD: one pattern per keyword (see keyword_expr in rules_load.c) */
    size_t nexprs;
    uint32_t *pats; /* LIST/KEYWORD: indices into rs->pats (compiled ones only) */
    size_t npats;
    char *regex;     /* REGEX: the pattern as written */
    pcre2_code *re;  /* REGEX: compiled (JIT when available) */
    int always;      /* REGEX: cannot be prefiltered by Vectorscan; pcre2 runs on every post */
    uint32_t *rules; /* indices of the rules that use this atom (ascending) */
    size_t nrules;
    int place_mode;     /* PLACE: PLACE_ANY, PLACE_OWN or PLACE_NAMES */
    char **place_names; /* PLACE_NAMES: as written */
    size_t nplace_names;
    uint32_t *place_entries; /* PLACE_NAMES, PLACE_OWN: the gazetteer entries that count
                                (ascending), resolved at compile time */
    size_t nplace_entries;
} ratom;

typedef struct rpat {
    const char *expr; /* borrowed from an atom's exprs */
    pcre2_code *re;   /* the pcre2 equivalent, for bv_match_reference */
    uint32_t *atoms;  /* atoms that contain this keyword */
    size_t natoms;
} rpat;

typedef struct rexample {
    char *text;
    int line, col;
    int want; /* 1: should match, 0: should not */
} rexample;

typedef struct rrule {
    bv_rule pub;
    rcond *nodes;
    size_t nnodes;
    uint32_t *kids;
    size_t nkids;
    uint32_t root;
    rexample *ex;
    size_t nex;
    int always; /* the condition holds when no atom hits: evaluated on every post */
} rrule;

struct bv_ruleset {
    rrule *rules;
    size_t nrules, caprules;
    ratom *atoms;
    size_t natoms, capatoms;
    rpat *pats;
    size_t npats;
    char **files;
    size_t nfiles;
    hs_database_t *db;      /* NULL when there is nothing to scan for */
    unsigned nhs;           /* patterns in db */
    uint32_t *always_rules; /* rules whose condition holds with no atom */
    size_t nalways_rules;
    uint32_t *always_regex; /* regex atoms pcre2 runs on every post */
    size_t nalways_regex;
    /* places: the gazetteer's names join the database (ids from place_base on) */
    const bv_gazetteer *places; /* borrowed from the caller, or owned (places_owned) */
    bv_gazetteer *places_owned;
    char *own; /* the configured municipality (place: own), or NULL */
    unsigned place_base;
    uint32_t *place_atoms; /* atoms of kind PLACE in use */
    size_t nplace_atoms;
    uint32_t *by_id; /* rule indices sorted by id, for bv_rules_find */
};

/* rules_load.c: parses one YAML rule file into rs (rules, atoms, examples). */
int bv_rules__parse(bv_ruleset *rs, const char *name, const char *yaml, size_t len, bv_diag *diag);
/* rules.c: builds the Vectorscan database and the pcre2 equivalents once every file is in. */
int bv_rules__compile(bv_ruleset *rs, bv_diag *diag);
/* rules.c: once compiled: the id index and each rule's fingerprint (rules.h). */
int bv_rules__finish(bv_ruleset *rs);
/* rules_load.c: frees everything parsing made (rules, atoms, files). */
void bv_rules__free_parsed(bv_ruleset *rs);

#endif
