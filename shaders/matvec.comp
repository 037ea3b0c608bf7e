#version 450
// matvec — y[t][r] (+)= W[r] . x[t] (+ bias[r]) for a few tokens (decode). A workgroup
// computes ROWS rows of one token: its invocations stride over the blocks of the rows
// (each x quad is loaded once and used for every row) and reduce across the workgroup.
// variants: matvec_f32:TYPE_F32 matvec_f16:TYPE_F16 matvec_bf16:TYPE_BF16
// variants: matvec_q8_0:TYPE_Q8_0 matvec_q4_0:TYPE_Q4_0 matvec_q4_1:TYPE_Q4_1
// variants: matvec_q5_0:TYPE_Q5_0 matvec_q5_1:TYPE_Q5_1
// variants: matvec_f32_ns:TYPE_F32,NO_SUBGROUP matvec_f16_ns:TYPE_F16,NO_SUBGROUP
// variants: matvec_bf16_ns:TYPE_BF16,NO_SUBGROUP matvec_q8_0_ns:TYPE_Q8_0,NO_SUBGROUP
// variants: matvec_q4_0_ns:TYPE_Q4_0,NO_SUBGROUP matvec_q4_1_ns:TYPE_Q4_1,NO_SUBGROUP
// variants: matvec_q5_0_ns:TYPE_Q5_0,NO_SUBGROUP matvec_q5_1_ns:TYPE_Q5_1,NO_SUBGROUP
// variants: matvec_f32_sg:TYPE_F32,ONE_SUBGROUP matvec_f16_sg:TYPE_F16,ONE_SUBGROUP
// variants: matvec_bf16_sg:TYPE_BF16,ONE_SUBGROUP matvec_q8_0_sg:TYPE_Q8_0,ONE_SUBGROUP
// variants: matvec_q4_0_sg:TYPE_Q4_0,ONE_SUBGROUP matvec_q4_1_sg:TYPE_Q4_1,ONE_SUBGROUP
// variants: matvec_q5_0_sg:TYPE_Q5_0,ONE_SUBGROUP matvec_q5_1_sg:TYPE_Q5_1,ONE_SUBGROUP
// variants: matvec_q2_k:TYPE_Q2_K matvec_q3_k:TYPE_Q3_K matvec_q4_k:TYPE_Q4_K matvec_q5_k:TYPE_Q5_K
// variants: matvec_q6_k:TYPE_Q6_K
// variants: matvec_q2_k_ns:TYPE_Q2_K,NO_SUBGROUP matvec_q3_k_ns:TYPE_Q3_K,NO_SUBGROUP
// variants: matvec_q4_k_ns:TYPE_Q4_K,NO_SUBGROUP matvec_q5_k_ns:TYPE_Q5_K,NO_SUBGROUP
// variants: matvec_q6_k_ns:TYPE_Q6_K,NO_SUBGROUP
// variants: matvec_q2_k_sg:TYPE_Q2_K,ONE_SUBGROUP matvec_q3_k_sg:TYPE_Q3_K,ONE_SUBGROUP
// variants: matvec_q4_k_sg:TYPE_Q4_K,ONE_SUBGROUP matvec_q5_k_sg:TYPE_Q5_K,ONE_SUBGROUP
// variants: matvec_q6_k_sg:TYPE_Q6_K,ONE_SUBGROUP
// float rows whose length is a multiple of 4 (X4: x read as vec4):
// variants: matvec_f32_x4:TYPE_F32,X4 matvec_f16_x4:TYPE_F16,X4 matvec_bf16_x4:TYPE_BF16,X4
// variants: matvec_f32_x4_sg:TYPE_F32,X4,ONE_SUBGROUP matvec_f16_x4_sg:TYPE_F16,X4,ONE_SUBGROUP
// variants: matvec_bf16_x4_sg:TYPE_BF16,X4,ONE_SUBGROUP matvec_f32_x4_ns:TYPE_F32,X4,NO_SUBGROUP
// variants: matvec_f16_x4_ns:TYPE_F16,X4,NO_SUBGROUP matvec_bf16_x4_ns:TYPE_BF16,X4,NO_SUBGROUP
// TEXEL: weights read through a uniform texel buffer (binding 6) instead of binding 0:
// variants: matvec_f32_tx:TYPE_F32,TEXEL matvec_f32_tx_sg:TYPE_F32,TEXEL,ONE_SUBGROUP
// variants: matvec_f32_tx_ns:TYPE_F32,TEXEL,NO_SUBGROUP
// variants: matvec_f16_tx:TYPE_F16,TEXEL matvec_f16_tx_sg:TYPE_F16,TEXEL,ONE_SUBGROUP
// variants: matvec_f16_tx_ns:TYPE_F16,TEXEL,NO_SUBGROUP
// variants: matvec_bf16_tx:TYPE_BF16,TEXEL matvec_bf16_tx_sg:TYPE_BF16,TEXEL,ONE_SUBGROUP
// variants: matvec_bf16_tx_ns:TYPE_BF16,TEXEL,NO_SUBGROUP
// variants: matvec_q8_0_tx:TYPE_Q8_0,TEXEL matvec_q8_0_tx_sg:TYPE_Q8_0,TEXEL,ONE_SUBGROUP
// variants: matvec_q8_0_tx_ns:TYPE_Q8_0,TEXEL,NO_SUBGROUP
// variants: matvec_q4_0_tx:TYPE_Q4_0,TEXEL matvec_q4_0_tx_sg:TYPE_Q4_0,TEXEL,ONE_SUBGROUP
// variants: matvec_q4_0_tx_ns:TYPE_Q4_0,TEXEL,NO_SUBGROUP
// variants: matvec_q4_1_tx:TYPE_Q4_1,TEXEL matvec_q4_1_tx_sg:TYPE_Q4_1,TEXEL,ONE_SUBGROUP
// variants: matvec_q4_1_tx_ns:TYPE_Q4_1,TEXEL,NO_SUBGROUP
// variants: matvec_q5_0_tx:TYPE_Q5_0,TEXEL matvec_q5_0_tx_sg:TYPE_Q5_0,TEXEL,ONE_SUBGROUP
// variants: matvec_q5_0_tx_ns:TYPE_Q5_0,TEXEL,NO_SUBGROUP
// variants: matvec_q5_1_tx:TYPE_Q5_1,TEXEL matvec_q5_1_tx_sg:TYPE_Q5_1,TEXEL,ONE_SUBGROUP
// variants: matvec_q5_1_tx_ns:TYPE_Q5_1,TEXEL,NO_SUBGROUP
// variants: matvec_q2_k_tx:TYPE_Q2_K,TEXEL matvec_q2_k_tx_sg:TYPE_Q2_K,TEXEL,ONE_SUBGROUP
// variants: matvec_q2_k_tx_ns:TYPE_Q2_K,TEXEL,NO_SUBGROUP
// variants: matvec_q3_k_tx:TYPE_Q3_K,TEXEL matvec_q3_k_tx_sg:TYPE_Q3_K,TEXEL,ONE_SUBGROUP
// variants: matvec_q3_k_tx_ns:TYPE_Q3_K,TEXEL,NO_SUBGROUP
// variants: matvec_q4_k_tx:TYPE_Q4_K,TEXEL matvec_q4_k_tx_sg:TYPE_Q4_K,TEXEL,ONE_SUBGROUP
// variants: matvec_q4_k_tx_ns:TYPE_Q4_K,TEXEL,NO_SUBGROUP
// variants: matvec_q5_k_tx:TYPE_Q5_K,TEXEL matvec_q5_k_tx_sg:TYPE_Q5_K,TEXEL,ONE_SUBGROUP
// variants: matvec_q5_k_tx_ns:TYPE_Q5_K,TEXEL,NO_SUBGROUP
// variants: matvec_q6_k_tx:TYPE_Q6_K,TEXEL matvec_q6_k_tx_sg:TYPE_Q6_K,TEXEL,ONE_SUBGROUP
// variants: matvec_q6_k_tx_ns:TYPE_Q6_K,TEXEL,NO_SUBGROUP
// variants: matvec_f32_x4_tx:TYPE_F32,X4,TEXEL matvec_f32_x4_tx_sg:TYPE_F32,X4,TEXEL,ONE_SUBGROUP
// variants: matvec_f32_x4_tx_ns:TYPE_F32,X4,TEXEL,NO_SUBGROUP
// variants: matvec_f16_x4_tx:TYPE_F16,X4,TEXEL matvec_f16_x4_tx_sg:TYPE_F16,X4,TEXEL,ONE_SUBGROUP
// variants: matvec_f16_x4_tx_ns:TYPE_F16,X4,TEXEL,NO_SUBGROUP
// variants: matvec_bf16_x4_tx:TYPE_BF16,X4,TEXEL matvec_bf16_x4_tx_sg:TYPE_BF16,X4,TEXEL,ONE_SUBGROUP
// variants: matvec_bf16_x4_tx_ns:TYPE_BF16,X4,TEXEL,NO_SUBGROUP
#define NEED_REDUCE
#define NEED_WEIGHTS
#include "common.glsl"
#include "matmul_io.glsl"

// rows per workgroup: pc.rpg (the host picks it per weight), at most ROWS,
// specialization constant 1 (the host picks it per device)
layout(constant_id = 1) const uint ROWS = 8;

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint R = min(pc.rpg, ROWS); // rows of this dispatch's groups
    const uint r0 = group_x() * R;
    const uint t = gl_WorkGroupID.y;
    const uint xo = pc.x_off + t * pc.x_stride;
    const uint nb = pc.ne0 / QK;
    float acc[ROWS];
    uint roff[ROWS];
    for (uint r = 0; r < R; r++) {
        acc[r] = 0.0;
        roff[r] = min(r0 + r, pc.rows - 1u) * pc.row_bytes;
    }
    for (uint b = l; b < nb; b += WG) {
        vec4 xq[QUADS];
        vec4 xs = vec4(0.0);
        for (uint j = 0; j < QUADS; j++) {
            uint e = xo + b * QK + 4u * j;
#if defined(IS_FLOAT) && !defined(X4)
            xq[j] = vec4(x[e], x[e + 1u], x[e + 2u], x[e + 3u]);
#else
            xq[j] = x4[e >> 2];
#endif
            xs += xq[j];
        }
        const float xsum = xs.x + xs.y + xs.z + xs.w;
        for (uint r = 0; r < R; r++) {
            blk_load(roff[r], b);
            float d, m;
            blk_head(d, m);
            vec4 s = vec4(0.0);
            for (uint j = 0; j < QUADS; j++) s += blk_quad(j) * xq[j];
            acc[r] += d * (s.x + s.y + s.z + s.w) + m * xsum;
        }
    }
#ifdef IS_FLOAT
    for (uint e = nb * QK + l; e < pc.ne0; e += WG)
        for (uint r = 0; r < R; r++) acc[r] += dq1(roff[r], e) * x[xo + e];
#endif
    for (uint r = 0; r < R; r++) {
        float v = wg_sum(acc[r]);
        if (l == 0u && r0 + r < pc.rows) store(t, r0 + r, v);
    }
}
