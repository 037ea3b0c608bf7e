#version 450
// attn_tile — tiled prefill attention (GPUs). One workgroup per (KV head, tile of pc.tq
// consecutive rows of the batch): its query slots are the tile's rows x the GQA group's
// query heads (slot i: row i / G, head i % G; tq x G <= QS). The keys are walked in tiles
// of TK: each K tile, then each V tile, is staged once into shared memory and used by
// every slot, so the cache is read once per tile of rows instead of once per query token.
// Online softmax per slot (running max m and sum l), so memory is fixed for any context.
//
// Masking per row: row r attends to keys first(r) .. pos(r) of its sequence (causal, and
// the sliding window pc.window as in attention.comp); the key walk of a pass covers the
// union of the ranges of its rows, each score outside its row's range is masked.
// Sequences: rows of one batch may belong to different sequences (row_kv0 differs). The
// workgroup makes one pass over the keys per distinct row_kv0 among its rows (in the
// usual case, one sequence, exactly one pass); a pass touches only the slots of rows of
// that sequence. The decision reads only params, so every invocation takes it alike.
//
// Shared memory: q 8 KiB, the accumulators 8 KiB, the staged K or V tile 4 KiB, scores
// 1 KiB: about 21 KiB for any head_dim up to 256. Up to HD_CAP = 128: QS = 16 query
// slots, tiles of TK = TK_MAX keys (16 f16 or 8 f32); over it (gemma, large qwen3 shapes)
// the same bytes hold half the slots (the host's tq x G <= 8, vk_attn_tile_rows) and tiles
// of half the keys.
// axes: attn_tile -|_f32:KV_F32
#include "common.glsl"
#include "params.glsl"

#define HD_CAP 128u // head_dim of the full QS and TK_MAX (up to 2 HD_CAP: half of each)
#define QS 16u      // query slots of a workgroup (rows x heads), head_dim <= HD_CAP
#ifdef KV_F32
#define TK_MAX 8u // keys of a tile, head_dim <= HD_CAP
#else
#define TK_MAX 16u
#endif
#define NEG (-1.0e30)

layout(std430, binding = 1) readonly buffer QBuf { float q[]; };
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };
#ifdef KV_F32
layout(std430, binding = 0) readonly buffer KCache { vec2 kc[]; };
layout(std430, binding = 5) readonly buffer VCache { vec2 vc[]; };
#define KVT vec2
#define KV2(v) (v)
#else
layout(std430, binding = 0) readonly buffer KCache { uint kc[]; };
layout(std430, binding = 5) readonly buffer VCache { uint vc[]; };
#define KVT uint
#define KV2(v) unpackHalf2x16(v)
#endif
// tq: rows of a tile; n_rows: rows of the batch
layout(push_constant) uniform PC
{
    uint n_head, n_head_kv, head_dim;
    float scale;
    uint window, n_split_unused, tq, n_rows; // the attention family's block (vk_kernel.h)
} pc;

shared vec2 q_sh[QS * HD_CAP / 2u];     // the slots' queries, times scale
shared vec2 acc_sh[QS * HD_CAP / 2u];   // the slots' unnormalized outputs
shared KVT kv_sh[TK_MAX * HD_CAP / 2u]; // the K tile, then the V tile
shared float s_sh[QS * TK_MAX];         // scores, then probabilities
shared float m_sh[QS], l_sh[QS], c_sh[QS];

// the keys row t attends to: [first, n_keys)
uint row_first(uint t)
{
    const uint n_keys = row_pos(t) + 1u;
    return pc.window > 0u && n_keys > pc.window ? n_keys - pc.window : 0u;
}

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint kvh = gl_WorkGroupID.x, t0 = gl_WorkGroupID.y * pc.tq;
    const uint G = pc.n_head / pc.n_head_kv, hd2 = pc.head_dim / 2u;
    const uint row2 = pc.n_head_kv * hd2, kv0 = kvh * hd2; // cache row stride, head offset
    const uint nr = min(pc.tq, pc.n_rows - t0), ns = nr * G;
    const uint TK = pc.head_dim > HD_CAP ? TK_MAX / 2u : TK_MAX; // TK x head_dim fits kv_sh

    for (uint i = l; i < ns * hd2; i += WG) {
        const uint s = i / hd2, d = i % hd2;
        const uint qo = ((t0 + s / G) * pc.n_head + kvh * G + s % G) * pc.head_dim + 2u * d;
        q_sh[i] = vec2(q[qo], q[qo + 1u]) * pc.scale;
    }
    for (uint r0 = 0; r0 < nr; r0++) {
        // one pass per sequence: skip r0 when an earlier row of the tile had its sequence
        const uint kb = row_kv0(t0 + r0);
        bool seen = false;
        for (uint r = 0; r < r0; r++)
            seen = seen || row_kv0(t0 + r) == kb;
        if (seen) continue;
        uint lo = 0xffffffffu, hi = 0u; // the union of the pass's key ranges
        for (uint r = r0; r < nr; r++)
            if (row_kv0(t0 + r) == kb) {
                lo = min(lo, row_first(t0 + r));
                hi = max(hi, row_pos(t0 + r) + 1u);
            }
        for (uint i = l; i < ns * hd2; i += WG)
            acc_sh[i] = vec2(0.0);
        for (uint i = l; i < ns; i += WG) {
            m_sh[i] = NEG;
            l_sh[i] = 0.0;
        }
        barrier();
        for (uint base = lo; base < hi; base += TK) {
            const uint cnt = min(TK, hi - base);
            for (uint i = l; i < TK * hd2; i += WG) {
                const uint j = i / hd2, d = i % hd2;
                kv_sh[i] = kc[(kb + base + min(j, cnt - 1u)) * row2 + kv0 + d];
            }
            barrier();
            for (uint i = l; i < ns * TK; i += WG) {
                const uint s = i / TK, j = i % TK, t = t0 + s / G, key = base + j;
                const bool ok = j < cnt && row_kv0(t) == kb && key >= row_first(t) &&
                                key <= row_pos(t);
                float a = NEG;
                if (ok) {
                    a = 0.0;
                    for (uint d = 0; d < hd2; d++)
                        a += dot(q_sh[s * hd2 + d], KV2(kv_sh[j * hd2 + d]));
                }
                s_sh[i] = a;
            }
            barrier();
            // the K tile is no longer read: stage the V tile while the slots update
            for (uint i = l; i < TK * hd2; i += WG) {
                const uint j = i / hd2, d = i % hd2;
                kv_sh[i] = vc[(kb + base + min(j, cnt - 1u)) * row2 + kv0 + d];
            }
            for (uint s = l; s < ns; s += WG) {
                float mx = m_sh[s];
                for (uint j = 0; j < TK; j++)
                    mx = max(mx, s_sh[s * TK + j]);
                float sum = 0.0;
                for (uint j = 0; j < TK; j++) {
                    const float sv = s_sh[s * TK + j];
                    const float p = sv > 0.5 * NEG ? exp(sv - mx) : 0.0; // masked: 0
                    s_sh[s * TK + j] = p;
                    sum += p;
                }
                const float corr = exp(m_sh[s] - mx);
                c_sh[s] = corr;
                l_sh[s] = l_sh[s] * corr + sum;
                m_sh[s] = mx;
            }
            barrier();
            for (uint i = l; i < ns * hd2; i += WG) {
                const uint s = i / hd2, d = i % hd2;
                vec2 a = acc_sh[i] * c_sh[s];
                for (uint j = 0; j < cnt; j++)
                    a += s_sh[s * TK + j] * KV2(kv_sh[j * hd2 + d]);
                acc_sh[i] = a;
            }
            barrier();
        }
        // the pass's rows (each has at least its own key: l > 0)
        for (uint i = l; i < ns * hd2; i += WG) {
            const uint s = i / hd2, d = i % hd2, t = t0 + s / G;
            if (row_kv0(t) != kb) continue;
            const vec2 a = acc_sh[i] / l_sh[s];
            const uint oo = (t * pc.n_head + kvh * G + s % G) * pc.head_dim + 2u * d;
            o[oo] = a.x;
            o[oo + 1u] = a.y;
        }
        barrier();
    }
}
