/* file.h: reading a whole, bounded, regular file into memory: what every file parser (rules,
 * lists, config) needs first. Refusing non-regular files keeps a path like /dev/stdin or a FIFO
 * from blocking a loader. The caller frees what it gets. Also mkdir -p for state and recording
 * directories. */
#ifndef BV_CORE_FILE_H
#define BV_CORE_FILE_H

#include <stddef.h>

/* Reads the regular file at path (borrowed), at most max bytes, into *out (caller frees;
 * NUL-terminated; *len excludes the NUL). Returns 0, BV_EIO (*err: the errno, EINVAL for a file
 * that is not regular), BV_ELIMIT (larger than max; *err EFBIG) or BV_ENOMEM. */
int bv_file_read(const char *path, size_t max, char **out, size_t *len, int *err);

/* mkdir -p: creates dir and its missing parents with mode 0700 (what exists is left as it is).
 * 0 when dir is a directory in the end, else -1 with errno (ENOTDIR when it is something
 * else, ENAMETOOLONG, ENOMEM, or what mkdir said). */
int bv_file_mkdirs(const char *dir);

/* Writes p[0..n) to fd whole (a short write goes on; EINTR is retried). 0, or -1 with errno. */
int bv_file_write_all(int fd, const void *p, size_t n);

/* Shared JSON-lines files that several processes append to (the audit log, acks and silences):
 * appends and rewrites take an exclusive flock on PATH.lock, so a rewrite never loses a line
 * another process appends meanwhile. */

/* Appends data[0..len) (one or more whole lines) to path, created 0600, and with sync
 * fdatasyncs it (records that must survive a crash; a log that is also kept elsewhere need
 * not wait for the disk). 0, or -1 with errno. */
int bv_file_append_locked(const char *path, const char *data, size_t len, int sync);

/* Rewrites path keeping the lines keep() answers 1 for (line without its "\n", NUL-terminated,
 * writable); a last line without "\n" is dropped. Written to PATH.tmp, fdatasync'd, renamed.
 * *dropped gets the number of lines that went. 0; 0 with nothing done when path does not
 * exist; -1 with errno. Files over max bytes are refused (EFBIG). */
int bv_file_rewrite_locked(const char *path, size_t max, int (*keep)(void *arg, char *line),
                           void *arg, size_t *dropped);

#endif
