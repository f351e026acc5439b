/* redisutil.h: starts a private redis-server for a unit test and stops it: a fresh temp dir, a
 * unix socket in it (and optionally TCP on 127.0.0.1), no persistence. Test code only.
 *
 * tu_redis_start spawns `redis-server --port 0 --unixsocket DIR/r.sock --save "" --appendonly no
 * --dir DIR` with its stdout on a pipe, and waits (poll with a deadline, never a fixed sleep) for
 * the line saying "Ready to accept connections" (redis 7.0 with TCP off says "The server is now
 * ready to accept connections at PATH" instead; either comes once every listener is bound). The
 * pipe is closed after that: redis-server ignores SIGPIPE, so its later log lines are simply
 * lost. tu_redis_stop kills it, reaps it and removes the dir. A test that must fail without
 * redis-server checks the start's result. */
#ifndef BV_TEST_REDISUTIL_H
#define BV_TEST_REDISUTIL_H

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct tu_redis {
    pid_t pid; /* 0 when not running */
    char dir[256];
    char sock[300];
} tu_redis;

#define TU_REDIS_READY "Ready to accept connections"
#define TU_REDIS_READY_UNIX "ready to accept connections"
#define TU_REDIS_READY_MS 20000 /* generous: only a broken install takes this long */
#define TU_REDIS_MAX_ARGS 64

/* Removes the files in r->dir (redis leaves only flat files there) and the dir itself. */
static inline void tu_redis_rmdir(tu_redis *r)
{
    if (r->dir[0] == '\0') {
        return;
    }
    DIR *d = opendir(r->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char path[600];
            snprintf(path, sizeof path, "%s/%s", r->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(r->dir);
    r->dir[0] = '\0';
}

/* Kills the server (if it runs), reaps it and removes its dir. Safe to call twice, or after a
 * failed start. */
static inline void tu_redis_stop(tu_redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        r->pid = 0;
    }
    tu_redis_rmdir(r);
}

static inline long tu_redis_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the server's stdout until the ready line: 0, or -1 when it exited or the deadline
 * passed. What it printed is echoed to stderr on failure. */
static inline int tu_redis_wait_ready(int fd)
{
    char log[8192];
    size_t n = 0;
    long deadline = tu_redis_now_ms() + TU_REDIS_READY_MS;
    for (;;) {
        long left = deadline - tu_redis_now_ms();
        if (left <= 0) {
            fprintf(stderr, "redisutil: redis-server not ready after %d ms\n", TU_REDIS_READY_MS);
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            continue; /* the deadline check above ends it */
        }
        if (n == sizeof log) {
            /* keep the last part: the ready line may straddle the cut */
            memmove(log, log + sizeof log / 2, sizeof log / 2);
            n = sizeof log / 2;
        }
        ssize_t nr = read(fd, log + n, sizeof log - n);
        if (nr < 0 && errno == EINTR) {
            continue;
        }
        if (nr <= 0) {
            fprintf(stderr, "redisutil: redis-server exited before it was ready\n");
            break;
        }
        n += (size_t)nr;
        if (memmem(log, n, TU_REDIS_READY, strlen(TU_REDIS_READY)) != NULL ||
            memmem(log, n, TU_REDIS_READY_UNIX, strlen(TU_REDIS_READY_UNIX)) != NULL) {
            return 0;
        }
    }
    fprintf(stderr, "%.*s\n", (int)n, log);
    return -1;
}

/* Starts redis-server on a unix socket in a fresh temp dir, and on TCP 127.0.0.1:port too when
 * port is not 0. extra_args (may be NULL) are more space-separated arguments ("--maxmemory 1mb").
 * Returns 0 with r filled, or -1 (r cleaned up; nothing left running) when redis-server is
 * missing, fails to start or does not get ready. */
static inline int tu_redis_start_port(tu_redis *r, int port, const char *extra_args)
{
    memset(r, 0, sizeof *r);
    const char *tmp = "/tmp"; /* a short path: unix socket paths are limited to ~107 bytes */
    snprintf(r->dir, sizeof r->dir, "%s/bv-redis-XXXXXX", tmp);
    if (mkdtemp(r->dir) == NULL) {
        fprintf(stderr, "redisutil: mkdtemp: %s\n", strerror(errno));
        r->dir[0] = '\0';
        return -1;
    }
    snprintf(r->sock, sizeof r->sock, "%s/r.sock", r->dir);

    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    char extra[1024] = "";
    if (extra_args != NULL) {
        snprintf(extra, sizeof extra, "%s", extra_args);
    }
    char *argv[TU_REDIS_MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = (char *)"redis-server";
    argv[argc++] = (char *)"--port";
    argv[argc++] = portstr;
    if (port != 0) {
        argv[argc++] = (char *)"--bind";
        argv[argc++] = (char *)"127.0.0.1";
    }
    argv[argc++] = (char *)"--unixsocket";
    argv[argc++] = r->sock;
    argv[argc++] = (char *)"--save";
    argv[argc++] = (char *)"";
    argv[argc++] = (char *)"--appendonly";
    argv[argc++] = (char *)"no";
    argv[argc++] = (char *)"--dir";
    argv[argc++] = r->dir;
    /* split extra in place at spaces */
    for (char *p = extra; *p != '\0';) {
        while (*p == ' ') {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        if (argc == TU_REDIS_MAX_ARGS) {
            fprintf(stderr, "redisutil: too many extra arguments\n");
            tu_redis_rmdir(r);
            return -1;
        }
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
    }
    argv[argc] = NULL;

    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        tu_redis_rmdir(r);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2); /* never the test's own stderr */
    pid_t pid;
    int rc = posix_spawnp(&pid, "redis-server", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        fprintf(stderr, "redisutil: cannot start redis-server: %s\n", strerror(rc));
        close(out[0]);
        tu_redis_rmdir(r);
        return -1;
    }
    r->pid = pid;
    rc = tu_redis_wait_ready(out[0]);
    close(out[0]);
    if (rc != 0) {
        tu_redis_stop(r);
        return -1;
    }
    return 0;
}

/* tu_redis_start_port without TCP. */
static inline int tu_redis_start(tu_redis *r, const char *extra_args)
{
    return tu_redis_start_port(r, 0, extra_args);
}

/* Entry idx of an outbox stream (alert/shared.h) as Redis holds it: exactly the fields key, at,
 * deadline, targets and alert, each byte for byte. */
static inline void tu_redis_expect_entry(redisContext *c, const char *stream, size_t idx,
                                         const char *key, long long at, long long deadline,
                                         const char *targets, const char *alert, size_t alert_len)
{
    redisReply *r = redisCommand(c, "XRANGE %s - +", stream);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements > idx);
    const redisReply *f = r->element[idx]->element[1];
    assert_int_equal(f->elements, 10);
    char num[32];
    int seen = 0;
    for (size_t k = 0; k + 1 < f->elements; k += 2) {
        const char *name = f->element[k]->str;
        const redisReply *v = f->element[k + 1];
        if (strcmp(name, "key") == 0) {
            assert_string_equal(v->str, key);
            seen |= 1;
        } else if (strcmp(name, "at") == 0) {
            snprintf(num, sizeof num, "%lld", at);
            assert_string_equal(v->str, num);
            seen |= 2;
        } else if (strcmp(name, "deadline") == 0) {
            snprintf(num, sizeof num, "%lld", deadline);
            assert_string_equal(v->str, num);
            seen |= 4;
        } else if (strcmp(name, "targets") == 0) {
            assert_int_equal(v->len, strlen(targets));
            assert_memory_equal(v->str, targets, v->len);
            seen |= 8;
        } else if (strcmp(name, "alert") == 0) {
            assert_int_equal(v->len, alert_len);
            assert_memory_equal(v->str, alert, alert_len);
            seen |= 16;
        }
    }
    assert_int_equal(seen, 31);
    freeReplyObject(r);
}

#endif
