/* replay.c: recordings -> posts, merged by event time and paced; see replay.h. Regular files are
 * read directly; pipes and terminals are read when the loop says they are readable, so a replay
 * fed through a pipe never blocks the loop. */
#include "source/replay.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "net/lines.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536
/* Posts between yields: then the replay continues on a zero timer, after the loop has polled
 * sockets and run timers (progress, the store's connection). event_active alone would not do:
 * libevent runs callbacks activated while it runs callbacks in the same turn, never polling. */
#define BATCH 256

typedef struct input {
    char *path;
    int fd;
    int owns_fd;
    int nonblock;
    int eof;
    bv_lines *lines;
    struct event *rev; /* readable (pipes) */
    int has_post;
    bv_post post;
    int64_t key; /* merge key of the held post */
} input;

struct bv_replay {
    struct event_base *base;
    bv_replay_opts opts;
    bv_codec_ctx codec;
    bv_pipeline *pl;
    input *in;
    size_t nin;
    struct event *cont;     /* continue at once (after the pipeline answered) */
    struct event *yield;    /* continue on the next turn, after polling */
    int since_yield;        /* posts pushed since the last yield */
    struct event *pace;     /* wait until the next post is due */
    struct event *progress; /* progress line every second */
    bv_replay_done_cb *done;
    void *donearg;
    int waiting; /* pipeline busy */
    int finishing, finished;
    int64_t last_key;
    int64_t pace_t0, pace_w0; /* first event time and its wall (mono) time */
    int paced;
    uint64_t posts;
    bv_replay_stats st;
    char *readbuf;
};

static void step(bv_replay *r);

static int64_t key_of(const bv_post *p, int64_t last)
{
    if (p->created_ms > 0) {
        return p->created_ms;
    }
    return p->received_ms > 0 ? p->received_ms : last;
}

static void list_error(bv_replay *r, const input *in, uint64_t lineno, bv_skip why)
{
    r->st.skipped[why]++;
    if (r->opts.errors) {
        fprintf(r->opts.errors, "%s:%llu: %s\n", in->path, (unsigned long long)lineno,
                bv_skip_name(why));
    }
}

/* Decodes buffered lines of one input until it holds a post, needs more bytes, or is done.
 * Returns 1 when it holds a post or is at EOF without one, 0 when it must wait for bytes. */
static int fill(bv_replay *r, input *in)
{
    while (!in->has_post) {
        bv_line ln;
        int got = in->eof ? bv_lines_finish(in->lines, &ln) : bv_lines_next(in->lines, &ln);
        if (got == 1) {
            r->st.lines++;
            if (ln.too_long) {
                list_error(r, in, ln.lineno, BV_SKIP_TOO_LONG);
                continue;
            }
            size_t k = 0;
            while (k < ln.len && (ln.data[k] == ' ' || ln.data[k] == '\t' || ln.data[k] == '\r')) {
                k++;
            }
            if (k == ln.len) {
                r->st.blank++;
                continue;
            }
            bv_skip why = BV_SKIP_NONE;
            bv_shape shape = BV_SHAPE_UNKNOWN;
            ln.data[ln.len] = '\0';
            bv_decode d = bv_codec_decode_line(&r->codec, ln.data, ln.len, &in->post, &why, &shape);
            r->st.shapes[shape < BV_SHAPE__COUNT ? shape : 0]++;
            if (d == BV_DECODE_POST) {
                in->has_post = 1;
                in->key = key_of(&in->post, r->last_key);
            } else {
                list_error(r, in, ln.lineno, why == BV_SKIP_NONE ? BV_SKIP_UNKNOWN_SHAPE : why);
            }
            continue;
        }
        if (in->eof) {
            return 1;
        }
        /* need bytes */
        ssize_t n = read(in->fd, r->readbuf, CHUNK);
        if (n > 0) {
            r->st.bytes += (uint64_t)n;
            if (bv_lines_feed(in->lines, r->readbuf, (size_t)n) != 0) {
                bv_log(BV_LOG_ERROR, "replay", "%s: out of memory", in->path);
                in->eof = 1;
            }
        } else if (n == 0) {
            in->eof = 1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            event_add(in->rev, NULL);
            return 0;
        } else if (errno != EINTR) {
            bv_log(BV_LOG_ERROR, "replay", "%s: read: %s", in->path, strerror(errno));
            in->eof = 1;
        }
    }
    return 1;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    bv_replay *r = arg;
    (void)fd;
    (void)what;
    step(r);
}

static void on_pipeline_done(void *arg)
{
    bv_replay *r = arg;
    r->waiting = 0;
    event_active(r->cont, EV_TIMEOUT, 0);
}

static void on_finished(void *arg)
{
    bv_replay *r = arg;
    r->waiting = 0;
    r->finished = 1;
    r->st.ended_mono = bv_mono_ms(r->opts.clock);
    if (r->progress) {
        event_del(r->progress);
        if (r->opts.progress) {
            fputs("\r\033[K", stderr);
        }
    }
    bv_replay_done_cb *done = r->done;
    r->done = NULL;
    if (done) {
        done(r->donearg, 0);
    }
}

static void on_cont(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg);
}

/* Pushes posts in event-time order until the pipeline is busy, a post is not yet due, an input
 * must wait for bytes, or BATCH posts went by (then it continues on the next turn). */
static void step(bv_replay *r)
{
    if (r->waiting || r->finished || r->finishing) {
        return;
    }
    while (r->since_yield < BATCH) {
        r->since_yield++;
        input *best = NULL;
        for (size_t i = 0; i < r->nin; i++) {
            input *in = &r->in[i];
            if (!fill(r, in)) {
                return; /* on_readable resumes */
            }
            if (in->has_post && (best == NULL || in->key < best->key)) {
                best = in;
            }
        }
        if (best == NULL) {
            r->finishing = 1;
            r->waiting = 1;
            if (bv_pipeline_finish(r->pl, on_finished, r) == 1) {
                on_finished(r);
            }
            return;
        }
        if (r->opts.speed > 0) {
            int64_t now = bv_mono_ms(r->opts.clock);
            if (!r->paced) {
                r->paced = 1;
                r->pace_t0 = best->key;
                r->pace_w0 = now;
            }
            int64_t due = r->pace_w0 + (int64_t)((double)(best->key - r->pace_t0) / r->opts.speed);
            if (due > now) {
                struct timeval tv = {(time_t)((due - now) / 1000),
                                     (suseconds_t)((due - now) % 1000) * 1000};
                event_add(r->pace, &tv);
                return;
            }
        }
        best->has_post = 0;
        if (best->key > r->last_key) {
            r->last_key = best->key;
        }
        r->posts++;
        r->waiting = 1;
        int rc = bv_pipeline_push(r->pl, &best->post, on_pipeline_done, r);
        if (rc == 0) {
            return; /* on_pipeline_done continues */
        }
        r->waiting = 0;
        if (rc < 0) {
            bv_log(BV_LOG_ERROR, "replay", "pipeline: %s", bv_strerror(rc));
        }
    }
    r->since_yield = 0;
    event_add(r->yield, &(struct timeval){0, 0});
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
    bv_replay *r = arg;
    (void)fd;
    (void)what;
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(r->pl, &ps);
    int64_t el = bv_mono_ms(r->opts.clock) - r->st.started_mono;
    char t[BV_TIME_ISO_LEN] = "-";
    if (ps.max_ms != INT64_MIN) {
        bv_time_format_amsterdam(ps.max_ms, t);
    }
    fprintf(stderr, "\r\033[Kreplay: %llu posts, event time %s, %.0f posts/s",
            (unsigned long long)r->posts, t, el > 0 ? (double)r->posts * 1000.0 / (double)el : 0.0);
    fflush(stderr);
}

static int open_input(bv_replay *r, input *in, const char *path, char *errstr, size_t errlen)
{
    in->path = strdup(path);
    in->lines = bv_lines_new(r->opts.max_line);
    if (in->path == NULL || in->lines == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return BV_ENOMEM;
    }
    if (strcmp(path, "-") == 0) {
        in->fd = 0;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
            return BV_EIO;
        }
        in->owns_fd = 1;
    }
    struct stat sb;
    if (fstat(in->fd, &sb) != 0) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        return BV_EIO;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(errstr, errlen, "%s: is a directory", path);
        return BV_EINVAL;
    }
    if (!S_ISREG(sb.st_mode)) {
        int fl = fcntl(in->fd, F_GETFL);
        if (fl >= 0 && fcntl(in->fd, F_SETFL, fl | O_NONBLOCK) == 0) {
            in->nonblock = 1;
        }
    }
    in->rev = event_new(r->base, in->fd, EV_READ, on_readable, r);
    if (in->rev == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return BV_ENOMEM;
    }
    return BV_OK;
}

bv_replay *bv_replay_new(struct event_base *base, const bv_replay_opts *opts,
                         const bv_codec_ctx *codec, bv_pipeline *pl, char *errstr, size_t errlen)
{
    bv_replay *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    r->base = base;
    r->opts = *opts;
    if (r->opts.max_line == 0) {
        r->opts.max_line = BV_REPLAY_MAX_LINE_DEFAULT;
    }
    if (r->opts.clock == NULL) {
        r->opts.clock = bv_clock_system();
    }
    r->codec = *codec;
    r->pl = pl;
    r->last_key = INT64_MIN;
    r->readbuf = malloc(CHUNK);
    r->in = calloc(opts->npaths ? opts->npaths : 1, sizeof *r->in);
    r->cont = event_new(base, -1, 0, on_cont, r);
    r->pace = evtimer_new(base, on_cont, r);
    r->yield = evtimer_new(base, on_cont, r);
    r->progress = event_new(base, -1, EV_PERSIST, on_progress, r);
    if (!r->readbuf || !r->in || !r->cont || !r->pace || !r->yield || !r->progress) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    if (opts->npaths == 0) {
        snprintf(errstr, errlen, "no recording given");
        goto fail;
    }
    int stdin_seen = 0;
    for (size_t i = 0; i < opts->npaths; i++) {
        r->in[i].fd = -1;
        r->nin = i + 1;
        if (strcmp(opts->paths[i], "-") == 0 && stdin_seen++) {
            snprintf(errstr, errlen, "stdin ('-') given twice");
            goto fail;
        }
        if (open_input(r, &r->in[i], opts->paths[i], errstr, errlen) != 0) {
            goto fail;
        }
    }
    return r;
fail:
    bv_replay_free(r);
    return NULL;
}

int bv_replay_start(bv_replay *r, bv_replay_done_cb *done, void *arg)
{
    r->done = done;
    r->donearg = arg;
    r->st.started_mono = bv_mono_ms(r->opts.clock);
    if (r->opts.progress) {
        struct timeval sec = {1, 0};
        event_add(r->progress, &sec);
    }
    event_active(r->cont, EV_TIMEOUT, 0);
    return BV_OK;
}

void bv_replay_stats_get(const bv_replay *r, bv_replay_stats *out)
{
    *out = r->st;
}

void bv_replay_free(bv_replay *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; r->in && i < r->nin; i++) {
        input *in = &r->in[i];
        if (in->rev) {
            event_free(in->rev);
        }
        if (in->owns_fd && in->fd >= 0) {
            close(in->fd);
        }
        bv_lines_free(in->lines);
        bv_post_clear(&in->post);
        free(in->path);
    }
    free(r->in);
    if (r->yield) {
        event_free(r->yield);
    }
    if (r->cont) {
        event_free(r->cont);
    }
    if (r->pace) {
        event_free(r->pace);
    }
    if (r->progress) {
        event_free(r->progress);
    }
    free(r->readbuf);
    free(r);
}
