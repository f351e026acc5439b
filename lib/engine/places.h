/* places.h: the gazetteer, the place names blikveld recognises in posts: the Dutch residences,
 * municipalities and provinces of the address register (built in, from data/places), the
 * aliases people use ("Den Haag" for 's-Gravenhage, "Den Bosch", "Scheveningen" as part of
 * Den Haag), and a municipality's own list of neighbourhoods, squares, streets and venues
 * (`places: {extra: FILE}` in the config), so "Malieveld" or "Zuiderpark" count too.
 *
 * Each name is kept as written and normalised like post text (engine/text.h), which is what the
 * matcher scans for. Names that are also ordinary words (Best, Made, Oranje, Echt, Een, Loon,
 * Winkel, ...: data/places/context-words.txt) need context to count: see
 * bv_place_after_preposition.
 *
 * Ownership: a gazetteer owns its names; bv_place records are borrowed from it and live as long
 * as it does. It is immutable once built, so it may be shared. */
#ifndef BV_ENGINE_PLACES_H
#define BV_ENGINE_PLACES_H

#include "core/diag.h"

#include <stddef.h>
#include <stdint.h>

typedef enum bv_place_kind {
    BV_PLACE_RESIDENCE = 1,    /* a woonplaats of the address register */
    BV_PLACE_MUNICIPALITY = 2, /* a gemeente (2019) */
    BV_PLACE_PROVINCE = 4,
    BV_PLACE_ALIAS = 8, /* another name for `official` */
    BV_PLACE_PART = 16, /* a district or village of the municipality `official` */
    BV_PLACE_EXTRA = 32 /* from the municipality's own list */
} bv_place_kind;

/* Where a place lies. */
typedef struct bv_place_home {
    const char *municipality; /* the 2018 division, as in data/places */
    const char *province;
} bv_place_home;

typedef struct bv_place {
    const char *name; /* as written: "'s-Gravenhage", "Den Haag", "Malieveld" */
    const char *norm; /* normalised, without the surrounding spaces: "s gravenhage" */
    size_t norm_len;
    unsigned kinds;             /* bv_place_kind bits */
    int needs_context;          /* also an ordinary word: counts only with context */
    const char *official;       /* the register's name of an alias or part; NULL otherwise */
    const bv_place_home *homes; /* the places of that name (an alias: those of official) */
    size_t nhomes;              /* more than 1: ambiguous (Katwijk, Rijswijk, Haren, ...);
                                   0 for provinces and a municipality's own names */
} bv_place;

typedef struct bv_gazetteer bv_gazetteer;

/* Limits of a municipality's own list. */
#define BV_PLACES_EXTRA_MAX_BYTES (1u << 20)
#define BV_PLACES_EXTRA_MAX_NAMES 20000
#define BV_PLACES_NAME_MAX 200 /* bytes of one name as written */

/* The built-in names. NULL when out of memory. */
bv_gazetteer *bv_gazetteer_new(void);
void bv_gazetteer_free(bv_gazetteer *g);

/* Adds a municipality's own list: one name per line (UTF-8), '#' starts a comment line, blank
 * lines are skipped, names already known add nothing. Refused, with `file:line:col: message`
 * in diag and nothing added: bytes that are not UTF-8 or control characters, a name longer than
 * BV_PLACES_NAME_MAX or with no letter or digit, more than BV_PLACES_EXTRA_MAX_NAMES names, a
 * file larger than BV_PLACES_EXTRA_MAX_BYTES. Returns 0, BV_EINVAL, BV_ELIMIT, BV_EIO or
 * BV_ENOMEM. */
int bv_gazetteer_load_extra(bv_gazetteer *g, const char *path, bv_diag *diag);
/* The same from memory; name is used in diagnostics. */
int bv_gazetteer_add_extra(bv_gazetteer *g, const char *name, const char *text, size_t len,
                           bv_diag *diag);

size_t bv_gazetteer_count(const bv_gazetteer *g);
const bv_place *bv_gazetteer_get(const bv_gazetteer *g, size_t i); /* borrowed */
/* The first place whose normalised name is norm[0..len) (several may share it: they are next
 * to each other from there on), or -1. */
long bv_gazetteer_find(const bv_gazetteer *g, const char *norm, size_t len);

/* The context rule for names that are also ordinary words: in normalised text (spaces around
 * every word), 1 when the word just before norm[start] is a preposition of place: in, naar,
 * bij, op, uit, te, rond, richting, vanuit, near, at, to, from, around. (The other context, a
 * capital letter inside a sentence, is read from the original text by the matcher.) */
int bv_place_after_preposition(const char *norm, size_t len, size_t start);

#endif
