/* vk, whole models — the Vulkan backend running the shared tiny models (lavapipe in CI, under
 * the validation layer): logits and greedy continuations against the float64 references in
 * ../shared/models (every weight type, split bindings, profiling on), the new kernels
 * against the ones they replace (split decode attention, tiled prefill attention and products,
 * matvec_gpu), and the device context's choices (upload paths, subgroup pinning, step
 * timeout, the memory check). Part of the vk suite (test_vk.c registers it). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"
#include "test_vk.h"
#include "testutil.h"
#include "vk.h"
#include "vk_backend.h"
#include "vk_env.h"
#include "vk_impl.h"

static int32_t argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* The shared model NAME (models/NAME.gguf), loaded or the test fails. */
static struct model *load_stem(const char *shared, const char *stem)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/%s.gguf", shared, stem);
    struct model *m = NULL;
    ck_assert_msg(model_load(path, &m, err, sizeof err) == 0, "%s", err);
    return m;
}

/* Logits of all three prompts (whole prompt as one forward call, all rows) and the greedy
 * continuation of prompt 0 (decode steps), against NAME.ref. */
static void check_model(const char *spec, const char *shared, const char *stem)
{
    char path[512], err[512];
    struct model *m = load_stem(shared, stem);
    struct backend *b = NULL;
    int rc = vk_backend_new(m, spec, 128, &b, err, sizeof err);
    ck_assert_msg(rc == VK_OK, "%s: %s", stem, err);
    const int32_t nv = m->cfg.n_vocab;
    double worst = 0;
    int64_t rows = 0, agree = 0;
    for (int k = 0; k < 3; k++) {
        int32_t *ids;
        size_t n;
        float *ref = test_ref_prompt(shared, stem, k, nv, &ids, &n);
        float *lg = malloc(sizeof(float) * n * (size_t)nv);
        ck_assert_ptr_nonnull(lg);
        ck_assert_msg(backend_forward(b, ids, (int32_t)n, 0, true, lg, err, sizeof err) == 0, "%s",
                      err);
        for (size_t t = 0; t < n; t++) {
            const float *a = lg + t * (size_t)nv, *r = ref + t * (size_t)nv;
            for (int32_t i = 0; i < nv; i++) {
                double e = fabs((double)a[i] - r[i]);
                if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
            }
            agree += argmax(a, nv) == argmax(r, nv);
            rows++;
        }
        free(lg);
        free(ref);
        free(ids);
    }
    double top1 = (double)agree / (double)rows;
    fprintf(stderr, "vk %s: max abs logit error %.5f, top-1 %.4f over %lld rows\n", stem, worst,
            top1, (long long)rows);
    ck_assert_msg(worst <= 0.05, "%s: max abs logit error %g > 0.05", stem, worst);
    ck_assert_msg(top1 >= 0.99, "%s: top-1 agreement %g < 0.99", stem, top1);

    /* greedy: prompt 0, then 32 single-token steps */
    size_t n = 0;
    snprintf(path, sizeof path, "%s/models/%s.ref/tokens-0.txt", shared, stem);
    int32_t *ids = test_read_ids(path, &n);
    ck_assert_ptr_nonnull(ids);
    snprintf(path, sizeof path, "%s/models/%s.ref/greedy.txt", shared, stem);
    char *g = test_read_file(path, NULL);
    ck_assert_msg(ids && g, "cannot read the greedy reference of %s", stem);
    float *lg = malloc(sizeof(float) * (size_t)nv);
    ck_assert_msg(backend_forward(b, ids, (int32_t)n, 0, false, lg, err, sizeof err) == 0, "%s",
                  err);
    char *line = strchr(g, '\n');
    int32_t pos = (int32_t)n;
    for (int step = 0; line && step < 32; step++) {
        long want_id;
        double margin;
        if (sscanf(line + 1, "%ld %lf", &want_id, &margin) != 2) break;
        int32_t got = argmax(lg, nv);
        if (got != want_id) {
            ck_assert_msg(margin < 0.05, "%s: greedy step %d chose %d, reference %ld (margin %g)",
                          stem, step, got, want_id, margin);
            break; /* a legitimate divergence: later steps follow another path */
        }
        ck_assert_msg(backend_forward(b, &got, 1, pos++, false, lg, err, sizeof err) == 0, "%s",
                      err);
        line = strchr(line + 1, '\n');
    }
    free(lg);
    free(g);
    free(ids);
    backend_destroy(b);
    model_free(m);
}

/* every tiny-llama type (K types too), and the qwen2 files (NEOX RoPE, q/k/v biases,
 * output tied to the embedding, a K-typed embedding in Q4_K_M) */
static const char *const model_stems[] = {
    "tiny-llama-F32",    "tiny-llama-F16",    "tiny-llama-BF16", "tiny-llama-Q8_0",
    "tiny-llama-Q4_0",   "tiny-llama-Q4_1",   "tiny-llama-Q5_0", "tiny-llama-Q5_1",
    "tiny-qwen2-F16",    "tiny-qwen2-Q8_0",   "tiny-llama-Q2_K", "tiny-llama-Q3_K_M",
    "tiny-llama-Q4_K_M", "tiny-llama-Q5_K_M", "tiny-llama-Q6_K", "tiny-qwen2-Q4_K_M"};

START_TEST(test_models)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    /* under the sanitizers: a float, a 32-weight-block and a K file, and qwen2's tied K-typed
     * embedding (the host paths; the release run checks every file) */
    const char *const asan_stems = " tiny-llama-F16 tiny-llama-Q4_0 tiny-llama-Q4_K_M "
                                   "tiny-qwen2-Q4_K_M ";
    char key[64];
    snprintf(key, sizeof key, " %s ", model_stems[_i]);
    if (getenv("JOULE_ASAN") && !strstr(asan_stems, key)) {
        fprintf(stderr, "SKIP vk model %s under the sanitizers (the release run covers it)\n",
                model_stems[_i]);
        return;
    }
    check_model(spec, shared, model_stems[_i]);
}
END_TEST

/* Logits of a prompt then 4 single-token steps (the n=1 step re-run: profiled runs after
 * the first) on tiny-llama-Q8_0. */
static float *steps_logits(const char *spec, const char *shared, int32_t *n_vocab)
{
    char err[512];
    struct model *m = load_stem(shared, "tiny-llama-Q8_0");
    struct backend *b = NULL;
    ck_assert_msg(vk_backend_new(m, spec, 64, &b, err, sizeof err) == VK_OK, "%s", err);
    const int32_t nv = m->cfg.n_vocab;
    *n_vocab = nv;
    float *lg = malloc(sizeof(float) * 5 * (size_t)nv);
    ck_assert_ptr_nonnull(lg);
    int32_t prompt[6] = {1, 15, 200, 33, 7, 99};
    ck_assert_msg(backend_forward(b, prompt, 6, 0, false, lg, err, sizeof err) == 0, "%s", err);
    for (int32_t k = 1; k < 5; k++) {
        int32_t tok = 5 + 17 * k;
        ck_assert_msg(backend_forward(b, &tok, 1, 5 + k, false, lg + (size_t)k * (size_t)nv, err,
                                      sizeof err) == 0,
                      "%s", err);
    }
    backend_destroy(b);
    model_free(m);
    return lg;
}

/* JOULE_VK_PROFILE=1 (timestamps after every op, a table on stderr at the end) changes
 * nothing in the results. */
START_TEST(test_profile_same_logits)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    int32_t nv = 0;
    float *plain = steps_logits(spec, shared, &nv);
    setenv("JOULE_VK_PROFILE", "1", 1);
    float *prof = steps_logits(spec, shared, &nv);
    unsetenv("JOULE_VK_PROFILE");
    ck_assert_msg(memcmp(plain, prof, sizeof(float) * 5 * (size_t)nv) == 0,
                  "logits differ with JOULE_VK_PROFILE=1");
    free(plain);
    free(prof);
}
END_TEST

/* check_model on stem, and in the release run on release_stem too, with var=value. */
static void check_model_with(const char *spec, const char *shared, const char *var,
                             const char *value, const char *stem, const char *release_stem)
{
    setenv(var, value, 1);
    check_model(spec, shared, stem);
    if (!getenv("JOULE_ASAN")) check_model(spec, shared, release_stem);
    unsetenv(var);
}

/* Weights, logits and activations split across bindings by an artificial 256 KiB range
 * (the float file only in the release run: its split host path is the same). */
START_TEST(test_model_split_range)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    check_model_with(spec, shared, "JOULE_VK_MAX_RANGE", "262144", "tiny-llama-Q8_0",
                     "tiny-llama-F32");
}
END_TEST

static float max_diff(const float *a, const float *b, size_t n)
{
    float w = 0;
    for (size_t i = 0; i < n; i++) {
        float e = fabsf(a[i] - b[i]);
        if (!(e <= w)) w = isnan(e) ? INFINITY : e;
    }
    return w;
}

/* Logits of a 100-token prompt (one pass; its last row), then 3 single-token steps and one of 3
 * rows (decode: split attention where JOULE_VK_SPLIT_KV says so), on the stem's model.
 * pipe: a kernel the run must have used, or NULL. */
static float *decode_logits(const char *spec, const char *shared, const char *stem,
                            const char *pipe, int32_t *nv, size_t *n_rows)
{
    char err[512];
    struct model *m = load_stem(shared, stem);
    struct backend *b = NULL;
    ck_assert_msg(vk_backend_new(m, spec, 128, &b, err, sizeof err) == VK_OK, "%s", err);
    *nv = m->cfg.n_vocab;
    *n_rows = 7; /* the prompt's last row, 3 steps, 3 rows */
    float *lg = malloc(sizeof(float) * *n_rows * (size_t)*nv);
    ck_assert_ptr_nonnull(lg);
    int32_t ids[100];
    for (int32_t i = 0; i < 100; i++)
        ids[i] = (i * 37 + 11) % *nv;
    ck_assert_msg(backend_forward(b, ids, 100, 0, false, lg, err, sizeof err) == 0, "%s", err);
    int32_t pos = 100;
    for (int32_t k = 1; k < 4; k++, pos++) {
        int32_t tok = (5 + 17 * k) % *nv;
        ck_assert_msg(backend_forward(b, &tok, 1, pos, false, lg + (size_t)k * (size_t)*nv, err,
                                      sizeof err) == 0,
                      "%s", err);
    }
    int32_t three[3] = {7, 8, 9};
    ck_assert_msg(backend_forward(b, three, 3, pos, true, lg + 4 * (size_t)*nv, err, sizeof err) ==
                      0,
                  "%s", err);
    if (pipe) ck_assert_msg(vk_test_used_pipe(b, pipe), "%s: %s was not used", stem, pipe);
    backend_destroy(b);
    model_free(m);
    return lg;
}

typedef float *(*logits_run)(const char *spec, const char *shared, const char *stem,
                             const char *pipe, int32_t *nv, size_t *n_rows);

/* An attention kernel against the one-pass kernel on both tiny models (GQA groups of 2;
 * head_dim 32 and 64) and both caches: run's logits with the switch var at "0" and at
 * on[model] (where the kernel pipe, "_f32" added for the f32 cache, must run) differ by at
 * most tol16 (f16 cache) / tol32. Under ASan: the first model, f16 cache. */
static void compare_attention(const char *spec, const char *shared, logits_run run, const char *var,
                              const char *const on[2], const char *pipe, float tol16, float tol32)
{
    static const char *const stems[] = {"tiny-llama-Q8_0", "tiny-qwen2-F16"};
    for (int kv32 = 0; kv32 < 2; kv32++) {
        if (kv32) setenv("JOULE_VK_KV_F32", "1", 1);
        for (int si = 0; si < 2; si++) {
            if (getenv("JOULE_ASAN") && (si || kv32)) continue; /* the release run checks them */
            char want[64];
            snprintf(want, sizeof want, "%s%s", pipe, kv32 ? "_f32" : "");
            int32_t nv = 0;
            size_t rows = 0;
            setenv(var, "0", 1);
            float *one = run(spec, shared, stems[si], NULL, &nv, &rows);
            setenv(var, on[si], 1);
            float *other = run(spec, shared, stems[si], want, &nv, &rows);
            unsetenv(var);
            float d = max_diff(one, other, rows * (size_t)nv);
            fprintf(stderr, "vk %s %s=%s, %s cache: max abs difference %g from one pass\n",
                    stems[si], var, on[si], kv32 ? "f32" : "f16", d);
            ck_assert_msg(d <= (kv32 ? tol32 : tol16), "%s: %s and one-pass attention differ by %g",
                          stems[si], pipe, d);
            free(one);
            free(other);
        }
    }
    unsetenv("JOULE_VK_KV_F32");
}

/* Decode attention split over the KV range (attn_split + attn_merge, forced on this device
 * with 3 splits, uneven, and 64, most of them empty) against the one-pass kernel, with
 * GQA groups of 2 heads (both tiny models) and the f32 cache too; then the whole-model
 * reference check (greedy decode steps) with 3 splits. */
START_TEST(test_split_attention)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    static const char *const splits[] = {"3", "64"};
    compare_attention(spec, shared, decode_logits, "JOULE_VK_SPLIT_KV", splits, "attn_split", 1e-4f,
                      1e-4f);
    setenv("JOULE_VK_SPLIT_KV", "3", 1);
    check_model(spec, shared, "tiny-qwen2-F16");
    unsetenv("JOULE_VK_SPLIT_KV");
}
END_TEST

/* Logits of every row of a 203-token prompt, then of a 77-token batch continuing it (pos > 0),
 * then of a 40-row batch alternating that sequence (positions 280..299) and a second one
 * (positions 0..19), so that tiles of rows hold rows of two sequences; on the stem's model.
 * pipe: a kernel the run must have used, or NULL. */
static float *prefill_logits(const char *spec, const char *shared, const char *stem,
                             const char *pipe, int32_t *nv, size_t *n_rows)
{
    char err[512];
    struct model *m = load_stem(shared, stem);
    struct backend *b = NULL;
    ck_assert_msg(vk_backend_new_seq(m, spec, 320, 2, &b, err, sizeof err) == VK_OK, "%s", err);
    *nv = m->cfg.n_vocab;
    *n_rows = 320;
    float *lg = malloc(sizeof(float) * *n_rows * (size_t)*nv);
    ck_assert_ptr_nonnull(lg);
    int32_t ids[280];
    for (int32_t i = 0; i < 280; i++)
        ids[i] = (i * 37 + 11) % *nv;
    ck_assert_msg(backend_forward(b, ids, 203, 0, true, lg, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(
        backend_forward(b, ids + 203, 77, 203, true, lg + 203 * (size_t)*nv, err, sizeof err) == 0,
        "%s", err);
    int32_t tok[40], pos[40], seq[40];
    bool want[40];
    for (int32_t r = 0; r < 40; r++) {
        tok[r] = (r * 13 + 5) % *nv;
        seq[r] = r % 2;
        pos[r] = seq[r] ? r / 2 : 280 + r / 2;
        want[r] = true;
    }
    struct backend_batch bt = {40, tok, pos, seq, want};
    ck_assert_msg(backend_forward_batch(b, &bt, lg + 280 * (size_t)*nv, err, sizeof err) == 0, "%s",
                  err);
    if (pipe) ck_assert_msg(vk_test_used_pipe(b, pipe), "%s: %s was not used", stem, pipe);
    backend_destroy(b);
    model_free(m);
    return lg;
}

/* Prefill attention in tiles (attn_tile, forced on this device) against the one-pass kernel:
 * GQA groups of 2 heads, head_dim 32 and 64, batches not multiples of the tile, a batch at
 * pos > 0, tiles with rows of two sequences, the f16 and f32 caches; then the whole-model
 * reference check with tiles. */
START_TEST(test_tile_attention)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    /* f16 cache: the next layers' K and V are rounded to f16, where a last-bit difference of
     * an attention output can move a value by an f16 step */
    static const char *const on[] = {"1", "1"};
    compare_attention(spec, shared, prefill_logits, "JOULE_VK_ATTN_TILE", on, "attn_tile", 5e-3f,
                      1e-4f);
    setenv("JOULE_VK_ATTN_TILE", "1", 1);
    check_model(spec, shared, "tiny-qwen2-F16");
    unsetenv("JOULE_VK_ATTN_TILE");
}
END_TEST

/* The device context as the backend opens it (with the environment in force). */
static void open_ctx(const char *spec, struct vk_ctx *c)
{
    char err[512];
    ck_assert_msg(vk_ctx_open(c, spec, err, sizeof err) == VK_OK, "%s", err);
}

/* Weights written straight into mapped device memory (lavapipe's memory is unified) and
 * through the two staging buffers (JOULE_VK_STAGING=1, which also keeps the logits and the
 * step parameters device-local with a copy at each end of the step, as on discrete GPUs
 * without resizable BAR) give the same logits. */
START_TEST(test_upload_paths)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    struct vk_ctx c;
    open_ctx(spec, &c);
    bool direct = c.direct;
    vk_ctx_close(&c);
    int32_t nv = 0;
    float *plain = steps_logits(spec, shared, &nv);
    setenv("JOULE_VK_STAGING", "1", 1);
    open_ctx(spec, &c);
    ck_assert_msg(!c.direct, "JOULE_VK_STAGING=1 left direct writes on");
    vk_ctx_close(&c);
    float *staged = steps_logits(spec, shared, &nv);
    unsetenv("JOULE_VK_STAGING");
    fprintf(stderr, "vk upload paths: %s by default, staging when forced\n",
            direct ? "direct writes" : "staging");
    ck_assert_msg(memcmp(plain, staged, sizeof(float) * 5 * (size_t)nv) == 0,
                  "logits differ between direct and staged uploads");
    free(plain);
    free(staged);
}
END_TEST

/* Where the device can pin its subgroup size, pipelines are made with it and the
 * reductions may assume one subgroup; JOULE_VK_NO_PIN=1 turns both off, and the logits
 * stay within float rounding of the pinned run. */
START_TEST(test_subgroup_pinning)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    struct vk_ctx c;
    open_ctx(spec, &c);
    bool pinned = c.info.pin_ok;
    if (pinned) {
        ck_assert_uint_ge(c.pin_sg, c.info.min_subgroup);
        ck_assert_uint_le(c.pin_sg, c.info.max_subgroup);
    } else {
        ck_assert_uint_eq(c.pin_sg, 0);
    }
    ck_assert_msg(c.red != VK_RED_ONE_SUBGROUP || (c.pin_sg && c.wg <= c.pin_sg),
                  "one-subgroup reductions without a pinned size");
    vk_ctx_close(&c);
    fprintf(stderr, "vk subgroup: %s\n", pinned ? "pinned" : "cannot be pinned on this device");
    int32_t nv = 0;
    float *pin = steps_logits(spec, shared, &nv);
    setenv("JOULE_VK_NO_PIN", "1", 1);
    open_ctx(spec, &c);
    ck_assert_uint_eq(c.pin_sg, 0);
    ck_assert_int_ne(c.red, VK_RED_ONE_SUBGROUP);
    vk_ctx_close(&c);
    float *free_sg = steps_logits(spec, shared, &nv);
    unsetenv("JOULE_VK_NO_PIN");
    float d = max_diff(pin, free_sg, 5 * (size_t)nv);
    ck_assert_msg(d <= 1e-3f, "pinned and unpinned logits differ by %g", d);
    free(pin);
    free(free_sg);
}
END_TEST

/* A step the device does not finish in time is an error, not a hang, and the backend
 * refuses further work; JOULE_VK_TIMEOUT_MS=0 makes every step "late". */
START_TEST(test_step_timeout)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    char err[512];
    struct model *m = load_stem(shared, "tiny-llama-Q8_0");
    setenv("JOULE_VK_TIMEOUT_MS", "0", 1);
    int32_t prompt[6] = {1, 15, 200, 33, 7, 99};
    float *lg = malloc(sizeof(float) * (size_t)m->cfg.n_vocab);
    ck_assert_ptr_nonnull(lg);
    bool timed_out = false;
    /* a step could finish between the submit and the poll: a few tries */
    for (int tries = 0; tries < 5 && !timed_out; tries++) {
        struct backend *b = NULL;
        int rc = vk_backend_new(m, spec, 64, &b, err, sizeof err);
        if (rc == VK_OK && backend_forward(b, prompt, 6, 0, false, lg, err, sizeof err) == 0) {
            backend_destroy(b);
            continue;
        }
        timed_out = true;
        ck_assert_msg(strstr(err, "did not finish") && strstr(err, "JOULE_VK_TIMEOUT_MS"), "%s",
                      err);
        if (rc == VK_OK) {
            ck_assert_int_ne(backend_forward(b, prompt, 1, 6, false, lg, err, sizeof err), 0);
            ck_assert_msg(strstr(err, "stopped answering"), "%s", err);
            backend_destroy(b);
        }
    }
    unsetenv("JOULE_VK_TIMEOUT_MS");
    ck_assert_msg(timed_out, "no step timed out with JOULE_VK_TIMEOUT_MS=0");
    free(lg);
    model_free(m);
}
END_TEST

/* The model and its cache are checked against the free device memory before anything is
 * allocated: one line with what is needed and what is free. */
START_TEST(test_memory_check)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    char err[512];
    struct model *m = load_stem(shared, "tiny-llama-Q8_0");
    setenv("JOULE_VK_MEM_BUDGET", "1048576", 1);
    struct backend *b = NULL;
    ck_assert_int_eq(vk_backend_new(m, spec, 64, &b, err, sizeof err), VK_FAILED);
    ck_assert_msg(strstr(err, "1.00 MiB of device memory free") && strstr(err, "model needs") &&
                      strstr(err, "KV cache") && !strchr(err, '\n'),
                  "%s", err);
    /* enough memory: the same model opens */
    setenv("JOULE_VK_MEM_BUDGET", "1000000000", 1);
    ck_assert_msg(vk_backend_new(m, spec, 64, &b, err, sizeof err) == VK_OK, "%s", err);
    backend_destroy(b);
    unsetenv("JOULE_VK_MEM_BUDGET");
    model_free(m);
}
END_TEST

/* A whole model with matvec_gpu (JOULE_VK_MV_GPU=1) for its decode steps: Q4_K and Q6_K
 * (Q4_K_M), in the release run Q4_0 too. */
START_TEST(test_model_mv_gpu)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    check_model_with(spec, shared, "JOULE_VK_MV_GPU", "1", "tiny-llama-Q4_K_M", "tiny-llama-Q4_0");
}
END_TEST

/* The graph's fused runs on the GPU decode kernel (JOULE_VK_MV_GPU=1): decode steps after a
 * 100-token prompt (single tokens and a batch of 3, so pos > 0 and several tokens per
 * workgroup) fused against JOULE_VK_NO_FUSE=1 on llama (Q4_K_M: q/k Q4_K and v Q6_K in one
 * run, sets by type), qwen2 (q/k/v biases, NEOX RoPE, the tied output) and, in the release
 * run, qwen2's Q4_K_M mix; f32 cache within 1e-4, f16 cache within an f16 step (a last-bit
 * difference of K can round to another f16 value, as in test_tile_attention); prefill
 * batches with rows of two sequences through rope_kv; then the whole models against the
 * float64 references, fused. */
START_TEST(test_fused_decode)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    static const char *const stems[] = {"tiny-llama-Q4_K_M", "tiny-qwen2-Q8_0",
                                        "tiny-qwen2-Q4_K_M"};
    bool asan = getenv("JOULE_ASAN") != NULL;
    setenv("JOULE_VK_MV_GPU", "1", 1);
    for (int kv32 = 0; kv32 < 2; kv32++) {
        if (kv32) setenv("JOULE_VK_KV_F32", "1", 1);
        for (size_t si = 0; si < sizeof stems / sizeof stems[0]; si++) {
            if ((asan && (si || kv32)) || (si == 2 && kv32)) continue;
            int32_t nv = 0;
            size_t rows = 0;
            setenv("JOULE_VK_NO_FUSE", "1", 1);
            float *plain = decode_logits(spec, shared, stems[si], "matvec_gpu", &nv, &rows);
            unsetenv("JOULE_VK_NO_FUSE");
            float *fused = decode_logits(spec, shared, stems[si], "rope_kv", &nv, &rows);
            float d = max_diff(plain, fused, rows * (size_t)nv);
            fprintf(stderr, "vk %s fused decode, %s cache: max abs difference %g from unfused\n",
                    stems[si], kv32 ? "f32" : "f16", d);
            ck_assert_msg(d <= (kv32 ? 1e-4f : 5e-3f), "%s: fused and unfused decode differ by %g",
                          stems[si], d);
            free(plain);
            free(fused);
        }
    }
    /* batches over 8 rows keep their products op by op but take rope_kv: rows of two
     * sequences in one batch (prefill_logits), f32 cache */
    if (!asan) {
        int32_t nv = 0;
        size_t rows = 0;
        setenv("JOULE_VK_NO_FUSE", "1", 1);
        float *plain = prefill_logits(spec, shared, "tiny-qwen2-Q8_0", NULL, &nv, &rows);
        unsetenv("JOULE_VK_NO_FUSE");
        float *fused = prefill_logits(spec, shared, "tiny-qwen2-Q8_0", "rope_kv", &nv, &rows);
        float d = max_diff(plain, fused, rows * (size_t)nv);
        fprintf(stderr, "vk tiny-qwen2-Q8_0 prefill with rope_kv: max abs difference %g\n", d);
        ck_assert_msg(d <= 1e-4f, "prefill with rope_kv differs by %g", d);
        free(plain);
        free(fused);
    }
    unsetenv("JOULE_VK_KV_F32");
    check_model(spec, shared, "tiny-qwen2-Q8_0");
    if (!asan) check_model(spec, shared, "tiny-llama-Q4_K_M");
    unsetenv("JOULE_VK_MV_GPU");
}
END_TEST

/* The fused kernels in other configurations, against the unfused default (f32 cache,
 * qwen2 Q8_0: biases in every set): workgroups of 64 (several subgroups) with 3 rows per
 * group (sets whose rows do not divide into groups: 128-row k and v), shared-memory
 * reductions in workgroups of 16, and a 128 KiB range that splits the tied output weight
 * into chunks (that product then runs alone with its RMSNorm; the layers stay fused), and
 * split decode attention (as on GPUs) after rope_kv, and profiled (a timestamp after each
 * fused unit). Under the sanitizers: the first. */
START_TEST(test_fused_configs)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    static const char *const cfg[][2][2] = {
        {{"JOULE_VK_WG", "64"}, {"JOULE_VK_MV_ROWS", "3"}},
        {{"JOULE_VK_NO_SUBGROUP", "1"}, {"JOULE_VK_WG", "16"}},
        {{"JOULE_VK_MAX_RANGE", "131072"}, {NULL, NULL}},
        {{"JOULE_VK_SPLIT_KV", "3"}, {NULL, NULL}},
        {{"JOULE_VK_PROFILE", "1"}, {NULL, NULL}},
    };
    const char *stem = "tiny-qwen2-Q8_0";
    setenv("JOULE_VK_MV_GPU", "1", 1);
    setenv("JOULE_VK_KV_F32", "1", 1);
    int32_t nv = 0;
    size_t rows = 0;
    setenv("JOULE_VK_NO_FUSE", "1", 1);
    float *plain = decode_logits(spec, shared, stem, NULL, &nv, &rows);
    unsetenv("JOULE_VK_NO_FUSE");
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        if (c && getenv("JOULE_ASAN")) break;
        for (int e = 0; e < 2; e++)
            if (cfg[c][e][0]) setenv(cfg[c][e][0], cfg[c][e][1], 1);
        float *fused = decode_logits(spec, shared, stem, "matvec_gpu_q8_0_set", &nv, &rows);
        for (int e = 0; e < 2; e++)
            if (cfg[c][e][0]) unsetenv(cfg[c][e][0]);
        float d = max_diff(plain, fused, rows * (size_t)nv);
        fprintf(stderr, "vk %s fused decode, %s=%s: max abs difference %g from unfused\n", stem,
                cfg[c][0][0], cfg[c][0][1], d);
        ck_assert_msg(d <= 1e-4f, "%s=%s: fused and unfused decode differ by %g", cfg[c][0][0],
                      cfg[c][0][1], d);
        free(fused);
    }
    free(plain);
    unsetenv("JOULE_VK_KV_F32");
    unsetenv("JOULE_VK_MV_GPU");
}
END_TEST

/* The dispatches and barriers recorded for a decode step (1 token) of stem */
static void decode_counts(const char *spec, const char *shared, const char *stem,
                          int32_t *dispatches, int32_t *barriers, int32_t *n_layer)
{
    char err[512];
    struct model *m = load_stem(shared, stem);
    struct backend *b = NULL;
    ck_assert_msg(vk_backend_new(m, spec, 64, &b, err, sizeof err) == VK_OK, "%s", err);
    float *lg = malloc(sizeof(float) * (size_t)m->cfg.n_vocab);
    ck_assert_ptr_nonnull(lg);
    int32_t prompt[6] = {1, 15, 200, 33, 7, 99};
    ck_assert_msg(backend_forward(b, prompt, 6, 0, false, lg, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(backend_forward(b, prompt, 1, 6, false, lg, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(vk_test_step_counts(b, 1, 0, 1, dispatches, barriers), 0);
    *n_layer = m->cfg.n_layer;
    free(lg);
    backend_destroy(b);
    model_free(m);
}

/* The fusions cut a decode step's dispatches per layer from 14 (RMSNorm, q, k, v, two ropes,
 * the KV store, attention, wo, RMSNorm, gate, up, SwiGLU, down) to 6 (q/k/v with the
 * RMSNorm, rope + KV store, attention, wo, gate + up + SwiGLU with the RMSNorm, down), and
 * the output's RMSNorm goes into its product; barriers per layer from 10 to 6 (counted by
 * the recorder; one-pass attention, as on this device). Q4_K_M (v in Q6_K): 7 where a
 * layer's v has its own set. */
START_TEST(test_fused_dispatch_count)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    if (getenv("JOULE_ASAN")) return; /* counts of the recorder: the release run checks them */
    setenv("JOULE_VK_MV_GPU", "1", 1);
    int32_t d_f, b_f, d_u, b_u, L;
    setenv("JOULE_VK_NO_FUSE", "1", 1);
    decode_counts(spec, shared, "tiny-llama-Q8_0", &d_u, &b_u, &L);
    unsetenv("JOULE_VK_NO_FUSE");
    decode_counts(spec, shared, "tiny-llama-Q8_0", &d_f, &b_f, &L);
    fprintf(stderr,
            "vk decode step, tiny-llama-Q8_0 (%d layers): %d dispatches, %d barriers unfused; "
            "%d, %d fused\n",
            L, d_u, b_u, d_f, b_f);
    ck_assert_int_eq(d_u, 1 + 14 * L + 2); /* embed; layers; output norm and product */
    ck_assert_int_eq(d_f, 1 + 6 * L + 1);
    ck_assert_int_eq(b_u, 10 * L + 2);
    ck_assert_int_eq(b_f, 6 * L + 1);
    decode_counts(spec, shared, "tiny-llama-Q4_K_M", &d_f, &b_f, &L);
    fprintf(stderr, "vk decode step, tiny-llama-Q4_K_M: %d dispatches, %d barriers fused\n", d_f,
            b_f);
    ck_assert_int_le(d_f, 1 + 7 * L + 1);
    unsetenv("JOULE_VK_MV_GPU");
}
END_TEST

/* The int8 decode path (--precision fast: matvec_q8 + quantize_q8, forced on this device
 * with JOULE_VK_MV_GPU=1 JOULE_VK_INT8=1): the three reference prompts run in decode steps
 * of `chunk` rows (1: one token a step; 3: matvec_q8 with 3 tokens), every row's logits
 * against the float64 reference with the CPU fast precision's bounds (tests/test_cpu.c:
 * top-1 >= 0.90, max error < 2), and closer to the exact decode steps than a broken kernel
 * could be. */
static void check_int8(const char *spec, const char *shared, const char *stem, int32_t chunk)
{
    char err[512];
    setenv("JOULE_VK_MV_GPU", "1", 1);
    setenv("JOULE_VK_INT8", "1", 1);
    struct model *m = load_stem(shared, stem);
    struct backend *b = NULL, *bx = NULL;
    ck_assert_msg(vk_backend_new(m, spec, 256, &b, err, sizeof err) == VK_OK, "%s", err);
    ck_assert_msg(vk_backend_new(m, spec, 256, &bx, err, sizeof err) == VK_OK, "%s", err);
    if (vk_feature_built("int8dot") != 1 || !b->has_fast) {
        fprintf(stderr, "%s: skipped: %s\n", __func__,
                vk_feature_built("int8dot") != 1
                    ? "this build has no int8dot kernels (its glslc is too old)"
                    : "the device has no integer dot products (Vulkan 1.3)");
        ck_assert_int_eq(backend_set_precision(b, PRECISION_FAST), PRECISION_EXACT);
        backend_destroy(b);
        backend_destroy(bx);
        model_free(m);
        return;
    }
    ck_assert_int_eq(backend_set_precision(b, PRECISION_FAST), PRECISION_FAST);
    const struct vk_backend *vb = (const struct vk_backend *)b;
    const int32_t nv = m->cfg.n_vocab;
    double worst = 0, worst_exact = 0;
    int64_t rows = 0, agree = 0;
    for (int k = 0; k < 3; k++) {
        int32_t *ids;
        size_t n;
        float *ref = test_ref_prompt(shared, stem, k, nv, &ids, &n);
        float *lg = malloc(sizeof(float) * (size_t)chunk * (size_t)nv);
        float *lx = malloc(sizeof(float) * (size_t)chunk * (size_t)nv);
        ck_assert(lg && lx);
        for (int32_t p = 0; p < (int32_t)n; p += chunk) {
            int32_t c = (int32_t)n - p < chunk ? (int32_t)n - p : chunk;
            ck_assert_msg(backend_forward(b, ids + p, c, p, true, lg, err, sizeof err) == 0, "%s",
                          err);
            ck_assert_msg(backend_forward(bx, ids + p, c, p, true, lx, err, sizeof err) == 0, "%s",
                          err);
            for (int32_t t = 0; t < c; t++) {
                const float *a = lg + (size_t)t * nv, *x = lx + (size_t)t * nv;
                const float *r = ref + (size_t)(p + t) * nv;
                for (int32_t i = 0; i < nv; i++) {
                    double e = fabs((double)a[i] - r[i]), ex = fabs((double)a[i] - x[i]);
                    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
                    if (!(ex <= worst_exact)) worst_exact = isnan(ex) ? INFINITY : ex;
                }
                agree += argmax(a, nv) == argmax(r, nv);
                rows++;
            }
        }
        free(lg);
        free(lx);
        free(ref);
        free(ids);
    }
    /* the products of decode steps ran the int8 kernel */
    for (int32_t i = 0; i < vb->graph.n_ops; i++)
        if (vb->graph.ops[i].kind == OP_MATMUL && !vb->graph.ops[i].logits_rows)
            ck_assert_int_eq(vk_matmul_family(vb, i, chunk, 0, 1), VKF_MATVEC_Q8);
    double top1 = (double)agree / (double)rows;
    fprintf(stderr,
            "vk %s int8 decode (%d a step): max abs logit error %.4f (vs the exact steps %.4f), "
            "top-1 %.4f over %lld rows\n",
            stem, chunk, worst, worst_exact, top1, (long long)rows);
    ck_assert_msg(top1 >= 0.90, "%s: int8 top-1 agreement %g", stem, top1);
    ck_assert_msg(isfinite(worst) && worst < 2.0, "%s: int8 max error %g", stem, worst);
    ck_assert_msg(worst_exact > 0, "%s: the int8 path gave the exact path's logits", stem);
    backend_destroy(bx);
    backend_destroy(b);
    model_free(m);
}

/* Q4_K + Q6_K (Q4_K_M), Q8_0 (qwen2: biases) one token a step; in the release run Q4_0 in
 * steps of 3 and Q6_K */
START_TEST(test_model_int8)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    check_int8(spec, shared, "tiny-llama-Q4_K_M", 1);
    if (getenv("JOULE_ASAN")) return;
    check_int8(spec, shared, "tiny-qwen2-Q8_0", 1);
    check_int8(spec, shared, "tiny-llama-Q4_0", 3);
    check_int8(spec, shared, "tiny-llama-Q6_K", 1);
}
END_TEST

/* Whole models with the tiled prefill products (JOULE_VK_MATMUL_TILE=1): the prefill batches
 * of prefill_logits (203 and 77 tokens, 40 rows of two sequences) against the old matmul, then
 * the float64 references (prompts of 20 and more tokens) and greedy decoding; Q4_K_M (Q4_K
 * and Q6_K weights), in the release run tiny-qwen2-F16 too (q/k/v biases). Cooperative
 * matrices off (a GPU with them would take matmul_cm: test_models checks that one against the
 * references). */
START_TEST(test_model_matmul_tile)
{
    NEED_SHARED(shared);
    NEED_VK(spec);
    setenv("JOULE_VK_COOPMAT", "0", 1);
    static const char *const stems[] = {"tiny-llama-Q4_K_M", "tiny-qwen2-F16"};
    /* (the f32 cache: with f16, a last-bit difference of a product can move the next layers'
     * K and V by an f16 step: 2.3e-3 measured for Q4_K_M; f32: 2.9e-5, qwen2 7.1e-5) */
    setenv("JOULE_VK_KV_F32", "1", 1);
    for (int si = 0; si < 2; si++) {
        if (si && getenv("JOULE_ASAN")) break;
        int32_t nv = 0;
        size_t rows = 0;
        setenv("JOULE_VK_MATMUL_TILE", "0", 1);
        float *old = prefill_logits(spec, shared, stems[si], NULL, &nv, &rows);
        setenv("JOULE_VK_MATMUL_TILE", "1", 1);
        float *tiled = prefill_logits(spec, shared, stems[si], "matmul_tile_", &nv, &rows);
        float d = max_diff(old, tiled, rows * (size_t)nv);
        fprintf(stderr, "vk %s matmul_tile: max abs difference %g from matmul\n", stems[si], d);
        ck_assert_msg(d <= 2.5e-4f, "%s: matmul_tile and matmul differ by %g", stems[si], d);
        free(old);
        free(tiled);
        unsetenv("JOULE_VK_MATMUL_TILE");
    }
    unsetenv("JOULE_VK_KV_F32");
    check_model_with(spec, shared, "JOULE_VK_MATMUL_TILE", "1", "tiny-llama-Q4_K_M",
                     "tiny-qwen2-F16");
    unsetenv("JOULE_VK_COOPMAT");
}
END_TEST

void vk_model_tests(TCase *models, TCase *mv_gpu, TCase *tile, TCase *split, TCase *mm_tile)
{
    tcase_add_test(mm_tile, test_model_matmul_tile);
    tcase_add_loop_test(models, test_models, 0, sizeof model_stems / sizeof model_stems[0]);
    tcase_add_test(models, test_model_split_range);
    tcase_add_test(models, test_profile_same_logits);
    tcase_add_test(models, test_upload_paths);
    tcase_add_test(models, test_subgroup_pinning);
    tcase_add_test(models, test_step_timeout);
    tcase_add_test(models, test_memory_check);
    tcase_add_test(mv_gpu, test_model_mv_gpu);
    tcase_add_test(mv_gpu, test_model_int8);
    tcase_add_test(mv_gpu, test_fused_decode);
    tcase_add_test(mv_gpu, test_fused_configs);
    tcase_add_test(mv_gpu, test_fused_dispatch_count);
    tcase_add_test(tile, test_tile_attention);
    tcase_add_test(split, test_split_attention);
}
