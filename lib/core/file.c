/* file.c: whole-file reads with a size limit, and mkdir -p; see file.h. */
#include "core/file.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int bv_file_read(const char *path, size_t max, char **out, size_t *len, int *err)
{
    *out = NULL;
    *len = 0;
    *err = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *err = errno;
        return BV_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *err = EINVAL;
        close(fd);
        return BV_EIO;
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        *err = EFBIG;
        return BV_ELIMIT;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return BV_ENOMEM;
    }
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            *err = errno;
            close(fd);
            free(buf);
            return BV_EIO;
        }
        if (r == 0) {
            break; /* the file shrank while we read it: take what is there */
        }
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return BV_OK;
}

int bv_file_mkdirs(const char *dir)
{
    char *tmp = strdup(dir);
    if (tmp == NULL) {
        errno = ENOMEM;
        return -1;
    }
    int rc = 0;
    for (char *p = tmp + 1; *p && rc == 0; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
                rc = -1;
            }
            *p = '/';
        }
    }
    if (rc == 0 && mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        rc = -1;
    }
    int err = errno;
    free(tmp);
    if (rc != 0) {
        errno = err;
        return -1;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Opens PATH.lock and takes its exclusive lock (blocking: holders keep it for one write). */
static int lock_open(const char *path)
{
    char lp[4096];
    if (snprintf(lp, sizeof lp, "%s.lock", path) >= (int)sizeof lp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
    return fd;
}

int bv_file_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int bv_file_append_locked(const char *path, const char *data, size_t len, int sync)
{
    int lk = lock_open(path);
    if (lk < 0) {
        return -1;
    }
    int rc = -1, e = 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        if (bv_file_write_all(fd, data, len) == 0 && (!sync || fdatasync(fd) == 0)) {
            rc = 0;
        } else {
            /* cut back a partial line (we hold the lock), so it never joins the next one */
            e = errno;
            if (ftruncate(fd, st.st_size) != 0) {
                /* readers skip the fragment's line */
            }
            errno = e;
        }
    }
    e = errno;
    if (fd >= 0) {
        close(fd);
    }
    close(lk);
    errno = e;
    return rc;
}

int bv_file_rewrite_locked(const char *path, size_t max, int (*keep)(void *arg, char *line),
                           void *arg, size_t *dropped)
{
    *dropped = 0;
    int lk = lock_open(path);
    if (lk < 0) {
        return -1;
    }
    char *text = NULL, tmp[4096];
    size_t len = 0;
    int err = 0, rc = -1, fd = -1;
    int r = bv_file_read(path, max, &text, &len, &err);
    if (r != BV_OK) {
        rc = r == BV_EIO && err == ENOENT ? 0 : -1;
        err = r == BV_ELIMIT ? EFBIG : r == BV_ENOMEM ? ENOMEM : err;
        goto out;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        err = ENAMETOOLONG;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        char *nl = memchr(text + off, '\n', len - off);
        if (nl == NULL) {
            (*dropped)++;
            break;
        }
        *nl = '\0';
        size_t n = (size_t)(nl - (text + off));
        if (keep(arg, text + off)) {
            text[off + n] = '\n';
            if (bv_file_write_all(fd, text + off, n + 1) != 0) {
                err = errno;
                goto out;
            }
        } else {
            (*dropped)++;
        }
        off += n + 1;
    }
    if (fdatasync(fd) != 0 || rename(tmp, path) != 0) {
        err = errno;
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        if (rc != 0) {
            unlink(tmp);
        }
    }
    free(text);
    close(lk);
    errno = err;
    return rc;
}
