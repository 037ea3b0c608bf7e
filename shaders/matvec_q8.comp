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

float u2f(uint q) { return uintBitsToFloat(q | 0x4B000000u) - 8388608.0; }

#if defined(TYPE_Q8_0) || defined(TYPE_Q4_0)
#define MV_QK 32u
#define MV_LPB 4u
#define MV_NW 2u
#if defined(TYPE_Q8_0)
#define MV_BYTES 34u
#else
#define MV_BYTES 18u
#endif
#else
#define MV_QK 256u
#define MV_LPB 16u
#define MV_NW 4u
#if defined(TYPE_Q4_K)
#define MV_BYTES 144u
#define MV_MIN 1
#else
#define MV_BYTES 210u
#endif
#endif

// Word k of lane p's part: which 32-element block of the (super-)block (x_blk) and which
// word of that block's 8 (x_wd) it meets in x.
#if defined(TYPE_Q8_0)
uint x_blk(uint p, uint k) { return 0u; }
uint x_wd(uint p, uint k) { return 2u * p + k; }
void decode(uint B, uint p, out uint w[MV_NW], out float s[MV_NW], out float m[MV_NW])
{
    w[0] = rd32(B + 2u + 8u * p);
    w[1] = rd32(B + 6u + 8u * p);
    s[0] = s[1] = rdf16(B);
    m[0] = m[1] = 0.0;
}
#elif defined(TYPE_Q4_0)
// byte i of the 16: element i (low nibble) and 16 + i (high); lane p has bytes 4p..4p+3
uint x_blk(uint p, uint k) { return 0u; }
uint x_wd(uint p, uint k) { return 4u * k + p; }
// 4 nibbles (bytes 0..15) minus 8, as signed bytes: flip bit 3, copy it into bits 4..7
uint nib_s8(uint n)
{
    const uint t = n ^ 0x08080808u;
    return t | ((t & 0x08080808u) * 0x1Eu);
}
void decode(uint B, uint p, out uint w[MV_NW], out float s[MV_NW], out float m[MV_NW])
{
    const uint q = rd32(B + 2u + 4u * p);
    w[0] = nib_s8(q & 0x0f0f0f0fu);
    w[1] = nib_s8((q >> 4) & 0x0f0f0f0fu);
    s[0] = s[1] = rdf16(B);
    m[0] = m[1] = 0.0;
}
#elif defined(TYPE_Q4_K)
// as matvec_gpu: lane p has bytes 8(p & 3).. of chunk c = p >> 2 (32 bytes: low nibbles
// are block 2c, high nibbles block 2c + 1); words 0, 1 low, 2, 3 high
uint x_blk(uint p, uint k) { return 2u * (p >> 2) + (k >> 1); }
uint x_wd(uint p, uint k) { return 2u * (p & 3u) + (k & 1u); }
uint byte_of(uint w, uint i) { return (w >> (8u * i)) & 255u; }
void decode(uint B, uint p, out uint w[MV_NW], out float s[MV_NW], out float m[MV_NW])
{
    const uint c = p >> 2, o = (B + 16u + 32u * c + 8u * (p & 3u)) >> 2;
    const uint w0 = wdata[o], w1 = wdata[o + 1u];
    w[0] = w0 & 0x0f0f0f0fu;
    w[1] = w1 & 0x0f0f0f0fu;
    w[2] = (w0 >> 4) & 0x0f0f0f0fu;
    w[3] = (w1 >> 4) & 0x0f0f0f0fu;
    const vec2 dm = unpackHalf2x16(wdata[B >> 2]);
    const uint s0 = wdata[(B >> 2) + 1u], s4 = wdata[(B >> 2) + 2u], s8 = wdata[(B >> 2) + 3u];
    for (uint h = 0; h < 2u; h++) {
        const uint jj = (2u * c + h) & 3u;
        const uint a = byte_of(s0, jj), b = byte_of(s4, jj), e = byte_of(s8, jj);
        const uint sc = c < 2u ? a & 63u : (e & 15u) | ((a >> 6) << 4);
        const uint mn = c < 2u ? b & 63u : (e >> 4) | ((b >> 6) << 4);
        s[2u * h] = s[2u * h + 1u] = dm.x * u2f(sc);
        m[2u * h] = m[2u * h + 1u] = -(dm.y * u2f(mn));
    }
}
#else // TYPE_Q6_K
// as matvec_gpu: lane p: half h = p >> 3, l = 4(p & 7); word k holds elements
// 128h + 32k + l..l+3 (block 4h + k, word p & 7 of it), with scale 8h + l/16 + 2k
uint x_blk(uint p, uint k) { return 4u * (p >> 3) + k; }
uint x_wd(uint p, uint k) { return p & 7u; }
// 4 six-bit values (bytes 0..63) minus 32, as signed bytes: flip bit 5, copy it into 6, 7
uint six_s8(uint v)
{
    const uint t = v ^ 0x20202020u;
    return t | ((t & 0x20202020u) * 6u);
}
void decode(uint B, uint p, out uint w[MV_NW], out float s[MV_NW], out float m[MV_NW])
{
    const uint h = p >> 3, l = 4u * (p & 7u);
    const uint lo0 = rd32(B + 64u * h + l), lo1 = rd32(B + 64u * h + 32u + l);
    const uint hi = rd32(B + 128u + 32u * h + l);
    w[0] = six_s8((lo0 & 0x0f0f0f0fu) | ((hi & 0x03030303u) << 4));
    w[1] = six_s8((lo1 & 0x0f0f0f0fu) | (((hi >> 2) & 0x03030303u) << 4));
    w[2] = six_s8(((lo0 >> 4) & 0x0f0f0f0fu) | (((hi >> 4) & 0x03030303u) << 4));
    w[3] = six_s8(((lo1 >> 4) & 0x0f0f0f0fu) | (((hi >> 6) & 0x03030303u) << 4));
    const int sa = int(rd32(B + 192u + 8u * h)), sb = int(rd32(B + 196u + 8u * h));
    const int is = int(l >> 4);
    const float d = rdf16(B + 208u);
    s[0] = d * float(bitfieldExtract(sa, 8 * is, 8));
    s[1] = d * float(bitfieldExtract(sa, 8 * is + 16, 8));
    s[2] = d * float(bitfieldExtract(sb, 8 * is, 8));
    s[3] = d * float(bitfieldExtract(sb, 8 * is + 16, 8));
    m[0] = m[1] = m[2] = m[3] = 0.0;
}
#endif

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
        uint ww[ROWS * MV_NW];
        float ws[ROWS * MV_NW], wm[ROWS * MV_NW];
        for (uint r = 0; r < ROWS; r++) {
            uint w[MV_NW];
            float s[MV_NW], m[MV_NW];
            decode(roff[r] + b * MV_BYTES, p, w, s, m);
            for (uint k = 0; k < MV_NW; k++) {
                ww[r * MV_NW + k] = w[k];
                ws[r * MV_NW + k] = s[k];
                wm[r * MV_NW + k] = m[k];
            }
        }
        for (uint t = 0; t < NT; t++) {
            const uint xb = (t * nb32 + b * (MV_QK / 32u)) * XQ_WORDS;
            for (uint k = 0; k < MV_NW; k++) {
                const uint xo = xb + x_blk(p, k) * XQ_WORDS;
                const int xw = int(xq[xo + x_wd(p, k)]);
                const float dx = uintBitsToFloat(xq[xo + 8u]);
#ifdef MV_MIN
                const float xs = dx * float(dotPacked4x8EXT(xw, 0x01010101));
#endif
                for (uint r = 0; r < ROWS; r++) {
                    float v = ws[r * MV_NW + k] * dx *
                              float(dotPacked4x8EXT(int(ww[r * MV_NW + k]), xw));
#ifdef MV_MIN
                    v += wm[r * MV_NW + k] * xs;
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
