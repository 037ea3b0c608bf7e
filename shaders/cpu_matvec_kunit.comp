#version 450
// matvec_kunit — matvec for the K types on CPU Vulkan devices: each invocation takes one
// 256-element super-block of a row at a time, stages its bytes once with 16-byte texel
// fetches (realigned in registers: Q3_K and Q6_K super-blocks are only 2-byte aligned),
// then decodes its 16 groups from those registers at constant offsets (kquant.glsl reads
// through WREAD = sw[]). The blocks-of-16 matvec.comp path instead reads a group's scales
// and quants from memory for every group, which is a loop over lanes on llvmpipe. The
// host uses it where weights have texel views (CPU devices), for matrix-vector products.
// axes: matvec_kunit @k @reduce
#define NEED_REDUCE
#define NEED_WEIGHTS
#define KUNIT
#include "common.glsl"
#include "matmul_io.glsl"

// x through a vec4 texel view of the source activation (binding 8)
layout(binding = 8) uniform samplerBuffer xtex;

// rows per workgroup: pc.rpg (the host picks it per weight), at most ROWS,
// specialization constant 1 (the host picks it per device)
layout(constant_id = 1) const uint ROWS = 8;

#include "cpu_kunit_stage.glsl"

vec4 xq[64]; // x of the current super-block
float xs[16];  // sums of its groups of 16

// x of group g (written out for constant indices, as above)
#define XGROUP(g)                                                                                  \
    {                                                                                              \
        xq[4u * (g)] = texelFetch(xtex, int(x0 + 4u * (g)));                                       \
        xq[4u * (g) + 1u] = texelFetch(xtex, int(x0 + 4u * (g) + 1u));                             \
        xq[4u * (g) + 2u] = texelFetch(xtex, int(x0 + 4u * (g) + 2u));                             \
        xq[4u * (g) + 3u] = texelFetch(xtex, int(x0 + 4u * (g) + 3u));                             \
        const vec4 v = xq[4u * (g)] + xq[4u * (g) + 1u] + xq[4u * (g) + 2u] + xq[4u * (g) + 3u];   \
        xs[g] = v.x + v.y + v.z + v.w;                                                             \
    }

#define KGROUP(g)                                                                                  \
    {                                                                                              \
        blk_load(0u, g);                                                                           \
        float d, m;                                                                                \
        blk_head(d, m);                                                                            \
        const vec4 s = blk_quad(0u) * xq[4u * (g)] + blk_quad(1u) * xq[4u * (g) + 1u] +             \
                       blk_quad(2u) * xq[4u * (g) + 2u] + blk_quad(3u) * xq[4u * (g) + 3u];         \
        a += d * (s.x + s.y + s.z + s.w) + m * xs[g];                                              \
    }

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint R = min(pc.rpg, ROWS); // rows of this dispatch's groups
    const uint r0 = group_x() * R;
    const uint t = gl_WorkGroupID.y;
    const uint xo = pc.x_off + t * pc.x_stride;
    const uint nsb = pc.ne0 / 256u;
    float acc[ROWS];
    uint roff[ROWS];
    for (uint r = 0; r < R; r++) {
        acc[r] = 0.0;
        roff[r] = min(r0 + r, pc.rows - 1u) * pc.row_bytes;
    }
    for (uint sb = l; sb < nsb; sb += WG) {
        const uint x0 = (xo + sb * 256u) / 4u;
        XGROUP(0u) XGROUP(1u) XGROUP(2u) XGROUP(3u) XGROUP(4u) XGROUP(5u) XGROUP(6u) XGROUP(7u)
        XGROUP(8u) XGROUP(9u) XGROUP(10u) XGROUP(11u) XGROUP(12u) XGROUP(13u) XGROUP(14u)
        XGROUP(15u)
        for (uint r = 0; r < R; r++) {
            sb_stage(roff[r] + sb * SB_BYTES);
            float a = 0.0;
            KGROUP(0u) KGROUP(1u) KGROUP(2u) KGROUP(3u) KGROUP(4u) KGROUP(5u) KGROUP(6u) KGROUP(7u)
            KGROUP(8u) KGROUP(9u) KGROUP(10u) KGROUP(11u) KGROUP(12u) KGROUP(13u) KGROUP(14u)
            KGROUP(15u)
            acc[r] += a;
        }
    }
    for (uint r = 0; r < R; r++) {
        float v = wg_sum(acc[r]);
        if (l == 0u && r0 + r < pc.rows) store(t, r0 + r, v);
    }
}
