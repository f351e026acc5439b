/* redis_cmd.c: building a Redis command argument by argument; see redis_cmd.h. */
#include "net/redis_cmd.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bv_redis_cmd_reset(bv_redis_cmd *c)
{
    bv_buf_reset(&c->args);
    c->nargs = 0;
}

void bv_redis_cmd_free(bv_redis_cmd *c)
{
    bv_buf_free(&c->args);
    free(c->argoff);
    free(c->arglen);
    free((void *)c->argv);
    memset(c, 0, sizeof *c);
}

int bv_redis_cmd_arg(bv_redis_cmd *c, const void *p, size_t n)
{
    if (c->nargs == c->capargs) {
        size_t nc = c->capargs ? c->capargs * 2 : 64;
        size_t *no = realloc(c->argoff, nc * sizeof *no);
        if (no) {
            c->argoff = no;
        }
        size_t *nl = no ? realloc(c->arglen, nc * sizeof *nl) : NULL;
        if (nl) {
            c->arglen = nl;
        }
        const char **nv = nl ? realloc((void *)c->argv, nc * sizeof *nv) : NULL;
        if (nv == NULL) {
            return BV_ENOMEM;
        }
        c->argv = nv;
        c->capargs = nc;
    }
    c->argoff[c->nargs] = c->args.len;
    c->arglen[c->nargs] = n;
    c->nargs++;
    return bv_buf_append(&c->args, p, n);
}

int bv_redis_cmd_str(bv_redis_cmd *c, const char *s)
{
    return bv_redis_cmd_arg(c, s, strlen(s));
}

int bv_redis_cmd_fmt(bv_redis_cmd *c, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return BV_EINVAL;
    }
    return bv_redis_cmd_arg(c, tmp, (size_t)n);
}

size_t bv_redis_cmd_nargs(const bv_redis_cmd *c)
{
    return c->nargs;
}

int bv_redis_cmd_set(bv_redis_cmd *c, size_t i, const void *p, size_t n)
{
    if (i >= c->nargs) {
        return BV_EINVAL;
    }
    size_t off = c->args.len; /* the new bytes go at the end; the old ones stay unused */
    if (bv_buf_append(&c->args, p, n) != 0) {
        return BV_ENOMEM;
    }
    c->argoff[i] = off;
    c->arglen[i] = n;
    return BV_OK;
}

const char *bv_redis_cmd_get(const bv_redis_cmd *c, size_t i, size_t *len)
{
    if (i >= c->nargs) {
        return NULL;
    }
    *len = c->arglen[i];
    return c->args.p + c->argoff[i];
}

const char **bv_redis_cmd_argv(bv_redis_cmd *c)
{
    for (size_t i = 0; i < c->nargs; i++) {
        c->argv[i] = c->args.p + c->argoff[i];
    }
    return c->argv;
}

void bv_redis_cmd_move(bv_redis_cmd *dst, bv_redis_cmd *src)
{
    bv_redis_cmd_free(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}
