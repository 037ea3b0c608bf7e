/* End-to-end runs of the joule binary (JOULE_BIN, set by build.sh). */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "eval_suite.h"
#include "gguf_writer.h"
#include "quant.h"
#include "testutil.h"

/* this file's names for the shared runner of testutil.h */
#define result test_proc
#define result_free test_proc_free
#define run test_run

/* the same with stdout on a full disk */
static struct result run_full(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct result r = test_vrun(NULL, "/dev/full", fmt, ap);
    va_end(ap);
    return r;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(test_help_everywhere)
{
    static const char *cmds[] = {"",        "run",  "logits", "tokenize", "info",
                                 "devices", "chat", "eval",   "bench",    "serve"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        struct result r = run("%s --help", cmds[i]);
        ck_assert_msg(r.code == 0, "'%s --help' exited %d", cmds[i], r.code);
        ck_assert_msg(strstr(r.out, "usage") != NULL, "'%s --help': %s", cmds[i], r.out);
        result_free(&r);
    }
}
END_TEST

/* A usage error is one line on stderr. */
static void one_line(const char *cmd, const struct test_proc *r)
{
    ck_assert_msg(count_lines(r->err) == 1, "'%s' stderr: %s", cmd, r->err);
}

START_TEST(test_bad_arguments)
{
    static const char *const bad[] = {
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
        "logits -m x.gguf --tokens '1 2' -o /tmp/x.f32 --batch 0",
        "logits -m x.gguf --tokens '1 2' -o /tmp/x.f32 -b",
        "tokenize -m x.gguf",
        "tokenize -m x.gguf --text a --file b",
        "info --bogus",
        "devices --bogus",
        NULL,
    };
    test_expect_each(2, bad, one_line);
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
    char *want = test_ref_file(sh, "tiny-llama-F32", "tokens-0.txt", NULL);
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
    char *toks = test_ref_file(sh, "tiny-llama-F32", "tokens-0.txt", NULL);
    toks[strcspn(toks, "\n")] = 0;
    struct result r = run("logits -m %s/models/tiny-llama-F32.gguf --device cpu --tokens '%s' "
                          "-o /tmp/joule-cli-logits.f32",
                          sh, toks);
    ck_assert_msg(r.code == 0, "%s", r.err);
    size_t got_len = 0, ref_len = 0;
    float *got = (float *)test_read_file("/tmp/joule-cli-logits.f32", &got_len);
    float *ref = (float *)test_ref_file(sh, "tiny-llama-F32", "logits-0.f32", &ref_len);
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
    char spec[32];
    const char *devs[] = {"cpu", spec};
    int n_dev = test_vk_device(spec, sizeof spec, __func__) ? 2 : 1;
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

/* The parsers of the command-line layer: whole values only, ranges inclusive. */
START_TEST(test_cli_parsers)
{
    long v;
    double d;
    ck_assert(cli_parse_long("42", 0, 100, &v) && v == 42);
    ck_assert(cli_parse_long("-1", -1, 100, &v) && v == -1);
    ck_assert(cli_parse_long("100", 0, 100, &v) && cli_parse_long("0", 0, 100, &v));
    static const char *bad_ints[] = {"2.5", "3x", "",    " 3",
                                     "101", "-1", "1e3", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_ints / sizeof bad_ints[0]; i++)
        ck_assert_msg(!cli_parse_long(bad_ints[i], 0, 100, &v), "'%s' accepted", bad_ints[i]);
    ck_assert(cli_parse_double("0.5", 0, 1, &d) && d == 0.5);
    ck_assert(cli_parse_double("1e-1", 0, 1, &d) && d == 0.1);
    static const char *bad_nums[] = {"nan", "inf", "1.5", "-0.1", "0.5x", "", "1e999"};
    for (size_t i = 0; i < sizeof bad_nums / sizeof bad_nums[0]; i++)
        ck_assert_msg(!cli_parse_double(bad_nums[i], 0, 1, &d), "'%s' accepted", bad_nums[i]);
    int32_t l[4];
    int n;
    ck_assert(cli_parse_list("1,2,3", 0, 10, l, 4, &n) && n == 3 && l[2] == 3);
    static const char *bad_lists[] = {"1,,2", "1,", ",1", "1,2,3,4,5", "1,11", "a"};
    for (size_t i = 0; i < sizeof bad_lists / sizeof bad_lists[0]; i++)
        ck_assert_msg(!cli_parse_list(bad_lists[i], 0, 10, l, 4, &n), "'%s' accepted",
                      bad_lists[i]);
}
END_TEST

/* stderr without the "joule CMD" prefix and the "(see 'joule CMD --help')" tail */
static const char *message_body(const char *err, char *buf, size_t cap)
{
    const char *p = strchr(err, ':');
    snprintf(buf, cap, "%s", p ? p + 1 : err);
    char *see = strstr(buf, " (see '");
    if (see) *see = 0;
    return buf;
}

/* A flag shared by commands means the same in each: the same value is refused by every
 * command with the same message (exit 2, one line), before any model is opened. */
START_TEST(test_same_flag_everywhere)
{
    static const char *cmds[] = {"run -p hi", "chat",   "eval --suite arc-easy",
                                 "bench",     "logits", "tokenize --text hi",
                                 "info"};
    static const struct {
        const char *flag;
        unsigned in; /* bit i: cmds[i] takes the flag */
        const char *want;
    } flags[] = {
        {"-t 2.5", 0x1f, "bad value '2.5' for -t (an integer from 1 to 1024)"},
        {"--threads 0", 0x1f, "bad value '0' for --threads (an integer from 1 to 1024)"},
        {"--device tpu", 0x1f, "bad value 'tpu' for --device (auto, cpu, vulkan or vulkan:N)"},
        {"--device vulkan:x", 0x1f, "bad value 'vulkan:x' for --device"},
        {"--top-k -1", 0x03, "bad value '-1' for --top-k (an integer from 0 to 2147483647)"},
        {"--top-k 2.5", 0x03, "bad value '2.5' for --top-k (an integer from 0 to 2147483647)"},
        {"--temp -1", 0x03, "bad value '-1' for --temp (a number from 0 to 100)"},
        {"--top-p 2", 0x03, "bad value '2' for --top-p (a number from 0 to 1)"},
        {"-c 2.5", 0x13, "bad value '2.5' for -c (an integer from 1 to 1048576)"},
        {"--seed x", 0x0f, "bad value 'x' for --seed (an integer from 0 to 2^64-1, or -1"},
        {"-s -2", 0x0f, "bad value '-2' for -s (an integer from 0 to 2^64-1, or -1"},
        {"--tdp 0", 0x0d, "bad value '0' for --tdp (a number from 0.1 to 100000)"},
        {"--batch 0", 0x10, "bad value '0' for --batch (an integer from 1 to 1048576)"},
        {"-b 2.5", 0x10, "bad value '2.5' for -b (an integer from 1 to 1048576)"},
        {"--batch -3", 0x10, "bad value '-3' for --batch (an integer from 1 to 1048576)"},
        {"--pue 0", 0x0c, "pue"},
    };
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
            struct result r = run("%s -m /nonexistent/m.gguf %s", cmds[c], flags[f].flag);
            char body[512];
            message_body(r.err, body, sizeof body);
            ck_assert_msg(r.code == 2, "'%s %s' exited %d: %s", cmds[c], flags[f].flag, r.code,
                          r.err);
            ck_assert_msg(count_lines(r.err) == 1, "'%s %s': %s", cmds[c], flags[f].flag, r.err);
            if (flags[f].in >> c & 1)
                ck_assert_msg(strstr(body, flags[f].want) != NULL, "'%s %s': %s", cmds[c],
                              flags[f].flag, r.err);
            else /* a command without the flag says so */
                ck_assert_msg(strstr(body, "unknown option") != NULL, "'%s %s': %s", cmds[c],
                              flags[f].flag, r.err);
            result_free(&r);
        }
}
END_TEST

/* A flag's value missing, a positional word, an unknown option: status 2 in every command,
 * each said as what it is. */
START_TEST(test_usage_errors_everywhere)
{
    static const char *cmds[] = {"run",    "chat",     "eval", "bench",
                                 "logits", "tokenize", "info", "serve"};
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        struct result r = run("%s -m", cmds[c]);
        ck_assert_msg(r.code == 2 && strstr(r.err, "option '-m' needs a value"), "%s: %d %s",
                      cmds[c], r.code, r.err);
        result_free(&r);
        r = run("%s stray", cmds[c]);
        ck_assert_msg(r.code == 2 && strstr(r.err, "unexpected argument 'stray'"), "%s: %d %s",
                      cmds[c], r.code, r.err);
        result_free(&r);
        r = run("%s --frobnicate", cmds[c]);
        ck_assert_msg(r.code == 2 && strstr(r.err, "unknown option '--frobnicate'"), "%s: %d %s",
                      cmds[c], r.code, r.err);
        ck_assert_msg(count_lines(r.err) == 1, "%s: %s", cmds[c], r.err);
        result_free(&r);
    }
    /* the other commands, those whose positional words mean something included */
    static const struct {
        const char *args, *want;
    } more[] = {
        {"sweep stray", "unexpected argument 'stray'"},
        {"devices stray", "unexpected argument 'stray'"},
        {"synth test-tiny-q8_0 stray -o /tmp/joule-cli-never.gguf", "one model name only"},
        {"report /tmp/joule-cli-none.json --frobnicate", "unknown option '--frobnicate'"},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        struct result r = run("%s", more[i].args);
        ck_assert_msg(r.code == 2 && strstr(r.err, more[i].want) && count_lines(r.err) == 1,
                      "%s: %d %s", more[i].args, r.code, r.err);
        result_free(&r);
    }
}
END_TEST

/* Valid shared flags are accepted alike: run and chat with the same sampling flags and
 * seed produce the same first reply from the same tokens (chat's template on both). */
START_TEST(test_run_chat_same_generation)
{
    NEED_SHARED(sh);
    const char *flags = "--device cpu -t 1 -c 256 --temp 0.7 --top-k 20 --top-p 0.9 --min-p 0.01 "
                        "-s 11 -n 12 --chat-template chatml";
    struct result r =
        run("run -m %s/models/tiny-qwen2-F16.gguf %s -p Hello --no-warmup", sh, flags);
    char pf[] = "/tmp/joule-cli-chat-XXXXXX";
    int fd = mkstemp(pf);
    ck_assert(fd >= 0);
    ck_assert(write(fd, "Hello\n", 6) == 6);
    close(fd);
    struct result c = run("chat -m %s/models/tiny-qwen2-F16.gguf %s -f %s", sh, flags, pf);
    unlink(pf);
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_msg(c.code == 0, "%s", c.err);
    ck_assert_msg(strlen(r.out) > 1, "%s", r.out);
    ck_assert_str_eq(c.out, r.out);
    result_free(&c);
    result_free(&r);
}
END_TEST

/* --seed -1 draws a seed and prints it; giving that seed repeats the run. */
START_TEST(test_random_seed_printed)
{
    NEED_SHARED(sh);
    struct result a = run("run -m %s/models/tiny-llama-Q4_0.gguf -p 'Once upon' -n 8 --temp 1 "
                          "--device cpu --seed -1",
                          sh);
    ck_assert_msg(a.code == 0, "%s", a.err);
    const char *s = strstr(a.err, "seed ");
    ck_assert_msg(s && strstr(s, "(random)"), "%s", a.err);
    unsigned long long seed = strtoull(s + 5, NULL, 10);
    struct result b = run("run -m %s/models/tiny-llama-Q4_0.gguf -p 'Once upon' -n 8 --temp 1 "
                          "--device cpu --seed %llu",
                          sh, seed);
    ck_assert_msg(b.code == 0, "%s", b.err);
    ck_assert_str_eq(a.out, b.out);
    result_free(&a);
    result_free(&b);
}
END_TEST

/* Output to a full disk is an error (exit 1, the file named), never a silent exit 0. */
START_TEST(test_full_disk)
{
    const char *sh = test_shared_dir();
    char m[512];
    snprintf(m, sizeof m, "%s/models/tiny-llama-Q8_0.gguf", sh ? sh : ".");
    struct {
        const char *args;
        bool needs_model;
    } cmds[] = {
        {"--help", false},
        {"--version", false},
        {"run --help", false},
        {"devices", false},
        {"bench --synthetic list", false},
        {"eval --list", false},
        {"info -m %s", true},
        {"tokenize -m %s --text hello", true},
        {"run -m %s -p hello -n 4 --device cpu", true},
        {"bench -m %s -p 8 -n 4 -r 1 --device cpu --idle 0", true},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (cmds[i].needs_model && !sh) continue;
        struct result r = run_full(cmds[i].args, m);
        ck_assert_msg(r.code == 1, "'%s' > /dev/full exited %d: %s", cmds[i].args, r.code, r.err);
        ck_assert_msg(strstr(r.err, "stdout: No space left on device"), "'%s': %s", cmds[i].args,
                      r.err);
        result_free(&r);
    }
    /* eval --merge of a valid result file, to a full disk */
    struct suite_def arc;
    char err[256];
    ck_assert(suite_load("arc-easy", &arc, err, sizeof err) == 0);
    const char *rp = "/tmp/joule-cli-result.json";
    FILE *f = fopen(rp, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\"joule_eval\":1,\"suites\":[{\"suite\":\"arc-easy\",\"suite_sha256\":\"%s\","
            "\"style\":\"lm-eval\",\"shots\":0,\"items\":1,\"columns\":[\"acc\",\"acc_norm\"],"
            "\"rows\":[[0,-1,1,1]]}]}",
            arc.sha256);
    fclose(f);
    suite_free(&arc);
    struct result r = run("eval --merge %s", rp);
    ck_assert_msg(r.code == 0, "%s", r.err);
    result_free(&r);
    r = run_full("eval --merge %s -o json", rp);
    ck_assert_msg(r.code == 1 && strstr(r.err, "stdout: No space left on device"), "%d %s", r.code,
                  r.err);
    result_free(&r);
    remove(rp);
    if (!sh) return;
    /* --log-items to a full disk */
    r = run("eval -m %s --suite arc-easy --limit 2 --data %s/suites-data --device cpu --no-hash "
            "--log-items /dev/full",
            m, sh);
    ck_assert_msg(r.code == 1 && strstr(r.err, "/dev/full: "), "%d %s", r.code, r.err);
    result_free(&r);
    r = run("logits -m %s --tokens 1 -o /dev/full --device cpu", m);
    ck_assert_msg(r.code == 1 && strstr(r.err, "/dev/full: No space left on device"), "%d %s",
                  r.code, r.err);
    result_free(&r);
}
END_TEST

/* logits -o writes a temporary file and renames it: a failed run leaves no partial file, and
 * an existing file is replaced whole. */
START_TEST(test_logits_file_atomic)
{
    NEED_SHARED(sh);
    const char *path = "/tmp/joule-cli-atomic.f32";
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("old", f);
    fclose(f);
    struct result r = run("logits -m %s/models/tiny-llama-Q8_0.gguf --device cpu --tokens '1 2' "
                          "-o %s",
                          sh, path);
    ck_assert_msg(r.code == 0, "%s", r.err);
    size_t len = 0;
    char *got = test_read_file(path, &len);
    ck_assert_uint_eq(len, 2 * 1024 * sizeof(float));
    free(got);
    result_free(&r);
    /* an unwritable folder: an error naming the file, nothing left behind */
    r = run("logits -m %s/models/tiny-llama-Q8_0.gguf --device cpu --tokens 1 -o "
            "/nonexistent/dir/x.f32",
            sh);
    ck_assert_msg(r.code == 1 && strstr(r.err, "/nonexistent/dir/x.f32"), "%s", r.err);
    result_free(&r);
    remove(path);
}
END_TEST

/* run: -c is enforced (never silently raised), -n -1 runs to the end of the context, -f -
 * reads the prompt from standard input. */
START_TEST(test_run_ctx_and_stdin)
{
    NEED_SHARED(sh);
    struct result r = run("run -m %s/models/tiny-llama-Q8_0.gguf --device cpu -p 'Once upon a "
                          "time there was' -n 20 -c 16",
                          sh);
    ck_assert_msg(r.code == 1 && strstr(r.err, "exceed the context (-c 16)"), "%d %s", r.code,
                  r.err);
    result_free(&r);
    /* -n -1 with --ignore-eos fills the context exactly: 32 - 7 prompt tokens */
    r = run("run -m %s/models/tiny-llama-Q8_0.gguf --device cpu -p 'Once upon a time' -n -1 -c "
            "32 --ignore-eos --temp 0",
            sh);
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_msg(strstr(r.err, "prompt 7 tokens") && strstr(r.err, "generation 25 tokens"), "%s",
                  r.err);
    result_free(&r);
    /* -f - and --file -: the prompt from stdin gives the same text as -p */
    struct result a = run("run -m %s/models/tiny-llama-Q8_0.gguf --device cpu -p 'Once upon a "
                          "time' -n 8 --temp 0",
                          sh);
    const char *pf = "/tmp/joule-cli-prompt.txt";
    FILE *f = fopen(pf, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("Once upon a time", f);
    fclose(f);
    struct result b = run("run -m %s/models/tiny-llama-Q8_0.gguf --device cpu -f - -n 8 --temp 0 "
                          "< %s",
                          sh, pf);
    struct result c = run("run -m %s/models/tiny-llama-Q8_0.gguf --device cpu --file - -n 8 "
                          "--temp 0 < %s",
                          sh, pf);
    remove(pf);
    ck_assert_msg(c.code == 0, "%s", c.err);
    ck_assert_str_eq(a.out, c.out);
    result_free(&c);
    ck_assert_msg(a.code == 0 && b.code == 0, "%s %s", a.err, b.err);
    ck_assert_str_eq(a.out, b.out);
    result_free(&a);
    result_free(&b);
    /* stdout and stderr in one file: the statistics line starts on a line of its own */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s run -m %s/models/tiny-llama-Q8_0.gguf --device cpu -p 'Once upon a time' -n 8 "
             ">/tmp/joule-cli-both.txt 2>&1",
             getenv("JOULE_BIN") ? getenv("JOULE_BIN") : "./joule", sh);
    ck_assert_int_eq(system(cmd), 0);
    char *both = test_read_file("/tmp/joule-cli-both.txt", NULL);
    ck_assert_ptr_nonnull(both);
    ck_assert_msg(strstr(both, "\njoule run: prompt "), "%s", both);
    free(both);
    /* chat too, each reply's statistics */
    snprintf(cmd, sizeof cmd,
             "printf 'hi\\nagain\\n' | %s chat -m %s/models/tiny-qwen2-Q8_0.gguf --device cpu -n 6 "
             ">/tmp/joule-cli-both.txt 2>&1",
             getenv("JOULE_BIN") ? getenv("JOULE_BIN") : "./joule", sh);
    ck_assert_int_eq(system(cmd), 0);
    both = test_read_file("/tmp/joule-cli-both.txt", NULL);
    ck_assert_ptr_nonnull(both);
    const char *second = strstr(both, "\njoule chat: prompt ");
    ck_assert_msg(second && strstr(second + 1, "\njoule chat: prompt "), "%s", both);
    free(both);
    remove("/tmp/joule-cli-both.txt");
    /* past the trained context: a warning */
    r = run("run -m %s/models/tiny-llama-Q8_0.gguf --device cpu -p hi -n 1 --ctx-size 100000", sh);
    ck_assert_msg(strstr(r.err, "exceeds the model's trained context"), "%s", r.err);
    result_free(&r);
}
END_TEST

/* info describes a file it cannot run (here an architecture joule does not know) from its
 * header, with the reason, instead of refusing it. */
START_TEST(test_info_unrunnable)
{
    const char *path = "/tmp/joule-cli-mamba.gguf";
    struct gguf_writer *w = gw_new();
    gw_add_str(w, "general.architecture", "mamba");
    gw_add_str(w, "general.name", "a state-space model");
    float data[64] = {0};
    uint64_t ne[2] = {32, 2};
    gw_add_tensor_f32(w, "token_embd.weight", 2, ne, Q_F32, data);
    ck_assert_int_eq(gw_write(w, path), 0);
    gw_free(w);
    struct result r = run("info -m %s", path);
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "architecture  mamba") && strstr(r.out, "runnable      no: ") &&
                      strstr(r.out, "token_embd.weight") && strstr(r.out, "a state-space model"),
                  "%s", r.out);
    ck_assert_msg(strstr(r.out, "\n  general.name = a state-space model\n"), "%s", r.out);
    result_free(&r);
    remove(path);
}
END_TEST

/* A truncated download: info describes the header (metadata, tensors, which tensors lost their
 * data) and says why it cannot run; run refuses it. A file cut inside its header is refused. */
START_TEST(test_info_truncated)
{
    NEED_SHARED(sh);
    char src[512];
    snprintf(src, sizeof src, "%s/models/tiny-llama-Q8_0.gguf", sh);
    size_t len = 0;
    char *img = test_read_file(src, &len);
    ck_assert_msg(img && len > 200000, "cannot read %s", src);
    const char *path = "/tmp/joule-cli-truncated.gguf";
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(img, 1, len * 2 / 3, f), len * 2 / 3);
    ck_assert_int_eq(fclose(f), 0);
    struct result r = run("info -m %s", path);
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "architecture  llama") && strstr(r.out, "llama.block_count = 2") &&
                      strstr(r.out, "tokenizer.ggml.tokens = [1024 string]") &&
                      strstr(r.out, "output.weight") &&
                      strstr(r.out, "(data missing: past the end of the file)"),
                  "%s", r.out);
    const char *why = strstr(r.out, "runnable      no: ");
    ck_assert_msg(why && strstr(why, path) && strstr(why, "past the end of the file"), "%s", r.out);
    result_free(&r);
    r = run("run -m %s -p hi -n 1 --device cpu", path);
    ck_assert_msg(r.code != 0 && strstr(r.err, "past the end of the file"), "%d %s", r.code, r.err);
    result_free(&r);
    /* cut inside the metadata: nothing to describe, the reason */
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(img, 1, 2000, f), 2000);
    ck_assert_int_eq(fclose(f), 0);
    r = run("info -m %s", path);
    ck_assert_msg(r.code == 1 && strstr(r.err, path) && strstr(r.err, "truncated"), "%d %s", r.code,
                  r.err);
    result_free(&r);
    free(img);
    remove(path);
}
END_TEST

/* The CPU energy estimate charges at most the cores online, whatever -t says: bench -t 128
 * is charged what -t <cores online> is, and the method says so. */
static double bench_estimate_w(const char *sh, long threads, char *method, size_t cap)
{
    struct result r = run("bench -m %s/models/tiny-llama-Q8_0.gguf --device cpu -p 8 -n 2 -r 1 "
                          "--idle 0 -t %ld -o json",
                          sh, threads);
    ck_assert_msg(r.code == 0, "%s", r.err);
    const char *w = strstr(r.out, "\"estimate_w\": "), *m = strstr(r.out, "\"method\": \"");
    double watts = w ? strtod(w + 14, NULL) : -1;
    snprintf(method, cap, "%.*s", m ? (int)strcspn(m + 11, "\"") : 0, m ? m + 11 : "");
    result_free(&r);
    return watts;
}

START_TEST(test_energy_threads_capped)
{
    NEED_SHARED(sh);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    char m1[1024], m2[1024];
    double w_many = bench_estimate_w(sh, 128, m1, sizeof m1);
    if (strncmp(m1, "estimate: TDP share", 19) != 0) {
        fprintf(stderr, "SKIP %s: this CPU's energy is not a TDP-share estimate (%s)\n", __func__,
                m1);
        return;
    }
    double w_online = bench_estimate_w(sh, online, m2, sizeof m2);
    ck_assert_msg(w_many > 0 && fabs(w_many - w_online) < 1e-9, "-t 128: %g W, -t %ld: %g W",
                  w_many, online, w_online);
    char want[96];
    snprintf(want, sizeof want, "at most the %ld cores online", online);
    ck_assert_msg(strstr(m1, want) && (online >= 128 || strstr(m1, "-t 128 capped")), "%s", m1);
}
END_TEST

/* Ctrl-C during run: the generation stops, the text so far and the statistics are written,
 * exit 130; a chat ends the same way. */
START_TEST(test_run_interrupted)
{
    NEED_SHARED(sh);
    char model[512];
    snprintf(model, sizeof model, "%s/models/tiny-llama-Q8_0.gguf", sh);
    const char *out = "/tmp/joule-cli-int.out", *err = "/tmp/joule-cli-int.err";
    const char *args[] = {"run", "-m", model, "--device", "cpu",          "-p",          "hi",
                          "-n",  "-1", "-c",  "60000",    "--ignore-eos", "--no-warmup", NULL};
    pid_t pid = test_spawn_joule(out, err, args);
    ck_assert_int_gt(pid, 0);
    size_t len = 0;
    for (int t = 0; t < 6000 && len < 200; t++) { /* until text streams */
        usleep(10000);
        free(test_read_file(out, &len));
    }
    kill(pid, SIGINT);
    ck_assert_int_eq(test_wait_status(pid), 130);
    char *e = test_read_file(err, NULL), *o = test_read_file(out, &len);
    ck_assert_msg(e && strstr(e, "generation ") && strstr(e, "tok/s"), "%s", e);
    ck_assert_msg(len >= 200 && o[len - 1] == '\n', "%zu bytes", len);
    free(e);
    free(o);
    remove(out);
    remove(err);
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
    tcase_add_test(tc, test_cli_parsers);
    tcase_add_test(tc, test_same_flag_everywhere);
    tcase_add_test(tc, test_usage_errors_everywhere);
    tcase_add_test(tc, test_run_chat_same_generation);
    tcase_add_test(tc, test_random_seed_printed);
    tcase_add_test(tc, test_full_disk);
    tcase_add_test(tc, test_logits_file_atomic);
    tcase_add_test(tc, test_run_ctx_and_stdin);
    tcase_add_test(tc, test_info_unrunnable);
    tcase_add_test(tc, test_info_truncated);
    tcase_add_test(tc, test_energy_threads_capped);
    tcase_add_test(tc, test_run_interrupted);
    suite_add_tcase(s, tc);
    return s;
}
