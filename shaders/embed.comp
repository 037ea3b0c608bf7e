#version 450
// embed — y[t] = row tokens[t] of W (dequantized). W may be split into row chunks;
// each dispatch handles one chunk and skips tokens outside it.
// axes: embed @types
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
