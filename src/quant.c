/* quant — tensor element types with GGML numbering and block layouts, f16/bf16
 * conversion, dequantization and dot products against float32 activations.
 *
 * In order: the type table; conversions; reference code written to be read against
 * the format (the *_ref functions and GGML's round-to-nearest quantizers); fast
 * kernels in portable C shaped so that gcc -O2 vectorizes them (SSE2, NEON); AVX2 +
 * FMA + F16C kernels for x86-64, compiled through target attributes and chosen at
 * run time, so the plain -O2 build still gets them; dispatch. The 256-element K
 * family lives in quant_k.c.
 *
 * Multi-byte fields are little-endian in GGUF; the code assumes a little-endian host.
 */
#include "quant.h"
#include "quant_impl.h"
#include "simd_avx2.h"

#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "quant.c reads GGUF blocks in place and assumes a little-endian host"
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QUANT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

/* ---- type table ---- */

struct type_info {
    const char *name;
    uint16_t elems, bytes; /* per block */
    bool supported;        /* dequant + dot implemented */
};

/* Every type GGML defines, so files holding any of them can be sized and reported by
 * name; numbers 4, 5 (Q4_2, Q4_3), 31..33 and 36..38 (interleaved layouts) were
 * removed from GGML and stay unknown. Q8_1 is the current layout (f16 d and s). */
static const struct type_info types[Q_TYPE_LIMIT] = {
    [Q_F32] = {"F32", 1, 4, true},       [Q_F16] = {"F16", 1, 2, true},
    [Q_Q4_0] = {"Q4_0", 32, 18, true},   [Q_Q4_1] = {"Q4_1", 32, 20, true},
    [Q_Q5_0] = {"Q5_0", 32, 22, true},   [Q_Q5_1] = {"Q5_1", 32, 24, true},
    [Q_Q8_0] = {"Q8_0", 32, 34, true},   [Q_Q8_1] = {"Q8_1", 32, 36, false},
    [Q_Q2_K] = {"Q2_K", 256, 84, true},  [Q_Q3_K] = {"Q3_K", 256, 110, true},
    [Q_Q4_K] = {"Q4_K", 256, 144, true}, [Q_Q5_K] = {"Q5_K", 256, 176, true},
    [Q_Q6_K] = {"Q6_K", 256, 210, true}, [Q_Q8_K] = {"Q8_K", 256, 292, false},
    [16] = {"IQ2_XXS", 256, 66, false},  [17] = {"IQ2_XS", 256, 74, false},
    [18] = {"IQ3_XXS", 256, 98, false},  [19] = {"IQ1_S", 256, 50, false},
    [20] = {"IQ4_NL", 32, 18, false},    [21] = {"IQ3_S", 256, 110, false},
    [22] = {"IQ2_S", 256, 82, false},    [23] = {"IQ4_XS", 256, 136, false},
    [24] = {"I8", 1, 1, false},          [25] = {"I16", 1, 2, false},
    [26] = {"I32", 1, 4, false},         [27] = {"I64", 1, 8, false},
    [28] = {"F64", 1, 8, false},         [29] = {"IQ1_M", 256, 56, false},
    [Q_BF16] = {"BF16", 1, 2, true},     [34] = {"TQ1_0", 256, 54, false},
    [35] = {"TQ2_0", 256, 66, false},    [39] = {"MXFP4", 32, 17, false},
};

const char *quant_name(uint32_t type)
{
    return type < Q_TYPE_LIMIT ? types[type].name : NULL;
}
bool quant_known(uint32_t type)
{
    return quant_name(type) != NULL;
}
bool quant_supported(uint32_t type)
{
    return quant_known(type) && types[type].supported;
}
uint32_t quant_block_elems(uint32_t type)
{
    return quant_known(type) ? types[type].elems : 0;
}
uint32_t quant_block_bytes(uint32_t type)
{
    return quant_known(type) ? types[type].bytes : 0;
}

const char *quant_supported_list(void)
{
    /* kept in step with the table by a test */
    return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K";
}

/* Sizes stay within int64_t so that offsets and element counts are safe as signed. */
bool quant_row_bytes(uint32_t type, uint64_t n, uint64_t *bytes)
{
    assert(bytes);
    *bytes = 0;
    if (!quant_known(type) || n > (uint64_t)INT64_MAX) return false;
    uint64_t elems = types[type].elems, bb = types[type].bytes;
    if (n % elems != 0 || n / elems > (uint64_t)INT64_MAX / bb) return false;
    *bytes = n / elems * bb;
    return true;
}

/* ---- f16 / bf16 ---- */

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float quant_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF;
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000 | man << 13); /* inf, nan (payload kept) */
    if (exp != 0) return bits_f32(sign | (exp + 127 - 15) << 23 | man << 13);
    float v = (float)man * 0x1p-24f; /* zero or subnormal: man units of 2^-24, exact */
    return sign ? -v : v;
}

uint16_t quant_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)(x >> 16 & 0x8000);
    uint32_t ax = x & 0x7FFFFFFF;
    if (ax > 0x7F800000) return sign | 0x7E00 | (uint16_t)(ax >> 13 & 0x1FF); /* quiet nan */
    if (ax >= 0x47800000) return sign | 0x7C00;                               /* >= 2^16: inf */
    int32_t e = (int32_t)(ax >> 23) - 127;
    uint32_t mant = (ax & 0x7FFFFF) | 0x800000; /* 24 bits with the implicit one */
    uint32_t shift, q;
    if (e >= -14) { /* normal: keep 11 bits; a carry out of the mantissa bumps the exponent */
        shift = 13;
        q = (uint32_t)(e + 15) << 10 | (ax >> 13 & 0x3FF);
    } else { /* subnormal in f16: units of 2^-24 */
        if (e < -25) return sign;
        shift = (uint32_t)(-1 - e); /* 14..24 */
        q = mant >> shift;
    }
    uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++; /* round to nearest, ties to even */
    return sign | (uint16_t)q;
}

float quant_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t quant_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)(x >> 16 | 0x40); /* quiet nan */
    return (uint16_t)((x + 0x7FFF + (x >> 16 & 1)) >> 16); /* ties to even; overflows to inf */
}

#if defined(__aarch64__)
/* The hardware converts (and vectorizes the conversion); a signalling nan comes out quiet. */
static inline float f16_fast(uint16_t h)
{
    __fp16 f;
    memcpy(&f, &h, sizeof f);
    return (float)f;
}
#else
/* Branch-free f16 -> f32 for the vectorized paths (same results as quant_f16_to_f32
 * except that a signalling nan comes out quiet): the exponent and mantissa are moved
 * into place with the exponent biased 112 too high and scaled back by 2^-112, which
 * also maps f16 inf/nan onto f32 inf/nan; subnormals are built as 0.5 + m*2^-24 and
 * have 0.5 subtracted. No float operation sees a subnormal operand (slow on some CPUs). */
static inline float f16_fast(uint16_t h)
{
    uint32_t w = (uint32_t)h << 17; /* sign dropped */
    uint32_t norm = f32_bits(bits_f32((w >> 4) + (0xE0u << 23)) * 0x1p-112f);
    uint32_t sub = f32_bits(bits_f32(w >> 17 | 126u << 23) - 0.5f);
    uint32_t is_sub = 0u - (uint32_t)(w < 1u << 27);
    return bits_f32(((uint32_t)h & 0x8000) << 16 | (sub & is_sub) | (norm & ~is_sub));
}
#endif

/* ---- reference: one block, as the format describes it ---- */

/* Q8_0: f16 d, int8 q[32]; w = q * d. */
static void dequant_q8_0_ref(const uint8_t *b, float *y)
{
    float d = rd_f16(b);
    for (int j = 0; j < 32; j++)
        y[j] = (int8_t)b[2 + j] * d;
}

/* Q4_0: f16 d, 16 bytes; byte j holds element j in its low nibble and element j + 16
 * in its high nibble; w = (q - 8) * d. */
static void dequant_q4_0_ref(const uint8_t *b, float *y)
{
    float d = rd_f16(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = ((qs[j] & 0x0F) - 8) * d;
        y[j + 16] = ((qs[j] >> 4) - 8) * d;
    }
}

/* Q4_1: f16 d, f16 m, nibbles as Q4_0; w = q * d + m. */
static void dequant_q4_1_ref(const uint8_t *b, float *y)
{
    float d = rd_f16(b), m = rd_f16(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = (qs[j] & 0x0F) * d + m;
        y[j + 16] = (qs[j] >> 4) * d + m;
    }
}

/* Q5_0: f16 d, u32 qh (bit j is the fifth bit of element j), nibbles as Q4_0;
 * w = (q - 16) * d. */
static void dequant_q5_0_ref(const uint8_t *b, float *y)
{
    float d = rd_f16(b);
    uint32_t qh = rd32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        int q0 = (qs[j] & 0x0F) | (int)(qh >> j & 1) << 4;
        int q1 = (qs[j] >> 4) | (int)(qh >> (j + 16) & 1) << 4;
        y[j] = (q0 - 16) * d;
        y[j + 16] = (q1 - 16) * d;
    }
}

/* Q5_1: f16 d, f16 m, u32 qh, nibbles; w = q * d + m. */
static void dequant_q5_1_ref(const uint8_t *b, float *y)
{
    float d = rd_f16(b), m = rd_f16(b + 2);
    uint32_t qh = rd32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        int q0 = (qs[j] & 0x0F) | (int)(qh >> j & 1) << 4;
        int q1 = (qs[j] >> 4) | (int)(qh >> (j + 16) & 1) << 4;
        y[j] = q0 * d + m;
        y[j + 16] = q1 * d + m;
    }
}

static bool is_k_type(uint32_t type)
{
    return type >= Q_Q2_K && type <= Q_Q8_K;
}

/* Programmer errors (the caller checks quant_supported and the row length); without
 * asserts the output is zeros rather than garbage. */
static bool args_ok(uint32_t type, int64_t n)
{
    bool ok = quant_supported(type) && n >= 0 && n % types[type].elems == 0;
    assert(ok);
    return ok;
}

void quant_dequant_row_ref(uint32_t type, const void *src, float *dst, int64_t n)
{
    if (!args_ok(type, n)) {
        memset(dst, 0, sizeof(float) * (size_t)(n > 0 ? n : 0));
        return;
    }
    if (is_k_type(type)) {
        quant_k_dequant_row_ref(type, src, dst, n);
        return;
    }
    const uint8_t *s = src;
    const int64_t be = types[type].elems, bb = types[type].bytes;
    for (int64_t i = 0; i < n; i += be, s += bb) {
        float *y = dst + i;
        switch (type) {
        case Q_F32: memcpy(y, s, sizeof(float)); break;
        case Q_F16: *y = quant_f16_to_f32(rd16(s)); break;
        case Q_BF16: *y = quant_bf16_to_f32(rd16(s)); break;
        case Q_Q8_0: dequant_q8_0_ref(s, y); break;
        case Q_Q4_0: dequant_q4_0_ref(s, y); break;
        case Q_Q4_1: dequant_q4_1_ref(s, y); break;
        case Q_Q5_0: dequant_q5_0_ref(s, y); break;
        case Q_Q5_1: dequant_q5_1_ref(s, y); break;
        default: assert(0);
        }
    }
}

/* The dequantized row times x, summed in double. */
float quant_dot_ref(uint32_t type, const void *row, const float *x, int64_t n)
{
    if (!args_ok(type, n)) return 0.0f;
    const int64_t be = types[type].elems, bb = types[type].bytes;
    const int64_t chunk = be >= 256 ? be : 256 / be * be;
    float w[256];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i += chunk) {
        int64_t len = n - i < chunk ? n - i : chunk;
        quant_dequant_row_ref(type, (const uint8_t *)row + i / be * bb, w, len);
        for (int64_t j = 0; j < len; j++)
            sum += (double)w[j] * x[i + j];
    }
    return (float)sum;
}

/* ---- reference quantizers: round to nearest, as GGML's quantize_row_*_ref ---- */

/* (int)v clamped to [lo, hi], truncating as GGML's casts do; nan gives lo. */
static int trunc_clamp(float v, int lo, int hi)
{
    if (!(v >= (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    return (int)v;
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, sizeof v);
}

/* Signed value of largest magnitude (the first one on ties); dividing by a negative
 * makes the extreme land exactly on -8 (-16), the longer end of the range. */
static float signed_max(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *min, float *max)
{
    *min = INFINITY;
    *max = -INFINITY;
    for (int j = 0; j < n; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

static void quantize_q8_0(const float *x, uint8_t *b)
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put16(b, quant_f32_to_f16(d));
    for (int j = 0; j < 32; j++) {
        float r = roundf(x[j] * id); /* in [-127, 127] unless x holds inf or nan */
        b[2 + j] = (uint8_t)(int8_t)(r >= -127.0f && r <= 127.0f ? (int)r : 0);
    }
}

/* Packs 32 quants of 4 or 5 bits: low nibbles as in dequant_q4_0_ref, fifth bits
 * into the u32 at qh (if bits == 5) as in dequant_q5_0_ref. */
static void put_quants(const int q[32], int bits, uint8_t *qh, uint8_t *qs)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0F) | (q[j + 16] & 0x0F) << 4);
        h |= (uint32_t)(q[j] >> 4 & 1) << j | (uint32_t)(q[j + 16] >> 4 & 1) << (j + 16);
    }
    if (bits == 5) memcpy(qh, &h, sizeof h);
}

/* Q4_0, Q5_0: d = max / -2^(bits-1), q = trunc(x / d + 2^(bits-1) + 0.5). The product
 * and the sum are separate statements, as in GGML, so no compiler fuses them into an
 * FMA that would round differently. */
static void quantize_sym(const float *x, int bits, uint8_t *b)
{
    const float half = (float)(1 << (bits - 1));
    float d = signed_max(x, 32) / -half, id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[32];
    for (int j = 0; j < 32; j++) {
        float v = x[j] * id;
        q[j] = trunc_clamp(v + (half + 0.5f), 0, (1 << bits) - 1);
    }
    put16(b, quant_f32_to_f16(d));
    put_quants(q, bits, b + 2, b + (bits == 5 ? 6 : 2));
}

/* Q4_1, Q5_1: d = (max - min) / (2^bits - 1), m = min, q = trunc((x - min) / d + 0.5). */
static void quantize_min(const float *x, int bits, uint8_t *b)
{
    float min, max;
    min_max(x, 32, &min, &max);
    float d = (max - min) / (float)((1 << bits) - 1), id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[32];
    for (int j = 0; j < 32; j++) {
        float v = (x[j] - min) * id;
        q[j] = trunc_clamp(v + 0.5f, 0, (1 << bits) - 1);
    }
    put16(b, quant_f32_to_f16(d));
    put16(b + 2, quant_f32_to_f16(min));
    put_quants(q, bits, b + 4, b + (bits == 5 ? 8 : 4));
}

void quant_quantize_row_ref(uint32_t type, const float *src, void *dst, int64_t n)
{
    if (!args_ok(type, n)) return;
    if (is_k_type(type)) {
        quant_k_quantize_row_ref(type, src, dst, n);
        return;
    }
    uint8_t *b = dst;
    const int64_t be = types[type].elems, bb = types[type].bytes;
    for (int64_t i = 0; i < n; i += be, b += bb) {
        const float *x = src + i;
        switch (type) {
        case Q_F32: memcpy(b, x, sizeof(float)); break;
        case Q_F16: put16(b, quant_f32_to_f16(*x)); break;
        case Q_BF16: put16(b, quant_f32_to_bf16(*x)); break;
        case Q_Q8_0: quantize_q8_0(x, b); break;
        case Q_Q4_0: quantize_sym(x, 4, b); break;
        case Q_Q4_1: quantize_min(x, 4, b); break;
        case Q_Q5_0: quantize_sym(x, 5, b); break;
        case Q_Q5_1: quantize_min(x, 5, b); break;
        default: assert(0);
        }
    }
}

/* ---- fast kernels, portable C ----
 * A block is unpacked into w[32] as small integers held in floats (exact), dotted with
 * x as 8 independent partial sums (one per vector lane, which also breaks the add
 * dependency chain) and scaled once per block. Every inner loop has a fixed trip count
 * and works on local arrays, which is what gcc -O2 (very-cheap cost model) vectorizes.
 * Dequantization does the same float operations as the reference, so it is bit-exact.
 * F32, F16 and BF16 rows go 32 weights at a time the same way, then a scalar tail. */

static inline void dot32_acc(float acc[8], float d, const float *w, const float *x)
{
    for (int k = 0; k < 8; k++)
        acc[k] += d * ((w[k] * x[k] + w[k + 8] * x[k + 8]) +
                       (w[k + 16] * x[k + 16] + w[k + 24] * x[k + 24]));
}

/* acc += m * sum(x): the offset term of Q4_1 / Q5_1 */
static inline void sum32_acc(float acc[8], float m, const float *x)
{
    for (int k = 0; k < 8; k++)
        acc[k] += m * ((x[k] + x[k + 8]) + (x[k + 16] + x[k + 24]));
}

static inline void unpack_q4(const uint8_t *qs, int off, float w[32])
{
    for (int k = 0; k < 16; k++) {
        w[k] = (float)((qs[k] & 0x0F) - off);
        w[k + 16] = (float)((qs[k] >> 4) - off);
    }
}

/* Fifth bits: a per-element mask table rather than qh >> k, since SSE2 has no
 * per-lane variable shifts; this form vectorizes in 32-bit lanes. */
static const uint32_t bit_of[32] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,
    1u << 8,  1u << 9,  1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15,
    1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21, 1u << 22, 1u << 23,
    1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31};

static inline void unpack_q5(const uint8_t *qs, uint32_t qh, int off, float w[32])
{
    for (int k = 0; k < 16; k++) {
        w[k] = (float)(((qs[k] & 0x0F) | (qh & bit_of[k] ? 16 : 0)) - off);
        w[k + 16] = (float)(((qs[k] >> 4) | (qh & bit_of[k + 16] ? 16 : 0)) - off);
    }
}

static bool has_min(uint32_t type)
{
    return type == Q_Q4_1 || type == Q_Q5_1;
}

/* Weights 32 i .. 32 i + 31 of the row into w; for block types unscaled, with the
 * block's scale and offset in d and m. */
static inline void unpack32(uint32_t type, const uint8_t *row, int64_t i, float w[32], float *d,
                            float *m)
{
    const uint8_t *b = row + i * types[type].bytes;
    *d = 1.0f;
    *m = 0.0f;
    switch (type) {
    case Q_F32: memcpy(w, row + 128 * i, 128); return;
    case Q_F16:
        for (int k = 0; k < 32; k++)
            w[k] = f16_fast(rd16(row + 64 * i + 2 * k));
        return;
    case Q_BF16:
        for (int k = 0; k < 32; k++)
            w[k] = bits_f32((uint32_t)rd16(row + 64 * i + 2 * k) << 16);
        return;
    case Q_Q8_0:
        for (int k = 0; k < 32; k++)
            w[k] = (float)(int8_t)b[2 + k];
        break;
    case Q_Q4_0: unpack_q4(b + 2, 8, w); break;
    case Q_Q4_1: unpack_q4(b + 4, 0, w); break;
    case Q_Q5_0: unpack_q5(b + 6, rd32(b + 2), 16, w); break;
    case Q_Q5_1: unpack_q5(b + 8, rd32(b + 4), 0, w); break;
    default: assert(0);
    }
    *d = f16_fast(rd16(b));
    if (has_min(type)) *m = f16_fast(rd16(b + 2));
}

/* the weight at i of an F32, F16 or BF16 row */
static inline float load1(uint32_t type, const uint8_t *row, int64_t i)
{
    if (type == Q_F32) return bits_f32(rd32(row + 4 * i));
    if (type == Q_F16) return f16_fast(rd16(row + 2 * i));
    return bits_f32((uint32_t)rd16(row + 2 * i) << 16);
}

/* Instantiated per type below, so every test of type folds away. */
static inline __attribute__((always_inline)) float dot_c(uint32_t type, const uint8_t *row,
                                                         const float *x, int64_t n)
{
    float acc[8] = {0}, w[32], d, m, tail = 0.0f;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        unpack32(type, row, i / 32, w, &d, &m);
        dot32_acc(acc, d, w, x + i);
        if (has_min(type)) sum32_acc(acc, m, x + i);
    }
    for (; i < n; i++)
        tail += load1(type, row, i) * x[i]; /* F types only */
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

static inline __attribute__((always_inline)) void dequant_c(uint32_t type, const uint8_t *row,
                                                            float *y, int64_t n)
{
    float w[32], d, m;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        unpack32(type, row, i / 32, w, &d, &m);
        if (type != Q_F32 && type != Q_F16 && type != Q_BF16)
            for (int k = 0; k < 32; k++)
                w[k] = has_min(type) ? w[k] * d + m : w[k] * d;
        memcpy(y + i, w, sizeof w);
    }
    for (; i < n; i++)
        y[i] = load1(type, row, i);
}

/* ---- fast kernels, AVX2 + FMA + F16C (x86-64, chosen at run time) ----
 * Same plan with 8-float registers: 8 quants are widened to int32 and converted,
 * multiplied with x and accumulated by FMA; two accumulators alternate between blocks. */
#ifdef QUANT_X86

/* the 8 low bytes of v, signed, as floats */
TARGET_AVX2 static inline __m256 i8_ps(__m128i v)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

TARGET_AVX2 static inline __m256 f16_avx(const uint8_t *p)
{
    return _mm256_set1_ps(_cvtsh_ss(rd16(p)));
}

/* The 32 weights of block b, unscaled, in 4 registers of 8. */
TARGET_AVX2 static inline void unpack_avx(uint32_t type, const uint8_t *b, __m256 w[4])
{
    __m128i lo, hi;
    if (type == Q_Q8_0) {
        lo = _mm_loadu_si128((const __m128i *)(b + 2));
        hi = _mm_loadu_si128((const __m128i *)(b + 18));
    } else {
        const __m128i m4 = _mm_set1_epi8(0x0F);
        int at = type == Q_Q4_0 ? 2 : type == Q_Q4_1 ? 4 : type == Q_Q5_0 ? 6 : 8;
        __m128i q = _mm_loadu_si128((const __m128i *)(b + at));
        lo = _mm_and_si128(q, m4);
        hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
        if (type == Q_Q5_0 || type == Q_Q5_1) {
            __m256i h = fifth_bits(rd32(b + (type == Q_Q5_0 ? 2 : 4)));
            lo = _mm_or_si128(lo, _mm256_castsi256_si128(h));
            hi = _mm_or_si128(hi, _mm256_extracti128_si256(h, 1));
        }
        __m128i off = _mm_set1_epi8(type == Q_Q4_0 ? 8 : type == Q_Q5_0 ? 16 : 0);
        lo = _mm_sub_epi8(lo, off);
        hi = _mm_sub_epi8(hi, off);
    }
    w[0] = i8_ps(lo);
    w[1] = i8_ps(_mm_srli_si128(lo, 8));
    w[2] = i8_ps(hi);
    w[3] = i8_ps(_mm_srli_si128(hi, 8));
}

/* 8 weights of an F32, F16 or BF16 row as floats */
TARGET_AVX2 static inline __m256 load8_avx(uint32_t type, const uint8_t *p)
{
    if (type == Q_F32) return _mm256_loadu_ps((const float *)(const void *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (type == Q_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

TARGET_AVX2 static inline __attribute__((always_inline)) float
dot_avx(uint32_t type, const uint8_t *row, const float *x, int64_t n)
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    if (types[type].elems == 1) { /* F32, F16, BF16 */
        const int64_t es = types[type].bytes;
        for (; i + 32 <= n; i += 32) { /* written out: acc[k] in a loop stays in memory */
            acc[0] = _mm256_fmadd_ps(load8_avx(type, row + es * i), _mm256_loadu_ps(x + i), acc[0]);
            acc[1] = _mm256_fmadd_ps(load8_avx(type, row + es * (i + 8)),
                                     _mm256_loadu_ps(x + i + 8), acc[1]);
            acc[2] = _mm256_fmadd_ps(load8_avx(type, row + es * (i + 16)),
                                     _mm256_loadu_ps(x + i + 16), acc[2]);
            acc[3] = _mm256_fmadd_ps(load8_avx(type, row + es * (i + 24)),
                                     _mm256_loadu_ps(x + i + 24), acc[3]);
        }
        for (; i + 8 <= n; i += 8)
            acc[0] = _mm256_fmadd_ps(load8_avx(type, row + es * i), _mm256_loadu_ps(x + i), acc[0]);
    } else {
        const uint8_t *b = row;
        for (; i < n; i += 32, b += types[type].bytes) {
            __m256 w[4], *a = &acc[(i >> 5) & 1];
            unpack_avx(type, b, w);
            __m256 s0 = _mm256_mul_ps(w[0], _mm256_loadu_ps(x + i));
            __m256 s1 = _mm256_mul_ps(w[2], _mm256_loadu_ps(x + i + 16));
            s0 = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(x + i + 8), s0);
            s1 = _mm256_fmadd_ps(w[3], _mm256_loadu_ps(x + i + 24), s1);
            *a = _mm256_fmadd_ps(f16_avx(b), _mm256_add_ps(s0, s1), *a);
            if (has_min(type)) {
                __m256 sx = _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(x + i + 8));
                sx = _mm256_add_ps(sx, _mm256_loadu_ps(x + i + 16));
                sx = _mm256_add_ps(sx, _mm256_loadu_ps(x + i + 24));
                *a = _mm256_fmadd_ps(f16_avx(b + 2), sx, *a);
            }
        }
    }
    float tail = 0.0f;
    for (; i < n; i++)
        tail += load1(type, row, i) * x[i];
    __m256 v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    return hsum8(v) + tail;
}

/* Multiply and add stay separate (no FMA) so the result equals the reference. */
TARGET_AVX2 static inline __attribute__((always_inline)) void
dequant_avx(uint32_t type, const uint8_t *row, float *y, int64_t n)
{
    int64_t i = 0;
    if (types[type].elems == 1) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, load8_avx(type, row + types[type].bytes * i));
        for (; i < n; i++)
            y[i] = load1(type, row, i);
        return;
    }
    const uint8_t *b = row;
    for (; i < n; i += 32, b += types[type].bytes) {
        __m256 w[4], d = f16_avx(b), m = has_min(type) ? f16_avx(b + 2) : _mm256_setzero_ps();
        unpack_avx(type, b, w);
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_mul_ps(w[k], d);
            _mm256_storeu_ps(y + i + 8 * k, has_min(type) ? _mm256_add_ps(v, m) : v);
        }
    }
}

#endif /* QUANT_X86 */

/* ---- dispatch ---- */

typedef float (*dot_fn)(const uint8_t *, const float *, int64_t);
typedef void (*dequant_fn)(const uint8_t *, float *, int64_t);

/* one instance of each kernel per type, so that the type is a constant inside */
#define KERNELS_C(name, type)                                                                      \
    static float dot_##name##_c(const uint8_t *r, const float *x, int64_t n)                       \
    {                                                                                              \
        return dot_c(type, r, x, n);                                                               \
    }                                                                                              \
    static void dequant_##name##_c(const uint8_t *r, float *y, int64_t n)                          \
    {                                                                                              \
        dequant_c(type, r, y, n);                                                                  \
    }
#ifdef QUANT_X86
#define KERNELS(name, type)                                                                        \
    KERNELS_C(name, type)                                                                          \
    TARGET_AVX2 static float dot_##name##_avx(const uint8_t *r, const float *x, int64_t n)         \
    {                                                                                              \
        return dot_avx(type, r, x, n);                                                             \
    }                                                                                              \
    TARGET_AVX2 static void dequant_##name##_avx(const uint8_t *r, float *y, int64_t n)            \
    {                                                                                              \
        dequant_avx(type, r, y, n);                                                                \
    }
#define KERNEL_ENTRY(name, type)                                                                   \
    [type] = {{dot_##name##_c, dot_##name##_avx}, {dequant_##name##_c, dequant_##name##_avx}}
#else
#define KERNELS(name, type) KERNELS_C(name, type)
#define KERNEL_ENTRY(name, type) [type] = {{dot_##name##_c, NULL}, {dequant_##name##_c, NULL}}
#endif

KERNELS(f32, Q_F32)
KERNELS(f16, Q_F16)
KERNELS(bf16, Q_BF16)
KERNELS(q8_0, Q_Q8_0)
KERNELS(q4_0, Q_Q4_0)
KERNELS(q4_1, Q_Q4_1)
KERNELS(q5_0, Q_Q5_0)
KERNELS(q5_1, Q_Q5_1)

/* [type] -> {portable, simd} */
static const struct {
    dot_fn dot[2];
    dequant_fn dequant[2];
} kernels[Q_BF16 + 1] = {
    KERNEL_ENTRY(f32, Q_F32),   KERNEL_ENTRY(f16, Q_F16),   KERNEL_ENTRY(bf16, Q_BF16),
    KERNEL_ENTRY(q8_0, Q_Q8_0), KERNEL_ENTRY(q4_0, Q_Q4_0), KERNEL_ENTRY(q4_1, Q_Q4_1),
    KERNEL_ENTRY(q5_0, Q_Q5_0), KERNEL_ENTRY(q5_1, Q_Q5_1),
};

static atomic_int simd_allowed = 1;

static bool use_avx2(void)
{
#ifdef QUANT_X86
    static atomic_int cpu_avx2 = -1; /* -1: not probed yet; probing twice is harmless */
    if (!atomic_load_explicit(&simd_allowed, memory_order_relaxed)) return false;
    int has = atomic_load_explicit(&cpu_avx2, memory_order_relaxed);
    if (has < 0) {
        /* cpu_supports("avx2") also checks that the OS saves the AVX state; clang's
         * builtin does not know "f16c", so that bit comes from cpuid leaf 1 */
        unsigned a, b, c, d;
        has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
        atomic_store_explicit(&cpu_avx2, has, memory_order_relaxed);
    }
    return has;
#else
    return false;
#endif
}

bool quant_simd_avx2(void)
{
    return use_avx2();
}

const char *quant_simd_name(void)
{
    return use_avx2() ? "avx2" : "portable";
}
void quant_set_simd(bool allow)
{
    atomic_store(&simd_allowed, allow ? 1 : 0);
}

void quant_dequant_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    if (!args_ok(type, n)) {
        memset(dst, 0, sizeof(float) * (size_t)(n > 0 ? n : 0));
        return;
    }
    bool simd = use_avx2();
    if (is_k_type(type))
        quant_k_dequant_row(type, src, dst, n, simd);
    else if (type == Q_F32)
        memcpy(dst, src, sizeof(float) * (size_t)n);
    else
        kernels[type].dequant[simd](src, dst, n);
}

float quant_dot(uint32_t type, const void *row, const float *x, int64_t n)
{
    if (!args_ok(type, n)) return 0.0f;
    bool simd = use_avx2();
    if (is_k_type(type)) return quant_k_dot(type, row, x, n, simd);
    return kernels[type].dot[simd](row, x, n);
}
