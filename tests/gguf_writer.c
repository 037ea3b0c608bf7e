/* gguf_writer — see gguf_writer.h. */
#include "gguf_writer.h"

#include "quant.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_tensor {
    char *name;
    uint32_t n_dims, type;
    uint64_t ne[GW_MAX_DIMS];
    uint8_t *data;
    size_t nbytes;
    bool offset_set;
    uint64_t offset;
};

struct gguf_writer {
    uint32_t version, alignment;
    uint64_t n_kv;
    struct gw_buf kv; /* the kv section, encoded as it is added */
    struct gw_tensor *tensors;
    size_t n_tensors, cap_tensors;
};

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "gguf_writer: out of memory\n");
        abort();
    }
    return p;
}

void gw_buf_put(struct gw_buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_le(struct gw_buf *b, uint64_t v, unsigned n)
{
    uint8_t x[8];
    for (unsigned i = 0; i < n; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    gw_buf_put(b, x, n);
}

void gw_buf_u32(struct gw_buf *b, uint32_t v)
{
    put_le(b, v, 4);
}
void gw_buf_u64(struct gw_buf *b, uint64_t v)
{
    put_le(b, v, 8);
}

void gw_buf_str(struct gw_buf *b, const char *s)
{
    size_t n = strlen(s);
    gw_buf_u64(b, n);
    gw_buf_put(b, s, n);
}

void gw_buf_free(struct gw_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

struct gguf_writer *gw_new(void)
{
    struct gguf_writer *w = xrealloc(NULL, sizeof *w);
    memset(w, 0, sizeof *w);
    w->version = 3;
    w->alignment = 32;
    return w;
}

void gw_free(struct gguf_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    gw_buf_free(&w->kv);
    free(w);
}

void gw_set_version(struct gguf_writer *w, uint32_t version)
{
    w->version = version;
}

void gw_set_alignment(struct gguf_writer *w, uint32_t alignment)
{
    assert(alignment && (alignment & (alignment - 1)) == 0);
    w->alignment = alignment;
    gw_add_u32(w, "general.alignment", alignment);
}

static void kv_head(struct gguf_writer *w, const char *key, uint32_t type)
{
    gw_buf_str(&w->kv, key);
    gw_buf_u32(&w->kv, type);
    w->n_kv++;
}

static void kv_scalar(struct gguf_writer *w, const char *key, uint32_t type, uint64_t bits,
                      unsigned n)
{
    kv_head(w, key, type);
    put_le(&w->kv, bits, n);
}

/* The integer setters, one per GGUF integer type: gw_add_NAME writes v's bits (as the unsigned
 * type of its width, so a negative value keeps its two's complement) in BYTES bytes. */
#define GW_ADD_INT(NAME, CTYPE, UTYPE, GTYPE, BYTES)                                               \
    void gw_add_##NAME(struct gguf_writer *w, const char *k, CTYPE v)                              \
    {                                                                                              \
        kv_scalar(w, k, GTYPE, (UTYPE)v, BYTES);                                                   \
    }
GW_ADD_INT(u8, uint8_t, uint8_t, GGUF_U8, 1)
GW_ADD_INT(i8, int8_t, uint8_t, GGUF_I8, 1)
GW_ADD_INT(u16, uint16_t, uint16_t, GGUF_U16, 2)
GW_ADD_INT(i16, int16_t, uint16_t, GGUF_I16, 2)
GW_ADD_INT(u32, uint32_t, uint32_t, GGUF_U32, 4)
GW_ADD_INT(i32, int32_t, uint32_t, GGUF_I32, 4)
GW_ADD_INT(u64, uint64_t, uint64_t, GGUF_U64, 8)
GW_ADD_INT(i64, int64_t, uint64_t, GGUF_I64, 8)
#undef GW_ADD_INT

void gw_add_f32(struct gguf_writer *w, const char *k, float v)
{
    uint32_t b;
    memcpy(&b, &v, 4);
    kv_scalar(w, k, GGUF_F32, b, 4);
}

void gw_add_f64(struct gguf_writer *w, const char *k, double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    kv_scalar(w, k, GGUF_F64, b, 8);
}

void gw_add_bool(struct gguf_writer *w, const char *k, bool v)
{
    kv_scalar(w, k, GGUF_BOOL, v ? 1 : 0, 1);
}

void gw_add_str(struct gguf_writer *w, const char *key, const char *s)
{
    kv_head(w, key, GGUF_STRING);
    gw_buf_str(&w->kv, s);
}

static unsigned fixed_size(enum gguf_vtype t)
{
    switch (t) {
    case GGUF_U8:
    case GGUF_I8:
    case GGUF_BOOL: return 1;
    case GGUF_U16:
    case GGUF_I16: return 2;
    case GGUF_U32:
    case GGUF_I32:
    case GGUF_F32: return 4;
    case GGUF_U64:
    case GGUF_I64:
    case GGUF_F64: return 8;
    default: return 0;
    }
}

void gw_add_arr(struct gguf_writer *w, const char *key, enum gguf_vtype elem, const void *items,
                size_t n)
{
    unsigned sz = fixed_size(elem);
    assert(sz != 0 && "gw_add_arr takes fixed-size element types");
    kv_head(w, key, GGUF_ARRAY);
    gw_buf_u32(&w->kv, elem);
    gw_buf_u64(&w->kv, n);
    const uint8_t *p = items;
    for (size_t i = 0; i < n; i++) {
        /* items are native values; the file is little-endian */
        uint64_t bits = 0;
        if (sz == 1) bits = p[i];
        if (sz == 2) {
            uint16_t x;
            memcpy(&x, p + i * 2, 2);
            bits = x;
        }
        if (sz == 4) {
            uint32_t x;
            memcpy(&x, p + i * 4, 4);
            bits = x;
        }
        if (sz == 8) memcpy(&bits, p + i * 8, 8);
        put_le(&w->kv, bits, sz);
    }
}

void gw_add_str_arr(struct gguf_writer *w, const char *key, const char *const *items, size_t n)
{
    kv_head(w, key, GGUF_ARRAY);
    gw_buf_u32(&w->kv, GGUF_STRING);
    gw_buf_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++)
        gw_buf_str(&w->kv, items[i]);
}

void gw_add_raw(struct gguf_writer *w, const char *key, uint32_t type, const void *value,
                size_t len)
{
    kv_head(w, key, type);
    gw_buf_put(&w->kv, value, len);
}

size_t gw_add_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                     uint32_t type, const void *data, size_t nbytes)
{
    assert(n_dims <= GW_MAX_DIMS);
    if (w->n_tensors == w->cap_tensors) {
        w->cap_tensors = w->cap_tensors * 2 + 8;
        w->tensors = xrealloc(w->tensors, w->cap_tensors * sizeof *w->tensors);
    }
    struct gw_tensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    size_t len = strlen(name);
    t->name = xrealloc(NULL, len + 1);
    memcpy(t->name, name, len + 1);
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < n_dims; d++)
        t->ne[d] = ne[d];
    t->type = type;
    t->nbytes = nbytes;
    t->data = xrealloc(NULL, nbytes);
    if (data)
        memcpy(t->data, data, nbytes);
    else
        memset(t->data, 0, nbytes);
    return w->n_tensors++;
}

static void put16(uint8_t *d, uint16_t v)
{
    d[0] = (uint8_t)v;
    d[1] = (uint8_t)(v >> 8);
}

size_t gw_add_tensor_f32(struct gguf_writer *w, const char *name, uint32_t n_dims,
                         const uint64_t *ne, uint32_t type, const float *src)
{
    uint64_t rows = 1, row_bytes = 0;
    for (uint32_t d = 1; d < n_dims; d++)
        rows *= ne[d];
    bool ok = quant_row_bytes(type, ne[0], &row_bytes);
    assert(ok && "row length must be a multiple of the block size");
    (void)ok;
    uint8_t *buf = xrealloc(NULL, (size_t)(row_bytes * rows));
    for (uint64_t r = 0; r < rows; r++) {
        const float *s = src + r * ne[0];
        uint8_t *d = buf + r * row_bytes;
        for (uint64_t i = 0; type == Q_F16 && i < ne[0]; i++)
            put16(d + 2 * i, quant_f32_to_f16(s[i]));
        for (uint64_t i = 0; type == Q_BF16 && i < ne[0]; i++)
            put16(d + 2 * i, quant_f32_to_bf16(s[i]));
        if (type == Q_F32)
            memcpy(d, s, (size_t)row_bytes);
        else if (type != Q_F16 && type != Q_BF16)
            quant_quantize_row_ref(type, s, d, (int64_t)ne[0]);
    }
    size_t i = gw_add_tensor(w, name, n_dims, ne, type, buf, (size_t)(row_bytes * rows));
    free(buf);
    return i;
}

void gw_set_tensor_offset(struct gguf_writer *w, size_t i, uint64_t offset)
{
    assert(i < w->n_tensors);
    w->tensors[i].offset_set = true;
    w->tensors[i].offset = offset;
}

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

static void pad_to(struct gw_buf *b, size_t at)
{
    static const uint8_t zeros[256];
    while (b->len < at) {
        size_t gap = at - b->len;
        gw_buf_put(b, zeros, gap < sizeof zeros ? gap : sizeof zeros);
    }
}

uint8_t *gw_build(struct gguf_writer *w, size_t *len, struct gw_layout *layout)
{
    struct gw_buf b = {0};
    gw_buf_put(&b, "GGUF", 4);
    gw_buf_u32(&b, w->version);
    gw_buf_u64(&b, w->n_tensors);
    gw_buf_u64(&b, w->n_kv);
    struct gw_layout lay = {.kv_start = b.len};
    gw_buf_put(&b, w->kv.p, w->kv.len);
    lay.infos_start = b.len;

    /* data offsets relative to the data section, each aligned */
    uint64_t *offs = xrealloc(NULL, (w->n_tensors + 1) * sizeof *offs);
    size_t pos = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        pos = align_up(pos, w->alignment);
        offs[i] = pos;
        pos += w->tensors[i].nbytes;
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        const struct gw_tensor *t = &w->tensors[i];
        gw_buf_str(&b, t->name);
        gw_buf_u32(&b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            gw_buf_u64(&b, t->ne[d]);
        gw_buf_u32(&b, t->type);
        gw_buf_u64(&b, t->offset_set ? t->offset : offs[i]);
    }
    lay.infos_end = b.len;
    lay.data_offset = align_up(b.len, w->alignment);
    pad_to(&b, lay.data_offset);
    for (size_t i = 0; i < w->n_tensors; i++) {
        pad_to(&b, lay.data_offset + offs[i]);
        gw_buf_put(&b, w->tensors[i].data, w->tensors[i].nbytes);
    }
    free(offs);
    lay.size = b.len;
    if (layout) *layout = lay;
    *len = b.len;
    return b.p;
}

int gw_write_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = len ? fwrite(bytes, 1, len, f) : 0;
    int rc = fclose(f);
    return put == len && rc == 0 ? 0 : -1;
}

int gw_write(struct gguf_writer *w, const char *path)
{
    size_t len;
    uint8_t *img = gw_build(w, &len, NULL);
    int rc = gw_write_bytes(path, img, len);
    free(img);
    return rc;
}
