/* fuzz_sources.c: libFuzzer target for a config's `sources:` list: the YAML loader with the
 * sources table (lib/source/source.h), then each item's check. Nothing may crash or leak, an
 * item that passes names a known platform and gets a name, and a refusal says which item. */
#include "core/config.h"
#include "source/source.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz {
    bv_seclist sources;
} fz;

static const bv_option table[] = {
    BV_OPTION_SECTION_LIST("sources", fz, sources, bv_source_conf_table, bv_source_conf, "s"),
    BV_OPTION_END,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int env_set;
    if (!env_set) {
        setenv("FUZZ_TOKEN", "t0k3n", 1);
        env_set = 1;
    }
    fz c;
    memset(&c, 0, sizeof c);
    bv_diag diag;
    if (bv_config_load_buffer("f.yaml", (const char *)data, size, "/b", table, &c, &diag) != 0) {
        if (c.sources.v || c.sources.n || c.sources.info) {
            abort();
        }
        return 0;
    }
    for (size_t i = 0; i < c.sources.n; i++) {
        bv_source_conf *sc = (bv_source_conf *)c.sources.v + i;
        char msg[512];
        if (bv_source_conf_check(sc, &c.sources.info[i], i, msg, sizeof msg) == 0) {
            if (sc->platform == NULL || sc->name == NULL ||
                strstr(bv_source_platforms(), sc->platform) == NULL) {
                abort();
            }
        } else if (strncmp(msg, "sources[", 8) != 0 ||
                   (strstr(msg, "t0k3n") != NULL && memmem(data, size, "t0k3n", 5) == NULL)) {
            abort(); /* a refusal names the item, and never shows a secret's value */
        }
    }
    bv_config_free(table, &c);
    return 0;
}
