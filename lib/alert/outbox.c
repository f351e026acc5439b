/* outbox.c: the spool-file outbox; see outbox.h. The alert is kept as a JSON string inside the
 * put record, so it comes back byte for byte. Entries are found by a linear search: an event
 * has hundreds of alerts, not millions. */
#include "alert/outbox.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define OUTBOX_MAX_BYTES (512u * 1024 * 1024) /* a spool larger than this is refused */
#define OUTBOX_MAX_TARGETS 256

struct bv_outbox {
    char *path, *lock_path;
    int fd, lock_fd;
    int read_only;
    int memory; /* no file: an index of what is kept elsewhere */
    bv_out_entry **e;
    size_t n, cap;
    bv_outbox_stats st;
};

int bv_outbox_file_name(const char *ns, char *out, size_t n)
{
    size_t len = strlen(ns);
    if (len == 0 || len + 1 > n || len > 200) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = ns[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '/')) {
            return -1;
        }
        out[i] = c == '/' ? '+' : c;
    }
    out[len] = '\0';
    return out[0] == '.' ? -1 : 0;
}

static void entry_free(bv_out_entry *e)
{
    if (e == NULL) {
        return;
    }
    free(e->key);
    free(e->alert);
    for (size_t i = 0; i < e->ntargets; i++) {
        free(e->targets[i].id);
        free(e->targets[i].reason);
    }
    free(e->targets);
    free(e);
}

bv_out_entry *bv_outbox_find(const bv_outbox *ob, const char *key)
{
    for (size_t i = ob->n; i-- > 0;) {
        if (strcmp(ob->e[i]->key, key) == 0) {
            return ob->e[i];
        }
    }
    return NULL;
}

size_t bv_outbox_count(const bv_outbox *ob)
{
    return ob->n;
}

bv_out_entry *bv_outbox_get(const bv_outbox *ob, size_t i)
{
    return i < ob->n ? ob->e[i] : NULL;
}

const char *bv_outbox_path(const bv_outbox *ob)
{
    return ob->path;
}

void bv_outbox_stats_get(const bv_outbox *ob, bv_outbox_stats *out)
{
    *out = ob->st;
    out->entries = ob->n;
    out->pending_targets = 0;
    out->failed_targets = 0;
    for (size_t i = 0; i < ob->n; i++) {
        for (size_t k = 0; k < ob->e[i]->ntargets; k++) {
            out->pending_targets += ob->e[i]->targets[k].status == BV_OUT_PENDING;
            out->failed_targets += ob->e[i]->targets[k].status == BV_OUT_FAILED;
        }
    }
}

static int push(bv_outbox *ob, bv_out_entry *e)
{
    if (ob->n == ob->cap) {
        size_t nc = ob->cap ? ob->cap * 2 : 64;
        bv_out_entry **ne = realloc(ob->e, nc * sizeof *ne);
        if (ne == NULL) {
            return BV_ENOMEM;
        }
        ob->e = ne;
        ob->cap = nc;
    }
    ob->e[ob->n++] = e;
    return BV_OK;
}

static bv_out_entry *entry_new(const char *key, const char *alert, size_t alert_len, int64_t at,
                               int64_t deadline, const char *const *targets, size_t n)
{
    bv_out_entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    e->key = strdup(key);
    e->alert = malloc(alert_len + 1);
    e->targets = calloc(n ? n : 1, sizeof *e->targets);
    if (e->key == NULL || e->alert == NULL || e->targets == NULL) {
        entry_free(e);
        return NULL;
    }
    memcpy(e->alert, alert, alert_len);
    e->alert[alert_len] = '\0';
    e->alert_len = alert_len;
    e->at_ms = at;
    e->deadline_ms = deadline;
    for (size_t i = 0; i < n; i++) {
        if ((e->targets[i].id = strdup(targets[i])) == NULL) {
            entry_free(e);
            return NULL;
        }
        e->ntargets = i + 1;
    }
    e->npending = n;
    return e;
}

/* ---- records ---- */

static void put_record(bv_buf *b, const bv_out_entry *e)
{
    bv_buf_puts(b, "{\"op\":\"put\",\"key\":\"");
    bv_buf_json_str(b, e->key, strlen(e->key));
    bv_buf_printf(b, "\",\"at\":%lld,\"deadline\":%lld,\"targets\":[", (long long)e->at_ms,
                  (long long)e->deadline_ms);
    for (size_t i = 0; i < e->ntargets; i++) {
        bv_buf_puts(b, i ? ",\"" : "\"");
        bv_buf_json_str(b, e->targets[i].id, strlen(e->targets[i].id));
        bv_buf_putc(b, '"');
    }
    bv_buf_puts(b, "],\"alert\":\"");
    bv_buf_json_str(b, e->alert, e->alert_len);
    bv_buf_puts(b, "\"}\n");
}

static void mark_record(bv_buf *b, const bv_out_entry *e, const bv_out_target *t)
{
    bv_buf_printf(b, "{\"op\":\"%s\",\"key\":\"",
                  t->status == BV_OUT_DELIVERED ? "done" : "failed");
    bv_buf_json_str(b, e->key, strlen(e->key));
    bv_buf_puts(b, "\",\"target\":\"");
    bv_buf_json_str(b, t->id, strlen(t->id));
    bv_buf_printf(b, "\",\"at\":%lld,\"attempts\":%u", (long long)t->done_ms, t->attempts);
    if (t->status == BV_OUT_FAILED) {
        const char *r = t->reason ? t->reason : "";
        bv_buf_puts(b, ",\"reason\":\"");
        bv_buf_json_str(b, r, strlen(r));
        bv_buf_putc(b, '"');
    }
    bv_buf_puts(b, "}\n");
}

/* Appends p[0..n) to fd; on failure cuts the file back to where it was, so a fragment never
 * joins the next record. 0 or -1. */
static int append_record(int fd, const char *p, size_t n);

static int append_record(int fd, const char *p, size_t n)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -1;
    }
    if (bv_file_write_all(fd, p, n) != 0) {
        int e = errno;
        if (ftruncate(fd, st.st_size) != 0) {
            /* nothing more to do: the next open skips the torn line */
        }
        errno = e;
        return -1;
    }
    return 0;
}

static const char *get_str(yajl_val v, const char *k)
{
    const char *path[] = {k, NULL};
    yajl_val x = yajl_tree_get(v, path, yajl_t_string);
    return x ? YAJL_GET_STRING(x) : NULL;
}

static int get_int(yajl_val v, const char *k, int64_t *out)
{
    const char *path[] = {k, NULL};
    yajl_val x = yajl_tree_get(v, path, yajl_t_number);
    if (x == NULL || !YAJL_IS_INTEGER(x)) {
        return -1;
    }
    *out = YAJL_GET_INTEGER(x);
    return 0;
}

/* Applies one line. 0, -1 (does not parse or names nothing known), BV_ENOMEM. */
static int apply_line(bv_outbox *ob, const char *line)
{
    char ebuf[128];
    if (!bv_json_depth_ok(line, strlen(line), 4)) {
        return -1; /* our records nest 2 deep; yajl's tree free would recurse on deeper */
    }
    yajl_val v = yajl_tree_parse(line, ebuf, sizeof ebuf);
    if (v == NULL || !YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        return -1;
    }
    int rc = -1;
    const char *op = get_str(v, "op"), *key = get_str(v, "key");
    int64_t at = 0;
    if (op == NULL || key == NULL || get_int(v, "at", &at) != 0) {
        goto out;
    }
    if (strcmp(op, "put") == 0) {
        const char *alert = get_str(v, "alert");
        const char *tpath[] = {"targets", NULL};
        yajl_val tv = yajl_tree_get(v, tpath, yajl_t_array);
        int64_t deadline = 0;
        if (alert == NULL || tv == NULL || get_int(v, "deadline", &deadline) != 0 ||
            YAJL_GET_ARRAY(tv)->len > OUTBOX_MAX_TARGETS || bv_outbox_find(ob, key) != NULL) {
            goto out;
        }
        size_t nt = YAJL_GET_ARRAY(tv)->len;
        const char *ids[OUTBOX_MAX_TARGETS];
        for (size_t i = 0; i < nt; i++) {
            yajl_val t = YAJL_GET_ARRAY(tv)->values[i];
            if (!YAJL_IS_STRING(t)) {
                goto out;
            }
            ids[i] = YAJL_GET_STRING(t);
        }
        bv_out_entry *e = entry_new(key, alert, strlen(alert), at, deadline, ids, nt);
        if (e == NULL || push(ob, e) != BV_OK) {
            entry_free(e);
            rc = BV_ENOMEM;
            goto out;
        }
        rc = 0;
    } else if (strcmp(op, "done") == 0 || strcmp(op, "failed") == 0) {
        const char *target = get_str(v, "target");
        int64_t attempts = 0;
        bv_out_entry *e = bv_outbox_find(ob, key);
        if (target == NULL || e == NULL || get_int(v, "attempts", &attempts) != 0) {
            goto out;
        }
        for (size_t i = 0; i < e->ntargets; i++) {
            bv_out_target *t = &e->targets[i];
            if (strcmp(t->id, target) != 0) {
                continue;
            }
            if (t->status == BV_OUT_PENDING) {
                e->npending--;
            }
            t->status = op[0] == 'd' ? BV_OUT_DELIVERED : BV_OUT_FAILED;
            t->attempts = attempts > 0 && attempts < 1000000 ? (unsigned)attempts : 0;
            t->done_ms = at;
            free(t->reason);
            t->reason = NULL;
            const char *reason = get_str(v, "reason");
            if (op[0] == 'f' && (t->reason = strdup(reason ? reason : "")) == NULL) {
                rc = BV_ENOMEM;
                goto out;
            }
            rc = 0;
            break;
        }
    }
out:
    yajl_tree_free(v);
    return rc;
}

/* Reads the spool text into entries. */
static int load_text(bv_outbox *ob, char *text, size_t len)
{
    size_t off = 0;
    while (off < len) {
        char *nl = memchr(text + off, '\n', len - off);
        if (nl == NULL) {
            ob->st.torn_tail = 1; /* a write cut short: never acknowledged, so nothing is lost */
            break;
        }
        *nl = '\0';
        if (nl > text + off) {
            int rc = apply_line(ob, text + off);
            if (rc == BV_ENOMEM) {
                return rc;
            }
            if (rc != 0) {
                ob->st.skipped_lines++;
            }
        }
        off = (size_t)(nl - text) + 1;
    }
    return BV_OK;
}

/* Writes every entry anew to a temporary file and renames it over the spool. */
static int compact(bv_outbox *ob, int64_t now, int64_t retention)
{
    size_t keep = 0;
    for (size_t i = 0; i < ob->n; i++) {
        bv_out_entry *e = ob->e[i];
        if (retention > 0 && e->at_ms < now - retention) {
            entry_free(e);
            ob->st.dropped_old++;
        } else {
            ob->e[keep++] = e;
        }
    }
    ob->n = keep;
    bv_buf b = BV_BUF_INIT;
    for (size_t i = 0; i < ob->n; i++) {
        put_record(&b, ob->e[i]);
        for (size_t k = 0; k < ob->e[i]->ntargets; k++) {
            if (ob->e[i]->targets[k].status != BV_OUT_PENDING) {
                mark_record(&b, ob->e[i], &ob->e[i]->targets[k]);
            }
        }
    }
    if (ob->n > 0 && b.p == NULL) {
        return BV_ENOMEM;
    }
    size_t tl = strlen(ob->path) + 5;
    char *tmp = malloc(tl);
    if (tmp == NULL) {
        bv_buf_free(&b);
        return BV_ENOMEM;
    }
    snprintf(tmp, tl, "%s.tmp", ob->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = BV_EIO;
    if (fd >= 0 && bv_file_write_all(fd, b.p ? b.p : "", b.len) == 0 && fdatasync(fd) == 0 &&
        rename(tmp, ob->path) == 0) {
        rc = BV_OK;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (rc != BV_OK) {
        unlink(tmp);
    }
    free(tmp);
    bv_buf_free(&b);
    return rc;
}

static char *join(const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s/%s%s", dir, name, ext);
    }
    return p;
}

int bv_outbox_open(bv_outbox **out, const char *dir, const char *ns, const bv_outbox_opts *o,
                   char *err, size_t errlen)
{
    *out = NULL;
    char name[256];
    if (bv_outbox_file_name(ns, name, sizeof name) != 0) {
        snprintf(err, errlen, "'%s' is not a namespace an outbox can have", ns);
        return BV_EINVAL;
    }
    bv_outbox *ob = calloc(1, sizeof *ob);
    if (ob == NULL) {
        snprintf(err, errlen, "out of memory");
        return BV_ENOMEM;
    }
    ob->fd = -1;
    ob->lock_fd = -1;
    ob->read_only = o->read_only;
    ob->path = join(dir, name, ".jsonl");
    ob->lock_path = join(dir, name, ".lock");
    int rc = BV_ENOMEM;
    if (ob->path == NULL || ob->lock_path == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!o->read_only) {
        if (bv_file_mkdirs(dir) != 0) {
            snprintf(err, errlen, "%s: %s", dir, strerror(errno));
            rc = BV_EIO;
            goto fail;
        }
        ob->lock_fd = open(ob->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (ob->lock_fd < 0) {
            snprintf(err, errlen, "%s: %s", ob->lock_path, strerror(errno));
            rc = BV_EIO;
            goto fail;
        }
        if (flock(ob->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            char pid[32] = "";
            ssize_t r = pread(ob->lock_fd, pid, sizeof pid - 1, 0);
            pid[r > 0 ? r : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            snprintf(err, errlen, "%s is in use by a running blikveld (pid %s)", ob->lock_path,
                     pid[0] ? pid : "unknown");
            rc = BV_EAGAIN;
            goto fail;
        }
        char pid[32];
        int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(ob->lock_fd, 0) != 0 || pwrite(ob->lock_fd, pid, (size_t)pl, 0) != pl) {
            /* the pid is only said in messages; the lock is what counts */
        }
    }
    char *text = NULL;
    size_t len = 0;
    int ferr = 0;
    rc = bv_file_read(ob->path, OUTBOX_MAX_BYTES, &text, &len, &ferr);
    if (rc == BV_EIO && ferr == ENOENT) {
        if (o->read_only) {
            snprintf(err, errlen, "%s: no outbox (nothing was ever sent from here)", ob->path);
            rc = BV_ENOENT;
            goto fail;
        }
        text = NULL;
        len = 0;
    } else if (rc != BV_OK) {
        snprintf(err, errlen, "%s: %s", ob->path,
                 rc == BV_ELIMIT ? "larger than 512 MiB" : strerror(ferr ? ferr : EIO));
        goto fail;
    }
    rc = load_text(ob, text ? text : (char *)"", len);
    free(text);
    if (rc != BV_OK) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!o->read_only) {
        if ((rc = compact(ob, o->now_ms, o->retention_ms)) != BV_OK) {
            snprintf(err, errlen, "%s: cannot rewrite: %s", ob->path, strerror(errno));
            goto fail;
        }
        ob->fd = open(ob->path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (ob->fd < 0) {
            snprintf(err, errlen, "%s: %s", ob->path, strerror(errno));
            rc = BV_EIO;
            goto fail;
        }
    }
    *out = ob;
    return BV_OK;
fail:
    bv_outbox_close(ob);
    return rc;
}

bv_outbox *bv_outbox_new_memory(void)
{
    bv_outbox *ob = calloc(1, sizeof *ob);
    if (ob == NULL || (ob->path = strdup("(redis)")) == NULL) {
        free(ob);
        return NULL;
    }
    ob->fd = -1;
    ob->lock_fd = -1;
    ob->memory = 1;
    return ob;
}

bv_outbox *bv_outbox_from_buffer(const char *text, size_t len)
{
    bv_outbox *ob = calloc(1, sizeof *ob);
    char *copy = malloc(len + 1);
    if (ob == NULL || copy == NULL || (ob->path = strdup("(buffer)")) == NULL) {
        free(ob);
        free(copy);
        return NULL;
    }
    ob->fd = -1;
    ob->lock_fd = -1;
    ob->read_only = 1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    int rc = load_text(ob, copy, len);
    free(copy);
    if (rc != BV_OK) {
        bv_outbox_close(ob);
        return NULL;
    }
    return ob;
}

void bv_outbox_close(bv_outbox *ob)
{
    if (ob == NULL) {
        return;
    }
    for (size_t i = 0; i < ob->n; i++) {
        entry_free(ob->e[i]);
    }
    free(ob->e);
    if (ob->fd >= 0) {
        close(ob->fd);
    }
    if (ob->lock_fd >= 0) {
        close(ob->lock_fd); /* releases the lock */
    }
    free(ob->path);
    free(ob->lock_path);
    free(ob);
}

int bv_outbox_put(bv_outbox *ob, const char *key, const char *alert, size_t alert_len,
                  int64_t at_ms, int64_t deadline_ms, const char *const *targets, size_t ntargets,
                  bv_out_entry **entry, int *fresh)
{
    *fresh = 0;
    *entry = NULL;
    if (ob->read_only || ntargets > OUTBOX_MAX_TARGETS) {
        return BV_EINVAL;
    }
    bv_out_entry *old = bv_outbox_find(ob, key);
    if (old != NULL) {
        *entry = old;
        return BV_OK;
    }
    bv_out_entry *e = entry_new(key, alert, alert_len, at_ms, deadline_ms, targets, ntargets);
    if (e == NULL) {
        return BV_ENOMEM;
    }
    bv_buf b = BV_BUF_INIT;
    int rc = BV_OK;
    if (ob->fd >= 0 || !ob->memory) {
        put_record(&b, e);
        if (b.p == NULL) {
            entry_free(e);
            return BV_ENOMEM;
        }
        rc = append_record(ob->fd, b.p, b.len) == 0 && fdatasync(ob->fd) == 0 ? BV_OK : BV_EIO;
    }
    bv_buf_free(&b);
    if (push(ob, e) != BV_OK) {
        entry_free(e); /* on disk (or not): the next start delivers it */
        return BV_ENOMEM;
    }
    *entry = e;
    *fresh = 1;
    return rc;
}

int bv_outbox_mark(bv_outbox *ob, bv_out_entry *e, size_t i, bv_out_status st, unsigned attempts,
                   const char *reason, int64_t now_ms)
{
    if (ob->read_only || i >= e->ntargets || st == BV_OUT_PENDING) {
        return BV_EINVAL;
    }
    bv_out_target *t = &e->targets[i];
    if (t->status == BV_OUT_PENDING) {
        e->npending--;
    }
    t->status = st;
    t->attempts = attempts;
    t->done_ms = now_ms;
    free(t->reason);
    t->reason = st == BV_OUT_FAILED ? strdup(reason ? reason : "") : NULL;
    if (ob->memory) {
        return BV_OK; /* kept elsewhere (Redis) */
    }
    bv_buf b = BV_BUF_INIT;
    mark_record(&b, e, t);
    int rc = b.p && append_record(ob->fd, b.p, b.len) == 0 ? BV_OK : BV_EIO;
    bv_buf_free(&b);
    return rc;
}
