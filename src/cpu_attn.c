/* cpu_attn — one token's attention for the query heads that share one KV head (GQA).
 *
 * The keys and values of a KV head are read once for all of its query heads: with 8
 * query heads per KV head (TinyLlama, Llama 3 70B) a token reads the cache an eighth as
 * often as a head-by-head loop. Per head: scores = K q / sqrt(hd), softmax, out = V^T p.
 *
 * Two forms, chosen by quant_simd_avx2() and hd % 8:
 * - portable C: head by head, the summation order of the reference (a dot per key, then
 *   each V row added in key order);
 * - AVX2: the scores of 8 keys at a time for each head (each key's 8 lanes reduced
 *   together), a vector exp, and V^T p for up to 8 heads at once, 8 dims per lane group.
 * Either way a head's result depends only on its own q, the cache and n_keys, never on
 * how many heads share the call, so batched and one-by-one runs agree exactly. */
#include <math.h>
#include <stdint.h>

#include "cpu.h"
#include "quant.h"
#include "simd_avx2.h"

static float dot_f32(const float *a, const float *b, int32_t n)
{
    return quant_dot(Q_F32, a, b, n);
}

/* y += a x, 8 lanes at a time (each y[d] sums in the order of a plain loop) */
static void axpy(float *restrict y, float a, const float *restrict x, int32_t n)
{
    int32_t d = 0;
    for (; d + 8 <= n; d += 8) {
        y[d] += a * x[d];
        y[d + 1] += a * x[d + 1];
        y[d + 2] += a * x[d + 2];
        y[d + 3] += a * x[d + 3];
        y[d + 4] += a * x[d + 4];
        y[d + 5] += a * x[d + 5];
        y[d + 6] += a * x[d + 6];
        y[d + 7] += a * x[d + 7];
    }
    for (; d < n; d++)
        y[d] += a * x[d];
}

static void head_c(float *out, const float *q, const float *kc, const float *vc, int32_t n_keys,
                   int32_t kv_stride, int32_t hd, float *scores)
{
    const float scale = 1.0f / sqrtf((float)hd);
    float mx = -INFINITY;
    for (int32_t j = 0; j < n_keys; j++) {
        scores[j] = dot_f32(kc + (int64_t)j * kv_stride, q, hd) * scale;
        if (scores[j] > mx) mx = scores[j];
    }
    float sum = 0.0f;
    for (int32_t j = 0; j < n_keys; j++) {
        scores[j] = expf(scores[j] - mx);
        sum += scores[j];
    }
    for (int32_t d = 0; d < hd; d++)
        out[d] = 0.0f;
    for (int32_t j = 0; j < n_keys; j++)
        axpy(out, scores[j] / sum, vc + (int64_t)j * kv_stride, hd);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ATTN_X86 1
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define HELPER static inline __attribute__((always_inline, target("avx2,fma")))

/* r[k] = the sum of the lanes of a[k] */
HELPER __m256 sum8x8(const __m256 a[8])
{
    __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
    __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                         _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* e^x for x <= 0 (the softmax's s - max): 2^n e^r with |r| <= ln2 / 2 and a degree-6
 * polynomial for e^r (relative error about 2e-7); below -87 the result is 2^-126 x e^r
 * at most, which no sum of at least 1 can see */
HELPER __m256 exp_le0(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* scores of one head (hd % 8 == 0) against every key, scaled; returns their maximum */
TARGET_AVX2 static float scores_avx(float *s, const float *q, const float *kc, int32_t n_keys,
                                    int32_t kv_stride, int32_t hd, float scale)
{
    const __m256 sc = _mm256_set1_ps(scale);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int32_t j = 0;
    for (; j + 8 <= n_keys; j += 8) {
        const float *k = kc + (int64_t)j * kv_stride;
        __m256 acc[8];
#pragma GCC unroll 8
        for (int kk = 0; kk < 8; kk++)
            acc[kk] = _mm256_setzero_ps();
        for (int32_t d = 0; d < hd; d += 8) {
            __m256 qv = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
            for (int kk = 0; kk < 8; kk++)
                acc[kk] =
                    _mm256_fmadd_ps(_mm256_loadu_ps(k + (int64_t)kk * kv_stride + d), qv, acc[kk]);
        }
        __m256 v = _mm256_mul_ps(sum8x8(acc), sc);
        _mm256_storeu_ps(s + j, v);
        mx = _mm256_max_ps(mx, v);
    }
    float m = -INFINITY;
    float lanes[8];
    _mm256_storeu_ps(lanes, mx);
    for (int l = 0; l < 8; l++)
        m = lanes[l] > m ? lanes[l] : m;
    for (; j < n_keys; j++) {
        const float *k = kc + (int64_t)j * kv_stride;
        __m256 acc = _mm256_setzero_ps();
        for (int32_t d = 0; d < hd; d += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(k + d), _mm256_loadu_ps(q + d), acc);
        s[j] = hsum8(acc) * scale;
        m = s[j] > m ? s[j] : m;
    }
    return m;
}

/* s[j] = exp(s[j] - mx) / sum */
TARGET_AVX2 static void softmax_avx(float *s, int32_t n, float mx)
{
    const __m256 m = _mm256_set1_ps(mx);
    __m256 sum = _mm256_setzero_ps();
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp_le0(_mm256_sub_ps(_mm256_loadu_ps(s + j), m));
        _mm256_storeu_ps(s + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    float tail = 0.0f;
    for (; j < n; j++) {
        __m256 e = exp_le0(_mm256_set1_ps(s[j] - mx));
        s[j] = _mm_cvtss_f32(_mm256_castps256_ps128(e));
        tail += s[j];
    }
    const __m256 inv = _mm256_set1_ps(1.0f / (hsum8(sum) + tail));
    for (j = 0; j + 8 <= n; j += 8)
        _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), inv));
    for (; j < n; j++)
        s[j] *= _mm_cvtss_f32(_mm256_castps256_ps128(inv));
}

/* out[h] = sum_j p[h][j] v_j for NH heads (p rows n_keys apart, out rows hd apart), U
 * groups of 8 dims at once so that NH x U accumulators are in flight; each lane sums in
 * key order whatever NH and U are */
#define PV_BLOCK(NH, U)                                                                            \
    do {                                                                                           \
        __m256 acc[NH][U];                                                                         \
        _Pragma("GCC unroll 8") for (int h = 0; h < NH; h++)                                       \
            _Pragma("GCC unroll 4") for (int u = 0; u < U; u++) acc[h][u] = _mm256_setzero_ps();   \
        for (int32_t j = 0; j < n_keys; j++) {                                                     \
            const float *v = vc + (int64_t)j * kv_stride + d;                                      \
            __m256 vv[U];                                                                          \
            _Pragma("GCC unroll 4") for (int u = 0; u < U; u++) vv[u] =                            \
                _mm256_loadu_ps(v + 8 * u);                                                        \
            _Pragma("GCC unroll 8") for (int h = 0; h < NH; h++)                                   \
            {                                                                                      \
                __m256 ph = _mm256_broadcast_ss(p + (int64_t)h * n_keys + j);                      \
                _Pragma("GCC unroll 4") for (int u = 0; u < U; u++) acc[h][u] =                    \
                    _mm256_fmadd_ps(ph, vv[u], acc[h][u]);                                         \
            }                                                                                      \
        }                                                                                          \
        for (int h = 0; h < NH; h++)                                                               \
            for (int u = 0; u < U; u++)                                                            \
                _mm256_storeu_ps(out + (int64_t)h * hd + d + 8 * u, acc[h][u]);                    \
        d += 8 * (U);                                                                              \
    } while (0)

#define PV_HEADS(NH, U)                                                                            \
    TARGET_AVX2 static void pv_##NH(float *out, const float *p, const float *vc, int32_t n_keys,   \
                                    int32_t kv_stride, int32_t hd)                                 \
    {                                                                                              \
        int32_t d = 0;                                                                             \
        while (d + 8 * (U) <= hd)                                                                  \
            PV_BLOCK(NH, U);                                                                       \
        while (d < hd)                                                                             \
            PV_BLOCK(NH, 1);                                                                       \
    }
PV_HEADS(8, 1)
PV_HEADS(4, 2)
PV_HEADS(2, 4)
PV_HEADS(1, 4)

TARGET_AVX2 static void heads_avx(float *out, const float *q, int32_t n_q, int32_t hd,
                                  const float *kc, const float *vc, int32_t n_keys,
                                  int32_t kv_stride, float *scores)
{
    const float scale = 1.0f / sqrtf((float)hd);
    for (int32_t h = 0; h < n_q; h++) {
        float *s = scores + (int64_t)h * n_keys;
        softmax_avx(s, n_keys,
                    scores_avx(s, q + (int64_t)h * hd, kc, n_keys, kv_stride, hd, scale));
    }
    int32_t h = 0;
    for (; h + 8 <= n_q; h += 8)
        pv_8(out + (int64_t)h * hd, scores + (int64_t)h * n_keys, vc, n_keys, kv_stride, hd);
    for (; h + 4 <= n_q; h += 4)
        pv_4(out + (int64_t)h * hd, scores + (int64_t)h * n_keys, vc, n_keys, kv_stride, hd);
    for (; h + 2 <= n_q; h += 2)
        pv_2(out + (int64_t)h * hd, scores + (int64_t)h * n_keys, vc, n_keys, kv_stride, hd);
    for (; h < n_q; h++)
        pv_1(out + (int64_t)h * hd, scores + (int64_t)h * n_keys, vc, n_keys, kv_stride, hd);
}
#endif /* ATTN_X86 */

void cpu_attn_heads(float *out, const float *q, int32_t n_q, int32_t hd, const float *kc,
                    const float *vc, int32_t n_keys, int32_t kv_stride, float *scores)
{
#ifdef ATTN_X86
    if (hd % 8 == 0 && quant_simd_avx2()) {
        heads_avx(out, q, n_q, hd, kc, vc, n_keys, kv_stride, scores);
        return;
    }
#endif
    for (int32_t h = 0; h < n_q; h++)
        head_c(out + (int64_t)h * hd, q + (int64_t)h * hd, kc, vc, n_keys, kv_stride, hd, scores);
}
