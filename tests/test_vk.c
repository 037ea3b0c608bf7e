/* vk — the Vulkan backend on whatever Vulkan device exists (lavapipe in CI), under the
 * Khronos validation layer: every op against the CPU reference kernels on random inputs
 * (each weight type, sizes that are not multiples of the workgroup size, several
 * workgroup / subgroup configurations), a machine without a loader, the device listing and
 * the switches, and the kernel choosers on every device profile. Whole models (against the
 * float64 references, kernel against kernel, the device context's choices) are in
 * test_vk_model.c, in the same suite. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu.h"
#include "model.h"
#include "quant.h"
#include "shaders.h"
#include "test_vk.h"
#include "testutil.h"
#include "vk.h"
#include "vk_env.h"
#include "vk_impl.h"

/* ---- random data ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void) /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static void fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = frand() * scale;
}

/* A weight of ne1 rows x ne0 of type, from random floats; data owned by the caller. */
static struct weight make_weight(uint32_t type, int64_t ne0, int64_t ne1, const char *name)
{
    struct weight w = {.name = name, .type = type, .ne0 = ne0, .ne1 = ne1};
    ck_assert(quant_row_bytes(type, (uint64_t)ne0, &w.row_bytes));
    uint8_t *data = malloc((size_t)(w.row_bytes * (uint64_t)ne1));
    float *row = malloc(sizeof(float) * (size_t)ne0);
    ck_assert(data && row);
    for (int64_t r = 0; r < ne1; r++) {
        fill(row, (size_t)ne0, 1.0f);
        quant_quantize_row_ref(type, row, data + (uint64_t)r * w.row_bytes, ne0);
    }
    free(row);
    w.data = data;
    return w;
}

static void assert_close(const float *got, const float *want, size_t n, float tol, const char *what)
{
    float worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        float e = fabsf(got[i] - want[i]) / (1.0f + fabsf(want[i]));
        if (!(e <= worst)) { /* catches NaN */
            worst = isnan(e) ? INFINITY : e;
            at = i;
        }
    }
    ck_assert_msg(worst <= tol, "%s: element %zu is %g, want %g (rel err %g > %g)", what, at,
                  (double)got[at], (double)want[at], (double)worst, (double)tol);
}

/* ---- single-op harness: a model config, a one- or two-op graph, a backend ---- */

struct harness {
    struct model m;
    struct op ops[2];
    struct backend *b;
    float tol; /* check_matmul_n's relative tolerance; 0: by the backend's precision */
};

static void h_config(struct harness *h, int32_t n_embd, int32_t n_ff, int32_t n_vocab,
                     int32_t n_head, int32_t n_head_kv, int32_t head_dim)
{
    memset(h, 0, sizeof *h);
    struct model_config *c = &h->m.cfg;
    c->n_embd = n_embd;
    c->n_ff = n_ff;
    c->n_vocab = n_vocab;
    c->n_head = n_head;
    c->n_head_kv = n_head_kv;
    c->head_dim = head_dim;
    c->rope_dim = head_dim;
    c->n_layer = 1;
    c->rms_eps = 1e-5f;
    c->rope_base = 10000.0f;
    c->rope_freq_scale = 1.0f;
    for (int i = 0; i < 2; i++)
        h->ops[i].src = h->ops[i].src2 = ACT_NONE;
}

static void h_open(struct harness *h, const char *spec, int n_ops, int32_t n_ctx)
{
    struct graph g = {h->ops, n_ops};
    char err[512];
    int rc = vk_backend_new_graph(&h->m, &g, spec, n_ctx, &h->b, err, sizeof err);
    ck_assert_msg(rc == VK_OK, "vk backend: %s", err);
}

static void h_set(struct harness *h, enum act a, const float *x, int32_t rows)
{
    char err[512];
    ck_assert_msg(vk_test_set_act(h->b, a, x, rows, err, sizeof err) == 0, "%s", err);
}
static void h_get(struct harness *h, enum act a, float *x, int32_t rows)
{
    char err[512];
    ck_assert_msg(vk_test_get_act(h->b, a, x, rows, err, sizeof err) == 0, "%s", err);
}
static void h_run(struct harness *h, const int32_t *tokens, int32_t n, int32_t pos)
{
    char err[512];
    ck_assert_msg(vk_test_run(h->b, tokens, n, pos, 0, n, err, sizeof err) == 0, "%s", err);
}

/* Configurations: the device's defaults, several subgroups per workgroup (shared-memory
 * combining), and no subgroup operations at all. */
static const char *const configs[][2] = {
    {NULL, NULL}, {"JOULE_VK_WG", "32"}, {"JOULE_VK_NO_SUBGROUP", "1"}};
enum { N_CONFIGS = 3 };
static void set_config(int k)
{
    unsetenv("JOULE_VK_WG");
    unsetenv("JOULE_VK_NO_SUBGROUP");
    if (configs[k][0]) setenv(configs[k][0], configs[k][1], 1);
    if (k == 2) setenv("JOULE_VK_WG", "16", 1);
}
static void clear_config(void)
{
    unsetenv("JOULE_VK_WG");
    unsetenv("JOULE_VK_NO_SUBGROUP");
    unsetenv("JOULE_VK_MAX_RANGE");
}

static const uint32_t wtypes[] = {Q_F32,  Q_F16,  Q_BF16, Q_Q8_0, Q_Q4_0, Q_Q4_1, Q_Q5_0,
                                  Q_Q5_1, Q_Q2_K, Q_Q3_K, Q_Q4_K, Q_Q5_K, Q_Q6_K};
enum { N_WTYPES = sizeof wtypes / sizeof wtypes[0] };

/* Under the sanitizers (JOULE_ASAN) the product tests run one type of each family (float,
 * 32-weight blocks, K blocks): the host code is the same for every type, and the release
 * run checks every kernel (lavapipe under ASan takes minutes per type). */
static const uint32_t *matmul_types(int *n)
{
    static const uint32_t few[] = {Q_F16, Q_Q4_0, Q_Q4_K};
    bool asan = getenv("JOULE_ASAN") != NULL;
    *n = asan ? (int)(sizeof few / sizeof few[0]) : N_WTYPES;
    return asan ? few : wtypes;
}
static bool is_float(uint32_t t)
{
    return t == Q_F32 || t == Q_F16 || t == Q_BF16;
}
static bool is_k(uint32_t t)
{
    return t >= Q_Q2_K && t <= Q_Q6_K;
}

/* ---- ops ---- */

/* One batch of n tokens through the harness's MATMUL op (w, with bias, accumulating into
 * ACT_GATE, from ACT_XN) against cpu_matmul in the backend's precision (fast: the same 8-bit
 * activations; an element whose quantization rounds the other way moves the sum by one
 * step of one activation block, about 1e-3 here, where a wrong block or scale is O(1)). */
static void check_matmul_n(struct harness *h, const struct weight *w, const struct weight *bias,
                           int32_t n, bool small_range)
{
    const int64_t ne0 = w->ne0, rows = w->ne1;
    float *x = malloc(sizeof(float) * (size_t)(n * ne0));
    float *y0 = malloc(sizeof(float) * (size_t)(n * rows));
    float *want = malloc(sizeof(float) * (size_t)(n * rows));
    float *got = malloc(sizeof(float) * (size_t)(n * rows));
    ck_assert(x && y0 && want && got);
    fill(x, (size_t)(n * ne0), 1.0f);
    fill(y0, (size_t)(n * rows), 1.0f);
    memcpy(want, y0, sizeof(float) * (size_t)(n * rows));
    cpu_matmul_prec(NULL, h->b->precision, want, w, bias->data, x, n, true);
    h_set(h, ACT_XN, x, n);
    h_set(h, ACT_GATE, y0, n);
    h_run(h, NULL, n, 0);
    h_get(h, ACT_GATE, got, n);
    char what[96];
    snprintf(what, sizeof what, "matmul %s K=%lld n=%d%s", quant_name(w->type), (long long)ne0, n,
             small_range ? " (split)" : "");
    assert_close(got, want, (size_t)(n * rows),
                 h->tol > 0                          ? h->tol
                 : h->b->precision == PRECISION_FAST ? 5e-3f
                                                     : 2e-4f,
                 what);
    free(x);
    free(y0);
    free(want);
    free(got);
}

/* A harness of one MATMUL (rows x ne0 of type, with bias and accumulate) into ACT_GATE. */
static void matmul_harness(struct harness *h, uint32_t type, int32_t ne0, int32_t rows,
                           struct weight *w, struct weight *bias)
{
    h_config(h, ne0, rows, 16, 1, 1, 2);
    *w = make_weight(type, ne0, rows, "w");
    *bias = make_weight(Q_F32, rows, 1, "b");
    h->ops[0] = (struct op){.kind = OP_MATMUL,
                            .dst = ACT_GATE,
                            .src = ACT_XN,
                            .src2 = ACT_NONE,
                            .w = w,
                            .b = bias,
                            .accumulate = true};
}

/* MATMUL (matvec for 1-2 rows, tiled matmul above) with bias and accumulate, every type;
 * then with a storage-buffer range small enough to split the weight into chunks. */
static void check_matmul_ne0(const char *spec, uint32_t type, bool small_range, int32_t ne0,
                             const char *want_pipe)
{
    int32_t rows = 75;
    struct harness h;
    struct weight w, bias;
    matmul_harness(&h, type, ne0, rows, &w, &bias);
    if (small_range) setenv("JOULE_VK_MAX_RANGE", "4096", 1);
    h_open(&h, spec, 1, 64);
    /* 64 tokens fill the unit kernels' groups of 8 tokens per invocation (_t8) */
    static const int32_t ns[] = {1, 2, 3, 19, 64};
    bool ran64 = false;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int32_t n = ns[k];
        if (n > h.b->max_batch) continue;
        ran64 |= n == 64;
        check_matmul_n(&h, &w, &bias, n, small_range);
    }
    /* the unit kernels run on CPU devices only */
    if (want_pipe && vk_test_is_cpu(h.b)) {
        char name[64];
        snprintf(name, sizeof name, "%s%s", want_pipe, vk_type_suffix(type));
        ck_assert_msg(vk_test_used_pipe(h.b, name), "matmul %s: pipeline %s was not used",
                      quant_name(type), name);
        /* (8 tokens per invocation fill 64 only with workgroups of up to 8) */
        if (ran64 && strncmp(want_pipe, "matmul", 6) == 0 && 64 % (vk_test_wg(h.b) * 8) == 0) {
            snprintf(name, sizeof name, "%s%s_t8", want_pipe, vk_type_suffix(type));
            ck_assert_msg(vk_test_used_pipe(h.b, name), "matmul %s: pipeline %s was not used",
                          quant_name(type), name);
        }
    }
    backend_destroy(h.b);
    unsetenv("JOULE_VK_MAX_RANGE");
    free((void *)w.data);
    free((void *)bias.data);
}

static void check_matmul(const char *spec, uint32_t type, bool small_range)
{
    check_matmul_ne0(spec, type, small_range, is_float(type) ? 45 : is_k(type) ? 768 : 160, NULL);
}

/* Rows of whole units (384 elements) take the unit kernels on CPU devices (matvec_unit,
 * matmul_unit), K types (768 elements) matvec_kunit and matmul_kunit; elsewhere the same checks run
 * the other kernels. Rows per workgroup that do not divide the 75 rows, several configurations,
 * split weights. */
static void check_matmul_unit(const char *spec, uint32_t type, bool small_range)
{
    if (is_k(type)) {
        check_matmul_ne0(spec, type, small_range, 768, "matvec_kunit_");
        check_matmul_ne0(spec, type, small_range, 768, small_range ? NULL : "matmul_kunit_");
        return;
    }
    check_matmul_ne0(spec, type, small_range, 384, vk_unit_elems(type) ? "matvec_unit_" : NULL);
    /* (a split range allows batches of 2 only: all matvec) */
    check_matmul_ne0(spec, type, small_range, 384,
                     vk_unit_elems(type) && !small_range ? "matmul_unit_" : NULL);
}

typedef void (*check_fn)(const char *spec, uint32_t type, bool small_range);

/* check over the product types (matmul_types), in each device configuration, then with
 * the configuration cleared */
static void each_type(const char *spec, check_fn check, bool small_range)
{
    int nt;
    const uint32_t *types = matmul_types(&nt);
    for (int t = 0; t < nt; t++)
        check(spec, types[t], small_range);
}
/* (under the sanitizers the first configuration only: the others change which kernel
 * runs, which the release run checks, not the host code around it) */
static void each_config(const char *spec, check_fn check)
{
    const int n_configs = getenv("JOULE_ASAN") ? 1 : N_CONFIGS;
    for (int k = 0; k < n_configs; k++) {
        set_config(k);
        each_type(spec, check, false);
    }
    clear_config();
}

START_TEST(test_op_matmul_unit)
{
    NEED_VK(spec);
    each_config(spec, check_matmul_unit);
    setenv("JOULE_VK_MV_ROWS", "3", 1);
    setenv("JOULE_VK_MM_ROWS", "5", 1);
    each_type(spec, check_matmul_unit, false);
    each_type(spec, check_matmul_unit, true);
    unsetenv("JOULE_VK_MV_ROWS");
    unsetenv("JOULE_VK_MM_ROWS");
}
END_TEST

START_TEST(test_op_matmul)
{
    NEED_VK(spec);
    each_config(spec, check_matmul);
    each_type(spec, check_matmul, true);
    /* matvec weights through storage buffers: texel buffers off, or a weight larger
     * than the texel limit */
    setenv("JOULE_VK_NO_TEXEL", "1", 1);
    each_type(spec, check_matmul, false);
    unsetenv("JOULE_VK_NO_TEXEL");
    setenv("JOULE_VK_MAX_TEXELS", "64", 1);
    each_type(spec, check_matmul, false);
    unsetenv("JOULE_VK_MAX_TEXELS");
}
END_TEST

/* matvec_gpu (shaders/matvec_gpu.comp), forced on CPU devices by JOULE_VK_MV_GPU=1: rows of
 * 4096 (every lane runs many K iterations; lavapipe's workgroups of 8 hold half a K
 * super-block's 16 lanes), 75 rows (not a multiple of the rows per group), batches of 1, 2,
 * 3 and 8 tokens, bias and accumulate; split: a 128 KiB range cuts the weight into 2 or 3
 * chunks of rows. */
static void check_mv(const char *spec, uint32_t type, bool small_range, bool int8)
{
    const int32_t ne0 = 4096, rows = 75;
    struct harness h;
    struct weight w, bias;
    matmul_harness(&h, type, ne0, rows, &w, &bias);
    if (small_range) setenv("JOULE_VK_MAX_RANGE", "131072", 1);
    setenv("JOULE_VK_MV_GPU", "1", 1);
    if (int8) setenv("JOULE_VK_INT8", "1", 1);
    h_open(&h, spec, 1, 64);
    if (int8) ck_assert_int_eq(backend_set_precision(h.b, PRECISION_FAST), PRECISION_FAST);
    static const int32_t ns[] = {1, 2, 3, 8};
    bool asan = getenv("JOULE_ASAN") != NULL;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        if (asan && ns[k] != 1 && ns[k] != 3) continue;
        ck_assert_int_ge(h.b->max_batch, ns[k]);
        check_matmul_n(&h, &w, &bias, ns[k], small_range);
    }
    char name[64];
    snprintf(name, sizeof name, "%s_%s", int8 ? "matvec_q8" : "matvec_gpu", vk_type_suffix(type));
    ck_assert_msg(vk_test_used_pipe(h.b, name), "pipeline %s was not used", name);
    if (int8) ck_assert(vk_test_used_pipe(h.b, "quantize_q8"));
    backend_destroy(h.b);
    unsetenv("JOULE_VK_MAX_RANGE");
    unsetenv("JOULE_VK_MV_GPU");
    unsetenv("JOULE_VK_INT8");
    free((void *)w.data);
    free((void *)bias.data);
}

/* in the default configuration (workgroups of 8 on lavapipe, one subgroup), workgroups of
 * 64 (a GPU's: several subgroups, 4 K super-blocks per step) with 3 rows per group, shared
 * memory only (16); then split weights. Under the sanitizers: Q4_0 and Q4_K, the default
 * configuration and split. */
START_TEST(test_op_mv_gpu)
{
    NEED_VK(spec);
    static const uint32_t types[] = {Q_Q8_0, Q_Q4_0, Q_Q4_K, Q_Q6_K};
    bool asan = getenv("JOULE_ASAN") != NULL;
    for (int k = 0; k < (asan ? 1 : 3); k++) {
        clear_config();
        if (k == 1) {
            setenv("JOULE_VK_WG", "64", 1);
            setenv("JOULE_VK_MV_ROWS", "3", 1);
        }
        if (k == 2) {
            setenv("JOULE_VK_NO_SUBGROUP", "1", 1);
            setenv("JOULE_VK_WG", "16", 1);
        }
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
            if (!asan || types[t] == Q_Q4_0 || types[t] == Q_Q4_K)
                check_mv(spec, types[t], false, false);
        unsetenv("JOULE_VK_MV_ROWS");
    }
    clear_config();
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        if (!asan || types[t] == Q_Q4_0 || types[t] == Q_Q4_K)
            check_mv(spec, types[t], true, false);
}
END_TEST

/* The int8 decode path's products (matvec_q8 after quantize_q8, forced: JOULE_VK_MV_GPU=1
 * JOULE_VK_INT8=1, --precision fast) against the CPU's fast precision: every type, 1..8
 * tokens, K of 4096, the configurations of test_op_mv_gpu, split weights; skipped where the
 * binary has no int8dot kernels (its glslc was too old) or the device no integer dot
 * products. */
START_TEST(test_op_mv_q8)
{
    NEED_VK(spec);
    if (vk_feature_built("int8dot") != 1) {
        fprintf(stderr, "test_op_mv_q8: skipped: this build has no int8dot kernels\n");
        return;
    }
    struct vk_ctx c;
    char err[512];
    ck_assert_msg(vk_ctx_open(&c, spec, err, sizeof err) == VK_OK, "%s", err);
    bool dot = c.info.int8_dot && c.info.api13;
    vk_ctx_close(&c);
    if (!dot) {
        fprintf(stderr, "test_op_mv_q8: skipped: the device has no integer dot products\n");
        return;
    }
    static const uint32_t types[] = {Q_Q8_0, Q_Q4_0, Q_Q4_K, Q_Q6_K};
    bool asan = getenv("JOULE_ASAN") != NULL;
    for (int k = 0; k < (asan ? 1 : 3); k++) {
        clear_config();
        if (k == 1) {
            setenv("JOULE_VK_WG", "64", 1);
            setenv("JOULE_VK_MV_ROWS", "3", 1);
        }
        if (k == 2) {
            setenv("JOULE_VK_NO_SUBGROUP", "1", 1);
            setenv("JOULE_VK_WG", "16", 1);
        }
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
            if (!asan || types[t] == Q_Q4_0 || types[t] == Q_Q6_K)
                check_mv(spec, types[t], false, true);
        unsetenv("JOULE_VK_MV_ROWS");
    }
    clear_config();
    check_mv(spec, Q_Q4_K, true, true);
}
END_TEST

/* matmul_tile (shaders/matmul_tile.comp), forced on CPU devices by JOULE_VK_MATMUL_TILE=1:
 * 300 rows (not a multiple of the 64-row tiles), K of 1024 (32 steps; float rows of 1037:
 * a tail of 13), batches of 9, 33 and 64 (small tiles: 32 tokens) and 65 and 250 (large: 64;
 * the op harness holds at most 256), bias and accumulate; split: a 64 KiB range cuts the
 * weight into chunks of rows that are not multiples of 64 either (and allows 16 tokens). */
static void check_prefill(const char *spec, uint32_t type, bool small_range, bool cm)
{
    const int32_t ne0 = is_float(type) ? 1037 : 1024, rows = 300;
    struct harness h;
    struct weight w, bias;
    matmul_harness(&h, type, ne0, rows, &w, &bias);
    if (small_range) setenv("JOULE_VK_MAX_RANGE", "65536", 1);
    setenv("JOULE_VK_MATMUL_TILE", "1", 1);
    if (!cm) setenv("JOULE_VK_COOPMAT", "0", 1);
    h_open(&h, spec, 1, 256);
    /* fp16 tiles (matmul_cm): weights and activations rounded to 11 bits, sums of 1024 */
    if (cm) h.tol = 1e-2f;
    static const int32_t ns[] = {9, 33, 64, 65, 250};
    bool asan = getenv("JOULE_ASAN") != NULL;
    int32_t ran = 0;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int32_t n = ns[k] > h.b->max_batch ? h.b->max_batch : ns[k];
        if (n < 9 || n <= ran || (asan && ns[k] != 33 && ns[k] != 65)) continue;
        check_matmul_n(&h, &w, &bias, n, small_range);
        ran = n;
    }
    const int32_t want = small_range ? 9 : asan ? 65 : 250;
    ck_assert_int_ge(ran, want);
    char name[64];
    snprintf(name, sizeof name, "%s_%s", cm ? "matmul_cm" : "matmul_tile", vk_type_suffix(type));
    ck_assert_msg(vk_test_used_pipe(h.b, name), "pipeline %s was not used", name);
    backend_destroy(h.b);
    unsetenv("JOULE_VK_MAX_RANGE");
    unsetenv("JOULE_VK_MATMUL_TILE");
    unsetenv("JOULE_VK_COOPMAT");
    free((void *)w.data);
    free((void *)bias.data);
}

static void check_matmul_tile(const char *spec, uint32_t type, bool small_range)
{
    check_prefill(spec, type, small_range, false);
}

static void check_matmul_cm(const char *spec, uint32_t type, bool small_range)
{
    check_prefill(spec, type, small_range, true);
}

/* every type (under the sanitizers Q_F16, Q4_0 and Q4_K, batches of 33 and 65), whole and
 * split weights */
START_TEST(test_op_matmul_tile)
{
    NEED_VK(spec);
    each_type(spec, check_matmul_tile, false);
    each_type(spec, check_matmul_tile, true);
}
END_TEST

/* matmul_cm (cooperative matrices) where the device and the build have them (GPUs with
 * matrix units, through JOULE_TEST_DEVICE; skipped with a message elsewhere), as
 * test_op_matmul_tile checks matmul_tile: every type, whole and split, fp16 tolerance */
START_TEST(test_op_matmul_cm)
{
    NEED_VK(spec);
    struct vk_ctx c;
    char err[512];
    setenv("JOULE_VK_MATMUL_TILE", "1", 1);
    ck_assert_msg(vk_ctx_open(&c, spec, err, sizeof err) == VK_OK, "%s", err);
    bool cm = c.coopmat;
    vk_ctx_close(&c);
    unsetenv("JOULE_VK_MATMUL_TILE");
    if (!cm) {
        fprintf(stderr, "test_op_matmul_cm: skipped: %s\n",
                vk_feature_built("coopmat") != 1
                    ? "this build has no coopmat kernels (its glslc is too old)"
                    : "the device has no usable cooperative matrices (joule devices)");
        return;
    }
    each_type(spec, check_matmul_cm, false);
    each_type(spec, check_matmul_cm, true);
}
END_TEST

static void check_embed(const char *spec, uint32_t type, bool small_range)
{
    int32_t ne0 = is_float(type) ? 45 : is_k(type) ? 256 : 96, vocab = 300;
    struct harness h;
    h_config(&h, ne0, 8, vocab, 1, 1, 2);
    struct weight w = make_weight(type, ne0, vocab, "tok_embd");
    h.ops[0] =
        (struct op){.kind = OP_EMBED, .dst = ACT_X, .src = ACT_NONE, .src2 = ACT_NONE, .w = &w};
    if (small_range) setenv("JOULE_VK_MAX_RANGE", "4096", 1);
    h_open(&h, spec, 1, 32);
    int32_t tokens[11] = {0, vocab - 1, 1, 150, 7, 299, 42, 150, 3, 200, 100};
    int32_t n = h.b->max_batch < 11 ? h.b->max_batch : 11;
    float *want = malloc(sizeof(float) * (size_t)(n * ne0));
    float *got = malloc(sizeof(float) * (size_t)(n * ne0));
    cpu_embed(want, &w, tokens, n);
    h_run(&h, tokens, n, 0);
    h_get(&h, ACT_X, got, n);
    char what[64];
    snprintf(what, sizeof what, "embed %s%s", quant_name(type), small_range ? " (split)" : "");
    assert_close(got, want, (size_t)(n * ne0), 1e-6f, what);
    free(want);
    free(got);
    backend_destroy(h.b);
    unsetenv("JOULE_VK_MAX_RANGE");
    free((void *)w.data);
}

START_TEST(test_op_embed)
{
    NEED_VK(spec);
    for (int t = 0; t < N_WTYPES; t++) {
        check_embed(spec, wtypes[t], false);
        check_embed(spec, wtypes[t], true);
    }
}
END_TEST

START_TEST(test_op_rmsnorm_swiglu)
{
    NEED_VK(spec);
    for (int k = 0; k < N_CONFIGS; k++) {
        set_config(k);
        int32_t dim = 203, ff = 77, n = 5;
        struct harness h;
        h_config(&h, dim, ff, 16, 1, 1, 2);
        struct weight nw = make_weight(Q_F32, k == 1 ? 29 : dim, 1, "norm");
        /* config 1 normalizes 7 pieces of 29 (per-head q/k norms), the others whole rows */
        int32_t piece = k == 1 ? 29 : dim;
        h.ops[0] = (struct op){.kind = OP_RMSNORM,
                               .dst = ACT_XN,
                               .src = ACT_X,
                               .src2 = ACT_NONE,
                               .w = &nw,
                               .dim = piece};
        h.ops[1] = (struct op){.kind = OP_SWIGLU, .dst = ACT_GATE, .src = ACT_UP, .src2 = ACT_NONE};
        h_open(&h, spec, 2, 16);
        float x[5 * 203], want[5 * 203], got[5 * 203];
        float g[5 * 77], u[5 * 77], gwant[5 * 77], ggot[5 * 77];
        fill(x, sizeof x / 4, 3.0f);
        fill(g, sizeof g / 4, 4.0f);
        fill(u, sizeof u / 4, 2.0f);
        cpu_rmsnorm(want, x, nw.data, n * (dim / piece), piece, 1e-5f);
        memcpy(gwant, g, sizeof g);
        cpu_swiglu(gwant, u, n * ff);
        h_set(&h, ACT_X, x, n);
        h_set(&h, ACT_GATE, g, n);
        h_set(&h, ACT_UP, u, n);
        h_run(&h, NULL, n, 0);
        h_get(&h, ACT_XN, got, n);
        h_get(&h, ACT_GATE, ggot, n);
        assert_close(got, want, (size_t)(n * dim), 1e-5f, "rmsnorm");
        assert_close(ggot, gwant, (size_t)(n * ff), 1e-5f, "swiglu");
        backend_destroy(h.b);
        free((void *)nw.data);
    }
    clear_config();
}
END_TEST

START_TEST(test_op_rope)
{
    NEED_VK(spec);
    for (int type = 0; type < 2; type++) {
        int32_t n_head = 3, hd = 12, n = 7, pos = 9;
        struct harness h;
        h_config(&h, 16, 16, 16, n_head, n_head, hd);
        h.m.cfg.rope_dim = 8; /* partial rotation: the last 4 dims stay */
        h.m.cfg.rope_type = type ? ROPE_NEOX : ROPE_NORM;
        h.m.cfg.rope_base = 500.0f;
        /* the NEOX pass also has frequency factors and linear scaling (llama3, linear) */
        float factors[4] = {1.0f, 1.5f, 4.0f, 8.0f};
        struct weight fw = {.name = "rope_freqs",
                            .type = Q_F32,
                            .ne0 = 4,
                            .ne1 = 1,
                            .row_bytes = 16,
                            .data = factors};
        if (type) h.m.cfg.rope_freq_scale = 0.25f;
        h.ops[0] = (struct op){.kind = OP_ROPE,
                               .dst = ACT_Q,
                               .src = ACT_NONE,
                               .src2 = ACT_NONE,
                               .n_heads = n_head,
                               .w = type ? &fw : NULL};
        h_open(&h, spec, 1, 64);
        float q[7 * 36], want[7 * 36], got[7 * 36];
        fill(q, sizeof q / 4, 2.0f);
        memcpy(want, q, sizeof q);
        cpu_rope_ext(want, n, n_head, hd, 8, pos, 500.0f, h.m.cfg.rope_type, type ? factors : NULL,
                     h.m.cfg.rope_freq_scale);
        h_set(&h, ACT_Q, q, n);
        h_run(&h, NULL, n, pos);
        h_get(&h, ACT_Q, got, n);
        assert_close(got, want, sizeof q / 4, 1e-6f, type ? "rope neox" : "rope norm");
        backend_destroy(h.b);
    }
}
END_TEST

static float f16_round(float x)
{
    return quant_f16_to_f32(quant_f32_to_f16(x));
}

/* An attention case for check_attention_ext: heads, head_dim, window, the steps ({pos, rows})
 * and the relative tolerance. */
struct attn_shape {
    int32_t nh, nkv, hd, window;
    const int32_t (*steps)[2];
    size_t n_steps;
    float tol;
};

/* KV_STORE then ATTENTION over the shape's steps, against the CPU kernel on the cache
 * contents read back; the backend stays open in h (for the caller's pipeline checks). */
static void check_attention_ext(const char *spec, const struct attn_shape *a, struct harness *hp)
{
    const int32_t NH = a->nh, NKV = a->nkv, HD = a->hd;
    int32_t ctx = 0, max_n = 0;
    for (size_t s = 0; s < a->n_steps; s++) {
        if (a->steps[s][0] + a->steps[s][1] > ctx) ctx = a->steps[s][0] + a->steps[s][1];
        if (a->steps[s][1] > max_n) max_n = a->steps[s][1];
    }
    struct harness *h = hp;
    h_config(h, 16, 16, 16, NH, NKV, HD);
    h->ops[0] =
        (struct op){.kind = OP_KV_STORE, .dst = ACT_NONE, .src = ACT_K, .src2 = ACT_V, .layer = 0};
    h->ops[1] = (struct op){.kind = OP_ATTENTION,
                            .dst = ACT_ATTN,
                            .src = ACT_Q,
                            .src2 = ACT_NONE,
                            .layer = 0,
                            .window = a->window};
    h_open(h, spec, 2, ctx);
    bool f16 = vk_test_kv_f16(h->b);
    size_t kvn = (size_t)(ctx * NKV * HD), qn = (size_t)(max_n * NH * HD);
    float *kc = malloc(4 * kvn), *vc = malloc(4 * kvn), *kref = malloc(4 * kvn);
    float *vref = malloc(4 * kvn), *q = malloc(4 * qn), *want = malloc(4 * qn);
    float *got = malloc(4 * qn), *k = malloc(4 * (size_t)(max_n * NKV * HD));
    float *v = malloc(4 * (size_t)(max_n * NKV * HD));
    ck_assert(kc && vc && kref && vref && q && want && got && k && v);
    char err[512];
    for (size_t s = 0; s < a->n_steps; s++) {
        int32_t pos = a->steps[s][0], n = a->steps[s][1];
        fill(q, (size_t)(n * NH * HD), 3.0f);
        fill(k, (size_t)(n * NKV * HD), 3.0f);
        fill(v, (size_t)(n * NKV * HD), 2.0f);
        for (int32_t i = 0; i < n * NKV * HD; i++) {
            kref[pos * NKV * HD + i] = f16 ? f16_round(k[i]) : k[i];
            vref[pos * NKV * HD + i] = f16 ? f16_round(v[i]) : v[i];
        }
        h_set(h, ACT_Q, q, n);
        h_set(h, ACT_K, k, n);
        h_set(h, ACT_V, v, n);
        h_run(h, NULL, n, pos);
        h_get(h, ACT_ATTN, got, n);
        ck_assert_msg(vk_test_get_kv(h->b, 0, kc, vc, err, sizeof err) == 0, "%s", err);
        assert_close(kc, kref, (size_t)((pos + n) * NKV * HD), 0.0f, "kv_store k");
        assert_close(vc, vref, (size_t)((pos + n) * NKV * HD), 0.0f, "kv_store v");
        ck_assert_int_eq(cpu_attention_ext(want, q, kref, vref, n, pos, NH, NKV, HD, a->window), 0);
        char what[120];
        snprintf(what, sizeof what, "attention %d/%d heads hd=%d pos=%d n=%d window=%d", NH, NKV,
                 HD, pos, n, a->window);
        assert_close(got, want, (size_t)(n * NH * HD), a->tol, what);
    }
    free(kc), free(vc), free(kref), free(vref), free(q), free(want), free(got), free(k), free(v);
}

/* KV_STORE then ATTENTION (GQA 6/2 heads) over several steps, against the CPU kernel on
 * the cache contents read back. A head dimension of 10 takes the storage-buffer kernel, 12
 * (a multiple of 4) the texel one on CPU devices (asserted). */
static void check_attention(const char *spec, int32_t window, int32_t HD)
{
    static const int32_t steps[][2] = {{0, 13}, {13, 1}, {14, 1}, {15, 40}, {55, 25}};
    struct attn_shape a = {6, 2, HD, window, steps, sizeof steps / sizeof steps[0], 2e-5f};
    struct harness h;
    check_attention_ext(spec, &a, &h);
    struct backend *b = h.b;
    bool f16 = vk_test_kv_f16(b);
    if (HD % 4 == 0 && vk_test_is_cpu(b))
        ck_assert_msg(vk_test_used_pipe(b, f16 ? "attention_tx" : "attention_f32_tx"),
                      "attention hd=%d: the texel kernel was not used", HD);
    if (vk_env_on(VKS_ATTN_TILE)) /* the batches of 13, 40 and 25 rows */
        ck_assert_msg(vk_test_used_pipe(b, f16 ? "attn_tile" : "attn_tile_f32"),
                      "attention hd=%d: the tiled kernel was not used", HD);
    backend_destroy(b);
}

START_TEST(test_op_attention)
{
    NEED_VK(spec);
    for (int k = 0; k < N_CONFIGS; k++) {
        set_config(k);
        for (int32_t hd = 10; hd <= 12; hd += 2) {
            check_attention(spec, 0, hd);
            check_attention(spec, 19, hd); /* sliding window */
        }
    }
    clear_config();
    setenv("JOULE_VK_KV_F32", "1", 1);
    check_attention(spec, 0, 10);
    check_attention(spec, 0, 12);
    unsetenv("JOULE_VK_KV_F32");
}
END_TEST

/* The tiled prefill attention (attn_tile, JOULE_VK_ATTN_TILE=1) against the CPU kernel;
 * its whole-model checks are in test_vk_model.c. */
START_TEST(test_op_tile_attention)
{
    NEED_VK(spec);
    /* the op against the CPU kernel (GQA 6/2: tiles of 5 rows; windows; both caches) */
    setenv("JOULE_VK_ATTN_TILE", "1", 1);
    check_attention(spec, 0, 10);
    check_attention(spec, 19, 12);
    setenv("JOULE_VK_KV_F32", "1", 1);
    check_attention(spec, 0, 12);
    check_attention(spec, 19, 10);
    unsetenv("JOULE_VK_KV_F32");
    /* head_dim over 128 (half the slots and keys per tile): GQA 6/2 at 256 (tiles of 2 rows)
     * and 8/1 at 136 (1 row), batches at pos > 0 and not multiples of the tile, windows,
     * both caches; under the sanitizers: hd 256, f16 cache */
    static const int32_t steps[][2] = {{0, 37}, {37, 1}, {38, 50}, {88, 21}};
    static const struct attn_shape big[] = {{6, 2, 256, 0, steps, 4, 2e-5f},
                                            {8, 1, 136, 30, steps, 4, 2e-5f},
                                            {6, 2, 256, 30, steps, 4, 2e-5f},
                                            {8, 1, 136, 0, steps, 4, 2e-5f}};
    for (int i = 0; i < 4; i++) {
        if (getenv("JOULE_ASAN") && i) break; /* the release run checks them */
        if (i >= 2) setenv("JOULE_VK_KV_F32", "1", 1);
        struct harness h;
        check_attention_ext(spec, &big[i], &h);
        ck_assert_msg(vk_test_used_pipe(h.b, i >= 2 ? "attn_tile_f32" : "attn_tile"),
                      "hd %d: the tiled kernel was not used", big[i].hd);
        backend_destroy(h.b);
    }
    unsetenv("JOULE_VK_KV_F32");
    unsetenv("JOULE_VK_ATTN_TILE");
}
END_TEST

/* The split decode attention (attn_split + attn_merge, JOULE_VK_SPLIT_KV=splits) against
 * the CPU kernel: a 300-row prompt in two batches (the one-pass kernel), then decode steps of 1, 1,
 * 3 and 8 rows after it. form: the reduction suffix the run must have used, NULL: any. */
static void check_split(const char *spec, int32_t nh, int32_t nkv, int32_t hd, int32_t window,
                        const char *splits, const char *form)
{
    static const int32_t steps[][2] = {{0, 150}, {150, 150}, {300, 1},
                                       {301, 1}, {302, 3},   {305, 8}};
    setenv("JOULE_VK_SPLIT_KV", splits, 1);
    struct attn_shape a = {nh, nkv, hd, window, steps, sizeof steps / sizeof steps[0], 1e-4f};
    struct harness h;
    check_attention_ext(spec, &a, &h);
    unsetenv("JOULE_VK_SPLIT_KV");
    struct backend *b = h.b;
    bool f16 = vk_test_kv_f16(b);
    static const char *const forms[] = {"_sg", "_ns", ""}; /* "" last: a prefix of the others */
    const char *used = NULL;
    for (int i = 0; i < 3 && !used; i++) {
        char name[40];
        snprintf(name, sizeof name, "attn_split%s%s", f16 ? "" : "_f32", forms[i]);
        if (vk_test_used_pipe(b, name)) used = forms[i];
    }
    fprintf(stderr, "vk attn_split%s%s (wg %u): %d/%d heads, hd %d, window %d, %s splits\n",
            f16 ? "" : "_f32", used ? used : "?", vk_test_wg(b), nh, nkv, hd, window, splits);
    ck_assert_msg(used, "%d/%d heads hd=%d: attn_split was not used", nh, nkv, hd);
    ck_assert_msg(!form || strcmp(used, form) == 0, "attn_split%s used, want attn_split%s", used,
                  form);
    ck_assert(vk_test_used_pipe(b, "attn_merge"));
    backend_destroy(b);
}

/* attn_split against the CPU kernel in every reduction form (the configurations: the
 * device's default, several subgroups per workgroup, no subgroup operations), both caches,
 * GQA groups of 1, 2, 4, 8 and 7 heads (head_dim 64: teams of 8 or 16 lanes, one or two
 * subgroups of lavapipe), windows; head_dim 96 (teams rounded up to a power of two) and 256
 * (several words per lane on small workgroups) with 5 and 64 splits (most of them empty);
 * a head_dim that is not a multiple of 8 keeps the one-pass kernel. Under the sanitizers:
 * the default configuration, f16 cache, groups of 2. */
START_TEST(test_op_split_attention)
{
    NEED_VK(spec);
    bool asan = getenv("JOULE_ASAN") != NULL;
    static const int32_t groups[][2] = {{2, 2}, {4, 2}, {8, 2}, {8, 1}, {7, 1}};
    static const char *const want_form[N_CONFIGS] = {NULL, "", "_ns"};
    for (int k = 0; k < N_CONFIGS; k++) {
        set_config(k);
        for (int kv32 = 0; kv32 < 2; kv32++) {
            if (kv32) setenv("JOULE_VK_KV_F32", "1", 1);
            for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
                if (asan && (k || kv32 || g != 1)) continue; /* the release run checks them */
                check_split(spec, groups[g][0], groups[g][1], 64, g % 2 ? 100 : 0, "3",
                            want_form[k]);
            }
            unsetenv("JOULE_VK_KV_F32");
        }
    }
    clear_config();
    if (!asan)
        for (int kv32 = 0; kv32 < 2; kv32++) {
            if (kv32) setenv("JOULE_VK_KV_F32", "1", 1);
            check_split(spec, 8, 2, 96, 0, "5", NULL);
            check_split(spec, 6, 2, 256, 100, "64", NULL);
            unsetenv("JOULE_VK_KV_F32");
        }
    /* head_dim 12 (16-byte words would split rows): the one-pass kernel, forced or not */
    setenv("JOULE_VK_SPLIT_KV", "3", 1);
    static const int32_t steps[][2] = {{0, 20}, {20, 1}};
    struct attn_shape a = {6, 2, 12, 0, steps, 2, 2e-5f};
    struct harness h;
    check_attention_ext(spec, &a, &h);
    unsetenv("JOULE_VK_SPLIT_KV");
    ck_assert(!vk_test_used_pipe(h.b, "attn_split") && vk_test_used_pipe(h.b, "attention"));
    backend_destroy(h.b);
}
END_TEST

START_TEST(test_no_loader)
{
    setenv("JOULE_VK_LOADER", "/nonexistent/libvulkan.so.1", 1);
    char err[512] = "";
    struct backend *b = (struct backend *)1;
    struct model m;
    memset(&m, 0, sizeof m);
    int rc = vk_backend_new(&m, "auto", 64, &b, err, sizeof err);
    ck_assert_int_eq(rc, VK_NO_DEVICE);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err, "loader") != NULL, "reason: %s", err);
    FILE *out = tmpfile();
    ck_assert_int_eq(vk_print_devices(out, err, sizeof err), VK_NO_DEVICE);
    fclose(out);
    unsetenv("JOULE_VK_LOADER");
}
END_TEST

START_TEST(test_devices_listing)
{
    NEED_VK(spec);
    char err[512];
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert_int_eq(vk_print_devices(out, err, sizeof err), VK_OK);
    fclose(out);
    ck_assert_msg(strstr(buf, "subgroup size") && strstr(buf, "max storage buffer range") &&
                      strstr(buf, "energy sensors: none") && strstr(buf, "heap 0") &&
                      strstr(buf, "pci bus:"),
                  "listing: %s", buf);
    /* what joule would run there: lavapipe is a CPU device; forced, the GPU kernels */
    ck_assert_msg(strstr(buf, "kernels:       prefill the CPU-device kernels; decode the "
                              "CPU-device kernels"),
                  "listing: %s", buf);
    free(buf);
    setenv("JOULE_VK_MV_GPU", "1", 1);
    setenv("JOULE_VK_MATMUL_TILE", "1", 1);
    setenv("JOULE_VK_COOPMAT", "0", 1);
    out = open_memstream(&buf, &len);
    ck_assert_int_eq(vk_print_devices(out, err, sizeof err), VK_OK);
    fclose(out);
    ck_assert_msg(strstr(buf, "prefill matmul_tile (fp32 tiles); decode matvec_gpu;"),
                  "listing: %s", buf);
    free(buf);
    unsetenv("JOULE_VK_MV_GPU");
    unsetenv("JOULE_VK_MATMUL_TILE");
    unsetenv("JOULE_VK_COOPMAT");
    /* CPU implementations are never chosen automatically */
    struct model m;
    memset(&m, 0, sizeof m);
    struct backend *b = NULL;
    int rc = vk_backend_new(&m, "vulkan:999", 64, &b, err, sizeof err);
    ck_assert_int_eq(rc, VK_NO_DEVICE);
    /* the PCI address (for the energy meter) where VK_EXT_pci_bus_info is offered */
    struct vk_ctx c;
    ck_assert_msg(vk_ctx_open(&c, spec, err, sizeof err) == VK_OK, "%s", err);
    unsigned dom, bus, dev, fn;
    char tail;
    if (c.info.pci_bus_info)
        ck_assert_msg(
            strlen(c.info.pci_bus_id) == 12 &&
                sscanf(c.info.pci_bus_id, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) == 4,
            "pci bus id '%s'", c.info.pci_bus_id);
    else
        ck_assert_str_eq(c.info.pci_bus_id, "");
    vk_ctx_close(&c);
}
END_TEST

/* The messenger counts validation errors and operations then fail: provoke one. */
START_TEST(test_validation_errors_fail)
{
    NEED_VK(spec);
    struct vk_ctx c;
    char err[512];
    ck_assert_msg(vk_ctx_open(&c, spec, err, sizeof err) == VK_OK, "%s", err);
    ck_assert_msg(c.vi.validate, "JOULE_VK_VALIDATE=1 did not enable validation");
    ck_assert_int_eq(vk_check_validation(&c.vi, err, sizeof err), 0);
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = 64,
                              .usage = 0, /* invalid: at least one usage bit is required */
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkBuffer buf = VK_NULL_HANDLE;
    if (c.vi.f.vkCreateBuffer(c.dev, &bci, NULL, &buf) == VK_SUCCESS && buf)
        c.vi.f.vkDestroyBuffer(c.dev, buf, NULL);
    ck_assert_int_ne(vk_check_validation(&c.vi, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "validation") != NULL, "%s", err);
    c.vi.n_errors = 0; /* expected: do not fail the teardown */
    vk_ctx_close(&c);
}
END_TEST

/* ---- kernel choice: every description on every device profile names a built kernel ---- */

static int by_blob_name(const void *a, const void *b)
{
    return strcmp(shader_blobs[*(const int *)a].name, shader_blobs[*(const int *)b].name);
}

/* shader_blobs' index of name, -1 if absent: a binary search over the names sorted once (the
 * test looks up about a million descriptions) */
static int blob_index(const char *name)
{
    static int *order, n;
    if (!order) {
        while (shader_blobs[n].name)
            n++;
        order = malloc(sizeof *order * (size_t)(n ? n : 1));
        ck_assert(order);
        for (int i = 0; i < n; i++)
            order[i] = i;
        qsort(order, (size_t)n, sizeof *order, by_blob_name);
    }
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(shader_blobs[order[mid]].name, name);
        if (c == 0) return order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Marks the kernel k as reached; fails when it is not in the binary. */
static void reach(const struct vk_kernel *k, bool *reached, int *n_checked)
{
    char name[64];
    ck_assert_msg(vk_kernel_name(k, name, sizeof name) == 0,
                  "family %d type %u: the description has no name", (int)k->family, k->type);
    int i = blob_index(name);
    /* a kernel whose shader needs a newer glslc than the build had is listed as left out */
    ck_assert_msg(i >= 0 || vk_shader_missing(name),
                  "kernel %s (family %d, type %u) is not built into this binary", name,
                  (int)k->family, k->type);
    if (i >= 0) reached[i] = true;
    (*n_checked)++;
}

/* Device profiles: subgroups of 8/16/32/64 lanes or none, with and without shuffles, CPU or
 * GPU workgroup sizes (and forced ones), the subgroup switches; then KV cache f16/f32, texel
 * views on/off, unit kernels on/off; every weight type and every matmul case. */
START_TEST(test_kernels_exist)
{
    static const uint32_t sgs[] = {0, 8, 16, 32, 64};
    static const long forced_wg[] = {0, 4, 16, 32, 64, 256};
    bool red_seen[VK_RED_SHARED + 1] = {false};
    for (size_t s = 0; s < sizeof sgs / sizeof sgs[0]; s++)
        for (int bits = 0; bits < 32; bits++)
            for (size_t f = 0; f < sizeof forced_wg / sizeof forced_wg[0]; f++) {
                bool shuffle = bits & 1, cpu = bits & 2, no_sg = bits & 4, multi = bits & 8;
                uint32_t pinned = (bits & 16) ? sgs[s] : 0;
                uint32_t wg = vk_workgroup_size(cpu, sgs[s], forced_wg[f], 1024);
                ck_assert_msg(wg >= 4 && wg <= 1024 && (wg & (wg - 1)) == 0, "workgroup %u", wg);
                enum vk_reduce red = vk_reduce_form(sgs[s] > 0, shuffle, wg, pinned, no_sg, multi);
                ck_assert_msg(red != VK_RED_ONE_SUBGROUP || (pinned && wg <= pinned),
                              "one subgroup assumed without a pinned size");
                ck_assert_msg(red != VK_RED_NONE, "a device profile without a reduction form");
                red_seen[red] = true;
            }
    ck_assert_msg(red_seen[VK_RED_SUBGROUP] && red_seen[VK_RED_ONE_SUBGROUP] &&
                      red_seen[VK_RED_SHARED],
                  "the profiles do not reach every reduction form");
    int n_blobs = 0;
    while (shader_blobs[n_blobs].name)
        n_blobs++;
    bool *reached = calloc((size_t)n_blobs, sizeof *reached);
    ck_assert(reached);
    int n_checked = 0, n_types = 0;
    /* cooperative matrices only where the binary holds their kernels (vk_ctx_open) */
    bool cm_built = vk_shader_find("matmul_cm_q4_0") != NULL;
    /* (under the sanitizers one reduction form: the host code is the same for all three, and
     * the release run checks that every kernel is reachable) */
    const bool asan = getenv("JOULE_ASAN") != NULL;
    for (int red = VK_RED_SUBGROUP; red <= (asan ? VK_RED_SUBGROUP : VK_RED_SHARED); red++)
        for (int dev = 0; dev < 256; dev++) {
            bool kv_f16 = dev & 1, texel = dev & 2, unit = (dev & 4) && texel, mv_gpu = dev & 8;
            bool mm_tile = dev & 16, coopmat = dev & 32, int8 = dev & 64;
            if ((dev & 4) && !texel) continue; /* the unit kernels need texel views */
            if (coopmat && (!mm_tile || !cm_built)) continue;
            if (int8 && !mv_gpu) continue; /* the int8 path is matvec_gpu's */
            /* fused kernels: where matvec_gpu runs, never in the int8 path (profile()) */
            if ((dev & 128) && (!mv_gpu || int8)) continue;
            struct vk_profile p = {.red = (enum vk_reduce)red,
                                   .kv_f16 = kv_f16,
                                   .unit = unit,
                                   .mv_gpu = mv_gpu,
                                   .tile = mm_tile,
                                   .coopmat = coopmat,
                                   .int8 = int8,
                                   .fuse = dev & 128};
            struct vk_kernel fk;
            if (vk_choose_rope_kv(&p, &fk)) reach(&fk, reached, &n_checked);
            struct vk_kernel k = vk_choose_rmsnorm(&p);
            reach(&k, reached, &n_checked);
            k = vk_choose_rope();
            reach(&k, reached, &n_checked);
            k = vk_choose_swiglu();
            reach(&k, reached, &n_checked);
            k = vk_choose_kv_store(&p);
            reach(&k, reached, &n_checked);
            for (int tx = 0; tx <= (unit ? 1 : 0); tx++) /* K/V texel views with unit only */
                for (uint32_t splits = 0; splits <= 4; splits += 4)
                    for (uint32_t tile = 0; tile <= 8; tile += 8) {
                        struct vk_attn_case ac = {.texel = tx, .splits = splits, .tile = tile};
                        k = vk_choose_attention(&p, &ac);
                        reach(&k, reached, &n_checked);
                    }
            k = vk_choose_attn_merge();
            reach(&k, reached, &n_checked);
            k = vk_choose_quant_q8();
            reach(&k, reached, &n_checked);
            n_types = 0;
            for (uint32_t type = 0; type < Q_TYPE_LIMIT; type++) {
                if (!vk_type_suffix(type)) continue; /* the backend refuses the model */
                n_types++;
                k = vk_choose_embed(type);
                reach(&k, reached, &n_checked);
                /* batches of 1, 8 (matvec_gpu's limits), 9, 64 and 65 tokens (the small
                 * and large tiles) */
                static const uint32_t batch[5] = {1, 8, 9, 64, 65};
                for (int c = 0; c < 320; c++) {
                    struct vk_matmul_case m = {.type = type,
                                               .tokens = batch[c >> 6],
                                               .matvec = c & 1,
                                               .x4_rows = c & 2,
                                               .xtex = (c & 4) && unit,
                                               .w_texel = (c & 8) && texel,
                                               .w_unit = (c & 16) && (c & 8) && unit,
                                               .fill8 = c & 32};
                    k = vk_choose_matmul(&p, &m);
                    reach(&k, reached, &n_checked);
                    ck_assert_msg((k.family == VKF_MATMUL_TILE) ==
                                          (k.tile == VK_TILE_SMALL || k.tile == VK_TILE_LARGE) &&
                                      (k.family == VKF_MATMUL_CM) == (k.tile == VK_TILE_CM),
                                  "kernel family %d with tile shape %d", (int)k.family, k.tile);
                    /* the fused decode products (a run's products, vk_choose_matmul_fused) */
                    struct vk_fused_case fc = {
                        .type = type, .tokens = m.tokens, .x4_rows = m.x4_rows, .glu = c & 1};
                    if (vk_choose_matmul_fused(&p, &fc, &fk)) reach(&fk, reached, &n_checked);
                }
            }
        }
    ck_assert_int_eq(n_types, N_WTYPES);
    /* and no kernel in the binary that no choice can reach */
    for (int i = 0; i < n_blobs && !asan; i++)
        ck_assert_msg(reached[i], "kernel %s is built but no chooser returns it",
                      shader_blobs[i].name);
    ck_assert_int_gt(n_checked, asan ? 0 : n_blobs);
    free(reached);
}
END_TEST

/* The names are the ones the op tests and profiles know. */
START_TEST(test_kernel_names)
{
    char name[64];
    struct vk_profile p = {.red = VK_RED_ONE_SUBGROUP, .kv_f16 = true, .unit = true};
    struct vk_matmul_case m = {.type = Q_Q4_0, .matvec = true, .w_texel = true};
    struct vk_kernel k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_q4_0_tx_sg");
    m = (struct vk_matmul_case){
        .type = Q_F16, .matvec = true, .x4_rows = true, .xtex = false, .w_texel = false};
    p.red = VK_RED_SHARED;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_f16_x4_ns");
    m = (struct vk_matmul_case){
        .type = Q_Q8_0, .xtex = true, .w_texel = true, .w_unit = true, .fill8 = true};
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_unit_q8_0_t8");
    m.type = Q_Q5_K, m.w_unit = false, m.fill8 = false, m.matvec = true;
    p.red = VK_RED_SUBGROUP;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_kunit_q5_k");
    p.unit = false, m.matvec = false;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_q5_k_tx");
    /* GPUs: 1..8 tokens of Q8_0, Q4_0, Q4_K and Q6_K (x as vec4) take matvec_gpu, the
     * batch its specialization constant; other types, 9 tokens or unaligned x do not */
    p.mv_gpu = true;
    m = (struct vk_matmul_case){.type = Q_Q6_K, .tokens = 3, .x4_rows = true, .w_texel = true};
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_gpu_q6_k");
    ck_assert_int_eq(k.nt, 3);
    p.red = VK_RED_ONE_SUBGROUP, p.unit = true;
    m = (struct vk_matmul_case){
        .type = Q_Q4_0, .tokens = 1, .matvec = true, .x4_rows = true, .xtex = true};
    m.w_texel = m.w_unit = true;
    k = vk_choose_matmul(&p, &m); /* (forced on CPU devices: before the unit kernels) */
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_gpu_q4_0_sg");
    ck_assert_int_eq(k.nt, 1);
    m.tokens = 8, m.matvec = false, m.type = Q_Q8_0;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_MATVEC_GPU);
    ck_assert_int_eq(k.nt, 8);
    m.type = Q_Q4_K;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_MATVEC_GPU);
    m.tokens = 9;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_CPU_MATMUL_KUNIT);
    m.tokens = 2, m.matvec = true, m.type = Q_Q5_K;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_CPU_MATVEC_KUNIT);
    m.type = Q_Q4_K, m.x4_rows = false;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_CPU_MATVEC_KUNIT);
    m.tokens = 0, m.x4_rows = true;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_ne(k.family, VKF_MATVEC_GPU);
    p.mv_gpu = false, m.tokens = 1;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_CPU_MATVEC_KUNIT);
    p.unit = false;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_MATVEC);
    ck_assert_int_eq(k.nt, 0);
    p.red = VK_RED_SUBGROUP;
    /* prefill on GPUs (tile): past the matvec range every type takes matmul_tile, small tiles
     * up to 64 tokens; matvec_gpu keeps its batches; cooperative matrices (coopmat) instead
     * of the tiles, one shape */
    p.tile = true, p.mv_gpu = true;
    m = (struct vk_matmul_case){.type = Q_Q4_K, .tokens = 9, .x4_rows = true, .w_texel = true};
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_tile_q4_k");
    ck_assert_int_eq(k.tile, VK_TILE_SMALL);
    m.tokens = 64;
    ck_assert_int_eq(vk_choose_matmul(&p, &m).tile, VK_TILE_SMALL);
    m.tokens = 65, m.type = Q_BF16;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_tile_bf16");
    ck_assert_int_eq(k.tile, VK_TILE_LARGE);
    m.tokens = 5, m.type = Q_Q5_K; /* no matvec_gpu kernel for the type */
    ck_assert_int_eq(vk_choose_matmul(&p, &m).family, VKF_MATMUL_TILE);
    m.type = Q_Q6_K;
    ck_assert_int_eq(vk_choose_matmul(&p, &m).family, VKF_MATVEC_GPU);
    m.tokens = 2, m.matvec = true, m.type = Q_Q5_K;
    ck_assert_int_eq(vk_choose_matmul(&p, &m).family, VKF_MATVEC);
    p.coopmat = true;
    m = (struct vk_matmul_case){.type = Q_Q4_0, .tokens = 300};
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_cm_q4_0");
    ck_assert_int_eq(k.tile, VK_TILE_CM);
    m.tokens = 9;
    ck_assert_int_eq(vk_choose_matmul(&p, &m).family, VKF_MATMUL_CM);
    p.tile = false; /* JOULE_VK_MATMUL_TILE=0: the old matmul, no matmul_cm either */
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_MATMUL);
    ck_assert_int_eq(k.tile, VK_TILE_NONE);
    p.coopmat = false, p.mv_gpu = false;
    ck_assert(vk_tile_on(false, -1) && !vk_tile_on(true, -1));
    ck_assert(vk_tile_on(true, 1) && vk_tile_on(false, 1));
    ck_assert(!vk_tile_on(false, 0) && !vk_tile_on(true, 0));
    /* tile sizes: a usual GPU (48 KiB, subgroups of 32, 1024 invocations); AMD's 64 lanes;
     * small limits; the cooperative-matrix shape */
    struct vk_tile t = vk_matmul_tile(VK_TILE_LARGE, 49152, 32, 1024);
    ck_assert(t.bm == 64 && t.bn == 64 && t.bk == 32 && t.tm == 4 && t.tn == 8 && t.wg == 128);
    ck_assert_uint_eq(t.shared, 16384);
    t = vk_matmul_tile(VK_TILE_SMALL, 49152, 64, 1024);
    ck_assert(t.bm == 64 && t.bn == 32 && t.bk == 32 && t.tm == 4 && t.tn == 4 && t.wg == 128);
    ck_assert_uint_eq(t.shared, 12288);
    t = vk_matmul_tile(VK_TILE_LARGE, 16384, 8, 128); /* Vulkan's minimum limits */
    ck_assert(t.bm == 64 && t.bk == 32 && t.wg == 128);
    t = vk_matmul_tile(VK_TILE_LARGE, 32768, 32, 64);
    ck_assert(t.bm == 32 && t.bn == 64 && t.wg == 64 && t.shared == 12288);
    t = vk_matmul_tile(VK_TILE_LARGE, 8192, 32, 1024);
    ck_assert(t.bm == 64 && t.bk == 16 && t.wg == 128 && t.shared == 8192);
    t = vk_matmul_tile(VK_TILE_LARGE, 4096, 32, 1024); /* no fit: vk_ctx_open turns tiles off */
    ck_assert(t.bk == 16 && t.bm == t.tm && t.shared > 4096);
    t = vk_matmul_tile(VK_TILE_SMALL, 65536, 256, 1024); /* subgroups over 128 lanes */
    ck_assert(t.bm == 128 && t.wg == 256);
    t = vk_matmul_tile(VK_TILE_CM, 49152, 32, 1024);
    ck_assert(t.bm == 64 && t.bn == 64 && t.bk == 32 && t.wg == 128 && t.shared == 24576);
    t = vk_matmul_tile(VK_TILE_CM, 65536, 64, 128);
    ck_assert_uint_eq(t.wg, 128);
    /* cooperative matrices: NVIDIA; AMD RDNA3+ / CDNA only; not Intel Alchemist */
    ck_assert(vk_coopmat_vendor(0x10de, 0x2330));  /* H100 */
    ck_assert(vk_coopmat_vendor(0x1002, 0x744c));  /* RX 7900 XTX */
    ck_assert(vk_coopmat_vendor(0x1002, 0x7550));  /* RX 9070 */
    ck_assert(vk_coopmat_vendor(0x1002, 0x15bf));  /* Phoenix APU */
    ck_assert(vk_coopmat_vendor(0x1002, 0x740f));  /* MI210 */
    ck_assert(!vk_coopmat_vendor(0x1002, 0x73bf)); /* RX 6900 XT: no matrix units */
    ck_assert(!vk_coopmat_vendor(0x1002, 0x731f)); /* RX 5700 XT */
    ck_assert(!vk_coopmat_vendor(0x8086, 0x56a0)); /* Arc A770 */
    ck_assert(vk_coopmat_vendor(0x8086, 0xe20b));  /* Arc B580 */
    struct vk_coop_dev cd = {.vendor = 0x10de,
                             .device_id = 0x2330,
                             .ready = true,
                             .m = 16,
                             .n = 16,
                             .k = 16,
                             .shared_bytes = 49152,
                             .max_wg = 1024};
    ck_assert(vk_coopmat_on(&cd, -1) && vk_coopmat_on(&cd, 1) && !vk_coopmat_on(&cd, 0));
    cd.vendor = 0x8086, cd.device_id = 0x56a0;
    ck_assert(!vk_coopmat_on(&cd, -1) && vk_coopmat_on(&cd, 1));
    cd.vendor = 0x1002, cd.device_id = 0x73bf;
    ck_assert(!vk_coopmat_on(&cd, -1) && vk_coopmat_on(&cd, 1));
    cd.device_id = 0x744c;
    ck_assert(vk_coopmat_on(&cd, -1));
    cd.n = 8; /* another shape: the kernel's blocks are 16 x 16 x 16 */
    ck_assert(!vk_coopmat_on(&cd, -1) && !vk_coopmat_on(&cd, 1));
    cd.n = 16, cd.ready = false;
    ck_assert(!vk_coopmat_on(&cd, 1));
    cd.ready = true, cd.shared_bytes = 16384;
    ck_assert(!vk_coopmat_on(&cd, 1));
    cd.shared_bytes = 65536, cd.cpu = true;
    ck_assert(!vk_coopmat_on(&cd, 1));
    /* on GPU devices unless JOULE_VK_MV_GPU says otherwise (1 everywhere, 0 nowhere) */
    ck_assert(vk_mv_gpu_on(false, -1) && !vk_mv_gpu_on(true, -1));
    ck_assert(vk_mv_gpu_on(true, 1) && vk_mv_gpu_on(false, 1));
    ck_assert(!vk_mv_gpu_on(false, 0) && !vk_mv_gpu_on(true, 0));
    /* fused decode products: where matvec_gpu runs and the profile fuses; a set of a run's
     * products, or gate + up + SwiGLU (glu) */
    p = (struct vk_profile){.red = VK_RED_SUBGROUP, .kv_f16 = true, .mv_gpu = true, .fuse = true};
    struct vk_fused_case fc = {.type = Q_Q4_K, .tokens = 1, .x4_rows = true};
    ck_assert(vk_choose_matmul_fused(&p, &fc, &k));
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_gpu_q4_k_set");
    ck_assert_int_eq(k.nt, 1);
    fc.type = Q_Q6_K, fc.glu = true, fc.tokens = 8, p.red = VK_RED_ONE_SUBGROUP;
    ck_assert(vk_choose_matmul_fused(&p, &fc, &k));
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_gpu_q6_k_glu_sg");
    ck_assert_int_eq(k.nt, 8);
    fc.tokens = 9;
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k));
    fc.tokens = 2, fc.type = Q_Q5_K;
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k));
    fc.type = Q_Q8_0, fc.x4_rows = false;
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k));
    fc.x4_rows = true;
    ck_assert(vk_choose_matmul_fused(&p, &fc, &k));
    ck_assert(vk_choose_rope_kv(&p, &k));
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "rope_kv");
    p.kv_f16 = false;
    ck_assert(vk_choose_rope_kv(&p, &k));
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "rope_kv_f32");
    p.fuse = false; /* JOULE_VK_NO_FUSE, or a device without the bindings */
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k) && !vk_choose_rope_kv(&p, &k));
    p.fuse = true, p.mv_gpu = false; /* only where matvec_gpu runs */
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k) && !vk_choose_rope_kv(&p, &k));
    p = (struct vk_profile){.red = VK_RED_SUBGROUP, .kv_f16 = false};
    struct vk_attn_case ac = {.texel = true};
    k = vk_choose_attention(&p, &ac);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attention_f32_tx");
    ac = (struct vk_attn_case){.splits = 8};
    k = vk_choose_attention(&p, &ac);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attn_split_f32");
    k = vk_choose_attn_merge();
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attn_merge");
    ac = (struct vk_attn_case){.tile = 8};
    k = vk_choose_attention(&p, &ac);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attn_tile_f32");
    p.kv_f16 = true;
    k = vk_choose_attention(&p, &ac);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attn_tile");
    p.kv_f16 = false;
    /* tiles: prefill (over 8 rows) on GPUs, 16 slots / group rows (8 slots over head_dim
     * 128); on CPU devices only when forced; groups over the slots, head_dim > 256 or odd,
     * small shared memory: not tiled */
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 9, 32, 8, 128, 32768), 4);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 32, 64, 32768), 16);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 2, 64, 32768), 1);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 8, 32, 8, 128, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 64, 2, 64, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 256, 32768), 2);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 16, 16, 256, 32768), 8);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 4, 256, 32768), 1);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 2, 256, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 130, 32768), 2);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 258, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 256, 16384), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 66, 32768), 4);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 63, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 128, 16384), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(true, -1, 512, 32, 8, 128, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(true, 1, 512, 32, 8, 128, 32768), 4);
    ck_assert_uint_eq(vk_attn_tile_rows(false, 0, 512, 32, 8, 128, 32768), 0);
    /* splits: decode steps on GPUs, ~256 groups; never on CPU devices unless forced; shapes
     * the split kernel cannot hold (groups over 8 heads, head_dim > 256 or not a multiple of
     * 8, small shared memory, prefill) keep the one-pass kernel, forced or not */
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 28, 4, 256, 49152), 32);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 28, 4, 72, 49152), 32);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 8, 68, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(false, 3, 1, 32, 8, 12, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(true, 3, 1, 32, 8, 66, 49152), 0);
    /* attn_split's words per lane: 1 where the team (words rounded up to a power of two)
     * fits the workgroup, else the words over the workgroup */
    ck_assert_uint_eq(vk_attn_split_slices(false, 128, 64), 1);
    ck_assert_uint_eq(vk_attn_split_slices(true, 256, 64), 1);
    ck_assert_uint_eq(vk_attn_split_slices(false, 96, 8), 2);
    ck_assert_uint_eq(vk_attn_split_slices(true, 96, 16), 2);
    ck_assert_uint_eq(vk_attn_split_slices(false, 256, 8), 4);
    ck_assert_uint_eq(vk_attn_split_slices(true, 256, 4), 16);
    ck_assert_uint_eq(vk_attn_split_slices(false, 8, 4), 1);
    /* every shape the split kernel takes, every workgroup size: the lanes' words cover a
     * key, and fit the specialization constant (uint8_t) */
    for (uint32_t hd = 8; hd <= 256; hd += 8)
        for (uint32_t wg = 4; wg <= 1024; wg *= 2)
            for (int f32 = 0; f32 < 2; f32++) {
                uint32_t words = hd / (f32 ? 4 : 8), ns = vk_attn_split_slices(f32, hd, wg);
                uint32_t team = (words + ns - 1) / ns;
                ck_assert_msg(ns >= 1 && ns <= 255 && team <= wg && ns * team >= words,
                              "hd %u wg %u: %u words per lane", hd, wg, ns);
            }
    ac = (struct vk_attn_case){.splits = 8, .head_dim = 256, .wg = 8};
    k = vk_choose_attention(&p, &ac);
    ck_assert_uint_eq(k.nt, 8); /* the profile above: an f32 cache */
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 8, 128, 49152), 32);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 64, 8, 128, 49152), 32);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 4, 32, 8, 128, 49152), 8);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 32, 128, 49152), 8);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 128, 2, 128, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 8, 512, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 8, 128, 16384), 0);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 9, 32, 8, 128, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(true, -1, 1, 32, 8, 128, 32768), 0);
    ck_assert_uint_eq(vk_attn_splits(true, 3, 1, 32, 8, 128, 32768), 3);
    ck_assert_uint_eq(vk_attn_splits(false, 0, 1, 32, 8, 128, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(false, 1000, 1, 32, 8, 128, 49152), 64);
    k = (struct vk_kernel){.family = VKF_EMBED, .type = Q_Q8_1};
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), -1);
    k = vk_choose_embed(Q_Q6_K);
    ck_assert_int_eq(vk_kernel_name(&k, name, 8), -1); /* "embed_q6_k" does not fit */
    /* one subgroup only where the size is pinned, the workgroup fits it and shuffles exist
     * (a reported size is not enough: MoltenVK on AMD reports 64 and runs 32) */
    ck_assert_int_eq(vk_reduce_form(true, true, 32, 32, false, false), VK_RED_ONE_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 64, 0, false, false), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 8, 0, false, false), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_pinned_subgroup(64, 32, 64), 64);
    ck_assert_int_eq(vk_pinned_subgroup(64, 8, 32), 32);
    ck_assert_int_eq(vk_pinned_subgroup(4, 8, 32), 8);
    ck_assert_int_eq(vk_reduce_form(true, false, 32, 32, false, false), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 64, 32, false, false), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 32, 32, false, true), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 32, 32, true, false), VK_RED_SHARED);
    ck_assert_int_eq(vk_reduce_form(false, false, 64, 0, false, false), VK_RED_SHARED);
    ck_assert_int_eq(vk_workgroup_size(false, 32, 0, 1024), 64);
    ck_assert_int_eq(vk_workgroup_size(true, 8, 0, 1024), 8);
    ck_assert_int_eq(vk_workgroup_size(false, 32, 48, 1024), 32);
    ck_assert_int_eq(vk_workgroup_size(false, 128, 0, 64), 64);
    /* matvec_gpu rows per workgroup: 4 where every subgroup is 64 lanes (GCN, CDNA), 2 on
     * NVIDIA (32), RDNA (32..64), Intel (8..32), lavapipe (8); forced 1..8 */
    ck_assert_uint_eq(vk_mvg_rows(64, 64, 64, 0), 4);
    ck_assert_uint_eq(vk_mvg_rows(64, 0, 0, 0), 4);
    ck_assert_uint_eq(vk_mvg_rows(32, 32, 32, 0), 2);
    ck_assert_uint_eq(vk_mvg_rows(64, 32, 64, 0), 2);
    ck_assert_uint_eq(vk_mvg_rows(32, 8, 32, 0), 2);
    ck_assert_uint_eq(vk_mvg_rows(8, 8, 8, 0), 2);
    ck_assert_uint_eq(vk_mvg_rows(32, 32, 32, 3), 3);
    ck_assert_uint_eq(vk_mvg_rows(64, 64, 64, 9), 4); /* out of range: not forced */
    /* the int8 decode path: integer dot products, Vulkan 1.3, the kernels built; accelerated
     * or forced; never when forced off */
    ck_assert(vk_int8_on(true, true, true, true, -1));
    ck_assert(!vk_int8_on(true, true, true, false, -1));
    ck_assert(vk_int8_on(true, true, true, false, 1));
    ck_assert(!vk_int8_on(true, true, true, true, 0));
    ck_assert(!vk_int8_on(false, true, true, true, 1));
    ck_assert(!vk_int8_on(true, false, true, true, 1));
    ck_assert(!vk_int8_on(true, true, false, true, 1));
    /* and its kernel replaces matvec_gpu's, same type and batch */
    struct vk_profile pi = {.red = VK_RED_SUBGROUP, .mv_gpu = true, .int8 = true};
    struct vk_matmul_case mi = {.type = Q_Q4_K, .tokens = 3, .x4_rows = true};
    struct vk_kernel ki = vk_choose_matmul(&pi, &mi);
    ck_assert_int_eq(ki.family, VKF_MATVEC_Q8);
    ck_assert_int_eq(ki.nt, 3);
    ck_assert_int_eq(vk_kernel_name(&ki, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_q8_q4_k");
    mi.tokens = 9; /* prefill stays on the float kernels */
    ck_assert_int_ne(vk_choose_matmul(&pi, &mi).family, VKF_MATVEC_Q8);
    ki = vk_choose_quant_q8();
    ck_assert_int_eq(vk_kernel_name(&ki, name, sizeof name), 0);
    ck_assert_str_eq(name, "quantize_q8");
}
END_TEST

/* Every JOULE_VK_* switch is in the table, README.md lists each, and the verbose listing
 * prints each with the value in force. */
START_TEST(test_switches)
{
    setenv("JOULE_VK_MM_ROWS", "5", 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert(out);
    vk_print_switches(out);
    fclose(out);
    unsetenv("JOULE_VK_MM_ROWS");
    ck_assert_msg(strstr(buf, "JOULE_VK_MM_ROWS") && strstr(buf, "= 5"), "%s", buf);
    ck_assert_msg(strstr(buf, "JOULE_VK_WG") && strstr(buf, "unset ("), "%s", buf);
    for (int i = 0; i < VKS_COUNT; i++) {
        ck_assert_msg(vk_switches[i].name && strncmp(vk_switches[i].name, "JOULE_VK_", 9) == 0,
                      "switch %d has no JOULE_VK_ name", i);
        ck_assert_msg(vk_switches[i].dflt && vk_switches[i].meaning, "%s: no default or meaning",
                      vk_switches[i].name);
        ck_assert_msg(strstr(buf, vk_switches[i].name), "%s is not listed", vk_switches[i].name);
    }
    free(buf);
    /* flags: on unless unset, empty or 0; numbers: the whole value, else the default */
    setenv("JOULE_VK_NO_UNIT", "0", 1);
    ck_assert(!vk_env_on(VKS_NO_UNIT));
    setenv("JOULE_VK_NO_UNIT", "1", 1);
    ck_assert(vk_env_on(VKS_NO_UNIT));
    unsetenv("JOULE_VK_NO_UNIT");
    ck_assert(!vk_env_on(VKS_NO_UNIT));
    setenv("JOULE_VK_MATVEC_MAX", "0x10", 1);
    ck_assert_int_eq(vk_env_long(VKS_MATVEC_MAX, 2), 16);
    setenv("JOULE_VK_MATVEC_MAX", "4x", 1);
    ck_assert_int_eq(vk_env_long(VKS_MATVEC_MAX, 2), 2);
    unsetenv("JOULE_VK_MATVEC_MAX");
    char *readme = NULL;
    FILE *f = fopen("README.md", "rb");
    if (!f) {
        fprintf(stderr, "SKIP %s: README.md not found (run from the repository root)\n", __func__);
        return;
    }
    readme = calloc(1, 1 << 20);
    ck_assert(readme);
    size_t got = fread(readme, 1, (1 << 20) - 1, f);
    fclose(f);
    ck_assert_uint_gt(got, 0);
    for (int i = 0; i < VKS_COUNT; i++)
        ck_assert_msg(strstr(readme, vk_switches[i].name), "README.md does not list %s",
                      vk_switches[i].name);
    free(readme);
}
END_TEST

/* Without fork (CK_FORK=no, ASan runs) the environment outlives a test: reset it. */
void vk_teardown(void)
{
    unsetenv("JOULE_VK_VALIDATE");
    unsetenv("JOULE_VK_LOADER");
    unsetenv("JOULE_VK_KV_F32");
    unsetenv("JOULE_VK_NO_TEXEL");
    unsetenv("JOULE_VK_MAX_TEXELS");
    unsetenv("JOULE_VK_MV_GPU");
    unsetenv("JOULE_VK_MV_ROWS");
    unsetenv("JOULE_VK_INT8");
    unsetenv("JOULE_VK_SPLIT_KV");
    unsetenv("JOULE_VK_ATTN_TILE");
    unsetenv("JOULE_VK_MATMUL_TILE");
    unsetenv("JOULE_VK_COOPMAT");
    unsetenv("JOULE_VK_NO_FUSE");
    clear_config();
}

Suite *vk_suite(void)
{
    Suite *s = suite_create("vk");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, vk_teardown);
    tcase_add_test(tc, test_no_loader);
    tcase_add_test(tc, test_devices_listing);
    tcase_add_test(tc, test_validation_errors_fail);
    tcase_add_test(tc, test_op_embed);
    tcase_add_test(tc, test_op_matmul);
    tcase_add_test(tc, test_op_matmul_unit);
    tcase_add_test(tc, test_op_rmsnorm_swiglu);
    tcase_add_test(tc, test_op_rope);
    tcase_add_test(tc, test_op_attention);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("models");
    tcase_set_timeout(tm, 900);
    tcase_add_checked_fixture(tm, NULL, vk_teardown);
    suite_add_tcase(s, tm);
    /* matvec_gpu on this device (JOULE_VK_MV_GPU=1): products, then a model */
    TCase *tg = tcase_create("mv_gpu");
    tcase_set_timeout(tg, 600);
    tcase_add_checked_fixture(tg, NULL, vk_teardown);
    tcase_add_test(tg, test_op_mv_gpu);
    tcase_add_test(tg, test_op_mv_q8);
    suite_add_tcase(s, tg);
    TCase *tt = tcase_create("tile"); /* tiled prefill attention (JOULE_VK_ATTN_TILE=1) */
    tcase_set_timeout(tt, 600);
    tcase_add_checked_fixture(tt, NULL, vk_teardown);
    tcase_add_test(tt, test_op_tile_attention);
    suite_add_tcase(s, tt);
    TCase *ts = tcase_create("split"); /* split decode attention (JOULE_VK_SPLIT_KV) */
    tcase_set_timeout(ts, 600);
    tcase_add_checked_fixture(ts, NULL, vk_teardown);
    tcase_add_test(ts, test_op_split_attention);
    suite_add_tcase(s, ts);
    TCase *tp = tcase_create("mm_tile"); /* tiled prefill products (JOULE_VK_MATMUL_TILE=1) */
    tcase_set_timeout(tp, 900);
    tcase_add_checked_fixture(tp, NULL, vk_teardown);
    tcase_add_test(tp, test_op_matmul_tile);
    tcase_add_test(tp, test_op_matmul_cm);
    suite_add_tcase(s, tp);
    vk_model_tests(tm, tg, tt, ts, tp);  /* test_vk_model.c */
    TCase *tk = tcase_create("kernels"); /* no device needed */
    tcase_set_timeout(tk, 120);          /* every profile x case: seconds under the sanitizers */
    tcase_add_test(tk, test_kernels_exist);
    tcase_add_test(tk, test_kernel_names);
    tcase_add_test(tk, test_switches);
    suite_add_tcase(s, tk);
    return s;
}
