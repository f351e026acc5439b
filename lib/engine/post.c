/* post.c: platform names, skip reasons and post cleanup; see post.h. */
#include "engine/post.h"

#include <stdlib.h>
#include <string.h>

static const char *const platform_names[BV_PLATFORM__COUNT] = {
    "mastodon", "bluesky", "x", "facebook", "telegram", "reddit",
};

const char *bv_platform_name(bv_platform p)
{
    return (unsigned)p < BV_PLATFORM__COUNT ? platform_names[p] : "unknown";
}

int bv_platform_from_name(const char *s, size_t len)
{
    for (int i = 0; i < BV_PLATFORM__COUNT; i++) {
        if (strlen(platform_names[i]) == len && memcmp(platform_names[i], s, len) == 0) {
            return i;
        }
    }
    return -1;
}

void bv_post_clear(bv_post *p)
{
    free(p->id);
    free(p->text);
    free(p->url);
    memset(p, 0, sizeof *p);
}

char *bv_post_author_hex(const bv_post *p, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < BV_PSEUDO_LEN; i++) {
        out[2 * i] = hex[p->author[i] >> 4];
        out[2 * i + 1] = hex[p->author[i] & 15];
    }
    out[2 * BV_PSEUDO_LEN] = '\0';
    return out;
}

const char *bv_skip_name(bv_skip s)
{
    static const char *const names[BV_SKIP__COUNT] = {
        "none",    "not_json", "not_utf8",      "too_long",   "too_deep",
        "no_text", "no_time",  "unknown_shape", "other_kind", "bad_envelope",
    };
    return (unsigned)s < BV_SKIP__COUNT ? names[s] : "unknown";
}
