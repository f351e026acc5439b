/* reddit.c: the subreddit listing poller; see reddit.h. One request at a time; the headers give
 * the rate-limit budget, the body the children (newest first). */
#include "source/reddit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "source/source_util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define SEEN_MAX 1024
#define NAME_MAX_LEN 64

struct bv_reddit {
    bv_curl_loop *cl;
    char *name, *url, *cursor_path;
    struct curl_slist *headers;
    int64_t poll_ms, backoff_min_ms, backoff_max_ms, wait_ms, second_ms;
    size_t max_body;
    const bv_clock *clock;
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
    CURL *easy;
    char curl_err[CURL_ERROR_SIZE];
    int running, too_big;
    bv_buf body;
    double remaining; /* rate-limit budget from the last headers; < 0 when none came */
    double reset_s;
    char cursor[NAME_MAX_LEN + 1]; /* newest fullname seen */
    int empty_in_a_row;
    char seen[SEEN_MAX][NAME_MAX_LEN + 1]; /* recent names, a ring */
    size_t seen_head, seen_n;
    struct event *poll_ev;
    const char *state;
    bv_source_stats st;
};

static void poll_now(bv_reddit *r);

static void poll_in(bv_reddit *r, int64_t ms, const char *state)
{
    r->state = state;
    r->st.next_wait_ms = ms;
    bv_source_arm(r->poll_ev, ms);
}

/* The wait before the next regular poll: poll_ms, or longer when the budget says so. */
static int64_t paced(const bv_reddit *r)
{
    int64_t w = r->poll_ms;
    if (r->remaining >= 0 && r->reset_s >= 0) {
        /* both come from on_header: finite, 0..1e7 */
        double need = r->remaining < 1 ? r->reset_s * (double)r->second_ms + 1
                                       : r->reset_s * (double)r->second_ms / r->remaining;
        if (need > (double)r->backoff_max_ms) {
            need = (double)r->backoff_max_ms; /* a reset beyond reason: the longest wait */
        }
        w = (int64_t)need > w ? (int64_t)need : w;
    }
    return w;
}

static void back_off(bv_reddit *r, int refused)
{
    int64_t w = bv_source_backoff(&r->wait_ms, r->backoff_min_ms, r->backoff_max_ms, refused);
    poll_in(r, w, refused ? "failed" : "backing off");
}

static void save_cursor(bv_reddit *r)
{
    int e = bv_source_state_save(r->cursor_path, r->cursor);
    if (e != 0) {
        r->st.errors++;
        bv_log(BV_LOG_ERROR, r->name, "cannot save the cursor in %s: %s", r->cursor_path,
               strerror(e));
    }
}

static int name_ok(const char *s, size_t n)
{
    if (n < 4 || n > NAME_MAX_LEN || s[0] != 't' || s[2] != '_') {
        return 0;
    }
    for (size_t i = 3; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) {
            return 0;
        }
    }
    return 1;
}

static void load_cursor(bv_reddit *r)
{
    char buf[NAME_MAX_LEN + 1];
    if (bv_source_state_load(r->cursor_path, buf, sizeof buf) == 0 && name_ok(buf, strlen(buf))) {
        memcpy(r->cursor, buf, strlen(buf) + 1);
    }
}

static int seen_before(bv_reddit *r, const char *name)
{
    for (size_t i = 0; i < r->seen_n; i++) {
        if (strcmp(r->seen[i], name) == 0) {
            return 1;
        }
    }
    snprintf(r->seen[r->seen_head], sizeof r->seen[r->seen_head], "%s", name);
    r->seen_head = (r->seen_head + 1) % SEEN_MAX;
    if (r->seen_n < SEEN_MAX) {
        r->seen_n++;
    }
    return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    bv_reddit *r = arg;
    size_t len = size * n;
    char line[128];
    if (len >= sizeof line) {
        return len;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    char *colon = strchr(line, ':');
    if (colon == NULL) {
        return len;
    }
    *colon = '\0';
    char *end = NULL;
    double v = strtod(colon + 1, &end); /* "988.0": a float string */
    if (end == colon + 1 || !isfinite(v) || v < 0 || v > 1e7) {
        return len; /* not a number we can use: as if the header were missing */
    }
    if (strcasecmp(line, "x-ratelimit-remaining") == 0) {
        r->remaining = v;
    } else if (strcasecmp(line, "x-ratelimit-reset") == 0) {
        r->reset_s = v;
    }
    return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    bv_reddit *r = arg;
    size_t len = size * n;
    r->st.bytes += len;
    if (r->body.len + len > r->max_body) {
        r->too_big = 1;
        return 0;
    }
    return bv_buf_append(&r->body, p, len) == 0 ? len : 0;
}

/* Children newest first: hands them on oldest first, and keeps the newest as the cursor. */
static int handle_listing(bv_reddit *r, yajl_val root)
{
    const char *chp[] = {"data", "children", NULL};
    yajl_val children = yajl_tree_get(root, chp, yajl_t_array);
    if (children == NULL) {
        return BV_EINVAL;
    }
    size_t n = YAJL_GET_ARRAY(children)->len;
    for (size_t k = n; k-- > 0;) {
        yajl_val child = YAJL_GET_ARRAY(children)->values[k];
        const char *np[] = {"data", "name", NULL};
        yajl_val nm = yajl_tree_get(child, np, yajl_t_string);
        const char *name = nm ? YAJL_GET_STRING(nm) : NULL;
        if (name == NULL || !name_ok(name, strlen(name)) || seen_before(r, name)) {
            r->st.skipped += name == NULL || !name_ok(name, strlen(name));
            continue;
        }
        bv_post post;
        bv_skip why;
        if (bv_codec_decode_parsed(r->codec, BV_PLATFORM_REDDIT, child, &post, &why) !=
            BV_DECODE_POST) {
            r->st.skipped++;
            continue;
        }
        int64_t now = bv_now_ms(r->clock);
        if (post.received_ms == 0) {
            post.received_ms = now;
        }
        r->st.posts++;
        r->st.last_post_ms = now;
        bv_raw raw = {.tree = child};
        r->post(r->arg, &post, &raw);
    }
    if (n > 0) {
        const char *np[] = {"data", "name", NULL};
        yajl_val nm = yajl_tree_get(YAJL_GET_ARRAY(children)->values[0], np, yajl_t_string);
        const char *newest = nm ? YAJL_GET_STRING(nm) : NULL;
        if (newest && name_ok(newest, strlen(newest)) && strcmp(newest, r->cursor) != 0) {
            snprintf(r->cursor, sizeof r->cursor, "%s", newest);
            save_cursor(r);
        }
        r->empty_in_a_row = 0;
    } else {
        r->empty_in_a_row++;
    }
    return BV_OK;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    bv_reddit *r = arg;
    (void)easy;
    r->running = 0;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->st.last_status = status;
    if (rc != CURLE_OK) {
        r->st.errors++;
        bv_source_set_error(&r->st, r->too_big       ? "response larger than max_body"
                                    : r->curl_err[0] ? r->curl_err
                                                     : curl_easy_strerror(rc));
        bv_log(BV_LOG_WARN, r->name, "%s", r->st.last_error);
        back_off(r, 0);
        return;
    }
    if (status == 200 && bv_buf_append(&r->body, "\0", 1) == 0) {
        char err[128];
        yajl_val root = yajl_tree_parse(r->body.p, err, sizeof err);
        int ok = root && handle_listing(r, root) == BV_OK;
        if (root) {
            yajl_tree_free(root);
        }
        if (ok) {
            r->wait_ms = 0;
            r->state = "streaming";
            poll_in(r, paced(r), "streaming");
            return;
        }
        r->st.errors++;
        bv_source_set_error(&r->st, "HTTP 200 without a listing");
        back_off(r, 0);
        return;
    }
    r->st.errors++;
    char detail[64];
    snprintf(detail, sizeof detail, "HTTP %ld", status);
    bv_source_set_error(&r->st, detail);
    if (status == 429) {
        double rs =
            r->reset_s >= 0 ? r->reset_s * (double)r->second_ms + 1 : 60.0 * (double)r->second_ms;
        int64_t w = rs > (double)r->backoff_max_ms ? r->backoff_max_ms : (int64_t)rs;
        bv_log(BV_LOG_WARN, r->name, "%s (rate limited); waiting for the reset", detail);
        poll_in(r, w, "backing off");
        return;
    }
    int refused = status == 401 || status == 403 || status == 404;
    bv_log(refused ? BV_LOG_ERROR : BV_LOG_WARN, r->name, "%s%s", detail,
           refused ? " (private, banned or missing subreddit, or a bad token)" : "");
    back_off(r, refused);
}

static void poll_now(bv_reddit *r)
{
    char url[4500];
    const char *sep = strchr(r->url, '?') ? "&" : "?";
    int plain = r->cursor[0] == '\0' || r->empty_in_a_row >= 3;
    if (plain) {
        r->empty_in_a_row = 0; /* a deleted anchor: one plain request, names deduplicate */
        snprintf(url, sizeof url, "%s%slimit=100&raw_json=1", r->url, sep);
    } else {
        snprintf(url, sizeof url, "%s%slimit=100&raw_json=1&before=%s", r->url, sep, r->cursor);
    }
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    bv_buf_reset(&r->body);
    r->too_big = 0;
    r->curl_err[0] = '\0';
    r->remaining = r->reset_s = -1;
    if (bv_curl_loop_add(r->cl, r->easy, on_done, r) != BV_OK) {
        bv_source_set_error(&r->st, "cannot start a transfer");
        back_off(r, 0);
        return;
    }
    r->running = 1;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    poll_now(arg);
}

bv_reddit *bv_reddit_new(struct event_base *base, bv_curl_loop *cl, const bv_reddit_opts *o,
                         char *errstr, size_t errlen)
{
    if (!bv_source_url_ok(o->url) || o->state_dir == NULL || o->codec == NULL || o->post == NULL) {
        snprintf(errstr, errlen, "reddit: needs an http(s):// listing url and a state_dir");
        return NULL;
    }
    if (!bv_source_name_ok(o->name)) {
        snprintf(errstr, errlen, "reddit: a source name holds letters, digits, - _ . only");
        return NULL;
    }
    bv_reddit *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    r->cl = cl;
    r->name = strdup(o->name ? o->name : "reddit");
    r->url = strdup(o->url);
    r->cursor_path =
        r->name ? bv_source_state_path(o->state_dir, "reddit", r->name, "cursor") : NULL;
    r->poll_ms = o->poll_ms > 0 ? o->poll_ms : 60000;
    r->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : 1000;
    r->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 600000;
    r->second_ms = o->second_ms > 0 ? o->second_ms : 1000;
    r->max_body = o->max_body ? o->max_body : (8u << 20);
    r->clock = o->clock ? o->clock : bv_clock_system();
    r->codec = o->codec;
    r->post = o->post;
    r->arg = o->arg;
    r->state = "connecting";
    r->easy = curl_easy_init();
    r->poll_ev = evtimer_new(base, on_poll, r);
    r->headers = curl_slist_append(NULL, "Accept: application/json");
    if (r->headers && o->token && *o->token) {
        r->headers = bv_source_auth_header(r->headers, "bearer", o->token);
    }
    if (!r->name || !r->url || !r->cursor_path || !r->easy || !r->poll_ev || !r->headers) {
        snprintf(errstr, errlen, "out of memory");
        bv_reddit_free(r);
        return NULL;
    }
    load_cursor(r);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    bv_source_easy_defaults(r->easy, r->curl_err);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 30000L);
    poll_now(r);
    return r;
}

void bv_reddit_stats_get(const bv_reddit *r, bv_source_stats *out)
{
    *out = r->st;
    out->state = r->state;
}

const char *bv_reddit_cursor(const bv_reddit *r)
{
    return r->cursor;
}

void bv_reddit_free(bv_reddit *r)
{
    if (r == NULL) {
        return;
    }
    if (r->running) {
        bv_curl_loop_remove(r->cl, r->easy);
    }
    if (r->easy) {
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    if (r->poll_ev) {
        event_free(r->poll_ev);
    }
    bv_buf_free(&r->body);
    free(r->name);
    free(r->url);
    free(r->cursor_path);
    free(r);
}
