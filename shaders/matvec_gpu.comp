#version 450
// matvec_gpu — the decode product on GPUs: y[t][r] (+)= W[r] . x[t] (+ bias[r]) for the
// NT tokens of a batch of 1..8, Q8_0, Q4_0, Q4_K and Q6_K weights (the other types and CPU
// devices use matvec / the cpu_ kernels; JOULE_VK_MV_GPU=1 forces this one there too).
//
// A workgroup computes ROWS rows for all NT tokens. The K loop runs over "items": a
// block (Q8_0, Q4_0: 32 elements) is split between LPB = 4 lanes, a super-block (Q4_K,
// Q6_K: 256 elements) between LPB = 16 lanes, so that consecutive lanes read consecutive
// 32-bit words of the weights (rd32 at 2-byte aligned offsets for the 18-, 34- and
// 210-byte blocks, aligned words for the 144-byte Q4_K super-blocks). Item i is part
// i % LPB of block i / LPB; invocation l takes items l, l + WG, ... (any power-of-two WG,
// also below LPB). Each lane decodes its part of each of the ROWS rows once into NQ
// float quads and per-quad scales (every byte it loads is used whole: both nibbles, all
// high bits), then reads the matching x quads of each token once and applies them to
// every row (x is shared by the rows through registers, the decoded weights by the
// tokens). Quants become floats by their bit pattern: uintBitsToFloat(0x4B000000 | q)
// is 2^23 + q, and the type's offset (-8, -32, +128 for the signed bytes) is folded into
// the constant subtracted. One wg_sum per row and token at the end.
//
// x is read as vec4 (the chooser takes this kernel only when x's offset, stride and the
// row length are multiples of 4).
// axes: matvec_gpu _q8_0:TYPE_Q8_0|_q4_0:TYPE_Q4_0|_q4_k:TYPE_Q4_K|_q6_k:TYPE_Q6_K @reduce
#define NEED_REDUCE
#define NEED_WEIGHTS
#include "common.glsl"
#include "matmul_io.glsl"

// rows per workgroup (the host's mvg_rows) and tokens (the batch), specialization
// constants 3 and 4: the register arrays below have compile-time sizes
layout(constant_id = 3) const uint ROWS = 2;
layout(constant_id = 4) const uint NT = 1;

#include "mvg_decode.glsl"

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint r0 = group_x() * ROWS;
    const uint items = (pc.ne0 / MV_QK) * MV_LPB;
    uint roff[ROWS];
    for (uint r = 0; r < ROWS; r++) roff[r] = min(r0 + r, pc.rows - 1u) * pc.row_bytes;
    float acc[ROWS * NT];
    for (uint i = 0; i < ROWS * NT; i++) acc[i] = 0.0;
    for (uint it = l; it < items; it += WG) {
        const uint b = it / MV_LPB, p = it % MV_LPB;
        // this part of block b in every row, decoded once
        vec4 wq[ROWS * MV_NQ];
        float ws[ROWS * MV_NQ], wm[ROWS * MV_NQ];
        for (uint r = 0; r < ROWS; r++) {
            vec4 q[MV_NQ];
            float s[MV_NQ], m[MV_NQ];
            decode(roff[r] + b * MV_BYTES, p, q, s, m);
            for (uint k = 0; k < MV_NQ; k++) {
                wq[r * MV_NQ + k] = q[k];
                ws[r * MV_NQ + k] = s[k];
                wm[r * MV_NQ + k] = m[k];
            }
        }
        // each token's x quads, read once, applied to every row
        for (uint t = 0; t < NT; t++) {
            const uint xb = (pc.x_off + t * pc.x_stride + b * MV_QK) >> 2;
            for (uint k = 0; k < MV_NQ; k++) {
                const vec4 xq = x4[xb + (x_at(p, k) >> 2)];
#ifdef MV_MIN
                const float xs = (xq.x + xq.y) + (xq.z + xq.w);
#endif
                for (uint r = 0; r < ROWS; r++) {
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
            const float v = wg_sum(acc[r * NT + t]);
            if (l == 0u && r0 + r < pc.rows) store(t, r0 + r, v);
        }
}
