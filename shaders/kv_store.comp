#version 450
// kv_store — cache row (first row of t's sequence + its position) = K[t], V[t]. The cache holds float16 pairs packed in
// uints (no 16-bit storage feature needed), or float32 with KV_F32.
// axes: kv_store -|_f32:KV_F32
#include "common.glsl"
#include "params.glsl"

layout(std430, binding = 1) readonly buffer KBuf { float k[]; };
layout(std430, binding = 3) readonly buffer VBuf { float v[]; };
#ifdef KV_F32
layout(std430, binding = 0) writeonly buffer KCache { float kc[]; };
layout(std430, binding = 5) writeonly buffer VCache { float vc[]; };
#else
layout(std430, binding = 0) writeonly buffer KCache { uint kc[]; };
layout(std430, binding = 5) writeonly buffer VCache { uint vc[]; };
#endif
layout(push_constant) uniform PC { uint kv_dim; } pc;

void main()
{
    const uint i = group_x() * WG + gl_LocalInvocationID.x; // a pair of elements
    const uint t = gl_WorkGroupID.y;
    if (2u * i >= pc.kv_dim) return;
    const uint s = t * pc.kv_dim + 2u * i;
    const uint d = (row_kv0(t) + row_pos(t)) * pc.kv_dim + 2u * i;
#ifdef KV_F32
    kc[d] = k[s];
    kc[d + 1u] = k[s + 1u];
    vc[d] = v[s];
    vc[d + 1u] = v[s + 1u];
#else
    kc[d / 2u] = packHalf2x16(vec2(k[s], k[s + 1u]));
    vc[d / 2u] = packHalf2x16(vec2(v[s], v[s + 1u]));
#endif
}
