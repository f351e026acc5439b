/* err.c: names of bv_err codes. */
#include "core/err.h"

const char *bv_strerror(int err)
{
    switch (err) {
    case BV_OK:
        return "ok";
    case BV_ENOMEM:
        return "out of memory";
    case BV_EINVAL:
        return "invalid input";
    case BV_EIO:
        return "I/O error";
    case BV_ELIMIT:
        return "limit exceeded";
    case BV_EAGAIN:
        return "try again";
    case BV_ENOENT:
        return "not found";
    default:
        return "error";
    }
}
