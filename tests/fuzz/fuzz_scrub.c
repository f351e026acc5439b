/* fuzz_scrub.c: libFuzzer target for the scrubber (codec/scrub.h). Input that parses as JSON is
 * scrubbed for every platform and written back: the writer must give JSON that parses again, and
 * a payload that decoded to a post before must decode to the same post after (kind, text, times,
 * language, whether it has an author). A second scrub of the same input gives the same bytes. */
#include "codec/codec.h"
#include "codec/scrub.h"
#include "core/buf.h"
#include "core/err.h"
#include "engine/post.h"
#include "engine/pseudo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

static bv_pseudo *ps;
static bv_codec_ctx ctx;

static yajl_val parse(const uint8_t *data, size_t size)
{
    char *c = malloc(size + 1);
    if (c == NULL) {
        abort();
    }
    memcpy(c, data, size);
    c[size] = '\0';
    yajl_val v = yajl_tree_parse(c, NULL, 0);
    free(c);
    return v;
}

/* Scrubs a fresh parse for platform p into out; the scrub's return. */
static int scrub_once(const uint8_t *data, size_t size, bv_platform p, bv_buf *out, bv_decode *d,
                      bv_post *post)
{
    yajl_val t = parse(data, size);
    if (t == NULL) {
        abort(); /* it parsed before */
    }
    bv_skip why;
    int rc = bv_scrub(ps, p, t);
    if (rc != BV_OK && rc != BV_EINVAL && rc != BV_ELIMIT) {
        abort();
    }
    if (rc == BV_EINVAL && YAJL_IS_OBJECT(t)) {
        abort();
    }
    bv_buf_reset(out);
    if (rc == BV_OK) {
        int w = bv_json_write(t, out);
        if (w != BV_OK && w != BV_ELIMIT) {
            abort(); /* the parser validated UTF-8 and scrubbing keeps it */
        }
        if (w == BV_OK) {
            yajl_val again = parse((const uint8_t *)out->p, out->len);
            if (again == NULL) {
                abort();
            }
            yajl_tree_free(again);
        } else if (out->len != 0) {
            abort();
        }
        *d = bv_codec_decode_parsed(&ctx, p, t, post, &why);
    }
    yajl_tree_free(t);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ps == NULL) {
        ps = bv_pseudo_new("fuzz-key", 8);
        if (ps == NULL) {
            abort();
        }
        ctx.pseudo = ps;
    }
    yajl_val orig = parse(data, size);
    if (orig == NULL) {
        return 0;
    }
    bv_buf a = BV_BUF_INIT, b = BV_BUF_INIT;
    for (int p = 0; p < BV_PLATFORM__COUNT; p++) {
        bv_post before, after, twice;
        bv_skip why;
        bv_decode d0 = BV_DECODE_SKIP, d1 = BV_DECODE_SKIP, d2 = BV_DECODE_SKIP;
        memset(&after, 0, sizeof after);
        memset(&twice, 0, sizeof twice);
        yajl_val t = parse(data, size);
        d0 = bv_codec_decode_parsed(&ctx, (bv_platform)p, t, &before, &why);
        yajl_tree_free(t);
        int rc = scrub_once(data, size, (bv_platform)p, &a, &d1, &after);
        int rc2 = scrub_once(data, size, (bv_platform)p, &b, &d2, &twice);
        if (rc != rc2 || a.len != b.len || (a.len && memcmp(a.p, b.p, a.len) != 0)) {
            abort(); /* deterministic */
        }
        if (rc == BV_OK && d0 == BV_DECODE_POST) {
            if (d1 != BV_DECODE_POST || after.kind != before.kind ||
                strcmp(after.text, before.text) != 0 || after.created_ms != before.created_ms ||
                after.received_ms != before.received_ms || strcmp(after.lang, before.lang) != 0 ||
                after.has_author != before.has_author) {
                abort();
            }
        }
        if (d0 == BV_DECODE_POST) {
            bv_post_clear(&before);
        }
        if (d1 == BV_DECODE_POST) {
            bv_post_clear(&after);
        }
        if (d2 == BV_DECODE_POST) {
            bv_post_clear(&twice);
        }
    }
    bv_buf_free(&a);
    bv_buf_free(&b);
    yajl_tree_free(orig);
    return 0;
}
