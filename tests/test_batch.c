/* batch: several sequences decoded together (backend_forward_batch) against each run alone,
 * on the CPU and on Vulkan (lavapipe in CI), bench's tgN xP tests built on it, and `joule
 * logits --batch N` (N tokens a step, the KV cache carried along) against the references. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bench.h"
#include "cpu.h"
#include "model.h"
#include "sample.h"
#include "testutil.h"
#include "vk.h"

enum { N_PROMPTS = 3, N_STEPS = 5, N_SLOTS = 4 };

/* slot of prompt k in the batched run: scrambled, and slot 0 left unused */
static int32_t slot_of(int k)
{
    return (int32_t)((k + 2) % (N_SLOTS - 1) + 1);
}

struct alone {
    int32_t *ids;
    size_t n;
    float *prompt_logits; /* n x nv */
    float *step_logits;   /* N_STEPS x nv: after each greedy token */
    int32_t steps[N_STEPS];
};

/* A backend of n_seq sequences: the CPU (spec NULL) or a Vulkan device; NULL when there is
 * no such Vulkan device. */
static struct backend *open_seq(const struct model *m, const char *spec, int32_t n_seq)
{
    char err[512];
    struct backend *b = NULL;
    if (!spec) {
        b = cpu_backend_new_seq(m, 256, n_seq, 2, err, sizeof err);
        ck_assert_msg(b != NULL, "%s", err);
        return b;
    }
    int rc = vk_backend_new_seq(m, spec, 256, n_seq, &b, err, sizeof err);
    ck_assert_msg(rc != VK_FAILED, "%s", err);
    return rc == VK_OK ? b : NULL;
}

/* Prompt k alone on a one-sequence backend: all prompt logits, then N_STEPS greedy steps. */
static void run_alone(const char *shared, const char *stem, struct model *m, int k, struct alone *a,
                      const char *spec)
{
    char p[600], err[512];
    snprintf(p, sizeof p, "%s/models/%s.ref/tokens-%d.txt", shared, stem, k);
    a->ids = test_read_ids(p, &a->n);
    ck_assert_msg(a->ids && a->n > 1, "cannot read %s", p);
    const int32_t nv = m->cfg.n_vocab;
    struct backend *b = open_seq(m, spec, 1);
    ck_assert(b != NULL);
    a->prompt_logits = malloc(sizeof(float) * a->n * (size_t)nv);
    a->step_logits = malloc(sizeof(float) * N_STEPS * (size_t)nv);
    ck_assert(a->prompt_logits && a->step_logits);
    ck_assert_msg(
        backend_forward(b, a->ids, (int32_t)a->n, 0, true, a->prompt_logits, err, sizeof err) == 0,
        "%s", err);
    const float *last = a->prompt_logits + (a->n - 1) * (size_t)nv;
    for (int s = 0; s < N_STEPS; s++) {
        a->steps[s] = sample_argmax(last, nv);
        float *out = a->step_logits + (size_t)s * nv;
        ck_assert_msg(backend_forward(b, &a->steps[s], 1, (int32_t)a->n + s, false, out, err,
                                      sizeof err) == 0,
                      "%s", err);
        last = out;
    }
    backend_destroy(b);
}

static double max_diff(const float *x, const float *y, int32_t n)
{
    double d = 0;
    for (int32_t i = 0; i < n; i++)
        if (fabs((double)x[i] - y[i]) > d) d = fabs((double)x[i] - y[i]);
    return d;
}

/* Prompts 0 and 1 and the first half of prompt 2 in one step; then the decode rows of 0 and 1
 * with the rest of prompt 2; then decode steps of all three. Every row's logits must equal the
 * same row run alone (the exact path's tolerance between batch shapes, as in test_model). */
static void check_batched_on(const char *stem, const char *spec)
{
    NEED_SHARED(shared);
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/%s.gguf", shared, stem);
    struct model *m;
    ck_assert_msg(model_load(path, &m, err, sizeof err) == 0, "%s", err);
    const int32_t nv = m->cfg.n_vocab;
    struct backend *b = open_seq(m, spec, N_SLOTS);
    if (!b) {
        fprintf(stderr, "SKIP %s on %s: no such Vulkan device\n", stem, spec);
        model_free(m);
        return;
    }
    struct alone al[N_PROMPTS];
    for (int k = 0; k < N_PROMPTS; k++)
        run_alone(shared, stem, m, k, &al[k], spec);

    ck_assert_int_eq(b->n_seq, N_SLOTS);
    int32_t cap = b->max_batch;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)cap),
            *pos = malloc(sizeof(int32_t) * (size_t)cap),
            *seq = malloc(sizeof(int32_t) * (size_t)cap);
    bool *want = malloc(sizeof(bool) * (size_t)cap);
    /* which (prompt, row) each logits row is: row >= 0 a prompt row, -1 - s decode step s */
    int32_t *who_k = malloc(sizeof(int32_t) * (size_t)cap),
            *who_r = malloc(sizeof(int32_t) * (size_t)cap);
    float *lg = malloc(sizeof(float) * (size_t)cap * (size_t)nv);
    ck_assert(tok && pos && seq && want && who_k && who_r && lg);
    size_t half = al[2].n / 2;
    size_t done[N_PROMPTS] = {0}; /* prompt tokens fed */
    int steps_fed[N_PROMPTS] = {0};
    double worst = 0;
    for (int step = 0; step < N_STEPS + 2; step++) {
        int32_t n = 0;
        for (int k = 0; k < N_PROMPTS; k++) {
            size_t upto = al[k].n;
            if (k == 2 && step == 0) upto = half;
            if (done[k] < al[k].n) { /* prompt rows: all logits wanted */
                for (size_t i = done[k]; i < upto; i++) {
                    tok[n] = al[k].ids[i];
                    pos[n] = (int32_t)i;
                    seq[n] = slot_of(k);
                    want[n] = true;
                    who_k[n] = k;
                    who_r[n] = (int32_t)i;
                    n++;
                }
                done[k] = upto;
            } else if (steps_fed[k] < N_STEPS) { /* one decode row */
                int s = steps_fed[k]++;
                tok[n] = al[k].steps[s];
                pos[n] = (int32_t)al[k].n + s;
                seq[n] = slot_of(k);
                want[n] = true;
                who_k[n] = k;
                who_r[n] = -1 - s;
                n++;
            }
        }
        if (n == 0) break;
        ck_assert_int_le(n, cap);
        struct backend_batch bt = {n, tok, pos, seq, want};
        ck_assert_msg(backend_forward_batch(b, &bt, lg, err, sizeof err) == 0, "%s", err);
        for (int32_t i = 0; i < n; i++) {
            const struct alone *a = &al[who_k[i]];
            const float *ref = who_r[i] >= 0 ? a->prompt_logits + (size_t)who_r[i] * nv
                                             : a->step_logits + (size_t)(-1 - who_r[i]) * nv;
            double d = max_diff(lg + (size_t)i * nv, ref, nv);
            if (d > worst) worst = d;
            ck_assert_msg(d <= 2e-3, "%s: step %d row %d (prompt %d, %d): max diff %g", stem, step,
                          i, who_k[i], who_r[i], d);
        }
    }
    for (int k = 0; k < N_PROMPTS; k++)
        ck_assert_int_eq(steps_fed[k], N_STEPS);
    fprintf(stderr, "serve batch %s (%s): max |batched - alone| = %.3g\n", stem,
            spec ? b->device : "cpu", worst);
    for (int k = 0; k < N_PROMPTS; k++) {
        free(al[k].ids);
        free(al[k].prompt_logits);
        free(al[k].step_logits);
    }
    free(tok);
    free(pos);
    free(seq);
    free(want);
    free(who_k);
    free(who_r);
    free(lg);
    backend_destroy(b);
    model_free(m);
}

static void check_batched(const char *stem)
{
    check_batched_on(stem, NULL);
}

/* Vulkan: the suite's device (JOULE_TEST_DEVICE, else lavapipe where present, as in CI) */
START_TEST(batch_vk)
{
    char spec[32];
    if (!test_vk_device(spec, sizeof spec, __func__)) return;
    check_batched_on("tiny-llama-Q4_K_M", spec);
    /* (the second file only in the release run: lavapipe under ASan takes a minute a file) */
    if (!getenv("JOULE_ASAN")) check_batched_on("tiny-qwen2-F16", spec);
}
END_TEST

START_TEST(batch_f32)
{
    check_batched("tiny-llama-F32");
}
END_TEST

START_TEST(batch_q4_k)
{
    check_batched("tiny-llama-Q4_K_M");
}
END_TEST

START_TEST(batch_qwen2)
{
    check_batched("tiny-qwen2-Q8_0");
}
END_TEST

/* ---- joule logits --batch N against the float64 references ---- */

struct ref_score {
    double worst;       /* max abs logit error (a NaN counts as infinite) */
    size_t agree, rows; /* rows whose top-1 token is the reference's */
};

/* `joule logits --batch N` on prompt k of stem (N = 0: --batch n-1, a prefill of all but the
 * last token, then one decode step), every row scored against the reference. */
static void logits_batch_prompt(const char *shared, const char *stem, int k, const char *dev,
                                int batch, struct ref_score *sc)
{
    char name[32], *dir = test_tmpdir("logits-batch");
    snprintf(name, sizeof name, "tokens-%d.txt", k);
    char *toks = test_ref_file(shared, stem, name, NULL);
    toks[strcspn(toks, "\n")] = 0;
    size_t n = 0;
    for (const char *p = toks; *p;) { /* count the ids */
        while (*p == ' ')
            p++;
        if (!*p) break;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    ck_assert_uint_gt(n, 3);
    int b = batch > 0 ? batch : (int)n - 1;
    struct test_proc r = test_run("logits -m %s/models/%s.gguf --device %s --batch %d --tokens "
                                  "'%s' -o %s/out.f32",
                                  shared, stem, dev, b, toks, dir);
    ck_assert_msg(r.code == 0, "%s --batch %d on %s: %s", stem, b, dev, r.err);
    test_proc_free(&r);
    snprintf(name, sizeof name, "logits-%d.f32", k);
    size_t got_len = 0, ref_len = 0;
    float *got = (float *)test_read_in(dir, "out.f32", &got_len);
    float *ref = (float *)test_ref_file(shared, stem, name, &ref_len);
    ck_assert_uint_eq(got_len, ref_len);
    ck_assert(ref_len % (n * sizeof(float)) == 0);
    const int32_t nv = (int32_t)(ref_len / sizeof(float) / n);
    for (size_t t = 0; t < n; t++) {
        const float *g = got + t * (size_t)nv, *w = ref + t * (size_t)nv;
        for (int32_t i = 0; i < nv; i++) {
            double e = fabs((double)g[i] - w[i]);
            if (!(e <= sc->worst)) sc->worst = isnan(e) ? INFINITY : e;
        }
        sc->agree += sample_argmax(g, nv) == sample_argmax(w, nv);
        sc->rows++;
    }
    free(got);
    free(ref);
    free(toks);
    test_rm_tmpdir(dir);
}

/* --batch 1 (every position a decode step after the previous ones), --batch 3 (chunks that
 * do not divide the prompts, a last chunk of 1 or 2 tokens) and --batch n-1 (a prefill, then
 * a decode step at pos n-1) over the prompts, at the tolerance of the whole-prompt reference
 * tests: max abs logit error <= 0.05, top-1 agreement >= 0.99 over all their rows. */
static void check_logits_batch(const char *shared, const char *stem, const char *dev, int n_prompts)
{
    static const int forms[] = {1, 3, 0};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        struct ref_score sc = {0, 0, 0};
        for (int k = 0; k < n_prompts; k++)
            logits_batch_prompt(shared, stem, k, dev, forms[f], &sc);
        double top1 = (double)sc.agree / (double)sc.rows;
        char form[16];
        snprintf(form, sizeof form, forms[f] ? "%d" : "n-1", forms[f]);
        fprintf(stderr,
                "logits --batch %-3s %-17s %-8s max abs logit error %.5f, top-1 %.4f over "
                "%zu rows\n",
                form, stem, dev, sc.worst, top1, sc.rows);
        ck_assert_msg(sc.worst <= 0.05, "%s --batch %s on %s: max abs logit error %g > 0.05", stem,
                      form, dev, sc.worst);
        ck_assert_msg(top1 >= 0.99, "%s --batch %s on %s: top-1 agreement %g < 0.99", stem, form,
                      dev, top1);
    }
}

/* the CPU: a float, a K-quant and a qwen2 file (NEOX RoPE, biases); under the sanitizers one
 * file and two prompts */
START_TEST(logits_batch_cpu)
{
    NEED_SHARED(shared);
    if (!test_have_binary(__func__)) return;
    bool asan = getenv("JOULE_ASAN") != NULL;
    check_logits_batch(shared, "tiny-llama-Q4_K_M", "cpu", asan ? 2 : 3);
    if (asan) return;
    check_logits_batch(shared, "tiny-llama-F32", "cpu", 3);
    check_logits_batch(shared, "tiny-qwen2-Q8_0", "cpu", 3);
}
END_TEST

/* the suite's Vulkan device: a K-quant llama and a qwen2 file (the release run; under the
 * sanitizers one file and one prompt: lavapipe there takes seconds a step) */
START_TEST(logits_batch_vk)
{
    NEED_SHARED(shared);
    if (!test_have_binary(__func__)) return;
    char spec[32];
    if (!test_vk_device(spec, sizeof spec, __func__)) return;
    bool asan = getenv("JOULE_ASAN") != NULL;
    check_logits_batch(shared, "tiny-llama-Q4_K_M", spec, asan ? 1 : 3);
    if (!asan) check_logits_batch(shared, "tiny-qwen2-Q8_0", spec, 3);
}
END_TEST

/* Only the flagged rows get logits, in row order; a bad slot, position or size is refused. */
START_TEST(batch_checks)
{
    NEED_SHARED(shared);
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/tiny-llama-F32.gguf", shared);
    struct model *m;
    ck_assert_msg(model_load(path, &m, err, sizeof err) == 0, "%s", err);
    struct backend *b = cpu_backend_new_seq(m, 32, 2, 1, err, sizeof err);
    ck_assert_msg(b != NULL, "%s", err);
    const int32_t nv = m->cfg.n_vocab;
    float *lg = malloc(sizeof(float) * 4 * (size_t)nv);
    ck_assert(lg);
    int32_t tok[2] = {1, 5}, pos[2] = {0, 0}, seq[2] = {0, 2};
    bool want[2] = {false, true};
    struct backend_batch bt = {2, tok, pos, seq, want};
    ck_assert_int_ne(backend_forward_batch(b, &bt, lg, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "slot 2") != NULL, "%s", err);
    seq[1] = 1;
    pos[1] = 32;
    ck_assert_int_ne(backend_forward_batch(b, &bt, lg, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "context") != NULL, "%s", err);
    pos[1] = 0;
    bt.n = 0;
    ck_assert_int_ne(backend_forward_batch(b, &bt, lg, err, sizeof err), 0);
    bt.n = 2;
    lg[nv] = 12345.0f; /* only one row is written */
    ck_assert_msg(backend_forward_batch(b, &bt, lg, err, sizeof err) == 0, "%s", err);
    ck_assert(lg[nv] == 12345.0f);
    /* the flagged row is token 5 of slot 1 at position 0: as a one-token run alone */
    float *one = malloc(sizeof(float) * (size_t)nv);
    ck_assert(one);
    struct backend *a = cpu_backend_new(m, 32, 1, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    ck_assert(backend_forward(a, &tok[1], 1, 0, false, one, err, sizeof err) == 0);
    ck_assert_double_le(max_diff(lg, one, nv), 1e-5);
    backend_destroy(a);
    free(one);
    free(lg);
    backend_destroy(b);
    model_free(m);
}
END_TEST

/* bench's tgN xP: P sequences a step, counted as N x P tokens a run; refused where the backend
 * holds fewer sequences. */
START_TEST(bench_parallel)
{
    NEED_SHARED(shared);
    char path[512], err[512], name[64];
    snprintf(path, sizeof path, "%s/models/tiny-llama-Q8_0.gguf", shared);
    struct model *m;
    ck_assert_msg(model_load(path, &m, err, sizeof err) == 0, "%s", err);
    struct bench_test t = {BENCH_TG, 8, 4, 4};
    bench_test_name(&t, name, sizeof name);
    ck_assert_str_eq(name, "tg8 x4 @ d4");
    struct backend *one = cpu_backend_new(m, 16, 1, err, sizeof err);
    struct backend *four = cpu_backend_new_seq(m, 16, 4, 1, err, sizeof err);
    ck_assert(one && four);
    struct bench_result r;
    ck_assert_int_ne(bench_run(one, NULL, &t, 2, 0, 1, NULL, NULL, &r, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "4 sequences"), "%s", err);
    ck_assert_msg(bench_run(four, NULL, &t, 2, 0, 1, NULL, NULL, &r, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_int_eq(r.tokens, 2 * 8 * 4);
    ck_assert(r.tps.mean > 0);
    bench_result_free(&r);
    t.depth = 9; /* 9 + 8 positions do not fit 16 */
    ck_assert_int_ne(bench_run(four, NULL, &t, 1, 0, 1, NULL, NULL, &r, err, sizeof err), 0);
    backend_destroy(one);
    backend_destroy(four);
    model_free(m);
}
END_TEST

Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, batch_f32);
    tcase_add_test(tc, batch_q4_k);
    tcase_add_test(tc, batch_qwen2);
    tcase_add_test(tc, batch_checks);
    tcase_add_test(tc, batch_vk);
    tcase_add_test(tc, bench_parallel);
    suite_add_tcase(s, tc);
    /* joule logits --batch against the references: the decode path checked as prefill is */
    test_add_tcase(s, "logits-batch", 240, NULL, NULL,
                   (const TTest *const[]){logits_batch_cpu, logits_batch_vk, NULL});
    return s;
}
