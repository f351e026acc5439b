/* test_audit.c: the audit log (lib/alert/audit.h): the lines append writes, field by field;
 * export as JSON and as text (Europe/Amsterdam); retention by time with lines whose time does not
 * parse and a torn last line; a missing event (BV_ENOENT) and write errors. */
#include "testutil.h"

#include "alert/audit.h"
#include "core/err.h"
#include "core/file.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 INT64_C(1777291331250) /* 2026-04-27T12:02:11.250Z, 14:02:11 CEST */
#define DAY_MS INT64_C(86400000)

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rmtree(const char *dir)
{
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    int err = 0;
    if (bv_file_read(path, (size_t)1 << 24, &text, &n, &err) != 0) {
        fail_msg("cannot read %s: %s", path, strerror(err));
    }
    if (len) {
        *len = n;
    }
    return text;
}

static void write_file(const char *path, const char *text, const char *mode)
{
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void append(const char *dir, const bv_audit_rec *r)
{
    char err[256] = "";
    if (bv_audit_append(dir, r, err, sizeof err) != 0) {
        fail_msg("append: %s", err);
    }
}

/* Exports into memory; returns rc, the text in *out (caller frees). */
static int export(const char *dir, const char *event, int text, char **out, size_t *n, char *err,
                  size_t errlen)
{
    size_t len = 0;
    *out = NULL;
    FILE *f = open_memstream(out, &len);
    assert_non_null(f);
    *n = 999;
    int rc = bv_audit_export(dir, event, text, f, n, err, errlen);
    assert_int_equal(fclose(f), 0);
    return rc;
}

static void append_sample(const char *dir)
{
    bv_audit_rec ack = {
        .at_ms = T0, .event = "koningsdag", .what = "ack", .id = "4f0c", .by = "politie-oc"};
    bv_audit_rec sil = {.at_ms = T0 + 1000,
                        .event = "koningsdag",
                        .what = "silence",
                        .rule = "crowd-dam",
                        .by = "oc",
                        .reason = "valse \"melding\"",
                        .until_ms = T0 + 7200000};
    bv_audit_rec del = {.at_ms = T0 + 2000,
                        .event = "koningsdag",
                        .what = "delivered",
                        .id = "4f0c",
                        .rule = "crowd-dam",
                        .key = "4f0c/firing",
                        .target = "police/0:webhook",
                        .attempts = 3,
                        .drill = 1};
    bv_audit_rec fail = {.at_ms = T0 + 3000,
                         .event = "koningsdag",
                         .what = "failed",
                         .key = "4f0c/firing",
                         .target = "mayor/1:sms",
                         .attempts = 12,
                         .reason = "HTTP 503\nretry"};
    bv_audit_rec other = {.at_ms = T0, .event = "andere", .what = "ack", .id = "x", .by = "y"};
    append(dir, &ack);
    append(dir, &sil);
    append(dir, &del);
    append(dir, &fail);
    append(dir, &other);
}

static const char sample_json[] =
    "{\"at\":\"2026-04-27T12:02:11.250Z\",\"event\":\"koningsdag\",\"what\":\"ack\","
    "\"id\":\"4f0c\",\"by\":\"politie-oc\"}\n"
    "{\"at\":\"2026-04-27T12:02:12.250Z\",\"event\":\"koningsdag\",\"what\":\"silence\","
    "\"rule\":\"crowd-dam\",\"by\":\"oc\",\"reason\":\"valse \\\"melding\\\"\","
    "\"until\":\"2026-04-27T14:02:11.250Z\"}\n"
    "{\"at\":\"2026-04-27T12:02:13.250Z\",\"event\":\"koningsdag\",\"what\":\"delivered\","
    "\"id\":\"4f0c\",\"rule\":\"crowd-dam\",\"key\":\"4f0c/firing\","
    "\"target\":\"police/0:webhook\",\"attempts\":3,\"drill\":true}\n"
    "{\"at\":\"2026-04-27T12:02:14.250Z\",\"event\":\"koningsdag\",\"what\":\"failed\","
    "\"key\":\"4f0c/firing\",\"target\":\"mayor/1:sms\",\"attempts\":12,"
    "\"reason\":\"HTTP 503\\nretry\"}\n";

static void test_path(void **state)
{
    (void)state;
    char *p = bv_audit_path("/var/lib/blikveld/audit", "koningsdag");
    assert_string_equal(p, "/var/lib/blikveld/audit/koningsdag.jsonl");
    free(p);
}

static void test_append_export_json(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_audit_XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[128];
    snprintf(dir, sizeof dir, "%s/state/audit", root); /* created by the first append */
    append_sample(dir);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    char *path = bv_audit_path(dir, "koningsdag");
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char *text = slurp(path, NULL);
    assert_string_equal(text, sample_json);
    free(text);

    char *out, err[256];
    size_t n;
    assert_int_equal(export(dir, "koningsdag", 0, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(out, sample_json);
    free(out);
    assert_int_equal(export(dir, "andere", 0, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out, "{\"at\":\"2026-04-27T12:02:11.250Z\",\"event\":\"andere\","
                             "\"what\":\"ack\",\"id\":\"x\",\"by\":\"y\"}\n");
    free(out);
    free(path);
    rmtree(root);
}

static void test_export_text(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_audit_XXXXXX";
    assert_non_null(mkdtemp(root));
    append_sample(root);
    /* lines written by hand: one that is not JSON, one without a time, one in winter time */
    char *path = bv_audit_path(root, "koningsdag");
    write_file(path,
               "not json at all\n"
               "{\"what\":\"ack\"}\n"
               "{\"at\":\"2026-11-28T02:47:37.123Z\",\"event\":\"koningsdag\",\"what\":"
               "\"escalated\",\"id\":\"9\"}\n",
               "ab");
    char *out, err[256];
    size_t n;
    assert_int_equal(export(root, "koningsdag", 1, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 7);
    assert_string_equal(out,
                        "2026-04-27 14:02:11 CEST ack       id=4f0c by=politie-oc\n"
                        "2026-04-27 14:02:12 CEST silence   rule=crowd-dam by=oc "
                        "until=2026-04-27T14:02:11.250Z reason=valse \"melding\"\n"
                        "2026-04-27 14:02:13 CEST delivered rule=crowd-dam id=4f0c "
                        "key=4f0c/firing target=police/0:webhook attempts=3 [drill]\n"
                        "2026-04-27 14:02:14 CEST failed    key=4f0c/firing target=mayor/1:sms "
                        "reason=HTTP 503\nretry attempts=12\n"
                        "not json at all\n"
                        "{\"what\":\"ack\"}\n"
                        "2026-11-28 03:47:37 CET escalated id=9\n");
    free(out);
    free(path);
    rmtree(root);
}

static void test_export_missing_and_empty(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_audit_XXXXXX";
    assert_non_null(mkdtemp(root));
    char *out, err[256] = "";
    size_t n;
    assert_int_equal(export(root, "koningsdag", 0, &out, &n, err, sizeof err), BV_ENOENT);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err, "koningsdag"));
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(export("/nonexistent/bv-audit", "x", 1, &out, &n, err, sizeof err), BV_ENOENT);
    free(out);
    /* there, but empty, or only a line being written */
    char *path = bv_audit_path(root, "koningsdag");
    write_file(path, "", "wb");
    assert_int_equal(export(root, "koningsdag", 0, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    free(out);
    write_file(path, "\n\n{\"at\":\"2026-04-27T12:02:11.250Z\",\"ev", "wb");
    assert_int_equal(export(root, "koningsdag", 1, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    free(out);
    /* the file is a directory */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    err[0] = '\0';
    assert_int_equal(export(root, "koningsdag", 0, &out, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    free(out);
    free(path);
    rmtree(root);
}

/* Export into a stream that cannot be written reports it. */
static void test_export_write_error(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_audit_XXXXXX";
    assert_non_null(mkdtemp(root));
    append_sample(root);
    FILE *full = fopen("/dev/full", "w");
    assert_non_null(full);
    char err[256] = "";
    size_t n;
    assert_int_equal(bv_audit_export(root, "koningsdag", 0, full, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "writing"));
    fclose(full);
    rmtree(root);
}

/* Retention drops what is older than now - retention; a line whose time does not parse stays,
 * a torn last line goes. */
static void test_retain(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_audit_XXXXXX";
    assert_non_null(mkdtemp(root));
    size_t dropped = 99;
    char err[256] = "";
    /* nothing there: nothing to do */
    assert_int_equal(
        bv_audit_retain(root, "koningsdag", T0, 365 * DAY_MS, &dropped, err, sizeof err), 0);
    assert_int_equal(dropped, 0);
    struct stat sb;
    char *path = bv_audit_path(root, "koningsdag");
    assert_int_equal(stat(path, &sb), -1);

    bv_audit_rec r = {.event = "koningsdag", .what = "ack", .by = "oc"};
    r.at_ms = T0 - 400 * DAY_MS;
    r.id = "ancient";
    append(root, &r);
    r.at_ms = T0 - 365 * DAY_MS - 1;
    r.id = "just-too-old";
    append(root, &r);
    r.at_ms = T0 - 365 * DAY_MS;
    r.id = "at-cutoff";
    append(root, &r);
    write_file(path, "{\"what\":\"no time\"}\nnot json\n\n", "ab");
    r.at_ms = T0 - DAY_MS;
    r.id = "recent";
    append(root, &r);
    write_file(path, "{\"at\":\"2026-04-27T12:02", "ab");

    /* retention 0: kept forever */
    assert_int_equal(bv_audit_retain(root, "koningsdag", T0, 0, &dropped, err, sizeof err), 0);
    assert_int_equal(dropped, 0);

    assert_int_equal(
        bv_audit_retain(root, "koningsdag", T0, 365 * DAY_MS, &dropped, err, sizeof err), 0);
    assert_int_equal(dropped, 3); /* ancient, just-too-old, the torn line */
    char *text = slurp(path, NULL);
    assert_null(strstr(text, "ancient"));
    assert_null(strstr(text, "just-too-old"));
    const char *cut = strstr(text, "at-cutoff");
    const char *no_time = strstr(text, "no time");
    const char *recent = strstr(text, "recent");
    assert_non_null(cut);
    assert_non_null(no_time);
    assert_non_null(strstr(text, "\nnot json\n\n"));
    assert_non_null(recent);
    assert_true(cut < no_time && no_time < recent); /* order kept */
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* nothing more to drop; appends go on after a rewrite */
    assert_int_equal(
        bv_audit_retain(root, "koningsdag", T0, 365 * DAY_MS, &dropped, err, sizeof err), 0);
    assert_int_equal(dropped, 0);
    r.at_ms = T0;
    r.id = "after";
    append(root, &r);
    char *out;
    size_t n;
    assert_int_equal(export(root, "koningsdag", 0, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 5); /* at-cutoff, no time, not json, recent, after */
    assert_non_null(strstr(out, "\"id\":\"after\""));
    free(out);
    /* a later now drops the rest with a time */
    assert_int_equal(bv_audit_retain(root, "koningsdag", T0 + 400 * DAY_MS, 365 * DAY_MS, &dropped,
                                     err, sizeof err),
                     0);
    assert_int_equal(dropped, 3);
    text = slurp(path, NULL);
    assert_string_equal(text, "{\"what\":\"no time\"}\nnot json\n\n");
    free(text);
    free(path);
    rmtree(root);
}

static void test_errors(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_audit_XXXXXX";
    assert_non_null(mkdtemp(root));
    char file[128], dir[160], err[512] = "";
    snprintf(file, sizeof file, "%s/plain", root);
    write_file(file, "x", "wb");
    snprintf(dir, sizeof dir, "%s/sub", file); /* a file in the way */
    bv_audit_rec r = {.at_ms = T0, .event = "ev", .what = "ack"};
    assert_int_equal(bv_audit_append(dir, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, dir));
    /* retention on a file it cannot read */
    snprintf(dir, sizeof dir, "%s/d", root);
    char evpath[200];
    snprintf(evpath, sizeof evpath, "%s/ev.jsonl", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(evpath, 0700), 0);
    size_t dropped = 99;
    err[0] = '\0';
    assert_int_equal(bv_audit_retain(dir, "ev", T0, DAY_MS, &dropped, err, sizeof err), -1);
    assert_non_null(strstr(err, evpath));
    assert_int_equal(dropped, 0);
    rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_append_export_json),
        cmocka_unit_test(test_export_text),
        cmocka_unit_test(test_export_missing_and_empty),
        cmocka_unit_test(test_export_write_error),
        cmocka_unit_test(test_retain),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
