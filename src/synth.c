/* synth — synthetic models with random weights in published shapes. See synth.h. */
#include "synth.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "util.h"

/* Published configs (config.json of each Hugging Face repository). */
static const struct synth_shape shapes[] = {
    {"tinyllama-1.1b", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", 32000, 2048, 22, 32, 4, 5632, 2048,
     10000.0f, 1e-5f, ROPE_NORM, false, false, 1100048384ull, SYNTH_VOCAB_SPM},
    {"llama-3.2-1b", "meta-llama/Llama-3.2-1B", 128256, 2048, 16, 32, 8, 8192, 131072, 500000.0f,
     1e-5f, ROPE_NORM, true, false, 1235814400ull, SYNTH_VOCAB_LLAMA3},
    {"qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B", 151936, 896, 24, 14, 2, 4864, 32768, 1000000.0f, 1e-6f,
     ROPE_NEOX, true, true, 494032768ull, SYNTH_VOCAB_QWEN2},
    {"llama-2-7b", "meta-llama/Llama-2-7b-hf", 32000, 4096, 32, 32, 32, 11008, 4096, 10000.0f,
     1e-5f, ROPE_NORM, false, false, 6738415616ull, SYNTH_VOCAB_SPM},
    {"llama-3.1-8b", "meta-llama/Llama-3.1-8B", 128256, 4096, 32, 32, 8, 14336, 131072, 500000.0f,
     1e-5f, ROPE_NORM, false, false, 8030261248ull, SYNTH_VOCAB_LLAMA3},
    /* not a published model: small enough for unit tests, K-quant compatible */
    {"test-tiny", "joule tests", 1024, 256, 2, 4, 2, 512, 1024, 10000.0f, 1e-5f, ROPE_NORM, false,
     false, 0, SYNTH_VOCAB_SPM},
};
enum { N_SHAPES = (int)(sizeof shapes / sizeof shapes[0]) };

static const char *ftype_names[SYNTH_FTYPE_COUNT] = {"q4_0", "q4_k_m", "q8_0"};

const char *synth_ftype_name(enum synth_ftype f)
{
    return f < SYNTH_FTYPE_COUNT ? ftype_names[f] : "?";
}

const struct synth_shape *synth_shapes(int *n)
{
    *n = N_SHAPES;
    return shapes;
}

int synth_parse(const char *name, const struct synth_shape **shape, enum synth_ftype *ftype,
                char *err, size_t errlen)
{
    for (int i = 0; i < N_SHAPES; i++) {
        size_t n = strlen(shapes[i].name);
        if (strncmp(name, shapes[i].name, n) != 0) continue;
        if (name[n] == 0) {
            *shape = &shapes[i];
            *ftype = SYNTH_Q4_0;
            return 0;
        }
        if (name[n] != '-') continue;
        for (int f = 0; f < SYNTH_FTYPE_COUNT; f++)
            if (!strcmp(name + n + 1, ftype_names[f])) {
                *shape = &shapes[i];
                *ftype = (enum synth_ftype)f;
                return 0;
            }
    }
    char list[512] = "";
    size_t k = 0;
    for (int i = 0; i < N_SHAPES && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", shapes[i].name);
    return fail(err, errlen,
                "unknown synthetic model '%s' (SHAPE-FTYPE with SHAPE one of %s and FTYPE q4_0, "
                "q4_k_m or q8_0; see --synthetic list)",
                name, list);
}

/* ---- tensor types, as llama.cpp's quantizer picks them ---- */

/* llama.cpp: use_more_bits(i_layer, n_layers) */
static bool use_more_bits(int32_t i, int32_t n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

enum role { R_EMBD, R_OUTPUT, R_NORM, R_BIAS, R_Q, R_K, R_V, R_O, R_GATE, R_UP, R_DOWN };

static uint32_t pick_type(const struct synth_shape *s, enum synth_ftype f, enum role r,
                          int32_t layer, int64_t ne0)
{
    if (r == R_NORM || r == R_BIAS) return Q_F32;
    bool is_output = r == R_OUTPUT || (r == R_EMBD && s->tied);
    uint32_t t;
    switch (f) {
    case SYNTH_Q8_0: t = Q_Q8_0; break;
    case SYNTH_Q4_0: t = is_output ? Q_Q6_K : Q_Q4_0; break;
    default:
        t = Q_Q4_K;
        if (is_output)
            t = Q_Q6_K;
        else if ((r == R_V || r == R_DOWN) && use_more_bits(layer, s->n_layer))
            t = Q_Q6_K;
        break;
    }
    if (ne0 % 256 != 0) { /* llama.cpp's fallback for rows that K blocks do not tile */
        if (t == Q_Q4_K)
            t = Q_Q5_0;
        else if (t == Q_Q5_K)
            t = Q_Q5_1;
        else if (t == Q_Q6_K)
            t = Q_Q8_0;
    }
    return t;
}

int synth_foreach(const struct synth_shape *s, enum synth_ftype f,
                  void (*fn)(const struct synth_tensor *t, void *ctx), void *ctx)
{
    const int64_t hd = s->n_embd / s->n_head;
    const int64_t q_dim = s->n_head * hd, kv_dim = s->n_head_kv * hd;
    int count = 0;
    struct synth_tensor t;
#define EMIT(ROLE, LAYER, NE0, NE1, ...)                                                           \
    do {                                                                                           \
        snprintf(t.name, sizeof t.name, __VA_ARGS__);                                              \
        t.ne0 = (NE0);                                                                             \
        t.ne1 = (NE1);                                                                             \
        t.layer = (LAYER);                                                                         \
        t.type = pick_type(s, f, ROLE, LAYER, t.ne0);                                              \
        if (fn) fn(&t, ctx);                                                                       \
        count++;                                                                                   \
    } while (0)
    EMIT(R_EMBD, -1, s->n_embd, s->n_vocab, "token_embd.weight");
    for (int32_t l = 0; l < s->n_layer; l++) {
        EMIT(R_NORM, l, s->n_embd, 1, "blk.%d.attn_norm.weight", l);
        EMIT(R_Q, l, s->n_embd, q_dim, "blk.%d.attn_q.weight", l);
        EMIT(R_K, l, s->n_embd, kv_dim, "blk.%d.attn_k.weight", l);
        EMIT(R_V, l, s->n_embd, kv_dim, "blk.%d.attn_v.weight", l);
        EMIT(R_O, l, q_dim, s->n_embd, "blk.%d.attn_output.weight", l);
        if (s->qkv_bias) {
            EMIT(R_BIAS, l, q_dim, 1, "blk.%d.attn_q.bias", l);
            EMIT(R_BIAS, l, kv_dim, 1, "blk.%d.attn_k.bias", l);
            EMIT(R_BIAS, l, kv_dim, 1, "blk.%d.attn_v.bias", l);
        }
        EMIT(R_NORM, l, s->n_embd, 1, "blk.%d.ffn_norm.weight", l);
        EMIT(R_GATE, l, s->n_embd, s->n_ff, "blk.%d.ffn_gate.weight", l);
        EMIT(R_UP, l, s->n_embd, s->n_ff, "blk.%d.ffn_up.weight", l);
        EMIT(R_DOWN, l, s->n_ff, s->n_embd, "blk.%d.ffn_down.weight", l);
    }
    EMIT(R_NORM, -1, s->n_embd, 1, "output_norm.weight");
    if (!s->tied) EMIT(R_OUTPUT, -1, s->n_embd, s->n_vocab, "output.weight");
#undef EMIT
    return count;
}

static uint64_t tensor_bytes(const struct synth_tensor *t)
{
    uint64_t row = 0;
    if (!quant_row_bytes(t->type, (uint64_t)t->ne0, &row)) return 0;
    return row * (uint64_t)t->ne1;
}

static void info_one(const struct synth_tensor *t, void *ctx)
{
    struct synth_info *in = ctx;
    in->n_params += (uint64_t)t->ne0 * (uint64_t)t->ne1;
    in->bytes += tensor_bytes(t);
    if (in->supported && !quant_supported(t->type)) {
        in->supported = false;
        snprintf(in->unsupported, sizeof in->unsupported, "%s (%s)", quant_name(t->type), t->name);
    }
}

void synth_info(const struct synth_shape *s, enum synth_ftype f, struct synth_info *out)
{
    memset(out, 0, sizeof *out);
    out->supported = true;
    out->n_tensors = synth_foreach(s, f, info_one, out);
}

/* ---- making the model ---- */

struct synth_model {
    struct model m; /* first: the model pointer is the synth_model pointer */
    uint8_t *data;
    char *names;
    uint32_t magic;
};
#define SYNTH_MAGIC 0x53594e54u

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* xorshift64*, started from splitmix64 of the tensor's state: fast, and plenty for
 * weights. Chunks of a multiple of 8 bytes continue the same stream (synth_fill_next). */
static void fill_random(uint8_t *p, uint64_t n, uint64_t *x, uint64_t *state)
{
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        uint64_t v = *x * 0x2545F4914F6CDD1Dull;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (uint8_t)splitmix64(state);
}

static void put_f16(uint8_t *p, float v)
{
    uint16_t h = quant_f32_to_f16(v);
    memcpy(p, &h, 2);
}

/* Offsets of the f16 scale fields in a block, and the scale that keeps weights
 * around 1e-2 (values do not change speed; they only must be finite). */
static void fix_scales(uint32_t type, uint8_t *p, uint64_t bytes)
{
    int off[2] = {-1, -1};
    float d = 1e-3f;
    switch (type) {
    case Q_Q4_0:
    case Q_Q5_0:
    case Q_Q8_0: off[0] = 0; break;
    case Q_Q4_1:
    case Q_Q5_1: off[0] = 0, off[1] = 2; break;
    case Q_Q2_K: off[0] = 80, off[1] = 82, d = 2e-4f; break;
    case Q_Q3_K: off[0] = 108, d = 2e-4f; break;
    case Q_Q4_K:
    case Q_Q5_K: off[0] = 0, off[1] = 2, d = 2e-5f; break;
    case Q_Q6_K: off[0] = 208, d = 1e-5f; break;
    default: break;
    }
    if (type == Q_F32) {
        for (uint64_t i = 0; i + 4 <= bytes; i += 4) {
            float v = (float)((int)p[i] - 128) * 1e-4f;
            memcpy(p + i, &v, 4);
        }
        return;
    }
    if (type == Q_F16 || type == Q_BF16) {
        for (uint64_t i = 0; i + 2 <= bytes; i += 2) {
            float v = (float)((int)p[i] - 128) * 1e-4f;
            uint16_t h = type == Q_F16 ? quant_f32_to_f16(v) : quant_f32_to_bf16(v);
            memcpy(p + i, &h, 2);
        }
        return;
    }
    uint32_t bb = quant_block_bytes(type);
    if (off[0] < 0 || bb == 0) return;
    for (uint64_t b = 0; b + bb <= bytes; b += bb) {
        put_f16(p + b + off[0], d);
        if (off[1] >= 0) put_f16(p + b + off[1], d);
    }
}

void synth_fill_init(struct synth_fill *f, const struct synth_tensor *t, int index, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    f->type = t->type;
    f->norm = t->ne1 == 1 && strstr(t->name, "norm") != NULL;
    f->state = (seed ? seed : SYNTH_DEFAULT_SEED) ^ ((uint64_t)(index + 1) * 0xD1B54A32D192ED03ull);
    if (!f->norm) f->x = splitmix64(&f->state) | 1;
}

void synth_fill_next(struct synth_fill *f, uint8_t *p, uint64_t n)
{
    if (f->norm) { /* norm weights of 1 keep activations at a sane scale */
        float one = 1.0f;
        for (uint64_t i = 0; i + 4 <= n; i += 4)
            memcpy(p + i, &one, 4);
        return;
    }
    fill_random(p, n, &f->x, &f->state);
    fix_scales(f->type, p, n);
}

struct build_ctx {
    struct synth_model *sm;
    uint64_t offset;
    int index;
    uint64_t seed;
};

static struct weight *slot(struct model *m, const struct synth_tensor *t)
{
    if (t->layer < 0) {
        if (!strcmp(t->name, "token_embd.weight")) return &m->tok_embd;
        if (!strcmp(t->name, "output_norm.weight")) return &m->output_norm;
        return &m->output;
    }
    struct layer_weights *L = &m->layers[t->layer];
    const char *s = strchr(t->name + 4, '.') + 1; /* after "blk.N." */
    static const char *names[] = {"attn_norm.weight", "attn_q.weight",      "attn_k.weight",
                                  "attn_v.weight",    "attn_output.weight", "attn_q.bias",
                                  "attn_k.bias",      "attn_v.bias",        "ffn_norm.weight",
                                  "ffn_gate.weight",  "ffn_up.weight",      "ffn_down.weight"};
    struct weight *w[] = {&L->attn_norm, &L->wq, &L->wk,       &L->wv,     &L->wo,   &L->bq,
                          &L->bk,        &L->bv, &L->ffn_norm, &L->w_gate, &L->w_up, &L->w_down};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i])) return w[i];
    return NULL;
}

static void build_one(const struct synth_tensor *t, void *ctx)
{
    struct build_ctx *b = ctx;
    struct model *m = &b->sm->m;
    struct weight *w = slot(m, t);
    char *name = b->sm->names + (size_t)b->index++ * sizeof t->name;
    memcpy(name, t->name, sizeof t->name);
    uint64_t bytes = tensor_bytes(t);
    uint8_t *p = b->sm->data + b->offset;
    b->offset += (bytes + 63) & ~(uint64_t)63;
    struct synth_fill fill;
    synth_fill_init(&fill, t, b->index - 1, b->seed);
    synth_fill_next(&fill, p, bytes);
    if (!w) return;
    w->name = name;
    w->type = t->type;
    w->ne0 = t->ne0;
    w->ne1 = t->ne1;
    quant_row_bytes(t->type, (uint64_t)t->ne0, &w->row_bytes);
    w->data = p;
}

struct size_ctx {
    uint64_t bytes;
};
static void size_one(const struct synth_tensor *t, void *ctx)
{
    ((struct size_ctx *)ctx)->bytes += (tensor_bytes(t) + 63) & ~(uint64_t)63;
}

/* MemAvailable from /proc/meminfo in bytes, or 0 when unknown. */
static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

int synth_create(const struct synth_shape *s, enum synth_ftype f, uint64_t seed, uint64_t max_bytes,
                 struct model **out, char *err, size_t errlen)
{
    *out = NULL;
    char full[96];
    snprintf(full, sizeof full, "%s-%s", s->name, synth_ftype_name(f));
    struct synth_info info;
    synth_info(s, f, &info);
    if (!info.supported)
        return fail(err, errlen,
                    "synthetic %s: tensor type %s is not supported by this build's CPU kernels "
                    "(supported: %s)",
                    full, info.unsupported, quant_supported_list());
    struct size_ctx sz = {0};
    synth_foreach(s, f, size_one, &sz);
    if (max_bytes == 0) {
        uint64_t avail = mem_available();
        /* leave room for the KV cache, activations and the rest of the system */
        if (avail) max_bytes = avail - avail / 8 - ((uint64_t)512 << 20);
        if (avail && avail < ((uint64_t)1024 << 20)) max_bytes = avail / 2;
    }
    if (max_bytes && sz.bytes > max_bytes)
        return fail(err, errlen,
                    "synthetic %s needs %.2f GiB for its weights but only %.2f GiB of memory is "
                    "available; pick a smaller model (see --synthetic list)",
                    full, (double)sz.bytes / (1 << 30), (double)max_bytes / (1 << 30));
    struct synth_model *sm = calloc(1, sizeof *sm);
    if (!sm) return fail(err, errlen, "synthetic %s: out of memory", full);
    sm->magic = SYNTH_MAGIC;
    struct model *m = &sm->m;
    m->layers = calloc((size_t)s->n_layer, sizeof *m->layers);
    sm->names = calloc((size_t)info.n_tensors, sizeof(((struct synth_tensor *)0)->name));
    sm->data = sz.bytes <= SIZE_MAX ? aligned_alloc(64, (size_t)sz.bytes) : NULL;
    if (!m->layers || !sm->names || !sm->data) {
        synth_free(m);
        return fail(err, errlen, "synthetic %s: out of memory allocating %.2f GiB of weights", full,
                    (double)sz.bytes / (1 << 30));
    }
    struct model_config *c = &m->cfg;
    c->arch = s->qkv_bias ? ARCH_QWEN2 : ARCH_LLAMA;
    snprintf(c->arch_name, sizeof c->arch_name, "%s", s->qkv_bias ? "qwen2" : "llama");
    snprintf(c->name, sizeof c->name, "%s (synthetic weights)", full);
    c->n_vocab = s->n_vocab;
    c->n_embd = s->n_embd;
    c->n_layer = s->n_layer;
    c->n_head = s->n_head;
    c->n_head_kv = s->n_head_kv;
    c->head_dim = s->n_embd / s->n_head;
    c->n_ff = s->n_ff;
    c->n_ctx_train = s->n_ctx_train;
    c->rms_eps = s->rms_eps;
    c->rope_base = s->rope_base;
    c->rope_type = s->rope_type;
    c->rope_dim = c->head_dim;
    c->rope_freq_scale = 1.0f;
    snprintf(c->rope_scaling, sizeof c->rope_scaling, "none");
    struct build_ctx b = {sm, 0, 0, seed};
    synth_foreach(s, f, build_one, &b);
    if (s->tied) {
        m->output = m->tok_embd;
        m->tied_output = true;
    }
    m->n_params = info.n_params;
    *out = m;
    return 0;
}

void synth_free(struct model *m)
{
    if (!m) return;
    struct synth_model *sm = (struct synth_model *)m;
    free(sm->data);
    free(sm->names);
    free(m->layers);
    free(sm);
}

static void count_one(const struct synth_tensor *t, void *ctx)
{
    uint32_t *count = ctx;
    if (t->type < Q_TYPE_LIMIT) count[t->type]++;
}

void synth_print_list(FILE *out)
{
    fprintf(out, "%-26s %14s %9s  %-3s  %s\n", "synthetic model", "parameters", "size GiB", "cpu",
            "tensor types (count)");
    for (int i = 0; i < N_SHAPES; i++)
        for (int f = 0; f < SYNTH_FTYPE_COUNT; f++) {
            struct synth_info in;
            synth_info(&shapes[i], (enum synth_ftype)f, &in);
            char name[96];
            snprintf(name, sizeof name, "%s-%s", shapes[i].name, ftype_names[f]);
            uint32_t count[Q_TYPE_LIMIT] = {0};
            synth_foreach(&shapes[i], (enum synth_ftype)f, count_one, count);
            fprintf(out, "%-26s %14" PRIu64 " %9.2f  %-3s ", name, in.n_params,
                    (double)in.bytes / (1 << 30), in.supported ? "yes" : "no");
            for (uint32_t t = 0; t < Q_TYPE_LIMIT; t++)
                if (count[t]) fprintf(out, " %s:%u", quant_name(t), count[t]);
            fprintf(out, "\n");
        }
    fprintf(out, "Names are SHAPE-FTYPE; a SHAPE alone means q4_0. Types follow llama.cpp's "
                 "quantizer (see src/synth.h).\n");
}
