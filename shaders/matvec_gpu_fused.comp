#version 450
// matvec_gpu_fused — the GPU decode product (matvec_gpu.comp: the K loop, the decoding and
// the batch of NT tokens are the same) for the products of a graph run that read one input:
//   SET: up to 3 weights of one type (q, k, v) in one dispatch; workgroups [0, g1) take rows
//        of weight 0, [g1, g2) of weight 1, [g2, ..) of weight 2, each writing its own output
//        (and adding its bias);
//   GLU: gate and up; each workgroup computes the same ROWS rows of both and writes
//        silu(gate) * up to the gate output (the SwiGLU of the graph, no up written).
// flags bit 0 (the graph's fold): x is the RMSNorm's input, normalised here: each workgroup
// sums its tokens' squares (it reads all of x anyway), multiplies x by the norm weight as it
// reads it and the products by 1 / sqrt(mean + eps) at the end (the norm's math, in another
// order: within float rounding). Bit 1 + k: weight k has a bias.
// axes: matvec_gpu _q8_0:TYPE_Q8_0|_q4_0:TYPE_Q4_0|_q4_k:TYPE_Q4_K|_q6_k:TYPE_Q6_K _set:MV_SET|_glu:MV_GLU @reduce
#define NEED_REDUCE
#define NEED_WEIGHTS
// weights 1 and 2 (weight 0 is common.glsl's wdata, binding 0); reads go to weight wsel,
// which is uniform in a workgroup (SET) or a constant of the unrolled row loop (GLU)
layout(std430, binding = 9) readonly buffer W1Buf { uint wdata1[]; };
layout(std430, binding = 10) readonly buffer W2Buf { uint wdata2[]; };
uint wsel = 0u;
uint wread(uint i);
#define WREAD(i) wread(i)
#include "common.glsl"
uint wread(uint i)
{
    if (wsel == 0u) return wdata[i];
    if (wsel == 1u) return wdata1[i];
    return wdata2[i];
}

layout(std430, binding = 1) readonly buffer XBuf4 { vec4 x4[]; };
layout(std430, binding = 2) buffer Y0Buf { float y0[]; };
layout(std430, binding = 11) buffer Y1Buf { float y1[]; };
layout(std430, binding = 12) buffer Y2Buf { float y2[]; };
layout(std430, binding = 3) readonly buffer B0Buf { float b0[]; };
layout(std430, binding = 13) readonly buffer B1Buf { float b1[]; };
layout(std430, binding = 14) readonly buffer B2Buf { float b2[]; };
layout(std430, binding = 15) readonly buffer NBuf { vec4 nw4[]; }; // the RMSNorm's weight

// struct vk_pc_mvg_fused (vk_kernel.h)
layout(push_constant) uniform PC
{
    uint ne0, row_bytes, x_off, x_stride, flags;
    uint rows0, rows1, rows2; // rows of each weight (GLU: rows0 for both)
    uint ys0, ys1, ys2;       // row strides of the outputs (floats)
    uint g1, g2;              // SET: the first workgroup of weights 1 and 2
    float eps;
} pc;

layout(constant_id = 3) const uint ROWS = 2;
layout(constant_id = 4) const uint NT = 1;

#include "mvg_decode.glsl"

#ifdef MV_GLU
#define MV_NW 2u // weights decoded per workgroup
#else
#define MV_NW 1u
#endif
#define RR (MV_NW * ROWS)

float bias_of(uint k, uint r)
{
    if ((pc.flags & (2u << k)) == 0u) return 0.0;
    return k == 0u ? b0[r] : k == 1u ? b1[r] : b2[r];
}

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint g = group_x();
#ifdef MV_GLU
    const uint k0 = 0u, r0 = g * ROWS, rows = pc.rows0;
#else
    const uint k0 = g >= pc.g2 ? 2u : g >= pc.g1 ? 1u : 0u;
    const uint r0 = (g - (k0 == 2u ? pc.g2 : k0 == 1u ? pc.g1 : 0u)) * ROWS;
    const uint rows = k0 == 2u ? pc.rows2 : k0 == 1u ? pc.rows1 : pc.rows0;
#endif
    const bool norm = (pc.flags & 1u) != 0u;
    const uint items = (pc.ne0 / MV_QK) * MV_LPB;
    // the RMSNorm's scale of each token
    float scale[NT];
    for (uint t = 0; t < NT; t++) {
        scale[t] = 1.0;
        if (norm) {
            const uint xb = (pc.x_off + t * pc.x_stride) >> 2;
            float s = 0.0;
            for (uint i = l; i < pc.ne0 / 4u; i += WG) {
                const vec4 v = x4[xb + i];
                s += dot(v, v);
            }
            s = wg_sum(s);
            scale[t] = 1.0 / sqrt(s / float(pc.ne0) + pc.eps);
        }
    }
    uint roff[RR];
    for (uint r = 0; r < ROWS; r++)
        for (uint k = 0; k < MV_NW; k++) roff[k * ROWS + r] = min(r0 + r, rows - 1u) * pc.row_bytes;
    float acc[RR * NT];
    for (uint i = 0; i < RR * NT; i++) acc[i] = 0.0;
    for (uint it = l; it < items; it += WG) {
        const uint b = it / MV_LPB, p = it % MV_LPB;
        vec4 wq[RR * MV_NQ];
        float ws[RR * MV_NQ], wm[RR * MV_NQ];
        for (uint r = 0; r < RR; r++) {
            wsel = k0 + r / ROWS;
            vec4 q[MV_NQ];
            float s[MV_NQ], m[MV_NQ];
            decode(roff[r] + b * MV_BYTES, p, q, s, m);
            for (uint k = 0; k < MV_NQ; k++) {
                wq[r * MV_NQ + k] = q[k];
                ws[r * MV_NQ + k] = s[k];
                wm[r * MV_NQ + k] = m[k];
            }
        }
        for (uint k = 0; k < MV_NQ; k++) {
            const uint xi = (b * MV_QK + x_at(p, k)) >> 2;
            const vec4 nq = norm ? nw4[xi] : vec4(1.0);
            for (uint t = 0; t < NT; t++) {
                const vec4 xq = x4[((pc.x_off + t * pc.x_stride) >> 2) + xi] * nq;
#ifdef MV_MIN
                const float xs = (xq.x + xq.y) + (xq.z + xq.w);
#endif
                for (uint r = 0; r < RR; r++) {
                    float v = ws[r * MV_NQ + k] * dot(wq[r * MV_NQ + k], xq);
#ifdef MV_MIN
                    v += wm[r * MV_NQ + k] * xs;
#endif
                    acc[r * NT + t] += v;
                }
            }
        }
    }
    for (uint r = 0; r < ROWS; r++)
        for (uint t = 0; t < NT; t++) {
#ifdef MV_GLU
            const float a = wg_sum(acc[r * NT + t]) * scale[t];
            const float u = wg_sum(acc[(ROWS + r) * NT + t]) * scale[t];
            if (l == 0u && r0 + r < rows) {
                const float ga = a + bias_of(0u, r0 + r), ub = u + bias_of(1u, r0 + r);
                y0[t * pc.ys0 + r0 + r] = ga / (1.0 + exp(-ga)) * ub;
            }
#else
            float v = wg_sum(acc[r * NT + t]) * scale[t];
            if (l == 0u && r0 + r < rows) {
                v += bias_of(k0, r0 + r);
                if (k0 == 0u) y0[t * pc.ys0 + r0 + r] = v;
                else if (k0 == 1u) y1[t * pc.ys1 + r0 + r] = v;
                else y2[t * pc.ys2 + r0 + r] = v;
            }
#endif
        }
}
