/* seen.c: recently seen post ids in two rotating generations; see seen.h. Exact comparison of
 * the ids (no false duplicates) and a per-process random seed for the hash, so ids crafted to
 * collide cannot slow the table down. */
#include "engine/seen.h"
#include "core/buf.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct entry {
    uint64_t hash; /* 0: empty */
    size_t off;    /* of the key in the generation's arena: platform byte, id, NUL */
} entry;

/* One generation: its keys live in one arena, freed together when it rotates out. */
typedef struct gen {
    entry *slots;
    size_t cap, n;
    bv_buf keys;
} gen;

struct bv_seen {
    int64_t horizon;
    int64_t started; /* event time the current generation began; INT64_MIN before any */
    uint64_t seed;
    gen g[2]; /* [0] current, [1] previous */
};

static uint64_t hash_key(uint64_t seed, const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h ? h : 1;
}

static void gen_clear(gen *g)
{
    free(g->slots);
    bv_buf_free(&g->keys);
    memset(g, 0, sizeof *g);
}

static const entry *gen_find(const gen *g, uint64_t h, const char *k, size_t n)
{
    if (g->cap == 0) {
        return NULL;
    }
    for (size_t j = (size_t)h & (g->cap - 1);; j = (j + 1) & (g->cap - 1)) {
        const entry *e = &g->slots[j];
        if (e->hash == 0) {
            return NULL;
        }
        const char *key = g->keys.p + e->off;
        if (e->hash == h && memcmp(key, k, n) == 0 && key[n] == '\0') {
            return e;
        }
    }
}

static int gen_put(gen *g, uint64_t h, const char *key, size_t n)
{
    if ((g->n + 1) * 4 > g->cap * 3) {
        size_t ncap = g->cap ? g->cap * 2 : 64;
        entry *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL) {
            return BV_ENOMEM;
        }
        for (size_t i = 0; i < g->cap; i++) {
            if (g->slots[i].hash) {
                size_t j = (size_t)g->slots[i].hash & (ncap - 1);
                while (ns[j].hash) {
                    j = (j + 1) & (ncap - 1);
                }
                ns[j] = g->slots[i];
            }
        }
        free(g->slots);
        g->slots = ns;
        g->cap = ncap;
    }
    size_t off = g->keys.len;
    if (bv_buf_append(&g->keys, key, n) != BV_OK || bv_buf_putc(&g->keys, '\0') != BV_OK) {
        return BV_ENOMEM;
    }
    size_t j = (size_t)h & (g->cap - 1);
    while (g->slots[j].hash) {
        j = (j + 1) & (g->cap - 1);
    }
    g->slots[j].hash = h;
    g->slots[j].off = off;
    g->n++;
    return BV_OK;
}

bv_seen *bv_seen_new(int64_t horizon_ms)
{
    if (horizon_ms <= 0) {
        return NULL;
    }
    bv_seen *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->horizon = horizon_ms;
    s->started = INT64_MIN;
    if (getrandom(&s->seed, sizeof s->seed, GRND_NONBLOCK) != (ssize_t)sizeof s->seed) {
        s->seed = (uint64_t)(uintptr_t)s ^ 0x9E3779B97F4A7C15ULL;
    }
    return s;
}

void bv_seen_free(bv_seen *s)
{
    if (s) {
        gen_clear(&s->g[0]);
        gen_clear(&s->g[1]);
        free(s);
    }
}

int bv_seen_check(bv_seen *s, bv_platform platform, const char *id, int64_t now_ms)
{
    if (s->started == INT64_MIN) {
        s->started = now_ms;
    } else if (now_ms - s->started >= s->horizon) {
        gen_clear(&s->g[1]); /* the previous generation is older than the horizon now */
        s->g[1] = s->g[0];
        memset(&s->g[0], 0, sizeof s->g[0]);
        s->started = now_ms;
    }
    size_t idlen = strlen(id);
    char small[256];
    char *key = idlen + 2 <= sizeof small ? small : malloc(idlen + 2);
    if (key == NULL) {
        return BV_ENOMEM;
    }
    size_t n = idlen + 1; /* platform byte and id */
    key[0] = (char)('a' + (int)platform);
    memcpy(key + 1, id, idlen + 1);
    uint64_t h = hash_key(s->seed, key, n);
    int rc = 0;
    if (gen_find(&s->g[0], h, key, n) || gen_find(&s->g[1], h, key, n)) {
        rc = 1;
    } else if (gen_put(&s->g[0], h, key, n) != BV_OK) {
        rc = BV_ENOMEM;
    }
    if (key != small) {
        free(key);
    }
    return rc;
}

size_t bv_seen_size(const bv_seen *s)
{
    return s->g[0].n + s->g[1].n;
}
