// params.glsl — the small host-written buffer read by every step: the position of the
// first token and the token ids. A recorded command buffer is re-submitted unchanged;
// only this buffer changes between steps.
layout(std430, binding = 4) readonly buffer PBuf
{
    uint pos0, n_tokens, pad0, pad1;
    int tokens[];
} prm;
