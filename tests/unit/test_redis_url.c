/* test_redis_url.c: the Redis URL parser (lib/net/redis_url.h): every accepted form with its
 * fields, every rejection with its message, prefixes, garbage, size limits, and formatting that
 * never shows the password and parses back to the same address. */
#include "testutil.h"

#include "core/err.h"
#include "net/redis_url.h"

#include <limits.h>

typedef struct accept_case {
    const char *url;
    const char *host; /* NULL: a unix socket */
    int port;
    const char *path;
    const char *password;
    int db;
    int host_is_ip;
} accept_case;

static const accept_case accepted[] = {
    {"redis://localhost", "localhost", 6379, NULL, NULL, 0, 0},
    {"redis://localhost:6380", "localhost", 6380, NULL, NULL, 0, 0},
    {"redis://localhost:6380/2", "localhost", 6380, NULL, NULL, 2, 0},
    {"redis://localhost/", "localhost", 6379, NULL, NULL, 0, 0},
    {"redis://localhost:7000/", "localhost", 7000, NULL, NULL, 0, 0},
    {"redis://localhost/15", "localhost", 6379, NULL, NULL, 15, 0},
    {"redis://127.0.0.1:6379/0", "127.0.0.1", 6379, NULL, NULL, 0, 1},
    {"redis://10.1.2.3", "10.1.2.3", 6379, NULL, NULL, 0, 1},
    {"redis://[::1]:6379/1", "::1", 6379, NULL, NULL, 1, 1},
    {"redis://[::1]", "::1", 6379, NULL, NULL, 0, 1},
    {"redis://[2001:db8::42]/3", "2001:db8::42", 6379, NULL, NULL, 3, 1},
    {"redis://[::ffff:192.0.2.1]:7000", "::ffff:192.0.2.1", 7000, NULL, NULL, 0, 1},
    {"redis://:secret@redis.example.com:6379/0", "redis.example.com", 6379, NULL, "secret", 0, 0},
    {"redis://default:secret@db", "db", 6379, NULL, "secret", 0, 0},
    {"redis://:p%40ss%3Aw%25rd@h", "h", 6379, NULL, "p@ss:w%rd", 0, 0},
    {"redis://:p%3aw@h", "h", 6379, NULL, "p:w", 0, 0},
    {"redis://:a:b@h", "h", 6379, NULL, "a:b", 0, 0},
    {"redis://:pa/ss?#[]!$&'()*+,;=~@h:1/1", "h", 1, NULL, "pa/ss?#[]!$&'()*+,;=~", 1, 0},
    {"redis://:%C3%A9t%C3%A9@h", "h", 6379, NULL, "\xc3\xa9t\xc3\xa9", 0, 0},
    {"redis://:@h", "h", 6379, NULL, NULL, 0, 0},
    {"redis://default:@h", "h", 6379, NULL, NULL, 0, 0},
    {"redis://%64efault:x@h", "h", 6379, NULL, "x", 0, 0},
    {"redis://:pw@[::1]:6390/4", "::1", 6390, NULL, "pw", 4, 1},
    {"REDIS://Host.Example.COM:1/2147483647", "Host.Example.COM", 1, NULL, NULL, INT_MAX, 0},
    {"Redis://h:65535", "h", 65535, NULL, NULL, 0, 0},
    {"redis://h:00080/007", "h", 80, NULL, NULL, 7, 0},
    {"redis://my_redis-1:6379", "my_redis-1", 6379, NULL, NULL, 0, 0},
    {"redis://redis.example.com.", "redis.example.com.", 6379, NULL, NULL, 0, 0},
    {"redis://r2d2.example", "r2d2.example", 6379, NULL, NULL, 0, 0},
    {"redis://1.example.2a", "1.example.2a", 6379, NULL, NULL, 0, 0},
    {"unix:/run/redis/redis.sock", NULL, 0, "/run/redis/redis.sock", NULL, 0, 0},
    {"unix:///run/redis/redis.sock", NULL, 0, "/run/redis/redis.sock", NULL, 0, 0},
    {"unix:/tmp/r.sock?db=3", NULL, 0, "/tmp/r.sock", NULL, 3, 0},
    {"unix:///tmp/r.sock?db=0", NULL, 0, "/tmp/r.sock", NULL, 0, 0},
    {"UNIX:/tmp/a%20b%3f%25.sock", NULL, 0, "/tmp/a b?%.sock", NULL, 0, 0},
    {"Unix:/s", NULL, 0, "/s", NULL, 0, 0},
    {"unix:////s", NULL, 0, "//s", NULL, 0, 0},
    {"unix://///s", NULL, 0, "///s", NULL, 0, 0},
    {"unix:/x?db=2147483647", NULL, 0, "/x", NULL, INT_MAX, 0},
};

typedef struct reject_case {
    const char *url;
    const char *msg; /* a substring of the message */
} reject_case;

static const reject_case rejected[] = {
    {"", "empty Redis URL"},
    {"rediss://h:6380/0",
     "TLS (rediss://) is not supported by Debian 12's hiredis 0.14; use a TLS tunnel such as "
     "stunnel or spiped"},
    {"REDISS://:pw@h", "TLS (rediss://) is not supported"},
    {"http://h", "unsupported scheme 'http://'"},
    {"redis+sentinel://h", "unsupported scheme 'redis+sentinel://'"},
    {"tcp://127.0.0.1:6379", "unsupported scheme 'tcp://'"},
    {"localhost:6379", "missing 'redis://' or 'unix:' at the start"},
    {"localhost", "missing 'redis://' or 'unix:' at the start"},
    {"127.0.0.1", "missing 'redis://' or 'unix:' at the start"},
    {"//h", "missing 'redis://' or 'unix:'"},
    {"/run/redis.sock", "a socket path needs the unix: scheme, as in unix:/run/redis.sock"},
    {"redis:h", "expected '//' after 'redis:'"},
    {"redis:/h", "expected '//' after 'redis:'"},
    {"redis://", "missing host at position 9"},
    {"redis://:6379", "missing host"},
    {"redis:///0", "missing host"},
    {"redis://?db=1", "missing host"},
    {"redis://:pw@", "missing host"},
    {"redis://:pw@:6379", "missing host"},
    {"redis://h:", "missing port after ':' at position 10"},
    {"redis://h:/1", "missing port"},
    {"redis://h:0", "port 0 at position 11 is out of range 1..65535"},
    {"redis://h:65536", "out of range 1..65535"},
    {"redis://h:99999999999999999999999", "out of range 1..65535"},
    {"redis://h:-1", "bad character '-' at position 11 in the port"},
    {"redis://h:+1", "bad character '+' at position 11 in the port"},
    {"redis://h:63a", "bad character 'a' at position 13 in the port"},
    {"redis://h:63:79", "bad character ':' at position 13 in the port"},
    {"redis://h/-1", "bad character '-' at position 11 in the database number"},
    {"redis://h/1x", "bad character 'x' at position 12 in the database number"},
    {"redis://h/1/2", "bad character '/' at position 12 in the database number"},
    {"redis://h/ 1", "space at position 11"},
    {"redis://h/2147483648", "database number at position 11 is out of range 0..2147483647"},
    {"redis://h/99999999999999999999999999", "out of range 0..2147483647"},
    {"redis://h?db=1", "query strings are not supported in redis:// URLs (position 10)"},
    {"redis://h:6379?db=1", "query strings are not supported in redis:// URLs"},
    {"redis://h/1?x=y", "query strings are not supported in redis:// URLs"},
    {"redis://[::1]?db=1", "query strings are not supported in redis:// URLs"},
    {"redis://ho st", "space at position 11 in the Redis URL"},
    {"redis://host\t", "control character at position 13"},
    {"redis://host\r\n", "control character at position 13"},
    {"redis://h\x7f", "control character at position 10"},
    {"redis://h\x80", "non-ASCII byte at position 10"},
    {"redis://h\xc3\xa9", "non-ASCII byte at position 10"},
    {" redis://h", "space at position 1"},
    {"redis://alice:pw@h", "ACL users are not supported"},
    {"redis://Default:pw@h", "ACL users are not supported"},
    {"redis://pw@h", "no ':' in the user info before '@'"},
    {"redis://@h", "no ':' in the user info before '@'"},
    {"redis://:p@ss@h", "more than one '@' (position 11): write an '@' in the password as %40"},
    {"redis://:p%4@h", "bad percent escape at position 11 in the password"},
    {"redis://:p%zz@h", "bad percent escape at position 11 in the password"},
    {"redis://:p%@h", "bad percent escape at position 11 in the password"},
    {"redis://:p%", "missing host at position 9"},
    {"redis://:p%00@h", "%00 (a NUL byte) at position 11 in the password"},
    {"redis://us%er:p@h", "bad percent escape at position 11 in the user name"},
    {"redis://%00:p@h", "%00 (a NUL byte) at position 9 in the user name"},
    {"redis://::1", "an IPv6 address must be in brackets"},
    {"redis://::1:6379/0", "an IPv6 address must be in brackets"},
    {"redis://fe80::1:6379", "an IPv6 address must be in brackets"},
    {"redis://[::1", "missing ']' after the IPv6 address at position 9"},
    {"redis://[]", "bad IPv6 address '[]'"},
    {"redis://[zz::1]", "bad IPv6 address '[zz::1]'"},
    {"redis://[127.0.0.1]", "bad IPv6 address"},
    {"redis://[fe80::1%25eth0]", "bad IPv6 address"},
    {"redis://[1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16]", "bad IPv6 address"},
    {"redis://[::1]x", "bad character 'x' at position 14 after the host"},
    {"redis://[::1]]", "bad character ']'"},
    {"redis://127.1", "'127.1' is not a valid IPv4 address"},
    {"redis://256.0.0.1", "'256.0.0.1' is not a valid IPv4 address"},
    {"redis://1.2.3.4.5", "not a valid IPv4 address"},
    {"redis://2130706433:6379", "'2130706433' is not a valid IPv4 address"},
    {"redis://127.0.0.1.", "not a valid IPv4 address"},
    {"redis://a.b.3", "'a.b.3' is not a valid IPv4 address"},
    {"redis://a..b", "empty label in host name 'a..b' at position 11"},
    {"redis://.a", "empty label"},
    {"redis://.", "empty label"},
    {"redis://a.b..", "empty label"},
    {"redis://-a.b", "has a label that starts or ends with '-'"},
    {"redis://a-.b", "has a label that starts or ends with '-'"},
    {"redis://ho%73t", "bad character '%' at position 11 in the host name"},
    {"redis://h#frag", "bad character '#' at position 10 in the host name"},
    {"redis://h/0#frag", "bad character '#'"},
    {"redis://[::1]:1/0#f", "bad character '#'"},
    {"unix:", "missing socket path at position 6"},
    {"unix://", "missing socket path at position 8"},
    {"unix:?db=1", "missing socket path"},
    {"unix:run/redis.sock", "the socket path must be absolute"},
    {"unix://run/redis.sock", "the socket path must be absolute"},
    {"unix:/run/redis/", "the socket path ends in '/'"},
    {"unix:/", "the socket path ends in '/'"},
    {"unix:/x?", "empty query after '?' at position 8"},
    {"unix:/x?db", "missing '=N' after 'db'"},
    {"unix:/x?db&x", "missing '=N' after 'db'"},
    {"unix:/x?db=", "missing database number"},
    {"unix:/x?db=a", "bad character 'a' at position 12 in the database number"},
    {"unix:/x?db=1?x", "bad character '?' at position 13 in the database number"},
    {"unix:/x?db=-1", "bad character '-'"},
    {"unix:/x?db=2147483648", "out of range 0..2147483647"},
    {"unix:/x?db=1&db=2", "more than one query parameter (position 13)"},
    {"unix:/x?db=1;x=2", "more than one query parameter"},
    {"unix:/x?DB=1", "unsupported query parameter 'DB'"},
    {"unix:/x?password=secret", "unsupported query parameter 'password' at position 9"},
    {"unix:/x?=1", "unsupported query parameter ''"},
    {"unix:/a#b", "'#' at position 8 in the socket path: write it as %23"},
    {"unix:/a%2", "bad percent escape at position 8 in the socket path"},
    {"unix:/a%00b", "%00 (a NUL byte) at position 8 in the socket path"},
    {"unix:/a b", "space at position 8"},
};

/* Parses url from an exact-size copy, so the sanitizers see any read past len. */
static int parse_exact(const char *url, size_t len, bv_redis_addr *a, char *err, size_t errlen)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len) {
        memcpy(copy, url, len);
    }
    int rc = bv_redis_url_parse(copy, len, a, err, errlen);
    free(copy);
    return rc;
}

static void assert_str_or_null(const char *got, const char *want)
{
    if (want == NULL) {
        assert_null(got);
    } else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

static void check_fields(const bv_redis_addr *a, const accept_case *c, int with_password)
{
    assert_str_or_null(a->host, c->host);
    assert_str_or_null(a->path, c->path);
    assert_str_or_null(a->password, with_password ? c->password : NULL);
    assert_int_equal(a->port, c->port);
    assert_int_equal(a->db, c->db);
    assert_int_equal(a->host_is_ip, c->host_is_ip);
}

static void test_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        const accept_case *c = &accepted[i];
        bv_redis_addr a;
        char err[256] = "untouched";
        int rc = parse_exact(c->url, strlen(c->url), &a, err, sizeof err);
        if (rc != BV_OK) {
            fail_msg("%s: rejected: %s", c->url, err);
        }
        assert_string_equal(err, "");
        check_fields(&a, c, 1);
        bv_redis_addr_free(&a);
        assert_null(a.host);
        assert_null(a.password);
        assert_null(a.path);
    }
}

static void test_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        const reject_case *c = &rejected[i];
        bv_redis_addr a;
        char err[512];
        int rc = parse_exact(c->url, strlen(c->url), &a, err, sizeof err);
        if (rc != BV_EINVAL) {
            fail_msg("%s: rc %d, want BV_EINVAL", c->url, rc);
        }
        if (strstr(err, c->msg) == NULL) {
            fail_msg("%s: message \"%s\" lacks \"%s\"", c->url, err, c->msg);
        }
        assert_null(a.host);
        assert_null(a.path);
        assert_null(a.password);
        assert_int_equal(a.port, 0);
        bv_redis_addr_free(&a);
    }
}

/* Input that is not a C string: NUL bytes, and bytes past len that must not be read. */
static void test_nul_and_length(void **state)
{
    (void)state;
    bv_redis_addr a;
    char err[256];
    assert_int_equal(parse_exact("redis://ho\0st", 13, &a, err, sizeof err), BV_EINVAL);
    assert_string_equal(err, "NUL byte at position 11 in the Redis URL");
    assert_int_equal(parse_exact("redis://h\0", 10, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "NUL byte at position 10"));
    assert_int_equal(parse_exact("\0", 1, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "NUL byte at position 1"));
    assert_int_equal(parse_exact("redis://:a\0b@h", 14, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "NUL byte at position 11"));

    /* only len bytes count: the rest of the buffer is ignored */
    const char buf[] = "redis://h:6380/1 trailing junk";
    assert_int_equal(bv_redis_url_parse(buf, 16, &a, err, sizeof err), BV_OK);
    assert_string_equal(a.host, "h");
    assert_int_equal(a.port, 6380);
    assert_int_equal(a.db, 1);
    bv_redis_addr_free(&a);

    assert_int_equal(bv_redis_url_parse(NULL, 0, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "empty Redis URL"));
    assert_int_equal(bv_redis_url_parse("redis://h", 0, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "empty Redis URL"));
}

/* No rejection quotes the user info: the user may have put the password anywhere in it. */
static void test_messages_hide_password(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "redis://alice:hunter2@h",  "redis://hunter2@h",
        "redis://hunter2:@h",       "redis://:hun@ter2@h",
        "redis://:hunter2%zz@h",    "redis://:hunter2%00@h",
        "redis://hunter2%:x@h",     "redis://:hunter2@",
        "redis://:hunter2@h:0",     "redis://:hunter2@h/x",
        "redis://:hunter2@h?db=1",  "redis://:hunter2@[::1",
        "rediss://:hunter2@h",      "redis://:hunter2@h:1/99999999999",
        "unix:/x?password=hunter2", "unix:/x?db=1&password=hunter2",
        "redis://:hunter2@::1",     "http://:hunter2@h",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        bv_redis_addr a;
        char err[512];
        assert_int_equal(parse_exact(urls[i], strlen(urls[i]), &a, err, sizeof err), BV_EINVAL);
        assert_true(err[0] != '\0');
        if (strstr(err, "hunter") != NULL || strstr(err, "ter2") != NULL) {
            fail_msg("%s: message shows the password: %s", urls[i], err);
        }
    }
}

/* errstr may be NULL, or too short: the message is cut and still NUL-terminated. */
static void test_errstr_buffer(void **state)
{
    (void)state;
    bv_redis_addr a;
    assert_int_equal(bv_redis_url_parse("redis://h:0", 11, &a, NULL, 0), BV_EINVAL);
    assert_int_equal(bv_redis_url_parse("redis://h:0", 11, &a, NULL, 100), BV_EINVAL);
    char err[8];
    memset(err, 'x', sizeof err);
    assert_int_equal(bv_redis_url_parse("redis://h:0", 11, &a, err, 0), BV_EINVAL);
    assert_int_equal(err[0], 'x');
    assert_int_equal(bv_redis_url_parse("redis://h:0", 11, &a, err, sizeof err), BV_EINVAL);
    assert_string_equal(err, "port 0 ");
    assert_int_equal(bv_redis_url_parse("redis://h", 9, &a, NULL, 0), BV_OK);
    assert_string_equal(a.host, "h");
    bv_redis_addr_free(&a);
    bv_redis_addr_free(&a);
    bv_redis_addr_free(NULL);
}

/* Sizes: the longest URL (a long password) parses; one byte more is refused, as is far more. */
static void test_size_limits(void **state)
{
    (void)state;
    size_t n = BV_REDIS_URL_MAX + 1000;
    char *buf = malloc(n);
    assert_non_null(buf);
    memcpy(buf, "redis://:", 9);
    memset(buf + 9, 'p', n - 9);
    bv_redis_addr a;
    char err[256];
    /* "redis://:" + password + "@h" is exactly the limit */
    size_t len = BV_REDIS_URL_MAX;
    memcpy(buf + len - 2, "@h", 2);
    assert_int_equal(parse_exact(buf, len, &a, err, sizeof err), BV_OK);
    assert_int_equal(strlen(a.password), BV_REDIS_URL_MAX - 11);
    assert_string_equal(a.host, "h");
    bv_redis_addr_free(&a);

    memset(buf + 9, 'p', n - 9);
    memcpy(buf + len - 1, "@h", 2);
    assert_int_equal(parse_exact(buf, len + 1, &a, err, sizeof err), BV_EINVAL);
    assert_string_equal(err, "the Redis URL is 4097 bytes, longer than the limit of 4096");
    assert_int_equal(bv_redis_url_parse(buf, n, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "longer than the limit of 4096"));
    assert_int_equal(bv_redis_url_parse(buf, (size_t)-1, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "longer than the limit of 4096"));

    /* a socket path of 107 bytes fits sun_path; 108 does not */
    char url[256];
    memcpy(url, "unix:/", 6);
    memset(url + 6, 's', 106);
    assert_int_equal(parse_exact(url, 6 + 106, &a, err, sizeof err), BV_OK);
    assert_int_equal(strlen(a.path), BV_REDIS_PATH_MAX);
    bv_redis_addr_free(&a);
    url[6 + 106] = 's';
    assert_int_equal(parse_exact(url, 6 + 107, &a, err, sizeof err), BV_EINVAL);
    assert_string_equal(err, "the socket path is 108 bytes, longer than the limit of 107");
    /* escapes count decoded: 35 "%41" are 35 bytes */
    size_t k = 6;
    for (int i = 0; i < 35; i++) {
        memcpy(url + k, "%41", 3);
        k += 3;
    }
    assert_int_equal(parse_exact(url, k, &a, err, sizeof err), BV_OK);
    assert_int_equal(strlen(a.path), 36);
    bv_redis_addr_free(&a);

    /* host names: 63-byte labels and 253 bytes in all */
    char host[300];
    memcpy(host, "redis://", 8);
    memset(host + 8, 'a', 63);
    assert_int_equal(parse_exact(host, 8 + 63, &a, err, sizeof err), BV_OK);
    bv_redis_addr_free(&a);
    host[8 + 63] = 'a';
    assert_int_equal(parse_exact(host, 8 + 64, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "a label longer than 63 bytes"));
    /* 4 labels of 62 and one of 1: 4 * 63 + 1 = 253 */
    size_t hl = 8;
    for (int i = 0; i < 4; i++) {
        memset(host + hl, 'b', 62);
        host[hl + 62] = '.';
        hl += 63;
    }
    host[hl++] = 'c';
    assert_int_equal(parse_exact(host, hl, &a, err, sizeof err), BV_OK);
    assert_int_equal(strlen(a.host), 253);
    bv_redis_addr_free(&a);
    host[hl] = '.';
    assert_int_equal(parse_exact(host, hl + 1, &a, err, sizeof err), BV_OK);
    bv_redis_addr_free(&a);
    host[hl] = 'c';
    assert_int_equal(parse_exact(host, hl + 1, &a, err, sizeof err), BV_EINVAL);
    assert_non_null(strstr(err, "host name is longer than 253 bytes"));
    free(buf);
}

static void format_of(const char *url, char *out, size_t outlen)
{
    bv_redis_addr a;
    char err[256];
    int rc = parse_exact(url, strlen(url), &a, err, sizeof err);
    if (rc != BV_OK) {
        fail_msg("%s: %s", url, err);
    }
    bv_redis_addr_format(&a, out, outlen);
    bv_redis_addr_free(&a);
}

static void test_format(void **state)
{
    (void)state;
    char out[BV_REDIS_ADDR_FMT_MAX];
    format_of("redis://:secret@h:1/2", out, sizeof out);
    assert_string_equal(out, "redis://h:1/2");
    format_of("redis://h", out, sizeof out);
    assert_string_equal(out, "redis://h:6379/0");
    format_of("redis://default:%73ecret@[::1]", out, sizeof out);
    assert_string_equal(out, "redis://[::1]:6379/0");
    format_of("unix:///tmp/r.sock", out, sizeof out);
    assert_string_equal(out, "unix:/tmp/r.sock");
    format_of("unix:/tmp/r.sock?db=4", out, sizeof out);
    assert_string_equal(out, "unix:/tmp/r.sock?db=4");
    format_of("unix:/tmp/a%20b%3f%25%23%0a%C3%A9.sock", out, sizeof out);
    assert_string_equal(out, "unix:/tmp/a%20b%3F%25%23%0A%C3%A9.sock");
    format_of("unix:/tmp/u@h:1.sock", out, sizeof out);
    assert_string_equal(out, "unix:/tmp/u%40h:1.sock");
    format_of("unix://///s", out, sizeof out);
    assert_string_equal(out, "unix://///s");

    /* cut to the buffer, always terminated; outlen 0 writes nothing */
    format_of("redis://:secret@h:1/2", out, 5);
    assert_string_equal(out, "redi");
    format_of("redis://:secret@h:1/2", out, 1);
    assert_string_equal(out, "");
    out[0] = 'x';
    format_of("redis://:secret@h:1/2", out, 0);
    assert_int_equal(out[0], 'x');
    format_of("unix:/tmp/a%20b", out, 13);
    assert_string_equal(out, "unix:/tmp/a%");

    /* a zeroed or missing address: the empty string */
    bv_redis_addr z = {0};
    bv_redis_addr_format(&z, out, sizeof out);
    assert_string_equal(out, "");
    bv_redis_addr_format(NULL, out, sizeof out);
    assert_string_equal(out, "");
    bv_redis_addr_format(&z, NULL, 10);
}

/* Every accepted form: the text never shows the password, and parses back to the same address. */
static void test_format_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        const accept_case *c = &accepted[i];
        char out[BV_REDIS_ADDR_FMT_MAX];
        format_of(c->url, out, sizeof out);
        if (c->password != NULL && strstr(out, c->password) != NULL) {
            fail_msg("%s: format shows the password: %s", c->url, out);
        }
        assert_null(strchr(out, '@'));
        bv_redis_addr b;
        char err[256];
        int rc = parse_exact(out, strlen(out), &b, err, sizeof err);
        if (rc != BV_OK) {
            fail_msg("%s: format gave %s, which is rejected: %s", c->url, out, err);
        }
        check_fields(&b, c, 0);
        bv_redis_addr_free(&b);
    }
}

/* Every prefix of valid URLs, each from an exact-size buffer: OK or a message, nothing else. */
static void test_prefixes(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "redis://default:p%40ss%3Aw@redis.example.com:6380/12",
        "redis://:pw@[2001:db8::1]:6379/3",
        "redis://127.0.0.1:6379/0",
        "unix:///run/redis/redis.sock?db=2",
        "unix:/tmp/a%20b.sock",
    };
    for (size_t u = 0; u < sizeof urls / sizeof urls[0]; u++) {
        size_t len = strlen(urls[u]);
        size_t ok = 0;
        for (size_t n = 0; n <= len; n++) {
            bv_redis_addr a;
            char err[256];
            int rc = parse_exact(urls[u], n, &a, err, sizeof err);
            if (rc == BV_OK) {
                ok++;
                assert_true(a.host != NULL || a.path != NULL);
                char out[BV_REDIS_ADDR_FMT_MAX];
                bv_redis_addr_format(&a, out, sizeof out);
                assert_true(out[0] != '\0');
                bv_redis_addr_free(&a);
            } else {
                assert_int_equal(rc, BV_EINVAL);
                assert_true(err[0] != '\0');
                assert_null(a.host);
                assert_null(a.password);
            }
        }
        /* the whole URL parses */
        bv_redis_addr a;
        assert_int_equal(parse_exact(urls[u], len, &a, NULL, 0), BV_OK);
        bv_redis_addr_free(&a);
        assert_true(ok >= 1);
    }
}

static uint32_t rng_state = 2463534242u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Random bytes, and random strings over the URL alphabet after a real scheme: every result is OK
 * (then formatting round-trips) or BV_EINVAL with a message. */
static void test_garbage(void **state)
{
    (void)state;
    static const char alphabet[] = "redis:/unix@[]?#%=&;.-_019aAfF: \x00\x80\x7f";
    static const char *const starts[] = {"", "redis://", "unix:", "unix://", "redis://:"};
    size_t accepted_n = 0;
    for (int round = 0; round < 40000; round++) {
        char buf[96];
        const char *start = starts[rnd() % 5];
        size_t sl = strlen(start);
        size_t len = sl + rnd() % 40;
        memcpy(buf, start, sl);
        for (size_t i = sl; i < len; i++) {
            buf[i] =
                round % 4 == 0 ? (char)(rnd() & 0xff) : alphabet[rnd() % (sizeof alphabet - 1)];
        }
        bv_redis_addr a;
        char err[256];
        int rc = parse_exact(buf, len, &a, err, sizeof err);
        if (rc == BV_EINVAL) {
            assert_true(err[0] != '\0');
            continue;
        }
        assert_int_equal(rc, BV_OK);
        accepted_n++;
        char out[BV_REDIS_ADDR_FMT_MAX];
        bv_redis_addr_format(&a, out, sizeof out);
        bv_redis_addr b;
        if (parse_exact(out, strlen(out), &b, err, sizeof err) != BV_OK) {
            fail_msg("format gave %s, which is rejected: %s", out, err);
        }
        assert_str_or_null(b.host, a.host);
        assert_str_or_null(b.path, a.path);
        assert_int_equal(b.port, a.port);
        assert_int_equal(b.db, a.db);
        assert_int_equal(b.host_is_ip, a.host_is_ip);
        assert_null(b.password);
        bv_redis_addr_free(&b);
        bv_redis_addr_free(&a);
    }
    /* the alphabet makes some valid URLs too, so the success path is exercised */
    assert_true(accepted_n > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),       cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_nul_and_length), cmocka_unit_test(test_messages_hide_password),
        cmocka_unit_test(test_errstr_buffer),  cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_format),         cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_prefixes),       cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
