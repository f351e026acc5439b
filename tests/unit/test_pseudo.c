/* test_pseudo.c: author pseudonyms: the HMAC-SHA256 value itself (known answers computed with
 * Python's hmac), stability across calls, and the key's sources: the environment, a file created
 * once with mode 0600, a file readable by others refused. */
#include "testutil.h"

#include "core/err.h"
#include "engine/pseudo.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void hex(const uint8_t *a, char *out)
{
    for (int i = 0; i < BV_PSEUDO_LEN; i++) {
        snprintf(out + 2 * i, 3, "%02x", a[i]);
    }
}

static void test_known_answers(void **state)
{
    (void)state;
    bv_pseudo *ps = bv_pseudo_new("unit-test-key-0123", 18);
    assert_non_null(ps);
    uint8_t a[BV_PSEUDO_LEN], b[BV_PSEUDO_LEN];
    char h[2 * BV_PSEUDO_LEN + 1];
    bv_pseudo_author(ps, BV_PLATFORM_MASTODON, "alice", 5, a);
    hex(a, h);
    assert_string_equal(h, "67c9f527d8014879bd52124ae7c43f16");
    bv_pseudo_author(ps, BV_PLATFORM_X, "12345", 5, b);
    hex(b, h);
    assert_string_equal(h, "f7059778c22e145a01145f6afed71b90");
    bv_pseudo_author(ps, BV_PLATFORM_MASTODON, "alice", 5, b); /* stable */
    assert_memory_equal(a, b, BV_PSEUDO_LEN);
    bv_pseudo_author(ps, BV_PLATFORM_BLUESKY, "alice", 5, b); /* per platform */
    assert_memory_not_equal(a, b, BV_PSEUDO_LEN);
    bv_pseudo_free(ps);
    assert_null(bv_pseudo_new("", 0));
}

static void test_key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/bv-pseudo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sd[256], path[300], err[256];
    snprintf(sd, sizeof sd, "%s/state/nested", dir);
    snprintf(path, sizeof path, "%s/pseudonym.key", sd);
    char *saved =
        getenv("BLIKVELD_PSEUDONYM_KEY") ? strdup(getenv("BLIKVELD_PSEUDONYM_KEY")) : NULL;
    unsetenv("BLIKVELD_PSEUDONYM_KEY");

    bv_pseudo *p1 = NULL, *p2 = NULL;
    assert_int_equal(bv_pseudo_load(&p1, sd, err, sizeof err), 0); /* created once */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(bv_pseudo_load(&p2, sd, err, sizeof err), 0); /* read again: same key */
    uint8_t a[BV_PSEUDO_LEN], b[BV_PSEUDO_LEN];
    bv_pseudo_author(p1, BV_PLATFORM_X, "42", 2, a);
    bv_pseudo_author(p2, BV_PLATFORM_X, "42", 2, b);
    assert_memory_equal(a, b, BV_PSEUDO_LEN);
    bv_pseudo_free(p1);
    bv_pseudo_free(p2);

    chmod(path, 0644); /* readable by others: refused */
    p1 = NULL;
    assert_int_equal(bv_pseudo_load(&p1, sd, err, sizeof err), BV_EINVAL);
    assert_null(p1);
    assert_non_null(strstr(err, "readable by others"));

    setenv("BLIKVELD_PSEUDONYM_KEY", "short", 1); /* too short */
    assert_int_equal(bv_pseudo_load(&p1, sd, err, sizeof err), BV_EINVAL);
    setenv("BLIKVELD_PSEUDONYM_KEY", "unit-test-key-0123", 1); /* the environment wins */
    assert_int_equal(bv_pseudo_load(&p1, sd, err, sizeof err), 0);
    bv_pseudo_author(p1, BV_PLATFORM_MASTODON, "alice", 5, a);
    char h[2 * BV_PSEUDO_LEN + 1];
    hex(a, h);
    assert_string_equal(h, "67c9f527d8014879bd52124ae7c43f16");
    bv_pseudo_free(p1);

    unlink(path);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    if (saved) {
        setenv("BLIKVELD_PSEUDONYM_KEY", saved, 1);
        free(saved);
    } else {
        unsetenv("BLIKVELD_PSEUDONYM_KEY");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
