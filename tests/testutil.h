/* Helpers shared by the test suites. */
#ifndef JOULE_TESTUTIL_H
#define JOULE_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "gguf.h"
#include "model.h"
#include "sample.h"
#include "tokenizer.h"

/* The ../shared test data folder, or NULL (a fresh clone). JOULE_SHARED overrides. */
static inline const char *test_shared_dir(void)
{
    const char *env = getenv("JOULE_SHARED");
    if (env && *env) return access(env, R_OK) == 0 ? env : NULL;
    return access("../shared/models", R_OK) == 0 ? "../shared" : NULL;
}

/* The Vulkan device the suite tests, as a --device spec ("vulkan:N") into spec (len bytes):
 * JOULE_TEST_DEVICE when set (it must be "vulkan:N" naming a usable device, else the test
 * fails), else a CPU implementation (lavapipe) when present, else the first usable device.
 * False, after a "SKIP who" line, when JOULE_TEST_DEVICE is unset and there is none.
 * (tests/testutil.c) */
bool test_vk_device(char *spec, size_t len, const char *who);

/* Use at the top of a test that needs ../shared: prints once per test and returns. */
#define NEED_SHARED(dir)                                                                           \
    const char *dir = test_shared_dir();                                                           \
    if (!dir) {                                                                                    \
        fprintf(stderr, "SKIP %s: ../shared test data not found (set JOULE_SHARED)\n", __func__);  \
        return;                                                                                    \
    }

/* Adds to s the test case NAME of tests (NULL-terminated), each test run between setup and
 * teardown (a checked fixture; both NULL: none) and within timeout_s seconds (0: Check's
 * default). Returns the test case, for tests of other kinds. */
static inline TCase *test_add_tcase(Suite *s, const char *name, double timeout_s, SFun setup,
                                    SFun teardown, const TTest *const *tests)
{
    TCase *tc = tcase_create(name);
    if (setup || teardown) tcase_add_checked_fixture(tc, setup, teardown);
    if (timeout_s > 0) tcase_set_timeout(tc, timeout_s);
    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    return tc;
}

/* Makes a fresh folder /tmp/joule-NAME-XXXXXX, which must succeed; its path (malloc'd), which
 * test_rm_tmpdir takes back. */
static inline char *test_tmpdir(const char *name)
{
    char *dir = malloc(strlen(name) + 32);
    ck_assert_ptr_nonnull(dir);
    sprintf(dir, "/tmp/joule-%s-XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

/* Removes dir and all in it (rm -rf), which must succeed, and frees the path. */
static inline void test_rm_tmpdir(char *dir)
{
    char cmd[1200];
    ck_assert_int_lt(snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir), (int)sizeof cmd);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
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

/* test_read_file of DIR/NAME, which must read. */
static inline char *test_read_in(const char *dir, const char *name, size_t *len)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *text = test_read_file(p, len);
    ck_assert_msg(text != NULL, "cannot read %s", p);
    return text;
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

/* Space-separated decimal ids from s[0..len) into out (at most cap); returns the count. */
static inline size_t test_parse_ids(const char *s, size_t len, int32_t *out, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i >= len) break;
        int32_t v = 0;
        ck_assert_msg(s[i] >= '0' && s[i] <= '9', "bad id list near '%.20s'", s + i);
        while (i < len && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i++] - '0');
        ck_assert(n < cap);
        out[n++] = v;
    }
    return n;
}

/* Fails the test unless text holds each string of want and none of unwanted (both
 * NULL-terminated, or NULL for none), naming the first string that is not so. */
static inline void test_expect_text(const char *text, const char *const *want,
                                    const char *const *unwanted)
{
    for (; want && *want; want++)
        ck_assert_msg(strstr(text, *want) != NULL, "'%s' not in: %s", *want, text);
    for (; unwanted && *unwanted; unwanted++)
        ck_assert_msg(strstr(text, *unwanted) == NULL, "'%s' in: %s", *unwanted, text);
}

/* ---- running the joule binary ($JOULE_BIN, else ./joule) ---- */

struct test_proc {
    int code;        /* exit status; 128 + N when killed by signal N */
    char *out, *err; /* everything it wrote (malloc'd) */
};

static inline void test_proc_free(struct test_proc *r)
{
    free(r->out);
    free(r->err);
}

/* Runs "$JOULE_BIN ARGS" through the shell, ARGS formatted from fmt (trusted test text),
 * with stdin from the text input (NULL: the test's own stdin) and stdout to the file
 * stdout_to (NULL: captured in out; else out is ""). */
static inline struct test_proc test_vrun(const char *input, const char *stdout_to, const char *fmt,
                                         va_list ap)
{
    const char *bin = getenv("JOULE_BIN");
    if (!bin) bin = "./joule";
    char args[4096], cmd[8192], path[256], in[300] = "";
    vsnprintf(args, sizeof args, fmt, ap);
    char dir[] = "/tmp/joule-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/in", dir);
    if (input) {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        fputs(input, f);
        fclose(f);
        snprintf(in, sizeof in, " <%s", path);
    }
    char outp[64];
    snprintf(outp, sizeof outp, "%s/out", dir);
    snprintf(cmd, sizeof cmd, "%s %s%s >%s 2>%s/err", bin, args, in, stdout_to ? stdout_to : outp,
             dir);
    int st = system(cmd);
    struct test_proc r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), NULL, NULL};
    remove(path);
    r.out = stdout_to ? strdup("") : test_read_file(outp, NULL);
    remove(outp);
    snprintf(path, sizeof path, "%s/err", dir);
    r.err = test_read_file(path, NULL);
    remove(path);
    rmdir(dir);
    ck_assert(r.out && r.err);
    return r;
}

/* Runs "$JOULE_BIN ARGS" and checks its exit status and that its stderr (err) or stdout
 * contains want. */
static inline void test_vexpect(int code, bool err, const char *want, const char *fmt, va_list ap)
{
    struct test_proc r = test_vrun(NULL, NULL, fmt, ap);
    const char *s = err ? r.err : r.out;
    ck_assert_msg(r.code == code, "exit %d, want %d: %s", r.code, code, r.err);
    ck_assert_msg(strstr(s, want) != NULL, "'%s' not in: %s", want, s);
    test_proc_free(&r);
}

__attribute__((format(printf, 3, 4))) static inline void test_expect_out(int code, const char *want,
                                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    test_vexpect(code, false, want, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static inline void test_expect_err(int code, const char *want,
                                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    test_vexpect(code, true, want, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static inline struct test_proc
test_run_input(const char *input, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct test_proc r = test_vrun(input, NULL, fmt, ap);
    va_end(ap);
    return r;
}

/* test_run_input without input */
__attribute__((format(printf, 1, 2))) static inline struct test_proc test_run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct test_proc r = test_vrun(NULL, NULL, fmt, ap);
    va_end(ap);
    return r;
}

/* Runs "$JOULE_BIN CMD" for each command line of cmds (NULL-terminated): each must exit with
 * status code; check (NULL: none) then looks at what it wrote. */
static inline void test_expect_each(int code, const char *const *cmds,
                                    void (*check)(const char *cmd, const struct test_proc *r))
{
    for (; *cmds; cmds++) {
        struct test_proc r = test_run("%s", *cmds);
        ck_assert_msg(r.code == code, "'%s' exited %d: %s", *cmds, r.code, r.err);
        if (check) check(*cmds, &r);
        test_proc_free(&r);
    }
}

/* Whether the joule binary exists; prints a SKIP line for test fn when it does not. */
static inline bool test_have_binary(const char *fn)
{
    const char *bin = getenv("JOULE_BIN");
    if (access(bin ? bin : "./joule", X_OK) == 0) return true;
    fprintf(stderr, "SKIP %s: no joule binary (set JOULE_BIN)\n", fn);
    return false;
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

/* every shared model: single-type files, the usual K-quant mixes, and qwen2 */
static const char *const test_stems[] = {
    "tiny-llama-F32",  "tiny-llama-F16",    "tiny-llama-BF16",   "tiny-llama-Q8_0",
    "tiny-llama-Q4_0", "tiny-llama-Q4_1",   "tiny-llama-Q5_0",   "tiny-llama-Q5_1",
    "tiny-llama-Q2_K", "tiny-llama-Q3_K_M", "tiny-llama-Q4_K_M", "tiny-llama-Q5_K_M",
    "tiny-llama-Q6_K", "tiny-qwen2-F16",    "tiny-qwen2-Q8_0",   "tiny-qwen2-Q4_K_M"};
enum { TEST_N_STEMS = sizeof test_stems / sizeof test_stems[0] };

/* Prompt k of ../shared's models/STEM.ref: its token ids (malloc'd, *n > 0 of them) and,
 * returned, the float64 reference's logits of every position (n x nv floats, malloc'd). */
static inline float *test_ref_prompt(const char *shared, const char *stem, int k, int32_t nv,
                                     int32_t **ids, size_t *n)
{
    char p[700];
    size_t bytes;
    snprintf(p, sizeof p, "%s/models/%s.ref/tokens-%d.txt", shared, stem, k);
    *ids = test_read_ids(p, n);
    ck_assert_msg(*ids && *n > 0, "cannot read %s", p);
    snprintf(p, sizeof p, "%s/models/%s.ref/logits-%d.f32", shared, stem, k);
    float *ref = (float *)test_read_file(p, &bytes);
    ck_assert_msg(ref && bytes == *n * (size_t)nv * 4, "bad reference %s", p);
    return ref;
}

/* Runs the three reference prompts of STEM through b, each as one call returning every row,
 * against the float64 reference: the largest absolute logit error into *max_err (a NaN is
 * kept as a failure) and, returned, the share of rows whose top-1 token agrees. The last row
 * computed alone (the decode path) must equal the batched last row within last_tol. */
static inline double test_logits_vs_ref(const char *shared, const char *stem, const struct model *m,
                                        struct backend *b, double last_tol, double *max_err)
{
    int32_t nv = m->cfg.n_vocab;
    size_t agree = 0, rows = 0;
    *max_err = 0;
    for (int k = 0; k < 3; k++) {
        char err[512];
        int32_t *ids;
        size_t n;
        float *ref = test_ref_prompt(shared, stem, k, nv, &ids, &n);
        float *got = malloc(sizeof(float) * n * (size_t)nv);
        float *last = malloc(sizeof(float) * (size_t)nv);
        ck_assert(got && last);
        ck_assert_msg(backend_forward(b, ids, (int32_t)n, 0, true, got, err, sizeof err) == 0, "%s",
                      err);
        for (size_t t = 0; t < n; t++) {
            const float *g = got + t * nv, *r = ref + t * nv;
            for (int32_t i = 0; i < nv; i++) {
                double e = fabs((double)g[i] - r[i]);
                if (!(e <= *max_err)) *max_err = e;
            }
            agree += sample_argmax(g, nv) == sample_argmax(r, nv);
            rows++;
        }
        ck_assert(backend_forward(b, ids, (int32_t)n, 0, false, last, err, sizeof err) == 0);
        for (int32_t i = 0; i < nv; i++)
            ck_assert_float_eq_tol(last[i], got[(n - 1) * nv + i], last_tol);
        free(got);
        free(last);
        free(ref);
        free(ids);
    }
    return (double)agree / (double)rows;
}

/* The file NAME of ../shared's models/STEM.ref (malloc'd, NUL-terminated, length in *len
 * unless NULL); it must read. */
static inline char *test_ref_file(const char *shared, const char *stem, const char *name,
                                  size_t *len)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/%s.ref", shared, stem);
    return test_read_in(dir, name, len);
}

/* The perplexity in STEM's reference ppl.txt ("ppl X"). */
static inline double test_ref_ppl(const char *shared, const char *stem)
{
    char *ref = test_ref_file(shared, stem, "ppl.txt", NULL);
    double want = 0;
    ck_assert(sscanf(ref, "ppl %lf", &want) == 1);
    free(ref);
    return want;
}

/* Perplexity of m run by b over ../shared's models/ppl-text.txt, as the references compute
 * it: 8 chunks of 128 tokens (the first a BOS where the vocabulary adds one), each scored on
 * its positions 64..126. */
static inline double test_model_perplexity(const char *shared, const struct model *m,
                                           struct backend *b)
{
    char p[600], err[512];
    snprintf(p, sizeof p, "%s/models/ppl-text.txt", shared);
    size_t len, nt;
    char *text = test_read_file(p, &len);
    ck_assert_ptr_nonnull(text);
    int32_t *t;
    ck_assert(tokenizer_encode(m->tok, text, len, false, false, &t, &nt, err, sizeof err) == 0);
    const int32_t n_ctx = 128, nv = m->cfg.n_vocab;
    bool bos = tokenizer_add_bos(m->tok);
    ck_assert(nt >= 8 * (size_t)n_ctx);
    float *logits = malloc(sizeof(float) * (size_t)n_ctx * nv);
    ck_assert_ptr_nonnull(logits);
    double nll = 0;
    int count = 0;
    for (int c = 0; c < 8; c++) {
        int32_t chunk[128];
        if (bos) {
            chunk[0] = tokenizer_bos(m->tok);
            memcpy(chunk + 1, t + c * n_ctx, sizeof(int32_t) * (n_ctx - 1));
        } else {
            memcpy(chunk, t + c * n_ctx, sizeof(int32_t) * n_ctx);
        }
        ck_assert(backend_forward(b, chunk, n_ctx, 0, true, logits, err, sizeof err) == 0);
        for (int i = 64; i <= 126; i++) {
            const float *l = logits + (size_t)i * nv;
            double mx = l[0], s = 0;
            for (int v = 1; v < nv; v++)
                mx = l[v] > mx ? l[v] : mx;
            for (int v = 0; v < nv; v++)
                s += exp(l[v] - mx);
            nll += -(l[chunk[i + 1]] - mx - log(s));
            count++;
        }
    }
    free(logits);
    free(t);
    free(text);
    return exp(nll / count);
}

/* tokenizer_load on the GGUF at path (which must open), the file closed again; its status. */
static inline int test_try_load_tokenizer(const char *path, struct tokenizer **t, char *err,
                                          size_t errlen)
{
    struct gguf_file *f = NULL;
    ck_assert_msg(gguf_open(path, &f, err, errlen) == 0, "gguf_open: %s", err);
    *t = NULL;
    int rc = tokenizer_load(f, t, err, errlen);
    gguf_close(f);
    return rc;
}

/* Loads the tokenizer of the GGUF at path, closing the file first (the tokenizer must not need
 * it); a failure fails the test with gguf_open's or tokenizer_load's message. */
static inline struct tokenizer *test_load_tokenizer(const char *path)
{
    char err[512] = "";
    struct tokenizer *t;
    int rc = test_try_load_tokenizer(path, &t, err, sizeof err);
    ck_assert_msg(rc == 0, "tokenizer_load: %s", err);
    return t;
}

/* test_load_tokenizer of DIR/REL. */
static inline struct tokenizer *test_load_tokenizer_at(const char *dir, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return test_load_tokenizer(path);
}

/* Use at the top of a test that needs the tokenizer of the file REL in ../shared:
 * NEED_SHARED(dir), then t loaded from it (which must load). */
#define NEED_TOKENIZER(dir, t, rel)                                                                \
    NEED_SHARED(dir);                                                                              \
    struct tokenizer *t = test_load_tokenizer_at(dir, rel)

/* The token ids of ../shared's models/REF.ref/tokens-K.txt into want (at most cap). */
static inline size_t test_ref_tokens(const char *dir, const char *ref, size_t k, int32_t *want,
                                     size_t cap)
{
    char name[64];
    snprintf(name, sizeof name, "tokens-%zu.txt", k);
    size_t len = 0;
    char *txt = test_ref_file(dir, ref, name, &len);
    size_t n = test_parse_ids(txt, len, want, cap);
    free(txt);
    return n;
}

/* ---- tokenizer checks ---- */

/* Encodes s (len bytes), which must succeed; the ids (malloc'd, never NULL) in *ids. */
static inline size_t test_encode(const struct tokenizer *t, const char *s, size_t len, bool bos,
                                 bool special, int32_t **ids)
{
    char err[256] = "";
    size_t n = 0;
    ck_assert_msg(tokenizer_encode(t, s, len, bos, special, ids, &n, err, sizeof err) == 0,
                  "encode: %s", err);
    ck_assert_ptr_nonnull(*ids);
    return n;
}

static inline void test_fmt_ids(char *buf, size_t cap, const int32_t *v, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && o + 16 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, " %d", v[i]);
}

/* Fails the test, showing both lists, unless got equals want. */
static inline void test_expect_ids(const int32_t *got, size_t n_got, const int32_t *want,
                                   size_t n_want, const char *what)
{
    bool same = n_got == n_want && (n_got == 0 || memcmp(got, want, n_got * sizeof *got) == 0);
    if (!same) {
        char g[2048], w[2048];
        test_fmt_ids(g, sizeof g, got, n_got);
        test_fmt_ids(w, sizeof w, want, n_want);
        ck_abort_msg("%s:\n  got: %s\n want: %s", what, g, w);
    }
}

/* Encodes s and checks the ids, then that decoding gives s back. */
static inline void test_expect_encode(const struct tokenizer *t, const char *s, size_t len,
                                      bool bos, bool special, const int32_t *want, size_t n_want,
                                      const char *what)
{
    int32_t *ids;
    size_t n = test_encode(t, s, len, bos, special, &ids);
    test_expect_ids(ids, n, want, n_want, what);
    char *back = tokenizer_decode(t, ids, n);
    ck_assert_ptr_nonnull(back);
    ck_assert_msg(strlen(back) == len && memcmp(back, s, len) == 0,
                  "%s: decode gives '%s', want '%.*s'", what, back, (int)len, s);
    free(back);
    free(ids);
}

/* Runs every vector of VECDIR/NAME.{inp,out} (llama.cpp's test-tokenizer format) through the
 * tokenizer of the GGUF at gguf, whose model must be model (NULL: any); returns how many. */
static inline int test_run_vectors(const char *gguf, const char *vecdir, const char *name,
                                   const char *model)
{
    struct tokenizer *t = test_load_tokenizer(gguf);
    if (model) ck_assert_str_eq(tokenizer_model_name(t), model);
    char path[2200];
    size_t inp_len = 0, out_len = 0;
    snprintf(path, sizeof path, "%s/%s.inp", vecdir, name);
    char *inp = test_read_file(path, &inp_len);
    snprintf(path, sizeof path, "%s/%s.out", vecdir, name);
    char *out = test_read_file(path, &out_len);
    ck_assert_msg(inp && out, "cannot read the %s vectors", name);

    static const char sep[] = "\n__ggml_vocab_test__\n";
    const size_t sep_len = sizeof sep - 1;
    int32_t *want = malloc(4096 * sizeof *want);
    ck_assert_ptr_nonnull(want);
    const char *p = inp, *end = inp + inp_len, *line = out, *out_end = out + out_len;
    int count = 0;
    for (;;) {
        const char *m = memmem(p, (size_t)(end - p), sep, sep_len);
        if (!m) break;
        const char *nl = memchr(line, '\n', (size_t)(out_end - line));
        ck_assert_msg(nl != NULL, "%s.out has fewer lines than %s.inp has tests", name, name);
        size_t n_want = test_parse_ids(line, (size_t)(nl - line), want, 4096);
        char what[160];
        snprintf(what, sizeof what, "%s vector %d '%.60s'", name, count, p);
        test_expect_encode(t, p, (size_t)(m - p), false, false, want, n_want, what);
        count++;
        p = m + sep_len;
        line = nl + 1;
    }
    ck_assert_msg(p == end, "%s.inp: text after the last separator", name);
    ck_assert_msg(line == out_end, "%s.out has more lines than %s.inp has tests", name, name);
    free(want);
    free(inp);
    free(out);
    tokenizer_free(t);
    return count;
}

/* test_run_vectors on DIR/vocab/NAME.gguf and its vectors beside it. */
static inline int test_vocab_vectors(const char *dir, const char *name, const char *model)
{
    char gguf[1024], vec[1024];
    snprintf(gguf, sizeof gguf, "%s/vocab/%s.gguf", dir, name);
    snprintf(vec, sizeof vec, "%s/vocab", dir);
    return test_run_vectors(gguf, vec, name, model);
}

#endif
