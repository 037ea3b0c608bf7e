/* roofline: bytes and multiply-adds per token from a model's tensors, the bandwidth
 * measurement and its cache, the peak RSS. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant.h"
#include "roofline.h"
#include "synth.h"
#include "testutil.h"

static struct model *tiny(const char *name, const struct synth_shape **s, enum synth_ftype *f)
{
    char err[512];
    ck_assert_msg(synth_parse(name, s, f, err, sizeof err) == 0, "%s", err);
    struct model *m;
    ck_assert_msg(synth_create(*s, *f, 3, 0, &m, err, sizeof err) == 0, "%s", err);
    return m;
}

START_TEST(test_roofline_model)
{
    const struct synth_shape *s;
    enum synth_ftype f;
    struct model *m = tiny("test-tiny-q8_0", &s, &f);
    struct synth_info info;
    synth_info(s, f, &info);
    struct roofline_model rm;
    roofline_model_of(m, 4, &rm);
    /* every weight but the embedding table, of which one row (the output is separate) */
    uint64_t emb = m->tok_embd.row_bytes * (uint64_t)m->tok_embd.ne1;
    ck_assert_uint_eq(rm.weight_bytes, info.bytes - emb + m->tok_embd.row_bytes);
    /* test-tiny: 2 layers, 2 kv heads of 64: K and V in float32 */
    ck_assert_uint_eq(rm.kv_bytes_per_pos, 2u * 2 * 2 * 64 * 4);
    /* q 256x256, k and v 256x128, o 256x256, gate and up 256x512, down 512x256, per layer */
    uint64_t per_layer = 256 * 256 * 2 + 256 * 128 * 2 + 256 * 512 * 3;
    ck_assert_uint_eq(rm.layer_macs, 2 * per_layer);
    ck_assert_uint_eq(rm.output_macs, 256u * 1024);
    ck_assert_uint_eq(rm.attn_macs_per_pos, 2u * 2 * 4 * 64);
    /* matrix MACs + output = all parameters but the embedding and the norms */
    ck_assert_uint_eq(rm.layer_macs + rm.output_macs, info.n_params - 256u * 1024 - 256 * 5);

    struct roofline_test t;
    struct bench_test tg = {.kind = BENCH_TG, .n = 1};
    roofline_test_of(&rm, &tg, &t);
    ck_assert(fabs(t.bytes_per_token - (double)(rm.weight_bytes + rm.kv_bytes_per_pos)) < 1e-6);
    ck_assert(fabs(t.macs_per_token -
                   (double)(rm.layer_macs + rm.output_macs + rm.attn_macs_per_pos)) < 1e-6);
    /* tg4 at depth 8 attends to 9..12 positions: 10.5 on average */
    tg = (struct bench_test){.kind = BENCH_TG, .n = 4, .depth = 8};
    roofline_test_of(&rm, &tg, &t);
    ck_assert(fabs(t.bytes_per_token - ((double)rm.weight_bytes + 10.5 * rm.kv_bytes_per_pos)) <
              1e-6);
    /* pp16: the output matrix once, the weights once per call */
    struct bench_test pp = {.kind = BENCH_PP, .n = 16};
    roofline_test_of(&rm, &pp, &t);
    ck_assert(fabs(t.macs_per_token - ((double)rm.layer_macs + rm.output_macs / 16.0 +
                                       8.5 * rm.attn_macs_per_pos)) < 1e-6);
    ck_assert(fabs(t.bytes_per_token - ((double)rm.weight_bytes / 16 + 8.5 * rm.kv_bytes_per_pos)) <
              1e-6);
    synth_free(m);

    /* a tied output: the whole embedding is read as the output matrix, once */
    struct synth_shape tied = *s;
    tied.tied = true;
    char err[512];
    ck_assert_msg(synth_create(&tied, f, 3, 0, &m, err, sizeof err) == 0, "%s", err);
    synth_info(&tied, f, &info);
    roofline_model_of(m, 4, &rm);
    ck_assert_uint_eq(rm.weight_bytes, info.bytes);
    synth_free(m);
}
END_TEST

START_TEST(test_roofline_bandwidth)
{
    bool clean;
    double bw = roofline_measure_read(2, 8, 3, &clean);
    ck_assert_msg(bw > 1e8 && bw < 1e13, "%g bytes/s", bw);

    char dir[] = "/tmp/joule-roof-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("JOULE_CACHE_DIR", dir, 1);
    struct roofline_bandwidth b;
    roofline_cpu_bandwidth(1, &b);
    ck_assert(b.known && !b.cached && b.bytes_per_s > 1e8);
    ck_assert_ptr_nonnull(strstr(b.key, "threads=1"));
    ck_assert(b.disturbed == (strstr(b.how, "busy") != NULL));
    /* the cache: the last line for the key wins; other keys and junk are ignored */
    char path[600];
    snprintf(path, sizeof path, "%s/bandwidth.tsv", dir);
    FILE *fp = fopen(path, "a");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "junk line\n%s\t1.5e10\t0\nother\t9e10\t0\n%s\tnan\t0\n", b.key, b.key);
    fclose(fp);
    roofline_cpu_bandwidth(1, &b);
    ck_assert(b.known && b.cached);
    ck_assert(fabs(b.bytes_per_s - 1.5e10) < 1);
    ck_assert_ptr_nonnull(strstr(b.how, "cache"));
    remove(path);
    rmdir(dir);
    unsetenv("JOULE_CACHE_DIR");
}
END_TEST

START_TEST(test_roofline_peak_rss)
{
    uint64_t before = roofline_peak_rss();
    ck_assert_uint_gt(before, 0);
    size_t n = 64u << 20;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i += 4096) /* volatile: the compiler may not drop the pages */
        ((volatile char *)p)[i] = 1;
    uint64_t after = roofline_peak_rss();
    ck_assert_uint_ge(after, n);
    ck_assert_uint_ge(after, before);
    free(p);
}
END_TEST

Suite *roofline_suite(void)
{
    Suite *s = suite_create("roofline");
    TCase *tc = tcase_create("roofline");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roofline_model);
    tcase_add_test(tc, test_roofline_bandwidth);
    tcase_add_test(tc, test_roofline_peak_rss);
    suite_add_tcase(s, tc);
    return s;
}
