#version 450
// attn_merge — decode attention split over the KV range, second pass: combines the splits
// that attn_split.comp wrote for each (query head, token) into the output,
// o = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M) with M the largest running max.
// One workgroup per (head, token); empty splits (max -1e30, sum 0) weigh nothing.
#include "common.glsl"

layout(std430, binding = 3) readonly buffer Part { float part[]; };
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };
layout(push_constant) uniform PC
{
    uint n_head, n_head_kv, head_dim;
    float scale;
    uint window, n_split;
} pc;

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint stride = pc.head_dim + 2u;
    const uint p0 = (t * pc.n_head + h) * pc.n_split * stride;
    float M = -1.0e30;
    for (uint s = 0; s < pc.n_split; s++) M = max(M, part[p0 + s * stride + pc.head_dim]);
    float L = 0.0;
    for (uint s = 0; s < pc.n_split; s++) {
        const uint ps = p0 + s * stride;
        L += part[ps + pc.head_dim + 1u] * exp(part[ps + pc.head_dim] - M);
    }
    const float inv = 1.0 / L;
    for (uint d = l; d < pc.head_dim; d += WG) {
        float a = 0.0;
        for (uint s = 0; s < pc.n_split; s++) {
            const uint ps = p0 + s * stride;
            a += part[ps + d] * exp(part[ps + pc.head_dim] - M);
        }
        o[(t * pc.n_head + h) * pc.head_dim + d] = a * inv;
    }
}
