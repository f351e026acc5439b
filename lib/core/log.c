/* log.c: stderr logging with a level; see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int log_level = BV_LOG_WARN;

void bv_log_set_level(int level)
{
    log_level = level;
}

int bv_log_level_from_name(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"error", BV_LOG_ERROR},
                 {"warning", BV_LOG_WARN},
                 {"warn", BV_LOG_WARN},
                 {"info", BV_LOG_INFO},
                 {"debug", BV_LOG_DEBUG}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            return names[i].level;
        }
    }
    return -1;
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
