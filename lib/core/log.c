/* log.c: stderr logging with a level; see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

static int log_level = BV_LOG_WARN;

void bv_log_set_level(int level)
{
    log_level = level;
}

int bv_log_level(void)
{
    return log_level;
}

void bv_log(int level, const char *who, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > log_level) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "blikveld: %s: %s%s",
            names[level < 0   ? 0
                  : level > 3 ? 3
                              : level],
            who ? who : "", who ? ": " : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
