#version 450
// swiglu — g[i] = silu(g[i]) * u[i] over n rows of width.
#include "common.glsl"

layout(std430, binding = 1) readonly buffer UBuf { float u[]; };
layout(std430, binding = 2) buffer GBuf { float g[]; };
layout(push_constant) uniform PC { uint width; } pc;

void main()
{
    const uint i = group_x() * WG + gl_LocalInvocationID.x;
    if (i >= pc.width) return;
    const uint o = gl_WorkGroupID.y * pc.width + i;
    const float v = g[o];
    g[o] = v / (1.0 + exp(-v)) * u[o];
}
