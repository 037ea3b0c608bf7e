/* slurm: the --array list, --slurm-args checks, and the sbatch scripts, which are also run
 * with bash against a stand-in joule that records its arguments. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"
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

START_TEST(test_array_script_text)
{
    struct slurm_job j = test_job();
    char *s = NULL, err[256];
    ck_assert_msg(slurm_array_script(&j, &s, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(strstr(s, "#!/bin/bash\n"));
    ck_assert_ptr_nonnull(strstr(s, "\n#SBATCH --array=2,5%1\n"));
    ck_assert_ptr_nonnull(strstr(s, "\n#SBATCH --job-name=joule-sweep\n"));
    ck_assert_ptr_nonnull(strstr(s, "\n#SBATCH --chdir=\"/w d\"\n"));
    /* '%' of the path doubled, Slurm's %a (unit) and %A (array job) kept */
    ck_assert_ptr_nonnull(
        strstr(s, "\n#SBATCH --output=\"/r/out%%1 $HOME/slurm/logs/unit-%a.%A.log\"\n"));
    ck_assert_ptr_nonnull(strstr(s, "\n#SBATCH --partition=gpu --gres=gpu:1\n"));
    ck_assert_ptr_nonnull(
        strstr(s, "exec '/opt/jo ule/joule' sweep '-m' '/m/a b.gguf,/m/it'\\''s.gguf' "
                  "'--limit' '2' '-o' '/r/out%1 $HOME' --unit \"$SLURM_ARRAY_TASK_ID\"\n"));
    /* every #SBATCH line comes before the first command (sbatch stops reading them there) */
    const char *cmd = strstr(s, "\nset -u\n");
    ck_assert_ptr_nonnull(cmd);
    ck_assert_ptr_null(strstr(cmd, "#SBATCH"));
    free(s);

    /* no extra options: no empty #SBATCH line; another job name; no concurrency limit */
    j.extra = "  ";
    j.job_name = "mmlu-run.1";
    j.concurrency = 0;
    ck_assert_int_eq(slurm_array_script(&j, &s, err, sizeof err), 0);
    ck_assert_ptr_null(strstr(s, "#SBATCH \n"));
    ck_assert_ptr_null(strstr(s, "#SBATCH  "));
    ck_assert_ptr_nonnull(strstr(s, "\n#SBATCH --array=2,5\n"));
    ck_assert_ptr_nonnull(strstr(s, "\n#SBATCH --job-name=mmlu-run.1\n"));
    free(s);

    /* refusals: a path that cannot go into an #SBATCH line, a bad job name, owned options,
     * no units */
    j = test_job();
    j.workdir = "/w\"d";
    ck_assert_int_eq(slurm_array_script(&j, &s, err, sizeof err), -1);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err, "/w\"d"));
    j = test_job();
    j.statedir = "/s\nx";
    ck_assert_int_eq(slurm_array_script(&j, &s, err, sizeof err), -1);
    j = test_job();
    j.job_name = "a b";
    ck_assert_int_eq(slurm_array_script(&j, &s, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "job name"));
    j = test_job();
    j.extra = "--array=1";
    ck_assert_int_eq(slurm_array_script(&j, &s, err, sizeof err), -1);
    j = test_job();
    j.n_units = 0;
    ck_assert_int_eq(slurm_array_script(&j, &s, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "--array"));
}
END_TEST

START_TEST(test_report_script_text)
{
    struct slurm_job j = test_job();
    char *s = NULL, err[256];
    ck_assert_msg(slurm_report_script(&j, &s, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_null(strstr(s, "--array"));
    ck_assert_ptr_nonnull(strstr(s, "\n#SBATCH --job-name=joule-sweep-report\n"));
    ck_assert_ptr_nonnull(
        strstr(s, "\n#SBATCH --output=\"/r/out%%1 $HOME/slurm/logs/report.%j.log\"\n"));
    ck_assert_ptr_nonnull(strstr(s, "' --slurm-status > '/r/out%1 $HOME/report'/STATUS\n"));
    ck_assert_ptr_nonnull(
        strstr(s, "'/opt/jo ule/joule' report '/r/out%1 $HOME' -o '/r/out%1 $HOME/report'"));
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
             "for a in \"$@\"; do [ \"$a\" = --slurm-status ] && { echo PARTIAL; exit 3; }; done\n"
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
    char *s, err[256];
    ck_assert_int_eq(slurm_array_script(&j, &s, err, sizeof err), 0);
    snprintf(p, sizeof p, "%s/array.sh", dir);
    write_file(p, s, 0755);
    free(s);

    char calls[600], *got;
    snprintf(calls, sizeof calls, "%s/calls", dir);
    /* Slurm's CUDA_VISIBLE_DEVICES decides the Vulkan device */
    snprintf(cmd, sizeof cmd,
             "env -u JOULE_VK_DEVICE -u ROCR_VISIBLE_DEVICES SLURM_ARRAY_TASK_ID=5 "
             "CUDA_VISIBLE_DEVICES=2,3 SLURM_JOB_GPUS=6,7 bash '%s' >/dev/null",
             p);
    ck_assert_int_eq(sh(cmd), 0);
    got = test_read_file(calls, NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "dev=2\n[sweep]\n[-m]\n[a b.gguf,it's.gguf]\n[-o]\n[out $X]\n"
                          "[--unit]\n[5]\n");
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
        snprintf(cmd, sizeof cmd,
                 "env -u JOULE_VK_DEVICE -u CUDA_VISIBLE_DEVICES -u ROCR_VISIBLE_DEVICES "
                 "-u SLURM_STEP_GPUS -u SLURM_JOB_GPUS SLURM_ARRAY_TASK_ID=0 %s bash '%s' "
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
    ck_assert_int_eq(slurm_report_script(&j, &s, err, sizeof err), 0);
    snprintf(p, sizeof p, "%s/report.sh", dir);
    write_file(p, s, 0755);
    free(s);
    snprintf(cmd, sizeof cmd, "env -u JOULE_VK_DEVICE bash '%s' >/dev/null", p);
    ck_assert_int_eq(sh(cmd), 3);
    snprintf(p, sizeof p, "%s/STATUS", rep);
    got = test_read_file(p, NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "PARTIAL\n");
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

Suite *slurm_suite(void)
{
    Suite *s = suite_create("slurm");
    TCase *tc = tcase_create("script");
    tcase_add_test(tc, test_array_spec);
    tcase_add_test(tc, test_check_extra);
    tcase_add_test(tc, test_array_script_text);
    tcase_add_test(tc, test_report_script_text);
    tcase_add_test(tc, test_scripts_run);
    tcase_add_test(tc, test_vk_device_env);
    suite_add_tcase(s, tc);
    return s;
}
