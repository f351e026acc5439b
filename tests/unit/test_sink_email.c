/* test_sink_email.c: the e-mail sink (lib/alert/sink_email.c) against a real SMTP server,
 * tests/unit/smtp_server.py (Debian's python3-aiosmtpd in a child process on a free port, with a
 * throwaway CA and server certificate for STARTTLS), which reads every mail it accepts with
 * Python's email module and writes what it found as JSON; the test reads that with yajl.
 * Covered: a multipart/alternative mail (text/plain and text/html, UTF-8) over STARTTLS with
 * AUTH, its headers (severity in the subject, Date from the injected clock, Message-ID from the
 * key and the same on a resend, X-Blikveld-Key, Auto-Submitted); a drill in Dutch (OEFENING in
 * the subject and both bodies, X-Blikveld-Drill) with a long non-ASCII subject as RFC 2047
 * words; English (CRITICAL); a heartbeat; 30 alerts in one mail (a key too long for one line);
 * STARTTLS used when offered, plain SMTP when not; 550 for a recipient as FAIL, 451 after DATA as
 * RETRY then OK, a refused connection and a silent server (timeout) as RETRY, require_tls against a
 * server without STARTTLS as FAIL, wrong credentials as FAIL; config errors (an unset variable
 * named, never a value); freeing the sink with mails in flight, also from a done callback. No
 * reason or label holds the user's password. Each server is stopped by the test's teardown, and
 * ends by itself when this process dies (its stdin is a pipe from here). */
#include "testutil.h"

#include "alert/render.h"
#include "alert/sink.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "net/curl_loop.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

extern char **environ;

#define USER "alarm-bot"
#define PASSWORD "Geheim-Wachtwoord-9f3k"
#define NOW_MS 1781296860000LL /* Fri 12 Jun 2026 20:41:00 UTC: 22:41 in Amsterdam */
#define WAIT_MS 8000           /* the longest wait for one outcome */

typedef struct server {
    pid_t pid;
    int out_fd, in_fd; /* its stdout; its stdin (it ends when that closes) */
    int port;
    char dir[160]; /* where it writes msg-N.json */
    char url[64];
} server;

static struct {
    char root[64]; /* the temporary dir: certificates and each server's dir */
    char ca[128], cert[128], key[128];
    struct event_base *base;
    bv_curl_loop *curl;
    bv_fake_clock clock;
    int nservers;
    server srv; /* the current test's server, stopped by teardown */
} T;

/* ---- the server ---- */

/* Starts smtp_server.py with the options in args (NULL-terminated) and waits (poll, at most
 * WAIT_MS) for the port it prints. */
static void server_start(server *s, const char *const *args)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s/srv%d", T.root, ++T.nservers);
    assert_int_equal(mkdir(s->dir, 0700), 0);
    int out[2], in[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    char *argv[24] = {(char *)"python3", (char *)"tests/unit/smtp_server.py", (char *)"--out",
                      s->dir};
    int n = 4;
    for (int i = 0; args && args[i] && n < 23; i++) {
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
    assert_int_equal(posix_spawn(&s->pid, "/usr/bin/python3", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(in[0]);
    s->out_fd = out[0];
    s->in_fd = in[1];
    char line[32];
    size_t len = 0;
    struct pollfd pf = {.fd = s->out_fd, .events = POLLIN};
    while (len < sizeof line - 1 && poll(&pf, 1, WAIT_MS) == 1 &&
           read(s->out_fd, line + len, 1) == 1) {
        if (line[len++] == '\n') {
            break;
        }
    }
    line[len] = '\0';
    s->port = (int)strtol(line, NULL, 10);
    assert_true(s->port > 0);
    snprintf(s->url, sizeof s->url, "smtp://127.0.0.1:%d", s->port);
}

static void server_stop(server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        close(s->out_fd);
        close(s->in_fd);
        s->pid = 0;
    }
}

/* The number of mails the server accepted (msg-N.json files). */
static int server_mails(const server *s)
{
    int n = 0;
    char path[256];
    for (;;) {
        snprintf(path, sizeof path, "%s/msg-%d.json", s->dir, n + 1);
        if (access(path, F_OK) != 0) {
            return n;
        }
        n++;
    }
}

/* The JSON the server wrote for its n-th mail (caller frees with yajl_tree_free). */
static yajl_val server_mail(const server *s, int n)
{
    char path[256], err[128];
    snprintf(path, sizeof path, "%s/msg-%d.json", s->dir, n);
    char *text = NULL;
    size_t len;
    int e;
    assert_int_equal(bv_file_read(path, 1 << 20, &text, &len, &e), 0);
    yajl_val v = yajl_tree_parse(text, err, sizeof err);
    free(text);
    assert_non_null(v);
    return v;
}

static yajl_val jget(yajl_val v, const char *key)
{
    const char *path[] = {key, NULL};
    return yajl_tree_get(v, path, yajl_t_any);
}

/* The string at key; "" for null (and fails the test for anything else). */
static const char *jstr(yajl_val v, const char *key)
{
    yajl_val x = jget(v, key);
    assert_non_null(x);
    if (YAJL_IS_NULL(x)) {
        return "";
    }
    assert_true(YAJL_IS_STRING(x));
    return YAJL_GET_STRING(x);
}

static int jtrue(yajl_val v, const char *key)
{
    yajl_val x = jget(v, key);
    assert_non_null(x);
    return YAJL_IS_TRUE(x);
}

static long long jint(yajl_val v, const char *key)
{
    yajl_val x = jget(v, key);
    assert_non_null(x);
    assert_true(YAJL_IS_INTEGER(x));
    return YAJL_GET_INTEGER(x);
}

/* The i-th string of the array at key. */
static const char *jitem(yajl_val v, const char *key, size_t i, size_t *n)
{
    yajl_val x = jget(v, key);
    assert_non_null(x);
    assert_true(YAJL_IS_ARRAY(x));
    *n = YAJL_GET_ARRAY(x)->len;
    if (i >= *n) {
        return NULL;
    }
    yajl_val e = YAJL_GET_ARRAY(x)->values[i];
    assert_true(YAJL_IS_STRING(e));
    return YAJL_GET_STRING(e);
}

/* ---- a message ---- */

typedef struct fixture {
    bv_rule rule;
    bv_det_eval ev;
    bv_alert_place place;
    bv_alert alert;
    const bv_alert *alerts[1];
    char key[BV_ALERT_KEY_LEN];
    const char *keys[1];
    bv_message m;
} fixture;

static void fixture_init(fixture *f, const char *title, bv_severity sev, int drill)
{
    memset(f, 0, sizeof *f);
    f->rule.id = (char *)"project-x";
    f->rule.title = (char *)title;
    f->rule.severity = sev;
    f->ev.type = BV_DET_THRESHOLD;
    f->ev.holds = 1;
    f->ev.window_ms = 300000;
    f->ev.count = 42;
    f->ev.threshold = 20;
    f->place.name = (char *)"Haren";
    f->place.count = 12;
    f->place.municipality = (char *)"Groningen";
    f->place.province = (char *)"Groningen";
    memcpy(f->alert.id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", 33);
    f->alert.state = BV_ALERT_FIRING;
    f->alert.event = (char *)"koningsdag";
    f->alert.drill = drill;
    f->alert.rule = &f->rule;
    f->alert.at_ms = NOW_MS - 60000;
    f->alert.evals = &f->ev;
    f->alert.nevals = 1;
    f->alert.places = &f->place;
    f->alert.nplaces = 1;
    f->alerts[0] = &f->alert;
    bv_alert_key(&f->alert, 0, f->key);
    f->keys[0] = f->key;
    f->m.kind = BV_MSG_ALERTS;
    f->m.event = "koningsdag";
    f->m.group = "police";
    f->m.alerts = f->alerts;
    f->m.nalerts = 1;
    f->m.keys = f->keys;
    f->m.key = f->key;
    f->m.drill = drill;
    f->m.now_ms = NOW_MS;
}

/* What render.h makes of m: the subject the server must have decoded. Caller frees. */
static char *rendered_subject(const bv_message *m, const char *lang)
{
    bv_render_opts o = {.lang = bv_lang_parse(lang), .console_url = NULL};
    bv_buf b = BV_BUF_INIT;
    assert_int_equal(bv_render_subject(m, &o, &b), BV_OK);
    assert_non_null(b.p);
    return bv_buf_steal(&b);
}

/* ---- the sink ---- */

typedef struct outcome {
    int calls;
    bv_sink_result r;
    char reason[256];
} outcome;

static void on_done(void *arg, bv_sink_result r, const char *reason)
{
    outcome *o = arg;
    o->calls++;
    o->r = r;
    snprintf(o->reason, sizeof o->reason, "%s", reason ? reason : "(null)");
    assert_null(strstr(o->reason, PASSWORD));
    assert_null(strstr(o->reason, "R2VoZWlt")); /* base64 of the password's start */
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until *calls reaches n or WAIT_MS pass. */
static void run_until(const int *calls, int n)
{
    int expired = 0;
    struct event *t = evtimer_new(T.base, on_deadline, &expired);
    struct timeval tv = {WAIT_MS / 1000, 0};
    evtimer_add(t, &tv);
    while (*calls < n && !expired) {
        event_base_loop(T.base, EVLOOP_ONCE);
    }
    event_free(t);
    assert_int_equal(*calls, n);
}

typedef struct sinkconf {
    const char *url;
    const char *to[3];
    int auth;        /* user_env and password_env */
    int require_tls; /* smtp.require_tls */
    const char *lang;
    int64_t timeout_ms;
} sinkconf;

static bv_sink_env env_for(const sinkconf *c)
{
    bv_sink_env env = {.base = T.base,
                       .curl = T.curl,
                       .clock = &T.clock.clock,
                       .language = c->lang ? c->lang : "nl",
                       .console_url = "https://blikveld.gemeente.example",
                       .timeout_ms = c->timeout_ms ? c->timeout_ms : 5000,
                       .ca_file = T.ca};
    return env;
}

static bv_sink *make_sink(const bv_sink_env *env, const sinkconf *c, char *err, size_t errlen)
{
    bv_strlist to = {.v = (char **)c->to, .n = 0};
    while (to.n < 3 && c->to[to.n]) {
        to.n++;
    }
    bv_smtp_conf smtp = {.url = (char *)c->url,
                         .from = (char *)"blikveld@gemeente.example",
                         .user_env = c->auth ? (char *)"BV_TEST_SMTP_USER" : NULL,
                         .password_env = c->auth ? (char *)"BV_TEST_SMTP_PASSWORD" : NULL,
                         .require_tls = c->require_tls};
    return bv_sink_email_new(env, &to, &smtp, err, errlen);
}

/* Sends m through s and waits for the outcome. */
static outcome send_one(bv_sink *s, const bv_message *m)
{
    outcome o = {0};
    assert_int_equal(bv_sink_deliver(s, m, on_done, &o), BV_OK);
    assert_int_equal(o.calls, 0); /* never before deliver returns */
    run_until(&o.calls, 1);
    return o;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ---- tests ---- */

static void test_starttls_auth_multipart(void **state)
{
    (void)state;
    const char *args[] = {"--cert",
                          T.cert,
                          "--key",
                          T.key,
                          "--require-starttls",
                          "--auth",
                          USER ":" PASSWORD,
                          "--auth-require-tls",
                          NULL};
    server_start(&T.srv, args);
    sinkconf c = {
        .url = T.srv.url, .to = {"oc@politie.example", "kabinet@gemeente.example"}, .auth = 1};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    char label[128];
    snprintf(label, sizeof label,
             "email oc@politie.example, kabinet@gemeente.example via smtp://127.0.0.1:%d",
             T.srv.port);
    assert_string_equal(s->label, label);
    assert_string_equal(s->ops->name, "email");

    fixture f;
    fixture_init(&f, "Project X-oproep", BV_SEV_CRITICAL, 0);
    outcome o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_OK);
    assert_string_equal(o.reason, "SMTP 250 2.0.0 Ok: queued as Q1");
    assert_int_equal(server_mails(&T.srv), 1);

    yajl_val v = server_mail(&T.srv, 1);
    assert_true(jtrue(v, "tls"));
    assert_string_equal(jstr(v, "auth_login"), USER);
    assert_string_equal(jstr(v, "mail_from"), "blikveld@gemeente.example");
    size_t n;
    assert_string_equal(jitem(v, "rcpt_tos", 0, &n), "oc@politie.example");
    assert_string_equal(jitem(v, "rcpt_tos", 1, &n), "kabinet@gemeente.example");
    assert_int_equal(n, 2); /* one transaction for both */
    assert_true(jtrue(v, "is_multipart"));
    assert_string_equal(jstr(v, "content_type"), "multipart/alternative");
    assert_string_equal(jitem(v, "parts", 0, &n), "multipart/alternative");
    assert_string_equal(jitem(v, "parts", 1, &n), "text/plain");
    assert_string_equal(jitem(v, "parts", 2, &n), "text/html");
    assert_int_equal(n, 3);
    assert_int_equal(jint(v, "attachments"), 0);
    assert_int_equal(jint(v, "defects"), 0);
    assert_string_equal(jstr(v, "plain_charset"), "utf-8");
    assert_string_equal(jstr(v, "html_charset"), "utf-8");
    char *subject = rendered_subject(&f.m, "nl");
    assert_string_equal(jstr(v, "subject"), subject);
    assert_true(contains(subject, "KRITIEK"));
    assert_false(contains(subject, "OEFENING"));
    free(subject);
    assert_string_equal(jstr(v, "date"), "Fri, 12 Jun 2026 22:41:00 +0200");
    assert_string_equal(jstr(v, "from"), "blikveld@gemeente.example");
    assert_string_equal(jstr(v, "to"), "oc@politie.example, kabinet@gemeente.example");
    assert_string_equal(jstr(v, "message_id"),
                        "<0f1e2d3c4b5a69788796a5b4c3d2e1f0.firing@blikveld>");
    assert_string_equal(jstr(v, "key"), "0f1e2d3c4b5a69788796a5b4c3d2e1f0/firing");
    assert_string_equal(jstr(v, "drill"), "");
    assert_string_equal(jstr(v, "auto_submitted"), "auto-generated");
    assert_string_equal(jstr(v, "mime_version"), "1.0");
    assert_true(jint(v, "max_line") <= 998);
    assert_true(contains(jstr(v, "plain"), "Project X-oproep"));
    assert_true(contains(jstr(v, "plain"), "https://blikveld.gemeente.example/alerts/"));
    assert_true(contains(jstr(v, "html"), "<html"));
    assert_true(contains(jstr(v, "html"), "Project X-oproep"));
    assert_false(contains(jstr(v, "plain"), PASSWORD));
    yajl_tree_free(v);

    /* a resend of the same message: the same Message-ID, so receivers can drop it */
    bv_fake_clock_advance(&T.clock, 90000);
    o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_OK);
    v = server_mail(&T.srv, 2);
    assert_string_equal(jstr(v, "message_id"),
                        "<0f1e2d3c4b5a69788796a5b4c3d2e1f0.firing@blikveld>");
    assert_string_equal(jstr(v, "date"), "Fri, 12 Jun 2026 22:42:30 +0200");
    yajl_tree_free(v);

    /* another key, another Message-ID */
    f.alert.state = BV_ALERT_RESOLVED;
    f.alert.since_ms = NOW_MS - 60000;
    bv_alert_key(&f.alert, 0, f.key);
    o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_OK);
    v = server_mail(&T.srv, 3);
    assert_string_equal(jstr(v, "message_id"),
                        "<0f1e2d3c4b5a69788796a5b4c3d2e1f0.resolved@blikveld>");
    yajl_tree_free(v);
    bv_sink_free(s);
    bv_fake_clock_init(&T.clock, NOW_MS);
}

/* A drill, in Dutch, with a title long and not ASCII: OEFENING everywhere, the subject as
 * RFC 2047 words on folded lines that Python decodes back to the rendered subject. STARTTLS
 * is used because the server offers it (not required). */
static void test_drill_encoded_subject(void **state)
{
    (void)state;
    const char *args[] = {"--cert", T.cert, "--key", T.key, NULL};
    server_start(&T.srv, args);
    sinkconf c = {.url = T.srv.url, .to = {"oc@politie.example"}};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    fixture f;
    fixture_init(&f,
                 "Oproep tot rellen bij caf\xc3\xa9 \xe2\x80\x99t Hoekje en de Gro\xc3\xabn"
                 "markt \xe2\x80\x94 \xc3\xa9\xc3\xa9n lange titel die niet op \xc3\xa9\xc3\xa9n "
                 "regel past",
                 BV_SEV_CRITICAL, 1);
    outcome o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_OK);
    yajl_val v = server_mail(&T.srv, 1);
    assert_true(jtrue(v, "tls"));
    assert_string_equal(jstr(v, "auth_login"), "");
    char *subject = rendered_subject(&f.m, "nl");
    assert_string_equal(jstr(v, "subject"), subject);
    assert_true(contains(subject, "OEFENING"));
    assert_true(contains(subject, "KRITIEK"));
    free(subject);
    const char *raw = jstr(v, "raw_subject");
    assert_true(contains(raw, "=?UTF-8?B?"));
    assert_true(contains(raw, "\r\n ")); /* folded */
    for (const char *line = raw; line; line = strstr(line, "\r\n")) {
        line += line == raw ? 0 : 2;
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        assert_true(len + (line == raw ? 9 : 0) <= 78); /* "Subject: " on the first */
        if (end == NULL) {
            break;
        }
    }
    assert_string_equal(jstr(v, "drill"), "yes");
    assert_true(contains(jstr(v, "plain"), "OEFENING"));
    assert_true(contains(jstr(v, "html"), "OEFENING"));
    assert_true(contains(jstr(v, "plain"), "caf\xc3\xa9 \xe2\x80\x99t Hoekje"));
    yajl_tree_free(v);
    bv_sink_free(s);
}

/* English: the severity as CRITICAL; a long ASCII subject folded at spaces; plain SMTP when
 * the server offers no STARTTLS (require_tls not set). Then a heartbeat: a short mail too. */
static void test_english_plain_heartbeat(void **state)
{
    (void)state;
    server_start(&T.srv, NULL);
    sinkconf c = {.url = T.srv.url, .to = {"oc@politie.example"}, .lang = "en"};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    fixture f;
    fixture_init(&f,
                 "Calls to riot near the station square and the market hall spreading in "
                 "several local groups",
                 BV_SEV_CRITICAL, 0);
    outcome o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_OK);
    yajl_val v = server_mail(&T.srv, 1);
    assert_false(jtrue(v, "tls"));
    char *subject = rendered_subject(&f.m, "en");
    assert_string_equal(jstr(v, "subject"), subject);
    assert_true(contains(subject, "CRITICAL"));
    assert_true(strlen(subject) > 78);
    free(subject);
    assert_true(contains(jstr(v, "raw_subject"), "\r\n "));
    assert_false(contains(jstr(v, "raw_subject"), "=?"));
    yajl_tree_free(v);

    bv_message hb = {.kind = BV_MSG_HEARTBEAT,
                     .event = "koningsdag",
                     .group = "police",
                     .key = "heartbeat/koningsdag/1781296860",
                     .now_ms = NOW_MS,
                     .every_ms = 60000};
    o = send_one(s, &hb);
    assert_int_equal(o.r, BV_SINK_OK);
    v = server_mail(&T.srv, 2);
    assert_true(contains(jstr(v, "subject"), "blikveld is running"));
    assert_string_equal(jstr(v, "message_id"), "<heartbeat.koningsdag.1781296860@blikveld>");
    assert_string_equal(jstr(v, "key"), "heartbeat/koningsdag/1781296860");
    assert_string_equal(jstr(v, "content_type"), "multipart/alternative");
    assert_true(contains(jstr(v, "plain"), "blikveld is running"));
    assert_true(contains(jstr(v, "html"), "blikveld is running"));
    yajl_tree_free(v);
    bv_sink_free(s);
}

/* A message of 30 alerts: its key (the alerts' keys joined) is too long for one header line,
 * so X-Blikveld-Key goes as encoded-words that decode to the whole key, and the Message-ID is
 * cut and ends in a hash of the key; both the same on a resend, and no line past 998. */
static void test_many_alerts(void **state)
{
    (void)state;
    server_start(&T.srv, NULL);
    sinkconf c = {.url = T.srv.url, .to = {"oc@politie.example"}};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    enum { N = 30 };
    static fixture f[N];
    const bv_alert *alerts[N];
    const char *keys[N];
    bv_buf key = BV_BUF_INIT;
    for (int i = 0; i < N; i++) {
        fixture_init(&f[i], "Project X-oproep", i ? BV_SEV_WARNING : BV_SEV_CRITICAL, 0);
        snprintf(f[i].alert.id, sizeof f[i].alert.id, "%032x", 0xa1e27000 + i);
        bv_alert_key(&f[i].alert, 0, f[i].key);
        alerts[i] = &f[i].alert;
        keys[i] = f[i].key;
        bv_buf_printf(&key, "%s%s", i ? "," : "", f[i].key);
    }
    assert_true(key.len > 998);
    bv_message m = f[0].m;
    m.alerts = alerts;
    m.keys = keys;
    m.nalerts = N;
    m.key = key.p;
    char first_id[128] = "";
    for (int round = 1; round <= 2; round++) {
        outcome o = send_one(s, &m);
        assert_int_equal(o.r, BV_SINK_OK);
        yajl_val v = server_mail(&T.srv, round);
        assert_string_equal(jstr(v, "key"), key.p);
        const char *id = jstr(v, "message_id");
        assert_true(strlen(id) <= 1 + 100 + strlen("@blikveld>"));
        assert_int_equal(strncmp(id, "<000000000000000000000000a1e27000.firing.0000", 45), 0);
        assert_non_null(strstr(id, "@blikveld>"));
        assert_true(jint(v, "max_line") <= 998);
        assert_true(contains(jstr(v, "subject"), "KRITIEK"));
        if (round == 1) {
            snprintf(first_id, sizeof first_id, "%s", id);
        } else {
            assert_string_equal(id, first_id);
        }
        yajl_tree_free(v);
    }
    bv_buf_free(&key);
    bv_sink_free(s);
}

/* 550 for one recipient fails the transaction: FAIL, nothing delivered to anyone. 451 after
 * DATA: RETRY, and the next attempt goes through. A reply quoting the password is withheld. */
static void test_rejected_and_later(void **state)
{
    (void)state;
    const char *args[] = {"--reject", "niemand@politie.example", "--fail-data", "1", NULL};
    server_start(&T.srv, args);
    sinkconf c = {.url = T.srv.url, .to = {"oc@politie.example", "niemand@politie.example"}};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    fixture f;
    fixture_init(&f, "Project X-oproep", BV_SEV_WARNING, 0);
    outcome o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_FAIL);
    assert_string_equal(o.reason, "SMTP 550 5.1.1 <niemand@politie.example>: Recipient address "
                                  "rejected: User unknown");
    assert_int_equal(server_mails(&T.srv), 0);
    bv_sink_free(s);

    c.to[1] = NULL;
    s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_RETRY);
    assert_string_equal(o.reason, "SMTP 451 4.3.0 Try again later");
    assert_int_equal(server_mails(&T.srv), 0);
    o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_OK);
    assert_int_equal(server_mails(&T.srv), 1);
    bv_sink_free(s);

    /* a reply that quotes the password (here: a password the rejected address holds) keeps
     * only its code (the server offers no AUTH, so none is tried) */
    setenv("BV_TEST_SMTP_PASSWORD", "politie", 1);
    c.to[1] = "niemand@politie.example";
    c.auth = 1;
    s = make_sink(&env, &c, err, sizeof err);
    setenv("BV_TEST_SMTP_PASSWORD", PASSWORD, 1);
    assert_non_null(s);
    o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_FAIL);
    assert_string_equal(o.reason, "SMTP 550 (reply withheld: it quoted the credentials)");
    bv_sink_free(s);
}

/* A port nobody listens on, and one that accepts but never greets: RETRY. */
static void test_no_server(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t sl = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", ntohs(sin.sin_port));
    sinkconf c = {.url = url, .to = {"oc@politie.example"}, .timeout_ms = 300};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    fixture f;
    fixture_init(&f, "Project X-oproep", BV_SEV_WARNING, 0);
    outcome o = send_one(s, &f.m); /* bound, not listening: refused */
    assert_int_equal(o.r, BV_SINK_RETRY);
    assert_string_equal(o.reason, "connection refused");
    assert_int_equal(listen(fd, 4), 0); /* now the kernel accepts, and nobody speaks */
    o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_RETRY);
    assert_string_equal(o.reason, "timeout after 300ms");
    bv_sink_free(s);
    close(fd);
}

/* require_tls against a server without STARTTLS: FAIL at once (decided: the server will not
 * start offering it while the alert waits; see sink_email.c), and nothing sent in the clear. */
static void test_require_tls(void **state)
{
    (void)state;
    server_start(&T.srv, NULL);
    sinkconf c = {.url = T.srv.url, .to = {"oc@politie.example"}, .require_tls = 1};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    fixture f;
    fixture_init(&f, "Project X-oproep", BV_SEV_CRITICAL, 0);
    outcome o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_FAIL);
    assert_string_equal(o.reason, "the server offers no STARTTLS (require_tls)");
    assert_int_equal(server_mails(&T.srv), 0);
    bv_sink_free(s);
}

/* Credentials the server refuses: FAIL with its 535, no secret in the reason. */
static void test_wrong_password(void **state)
{
    (void)state;
    const char *args[] = {"--cert", T.cert, "--key", T.key, "--auth", USER ":other", NULL};
    server_start(&T.srv, args);
    sinkconf c = {.url = T.srv.url, .to = {"oc@politie.example"}, .auth = 1, .require_tls = 1};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    assert_null(strstr(s->label, PASSWORD));
    assert_null(strstr(s->label, USER));
    fixture f;
    fixture_init(&f, "Project X-oproep", BV_SEV_CRITICAL, 0);
    outcome o = send_one(s, &f.m);
    assert_int_equal(o.r, BV_SINK_FAIL);
    assert_string_equal(o.reason, "SMTP 535 5.7.8 Authentication credentials invalid");
    assert_int_equal(server_mails(&T.srv), 0);
    bv_sink_free(s);
}

static void test_config_errors(void **state)
{
    (void)state;
    sinkconf c = {.url = "smtp://127.0.0.1:2525", .to = {"oc@politie.example"}, .auth = 1};
    bv_sink_env env = env_for(&c);
    char err[256];
    bv_sink *s;

    /* an unset variable is named; a set one's value never appears */
    unsetenv("BV_TEST_SMTP_PASSWORD");
    assert_null(make_sink(&env, &c, err, sizeof err));
    assert_true(contains(err, "BV_TEST_SMTP_PASSWORD"));
    assert_true(contains(err, "not set"));
    assert_null(strstr(err, USER));
    setenv("BV_TEST_SMTP_PASSWORD", "", 1);
    assert_null(make_sink(&env, &c, err, sizeof err));
    assert_true(contains(err, "BV_TEST_SMTP_PASSWORD"));
    setenv("BV_TEST_SMTP_PASSWORD", PASSWORD, 1);
    unsetenv("BV_TEST_SMTP_USER");
    assert_null(make_sink(&env, &c, err, sizeof err));
    assert_true(contains(err, "BV_TEST_SMTP_USER"));
    setenv("BV_TEST_SMTP_USER", USER, 1);
    s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s->label, "email oc@politie.example via smtp://127.0.0.1:2525");
    bv_sink_free(s);

    /* user_env without password_env */
    bv_strlist to = {.v = (char *[]){(char *)"oc@politie.example"}, .n = 1};
    bv_smtp_conf smtp = {.url = (char *)"smtps://mail.gemeente.example",
                         .from = (char *)"blikveld@gemeente.example",
                         .user_env = (char *)"BV_TEST_SMTP_USER"};
    assert_null(bv_sink_email_new(&env, &to, &smtp, err, sizeof err));
    assert_true(contains(err, "password_env"));
    smtp.user_env = NULL;
    s = bv_sink_email_new(&env, &to, &smtp, err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s->label, "email oc@politie.example via smtps://mail.gemeente.example:465");
    bv_sink_free(s);

    /* URLs: not SMTP, or with credentials in them (never repeated in the error) */
    const char *bad_urls[] = {"http://mail.gemeente.example", "smtp://", "mail.example:25",
                              "smtp://u:" PASSWORD "@mail.gemeente.example"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        smtp.url = (char *)bad_urls[i];
        err[0] = '\0';
        assert_null(bv_sink_email_new(&env, &to, &smtp, err, sizeof err));
        assert_true(err[0] != '\0');
        assert_null(strstr(err, PASSWORD));
    }
    smtp.url = (char *)"smtp://mail.gemeente.example";

    /* addresses */
    const char *bad_addrs[] = {"",
                               "oc",
                               "@politie.example",
                               "oc@",
                               "o c@politie.example",
                               "Oc <oc@politie.example>",
                               "oc@politie.example\r\nBcc: x@y",
                               "a@b,c@d"};
    for (size_t i = 0; i < sizeof bad_addrs / sizeof *bad_addrs; i++) {
        to.v[0] = (char *)bad_addrs[i];
        assert_null(bv_sink_email_new(&env, &to, &smtp, err, sizeof err));
        assert_true(contains(err, "not an address"));
        to.v[0] = (char *)"oc@politie.example";
        smtp.from = (char *)bad_addrs[i];
        assert_null(bv_sink_email_new(&env, &to, &smtp, err, sizeof err));
        assert_true(contains(err, "not an address"));
        smtp.from = (char *)"blikveld@gemeente.example";
    }
    to.n = 0;
    assert_null(bv_sink_email_new(&env, &to, &smtp, err, sizeof err));
    assert_null(bv_sink_email_new(&env, NULL, &smtp, err, sizeof err));
}

static bv_sink *freed_in_done;

static void free_in_done(void *arg, bv_sink_result r, const char *reason)
{
    on_done(arg, r, reason);
    bv_sink_free(freed_in_done); /* the other mail in flight stops without its callback */
    freed_in_done = NULL;
}

/* Freeing the sink with mails in flight: no callback, nothing leaks (ASan), also when freed
 * from the done callback of one of them. */
static void test_free_in_flight(void **state)
{
    (void)state;
    server_start(&T.srv, NULL);
    sinkconf c = {.url = T.srv.url, .to = {"oc@politie.example"}};
    bv_sink_env env = env_for(&c);
    char err[256];
    fixture f;
    fixture_init(&f, "Project X-oproep", BV_SEV_WARNING, 0);
    bv_sink *s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    outcome a = {0}, b = {0};
    assert_int_equal(bv_sink_deliver(s, &f.m, on_done, &a), BV_OK);
    assert_int_equal(bv_sink_deliver(s, &f.m, on_done, &b), BV_OK);
    bv_sink_free(s);
    assert_int_equal(bv_curl_loop_running(T.curl), 0);
    event_base_loop(T.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.calls + b.calls, 0);

    s = make_sink(&env, &c, err, sizeof err);
    assert_non_null(s);
    freed_in_done = s;
    outcome both = {0};
    assert_int_equal(bv_sink_deliver(s, &f.m, free_in_done, &both), BV_OK);
    assert_int_equal(bv_sink_deliver(s, &f.m, free_in_done, &both), BV_OK);
    run_until(&both.calls, 1);
    assert_null(freed_in_done);
    assert_int_equal(bv_curl_loop_running(T.curl), 0);
    assert_int_equal(both.r, BV_SINK_OK);
}

/* ---- setup ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(T.root, sizeof T.root, "/tmp/bv-email-XXXXXX");
    if (mkdtemp(T.root) == NULL) {
        return -1;
    }
    pid_t pid;
    char *argv[] = {(char *)"python3", (char *)"tests/unit/smtp_server.py", (char *)"--make-certs",
                    T.root, NULL};
    int st = -1;
    if (posix_spawn(&pid, "/usr/bin/python3", NULL, NULL, argv, environ) != 0 ||
        waitpid(pid, &st, 0) != pid || st != 0) {
        fprintf(stderr, "cannot make the test certificates\n");
        return -1;
    }
    snprintf(T.ca, sizeof T.ca, "%s/ca.pem", T.root);
    snprintf(T.cert, sizeof T.cert, "%s/server.pem", T.root);
    snprintf(T.key, sizeof T.key, "%s/server.key", T.root);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    T.base = event_base_new();
    T.curl = T.base ? bv_curl_loop_new(T.base) : NULL;
    bv_fake_clock_init(&T.clock, NOW_MS);
    setenv("BV_TEST_SMTP_USER", USER, 1);
    setenv("BV_TEST_SMTP_PASSWORD", PASSWORD, 1);
    return T.curl ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    server_stop(&T.srv);
    bv_curl_loop_free(T.curl);
    event_base_free(T.base);
    curl_global_cleanup();
    nftw(T.root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    server_stop(&T.srv);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_starttls_auth_multipart, teardown),
        cmocka_unit_test_teardown(test_drill_encoded_subject, teardown),
        cmocka_unit_test_teardown(test_english_plain_heartbeat, teardown),
        cmocka_unit_test_teardown(test_many_alerts, teardown),
        cmocka_unit_test_teardown(test_rejected_and_later, teardown),
        cmocka_unit_test_teardown(test_no_server, teardown),
        cmocka_unit_test_teardown(test_require_tls, teardown),
        cmocka_unit_test_teardown(test_wrong_password, teardown),
        cmocka_unit_test_teardown(test_config_errors, teardown),
        cmocka_unit_test_teardown(test_free_in_flight, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
