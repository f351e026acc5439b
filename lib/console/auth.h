/* auth.h: who may use the console. Tokens come from the config (each with a name and a role,
 * the secret from an environment variable); a browser logs in once with its token and then
 * carries a session cookie (HttpOnly, SameSite=Strict: a browser cannot send a bearer header on
 * page loads or EventSource), the API and the CLI send `Authorization: Bearer TOKEN`.
 * Tokens and session ids are compared through their SHA-256 digests with CRYPTO_memcmp, so
 * neither length nor content leaks through timing. Sessions live `session_ms` after their last
 * use; at most BV_AUTH_SESSIONS are kept (a new login drops the least recently used).
 *
 * The header and form parsers here are sans-IO (fed strings, never reading a socket) and
 * fuzzed (tests/fuzz/fuzz_console_auth.c).
 *
 * Ownership: the auth copies the tokens given to bv_auth_new; principals it hands out are
 * borrowed until the auth is freed. */
#ifndef BV_CONSOLE_AUTH_H
#define BV_CONSOLE_AUTH_H

#include "core/clock.h"

#include <stddef.h>
#include <stdint.h>

#define BV_AUTH_SESSIONS 512
#define BV_AUTH_SID_LEN 64 /* hex characters of a session id */
#define BV_AUTH_COOKIE "bv_session"

typedef enum bv_role { BV_ROLE_READ = 0, BV_ROLE_ACK } bv_role;

typedef struct bv_auth_token {
    const char *name;   /* shown in acks and the audit log: "politie-oc" */
    const char *secret; /* the token itself */
    bv_role role;
} bv_auth_token;

/* Who a request comes from. */
typedef struct bv_principal {
    const char *name;
    bv_role role;
} bv_principal;

typedef struct bv_auth bv_auth;

/* ntokens 0: no tokens (the console is then open to loopback only, see console.h): every check
 * passes as "local" with role ack. session_ms 0: 12 h. NULL when out of memory. */
bv_auth *bv_auth_new(const bv_auth_token *tokens, size_t ntokens, int64_t session_ms,
                     const bv_clock *clock);
void bv_auth_free(bv_auth *a);
/* 1 when tokens are configured. */
int bv_auth_enabled(const bv_auth *a);

/* The principal of a request from its Authorization and Cookie headers (either may be NULL):
 * a valid bearer token, else a live session cookie (its expiry moves on). NULL when neither. */
const bv_principal *bv_auth_check(bv_auth *a, const char *authorization, const char *cookie);

/* A login with a token: a new session, its id written to sid (BV_AUTH_SID_LEN + 1 bytes).
 * The principal, or NULL for an unknown token (or when no random bytes could be had). */
const bv_principal *bv_auth_login(bv_auth *a, const char *token, size_t len,
                                  char sid[BV_AUTH_SID_LEN + 1]);
/* Ends the session the Cookie header names (if any). */
void bv_auth_logout(bv_auth *a, const char *cookie);
/* Sessions alive now. */
size_t bv_auth_sessions(bv_auth *a);

/* Parsers (pure, bounded). */

/* The value of cookie `name` in a Cookie header ("a=1; bv_session=..."): copied to out (NUL
 * terminated) and its length returned; -1 when absent, empty or longer than outlen - 1. */
int bv_auth_cookie_value(const char *header, const char *name, char *out, size_t outlen);
/* The token of "Bearer TOKEN" (scheme case-insensitive, one or more spaces): a pointer into
 * header and its length in *len; NULL for anything else. */
const char *bv_auth_bearer(const char *header, size_t *len);
/* The value of field `name` in an application/x-www-form-urlencoded body, decoded ('+' is a
 * space, %XX a byte) into out (NUL terminated); its length, or -1 when absent, malformed (a bad
 * % escape, a NUL byte) or longer than outlen - 1. */
int bv_auth_form_value(const char *body, size_t len, const char *name, char *out, size_t outlen);

#endif
