#version 450
// attn_split — decode attention split over the KV range (flash-decoding), first pass. One
// workgroup per (KV head, split, token): it walks its share of the row's keys once for
// all the query heads of the GQA group (K and V are read once, not once per query head),
// with an online softmax per head, and writes per query head the unnormalized output, the
// running max and the sum to the scratch buffer (binding 3); attn_merge.comp combines the
// splits. With several splits a decode step launches n_head_kv x splits workgroups instead
// of n_head, and long contexts no longer run on a few compute units.
// axes: attn_split -|_f32:KV_F32 @reduce
#define NEED_REDUCE
#include "common.glsl"
#include "params.glsl"

#define HD_MAX 256u
#define G_MAX 8u // query heads per KV head (the host uses attention.comp beyond)
#define NEG (-1.0e30)

layout(std430, binding = 1) readonly buffer QBuf { float q[]; };
layout(std430, binding = 3) writeonly buffer Part { float part[]; };
#ifdef KV_F32
layout(std430, binding = 0) readonly buffer KCache { vec2 kc[]; };
layout(std430, binding = 5) readonly buffer VCache { vec2 vc[]; };
#define KV2(buf, i) buf[i]
#else
layout(std430, binding = 0) readonly buffer KCache { uint kc[]; };
layout(std430, binding = 5) readonly buffer VCache { uint vc[]; };
#define KV2(buf, i) unpackHalf2x16(buf[i])
#endif
layout(push_constant) uniform PC
{
    uint n_head, n_head_kv, head_dim;
    float scale;
    uint window, n_split;
} pc;

shared vec2 q_sh[G_MAX * HD_MAX / 2u];   // the group's queries
shared vec2 acc_sh[G_MAX * HD_MAX / 2u]; // each invocation owns its pairs: no barrier needed
shared float p_sh[G_MAX * WG];           // the probabilities of the current block of keys

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint kvh = gl_WorkGroupID.x % pc.n_head_kv, sp = gl_WorkGroupID.x / pc.n_head_kv;
    const uint t = gl_WorkGroupID.y;
    const uint G = pc.n_head / pc.n_head_kv, hd2 = pc.head_dim / 2u;
    const uint row2 = pc.n_head_kv * hd2, kv0 = kvh * hd2; // cache row stride, head offset
    const uint n_keys = row_pos(t) + 1u, kb = row_kv0(t);
    const uint first = pc.window > 0u && n_keys > pc.window ? n_keys - pc.window : 0u;
    // this split's keys: an even share of the range, at least 32 (later splits may be empty)
    const uint chunk = max((n_keys - first + pc.n_split - 1u) / pc.n_split, 32u);
    const uint k0 = min(first + sp * chunk, n_keys), k1 = min(k0 + chunk, n_keys);

    for (uint i = l; i < G * hd2; i += WG) {
        const uint qo = (t * pc.n_head + kvh * G) * pc.head_dim + 2u * i;
        q_sh[i] = vec2(q[qo], q[qo + 1u]);
        acc_sh[i] = vec2(0.0);
    }
    barrier();
    float mx[G_MAX], lsum[G_MAX], corr[G_MAX];
    for (uint g = 0; g < G_MAX; g++) {
        mx[g] = NEG;
        lsum[g] = 0.0;
    }
    for (uint base = k0; base < k1; base += WG) {
        const uint j = base + l;
        float s[G_MAX];
        for (uint g = 0; g < G_MAX; g++) s[g] = 0.0;
        if (j < k1) {
            const uint ko = (kb + j) * row2 + kv0;
            for (uint d = 0; d < hd2; d++) {
                const vec2 kk = KV2(kc, ko + d);
                for (uint g = 0; g < G_MAX; g++)
                    if (g < G) s[g] += dot(q_sh[g * hd2 + d], kk);
            }
        }
        for (uint g = 0; g < G_MAX; g++) {
            if (g >= G) break; // uniform: every invocation leaves together
            const float sv = j < k1 ? s[g] * pc.scale : NEG;
            const float nm = max(mx[g], wg_max(sv));
            const float p = j < k1 ? exp(sv - nm) : 0.0;
            corr[g] = exp(mx[g] - nm);
            lsum[g] = lsum[g] * corr[g] + wg_sum(p);
            mx[g] = nm;
            p_sh[g * WG + l] = p;
        }
        barrier();
        const uint cnt = min(WG, k1 - base);
        for (uint d = l; d < hd2; d += WG) {
            vec2 a[G_MAX];
            for (uint g = 0; g < G_MAX; g++) a[g] = g < G ? acc_sh[g * hd2 + d] * corr[g] : vec2(0.0);
            for (uint jj = 0; jj < cnt; jj++) {
                const vec2 vv = KV2(vc, (kb + base + jj) * row2 + kv0 + d);
                for (uint g = 0; g < G_MAX; g++)
                    if (g < G) a[g] += p_sh[g * WG + jj] * vv;
            }
            for (uint g = 0; g < G_MAX; g++)
                if (g < G) acc_sh[g * hd2 + d] = a[g];
        }
        barrier();
    }
    // per query head h: [head_dim outputs, max, sum] of this split
    const uint stride = pc.head_dim + 2u;
    for (uint g = 0; g < G; g++) {
        const uint po = ((t * pc.n_head + kvh * G + g) * pc.n_split + sp) * stride;
        for (uint d = l; d < hd2; d += WG) {
            const vec2 a = acc_sh[g * hd2 + d];
            part[po + 2u * d] = a.x;
            part[po + 2u * d + 1u] = a.y;
        }
        if (l == 0u) {
            part[po + pc.head_dim] = mx[g];
            part[po + pc.head_dim + 1u] = lsum[g];
        }
    }
}
