/* facebook.c: the Page webhook receiver on libevent's evhttp; see facebook.h. */
#include "source/facebook.h"
#include "core/err.h"
#include "core/log.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <yajl/yajl_tree.h>

#define SEEN_MAX 4096
#define CHALLENGE_MAX 256

struct bv_facebook {
    char *name, *secret, *verify;
    size_t max_body;
    const bv_clock *clock;
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
    struct evhttp *http;
    int port;
    uint64_t seen[SEEN_MAX]; /* hashes of changes handed on, a ring */
    size_t seen_head, seen_n;
    bv_facebook_stats st;
};

static void reply(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    if (b && body) {
        evbuffer_add(b, body, strlen(body));
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, reason, b);
    if (b) {
        evbuffer_free(b);
    }
}

static void on_verify(bv_facebook *f, struct evhttp_request *req)
{
    const char *q = strchr(evhttp_request_get_uri(req), '?');
    struct evkeyvalq params;
    if (q == NULL) {
        f->st.rejected++;
        reply(req, 403, "Forbidden", "");
        return;
    }
    if (evhttp_parse_query_str(q + 1, &params) != 0) {
        evhttp_clear_headers(&params);
        f->st.rejected++;
        reply(req, 403, "Forbidden", "");
        return;
    }
    const char *mode = evhttp_find_header(&params, "hub.mode");
    const char *token = evhttp_find_header(&params, "hub.verify_token");
    const char *challenge = evhttp_find_header(&params, "hub.challenge");
    int ok = mode && strcmp(mode, "subscribe") == 0 && token && challenge &&
             strlen(token) == strlen(f->verify) &&
             CRYPTO_memcmp(token, f->verify, strlen(token)) == 0 && *challenge &&
             strlen(challenge) <= CHALLENGE_MAX;
    for (const char *c = challenge; ok && *c; c++) {
        ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
    }
    if (ok) {
        f->st.verified++;
        reply(req, 200, "OK", challenge);
    } else {
        f->st.rejected++;
        f->st.src.errors++;
        bv_log(BV_LOG_WARN, f->name, "verification refused (wrong or missing token)");
        reply(req, 403, "Forbidden", "");
    }
    evhttp_clear_headers(&params);
}

static int signature_ok(bv_facebook *f, const unsigned char *body, size_t len, const char *hdr)
{
    if (hdr == NULL || strncmp(hdr, "sha256=", 7) != 0 || strlen(hdr + 7) != 64) {
        return 0;
    }
    unsigned char want[32], got[EVP_MAX_MD_SIZE];
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hdr[7 + 2 * i + k];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0) {
                return 0;
            }
            v = v * 16 + (unsigned)d;
        }
        want[i] = (unsigned char)v;
    }
    unsigned int glen = 0;
    if (HMAC(EVP_sha256(), f->secret, (int)strlen(f->secret), body, len, got, &glen) == NULL ||
        glen != 32) {
        return 0;
    }
    return CRYPTO_memcmp(want, got, 32) == 0;
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++) {
        h = (h ^ (unsigned char)*s) * 0x100000001B3ULL;
    }
    return (h ^ 0xff) * 0x100000001B3ULL;
}

/* 1 when the change was handed on before (a retry from Meta); remembers it otherwise. */
static int seen_before(bv_facebook *f, const char *entry, yajl_val change)
{
    const char *vp[] = {"value", "post_id", NULL}, *cp[] = {"value", "comment_id", NULL};
    const char *bp[] = {"value", "verb", NULL}, *tp[] = {"value", "created_time", NULL};
    yajl_val post = yajl_tree_get(change, vp, yajl_t_any);
    yajl_val comment = yajl_tree_get(change, cp, yajl_t_any);
    yajl_val verb = yajl_tree_get(change, bp, yajl_t_string);
    yajl_val t = yajl_tree_get(change, tp, yajl_t_any);
    uint64_t h = fnv(0xcbf29ce484222325ULL, entry);
    h = fnv(h, post && YAJL_IS_STRING(post) ? YAJL_GET_STRING(post) : "");
    h = fnv(h, comment && YAJL_IS_STRING(comment) ? YAJL_GET_STRING(comment) : "");
    h = fnv(h, verb ? YAJL_GET_STRING(verb) : "");
    h = fnv(h, t && YAJL_IS_NUMBER(t) ? YAJL_GET_NUMBER(t) : "");
    for (size_t i = 0; i < f->seen_n; i++) {
        if (f->seen[i] == h) {
            return 1;
        }
    }
    f->seen[f->seen_head] = h;
    f->seen_head = (f->seen_head + 1) % SEEN_MAX;
    if (f->seen_n < SEEN_MAX) {
        f->seen_n++;
    }
    return 0;
}

static void deliver(bv_facebook *f, char *json)
{
    char err[128];
    yajl_val root = yajl_tree_parse(json, err, sizeof err);
    const char *ep[] = {"entry", NULL};
    yajl_val entries = root ? yajl_tree_get(root, ep, yajl_t_array) : NULL;
    if (entries == NULL) {
        f->st.src.skipped++;
        if (root) {
            yajl_tree_free(root);
        }
        return;
    }
    for (size_t i = 0; i < YAJL_GET_ARRAY(entries)->len; i++) {
        yajl_val entry = YAJL_GET_ARRAY(entries)->values[i];
        const char *ip[] = {"id", NULL}, *chp[] = {"changes", NULL};
        yajl_val id = yajl_tree_get(entry, ip, yajl_t_any);
        yajl_val changes = yajl_tree_get(entry, chp, yajl_t_array);
        const char *eid = id && YAJL_IS_STRING(id) ? YAJL_GET_STRING(id) : "";
        for (size_t k = 0; changes && k < YAJL_GET_ARRAY(changes)->len; k++) {
            yajl_val change = YAJL_GET_ARRAY(changes)->values[k];
            if (seen_before(f, eid, change)) {
                f->st.duplicates++;
                continue;
            }
            bv_post post;
            bv_skip why;
            if (bv_codec_decode_parsed(f->codec, BV_PLATFORM_FACEBOOK, change, &post, &why) !=
                BV_DECODE_POST) {
                f->st.src.skipped++;
                continue;
            }
            int64_t now = bv_now_ms(f->clock);
            if (post.received_ms == 0) {
                post.received_ms = now;
            }
            if (post.kind == BV_POST_DELETE) {
                f->st.src.deletes++;
            } else {
                f->st.src.posts++;
            }
            f->st.src.last_post_ms = now;
            bv_raw raw = {.tree = change};
            f->post(f->arg, &post, &raw);
        }
    }
    yajl_tree_free(root);
}

static void on_post(bv_facebook *f, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *enc = evhttp_find_header(h, "Content-Encoding");
    if (enc && strcasecmp(enc, "identity") != 0) {
        f->st.rejected++;
        f->st.src.errors++;
        reply(req, 415, "Unsupported Media Type", "");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    unsigned char *body = malloc(len + 1);
    if (body == NULL) {
        reply(req, 503, "Service Unavailable", "");
        return;
    }
    evbuffer_copyout(in, body, len);
    body[len] = '\0';
    f->st.src.bytes += len;
    if (!signature_ok(f, body, len, evhttp_find_header(h, "X-Hub-Signature-256"))) {
        f->st.rejected++;
        f->st.src.errors++;
        bv_log(BV_LOG_WARN, f->name, "a POST without a valid X-Hub-Signature-256 refused");
        reply(req, 403, "Forbidden", "");
        free(body);
        return;
    }
    f->st.deliveries++;
    reply(req, 200, "OK", "EVENT_RECEIVED"); /* at once: Meta retries slow answers */
    deliver(f, (char *)body);
    free(body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    bv_facebook *f = arg;
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
        on_verify(f, req);
        break;
    case EVHTTP_REQ_POST:
        on_post(f, req);
        break;
    default:
        reply(req, 405, "Method Not Allowed", "");
    }
}

bv_facebook *bv_facebook_new(struct event_base *base, const bv_facebook_opts *o, char *errstr,
                             size_t errlen)
{
    if (o->listen == NULL || o->app_secret == NULL || !*o->app_secret || o->verify_token == NULL ||
        !*o->verify_token || o->codec == NULL || o->post == NULL) {
        snprintf(errstr, errlen, "facebook: needs listen, an app secret and a verify token");
        return NULL;
    }
    const char *colon = strrchr(o->listen, ':');
    char host[256];
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon == o->listen || (size_t)(colon - o->listen) >= sizeof host ||
        end == colon + 1 || *end || port < 0 || port > 65535) {
        snprintf(errstr, errlen, "facebook: listen takes HOST:PORT, e.g. 127.0.0.1:8443");
        return NULL;
    }
    memcpy(host, o->listen, (size_t)(colon - o->listen));
    host[colon - o->listen] = '\0';
    bv_facebook *f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    f->name = strdup(o->name ? o->name : "facebook");
    f->secret = strdup(o->app_secret);
    f->verify = strdup(o->verify_token);
    f->max_body = o->max_body ? o->max_body : (1u << 20);
    f->clock = o->clock ? o->clock : bv_clock_system();
    f->codec = o->codec;
    f->post = o->post;
    f->arg = o->arg;
    f->http = evhttp_new(base);
    if (!f->name || !f->secret || !f->verify || !f->http) {
        snprintf(errstr, errlen, "out of memory");
        bv_facebook_free(f);
        return NULL;
    }
    evhttp_set_max_body_size(f->http, (ev_ssize_t)f->max_body); /* larger: 413 */
    evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(f->http, on_request, f);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(f->http, host, (uint16_t)port);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (bs == NULL ||
        getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(errstr, errlen, "facebook: cannot listen on %s", o->listen);
        bv_facebook_free(f);
        return NULL;
    }
    f->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return f;
}

int bv_facebook_port(const bv_facebook *f)
{
    return f->port;
}

void bv_facebook_stats_get(const bv_facebook *f, bv_facebook_stats *out)
{
    *out = f->st;
    out->src.state = "listening";
}

void bv_facebook_free(bv_facebook *f)
{
    if (f == NULL) {
        return;
    }
    if (f->http) {
        evhttp_free(f->http);
    }
    if (f->secret) {
        OPENSSL_cleanse(f->secret, strlen(f->secret));
    }
    if (f->verify) {
        OPENSSL_cleanse(f->verify, strlen(f->verify));
    }
    free(f->secret);
    free(f->verify);
    free(f->name);
    free(f);
}
