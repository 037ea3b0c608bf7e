/* quant_q8 — the `fast` precision's kernels: activations quantized to 8 bits once per
 * product, and integer dot products of them with quantized weight rows.
 *
 * An activation row of n floats (n a multiple of 32) is stored as
 *   int8 q[n]            q = round(x / d), |q| <= 127
 *   float d[n / 32]      one scale per 32 values: amax / 127
 *   float s[n / 16]      d * (sum of the 16 q of each half block), for weight offsets/mins
 * in q8_act_bytes(n) bytes (a multiple of 4; keep rows 4-byte aligned).
 *
 * Every supported weight type is decoded 32 weights at a time into unsigned bytes u
 * (Q8_0: signed bytes) with, per half of 16, a float scale S and offset M, so that the
 * weights are w = S * u + M (M = 0 for Q8_0). Then a 32-value block contributes
 *   d * (S0 * sum_{l<16} u q + S1 * sum_{l>=16} u q) + M0 * s0 + M1 * s1,
 * the integer sums done with vpmaddubsw/vpmaddwd (AVX2) or vpdpbusd (AVX-VNNI), chosen
 * at run time; portable C elsewhere. The result equals the dot product of the stored
 * weights with the dequantized activations up to float rounding.
 */
#ifndef JOULE_QUANT_Q8_H
#define JOULE_QUANT_Q8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most tokens one q8_dot_tile() call takes. */
enum { Q8_TILE = 8 };

/* Weight types with integer kernels: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K .. Q6_K. */
bool q8_supported(uint32_t type);
/* Bytes of one quantized activation row of n values (n a multiple of 32). */
size_t q8_act_bytes(int64_t n);
/* Quantizes n floats (n a multiple of 32) into dst (q8_act_bytes(n), 4-byte aligned). */
void q8_quantize_row(const float *x, void *dst, int64_t n);
/* Dequantizes an activation row back to floats (d * q), for tests. */
void q8_dequant_act(const void *act, float *y, int64_t n);

/* dot(weight row, activation row), n elements (a multiple of the type's block). */
float q8_dot(uint32_t type, const void *row, const void *act, int64_t n);
/* out[t] = dot(row, activation row t) for t < n_tok (1..Q8_TILE); activation row t is at
 * act + t * act_stride bytes. The row's blocks are decoded once for all n_tok rows. */
void q8_dot_tile(uint32_t type, const void *row, const void *act, size_t act_stride, int n_tok,
                 int64_t n, float *out);
/* Portable C of q8_dot (the same integer decomposition), also for tests. */
float q8_dot_c(uint32_t type, const void *row, const void *act, int64_t n);

/* Rows interleaved by 8 ("x8"), for the types where it pays (Q4_0, Q8_0): the rows of a
 * matrix are repacked at load, 8 at a time, so that one 256-bit register holds 4 weights
 * of each of 8 rows and one broadcast of 4 activation bytes feeds all 8 (layout in
 * quant_q8.c). The packed matrix has the file layout's size. */
bool q8_x8_supported(uint32_t type);
/* Packs rows [0, n_rows) of src (rows of n weights, the file layout) into dst, in groups
 * of 8 rows (n_rows a multiple of 8). dst holds n_rows * quant_row_bytes(type, n) bytes. */
void q8_x8_pack(uint32_t type, const void *src, void *dst, int64_t n, int64_t n_rows);
/* The 8 rows of one packed group against n_tok (1..Q8_TILE) activation rows:
 * out[8 * t + r] = dot(row r, activation row t). */
void q8_x8_tile(uint32_t type, const void *group, const void *act, size_t act_stride, int n_tok,
                int64_t n, float *out);

/* Kernel set in use: "avx-vnni", "avx2" or "portable". */
const char *q8_simd_name(void);
/* 0: portable only, 1: up to AVX2, 2: up to AVX-VNNI (the default: the best present).
 * For tests and timing; not to be changed while other threads compute. */
void q8_set_level(int level);

#endif
