/* control.c: acknowledgements and silences; see control.h. Records stay in memory: an event has
 * a few hundred alerts at most, and a silence per rule. */
#include "alert/control.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define CONTROL_MAX_LINE 8192

typedef struct ack_rec {
    char *id, *by;
    int64_t at_ms;
} ack_rec;

struct bv_control {
    char *path;
    bv_control_ack_cb *on_ack;
    void *arg;
    int reading_initial;
    off_t offset;
    ino_t ino;
    bv_buf partial; /* a line whose end is not written yet */
    int overlong;   /* the line being read is longer than CONTROL_MAX_LINE: skipped */
    ack_rec *acks;
    size_t nacks, acap;
    bv_silence *sil; /* one per rule: the latest record */
    size_t nsil, scap;
};

static char *path_of(const char *dir, const char *event)
{
    size_t n = strlen(dir) + strlen(event) + 8;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s/%s.jsonl", dir, event);
    }
    return p;
}

static const char *str(yajl_val v, const char *k)
{
    const char *p[] = {k, NULL};
    yajl_val x = yajl_tree_get(v, p, yajl_t_string);
    return x ? YAJL_GET_STRING(x) : NULL;
}

static int64_t num(yajl_val v, const char *k)
{
    const char *p[] = {k, NULL};
    yajl_val x = yajl_tree_get(v, p, yajl_t_number);
    return x && YAJL_IS_INTEGER(x) ? YAJL_GET_INTEGER(x) : -1;
}

static int add_ack(bv_control *c, const char *id, const char *by, int64_t at)
{
    for (size_t i = 0; i < c->nacks; i++) {
        if (strcmp(c->acks[i].id, id) == 0) {
            return 0; /* the first ack counts */
        }
    }
    if (c->nacks == c->acap) {
        size_t nc = c->acap ? c->acap * 2 : 32;
        ack_rec *na = realloc(c->acks, nc * sizeof *na);
        if (na == NULL) {
            return BV_ENOMEM;
        }
        c->acks = na;
        c->acap = nc;
    }
    ack_rec *a = &c->acks[c->nacks];
    a->id = strdup(id);
    a->by = strdup(by);
    a->at_ms = at;
    if (a->id == NULL || a->by == NULL) {
        free(a->id);
        free(a->by);
        return BV_ENOMEM;
    }
    c->nacks++;
    if (!c->reading_initial && c->on_ack) {
        c->on_ack(c->arg, a->id, a->by, at);
    }
    return 1;
}

static int set_silence(bv_control *c, const char *rule, int64_t until, const char *by,
                       const char *reason, int64_t at)
{
    bv_silence *s = NULL;
    for (size_t i = 0; i < c->nsil; i++) {
        if (strcmp(c->sil[i].rule, rule) == 0) {
            s = &c->sil[i];
        }
    }
    if (s == NULL) {
        if (c->nsil == c->scap) {
            size_t nc = c->scap ? c->scap * 2 : 16;
            bv_silence *ns = realloc(c->sil, nc * sizeof *ns);
            if (ns == NULL) {
                return BV_ENOMEM;
            }
            c->sil = ns;
            c->scap = nc;
        }
        s = &c->sil[c->nsil];
        memset(s, 0, sizeof *s);
        if ((s->rule = strdup(rule)) == NULL) {
            return BV_ENOMEM;
        }
        c->nsil++;
    }
    free(s->by);
    free(s->reason);
    s->by = strdup(by);
    s->reason = strdup(reason ? reason : "");
    s->at_ms = at;
    s->until_ms = until;
    return s->by && s->reason ? 1 : BV_ENOMEM;
}

/* 1 (a record), 0 (skipped), BV_ENOMEM. */
static int apply(bv_control *c, const char *line)
{
    yajl_val v = yajl_tree_parse(line, NULL, 0);
    if (v == NULL) {
        return 0;
    }
    int rc = 0;
    const char *op = str(v, "op"), *by = str(v, "by");
    int64_t at = num(v, "at");
    if (op && by && at >= 0) {
        if (strcmp(op, "ack") == 0 && str(v, "id")) {
            rc = add_ack(c, str(v, "id"), by, at);
        } else if (strcmp(op, "silence") == 0 && str(v, "rule") && num(v, "until") > 0) {
            rc = set_silence(c, str(v, "rule"), num(v, "until"), by, str(v, "reason"), at);
        } else if (strcmp(op, "unsilence") == 0 && str(v, "rule")) {
            rc = set_silence(c, str(v, "rule"), 0, by, NULL, at);
        }
    }
    yajl_tree_free(v);
    return rc;
}

int bv_control_feed(bv_control *c, const char *data, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n') {
            if (c->partial.len < CONTROL_MAX_LINE) {
                bv_buf_putc(&c->partial, data[i]);
            } else {
                c->overlong = 1;
            }
            continue;
        }
        if (c->partial.len > 0 && !c->overlong && c->partial.p) {
            int a = apply(c, c->partial.p);
            if (a == BV_ENOMEM) {
                return -1;
            }
            n += a;
        }
        c->overlong = 0;
        bv_buf_reset(&c->partial);
    }
    return n;
}

int bv_control_poll(bv_control *c)
{
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    if (st.st_ino != c->ino || st.st_size < c->offset) {
        c->ino = st.st_ino; /* a new file: read it from the start (records repeat harmlessly) */
        c->offset = 0;
        c->overlong = 0;
        bv_buf_reset(&c->partial);
    }
    int n = 0;
    char buf[65536];
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof buf, c->offset);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        c->offset += r;
        int k = bv_control_feed(c, buf, (size_t)r);
        if (k < 0) {
            close(fd);
            return -1;
        }
        n += k;
    }
    close(fd);
    return n;
}

bv_control *bv_control_open(const char *dir, const char *event, bv_control_ack_cb *on_ack,
                            void *arg)
{
    bv_control *c = calloc(1, sizeof *c);
    if (c == NULL || (c->path = path_of(dir, event)) == NULL) {
        free(c);
        return NULL;
    }
    c->on_ack = on_ack;
    c->arg = arg;
    c->reading_initial = 1;
    bv_control_poll(c);
    c->reading_initial = 0;
    return c;
}

void bv_control_set_ack_cb(bv_control *c, bv_control_ack_cb *on_ack, void *arg)
{
    c->on_ack = on_ack;
    c->arg = arg;
}

void bv_control_free(bv_control *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nacks; i++) {
        free(c->acks[i].id);
        free(c->acks[i].by);
    }
    free(c->acks);
    for (size_t i = 0; i < c->nsil; i++) {
        free(c->sil[i].rule);
        free(c->sil[i].by);
        free(c->sil[i].reason);
    }
    free(c->sil);
    bv_buf_free(&c->partial);
    free(c->path);
    free(c);
}

const char *bv_control_acked(const bv_control *c, const char *id)
{
    for (size_t i = 0; i < c->nacks; i++) {
        if (strcmp(c->acks[i].id, id) == 0) {
            return c->acks[i].by;
        }
    }
    return NULL;
}

const bv_silence *bv_control_silenced(const bv_control *c, const char *rule, int64_t now_ms)
{
    for (size_t i = 0; i < c->nsil; i++) {
        if (strcmp(c->sil[i].rule, rule) == 0 && c->sil[i].until_ms > now_ms) {
            return &c->sil[i];
        }
    }
    return NULL;
}

const bv_silence *bv_control_silences(const bv_control *c, size_t *n)
{
    *n = c->nsil;
    return c->sil;
}

static int append(const char *dir, const char *event, bv_buf *b, char *err, size_t errlen)
{
    char *path = path_of(dir, event);
    int rc = -1;
    if (b->p == NULL || path == NULL) {
        snprintf(err, errlen, "out of memory");
    } else if (b->len > CONTROL_MAX_LINE) {
        snprintf(err, errlen, "the record is longer than %d bytes (shorten the reason)",
                 CONTROL_MAX_LINE);
    } else if (bv_file_mkdirs(dir) != 0 || bv_file_append_locked(path, b->p, b->len, 1) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else {
        rc = 0;
    }
    free(path);
    bv_buf_free(b);
    return rc;
}

void bv_control_format_ack(const char *id, const char *by, int64_t now_ms, bv_buf *b)
{
    bv_buf_puts(b, "{\"op\":\"ack\",\"id\":\"");
    bv_buf_json_str(b, id, strlen(id));
    bv_buf_puts(b, "\",\"by\":\"");
    bv_buf_json_str(b, by, strlen(by));
    bv_buf_printf(b, "\",\"at\":%lld}\n", (long long)now_ms);
}

void bv_control_format_silence(const char *rule, int64_t until_ms, const char *by,
                               const char *reason, int64_t now_ms, bv_buf *b)
{
    bv_buf_printf(b, "{\"op\":\"%s\",\"rule\":\"", until_ms ? "silence" : "unsilence");
    bv_buf_json_str(b, rule, strlen(rule));
    bv_buf_puts(b, "\",\"by\":\"");
    bv_buf_json_str(b, by, strlen(by));
    if (until_ms) {
        bv_buf_printf(b, "\",\"until\":%lld,\"reason\":\"", (long long)until_ms);
        bv_buf_json_str(b, reason ? reason : "", reason ? strlen(reason) : 0);
    }
    bv_buf_printf(b, "\",\"at\":%lld}\n", (long long)now_ms);
}

int bv_control_append_ack(const char *dir, const char *event, const char *id, const char *by,
                          int64_t now_ms, char *err, size_t errlen)
{
    bv_buf b = BV_BUF_INIT;
    bv_control_format_ack(id, by, now_ms, &b);
    return append(dir, event, &b, err, errlen);
}

int bv_control_append_silence(const char *dir, const char *event, const char *rule,
                              int64_t until_ms, const char *by, const char *reason, int64_t now_ms,
                              char *err, size_t errlen)
{
    bv_buf b = BV_BUF_INIT;
    bv_control_format_silence(rule, until_ms, by, reason, now_ms, &b);
    return append(dir, event, &b, err, errlen);
}
