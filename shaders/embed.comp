#version 450
// embed — y[t] = row tokens[t] of W (dequantized). W may be split into row chunks;
// each dispatch handles one chunk and skips tokens outside it.
// variants: embed_f32:TYPE_F32 embed_f16:TYPE_F16 embed_bf16:TYPE_BF16 embed_q8_0:TYPE_Q8_0
// variants: embed_q4_0:TYPE_Q4_0 embed_q4_1:TYPE_Q4_1 embed_q5_0:TYPE_Q5_0 embed_q5_1:TYPE_Q5_1
// variants: embed_q2_k:TYPE_Q2_K embed_q3_k:TYPE_Q3_K embed_q4_k:TYPE_Q4_K embed_q5_k:TYPE_Q5_K
// variants: embed_q6_k:TYPE_Q6_K
#define NEED_WEIGHTS
#include "common.glsl"
#include "params.glsl"

layout(std430, binding = 2) writeonly buffer YBuf { float y[]; };
layout(push_constant) uniform PC { uint ne0, rows, row_bytes, n, row_first; } pc;

void main()
{
    const uint e = group_x() * WG + gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y;
    if (e >= pc.ne0) return;
    int tok = prm.tokens[t] - int(pc.row_first);
    if (tok < 0 || tok >= int(pc.rows)) return;
    y[t * pc.ne0 + e] = dq1(uint(tok) * pc.row_bytes, e);
}
