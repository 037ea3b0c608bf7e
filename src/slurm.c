/* slurm — see slurm.h. */
#include "slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int slurm_array_spec(const int *units, int n, int concurrency, char *buf, size_t len)
{
    if (n <= 0 || len == 0) return -1;
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < n;) {
        if (units[i] < 0 || (i > 0 && units[i] <= units[i - 1])) return -1;
        int j = i;
        while (j + 1 < n && units[j + 1] == units[j] + 1)
            j++;
        int w = j > i ? snprintf(buf + at, len - at, "%s%d-%d", at ? "," : "", units[i], units[j])
                      : snprintf(buf + at, len - at, "%s%d", at ? "," : "", units[i]);
        if (w < 0 || (size_t)w >= len - at) return -1;
        at += (size_t)w;
        i = j + 1;
    }
    if (concurrency > 0) {
        int w = snprintf(buf + at, len - at, "%%%d", concurrency);
        if (w < 0 || (size_t)w >= len - at) return -1;
    }
    return 0;
}

/* Whether word is one of the sbatch options the scripts set themselves. */
static bool owned_option(const char *w, size_t n)
{
    static const char *const longs[] = {"--array", "--dependency", "--output",   "--error",
                                        "--chdir", "--wrap",       "--job-name", "--parsable"};
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        size_t l = strlen(longs[i]);
        if (n >= l && !strncmp(w, longs[i], l) && (n == l || w[l] == '=')) return true;
    }
    return n >= 2 && w[0] == '-' && w[1] != '-' && strchr("adoeDJ", w[1]) != NULL;
}

int slurm_check_extra(const char *extra, char *err, size_t errlen)
{
    if (!extra) return 0;
    for (const char *p = extra; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\'' || c == '\\' || c == '`') {
            snprintf(err, errlen,
                     "--slurm-args: character 0x%02x is not allowed (plain sbatch options "
                     "separated by spaces, no quotes)",
                     c);
            return -1;
        }
    }
    for (const char *p = extra; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n && owned_option(p, n)) {
            snprintf(err, errlen,
                     "--slurm-args: '%.*s' is set by joule sweep --slurm itself (array, "
                     "dependency, logs, working directory, job name)",
                     (int)n, p);
            return -1;
        }
        p += n;
    }
    return 0;
}

/* s as one shell word: single quotes, a ' inside as '\''. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

/* A path for an #SBATCH line: inside double quotes, '%' doubled (a filename pattern there). */
static int put_sbatch_path(FILE *f, const char *path, const char *suffix, char *err, size_t errlen)
{
    for (const char *p = path; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '"') {
            snprintf(err, errlen,
                     "%s: a path with a newline or a double quote cannot go into an sbatch "
                     "script",
                     path);
            return -1;
        }
    }
    fputc('"', f);
    for (const char *p = path; *p; p++) {
        if (*p == '%') fputc('%', f);
        fputc(*p, f);
    }
    fputs(suffix, f);
    fputc('"', f);
    return 0;
}

/* The lines both scripts start with; name is the job name, log the --output file name under
 * <statedir>/logs (a Slurm pattern). */
static int put_header(FILE *f, const struct slurm_job *j, const char *name, const char *log,
                      char *err, size_t errlen)
{
    fprintf(f, "#SBATCH --job-name=%s\n", name);
    fputs("#SBATCH --chdir=", f);
    if (put_sbatch_path(f, j->workdir, "", err, errlen)) return -1;
    fputs("\n#SBATCH --output=", f);
    if (put_sbatch_path(f, j->statedir, log, err, errlen)) return -1;
    fputc('\n', f);
    if (j->extra && j->extra[strspn(j->extra, " ")]) fprintf(f, "#SBATCH %s\n", j->extra);
    return 0;
}

/* "'joule' 'sweep' 'ARG'..." */
static void put_sweep_command(FILE *f, const struct slurm_job *j)
{
    put_quoted(f, j->joule);
    fputs(" sweep", f);
    for (int i = 0; i < j->n_args; i++) {
        fputc(' ', f);
        put_quoted(f, j->args[i]);
    }
}

static int check_job(const struct slurm_job *j, char *err, size_t errlen)
{
    if (!j->joule || !j->workdir || !j->outdir || !j->statedir || !j->reportdir ||
        (j->n_args && !j->args) || j->n_args < 0) {
        snprintf(err, errlen, "slurm: incomplete job description");
        return -1;
    }
    const char *name = j->job_name ? j->job_name : "joule-sweep";
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.')) {
            snprintf(err, errlen, "slurm: job name '%s': only letters, digits, '-', '_', '.'",
                     name);
            return -1;
        }
    }
    return slurm_check_extra(j->extra, err, errlen);
}

/* Opens a memstream over *bufp and *lenp, for a script written into memory. */
static FILE *start(char **bufp, size_t *lenp, char *err, size_t errlen)
{
    *bufp = NULL;
    *lenp = 0;
    FILE *f = open_memstream(bufp, lenp);
    if (!f) snprintf(err, errlen, "out of memory writing an sbatch script");
    return f;
}

/* Closes the memstream f (which sets *bufp) and hands its text to *out, or frees it. */
static int finish(FILE *f, char **bufp, char **out, char *err, size_t errlen, int rc)
{
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "out of memory writing an sbatch script");
        rc = -1;
    }
    if (rc || !*bufp) {
        free(*bufp);
        return -1;
    }
    *out = *bufp;
    return 0;
}

int slurm_array_script(const struct slurm_job *j, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (check_job(j, err, errlen)) return -1;
    char spec[4096];
    if (slurm_array_spec(j->units, j->n_units, j->concurrency, spec, sizeof spec)) {
        snprintf(err, errlen,
                 "slurm: %d unit numbers do not make an --array list (empty, "
                 "unordered, or longer than %zu characters)",
                 j->n_units, sizeof spec - 1);
        return -1;
    }
    char *buf;
    size_t len;
    FILE *f = start(&buf, &len, err, errlen);
    if (!f) return -1;
    const char *name = j->job_name ? j->job_name : "joule-sweep";
    fprintf(f,
            "#!/bin/bash\n# joule sweep as a Slurm job array: %d of the plan's %d units, one "
            "per array task\n# (the array index is the unit number of `joule sweep ... --plan`)."
            " Written by joule sweep --slurm.\n",
            j->n_units, j->n_plan);
    fprintf(f, "#SBATCH --array=%s\n", spec);
    int rc = put_header(f, j, name, "/logs/unit-%a.%A.log", err, errlen);
    if (rc == 0) {
        fputs(
            "set -u\n"
            "# The GPU Slurm gave this task (--gres=gpu:N, --gpus-per-task) as the Vulkan device\n"
            "# that \"vulkan\" and \"auto\" mean: the first entry of the first variable set.\n"
            "if [ -z \"${JOULE_VK_DEVICE:-}\" ]; then\n"
            "    for g in \"${CUDA_VISIBLE_DEVICES:-}\" \"${ROCR_VISIBLE_DEVICES:-}\" "
            "\"${SLURM_STEP_GPUS:-}\" \"${SLURM_JOB_GPUS:-}\"; do\n"
            "        [ -n \"$g\" ] || continue\n"
            "        g=${g%%,*}\n"
            "        case \"$g\" in *[!0-9]*) ;; *) export JOULE_VK_DEVICE=\"$g\" ;; esac\n"
            "        break\n"
            "    done\n"
            "fi\n"
            "echo \"joule sweep: unit $SLURM_ARRAY_TASK_ID, job ${SLURM_ARRAY_JOB_ID:-?}, "
            "host $(hostname)${JOULE_VK_DEVICE:+, Vulkan device $JOULE_VK_DEVICE}\"\n"
            "exec ",
            f);
        put_sweep_command(f, j);
        /* the CPUs Slurm gave the task, unless -t was given: joule's default is every core
         * of the node, which oversubscribes a node shared by several tasks */
        bool threads = false;
        for (int i = 0; i < j->n_args; i++)
            threads |= !strcmp(j->args[i], "-t") || !strcmp(j->args[i], "--threads");
        if (!threads) fputs(" ${SLURM_CPUS_PER_TASK:+-t \"$SLURM_CPUS_PER_TASK\"}", f);
        fputs(" --unit \"$SLURM_ARRAY_TASK_ID\"\n", f);
    }
    return finish(f, &buf, out, err, errlen, rc);
}

int slurm_report_script(const struct slurm_job *j, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (check_job(j, err, errlen)) return -1;
    char *buf;
    size_t len;
    FILE *f = start(&buf, &len, err, errlen);
    if (!f) return -1;
    char name[96];
    snprintf(name, sizeof name, "%s-report", j->job_name ? j->job_name : "joule-sweep");
    fputs("#!/bin/bash\n# joule sweep: the report, after every array task has ended "
          "(--dependency=afterany).\n# STATUS says whether every unit of the plan has a result "
          "(else PARTIAL, with the\n# missing units and their logs); this job then fails, so "
          "the queue shows it too.\n",
          f);
    int rc = put_header(f, j, name, "/logs/report.%j.log", err, errlen);
    if (rc == 0) {
        fputs("set -u\nmkdir -p ", f);
        put_quoted(f, j->reportdir);
        fputc('\n', f);
        put_sweep_command(f, j);
        fputs(" --slurm-status > ", f);
        put_quoted(f, j->reportdir);
        fputs("/STATUS\nstatus=$?\ncat ", f);
        put_quoted(f, j->reportdir);
        fputs("/STATUS\n", f);
        put_quoted(f, j->joule);
        fputs(" report ", f);
        put_quoted(f, j->outdir);
        fputs(" -o ", f);
        put_quoted(f, j->reportdir);
        fputs(" || exit 1\n"
              "# a partial report says so at its top\n"
              "cd ",
              f);
        put_quoted(f, j->reportdir);
        fputs(" || exit 1\n"
              "if [ \"$status\" != 0 ] && [ -f report.md ]; then\n"
              "    { printf '**PARTIAL** (not every unit of the sweep has a result): %s\\n\\n' "
              "\"$(tail -n 1 STATUS)\"\n"
              "      printf 'The missing units and their task logs are listed in STATUS.\\n\\n'\n"
              "      cat report.md; } > report.md.tmp && mv report.md.tmp report.md\n"
              "fi\n"
              "exit $status\n",
              f);
    }
    return finish(f, &buf, out, err, errlen, rc);
}

bool slurm_available(void)
{
    const char *path = getenv("PATH");
    if (!path) return false;
    char buf[4096];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        if (n && n < sizeof buf - 8) {
            snprintf(buf, sizeof buf, "%.*s/sbatch", (int)n, p);
            if (access(buf, X_OK) == 0) return true;
        }
        p += n;
        if (*p == ':') p++;
    }
    return false;
}

/* Runs argv (PATH lookup), its stdout and stderr together into out (truncated to len).
 * Returns the exit status, or -1 when it could not start (message in out). */
static int run_capture(char *const argv[], char *out, size_t len)
{
    int fd[2];
    out[0] = 0;
    if (pipe(fd) != 0) {
        snprintf(out, len, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        snprintf(out, len, "%s: %s", argv[0], strerror(rc));
        return -1;
    }
    size_t at = 0;
    char scratch[512];
    for (;;) {
        ssize_t r = read(fd[0], scratch, sizeof scratch);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        size_t take = (size_t)r;
        if (at + take >= len) take = len - 1 - at; /* keep reading so the child never blocks */
        memcpy(out + at, scratch, take);
        at += take;
    }
    out[at] = 0;
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(out, len, "%s: waitpid: %s", argv[0], strerror(errno));
            return -1;
        }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = 0;
}

int slurm_submit(const char *script, const char *dep, char *id, size_t idlen, char *err,
                 size_t errlen)
{
    char depopt[128], out[2048];
    char *argv[5];
    int k = 0;
    argv[k++] = "sbatch";
    argv[k++] = "--parsable";
    if (dep) {
        snprintf(depopt, sizeof depopt, "--dependency=afterany:%s", dep);
        argv[k++] = depopt;
    }
    argv[k++] = (char *)script;
    argv[k] = NULL;
    int rc = run_capture(argv, out, sizeof out);
    chomp(out);
    if (rc != 0) {
        snprintf(err, errlen, "sbatch %s failed: %s", script, out[0] ? out : "no message");
        return -1;
    }
    /* --parsable: "JOBID" or "JOBID;CLUSTER", possibly after warnings on earlier lines */
    const char *line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    size_t n = strspn(line, "0123456789");
    if (n == 0 || n >= idlen || (line[n] && line[n] != ';')) {
        snprintf(err, errlen, "sbatch %s: no job id in its answer '%s'", script, out);
        return -1;
    }
    memcpy(id, line, n);
    id[n] = 0;
    return 0;
}

int slurm_active(const char *ids, char *active, size_t len, char *err, size_t errlen)
{
    /* All jobs' (array) ids rather than `squeue -j IDS`, which fails once a job is forgotten. */
    char out[65536];
    char *argv[] = {"squeue", "-h", "-o", "%F", NULL};
    active[0] = 0;
    int rc = run_capture(argv, out, sizeof out);
    if (rc != 0) {
        chomp(out);
        snprintf(err, errlen, "squeue failed: %s", out[0] ? out : "no message");
        return -1;
    }
    size_t at = 0;
    for (const char *p = ids; *p;) {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (const char *q = out; n && *q && !found;) {
            size_t m = strcspn(q, "\n");
            found = m == n && !strncmp(p, q, n);
            q += m;
            if (*q) q++;
        }
        if (found) {
            int w = snprintf(active + at, len - at, "%s%.*s", at ? "," : "", (int)n, p);
            if (w < 0 || (size_t)w >= len - at) break;
            at += (size_t)w;
        }
        p += n;
        if (*p) p++;
    }
    return 0;
}
