/* redis_url.h: parses the address of a Redis server as the operator writes it (`--redis URL`, the
 * YAML config): redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:PATH[?db=N]. Pure, no I/O.
 * A parsed bv_redis_addr owns its strings; bv_redis_addr_free releases them.
 *
 * Accepted:
 *   redis://HOST[:PORT][/DB]     HOST a host name, an IPv4 address or [IPv6]; PORT 1..65535
 *                                (default 6379); DB digits, 0..2147483647 (default 0; "/" is 0)
 *   redis://:PASSWORD@HOST...    also "default:PASSWORD@" (the default ACL user); PASSWORD may
 *                                hold %XX escapes (%40 for '@', %3A for ':', %25 for '%'); an
 *                                empty password means none
 *   unix:/PATH, unix:///PATH     an absolute socket path of at most 107 bytes, %XX escapes
 *                                decoded, optionally followed by ?db=N
 * The scheme is matched without regard to case. Rejected, with a message that never contains the
 * password: rediss:// (hiredis 0.14 has no TLS), other users than "default" (hiredis 0.14 speaks
 * only AUTH PASSWORD), spaces, control and non-ASCII bytes (percent-encode them), NUL bytes,
 * input longer than BV_REDIS_URL_MAX bytes, and anything else not in the forms above. */
#ifndef BV_NET_REDIS_URL_H
#define BV_NET_REDIS_URL_H

#include <stddef.h>

/* Longest URL accepted, in bytes. */
#define BV_REDIS_URL_MAX 4096
/* Default TCP port. */
#define BV_REDIS_DEFAULT_PORT 6379
/* Longest unix socket path (sun_path is 108 bytes with its NUL). */
#define BV_REDIS_PATH_MAX 107
/* A buffer of this size always holds bv_redis_addr_format's output for a parsed address. */
#define BV_REDIS_ADDR_FMT_MAX 512

typedef struct bv_redis_addr {
    char *host;     /* NULL for unix sockets; IPv6 without brackets */
    int port;       /* 0 for unix */
    char *path;     /* unix socket path, or NULL */
    char *password; /* decoded, or NULL (none, or empty) */
    int db;
    int host_is_ip; /* host is a literal IPv4/IPv6 address (no resolving needed) */
} bv_redis_addr;

/* Parses url (len bytes, borrowed, need not be NUL-terminated). Returns BV_OK, BV_EINVAL with a
 * message in errstr (errstr may be NULL or errlen 0 when no message is wanted), or BV_ENOMEM.
 * On success *out owns its strings: free with bv_redis_addr_free. On failure *out is zeroed and
 * owns nothing (freeing it is harmless). */
int bv_redis_url_parse(const char *url, size_t len, bv_redis_addr *out, char *errstr,
                       size_t errlen);
/* Frees the strings *a owns and zeroes it (NULL is fine). Does not free a itself. */
void bv_redis_addr_free(bv_redis_addr *a);
/* Writes "redis://HOST:PORT/DB" (IPv6 hosts in brackets) or "unix:PATH" ("unix:PATH?db=N" when
 * db is not 0) into out, NUL-terminated and truncated to outlen. The password is never shown.
 * Path bytes outside printable ASCII, and '%', '?', '#', '@', are written as %XX, so the text is
 * safe for logs, holds no '@', and parses back to the same address without its password. The
 * empty string for a zeroed address. */
void bv_redis_addr_format(const bv_redis_addr *a, char *out, size_t outlen);

#endif
