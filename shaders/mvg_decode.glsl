// mvg_decode.glsl — the weight decoding of the GPU decode kernels (matvec_gpu.comp,
// matvec_gpu_fused.comp; the scheme is described in matvec_gpu.comp): per type the block
// geometry (MV_QK elements, MV_LPB lanes, MV_NQ quads per lane, MV_BYTES bytes), x_at and
// decode. Weights are read through rd32 / WREAD (common.glsl), so a kernel may route them
// to one of several bindings.
// the bytes of w (4 values, each < 256)
uvec4 bytes4(uint w) { return (uvec4(w) >> uvec4(0u, 8u, 16u, 24u)) & 0xffu; }
// small unsigned integers (< 2^23) to floats, minus off = 2^23 + the type's offset
vec4 q2f(uvec4 q, float off) { return uintBitsToFloat(q | 0x4B000000u) - off; }
float u2f(uint q) { return uintBitsToFloat(q | 0x4B000000u) - 8388608.0; }

#if defined(TYPE_Q8_0) || defined(TYPE_Q4_0)
#define MV_QK 32u // elements per block
#define MV_LPB 4u // lanes per block
#define MV_NQ 2u  // quads per lane
#if defined(TYPE_Q8_0)
#define MV_BYTES 34u
#else
#define MV_BYTES 18u
#endif
#else
#define MV_QK 256u
#define MV_LPB 16u
#define MV_NQ 4u
#if defined(TYPE_Q4_K)
#define MV_BYTES 144u
#define MV_MIN 1 // element = scale * q - min
#else
#define MV_BYTES 210u
#endif
#endif

// Part p of the block at byte B, raw: its NQ words w[k] of 4 stored values (one byte each:
// Q8_0 signed bytes, Q4_0 and Q4_K nibbles 0..15, Q6_K six-bit values 0..63), their scales
// s[k] (and mins m[k]), and where word k starts in the block (x_at). The element is
// s * (value - MV_OFF) + m; decode() makes float quads of them (matvec_gpu), to_s8() signed
// bytes (matvec_q8).
#if defined(TYPE_Q8_0)
#define MV_OFF 0
// f16 d, int8 qs[32]: lane p has bytes 8p..8p+7 (elements 8p..8p+7)
uint x_at(uint p, uint k) { return 8u * p + 4u * k; }
void decode_raw(uint B, uint p, out uint w[MV_NQ], out float s[MV_NQ], out float m[MV_NQ])
{
    w[0] = rd32(B + 2u + 8u * p);
    w[1] = rd32(B + 6u + 8u * p);
    s[0] = s[1] = rdf16(B);
    m[0] = m[1] = 0.0;
}
// (the sign bit flipped: q + 128, unsigned)
vec4 quad_f(uint w) { return q2f(bytes4(w ^ 0x80808080u), 8388736.0); }
uint to_s8(uint w) { return w; }
#elif defined(TYPE_Q4_0)
#define MV_OFF 8
// f16 d, qs[16]: element i in the low nibble of byte i, element 16 + i in the high one;
// lane p has bytes 4p..4p+3 (elements 4p.. and 16 + 4p..)
uint x_at(uint p, uint k) { return 16u * k + 4u * p; }
void decode_raw(uint B, uint p, out uint w[MV_NQ], out float s[MV_NQ], out float m[MV_NQ])
{
    const uint q = rd32(B + 2u + 4u * p);
    w[0] = q & 0x0f0f0f0fu;
    w[1] = (q >> 4) & 0x0f0f0f0fu;
    s[0] = s[1] = rdf16(B);
    m[0] = m[1] = 0.0;
}
vec4 quad_f(uint w) { return q2f(bytes4(w), 8388616.0); }
// nibbles minus 8 as signed bytes: flip bit 3, copy it into bits 4..7 (no carries)
uint to_s8(uint w)
{
    const uint t = w ^ 0x08080808u;
    return t | ((t & 0x08080808u) * 0x1Eu);
}
#elif defined(TYPE_Q4_K)
#define MV_OFF 0
// f16 d, f16 dmin, scales[12] (8 pairs of 6-bit scale and min, per 32 elements), qs[128]:
// chunk c = 0..3 of 32 bytes holds elements 64c + i (low nibbles, pair 2c) and 64c + 32 + i
// (high nibbles, pair 2c + 1). Lane p has bytes 8(p & 3).. of chunk p >> 2: two aligned
// words (super-blocks are 144 bytes: rows and blocks start 4-byte aligned)
uint x_at(uint p, uint k) { return 64u * (p >> 2) + 32u * (k >> 1) + 8u * (p & 3u) + 4u * (k & 1u); }
// byte i (0..3) of w
uint byte_of(uint w, uint i) { return (w >> (8u * i)) & 255u; }
void decode_raw(uint B, uint p, out uint w[MV_NQ], out float s[MV_NQ], out float m[MV_NQ])
{
    const uint c = p >> 2, o = (B + 16u + 32u * c + 8u * (p & 3u)) >> 2;
    const uint w0 = WREAD(o), w1 = WREAD(o + 1u);
    w[0] = w0 & 0x0f0f0f0fu;
    w[1] = w1 & 0x0f0f0f0fu;
    w[2] = (w0 >> 4) & 0x0f0f0f0fu;
    w[3] = (w1 >> 4) & 0x0f0f0f0fu;
    const vec2 dm = unpackHalf2x16(WREAD(B >> 2));
    const uint s0 = WREAD((B >> 2) + 1u), s4 = WREAD((B >> 2) + 2u), s8 = WREAD((B >> 2) + 3u);
    // pairs j = 2c and 2c + 1: j < 4 (c < 2) in the low 6 bits of scales[j], scales[j + 4];
    // else split between scales[j + 4] and the top bits of scales[j - 4], scales[j]
    for (uint h = 0; h < 2u; h++) {
        const uint jj = (2u * c + h) & 3u;
        const uint a = byte_of(s0, jj), b = byte_of(s4, jj), e = byte_of(s8, jj);
        const uint sc = c < 2u ? a & 63u : (e & 15u) | ((a >> 6) << 4);
        const uint mn = c < 2u ? b & 63u : (e >> 4) | ((b >> 6) << 4);
        s[2u * h] = s[2u * h + 1u] = dm.x * u2f(sc);
        m[2u * h] = m[2u * h + 1u] = -(dm.y * u2f(mn));
    }
}
vec4 quad_f(uint w) { return q2f(bytes4(w), 8388608.0); }
uint to_s8(uint w) { return w; }
#else // TYPE_Q6_K
#define MV_OFF 32
// ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d; value - 32. Half
// h = 0, 1 (128 elements): for l = 0..31, ql[64h + l] holds elements l (low nibble) and
// 64 + l (high), ql[64h + 32 + l] elements 32 + l and 96 + l, qh[32h + l] the high bits of
// all four (2 bits each); element 32k + l has scale 8h + l / 16 + 2k. Lane p: h = p >> 3,
// l = 4(p & 7)..+3, so 4 bytes of each of the three arrays.
uint x_at(uint p, uint k) { return 128u * (p >> 3) + 32u * k + 4u * (p & 7u); }
void decode_raw(uint B, uint p, out uint w[MV_NQ], out float s[MV_NQ], out float m[MV_NQ])
{
    const uint h = p >> 3, l = 4u * (p & 7u);
    const uint lo0 = rd32(B + 64u * h + l), lo1 = rd32(B + 64u * h + 32u + l);
    const uint hi = rd32(B + 128u + 32u * h + l);
    w[0] = (lo0 & 0x0f0f0f0fu) | ((hi & 0x03030303u) << 4);
    w[1] = (lo1 & 0x0f0f0f0fu) | (((hi >> 2) & 0x03030303u) << 4);
    w[2] = ((lo0 >> 4) & 0x0f0f0f0fu) | (((hi >> 4) & 0x03030303u) << 4);
    w[3] = ((lo1 >> 4) & 0x0f0f0f0fu) | (((hi >> 6) & 0x03030303u) << 4);
    // scales 8h + l/16 + {0, 2} in the first word, + {4, 6} in the second
    const int sa = int(rd32(B + 192u + 8u * h)), sb = int(rd32(B + 196u + 8u * h));
    const int is = int(l >> 4);
    const float d = rdf16(B + 208u);
    s[0] = d * float(bitfieldExtract(sa, 8 * is, 8));
    s[1] = d * float(bitfieldExtract(sa, 8 * is + 16, 8));
    s[2] = d * float(bitfieldExtract(sb, 8 * is, 8));
    s[3] = d * float(bitfieldExtract(sb, 8 * is + 16, 8));
    m[0] = m[1] = m[2] = m[3] = 0.0;
}
vec4 quad_f(uint w) { return q2f(bytes4(w), 8388640.0); }
// six-bit values minus 32 as signed bytes: flip bit 5, copy it into bits 6, 7
uint to_s8(uint w)
{
    const uint t = w ^ 0x20202020u;
    return t | ((t & 0x20202020u) * 6u);
}
#endif

// Part p as float quads q[k] (offsets applied), scales and mins: element = s * q + m
void decode(uint B, uint p, out vec4 q[MV_NQ], out float s[MV_NQ], out float m[MV_NQ])
{
    uint w[MV_NQ];
    decode_raw(B, p, w, s, m);
    for (uint k = 0; k < MV_NQ; k++) q[k] = quad_f(w[k]);
}
