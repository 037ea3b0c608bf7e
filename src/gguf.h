/* gguf — reader for GGUF v2/v3 model files.
 *
 * The file is mmapped read-only. Every count, length, offset, dimension and type
 * read from it is validated against the file size and against overflow before
 * use: a GGUF file is untrusted input. On failure, functions return non-zero and
 * write a one-line message naming the file and the problem into err.
 *
 * Strings point into the mapping and are NOT NUL-terminated: use len.
 *
 * Limits beyond the format's own: arrays nest at most 8 deep, a file holds at most 2^24 array
 * items in all, and its parsed array items (32 bytes each) take at most 8 times the file's size
 * + 1 MiB; tensor names are 1..256 bytes without NUL, every dimension is >= 1, and no two
 * tensors' data overlap.
 */
#ifndef JOULE_GGUF_H
#define JOULE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gguf_vtype {
    GGUF_U8 = 0,
    GGUF_I8 = 1,
    GGUF_U16 = 2,
    GGUF_I16 = 3,
    GGUF_U32 = 4,
    GGUF_I32 = 5,
    GGUF_F32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_U64 = 10,
    GGUF_I64 = 11,
    GGUF_F64 = 12,
    GGUF_VTYPE_COUNT
};

struct gguf_str {
    const char *ptr; /* into the mapping, not NUL-terminated */
    uint64_t len;
};

struct gguf_value {
    enum gguf_vtype type;
    union {
        uint64_t u; /* U8, U16, U32, U64, BOOL */
        int64_t i;  /* I8, I16, I32, I64 */
        double f;   /* F32, F64 */
        struct gguf_str s;
        struct {
            enum gguf_vtype elem;
            uint64_t n;
            struct gguf_value *items; /* n parsed items (nested arrays too) */
        } arr;
    } v;
};

struct gguf_kv {
    struct gguf_str key;
    struct gguf_value val;
};

#define GGUF_MAX_DIMS 4

struct gguf_tensor {
    char *name; /* NUL-terminated copy */
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    uint32_t type;             /* enum qtype from quant.h */
    uint64_t offset;           /* relative to the data section */
    uint64_t nbytes;
    const void *data; /* into the mapping */
};

struct gguf_file {
    char *path;
    uint32_t version;
    uint64_t file_size;
    const uint8_t *map;
    uint64_t alignment;
    uint64_t data_offset; /* absolute offset of the data section */
    uint64_t n_kv;
    struct gguf_kv *kv;
    uint64_t n_tensors;
    struct gguf_tensor *tensors;
};

/* Open and validate a GGUF file. On success *out owns the mapping. A gguf_file is only ever made
 * by gguf_open (the lookups below use indexes it keeps alongside), and freed by gguf_close. */
int gguf_open(const char *path, struct gguf_file **out, char *err, size_t errlen);
/* As gguf_open, for describing a file that cannot be used (joule info): tensor data past the end
 * of the file (a truncated download) or overlapping is not an error but the file's damage, said
 * in damage ("" when there is none); the tensors whose data is missing have data NULL. Headers
 * and metadata are checked as strictly as by gguf_open. Never run a model from such a file. */
int gguf_open_damaged(const char *path, struct gguf_file **out, char *damage, size_t damagelen,
                      char *err, size_t errlen);
void gguf_close(struct gguf_file *f);
/* Drops from memory the pages of the mapping wholly inside [p, p + n) (a backend that keeps
 * its own copy of some tensor data, so that the process holds one copy); a page touched
 * again is read back from the file. Does nothing for a range outside the mapping or f NULL. */
void gguf_release_pages(const struct gguf_file *f, const void *p, uint64_t n);

const char *gguf_vtype_name(enum gguf_vtype t);

/* Lookups return NULL / non-zero when the key is absent or has an incompatible type. */
const struct gguf_kv *gguf_find(const struct gguf_file *f, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name);
/* Integer of any integer type (or bool) that fits in the requested type. */
int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out);
int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out);
int gguf_get_f32(const struct gguf_file *f, const char *key, float *out); /* F32 or F64 */
int gguf_get_bool(const struct gguf_file *f, const char *key, bool *out);
/* Returns a malloc'd NUL-terminated copy, or NULL when absent / not a string. */
char *gguf_get_str(const struct gguf_file *f, const char *key);
/* Array of the given element type (any for GGUF_VTYPE_COUNT); NULL if absent or mismatched. */
const struct gguf_value *gguf_get_arr(const struct gguf_file *f, const char *key,
                                      enum gguf_vtype elem, uint64_t *n);

#endif
