// matmul_tile.glsl — a product's tiles staged in shared memory, shared by matmul_tile.comp
// (TILE_T float: fp32 tiles, the weights exactly as the reference dequantizes them) and
// matmul_cm.comp (TILE_T float16_t: fp16 tiles). The includer declares the specialization
// constants BM, BN, BK (rows x tokens of the workgroup's output tile, K elements per step;
// BK a multiple of 16) and includes common.glsl (NEED_WEIGHTS) and matmul_io.glsl first.
//
// Both tiles are k-major: a_sh[k * BM + m] is element k0 + k of row r0 + m, b_sh[k * BN + n]
// element k0 + k of token t0 + n, so that the invocations of a K step read consecutive
// words (and matmul_cm loads A column-major, B row-major).
shared TILE_T a_sh[BK * BM];
shared TILE_T b_sh[BK * BN];

// The weight tile: rows r0.. x elements k0..k0+BK, dequantized once. The work is split into
// units of 16 elements (4 quads: a K sub-block, a float "block", half a 32-weight block);
// unit u is part u % (BK / 16) of row u / (BK / 16), so consecutive invocations take
// consecutive parts of a row, each decoding its part with the block code of common.glsl.
// Rows past the chunk's end repeat its last row (their results are not stored); elements
// past ne0 are 0 (float rows of any length: the tail through dq1).
void stage_a(uint r0, uint k0)
{
    const uint upr = BK / 16u, whole = (pc.ne0 / QK) * QK;
    for (uint u = gl_LocalInvocationID.x; u < BM * upr; u += WG) {
        const uint m = u / upr, kk = (u % upr) * 16u, e0 = k0 + kk;
        const uint row = min(r0 + m, pc.rows - 1u) * pc.row_bytes;
        vec4 q[4];
        if (e0 + 16u <= whole) {
            blk_load(row, e0 / QK);
            float d, mn;
            blk_head(d, mn);
            for (uint j = 0; j < 4u; j++) q[j] = d * blk_quad((e0 % QK) / 4u + j) + mn;
        } else {
            for (uint j = 0; j < 4u; j++)
                for (uint i = 0; i < 4u; i++) {
                    const uint e = e0 + 4u * j + i;
                    q[j][i] = e < pc.ne0 ? dq1(row, e) : 0.0;
                }
        }
        for (uint j = 0; j < 4u; j++)
            for (uint i = 0; i < 4u; i++) a_sh[(kk + 4u * j + i) * BM + m] = TILE_T(q[j][i]);
    }
}

// The activation tile: tokens t0.. x elements k0..k0+BK, read coalesced (consecutive
// invocations, consecutive elements of a token's row); 0 past the batch and past ne0.
void stage_b(uint t0, uint k0)
{
    for (uint i = gl_LocalInvocationID.x; i < BN * BK; i += WG) {
        const uint n = i / BK, k = i % BK, t = t0 + n, e = k0 + k;
        float v = 0.0;
        if (t < pc.n && e < pc.ne0) v = x[pc.x_off + t * pc.x_stride + e];
        b_sh[k * BN + n] = TILE_T(v);
    }
}
