/* log.h: one-line log messages on stderr: "blikveld: [level] who: message". Nothing is owned. */
#ifndef BV_CORE_LOG_H
#define BV_CORE_LOG_H

enum bv_log_level { BV_LOG_ERROR = 0, BV_LOG_WARN = 1, BV_LOG_INFO = 2, BV_LOG_DEBUG = 3 };

void bv_log_set_level(int level);
/* "error", "warning" (or "warn"), "info", "debug" -> the level; -1 for anything else. */
int bv_log_level_from_name(const char *name);
int bv_log_level(void);
void bv_log(int level, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
