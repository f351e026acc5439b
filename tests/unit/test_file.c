/* test_file.c: whole-file reads: contents and NUL, the size limit, missing files, and paths that
 * are not regular files (a directory, a FIFO that would block). */
#include "testutil.h"
#include <stdlib.h>

#include "core/err.h"
#include "core/file.h"

#include <errno.h>
#include <sys/stat.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_mkdirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
