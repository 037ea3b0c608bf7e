/* Tests for gguf: values and tensors read back from files made by gguf_writer, the shared models,
 * and a generated set of malformed files that must each be refused with a one-line message naming
 * the file, without crashing or allocating hugely (run under ASan to see the latter). */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_writer.h"
#include "quant.h"
#include "testutil.h"

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/joule-gguf-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* Writes w to the temporary folder as name and frees it; the file's path. */
static const char *write_tmp(struct gguf_writer *w, const char *name)
{
    const char *p = tmp_path(name);
    ck_assert_int_eq(gw_write(w, p), 0);
    gw_free(w);
    return p;
}

static struct gguf_file *open_ok(const char *path)
{
    struct gguf_file *f = NULL;
    char err[512] = "";
    int rc = gguf_open(path, &f, err, sizeof err);
    ck_assert_msg(rc == 0, "gguf_open failed: %s", err);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* The file must be refused with a one-line message naming it (and containing want, if given). */
static void expect_reject(const char *path, const char *want)
{
    struct gguf_file *f = (struct gguf_file *)&f;
    char err[512];
    memset(err, 0, sizeof err);
    int rc = gguf_open(path, &f, err, sizeof err);
    ck_assert_msg(rc != 0, "%s was accepted (expected '%s')", path, want ? want : "an error");
    ck_assert_ptr_null(f);
    ck_assert_msg(err[0] != 0, "empty message");
    ck_assert_msg(strstr(err, path) != NULL, "message '%s' does not name the file", err);
    ck_assert_msg(strchr(err, '\n') == NULL, "message '%s' is not one line", err);
    if (want) ck_assert_msg(strstr(err, want) != NULL, "message '%s' lacks '%s'", err, want);
}

static void reject_image(const uint8_t *img, size_t len, const char *want)
{
    const char *p = tmp_path("bad.gguf");
    ck_assert_int_eq(gw_write_bytes(p, img, len), 0);
    expect_reject(p, want);
}

static void reject_writer(struct gguf_writer *w, const char *want)
{
    const char *p = write_tmp(w, "bad.gguf");
    expect_reject(p, want);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of the first occurrence of s in the image (tests use unique names to find fields). */
static size_t find(const uint8_t *img, size_t len, const char *s)
{
    const uint8_t *hit = memmem(img, len, s, strlen(s));
    ck_assert_msg(hit != NULL, "'%s' not in image", s);
    return (size_t)(hit - img);
}

/* A small valid file with a little of everything, used as the base of the malformed ones. */
static struct gguf_writer *small_writer(void)
{
    struct gguf_writer *w = gw_new();
    gw_add_str(w, "general.architecture", "llama");
    gw_add_u32(w, "k.u32", 7);
    gw_add_f32(w, "k.f32", 0.5f);
    const char *toks[] = {"<s>", "hello", ""};
    gw_add_str_arr(w, "k.strarr", toks, 3);
    const uint8_t bytes[] = {1, 2, 3, 4, 5};
    gw_add_arr(w, "k.u8arr", GGUF_U8, bytes, 5);
    const uint64_t big[] = {1, 2};
    gw_add_arr(w, "k.u64arr", GGUF_U64, big, 2);
    gw_add_bool(w, "k.bool", true);
    uint8_t data[256];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + 1);
    uint64_t ne_a[2] = {8, 2}, ne_b[2] = {32, 3}, ne_c[1] = {4};
    gw_add_tensor(w, "t.alpha", 2, ne_a, Q_F32, data, 64);
    gw_add_tensor(w, "t.beta", 2, ne_b, Q_Q8_0, data, 3 * 34);
    gw_add_tensor(w, "t.gamma", 1, ne_c, Q_F16, data, 8);
    return w;
}

static uint8_t *small_image(size_t *len, struct gw_layout *lay)
{
    struct gguf_writer *w = small_writer();
    uint8_t *img = gw_build(w, len, lay);
    gw_free(w);
    return img;
}

START_TEST(test_small_file_opens)
{
    struct gguf_writer *w = small_writer();
    const char *p = write_tmp(w, "small.gguf");
    struct gguf_file *f = open_ok(p);
    ck_assert_str_eq(f->path, p);
    ck_assert_uint_eq(f->n_kv, 7);
    ck_assert_uint_eq(f->n_tensors, 3);
    gguf_close(f);
    gguf_close(NULL);

    /* header only: no metadata, no tensors */
    f = open_ok(write_tmp(gw_new(), "small.gguf"));
    ck_assert_uint_eq(f->n_kv + f->n_tensors, 0);
    ck_assert_ptr_null(gguf_find(f, "general.architecture"));
    ck_assert_ptr_null(gguf_find_tensor(f, "x"));
    uint32_t u;
    ck_assert_int_ne(gguf_get_u32(f, "x", &u), 0);
    gguf_close(f);
}
END_TEST

START_TEST(test_value_types)
{
    for (uint32_t version = 2; version <= 3; version++) {
        struct gguf_writer *w = gw_new();
        gw_set_version(w, version);
        gw_add_u8(w, "v.u8", 200);
        gw_add_i8(w, "v.i8", -5);
        gw_add_u16(w, "v.u16", 60000);
        gw_add_i16(w, "v.i16", -30000);
        gw_add_u32(w, "v.u32", 4000000000u);
        gw_add_i32(w, "v.i32", -2000000000);
        gw_add_u64(w, "v.u64", ((uint64_t)1 << 40) + 3);
        gw_add_u64(w, "v.u64max", UINT64_MAX);
        gw_add_i64(w, "v.i64", -((int64_t)1 << 40));
        gw_add_f32(w, "v.f32", 1.5f);
        gw_add_f64(w, "v.f64", -2.25);
        gw_add_bool(w, "v.true", true);
        gw_add_bool(w, "v.false", false);
        gw_add_str(w, "v.str", "hello");
        gw_add_str(w, "v.empty", "");
        const char *strs[] = {"a", "bc", ""};
        gw_add_str_arr(w, "a.str", strs, 3);
        const uint8_t u8s[] = {0, 255, 7};
        gw_add_arr(w, "a.u8", GGUF_U8, u8s, 3);
        const int16_t i16s[] = {-1, 300};
        gw_add_arr(w, "a.i16", GGUF_I16, i16s, 2);
        const int32_t i32s[] = {-7, 1 << 30, 0};
        gw_add_arr(w, "a.i32", GGUF_I32, i32s, 3);
        const float f32s[] = {0.25f, -1e30f};
        gw_add_arr(w, "a.f32", GGUF_F32, f32s, 2);
        const double f64s[] = {1e300, -0.5};
        gw_add_arr(w, "a.f64", GGUF_F64, f64s, 2);
        const int64_t i64s[] = {INT64_MIN, INT64_MAX};
        gw_add_arr(w, "a.i64", GGUF_I64, i64s, 2);
        const uint8_t bools[] = {1, 0, 1};
        gw_add_arr(w, "a.bool", GGUF_BOOL, bools, 3);
        gw_add_arr(w, "a.empty", GGUF_U32, NULL, 0);
        /* [[1, 2, 3], ["x", "yz"]] and [[[7]]] */
        struct gw_buf b = {0};
        gw_buf_u32(&b, GGUF_ARRAY);
        gw_buf_u64(&b, 2);
        gw_buf_u32(&b, GGUF_U32);
        gw_buf_u64(&b, 3);
        for (uint32_t i = 1; i <= 3; i++)
            gw_buf_u32(&b, i);
        gw_buf_u32(&b, GGUF_STRING);
        gw_buf_u64(&b, 2);
        gw_buf_str(&b, "x");
        gw_buf_str(&b, "yz");
        gw_add_raw(w, "a.nested", GGUF_ARRAY, b.p, b.len);
        gw_buf_free(&b);
        gw_buf_u32(&b, GGUF_ARRAY);
        gw_buf_u64(&b, 1);
        gw_buf_u32(&b, GGUF_ARRAY);
        gw_buf_u64(&b, 1);
        gw_buf_u32(&b, GGUF_U8);
        gw_buf_u64(&b, 1);
        gw_buf_put(&b, "\x07", 1);
        gw_add_raw(w, "a.deep", GGUF_ARRAY, b.p, b.len);
        gw_buf_free(&b);

        const char *p = write_tmp(w, "values.gguf");
        struct gguf_file *f = open_ok(p);
        ck_assert_uint_eq(f->version, version);
        ck_assert_uint_eq(f->n_kv, 26);
        ck_assert_uint_eq(f->n_tensors, 0);
        ck_assert_uint_eq(f->alignment, 32);
        ck_assert_str_eq(gguf_vtype_name(GGUF_STRING), "string");
        ck_assert_str_eq(gguf_vtype_name(GGUF_F64), "f64");

        /* raw values and types */
        const struct gguf_kv *kv = gguf_find(f, "v.u8");
        ck_assert_ptr_nonnull(kv);
        ck_assert_int_eq(kv->val.type, GGUF_U8);
        ck_assert_uint_eq(kv->val.v.u, 200);
        ck_assert_uint_eq(kv->key.len, 4);
        ck_assert_int_eq(memcmp(kv->key.ptr, "v.u8", 4), 0);
        ck_assert_int_eq(gguf_find(f, "v.i8")->val.v.i, -5);
        ck_assert_int_eq(gguf_find(f, "v.i16")->val.v.i, -30000);
        ck_assert_int_eq(gguf_find(f, "v.i32")->val.v.i, -2000000000);
        ck_assert_int_eq(gguf_find(f, "v.i64")->val.v.i, -((int64_t)1 << 40));
        ck_assert_uint_eq(gguf_find(f, "v.u64max")->val.v.u, UINT64_MAX);
        ck_assert(gguf_find(f, "v.f64")->val.v.f == -2.25);
        ck_assert_int_eq(gguf_find(f, "v.f32")->val.type, GGUF_F32);
        ck_assert_ptr_null(gguf_find(f, "v"));
        ck_assert_ptr_null(gguf_find(f, "v.u8x"));
        ck_assert_ptr_null(gguf_find(f, ""));

        /* integer getters convert only what fits */
        uint32_t u;
        int64_t i;
        ck_assert_int_eq(gguf_get_u32(f, "v.u8", &u), 0);
        ck_assert_uint_eq(u, 200);
        ck_assert_int_eq(gguf_get_u32(f, "v.u16", &u), 0);
        ck_assert_uint_eq(u, 60000);
        ck_assert_int_eq(gguf_get_u32(f, "v.u32", &u), 0);
        ck_assert_uint_eq(u, 4000000000u);
        ck_assert_int_eq(gguf_get_u32(f, "v.true", &u), 0);
        ck_assert_uint_eq(u, 1);
        ck_assert_int_ne(gguf_get_u32(f, "v.i8", &u), 0);
        ck_assert_int_ne(gguf_get_u32(f, "v.u64", &u), 0);
        ck_assert_int_ne(gguf_get_u32(f, "v.f32", &u), 0);
        ck_assert_int_ne(gguf_get_u32(f, "v.str", &u), 0);
        ck_assert_int_ne(gguf_get_u32(f, "missing", &u), 0);
        ck_assert_int_eq(gguf_get_i64(f, "v.u64", &i), 0);
        ck_assert_int_eq(i, ((int64_t)1 << 40) + 3);
        ck_assert_int_eq(gguf_get_i64(f, "v.i16", &i), 0);
        ck_assert_int_eq(i, -30000);
        ck_assert_int_eq(gguf_get_i64(f, "v.i64", &i), 0);
        ck_assert_int_eq(i, -((int64_t)1 << 40));
        ck_assert_int_ne(gguf_get_i64(f, "v.u64max", &i), 0);
        ck_assert_int_ne(gguf_get_i64(f, "a.i32", &i), 0);

        float x;
        ck_assert_int_eq(gguf_get_f32(f, "v.f32", &x), 0);
        ck_assert(x == 1.5f);
        ck_assert_int_eq(gguf_get_f32(f, "v.f64", &x), 0);
        ck_assert(x == -2.25f);
        ck_assert_int_ne(gguf_get_f32(f, "v.u32", &x), 0);

        bool bv = false;
        ck_assert_int_eq(gguf_get_bool(f, "v.true", &bv), 0);
        ck_assert(bv);
        ck_assert_int_eq(gguf_get_bool(f, "v.false", &bv), 0);
        ck_assert(!bv);
        ck_assert_int_ne(gguf_get_bool(f, "v.u8", &bv), 0);

        char *s = gguf_get_str(f, "v.str");
        ck_assert_str_eq(s, "hello");
        free(s);
        s = gguf_get_str(f, "v.empty");
        ck_assert_str_eq(s, "");
        free(s);
        ck_assert_ptr_null(gguf_get_str(f, "v.u8"));
        ck_assert_ptr_null(gguf_get_str(f, "missing"));

        /* arrays */
        uint64_t n = 99;
        const struct gguf_value *a = gguf_get_arr(f, "a.str", GGUF_STRING, &n);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(a[1].type, GGUF_STRING);
        ck_assert_uint_eq(a[1].v.s.len, 2);
        ck_assert_int_eq(memcmp(a[1].v.s.ptr, "bc", 2), 0);
        ck_assert_uint_eq(a[2].v.s.len, 0);
        ck_assert_ptr_null(gguf_get_arr(f, "a.str", GGUF_U32, &n));
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_nonnull(gguf_get_arr(f, "a.str", GGUF_VTYPE_COUNT, &n));
        ck_assert_ptr_null(gguf_get_arr(f, "v.str", GGUF_VTYPE_COUNT, &n));
        ck_assert_ptr_null(gguf_get_arr(f, "missing", GGUF_VTYPE_COUNT, &n));
        a = gguf_get_arr(f, "a.u8", GGUF_U8, &n);
        ck_assert_uint_eq(n, 3);
        ck_assert_uint_eq(a[1].v.u, 255);
        a = gguf_get_arr(f, "a.i16", GGUF_I16, &n);
        ck_assert_int_eq(a[0].v.i, -1);
        ck_assert_int_eq(a[1].v.i, 300);
        a = gguf_get_arr(f, "a.i32", GGUF_I32, &n);
        ck_assert_int_eq(a[0].v.i, -7);
        ck_assert_int_eq(a[1].v.i, 1 << 30);
        a = gguf_get_arr(f, "a.f32", GGUF_F32, &n);
        ck_assert(a[0].v.f == 0.25 && a[1].v.f == (double)-1e30f);
        a = gguf_get_arr(f, "a.f64", GGUF_F64, &n);
        ck_assert(a[0].v.f == 1e300 && a[1].v.f == -0.5);
        a = gguf_get_arr(f, "a.i64", GGUF_I64, &n);
        ck_assert(a[0].v.i == INT64_MIN && a[1].v.i == INT64_MAX);
        a = gguf_get_arr(f, "a.bool", GGUF_BOOL, &n);
        ck_assert(a[0].v.u == 1 && a[1].v.u == 0 && a[2].v.u == 1);
        a = gguf_get_arr(f, "a.empty", GGUF_U32, &n);
        ck_assert_ptr_nonnull(a); /* empty is not absent */
        ck_assert_uint_eq(n, 0);

        a = gguf_get_arr(f, "a.nested", GGUF_ARRAY, &n);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(a[0].type, GGUF_ARRAY);
        ck_assert_int_eq(a[0].v.arr.elem, GGUF_U32);
        ck_assert_uint_eq(a[0].v.arr.n, 3);
        ck_assert_uint_eq(a[0].v.arr.items[2].v.u, 3);
        ck_assert_int_eq(a[1].v.arr.elem, GGUF_STRING);
        ck_assert_uint_eq(a[1].v.arr.n, 2);
        ck_assert_int_eq(memcmp(a[1].v.arr.items[1].v.s.ptr, "yz", 2), 0);
        a = gguf_get_arr(f, "a.deep", GGUF_ARRAY, &n);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(a[0].type, GGUF_ARRAY);
        const struct gguf_value *inner = &a[0].v.arr.items[0].v.arr.items[0];
        ck_assert_int_eq(inner->type, GGUF_U8);
        ck_assert_uint_eq(inner->v.u, 7);
        gguf_close(f);
    }
}
END_TEST

/* Tensors of several types and shapes at alignments 32 (default, no kv), 64 and 256. */
START_TEST(test_tensors_aligned)
{
    static const uint32_t aligns[] = {32, 64, 256};
    struct {
        const char *name;
        uint32_t n_dims, type;
        uint64_t ne[4];
        size_t nbytes;
    } ts[] = {
        {"norm.weight", 1, Q_F32, {16}, 64},
        {"blk.0.f16", 2, Q_F16, {64, 3}, 64 * 3 * 2},
        {"blk.0.q8", 2, Q_Q8_0, {64, 2}, 2 * 2 * 34},
        {"blk.0.q4", 3, Q_Q4_0, {32, 2, 2}, 4 * 18},
        {"blk.0.q4k", 4, Q_Q4_K, {256, 1, 1, 2}, 2 * 144},
        {"scalar", 0, Q_F32, {0}, 4},
    };
    size_t nt = sizeof ts / sizeof ts[0];
    for (size_t ai = 0; ai < 3; ai++) {
        uint32_t al = aligns[ai];
        struct gguf_writer *w = gw_new();
        gw_add_str(w, "general.architecture", "test");
        if (al != 32) gw_set_alignment(w, al);
        uint8_t *bufs[8];
        for (size_t i = 0; i < nt; i++) {
            bufs[i] = malloc(ts[i].nbytes);
            for (size_t j = 0; j < ts[i].nbytes; j++)
                bufs[i][j] = (uint8_t)(j * 31 + i * 7 + 3);
            gw_add_tensor(w, ts[i].name, ts[i].n_dims, ts[i].ne, ts[i].type, bufs[i], ts[i].nbytes);
        }
        size_t len;
        struct gw_layout lay;
        uint8_t *img = gw_build(w, &len, &lay);
        gw_free(w);
        const char *p = tmp_path("tensors.gguf");
        ck_assert_int_eq(gw_write_bytes(p, img, len), 0);
        free(img);

        struct gguf_file *f = open_ok(p);
        ck_assert_uint_eq(f->alignment, al);
        ck_assert_uint_eq(f->data_offset, lay.data_offset);
        ck_assert_uint_eq(f->data_offset % al, 0);
        ck_assert_uint_eq(f->file_size, len);
        ck_assert_uint_eq(f->n_tensors, nt);
        for (size_t i = 0; i < nt; i++) {
            const struct gguf_tensor *t = gguf_find_tensor(f, ts[i].name);
            ck_assert_ptr_nonnull(t);
            ck_assert_ptr_eq(t, &f->tensors[i]); /* file order is kept */
            ck_assert_str_eq(t->name, ts[i].name);
            ck_assert_uint_eq(t->n_dims, ts[i].n_dims);
            for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
                ck_assert_int_eq(t->ne[d], d < ts[i].n_dims ? (int64_t)ts[i].ne[d] : 1);
            ck_assert_uint_eq(t->type, ts[i].type);
            ck_assert_uint_eq(t->nbytes, ts[i].nbytes);
            ck_assert_uint_eq(t->offset % al, 0);
            ck_assert_ptr_eq(t->data, f->map + f->data_offset + t->offset);
            ck_assert_int_eq(memcmp(t->data, bufs[i], ts[i].nbytes), 0);
            free(bufs[i]);
        }
        ck_assert_ptr_null(gguf_find_tensor(f, "blk.0"));
        ck_assert_ptr_null(gguf_find_tensor(f, "zzz"));
        gguf_close(f);
    }
}
END_TEST

START_TEST(test_writer_f32_tensors)
{
    struct gguf_writer *w = gw_new();
    const float src[8] = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f, 1024.0f, 2.0f};
    uint64_t ne[2] = {4, 2};
    gw_add_tensor_f32(w, "f32", 2, ne, Q_F32, src);
    gw_add_tensor_f32(w, "f16", 2, ne, Q_F16, src);
    gw_add_tensor_f32(w, "bf16", 2, ne, Q_BF16, src);
    const char *p = write_tmp(w, "f32.gguf");
    struct gguf_file *f = open_ok(p);
    const struct gguf_tensor *t = gguf_find_tensor(f, "f32");
    ck_assert_uint_eq(t->nbytes, 32);
    ck_assert_int_eq(memcmp(t->data, src, 32), 0);
    const uint8_t *h = gguf_find_tensor(f, "f16")->data;
    ck_assert_uint_eq(h[0] | h[1] << 8, 0x3c00); /* 1.0 */
    ck_assert_uint_eq(h[2] | h[3] << 8, 0xc000); /* -2.0 */
    ck_assert_uint_eq(h[4] | h[5] << 8, 0x3800); /* 0.5 */
    h = gguf_find_tensor(f, "bf16")->data;
    ck_assert_uint_eq(h[0] | h[1] << 8, 0x3f80);
    ck_assert_uint_eq(h[2] | h[3] << 8, 0xc000);
    gguf_close(f);
}
END_TEST

START_TEST(test_shared_models)
{
    NEED_SHARED(dir);
    char mdir[512], p[1024];
    snprintf(mdir, sizeof mdir, "%s/models", dir);
    DIR *d = opendir(mdir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0) continue;
        snprintf(p, sizeof p, "%s/%s", mdir, e->d_name);
        struct gguf_file *f = open_ok(p);
        files++;
        ck_assert(f->version == 2 || f->version == 3);
        ck_assert_uint_gt(f->n_tensors, 0);
        char *arch = gguf_get_str(f, "general.architecture");
        ck_assert_ptr_nonnull(arch);
        ck_assert(strcmp(arch, "llama") == 0 || strcmp(arch, "qwen2") == 0);
        char key[128];
        snprintf(key, sizeof key, "%s.block_count", arch);
        uint32_t blocks = 0;
        ck_assert_int_eq(gguf_get_u32(f, key, &blocks), 0);
        ck_assert_uint_eq(blocks, 2);
        free(arch);
        uint64_t n = 0;
        ck_assert_ptr_nonnull(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &n));
        ck_assert_uint_eq(n, 1024);
        /* list every tensor: findable by name, typed, inside the file */
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const struct gguf_tensor *t = &f->tensors[i];
            ck_assert_ptr_eq(gguf_find_tensor(f, t->name), t);
            ck_assert_ptr_nonnull(quant_name(t->type));
            ck_assert_uint_gt(t->nbytes, 0);
            ck_assert((const uint8_t *)t->data >= f->map + f->data_offset);
            ck_assert((const uint8_t *)t->data + t->nbytes <= f->map + f->file_size);
        }
        const struct gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
        ck_assert_ptr_nonnull(emb);
        ck_assert_int_eq(emb->ne[0], 256);
        ck_assert_int_eq(emb->ne[1], 1024);
        ck_assert_ptr_nonnull(gguf_find_tensor(f, "blk.1.attn_q.weight"));
        gguf_close(f);
    }
    closedir(d);
    ck_assert_int_gt(files, 0);
}
END_TEST

/* Every prefix of a valid file is refused; inside the header, metadata and tensor infos the
 * message says "truncated". */
START_TEST(test_truncated)
{
    size_t len;
    struct gw_layout lay;
    uint8_t *img = small_image(&len, &lay);
    ck_assert_uint_gt(len, lay.data_offset);
    for (size_t n = 0; n < len; n += n < lay.data_offset + 40 ? 1 : 7) {
        const char *want = n == 0              ? "empty"
                           : n < 4             ? "not a GGUF file"
                           : n < lay.infos_end ? "truncated"
                                               : NULL;
        reject_image(img, n, want);
    }
    reject_image(img, len - 1, "past the end of the file");
    free(img);
}
END_TEST

/* gguf_open_damaged (joule info on a truncated download): tensor data past the end of the file
 * is the file's damage, not an error; the header is still checked as strictly. */
START_TEST(test_open_damaged)
{
    size_t len;
    struct gw_layout lay;
    uint8_t *img = small_image(&len, &lay);
    const char *p = tmp_path("damaged.gguf");
    char err[512], damage[512];
    struct gguf_file *f;
    /* intact: no damage, every tensor placed */
    ck_assert_int_eq(gw_write_bytes(p, img, len), 0);
    ck_assert_msg(gguf_open_damaged(p, &f, damage, sizeof damage, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(damage, "");
    for (uint64_t i = 0; i < f->n_tensors; i++)
        ck_assert_ptr_nonnull(f->tensors[i].data);
    gguf_close(f);
    /* cut inside the data: the strict open refuses, the damaged one describes */
    for (size_t n = lay.data_offset; n < len; n += 5) {
        ck_assert_int_eq(gw_write_bytes(p, img, n), 0);
        expect_reject(p, "past the end of the file");
        ck_assert_msg(gguf_open_damaged(p, &f, damage, sizeof damage, err, sizeof err) == 0,
                      "%zu bytes: %s", n, err);
        ck_assert_msg(strstr(damage, p) && strstr(damage, "past the end of the file"), "%s",
                      damage);
        ck_assert_uint_eq(f->n_kv, 7);
        ck_assert_uint_eq(f->n_tensors, 3);
        int missing = 0;
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const struct gguf_tensor *t = &f->tensors[i];
            bool inside = f->data_offset + t->offset + t->nbytes <= n;
            ck_assert_msg(inside == (t->data != NULL), "%s at %zu bytes", t->name, n);
            missing += !inside;
        }
        ck_assert_int_gt(missing, 0);
        char *arch = gguf_get_str(f, "general.architecture");
        ck_assert_str_eq(arch, "llama");
        free(arch);
        gguf_close(f);
    }
    /* cut inside the header: refused either way, with the reason; a NULL damage is allowed */
    for (size_t n = 0; n < lay.infos_end; n += 3) {
        ck_assert_int_eq(gw_write_bytes(p, img, n), 0);
        f = (struct gguf_file *)&f;
        ck_assert_int_ne(gguf_open_damaged(p, &f, NULL, 0, err, sizeof err), 0);
        ck_assert_ptr_null(f);
        ck_assert_msg(strstr(err, p) != NULL, "%s", err);
    }
    free(img);
}
END_TEST

START_TEST(test_not_gguf)
{
    size_t len;
    uint8_t *img = small_image(&len, NULL);
    static const char *magics[] = {"GGUG", "gguf", "\0\0\0\0", "FUGG", "GGML"};
    for (int i = 0; i < 5; i++) {
        uint8_t *c = malloc(len);
        memcpy(c, img, len);
        memcpy(c, magics[i], 4);
        reject_image(c, len, "not a GGUF file");
        free(c);
    }
    reject_image((const uint8_t *)"hello, world, this is text\n", 27, "not a GGUF file");
    free(img);
    expect_reject(tmp_path("does-not-exist.gguf"), "cannot open");
    expect_reject(tmpdir, "not a regular file");
}
END_TEST

START_TEST(test_bad_version)
{
    size_t len;
    uint8_t *img = small_image(&len, NULL);
    put_le(img + 4, 1, 4);
    reject_image(img, len, "version 1");
    put_le(img + 4, 4, 4);
    reject_image(img, len, "version 4");
    put_le(img + 4, 0, 4);
    reject_image(img, len, "version 0");
    put_le(img + 4, 0x03000000, 4);
    reject_image(img, len, "big-endian");
    put_le(img + 4, UINT32_MAX, 4);
    reject_image(img, len, "version");
    free(img);
}
END_TEST

START_TEST(test_huge_counts)
{
    size_t len;
    uint8_t *img = small_image(&len, NULL);
    static const uint64_t huge[] = {UINT64_MAX,        UINT64_MAX / 13 + 1, UINT64_MAX / 24 + 1,
                                    (uint64_t)1 << 40, (uint64_t)1 << 32,   1000};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        uint8_t *c = malloc(len);
        memcpy(c, img, len);
        put_le(c + 8, huge[i], 8); /* n_tensors */
        reject_image(c, len, "claims");
        memcpy(c, img, len);
        put_le(c + 16, huge[i], 8); /* n_kv */
        reject_image(c, len, "claims");
        free(c);
    }
    /* counts that fit the file size but lie: the parse runs into garbage and stops */
    uint8_t *c = malloc(len);
    memcpy(c, img, len);
    put_le(c + 16, 8, 8);
    reject_image(c, len, NULL);
    memcpy(c, img, len);
    put_le(c + 8, 4, 8);
    reject_image(c, len, "truncated");
    free(c);
    free(img);
}
END_TEST

/* Overwrites an 8-byte little-endian field at off in a copy of img and expects refusal. */
static void reject_u64_at(const uint8_t *img, size_t len, size_t off, uint64_t v, const char *want)
{
    uint8_t *c = malloc(len);
    memcpy(c, img, len);
    put_le(c + off, v, 8);
    reject_image(c, len, want);
    free(c);
}

START_TEST(test_huge_lengths)
{
    size_t len;
    uint8_t *img = small_image(&len, NULL);
    static const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 3, UINT64_MAX / 8 + 1,
                                    (uint64_t)1 << 63, (uint64_t)1 << 32};
    size_t key = find(img, len, "general.architecture");
    size_t val = key + strlen("general.architecture") + 4; /* the string value's length */
    size_t u8arr = find(img, len, "k.u8arr") + 7 + 4 + 4;  /* past key, type, element type */
    size_t u64arr = find(img, len, "k.u64arr") + 8 + 4 + 4;
    size_t strarr = find(img, len, "k.strarr") + 8 + 4 + 4;
    size_t tname = find(img, len, "t.beta") - 8;
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        reject_u64_at(img, len, key - 8, huge[i], "truncated");
        reject_u64_at(img, len, val, huge[i], "truncated");
        reject_u64_at(img, len, u8arr, huge[i], "truncated");
        reject_u64_at(img, len, u64arr, huge[i], "truncated");
        reject_u64_at(img, len, strarr, huge[i], "truncated");
        reject_u64_at(img, len, tname, huge[i], NULL);
    }
    /* just past the end of the file */
    reject_u64_at(img, len, key - 8, len - key + 1, "past the end");
    reject_u64_at(img, len, tname, len - tname - 8 + 1, NULL);
    free(img);
}
END_TEST

START_TEST(test_bad_offsets)
{
    size_t len;
    struct gw_layout lay;
    uint8_t *img = small_image(&len, &lay);
    size_t beta_off = find(img, len, "t.beta") + 6 + 4 + 16 + 4;
    size_t gamma_off = find(img, len, "t.gamma") + 7 + 4 + 8 + 4;
    reject_u64_at(img, len, beta_off, (uint64_t)1 << 40, "past the end of the file");
    reject_u64_at(img, len, beta_off, UINT64_MAX & ~(uint64_t)31, "overflows");
    reject_u64_at(img, len, beta_off, 65, "not a multiple of the alignment");
    /* the last tensor moved one aligned slot later ends past the end */
    uint64_t g = (uint64_t)(len - lay.data_offset - 8);
    reject_u64_at(img, len, gamma_off, g + 32, "past the end of the file");
    free(img);

    /* the example from the brief's wording */
    struct gguf_writer *w = gw_new();
    uint64_t ne[2] = {32, 4};
    size_t i = gw_add_tensor(w, "blk.3.attn_q.weight", 2, ne, Q_F32, NULL, 512);
    gw_set_tensor_offset(w, i, 1024);
    reject_writer(w, "tensor 'blk.3.attn_q.weight' data ends at byte");
}
END_TEST

static void reject_shape(uint32_t n_dims, const uint64_t *ne, uint32_t type, const char *want)
{
    struct gguf_writer *w = gw_new();
    gw_add_tensor(w, "shape.t", n_dims, ne, type, NULL, 64);
    reject_writer(w, want);
}

START_TEST(test_bad_shapes)
{
    const uint64_t five[5] = {4, 1, 1, 1, 1};
    reject_shape(5, five, Q_F32, "5 dimensions");
    const uint64_t eight[8] = {4, 1, 1, 1, 1, 1, 1, 1};
    reject_shape(8, eight, Q_F32, "dimensions");
    const uint64_t cube[3] = {(uint64_t)1 << 32, (uint64_t)1 << 32, (uint64_t)1 << 32};
    reject_shape(3, cube, Q_F32, "overflows");
    const uint64_t big[1] = {UINT64_MAX};
    reject_shape(1, big, Q_F32, "overflows");
    const uint64_t sq[2] = {(uint64_t)1 << 31, (uint64_t)1 << 32};
    reject_shape(2, sq, Q_F32, "overflows");
    const uint64_t rowbig[1] = {(uint64_t)1 << 62}; /* elements fit, bytes do not */
    reject_shape(1, rowbig, Q_F32, "overflows");
    const uint64_t zero[2] = {4, 0};
    reject_shape(2, zero, Q_F32, "size 0");
    const uint64_t odd[2] = {16, 2};
    reject_shape(2, odd, Q_Q8_0, "not a multiple of the Q8_0 block size 32");
    const uint64_t k[1] = {128};
    reject_shape(1, k, Q_Q4_K, "block size 256");
}
END_TEST

START_TEST(test_unknown_types)
{
    const uint64_t ne[1] = {32};
    static const uint32_t bad[] = {4, 5, 99, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "tensor 'shape.t' has unknown tensor type %u", bad[i]);
        reject_shape(1, ne, bad[i], want);
    }

    /* unknown metadata value type and array element type */
    size_t len;
    uint8_t *img = small_image(&len, NULL);
    size_t t = find(img, len, "k.u32") + 5;
    uint8_t *c = malloc(len);
    memcpy(c, img, len);
    put_le(c + t, 13, 4);
    reject_image(c, len, "unknown value type 13");
    memcpy(c, img, len);
    put_le(c + t, UINT32_MAX, 4);
    reject_image(c, len, "unknown value type");
    size_t et = find(img, len, "k.u8arr") + 7 + 4;
    memcpy(c, img, len);
    put_le(c + et, 13, 4);
    reject_image(c, len, "unknown array element type 13");
    free(c);
    free(img);
}
END_TEST

START_TEST(test_bad_alignment)
{
    static const uint32_t bad[] = {0, 3, 48, 0x80000001u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gguf_writer *w = small_writer();
        gw_add_u32(w, "general.alignment", bad[i]);
        reject_writer(w, "not a power of two");
    }
    struct gguf_writer *w = small_writer();
    gw_add_str(w, "general.alignment", "32");
    reject_writer(w, "general.alignment has type string");
    w = small_writer();
    gw_add_u64(w, "general.alignment", 32);
    reject_writer(w, "expected u32");
}
END_TEST

/* depth arrays nested one in another, the innermost holding one u8 */
static void add_nested(struct gguf_writer *w, const char *key, int depth)
{
    struct gw_buf b = {0};
    for (int d = 1; d <= depth; d++) {
        gw_buf_u32(&b, d < depth ? GGUF_ARRAY : GGUF_U8);
        gw_buf_u64(&b, 1);
    }
    gw_buf_put(&b, "\x2a", 1);
    gw_add_raw(w, key, GGUF_ARRAY, b.p, b.len);
    gw_buf_free(&b);
}

START_TEST(test_nesting_limit)
{
    struct gguf_writer *w = gw_new();
    add_nested(w, "deep8", 8);
    const char *p = write_tmp(w, "deep.gguf");
    struct gguf_file *f = open_ok(p);
    const struct gguf_value *v = &gguf_find(f, "deep8")->val;
    for (int d = 0; d < 8; d++) {
        ck_assert_int_eq(v->type, GGUF_ARRAY);
        ck_assert_uint_eq(v->v.arr.n, 1);
        v = &v->v.arr.items[0];
    }
    ck_assert_uint_eq(v->v.u, 42);
    gguf_close(f);

    w = gw_new();
    add_nested(w, "deep9", 9);
    reject_writer(w, "nested more than 8 deep");
    w = gw_new();
    add_nested(w, "deep1000", 1000);
    reject_writer(w, "nested");
}
END_TEST

START_TEST(test_duplicates_and_names)
{
    struct gguf_writer *w = small_writer();
    gw_add_u32(w, "k.u32", 8);
    reject_writer(w, "duplicate key 'k.u32'");

    uint64_t ne[1] = {4};
    w = small_writer();
    gw_add_tensor(w, "t.beta", 1, ne, Q_F32, NULL, 16);
    reject_writer(w, "duplicate tensor name 't.beta'");

    w = small_writer();
    gw_add_u32(w, "", 1);
    reject_writer(w, "empty key");

    w = gw_new();
    gw_add_tensor(w, "", 1, ne, Q_F32, NULL, 16);
    reject_writer(w, "empty name");

    char longname[400];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    w = gw_new();
    gw_add_tensor(w, longname, 1, ne, Q_F32, NULL, 16);
    reject_writer(w, "longer than");

    w = gw_new();
    gw_add_tensor(w, "ab#cd", 1, ne, Q_F32, NULL, 16);
    size_t len;
    uint8_t *img = gw_build(w, &len, NULL);
    gw_free(w);
    img[find(img, len, "ab#cd") + 2] = 0;
    reject_image(img, len, "NUL byte");
    free(img);

    /* control characters in a name do not break the one-line message */
    w = gw_new();
    gw_add_tensor(w, "a\nb", 1, ne, 99, NULL, 16);
    reject_writer(w, "tensor 'a?b' has unknown tensor type 99");
}
END_TEST

/* A single array may not claim more items than the per-file limit even when the bytes exist. */
START_TEST(test_item_limit)
{
    size_t n = ((size_t)1 << 24) + 1;
    uint8_t *items = calloc(n, 1);
    struct gguf_writer *w = gw_new();
    gw_add_arr(w, "big", GGUF_U8, items, n);
    free(items);
    reject_writer(w, "limit");
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random byte edits of a valid file: each result either opens with consistent tables or is
 * refused properly. Under ASan this also checks that nothing reads out of bounds. */
START_TEST(test_random_mutations)
{
    size_t len;
    struct gw_layout lay;
    uint8_t *img = small_image(&len, &lay);
    uint8_t *c = malloc(len);
    const char *p = tmp_path("mut.gguf");
    int opened = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(c, img, len);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(rng() % (rng() % 4 ? lay.infos_end : len));
            c[at] = rng() % 3 ? (uint8_t)rng() : (uint8_t)(c[at] ^ (1u << (rng() % 8)));
        }
        ck_assert_int_eq(gw_write_bytes(p, c, len), 0);
        struct gguf_file *f = NULL;
        char err[512] = "";
        if (gguf_open(p, &f, err, sizeof err) == 0) {
            opened++;
            for (uint64_t i = 0; i < f->n_tensors; i++) {
                const struct gguf_tensor *t = &f->tensors[i];
                ck_assert((const uint8_t *)t->data + t->nbytes <= f->map + f->file_size);
                ck_assert_ptr_eq(gguf_find_tensor(f, t->name), t);
            }
            for (uint64_t i = 0; i < f->n_kv; i++)
                ck_assert_ptr_nonnull(f->kv[i].key.ptr);
            gguf_close(f);
        } else {
            ck_assert_ptr_null(f);
            ck_assert_msg(strstr(err, p) && !strchr(err, '\n'), "bad message '%s'", err);
        }
    }
    ck_assert_int_gt(opened, 0); /* edits to data bytes leave valid files */
    free(c);
    free(img);
}
END_TEST

Suite *gguf_suite(void)
{
    Suite *s = suite_create("gguf");
    test_add_tcase(s, "read", 120, setup, teardown,
                   (const TTest *const[]){test_small_file_opens, test_value_types,
                                          test_tensors_aligned, test_writer_f32_tensors,
                                          test_shared_models, NULL});

    test_add_tcase(s, "malformed", 120, setup, teardown,
                   (const TTest *const[]){
                       test_truncated, test_open_damaged, test_not_gguf, test_bad_version,
                       test_huge_counts, test_huge_lengths, test_bad_offsets, test_bad_shapes,
                       test_unknown_types, test_bad_alignment, test_nesting_limit,
                       test_duplicates_and_names, test_item_limit, test_random_mutations, NULL});
    return s;
}
