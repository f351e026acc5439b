/* common.c: what the subcommands share when they wire things: the event they run (its name,
 * state directory, Redis address, rule set and pseudonym key), the `redis:` config section and
 * the Redis or memory store it gives, the alert outputs, and the store part of the summary. */
#include "alert/sink.h"
#include "cmd.h"
#include "core/err.h"
#include "core/file.h"
#include "engine/store_memory.h"
#include "engine/store_redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const bv_option bv_cmd_redis_table[] = {
    BV_OPTION("url", BV_OPT_STRING, bv_cmd_redis_conf, url, NULL,
              "redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:PATH[?db=N]"),
    BV_OPTION("password_env", BV_OPT_STRING, bv_cmd_redis_conf, password_env, NULL,
              "the environment variable holding the password (keeps it out of the file)"),
    BV_OPTION_RANGE("flush", BV_OPT_DURATION, bv_cmd_redis_conf, flush_ms, "250ms", 1, 60000,
                    "the longest counts wait before they go to Redis"),
    BV_OPTION_RANGE("timeout", BV_OPT_DURATION, bv_cmd_redis_conf, timeout_ms, "5s", 10, 600000,
                    "how long connecting or a round may take before the connection is retried"),
    BV_OPTION_RANGE("max_pending", BV_OPT_INT, bv_cmd_redis_conf, max_pending, "1000000", 1,
                    1000000000, "author entries and buckets kept while Redis is away"),
    BV_OPTION_END,
};

void bv_cmd_print_store(const bv_store_stats *ss, const char *where, const char *ns, uint64_t posts)
{
    if (ss->state == NULL) {
        fprintf(stderr, "  store           memory: %llu series, %llu buckets, %llu author entries",
                (unsigned long long)ss->series, (unsigned long long)ss->buckets,
                (unsigned long long)ss->author_entries);
        if (ss->dropped_old) {
            fprintf(stderr, ", %llu counts older than kept", (unsigned long long)ss->dropped_old);
        }
        fputc('\n', stderr);
        return;
    }
    fprintf(stderr, "  store           redis %s, keys under bv:{%s/RULE}\n", where, ns);
    if (ss->cluster_masters) {
        fprintf(stderr,
                "    cluster       %zu masters; redirects followed: %llu MOVED, %llu ASK, %llu "
                "TRYAGAIN\n",
                ss->cluster_masters, (unsigned long long)ss->moved, (unsigned long long)ss->ask,
                (unsigned long long)ss->tryagain);
    }
    fprintf(stderr, "    connection    %s, %llu reconnects, %llu errors\n", ss->state,
            (unsigned long long)ss->reconnects, (unsigned long long)ss->errors);
    fprintf(stderr, "    pending       %llu deltas now, %llu at most",
            (unsigned long long)ss->pending, (unsigned long long)ss->pending_peak);
    if (ss->dropped_pending) {
        fprintf(stderr, ", %llu DROPPED past max_pending", (unsigned long long)ss->dropped_pending);
    }
    fputc('\n', stderr);
    fprintf(stderr,
            "    rounds        %llu, flush latency avg %.1f ms, max %.1f ms, last %.1f ms\n",
            (unsigned long long)ss->flushes, ss->flush_ms_avg, ss->flush_ms_max, ss->flush_ms_last);
    if (ss->found_counts && !ss->waits) {
        fprintf(stderr, "    NOTE          this run's keys held counts before it started: a re-run "
                        "of a drill needs a new --run name\n");
    }
    if (ss->waits) {
        fprintf(stderr,
                "    shared        other processes count here too: reads waited %llu times "
                "for their counts\n",
                (unsigned long long)ss->waits);
    }
    fprintf(stderr, "    commands      %llu (%.1f per 1000 posts)\n",
            (unsigned long long)ss->commands,
            posts ? (double)ss->commands * 1000.0 / (double)posts : 0.0);
    fprintf(stderr, "    windows       %llu series, %llu buckets, %llu author registers",
            (unsigned long long)ss->series, (unsigned long long)ss->buckets,
            (unsigned long long)ss->author_entries);
    if (ss->dropped_old) {
        fprintf(stderr, ", %llu counts older than kept", (unsigned long long)ss->dropped_old);
    }
    fputc('\n', stderr);
}

char *bv_cmd_default_state_dir(void)
{
    const char *x = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char buf[4096];
    if (x && *x) {
        snprintf(buf, sizeof buf, "%s/blikveld", x);
    } else if (home && *home) {
        snprintf(buf, sizeof buf, "%s/.local/state/blikveld", home);
    } else {
        snprintf(buf, sizeof buf, ".blikveld-state");
    }
    return strdup(buf);
}

/* "project-x" from "rules/project-x.yaml" */
char *bv_cmd_name_from_path(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *dot = strrchr(b, '.');
    if (dot && dot != b) {
        n = (size_t)(dot - b);
    }
    return strndup(b, n);
}

/* Names that go into store keys: no braces (hash tags), no spaces, nothing odd. */
int bv_cmd_name_ok(const char *s)
{
    if (*s == '\0' || strlen(s) > 100) {
        return 0;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.')) {
            return 0;
        }
    }
    return 1;
}

bv_store *bv_cmd_store_new(struct event_base *base, const bv_redis_addr *addr,
                           const bv_cmd_redis_conf *rc, const char *cmd)
{
    if (addr == NULL) {
        return bv_store_memory_new(base);
    }
    const char *pw = NULL;
    if (rc->password_env) {
        pw = getenv(rc->password_env);
        if (pw == NULL) {
            fprintf(stderr, "blikveld %s: redis.password_env names %s, which is not set\n", cmd,
                    rc->password_env);
            return NULL;
        }
    }
    bv_store_redis_opts so = {
        .addr = addr,
        .password = pw,
        .flush_ms = rc->flush_ms,
        .timeout_ms = rc->timeout_ms,
        .max_pending = (uint64_t)rc->max_pending,
    };
    char errstr[512];
    bv_store *store = bv_store_redis_new(base, &so, errstr, sizeof errstr);
    if (store == NULL) {
        fprintf(stderr, "blikveld %s: redis: %s\n", cmd, errstr);
    }
    return store;
}

const bv_option bv_cmd_places_table[] = {
    BV_OPTION("municipality", BV_OPT_STRING, bv_cmd_places_conf, municipality, NULL,
              "the municipality the event is in: what `place: own` in a rule means"),
    BV_OPTION("extra", BV_OPT_PATH, bv_cmd_places_conf, extra, NULL,
              "its own place names, one per line: neighbourhoods, squares, streets, venues"),
    BV_OPTION_END,
};

int bv_cmd_event_setup(bv_cmd_event *ev, const bv_cmd_event_args *a)
{
    char errstr[1024];
    bv_diag diag;
    memset(ev, 0, sizeof *ev);
    const char *url = a->redis_flag ? a->redis_flag : a->conf_redis;
    if (url) {
        if (bv_redis_url_parse(url, strlen(url), &ev->raddr, errstr, sizeof errstr) != 0) {
            fprintf(stderr, "blikveld %s: redis: %s\n", a->cmd, errstr);
            return 2;
        }
        ev->redis = 1;
        bv_redis_addr_format(&ev->raddr, ev->where, sizeof ev->where);
    }
    const char *name = a->name_flag ? a->name_flag : a->conf_name;
    ev->name = name && *name ? strdup(name) : bv_cmd_name_from_path(a->rules[0]);
    ev->state_dir = a->state_flag   ? strdup(a->state_flag)
                    : a->conf_state ? strdup(a->conf_state)
                                    : bv_cmd_default_state_dir();
    if (ev->name == NULL || ev->state_dir == NULL) {
        fprintf(stderr, "blikveld %s: out of memory\n", a->cmd);
        return 1;
    }
    if (!bv_cmd_name_ok(ev->name)) {
        fprintf(stderr,
                "blikveld %s: the event's name '%s' may hold only letters, digits, '-', '_' "
                "and '.' (give --event NAME)\n",
                a->cmd, ev->name);
        return 2;
    }
    if (a->create_state_dir && bv_file_mkdirs(ev->state_dir) != 0) {
        fprintf(stderr, "blikveld %s: state_dir %s: %s\n", a->cmd, ev->state_dir, strerror(errno));
        return 1;
    }
    ev->places = bv_gazetteer_new();
    if (ev->places == NULL) {
        fprintf(stderr, "blikveld %s: out of memory\n", a->cmd);
        return 1;
    }
    if (a->places && a->places->extra &&
        bv_gazetteer_load_extra(ev->places, a->places->extra, &diag) != 0) {
        fprintf(stderr, "%s\n", bv_diag_format(&diag, errstr, sizeof errstr));
        return 1;
    }
    bv_rules_opts ro = {.places = ev->places, .own = a->places ? a->places->municipality : NULL};
    if (bv_rules_load_opts(&ev->rs, a->rules, a->nrules, &ro, &diag) != 0) {
        fprintf(stderr, "%s\n", bv_diag_format(&diag, errstr, sizeof errstr));
        return 1;
    }
    if (bv_pseudo_load(&ev->pseudo, ev->state_dir, errstr, sizeof errstr) != 0) {
        fprintf(stderr, "blikveld %s: pseudonym key: %s\n", a->cmd, errstr);
        return 1;
    }
    return 0;
}

void bv_cmd_event_free(bv_cmd_event *ev)
{
    bv_pseudo_free(ev->pseudo);
    bv_rules_free(ev->rs);
    bv_gazetteer_free(ev->places);
    free(ev->name);
    free(ev->state_dir);
    bv_redis_addr_free(&ev->raddr);
    memset(ev, 0, sizeof *ev);
}

int bv_cmd_sinks_open(bv_sink **sinks, size_t *n, bv_sink_format format, const char *alerts_path,
                      const char *mode, const char *cmd)
{
    *n = 0;
    sinks[(*n)++] = bv_sink_stream_new(stdout, 0, format, NULL);
    if (sinks[0] == NULL) {
        return -1;
    }
    if (alerts_path) {
        FILE *af = fopen(alerts_path, mode);
        if (af == NULL) {
            fprintf(stderr, "blikveld %s: %s: %s\n", cmd, alerts_path, strerror(errno));
            return -1;
        }
        sinks[*n] = bv_sink_stream_new(af, 1, BV_FORMAT_JSON, NULL);
        if (sinks[*n] == NULL) {
            fclose(af);
            return -1;
        }
        (*n)++;
    }
    return 0;
}

uint64_t bv_cmd_print_posts(const bv_pipeline_stats *ps)
{
    uint64_t posts = bv_pipeline_posts(ps);
    fprintf(stderr, "  posts           %llu", (unsigned long long)posts);
    for (int i = 0; i < BV_PLATFORM__COUNT; i++) {
        if (ps->posts[i]) {
            fprintf(stderr, "  %s %llu", bv_platform_name((bv_platform)i),
                    (unsigned long long)ps->posts[i]);
        }
    }
    fputc('\n', stderr);
    return posts;
}

void bv_cmd_print_late(const bv_pipeline_stats *ps)
{
    fprintf(stderr, "  late posts      %llu (not counted in windows)\n",
            (unsigned long long)ps->late);
    if (ps->duplicates) {
        fprintf(stderr, "  duplicates      %llu (matching posts seen before: counted once)\n",
                (unsigned long long)ps->duplicates);
    }
    if (ps->clamped) {
        fprintf(stderr, "  future posts    %llu (clamped to their receive time)\n",
                (unsigned long long)ps->clamped);
    }
}

void bv_cmd_print_alerts(const bv_ruleset *rs, const bv_pipeline_stats *ps, const bv_book_stats *bs,
                         uint64_t firing, uint64_t resolved)
{
    fprintf(stderr, "  matches\n");
    for (size_t i = 0; i < bv_rules_count(rs); i++) {
        fprintf(stderr, "    %-28s %llu\n", bv_rules_get(rs, i)->id,
                (unsigned long long)ps->matches[i]);
    }
    fprintf(stderr, "  alerts          %llu firing, %llu resolved, %zu still firing at the end",
            (unsigned long long)firing, (unsigned long long)resolved, bs->firing_now);
    if (bs->suppressed) {
        fprintf(stderr, ", %llu held back by cooldown", (unsigned long long)bs->suppressed);
    }
    fputc('\n', stderr);
}
