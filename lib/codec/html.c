/* html.c: HTML fragment -> plain text and character reference decoding; see html.h.
 * The named references are the WHATWG list, generated into html_entities.inc. */
#include "codec/html.h"
#include "core/err.h"

#include <stdint.h>
#include <string.h>

struct html_entity {
    const char *name; /* without the '&', with the ';' when the standard has one */
    unsigned char nlen;
    const char *utf8;
    unsigned char ulen;
};

#include "codec/html_entities.inc"

/* The longest name that is valid without a trailing ';' ("middot", "frac12", ...). */
#define LEGACY_MAXNAME 6

static int is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Exact lookup of name[0..len) (binary search over the sorted table); NULL when absent. */
static const struct html_entity *entity_find(const char *name, size_t len)
{
    size_t lo = 0, hi = BV_HTML_ENTITY_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct html_entity *e = &html_entities[mid];
        size_t n = e->nlen < len ? e->nlen : len;
        int c = memcmp(e->name, name, n);
        if (c == 0) {
            c = (e->nlen > len) - (e->nlen < len);
        }
        if (c == 0) {
            return e;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* The standard's replacements for numeric references to 0x80..0x9F (windows-1252). 0 = keep. */
static const uint16_t c1_map[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

static size_t numeric_ref(const char *s, size_t len, char *utf8, size_t *ulen)
{
    size_t i = 2; /* after "&#" */
    int hex = 0;
    if (i < len && (s[i] == 'x' || s[i] == 'X')) {
        hex = 1;
        i++;
    }
    size_t start = i;
    uint32_t cp = 0;
    while (i < len && (hex ? is_hex((unsigned char)s[i]) : is_digit((unsigned char)s[i]))) {
        unsigned char c = (unsigned char)s[i];
        unsigned d = is_digit(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
        if (cp <= 0x10FFFF) { /* saturates above the Unicode range: no overflow */
            cp = cp * (hex ? 16u : 10u) + d;
        }
        i++;
    }
    if (i == start) {
        return 0; /* "&#" or "&#x" without digits: not a reference */
    }
    if (i < len && s[i] == ';') {
        i++;
    }
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        cp = 0xFFFD;
    } else if (cp >= 0x80 && cp <= 0x9F && c1_map[cp - 0x80] != 0) {
        cp = c1_map[cp - 0x80];
    }
    *ulen = utf8_put(cp, utf8);
    return i;
}

size_t bv_html_entity(const char *s, size_t len, char *utf8, size_t *ulen)
{
    if (len < 2 || s[0] != '&') {
        return 0;
    }
    if (s[1] == '#') {
        return numeric_ref(s, len, utf8, ulen);
    }
    /* named: the longest name in the table that the input starts with */
    size_t run = 0;
    while (1 + run < len && run < BV_HTML_ENTITY_MAXNAME && is_alnum((unsigned char)s[1 + run])) {
        run++;
    }
    if (run == 0) {
        return 0;
    }
    const struct html_entity *e = NULL;
    if (1 + run < len && s[1 + run] == ';') {
        e = entity_find(s + 1, run + 1);
    }
    if (e == NULL) {
        /* only legacy names (no ';') can match a prefix; they are at most 6 bytes */
        for (size_t n = run < LEGACY_MAXNAME ? run : LEGACY_MAXNAME; n >= 2 && e == NULL; n--) {
            e = entity_find(s + 1, n);
        }
    }
    if (e == NULL) {
        return 0;
    }
    memcpy(utf8, e->utf8, e->ulen);
    *ulen = e->ulen;
    return 1 + (size_t)e->nlen;
}

int bv_html_decode(const char *in, size_t len, bv_buf *out)
{
    if (bv_buf_reserve(out, len) != 0) {
        return BV_ENOMEM;
    }
    size_t run = 0, i = 0;
    while (i < len) {
        const char *amp = memchr(in + i, '&', len - i);
        if (amp == NULL) {
            break;
        }
        i = (size_t)(amp - in);
        char u[8];
        size_t ulen = 0;
        size_t n = bv_html_entity(in + i, len - i, u, &ulen);
        if (n == 0) {
            i++;
            continue;
        }
        if (bv_buf_append(out, in + run, i - run) != 0 || bv_buf_append(out, u, ulen) != 0) {
            return BV_ENOMEM;
        }
        i += n;
        run = i;
    }
    return bv_buf_append(out, in + run, len - run) == 0 ? 0 : BV_ENOMEM;
}

/* Case-insensitive: does s[0..len) start with the lower-case ASCII word w? */
static int starts_ci(const char *s, size_t len, const char *w)
{
    size_t n = strlen(w);
    if (len < n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)(s[i] | 0x20) != (unsigned char)w[i]) {
            return 0;
        }
    }
    return 1;
}

/* Is the tag name name[0..n) (ASCII, any case) equal to the lower-case word w? */
static int name_is(const char *name, size_t n, const char *w)
{
    return strlen(w) == n && starts_ci(name, n, w);
}

static int block_element(const char *name, size_t n)
{
    static const char *const blocks[] = {
        "p",  "div", "li", "ul", "ol", "blockquote", "pre",     "tr",     "table",  "h1",
        "h2", "h3",  "h4", "h5", "h6", "section",    "article", "header", "footer", "hr",
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        if (name_is(name, n, blocks[i])) {
            return 1;
        }
    }
    return 0;
}

/* Index just past the '>' closing the tag that starts at in[i] == '<', honouring quoted
 * attribute values; len when the tag never closes. */
static size_t tag_end(const char *in, size_t len, size_t i)
{
    char quote = 0;
    for (i++; i < len; i++) {
        char c = in[i];
        if (quote) {
            if (c == quote) {
                quote = 0;
            }
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            return i + 1;
        }
    }
    return len;
}

/* Index of the first "</word" (case-insensitive) at or after i; len when absent. */
static size_t find_end_tag(const char *in, size_t len, size_t i, const char *word)
{
    while (i < len) {
        const char *lt = memchr(in + i, '<', len - i);
        if (lt == NULL) {
            return len;
        }
        i = (size_t)(lt - in);
        if (i + 1 < len && in[i + 1] == '/' && starts_ci(in + i + 2, len - i - 2, word)) {
            return i;
        }
        i++;
    }
    return len;
}

/* A line break unless the output (since start) is empty or already ends in one. */
static int newline(bv_buf *out, size_t start)
{
    if (out->len == start || out->p[out->len - 1] == '\n') {
        return 0;
    }
    return bv_buf_putc(out, '\n');
}

int bv_html_to_text(const char *in, size_t len, bv_buf *out)
{
    size_t start = out->len;
    if (bv_buf_reserve(out, len) != 0) {
        return BV_ENOMEM;
    }
    size_t i = 0;
    while (i < len) {
        /* a run of text up to the next tag */
        size_t j = i;
        while (j < len && in[j] != '<') {
            j++;
        }
        if (j > i && bv_html_decode(in + i, j - i, out) != 0) {
            return BV_ENOMEM;
        }
        i = j;
        if (i >= len) {
            break;
        }
        unsigned char next = i + 1 < len ? (unsigned char)in[i + 1] : 0;
        if (next == '!') {
            if (starts_ci(in + i, len - i, "<!--")) {
                const char *end = memmem(in + i + 4, len - i - 4, "-->", 3);
                i = end ? (size_t)(end - in) + 3 : len;
            } else {
                i = tag_end(in, len, i);
            }
            continue;
        }
        if (next == '?') {
            i = tag_end(in, len, i);
            continue;
        }
        int closing = next == '/';
        size_t ns = i + 1 + (size_t)closing;
        if (ns >= len || !is_alpha((unsigned char)in[ns])) {
            /* a '<' that starts no tag is text */
            if (bv_buf_putc(out, '<') != 0) {
                return BV_ENOMEM;
            }
            i++;
            continue;
        }
        size_t ne = ns;
        while (ne < len && is_alnum((unsigned char)in[ne])) {
            ne++;
        }
        const char *name = in + ns;
        size_t nlen = ne - ns;
        i = tag_end(in, len, i);
        int rc = 0;
        if (name_is(name, nlen, "br")) {
            rc = bv_buf_putc(out, '\n');
        } else if (block_element(name, nlen)) {
            rc = newline(out, start);
        } else if (!closing && (name_is(name, nlen, "script") || name_is(name, nlen, "style"))) {
            i = find_end_tag(in, len, i, nlen == 6 ? "script" : "style");
            if (i < len) {
                i = tag_end(in, len, i);
            }
        }
        if (rc != 0) {
            return BV_ENOMEM;
        }
    }
    /* trim the line breaks and spaces the markup left at both ends */
    size_t end = out->len;
    while (end > start && (out->p[end - 1] == '\n' || out->p[end - 1] == ' ')) {
        end--;
    }
    size_t lead = start;
    while (lead < end && (out->p[lead] == '\n' || out->p[lead] == ' ')) {
        lead++;
    }
    if (lead > start) {
        memmove(out->p + start, out->p + lead, end - lead);
    }
    out->len = start + (end - lead);
    if (out->p != NULL) {
        out->p[out->len] = '\0';
    }
    return 0;
}
