/* audit.c: the audit log; see audit.h. */
#include "alert/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define AUDIT_MAX_BYTES (1024u * 1024 * 1024)

char *bv_audit_path(const char *dir, const char *event)
{
    size_t n = strlen(dir) + strlen(event) + 8;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s/%s.jsonl", dir, event);
    }
    return p;
}

static void kv(bv_buf *b, const char *k, const char *v)
{
    if (v) {
        bv_buf_printf(b, ",\"%s\":\"", k);
        bv_buf_json_str(b, v, strlen(v));
        bv_buf_putc(b, '"');
    }
}

int bv_audit_format(const bv_audit_rec *r, bv_buf *out)
{
    char t[BV_TIME_ISO_LEN];
    bv_buf *b = out;
    size_t start = b->len;
    bv_buf_printf(b, "{\"at\":\"%s\"", bv_time_format_iso8601(r->at_ms, t));
    kv(b, "event", r->event);
    kv(b, "what", r->what);
    kv(b, "id", r->id);
    kv(b, "rule", r->rule);
    kv(b, "key", r->key);
    kv(b, "target", r->target);
    if (r->attempts) {
        bv_buf_printf(b, ",\"attempts\":%u", r->attempts);
    }
    kv(b, "by", r->by);
    kv(b, "reason", r->reason);
    if (r->until_ms) {
        kv(b, "until", bv_time_format_iso8601(r->until_ms, t));
    }
    if (r->drill) {
        bv_buf_puts(b, ",\"drill\":true");
    }
    bv_buf_puts(b, "}\n");
    return b->p && b->len > start ? BV_OK : BV_ENOMEM;
}

int bv_audit_append(const char *dir, const bv_audit_rec *r, char *err, size_t errlen)
{
    bv_buf b = BV_BUF_INIT;
    bv_audit_format(r, &b);
    char *path = bv_audit_path(dir, r->event);
    int rc = -1;
    if (b.p == NULL || path == NULL) {
        snprintf(err, errlen, "out of memory");
    } else if (bv_file_mkdirs(dir) != 0 || bv_file_append_locked(path, b.p, b.len, 0) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else {
        rc = 0;
    }
    free(path);
    bv_buf_free(&b);
    return rc;
}

typedef struct retain_ctx {
    int64_t cutoff;
} retain_ctx;

/* The "at" of a line: it is written first, so the prefix is enough. */
static int line_time(const char *line, int64_t *ms)
{
    static const char pre[] = "{\"at\":\"";
    if (strncmp(line, pre, sizeof pre - 1) != 0) {
        return -1;
    }
    const char *s = line + sizeof pre - 1;
    const char *q = strchr(s, '"');
    return q ? bv_time_parse_iso8601(s, (size_t)(q - s), ms) : -1;
}

static int keep_line(void *arg, char *line)
{
    retain_ctx *c = arg;
    int64_t at;
    return line_time(line, &at) != 0 || at >= c->cutoff;
}

int bv_audit_retain(const char *dir, const char *event, int64_t now_ms, int64_t retention_ms,
                    size_t *dropped, char *err, size_t errlen)
{
    *dropped = 0;
    if (retention_ms <= 0) {
        return 0;
    }
    char *path = bv_audit_path(dir, event);
    if (path == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (bv_file_mkdirs(dir) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        free(path);
        return -1;
    }
    retain_ctx c = {now_ms - retention_ms};
    int rc = bv_file_rewrite_locked(path, AUDIT_MAX_BYTES, keep_line, &c, dropped);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    }
    free(path);
    return rc;
}

static const char *field(yajl_val v, const char *k)
{
    const char *p[] = {k, NULL};
    yajl_val x = yajl_tree_get(v, p, yajl_t_string);
    return x ? YAJL_GET_STRING(x) : NULL;
}

/* One readable line: "2026-04-27 16:02:11 CEST ack 4f0c... by politie-oc". */
static void text_line(const char *line, FILE *out)
{
    yajl_val v = bv_json_depth_ok(line, strlen(line), 4) ? yajl_tree_parse(line, NULL, 0) : NULL;
    int64_t at;
    const char *ts = v ? field(v, "at") : NULL;
    if (v == NULL || ts == NULL || bv_time_parse_iso8601(ts, strlen(ts), &at) != 0) {
        fprintf(out, "%s\n", line);
        yajl_tree_free(v);
        return;
    }
    char t[BV_TIME_ISO_LEN];
    const char *what = field(v, "what");
    fprintf(out, "%s %-9s", bv_time_format_amsterdam(at, t), what ? what : "?");
    static const char *const keys[] = {"rule", "id", "key", "target", "by", "until", "reason"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *x = field(v, keys[i]);
        if (x) {
            fprintf(out, " %s=%s", keys[i], x);
        }
    }
    const char *ap[] = {"attempts", NULL};
    yajl_val a = yajl_tree_get(v, ap, yajl_t_number);
    if (a && YAJL_IS_INTEGER(a)) {
        fprintf(out, " attempts=%lld", (long long)YAJL_GET_INTEGER(a));
    }
    const char *dp[] = {"drill", NULL};
    if (yajl_tree_get(v, dp, yajl_t_true)) {
        fputs(" [drill]", out);
    }
    fputc('\n', out);
    yajl_tree_free(v);
}

int bv_audit_export(const char *dir, const char *event, int text, FILE *out, size_t *n, char *err,
                    size_t errlen)
{
    *n = 0;
    char *path = bv_audit_path(dir, event);
    if (path == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    int ferr = 0;
    int rc = bv_file_read(path, AUDIT_MAX_BYTES, &buf, &len, &ferr);
    if (rc == BV_EIO && ferr == ENOENT) {
        snprintf(err, errlen, "%s: no audit record for event '%s'", path, event);
        free(path);
        return BV_ENOENT;
    }
    if (rc != BV_OK) {
        snprintf(err, errlen, "%s: %s", path, rc == BV_ELIMIT ? "too large" : strerror(ferr));
        free(path);
        return -1;
    }
    *n = bv_audit_print(buf, len, text, out);
    free(buf);
    free(path);
    if (fflush(out) != 0) {
        snprintf(err, errlen, "writing: %s", strerror(errno));
        return -1;
    }
    return 0;
}

size_t bv_audit_print(char *buf, size_t len, int text, FILE *out)
{
    size_t n = 0, off = 0;
    while (off < len) {
        char *nl = memchr(buf + off, '\n', len - off);
        if (nl == NULL) {
            break; /* a line being written */
        }
        *nl = '\0';
        if (nl > buf + off) {
            if (text) {
                text_line(buf + off, out);
            } else {
                fprintf(out, "%s\n", buf + off);
            }
            n++;
        }
        *nl = '\n';
        off = (size_t)(nl - buf) + 1;
    }
    return n;
}
