/* html.h: HTML fragments (Mastodon `content`) to plain text: tags stripped, line breaks kept,
 * script/style dropped, numeric and all HTML5 named character references decoded.
 * Pure functions over borrowed input; output is appended to a caller-owned bv_buf. */
#ifndef BV_CODEC_HTML_H
#define BV_CODEC_HTML_H

#include "core/buf.h"

#include <stddef.h>

/* Appends the text of the HTML fragment in[0..len) to out (out is not reset). <br> becomes a
 * newline; block elements (p, div, li, blockquote, h1-h6, ...) start a new line; other tags are
 * removed (their text kept); comments and script/style contents are dropped; leading and
 * trailing newlines/spaces of the result are trimmed. Input that is not UTF-8 is passed through
 * byte for byte. Returns 0 or BV_ENOMEM. */
int bv_html_to_text(const char *in, size_t len, bv_buf *out);

/* Appends in[0..len) with its character references decoded (no tag handling) to out.
 * Returns 0 or BV_ENOMEM. */
int bv_html_decode(const char *in, size_t len, bv_buf *out);

/* Decodes one character reference starting at s[0] == '&' as the HTML5 tokenizer does in text:
 * "&#39;", "&#x27", "&amp;", "&notin;", legacy names without ';' ("&amp", "&copy"). Writes the
 * UTF-8 result into utf8 (at least 8 bytes) and its length into *ulen, and returns the number
 * of input bytes consumed, or 0 when s does not start a reference (the '&' is then literal).
 * Numeric references to 0, surrogates or beyond U+10FFFF give U+FFFD; 0x80-0x9F map through
 * windows-1252 as the standard says. */
size_t bv_html_entity(const char *s, size_t len, char *utf8, size_t *ulen);

#endif
