#version 450
// matmul — y[t][r] (+)= W[r] . x[t] (+ bias[r]) for a batch of tokens (prefill). A
// workgroup owns RM rows and WG x TN tokens, an invocation TN tokens of those rows.
// axes: matmul @types
// axes: matmul @k _tx:TEXEL
// TEXEL (CPU devices, types without a unit kernel): weights through the 16-byte texel view
#define NEED_WEIGHTS
#include "common.glsl"
#include "matmul_io.glsl"

// rows per workgroup: specialization constant 2 (the host picks it per device)
layout(constant_id = 2) const uint RM = 8;
#define TN 4u // tokens per invocation

void main()
{
    // Each weight block is loaded once per invocation and used for TN tokens; each x
    // block once and used for RM rows: memory reads (the cost on CPU implementations)
    // per multiply-add fall by both factors. No early return: divergent control flow
    // makes every later load slower there; rows and tokens past the end are clamped.
    const uint r0 = group_x() * RM;
    const uint t0 = (gl_WorkGroupID.y * WG + gl_LocalInvocationID.x) * TN;
    const uint nb = pc.ne0 / QK;
    uint xo[TN];
    for (uint t = 0; t < TN; t++) xo[t] = pc.x_off + min(t0 + t, pc.n - 1u) * pc.x_stride;
    float acc[RM * TN];
    for (uint i = 0; i < RM * TN; i++) acc[i] = 0.0;
    for (uint b = 0; b < nb; b++) {
        vec4 xq[TN * QUADS];
        float xsum[TN];
        for (uint t = 0; t < TN; t++) {
            vec4 xs = vec4(0.0);
            for (uint j = 0; j < QUADS; j++) {
                uint e = xo[t] + b * QK + 4u * j;
#ifdef IS_FLOAT
                xq[t * QUADS + j] = vec4(x[e], x[e + 1u], x[e + 2u], x[e + 3u]);
#else
                xq[t * QUADS + j] = x4[e >> 2];
#endif
                xs += xq[t * QUADS + j];
            }
            xsum[t] = xs.x + xs.y + xs.z + xs.w;
        }
        for (uint r = 0; r < RM; r++) {
            blk_load(min(r0 + r, pc.rows - 1u) * pc.row_bytes, b);
            float d, m;
            blk_head(d, m);
            vec4 s[TN];
            for (uint t = 0; t < TN; t++) s[t] = vec4(0.0);
            for (uint j = 0; j < QUADS; j++) {
                vec4 w = blk_quad(j);
                for (uint t = 0; t < TN; t++) s[t] += w * xq[t * QUADS + j];
            }
            for (uint t = 0; t < TN; t++)
                acc[r * TN + t] += d * (s[t].x + s[t].y + s[t].z + s[t].w) + m * xsum[t];
        }
    }
#ifdef IS_FLOAT
    for (uint e = nb * QK; e < pc.ne0; e++)
        for (uint r = 0; r < RM; r++) {
            float w = dq1(min(r0 + r, pc.rows - 1u) * pc.row_bytes, e);
            for (uint t = 0; t < TN; t++) acc[r * TN + t] += w * x[xo[t] + e];
        }
#endif
    for (uint r = 0; r < RM; r++)
        for (uint t = 0; t < TN; t++)
            if (r0 + r < pc.rows && t0 + t < pc.n) store(t0 + t, r0 + r, acc[r * TN + t]);
}
