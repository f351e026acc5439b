/* test_jetstream.c: the live Bluesky source (lib/source/jetstream.h) against a fake Jetstream,
 * tests/unit/jetstream_server.py (python3-websockets, a child process on a free port), which sends
 * the lines of tests/fixtures/platforms/jetstream/events.ndjson in the real wire format and
 * CHECKS every request: path /subscribe, wantedCollections, maxMessageSizeBytes, and the cursor
 * each connection must ask for (none, the configured one, or the last event sent minus the
 * rewind); a wrong request is refused and printed, and fails the test. Covered: posts, deletes,
 * other collections and kinds skipped; malformed, binary, too deep and oversized messages
 * counted and survived; the cursor written by the save timer and at free, and used after a
 * restart; rewind and dedupe after a dropped and a closed connection (each post counted once);
 * backoff between refused upgrades (503, 429), 403 as failed at the longest wait; a stall. */
#include "testutil.h"

#include "codec/codec.h"
#include "core/err.h"
#include "core/file.h"
#include "engine/pseudo.h"
#include "source/jetstream.h"

#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define EVENTS "tests/fixtures/platforms/jetstream/events.ndjson"
#define LAST_TIME_US 1783175888403568LL /* the newest event of the fixture */
#define LAST_POST_US 1783175888400999LL /* the newest that wantedCollections lets through */
#define MAX_MSG 4096

typedef struct fake {
    pid_t pid;
    int fd, in_fd, port; /* its stdout; its stdin (it exits when that closes) */
    struct event *ev;
    char out[16384]; /* what it printed */
    size_t len;
} fake;

static struct event_base *base;
static bv_pseudo *ps;
static bv_codec_ctx codec;

static void fake_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    fake *f = arg;
    ssize_t n = read(fd, f->out + f->len, sizeof f->out - 1 - f->len);
    if (n > 0) {
        f->len += (size_t)n;
        f->out[f->len] = '\0';
    } else {
        event_del(f->ev);
    }
}

/* Starts the fake with a plan; waits (poll, 10 s at most) for its port. */
static void fake_start(fake *f, const char *plan, int64_t rewind_ms)
{
    memset(f, 0, sizeof *f);
    int p[2], in[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    char max[32], rewind[32];
    snprintf(max, sizeof max, "%d", MAX_MSG);
    snprintf(rewind, sizeof rewind, "%lld", (long long)rewind_ms * 1000);
    char *argv[] = {(char *)"python3",
                    (char *)"tests/unit/jetstream_server.py",
                    (char *)EVENTS,
                    (char *)plan,
                    max,
                    rewind,
                    NULL};
    assert_int_equal(posix_spawn(&f->pid, "/usr/bin/python3", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    close(in[0]);
    f->fd = p[0];
    f->in_fd = in[1];
    char line[32];
    size_t n = 0;
    struct pollfd pf = {.fd = f->fd, .events = POLLIN};
    while (n < sizeof line - 1 && poll(&pf, 1, 10000) == 1 && read(f->fd, line + n, 1) == 1) {
        if (line[n++] == '\n') {
            break;
        }
    }
    line[n] = '\0';
    f->port = (int)strtol(line, NULL, 10);
    assert_true(f->port > 0);
    fcntl(f->fd, F_SETFL, O_NONBLOCK);
    f->ev = event_new(base, f->fd, EV_READ | EV_PERSIST, fake_read, f);
    event_add(f->ev, NULL);
}

static void fake_stop(fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        close(f->in_fd);
        f->pid = 0;
    }
    if (f->ev) {
        event_free(f->ev);
        close(f->fd);
        f->ev = NULL;
    }
}

/* How often "what" occurs in what the fake printed. */
static int fake_count(const fake *f, const char *what)
{
    int n = 0;
    for (const char *p = strstr(f->out, what); p; p = strstr(p + 1, what)) {
        n++;
    }
    return n;
}

/* The number after key on the fake's complete line starting with prefix; -1 when none yet. */
static long long fake_num(const fake *f, const char *prefix, const char *key)
{
    const char *line = strstr(f->out, prefix);
    if (line == NULL || strchr(line, '\n') == NULL) {
        return -1;
    }
    const char *k = strstr(line, key);
    if (k == NULL || k > strchr(line, '\n')) {
        return -1;
    }
    return strtoll(k + strlen(key), NULL, 10);
}

static void assert_fake_happy(const fake *f)
{
    if (strstr(f->out, "WRONG") != NULL) {
        fail_msg("the fake Jetstream refused a request:\n%s", f->out);
    }
}

/* Each test's fake, source, state dir and sinks; the teardown clears them even after a failure. */
static fake F;
static bv_jetstream *J;

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until cond holds or ms pass. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        int hit_ = 0;                                                                              \
        struct event *dl_ = evtimer_new(base, on_deadline, &hit_);                                 \
        struct timeval tv_ = {(ms) / 1000, ((ms) % 1000) * 1000};                                  \
        evtimer_add(dl_, &tv_);                                                                    \
        while (!(cond) && !hit_) {                                                                 \
            event_base_loop(base, EVLOOP_ONCE);                                                    \
        }                                                                                          \
        event_free(dl_);                                                                           \
    } while (0)

typedef struct sink {
    int posts, deletes;
    char *ids[64];
    int nids;
} sink;

static void on_post(void *arg, bv_post *p, const bv_raw *raw)
{
    sink *s = arg;
    assert_int_equal(p->platform, BV_PLATFORM_BLUESKY);
    assert_non_null(raw->json);
    assert_null(raw->tree);
    assert_true(raw->len > 20 && strncmp(raw->json, "{\"did\":\"did:", 12) == 0);
    assert_int_equal(raw->json[raw->len - 1], '}');
    assert_true(strncmp(p->id, "at://did:", 9) == 0);
    assert_non_null(strstr(p->id, "/app.bsky.feed.post/"));
    assert_true(p->received_ms > 1783175888000LL && p->received_ms < 1783175889000LL);
    if (p->kind == BV_POST_DELETE) {
        s->deletes++;
    } else {
        s->posts++;
        assert_true(strncmp(p->url, "https://bsky.app/profile/did:", 29) == 0);
    }
    for (int i = 0; i < s->nids; i++) {
        if (strcmp(s->ids[i], p->id) == 0) {
            fail_msg("post %s handed on twice", p->id);
        }
    }
    if (s->nids < 64) {
        s->ids[s->nids++] = strdup(p->id);
    }
    bv_post_clear(p);
}

static void sink_clear(sink *s)
{
    for (int i = 0; i < s->nids; i++) {
        free(s->ids[i]);
    }
    memset(s, 0, sizeof *s);
}

typedef struct rig {
    char dir[64];
    char url[256];
    bv_jetstream_opts o;
} rig;

static rig R;
static sink S, S2;

static void rig_init(rig *r, const fake *f, sink *s, const char *query)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/bv-js-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->url, sizeof r->url, "ws://127.0.0.1:%d/subscribe?%s", f->port,
             query ? query : "wantedCollections=app.bsky.feed.post");
    r->o = (bv_jetstream_opts){.name = "test",
                               .url = r->url,
                               .state_dir = r->dir,
                               .stall_ms = 3000,
                               .backoff_min_ms = 20,
                               .backoff_max_ms = 160,
                               .cursor_save_ms = 50,
                               .rewind_ms = 100,
                               .max_message = MAX_MSG,
                               .codec = &codec,
                               .post = on_post,
                               .arg = s};
}

static bv_jetstream *start(rig *r)
{
    char err[256];
    bv_jetstream *j = bv_jetstream_new(base, NULL, &r->o, err, sizeof err);
    if (j == NULL) {
        fail_msg("bv_jetstream_new: %s", err);
    }
    return j;
}

static void rig_done(rig *r)
{
    char p[128];
    snprintf(p, sizeof p, "%s/bluesky-test.cursor", r->dir);
    unlink(p);
    rmdir(r->dir);
}

/* The cursor file's text ("" when none). */
static void saved_cursor(const rig *r, char *buf, size_t n)
{
    char p[128];
    snprintf(p, sizeof p, "%s/bluesky-test.cursor", r->dir);
    char *data = NULL;
    size_t len = 0;
    int e;
    buf[0] = '\0';
    if (bv_file_read(p, 64, &data, &len, &e) == 0) {
        snprintf(buf, n, "%s", data);
        free(data);
    }
}

/* Events the source took (handed on or skipped); errors are left out: they count connections
 * too. */
static uint64_t handled(const bv_jetstream *j)
{
    bv_source_stats st;
    bv_jetstream_stats_get(j, &st);
    return st.posts + st.deletes + st.skipped;
}

/* The 152 events of every kind, with garbage first: posts, deletes, skips, errors. */
static void test_stream(void **state)
{
    (void)state;
    fake_start(
        &F,
        "[{\"cursor\":null,\"unfiltered\":true,"
        "\"pre\":[\"malformed\",\"array\",\"shape\",\"binary\",\"deep\"],\"end\":\"stall\"}]",
        100);
    rig_init(&R, &F, &S, NULL);
    J = start(&R);
    bv_source_stats st;
    bv_jetstream_stats_get(J, &st);
    assert_string_equal(st.state, "connecting");
    bv_jetstream_stats_get(J, &st);
    RUN_UNTIL((bv_jetstream_stats_get(J, &st),
               st.posts + st.deletes + st.skipped == 152 && st.errors == 5),
              5000);
    bv_jetstream_stats_get(J, &st);
    assert_fake_happy(&F);
    assert_string_equal(st.state, "streaming");
    assert_int_equal(st.last_status, 101);
    assert_int_equal(st.errors, 5); /* not JSON, an array, no kind, binary, too deep */
    assert_non_null(strstr(st.last_error, "too_deep"));
    assert_int_equal(st.deletes, 1);
    assert_int_equal(st.posts, 16);
    /* likes, reposts, follows, ..., identity, account, and a post with no text (an embed) */
    assert_int_equal(st.skipped, 152 - 17);
    assert_int_equal(S.posts, 16);
    assert_int_equal(S.deletes, 1);
    assert_int_equal(st.reconnects, 0);
    assert_true(st.bytes > 84003); /* the fixture's bytes, and frame and HTTP heads */
    assert_true(st.last_post_ms > 0);
    assert_int_equal(bv_jetstream_cursor(J), LAST_TIME_US);
    /* the save timer writes the cursor */
    char saved[64];
    RUN_UNTIL((saved_cursor(&R, saved, sizeof saved), strcmp(saved, "1783175888403568\n") == 0),
              2000);
    assert_string_equal(saved, "1783175888403568\n");
    bv_jetstream_free(J);
    J = NULL;
}

/* A dropped connection, a closed one: each resumes at the last event minus the rewind; the
 * replayed overlap is dropped, so every post is counted once. */
static void test_resume_dedupe(void **state)
{
    (void)state;
    fake_start(&F,
               "[{\"cursor\":null,\"send\":8,\"end\":\"drop\"},"
               "{\"cursor\":\"resume\",\"send\":-1,\"end\":\"close\"},"
               "{\"cursor\":\"resume\",\"send\":-1,\"end\":\"stall\"}]",
               100);
    rig_init(&R, &F, &S, NULL);
    J = start(&R);
    RUN_UNTIL(fake_num(&F, "sent 2 ", "n=") >= 0 &&
                  (long long)handled(J) == fake_num(&F, "sent 0 ", "n=") +
                                               fake_num(&F, "sent 1 ", "n=") +
                                               fake_num(&F, "sent 2 ", "n="),
              5000);
    assert_fake_happy(&F);
    long long r1 = fake_num(&F, "sent 1 ", "resent="), r2 = fake_num(&F, "sent 2 ", "resent=");
    assert_int_equal(fake_num(&F, "sent 0 ", "n="), 8);
    assert_true(r1 > 0 && r2 > 0); /* the rewind made the fake send events again */
    bv_source_stats st;
    bv_jetstream_stats_get(J, &st);
    assert_int_equal(st.posts, 16);
    assert_int_equal(st.deletes, 1);
    assert_int_equal(S.posts, 16);
    /* identity, account, the post with no text, and the replays */
    assert_int_equal(st.skipped, 3 + r1 + r2);
    assert_int_equal(st.reconnects, 2);
    assert_int_equal(st.errors, 1); /* the drop; the close was clean */
    assert_string_equal(st.state, "streaming");
    assert_int_equal(bv_jetstream_cursor(J), LAST_POST_US);
    assert_int_equal(fake_count(&F, "conn "), 3);
    bv_jetstream_free(J);
    J = NULL;
    RUN_UNTIL(fake_num(&F, "end 2 ", "sent=") >= 0, 5000);
    assert_int_equal(fake_num(&F, "end 0 ", "sent="), 8);
}

/* The configured cursor on a first start; after a restart (a new source, the same state dir)
 * the saved one, minus the rewind. */
static void test_restart(void **state)
{
    (void)state;
    /* 1783175888267xxx: the 14th of the 20 events the filter lets through */
    fake_start(&F,
               "[{\"cursor\":1783175888250000,\"send\":-1,\"end\":\"stall\"},"
               "{\"cursor\":\"resume\",\"send\":-1,\"end\":\"stall\"}]",
               100);
    rig_init(&R, &F, &S, "cursor=1783175888250000&wantedCollections=app.bsky.feed.post");
    char saved[64];
    saved_cursor(&R, saved, sizeof saved);
    assert_string_equal(saved, "");
    J = start(&R);
    RUN_UNTIL(fake_num(&F, "sent 0 ", "n=") >= 0 &&
                  (long long)handled(J) == fake_num(&F, "sent 0 ", "n="),
              5000);
    assert_fake_happy(&F);
    long long n0 = fake_num(&F, "sent 0 ", "n=");
    assert_true(n0 > 0 && n0 < 20);
    assert_int_equal(bv_jetstream_cursor(J), LAST_POST_US);
    R.o.cursor_save_ms = 60000; /* only the free writes it */
    bv_jetstream_free(J);
    J = NULL;
    saved_cursor(&R, saved, sizeof saved);
    assert_string_equal(saved, "1783175888400999\n");

    R.o.arg = &S2;
    J = start(&R);
    assert_int_equal(bv_jetstream_cursor(J), LAST_POST_US); /* read back */
    RUN_UNTIL(fake_num(&F, "sent 1 ", "n=") >= 0 &&
                  (long long)handled(J) == fake_num(&F, "sent 1 ", "n="),
              5000);
    assert_fake_happy(&F); /* it asked for the saved cursor minus 100 ms, not the configured */
    long long n1 = fake_num(&F, "sent 1 ", "n=");
    assert_true(n1 > 0);
    /* a new source remembers no events: the overlap comes again (the pipeline drops repeats) */
    assert_int_equal(fake_num(&F, "sent 1 ", "resent="), n1);
    bv_source_stats st;
    bv_jetstream_stats_get(J, &st);
    assert_int_equal(st.reconnects, 0);
    bv_jetstream_free(J);
    J = NULL;
}

/* Refused upgrades: 503 and 429 back off exponentially; 403 says "failed" and waits the longest;
 * then a good connection streams and starts the waits over. */
static void test_backoff(void **state)
{
    (void)state;
    fake_start(&F,
               "[{\"status\":503},{\"status\":503},{\"status\":429},{\"status\":403},"
               "{\"cursor\":null,\"send\":3,\"end\":\"stall\"}]",
               100);
    rig_init(&R, &F, &S, NULL);
    J = start(&R);
    bv_source_stats st;
    RUN_UNTIL((bv_jetstream_stats_get(J, &st), st.last_status == 503), 5000);
    assert_string_equal(st.state, "backing off");
    assert_int_equal(st.next_wait_ms, 20);
    assert_non_null(strstr(st.last_error, "HTTP 503"));
    RUN_UNTIL((bv_jetstream_stats_get(J, &st), st.last_status == 429), 5000);
    assert_string_equal(st.state, "backing off");
    assert_int_equal(st.next_wait_ms, 80);
    RUN_UNTIL((bv_jetstream_stats_get(J, &st), st.last_status == 403), 5000);
    assert_string_equal(st.state, "failed");
    assert_int_equal(st.next_wait_ms, 160);
    assert_non_null(strstr(st.last_error, "HTTP 403 Forbidden: refused by the plan"));
    RUN_UNTIL(handled(J) == 3, 5000);
    bv_jetstream_stats_get(J, &st);
    assert_string_equal(st.state, "streaming");
    assert_int_equal(st.last_status, 101);
    assert_int_equal(st.next_wait_ms, 0);
    assert_int_equal(st.reconnects, 4);
    assert_int_equal(st.errors, 4);
    /* the fake saw the waits: 20, 40, 80, 160 ms between connections */
    long long t[5];
    for (int i = 0; i < 5; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "conn %d ok", i);
        t[i] = fake_num(&F, prefix, "t=");
        assert_true(t[i] > 0);
    }
    /* libevent's default clock is CLOCK_MONOTONIC_COARSE: a timer may fire a tick (4-10 ms) early
     * by the fake's precise clock */
    assert_true(t[1] - t[0] >= 20 - 10);
    assert_true(t[2] - t[1] >= 40 - 10);
    assert_true(t[3] - t[2] >= 80 - 10);
    assert_true(t[4] - t[3] >= 160 - 10);
    assert_fake_happy(&F);
    bv_jetstream_free(J);
    J = NULL;
}

/* A connection that goes silent is dropped after stall_ms and made again (resuming); a message
 * over max_message closes the connection (1009), counts as an error, and the source resumes. */
static void test_stall_and_oversize(void **state)
{
    (void)state;
    fake_start(&F,
               "[{\"cursor\":null,\"send\":3,\"end\":\"stall\"},"
               "{\"cursor\":\"resume\",\"send\":4,\"post\":[\"oversize\"],\"end\":\"stall\"},"
               "{\"cursor\":\"resume\",\"send\":-1,\"end\":\"stall\"}]",
               100);
    rig_init(&R, &F, &S, NULL);
    R.o.stall_ms = 150;
    J = start(&R);
    bv_source_stats st;
    RUN_UNTIL((bv_jetstream_stats_get(J, &st), st.reconnects == 1), 5000);
    assert_non_null(strstr(st.last_error, "nothing received for 150 ms (stalled)"));
    assert_int_equal(st.errors, 1);
    assert_int_equal(handled(J), 3);
    /* the oversized message on the second connection */
    RUN_UNTIL(fake_num(&F, "end 1 ", "code=") >= 0, 5000);
    assert_int_equal(fake_num(&F, "end 1 ", "code="), 1009);
    RUN_UNTIL((bv_jetstream_stats_get(J, &st), st.posts + st.deletes == 17), 5000);
    bv_jetstream_stats_get(J, &st);
    assert_fake_happy(&F);
    assert_int_equal(st.posts, 16);
    assert_int_equal(st.deletes, 1);
    assert_int_equal(S.posts, 16);
    assert_true(st.reconnects >= 2);
    assert_true(st.errors >= 2); /* the stall and the oversized message (more if it stalled on) */
    assert_int_equal(bv_jetstream_cursor(J), LAST_POST_US);
    bv_jetstream_free(J);
    J = NULL;
}

static void test_options(void **state)
{
    (void)state;
    char err[256];
    sink s = {0};
    bv_jetstream_opts o = {.name = "ok",
                           .url = "wss://jetstream2.us-east.bsky.network/subscribe",
                           .state_dir = "/tmp",
                           .codec = &codec,
                           .post = on_post,
                           .arg = &s};
    static const char *const bad_urls[] = {
        "https://jetstream2.us-east.bsky.network/subscribe",
        "ws://h/subscribe#x",
        "ws://h/sub scribe",
        "jetstream2.us-east.bsky.network",
    };
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        o.url = bad_urls[i];
        assert_null(bv_jetstream_new(base, NULL, &o, err, sizeof err));
        assert_non_null(strstr(err, "ws://"));
    }
    o.url = NULL;
    assert_null(bv_jetstream_new(base, NULL, &o, err, sizeof err));
    o.url = "ws://127.0.0.1:1/subscribe";
    o.name = "../etc";
    assert_null(bv_jetstream_new(base, NULL, &o, err, sizeof err));
    o.name = "ok";
    o.state_dir = NULL;
    assert_null(bv_jetstream_new(base, NULL, &o, err, sizeof err));
    /* a host name and no resolver: refused at each try, the source backs off */
    o.state_dir = "/tmp";
    o.url = "wss://jetstream.invalid/subscribe";
    o.backoff_min_ms = 10;
    bv_jetstream *j = bv_jetstream_new(base, NULL, &o, err, sizeof err);
    assert_non_null(j);
    bv_source_stats st;
    bv_jetstream_stats_get(j, &st);
    assert_string_equal(st.state, "backing off");
    assert_int_equal(st.errors, 1);
    assert_non_null(strstr(st.last_error, "resolver"));
    bv_jetstream_free(j);
    assert_int_equal(s.posts, 0);
}

static int cleanup(void **state)
{
    (void)state;
    bv_jetstream_free(J);
    J = NULL;
    fake_stop(&F);
    if (R.dir[0]) {
        rig_done(&R);
        R.dir[0] = '\0';
    }
    sink_clear(&S);
    sink_clear(&S2);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    ps = bv_pseudo_new("test-key-0123456789abcdef", 25);
    codec = (bv_codec_ctx){.pseudo = ps};
    return base && ps ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bv_pseudo_free(ps);
    event_base_free(base);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_stream, cleanup),
        cmocka_unit_test_teardown(test_resume_dedupe, cleanup),
        cmocka_unit_test_teardown(test_restart, cleanup),
        cmocka_unit_test_teardown(test_backoff, cleanup),
        cmocka_unit_test_teardown(test_stall_and_oversize, cleanup),
        cmocka_unit_test_teardown(test_options, cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
