/* Tests of the eval module: scoring functions on hand-computed examples, the text rules
 * against values from the Python originals, few-shot sampling against CPython, every
 * suite's shared data, and on a tiny shared model: log-likelihoods against directly
 * computed logits, perplexity against the reference, shard + merge against a whole run,
 * and every suite end to end through the binary. */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "cpu.h"
#include "eval.h"
#include "eval_data.h"
#include "eval_json.h"
#include "eval_rand.h"
#include "eval_run.h"
#include "eval_score.h"
#include "eval_sha256.h"
#include "eval_suite.h"
#include "eval_text.h"
#include "model.h"
#include "testutil.h"
#include "tokenizer.h"

#define TINY "tiny-llama-Q8_0"

START_TEST(test_scoring)
{
    double ll[] = {-3, -1, -1, -2};
    ck_assert_int_eq(score_argmax(ll, 4), 1); /* first of the ties, as numpy */
    double l2[] = {-10, -12};
    long len[] = {5, 8};
    ck_assert_int_eq(score_argmax(l2, 2), 0);
    ck_assert_int_eq(score_argmax_norm(l2, len, 2), 1); /* -2 < -1.5 */
    double l3[] = {log(0.2), log(0.3), log(0.5)};
    signed char lab[] = {1, 0, 1};
    ck_assert_double_eq_tol(score_mc2(l3, lab, 3), 0.7, 1e-12);
    double l4[] = {log(0.2) - 800, log(0.3) - 800, log(0.5) - 800}; /* no underflow */
    ck_assert_double_eq_tol(score_mc2(l4, lab, 3), 0.7, 1e-12);
    double x[] = {1, 0, 1, 1}, m, se;
    score_mean_se(x, 4, &m, &se);
    ck_assert_double_eq_tol(m, 0.75, 1e-15);
    ck_assert_double_eq_tol(se, 0.25, 1e-15); /* sqrt(p(1-p)/(n-1)) */
    score_mean_se(x, 1, &m, &se);
    ck_assert(isnan(se));
    double ses[] = {0.25, 0.5};
    int ns[] = {4, 2};
    ck_assert_double_eq_tol(score_pooled_se(ses, ns, 2), sqrt(1.25 / 4 / 6), 1e-15);
    ck_assert_double_eq_tol(score_weighted_ppl(-10, 5), exp(2), 1e-12);
    double ppl, pse;
    score_token_ppl(6, 14, 3, &ppl, &pse);
    ck_assert_double_eq_tol(ppl, exp(2), 1e-12);
    ck_assert_double_eq_tol(pse, exp(2) * sqrt((14.0 / 3 - 4) / 2), 1e-12);
}
END_TEST

static void expect_str(char *got, const char *want)
{
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

/* expected values computed with the Python originals (lm-eval utils, re, str) */
START_TEST(test_text_rules)
{
    expect_str(
        text_wikitext_detok(
            "He said ( a  test ) and \" quoted  \" it @-@ was , fine . The team 's 3 @,@ 000 "
            "( x ) N = = Head = ="),
        "He said (a  test) and \"quoted\" it-was, fine. The team's 3,000 (x) 1 == Head ==");
    expect_str(text_hellaswag("  Home [title] How to cook [step] Boil  water. [substeps] x "),
               "Home. How to cook Boil water. x");
    const char *t = "She pays $1,234.50 then 7 more.\n#### 1,241.";
    expect_str(text_gsm8k_strict(t), "1,241.");
    expect_str(text_gsm8k_flexible(t), "1,241.");
    expect_str(text_gsm8k_strict("no answer"), "[invalid]");
    expect_str(text_gsm8k_flexible("the answer is 5"), "5");
    expect_str(text_gsm8k_norm("1,241."), "1241");
    expect_str(text_gsm8k_norm("Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72"), "72");
    expect_str(text_but_last_word("a b c"), "a b");
    expect_str(text_last_word("a b c"), "c");
    expect_str(text_strip(" \t x y \n"), "x y");
    expect_str(text_replace("aaa", "aa", "b"), "ba");
    ck_assert_int_eq(text_count_words(" a  b\tc\n"), 5);
    ck_assert_int_eq(text_count_chars("h\xc3\xa9llo w\xc3\xb6rld"), 11);
}
END_TEST

START_TEST(test_python_random)
{
    struct pyrand r;
    pyrand_seed(&r, 1234);
    ck_assert_uint_eq(pyrand_u32(&r), 4150886329u);
    ck_assert_uint_eq(pyrand_u32(&r), 3342196574u);
    ck_assert_uint_eq(pyrand_u32(&r), 1892932127u);
    /* random.Random(1234): .sample(range(7473), 5) twice; .sample(range(10), 4) */
    int o[5];
    pyrand_seed(&r, 1234);
    pyrand_sample(&r, 7473, 5, o);
    int w1[] = {6374, 3610, 957, 61, 742}, w2[] = {7462, 6610, 4769, 286, 5501},
        w3[] = {7, 1, 0, 9};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(o[i], w1[i]);
    pyrand_sample(&r, 7473, 5, o);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(o[i], w2[i]);
    pyrand_seed(&r, 1234);
    pyrand_sample(&r, 10, 4, o);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(o[i], w3[i]);
}
END_TEST

START_TEST(test_json_and_records)
{
    const char *j =
        "{\"a\": {\"b\": [{\"t\": \"x\\u00e9\", \"l\": \"A\"}, {\"t\": \"y\\n\", \"l\": \"B\"}]},"
        " \"m\": {\"k1\": 1, \"k.2\": 0}, \"n\": null, \"f\": true, \"num\": -1.5e3}";
    struct jval v;
    char err[256];
    ck_assert_int_eq(json_parse(j, strlen(j), &v, err, sizeof err), 0);
    ck_assert_double_eq(json_num(json_get(&v, "num"), 0), -1500);
    json_free(&v);
    ck_assert_int_ne(json_parse("{\"a\":}", 6, &v, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "byte"));
    char path[] = "/tmp/joule-eval-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert(write(fd, j, strlen(j)) == (ssize_t)strlen(j));
    ck_assert(write(fd, "\n\n", 2) == 2);
    close(fd);
    struct eval_recs recs = {0};
    ck_assert_int_eq(eval_read_records(path, "jsonl", 0, "", true, &recs, err, sizeof err), 0);
    ck_assert_int_eq(recs.n, 1);
    const char *vals[8];
    ck_assert_int_eq(rec_all(&recs.r[0], "a.b.t", vals, 8), 2);
    ck_assert_str_eq(vals[0], "x\xc3\xa9");
    ck_assert_str_eq(vals[1], "y\n");
    ck_assert_int_eq(rec_all(&recs.r[0], "m.@key", vals, 8), 2);
    ck_assert_str_eq(vals[1], "k.2");
    ck_assert_str_eq(rec_get(&recs.r[0], "f"), "true");
    ck_assert_str_eq(rec_get(&recs.r[0], "n"), "");
    char *g = suite_render("{a.b.t|strip}-{num}\\n\\{", &recs.r[0], err, sizeof err);
    expect_str(g, "x\xc3\xa9--1.5e3\n{");
    char **list;
    ck_assert_int_eq(suite_render_list("{a.b.l}", &recs.r[0], &list, err, sizeof err), 2);
    ck_assert_str_eq(list[1], "B");
    free(list[0]), free(list[1]), free(list);
    ck_assert_int_eq(suite_render_list("no | {f} | a\\|b", &recs.r[0], &list, err, sizeof err), 3);
    ck_assert_str_eq(list[1], "true");
    ck_assert_str_eq(list[2], "a|b");
    for (int i = 0; i < 3; i++)
        free(list[i]);
    free(list);
    ck_assert_ptr_null(suite_render("{missing}", &recs.r[0], err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "missing"));
    eval_recs_free(&recs);
    /* CSV: quotes, doubled quotes, a newline inside quotes, CRLF */
    FILE *f = fopen(path, "w");
    fputs("q,a\r\n\"x, \"\"y\"\"\nz\",1\r\nplain,2\n", f);
    fclose(f);
    ck_assert_int_eq(eval_read_records(path, "csv", 0, "", true, &recs, err, sizeof err), 0);
    ck_assert_int_eq(recs.n, 2);
    ck_assert_str_eq(rec_get(&recs.r[0], "q"), "x, \"y\"\nz");
    ck_assert_str_eq(rec_get(&recs.r[1], "a"), "2");
    eval_recs_free(&recs);
    remove(path);
    struct sha256 s;
    char hex[65];
    sha256_init(&s);
    sha256_update(&s, "abc", 3);
    sha256_hex(&s, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_suite_parse_errors)
{
    struct suite_def d;
    char err[512];
    ck_assert_int_ne(suite_parse("name x\nbogus 1\n", "x.suite", &d, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "x.suite:2"));
    ck_assert_int_ne(suite_parse("name x\ndata a.jsonl\ntype multiple_choice\ntext q\n", "y", &d,
                                 err, sizeof err),
                     0);
    ck_assert_ptr_nonnull(strstr(err, "choices"));
    suite_free(&d);
    ck_assert_int_ne(suite_load("no-such-suite", &d, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "mmlu"));
    struct suite_data sd;
    ck_assert_int_eq(suite_load("arc-easy", &d, err, sizeof err), 0);
    ck_assert_int_ne(suite_load_data(&d, "/nonexistent", &sd, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "tools/fetch-suites.sh arc-easy"));
    suite_data_free(&sd);
    suite_free(&d);
}
END_TEST

/* every suite's data parses with the item count its SOURCE states, and every item builds */
START_TEST(test_suite_data)
{
    NEED_SHARED(shared);
    char dir[600], err[1024];
    snprintf(dir, sizeof dir, "%s/suites-data", shared);
    ck_assert_int_ge(suite_builtin_count(), 12);
    for (int s = 0; s < suite_builtin_count(); s++) {
        struct suite_def d;
        struct suite_data sd;
        ck_assert_msg(suite_load(suite_builtin_name(s), &d, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(suite_load_data(&d, dir, &sd, err, sizeof err) == 0, "%s", err);
        if (d.type == SUITE_PPL) {
            char **pages;
            int n = text_wikitext_articles(rec_get(&sd.recs.r[0], "text"), &pages);
            ck_assert_int_eq(n, d.items);
            /* word and byte counts and the detokenised text, as Python computes them */
            long words = 0, bytes = 0;
            struct sha256 h;
            sha256_init(&h);
            for (int i = 0; i < n; i++) {
                words += text_count_words(pages[i]);
                bytes += (long)strlen(pages[i]);
                char *dt = text_wikitext_detok(pages[i]);
                sha256_update(&h, dt, strlen(dt));
                free(dt), free(pages[i]);
            }
            free(pages);
            char hex[65];
            sha256_hex(&h, hex);
            ck_assert_int_eq(words, 241335);
            ck_assert_int_eq(bytes, 1290527);
            ck_assert_str_eq(hex,
                             "d6535ca809061590d5e672ac43d8d2d5e1fb500c3005768f6050dcc007786165");
            suite_data_free(&sd);
            suite_free(&d);
            continue;
        }
        ck_assert_msg(sd.n_docs == d.items, "%s: %d items, SOURCE says %d", d.name, sd.n_docs,
                      d.items);
        ck_assert_msg(suite_plan_shots(&d, &sd, dir, d.shots, d.seed, NULL, 0, err, sizeof err) ==
                          0,
                      "%s", err);
        sd.k = d.shots;
        int hist[8] = {0}, n_groups = 0;
        char last_group[128] = "";
        for (int i = 0; i < sd.n_docs; i++) {
            struct eval_doc doc;
            ck_assert_msg(suite_doc(&d, &sd, dir, i, &doc, err, sizeof err) == 0, "%s", err);
            if (doc.n_choices < 8) hist[doc.n_choices]++;
            if (doc.group && strcmp(doc.group, last_group)) {
                n_groups++;
                snprintf(last_group, sizeof last_group, "%s", doc.group);
            }
            if (!strcmp(d.name, "gsm8k") &&
                i == 1) /* CPython random.Random(1234).sample, 2nd draw */
                ck_assert(!strncmp(doc.context, "Question: Steve finds 100 gold bars", 35));
            if (!strcmp(d.name, "mmlu") && i == 0)
                ck_assert(
                    !strncmp(doc.context,
                             "The following are multiple choice questions (with answers) about "
                             "abstract algebra.\n\nFind all c in Z_3",
                             100));
            if (doc.labels) {
                int t = 0;
                for (int c = 0; c < doc.n_choices; c++)
                    t += doc.labels[c];
                ck_assert_int_ge(t, 1);
            }
            eval_doc_free(&doc);
        }
        if (!strcmp(d.name, "arc-challenge")) {
            ck_assert_int_eq(hist[4], 1165);
            ck_assert_int_eq(hist[3], 4);
            ck_assert_int_eq(hist[5], 3);
        }
        if (!strcmp(d.name, "arc-easy")) ck_assert_int_eq(hist[3], 7); /* padding undone */
        if (!strcmp(d.name, "mmlu")) ck_assert_int_eq(n_groups, 57);
        suite_data_free(&sd);
        suite_free(&d);
    }
}
END_TEST

struct fx {
    struct model *m;
    struct backend *b;
    struct eval_runner r;
};

static void fx_open(struct fx *f, const char *shared, int32_t max_len)
{
    char p[600], err[512];
    snprintf(p, sizeof p, "%s/models/%s.gguf", shared, TINY);
    ck_assert_msg(model_load(p, &f->m, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(f->m->tok);
    f->b = cpu_backend_new(f->m, max_len, 2, err, sizeof err);
    ck_assert_msg(f->b != NULL, "%s", err);
    ck_assert_int_eq(runner_init(&f->r, f->b, f->m, max_len, false, err, sizeof err), 0);
}

static void fx_close(struct fx *f)
{
    runner_free(&f->r);
    backend_destroy(f->b);
    model_free(f->m);
}

/* log-softmax of row i of logits at token t */
static double logp(const float *l, int32_t nv, int32_t t)
{
    double mx = l[0], s = 0;
    for (int v = 1; v < nv; v++)
        mx = l[v] > mx ? l[v] : mx;
    for (int v = 0; v < nv; v++)
        s += exp(l[v] - mx);
    return l[t] - mx - log(s);
}

/* Sum of log p(seq[first..n-1]) from one forward pass of seq[0..n-2] at pos 0; *greedy (where
 * given): whether each of those tokens was the most likely one. */
static double seq_ll(struct fx *f, const int32_t *seq, int32_t n, int32_t first, bool *greedy)
{
    char err[512];
    int32_t nv = f->m->cfg.n_vocab;
    float *lg = malloc(sizeof(float) * (size_t)n * (size_t)nv);
    ck_assert_ptr_nonnull(lg);
    ck_assert(backend_forward(f->b, seq, n - 1, 0, true, lg, err, sizeof err) == 0);
    f->r.n_cache = 0; /* the runner's cache bookkeeping no longer holds */
    double ll = 0;
    if (greedy) *greedy = true;
    for (int32_t i = first; i < n; i++) {
        const float *row = lg + (size_t)(i - 1) * (size_t)nv;
        ll += logp(row, nv, seq[i]);
        if (!greedy) continue;
        int32_t best = 0;
        for (int v = 1; v < nv; v++)
            if (row[v] > row[best]) best = v;
        *greedy &= best == seq[i];
    }
    free(lg);
    return ll;
}

/* ll of the lm-eval request computed independently from one whole forward pass */
static double direct_ll(struct fx *f, const char *ctx, const char *cont, bool *greedy)
{
    char err[512], whole[4096];
    snprintf(whole, sizeof whole, "%s%s", ctx, cont);
    int32_t *c, *w;
    size_t nc, nw;
    ck_assert(
        tokenizer_encode(f->m->tok, ctx, strlen(ctx), false, false, &c, &nc, err, sizeof err) == 0);
    ck_assert(tokenizer_encode(f->m->tok, whole, strlen(whole), false, false, &w, &nw, err,
                               sizeof err) == 0);
    ck_assert(nw > nc);
    int32_t *seq = malloc(sizeof(int32_t) * nw);
    ck_assert_ptr_nonnull(seq);
    memcpy(seq, c, sizeof(int32_t) * nc);
    memcpy(seq + nc, w + nc, sizeof(int32_t) * (nw - nc));
    double ll = seq_ll(f, seq, (int32_t)nw, (int32_t)nc, greedy);
    free(seq), free(c), free(w);
    return ll;
}

START_TEST(test_ll_matches_logits)
{
    NEED_SHARED(shared);
    struct fx f;
    fx_open(&f, shared, 512);
    char err[512];
    static const char *ctx[] = {
        "Question: What is the capital of France?\nAnswer:",
        "The following are multiple choice questions about history.\n\nWho won?"};
    static const char *cont[] = {" Paris", " The city of Lyon, in the south", " A", " the"};
    for (int i = 0; i < 2; i++) {
        double first[4];
        for (int pass = 0; pass < 2; pass++) /* the second pass runs from the cached context */
            for (int k = 0; k < 4; k++) {
                struct ll_result lr;
                ck_assert_msg(runner_ll(&f.r, ctx[i], cont[k], &lr, err, sizeof err) == 0, "%s",
                              err);
                if (pass == 0)
                    first[k] = lr.ll;
                else
                    ck_assert_double_eq_tol(lr.ll, first[k], 1e-4);
            }
        for (int k = 0; k < 4; k++) {
            bool g;
            double want = direct_ll(&f, ctx[i], cont[k], &g);
            struct ll_result lr;
            ck_assert(runner_ll(&f.r, ctx[i], cont[k], &lr, err, sizeof err) == 0);
            ck_assert_msg(fabs(lr.ll - want) < 2e-3, "ll %g vs direct %g", lr.ll, want);
            ck_assert_double_eq_tol(lr.ll, first[k], 2e-3);
            ck_assert_int_eq(lr.greedy, g);
        }
    }
    /* trailing context whitespace moves to the continuation: same request as above */
    struct ll_result a, b;
    ck_assert(runner_ll(&f.r, "Answer: ", "Paris", &a, err, sizeof err) == 0);
    ck_assert(runner_ll(&f.r, "Answer:", " Paris", &b, err, sizeof err) == 0);
    ck_assert_double_eq_tol(a.ll, b.ll, 1e-6);
    /* an empty context is the BOS token */
    ck_assert(runner_ll(&f.r, "", "Paris", &a, err, sizeof err) == 0);
    ck_assert(a.n >= 1 && a.ll < 0);
    fx_close(&f);
}
END_TEST

/* lm-eval rolling windows (max_length 128): [BOS]+t[0:127] -> t[0:128]; t[127:255] ->
 * t[128:256]; the last, partial window conditioned on the 128 tokens before its end */
START_TEST(test_rolling_windows)
{
    NEED_SHARED(shared);
    struct fx f;
    fx_open(&f, shared, 128);
    char err[512];
    char *text = test_read_in(shared, "models/ppl-text.txt", NULL);
    text[700] = 0;
    int32_t *t;
    size_t n;
    ck_assert(
        tokenizer_encode(f.m->tok, text, strlen(text), false, false, &t, &n, err, sizeof err) == 0);
    ck_assert_msg(n > 256 && n < 384, "%zu tokens", n);
    int32_t seq[130];
    seq[0] = tokenizer_bos(f.m->tok);
    memcpy(seq + 1, t, sizeof(int32_t) * 128);
    double want = seq_ll(&f, seq, 129, 1, NULL);
    want += seq_ll(&f, t + 127, 129, 1, NULL);
    int32_t p3 = (int32_t)n - 256;
    want += seq_ll(&f, t + n - 129, 129, 129 - p3, NULL);
    struct ll_result lr;
    ck_assert_msg(runner_rolling(&f.r, text, &lr, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(lr.n, (int)n);
    ck_assert_msg(fabs(lr.ll - want) < 0.05, "rolling %g vs windows %g", lr.ll, want);
    free(t);
    free(text);
    fx_close(&f);
}
END_TEST

/* llama.cpp-convention perplexity through the suite runner equals ../shared/models ppl.txt */
START_TEST(test_ppl_reference)
{
    NEED_SHARED(shared);
    char err[512], p[600];
    struct suite_def d;
    ck_assert(suite_parse("name ppl-text\ndata models/ppl-text.txt\nformat text\ntype perplexity\n"
                          "ppl_ctx 128\nmetrics token_perplexity\n",
                          "test", &d, err, sizeof err) == 0);
    snprintf(p, sizeof p, "%s/models/%s.ref/ppl.txt", shared, TINY);
    char *ref = test_read_file(p, NULL);
    double want;
    ck_assert(ref && sscanf(ref, "ppl %lf", &want) == 1);
    free(ref);
    struct fx f;
    fx_open(&f, shared, 256);
    struct eval_opts o = {
        .data_dir = shared, .limit = 8, .shots = -1, .seed = -1, .shard_i = 1, .shard_n = 1};
    struct eval_result res;
    ck_assert_msg(eval_run_suite(&d, &f.r, &o, &res, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(res.n_metrics, 1);
    ck_assert_int_eq(res.n_rows, 8);
    double got = res.metrics[0].value;
    fprintf(stderr, "  eval %s perplexity %.4f (reference %.4f)\n", TINY, got, want);
    ck_assert_msg(fabs(got - want) / want < 1e-3, "ppl %g vs %g", got, want);
    eval_result_free(&res);
    suite_free(&d);
    fx_close(&f);
}
END_TEST

static void run_to_json(struct fx *f, const struct suite_def *d, struct eval_opts *o,
                        const char *path, struct eval_result *keep)
{
    char err[512];
    struct eval_result res;
    ck_assert_msg(eval_run_suite(d, &f->r, o, &res, err, sizeof err) == 0, "%s", err);
    FILE *out = fopen(path, "w");
    ck_assert_ptr_nonnull(out);
    struct eval_run_info info = {.shard_i = o->shard_i, .shard_n = o->shard_n, .style = "lm-eval"};
    eval_print_json(out, &info, &res, 1);
    fclose(out);
    if (keep)
        *keep = res;
    else
        eval_result_free(&res);
}

START_TEST(test_shard_merge)
{
    NEED_SHARED(shared);
    char dir[600], err[512];
    snprintf(dir, sizeof dir, "%s/suites-data", shared);
    struct fx f;
    fx_open(&f, shared, 512);
    static const char *names[] = {"arc-easy", "mmlu"};
    for (int s = 0; s < 2; s++) {
        struct suite_def d;
        ck_assert(suite_load(names[s], &d, err, sizeof err) == 0);
        /* mmlu: --limit is per subject (57 items), 0-shot to keep the test short */
        struct eval_opts o = {.data_dir = dir,
                              .limit = s ? 1 : 7,
                              .shots = s ? 0 : -1,
                              .seed = -1,
                              .shard_i = 1,
                              .shard_n = 1};
        struct eval_result whole;
        char tmp[] = "/tmp/joule-eval-XXXXXX", paths[3][64], wpath[64];
        const char *pp[3];
        ck_assert_ptr_nonnull(mkdtemp(tmp));
        snprintf(wpath, sizeof wpath, "%s/whole.json", tmp);
        run_to_json(&f, &d, &o, wpath, &whole);
        for (int i = 0; i < 3; i++) {
            snprintf(paths[i], sizeof paths[i], "%s/shard%d.json", tmp, i);
            pp[i] = paths[2 - i]; /* any order */
            o.shard_i = i + 1, o.shard_n = 3;
            run_to_json(&f, &d, &o, paths[i], NULL);
        }
        struct eval_result *m;
        int n;
        ck_assert_msg(eval_merge(pp, 3, &m, &n, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(n, 1);
        ck_assert_int_eq(m[0].n_rows, s ? 57 : 7);
        ck_assert_int_eq(m[0].n_metrics, whole.n_metrics);
        for (int i = 0; i < whole.n_metrics; i++) {
            ck_assert_str_eq(m[0].metrics[i].name, whole.metrics[i].name);
            ck_assert(isnan(whole.metrics[i].value)
                          ? isnan(m[0].metrics[i].value)
                          : fabs(m[0].metrics[i].value - whole.metrics[i].value) < 1e-12);
            ck_assert(isnan(whole.metrics[i].se)
                          ? isnan(m[0].metrics[i].se)
                          : fabs(m[0].metrics[i].se - whole.metrics[i].se) < 1e-12);
        }
        /* the merged whole run reads back as itself */
        const char *wp = wpath;
        struct eval_result *w2;
        ck_assert(eval_merge(&wp, 1, &w2, &n, err, sizeof err) == 0);
        ck_assert_double_eq_tol(w2[0].metrics[0].value, whole.metrics[0].value, 1e-12);
        eval_result_free(&w2[0]);
        free(w2);
        /* a shard given twice is refused */
        const char *dup[] = {paths[0], paths[0]};
        ck_assert(eval_merge(dup, 2, &w2, &n, err, sizeof err) != 0);
        ck_assert_ptr_nonnull(strstr(err, "more than one file"));
        for (int i = 0; i < 3; i++)
            remove(paths[i]);
        remove(wp);
        rmdir(tmp);
        eval_result_free(&m[0]);
        free(m);
        eval_result_free(&whole);
        suite_free(&d);
    }
    fx_close(&f);
}
END_TEST

static int run_bin(const char *args, char **out, char **errs)
{
    struct test_proc r = test_run("%s", args);
    *out = r.out, *errs = r.err;
    return r.code;
}

START_TEST(test_cli)
{
    char *out, *errs;
    ck_assert_int_eq(run_bin("eval --help", &out, &errs), 0);
    ck_assert_ptr_nonnull(strstr(out, "--shard"));
    free(out), free(errs);
    static const char *bad_shards[] = {"0/2", "3/2", "1/", "/2", "1/2x", "1.5/2", "1/0", "-1/2"};
    for (size_t i = 0; i < sizeof bad_shards / sizeof bad_shards[0]; i++) {
        char a[128];
        snprintf(a, sizeof a, "eval -m x.gguf --suite mmlu --shard %s", bad_shards[i]);
        ck_assert_msg(run_bin(a, &out, &errs) == 2, "--shard %s", bad_shards[i]);
        ck_assert_ptr_nonnull(strstr(errs, "--shard"));
        free(out), free(errs);
    }
    ck_assert_int_eq(run_bin("eval -m x.gguf --suite nope", &out, &errs), 2);
    ck_assert_ptr_nonnull(strstr(errs, "unknown suite"));
    free(out), free(errs);
    ck_assert_int_eq(run_bin("eval --list --data /nonexistent", &out, &errs), 0);
    ck_assert_ptr_nonnull(strstr(out, "missing"));
    free(out), free(errs);
    NEED_SHARED(shared);
    char args[2048];
    snprintf(args, sizeof args,
             "eval -m %s/models/%s.gguf --suite arc-easy --data /nonexistent --device cpu", shared,
             TINY);
    ck_assert_int_eq(run_bin(args, &out, &errs), 1);
    ck_assert_ptr_nonnull(strstr(errs, "tools/fetch-suites.sh arc-easy"));
    free(out), free(errs);
    /* every suite end to end (under the sanitizers without wikitext: its first article alone is
     * ~6k tokens; test_rolling_windows and test_ppl_reference cover its code there) */
    bool asan = getenv("JOULE_ASAN") != NULL;
    snprintf(
        args, sizeof args,
        "eval -m %s/models/%s.gguf --suite %s --limit 1 --shots 0 --max-length 256 --data "
        "%s/suites-data "
        "--device cpu -t 2 -o json --no-hash",
        shared, TINY,
        asan ? "hellaswag,arc-easy,arc-challenge,mmlu,winogrande,piqa,truthfulqa-mc1,truthfulqa-"
               "mc2,lambada,"
               "boolq,gsm8k"
             : "all",
        shared);
    int rc = run_bin(args, &out, &errs);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, errs);
    static const char *names[] = {"wikitext",       "hellaswag",  "arc-easy", "arc-challenge",
                                  "mmlu",           "winogrande", "piqa",     "truthfulqa-mc1",
                                  "truthfulqa-mc2", "lambada",    "boolq",    "gsm8k"};
    struct jval v;
    char err[256];
    ck_assert_msg(json_parse(out, strlen(out), &v, err, sizeof err) == 0, "%s", err);
    const struct jval *s = json_get(&v, "suites");
    ck_assert_int_eq(s->n, asan ? 11 : 12);
    for (int i = 0; i < s->n; i++) {
        ck_assert_str_eq(json_str(json_get(&s->kids[i], "suite")), names[i + asan]);
        ck_assert_int_ge(json_get(&s->kids[i], "metrics")->n, 1);
    }
    json_free(&v);
    free(out), free(errs);
}
END_TEST

/* The JSON reader accepts exactly JSON: every one of these is refused with a message. */
START_TEST(test_json_strict)
{
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
    } bad[] = {
        {"[1-2]", 0},
        {"[+1]", 0},
        {"[01]", 0},
        {"[1.]", 0},
        {"[.5]", 0},
        {"[1e]", 0},
        {"[1e+]", 0},
        {"[-]", 0},
        {"[--1]", 0},
        {"[1.5.5]", 0},
        {"[1eE5]", 0},
        {"[\"a\tb\"]", 0},
        {"[\"a\nb\"]", 0},
        {"[1\0]", 4},
        {"[\"a\0b\"]", 7},
        {"[\"\\u0000\"]", 0},
        {"{\"a\":1,\"a\":2}", 0},
        {"{\"b\":1,\"a\":[],\"b\":{}}", 0},
        {"[1,]", 0},
        {"[tru]", 0},
    };
    struct jval v;
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        ck_assert_msg(json_parse(bad[i].text, len, &v, err, sizeof err) != 0, "accepted %s",
                      bad[i].text);
        ck_assert_ptr_nonnull(strstr(err, "JSON error at byte"));
    }
    static const char *good[] = {"[0]",
                                 "[-0.5e-3]",
                                 "[1E+2]",
                                 "[123456789012345678901234]",
                                 "{\"a\":1,\"b\":2}",
                                 "[\"\\u00e9\\n\"]"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(json_parse(good[i], strlen(good[i]), &v, err, sizeof err) == 0, "%s: %s",
                      good[i], err);
        json_free(&v);
    }
    /* checked integers and reals */
    const char *nums = "[5, -1, 1e99, 2.0, 9223372036854775808, null, \"7\", 1e400]";
    ck_assert(json_parse(nums, strlen(nums), &v, err, sizeof err) == 0);
    long long x;
    double d;
    ck_assert(json_int(&v.kids[0], 0, 10, &x) && x == 5);
    ck_assert(!json_int(&v.kids[0], 0, 4, &x));
    ck_assert(!json_int(&v.kids[1], 0, 10, &x) && json_int(&v.kids[1], -1, 10, &x) && x == -1);
    ck_assert(!json_int(&v.kids[2], 0, 1000, &x)); /* "shots": 1e99 */
    ck_assert(!json_int(&v.kids[3], 0, 10, &x));
    ck_assert(!json_int(&v.kids[4], 0, LLONG_MAX, &x));
    ck_assert(!json_int(&v.kids[5], 0, 10, &x) && !json_int(&v.kids[6], 0, 10, &x));
    ck_assert(json_real(&v.kids[3], &d) && d == 2.0);
    ck_assert(json_real(&v.kids[5], &d) && isnan(d));
    ck_assert(!json_real(&v.kids[6], &d) && !json_real(&v.kids[7], &d));
    json_free(&v);
}
END_TEST

/* A result file for --merge, from a template with one substitution (NULL: none). */
static int merge_text(const char *text, char *err, size_t errlen, struct eval_result **out)
{
    char path[] = "/tmp/joule-merge-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    const char *files[] = {path};
    int n = 0;
    struct eval_result *res = NULL;
    int rc = eval_merge(files, 1, &res, &n, err, errlen);
    unlink(path);
    if (out)
        *out = res;
    else {
        for (int k = 0; k < n; k++)
            eval_result_free(&res[k]);
        free(res);
    }
    return rc;
}

static char *subst(const char *tmpl, const char *from, const char *to)
{
    const char *p = strstr(tmpl, from);
    ck_assert_ptr_nonnull(p);
    size_t n = strlen(tmpl) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    ck_assert_ptr_nonnull(s);
    snprintf(s, n, "%.*s%s%s", (int)(p - tmpl), tmpl, to, p + strlen(from));
    return s;
}

/* Result files are untrusted: each crafted field is refused with a message naming the
 * file's problem; nothing named in the file is opened; a valid file still merges. */
START_TEST(test_merge_untrusted)
{
    char err[512], tmpl[2048];
    struct suite_def arc, wiki;
    ck_assert(suite_load("arc-easy", &arc, err, sizeof err) == 0);
    ck_assert(suite_load("wikitext", &wiki, err, sizeof err) == 0);
    snprintf(tmpl, sizeof tmpl,
             "{\"joule_eval\":1,\"partial\":true,\"suites\":[{\"suite\":\"arc-easy\","
             "\"def\":\"/etc/passwd\",\"suite_sha256\":\"%s\",\"task\":\"t\",\"style\":\"lm-eval\","
             "\"shots\":0,\"items\":2,\"seconds\":1.5,\"tokens\":10,\"metrics\":[],"
             "\"columns\":[\"acc\",\"acc_norm\"],\"groups\":[\"g\"],"
             "\"rows\":[[0,-1,1,0],[1,0,0,1]]}]}",
             arc.sha256);
    struct eval_result *res;
    ck_assert_msg(merge_text(tmpl, err, sizeof err, &res) == 0, "%s", err);
    ck_assert_str_eq(res[0].def, "arc-easy"); /* the file's "def" is never used */
    ck_assert_double_eq_tol(res[0].metrics[0].value, 0.5, 1e-12);
    eval_result_free(&res[0]);
    free(res);
    static const struct {
        const char *from, *to, *why;
    } bad[] = {
        {"[1,0,0,1]", "[-1,0,0,1]", "item index"},
        {"[1,0,0,1]", "[100000000,0,0,1]", "item index"},
        {"[1,0,0,1]]", "[1,0,0,1],[2,-1,1,1]]", "more rows than"},
        {"[1,0,0,1]", "[1e99,0,0,1]", "item index"},
        {"[1,0,0,1]", "[1,1,0,1]", "group"},
        {"[1,0,0,1]", "[1,-2,0,1]", "group"},
        {"[1,0,0,1]", "[1,0,0,\"x\"]", "bad value"},
        {"[1,0,0,1]", "[1,0,0,1e999]", "bad value"},
        {"[1,0,0,1]", "[1,0,0]", "malformed row"},
        {"\"shots\":0", "\"shots\":1e99", "shots"},
        {"\"shots\":0", "\"shots\":-1", "shots"},
        {"\"items\":2", "\"items\":-5", "items"},
        {"\"items\":2", "\"items\":2.5", "items"},
        {"\"tokens\":10", "\"tokens\":-10", "tokens"},
        {"\"seconds\":1.5", "\"seconds\":-1", "seconds"},
        {"\"suite\":\"arc-easy\"", "\"suite\":\"/etc/passwd\"", "plain name"},
        {"\"suite\":\"arc-easy\"", "\"suite\":\"x.suite\"", "plain name"},
        {"\"suite\":\"arc-easy\"", "\"suite\":\"no-such-suite\"", "not built in"},
        {"\"style\":\"lm-eval\"", "\"style\":\"x\"", "style"},
        {"\"acc_norm\"]", "\"a\\\"b\"]", "column 1"},
        {"\"acc_norm\"]", "\"acc\"]", "given twice"},
        {"\"acc_norm\"]", "\"acc_norm\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]", "no rows"},
        {"\"joule_eval\":1", "\"joule_eval\":2", "not a joule eval result"},
        {"\"partial\":true", "\"partial\":true,\"partial\":false", "given twice"},
        {"\"suite_sha256\":\"", "\"suite_sha256\":\"0", "suite_sha256"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = subst(tmpl, bad[i].from, bad[i].to);
        ck_assert_msg(merge_text(t, err, sizeof err, NULL) != 0, "accepted: %s", t);
        ck_assert_msg(strstr(err, bad[i].why) != NULL, "%s -> %s: %s", bad[i].to, bad[i].why, err);
        free(t);
    }
    /* another definition of the suite than this one: refused */
    char other[65];
    snprintf(other, sizeof other, "%s", arc.sha256);
    other[0] = other[0] == '0' ? '1' : '0';
    char *t = subst(tmpl, arc.sha256, other);
    ck_assert(merge_text(t, err, sizeof err, NULL) != 0);
    ck_assert_msg(strstr(err, "another definition"), "%s", err);
    free(t);
    /* token perplexity claimed without the columns it needs: an error, not a read past the row */
    snprintf(tmpl, sizeof tmpl,
             "{\"joule_eval\":1,\"suites\":[{\"suite\":\"wikitext\",\"suite_sha256\":\"%s\","
             "\"style\":\"llama.cpp\",\"shots\":0,\"items\":1,\"columns\":[\"nll\"],"
             "\"rows\":[[0,-1,5]]}]}",
             wiki.sha256);
    ck_assert(merge_text(tmpl, err, sizeof err, NULL) != 0);
    ck_assert_msg(strstr(err, "has no column"), "%s", err);
    suite_free(&arc);
    suite_free(&wiki);
}
END_TEST

/* eval --merge through the binary: options before or after the files; strings from the
 * file come out escaped, so the output is JSON again. */
START_TEST(test_merge_cli)
{
    char err[512], text[2048];
    struct suite_def arc;
    ck_assert(suite_load("arc-easy", &arc, err, sizeof err) == 0);
    snprintf(text, sizeof text,
             "{\"joule_eval\":1,\"suites\":[{\"suite\":\"arc-easy\",\"suite_sha256\":\"%s\","
             "\"task\":\"t\\\"],\\\"x\\\":[\",\"style\":\"lm-eval\",\"shots\":0,\"items\":2,"
             "\"columns\":[\"acc\",\"acc_norm\"],\"groups\":[\"g\\\"}]\"],"
             "\"rows\":[[1,0,0,1],[0,-1,1,0]]}]}",
             arc.sha256);
    suite_free(&arc);
    char path[] = "/tmp/joule-merge-cli-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    char args[512], *out[2], *errs;
    snprintf(args, sizeof args, "eval --merge %s -o json", path);
    ck_assert_int_eq(run_bin(args, &out[0], &errs), 0);
    free(errs);
    snprintf(args, sizeof args, "eval -o json --merge %s", path);
    ck_assert_int_eq(run_bin(args, &out[1], &errs), 0);
    free(errs);
    /* the same result; only the provenance (time, command line) differs */
    ck_assert_ptr_nonnull(strstr(out[0], "\"model\":"));
    ck_assert_ptr_nonnull(strstr(out[1], "\"model\":"));
    ck_assert_str_eq(strstr(out[0], "\"model\":"), strstr(out[1], "\"model\":"));
    struct jval v;
    ck_assert_msg(json_parse(out[0], strlen(out[0]), &v, err, sizeof err) == 0, "%s: %s", err,
                  out[0]);
    const struct jval *s0 = &json_get(&v, "suites")->kids[0];
    ck_assert_str_eq(json_str(json_get(s0, "task")), "t\"],\"x\":[");
    ck_assert_str_eq(json_str(&json_get(s0, "groups")->kids[0]), "g\"}]");
    ck_assert_int_eq(json_get(s0, "suite_sha256")->len, 64);
    json_free(&v);
    free(out[0]), free(out[1]);
    /* a stray word before --merge, and --merge without files: usage errors */
    snprintf(args, sizeof args, "eval %s --merge", path);
    ck_assert_int_eq(run_bin(args, &out[0], &errs), 2);
    free(out[0]), free(errs);
    ck_assert_int_eq(run_bin("eval --merge -o json", &out[0], &errs), 2);
    ck_assert_ptr_nonnull(strstr(errs, "needs result files"));
    free(out[0]), free(errs);
    unlink(path);
    /* --suite: empty, repeated or unknown names are usage errors */
    static const char *bad[] = {"''", "','", "arc-easy,", "arc-easy,arc-easy", "nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "eval -m x.gguf --suite %s", bad[i]);
        ck_assert_msg(run_bin(args, &out[0], &errs) == 2, "--suite %s: %s", bad[i], errs);
        free(out[0]), free(errs);
    }
}
END_TEST

/* "$JOULE_BIN eval ARGS[0..n-1]" with stdout to out */
static pid_t spawn_eval(const char *out, const char *const *args, int n)
{
    const char *argv[32] = {"eval"};
    for (int i = 0; i < n && i < 30; i++)
        argv[i + 1] = args[i];
    argv[n < 30 ? n + 1 : 31] = NULL;
    pid_t pid = test_spawn_joule(out, NULL, argv);
    ck_assert_int_ge(pid, 0);
    return pid;
}

static int count_file_lines(const char *path)
{
    char *t = test_read_file(path, NULL);
    int n = 0;
    for (char *p = t; p && *p; p++)
        n += *p == '\n';
    free(t);
    return n;
}

static int wait_status(pid_t pid)
{
    int st = test_wait_status(pid);
    ck_assert_int_ge(st, 0);
    return st;
}

/* Ctrl-C during an eval: the item in progress finishes, the results so far are written
 * marked partial and interrupted, exit 130; --resume FILE then gives the rows of an
 * uninterrupted run exactly; SIGTERM does the same; a second signal quits at once. */
START_TEST(test_interrupt_resume)
{
    NEED_SHARED(shared);
    char model[512], data[512], dir[] = "/tmp/joule-eval-int-XXXXXX", whole[64], part[64],
                                resumed[64], log[64];
    snprintf(model, sizeof model, "%s/models/%s.gguf", shared, TINY);
    snprintf(data, sizeof data, "%s/suites-data", shared);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(whole, sizeof whole, "%s/whole.json", dir);
    snprintf(part, sizeof part, "%s/part.json", dir);
    snprintf(resumed, sizeof resumed, "%s/resumed.json", dir);
    snprintf(log, sizeof log, "%s/items.jsonl", dir);
    /* items per suite: fewer under the sanitizers (each run is 5x slower there) */
    const int limit = getenv("JOULE_ASAN") ? 24 : 60;
    char lim[16], lim_other[16];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(lim_other, sizeof lim_other, "%d", limit + 1);
    const char *args[] = {
        "-m",  model, "--suite", "arc-easy,piqa", "--limit",     lim, "--data",   data, "--device",
        "cpu", "-o",  "json",    "--no-hash",     "--log-items", log, "--resume", part};
    const int n_base = 13;
    ck_assert_int_eq(wait_status(spawn_eval(whole, args, n_base)), 0);
    for (int sig = 0; sig < 2; sig++) {
        remove(log);
        pid_t pid = spawn_eval(part, args, n_base + 2);
        for (int t = 0; t < 6000 && count_file_lines(log) < 3; t++)
            usleep(10000);
        kill(pid, sig ? SIGTERM : SIGINT);
        ck_assert_int_eq(wait_status(pid), 130);
        char *pj = test_read_file(part, NULL), err[256];
        struct jval v;
        ck_assert_msg(json_parse(pj, strlen(pj), &v, err, sizeof err) == 0, "%s: %s", err, pj);
        ck_assert_str_eq(json_str(json_get(&v, "partial")), "true");
        ck_assert_str_eq(json_str(json_get(&v, "interrupted")), "true");
        const struct jval *s0 = &json_get(&v, "suites")->kids[0];
        double done = json_num(json_get(s0, "items_done"), -1);
        ck_assert_msg(done >= 3 && done < limit, "items done %g", done);
        json_free(&v);
        free(pj);
        ck_assert_int_eq(wait_status(spawn_eval(resumed, args, n_base + 4)), 0);
        char *a = test_read_file(whole, NULL), *b = test_read_file(resumed, NULL);
        struct jval va, vb;
        ck_assert(json_parse(a, strlen(a), &va, err, sizeof err) == 0);
        ck_assert(json_parse(b, strlen(b), &vb, err, sizeof err) == 0);
        ck_assert_str_eq(json_str(json_get(&vb, "partial")), "false");
        const struct jval *sa = json_get(&va, "suites"), *sb = json_get(&vb, "suites");
        ck_assert_int_eq(sa->n, 2);
        ck_assert_int_eq(sb->n, 2);
        for (int k = 0; k < 2; k++) {
            const struct jval *ra = json_get(&sa->kids[k], "rows"),
                              *rb = json_get(&sb->kids[k], "rows");
            ck_assert_int_eq(ra->n, limit);
            ck_assert_int_eq(rb->n, limit);
            for (int i = 0; i < ra->n; i++)
                for (int c = 0; c < ra->kids[i].n; c++)
                    ck_assert_str_eq(json_str(&ra->kids[i].kids[c]),
                                     json_str(&rb->kids[i].kids[c]));
        }
        json_free(&va);
        json_free(&vb);
        free(a);
        free(b);
    }
    /* --resume with other settings is refused */
    const char *other[] = {"-m",      model,    "--suite",   "arc-easy,piqa", "--limit",
                           lim_other, "--data", data,        "--device",      "cpu",
                           "-o",      "json",   "--no-hash", "--resume",      resumed};
    ck_assert_int_eq(wait_status(spawn_eval(part, other, 15)), 1);
    /* a second signal quits at once */
    pid_t pid = spawn_eval(part, args, n_base);
    usleep(300000);
    kill(pid, SIGINT);
    kill(pid, SIGINT);
    ck_assert_int_eq(wait_status(pid), 130);
    remove(whole), remove(part), remove(resumed), remove(log);
    rmdir(dir);
}
END_TEST

Suite *eval_suite(void)
{
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_scoring);
    tcase_add_test(tc, test_text_rules);
    tcase_add_test(tc, test_python_random);
    tcase_add_test(tc, test_json_and_records);
    tcase_add_test(tc, test_suite_parse_errors);
    tcase_add_test(tc, test_suite_data);
    tcase_add_test(tc, test_ll_matches_logits);
    tcase_add_test(tc, test_rolling_windows);
    tcase_add_test(tc, test_ppl_reference);
    tcase_add_test(tc, test_shard_merge);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_json_strict);
    tcase_add_test(tc, test_merge_untrusted);
    tcase_add_test(tc, test_merge_cli);
    tcase_add_test(tc, test_interrupt_resume);
    suite_add_tcase(s, tc);
    return s;
}
