/* test_sink_alertmanager.c: the Alertmanager v2 sink. Against a receiver in the test's loop:
 * the request (POST BASE/api/v2/alerts) and every field of the postable alerts (labels with
 * drill and health only when so, annotations, startsAt / endsAt for firing and resolved,
 * generatorURL and console only with a console_url), the heartbeat (Watchdog first, then the
 * firing alerts only, endsAt 4 intervals ahead, 1m when none is given), a refusal (400 with
 * Alertmanager's words). Against Debian's real prometheus-alertmanager on 127.0.0.1 (started
 * with its own config and storage in a temporary dir, clustering off, killed at the end even when
 * a check fails): a firing drill alert listed with drill="true" and its rule, then resolved and
 * no longer listed, and the Watchdog listed after a heartbeat. */
#include "testutil.h"

#include "hookutil.h"

#include "alert/render.h"
#include "alert/sink_http.h"
#include "core/timeutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define NOW 1781287205000LL
#define AM_BIN "/usr/bin/prometheus-alertmanager"

static yajl_val item(yajl_val arr, size_t i)
{
    assert_true(YAJL_IS_ARRAY(arr));
    assert_true(i < YAJL_GET_ARRAY(arr)->len);
    return YAJL_GET_ARRAY(arr)->values[i];
}

static int has(yajl_val v, const char *const *path)
{
    return yajl_tree_get(v, (const char **)path, yajl_t_any) != NULL;
}

static void test_fake(void **state)
{
    (void)state;
    tu_env e;
    tu_env_init(&e);
    e.env.console_url = "https://blikveld.gemeente.example";
    tu_hook hk;
    tu_hook_start(&hk, e.base);
    char url[160], err[256];
    snprintf(url, sizeof url, "%s/am/", hk.url);
    bv_sink *s = bv_sink_alertmanager_new(&e.env, url, err, sizeof err);
    assert_non_null(s);
    char want[200];
    snprintf(want, sizeof want, "alertmanager %s/am/", hk.url);
    assert_string_equal(s->label, want);
    tu_alerts t;
    tu_alerts_init(&t, 1, NOW);
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 3, 1, NOW);
    m.every_ms = 30000;
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    tu_hook_req *q = &hk.req[0];
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->uri, "/am/api/v2/alerts");
    assert_string_equal(tu_hook_header(q, "Content-Type"), "application/json");
    yajl_val v = tu_json(q->body);
    assert_int_equal(YAJL_GET_ARRAY(v)->len, 3);
    char iso[BV_TIME_ISO_LEN], link[160];
    for (size_t i = 0; i < 3; i++) {
        yajl_val a = item(v, i);
        const bv_alert *al = &t.a[i];
        assert_string_equal(tu_jstr(a, TU_P("labels", "alertname")), al->rule->id);
        assert_string_equal(tu_jstr(a, TU_P("labels", "rule")), al->rule->id);
        assert_string_equal(tu_jstr(a, TU_P("labels", "event")), "oud-en-nieuw");
        assert_string_equal(tu_jstr(a, TU_P("labels", "severity")),
                            bv_severity_name(al->rule->severity));
        assert_string_equal(tu_jstr(a, TU_P("labels", "blikveld_id")), al->id);
        assert_string_equal(tu_jstr(a, TU_P("labels", "drill")), "true");
        assert_int_equal(has(a, TU_P("labels", "health")), i == 2);
        if (i == 2) {
            assert_string_equal(tu_jstr(a, TU_P("labels", "health")), "true");
        }
        assert_string_equal(tu_jstr(a, TU_P("annotations", "title")), al->rule->title);
        bv_message one;
        bv_am_single(&m, i, &one);
        bv_render_opts o = {.lang = BV_LANG_NL, .console_url = e.env.console_url};
        bv_buf text = BV_BUF_INIT;
        bv_render_short(&one, &o, 1000, &text);
        assert_string_equal(tu_jstr(a, TU_P("annotations", "summary")), text.p);
        bv_buf_free(&text);
        snprintf(link, sizeof link, "https://blikveld.gemeente.example/alerts/%s", al->id);
        assert_string_equal(tu_jstr(a, TU_P("annotations", "console")), link);
        assert_string_equal(tu_jstr(a, TU_P("generatorURL")), link);
        if (i == 1) { /* resolved: from when it fired to when it resolved */
            assert_string_equal(tu_jstr(a, TU_P("startsAt")),
                                bv_time_format_iso8601(NOW - 330000, iso));
            assert_string_equal(tu_jstr(a, TU_P("endsAt")),
                                bv_time_format_iso8601(NOW - 30000, iso));
        } else { /* firing: until 4 intervals from now */
            assert_string_equal(tu_jstr(a, TU_P("startsAt")),
                                bv_time_format_iso8601(NOW - 30000, iso));
            assert_string_equal(tu_jstr(a, TU_P("endsAt")),
                                bv_time_format_iso8601(NOW + 120000, iso));
        }
    }
    yajl_tree_free(v);

    /* no drill, no console: no drill label, no console, no generatorURL */
    e.env.console_url = NULL;
    for (int i = 0; i < 3; i++) {
        t.a[i].drill = 0;
    }
    m = tu_message(&t, BV_MSG_ALERTS, 0, 1, 0, NOW);
    tu_deliver(&e, s, &m, &d);
    v = tu_json(hk.req[1].body);
    assert_false(has(item(v, 0), TU_P("labels", "drill")));
    assert_false(has(item(v, 0), TU_P("annotations", "console")));
    assert_false(has(item(v, 0), TU_P("generatorURL")));
    yajl_tree_free(v);

    /* the heartbeat: the Watchdog, then only what fires; every_ms 0 counts as 1m */
    m = tu_message(&t, BV_MSG_HEARTBEAT, 0, 3, 1, NOW);
    m.every_ms = 0;
    tu_deliver(&e, s, &m, &d);
    v = tu_json(hk.req[2].body);
    assert_int_equal(YAJL_GET_ARRAY(v)->len, 3);
    yajl_val w = item(v, 0);
    assert_string_equal(tu_jstr(w, TU_P("labels", "alertname")), "Watchdog");
    assert_string_equal(tu_jstr(w, TU_P("labels", "event")), "oud-en-nieuw");
    assert_string_equal(tu_jstr(w, TU_P("labels", "severity")), "none");
    assert_string_equal(tu_jstr(w, TU_P("labels", "drill")), "true");
    assert_int_equal(
        YAJL_GET_OBJECT(yajl_tree_get(w, (const char *[]){"labels", NULL}, yajl_t_object))->len, 4);
    assert_string_equal(tu_jstr(w, TU_P("startsAt")), bv_time_format_iso8601(NOW, iso));
    assert_string_equal(tu_jstr(w, TU_P("endsAt")), bv_time_format_iso8601(NOW + 240000, iso));
    assert_true(strlen(tu_jstr(w, TU_P("annotations", "summary"))) > 0);
    assert_string_equal(tu_jstr(item(v, 1), TU_P("labels", "blikveld_id")), t.a[0].id);
    assert_string_equal(tu_jstr(item(v, 2), TU_P("labels", "blikveld_id")), t.a[2].id);
    assert_string_equal(tu_jstr(item(v, 1), TU_P("endsAt")),
                        bv_time_format_iso8601(NOW + 240000, iso));
    /* a repeated alert's summary is its own, not the heartbeat's */
    assert_non_null(strstr(tu_jstr(item(v, 1), TU_P("annotations", "summary")), "project-x"));
    yajl_tree_free(v);
    /* a heartbeat with nothing firing: the Watchdog alone */
    m = tu_message(&t, BV_MSG_HEARTBEAT, 1, 1, 0, NOW);
    tu_deliver(&e, s, &m, &d);
    v = tu_json(hk.req[3].body);
    assert_int_equal(YAJL_GET_ARRAY(v)->len, 1);
    assert_false(has(item(v, 0), TU_P("labels", "drill")));
    yajl_tree_free(v);

    /* refused: Alertmanager's words in the reason */
    tu_hook_reply r400 = {400, "\"invalid label set: invalid name \\\"1x\\\"\"\n",
                          "application/json"};
    tu_hook_script(&hk, &r400, 1);
    m = tu_message(&t, BV_MSG_ALERTS, 0, 1, 0, NOW);
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_FAIL);
    assert_string_equal(d.reason, "HTTP 400: \"invalid label set: invalid name \\\"1x\\\"\"");
    tu_hook_reply r503 = {503, "down", NULL};
    tu_hook_script(&hk, &r503, 1);
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_RETRY);
    assert_string_equal(d.reason, "HTTP 503");
    bv_sink_free(s);

    assert_null(bv_sink_alertmanager_new(&e.env, "http://am.example/?x=1", err, sizeof err));
    assert_string_equal(err, "alertmanager: not an http:// or https:// URL without a query");
    tu_hook_free(&hk);
    tu_env_free(&e);
}

/* ---- the real Alertmanager ---- */

typedef struct am_proc {
    pid_t pid;
    char dir[64];
    int port;
    int logfd;
    struct event *logev;
    bv_buf log;
    int listening;
} am_proc;

static am_proc am = {.pid = -1, .logfd = -1};

static void on_log(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0 && am.log.len < 1000000) {
        bv_buf_append(&am.log, buf, (size_t)n);
    }
    if (n <= 0) {
        event_del(am.logev); /* it exited */
        am.listening = -1;
    } else if (am.log.p && strstr(am.log.p, "msg=\"Listening on\"")) {
        am.listening = 1;
    }
}

static void am_stop(void)
{
    if (am.pid > 0) {
        kill(am.pid, SIGKILL);
        waitpid(am.pid, NULL, 0);
        am.pid = -1;
    }
    if (am.logev) {
        event_free(am.logev);
        am.logev = NULL;
    }
    if (am.logfd >= 0) {
        close(am.logfd);
        am.logfd = -1;
    }
    if (am.dir[0]) {
        char path[128];
        snprintf(path, sizeof path, "rm -rf '%s'", am.dir);
        if (system(path) != 0) {
            fprintf(stderr, "could not remove %s\n", am.dir);
        }
        am.dir[0] = '\0';
    }
    bv_buf_free(&am.log);
}

static int am_teardown(void **state)
{
    (void)state;
    am_stop();
    return 0;
}

/* Starts Alertmanager; its log goes through a pipe read on the loop. */
static void am_start(struct event_base *base)
{
    snprintf(am.dir, sizeof am.dir, "/tmp/bv-am-XXXXXX");
    assert_non_null(mkdtemp(am.dir));
    char conf[128], a1[160], a2[160], a3[64];
    snprintf(conf, sizeof conf, "%s/alertmanager.yml", am.dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fputs("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n", f);
    fclose(f);
    am.port = tu_closed_port();
    snprintf(a1, sizeof a1, "--config.file=%s", conf);
    snprintf(a2, sizeof a2, "--storage.path=%s/data", am.dir);
    snprintf(a3, sizeof a3, "--web.listen-address=127.0.0.1:%d", am.port);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test */
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(p[1], 2);
        execl(AM_BIN, AM_BIN, a1, a2, "--cluster.listen-address=", a3, "--log.level=info",
              (char *)NULL);
        _exit(127);
    }
    am.pid = pid;
    close(p[1]);
    am.logfd = p[0];
    evutil_make_socket_nonblocking(am.logfd);
    am.logev = event_new(base, am.logfd, EV_READ | EV_PERSIST, on_log, NULL);
    event_add(am.logev, NULL);
}

static size_t on_body(char *d, size_t size, size_t n, void *arg)
{
    bv_buf_append(arg, d, size * n);
    return size * n;
}

/* A blocking GET (test code: Alertmanager is another process). The status; body appended. */
static long get(const char *path, bv_buf *body)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", am.port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(c);
    bv_buf_putc(body, '\0');
    body->len--;
    return status;
}

/* The alerts Alertmanager lists for a label matcher (name="value"). Caller frees. */
static yajl_val listed(const char *name, const char *value)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v2/alerts?active=true&filter=%s%%3D%%22%s%%22", name, value);
    bv_buf b = BV_BUF_INIT;
    long st = get(path, &b);
    if (st != 200) {
        fail_msg("GET %s: %ld %s", path, st, b.p ? b.p : "");
    }
    yajl_val v = tu_json(b.p);
    bv_buf_free(&b);
    assert_true(YAJL_IS_ARRAY(v));
    return v;
}

static void test_real_alertmanager(void **state)
{
    (void)state;
    assert_int_equal(access(AM_BIN, X_OK), 0);
    tu_env e;
    tu_env_init(&e);
    e.env.console_url = "https://blikveld.gemeente.example";
    am_start(e.base);
    tu_run_until(e.base, &am.listening);
    if (am.listening != 1) {
        fail_msg("alertmanager did not start:\n%s", am.log.p ? am.log.p : "");
    }
    /* ready: /-/ready answers 200 (asked again until a deadline) */
    long st = 0;
    for (int64_t end = tu_now_ms() + 5000; st != 200 && tu_now_ms() < end;) {
        bv_buf b = BV_BUF_INIT;
        st = get("/-/ready", &b);
        bv_buf_free(&b);
        event_base_loop(e.base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(st, 200);

    char base[64], err[256];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", am.port);
    bv_sink *s = bv_sink_alertmanager_new(&e.env, base, err, sizeof err);
    assert_non_null(s);
    int64_t now = tu_now_ms();
    tu_alerts t;
    tu_alerts_init(&t, 1, now);
    /* firing, a drill */
    bv_message m = tu_message(&t, BV_MSG_ALERTS, 0, 1, 1, now);
    tu_done d;
    tu_deliver(&e, s, &m, &d);
    if (d.r != BV_SINK_OK) {
        fail_msg("firing: %s\n%s", d.reason, am.log.p ? am.log.p : "");
    }
    yajl_val v = listed("blikveld_id", t.a[0].id);
    assert_int_equal(YAJL_GET_ARRAY(v)->len, 1);
    yajl_val a = item(v, 0);
    assert_string_equal(tu_jstr(a, TU_P("labels", "drill")), "true");
    assert_string_equal(tu_jstr(a, TU_P("labels", "rule")), "project-x");
    assert_string_equal(tu_jstr(a, TU_P("labels", "alertname")), "project-x");
    assert_string_equal(tu_jstr(a, TU_P("labels", "severity")), "critical");
    assert_string_equal(tu_jstr(a, TU_P("annotations", "title")), "Project X-oproep");
    char link[160];
    snprintf(link, sizeof link, "https://blikveld.gemeente.example/alerts/%s", t.a[0].id);
    assert_string_equal(tu_jstr(a, TU_P("generatorURL")), link);
    const char *state_now = tu_jstr(a, TU_P("status", "state"));
    assert_true(strcmp(state_now, "active") == 0 || strcmp(state_now, "unprocessed") == 0);
    yajl_tree_free(v);

    /* resolved: no longer listed */
    t.a[0].state = BV_ALERT_RESOLVED;
    t.a[0].since_ms = now - 30000;
    t.a[0].at_ms = now - 1000;
    m = tu_message(&t, BV_MSG_ALERTS, 0, 1, 1, now);
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    v = listed("blikveld_id", t.a[0].id);
    assert_int_equal(YAJL_GET_ARRAY(v)->len, 0);
    yajl_tree_free(v);

    /* the heartbeat: the Watchdog, and the firing health alert repeated with it */
    m = tu_message(&t, BV_MSG_HEARTBEAT, 2, 1, 1, now);
    tu_deliver(&e, s, &m, &d);
    assert_int_equal(d.r, BV_SINK_OK);
    v = listed("alertname", "Watchdog");
    assert_int_equal(YAJL_GET_ARRAY(v)->len, 1);
    a = item(v, 0);
    assert_string_equal(tu_jstr(a, TU_P("labels", "event")), "oud-en-nieuw");
    assert_string_equal(tu_jstr(a, TU_P("labels", "severity")), "none");
    assert_string_equal(tu_jstr(a, TU_P("labels", "drill")), "true");
    yajl_tree_free(v);
    v = listed("blikveld_id", t.a[2].id);
    assert_int_equal(YAJL_GET_ARRAY(v)->len, 1);
    assert_string_equal(tu_jstr(item(v, 0), TU_P("labels", "health")), "true");
    yajl_tree_free(v);
    bv_sink_free(s);
    am_stop();
    tu_env_free(&e);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake),
        cmocka_unit_test_teardown(test_real_alertmanager, am_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    am_stop();
    curl_global_cleanup();
    return rc;
}
