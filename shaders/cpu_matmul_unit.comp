#version 450
// matmul_unit — the matmul of matmul.comp for weights that matvec_unit can read (rows of
// whole units of U blocks, 8-byte aligned; common.glsl: UNIT). A workgroup owns RM rows
// and WG x TN tokens, an invocation TN tokens of those rows; every invocation reads the
// same unit, staged with aligned 8-byte texel fetches, and applies it to its tokens. On
// CPU implementations a storage-buffer read is a loop over lanes even when all lanes
// read the same word, while a texel fetch is straight-line code: this is what makes
// prefill fast there. Per-row sums are kept per unit (not per block) in acc[].
// axes: matmul_unit @unit -|_t8:TN8
#define NEED_WEIGHTS
#define UNIT
#include "common.glsl"
#include "matmul_io.glsl"

// rows per workgroup: specialization constant 2 (the host picks it per device)
layout(constant_id = 2) const uint RM = 8;
#ifdef TN8
#define TN 8u // tokens per invocation (_t8: large batches, half the weight reads per token)
#else
#define TN 4u
#endif

vec4 xq[TN * U * QUADS]; // x of the current unit, token-major
float xsum[TN * U];
float a[TN];

// quad j of block k (both constants) applied to the TN tokens. Written out rather than
// looped: where the compiler keeps a loop over j (it did for Q5_0), j indexes the staged
// words and xq[] dynamically, which on CPU implementations is a loop over lanes per read.
#define UNIT_QUAD(k, j)                                                                            \
    {                                                                                              \
        const vec4 w = blk_quad(j);                                                                \
        for (uint t = 0; t < TN; t++) s[t] += w * xq[(t * U + (k)) * QUADS + (j)];                 \
    }
#ifdef QK32
#define UNIT_QUADS_4_TO_7(k) UNIT_QUAD(k, 4u) UNIT_QUAD(k, 5u) UNIT_QUAD(k, 6u) UNIT_QUAD(k, 7u)
#else
#define UNIT_QUADS_4_TO_7(k)
#endif

// the unit's block k (a constant) applied to the TN tokens
#define UNIT_BLOCK(k)                                                                              \
    {                                                                                              \
        KB = (k) * BLOCK_BYTES;                                                                    \
        float d, m;                                                                                \
        blk_head(d, m);                                                                            \
        vec4 s[TN];                                                                                \
        for (uint t = 0; t < TN; t++) s[t] = vec4(0.0);                                            \
        UNIT_QUAD(k, 0u)                                                                           \
        UNIT_QUAD(k, 1u)                                                                           \
        UNIT_QUAD(k, 2u)                                                                           \
        UNIT_QUAD(k, 3u)                                                                           \
        UNIT_QUADS_4_TO_7(k)                                                                       \
        for (uint t = 0; t < TN; t++)                                                              \
            a[t] += d * (s[t].x + s[t].y + s[t].z + s[t].w) + m * xsum[t * U + (k)];               \
    }

void main()
{
    // no early return (divergent control flow slows every later load on CPU
    // implementations): rows and tokens past the end are clamped
    const uint r0 = group_x() * RM;
    const uint t0 = (gl_WorkGroupID.y * WG + gl_LocalInvocationID.x) * TN;
    const uint nu = pc.ne0 / (U * QK);
    uint xo[TN];
    for (uint t = 0; t < TN; t++) xo[t] = pc.x_off + min(t0 + t, pc.n - 1u) * pc.x_stride;
    float acc[RM * TN];
    for (uint i = 0; i < RM * TN; i++) acc[i] = 0.0;
    for (uint u = 0; u < nu; u++) {
        for (uint t = 0; t < TN; t++)
            for (uint k = 0; k < U; k++) {
                vec4 xs = vec4(0.0);
                for (uint j = 0; j < QUADS; j++) {
                    const vec4 v = xload4((xo[t] + (u * U + k) * QK) / 4u + j);
                    xq[(t * U + k) * QUADS + j] = v;
                    xs += v;
                }
                xsum[t * U + k] = xs.x + xs.y + xs.z + xs.w;
            }
        for (uint r = 0; r < RM; r++) {
            unit_load(min(r0 + r, pc.rows - 1u) * pc.row_bytes + u * UB);
            for (uint t = 0; t < TN; t++) a[t] = 0.0;
            UNIT_BLOCK(0u)
            UNIT_BLOCK(1u)
#ifdef U_IS_4
            UNIT_BLOCK(2u)
            UNIT_BLOCK(3u)
#endif
            for (uint t = 0; t < TN; t++) acc[r * TN + t] += a[t];
        }
    }
    for (uint r = 0; r < RM; r++)
        for (uint t = 0; t < TN; t++)
            if (r0 + r < pc.rows && t0 + t < pc.n) store(t0 + t, r0 + r, acc[r * TN + t]);
}
