/* rules.h: rule sets. Parsed from YAML files (libyaml), compiled once into one Vectorscan
 * database over all keywords, phrases and regexes of all rules (one scan of the normalised text
 * per post), with pcre2 (JIT, match limits) confirming only the regex candidates.
 *
 * Keywords (in `lists` and `{keyword: TEXT}`) are normalised like post text (text.h) and match
 * whole words only; the words of a phrase may be joined by one space or by nothing, so
 * "project x" matches "Project-X", "#ProjectX", "projectx" and "PROJECT   X". A keyword ending
 * in '*' is a prefix match ("feest*" takes "feestje"; plain "feest" does not); '*' elsewhere is
 * an error. Regexes (pcre2 syntax, byte mode, no UTF) run on the normalised text. Lists and
 * regexes are named per file: a rule sees those of its own file. Aliases are refused.
 *
 * Ownership: a bv_ruleset owns everything it points to (rules, strings, databases) and is
 * immutable after load, so it may be shared; a bv_matcher holds per-caller scratch and borrows
 * its ruleset, which must outlive it. */
#ifndef BV_ENGINE_RULES_H
#define BV_ENGINE_RULES_H

#include "core/diag.h"
#include "engine/post.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum bv_severity { BV_SEV_INFO = 0, BV_SEV_WARNING, BV_SEV_CRITICAL } bv_severity;
const char *bv_severity_name(bv_severity s);

typedef enum bv_det_type {
    BV_DET_THRESHOLD = 0,  /* count >= count in the window */
    BV_DET_SPIKE,          /* window count >= factor x baseline, with minimums, silent until warm */
    BV_DET_UNIQUE_AUTHORS, /* >= count distinct authors in the window */
    BV_DET_GROWTH,         /* the count keeps doubling: over `periods` consecutive windows the
                              count never fell and grew at least 2^(periods*window/doubling)
                              times, the newest window >= min_count */
    BV_DET__COUNT
} bv_det_type;
const char *bv_det_type_name(bv_det_type t);

typedef struct bv_detector_spec {
    bv_det_type type;
    int64_t window_ms;   /* default 10m; a multiple of bucket_ms */
    int64_t bucket_ms;   /* default 1m */
    uint64_t count;      /* threshold, unique_authors: N (required, >= 1) */
    double factor;       /* spike: k (default 3) */
    uint64_t min_count;  /* spike: minimum current window count (default 10);
                            growth: minimum count of the newest window (default 10) */
    double min_baseline; /* spike: minimum baseline (mean count per window, default 1) */
    int64_t baseline_ms; /* spike: length of the baseline period before the window
                            (default 6 x window; a multiple of window_ms) */
    int64_t doubling_ms; /* growth: doubling time (default = window) */
    unsigned periods;    /* growth: consecutive windows that must grow (default 3) */
    int by_authors;      /* growth: measure distinct authors per window, not posts
                            (`measure: authors`; default posts) */
} bv_detector_spec;

#define BV_RULE_FINGERPRINT_LEN 32

typedef struct bv_rule {
    char *id;             /* unique in the set; [a-z0-9_-]+ */
    char *title;          /* human-facing; defaults to id */
    char *file;           /* the file it came from */
    int line;             /* its line there */
    bv_severity severity; /* default warning */
    char **recipients;    /* group names (police, mayor, comms, ...) */
    size_t nrecipients;
    int64_t cooldown_ms;    /* default 30m */
    unsigned platform_mask; /* bit (1u << bv_platform); 0 = every platform */
    char **languages;       /* language filter ("nl" also takes "nl-NL"); empty = any */
    size_t nlanguages;
    int require_any;             /* 0: every detector must hold (default); 1: any one */
    bv_detector_spec *detectors; /* at least one */
    size_t ndetectors;
    /* SHA-256 over everything that decides how the rule behaves, computed at load: its match
     * condition by content (the normalised keywords of the lists and keywords it uses, as a
     * set, so order, case and duplicates do not count; the text of its regexes; its place
     * conditions as the gazetteer entries they resolve to, and the gazetteer's names when it has
     * any place condition), its platform and language filters, detectors (every field), require,
     * severity, recipients, cooldown and title. Not covered: the id (it is what rules are
     * paired by), the file and line, list and regex names, and examples. Two loads of the same
     * files give the same fingerprint; editing a list file the rule uses changes it. */
    uint8_t fingerprint[BV_RULE_FINGERPRINT_LEN];
} bv_rule;

typedef struct bv_ruleset bv_ruleset;
typedef struct bv_matcher bv_matcher;

/* Loads and compiles rule files. The rule ids must be unique across files. On error returns
 * a negative bv_err and fills diag with file:line:col and what is wrong. */
int bv_rules_load(bv_ruleset **out, const char *const *files, size_t nfiles, bv_diag *diag);
/* What else a rule set is built with. */
typedef struct bv_rules_opts {
    /* The place names to find in posts (engine/places.h; borrowed, must outlive the set). NULL:
     * the built-in names when a rule uses `place:`, none otherwise. */
    const struct bv_gazetteer *places;
    const char *own; /* the municipality `place: own` means (with its own list), or NULL */
} bv_rules_opts;

/* bv_rules_load with options (NULL: none). */
int bv_rules_load_opts(bv_ruleset **out, const char *const *files, size_t nfiles,
                       const bv_rules_opts *opts, bv_diag *diag);

/* The same from memory (for tests and fuzzing); name is used in diagnostics. */
int bv_rules_load_buffer(bv_ruleset **out, const char *name, const char *yaml, size_t len,
                         bv_diag *diag);
void bv_rules_free(bv_ruleset *rs);

size_t bv_rules_count(const bv_ruleset *rs);
const bv_rule *bv_rules_get(const bv_ruleset *rs, size_t i); /* borrowed */
/* The index of the rule with this id, or -1 (a binary search over an index made at load). */
long bv_rules_find(const bv_ruleset *rs, const char *id);
/* The fingerprint as 64 hex digits and a NUL. */
void bv_rule_fingerprint_hex(const bv_rule *r, char out[2 * BV_RULE_FINGERPRINT_LEN + 1]);

/* Per-caller scratch for matching. NULL on allocation failure. */
bv_matcher *bv_matcher_new(const bv_ruleset *rs);
void bv_matcher_free(bv_matcher *m);

/* Matches one post: `norm` is bv_text_normalise() of post->text. Writes the indices of the rules
 * whose condition holds and whose platform/language filters accept the post into hits
 * (ascending; capacity bv_rules_count) and returns how many, or a negative bv_err.
 * post may be NULL: no filter applies then (examples are matched that way). A post whose lang
 * is "" passes every language filter; "nl" takes "nl", "NL" and "nl-NL". norm needs no NUL.
 * Allocates nothing. */
int bv_match(bv_matcher *m, const bv_post *post, const char *norm, size_t normlen, uint32_t *hits);

/* The places the last bv_match found (gazetteer entries, each once, in the order first named;
 * names that need context only with it). Borrowed until the next bv_match. */
size_t bv_match_places(const bv_matcher *m, const uint32_t **entries);
/* The gazetteer the rule set finds places with (NULL: none). Borrowed. */
const struct bv_gazetteer *bv_rules_places(const bv_ruleset *rs);

/* The reference path: the same answer as bv_match, computed by running pcre2 (JIT) for every
 * pattern of every rule, with no prefilter. Used by tests (the two must agree) and by the
 * benchmark as the baseline. */
int bv_match_reference(bv_matcher *m, const bv_post *post, const char *norm, size_t normlen,
                       uint32_t *hits);

/* Runs each rule's `examples` (match / no_match texts). Prints one line per failure to `out`
 * as "file:line:col: rule ID: example "..." should match / should not match". Returns the
 * number of failing examples (0 when all pass) and sets *total to the number run. */
int bv_rules_run_examples(const bv_ruleset *rs, FILE *out, size_t *total);

/* Prints, per rule, what goes into the multi-pattern database and what pcre2 confirms. */
void bv_rules_explain(const bv_ruleset *rs, FILE *out);

#endif
