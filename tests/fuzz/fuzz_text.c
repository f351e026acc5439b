/* fuzz_text.c: libFuzzer target for bv_text_normalise: any bytes in, a normalised string out
 * (a space at both ends, no double spaces, no ASCII upper case or punctuation), no leaks. */
#include "engine/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bv_buf out = BV_BUF_INIT;
    for (unsigned flags = 0; flags < 2; flags++) {
        if (bv_text_normalise_flags((const char *)data, size, &out, flags) != 0) {
            abort();
        }
        if (out.len < 1 || out.p[0] != ' ' || out.p[out.len - 1] != ' ' || out.p[out.len] != 0) {
            abort();
        }
        for (size_t i = 0; i < out.len; i++) {
            unsigned char c = (unsigned char)out.p[i];
            if (c < 0x80 && !(c == ' ' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
                abort();
            }
            if (c == ' ' && i > 0 && out.p[i - 1] == ' ') {
                abort();
            }
        }
    }
    bv_buf_free(&out);
    return 0;
}
