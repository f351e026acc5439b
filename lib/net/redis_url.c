/* redis_url.c: the Redis URL parser; see redis_url.h. One pass over a bounded input: check the
 * bytes, pick the scheme, split user info at the last '@', then host, port and db, or the path.
 * Messages point at 1-based positions and never quote the user info (it may hold the password). */
#include "net/redis_url.h"
#include "core/buf.h"
#include "core/err.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_MAX 253 /* a DNS name without its trailing dot */
#define LABEL_MAX 63

static const char TLS_MSG[] = "TLS (rediss://) is not supported by Debian 12's hiredis 0.14; "
                              "use a TLS tunnel such as stunnel or spiped";
static const char FORMS[] = "redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:/PATH[?db=N]";

__attribute__((format(printf, 3, 4))) static int fail(char *errstr, size_t errlen, const char *fmt,
                                                      ...)
{
    if (errstr != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errlen, fmt, ap);
        va_end(ap);
    }
    return BV_EINVAL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int prefix_nocase(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len < n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != prefix[i]) {
            return 0;
        }
    }
    return 1;
}

/* Decodes s[0..n) with its %XX escapes into a new string (caller frees); pos is the 1-based
 * position of s[0] in the URL, what names the part for messages. A decoded NUL is refused: the
 * result is a C string. */
static int decode(const char *s, size_t n, size_t pos, const char *what, char **out, size_t *outlen,
                  char *errstr, size_t errlen)
{
    *out = NULL;
    char *d = malloc(n + 1);
    if (d == NULL) {
        return BV_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[k++] = s[i];
            continue;
        }
        int hi = i + 1 < n ? bv_hex_value(s[i + 1]) : -1;
        int lo = i + 2 < n ? bv_hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(d);
            return fail(errstr, errlen,
                        "bad percent escape at position %zu in the %s: '%%' must be followed by "
                        "two hex digits (write %%25 for a '%%' itself)",
                        pos + i, what);
        }
        if (hi == 0 && lo == 0) {
            free(d);
            return fail(errstr, errlen, "%%00 (a NUL byte) at position %zu in the %s", pos + i,
                        what);
        }
        d[k++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[k] = '\0';
    *out = d;
    if (outlen != NULL) {
        *outlen = k;
    }
    return BV_OK;
}

/* A database number: digits only, 0..INT_MAX. tcp: it came from the path of a redis:// URL. */
static int parse_db(const char *s, size_t n, size_t pos, int tcp, int *db, char *errstr,
                    size_t errlen)
{
    if (n == 0) {
        return fail(errstr, errlen, "missing database number at position %zu", pos);
    }
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            if (tcp && s[i] == '?') {
                return fail(errstr, errlen,
                            "query strings are not supported in redis:// URLs (position %zu); "
                            "give the database as redis://HOST:PORT/DB",
                            pos + i);
            }
            return fail(errstr, errlen,
                        "bad character '%c' at position %zu in the database number: digits only "
                        "(0..2147483647)",
                        s[i], pos + i);
        }
        v = v * 10 + (s[i] - '0');
        if (v > INT_MAX) {
            return fail(errstr, errlen,
                        "database number at position %zu is out of range 0..2147483647", pos);
        }
    }
    *db = (int)v;
    return BV_OK;
}

/* A host name: labels of letters, digits, '-' and '_', 1..63 bytes each, separated by dots, one
 * trailing dot allowed. A name whose last label is all digits must be an IPv4 address: the
 * resolver would otherwise read "127.1" or "2130706433" as one. */
static int check_host_name(const char *h, size_t n, size_t pos, int *is_ip, char *errstr,
                           size_t errlen)
{
    size_t end = n;
    if (end > 1 && h[end - 1] == '.') {
        end--;
    }
    if (end > HOST_MAX) {
        return fail(errstr, errlen, "host name is longer than %d bytes", HOST_MAX);
    }
    size_t label = 0;
    int numeric = 1;
    for (size_t i = 0; i <= end; i++) {
        if (i == end || h[i] == '.') {
            if (label == 0) {
                return fail(errstr, errlen, "empty label in host name '%.*s' at position %zu",
                            (int)n, h, pos + i);
            }
            if (h[i - 1] == '-' || h[i - label] == '-') {
                return fail(errstr, errlen,
                            "host name '%.*s' has a label that starts or ends with '-'", (int)n, h);
            }
            if (i == end) {
                break;
            }
            label = 0;
            numeric = 1;
            continue;
        }
        if (++label > LABEL_MAX) {
            return fail(errstr, errlen, "host name has a label longer than %d bytes", LABEL_MAX);
        }
        if (!is_digit(h[i])) {
            numeric = 0;
        }
    }
    *is_ip = 0;
    if (numeric) {
        char buf[HOST_MAX + 1];
        memcpy(buf, h, end);
        buf[end] = '\0';
        struct in_addr a4;
        if (inet_pton(AF_INET, buf, &a4) != 1 || end != n) {
            return fail(errstr, errlen,
                        "'%.*s' is not a valid IPv4 address (four decimal numbers 0..255)", (int)n,
                        h);
        }
        *is_ip = 1;
    }
    return BV_OK;
}

/* Port: digits only, 1..65535. */
static int parse_port(const char *s, size_t n, size_t pos, int *port, char *errstr, size_t errlen)
{
    if (n == 0) {
        return fail(errstr, errlen, "missing port after ':' at position %zu", pos - 1);
    }
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return fail(errstr, errlen,
                        "bad character '%c' at position %zu in the port: digits only (1..65535)",
                        s[i], pos + i);
        }
        v = v * 10 + (s[i] - '0');
        if (v > 65535) {
            return fail(errstr, errlen, "port at position %zu is out of range 1..65535", pos);
        }
    }
    if (v == 0) {
        return fail(errstr, errlen, "port 0 at position %zu is out of range 1..65535", pos);
    }
    *port = (int)v;
    return BV_OK;
}

/* The user info before the last '@': "[USER]:PASSWORD", USER empty or "default". s starts at
 * 1-based position pos. Never quotes the text: the user may have put the password anywhere. */
static int parse_userinfo(const char *s, size_t n, size_t pos, bv_redis_addr *a, char *errstr,
                          size_t errlen)
{
    const char *at = memchr(s, '@', n);
    if (at != NULL) {
        return fail(errstr, errlen,
                    "more than one '@' (position %zu): write an '@' in the password as %%40",
                    pos + (size_t)(at - s));
    }
    const char *colon = memchr(s, ':', n);
    if (colon == NULL) {
        return fail(errstr, errlen,
                    "no ':' in the user info before '@': write the password as "
                    "redis://:PASSWORD@HOST (ACL user names are not supported)");
    }
    size_t ulen = (size_t)(colon - s);
    char *user;
    int rc = decode(s, ulen, pos, "user name", &user, NULL, errstr, errlen);
    if (rc != BV_OK) {
        return rc;
    }
    int ok = user[0] == '\0' || strcmp(user, "default") == 0;
    free(user);
    if (!ok) {
        return fail(errstr, errlen,
                    "ACL users are not supported: Debian 12's hiredis 0.14 sends only AUTH "
                    "PASSWORD; leave the user empty or 'default' (redis://:PASSWORD@HOST)");
    }
    size_t plen;
    rc = decode(colon + 1, n - ulen - 1, pos + ulen + 1, "password", &a->password, &plen, errstr,
                errlen);
    if (rc != BV_OK) {
        return rc;
    }
    if (plen == 0) {
        free(a->password);
        a->password = NULL;
    }
    return BV_OK;
}

/* After "redis://": [userinfo@]host[:port][/db]. s starts at 1-based position pos. */
static int parse_tcp(const char *s, size_t n, size_t pos, bv_redis_addr *a, char *errstr,
                     size_t errlen)
{
    const char *at = NULL;
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == '@') {
            at = s + i - 1;
            break;
        }
    }
    if (at != NULL) {
        size_t ulen = (size_t)(at - s);
        int rc = parse_userinfo(s, ulen, pos, a, errstr, errlen);
        if (rc != BV_OK) {
            return rc;
        }
        s += ulen + 1;
        n -= ulen + 1;
        pos += ulen + 1;
    }
    if (n == 0 || s[0] == '/' || s[0] == '?') {
        return fail(errstr, errlen, "missing host at position %zu: expected %s", pos, FORMS);
    }
    size_t i = 0;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) {
            return fail(errstr, errlen, "missing ']' after the IPv6 address at position %zu", pos);
        }
        size_t hlen = (size_t)(close - s) - 1;
        char buf[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        if (hlen == 0 || hlen >= sizeof buf) {
            return fail(errstr, errlen, "bad IPv6 address '%.*s' at position %zu", (int)hlen + 2, s,
                        pos);
        }
        memcpy(buf, s + 1, hlen);
        buf[hlen] = '\0';
        if (inet_pton(AF_INET6, buf, &a6) != 1) {
            return fail(errstr, errlen, "bad IPv6 address '%.*s' at position %zu", (int)hlen + 2, s,
                        pos);
        }
        a->host = strdup(buf);
        if (a->host == NULL) {
            return BV_ENOMEM;
        }
        a->host_is_ip = 1;
        i = hlen + 2;
    } else {
        /* "::1" or "fe80::1:6379": an IPv6 address someone forgot to bracket */
        size_t colons = 0;
        int hexish = 1;
        for (size_t k = 0; k < n && s[k] != '/'; k++) {
            colons += s[k] == ':';
            hexish = hexish && (s[k] == ':' || s[k] == '.' || bv_hex_value(s[k]) >= 0);
        }
        if (colons > 1 && hexish) {
            return fail(errstr, errlen,
                        "an IPv6 address must be in brackets, as in redis://[::1]:6379");
        }
        while (i < n &&
               (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_')) {
            i++;
        }
        if (i < n && s[i] != ':' && s[i] != '/') {
            if (s[i] == '?') {
                return fail(errstr, errlen,
                            "query strings are not supported in redis:// URLs (position %zu); "
                            "give the database as redis://HOST:PORT/DB",
                            pos + i);
            }
            return fail(errstr, errlen, "bad character '%c' at position %zu in the host name", s[i],
                        pos + i);
        }
        if (i == 0) {
            return fail(errstr, errlen, "missing host at position %zu: expected %s", pos, FORMS);
        }
        int rc = check_host_name(s, i, pos, &a->host_is_ip, errstr, errlen);
        if (rc != BV_OK) {
            return rc;
        }
        a->host = strndup(s, i);
        if (a->host == NULL) {
            return BV_ENOMEM;
        }
    }
    a->port = BV_REDIS_DEFAULT_PORT;
    if (i < n && s[i] == ':') {
        size_t start = ++i;
        while (i < n && s[i] != '/' && s[i] != '?') {
            i++;
        }
        int rc = parse_port(s + start, i - start, pos + start, &a->port, errstr, errlen);
        if (rc != BV_OK) {
            return rc;
        }
    }
    if (i < n && s[i] == '/') {
        i++;
        /* "redis://host/" is database 0, as redis-cli and redis-py read it */
        if (i < n) {
            return parse_db(s + i, n - i, pos + i, 1, &a->db, errstr, errlen);
        }
        return BV_OK;
    }
    if (i < n) {
        if (s[i] == '?') {
            return fail(errstr, errlen,
                        "query strings are not supported in redis:// URLs (position %zu); "
                        "give the database as redis://HOST:PORT/DB",
                        pos + i);
        }
        return fail(errstr, errlen, "bad character '%c' at position %zu after the host", s[i],
                    pos + i);
    }
    return BV_OK;
}

/* After "unix:" (and "//" if present): /PATH[?db=N]. s starts at 1-based position pos. */
static int parse_unix(const char *s, size_t n, size_t pos, bv_redis_addr *a, char *errstr,
                      size_t errlen)
{
    const char *q = memchr(s, '?', n);
    size_t plen = q != NULL ? (size_t)(q - s) : n;
    if (plen == 0) {
        return fail(errstr, errlen, "missing socket path at position %zu: expected unix:/PATH",
                    pos);
    }
    if (s[0] != '/') {
        return fail(errstr, errlen,
                    "the socket path must be absolute: unix:/PATH or unix:///PATH (position %zu)",
                    pos);
    }
    const char *hash = memchr(s, '#', plen);
    if (hash != NULL) {
        return fail(errstr, errlen, "'#' at position %zu in the socket path: write it as %%23",
                    pos + (size_t)(hash - s));
    }
    size_t dlen;
    int rc = decode(s, plen, pos, "socket path", &a->path, &dlen, errstr, errlen);
    if (rc != BV_OK) {
        return rc;
    }
    if (dlen > BV_REDIS_PATH_MAX) {
        return fail(errstr, errlen, "the socket path is %zu bytes, longer than the limit of %d",
                    dlen, BV_REDIS_PATH_MAX);
    }
    if (a->path[dlen - 1] == '/') {
        return fail(errstr, errlen, "the socket path ends in '/': it must name the socket file");
    }
    if (q == NULL) {
        return BV_OK;
    }
    const char *qs = q + 1;
    size_t qn = n - plen - 1;
    size_t qpos = pos + plen + 1;
    if (qn == 0) {
        return fail(errstr, errlen, "empty query after '?' at position %zu", qpos - 1);
    }
    size_t klen = 0;
    while (klen < qn && qs[klen] != '=' && qs[klen] != '&' && qs[klen] != ';') {
        klen++;
    }
    if (klen != 2 || memcmp(qs, "db", 2) != 0) {
        /* the key only: a value may be a password */
        return fail(errstr, errlen,
                    "unsupported query parameter '%.*s' at position %zu in a unix: URL; only "
                    "?db=N is supported",
                    klen > 32 ? 32 : (int)klen, qs, qpos);
    }
    if (klen == qn || qs[klen] != '=') {
        return fail(errstr, errlen, "missing '=N' after 'db' at position %zu", qpos + klen);
    }
    const char *amp = memchr(qs, '&', qn);
    if (amp == NULL) {
        amp = memchr(qs, ';', qn);
    }
    if (amp != NULL) {
        return fail(errstr, errlen,
                    "more than one query parameter (position %zu); only ?db=N is supported",
                    qpos + (size_t)(amp - qs));
    }
    return parse_db(qs + 3, qn - 3, qpos + 3, 0, &a->db, errstr, errlen);
}

/* Refuses bytes no Redis URL holds literally; the message names the kind and position only. */
static int check_bytes(const char *url, size_t len, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c == 0) {
            return fail(errstr, errlen, "NUL byte at position %zu in the Redis URL", i + 1);
        }
        if (c == ' ') {
            return fail(errstr, errlen,
                        "space at position %zu in the Redis URL (write it as %%20 in a password)",
                        i + 1);
        }
        if (c < 0x20 || c == 0x7f) {
            return fail(errstr, errlen, "control character at position %zu in the Redis URL",
                        i + 1);
        }
        if (c >= 0x80) {
            return fail(errstr, errlen,
                        "non-ASCII byte at position %zu in the Redis URL (percent-encode it)",
                        i + 1);
        }
    }
    return BV_OK;
}

static int parse(const char *url, size_t len, bv_redis_addr *a, char *errstr, size_t errlen)
{
    if (url == NULL || len == 0) {
        return fail(errstr, errlen, "empty Redis URL: expected %s", FORMS);
    }
    if (len > BV_REDIS_URL_MAX) {
        return fail(errstr, errlen, "the Redis URL is %zu bytes, longer than the limit of %d", len,
                    BV_REDIS_URL_MAX);
    }
    int rc = check_bytes(url, len, errstr, errlen);
    if (rc != BV_OK) {
        return rc;
    }
    if (prefix_nocase(url, len, "redis://")) {
        return parse_tcp(url + 8, len - 8, 9, a, errstr, errlen);
    }
    if (prefix_nocase(url, len, "unix:")) {
        size_t skip = prefix_nocase(url, len, "unix://") ? 7 : 5;
        return parse_unix(url + skip, len - skip, skip + 1, a, errstr, errlen);
    }
    if (prefix_nocase(url, len, "rediss:")) {
        return fail(errstr, errlen, "%s", TLS_MSG);
    }
    if (prefix_nocase(url, len, "redis:")) {
        return fail(errstr, errlen, "expected '//' after 'redis:': %s", FORMS);
    }
    /* a scheme is a letter, then letters, digits, '+', '-', '.', then ':' */
    size_t k = 0;
    if (is_alpha(url[0])) {
        while (k < len && (is_alpha(url[k]) || is_digit(url[k]) || url[k] == '+' || url[k] == '-' ||
                           url[k] == '.')) {
            k++;
        }
    }
    if (k > 0 && k + 2 < len && url[k] == ':' && url[k + 1] == '/' && url[k + 2] == '/') {
        return fail(errstr, errlen, "unsupported scheme '%.*s://': expected %s",
                    k > 32 ? 32 : (int)k, url, FORMS);
    }
    if (url[0] == '/' && (len == 1 || url[1] != '/')) {
        return fail(errstr, errlen, "a socket path needs the unix: scheme, as in unix:%.*s",
                    len > 200 ? 200 : (int)len, url);
    }
    return fail(errstr, errlen, "missing 'redis://' or 'unix:' at the start: expected %s", FORMS);
}

int bv_redis_url_parse(const char *url, size_t len, bv_redis_addr *out, char *errstr, size_t errlen)
{
    if (errstr != NULL && errlen > 0) {
        errstr[0] = '\0';
    }
    memset(out, 0, sizeof *out);
    bv_redis_addr a = {0};
    int rc = parse(url, len, &a, errstr, errlen);
    if (rc != BV_OK) {
        bv_redis_addr_free(&a);
        if (rc == BV_ENOMEM) {
            fail(errstr, errlen, "out of memory");
        }
        return rc;
    }
    *out = a;
    return BV_OK;
}

void bv_redis_addr_free(bv_redis_addr *a)
{
    if (a == NULL) {
        return;
    }
    free(a->host);
    free(a->path);
    if (a->password != NULL) {
        /* a courtesy to core dumps; not a guarantee (copies may exist elsewhere) */
        memset(a->password, 0, strlen(a->password));
        free(a->password);
    }
    memset(a, 0, sizeof *a);
}

typedef struct fmtbuf {
    char *out;
    size_t cap, len; /* len counts what fits, cap - 1 at most */
} fmtbuf;

static void put(fmtbuf *f, const char *s, size_t n)
{
    size_t room = f->cap - 1 - f->len;
    if (n > room) {
        n = room;
    }
    memcpy(f->out + f->len, s, n);
    f->len += n;
    f->out[f->len] = '\0';
}

/* Copies s, writing as %XX the bytes a log or a re-parse could misread, and '@' so that no
 * formatted address looks as if it carried user info. */
static void put_escaped(fmtbuf *f, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '#' || c == '@') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(f, e, 3);
        } else {
            put(f, s, 1);
        }
    }
}

void bv_redis_addr_format(const bv_redis_addr *a, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0) {
        return;
    }
    fmtbuf f = {out, outlen, 0};
    out[0] = '\0';
    if (a == NULL) {
        return;
    }
    char num[32];
    if (a->path != NULL) {
        /* "unix://x" would read as "unix://" then "x": a path that starts with "//" needs it */
        if (strncmp(a->path, "//", 2) == 0) {
            put(&f, "unix://", 7);
        } else {
            put(&f, "unix:", 5);
        }
        put_escaped(&f, a->path);
        if (a->db != 0) {
            int n = snprintf(num, sizeof num, "?db=%d", a->db);
            put(&f, num, (size_t)n);
        }
        return;
    }
    if (a->host == NULL) {
        return;
    }
    put(&f, "redis://", 8);
    int v6 = strchr(a->host, ':') != NULL;
    if (v6) {
        put(&f, "[", 1);
    }
    put_escaped(&f, a->host);
    if (v6) {
        put(&f, "]", 1);
    }
    int n = snprintf(num, sizeof num, ":%d/%d", a->port, a->db);
    put(&f, num, (size_t)n);
}
