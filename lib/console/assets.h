/* assets.h: the console's web page (lib/console/www/: HTML, JS, CSS, icon) compiled into the
 * binary, looked up by URL path. Everything here is static and read-only: nothing to free. */
#ifndef BV_CONSOLE_ASSETS_H
#define BV_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct bv_asset {
    const char *path;          /* URL path: "/index.html", "/app.js", "/favicon.ico", ... */
    const char *type;          /* Content-Type, with "; charset=utf-8" for text */
    const unsigned char *data; /* the file's bytes (len of them) */
    size_t len;
    const char *etag; /* strong ETag with its quotes: "\"" 16 hex of SHA-256 "\"" */
} bv_asset;

/* The asset at exactly this path (the caller strips any query string first), or NULL when
 * there is none or path is NULL. Borrowed: static data. */
const bv_asset *bv_asset_find(const char *path);
/* How many assets there are, and the i-th (i < count) in path order; NULL past the end. */
size_t bv_assets_count(void);
const bv_asset *bv_asset_at(size_t i);

#endif
