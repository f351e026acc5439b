/* file.c: whole-file reads with a size limit, and mkdir -p; see file.h. */
#include "core/file.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
