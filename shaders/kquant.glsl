// kquant.glsl — the K types (Q2_K .. Q6_K), included by common.glsl. Mirrors the
// reference dequantization of src/quant_k.c: a super-block of 256 elements is read as 16
// blocks of 16, block g holding elements 16g..16g+15; blk_load(row, b) stages block b of
// the row (super-block b / 16): its scale kd = d * group scale, its offset km (minus
// dmin * group min, or 0) and the 4 words of quants (kq) and high bits (kh) of its 16
// elements, which are 16 consecutive bytes in every layout. blk_quad(j) unpacks elements
// 4j..4j+3: element = kd * value + km, the reference's float operations.

// byte o of the weights
uint rd8(uint o) { return (WREAD(o >> 2) >> ((o & 3u) * 8u)) & 255u; }

// bits sh..sh+n of each byte of w (mask = 2^n - 1), as floats
vec4 bytebits(uint w, uint sh, uint mask)
{
    w >>= sh;
    return vec4(w & mask, (w >> 8) & mask, (w >> 16) & mask, (w >> 24) & mask);
}

float kd, km;
uint kq[4], kh[4], ksh, khs;

#if defined(TYPE_Q2_K) || defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
#define ld32(o) WREAD((o) >> 2) // super-blocks of a multiple of 4 bytes: aligned words
#else
#define ld32(o) rd32(o) // Q3_K (110 bytes), Q6_K (210 bytes): 2-byte aligned
#endif

void k_load_q(uint o)
{
    for (uint i = 0; i < 4u; i++) kq[i] = ld32(o + 4u * i);
}
void k_load_h(uint o)
{
    for (uint i = 0; i < 4u; i++) kh[i] = ld32(o + 4u * i);
}

#if defined(TYPE_Q2_K)
#define SB_BYTES 84u
// scales[16] (low nibble scale, high nibble min), qs[64], f16 d, f16 dmin
void blk_load(uint row, uint b)
{
    const uint B = row + (b >> 4) * SB_BYTES, g = b & 15u;
    const uint sc = rd8(B + g);
    const vec2 dm = unpackHalf2x16(ld32(B + 80u));
    kd = dm.x * float(sc & 15u);
    km = -(dm.y * float(sc >> 4));
    k_load_q(B + 16u + 32u * (g >> 3) + 16u * (g & 1u));
    ksh = 2u * ((g & 7u) >> 1);
}
vec4 blk_quad(uint j) { return bytebits(kq[j], ksh, 3u); }
#elif defined(TYPE_Q3_K)
#define SB_BYTES 110u
// hmask[32], qs[64], scales[12] (6-bit, stored plus 32), f16 d; a clear hmask bit
// subtracts 4
void blk_load(uint row, uint b)
{
    const uint B = row + (b >> 4) * SB_BYTES, g = b & 15u;
    const uint low = (rd8(B + 96u + (g & 7u)) >> (4u * (g >> 3))) & 15u;
    const uint high = (rd8(B + 104u + (g & 3u)) >> (2u * (g >> 2))) & 3u;
    kd = rdf16(B + 108u) * float(int(low | (high << 4)) - 32);
    km = 0.0;
    k_load_q(B + 32u + 32u * (g >> 3) + 16u * (g & 1u));
    k_load_h(B + 16u * (g & 1u));
    ksh = 2u * ((g & 7u) >> 1);
    khs = g >> 1;
}
vec4 blk_quad(uint j) { return bytebits(kq[j], ksh, 3u) + 4.0 * bytebits(kh[j], khs, 1u) - 4.0; }
#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
#if defined(TYPE_Q4_K)
#define SB_BYTES 144u
#define QS_AT 16u
#else
#define SB_BYTES 176u
#define QS_AT 48u
#endif
// f16 d, f16 dmin, scales[12] (8 pairs of 6-bit scale and min, per 32 elements),
// Q5_K: qh[32], then qs[128]
void blk_load(uint row, uint b)
{
    const uint B = row + (b >> 4) * SB_BYTES, g = b & 15u, j = g >> 1, jj = j & 3u;
    const uint s0 = rd8(B + 4u + jj), s4 = rd8(B + 8u + jj), s8 = rd8(B + 12u + jj);
    const uint sc = j < 4u ? s0 & 63u : (s8 & 15u) | ((s0 >> 6) << 4);
    const uint mn = j < 4u ? s4 & 63u : (s8 >> 4) | ((s4 >> 6) << 4);
    const vec2 dm = unpackHalf2x16(ld32(B));
    kd = dm.x * float(sc);
    km = -(dm.y * float(mn));
    k_load_q(B + QS_AT + 32u * (g >> 2) + 16u * (g & 1u));
    ksh = 4u * (j & 1u);
#if defined(TYPE_Q5_K)
    k_load_h(B + 16u + 16u * (g & 1u));
    khs = j;
#endif
}
#if defined(TYPE_Q4_K)
vec4 blk_quad(uint j) { return bytebits(kq[j], ksh, 15u); }
#else
vec4 blk_quad(uint j) { return bytebits(kq[j], ksh, 15u) + 16.0 * bytebits(kh[j], khs, 1u); }
#endif
#elif defined(TYPE_Q6_K)
#define SB_BYTES 210u
// ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d; value - 32
void blk_load(uint row, uint b)
{
    const uint B = row + (b >> 4) * SB_BYTES, g = b & 15u, h = g >> 3, s = (g & 7u) >> 1;
    const int sc = bitfieldExtract(int(rd8(B + 192u + g)), 0, 8);
    kd = rdf16(B + 208u) * float(sc);
    km = 0.0;
    k_load_q(B + 64u * h + 32u * (s & 1u) + 16u * (g & 1u));
    k_load_h(B + 128u + 32u * h + 16u * (g & 1u));
    ksh = 4u * (s >> 1);
    khs = 2u * s;
}
vec4 blk_quad(uint j) { return bytebits(kq[j], ksh, 15u) + 16.0 * bytebits(kh[j], khs, 3u) - 32.0; }
#endif

void blk_head(out float d, out float m)
{
    d = kd;
    m = km;
}
