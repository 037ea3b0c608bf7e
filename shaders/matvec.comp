#version 450
// matvec — y[t][r] (+)= W[r] . x[t] (+ bias[r]) for a few tokens (decode). A workgroup
// computes ROWS rows of one token: its invocations stride over the blocks of the rows
// (each x quad is loaded once and used for every row) and reduce across the workgroup.
// TEXEL: weights read through a uniform texel buffer (binding 6) instead of binding 0;
// X4 (float rows whose length is a multiple of 4): x read as vec4.
// axes: matvec @types -|_tx:TEXEL @reduce
// axes: matvec @floats _x4:X4 -|_tx:TEXEL @reduce
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
