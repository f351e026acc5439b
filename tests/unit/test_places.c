/* test_places.c: the gazetteer (lib/engine/places.h): every name of data/places is in it with
 * its kind, aliases point at the register's names, ordinary words need context, lookups by the
 * normalised form, the preposition rule, and a municipality's own list: names, comments,
 * duplicates, and garbage refused with file:line:col and nothing added. */
#include "testutil.h"

#include "core/err.h"
#include "engine/places.h"
#include "engine/rules.h"
#include "engine/text.h"

#include <stdint.h>

#include <stdio.h>
#include <unistd.h>

static bv_gazetteer *g;

static int setup(void **state)
{
    (void)state;
    g = bv_gazetteer_new();
    return g ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bv_gazetteer_free(g);
    return 0;
}

static const bv_place *find(const char *norm)
{
    long i = bv_gazetteer_find(g, norm, strlen(norm));
    return i < 0 ? NULL : bv_gazetteer_get(g, (size_t)i);
}

/* Every name of a data file, normalised as the gazetteer does, is found with kind, except the
 * names context-words.txt says are never looked for (Nederland: the country, nearly always). */
static int never_looked_for(const char *name)
{
    return strcmp(name, "Nederland") == 0;
}

static void check_file(const char *path, unsigned kind, size_t want)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#') {
            continue;
        }
        int found = 0;
        for (size_t i = 0; i < bv_gazetteer_count(g) && !found; i++) {
            const bv_place *p = bv_gazetteer_get(g, i);
            found = strcmp(p->name, line) == 0 && (p->kinds & kind);
        }
        if (!found && !never_looked_for(line)) {
            fail_msg("%s: '%s' is not in the gazetteer", path, line);
        }
        if (found && never_looked_for(line)) {
            fail_msg("%s: '%s' is in the gazetteer, though marked never", path, line);
        }
        n++;
    }
    fclose(f);
    assert_int_equal(n, want);
}

static void test_builtin(void **state)
{
    (void)state;
    check_file("data/places/woonplaatsen.txt", BV_PLACE_RESIDENCE, 2404);
    check_file("data/places/gemeenten.txt", BV_PLACE_MUNICIPALITY, 379);
    check_file("data/places/provincies.txt", BV_PLACE_PROVINCE, 12);
    const bv_place *p = find("s gravenhage");
    assert_non_null(p);
    assert_string_equal(p->name, "'s-Gravenhage");
    assert_true(p->kinds & BV_PLACE_MUNICIPALITY);
    p = find("den haag");
    assert_non_null(p);
    assert_true(p->kinds & BV_PLACE_ALIAS);
    assert_string_equal(p->official, "'s-Gravenhage");
    p = find("scheveningen");
    assert_non_null(p);
    assert_true(p->kinds & BV_PLACE_PART);
    assert_string_equal(p->official, "'s-Gravenhage");
    p = find("den bosch");
    assert_non_null(p);
    assert_string_equal(p->official, "'s-Hertogenbosch");
    p = find("huns"); /* Húns: diacritics go, as in post text */
    assert_non_null(p);
    assert_string_equal(p->name, "Húns");
    /* ordinary words need context; real names do not */
    assert_true(find("best")->needs_context);
    assert_int_equal(find("een")->needs_context, 2); /* "in een tent": a capital only */
    assert_int_equal(find("heel")->needs_context, 2);
    assert_true(find("made")->needs_context);
    assert_true(find("oranje")->needs_context);
    assert_false(find("haren")->needs_context);
    assert_false(find("katwijk")->needs_context);
    assert_true(find("haren")->kinds & BV_PLACE_RESIDENCE);
    /* where they lie; 90 names belong to more than one place */
    p = find("katwijk");
    assert_int_equal(p->nhomes, 2);
    assert_string_equal(p->homes[0].municipality, "Cuijk");
    assert_string_equal(p->homes[0].province, "Noord-Brabant");
    assert_string_equal(p->homes[1].municipality, "Katwijk");
    assert_string_equal(p->homes[1].province, "Zuid-Holland");
    assert_int_equal(find("rijswijk")->nhomes, 3);
    p = find("haren");
    assert_int_equal(p->nhomes, 2);
    assert_string_equal(p->homes[0].province, "Groningen");
    assert_string_equal(p->homes[1].municipality, "Oss");
    p = find("den haag"); /* an alias lies where its official name does */
    assert_int_equal(p->nhomes, 1);
    assert_string_equal(p->homes[0].municipality, "'s-Gravenhage");
    assert_string_equal(p->homes[0].province, "Zuid-Holland");
    assert_int_equal(find("drenthe")->nhomes, 0); /* a province */
    size_t ambiguous = 0;
    for (size_t i = 0; i < bv_gazetteer_count(g); i++) {
        const bv_place *e = bv_gazetteer_get(g, i);
        ambiguous += (e->kinds & BV_PLACE_RESIDENCE) && e->nhomes > 1;
    }
    assert_int_equal(ambiguous, 90);
    /* multi-word names are one normalised phrase */
    p = find("hoek van holland");
    assert_non_null(p);
    assert_true(p->kinds & BV_PLACE_PART);
    assert_null(find("nergenshuizen"));
    assert_null(find(""));
    /* lookups agree with the table for every name */
    for (size_t i = 0; i < bv_gazetteer_count(g); i++) {
        const bv_place *e = bv_gazetteer_get(g, i);
        long j = bv_gazetteer_find(g, e->norm, e->norm_len);
        assert_true(j >= 0);
        assert_int_equal(bv_gazetteer_get(g, (size_t)j)->norm_len, e->norm_len);
        assert_memory_equal(bv_gazetteer_get(g, (size_t)j)->norm, e->norm, e->norm_len);
    }
}

static void test_preposition(void **state)
{
    (void)state;
    const char *t = " groot feest in best vanavond naar made de beste wijn op haren ";
    size_t n = strlen(t);
    assert_true(bv_place_after_preposition(t, n, (size_t)(strstr(t, "best ") - t)));
    assert_true(bv_place_after_preposition(t, n, (size_t)(strstr(t, "made") - t)));
    assert_true(bv_place_after_preposition(t, n, (size_t)(strstr(t, "haren") - t)));
    assert_false(bv_place_after_preposition(t, n, (size_t)(strstr(t, "beste") - t)));
    assert_false(bv_place_after_preposition(t, n, (size_t)(strstr(t, "feest") - t)));
    assert_false(bv_place_after_preposition(t, n, 0));
    assert_false(bv_place_after_preposition(t, n, 1));
    assert_false(bv_place_after_preposition(t, n, n + 5));
    assert_false(bv_place_after_preposition(" best ", 6, 1));
}

static void test_extra(void **state)
{
    (void)state;
    bv_gazetteer *x = bv_gazetteer_new();
    size_t before = bv_gazetteer_count(x);
    const char *list = "# Den Haag: pleinen, parken, straten\n"
                       "Malieveld\r\n"
                       "  Zuiderpark  \n"
                       "\n"
                       "Plein 1813\n"
                       "Den Haag\n" /* known: adds nothing */
                       "Grote Markt\n"
                       "Grote Markt\n";
    bv_diag d;
    assert_int_equal(bv_gazetteer_add_extra(x, "den-haag.txt", list, strlen(list), &d), 0);
    assert_int_equal(bv_gazetteer_count(x), before + 5);
    long i = bv_gazetteer_find(x, "malieveld", 9);
    assert_true(i >= 0);
    assert_int_equal(bv_gazetteer_get(x, (size_t)i)->kinds, BV_PLACE_EXTRA);
    assert_string_equal(bv_gazetteer_get(x, (size_t)i)->name, "Malieveld");
    assert_true(bv_gazetteer_find(x, "zuiderpark", 10) >= 0);
    assert_true(bv_gazetteer_find(x, "plein 1813", 10) >= 0);
    assert_true(bv_gazetteer_get(x, (size_t)bv_gazetteer_find(x, "den haag", 8))->kinds &
                BV_PLACE_ALIAS);
    bv_gazetteer_free(x);
}

static void expect_refused(const char *text, size_t len, int rc, int line, int col, const char *msg)
{
    bv_gazetteer *x = bv_gazetteer_new();
    size_t before = bv_gazetteer_count(x);
    bv_diag d;
    memset(&d, 0, sizeof d);
    int got = bv_gazetteer_add_extra(x, "x.txt", text, len, &d);
    if (got != rc || d.line != line || d.col != col || strstr(d.msg, msg) == NULL) {
        fail_msg("got %d at %d:%d '%s', want %d at %d:%d '%s'", got, d.line, d.col, d.msg, rc, line,
                 col, msg);
    }
    assert_string_equal(d.file, "x.txt");
    assert_int_equal(bv_gazetteer_count(x), before); /* nothing added */
    bv_gazetteer_free(x);
}

static void test_extra_garbage(void **state)
{
    (void)state;
    expect_refused("Malieveld\nPlein\xff\n", 17, BV_EINVAL, 2, 6, "not UTF-8");
    expect_refused("Malieveld\n\xc3\x28x\n", 13, BV_EINVAL, 2, 1, "not UTF-8");
    expect_refused("Male\x01veld\n", 10, BV_EINVAL, 1, 5, "a control character");
    expect_refused("ok\n---\n", 7, BV_EINVAL, 2, 1, "needs a letter or a digit");
    char lng[400];
    memset(lng, 'a', sizeof lng);
    expect_refused(lng, sizeof lng, BV_EINVAL, 1, 1, "longer than 200 bytes");
    /* too many names */
    size_t cap = (size_t)(BV_PLACES_EXTRA_MAX_NAMES + 1) * 12;
    char *many = malloc(cap);
    size_t o = 0;
    for (int k = 0; k <= BV_PLACES_EXTRA_MAX_NAMES; k++) {
        o += (size_t)snprintf(many + o, cap - o, "plek%06d\n", k);
    }
    expect_refused(many, o, BV_ELIMIT, BV_PLACES_EXTRA_MAX_NAMES + 1, 1, "more than");
    free(many);
    /* too large */
    size_t big = BV_PLACES_EXTRA_MAX_BYTES + 1;
    char *b = malloc(big);
    memset(b, '#', big);
    expect_refused(b, big, BV_ELIMIT, 0, 0, "larger than");
    free(b);
    /* every prefix of a good list: added, or refused cleanly */
    const char *good = "Malieveld\nZuiderpark\nPlein 1813\nCaf\xc3\xa9 de Zwaan\n";
    for (size_t n = 0; n <= strlen(good); n++) {
        bv_gazetteer *x = bv_gazetteer_new();
        bv_diag d;
        int rc = bv_gazetteer_add_extra(x, "p.txt", good, n, &d);
        assert_true(rc == 0 || rc == BV_EINVAL);
        bv_gazetteer_free(x);
    }
    /* files */
    bv_gazetteer *x = bv_gazetteer_new();
    bv_diag d;
    assert_int_equal(bv_gazetteer_load_extra(x, "/nonexistent/places.txt", &d), BV_EIO);
    assert_non_null(strstr(d.msg, "cannot read"));
    assert_int_equal(bv_gazetteer_load_extra(x, "/", &d), BV_EIO);
    bv_gazetteer_free(x);
}

/* ---- precision and recall on a labelled set ---- */

typedef struct labelled {
    char text[256];
    const char *gold[2]; /* the places it names, as the gazetteer writes them */
    size_t ngold;
} labelled;

static uint32_t lcg = 12345;
static uint32_t rnd(void)
{
    lcg = lcg * 1103515245u + 12345u;
    return lcg >> 8;
}

/* Dutch and English posts naming a place in a phrase: the slot {} is the place. */
static const char *const with_place[] = {
    "Feest in {} vanavond, iedereen komt!", "Wie gaat er zaterdag naar {}?",
    "Politie massaal aanwezig bij {}",      "Huge party in {} tonight, bring friends",
    "Stuck in traffic near {} again",       "Rellen rond {}, blijf weg",
    "Op weg naar {} met de trein",          "Drukte op {}, pas op",
    "Heading to {} for the weekend",        "Vuurwerk gezien vanuit {}",
};

/* Posts where a place-named word is just a word, or no place at all. */
static const char *const without_place[] = {
    "de beste feest ooit",     "made in Holland",
    "Made my day, thanks all", "Echt een goed idee",
    "Een mooie dag vandaag",   "Het loon is te laag",
    "Ik ga naar de winkel",    "Oranje boven!",
    "Best wel druk vandaag",   "Heel veel mensen op straat",
    "Well, that was fun",      "Goes without saying",
    "Dorst na het sporten",    "Groot feest zaterdag, wie komt er?",
    "Hall of fame material",   "Enter the room quietly",
    "Loon en prijzen stijgen", "Winkel open tot tien uur",
    "Vries het niet vast",     "Horn honks all night",
    "Feest in heel Nederland", "Best party in Nederland",
};

/* tmpl with its "{}" replaced by place, into out. */
static void fill(char *out, size_t n, const char *tmpl, const char *place)
{
    const char *slot = strstr(tmpl, "{}");
    snprintf(out, n, "%.*s%s%s", (int)(slot - tmpl), tmpl, place, slot + 2);
}

static void test_precision_recall(void **state)
{
    (void)state;
    bv_gazetteer *x = bv_gazetteer_new();
    const char *extra = "Malieveld\nZuiderpark\nGrote Markt\nPlein 1813\n";
    bv_diag d;
    assert_int_equal(bv_gazetteer_add_extra(x, "dh.txt", extra, strlen(extra), &d), 0);
    /* the places to use: every kind, ambiguous names, words that need context, the own list */
    const char *picks[] = {"Haren",        "Katwijk",    "Rijswijk",     "Den Haag",
                           "Den Bosch",    "Amsterdam",  "Groningen",    "Hoek van Holland",
                           "Scheveningen", "Leeuwarden", "Best",         "Oranje",
                           "Made",         "Malieveld",  "Zuiderpark",   "Plein 1813",
                           "The Hague",    "Utrecht",    "Noord-Brabant"};
    size_t npicks = sizeof picks / sizeof picks[0];
    enum { N = 600 };
    labelled *set = calloc(N, sizeof *set);
    size_t n = 0;
    for (; n < N / 2; n++) {
        const char *t = with_place[rnd() % (sizeof with_place / sizeof with_place[0])];
        const char *p = picks[rnd() % npicks];
        fill(set[n].text, sizeof set[n].text, t, p);
        set[n].gold[0] = p;
        set[n].ngold = 1;
    }
    /* a random place from the whole register, in a phrase */
    for (; n < N / 2 + N / 4; n++) {
        const bv_place *p;
        do {
            p = bv_gazetteer_get(x, rnd() % bv_gazetteer_count(x));
        } while (p->needs_context || (p->kinds & BV_PLACE_EXTRA));
        const char *t = with_place[rnd() % (sizeof with_place / sizeof with_place[0])];
        fill(set[n].text, sizeof set[n].text, t, p->name);
        set[n].gold[0] = p->name;
        set[n].ngold = 1;
    }
    for (; n < N; n++) {
        snprintf(set[n].text, sizeof set[n].text, "%s",
                 without_place[rnd() % (sizeof without_place / sizeof without_place[0])]);
    }
    const char *rules = "rules:\n  - id: p\n    match: {place: any}\n"
                        "    detectors: [{type: threshold, count: 1}]\n";
    char path[] = "/tmp/bv_places_eval_XXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, rules, strlen(rules)), (ssize_t)strlen(rules));
    close(fd);
    const char *files[] = {path};
    bv_rules_opts o = {.places = x, .own = "Den Haag"};
    bv_ruleset *rs = NULL;
    assert_int_equal(bv_rules_load_opts(&rs, files, 1, &o, &d), 0);
    unlink(path);
    bv_matcher *m = bv_matcher_new(rs);
    bv_buf nb = BV_BUF_INIT;
    uint32_t hits[2];
    size_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < N; i++) {
        bv_post post = {.text = set[i].text};
        bv_text_normalise(set[i].text, strlen(set[i].text), &nb);
        assert_true(bv_match(m, &post, nb.p, nb.len, hits) >= 0);
        const uint32_t *found;
        size_t nf = bv_match_places(m, &found);
        int gold_found = 0;
        for (size_t k = 0; k < nf; k++) {
            const bv_place *p = bv_gazetteer_get(x, found[k]);
            int ok = set[i].ngold && strcmp(p->name, set[i].gold[0]) == 0;
            /* a name inside a longer one ("Den Haag" in "Den Haag Centraal") is not wrong */
            if (!ok && set[i].ngold && strstr(set[i].gold[0], p->name) != NULL) {
                continue;
            }
            if (ok) {
                gold_found = 1;
                tp++;
            } else {
                fp++;
                print_message("false place '%s' in \"%s\"\n", p->name, set[i].text);
            }
        }
        if (set[i].ngold && !gold_found) {
            fn++;
            print_message("missed '%s' in \"%s\"\n", set[i].gold[0], set[i].text);
        }
    }
    double precision = (double)tp / (double)(tp + fp), recall = (double)tp / (double)(tp + fn);
    print_message("places: %d labelled posts (%d naming a place): precision %.3f, recall %.3f "
                  "(%zu right, %zu wrong, %zu missed)\n",
                  N, N * 3 / 4, precision, recall, tp, fp, fn);
    assert_true(precision >= 0.95);
    assert_true(recall >= 0.95);
    bv_buf_free(&nb);
    bv_matcher_free(m);
    bv_rules_free(rs);
    bv_gazetteer_free(x);
    free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_preposition),
        cmocka_unit_test(test_extra),
        cmocka_unit_test(test_extra_garbage),
        cmocka_unit_test(test_precision_recall),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
