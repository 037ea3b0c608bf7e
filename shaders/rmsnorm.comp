#version 450
// rmsnorm — y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w. One workgroup per row.
// axes: rmsnorm @reduce
#define NEED_REDUCE
#include "common.glsl"

layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
layout(std430, binding = 2) writeonly buffer YBuf { float y[]; };
layout(std430, binding = 3) readonly buffer WBuf { float w[]; };
layout(push_constant) uniform PC { uint dim, x_off, y_off; float eps; } pc;

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint xo = pc.x_off + gl_WorkGroupID.y * pc.dim, yo = pc.y_off + gl_WorkGroupID.y * pc.dim;
    float s = 0.0;
    for (uint i = l; i < pc.dim; i += WG) s += x[xo + i] * x[xo + i];
    s = wg_sum(s);
    const float scale = 1.0 / sqrt(s / float(pc.dim) + pc.eps);
    for (uint i = l; i < pc.dim; i += WG) y[yo + i] = x[xo + i] * scale * w[i];
}
