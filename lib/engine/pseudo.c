/* pseudo.c: keyed-hash pseudonyms for authors (OpenSSL HMAC-SHA256); see pseudo.h. */
#include "engine/pseudo.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bv_pseudo {
    size_t keylen;
    unsigned char key[64];
};

bv_pseudo *bv_pseudo_new(const void *key, size_t keylen)
{
    bv_pseudo *ps = calloc(1, sizeof *ps);
    if (ps == NULL || keylen == 0) {
        free(ps);
        return NULL;
    }
    if (keylen > sizeof ps->key) {
        /* HMAC hashes long keys anyway; keep the first 64 bytes' worth by hashing ourselves */
        unsigned int n = 0;
        HMAC(EVP_sha256(), "blikveld-key", 12, key, keylen, ps->key, &n);
        ps->keylen = n;
    } else {
        memcpy(ps->key, key, keylen);
        ps->keylen = keylen;
    }
    return ps;
}

void bv_pseudo_free(bv_pseudo *ps)
{
    if (ps) {
        OPENSSL_cleanse(ps->key, sizeof ps->key);
        free(ps);
    }
}

void bv_pseudo_author(const bv_pseudo *ps, bv_platform platform, const char *raw, size_t len,
                      uint8_t out[BV_PSEUDO_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    /* one-shot HMAC over "platform:raw" */
    const char *pn = bv_platform_name(platform);
    size_t pl = strlen(pn);
    unsigned char stackbuf[256];
    unsigned char *msg = stackbuf;
    if (pl + 1 + len > sizeof stackbuf) {
        msg = malloc(pl + 1 + len);
        if (msg == NULL) {
            memset(out, 0, BV_PSEUDO_LEN);
            return;
        }
    }
    memcpy(msg, pn, pl);
    msg[pl] = ':';
    memcpy(msg + pl + 1, raw, len);
    HMAC(EVP_sha256(), ps->key, (int)ps->keylen, msg, pl + 1 + len, md, &mdlen);
    if (msg != stackbuf) {
        free(msg);
    }
    memcpy(out, md, BV_PSEUDO_LEN);
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

int bv_pseudo_load(bv_pseudo **out, const char *state_dir, char *errstr, size_t errlen)
{
    const char *env = getenv("BLIKVELD_PSEUDONYM_KEY");
    *out = NULL;
    if (env && *env) {
        if (strlen(env) < 16) {
            snprintf(errstr, errlen, "BLIKVELD_PSEUDONYM_KEY is too short (at least 16 characters)");
            return BV_EINVAL;
        }
        *out = bv_pseudo_new(env, strlen(env));
        return *out ? BV_OK : BV_ENOMEM;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/pseudonym.key", state_dir) >= (int)sizeof path) {
        snprintf(errstr, errlen, "state_dir path too long");
        return BV_EINVAL;
    }
    unsigned char key[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (mkdir_p(state_dir) != 0) {
            snprintf(errstr, errlen, "cannot create state_dir %s: %s", state_dir, strerror(errno));
            return BV_EIO;
        }
        if (RAND_bytes(key, sizeof key) != 1) {
            snprintf(errstr, errlen, "no random bytes for the pseudonym key");
            return BV_ERR;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ssize_t w = write(fd, key, sizeof key);
            int werr = errno;
            close(fd);
            if (w != (ssize_t)sizeof key) {
                unlink(path);
                snprintf(errstr, errlen, "cannot write %s: %s", path, strerror(werr));
                return BV_EIO;
            }
            *out = bv_pseudo_new(key, sizeof key);
            OPENSSL_cleanse(key, sizeof key);
            return *out ? BV_OK : BV_ENOMEM;
        }
        if (errno != EEXIST) {
            snprintf(errstr, errlen, "cannot create %s: %s", path, strerror(errno));
            return BV_EIO;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC); /* another process made it first */
    }
    if (fd < 0) {
        snprintf(errstr, errlen, "cannot open %s: %s", path, strerror(errno));
        return BV_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
        close(fd);
        snprintf(errstr, errlen, "%s is readable by others (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return BV_EINVAL;
    }
    ssize_t n = read(fd, key, sizeof key);
    close(fd);
    if (n < 16) {
        snprintf(errstr, errlen, "%s is too short (%zd bytes)", path, n);
        return BV_EINVAL;
    }
    *out = bv_pseudo_new(key, (size_t)n);
    OPENSSL_cleanse(key, sizeof key);
    return *out ? BV_OK : BV_ENOMEM;
}
