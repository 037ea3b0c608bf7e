/* cpu — the CPU backend: executes the graph with plain float kernels, threaded
 * over rows with a small pthread pool. The kernels below are the reference every
 * other backend is checked against; they are exported for those tests.
 */
#ifndef JOULE_CPU_H
#define JOULE_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "model.h"

struct backend *cpu_backend_new(const struct model *m, int32_t n_ctx, int32_t n_threads, char *err,
                                size_t errlen);

/* n_seq slots, each with its own n_ctx-position KV cache, run together by forward_batch
 * (cpu_backend_new is n_seq = 1) */
struct backend *cpu_backend_new_seq(const struct model *m, int32_t n_ctx, int32_t n_seq,
                                    int32_t n_threads, char *err, size_t errlen);

/* threads: 0 = one per online core */
int32_t cpu_default_threads(void);

struct cpu_pool;
struct cpu_pool *cpu_pool_new(int32_t n_threads);
void cpu_pool_free(struct cpu_pool *p);

/* reference kernels (rows are contiguous, row-major) */
void cpu_embed(float *dst, const struct weight *w, const int32_t *tokens, int32_t n);
void cpu_rmsnorm(float *dst, const float *src, const float *w, int32_t n, int32_t dim, float eps);
/* dst[t][o] (+)= sum_i W[o][i] * src[t][i] + bias[o]; pool may be NULL (single thread) */
void cpu_matmul(struct cpu_pool *pool, float *dst, const struct weight *w, const float *bias,
                const float *src, int32_t n, bool accumulate);
/* cpu_matmul in the given precision: PRECISION_FAST quantizes the n input rows to 8 bits
 * and uses integer kernels where the weight type has them (quant_q8.h), else as exact */
void cpu_matmul_prec(struct cpu_pool *pool, enum precision prec, float *dst, const struct weight *w,
                     const float *bias, const float *src, int32_t n, bool accumulate);
/* rotate n rows of n_heads x head_dim, the first rope_dim dims of each head */
void cpu_rope(float *x, int32_t n, int32_t n_heads, int32_t head_dim, int32_t rope_dim,
              int32_t pos0, float base, enum rope_type type);
/* as cpu_rope, with per-pair frequency divisors (NULL: none, rope_dim/2 entries) and a
 * linear position scale (1: none) */
void cpu_rope_ext(float *x, int32_t n, int32_t n_heads, int32_t head_dim, int32_t rope_dim,
                  int32_t pos0, float base, enum rope_type type, const float *freq_factors,
                  float freq_scale);
/* q: n x (n_head*hd); kc, vc: cache of n_ctx rows x (n_head_kv*hd); dst like q.
 * Row t attends to cache rows 0..pos0+t. 0, or -1 when its scratch cannot be allocated. */
int cpu_attention(float *dst, const float *q, const float *kc, const float *vc, int32_t n,
                  int32_t pos0, int32_t n_head, int32_t n_head_kv, int32_t hd);
/* as cpu_attention, attending only to the last `window` positions when window > 0 */
int cpu_attention_ext(float *dst, const float *q, const float *kc, const float *vc, int32_t n,
                      int32_t pos0, int32_t n_head, int32_t n_head_kv, int32_t hd, int32_t window);
/* One token's attention for n_q query heads that share one KV head (cpu_attn.c): q and
 * out are n_q rows of hd floats; the keys and values n_keys rows, kv_stride floats apart;
 * scores: scratch of n_q * n_keys floats. A head's result does not depend on n_q. */
void cpu_attn_heads(float *out, const float *q, int32_t n_q, int32_t hd, const float *kc,
                    const float *vc, int32_t n_keys, int32_t kv_stride, float *scores);
void cpu_swiglu(float *gate, const float *up, int64_t count);

#endif
