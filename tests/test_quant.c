/* quant: type table, f16/bf16 conversion, dequantization and dots of blocks built here
 * byte by byte from the format description, quantizer round trips, and (with
 * ../shared) a cross-check against GGUF files written by a standard quantizer. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "testutil.h"

/* ---- helpers written from the format, independent of quant.c ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static int rnd_int(int lo, int hi)
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}
/* roughly N(0, 1): a sum of four uniforms on [-1, 1) */
static float rnd_normal(void)
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++)
        s += (float)(rnd() >> 8) / 8388608.0f - 1.0f;
    return s * 0.866f;
}

static double f16_value(uint16_t h)
{
    int e = h >> 10 & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}

/* A random finite f16 of moderate size (2^-8 .. 2^4), either sign unless positive. */
static uint16_t rnd_f16(bool positive)
{
    uint16_t h = (uint16_t)(rnd_int(7, 19) << 10 | rnd_int(0, 1023));
    return positive || rnd() & 1 ? h : (uint16_t)(h | 0x8000);
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Builds one random block of the given type at b and its weights, computed in double
 * from the spec's formula, at w. Returns the elements in the block. */
static int build_block(uint32_t type, uint8_t *b, double *w)
{
    int q[256];
    switch (type) {
    case Q_F32: {
        float f = rnd_normal();
        memcpy(b, &f, 4);
        w[0] = f;
        return 1;
    }
    case Q_F16: {
        uint16_t h = rnd_f16(false);
        put_le16(b, h);
        w[0] = f16_value(h);
        return 1;
    }
    case Q_BF16: {
        uint16_t h = (uint16_t)(float_bits(rnd_normal()) >> 16);
        put_le16(b, h);
        w[0] = (double)bits_float((uint32_t)h << 16);
        return 1;
    }
    case Q_Q8_0: {
        uint16_t d = rnd_f16(false);
        put_le16(b, d);
        for (int j = 0; j < 32; j++) {
            q[j] = rnd_int(-128, 127);
            b[2 + j] = (uint8_t)(int8_t)q[j];
            w[j] = q[j] * f16_value(d);
        }
        return 32;
    }
    case Q_Q4_0:
    case Q_Q4_1:
    case Q_Q5_0:
    case Q_Q5_1: { /* d, (m), (u32 qh: bit j is the fifth bit of element j), 16 bytes:
                    * element j in the low nibble of byte j, element j + 16 in the high */
        bool off = type == Q_Q4_1 || type == Q_Q5_1, five = type == Q_Q5_0 || type == Q_Q5_1;
        uint16_t d = rnd_f16(off), m = rnd_f16(false);
        put_le16(b, d);
        if (off) put_le16(b + 2, m);
        uint8_t *qh = b + (off ? 4 : 2), *qs = qh + (five ? 4 : 0);
        if (five) memset(qh, 0, 4);
        for (int j = 0; j < 32; j++) {
            q[j] = rnd_int(0, five ? 31 : 15);
            if (five) qh[j / 8] |= (uint8_t)((q[j] >> 4) << (j % 8)); /* bit j of the LE u32 */
        }
        for (int j = 0; j < 16; j++)
            qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
        int zero = off ? 0 : five ? 16 : 8;
        for (int j = 0; j < 32; j++)
            w[j] = (q[j] - zero) * f16_value(d) + (off ? f16_value(m) : 0.0);
        return 32;
    }
    case Q_Q2_K: { /* scales[16] (scale | min << 4), qs[64], d, dmin */
        uint16_t d = rnd_f16(true), dmin = rnd_f16(true);
        memset(b, 0, 84);
        int sc[16], mn[16];
        for (int g = 0; g < 16; g++) {
            sc[g] = rnd_int(0, 15);
            mn[g] = rnd_int(0, 15);
            b[g] = (uint8_t)(sc[g] | mn[g] << 4);
        }
        /* weight 128 h + 32 s + l: bits 2s of qs[32 h + l] */
        for (int h = 0; h < 2; h++)
            for (int s = 0; s < 4; s++)
                for (int l = 0; l < 32; l++) {
                    int i = 128 * h + 32 * s + l;
                    q[i] = rnd_int(0, 3);
                    b[16 + 32 * h + l] |= (uint8_t)(q[i] << (2 * s));
                }
        put_le16(b + 80, d);
        put_le16(b + 82, dmin);
        for (int i = 0; i < 256; i++)
            w[i] = f16_value(d) * sc[i / 16] * q[i] - f16_value(dmin) * mn[i / 16];
        return 256;
    }
    case Q_Q3_K: { /* hmask[32], qs[64], scales[12], d */
        uint16_t d = rnd_f16(false);
        memset(b, 0, 110);
        int sc[16];
        for (int g = 0; g < 16; g++) {
            sc[g] = rnd_int(-32, 31);
            int u = sc[g] + 32;
            if (g < 8)
                b[96 + g] |= (uint8_t)(u & 15);
            else
                b[96 + g - 8] |= (uint8_t)((u & 15) << 4);
            b[96 + 8 + g % 4] |= (uint8_t)((u >> 4) << (2 * (g / 4)));
        }
        for (int h = 0; h < 2; h++)
            for (int s = 0; s < 4; s++)
                for (int l = 0; l < 32; l++) {
                    int i = 128 * h + 32 * s + l, low = rnd_int(0, 3), high = rnd_int(0, 1);
                    q[i] = low - (high ? 0 : 4);
                    b[32 + 32 * h + l] |= (uint8_t)(low << (2 * s));
                    b[l] |= (uint8_t)(high << (4 * h + s)); /* hmask bit i / 32 */
                }
        put_le16(b + 108, d);
        for (int i = 0; i < 256; i++)
            w[i] = f16_value(d) * sc[i / 16] * q[i];
        return 256;
    }
    case Q_Q4_K:
    case Q_Q5_K: { /* d, dmin, scales[12], (qh[32]), qs[128] */
        bool five = type == Q_Q5_K;
        uint16_t d = rnd_f16(true), dmin = rnd_f16(true);
        memset(b, 0, five ? 176 : 144);
        put_le16(b, d);
        put_le16(b + 2, dmin);
        int sc[8], mn[8];
        uint8_t *s = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
        for (int j = 0; j < 8; j++) {
            sc[j] = rnd_int(0, 63);
            mn[j] = rnd_int(0, 63);
        }
        for (int j = 0; j < 4; j++) {
            s[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
            s[j + 4] = (uint8_t)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
            s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
        }
        /* 64 weights per 32 bytes of qs: low nibbles first, then high nibbles */
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int lo = 64 * c + l, hi = lo + 32;
                q[lo] = rnd_int(0, five ? 31 : 15);
                q[hi] = rnd_int(0, five ? 31 : 15);
                qs[32 * c + l] = (uint8_t)((q[lo] & 15) | (q[hi] & 15) << 4);
                if (five) qh[l] |= (uint8_t)((q[lo] >> 4) << (2 * c) | (q[hi] >> 4) << (2 * c + 1));
            }
        for (int i = 0; i < 256; i++)
            w[i] = f16_value(d) * sc[i / 32] * q[i] - f16_value(dmin) * mn[i / 32];
        return 256;
    }
    case Q_Q6_K: { /* ql[128], qh[64], scales[16], d */
        uint16_t d = rnd_f16(false);
        memset(b, 0, 210);
        int sc[16];
        for (int g = 0; g < 16; g++) {
            sc[g] = rnd_int(-128, 127);
            b[192 + g] = (uint8_t)(int8_t)sc[g];
        }
        /* per half of 128: weights l, l+32, l+64, l+96 share qh[l] (2 bits each, in
         * that order) and take low, low, high, high nibbles of ql[l], ql[l+32], ql[l],
         * ql[l+32] */
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++)
                for (int s = 0; s < 4; s++) {
                    int i = 128 * h + 32 * s + l, u = rnd_int(0, 63);
                    q[i] = u - 32;
                    b[64 * h + l + (s & 1) * 32] |= (uint8_t)((u & 15) << (s >= 2 ? 4 : 0));
                    b[128 + 32 * h + l] |= (uint8_t)((u >> 4) << (2 * s));
                }
        put_le16(b + 208, d);
        for (int i = 0; i < 256; i++)
            w[i] = f16_value(d) * sc[i / 16] * q[i];
        return 256;
    }
    }
    ck_abort_msg("no builder for type %u", type);
    return 0;
}

static const uint32_t supported[] = {Q_F32,  Q_F16,  Q_BF16, Q_Q8_0, Q_Q4_0, Q_Q4_1, Q_Q5_0,
                                     Q_Q5_1, Q_Q2_K, Q_Q3_K, Q_Q4_K, Q_Q5_K, Q_Q6_K};
enum { N_SUPPORTED = sizeof supported / sizeof supported[0] };

struct row {
    uint8_t *data;
    double *w; /* expected weights */
    int64_t n;
};

/* A row of at least n elements (rounded up to whole blocks). */
static struct row build_row(uint32_t type, int64_t n)
{
    uint32_t be = quant_block_elems(type), bb = quant_block_bytes(type);
    int64_t nb = (n + be - 1) / be;
    struct row r = {malloc((size_t)(nb * bb)), malloc(sizeof(double) * (size_t)(nb * be)), nb * be};
    ck_assert_ptr_nonnull(r.data);
    ck_assert_ptr_nonnull(r.w);
    for (int64_t i = 0; i < nb; i++)
        build_block(type, r.data + i * bb, r.w + i * be);
    return r;
}

static void free_row(struct row *r)
{
    free(r->data);
    free(r->w);
}

/* Runs the statement after it once per fast path: SIMD kernels (where the CPU has them),
 * then portable ones; SIMD is allowed again afterwards. */
static bool path_select(int simd)
{
    quant_set_simd(simd != 0);
    return simd >= 0;
}
#define FOR_EACH_PATH(simd) for (int simd = 1; path_select(simd); simd--)

static void allow_simd(void)
{
    quant_set_simd(true);
}

/* ---- tests ---- */

START_TEST(test_type_table)
{
    static const struct {
        uint32_t type;
        const char *name;
        uint32_t elems, bytes;
        bool supported;
    } want[] = {
        {Q_F32, "F32", 1, 4, true},        {Q_F16, "F16", 1, 2, true},
        {Q_BF16, "BF16", 1, 2, true},      {Q_Q4_0, "Q4_0", 32, 18, true},
        {Q_Q4_1, "Q4_1", 32, 20, true},    {Q_Q5_0, "Q5_0", 32, 22, true},
        {Q_Q5_1, "Q5_1", 32, 24, true},    {Q_Q8_0, "Q8_0", 32, 34, true},
        {Q_Q8_1, "Q8_1", 32, 36, false},   {Q_Q2_K, "Q2_K", 256, 84, true},
        {Q_Q3_K, "Q3_K", 256, 110, true},  {Q_Q4_K, "Q4_K", 256, 144, true},
        {Q_Q5_K, "Q5_K", 256, 176, true},  {Q_Q6_K, "Q6_K", 256, 210, true},
        {Q_Q8_K, "Q8_K", 256, 292, false}, {20, "IQ4_NL", 32, 18, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_str_eq(quant_name(want[i].type), want[i].name);
        ck_assert(quant_known(want[i].type));
        ck_assert_int_eq(quant_supported(want[i].type), want[i].supported);
        ck_assert_uint_eq(quant_block_elems(want[i].type), want[i].elems);
        ck_assert_uint_eq(quant_block_bytes(want[i].type), want[i].bytes);
    }
    static const uint32_t unknown[] = {4,  5,  31,           32,   33,        36,
                                       40, 63, Q_TYPE_LIMIT, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ck_assert_ptr_null(quant_name(unknown[i]));
        ck_assert(!quant_known(unknown[i]) && !quant_supported(unknown[i]));
        ck_assert_uint_eq(quant_block_elems(unknown[i]), 0);
        ck_assert_uint_eq(quant_block_bytes(unknown[i]), 0);
    }
    /* the list names exactly the supported types */
    char list[256];
    snprintf(list, sizeof list, "%s", quant_supported_list());
    int listed = 0;
    for (char *tok = strtok(list, ", "); tok; tok = strtok(NULL, ", "), listed++) {
        uint32_t t = 0;
        while (t < Q_TYPE_LIMIT && !(quant_name(t) && strcmp(quant_name(t), tok) == 0))
            t++;
        ck_assert_msg(t < Q_TYPE_LIMIT && quant_supported(t), "listed but not supported: %s", tok);
    }
    int n_supported = 0;
    for (uint32_t t = 0; t < Q_TYPE_LIMIT; t++)
        n_supported += quant_supported(t);
    ck_assert_int_eq(listed, n_supported);
    ck_assert_int_eq(n_supported, N_SUPPORTED);
}
END_TEST

START_TEST(test_row_bytes)
{
    uint64_t b = 123;
    ck_assert(quant_row_bytes(Q_F32, 7, &b) && b == 28);
    ck_assert(quant_row_bytes(Q_BF16, 0, &b) && b == 0);
    ck_assert(quant_row_bytes(Q_Q4_0, 4096, &b) && b == 128 * 18);
    ck_assert(quant_row_bytes(Q_Q6_K, 4096, &b) && b == 16 * 210);
    ck_assert(quant_row_bytes(Q_Q8_1, 64, &b) && b == 72); /* known, not supported */
    ck_assert(!quant_row_bytes(Q_Q4_0, 4095, &b) && b == 0);
    ck_assert(!quant_row_bytes(Q_Q4_K, 128, &b));
    ck_assert(!quant_row_bytes(4, 32, &b));
    ck_assert(!quant_row_bytes(UINT32_MAX, 32, &b));
    /* overflow: the byte count must fit in int64_t */
    ck_assert(!quant_row_bytes(Q_F32, UINT64_MAX, &b));
    ck_assert(!quant_row_bytes(Q_F32, (uint64_t)1 << 61, &b));
    ck_assert(quant_row_bytes(Q_F32, ((uint64_t)1 << 61) - 1, &b) && b == ((uint64_t)1 << 63) - 4);
    ck_assert(!quant_row_bytes(Q_Q4_0, 32 * ((uint64_t)INT64_MAX / 18 + 1), &b));
    ck_assert(!quant_row_bytes(Q_Q8_0, UINT64_MAX - 31, &b)); /* a multiple of 32 */
    ck_assert(quant_row_bytes(Q_Q8_0, 32 * ((uint64_t)INT64_MAX / 34), &b));
}
END_TEST

START_TEST(test_f16_all_values)
{
    for (uint32_t h = 0; h < 65536; h++) {
        double want = f16_value((uint16_t)h);
        float got = quant_f16_to_f32((uint16_t)h);
        if (isnan(want)) {
            ck_assert_msg(isnan(got), "h=%04x", h);
            ck_assert(quant_f32_to_f16(got) >> 10 == h >> 10 && (quant_f32_to_f16(got) & 0x3FF));
            continue;
        }
        ck_assert_msg((double)got == want && !signbit(got) == !(h >> 15), "h=%04x", h);
        ck_assert_msg(quant_f32_to_f16(got) == h, "round trip h=%04x", h);
    }
}
END_TEST

/* Every midpoint between neighbouring f16 values (exact in float) goes to the even
 * one; one float ulp either side goes to the nearer. */
START_TEST(test_f16_rounding)
{
    for (uint32_t h = 0; h < 0x7C00; h++) {
        for (int neg = 0; neg < 2; neg++) {
            uint16_t lo = (uint16_t)(h | neg << 15), hi = (uint16_t)(lo + 1);
            double a = f16_value(lo),
                   b = h + 1 == 0x7C00 ? (neg ? -65536.0 : 65536.0) : f16_value(hi);
            float mid = (float)((a + b) / 2);
            ck_assert((double)mid == (a + b) / 2);
            uint16_t even = (lo & 1) ? hi : lo;
            ck_assert_msg(quant_f32_to_f16(mid) == even, "mid of %04x", lo);
            ck_assert_msg(quant_f32_to_f16(nextafterf(mid, (float)a)) == lo, "below mid %04x", lo);
            ck_assert_msg(quant_f32_to_f16(nextafterf(mid, (float)b)) == hi, "above mid %04x", lo);
        }
    }
    ck_assert_uint_eq(quant_f32_to_f16(65519.0f), 0x7BFF);
    ck_assert_uint_eq(quant_f32_to_f16(65520.0f), 0x7C00);
    ck_assert_uint_eq(quant_f32_to_f16(1e10f), 0x7C00);
    ck_assert_uint_eq(quant_f32_to_f16(-INFINITY), 0xFC00);
    ck_assert_uint_eq(quant_f32_to_f16(FLT_MIN / 4), 0);    /* f32 subnormal */
    ck_assert_uint_eq(quant_f32_to_f16(-0x1p-25f), 0x8000); /* half of the least: even */
    ck_assert_uint_eq(quant_f32_to_f16(0x1.000002p-25f), 0x0001);
    uint16_t qnan = quant_f32_to_f16(NAN), snan = quant_f32_to_f16(bits_float(0x7F800001));
    ck_assert((qnan & 0x7C00) == 0x7C00 && (qnan & 0x0200));
    ck_assert((snan & 0x7C00) == 0x7C00 && (snan & 0x0200)); /* comes out quiet */
}
END_TEST

START_TEST(test_bf16)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = quant_bf16_to_f32((uint16_t)h);
        ck_assert_uint_eq(float_bits(f), h << 16);
        if (isnan(f)) {
            ck_assert(isnan(quant_bf16_to_f32(quant_f32_to_bf16(f))));
            continue;
        }
        ck_assert_uint_eq(quant_f32_to_bf16(f), h);
        if ((h & 0x7FFF) >= 0x7F7F) continue; /* no finite upper neighbour */
        /* the midpoint to the next value away from zero, and one ulp either side */
        uint32_t mid = h << 16 | 0x8000;
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        ck_assert_uint_eq(quant_f32_to_bf16(bits_float(mid)), even);
        ck_assert_uint_eq(quant_f32_to_bf16(bits_float(mid - 1)), h);
        ck_assert_uint_eq(quant_f32_to_bf16(bits_float(mid + 1)), h + 1);
    }
    ck_assert_uint_eq(quant_f32_to_bf16(FLT_MAX), 0x7F80); /* rounds up to inf */
    ck_assert_uint_eq(quant_f32_to_bf16(-INFINITY), 0xFF80);
    ck_assert_uint_eq(quant_f32_to_bf16(bits_float(0x00000001)), 0);      /* least subnormal */
    ck_assert_uint_eq(quant_f32_to_bf16(bits_float(0x00018000)), 0x0002); /* tie to even */
    uint16_t snan = quant_f32_to_bf16(bits_float(0x7F800001));
    ck_assert((snan & 0x7F80) == 0x7F80 && (snan & 0x0040));
}
END_TEST

/* ref and fast dequantization of hand-built blocks against the spec's values */
START_TEST(test_dequant_blocks)
{
    uint32_t type = supported[_i];
    struct row r = build_row(type, 1024);
    float *y = malloc(sizeof(float) * (size_t)r.n), *y_ref = malloc(sizeof(float) * (size_t)r.n);
    quant_dequant_row_ref(type, r.data, y_ref, r.n);
    for (int64_t i = 0; i < r.n; i++) {
        /* exact but for the one rounding of "+ m" (Q4_1, Q5_1) and "- dmin * min" (K) */
        double tol = fabs(r.w[i]) * 0x1p-22 + 1e-12;
        ck_assert_msg(fabs(y_ref[i] - r.w[i]) <= tol, "%s ref [%ld]: %.9g want %.9g",
                      quant_name(type), (long)i, y_ref[i], r.w[i]);
    }
    FOR_EACH_PATH(simd)
    {
        quant_dequant_row(type, r.data, y, r.n);
        ck_assert_msg(memcmp(y, y_ref, sizeof(float) * (size_t)r.n) == 0, "%s fast (%s) != ref",
                      quant_name(type), quant_simd_name());
    }
    free(y);
    free(y_ref);
    free_row(&r);
}
END_TEST

/* every f16 and bf16 bit pattern through the fast paths */
START_TEST(test_dequant_all_halves)
{
    uint16_t *h = malloc(65536 * 2);
    float *y = malloc(65536 * sizeof(float)), *y_ref = malloc(65536 * sizeof(float));
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    for (int bf = 0; bf < 2; bf++) {
        uint32_t type = bf ? Q_BF16 : Q_F16;
        quant_dequant_row_ref(type, h, y_ref, 65536);
        FOR_EACH_PATH(simd)
        {
            /* odd lengths and offsets exercise the tails */
            quant_dequant_row(type, h + 3, y + 3, 65533);
            quant_dequant_row(type, h, y, 3);
            for (uint32_t i = 0; i < 65536; i++) {
                if (isnan(y_ref[i]))
                    ck_assert(isnan(y[i]));
                else
                    ck_assert_msg(float_bits(y[i]) == float_bits(y_ref[i]), "%04x", i);
            }
        }
    }
    free(h);
    free(y);
    free(y_ref);
}
END_TEST

/* ref and fast dots against a double dot of the spec's weights, several lengths */
START_TEST(test_dot)
{
    uint32_t type = supported[_i];
    const int64_t be = quant_block_elems(type);
    const int64_t lens[] = {1, 3, 8, 31, 33, 100, 1, 2, 3, 5, 16, 33};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        /* F types: raw lengths (tails); block types: that many blocks */
        int64_t n = be == 1 ? lens[k] * (k < 6 ? 1 : 97) : lens[k] * be;
        struct row r = build_row(type, n);
        float *x = malloc(sizeof(float) * (size_t)n);
        double want = 0.0, mag = 0.0;
        for (int64_t i = 0; i < n; i++) {
            x[i] = rnd_normal();
            want += r.w[i] * x[i];
            mag += fabs(r.w[i] * x[i]);
        }
        double tol = mag * 2e-6 + 1e-30;
        float got = quant_dot_ref(type, r.data, x, n);
        ck_assert_msg(fabs(got - want) <= mag * 1e-7 + 1e-30, "%s ref n=%ld: %.9g want %.9g",
                      quant_name(type), (long)n, got, want);
        FOR_EACH_PATH(simd)
        {
            got = quant_dot(type, r.data, x, n);
            ck_assert_msg(fabs(got - want) <= tol, "%s %s n=%ld: %.9g want %.9g (mag %g)",
                          quant_name(type), quant_simd_name(), (long)n, got, want, mag);
        }
        free(x);
        free_row(&r);
    }
}
END_TEST

/* a zero row quantizes to zero scales and gives zeros back (no nan from 0 / 0) */
START_TEST(test_zero_rows)
{
    uint32_t type = supported[_i];
    const int64_t n = 512;
    float x[512], y[512], ones[512];
    for (int i = 0; i < n; i++) {
        x[i] = 0.0f;
        ones[i] = 1.0f;
    }
    uint64_t bytes;
    ck_assert(quant_row_bytes(type, n, &bytes));
    uint8_t *q = malloc(bytes);
    quant_quantize_row_ref(type, x, q, n);
    quant_dequant_row_ref(type, q, y, n);
    for (int i = 0; i < n; i++)
        ck_assert(y[i] == 0.0f);
    ck_assert(quant_dot_ref(type, q, ones, n) == 0.0f);
    FOR_EACH_PATH(simd) ck_assert(quant_dot(type, q, ones, n) == 0.0f);
    free(q);
}
END_TEST

/* Round trip bounds. Per element for the 32-blocks (from the quantizer's scale and the
 * f16 rounding of d and m); relative RMS for the K types, whose scales are quantized. */
START_TEST(test_round_trip)
{
    uint32_t type = supported[_i];
    const int64_t n = 4096;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    uint64_t bytes;
    ck_assert(quant_row_bytes(type, n, &bytes));
    uint8_t *q = malloc(bytes);
    for (int64_t i = 0; i < n; i++)
        x[i] = rnd_normal() * (i % 512 < 256 ? 1.0f : 1e-3f);
    x[5] = 4.0f;
    x[300] = -4e-3f;
    quant_quantize_row_ref(type, x, q, n);
    quant_dequant_row_ref(type, q, y, n);
    const int be = (int)quant_block_elems(type), len = be > 32 ? be : 32;
    const double r16 = 0x1p-11, a16 = 0x1p-25; /* f16 storage error: relative, subnormal */
    double se = 0.0, sx = 0.0;
    for (int64_t b0 = 0; b0 < n; b0 += len) {
        float lo = x[b0], hi = x[b0], amax = 0.0f;
        for (int j = 0; j < len; j++) {
            lo = fminf(lo, x[b0 + j]);
            hi = fmaxf(hi, x[b0 + j]);
            amax = fmaxf(amax, fabsf(x[b0 + j]));
        }
        /* 32-blocks: the step d (stored as f16), how far a rounded quant may be off in
         * steps (Q4_0 / Q5_0 clamp the far extreme to a whole step), the largest quant
         * and the offset m (stored as f16) */
        double d = 0.0, off = 0.5, qmax = 0.0, m = 0.0;
        switch (type) {
        case Q_Q8_0: d = amax / 127.0, qmax = 127; break;
        case Q_Q4_0: d = amax / 8.0, off = 1.0, qmax = 8; break;
        case Q_Q5_0: d = amax / 16.0, off = 1.0, qmax = 16; break;
        case Q_Q4_1: d = (hi - lo) / 15.0, qmax = 15, m = fabs(lo); break;
        case Q_Q5_1: d = (hi - lo) / 31.0, qmax = 31, m = fabs(lo); break;
        default: break;
        }
        for (int j = 0; j < len; j++) {
            double v = x[b0 + j], e = fabs(y[b0 + j] - v), bound = -1.0;
            se += e * e;
            sx += v * v;
            if (type == Q_F32)
                bound = 0.0;
            else if (type == Q_F16)
                bound = fabs(v) * r16 + a16;
            else if (type == Q_BF16)
                bound = fabs(v) * 0x1p-8;
            else if (qmax > 0)
                bound = off * d + qmax * (d * r16 + a16) + m * r16 + a16;
            if (bound >= 0.0)
                ck_assert_msg(e <= bound * (1 + 1e-6), "%s [%ld] %g -> %g (bound %g)",
                              quant_name(type), (long)(b0 + j), v, y[b0 + j], bound);
        }
    }
    double rel = sqrt(se / sx);
    double max_rel = type == Q_Q2_K   ? 0.38
                     : type == Q_Q3_K ? 0.2
                     : type == Q_Q4_K ? 0.1
                     : type == Q_Q5_K ? 0.05
                     : type == Q_Q6_K ? 0.025
                                      : 1.0;
    if (getenv("QUANT_TEST_VERBOSE"))
        fprintf(stderr, "%s round trip rel rms %.5f\n", quant_name(type), rel);
    ck_assert_msg(rel <= max_rel, "%s relative rms error %g", quant_name(type), rel);
    free(x);
    free(y);
    free(q);
}
END_TEST

/* ---- cross-check with GGUF files from a standard quantizer (../shared/models) ----
 * A minimal reader of just what these tests need; the real parser is src/gguf.c. */

struct mini_tensor {
    char name[96];
    uint32_t type;
    uint64_t ne0, ne1;
    const uint8_t *data;
};

struct mini_gguf {
    char *buf;
    size_t len, pos;
    struct mini_tensor *t;
    uint64_t n_t;
};

static uint64_t mg_take(struct mini_gguf *g, size_t n)
{
    ck_assert_msg(n <= 8 && g->pos + n <= g->len, "truncated GGUF");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)(uint8_t)g->buf[g->pos + i] << (8 * i);
    g->pos += n;
    return v;
}

static void mg_skip(struct mini_gguf *g, uint64_t n)
{
    ck_assert_msg(n <= g->len - g->pos, "truncated GGUF");
    g->pos += n;
}

static void mg_skip_value(struct mini_gguf *g, uint32_t vt)
{
    static const uint8_t size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    ck_assert(vt < sizeof size);
    if (vt == 8) {
        mg_skip(g, mg_take(g, 8));
    } else if (vt == 9) {
        uint32_t et = (uint32_t)mg_take(g, 4);
        uint64_t n = mg_take(g, 8);
        for (uint64_t i = 0; i < n; i++)
            mg_skip_value(g, et);
    } else {
        mg_skip(g, size[vt]);
    }
}

static bool mg_open(struct mini_gguf *g, const char *dir, const char *stem)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/tiny-llama-%s.gguf", dir, stem);
    memset(g, 0, sizeof *g);
    g->buf = test_read_file(path, &g->len);
    if (!g->buf) return false;
    ck_assert(mg_take(g, 4) == 0x46554747); /* "GGUF" */
    ck_assert(mg_take(g, 4) >= 2);
    g->n_t = mg_take(g, 8);
    uint64_t n_kv = mg_take(g, 8), align = 32;
    ck_assert(g->n_t < 10000 && n_kv < 10000);
    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t klen = mg_take(g, 8);
        mg_skip(g, klen);
        bool is_align = klen == 17 && memcmp(g->buf + g->pos - klen, "general.alignment", 17) == 0;
        uint32_t vt = (uint32_t)mg_take(g, 4);
        if (is_align && vt == 4)
            align = mg_take(g, 4);
        else
            mg_skip_value(g, vt);
    }
    g->t = calloc(g->n_t, sizeof *g->t);
    uint64_t *off = calloc(g->n_t, sizeof *off);
    for (uint64_t i = 0; i < g->n_t; i++) {
        uint64_t nlen = mg_take(g, 8);
        ck_assert(nlen < sizeof g->t[i].name);
        memcpy(g->t[i].name, g->buf + g->pos, nlen);
        mg_skip(g, nlen);
        uint32_t nd = (uint32_t)mg_take(g, 4);
        ck_assert(nd >= 1 && nd <= 4);
        g->t[i].ne1 = 1;
        for (uint32_t k = 0; k < nd; k++) {
            uint64_t ne = mg_take(g, 8);
            if (k == 0)
                g->t[i].ne0 = ne;
            else
                g->t[i].ne1 *= ne;
        }
        g->t[i].type = (uint32_t)mg_take(g, 4);
        off[i] = mg_take(g, 8);
    }
    size_t data = (g->pos + align - 1) / align * align;
    for (uint64_t i = 0; i < g->n_t; i++) {
        uint64_t rb;
        ck_assert(quant_row_bytes(g->t[i].type, g->t[i].ne0, &rb));
        ck_assert(data + off[i] + rb * g->t[i].ne1 <= g->len);
        g->t[i].data = (const uint8_t *)g->buf + data + off[i];
    }
    free(off);
    return true;
}

static const struct mini_tensor *mg_find(const struct mini_gguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_t; i++)
        if (strcmp(g->t[i].name, name) == 0) return &g->t[i];
    return NULL;
}

static void mg_close(struct mini_gguf *g)
{
    free(g->buf);
    free(g->t);
}

/* Every quantized tensor of every file against the F32 file: dequantized (ref) within
 * a per-type error of the original, fast dequant bit-exact with ref, fast dot close to
 * ref dot. For the single-type files whose GGML quantizer is plain round-to-nearest
 * (F16, BF16 and the 32-blocks) our quantizer must also reproduce the file's bytes. */
START_TEST(test_gguf)
{
    NEED_SHARED(dir);
    static const char *const stems[] = {"F16",  "BF16", "Q8_0",   "Q4_0",   "Q4_1",   "Q5_0",
                                        "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K"};
    static const double max_rel[Q_TYPE_LIMIT] = {
        [Q_F16] = 1e-3,  [Q_BF16] = 5e-3, [Q_Q8_0] = 0.01, [Q_Q4_0] = 0.15,
        [Q_Q4_1] = 0.12, [Q_Q5_0] = 0.08, [Q_Q5_1] = 0.06, [Q_Q2_K] = 0.45,
        [Q_Q3_K] = 0.25, [Q_Q4_K] = 0.12, [Q_Q5_K] = 0.06, [Q_Q6_K] = 0.03};
    const bool exact = _i < 7;
    struct mini_gguf f32, g;
    ck_assert(mg_open(&f32, dir, "F32"));
    ck_assert(mg_open(&g, dir, stems[_i]));
    for (uint64_t i = 0; i < g.n_t; i++) {
        const struct mini_tensor *t = &g.t[i], *src = mg_find(&f32, t->name);
        if (t->type == Q_F32) continue;
        ck_assert_msg(quant_supported(t->type), "%s: %s", t->name, quant_name(t->type));
        ck_assert(src && src->type == Q_F32 && src->ne0 == t->ne0 && src->ne1 == t->ne1);
        if (exact) ck_assert_str_eq(quant_name(t->type), stems[_i]);
        int64_t n = (int64_t)t->ne0;
        uint64_t rb;
        ck_assert(quant_row_bytes(t->type, t->ne0, &rb));
        float *y = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
        float *x = malloc(sizeof(float) * n);
        uint8_t *q = malloc(rb);
        for (int64_t k = 0; k < n; k++)
            x[k] = rnd_normal();
        double se = 0.0, sx = 0.0;
        for (uint64_t r = 0; r < t->ne1; r++) {
            const uint8_t *row = t->data + r * rb;
            const float *orig = (const float *)(const void *)(src->data + r * t->ne0 * 4);
            if (exact) {
                quant_quantize_row_ref(t->type, orig, q, n);
                ck_assert_msg(memcmp(q, row, rb) == 0, "%s row %lu requantized differs", t->name,
                              (unsigned long)r);
            }
            quant_dequant_row_ref(t->type, row, y, n);
            double mag = 0.0;
            for (int64_t k = 0; k < n; k++) {
                se += (y[k] - (double)orig[k]) * (y[k] - (double)orig[k]);
                sx += (double)orig[k] * orig[k];
                mag += fabs(y[k] * x[k]);
            }
            float want = quant_dot_ref(t->type, row, x, n);
            FOR_EACH_PATH(simd)
            {
                quant_dequant_row(t->type, row, y2, n);
                ck_assert_msg(memcmp(y, y2, sizeof(float) * n) == 0, "%s fast dequant", t->name);
                float got = quant_dot(t->type, row, x, n);
                ck_assert_msg(fabs(got - want) <= mag * 2e-6, "%s dot %g vs %g", t->name, got,
                              want);
            }
        }
        double rel = sqrt(se / sx);
        if (getenv("QUANT_TEST_VERBOSE"))
            fprintf(stderr, "%-8s %-24s %-5s rel rms %.5f\n", stems[_i], t->name,
                    quant_name(t->type), rel);
        ck_assert_msg(rel <= max_rel[t->type], "%s %s (%s): relative rms error %g > %g", stems[_i],
                      t->name, quant_name(t->type), rel, max_rel[t->type]);
        free(y);
        free(y2);
        free(x);
        free(q);
    }
    mg_close(&g);
    mg_close(&f32);
}
END_TEST

Suite *quant_suite(void)
{
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("types");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_type_table);
    tcase_add_test(tc, test_row_bytes);
    tcase_add_test(tc, test_f16_all_values);
    tcase_add_test(tc, test_f16_rounding);
    tcase_add_test(tc, test_bf16);
    suite_add_tcase(s, tc);

    tc = tcase_create("blocks");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, allow_simd);
    tcase_add_loop_test(tc, test_dequant_blocks, 0, N_SUPPORTED);
    tcase_add_test(tc, test_dequant_all_halves);
    tcase_add_loop_test(tc, test_dot, 0, N_SUPPORTED);
    tcase_add_loop_test(tc, test_zero_rows, 0, N_SUPPORTED);
    tcase_add_loop_test(tc, test_round_trip, 0, N_SUPPORTED);
    suite_add_tcase(s, tc);

    tc = tcase_create("gguf");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, allow_simd);
    tcase_add_loop_test(tc, test_gguf, 0, 12);
    suite_add_tcase(s, tc);
    return s;
}
