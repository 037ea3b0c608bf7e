/* cli_slurm — see cli_slurm.h. Files under <outdir>/slurm/: array.sh and report.sh (the last
 * submission's scripts), jobs (one line per submission: array and report job ids, the units),
 * logs/unit-K.JOBID.log (each array task) and logs/report.JOBID.log. */
#include "cli_slurm.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "fileio.h"
#include "slurm.h"

const char cli_slurm_help[] =
    "on a Slurm cluster (one array task per unit; see the README's \"Cluster\" section):\n"
    "  --slurm               submit the units without a result as a job array, then a report\n"
    "                        job after it (afterany): DIR/report, with STATUS saying complete\n"
    "                        or PARTIAL; submitting again runs only the units still missing\n"
    "  --slurm-args \"OPTS\"   sbatch options for both jobs, e.g. \"-p gpu --gres=gpu:1 -t "
    "2:00:00\"\n"
    "                        (a task with GPUs uses its first as the Vulkan device)\n"
    "  --slurm-concurrency N at most N array tasks at once\n"
    "  --slurm-name NAME     job name (default joule-sweep)\n"
    "  --dry-run             with --slurm: print the plan and the scripts, submit nothing\n"
    "  --slurm-status        units with and without a result, the missing units' task logs,\n"
    "                        array jobs still queued; exit 0 complete, 3 PARTIAL\n";

static bool take(struct cli_slurm *s, int i)
{
    if (s->n_taken >= CLI_SLURM_MAX_TAKEN) return false;
    s->taken[s->n_taken++] = i;
    return true;
}

int cli_slurm_option(struct cli_slurm *s, struct cli *a)
{
    int from = a->i;
    bool *flag = cli_is(a, NULL, "--slurm")          ? &s->submit
                 : cli_is(a, NULL, "--slurm-status") ? &s->status
                 : cli_is(a, NULL, "--dry-run")      ? &s->dry_run
                                                     : NULL;
    const char *v;
    char err[256];
    if (flag) {
        *flag = true;
    } else if (cli_is(a, NULL, "--slurm-args")) {
        if (!cli_str(a, &v)) return -1;
        if (slurm_check_extra(v, err, sizeof err)) return cli_usage(a, "%s", err), -1;
        s->extra = v;
    } else if (cli_is(a, NULL, "--slurm-concurrency")) {
        if (!cli_long(a, 1, 100000, &s->concurrency)) return -1;
    } else if (cli_is(a, NULL, "--slurm-name")) {
        if (!cli_str(a, &v)) return -1;
        size_t n = strlen(v);
        if (n == 0 || n > 64 ||
            strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n)
            return cli_usage(a,
                             "bad value '%s' for --slurm-name (letters, digits, '-', '_', '.'; "
                             "at most 64)",
                             v),
                   -1;
        s->name = v;
    } else {
        return 0;
    }
    for (int i = from; i <= a->i; i++)
        if (!take(s, i)) return cli_usage(a, "too many options"), -1;
    return 1;
}

/* path made absolute against the working directory, without trailing slashes */
static int abs_path(const char *path, char *buf, size_t len)
{
    char cwd[2048];
    int w;
    if (path[0] == '/') {
        w = snprintf(buf, len, "%s", path);
    } else {
        if (!getcwd(cwd, sizeof cwd)) return -1;
        while (path[0] == '.' && path[1] == '/')
            path += 2;
        w = !strcmp(path, ".") ? snprintf(buf, len, "%s", cwd)
                               : snprintf(buf, len, "%s/%s", cwd, path);
    }
    if (w < 0 || (size_t)w >= len) return -1;
    for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/'; n--)
        buf[n - 1] = 0;
    return 0;
}

static bool was_taken(const struct cli_slurm *s, int i)
{
    for (int k = 0; k < s->n_taken; k++)
        if (s->taken[k] == i) return true;
    return false;
}

/* Reads <statedir>/jobs: the array job ids of every submission, comma-separated. */
static void read_array_ids(const char *statedir, char *ids, size_t len)
{
    char path[2300], err[256];
    size_t n;
    ids[0] = 0;
    snprintf(path, sizeof path, "%s/jobs", statedir);
    char *text = file_read_all(path, &n, err, sizeof err);
    if (!text) return;
    size_t at = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        unsigned long id;
        if (sscanf(line, "array %lu", &id) == 1) {
            int w = snprintf(ids + at, len - at, "%s%lu", at ? "," : "", id);
            if (w < 0 || (size_t)w >= len - at) break;
            at += (size_t)w;
        }
        if (!nl) break;
        line = nl + 1;
    }
    free(text);
}

/* The newest task log of unit k (highest job id), or "" when there is none. */
static void latest_log(const char *statedir, int k, char *out, size_t len)
{
    char dir[2300], prefix[32];
    out[0] = 0;
    snprintf(dir, sizeof dir, "%s/logs", statedir);
    int pl = snprintf(prefix, sizeof prefix, "unit-%d.", k);
    DIR *d = opendir(dir);
    if (!d) return;
    unsigned long best = 0;
    bool found = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, (size_t)pl)) continue;
        char *end;
        errno = 0;
        unsigned long id = strtoul(e->d_name + pl, &end, 10);
        if (errno || end == e->d_name + pl || strcmp(end, ".log")) continue;
        if (!found || id > best) {
            best = id;
            found = true;
            snprintf(out, len, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
}

/* The last non-empty line of a (small) log, into out ("" when none). */
static void last_line(const char *path, char *out, size_t len)
{
    char err[256];
    size_t n;
    out[0] = 0;
    char *text = file_read_all(path, &n, err, sizeof err);
    if (!text) return;
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = 0;
    char *line = strrchr(text, '\n');
    line = line ? line + 1 : text;
    snprintf(out, len, "%s", line);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    free(text);
}

static int status(const struct sweep_opts *o, const struct sweep_plan *p, const char *outdir,
                  const char *statedir)
{
    int missing = 0;
    for (int i = 0; i < p->n; i++)
        missing += !sweep_unit_done(o, &p->units[i]);
    printf("# joule sweep: %d of %d units have a result in %s\n", p->n - missing, p->n, outdir);
    for (int i = 0; i < p->n; i++) {
        const struct sweep_unit *u = &p->units[i];
        if (sweep_unit_done(o, u)) continue;
        char log[2600], line[300];
        latest_log(statedir, u->index, log, sizeof log);
        if (!log[0]) {
            printf("missing %d %s: no task log (not run on Slurm yet)\n", u->index, u->id);
            continue;
        }
        last_line(log, line, sizeof line);
        printf("missing %d %s: log %s: %s\n", u->index, u->id, log,
               line[0] ? line
                       : "(empty: the task was cancelled, preempted or killed before "
                         "it wrote anything)");
    }
    char ids[1024], active[1024], err[512];
    read_array_ids(statedir, ids, sizeof ids);
    if (ids[0] && slurm_available()) {
        if (slurm_active(ids, active, sizeof active, err, sizeof err) != 0)
            printf("# %s\n", err);
        else if (active[0])
            printf("queued or running: array job %s\n", active);
    }
    if (missing) {
        printf("PARTIAL: %d of %d units have no result; `joule sweep ... --slurm` again runs "
               "only those\n",
               missing, p->n);
        return 3;
    }
    printf("COMPLETE: all %d units have a result\n", p->n);
    return 0;
}

static int write_text(const struct cli *a, const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f) return cli_fail(a, "%s: %s", path, strerror(errno));
    bool ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) return cli_fail(a, "%s: write failed", path);
    if (chmod(path, mode) != 0) return cli_fail(a, "%s: %s", path, strerror(errno));
    return 0;
}

static int make_dir(const struct cli *a, const char *path)
{
    char err[600];
    return file_mkdirs(path, err, sizeof err) ? cli_fail(a, "%s", err) : 0;
}

static int submit(const struct cli_slurm *s, const struct cli *a, const struct sweep_opts *o,
                  const struct sweep_plan *p, bool force, struct slurm_job *j)
{
    int *units = malloc(sizeof *units * (size_t)(p->n ? p->n : 1));
    if (!units) return cli_fail(a, "out of memory");
    int n = 0;
    for (int i = 0; i < p->n; i++)
        if (force || !sweep_unit_done(o, &p->units[i])) units[n++] = p->units[i].index;
    j->units = units;
    j->n_units = n;
    int rc = 0;
    char *array = NULL, *report = NULL, err[1024], spec[4096];
    if (n == 0) {
        fprintf(stderr,
                "joule sweep: all %d units have a result in %s; nothing to submit "
                "(--force runs them again)\n",
                p->n, o->outdir);
        goto out;
    }
    if (slurm_array_spec(units, n, j->concurrency, spec, sizeof spec) != 0) {
        rc = cli_fail(a, "%d units do not fit in one --array list; split the sweep", n);
        goto out;
    }
    if (slurm_array_script(j, &array, err, sizeof err) ||
        slurm_report_script(j, &report, err, sizeof err)) {
        rc = cli_fail(a, "%s", err);
        goto out;
    }
    fprintf(stderr, "joule sweep: %d units, %d with a result, %d to run as array tasks %s\n", p->n,
            p->n - n, n, spec);
    if (s->dry_run) {
        printf("# ---- %s/array.sh (sbatch; its array indices are the unit numbers above)\n%s",
               j->statedir, array);
        printf("# ---- %s/report.sh (sbatch --dependency=afterany:<array job>)\n%s", j->statedir,
               report);
        goto out;
    }
    if (!slurm_available()) {
        rc = cli_fail(a, "sbatch is not on PATH (no Slurm here); --dry-run prints the scripts");
        goto out;
    }
    char ids[1024], active[1024];
    read_array_ids(j->statedir, ids, sizeof ids);
    if (ids[0] && !force) {
        if (slurm_active(ids, active, sizeof active, err, sizeof err) != 0) {
            rc = cli_fail(a, "%s", err);
            goto out;
        }
        if (active[0]) {
            rc = cli_fail(a,
                          "array job %s of this sweep is still queued or running (squeue -j %s); "
                          "submit again when it has ended, scancel it, or add --force",
                          active, active);
            goto out;
        }
    }
    char logs[2300], apath[2300], rpath[2300], jpath[2300], aid[64], rid[64];
    snprintf(logs, sizeof logs, "%s/logs", j->statedir);
    snprintf(apath, sizeof apath, "%s/array.sh", j->statedir);
    snprintf(rpath, sizeof rpath, "%s/report.sh", j->statedir);
    snprintf(jpath, sizeof jpath, "%s/jobs", j->statedir);
    if ((rc = make_dir(a, o->outdir)) || (rc = make_dir(a, j->statedir)) ||
        (rc = make_dir(a, logs)) || (rc = write_text(a, apath, array, 0755)) ||
        (rc = write_text(a, rpath, report, 0755)))
        goto out;
    if (slurm_submit(apath, NULL, aid, sizeof aid, err, sizeof err)) {
        rc = cli_fail(a, "%s", err);
        goto out;
    }
    if (slurm_submit(rpath, aid, rid, sizeof rid, err, sizeof err)) {
        rc = cli_fail(a,
                      "%s (the array job %s was submitted; `scancel %s` or run the report "
                      "yourself: joule report %s -o %s)",
                      err, aid, aid, o->outdir, j->reportdir);
        /* still record the array job, so a resubmission waits for it */
    }
    FILE *jf = fopen(jpath, "a");
    if (jf) {
        time_t t = time(NULL);
        struct tm tm;
        char when[32] = "?";
        if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(jf, "array %s report %s units %s submitted %s\n", aid, rc ? "-" : rid, spec, when);
        if (fclose(jf) != 0) fprintf(stderr, "joule sweep: %s: write failed\n", jpath);
    } else {
        fprintf(stderr, "joule sweep: %s: %s\n", jpath, strerror(errno));
    }
    if (rc) goto out;
    printf("submitted: array job %s, report job %s\n", aid, rid);
    fprintf(stderr,
            "joule sweep: watch with `squeue -j %s,%s`; task logs in %s; the report (and its "
            "STATUS) in %s when every task has ended\n",
            aid, rid, logs, j->reportdir);
out:
    free(array);
    free(report);
    free(units);
    return rc;
}

int cli_slurm_run(const struct cli_slurm *s, const struct cli *a, const struct sweep_opts *o,
                  const struct sweep_plan *p, bool force, bool plan, bool unit)
{
    if (s->submit && s->status) return cli_usage(a, "--slurm and --slurm-status: one at a time");
    if (plan || unit) return cli_usage(a, "--plan and --unit do not go with --slurm");
    if (!s->submit && (s->dry_run || s->extra || s->concurrency || s->name))
        return cli_usage(a, "--dry-run, --slurm-args, --slurm-concurrency and --slurm-name go "
                            "with --slurm");
    char outdir[2048], statedir[2100], reportdir[2100], workdir[2048], self[2048];
    if (abs_path(o->outdir, outdir, sizeof outdir) != 0 || !getcwd(workdir, sizeof workdir))
        return cli_fail(a, "%s: the path is too long", o->outdir);
    snprintf(statedir, sizeof statedir, "%s/slurm", outdir);
    snprintf(reportdir, sizeof reportdir, "%s/report", outdir);
    if (s->status) return status(o, p, outdir, statedir);

    const char *env = getenv("JOULE_SELF"); /* as cli_sweep: tests that are not joule */
    if (env && *env) {
        if (abs_path(env, self, sizeof self) != 0) return cli_fail(a, "JOULE_SELF: path too long");
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return cli_fail(a, "cannot find this binary (/proc/self/exe): %s", strerror(errno));
        self[n] = 0;
    }
    const char **args = malloc(sizeof *args * (size_t)(a->argc > 0 ? a->argc : 1));
    if (!args) return cli_fail(a, "out of memory");
    int n_args = 0;
    for (int i = 1; i < a->argc; i++)
        if (!was_taken(s, i)) args[n_args++] = a->argv[i];
    struct slurm_job j = {0};
    j.joule = self;
    j.workdir = workdir;
    j.args = args;
    j.n_args = n_args;
    j.outdir = outdir;
    j.statedir = statedir;
    j.reportdir = reportdir;
    j.n_plan = p->n;
    j.concurrency = (int)s->concurrency;
    j.job_name = s->name;
    j.extra = s->extra;
    int rc = submit(s, a, o, p, force, &j);
    free(args);
    return rc;
}
