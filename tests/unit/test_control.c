/* test_control.c: acknowledgements and silences (lib/alert/control.h): appended records picked up
 * by open and poll, the ack callback, first ack wins, silence and unsilence, lines fed whole, one
 * byte at a time and in random chunks, lines cut short, overlong and garbage lines, a file
 * rewritten or truncated under a running reader. */
#include "testutil.h"

#include "alert/control.h"
#include "core/buf.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 INT64_C(1777291331250) /* 2026-04-27T12:02:11.250Z */
#define HOUR_MS INT64_C(3600000)

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

static void write_file(const char *path, const char *text, size_t len, const char *mode)
{
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Replaces path with new content the way a rewrite does: a new file renamed over it. */
static void replace_file(const char *path, const char *text)
{
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    write_file(tmp, text, strlen(text), "wb");
    assert_int_equal(rename(tmp, path), 0);
}

typedef struct acks_seen {
    int n;
    char id[8][64], by[8][64];
    int64_t at[8];
} acks_seen;

static void on_ack(void *arg, const char *id, const char *by, int64_t at_ms)
{
    acks_seen *s = arg;
    assert_non_null(id);
    assert_non_null(by);
    if (s->n < 8) { /* the first 8 kept, all counted */
        snprintf(s->id[s->n], sizeof s->id[0], "%s", id);
        snprintf(s->by[s->n], sizeof s->by[0], "%s", by);
        s->at[s->n] = at_ms;
    }
    s->n++;
}

static void ack(const char *dir, const char *id, const char *by, int64_t now)
{
    char err[256] = "";
    if (bv_control_append_ack(dir, "koningsdag", id, by, now, err, sizeof err) != 0) {
        fail_msg("append ack: %s", err);
    }
}

static void silence(const char *dir, const char *rule, int64_t until, const char *by,
                    const char *reason, int64_t now)
{
    char err[256] = "";
    if (bv_control_append_silence(dir, "koningsdag", rule, until, by, reason, now, err,
                                  sizeof err) != 0) {
        fail_msg("append silence: %s", err);
    }
}

/* ---- tests ---- */

static void test_missing_file(void **state)
{
    (void)state;
    bv_control *c = bv_control_open("/nonexistent/bv-control", "ev", NULL, NULL);
    assert_non_null(c);
    assert_null(bv_control_acked(c, "x"));
    assert_null(bv_control_silenced(c, "r", T0));
    size_t n = 99;
    bv_control_silences(c, &n);
    assert_int_equal(n, 0);
    assert_int_equal(bv_control_poll(c), 0);
    bv_control_free(c);
    bv_control_free(NULL);
}

static void test_append_open_poll(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/state/control", root); /* created by the first append */
    snprintf(path, sizeof path, "%s/koningsdag.jsonl", dir);
    ack(dir, "4f0c", "politie-oc", T0);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* what open reads is known, but not reported as news */
    acks_seen seen = {0};
    bv_control *c = bv_control_open(dir, "koningsdag", on_ack, &seen);
    assert_non_null(c);
    assert_int_equal(seen.n, 0);
    assert_string_equal(bv_control_acked(c, "4f0c"), "politie-oc");
    assert_null(bv_control_acked(c, "4f0"));
    assert_null(bv_control_acked(c, "4f0c0"));
    assert_int_equal(bv_control_poll(c), 0);

    /* appended since: the next poll has it, and reports it once */
    ack(dir, "77aa", "kabinet \"burgemeester\"", T0 + 1000);
    silence(dir, "crowd-dam", T0 + 2 * HOUR_MS, "oc", "evenement voorbij", T0 + 2000);
    assert_int_equal(seen.n, 0);
    assert_int_equal(bv_control_poll(c), 2);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.id[0], "77aa");
    assert_string_equal(seen.by[0], "kabinet \"burgemeester\"");
    assert_int_equal(seen.at[0], T0 + 1000);
    assert_string_equal(bv_control_acked(c, "77aa"), "kabinet \"burgemeester\"");
    assert_int_equal(bv_control_poll(c), 0);
    assert_int_equal(seen.n, 1);

    /* another event is another file */
    char err[256];
    assert_int_equal(bv_control_append_ack(dir, "andere", "zz", "x", T0, err, sizeof err), 0);
    assert_int_equal(bv_control_poll(c), 0);
    assert_null(bv_control_acked(c, "zz"));
    bv_control_free(c);

    /* a second reader sees the same */
    c = bv_control_open(dir, "koningsdag", NULL, NULL);
    assert_string_equal(bv_control_acked(c, "4f0c"), "politie-oc");
    assert_string_equal(bv_control_acked(c, "77aa"), "kabinet \"burgemeester\"");
    assert_non_null(bv_control_silenced(c, "crowd-dam", T0 + 3000));
    bv_control_free(c);
    rmtree(root);
}

static void test_first_ack_wins(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    acks_seen seen = {0};
    bv_control *c = bv_control_open(root, "koningsdag", on_ack, &seen);
    assert_non_null(c);
    ack(root, "a1", "first", T0);
    ack(root, "a1", "second", T0 + 1);
    assert_int_equal(bv_control_poll(c), 1);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.by[0], "first");
    ack(root, "a1", "third", T0 + 2);
    assert_int_equal(bv_control_poll(c), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(bv_control_acked(c, "a1"), "first");
    bv_control_free(c);
    c = bv_control_open(root, "koningsdag", NULL, NULL);
    assert_string_equal(bv_control_acked(c, "a1"), "first");
    bv_control_free(c);
    rmtree(root);
}

static void test_silence_unsilence(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    silence(root, "crowd-dam", T0 + 2 * HOUR_MS, "oc", "valse melding", T0);
    silence(root, "other", T0 + HOUR_MS, "oc", NULL, T0);
    bv_control *c = bv_control_open(root, "koningsdag", NULL, NULL);
    assert_non_null(c);
    const bv_silence *s = bv_control_silenced(c, "crowd-dam", T0);
    assert_non_null(s);
    assert_string_equal(s->rule, "crowd-dam");
    assert_string_equal(s->by, "oc");
    assert_string_equal(s->reason, "valse melding");
    assert_int_equal(s->at_ms, T0);
    assert_int_equal(s->until_ms, T0 + 2 * HOUR_MS);
    /* until is the first moment it no longer holds */
    assert_non_null(bv_control_silenced(c, "crowd-dam", T0 + 2 * HOUR_MS - 1));
    assert_null(bv_control_silenced(c, "crowd-dam", T0 + 2 * HOUR_MS));
    assert_null(bv_control_silenced(c, "crowd", T0));
    assert_null(bv_control_silenced(c, "crowd-dam2", T0));
    s = bv_control_silenced(c, "other", T0);
    assert_non_null(s);
    assert_string_equal(s->reason, "");
    size_t n;
    const bv_silence *all = bv_control_silences(c, &n);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].rule, "crowd-dam");
    assert_string_equal(all[1].rule, "other");

    /* lifted: the rule's record says so, and it no longer holds */
    silence(root, "crowd-dam", 0, "kabinet", "ignored", T0 + 10);
    assert_int_equal(bv_control_poll(c), 1);
    assert_null(bv_control_silenced(c, "crowd-dam", T0 + 11));
    all = bv_control_silences(c, &n);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].rule, "crowd-dam");
    assert_string_equal(all[0].by, "kabinet");
    assert_int_equal(all[0].until_ms, 0);
    assert_int_equal(all[0].at_ms, T0 + 10);
    assert_non_null(bv_control_silenced(c, "other", T0 + 11));

    /* silenced again: the latest record counts */
    silence(root, "crowd-dam", T0 + 5 * HOUR_MS, "oc2", "nog steeds", T0 + 20);
    assert_int_equal(bv_control_poll(c), 1);
    s = bv_control_silenced(c, "crowd-dam", T0 + 4 * HOUR_MS);
    assert_non_null(s);
    assert_string_equal(s->by, "oc2");
    assert_string_equal(s->reason, "nog steeds");
    /* an earlier until in a later record shortens it */
    silence(root, "crowd-dam", T0 + HOUR_MS, "oc3", "korter", T0 + 30);
    assert_int_equal(bv_control_poll(c), 1);
    assert_null(bv_control_silenced(c, "crowd-dam", T0 + 4 * HOUR_MS));
    assert_non_null(bv_control_silenced(c, "crowd-dam", T0 + HOUR_MS - 1));
    bv_control_silences(c, &n);
    assert_int_equal(n, 2);
    bv_control_free(c);

    /* a fresh reader ends in the same state */
    c = bv_control_open(root, "koningsdag", NULL, NULL);
    s = bv_control_silenced(c, "crowd-dam", T0 + 40);
    assert_non_null(s);
    assert_string_equal(s->by, "oc3");
    assert_int_equal(s->until_ms, T0 + HOUR_MS);
    bv_control_free(c);
    rmtree(root);
}

/* Records and junk, as a file could hold them. 7 records count. */
static const char mixed[] =
    "{\"op\":\"ack\",\"id\":\"a1\",\"by\":\"oc\",\"at\":100}\n"
    "not json\n"
    "\n"
    "{\"op\":\"ack\",\"id\":\"a1\",\"by\":\"late\",\"at\":101}\n"
    "{\"op\":\"ack\",\"id\":\"a2\",\"at\":102}\n"
    "{\"op\":\"ack\",\"id\":\"a3\",\"by\":\"oc\",\"at\":-1}\n"
    "{\"op\":\"ack\",\"id\":\"a4\",\"by\":\"oc\",\"at\":\"103\"}\n"
    "{\"op\":\"ack\",\"id\":5,\"by\":\"oc\",\"at\":103}\n"
    "{\"op\":\"ack\",\"by\":\"oc\",\"at\":103}\n"
    "[\"ack\"]\n"
    "{\"op\":\"silence\",\"rule\":\"r1\",\"until\":0,\"by\":\"oc\",\"at\":104}\n"
    "{\"op\":\"silence\",\"rule\":\"r1\",\"by\":\"oc\",\"at\":104}\n"
    "{\"op\":\"silence\",\"rule\":\"r1\",\"until\":5000.5,\"by\":\"oc\",\"at\":104}\n"
    "{\"op\":\"silence\",\"until\":5000,\"by\":\"oc\",\"at\":104}\n"
    "{\"op\":\"mute\",\"rule\":\"r1\",\"until\":5000,\"by\":\"oc\",\"at\":104}\n"
    "{\"op\":\"ack\",\"id\":\"a5\",\"by\":\"oc\",\"at\":105,}\n"
    "{\"op\":\"ack\",\"id\":\"a5\",\"by\":\"oc\",\"at\":105} x\n"
    "{\"op\":\"silence\",\"rule\":\"r1\",\"until\":5000,\"by\":\"oc\",\"reason\":\"x\",\"at\":106}"
    "\n"
    "{\"op\":\"ack\",\"id\":\"a6\",\"by\":\"\\u00e9\\n\",\"at\":107}\r\n"
    "{\"op\":\"silence\",\"rule\":\"r2\",\"until\":6000,\"by\":\"oc\",\"at\":108}\n"
    "{\"op\":\"unsilence\",\"rule\":\"r2\",\"by\":\"oc\",\"at\":109}\n"
    "{\"op\":\"unsilence\",\"rule\":\"r3\",\"by\":\"oc\",\"at\":110}\n"
    "{\"op\":\"ack\",\"id\":\"a7\",\"by\":\"oc\",\"at\":111}\n"
    "{\"op\":\"ack\",\"id\":\"cut\",\"by\":\"oc\",\"at\":1"; /* no end yet */
#define MIXED_RECORDS 7

static void check_mixed(const bv_control *c)
{
    assert_string_equal(bv_control_acked(c, "a1"), "oc");
    assert_null(bv_control_acked(c, "a2"));
    assert_null(bv_control_acked(c, "a3"));
    assert_null(bv_control_acked(c, "a4"));
    assert_null(bv_control_acked(c, "a5"));
    assert_string_equal(bv_control_acked(c, "a6"), "\xc3\xa9\n");
    assert_string_equal(bv_control_acked(c, "a7"), "oc");
    assert_null(bv_control_acked(c, "cut"));
    const bv_silence *s = bv_control_silenced(c, "r1", 4999);
    assert_non_null(s);
    assert_string_equal(s->reason, "x");
    assert_int_equal(s->at_ms, 106);
    assert_null(bv_control_silenced(c, "r2", 107));
    size_t n;
    const bv_silence *all = bv_control_silences(c, &n);
    assert_int_equal(n, 3);
    assert_string_equal(all[0].rule, "r1");
    assert_string_equal(all[1].rule, "r2");
    assert_int_equal(all[1].until_ms, 0);
    assert_string_equal(all[2].rule, "r3");
}

static uint32_t rng = 17;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* The same records whether the bytes come whole, one at a time or in random chunks; a line
 * cut short waits for its end. */
static void test_feed_chunks(void **state)
{
    (void)state;
    size_t len = sizeof mixed - 1;
    for (int mode = 0; mode < 12; mode++) {
        acks_seen seen = {0};
        bv_control *c = bv_control_open("/nonexistent/bv-control", "ev", on_ack, &seen);
        assert_non_null(c);
        int total = 0;
        size_t off = 0;
        while (off < len) {
            size_t k = mode == 0 ? len : mode == 1 ? 1 : 1 + rnd() % 97;
            if (k > len - off) {
                k = len - off;
            }
            int r = bv_control_feed(c, mixed + off, k);
            assert_true(r >= 0);
            total += r;
            off += k;
        }
        assert_int_equal(total, MIXED_RECORDS);
        check_mixed(c);
        assert_int_equal(seen.n, 3); /* a1, a6, a7, and nothing twice */
        assert_string_equal(seen.id[0], "a1");
        assert_string_equal(seen.id[1], "a6");
        assert_string_equal(seen.id[2], "a7");
        /* the rest of the cut line arrives */
        assert_int_equal(bv_control_feed(c, "2}", 2), 0);
        assert_null(bv_control_acked(c, "cut"));
        assert_int_equal(bv_control_feed(c, "\n", 1), 1);
        assert_string_equal(bv_control_acked(c, "cut"), "oc");
        assert_int_equal(seen.n, 4);
        assert_string_equal(seen.id[3], "cut");
        assert_int_equal(seen.at[3], 12);
        assert_int_equal(bv_control_feed(c, "", 0), 0);
        bv_control_free(c);
    }
}

/* Every prefix, fed whole then completed one byte at a time: the same end state. */
static void test_every_prefix(void **state)
{
    (void)state;
    size_t len = sizeof mixed - 1;
    for (size_t n = 0; n <= len; n++) {
        bv_control *c = bv_control_open("/nonexistent/bv-control", "ev", NULL, NULL);
        assert_non_null(c);
        int total = bv_control_feed(c, mixed, n);
        assert_true(total >= 0);
        for (size_t i = n; i < len; i++) {
            int r = bv_control_feed(c, mixed + i, 1);
            assert_true(r >= 0);
            total += r;
        }
        assert_int_equal(total, MIXED_RECORDS);
        check_mixed(c);
        bv_control_free(c);
    }
}

/* A line that does not parse or lacks what a record needs counts nothing. */
static void test_garbage(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\":,\\\n 0123456789-.opackidbyatsilenceruntl\x01\xff\xc3";
    bv_control *c = bv_control_open("/nonexistent/bv-control", "ev", NULL, NULL);
    assert_non_null(c);
    char buf[512];
    for (int round = 0; round < 5000; round++) {
        size_t n = rnd() % sizeof buf;
        if (round % 2) {
            for (size_t i = 0; i < n; i++) {
                buf[i] = alphabet[rnd() % (sizeof alphabet - 1)];
            }
        } else {
            n = n < sizeof mixed - 1 ? n : sizeof mixed - 1;
            memcpy(buf, mixed, n);
            for (int k = 0; k < 3 && n > 0; k++) {
                buf[rnd() % n] = (char)(rnd() & 0xff);
            }
        }
        assert_true(bv_control_feed(c, buf, n) >= 0);
    }
    assert_true(bv_control_feed(c, "\n", 1) >= 0);
    /* still working after all that */
    const char *ok = "{\"op\":\"ack\",\"id\":\"after-garbage\",\"by\":\"oc\",\"at\":1}\n";
    assert_int_equal(bv_control_feed(c, ok, strlen(ok)), 1);
    assert_string_equal(bv_control_acked(c, "after-garbage"), "oc");
    bv_control_free(c);
}

/* An ack line of exactly len bytes (without its newline). */
static char *ack_line(const char *id, size_t len)
{
    static const char head[] = "{\"op\":\"ack\",\"id\":\"";
    static const char mid[] = "\",\"by\":\"";
    static const char tail[] = "\",\"at\":1}";
    size_t fixed = strlen(head) + strlen(id) + strlen(mid) + strlen(tail);
    assert_true(len > fixed);
    char *s = malloc(len + 2);
    assert_non_null(s);
    size_t k = (size_t)snprintf(s, len + 1, "%s%s%s", head, id, mid);
    memset(s + k, 'b', len - fixed);
    k += len - fixed;
    memcpy(s + k, tail, strlen(tail));
    k += strlen(tail);
    assert_int_equal(k, len);
    s[len] = '\n';
    s[len + 1] = '\0';
    return s;
}

/* Lines up to 8 KiB are read; longer ones are skipped whole, and the next line is read. */
static void test_overlong(void **state)
{
    (void)state;
    char *max = ack_line("max", 8192), *over = ack_line("over", 8193),
         *huge = ack_line("huge", 200000);
    const char *next = "{\"op\":\"ack\",\"id\":\"next\",\"by\":\"oc\",\"at\":2}\n";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        bv_control *c = bv_control_open("/nonexistent/bv-control", "ev", NULL, NULL);
        assert_non_null(c);
        const char *parts[] = {max, over, huge, next};
        int total = 0;
        for (size_t p = 0; p < 4; p++) {
            size_t n = strlen(parts[p]);
            if (bytewise) {
                for (size_t i = 0; i < n; i++) {
                    total += bv_control_feed(c, parts[p] + i, 1);
                }
            } else {
                total += bv_control_feed(c, parts[p], n);
            }
        }
        assert_int_equal(total, 2);
        assert_non_null(bv_control_acked(c, "max"));
        assert_int_equal(strlen(bv_control_acked(c, "max")), 8192 - 38);
        assert_null(bv_control_acked(c, "over"));
        assert_null(bv_control_acked(c, "huge"));
        assert_string_equal(bv_control_acked(c, "next"), "oc");
        bv_control_free(c);
    }

    /* through a file, where a poll reads 64 KiB at a time */
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/koningsdag.jsonl", root);
    write_file(path, huge, strlen(huge), "wb");
    write_file(path, next, strlen(next), "ab");
    bv_control *c = bv_control_open(root, "koningsdag", NULL, NULL);
    assert_null(bv_control_acked(c, "huge"));
    assert_string_equal(bv_control_acked(c, "next"), "oc");
    write_file(path, max, strlen(max), "ab");
    assert_int_equal(bv_control_poll(c), 1);
    assert_non_null(bv_control_acked(c, "max"));
    bv_control_free(c);
    rmtree(root);
    free(max);
    free(over);
    free(huge);
}

/* A line being written: a poll between its halves takes it when it is whole. */
static void test_poll_partial_line(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/koningsdag.jsonl", root);
    acks_seen seen = {0};
    bv_control *c = bv_control_open(root, "koningsdag", on_ack, &seen);
    const char *line = "{\"op\":\"ack\",\"id\":\"half\",\"by\":\"oc\",\"at\":7}\n";
    size_t n = strlen(line);
    for (size_t cut = 1; cut < n; cut += 9) {
        assert_int_equal(truncate(path, 0) == 0 || errno == ENOENT, 1);
        bv_control_free(c);
        seen.n = 0;
        c = bv_control_open(root, "koningsdag", on_ack, &seen);
        write_file(path, line, cut, "ab");
        assert_int_equal(bv_control_poll(c), 0);
        assert_null(bv_control_acked(c, "half"));
        write_file(path, line + cut, n - cut, "ab");
        assert_int_equal(bv_control_poll(c), 1);
        assert_string_equal(bv_control_acked(c, "half"), "oc");
        assert_int_equal(seen.n, 1);
    }
    bv_control_free(c);
    rmtree(root);
}

/* A file replaced (renamed over) or truncated under a reader is read again from its start. */
static void test_rewritten_file(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/koningsdag.jsonl", root);
    ack(root, "a1", "oc", T0);
    ack(root, "a2", "oc", T0);
    silence(root, "r1", T0 + HOUR_MS, "oc", "x", T0);
    acks_seen seen = {0};
    bv_control *c = bv_control_open(root, "koningsdag", on_ack, &seen);
    assert_non_null(c);
    assert_string_equal(bv_control_acked(c, "a2"), "oc");

    /* a new, shorter file: its new ack is news, the old one it repeats is not */
    replace_file(path, "{\"op\":\"ack\",\"id\":\"a1\",\"by\":\"someone\",\"at\":1}\n"
                       "{\"op\":\"ack\",\"id\":\"b1\",\"by\":\"oc\",\"at\":2}\n");
    assert_int_equal(bv_control_poll(c), 1); /* b1; a1 again is no news */
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.id[0], "b1");
    assert_string_equal(bv_control_acked(c, "a1"), "oc");
    assert_non_null(bv_control_silenced(c, "r1", T0)); /* what was read stays known */

    /* a new file longer than what was read */
    bv_buf b = BV_BUF_INIT;
    for (int i = 0; i < 50; i++) {
        bv_buf_printf(&b, "{\"op\":\"ack\",\"id\":\"c%d\",\"by\":\"oc\",\"at\":%d}\n", i, i);
    }
    replace_file(path, b.p);
    assert_int_equal(bv_control_poll(c), 50);
    assert_int_equal(seen.n, 51);
    assert_string_equal(bv_control_acked(c, "c49"), "oc");
    bv_buf_free(&b);
    bv_control_free(c);

    /* truncated in place and written anew, shorter than what was read */
    seen.n = 0;
    c = bv_control_open(root, "koningsdag", on_ack, &seen);
    assert_int_equal(truncate(path, 0), 0);
    ack(root, "d1", "oc", T0);
    assert_int_equal(bv_control_poll(c), 1);
    assert_string_equal(bv_control_acked(c, "d1"), "oc");
    assert_int_equal(seen.n, 1);
    /* removed: nothing to read, nothing forgotten */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(bv_control_poll(c), 0);
    assert_string_equal(bv_control_acked(c, "d1"), "oc");
    ack(root, "e", "oc", T0); /* and created again (shorter than what was read) */
    assert_int_equal(bv_control_poll(c), 1);
    assert_string_equal(bv_control_acked(c, "e"), "oc");
    bv_control_free(c);
    rmtree(root);
}

/* A reader in the middle of an overlong line when the file is replaced must read the new file's
 * first line: the skip belongs to the old file. */
static void test_rewrite_after_overlong_partial(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/koningsdag.jsonl", root);
    char junk[10000];
    memset(junk, 'j', sizeof junk); /* over 8 KiB and no newline yet */
    write_file(path, junk, sizeof junk, "wb");
    bv_control *c = bv_control_open(root, "koningsdag", NULL, NULL);
    assert_non_null(c);
    replace_file(path, "{\"op\":\"ack\",\"id\":\"first\",\"by\":\"oc\",\"at\":1}\n"
                       "{\"op\":\"ack\",\"id\":\"second\",\"by\":\"oc\",\"at\":2}\n");
    int polled = bv_control_poll(c);
    int second = bv_control_acked(c, "second") != NULL,
        first = bv_control_acked(c, "first") != NULL;
    bv_control_free(c);
    rmtree(root); /* before asserting: a failure leaves nothing behind */
    assert_true(second);
    assert_true(first);
    assert_int_equal(polled, 2);
}

/* `blikveld ack --by NAME` typed in a Latin-1 terminal: append says it is written, so a reader
 * must see the ack (or append must refuse it). */
static void test_ack_not_utf8(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    char err[256] = "";
    int rc = bv_control_append_ack(root, "koningsdag", "4f0c", "J\xf6rg", T0, err, sizeof err);
    bv_control *c = bv_control_open(root, "koningsdag", NULL, NULL);
    assert_non_null(c);
    char by[64] = "";
    if (bv_control_acked(c, "4f0c") != NULL) {
        snprintf(by, sizeof by, "%s", bv_control_acked(c, "4f0c"));
    }
    bv_control_free(c);
    rmtree(root); /* before asserting: a failure leaves nothing behind */
    if (rc == 0) {
        /* the name as written, its stray byte made readable */
        assert_true(by[0] == 'J' && strlen(by) >= 3 && strcmp(by + strlen(by) - 2, "rg") == 0);
    } else {
        assert_true(err[0] != '\0');
    }
}

/* A reason longer than a reader takes (lines over 8 KiB are skipped): append must refuse it or
 * the silence must hold, not be written and then ignored by every process. */
static void test_append_long_reason(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    char reason[9000];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    char err[256] = "";
    int rc = bv_control_append_silence(root, "koningsdag", "crowd-dam", T0 + HOUR_MS, "oc", reason,
                                       T0, err, sizeof err);
    bv_control *c = bv_control_open(root, "koningsdag", NULL, NULL);
    assert_non_null(c);
    int silenced = bv_control_silenced(c, "crowd-dam", T0) != NULL;
    bv_control_free(c);
    rmtree(root); /* before asserting: a failure leaves nothing behind */
    if (rc == 0) {
        assert_true(silenced);
    } else {
        assert_true(err[0] != '\0');
    }
}

static void test_append_errors(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_control_XXXXXX";
    assert_non_null(mkdtemp(root));
    char file[128], dir[160], err[512];
    snprintf(file, sizeof file, "%s/plain", root);
    write_file(file, "x", 1, "wb");
    snprintf(dir, sizeof dir, "%s/sub", file); /* a file in the way */
    err[0] = '\0';
    assert_int_equal(bv_control_append_ack(dir, "ev", "a", "b", T0, err, sizeof err), -1);
    assert_non_null(strstr(err, dir));
    err[0] = '\0';
    assert_int_equal(
        bv_control_append_silence(dir, "ev", "r", T0 + 1, "b", "c", T0, err, sizeof err), -1);
    assert_non_null(strstr(err, dir));
    /* the event's file is a directory */
    snprintf(dir, sizeof dir, "%s/d", root);
    char evdir[200];
    snprintf(evdir, sizeof evdir, "%s/ev.jsonl", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(evdir, 0700), 0);
    assert_int_equal(bv_control_append_ack(dir, "ev", "a", "b", T0, err, sizeof err), -1);
    assert_non_null(strstr(err, evdir));
    bv_control *c = bv_control_open(dir, "ev", NULL, NULL);
    assert_non_null(c);
    assert_true(bv_control_poll(c) <= 0);
    assert_null(bv_control_acked(c, "a"));
    bv_control_free(c);
    rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_append_open_poll),
        cmocka_unit_test(test_first_ack_wins),
        cmocka_unit_test(test_silence_unsilence),
        cmocka_unit_test(test_feed_chunks),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_poll_partial_line),
        cmocka_unit_test(test_rewritten_file),
        cmocka_unit_test(test_rewrite_after_overlong_partial),
        cmocka_unit_test(test_ack_not_utf8),
        cmocka_unit_test(test_append_long_reason),
        cmocka_unit_test(test_append_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
