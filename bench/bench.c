/* bench.c: the throughput benchmark behind `make bench`. Measures, on one core and on the same
 * bytes: (a) the codecs' JSON decoding alone, (b) decoding + normalisation + matching with a rule
 * set, the matching itself against the pcre2-only reference path, and (c) the whole replay
 * (bin/blikveld replay --speed max, as a child process, with its peak RSS), and (d) when
 * BENCH_REDIS names a Redis server, the same replay with the Redis window store against the
 * memory store, alternating, best of three each, with the Redis commands per 1000 posts from
 * its summary, and (f) when BENCH_REDIS_TCP and BENCH_CLUSTER name one server over TCP and a
 * node of a Redis Cluster, the same replay against each, alternating, best of three. Prints a
 * table. */
#include "codec/codec.h"
#include "core/buf.h"
#include "engine/places.h"
#include "engine/post.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "engine/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs `BIN replay --speed max --rules RULES PATH [--redis URL]`; its seconds and peak RSS, and
 * with a Redis URL the commands per 1000 posts its summary reports. 0 or -1. */
static int run_replay(const char *bin, const char *rules, const char *path, const char *redis,
                      double *secs, long *rss, double *cmds_per_k)
{
    char errpath[] = "/tmp/bv-bench-XXXXXX";
    int efd = mkstemp(errpath);
    if (efd < 0) {
        return -1;
    }
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL || dup2(efd, 2) < 0) {
            _exit(127);
        }
        if (redis) {
            execl(bin, bin, "replay", "--speed", "max", "--rules", rules, "--redis", redis, path,
                  (char *)NULL);
        } else {
            execl(bin, bin, "replay", "--quiet", "--speed", "max", "--rules", rules, path,
                  (char *)NULL);
        }
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    int bad = pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
              WEXITSTATUS(status) != 0;
    *secs = now_s() - t0;
    *rss = bad ? 0 : ru.ru_maxrss;
    if (cmds_per_k) {
        *cmds_per_k = -1;
        lseek(efd, 0, SEEK_SET);
        FILE *f = fdopen(efd, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            const char *p = strstr(line, "per 1000 posts)");
            const char *q = strrchr(line, '(');
            if (p && q && q < p) {
                *cmds_per_k = strtod(q + 1, NULL);
            }
        }
        if (f) {
            fclose(f);
        }
    } else {
        close(efd);
    }
    unlink(errpath);
    if (bad) {
        fprintf(stderr, "bench: replay of %s%s failed (status %d)\n", path,
                redis ? " with --redis" : "", status);
        return -1;
    }
    return 0;
}

typedef struct corpus {
    char *data;
    size_t len;
    char **lines;
    size_t *lens;
    size_t n;
} corpus;

static int load(const char *path, corpus *c)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    bv_buf b = BV_BUF_INIT;
    char chunk[1 << 16];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        bv_buf_append(&b, chunk, r);
    }
    fclose(f);
    c->len = b.len;
    c->data = bv_buf_steal(&b);
    size_t cap = 1024;
    c->lines = malloc(cap * sizeof *c->lines);
    c->lens = malloc(cap * sizeof *c->lens);
    char *p = c->data, *end = c->data + c->len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (c->n == cap) {
            cap *= 2;
            c->lines = realloc(c->lines, cap * sizeof *c->lines);
            c->lens = realloc(c->lens, cap * sizeof *c->lens);
        }
        c->lines[c->n] = p;
        c->lens[c->n++] = l;
        p += l + 1;
    }
    return 0;
}

/* decoding needs a writable copy with a spare byte */
static char *scratch;
static size_t scratch_cap;

static bv_decode decode(const bv_codec_ctx *ctx, const corpus *c, size_t i, bv_post *post)
{
    if (c->lens[i] + 1 > scratch_cap) {
        scratch_cap = (c->lens[i] + 1) * 2;
        scratch = realloc(scratch, scratch_cap);
    }
    memcpy(scratch, c->lines[i], c->lens[i]);
    scratch[c->lens[i]] = '\0';
    bv_skip why;
    return bv_codec_decode_line(ctx, scratch, c->lens[i], post, &why, NULL);
}

static void row(const char *what, double secs, size_t posts, size_t bytes)
{
    printf("| %-44s | %10.0f | %8.1f | %8.3f |\n", what, (double)posts / secs,
           (double)bytes / secs / 1e6, secs);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench CORPUS.ndjson RULES.yaml BLIKVELD_BINARY [SECOND_CORPUS]\n");
        return 2;
    }
    /* (c) first, while this process is small: a forked child's peak RSS counts the parent's
     * pages until exec */
    /* (c) the whole replay, as a user runs it */
    double t0, t_replay[2] = {0, 0};
    long rss[2] = {0, 0};
    size_t cbytes[2] = {0, 0};
    for (int k = 0; k < (argc > 4 ? 2 : 1); k++) {
        const char *path = k == 0 ? argv[1] : argv[4];
        FILE *f = fopen(path, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            cbytes[k] = (size_t)ftell(f);
            fclose(f);
        }
        if (run_replay(argv[3], argv[2], path, NULL, &t_replay[k], &rss[k], NULL) != 0) {
            return 1;
        }
    }
    /* (d) memory store vs Redis store, alternating so both see the same machine state */
    const char *redis = getenv("BENCH_REDIS");
    double t_mem = 1e30, t_red = 1e30, cmds_per_k = -1;
    long rss_red = 0;
    for (int k = 0; redis && *redis && k < 3; k++) {
        double t;
        long r;
        if (run_replay(argv[3], argv[2], argv[1], NULL, &t, &r, NULL) != 0) {
            return 1;
        }
        t_mem = t < t_mem ? t : t_mem;
        if (run_replay(argv[3], argv[2], argv[1], redis, &t, &r, &cmds_per_k) != 0) {
            return 1;
        }
        t_red = t < t_red ? t : t_red;
        rss_red = r;
    }

    /* (f) one server over TCP and a 3-master cluster, alternating */
    const char *tcp = getenv("BENCH_REDIS_TCP"), *cluster = getenv("BENCH_CLUSTER");
    double t_tcp = 1e30, t_cl = 1e30;
    for (int k = 0; tcp && *tcp && cluster && *cluster && k < 3; k++) {
        double t;
        long r;
        double ck;
        if (run_replay(argv[3], argv[2], argv[1], tcp, &t, &r, &ck) != 0) {
            return 1;
        }
        t_tcp = t < t_tcp ? t : t_tcp;
        if (run_replay(argv[3], argv[2], argv[1], cluster, &t, &r, &ck) != 0) {
            return 1;
        }
        t_cl = t < t_cl ? t : t_cl;
    }

    corpus c;
    memset(&c, 0, sizeof c);
    if (load(argv[1], &c) != 0) {
        return 1;
    }
    bv_pseudo *ps = bv_pseudo_new("bench-key-0123456789", 20);
    bv_codec_ctx ctx = {.pseudo = ps, .max_depth = 0};
    bv_post post;
    memset(&post, 0, sizeof post);

    /* (a) decoding alone */
    t0 = now_s();
    size_t posts = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (decode(&ctx, &c, i, &post) == BV_DECODE_POST) {
            posts++;
            bv_post_clear(&post);
        }
    }
    double t_decode = now_s() - t0;

    /* texts, normalised once, for matching alone */
    bv_ruleset *rs = NULL;
    bv_diag d;
    const char *rf[] = {argv[2]};
    if (bv_rules_load(&rs, rf, 1, &d) != 0) {
        char msg[1200];
        fprintf(stderr, "%s\n", bv_diag_format(&d, msg, sizeof msg));
        return 1;
    }
    bv_matcher *m = bv_matcher_new(rs);
    uint32_t *hits = calloc(bv_rules_count(rs) + 1, sizeof *hits);
    bv_buf norm = BV_BUF_INIT;

    /* (b) decoding + normalisation + matching */
    t0 = now_s();
    size_t matched = 0;
    bv_post *kept = calloc(posts + 1, sizeof *kept);
    char **norms = calloc(posts + 1, sizeof *norms);
    size_t *normlens = calloc(posts + 1, sizeof *normlens);
    size_t nk = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (decode(&ctx, &c, i, &post) != BV_DECODE_POST) {
            continue;
        }
        const char *text = post.text ? post.text : "";
        bv_text_normalise(text, strlen(text), &norm);
        int h = bv_match(m, &post, norm.p, norm.len, hits);
        matched += h > 0 ? (size_t)h : 0;
        kept[nk] = post;
        norms[nk] = strdup(norm.p);
        normlens[nk++] = norm.len;
        memset(&post, 0, sizeof post);
    }
    double t_full = now_s() - t0;

    /* matching alone: the one-pass scan against pcre2 running every pattern */
    t0 = now_s();
    size_t h1 = 0, h2 = 0;
    for (size_t i = 0; i < nk; i++) {
        int h = bv_match(m, &kept[i], norms[i], normlens[i], hits);
        h1 += h > 0 ? (size_t)h : 0;
    }
    double t_match = now_s() - t0;
    t0 = now_s();
    for (size_t i = 0; i < nk; i++) {
        int h = bv_match_reference(m, &kept[i], norms[i], normlens[i], hits);
        h2 += h > 0 ? (size_t)h : 0;
    }
    double t_ref = now_s() - t0;

    /* (g) matching with the gazetteer's names in the same database, on the same texts */
    bv_gazetteer *gz = bv_gazetteer_new();
    bv_rules_opts gro = {.places = gz};
    bv_ruleset *rsg = NULL;
    if (gz == NULL || bv_rules_load_opts(&rsg, rf, 1, &gro, &d) != 0) {
        fprintf(stderr, "bench: rules with places do not load\n");
        return 1;
    }
    bv_matcher *mg = bv_matcher_new(rsg);
    double t_plain = 1e30, t_places = 1e30;
    size_t h3 = 0, named = 0;
    for (int k = 0; k < 3; k++) {
        t0 = now_s();
        for (size_t i = 0; i < nk; i++) {
            bv_match(m, &kept[i], norms[i], normlens[i], hits);
        }
        double t = now_s() - t0;
        t_plain = t < t_plain ? t : t_plain;
        t0 = now_s();
        h3 = named = 0;
        for (size_t i = 0; i < nk; i++) {
            int h = bv_match(mg, &kept[i], norms[i], normlens[i], hits);
            h3 += h > 0 ? (size_t)h : 0;
            const uint32_t *pe;
            named += bv_match_places(mg, &pe) > 0;
        }
        t = now_s() - t0;
        t_places = t < t_places ? t : t_places;
    }

    printf("corpus: %zu lines, %zu posts, %.1f MB; rule set: %zu rules; matches: %zu\n", c.n, posts,
           (double)c.len / 1e6, bv_rules_count(rs), matched);
    printf("\n| %-44s | %10s | %8s | %8s |\n", "stage (one core)", "posts/s", "MB/s", "seconds");
    printf("|%s|%s|%s|%s|\n", "----------------------------------------------", "------------",
           "----------", "----------");
    row("(a) JSON decoding alone (codecs)", t_decode, posts, c.len);
    row("(b) decoding + normalisation + matching", t_full, posts, c.len);
    row("    matching alone: one-pass scan", t_match, nk, 0);
    row("    matching alone: pcre2 JIT, every rule", t_ref, nk, 0);
    row("(g) matching alone, without the gazetteer", t_plain, nk, 0);
    row("(g) matching alone, with the gazetteer", t_places, nk, 0);
    row("(c) whole replay, --speed max", t_replay[0], posts, c.len);
    if (argc > 4) {
        printf("| %-44s | %10s | %8.1f | %8.3f |\n", "(c') whole replay, second corpus", "-",
               (double)cbytes[1] / t_replay[1] / 1e6, t_replay[1]);
    }
    if (redis && *redis) {
        row("(d) whole replay, memory store (best of 3)", t_mem, posts, c.len);
        row("(d) whole replay, Redis store (best of 3)", t_red, posts, c.len);
    }
    if (t_cl < 1e30) {
        row("(f) replay, one Redis over TCP (best of 3)", t_tcp, posts, c.len);
        row("(f) replay, 3-master cluster (best of 3)", t_cl, posts, c.len);
    }
    printf("\nratios (same run):\n");
    printf("  one-pass scan vs pcre2-every-rule: %.1fx faster (target >= 10x)%s\n", t_ref / t_match,
           h1 == h2 ? "" : "  ** HIT COUNTS DIFFER **");
    printf("  whole replay vs decoding alone:    %.2fx (target >= 0.6x)\n", t_decode / t_replay[0]);
    printf("  matching with the gazetteer:       %.2fx of without (target >= 0.95x); %zu of %zu "
           "posts name a place%s\n",
           t_plain / t_places, named, nk, h3 == h1 ? "" : "  ** HIT COUNTS DIFFER **");
    if (redis && *redis) {
        printf("  Redis store vs memory store:       %.2fx (target >= 0.9x); %.1f Redis commands "
               "per 1000 posts; peak RSS with Redis %ld KiB\n",
               t_mem / t_red, cmds_per_k, rss_red);
    }
    if (t_cl < 1e30) {
        printf("  Redis Cluster vs one server (TCP): %.2fx (target >= 0.9x)\n", t_tcp / t_cl);
    }
    printf("peak RSS of the replay: %ld KiB", rss[0]);
    if (argc > 4) {
        printf("; with the second corpus (%.1fx the bytes): %ld KiB",
               (double)cbytes[1] / (double)c.len, rss[1]);
    }
    printf("\n");
    for (size_t i = 0; i < nk; i++) {
        bv_post_clear(&kept[i]);
        free(norms[i]);
    }
    free(kept);
    free(norms);
    free(normlens);
    free(hits);
    bv_buf_free(&norm);
    bv_matcher_free(m);
    bv_rules_free(rs);
    bv_matcher_free(mg);
    bv_rules_free(rsg);
    bv_gazetteer_free(gz);
    bv_pseudo_free(ps);
    free(scratch);
    free(c.lines);
    free(c.lens);
    free(c.data);
    return h1 == h2 && h3 == h1 ? 0 : 1;
}
