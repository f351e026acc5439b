/* auth.c: tokens, sessions and the three small parsers the console's access needs (Cookie,
 * Authorization, form bodies); see auth.h. libevent has a query-string parser
 * (evhttp_parse_query_str), but it fills a header list with every field and has no bound on a
 * value's length; a login form needs one bounded field, so it is read here. */
#include "console/auth.h"
#include "core/buf.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_SESSION_MS (12LL * 3600 * 1000)

typedef struct token {
    char *name;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    bv_principal who;
} token;

typedef struct session {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    size_t token; /* index in tokens */
    int64_t last_ms;
    int used;
} session;

struct bv_auth {
    token *tokens;
    size_t ntokens;
    int64_t session_ms;
    const bv_clock *clock;
    session sessions[BV_AUTH_SESSIONS];
    bv_principal local;
};

static void digest(const void *p, size_t n, unsigned char out[SHA256_DIGEST_LENGTH])
{
    SHA256(p, n, out);
}

bv_auth *bv_auth_new(const bv_auth_token *tokens, size_t ntokens, int64_t session_ms,
                     const bv_clock *clock)
{
    bv_auth *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    a->session_ms = session_ms > 0 ? session_ms : DEFAULT_SESSION_MS;
    a->clock = clock ? clock : bv_clock_system();
    a->local.name = "local";
    a->local.role = BV_ROLE_ACK;
    if (ntokens) {
        a->tokens = calloc(ntokens, sizeof *a->tokens);
        if (a->tokens == NULL) {
            goto fail;
        }
    }
    for (size_t i = 0; i < ntokens; i++) {
        a->tokens[i].name = strdup(tokens[i].name ? tokens[i].name : "");
        if (a->tokens[i].name == NULL) {
            goto fail;
        }
        a->ntokens++;
        digest(tokens[i].secret, strlen(tokens[i].secret), a->tokens[i].digest);
        a->tokens[i].who.name = a->tokens[i].name;
        a->tokens[i].who.role = tokens[i].role;
    }
    return a;
fail:
    bv_auth_free(a);
    return NULL;
}

void bv_auth_free(bv_auth *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->ntokens; i++) {
        free(a->tokens[i].name);
    }
    free(a->tokens);
    OPENSSL_cleanse(a->sessions, sizeof a->sessions);
    free(a);
}

int bv_auth_enabled(const bv_auth *a)
{
    return a->ntokens > 0;
}

/* Every token is compared, so the time taken does not tell which one (or whether one) fit. */
static const token *find_token(const bv_auth *a, const char *secret, size_t len)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    digest(secret, len, d);
    const token *hit = NULL;
    for (size_t i = 0; i < a->ntokens; i++) {
        if (CRYPTO_memcmp(d, a->tokens[i].digest, sizeof d) == 0) {
            hit = &a->tokens[i];
        }
    }
    return hit;
}

static session *find_session(bv_auth *a, const char *sid, size_t len, int64_t now)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    digest(sid, len, d);
    session *hit = NULL;
    for (size_t i = 0; i < BV_AUTH_SESSIONS; i++) {
        session *s = &a->sessions[i];
        if (s->used && now - s->last_ms >= a->session_ms) {
            s->used = 0; /* expired */
        }
        if (s->used && CRYPTO_memcmp(d, s->digest, sizeof d) == 0) {
            hit = s;
        }
    }
    return hit;
}

const bv_principal *bv_auth_check(bv_auth *a, const char *authorization, const char *cookie)
{
    if (a->ntokens == 0) {
        return &a->local;
    }
    if (authorization) {
        size_t len;
        const char *t = bv_auth_bearer(authorization, &len);
        const token *k = t ? find_token(a, t, len) : NULL;
        return k ? &k->who : NULL;
    }
    char sid[BV_AUTH_SID_LEN + 1];
    int n = cookie ? bv_auth_cookie_value(cookie, BV_AUTH_COOKIE, sid, sizeof sid) : -1;
    if (n != BV_AUTH_SID_LEN) {
        return NULL;
    }
    int64_t now = bv_now_ms(a->clock);
    session *s = find_session(a, sid, (size_t)n, now);
    if (s == NULL) {
        return NULL;
    }
    s->last_ms = now;
    return &a->tokens[s->token].who;
}

const bv_principal *bv_auth_login(bv_auth *a, const char *tok, size_t len,
                                  char sid[BV_AUTH_SID_LEN + 1])
{
    const token *k = a->ntokens ? find_token(a, tok, len) : NULL;
    if (k == NULL) {
        return NULL;
    }
    unsigned char raw[BV_AUTH_SID_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        return NULL;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        sid[2 * i] = hex[raw[i] >> 4];
        sid[2 * i + 1] = hex[raw[i] & 15];
    }
    sid[BV_AUTH_SID_LEN] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    int64_t now = bv_now_ms(a->clock);
    /* a free slot (or an expired one), else the least recently used */
    session *slot = NULL;
    for (size_t i = 0; i < BV_AUTH_SESSIONS; i++) {
        session *s = &a->sessions[i];
        if (!s->used || now - s->last_ms >= a->session_ms) {
            slot = s;
            break;
        }
        if (slot == NULL || s->last_ms < slot->last_ms) {
            slot = s;
        }
    }
    digest(sid, BV_AUTH_SID_LEN, slot->digest);
    slot->token = (size_t)(k - a->tokens);
    slot->last_ms = now;
    slot->used = 1;
    return &k->who;
}

void bv_auth_logout(bv_auth *a, const char *cookie)
{
    char sid[BV_AUTH_SID_LEN + 1];
    int n = cookie ? bv_auth_cookie_value(cookie, BV_AUTH_COOKIE, sid, sizeof sid) : -1;
    if (n != BV_AUTH_SID_LEN) {
        return;
    }
    session *s = find_session(a, sid, (size_t)n, bv_now_ms(a->clock));
    if (s) {
        memset(s, 0, sizeof *s);
    }
}

size_t bv_auth_sessions(bv_auth *a)
{
    int64_t now = bv_now_ms(a->clock);
    size_t n = 0;
    for (size_t i = 0; i < BV_AUTH_SESSIONS; i++) {
        n += a->sessions[i].used && now - a->sessions[i].last_ms < a->session_ms;
    }
    return n;
}

int bv_auth_cookie_value(const char *h, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';') {
            p++;
        }
        const char *end = strchr(p, ';');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            size_t vlen = plen - nlen - 1;
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
                vlen--;
            }
            if (vlen == 0 || vlen >= outlen) {
                return -1;
            }
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return (int)vlen;
        }
        p += plen;
    }
    return -1;
}

const char *bv_auth_bearer(const char *h, size_t *len)
{
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) {
        return NULL;
    }
    const char *t = h + 6;
    while (*t == ' ' || *t == '\t') {
        t++;
    }
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return NULL;
    }
    *len = n;
    return t;
}

int bv_auth_form_value(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&') {
            end++;
        }
        if (end - i > nlen && memcmp(body + i, name, nlen) == 0 && body[i + nlen] == '=') {
            size_t o = 0;
            for (size_t k = i + nlen + 1; k < end; k++) {
                int c = (unsigned char)body[k];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi = k + 2 < end ? bv_hex_value(body[k + 1]) : -1;
                    int lo = k + 2 < end ? bv_hex_value(body[k + 2]) : -1;
                    if (hi < 0 || lo < 0) {
                        return -1;
                    }
                    c = hi * 16 + lo;
                    k += 2;
                }
                if (c == 0 || o + 1 >= outlen) {
                    return -1;
                }
                out[o++] = (char)c;
            }
            out[o] = '\0';
            return (int)o;
        }
        i = end + 1;
    }
    return -1;
}
