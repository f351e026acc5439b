/* test_auth.c: the console's tokens, sessions and access parsers (lib/console/auth.h). */
#include "console/auth.h"
#include "testutil.h"

static const bv_auth_token TOKENS[] = {
    {.name = "politie-oc", .secret = "police-token-0123456789", .role = BV_ROLE_ACK},
    {.name = "kabinet", .secret = "mayor-token-0123456789", .role = BV_ROLE_READ},
};

static void test_bearer(void **state)
{
    (void)state;
    bv_fake_clock fc;
    bv_fake_clock_init(&fc, 1000);
    bv_auth *a = bv_auth_new(TOKENS, 2, 0, &fc.clock);
    assert_non_null(a);
    assert_true(bv_auth_enabled(a));
    const bv_principal *p = bv_auth_check(a, "Bearer police-token-0123456789", NULL);
    assert_non_null(p);
    assert_string_equal(p->name, "politie-oc");
    assert_int_equal(p->role, BV_ROLE_ACK);
    p = bv_auth_check(a, "bearer   mayor-token-0123456789  ", NULL);
    assert_non_null(p);
    assert_string_equal(p->name, "kabinet");
    assert_int_equal(p->role, BV_ROLE_READ);
    assert_null(bv_auth_check(a, "Bearer police-token-012345678", NULL)); /* one short */
    assert_null(bv_auth_check(a, "Bearer police-token-01234567890", NULL));
    assert_null(bv_auth_check(a, "Basic cG9saWNl", NULL));
    assert_null(bv_auth_check(a, "Bearer", NULL));
    assert_null(bv_auth_check(a, "Bearer ", NULL));
    assert_null(bv_auth_check(a, NULL, NULL));
    /* a bad bearer header is not rescued by a cookie */
    char sid[BV_AUTH_SID_LEN + 1], cookie[128];
    assert_non_null(bv_auth_login(a, "police-token-0123456789", 23, sid));
    snprintf(cookie, sizeof cookie, "bv_session=%s", sid);
    assert_null(bv_auth_check(a, "Bearer wrong", cookie));
    assert_non_null(bv_auth_check(a, NULL, cookie));
    bv_auth_free(a);
}

static void test_sessions(void **state)
{
    (void)state;
    bv_fake_clock fc;
    bv_fake_clock_init(&fc, 1000);
    bv_auth *a = bv_auth_new(TOKENS, 2, 60000, &fc.clock);
    char sid[BV_AUTH_SID_LEN + 1], sid2[BV_AUTH_SID_LEN + 1], cookie[160];
    assert_null(bv_auth_login(a, "nope", 4, sid));
    assert_null(bv_auth_login(a, "", 0, sid));
    const bv_principal *p = bv_auth_login(a, "mayor-token-0123456789", 22, sid);
    assert_non_null(p);
    assert_string_equal(p->name, "kabinet");
    assert_int_equal(strlen(sid), BV_AUTH_SID_LEN);
    assert_non_null(bv_auth_login(a, "mayor-token-0123456789", 22, sid2));
    assert_string_not_equal(sid, sid2); /* random ids */
    assert_int_equal(bv_auth_sessions(a), 2);
    snprintf(cookie, sizeof cookie, "theme=dark; bv_session=%s; other=1", sid);
    p = bv_auth_check(a, NULL, cookie);
    assert_non_null(p);
    assert_string_equal(p->name, "kabinet");
    /* use keeps it alive; idleness ends it */
    bv_fake_clock_advance(&fc, 59000);
    assert_non_null(bv_auth_check(a, NULL, cookie));
    bv_fake_clock_advance(&fc, 59000);
    assert_non_null(bv_auth_check(a, NULL, cookie));
    bv_fake_clock_advance(&fc, 60000);
    assert_null(bv_auth_check(a, NULL, cookie));
    assert_int_equal(bv_auth_sessions(a), 0);
    /* logout ends it at once; a changed id is no id */
    assert_non_null(bv_auth_login(a, "police-token-0123456789", 23, sid));
    snprintf(cookie, sizeof cookie, "bv_session=%s", sid);
    assert_non_null(bv_auth_check(a, NULL, cookie));
    cookie[20] = cookie[20] == 'a' ? 'b' : 'a';
    assert_null(bv_auth_check(a, NULL, cookie));
    snprintf(cookie, sizeof cookie, "bv_session=%s", sid);
    bv_auth_logout(a, cookie);
    assert_null(bv_auth_check(a, NULL, cookie));
    bv_auth_free(a);
}

static void test_session_limit(void **state)
{
    (void)state;
    bv_fake_clock fc;
    bv_fake_clock_init(&fc, 1000);
    bv_auth *a = bv_auth_new(TOKENS, 2, 0, &fc.clock);
    char first[BV_AUTH_SID_LEN + 1], sid[BV_AUTH_SID_LEN + 1], cookie[160];
    assert_non_null(bv_auth_login(a, "police-token-0123456789", 23, first));
    for (int i = 0; i < BV_AUTH_SESSIONS; i++) {
        bv_fake_clock_advance(&fc, 1);
        assert_non_null(bv_auth_login(a, "police-token-0123456789", 23, sid));
    }
    assert_int_equal(bv_auth_sessions(a), BV_AUTH_SESSIONS);
    snprintf(cookie, sizeof cookie, "bv_session=%s", first);
    assert_null(bv_auth_check(a, NULL, cookie)); /* the least recently used went */
    snprintf(cookie, sizeof cookie, "bv_session=%s", sid);
    assert_non_null(bv_auth_check(a, NULL, cookie));
    bv_auth_free(a);
}

static void test_open(void **state)
{
    (void)state;
    bv_auth *a = bv_auth_new(NULL, 0, 0, NULL);
    assert_false(bv_auth_enabled(a));
    const bv_principal *p = bv_auth_check(a, NULL, NULL);
    assert_non_null(p);
    assert_string_equal(p->name, "local");
    assert_int_equal(p->role, BV_ROLE_ACK);
    char sid[BV_AUTH_SID_LEN + 1];
    assert_null(bv_auth_login(a, "anything", 8, sid)); /* nothing to log in to */
    bv_auth_free(a);
}

static void test_cookie_parser(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(bv_auth_cookie_value("a=1", "a", out, sizeof out), 1);
    assert_string_equal(out, "1");
    assert_int_equal(bv_auth_cookie_value("xa=1; a=22", "a", out, sizeof out), 2);
    assert_string_equal(out, "22");
    assert_int_equal(bv_auth_cookie_value("a=", "a", out, sizeof out), -1);
    assert_int_equal(bv_auth_cookie_value("a", "a", out, sizeof out), -1);
    assert_int_equal(bv_auth_cookie_value("", "a", out, sizeof out), -1);
    assert_int_equal(bv_auth_cookie_value(";;; ;", "a", out, sizeof out), -1);
    assert_int_equal(bv_auth_cookie_value("a=123456789012345", "a", out, sizeof out), 15);
    assert_int_equal(bv_auth_cookie_value("a=1234567890123456", "a", out, sizeof out), -1);
    assert_int_equal(bv_auth_cookie_value("  a=v  ;b=w", "b", out, sizeof out), 1);
    assert_string_equal(out, "w");
    /* every prefix of a header: never past its end */
    const char *h = "theme=dark; bv_session=abc; x=y";
    char cut[64];
    for (size_t n = 0; n <= strlen(h); n++) {
        memcpy(cut, h, n);
        cut[n] = '\0';
        int r = bv_auth_cookie_value(cut, "bv_session", out, sizeof out);
        assert_true(r == -1 || (r >= 1 && r <= 3 && strncmp(out, "abc", (size_t)r) == 0));
    }
}

static void test_form_parser(void **state)
{
    (void)state;
    char out[16];
    const char *b = "user=x&token=a%2Db+c&z=1";
    assert_int_equal(bv_auth_form_value(b, strlen(b), "token", out, sizeof out), 5);
    assert_string_equal(out, "a-b c");
    assert_int_equal(bv_auth_form_value("token=", 6, "token", out, sizeof out), 0);
    assert_int_equal(bv_auth_form_value("tokens=a", 8, "token", out, sizeof out), -1);
    assert_int_equal(bv_auth_form_value("token=%", 7, "token", out, sizeof out), -1);
    assert_int_equal(bv_auth_form_value("token=%4", 8, "token", out, sizeof out), -1);
    assert_int_equal(bv_auth_form_value("token=%zz", 9, "token", out, sizeof out), -1);
    assert_int_equal(bv_auth_form_value("token=%00", 9, "token", out, sizeof out), -1);
    assert_int_equal(bv_auth_form_value("token=0123456789abcdef", 22, "token", out, sizeof out),
                     -1); /* too long for out */
    /* the body is not NUL-terminated: nothing past len is read */
    char body[] = {'t', 'o', 'k', 'e', 'n', '=', 'a', 'b', '%', '4', '1'};
    for (size_t n = 0; n <= sizeof body; n++) {
        int r = bv_auth_form_value(body, n, "token", out, sizeof out);
        if (n < 6) {
            assert_int_equal(r, -1);
        } else if (n == sizeof body) {
            assert_int_equal(r, 3);
            assert_string_equal(out, "abA");
        } else if (n >= 9) {
            assert_int_equal(r, -1); /* a cut escape */
        } else {
            assert_int_equal(r, (int)n - 6);
        }
    }
}

static void test_bearer_parser(void **state)
{
    (void)state;
    size_t len = 0;
    const char *t = bv_auth_bearer("Bearer abc", &len);
    assert_non_null(t);
    assert_int_equal(len, 3);
    assert_memory_equal(t, "abc", 3);
    assert_null(bv_auth_bearer("Bearerabc", &len));
    assert_null(bv_auth_bearer("Bear abc", &len));
    assert_null(bv_auth_bearer("", &len));
    t = bv_auth_bearer("BEARER\tx y", &len);
    assert_non_null(t);
    assert_int_equal(len, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer),        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_session_limit), cmocka_unit_test(test_open),
        cmocka_unit_test(test_cookie_parser), cmocka_unit_test(test_form_parser),
        cmocka_unit_test(test_bearer_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
