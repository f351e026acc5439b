/* fuzz_redis_url.c: libFuzzer target for the Redis URL parser (lib/net/redis_url.h). Parses the
 * input, formats the result and checks the text hides the password and parses back the same. */
#include "core/err.h"
#include "net/redis_url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bv_redis_addr a;
    char err[256];
    int rc = bv_redis_url_parse((const char *)data, size, &a, err, sizeof err);
    if (rc != BV_OK) {
        /* a failure leaves nothing owned and always says why */
        if (rc != BV_EINVAL || err[0] == '\0' || a.host != NULL || a.path != NULL ||
            a.password != NULL) {
            abort();
        }
        bv_redis_addr_free(&a);
        return 0;
    }
    if ((a.host == NULL) == (a.path == NULL) ||
        (a.host != NULL && (a.port < 1 || a.port > 65535)) || a.db < 0 ||
        (a.password != NULL && a.password[0] == '\0')) {
        abort();
    }
    char out[BV_REDIS_ADDR_FMT_MAX];
    bv_redis_addr_format(&a, out, sizeof out);
    if (strchr(out, '@') != NULL) {
        abort();
    }
    bv_redis_addr b;
    if (bv_redis_url_parse(out, strlen(out), &b, err, sizeof err) != BV_OK) {
        abort();
    }
    if (!same_str(a.host, b.host) || !same_str(a.path, b.path) || b.password != NULL ||
        a.port != b.port || a.db != b.db || a.host_is_ip != b.host_is_ip) {
        abort();
    }
    bv_redis_addr_free(&b);
    bv_redis_addr_free(&a);
    return 0;
}
