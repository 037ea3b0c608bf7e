/* Helpers shared by the test suites. */
#ifndef JOULE_TESTUTIL_H
#define JOULE_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
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

/* What a run of the joule binary left: exit status (128 + N when killed by signal N), and
 * stdout and stderr (malloc'd; NULL when they could not be read). */
struct test_run {
    int code;
    char *out, *err;
};

/* Runs "$JOULE_BIN ARGS" (else ./joule) through the shell (ARGS is trusted test text), stdin
 * from the text input (NULL: inherited), stdout to the file stdout_to (NULL: captured in
 * out; else out is ""). One runner for every end-to-end test. */
static inline struct test_run test_run_joule(const char *input, const char *stdout_to,
                                             const char *args)
{
    struct test_run r = {-1, NULL, NULL};
    const char *bin = getenv("JOULE_BIN");
    char dir[] = "/tmp/joule-test-XXXXXX", in[64], out[64], err[64];
    if (!mkdtemp(dir)) return r;
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    size_t cap = strlen(args) + 512;
    char *cmd = malloc(cap);
    FILE *f = input ? fopen(in, "wb") : NULL;
    if (cmd && (!input || (f && fputs(input, f) >= 0 && fclose(f) == 0))) {
        f = NULL;
        snprintf(cmd, cap, "%s %s%s%s >%s 2>%s", bin ? bin : "./joule", args, input ? " <" : "",
                 input ? in : "", stdout_to ? stdout_to : out, err);
        int st = system(cmd);
        r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        r.out = stdout_to ? strdup("") : test_read_file(out, NULL);
        r.err = test_read_file(err, NULL);
    }
    if (f) fclose(f);
    free(cmd);
    remove(in), remove(out), remove(err);
    rmdir(dir);
    return r;
}

/* Starts $JOULE_BIN (else ./joule) with args (NULL-terminated, without the program name),
 * stdout to out and stderr to err (NULL: /dev/null); for tests that signal a running
 * command. Returns the pid (-1 when fork fails). */
static inline pid_t test_spawn_joule(const char *out, const char *err, const char *const *args)
{
    const char *bin = getenv("JOULE_BIN");
    if (!bin) bin = "./joule";
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (!freopen(out, "w", stdout) || !freopen(err ? err : "/dev/null", "w", stderr)) _exit(127);
    const char *argv[64];
    int k = 0;
    argv[k++] = bin;
    for (int i = 0; args[i] && k < 63; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
}

/* The exit status of pid, 128 + N when killed by signal N (as a shell reports it). */
static inline int test_wait_status(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
