#version 450
// rope — rotates, in place, the first rope_dim dims of each head of row t by the
// angles of its position, from a cos/sin table the host computed in double.
// NORM rotates adjacent pairs (2i, 2i+1), NEOX the halves (i, i + rope_dim/2).
#include "common.glsl"
#include "params.glsl"

layout(std430, binding = 2) buffer XBuf { float xv[]; };
layout(std430, binding = 5) readonly buffer TBuf { vec2 cs[]; }; // [pos][i] = (cos, sin)
layout(push_constant) uniform PC { uint n_heads, head_dim, rope_dim, neox; } pc;

void main()
{
    const uint half_dim = pc.rope_dim / 2u;
    const uint id = group_x() * WG + gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y;
    if (id >= pc.n_heads * half_dim) return;
    const uint h = id / half_dim, i = id % half_dim;
    const vec2 c = cs[row_pos(t) * half_dim + i];
    const uint base = (t * pc.n_heads + h) * pc.head_dim;
    const uint a = base + (pc.neox != 0u ? i : 2u * i);
    const uint b = base + (pc.neox != 0u ? i + half_dim : 2u * i + 1u);
    const float x0 = xv[a], x1 = xv[b];
    xv[a] = x0 * c.x - x1 * c.y;
    xv[b] = x0 * c.y + x1 * c.x;
}
