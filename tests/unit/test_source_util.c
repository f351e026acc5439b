/* test_source_util.c: the helpers the live sources share: option checks, the Authorization
 * header, exponential waits, the last error cut to fit, and state files (cursors, offsets):
 * written atomically, read back, and garbage (missing, empty, several lines, too long, binary)
 * refused. */
#include "testutil.h"

#include "source/source_util.h"

#include <fcntl.h>
#include <unistd.h>

static void put(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static void test_checks_and_waits(void **state)
{
    (void)state;
    assert_true(bv_source_url_ok("https://api.x.com/2/tweets/search/stream"));
    assert_true(bv_source_url_ok("http://127.0.0.1:8080/x"));
    assert_false(bv_source_url_ok("ftp://x"));
    assert_false(bv_source_url_ok(NULL));
    assert_true(bv_source_name_ok(NULL));
    assert_true(bv_source_name_ok("haren-2026_v1.2"));
    assert_false(bv_source_name_ok("../etc"));
    assert_false(bv_source_name_ok("a b"));
    char longname[80];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(bv_source_name_ok(longname));
    assert_int_equal(bv_source_doubled(0, 5, 40), 5);
    assert_int_equal(bv_source_doubled(5, 5, 40), 10);
    assert_int_equal(bv_source_doubled(30, 5, 40), 40);
    struct curl_slist *h = bv_source_auth_header(NULL, "Bearer", "tok");
    assert_non_null(h);
    assert_string_equal(h->data, "Authorization: Bearer tok");
    curl_slist_free_all(h);
    bv_source_stats st;
    memset(&st, 0, sizeof st);
    char big[400];
    memset(big, 'e', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    bv_source_set_error(&st, big);
    assert_int_equal(strlen(st.last_error), sizeof st.last_error - 1);
}

static void test_state_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-su-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = bv_source_state_path(dir, "telegram", "t1", "offset");
    assert_non_null(path);
    char buf[32];
    assert_int_equal(bv_source_state_load(path, buf, sizeof buf), -1); /* none yet */
    assert_int_equal(bv_source_state_save(path, "500676846"), 0);
    assert_int_equal(bv_source_state_load(path, buf, sizeof buf), 0);
    assert_string_equal(buf, "500676846");
    assert_int_equal(bv_source_state_save(path, "500676900"), 0); /* replaced, atomically */
    assert_int_equal(bv_source_state_load(path, buf, sizeof buf), 0);
    assert_string_equal(buf, "500676900");
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* no temporary left behind */
    /* garbage is no state */
    put(path, "", 0);
    assert_int_equal(bv_source_state_load(path, buf, sizeof buf), -1);
    put(path, "12\n34\n", 6);
    assert_int_equal(bv_source_state_load(path, buf, sizeof buf), -1);
    char longer[100];
    memset(longer, '7', sizeof longer);
    put(path, longer, sizeof longer);
    assert_int_equal(bv_source_state_load(path, buf, sizeof buf), -1);
    put(path, "\n", 1);
    assert_int_equal(bv_source_state_load(path, buf, sizeof buf), -1);
    /* every prefix of a good file: loads or refuses, never more than it holds */
    const char good[] = "t3_5jo144\n";
    for (size_t i = 0; i <= sizeof good - 1; i++) {
        put(path, good, i);
        int rc = bv_source_state_load(path, buf, sizeof buf);
        if (rc == 0) {
            assert_true(strlen(buf) <= i);
            assert_memory_equal(buf, good, strlen(buf));
        }
    }
    /* a directory that cannot be written: the error, not a crash */
    char *bad = bv_source_state_path("/nonexistent-dir-bv", "reddit", "r", "cursor");
    assert_int_not_equal(bv_source_state_save(bad, "x"), 0);
    free(bad);
    unlink(path);
    free(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks_and_waits),
        cmocka_unit_test(test_state_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
