/* quant_q8 — 8-bit activations and integer dot products (see quant_q8.h).
 *
 * In order: activation quantization; the portable decomposition of each weight type into
 * (u, S, M) per 32 weights; the AVX2 / AVX-VNNI kernels (one instance per type, tile
 * width and instruction set, through target attributes, chosen at run time); dispatch.
 *
 * The kernels walk a row in "super-blocks" (256 weights for the K types, 32 for the
 * others) whose scales are decoded once, then in chunks of 32 weights. The offsets M
 * are gathered per 16 weights into an array and applied at the end of each segment as
 * one float dot product with the activation's s[] per token.
 */
#include "quant_q8.h"

#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "quant.h"
#include "quant_impl.h"
#include "simd_avx2.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define Q8_X86 1
#include <cpuid.h>
#include <immintrin.h>
#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TARGET_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

bool q8_supported(uint32_t type)
{
    switch (type) {
    case Q_Q4_0:
    case Q_Q4_1:
    case Q_Q5_0:
    case Q_Q5_1:
    case Q_Q8_0:
    case Q_Q2_K:
    case Q_Q3_K:
    case Q_Q4_K:
    case Q_Q5_K:
    case Q_Q6_K: return true;
    default: return false;
    }
}

size_t q8_act_bytes(int64_t n)
{
    return (size_t)n + (size_t)(n / 32) * sizeof(float) + (size_t)(n / 16) * sizeof(float);
}

static inline float *act_d(const void *act, int64_t n)
{
    return (float *)(void *)((uint8_t *)(uintptr_t)act + n);
}
static inline float *act_s(const void *act, int64_t n)
{
    return act_d(act, n) + n / 32;
}

void q8_quantize_row(const float *x, void *dst, int64_t n)
{
    int8_t *q = dst;
    float *d = act_d(dst, n), *s = act_s(dst, n);
    for (int64_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0.0f;
        for (int l = 0; l < 32; l++)
            amax = fmaxf(amax, fabsf(xb[l]));
        float db = amax / 127.0f, inv = db > 0.0f ? 1.0f / db : 0.0f;
        int sum[2] = {0, 0};
        for (int l = 0; l < 32; l++) {
            int v = (int)lrintf(xb[l] * inv);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            q[32 * b + l] = (int8_t)v;
            sum[l / 16] += v;
        }
        d[b] = db;
        s[2 * b] = db * (float)sum[0];
        s[2 * b + 1] = db * (float)sum[1];
    }
}

void q8_dequant_act(const void *act, float *y, int64_t n)
{
    const int8_t *q = act;
    const float *d = act_d(act, n);
    for (int64_t i = 0; i < n; i++)
        y[i] = d[i / 32] * (float)q[i];
}

/* ---- the decomposition, portable ---- */

/* Bytes and chunks of 32 per super-block. */
static inline int sb_bytes(uint32_t type)
{
    switch (type) {
    case Q_Q4_0: return 18;
    case Q_Q4_1: return 20;
    case Q_Q5_0: return 22;
    case Q_Q5_1: return 24;
    case Q_Q8_0: return 34;
    case Q_Q2_K: return 84;
    case Q_Q3_K: return 110;
    case Q_Q4_K: return 144;
    case Q_Q5_K: return 176;
    default: return 210; /* Q6_K */
    }
}
static inline int sb_chunks(uint32_t type)
{
    return type >= Q_Q2_K ? 8 : 1;
}

/* Q4_K / Q5_K: (scale, min) pair j of the 12 packed bytes */
static inline void k4_pair(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* Q3_K: 6-bit scale j (stored + 32) */
static inline int q3_scale(const uint8_t *s, int j)
{
    int low = j < 8 ? s[j] & 0x0F : s[j - 8] >> 4;
    int high = s[8 + j % 4] >> (2 * (j / 4)) & 3;
    return low | high << 4;
}

/* S and M of the 2 * sb_chunks() halves of a super-block; F16 reads an f16 field (a
 * macro so that the AVX2 kernels convert with F16C) */
#define SB_SCALES_BODY(F16)                                                                        \
                                                                                                   \
    switch (type) {                                                                                \
    case Q_Q4_0:                                                                                   \
    case Q_Q5_0: {                                                                                 \
        float d = F16(b), m = (type == Q_Q4_0 ? -8.0f : -16.0f) * d;                               \
        S[0] = S[1] = d;                                                                           \
        M[0] = M[1] = m;                                                                           \
        break;                                                                                     \
    }                                                                                              \
    case Q_Q4_1:                                                                                   \
    case Q_Q5_1:                                                                                   \
        S[0] = S[1] = F16(b);                                                                      \
        M[0] = M[1] = F16(b + 2);                                                                  \
        break;                                                                                     \
    case Q_Q8_0:                                                                                   \
        S[0] = S[1] = F16(b);                                                                      \
        M[0] = M[1] = 0.0f;                                                                        \
        break;                                                                                     \
    case Q_Q2_K: {                                                                                 \
        float d = F16(b + 80), dmin = F16(b + 82);                                                 \
        for (int g = 0; g < 16; g++) {                                                             \
            S[g] = d * (float)(b[g] & 0x0F);                                                       \
            M[g] = -dmin * (float)(b[g] >> 4);                                                     \
        }                                                                                          \
        break;                                                                                     \
    }                                                                                              \
    case Q_Q3_K: {                                                                                 \
        float d = F16(b + 108);                                                                    \
        for (int g = 0; g < 16; g++) {                                                             \
            S[g] = d * (float)(q3_scale(b + 96, g) - 32);                                          \
            M[g] = -4.0f * S[g];                                                                   \
        }                                                                                          \
        break;                                                                                     \
    }                                                                                              \
    case Q_Q4_K:                                                                                   \
    case Q_Q5_K: {                                                                                 \
        float d = F16(b), dmin = F16(b + 2);                                                       \
        for (int j = 0; j < 8; j++) {                                                              \
            int sc, m;                                                                             \
            k4_pair(b + 4, j, &sc, &m);                                                            \
            S[2 * j] = S[2 * j + 1] = d * (float)sc;                                               \
            M[2 * j] = M[2 * j + 1] = -dmin * (float)m;                                            \
        }                                                                                          \
        break;                                                                                     \
    }                                                                                              \
    default: { /* Q6_K */                                                                          \
        float d = F16(b + 208);                                                                    \
        for (int g = 0; g < 16; g++) {                                                             \
            S[g] = d * (float)(int8_t)b[192 + g];                                                  \
            M[g] = -32.0f * S[g];                                                                  \
        }                                                                                          \
        break;                                                                                     \
    }                                                                                              \
    }                                                                                              \
    do {                                                                                           \
    } while (0)

static ALWAYS_INLINE void sb_scales(uint32_t type, const uint8_t *b, float *S, float *M)
{
    SB_SCALES_BODY(rd_f16);
}

/* the 32 unsigned quants of chunk c of super-block b (Q8_0: signed, as stored) */
static ALWAYS_INLINE void chunk_c(uint32_t type, const uint8_t *b, int c, int u[32])
{
    int h = c / 4, s = c % 4;
    switch (type) {
    case Q_Q4_0:
    case Q_Q4_1: {
        const uint8_t *qs = b + (type == Q_Q4_0 ? 2 : 4);
        for (int l = 0; l < 16; l++) {
            u[l] = qs[l] & 0x0F;
            u[l + 16] = qs[l] >> 4;
        }
        break;
    }
    case Q_Q5_0:
    case Q_Q5_1: {
        uint32_t qh = rd32(b + (type == Q_Q5_0 ? 2 : 4));
        const uint8_t *qs = b + (type == Q_Q5_0 ? 6 : 8);
        for (int l = 0; l < 16; l++) {
            u[l] = (qs[l] & 0x0F) | (int)(qh >> l & 1) << 4;
            u[l + 16] = (qs[l] >> 4) | (int)(qh >> (l + 16) & 1) << 4;
        }
        break;
    }
    case Q_Q8_0:
        for (int l = 0; l < 32; l++)
            u[l] = (int8_t)b[2 + l];
        break;
    case Q_Q2_K:
        for (int l = 0; l < 32; l++)
            u[l] = b[16 + 32 * h + l] >> (2 * s) & 3;
        break;
    case Q_Q3_K:
        for (int l = 0; l < 32; l++)
            u[l] = (b[32 + 32 * h + l] >> (2 * s) & 3) | (b[l] >> c & 1) << 2;
        break;
    case Q_Q4_K:
        for (int l = 0; l < 32; l++)
            u[l] = b[16 + 32 * (c / 2) + l] >> (4 * (c % 2)) & 0x0F;
        break;
    case Q_Q5_K:
        for (int l = 0; l < 32; l++)
            u[l] = (b[48 + 32 * (c / 2) + l] >> (4 * (c % 2)) & 0x0F) | (b[16 + l] >> c & 1) << 4;
        break;
    default: /* Q6_K */
        for (int l = 0; l < 32; l++) {
            int low = b[64 * h + l + 32 * (s % 2)] >> (4 * (s / 2)) & 0x0F;
            int high = b[128 + 32 * h + l] >> (2 * s) & 3;
            u[l] = low | high << 4;
        }
        break;
    }
}

/* one super-block b against the activation's chunks from c0 (q, d, s: the whole row's) */
static float sb_dot_c(uint32_t type, const uint8_t *b, const int8_t *q, const float *d,
                      const float *s, int64_t c0)
{
    float S[16], M[16], acc = 0.0f;
    sb_scales(type, b, S, M);
    for (int c = 0; c < sb_chunks(type); c++) {
        int u[32], sum[2] = {0, 0};
        chunk_c(type, b, c, u);
        const int8_t *x = q + 32 * (c0 + c);
        for (int l = 0; l < 32; l++)
            sum[l / 16] += u[l] * x[l];
        acc += d[c0 + c] * (S[2 * c] * (float)sum[0] + S[2 * c + 1] * (float)sum[1]) +
               M[2 * c] * s[2 * (c0 + c)] + M[2 * c + 1] * s[2 * (c0 + c) + 1];
    }
    return acc;
}

float q8_dot_c(uint32_t type, const void *row, const void *act, int64_t n)
{
    assert(q8_supported(type));
    const uint8_t *b = row;
    const float *d = act_d(act, n), *s = act_s(act, n);
    float acc = 0.0f;
    for (int64_t c0 = 0; c0 < n / 32; c0 += sb_chunks(type), b += sb_bytes(type))
        acc += sb_dot_c(type, b, act, d, s, c0);
    return acc;
}

/* ---- rows interleaved by 8 ----
 * A group of 8 rows is stored super-block column by super-block column. For each column:
 * the rows' f16 header fields (Q4_0, Q8_0: d; Q4_K: d, then dmin), field f of row r at
 * 16 * f + 2 * r; then the rest of each row's block in 4-byte pieces, piece k of row r at
 * 16 * fields + 32 * k + 4 * r, so that one 32-byte load holds piece k of every row (lane
 * r = row r). Q4_0: 4 pieces of qs (piece k: low nibbles weights 4k.., high 16 + 4k..);
 * Q8_0: 8 pieces (weights 4k..); Q4_K: 3 pieces of packed scales and mins, then 32 of qs.
 * A column is 8 blocks' bytes: the packed matrix has the file's size. */

bool q8_x8_supported(uint32_t type)
{
    return type == Q_Q4_0 || type == Q_Q8_0 || type == Q_Q4_K || type == Q_Q6_K;
}

/* the block's f16 fields: how many, and where they start (Q6_K's d is its last 2 bytes) */
static inline int x8_fields(uint32_t type)
{
    return type == Q_Q4_K ? 2 : 1;
}
static inline int x8_field0(uint32_t type)
{
    return type == Q_Q6_K ? 208 : 0;
}

/* where byte j of row r's block lies in a packed column */
static inline int x8_at(uint32_t type, int r, int j)
{
    const int h = 2 * x8_fields(type), f0 = x8_field0(type);
    if (j >= f0 && j < f0 + h) return 16 * ((j - f0) / 2) + 2 * r + (j - f0) % 2;
    const int p = j < f0 ? j : j - h; /* byte p of the pieces */
    return 8 * h + 32 * (p / 4) + 4 * r + p % 4;
}

void q8_x8_pack(uint32_t type, const void *src, void *dst, int64_t n, int64_t n_rows)
{
    assert(q8_x8_supported(type) && n % (32 * sb_chunks(type)) == 0 && n_rows % 8 == 0);
    const int bytes = sb_bytes(type), h = 2 * x8_fields(type), f0 = x8_field0(type);
    const int64_t nb = n / (32 * sb_chunks(type)), row_bytes = nb * bytes;
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (int64_t g = 0; g < n_rows; g += 8)
        for (int64_t b = 0; b < nb; b++, d += 8 * bytes)
            for (int r = 0; r < 8; r++) {
                const uint8_t *blk = s + (g + r) * row_bytes + b * bytes;
                for (int j = f0; j < f0 + h; j += 2)
                    memcpy(d + x8_at(type, r, j), blk + j, 2);
                for (int p = 0; p < bytes - h; p += 4) { /* f0 and h keep pieces whole */
                    const int j = p < f0 ? p : p + h;
                    memcpy(d + x8_at(type, r, j), blk + j, 4);
                }
            }
}

/* Portable C of the x8 kernels: each row's block put back together, then sb_dot_c. */
static void x8_tile_c(uint32_t type, const uint8_t *group, const void *act, size_t act_stride,
                      int n_tok, int64_t n, float *out)
{
    const int bytes = sb_bytes(type), cps = sb_chunks(type);
    for (int t = 0; t < n_tok; t++) {
        const uint8_t *a = (const uint8_t *)act + (size_t)t * act_stride;
        for (int r = 0; r < 8; r++) {
            float acc = 0.0f;
            for (int64_t c0 = 0; c0 < n / 32; c0 += cps) {
                const uint8_t *col = group + c0 / cps * 8 * bytes;
                uint8_t blk[256];
                for (int j = 0; j < bytes; j++)
                    blk[j] = col[x8_at(type, r, j)];
                acc += sb_dot_c(type, blk, (const int8_t *)a, act_d(a, n), act_s(a, n), c0);
            }
            out[8 * t + r] = acc;
        }
    }
}

/* ---- AVX2 / AVX-VNNI ---- */
#ifdef Q8_X86

/* Each kernel is instantiated under TARGET_AVX2 and TARGET_VNNI; the helpers are
 * always_inline so that they take the target of the kernel they are inlined into. */
#define HELPER static inline __attribute__((always_inline, target("avx2,fma,f16c")))

HELPER __m256i load32(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* each byte of v shifted right by count, keeping the bits in mask */
HELPER __m256i bits(__m256i v, int count, int mask)
{
    return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(count)),
                            _mm256_set1_epi8((char)mask));
}

/* the 32 quants of chunk c (elements in order, low lane 0..15), as chunk_c() */
HELPER __m256i chunk_avx(uint32_t type, const uint8_t *b, int c)
{
    int h = c / 4, s = c % 4;
    switch (type) {
    case Q_Q4_0:
    case Q_Q4_1:
    case Q_Q5_0:
    case Q_Q5_1: {
        int at = type == Q_Q4_0 ? 2 : type == Q_Q4_1 ? 4 : type == Q_Q5_0 ? 6 : 8;
        __m128i q = _mm_loadu_si128((const __m128i *)(const void *)(b + at));
        __m256i u =
            _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
        if (type == Q_Q5_0 || type == Q_Q5_1)
            u = _mm256_or_si256(u, fifth_bits(rd32(b + (type == Q_Q5_0 ? 2 : 4))));
        return u;
    }
    case Q_Q8_0: return load32(b + 2);
    case Q_Q2_K: return bits(load32(b + 16 + 32 * h), 2 * s, 3);
    case Q_Q3_K:
        return _mm256_or_si256(bits(load32(b + 32 + 32 * h), 2 * s, 3),
                               _mm256_slli_epi16(bits(load32(b), c, 1), 2));
    case Q_Q4_K: return bits(load32(b + 16 + 32 * (c / 2)), 4 * (c % 2), 0x0F);
    case Q_Q5_K:
        return _mm256_or_si256(bits(load32(b + 48 + 32 * (c / 2)), 4 * (c % 2), 0x0F),
                               _mm256_slli_epi16(bits(load32(b + 16), c, 1), 4));
    default: /* Q6_K */
        return _mm256_or_si256(bits(load32(b + 64 * h + 32 * (s % 2)), 4 * (s / 2), 0x0F),
                               _mm256_slli_epi16(bits(load32(b + 128 + 32 * h), 2 * s, 3), 4));
    }
}

HELPER float f16_hw(const uint8_t *p)
{
    return _cvtsh_ss(rd16(p));
}

/* 8 bytes (unsigned or signed) as 8 floats */
HELPER __m256 u8x8_ps(uint64_t v)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)v)));
}
HELPER __m256 i8x8_ps(uint64_t v)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128((long long)v)));
}

/* v0..v7 stored as v0 v0 v1 v1 .. v7 v7 */
HELPER void store_pairs(float *dst, __m256 v)
{
    __m256 lo = _mm256_unpacklo_ps(v, v), hi = _mm256_unpackhi_ps(v, v);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

/* as sb_scales(), the packed K scales unpacked by word operations and converted 8 at a time */
HELPER void sb_scales_avx(uint32_t type, const uint8_t *b, float *S, float *M)
{
    if (type == Q_Q4_K || type == Q_Q5_K) {
        uint32_t u0 = rd32(b + 4), u1 = rd32(b + 8), u2 = rd32(b + 12);
        uint64_t sc = (uint64_t)(u0 & 0x3F3F3F3Fu) |
                      (uint64_t)((u2 & 0x0F0F0F0Fu) | (u0 >> 6 & 0x03030303u) << 4) << 32;
        uint64_t mn = (uint64_t)(u1 & 0x3F3F3F3Fu) |
                      (uint64_t)((u2 >> 4 & 0x0F0F0F0Fu) | (u1 >> 6 & 0x03030303u) << 4) << 32;
        store_pairs(S, _mm256_mul_ps(_mm256_set1_ps(f16_hw(b)), u8x8_ps(sc)));
        store_pairs(M, _mm256_mul_ps(_mm256_set1_ps(-f16_hw(b + 2)), u8x8_ps(mn)));
    } else if (type == Q_Q6_K) {
        __m256 d = _mm256_set1_ps(f16_hw(b + 208)), m32 = _mm256_set1_ps(-32.0f);
        for (int k = 0; k < 2; k++) {
            uint64_t v;
            memcpy(&v, b + 192 + 8 * k, 8);
            __m256 sv = _mm256_mul_ps(d, i8x8_ps(v));
            _mm256_storeu_ps(S + 8 * k, sv);
            _mm256_storeu_ps(M + 8 * k, _mm256_mul_ps(m32, sv));
        }
    } else if (type == Q_Q2_K) {
        __m256 d = _mm256_set1_ps(f16_hw(b + 80)), dm = _mm256_set1_ps(-f16_hw(b + 82));
        for (int k = 0; k < 2; k++) {
            uint64_t v;
            memcpy(&v, b + 8 * k, 8);
            _mm256_storeu_ps(S + 8 * k, _mm256_mul_ps(d, u8x8_ps(v & 0x0F0F0F0F0F0F0F0Full)));
            _mm256_storeu_ps(M + 8 * k, _mm256_mul_ps(dm, u8x8_ps(v >> 4 & 0x0F0F0F0F0F0F0F0Full)));
        }
    } else {
        SB_SCALES_BODY(f16_hw);
    }
}

/* macc[t] += dot(M, s_t) over n (even) values for T activation rows: M is loaded once
 * for all tokens, and the tokens' sums are independent chains */
HELPER void mins_dot(const float *M, const uint8_t *act, size_t act_stride, int64_t n_act,
                     int64_t off, int n, int T, float *macc)
{
    __m256 a[Q8_TILE][2];
    for (int t = 0; t < T; t++)
        a[t][0] = a[t][1] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 m0 = _mm256_loadu_ps(M + i), m1 = _mm256_loadu_ps(M + i + 8);
        for (int t = 0; t < T; t++) {
            const float *s = act_s(act + (size_t)t * act_stride, n_act) + off + i;
            a[t][0] = _mm256_fmadd_ps(m0, _mm256_loadu_ps(s), a[t][0]);
            a[t][1] = _mm256_fmadd_ps(m1, _mm256_loadu_ps(s + 8), a[t][1]);
        }
    }
    for (int t = 0; t < T; t++) {
        const float *s = act_s(act + (size_t)t * act_stride, n_act) + off;
        float tail = 0.0f;
        for (int k = i; k < n; k++)
            tail += M[k] * s[k];
        macc[t] += hsum8(_mm256_add_ps(a[t][0], a[t][1])) + tail;
    }
}

enum { SEG = 4096 }; /* weights per segment: M[] of one segment lives on the stack */

/* Software prefetch of the weights PF_BYTES ahead: one row is read once per token group,
 * a stream the hardware prefetcher alone does not keep ahead of on decode (T = 1). */
enum { PF_BYTES = 1024 };
/* The x8 kernels stream one interleaved group per thread, faster than a row: 4 KiB ahead
 * (measured on Q4_0 decode: 24-27 t/s at 1 KiB, 25-26 without, 33 at 4 KiB) */
enum { X8_PF_BYTES = 4096 };
#define PREFETCH_AHEAD(p, step)                                                                    \
    do {                                                                                           \
        for (int pf_ = 0; pf_ < (step); pf_ += 64)                                                 \
            _mm_prefetch((const char *)(p) + PF_BYTES + pf_, _MM_HINT_T0);                         \
    } while (0)

#define VNNI_DOT(acc, u, x) _mm256_dpbusd_avx_epi32(acc, u, x)

/* The kernel: T tokens, `vnni` selects vpdpbusd; all constant in each instance. */
/* One chunk of 32 weights (quants of chunk c at bp, activation chunk cc, half scales S0,
 * S1) against T tokens, into accumulator set AI. */
#define CHUNK_STEP(type, T, vnni, bp, c, cc, S0, S1, AI)                                           \
    do {                                                                                           \
        __m256i u = chunk_avx(type, bp, c), su = u;                                                \
        if (type == Q_Q8_0) su = _mm256_sign_epi8(u, u);                                           \
        const __m256 Sv = _mm256_set_m128(_mm_set1_ps(S1), _mm_set1_ps(S0));                       \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                        \
        {                                                                                          \
            const uint8_t *a = (const uint8_t *)act + (size_t)t * act_stride;                      \
            __m256i x = load32(a + 32 * (cc));                                                     \
            if (type == Q_Q8_0) x = _mm256_sign_epi8(x, u);                                        \
            __m256i i32;                                                                           \
            if (vnni)                                                                              \
                i32 = VNNI_DOT(_mm256_setzero_si256(), su, x);                                     \
            else                                                                                   \
                i32 = _mm256_madd_epi16(_mm256_maddubs_epi16(su, x), ones);                        \
            __m256 sd = _mm256_mul_ps(Sv, _mm256_set1_ps(act_d(a, n)[cc]));                        \
            acc[t][AI] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), sd, acc[t][AI]);                 \
        }                                                                                          \
    } while (0)

/* The kernel: T tokens, `vnni` selects vpdpbusd; all constant in each instance. One token
 * alternates between two accumulators (the FMA latency); several tokens interleave. */
#define TILE_BODY(type, T, vnni)                                                                   \
    do {                                                                                           \
        const uint8_t *b = row;                                                                    \
        const int bytes = sb_bytes(type);                                                          \
        const bool has_m = type != Q_Q8_0;                                                         \
        const __m256i ones = _mm256_set1_epi16(1);                                                 \
        __m256 acc[T][2];                                                                          \
        float macc[T];                                                                             \
        for (int t = 0; t < T; t++) {                                                              \
            acc[t][0] = acc[t][1] = _mm256_setzero_ps();                                           \
            macc[t] = 0.0f;                                                                        \
        }                                                                                          \
        for (int64_t seg = 0; seg < n; seg += SEG) {                                               \
            const int64_t seg_end = seg + SEG < n ? seg + SEG : n, cend = seg_end / 32;            \
            float Mseg[SEG / 16], S[16], M[16];                                                    \
            int64_t c0 = seg / 32;                                                                 \
            if (sb_chunks(type) == 8) {                                                            \
                for (; c0 < cend; c0 += 8, b += bytes) {                                           \
                    PREFETCH_AHEAD(b, bytes);                                                      \
                    sb_scales_avx(type, b, S, M);                                                  \
                    memcpy(Mseg + 2 * (c0 - seg / 32), M, sizeof M);                               \
                    _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++) CHUNK_STEP(                \
                        type, T, vnni, b, c, c0 + c, S[2 * c], S[2 * c + 1], T == 1 ? c & 1 : 0);  \
                }                                                                                  \
            } else {                                                                               \
                for (; c0 + 4 <= cend; c0 += 4, b += 4 * bytes) {                                  \
                    PREFETCH_AHEAD(b, 4 * bytes);                                                  \
                    _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)                            \
                    {                                                                              \
                        sb_scales_avx(type, b + k * bytes, S, M);                                  \
                        if (has_m) {                                                               \
                            Mseg[2 * (c0 + k - seg / 32)] = M[0];                                  \
                            Mseg[2 * (c0 + k - seg / 32) + 1] = M[1];                              \
                        }                                                                          \
                        CHUNK_STEP(type, T, vnni, b + k * bytes, 0, c0 + k, S[0], S[1],            \
                                   T == 1 ? k & 1 : 0);                                            \
                    }                                                                              \
                }                                                                                  \
                for (; c0 < cend; c0++, b += bytes) {                                              \
                    sb_scales_avx(type, b, S, M);                                                  \
                    if (has_m) {                                                                   \
                        Mseg[2 * (c0 - seg / 32)] = M[0];                                          \
                        Mseg[2 * (c0 - seg / 32) + 1] = M[1];                                      \
                    }                                                                              \
                    CHUNK_STEP(type, T, vnni, b, 0, c0, S[0], S[1], 0);                            \
                }                                                                                  \
            }                                                                                      \
            if (has_m)                                                                             \
                mins_dot(Mseg, (const uint8_t *)act, act_stride, n, seg / 16,                      \
                         (int)((seg_end - seg) / 16), T, macc);                                    \
        }                                                                                          \
        for (int t = 0; t < T; t++)                                                                \
            out[t] = hsum8(_mm256_add_ps(acc[t][0], acc[t][1])) + macc[t];                         \
    } while (0)

/* One kernel instance: fn, under target, running body */
#define INSTANCE(fn, target, body)                                                                 \
    target static void fn(const uint8_t *row, const void *act, size_t act_stride, int64_t n,       \
                          float *out)                                                              \
    {                                                                                              \
        body;                                                                                      \
    }

#define KERNELS(name, type)                                                                        \
    INSTANCE(tile8_##name##_avx2, TARGET_AVX2, TILE_BODY(type, 8, false))                          \
    INSTANCE(tile4_##name##_avx2, TARGET_AVX2, TILE_BODY(type, 4, false))                          \
    INSTANCE(tile1_##name##_avx2, TARGET_AVX2, TILE_BODY(type, 1, false))                          \
    INSTANCE(tile8_##name##_vnni, TARGET_VNNI, TILE_BODY(type, 8, true))                           \
    INSTANCE(tile4_##name##_vnni, TARGET_VNNI, TILE_BODY(type, 4, true))                           \
    INSTANCE(tile1_##name##_vnni, TARGET_VNNI, TILE_BODY(type, 1, true))

KERNELS(q4_0, Q_Q4_0)
KERNELS(q4_1, Q_Q4_1)
KERNELS(q5_0, Q_Q5_0)
KERNELS(q5_1, Q_Q5_1)
KERNELS(q8_0, Q_Q8_0)
KERNELS(q2_k, Q_Q2_K)
KERNELS(q3_k, Q_Q3_K)
KERNELS(q4_k, Q_Q4_K)
KERNELS(q5_k, Q_Q5_K)
KERNELS(q6_k, Q_Q6_K)

typedef void (*tile_fn)(const uint8_t *, const void *, size_t, int64_t, float *);

struct tile_set {
    tile_fn t8, t4, t1;
};

#define ENTRY(name, isa)                                                                           \
    {                                                                                              \
        tile8_##name##_##isa, tile4_##name##_##isa, tile1_##name##_##isa                           \
    }
static const struct tile_set tiles[Q_Q6_K + 1][2] = {
    [Q_Q4_0] = {ENTRY(q4_0, avx2), ENTRY(q4_0, vnni)},
    [Q_Q4_1] = {ENTRY(q4_1, avx2), ENTRY(q4_1, vnni)},
    [Q_Q5_0] = {ENTRY(q5_0, avx2), ENTRY(q5_0, vnni)},
    [Q_Q5_1] = {ENTRY(q5_1, avx2), ENTRY(q5_1, vnni)},
    [Q_Q8_0] = {ENTRY(q8_0, avx2), ENTRY(q8_0, vnni)},
    [Q_Q2_K] = {ENTRY(q2_k, avx2), ENTRY(q2_k, vnni)},
    [Q_Q3_K] = {ENTRY(q3_k, avx2), ENTRY(q3_k, vnni)},
    [Q_Q4_K] = {ENTRY(q4_k, avx2), ENTRY(q4_k, vnni)},
    [Q_Q5_K] = {ENTRY(q5_k, avx2), ENTRY(q5_k, vnni)},
    [Q_Q6_K] = {ENTRY(q6_k, avx2), ENTRY(q6_k, vnni)},
};

/* dot (lane r = row r) of the unpacked pieces w[k0 .. k0 + np) against the activation
 * bytes x + 4k ..; sgn: Q8_0, the signs of sg[k] moved onto the activation. vpdpbusd in
 * two chains; on AVX2, vpmaddubsw products summed in 16 bits fit16 at a time (pieces of
 * 4 bits: 8 products of at most 2 * 15 * 127; 6 bits: 2; 8 bits: 1), widened by vpmaddwd */
#define X8_DOT(dot, w, sg, sgn, x, k0, np, fit16, vnni)                                            \
    do {                                                                                           \
        __m256i d_[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};                          \
        __m256i s16_ = _mm256_setzero_si256();                                                     \
        _Pragma("GCC unroll 8") for (int k_ = (k0); k_ < (k0) + (np); k_++)                        \
        {                                                                                          \
            __m256i x_ = _mm256_set1_epi32((int)rd32((x) + 4 * k_));                               \
            if (sgn) x_ = _mm256_sign_epi8(x_, (sg)[k_]);                                          \
            if (vnni) {                                                                            \
                d_[k_ & 1] = VNNI_DOT(d_[k_ & 1], (w)[k_], x_);                                    \
            } else {                                                                               \
                s16_ = _mm256_add_epi16(s16_, _mm256_maddubs_epi16((w)[k_], x_));                  \
                if ((k_ - (k0) + 1) % (fit16) == 0) {                                              \
                    d_[0] = _mm256_add_epi32(d_[0], _mm256_madd_epi16(s16_, ones));                \
                    s16_ = _mm256_setzero_si256();                                                 \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        dot = _mm256_add_epi32(d_[0], d_[1]);                                                      \
    } while (0)

/* the x8 instances of body(T, vnni): 4 and 1 tokens, AVX2 and AVX-VNNI */
#define X8_KERNELS(name, body)                                                                     \
    INSTANCE(x8t4_##name##_avx2, TARGET_AVX2, body(4, false))                                      \
    INSTANCE(x8t1_##name##_avx2, TARGET_AVX2, body(1, false))                                      \
    INSTANCE(x8t4_##name##_vnni, TARGET_VNNI, body(4, true))                                       \
    INSTANCE(x8t1_##name##_vnni, TARGET_VNNI, body(1, true))

/* x8 kernels: T tokens against the 8 rows of a packed group. Per column (chunks of 32
 * weights: 1, or 8 for the K types; bytes: its size; dw the rows' f16 d at its start)
 * `prep` unpacks the rows' scales once; per chunk c `unpack` fills w[8] (unsigned pieces,
 * lane r = row r), then per token `accum` adds into acc[t] from w, the activation's bytes
 * x of the chunk (broadcast 4 at a time against w[k]), its scale da and its half-block
 * sums s[0], s[1]. prep, unpack and accum are macros over the names declared here. */
#define X8_LOOP(T, chunks, bytes, prep, unpack, accum)                                             \
    do {                                                                                           \
        const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);                    \
        (void)m4; /* (Q8_0 has no nibbles) */                                                      \
        const uint8_t *g = row;                                                                    \
        __m256 acc[T];                                                                             \
        for (int t = 0; t < T; t++)                                                                \
            acc[t] = _mm256_setzero_ps();                                                          \
        for (int64_t sb = 0; sb < n / (32 * (chunks)); sb++, g += (bytes)) {                       \
            for (int pf_ = 0; pf_ < (bytes); pf_ += 64)                                            \
                _mm_prefetch((const char *)g + X8_PF_BYTES + pf_, _MM_HINT_T0);                    \
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)g));  \
            prep;                                                                                  \
            _Pragma("GCC unroll 8") for (int c = 0; c < (chunks); c++)                             \
            {                                                                                      \
                __m256i w[8];                                                                      \
                unpack;                                                                            \
                _Pragma("GCC unroll 4") for (int t = 0; t < T; t++)                                \
                {                                                                                  \
                    const uint8_t *a = (const uint8_t *)act + (size_t)t * act_stride;              \
                    const int64_t ci = (chunks)*sb + c;                                            \
                    const uint8_t *x = a + 32 * ci;                                                \
                    const __m256 da = _mm256_set1_ps(act_d(a, n)[ci]);                             \
                    const float *s = act_s(a, n) + 2 * ci;                                         \
                    (void)s; /* (Q8_0 has no offsets) */                                           \
                    accum;                                                                         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (int t = 0; t < T; t++)                                                                \
            _mm256_storeu_ps(out + 8 * t, acc[t]);                                                 \
    } while (0)

/* Q4_0: piece k's low nibbles are weights 4k.., its high nibbles 16 + 4k..: w[k], w[k + 4];
 * the offset -8 joins as -8 * (s0 + s1). */
#define Q40_UNPACK                                                                                 \
    _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)                                            \
    {                                                                                              \
        __m256i raw = load32(g + 16 + 32 * k);                                                     \
        w[k] = _mm256_and_si256(raw, m4);                                                          \
        w[k + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);                                \
    }
#define Q40_ACCUM(vnni)                                                                            \
    __m256i dot;                                                                                   \
    X8_DOT(dot, w, w, false, x, 0, 8, 8, vnni);                                                    \
    acc[t] = _mm256_fmadd_ps(                                                                      \
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), da, _mm256_set1_ps(-8.0f * (s[0] + s[1]))), dw,   \
        acc[t])
#define X8_Q4_0(T, vnni) X8_LOOP(T, 1, 8 * 18, (void)0, Q40_UNPACK, Q40_ACCUM(vnni))
X8_KERNELS(q4_0, X8_Q4_0)

/* Q8_0: w[k] = |piece k|, its signs (sg) moved onto the activation */
#define Q80_PREP __m256i sg[8]
#define Q80_UNPACK                                                                                 \
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)                                            \
    {                                                                                              \
        sg[k] = load32(g + 16 + 32 * k);                                                           \
        w[k] = _mm256_sign_epi8(sg[k], sg[k]);                                                     \
    }
#define Q80_ACCUM(vnni)                                                                            \
    __m256i dot;                                                                                   \
    X8_DOT(dot, w, sg, true, x, 0, 8, 1, vnni);                                                    \
    acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(dot), da), dw, acc[t])
#define X8_Q8_0(T, vnni) X8_LOOP(T, 1, 8 * 34, Q80_PREP, Q80_UNPACK, Q80_ACCUM(vnni))
X8_KERNELS(q8_0, X8_Q8_0)

/* Q4_K: dmin follows d; the scales and mins (6 bits, packed in pieces 0..2, the same word
 * operations as sb_scales_avx) become floats for the 8 chunks; the quants' pieces of
 * chunk c are the low (c even) or high nibbles of pieces 3 + 8 (c / 2) + k. */
#define Q4K_PREP                                                                                   \
    const __m256i m6 = _mm256_set1_epi32(0x3F3F3F3F), m2 = _mm256_set1_epi32(0x03030303);          \
    const __m256i m4w = _mm256_set1_epi32(0x0F0F0F0F), mb = _mm256_set1_epi32(0xFF);               \
    const __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(g + 16)));   \
    const __m256i u0 = load32(g + 32), u1 = load32(g + 64), u2 = load32(g + 96);                   \
    const __m256i scw[2] = {                                                                       \
        _mm256_and_si256(u0, m6),                                                                  \
        _mm256_or_si256(_mm256_and_si256(u2, m4w),                                                 \
                        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u0, 6), m2), 4))};    \
    const __m256i mnw[2] = {                                                                       \
        _mm256_and_si256(u1, m6),                                                                  \
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), m4w),                           \
                        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u1, 6), m2), 4))};    \
    __m256 scf[8], mnf[8];                                                                         \
    _Pragma("GCC unroll 8") for (int e = 0; e < 8; e++)                                            \
    {                                                                                              \
        __m256i sv = _mm256_and_si256(_mm256_srli_epi32(scw[e / 4], 8 * (e % 4)), mb);             \
        __m256i mv = _mm256_and_si256(_mm256_srli_epi32(mnw[e / 4], 8 * (e % 4)), mb);             \
        scf[e] = _mm256_mul_ps(dw, _mm256_cvtepi32_ps(sv));                                        \
        mnf[e] = _mm256_mul_ps(dm, _mm256_cvtepi32_ps(mv));                                        \
    }
#define Q4K_UNPACK                                                                                 \
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)                                            \
    {                                                                                              \
        __m256i raw = load32(g + 128 + 256 * (c / 2) + 32 * k);                                    \
        w[k] = _mm256_and_si256(c % 2 ? _mm256_srli_epi16(raw, 4) : raw, m4);                      \
    }
#define Q4K_ACCUM(vnni)                                                                            \
    __m256i dot;                                                                                   \
    X8_DOT(dot, w, w, false, x, 0, 8, 8, vnni);                                                    \
    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(scf[c], da), acc[t]);          \
    acc[t] = _mm256_fnmadd_ps(mnf[c], _mm256_set1_ps(s[0] + s[1]), acc[t])
#define X8_Q4_K(T, vnni) X8_LOOP(T, 8, 8 * 144, Q4K_PREP, Q4K_UNPACK, Q4K_ACCUM(vnni))
X8_KERNELS(q4_k, X8_Q4_K)

/* Q6_K: the 16 signed scales per row (pieces 48..51) as floats; chunk c (h = c / 4,
 * q = c % 4) takes its low 4 bits from ql pieces 16h + 8(q % 2) + k (shifted 4(q / 2))
 * and its high 2 from qh pieces 32 + 8h + k (shifted 2q); a dot per half of 16 (pieces
 * 0..3, 4..7) with its scale; the offset -32 joins through the sums. */
#define Q6K_PREP                                                                                   \
    const __m256i m3 = _mm256_set1_epi8(3);                                                        \
    const uint8_t *pc = g + 16; /* piece k at pc + 32 k */                                         \
    __m256 scf[16];                                                                                \
    _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)                                            \
    {                                                                                              \
        __m256i v = load32(pc + 32 * (48 + q));                                                    \
        _Pragma("GCC unroll 4") for (int e = 0; e < 4; e++) scf[4 * q + e] = _mm256_mul_ps(        \
            dw, _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * e), 24)));      \
    }
#define Q6K_UNPACK                                                                                 \
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)                                            \
    {                                                                                              \
        const int h = c / 4, q = c % 4;                                                            \
        __m256i lo = load32(pc + 32 * (16 * h + 8 * (q % 2) + k));                                 \
        __m256i hi = load32(pc + 32 * (32 + 8 * h + k));                                           \
        lo = _mm256_and_si256(q / 2 ? _mm256_srli_epi16(lo, 4) : lo, m4);                          \
        hi = _mm256_and_si256(_mm256_srli_epi16(hi, 2 * q), m3);                                   \
        w[k] = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));                                      \
    }
#define Q6K_ACCUM(vnni)                                                                            \
    __m256i dh[2];                                                                                 \
    X8_DOT(dh[0], w, w, false, x, 0, 4, 2, vnni);                                                  \
    X8_DOT(dh[1], w, w, false, x, 4, 4, 2, vnni);                                                  \
    _Pragma("GCC unroll 2") for (int e = 0; e < 2; e++) acc[t] = _mm256_fmadd_ps(                  \
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(dh[e]), da, _mm256_set1_ps(-32.0f * s[e])),             \
        scf[2 * c + e], acc[t])
#define X8_Q6_K(T, vnni) X8_LOOP(T, 8, 8 * 210, Q6K_PREP, Q6K_UNPACK, Q6K_ACCUM(vnni))
X8_KERNELS(q6_k, X8_Q6_K)

#define X8_ENTRY(name, isa)                                                                        \
    {                                                                                              \
        NULL, x8t4_##name##_##isa, x8t1_##name##_##isa                                             \
    }
/* Q4_0, Q8_0, Q4_K, Q6_K (x8_index) x (AVX2, AVX-VNNI); no 8-token kernels */
static const struct tile_set x8_tiles[4][2] = {
    {X8_ENTRY(q4_0, avx2), X8_ENTRY(q4_0, vnni)},
    {X8_ENTRY(q8_0, avx2), X8_ENTRY(q8_0, vnni)},
    {X8_ENTRY(q4_k, avx2), X8_ENTRY(q4_k, vnni)},
    {X8_ENTRY(q6_k, avx2), X8_ENTRY(q6_k, vnni)},
};

#endif /* Q8_X86 */

/* ---- dispatch ---- */

static atomic_int level_allowed = 2;

/* 0 portable, 1 AVX2, 2 AVX-VNNI: the best the CPU has within what is allowed */
static int level(void)
{
#ifdef Q8_X86
    static atomic_int cpu_level = -1; /* probing twice is harmless */
    int have = atomic_load_explicit(&cpu_level, memory_order_relaxed);
    if (have < 0) {
        __builtin_cpu_init();
        have = 0;
        /* clang's builtin does not know "f16c": that bit comes from cpuid leaf 1 */
        unsigned a, b, c, d;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C)) {
            have = 1;
            /* CPUID.(EAX=7,ECX=1):EAX bit 4 is AVX-VNNI */
            if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1)) have = 2;
        }
        atomic_store_explicit(&cpu_level, have, memory_order_relaxed);
    }
    int allowed = atomic_load_explicit(&level_allowed, memory_order_relaxed);
    return have < allowed ? have : allowed;
#else
    return 0;
#endif
}

const char *q8_simd_name(void)
{
    int l = level();
    return l == 2 ? "avx-vnni" : l == 1 ? "avx2" : "portable";
}

void q8_set_level(int l)
{
    atomic_store(&level_allowed, l < 0 ? 0 : l > 2 ? 2 : l);
}

float q8_dot(uint32_t type, const void *row, const void *act, int64_t n)
{
    float out = 0.0f;
    q8_dot_tile(type, row, act, 0, 1, n, &out);
    return out;
}

#ifdef Q8_X86
/* n_tok tokens through a kernel set at level l: 8-token calls while they fit (where the set
 * has them), then 4, then single tokens; out advances by per_tok floats a token */
static void run_set(const struct tile_set *k, const uint8_t *row, const uint8_t *a,
                    size_t act_stride, int n_tok, int64_t n, float *out, int per_tok)
{
    for (; k->t8 && n_tok >= 8; n_tok -= 8, a += 8 * act_stride, out += 8 * per_tok)
        k->t8(row, a, act_stride, n, out);
    for (; n_tok >= 4; n_tok -= 4, a += 4 * act_stride, out += 4 * per_tok)
        k->t4(row, a, act_stride, n, out);
    for (; n_tok > 0; n_tok--, a += act_stride, out += per_tok)
        k->t1(row, a, act_stride, n, out);
}
#endif

void q8_dot_tile(uint32_t type, const void *row, const void *act, size_t act_stride, int n_tok,
                 int64_t n, float *out)
{
    assert(q8_supported(type) && n_tok >= 1 && n_tok <= Q8_TILE);
#ifdef Q8_X86
    if (level() > 0) {
        run_set(&tiles[type][level() - 1], row, act, act_stride, n_tok, n, out, 1);
        return;
    }
#endif
    for (int t = 0; t < n_tok; t++)
        out[t] = q8_dot_c(type, row, (const uint8_t *)act + (size_t)t * act_stride, n);
}

void q8_x8_tile(uint32_t type, const void *group, const void *act, size_t act_stride, int n_tok,
                int64_t n, float *out)
{
    assert(q8_x8_supported(type) && n_tok >= 1 && n_tok <= Q8_TILE);
#ifdef Q8_X86
    if (level() > 0) {
        const int i = type == Q_Q4_0 ? 0 : type == Q_Q8_0 ? 1 : type == Q_Q4_K ? 2 : 3;
        run_set(&x8_tiles[i][level() - 1], group, act, act_stride, n_tok, n, out, 8);
        return;
    }
#endif
    x8_tile_c(type, group, act, act_stride, n_tok, n, out);
}
