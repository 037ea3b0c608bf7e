/* synth_gguf: synthetic models written as GGUF files. The file holds the tensors synth_foreach
 * names, in its types and shapes, with the very bytes synth_create makes; joule loads it with
 * a working tokenizer of the right kind and size; the logits equal the in-memory model's; bad
 * paths, a full disk and a file-size limit fail with a message and leave no partial file. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "cpu.h"
#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "synth.h"
#include "synth_gguf.h"
#include "testutil.h"
#include "tokenizer.h"

static void tmp_path(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/tmp/joule-synth-%d-%s.gguf", (int)getpid(), tag);
}

static const struct synth_shape *named(const char *name, enum synth_ftype *f)
{
    const struct synth_shape *s;
    char err[512];
    ck_assert_msg(synth_parse(name, &s, f, err, sizeof err) == 0, "%s", err);
    return s;
}

/* ---- the tensor table against synth_foreach ---- */

struct check_ctx {
    const struct gguf_file *g;
    int index;
};

static void check_one(const struct synth_tensor *t, void *ctx)
{
    struct check_ctx *c = ctx;
    ck_assert_uint_lt((uint64_t)c->index, c->g->n_tensors);
    const struct gguf_tensor *gt = &c->g->tensors[c->index++];
    ck_assert_str_eq(gt->name, t->name);
    ck_assert_uint_eq(gt->type, t->type);
    ck_assert_int_eq(gt->ne[0], t->ne0);
    ck_assert_int_eq(gt->ne[1], t->ne1);
    ck_assert_uint_eq(gt->n_dims, t->ne1 == 1 ? 1 : 2);
    ck_assert_uint_eq((uintptr_t)gt->data % 32, (uintptr_t)c->g->map % 32); /* aligned */
}

/* every weight of a and b: same type, shape and bytes */
static void same_weights(const struct model *a, const struct model *b)
{
    const struct weight *wa[] = {&a->tok_embd, &a->output_norm, &a->output};
    const struct weight *wb[] = {&b->tok_embd, &b->output_norm, &b->output};
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(wa[i]->type, wb[i]->type);
        ck_assert_int_eq(wa[i]->ne0, wb[i]->ne0);
        ck_assert_int_eq(wa[i]->ne1, wb[i]->ne1);
        ck_assert(memcmp(wa[i]->data, wb[i]->data, wa[i]->row_bytes * (uint64_t)wa[i]->ne1) == 0);
    }
    for (int32_t l = 0; l < a->cfg.n_layer; l++) {
        const struct layer_weights *x = &a->layers[l], *y = &b->layers[l];
        const struct weight *lx[] = {&x->attn_norm, &x->wq,     &x->wk,   &x->wv,    &x->wo,
                                     &x->ffn_norm,  &x->w_gate, &x->w_up, &x->w_down};
        const struct weight *ly[] = {&y->attn_norm, &y->wq,     &y->wk,   &y->wv,    &y->wo,
                                     &y->ffn_norm,  &y->w_gate, &y->w_up, &y->w_down};
        for (size_t i = 0; i < sizeof lx / sizeof lx[0]; i++) {
            ck_assert_uint_eq(lx[i]->type, ly[i]->type);
            ck_assert_int_eq(lx[i]->ne0, ly[i]->ne0);
            ck_assert_int_eq(lx[i]->ne1, ly[i]->ne1);
            ck_assert_msg(
                memcmp(lx[i]->data, ly[i]->data, lx[i]->row_bytes * (uint64_t)lx[i]->ne1) == 0,
                "layer %d weight %zu differs", l, i);
        }
    }
}

START_TEST(test_synth_file_round_trip)
{
    for (int fi = 0; fi < SYNTH_FTYPE_COUNT; fi++) {
        char name[64], path[128], err[512];
        snprintf(name, sizeof name, "test-tiny-%s", synth_ftype_name((enum synth_ftype)fi));
        enum synth_ftype f;
        const struct synth_shape *s = named(name, &f);
        tmp_path(path, sizeof path, name);
        uint64_t bytes = 0;
        ck_assert_msg(synth_gguf_write(s, f, 11, path, &bytes, err, sizeof err) == 0, "%s", err);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq((uint64_t)st.st_size, bytes);

        struct gguf_file *g;
        ck_assert_msg(gguf_open(path, &g, err, sizeof err) == 0, "%s", err);
        struct check_ctx c = {g, 0};
        int n = synth_foreach(s, f, check_one, &c);
        ck_assert_uint_eq(g->n_tensors, (uint64_t)n);
        uint32_t ft = 0;
        ck_assert_int_eq(gguf_get_u32(g, "general.file_type", &ft), 0);
        ck_assert_uint_eq(ft, synth_gguf_file_type(f));
        struct synth_info info;
        synth_info(s, f, &info);
        uint64_t sum = 0;
        for (uint64_t i = 0; i < g->n_tensors; i++)
            sum += g->tensors[i].nbytes;
        ck_assert_uint_eq(sum, info.bytes);
        gguf_close(g);

        /* joule loads it: config, vocabulary, and the same bytes as the in-memory model */
        struct model *fm, *mm;
        ck_assert_msg(model_load(path, &fm, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(synth_create(s, f, 11, 0, &mm, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(fm->cfg.n_vocab, s->n_vocab);
        ck_assert_int_eq(fm->cfg.n_layer, s->n_layer);
        ck_assert_int_eq(fm->cfg.n_head_kv, s->n_head_kv);
        ck_assert_int_eq(fm->cfg.n_ff, s->n_ff);
        ck_assert_uint_eq(fm->n_params, mm->n_params);
        ck_assert_ptr_nonnull(fm->tok);
        ck_assert_int_eq(tokenizer_n_vocab(fm->tok), s->n_vocab);
        ck_assert_str_eq(tokenizer_model_name(fm->tok), "llama");
        same_weights(fm, mm);

        /* and computes the same logits */
        struct backend *bf = cpu_backend_new(fm, 16, 2, err, sizeof err);
        ck_assert_msg(bf != NULL, "%s", err);
        struct backend *bm = cpu_backend_new(mm, 16, 2, err, sizeof err);
        ck_assert_msg(bm != NULL, "%s", err);
        int32_t toks[4] = {1, 300, 301, 1000};
        size_t nl = (size_t)s->n_vocab * 4;
        float *lf = malloc(nl * sizeof *lf), *lm = malloc(nl * sizeof *lm);
        ck_assert(lf && lm);
        ck_assert_msg(backend_forward(bf, toks, 4, 0, true, lf, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(backend_forward(bm, toks, 4, 0, true, lm, err, sizeof err) == 0, "%s", err);
        for (size_t i = 0; i < nl; i++) {
            ck_assert(isfinite(lf[i]));
            ck_assert_msg(lf[i] == lm[i], "%s: logit %zu: file %g, memory %g", name, i,
                          (double)lf[i], (double)lm[i]);
        }
        free(lf);
        free(lm);
        backend_destroy(bf);
        backend_destroy(bm);
        model_free(fm);
        synth_free(mm);
        remove(path);
    }
}
END_TEST

/* the same file whatever the seed's default spelling; another seed, other weights */
START_TEST(test_synth_file_seed)
{
    enum synth_ftype f;
    const struct synth_shape *s = named("test-tiny-q8_0", &f);
    char a[128], b[128], c[128], err[512];
    tmp_path(a, sizeof a, "seed-a");
    tmp_path(b, sizeof b, "seed-b");
    tmp_path(c, sizeof c, "seed-c");
    ck_assert_msg(synth_gguf_write(s, f, 0, a, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(synth_gguf_write(s, f, SYNTH_DEFAULT_SEED, b, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_msg(synth_gguf_write(s, f, 5, c, NULL, err, sizeof err) == 0, "%s", err);
    size_t la, lb, lc;
    char *da = test_read_file(a, &la), *db = test_read_file(b, &lb), *dc = test_read_file(c, &lc);
    ck_assert(da && db && dc);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(da, db, la) == 0);
    ck_assert_uint_eq(la, lc);
    ck_assert(memcmp(da, dc, la) != 0);
    free(da);
    free(db);
    free(dc);
    remove(a);
    remove(b);
    remove(c);
}
END_TEST

/* ---- vocabularies of the BPE shapes, on small copies of their shapes ---- */

static void check_vocab(const struct synth_shape *big, const char *model, const char *pre,
                        const char *special, int32_t special_id, int32_t bos, bool add_bos)
{
    struct synth_shape s = *big;
    s.n_embd = 64, s.n_layer = 1, s.n_head = 2, s.n_head_kv = 1, s.n_ff = 128;
    char path[128], err[512];
    tmp_path(path, sizeof path, big->name);
    ck_assert_msg(synth_gguf_write(&s, SYNTH_Q8_0, 1, path, NULL, err, sizeof err) == 0, "%s", err);
    struct model *m;
    ck_assert_msg(model_load(path, &m, err, sizeof err) == 0, "%s", err);
    const struct tokenizer *t = m->tok;
    ck_assert_int_eq(m->cfg.n_vocab, big->n_vocab);
    ck_assert_int_eq(tokenizer_n_vocab(t), big->n_vocab);
    ck_assert_str_eq(tokenizer_model_name(t), model);
    if (pre) ck_assert_str_eq(tokenizer_pre_name(t), pre);
    ck_assert_int_eq(tokenizer_find(t, special, strlen(special)), special_id);
    ck_assert_int_eq(tokenizer_token_type(t, special_id), TOK_CONTROL);
    ck_assert_int_eq(tokenizer_bos(t), bos);
    ck_assert(tokenizer_add_bos(t) == add_bos);
    /* words of the generated vocabulary are single tokens, made of merges of shorter ones */
    const char *w = model[0] == 'g' ? "\xc4\xa0the" : "\xe2\x96\x81the";
    int32_t id = tokenizer_find(t, w, strlen(w));
    ck_assert_int_gt(id, 255);
    ck_assert_int_eq(tokenizer_token_type(t, id), TOK_NORMAL);
    model_free(m);
    remove(path);
}

START_TEST(test_synth_vocabularies)
{
    enum synth_ftype f;
    check_vocab(named("llama-3.2-1b", &f), "gpt2", "llama-bpe", "<|eot_id|>", 128009, 128000, true);
    check_vocab(named("qwen2.5-0.5b", &f), "gpt2", "qwen2", "<|im_start|>", 151644, 151643, false);
    check_vocab(named("llama-2-7b", &f), "llama", NULL, "</s>", 2, 1, true);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_synth_file_errors)
{
    enum synth_ftype f;
    const struct synth_shape *s = named("test-tiny-q4_0", &f);
    char err[512];
    ck_assert_int_ne(synth_gguf_write(s, f, 0, "/nonexistent-dir/x.gguf", NULL, err, sizeof err),
                     0);
    ck_assert_msg(strstr(err, "/nonexistent-dir/x.gguf") && strstr(err, "No such file"), "%s", err);
    /* a directory */
    ck_assert_int_ne(synth_gguf_write(s, f, 0, "/tmp", NULL, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "/tmp"), "%s", err);
    /* a full disk */
    if (access("/dev/full", W_OK) == 0) {
        ck_assert_int_ne(synth_gguf_write(s, f, 0, "/dev/full", NULL, err, sizeof err), 0);
        ck_assert_msg(strstr(err, "/dev/full") && strstr(err, "No space"), "%s", err);
    }
    /* a file-size limit stops the write half way: an error, and no partial file left */
    char path[128];
    tmp_path(path, sizeof path, "fsize");
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 200000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = synth_gguf_write(s, f, 0, path, NULL, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(err, path) && strstr(err, "removed"), "%s", err);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

/* ---- the command ---- */

static int run_cmd(const char *args, char **out)
{
    const char *bin = getenv("JOULE_BIN");
    if (!bin) bin = "./joule";
    char cmd[1024], file[128];
    snprintf(file, sizeof file, "/tmp/joule-synth-%d.out", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", bin, args, file);
    int st = system(cmd);
    *out = test_read_file(file, NULL);
    remove(file);
    ck_assert_ptr_nonnull(*out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

START_TEST(test_synth_command)
{
    const char *bin = getenv("JOULE_BIN");
    if (!bin && access("./joule", X_OK) != 0) {
        fprintf(stderr, "SKIP %s: no joule binary (JOULE_BIN)\n", __func__);
        return;
    }
    char *out;
    ck_assert_int_eq(run_cmd("synth --help", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: joule synth NAME -o FILE.gguf"));
    free(out);
    ck_assert_int_eq(run_cmd("synth list", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "tinyllama-1.1b-q4_k_m"));
    ck_assert_ptr_nonnull(strstr(out, "qwen2.5-0.5b-q8_0"));
    free(out);
    static const char *bad[] = {"synth",
                                "synth test-tiny",
                                "synth nope-q4_0 -o /tmp/x.gguf",
                                "synth test-tiny -o",
                                "synth test-tiny --seed x -o /tmp/x.gguf",
                                "synth test-tiny --frob -o /tmp/x.gguf",
                                "synth a b -o /tmp/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(run_cmd(bad[i], &out) == 2, "'%s' did not exit 2: %s", bad[i], out);
        ck_assert_msg(strstr(out, "joule synth: "), "'%s': %s", bad[i], out);
        free(out);
    }
    ck_assert_int_eq(run_cmd("synth test-tiny -o /nonexistent-dir/x.gguf", &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "cannot create /nonexistent-dir/x.gguf"));
    free(out);
    /* the written file goes through joule info and joule logits */
    char path[128], args[512];
    tmp_path(path, sizeof path, "cmd");
    snprintf(args, sizeof args, "synth test-tiny-q4_k_m -o %s", path);
    ck_assert_int_eq(run_cmd(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "info -m %s", path);
    ck_assert_int_eq(run_cmd(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "test-tiny-q4_k_m"));
    ck_assert_ptr_nonnull(strstr(out, "Q6_K"));
    free(out);
    snprintf(args, sizeof args, "logits -m %s --device cpu --tokens '1 2 3' -o %s.f32", path, path);
    ck_assert_int_eq(run_cmd(args, &out), 0);
    free(out);
    char f32[160];
    snprintf(f32, sizeof f32, "%s.f32", path);
    struct stat st;
    ck_assert_int_eq(stat(f32, &st), 0);
    ck_assert_int_eq(st.st_size, 3 * 1024 * 4);
    remove(f32);
    remove(path);
}
END_TEST

Suite *synth_suite(void)
{
    Suite *s = suite_create("synth");
    TCase *tc = tcase_create("gguf");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_synth_file_round_trip);
    tcase_add_test(tc, test_synth_file_seed);
    tcase_add_test(tc, test_synth_vocabularies);
    tcase_add_test(tc, test_synth_file_errors);
    tcase_add_test(tc, test_synth_command);
    suite_add_tcase(s, tc);
    return s;
}
