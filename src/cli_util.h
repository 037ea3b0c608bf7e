/* cli_util — small helpers shared by the command-line parsers (engine.c, cli_*.c). */
#ifndef JOULE_CLI_UTIL_H
#define JOULE_CLI_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* A whole decimal integer in lo..hi; false for anything else (text after it, overflow). */
static inline bool cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

#endif
