/* test_x_rules.c: keeping X's filtered-stream rules equal to the configuration, against a fake
 * X rules endpoint in the same loop (evhttp). The fake checks the method, the path (and the
 * pagination token), the bearer header, the Content-Type and the JSON bodies of every request,
 * keeps its rules in memory and answers in X's shapes (../shared/fixtures/platforms/x-v2/
 * rules_add_response.json and the documented list, delete and errors[] shapes); a wrong request
 * fails the test. Covered: the rules URL, the limits of bv_x_rules_new, both sans-IO parsers on
 * X's shapes, on every prefix of each body and on size and depth limits; syncs with nothing to do
 * (no POST), add only, delete only, both (delete first), a paged list, a rule X refuses (invalid,
 * duplicate), 401, 403, 429 with and without x-rate-limit-reset, 5xx, garbage and oversized
 * bodies, no server; the done callback runs once, also when the syncer is freed early, and may
 * free the syncer or sync again. */
#include "testutil.h"

#include "httputil.h"

#include "core/err.h"
#include "net/curl_loop.h"
#include "source/x_rules.h"

#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define TOKEN "AAAAAAAAAAAAAAAAAAAAAtest%2Bbearer%3Dtoken"
#define RULES_PATH "/2/tweets/search/stream/rules"

/* ---- X's bodies ---- */

/* A byte-exact copy of ../shared/fixtures/platforms/x-v2/rules_add_response.json */
static const char fixture_add[] = "{\n"
                                  "  \"data\": [\n"
                                  "    {\n"
                                  "      \"id\": \"1273026480692322304\",\n"
                                  "      \"value\": \"cat has:images\",\n"
                                  "      \"tag\": \"cats with images\"\n"
                                  "    }\n"
                                  "  ],\n"
                                  "  \"meta\": {\n"
                                  "    \"sent\": \"2024-01-15T10:30:00.000Z\",\n"
                                  "    \"summary\": {\n"
                                  "      \"created\": 1,\n"
                                  "      \"not_created\": 0,\n"
                                  "      \"valid\": 1,\n"
                                  "      \"invalid\": 0\n"
                                  "    }\n"
                                  "  }\n"
                                  "}\n";

/* A byte-exact copy of ../shared/fixtures/platforms/x-v2/error_429_rate_limit.json */
static const char fixture_429[] = "{\n"
                                  "  \"errors\": [\n"
                                  "    {\n"
                                  "      \"code\": 88,\n"
                                  "      \"message\": \"Rate limit exceeded\"\n"
                                  "    }\n"
                                  "  ]\n"
                                  "}\n";

/* The documented shapes of a list, a refused add and a delete. */
static const char body_list[] =
    "{\"data\":[{\"id\":\"1273026480692322304\",\"value\":\"cat has:images\",\"tag\":\"cats with "
    "images\"},{\"id\":\"1273028376882589696\",\"value\":\"(feest OR party) lang:nl\",\"tag\":"
    "\"blikveld\"}],\"meta\":{\"sent\":\"2024-01-15T10:31:00.000Z\",\"result_count\":2,"
    "\"next_token\":\"1ec4nbwq4fgi\"}}\n";

static const char body_refused[] =
    "{\"meta\":{\"sent\":\"2024-01-15T10:32:00.000Z\",\"summary\":{\"created\":0,\"not_created\":2,"
    "\"valid\":0,\"invalid\":2}},\"errors\":[{\"value\":\"cat has:imagez\",\"details\":["
    "\"Reference to invalid field 'imagez' (at position 9)\"],\"title\":\"UnprocessableEntity\","
    "\"type\":\"https://api.x.com/2/problems/invalid-rules\"},{\"value\":\"#projectx\",\"id\":"
    "\"1273026480692322305\",\"title\":\"DuplicateRule\",\"type\":\"https://api.x.com/2/problems/"
    "duplicate-rules\"}]}";

static const char body_deleted[] = "{\"meta\":{\"sent\":\"2024-01-15T10:33:00.000Z\",\"summary\":{"
                                   "\"deleted\":2,\"not_deleted\":0}}}";

static const char body_401[] =
    "{\"title\":\"Unauthorized\",\"type\":\"about:blank\",\"status\":401,"
    "\"detail\":\"Unauthorized\"}";

static const char body_invalid_request[] =
    "{\"errors\":[{\"parameters\":{\"add\":[]},\"message\":\"Rules must be unique\"}],"
    "\"title\":\"Invalid Request\",\"detail\":\"One or more parameters to your request was "
    "invalid.\",\"type\":\"https://api.x.com/2/problems/invalid-request\"}";

/* ---- the fake X ---- */

typedef struct xrule {
    char id[24];
    char *value, *tag;
    int hidden; /* left out of lists (to make X answer DuplicateRule) */
} xrule;

typedef struct canned {
    char kind;  /* answer requests of this kind ('G', 'D', 'A') with this instead */
    int status; /* HTTP status */
    const char *body;
    size_t len;
    const char *reset; /* x-rate-limit-reset, when set */
    int chunked;       /* streamed in chunks (no Content-Length) */
} canned;

typedef struct fake {
    xrule rules[256];
    size_t n;
    uint64_t next_id;
    size_t page_size; /* rules per list page (0: all in one) */
    char log[64];     /* one letter per request: G (list), D (delete), A (add) */
    int requests, wrong, badauth;
    char why[512]; /* the first wrong request */
    size_t deleted, added;
    const char *invalid_marker; /* added values holding this are refused as invalid */
    canned c;
    int delay_start; /* leave the next request unanswered (for cancelling) */
    int holding;     /* a request is left unanswered (evhttp_free ends it) */
} fake;

static void wrong(fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wrong(fake *f, const char *fmt, ...)
{
    if (f->wrong++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->why, sizeof f->why, fmt, ap);
        va_end(ap);
    }
}

static void fake_reset(fake *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->rules[i].value);
        free(f->rules[i].tag);
    }
    memset(f, 0, sizeof *f);
    f->next_id = 1273026480692322304ull;
}

static void fake_put(fake *f, const char *value, const char *tag, int hidden)
{
    xrule *r = &f->rules[f->n++];
    snprintf(r->id, sizeof r->id, "%llu", (unsigned long long)f->next_id++);
    r->value = strdup(value);
    r->tag = strdup(tag);
    r->hidden = hidden;
}

static xrule *fake_find_value(fake *f, const char *value)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->rules[i].value, value) == 0) {
            return &f->rules[i];
        }
    }
    return NULL;
}

static void reply(struct evhttp_request *req, int code, const char *body, size_t len,
                  const char *reset)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    if (reset) {
        evhttp_add_header(h, "x-rate-limit-limit", "450");
        evhttp_add_header(h, "x-rate-limit-remaining", "0");
        evhttp_add_header(h, "x-rate-limit-reset", reset);
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, len);
    evhttp_send_reply(req, code, code < 300 ? "OK" : "Error", b);
    evbuffer_free(b);
}

/* The string of a JSON string, else NULL. */
static const char *jstr(yajl_val v)
{
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

static void gen_s(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void reply_gen(struct evhttp_request *req, int code, yajl_gen g)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    reply(req, code, (const char *)buf, len, NULL);
    yajl_gen_free(g);
}

static void gen_summary(yajl_gen g, const char *k1, size_t v1, const char *k2, size_t v2)
{
    gen_s(g, "meta");
    yajl_gen_map_open(g);
    gen_s(g, "sent");
    gen_s(g, "2024-01-15T10:30:00.000Z");
    gen_s(g, "summary");
    yajl_gen_map_open(g);
    gen_s(g, k1);
    yajl_gen_integer(g, (long long)v1);
    gen_s(g, k2);
    yajl_gen_integer(g, (long long)v2);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}

/* GET: the visible rules from the page the token names, like X (no data when there are none). */
static void answer_list(fake *f, struct evhttp_request *req, const char *query)
{
    size_t from = 0;
    if (query) {
        if (strncmp(query, "pagination_token=page", 21) != 0) {
            wrong(f, "list query %s", query);
        }
        from = strtoul(query + 21, NULL, 10);
    }
    xrule *vis[256];
    size_t nv = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->rules[i].hidden) {
            vis[nv++] = &f->rules[i];
        }
    }
    size_t to = f->page_size && from + f->page_size < nv ? from + f->page_size : nv;
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    if (to > from) {
        gen_s(g, "data");
        yajl_gen_array_open(g);
        for (size_t i = from; i < to; i++) {
            yajl_gen_map_open(g);
            gen_s(g, "id");
            gen_s(g, vis[i]->id);
            gen_s(g, "value");
            gen_s(g, vis[i]->value);
            gen_s(g, "tag");
            gen_s(g, vis[i]->tag);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    gen_s(g, "meta");
    yajl_gen_map_open(g);
    gen_s(g, "sent");
    gen_s(g, "2024-01-15T10:30:00.000Z");
    gen_s(g, "result_count");
    yajl_gen_integer(g, (long long)(to > from ? to - from : 0));
    if (to < nv) {
        char tok[32];
        snprintf(tok, sizeof tok, "page%zu", to);
        gen_s(g, "next_token");
        gen_s(g, tok);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    reply_gen(req, 200, g);
}

/* {"add":[{"value":...,"tag":"blikveld"}...]}: X creates what it accepts and lists the rest in
 * errors[] (invalid syntax, or a duplicate of a rule it holds). */
static void answer_add(fake *f, struct evhttp_request *req, yajl_val add)
{
    if (!YAJL_IS_ARRAY(add) || YAJL_GET_ARRAY(add)->len == 0) {
        wrong(f, "add is not a non-empty array");
        reply(req, 400, body_invalid_request, strlen(body_invalid_request), NULL);
        return;
    }
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    size_t created = 0, refused = 0;
    size_t n = YAJL_GET_ARRAY(add)->len;
    xrule *made[128];
    struct {
        const char *value;
        const xrule *dup;
    } errs[128];
    for (size_t i = 0; i < n && i < 128; i++) {
        yajl_val r = YAJL_GET_ARRAY(add)->values[i];
        const char *vk[] = {"value", NULL}, *tk[] = {"tag", NULL};
        const char *value = jstr(yajl_tree_get(r, vk, yajl_t_string));
        const char *tag = jstr(yajl_tree_get(r, tk, yajl_t_string));
        if (!YAJL_IS_OBJECT(r) || YAJL_GET_OBJECT(r)->len != 2 || value == NULL || tag == NULL ||
            strcmp(tag, "blikveld") != 0 || strlen(value) > 1024) {
            wrong(f, "add[%zu] is not {value, tag: blikveld}", i);
            continue;
        }
        xrule *dup = fake_find_value(f, value);
        if (dup || (f->invalid_marker && strstr(value, f->invalid_marker))) {
            errs[refused].value = value;
            errs[refused++].dup = dup;
            continue;
        }
        fake_put(f, value, "blikveld", 0);
        made[created++] = &f->rules[f->n - 1];
    }
    if (created) {
        gen_s(g, "data");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < created; i++) {
            yajl_gen_map_open(g);
            gen_s(g, "id");
            gen_s(g, made[i]->id);
            gen_s(g, "value");
            gen_s(g, made[i]->value);
            gen_s(g, "tag");
            gen_s(g, made[i]->tag);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    gen_summary(g, "created", created, "not_created", refused);
    if (refused) {
        gen_s(g, "errors");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < refused; i++) {
            yajl_gen_map_open(g);
            gen_s(g, "value");
            gen_s(g, errs[i].value);
            if (errs[i].dup) {
                gen_s(g, "id");
                gen_s(g, errs[i].dup->id);
                gen_s(g, "title");
                gen_s(g, "DuplicateRule");
                gen_s(g, "type");
                gen_s(g, "https://api.x.com/2/problems/duplicate-rules");
            } else {
                gen_s(g, "details");
                yajl_gen_array_open(g);
                gen_s(g, "Reference to invalid operator 'invalid'. Operator is not available in "
                         "current product or product packaging. (at position 1)");
                yajl_gen_array_close(g);
                gen_s(g, "title");
                gen_s(g, "UnprocessableEntity");
                gen_s(g, "type");
                gen_s(g, "https://api.x.com/2/problems/invalid-rules");
            }
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    f->added += created;
    reply_gen(req, created ? 201 : 200, g);
}

/* {"delete":{"ids":[...]}}: every id must be one X holds. */
static void answer_delete(fake *f, struct evhttp_request *req, yajl_val del)
{
    const char *ik[] = {"ids", NULL};
    yajl_val ids = yajl_tree_get(del, ik, yajl_t_array);
    if (!YAJL_IS_OBJECT(del) || YAJL_GET_OBJECT(del)->len != 1 || ids == NULL ||
        YAJL_GET_ARRAY(ids)->len == 0) {
        wrong(f, "delete is not {ids: [...]}");
        reply(req, 400, body_invalid_request, strlen(body_invalid_request), NULL);
        return;
    }
    size_t gone = 0;
    for (size_t i = 0; i < YAJL_GET_ARRAY(ids)->len; i++) {
        const char *id = jstr(YAJL_GET_ARRAY(ids)->values[i]);
        size_t k = 0;
        while (id && k < f->n && strcmp(f->rules[k].id, id) != 0) {
            k++;
        }
        if (id == NULL || k == f->n) {
            wrong(f, "delete of an id X does not hold");
            continue;
        }
        free(f->rules[k].value);
        free(f->rules[k].tag);
        memmove(&f->rules[k], &f->rules[k + 1], (f->n - k - 1) * sizeof f->rules[0]);
        f->n--;
        gone++;
    }
    f->deleted += gone;
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    gen_summary(g, "deleted", gone, "not_deleted", YAJL_GET_ARRAY(ids)->len - gone);
    yajl_gen_map_close(g);
    reply_gen(req, 200, g);
}

static void send_canned(fake *f, struct evhttp_request *req)
{
    if (f->c.chunked) {
        tu_stream_start(req, "application/json", f->c.body, f->c.len, 65536, 1);
        return;
    }
    reply(req, f->c.status, f->c.body, f->c.len, f->c.reset);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    fake *f = arg;
    f->requests++;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *auth = evhttp_find_header(in, "Authorization");
    const char *ctype = evhttp_find_header(in, "Content-Type");
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(body);
    if (strncmp(uri, RULES_PATH, strlen(RULES_PATH)) != 0 ||
        (uri[strlen(RULES_PATH)] != '\0' && uri[strlen(RULES_PATH)] != '?')) {
        wrong(f, "path %s", uri);
        evhttp_send_error(req, 404, "Not Found");
        return;
    }
    if (auth == NULL || strcmp(auth, "Bearer " TOKEN) != 0) {
        f->badauth++;
        reply(req, 401, body_401, strlen(body_401), NULL);
        return;
    }
    if (f->delay_start) {
        f->delay_start = 0;
        f->holding = 1;
        return;
    }
    const char *query = strchr(uri, '?');
    if (cmd == EVHTTP_REQ_GET) {
        strncat(f->log, "G", sizeof f->log - strlen(f->log) - 1);
        if (blen != 0) {
            wrong(f, "GET with a body");
        }
        if (f->c.kind == 'G') {
            send_canned(f, req);
            return;
        }
        answer_list(f, req, query ? query + 1 : NULL);
        return;
    }
    if (cmd != EVHTTP_REQ_POST || query != NULL) {
        wrong(f, "method %d on %s", (int)cmd, uri);
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    if (ctype == NULL || strcmp(ctype, "application/json") != 0) {
        wrong(f, "POST Content-Type %s", ctype ? ctype : "(none)");
    }
    char *text = calloc(1, blen + 1);
    evbuffer_copyout(body, text, blen);
    char err[128];
    yajl_val root = yajl_tree_parse(text, err, sizeof err);
    free(text);
    const char *ak[] = {"add", NULL}, *dk[] = {"delete", NULL};
    yajl_val add = yajl_tree_get(root, ak, yajl_t_any);
    yajl_val del = yajl_tree_get(root, dk, yajl_t_any);
    if (!YAJL_IS_OBJECT(root) || YAJL_GET_OBJECT(root)->len != 1 || (!add && !del)) {
        wrong(f, "POST body is not {add} or {delete}");
        strncat(f->log, "?", sizeof f->log - strlen(f->log) - 1);
        reply(req, 400, body_invalid_request, strlen(body_invalid_request), NULL);
    } else {
        char kind = add ? 'A' : 'D';
        strncat(f->log, add ? "A" : "D", sizeof f->log - strlen(f->log) - 1);
        if (f->c.kind == kind) {
            send_canned(f, req);
        } else if (add) {
            answer_add(f, req, add);
        } else {
            answer_delete(f, req, del);
        }
    }
    yajl_tree_free(root);
}

/* ---- the rig: a loop, the fake, a curl loop ---- */

typedef struct rig {
    struct event_base *base;
    struct evhttp *http;
    bv_curl_loop *cl;
    int port;
    char url[160];
    fake f;
} rig;

typedef struct result {
    int calls;
    bv_x_rules_outcome o;
    char error[1200];
    char step[16];
    bv_x_rules *free_me; /* freed from inside the callback */
    bv_x_rules *again;   /* synced again from inside the callback (once) */
    struct result *again_res;
} result;

static void on_done(void *arg, const bv_x_rules_outcome *o)
{
    result *res = arg;
    res->calls++;
    res->o = *o;
    snprintf(res->error, sizeof res->error, "%s", o->error ? o->error : "");
    snprintf(res->step, sizeof res->step, "%s", o->step ? o->step : "");
    res->o.error = NULL;
    res->o.step = NULL;
    assert_true(o->err == BV_OK ? o->error == NULL : o->error != NULL);
    if (res->again) {
        bv_x_rules *r = res->again;
        res->again = NULL;
        assert_int_equal(bv_x_rules_sync(r, on_done, res->again_res), BV_OK);
    }
    if (res->free_me) {
        bv_x_rules_free(res->free_me);
        res->free_me = NULL;
    }
}

static rig *rig_new(void)
{
    rig *g = calloc(1, sizeof *g);
    assert_non_null(g);
    fake_reset(&g->f);
    g->base = event_base_new();
    g->http = tu_http_server(g->base, on_request, &g->f, &g->port);
    assert_non_null(g->http);
    g->cl = bv_curl_loop_new(g->base);
    assert_non_null(g->cl);
    snprintf(g->url, sizeof g->url,
             "http://127.0.0.1:%d/2/tweets/search/stream?tweet.fields=created_at,lang,author_id"
             "&expansions=author_id",
             g->port);
    return g;
}

static void rig_free(rig *g)
{
    bv_curl_loop_free(g->cl);
    evhttp_free(g->http);
    event_base_free(g->base);
    fake_reset(&g->f);
    free(g);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until *flag is set, failing after 5 s (never reached when all is well). */
static void run_until(rig *g, const int *flag)
{
    int late = 0;
    struct event *t = evtimer_new(g->base, on_deadline, &late);
    struct timeval tv = {5, 0};
    evtimer_add(t, &tv);
    while (!*flag && !late) {
        event_base_loop(g->base, EVLOOP_ONCE);
    }
    event_free(t);
    assert_false(late);
}

static bv_x_rules *syncer(rig *g, const char *token, const char *const *values, size_t n)
{
    char err[256];
    bv_x_rules_opts o = {.stream_url = g->url, .token = token, .values = values, .nvalues = n};
    bv_x_rules *r = bv_x_rules_new(g->cl, &o, err, sizeof err);
    if (r == NULL) {
        fail_msg("bv_x_rules_new: %s", err);
    }
    return r;
}

/* One whole sync: the done callback runs once, and not again while the loop turns on. */
static void sync_once(rig *g, const char *token, const char *const *values, size_t n, result *res)
{
    memset(res, 0, sizeof *res);
    bv_x_rules *r = syncer(g, token, values, n);
    assert_int_equal(bv_x_rules_sync(r, on_done, res), BV_OK);
    assert_true(bv_x_rules_running(r));
    assert_int_equal(bv_x_rules_sync(r, on_done, res), BV_EINVAL); /* one at a time */
    run_until(g, &res->calls);
    assert_false(bv_x_rules_running(r));
    for (int i = 0; i < 20; i++) {
        event_base_loop(g->base, EVLOOP_NONBLOCK);
    }
    bv_x_rules_free(r);
    assert_int_equal(res->calls, 1);
    assert_null(strstr(res->error, "test%2Bbearer")); /* the token never shows */
}

/* The fake holds exactly these values (in this order), each tagged blikveld unless noted. */
static void assert_holds(const fake *f, const char *const *values, size_t n)
{
    assert_int_equal(f->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(f->rules[i].value, values[i]);
    }
}

static void assert_fake_ok(const fake *f)
{
    if (f->wrong) {
        fail_msg("the fake X saw %d wrong requests; the first: %s", f->wrong, f->why);
    }
    assert_int_equal(f->badauth, 0);
}

/* ---- rules URL and options ---- */

static void test_rules_url(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } ok[] = {
        {"https://api.x.com/2/tweets/search/stream?tweet.fields=created_at,lang&expansions="
         "author_id",
         "https://api.x.com/2/tweets/search/stream/rules"},
        {"https://api.x.com/2/tweets/search/stream",
         "https://api.x.com/2/tweets/search/stream/rules"},
        {"http://127.0.0.1:8080/2/tweets/search/stream?x=1#frag",
         "http://127.0.0.1:8080/2/tweets/search/stream/rules"},
        {"https://user:secret@api.x.com/elsewhere",
         "https://api.x.com/2/tweets/search/stream/rules"},
        {"https://api.x.com", "https://api.x.com/2/tweets/search/stream/rules"},
        {"http://[::1]:9/2/tweets/search/stream", "http://[::1]:9/2/tweets/search/stream/rules"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *u = NULL;
        assert_int_equal(bv_x_rules_url(ok[i].in, &u), BV_OK);
        assert_string_equal(u, ok[i].out);
        free(u);
    }
    const char *bad[] = {NULL,
                         "",
                         "api.x.com/2/tweets/search/stream",
                         "ftp://api.x.com/x",
                         "https://",
                         "http:///2/tweets",
                         "https://exa mple.com/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *u = (char *)"untouched";
        assert_int_equal(bv_x_rules_url(bad[i], &u), BV_EINVAL);
        assert_null(u);
    }
}

static void test_new_refuses(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    bv_curl_loop *cl = bv_curl_loop_new(base);
    char err[256];
    static char values_buf[BV_X_RULES_MAX + 1][16];
    const char *many[BV_X_RULES_MAX + 1];
    for (int i = 0; i <= BV_X_RULES_MAX; i++) {
        snprintf(values_buf[i], sizeof values_buf[i], "r%d", i);
        many[i] = values_buf[i];
    }
    char *longv = malloc(BV_X_RULE_VALUE_MAX + 2);
    memset(longv, 'a', BV_X_RULE_VALUE_MAX + 1);
    longv[BV_X_RULE_VALUE_MAX + 1] = '\0';
    const char *lv[] = {longv};
    const char *dup[] = {"#projectx", "feest", "#projectx"};
    const char *empty[] = {"ok", ""};
    const char *nul[] = {"ok", NULL};
    const char *bad_utf8[] = {"caf\xc3"};
    struct {
        bv_x_rules_opts o;
        const char *says;
    } cases[] = {
        {{.stream_url = "https://api.x.com/2/tweets/search/stream",
          .token = TOKEN,
          .values = many,
          .nvalues = BV_X_RULES_MAX + 1},
         "101 rules"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream",
          .token = TOKEN,
          .values = lv,
          .nvalues = 1},
         "longer than 1024"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream",
          .token = TOKEN,
          .values = dup,
          .nvalues = 3},
         "rule 3 repeats rule 1"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream",
          .token = TOKEN,
          .values = empty,
          .nvalues = 2},
         "rule 2 is empty"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream",
          .token = TOKEN,
          .values = nul,
          .nvalues = 2},
         "rule 2 is empty"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream",
          .token = TOKEN,
          .values = bad_utf8,
          .nvalues = 1},
         "not valid UTF-8"},
        {{.stream_url = "ftp://api.x.com/", .token = TOKEN}, "stream_url"},
        {{.stream_url = NULL, .token = TOKEN}, "stream_url"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream", .token = NULL}, "token"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream", .token = ""}, "token"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream", .token = "abc\r\nX-Evil: 1"},
         "token"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream", .token = "has space"}, "token"},
        {{.stream_url = "https://api.x.com/2/tweets/search/stream", .token = TOKEN, .tag = ""},
         "tag"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        assert_null(bv_x_rules_new(cl, &cases[i].o, err, sizeof err));
        if (strstr(err, cases[i].says) == NULL) {
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].says);
        }
        assert_null(strstr(err, "bearer%3D")); /* the token never shows */
    }
    bv_x_rules_opts none = {.stream_url = "https://api.x.com/", .token = TOKEN};
    assert_null(bv_x_rules_new(NULL, &none, err, sizeof err)); /* no curl loop */
    free(longv);

    /* the limits themselves are fine: 100 rules, a value of exactly 1024 bytes, no rules */
    longv = malloc(BV_X_RULE_VALUE_MAX + 1);
    memset(longv, 'a', BV_X_RULE_VALUE_MAX);
    longv[BV_X_RULE_VALUE_MAX] = '\0';
    bv_x_rules_opts fine[] = {
        {.stream_url = "https://api.x.com/2/tweets/search/stream",
         .token = TOKEN,
         .values = many,
         .nvalues = BV_X_RULES_MAX},
        {.stream_url = "https://api.x.com/2/tweets/search/stream",
         .token = TOKEN,
         .values = lv,
         .nvalues = 1},
        {.stream_url = "https://api.x.com/2/tweets/search/stream", .token = TOKEN},
    };
    lv[0] = longv;
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        bv_x_rules *r = bv_x_rules_new(cl, &fine[i], err, sizeof err);
        assert_non_null(r);
        assert_false(bv_x_rules_running(r));
        bv_x_rules_free(r);
    }
    free(longv);
    bv_x_rules_free(NULL);
    bv_curl_loop_free(cl);
    event_base_free(base);
}

/* ---- the sans-IO parsers ---- */

static void test_parse_list(void **state)
{
    (void)state;
    bv_x_rule_list l = {0};
    char err[256];
    assert_int_equal(bv_x_rules_parse_list(body_list, strlen(body_list), &l, err, sizeof err),
                     BV_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].id, "1273026480692322304");
    assert_string_equal(l.v[0].value, "cat has:images");
    assert_string_equal(l.v[1].value, "(feest OR party) lang:nl");
    assert_string_equal(l.next_token, "1ec4nbwq4fgi");
    /* a second page appends; the last page has no token */
    const char *last = "{\"data\":[{\"id\":\"7\",\"value\":\"#projectx\"}],\"meta\":{"
                       "\"result_count\":1}}";
    assert_int_equal(bv_x_rules_parse_list(last, strlen(last), &l, err, sizeof err), BV_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[2].value, "#projectx");
    assert_null(l.next_token);
    bv_x_rule_list_clear(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.v);

    /* no rules: X sends meta only */
    const char *none = "{\"meta\":{\"sent\":\"2024-01-15T10:30:00.000Z\",\"result_count\":0}}";
    assert_int_equal(bv_x_rules_parse_list(none, strlen(none), &l, NULL, 0), BV_OK);
    assert_int_equal(l.n, 0);
    /* escapes decoded: the value is X's text */
    const char *esc = "{\"data\":[{\"id\":\"1\",\"value\":\"\\\"brand\\\" caf\\u00e9 \\\\ x\"}],"
                      "\"meta\":{}}";
    assert_int_equal(bv_x_rules_parse_list(esc, strlen(esc), &l, NULL, 0), BV_OK);
    assert_string_equal(l.v[0].value, "\"brand\" caf\xc3\xa9 \\ x");
    bv_x_rule_list_clear(&l);

    struct {
        const char *body;
        int rc;
        const char *says;
    } bad[] = {
        {"", BV_EINVAL, "not JSON"},
        {"[]", BV_EINVAL, "not a JSON object"},
        {"{}", BV_EINVAL, "neither data nor meta"},
        {"{\"data\":{}}", BV_EINVAL, "data"},
        {"{\"data\":[{\"id\":1273026480692322304,\"value\":\"x\"}]}", BV_EINVAL, "data[0]"},
        {"{\"data\":[{\"id\":\"12a\",\"value\":\"x\"}]}", BV_EINVAL, "data[0]"},
        {"{\"data\":[{\"id\":\"12345678901234567890\",\"value\":\"x\"}]}", BV_EINVAL, "data[0]"},
        {"{\"data\":[{\"id\":\"1\",\"value\":\"x\"},{\"id\":\"2\"}]}", BV_EINVAL, "data[1]"},
        {"{\"data\":[],\"meta\":{\"result_count\":1}}", BV_EINVAL, "result_count"},
        {"{\"meta\":{\"result_count\":-1}}", BV_EINVAL, "result_count"},
        {"{\"meta\":{\"result_count\":\"0\"}}", BV_EINVAL, "result_count"},
        {"{\"meta\":{\"next_token\":\"\"}}", BV_EINVAL, "next_token"},
        {"{\"meta\":{\"next_token\":5}}", BV_EINVAL, "next_token"},
        {"{\"errors\":[{\"title\":\"Invalid Request\",\"detail\":\"bad max_results\"}]}", BV_EINVAL,
         "Invalid Request: bad max_results"},
        {"{\"meta\":{}} /* comment */", BV_EINVAL, "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = bv_x_rules_parse_list(bad[i].body, strlen(bad[i].body), &l, err, sizeof err);
        bv_x_rule_list_clear(&l);
        if (rc != bad[i].rc || strstr(err, bad[i].says) == NULL) {
            fail_msg("%s: rc %d, \"%s\"", bad[i].body, rc, err);
        }
    }
    /* a NUL inside the body: yajl would stop there */
    const char nulb[] = "{\"meta\":{}}\0{\"data\":[]}";
    assert_int_equal(bv_x_rules_parse_list(nulb, sizeof nulb - 1, &l, NULL, 0), BV_EINVAL);
}

static void test_parse_change(void **state)
{
    (void)state;
    bv_x_rules_change c;
    char err[256];
    assert_int_equal(bv_x_rules_parse_change(fixture_add, strlen(fixture_add), &c, err, sizeof err),
                     BV_OK);
    assert_int_equal(c.created, 1);
    assert_int_equal(c.not_created, 0);
    assert_int_equal(c.valid, 1);
    assert_int_equal(c.invalid, 0);
    assert_int_equal(c.deleted, -1);
    assert_int_equal(c.not_deleted, -1);
    assert_int_equal(c.data.n, 1);
    assert_string_equal(c.data.v[0].id, "1273026480692322304");
    assert_string_equal(c.data.v[0].value, "cat has:images");
    assert_int_equal(c.nerrors, 0);
    bv_x_rules_change_clear(&c);
    assert_int_equal(c.created, -1);

    assert_int_equal(bv_x_rules_parse_change(body_refused, strlen(body_refused), &c, NULL, 0),
                     BV_OK);
    assert_int_equal(c.created, 0);
    assert_int_equal(c.not_created, 2);
    assert_int_equal(c.nerrors, 2);
    assert_string_equal(c.errors[0].value, "cat has:imagez");
    assert_null(c.errors[0].id);
    assert_string_equal(c.errors[0].message,
                        "UnprocessableEntity: Reference to invalid field 'imagez' (at position 9)");
    assert_string_equal(c.errors[1].value, "#projectx");
    assert_string_equal(c.errors[1].id, "1273026480692322305");
    assert_string_equal(c.errors[1].message, "DuplicateRule");
    bv_x_rules_change_clear(&c);

    assert_int_equal(bv_x_rules_parse_change(body_deleted, strlen(body_deleted), &c, NULL, 0),
                     BV_OK);
    assert_int_equal(c.deleted, 2);
    assert_int_equal(c.not_deleted, 0);
    assert_int_equal(c.data.n, 0);
    bv_x_rules_change_clear(&c);

    /* problem bodies: one error, from title and detail */
    assert_int_equal(bv_x_rules_parse_change(body_401, strlen(body_401), &c, NULL, 0), BV_OK);
    assert_int_equal(c.nerrors, 1);
    assert_string_equal(c.errors[0].message, "Unauthorized: Unauthorized");
    bv_x_rules_change_clear(&c);
    assert_int_equal(bv_x_rules_parse_change(fixture_429, strlen(fixture_429), &c, NULL, 0), BV_OK);
    assert_int_equal(c.nerrors, 1);
    assert_string_equal(c.errors[0].message, "Rate limit exceeded");
    bv_x_rules_change_clear(&c);
    assert_int_equal(
        bv_x_rules_parse_change(body_invalid_request, strlen(body_invalid_request), &c, NULL, 0),
        BV_OK);
    assert_int_equal(c.nerrors, 1);
    assert_string_equal(c.errors[0].message, "Rules must be unique");
    bv_x_rules_change_clear(&c);
    const char *bare = "{\"errors\":[5,{}]}";
    assert_int_equal(bv_x_rules_parse_change(bare, strlen(bare), &c, NULL, 0), BV_OK);
    assert_int_equal(c.nerrors, 2);
    assert_string_equal(c.errors[0].message, "no reason given");
    bv_x_rules_change_clear(&c);

    const char *bad[] = {
        "",
        "{",
        "null",
        "{}",
        "{\"status\":500}",
        "{\"data\":5}",
        "{\"errors\":{}}",
        "{\"meta\":[]}",
        "{\"meta\":{\"summary\":[]}}",
        "{\"meta\":{\"summary\":{\"created\":\"1\"}}}",
        "{\"meta\":{\"summary\":{\"deleted\":-2}}}",
        "{\"meta\":{\"summary\":{\"created\":1.5}}}",
        "{\"data\":[{\"id\":\"x\",\"value\":\"v\"}],\"meta\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = bv_x_rules_parse_change(bad[i], strlen(bad[i]), &c, err, sizeof err);
        bv_x_rules_change_clear(&c);
        if (rc != BV_EINVAL) {
            fail_msg("%s: rc %d", bad[i], rc);
        }
    }
}

/* Every prefix of each body: no crash, no leak; an error until the closing brace is in. */
static void test_parse_prefixes(void **state)
{
    (void)state;
    const char *bodies[] = {fixture_add,  fixture_429, body_list,           body_refused,
                            body_deleted, body_401,    body_invalid_request};
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        size_t len = strlen(bodies[b]);
        size_t whole = (size_t)(strrchr(bodies[b], '}') - bodies[b]) + 1;
        for (size_t n = 0; n <= len; n++) {
            char *cut = malloc(n ? n : 1); /* exact size: the sanitizers see overreads */
            memcpy(cut, bodies[b], n);
            bv_x_rule_list l = {0};
            bv_x_rules_change c;
            int lrc = bv_x_rules_parse_list(cut, n, &l, NULL, 0);
            int crc = bv_x_rules_parse_change(cut, n, &c, NULL, 0);
            bv_x_rule_list_clear(&l);
            bv_x_rules_change_clear(&c);
            free(cut);
            if (n < whole) {
                assert_int_not_equal(lrc, BV_OK);
                assert_int_not_equal(crc, BV_OK);
            } else {
                assert_int_equal(crc, BV_OK);
            }
        }
    }
}

static void test_parse_limits(void **state)
{
    (void)state;
    /* exactly BV_X_RULES_BODY_MAX bytes is fine; one more is not */
    size_t max = BV_X_RULES_BODY_MAX;
    char *big = malloc(max + 1);
    const char *obj = "{\"meta\":{\"result_count\":0}}";
    memset(big, ' ', max + 1);
    memcpy(big, obj, strlen(obj));
    bv_x_rule_list l = {0};
    bv_x_rules_change c;
    char err[128];
    assert_int_equal(bv_x_rules_parse_list(big, max, &l, err, sizeof err), BV_OK);
    assert_int_equal(bv_x_rules_parse_list(big, max + 1, &l, err, sizeof err), BV_ELIMIT);
    assert_non_null(strstr(err, "larger than"));
    assert_int_equal(bv_x_rules_parse_change(big, max + 1, &c, NULL, 0), BV_ELIMIT);
    bv_x_rules_change_clear(&c);
    free(big);
    /* nesting: 16 levels are read, 17 refused before yajl sees them (brackets in strings do not
     * count) */
    for (int extra = 13; extra <= 14; extra++) {
        char deep[256];
        int k = snprintf(deep, sizeof deep,
                         "{\"data\":[{\"id\":\"1\",\"value\":\"[[[[[[[[[[[[[[[[[[{{\",\"x\":");
        for (int i = 0; i < extra; i++) {
            deep[k++] = '[';
        }
        deep[k++] = '1';
        for (int i = 0; i < extra; i++) {
            deep[k++] = ']';
        }
        snprintf(deep + k, sizeof deep - (size_t)k, "}]}");
        /* {, [, { and extra brackets */
        int rc = bv_x_rules_parse_list(deep, strlen(deep), &l, err, sizeof err);
        bv_x_rule_list_clear(&l);
        if (extra == 13) {
            assert_int_equal(rc, BV_OK);
        } else {
            assert_int_equal(rc, BV_ELIMIT);
            assert_non_null(strstr(err, "deeper"));
        }
    }
    /* a million brackets: refused at once, never parsed */
    size_t n = 1u << 20;
    char *brackets = malloc(n);
    memset(brackets, '[', n);
    assert_int_equal(bv_x_rules_parse_change(brackets, n, &c, NULL, 0), BV_ELIMIT);
    bv_x_rules_change_clear(&c);
    free(brackets);
}

/* ---- syncs against the fake X ---- */

static void test_sync_nothing_to_do(void **state)
{
    (void)state;
    rig *g = rig_new();
    fake_put(&g->f, "(feest OR party) lang:nl", "blikveld", 0);
    fake_put(&g->f, "#projectx", "set by hand", 0); /* another tag: the value is what counts */
    const char *want[] = {"#projectx", "(feest OR party) lang:nl"};
    result res;
    sync_once(g, TOKEN, want, 2, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_OK);
    assert_string_equal(res.error, "");
    assert_string_equal(g->f.log, "G"); /* no POST at all */
    assert_int_equal(res.o.existing, 2);
    assert_int_equal(res.o.deleted, 0);
    assert_int_equal(res.o.added, 0);
    assert_int_equal(res.o.status, 200);
    assert_int_equal(g->f.n, 2);
    rig_free(g);
}

static void test_sync_add_only(void **state)
{
    (void)state;
    rig *g = rig_new();
    /* values that need escaping: quotes, backslashes, a tab, UTF-8 */
    const char *want[] = {"(feest OR party) lang:nl", "#projectx",
                          "\"brand in\" OR \\rook\\ caf\xc3\xa9 \xe2\x98\x95\tlang:nl"};
    result res;
    sync_once(g, TOKEN, want, 3, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_OK);
    assert_string_equal(g->f.log, "GA");
    assert_int_equal(res.o.existing, 0);
    assert_int_equal(res.o.added, 3);
    assert_int_equal(res.o.deleted, 0);
    assert_string_equal(res.step, "add");
    assert_int_equal(res.o.status, 201);
    assert_holds(&g->f, want, 3); /* the fake parsed the JSON: byte-exact values */
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(g->f.rules[i].tag, "blikveld");
    }
    /* a second sync finds them all: nothing to do */
    sync_once(g, TOKEN, want, 3, &res);
    assert_int_equal(res.o.err, BV_OK);
    assert_string_equal(g->f.log, "GAG");
    rig_free(g);
}

static void test_sync_delete_only(void **state)
{
    (void)state;
    rig *g = rig_new();
    fake_put(&g->f, "cat has:images", "cats with images", 0);
    fake_put(&g->f, "#projectx", "blikveld", 0);
    fake_put(&g->f, "old rule", "blikveld", 0);
    const char *want[] = {"#projectx"};
    result res;
    sync_once(g, TOKEN, want, 1, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_OK);
    assert_string_equal(g->f.log, "GD");
    assert_int_equal(res.o.existing, 3);
    assert_int_equal(res.o.deleted, 2);
    assert_int_equal(res.o.added, 0);
    assert_int_equal(g->f.deleted, 2);
    assert_holds(&g->f, want, 1);
    /* no rules configured: everything goes */
    sync_once(g, TOKEN, NULL, 0, &res);
    assert_int_equal(res.o.err, BV_OK);
    assert_string_equal(g->f.log, "GDGD");
    assert_int_equal(g->f.n, 0);
    rig_free(g);
}

static void test_sync_both(void **state)
{
    (void)state;
    rig *g = rig_new();
    fake_put(&g->f, "unwanted", "blikveld", 0);
    fake_put(&g->f, "#projectx", "blikveld", 0);
    const char *want[] = {"#projectx", "(feest OR party) lang:nl", "rellen OR ongeregeldheden"};
    result res;
    sync_once(g, TOKEN, want, 3, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_OK);
    assert_string_equal(g->f.log, "GDA"); /* delete first: X's rule count never overflows */
    assert_int_equal(res.o.deleted, 1);
    assert_int_equal(res.o.added, 2);
    assert_holds(&g->f, want, 3);
    rig_free(g);
}

static void test_sync_paged(void **state)
{
    (void)state;
    rig *g = rig_new();
    g->f.page_size = 2;
    char v[8][16];
    for (int i = 0; i < 7; i++) {
        snprintf(v[i], sizeof v[i], "rule%d", i);
        fake_put(&g->f, v[i], "blikveld", 0);
    }
    const char *want[] = {"rule6", "rule1", "new"};
    result res;
    sync_once(g, TOKEN, want, 3, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_OK);
    assert_string_equal(g->f.log, "GGGGDA"); /* 2 + 2 + 2 + 1 */
    assert_int_equal(res.o.existing, 7);
    assert_int_equal(res.o.deleted, 5);
    assert_int_equal(res.o.added, 1);
    const char *after[] = {"rule1", "rule6", "new"};
    assert_holds(&g->f, after, 3);
    rig_free(g);
}

static void test_sync_refused_rule(void **state)
{
    (void)state;
    rig *g = rig_new();
    g->f.invalid_marker = "invalid:";
    const char *want[] = {"#projectx", "brand invalid:operator"};
    result res;
    sync_once(g, TOKEN, want, 2, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_EINVAL);
    assert_string_equal(res.step, "add");
    assert_int_equal(res.o.added, 1); /* X made the other one */
    assert_string_equal(res.error,
                        "X refused the rule \"brand invalid:operator\": UnprocessableEntity: "
                        "Reference to invalid operator 'invalid'. Operator is not available in "
                        "current product or product packaging. (at position 1)");
    const char *made[] = {"#projectx"};
    assert_holds(&g->f, made, 1);

    /* a duplicate: X holds the rule but the list did not show it */
    fake_reset(&g->f);
    fake_put(&g->f, "#projectx", "blikveld", 1);
    sync_once(g, TOKEN, want + 0, 1, &res);
    assert_fake_ok(&g->f);
    assert_string_equal(g->f.log, "GA");
    assert_int_equal(res.o.err, BV_EINVAL);
    assert_int_equal(res.o.added, 0);
    assert_string_equal(res.error, "X refused the rule \"#projectx\": DuplicateRule");

    /* several refused, one named, the rest counted; a long value is cut in the message */
    fake_reset(&g->f);
    g->f.invalid_marker = "invalid:";
    char longv[700];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    memcpy(longv, "invalid:", 8);
    const char *three[] = {longv, "invalid:b", "invalid:c"};
    sync_once(g, TOKEN, three, 3, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_EINVAL);
    assert_non_null(strstr(res.error, "X refused the rule \"invalid:xxx"));
    assert_non_null(strstr(res.error, "...\": UnprocessableEntity"));
    assert_non_null(strstr(res.error, "(and 2 more errors)"));
    assert_true(strlen(res.error) < 600);

    /* a 400 Invalid Request: X's reason, no value named */
    fake_reset(&g->f);
    g->f.c = (canned){'A', 400, body_invalid_request, strlen(body_invalid_request), NULL, 0};
    sync_once(g, TOKEN, want, 1, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_ERR);
    assert_int_equal(res.o.status, 400);
    assert_string_equal(res.error, "X refused the rules: Rules must be unique");
    rig_free(g);
}

static void test_sync_token_refused(void **state)
{
    (void)state;
    rig *g = rig_new();
    fake_put(&g->f, "unwanted", "blikveld", 0);
    const char *want[] = {"#projectx"};
    result res;
    sync_once(g, "AAAAwrong-token", want, 1, &res);
    assert_int_equal(g->f.badauth, 1);
    assert_int_equal(g->f.wrong, 0);
    assert_int_equal(res.o.err, BV_EINVAL);
    assert_int_equal(res.o.status, 401);
    assert_string_equal(res.error, "X refused the token (HTTP 401)");
    assert_string_equal(res.step, "list");
    assert_null(strstr(res.error, "wrong-token"));
    assert_int_equal(g->f.n, 1); /* nothing changed */

    /* 403 on the add: X's reason is kept */
    fake_reset(&g->f);
    const char *forbidden = "{\"client_id\":\"1\",\"title\":\"Client Forbidden\",\"reason\":"
                            "\"client-not-enrolled\",\"detail\":\"When authenticating requests "
                            "to the Twitter API v2 endpoints, you must use keys and tokens from "
                            "a Twitter developer App that is attached to a Project.\"}";
    g->f.c = (canned){'A', 403, forbidden, strlen(forbidden), NULL, 0};
    sync_once(g, TOKEN, want, 1, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_EINVAL);
    assert_int_equal(res.o.status, 403);
    assert_string_equal(res.step, "add");
    assert_non_null(strstr(res.error, "X refused the token (HTTP 403): Client Forbidden: When"));
    rig_free(g);
}

static void test_sync_rate_limited(void **state)
{
    (void)state;
    rig *g = rig_new();
    const char *want[] = {"#projectx"};
    result res;
    g->f.c = (canned){'G', 429, fixture_429, strlen(fixture_429), "1705312800", 0};
    sync_once(g, TOKEN, want, 1, &res);
    assert_fake_ok(&g->f);
    assert_string_equal(g->f.log, "G");
    assert_int_equal(res.o.err, BV_EAGAIN);
    assert_int_equal(res.o.status, 429);
    assert_int_equal(res.o.rate_reset, 1705312800);
    assert_string_equal(res.error, "X rate limit hit on the list request (HTTP 429); "
                                   "x-rate-limit-reset 1705312800 (2024-01-15T10:00:00Z)");

    /* on the add after a delete, without the header: the delete counts */
    fake_reset(&g->f);
    fake_put(&g->f, "unwanted", "blikveld", 0);
    g->f.c = (canned){'A', 429, fixture_429, strlen(fixture_429), NULL, 0};
    sync_once(g, TOKEN, want, 1, &res);
    assert_fake_ok(&g->f);
    assert_string_equal(g->f.log, "GDA");
    assert_int_equal(res.o.err, BV_EAGAIN);
    assert_int_equal(res.o.rate_reset, 0);
    assert_int_equal(res.o.deleted, 1);
    assert_int_equal(res.o.added, 0);
    assert_string_equal(res.step, "add");
    assert_non_null(strstr(res.error, "HTTP 429"));
    assert_non_null(strstr(res.error, "no x-rate-limit-reset"));
    rig_free(g);
}

static void test_sync_server_error(void **state)
{
    (void)state;
    rig *g = rig_new();
    const char *want[] = {"#projectx"};
    result res;
    const char *unavail = "{\"title\":\"Service Unavailable\",\"detail\":\"Service "
                          "Unavailable\",\"type\":\"about:blank\",\"status\":503}";
    g->f.c = (canned){'G', 503, unavail, strlen(unavail), NULL, 0};
    sync_once(g, TOKEN, want, 1, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_EAGAIN);
    assert_int_equal(res.o.status, 503);
    assert_string_equal(res.error, "X server error on the list request (HTTP 503): Service "
                                   "Unavailable: Service Unavailable");
    fake_reset(&g->f);
    fake_put(&g->f, "unwanted", "blikveld", 0);
    g->f.c = (canned){'D', 500, "<html>oops</html>", 17, NULL, 0};
    sync_once(g, TOKEN, want, 1, &res);
    assert_fake_ok(&g->f);
    assert_string_equal(g->f.log, "GD");
    assert_int_equal(res.o.err, BV_EAGAIN);
    assert_int_equal(res.o.status, 500);
    assert_string_equal(res.step, "delete");
    assert_string_equal(res.error, "X server error on the delete request (HTTP 500)");
    /* another status on the list */
    fake_reset(&g->f);
    g->f.c = (canned){'G', 404, body_401, strlen(body_401), NULL, 0};
    sync_once(g, TOKEN, want, 1, &res);
    assert_int_equal(res.o.err, BV_ERR);
    assert_int_equal(res.o.status, 404);
    assert_non_null(strstr(res.error, "HTTP 404"));
    rig_free(g);
}

/* Garbage where the list should be: each ends the sync with an error and sends no POST. */
static void test_sync_garbage_list(void **state)
{
    (void)state;
    static const char *const garbage[] = {
        "",
        "{",
        "not json at all",
        "[]",
        "null",
        "{}",
        "{\"data\":{}}",
        "{\"data\":[1]}",
        "{\"data\":[{\"id\":1273026480692322304,\"value\":\"x\"}]}",
        "{\"data\":[{\"id\":\"1\"}]}",
        "{\"meta\":{\"result_count\":3}}",
        "{\"meta\":\"x\"}",
        "{\"meta\":{\"next_token\":\"\"}}",
        "{\"errors\":[{\"title\":\"Operational Error\"}]}",
        "{\"errors\":[{\"title\":\"Two\\nlines\\r\\u0007\"}]}",
        "{\"meta\":{}} // comment",
        "{\"data\":[{\"id\":\"1\",\"value\":\"x\"}],\"meta\":{\"result_count\":1}", /* truncated */
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    rig *g = rig_new();
    fake_put(&g->f, "unwanted", "blikveld", 0);
    const char *want[] = {"#projectx"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        g->f.log[0] = '\0';
        g->f.c = (canned){'G', 200, garbage[i], strlen(garbage[i]), NULL, (int)(i % 2)};
        result res;
        sync_once(g, TOKEN, want, 1, &res);
        assert_fake_ok(&g->f);
        assert_string_equal(g->f.log, "G");
        if (res.o.err != BV_ERR && res.o.err != BV_ELIMIT) {
            fail_msg("%s: err %d (%s)", garbage[i], res.o.err, res.error);
        }
        assert_non_null(strstr(res.error, "X's rules list is unusable: "));
        for (const char *c = res.error; *c; c++) {
            assert_true((unsigned char)*c >= 0x20 && *c != 0x7f); /* one line for the log */
        }
    }
    /* a NUL inside */
    g->f.log[0] = '\0';
    g->f.c = (canned){'G', 200, "{\"meta\":{}}\0{}", 14, NULL, 0};
    result res;
    sync_once(g, TOKEN, want, 1, &res);
    assert_int_equal(res.o.err, BV_ERR);
    assert_string_equal(g->f.log, "G");
    assert_int_equal(g->f.n, 1);
    rig_free(g);
}

/* Garbage answers to the POSTs. */
static void test_sync_garbage_change(void **state)
{
    (void)state;
    static const struct {
        char kind;
        const char *body;
        const char *says;
    } cases[] = {
        {'A', "", "X's answer to the add is unusable: not JSON"},
        {'A', "{}", "not a rules response"},
        {'A', "{\"meta\":{\"summary\":{\"created\":\"1\"}}}", "summary"},
        {'A', "{\"data\":[{\"id\":\"x\"}]}", "data[0]"},
        {'A', "{\"meta\":{\"summary\":{\"created\":0,\"not_created\":1}}}",
         "X created 0 of the 1 rules (HTTP 200)"},
        {'A', "{\"meta\":{\"summary\":{}}}", "X created 0 of the 1 rules"},
        {'D', "{\"meta\":{\"summary\":{\"deleted\":0,\"not_deleted\":1}}}",
         "X deleted 0 of the 1 rules (HTTP 200)"},
        {'D',
         "{\"errors\":[{\"id\":\"1273026480692322304\",\"title\":\"Not Found\",\"detail\":"
         "\"Rule does not exist\"}]}",
         "X deleted 0 of the 1 rules (HTTP 200), rule 1273026480692322304: Not Found: Rule does "
         "not exist"},
        {'D', "{\"meta\":{\"summary\":{\"deleted\":\"1\"}}}", "X's answer to the delete"},
    };
    rig *g = rig_new();
    const char *want[] = {"#projectx"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_reset(&g->f);
        fake_put(&g->f, "unwanted", "blikveld", 0);
        g->f.c = (canned){cases[i].kind, 200, cases[i].body, strlen(cases[i].body), NULL, 0};
        result res;
        sync_once(g, TOKEN, want, 1, &res);
        assert_fake_ok(&g->f);
        assert_string_equal(g->f.log, cases[i].kind == 'A' ? "GDA" : "GD");
        assert_int_equal(res.o.err, BV_ERR);
        if (strstr(res.error, cases[i].says) == NULL) {
            fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].body, res.error, cases[i].says);
        }
    }
    rig_free(g);
}

static void test_sync_oversized(void **state)
{
    (void)state;
    size_t max = BV_X_RULES_BODY_MAX;
    char *big = malloc(max + 1);
    const char *obj = "{\"meta\":{\"result_count\":0}}";
    memset(big, ' ', max + 1);
    memcpy(big, obj, strlen(obj));
    rig *g = rig_new();
    const char *want[] = {"#projectx"};
    result res;
    /* exactly the limit: read, and the rule added */
    g->f.c = (canned){'G', 200, big, max, NULL, 0};
    sync_once(g, TOKEN, want, 1, &res);
    assert_fake_ok(&g->f);
    assert_int_equal(res.o.err, BV_OK);
    assert_string_equal(g->f.log, "GA");
    /* one byte more, with a Content-Length and chunked */
    for (int chunked = 0; chunked < 2; chunked++) {
        fake_reset(&g->f);
        g->f.c = (canned){'G', 200, big, max + 1, NULL, chunked};
        sync_once(g, TOKEN, want, 1, &res);
        assert_fake_ok(&g->f);
        assert_int_equal(res.o.err, BV_ELIMIT);
        assert_string_equal(res.error, "X's answer to the list request is larger than 1048576 "
                                       "bytes");
        assert_string_equal(g->f.log, "G");
    }
    rig_free(g);
    free(big);
}

static void test_sync_unreachable(void **state)
{
    (void)state;
    rig *g = rig_new();
    /* a port nobody listens on any more */
    int port = 0;
    struct evhttp *gone = tu_http_server(g->base, on_request, &g->f, &port);
    evhttp_free(gone);
    snprintf(g->url, sizeof g->url, "http://127.0.0.1:%d/2/tweets/search/stream", port);
    const char *want[] = {"#projectx"};
    result res;
    sync_once(g, TOKEN, want, 1, &res);
    assert_int_equal(res.o.err, BV_EAGAIN);
    assert_int_equal(res.o.status, 0);
    assert_string_equal(res.step, "list");
    assert_non_null(strstr(res.error, "cannot reach X for the list request: "));
    rig_free(g);
}

/* The done callback: once when the syncer is freed early; it may free the syncer, or sync
 * again. */
static void test_callback_contract(void **state)
{
    (void)state;
    rig *g = rig_new();
    const char *want[] = {"#projectx"};
    result res = {0};

    /* freed while the list request waits for X: done runs once, before free returns */
    g->f.delay_start = 1;
    bv_x_rules *r = syncer(g, TOKEN, want, 1);
    assert_int_equal(bv_x_rules_sync(r, on_done, &res), BV_OK);
    run_until(g, &g->f.holding);
    assert_int_equal(res.calls, 0);
    bv_x_rules_free(r);
    assert_int_equal(res.calls, 1);
    assert_true(res.o.cancelled);
    assert_int_equal(res.o.err, BV_EAGAIN);
    assert_string_equal(res.error, "cancelled");
    /* the held request is left to evhttp_free */
    for (int i = 0; i < 20; i++) {
        event_base_loop(g->base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(res.calls, 1);

    /* freed from inside its own callback */
    memset(&res, 0, sizeof res);
    r = syncer(g, TOKEN, want, 1);
    res.free_me = r;
    assert_int_equal(bv_x_rules_sync(r, on_done, &res), BV_OK);
    run_until(g, &res.calls);
    assert_int_equal(res.o.err, BV_OK);
    assert_int_equal(res.o.added, 1);

    /* synced again from inside the callback: both find nothing to do */
    memset(&res, 0, sizeof res);
    result second = {0};
    g->f.log[0] = '\0';
    r = syncer(g, TOKEN, want, 1);
    res.again = r;
    res.again_res = &second;
    assert_int_equal(bv_x_rules_sync(r, on_done, &res), BV_OK);
    run_until(g, &second.calls);
    assert_int_equal(res.calls, 1);
    assert_int_equal(second.calls, 1);
    assert_int_equal(second.o.err, BV_OK);
    assert_int_equal(second.o.existing, 1);
    assert_string_equal(g->f.log, "GG"); /* two lists, nothing to change */
    assert_false(bv_x_rules_running(r));
    bv_x_rules_free(r);

    /* freed from inside the callback of a sync it started there: the new one is cancelled */
    memset(&res, 0, sizeof res);
    memset(&second, 0, sizeof second);
    r = syncer(g, TOKEN, want, 1);
    res.again = r;
    res.again_res = &second;
    res.free_me = r;
    assert_int_equal(bv_x_rules_sync(r, on_done, &res), BV_OK);
    run_until(g, &res.calls);
    assert_int_equal(second.calls, 1);
    assert_true(second.o.cancelled);
    assert_fake_ok(&g->f);
    rig_free(g);
}

int main(void)
{
    /* the fake X writes to connections the client dropped (oversized bodies, cancels) */
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_url),           cmocka_unit_test(test_new_refuses),
        cmocka_unit_test(test_parse_list),          cmocka_unit_test(test_parse_change),
        cmocka_unit_test(test_parse_prefixes),      cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_sync_nothing_to_do),  cmocka_unit_test(test_sync_add_only),
        cmocka_unit_test(test_sync_delete_only),    cmocka_unit_test(test_sync_both),
        cmocka_unit_test(test_sync_paged),          cmocka_unit_test(test_sync_refused_rule),
        cmocka_unit_test(test_sync_token_refused),  cmocka_unit_test(test_sync_rate_limited),
        cmocka_unit_test(test_sync_server_error),   cmocka_unit_test(test_sync_garbage_list),
        cmocka_unit_test(test_sync_garbage_change), cmocka_unit_test(test_sync_oversized),
        cmocka_unit_test(test_sync_unreachable),    cmocka_unit_test(test_callback_contract),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
