/* model — architecture config from GGUF metadata, weight views, and the forward
 * pass as a list of ops (the graph) that every backend executes.
 *
 * The graph is built once per model; it does not depend on the batch size: each
 * op works on n rows (tokens) given at run time. Activations live in named
 * buffers (enum act) of n rows x act_width() floats.
 */
#ifndef JOULE_MODEL_H
#define JOULE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gguf_file;
struct tokenizer;

enum arch { ARCH_LLAMA = 0, ARCH_QWEN2, ARCH_QWEN3, ARCH_PHI3 };
enum rope_type { ROPE_NORM = 0, /* adjacent pairs (x0,x1),(x2,x3).. */ ROPE_NEOX = 2 /* halves */ };

struct model_config {
    enum arch arch;
    char arch_name[32];
    char name[128]; /* general.name, may be empty */
    int32_t n_vocab;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;
    int32_t n_ff;
    int32_t n_ctx_train;
    float rms_eps;
    float rope_base;
    enum rope_type rope_type;
    int32_t rope_dim;       /* dimensions rotated per head (<= head_dim) */
    float rope_freq_scale;  /* linear rope scaling: positions x this (1 = none) */
    char rope_scaling[16];  /* "none", "linear", "llama3" (rope_freqs tensor) */
    int32_t sliding_window; /* attend to at most this many latest positions; 0 = all */
};

/* A 2-D (or 1-D, ne1 = 1) weight as stored in the file: ne1 rows of ne0 elements. */
struct weight {
    const char *name;
    uint32_t type; /* enum qtype */
    int64_t ne0, ne1;
    uint64_t row_bytes;
    const void *data; /* into the mmapped file */
};

/* Fused tensors (phi3's attn_qkv and gate+up ffn_up) are bound as row-range views, so
 * the graph and the backends only ever see separate projections. */
struct layer_weights {
    struct weight attn_norm, wq, wk, wv, wo;
    struct weight bq, bk, bv;     /* data NULL when absent */
    struct weight q_norm, k_norm; /* qwen3 per-head RMSNorm; data NULL when absent */
    struct weight ffn_norm, w_gate, w_up, w_down;
};

struct model {
    struct gguf_file *gguf;
    struct tokenizer *tok;
    struct model_config cfg;
    struct weight tok_embd, output_norm, output; /* output == tok_embd view when tied */
    struct weight rope_freqs;                    /* llama3 rope frequency factors, or data NULL */
    bool tied_output;
    char tok_err[256];
    struct layer_weights *layers;
    uint64_t n_params;
};

/* Loads weights and the tokenizer. A vocabulary this build cannot tokenize does not stop
 * the load (logits from token ids still work): m->tok is then NULL and m->tok_err says why. */
int model_load(const char *path, struct model **out, char *err, size_t errlen);
void model_free(struct model *m);

/* activation buffers */
enum act {
    ACT_X,      /* residual stream, n_embd */
    ACT_XN,     /* normed input of a block, n_embd */
    ACT_Q,      /* n_head * head_dim */
    ACT_K,      /* n_head_kv * head_dim */
    ACT_V,      /* n_head_kv * head_dim */
    ACT_ATTN,   /* attention output, n_head * head_dim */
    ACT_GATE,   /* n_ff */
    ACT_UP,     /* n_ff */
    ACT_LOGITS, /* n_vocab (only the rows that logits are wanted for) */
    ACT_COUNT,
    ACT_NONE = ACT_COUNT /* an op's unused dst / src / src2 */
};
int32_t act_width(const struct model_config *c, enum act a);
const char *act_name(enum act a);

enum op_kind {
    OP_EMBED,     /* dst[t] = row tokens[t] of w */
    OP_RMSNORM,   /* each dim-long piece of a row: x / sqrt(mean(x^2) + eps) * w (w has dim) */
    OP_MATMUL,    /* dst[t] (+)= w * src[t] + b   (w: ne1 rows of ne0; accumulate adds to dst) */
    OP_ROPE,      /* in place on dst: rotate each head at position pos0 + t (w: freq factors) */
    OP_KV_STORE,  /* cache[layer] K,V rows pos0+t = src (ACT_K), src2 (ACT_V) */
    OP_ATTENTION, /* dst[t] = per head softmax(q k^T / sqrt(hd)) v over cache 0..pos0+t (GQA),
                     the last `window` positions only when window > 0 */
    OP_SWIGLU,    /* dst[t] = silu(dst[t]) * src[t] */
    OP_COUNT
};
const char *op_name(enum op_kind k);

struct op {
    enum op_kind kind;
    enum act dst, src, src2;
    const struct weight *w; /* EMBED, RMSNORM, MATMUL; ROPE: frequency factors or NULL */
    const struct weight *b; /* MATMUL bias or NULL */
    bool accumulate;        /* MATMUL: dst += result (fused residual add) */
    bool logits_rows;       /* runs only on the rows whose logits are wanted (last or all) */
    int32_t layer;          /* KV_STORE, ATTENTION */
    int32_t n_heads;        /* ROPE: heads in dst */
    int32_t dim;            /* RMSNORM: length of each normalized piece (n_embd or head_dim) */
    int32_t window;         /* ATTENTION: sliding window, 0 = none */
    /* Marks set by graph_fuse: what a backend may run together (it may also ignore them) */
    int32_t n_fused; /* this op and the n_fused - 1 that follow it form a run (0 or 1: alone).
                        MATMUL: products that read the same src and write other activations
                        (q/k/v, gate/up): one product. ROPE: rope of q, rope of k, and the
                        KV_STORE of that k (and v), k read by nothing after: one pass that
                        rotates q and k and stores (k itself may then stay unrotated). */
    bool fold;       /* RMSNORM of whole rows: every op that reads dst (before it is written
                        again) is a product of the run right after this op, and none of them
                        writes src; a backend whose products normalise their input themselves
                        (src and w of this op) may skip this op */
    bool glu;        /* MATMUL, head of a run of 2 (gate, up): the next op is the SWIGLU of the
                        two and the only reader of up; a backend may write silu(gate) * up to
                        gate directly and skip the SWIGLU (up then stays unwritten) */
};

struct graph {
    struct op *ops;
    int32_t n_ops;
};

/* The forward pass of m as ops (exactly as many as it needs). Architecture differences
 * are data (model.c's arches[] table and the weights bound from it), never tests here.
 *
 * Op fusion is decided by one pass over this op list (graph_fuse, run by
 * model_build_graph, so both backends see the same decision), which marks runs of ops a
 * backend may execute together; the ops themselves stay the one statement of the math,
 * and no backend pattern-matches ops on its own. The marks (struct op): products that
 * share their input (q/k/v, gate/up: n_fused; the CPU runs them as one job), gate + up +
 * SwiGLU (glu), an RMSNorm folded into the products that read it (fold), rope of q and k
 * with the KV store (n_fused on the first rope); the Vulkan decode kernel uses them all. */
int model_build_graph(const struct model *m, struct graph *g, char *err, size_t errlen);
/* Sets the marks: n_fused on each run of products that read the same src, on the same
 * rows, and write activations none of them reads, and on each rope q, rope k, KV_STORE k
 * run; glu and fold where their conditions (struct op) hold. */
void graph_fuse(struct graph *g);
void graph_free(struct graph *g);

#endif
