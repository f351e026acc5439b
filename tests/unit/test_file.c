/* test_file.c: whole-file reads: contents and NUL, the size limit, missing files, and paths that
 * are not regular files (a directory, a FIFO that would block); locked appends and rewrites of
 * shared JSON-lines files, also from several processes at once. */
#include "testutil.h"
#include <stdlib.h>

#include "core/err.h"
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-file-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], fifo[128];
    snprintf(path, sizeof path, "%s/f", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("abc\0def", 1, 7, f);
    fclose(f);

    char *buf;
    size_t len;
    int err;
    assert_int_equal(bv_file_read(path, 100, &buf, &len, &err), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "abc\0def", 8); /* with the NUL after it */
    free(buf);

    assert_int_equal(bv_file_read(path, 6, &buf, &len, &err), BV_ELIMIT);
    assert_null(buf);
    assert_int_equal(err, EFBIG);
    assert_int_equal(bv_file_read(path, 7, &buf, &len, &err), 0);
    free(buf);

    assert_int_equal(bv_file_read(dir, 100, &buf, &len, &err), BV_EIO);
    assert_int_equal(err, EINVAL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* a FIFO without a writer: refused at once, not waited on */
    assert_int_equal(bv_file_read(fifo, 100, &buf, &len, &err), BV_EIO);
    assert_int_equal(err, EINVAL);
    assert_int_equal(bv_file_read("/nonexistent/x", 100, &buf, &len, &err), BV_EIO);
    assert_int_equal(err, ENOENT);

    unlink(fifo);
    unlink(path);
    rmdir(dir);
}

static void test_mkdirs(void **state)
{
    (void)state;
    char root[] = "/tmp/bv_test_mkdirs_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/a/b/c", root);
    assert_int_equal(bv_file_mkdirs(path), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(bv_file_mkdirs(path), 0); /* there already: fine */
    snprintf(path, sizeof path, "%s/a/f", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    errno = 0;
    assert_int_equal(bv_file_mkdirs(path), -1); /* a file in the way */
    assert_int_equal(errno, ENOTDIR);
    snprintf(path, sizeof path, "%s/a/f/g", root);
    assert_int_equal(bv_file_mkdirs(path), -1);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

static char *read_all(const char *path, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    int err = 0;
    if (bv_file_read(path, (size_t)1 << 26, &buf, &n, &err) != 0) {
        fail_msg("cannot read %s: %s", path, strerror(err));
    }
    if (len) {
        *len = n;
    }
    return buf;
}

static void rm_rf(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_append_locked(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv_test_file_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], lock[160];
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    assert_int_equal(bv_file_append_locked(path, "a\n", 2, 1), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(lock, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(bv_file_append_locked(path, "b\nc\n", 4, 1), 0);
    assert_int_equal(bv_file_append_locked(path, "", 0, 1), 0);
    char *text = read_all(path, NULL);
    assert_string_equal(text, "a\nb\nc\n");
    free(text);
    /* the lock is let go after each append */
    int fd = open(lock, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);

    char bad[200];
    snprintf(bad, sizeof bad, "%s/missing/x.jsonl", dir);
    errno = 0;
    assert_int_equal(bv_file_append_locked(bad, "x\n", 2, 1), -1);
    assert_int_equal(errno, ENOENT);
    /* the file is a directory */
    snprintf(bad, sizeof bad, "%s/d", dir);
    assert_int_equal(mkdir(bad, 0700), 0);
    errno = 0;
    assert_int_equal(bv_file_append_locked(bad, "x\n", 2, 1), -1);
    assert_int_equal(errno, EISDIR);
    /* a path too long for its lock file */
    char *lng = malloc(5000);
    assert_non_null(lng);
    memset(lng, 'l', 4999);
    lng[0] = '/';
    lng[4999] = '\0';
    errno = 0;
    assert_int_equal(bv_file_append_locked(lng, "x\n", 2, 1), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    size_t dropped = 9;
    errno = 0;
    assert_int_equal(bv_file_rewrite_locked(lng, 100, NULL, NULL, &dropped), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    free(lng);
    rm_rf(dir);
}

typedef struct keep_arg {
    int calls;
    const char *prefix;
} keep_arg;

/* Keeps lines that start with the prefix, and empty lines; checks what it is given. */
static int keep_prefix(void *arg, char *line)
{
    keep_arg *k = arg;
    k->calls++;
    if (strchr(line, '\n') != NULL) {
        fail_msg("line with its newline: '%s'", line);
    }
    return line[0] == '\0' || strncmp(line, k->prefix, strlen(k->prefix)) == 0;
}

static int keep_all(void *arg, char *line)
{
    (void)line;
    (*(int *)arg)++;
    return 1;
}

static void test_rewrite_locked(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv_test_file_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], tmp[160];
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    keep_arg k = {0, "keep"};
    size_t dropped = 99;
    struct stat sb;

    /* no file: nothing done, nothing created */
    assert_int_equal(bv_file_rewrite_locked(path, 1000, keep_prefix, &k, &dropped), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(k.calls, 0);
    assert_int_equal(stat(path, &sb), -1);
    assert_int_equal(stat(tmp, &sb), -1);

    const char *text = "keep 1\ndrop 1\nkeep 2\n\ndrop 2\nkeep 3\nkeep torn";
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, 0644), 0);
    struct stat before;
    assert_int_equal(stat(path, &before), 0);

    /* too large: refused, untouched */
    errno = 0;
    assert_int_equal(bv_file_rewrite_locked(path, 10, keep_prefix, &k, &dropped), -1);
    assert_int_equal(errno, EFBIG);
    assert_int_equal(k.calls, 0);
    char *got = read_all(path, NULL);
    assert_string_equal(got, text);
    free(got);

    assert_int_equal(bv_file_rewrite_locked(path, 1000, keep_prefix, &k, &dropped), 0);
    assert_int_equal(dropped, 3); /* drop 1, drop 2, the torn last line */
    assert_int_equal(k.calls, 6);
    got = read_all(path, NULL);
    assert_string_equal(got, "keep 1\nkeep 2\n\nkeep 3\n");
    free(got);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_ino != before.st_ino); /* a new file renamed over the old */
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(tmp, &sb), -1);

    /* keeping everything changes nothing; dropping everything leaves it empty */
    int calls = 0;
    assert_int_equal(bv_file_rewrite_locked(path, 1000, keep_all, &calls, &dropped), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(calls, 4);
    got = read_all(path, NULL);
    assert_string_equal(got, "keep 1\nkeep 2\n\nkeep 3\n");
    free(got);
    k.prefix = "nothing";
    assert_int_equal(bv_file_rewrite_locked(path, 1000, keep_prefix, &k, &dropped), 0);
    assert_int_equal(dropped, 3);
    size_t len = 99;
    got = read_all(path, &len);
    assert_int_equal(len, 1); /* the empty line */
    free(got);
    assert_int_equal(bv_file_append_locked(path, "next\n", 5, 1), 0);
    got = read_all(path, NULL);
    assert_string_equal(got, "\nnext\n");
    free(got);

    /* a directory where the file should be */
    char sub[160];
    snprintf(sub, sizeof sub, "%s/d", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    errno = 0;
    assert_int_equal(bv_file_rewrite_locked(sub, 1000, keep_all, &calls, &dropped), -1);
    assert_int_equal(errno, EINVAL);
    rm_rf(dir);
}

/* An append the disk cut short (RLIMIT_FSIZE here, a full disk in life) fails; the next append,
 * which succeeds, must still start a line of its own instead of finishing the fragment. Run in a
 * child: the limit is per process. */
static void test_append_after_failed_append(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv_test_file_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/control.jsonl", dir);
    assert_int_equal(bv_file_append_locked(path, "first\n", 6, 1), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char big[500];
        memset(big, 'x', sizeof big);
        big[sizeof big - 1] = '\n';
        struct rlimit rl, low;
        if (getrlimit(RLIMIT_FSIZE, &rl) != 0) {
            _exit(1);
        }
        signal(SIGXFSZ, SIG_IGN);
        low = rl;
        low.rlim_cur = 6 + 40;
        if (setrlimit(RLIMIT_FSIZE, &low) != 0) {
            _exit(2);
        }
        if (bv_file_append_locked(path, big, sizeof big, 1) != -1 || errno != EFBIG) {
            _exit(3);
        }
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
            _exit(4);
        }
        _exit(bv_file_append_locked(path, "second\n", 7, 1) == 0 ? 0 : 5);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    size_t len;
    char *text = read_all(path, &len);
    int whole = strstr(text, "\nsecond\n") != NULL;
    free(text);
    rm_rf(dir); /* before asserting: a failure leaves nothing behind */
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_true(whole);
}

/* Several processes appending while another rewrites: every line arrives whole, none is lost. */
static void test_locked_concurrent(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv_test_file_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/shared.jsonl", dir);
    enum { WRITERS = 3, LINES = 40, LINE = 20000 };
    fflush(NULL);
    pid_t pids[WRITERS + 1];
    for (int w = 0; w <= WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] != 0) {
            continue;
        }
        if (w == WRITERS) { /* the rewriter: keeps everything, many times */
            for (int i = 0; i < 40; i++) {
                int calls = 0;
                size_t dropped = 0;
                if (bv_file_rewrite_locked(path, (size_t)1 << 26, keep_all, &calls, &dropped) !=
                        0 ||
                    dropped != 0) {
                    _exit(1);
                }
            }
            _exit(0);
        }
        char *line = malloc(LINE + 1);
        if (line == NULL) {
            _exit(2);
        }
        for (int i = 0; i < LINES; i++) {
            memset(line, 'a' + w, LINE);
            int k = snprintf(line, 32, "w%d-%03d ", w, i);
            line[k] = (char)('a' + w); /* over the NUL */
            line[LINE - 1] = '\n';
            if (bv_file_append_locked(path, line, LINE, 1) != 0) {
                _exit(3);
            }
        }
        free(line);
        _exit(0);
    }
    for (int w = 0; w <= WRITERS; w++) {
        int ws;
        assert_int_equal(waitpid(pids[w], &ws, 0), pids[w]);
        assert_true(WIFEXITED(ws));
        assert_int_equal(WEXITSTATUS(ws), 0);
    }
    size_t len;
    char *text = read_all(path, &len);
    assert_int_equal(len, (size_t)WRITERS * LINES * LINE);
    int next[WRITERS] = {0};
    for (size_t off = 0; off < len; off += LINE) {
        int w = text[off + 1] - '0';
        assert_true(w >= 0 && w < WRITERS);
        char want[32];
        snprintf(want, sizeof want, "w%d-%03d ", w, next[w]);
        assert_memory_equal(text + off, want, strlen(want)); /* each writer's lines in order */
        next[w]++;
        for (size_t i = strlen(want); i < LINE - 1; i++) {
            if (text[off + i] != 'a' + w) {
                fail_msg("line of writer %d broken at byte %zu", w, i);
            }
        }
        assert_int_equal(text[off + LINE - 1], '\n');
    }
    for (int w = 0; w < WRITERS; w++) {
        assert_int_equal(next[w], LINES);
    }
    free(text);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_mkdirs),
        cmocka_unit_test(test_append_locked),
        cmocka_unit_test(test_rewrite_locked),
        cmocka_unit_test(test_append_after_failed_append),
        cmocka_unit_test(test_locked_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
