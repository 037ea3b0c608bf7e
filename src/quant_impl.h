/* quant_impl — what quant.c, quant_k.c and quant_q8.c share inside the quant module: reading
 * the little-endian fields of a block. Not for use outside the module. */
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

#endif
