/* text.c: the normalisation of post text and keywords before matching (see text.h): case folding,
 * diacritics and format characters removed, separators collapsed, CamelCase hashtags split. */
#include "engine/text.h"

#include "core/err.h"

#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

/* Kinds of word characters, for finding the word boundaries inside a CamelCase hashtag. */
enum { K_NONE = 0, K_LOWER, K_UPPER, K_DIGIT };

/* ASCII classes: 0 separator, else the kind. */
static const uint8_t ascii_kind[128] = {
    ['0'] = K_DIGIT, ['1'] = K_DIGIT, ['2'] = K_DIGIT, ['3'] = K_DIGIT, ['4'] = K_DIGIT,
    ['5'] = K_DIGIT, ['6'] = K_DIGIT, ['7'] = K_DIGIT, ['8'] = K_DIGIT, ['9'] = K_DIGIT,
    ['a'] = K_LOWER, ['b'] = K_LOWER, ['c'] = K_LOWER, ['d'] = K_LOWER, ['e'] = K_LOWER,
    ['f'] = K_LOWER, ['g'] = K_LOWER, ['h'] = K_LOWER, ['i'] = K_LOWER, ['j'] = K_LOWER,
    ['k'] = K_LOWER, ['l'] = K_LOWER, ['m'] = K_LOWER, ['n'] = K_LOWER, ['o'] = K_LOWER,
    ['p'] = K_LOWER, ['q'] = K_LOWER, ['r'] = K_LOWER, ['s'] = K_LOWER, ['t'] = K_LOWER,
    ['u'] = K_LOWER, ['v'] = K_LOWER, ['w'] = K_LOWER, ['x'] = K_LOWER, ['y'] = K_LOWER,
    ['z'] = K_LOWER, ['A'] = K_UPPER, ['B'] = K_UPPER, ['C'] = K_UPPER, ['D'] = K_UPPER,
    ['E'] = K_UPPER, ['F'] = K_UPPER, ['G'] = K_UPPER, ['H'] = K_UPPER, ['I'] = K_UPPER,
    ['J'] = K_UPPER, ['K'] = K_UPPER, ['L'] = K_UPPER, ['M'] = K_UPPER, ['N'] = K_UPPER,
    ['O'] = K_UPPER, ['P'] = K_UPPER, ['Q'] = K_UPPER, ['R'] = K_UPPER, ['S'] = K_UPPER,
    ['T'] = K_UPPER, ['U'] = K_UPPER, ['V'] = K_UPPER, ['W'] = K_UPPER, ['X'] = K_UPPER,
    ['Y'] = K_UPPER, ['Z'] = K_UPPER,
};

#define MAX_BOUNDS 32
#define DECOMP_MAX 32

typedef struct norm {
    bv_buf *out;
    unsigned flags;
    int sep;           /* the last byte written is the separating space */
    int pending_tag;   /* a '#' came right before the next word */
    int in_tag;        /* the current word is a hashtag whose split form we track */
    int tag_upper;     /* it has an upper-case letter */
    int prev, prev2;   /* kinds of the last two characters of the tag */
    size_t tag_start;  /* offset in out where the tag word starts */
    size_t last_start; /* offset (relative to tag_start) of the last character */
    size_t bounds[MAX_BOUNDS];
    unsigned nb;
} norm;

static void add_bound(norm *n, size_t at)
{
    if (n->nb < MAX_BOUNDS && at > 0 && (n->nb == 0 || n->bounds[n->nb - 1] < at)) {
        n->bounds[n->nb++] = at;
    }
}

/* Called before the bytes of each word character are written: starts a word after a separator
 * and records where a CamelCase hashtag splits (lower->Upper, letter<->digit, and before the
 * last capital of an acronym followed by lower case: "NOSJournaal" -> nos journaal). */
static void word_char(norm *n, int kind)
{
    if (n->sep) {
        n->sep = 0;
        n->in_tag = n->pending_tag && !(n->flags & BV_TEXT_NO_TAG_SPLIT);
        n->pending_tag = 0;
        if (n->in_tag) {
            n->tag_start = n->out->len;
            n->nb = 0;
            n->tag_upper = 0;
            n->prev = n->prev2 = K_NONE;
            n->last_start = 0;
        }
    }
    if (!n->in_tag) {
        return;
    }
    size_t here = n->out->len - n->tag_start;
    if (kind == K_UPPER) {
        n->tag_upper = 1;
    }
    if (n->prev != K_NONE && here != n->last_start) {
        if ((n->prev == K_LOWER && kind == K_UPPER) ||
            ((n->prev == K_DIGIT) != (kind == K_DIGIT))) {
            add_bound(n, here);
        } else if (kind == K_LOWER && n->prev == K_UPPER && n->prev2 == K_UPPER) {
            add_bound(n, n->last_start);
        }
    }
    if (here != n->last_start || n->prev == K_NONE) {
        n->prev2 = n->prev;
        n->prev = kind;
        n->last_start = here;
    }
}

/* Ends a hashtag word: when it is CamelCase, appends " " and its split form. */
static int finish_tag(norm *n)
{
    if (!n->in_tag) {
        return BV_OK;
    }
    n->in_tag = 0;
    if (!n->tag_upper || n->nb == 0) {
        return BV_OK;
    }
    size_t wlen = n->out->len - n->tag_start;
    if (bv_buf_reserve(n->out, wlen + n->nb + 2) != BV_OK) {
        return BV_ENOMEM;
    }
    char *p = n->out->p;
    size_t o = n->out->len;
    const char *w = p + n->tag_start;
    size_t from = 0;
    p[o++] = ' ';
    for (unsigned k = 0; k < n->nb; k++) {
        memcpy(p + o, w + from, n->bounds[k] - from);
        o += n->bounds[k] - from;
        p[o++] = ' ';
        from = n->bounds[k];
    }
    memcpy(p + o, w + from, wlen - from);
    o += wlen - from;
    n->out->len = o;
    return BV_OK;
}

static int sep_char(norm *n, int is_hash)
{
    if (!n->sep) {
        if (finish_tag(n) != BV_OK || bv_buf_reserve(n->out, 1) != BV_OK) {
            return BV_ENOMEM;
        }
        n->out->p[n->out->len++] = ' ';
        n->sep = 1;
    }
    n->pending_tag = is_hash;
    return BV_OK;
}

static int kind_of_category(int cat)
{
    switch (cat) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LT:
        return K_UPPER;
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return K_LOWER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return K_DIGIT;
    default:
        return K_NONE;
    }
}

static int is_removed_category(int cat)
{
    return cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_MN ||
           cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
}

/* One non-ASCII code point: removed (format, mark), a separator, or a letter/digit that is
 * case folded, compatibility decomposed and stripped of its marks. */
static int do_codepoint(norm *n, utf8proc_int32_t cp)
{
    int cat = utf8proc_get_property(cp)->category;
    if (is_removed_category(cat)) {
        return BV_OK;
    }
    int kind = kind_of_category(cat);
    if (kind == K_NONE) {
        return sep_char(n, 0);
    }
    utf8proc_int32_t dec[DECOMP_MAX];
    utf8proc_ssize_t m = utf8proc_decompose_char(
        cp, dec, DECOMP_MAX,
        UTF8PROC_CASEFOLD | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK, NULL);
    if (m < 0 || m > DECOMP_MAX) {
        return sep_char(n, 0);
    }
    if (bv_buf_reserve(n->out, (size_t)m * 4 + 4) != BV_OK) {
        return BV_ENOMEM;
    }
    for (utf8proc_ssize_t k = 0; k < m; k++) {
        int c2 = utf8proc_get_property(dec[k])->category;
        if (is_removed_category(c2)) {
            continue;
        }
        if (kind_of_category(c2) == K_NONE) {
            if (sep_char(n, 0) != BV_OK) {
                return BV_ENOMEM;
            }
            continue;
        }
        word_char(n, kind);
        if (bv_buf_reserve(n->out, 4) != BV_OK) {
            return BV_ENOMEM;
        }
        n->out->len +=
            (size_t)utf8proc_encode_char(dec[k], (utf8proc_uint8_t *)n->out->p + n->out->len);
    }
    return BV_OK;
}

/* Runs of ASCII letters and digits outside hashtags are copied with a table lookup (the common
 * case: most posts are mostly ASCII); everything else goes code point by code point. */
int bv_text_normalise_flags(const char *in, size_t len, bv_buf *out, unsigned flags)
{
    bv_buf_reset(out);
    if (bv_buf_reserve(out, len + 2) != BV_OK) {
        return BV_ENOMEM;
    }
    norm n = {.out = out, .flags = flags};
    out->p[out->len++] = ' ';
    n.sep = 1;
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    int rc = BV_OK;
    while (i < len && rc == BV_OK) {
        unsigned char c = s[i];
        if (c < 0x80) {
            int kind = ascii_kind[c];
            if (kind == K_NONE) {
                rc = sep_char(&n, c == '#');
                i++;
                continue;
            }
            word_char(&n, kind);
            if (n.in_tag) {
                /* keeps the invariant below: room for the rest of the input */
                if (bv_buf_reserve(out, len - i + 2) != BV_OK) {
                    return BV_ENOMEM;
                }
                out->p[out->len++] = (char)(kind == K_UPPER ? c + 32 : c);
                i++;
                continue;
            }
            /* One output byte per input byte at most: reserve for the rest of the input once
             * per word, then the loop writes without checks. */
            if (out->cap < out->len + (len - i) + 2 && bv_buf_reserve(out, len - i + 2) != BV_OK) {
                return BV_ENOMEM;
            }
            char *p = out->p;
            size_t o = out->len;
            do {
                p[o++] = (char)(kind == K_UPPER ? c + 32 : c);
                if (++i == len) {
                    break;
                }
                c = s[i];
                kind = c < 0x80 ? ascii_kind[c] : K_NONE;
            } while (kind != K_NONE);
            out->len = o;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (r <= 0) {
            rc = sep_char(&n, 0);
            i++;
            continue;
        }
        i += (size_t)r;
        if (bv_buf_reserve(out, len - i + 8) != BV_OK) {
            return BV_ENOMEM;
        }
        rc = do_codepoint(&n, cp);
        if (rc == BV_OK && bv_buf_reserve(out, len - i + 2) != BV_OK) {
            return BV_ENOMEM;
        }
    }
    if (rc == BV_OK) {
        rc = sep_char(&n, 0);
    }
    if (rc != BV_OK) {
        return rc;
    }
    out->p[out->len] = '\0';
    return BV_OK;
}

int bv_text_normalise(const char *in, size_t len, bv_buf *out)
{
    return bv_text_normalise_flags(in, len, out, 0);
}
