/* fileio — see fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_read_all(const char *path, size_t *len, char *err, size_t errlen)
{
    bool in = !strcmp(path, "-");
    FILE *f = in ? stdin : fopen(path, "rb");
    if (in) path = "standard input";
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f); /* one byte kept for the NUL */
        if (n + 1 < cap) break;
        char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f);
    if (!in) fclose(f);
    if (!buf || bad) {
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int file_check(FILE *f, const char *name, char *err, size_t errlen)
{
    errno = 0;
    if (fflush(f) == 0 && !ferror(f)) return 0;
    snprintf(err, errlen, "%s: %s", name, errno ? strerror(errno) : "write error");
    return -1;
}

int file_close(FILE *f, const char *name, char *err, size_t errlen)
{
    if (!f) return 0;
    int rc = file_check(f, name, err, errlen);
    errno = 0;
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", name, errno ? strerror(errno) : "write error");
        rc = -1;
    }
    return rc;
}

int file_mkdirs(const char *path, char *err, size_t errlen)
{
    char d[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof d) {
        snprintf(err, errlen, "%.200s: %s", path, n ? "path too long" : "empty directory name");
        return -1;
    }
    memcpy(d, path, n + 1);
    /* each prefix that ends before a '/' (the leading one and repeats skipped), then the whole */
    for (size_t i = 1; i <= n; i++) {
        if (i < n && (d[i] != '/' || d[i - 1] == '/')) continue;
        char c = d[i];
        d[i] = 0;
        struct stat st;
        if (mkdir(d, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", d, strerror(errno));
            return -1;
        }
        int e = stat(d, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        if (e) {
            snprintf(err, errlen, "%s: %s", d, strerror(e));
            return -1;
        }
        d[i] = c;
    }
    return 0;
}

int file_write_all(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    if (!strcmp(path, "-")) {
        if (fwrite(data, 1, len, stdout) != len) {
            snprintf(err, errlen, "stdout: %s", strerror(errno));
            return -1;
        }
        return file_check(stdout, "stdout", err, errlen);
    }
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    struct stat st;
    bool special = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
    /* a path that is not a regular file (/dev/null, /dev/full, a pipe) is written in place */
    FILE *f = fopen(special ? path : tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    if (!ok) snprintf(err, errlen, "%s: %s", path, strerror(errno));
    char cerr[512];
    if (file_close(f, path, cerr, sizeof cerr) != 0 && ok) {
        snprintf(err, errlen, "%s", cerr);
        ok = false;
    }
    if (ok && !special && rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        ok = false;
    }
    if (!ok && !special) remove(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

FILE *file_open_tmp(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen)
{
    snprintf(tmp, tmplen, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    return f;
}

int file_commit(FILE *f, const char *tmp, const char *path, char *err, size_t errlen)
{
    bool bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
