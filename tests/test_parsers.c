/* Regression tests for findings of the fuzzers in fuzz/ (each built from its reproducer in
 * fuzz/corpus/NAME/regress-*), and the bounds on hostile sizes in the GGUF reader. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval_json.h"
#include "eval_suite.h"
#include "gguf.h"
#include "gguf_writer.h"
#include "http.h"
#include "testutil.h"
#include "tokenizer.h"

static char *tmp_path(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/joule-parsers-%d.gguf", (int)getpid());
    return path;
}

/* opens w's file; returns 0 or non-zero with the message in err */
static int open_written(struct gguf_writer *w, char *err, size_t errlen)
{
    char *path = tmp_path();
    ck_assert_int_eq(gw_write(w, path), 0);
    gw_free(w);
    struct gguf_file *f = NULL;
    int rc = gguf_open(path, &f, err, errlen);
    gguf_close(f);
    unlink(path);
    return rc;
}

/* fuzz/corpus/suite/regress-parse-leak: a template key given twice leaked the first value, and
 * an error after a template line leaked what was parsed. Now a repeated key is an error, and a
 * failed parse leaves nothing to free. */
START_TEST(test_suite_parse_repeated_key)
{
    struct suite_def d;
    char err[512] = "";
    ck_assert(suite_parse("name x\ndata d\ntext A {q}\ntext B {q}\nchoices {c}\ngold 0\n",
                          "t.suite", &d, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "t.suite:4: repeated key 'text'") != NULL, "%s", err);
    ck_assert_ptr_null(d.text);
    ck_assert(suite_parse("name x\ntext {q}\npreamble p\nbogus 1\n", "t.suite", &d, err,
                          sizeof err) != 0);
    ck_assert_msg(strstr(err, "unknown key 'bogus'") != NULL, "%s", err);
    ck_assert_ptr_null(d.text);
    ck_assert_ptr_null(d.preamble);
    /* every built-in suite still parses (file and group lines repeat on purpose) */
    for (int i = 0; i < suite_builtin_count(); i++) {
        ck_assert_msg(suite_load(suite_builtin_name(i), &d, err, sizeof err) == 0, "%s", err);
        suite_free(&d);
    }
}
END_TEST

/* fuzz/corpus/suite/regress-choices-without-gold: a perplexity suite given choices but no
 * gold line passed the parse and then crashed building a document (NULL gold). */
START_TEST(test_suite_choices_need_gold)
{
    struct suite_def d;
    char err[512] = "";
    ck_assert(suite_parse("name x\ndata d\nformat text\ntype perplexity\nchoices {a}\n", "p.suite",
                          &d, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "missing 'gold'") != NULL, "%s", err);
    ck_assert(suite_parse("name x\ndata d\nformat text\ntype perplexity\n", "p.suite", &d, err,
                          sizeof err) == 0);
    suite_free(&d);
}
END_TEST

/* A 2 MiB array of u8 would take 64 MiB parsed: refused, with a named error. Smaller ones
 * (and the shared vocabularies, in test_tokenizer / test_bpe) load. */
START_TEST(test_gguf_array_memory_bound)
{
    size_t n = (size_t)2 << 20;
    uint8_t *a = calloc(n, 1);
    ck_assert_ptr_nonnull(a);
    struct gguf_writer *w = gw_new();
    gw_add_arr(w, "big.u8", GGUF_U8, a, n);
    char err[512] = "";
    ck_assert(open_written(w, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "big.u8") && strstr(err, "at most 8 times"), "%s", err);
    w = gw_new();
    gw_add_arr(w, "small.u8", GGUF_U8, a, 32768); /* 1 MiB parsed: within the allowance */
    ck_assert_msg(open_written(w, err, sizeof err) == 0, "%s", err);
    free(a);
}
END_TEST

/* A vocabulary of millions of empty tokens (8 bytes each in the file) is refused by name
 * before the tokenizer builds its tables (it took 1.7 GB for 16 M). */
START_TEST(test_vocab_size_bound)
{
    size_t n = ((size_t)1 << 22) + 1;
    const char **toks = malloc(n * sizeof *toks);
    ck_assert_ptr_nonnull(toks);
    for (size_t i = 0; i < n; i++)
        toks[i] = "";
    struct gguf_writer *w = gw_new();
    gw_add_str(w, "tokenizer.ggml.model", "llama");
    gw_add_str_arr(w, "tokenizer.ggml.tokens", toks, n);
    free(toks);
    char *path = tmp_path();
    ck_assert_int_eq(gw_write(w, path), 0);
    gw_free(w);
    struct gguf_file *f = NULL;
    char err[512] = "";
    ck_assert_msg(gguf_open(path, &f, err, sizeof err) == 0, "%s", err);
    struct tokenizer *t = NULL;
    ck_assert(tokenizer_load(f, &t, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "4194305 entries (expected 1..4194304)") != NULL, "%s", err);
    gguf_close(f);
    unlink(path);
}
END_TEST

/* Two tensors whose data share bytes are refused. */
START_TEST(test_gguf_overlapping_tensors)
{
    float data[64] = {0};
    uint64_t ne[1] = {64};
    struct gguf_writer *w = gw_new();
    gw_add_tensor(w, "a", 1, ne, 0, data, sizeof data);
    size_t b = gw_add_tensor(w, "b", 1, ne, 0, data, sizeof data);
    gw_add_tensor(w, "c", 1, ne, 0, data, sizeof data);
    gw_set_tensor_offset(w, b, 128); /* halfway into a */
    char err[512] = "";
    ck_assert(open_written(w, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "overlap") && strstr(err, "'a'") && strstr(err, "'b'"), "%s", err);
    /* back to back is fine */
    w = gw_new();
    gw_add_tensor(w, "a", 1, ne, 0, data, sizeof data);
    gw_add_tensor(w, "b", 1, ne, 0, data, sizeof data);
    ck_assert_msg(open_written(w, err, sizeof err) == 0, "%s", err);
}
END_TEST

/* fuzz/corpus/suite/regress-doc-leak-bad-gold: an item whose gold index is past its choices
 * failed after the choices were built, and they leaked (eval stops at such an item). */
START_TEST(test_suite_doc_failure_frees)
{
    const char *suite = "name fuzz\ndata test.jsonl\nformat jsonl\ntype multiple_choice\n"
                        "text Q: {question}\nchoices {choices}\ngold {label}\nmetrics acc\n";
    struct suite_def d;
    char err[512];
    ck_assert_msg(suite_parse(suite, "fuzz", &d, err, sizeof err) == 0, "%s", err);
    char dir[] = "/tmp/joule-parsers-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/test.jsonl", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"question\":\"q\",\"choices\":[\"a\",\"b\"],\"label\":\"9\"}\n", f);
    fclose(f);
    struct suite_data sd;
    memset(&sd, 0, sizeof sd);
    ck_assert_msg(suite_load_data(&d, dir, &sd, err, sizeof err) == 0, "%s", err);
    struct eval_doc doc;
    ck_assert(suite_doc(&d, &sd, dir, 0, &doc, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "item 0") != NULL, "%s", err);
    /* nothing left to free (under ASan a leak would also fail the run) */
    ck_assert_ptr_null(doc.choices);
    ck_assert_int_eq(doc.n_choices, 0);
    ck_assert_ptr_null(doc.text);
    suite_data_free(&sd);
    suite_free(&d);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Every harness in fuzz/ has seeds; the seeds of fuzz_http (byte 0 picks the vocabulary and
 * template, then a request) are requests serve accepts up to the body, so fuzzing starts from
 * the JSON of the completions endpoints rather than from the head parser's refusals. */
START_TEST(test_fuzz_seeds)
{
    DIR *d = opendir("fuzz");
    if (!d) {
        fprintf(stderr, "SKIP %s: fuzz/ not found (tests run from the repository root)\n",
                __func__);
        return;
    }
    int harnesses = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "fuzz_", 5) || n < 8 || strcmp(e->d_name + n - 2, ".c") ||
            !strcmp(e->d_name, "fuzz_util.c"))
            continue;
        char dir[300];
        snprintf(dir, sizeof dir, "fuzz/corpus/%.*s", (int)(n - 7), e->d_name + 5);
        DIR *c = opendir(dir);
        ck_assert_msg(c != NULL, "%s has no seeds in %s", e->d_name, dir);
        int seeds = 0;
        for (struct dirent *f; (f = readdir(c));)
            seeds += f->d_name[0] != '.';
        closedir(c);
        ck_assert_msg(seeds > 0, "%s is empty", dir);
        harnesses++;
    }
    closedir(d);
    ck_assert_int_ge(harnesses, 8);
    int requests = 0;
    for (int i = 0; i < 10; i++) {
        char path[64];
        snprintf(path, sizeof path, "fuzz/corpus/http/h%d", i);
        size_t len;
        char *buf = test_read_file(path, &len);
        if (!buf) continue;
        ck_assert_uint_gt(len, 1);
        struct http_req r;
        int status = 0;
        char why[256];
        ck_assert_msg(http_parse_head(buf + 1, len - 1, &r, &status, why, sizeof why) == 1,
                      "%s: %d %s", path, status, why);
        ck_assert_msg(!strncmp(r.path, "/v1/", 4) &&
                          r.content_length == (int64_t)(len - 1 - r.head_len),
                      "%s: %s, body %lld", path, r.path, (long long)r.content_length);
        struct jval v;
        ck_assert_msg(json_parse(buf + 1 + r.head_len, len - 1 - r.head_len, &v, why, sizeof why) ==
                          0,
                      "%s: %s", path, why);
        ck_assert_int_eq(v.type, J_OBJ);
        json_free(&v);
        free(buf);
        requests++;
    }
    ck_assert_int_ge(requests, 5);
}
END_TEST

Suite *parsers_suite(void)
{
    Suite *s = suite_create("parsers");
    test_add_tcase(
        s, "core", 60, NULL, NULL,
        (const TTest *const[]){test_suite_doc_failure_frees, test_suite_parse_repeated_key,
                               test_suite_choices_need_gold, test_gguf_array_memory_bound,
                               test_gguf_overlapping_tensors, test_vocab_size_bound,
                               test_fuzz_seeds, NULL});
    return s;
}
