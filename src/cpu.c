/* cpu — graph executor on the CPU. Two precisions (backend.h): exact runs plain
 * float kernels, threaded over output rows, dequantizing a weight row once for a whole
 * batch of tokens; fast quantizes each activation row once per product into 8-bit
 * blocks and runs the integer kernels of quant_q8 on tiles of rows x tokens. */
#include "cpu.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"
#include "quant_q8.h"

/* ---- thread pool: one parallel-for at a time, the caller takes part ---- */

typedef void (*pool_fn)(void *ctx, int32_t worker, int64_t begin, int64_t end);

struct cpu_pool {
    int32_t n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    atomic_uint_fast64_t generation; /* written under mu; read by spinning workers */
    atomic_int pending;              /* workers still running the current job */
    atomic_bool quit;
    /* current job */
    pool_fn fn;
    void *ctx;
    int64_t n_items, chunk;
    atomic_int_fast64_t next;
};

struct worker_arg {
    struct cpu_pool *pool;
    int32_t id;
};

static void run_chunks(struct cpu_pool *p, int32_t id)
{
    for (;;) {
        int64_t b = atomic_fetch_add(&p->next, p->chunk);
        if (b >= p->n_items) break;
        int64_t e = b + p->chunk < p->n_items ? b + p->chunk : p->n_items;
        p->fn(p->ctx, id, b, e);
    }
}

/* Between the products of one token there are only microseconds: a thread polls for
 * that long before it sleeps, so that most jobs start and end without a system call. */
enum { SPIN_ROUNDS = 4000 };

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct cpu_pool *p = wa->pool;
    int32_t id = wa->id;
    free(wa);
    uint64_t seen = 0;
    for (;;) {
        for (int k = 0;
             k < SPIN_ROUNDS && atomic_load(&p->generation) == seen && !atomic_load(&p->quit); k++)
            cpu_relax();
        pthread_mutex_lock(&p->mu);
        while (!atomic_load(&p->quit) && atomic_load(&p->generation) == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (atomic_load(&p->quit)) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load(&p->generation);
        pthread_mutex_unlock(&p->mu);
        run_chunks(p, id);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            pthread_mutex_lock(&p->mu); /* the caller checks pending under mu before waiting */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int32_t cpu_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 256 ? 256 : (int32_t)n);
}

struct cpu_pool *cpu_pool_new(int32_t n_threads)
{
    if (n_threads <= 0) n_threads = cpu_default_threads();
    struct cpu_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        cpu_pool_free(p);
        return NULL;
    }
    for (int32_t i = 1; i < n_threads; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (!wa) break;
        wa->pool = p;
        wa->id = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            break; /* run with the threads we got */
        }
        p->n_threads = i + 1;
    }
    return p;
}

void cpu_pool_free(struct cpu_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, true);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int32_t i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

/* Runs fn over [0, n_items) in chunks of `chunk`, on every thread of the pool. */
static void pool_for(struct cpu_pool *p, pool_fn fn, void *ctx, int64_t n_items, int64_t chunk)
{
    if (n_items <= 0) return;
    if (chunk < 1) chunk = 1;
    if (!p || p->n_threads == 1 || n_items <= chunk) {
        fn(ctx, 0, 0, n_items);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n_items;
    p->chunk = chunk;
    atomic_store(&p->next, 0);
    atomic_store(&p->pending, p->n_threads - 1);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, 0);
    for (int k = 0; k < SPIN_ROUNDS && atomic_load(&p->pending) > 0; k++)
        cpu_relax();
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->pending) > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static int32_t pool_threads(const struct cpu_pool *p)
{
    return p ? p->n_threads : 1;
}

/* ---- reference kernels ---- */

void cpu_embed(float *dst, const struct weight *w, const int32_t *tokens, int32_t n)
{
    for (int32_t t = 0; t < n; t++)
        quant_dequant_row(w->type, (const uint8_t *)w->data + (uint64_t)tokens[t] * w->row_bytes,
                          dst + (int64_t)t * w->ne0, w->ne0);
}

void cpu_rmsnorm(float *dst, const float *src, const float *w, int32_t n, int32_t dim, float eps)
{
    for (int32_t t = 0; t < n; t++) {
        const float *x = src + (int64_t)t * dim;
        float *y = dst + (int64_t)t * dim;
        double ss = 0.0;
        for (int32_t i = 0; i < dim; i++)
            ss += (double)x[i] * x[i];
        float scale = (float)(1.0 / sqrt(ss / dim + eps));
        for (int32_t i = 0; i < dim; i++)
            y[i] = x[i] * scale * w[i];
    }
}

/* Rows are processed in tiles: a tile of weight rows is dequantized once into a
 * per-thread scratch and reused for every token of the batch. */
enum { MM_TILE = 16 };

struct matmul_job {
    float *dst;
    const struct weight *w;
    const float *bias, *src;
    int32_t n;
    bool accumulate;
    float *scratch; /* n_threads x MM_TILE x ne0 */
};

static void matmul_rows(void *ctx, int32_t worker, int64_t begin, int64_t end)
{
    struct matmul_job *j = ctx;
    const struct weight *w = j->w;
    const int64_t in = w->ne0, out = w->ne1;
    const uint8_t *base = w->data;
    for (int64_t r0 = begin; r0 < end; r0 += MM_TILE) {
        int64_t r1 = r0 + MM_TILE < end ? r0 + MM_TILE : end;
        if (j->n == 1) {
            for (int64_t r = r0; r < r1; r++) {
                float v = quant_dot(w->type, base + r * w->row_bytes, j->src, in);
                if (j->bias) v += j->bias[r];
                j->dst[r] = j->accumulate ? j->dst[r] + v : v;
            }
            continue;
        }
        float *tile = j->scratch + (int64_t)worker * MM_TILE * in;
        for (int64_t r = r0; r < r1; r++)
            quant_dequant_row(w->type, base + r * w->row_bytes, tile + (r - r0) * in, in);
        for (int32_t t = 0; t < j->n; t++) {
            const float *x = j->src + (int64_t)t * in;
            float *y = j->dst + (int64_t)t * out;
            for (int64_t r = r0; r < r1; r++) {
                float v = quant_dot(Q_F32, tile + (r - r0) * in, x, in); /* SIMD path */
                if (j->bias) v += j->bias[r];
                y[r] = j->accumulate ? y[r] + v : v;
            }
        }
    }
}

/* Rows per work item when a product reads its weights once (one token, or one token group
 * in fast precision): 4 items per thread, so that each thread streams long runs of rows
 * (q8_block_rows says why, with the measurement) and the threads still balance. */
static int64_t stream_rows(int64_t rows, int32_t threads)
{
    return rows / ((int64_t)threads * 4);
}

void cpu_matmul(struct cpu_pool *pool, float *dst, const struct weight *w, const float *bias,
                const float *src, int32_t n, bool accumulate)
{
    if (n <= 0) return;
    float *scratch = NULL;
    if (n > 1) {
        scratch = malloc(sizeof(float) * (size_t)pool_threads(pool) * MM_TILE * (size_t)w->ne0);
        if (!scratch) { /* fall back to one dot per token and row: slower, no extra memory */
            for (int32_t t = 0; t < n; t++)
                cpu_matmul(pool, dst + (int64_t)t * w->ne1, w, bias, src + (int64_t)t * w->ne0, 1,
                           accumulate);
            return;
        }
    }
    struct matmul_job j = {dst, w, bias, src, n, accumulate, scratch};
    int64_t chunk = n == 1 ? stream_rows(w->ne1, pool_threads(pool)) : MM_TILE;
    pool_for(pool, matmul_rows, &j, w->ne1, chunk > MM_TILE ? chunk : MM_TILE);
    free(scratch);
}

/* ---- fast precision: 8-bit activations ---- */

struct q8_job {
    float *dst;
    const struct weight *w;
    const float *bias;
    const uint8_t *act; /* n rows of act_stride bytes */
    size_t act_stride;
    int32_t n;
    bool accumulate;
    const uint8_t *packed; /* w's rows interleaved by 8 (q8_x8_pack), or NULL */
};

/* dst row (t0 + t), column r, for t < nt: out[t * stride] (+ bias), stored or added */
static inline void q8_put(const struct q8_job *j, int64_t r, int32_t t0, int nt, const float *out,
                          int stride)
{
    const float b = j->bias ? j->bias[r] : 0.0f;
    for (int t = 0; t < nt; t++) {
        float *y = j->dst + (int64_t)(t0 + t) * j->w->ne1 + r;
        float v = j->bias ? out[t * stride] + b : out[t * stride];
        *y = j->accumulate ? *y + v : v;
    }
}

/* A block of rows (packed: of groups of 8 rows): for each group of up to Q8_TILE tokens,
 * each row (group) of the block meets the tokens in one kernel call; the block's weights
 * stay in cache across the token groups. */
static void q8_rows(void *ctx, int32_t worker, int64_t begin, int64_t end)
{
    const struct q8_job *j = ctx;
    const struct weight *w = j->w;
    const uint8_t *base = j->packed ? j->packed : w->data;
    for (int32_t t0 = 0; t0 < j->n; t0 += Q8_TILE) {
        int nt = j->n - t0 < Q8_TILE ? j->n - t0 : Q8_TILE;
        const uint8_t *a = j->act + (size_t)t0 * j->act_stride;
        for (int64_t r = begin; r < end; r++) {
            float out[8 * Q8_TILE];
            if (j->packed) {
                q8_x8_tile(w->type, base + r * 8 * w->row_bytes, a, j->act_stride, nt, w->ne0, out);
                for (int k = 0; k < 8; k++)
                    q8_put(j, 8 * r + k, t0, nt, out + k, 8);
            } else {
                q8_dot_tile(w->type, base + r * w->row_bytes, a, j->act_stride, nt, w->ne0, out);
                q8_put(j, r, t0, nt, out, 1);
            }
        }
    }
}

struct q8_quant_job {
    const float *src;
    uint8_t *act;
    int64_t ne0;
    size_t stride;
};

static void q8_quant_rows(void *ctx, int32_t worker, int64_t begin, int64_t end)
{
    const struct q8_quant_job *j = ctx;
    for (int64_t t = begin; t < end; t++)
        q8_quantize_row(j->src + t * j->ne0, j->act + (size_t)t * j->stride, j->ne0);
}

static bool q8_usable(const struct weight *w)
{
    return q8_supported(w->type) && w->ne0 % 32 == 0;
}

/* Quantizes n activation rows of w->ne0 values into act. */
static void q8_quantize(struct cpu_pool *pool, uint8_t *act, const float *src, int64_t ne0,
                        int32_t n)
{
    struct q8_quant_job qj = {src, act, ne0, q8_act_bytes(ne0)};
    pool_for(pool, q8_quant_rows, &qj, n, 8);
}

/* Rows per work item. Several token groups: a block of about 64 KiB of weights stays in L2
 * while every group passes. One group (decode, a few sequences): the weights are read once,
 * so the fewest items that still balance the threads (4 per thread), each thread streaming
 * long runs: the prefetch ahead of a run is missing at its start and wasted past its end
 * (TinyLlama Q4_0 fast decode on 2 threads: 16-row items 28 t/s, 4 items per thread 40). */
static int64_t q8_block_rows(const struct weight *w, int32_t n, int32_t threads)
{
    int64_t rb = n <= Q8_TILE ? INT64_MAX : (int64_t)(65536 / (w->row_bytes ? w->row_bytes : 1));
    int64_t fair = stream_rows(w->ne1, threads);
    if (rb > fair) rb = fair;
    return rb < 4 ? 4 : rb;
}

/* Work items of a job: rows, or groups of 8 rows when packed */
static int64_t q8_items(const struct q8_job *j)
{
    return j->packed ? j->w->ne1 / 8 : j->w->ne1;
}
static int64_t q8_chunk(const struct q8_job *j, int32_t threads)
{
    int64_t rows = q8_block_rows(j->w, j->n, threads);
    return j->packed ? (rows / 8 > 1 ? rows / 8 : 1) : rows;
}

static void q8_matmul(struct cpu_pool *pool, float *dst, const struct weight *w, const float *bias,
                      const uint8_t *act, int32_t n, bool accumulate, const uint8_t *packed)
{
    struct q8_job j = {dst, w, bias, act, q8_act_bytes(w->ne0), n, accumulate, packed};
    pool_for(pool, q8_rows, &j, q8_items(&j), q8_chunk(&j, pool_threads(pool)));
}

/* Several products of one input (a run of graph_fuse) as one parallel-for: their items
 * end to end, so the threads meet once after all of them. */
enum { MAX_FUSED = 4 };
struct q8_multi {
    struct q8_job part[MAX_FUSED];
    int64_t first[MAX_FUSED + 1]; /* part p's items are [first[p], first[p + 1]) */
    int n;
};

static void q8_multi_rows(void *ctx, int32_t worker, int64_t begin, int64_t end)
{
    const struct q8_multi *m = ctx;
    for (int p = 0; p < m->n; p++) {
        int64_t b = begin > m->first[p] ? begin : m->first[p];
        int64_t e = end < m->first[p + 1] ? end : m->first[p + 1];
        if (b < e) q8_rows((void *)&m->part[p], worker, b - m->first[p], e - m->first[p]);
    }
}

static void q8_matmul_multi(struct cpu_pool *pool, struct q8_multi *m)
{
    int64_t chunk = 0;
    m->first[0] = 0;
    for (int p = 0; p < m->n; p++) {
        m->first[p + 1] = m->first[p] + q8_items(&m->part[p]);
        int64_t c = q8_chunk(&m->part[p], pool_threads(pool));
        chunk = chunk == 0 || c < chunk ? c : chunk;
    }
    pool_for(pool, q8_multi_rows, m, m->first[m->n], chunk);
}

/* Matrices whose rows are worth interleaving by 8 for the integer kernels */
static bool q8_packable(const struct weight *w)
{
    return q8_usable(w) && q8_x8_supported(w->type) && w->ne1 % 8 == 0 && w->ne1 > 0;
}

struct pack_job {
    const struct weight *w;
    uint8_t *dst;
};

static void pack_groups(void *ctx, int32_t worker, int64_t begin, int64_t end)
{
    const struct pack_job *j = ctx;
    const size_t gb = 8 * j->w->row_bytes;
    for (int64_t g = begin; g < end; g++)
        q8_x8_pack(j->w->type, (const uint8_t *)j->w->data + g * gb, j->dst + g * gb, j->w->ne0, 8);
}

/* Packs w (q8_packable) into dst (its size), in parallel. */
static void q8_pack_weight(struct cpu_pool *pool, const struct weight *w, uint8_t *dst)
{
    struct pack_job j = {w, dst};
    pool_for(pool, pack_groups, &j, w->ne1 / 8, 16);
}

void cpu_matmul_prec(struct cpu_pool *pool, enum precision prec, float *dst, const struct weight *w,
                     const float *bias, const float *src, int32_t n, bool accumulate)
{
    if (n <= 0) return;
    uint8_t *act = NULL;
    if (prec == PRECISION_FAST && q8_usable(w)) act = malloc(q8_act_bytes(w->ne0) * (size_t)n);
    if (!act) { /* exact, or no integer kernel for the type, or out of memory */
        cpu_matmul(pool, dst, w, bias, src, n, accumulate);
        return;
    }
    q8_quantize(pool, act, src, w->ne0, n);
    q8_matmul(pool, dst, w, bias, act, n, accumulate, NULL);
    free(act);
}

void cpu_rope_ext(float *x, int32_t n, int32_t n_heads, int32_t head_dim, int32_t rope_dim,
                  int32_t pos0, float base, enum rope_type type, const float *freq_factors,
                  float freq_scale)
{
    const int32_t half = rope_dim / 2;
    for (int32_t t = 0; t < n; t++) {
        const double pos = ((double)pos0 + t) * freq_scale;
        for (int32_t i = 0; i < half; i++) {
            double theta = pos * pow((double)base, -2.0 * i / rope_dim);
            if (freq_factors) theta /= freq_factors[i];
            float c = (float)cos(theta), s = (float)sin(theta);
            for (int32_t h = 0; h < n_heads; h++) {
                float *v = x + ((int64_t)t * n_heads + h) * head_dim;
                int32_t a = type == ROPE_NEOX ? i : 2 * i;
                int32_t b = type == ROPE_NEOX ? i + half : 2 * i + 1;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

void cpu_rope(float *x, int32_t n, int32_t n_heads, int32_t head_dim, int32_t rope_dim,
              int32_t pos0, float base, enum rope_type type)
{
    cpu_rope_ext(x, n, n_heads, head_dim, rope_dim, pos0, base, type, NULL, 1.0f);
}

enum { ATTN_HEADS = 8 }; /* query heads per work item at most (the scores scratch) */

struct attn_job {
    float *dst;
    const float *q, *kc, *vc;
    int32_t pos0, n_head, n_head_kv, hd, window;
    int32_t heads; /* query heads per item: a divisor of the group, <= ATTN_HEADS */
    float *scores; /* n_threads x ATTN_HEADS x scores_stride */
    int32_t scores_stride;
    /* several sequences: row t is at pos[t] of slot seq[t], whose cache starts
     * seq[t] * seq_stride floats after kc / vc. NULL: one sequence, row t at pos0 + t. */
    const int32_t *pos, *seq;
    int64_t seq_stride;
};

/* Query heads per item: the largest divisor of the GQA group up to ATTN_HEADS that still
 * gives every thread two items (a head's result does not depend on this choice). */
static int32_t attn_heads(int32_t n, int32_t n_head, int32_t n_head_kv, int32_t threads)
{
    const int32_t group = n_head_kv > 0 ? n_head / n_head_kv : 1;
    int32_t best = 1;
    for (int32_t h = 2; h <= group && h <= ATTN_HEADS; h++)
        if (group % h == 0 && (int64_t)n * (n_head / h) >= 2 * (int64_t)threads) best = h;
    return best;
}

static void attention_items(void *ctx, int32_t worker, int64_t begin, int64_t end)
{
    struct attn_job *j = ctx;
    const int32_t group = j->n_head / j->n_head_kv, kv_stride = j->n_head_kv * j->hd;
    const int32_t per_token = j->n_head / j->heads;
    float *scores = j->scores + (int64_t)worker * ATTN_HEADS * j->scores_stride;
    for (int64_t it = begin; it < end; it++) {
        int32_t t = (int32_t)(it / per_token), h = (int32_t)(it % per_token) * j->heads;
        int64_t qoff = ((int64_t)t * j->n_head + h) * j->hd;
        int32_t kvh = h / group, last = j->pos ? j->pos[t] : j->pos0 + t;
        int32_t first = j->window > 0 && last + 1 > j->window ? last + 1 - j->window : 0;
        int64_t kvoff = (int64_t)first * kv_stride + (int64_t)kvh * j->hd;
        if (j->seq) kvoff += j->seq[t] * j->seq_stride;
        cpu_attn_heads(j->dst + qoff, j->q + qoff, j->heads, j->hd, j->kc + kvoff, j->vc + kvoff,
                       last + 1 - first, kv_stride, scores);
    }
}

static void attention_run(struct cpu_pool *pool, struct attn_job *j, int32_t n)
{
    j->heads = attn_heads(n, j->n_head, j->n_head_kv, pool_threads(pool));
    pool_for(pool, attention_items, j, (int64_t)n * (j->n_head / j->heads), 1);
}

int cpu_attention_ext(float *dst, const float *q, const float *kc, const float *vc, int32_t n,
                      int32_t pos0, int32_t n_head, int32_t n_head_kv, int32_t hd, int32_t window)
{
    float *scores = malloc(sizeof(float) * ATTN_HEADS * (size_t)(pos0 + n));
    if (!scores) return -1;
    struct attn_job j = {.dst = dst,
                         .q = q,
                         .kc = kc,
                         .vc = vc,
                         .pos0 = pos0,
                         .n_head = n_head,
                         .n_head_kv = n_head_kv,
                         .hd = hd,
                         .window = window,
                         .scores = scores,
                         .scores_stride = pos0 + n};
    attention_run(NULL, &j, n);
    free(scores);
    return 0;
}

int cpu_attention(float *dst, const float *q, const float *kc, const float *vc, int32_t n,
                  int32_t pos0, int32_t n_head, int32_t n_head_kv, int32_t hd)
{
    return cpu_attention_ext(dst, q, kc, vc, n, pos0, n_head, n_head_kv, hd, 0);
}

void cpu_swiglu(float *gate, const float *up, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* ---- the backend ---- */

struct cpu_backend {
    struct backend base;
    struct graph graph;
    struct cpu_pool *pool;
    float *act[ACT_COUNT];
    float *kcache, *vcache; /* n_seq x n_layer x n_ctx x kv_dim */
    float *scores;          /* n_threads x ATTN_HEADS x n_ctx */
    int32_t *logit_idx;     /* max_batch: rows whose logits forward_batch wants */
    int64_t kv_dim;
    /* fast precision: quantized activations, reused while the same rows feed several
     * products (q, k, v; gate, up) */
    uint8_t *q8buf; /* max_batch rows of the widest matmul input */
    const float *q8_src;
    int32_t q8_rows;
    enum act q8_id;
    int64_t q8_ne0;
    /* per op: its matrix with rows interleaved by 8 (Q4_0, Q8_0, Q4_K, Q6_K), or NULL for
     * the file layout; all in one arena (2 MiB pages where the kernel gives them: fewer
     * TLB misses on the weight stream). Packed on the first fast forward; the file's pages
     * of a packed matrix are then dropped, so that the weights stay one copy in memory. */
    uint8_t **packed;
    uint8_t *arena;
    size_t arena_bytes;
    bool packed_done;
};

static void cpu_destroy(struct backend *b)
{
    struct cpu_backend *cb = (struct cpu_backend *)b;
    cpu_pool_free(cb->pool);
    for (int i = 0; i < ACT_COUNT; i++)
        free(cb->act[i]);
    free(cb->kcache);
    free(cb->vcache);
    free(cb->scores);
    free(cb->q8buf);
    free(cb->packed);
    if (cb->arena) munmap(cb->arena, cb->arena_bytes);
    graph_free(&cb->graph);
    free(cb->logit_idx);
    free(cb);
}

static const float *f32_data(const struct weight *w)
{
    return w ? (const float *)w->data : NULL;
}

/* Where the rows of one run_graph call sit: one sequence (pos == NULL: row t at pos0 + t
 * of slot 0) or any slots (row t at pos[t] of slot seq[t]). Logits are computed for the
 * rows logit_row0 .. + n_logit_rows, or, when logit_idx is set, for the n_logit_rows
 * rows it lists (ascending). */
struct rows {
    int32_t n, pos0;
    const int32_t *pos, *seq;
    int32_t logit_row0, n_logit_rows;
    const int32_t *logit_idx;
};

static int32_t row_pos(const struct rows *r, int32_t t)
{
    return r->pos ? r->pos[t] : r->pos0 + t;
}

/* rope over runs of rows at consecutive positions (all rows for one sequence) */
static void rope_rows(struct cpu_backend *cb, float *x, const struct op *o, const struct rows *r)
{
    const struct model_config *c = &cb->base.model->cfg;
    const int64_t width = (int64_t)o->n_heads * c->head_dim;
    for (int32_t t = 0; t < r->n;) {
        int32_t k = 1;
        while (t + k < r->n && row_pos(r, t + k) == row_pos(r, t) + k)
            k++;
        cpu_rope_ext(x + t * width, k, o->n_heads, c->head_dim, c->rope_dim, row_pos(r, t),
                     c->rope_base, c->rope_type, f32_data(o->w), c->rope_freq_scale);
        t += k;
    }
}

/* Interleaves the rows of the products' Q4_0, Q8_0, Q4_K and Q6_K matrices (once, on the first fast
 * forward). Out of memory leaves them all in the file layout, which works the same. */
static void pack_weights(struct cpu_backend *cb)
{
    cb->packed_done = true;
    const int32_t n_ops = cb->graph.n_ops;
    size_t *at = calloc((size_t)n_ops, sizeof *at); /* offset in the arena + 1; 0: none */
    cb->packed = calloc((size_t)n_ops, sizeof *cb->packed);
    if (!at || !cb->packed) {
        free(at);
        free(cb->packed);
        cb->packed = NULL;
        return;
    }
    size_t total = 0;
    for (int32_t i = 0; i < n_ops; i++) {
        const struct op *o = &cb->graph.ops[i];
        if (o->kind != OP_MATMUL || !q8_packable(o->w)) continue;
        for (int32_t k = 0; k < i && !at[i]; k++) /* ops that share a matrix share its copy */
            if (at[k] && cb->graph.ops[k].w->data == o->w->data &&
                cb->graph.ops[k].w->type == o->w->type && cb->graph.ops[k].w->ne1 == o->w->ne1)
                at[i] = at[k];
        if (at[i]) continue;
        at[i] = total + 1;
        total += ((size_t)o->w->row_bytes * (size_t)o->w->ne1 + 63) / 64 * 64;
    }
    const size_t huge = (size_t)2 << 20;
    void *arena = MAP_FAILED;
    if (total > 0) {
        cb->arena_bytes = (total + huge - 1) / huge * huge;
        arena =
            mmap(NULL, cb->arena_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (arena == MAP_FAILED) { /* nothing to pack, or no memory: the file layout works the same */
        free(at);
        return;
    }
    cb->arena = arena;
#ifdef MADV_HUGEPAGE
    (void)madvise(arena, cb->arena_bytes, MADV_HUGEPAGE);
#endif
    for (int32_t i = 0; i < n_ops; i++) {
        if (!at[i]) continue;
        cb->packed[i] = cb->arena + at[i] - 1;
        bool first = true;
        for (int32_t k = 0; k < i && first; k++)
            first = at[k] != at[i];
        if (!first) continue;
        const struct weight *w = cb->graph.ops[i].w;
        q8_pack_weight(cb->pool, w, cb->packed[i]);
        gguf_release_pages(cb->base.model->gguf, w->data, w->row_bytes * (uint64_t)w->ne1);
    }
    free(at);
}

/* Whether every product of o's fused run takes the integer kernels over the same rows */
static bool fused_q8(const struct op *o)
{
    for (int k = 0; k < o->n_fused; k++)
        if (!q8_usable(o[k].w) || o[k].w->ne0 != o->w->ne0) return false;
    return true;
}

/* Runs one chunk of at most max_batch tokens. */
static void run_graph(struct cpu_backend *cb, const int32_t *tokens, const struct rows *r)
{
    const struct model_config *c = &cb->base.model->cfg;
    const int32_t n = r->n;
    const int64_t seq_stride = (int64_t)c->n_layer * cb->base.n_ctx * cb->kv_dim;
    bool gathered = false;
    const bool fast = cb->base.precision == PRECISION_FAST && cb->q8buf;
    if (fast && !cb->packed_done) pack_weights(cb);
    cb->q8_src = NULL;
    for (int32_t i = 0; i < cb->graph.n_ops; i++) {
        const struct op *o = &cb->graph.ops[i];
        if (o->logits_rows && r->logit_idx && !gathered && o->src < ACT_COUNT) {
            /* the first op on logit rows reads the finished residual stream: bring the
             * wanted rows together at its start (ascending, so no row is overwritten
             * before it is moved) */
            const int64_t w = act_width(c, o->src);
            for (int32_t k = 0; k < r->n_logit_rows; k++)
                if (r->logit_idx[k] != k)
                    memmove(cb->act[o->src] + k * w, cb->act[o->src] + r->logit_idx[k] * w,
                            sizeof(float) * (size_t)w);
            gathered = true;
        }
        int32_t rows = o->logits_rows ? r->n_logit_rows : n;
        int32_t src_row0 = o->logits_rows && !r->logit_idx ? r->logit_row0 : 0;
        float *dst = o->dst < ACT_COUNT ? cb->act[o->dst] : NULL;
        const float *src = o->src < ACT_COUNT ? cb->act[o->src] : NULL;
        if (src && o->logits_rows) src += (int64_t)src_row0 * act_width(c, o->src);
        if (dst && o->logits_rows && o->dst != ACT_LOGITS)
            dst += (int64_t)src_row0 * act_width(c, o->dst);
        switch (o->kind) {
        case OP_EMBED: cpu_embed(dst, o->w, tokens, n); break;
        case OP_RMSNORM:
            cpu_rmsnorm(dst, src, f32_data(o->w), rows * (act_width(c, o->dst) / o->dim), o->dim,
                        c->rms_eps);
            break;
        case OP_MATMUL:
            if (fast && q8_usable(o->w)) {
                if (cb->q8_src != src || cb->q8_rows != rows || cb->q8_ne0 != o->w->ne0) {
                    q8_quantize(cb->pool, cb->q8buf, src, o->w->ne0, rows);
                    cb->q8_src = src;
                    cb->q8_rows = rows;
                    cb->q8_ne0 = o->w->ne0;
                    cb->q8_id = o->src;
                }
                if (o->n_fused > 1 && o->n_fused <= MAX_FUSED && fused_q8(o)) {
                    struct q8_multi mj = {.n = o->n_fused};
                    for (int k = 0; k < o->n_fused; k++) {
                        const struct op *p = o + k;
                        float *pd = cb->act[p->dst];
                        if (p->logits_rows && p->dst != ACT_LOGITS)
                            pd += (int64_t)src_row0 * act_width(c, p->dst);
                        mj.part[k] = (struct q8_job){pd,
                                                     p->w,
                                                     f32_data(p->b),
                                                     cb->q8buf,
                                                     q8_act_bytes(p->w->ne0),
                                                     rows,
                                                     p->accumulate,
                                                     cb->packed ? cb->packed[i + k] : NULL};
                    }
                    q8_matmul_multi(cb->pool, &mj);
                    i += o->n_fused - 1; /* the run's other products are done */
                    break;
                }
                q8_matmul(cb->pool, dst, o->w, f32_data(o->b), cb->q8buf, rows, o->accumulate,
                          cb->packed ? cb->packed[i] : NULL);
            } else {
                cpu_matmul(cb->pool, dst, o->w, f32_data(o->b), src, rows, o->accumulate);
            }
            break;
        case OP_ROPE: rope_rows(cb, dst, o, r); break;
        case OP_KV_STORE: {
            const size_t bytes = sizeof(float) * (size_t)cb->kv_dim;
            for (int32_t t = 0; t < n; t++) {
                int64_t off = (r->seq ? r->seq[t] * seq_stride : 0) +
                              ((int64_t)o->layer * cb->base.n_ctx + row_pos(r, t)) * cb->kv_dim;
                memcpy(cb->kcache + off, cb->act[o->src] + t * cb->kv_dim, bytes);
                memcpy(cb->vcache + off, cb->act[o->src2] + t * cb->kv_dim, bytes);
            }
            break;
        }
        case OP_ATTENTION: {
            int64_t off = (int64_t)o->layer * cb->base.n_ctx * cb->kv_dim;
            struct attn_job j = {.dst = dst,
                                 .q = src,
                                 .kc = cb->kcache + off,
                                 .vc = cb->vcache + off,
                                 .pos0 = r->pos0,
                                 .n_head = c->n_head,
                                 .n_head_kv = c->n_head_kv,
                                 .hd = c->head_dim,
                                 .window = o->window,
                                 .scores = cb->scores,
                                 .scores_stride = cb->base.n_ctx,
                                 .pos = r->pos,
                                 .seq = r->seq,
                                 .seq_stride = seq_stride};
            attention_run(cb->pool, &j, n);
            break;
        }
        case OP_SWIGLU: cpu_swiglu(dst, src, (int64_t)n * c->n_ff); break;
        default: break;
        }
        /* anything but a product may rewrite the quantized rows' source */
        if (o->kind != OP_MATMUL || o->dst == cb->q8_id) cb->q8_src = NULL;
    }
}

static int cpu_forward(struct backend *b, const int32_t *tokens, int32_t n, int32_t pos,
                       bool all_logits, float *logits, char *err, size_t errlen)
{
    struct cpu_backend *cb = (struct cpu_backend *)b;
    const struct model_config *c = &b->model->cfg;
    /* input checked by backend_forward() */
    for (int32_t done = 0; done < n; done += b->max_batch) {
        int32_t m = n - done < b->max_batch ? n - done : b->max_batch;
        bool last_chunk = done + m == n;
        struct rows r = {m, pos + done, NULL, NULL, 0, m, NULL};
        if (!all_logits) {
            r.logit_row0 = last_chunk ? m - 1 : 0;
            r.n_logit_rows = last_chunk ? 1 : 0;
        }
        run_graph(cb, tokens + done, &r);
        if (all_logits) {
            memcpy(logits + (int64_t)done * c->n_vocab, cb->act[ACT_LOGITS],
                   sizeof(float) * (size_t)m * (size_t)c->n_vocab);
        } else if (last_chunk) {
            memcpy(logits, cb->act[ACT_LOGITS], sizeof(float) * (size_t)c->n_vocab);
        }
    }
    return 0;
}

/* Every row of the batch in one run of the graph (input checked by backend_forward_batch):
 * each weight is read once for all slots. */
static int cpu_forward_batch(struct backend *b, const struct backend_batch *bt, float *logits,
                             char *err, size_t errlen)
{
    struct cpu_backend *cb = (struct cpu_backend *)b;
    const int32_t nv = b->model->cfg.n_vocab;
    int32_t k = 0;
    for (int32_t i = 0; bt->logits && i < bt->n; i++)
        if (bt->logits[i]) cb->logit_idx[k++] = i;
    struct rows r = {bt->n, 0, bt->pos, bt->seq, 0, k, cb->logit_idx};
    run_graph(cb, bt->tokens, &r);
    if (k > 0) memcpy(logits, cb->act[ACT_LOGITS], sizeof(float) * (size_t)k * (size_t)nv);
    return 0;
}

static const struct backend_ops cpu_ops = {cpu_forward, cpu_destroy, cpu_forward_batch};

struct backend *cpu_backend_new(const struct model *m, int32_t n_ctx, int32_t n_threads, char *err,
                                size_t errlen)
{
    return cpu_backend_new_seq(m, n_ctx, 1, n_threads, err, errlen);
}

struct backend *cpu_backend_new_seq(const struct model *m, int32_t n_ctx, int32_t n_seq,
                                    int32_t n_threads, char *err, size_t errlen)
{
    const struct model_config *c = &m->cfg;
    struct cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cb->base.ops = &cpu_ops;
    cb->base.model = m;
    cb->base.n_ctx = n_ctx;
    cb->base.max_batch = n_ctx < 256 ? n_ctx : 256;
    cb->base.n_seq = n_seq < 1 ? 1 : n_seq;
    snprintf(cb->base.name, sizeof cb->base.name, "cpu");
    cb->kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    if (model_build_graph(m, &cb->graph, err, errlen) != 0) {
        cpu_destroy(&cb->base);
        return NULL;
    }
    cb->pool = cpu_pool_new(n_threads);
    bool ok = cb->pool != NULL;
    for (int i = 0; ok && i < ACT_COUNT; i++) {
        cb->act[i] = malloc(sizeof(float) * (size_t)cb->base.max_batch * (size_t)act_width(c, i));
        ok = cb->act[i] != NULL;
    }
    size_t kv = (size_t)cb->base.n_seq * (size_t)c->n_layer * (size_t)n_ctx * (size_t)cb->kv_dim;
    if (ok) {
        cb->kcache = calloc(kv, sizeof(float));
        cb->vcache = calloc(kv, sizeof(float));
        cb->scores =
            malloc(sizeof(float) * ATTN_HEADS * (size_t)pool_threads(cb->pool) * (size_t)n_ctx);
        cb->logit_idx = malloc(sizeof(int32_t) * (size_t)cb->base.max_batch);
        ok = cb->kcache && cb->vcache && cb->scores && cb->logit_idx;
    }
    int64_t q8_ne0 = 0; /* the widest input of a product with an integer kernel */
    for (int32_t i = 0; i < cb->graph.n_ops; i++) {
        const struct op *o = &cb->graph.ops[i];
        if (o->kind == OP_MATMUL && q8_usable(o->w) && o->w->ne0 > q8_ne0) q8_ne0 = o->w->ne0;
    }
    if (ok && q8_ne0 > 0) {
        cb->q8buf = malloc(q8_act_bytes(q8_ne0) * (size_t)cb->base.max_batch);
        ok = cb->q8buf != NULL;
    }
    cb->base.has_fast = true;
    if (!ok) {
        snprintf(err, errlen,
                 "out of memory allocating the CPU KV cache (%d slots x %d positions, %.1f MiB)",
                 cb->base.n_seq, n_ctx, 2.0 * (double)kv * 4 / (1 << 20));
        cpu_destroy(&cb->base);
        return NULL;
    }
    snprintf(cb->base.device, sizeof cb->base.device, "CPU, %d threads", pool_threads(cb->pool));
    return &cb->base;
}
