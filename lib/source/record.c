/* record.c: the live recorder; see record.h. Each line is built whole in one buffer (envelope
 * head, scrubbed payload, tail) and handed to the kernel in one write; when the clock's UTC day
 * changes the next file is opened and retention runs. */
#include "source/record.h"
#include "codec/scrub.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "source/source_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define DAY_MS 86400000LL
#define LOG_EVERY_MS 60000 /* errors are logged at most this often */
#define NO_DAY INT64_MIN

struct bv_recorder {
    char *dir, *event;    /* dir NULL: only the one file */
    char *file;           /* the one file every line also goes to, or NULL */
    int ffd;              /* its descriptor, or -1 */
    int64_t retention_ms; /* 0: keep */
    const bv_pseudo *ps;
    const bv_clock *clock;
    int fd;      /* the day's file, or -1 */
    int64_t day; /* the UTC day (days since the epoch) lines go to now; NO_DAY before */
    bv_buf path; /* that day's file */
    bv_buf line; /* the line being made */
    int logged;  /* an error was logged, at last_log (monotonic) */
    int64_t last_log;
    bv_recorder_stats st;
};

static int64_t floor_day(int64_t ms)
{
    return ms >= 0 ? ms / DAY_MS : -((-(ms + 1)) / DAY_MS) - 1;
}

/* Counts an error and logs it, at most once a minute (with the count, so nothing is hidden). */
__attribute__((format(printf, 2, 3))) static void note_error(bv_recorder *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->st.last_error, sizeof r->st.last_error, fmt, ap);
    va_end(ap);
    r->st.errors++;
    int64_t now = bv_mono_ms(r->clock);
    if (!r->logged || now - r->last_log >= LOG_EVERY_MS) {
        bv_log(BV_LOG_ERROR, "recorder",
               "%s: %s (error %" PRIu64 "; reported at most once a minute)", r->event,
               r->st.last_error, r->st.errors);
        r->logged = 1;
        r->last_log = now;
    }
}

/* The day in a name EVENT-YYYY-MM-DD.jsonl; 0 when the name is not exactly that. */
static int file_day(const char *name, const char *event, size_t el, int64_t *day)
{
    static const char suffix[] = ".jsonl";
    if (strlen(name) != el + 1 + 10 + sizeof suffix - 1 || memcmp(name, event, el) != 0 ||
        name[el] != '-' || strcmp(name + el + 11, suffix) != 0) {
        return 0;
    }
    const char *d = name + el + 1;
    for (size_t i = 0; i < 10; i++) {
        int digit = d[i] >= '0' && d[i] <= '9';
        if ((i == 4 || i == 7) ? d[i] != '-' : !digit) {
            return 0;
        }
    }
    unsigned y =
        (unsigned)((d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0'));
    unsigned m = (unsigned)((d[5] - '0') * 10 + (d[6] - '0'));
    unsigned dd = (unsigned)((d[8] - '0') * 10 + (d[9] - '0'));
    if (m < 1 || m > 12 || dd < 1 || dd > 31) {
        return 0;
    }
    *day = bv_days_from_civil((int64_t)y, m, dd);
    return 1;
}

/* Deletes this event's day files whose day ended more than retention_ms before now; never the
 * file being written, never anything that is not a regular file named EVENT-YYYY-MM-DD.jsonl. */
static void retention(bv_recorder *r, int64_t now)
{
    if (r->retention_ms == 0) {
        return;
    }
    DIR *d = opendir(r->dir);
    if (d == NULL) {
        note_error(r, "retention: cannot read %s: %s", r->dir, strerror(errno));
        return;
    }
    size_t el = strlen(r->event);
    int64_t cutoff = now - r->retention_ms;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t day;
        if (!file_day(e->d_name, r->event, el, &day) || day == r->day ||
            (day + 1) * DAY_MS > cutoff) {
            continue;
        }
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (unlinkat(dirfd(d), e->d_name, 0) != 0) {
            note_error(r, "retention: cannot delete %s/%s: %s", r->dir, e->d_name, strerror(errno));
            continue;
        }
        r->st.files_deleted++;
        bv_log(BV_LOG_INFO, "recorder", "%s: deleted %s/%s (past retention)", r->event, r->dir,
               e->d_name);
    }
    closedir(d);
}

/* Makes `day` the current day and opens its file (closing the last one). 0 or an errno. */
static int open_day(bv_recorder *r, int64_t day)
{
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    r->day = day;
    char iso[BV_TIME_ISO_LEN];
    bv_time_format_iso8601(day * DAY_MS, iso);
    bv_buf_reset(&r->path);
    if (bv_buf_printf(&r->path, "%s/%s-%.10s.jsonl", r->dir, r->event, iso) != 0) {
        return ENOMEM;
    }
    snprintf(r->st.path, sizeof r->st.path, "%s", r->path.p);
    r->fd = open(r->path.p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    return r->fd >= 0 ? 0 : errno;
}

/* The envelope of one post into r->line. */
static int make_line(bv_recorder *r, const bv_post *post, const bv_raw *raw, int64_t now)
{
    bv_buf *b = &r->line;
    bv_buf_reset(b);
    if ((unsigned)post->platform >= BV_PLATFORM__COUNT) {
        return BV_EINVAL;
    }
    int del = post->kind == BV_POST_DELETE;
    char iso[BV_TIME_ISO_LEN];
    bv_time_format_iso8601(post->received_ms > 0 ? post->received_ms : now, iso);
    if (bv_buf_printf(b,
                      "{\"v\":1,\"platform\":\"%s\",\"received_at\":\"%s\",\"kind\":\"%s\","
                      "\"payload\":",
                      bv_platform_name(post->platform), iso, del ? "delete" : "post") != 0) {
        return BV_ENOMEM;
    }
    int rc;
    if (del) {
        /* only the id: a deleted post's content leaves the recordings */
        if (post->id == NULL || post->id[0] == '\0') {
            return BV_EINVAL;
        }
        char *id = NULL;
        rc = bv_scrub_post_id(r->ps, post->platform, post->id, strlen(post->id), &id);
        if (rc == 0 && (bv_buf_putc(b, '"') != 0 || bv_buf_json_str(b, id, strlen(id)) != 0 ||
                        bv_buf_putc(b, '"') != 0)) {
            rc = BV_ENOMEM;
        }
        free(id);
    } else {
        yajl_val tree = raw != NULL ? raw->tree : NULL, own = NULL;
        if (tree == NULL) {
            if (raw == NULL || raw->json == NULL || raw->len == 0) {
                return BV_EINVAL;
            }
            size_t off = raw->len >= 3 && memcmp(raw->json, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
            char *txt = malloc(raw->len - off + 1);
            if (txt == NULL) {
                return BV_ENOMEM;
            }
            memcpy(txt, raw->json + off, raw->len - off);
            txt[raw->len - off] = '\0';
            own = tree = yajl_tree_parse(txt, NULL, 0);
            free(txt);
            if (tree == NULL) {
                return BV_EINVAL;
            }
        }
        rc = bv_scrub(r->ps, post->platform, tree);
        if (rc == 0) {
            rc = bv_json_write(tree, b);
        }
        yajl_tree_free(own);
    }
    if (rc == 0 && bv_buf_append(b, "}\n", 2) != 0) {
        rc = BV_ENOMEM;
    }
    return rc;
}

/* One write of the whole line; a line cut short (disk full, file too big) is cut off again so
 * the file holds whole lines only. 0 or -1 (errno). */
static int write_line(bv_recorder *r, int fd)
{
    size_t done = 0, len = r->line.len;
    while (done < len) {
        ssize_t w = write(fd, r->line.p + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = EIO;
            }
            break;
        }
        done += (size_t)w;
    }
    if (done == len) {
        return 0;
    }
    int err = errno;
    if (done > 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        if (end >= (off_t)done && ftruncate(fd, end - (off_t)done) != 0) {
            err = errno; /* the line stays cut: replay counts it as not JSON */
        }
    }
    errno = err;
    return -1;
}

bv_recorder *bv_recorder_new(const bv_recorder_opts *o, char *errstr, size_t errlen)
{
    bv_recorder *r = NULL;
    if (o == NULL || ((o->dir == NULL || o->dir[0] == '\0') && (o->path == NULL || !*o->path))) {
        snprintf(errstr, errlen, "recorder: a directory or a file is required");
        goto fail;
    }
    if (o->event == NULL || o->event[0] == '\0' || o->event[0] == '.' ||
        !bv_source_name_ok(o->event)) {
        snprintf(errstr, errlen,
                 "recorder: the event name must be letters, digits, '-', '_' and '.'");
        goto fail;
    }
    if (o->pseudo == NULL) {
        snprintf(errstr, errlen, "recorder: a pseudonymiser is required");
        goto fail;
    }
    if (o->retention_ms < 0 && o->retention_ms != BV_RECORDER_RETENTION_DEFAULT) {
        snprintf(errstr, errlen, "recorder: retention must be 0 (keep) or positive");
        goto fail;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(errstr, errlen, "recorder: out of memory");
        goto fail;
    }
    r->fd = -1;
    r->ffd = -1;
    r->day = NO_DAY;
    r->ps = o->pseudo;
    r->clock = o->clock != NULL ? o->clock : bv_clock_system();
    r->retention_ms = o->retention_ms == BV_RECORDER_RETENTION_DEFAULT
                          ? BV_RECORDER_RETENTION_DEFAULT_MS
                          : o->retention_ms;
    r->dir = o->dir && *o->dir ? strdup(o->dir) : NULL;
    r->event = strdup(o->event);
    r->file = o->path && *o->path ? strdup(o->path) : NULL;
    if ((o->dir && *o->dir && r->dir == NULL) || r->event == NULL ||
        (o->path && *o->path && r->file == NULL)) {
        snprintf(errstr, errlen, "recorder: out of memory");
        goto fail;
    }
    if (r->file) {
        r->ffd = open(r->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (r->ffd < 0) {
            snprintf(errstr, errlen, "recorder: cannot write %s: %s", r->file, strerror(errno));
            goto fail;
        }
        if (r->dir == NULL) {
            snprintf(r->st.path, sizeof r->st.path, "%s", r->file);
            return r;
        }
    }
    if (bv_file_mkdirs(r->dir) != 0) {
        snprintf(errstr, errlen, "recorder: cannot create %s: %s", r->dir, strerror(errno));
        goto fail;
    }
    int64_t now = bv_now_ms(r->clock);
    int err = open_day(r, floor_day(now));
    if (err != 0) {
        snprintf(errstr, errlen, "recorder: cannot write %s: %s",
                 r->path.p != NULL ? r->path.p : r->dir, strerror(err));
        goto fail;
    }
    retention(r, now);
    return r;
fail:
    bv_recorder_free(r);
    return NULL;
}

int bv_recorder_write(bv_recorder *r, const bv_post *post, const bv_raw *raw)
{
    int64_t now = bv_now_ms(r->clock);
    int rc = make_line(r, post, raw, now);
    if (rc != 0) {
        /* the post's id may name its author (a Bluesky DID): only the platform is logged */
        note_error(r, "a %s %s was not recorded: %s", bv_platform_name(post->platform),
                   post->kind == BV_POST_DELETE ? "delete" : "post", bv_strerror(rc));
        return rc;
    }
    if (r->ffd >= 0 && write_line(r, r->ffd) != 0) {
        note_error(r, "cannot write %s: %s", r->file, strerror(errno));
        return BV_EIO;
    }
    if (r->dir == NULL) {
        r->st.lines++;
        r->st.bytes += r->line.len;
        return BV_OK;
    }
    int64_t day = floor_day(now);
    if (day < r->day) {
        day = r->day; /* the clock stepped back: stay in today's file */
    }
    if (day != r->day || r->fd < 0) {
        int new_day = day != r->day;
        int err = open_day(r, day);
        if (new_day) {
            retention(r, now);
        }
        if (err != 0) {
            note_error(r, "cannot open %s: %s", r->st.path, strerror(err));
            return BV_EIO;
        }
    }
    if (write_line(r, r->fd) != 0) {
        note_error(r, "cannot write %s: %s", r->st.path, strerror(errno));
        return BV_EIO;
    }
    r->st.lines++;
    r->st.bytes += r->line.len;
    return BV_OK;
}

int bv_recorder_flush(bv_recorder *r)
{
    if (r->fd >= 0 && fdatasync(r->fd) != 0) {
        note_error(r, "cannot sync %s: %s", r->st.path, strerror(errno));
        return BV_EIO;
    }
    if (r->ffd >= 0 && fdatasync(r->ffd) != 0) {
        note_error(r, "cannot sync %s: %s", r->file, strerror(errno));
        return BV_EIO;
    }
    return BV_OK;
}

void bv_recorder_stats_get(const bv_recorder *r, bv_recorder_stats *out)
{
    *out = r->st;
}

void bv_recorder_free(bv_recorder *r)
{
    if (r == NULL) {
        return;
    }
    bv_recorder_flush(r);
    if (r->fd >= 0) {
        close(r->fd);
    }
    if (r->ffd >= 0) {
        close(r->ffd);
    }
    free(r->file);
    bv_buf_free(&r->path);
    bv_buf_free(&r->line);
    free(r->dir);
    free(r->event);
    free(r);
}
