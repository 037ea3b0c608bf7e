#version 450
// rope_kv — the graph's rope run in one pass: rope of q (in place, as rope.comp) and of k,
// and the KV store (as kv_store.comp) of the rotated k and of v. Invocation i of row t
// rotates pair i of q's heads and stores elements 2i, 2i + 1 of k and v; each computes its
// two k values from k as the previous op left it (k itself is not rewritten: nothing reads
// it after the store, the graph's mark says so).
// axes: rope_kv -|_f32:KV_F32
#include "common.glsl"
#include "params.glsl"

layout(std430, binding = 2) buffer QBuf { float q[]; };
layout(std430, binding = 1) readonly buffer KBuf { float k[]; };
layout(std430, binding = 3) readonly buffer VBuf { float v[]; };
#ifdef KV_F32
layout(std430, binding = 0) writeonly buffer KCache { float kc[]; };
layout(std430, binding = 5) writeonly buffer VCache { float vc[]; };
#else
layout(std430, binding = 0) writeonly buffer KCache { uint kc[]; };
layout(std430, binding = 5) writeonly buffer VCache { uint vc[]; };
#endif
// the cos/sin table of rope.comp, at binding 9 (rope.comp's 5 is the V cache here)
layout(std430, binding = 9) readonly buffer TBuf { vec2 cs[]; };
// struct vk_pc_rope_kv (vk_kernel.h)
layout(push_constant) uniform PC { uint n_head, n_head_kv, head_dim, rope_dim, neox; } pc;

// element d of the k head starting at base, rotated at position pos
float k_rot(uint base, uint d, uint pos)
{
    const uint half_dim = pc.rope_dim / 2u;
    if (d >= pc.rope_dim) return k[base + d];
    const uint i = pc.neox != 0u ? d % half_dim : d / 2u;
    const vec2 c = cs[pos * half_dim + i];
    const bool second = pc.neox != 0u ? d >= half_dim : (d & 1u) != 0u;
    const float x0 = k[base + (pc.neox != 0u ? i : 2u * i)];
    const float x1 = k[base + (pc.neox != 0u ? i + half_dim : 2u * i + 1u)];
    return second ? x0 * c.y + x1 * c.x : x0 * c.x - x1 * c.y;
}

void main()
{
    const uint half_dim = pc.rope_dim / 2u;
    const uint id = group_x() * WG + gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y;
    const uint pos = row_pos(t);
    if (id < pc.n_head * half_dim) { // q: pair id, as rope.comp
        const uint h = id / half_dim, i = id % half_dim;
        const vec2 c = cs[pos * half_dim + i];
        const uint base = (t * pc.n_head + h) * pc.head_dim;
        const uint a = base + (pc.neox != 0u ? i : 2u * i);
        const uint b = base + (pc.neox != 0u ? i + half_dim : 2u * i + 1u);
        const float x0 = q[a], x1 = q[b];
        q[a] = x0 * c.x - x1 * c.y;
        q[b] = x0 * c.y + x1 * c.x;
    }
    const uint kv_dim = pc.n_head_kv * pc.head_dim;
    if (2u * id < kv_dim) { // k and v: elements 2 id, 2 id + 1 (one head: head_dim is even)
        const uint e = 2u * id, base = t * kv_dim + (e / pc.head_dim) * pc.head_dim;
        const uint d = e % pc.head_dim;
        const float k0 = k_rot(base, d, pos), k1 = k_rot(base, d + 1u, pos);
        const uint s = t * kv_dim + e;
        const uint o = (row_kv0(t) + pos) * kv_dim + e;
#ifdef KV_F32
        kc[o] = k0;
        kc[o + 1u] = k1;
        vc[o] = v[s];
        vc[o + 1u] = v[s + 1u];
#else
        kc[o / 2u] = packHalf2x16(vec2(k0, k1));
        vc[o / 2u] = packHalf2x16(vec2(v[s], v[s + 1u]));
#endif
    }
}
