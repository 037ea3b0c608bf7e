/* quant_k — GGML's 256-weight "K" super-block types Q2_K .. Q6_K: reference
 * dequantization written after the format, simple round-to-nearest quantizers, and the
 * fast kernels. quant.c checks arguments and dispatches here.
 *
 * Fast path: a super-block is 16 groups of 16 weights with w = dl[g] * q - ml[g]; the
 * group scales are decoded once per super-block and the quants unpacked in bulk
 * (portable: into floats, by loops that vectorize; AVX2: 32 at a time as bytes), so one
 * dot kernel and one dequant kernel serve every type. Dequantization does the float
 * operations of the reference and is bit-exact with it; dots differ by rounding only.
 */
#include "quant.h"
#include "quant_impl.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QUANT_X86 1
#include <immintrin.h>
#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

enum { QK = 256 };

static inline void put_f16(uint8_t *p, float f)
{
    uint16_t h = quant_f32_to_f16(f);
    memcpy(p, &h, sizeof h);
}

/* a constant once the type is (quant_block_bytes() lives in another file) */
static inline uint32_t block_bytes(uint32_t type)
{
    return type == Q_Q2_K   ? 84
           : type == Q_Q3_K ? 110
           : type == Q_Q4_K ? 144
           : type == Q_Q5_K ? 176
                            : 210;
}

/* Q3_K: sixteen 6-bit scales in 12 bytes. Low 4 bits: scale j < 8 in the low nibble of
 * byte j, scale j >= 8 in the high nibble of byte j - 8; high 2 bits: bits 2 * (j / 4)
 * of byte 8 + j % 4. */
static int q3_k_scale(const uint8_t *s, int j)
{
    int low = j < 8 ? s[j] & 0x0F : s[j - 8] >> 4;
    int high = s[8 + j % 4] >> (2 * (j / 4)) & 3;
    return low | high << 4;
}

/* Q4_K and Q5_K: eight 6-bit (scale, min) pairs in 12 bytes. Pairs 0..3 are the low 6
 * bits of bytes 0..3 (scale) and 4..7 (min); pairs 4..7 have their low 4 bits in the
 * nibbles of bytes 8..11 and their top 2 bits in the top bits of bytes 0..7. */
static void k4_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* ---- reference dequantization: one super-block of 256 weights ----
 * Weight i sits in half i / 128 of the quants; within a half, the 2-bit (Q2_K, Q3_K)
 * quants of weights 32 * s + l (s = 0..3) share byte l at bit 2 * s, and the 4-bit
 * (Q4_K, Q5_K, Q6_K) quants pair weight l with weight l + 32 (Q4/Q5: per 64) in the
 * low and high nibble. */

/* Q2_K: scales[16] (low nibble scale, high nibble min, per group of 16), qs[64],
 * f16 d, f16 dmin; w = d * scale * q - dmin * min. */
static void dequant_q2_k(const uint8_t *b, float *y)
{
    const uint8_t *sc = b, *qs = b + 16;
    float d = rd_f16(b + 80), dmin = rd_f16(b + 82);
    for (int i = 0; i < QK; i++) {
        int half = i / 128, s = i % 128 / 32, l = i % 32, g = i / 16;
        int q = qs[32 * half + l] >> (2 * s) & 3;
        y[i] = d * (sc[g] & 0x0F) * q - dmin * (sc[g] >> 4);
    }
}

/* Q3_K: hmask[32], qs[64], scales[12], f16 d. The third bit of weight i is bit i / 32
 * of hmask[i % 32]; a clear bit subtracts 4. Scales are stored plus 32;
 * w = d * (scale - 32) * q. */
static void dequant_q3_k(const uint8_t *b, float *y)
{
    const uint8_t *hm = b, *qs = b + 32, *sc = b + 96;
    float d = rd_f16(b + 108);
    for (int i = 0; i < QK; i++) {
        int half = i / 128, s = i % 128 / 32, l = i % 32;
        int q = (qs[32 * half + l] >> (2 * s) & 3) - (hm[l] >> (i / 32) & 1 ? 0 : 4);
        y[i] = d * (q3_k_scale(sc, i / 16) - 32) * q;
    }
}

/* Q4_K: f16 d, f16 dmin, scales[12], qs[128]; 8 groups of 32. Group g takes the low
 * nibbles of qs[32 * (g / 2) ..] when g is even, the high ones when odd;
 * w = d * scale * q - dmin * min. */
static void dequant_q4_k(const uint8_t *b, float *y)
{
    float d = rd_f16(b), dmin = rd_f16(b + 2);
    const uint8_t *sc = b + 4, *qs = b + 16;
    for (int i = 0; i < QK; i++) {
        int g = i / 32, l = i % 32, scale, min;
        k4_scale_min(sc, g, &scale, &min);
        int q = qs[32 * (g / 2) + l] >> (4 * (g % 2)) & 0x0F;
        y[i] = d * scale * q - dmin * min;
    }
}

/* Q5_K: Q4_K plus qh[32] before qs: the fifth bit of weight i is bit i / 32 of
 * qh[i % 32]. */
static void dequant_q5_k(const uint8_t *b, float *y)
{
    float d = rd_f16(b), dmin = rd_f16(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + 48;
    for (int i = 0; i < QK; i++) {
        int g = i / 32, l = i % 32, scale, min;
        k4_scale_min(sc, g, &scale, &min);
        int q = (qs[32 * (g / 2) + l] >> (4 * (g % 2)) & 0x0F) | (qh[l] >> g & 1) << 4;
        y[i] = d * scale * q - dmin * min;
    }
}

/* Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d. In half h,
 * weight 32 * s + l takes nibble s / 2 of ql[64 * h + l + 32 * (s % 2)] and bits 2 * s
 * of qh[32 * h + l]; w = d * scale * (q - 32). */
static void dequant_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = rd_f16(b + 208);
    for (int i = 0; i < QK; i++) {
        int half = i / 128, s = i % 128 / 32, l = i % 32;
        int low = ql[64 * half + l + 32 * (s % 2)] >> (4 * (s / 2)) & 0x0F;
        int high = qh[32 * half + l] >> (2 * s) & 3;
        y[i] = d * sc[i / 16] * ((low | high << 4) - 32);
    }
}

void quant_k_dequant_row_ref(uint32_t type, const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n; i += QK, b += block_bytes(type)) {
        switch (type) {
        case Q_Q2_K: dequant_q2_k(b, dst + i); break;
        case Q_Q3_K: dequant_q3_k(b, dst + i); break;
        case Q_Q4_K: dequant_q4_k(b, dst + i); break;
        case Q_Q5_K: dequant_q5_k(b, dst + i); break;
        case Q_Q6_K: dequant_q6_k(b, dst + i); break;
        default: assert(0);
        }
    }
}

/* ---- fast path: group scales from kscales(), quants from kquants_c() (portable, as
 * floats) or kchunk_avx() (32 signed bytes in one AVX2 register) ---- */

static bool has_min(uint32_t type)
{
    return type == Q_Q2_K || type == Q_Q4_K || type == Q_Q5_K;
}

static inline __attribute__((always_inline)) void kscales(uint32_t type, const uint8_t *b,
                                                          float dl[16], float ml[16])
{
    memset(ml, 0, 16 * sizeof(float));
    switch (type) {
    case Q_Q2_K: {
        float d = rd_f16(b + 80), dmin = rd_f16(b + 82);
        for (int g = 0; g < 16; g++) {
            dl[g] = d * (b[g] & 0x0F);
            ml[g] = dmin * (b[g] >> 4);
        }
        break;
    }
    case Q_Q3_K: { /* q3_k_scale() for all groups, in loops that vectorize */
        const uint8_t *s = b + 96;
        float d = rd_f16(b + 108);
        int v[16];
        for (int g = 0; g < 8; g++) {
            v[g] = s[g] & 0x0F;
            v[g + 8] = s[g] >> 4;
        }
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 4; k++)
                v[4 * j + k] |= (s[8 + k] >> (2 * j) & 3) << 4;
        for (int g = 0; g < 16; g++)
            dl[g] = d * (v[g] - 32);
        break;
    }
    case Q_Q4_K:
    case Q_Q5_K: {
        const uint8_t *s = b + 4; /* k4_scale_min() for all pairs, in loops that vectorize */
        float d = rd_f16(b), dmin = rd_f16(b + 2);
        int sc[8], m[8];
        for (int j = 0; j < 4; j++) {
            sc[j] = s[j] & 63;
            m[j] = s[j + 4] & 63;
            sc[j + 4] = (s[j + 8] & 0x0F) | (s[j] >> 6) << 4;
            m[j + 4] = (s[j + 8] >> 4) | (s[j + 4] >> 6) << 4;
        }
        for (int j = 0; j < 8; j++) {
            dl[2 * j] = dl[2 * j + 1] = d * sc[j];
            ml[2 * j] = ml[2 * j + 1] = dmin * m[j];
        }
        break;
    }
    case Q_Q6_K: {
        float d = rd_f16(b + 208);
        for (int g = 0; g < 16; g++)
            dl[g] = d * (int8_t)b[192 + g];
        break;
    }
    default: assert(0);
    }
}

/* Inlined into each kernel (the type is then a constant and b cannot alias q). */
static inline __attribute__((always_inline)) void
kquants_c(uint32_t type, const uint8_t *restrict b, float *restrict q)
{
    if (type == Q_Q2_K || type == Q_Q3_K) {
        const uint8_t *qs = b + (type == Q_Q2_K ? 16 : 32), *hm = b;
        for (int h = 0; h < 2; h++)
            for (int s = 0; s < 4; s++) {
                float *o = q + 128 * h + 32 * s;
                if (type == Q_Q2_K)
                    for (int l = 0; l < 32; l++)
                        o[l] = (float)(qs[32 * h + l] >> (2 * s) & 3);
                else
                    for (int l = 0; l < 32; l++)
                        o[l] = (float)((qs[32 * h + l] >> (2 * s) & 3) +
                                       4 * (hm[l] >> (4 * h + s) & 1) - 4);
            }
    } else if (type == Q_Q4_K || type == Q_Q5_K) {
        const uint8_t *qh = b + 16, *qs = b + (type == Q_Q4_K ? 16 : 48);
        for (int j = 0; j < 4; j++) {
            float *lo = q + 64 * j, *hi = lo + 32;
            if (type == Q_Q5_K) {
                for (int l = 0; l < 32; l++) {
                    lo[l] = (float)((qs[32 * j + l] & 0x0F) | (qh[l] >> (2 * j) & 1) << 4);
                    hi[l] = (float)((qs[32 * j + l] >> 4) | (qh[l] >> (2 * j + 1) & 1) << 4);
                }
            } else {
                for (int l = 0; l < 32; l++) {
                    lo[l] = (float)(qs[32 * j + l] & 0x0F);
                    hi[l] = (float)(qs[32 * j + l] >> 4);
                }
            }
        }
    } else {
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
            float *o = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                o[l] = (float)(((ql[l] & 0x0F) | (qh[l] & 3) << 4) - 32);
                o[l + 32] = (float)(((ql[l + 32] & 0x0F) | (qh[l] >> 2 & 3) << 4) - 32);
                o[l + 64] = (float)(((ql[l] >> 4) | (qh[l] >> 4 & 3) << 4) - 32);
                o[l + 96] = (float)(((ql[l + 32] >> 4) | (qh[l] >> 6 & 3) << 4) - 32);
            }
        }
    }
}

/* 8 partial sums (vector lanes), two weights of a group per lane; the offsets are
 * summed apart and subtracted at the end. */
static inline __attribute__((always_inline)) float dot_k_c(uint32_t type, const uint8_t *b,
                                                           const float *x, int64_t n)
{
    float acc[8] = {0}, accm[8] = {0}, q[QK], dl[16], ml[16];
    for (int64_t i = 0; i < n; i += QK, b += block_bytes(type), x += QK) {
        kscales(type, b, dl, ml);
        kquants_c(type, b, q);
        for (int g = 0; g < 16; g++) {
            const float *qg = q + 16 * g, *xg = x + 16 * g;
            for (int k = 0; k < 8; k++)
                acc[k] += dl[g] * (qg[k] * xg[k] + qg[k + 8] * xg[k + 8]);
            if (has_min(type))
                for (int k = 0; k < 8; k++)
                    accm[k] += ml[g] * (xg[k] + xg[k + 8]);
        }
    }
    float s = 0.0f;
    for (int k = 0; k < 8; k++)
        s += acc[k] - accm[k];
    return s;
}

static inline __attribute__((always_inline)) void dequant_k_c(uint32_t type, const uint8_t *b,
                                                              float *y, int64_t n)
{
    float q[QK], dl[16], ml[16];
    for (int64_t i = 0; i < n; i += QK, b += block_bytes(type), y += QK) {
        kscales(type, b, dl, ml);
        kquants_c(type, b, q);
        for (int g = 0; g < 16; g++) {
            float out[16];
            for (int k = 0; k < 16; k++)
                out[k] = dl[g] * q[16 * g + k] - ml[g];
            memcpy(y + 16 * g, out, sizeof out);
        }
    }
}

#ifdef QUANT_X86

TARGET_AVX2 static inline __m256i load32(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* each byte of v shifted right by count, keeping the bits in mask */
TARGET_AVX2 static inline __m256i bits_avx(__m256i v, int count, int mask)
{
    return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(count)),
                            _mm256_set1_epi8((char)mask));
}

/* quants 32 c .. 32 c + 31 of a super-block as signed bytes (groups 2 c and 2 c + 1) */
TARGET_AVX2 static inline __m256i kchunk_avx(uint32_t type, const uint8_t *b, int c)
{
    int h = c / 4, s = c % 4;
    switch (type) {
    case Q_Q2_K: return bits_avx(load32(b + 16 + 32 * h), 2 * s, 3);
    case Q_Q3_K: {
        __m256i low = bits_avx(load32(b + 32 + 32 * h), 2 * s, 3);
        __m256i high = bits_avx(load32(b), c, 1); /* hmask bit c */
        return _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 2)),
                               _mm256_set1_epi8(4));
    }
    case Q_Q4_K: return bits_avx(load32(b + 16 + 32 * (c / 2)), 4 * (c % 2), 0x0F);
    case Q_Q5_K: {
        __m256i low = bits_avx(load32(b + 48 + 32 * (c / 2)), 4 * (c % 2), 0x0F);
        return _mm256_or_si256(low, _mm256_slli_epi16(bits_avx(load32(b + 16), c, 1), 4));
    }
    case Q_Q6_K: {
        __m256i low = bits_avx(load32(b + 64 * h + 32 * (s % 2)), 4 * (s / 2), 0x0F);
        __m256i high = bits_avx(load32(b + 128 + 32 * h), 2 * s, 3);
        return _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)),
                               _mm256_set1_epi8(32));
    }
    default: assert(0); return _mm256_setzero_si256();
    }
}

/* the 8 low bytes of v, signed, as floats */
TARGET_AVX2 static inline __m256 i8_ps(__m128i v)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

/* acc += dl * (q . x) and accm += ml * sum(x) over one group: 16 quants, signed bytes */
TARGET_AVX2 static inline __attribute__((always_inline)) void
group_avx(bool mins, __m128i q, const float *x, float dl, float ml, __m256 *acc, __m256 *accm)
{
    __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
    __m256 s = _mm256_mul_ps(i8_ps(q), x0);
    s = _mm256_fmadd_ps(i8_ps(_mm_srli_si128(q, 8)), x1, s);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(dl), s, *acc);
    if (mins) *accm = _mm256_fmadd_ps(_mm256_set1_ps(ml), _mm256_add_ps(x0, x1), *accm);
}

/* Two accumulators each (one per group of a chunk) hide the FMA latency. */
TARGET_AVX2 static inline __attribute__((always_inline)) float
dot_k_avx(uint32_t type, const uint8_t *b, const float *x, int64_t n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, accm0 = acc0, accm1 = acc0;
    float dl[16], ml[16];
    const bool mins = has_min(type);
    for (int64_t i = 0; i < n; i += QK, b += block_bytes(type), x += QK) {
        kscales(type, b, dl, ml);
        for (int c = 0; c < 8; c++) {
            __m256i q = kchunk_avx(type, b, c);
            const float *xc = x + 32 * c;
            group_avx(mins, _mm256_castsi256_si128(q), xc, dl[2 * c], ml[2 * c], &acc0, &accm0);
            group_avx(mins, _mm256_extracti128_si256(q, 1), xc + 16, dl[2 * c + 1], ml[2 * c + 1],
                      &acc1, &accm1);
        }
    }
    __m256 v = _mm256_sub_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(accm0, accm1));
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* multiply, then subtract: the reference's two roundings, no FMA */
TARGET_AVX2 static inline __attribute__((always_inline)) void
dequant_k_avx(uint32_t type, const uint8_t *b, float *y, int64_t n)
{
    float dl[16], ml[16];
    for (int64_t i = 0; i < n; i += QK, b += block_bytes(type), y += QK) {
        kscales(type, b, dl, ml);
        for (int c = 0; c < 8; c++) {
            __m256i q = kchunk_avx(type, b, c);
            for (int k = 0; k < 2; k++) {
                __m128i qk = k ? _mm256_extracti128_si256(q, 1) : _mm256_castsi256_si128(q);
                __m256 d = _mm256_set1_ps(dl[2 * c + k]), m = _mm256_set1_ps(ml[2 * c + k]);
                float *o = y + 32 * c + 16 * k;
                _mm256_storeu_ps(o, _mm256_sub_ps(_mm256_mul_ps(d, i8_ps(qk)), m));
                _mm256_storeu_ps(o + 8,
                                 _mm256_sub_ps(_mm256_mul_ps(d, i8_ps(_mm_srli_si128(qk, 8))), m));
            }
        }
    }
}

/* one instance per type, so that the type is a constant inside */
#define K_AVX2(name, type)                                                                         \
    TARGET_AVX2 static float dot_##name##_avx(const uint8_t *b, const float *x, int64_t n)         \
    {                                                                                              \
        return dot_k_avx(type, b, x, n);                                                           \
    }                                                                                              \
    TARGET_AVX2 static void dequant_##name##_avx(const uint8_t *b, float *y, int64_t n)            \
    {                                                                                              \
        dequant_k_avx(type, b, y, n);                                                              \
    }
K_AVX2(q2_k, Q_Q2_K)
K_AVX2(q3_k, Q_Q3_K)
K_AVX2(q4_k, Q_Q4_K)
K_AVX2(q5_k, Q_Q5_K)
K_AVX2(q6_k, Q_Q6_K)

#endif /* QUANT_X86 */

#define K_C(name, type)                                                                            \
    static float dot_##name##_c(const uint8_t *b, const float *x, int64_t n)                       \
    {                                                                                              \
        return dot_k_c(type, b, x, n);                                                             \
    }                                                                                              \
    static void dequant_##name##_c(const uint8_t *b, float *y, int64_t n)                          \
    {                                                                                              \
        dequant_k_c(type, b, y, n);                                                                \
    }
K_C(q2_k, Q_Q2_K)
K_C(q3_k, Q_Q3_K)
K_C(q4_k, Q_Q4_K)
K_C(q5_k, Q_Q5_K)
K_C(q6_k, Q_Q6_K)

typedef float (*dot_fn)(const uint8_t *, const float *, int64_t);
typedef void (*dequant_fn)(const uint8_t *, float *, int64_t);

static const struct {
    dot_fn dot_c, dot_avx;
    dequant_fn dequant_c, dequant_avx;
} kernels[] = {
#ifdef QUANT_X86
#define K_ENTRY(name)                                                                              \
    {                                                                                              \
        dot_##name##_c, dot_##name##_avx, dequant_##name##_c, dequant_##name##_avx                 \
    }
#else
#define K_ENTRY(name)                                                                              \
    {                                                                                              \
        dot_##name##_c, NULL, dequant_##name##_c, NULL                                             \
    }
#endif
    K_ENTRY(q2_k), K_ENTRY(q3_k), K_ENTRY(q4_k), K_ENTRY(q5_k), K_ENTRY(q6_k),
};

void quant_k_dequant_row(uint32_t type, const void *src, float *dst, int64_t n, bool simd)
{
    assert(type >= Q_Q2_K && type <= Q_Q6_K);
    const size_t k = type - Q_Q2_K;
    (simd && kernels[k].dequant_avx ? kernels[k].dequant_avx : kernels[k].dequant_c)(src, dst, n);
}

float quant_k_dot(uint32_t type, const void *row, const float *x, int64_t n, bool simd)
{
    assert(type >= Q_Q2_K && type <= Q_Q6_K);
    const size_t k = type - Q_Q2_K;
    return (simd && kernels[k].dot_avx ? kernels[k].dot_avx : kernels[k].dot_c)(row, x, n);
}

/* ---- quantizers: plain round-to-nearest with one scale (and min) per group, for tests
 * and tools. GGML's K quantizers search for error-minimizing scales instead, so bytes
 * differ from theirs; the format is the same. ---- */

static int round_clamp(float v, int lo, int hi)
{
    if (!(v == v)) return lo < 0 && hi > 0 ? 0 : lo; /* nan */
    float r = roundf(v);
    return r < (float)lo ? lo : r > (float)hi ? hi : (int)r;
}

/* Groups of gs weights with w = dl * q - ml, q in [0, qmax], a non-negative min ml and
 * scales and mins quantized to [0, smax] against the super-block d and dmin. Returns
 * the quants in q[256] and the scales and mins in sc[], m[] (one per group). */
static void quantize_asym(const float *x, int gs, int qmax, int smax, int *q, int *sc, int *m,
                          float *d_out, float *dmin_out)
{
    const int ng = QK / gs;
    float scale[16], min[16], dmax = 0.0f, mmax = 0.0f;
    for (int g = 0; g < ng; g++) {
        float lo = 0.0f, hi = 0.0f; /* the range always holds 0, so the min is >= 0 */
        for (int j = 0; j < gs; j++) {
            lo = fminf(lo, x[g * gs + j]);
            hi = fmaxf(hi, x[g * gs + j]);
        }
        scale[g] = (hi - lo) / (float)qmax;
        min[g] = -lo;
        dmax = fmaxf(dmax, scale[g]);
        mmax = fmaxf(mmax, min[g]);
    }
    /* store the f16 values first so the small integers are chosen against them */
    float d = quant_f16_to_f32(quant_f32_to_f16(dmax / (float)smax));
    float dmin = quant_f16_to_f32(quant_f32_to_f16(mmax / (float)smax));
    for (int g = 0; g < ng; g++) {
        /* rounding the scale up keeps the top of the range representable */
        sc[g] = d > 0.0f ? round_clamp(ceilf(scale[g] / d), 0, smax) : 0;
        m[g] = dmin > 0.0f ? round_clamp(min[g] / dmin, 0, smax) : 0;
        float dl = d * sc[g], ml = dmin * m[g];
        for (int j = 0; j < gs; j++)
            q[g * gs + j] = dl > 0.0f ? round_clamp((x[g * gs + j] + ml) / dl, 0, qmax) : 0;
    }
    *d_out = d;
    *dmin_out = dmin;
}

/* Groups of 16 with w = dl * q, q in [-qneg, qneg - 1], scales in [-smax - 1, smax]:
 * the value of largest magnitude in a group maps to -qneg, as in Q4_0. */
static void quantize_sym(const float *x, int qneg, int smax, int *q, int *sc, float *d_out)
{
    float scale[16], amax = 0.0f;
    for (int g = 0; g < 16; g++) {
        float big = 0.0f;
        for (int j = 0; j < 16; j++)
            if (fabsf(x[16 * g + j]) > fabsf(big)) big = x[16 * g + j];
        scale[g] = big / (float)-qneg;
        amax = fmaxf(amax, fabsf(scale[g]));
    }
    float d = quant_f16_to_f32(quant_f32_to_f16(amax / (float)smax));
    for (int g = 0; g < 16; g++) {
        sc[g] = d > 0.0f ? round_clamp(scale[g] / d, -smax - 1, smax) : 0;
        float dl = d * sc[g];
        for (int j = 0; j < 16; j++)
            q[16 * g + j] = dl != 0.0f ? round_clamp(x[16 * g + j] / dl, -qneg, qneg - 1) : 0;
    }
    *d_out = d;
}

static void quantize_q2_k(const float *x, uint8_t *b)
{
    int q[QK], sc[16], m[16];
    float d, dmin;
    quantize_asym(x, 16, 3, 15, q, sc, m, &d, &dmin);
    memset(b, 0, 84);
    for (int g = 0; g < 16; g++)
        b[g] = (uint8_t)(sc[g] | m[g] << 4);
    for (int i = 0; i < QK; i++)
        b[16 + 32 * (i / 128) + i % 32] |= (uint8_t)(q[i] << (2 * (i % 128 / 32)));
    put_f16(b + 80, d);
    put_f16(b + 82, dmin);
}

static void quantize_q3_k(const float *x, uint8_t *b)
{
    int q[QK], sc[16];
    float d;
    quantize_sym(x, 4, 31, q, sc, &d);
    memset(b, 0, 110);
    for (int i = 0; i < QK; i++) {
        int u = q[i] + 4; /* 0..7: bit 2 set means "no 4 subtracted" */
        b[32 + 32 * (i / 128) + i % 32] |= (uint8_t)((u & 3) << (2 * (i % 128 / 32)));
        b[i % 32] |= (uint8_t)((u >> 2) << (i / 32));
    }
    for (int j = 0; j < 16; j++) {
        int u = sc[j] + 32;
        b[96 + j % 8] |= (uint8_t)((u & 0x0F) << (j < 8 ? 0 : 4));
        b[96 + 8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
    }
    put_f16(b + 108, d);
}

/* Q4_K (qh == NULL) and Q5_K */
static void quantize_q45_k(const float *x, uint8_t *b, uint8_t *qh, uint8_t *qs, int qmax)
{
    int q[QK], sc[8], m[8];
    float d, dmin;
    quantize_asym(x, 32, qmax, 63, q, sc, m, &d, &dmin);
    put_f16(b, d);
    put_f16(b + 2, dmin);
    uint8_t *s = b + 4;
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 0x0F) | (m[j + 4] & 0x0F) << 4);
    }
    memset(qs, 0, QK / 2);
    if (qh) memset(qh, 0, 32);
    for (int i = 0; i < QK; i++) {
        int g = i / 32, l = i % 32;
        qs[32 * (g / 2) + l] |= (uint8_t)((q[i] & 0x0F) << (4 * (g % 2)));
        if (qh) qh[l] |= (uint8_t)((q[i] >> 4) << g);
    }
}

static void quantize_q6_k(const float *x, uint8_t *b)
{
    int q[QK], sc[16];
    float d;
    quantize_sym(x, 32, 127, q, sc, &d);
    memset(b, 0, 210);
    for (int i = 0; i < QK; i++) {
        int u = q[i] + 32, half = i / 128, s = i % 128 / 32, l = i % 32;
        b[64 * half + l + 32 * (s % 2)] |= (uint8_t)((u & 0x0F) << (4 * (s / 2)));
        b[128 + 32 * half + l] |= (uint8_t)((u >> 4) << (2 * s));
    }
    for (int g = 0; g < 16; g++)
        b[192 + g] = (uint8_t)(int8_t)sc[g];
    put_f16(b + 208, d);
}

void quant_k_quantize_row_ref(uint32_t type, const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n; i += QK, b += block_bytes(type)) {
        switch (type) {
        case Q_Q2_K: quantize_q2_k(src + i, b); break;
        case Q_Q3_K: quantize_q3_k(src + i, b); break;
        case Q_Q4_K: quantize_q45_k(src + i, b, NULL, b + 16, 15); break;
        case Q_Q5_K: quantize_q45_k(src + i, b, b + 16, b + 48, 31); break;
        case Q_Q6_K: quantize_q6_k(src + i, b); break;
        default: assert(0);
        }
    }
}
