/* post.h: the post, blikveld's one internal record of a public post, and the reasons a line of
 * input is skipped. A bv_post owns its strings (id, text, url); bv_post_clear frees them. Codecs
 * fill posts; nothing downstream looks at platform JSON. Authors are pseudonyms, never raw ids. */
#ifndef BV_ENGINE_POST_H
#define BV_ENGINE_POST_H

#include <stddef.h>
#include <stdint.h>

typedef enum bv_platform {
    BV_PLATFORM_MASTODON = 0,
    BV_PLATFORM_BLUESKY,
    BV_PLATFORM_X,
    BV_PLATFORM_FACEBOOK,
    BV_PLATFORM_TELEGRAM,
    BV_PLATFORM_REDDIT,
    BV_PLATFORM__COUNT
} bv_platform;

/* "mastodon", "bluesky", ...; bv_platform_from_name returns -1 for an unknown name. */
const char *bv_platform_name(bv_platform p);
int bv_platform_from_name(const char *s, size_t len);

typedef enum bv_post_kind {
    BV_POST_CREATE = 0, /* a new post (or an edit: a new version of the text) */
    BV_POST_DELETE = 1, /* the post with this id was deleted; text is "" */
} bv_post_kind;

#define BV_PSEUDO_LEN 16 /* bytes of a pseudonym: HMAC-SHA256 truncated */

typedef struct bv_post {
    bv_platform platform;
    bv_post_kind kind;
    char *id;            /* owned; platform id as a string (ids exceed 2^53) */
    char *text;          /* owned; plain UTF-8: HTML stripped, entities decoded; "" for deletes */
    char *url;           /* owned; public link to the post, or NULL */
    char lang[16];       /* BCP-47 tag as the platform gave it (first one), "" when unknown */
    int64_t created_ms;  /* event time: the post's own creation time, ms since epoch UTC */
    int64_t received_ms; /* when it reached us (envelope received_at, Jetstream time_us), or 0 */
    int has_author;      /* 0 when the platform gave no author */
    uint8_t author[BV_PSEUDO_LEN]; /* pseudonym of the author (see pseudo.h) */
} bv_post;

void bv_post_clear(bv_post *p); /* frees the owned strings and zeroes the post */
/* Hex of the pseudonym into out (2*BV_PSEUDO_LEN+1 bytes); returns out. */
char *bv_post_author_hex(const bv_post *p, char *out);

/* Why a line of input did not become a post. Counted by reason in the summary; --errors lists
 * line numbers with bv_skip_name(). */
typedef enum bv_skip {
    BV_SKIP_NONE = 0,
    BV_SKIP_NOT_JSON,      /* "not_json": not a JSON object */
    BV_SKIP_NOT_UTF8,      /* "not_utf8": bytes that are not UTF-8 */
    BV_SKIP_TOO_LONG,      /* "too_long": over the line size limit */
    BV_SKIP_TOO_DEEP,      /* "too_deep": nested deeper than the limit */
    BV_SKIP_NO_TEXT,       /* "no_text": a known shape without text */
    BV_SKIP_NO_TIME,       /* "no_time": a known shape without a usable creation time */
    BV_SKIP_UNKNOWN_SHAPE, /* "unknown_shape": JSON of no known platform shape */
    BV_SKIP_OTHER_KIND,    /* "other_kind": a known stream's other event kinds or collections
                              (Jetstream likes, identity, ...; X in-stream errors; keep-alives) */
    BV_SKIP_BAD_ENVELOPE,  /* "bad_envelope": a recording envelope with a bad version or field */
    BV_SKIP__COUNT
} bv_skip;

const char *bv_skip_name(bv_skip s);

#endif
