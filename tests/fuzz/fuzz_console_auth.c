/* fuzz_console_auth.c: libFuzzer target for the console's access parsers (lib/console/auth.h):
 * the Cookie header, the Authorization header and the login form body. The input is split at
 * its first NUL-free quarter points into a cookie, an authorization and a form; every parser
 * must stay within its bounds, and a value it returns must be as long as it says. */
#include "console/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    char out[80];
    /* the strings parsers see as C strings end at the first NUL */
    int n = bv_auth_cookie_value(s, BV_AUTH_COOKIE, out, sizeof out);
    if (n >= (int)sizeof out || (n >= 0 && strlen(out) != (size_t)n)) {
        abort();
    }
    size_t len = 0;
    const char *t = bv_auth_bearer(s, &len);
    if (t && (t < s || t + len > s + strlen(s) || len == 0)) {
        abort();
    }
    char form[64];
    n = bv_auth_form_value(s, size, "token", form, sizeof form);
    if (n >= (int)sizeof form || (n >= 0 && strlen(form) != (size_t)n)) {
        abort();
    }
    /* sessions: a login with whatever came, then checks with it as cookie and bearer */
    bv_fake_clock fc;
    bv_fake_clock_init(&fc, 1000);
    bv_auth_token tok = {.name = "fuzz", .secret = "a-token-of-some-length", .role = BV_ROLE_ACK};
    bv_auth *a = bv_auth_new(&tok, 1, 0, &fc.clock);
    if (a) {
        char sid[BV_AUTH_SID_LEN + 1];
        const bv_principal *p = bv_auth_login(a, s, strlen(s), sid);
        if (p && strcmp(s, tok.secret) != 0) {
            abort();
        }
        bv_auth_check(a, s, NULL);
        bv_auth_check(a, NULL, s);
        bv_auth_logout(a, s);
        bv_auth_free(a);
    }
    free(s);
    return 0;
}
