#version 450
// attn_split — decode attention split over the KV range (flash-decoding), first pass. One
// workgroup per (KV head, split, token): it walks its share of the row's keys once for
// all the query heads of the GQA group (K and V are read once, not once per query head),
// and writes per query head the unnormalized output, the running max and the sum to the
// scratch buffer (binding 3); attn_merge.comp combines the splits. With several splits a
// decode step launches n_head_kv x splits workgroups instead of n_head, and long contexts
// no longer run on a few compute units.
//
// Lanes cooperate on a key: a key row of head_dim elements is T = head_dim / E words of 16
// bytes (E = 8 halves of the f16 cache, 4 floats of the f32 one; the host requires
// head_dim % 8 == 0, so rows start on 16-byte boundaries). A team of TS lanes (T rounded up
// to a power of two, at most WG) reads a key: lane c of the team loads words c, c + TS, ..
// (NS of them, specialization constant 4: 1 on GPUs, where WG >= 64 lanes hold any head
// up to 256; more on CPU devices' small workgroups), so consecutive lanes read consecutive
// 16-byte words. Each lane keeps its slices of the group's queries and of the outputs in
// registers; the team sums its partial dot products (team_sum: shuffles, masked subgroup
// adds or shared memory, by the reduction form), and WG / TS keys are scored at once.
// Each team keeps its own online softmax per query head (running max and sum: no
// workgroup-wide step per key); at the end the teams are combined as attn_merge combines
// splits (o = sum_t acc_t e^(m_t - M), l = sum_t l_t e^(m_t - M)), through shared memory.
//
// Shared memory: 4 KiB (the combine) + 20 bytes x WG (team sums, wg_sum; none for _sg):
// 9 KiB at WG = 256.
// axes: attn_split -|_f32:KV_F32 @reduce
#define NEED_REDUCE
#include "common.glsl"
#ifdef ONE_SUBGROUP
#extension GL_KHR_shader_subgroup_shuffle : enable
#endif
#include "params.glsl"

#define G_MAX 8u // query heads per KV head (the host uses attention.comp beyond)
#define NEG (-1.0e30)
#define CMB 1024u // floats of the buffer that combines the teams' outputs

// 16-byte words of a key per lane (vk_attn_split_slices)
layout(constant_id = 4) const uint NS = 1;

layout(std430, binding = 1) readonly buffer QBuf { float q[]; };
layout(std430, binding = 3) buffer Part { float part[]; };
#ifdef KV_F32
#define E 4u
layout(std430, binding = 0) readonly buffer KCache { vec4 kc[]; };
layout(std430, binding = 5) readonly buffer VCache { vec4 vc[]; };
#else
#define E 8u
layout(std430, binding = 0) readonly buffer KCache { uvec4 kc[]; };
layout(std430, binding = 5) readonly buffer VCache { uvec4 vc[]; };
#endif
layout(push_constant) uniform PC
{
    uint n_head, n_head_kv, head_dim;
    float scale;
    uint window, n_split;
} pc;

shared float cmb_sh[CMB];
#ifndef ONE_SUBGROUP
shared vec4 tv_sh[WG];
#endif

uint TS;    // lanes of a team (a power of two, divides WG)
uint LN;    // this invocation's lane: team LN / TS, place LN % TS in it
bool BY_SG; // default form: teams reduce by subgroup adds (else the shared tree)

#ifndef ONE_SUBGROUP
// v summed over the lane's team through shared memory: a tree within each team
vec4 team_sum_shared(vec4 v)
{
    barrier();
    tv_sh[LN] = v;
    barrier();
    for (uint o = TS >> 1; o > 0u; o >>= 1) {
        if ((LN & (TS - 1u)) < o) tv_sh[LN] += tv_sh[LN + o];
        barrier();
    }
    return tv_sh[LN & ~(TS - 1u)];
}
#endif

// v summed over the lane's team (four query heads at once), in every lane of the team
vec4 team_sum(vec4 v)
{
#if defined(ONE_SUBGROUP)
    // the workgroup is one subgroup (LN: the subgroup lane): a butterfly within the team
    for (uint o = TS >> 1; o > 0u; o >>= 1)
        v += subgroupShuffleXor(v, o);
    return v;
#elif !defined(NO_SUBGROUP)
    // subgroup arithmetic only (no shuffles): teams are aligned within a subgroup (lanes are
    // numbered by subgroup), so a subgroup add per team of the subgroup, the others' lanes
    // adding 0; a team of several subgroups adds their sums through shared memory
    if (!BY_SG) return team_sum_shared(v);
    if (TS <= gl_SubgroupSize) {
        const uint me = (LN % gl_SubgroupSize) / TS;
        vec4 r = vec4(0.0);
        for (uint k = 0; k < min(gl_SubgroupSize, WG) / TS; k++) {
            const vec4 s = subgroupAdd(me == k ? v : vec4(0.0));
            if (me == k) r = s;
        }
        return r;
    }
    v = subgroupAdd(v);
    barrier();
    if (subgroupElect()) tv_sh[gl_SubgroupID] = v;
    barrier();
    const uint per = TS / gl_SubgroupSize, f = (gl_SubgroupID / per) * per;
    vec4 s = vec4(0.0);
    for (uint k = 0; k < per; k++)
        s += tv_sh[f + k];
    return s;
#else
    return team_sum_shared(v);
#endif
}

void main()
{
    LN = gl_LocalInvocationID.x;
    BY_SG = false;
#if defined(ONE_SUBGROUP)
    LN = gl_SubgroupInvocationID;
#elif !defined(NO_SUBGROUP)
    // one subgroup: any numbering keeps a team in it; several: numbered by subgroup, which
    // numbers every invocation once only when the subgroups are full (else the shared tree)
    BY_SG = gl_NumSubgroups == 1u || gl_NumSubgroups * gl_SubgroupSize == WG;
    if (BY_SG && gl_NumSubgroups > 1u)
        LN = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
#endif
    const uint kvh = gl_WorkGroupID.x % pc.n_head_kv, sp = gl_WorkGroupID.x / pc.n_head_kv;
    const uint t = gl_WorkGroupID.y;
    const uint G = pc.n_head / pc.n_head_kv, hd = pc.head_dim, T = hd / E;
    TS = min(1u << uint(findMSB(T - 1u) + 1), WG);
    const uint KP = WG / TS, team = LN / TS, c = LN % TS;
    const uint roww = pc.n_head_kv * T, kv0 = kvh * T; // cache row stride, head offset (words)
    const uint n_keys = row_pos(t) + 1u, kb = row_kv0(t);
    const uint first = pc.window > 0u && n_keys > pc.window ? n_keys - pc.window : 0u;
    // this split's keys: an even share of the range, at least 32 (later splits may be empty)
    const uint chunk = max((n_keys - first + pc.n_split - 1u) / pc.n_split, 32u);
    const uint k0 = min(first + sp * chunk, n_keys), k1 = min(k0 + chunk, n_keys);

    // the lane's slices of the group's queries (times scale) and outputs: slot g * NS + i
    // holds elements E (c + i TS) .. of head g (4 in the a arrays, the f16 cache's next 4 in b)
    vec4 qa[G_MAX * NS], aa[G_MAX * NS];
#ifndef KV_F32
    vec4 qb[G_MAX * NS], ab[G_MAX * NS];
#endif
    float mx[G_MAX], ls[G_MAX];
    for (uint g = 0; g < G_MAX; g++) {
        mx[g] = NEG;
        ls[g] = 0.0;
        for (uint i = 0; i < NS; i++) {
            const uint sl = g * NS + i, w = c + i * TS;
            const uint qo = (t * pc.n_head + kvh * G + g) * hd + w * E;
            qa[sl] = aa[sl] = vec4(0.0);
#ifndef KV_F32
            qb[sl] = ab[sl] = vec4(0.0);
#endif
            if (g < G && w < T) {
                qa[sl] = vec4(q[qo], q[qo + 1u], q[qo + 2u], q[qo + 3u]) * pc.scale;
#ifndef KV_F32
                qb[sl] = vec4(q[qo + 4u], q[qo + 5u], q[qo + 6u], q[qo + 7u]) * pc.scale;
#endif
            }
        }
    }
    // every invocation makes the same passes (team_sum may wait at barriers)
    for (uint base = k0; base < k1; base += KP) {
        const uint j = base + team;
        const bool ok = j < k1;
        const uint ro = (kb + j) * roww + kv0;
        float s[G_MAX];
        for (uint g = 0; g < G_MAX; g++)
            s[g] = 0.0;
        if (ok)
            for (uint i = 0; i < NS; i++) {
                const uint w = c + i * TS;
                if (w >= T) break;
#ifdef KV_F32
                const vec4 ka = kc[ro + w];
#else
                const uvec4 kw = kc[ro + w];
                const vec4 ka = vec4(unpackHalf2x16(kw.x), unpackHalf2x16(kw.y));
                const vec4 kb4 = vec4(unpackHalf2x16(kw.z), unpackHalf2x16(kw.w));
#endif
                for (uint g = 0; g < G_MAX; g++) {
                    if (g >= G) break;
#ifdef KV_F32
                    s[g] += dot(qa[g * NS + i], ka);
#else
                    s[g] += dot(qa[g * NS + i], ka) + dot(qb[g * NS + i], kb4);
#endif
                }
            }
        const vec4 s0 = team_sum(vec4(s[0], s[1], s[2], s[3]));
        const vec4 s1 = G > 4u ? team_sum(vec4(s[4], s[5], s[6], s[7])) : vec4(0.0);
        if (!ok) continue;
        const float sc[G_MAX] = float[G_MAX](s0.x, s0.y, s0.z, s0.w, s1.x, s1.y, s1.z, s1.w);
        float p[G_MAX], cr[G_MAX];
        for (uint g = 0; g < G_MAX; g++) {
            const float nm = max(mx[g], sc[g]);
            cr[g] = exp(mx[g] - nm);
            p[g] = exp(sc[g] - nm);
            ls[g] = ls[g] * cr[g] + p[g];
            mx[g] = nm;
        }
        for (uint i = 0; i < NS; i++) {
            const uint w = c + i * TS;
            if (w >= T) break;
#ifdef KV_F32
            const vec4 va = vc[ro + w];
#else
            const uvec4 vw = vc[ro + w];
            const vec4 va = vec4(unpackHalf2x16(vw.x), unpackHalf2x16(vw.y));
            const vec4 vb4 = vec4(unpackHalf2x16(vw.z), unpackHalf2x16(vw.w));
#endif
            for (uint g = 0; g < G_MAX; g++) {
                if (g >= G) break;
                aa[g * NS + i] = aa[g * NS + i] * cr[g] + p[g] * va;
#ifndef KV_F32
                ab[g * NS + i] = ab[g * NS + i] * cr[g] + p[g] * vb4;
#endif
            }
        }
    }
    // per query head h: [head_dim outputs, max, sum] of this split, the teams combined; a
    // team without keys (max -1e30, sum 0) weighs nothing
    const uint stride = hd + 2u, R = CMB / hd; // teams per round of the combine (>= 4)
    for (uint g = 0; g < G_MAX; g++) {
        if (g >= G) break; // uniform: every invocation leaves together
        const float M = wg_max(mx[g]);
        const float wt = exp(mx[g] - M);
        const float L = wg_sum(c == 0u ? ls[g] * wt : 0.0);
        const uint po = ((t * pc.n_head + kvh * G + g) * pc.n_split + sp) * stride;
        for (uint r0 = 0; r0 < KP; r0 += R) {
            barrier();
            if (team >= r0 && team < r0 + R)
                for (uint i = 0; i < NS; i++) {
                    const uint w = c + i * TS, o = (team - r0) * hd + w * E;
                    if (w >= T) break;
                    const vec4 a = aa[g * NS + i] * wt;
                    cmb_sh[o] = a.x;
                    cmb_sh[o + 1u] = a.y;
                    cmb_sh[o + 2u] = a.z;
                    cmb_sh[o + 3u] = a.w;
#ifndef KV_F32
                    const vec4 b = ab[g * NS + i] * wt;
                    cmb_sh[o + 4u] = b.x;
                    cmb_sh[o + 5u] = b.y;
                    cmb_sh[o + 6u] = b.z;
                    cmb_sh[o + 7u] = b.w;
#endif
                }
            barrier();
            const uint nt = min(R, KP - r0);
            // each element stays with one invocation across rounds: it reads back its own write
            for (uint d = gl_LocalInvocationID.x; d < hd; d += WG) {
                float a = r0 == 0u ? 0.0 : part[po + d];
                for (uint tt = 0; tt < nt; tt++)
                    a += cmb_sh[tt * hd + d];
                part[po + d] = a;
            }
        }
        if (gl_LocalInvocationID.x == 0u) {
            part[po + hd] = M;
            part[po + hd + 1u] = L;
        }
    }
}
