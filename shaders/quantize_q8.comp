#version 450
// quantize_q8 — the int8 decode path's activations (the `fast` precision on Vulkan): each
// 32-element block of x's rows becomes 32 signed bytes q and a scale d (x ~ d * q, d =
// max |x| / 127, q rounded to nearest), as the CPU's fast precision quantizes them
// (src/quant_q8.c). Output at binding 5, XQ_WORDS words per block: the 8 words of q (4
// bytes each, element order) then d's bits; token t's block j at (t * (ne0 / 32) + j).
// One invocation per block; read by matvec_q8.comp.
#include "common.glsl"
#include "matmul_io.glsl"
#include "q8_act.glsl"

layout(std430, binding = 5) writeonly buffer XQ { uint xq[]; };

void main()
{
    const uint nb = pc.ne0 / 32u;
    const uint i = group_x() * WG + gl_LocalInvocationID.x;
    if (i >= nb * pc.n) return;
    const uint t = i / nb, j = i % nb;
    const uint xb = (pc.x_off + t * pc.x_stride) / 4u + 8u * j;
    vec4 v[8];
    float amax = 0.0;
    for (uint k = 0; k < 8u; k++) {
        v[k] = x4[xb + k];
        const vec4 a = abs(v[k]);
        amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
    }
    const float d = amax / 127.0;
    const float id = d > 0.0 ? 1.0 / d : 0.0;
    const uint o = i * XQ_WORDS;
    for (uint k = 0; k < 8u; k++) {
        const uvec4 q = uvec4(ivec4(round(v[k] * id))) & 255u;
        xq[o + k] = q.x | (q.y << 8) | (q.z << 16) | (q.w << 24);
    }
    xq[o + 8u] = floatBitsToUint(d);
}
