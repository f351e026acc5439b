/* telegram.c: getUpdates long polling; see telegram.h. One request at a time: poll, hand the
 * updates on, write the offset, poll again (at once when updates came, else after the long poll
 * returned empty: at once too, the server did the waiting). */
#include "source/telegram.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "source/source_util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

struct bv_telegram {
    bv_curl_loop *cl;
    char *name, *base_url, *token, *offset_path;
    int64_t poll_timeout_s, backoff_min_ms, backoff_max_ms, wait_ms, second_ms;
    size_t max_body;
    const bv_clock *clock;
    const bv_codec_ctx *codec;
    bv_post_cb *post;
    void *arg;
    CURL *easy;
    char curl_err[CURL_ERROR_SIZE];
    int running;
    int too_big;
    bv_buf body;
    int64_t offset; /* the next update id wanted; 0: none yet */
    struct event *retry_ev;
    const char *state;
    bv_source_stats st;
};

static void poll_now(bv_telegram *t);

static void wait_then_poll(bv_telegram *t, int64_t ms, const char *state)
{
    t->state = state;
    t->st.next_wait_ms = ms;
    bv_source_arm(t->retry_ev, ms);
}

static void back_off(bv_telegram *t, int refused)
{
    int64_t w = bv_source_backoff(&t->wait_ms, t->backoff_min_ms, t->backoff_max_ms, refused);
    wait_then_poll(t, w, refused ? "failed" : "backing off");
}

/* The offset file: one decimal number, written atomically. */
static void save_offset(bv_telegram *t)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, t->offset);
    int e = bv_source_state_save(t->offset_path, num);
    if (e != 0) {
        t->st.errors++;
        bv_log(BV_LOG_ERROR, t->name, "cannot save the offset in %s: %s", t->offset_path,
               strerror(e));
    }
}

static void load_offset(bv_telegram *t)
{
    char buf[32];
    if (bv_source_state_load(t->offset_path, buf, sizeof buf) != 0) {
        return; /* none yet */
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno == 0 && end != buf && *end == '\0' && v > 0) {
        t->offset = v;
    } else {
        bv_log(BV_LOG_WARN, t->name, "%s holds no offset; starting from the server's",
               t->offset_path);
    }
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    bv_telegram *t = arg;
    size_t len = size * n;
    t->st.bytes += len;
    if (t->body.len + len > t->max_body) {
        t->too_big = 1;
        return 0; /* aborts the transfer */
    }
    return bv_buf_append(&t->body, p, len) == 0 ? len : 0;
}

static void handle_updates(bv_telegram *t, yajl_val result)
{
    int64_t next = t->offset;
    for (size_t i = 0; i < YAJL_GET_ARRAY(result)->len; i++) {
        yajl_val u = YAJL_GET_ARRAY(result)->values[i];
        const char *idp[] = {"update_id", NULL};
        yajl_val id = yajl_tree_get(u, idp, yajl_t_number);
        if (id == NULL || !YAJL_IS_INTEGER(id) || YAJL_GET_INTEGER(id) <= 0 ||
            YAJL_GET_INTEGER(id) >= INT64_MAX) {
            t->st.skipped++; /* not an update id Telegram gives (they are positive) */
            continue;
        }
        if (YAJL_GET_INTEGER(id) + 1 > next) {
            next = YAJL_GET_INTEGER(id) + 1;
        }
        bv_post post;
        bv_skip why;
        if (bv_codec_decode_parsed(t->codec, BV_PLATFORM_TELEGRAM, u, &post, &why) !=
            BV_DECODE_POST) {
            t->st.skipped++;
            continue;
        }
        int64_t now = bv_now_ms(t->clock);
        if (post.received_ms == 0) {
            post.received_ms = now;
        }
        t->st.posts++;
        t->st.last_post_ms = now;
        bv_raw raw = {.tree = u};
        t->post(t->arg, &post, &raw);
    }
    if (next != t->offset) {
        t->offset = next; /* confirmed with the next poll; kept for a restart */
        save_offset(t);
    }
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    bv_telegram *t = arg;
    (void)easy;
    t->running = 0;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    t->st.last_status = status;
    if (rc != CURLE_OK) {
        t->st.errors++;
        bv_source_set_error(&t->st, t->too_big       ? "response larger than max_body"
                                    : t->curl_err[0] ? t->curl_err
                                                     : curl_easy_strerror(rc));
        bv_log(BV_LOG_WARN, t->name, "%s", t->st.last_error);
        back_off(t, 0);
        return;
    }
    if (bv_buf_append(&t->body, "\0", 1) != 0) {
        back_off(t, 0);
        return;
    }
    char err[128];
    yajl_val root = yajl_tree_parse(t->body.p, err, sizeof err);
    const char *okp[] = {"ok", NULL}, *resp[] = {"result", NULL}, *codep[] = {"error_code", NULL};
    const char *descp[] = {"description", NULL}, *rap[] = {"parameters", "retry_after", NULL};
    yajl_val ok = root ? yajl_tree_get(root, okp, yajl_t_any) : NULL;
    if (root && ok && YAJL_IS_TRUE(ok)) {
        yajl_val result = yajl_tree_get(root, resp, yajl_t_array);
        if (result) {
            handle_updates(t, result);
            t->wait_ms = 0;
            t->state = "streaming";
            t->st.next_wait_ms = 0;
            yajl_tree_free(root);
            poll_now(t); /* the long poll does the waiting */
            return;
        }
    }
    t->st.errors++;
    yajl_val code = root ? yajl_tree_get(root, codep, yajl_t_number) : NULL;
    yajl_val desc = root ? yajl_tree_get(root, descp, yajl_t_string) : NULL;
    yajl_val ra = root ? yajl_tree_get(root, rap, yajl_t_number) : NULL;
    long ec = code && YAJL_IS_INTEGER(code) ? (long)YAJL_GET_INTEGER(code) : status;
    char detail[200];
    snprintf(detail, sizeof detail, "HTTP %ld, error %ld: %s", status, ec,
             desc   ? YAJL_GET_STRING(desc)
             : root ? "no description"
                    : "not JSON");
    bv_source_set_error(&t->st, detail);
    if (ec == 429 || status == 429) {
        int64_t s =
            ra && YAJL_IS_INTEGER(ra) && YAJL_GET_INTEGER(ra) > 0 ? YAJL_GET_INTEGER(ra) : 30;
        bv_log(BV_LOG_WARN, t->name, "%s", detail);
        wait_then_poll(t, s * t->second_ms, "backing off");
    } else {
        int refused = ec == 401 || ec == 404 || ec == 409 || status == 401 || status == 409;
        bv_log(refused ? BV_LOG_ERROR : BV_LOG_WARN, t->name, "%s%s", detail,
               ec == 409 ? " (another poller with this token, or a webhook is set)" : "");
        back_off(t, refused);
    }
    if (root) {
        yajl_tree_free(root);
    }
}

static void poll_now(bv_telegram *t)
{
    char url[4600];
    if (t->offset > 0) {
        snprintf(url, sizeof url,
                 "%s/bot%s/getUpdates?offset=%" PRId64 "&timeout=%" PRId64
                 "&allowed_updates=%%5B%%22message%%22%%2C%%22channel_post%%22%%2C%%22edited_"
                 "message%%22%%2C%%22edited_channel_post%%22%%5D",
                 t->base_url, t->token, t->offset, t->poll_timeout_s);
    } else {
        snprintf(url, sizeof url,
                 "%s/bot%s/getUpdates?timeout=%" PRId64
                 "&allowed_updates=%%5B%%22message%%22%%2C%%22channel_post%%22%%2C%%22edited_"
                 "message%%22%%2C%%22edited_channel_post%%22%%5D",
                 t->base_url, t->token, t->poll_timeout_s);
    }
    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    memset(url, 0, sizeof url); /* it held the token */
    bv_buf_reset(&t->body);
    t->too_big = 0;
    t->curl_err[0] = '\0';
    if (bv_curl_loop_add(t->cl, t->easy, on_done, t) != BV_OK) {
        bv_source_set_error(&t->st, "cannot start a transfer");
        back_off(t, 0);
        return;
    }
    t->running = 1;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bv_telegram *t = arg;
    t->st.reconnects++;
    poll_now(t);
}

bv_telegram *bv_telegram_new(struct event_base *base, bv_curl_loop *cl, const bv_telegram_opts *o,
                             char *errstr, size_t errlen)
{
    if (!bv_source_url_ok(o->url) || o->token == NULL || !*o->token || o->state_dir == NULL ||
        o->codec == NULL || o->post == NULL) {
        snprintf(errstr, errlen, "telegram: needs an http(s):// url, a token and a state_dir");
        return NULL;
    }
    if (!bv_source_name_ok(o->name)) {
        snprintf(errstr, errlen, "telegram: a source name holds letters, digits, - _ . only");
        return NULL;
    }
    bv_telegram *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    t->cl = cl;
    t->name = strdup(o->name ? o->name : "telegram");
    t->base_url = strdup(o->url);
    t->token = strdup(o->token);
    t->offset_path =
        t->name ? bv_source_state_path(o->state_dir, "telegram", t->name, "offset") : NULL;
    t->poll_timeout_s = o->poll_timeout_s > 0 ? o->poll_timeout_s : 30;
    t->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : 1000;
    t->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 60000;
    t->second_ms = o->second_ms > 0 ? o->second_ms : 1000;
    t->max_body = o->max_body ? o->max_body : (8u << 20);
    t->clock = o->clock ? o->clock : bv_clock_system();
    t->codec = o->codec;
    t->post = o->post;
    t->arg = o->arg;
    t->state = "connecting";
    t->easy = curl_easy_init();
    t->retry_ev = evtimer_new(base, on_retry, t);
    if (!t->name || !t->base_url || !t->token || !t->offset_path || !t->easy || !t->retry_ev) {
        snprintf(errstr, errlen, "out of memory");
        bv_telegram_free(t);
        return NULL;
    }
    size_t bl = strlen(t->base_url);
    while (bl > 0 && t->base_url[bl - 1] == '/') {
        t->base_url[--bl] = '\0';
    }
    load_offset(t);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    bv_source_easy_defaults(t->easy, t->curl_err);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)((t->poll_timeout_s + 10) * 1000));
    poll_now(t);
    return t;
}

void bv_telegram_stats_get(const bv_telegram *t, bv_source_stats *out)
{
    *out = t->st;
    out->state = t->state;
}

int64_t bv_telegram_offset(const bv_telegram *t)
{
    return t->offset;
}

void bv_telegram_free(bv_telegram *t)
{
    if (t == NULL) {
        return;
    }
    if (t->running) {
        bv_curl_loop_remove(t->cl, t->easy);
    }
    if (t->easy) {
        curl_easy_cleanup(t->easy);
    }
    if (t->retry_ev) {
        event_free(t->retry_ev);
    }
    bv_buf_free(&t->body);
    if (t->token) {
        memset(t->token, 0, strlen(t->token));
    }
    free(t->token);
    free(t->name);
    free(t->base_url);
    free(t->offset_path);
    free(t);
}
