#version 450
// matmul_kunit — matmul for the K types on CPU Vulkan devices (see cpu_matvec_kunit.comp): a
// workgroup owns RM rows and WG x TN tokens, an invocation TN tokens of those rows. The
// super-block of a row is staged once (the same one in every invocation) and its 16 groups
// decoded at constant offsets, then applied to the invocation's tokens, whose x for the
// super-block is held in registers across the rows.
// axes: matmul_kunit @k -|_t8:TN8
#define NEED_WEIGHTS
#define KUNIT
#include "common.glsl"
#include "matmul_io.glsl"

// x through a vec4 texel view of the source activation (binding 8)
layout(binding = 8) uniform samplerBuffer xtex;

// rows per workgroup: specialization constant 2 (the host picks it per device)
layout(constant_id = 2) const uint RM = 8;
#ifdef TN8
#define TN 8u // tokens per invocation (_t8: large batches, half the weight reads per token)
#else
#define TN 4u
#endif

#include "cpu_kunit_stage.glsl"

vec4 xq[TN * 64u]; // x of the current super-block, token-major
float xs[TN * 16u];
float a[TN];

// x of group g for every token (written out: constant indices)
#define XGROUP(g)                                                                                  \
    for (uint t = 0; t < TN; t++) {                                                                \
        const uint xb = x0[t] + 4u * (g), xi = t * 64u + 4u * (g);                                 \
        xq[xi] = texelFetch(xtex, int(xb));                                                        \
        xq[xi + 1u] = texelFetch(xtex, int(xb + 1u));                                              \
        xq[xi + 2u] = texelFetch(xtex, int(xb + 2u));                                              \
        xq[xi + 3u] = texelFetch(xtex, int(xb + 3u));                                              \
        const vec4 v = xq[xi] + xq[xi + 1u] + xq[xi + 2u] + xq[xi + 3u];                           \
        xs[t * 16u + (g)] = v.x + v.y + v.z + v.w;                                                 \
    }

// group g of the staged super-block applied to the TN tokens
#define KGROUP(g)                                                                                  \
    {                                                                                              \
        blk_load(0u, g);                                                                           \
        float d, m;                                                                                \
        blk_head(d, m);                                                                            \
        const vec4 w0 = blk_quad(0u), w1 = blk_quad(1u), w2 = blk_quad(2u), w3 = blk_quad(3u);     \
        for (uint t = 0; t < TN; t++) {                                                            \
            const uint xi = t * 64u + 4u * (g);                                                    \
            const vec4 s = w0 * xq[xi] + w1 * xq[xi + 1u] + w2 * xq[xi + 2u] + w3 * xq[xi + 3u];   \
            a[t] += d * (s.x + s.y + s.z + s.w) + m * xs[t * 16u + (g)];                           \
        }                                                                                          \
    }

void main()
{
    // no early return (divergent control flow slows every later load on CPU
    // implementations): rows and tokens past the end are clamped
    const uint r0 = group_x() * RM;
    const uint t0 = (gl_WorkGroupID.y * WG + gl_LocalInvocationID.x) * TN;
    const uint nsb = pc.ne0 / 256u;
    uint xo[TN];
    for (uint t = 0; t < TN; t++) xo[t] = pc.x_off + min(t0 + t, pc.n - 1u) * pc.x_stride;
    float acc[RM * TN];
    for (uint i = 0; i < RM * TN; i++) acc[i] = 0.0;
    for (uint sb = 0; sb < nsb; sb++) {
        uint x0[TN];
        for (uint t = 0; t < TN; t++) x0[t] = (xo[t] + sb * 256u) / 4u;
        XGROUP(0u) XGROUP(1u) XGROUP(2u) XGROUP(3u) XGROUP(4u) XGROUP(5u) XGROUP(6u) XGROUP(7u)
        XGROUP(8u) XGROUP(9u) XGROUP(10u) XGROUP(11u) XGROUP(12u) XGROUP(13u) XGROUP(14u)
        XGROUP(15u)
        for (uint r = 0; r < RM; r++) {
            sb_stage(min(r0 + r, pc.rows - 1u) * pc.row_bytes + sb * SB_BYTES);
            for (uint t = 0; t < TN; t++) a[t] = 0.0;
            KGROUP(0u) KGROUP(1u) KGROUP(2u) KGROUP(3u) KGROUP(4u) KGROUP(5u) KGROUP(6u) KGROUP(7u)
            KGROUP(8u) KGROUP(9u) KGROUP(10u) KGROUP(11u) KGROUP(12u) KGROUP(13u) KGROUP(14u)
            KGROUP(15u)
            for (uint t = 0; t < TN; t++) acc[r * TN + t] += a[t];
        }
    }
    for (uint r = 0; r < RM; r++)
        for (uint t = 0; t < TN; t++)
            if (r0 + r < pc.rows && t0 + t < pc.n) store(t0 + t, r0 + r, acc[r * TN + t]);
}
