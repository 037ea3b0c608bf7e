#version 450
// matmul_tile — the prefill product on GPUs: y[t][r] (+)= W[r] . x[t] (+ bias[r]) for
// batches beyond matvec_gpu's, every weight type. A workgroup computes a BM x BN tile of the
// output (rows x tokens). Per K step of BK elements the weight tile is dequantized once into
// shared memory by the whole workgroup and the activation tile staged beside it
// (matmul_tile.glsl), then each invocation accumulates a TM x TN sub-tile from shared memory
// (register blocking: TM + TN shared reads per TM x TN multiply-adds).
//
// Precision: the tiles are fp32 (weights as the CPU reference dequantizes them, activations
// unrounded), accumulation fp32: only the order of the sums differs from the reference.
// Barriers and shared memory only, no subgroup operations: correct for any subgroup size.
// Tile sizes are specialization constants 5..9 (vk_matmul_tile chooses them per device);
// the workgroup size (constant 0) is (BM / TM) x (BN / TN).
// axes: matmul_tile @types
#define NEED_WEIGHTS
#include "common.glsl"
#include "matmul_io.glsl"

layout(constant_id = 5) const uint BM = 64;
layout(constant_id = 6) const uint BN = 64;
layout(constant_id = 7) const uint BK = 32;
layout(constant_id = 8) const uint TM = 4;
layout(constant_id = 9) const uint TN = 8;

#define TILE_T float
#include "matmul_tile.glsl"

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint r0 = group_x() * BM, t0 = gl_WorkGroupID.y * BN;
    // this invocation's rows tx + i (BM / TM) and tokens ty + j (BN / TN): strided, so that
    // neighbouring invocations read neighbouring words of the tiles
    const uint SM = BM / TM, SN = BN / TN, tx = l % SM, ty = l / SM;
    float acc[TM * TN];
    for (uint i = 0; i < TM * TN; i++) acc[i] = 0.0;
    for (uint k0 = 0; k0 < pc.ne0; k0 += BK) {
        stage_a(r0, k0);
        stage_b(t0, k0);
        barrier();
        for (uint k = 0; k < BK; k++) {
            float a[TM], b[TN];
            for (uint i = 0; i < TM; i++) a[i] = a_sh[k * BM + tx + i * SM];
            for (uint j = 0; j < TN; j++) b[j] = b_sh[k * BN + ty + j * SN];
            for (uint i = 0; i < TM; i++)
                for (uint j = 0; j < TN; j++) acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
        }
        barrier();
    }
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) {
            const uint r = r0 + tx + i * SM, t = t0 + ty + j * SN;
            if (r < pc.rows && t < pc.n) store(t, r, acc[i * TN + j]);
        }
}
