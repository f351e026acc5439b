/* test_file.c: whole-file reads: contents and NUL, the size limit, missing files, and paths that
 * are not regular files (a directory, a FIFO that would block). */
#include "testutil.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
