/* fuzz_redis_redirect.c: libFuzzer target for what the cluster router reads from a server's
 * error replies (lib/net/redis_cluster.h): MOVED and ASK. A parse that succeeds gives a slot in
 * range, a port in range and a host of printable bytes that fits; the slot function takes any
 * bytes. */
#include "net/redis_cluster.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = malloc(size + 1);
    if (msg == NULL) {
        return 0;
    }
    memcpy(msg, data, size);
    msg[size] = '\0';
    unsigned slot = 0;
    char host[64];
    int port = 0;
    int rc = bv_redis_parse_redirect(msg, &slot, host, sizeof host, &port);
    if (rc > 0) {
        if (rc > 2 || slot >= BV_REDIS_SLOTS || port <= 0 || port > 65535 ||
            strlen(host) >= sizeof host || host[0] == '\0') {
            abort();
        }
        for (const char *c = host; *c; c++) {
            if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
                abort();
            }
        }
    } else if (rc != -1) {
        abort();
    }
    if (bv_redis_key_slot((const char *)data, size) >= BV_REDIS_SLOTS) {
        abort();
    }
    free(msg);
    return 0;
}
