/* Helpers shared by the test suites. */
#ifndef JOULE_TESTUTIL_H
#define JOULE_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The ../shared test data folder, or NULL (a fresh clone). JOULE_SHARED overrides. */
static inline const char *test_shared_dir(void)
{
    const char *env = getenv("JOULE_SHARED");
    if (env && *env) return access(env, R_OK) == 0 ? env : NULL;
    return access("../shared/models", R_OK) == 0 ? "../shared" : NULL;
}

/* Use at the top of a test that needs ../shared: prints once per test and returns. */
#define NEED_SHARED(dir)                                                                           \
    const char *dir = test_shared_dir();                                                           \
    if (!dir) {                                                                                    \
        fprintf(stderr, "SKIP %s: ../shared test data not found (set JOULE_SHARED)\n", __func__);  \
        return;                                                                                    \
    }

/* Read a whole file; returns malloc'd buffer (NUL-terminated) or NULL. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    char *buf = malloc((size_t)sz + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    buf[got] = 0;
    if (len) *len = got;
    return buf;
}

/* Reads whitespace-separated token ids (a tokens-K.txt file); malloc'd, or NULL. */
static inline int32_t *test_read_ids(const char *path, size_t *n)
{
    char *txt = test_read_file(path, NULL);
    if (!txt) return NULL;
    size_t cap = 64, k = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    char *p = txt, *end;
    while (ids) {
        long val = strtol(p, &end, 10);
        if (end == p) break;
        if (k == cap) {
            int32_t *grown = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!grown) free(ids);
            ids = grown;
            if (!ids) break;
        }
        ids[k++] = (int32_t)val;
        p = end;
    }
    free(txt);
    *n = k;
    return ids;
}

#endif
