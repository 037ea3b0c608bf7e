/* fileio — reading a whole file, for every module that needs one (prompts, text to
 * tokenize, eval data, suites, reports). */
#ifndef JOULE_FILEIO_H
#define JOULE_FILEIO_H

#include <stddef.h>

/* The whole file, NUL-terminated (the NUL is not counted in *len; len may be NULL);
 * NULL with a message naming the file in err. */
char *file_read_all(const char *path, size_t *len, char *err, size_t errlen);

#endif
