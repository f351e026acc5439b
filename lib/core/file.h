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

#endif
