/* test_places.c: the gazetteer (lib/engine/places.h): every name of data/places is in it with
 * its kind, aliases point at the register's names, ordinary words need context, lookups by the
 * normalised form, the preposition rule, and a municipality's own list: names, comments,
 * duplicates, and garbage refused with file:line:col and nothing added. */
#include "testutil.h"

#include "core/err.h"
#include "engine/places.h"

#include <stdio.h>

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

/* Every name of a data file, normalised as the gazetteer does, is found with kind. */
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
        if (!found) {
            fail_msg("%s: '%s' is not in the gazetteer", path, line);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_preposition),
        cmocka_unit_test(test_extra),
        cmocka_unit_test(test_extra_garbage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
