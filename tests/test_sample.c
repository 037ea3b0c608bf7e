/* sample: greedy, filters, temperature, repetition penalty, seeds. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"
#include "testutil.h"

static struct sample_params greedy(void)
{
    struct sample_params p;
    sample_defaults(&p);
    p.temp = 0;
    return p;
}

START_TEST(test_greedy_argmax)
{
    float l[6] = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f, -5.0f};
    struct sample_params p = greedy();
    struct sampler *s = sampler_new(&p, 6);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(sampler_sample(s, l), 1); /* first of the tied best */
    ck_assert_int_eq(sample_argmax(l, 6), 1);
    sampler_free(s);
}
END_TEST

START_TEST(test_repeat_penalty)
{
    float l[3] = {3.0f, 2.9f, -1.0f};
    struct sample_params p = greedy();
    p.repeat_penalty = 1.1f;
    struct sampler *s = sampler_new(&p, 3);
    sampler_accept(s, 0);
    sampler_accept(s, 0);                      /* penalized once, not twice */
    ck_assert_int_eq(sampler_sample(s, l), 1); /* 3.0/1.1 = 2.73 < 2.9 */
    sampler_free(s);
    float l2[3] = {-1.0f, -1.05f, -3.0f};
    s = sampler_new(&p, 3);
    sampler_accept(s, 0);
    ck_assert_int_eq(sampler_sample(s, l2), 1); /* -1.1 < -1.05 */
    sampler_free(s);
}
END_TEST

static void histogram(const struct sample_params *p, const float *l, int n, int draws, int *hist)
{
    struct sampler *s = sampler_new(p, n);
    ck_assert_ptr_nonnull(s);
    memset(hist, 0, sizeof(int) * (size_t)n);
    for (int i = 0; i < draws; i++) {
        int32_t id = sampler_sample(s, l);
        ck_assert(id >= 0 && id < n);
        hist[id]++;
    }
    sampler_free(s);
}

/* the defaults with every filter off, at temperature temp */
static struct sample_params plain(float temp)
{
    struct sample_params p;
    sample_defaults(&p);
    p.temp = temp;
    p.top_k = 0;
    p.top_p = 1;
    p.min_p = 0;
    return p;
}

START_TEST(test_temperature_distribution)
{
    /* softmax of log(0.5), log(0.3), log(0.2) at temp 1 is (0.5, 0.3, 0.2) */
    float l[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    struct sample_params p = plain(1);
    int h[3], n = 20000;
    histogram(&p, l, 3, n, h);
    ck_assert_msg(fabs(h[0] / (double)n - 0.5) < 0.02, "%d", h[0]);
    ck_assert_msg(fabs(h[1] / (double)n - 0.3) < 0.02, "%d", h[1]);
    ck_assert_msg(fabs(h[2] / (double)n - 0.2) < 0.02, "%d", h[2]);
}
END_TEST

START_TEST(test_filters)
{
    float l[4] = {logf(0.4f), logf(0.3f), logf(0.2f), logf(0.1f)};
    struct sample_params p = plain(1);
    int h[4];
    p.top_k = 2; /* only ids 0 and 1 */
    histogram(&p, l, 4, 2000, h);
    ck_assert(h[0] > 0 && h[1] > 0 && h[2] == 0 && h[3] == 0);
    p.top_k = 0;
    p.top_p = 0.65f; /* 0.4 + 0.3 reaches 0.65 */
    histogram(&p, l, 4, 2000, h);
    ck_assert(h[0] > 0 && h[1] > 0 && h[2] == 0 && h[3] == 0);
    p.top_p = 1;
    p.min_p = 0.45f; /* keeps p >= 0.18: ids 0, 1, 2 */
    histogram(&p, l, 4, 4000, h);
    ck_assert(h[0] > 0 && h[1] > 0 && h[2] > 0 && h[3] == 0);
}
END_TEST

START_TEST(test_seed_repeatable)
{
    float l[50];
    for (int i = 0; i < 50; i++)
        l[i] = sinf((float)i);
    struct sample_params p = plain(1.5f);
    int32_t a[64], b[64], c[64];
    for (int run = 0; run < 3; run++) {
        p.seed = run == 2 ? 43 : 42;
        struct sampler *s = sampler_new(&p, 50);
        for (int i = 0; i < 64; i++)
            (run == 0 ? a : run == 1 ? b : c)[i] = sampler_sample(s, l);
        sampler_free(s);
    }
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert(memcmp(a, c, sizeof a) != 0);
}
END_TEST

Suite *sample_suite(void)
{
    Suite *s = suite_create("sample");
    test_add_tcase(s, "sample", 0, NULL, NULL,
                   (const TTest *const[]){test_greedy_argmax, test_repeat_penalty,
                                          test_temperature_distribution, test_filters,
                                          test_seed_repeatable, NULL});
    return s;
}
