/* test_rules.c: rule files (validation with file:line:col), keyword semantics, conditions,
 * filters, examples, the fast path against the reference path, the shipped rules/, and
 * fingerprints (what makes a rule "changed" when the set is reloaded) and lookup by id. */
#include "testutil.h"

#include "core/err.h"
#include "engine/places.h"
#include "engine/rules.h"
#include "engine/text.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A detector line every test rule can use. */
#define DET "    detectors: [{type: threshold, count: 5}]\n"

static bv_ruleset *load_ok(const char *yaml)
{
    bv_ruleset *rs = NULL;
    bv_diag d;
    memset(&d, 0, sizeof d);
    int rc = bv_rules_load_buffer(&rs, "t.yaml", yaml, strlen(yaml), &d);
    if (rc != 0) {
        char b[1200];
        fail_msg("load failed: %s", bv_diag_format(&d, b, sizeof b));
    }
    assert_non_null(rs);
    return rs;
}

/* Loads yaml, which must fail with "t.yaml:LINE:COL: ..." containing msg. */
static void load_err(const char *yaml, int line, int col, const char *msg)
{
    bv_ruleset *rs = NULL;
    bv_diag d;
    memset(&d, 0, sizeof d);
    int rc = bv_rules_load_buffer(&rs, "t.yaml", yaml, strlen(yaml), &d);
    char b[1200];
    bv_diag_format(&d, b, sizeof b);
    if (rc == 0 || d.line != line || d.col != col || strstr(d.msg, msg) == NULL ||
        strcmp(d.file, "t.yaml") != 0) {
        bv_rules_free(rs);
        fail_msg("want t.yaml:%d:%d: ...%s..., got rc %d: %s", line, col, msg, rc, b);
    }
    assert_null(rs);
}

/* Matches text on both paths (they must agree); returns 1 when rule `idx` is hit. */
static int hit_post(const bv_ruleset *rs, const bv_post *post, const char *text, size_t idx)
{
    bv_buf nb = BV_BUF_INIT;
    assert_int_equal(bv_text_normalise(text, strlen(text), &nb), 0);
    bv_matcher *m = bv_matcher_new(rs);
    assert_non_null(m);
    size_t n = bv_rules_count(rs);
    uint32_t *h1 = calloc(n + 1, sizeof *h1), *h2 = calloc(n + 1, sizeof *h2);
    int n1 = bv_match(m, post, nb.p, nb.len, h1);
    int n2 = bv_match_reference(m, post, nb.p, nb.len, h2);
    assert_true(n1 >= 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(h1, h2, (size_t)n1 * sizeof *h1);
    int got = 0;
    for (int i = 0; i < n1; i++) {
        got |= h1[i] == idx;
    }
    free(h1);
    free(h2);
    bv_matcher_free(m);
    bv_buf_free(&nb);
    return got;
}

static int hit(const bv_ruleset *rs, const char *text)
{
    return hit_post(rs, NULL, text, 0);
}

/* ---- keyword semantics ---- */

static void test_phrase_spellings(void **state)
{
    (void)state;
    bv_ruleset *rs = load_ok("rules:\n"
                             "  - id: px\n"
                             "    match: {keyword: \"project x\"}\n" DET);
    assert_true(hit(rs, "Project X"));
    assert_true(hit(rs, "Project-X feest"));
    assert_true(hit(rs, "kom naar #ProjectX"));
    assert_true(hit(rs, "kom naar #ProjectXHaren"));
    assert_true(hit(rs, "projectx"));
    assert_true(hit(rs, "PROJECT   X"));
    assert_true(hit(rs, "pro\u200Bject x"));
    assert_true(hit(rs, "ｐｒｏｊｅｃｔ ｘ"));
    assert_true(hit(rs, "(project.x)"));
    assert_false(hit(rs, "project xylofoon"));
    assert_false(hit(rs, "myproject x"));
    assert_false(hit(rs, "project  y x"));
    assert_false(hit(rs, "projectxharen")); /* no split without a CamelCase hashtag */
    assert_false(hit(rs, ""));
    bv_rules_free(rs);
}

static void test_whole_words_and_prefix(void **state)
{
    (void)state;
    bv_ruleset *rs = load_ok("lists:\n"
                             "  a: [feest]\n"
                             "  b: [\"feest*\"]\n"
                             "  c: [café, \"één\"]\n"
                             "rules:\n"
                             "  - id: whole\n"
                             "    match: {list: a}\n" DET "  - id: prefix\n"
                             "    match: {list: b}\n" DET "  - id: dia\n"
                             "    match: {list: c}\n" DET);
    assert_true(hit_post(rs, NULL, "Feest!", 0));
    assert_false(hit_post(rs, NULL, "feestje", 0));
    assert_false(hit_post(rs, NULL, "tuinfeest", 0));
    assert_true(hit_post(rs, NULL, "feestje", 1));
    assert_true(hit_post(rs, NULL, "FEESTEN", 1));
    assert_false(hit_post(rs, NULL, "tuinfeest", 1));
    assert_true(hit_post(rs, NULL, "naar het cafe", 2));
    assert_true(hit_post(rs, NULL, "naar het CAFÉ", 2));
    assert_true(hit_post(rs, NULL, "cafe\xcc\x81", 2));
    assert_true(hit_post(rs, NULL, "nog een keer", 2)); /* één -> een */
    assert_false(hit_post(rs, NULL, "cafeetje", 2));
    bv_rules_free(rs);
}

static void test_conditions(void **state)
{
    (void)state;
    bv_ruleset *rs = load_ok("lists:\n"
                             "  party: [feest, party]\n"
                             "  when: [vanavond, tonight]\n"
                             "  film: [film, netflix]\n"
                             "regexes:\n"
                             "  clock: '\\b\\d{1,2} ?(uur|u)\\b'\n"
                             "rules:\n"
                             "  - id: tree\n"
                             "    match:\n"
                             "      all:\n"
                             "        - {list: party}\n"
                             "        - any: [{list: when}, {regex: clock}]\n"
                             "        - not: {list: film}\n" DET "  - id: lonenot\n"
                             "    match: {not: {keyword: spam}}\n" DET "  - id: notnot\n"
                             "    match: {not: {not: {keyword: ham}}}\n" DET);
    assert_true(hit_post(rs, NULL, "feest vanavond", 0));
    assert_true(hit_post(rs, NULL, "party om 22 uur", 0));
    assert_true(hit_post(rs, NULL, "party om 22u", 0));
    assert_false(hit_post(rs, NULL, "party om 220 uur", 0));
    assert_false(hit_post(rs, NULL, "feest", 0));
    assert_false(hit_post(rs, NULL, "feest vanavond op netflix", 0));
    assert_false(hit_post(rs, NULL, "vanavond 22 uur", 0));
    /* a rule that holds with no atom is evaluated on every post */
    assert_true(hit_post(rs, NULL, "", 1));
    assert_true(hit_post(rs, NULL, "whatever", 1));
    assert_false(hit_post(rs, NULL, "spam spam", 1));
    assert_true(hit_post(rs, NULL, "ham", 2));
    assert_false(hit_post(rs, NULL, "eggs", 2));
    bv_rules_free(rs);
}

static void test_filters(void **state)
{
    (void)state;
    bv_ruleset *rs = load_ok("rules:\n"
                             "  - id: f\n"
                             "    platforms: [mastodon, x]\n"
                             "    languages: [nl, en]\n"
                             "    match: {keyword: feest}\n" DET);
    bv_post p;
    memset(&p, 0, sizeof p);
    p.platform = BV_PLATFORM_MASTODON;
    assert_true(hit_post(rs, &p, "feest", 0)); /* no language: passes */
    snprintf(p.lang, sizeof p.lang, "nl");
    assert_true(hit_post(rs, &p, "feest", 0));
    snprintf(p.lang, sizeof p.lang, "nl-NL");
    assert_true(hit_post(rs, &p, "feest", 0));
    snprintf(p.lang, sizeof p.lang, "NL");
    assert_true(hit_post(rs, &p, "feest", 0));
    snprintf(p.lang, sizeof p.lang, "en-GB");
    assert_true(hit_post(rs, &p, "feest", 0));
    snprintf(p.lang, sizeof p.lang, "de");
    assert_false(hit_post(rs, &p, "feest", 0));
    snprintf(p.lang, sizeof p.lang, "nld");
    assert_false(hit_post(rs, &p, "feest", 0));
    snprintf(p.lang, sizeof p.lang, "nl");
    p.platform = BV_PLATFORM_X;
    assert_true(hit_post(rs, &p, "feest", 0));
    p.platform = BV_PLATFORM_BLUESKY;
    assert_false(hit_post(rs, &p, "feest", 0));
    const bv_rule *r = bv_rules_get(rs, 0);
    assert_int_equal(r->platform_mask, (1u << BV_PLATFORM_MASTODON) | (1u << BV_PLATFORM_X));
    assert_int_equal(r->nlanguages, 2);
    assert_null(bv_rules_get(rs, 1));
    bv_rules_free(rs);
}

static void test_rule_fields(void **state)
{
    (void)state;
    bv_ruleset *rs =
        load_ok("rules:\n"
                "  - id: full\n"
                "    title: \"Volledig\"\n"
                "    severity: critical\n"
                "    recipients: [police, mayor]\n"
                "    cooldown: 15m\n"
                "    require: any\n"
                "    match: {keyword: x}\n"
                "    detectors:\n"
                "      - {type: unique_authors, window: 30m, bucket: 1m, count: 25}\n"
                "      - {type: growth, window: 10m, bucket: 1m, doubling: 20m, periods: 3, "
                "min_count: 10}\n"
                "      - {type: spike, window: 10m, bucket: 1m, factor: 3, min_count: 10, "
                "min_baseline: 1, baseline: 1h}\n"
                "      - {type: threshold, window: 5m, bucket: 1m, count: 50}\n"
                "      - {type: spike}\n"
                "  - id: defaults\n"
                "    match: {keyword: y}\n" DET);
    assert_int_equal(bv_rules_count(rs), 2);
    const bv_rule *r = bv_rules_get(rs, 0);
    assert_string_equal(r->id, "full");
    assert_string_equal(r->title, "Volledig");
    assert_string_equal(r->file, "t.yaml");
    assert_int_equal(r->line, 2);
    assert_int_equal(r->severity, BV_SEV_CRITICAL);
    assert_int_equal(r->nrecipients, 2);
    assert_string_equal(r->recipients[1], "mayor");
    assert_int_equal(r->cooldown_ms, 15 * 60000);
    assert_int_equal(r->require_any, 1);
    assert_int_equal(r->ndetectors, 5);
    assert_int_equal(r->detectors[0].type, BV_DET_UNIQUE_AUTHORS);
    assert_int_equal(r->detectors[0].window_ms, 30 * 60000);
    assert_int_equal(r->detectors[0].count, 25);
    assert_int_equal(r->detectors[1].type, BV_DET_GROWTH);
    assert_int_equal(r->detectors[1].doubling_ms, 20 * 60000);
    assert_int_equal(r->detectors[1].periods, 3);
    assert_int_equal(r->detectors[2].baseline_ms, 3600000);
    assert_true(r->detectors[2].factor == 3.0);
    assert_int_equal(r->detectors[3].count, 50);
    /* spike defaults */
    assert_int_equal(r->detectors[4].window_ms, 600000);
    assert_int_equal(r->detectors[4].bucket_ms, 60000);
    assert_true(r->detectors[4].factor == 3.0);
    assert_int_equal(r->detectors[4].min_count, 10);
    assert_true(r->detectors[4].min_baseline == 1.0);
    assert_int_equal(r->detectors[4].baseline_ms, 3600000);
    r = bv_rules_get(rs, 1);
    assert_string_equal(r->title, "defaults");
    assert_int_equal(r->severity, BV_SEV_WARNING);
    assert_int_equal(r->cooldown_ms, 30 * 60000);
    assert_int_equal(r->require_any, 0);
    assert_int_equal(r->platform_mask, 0);
    assert_string_equal(bv_severity_name(BV_SEV_INFO), "info");
    assert_string_equal(bv_det_type_name(BV_DET_UNIQUE_AUTHORS), "unique_authors");
    bv_rules_free(rs);
}

/* ---- validation: each error at its line:col ---- */

static void test_errors_structure(void **state)
{
    (void)state;
    load_err("foo: 1\n", 1, 1, "unknown key 'foo' in a rule file");
    load_err("- a\n", 1, 1, "a rule file is a mapping");
    load_err("rules:\n  - id: a\n    match: {keyword: x}\n" DET "    colour: red\n", 5, 5,
             "unknown key 'colour' in a rule");
    load_err("rules:\n  - id: a\n    id: b\n", 3, 5, "duplicate key 'id'");
    load_err("rules:\n  - match: {keyword: x}\n" DET, 2, 5, "rule has no 'id'");
    load_err("rules:\n  - id: a\n" DET, 2, 5, "has no 'match'");
    load_err("rules:\n  - id: a\n    match: {keyword: x}\n", 2, 5, "has no 'detectors'");
    load_err("rules:\n  - id: a\n    match: {keyword: x}\n    detectors: []\n", 4, 16,
             "non-empty sequence");
    load_err("rules:\n  - id: Bad Id\n    match: {keyword: x}\n" DET, 2, 9, "bad rule id");
    load_err("rules:\n  - id: a\n    match: {keyword: x}\n" DET
             "  - id: a\n    match: {keyword: y}\n" DET,
             5, 9, "duplicate rule id 'a' (first at t.yaml:2)");
    load_err("rules:\n  - id: a\n    severity: loud\n    match: {keyword: x}\n" DET, 3, 15,
             "unknown severity 'loud'");
    load_err("rules:\n  - id: a\n    require: most\n    match: {keyword: x}\n" DET, 3, 14,
             "require must be");
    load_err("rules:\n  - id: a\n    cooldown: soon\n    match: {keyword: x}\n" DET, 3, 15,
             "bad duration");
    load_err("rules:\n  - id: a\n    platforms: [mastodon, myspace]\n    match: {keyword: x}\n" DET,
             3, 27, "unknown platform 'myspace'");
    load_err("rules:\n  - id: a\n    languages: [nl, \"n l\"]\n    match: {keyword: x}\n" DET, 3,
             21, "bad language tag");
    load_err("rules:\n  - id: a\n    recipients: [Police]\n    match: {keyword: x}\n" DET, 3, 18,
             "bad recipients entry");
    load_err("rules: {a: 1}\n", 1, 8, "'rules' must be a sequence");
    load_err("lists: [a]\n", 1, 8, "'lists' must be a mapping");
}

static void test_errors_yaml(void **state)
{
    (void)state;
    load_err("rules:\n  - id: [a\n", 3, 1, "");
    load_err("rules:\n\t- id: a\n", 2, 1, "");
    load_err("lists:\n  a: &x [feest]\n  b: *x\n", 2, 6, "aliases are not supported");
    load_err("lists: {a: [x]}\n---\nlists: {b: [y]}\n", 3, 1, "only one YAML document");
    load_err("rules:\n  - id: \"a\\0b\"\n", 2, 9, "NUL");
}

static void test_errors_keywords(void **state)
{
    (void)state;
    load_err("lists:\n  a: [feest, \"!!\"]\n", 2, 14, "empty keyword");
    load_err("lists:\n  a: [feest, \"\"]\n", 2, 14, "empty keyword");
    load_err("lists:\n  a: [\"fe*est\"]\n", 2, 7, "'*' is allowed only at the end");
    load_err("lists:\n  a: []\n", 2, 6, "list 'a' is empty");
    load_err("lists:\n  a: feest\n", 2, 6, "must be a sequence of keywords");
    load_err("lists:\n  a: [x]\n  a: [y]\n", 3, 3, "duplicate list 'a'");
    load_err("lists:\n  a: [[x]]\n", 2, 7, "a keyword must be a string");
    load_err("lists:\n  a: {path: x.txt}\n", 2, 7, "unknown key 'path' in a list");
    load_err("lists:\n  a: {file: does-not-exist.txt}\n", 2, 13, "cannot read list file");
    load_err("rules:\n  - id: a\n    match: {keyword: \"...\"}\n" DET, 3, 22, "empty keyword");
}

static void test_errors_regex(void **state)
{
    (void)state;
    /* pcre2's message and offset: the column is the offending character's */
    load_err("regexes:\n  r: 'ab(c'\n", 2, 11, "missing closing parenthesis");
    load_err("regexes:\n  r: ab[c\n", 2, 10, "missing terminating ]");
    load_err("regexes:\n  r: 'x{2,1}'\n", 2, 12, "numbers out of order");
    load_err("regexes:\n  r: ''\n", 2, 6, "empty regex");
    load_err("regexes:\n  r: '(*UTF)x'\n", 2, 13, "does not compile");
    load_err("regexes:\n  r: [x]\n", 2, 6, "a regex must be a string");
}

static void test_errors_conditions(void **state)
{
    (void)state;
    load_err("lists: {a: [x]}\nrules:\n  - id: r\n    match: {list: b}\n" DET, 4, 19,
             "unknown list 'b'");
    load_err("rules:\n  - id: r\n    match: {regex: b}\n" DET, 3, 20, "unknown regex 'b'");
    load_err("rules:\n  - id: r\n    match: {keyword: x, list: y}\n" DET, 3, 12, "a condition is");
    load_err("rules:\n  - id: r\n    match: {word: x}\n" DET, 3, 13, "unknown key 'word'");
    load_err("rules:\n  - id: r\n    match: {any: []}\n" DET, 3, 18, "non-empty sequence");
    load_err("rules:\n  - id: r\n    match: {all: {keyword: x}}\n" DET, 3, 18,
             "non-empty sequence");
    load_err("rules:\n  - id: r\n    match: [x]\n" DET, 3, 12, "a condition is");
    /* nesting limit */
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "rules:\n  - id: r\n    match: ");
    for (int i = 0; i < 40; i++) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{not: ");
    }
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{keyword: x}");
    for (int i = 0; i < 40; i++) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "}");
    }
    snprintf(buf + n, sizeof buf - n, "\n" DET);
    load_err(buf, 3, 12 + 6 * 33, "nested deeper");
}

/* ---- places ---- */

static void test_places(void **state)
{
    (void)state;
    bv_ruleset *rs =
        load_ok("rules:\n"
                "  - id: any\n"
                "    match: {all: [{keyword: feest}, {place: any}]}\n" DET "  - id: names\n"
                "    match: {place: [Haren, \"Den Haag\"]}\n" DET "  - id: nowhere\n"
                "    match: {all: [{keyword: feest}, {not: {place: any}}]}\n" DET);
    /* a place in a phrase, multi-word names, diacritics, hashtags */
    assert_true(hit(rs, "Groot feest in Haren zaterdag"));
    assert_true(hit(rs, "feest op de Grote Markt in Den Bosch"));
    assert_true(hit(rs, "FEEST in HOEK VAN HOLLAND"));
    assert_true(hit(rs, "feest #Leeuwarden"));
    assert_false(hit(rs, "feest zonder plaats"));
    /* names that are also words: a preposition of place, or a capital inside a sentence */
    assert_true(hit(rs, "feest in best vanavond"));
    assert_true(hit_post(rs, &(bv_post){.text = (char *)"Morgen feest, ook Best doet mee"},
                         "Morgen feest, ook Best doet mee", 0));
    assert_false(hit(rs, "de beste feest ooit"));
    assert_false(hit(rs, "made in Holland feest"));
    assert_false(hit_post(rs, &(bv_post){.text = (char *)"Feest! Best wel leuk"},
                          "Feest! Best wel leuk", 0));
    assert_false(hit_post(rs, &(bv_post){.text = (char *)"feest. Made in China"},
                          "feest. Made in China", 0));
    /* [names]: the names, their aliases and parts */
    assert_true(hit_post(rs, NULL, "vanavond in Haren", 1));
    assert_true(hit_post(rs, NULL, "rellen in 's-Gravenhage", 1));
    assert_true(hit_post(rs, NULL, "The Hague tonight", 1));
    assert_true(hit_post(rs, NULL, "strand Scheveningen", 1));
    assert_false(hit_post(rs, NULL, "rellen in Groningen", 1));
    /* not: {place: any} */
    assert_true(hit_post(rs, NULL, "feest zonder plaats", 2));
    assert_false(hit_post(rs, NULL, "feest in Haren", 2));
    /* the places found, each once, in the order named */
    bv_matcher *m = bv_matcher_new(rs);
    bv_buf nb = BV_BUF_INIT;
    const char *t = "Van Haren naar Den Haag en terug naar Haren, best ver";
    bv_text_normalise(t, strlen(t), &nb);
    uint32_t hits[4];
    bv_post post = {.text = (char *)t};
    assert_true(bv_match(m, &post, nb.p, nb.len, hits) >= 0);
    const uint32_t *pl;
    assert_int_equal(bv_match_places(m, &pl), 2); /* "best" without context: not a place */
    bv_gazetteer *g = bv_gazetteer_new();
    (void)g;
    bv_gazetteer_free(g);
    bv_buf_free(&nb);
    bv_matcher_free(m);
    bv_rules_free(rs);
}

static void test_places_own(void **state)
{
    (void)state;
    bv_gazetteer *g = bv_gazetteer_new();
    const char *extra = "Malieveld\nZuiderpark\n";
    bv_diag d;
    assert_int_equal(bv_gazetteer_add_extra(g, "dh.txt", extra, strlen(extra), &d), 0);
    char path[] = "/tmp/bv_test_places_XXXXXX";
    int fd = mkstemp(path);
    const char *y = "rules:\n  - id: own\n    match: {place: own}\n" DET
                    "  - id: mv\n    match: {place: [Malieveld]}\n" DET;
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    const char *files[] = {path};
    bv_rules_opts o = {.places = g, .own = "Den Haag"};
    bv_ruleset *rs = NULL;
    assert_int_equal(bv_rules_load_opts(&rs, files, 1, &o, &d), 0);
    assert_true(hit_post(rs, NULL, "demonstratie op het Malieveld", 0));
    assert_true(hit_post(rs, NULL, "vuurwerk Zuiderpark", 0));
    assert_true(hit_post(rs, NULL, "rellen in Den Haag", 0));
    assert_true(hit_post(rs, NULL, "rellen in 's-Gravenhage", 0));
    assert_true(hit_post(rs, NULL, "drukte in Scheveningen", 0));
    assert_false(hit_post(rs, NULL, "rellen in Rotterdam", 0));
    assert_true(hit_post(rs, NULL, "demonstratie op het Malieveld", 1));
    bv_rules_free(rs);
    /* own without a municipality; a name nobody knows */
    o.own = NULL;
    assert_int_equal(bv_rules_load_opts(&rs, files, 1, &o, &d), BV_EINVAL);
    assert_non_null(strstr(d.msg, "needs the municipality"));
    assert_int_equal(d.line, 3);
    unlink(path);
    bv_gazetteer_free(g);
    load_err("rules:\n  - id: r\n    match: {place: [Malieveld]}\n" DET, 3, 20,
             "unknown place 'Malieveld'");
    load_err("rules:\n  - id: r\n    match: {place: everywhere}\n" DET, 3, 20,
             "'place' takes any, own or a list of place names, not 'everywhere'");
    load_err("rules:\n  - id: r\n    match: {place: []}\n" DET, 3, 20,
             "non-empty list of place names");
    load_err("rules:\n  - id: r\n    match: {place: {a: b}}\n" DET, 3, 20,
             "non-empty list of place names");
    load_err("rules:\n  - id: r\n    match: {place: [[x]]}\n" DET, 3, 21, "a place name");
}

#define R0 "rules:\n  - id: r\n    match: {keyword: x}\n    detectors:\n"

static void test_errors_detectors(void **state)
{
    (void)state;
    load_err(R0 "      - {type: threshold, window: 10m, bucket: 3m, count: 5}\n", 5, 35,
             "window 10m is not a multiple of bucket 3m");
    load_err(R0 "      - {type: threshold, count: 0}\n", 5, 34, "count must be at least 1");
    load_err(R0 "      - {type: threshold}\n", 5, 9, "needs 'count'");
    load_err(R0 "      - {type: unique_authors, window: 5m}\n", 5, 9, "needs 'count'");
    load_err(R0 "      - {type: avalanche}\n", 5, 16, "unknown detector type 'avalanche'");
    load_err(R0 "      - {window: 5m}\n", 5, 9, "no 'type'");
    load_err(R0 "      - {type: threshold, count: 5, factor: 2}\n", 5, 37,
             "'factor' does not apply to a threshold detector");
    load_err(R0 "      - {type: spike, colour: red}\n", 5, 23,
             "unknown key 'colour' in a detector");
    load_err(R0 "      - {type: spike, factor: 1}\n", 5, 31, "factor must be greater than 1");
    load_err(R0 "      - {type: spike, factor: -2}\n", 5, 31, "must be a number >= 0");
    load_err(R0 "      - {type: spike, window: 10m, baseline: 25m}\n", 5, 46,
             "baseline 25m is not a multiple of window 10m");
    load_err(R0 "      - {type: growth, periods: 0}\n", 5, 33, "periods must be between 1 and 12");
    load_err(R0 "      - {type: growth, periods: 13}\n", 5, 33, "periods must be between 1 and 12");
    load_err(R0 "      - {type: growth, measure: likes}\n", 5, 33,
             "measure must be posts or authors");
    load_err(R0 "      - {type: threshold, count: 1, measure: posts}\n", 5, 37,
             "'measure' does not apply to a threshold detector");
    load_err(R0 "      - {type: growth, doubling: 0s}\n", 5, 34, "doubling must be longer than 0");
    load_err(R0 "      - {type: threshold, count: 5, bucket: 0s}\n", 5, 45,
             "bucket must be longer than 0");
    load_err(R0 "      - {type: threshold, count: five}\n", 5, 34, "whole number");
    load_err(R0 "      - {type: threshold, count: 5, window: 30d, bucket: 1s}\n", 5, 45,
             "more than 10080 buckets");
    load_err(R0 "      - [threshold]\n", 5, 9, "a detector must be a mapping");
}

static void test_errors_examples(void **state)
{
    (void)state;
    load_err("rules:\n  - id: r\n    match: {keyword: x}\n" DET "    examples: {maybe: [a]}\n", 5,
             16, "unknown key 'maybe' in examples");
    load_err("rules:\n  - id: r\n    match: {keyword: x}\n" DET "    examples: {match: a}\n", 5, 23,
             "must be a sequence of texts");
}

/* ---- files: bv_rules_load, list files, ids unique across files ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void rm_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(tmpdir);
}

static void test_files(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bv-rules-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    write_file("film.txt", "# films and tv\nfilm\n\n  netflix  \nrtl*\n");
    write_file("bad.txt", "ok\n  !!\n");
    write_file("a.yaml", "lists:\n  film: {file: film.txt}\nrules:\n  - id: a\n"
                         "    match: {list: film}\n" DET);
    write_file("b.yaml", "rules:\n  - id: a\n    match: {keyword: y}\n" DET);
    write_file("c.yaml", "lists:\n  x: {file: bad.txt}\n");
    write_file("d.yaml", "rules:\n  - id: d\n    match: {keyword: y}\n" DET);
    char a[256], b[256], c[256], d[256], nope[256];
    snprintf(a, sizeof a, "%s/a.yaml", tmpdir);
    snprintf(b, sizeof b, "%s/b.yaml", tmpdir);
    snprintf(c, sizeof c, "%s/c.yaml", tmpdir);
    snprintf(d, sizeof d, "%s/d.yaml", tmpdir);
    snprintf(nope, sizeof nope, "%s/nope.yaml", tmpdir);

    bv_ruleset *rs = NULL;
    bv_diag dg;
    memset(&dg, 0, sizeof dg);
    const char *ad[] = {a, d};
    assert_int_equal(bv_rules_load(&rs, ad, 2, &dg), 0);
    assert_int_equal(bv_rules_count(rs), 2);
    assert_string_equal(bv_rules_get(rs, 0)->file, a);
    assert_string_equal(bv_rules_get(rs, 1)->file, d);
    assert_true(hit(rs, "op Netflix"));
    assert_true(hit(rs, "RTL7 en rtl 4"));
    assert_true(hit(rs, "een film"));
    assert_false(hit(rs, "films and tv")); /* a comment line is no keyword */
    bv_rules_free(rs);

    const char *ab[] = {a, b};
    assert_int_equal(bv_rules_load(&rs, ab, 2, &dg), BV_EINVAL);
    assert_null(rs);
    assert_string_equal(dg.file, b);
    assert_int_equal(dg.line, 2);
    assert_int_equal(dg.col, 9);
    assert_non_null(strstr(dg.msg, "duplicate rule id 'a'"));

    const char *cc[] = {c};
    assert_int_equal(bv_rules_load(&rs, cc, 1, &dg), BV_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s/bad.txt", tmpdir);
    assert_string_equal(dg.file, want);
    assert_int_equal(dg.line, 2);
    assert_int_equal(dg.col, 3);
    assert_non_null(strstr(dg.msg, "empty keyword"));

    const char *nn[] = {nope};
    assert_int_equal(bv_rules_load(&rs, nn, 1, &dg), BV_EIO);
    assert_string_equal(dg.file, nope);
    const char *dir[] = {tmpdir};
    assert_int_equal(bv_rules_load(&rs, dir, 1, &dg), BV_EIO);
    rm_tmpdir();
}

/* ---- examples and explain ---- */

static void test_examples(void **state)
{
    (void)state;
    bv_ruleset *rs = load_ok("rules:\n"
                             "  - id: ex\n"
                             "    match: {keyword: \"project x\"}\n" DET "    examples:\n"
                             "      match: [\"Project X!\", \"geen feest\"]\n"
                             "      no_match:\n"
                             "        - \"Project Y\"\n"
                             "        - \"#ProjectX\"\n"
                             "  - id: none\n"
                             "    match: {keyword: y}\n" DET);
    char *text = NULL;
    size_t len = 0, total = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(bv_rules_run_examples(rs, out, &total), 2);
    fclose(out);
    assert_int_equal(total, 4);
    assert_string_equal(text, "t.yaml:6:29: rule ex: example \"geen feest\" should match\n"
                              "t.yaml:9:11: rule ex: example \"#ProjectX\" should not match\n");
    free(text);
    assert_int_equal(bv_rules_run_examples(rs, NULL, NULL), 2);

    out = open_memstream(&text, &len);
    bv_rules_explain(rs, out);
    fclose(out);
    assert_non_null(strstr(text, "rule ex (t.yaml:2)"));
    assert_non_null(strstr(text, "hs id 0  / project ?x /  SINGLEMATCH, as 2 literals"));
    assert_non_null(strstr(text, "threshold window 10m bucket 1m count 5"));
    free(text);
    bv_rules_free(rs);
}

static void test_explain_regex(void **state)
{
    (void)state;
    bv_ruleset *rs = load_ok("regexes:\n"
                             "  clock: '\\b\\d{1,2} ?uur\\b'\n"
                             "  empty: 'x*'\n"
                             "  back: '(a)\\1'\n"
                             "rules:\n"
                             "  - id: r\n"
                             "    match: {any: [{regex: clock}, {regex: empty}, {regex: back}]}\n"
                             "    detectors: [{type: spike, baseline: 1h}]\n");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    bv_rules_explain(rs, out);
    fclose(out);
    assert_non_null(strstr(text, "PREFILTER|SINGLEMATCH; pcre2 (JIT) confirms"));
    assert_non_null(strstr(text, "not prefilterable: pcre2 runs /x*/ on every post"));
    assert_non_null(strstr(text, "condition (evaluated when one of its atoms hits)"));
    free(text);
    /* x* matches everywhere (the empty string) */
    assert_true(hit(rs, "zzz"));
    bv_rules_free(rs);
}

/* ---- generated rule sets: fast path == reference path, and a 200-rule set ---- */

static uint32_t rnd_state = 1;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static const char *const vocab[] = {
    "feest",    "party",    "fuif",   "project",      "x",       "haren",  "vanavond", "morgen",
    "zaterdag", "om",       "uur",    "iedereen",     "welkom",  "open",   "invite",   "film",
    "netflix",  "rtl",      "druk",   "dam",          "gedrang", "paniek", "ajax",     "feyenoord",
    "rellen",   "vuurwerk", "strand", "scheveningen", "café",    "één",    "straße",   "koningsdag",
    "tonight",  "everyone", "come",   "de",           "het",     "een",
};
#define NVOCAB (sizeof vocab / sizeof *vocab)

static void gen_keyword(bv_buf *b)
{
    unsigned words = 1 + rnd() % 3;
    bv_buf_putc(b, '"');
    for (unsigned w = 0; w < words; w++) {
        if (w > 0) {
            bv_buf_putc(b, ' ');
        }
        if (rnd() % 4 == 0) {
            bv_buf_printf(b, "w%u", rnd() % 300);
        } else {
            bv_buf_puts(b, vocab[rnd() % NVOCAB]);
        }
    }
    if (rnd() % 6 == 0) {
        bv_buf_putc(b, '*');
    }
    bv_buf_putc(b, '"');
}

static void gen_cond(bv_buf *b, unsigned nlists, unsigned nre, int depth)
{
    unsigned k = rnd() % (depth > 2 ? 3 : 6);
    if (k == 0) {
        bv_buf_printf(b, "{list: l%u}", rnd() % nlists);
    } else if (k == 1) {
        bv_buf_printf(b, "{regex: r%u}", rnd() % nre);
    } else if (k == 2) {
        bv_buf_puts(b, "{keyword: ");
        gen_keyword(b);
        bv_buf_putc(b, '}');
    } else if (k == 5) {
        bv_buf_puts(b, "{not: ");
        gen_cond(b, nlists, nre, depth + 1);
        bv_buf_putc(b, '}');
    } else {
        bv_buf_puts(b, k == 3 ? "{any: [" : "{all: [");
        unsigned n = 1 + rnd() % 3;
        for (unsigned i = 0; i < n; i++) {
            if (i > 0) {
                bv_buf_puts(b, ", ");
            }
            gen_cond(b, nlists, nre, depth + 1);
        }
        bv_buf_puts(b, "]}");
    }
}

static const char *const gen_regexes[] = {
    "\\b\\d{1,2} ?(uur|u|h)\\b",
    "feest(je)? (bij|in) \\w+",
    "\\bw1\\d\\b",
    "(a|e)\\1",
    "^ \\w+ ",
    "ij",
    "\\d{4}",
    "x y",
    "[aeiou]{3}",
    "(vanavond|morgen).*(feest|party)",
};

static char *gen_ruleset(unsigned nrules, unsigned nlists, int simple)
{
    bv_buf b = BV_BUF_INIT;
    bv_buf_puts(&b, "lists:\n");
    for (unsigned i = 0; i < nlists; i++) {
        bv_buf_printf(&b, "  l%u: [", i);
        unsigned n = 3 + rnd() % 12;
        for (unsigned k = 0; k < n; k++) {
            if (k > 0) {
                bv_buf_puts(&b, ", ");
            }
            gen_keyword(&b);
        }
        bv_buf_puts(&b, "]\n");
    }
    unsigned nre = sizeof gen_regexes / sizeof *gen_regexes;
    bv_buf_puts(&b, "regexes:\n");
    for (unsigned i = 0; i < nre; i++) {
        bv_buf_printf(&b, "  r%u: '%s'\n", i, gen_regexes[i]);
    }
    bv_buf_puts(&b, "rules:\n");
    for (unsigned i = 0; i < nrules; i++) {
        bv_buf_printf(&b, "  - id: rule-%u\n    match: ", i);
        if (simple) {
            /* the benchmark's shape: keyword lists, sometimes a regex, a few exclusions */
            bv_buf_printf(&b,
                          "{all: [{list: l%u}, {any: [{list: l%u}, {regex: r%u}]}, "
                          "{not: {list: l%u}}]}",
                          rnd() % nlists, rnd() % nlists, rnd() % nre, rnd() % nlists);
        } else {
            gen_cond(&b, nlists, nre, 0);
        }
        bv_buf_puts(&b, "\n");
        if (rnd() % 4 == 0) {
            bv_buf_puts(&b, "    platforms: [mastodon, x]\n");
        }
        if (rnd() % 4 == 0) {
            bv_buf_puts(&b, "    languages: [nl]\n");
        }
        bv_buf_puts(&b, DET);
    }
    return bv_buf_steal(&b);
}

static void gen_text(bv_buf *b)
{
    static const char *const seps[] = {" ", "  ", ", ", "! ", "-", " #", " 🎉 ", "\u200B", "."};
    static const char *const extra[] = {"ProjectX", "FeestVanavond", "22",   "22u",
                                        "om 9 uur", "Café",          "ÉÉN",  "feestje",
                                        "w12",      "aaa",           "2027", "ij"};
    bv_buf_reset(b);
    unsigned n = rnd() % 25;
    for (unsigned i = 0; i < n; i++) {
        unsigned k = rnd() % 10;
        if (k < 6) {
            bv_buf_puts(b, vocab[rnd() % NVOCAB]);
        } else if (k < 8) {
            bv_buf_puts(b, extra[rnd() % (sizeof extra / sizeof *extra)]);
        } else {
            bv_buf_printf(b, "w%u", rnd() % 300);
        }
        bv_buf_puts(b, seps[rnd() % (sizeof seps / sizeof *seps)]);
    }
}

static void agree(unsigned nrules, unsigned nlists, int simple, unsigned ntexts, uint32_t seed)
{
    rnd_state = seed;
    char *yaml = gen_ruleset(nrules, nlists, simple);
    bv_ruleset *rs = load_ok(yaml);
    free(yaml);
    assert_int_equal(bv_rules_count(rs), nrules);
    bv_matcher *m = bv_matcher_new(rs);
    assert_non_null(m);
    uint32_t *h1 = calloc(nrules, sizeof *h1), *h2 = calloc(nrules, sizeof *h2);
    bv_buf text = BV_BUF_INIT, nb = BV_BUF_INIT;
    bv_post p;
    memset(&p, 0, sizeof p);
    static const char *const langs[] = {"", "nl", "nl-NL", "en", "de"};
    size_t total_hits = 0;
    for (unsigned t = 0; t < ntexts; t++) {
        gen_text(&text);
        assert_int_equal(bv_text_normalise(text.p ? text.p : "", text.len, &nb), 0);
        p.platform = (bv_platform)(rnd() % BV_PLATFORM__COUNT);
        snprintf(p.lang, sizeof p.lang, "%s", langs[rnd() % 5]);
        const bv_post *pp = rnd() % 5 == 0 ? NULL : &p;
        int n1 = bv_match(m, pp, nb.p, nb.len, h1);
        int n2 = bv_match_reference(m, pp, nb.p, nb.len, h2);
        if (n1 != n2 || memcmp(h1, h2, (size_t)(n1 > 0 ? n1 : 0) * sizeof *h1) != 0) {
            fail_msg("paths disagree on \"%s\": %d vs %d hits", nb.p, n1, n2);
        }
        for (int i = 1; i < n1; i++) {
            assert_true(h1[i - 1] < h1[i]);
        }
        total_hits += (size_t)n1;
    }
    assert_true(total_hits > ntexts / 4); /* the generated texts do hit */
    free(h1);
    free(h2);
    bv_buf_free(&text);
    bv_buf_free(&nb);
    bv_matcher_free(m);
    bv_rules_free(rs);
}

static void test_agree_random_trees(void **state)
{
    (void)state;
    agree(60, 20, 0, 3000, 7);
    agree(30, 8, 0, 1500, 99);
}

static void test_agree_200_rules(void **state)
{
    (void)state;
    agree(200, 150, 1, 2000, 2024);
}

static void test_200_rules_compile_and_speed(void **state)
{
    (void)state;
    rnd_state = 4242;
    char *yaml = gen_ruleset(200, 150, 1);
    bv_ruleset *rs = load_ok(yaml);
    free(yaml);
    assert_int_equal(bv_rules_count(rs), 200);
    bv_matcher *m = bv_matcher_new(rs);
    uint32_t hits[200];
    bv_buf text = BV_BUF_INIT, nb = BV_BUF_INIT;
    enum { NT = 200 };
    char *norms[NT];
    size_t lens[NT];
    for (int i = 0; i < NT; i++) {
        gen_text(&text);
        assert_int_equal(bv_text_normalise(text.p ? text.p : "", text.len, &nb), 0);
        norms[i] = bv_buf_steal(&nb);
        lens[i] = strlen(norms[i]);
    }
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int rep = 0; rep < 5; rep++) {
        for (int i = 0; i < NT; i++) {
            assert_true(bv_match(m, NULL, norms[i], lens[i], hits) >= 0);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int rep = 0; rep < 5; rep++) {
        for (int i = 0; i < NT; i++) {
            assert_true(bv_match_reference(m, NULL, norms[i], lens[i], hits) >= 0);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double fast = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    double ref = (double)(t2.tv_sec - t1.tv_sec) * 1e9 + (double)(t2.tv_nsec - t1.tv_nsec);
    /* informational: the benchmark holds the real target (>= 10x); sanitizers skew timing */
    printf("200 rules: bv_match %.0f ns/post, reference %.0f ns/post (%.1fx)\n", fast / (5 * NT),
           ref / (5 * NT), ref / (fast > 0 ? fast : 1));
    for (int i = 0; i < NT; i++) {
        free(norms[i]);
    }
    bv_buf_free(&text);
    bv_matcher_free(m);
    bv_rules_free(rs);
}

/* ---- the shipped rule sets ---- */

static void test_shipped_rules(void **state)
{
    (void)state;
    DIR *d = opendir("rules");
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0) {
            continue;
        }
        char path[512];
        snprintf(path, sizeof path, "rules/%s", e->d_name);
        const char *f = path;
        bv_ruleset *rs = NULL;
        bv_diag dg;
        memset(&dg, 0, sizeof dg);
        int rc = bv_rules_load(&rs, &f, 1, &dg);
        if (rc != 0) {
            char b[1200];
            fail_msg("%s", bv_diag_format(&dg, b, sizeof b));
        }
        size_t total = 0;
        assert_int_equal(bv_rules_run_examples(rs, stderr, &total), 0);
        assert_true(total >= 12);
        for (size_t i = 0; i < bv_rules_count(rs); i++) {
            assert_true(bv_rules_get(rs, i)->ndetectors >= 1);
        }
        bv_rules_free(rs);
        files++;
    }
    closedir(d);
    assert_true(files >= 4);
}

static void test_shipped_rules_together(void **state)
{
    (void)state;
    const char *files[] = {"rules/project-x.yaml", "rules/koningsdag.yaml", "rules/voetbal.yaml",
                           "rules/strand.yaml"};
    bv_ruleset *rs = NULL;
    bv_diag dg;
    memset(&dg, 0, sizeof dg);
    assert_int_equal(bv_rules_load(&rs, files, 4, &dg), 0);
    assert_int_equal(bv_rules_count(rs), 4);
    assert_int_equal(bv_rules_run_examples(rs, stderr, NULL), 0);
    /* lists of the same name in two files stay apart */
    assert_true(hit_post(rs, NULL, "Project X feest in Haren vanavond!", 0));
    assert_false(hit_post(rs, NULL, "Project X feest in Haren vanavond!", 1));
    bv_rules_free(rs);
}

static void test_garbage_and_truncated(void **state)
{
    (void)state;
    bv_ruleset *rs = NULL;
    bv_diag dg;
    /* every prefix of a valid file either loads or fails cleanly with a position */
    size_t len = 0;
    FILE *f = fopen("rules/project-x.yaml", "rb");
    assert_non_null(f);
    static char buf[65536];
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    for (size_t cut = 0; cut < len; cut += 37) {
        memset(&dg, 0, sizeof dg);
        int rc = bv_rules_load_buffer(&rs, "cut.yaml", buf, cut, &dg);
        if (rc == 0) {
            bv_rules_free(rs);
        } else {
            assert_null(rs);
            assert_string_equal(dg.file, "cut.yaml");
            assert_true(dg.msg[0] != '\0');
        }
    }
    uint32_t x = 99;
    char g[2048];
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)round * 7 % sizeof g;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            g[i] = (char)(x >> 16);
        }
        memset(&dg, 0, sizeof dg);
        if (bv_rules_load_buffer(&rs, "g.yaml", g, n, &dg) == 0) {
            bv_rules_free(rs);
        }
    }
    /* oversized */
    size_t big = (4u << 20) + 1;
    char *p = malloc(big);
    assert_non_null(p);
    memset(p, '#', big);
    memset(&dg, 0, sizeof dg);
    assert_int_equal(bv_rules_load_buffer(&rs, "big.yaml", p, big, &dg), BV_ELIMIT);
    free(p);
    /* an empty file is an empty set */
    assert_int_equal(bv_rules_load_buffer(&rs, "e.yaml", "", 0, &dg), 0);
    assert_int_equal(bv_rules_count(rs), 0);
    bv_matcher *m = bv_matcher_new(rs);
    uint32_t h[1];
    assert_int_equal(bv_match(m, NULL, " a ", 3, h), 0);
    bv_matcher_free(m);
    bv_rules_free(rs);
}

/* ---- fingerprints and lookup by id ---- */

static bv_ruleset *load_files(const char *const *files, size_t n)
{
    bv_ruleset *rs = NULL;
    bv_diag dg;
    memset(&dg, 0, sizeof dg);
    if (bv_rules_load(&rs, files, n, &dg) != 0) {
        char b[1200];
        fail_msg("load failed: %s", bv_diag_format(&dg, b, sizeof b));
    }
    return rs;
}

static int same_fp(const bv_ruleset *a, const bv_ruleset *b, const char *id)
{
    long i = bv_rules_find(a, id), k = bv_rules_find(b, id);
    assert_true(i >= 0 && k >= 0);
    return memcmp(bv_rules_get(a, (size_t)i)->fingerprint, bv_rules_get(b, (size_t)k)->fingerprint,
                  BV_RULE_FINGERPRINT_LEN) == 0;
}

static void test_fingerprints_files(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bv-rules-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    static const char yaml[] = "lists:\n"
                               "  film: {file: film.txt}\n"
                               "rules:\n"
                               "  - id: films\n"
                               "    match: {list: film}\n" DET "  - id: other\n"
                               "    match: {keyword: brand}\n" DET;
    write_file("film.txt", "film\nnetflix\n");
    write_file("a.yaml", yaml);
    char a[256];
    snprintf(a, sizeof a, "%s/a.yaml", tmpdir);
    const char *files[] = {a};
    bv_ruleset *r1 = load_files(files, 1);
    bv_ruleset *r2 = load_files(files, 1);
    assert_true(same_fp(r1, r2, "films")); /* identical files, identical fingerprints */
    assert_true(same_fp(r1, r2, "other"));
    assert_memory_not_equal(bv_rules_get(r1, 0)->fingerprint, bv_rules_get(r1, 1)->fingerprint,
                            BV_RULE_FINGERPRINT_LEN);
    char hex[2 * BV_RULE_FINGERPRINT_LEN + 1];
    bv_rule_fingerprint_hex(bv_rules_get(r1, 0), hex);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
    /* the list file changes: the rule that uses it changed, the other did not */
    write_file("film.txt", "film\nnetflix\nvideoland\n");
    bv_ruleset *r3 = load_files(files, 1);
    assert_false(same_fp(r1, r3, "films"));
    assert_true(same_fp(r1, r3, "other"));
    /* order, case, duplicates and comments in the list are no change */
    write_file("film.txt", "# streaming\nVideoland\nNetflix\nfilm\nnetflix\n");
    bv_ruleset *r4 = load_files(files, 1);
    assert_true(same_fp(r3, r4, "films"));
    bv_rules_free(r1);
    bv_rules_free(r2);
    bv_rules_free(r3);
    bv_rules_free(r4);
    rm_tmpdir();
}

static void test_fingerprints_fields(void **state)
{
    (void)state;
    static const char base[] = "lists:\n"
                               "  l: [brand, rook]\n"
                               "regexes:\n"
                               "  r: 'vuur+werk'\n"
                               "rules:\n"
                               "  - id: x\n"
                               "    title: X\n"
                               "    match: {any: [{list: l}, {regex: r}]}\n"
                               "    detectors: [{type: threshold, window: 5m, count: 5}]\n";
    bv_ruleset *b = load_ok(base);
    /* what does not change the behaviour: names of lists and regexes, examples, other rules,
     * where the rule is in the file, spelling of keywords */
    bv_ruleset *same = load_ok("# a comment\n"
                               "lists:\n"
                               "  other_name: [Rook, BRAND, brand]\n"
                               "regexes:\n"
                               "  r2: 'vuur+werk'\n"
                               "rules:\n"
                               "  - id: y\n"
                               "    match: {keyword: y}\n" DET "  - id: x\n"
                               "    title: X\n"
                               "    match: {any: [{list: other_name}, {regex: r2}]}\n"
                               "    detectors: [{type: threshold, window: 5m, count: 5}]\n"
                               "    examples: {match: [brand]}\n");
    assert_true(same_fp(b, same, "x"));
    assert_int_equal(bv_rules_find(same, "x"), 1);
    assert_int_equal(bv_rules_find(same, "y"), 0);
    assert_int_equal(bv_rules_find(same, "z"), -1);
    /* what does: each of these is one edit of base */
    static const char *const edits[][2] = {
        {"count: 5}", "count: 6}"},
        {"window: 5m", "window: 10m"},
        {"type: threshold, window: 5m, count: 5", "type: unique_authors, window: 5m, count: 5"},
        {"title: X", "title: Y"},
        {"[brand, rook]", "[brand, rook, vuur]"},
        {"'vuur+werk'", "'vuur+ werk'"},
        {"{any: [{list: l}, {regex: r}]}", "{all: [{list: l}, {regex: r}]}"},
        {"{any: [{list: l}, {regex: r}]}", "{any: [{list: l}, {not: {regex: r}}]}"},
        {"    title: X\n", "    title: X\n    severity: critical\n"},
        {"    title: X\n", "    title: X\n    recipients: [police]\n"},
        {"    title: X\n", "    title: X\n    cooldown: 10m\n"},
        {"    title: X\n", "    title: X\n    platforms: [x]\n"},
        {"    title: X\n", "    title: X\n    languages: [nl]\n"},
        {"    title: X\n", "    title: X\n    require: any\n"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char y[1024];
        const char *at = strstr(base, edits[i][0]);
        assert_non_null(at);
        snprintf(y, sizeof y, "%.*s%s%s", (int)(at - base), base, edits[i][1],
                 at + strlen(edits[i][0]));
        bv_ruleset *e = load_ok(y);
        if (same_fp(b, e, "x")) {
            fail_msg("edit %zu (%s -> %s) left the fingerprint as it was", i, edits[i][0],
                     edits[i][1]);
        }
        bv_rules_free(e);
    }
    bv_rules_free(b);
    bv_rules_free(same);
    /* place conditions by the places they take */
    bv_ruleset *p1 = load_ok("rules:\n  - id: p\n    match: {place: [Haren]}\n" DET);
    bv_ruleset *p2 = load_ok("rules:\n  - id: p\n    match: {place: [Haren]}\n" DET);
    bv_ruleset *p3 = load_ok("rules:\n  - id: p\n    match: {place: [Katwijk]}\n" DET);
    bv_ruleset *p4 = load_ok("rules:\n  - id: p\n    match: {place: any}\n" DET);
    assert_true(same_fp(p1, p2, "p"));
    assert_false(same_fp(p1, p3, "p"));
    assert_false(same_fp(p1, p4, "p"));
    bv_rules_free(p1);
    bv_rules_free(p2);
    bv_rules_free(p3);
    bv_rules_free(p4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phrase_spellings),
        cmocka_unit_test(test_whole_words_and_prefix),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_rule_fields),
        cmocka_unit_test(test_errors_structure),
        cmocka_unit_test(test_errors_yaml),
        cmocka_unit_test(test_errors_keywords),
        cmocka_unit_test(test_errors_regex),
        cmocka_unit_test(test_errors_conditions),
        cmocka_unit_test(test_places),
        cmocka_unit_test(test_places_own),
        cmocka_unit_test(test_errors_detectors),
        cmocka_unit_test(test_errors_examples),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_explain_regex),
        cmocka_unit_test(test_agree_random_trees),
        cmocka_unit_test(test_agree_200_rules),
        cmocka_unit_test(test_200_rules_compile_and_speed),
        cmocka_unit_test(test_shipped_rules),
        cmocka_unit_test(test_shipped_rules_together),
        cmocka_unit_test(test_garbage_and_truncated),
        cmocka_unit_test(test_fingerprints_files),
        cmocka_unit_test(test_fingerprints_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
