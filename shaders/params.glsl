// params.glsl — the small host-written buffer read by every step: the token ids, and for
// each row its position and the first cache row of its sequence (several sequences share
// the cache: sequence s owns rows s * n_ctx ..). A recorded command buffer is re-submitted
// unchanged; only this buffer changes between steps.
layout(std430, binding = 4) readonly buffer PBuf
{
    uint pos0, n_tokens, max_rows, pad1;
    int tokens[]; // [0, max_rows): ids; [max_rows, 2 max_rows): positions; then first rows
} prm;

uint row_pos(uint t)
{
    return uint(prm.tokens[prm.max_rows + t]);
}

uint row_kv0(uint t)
{
    return uint(prm.tokens[2u * prm.max_rows + t]);
}
