/* fileio — reading and writing whole files, for every module that needs one (prompts, text
 * to tokenize, eval data, suites, reports, result files). */
#ifndef JOULE_FILEIO_H
#define JOULE_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* The whole file, NUL-terminated (the NUL is not counted in *len; len may be NULL); "-"
 * reads standard input. NULL with a message naming the file in err. */
char *file_read_all(const char *path, size_t *len, char *err, size_t errlen);

/* Writes len bytes to path: into a temporary file beside it, flushed and closed with every
 * error checked, then renamed over path, so a full disk or an interrupted run never leaves
 * a half-written file. "-" writes standard output. 0, or -1 with a message naming the
 * file in err. */
int file_write_all(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* Flushes f and reports whether every write to it succeeded; name is used in the message
 * ("stdout: No space left on device"). 0 or -1. */
int file_check(FILE *f, const char *name, char *err, size_t errlen);

/* fclose with the same check (a NULL f is 0). */
int file_close(FILE *f, const char *name, char *err, size_t errlen);

/* Opens PATH.tmp for writing (its name into tmp, tmplen bytes), for a file written piece by
 * piece that file_commit then puts in place. NULL with "PATH.tmp: REASON" in err. */
FILE *file_open_tmp(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen);

/* Closes f (from file_open_tmp) and renames tmp over path when every write succeeded, else
 * removes tmp, so a failed write never leaves a half-written path. 0, or -1 with
 * "PATH: write failed: REASON" in err. */
int file_commit(FILE *f, const char *tmp, const char *path, char *err, size_t errlen);

/* Creates the directory path and every missing parent (as mkdir -p; mode 0755); a directory
 * already there is fine. 0, or -1 with "DIR: REASON" in err, DIR being the part that failed
 * ("out/a: Not a directory" when out/a is a file). */
int file_mkdirs(const char *path, char *err, size_t errlen);

#endif
