/* gguf_writer — builds small GGUF files for tests: metadata of every type, tensors, alignment.
 *
 * Typical use (a tiny model):
 *     struct gguf_writer *w = gw_new();
 *     gw_add_str(w, "general.architecture", "llama");
 *     gw_add_u32(w, "llama.block_count", 2);
 *     const char *toks[] = {"<unk>", "<s>", "</s>"};
 *     gw_add_str_arr(w, "tokenizer.ggml.tokens", toks, 3);
 *     uint64_t ne[2] = {256, 1024};                      // ne[0] is the row length
 *     gw_add_tensor_f32(w, "token_embd.weight", 2, ne, Q_Q8_0, floats); // quantized on the way
 *     if (gw_write(w, path) != 0) ...;
 *     gw_free(w);
 *
 * Entries are written in the order they are added. The file is GGUF v3, little-endian, with
 * tensor data placed one after another, each at the next multiple of the alignment (32 unless
 * gw_set_alignment says otherwise); the file ends right after the last tensor's data.
 *
 * The writer checks nothing on purpose, so tests can build malformed files too: keys may repeat,
 * types may be unknown, gw_add_raw writes any bytes as a value, and gw_set_tensor_offset moves a
 * tensor's recorded offset. Out of memory aborts (this is test code).
 */
#ifndef JOULE_GGUF_WRITER_H
#define JOULE_GGUF_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

#define GW_MAX_DIMS 8 /* more than GGUF_MAX_DIMS, to write files a reader must reject */

/* A growable byte buffer, also for hand-encoding values passed to gw_add_raw (nested arrays). */
struct gw_buf {
    uint8_t *p;
    size_t len, cap;
};
void gw_buf_put(struct gw_buf *b, const void *data, size_t n);
void gw_buf_u32(struct gw_buf *b, uint32_t v); /* little-endian */
void gw_buf_u64(struct gw_buf *b, uint64_t v);
void gw_buf_str(struct gw_buf *b, const char *s); /* u64 length, then the bytes (no NUL) */
void gw_buf_free(struct gw_buf *b);

struct gguf_writer;

struct gguf_writer *gw_new(void);
void gw_free(struct gguf_writer *w);

/* Header version (default 3). */
void gw_set_version(struct gguf_writer *w, uint32_t version);
/* Data alignment used for the layout (a power of two); also adds the general.alignment u32 kv.
 * To write a bad general.alignment value, use gw_add_u32 instead: it does not change the layout. */
void gw_set_alignment(struct gguf_writer *w, uint32_t alignment);

/* Metadata. */
void gw_add_u8(struct gguf_writer *w, const char *key, uint8_t v);
void gw_add_i8(struct gguf_writer *w, const char *key, int8_t v);
void gw_add_u16(struct gguf_writer *w, const char *key, uint16_t v);
void gw_add_i16(struct gguf_writer *w, const char *key, int16_t v);
void gw_add_u32(struct gguf_writer *w, const char *key, uint32_t v);
void gw_add_i32(struct gguf_writer *w, const char *key, int32_t v);
void gw_add_u64(struct gguf_writer *w, const char *key, uint64_t v);
void gw_add_i64(struct gguf_writer *w, const char *key, int64_t v);
void gw_add_f32(struct gguf_writer *w, const char *key, float v);
void gw_add_f64(struct gguf_writer *w, const char *key, double v);
void gw_add_bool(struct gguf_writer *w, const char *key, bool v);
void gw_add_str(struct gguf_writer *w, const char *key, const char *s);
/* Array of a fixed-size element type; items is a C array of the matching type (uint8_t for BOOL,
 * float for F32, double for F64, ...). */
void gw_add_arr(struct gguf_writer *w, const char *key, enum gguf_vtype elem, const void *items,
                size_t n);
void gw_add_str_arr(struct gguf_writer *w, const char *key, const char *const *items, size_t n);
/* Any value: writes the key, the type number, then len bytes exactly as given. For a nested
 * array, type is GGUF_ARRAY and the bytes are: u32 GGUF_ARRAY, u64 count, then per inner array
 * its u32 element type, u64 count and items (see gw_buf_*). */
void gw_add_raw(struct gguf_writer *w, const char *key, uint32_t type, const void *value,
                size_t len);

/* Tensors. ne has n_dims entries (up to GW_MAX_DIMS), ne[0] the row length; type is a GGML type
 * number (enum qtype); data holds nbytes bytes of raw tensor data, copied (NULL: zeros). Returns
 * the tensor's index. */
size_t gw_add_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                     uint32_t type, const void *data, size_t nbytes);
/* The same from float values, converted to type row by row with the reference quantizer of quant.h
 * (F32, F16 and BF16 directly). ne[0] must be a multiple of the type's block size. */
size_t gw_add_tensor_f32(struct gguf_writer *w, const char *name, uint32_t n_dims,
                         const uint64_t *ne, uint32_t type, const float *src);
/* Records a different offset for tensor i than the layout gives it (data stays where it was). */
void gw_set_tensor_offset(struct gguf_writer *w, size_t i, uint64_t offset);

/* Where things landed in the last image built: byte offsets in the file. */
struct gw_layout {
    size_t kv_start;    /* first kv (= 24, after the header) */
    size_t infos_start; /* first tensor info */
    size_t infos_end;   /* end of the last tensor info */
    size_t data_offset; /* start of the data section */
    size_t size;        /* whole file */
};

/* The file as bytes (malloc'd; *len its size; layout may be NULL). */
uint8_t *gw_build(struct gguf_writer *w, size_t *len, struct gw_layout *layout);
/* Builds and writes to path; 0 on success. */
int gw_write(struct gguf_writer *w, const char *path);
/* Writes len bytes to path (for mutated images); 0 on success. */
int gw_write_bytes(const char *path, const void *bytes, size_t len);

#endif
