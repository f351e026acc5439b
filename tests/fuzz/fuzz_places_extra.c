/* fuzz_places_extra.c: libFuzzer target for a municipality's own list of place names
 * (lib/engine/places.h): any bytes are added or refused with a diagnostic, a refusal adds
 * nothing, and every name added can be found again by its normalised form. */
#include "engine/places.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bv_gazetteer *base;
    bv_gazetteer *g = bv_gazetteer_new();
    if (g == NULL) {
        return 0;
    }
    if (base == NULL) {
        base = bv_gazetteer_new(); /* kept: the count of the built-in names */
    }
    size_t before = bv_gazetteer_count(g);
    bv_diag d;
    int rc = bv_gazetteer_add_extra(g, "fuzz.txt", (const char *)data, size, &d);
    if (rc != 0) {
        if (bv_gazetteer_count(g) != before || d.msg[0] == '\0') {
            abort();
        }
    } else {
        for (size_t i = before; i < bv_gazetteer_count(g); i++) {
            const bv_place *p = bv_gazetteer_get(g, i);
            if (p->norm_len == 0 || bv_gazetteer_find(g, p->norm, p->norm_len) < 0) {
                abort();
            }
        }
    }
    if (base && bv_gazetteer_count(base) != before) {
        abort();
    }
    bv_gazetteer_free(g);
    return 0;
}
