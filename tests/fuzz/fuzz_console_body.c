/* fuzz_console_body.c: libFuzzer target for the console API's JSON bodies (lib/console/body.h):
 * whatever comes is parsed as a silence request; an accepted one must be whole (a lift, or a
 * duration in bounds with a one-line reason of the bounded length), a refused one says why. */
#include "console/body.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bv_silence_req r;
    char err[256];
    err[0] = '\0';
    if (bv_body_silence((const char *)data, size, &r, err, sizeof err) == 0) {
        size_t n = strnlen(r.reason, sizeof r.reason);
        if (n == sizeof r.reason) {
            abort();
        }
        if (r.lift ? r.for_ms != 0 || n != 0
                   : r.for_ms < 1000 || r.for_ms > BV_SILENCE_FOR_MAX_MS || n == 0) {
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)r.reason[i] < 0x20 || r.reason[i] == 0x7f) {
                abort();
            }
        }
    } else if (err[0] == '\0') {
        abort();
    }
    return 0;
}
