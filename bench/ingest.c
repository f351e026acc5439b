/* ingest.c: the live-ingest benchmark behind `make bench` (stage e). The same posts go through
 * the same pipeline (memory store, alert book) twice, in this process and on one core:
 *   - live: a local server (a child process, on the other core when there is one) sends the
 *     pre-built bytes of a Mastodon SSE stream or an X NDJSON stream over loopback; the stream
 *     source (libcurl multi on libevent) frames and decodes them and the ingest queue feeds the
 *     pipeline, as `blikveld run` does;
 *   - replay: the same lines from a file, as `blikveld replay` does.
 * One platform at a time, so both runs see the posts in the same order and do the same work.
 * Prints a table row per run and the ratios; the target is live >= 0.8x replay.
 *
 * The server here is a few lines of blocking socket code in a forked child: it only has to
 * write bytes fast, and is not part of blikveld. */
#include "source/ingest.h"
#include "alert/book.h"
#include "codec/codec.h"
#include "core/buf.h"
#include "core/err.h"
#include "engine/pipeline.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "engine/store_memory.h"
#include "net/curl_loop.h"
#include "source/replay.h"
#include "source/stream.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The child: answers each connection with the body its path asks for, then keep-alives. */
static void serve(int lfd, const bv_buf *sse, const bv_buf *ndjson)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* no zombies */
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        if (fork() != 0) { /* a process per connection: the next one is not kept waiting */
            close(fd);
            continue;
        }
        close(lfd);
        char head[4096];
        size_t got = 0;
        while (got < sizeof head - 1 && !memmem(head, got, "\r\n\r\n", 4)) {
            ssize_t r = read(fd, head + got, sizeof head - 1 - got);
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
        }
        head[got] = '\0';
        if (strstr(head, "GET /api/v1/streaming/public ")) {
            static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n";
            write_all(fd, h, sizeof h - 1);
        } else {
            static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n";
            write_all(fd, h, sizeof h - 1);
        }
        const bv_buf *b = strstr(head, "GET /api/v1/streaming/public ") ? sse : ndjson;
        /* one write per chunk (header, data, trailer): small separate writes would meet
         * Nagle's algorithm and the reader's delayed ACKs */
        char *chunk = malloc(65536 + 32);
        for (size_t off = 0; chunk && off < b->len;) {
            size_t n = b->len - off < 65536 ? b->len - off : 65536;
            int k = snprintf(chunk, 32, "%zx\r\n", n);
            memcpy(chunk + k, b->p + off, n);
            memcpy(chunk + k + n, "\r\n", 2);
            if (write_all(fd, chunk, (size_t)k + n + 2)) {
                break;
            }
            off += n;
        }
        free(chunk);
        /* the stream stays open, as a live one does, with a keep-alive now and then */
        const char *ka = b == sse ? "7\r\n:thump\n\r\n" : "2\r\n\r\n\r\n";
        while (write_all(fd, ka, strlen(ka)) == 0) {
            sleep(1);
        }
        _exit(0);
    }
}

typedef struct run {
    struct event_base *base;
    bv_ingest *ingest;
    uint64_t want, seen;
    int done;
} run;

static void on_post(void *arg, bv_post *post, const bv_raw *raw)
{
    (void)raw;
    run *r = arg;
    bv_ingest_offer(r->ingest, post);
    r->seen++;
}

static int on_full(void *arg, int paused)
{
    return bv_ingest_full(((run *)arg)->ingest, paused);
}

static void on_drained(void *arg)
{
    ((run *)arg)->done = 1;
}

static void on_replayed(void *arg, int err)
{
    (void)err;
    ((run *)arg)->done = 1;
}

/* Firing alerts: a replay also resolves what is still firing at the end of its input, which a
 * live stream that goes on does not. */
static void on_alert(void *arg, const bv_alert *a)
{
    if (a->state == BV_ALERT_FIRING) {
        (*(uint64_t *)arg)++;
    }
}

/* One run: live from url (kind), or replay of path. Seconds, or -1. */
static double measure(const bv_ruleset *rs, const bv_codec_ctx *codec, const char *url,
                      bv_stream_kind kind, const char *path, uint64_t want, uint64_t *alerts)
{
    run r;
    memset(&r, 0, sizeof r);
    r.want = want;
    r.base = event_base_new();
    bv_store *store = bv_store_memory_new(r.base);
    bv_book_opts bo = {.event = "bench", .ns = "drill/bench", .drill = 1};
    bv_book *book = bv_book_new(rs, store, &bo, on_alert, alerts);
    bv_pipeline_opts po = {.lateness_ms = 120000, .ns = "drill/bench", .clock = bv_clock_system()};
    char err[256];
    bv_pipeline *pl = bv_pipeline_new(rs, store, &po, bv_book_on_signal, book, err, sizeof err);
    bv_book_attach(book, pl);
    double t0 = now_s(), secs = -1;
    bv_curl_loop *cl = NULL;
    bv_stream *st = NULL;
    bv_replay *rp = NULL;
    if (url) {
        cl = bv_curl_loop_new(r.base);
        r.ingest = bv_ingest_new(r.base, pl, (size_t)want + 1);
        bv_stream_opts so = {.kind = kind,
                             .url = url,
                             .token = "bench",
                             .max_line = 8u << 20,
                             .codec = codec,
                             .post = on_post,
                             .arg = &r,
                             .full = on_full};
        st = bv_stream_new(r.base, cl, &so, err, sizeof err);
        if (st == NULL) {
            fprintf(stderr, "ingest: %s\n", err);
            goto out;
        }
        while (r.seen < want) {
            if (event_base_loop(r.base, EVLOOP_ONCE) < 0) {
                goto out;
            }
        }
        bv_ingest_drain(r.ingest, on_drained, &r);
    } else {
        const char *paths[] = {path};
        bv_replay_opts ro = {.paths = paths, .npaths = 1, .clock = bv_clock_system()};
        rp = bv_replay_new(r.base, &ro, codec, pl, err, sizeof err);
        if (rp == NULL || bv_replay_start(rp, on_replayed, &r) != 0) {
            fprintf(stderr, "ingest: replay: %s\n", err);
            goto out;
        }
    }
    while (!r.done || bv_book_pending(book) > 0) {
        if (event_base_loop(r.base, EVLOOP_ONCE) < 0) {
            goto out;
        }
    }
    secs = now_s() - t0;
    bv_pipeline_stats ps;
    bv_pipeline_stats_get(pl, &ps);
    uint64_t n = 0;
    for (int i = 0; i < BV_PLATFORM__COUNT; i++) {
        n += ps.posts[i] + ps.deletes[i];
    }
    if (n != want) {
        fprintf(stderr, "ingest: %s counted %llu posts, not %llu\n", url ? "live" : "replay",
                (unsigned long long)n, (unsigned long long)want);
        secs = -1;
    }
out:
    bv_stream_free(st);
    bv_replay_free(rp);
    bv_store_free(store);
    bv_ingest_free(r.ingest);
    bv_pipeline_free(pl);
    bv_book_free(book);
    bv_curl_loop_free(cl);
    event_base_free(r.base);
    return secs;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ingest CORPUS.ndjson RULES.yaml\n");
        return 2;
    }
    bv_pseudo *ps = bv_pseudo_new("bench-key-0123456789", 20);
    bv_codec_ctx codec = {.pseudo = ps};
    bv_ruleset *rs = NULL;
    bv_diag d;
    const char *rf[] = {argv[2]};
    if (bv_rules_load(&rs, rf, 1, &d) != 0) {
        char msg[1200];
        fprintf(stderr, "%s\n", bv_diag_format(&d, msg, sizeof msg));
        return 1;
    }
    /* the corpus's Mastodon statuses and X v2 messages, as stream bytes and as files */
    FILE *in = fopen(argv[1], "rb");
    if (in == NULL) {
        perror(argv[1]);
        return 1;
    }
    bv_buf sse = BV_BUF_INIT, nd = BV_BUF_INIT, scratch = BV_BUF_INIT;
    char mpath[] = "/tmp/bv-bench-mastodon-XXXXXX", xpath[] = "/tmp/bv-bench-x-XXXXXX";
    int mfd = mkstemp(mpath), xfd = mkstemp(xpath);
    FILE *mf = fdopen(mfd, "w"), *xf = fdopen(xfd, "w");
    uint64_t nm = 0, nx = 0;
    size_t mbytes = 0, xbytes = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] == '\n') {
            len--;
        }
        bv_buf_reset(&scratch);
        bv_buf_append(&scratch, line, (size_t)len);
        bv_buf_append(&scratch, "\0", 1);
        bv_post p;
        bv_skip why;
        bv_shape shape;
        if (bv_codec_decode_line(&codec, scratch.p, (size_t)len, &p, &why, &shape) !=
            BV_DECODE_POST) {
            continue;
        }
        bv_post_clear(&p);
        if (shape == BV_SHAPE_MASTODON) {
            bv_buf_printf(&sse, "event: update\ndata: %.*s\n\n", (int)len, line);
            fprintf(mf, "%.*s\n", (int)len, line);
            mbytes += (size_t)len + 1;
            nm++;
        } else if (shape == BV_SHAPE_X_V2) {
            bv_buf_printf(&nd, "%.*s\r\n", (int)len, line);
            fprintf(xf, "%.*s\n", (int)len, line);
            xbytes += (size_t)len + 1;
            nx++;
        }
    }
    free(line);
    fclose(in);
    fclose(mf);
    fclose(xf);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 16) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        perror("ingest: listen");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        setpgid(0, 0);
        if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
            cpu_set_t cs;
            CPU_ZERO(&cs);
            CPU_SET(1, &cs);
            sched_setaffinity(0, sizeof cs, &cs);
        }
        serve(lfd, &sse, &nd);
        _exit(0);
    }
    close(lfd);
    char murl[128], xurl[128];
    snprintf(murl, sizeof murl, "http://127.0.0.1:%d/api/v1/streaming/public", ntohs(sa.sin_port));
    snprintf(xurl, sizeof xurl, "http://127.0.0.1:%d/2/tweets/search/stream", ntohs(sa.sin_port));

    /* best of three each, alternating */
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    uint64_t alerts[4] = {0, 0, 0, 0};
    int bad = 0;
    for (int k = 0; k < 3 && !bad; k++) {
        double t[4];
        uint64_t a[4] = {0, 0, 0, 0};
        t[0] = measure(rs, &codec, murl, BV_STREAM_MASTODON, NULL, nm, &a[0]);
        t[1] = measure(rs, &codec, NULL, BV_STREAM_MASTODON, mpath, nm, &a[1]);
        t[2] = measure(rs, &codec, xurl, BV_STREAM_X, NULL, nx, &a[2]);
        t[3] = measure(rs, &codec, NULL, BV_STREAM_X, xpath, nx, &a[3]);
        for (int i = 0; i < 4; i++) {
            bad |= t[i] < 0;
            best[i] = t[i] < best[i] ? t[i] : best[i];
            alerts[i] = a[i];
        }
    }
    kill(-child, SIGKILL); /* the server and its connections */
    waitpid(child, NULL, 0);
    unlink(mpath);
    unlink(xpath);
    if (bad) {
        return 1;
    }
    printf("\nlive ingest: %llu Mastodon statuses (%.1f MB), %llu X messages (%.1f MB)\n",
           (unsigned long long)nm, (double)mbytes / 1e6, (unsigned long long)nx,
           (double)xbytes / 1e6);
    printf("\n| %-44s | %10s | %8s | %8s |\n", "stage (one core; best of 3)", "posts/s", "MB/s",
           "seconds");
    printf("|%s|%s|%s|%s|\n", "----------------------------------------------", "------------",
           "----------", "----------");
    const char *what[4] = {"(e) live: Mastodon SSE over loopback", "(e) replay: the same statuses",
                           "(e) live: X NDJSON (chunked) over loopback",
                           "(e) replay: the same X messages"};
    for (int i = 0; i < 4; i++) {
        uint64_t n = i < 2 ? nm : nx;
        size_t b = i < 2 ? mbytes : xbytes;
        printf("| %-44s | %10.0f | %8.1f | %8.3f |\n", what[i], (double)n / best[i],
               (double)b / best[i] / 1e6, best[i]);
    }
    printf("\nratios (same run):\n");
    printf(
        "  live Mastodon SSE vs replay:       %.2fx (target >= 0.8x); firing alerts %llu vs %llu\n",
        best[1] / best[0], (unsigned long long)alerts[0], (unsigned long long)alerts[1]);
    printf(
        "  live X NDJSON vs replay:           %.2fx (target >= 0.8x); firing alerts %llu vs %llu\n",
        best[3] / best[2], (unsigned long long)alerts[2], (unsigned long long)alerts[3]);
    bv_buf_free(&sse);
    bv_buf_free(&nd);
    bv_buf_free(&scratch);
    bv_rules_free(rs);
    bv_pseudo_free(ps);
    return alerts[0] == alerts[1] && alerts[2] == alerts[3] ? 0 : 1;
}
