/* util — the few helpers every module would otherwise write again. */
#ifndef JOULE_UTIL_H
#define JOULE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Formats the message into err (errlen bytes, truncated) and returns -1, for
 *   return fail(err, errlen, "%s: no tensor %s", path, name); */
__attribute__((format(printf, 3, 4))) int fail(char *err, size_t errlen, const char *fmt, ...);

/* "1.25 GiB" from 1 GiB up, else "12.34 MiB", into buf; returns buf. */
const char *fmt_bytes(uint64_t bytes, char *buf, size_t len);

/* Seconds on the monotonic clock (for intervals). */
double now_s(void);

/* A growable NUL-terminated string; start it zeroed ({0}). s is NULL until the first append;
 * when an allocation fails oom is set, s is kept as it was and later appends do nothing. */
struct strbuf {
    char *s;
    size_t n, cap;
    bool oom;
};

/* Appends n bytes of p (which may hold NULs) to b. */
void strbuf_put(struct strbuf *b, const char *p, size_t n);

#endif
