/* model + cpu backend, end to end against the float64 references in ../shared/models. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu.h"
#include "model.h"
#include "quant.h"
#include "sample.h"
#include "testutil.h"
#include "tokenizer.h"

struct fixture {
    struct model *m;
    struct backend *b;
    char ref[512];
};

static void open_model(struct fixture *fx, const char *shared, const char *stem, int32_t n_ctx)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/%s.gguf", shared, stem);
    snprintf(fx->ref, sizeof fx->ref, "%s/models/%s.ref", shared, stem);
    ck_assert_msg(model_load(path, &fx->m, err, sizeof err) == 0, "%s", err);
    fx->b = cpu_backend_new(fx->m, n_ctx, 2, err, sizeof err);
    ck_assert_msg(fx->b != NULL, "%s", err);
}

static void close_model(struct fixture *fx)
{
    backend_destroy(fx->b);
    model_free(fx->m);
}

/* max abs error and top-1 agreement over all positions of the three prompts; the last row
 * alone (decode path) must equal the batched last row */
static void check_logits(const char *shared, const char *stem, double *max_err, double *top1)
{
    struct fixture fx;
    open_model(&fx, shared, stem, 256);
    *top1 = test_logits_vs_ref(shared, stem, fx.m, fx.b, 1e-3, max_err);
    close_model(&fx);
}

START_TEST(test_logits_match_reference)
{
    NEED_SHARED(shared);
    const char *stem = test_stems[_i];
    double max_err, top1;
    check_logits(shared, stem, &max_err, &top1);
    fprintf(stderr, "  %-16s cpu  max abs logit error %.6f  top-1 agreement %.4f\n", stem, max_err,
            top1);
    ck_assert_msg(max_err <= 0.05, "%s: max abs error %g > 0.05", stem, max_err);
    ck_assert_msg(top1 >= 0.99, "%s: top-1 agreement %g < 0.99", stem, top1);
}
END_TEST

/* 32 greedy steps from prompt 0, one token at a time through the KV cache */
START_TEST(test_greedy_continuation)
{
    NEED_SHARED(shared);
    const char *stem = test_stems[_i];
    char p[600], err[512];
    struct fixture fx;
    open_model(&fx, shared, stem, 256);
    snprintf(p, sizeof p, "%s/tokens-0.txt", fx.ref);
    size_t n;
    int32_t *ids = test_read_ids(p, &n);
    ck_assert_ptr_nonnull(ids);
    char *g = test_read_in(fx.ref, "greedy.txt", NULL);
    float *logits = malloc(sizeof(float) * (size_t)fx.m->cfg.n_vocab);
    ck_assert(backend_forward(fx.b, ids, (int32_t)n, 0, false, logits, err, sizeof err) == 0);
    int32_t pos = (int32_t)n, steps = 0;
    for (char *line = strtok(g, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        int want;
        double margin;
        ck_assert(sscanf(line, "%d %lf", &want, &margin) == 2);
        int32_t got = sample_argmax(logits, fx.m->cfg.n_vocab);
        if (got != want) {
            /* a near-tie may legitimately flip in float32; after it the texts differ */
            ck_assert_msg(margin < 0.05, "%s: step %d: got %d, want %d (margin %g)", stem, steps,
                          got, want, margin);
            break;
        }
        ck_assert(backend_forward(fx.b, &got, 1, pos++, false, logits, err, sizeof err) == 0);
        steps++;
    }
    ck_assert_msg(steps >= 10, "%s: only %d greedy steps matched", stem, steps);
    free(logits);
    free(g);
    free(ids);
    close_model(&fx);
}
END_TEST

/* perplexity of ppl-text.txt in the convention ppl.txt describes */
START_TEST(test_perplexity)
{
    NEED_SHARED(shared);
    const char *stem = test_stems[_i];
    struct fixture fx;
    open_model(&fx, shared, stem, 128);
    double want = test_ref_ppl(shared, stem);
    ck_assert_msg(fx.m->tok != NULL, "%s: %s", stem, fx.m->tok_err);
    double ppl = test_model_perplexity(shared, fx.m, fx.b);
    fprintf(stderr, "  %-16s cpu  perplexity %.4f (reference %.4f)\n", stem, ppl, want);
    ck_assert_msg(fabs(ppl - want) / want <= 1e-3, "%s: ppl %g vs %g", stem, ppl, want);
    close_model(&fx);
}
END_TEST

/* the batched (prefill) and one-token paths agree, and chunking over max_batch works */
START_TEST(test_batch_equals_sequential)
{
    NEED_SHARED(shared);
    struct fixture fx;
    char err[512];
    open_model(&fx, shared, "tiny-llama-Q4_0", 600);
    int32_t nv = fx.m->cfg.n_vocab;
    enum { N = 300 }; /* more than the CPU backend's max batch */
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (i * 37 + 11) % nv;
    float *all = malloc(sizeof(float) * N * (size_t)nv), *one = malloc(sizeof(float) * nv);
    ck_assert(all && one);
    ck_assert(backend_forward(fx.b, ids, N, 0, true, all, err, sizeof err) == 0);
    for (int i = 0; i < N; i++) {
        ck_assert(backend_forward(fx.b, ids + i, 1, i, false, one, err, sizeof err) == 0);
        if (i % 50 == 0 || i == N - 1)
            for (int v = 0; v < nv; v++)
                ck_assert_float_eq_tol(one[v], all[(size_t)i * nv + v], 2e-3);
    }
    /* out-of-range inputs are errors, not crashes */
    int32_t bad = nv;
    ck_assert(backend_forward(fx.b, &bad, 1, 0, false, one, err, sizeof err) != 0);
    ck_assert(backend_forward(fx.b, ids, 1, 600, false, one, err, sizeof err) != 0);
    free(all);
    free(one);
    close_model(&fx);
}
END_TEST

START_TEST(test_missing_and_bad_files)
{
    struct model *m = NULL;
    char err[512];
    ck_assert(model_load("/nonexistent/model.gguf", &m, err, sizeof err) != 0);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err, "/nonexistent/model.gguf") != NULL, "%s", err);
    const char *shared = test_shared_dir();
    if (!shared) return;
    /* a vocab-only file has no weights: a clear error naming the file */
    char p[512];
    snprintf(p, sizeof p, "%s/vocab/llama-spm.gguf", shared);
    ck_assert(model_load(p, &m, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, p) != NULL, "%s", err);
    /* another architecture is named in the error */
    snprintf(p, sizeof p, "%s/vocab/gpt-2.gguf", shared);
    ck_assert(model_load(p, &m, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "gpt2") != NULL, "%s", err);
}
END_TEST

/* graph_fuse on the shared models' op lists (llama, qwen2 with biases, a Q4_K_M mix: the
 * marks do not depend on types) and on op lists where a mark must not be set. */
START_TEST(test_graph_fuse_marks)
{
    NEED_SHARED(shared);
    static const char *const stems[] = {"tiny-llama-Q8_0", "tiny-qwen2-Q8_0", "tiny-llama-Q4_K_M"};
    for (size_t s = 0; s < sizeof stems / sizeof stems[0]; s++) {
        struct fixture fx;
        char path[512], err[512];
        snprintf(path, sizeof path, "%s/models/%s.gguf", shared, stems[s]);
        ck_assert_msg(model_load(path, &fx.m, err, sizeof err) == 0, "%s", err);
        struct graph g;
        ck_assert_msg(model_build_graph(fx.m, &g, err, sizeof err) == 0, "%s", err);
        const int32_t L = fx.m->cfg.n_layer;
        int n_fold = 0, n_glu = 0, n_rope = 0;
        for (int32_t i = 0; i < g.n_ops; i++) {
            const struct op *o = &g.ops[i];
            if (o->fold) {
                n_fold++; /* the block norms (q/k/v, gate/up after them) and the output's */
                ck_assert(o->kind == OP_RMSNORM && o[1].kind == OP_MATMUL && o[1].src == o->dst);
                ck_assert(o[1].n_fused == 3 || o[1].n_fused == 2 || o[1].dst == ACT_LOGITS);
            }
            if (o->glu) {
                n_glu++;
                ck_assert(o->dst == ACT_GATE && o[1].dst == ACT_UP && o[2].kind == OP_SWIGLU);
            }
            if (o->kind == OP_ROPE && o->n_fused == 3) {
                n_rope++;
                ck_assert(o->dst == ACT_Q && o[1].dst == ACT_K && o[2].kind == OP_KV_STORE);
            }
        }
        ck_assert_int_eq(n_fold, 2 * L + 1);
        ck_assert_int_eq(n_glu, L);
        ck_assert_int_eq(n_rope, L);
        graph_free(&g);
        model_free(fx.m);
    }
    /* hand-made lists: xn read again after the products (no fold); up read after the
     * SwiGLU (no glu); a rope whose k is not the one stored (no rope run) */
    const struct weight w = {0};
    struct op ops[8];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < 8; i++)
        ops[i].src2 = ACT_NONE;
    ops[0] = (struct op){
        .kind = OP_RMSNORM, .dst = ACT_XN, .src = ACT_X, .src2 = ACT_NONE, .w = &w, .dim = 8};
    ops[1] =
        (struct op){.kind = OP_MATMUL, .dst = ACT_GATE, .src = ACT_XN, .src2 = ACT_NONE, .w = &w};
    ops[2] =
        (struct op){.kind = OP_MATMUL, .dst = ACT_UP, .src = ACT_XN, .src2 = ACT_NONE, .w = &w};
    ops[3] = (struct op){.kind = OP_SWIGLU, .dst = ACT_GATE, .src = ACT_UP, .src2 = ACT_NONE};
    ops[4] = (struct op){.kind = OP_MATMUL,
                         .dst = ACT_X,
                         .src = ACT_UP,
                         .src2 = ACT_NONE,
                         .w = &w,
                         .accumulate = true};
    ops[5] = (struct op){.kind = OP_MATMUL, .dst = ACT_Q, .src = ACT_XN, .src2 = ACT_NONE, .w = &w};
    struct graph g = {ops, 6};
    graph_fuse(&g);
    ck_assert(!ops[0].fold && !ops[1].glu);
    ck_assert_int_eq(ops[1].n_fused, 2);
    g.n_ops = 4; /* without the later readers: both marks */
    graph_fuse(&g);
    ck_assert(ops[0].fold && ops[1].glu);
    memset(ops, 0, sizeof ops);
    ops[0] = (struct op){.kind = OP_ROPE, .dst = ACT_Q, .src = ACT_NONE, .src2 = ACT_NONE};
    ops[1] = (struct op){.kind = OP_ROPE, .dst = ACT_K, .src = ACT_NONE, .src2 = ACT_NONE};
    ops[2] = (struct op){.kind = OP_KV_STORE, .dst = ACT_NONE, .src = ACT_V, .src2 = ACT_K};
    g.n_ops = 3;
    graph_fuse(&g);
    ck_assert_int_le(ops[0].n_fused, 1);
    ops[2].src = ACT_K, ops[2].src2 = ACT_V;
    graph_fuse(&g);
    ck_assert_int_eq(ops[0].n_fused, 3);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_logits_match_reference, 0, TEST_N_STEMS);
    tcase_add_loop_test(tc, test_greedy_continuation, 0, TEST_N_STEMS);
    tcase_add_loop_test(tc, test_perplexity, 0, TEST_N_STEMS);
    tcase_add_test(tc, test_batch_equals_sequential);
    tcase_add_test(tc, test_missing_and_bad_files);
    tcase_add_test(tc, test_graph_fuse_marks);
    suite_add_tcase(s, tc);
    return s;
}
