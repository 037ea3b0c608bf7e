/* vk — the Vulkan backend on whatever Vulkan device exists (lavapipe in CI), under the
 * Khronos validation layer: every op against the CPU reference kernels on random inputs
 * (each weight type, sizes that are not multiples of the workgroup size, several
 * workgroup / subgroup configurations), a machine without a loader and the device listing.
 * Whole models (against the float64 references, kernel against kernel, the device context's
 * choices) are in test_vk_model.c, the kernel choosers on every device profile and the
 * switches in test_vk_kernels.c, in the same suite. */
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
const int vk_test_n_wtypes = N_WTYPES;

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

/* matvec_gpu's configurations: the device's defaults (workgroups of 8 on lavapipe, one
 * subgroup), workgroups of 64 (a GPU's: several subgroups, 4 K super-blocks per step) with 3
 * rows per group, shared memory only (16). */
static void set_mv_config(int k)
{
    set_config(k == 2 ? 2 : 0);
    unsetenv("JOULE_VK_MV_ROWS");
    if (k == 1) {
        setenv("JOULE_VK_WG", "64", 1);
        setenv("JOULE_VK_MV_ROWS", "3", 1);
    }
}

/* check_mv (int8: the int8 path) on the decode types in each configuration; under the
 * sanitizers the default configuration, Q4_0 and asan_type only */
static void each_mv_config(const char *spec, bool int8, uint32_t asan_type)
{
    static const uint32_t types[] = {Q_Q8_0, Q_Q4_0, Q_Q4_K, Q_Q6_K};
    bool asan = getenv("JOULE_ASAN") != NULL;
    for (int k = 0; k < (asan ? 1 : 3); k++) {
        set_mv_config(k);
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
            if (!asan || types[t] == Q_Q4_0 || types[t] == asan_type)
                check_mv(spec, types[t], false, int8);
    }
    unsetenv("JOULE_VK_MV_ROWS");
    clear_config();
}

/* matvec_gpu in each configuration, then split weights. Under the sanitizers: Q4_0 and Q4_K,
 * the default configuration and split. */
START_TEST(test_op_mv_gpu)
{
    NEED_VK(spec);
    each_mv_config(spec, false, Q_Q4_K);
    static const uint32_t types[] = {Q_Q8_0, Q_Q4_0, Q_Q4_K, Q_Q6_K};
    bool asan = getenv("JOULE_ASAN") != NULL;
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
    each_mv_config(spec, true, Q_Q6_K);
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
    vk_kernel_tests(tk);                 /* test_vk_kernels.c */
    suite_add_tcase(s, tk);
    return s;
}
