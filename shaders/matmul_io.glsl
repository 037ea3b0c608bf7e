// matmul_io.glsl — bindings and output of the matrix products (matvec, matmul).
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
layout(std430, binding = 1) readonly buffer XBuf4 { vec4 x4[]; }; // when 4-aligned
layout(std430, binding = 2) buffer YBuf { float y[]; };
layout(std430, binding = 3) readonly buffer BBuf { float bias[]; };

// rows: rows in this weight chunk; row_base: first output row of the chunk.
// flags: 1 = accumulate into y, 2 = add bias. rpg: matvec rows per workgroup.
layout(push_constant) uniform PC
{
    uint ne0, rows, row_bytes, n, x_off, x_stride, y_off, y_stride, row_base, flags, rpg;
} pc;

void store(uint t, uint r, float v)
{
    uint o = pc.y_off + t * pc.y_stride + pc.row_base + r;
    if ((pc.flags & 2u) != 0u) v += bias[pc.row_base + r];
    if ((pc.flags & 1u) != 0u) v += y[o];
    y[o] = v;
}
