#version 450
// attention — o[t][h] = softmax(q[t][h] . K^T * scale) V over positions 0..pos(t) of the
// row's sequence (causal; its cache rows start at row_kv0(t)), K/V head h / (n_head / n_head_kv) (GQA). One workgroup per (head, token);
// keys are walked in blocks of WG with an online (running max) softmax, so any context
// length works with fixed shared memory.
// axes: attention -|_f32:KV_F32 -|_tx:KV_TEXEL @reduce
// KV_TEXEL (CPU devices, head_dim a multiple of 4): q, K and V read as 4-element texels
// (views of the activation and of the caches, bindings 8, 6, 7): on CPU implementations a
// storage-buffer read is a loop over lanes, a texel fetch a SIMD gather
#define NEED_REDUCE
#include "common.glsl"
#ifdef ONE_SUBGROUP
#extension GL_KHR_shader_subgroup_shuffle : enable
#endif
#include "params.glsl"

#define HD_MAX 256u
#define NEG (-1.0e30)

layout(std430, binding = 1) readonly buffer QBuf { float q[]; };
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };
#ifdef KV_F32
layout(std430, binding = 0) readonly buffer KCache { vec2 kc[]; };
layout(std430, binding = 5) readonly buffer VCache { vec2 vc[]; };
#define KV2(buf, i) buf[i]
#else
layout(std430, binding = 0) readonly buffer KCache { uint kc[]; };
layout(std430, binding = 5) readonly buffer VCache { uint vc[]; };
#define KV2(buf, i) unpackHalf2x16(buf[i])
#endif
#ifdef KV_TEXEL
layout(binding = 6) uniform samplerBuffer kt;
layout(binding = 7) uniform samplerBuffer vt;
layout(binding = 8) uniform samplerBuffer qt;
#endif
// window: attend to the last `window` positions only (sliding window), 0 = all
layout(push_constant) uniform PC { uint n_head, n_head_kv, head_dim; float scale; uint window; } pc;

shared vec2 acc_sh[HD_MAX / 2u]; // each invocation owns its pairs: no barrier needed
#ifndef ONE_SUBGROUP
shared float p_sh[WG];
#endif

#ifdef KV_TEXEL
shared vec4 acc4_sh[HD_MAX / 4u];

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint hd4 = pc.head_dim / 4u;
    const uint kvh = h / (pc.n_head / pc.n_head_kv);
    const uint row4 = pc.n_head_kv * hd4; // cache row stride in texels
    const uint kv0 = kvh * hd4;
    const uint qo = (t * pc.n_head + h) * pc.head_dim;
    const uint n_keys = row_pos(t) + 1u, kb = row_kv0(t);
    const uint first = pc.window > 0u && n_keys > pc.window ? n_keys - pc.window : 0u;

    for (uint d = l; d < hd4; d += WG) acc4_sh[d] = vec4(0.0);
    float mx = NEG, lsum = 0.0;
    for (uint base = first; base < n_keys; base += WG) {
        const uint j = base + l;
        // branch-free: keys past the end read the last one and are masked below
        const uint jc = min(j, n_keys - 1u);
        vec4 a4 = vec4(0.0);
        for (uint d = 0; d < hd4; d++)
            a4 += texelFetch(qt, int(qo / 4u + d)) * texelFetch(kt, int((kb + jc) * row4 + kv0 + d));
        const float s = j < n_keys ? (a4.x + a4.y + a4.z + a4.w) * pc.scale : NEG;
        const float nm = max(mx, wg_max(s));
        const float p = j < n_keys ? exp(s - nm) : 0.0;
        const float corr = exp(mx - nm);
        lsum = lsum * corr + wg_sum(p);
        const uint cnt = min(WG, n_keys - base);
#ifdef ONE_SUBGROUP
        for (uint dd = 0; dd < hd4; dd += WG) {
            const uint d = min(dd + l, hd4 - 1u);
            vec4 a = acc4_sh[d] * corr;
            for (uint jj = 0; jj < cnt; jj++)
                a += subgroupShuffle(p, jj) * texelFetch(vt, int((kb + base + jj) * row4 + kv0 + d));
            if (dd + l < hd4) acc4_sh[d] = a;
        }
#else
        p_sh[l] = p;
        barrier();
        for (uint d = l; d < hd4; d += WG) {
            vec4 a = acc4_sh[d] * corr;
            for (uint jj = 0; jj < cnt; jj++)
                a += p_sh[jj] * texelFetch(vt, int((kb + base + jj) * row4 + kv0 + d));
            acc4_sh[d] = a;
        }
        barrier();
#endif
        mx = nm;
    }
    const float inv = 1.0 / lsum;
    for (uint d = l; d < hd4; d += WG) {
        const vec4 a = acc4_sh[d] * inv;
        o[qo + 4u * d] = a.x;
        o[qo + 4u * d + 1u] = a.y;
        o[qo + 4u * d + 2u] = a.z;
        o[qo + 4u * d + 3u] = a.w;
    }
}
#else
void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint hd2 = pc.head_dim / 2u;
    const uint kvh = h / (pc.n_head / pc.n_head_kv);
    const uint row2 = pc.n_head_kv * hd2; // cache row stride in pairs
    const uint kv0 = kvh * hd2;
    const uint qo = (t * pc.n_head + h) * pc.head_dim;
    const uint n_keys = row_pos(t) + 1u, kb = row_kv0(t);
    const uint first = pc.window > 0u && n_keys > pc.window ? n_keys - pc.window : 0u;

    for (uint d = l; d < hd2; d += WG) acc_sh[d] = vec2(0.0);
    float mx = NEG, lsum = 0.0;
    for (uint base = first; base < n_keys; base += WG) {
        const uint j = base + l;
        float s = NEG;
        if (j < n_keys) {
            float a = 0.0;
            const uint ko = (kb + j) * row2 + kv0;
            for (uint d = 0; d < hd2; d++) {
                vec2 kk = KV2(kc, ko + d);
                a += q[qo + 2u * d] * kk.x + q[qo + 2u * d + 1u] * kk.y;
            }
            s = a * pc.scale;
        }
        const float nm = max(mx, wg_max(s));
        const float p = j < n_keys ? exp(s - nm) : 0.0;
        const float corr = exp(mx - nm);
        lsum = lsum * corr + wg_sum(p);
        const uint cnt = min(WG, n_keys - base);
#ifdef ONE_SUBGROUP
        // the probabilities of the block, passed between invocations by shuffles (one
        // subgroup: no barriers, which are expensive on CPU implementations)
        for (uint dd = 0; dd < hd2; dd += WG) {
            const uint d = min(dd + l, hd2 - 1u);
            vec2 a = acc_sh[d] * corr;
            for (uint jj = 0; jj < cnt; jj++)
                a += subgroupShuffle(p, jj) * KV2(vc, (kb + base + jj) * row2 + kv0 + d);
            if (dd + l < hd2) acc_sh[d] = a;
        }
#else
        p_sh[l] = p;
        barrier();
        for (uint d = l; d < hd2; d += WG) {
            vec2 a = acc_sh[d] * corr;
            for (uint jj = 0; jj < cnt; jj++) a += p_sh[jj] * KV2(vc, (kb + base + jj) * row2 + kv0 + d);
            acc_sh[d] = a;
        }
        barrier();
#endif
        mx = nm;
    }
    const float inv = 1.0 / lsum;
    for (uint d = l; d < hd2; d += WG) {
        vec2 a = acc_sh[d] * inv;
        o[qo + 2u * d] = a.x;
        o[qo + 2u * d + 1u] = a.y;
    }
}
#endif
