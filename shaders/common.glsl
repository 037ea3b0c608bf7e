// common.glsl — shared by every joule compute shader.
//
// Workgroup size: specialization constant 0 (the host picks it from the device's
// subgroup size and limits). Block layouts mirror src/quant (the GGML ones); weights
// are bound as raw bytes (uint words) exactly as stored in the file, so every read
// goes through rd32/rd16, which accept any byte offset (the host pads each weight
// buffer by 64 bytes so that the word, or the 16-byte texels, after the last one are
// readable).
//
// Reductions (wg_sum / wg_max) work for any subgroup size: subgroup arithmetic, then
// shared memory across subgroups when the workgroup holds more than one. Variants
// compiled with NO_SUBGROUP use a shared-memory tree only (WG must be a power of two).

#ifndef NO_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;

// Workgroups beyond the per-dimension limit fold into z: linear id of the group in x/z.
uint group_x() { return gl_WorkGroupID.z * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

#if defined(NEED_REDUCE) && !defined(ONE_SUBGROUP)
shared float red_sh[WG];
#endif
#ifdef NEED_REDUCE

float wg_sum(float v)
{
#if defined(ONE_SUBGROUP)
    return subgroupAdd(v); // the host guarantees WG <= the subgroup size: no barrier needed
#elif !defined(NO_SUBGROUP)
    v = subgroupAdd(v);
    if (gl_NumSubgroups == 1) return v;
    barrier();
    if (subgroupElect()) red_sh[gl_SubgroupID] = v;
    barrier();
    float s = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++) s += red_sh[i];
    return s;
#else
    uint l = gl_LocalInvocationID.x;
    barrier();
    red_sh[l] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (l < s) red_sh[l] += red_sh[l + s];
        barrier();
    }
    return red_sh[0];
#endif
}

float wg_max(float v)
{
#if defined(ONE_SUBGROUP)
    return subgroupMax(v);
#elif !defined(NO_SUBGROUP)
    v = subgroupMax(v);
    if (gl_NumSubgroups == 1) return v;
    barrier();
    if (subgroupElect()) red_sh[gl_SubgroupID] = v;
    barrier();
    float s = red_sh[0];
    for (uint i = 1; i < gl_NumSubgroups; i++) s = max(s, red_sh[i]);
    return s;
#else
    uint l = gl_LocalInvocationID.x;
    barrier();
    red_sh[l] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (l < s) red_sh[l] = max(red_sh[l], red_sh[l + s]);
        barrier();
    }
    return red_sh[0];
#endif
}
#endif

#ifdef NEED_WEIGHTS
layout(std430, binding = 0) readonly buffer WBuf { uint wdata[]; };
#ifdef KUNIT
// KUNIT (cpu_matvec_kunit.comp): a whole K super-block is staged in sw[] (sb_stage), and the
// K code below reads it at offsets from 0 that are constants in every unrolled group
layout(binding = 6) uniform usamplerBuffer wtex;
uint sel4(uvec4 v, uint i) { return i == 0u ? v.x : i == 1u ? v.y : i == 2u ? v.z : v.w; }
// SBW: words of a super-block, plus one (rd32 reads the word after); SBW_I the same for
// the preprocessor (which cannot read 22u)
#if defined(TYPE_Q2_K)
#define SBW 22u
#define SBW_I 22
#elif defined(TYPE_Q3_K)
#define SBW 29u
#define SBW_I 29
#elif defined(TYPE_Q4_K)
#define SBW 37u
#define SBW_I 37
#elif defined(TYPE_Q5_K)
#define SBW 45u
#define SBW_I 45
#else
#define SBW 54u
#define SBW_I 54
#endif
uint sw[SBW];
#define WREAD(i) sw[i]
#elif defined(TEXEL)
// TEXEL variants read the weights through a uniform texel buffer: an R32G32B32A32_UINT
// view of the same buffer (binding 6). On llvmpipe a texel fetch is gathered in SIMD where
// a per-invocation storage-buffer read is a loop over lanes, and 16-byte texels need
// fewer fetches; a word is picked from its texel by selects (no dynamic indexing).
layout(binding = 6) uniform usamplerBuffer wtex;
uint sel4(uvec4 v, uint i) { return i == 0u ? v.x : i == 1u ? v.y : i == 2u ? v.z : v.w; }
#define WREAD(i) sel4(texelFetch(wtex, int((i) >> 2)), (i) & 3u)
#elif !defined(WREAD) // a kernel may route reads itself (matvec_gpu_fused.comp)
#define WREAD(i) wdata[i]
#endif

// 32-bit little-endian read at any byte offset; branch-free (a branch here is divergent
// control flow, which makes every later load slow on CPU implementations)
uint rd32(uint o)
{
    uint w = o >> 2, s = (o & 3u) * 8u;
    return (WREAD(w) >> s) | ((WREAD(w + 1u) << 1u) << (31u - s));
}
// 16-bit read at an even byte offset
uint rd16(uint o) { return (WREAD(o >> 2) >> ((o & 2u) * 8u)) & 0xffffu; }
float rdf16(uint o) { return unpackHalf2x16(rd16(o)).x; }

vec4 nib_lo(uint w) { return vec4(w & 15u, (w >> 8) & 15u, (w >> 16) & 15u, (w >> 24) & 15u); }
vec4 nib_hi(uint w) { return nib_lo(w >> 4); }
vec4 bits4(uint b) { return vec4(b & 1u, (b >> 1) & 1u, (b >> 2) & 1u, (b >> 3) & 1u); }

// Per type: QK elements and BLOCK_BYTES bytes per block. A block is staged in registers
// with blk_load(byte offset) -- NW aligned word loads, the fewest memory reads (each is
// costly on CPU implementations) -- then blk_head gives the scale d and offset m and
// blk_quad(j) the raw values of elements 4j..4j+3: element = d * value + m.
// Float types use 16-element "blocks" with d = 1, m = 0, and rows of any length
// (IS_FLOAT: the ne0 % 16 tail goes through dq1).
#if defined(TYPE_F32)
#define IS_FLOAT 1
#define QK 16u
#define BLOCK_BYTES 64u
#define NW 16u
#elif defined(TYPE_F16) || defined(TYPE_BF16)
#define IS_FLOAT 1
#define QK 16u
#define BLOCK_BYTES 32u
#define NW 9u
#elif defined(TYPE_Q8_0)
#define QK 32u
#define BLOCK_BYTES 34u
#define NW 10u
#elif defined(TYPE_Q4_0)
#define QK 32u
#define BLOCK_BYTES 18u
#define NW 6u
#elif defined(TYPE_Q4_1)
#define QK 32u
#define BLOCK_BYTES 20u
#define NW 6u
#elif defined(TYPE_Q5_0)
#define QK 32u
#define BLOCK_BYTES 22u
#define NW 7u
#elif defined(TYPE_Q5_1)
#define QK 32u
#define BLOCK_BYTES 24u
#define NW 7u
#elif defined(TYPE_Q2_K) || defined(TYPE_Q3_K) || defined(TYPE_Q4_K) || defined(TYPE_Q5_K) ||   \
    defined(TYPE_Q6_K)
// K types: a 256-element super-block is handled as 16 "blocks" of 16 elements, each with
// its own d and m (group scale times the super-block scale), so the kernels stay the same
#define IS_K 1
#define QK 16u
#endif

#define QUADS (QK / 4u)
#if !defined(IS_FLOAT) && !defined(IS_K)
#define QK32 1 // QK is 32: 8 quads (for the preprocessor, which cannot compare 32u)
#endif

#if defined(UNIT) && !defined(IS_K)
// UNIT (cpu_matvec_unit.comp): U consecutive blocks, UB bytes (a multiple of 8) starting at an
// 8-byte aligned offset, are staged with UB/8 fetches of 8-byte texels (binding 7). Every
// field then sits at a compile-time byte offset: KB (the block's offset in the unit) is a
// constant in each unrolled copy of the block code, so bword needs no realignment.
#if defined(TYPE_F32)
#define U 2u
#else
#define U 4u
#define U_IS_4 1
#endif
#define UB (U * BLOCK_BYTES)
layout(binding = 7) uniform usamplerBuffer wtex8;
// x through a vec4 texel view of the source activation (binding 8): on CPU implementations
// a storage-buffer vec4 read by lanes at different addresses is a loop over lanes and words
layout(binding = 8) uniform samplerBuffer xtex;
vec4 xload4(uint i) { return texelFetch(xtex, int(i)); }
uint uw[UB / 4u];
uint KB;
// stages the unit at byte offset o (8-aligned)
void unit_load(uint o)
{
    const uint t0 = o >> 3;
    for (uint k = 0; k < UB / 8u; k++) {
        const uvec2 v = texelFetch(wtex8, int(t0 + k)).xy;
        uw[2u * k] = v.x;
        uw[2u * k + 1u] = v.y;
    }
}
uint bword(uint o)
{
    const uint a = KB + o, i = a >> 2, s = (a & 3u) * 8u;
    const uint hi = i + 1u < UB / 4u ? uw[min(i + 1u, UB / 4u - 1u)] : 0u;
    return s == 0u ? uw[i] : (uw[i] >> s) | (hi << (32u - s));
}
float bf16lo(uint o) { return unpackHalf2x16(bword(o)).x; }
#elif !defined(IS_K)
uint bw[NW]; // the block's bytes, realigned: bw[k] holds bytes 4k..4k+3 of the block

// stages block b of the row at byte offset row
void blk_load(uint row, uint b_)
{
    const uint b = row + b_ * BLOCK_BYTES;
    // aligned loads, then a funnel shift per word by the block's (per-invocation) byte
    // offset, so that fields are later read at constant indices: a register array indexed
    // by a per-invocation value is as slow as memory on CPU implementations
    const uint w0 = b >> 2, sh = (b & 3u) * 8u;
#ifdef TEXEL
    // NW words from w0: 16-byte texels t0.., each word picked by a per-invocation select
    const uint NT = (NW + 2u) / 4u + 1u;
    const uint t0 = w0 >> 2, o = w0 & 3u;
    uvec4 T[NT];
    for (uint k = 0; k < NT; k++) T[k] = texelFetch(wtex, int(t0 + k));
    uint wv[NW];
    for (uint k = 0; k < NW; k++) {
        uint q = o + (k & 3u);
        wv[k] = q < 4u ? sel4(T[k >> 2], q) : sel4(T[min((k >> 2) + 1u, NT - 1u)], q - 4u);
    }
    uint prev = wv[0];
    for (uint i = 0; i < NW; i++) {
        uint next = i + 1u < NW ? wv[min(i + 1u, NW - 1u)] : 0u;
        bw[i] = (prev >> sh) | ((next << 1u) << (31u - sh));
        prev = next;
    }
#else
    uint prev = WREAD(w0);
    for (uint i = 0; i < NW; i++) {
        uint next = i + 1u < NW ? WREAD(w0 + i + 1u) : 0u;
        bw[i] = (prev >> sh) | ((next << 1u) << (31u - sh));
        prev = next;
    }
#endif
}
// 32 bits at byte o of the staged block (o a constant after unrolling)
uint bword(uint o)
{
    const uint i = o >> 2, s = (o & 3u) * 8u;
    const uint hi = i + 1u < NW ? bw[min(i + 1u, NW - 1u)] : 0u;
    return (bw[i] >> s) | ((hi << 1u) << (31u - s));
}
float bf16lo(uint o) { return unpackHalf2x16(bword(o)).x; }
#endif

#if defined(TYPE_F32)
void blk_head(out float d, out float m) { d = 1.0; m = 0.0; }
vec4 blk_quad(uint j)
{
    return uintBitsToFloat(
        uvec4(bword(16u * j), bword(16u * j + 4u), bword(16u * j + 8u), bword(16u * j + 12u)));
}
float dq1(uint row, uint e) { return uintBitsToFloat(WREAD((row >> 2) + e)); }
#elif defined(TYPE_F16)
void blk_head(out float d, out float m) { d = 1.0; m = 0.0; }
vec4 blk_quad(uint j)
{
    return vec4(unpackHalf2x16(bword(8u * j)), unpackHalf2x16(bword(8u * j + 4u)));
}
float dq1(uint row, uint e) { return rdf16(row + 2u * e); }
#elif defined(TYPE_BF16)
void blk_head(out float d, out float m) { d = 1.0; m = 0.0; }
vec4 blk_quad(uint j)
{
    uint a = bword(8u * j), c = bword(8u * j + 4u);
    return vec4(uintBitsToFloat(a << 16), uintBitsToFloat(a & 0xffff0000u),
                uintBitsToFloat(c << 16), uintBitsToFloat(c & 0xffff0000u));
}
float dq1(uint row, uint e) { return uintBitsToFloat(rd16(row + 2u * e) << 16); }
#elif defined(TYPE_Q8_0)
void blk_head(out float d, out float m) { d = bf16lo(0u); m = 0.0; }
vec4 blk_quad(uint j)
{
    int w = int(bword(2u + 4u * j));
    return vec4(bitfieldExtract(w, 0, 8), bitfieldExtract(w, 8, 8), bitfieldExtract(w, 16, 8),
                bitfieldExtract(w, 24, 8));
}
#elif defined(TYPE_Q4_0)
void blk_head(out float d, out float m) { d = bf16lo(0u); m = 0.0; }
vec4 blk_quad(uint j)
{
    uint w = bword(2u + 4u * (j & 3u));
    return (j < 4u ? nib_lo(w) : nib_hi(w)) - 8.0;
}
#elif defined(TYPE_Q4_1)
void blk_head(out float d, out float m) { d = bf16lo(0u); m = bf16lo(2u); }
vec4 blk_quad(uint j)
{
    uint w = bword(4u + 4u * (j & 3u));
    return j < 4u ? nib_lo(w) : nib_hi(w);
}
#elif defined(TYPE_Q5_0)
void blk_head(out float d, out float m) { d = bf16lo(0u); m = 0.0; }
vec4 blk_quad(uint j)
{
    uint w = bword(6u + 4u * (j & 3u));
    uint h = (bword(2u) >> (4u * j)) & 15u;
    return (j < 4u ? nib_lo(w) : nib_hi(w)) + 16.0 * bits4(h) - 16.0;
}
#elif defined(TYPE_Q5_1)
void blk_head(out float d, out float m) { d = bf16lo(0u); m = bf16lo(2u); }
vec4 blk_quad(uint j)
{
    uint w = bword(8u + 4u * (j & 3u));
    uint h = (bword(4u) >> (4u * j)) & 15u;
    return (j < 4u ? nib_lo(w) : nib_hi(w)) + 16.0 * bits4(h);
}
#endif

#ifdef IS_K
#include "kquant.glsl"
#endif

#if !defined(IS_FLOAT) && !defined(UNIT)
// one element of a row (slow path: embedding rows)
float dq1(uint row, uint e)
{
    blk_load(row, e / QK);
    float d, m;
    blk_head(d, m);
    vec4 q = blk_quad((e % QK) / 4u);
    return d * q[e % 4u] + m;
}
#endif
#endif
