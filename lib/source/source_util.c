/* source_util.c: helpers the live sources share; see source_util.h. */
#include "source/source_util.h"
#include "core/file.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bv_source_url_ok(const char *url)
{
    return url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0);
}

int bv_source_name_ok(const char *name)
{
    for (const char *c = name ? name : ""; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.')) {
            return 0;
        }
    }
    return name == NULL || strlen(name) <= 64;
}

void bv_source_easy_defaults(CURL *easy, char *errbuf)
{
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT,
                     "linux:blikveld:0.1 (crisis monitoring for Dutch municipalities)");
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
}

struct curl_slist *bv_source_auth_header(struct curl_slist *h, const char *scheme,
                                         const char *token)
{
    size_t n = strlen(scheme) + strlen(token) + 32;
    char *line = malloc(n);
    struct curl_slist *nh = NULL;
    if (line) {
        snprintf(line, n, "Authorization: %s %s", scheme, token);
        nh = curl_slist_append(h, line);
        memset(line, 0, n);
        free(line);
    }
    if (nh == NULL) {
        curl_slist_free_all(h);
    }
    return nh;
}

void bv_source_arm(struct event *ev, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(ev, &tv);
}

int64_t bv_source_backoff(int64_t *wait, int64_t lo, int64_t hi, int refused)
{
    *wait = refused ? hi : bv_source_doubled(*wait, lo, hi);
    return *wait;
}

int64_t bv_source_doubled(int64_t last, int64_t lo, int64_t hi)
{
    int64_t w = last ? last * 2 : lo;
    return w > hi ? hi : w;
}

void bv_source_set_error(bv_source_stats *st, const char *detail)
{
    size_t n = strlen(detail);
    if (n >= sizeof st->last_error) {
        n = sizeof st->last_error - 1;
    }
    memcpy(st->last_error, detail, n);
    st->last_error[n] = '\0';
}

char *bv_source_state_path(const char *dir, const char *kind, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(kind) + strlen(name) + strlen(ext) + 4;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s/%s-%s.%s", dir, kind, name, ext);
    }
    return p;
}

int bv_source_state_save(const char *path, const char *text)
{
    size_t pl = strlen(path) + 8;
    char *tmp = malloc(pl);
    if (tmp == NULL) {
        return ENOMEM;
    }
    snprintf(tmp, pl, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t n = strlen(text);
    int err = 0;
    if (fd < 0 || write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        err = errno ? errno : EIO;
    }
    if (fd >= 0 && close(fd) != 0 && err == 0) {
        err = errno;
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
    }
    if (err) {
        unlink(tmp);
    }
    free(tmp);
    return err;
}

int bv_source_state_load(const char *path, char *buf, size_t size)
{
    char *data = NULL;
    size_t len = 0;
    int err = 0;
    if (bv_file_read(path, size + 2, &data, &len, &err) != 0) {
        return -1;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) {
        len--;
    }
    int rc = len > 0 && len < size && memchr(data, '\n', len) == NULL ? 0 : -1;
    if (rc == 0) {
        memcpy(buf, data, len);
        buf[len] = '\0';
    }
    free(data);
    return rc;
}
