/* test_outbox.c: the durable outbox (lib/alert/outbox.h): put, mark and find; what a reopen
 * finds, byte for byte; compaction with retention; a torn last line and lines that do not parse;
 * the lock (within this process and against another), read-only opens; spool text from memory
 * (every prefix, garbage, oversized); namespace file names. */
#include "testutil.h"

#include "alert/outbox.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T0 INT64_C(1777291331250) /* 2026-04-27T12:02:11.250Z */
#define DAY_MS INT64_C(86400000)

/* An alert with what the spool must escape: quotes, backslashes, a newline, a tab, a control
 * character, UTF-8. */
static const char alert_a[] = "{\"id\":\"4f0c\",\"rule\":{\"id\":\"crowd\",\"title\":\"Drukte "
                              "\\\"Dam\\\"\"},\"text\":\"een\nt\twee \x01 \xc3\xa9\xc3\xa9n "
                              "\xf0\x9f\x9a\xa8\",\"severity\":\"critical\"}";
static const char alert_b[] = "{\"id\":\"77aa\",\"state\":\"resolved\"}";

static const char *const targets3[] = {"police/0:webhook", "police/1:email", "alertmanager"};
static const char *const targets1[] = {"mayor/0:telegram"};

/* ---- helpers ---- */

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
    if (bv_file_read(path, (size_t)1 << 28, &text, &n, &err) != 0) {
        fail_msg("cannot read %s: %s", path, strerror(err));
    }
    if (len) {
        *len = n;
    }
    return text;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static bv_outbox *open_opts(const char *dir, const char *ns, int read_only, int64_t now,
                            int64_t retention)
{
    bv_outbox_opts o = {.read_only = read_only, .now_ms = now, .retention_ms = retention};
    bv_outbox *ob = (bv_outbox *)1;
    char err[512] = "";
    int rc = bv_outbox_open(&ob, dir, ns, &o, err, sizeof err);
    if (rc != BV_OK) {
        fail_msg("open %s %s: rc %d: %s", dir, ns, rc, err);
    }
    assert_non_null(ob);
    return ob;
}

static bv_outbox *open_rw(const char *dir, const char *ns)
{
    return open_opts(dir, ns, 0, T0, 0);
}

static bv_out_entry *put(bv_outbox *ob, const char *key, const char *alert, int64_t at,
                         const char *const *targets, size_t n)
{
    bv_out_entry *e = NULL;
    int fresh = -1;
    assert_int_equal(
        bv_outbox_put(ob, key, alert, strlen(alert), at, at + 3600000, targets, n, &e, &fresh),
        BV_OK);
    assert_int_equal(fresh, 1);
    assert_non_null(e);
    return e;
}

/* Every entry's own invariants: npending counts the pending targets, find gives it back. */
static void check_consistent(const bv_outbox *ob)
{
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.entries, bv_outbox_count(ob));
    size_t pending = 0, failed = 0;
    for (size_t i = 0; i < bv_outbox_count(ob); i++) {
        const bv_out_entry *e = bv_outbox_get(ob, i);
        assert_non_null(e);
        assert_non_null(e->key);
        assert_non_null(e->alert);
        assert_true(e->ntargets <= 256);
        assert_ptr_equal(bv_outbox_find(ob, e->key), e);
        size_t p = 0;
        for (size_t k = 0; k < e->ntargets; k++) {
            const bv_out_target *t = &e->targets[k];
            assert_non_null(t->id);
            p += t->status == BV_OUT_PENDING;
            failed += t->status == BV_OUT_FAILED;
            if (t->status == BV_OUT_FAILED) {
                assert_non_null(t->reason);
            } else {
                assert_null(t->reason);
            }
        }
        assert_int_equal(e->npending, p);
        pending += p;
    }
    assert_null(bv_outbox_get(ob, bv_outbox_count(ob)));
    assert_int_equal(st.pending_targets, pending);
    assert_int_equal(st.failed_targets, failed);
}

/* The state after test_put_mark_reopen's puts and marks, as any reopen must find it. */
static void check_two(const bv_outbox *ob)
{
    assert_int_equal(bv_outbox_count(ob), 2);
    bv_out_entry *a = bv_outbox_get(ob, 0), *b = bv_outbox_get(ob, 1);
    assert_string_equal(a->key, "4f0c/firing");
    assert_int_equal(a->alert_len, strlen(alert_a));
    assert_memory_equal(a->alert, alert_a, sizeof alert_a); /* with its NUL */
    assert_int_equal(a->at_ms, T0);
    assert_int_equal(a->deadline_ms, T0 + 3600000);
    assert_int_equal(a->ntargets, 3);
    assert_int_equal(a->npending, 1);
    for (size_t k = 0; k < 3; k++) {
        assert_string_equal(a->targets[k].id, targets3[k]);
    }
    assert_int_equal(a->targets[0].status, BV_OUT_DELIVERED);
    assert_int_equal(a->targets[0].attempts, 1);
    assert_int_equal(a->targets[0].done_ms, T0 + 100);
    assert_null(a->targets[0].reason);
    assert_int_equal(a->targets[1].status, BV_OUT_PENDING);
    assert_int_equal(a->targets[1].attempts, 0);
    assert_int_equal(a->targets[2].status, BV_OUT_FAILED);
    assert_int_equal(a->targets[2].attempts, 7);
    assert_int_equal(a->targets[2].done_ms, T0 + 200);
    assert_string_equal(a->targets[2].reason, "HTTP 400 \"bad\"\nsecond line");
    assert_string_equal(b->key, "77aa/resolved");
    assert_string_equal(b->alert, alert_b);
    assert_int_equal(b->ntargets, 1);
    assert_int_equal(b->npending, 1);
    assert_string_equal(b->targets[0].id, "mayor/0:telegram");
    assert_ptr_equal(bv_outbox_find(ob, "4f0c/firing"), a);
    assert_ptr_equal(bv_outbox_find(ob, "77aa/resolved"), b);
    assert_null(bv_outbox_find(ob, "4f0c/resolved"));
    assert_null(bv_outbox_find(ob, ""));
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.pending_targets, 2);
    assert_int_equal(st.failed_targets, 1);
    check_consistent(ob);
}

/* ---- tests ---- */

static void test_file_name(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(bv_outbox_file_name("live/koningsdag", out, sizeof out), 0);
    assert_string_equal(out, "live+koningsdag");
    assert_int_equal(bv_outbox_file_name("drill/KD-2027_v1.2", out, sizeof out), 0);
    assert_string_equal(out, "drill+KD-2027_v1.2");
    /* a "/" never reaches the file name, so ".." cannot climb out of the directory */
    assert_int_equal(bv_outbox_file_name("a/../b", out, sizeof out), 0);
    assert_string_equal(out, "a+..+b");
    static const char *const bad[] = {"",     ".",   "..",       ".hidden", "a b", "a\nb",
                                      "a\\b", "x:y", "\xc3\xa9", "a*",      "~"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bv_outbox_file_name(bad[i], out, sizeof out) != -1) {
            fail_msg("'%s' accepted as a namespace", bad[i]);
        }
    }
    /* the room in out and the 200-byte limit */
    assert_int_equal(bv_outbox_file_name("abc", out, 4), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(bv_outbox_file_name("abcd", out, 4), -1);
    char name[202];
    memset(name, 'n', 200);
    name[200] = '\0';
    assert_int_equal(bv_outbox_file_name(name, out, sizeof out), 0);
    assert_int_equal(strlen(out), 200);
    name[200] = 'n';
    name[201] = '\0';
    assert_int_equal(bv_outbox_file_name(name, out, sizeof out), -1);
}

static void test_put_mark_reopen(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[128], want[256];
    snprintf(dir, sizeof dir, "%s/state/outbox", root); /* created as needed */
    bv_outbox *ob = open_rw(dir, "live/koningsdag");
    snprintf(want, sizeof want, "%s/live+koningsdag.jsonl", dir);
    assert_string_equal(bv_outbox_path(ob), want);
    struct stat sb;
    assert_int_equal(stat(want, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(bv_outbox_count(ob), 0);
    assert_null(bv_outbox_get(ob, 0));
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.entries + st.pending_targets + st.failed_targets + st.skipped_lines +
                         st.dropped_old + (uint64_t)st.torn_tail,
                     0);

    bv_out_entry *a = put(ob, "4f0c/firing", alert_a, T0, targets3, 3);
    assert_string_equal(a->key, "4f0c/firing");
    assert_int_equal(a->ntargets, 3);
    assert_int_equal(a->npending, 3);
    for (size_t k = 0; k < 3; k++) {
        assert_string_equal(a->targets[k].id, targets3[k]);
        assert_int_equal(a->targets[k].status, BV_OUT_PENDING);
        assert_int_equal(a->targets[k].attempts, 0);
        assert_null(a->targets[k].reason);
    }
    /* written before put returns */
    off_t size1 = file_size(want);
    assert_true(size1 > (off_t)strlen(alert_a));
    put(ob, "77aa/resolved", alert_b, T0 + 50, targets1, 1);
    assert_true(file_size(want) > size1);

    assert_int_equal(bv_outbox_mark(ob, a, 0, BV_OUT_DELIVERED, 1, "ignored", T0 + 100), BV_OK);
    assert_int_equal(a->targets[0].status, BV_OUT_DELIVERED);
    assert_null(a->targets[0].reason); /* a reason only for failures */
    assert_int_equal(a->npending, 2);
    /* a failure first, then a second verdict on the same target: the last one counts */
    assert_int_equal(bv_outbox_mark(ob, a, 2, BV_OUT_FAILED, 3, "timeout", T0 + 150), BV_OK);
    assert_int_equal(a->npending, 1);
    assert_int_equal(
        bv_outbox_mark(ob, a, 2, BV_OUT_FAILED, 7, "HTTP 400 \"bad\"\nsecond line", T0 + 200),
        BV_OK);
    assert_int_equal(a->npending, 1);
    /* no such target; pending is not a verdict */
    assert_int_equal(bv_outbox_mark(ob, a, 3, BV_OUT_DELIVERED, 1, NULL, T0), BV_EINVAL);
    assert_int_equal(bv_outbox_mark(ob, a, 1, BV_OUT_PENDING, 1, NULL, T0), BV_EINVAL);
    assert_int_equal(a->targets[1].status, BV_OUT_PENDING);
    check_two(ob);

    /* the same key again: nothing written, the entry there is returned */
    off_t size2 = file_size(want);
    bv_out_entry *e = NULL;
    int fresh = -1;
    assert_int_equal(
        bv_outbox_put(ob, "4f0c/firing", "{}", 2, T0 + 999, T0 + 9999, targets1, 1, &e, &fresh),
        BV_OK);
    assert_int_equal(fresh, 0);
    assert_ptr_equal(e, a);
    assert_int_equal(file_size(want), size2);
    check_two(ob);
    bv_outbox_close(ob);

    /* reopened for writing (compacted) and read-only: the same, byte for byte */
    ob = open_rw(dir, "live/koningsdag");
    check_two(ob);
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.skipped_lines, 0);
    assert_int_equal(st.torn_tail, 0);
    assert_int_equal(st.dropped_old, 0);
    assert_int_equal(bv_outbox_put(ob, "77aa/resolved", "{}", 2, T0, T0, targets1, 1, &e, &fresh),
                     BV_OK);
    assert_int_equal(fresh, 0);
    bv_outbox_close(ob);
    ob = open_rw(dir, "live/koningsdag"); /* compacting compacted text changes nothing */
    check_two(ob);
    bv_outbox_close(ob);
    ob = open_opts(dir, "live/koningsdag", 1, 0, 0);
    check_two(ob);
    bv_outbox_close(ob);

    /* another namespace is another file */
    ob = open_rw(dir, "drill/koningsdag");
    assert_int_equal(bv_outbox_count(ob), 0);
    bv_outbox_close(ob);
    rmtree(root);
}

/* Keys, target ids and reasons with characters the record must escape come back as they were;
 * an entry may have no targets. */
static void test_escaping(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    static const char *const odd[] = {"t\"1\"", "t\\2", "t\n3", "t\xe2\x82\xac"};
    bv_outbox *ob = open_rw(root, "ns");
    bv_out_entry *e = put(ob, "id \"x\"\\/firing\n", "\"\\\b\f\r\x7f", T0, odd, 4);
    assert_int_equal(bv_outbox_mark(ob, e, 1, BV_OUT_FAILED, 2, "a \"b\"\\\t\x02", T0), BV_OK);
    bv_out_entry *z = put(ob, "none/firing", "{}", T0, NULL, 0);
    assert_int_equal(z->ntargets, 0);
    assert_int_equal(z->npending, 0);
    bv_outbox_close(ob);
    ob = open_rw(root, "ns");
    assert_int_equal(bv_outbox_count(ob), 2);
    e = bv_outbox_find(ob, "id \"x\"\\/firing\n");
    assert_non_null(e);
    assert_string_equal(e->alert, "\"\\\b\f\r\x7f");
    for (size_t k = 0; k < 4; k++) {
        assert_string_equal(e->targets[k].id, odd[k]);
    }
    assert_int_equal(e->targets[1].status, BV_OUT_FAILED);
    assert_string_equal(e->targets[1].reason, "a \"b\"\\\t\x02");
    assert_int_equal(e->npending, 3);
    z = bv_outbox_find(ob, "none/firing");
    assert_non_null(z);
    assert_int_equal(z->ntargets, 0);
    check_consistent(ob);
    bv_outbox_close(ob);
    rmtree(root);
}

/* What put and mark accepted comes back after a restart, whatever bytes it holds: an alert
 * text, a target id or a failure reason that is not valid UTF-8 (a Latin-1 name, a reason cut
 * in the middle of a character) must not make the record unreadable. */
static void test_invalid_utf8_survives_reopen(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    static const char *const tg[] = {"police/0:webhook", "police/1:email"};
    bv_outbox *ob = open_rw(root, "ns");
    bv_out_entry *e = put(ob, "k1/firing", "{\"text\":\"J\xf6rg\"}", T0, tg, 2);
    assert_int_equal(bv_outbox_mark(ob, e, 0, BV_OUT_FAILED, 1, "550 ung\xfcltig \xc3", T0 + 1),
                     BV_OK);
    bv_outbox_close(ob);
    ob = open_rw(root, "ns");
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    e = bv_outbox_find(ob, "k1/firing");
    int st0 = e ? (int)e->targets[0].status : -1, st1 = e ? (int)e->targets[1].status : -1;
    bv_outbox_close(ob);
    rmtree(root); /* before asserting: a failure leaves nothing behind */
    assert_int_equal(st.skipped_lines, 0);
    assert_non_null(e); /* put returned BV_OK: a restart must know the alert */
    assert_int_equal(st0, BV_OUT_FAILED);
    assert_int_equal(st1, BV_OUT_PENDING);
}

/* A process that dies between put and mark leaves the alert pending for the next one; its lock
 * goes with it. */
static void test_crash_leaves_pending(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bv_outbox_opts o = {.now_ms = T0};
        bv_outbox *ob = NULL;
        char err[256];
        bv_out_entry *e = NULL;
        int fresh = 0;
        if (bv_outbox_open(&ob, root, "live/x", &o, err, sizeof err) != BV_OK ||
            bv_outbox_put(ob, "a/firing", alert_b, strlen(alert_b), T0, T0 + 1000, targets3, 3, &e,
                          &fresh) != BV_OK ||
            bv_outbox_mark(ob, e, 1, BV_OUT_DELIVERED, 2, NULL, T0 + 5) != BV_OK ||
            bv_outbox_put(ob, "b/firing", alert_b, strlen(alert_b), T0 + 1, T0 + 1001, targets1, 1,
                          &e, &fresh) != BV_OK) {
            _exit(1);
        }
        _exit(0); /* no close: as if killed */
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    bv_outbox *ob = open_rw(root, "live/x");
    assert_int_equal(bv_outbox_count(ob), 2);
    bv_out_entry *a = bv_outbox_find(ob, "a/firing");
    assert_non_null(a);
    assert_int_equal(a->npending, 2);
    assert_int_equal(a->targets[0].status, BV_OUT_PENDING);
    assert_int_equal(a->targets[1].status, BV_OUT_DELIVERED);
    assert_int_equal(a->targets[1].attempts, 2);
    assert_int_equal(a->targets[1].done_ms, T0 + 5);
    assert_int_equal(a->targets[2].status, BV_OUT_PENDING);
    assert_int_equal(bv_outbox_find(ob, "b/firing")->npending, 1);
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.pending_targets, 3);
    bv_outbox_close(ob);
    rmtree(root);
}

static int open_err(const char *dir, const char *ns, int read_only, char *err, size_t errlen)
{
    bv_outbox_opts o = {.read_only = read_only, .now_ms = T0};
    bv_outbox *ob = (bv_outbox *)1;
    err[0] = '\0';
    int rc = bv_outbox_open(&ob, dir, ns, &o, err, errlen);
    if (rc == BV_OK) {
        bv_outbox_close(ob);
    } else {
        assert_null(ob);
    }
    return rc;
}

/* flock locks belong to an open file description, so a second open for writing in the same
 * process is refused too; the failed open must not drop the first one's lock. */
static void test_lock_same_process(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    bv_outbox *ob = open_rw(root, "live/x");
    char err[512], want[64], lock[256];
    snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
    snprintf(lock, sizeof lock, "%s/live+x.lock", root);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(open_err(root, "live/x", 0, err, sizeof err), BV_EAGAIN);
        if (strstr(err, want) == NULL || strstr(err, lock) == NULL) {
            fail_msg("err '%s' lacks '%s' or '%s'", err, want, lock);
        }
    }
    /* another namespace has its own lock; reading takes none */
    assert_int_equal(open_err(root, "live/y", 0, err, sizeof err), BV_OK);
    assert_int_equal(open_err(root, "live/x", 1, err, sizeof err), BV_OK);
    /* the first still works */
    put(ob, "k/firing", alert_b, T0, targets1, 1);
    bv_outbox_close(ob);
    ob = open_rw(root, "live/x");
    assert_int_equal(bv_outbox_count(ob), 1);
    bv_outbox_close(ob);
    rmtree(root);
}

/* Another process holding the spool: refused with its pid, read-only opens still see it. */
static void test_lock_other_process(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        bv_outbox_opts o = {.now_ms = T0};
        bv_outbox *ob = NULL;
        char err[256], c = 'x';
        bv_out_entry *e = NULL;
        int fresh = 0;
        if (bv_outbox_open(&ob, root, "live/x", &o, err, sizeof err) != BV_OK ||
            bv_outbox_put(ob, "held/firing", alert_b, strlen(alert_b), T0, T0, targets1, 1, &e,
                          &fresh) != BV_OK) {
            c = 'f';
        }
        if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1) {
            _exit(2);
        }
        bv_outbox_close(ob);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    char c = 0;
    assert_int_equal(read(up[0], &c, 1), 1);
    assert_int_equal(c, 'x');
    char err[512], want[64];
    snprintf(want, sizeof want, "(pid %ld)", (long)pid);
    assert_int_equal(open_err(root, "live/x", 0, err, sizeof err), BV_EAGAIN);
    if (strstr(err, want) == NULL) {
        fail_msg("err '%s' lacks '%s'", err, want);
    }
    bv_outbox *ro = open_opts(root, "live/x", 1, 0, 0);
    assert_non_null(bv_outbox_find(ro, "held/firing"));
    bv_outbox_close(ro);
    assert_int_equal(write(down[1], "q", 1), 1);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    close(up[0]);
    close(down[1]);
    /* released: ours now, and the lock file says so */
    bv_outbox *ob = open_rw(root, "live/x");
    assert_non_null(bv_outbox_find(ob, "held/firing"));
    char lock[256];
    snprintf(lock, sizeof lock, "%s/live+x.lock", root);
    char *pidtext = slurp(lock, NULL);
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    assert_string_equal(pidtext, want);
    free(pidtext);
    bv_outbox_close(ob);
    rmtree(root);
}

static void test_read_only(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[128], err[512];
    snprintf(dir, sizeof dir, "%s/never", root);
    /* nothing there: BV_ENOENT, and nothing is created */
    assert_int_equal(open_err(dir, "live/x", 1, err, sizeof err), BV_ENOENT);
    assert_non_null(strstr(err, "live+x.jsonl"));
    struct stat sb;
    assert_int_equal(stat(dir, &sb), -1);
    assert_int_equal(errno, ENOENT);
    /* bad namespaces, a file where the directory should be */
    assert_int_equal(open_err(root, "../x", 0, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "../x"));
    assert_int_equal(open_err(root, "", 1, err, sizeof err), BV_EINVAL);
    char file[300];
    snprintf(file, sizeof file, "%s/plain", root);
    write_text(file, "x", 1);
    assert_int_equal(open_err(file, "live/x", 0, err, sizeof err), BV_EIO);
    assert_non_null(strstr(err, file));

    /* a spool with an old entry, a line that does not parse and a torn tail: read-only finds
     * them and changes nothing, not even with a retention that would drop the old entry */
    bv_outbox *ob = open_rw(dir, "live/x");
    put(ob, "old/firing", alert_b, T0 - 40 * DAY_MS, targets1, 1);
    bv_out_entry *n = put(ob, "new/firing", alert_a, T0, targets3, 3);
    assert_int_equal(bv_outbox_mark(ob, n, 0, BV_OUT_DELIVERED, 1, NULL, T0), BV_OK);
    char path[256];
    snprintf(path, sizeof path, "%s", bv_outbox_path(ob));
    bv_outbox_close(ob);
    char lock[256];
    snprintf(lock, sizeof lock, "%s/live+x.lock", dir);
    assert_int_equal(unlink(lock), 0);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    fputs("garbage\n{\"op\":\"done\",\"key\":\"new/firing\",\"tar", f);
    fclose(f);
    size_t len0;
    char *before = slurp(path, &len0);
    struct stat sb0;
    assert_int_equal(stat(path, &sb0), 0);

    ob = open_opts(dir, "live/x", 1, T0, 30 * DAY_MS);
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.skipped_lines, 1);
    assert_int_equal(st.torn_tail, 1);
    assert_int_equal(st.dropped_old, 0);
    n = bv_outbox_find(ob, "new/firing");
    assert_non_null(n);
    assert_int_equal(n->targets[0].status, BV_OUT_DELIVERED);
    assert_string_equal(bv_outbox_path(ob), path);
    /* no writes through a read-only outbox */
    bv_out_entry *e = (bv_out_entry *)1;
    int fresh = -1;
    assert_int_equal(bv_outbox_put(ob, "x/firing", "{}", 2, T0, T0, targets1, 1, &e, &fresh),
                     BV_EINVAL);
    assert_null(e);
    assert_int_equal(fresh, 0);
    assert_null(bv_outbox_find(ob, "x/firing"));
    assert_int_equal(bv_outbox_mark(ob, n, 1, BV_OUT_DELIVERED, 1, NULL, T0), BV_EINVAL);
    bv_outbox_close(ob);

    size_t len1;
    char *after = slurp(path, &len1);
    assert_int_equal(len1, len0);
    assert_memory_equal(after, before, len0);
    struct stat sb1;
    assert_int_equal(stat(path, &sb1), 0);
    assert_int_equal(sb1.st_ino, sb0.st_ino); /* not rewritten either */
    assert_int_equal(stat(lock, &sb), -1);    /* no lock taken */
    snprintf(file, sizeof file, "%s.tmp", path);
    assert_int_equal(stat(file, &sb), -1);
    free(before);
    free(after);
    rmtree(root);
}

/* A write cut short is dropped, whatever it holds; a writing open rewrites the spool without it,
 * so the next record starts on a line of its own. */
static void test_torn_tail(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    bv_outbox *ob = open_rw(root, "ns");
    put(ob, "a/firing", alert_a, T0, targets3, 3);
    char path[256];
    snprintf(path, sizeof path, "%s", bv_outbox_path(ob));
    bv_outbox_close(ob);
    size_t len;
    char *good = slurp(path, &len);

    /* a whole record without its newline is a torn line too: the mark does not count */
    static const char *const tails[] = {
        "{\"op\":\"put\",\"key\":\"b/firing\",\"at\":1,\"dead",
        "{\"op\":\"done\",\"key\":\"a/"
        "firing\",\"target\":\"alertmanager\",\"at\":5,\"attempts\":1}",
        "\xff\xfe",
        " ",
    };
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        bv_buf b = BV_BUF_INIT;
        bv_buf_append(&b, good, len);
        bv_buf_puts(&b, tails[i]);
        write_text(path, b.p, b.len);
        bv_buf_free(&b);
        ob = open_rw(root, "ns");
        bv_outbox_stats st;
        bv_outbox_stats_get(ob, &st);
        assert_int_equal(st.torn_tail, 1);
        assert_int_equal(st.skipped_lines, 0);
        assert_int_equal(bv_outbox_count(ob), 1);
        assert_int_equal(bv_outbox_find(ob, "a/firing")->npending, 3);
        /* rewritten without the tail: one put, as it was written */
        size_t n;
        char *text = slurp(path, &n);
        assert_int_equal(n, len);
        assert_memory_equal(text, good, len);
        free(text);
        put(ob, "c/firing", alert_b, T0 + 1, targets1, 1);
        bv_outbox_close(ob);
        ob = open_rw(root, "ns");
        bv_outbox_stats_get(ob, &st);
        assert_int_equal(st.torn_tail, 0);
        assert_int_equal(st.skipped_lines, 0);
        assert_int_equal(bv_outbox_count(ob), 2);
        assert_non_null(bv_outbox_find(ob, "c/firing"));
        check_consistent(ob);
        bv_outbox_close(ob);
    }
    free(good);
    rmtree(root);
}

/* Lines that do not parse, or name no entry or target, are skipped and counted; the rest apply.
 * A writing open drops them from the file. */
static const char skip_text[] =
    "{\"op\":\"put\",\"key\":\"A\",\"at\":10,\"deadline\":20,\"targets\":[\"t1\",\"t2\",\"t3\"],"
    "\"alert\":\"{}\"}\n"
    "not json\n"
    "[1,2,3]\n"
    "\"just a string\"\n"
    "{\"op\":\"put\",\"key\":\"B\"}\n"
    "{\"op\":\"put\",\"key\":\"B\",\"at\":1.5,\"deadline\":20,\"targets\":[],\"alert\":\"{}\"}\n"
    "{\"op\":\"put\",\"key\":\"B\",\"at\":1,\"deadline\":\"20\",\"targets\":[],\"alert\":\"{}\"}\n"
    "{\"op\":\"put\",\"key\":\"B\",\"at\":1,\"deadline\":20,\"targets\":[1],\"alert\":\"{}\"}\n"
    "{\"op\":\"put\",\"key\":\"B\",\"at\":1,\"deadline\":20,\"targets\":\"t\",\"alert\":\"{}\"}\n"
    "{\"op\":\"put\",\"key\":\"B\",\"at\":1,\"deadline\":20,\"targets\":[],\"alert\":{}}\n"
    "{\"op\":\"put\",\"key\":7,\"at\":1,\"deadline\":20,\"targets\":[],\"alert\":\"{}\"}\n"
    "{\"op\":\"put\",\"key\":\"A\",\"at\":11,\"deadline\":21,\"targets\":[\"z\"],\"alert\":\"2\"}\n"
    "{\"op\":\"done\",\"key\":\"Z\",\"target\":\"t1\",\"at\":12,\"attempts\":1}\n"
    "{\"op\":\"done\",\"key\":\"A\",\"target\":\"t9\",\"at\":12,\"attempts\":1}\n"
    "{\"op\":\"done\",\"key\":\"A\",\"target\":\"t1\",\"at\":12,\"attempts\":\"1\"}\n"
    "{\"op\":\"done\",\"key\":\"A\",\"at\":12,\"attempts\":1}\n"
    "{\"op\":\"frob\",\"key\":\"A\",\"target\":\"t1\",\"at\":12,\"attempts\":1}\n"
    "{\"key\":\"A\",\"target\":\"t1\",\"at\":12,\"attempts\":1}\n"
    "{\"op\":\"done\",\"key\":\"A\",\"target\":\"t1\",\"at\":12,\"attempts\":1} trailing\n"
    "\n"
    "{\"op\":\"done\",\"key\":\"A\",\"target\":\"t1\",\"at\":13,\"attempts\":4}\n"
    "{\"op\":\"failed\",\"key\":\"A\",\"target\":\"t2\",\"at\":14,\"attempts\":2}\n"
    "{\"op\":\"put\",\"key\":\"C\",\"at\":15,\"deadline\":25,\"targets\":[],\"alert\":\"c\"}\n";
#define SKIP_LINES 18

static void check_skip(const bv_outbox *ob, uint64_t skipped)
{
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.skipped_lines, skipped);
    assert_int_equal(st.torn_tail, 0);
    assert_int_equal(bv_outbox_count(ob), 2);
    bv_out_entry *a = bv_outbox_get(ob, 0);
    assert_string_equal(a->key, "A");
    assert_string_equal(a->alert, "{}"); /* the first put of a key counts */
    assert_int_equal(a->at_ms, 10);
    assert_int_equal(a->deadline_ms, 20);
    assert_int_equal(a->ntargets, 3);
    assert_int_equal(a->targets[0].status, BV_OUT_DELIVERED);
    assert_int_equal(a->targets[0].attempts, 4);
    assert_int_equal(a->targets[0].done_ms, 13);
    assert_int_equal(a->targets[1].status, BV_OUT_FAILED);
    assert_string_equal(a->targets[1].reason, ""); /* none given */
    assert_int_equal(a->targets[2].status, BV_OUT_PENDING);
    assert_int_equal(a->npending, 1);
    assert_string_equal(bv_outbox_get(ob, 1)->key, "C");
    assert_int_equal(bv_outbox_get(ob, 1)->ntargets, 0);
    check_consistent(ob);
}

static void test_skipped_lines(void **state)
{
    (void)state;
    bv_outbox *ob = bv_outbox_from_buffer(skip_text, sizeof skip_text - 1);
    assert_non_null(ob);
    assert_string_equal(bv_outbox_path(ob), "(buffer)");
    check_skip(ob, SKIP_LINES);
    bv_outbox_close(ob);

    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/ns.jsonl", root);
    write_text(path, skip_text, sizeof skip_text - 1);
    ob = open_opts(root, "ns", 1, 0, 0);
    check_skip(ob, SKIP_LINES);
    bv_outbox_close(ob);
    ob = open_rw(root, "ns");
    check_skip(ob, SKIP_LINES);
    bv_outbox_close(ob);
    ob = open_rw(root, "ns"); /* compacted: nothing left to skip */
    check_skip(ob, 0);
    bv_outbox_close(ob);
    rmtree(root);
}

static void test_retention(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    bv_outbox *ob = open_rw(root, "ns");
    bv_out_entry *old = put(ob, "old/firing", alert_b, T0 - 40 * DAY_MS, targets3, 3);
    assert_int_equal(bv_outbox_mark(ob, old, 0, BV_OUT_FAILED, 9, "gone", T0 - 39 * DAY_MS), BV_OK);
    put(ob, "edge/firing", alert_b, T0 - 30 * DAY_MS, targets1, 1);
    put(ob, "older/firing", alert_b, T0 - 30 * DAY_MS - 1, targets1, 1);
    put(ob, "new/firing", alert_a, T0 - 3600000, targets1, 1);
    char path[256];
    snprintf(path, sizeof path, "%s", bv_outbox_path(ob));
    bv_outbox_close(ob);

    /* retention 0 keeps everything */
    ob = open_opts(root, "ns", 0, T0, 0);
    assert_int_equal(bv_outbox_count(ob), 4);
    bv_outbox_close(ob);

    ob = open_opts(root, "ns", 0, T0, 30 * DAY_MS);
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.dropped_old, 2);
    assert_int_equal(bv_outbox_count(ob), 2);
    assert_string_equal(bv_outbox_get(ob, 0)->key, "edge/firing"); /* at the cutoff: kept */
    assert_string_equal(bv_outbox_get(ob, 1)->key, "new/firing");
    assert_null(bv_outbox_find(ob, "old/firing"));
    check_consistent(ob);
    bv_outbox_close(ob);

    /* gone from the file, with its marks */
    char *text = slurp(path, NULL);
    assert_null(strstr(text, "old/firing"));
    assert_null(strstr(text, "older/firing"));
    assert_null(strstr(text, "gone"));
    free(text);
    ob = open_opts(root, "ns", 1, 0, 0);
    assert_int_equal(bv_outbox_count(ob), 2);
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.dropped_old, 0);
    bv_outbox_close(ob);
    rmtree(root);
}

/* Spool text as put and mark write it, for the memory tests. */
static char *real_spool(size_t *len)
{
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    bv_outbox *ob = open_rw(root, "live/kd");
    bv_out_entry *a = put(ob, "4f0c/firing", alert_a, T0, targets3, 3);
    bv_out_entry *b = put(ob, "77aa/firing", alert_b, T0 + 10, targets1, 1);
    assert_int_equal(bv_outbox_mark(ob, a, 0, BV_OUT_DELIVERED, 1, NULL, T0 + 20), BV_OK);
    assert_int_equal(bv_outbox_mark(ob, b, 0, BV_OUT_FAILED, 5, "HTTP 503", T0 + 30), BV_OK);
    put(ob, "4f0c/resolved", alert_a, T0 + 40, targets3, 2);
    assert_int_equal(bv_outbox_mark(ob, a, 2, BV_OUT_FAILED, 12, "deadline passed", T0 + 50),
                     BV_OK);
    char *text = slurp(bv_outbox_path(ob), len);
    bv_outbox_close(ob);
    rmtree(root);
    return text;
}

static size_t complete_puts(const char *text, size_t n)
{
    size_t puts = 0, start = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') {
            puts += strncmp(text + start, "{\"op\":\"put\"", 11) == 0;
            start = i + 1;
        }
    }
    return puts;
}

/* Every prefix of a real spool: what is whole applies, the rest is a torn tail, nothing is
 * counted as skipped. */
static void test_every_prefix(void **state)
{
    (void)state;
    size_t len;
    char *text = real_spool(&len);
    bv_outbox *full = bv_outbox_from_buffer(text, len);
    assert_non_null(full);
    assert_int_equal(bv_outbox_count(full), 3);
    bv_out_entry *a = bv_outbox_find(full, "4f0c/firing");
    assert_int_equal(a->targets[0].status, BV_OUT_DELIVERED);
    assert_int_equal(a->targets[2].status, BV_OUT_FAILED);
    assert_string_equal(a->targets[2].reason, "deadline passed");
    assert_int_equal(a->targets[2].attempts, 12);
    assert_string_equal(bv_outbox_find(full, "77aa/firing")->targets[0].reason, "HTTP 503");
    assert_int_equal(bv_outbox_find(full, "4f0c/resolved")->ntargets, 2);
    check_consistent(full);
    bv_outbox_close(full);
    for (size_t n = 0; n <= len; n++) {
        char *copy = malloc(n ? n : 1); /* exact size: no NUL to lean on */
        assert_non_null(copy);
        memcpy(copy, text, n);
        bv_outbox *ob = bv_outbox_from_buffer(copy, n);
        assert_non_null(ob);
        bv_outbox_stats st;
        bv_outbox_stats_get(ob, &st);
        assert_int_equal(st.skipped_lines, 0);
        assert_int_equal(st.torn_tail, n > 0 && text[n - 1] != '\n');
        assert_int_equal(bv_outbox_count(ob), complete_puts(text, n));
        check_consistent(ob);
        bv_outbox_close(ob);
        free(copy);
    }
    free(text);
}

static uint32_t rng = 5;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Random bytes and mutations of a real spool: an outbox all the same, consistent with itself. */
static void test_garbage(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\":,\\\n \t0123456789-.eE+truefalsnopdkyaigt\x01\xff\xc3";
    size_t len;
    char *text = real_spool(&len);
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    for (int round = 0; round < 3000; round++) {
        size_t n;
        if (round % 3 == 0) {
            n = rnd() % (len + 1);
            for (size_t i = 0; i < n; i++) {
                buf[i] = alphabet[rnd() % (sizeof alphabet - 1)];
            }
        } else {
            memcpy(buf, text, len);
            n = len;
            int k = 1 + (int)(rnd() % 4);
            for (int j = 0; j < k; j++) {
                buf[rnd() % n] =
                    round % 3 == 1 ? alphabet[rnd() % (sizeof alphabet - 1)] : (char)(rnd() & 0xff);
            }
        }
        bv_outbox *ob = bv_outbox_from_buffer(buf, n);
        assert_non_null(ob);
        check_consistent(ob);
        bv_outbox_close(ob);
    }
    free(buf);
    free(text);
}

/* Big alerts, many targets, long junk lines. */
static void test_oversized(void **state)
{
    (void)state;
    /* 256 targets is the most a put may have */
    static char ids[257][24];
    const char *tp[257];
    for (int i = 0; i < 257; i++) {
        snprintf(ids[i], sizeof ids[i], "g/%d:webhook", i);
        tp[i] = ids[i];
    }
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    bv_outbox *ob = open_rw(root, "ns");
    bv_out_entry *e = (bv_out_entry *)1;
    int fresh = -1;
    assert_int_equal(bv_outbox_put(ob, "many/firing", "{}", 2, T0, T0, tp, 257, &e, &fresh),
                     BV_EINVAL);
    assert_null(e);
    assert_int_equal(bv_outbox_count(ob), 0);
    e = put(ob, "most/firing", "{}", T0, tp, 256);
    assert_int_equal(bv_outbox_mark(ob, e, 255, BV_OUT_DELIVERED, 1, NULL, T0), BV_OK);
    /* a 2 MiB alert */
    size_t big = (size_t)2 << 20;
    char *alert = malloc(big + 1);
    assert_non_null(alert);
    for (size_t i = 0; i < big; i++) {
        alert[i] = (char)('a' + i % 26);
    }
    alert[big - 1] = '"';
    alert[big] = '\0';
    put(ob, "big/firing", alert, T0, targets1, 1);
    char path[256];
    snprintf(path, sizeof path, "%s", bv_outbox_path(ob));
    bv_outbox_close(ob);
    ob = open_rw(root, "ns");
    e = bv_outbox_find(ob, "most/firing");
    assert_non_null(e);
    assert_int_equal(e->ntargets, 256);
    assert_int_equal(e->npending, 255);
    assert_string_equal(e->targets[255].id, "g/255:webhook");
    assert_int_equal(e->targets[255].status, BV_OUT_DELIVERED);
    e = bv_outbox_find(ob, "big/firing");
    assert_non_null(e);
    assert_int_equal(e->alert_len, big);
    assert_memory_equal(e->alert, alert, big + 1);
    bv_outbox_close(ob);

    /* in memory: the spool with a 257-target put and a 1 MiB line of junk added */
    size_t len;
    char *text = slurp(path, &len);
    bv_buf b = BV_BUF_INIT;
    bv_buf_append(&b, text, len);
    bv_buf_puts(&b,
                "{\"op\":\"put\",\"key\":\"many/firing\",\"at\":1,\"deadline\":2,\"targets\":[");
    for (int i = 0; i < 257; i++) {
        bv_buf_printf(&b, "%s\"%s\"", i ? "," : "", ids[i]);
    }
    bv_buf_puts(&b, "],\"alert\":\"{}\"}\n");
    for (size_t i = 0; i < ((size_t)1 << 20); i++) {
        bv_buf_putc(&b, (char)('[' + (i & 1) * 2)); /* "[]][..." */
    }
    bv_buf_puts(&b, "\n");
    assert_non_null(b.p);
    ob = bv_outbox_from_buffer(b.p, b.len);
    assert_non_null(ob);
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.skipped_lines, 2);
    assert_int_equal(bv_outbox_count(ob), 2);
    assert_null(bv_outbox_find(ob, "many/firing"));
    assert_int_equal(bv_outbox_find(ob, "big/firing")->alert_len, big);
    bv_outbox_close(ob);
    /* deep nesting is refused by the parser, not by the stack */
    bv_buf_reset(&b);
    for (int i = 0; i < 100000; i++) {
        bv_buf_putc(&b, '[');
    }
    bv_buf_puts(&b, "\n");
    ob = bv_outbox_from_buffer(b.p, b.len);
    assert_non_null(ob);
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.skipped_lines, 1);
    bv_outbox_close(ob);
    /* nothing at all */
    ob = bv_outbox_from_buffer("", 0);
    assert_non_null(ob);
    assert_int_equal(bv_outbox_count(ob), 0);
    bv_outbox_close(ob);
    bv_buf_free(&b);
    free(text);
    free(alert);
    rmtree(root);
}

/* A put the disk cut short (here: RLIMIT_FSIZE, as a full disk would) returns BV_EIO and leaves
 * part of a line behind; the next put, which returns BV_OK, must still be readable after a
 * restart rather than glued onto that fragment. Run in a child: the limit is per process. */
static void test_failed_write_keeps_next_put(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_outbox_XXXXXX";
    assert_non_null(mkdtemp(root));
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bv_outbox_opts o = {.now_ms = T0};
        bv_outbox *ob = NULL;
        char err[256], big[600];
        bv_out_entry *e = NULL;
        int fresh = 0;
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        if (bv_outbox_open(&ob, root, "ns", &o, err, sizeof err) != BV_OK ||
            bv_outbox_put(ob, "a/firing", "{}", 2, T0, T0, targets1, 1, &e, &fresh) != BV_OK) {
            _exit(1);
        }
        struct stat sb;
        struct rlimit rl, low;
        if (stat(bv_outbox_path(ob), &sb) != 0 || getrlimit(RLIMIT_FSIZE, &rl) != 0) {
            _exit(2);
        }
        signal(SIGXFSZ, SIG_IGN);
        low = rl;
        low.rlim_cur = (rlim_t)sb.st_size + 50;
        if (setrlimit(RLIMIT_FSIZE, &low) != 0) {
            _exit(3);
        }
        if (bv_outbox_put(ob, "b/firing", big, strlen(big), T0, T0, targets1, 1, &e, &fresh) !=
            BV_EIO) {
            _exit(4);
        }
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
            _exit(5);
        }
        if (bv_outbox_put(ob, "c/firing", "{}", 2, T0, T0, targets1, 1, &e, &fresh) != BV_OK) {
            _exit(6);
        }
        _exit(0); /* killed before delivering c */
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    bv_outbox *ob = open_rw(root, "ns");
    int a = bv_outbox_find(ob, "a/firing") != NULL, c = bv_outbox_find(ob, "c/firing") != NULL;
    bv_outbox_close(ob);
    rmtree(root); /* before asserting: a failure leaves nothing behind */
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_true(a);
    assert_true(c);
}

/* A spool line of deeply nested arrays (2 MB, far below the 512 MiB a spool may have) is one
 * more line that does not parse: skipped, not a crash of the process reading it. */
static void test_deep_nesting_line(void **state)
{
    (void)state;
    size_t depth = 1000000;
    char *text = malloc(2 * depth + 2);
    assert_non_null(text);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = '\n';
    bv_outbox *ob = bv_outbox_from_buffer(text, 2 * depth + 1);
    assert_non_null(ob);
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    assert_int_equal(st.skipped_lines, 1);
    assert_int_equal(bv_outbox_count(ob), 0);
    bv_outbox_close(ob);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_name),
        cmocka_unit_test(test_put_mark_reopen),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_invalid_utf8_survives_reopen),
        cmocka_unit_test(test_crash_leaves_pending),
        cmocka_unit_test(test_lock_same_process),
        cmocka_unit_test(test_lock_other_process),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_skipped_lines),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_failed_write_keeps_next_put),
        cmocka_unit_test(test_deep_nesting_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
