/* test_replay.c: the recording source: several files merged by event time (no post is late),
 * a pipe read without blocking the loop, skipped lines counted and listed with their numbers,
 * blank lines counted apart, oversized lines, and the end closing every bucket. */
#include "testutil.h"

#include "core/err.h"
#include "engine/pipeline.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "engine/store_memory.h"
#include "source/replay.h"

#include <event2/event.h>
#include <fcntl.h>
#include <unistd.h>

static const char rules_yaml[] = "rules:\n"
                                 "  - id: all\n"
                                 "    match: {not: {keyword: zzzz}}\n"
                                 "    detectors:\n"
                                 "      - {type: threshold, count: 1000000}\n";

typedef struct rig {
    struct event_base *base;
    bv_ruleset *rs;
    bv_store *store;
    bv_pipeline *pl;
    bv_pseudo *ps;
    int done, err, signals;
    char dir[64];
} rig;

static void on_signal(void *arg, const bv_signal *s)
{
    (void)s;
    ((rig *)arg)->signals++;
}

static void on_done(void *arg, int err)
{
    rig *r = arg;
    r->done = 1;
    r->err = err;
}

static void rig_up(rig *r)
{
    memset(r, 0, sizeof *r);
    r->base = event_base_new();
    bv_diag d;
    assert_int_equal(bv_rules_load_buffer(&r->rs, "t", rules_yaml, strlen(rules_yaml), &d), 0);
    r->store = bv_store_memory_new(r->base);
    bv_pipeline_opts po = {.lateness_ms = 60000, .ns = "drill/t"};
    char err[128];
    r->pl = bv_pipeline_new(r->rs, r->store, &po, on_signal, r, err, sizeof err);
    assert_non_null(r->pl);
    r->ps = bv_pseudo_new("replay-test-key-01", 18);
    snprintf(r->dir, sizeof r->dir, "/tmp/bv-replay-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
}

static void rig_down(rig *r)
{
    bv_store_free(r->store);
    bv_pipeline_free(r->pl);
    bv_rules_free(r->rs);
    bv_pseudo_free(r->ps);
    event_base_free(r->base);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
    assert_int_equal(system(cmd), 0);
}

/* An X v2 stream line at minute m, second s. */
static void xline(FILE *f, int id, int m, int s, const char *text)
{
    fprintf(f,
            "{\"data\":{\"id\":\"%d\",\"text\":\"%s\",\"created_at\":"
            "\"2026-06-12T18:%02d:%02d.000Z\",\"author_id\":\"%d\",\"lang\":\"nl\","
            "\"edit_history_tweet_ids\":[\"%d\"]},\"matching_rules\":[{\"id\":\"1\",\"tag\":\"t\"}]"
            "}\r\n",
            id, text, m, s, 100 + id % 7, id);
}

static char *write_file(rig *r, const char *name, FILE **f)
{
    static char path[3][128];
    static int k;
    char *p = path[k++ % 3];
    snprintf(p, 128, "%s/%s", r->dir, name);
    *f = fopen(p, "w");
    assert_non_null(*f);
    return p;
}

static void run(rig *r, bv_replay *rp)
{
    assert_int_equal(bv_replay_start(rp, on_done, r), 0);
    for (int i = 0; i < 100000 && !r->done; i++) {
        event_base_loop(r->base, EVLOOP_ONCE);
    }
    assert_true(r->done);
    assert_int_equal(r->err, 0);
}

static void test_merge_and_skips(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    FILE *a, *b;
    char *pa = write_file(&r, "a.ndjson", &a);
    char *pb = write_file(&r, "b.ndjson", &b);
    for (int i = 0; i < 20; i++) { /* a: even minutes, b: odd minutes, 40 minutes in all */
        xline(a, 2 * i, 2 * i, 5, "feest");
        xline(b, 2 * i + 1, 2 * i + 1, 5, "feest");
    }
    fputs("\r\n", a);            /* a keep-alive: blank, not an error */
    fputs("not json\n", a);      /* line 22 of a */
    fputs("{\"hello\":1}\n", b); /* line 21 of b */
    fclose(a);
    fclose(b);
    char *errs = NULL;
    size_t errlen = 0;
    FILE *ef = open_memstream(&errs, &errlen);
    const char *paths[] = {pb, pa}; /* order of the files does not matter */
    bv_codec_ctx ctx = {.pseudo = r.ps};
    bv_replay_opts ro = {.paths = paths,
                         .npaths = 2,
                         .speed = 0,
                         .max_line = 512,
                         .errors = ef,
                         .clock = bv_clock_system()};
    char err[256];
    bv_replay *rp = bv_replay_new(r.base, &ro, &ctx, r.pl, err, sizeof err);
    assert_non_null(rp);
    run(&r, rp);
    fclose(ef);
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(r.pl, &ps);
    assert_int_equal(ps.posts[BV_PLATFORM_X], 40);
    assert_int_equal(ps.late, 0); /* merged by event time: nothing arrived late */
    assert_int_equal(ps.matches[0], 40);
    bv_replay_stats rs;
    bv_replay_stats_get(rp, &rs);
    assert_int_equal(rs.lines, 43);
    assert_int_equal(rs.blank, 1);
    assert_int_equal(rs.skipped[BV_SKIP_NOT_JSON], 1);
    assert_int_equal(rs.skipped[BV_SKIP_UNKNOWN_SHAPE], 1);
    assert_int_equal(rs.skipped[BV_SKIP_TOO_LONG], 0);
    char want[512];
    snprintf(want, sizeof want, "%s:22: not_json\n", pa);
    assert_non_null(strstr(errs, want));
    snprintf(want, sizeof want, "%s:21: unknown_shape\n", pb);
    assert_non_null(strstr(errs, want));
    free(errs);
    bv_replay_free(rp);
    rig_down(&r);
}

static void test_too_long_and_missing(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    FILE *a;
    char *pa = write_file(&r, "a.ndjson", &a);
    xline(a, 1, 0, 0, "feest");
    fprintf(a, "{\"pad\":\"%0300d\"}\n", 0);
    xline(a, 2, 0, 1, "feest");
    fclose(a);
    const char *paths[] = {pa};
    bv_codec_ctx ctx = {.pseudo = r.ps};
    bv_replay_opts ro = {.paths = paths, .npaths = 1, .max_line = 280};
    char err[256];
    bv_replay *rp = bv_replay_new(r.base, &ro, &ctx, r.pl, err, sizeof err);
    assert_non_null(rp);
    run(&r, rp);
    bv_replay_stats rs;
    bv_replay_stats_get(rp, &rs);
    assert_int_equal(rs.skipped[BV_SKIP_TOO_LONG], 1);
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(r.pl, &ps);
    assert_int_equal(ps.posts[BV_PLATFORM_X], 2); /* the line after it is read */
    bv_replay_free(rp);

    const char *missing[] = {"/nonexistent/recording.ndjson"};
    ro.paths = missing;
    assert_null(bv_replay_new(r.base, &ro, &ctx, r.pl, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/recording.ndjson"));
    const char *twice[] = {"-", "-"};
    ro.paths = twice;
    ro.npaths = 2;
    assert_null(bv_replay_new(r.base, &ro, &ctx, r.pl, err, sizeof err));
    ro.paths = paths;
    ro.npaths = 0;
    assert_null(bv_replay_new(r.base, &ro, &ctx, r.pl, err, sizeof err));
    rig_down(&r);
}

/* A pipe: the replay waits on the loop for bytes, it never blocks in read. */
static void test_pipe_does_not_block(void **state)
{
    (void)state;
    rig r;
    rig_up(&r);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(0);
    assert_int_equal(dup2(fds[0], 0), 0);
    close(fds[0]);
    const char *paths[] = {"-"};
    bv_codec_ctx ctx = {.pseudo = r.ps};
    bv_replay_opts ro = {.paths = paths, .npaths = 1};
    char err[256];
    bv_replay *rp = bv_replay_new(r.base, &ro, &ctx, r.pl, err, sizeof err);
    assert_non_null(rp);
    assert_int_equal(bv_replay_start(rp, on_done, &r), 0);
    FILE *w = fdopen(fds[1], "w");
    xline(w, 1, 0, 0, "feest");
    fputs("{\"data\":{\"id\":\"2\",\"te", w); /* half a line */
    fflush(w);
    for (int i = 0; i < 50; i++) {
        event_base_loop(r.base, EVLOOP_NONBLOCK);
    }
    assert_false(r.done); /* still waiting for the rest, and the loop kept turning */
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(r.pl, &ps);
    assert_int_equal(ps.posts[BV_PLATFORM_X], 1);
    fputs("xt\":\"feest\",\"created_at\":\"2026-06-12T18:00:02.000Z\"}}\n", w);
    fclose(w);
    for (int i = 0; i < 100000 && !r.done; i++) {
        event_base_loop(r.base, EVLOOP_ONCE);
    }
    assert_true(r.done);
    bv_pipeline_stats_get(r.pl, &ps);
    assert_int_equal(ps.posts[BV_PLATFORM_X], 2);
    bv_replay_free(rp);
    dup2(saved, 0);
    close(saved);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_and_skips),
        cmocka_unit_test(test_too_long_and_missing),
        cmocka_unit_test(test_pipe_does_not_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
