/* err.h: the error codes every blikveld function returns (0 or a negative bv_err).
 * Detail goes into the caller's errstr or a bv_diag; the code says only what kind of failure. */
#ifndef BV_CORE_ERR_H
#define BV_CORE_ERR_H

enum bv_err {
    BV_OK = 0,
    BV_ERR = -1,    /* generic failure, see errstr / diagnostic */
    BV_ENOMEM = -2, /* allocation failed */
    BV_EINVAL = -3, /* bad argument or bad input */
    BV_EIO = -4,    /* I/O error (errno has more) */
    BV_ELIMIT = -5, /* a configured limit was hit (size, depth, count) */
    BV_EAGAIN = -6, /* not now: more input needed, or try later */
    BV_ENOENT = -7, /* not found */
};

/* A short static name for an error code ("out of memory", ...). Never NULL. */
const char *bv_strerror(int err);

#endif
