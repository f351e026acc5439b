/* assets.c: the console's web page served from memory. lib/console/gen_assets.py turns
 * lib/console/www/ into assets.inc at build time: blikveld stays one binary, with no install
 * paths to configure or get wrong, and the page always matches the server that serves it. */
#include "console/assets.h"

#include <string.h>

#include "console/assets.inc"

#define ASSET_COUNT (sizeof assets / sizeof assets[0])

/* A handful of files: a linear scan is as fast as anything else. */
const bv_asset *bv_asset_find(const char *path)
{
    if (path == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < ASSET_COUNT; i++) {
        if (strcmp(assets[i].path, path) == 0) {
            return &assets[i];
        }
    }
    return NULL;
}

size_t bv_assets_count(void)
{
    return ASSET_COUNT;
}

const bv_asset *bv_asset_at(size_t i)
{
    return i < ASSET_COUNT ? &assets[i] : NULL;
}
