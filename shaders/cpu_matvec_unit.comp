#version 450
// matvec_unit — the matvec of matvec.comp for rows that split into whole units of U
// blocks (common.glsl: UNIT) whose bytes start 8-byte aligned. Each invocation takes one
// unit of a row at a time, so a workgroup reads a row as a few long contiguous runs (a
// short row in one pass), and the unit is staged with aligned 8-byte texel fetches in
// which every field is at a constant offset: no per-block realignment. Made for CPU
// Vulkan implementations (texel fetches gather in SIMD there; see vk_mem.c), correct on
// any device. The host uses it only when ne0 is a multiple of U * QK and row_bytes of 8.
// axes: matvec_unit @unit @reduce
#define NEED_REDUCE
#define NEED_WEIGHTS
#define UNIT
#include "common.glsl"
#include "matmul_io.glsl"

// rows per workgroup: pc.rpg (the host picks it per weight), at most ROWS,
// specialization constant 1 (the host picks it per device)
layout(constant_id = 1) const uint ROWS = 8;

vec4 xq[U * QUADS]; // x of the current unit
float xsum[U];

// the unit's block k (a constant) dotted with its x
#define UNIT_BLOCK(k)                                                                              \
    {                                                                                              \
        KB = (k) * BLOCK_BYTES;                                                                    \
        float d, m;                                                                                \
        blk_head(d, m);                                                                            \
        vec4 s = vec4(0.0);                                                                        \
        for (uint j = 0; j < QUADS; j++) s += blk_quad(j) * xq[(k) * QUADS + j];                \
        a += d * (s.x + s.y + s.z + s.w) + m * xsum[k];                                          \
    }

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint R = min(pc.rpg, ROWS); // rows of this dispatch's groups
    const uint r0 = group_x() * R;
    const uint t = gl_WorkGroupID.y;
    const uint xo = pc.x_off + t * pc.x_stride;
    const uint nu = pc.ne0 / (U * QK);
    float acc[ROWS];
    uint roff[ROWS];
    for (uint r = 0; r < R; r++) {
        acc[r] = 0.0;
        roff[r] = min(r0 + r, pc.rows - 1u) * pc.row_bytes;
    }
    for (uint u = l; u < nu; u += WG) {
        for (uint k = 0; k < U; k++) {
            vec4 xs = vec4(0.0);
            for (uint j = 0; j < QUADS; j++) {
                xq[k * QUADS + j] = xload4((xo + (u * U + k) * QK) / 4u + j);
                xs += xq[k * QUADS + j];
            }
            xsum[k] = xs.x + xs.y + xs.z + xs.w;
        }
        for (uint r = 0; r < R; r++) {
            unit_load(roff[r] + u * UB);
            float a = 0.0;
            UNIT_BLOCK(0u)
            UNIT_BLOCK(1u)
#ifdef U_IS_4
            UNIT_BLOCK(2u)
            UNIT_BLOCK(3u)
#endif
            acc[r] += a;
        }
    }
    for (uint r = 0; r < R; r++) {
        float v = wg_sum(acc[r]);
        if (l == 0u && r0 + r < pc.rows) store(t, r0 + r, v);
    }
}
