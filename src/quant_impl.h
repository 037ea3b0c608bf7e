/* quant_impl — what quant.c, quant_k.c and quant_q8.c share inside the quant module: reading
 * the little-endian fields of a block and the AVX2 pieces both kernel families use. Not for use
 * outside the module. */
#ifndef JOULE_QUANT_IMPL_H
#define JOULE_QUANT_IMPL_H

#include <stdint.h>
#include <string.h>

#include "quant.h"

/* Blocks are byte arrays with no alignment promise: fields are read through memcpy. */
static inline uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* An f16 field (a block's scale) as float. */
static inline float rd_f16(const uint8_t *p)
{
    return quant_f16_to_f32(rd16(p));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Byte j of the result is 0x10 where bit j of bits is set (the fifth bits of Q5_0 / Q5_1):
 * bytes of bits are copied into byte groups by a shuffle (per 128-bit lane), then each byte
 * tests its own bit. always_inline, so that it takes the target of the kernel it is inlined
 * into (AVX2 or AVX-VNNI). */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) __m256i
fifth_bits(uint32_t bits)
{
    const __m256i spread =
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m256i sel = _mm256_set1_epi64x((int64_t)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int32_t)bits), spread);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}
#endif

#endif
