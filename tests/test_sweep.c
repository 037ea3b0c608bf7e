/* End-to-end: `joule sweep` over two shared tiny models, its plan, resume and a failing
 * unit, then `joule report` over the results (rows, front, files, PNGs decoded back). */
#include <check.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include "eval_json.h"
#include "testutil.h"

static bool exists(const char *dir, const char *name)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) return false;
    return access(p, R_OK) == 0;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

#define MODELS "%s/models/tiny-llama-Q4_0.gguf,%s/models/tiny-llama-Q8_0.gguf"
/* small, but the tg test's window (10240 tokens: about 2 s on a 2-core machine) passes 1 s, so
 * its energy (an estimate on a machine without sensors) is a figure and the front exists; on a
 * much faster machine there is no energy figure for so short a window, and the test then
 * checks that the report says there is no front and draws neither the scatter nor the cost
 * chart (both cases are also covered, whatever the machine, by tests/test_report.c) */
#define SWEEP_ARGS                                                                                 \
    "--device cpu --suite arc-easy,hellaswag --limit 8 --data %s/suites-data -p 64 -n 512 -r 20 "  \
    "-t 2 --idle 0 --tdp 10"

START_TEST(test_plan)
{
    NEED_SHARED(sd);
    struct test_proc r = test_run(
        "sweep -m " MODELS " " SWEEP_ARGS " --shards 2 -o /tmp/joule-plan-x --plan", sd, sd, sd);
    ck_assert_msg(r.code == 0, "%s", r.err);
    /* 2 models x (bench + 2 suites x 2 shards) */
    ck_assert_int_eq(count(r.out, "\n") - count(r.out, "#"), 10);
    ck_assert_ptr_nonnull(strstr(r.out, "# 10 units (0 done)"));
    ck_assert_ptr_nonnull(strstr(r.out, "\n0\ttiny-llama-Q4_0.cpu.bench\tbench\t"));
    ck_assert_ptr_nonnull(strstr(r.out, "\n9\ttiny-llama-Q8_0.cpu.hellaswag.2of2\teval\t"));
    ck_assert_ptr_nonnull(strstr(r.out, "\thellaswag\t2/2\ttodo\n"));
    ck_assert_int_eq(access("/tmp/joule-plan-x", F_OK), -1); /* --plan makes nothing */
    test_proc_free(&r);
    test_expect_err(2, "units 0 to 1",
                    "sweep -m " MODELS " --device cpu -o /tmp/joule-plan-x --unit 2", sd, sd);
    test_expect_err(2, "bad device 'gpu9'", "sweep -m a.gguf --device gpu9 -o /tmp/joule-plan-x");
    test_expect_err(2, "would both write", "sweep -m a.gguf,a.gguf -o /tmp/joule-plan-x --plan");
    test_expect_out(0, "--unit K", "sweep --help");
}
END_TEST

static unsigned char *png(const char *dir, const char *name, int *w, int *h)
{
    char p[4096];
    ck_assert_int_lt(snprintf(p, sizeof p, "%s/%s", dir, name), (int)sizeof p);
    int ch;
    unsigned char *px = stbi_load(p, w, h, &ch, 3);
    ck_assert_msg(px != NULL, "%s does not decode", p);
    return px;
}

/* share of pixels that are not white, and of the dark ones (text, markers) */
static void ink(const unsigned char *px, int w, int h, double *nonwhite, double *dark)
{
    long nw = 0, dk = 0;
    for (long i = 0; i < (long)w * h; i++) {
        int l = px[3 * i] + px[3 * i + 1] + px[3 * i + 2];
        nw += l < 750;
        dk += l < 200;
    }
    *nonwhite = (double)nw / ((double)w * h);
    *dark = (double)dk / ((double)w * h);
}

START_TEST(test_sweep_report)
{
    NEED_SHARED(sd);
    char *dir = test_tmpdir("sweep");
    char res[1100], rep[1100];
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(rep, sizeof rep, "%s/rep", dir);

    /* one unit alone first, as a job array task (or a sweep killed after it) leaves it */
    struct test_proc r =
        test_run("sweep -m " MODELS " " SWEEP_ARGS " -o %s --unit 1", sd, sd, sd, res);
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert(exists(res, "tiny-llama-Q4_0.cpu.arc-easy.json"));
    test_proc_free(&r);
    /* a leftover temporary file of a dead writer, and a cut-short result */
    char p[4096];
    char host[128];
    ck_assert_int_eq(gethostname(host, sizeof host), 0);
    for (char *c = host; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *c))
            *c = '_';
    snprintf(p, sizeof p, "%s/.tiny-llama-Q8_0.cpu.bench.json.tmp.%s.999999999", res, host);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"joule_sweep_unit\": 1, \"comp", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/tiny-llama-Q8_0.cpu.arc-easy.json", res);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"joule_sweep_unit\": 1, \"complete\": tr", f);
    fclose(f);

    /* the sweep: resumes (unit 1 done), redoes the cut-short one */
    r = test_run("sweep -m " MODELS " " SWEEP_ARGS " -o %s", sd, sd, sd, res);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.err, "6 units, 1 done already, 5 to run"), "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "left"));
    test_proc_free(&r);
    static const char *const units[] = {
        "tiny-llama-Q4_0.cpu.bench",     "tiny-llama-Q4_0.cpu.arc-easy",
        "tiny-llama-Q4_0.cpu.hellaswag", "tiny-llama-Q8_0.cpu.bench",
        "tiny-llama-Q8_0.cpu.arc-easy",  "tiny-llama-Q8_0.cpu.hellaswag"};
    for (int i = 0; i < 6; i++) {
        char n[200];
        snprintf(n, sizeof n, "%s.json", units[i]);
        ck_assert_msg(exists(res, n), "%s missing", n);
        snprintf(n, sizeof n, "logs/%s.log", units[i]);
        ck_assert_msg(exists(res, n) || i == 1, "%s missing", n);
    }
    snprintf(p, sizeof p, "%s/.tiny-llama-Q8_0.cpu.bench.json.tmp.%s.999999999", res, host);
    ck_assert_msg(access(p, F_OK) != 0, "the dead writer's temporary file is still there");
    char *unit = test_read_in(res, "tiny-llama-Q4_0.cpu.bench.json", NULL);
    ck_assert_ptr_nonnull(strstr(unit, "\"git_commit\""));
    ck_assert_ptr_nonnull(strstr(unit, "\"sha256\": \"606571876cfb92e6"));
    ck_assert_ptr_nonnull(strstr(unit, "\"command_line\": [\"joule\", \"sweep\""));
    free(unit);

    /* all done: a re-run runs nothing */
    r = test_run("sweep -m " MODELS " " SWEEP_ARGS " -o %s", sd, sd, sd, res);
    ck_assert_msg(r.code == 0 && strstr(r.err, "6 done already, 0 to run"), "%s", r.err);
    test_proc_free(&r);

    /* the report */
    r = test_run("report %s -o %s", res, rep);
    ck_assert_msg(r.code == 0, "%s", r.err);
    test_proc_free(&r);
    char *md = test_read_in(rep, "report.md", NULL);
    ck_assert_ptr_nonnull(strstr(md, "6 result files joined into 2 rows"));
    ck_assert_ptr_nonnull(strstr(md, "| arc-easy (acc_norm) | hellaswag (acc_norm) |"));
    ck_assert_ptr_nonnull(strstr(md, "| tiny-llama-Q4_0 | Q4_0 | CPU"));
    ck_assert_ptr_nonnull(strstr(md, "| tiny-llama-Q8_0 | Q8_0 | CPU"));
    ck_assert_msg(count(md, "(n=8)") == 4, "%s", md); /* 2 rows x 2 suites, 8 items each */
    bool energy =
        strstr(md, "tg estimate") || strstr(md, "tg counter") || strstr(md, "tg power-integrated");
    int stars = count(md, "| ★ |");
    ck_assert_ptr_nonnull(strstr(md, "## Pareto front"));
    if (energy) {
        /* one row or both on the front, and the front listed */
        ck_assert_msg(stars >= 1 && stars <= 2, "%s", md);
        ck_assert_ptr_nonnull(strstr(md, "J/token\n"));
    } else {
        fprintf(stderr, "note %s: no energy figure (the tg window was under 1 s)\n", __func__);
        ck_assert_int_eq(stars, 0);
        ck_assert_ptr_nonnull(strstr(md, "so there is no front"));
    }
    ck_assert_ptr_nonnull(strstr(md, "None: every input"));
    free(md);
    char *html = test_read_in(rep, "report.html", NULL);
    /* without an energy figure there is neither the scatter nor the cost chart */
    ck_assert_int_eq(count(html, "src=\"data:image/png;base64,iVBORw0KGgo"), energy ? 4 : 2);
    ck_assert_ptr_nonnull(strstr(html, "<td>tiny-llama-Q8_0</td>"));
    free(html);
    static const char *const charts[] = {"quality_energy.png", "speed.png", "cost.png",
                                         "quant_tiny-llama.png"};
    for (int i = 0; i < 4; i++) {
        if (!energy && i != 1 && i != 3) { /* the scatter and cost.png */
            ck_assert_msg(!exists(rep, charts[i]), "%s drawn without an energy figure", charts[i]);
            continue;
        }
        int w, h;
        unsigned char *px = png(rep, charts[i], &w, &h);
        ck_assert_int_eq(w, 1100);
        ck_assert_int_ge(h, 150);
        double nw, dk;
        ink(px, w, h, &nw, &dk);
        ck_assert_msg(nw > 0.01 && nw < 0.6 && dk > 0.002, "%s: %.3f non-white, %.3f dark",
                      charts[i], nw, dk);
        stbi_image_free(px);
    }
    test_rm_tmpdir(dir);
}
END_TEST

START_TEST(test_failing_unit)
{
    NEED_SHARED(sd);
    char *dir = test_tmpdir("sweep"), p[4096];
    snprintf(p, sizeof p, "%s/res", dir);
    /* a missing model: its unit fails, the other model's unit still runs */
    struct test_proc r =
        test_run("sweep -m %s/no-such.gguf,%s/models/tiny-llama-Q4_0.gguf --device cpu -p 16 "
                 "-n 4 -r 1 -t 2 --idle 0 -o %s",
                 dir, sd, p);
    ck_assert_int_eq(r.code, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "no-such.cpu.bench FAILED"));
    ck_assert_ptr_nonnull(strstr(r.err, "1 of 2 units failed"));
    ck_assert(exists(p, "tiny-llama-Q4_0.cpu.bench.json"));
    ck_assert(!exists(p, "no-such.cpu.bench.json"));
    ck_assert(exists(p, "logs/no-such.cpu.bench.log"));
    test_proc_free(&r);
    test_rm_tmpdir(dir);
}
END_TEST

/* Ctrl-C in the middle of a sweep (SIGINT to the sweep): it stops after the unit in progress,
 * says how to resume, leaves only whole result files; the same command then runs the rest */
START_TEST(test_interrupted_sweep)
{
    NEED_SHARED(sd);
    char *dir = test_tmpdir("sweep");
    const char *bin = getenv("JOULE_BIN");
    if (!bin) bin = "./joule";
    char cmd[4096], p[4096];
    snprintf(cmd, sizeof cmd,
             "timeout -s INT 2 %s sweep -m " MODELS " --device cpu --suite arc-easy --limit 40 "
             "--data %s/suites-data -p 64 -n 512 -r 20 -t 2 --idle 0 -o %s/res 2>%s/err",
             bin, sd, sd, sd, dir, dir);
    int st = system(cmd);
    char *err = test_read_in(dir, "err", NULL);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    ck_assert_msg(code == 0 || ((code == 1 || code == 124) && strstr(err, "interrupted: ") &&
                                strstr(err, "run the same command again to resume")),
                  "exit %d: %s", code, err);
    free(err);
    /* every file there is whole (the report takes them all), and a re-run resumes */
    int done = 0;
    static const char *const units[] = {"tiny-llama-Q4_0.cpu.bench", "tiny-llama-Q4_0.cpu.arc-easy",
                                        "tiny-llama-Q8_0.cpu.bench",
                                        "tiny-llama-Q8_0.cpu.arc-easy"};
    snprintf(p, sizeof p, "%s/res", dir);
    for (int i = 0; i < 4; i++) {
        char n[200];
        snprintf(n, sizeof n, "%s.json", units[i]);
        done += exists(p, n);
    }
    if (done) {
        struct test_proc r = test_run("report %s/res", dir);
        ck_assert_msg(r.code == 0, "%s", r.err);
        test_proc_free(&r);
    }
    struct test_proc r =
        test_run("sweep -m " MODELS " --device cpu --suite arc-easy --limit 40 --data "
                 "%s/suites-data -p 64 -n 512 -r 20 -t 2 --idle 0 -o %s/res",
                 sd, sd, sd, dir);
    ck_assert_msg(r.code == 0, "%s", r.err);
    char want[64];
    snprintf(want, sizeof want, "4 units, %d done already, %d to run", done, 4 - done);
    ck_assert_msg(strstr(r.err, want), "want '%s': %s", want, r.err);
    test_proc_free(&r);
    for (int i = 0; i < 4; i++) {
        char n[200];
        snprintf(n, sizeof n, "%s.json", units[i]);
        ck_assert_msg(exists(p, n), "%s missing", n);
    }
    test_rm_tmpdir(dir);
}
END_TEST

/* bench over a list of models and thread counts, as llama-bench's -m and -t lists: JSONL with
 * llama-bench's field names, a line per (model, threads, test), and a JSON array */
START_TEST(test_bench_lists)
{
    NEED_SHARED(sd);
    struct test_proc r =
        test_run("bench -m %s/models/tiny-llama-Q4_0.gguf -m %s/models/tiny-llama-Q8_0.gguf "
                 "-t 1,2 -p 16 -n 4 -r 2 --device cpu -o jsonl",
                 sd, sd);
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_int_eq(count(r.out, "\n"), 8); /* 2 models x 2 thread counts x (pp, tg) */
    static const char *const fields[] = {
        "build_commit", "cpu_info",       "backends",   "model_filename",     "model_type",
        "model_size",   "model_n_params", "n_threads",  "n_prompt",           "n_gen",
        "n_depth",      "test_time",      "avg_ns",     "stddev_ns",          "avg_ts",
        "stddev_ts",    "samples_ns",     "samples_ts", "joule_energy_source"};
    int line = 0;
    for (char *p = r.out, *nl; (nl = strchr(p, '\n')); p = nl + 1, line++) {
        struct jval v;
        char err[256];
        ck_assert_msg(json_parse(p, (size_t)(nl - p), &v, err, sizeof err) == 0, "line %d: %s",
                      line, err);
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
            ck_assert_msg(json_get(&v, fields[f]), "line %d lacks %s", line, fields[f]);
        ck_assert_str_eq(json_str(json_get(&v, "model_type")),
                         line < 4 ? "llama 2M Q4_0" : "llama 2M Q8_0");
        ck_assert_int_eq((int)json_num(json_get(&v, "n_threads"), 0), line % 4 < 2 ? 1 : 2);
        ck_assert_int_eq((int)json_num(json_get(&v, "n_prompt"), -1), line % 2 ? 0 : 16);
        ck_assert_int_eq((int)json_num(json_get(&v, "n_gen"), -1), line % 2 ? 4 : 0);
        ck_assert_int_eq(json_get(&v, "samples_ts")->n, 2);
        double ts = json_num(json_get(&v, "avg_ts"), 0), ns = json_num(json_get(&v, "avg_ns"), 0);
        ck_assert(ts > 0 && ns > 0);
        json_free(&v);
    }
    test_proc_free(&r);
    r = test_run(
        "bench -m %s/models/tiny-llama-Q4_0.gguf,%s/models/tiny-llama-Q8_0.gguf -p 16 -n 4 -r 1 "
        "--device cpu -o json",
        sd, sd);
    ck_assert_msg(r.code == 0, "%s", r.err);
    struct jval v;
    char err[256];
    ck_assert_msg(json_parse(r.out, strlen(r.out), &v, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(v.type, J_ARR);
    ck_assert_int_eq(v.n, 2);
    ck_assert_str_eq(json_str(json_get(json_get(&v.kids[1], "model"), "name")),
                     "tiny-llama-Q8_0.gguf");
    ck_assert_str_eq(json_str(json_get(json_get(&v.kids[0], "provenance"), "schema")),
                     "joule-bench/1");
    json_free(&v);
    test_proc_free(&r);
}
END_TEST

/* eval --output-path: lm-evaluation-harness's results file, checked against the shape that
 * harness documents (results.<task>."<metric>,none" and "<metric>_stderr,none", n-shot,
 * n-samples, versions, config), and --log-samples' per-task JSONL; lm-eval task names as
 * suite names */
START_TEST(test_eval_lmeval_files)
{
    NEED_SHARED(sd);
    char *dir = test_tmpdir("lmeval");
    struct test_proc r =
        test_run("eval -m %s/models/tiny-llama-Q4_0.gguf --suite arc_easy,lambada_openai "
                 "--limit 5 --data %s/suites-data --device cpu -t 2 -o json "
                 "--output-path %s/out --log-samples",
                 sd, sd, dir);
    ck_assert_msg(r.code == 0, "%s", r.err);
    /* joule's own JSON has the provenance */
    ck_assert_ptr_nonnull(strstr(r.out, "\"provenance\":{\"joule_version\""));
    test_proc_free(&r);
    char pat[256];
    glob_t g;
    snprintf(pat, sizeof pat, "%s/out/*tiny-llama-Q4_0.gguf/results_*.json", dir);
    ck_assert_int_eq(glob(pat, 0, NULL, &g), 0);
    ck_assert_int_eq((int)g.gl_pathc, 1);
    char *text = test_read_file(g.gl_pathv[0], NULL);
    globfree(&g);
    ck_assert_ptr_nonnull(text);
    struct jval v;
    char err[256];
    ck_assert_msg(json_parse(text, strlen(text), &v, err, sizeof err) == 0, "%s", err);
    free(text);
    const struct jval *res = json_get(&v, "results");
    ck_assert_ptr_nonnull(res);
    static const char *const tasks[] = {"arc_easy", "lambada_openai"};
    for (int t = 0; t < 2; t++) {
        const struct jval *task = json_get(res, tasks[t]);
        ck_assert_msg(task && task->type == J_OBJ, "results.%s missing", tasks[t]);
        double acc = json_num(json_get(task, "acc,none"), -1);
        ck_assert_msg(acc >= 0 && acc <= 1, "%s acc,none = %g", tasks[t], acc);
        ck_assert_ptr_nonnull(json_get(task, "acc_stderr,none"));
        ck_assert_str_eq(json_str(json_get(task, "alias")), tasks[t]);
        ck_assert_int_eq((int)json_num(json_get(json_get(&v, "n-shot"), tasks[t]), -1), 0);
        ck_assert_int_eq(
            (int)json_num(json_get(json_get(json_get(&v, "n-samples"), tasks[t]), "effective"), -1),
            5);
        ck_assert_ptr_nonnull(json_get(json_get(&v, "versions"), tasks[t]));
        ck_assert_ptr_nonnull(json_get(json_get(&v, "configs"), tasks[t]));
        ck_assert_ptr_nonnull(json_get(json_get(&v, "higher_is_better"), tasks[t]));
    }
    ck_assert_ptr_nonnull(json_get(json_get(&v, "results"), "arc_easy"));
    ck_assert_ptr_nonnull(
        json_get(json_get(json_get(&v, "results"), "lambada_openai"), "perplexity,none"));
    ck_assert(
        !strncmp(json_str(json_get(json_get(&v, "config"), "model_args")), "pretrained=", 11));
    ck_assert_int_eq((int)json_num(json_get(json_get(&v, "config"), "limit"), 0), 5);
    ck_assert_ptr_nonnull(json_get(&v, "git_hash"));
    json_free(&v);
    /* the samples: one line per item with what was asked and answered */
    snprintf(pat, sizeof pat, "%s/out/*/samples_arc_easy_*.jsonl", dir);
    ck_assert_int_eq(glob(pat, 0, NULL, &g), 0);
    text = test_read_file(g.gl_pathv[0], NULL);
    globfree(&g);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(count(text, "\n"), 5);
    char *nl = strchr(text, '\n');
    ck_assert_msg(json_parse(text, (size_t)(nl - text), &v, err, sizeof err) == 0, "%s", err);
    ck_assert(strstr(json_str(json_get(&v, "prompt")), "Question:"));
    ck_assert_int_eq(json_get(&v, "continuations")->n, json_get(&v, "ll")->n);
    ck_assert_ptr_nonnull(json_get(&v, "pred"));
    ck_assert_ptr_nonnull(json_get(&v, "gold"));
    json_free(&v);
    free(text);
    test_expect_err(2, "--log-samples needs --output-path",
                    "eval -m x.gguf --suite arc_easy --log-samples");
    test_rm_tmpdir(dir);
}
END_TEST

/* eval --merge: shards of one run merge to the whole run's scores with options in any order
 * and keep model, device and energy; shards of another model or other settings are refused */
START_TEST(test_eval_merge)
{
    NEED_SHARED(sd);
    char *dir = test_tmpdir("merge");
    static const struct {
        const char *model, *file, *extra;
    } runs[] = {{"Q4_0", "s1", "--limit 6 --shard 1/2"},
                {"Q4_0", "s2", "--limit 6 --shard 2/2"},
                {"Q8_0", "q8", "--limit 6 --shard 2/2"},
                {"Q4_0", "l7", "--limit 7 --shard 2/2"},
                {"Q4_0", "whole", "--limit 6"}};
    for (int i = 0; i < 5; i++) {
        struct test_proc r =
            test_run("eval -m %s/models/tiny-llama-%s.gguf --suite arc-easy --data "
                     "%s/suites-data --device cpu -t 2 -o json %s",
                     sd, runs[i].model, sd, runs[i].extra);
        ck_assert_msg(r.code == 0, "%s", r.err);
        char p[4096];
        ck_assert_int_lt(snprintf(p, sizeof p, "%s/%s.json", dir, runs[i].file), (int)sizeof p);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(r.out, f);
        fclose(f);
        test_proc_free(&r);
    }
    struct test_proc m = test_run("eval --merge %s/s2.json %s/s1.json -o json", dir, dir);
    ck_assert_msg(m.code == 0, "%s", m.err);
    char p[4096];
    ck_assert_int_lt(snprintf(p, sizeof p, "%s/whole.json", dir), (int)sizeof p);
    char *whole = test_read_file(p, NULL);
    ck_assert_ptr_nonnull(whole);
    struct jval a, b;
    char err[256];
    ck_assert(json_parse(m.out, strlen(m.out), &a, err, sizeof err) == 0);
    ck_assert(json_parse(whole, strlen(whole), &b, err, sizeof err) == 0);
    const struct jval *ma = json_get(&json_get(&a, "suites")->kids[0], "metrics"),
                      *mb = json_get(&json_get(&b, "suites")->kids[0], "metrics");
    ck_assert_int_eq(ma->n, mb->n);
    for (int i = 0; i < ma->n; i++)
        ck_assert_double_eq_tol(json_num(json_get(&ma->kids[i], "value"), -1),
                                json_num(json_get(&mb->kids[i], "value"), -2), 1e-12);
    ck_assert_str_eq(json_str(json_get(json_get(&a, "model"), "sha256")),
                     json_str(json_get(json_get(&b, "model"), "sha256")));
    ck_assert_str_eq(json_str(json_get(&a, "device")), json_str(json_get(&b, "device")));
    ck_assert_int_eq((int)json_num(json_get(json_get(&a, "settings"), "limit"), 0), 6);
    json_free(&a);
    json_free(&b);
    free(whole);
    test_proc_free(&m);
    m = test_run("eval --merge %s/s1.json %s/q8.json", dir, dir);
    ck_assert_int_eq(m.code, 1);
    ck_assert_msg(strstr(m.err, "q8.json: not a shard of the same run") && strstr(m.err, "model "),
                  "%s", m.err);
    test_proc_free(&m);
    m = test_run("eval --merge %s/s1.json %s/l7.json", dir, dir);
    ck_assert_int_eq(m.code, 1);
    ck_assert_msg(strstr(m.err, "(limit 6 vs 7)"), "%s", m.err);
    test_proc_free(&m);
    test_rm_tmpdir(dir);
}
END_TEST

Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_plan);
    tcase_add_test(tc, test_sweep_report);
    tcase_add_test(tc, test_failing_unit);
    tcase_add_test(tc, test_interrupted_sweep);
    tcase_add_test(tc, test_bench_lists);
    tcase_add_test(tc, test_eval_lmeval_files);
    tcase_add_test(tc, test_eval_merge);
    suite_add_tcase(s, tc);
    return s;
}
