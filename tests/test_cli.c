/* End-to-end runs of the joule binary (JOULE_BIN, set by build.sh). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

/* this file's names for the shared runner of testutil.h */
#define result test_proc
#define result_free test_proc_free
#define run test_run

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(test_help_everywhere)
{
    static const char *cmds[] = {"", "run", "logits", "tokenize", "info", "devices"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        struct result r = run("%s --help", cmds[i]);
        ck_assert_msg(r.code == 0, "'%s --help' exited %d", cmds[i], r.code);
        ck_assert_msg(strstr(r.out, "usage") != NULL, "'%s --help': %s", cmds[i], r.out);
        result_free(&r);
    }
}
END_TEST

START_TEST(test_bad_arguments)
{
    static const char *bad[] = {
        "frobnicate",
        "run --frob",
        "run -m x.gguf -p hi -n many",
        "run -m x.gguf -p hi --temp -1",
        "run -m x.gguf -p hi --top-p 2",
        "run -m x.gguf",
        "run -m x.gguf -p hi --device tpu",
        "run -m x.gguf -p hi -n",
        "logits -m x.gguf --tokens '1 2 x' -o /tmp/x.f32",
        "logits -m x.gguf --tokens '1 2'",
        "tokenize -m x.gguf",
        "tokenize -m x.gguf --text a --file b",
        "info --bogus",
        "devices --bogus",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct result r = run("%s", bad[i]);
        ck_assert_msg(r.code == 2, "'%s' exited %d", bad[i], r.code);
        ck_assert_msg(count_lines(r.err) == 1, "'%s' stderr: %s", bad[i], r.err);
        result_free(&r);
    }
}
END_TEST

START_TEST(test_missing_file)
{
    static const char *cmds[] = {"info -m /nonexistent/m.gguf", "run -m /nonexistent/m.gguf -p hi",
                                 "tokenize -m /nonexistent/m.gguf --text hi",
                                 "logits -m /nonexistent/m.gguf --tokens 1 -o /tmp/x.f32"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        struct result r = run("%s", cmds[i]);
        ck_assert_msg(r.code == 1, "'%s' exited %d", cmds[i], r.code);
        ck_assert_msg(strstr(r.err, "/nonexistent/m.gguf") != NULL, "%s", r.err);
        result_free(&r);
    }
}
END_TEST

START_TEST(test_info)
{
    NEED_SHARED(sh);
    struct result r = run("info -m %s/models/tiny-llama-Q8_0.gguf", sh);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "architecture  llama") && strstr(r.out, "Q8_0") &&
                      strstr(r.out, "layers        2") && strstr(r.out, "1024 tokens"),
                  "%s", r.out);
    result_free(&r);
}
END_TEST

START_TEST(test_tokenize_matches_reference)
{
    NEED_SHARED(sh);
    char p[512];
    snprintf(p, sizeof p, "%s/models/tiny-llama-F32.ref/tokens-0.txt", sh);
    char *want = test_read_file(p, NULL);
    ck_assert_ptr_nonnull(want);
    struct result r = run("tokenize -m %s/models/tiny-llama-F32.gguf --text "
                          "'Once upon a time, there was a little robot who'",
                          sh);
    ck_assert_int_eq(r.code, 0);
    size_t wl = strcspn(want, "\n");
    ck_assert_msg(strncmp(r.out, want, wl) == 0 && r.out[wl] == '\n', "got %s want %s", r.out,
                  want);
    result_free(&r);
    free(want);
}
END_TEST

START_TEST(test_logits_file)
{
    NEED_SHARED(sh);
    char p[512];
    snprintf(p, sizeof p, "%s/models/tiny-llama-F32.ref/tokens-0.txt", sh);
    char *toks = test_read_file(p, NULL);
    ck_assert_ptr_nonnull(toks);
    toks[strcspn(toks, "\n")] = 0;
    struct result r = run("logits -m %s/models/tiny-llama-F32.gguf --device cpu --tokens '%s' "
                          "-o /tmp/joule-cli-logits.f32",
                          sh, toks);
    ck_assert_msg(r.code == 0, "%s", r.err);
    size_t got_len = 0, ref_len = 0;
    float *got = (float *)test_read_file("/tmp/joule-cli-logits.f32", &got_len);
    snprintf(p, sizeof p, "%s/models/tiny-llama-F32.ref/logits-0.f32", sh);
    float *ref = (float *)test_read_file(p, &ref_len);
    ck_assert(got && ref);
    ck_assert_uint_eq(got_len, ref_len);
    for (size_t i = 0; i < ref_len / 4; i++)
        ck_assert_float_eq_tol(got[i], ref[i], 0.01);
    remove("/tmp/joule-cli-logits.f32");
    free(got);
    free(ref);
    free(toks);
    result_free(&r);
    /* an id outside the vocabulary is an error, not a crash */
    r = run("logits -m %s/models/tiny-llama-F32.gguf --device cpu --tokens '1 5000' -o "
            "/tmp/joule-cli-bad.f32",
            sh);
    ck_assert_int_eq(r.code, 1);
    ck_assert_msg(strstr(r.err, "5000") != NULL, "%s", r.err);
    result_free(&r);
}
END_TEST

START_TEST(test_run_repeatable)
{
    NEED_SHARED(sh);
    struct result a = run("run -m %s/models/tiny-llama-Q4_0.gguf -p 'Once upon a time' -n 16 "
                          "--seed 7 --temp 0.9 --device cpu",
                          sh);
    struct result b = run("run -m %s/models/tiny-llama-Q4_0.gguf -p 'Once upon a time' -n 16 "
                          "--seed 7 --temp 0.9 --device cpu",
                          sh);
    ck_assert_msg(a.code == 0, "%s", a.err);
    ck_assert_str_eq(a.out, b.out);
    ck_assert_msg(strstr(a.err, "tok/s") != NULL, "%s", a.err);
    ck_assert(strlen(a.out) > 1);
    result_free(&a);
    result_free(&b);
}
END_TEST

/* The warm-up before the prompt leaves the output unchanged (its cache rows are rewritten),
 * on the CPU and, where there is one, on a Vulkan device; a 2-token prompt leaves a
 * warm-up row past the prompt that generation must overwrite before attending to it. */
START_TEST(test_run_warmup_same_output)
{
    NEED_SHARED(sh);
    const char *devs[] = {"cpu", "vulkan:0"};
    struct result d = run("devices");
    int n_dev = d.code == 0 && strstr(d.out, "vulkan:0") ? 2 : 1;
    result_free(&d);
    for (int k = 0; k < n_dev; k++) {
        const char *prompts[] = {"Once upon a time there was", "the"}; /* "the": 2 tokens */
        for (int p = 0; p < 2; p++) {
            struct result a = run("run -m %s/models/tiny-llama-Q8_0.gguf -p '%s' -n 12 --temp 0 "
                                  "--ignore-eos --device %s",
                                  sh, prompts[p], devs[k]);
            struct result b = run("run -m %s/models/tiny-llama-Q8_0.gguf -p '%s' -n 12 --temp 0 "
                                  "--ignore-eos --device %s --no-warmup",
                                  sh, prompts[p], devs[k]);
            ck_assert_msg(a.code == 0 && b.code == 0, "%s %s", a.err, b.err);
            ck_assert_str_eq(a.out, b.out);
            result_free(&a);
            result_free(&b);
        }
    }
}
END_TEST

START_TEST(test_no_vulkan_fallback)
{
    NEED_SHARED(sh);
    struct result r = run("devices");
    ck_assert_int_eq(r.code, 0);
    result_free(&r);
    /* a machine without a Vulkan loader: auto falls back to the CPU with a notice */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "run -m %s/models/tiny-llama-Q4_0.gguf -p 'Hello' -n 4 --temp 0", sh);
    setenv("JOULE_VK_LOADER", "/nonexistent/libvulkan.so.1", 1);
    r = run("%s", cmd);
    struct result d = run("devices");
    unsetenv("JOULE_VK_LOADER");
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_msg(strstr(r.err, "running on the CPU") != NULL, "%s", r.err);
    ck_assert_int_eq(d.code, 0);
    ck_assert_msg(strstr(d.out, "vulkan: none") != NULL, "%s", d.out);
    result_free(&r);
    result_free(&d);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_help_everywhere);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_info);
    tcase_add_test(tc, test_tokenize_matches_reference);
    tcase_add_test(tc, test_logits_file);
    tcase_add_test(tc, test_run_repeatable);
    tcase_add_test(tc, test_run_warmup_same_output);
    tcase_add_test(tc, test_no_vulkan_fallback);
    suite_add_tcase(s, tc);
    return s;
}
