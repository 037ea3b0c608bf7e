/* slurm: the --array list, --slurm-args checks, and the sbatch scripts, which are also run
 * with bash against a stand-in joule that records its arguments. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "eval_json.h"
#include "slurm.h"
#include "testutil.h"

START_TEST(test_array_spec)
{
    char b[64];
    const int a[] = {0, 1, 2, 3, 5, 7, 8, 9};
    ck_assert_int_eq(slurm_array_spec(a, 8, 2, b, sizeof b), 0);
    ck_assert_str_eq(b, "0-3,5,7-9%2");
    ck_assert_int_eq(slurm_array_spec(a, 8, 0, b, sizeof b), 0);
    ck_assert_str_eq(b, "0-3,5,7-9");
    const int one[] = {4};
    ck_assert_int_eq(slurm_array_spec(one, 1, 0, b, sizeof b), 0);
    ck_assert_str_eq(b, "4");
    const int gaps[] = {2, 5, 11, 12};
    ck_assert_int_eq(slurm_array_spec(gaps, 4, 1, b, sizeof b), 0);
    ck_assert_str_eq(b, "2,5,11-12%1");
    /* empty, not ascending, duplicate, negative, too small a buffer */
    ck_assert_int_eq(slurm_array_spec(a, 0, 0, b, sizeof b), -1);
    const int down[] = {3, 1}, dup[] = {1, 1}, neg[] = {-1, 0};
    ck_assert_int_eq(slurm_array_spec(down, 2, 0, b, sizeof b), -1);
    ck_assert_int_eq(slurm_array_spec(dup, 2, 0, b, sizeof b), -1);
    ck_assert_int_eq(slurm_array_spec(neg, 2, 0, b, sizeof b), -1);
    ck_assert_int_eq(slurm_array_spec(a, 8, 2, b, 8), -1);
    ck_assert_int_eq(slurm_array_spec(a, 8, 2, b, 11), -1); /* "0-3,5,7-9%2" needs 12 */
    ck_assert_int_eq(slurm_array_spec(a, 8, 2, b, 12), 0);
}
END_TEST

START_TEST(test_check_extra)
{
    char err[256];
    ck_assert_int_eq(slurm_check_extra(NULL, err, sizeof err), 0);
    ck_assert_int_eq(slurm_check_extra("", err, sizeof err), 0);
    ck_assert_int_eq(
        slurm_check_extra("--partition=gpu --gres=gpu:1 -A proj  --time=01:00:00", err, sizeof err),
        0);
    ck_assert_int_eq(slurm_check_extra("--output-format=x", err, sizeof err), 0);
    static const char *bad[] = {"--array=0-3",
                                "-a 1",
                                "-a1",
                                "--dependency=afterok:1",
                                "-d x",
                                "--output=x",
                                "-o x",
                                "--error x",
                                "-e x",
                                "--chdir=/",
                                "-D /",
                                "--wrap=ls",
                                "--job-name=x",
                                "-J x",
                                "-p a\nb",
                                "--comment='x'",
                                "--comment=\"x\"",
                                "a\\b",
                                "--x=`id`"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        ck_assert_msg(slurm_check_extra(bad[i], err, sizeof err) == -1, "accepted '%s'", bad[i]);
        ck_assert_msg(strstr(err, "--slurm-args") != NULL, "'%s': %s", bad[i], err);
    }
}
END_TEST

/* A job whose arguments need quoting: a space, a single quote, a '$', a '%' in paths. */
static const char *const job_args[] = {
    "-m", "/m/a b.gguf,/m/it's.gguf", "--limit", "2", "-o", "/r/out%1 $HOME"};
static const int job_units[] = {2, 5};

static struct slurm_job test_job(void)
{
    struct slurm_job j = {0};
    j.joule = "/opt/jo ule/joule";
    j.workdir = "/w d";
    j.args = job_args;
    j.n_args = 6;
    j.outdir = "/r/out%1 $HOME";
    j.statedir = "/r/out%1 $HOME/slurm";
    j.reportdir = "/r/out%1 $HOME/report";
    j.units = job_units;
    j.n_units = 2;
    j.n_plan = 8;
    j.concurrency = 1;
    j.extra = "--partition=gpu --gres=gpu:1";
    return j;
}

/* What make (slurm_array_script or slurm_report_script) writes for j, which must succeed
 * (malloc'd). */
typedef int make_script_fn(const struct slurm_job *j, char **out, char *err, size_t errlen);
static char *script_of(make_script_fn *make, const struct slurm_job *j)
{
    char *s = NULL, err[256];
    ck_assert_msg(make(j, &s, err, sizeof err) == 0, "%s", err);
    return s;
}

/* slurm_array_script refuses j: no script, and a message that holds in_err (NULL: any). */
static void expect_refused(const struct slurm_job *j, const char *in_err)
{
    char unset, *s = &unset, err[256];
    ck_assert_int_eq(slurm_array_script(j, &s, err, sizeof err), -1);
    ck_assert_ptr_null(s);
    if (in_err) ck_assert_ptr_nonnull(strstr(err, in_err));
}

START_TEST(test_array_script_text)
{
    struct slurm_job j = test_job();
    char *s = script_of(slurm_array_script, &j);
    /* '%' of the path doubled, Slurm's %a (unit) and %A (array job) kept */
    test_expect_text(
        s,
        (const char *const[]){"#!/bin/bash\n", "\n#SBATCH --array=2,5%1\n",
                              "\n#SBATCH --job-name=joule-sweep\n", "\n#SBATCH --chdir=\"/w d\"\n",
                              "\n#SBATCH --output=\"/r/out%%1 $HOME/slurm/logs/unit-%a.%A.log\"\n",
                              "\n#SBATCH --partition=gpu --gres=gpu:1\n",
                              "exec '/opt/jo ule/joule' sweep '-m' '/m/a b.gguf,/m/it'\\''s.gguf' "
                              "'--limit' '2' '-o' '/r/out%1 $HOME' ${SLURM_CPUS_PER_TASK:+-t "
                              "\"$SLURM_CPUS_PER_TASK\"} --unit \"$SLURM_ARRAY_TASK_ID\"\n",
                              NULL},
        NULL);
    /* every #SBATCH line comes before the first command (sbatch stops reading them there) */
    const char *cmd = strstr(s, "\nset -u\n");
    ck_assert_ptr_nonnull(cmd);
    ck_assert_ptr_null(strstr(cmd, "#SBATCH"));
    free(s);

    /* no extra options: no empty #SBATCH line; another job name; no concurrency limit; -t
     * given, so not Slurm's CPU count */
    static const char *const with_t[] = {"-m", "a.gguf", "--threads", "2", "-o", "r"};
    j.args = with_t;
    j.extra = "  ";
    j.job_name = "mmlu-run.1";
    j.concurrency = 0;
    s = script_of(slurm_array_script, &j);
    test_expect_text(
        s,
        (const char *const[]){"\n#SBATCH --array=2,5\n", "\n#SBATCH --job-name=mmlu-run.1\n",
                              "'--threads' '2' '-o' 'r' --unit \"$SLURM_ARRAY_TASK_ID\"\n", NULL},
        (const char *const[]){"#SBATCH \n", "#SBATCH  ", "SLURM_CPUS_PER_TASK", NULL});
    free(s);

    /* refusals: a path that cannot go into an #SBATCH line, a bad job name, owned options,
     * no units */
    struct slurm_job bad[5];
    for (size_t i = 0; i < 5; i++)
        bad[i] = test_job();
    bad[0].workdir = "/w\"d";
    bad[1].statedir = "/s\nx";
    bad[2].job_name = "a b";
    bad[3].extra = "--array=1";
    bad[4].n_units = 0;
    static const char *const in_err[5] = {"/w\"d", NULL, "job name", NULL, "--array"};
    for (size_t i = 0; i < 5; i++)
        expect_refused(&bad[i], in_err[i]);
}
END_TEST

START_TEST(test_report_script_text)
{
    struct slurm_job j = test_job();
    char *s = script_of(slurm_report_script, &j);
    test_expect_text(s,
                     (const char *const[]){
                         "\n#SBATCH --job-name=joule-sweep-report\n",
                         "\n#SBATCH --output=\"/r/out%%1 $HOME/slurm/logs/report.%j.log\"\n",
                         "' --slurm-status > '/r/out%1 $HOME/report'/STATUS\n",
                         "'/opt/jo ule/joule' report '/r/out%1 $HOME' -o '/r/out%1 $HOME/report'",
                         NULL},
                     (const char *const[]){"--array", NULL});
    free(s);
}
END_TEST

/* Writes text to path with mode. */
static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* Runs cmd through the shell; returns its exit status. */
static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Writes what make writes for j to DIR/NAME (executable), its path in p. */
static void write_script(make_script_fn *make, const struct slurm_job *j, const char *dir,
                         const char *name, char *p, size_t cap)
{
    char *s = script_of(make, j);
    snprintf(p, cap, "%s/%s", dir, name);
    write_file(p, s, 0755);
    free(s);
}

/* The scripts run under bash (the #SBATCH lines are comments there) with a stand-in joule:
 * the array task gets its unit number and the GPU Slurm assigned; the report job records
 * STATUS, runs the report, and fails when the status says partial. */
START_TEST(test_scripts_run)
{
    char dir[] = "/tmp/joule-slurm-XXXXXX", fake[64], p[1024], cmd[2048];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fake, sizeof fake, "%s/joule", dir);
    /* args one a line into calls; --slurm-status answers PARTIAL with status 3 */
    snprintf(cmd, sizeof cmd,
             "#!/bin/sh\n"
             "printf 'dev=%%s\\n' \"${JOULE_VK_DEVICE:-none}\" >> '%s/calls'\n"
             "for a in \"$@\"; do printf '[%%s]\\n' \"$a\" >> '%s/calls'; done\n"
             "for a in \"$@\"; do [ \"$a\" = --slurm-status ] && { echo PARTIAL: 1 of 2; exit 3; "
             "}; done\n"
             "[ \"$1\" = report ] && echo '# table' > \"$4/report.md\"\n"
             "exit 0\n",
             dir, dir);
    write_file(fake, cmd, 0755);

    const char *args[] = {"-m", "a b.gguf,it's.gguf", "-o", "out $X"};
    char rep[600];
    snprintf(rep, sizeof rep, "%s/rep ort", dir);
    struct slurm_job j = test_job();
    j.joule = fake;
    j.workdir = dir;
    j.args = args;
    j.n_args = 4;
    j.outdir = "out $X";
    j.reportdir = rep;
    write_script(slurm_array_script, &j, dir, "array.sh", p, sizeof p);

    char calls[600], *got;
    snprintf(calls, sizeof calls, "%s/calls", dir);
    /* Slurm's CUDA_VISIBLE_DEVICES decides the Vulkan device */
    snprintf(cmd, sizeof cmd,
             "env -u JOULE_VK_DEVICE -u ROCR_VISIBLE_DEVICES SLURM_ARRAY_TASK_ID=5 "
             "SLURM_CPUS_PER_TASK=3 CUDA_VISIBLE_DEVICES=2,3 SLURM_JOB_GPUS=6,7 bash '%s' "
             ">/dev/null",
             p);
    ck_assert_int_eq(sh(cmd), 0);
    got = test_read_file(calls, NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "dev=2\n[sweep]\n[-m]\n[a b.gguf,it's.gguf]\n[-o]\n[out $X]\n"
                          "[-t]\n[3]\n[--unit]\n[5]\n");
    free(got);
    remove(calls);
    /* only SLURM_JOB_GPUS; then a UUID (no number: no device pinned); then none at all;
     * then a JOULE_VK_DEVICE the user set wins */
    static const struct {
        const char *env, *dev;
    } cases[] = {{"SLURM_JOB_GPUS=1", "dev=1\n"},
                 {"CUDA_VISIBLE_DEVICES=GPU-8f2a SLURM_JOB_GPUS=1", "dev=none\n"},
                 {"", "dev=none\n"},
                 {"JOULE_VK_DEVICE=4 SLURM_JOB_GPUS=1", "dev=4\n"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(
            cmd, sizeof cmd,
            "env -u JOULE_VK_DEVICE -u CUDA_VISIBLE_DEVICES -u ROCR_VISIBLE_DEVICES "
            "-u SLURM_STEP_GPUS -u SLURM_JOB_GPUS -u SLURM_CPUS_PER_TASK SLURM_ARRAY_TASK_ID=0 %s "
            "bash '%s' "
            ">/dev/null",
            cases[i].env, p);
        ck_assert_int_eq(sh(cmd), 0);
        got = test_read_file(calls, NULL);
        ck_assert_ptr_nonnull(got);
        ck_assert_msg(!strncmp(got, cases[i].dev, strlen(cases[i].dev)), "%s: %s", cases[i].env,
                      got);
        free(got);
        remove(calls);
    }

    /* the report job: STATUS written, report run, exit status of --slurm-status kept */
    write_script(slurm_report_script, &j, dir, "report.sh", p, sizeof p);
    snprintf(cmd, sizeof cmd, "env -u JOULE_VK_DEVICE bash '%s' >/dev/null", p);
    ck_assert_int_eq(sh(cmd), 3);
    got = test_read_in(rep, "STATUS", NULL);
    ck_assert_str_eq(got, "PARTIAL: 1 of 2\n");
    free(got);
    got = test_read_in(rep, "report.md", NULL);
    ck_assert_str_eq(got,
                     "**PARTIAL** (not every unit of the sweep has a result): PARTIAL: 1 of 2\n\n"
                     "The missing units and their task logs are listed in STATUS.\n\n# table\n");
    free(got);
    got = test_read_file(calls, NULL);
    ck_assert_ptr_nonnull(got);
    char want[1024];
    snprintf(want, sizeof want,
             "dev=none\n[sweep]\n[-m]\n[a b.gguf,it's.gguf]\n[-o]\n[out $X]\n[--slurm-status]\n"
             "dev=none\n[report]\n[out $X]\n[-o]\n[%s]\n",
             rep);
    ck_assert_str_eq(got, want);
    free(got);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(sh(cmd), 0);
}
END_TEST

/* JOULE_VK_DEVICE (set by the array task) must be a device index; a bad one is an error
 * that names it, before any device is opened. */
START_TEST(test_vk_device_env)
{
    char err[256], notice[64];
    struct backend *b = NULL;
    static const char *bad[] = {"x", "-1", "1.5", "123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(setenv("JOULE_VK_DEVICE", bad[i], 1), 0);
        err[0] = 0;
        ck_assert_int_ne(
            device_open("vulkan", NULL, 16, 1, &b, notice, sizeof notice, err, sizeof err), 0);
        ck_assert_ptr_null(b);
        ck_assert_msg(strstr(err, "JOULE_VK_DEVICE") != NULL, "%s: %s", bad[i], err);
        ck_assert_int_ne(
            device_open("auto", NULL, 16, 1, &b, notice, sizeof notice, err, sizeof err), 0);
    }
    ck_assert_int_eq(unsetenv("JOULE_VK_DEVICE"), 0);
}
END_TEST

/* ---- end to end, against a real Slurm (tools/slurm-local.sh starts one on this machine) ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* cmd's stdout (malloc'd) and exit status; cmd is trusted test text. */
static char *capture(const char *cmd, int *code)
{
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (n + 1024 > cap) {
            char *g = realloc(buf, cap *= 2);
            ck_assert_ptr_nonnull(g);
            buf = g;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0) break;
        n += r;
    }
    buf[n] = 0;
    int st = pclose(f);
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return buf;
}

/* Whether job id is still in squeue (pending or running; an array job while any task is). */
static bool job_queued(const char *id)
{
    int code;
    char *out = capture("squeue -h -o %F", &code);
    ck_assert_int_eq(code, 0);
    bool found = false;
    for (char *line = strtok(out, "\n"); line && !found; line = strtok(NULL, "\n"))
        found = !strcmp(line, id);
    free(out);
    return found;
}

static void wait_job(const char *id, double limit_s)
{
    double t0 = now_s();
    while (job_queued(id)) {
        ck_assert_msg(now_s() - t0 < limit_s, "Slurm job %s still queued after %.0f s", id,
                      limit_s);
        usleep(100 * 1000);
    }
}

/* Runs the sweep with --slurm; returns the array and report job ids from its answer. */
static void submit(const char *cmd, char *aid, char *rid)
{
    int code;
    char *out = capture(cmd, &code);
    ck_assert_msg(code == 0, "%s: exit %d: %s", cmd, code, out);
    ck_assert_msg(sscanf(out, "submitted: array job %31[0-9], report job %31[0-9]", aid, rid) == 2,
                  "no job ids in: %s", out);
    free(out);
}

static bool same_json(const struct jval *a, const struct jval *b)
{
    if (a->type != b->type || a->n != b->n || a->len != b->len) return false;
    if (a->str && (!b->str || memcmp(a->str, b->str, a->len))) return false;
    for (int i = 0; i < a->n; i++) {
        if (a->keys && strcmp(a->keys[i], b->keys[i])) return false;
        if (!same_json(&a->kids[i], &b->kids[i])) return false;
    }
    return true;
}

static struct jval read_json(const char *path)
{
    size_t n;
    char *text = test_read_file(path, &n), err[256];
    ck_assert_msg(text != NULL, "%s: missing", path);
    struct jval v;
    ck_assert_msg(json_parse(text, n, &v, err, sizeof err) == 0, "%s: %s", path, err);
    free(text);
    return v;
}

/* A unit's results from Slurm and from the local sweep: the same suites, metrics and per-item
 * rows (timings, timestamps and hosts may differ). */
static void compare_unit(const char *a_path, const char *b_path)
{
    struct jval a = read_json(a_path), b = read_json(b_path);
    const struct jval *sa = json_get(json_get(&a, "result"), "suites");
    const struct jval *sb = json_get(json_get(&b, "result"), "suites");
    ck_assert_msg(sa && sb && sa->type == J_ARR && sa->n > 0 && sa->n == sb->n, "%s: suites",
                  a_path);
    static const char *keys[] = {"suite", "task", "items", "items_done", "metrics", "rows"};
    for (int i = 0; i < sa->n; i++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const struct jval *x = json_get(&sa->kids[i], keys[k]);
            const struct jval *y = json_get(&sb->kids[i], keys[k]);
            ck_assert_msg(x && y && same_json(x, y), "%s and %s differ in \"%s\"", a_path, b_path,
                          keys[k]);
        }
    const struct jval *rows = json_get(&sa->kids[0], "rows");
    ck_assert_msg(rows && rows->n == 2, "%s: %d item rows, not 2 (--limit 2)", a_path,
                  rows ? rows->n : -1);
    json_free(&a);
    json_free(&b);
}

/* The command line without a cluster: --dry-run prints the plan and both scripts and writes
 * nothing; --slurm-status of a fresh folder is PARTIAL (exit 3); no sbatch is an error; the
 * options that go with --slurm are refused alone, and owned sbatch options always. */
START_TEST(test_sweep_slurm_cli)
{
    const char *bin = getenv("JOULE_BIN");
    if (!bin) bin = "./joule";
    char dir[] = "/tmp/joule-slurm-cli-XXXXXX", cmd[4096], base[1024];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(base, sizeof base,
             "'%s' sweep -m /nonexistent/a.gguf --suite arc-easy --device vulkan -o %s/res", bin,
             dir);
    int code;
    snprintf(cmd, sizeof cmd,
             "%s --slurm --dry-run --slurm-concurrency 3 --slurm-args '-p gpu --gres=gpu:1' "
             "2>/dev/null",
             base);
    char *out = capture(cmd, &code);
    ck_assert_msg(code == 0, "exit %d: %s", code, out);
    ck_assert_ptr_nonnull(strstr(out, "# 2 units (0 done)"));
    ck_assert_ptr_nonnull(strstr(out, "\n0\ta.vulkan.bench\tbench\t"));
    ck_assert_ptr_nonnull(strstr(out, "\n1\ta.vulkan.arc-easy\teval\t"));
    ck_assert_ptr_nonnull(strstr(out, "\n#SBATCH --array=0-1%3\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n#SBATCH -p gpu --gres=gpu:1\n"));
    ck_assert_ptr_nonnull(strstr(out, "'--device' 'vulkan' '-o'"));
    ck_assert_ptr_nonnull(strstr(out, " --unit \"$SLURM_ARRAY_TASK_ID\"\n"));
    ck_assert_ptr_nonnull(strstr(out, "--slurm-status > "));
    /* the tasks do not get the --slurm options */
    ck_assert_ptr_null(strstr(out, "'--slurm"));
    ck_assert_ptr_null(strstr(out, "'--dry-run'"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s/res", dir);
    ck_assert_msg(access(cmd, F_OK) != 0, "--dry-run made %s", cmd);

    snprintf(cmd, sizeof cmd, "%s --slurm-status 2>/dev/null", base);
    out = capture(cmd, &code);
    ck_assert_msg(code == 3, "exit %d: %s", code, out);
    ck_assert_ptr_nonnull(strstr(out, "PARTIAL: 2 of 2 units have no result"));
    ck_assert_ptr_nonnull(strstr(out, "missing 1 a.vulkan.arc-easy: no task log"));
    free(out);

    snprintf(cmd, sizeof cmd, "env PATH=/nonexistent %s --slurm 2>&1", base);
    out = capture(cmd, &code);
    ck_assert_msg(code == 1 && strstr(out, "sbatch is not on PATH"), "exit %d: %s", code, out);
    free(out);

    static const char *bad[] = {"--dry-run",
                                "--slurm-concurrency 2",
                                "--slurm --plan",
                                "--slurm --unit 0",
                                "--slurm --slurm-status",
                                "--slurm --slurm-args --array=1",
                                "--slurm --slurm-args '-o x'",
                                "--slurm --slurm-concurrency 0",
                                "--slurm --slurm-name 'a b'",
                                "--slurm --slurm-args"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", base, bad[i]);
        out = capture(cmd, &code);
        ck_assert_msg(code == 2 && strstr(out, "joule sweep: "), "'%s': exit %d: %s", bad[i], code,
                      out);
        free(out);
    }
    snprintf(cmd, sizeof cmd, "'%s' sweep --help", bin);
    out = capture(cmd, &code);
    ck_assert_int_eq(code, 0);
    ck_assert_ptr_nonnull(strstr(out, "--slurm-status"));
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(sh(cmd), 0);
}
END_TEST

/* Whether Slurm answers here: sbatch on PATH and a node that is up. Else SKIP, or a failure
 * where JOULE_REQUIRE_SLURM is set (CI, after tools/slurm-local.sh). */
static bool slurm_here(const char *test)
{
    const char *why = NULL;
    int code = 1;
    if (!slurm_available()) {
        why = "sbatch not found";
    } else {
        char *out = capture("timeout 10 sinfo -h -o %t 2>/dev/null", &code);
        if (code != 0 || !(strstr(out, "idle") || strstr(out, "mix") || strstr(out, "alloc")))
            why = "no Slurm node is up (sinfo)";
        free(out);
    }
    if (!why) return true;
    const char *req = getenv("JOULE_REQUIRE_SLURM");
    ck_assert_msg(!(req && *req && strcmp(req, "0")), "%s: %s, and JOULE_REQUIRE_SLURM is set",
                  test, why);
    fprintf(stderr, "SKIP %s: %s (tools/slurm-local.sh starts a local Slurm)\n", test, why);
    return false;
}

/* Two shared tiny models x two suites (--limit 2), four array tasks, one at a time: one task
 * is cancelled while it runs and the last while it waits, so the first report is PARTIAL;
 * the resubmission runs exactly the missing units and leaves the others' files alone; the
 * results then equal a local sweep's item for item. */
START_TEST(test_cluster_sweep)
{
    NEED_SHARED(shared);
    if (getenv("JOULE_ASAN")) {
        fprintf(stderr, "SKIP %s: not under the sanitizers (the release test run covers it)\n",
                __func__);
        return;
    }
    if (!slurm_here(__func__)) return;
    const char *bin = getenv("JOULE_BIN");
    ck_assert_msg(bin && bin[0] == '/', "JOULE_BIN must be an absolute path (build.sh sets it)");
    char dir[] = "/tmp/joule-slurm-e2e-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char args[2048], cmd[4096];
    snprintf(args, sizeof args,
             "sweep -m %s/models/tiny-llama-Q4_0.gguf,%s/models/tiny-llama-Q8_0.gguf "
             "--suite arc-easy,hellaswag --limit 2 --no-bench --device cpu -t 1 "
             "--data %s/suites-data",
             shared, shared, shared);

    double t0 = now_s();
    snprintf(cmd, sizeof cmd, "'%s' %s -o %s/local 2>/dev/null", bin, args, dir);
    ck_assert_int_eq(sh(cmd), 0);
    double t_local = now_s() - t0;

    /* the first submission, with two tasks cancelled */
    char aid[32], rid[32];
    t0 = now_s();
    snprintf(cmd, sizeof cmd, "'%s' %s -o %s/cl --slurm --slurm-concurrency 1 2>/dev/null", bin,
             args, dir);
    submit(cmd, aid, rid);
    char want[128], *got;
    snprintf(want, sizeof want, "\n#SBATCH --array=0-3%%1\n");
    got = test_read_in(dir, "cl/slurm/array.sh", NULL);
    ck_assert_ptr_nonnull(strstr(got, want));
    free(got);
    int killed = -1;
    for (double w0 = now_s(); killed < 0;) {
        ck_assert_msg(now_s() - w0 < 60, "no task of array job %s ever ran", aid);
        int code;
        char *out = capture("squeue -h -t R -o %i", &code);
        for (char *line = strtok(out, "\n"); line && killed < 0; line = strtok(NULL, "\n")) {
            size_t l = strlen(aid);
            if (!strncmp(line, aid, l) && line[l] == '_') killed = atoi(line + l + 1);
        }
        free(out);
        if (killed < 0) usleep(20 * 1000);
    }
    snprintf(cmd, sizeof cmd, "scancel %s_%d %s_3", aid, killed, aid);
    ck_assert_int_eq(sh(cmd), 0);
    wait_job(aid, 90);
    wait_job(rid, 60);
    double t_first = now_s() - t0;

    char path[1024];
    bool missing[4];
    int n_missing = 0;
    struct stat before[4];
    static const char *ids[4] = {"tiny-llama-Q4_0.cpu.arc-easy", "tiny-llama-Q4_0.cpu.hellaswag",
                                 "tiny-llama-Q8_0.cpu.arc-easy", "tiny-llama-Q8_0.cpu.hellaswag"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/cl/%s.json", dir, ids[k]);
        missing[k] = stat(path, &before[k]) != 0;
        n_missing += missing[k];
    }
    ck_assert_msg(missing[3], "unit 3 was cancelled while pending but has a result");
    snprintf(path, sizeof path, "%s/cl/report/STATUS", dir);
    got = test_read_file(path, NULL);
    ck_assert_msg(got != NULL, "no STATUS from the report job %s", rid);
    char line[128];
    snprintf(line, sizeof line, "PARTIAL: %d of 4 units have no result", n_missing);
    ck_assert_msg(strstr(got, line) != NULL, "STATUS: %s", got);
    ck_assert_ptr_nonnull(strstr(got, "missing 3 tiny-llama-Q8_0.cpu.hellaswag"));
    if (missing[killed]) { /* cancelled while running: STATUS points at its task log */
        snprintf(line, sizeof line, "/cl/slurm/logs/unit-%d.%s.log", killed, aid);
        ck_assert_msg(strstr(got, line) != NULL, "STATUS lacks %s: %s", line, got);
    }
    free(got);
    for (int k = 0; k < 4; k++) { /* every unit that ran has its own log */
        if (missing[k]) continue;
        snprintf(path, sizeof path, "%s/cl/slurm/logs/unit-%d.%s.log", dir, k, aid);
        char *log = test_read_file(path, NULL);
        ck_assert_msg(log && strstr(log, "written to"), "%s: %s", path, log ? log : "missing");
        free(log);
    }
    snprintf(path, sizeof path, "%s/cl/report/report.md", dir);
    got = test_read_file(path, NULL);
    ck_assert_msg(got != NULL, "no report.md from the report job %s", rid);
    ck_assert_msg(!strncmp(got, "**PARTIAL**", 11), "report.md does not say partial: %.200s", got);
    free(got);

    /* the resubmission: exactly the missing units */
    t0 = now_s();
    snprintf(cmd, sizeof cmd, "'%s' %s -o %s/cl --slurm --slurm-concurrency 1 2>/dev/null", bin,
             args, dir);
    submit(cmd, aid, rid);
    int todo[4], nt = 0;
    for (int k = 0; k < 4; k++)
        if (missing[k]) todo[nt++] = k;
    char spec[64];
    ck_assert_int_eq(slurm_array_spec(todo, nt, 1, spec, sizeof spec), 0);
    snprintf(want, sizeof want, "\n#SBATCH --array=%s\n", spec);
    got = test_read_in(dir, "cl/slurm/array.sh", NULL);
    ck_assert_msg(strstr(got, want) != NULL, "resubmission is not %s: %.400s", want + 1, got);
    free(got);
    wait_job(aid, 90);
    wait_job(rid, 60);
    double t_second = now_s() - t0;
    got = test_read_in(dir, "cl/report/STATUS", NULL);
    ck_assert_msg(strstr(got, "COMPLETE: all 4 units have a result") != NULL, "STATUS: %s", got);
    free(got);
    got = test_read_in(dir, "cl/report/report.md", NULL);
    ck_assert_msg(strncmp(got, "**PARTIAL**", 11) != 0, "a complete report says partial");
    ck_assert_ptr_nonnull(strstr(got, "tiny-llama-Q4_0"));
    ck_assert_ptr_nonnull(strstr(got, "tiny-llama-Q8_0"));
    free(got);

    for (int k = 0; k < 4; k++) {
        char local[1024];
        snprintf(path, sizeof path, "%s/cl/%s.json", dir, ids[k]);
        snprintf(local, sizeof local, "%s/local/%s.json", dir, ids[k]);
        struct stat now;
        ck_assert_int_eq(stat(path, &now), 0);
        if (!missing[k])
            ck_assert_msg(now.st_ino == before[k].st_ino &&
                              now.st_mtim.tv_sec == before[k].st_mtim.tv_sec &&
                              now.st_mtim.tv_nsec == before[k].st_mtim.tv_nsec,
                          "%s was written again by the resubmission", path);
        compare_unit(path, local);
    }

    /* nothing left: a third --slurm submits nothing */
    snprintf(cmd, sizeof cmd, "'%s' %s -o %s/cl --slurm 2>&1", bin, args, dir);
    int code;
    got = capture(cmd, &code);
    ck_assert_msg(code == 0 && strstr(got, "nothing to submit"), "exit %d: %s", code, got);
    free(got);
    fprintf(stderr,
            "slurm e2e: local sweep %.1f s; Slurm array (4 tasks, %%1, 2 cancelled: %d missing) "
            "+ report %.1f s; resubmission %.1f s\n",
            t_local, n_missing, t_first, t_second);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(sh(cmd), 0);
}
END_TEST

Suite *slurm_suite(void)
{
    Suite *s = suite_create("slurm");
    TCase *tc = tcase_create("script");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_array_spec);
    tcase_add_test(tc, test_check_extra);
    tcase_add_test(tc, test_array_script_text);
    tcase_add_test(tc, test_report_script_text);
    tcase_add_test(tc, test_scripts_run);
    tcase_add_test(tc, test_vk_device_env);
    tcase_add_test(tc, test_sweep_slurm_cli);
    suite_add_tcase(s, tc);
    TCase *e2e = tcase_create("cluster");
    tcase_set_timeout(e2e, 300);
    tcase_add_test(e2e, test_cluster_sweep);
    suite_add_tcase(s, e2e);
    return s;
}
