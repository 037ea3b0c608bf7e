/* gguf — GGUF v2/v3 reader (see gguf.h).
 *
 * Layout (all little-endian): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv, then n_kv
 * metadata entries (string key, u32 value type, value), then n_tensors tensor infos (string name,
 * u32 n_dims, u64 ne[n_dims], u32 type, u64 offset), then padding to general.alignment, then the
 * data section. A string is a u64 length and that many bytes; an array is a u32 element type, a
 * u64 count and the items without per-item type tags.
 *
 * Nothing read from the file is trusted: every length is checked against the bytes left before it
 * is used, every product and sum is overflow-checked, and tables grow as entries are actually
 * parsed, so a count that lies costs no more memory than the file really holds.
 */
#include "gguf.h"

#include "quant.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 8          /* arrays nested deeper than this are rejected (bounds recursion) */
#define MAX_NAME 256         /* longest tensor name accepted (GGML itself allows 63) */
#define MAX_ITEMS (1u << 24) /* array items per file: bounds the parsed-value memory */
#define DEFAULT_ALIGNMENT 32

/* Minimum encoded size of a value of each type; exact for the fixed-size ones. Used to reject a
 * count before allocating for it: a count that cannot fit in the bytes left is a lie. */
static const uint8_t min_size[GGUF_VTYPE_COUNT] = {
    [GGUF_U8] = 1,  [GGUF_I8] = 1,  [GGUF_U16] = 2,  [GGUF_I16] = 2,    [GGUF_U32] = 4,
    [GGUF_I32] = 4, [GGUF_F32] = 4, [GGUF_BOOL] = 1, [GGUF_STRING] = 8, [GGUF_ARRAY] = 12,
    [GGUF_U64] = 8, [GGUF_I64] = 8, [GGUF_F64] = 8,
};
#define MIN_KV_BYTES (8 + 4 + 1)         /* key length, value type, smallest value */
#define MIN_TENSOR_BYTES (8 + 4 + 4 + 8) /* name length, n_dims (0), type, offset */

/* The public struct plus what gguf_open builds for fast lookups. Only gguf_open makes a
 * gguf_file, so every gguf_file handed out is really one of these. */
struct gguf_priv {
    struct gguf_file pub;
    const struct gguf_kv **kv_sorted;         /* by key: duplicate check and binary search */
    const struct gguf_tensor **tensor_sorted; /* by name */
};

struct reader {
    const uint8_t *p;
    uint64_t size, pos;
    const char *path;
    char *err;
    size_t errlen;
    uint64_t items_left; /* of MAX_ITEMS */
    uint64_t mem_left;   /* bytes the parsed array items may still take (see gguf_open) */
    char ctx[128];       /* what is being read, for messages: "kv 3 'general.name'" */
    char *damage;        /* gguf_open_damaged: where misplaced tensor data is told, else NULL */
    size_t damagelen;
};

static void put_err(const char *path, char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (!err || errlen == 0) return;
    int n = snprintf(err, errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= errlen) return;
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

__attribute__((format(printf, 2, 3))) static int fail(struct reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_err(r->path, r->err, r->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

__attribute__((format(printf, 4, 5))) static int fail_path(const char *path, char *err,
                                                           size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_err(path, err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Misplaced tensor data: an error, or with gguf_open_damaged the file's damage (the first one
 * found is kept) and 0. */
__attribute__((format(printf, 2, 3))) static int damaged(struct reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!r->damage)
        put_err(r->path, r->err, r->errlen, fmt, ap);
    else if (!r->damage[0])
        put_err(r->path, r->damage, r->damagelen, fmt, ap);
    va_end(ap);
    return r->damage ? 0 : -1;
}

/* Copies a name from the file into buf for a message: printable ASCII only (keeps the message one
 * line and the terminal sane), cut at 64 bytes. */
static const char *printable(char *buf, size_t cap, const char *s, uint64_t len)
{
    size_t n = 0;
    for (uint64_t i = 0; i < len && n + 4 < cap; i++) {
        if (i == 64) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[n] = 0;
    return buf;
}

static int need(struct reader *r, uint64_t n, const char *what)
{
    if (n <= r->size - r->pos) return 0;
    return fail(r,
                "truncated: %s%s%s at byte %" PRIu64 " needs %" PRIu64 " bytes, file is %" PRIu64
                " bytes",
                r->ctx, *r->ctx ? " " : "", what, r->pos, n, r->size);
}

static uint64_t load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    while (n-- > 0)
        v = v << 8 | p[n];
    return v;
}

static int read_uint(struct reader *r, unsigned n, const char *what, uint64_t *out)
{
    if (need(r, n, what)) return -1;
    *out = load_le(r->p + r->pos, n);
    r->pos += n;
    return 0;
}

static int read_str(struct reader *r, const char *what, struct gguf_str *s)
{
    uint64_t len;
    if (read_uint(r, 8, what, &len)) return -1;
    if (len > r->size - r->pos)
        return fail(r,
                    "truncated: %s%s%s of %" PRIu64 " bytes at byte %" PRIu64
                    " runs past the end of the file (%" PRIu64 " bytes)",
                    r->ctx, *r->ctx ? " " : "", what, len, r->pos, r->size);
    s->ptr = (const char *)r->p + r->pos;
    s->len = len;
    r->pos += len;
    return 0;
}

/* Grows a table of elem-sized entries so that index i fits: first entries at the start (16 when
 * 0), then doubling, never past n. Allocation follows
 * what has been parsed, never what a count claims. New entries are zeroed so the free path can
 * walk them. Returns the (possibly moved) table or NULL. */
static void *grow(struct reader *r, void *items, uint64_t *cap, uint64_t i, uint64_t n,
                  uint64_t first, size_t elem)
{
    if (i < *cap) return items;
    uint64_t nc = *cap ? *cap * 2 : first ? first : 16;
    if (nc > n) nc = n;
    size_t bytes;
    if (nc > SIZE_MAX || __builtin_mul_overflow((size_t)nc, elem, &bytes)) {
        fail(r, "%s: table of %" PRIu64 " entries is too large", r->ctx, n);
        return NULL;
    }
    void *p = realloc(items, bytes);
    if (!p) {
        fail(r, "%s: out of memory for %" PRIu64 " entries", r->ctx, nc);
        return NULL;
    }
    memset((char *)p + *cap * elem, 0, (size_t)(nc - *cap) * elem);
    *cap = nc;
    return p;
}

static void free_value(struct gguf_value *v)
{
    if (v->type != GGUF_ARRAY) return;
    for (uint64_t i = 0; i < v->v.arr.n; i++)
        free_value(&v->v.arr.items[i]);
    free(v->v.arr.items);
    v->v.arr.items = NULL;
    v->v.arr.n = 0;
}

static int read_value(struct reader *r, enum gguf_vtype t, struct gguf_value *v, int depth);

/* On failure v stays freeable: arr.n counts the items started, all zero-initialised. */
static int read_array(struct reader *r, struct gguf_value *v, int depth)
{
    uint64_t elem, n;
    if (depth >= MAX_DEPTH)
        return fail(r, "%s: arrays nested more than %d deep at byte %" PRIu64, r->ctx, MAX_DEPTH,
                    r->pos);
    if (read_uint(r, 4, "array element type", &elem)) return -1;
    if (elem >= GGUF_VTYPE_COUNT)
        return fail(r, "%s: unknown array element type %" PRIu64 " at byte %" PRIu64, r->ctx, elem,
                    r->pos - 4);
    if (read_uint(r, 8, "array length", &n)) return -1;
    v->v.arr.elem = (enum gguf_vtype)elem;
    uint64_t left = r->size - r->pos;
    if (n > left / min_size[elem])
        return fail(r,
                    "truncated: %s array of %" PRIu64 " %s at byte %" PRIu64
                    " cannot fit in the %" PRIu64 " bytes left (each needs at least %u)",
                    r->ctx, n, gguf_vtype_name((enum gguf_vtype)elem), r->pos, left,
                    (unsigned)min_size[elem]);
    if (n > r->items_left)
        return fail(r,
                    "%s: array of %" PRIu64 " items is over this reader's limit of %u array "
                    "items per file",
                    r->ctx, n, MAX_ITEMS);
    r->items_left -= n;
    /* A parsed item takes sizeof(struct gguf_value) (32) bytes, a u8 in the file only 1: the
     * items of all arrays together may take 8 times the file's size (a vocabulary's tokens,
     * scores and types take 4-8 times) plus 1 MiB, so a 16 MiB u8 array is refused rather
     * than costing 512 MiB. */
    if (n * sizeof(struct gguf_value) > r->mem_left)
        return fail(r,
                    "%s: array of %" PRIu64 " %s would take %" PRIu64
                    " MiB once parsed; all arrays of a file may take at most 8 times its size "
                    "+ 1 MiB (%" PRIu64 " MiB left)",
                    r->ctx, n, gguf_vtype_name((enum gguf_vtype)elem),
                    (uint64_t)(n * sizeof(struct gguf_value)) >> 20, r->mem_left >> 20);
    r->mem_left -= n * sizeof(struct gguf_value);

    /* Fixed-size items are fully paid for by the check above, so they are allocated at once;
     * strings and arrays can be longer than their minimum, so their table grows as they parse. */
    uint64_t cap = 0, first = elem != GGUF_STRING && elem != GGUF_ARRAY ? n : 0;
    for (uint64_t i = 0; i < n; i++) {
        struct gguf_value *items = grow(r, v->v.arr.items, &cap, i, n, first, sizeof *items);
        if (!items) return -1;
        v->v.arr.items = items;
        v->v.arr.n = i + 1;
        if (read_value(r, (enum gguf_vtype)elem, &items[i], depth + 1)) return -1;
    }
    return 0;
}

static int read_value(struct reader *r, enum gguf_vtype t, struct gguf_value *v, int depth)
{
    v->type = t;
    if (t == GGUF_STRING) return read_str(r, "string", &v->v.s);
    if (t == GGUF_ARRAY) return read_array(r, v, depth);
    uint64_t x;
    if (read_uint(r, min_size[t], "value", &x)) return -1;
    switch (t) {
    case GGUF_I8: v->v.i = (int8_t)x; break;
    case GGUF_I16: v->v.i = (int16_t)x; break;
    case GGUF_I32: v->v.i = (int32_t)x; break;
    case GGUF_I64: v->v.i = (int64_t)x; break;
    case GGUF_F32: {
        uint32_t b = (uint32_t)x;
        float f;
        memcpy(&f, &b, sizeof f);
        v->v.f = f;
        break;
    }
    case GGUF_F64: memcpy(&v->v.f, &x, sizeof v->v.f); break;
    case GGUF_BOOL: v->v.u = x != 0; break; /* writers use 0/1; anything else reads as true */
    default: v->v.u = x; break;
    }
    return 0;
}

/* Reads the name that starts entry i of a table ("kv 3" / "key", "tensor 3" / "name"): sets the
 * message context to the entry and rejects an empty name. */
static int read_name(struct reader *r, const char *entry, const char *what, uint64_t i,
                     struct gguf_str *s)
{
    snprintf(r->ctx, sizeof r->ctx, "%s %" PRIu64, entry, i);
    if (read_str(r, what, s)) return -1;
    if (s->len == 0) return fail(r, "%s %" PRIu64 " has an empty %s", entry, i, what);
    return 0;
}

/* A reader of entry i of a table, whose array (grown to hold it) is items: stores items in f
 * (which then owns it), counts the entry and reads it. */
typedef int read_entry_fn(struct reader *r, struct gguf_file *f, void *items, uint64_t i);

/* Reads a table of n entries of elem bytes each (the key-values, the tensor infos): grows the
 * array as entries arrive, so that a count that lies costs no memory up front, and hands each
 * entry to read_entry. items is the table's array so far (NULL). */
static int read_table(struct reader *r, struct gguf_file *f, void *items, uint64_t n, size_t elem,
                      read_entry_fn *read_entry)
{
    uint64_t cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        items = grow(r, items, &cap, i, n, 0, elem);
        if (!items || read_entry(r, f, items, i)) return -1;
    }
    r->ctx[0] = 0;
    return 0;
}

static int read_kv(struct reader *r, struct gguf_file *f, void *items, uint64_t i)
{
    f->kv = items;
    struct gguf_kv *kv = &f->kv[f->n_kv++];
    char name[80];
    if (read_name(r, "kv", "key", i, &kv->key)) return -1;
    snprintf(r->ctx, sizeof r->ctx, "kv %" PRIu64 " '%s'", i,
             printable(name, sizeof name, kv->key.ptr, kv->key.len));
    uint64_t t;
    if (read_uint(r, 4, "value type", &t)) return -1;
    if (t >= GGUF_VTYPE_COUNT)
        return fail(r, "%s: unknown value type %" PRIu64 " at byte %" PRIu64, r->ctx, t,
                    r->pos - 4);
    return read_value(r, (enum gguf_vtype)t, &kv->val, 0);
}

/* Reads tensor info i and checks what can be checked without the data section's position:
 * the name, the shape and the type. Sizes the tensor. */
static int read_tensor_info(struct reader *r, struct gguf_file *f, void *items, uint64_t i)
{
    f->tensors = items;
    struct gguf_tensor *t = &f->tensors[f->n_tensors++];
    char name[80];
    struct gguf_str s;
    if (read_name(r, "tensor", "name", i, &s)) return -1;
    if (s.len > MAX_NAME)
        return fail(r, "tensor %" PRIu64 " name is %" PRIu64 " bytes, longer than %d", i, s.len,
                    MAX_NAME);
    if (memchr(s.ptr, 0, s.len))
        return fail(r, "tensor %" PRIu64 " name '%s' contains a NUL byte", i,
                    printable(name, sizeof name, s.ptr, s.len));
    t->name = malloc(s.len + 1);
    if (!t->name) return fail(r, "out of memory");
    memcpy(t->name, s.ptr, s.len);
    t->name[s.len] = 0;
    snprintf(r->ctx, sizeof r->ctx, "tensor '%s'", printable(name, sizeof name, s.ptr, s.len));

    uint64_t nd, x;
    if (read_uint(r, 4, "n_dims", &nd)) return -1;
    if (nd > GGUF_MAX_DIMS)
        return fail(r, "%s has %" PRIu64 " dimensions, at most %d are supported", r->ctx, nd,
                    GGUF_MAX_DIMS);
    t->n_dims = (uint32_t)nd;
    uint64_t nelem = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        x = 1;
        if ((uint64_t)d < nd && read_uint(r, 8, "dimension", &x)) return -1;
        /* A zero dimension is legal in GGML but no weight is empty; rejecting it keeps every
         * consumer free of zero-size special cases. */
        if (x == 0) return fail(r, "%s has dimension %d of size 0", r->ctx, d);
        if (__builtin_mul_overflow(nelem, x, &nelem) || nelem > INT64_MAX)
            return fail(r, "%s: element count overflows (dimension %d is %" PRIu64 ")", r->ctx, d,
                        x);
        t->ne[d] = (int64_t)x;
    }
    if (read_uint(r, 4, "type", &x)) return -1;
    t->type = (uint32_t)x;
    if (read_uint(r, 8, "offset", &t->offset)) return -1;

    uint32_t blk = quant_block_elems(t->type);
    if (!quant_known(t->type) || blk == 0)
        return fail(r, "%s has unknown tensor type %" PRIu32, r->ctx, t->type);
    if ((uint64_t)t->ne[0] % blk != 0)
        return fail(r, "%s: row length %" PRId64 " is not a multiple of the %s block size %" PRIu32,
                    r->ctx, t->ne[0], quant_name(t->type), blk);
    uint64_t row, rows = nelem / (uint64_t)t->ne[0];
    if (!quant_row_bytes(t->type, (uint64_t)t->ne[0], &row) ||
        __builtin_mul_overflow(row, rows, &t->nbytes))
        return fail(r, "%s: size in bytes overflows", r->ctx);
    return 0;
}

static int offset_cmp(const void *a, const void *b)
{
    const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a,
                             *y = *(const struct gguf_tensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* No two tensors share bytes. Nothing here would break if they did (the mapping is read-only),
 * but no converter writes such a file, ggml refuses any layout but back to back, and a file
 * whose weights alias each other is more likely crafted than useful. Sorted by offset,
 * O(n log n). */
static int check_overlap(struct reader *r, const struct gguf_file *f)
{
    if (f->n_tensors < 2) return 0;
    const struct gguf_tensor **v = malloc((size_t)f->n_tensors * sizeof *v);
    if (!v) return fail(r, "out of memory");
    for (uint64_t i = 0; i < f->n_tensors; i++)
        v[i] = &f->tensors[i];
    qsort(v, (size_t)f->n_tensors, sizeof *v, offset_cmp);
    for (uint64_t i = 1; i < f->n_tensors; i++) {
        const struct gguf_tensor *a = v[i - 1], *b = v[i];
        if (a->offset + a->nbytes > b->offset) { /* both checked against the file size */
            char na[80], nb[80];
            printable(na, sizeof na, a->name, strlen(a->name));
            printable(nb, sizeof nb, b->name, strlen(b->name));
            free(v);
            return damaged(r,
                           "tensors '%s' (data bytes %" PRIu64 "..%" PRIu64
                           ") and '%s' (from %" PRIu64 ") overlap",
                           na, a->offset, a->offset + a->nbytes, nb, b->offset);
        }
    }
    free(v);
    return 0;
}

/* Places every tensor in the data section: aligned, inside the file, not overlapping. */
static int place_tensors(struct reader *r, struct gguf_file *f)
{
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        struct gguf_tensor *t = &f->tensors[i];
        char name[80];
        printable(name, sizeof name, t->name, strlen(t->name));
        if (t->offset % f->alignment != 0)
            return fail(
                r, "tensor '%s' offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                name, t->offset, f->alignment);
        uint64_t start, end;
        if (__builtin_add_overflow(f->data_offset, t->offset, &start) ||
            __builtin_add_overflow(start, t->nbytes, &end))
            return fail(r, "tensor '%s' offset %" PRIu64 " + size %" PRIu64 " overflows", name,
                        t->offset, t->nbytes);
        if (end > f->file_size) {
            if (damaged(r,
                        "tensor '%s' data ends at byte %" PRIu64
                        ", past the end of the file (%" PRIu64 " bytes)",
                        name, end, f->file_size))
                return -1;
            continue; /* described, never used: data stays NULL */
        }
        t->data = f->map + start;
    }
    return check_overlap(r, f);
}

static int key_cmp(const struct gguf_str *a, const struct gguf_str *b)
{
    uint64_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->ptr, b->ptr, (size_t)n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int kv_ptr_cmp(const void *a, const void *b)
{
    return key_cmp(&(*(const struct gguf_kv *const *)a)->key,
                   &(*(const struct gguf_kv *const *)b)->key);
}

static int tensor_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct gguf_tensor *const *)a)->name,
                  (*(const struct gguf_tensor *const *)b)->name);
}

/* Sorts the lookup indexes; sorting is also how duplicates are found in O(n log n), since a
 * file may hold millions of entries and a pairwise check would hang. */
static int build_indexes(struct reader *r, struct gguf_priv *p)
{
    struct gguf_file *f = &p->pub;
    char name[80];
    if (f->n_kv) {
        p->kv_sorted = malloc((size_t)f->n_kv * sizeof *p->kv_sorted);
        if (!p->kv_sorted) return fail(r, "out of memory");
        for (uint64_t i = 0; i < f->n_kv; i++)
            p->kv_sorted[i] = &f->kv[i];
        qsort(p->kv_sorted, (size_t)f->n_kv, sizeof *p->kv_sorted, kv_ptr_cmp);
        for (uint64_t i = 1; i < f->n_kv; i++) {
            const struct gguf_kv *a = p->kv_sorted[i - 1], *b = p->kv_sorted[i];
            if (key_cmp(&a->key, &b->key) == 0)
                return fail(r, "duplicate key '%s' (kv %td and kv %td)",
                            printable(name, sizeof name, a->key.ptr, a->key.len),
                            (a < b ? a : b) - f->kv, (a < b ? b : a) - f->kv);
        }
    }
    if (f->n_tensors) {
        p->tensor_sorted = malloc((size_t)f->n_tensors * sizeof *p->tensor_sorted);
        if (!p->tensor_sorted) return fail(r, "out of memory");
        for (uint64_t i = 0; i < f->n_tensors; i++)
            p->tensor_sorted[i] = &f->tensors[i];
        qsort(p->tensor_sorted, (size_t)f->n_tensors, sizeof *p->tensor_sorted, tensor_ptr_cmp);
        for (uint64_t i = 1; i < f->n_tensors; i++) {
            const char *a = p->tensor_sorted[i - 1]->name, *b = p->tensor_sorted[i]->name;
            if (strcmp(a, b) == 0)
                return fail(r, "duplicate tensor name '%s'",
                            printable(name, sizeof name, a, strlen(a)));
        }
    }
    return 0;
}

static int read_header(struct reader *r, struct gguf_file *f, uint64_t *n_tensors, uint64_t *n_kv)
{
    if (r->size < 4)
        return fail(r, "not a GGUF file (%" PRIu64 " bytes, too short for the magic)", r->size);
    if (memcmp(r->p, "GGUF", 4) != 0) {
        char m[20];
        size_t n = 0;
        for (int i = 0; i < 4; i++) {
            unsigned char c = r->p[i];
            n += (size_t)snprintf(m + n, sizeof m - n,
                                  c >= 0x20 && c < 0x7f && c != '\\' ? "%c" : "\\x%02x", c);
        }
        return fail(r, "not a GGUF file (magic '%s', expected 'GGUF')", m);
    }
    r->pos = 4;
    uint64_t v;
    if (read_uint(r, 4, "version", &v)) return -1;
    f->version = (uint32_t)v;
    if (v == 1)
        return fail(r, "GGUF version 1 is not supported (only 2 and 3); convert the file with a "
                       "current llama.cpp");
    if (v != 2 && v != 3)
        return fail(r, "unsupported GGUF version %" PRIu64 " (only 2 and 3)%s", v,
                    v != 0 && (v & 0xffff) == 0 ? "; byte-swapped, is it a big-endian file?" : "");
    if (read_uint(r, 8, "tensor count", n_tensors) || read_uint(r, 8, "kv count", n_kv)) return -1;

    /* Early plausibility check of both counts; the parsers grow tables as they go anyway. */
    uint64_t left = r->size - r->pos;
    if (*n_kv > left / MIN_KV_BYTES)
        return fail(r,
                    "truncated: header claims %" PRIu64 " metadata entries but only %" PRIu64
                    " bytes follow (each needs at least %d)",
                    *n_kv, left, MIN_KV_BYTES);
    left -= *n_kv * MIN_KV_BYTES;
    if (*n_tensors > left / MIN_TENSOR_BYTES)
        return fail(r,
                    "truncated: header claims %" PRIu64 " tensors and %" PRIu64
                    " metadata entries but only %" PRIu64 " bytes follow",
                    *n_tensors, *n_kv, r->size - r->pos);
    return 0;
}

static int read_alignment(struct reader *r, struct gguf_file *f)
{
    const struct gguf_kv *kv = NULL;
    static const char key[] = "general.alignment";
    for (uint64_t i = 0; i < f->n_kv && !kv; i++)
        if (f->kv[i].key.len == sizeof key - 1 &&
            memcmp(f->kv[i].key.ptr, key, sizeof key - 1) == 0)
            kv = &f->kv[i];
    f->alignment = DEFAULT_ALIGNMENT;
    if (!kv) return 0;
    if (kv->val.type != GGUF_U32)
        return fail(r, "general.alignment has type %s, expected u32",
                    gguf_vtype_name(kv->val.type));
    uint64_t a = kv->val.v.u;
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(r, "general.alignment is %" PRIu64 ", not a power of two", a);
    f->alignment = a;
    return 0;
}

static int parse(struct reader *r, struct gguf_priv *p)
{
    struct gguf_file *f = &p->pub;
    uint64_t n_tensors = 0, n_kv = 0;
    if (read_header(r, f, &n_tensors, &n_kv) ||
        read_table(r, f, NULL, n_kv, sizeof *f->kv, read_kv) || read_alignment(r, f) ||
        read_table(r, f, NULL, n_tensors, sizeof *f->tensors, read_tensor_info))
        return -1;
    /* pos <= size < 2^63 and alignment <= 2^31, so this cannot overflow. */
    f->data_offset = (r->pos + f->alignment - 1) / f->alignment * f->alignment;
    return place_tensors(r, f) || build_indexes(r, p);
}

static int open_file(const char *path, struct gguf_file **out, char *damage, size_t damagelen,
                     char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail_path(path, err, errlen, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail_path(path, err, errlen, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail_path(path, err, errlen, "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return fail_path(path, err, errlen, "not a GGUF file (empty)");
    }
    if ((uint64_t)st.st_size > SIZE_MAX || (uint64_t)st.st_size > INT64_MAX / 2) {
        close(fd);
        return fail_path(path, err, errlen, "file of %jd bytes is too large to map",
                         (intmax_t)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd); /* the mapping keeps the file referenced */
    if (map == MAP_FAILED)
        return fail_path(path, err, errlen, "cannot mmap: %s", strerror(map_errno));

    struct gguf_priv *p = calloc(1, sizeof *p);
    char *path_copy = strdup(path);
    if (!p || !path_copy) {
        free(p);
        free(path_copy);
        munmap(map, (size_t)st.st_size);
        return fail_path(path, err, errlen, "out of memory");
    }
    p->pub.path = path_copy;
    p->pub.map = map;
    p->pub.file_size = (uint64_t)st.st_size;
    struct reader r = {
        .p = map,
        .size = p->pub.file_size,
        .path = path,
        .err = err,
        .errlen = errlen,
        .items_left = MAX_ITEMS,
        .mem_left = p->pub.file_size * 8 + ((uint64_t)1 << 20),
        .damage = damage,
        .damagelen = damagelen,
    };
    if (parse(&r, p) != 0) {
        gguf_close(&p->pub);
        return -1;
    }
    *out = &p->pub;
    return 0;
}

int gguf_open(const char *path, struct gguf_file **out, char *err, size_t errlen)
{
    return open_file(path, out, NULL, 0, err, errlen);
}

int gguf_open_damaged(const char *path, struct gguf_file **out, char *damage, size_t damagelen,
                      char *err, size_t errlen)
{
    char scratch[8];
    if (!damage || damagelen == 0) damage = scratch, damagelen = sizeof scratch;
    damage[0] = 0;
    return open_file(path, out, damage, damagelen, err, errlen);
}

void gguf_close(struct gguf_file *f)
{
    if (!f) return;
    struct gguf_priv *p = (struct gguf_priv *)f;
    for (uint64_t i = 0; i < f->n_kv; i++)
        free_value(&f->kv[i].val);
    free(f->kv);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(p->kv_sorted);
    free(p->tensor_sorted);
    if (f->map) munmap((void *)f->map, (size_t)f->file_size);
    free(f->path);
    free(p);
}

const char *gguf_vtype_name(enum gguf_vtype t)
{
    static const char *const names[GGUF_VTYPE_COUNT] = {
        "u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
        "bool", "string", "array", "u64", "i64", "f64",
    };
    return (unsigned)t < GGUF_VTYPE_COUNT ? names[t] : "unknown";
}

static int kv_key_cmp(const void *key, const void *elem)
{
    return key_cmp(key, &(*(const struct gguf_kv *const *)elem)->key);
}

static int tensor_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, (*(const struct gguf_tensor *const *)elem)->name);
}

const struct gguf_kv *gguf_find(const struct gguf_file *f, const char *key)
{
    const struct gguf_priv *p = (const struct gguf_priv *)f;
    if (!f || !key || f->n_kv == 0) return NULL;
    struct gguf_str k = {key, strlen(key)};
    const struct gguf_kv *const *hit =
        bsearch(&k, p->kv_sorted, (size_t)f->n_kv, sizeof *p->kv_sorted, kv_key_cmp);
    return hit ? *hit : NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
    const struct gguf_priv *p = (const struct gguf_priv *)f;
    if (!f || !name || f->n_tensors == 0) return NULL;
    const struct gguf_tensor *const *hit = bsearch(name, p->tensor_sorted, (size_t)f->n_tensors,
                                                   sizeof *p->tensor_sorted, tensor_key_cmp);
    return hit ? *hit : NULL;
}

/* Integer value as a sign and magnitude pair; false for non-integers. */
static bool as_int(const struct gguf_value *v, bool *neg, uint64_t *mag)
{
    switch (v->type) {
    case GGUF_U8:
    case GGUF_U16:
    case GGUF_U32:
    case GGUF_U64:
    case GGUF_BOOL: *neg = false, *mag = v->v.u; return true;
    case GGUF_I8:
    case GGUF_I16:
    case GGUF_I32:
    case GGUF_I64:
        *neg = v->v.i < 0;
        *mag = *neg ? (uint64_t)0 - (uint64_t)v->v.i : (uint64_t)v->v.i;
        return true;
    default: return false;
    }
}

int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    bool neg;
    uint64_t m;
    if (!kv || !as_int(&kv->val, &neg, &m) || neg || m > UINT32_MAX) return -1;
    *out = (uint32_t)m;
    return 0;
}

int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    bool neg;
    uint64_t m;
    if (!kv || !as_int(&kv->val, &neg, &m)) return -1;
    if (neg) {
        *out = kv->val.v.i;
        return 0;
    }
    if (m > INT64_MAX) return -1;
    *out = (int64_t)m;
    return 0;
}

int gguf_get_f32(const struct gguf_file *f, const char *key, float *out)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    if (!kv || (kv->val.type != GGUF_F32 && kv->val.type != GGUF_F64)) return -1;
    *out = (float)kv->val.v.f;
    return 0;
}

int gguf_get_bool(const struct gguf_file *f, const char *key, bool *out)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->val.type != GGUF_BOOL) return -1;
    *out = kv->val.v.u != 0;
    return 0;
}

char *gguf_get_str(const struct gguf_file *f, const char *key)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->val.type != GGUF_STRING) return NULL;
    /* len <= file size, which fits in size_t (checked in gguf_open) */
    char *s = malloc((size_t)kv->val.v.s.len + 1);
    if (!s) return NULL;
    memcpy(s, kv->val.v.s.ptr, (size_t)kv->val.v.s.len);
    s[kv->val.v.s.len] = 0;
    return s;
}

const struct gguf_value *gguf_get_arr(const struct gguf_file *f, const char *key,
                                      enum gguf_vtype elem, uint64_t *n)
{
    /* An empty array has no items; this stands in so that empty differs from absent. */
    static const struct gguf_value no_items;
    const struct gguf_kv *kv = gguf_find(f, key);
    if (n) *n = 0;
    if (!kv || kv->val.type != GGUF_ARRAY) return NULL;
    if (elem != GGUF_VTYPE_COUNT && kv->val.v.arr.elem != elem) return NULL;
    if (n) *n = kv->val.v.arr.n;
    return kv->val.v.arr.items ? kv->val.v.arr.items : &no_items;
}

void gguf_release_pages(const struct gguf_file *f, const void *p, uint64_t n)
{
    if (!f || !f->map || !p) return;
    const uintptr_t m0 = (uintptr_t)f->map, lo = (uintptr_t)p;
    if (lo < m0 || n > f->file_size || lo - m0 > f->file_size - n) return;
    const long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0) return;
    const uintptr_t a = (lo + (uintptr_t)ps - 1) / (uintptr_t)ps * (uintptr_t)ps;
    const uintptr_t b = (lo + (uintptr_t)n) / (uintptr_t)ps * (uintptr_t)ps;
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_DONTNEED); /* only advice: failure is harmless */
}
