/* text.h: the one normalisation every post's text and every keyword goes through before matching,
 * so that no pattern needs Unicode-aware \b or \w.
 *
 * Output: lower case (Unicode case folding), diacritics stripped (é -> e, ß -> ss via folding),
 * zero-width and format characters (U+200B..U+200D, U+2060, U+FEFF, soft hyphen, ...) removed,
 * every run of characters that are not letters or digits (punctuation, spaces, emoji, '#', '@')
 * turned into one ASCII space, with one space at the start and the end: " project x in haren ".
 * Hashtags in CamelCase are also split ("#ProjectX" -> " projectx project x "), so phrase
 * patterns can match both spellings. Invalid UTF-8 bytes become a space. */
#ifndef BV_ENGINE_TEXT_H
#define BV_ENGINE_TEXT_H

#include "core/buf.h"

#include <stddef.h>

/* Appends the normalised form of in[0..len) to out (out is reset first). 0 or BV_ENOMEM. */
int bv_text_normalise(const char *in, size_t len, bv_buf *out);

/* Flags for bv_text_normalise_flags. */
#define BV_TEXT_NO_TAG_SPLIT 1u /* do not add the split form of CamelCase hashtags (keywords) */

/* As bv_text_normalise, with flags (0 = the same as bv_text_normalise). 0 or BV_ENOMEM. */
int bv_text_normalise_flags(const char *in, size_t len, bv_buf *out, unsigned flags);

#endif
