#version 450
// matvec_q8 — the decode product in the `fast` precision (opt-in, devices with
// VK_KHR_shader_integer_dot_product): y[t][r] (+)= W[r] . x[t] (+ bias[r]) for the NT
// tokens of a batch of 1..8, with x quantized per 32-element block to signed bytes and a
// scale (quantize_q8.comp, binding 5) and 4-byte dot products of signed bytes
// (dotPacked4x8EXT: one instruction where the device accelerates it). Q8_0, Q4_0, Q4_K and
// Q6_K weights, as matvec_gpu.comp, whose work layout this follows: a block (32 elements)
// is split between LPB = 4 lanes, a super-block (256) between 16, consecutive lanes read
// consecutive words, and each lane turns its part of each of ROWS rows into NW words of
// signed bytes with a float scale (and, for Q4_K, a min) per word, once for all tokens:
//   element = s * byte (+ m)  =>  a word contributes dx * (s * dot(w, xq) + m * dot(1, xq)).
// Weights become signed bytes without a multiply: Q4_0 nibbles minus 8 and Q6_K's 6-bit
// values minus 32 by flipping the offset bit and extending the sign bit; Q4_K nibbles are
// already bytes 0..15 (its min goes through dot(1, xq)). The products are exact integers;
// the result differs from the float path by the activations' 8-bit rounding only (the
// CPU's `fast` precision makes the same one).
// axes: matvec_q8 _q8_0:TYPE_Q8_0|_q4_0:TYPE_Q4_0|_q4_k:TYPE_Q4_K|_q6_k:TYPE_Q6_K @reduce
// needs: int8dot
#extension GL_EXT_integer_dot_product : require
#define NEED_REDUCE
#define NEED_WEIGHTS
#include "common.glsl"
#include "matmul_io.glsl"
#include "q8_act.glsl"

layout(std430, binding = 5) readonly buffer XQ { uint xq[]; };

layout(constant_id = 3) const uint ROWS = 2;
layout(constant_id = 4) const uint NT = 1;

// the weight decoding (MV_QK, MV_LPB, MV_NQ words per lane, decode_raw, to_s8, x_at) shared
// with matvec_gpu: word k of lane p's part meets x's block x_at / 32, word (x_at % 32) / 4
#include "mvg_decode.glsl"

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint r0 = group_x() * ROWS;
    const uint items = (pc.ne0 / MV_QK) * MV_LPB;
    const uint nb32 = pc.ne0 / 32u; // x blocks per token
    uint roff[ROWS];
    for (uint r = 0; r < ROWS; r++) roff[r] = min(r0 + r, pc.rows - 1u) * pc.row_bytes;
    float acc[ROWS * NT];
    for (uint i = 0; i < ROWS * NT; i++) acc[i] = 0.0;
    for (uint it = l; it < items; it += WG) {
        const uint b = it / MV_LPB, p = it % MV_LPB;
        uint ww[ROWS * MV_NQ];
        float ws[ROWS * MV_NQ], wm[ROWS * MV_NQ];
        for (uint r = 0; r < ROWS; r++) {
            uint w[MV_NQ];
            float s[MV_NQ], m[MV_NQ];
            decode_raw(roff[r] + b * MV_BYTES, p, w, s, m);
            for (uint k = 0; k < MV_NQ; k++) {
                ww[r * MV_NQ + k] = to_s8(w[k]);
                ws[r * MV_NQ + k] = s[k];
                wm[r * MV_NQ + k] = m[k];
            }
        }
        for (uint t = 0; t < NT; t++) {
            const uint xb = (t * nb32 + b * (MV_QK / 32u)) * XQ_WORDS;
            for (uint k = 0; k < MV_NQ; k++) {
                const uint xo = xb + (x_at(p, k) / 32u) * XQ_WORDS;
                const int xw = int(xq[xo + (x_at(p, k) % 32u) / 4u]);
                const float dx = uintBitsToFloat(xq[xo + 8u]);
#ifdef MV_MIN
                const float xs = dx * float(dotPacked4x8EXT(xw, 0x01010101));
#endif
                for (uint r = 0; r < ROWS; r++) {
                    float v = ws[r * MV_NQ + k] * dx *
                              float(dotPacked4x8EXT(int(ww[r * MV_NQ + k]), xw));
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
