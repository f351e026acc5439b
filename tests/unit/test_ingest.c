/* test_ingest.c: live posts into the pipeline through the ingest queue, on a real loop and the
 * memory store: never pushed inside offer, one at a time, a full queue drops and counts, the
 * loop gets its turn while a long queue drains, drain answers on the loop, teardown frees. */
#include "testutil.h"

#include "core/err.h"
#include "engine/pipeline.h"
#include "engine/rules.h"
#include "engine/store_memory.h"
#include "source/ingest.h"

#include <event2/event.h>

#define T0 1781287200000LL /* 2026-06-12T18:00:00Z */

static const char rules_yaml[] =
    "rules:\n"
    "  - id: feest\n"
    "    match: {keyword: feest}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 5m, bucket: 1m, count: 1000000}\n";

typedef struct world {
    struct event_base *base;
    bv_ruleset *rs;
    bv_store *store;
    bv_pipeline *pl;
    int signals, drained;
    uint64_t posts_when_timer;
    int timer_fired;
} world;

static void on_signal(void *arg, const bv_signal *s)
{
    (void)s;
    ((world *)arg)->signals++;
}

static void on_drained(void *arg)
{
    ((world *)arg)->drained++;
}

static uint64_t pipeline_posts(const world *w)
{
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(w->pl, &ps);
    uint64_t n = 0;
    for (int i = 0; i < BV_PLATFORM__COUNT; i++) {
        n += ps.posts[i];
    }
    return n;
}

static void world_init(world *w)
{
    memset(w, 0, sizeof *w);
    w->base = event_base_new();
    bv_diag diag;
    assert_int_equal(bv_rules_load_buffer(&w->rs, "t", rules_yaml, strlen(rules_yaml), &diag), 0);
    w->store = bv_store_memory_new(w->base);
    char err[256];
    bv_pipeline_opts po = {.lateness_ms = 120000, .ns = "live/t"};
    w->pl = bv_pipeline_new(w->rs, w->store, &po, on_signal, w, err, sizeof err);
    assert_non_null(w->pl);
}

static void world_free(world *w)
{
    bv_store_free(w->store);
    bv_pipeline_free(w->pl);
    bv_rules_free(w->rs);
    event_base_free(w->base);
}

static void make_post(bv_post *p, int i)
{
    memset(p, 0, sizeof *p);
    p->platform = BV_PLATFORM_MASTODON;
    char id[32];
    snprintf(id, sizeof id, "%d", 100000 + i);
    p->id = strdup(id);
    p->text = strdup(i % 2 ? "feest vanavond" : "het regent");
    p->created_ms = T0 + i * 100;
    p->received_ms = p->created_ms + 50;
    p->has_author = 1;
    p->author[0] = (uint8_t)i;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    world *w = arg;
    w->timer_fired = 1;
    w->posts_when_timer = pipeline_posts(w);
}

static void test_queue_and_drops(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    bv_ingest *in = bv_ingest_new(w.base, w.pl, 100);
    assert_non_null(in);
    bv_post p;
    for (int i = 0; i < 150; i++) {
        make_post(&p, i);
        int rc = bv_ingest_offer(in, &p);
        assert_int_equal(rc, i < 100 ? BV_OK : BV_ELIMIT);
        assert_null(p.id); /* taken (or freed) in every case */
    }
    assert_int_equal(bv_ingest_room(in), 0);
    assert_int_equal(pipeline_posts(&w), 0); /* nothing inside offer */
    assert_int_equal(bv_ingest_drain(in, on_drained, &w), BV_OK);
    assert_int_equal(w.drained, 0);
    for (int i = 0; i < 100000 && !w.drained; i++) {
        event_base_loop(w.base, EVLOOP_ONCE);
    }
    assert_int_equal(w.drained, 1);
    assert_int_equal(pipeline_posts(&w), 100);
    assert_int_equal(w.signals, 50); /* the matching half, one live signal each */
    bv_ingest_stats st;
    bv_ingest_stats_get(in, &st);
    assert_int_equal(st.offered, 150);
    assert_int_equal(st.pushed, 100);
    assert_int_equal(st.dropped, 50);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.queued_max, 100);
    assert_int_equal(bv_ingest_room(in), 100);
    /* a drain with nothing queued still answers, on the loop */
    assert_int_equal(bv_ingest_drain(in, on_drained, &w), BV_OK);
    assert_int_equal(w.drained, 1);
    event_base_loop(w.base, EVLOOP_ONCE);
    assert_int_equal(w.drained, 2);
    bv_ingest_free(in);
    world_free(&w);
}

/* A long queue does not hold the loop: a timer due at once runs before it is through. */
static void test_yields_to_the_loop(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    bv_ingest *in = bv_ingest_new(w.base, w.pl, 5000);
    bv_post p;
    for (int i = 0; i < 3000; i++) {
        make_post(&p, i);
        assert_int_equal(bv_ingest_offer(in, &p), BV_OK);
    }
    struct event *t = evtimer_new(w.base, on_timer, &w);
    struct timeval zero = {0, 0};
    event_add(t, &zero);
    bv_ingest_drain(in, on_drained, &w);
    for (int i = 0; i < 100000 && !w.drained; i++) {
        event_base_loop(w.base, EVLOOP_ONCE);
    }
    assert_int_equal(w.drained, 1);
    assert_true(w.timer_fired);
    assert_true(w.posts_when_timer < 3000);
    assert_int_equal(pipeline_posts(&w), 3000);
    event_free(t);
    /* posts still queued at teardown are freed (ASan would tell) */
    for (int i = 0; i < 10; i++) {
        make_post(&p, i);
        bv_ingest_offer(in, &p);
    }
    bv_ingest_free(in);
    world_free(&w);
}

/* The wall clock moves the watermark after the queued posts, and calls merge. */
static void test_advance_after_the_queue(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    bv_ingest *in = bv_ingest_new(w.base, w.pl, 100);
    bv_post p;
    for (int i = 0; i < 10; i++) {
        make_post(&p, i);
        assert_int_equal(bv_ingest_offer(in, &p), BV_OK);
    }
    bv_ingest_advance(in, T0 + 3600000);
    bv_ingest_advance(in, T0 + 600000); /* earlier: the later one stands */
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(w.pl, &ps);
    assert_true(ps.watermark_ms == INT64_MIN); /* nothing inside the call */
    bv_ingest_drain(in, on_drained, &w);
    for (int i = 0; i < 100000 && !w.drained; i++) {
        event_base_loop(w.base, EVLOOP_ONCE);
    }
    assert_int_equal(w.drained, 1);
    assert_int_equal(pipeline_posts(&w), 10);
    bv_pipeline_stats_get(w.pl, &ps);
    assert_int_equal(ps.max_ms, T0 + 900);
    assert_int_equal(ps.watermark_ms, T0 + 3600000 - 120000);
    bv_ingest_stats st;
    bv_ingest_stats_get(in, &st);
    assert_int_equal(st.advances, 1);
    bv_ingest_free(in);
    world_free(&w);
}

/* Backpressure: full at half the queue (at most BV_INGEST_HIGH), on again at a quarter of it. */
static void test_full(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    bv_ingest *in = bv_ingest_new(w.base, w.pl, 100);
    bv_post p;
    assert_false(bv_ingest_full(in, 0));
    for (int i = 0; i < 49; i++) {
        make_post(&p, i);
        bv_ingest_offer(in, &p);
    }
    assert_false(bv_ingest_full(in, 0));
    make_post(&p, 49);
    bv_ingest_offer(in, &p);
    assert_true(bv_ingest_full(in, 0)); /* 50 of 100 */
    assert_true(bv_ingest_full(in, 1)); /* paused: goes on only at 12 or fewer */
    bv_ingest_free(in);
    in = bv_ingest_new(w.base, w.pl, 1000000);
    for (int i = 0; i < BV_INGEST_HIGH - 1; i++) {
        make_post(&p, i);
        bv_ingest_offer(in, &p);
    }
    assert_false(bv_ingest_full(in, 0));
    make_post(&p, 0);
    bv_ingest_offer(in, &p);
    assert_true(bv_ingest_full(in, 0)); /* a big queue: full at BV_INGEST_HIGH */
    bv_ingest_drain(in, on_drained, &w);
    for (int i = 0; i < 100000 && !w.drained; i++) {
        event_base_loop(w.base, EVLOOP_ONCE);
    }
    assert_false(bv_ingest_full(in, 1));
    bv_ingest_free(in);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_and_drops),
        cmocka_unit_test(test_yields_to_the_loop),
        cmocka_unit_test(test_advance_after_the_queue),
        cmocka_unit_test(test_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
