#version 450
// matmul_cm — the prefill product through VK_KHR_cooperative_matrix (matrix units): the
// output tile, the staging of both tiles in shared memory (matmul_tile.glsl) and the store
// as in matmul_tile.comp, the multiply-adds by coopMatMulAdd of CM x CK (weights, A) by
// CK x CN (activations, B) fp16 matrices into CM x CN fp32 accumulators; the shape is the
// device's (specialization constants 10..12; the chooser requires 16 x 16 x 16).
//
// Precision: the tiles are fp16 (weights dequantized to fp32 then rounded to fp16 once per
// tile, activations rounded to fp16: about 3 significant digits each), accumulation fp32.
//
// The workgroup's tile is BM x BN (constants 5, 6; K steps of BK, 7), cut into NB blocks of
// RM x RN matrices. Each subgroup computes one block per pass over K; any subgroup size
// works: with fewer subgroups than blocks there are more passes (each stages the tiles
// again), with more, the extra subgroups compute a repeat of the last block and store
// nothing. The results go through shared memory (c_sh) to apply the bounds, bias and
// accumulation exactly as store() does.
// needs: coopmat
// axes: matmul_cm @types
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_shader_subgroup_basic : require
#define NEED_WEIGHTS
#include "common.glsl"
#include "matmul_io.glsl"

layout(constant_id = 5) const uint BM = 64;
layout(constant_id = 6) const uint BN = 64;
layout(constant_id = 7) const uint BK = 32;
layout(constant_id = 10) const uint CM = 16;
layout(constant_id = 11) const uint CN = 16;
layout(constant_id = 12) const uint CK = 16;
const uint RM = 2, RN = 2; // matrices per block: rows x tokens

#define TILE_T float16_t
#include "matmul_tile.glsl"
shared float c_sh[BM * BN]; // results of a pass, row-major: c_sh[m * BN + n]

void main()
{
    const uint l = gl_LocalInvocationID.x;
    const uint r0 = group_x() * BM, t0 = gl_WorkGroupID.y * BN;
    const uint NBM = BM / (RM * CM), NB = NBM * (BN / (RN * CN));
    const uint ns = gl_NumSubgroups, passes = (NB + ns - 1u) / ns;
    for (uint p = 0; p < passes; p++) {
        const uint s = gl_SubgroupID + p * ns, blk = min(s, NB - 1u);
        const uint bm0 = (blk % NBM) * RM * CM, bn0 = (blk / NBM) * RN * CN;
        coopmat<float, gl_ScopeSubgroup, CM, CN, gl_MatrixUseAccumulator> acc[RM * RN];
        for (uint i = 0; i < RM * RN; i++)
            acc[i] = coopmat<float, gl_ScopeSubgroup, CM, CN, gl_MatrixUseAccumulator>(0.0);
        for (uint k0 = 0; k0 < pc.ne0; k0 += BK) {
            barrier(); // the previous step's (or pass's) readers are done
            stage_a(r0, k0);
            stage_b(t0, k0);
            barrier();
            for (uint k = 0; k < BK; k += CK) {
                coopmat<float16_t, gl_ScopeSubgroup, CM, CK, gl_MatrixUseA> a[RM];
                coopmat<float16_t, gl_ScopeSubgroup, CK, CN, gl_MatrixUseB> b[RN];
                // A (rows x K) column-major in a_sh, B (K x tokens) row-major in b_sh
                for (uint i = 0; i < RM; i++)
                    coopMatLoad(a[i], a_sh, k * BM + bm0 + i * CM, BM,
                                gl_CooperativeMatrixLayoutColumnMajor);
                for (uint j = 0; j < RN; j++)
                    coopMatLoad(b[j], b_sh, k * BN + bn0 + j * CN, BN,
                                gl_CooperativeMatrixLayoutRowMajor);
                for (uint i = 0; i < RM; i++)
                    for (uint j = 0; j < RN; j++)
                        acc[i * RN + j] = coopMatMulAdd(a[i], b[j], acc[i * RN + j]);
            }
        }
        if (s < NB)
            for (uint i = 0; i < RM; i++)
                for (uint j = 0; j < RN; j++)
                    coopMatStore(acc[i * RN + j], c_sh, (bm0 + i * CM) * BN + bn0 + j * CN, BN,
                                 gl_CooperativeMatrixLayoutRowMajor);
        barrier();
        // the blocks of this pass: p * ns .. p * ns + ns - 1
        for (uint e = l; e < BM * BN; e += WG) {
            const uint m = e / BN, n = e % BN, b = (n / (RN * CN)) * NBM + m / (RM * CM);
            const uint r = r0 + m, t = t0 + n;
            if (b >= p * ns && b < p * ns + ns && r < pc.rows && t < pc.n) store(t, r, c_sh[e]);
        }
    }
}
