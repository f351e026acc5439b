/* pseudo.c: keyed-hash pseudonyms for authors (OpenSSL HMAC-SHA256); see pseudo.h. */
#include "engine/pseudo.h"
#include "core/err.h"
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bv_pseudo {
    size_t keylen;
    unsigned char key[64];
    /* HMAC with the key set once: re-initialising with a NULL key reuses the keyed state, which
     * saves the key schedule and the algorithm fetch of one-shot HMAC() on every post. */
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
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
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    ps->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ps->ctx = ps->mac ? EVP_MAC_CTX_new(ps->mac) : NULL;
    if (ps->ctx == NULL || EVP_MAC_init(ps->ctx, ps->key, ps->keylen, params) != 1) {
        bv_pseudo_free(ps);
        return NULL;
    }
    return ps;
}

void bv_pseudo_free(bv_pseudo *ps)
{
    if (ps) {
        EVP_MAC_CTX_free(ps->ctx);
        EVP_MAC_free(ps->mac);
        OPENSSL_cleanse(ps->key, sizeof ps->key);
        free(ps);
    }
}

void bv_pseudo_author(const bv_pseudo *ps, bv_platform platform, const char *raw, size_t len,
                      uint8_t out[BV_PSEUDO_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    const char *pn = bv_platform_name(platform);
    /* HMAC over "platform:raw"; the context keeps the key (see struct bv_pseudo) */
    if (EVP_MAC_init(ps->ctx, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(ps->ctx, (const unsigned char *)pn, strlen(pn)) != 1 ||
        EVP_MAC_update(ps->ctx, (const unsigned char *)":", 1) != 1 ||
        EVP_MAC_update(ps->ctx, (const unsigned char *)raw, len) != 1 ||
        EVP_MAC_final(ps->ctx, md, &mdlen, sizeof md) != 1 || mdlen < BV_PSEUDO_LEN) {
        memset(out, 0, BV_PSEUDO_LEN);
        return;
    }
    memcpy(out, md, BV_PSEUDO_LEN);
}

int bv_pseudo_load(bv_pseudo **out, const char *state_dir, char *errstr, size_t errlen)
{
    const char *env = getenv("BLIKVELD_PSEUDONYM_KEY");
    *out = NULL;
    if (env && *env) {
        if (strlen(env) < 16) {
            snprintf(errstr, errlen,
                     "BLIKVELD_PSEUDONYM_KEY is too short (at least 16 characters)");
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
        if (bv_file_mkdirs(state_dir) != 0) {
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
