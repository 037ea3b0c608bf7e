/* simd_avx2 — the AVX2 helpers that kernels in more than one CPU module use (quant.c,
 * quant_q8.c, cpu_attn.c). Each is always_inline with the smallest target it needs, so it is
 * inlined into any kernel whose target includes it (AVX2, AVX2 + FMA, AVX-VNNI) and never
 * called on a CPU without AVX2. */
#ifndef JOULE_SIMD_AVX2_H
#define JOULE_SIMD_AVX2_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* The sum of the 8 lanes: high half onto low, then pairs, then the last two. */
static inline __attribute__((always_inline, target("avx2"))) float hsum8(__m256 v)
{
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}
#endif

#endif
