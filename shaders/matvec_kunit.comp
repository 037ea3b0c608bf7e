#version 450
// matvec_kunit — matvec for the K types on CPU Vulkan devices: each invocation takes one
// 256-element super-block of a row at a time, stages its bytes once with 16-byte texel
// fetches (realigned in registers: Q3_K and Q6_K super-blocks are only 2-byte aligned),
// then decodes its 16 groups from those registers at constant offsets (kquant.glsl reads
// through WREAD = sw[]). The blocks-of-16 matvec.comp path instead reads a group's scales
// and quants from memory for every group, which is a loop over lanes on llvmpipe. The
// host uses it where weights have texel views (CPU devices), for matrix-vector products.
// variants: matvec_kunit_q2_k:TYPE_Q2_K matvec_kunit_q3_k:TYPE_Q3_K matvec_kunit_q4_k:TYPE_Q4_K
// variants: matvec_kunit_q5_k:TYPE_Q5_K matvec_kunit_q6_k:TYPE_Q6_K
// variants: matvec_kunit_q2_k_sg:TYPE_Q2_K,ONE_SUBGROUP matvec_kunit_q3_k_sg:TYPE_Q3_K,ONE_SUBGROUP
// variants: matvec_kunit_q4_k_sg:TYPE_Q4_K,ONE_SUBGROUP matvec_kunit_q5_k_sg:TYPE_Q5_K,ONE_SUBGROUP
// variants: matvec_kunit_q6_k_sg:TYPE_Q6_K,ONE_SUBGROUP
// variants: matvec_kunit_q2_k_ns:TYPE_Q2_K,NO_SUBGROUP matvec_kunit_q3_k_ns:TYPE_Q3_K,NO_SUBGROUP
// variants: matvec_kunit_q4_k_ns:TYPE_Q4_K,NO_SUBGROUP matvec_kunit_q5_k_ns:TYPE_Q5_K,NO_SUBGROUP
// variants: matvec_kunit_q6_k_ns:TYPE_Q6_K,NO_SUBGROUP
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

// stages the super-block at byte offset B in sw[]: 16-byte texels, each word picked by
// selects and shifted into place. Written out (generated), not looped: a loop the compiler
// keeps would index T[] and sw[] per invocation, a loop over lanes on CPU implementations.
#define NT ((SBW + 3u) / 4u + 1u)
// raw word w0 + i: texel (o + i) / 4 from t0, component (o + i) % 4 (o in 0..3)
#define RAW(i)                                                                                     \
    ((o + ((i) & 3u)) < 4u ? sel4(T[(i) >> 2], o + ((i) & 3u))                                    \
                           : sel4(T[((i) >> 2) + 1u], o + ((i) & 3u) - 4u))
#define STG(i) sw[i] = (RAW(i) >> sh) | ((RAW((i) + 1u) << 1u) << (31u - sh));
void sb_stage(uint B)
{
    const uint w0 = B >> 2, sh = (B & 3u) * 8u, t0 = w0 >> 2, o = w0 & 3u;
    uvec4 T[NT];
#if 0 < (SBW_I + 3) / 4 + 1
    T[0] = texelFetch(wtex, int(t0 + 0u));
#endif
#if 1 < (SBW_I + 3) / 4 + 1
    T[1] = texelFetch(wtex, int(t0 + 1u));
#endif
#if 2 < (SBW_I + 3) / 4 + 1
    T[2] = texelFetch(wtex, int(t0 + 2u));
#endif
#if 3 < (SBW_I + 3) / 4 + 1
    T[3] = texelFetch(wtex, int(t0 + 3u));
#endif
#if 4 < (SBW_I + 3) / 4 + 1
    T[4] = texelFetch(wtex, int(t0 + 4u));
#endif
#if 5 < (SBW_I + 3) / 4 + 1
    T[5] = texelFetch(wtex, int(t0 + 5u));
#endif
#if 6 < (SBW_I + 3) / 4 + 1
    T[6] = texelFetch(wtex, int(t0 + 6u));
#endif
#if 7 < (SBW_I + 3) / 4 + 1
    T[7] = texelFetch(wtex, int(t0 + 7u));
#endif
#if 8 < (SBW_I + 3) / 4 + 1
    T[8] = texelFetch(wtex, int(t0 + 8u));
#endif
#if 9 < (SBW_I + 3) / 4 + 1
    T[9] = texelFetch(wtex, int(t0 + 9u));
#endif
#if 10 < (SBW_I + 3) / 4 + 1
    T[10] = texelFetch(wtex, int(t0 + 10u));
#endif
#if 11 < (SBW_I + 3) / 4 + 1
    T[11] = texelFetch(wtex, int(t0 + 11u));
#endif
#if 12 < (SBW_I + 3) / 4 + 1
    T[12] = texelFetch(wtex, int(t0 + 12u));
#endif
#if 13 < (SBW_I + 3) / 4 + 1
    T[13] = texelFetch(wtex, int(t0 + 13u));
#endif
#if 14 < (SBW_I + 3) / 4 + 1
    T[14] = texelFetch(wtex, int(t0 + 14u));
#endif
#if 0 < SBW_I
    STG(0u)
#endif
#if 1 < SBW_I
    STG(1u)
#endif
#if 2 < SBW_I
    STG(2u)
#endif
#if 3 < SBW_I
    STG(3u)
#endif
#if 4 < SBW_I
    STG(4u)
#endif
#if 5 < SBW_I
    STG(5u)
#endif
#if 6 < SBW_I
    STG(6u)
#endif
#if 7 < SBW_I
    STG(7u)
#endif
#if 8 < SBW_I
    STG(8u)
#endif
#if 9 < SBW_I
    STG(9u)
#endif
#if 10 < SBW_I
    STG(10u)
#endif
#if 11 < SBW_I
    STG(11u)
#endif
#if 12 < SBW_I
    STG(12u)
#endif
#if 13 < SBW_I
    STG(13u)
#endif
#if 14 < SBW_I
    STG(14u)
#endif
#if 15 < SBW_I
    STG(15u)
#endif
#if 16 < SBW_I
    STG(16u)
#endif
#if 17 < SBW_I
    STG(17u)
#endif
#if 18 < SBW_I
    STG(18u)
#endif
#if 19 < SBW_I
    STG(19u)
#endif
#if 20 < SBW_I
    STG(20u)
#endif
#if 21 < SBW_I
    STG(21u)
#endif
#if 22 < SBW_I
    STG(22u)
#endif
#if 23 < SBW_I
    STG(23u)
#endif
#if 24 < SBW_I
    STG(24u)
#endif
#if 25 < SBW_I
    STG(25u)
#endif
#if 26 < SBW_I
    STG(26u)
#endif
#if 27 < SBW_I
    STG(27u)
#endif
#if 28 < SBW_I
    STG(28u)
#endif
#if 29 < SBW_I
    STG(29u)
#endif
#if 30 < SBW_I
    STG(30u)
#endif
#if 31 < SBW_I
    STG(31u)
#endif
#if 32 < SBW_I
    STG(32u)
#endif
#if 33 < SBW_I
    STG(33u)
#endif
#if 34 < SBW_I
    STG(34u)
#endif
#if 35 < SBW_I
    STG(35u)
#endif
#if 36 < SBW_I
    STG(36u)
#endif
#if 37 < SBW_I
    STG(37u)
#endif
#if 38 < SBW_I
    STG(38u)
#endif
#if 39 < SBW_I
    STG(39u)
#endif
#if 40 < SBW_I
    STG(40u)
#endif
#if 41 < SBW_I
    STG(41u)
#endif
#if 42 < SBW_I
    STG(42u)
#endif
#if 43 < SBW_I
    STG(43u)
#endif
#if 44 < SBW_I
    STG(44u)
#endif
#if 45 < SBW_I
    STG(45u)
#endif
#if 46 < SBW_I
    STG(46u)
#endif
#if 47 < SBW_I
    STG(47u)
#endif
#if 48 < SBW_I
    STG(48u)
#endif
#if 49 < SBW_I
    STG(49u)
#endif
#if 50 < SBW_I
    STG(50u)
#endif
#if 51 < SBW_I
    STG(51u)
#endif
#if 52 < SBW_I
    STG(52u)
#endif
#if 53 < SBW_I
    STG(53u)
#endif
}

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
