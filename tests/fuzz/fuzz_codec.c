/* fuzz_codec.c: libFuzzer target for the codecs: the input as a recording line (auto-detected),
 * as one platform's payload (platform picked by the first byte), as a Mastodon delete id and as
 * HTML content. Any post that comes out must be whole and valid UTF-8. */
#include "codec/codec.h"
#include "codec/html.h"
#include "core/buf.h"
#include "engine/post.h"
#include "engine/pseudo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        size_t n = c < 0x80                   ? 0
                   : (c >= 0xC2 && c <= 0xDF) ? 1
                   : (c >= 0xE0 && c <= 0xEF) ? 2
                   : (c >= 0xF0 && c <= 0xF4) ? 3
                                              : 9;
        if (n == 9) {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80) {
                return 0;
            }
        }
        p += n + 1;
    }
    return 1;
}

static void check(bv_decode d, bv_post *p, bv_skip why)
{
    if (d == BV_DECODE_POST) {
        if (p->id == NULL || p->id[0] == '\0' || p->text == NULL || !utf8_ok(p->text) ||
            !utf8_ok(p->id) || (p->url != NULL && !utf8_ok(p->url)) ||
            (p->kind == BV_POST_CREATE && p->text[0] == '\0') ||
            (p->kind == BV_POST_DELETE && p->text[0] != '\0') ||
            memchr(p->lang, '\0', sizeof p->lang) == NULL ||
            (p->received_ms > 0 && p->created_ms > p->received_ms)) {
            abort();
        }
        bv_post_clear(p);
    } else if (why <= BV_SKIP_NONE || why >= BV_SKIP__COUNT || p->id != NULL || p->text != NULL ||
               p->url != NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bv_pseudo *ps;
    if (ps == NULL) {
        ps = bv_pseudo_new("fuzz-key", 8);
        if (ps == NULL) {
            abort();
        }
    }
    bv_codec_ctx ctx = {.pseudo = ps, .max_depth = 0, .max_len = 0};
    char *buf = malloc(size + 1); /* the codec's spare byte at json[len] */
    if (buf == NULL) {
        return 0;
    }
    bv_post p;
    bv_skip why;
    memcpy(buf, data, size);
    bv_decode d = bv_codec_decode_line(&ctx, buf, size, &p, &why, NULL);
    check(d, &p, why);
    if (size > 0) {
        bv_platform pl = (bv_platform)(data[0] % BV_PLATFORM__COUNT);
        memcpy(buf, data + 1, size - 1);
        d = bv_codec_decode_platform(&ctx, pl, buf, size - 1, &p, &why);
        check(d, &p, why);
    }
    if (bv_codec_mastodon_delete((const char *)data, size, &p) == 0) {
        check(BV_DECODE_POST, &p, BV_SKIP_NONE);
    }
    bv_buf b = BV_BUF_INIT;
    if (bv_html_to_text((const char *)data, size, &b) != 0) {
        abort();
    }
    bv_buf_free(&b);
    free(buf);
    return 0;
}
