/* model — llama-family configuration from GGUF metadata, weight views, and the
 * forward pass as an op list. See model.h. */
#include "model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "tokenizer.h"
#include "util.h"

const char *act_name(enum act a)
{
    static const char *names[ACT_COUNT] = {"x",    "xn",   "q",  "k",     "v",
                                           "attn", "gate", "up", "logits"};
    return a < ACT_COUNT ? names[a] : "?";
}

const char *op_name(enum op_kind k)
{
    static const char *names[OP_COUNT] = {"embed",    "rmsnorm",   "matmul", "rope",
                                          "kv_store", "attention", "swiglu"};
    return k < OP_COUNT ? names[k] : "?";
}

int32_t act_width(const struct model_config *c, enum act a)
{
    switch (a) {
    case ACT_X:
    case ACT_XN: return c->n_embd;
    case ACT_Q:
    case ACT_ATTN: return c->n_head * c->head_dim;
    case ACT_K:
    case ACT_V: return c->n_head_kv * c->head_dim;
    case ACT_GATE:
    case ACT_UP: return c->n_ff;
    case ACT_LOGITS: return c->n_vocab;
    default: return 0;
    }
}

/* Reads "<arch>.<suffix>" as a positive integer within [lo, hi]. */
static int get_dim(const struct gguf_file *f, const char *arch, const char *suffix, bool required,
                   int32_t lo, int32_t hi, int32_t *out, char *err, size_t errlen)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    if (gguf_get_i64(f, key, &v) != 0) {
        if (!required) return 0;
        if (gguf_find(f, key))
            return fail(err, errlen, "%s: metadata '%s' is not an integer", f->path, key);
        return fail(err, errlen, "%s: required metadata '%s' is missing", f->path, key);
    }
    if (v < lo || v > hi)
        return fail(err, errlen, "%s: metadata '%s' = %" PRId64 " is out of range [%d, %d]",
                    f->path, key, v, lo, hi);
    *out = (int32_t)v;
    return 0;
}

static int get_float(const struct gguf_file *f, const char *arch, const char *suffix, float *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_f32(f, key, out);
}

/* Binds a weight view to a tensor, checking its type and shape.
 * ne1 = 0 means a 1-D tensor of ne0 elements. */
static int bind(const struct gguf_file *f, struct weight *w, const char *name, int64_t ne0,
                int64_t ne1, bool required, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    const struct gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) {
        if (!required) return 0;
        return fail(err, errlen, "%s: tensor '%s' is missing", f->path, name);
    }
    int64_t want1 = ne1 ? ne1 : 1;
    bool shape_ok = t->ne[0] == ne0 && t->ne[1] == want1 && t->ne[2] == 1 && t->ne[3] == 1;
    if (!shape_ok)
        return fail(err, errlen,
                    "%s: tensor '%s' has shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                    "], expected [%" PRId64 ", %" PRId64 "]",
                    f->path, name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], ne0, want1);
    if (!quant_supported(t->type)) {
        const char *tn = quant_name(t->type);
        return fail(err, errlen,
                    "%s: tensor '%s' has type %s, which is not supported (supported: %s)", f->path,
                    name, tn ? tn : "unknown", quant_supported_list());
    }
    if (ne1 == 0 && t->type != Q_F32)
        return fail(err, errlen, "%s: tensor '%s' must be F32 (it is %s)", f->path, name,
                    quant_name(t->type));
    w->name = t->name;
    w->type = t->type;
    w->ne0 = ne0;
    w->ne1 = want1;
    if (!quant_row_bytes(t->type, (uint64_t)ne0, &w->row_bytes))
        return fail(err, errlen, "%s: tensor '%s': row size is invalid", f->path, name);
    w->data = t->data;
    return 0;
}

/* Every difference between the architectures, as data. */
static const struct arch_info {
    const char *name;
    enum arch arch;
    enum rope_type rope;
    bool fused_qkv; /* q, k and v rows in one tensor, attn_qkv.weight */
    bool fused_up;  /* gate and up rows in one tensor, ffn_up.weight (gate first) */
    bool qkv_bias;  /* attn_q/k/v.bias required (else used when present) */
    bool qk_norm;   /* attn_q_norm / attn_k_norm: RMSNorm of each head before rope */
} arches[] = {
    {"llama", ARCH_LLAMA, ROPE_NORM, false, false, false, false},
    {"qwen2", ARCH_QWEN2, ROPE_NEOX, false, false, true, false},
    {"qwen3", ARCH_QWEN3, ROPE_NEOX, false, false, false, true},
    {"phi3", ARCH_PHI3, ROPE_NEOX, true, true, false, false},
};
#define SUPPORTED_ARCHES "llama, qwen2, qwen3, phi3"

static const struct arch_info *arch_info(enum arch a)
{
    for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
        if (arches[i].arch == a) return &arches[i];
    return &arches[0];
}

static int load_config(const struct gguf_file *f, struct model_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    char *arch = gguf_get_str(f, "general.architecture");
    if (!arch) return fail(err, errlen, "%s: metadata 'general.architecture' is missing", f->path);
    size_t ai = 0;
    while (ai < sizeof arches / sizeof arches[0] && strcmp(arch, arches[ai].name) != 0)
        ai++;
    if (ai == sizeof arches / sizeof arches[0]) {
        int r = fail(err, errlen, "%s: architecture '%.64s' is not supported (supported: %s)",
                     f->path, arch, SUPPORTED_ARCHES);
        free(arch);
        return r;
    }
    free(arch);
    arch = NULL;
    const char *an = arches[ai].name;
    c->arch = arches[ai].arch;
    c->rope_type = arches[ai].rope;
    snprintf(c->arch_name, sizeof c->arch_name, "%s", an);
    char *name = gguf_get_str(f, "general.name");
    if (name) snprintf(c->name, sizeof c->name, "%s", name);
    free(name);

    const int32_t big = 1 << 20;
    c->n_head_kv = -1;
    c->n_ctx_train = 2048;
    c->head_dim = -1;
    c->rope_dim = -1;
    if (get_dim(f, an, "embedding_length", true, 1, big, &c->n_embd, err, errlen) ||
        get_dim(f, an, "block_count", true, 1, 4096, &c->n_layer, err, errlen) ||
        get_dim(f, an, "feed_forward_length", true, 1, big, &c->n_ff, err, errlen) ||
        get_dim(f, an, "attention.head_count", true, 1, 4096, &c->n_head, err, errlen) ||
        get_dim(f, an, "attention.head_count_kv", false, 1, 4096, &c->n_head_kv, err, errlen) ||
        get_dim(f, an, "context_length", false, 1, 1 << 24, &c->n_ctx_train, err, errlen) ||
        get_dim(f, an, "attention.key_length", false, 2, 65536, &c->head_dim, err, errlen) ||
        get_dim(f, an, "rope.dimension_count", false, 2, 65536, &c->rope_dim, err, errlen) ||
        get_dim(f, an, "attention.sliding_window", false, 0, 1 << 24, &c->sliding_window, err,
                errlen))
        return -1;
    if (c->n_head_kv < 0) c->n_head_kv = c->n_head;
    if (c->head_dim < 0) c->head_dim = c->n_embd / c->n_head;
    if (c->rope_dim < 0) c->rope_dim = c->head_dim;
    c->rms_eps = 1e-5f;
    get_float(f, an, "attention.layer_norm_rms_epsilon", &c->rms_eps);
    c->rope_base = 10000.0f;
    get_float(f, an, "rope.freq_base", &c->rope_base);
    c->rope_freq_scale = 1.0f;
    snprintf(c->rope_scaling, sizeof c->rope_scaling, "none");
    char key[96];
    snprintf(key, sizeof key, "%s.rope.scaling.type", an);
    char *scaling = gguf_get_str(f, key);
    if (scaling && strcmp(scaling, "none") != 0) {
        float factor = 1.0f;
        if (strcmp(scaling, "linear") == 0 &&
            get_float(f, an, "rope.scaling.factor", &factor) == 0 && factor >= 1.0f &&
            factor <= 1024.0f) {
            c->rope_freq_scale = 1.0f / factor;
            snprintf(c->rope_scaling, sizeof c->rope_scaling, "linear");
        } else if (strcmp(scaling, "llama3") != 0) { /* llama3 scaling lives in rope_freqs */
            int r = fail(err, errlen,
                         "%s: rope scaling '%.32s' is not supported (supported: none, linear, "
                         "llama3 via rope_freqs)",
                         f->path, scaling);
            free(scaling);
            return r;
        }
    }
    free(scaling);

    if (c->n_head % c->n_head_kv != 0)
        return fail(err, errlen, "%s: head_count %d is not a multiple of head_count_kv %d", f->path,
                    c->n_head, c->n_head_kv);
    if (c->head_dim < 2 || c->head_dim % 2 != 0 || c->rope_dim % 2 != 0 ||
        c->rope_dim > c->head_dim)
        return fail(err, errlen, "%s: head dimension %d / rope dimension %d are not usable",
                    f->path, c->head_dim, c->rope_dim);
    if ((int64_t)c->n_head * c->head_dim > big)
        return fail(err, errlen, "%s: attention width %d x %d is too large", f->path, c->n_head,
                    c->head_dim);
    if (!(c->rms_eps > 0.0f && c->rms_eps < 1.0f))
        return fail(err, errlen, "%s: layer_norm_rms_epsilon %g is not usable", f->path,
                    (double)c->rms_eps);
    if (!(c->rope_base > 0.0f && c->rope_base < 1e12f))
        return fail(err, errlen, "%s: rope.freq_base %g is not usable", f->path,
                    (double)c->rope_base);
    return 0;
}

/* rows [r0, r0 + n) of w, as a weight of its own */
static struct weight view_rows(const struct weight *w, int64_t r0, int64_t n)
{
    struct weight v = *w;
    v.data = (const uint8_t *)w->data + (uint64_t)r0 * w->row_bytes;
    v.ne1 = n;
    return v;
}

static int bind_weights(struct model *m, char *err, size_t errlen)
{
    const struct gguf_file *f = m->gguf;
    struct model_config *c = &m->cfg;
    const struct gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return fail(err, errlen, "%s: tensor 'token_embd.weight' is missing", f->path);
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return fail(err, errlen, "%s: tensor 'token_embd.weight' has an unusable vocabulary size",
                    f->path);
    c->n_vocab = (int32_t)emb->ne[1];
    int64_t q_dim = (int64_t)c->n_head * c->head_dim, kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    if (bind(f, &m->tok_embd, "token_embd.weight", c->n_embd, c->n_vocab, true, err, errlen) ||
        bind(f, &m->output_norm, "output_norm.weight", c->n_embd, 0, true, err, errlen) ||
        bind(f, &m->output, "output.weight", c->n_embd, c->n_vocab, false, err, errlen))
        return -1;
    if (!m->output.data) {
        m->output = m->tok_embd;
        m->tied_output = true;
    }
    if (bind(f, &m->rope_freqs, "rope_freqs.weight", c->rope_dim / 2, 0, false, err, errlen))
        return -1;
    if (m->rope_freqs.data) snprintf(c->rope_scaling, sizeof c->rope_scaling, "llama3");
    m->layers = calloc((size_t)c->n_layer, sizeof *m->layers);
    if (!m->layers) return fail(err, errlen, "%s: out of memory", f->path);
    const struct arch_info *ai = arch_info(c->arch);
    const bool biases_required = ai->qkv_bias, qk_norm = ai->qk_norm;
    for (int32_t l = 0; l < c->n_layer; l++) {
        struct layer_weights *L = &m->layers[l];
        char n[64];
#define NAME(sfx) (snprintf(n, sizeof n, "blk.%d." sfx, l), n)
        if (bind(f, &L->attn_norm, NAME("attn_norm.weight"), c->n_embd, 0, true, err, errlen) ||
            bind(f, &L->wo, NAME("attn_output.weight"), q_dim, c->n_embd, true, err, errlen) ||
            bind(f, &L->ffn_norm, NAME("ffn_norm.weight"), c->n_embd, 0, true, err, errlen) ||
            bind(f, &L->w_down, NAME("ffn_down.weight"), c->n_ff, c->n_embd, true, err, errlen) ||
            bind(f, &L->bq, NAME("attn_q.bias"), q_dim, 0, biases_required, err, errlen) ||
            bind(f, &L->bk, NAME("attn_k.bias"), kv_dim, 0, biases_required, err, errlen) ||
            bind(f, &L->bv, NAME("attn_v.bias"), kv_dim, 0, biases_required, err, errlen) ||
            bind(f, &L->q_norm, NAME("attn_q_norm.weight"), c->head_dim, 0, qk_norm, err, errlen) ||
            bind(f, &L->k_norm, NAME("attn_k_norm.weight"), c->head_dim, 0, qk_norm, err, errlen))
            return -1;
        struct weight qkv, up;
        if (ai->fused_qkv) {
            if (bind(f, &qkv, NAME("attn_qkv.weight"), c->n_embd, q_dim + 2 * kv_dim, true, err,
                     errlen))
                return -1;
            L->wq = view_rows(&qkv, 0, q_dim);
            L->wk = view_rows(&qkv, q_dim, kv_dim);
            L->wv = view_rows(&qkv, q_dim + kv_dim, kv_dim);
        } else if (bind(f, &L->wq, NAME("attn_q.weight"), c->n_embd, q_dim, true, err, errlen) ||
                   bind(f, &L->wk, NAME("attn_k.weight"), c->n_embd, kv_dim, true, err, errlen) ||
                   bind(f, &L->wv, NAME("attn_v.weight"), c->n_embd, kv_dim, true, err, errlen))
            return -1;
        if (ai->fused_up) {
            if (bind(f, &up, NAME("ffn_up.weight"), c->n_embd, 2 * (int64_t)c->n_ff, true, err,
                     errlen))
                return -1;
            L->w_gate = view_rows(&up, 0, c->n_ff); /* swiglu: silu(first half) * second half */
            L->w_up = view_rows(&up, c->n_ff, c->n_ff);
        } else if (bind(f, &L->w_gate, NAME("ffn_gate.weight"), c->n_embd, c->n_ff, true, err,
                        errlen) ||
                   bind(f, &L->w_up, NAME("ffn_up.weight"), c->n_embd, c->n_ff, true, err, errlen))
            return -1;
#undef NAME
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    return 0;
}

int model_load(const char *path, struct model **out, char *err, size_t errlen)
{
    *out = NULL;
    struct model *m = calloc(1, sizeof *m);
    if (!m) return fail(err, errlen, "%s: out of memory", path);
    if (gguf_open(path, &m->gguf, err, errlen) != 0 || load_config(m->gguf, &m->cfg, err, errlen) ||
        bind_weights(m, err, errlen)) {
        model_free(m);
        return -1;
    }
    if (tokenizer_load(m->gguf, &m->tok, m->tok_err, sizeof m->tok_err) != 0) m->tok = NULL;
    if (m->tok && tokenizer_n_vocab(m->tok) > m->cfg.n_vocab) {
        fail(err, errlen, "%s: the vocabulary has %d tokens but token_embd.weight only %d rows",
             path, tokenizer_n_vocab(m->tok), m->cfg.n_vocab);
        model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void model_free(struct model *m)
{
    if (!m) return;
    tokenizer_free(m->tok);
    free(m->layers);
    gguf_close(m->gguf);
    free(m);
}

/* ---- the forward pass ----
 * One typed emitter per op kind; model_build_graph reads as the math of the block. The
 * builder runs twice: once counting (ops NULL: every op goes to the sink), then into an
 * array of exactly that many ops. */

struct builder {
    struct op *ops; /* NULL while counting */
    int32_t n;
    struct op sink;
};

static struct op *emit(struct builder *g, enum op_kind kind, enum act dst, enum act src)
{
    struct op *o = g->ops ? &g->ops[g->n] : &g->sink;
    g->n++;
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->dst = dst;
    o->src = src;
    o->src2 = ACT_NONE;
    o->layer = -1;
    return o;
}

/* dst[t] = row tokens[t] of w */
static struct op *op_embed(struct builder *g, enum act dst, const struct weight *w)
{
    struct op *o = emit(g, OP_EMBED, dst, ACT_NONE);
    o->w = w;
    return o;
}

/* dst = each dim-long piece of src, RMS-normalised and scaled by w */
static struct op *op_rmsnorm(struct builder *g, enum act dst, enum act src, const struct weight *w,
                             int32_t dim)
{
    struct op *o = emit(g, OP_RMSNORM, dst, src);
    o->w = w;
    o->dim = dim;
    return o;
}

/* dst (+)= w src + b (b NULL or without data: none) */
static struct op *op_matmul(struct builder *g, enum act dst, enum act src, const struct weight *w,
                            const struct weight *b, bool accumulate)
{
    struct op *o = emit(g, OP_MATMUL, dst, src);
    o->w = w;
    o->b = (b && b->data) ? b : NULL;
    o->accumulate = accumulate;
    return o;
}

/* x's n_heads heads rotated in place (freqs: frequency factors or NULL) */
static struct op *op_rope(struct builder *g, enum act x, int32_t n_heads,
                          const struct weight *freqs)
{
    struct op *o = emit(g, OP_ROPE, x, ACT_NONE);
    o->n_heads = n_heads;
    o->w = freqs;
    return o;
}

/* the layer's cache rows pos0+t = k[t], v[t] */
static struct op *op_kv_store(struct builder *g, int32_t layer, enum act k, enum act v)
{
    struct op *o = emit(g, OP_KV_STORE, ACT_NONE, k);
    o->src2 = v;
    o->layer = layer;
    return o;
}

/* dst = softmax(q K^T / sqrt(hd)) V over the layer's cache (the last window positions) */
static struct op *op_attention(struct builder *g, enum act dst, enum act q, int32_t layer,
                               int32_t window)
{
    struct op *o = emit(g, OP_ATTENTION, dst, q);
    o->layer = layer;
    o->window = window;
    return o;
}

/* gate = silu(gate) * up */
static struct op *op_swiglu(struct builder *g, enum act gate, enum act up)
{
    return emit(g, OP_SWIGLU, gate, up);
}

static void forward(const struct model *m, struct builder *g)
{
    const struct model_config *c = &m->cfg;
    const struct weight *freqs = m->rope_freqs.data ? &m->rope_freqs : NULL;
    op_embed(g, ACT_X, &m->tok_embd);
    for (int32_t l = 0; l < c->n_layer; l++) {
        const struct layer_weights *L = &m->layers[l];
        /* attention block: x += wo attention(rope(q), rope(k), v) of rmsnorm(x) */
        op_rmsnorm(g, ACT_XN, ACT_X, &L->attn_norm, c->n_embd);
        op_matmul(g, ACT_Q, ACT_XN, &L->wq, &L->bq, false);
        op_matmul(g, ACT_K, ACT_XN, &L->wk, &L->bk, false);
        op_matmul(g, ACT_V, ACT_XN, &L->wv, &L->bv, false);
        if (L->q_norm.data) { /* qwen3: RMSNorm of each head before rope */
            op_rmsnorm(g, ACT_Q, ACT_Q, &L->q_norm, c->head_dim);
            op_rmsnorm(g, ACT_K, ACT_K, &L->k_norm, c->head_dim);
        }
        op_rope(g, ACT_Q, c->n_head, freqs);
        op_rope(g, ACT_K, c->n_head_kv, freqs);
        op_kv_store(g, l, ACT_K, ACT_V);
        op_attention(g, ACT_ATTN, ACT_Q, l, c->sliding_window);
        op_matmul(g, ACT_X, ACT_ATTN, &L->wo, NULL, true);
        /* feed-forward block: x += w_down (silu(w_gate xn) * w_up xn), xn = rmsnorm(x) */
        op_rmsnorm(g, ACT_XN, ACT_X, &L->ffn_norm, c->n_embd);
        op_matmul(g, ACT_GATE, ACT_XN, &L->w_gate, NULL, false);
        op_matmul(g, ACT_UP, ACT_XN, &L->w_up, NULL, false);
        op_swiglu(g, ACT_GATE, ACT_UP);
        op_matmul(g, ACT_X, ACT_GATE, &L->w_down, NULL, true);
    }
    /* logits = output rmsnorm(x), on the rows whose logits are wanted */
    op_rmsnorm(g, ACT_XN, ACT_X, &m->output_norm, c->n_embd)->logits_rows = true;
    op_matmul(g, ACT_LOGITS, ACT_XN, &m->output, NULL, false)->logits_rows = true;
}

int model_build_graph(const struct model *m, struct graph *g, char *err, size_t errlen)
{
    struct builder b = {0};
    forward(m, &b); /* counts */
    g->n_ops = 0;
    g->ops = calloc((size_t)b.n, sizeof *g->ops);
    if (!g->ops) return fail(err, errlen, "out of memory building the graph");
    int32_t n = b.n;
    b = (struct builder){.ops = g->ops};
    forward(m, &b);
    if (b.n != n) { /* forward() depends only on the model: cannot happen */
        graph_free(g);
        return fail(err, errlen, "the graph changed between counting and building");
    }
    g->n_ops = b.n;
    graph_fuse(g);
    return 0;
}

/* Whether op o reads activation a / writes it without reading it first. */
static bool op_reads(const struct op *o, enum act a)
{
    if (a == ACT_NONE) return false;
    bool rd_dst =
        o->kind == OP_ROPE || o->kind == OP_SWIGLU || (o->kind == OP_MATMUL && o->accumulate);
    return o->src == a || o->src2 == a || (rd_dst && o->dst == a);
}

static bool op_overwrites(const struct op *o, enum act a)
{
    return o->dst == a && o->kind != OP_KV_STORE && !op_reads(o, a);
}

/* Whether an op from index i on reads a before one overwrites it. */
static bool read_later(const struct graph *g, int32_t i, enum act a)
{
    for (; i < g->n_ops; i++) {
        if (op_reads(&g->ops[i], a)) return true;
        if (op_overwrites(&g->ops[i], a)) return false;
    }
    return false;
}

/* runs of products sharing their input: n_fused on the first */
static void fuse_products(struct graph *g)
{
    for (int32_t i = 0; i < g->n_ops;) {
        struct op *o = &g->ops[i];
        int32_t k = 1;
        if (o->kind == OP_MATMUL && o->dst != o->src) {
            for (; i + k < g->n_ops; k++) {
                const struct op *p = &g->ops[i + k];
                bool ok = p->kind == OP_MATMUL && p->src == o->src && p->dst != o->src &&
                          p->logits_rows == o->logits_rows;
                for (int32_t j = 0; ok && j < k; j++) /* each writes its own activation */
                    ok = g->ops[i + j].dst != p->dst;
                if (!ok) break;
            }
        }
        o->n_fused = k;
        for (int32_t j = 1; j < k; j++)
            g->ops[i + j].n_fused = 1;
        i += k;
    }
}

void graph_fuse(struct graph *g)
{
    for (int32_t i = 0; i < g->n_ops; i++)
        g->ops[i].fold = g->ops[i].glu = false;
    fuse_products(g);
    for (int32_t i = 0; i < g->n_ops; i++) {
        struct op *o = &g->ops[i];
        struct op *next = i + 1 < g->n_ops ? o + 1 : NULL;
        /* gate, up, SWIGLU(gate, up), up read by nothing after */
        if (o->kind == OP_MATMUL && o->n_fused == 2 && i + 2 < g->n_ops) {
            const struct op *u = o + 1, *s = o + 2;
            o->glu = s->kind == OP_SWIGLU && s->dst == o->dst && s->src == u->dst &&
                     !o->accumulate && !u->accumulate && s->logits_rows == o->logits_rows &&
                     !read_later(g, i + 3, u->dst);
        }
        /* RMSNorm of whole rows read only by the products right after it */
        if (o->kind == OP_RMSNORM && next && next->kind == OP_MATMUL && next->src == o->dst &&
            o->src != o->dst && next->logits_rows == o->logits_rows) {
            int32_t run = next->n_fused > 1 ? next->n_fused : 1;
            bool ok = !read_later(g, i + 1 + run, o->dst);
            for (int32_t k = 1; ok && k <= run; k++)
                ok = o[k].dst != o->src && o[k].dst != o->dst;
            o->fold = ok;
        }
        /* rope q, rope k, KV_STORE of that k (and another v) */
        if (o->kind == OP_ROPE && next && next->kind == OP_ROPE && i + 2 < g->n_ops) {
            struct op *kv = o + 2;
            if (next->dst != o->dst && kv->kind == OP_KV_STORE && kv->src == next->dst &&
                kv->src2 != o->dst && kv->src2 != next->dst && !o->logits_rows &&
                !next->logits_rows && !kv->logits_rows && o->w == next->w &&
                !read_later(g, i + 3, next->dst)) {
                o->n_fused = 3;
                next->n_fused = kv->n_fused = 1;
                i += 2;
            }
        }
    }
}

void graph_free(struct graph *g)
{
    free(g->ops);
    g->ops = NULL;
    g->n_ops = 0;
}
