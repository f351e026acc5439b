/* x_rules.c: the X filtered stream's rules kept equal to the configuration; see x_rules.h. One
 * easy handle carries the requests one after another: list (page by page), delete, add; each
 * response is read whole (at most BV_X_RULES_BODY_MAX bytes) and parsed with yajl_tree after a
 * pass that bounds its nesting. Request bodies are written with yajl_gen. */
#include "source/x_rules.h"
#include "core/buf.h"
#include "core/err.h"
#include "source/source_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define JSON_DEPTH_MAX 16  /* X's rule responses nest 6 deep at most */
#define RULE_ID_MAX 19     /* X's rule ids: ^[0-9]{1,19}$ */
#define NEXT_TOKEN_MAX 256 /* bytes in meta.next_token */
#define TAG_MAX 128        /* bytes in the tag of added rules */
#define TOKEN_MAX 4096     /* bytes in the bearer token */
#define QUOTE_MAX 200      /* bytes of a rule value or of X's reason quoted in an error */
#define RULES_PATH "/2/tweets/search/stream/rules"

typedef enum { PH_IDLE, PH_LIST, PH_DELETE, PH_ADD } phase;

struct bv_x_rules {
    bv_curl_loop *cl;
    char *rules_url;
    char **values; /* the configured values (owned) */
    size_t nvalues;
    char *tag;
    long timeout_ms;
    struct curl_slist *get_headers, *post_headers; /* hold the token: wiped before freeing */
    CURL *easy;
    char curl_err[CURL_ERROR_SIZE];
    bv_buf body; /* the response being read */
    bv_buf req;  /* the POST body: lives until its transfer ends */
    int too_big, oom;

    phase ph;
    int pages;
    bv_x_rule_list have; /* the rules X holds (all pages) */
    size_t *del;         /* indices into have of the rules to delete */
    size_t ndel;
    size_t *add; /* indices into values of the rules to add */
    size_t nadd;
    size_t deleted, added;
    bv_x_rules_done_cb *done;
    void *arg;
    int in_cb;   /* inside the done callback */
    int free_me; /* bv_x_rules_free was called from the done callback */
    int freeing; /* bv_x_rules_free is running */
};

/* ---- helpers shared by the parsers ---- */

static void set_err(char *errstr, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errstr, size_t errlen, const char *fmt, ...)
{
    if (errstr == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errlen, fmt, ap);
    va_end(ap);
}

/* Appends s[0..n) to an error line: control bytes become spaces; longer than max bytes, it is cut
 * on a UTF-8 character boundary and "..." follows. */
static void put_clean(bv_buf *b, const char *s, size_t n, size_t max)
{
    int cut = 0;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
        cut = 1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bv_buf_putc(b, c < 0x20 || c == 0x7f ? ' ' : (char)c);
    }
    if (cut) {
        bv_buf_puts(b, "...");
    }
}

/* One pass before yajl: no NUL byte (yajl_tree reads up to the first one), no '/' outside
 * strings (yajl_tree accepts comments, where brackets would hide from this count), nesting at
 * most JSON_DEPTH_MAX (yajl_tree_free recurses once per level). */
static int prescan(const char *s, size_t len)
{
    unsigned depth = 0;
    int in_str = 0, esc = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\0') {
            return BV_EINVAL;
        }
        if (in_str) {
            if (esc) {
                esc = 0;
            } else if (c == '\\') {
                esc = 1;
            } else if (c == '"') {
                in_str = 0;
            }
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '/') {
            return BV_EINVAL;
        } else if (c == '[' || c == '{') {
            if (++depth > JSON_DEPTH_MAX) {
                return BV_ELIMIT;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return BV_OK;
}

/* The body as a yajl tree whose root is an object (caller frees), or NULL with *rc set. */
static yajl_val parse_object(const char *body, size_t len, char *errstr, size_t errlen, int *rc)
{
    if (len > BV_X_RULES_BODY_MAX) {
        *rc = BV_ELIMIT;
        set_err(errstr, errlen, "larger than %u bytes", BV_X_RULES_BODY_MAX);
        return NULL;
    }
    *rc = prescan(body, len);
    if (*rc != BV_OK) {
        if (*rc == BV_ELIMIT) {
            set_err(errstr, errlen, "nested deeper than %d", JSON_DEPTH_MAX);
        } else {
            set_err(errstr, errlen, "not JSON (a NUL byte or a comment)");
        }
        return NULL;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        *rc = BV_ENOMEM;
        set_err(errstr, errlen, "out of memory");
        return NULL;
    }
    if (len) {
        memcpy(copy, body, len);
    }
    copy[len] = '\0';
    char perr[64];
    yajl_val root = yajl_tree_parse(copy, perr, sizeof perr);
    free(copy);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        *rc = BV_EINVAL;
        set_err(errstr, errlen, root ? "not a JSON object" : "not JSON");
        yajl_tree_free(root);
        return NULL;
    }
    *rc = BV_OK;
    return root;
}

/* Member key of object obj (the first, if repeated), or NULL. */
static yajl_val member(yajl_val obj, const char *key)
{
    if (!YAJL_IS_OBJECT(obj)) {
        return NULL;
    }
    for (size_t i = 0; i < YAJL_GET_OBJECT(obj)->len; i++) {
        if (strcmp(YAJL_GET_OBJECT(obj)->keys[i], key) == 0) {
            return YAJL_GET_OBJECT(obj)->values[i];
        }
    }
    return NULL;
}

static const char *member_str(yajl_val obj, const char *key)
{
    yajl_val v = member(obj, key);
    return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RULE_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static int list_push(bv_x_rule_list *l, const char *id, const char *value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        bv_x_rule *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            return BV_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    char *i = strdup(id), *val = strdup(value);
    if (i == NULL || val == NULL) {
        free(i);
        free(val);
        return BV_ENOMEM;
    }
    l->v[l->n].id = i;
    l->v[l->n].value = val;
    l->n++;
    return BV_OK;
}

/* Appends the rules of the array data to l. BV_OK, BV_EINVAL (errstr says which), BV_ENOMEM. */
static int push_rules(yajl_val data, bv_x_rule_list *l, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < YAJL_GET_ARRAY(data)->len; i++) {
        yajl_val r = YAJL_GET_ARRAY(data)->values[i];
        const char *id = member_str(r, "id"), *value = member_str(r, "value");
        if (id == NULL || value == NULL || !id_ok(id)) {
            set_err(errstr, errlen, "data[%zu] is not a rule with a digit id and a value", i);
            return BV_EINVAL;
        }
        if (list_push(l, id, value) != BV_OK) {
            set_err(errstr, errlen, "out of memory");
            return BV_ENOMEM;
        }
    }
    return BV_OK;
}

/* A non-negative integer member into *out; absent leaves *out. 0, or -1 when of another kind. */
static int count_member(yajl_val obj, const char *key, int64_t *out)
{
    yajl_val v = member(obj, key);
    if (v == NULL) {
        return 0;
    }
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0) {
        return -1;
    }
    *out = YAJL_GET_INTEGER(v);
    return 0;
}

/* An errors[] entry (or a problem body) as an error: title, then details[] / detail / message /
 * the first nested errors[].message. BV_OK or BV_ENOMEM. */
static int error_from(yajl_val e, bv_x_rule_error *out)
{
    bv_buf m = BV_BUF_INIT, text = BV_BUF_INIT;
    const char *title = member_str(e, "title");
    yajl_val details = member(e, "details");
    if (YAJL_IS_ARRAY(details)) {
        for (size_t i = 0; i < YAJL_GET_ARRAY(details)->len; i++) {
            yajl_val d = YAJL_GET_ARRAY(details)->values[i];
            if (YAJL_IS_STRING(d)) {
                bv_buf_puts(&text, text.len ? "; " : "");
                bv_buf_puts(&text, YAJL_GET_STRING(d));
            }
        }
    }
    const char *one = member_str(e, "detail");
    one = one ? one : member_str(e, "message");
    yajl_val nested = member(e, "errors");
    if (one == NULL && YAJL_IS_ARRAY(nested) && YAJL_GET_ARRAY(nested)->len > 0) {
        one = member_str(YAJL_GET_ARRAY(nested)->values[0], "message");
    }
    if (text.len == 0 && one) {
        bv_buf_puts(&text, one);
    }
    if (title && text.len) {
        bv_buf_printf(&m, "%s: %s", title, text.p);
    } else if (title || text.len) {
        bv_buf_puts(&m, title ? title : text.p);
    } else {
        const char *type = member_str(e, "type");
        bv_buf_puts(&m, type ? type : "no reason given");
    }
    bv_buf_free(&text);
    const char *value = member_str(e, "value"), *id = member_str(e, "id");
    out->message = m.p; /* NULL when an append failed */
    out->value = value ? strdup(value) : NULL;
    out->id = id ? strdup(id) : NULL;
    if (out->message == NULL || (value && out->value == NULL) || (id && out->id == NULL)) {
        return BV_ENOMEM;
    }
    return BV_OK;
}

static void error_clear(bv_x_rule_error *e)
{
    free(e->value);
    free(e->id);
    free(e->message);
}

/* ---- sans-IO API ---- */

int bv_x_rules_url(const char *stream_url, char **out)
{
    *out = NULL;
    const char *auth = stream_url ? strstr(stream_url, "://") : NULL;
    if (!bv_source_url_ok(stream_url) || auth == NULL || auth[3] == '/') {
        return BV_EINVAL; /* curl would read "http:///2/x" as host 2 */
    }
    CURLU *u = curl_url();
    if (u == NULL) {
        return BV_ENOMEM;
    }
    int rc = BV_EINVAL;
    char *host = NULL, *s = NULL;
    if (curl_url_set(u, CURLUPART_URL, stream_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        goto done;
    }
    if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_PATH, RULES_PATH, 0) != CURLUE_OK) {
        rc = BV_ENOMEM; /* setting parts of a parsed URL fails only for memory */
        goto done;
    }
    CURLUcode uc = curl_url_get(u, CURLUPART_URL, &s, 0);
    if (uc != CURLUE_OK) {
        rc = uc == CURLUE_OUT_OF_MEMORY ? BV_ENOMEM : BV_EINVAL;
        goto done;
    }
    *out = strdup(s);
    rc = *out ? BV_OK : BV_ENOMEM;
done:
    curl_free(host);
    curl_free(s);
    curl_url_cleanup(u);
    return rc;
}

void bv_x_rule_list_clear(bv_x_rule_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].id);
        free(l->v[i].value);
    }
    free(l->v);
    free(l->next_token);
    memset(l, 0, sizeof *l);
}

int bv_x_rules_parse_list(const char *body, size_t len, bv_x_rule_list *out, char *errstr,
                          size_t errlen)
{
    int rc;
    yajl_val root = parse_object(body, len, errstr, errlen, &rc);
    if (root == NULL) {
        return rc;
    }
    rc = BV_EINVAL;
    yajl_val errors = member(root, "errors"), data = member(root, "data");
    yajl_val meta = member(root, "meta");
    yajl_val token = member(meta, "next_token");
    const char *tok = member_str(meta, "next_token");
    int64_t count = -1;
    if (errors && (!YAJL_IS_ARRAY(errors) || YAJL_GET_ARRAY(errors)->len > 0)) {
        /* X said something went wrong: acting on a partial list could delete or duplicate */
        bv_x_rule_error e = {0};
        int erc =
            YAJL_IS_ARRAY(errors) ? error_from(YAJL_GET_ARRAY(errors)->values[0], &e) : BV_EINVAL;
        set_err(errstr, errlen, "X answered with errors: %.200s",
                erc == BV_OK ? e.message : "unreadable");
        error_clear(&e);
        rc = erc == BV_ENOMEM ? BV_ENOMEM : BV_EINVAL;
    } else if ((data && !YAJL_IS_ARRAY(data)) || (meta && !YAJL_IS_OBJECT(meta))) {
        set_err(errstr, errlen, "data is not an array or meta not an object");
    } else if (data == NULL && meta == NULL) {
        set_err(errstr, errlen, "neither data nor meta: not a rules list");
    } else if (count_member(meta, "result_count", &count) != 0 ||
               (count >= 0 && (uint64_t)count != (data ? YAJL_GET_ARRAY(data)->len : 0))) {
        set_err(errstr, errlen, "meta.result_count does not count data[]");
    } else if (token && (tok == NULL || strlen(tok) == 0 || strlen(tok) > NEXT_TOKEN_MAX)) {
        set_err(errstr, errlen, "meta.next_token is not a token");
    } else {
        rc = data ? push_rules(data, out, errstr, errlen) : BV_OK;
        if (rc == BV_OK) {
            free(out->next_token);
            out->next_token = tok ? strdup(tok) : NULL;
            if (tok && out->next_token == NULL) {
                set_err(errstr, errlen, "out of memory");
                rc = BV_ENOMEM;
            }
        }
    }
    yajl_tree_free(root);
    return rc;
}

void bv_x_rules_change_clear(bv_x_rules_change *c)
{
    bv_x_rule_list_clear(&c->data);
    for (size_t i = 0; i < c->nerrors; i++) {
        error_clear(&c->errors[i]);
    }
    free(c->errors);
    memset(c, 0, sizeof *c);
    c->created = c->not_created = c->valid = c->invalid = c->deleted = c->not_deleted = -1;
}

/* Fills c->errors from the array errors (or the problem object itself). */
static int push_errors(yajl_val errors, yajl_val problem, bv_x_rules_change *c)
{
    size_t n = errors ? YAJL_GET_ARRAY(errors)->len : 1;
    if (n == 0) {
        return BV_OK;
    }
    c->errors = calloc(n, sizeof *c->errors);
    if (c->errors == NULL) {
        return BV_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        c->nerrors++;
        if (error_from(errors ? YAJL_GET_ARRAY(errors)->values[i] : problem, &c->errors[i]) !=
            BV_OK) {
            return BV_ENOMEM;
        }
    }
    return BV_OK;
}

int bv_x_rules_parse_change(const char *body, size_t len, bv_x_rules_change *out, char *errstr,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    bv_x_rules_change_clear(out);
    int rc;
    yajl_val root = parse_object(body, len, errstr, errlen, &rc);
    if (root == NULL) {
        return rc;
    }
    rc = BV_EINVAL;
    yajl_val data = member(root, "data"), meta = member(root, "meta");
    yajl_val errors = member(root, "errors"), summary = member(meta, "summary");
    if ((data && !YAJL_IS_ARRAY(data)) || (meta && !YAJL_IS_OBJECT(meta)) ||
        (errors && !YAJL_IS_ARRAY(errors)) || (summary && !YAJL_IS_OBJECT(summary))) {
        set_err(errstr, errlen, "data, meta, meta.summary or errors of the wrong type");
    } else if (!data && !meta && !errors && !member_str(root, "title")) {
        set_err(errstr, errlen, "no data, meta, errors or title: not a rules response");
    } else if (count_member(summary, "created", &out->created) != 0 ||
               count_member(summary, "not_created", &out->not_created) != 0 ||
               count_member(summary, "valid", &out->valid) != 0 ||
               count_member(summary, "invalid", &out->invalid) != 0 ||
               count_member(summary, "deleted", &out->deleted) != 0 ||
               count_member(summary, "not_deleted", &out->not_deleted) != 0) {
        set_err(errstr, errlen, "a meta.summary count is not a non-negative integer");
    } else if (data && (rc = push_rules(data, &out->data, errstr, errlen)) != BV_OK) {
        /* rc and errstr set */
    } else {
        /* a problem body ({"title","detail",...}) stands for one error */
        rc = errors || (!data && !meta) ? push_errors(errors, root, out) : BV_OK;
        if (rc != BV_OK) {
            set_err(errstr, errlen, "out of memory");
        }
    }
    yajl_tree_free(root);
    return rc;
}

/* ---- the syncer ---- */

static const char *step_name(phase ph)
{
    return ph == PH_DELETE ? "delete" : ph == PH_ADD ? "add" : "list";
}

/* Ends the sync: the state is back to idle before the callback, which may start another sync
 * or free the syncer (freed here, on its return). */
static void finish(bv_x_rules *r, int err, long status, int64_t reset, const char *error)
{
    bv_x_rules_outcome o = {.err = err,
                            .error = err == BV_OK ? NULL : error,
                            .step = step_name(r->ph),
                            .status = status,
                            .rate_reset = reset,
                            .cancelled = r->freeing,
                            .existing = r->have.n,
                            .deleted = r->deleted,
                            .added = r->added};
    bv_x_rules_done_cb *cb = r->done;
    void *arg = r->arg;
    r->done = NULL;
    r->arg = NULL;
    r->ph = PH_IDLE;
    bv_x_rule_list_clear(&r->have);
    r->ndel = r->nadd = 0;
    r->in_cb++;
    cb(arg, &o);
    r->in_cb--;
    if (r->in_cb == 0 && r->free_me && !r->freeing) {
        r->free_me = 0;
        bv_x_rules_free(r);
    }
}

static void fail(bv_x_rules *r, int err, long status, int64_t reset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(bv_x_rules *r, int err, long status, int64_t reset, const char *fmt, ...)
{
    bv_buf m = BV_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = bv_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    for (size_t i = 0; rc == BV_OK && i < m.len; i++) {
        if ((unsigned char)m.p[i] < 0x20 || m.p[i] == 0x7f) {
            m.p[i] = ' '; /* one line for the log, whatever X or curl wrote */
        }
    }
    finish(r, err, status, reset, rc == BV_OK && m.p ? m.p : "out of memory");
    bv_buf_free(&m);
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    bv_x_rules *r = arg;
    size_t len = size * n;
    if (len > BV_X_RULES_BODY_MAX - r->body.len) {
        r->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (bv_buf_append(&r->body, p, len) != BV_OK) {
        r->oom = 1;
        return 0;
    }
    return len;
}

static void on_done(void *arg, CURL *easy, CURLcode rc);

static int start(bv_x_rules *r, phase ph, const char *url)
{
    bv_buf_reset(&r->body);
    r->too_big = r->oom = 0;
    r->curl_err[0] = '\0';
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    if (ph == PH_LIST) {
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->get_headers);
        curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->post_headers);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->req.len);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->req.p);
    }
    r->ph = ph;
    return bv_curl_loop_add(r->cl, r->easy, on_done, r);
}

static int gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok ? 0 : 1;
}

/* r->req = {"delete":{"ids":[...]}} or {"add":[{"value":...,"tag":...},...]}. */
static int build_request(bv_x_rules *r, phase ph)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return BV_ENOMEM;
    }
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    int bad = yajl_gen_map_open(g) != yajl_gen_status_ok;
    if (ph == PH_DELETE) {
        bad |= gen_str(g, "delete") | (yajl_gen_map_open(g) != yajl_gen_status_ok);
        bad |= gen_str(g, "ids") | (yajl_gen_array_open(g) != yajl_gen_status_ok);
        for (size_t i = 0; i < r->ndel; i++) {
            bad |= gen_str(g, r->have.v[r->del[i]].id);
        }
        bad |= (yajl_gen_array_close(g) != yajl_gen_status_ok) |
               (yajl_gen_map_close(g) != yajl_gen_status_ok);
    } else {
        bad |= gen_str(g, "add") | (yajl_gen_array_open(g) != yajl_gen_status_ok);
        for (size_t i = 0; i < r->nadd; i++) {
            bad |= yajl_gen_map_open(g) != yajl_gen_status_ok;
            bad |= gen_str(g, "value") | gen_str(g, r->values[r->add[i]]);
            bad |= gen_str(g, "tag") | gen_str(g, r->tag);
            bad |= yajl_gen_map_close(g) != yajl_gen_status_ok;
        }
        bad |= yajl_gen_array_close(g) != yajl_gen_status_ok;
    }
    bad |= yajl_gen_map_close(g) != yajl_gen_status_ok;
    const unsigned char *buf = NULL;
    size_t len = 0;
    bad |= yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok;
    bv_buf_reset(&r->req);
    int rc = bad ? BV_ENOMEM : bv_buf_append(&r->req, buf, len); /* values were checked by new */
    yajl_gen_free(g);
    return rc;
}

/* The request after `after` (list, then delete, then add; each only when it has something to
 * do), or the end. status: that of the request that just ended. */
static void next_step(bv_x_rules *r, phase after, long status)
{
    phase ph = PH_IDLE;
    if (after == PH_LIST && r->ndel > 0) {
        ph = PH_DELETE;
    } else if (after != PH_ADD && r->nadd > 0) {
        ph = PH_ADD;
    }
    if (ph == PH_IDLE) {
        finish(r, BV_OK, status, 0, NULL);
        return;
    }
    int rc = build_request(r, ph);
    if (rc == BV_OK) {
        rc = start(r, ph, r->rules_url);
    }
    if (rc != BV_OK) {
        r->ph = ph;
        fail(r, rc == BV_ENOMEM ? BV_ENOMEM : BV_ERR, 0, 0, "cannot start the %s request to X",
             step_name(ph));
    }
}

/* What to delete and what to add: a rule X holds is kept when its value is configured and not
 * already kept (X refuses duplicates, but a list could hold one); the rest goes. */
static int plan(bv_x_rules *r)
{
    free(r->del);
    free(r->add);
    r->del = malloc((r->have.n ? r->have.n : 1) * sizeof *r->del);
    r->add = malloc((r->nvalues ? r->nvalues : 1) * sizeof *r->add);
    char *kept = calloc(r->nvalues ? r->nvalues : 1, 1);
    if (r->del == NULL || r->add == NULL || kept == NULL) {
        free(kept);
        return BV_ENOMEM; /* del and add are freed with the syncer */
    }
    r->ndel = r->nadd = 0;
    for (size_t i = 0; i < r->have.n; i++) {
        size_t j = 0;
        while (j < r->nvalues && (kept[j] || strcmp(r->values[j], r->have.v[i].value) != 0)) {
            j++;
        }
        if (j < r->nvalues) {
            kept[j] = 1;
        } else {
            r->del[r->ndel++] = i;
        }
    }
    for (size_t j = 0; j < r->nvalues; j++) {
        if (!kept[j]) {
            r->add[r->nadd++] = j;
        }
    }
    free(kept);
    return BV_OK;
}

static void on_list(bv_x_rules *r, long status)
{
    char perr[256];
    int rc =
        bv_x_rules_parse_list(r->body.p ? r->body.p : "", r->body.len, &r->have, perr, sizeof perr);
    if (rc != BV_OK) {
        fail(r, rc == BV_EINVAL ? BV_ERR : rc, status, 0, "X's rules list is unusable: %s", perr);
        return;
    }
    if (r->have.next_token) {
        if (++r->pages >= BV_X_RULES_PAGES_MAX) {
            fail(r, BV_ELIMIT, status, 0, "X's rules list goes on for more than %d pages",
                 BV_X_RULES_PAGES_MAX);
            return;
        }
        char *tok = curl_easy_escape(r->easy, r->have.next_token, 0);
        bv_buf url = BV_BUF_INIT;
        rc = tok ? bv_buf_printf(&url, "%s?pagination_token=%s", r->rules_url, tok) : BV_ENOMEM;
        curl_free(tok);
        if (rc == BV_OK) {
            rc = start(r, PH_LIST, url.p);
        }
        bv_buf_free(&url);
        if (rc != BV_OK) {
            fail(r, rc == BV_ENOMEM ? BV_ENOMEM : BV_ERR, 0, 0,
                 "cannot start the list request to X");
        }
        return;
    }
    if (plan(r) != BV_OK) {
        fail(r, BV_ENOMEM, status, 0, "out of memory");
        return;
    }
    next_step(r, PH_LIST, status);
}

/* The first error that names a rule value, else the first error. */
static const bv_x_rule_error *first_error(const bv_x_rules_change *c)
{
    for (size_t i = 0; i < c->nerrors; i++) {
        if (c->errors[i].value) {
            return &c->errors[i];
        }
    }
    return c->nerrors ? &c->errors[0] : NULL;
}

/* ": REASON" from X's error body, when it has one. */
static void put_reason(bv_buf *m, const bv_buf *body)
{
    bv_x_rules_change c;
    if (bv_x_rules_parse_change(body->p ? body->p : "", body->len, &c, NULL, 0) == BV_OK &&
        c.nerrors) {
        bv_buf_puts(m, ": ");
        put_clean(m, c.errors[0].message, strlen(c.errors[0].message), QUOTE_MAX);
    }
    bv_x_rules_change_clear(&c);
}

/* X refused one or more rules of the add: names the value and says why. */
static void refused(bv_x_rules *r, long status, const bv_x_rules_change *c)
{
    const bv_x_rule_error *e = first_error(c);
    bv_buf m = BV_BUF_INIT;
    if (e->value) {
        bv_buf_puts(&m, "X refused the rule \"");
        put_clean(&m, e->value, strlen(e->value), QUOTE_MAX);
        bv_buf_puts(&m, "\": ");
    } else {
        bv_buf_puts(&m, "X refused the rules: ");
    }
    put_clean(&m, e->message, strlen(e->message), QUOTE_MAX);
    if (c->nerrors > 1) {
        bv_buf_printf(&m, " (and %zu more errors)", c->nerrors - 1);
    }
    finish(r, e->value ? BV_EINVAL : BV_ERR, status, 0, m.p ? m.p : "out of memory");
    bv_buf_free(&m);
}

static void on_changed(bv_x_rules *r, long status)
{
    bv_x_rules_change c;
    char perr[256];
    int rc =
        bv_x_rules_parse_change(r->body.p ? r->body.p : "", r->body.len, &c, perr, sizeof perr);
    int ok2xx = status >= 200 && status <= 299;
    if (rc != BV_OK || (!ok2xx && first_error(&c) == NULL)) {
        bv_x_rules_change_clear(&c);
        if (!ok2xx) {
            fail(r, BV_ERR, status, 0, "X answered the %s request with HTTP %ld", step_name(r->ph),
                 status);
        } else {
            fail(r, rc == BV_EINVAL ? BV_ERR : rc, status, 0,
                 "X's answer to the %s is unusable: %s", step_name(r->ph), perr);
        }
        return;
    }
    if (r->ph == PH_DELETE) {
        size_t n = c.deleted >= 0 ? (size_t)c.deleted : c.nerrors ? 0 : r->ndel;
        r->deleted = n < r->ndel ? n : r->ndel;
        const bv_x_rule_error *e = first_error(&c);
        if (e || c.not_deleted > 0 || r->deleted < r->ndel) {
            bv_buf m = BV_BUF_INIT;
            bv_buf_printf(&m, "X deleted %zu of the %zu rules (HTTP %ld)", r->deleted, r->ndel,
                          status);
            if (e) {
                if (e->id) {
                    bv_buf_puts(&m, ", rule ");
                    put_clean(&m, e->id, strlen(e->id), QUOTE_MAX);
                }
                bv_buf_puts(&m, ": ");
                put_clean(&m, e->message, strlen(e->message), QUOTE_MAX);
            }
            bv_x_rules_change_clear(&c);
            finish(r, BV_ERR, status, 0, m.p ? m.p : "out of memory");
            bv_buf_free(&m);
            return;
        }
        bv_x_rules_change_clear(&c);
        next_step(r, PH_DELETE, status);
        return;
    }
    size_t made = c.created >= 0 ? (size_t)c.created : c.data.n;
    r->added = made < r->nadd ? made : r->nadd;
    if (c.nerrors) {
        refused(r, status, &c);
    } else if (!ok2xx || r->added < r->nadd || c.not_created > 0) {
        fail(r, BV_ERR, status, 0, "X created %zu of the %zu rules (HTTP %ld)", r->added, r->nadd,
             status);
    } else {
        finish(r, BV_OK, status, 0, NULL);
    }
    bv_x_rules_change_clear(&c);
}

/* x-rate-limit-reset (unix seconds) of the last response, or 0. */
static int64_t rate_reset(CURL *easy)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(easy, "x-rate-limit-reset", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
        h == NULL || h->value == NULL) {
        return 0;
    }
    int64_t v = 0;
    const char *s = h->value;
    while (*s == ' ') {
        s++;
    }
    size_t n = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        if (n >= 12) {
            return 0; /* beyond any date X would name */
        }
        v = v * 10 + (s[n] - '0');
    }
    return n > 0 && (s[n] == '\0' || s[n] == ' ') ? v : 0;
}

static void rate_limited(bv_x_rules *r, long status)
{
    int64_t reset = rate_reset(r->easy);
    if (reset == 0) {
        fail(r, BV_EAGAIN, status, 0,
             "X rate limit hit on the %s request (HTTP %ld); X sent no x-rate-limit-reset",
             step_name(r->ph), status);
        return;
    }
    char when[40] = "";
    time_t t = (time_t)reset;
    struct tm tm;
    if (gmtime_r(&t, &tm) != NULL) {
        strftime(when, sizeof when, " (%Y-%m-%dT%H:%M:%SZ)", &tm);
    }
    fail(r, BV_EAGAIN, status, reset,
         "X rate limit hit on the %s request (HTTP %ld); x-rate-limit-reset %lld%s",
         step_name(r->ph), status, (long long)reset, when);
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    bv_x_rules *r = arg;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        if (r->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
            fail(r, BV_ELIMIT, status, 0, "X's answer to the %s request is larger than %u bytes",
                 step_name(r->ph), BV_X_RULES_BODY_MAX);
        } else if (r->oom) {
            fail(r, BV_ENOMEM, status, 0, "out of memory");
        } else {
            fail(r, BV_EAGAIN, status, 0, "cannot reach X for the %s request: %s", step_name(r->ph),
                 r->curl_err[0] ? r->curl_err : curl_easy_strerror(rc));
        }
        return;
    }
    if (status == 401 || status == 403) {
        bv_buf m = BV_BUF_INIT;
        bv_buf_printf(&m, "X refused the token (HTTP %ld)", status);
        if (status == 403) {
            put_reason(&m, &r->body); /* 403 also means the app is not entitled */
        }
        finish(r, BV_EINVAL, status, 0, m.p ? m.p : "out of memory");
        bv_buf_free(&m);
        return;
    }
    if (status == 429 || status == 420) {
        rate_limited(r, status);
        return;
    }
    if (status >= 500) {
        bv_buf m = BV_BUF_INIT;
        bv_buf_printf(&m, "X server error on the %s request (HTTP %ld)", step_name(r->ph), status);
        put_reason(&m, &r->body);
        finish(r, BV_EAGAIN, status, 0, m.p ? m.p : "out of memory");
        bv_buf_free(&m);
        return;
    }
    if (r->ph == PH_LIST && (status < 200 || status > 299)) {
        bv_buf m = BV_BUF_INIT;
        bv_buf_printf(&m, "X answered the list request with HTTP %ld", status);
        put_reason(&m, &r->body);
        finish(r, BV_ERR, status, 0, m.p ? m.p : "out of memory");
        bv_buf_free(&m);
        return;
    }
    if (r->ph == PH_LIST) {
        on_list(r, status);
    } else {
        on_changed(r, status); /* a 400 may name the rules X refused */
    }
}

/* 1 for a token that can sit in a header line: printable ASCII, no spaces. */
static int token_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > TOKEN_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i] <= 0x20 || t[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int utf8_ok(const char *s)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return 0;
    }
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    int ok = yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok;
    yajl_gen_free(g);
    return ok;
}

static int check_values(const bv_x_rules_opts *o, char *errstr, size_t errlen)
{
    if (o->nvalues > BV_X_RULES_MAX) {
        set_err(errstr, errlen, "x rules: %zu rules configured; X streams take at most %d here",
                o->nvalues, BV_X_RULES_MAX);
        return BV_ELIMIT;
    }
    for (size_t i = 0; i < o->nvalues; i++) {
        const char *v = o->values ? o->values[i] : NULL;
        size_t n = v ? strlen(v) : 0;
        if (n == 0 || n > BV_X_RULE_VALUE_MAX) {
            set_err(errstr, errlen, "x rules: rule %zu is %s", i + 1,
                    n ? "longer than 1024 bytes" : "empty");
            return BV_EINVAL;
        }
        if (!utf8_ok(v)) {
            set_err(errstr, errlen, "x rules: rule %zu is not valid UTF-8", i + 1);
            return BV_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(o->values[j], v) == 0) {
                set_err(errstr, errlen, "x rules: rule %zu repeats rule %zu", i + 1, j + 1);
                return BV_EINVAL;
            }
        }
    }
    return BV_OK;
}

bv_x_rules *bv_x_rules_new(bv_curl_loop *cl, const bv_x_rules_opts *o, char *errstr, size_t errlen)
{
    char *url = NULL;
    int rc = o && o->stream_url ? bv_x_rules_url(o->stream_url, &url) : BV_EINVAL;
    if (cl == NULL || rc != BV_OK) {
        set_err(errstr, errlen,
                rc == BV_ENOMEM ? "out of memory"
                                : "x rules: needs a curl loop and an http(s):// stream_url");
        free(url);
        return NULL;
    }
    const char *tag = o->tag ? o->tag : "blikveld";
    if (!token_ok(o->token)) {
        set_err(errstr, errlen, "x rules: needs a bearer token (printable ASCII, no spaces)");
        free(url);
        return NULL;
    }
    if (strlen(tag) == 0 || strlen(tag) > TAG_MAX || !utf8_ok(tag)) {
        set_err(errstr, errlen, "x rules: the tag must be 1 to %d bytes of UTF-8", TAG_MAX);
        free(url);
        return NULL;
    }
    if (check_values(o, errstr, errlen) != BV_OK) {
        free(url);
        return NULL;
    }
    bv_x_rules *r = calloc(1, sizeof *r);
    if (r == NULL) {
        free(url);
        goto fail;
    }
    r->cl = cl;
    r->rules_url = url;
    r->timeout_ms = o->timeout_ms > 0 ? (long)o->timeout_ms : 30000;
    r->tag = strdup(tag);
    r->values = calloc(o->nvalues ? o->nvalues : 1, sizeof *r->values);
    if (r->tag == NULL || r->values == NULL) {
        goto fail;
    }
    for (; r->nvalues < o->nvalues; r->nvalues++) {
        r->values[r->nvalues] = strdup(o->values[r->nvalues]);
        if (r->values[r->nvalues] == NULL) {
            goto fail;
        }
    }
    r->get_headers = curl_slist_append(NULL, "Accept: application/json");
    if (r->get_headers) {
        r->get_headers = bv_source_auth_header(r->get_headers, "Bearer", o->token);
    }
    r->post_headers = curl_slist_append(NULL, "Accept: application/json");
    if (r->post_headers) {
        r->post_headers = curl_slist_append(r->post_headers, "Content-Type: application/json");
    }
    if (r->post_headers) {
        r->post_headers = curl_slist_append(r->post_headers, "Expect:"); /* no 100-continue */
    }
    if (r->post_headers) {
        r->post_headers = bv_source_auth_header(r->post_headers, "Bearer", o->token);
    }
    r->easy = curl_easy_init();
    if (r->get_headers == NULL || r->post_headers == NULL || r->easy == NULL) {
        goto fail;
    }
    bv_source_easy_defaults(r->easy, r->curl_err);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BV_X_RULES_BODY_MAX);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    return r;
fail:
    set_err(errstr, errlen, "out of memory");
    bv_x_rules_free(r);
    return NULL;
}

int bv_x_rules_sync(bv_x_rules *r, bv_x_rules_done_cb *done, void *arg)
{
    if (r == NULL || done == NULL || r->ph != PH_IDLE || r->freeing || r->free_me) {
        return BV_EINVAL;
    }
    bv_x_rule_list_clear(&r->have);
    r->ndel = r->nadd = 0;
    r->deleted = r->added = 0;
    r->pages = 0;
    r->done = done;
    r->arg = arg;
    int rc = start(r, PH_LIST, r->rules_url);
    if (rc != BV_OK) {
        r->ph = PH_IDLE;
        r->done = NULL;
        r->arg = NULL;
        return rc == BV_ENOMEM ? BV_ENOMEM : BV_ERR;
    }
    return BV_OK;
}

int bv_x_rules_running(const bv_x_rules *r)
{
    return r->ph != PH_IDLE;
}

/* Wipes the header lines (one holds the token), then frees them. */
static void headers_free(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next) {
        memset(p->data, 0, strlen(p->data));
    }
    curl_slist_free_all(h);
}

void bv_x_rules_free(bv_x_rules *r)
{
    if (r == NULL || r->freeing) {
        return;
    }
    if (r->in_cb) {
        r->free_me = 1; /* never inside its own callback: freed when it returns */
        return;
    }
    r->freeing = 1;
    if (r->ph != PH_IDLE) {
        bv_curl_loop_remove(r->cl, r->easy);
        finish(r, BV_EAGAIN, 0, 0, "cancelled");
    }
    if (r->easy) {
        curl_easy_cleanup(r->easy);
    }
    headers_free(r->get_headers);
    headers_free(r->post_headers);
    for (size_t i = 0; i < r->nvalues; i++) {
        free(r->values[i]);
    }
    free(r->values);
    free(r->tag);
    free(r->rules_url);
    bv_buf_free(&r->body);
    bv_buf_free(&r->req);
    bv_x_rule_list_clear(&r->have);
    free(r->del);
    free(r->add);
    free(r);
}
