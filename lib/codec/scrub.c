/* scrub.c: pseudonymising platform payloads before they are recorded, and yajl trees back to
 * compact JSON; see scrub.h. Two walks per payload: the platform's key rules (pre-order, so a
 * rule sees its siblings and children still raw), then one pass over the strings left that
 * replaces handles in URL path segments (or, for Bluesky, every DID). */
#include "codec/scrub.h"
#include "codec/codec_util.h"
#include "codec/html.h"
#include "core/err.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#define HEX_LEN (2 * BV_PSEUDO_LEN)
#define HANDLE_MAX 256   /* longer "handles" are garbage: scrubbed, but not looked for in URLs */
#define HANDLES_MAX 1024 /* a payload naming more people is not scrubbed (BV_ELIMIT) */
#define PREFIX_MAX 64    /* cut-short handles ("name…") are looked for up to this many handles */

/* Telegram's numeric pseudonyms: above every real user id (< 2^52), below 2^53. */
#define TG_BASE 5000000000000000LL
#define TG_SPAN 4000000000000000ULL

/* The handles met while scrubbing (ASCII case folded), each with its pseudonym: the URL pass
 * looks every path segment up here. Open addressing, at most half full, hashed with a seed
 * derived from the key, so a payload cannot be made of handles that all collide. */
typedef struct handle {
    char *name; /* owned; NULL for an empty slot */
    size_t len;
    char hex[HEX_LEN + 1];
} handle;

typedef struct scrub {
    const bv_pseudo *ps;
    bv_platform p;
    int err; /* the first error; every walk stops at it */
    handle *hs;
    size_t hcap, hn;
    uint64_t seed;
    const char *page; /* facebook: the Page's id (post_id up to '_'), borrowed from the tree */
    size_t page_len;
} scrub;

/* What a key rule does with one member: walk into it with the same rules, leave it as it is
 * now, remove it, or make it null. A value of the wrong type where a codec reads a person
 * becomes null rather than going: removing it could make a later duplicate key the one the
 * codec reads, and the scrubbed payload must decode as the original did. */
enum { WALK, DONE, DROP, NUL };

/* What the rules of one object's members need to know about their siblings, found once per
 * object (a lookup per member would make objects with many keys quadratic) and copied, since
 * members are rewritten while the rules run. */
typedef struct objinfo {
    int profile;     /* bluesky: the object is a profile record */
    int user_sub;    /* reddit: its subreddit is a user's profile ("u_NAME") */
    int sender_page; /* facebook: its sender_id is the Page */
    int has_chat;    /* telegram: its chat's id, as text */
    size_t chat_len;
    char chat[40];
} objinfo;

typedef int (*member_fn)(scrub *sc, const objinfo *oi, const char *key, yajl_val *slot);

static const char hexdig[] = "0123456789abcdef";

static int eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static void pseudo_hex(const scrub *sc, const char *raw, size_t n, char out[HEX_LEN + 1])
{
    uint8_t h[BV_PSEUDO_LEN];
    bv_pseudo_author(sc->ps, sc->p, raw, n, h);
    for (size_t i = 0; i < BV_PSEUDO_LEN; i++) {
        out[2 * i] = hexdig[h[i] >> 4];
        out[2 * i + 1] = hexdig[h[i] & 15];
    }
    out[HEX_LEN] = '\0';
}

/* ---- the handle set ---- */

static uint64_t hash_folded(const scrub *sc, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ sc->seed;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ fold((unsigned char)s[i])) * 1099511628211ULL;
    }
    return h;
}

static int same_folded(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i])) {
            return 0;
        }
    }
    return 1;
}

static const handle *hs_find(const scrub *sc, const char *s, size_t n)
{
    if (sc->hn == 0 || n == 0) {
        return NULL;
    }
    size_t mask = sc->hcap - 1;
    for (size_t i = (size_t)hash_folded(sc, s, n) & mask;; i = (i + 1) & mask) {
        const handle *h = &sc->hs[i];
        if (h->name == NULL) {
            return NULL;
        }
        if (h->len == n && same_folded(h->name, s, n)) {
            return h;
        }
    }
}

static void hs_put(const scrub *sc, handle *tab, size_t cap, handle h)
{
    size_t mask = cap - 1;
    size_t i = (size_t)hash_folded(sc, h.name, h.len) & mask;
    while (tab[i].name != NULL) {
        i = (i + 1) & mask;
    }
    tab[i] = h;
}

/* The characters of a handle on every platform here: [A-Za-z0-9_-]. */
static int handle_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Remembers raw[0..n) as a handle whose pseudonym is the hash of these very bytes. Only what can
 * be a whole URL segment is kept. */
static void hs_add(scrub *sc, const char *raw, size_t n)
{
    if (n == 0 || n > HANDLE_MAX || hs_find(sc, raw, n) != NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!handle_char((unsigned char)raw[i])) {
            return;
        }
    }
    if (sc->hn == HANDLES_MAX) {
        sc->err = BV_ELIMIT;
        return;
    }
    if (sc->hn == 0 && sc->hcap == 0) {
        uint8_t h[BV_PSEUDO_LEN];
        bv_pseudo_author(sc->ps, sc->p, "handle-set-seed", 15, h);
        memcpy(&sc->seed, h, sizeof sc->seed);
    }
    if (2 * (sc->hn + 1) > sc->hcap) {
        size_t cap = sc->hcap ? 2 * sc->hcap : 16;
        handle *tab = calloc(cap, sizeof *tab);
        if (tab == NULL) {
            sc->err = BV_ENOMEM;
            return;
        }
        for (size_t i = 0; i < sc->hcap; i++) {
            if (sc->hs[i].name != NULL) {
                hs_put(sc, tab, cap, sc->hs[i]);
            }
        }
        free(sc->hs);
        sc->hs = tab;
        sc->hcap = cap;
    }
    handle h = {.len = n};
    h.name = malloc(n + 1);
    if (h.name == NULL) {
        sc->err = BV_ENOMEM;
        return;
    }
    memcpy(h.name, raw, n);
    h.name[n] = '\0';
    pseudo_hex(sc, raw, n, h.hex);
    hs_put(sc, sc->hs, sc->hcap, h);
    sc->hn++;
}

/* A handle that starts with s[0..n) (a display URL cut short: "twitter.com/RobotPrincessF…"). */
static const handle *hs_prefix(const scrub *sc, const char *s, size_t n)
{
    for (size_t i = 0; n > 0 && sc->hn <= PREFIX_MAX && i < sc->hcap; i++) {
        const handle *h = &sc->hs[i];
        if (h->name != NULL && h->len > n && same_folded(h->name, s, n)) {
            return h;
        }
    }
    return NULL;
}

static void hs_free(scrub *sc)
{
    for (size_t i = 0; i < sc->hcap; i++) {
        free(sc->hs[i].name);
    }
    free(sc->hs);
}

/* ---- tree surgery (nodes as yajl_tree allocates them: malloc, freed by yajl_tree_free) ---- */

static yajl_val node_string(const char *s, size_t n)
{
    yajl_val v = calloc(1, sizeof *v);
    char *c = malloc(n + 1);
    if (v == NULL || c == NULL) {
        free(v);
        free(c);
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = '\0';
    v->type = yajl_t_string;
    v->u.string = c;
    return v;
}

static yajl_val node_null(void)
{
    yajl_val v = calloc(1, sizeof *v);
    if (v != NULL) {
        v->type = yajl_t_null;
    }
    return v;
}

static yajl_val node_integer(long long i)
{
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%lld", i);
    yajl_val v = calloc(1, sizeof *v);
    char *r = malloc((size_t)n + 1);
    if (v == NULL || r == NULL) {
        free(v);
        free(r);
        return NULL;
    }
    memcpy(r, txt, (size_t)n + 1);
    v->type = yajl_t_number;
    v->u.number.i = i;
    v->u.number.d = (double)i;
    v->u.number.r = r;
    v->u.number.flags = YAJL_NUMBER_INT_VALID | YAJL_NUMBER_DOUBLE_VALID;
    return v;
}

/* Puts nv in *slot and frees what was there; on NULL (out of memory) the old value stays and
 * the scrub fails. */
static void put(scrub *sc, yajl_val *slot, yajl_val nv)
{
    if (nv == NULL) {
        sc->err = BV_ENOMEM;
        return;
    }
    yajl_tree_free(*slot);
    *slot = nv;
}

static void obj_remove(yajl_val o, size_t i)
{
    size_t rest = o->u.object.len - i - 1;
    free((char *)o->u.object.keys[i]);
    yajl_tree_free(o->u.object.values[i]);
    memmove(&o->u.object.keys[i], &o->u.object.keys[i + 1], rest * sizeof o->u.object.keys[0]);
    memmove(&o->u.object.values[i], &o->u.object.values[i + 1],
            rest * sizeof o->u.object.values[0]);
    o->u.object.len--;
}

static void arr_remove(yajl_val a, size_t i)
{
    size_t rest = a->u.array.len - i - 1;
    yajl_tree_free(a->u.array.values[i]);
    memmove(&a->u.array.values[i], &a->u.array.values[i + 1], rest * sizeof a->u.array.values[0]);
    a->u.array.len--;
}

/* A string's bytes or a number's text; NULL for anything else. */
static const char *raw_text(yajl_val v, size_t *n)
{
    if (YAJL_IS_STRING(v)) {
        *n = strlen(v->u.string);
        return v->u.string;
    }
    if (YAJL_IS_NUMBER(v) && v->u.number.r != NULL) {
        *n = strlen(v->u.number.r);
        return v->u.number.r;
    }
    return NULL;
}

static int is_bool(yajl_val v)
{
    return YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v);
}

/* null and booleans name nobody: they stay where an id was expected. */
static int harmless(yajl_val v)
{
    return v == NULL || YAJL_IS_NULL(v) || is_bool(v);
}

/* ---- value rules ---- */

enum { KEEP_NAME = 0, COLLECT = 1, COLLECT_LOCAL = 2 };

/* The value becomes the hex pseudonym of its text. COLLECT remembers the text as a handle to
 * look for in URLs; COLLECT_LOCAL remembers only what comes before an '@' (Mastodon's acct). */
static int as_hex(scrub *sc, yajl_val *slot, int collect)
{
    size_t n = 0;
    const char *raw = raw_text(*slot, &n);
    if (raw == NULL) {
        return harmless(*slot) ? DONE : NUL;
    }
    if (n == 0) {
        return DONE; /* "" names nobody, and codecs take it for no author */
    }
    if (collect == COLLECT) {
        hs_add(sc, raw, n);
    } else if (collect == COLLECT_LOCAL) {
        const char *at = memchr(raw, '@', n);
        hs_add(sc, raw, at != NULL ? (size_t)(at - raw) : n);
    }
    char hex[HEX_LEN + 1];
    pseudo_hex(sc, raw, n, hex);
    put(sc, slot, node_string(hex, HEX_LEN));
    return DONE;
}

/* as_hex for a field codecs read only as a string: a number there becomes null, not a string
 * the codec would then read. */
static int as_hex_str(scrub *sc, yajl_val *slot, int collect)
{
    if (!YAJL_IS_STRING(*slot)) {
        return harmless(*slot) ? DONE : NUL;
    }
    return as_hex(sc, slot, collect);
}

/* X: ids come as strings and as lossy numeric copies (no codec reads these); the copies go. */
static int x_id(scrub *sc, yajl_val *slot)
{
    return YAJL_IS_NUMBER(*slot) ? DROP : as_hex(sc, slot, KEEP_NAME);
}

/* Telegram: the value becomes a numeric pseudonym (see scrub.h). */
static int as_tg_number(scrub *sc, yajl_val *slot)
{
    size_t n = 0;
    const char *raw = raw_text(*slot, &n);
    if (raw == NULL) {
        return harmless(*slot) ? DONE : NUL;
    }
    if (n == 0) {
        return DONE;
    }
    uint8_t h[BV_PSEUDO_LEN];
    bv_pseudo_author(sc->ps, sc->p, raw, n, h);
    uint64_t x = 0;
    for (size_t i = 0; i < 8; i++) {
        x = x << 8 | h[i];
    }
    put(sc, slot, node_integer(TG_BASE + (long long)(x % TG_SPAN)));
    return DONE;
}

static int keep_bool(yajl_val *slot)
{
    return is_bool(*slot) ? DONE : DROP;
}

/* Applies fn to each member of o once, without walking deeper: for person objects, whose
 * rules keep a few scalars and drop the rest. */
static void filter(scrub *sc, yajl_val o, member_fn fn)
{
    static const objinfo none;
    for (size_t i = 0; i < o->u.object.len && sc->err == 0;) {
        int a = fn(sc, &none, o->u.object.keys[i], &o->u.object.values[i]);
        if (a == DROP) {
            obj_remove(o, i);
            continue;
        }
        if (a == NUL) {
            put(sc, &o->u.object.values[i], node_null());
        }
        i++;
    }
}

/* A member that should hold a person object: filtered; anything else becomes null. */
static int person(scrub *sc, yajl_val *slot, member_fn fn)
{
    if (YAJL_IS_OBJECT(*slot)) {
        filter(sc, *slot, fn);
        return DONE;
    }
    return *slot == NULL || YAJL_IS_NULL(*slot) ? DONE : NUL;
}

/* A member that should hold a list of person objects: each filtered, other elements removed
 * (no codec reads these lists), anything but a list null. */
static int persons(scrub *sc, yajl_val *slot, member_fn fn)
{
    yajl_val a = *slot;
    if (!YAJL_IS_ARRAY(a)) {
        return a == NULL || YAJL_IS_NULL(a) ? DONE : NUL;
    }
    for (size_t i = 0; i < a->u.array.len && sc->err == 0;) {
        if (YAJL_IS_OBJECT(a->u.array.values[i])) {
            filter(sc, a->u.array.values[i], fn);
            i++;
        } else {
            arr_remove(a, i);
        }
    }
    return DONE;
}

/* ---- mastodon ---- */

static int masto_account(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "id")) {
        return as_hex(sc, slot, KEEP_NAME);
    }
    if (eq(k, "username")) {
        return as_hex(sc, slot, COLLECT);
    }
    if (eq(k, "acct")) {
        return as_hex_str(sc, slot, COLLECT_LOCAL);
    }
    if (eq(k, "bot") || eq(k, "group") || eq(k, "locked") || eq(k, "discoverable")) {
        return keep_bool(slot);
    }
    return DROP;
}

static int masto_mention(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "id")) {
        return as_hex(sc, slot, KEEP_NAME);
    }
    if (eq(k, "username")) {
        return as_hex(sc, slot, COLLECT);
    }
    if (eq(k, "acct")) {
        return as_hex_str(sc, slot, COLLECT_LOCAL);
    }
    return DROP;
}

static int masto_member(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "account")) {
        return person(sc, slot, masto_account);
    }
    if (eq(k, "mentions")) {
        return persons(sc, slot, masto_mention);
    }
    if (eq(k, "in_reply_to_account_id")) {
        return as_hex(sc, slot, KEEP_NAME);
    }
    if (eq(k, "author_name") || eq(k, "author_url") || eq(k, "authors")) {
        return DROP; /* a preview card's author */
    }
    return WALK;
}

/* ---- bluesky (Jetstream); DIDs are replaced in the string pass ---- */

static int jet_member(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "handle")) {
        return DROP;
    }
    if (oi->profile && (eq(k, "displayName") || eq(k, "description") || eq(k, "avatar") ||
                        eq(k, "banner") || eq(k, "pronouns") || eq(k, "website"))) {
        return DROP;
    }
    return WALK;
}

/* ---- x ---- */

static int x_user(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "id")) {
        return x_id(sc, slot);
    }
    if (eq(k, "id_str")) {
        return as_hex(sc, slot, KEEP_NAME);
    }
    if (eq(k, "username") || eq(k, "screen_name")) {
        return as_hex(sc, slot, COLLECT);
    }
    if (eq(k, "verified") || eq(k, "protected")) {
        return keep_bool(slot);
    }
    return DROP;
}

static int x_mention(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "id")) {
        return x_id(sc, slot);
    }
    if (eq(k, "id_str")) {
        return as_hex(sc, slot, KEEP_NAME);
    }
    if (eq(k, "username") || eq(k, "screen_name")) {
        return as_hex(sc, slot, COLLECT);
    }
    if (eq(k, "start") || eq(k, "end")) {
        return YAJL_IS_NUMBER(*slot) ? DONE : DROP;
    }
    if (eq(k, "indices")) {
        return YAJL_IS_ARRAY(*slot) ? DONE : DROP; /* may hold only numbers: checked below */
    }
    return DROP;
}

/* A v1.1 retweet's own text is "RT @name: ..."; the codec reads the retweeted status's text,
 * so the name can become the pseudonym. */
static void x_retweet_prefix(scrub *sc, yajl_val o)
{
    yajl_val rt = bv_json_get(o, "retweeted_status");
    size_t sn = 0, n = 0;
    const char *sname = bv_json_str(bv_json_get(rt, "user"), "screen_name", &sn);
    if (sname == NULL || sn == 0 ||
        (bv_json_str(rt, "text", &n) == NULL && bv_json_str(rt, "full_text", &n) == NULL &&
         bv_json_str(bv_json_get(rt, "extended_tweet"), "full_text", &n) == NULL)) {
        return;
    }
    char hex[HEX_LEN + 1];
    pseudo_hex(sc, sname, sn, hex);
    for (size_t i = 0; i < o->u.object.len && sc->err == 0; i++) {
        yajl_val t = o->u.object.values[i];
        if (!eq(o->u.object.keys[i], "text") || !YAJL_IS_STRING(t)) {
            continue;
        }
        const char *s = t->u.string;
        size_t len = strlen(s);
        if (len < 5 + sn || memcmp(s, "RT @", 4) != 0 || !same_folded(s + 4, sname, sn) ||
            s[4 + sn] != ':') {
            continue;
        }
        char *c = malloc(len - sn + HEX_LEN + 1);
        if (c == NULL) {
            sc->err = BV_ENOMEM;
            return;
        }
        memcpy(c, s, 4);
        memcpy(c + 4, hex, HEX_LEN);
        memcpy(c + 4 + HEX_LEN, s + 4 + sn, len - 4 - sn + 1);
        free(t->u.string);
        t->u.string = c;
    }
}

static int x_member(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "user")) {
        return person(sc, slot, x_user);
    }
    if (eq(k, "users")) {
        return persons(sc, slot, x_user);
    }
    if (eq(k, "mentions") || eq(k, "user_mentions")) {
        int a = persons(sc, slot, x_mention);
        /* offsets are numbers; anything else in `indices` could be a name */
        for (size_t i = 0; a == DONE && YAJL_IS_ARRAY(*slot) && i < (*slot)->u.array.len; i++) {
            yajl_val m = (*slot)->u.array.values[i];
            yajl_val ind = bv_json_get(m, "indices");
            for (size_t j = 0; YAJL_IS_ARRAY(ind) && j < ind->u.array.len;) {
                if (YAJL_IS_NUMBER(ind->u.array.values[j])) {
                    j++;
                } else {
                    arr_remove(ind, j);
                }
            }
        }
        return a;
    }
    if (eq(k, "author_id")) {
        return as_hex(sc, slot, KEEP_NAME); /* the codec reads numbers too */
    }
    if (eq(k, "in_reply_to_user_id") || eq(k, "user_id")) {
        return x_id(sc, slot);
    }
    if (eq(k, "in_reply_to_user_id_str") || eq(k, "user_id_str")) {
        return as_hex(sc, slot, KEEP_NAME);
    }
    if (eq(k, "in_reply_to_screen_name")) {
        return as_hex(sc, slot, COLLECT);
    }
    if (eq(k, "contributors")) {
        return harmless(*slot) ? DONE : DROP;
    }
    if (eq(k, "unwound")) {
        return DROP; /* Gnip's preview of a link: for a link to a post, its author's name */
    }
    return WALK;
}

/* ---- facebook ---- */

static int is_page(const scrub *sc, yajl_val v)
{
    size_t n = 0;
    const char *raw = raw_text(v, &n);
    return raw != NULL && sc->page != NULL && n == sc->page_len && memcmp(raw, sc->page, n) == 0;
}

static int fb_from(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    return eq(k, "id") ? as_hex(sc, slot, KEEP_NAME) : DROP;
}

static int fb_tag(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "id")) {
        return as_hex(sc, slot, KEEP_NAME);
    }
    if (eq(k, "offset") || eq(k, "length")) {
        return YAJL_IS_NUMBER(*slot) ? DONE : DROP;
    }
    if (eq(k, "type")) {
        return YAJL_IS_STRING(*slot) ? DONE : DROP;
    }
    return DROP;
}

static int fb_tags(scrub *sc, yajl_val *slot)
{
    yajl_val a = *slot;
    if (!YAJL_IS_ARRAY(a)) {
        return harmless(a) ? DONE : DROP;
    }
    for (size_t i = 0; i < a->u.array.len && sc->err == 0;) {
        yajl_val t = a->u.array.values[i];
        size_t n = 0;
        const char *type = bv_json_str(t, "type", &n);
        if (!YAJL_IS_OBJECT(t)) {
            arr_remove(a, i);
            continue;
        }
        if (!bv_json_str_is(type, n, "page")) {
            filter(sc, t, fb_tag);
        }
        i++;
    }
    return DONE;
}

static int fb_member(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "from")) {
        if (YAJL_IS_OBJECT(*slot) && is_page(sc, bv_json_get(*slot, "id"))) {
            return DONE; /* the Page speaking: public */
        }
        return person(sc, slot, fb_from);
    }
    if (eq(k, "sender_id")) {
        return is_page(sc, *slot) ? DONE : as_hex(sc, slot, KEEP_NAME);
    }
    if (eq(k, "sender_name")) {
        return oi->sender_page ? DONE : DROP;
    }
    if (eq(k, "message_tags")) {
        return fb_tags(sc, slot);
    }
    if (eq(k, "to")) {
        return DROP;
    }
    return WALK;
}

/* ---- telegram ---- */

static int tg_user(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "id") || eq(k, "user_id")) {
        return as_tg_number(sc, slot);
    }
    if (eq(k, "is_bot")) {
        return keep_bool(slot);
    }
    return DROP;
}

static int tg_chat_kept(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "id")) {
        return as_tg_number(sc, slot);
    }
    if (eq(k, "type")) {
        return YAJL_IS_STRING(*slot) ? DONE : NUL; /* a null type is private, as before */
    }
    return DROP;
}

/* A chat: a private one is a person (the codec takes a chat without a type as private too); a
 * sender_chat other than the chat itself may be a person's alias; other chats are public. */
static int tg_chat(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    yajl_val c = *slot;
    if (!YAJL_IS_OBJECT(c)) {
        return harmless(c) ? DONE : NUL;
    }
    size_t n = 0;
    const char *type = bv_json_str(c, "type", &n);
    int private_chat = type == NULL || bv_json_str_is(type, n, "private");
    if (!private_chat && eq(k, "sender_chat")) {
        size_t a = 0;
        const char *own = bv_json_text(c, "id", &a);
        if (own == NULL || !oi->has_chat || a != oi->chat_len || memcmp(own, oi->chat, a) != 0) {
            private_chat = 1;
        }
    }
    if (private_chat) {
        filter(sc, c, tg_chat_kept);
        return DONE;
    }
    return WALK;
}

static int tg_member(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    if (eq(k, "from") || eq(k, "forward_from") || eq(k, "sender_user") || eq(k, "user") ||
        eq(k, "left_chat_member") || eq(k, "contact")) {
        return person(sc, slot, tg_user);
    }
    if (eq(k, "new_chat_member") || eq(k, "old_chat_member")) {
        /* a User in a message, a ChatMember (holding `user`) in a chat_member update */
        if (YAJL_IS_OBJECT(*slot) && bv_json_get(*slot, "user") != NULL) {
            return WALK;
        }
        return person(sc, slot, tg_user);
    }
    if (eq(k, "new_chat_members") || eq(k, "users")) {
        return persons(sc, slot, tg_user);
    }
    if (eq(k, "chat") || eq(k, "forward_from_chat") || eq(k, "sender_chat")) {
        return tg_chat(sc, oi, k, slot);
    }
    if (eq(k, "author_signature") || eq(k, "forward_signature") || eq(k, "forward_sender_name") ||
        eq(k, "sender_user_name") || eq(k, "user_ids")) {
        return DROP;
    }
    return WALK;
}

/* ---- reddit ---- */

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int rd_member(scrub *sc, const objinfo *oi, const char *k, yajl_val *slot)
{
    size_t n = 0;
    if (eq(k, "author") || eq(k, "link_author")) {
        const char *s = raw_text(*slot, &n);
        if (bv_json_str_is(s, n, "[deleted]")) {
            return DONE;
        }
        return as_hex_str(sc, slot, COLLECT);
    }
    if (starts(k, "author_") || eq(k, "approved_by") || eq(k, "banned_by") || eq(k, "removed_by") ||
        eq(k, "mod_reason_by") || eq(k, "mod_reports") || eq(k, "user_reports") ||
        eq(k, "mod_reports_dismissed") || eq(k, "from") || eq(k, "from_id") || eq(k, "from_kind")) {
        return DROP;
    }
    if (eq(k, "subreddit")) {
        /* a user's profile subreddit, "u_NAME" */
        const char *s = raw_text(*slot, &n);
        if (s == NULL || n <= 2 || memcmp(s, "u_", 2) != 0 || !YAJL_IS_STRING(*slot)) {
            return DONE;
        }
        char name[2 + HEX_LEN + 1] = "u_";
        hs_add(sc, s + 2, n - 2);
        pseudo_hex(sc, s + 2, n - 2, name + 2);
        put(sc, slot, node_string(name, 2 + HEX_LEN));
        return DONE;
    }
    if (eq(k, "subreddit_id")) {
        return oi->user_sub ? as_hex(sc, slot, KEEP_NAME) : DONE;
    }
    return WALK;
}

/* ---- the walk of key rules ---- */

static void object_info(const scrub *sc, yajl_val o, objinfo *oi)
{
    size_t n = 0;
    const char *s;
    memset(oi, 0, sizeof *oi);
    switch (sc->p) {
    case BV_PLATFORM_BLUESKY:
        s = bv_json_str(o, "$type", &n);
        oi->profile = bv_json_str_is(s, n, "app.bsky.actor.profile");
        break;
    case BV_PLATFORM_REDDIT:
        s = bv_json_str(o, "subreddit", &n);
        oi->user_sub = s != NULL && n > 2 && memcmp(s, "u_", 2) == 0;
        break;
    case BV_PLATFORM_FACEBOOK:
        oi->sender_page = is_page(sc, bv_json_get(o, "sender_id"));
        break;
    case BV_PLATFORM_TELEGRAM:
        s = bv_json_text(bv_json_get(o, "chat"), "id", &n);
        if (s != NULL && n < sizeof oi->chat) {
            memcpy(oi->chat, s, n);
            oi->chat_len = n;
            oi->has_chat = 1;
        }
        break;
    default:
        break;
    }
}

static void walk(scrub *sc, yajl_val v, unsigned depth, member_fn fn)
{
    if (sc->err != 0 || v == NULL) {
        return;
    }
    if (depth > BV_SCRUB_MAX_DEPTH) {
        sc->err = BV_ELIMIT;
        return;
    }
    if (YAJL_IS_OBJECT(v)) {
        objinfo oi;
        object_info(sc, v, &oi);
        if (sc->p == BV_PLATFORM_X) {
            x_retweet_prefix(sc, v);
        }
        for (size_t i = 0; i < v->u.object.len && sc->err == 0;) {
            int a = fn(sc, &oi, v->u.object.keys[i], &v->u.object.values[i]);
            if (a == DROP) {
                obj_remove(v, i);
                continue;
            }
            if (a == NUL) {
                put(sc, &v->u.object.values[i], node_null());
            }
            if (a == WALK) {
                walk(sc, v->u.object.values[i], depth + 1, fn);
            }
            i++;
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len && sc->err == 0; i++) {
            walk(sc, v->u.array.values[i], depth + 1, fn);
        }
    }
}

/* ---- the string pass ---- */

/* The public content: never rewritten (Mastodon's content only with its text unchanged). */
static int text_key(const char *k)
{
    static const char *const keys[] = {
        "text",      "full_text", "spoiler_text", "title",   "selftext", "selftext_html", "body",
        "body_html", "message",   "caption",      "content", "lang",     "language",      "langs",
    };
    for (size_t i = 0; k != NULL && i < sizeof keys / sizeof keys[0]; i++) {
        if (eq(k, keys[i])) {
            return 1;
        }
    }
    return 0;
}

static int did_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '%' || c == '-';
}

static int alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Every DID in s ("did:METHOD:ID") becomes "did:pseudo:<hex of the DID>". A new string (caller
 * frees), or NULL when there was nothing to change (or on ENOMEM, then sc->err). */
static char *rewrite_dids(scrub *sc, const char *s, size_t n)
{
    bv_buf b = BV_BUF_INIT;
    size_t copied = 0;
    for (size_t i = 0; i + 4 < n; i++) {
        if (memcmp(s + i, "did:", 4) != 0 || (i > 0 && alnum((unsigned char)s[i - 1]))) {
            continue;
        }
        size_t j = i + 4;
        while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= '0' && s[j] <= '9'))) {
            j++;
        }
        if (j == i + 4 || j >= n || s[j] != ':') {
            continue;
        }
        if (j - i - 4 == 6 && memcmp(s + i + 4, "pseudo", 6) == 0) {
            i = j; /* ours already */
            continue;
        }
        size_t k = j + 1;
        while (k < n && did_char((unsigned char)s[k])) {
            k++;
        }
        while (k > j + 1 && (s[k - 1] == ':' || s[k - 1] == '.')) {
            k--;
        }
        if (k == j + 1) {
            continue;
        }
        char hex[HEX_LEN + 1];
        pseudo_hex(sc, s + i, k - i, hex);
        if (bv_buf_append(&b, s + copied, i - copied) != 0 ||
            bv_buf_append(&b, "did:pseudo:", 11) != 0 || bv_buf_append(&b, hex, HEX_LEN) != 0) {
            goto nomem;
        }
        copied = k;
        i = k - 1;
    }
    if (copied == 0) {
        bv_buf_free(&b);
        return NULL;
    }
    if (bv_buf_append(&b, s + copied, n - copied) != 0) {
        goto nomem;
    }
    return bv_buf_steal(&b);
nomem:
    bv_buf_free(&b);
    sc->err = BV_ENOMEM;
    return NULL;
}

/* Every URL segment of s that is a handle (or, before a "…", the start of one) becomes its
 * pseudonym. A segment is the run of handle
 * characters after a '/' or "/@", not followed by '.' or ':' (that is a host name): so
 * "https://h/@alice/1", "https://h/users/alice/statuses/1", "href=\"https://h/@alice\"" and
 * "https://h/@alice@remote.example" are found, "https://alice.example/" is not. For Reddit also
 * "u_NAME" segments, after a '/' or a '.' ("self.u_NAME"). A new string, or NULL as
 * rewrite_dids. */
static char *rewrite_segments(scrub *sc, const char *s, size_t n)
{
    bv_buf b = BV_BUF_INIT;
    size_t copied = 0;
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        int slash = s[i] == '/';
        int dot = s[i] == '.' && sc->p == BV_PLATFORM_REDDIT;
        if (!slash && !dot) {
            continue;
        }
        size_t st = i + 1;
        if (slash && st < n && s[st] == '@') {
            st++;
        }
        size_t e = st;
        while (e < n && handle_char((unsigned char)s[e])) {
            e++;
        }
        if (e < n && (s[e] == '.' || s[e] == ':')) {
            i = e - 1;
            continue;
        }
        const handle *h = slash ? hs_find(sc, s + st, e - st) : NULL;
        if (h == NULL && slash && n - e >= 3 && memcmp(s + e, "\xE2\x80\xA6", 3) == 0) {
            h = hs_prefix(sc, s + st, e - st);
        }
        size_t keep = 0;
        if (h == NULL && sc->p == BV_PLATFORM_REDDIT && e - st > 2 && s[st] == 'u' &&
            s[st + 1] == '_') {
            h = hs_find(sc, s + st + 2, e - st - 2);
            keep = 2;
        }
        if (h != NULL) {
            if (bv_buf_append(&b, s + copied, st + keep - copied) != 0 ||
                bv_buf_append(&b, h->hex, HEX_LEN) != 0) {
                goto nomem;
            }
            copied = e;
            changed = 1;
        }
        i = e - 1;
    }
    if (!changed) {
        bv_buf_free(&b);
        return NULL;
    }
    if (bv_buf_append(&b, s + copied, n - copied) != 0) {
        goto nomem;
    }
    return bv_buf_steal(&b);
nomem:
    bv_buf_free(&b);
    sc->err = BV_ENOMEM;
    return NULL;
}

/* 1 when both HTML fragments give the same text (the link targets are not part of it). */
static int same_html_text(scrub *sc, const char *a, const char *b)
{
    bv_buf ta = BV_BUF_INIT, tb = BV_BUF_INIT;
    int same = 0;
    if (bv_html_to_text(a, strlen(a), &ta) != 0 || bv_html_to_text(b, strlen(b), &tb) != 0) {
        sc->err = BV_ENOMEM;
    } else {
        same = ta.len == tb.len && (ta.len == 0 || memcmp(ta.p, tb.p, ta.len) == 0);
    }
    bv_buf_free(&ta);
    bv_buf_free(&tb);
    return same;
}

static void rewrite_string(scrub *sc, yajl_val v, const char *key)
{
    int content = key != NULL && eq(key, "content") && sc->p == BV_PLATFORM_MASTODON;
    if (text_key(key) && !content) {
        return;
    }
    const char *s = v->u.string;
    size_t n = strlen(s);
    char *c = sc->p == BV_PLATFORM_BLUESKY ? rewrite_dids(sc, s, n) : rewrite_segments(sc, s, n);
    if (c == NULL) {
        return;
    }
    if (content && !same_html_text(sc, s, c)) {
        free(c);
        return;
    }
    free(v->u.string);
    v->u.string = c;
}

static void strings(scrub *sc, yajl_val v, const char *key, unsigned depth)
{
    if (sc->err != 0 || v == NULL) {
        return;
    }
    if (depth > BV_SCRUB_MAX_DEPTH) {
        sc->err = BV_ELIMIT;
        return;
    }
    if (YAJL_IS_STRING(v)) {
        rewrite_string(sc, v, key);
    } else if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len && sc->err == 0; i++) {
            strings(sc, v->u.object.values[i], v->u.object.keys[i], depth + 1);
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len && sc->err == 0; i++) {
            strings(sc, v->u.array.values[i], key, depth + 1);
        }
    }
}

int bv_scrub(const bv_pseudo *ps, bv_platform p, yajl_val tree)
{
    static const member_fn rules[BV_PLATFORM__COUNT] = {
        [BV_PLATFORM_MASTODON] = masto_member,
        [BV_PLATFORM_BLUESKY] = jet_member,
        [BV_PLATFORM_X] = x_member,
        [BV_PLATFORM_FACEBOOK] = fb_member,
        [BV_PLATFORM_TELEGRAM] = tg_member,
        [BV_PLATFORM_REDDIT] = rd_member,
    };
    if (ps == NULL || (unsigned)p >= BV_PLATFORM__COUNT || !YAJL_IS_OBJECT(tree)) {
        return BV_EINVAL;
    }
    scrub sc = {.ps = ps, .p = p};
    if (p == BV_PLATFORM_FACEBOOK) {
        /* post_id is "PAGE_POST": the Page is public, so is what it says itself */
        size_t n = 0;
        const char *post = bv_json_text(bv_json_get(tree, "value"), "post_id", &n);
        const char *us = post != NULL ? memchr(post, '_', n) : NULL;
        if (us != NULL && us > post) {
            sc.page = post;
            sc.page_len = (size_t)(us - post);
        }
    }
    walk(&sc, tree, 1, rules[p]);
    if (sc.err == 0 && (p == BV_PLATFORM_BLUESKY || sc.hn > 0)) {
        strings(&sc, tree, NULL, 1);
    }
    hs_free(&sc);
    return sc.err;
}

int bv_scrub_post_id(const bv_pseudo *ps, bv_platform p, const char *id, size_t len, char **out)
{
    *out = NULL;
    if (p == BV_PLATFORM_BLUESKY && ps != NULL) {
        scrub sc = {.ps = ps, .p = p};
        *out = rewrite_dids(&sc, id, len);
        if (sc.err != 0) {
            return sc.err;
        }
    }
    if (*out == NULL && bv_codec_dup(out, id, len) != 0) {
        return BV_ENOMEM;
    }
    return BV_OK;
}

/* ---- JSON out ---- */

typedef struct gen_out {
    bv_buf *b;
    int nomem;
} gen_out;

static void gen_print(void *ctx, const char *s, size_t n)
{
    gen_out *o = ctx;
    if (!o->nomem && bv_buf_append(o->b, s, n) != 0) {
        o->nomem = 1;
    }
}

static yajl_gen_status gen_value(yajl_gen g, yajl_val v)
{
    yajl_gen_status st;
    if (v == NULL) {
        return yajl_gen_null(g);
    }
    switch (v->type) {
    case yajl_t_string:
        return yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
    case yajl_t_number:
        if (v->u.number.r != NULL) {
            return yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
        }
        if (v->u.number.flags & YAJL_NUMBER_INT_VALID) {
            return yajl_gen_integer(g, v->u.number.i);
        }
        return yajl_gen_double(g, v->u.number.d);
    case yajl_t_object:
        if ((st = yajl_gen_map_open(g)) != yajl_gen_status_ok) {
            return st;
        }
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];
            if ((st = yajl_gen_string(g, (const unsigned char *)k, strlen(k))) !=
                    yajl_gen_status_ok ||
                (st = gen_value(g, v->u.object.values[i])) != yajl_gen_status_ok) {
                return st;
            }
        }
        return yajl_gen_map_close(g);
    case yajl_t_array:
        if ((st = yajl_gen_array_open(g)) != yajl_gen_status_ok) {
            return st;
        }
        for (size_t i = 0; i < v->u.array.len; i++) {
            if ((st = gen_value(g, v->u.array.values[i])) != yajl_gen_status_ok) {
                return st;
            }
        }
        return yajl_gen_array_close(g);
    case yajl_t_true:
        return yajl_gen_bool(g, 1);
    case yajl_t_false:
        return yajl_gen_bool(g, 0);
    case yajl_t_null:
        return yajl_gen_null(g);
    default:
        return yajl_gen_invalid_string;
    }
}

int bv_json_write(yajl_val v, bv_buf *out)
{
    size_t start = out->len;
    gen_out o = {out, 0};
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return BV_ENOMEM;
    }
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    yajl_gen_config(g, yajl_gen_print_callback, gen_print, &o);
    yajl_gen_status st = gen_value(g, v);
    yajl_gen_free(g);
    int rc = BV_OK;
    if (o.nomem) {
        rc = BV_ENOMEM;
    } else if (st == yajl_max_depth_exceeded) {
        rc = BV_ELIMIT;
    } else if (st != yajl_gen_status_ok) {
        rc = BV_EINVAL;
    }
    if (rc != BV_OK) {
        out->len = start;
        if (out->p != NULL) {
            out->p[start] = '\0';
        }
    }
    return rc;
}
