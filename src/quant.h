/* quant — tensor element types: block layouts, conversion, dequantization and
 * dot products against float32 activations on the CPU.
 *
 * Each type has a plain reference implementation (quant_*_ref) written to be read
 * against the format description, and a fast path used by the engine. Tests check
 * both against independently computed values. Knows nothing about models.
 */
#ifndef JOULE_QUANT_H
#define JOULE_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Numbering is the GGML/GGUF one, so values read from a file map directly. */
enum qtype {
    Q_F32 = 0,
    Q_F16 = 1,
    Q_Q4_0 = 2,
    Q_Q4_1 = 3,
    Q_Q5_0 = 6,
    Q_Q5_1 = 7,
    Q_Q8_0 = 8,
    Q_Q8_1 = 9,
    Q_Q2_K = 10,
    Q_Q3_K = 11,
    Q_Q4_K = 12,
    Q_Q5_K = 13,
    Q_Q6_K = 14,
    Q_Q8_K = 15,
    Q_BF16 = 30,
    Q_TYPE_LIMIT = 64 /* values >= this are never valid */
};

/* Name ("Q4_0"), or NULL for a value that is no known GGML type. */
const char *quant_name(uint32_t type);
/* Known layout (block size and bytes) — can be sized and skipped even if not computable. */
bool quant_known(uint32_t type);
/* Implemented for compute on the CPU (dequant + dot). */
bool quant_supported(uint32_t type);
/* Comma-separated list of supported type names, for error messages. */
const char *quant_supported_list(void);
/* Elements per block and bytes per block (0 when unknown). */
uint32_t quant_block_elems(uint32_t type);
uint32_t quant_block_bytes(uint32_t type);
/* Bytes of a row of n elements; returns false if n is not a multiple of the block
 * size or the result overflows. */
bool quant_row_bytes(uint32_t type, uint64_t n, uint64_t *bytes);

float quant_f16_to_f32(uint16_t h);
uint16_t quant_f32_to_f16(float f); /* round to nearest even */
float quant_bf16_to_f32(uint16_t h);
uint16_t quant_f32_to_bf16(float f); /* round to nearest even */

/* Dequantize n elements (n a multiple of the block size) of a row. */
void quant_dequant_row(uint32_t type, const void *src, float *dst, int64_t n);
void quant_dequant_row_ref(uint32_t type, const void *src, float *dst, int64_t n);
/* dot(row, x) with the row dequantized exactly as stored and float activations. */
float quant_dot(uint32_t type, const void *row, const float *x, int64_t n);
float quant_dot_ref(uint32_t type, const void *row, const float *x, int64_t n);

/* Quantize a float row into the given type (reference, round-to-nearest); used by
 * tests and tools to write models. Supported for every type quant_supported() says. */
void quant_quantize_row_ref(uint32_t type, const float *src, void *dst, int64_t n);

/* ---- fast-path selection ---- */
/* Name of the kernel set the fast paths use: "avx2" (an x86-64 CPU with AVX2, FMA and
 * F16C, detected at run time) or "portable" (C that the compiler vectorizes). */
const char *quant_simd_name(void);
/* true when that set is "avx2" (other modules with AVX2 kernels, e.g. cpu_attn, ask here) */
bool quant_simd_avx2(void);
/* Allow (the default) or forbid the SIMD kernels, to test or time the portable ones on
 * any machine. Not to be changed while other threads compute. */
void quant_set_simd(bool allow);

/* ---- internal: the 256-element K family lives in quant_k.c; the functions above
 * check arguments and dispatch to these ---- */
void quant_k_dequant_row_ref(uint32_t type, const void *src, float *dst, int64_t n);
void quant_k_dequant_row(uint32_t type, const void *src, float *dst, int64_t n, bool simd);
float quant_k_dot(uint32_t type, const void *row, const float *x, int64_t n, bool simd);
void quant_k_quantize_row_ref(uint32_t type, const float *src, void *dst, int64_t n);

#endif
