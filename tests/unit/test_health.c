/* test_health.c: flatline alerts for quiet live sources: fire once after the quiet, resolve on
 * the next post with the same id, a new quiet is a new episode, flatline 0 never fires, the
 * JSON says "health". */
#include "testutil.h"

#include "alert/health.h"
#include "core/buf.h"

#define T0 1781287200000LL /* 2026-06-12T18:00:00Z */
#define MIN 60000LL

typedef struct seen {
    int n;
    bv_alert_state state[8];
    int64_t at[8], since[8];
    char id[8][33];
    char json[8][1024];
} seen;

static void on_alert(void *arg, const bv_alert *a)
{
    seen *s = arg;
    assert_true(s->n < 8);
    s->state[s->n] = a->state;
    s->at[s->n] = a->at_ms;
    s->since[s->n] = a->since_ms;
    memcpy(s->id[s->n], a->id, 33);
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_alert_format_json(a, &b), 0);
    snprintf(s->json[s->n], sizeof s->json[s->n], "%s", b.p);
    bv_buf_free(&b);
    s->n++;
}

static void test_flatline_fires_and_resolves(void **state)
{
    (void)state;
    seen s;
    memset(&s, 0, sizeof s);
    bv_health *h = bv_health_new("koningsdag", "live/koningsdag", 0, on_alert, &s);
    assert_non_null(h);
    assert_int_equal(bv_health_watch(h, "mastodon", 10 * MIN, T0), 0);
    assert_int_equal(bv_health_watch(h, "reddit", 0, T0), 1); /* never */
    bv_health_check(h, 0, 0, T0 + 5 * MIN);
    bv_health_check(h, 1, 0, T0 + 500 * MIN);
    assert_int_equal(s.n, 0);
    bv_health_check(h, 0, 0, T0 + 10 * MIN);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.state[0], BV_ALERT_FIRING);
    assert_int_equal(s.at[0], T0 + 10 * MIN);
    assert_int_equal(bv_health_firing(h), 1);
    assert_non_null(strstr(s.json[0], "\"rule\":\"flatline-mastodon\""));
    assert_non_null(strstr(s.json[0], "\"title\":\"No posts from source mastodon for 10m\""));
    assert_non_null(strstr(s.json[0], "\"severity\":\"warning\""));
    assert_non_null(strstr(s.json[0], "\"health\":true"));
    assert_non_null(strstr(s.json[0], "\"drill\":false"));
    bv_health_check(h, 0, 0, T0 + 30 * MIN); /* still quiet: once */
    assert_int_equal(s.n, 1);
    bv_health_check(h, 0, T0 + 31 * MIN, T0 + 31 * MIN + 200);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.state[1], BV_ALERT_RESOLVED);
    assert_int_equal(s.at[1], T0 + 31 * MIN);
    assert_int_equal(s.since[1], T0 + 10 * MIN);
    assert_string_equal(s.id[0], s.id[1]);
    assert_int_equal(bv_health_firing(h), 0);
    char id[33];
    bv_alert_make_id("live/koningsdag", "flatline-mastodon", T0, id);
    assert_string_equal(s.id[0], id);
    /* posts keep coming: nothing; then quiet again: a new episode with a new id */
    bv_health_check(h, 0, T0 + 35 * MIN, T0 + 40 * MIN);
    assert_int_equal(s.n, 2);
    bv_health_check(h, 0, T0 + 35 * MIN, T0 + 45 * MIN);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.state[2], BV_ALERT_FIRING);
    assert_int_equal(s.at[2], T0 + 45 * MIN);
    assert_string_not_equal(s.id[2], s.id[0]);
    bv_health_check(h, 7, 0, T0); /* no such watch: ignored */
    assert_int_equal(s.n, 3);
    bv_health_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flatline_fires_and_resolves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
