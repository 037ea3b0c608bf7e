/* Architecture features the shared models do not cover (llama3 rope_freqs with tied
 * embeddings, linear rope scaling with a sliding window, qwen2 biases, qwen3 q/k norm, phi3
 * fused weights): the test writes a tiny random-weight GGUF for each and checks the
 * engine's logits against a plain double-precision forward pass written here. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cpu.h"
#include "gguf_writer.h"
#include "model.h"
#include "quant.h"
#include "testutil.h"
#include "vk.h"
#include "vk_impl.h"

enum { E = 64, H = 4, HKV = 2, HD = 16, FF = 96, L = 2, V = 40, T = 12 };

struct variant {
    const char *name, *arch;
    bool neox, tied, rope_freqs, linear, biases, qk_norm, fused;
    int window;
    uint32_t wtype; /* type of the projection matrices */
};

static const struct variant variants[] = {
    {"llama3-rope-freqs-tied", "llama", false, true, true, false, false, false, false, 0, Q_F32},
    {"llama-linear-window", "llama", false, false, false, true, false, false, false, 5, Q_F16},
    {"qwen2-biases", "qwen2", true, true, false, false, true, false, false, 0, Q_Q8_0},
    {"qwen3-qk-norm", "qwen3", true, false, false, false, false, true, false, 0, Q_F32},
    {"phi3-fused", "phi3", true, false, false, false, false, false, true, 0, Q_F32},
};
enum { N_VARIANTS = sizeof variants / sizeof variants[0] };

/* weights as the reference sees them: exactly the values stored (dequantized) */
struct ref_layer {
    float attn_norm[E], ffn_norm[E], q_norm[HD], k_norm[HD];
    float *wq, *wk, *wv, *wo, *wg, *wu, *wd; /* [out][in] */
    float bq[H * HD], bk[HKV * HD], bv[HKV * HD];
};
struct ref_model {
    float *embd, *out, out_norm[E], freqs[HD / 2];
    struct ref_layer l[L];
};

static uint64_t rng_state;
static float rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static float *rand_matrix(int rows, int cols, float scale)
{
    float *m = malloc(sizeof(float) * (size_t)rows * cols);
    ck_assert_ptr_nonnull(m);
    for (int i = 0; i < rows * cols; i++)
        m[i] = rnd() * scale;
    return m;
}

/* writes w (rows x cols) as type and replaces it with what the file stores */
static void add_matrix(struct gguf_writer *w, const char *name, float *m, int rows, int cols,
                       uint32_t type)
{
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    gw_add_tensor_f32(w, name, 2, ne, type, m);
    uint64_t rb;
    ck_assert(quant_row_bytes(type, (uint64_t)cols, &rb));
    void *tmp = malloc(rb);
    ck_assert_ptr_nonnull(tmp);
    for (int r = 0; r < rows; r++) {
        quant_quantize_row_ref(type, m + (size_t)r * cols, tmp, cols);
        quant_dequant_row_ref(type, tmp, m + (size_t)r * cols, cols);
    }
    free(tmp);
}

static void add_vector(struct gguf_writer *w, const char *name, const float *v, int n)
{
    uint64_t ne[1] = {(uint64_t)n};
    gw_add_tensor_f32(w, name, 1, ne, Q_F32, v);
}

static void build(const struct variant *vr, const char *path, struct ref_model *rm)
{
    rng_state = 12345;
    struct gguf_writer *w = gw_new();
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", vr->arch, s), k)
    gw_add_str(w, "general.architecture", vr->arch);
    gw_add_u32(w, KEY("embedding_length"), E);
    gw_add_u32(w, KEY("block_count"), L);
    gw_add_u32(w, KEY("feed_forward_length"), FF);
    gw_add_u32(w, KEY("attention.head_count"), H);
    gw_add_u32(w, KEY("attention.head_count_kv"), HKV);
    gw_add_u32(w, KEY("context_length"), 64);
    gw_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    gw_add_f32(w, KEY("rope.freq_base"), vr->rope_freqs ? 500000.0f : 10000.0f);
    if (vr->linear) {
        gw_add_str(w, KEY("rope.scaling.type"), "linear");
        gw_add_f32(w, KEY("rope.scaling.factor"), 4.0f);
    }
    if (vr->window) gw_add_u32(w, KEY("attention.sliding_window"), (uint32_t)vr->window);
#undef KEY
    rm->embd = rand_matrix(V, E, 1.0f);
    add_matrix(w, "token_embd.weight", rm->embd, V, E, vr->wtype);
    for (int i = 0; i < E; i++)
        rm->out_norm[i] = 1.0f + 0.1f * rnd();
    add_vector(w, "output_norm.weight", rm->out_norm, E);
    rm->out = rm->embd;
    if (!vr->tied) {
        rm->out = rand_matrix(V, E, 0.3f);
        add_matrix(w, "output.weight", rm->out, V, E, vr->wtype);
    }
    if (vr->rope_freqs) {
        for (int i = 0; i < HD / 2; i++)
            rm->freqs[i] = 1.0f + (float)i * 0.9f;
        add_vector(w, "rope_freqs.weight", rm->freqs, HD / 2);
    }
    const float s_in = 1.0f / sqrtf(E), s_ff = 1.0f / sqrtf(FF);
    for (int l = 0; l < L; l++) {
        struct ref_layer *R = &rm->l[l];
        char n[64];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        for (int i = 0; i < E; i++)
            R->attn_norm[i] = 1.0f + 0.1f * rnd();
        for (int i = 0; i < E; i++)
            R->ffn_norm[i] = 1.0f + 0.1f * rnd();
        add_vector(w, NAME("attn_norm.weight"), R->attn_norm, E);
        add_vector(w, NAME("ffn_norm.weight"), R->ffn_norm, E);
        R->wq = rand_matrix(H * HD, E, 2 * s_in);
        R->wk = rand_matrix(HKV * HD, E, 2 * s_in);
        R->wv = rand_matrix(HKV * HD, E, s_in);
        R->wo = rand_matrix(E, H * HD, s_in);
        R->wg = rand_matrix(FF, E, s_in);
        R->wu = rand_matrix(FF, E, s_in);
        R->wd = rand_matrix(E, FF, s_ff);
        if (vr->fused) { /* one tensor each: [q; k; v] and [gate; up], rows stacked */
            float *qkv = malloc(sizeof(float) * (H + 2 * HKV) * HD * E);
            float *gu = malloc(sizeof(float) * 2 * FF * E);
            ck_assert(qkv && gu);
            memcpy(qkv, R->wq, sizeof(float) * H * HD * E);
            memcpy(qkv + H * HD * E, R->wk, sizeof(float) * HKV * HD * E);
            memcpy(qkv + (H + HKV) * HD * E, R->wv, sizeof(float) * HKV * HD * E);
            memcpy(gu, R->wg, sizeof(float) * FF * E);
            memcpy(gu + FF * E, R->wu, sizeof(float) * FF * E);
            add_matrix(w, NAME("attn_qkv.weight"), qkv, (H + 2 * HKV) * HD, E, vr->wtype);
            add_matrix(w, NAME("ffn_up.weight"), gu, 2 * FF, E, vr->wtype);
            memcpy(R->wq, qkv, sizeof(float) * H * HD * E);
            memcpy(R->wk, qkv + H * HD * E, sizeof(float) * HKV * HD * E);
            memcpy(R->wv, qkv + (H + HKV) * HD * E, sizeof(float) * HKV * HD * E);
            memcpy(R->wg, gu, sizeof(float) * FF * E);
            memcpy(R->wu, gu + FF * E, sizeof(float) * FF * E);
            free(qkv);
            free(gu);
        } else {
            add_matrix(w, NAME("attn_q.weight"), R->wq, H * HD, E, vr->wtype);
            add_matrix(w, NAME("attn_k.weight"), R->wk, HKV * HD, E, vr->wtype);
            add_matrix(w, NAME("attn_v.weight"), R->wv, HKV * HD, E, vr->wtype);
            add_matrix(w, NAME("ffn_gate.weight"), R->wg, FF, E, vr->wtype);
            add_matrix(w, NAME("ffn_up.weight"), R->wu, FF, E, vr->wtype);
        }
        add_matrix(w, NAME("attn_output.weight"), R->wo, E, H * HD, vr->wtype);
        add_matrix(w, NAME("ffn_down.weight"), R->wd, E, FF, vr->wtype);
        memset(R->bq, 0, sizeof R->bq);
        memset(R->bk, 0, sizeof R->bk);
        memset(R->bv, 0, sizeof R->bv);
        if (vr->biases) {
            for (int i = 0; i < H * HD; i++)
                R->bq[i] = 0.3f * rnd();
            for (int i = 0; i < HKV * HD; i++)
                R->bk[i] = 0.3f * rnd();
            for (int i = 0; i < HKV * HD; i++)
                R->bv[i] = 0.3f * rnd();
            add_vector(w, NAME("attn_q.bias"), R->bq, H * HD);
            add_vector(w, NAME("attn_k.bias"), R->bk, HKV * HD);
            add_vector(w, NAME("attn_v.bias"), R->bv, HKV * HD);
        }
        for (int i = 0; i < HD; i++)
            R->q_norm[i] = R->k_norm[i] = 1.0f;
        if (vr->qk_norm) {
            for (int i = 0; i < HD; i++)
                R->q_norm[i] = 1.0f + 0.2f * rnd();
            for (int i = 0; i < HD; i++)
                R->k_norm[i] = 1.0f + 0.2f * rnd();
            add_vector(w, NAME("attn_q_norm.weight"), R->q_norm, HD);
            add_vector(w, NAME("attn_k_norm.weight"), R->k_norm, HD);
        }
#undef NAME
    }
    ck_assert_int_eq(gw_write(w, path), 0);
    gw_free(w);
}

static void free_ref(struct ref_model *rm, const struct variant *vr)
{
    for (int l = 0; l < L; l++) {
        struct ref_layer *R = &rm->l[l];
        free(R->wq), free(R->wk), free(R->wv), free(R->wo), free(R->wg), free(R->wu), free(R->wd);
    }
    if (!vr->tied) free(rm->out);
    free(rm->embd);
}

/* ---- the reference forward pass, in double, over the whole sequence ---- */

static void rmsnorm(double *x, int n, const float *w)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + 1e-6);
    for (int i = 0; i < n; i++)
        x[i] = x[i] * s * w[i];
}

static void matvec(double *y, const float *w, const double *x, int rows, int cols, const float *b)
{
    for (int r = 0; r < rows; r++) {
        double s = b ? b[r] : 0;
        for (int c = 0; c < cols; c++)
            s += (double)w[(size_t)r * cols + c] * x[c];
        y[r] = s;
    }
}

static void rope(double *v, int pos, const struct variant *vr, const struct ref_model *rm)
{
    double base = vr->rope_freqs ? 500000.0 : 10000.0, p = vr->linear ? pos / 4.0 : pos;
    for (int i = 0; i < HD / 2; i++) {
        double th = p * pow(base, -2.0 * i / HD);
        if (vr->rope_freqs) th /= rm->freqs[i];
        int a = vr->neox ? i : 2 * i, b = vr->neox ? i + HD / 2 : 2 * i + 1;
        double x0 = v[a], x1 = v[b];
        v[a] = x0 * cos(th) - x1 * sin(th);
        v[b] = x0 * sin(th) + x1 * cos(th);
    }
}

static void reference_logits(const struct variant *vr, const struct ref_model *rm,
                             const int32_t *tok, double *logits)
{
    static double x[T][E], xn[E], q[T][H * HD], k[L][T][HKV * HD], v[L][T][HKV * HD];
    static double att[H * HD], tmp[E], g[FF], u[FF];
    for (int t = 0; t < T; t++)
        for (int i = 0; i < E; i++)
            x[t][i] = rm->embd[(size_t)tok[t] * E + i];
    for (int l = 0; l < L; l++) {
        const struct ref_layer *R = &rm->l[l];
        for (int t = 0; t < T; t++) {
            memcpy(xn, x[t], sizeof xn);
            rmsnorm(xn, E, R->attn_norm);
            matvec(q[t], R->wq, xn, H * HD, E, R->bq);
            matvec(k[l][t], R->wk, xn, HKV * HD, E, R->bk);
            matvec(v[l][t], R->wv, xn, HKV * HD, E, R->bv);
            for (int h = 0; h < H; h++) {
                if (vr->qk_norm) rmsnorm(q[t] + h * HD, HD, R->q_norm);
                rope(q[t] + h * HD, t, vr, rm);
            }
            for (int h = 0; h < HKV; h++) {
                if (vr->qk_norm) rmsnorm(k[l][t] + h * HD, HD, R->k_norm);
                rope(k[l][t] + h * HD, t, vr, rm);
            }
        }
        for (int t = 0; t < T; t++) {
            int first = vr->window && t + 1 > vr->window ? t + 1 - vr->window : 0;
            for (int h = 0; h < H; h++) {
                int kh = h / (H / HKV);
                double sc[T], mx = -INFINITY, sum = 0;
                for (int j = first; j <= t; j++) {
                    double d = 0;
                    for (int i = 0; i < HD; i++)
                        d += q[t][h * HD + i] * k[l][j][kh * HD + i];
                    sc[j] = d / sqrt(HD);
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                for (int j = first; j <= t; j++)
                    sum += (sc[j] = exp(sc[j] - mx));
                for (int i = 0; i < HD; i++) {
                    double a = 0;
                    for (int j = first; j <= t; j++)
                        a += sc[j] / sum * v[l][j][kh * HD + i];
                    att[h * HD + i] = a;
                }
            }
            matvec(tmp, R->wo, att, E, H * HD, NULL);
            for (int i = 0; i < E; i++)
                x[t][i] += tmp[i];
            memcpy(xn, x[t], sizeof xn);
            rmsnorm(xn, E, R->ffn_norm);
            matvec(g, R->wg, xn, FF, E, NULL);
            matvec(u, R->wu, xn, FF, E, NULL);
            for (int i = 0; i < FF; i++)
                g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            matvec(tmp, R->wd, g, E, FF, NULL);
            for (int i = 0; i < E; i++)
                x[t][i] += tmp[i];
        }
    }
    for (int t = 0; t < T; t++) {
        memcpy(xn, x[t], sizeof xn);
        rmsnorm(xn, E, rm->out_norm);
        matvec(logits + (size_t)t * V, rm->out, xn, V, E, NULL);
    }
}

/* _i = variant x backend (0 cpu, 1 vulkan, 2 vulkan with the GPU decode kernel forced,
 * JOULE_VK_MV_GPU=1: the graph's fused runs where its types allow, rope + KV store always) */
START_TEST(test_arch_variant)
{
    const struct variant *vr = &variants[_i / 3];
    bool vk = _i % 3 >= 1, mv_gpu = _i % 3 == 2;
    char dir[] = "/tmp/joule-arch-XXXXXX", path[128], err[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s.gguf", dir, vr->name);
    struct ref_model rm;
    build(vr, path, &rm);
    struct model *m;
    ck_assert_msg(model_load(path, &m, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(m->cfg.arch_name, vr->arch);
    ck_assert_int_eq(m->tied_output, vr->tied);
    /* the graph: exactly the ops of the math (embed; per layer 14, 16 with q/k norms; the
     * logits' norm and product), biases where the architecture has them */
    struct graph g;
    ck_assert_msg(model_build_graph(m, &g, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(g.n_ops, 1 + L * (vr->qk_norm ? 16 : 14) + 2);
    const struct op *last = &g.ops[g.n_ops - 1];
    ck_assert(last->kind == OP_MATMUL && last->dst == ACT_LOGITS && last->logits_rows);
    int n_bias = 0, n_none = 0;
    for (int32_t i = 0; i < g.n_ops; i++) {
        n_bias += g.ops[i].b != NULL;
        n_none += g.ops[i].src2 == ACT_NONE;
    }
    ck_assert_int_eq(n_bias, vr->biases ? 3 * L : 0);
    ck_assert_int_eq(n_none, g.n_ops - L); /* src2: the KV stores' V only */
    /* graph_fuse: per layer q/k/v run as one (3) and gate/up as one (2), the latter with
     * its SwiGLU (glu); every other product alone; the members of a run read one input and
     * write their own; the block norms and the output norm fold into the products after
     * them (the per-head q/k norms do not); rope q, rope k and the KV store as one */
    int runs[4] = {0}, n_fold = 0, n_glu = 0, n_rope_kv = 0;
    for (int32_t i = 0; i < g.n_ops; i++) {
        const struct op *o = &g.ops[i];
        n_fold += o->fold;
        n_glu += o->glu;
        if (o->fold) {
            ck_assert_int_eq(o->kind, OP_RMSNORM);
            ck_assert_int_eq(o->dim, m->cfg.n_embd);
            ck_assert(g.ops[i + 1].kind == OP_MATMUL && g.ops[i + 1].src == o->dst);
        }
        if (o->glu) {
            ck_assert_int_eq(o->n_fused, 2);
            ck_assert_int_eq(g.ops[i + 2].kind, OP_SWIGLU);
            ck_assert_int_eq(g.ops[i + 2].dst, o->dst);
            ck_assert_int_eq(g.ops[i + 2].src, g.ops[i + 1].dst);
        }
        if (o->kind == OP_ROPE && o->n_fused > 1) {
            ck_assert_int_eq(o->n_fused, 3);
            ck_assert_int_eq(g.ops[i + 1].kind, OP_ROPE);
            ck_assert_int_eq(g.ops[i + 2].kind, OP_KV_STORE);
            ck_assert_int_eq(g.ops[i + 2].src, g.ops[i + 1].dst);
            n_rope_kv++;
            i += 2;
            continue;
        }
        if (o->kind != OP_MATMUL) {
            ck_assert_int_le(o->n_fused, 1);
            continue;
        }
        ck_assert_int_ge(o->n_fused, 1);
        ck_assert_int_le(o->n_fused, 3);
        runs[o->n_fused]++;
        for (int32_t k = 1; k < o->n_fused; k++) {
            ck_assert_int_eq(g.ops[i + k].kind, OP_MATMUL);
            ck_assert_int_eq(g.ops[i + k].src, o->src);
            ck_assert_int_ne(g.ops[i + k].dst, o->dst);
        }
        i += o->n_fused - 1;
    }
    ck_assert_int_eq(runs[3], L);
    ck_assert_int_eq(runs[2], L);
    ck_assert_int_eq(runs[1], 2 * L + 1); /* wo, w_down; the logits */
    ck_assert_int_eq(n_fold, 2 * L + 1);
    ck_assert_int_eq(n_glu, L);
    ck_assert_int_eq(n_rope_kv, L);
    graph_free(&g);
    struct backend *b = NULL;
    if (vk) {
        /* the suite's device (JOULE_TEST_DEVICE, else lavapipe, which must be named) */
        char spec[32];
        int rc = VK_NO_DEVICE;
        snprintf(err, sizeof err, "no Vulkan device");
        if (mv_gpu) setenv("JOULE_VK_MV_GPU", "1", 1);
        if (test_vk_device(spec, sizeof spec, __func__))
            rc = vk_backend_new(m, spec, 64, &b, err, sizeof err);
        unsetenv("JOULE_VK_MV_GPU"); /* (read when the backend opens) */
        ck_assert_msg(rc != VK_FAILED, "%s", err);
        if (rc != VK_OK) {
            fprintf(stderr, "SKIP %s on vulkan: %s\n", vr->name, err);
            model_free(m);
            free_ref(&rm, vr);
            remove(path);
            rmdir(dir);
            return;
        }
    } else {
        b = cpu_backend_new(m, 64, 2, err, sizeof err);
    }
    ck_assert_msg(b != NULL, "%s", err);
    int32_t tok[T];
    for (int t = 0; t < T; t++)
        tok[t] = (t * 7 + 3) % V;
    static double want[T * V];
    float got[T * V];
    reference_logits(vr, &rm, tok, want);
    ck_assert_msg(backend_forward(b, tok, T, 0, true, got, err, sizeof err) == 0, "%s", err);
    double max_err = 0;
    for (int i = 0; i < T * V; i++) {
        double e = fabs(got[i] - want[i]);
        max_err = e > max_err || isnan(e) ? e : max_err;
    }
    /* the same through the KV cache, one token at a time */
    float one[V];
    double max_err_seq = 0;
    for (int t = 0; t < T; t++) {
        ck_assert(backend_forward(b, tok + t, 1, t, false, one, err, sizeof err) == 0);
        for (int i = 0; i < V; i++) {
            double e = fabs(one[i] - want[t * V + i]);
            max_err_seq = e > max_err_seq || isnan(e) ? e : max_err_seq;
        }
    }
    fprintf(stderr, "  %-24s %-6s max abs error %.2e (batch), %.2e (one by one)\n", vr->name,
            vk ? (mv_gpu ? "vk-mvg" : "vulkan") : "cpu", max_err, max_err_seq);
    double tol = vk ? 2e-2 : 1e-3; /* the Vulkan KV cache is f16 */
    ck_assert_msg(max_err <= tol && max_err_seq <= tol, "%s: %g %g", vr->name, max_err,
                  max_err_seq);
    if (mv_gpu) ck_assert_msg(vk_test_used_pipe(b, "rope_kv"), "%s: rope_kv did not run", vr->name);
    backend_destroy(b);
    model_free(m);
    free_ref(&rm, vr);
    remove(path);
    rmdir(dir);
}
END_TEST

Suite *arch_suite(void)
{
    Suite *s = suite_create("arch");
    TCase *tc = tcase_create("arch");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_arch_variant, 0, 3 * N_VARIANTS);
    suite_add_tcase(s, tc);
    return s;
}
