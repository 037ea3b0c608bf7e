/* util — the few helpers every module would otherwise write again. */
#ifndef JOULE_UTIL_H
#define JOULE_UTIL_H

#include <stddef.h>

/* Formats the message into err (errlen bytes, truncated) and returns -1, for
 *   return fail(err, errlen, "%s: no tensor %s", path, name); */
__attribute__((format(printf, 3, 4))) int fail(char *err, size_t errlen, const char *fmt, ...);

/* Seconds on the monotonic clock (for intervals). */
double now_s(void);

#endif
