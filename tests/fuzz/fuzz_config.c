/* fuzz_config.c: libFuzzer target for the YAML config loader (lib/core/config.h), on a table
 * with every option type (mappings of chosen names too: GROUPS, STRING_MAP). Checks that a failed
 * load leaves nothing owned and nothing leaks. */
#include "core/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz_sub {
    char *url;
    bv_strlist hosts;
    int64_t db;
} fz_sub;

typedef struct fz_item {
    char *platform;
    bv_strlist words;
    int64_t every;
} fz_item;

typedef struct fz_conf {
    char *event;
    bv_strlist rules;
    char *state_dir;
    int64_t lateness;
    fz_sub redis;
    bool drill;
    int64_t workers;
    bv_strlist tags;
    bv_seclist sources;
    bv_groups groups;
    bv_strmap headers;
} fz_conf;

static const bv_option item_table[] = {
    BV_OPTION("platform", BV_OPT_STRING, fz_item, platform, NULL, "platform"),
    BV_OPTION("words", BV_OPT_STRING_LIST, fz_item, words, "[a]", "words"),
    BV_OPTION("every", BV_OPT_DURATION, fz_item, every, "1m", "every"),
    BV_OPTION_END,
};

static const bv_option sub_table[] = {
    BV_OPTION("url", BV_OPT_STRING, fz_sub, url, "redis://127.0.0.1:6379", "server"),
    BV_OPTION("hosts", BV_OPT_STRING_LIST, fz_sub, hosts, "[a, b]", "hosts"),
    BV_OPTION_RANGE("db", BV_OPT_INT, fz_sub, db, "0", 0, 15, "database"),
    BV_OPTION_END,
};

static const bv_option table[] = {
    BV_OPTION("event", BV_OPT_STRING, fz_conf, event, NULL, "event name"),
    BV_OPTION("rules", BV_OPT_PATH_LIST, fz_conf, rules, NULL, "rule files"),
    BV_OPTION("state_dir", BV_OPT_PATH, fz_conf, state_dir, "state", "state directory"),
    BV_OPTION("lateness", BV_OPT_DURATION, fz_conf, lateness, "2m", "lateness"),
    BV_OPTION_SECTION("redis", fz_conf, redis, sub_table, "redis"),
    BV_OPTION_SECTION_LIST("sources", fz_conf, sources, item_table, fz_item, "sources"),
    BV_OPTION_IGNORE("recipients", "recipients"),
    BV_OPTION("drill", BV_OPT_BOOL, fz_conf, drill, "no", "drill"),
    BV_OPTION_RANGE("workers", BV_OPT_INT, fz_conf, workers, "1", -5, 64, "workers"),
    BV_OPTION("tags", BV_OPT_STRING_LIST, fz_conf, tags, NULL, "tags"),
    BV_OPTION_GROUPS("groups", fz_conf, groups, item_table, fz_item, "groups"),
    BV_OPTION("headers", BV_OPT_STRING_MAP, fz_conf, headers, NULL, "headers"),
    BV_OPTION_END,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: the loader must not read past len nor need a NUL */
    char *text = malloc(size ? size : 1);
    if (text == NULL) {
        return 0;
    }
    if (size) {
        memcpy(text, data, size);
    }
    fz_conf c;
    memset(&c, 0x5a, sizeof c);
    bv_diag diag;
    int rc = bv_config_load_buffer("fuzz.yaml", text, size, "/base", table, &c, &diag);
    if (rc != 0) {
        if (c.event || c.rules.v || c.state_dir || c.redis.url || c.redis.hosts.v || c.tags.v ||
            c.sources.v || c.sources.n || c.sources.info || c.groups.names || c.groups.lists ||
            c.groups.line || c.groups.n || c.headers.keys || c.headers.vals || c.headers.n) {
            abort();
        }
        char out[1200];
        bv_diag_format(&diag, out, sizeof out);
    } else if (c.state_dir == NULL || c.redis.url == NULL) {
        abort();
    } else {
        for (size_t i = 0; i < c.sources.n; i++) {
            if (((fz_item *)c.sources.v)[i].words.n > 0 &&
                ((fz_item *)c.sources.v)[i].words.v == NULL) {
                abort();
            }
        }
        if (c.groups.n > BV_CONFIG_MAX_ITEMS || c.headers.n > BV_CONFIG_MAX_ITEMS) {
            abort();
        }
        for (size_t i = 0; i < c.groups.n; i++) {
            const bv_seclist *l = &c.groups.lists[i];
            if (c.groups.names[i] == NULL || c.groups.names[i][0] == '\0' || c.groups.line[i] < 1 ||
                (l->n > 0 && l->v == NULL) || l->n > BV_CONFIG_MAX_ITEMS) {
                abort();
            }
            for (size_t k = 0; k < l->n; k++) {
                const fz_item *it = (const fz_item *)l->v + k;
                if (it->words.n > 0 && it->words.v == NULL) {
                    abort();
                }
            }
        }
        for (size_t i = 0; i < c.headers.n; i++) {
            if (c.headers.keys[i] == NULL || c.headers.keys[i][0] == '\0' ||
                c.headers.vals[i] == NULL) {
                abort();
            }
        }
        for (size_t i = 0; i < c.rules.n; i++) {
            if (c.rules.v[i] == NULL || c.rules.v[i][0] != '/') {
                abort();
            }
        }
    }
    bv_config_free(table, &c);
    free(text);
    return 0;
}
