/* cli_sweep — `joule sweep`: options into a plan (sweep.h), then each unit not done run as a
 * child process of this binary (`/proc/self/exe sweep OPTIONS --unit K`), its output kept in
 * <outdir>/logs/<id>.log, progress and the time left on stderr. `--unit K` runs one unit in
 * this process: the bench or eval command with its stdout captured, then the result file
 * written atomically. */
#include "cli_sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_bench.h"
#include "cli_eval.h"
#include "cli_slurm.h"
#include "cli_util.h"
#include "device.h"
#include "fileio.h"
#include "meter.h"
#include "sweep.h"

static const char *help =
    "usage: joule sweep -m MODEL[,MODEL...] [--device D[,D...]] [--suite S[,S...]] -o DIR\n"
    "                   [--plan | --unit K] [options]\n"
    "Benchmarks and evaluates every model on every device: one unit per (model, device) for\n"
    "the bench and per (model, device, suite[, shard]) for the eval, each run as its own\n"
    "process, its result written to DIR/<unit>.json (atomically: an interrupted sweep loses\n"
    "at most the unit in progress). Running the same command again skips the units whose\n"
    "file is complete (resume). Each unit's output is kept in DIR/logs/<unit>.log. Then\n"
    "`joule report DIR -o REPORTDIR` puts quality, speed, energy and cost side by side.\n"
    "\n"
    "what to run:\n"
    "  -m, --model LIST      GGUF files, comma separated (or -m repeated)\n"
    "  --device LIST         devices, comma separated: cpu, vulkan, vulkan:N, auto (default auto)\n"
    "  --suite LIST          eval suites (as `joule eval --list` names them); none: bench only\n"
    "  --no-bench            only the eval units\n"
    "  --shards N            split each suite into N units (--shard i/N of joule eval; merge\n"
    "                        them with `joule eval --merge` or let `joule report` do it)\n"
    "  -o, --output DIR      the results folder (made when missing)\n"
    "scheduling (see src/sweep.h; e.g. a Slurm job array with one unit per task):\n"
    "  --plan                print the units (K, id, kind, model, device, suite, shard, "
    "done|todo)\n"
    "                        and exit; '#' lines are comments\n"
    "  --unit K              run unit K (0-based) here and write its file; exit 0 when done\n"
    "  --force               run units even when their file is complete\n"
    "  --no-hash             do not hash the model files (results join on size and name)\n"
    "bench options (passed to `joule bench`):\n"
    "  -p, --n-prompt LIST   prompt lengths (default 512)\n"
    "  -n, --n-gen LIST      generation lengths (default 128)\n"
    "  -d, --depth LIST      KV depths (default 0)\n"
    "  -r, --repetitions N   timed repetitions (default 5)\n"
    "eval options (passed to `joule eval`):\n"
    "  --limit N             items per suite\n"
    "  --shots K             few-shot examples\n"
    "  --data DIR            suite data folder\n"
    "  --max-length N        context + continuation limit\n"
    "  --style S             lm-eval (default) or llama.cpp\n"
    "both:\n"
    "  -t, --threads N       CPU threads (default: all cores)\n"
    "energy and cost (passed to the units; --idle and --energy-min to bench only):\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct sweep_cli {
    struct cli a;
    struct cli_common c; /* the shared flags: -t, --tdp, energy, cost (passed to the units) */
    struct sweep_opts o;
    char *lists[3 * SWEEP_MAX_LIST]; /* copies split in place */
    int n_lists;
    bool plan, force, hash;
    long unit;              /* -1: all */
    struct cli_slurm slurm; /* --slurm ... (cli_slurm.h) */
};

/* Splits a comma-separated list (a copy) into out[]; false on an empty element or too many. */
static bool split_list(struct sweep_cli *c, const char *s, const char **out, int *n)
{
    if ((size_t)c->n_lists >= sizeof c->lists / sizeof c->lists[0]) return false;
    char *copy = strdup(s);
    if (!copy) return false;
    c->lists[c->n_lists++] = copy;
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (!*p || *n >= SWEEP_MAX_LIST) return false;
        out[(*n)++] = p;
        if (!comma) return true;
        p = comma + 1;
    }
}

/* the arguments argv[from..a.i] (a flag and its value, as given) to a unit's command */
static bool pass(const struct cli *a, int from, const char **args, int *n)
{
    for (int i = from; i <= a->i && i < a->argc; i++) {
        if (*n >= SWEEP_MAX_PASS) return false;
        args[(*n)++] = a->argv[i];
    }
    return true;
}

static void free_cli(struct sweep_cli *c)
{
    for (int i = 0; i < c->n_lists; i++)
        free(c->lists[i]);
}

static int parse(int argc, char **argv, struct sweep_cli *c)
{
    memset(c, 0, sizeof *c);
    struct cli *a = &c->a;
    struct sweep_opts *o = &c->o;
    cli_init(a, "joule sweep", argc, argv);
    cli_common_init(&c->c, CLI_DEVICE | CLI_TDP | CLI_ENERGY | CLI_COST);
    o->bench = true;
    o->shards = 1;
    c->unit = -1;
    c->hash = true;
    int32_t list[64];
    int nl;
    long x;
    const char *v;
    while (cli_next(a)) {
        int from = a->i;
        if (cli_is_help(a)) {
            printf("%s%s%s%s%s", help, cli_help_tdp, cli_help_energy, cli_help_cost,
                   cli_slurm_help);
            return -1;
        }
        int took = cli_slurm_option(&c->slurm, a);
        if (took < 0) return 2;
        if (took > 0) continue;
        if (cli_is(a, NULL, "--plan")) {
            c->plan = true;
        } else if (cli_is(a, NULL, "--force")) {
            c->force = true;
        } else if (cli_is(a, NULL, "--no-bench")) {
            o->bench = false;
        } else if (cli_is(a, NULL, "--no-hash")) {
            c->hash = false;
            if (!pass(a, from, o->eval_args, &o->n_eval_args)) goto many;
        } else if (cli_is(a, NULL, "--bos") || cli_is(a, NULL, "--no-bos")) {
            if (!pass(a, from, o->eval_args, &o->n_eval_args)) goto many;
        } else if (cli_is(a, "-m", "--model")) {
            if (!cli_str(a, &v)) return 2;
            if (!split_list(c, v, o->models, &o->n_models))
                return cli_usage(a, "bad value '%s' for -m (comma-separated files, at most %d)", v,
                                 SWEEP_MAX_LIST);
        } else if (cli_is(a, NULL, "--device")) {
            int n0 = o->n_devices;
            if (!cli_str(a, &v)) return 2;
            if (!split_list(c, v, o->devices, &o->n_devices))
                return cli_usage(a, "bad value '%s' for --device (comma-separated, at most %d)", v,
                                 SWEEP_MAX_LIST);
            for (int k = n0; k < o->n_devices; k++)
                if (!device_spec_valid(o->devices[k]))
                    return cli_usage(a,
                                     "bad device '%s' in --device (auto, cpu, vulkan or vulkan:N)",
                                     o->devices[k]);
        } else if (cli_is(a, NULL, "--suite") || cli_is(a, NULL, "--suites")) {
            if (!cli_str(a, &v)) return 2;
            if (!split_list(c, v, o->suites, &o->n_suites))
                return cli_usage(a, "bad value '%s' for --suite (comma-separated, at most %d)", v,
                                 SWEEP_MAX_LIST);
        } else if (cli_is(a, NULL, "--shards")) {
            if (!cli_long(a, 1, 10000, &x)) return 2;
            o->shards = (int)x;
        } else if (cli_is(a, "-o", "--output")) {
            if (!cli_str(a, &o->outdir)) return 2;
        } else if (cli_is(a, NULL, "--unit")) {
            if (!cli_long(a, 0, 999999, &c->unit)) return 2;
        } else if (cli_is(a, "-p", "--n-prompt") || cli_is(a, "-n", "--n-gen") ||
                   cli_is(a, "-d", "--depth")) {
            if (!cli_list(a, 0, 1 << 20, list, 64, &nl)) return 2;
            if (!pass(a, from, o->bench_args, &o->n_bench_args)) goto many;
        } else if (cli_is(a, "-r", "--repetitions")) {
            if (!cli_long(a, 1, 1000, &x)) return 2;
            if (!pass(a, from, o->bench_args, &o->n_bench_args)) goto many;
        } else if (cli_is(a, NULL, "--limit")) {
            if (!cli_long(a, 1, 1L << 40, &x)) return 2;
            if (!pass(a, from, o->eval_args, &o->n_eval_args)) goto many;
        } else if (cli_is(a, NULL, "--shots")) {
            if (!cli_long(a, 0, 1000, &x)) return 2;
            if (!pass(a, from, o->eval_args, &o->n_eval_args)) goto many;
        } else if (cli_is(a, NULL, "--max-length")) {
            if (!cli_long(a, 16, 1 << 20, &x)) return 2;
            if (!pass(a, from, o->eval_args, &o->n_eval_args)) goto many;
        } else if (cli_is(a, NULL, "--data") || cli_is(a, NULL, "--style")) {
            if (!cli_str(a, &v)) return 2;
            if (!pass(a, from, o->eval_args, &o->n_eval_args)) goto many;
        } else {
            /* the shared flags, checked by the shared parser, then handed to the units:
             * --idle and --energy-min are bench's measuring protocol, the rest both take */
            int r = cli_common_flag(a, &c->c);
            if (r < 0) return 2;
            if (r == 0) return cli_unknown(a);
            bool bench_only =
                !strcmp(a->argv[from], "--idle") || !strcmp(a->argv[from], "--energy-min");
            if (!pass(a, from, o->bench_args, &o->n_bench_args)) goto many;
            if (!bench_only && !pass(a, from, o->eval_args, &o->n_eval_args)) goto many;
        }
    }
    int rc = cli_common_finish(a, &c->c);
    if (rc) return rc;
    if (o->n_devices == 0) o->devices[o->n_devices++] = "auto";
    if (!o->outdir) return cli_usage(a, "missing -o DIR (the results folder)");
    if (o->n_models == 0) return cli_usage(a, "missing -m MODEL[,MODEL...]");
    return 0;
many:
    return cli_usage(a, "too many options");
}

/* ---- one unit, in this process ---- */

static int run_unit(struct sweep_cli *c, const struct sweep_unit *u, int argc, char **argv)
{
    const struct sweep_opts *o = &c->o;
    if (!c->force && sweep_unit_done(o, u)) {
        fprintf(stderr, "joule sweep: unit %d (%s) is already done\n", u->index, u->id);
        return 0;
    }
    const char *uargv[2 * SWEEP_MAX_PASS + 16];
    char scratch[64];
    int un = sweep_unit_argv(o, u, uargv, (int)(sizeof uargv / sizeof uargv[0]), scratch,
                             sizeof scratch);
    if (un < 0) return cli_fail(&c->a, "unit %d: too many options", u->index);
    fprintf(stderr, "joule sweep: unit %d (%s): joule", u->index, u->id);
    for (int i = 0; i < un; i++)
        fprintf(stderr, " %s", uargv[i]);
    fprintf(stderr, "\n");

    char cap[2400];
    snprintf(cap, sizeof cap, "%s/.%s.out.%ld", o->outdir, u->id, (long)getpid());
    int fd = open(cap, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return cli_fail(&c->a, "%s: %s", cap, strerror(errno));
    fflush(stdout);
    int saved = dup(1);
    if (saved < 0 || dup2(fd, 1) < 0) {
        close(fd);
        remove(cap);
        return cli_fail(&c->a, "cannot redirect the output: %s", strerror(errno));
    }
    close(fd);
    int rc = u->kind == SWEEP_BENCH ? cli_bench(un, (char **)uargv) : cli_eval(un, (char **)uargv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    if (rc != 0) {
        remove(cap);
        return cli_fail(&c->a, "unit %d (%s): joule %s exited %d", u->index, u->id, uargv[0], rc);
    }
    char err[1024];
    size_t len;
    char *text = file_read_all(cap, &len, err, sizeof err);
    remove(cap);
    if (!text) return cli_fail(&c->a, "%s", err);
    int w =
        sweep_unit_write(o, u, text, len, argc, argv, (int)c->c.threads, c->hash, err, sizeof err);
    free(text);
    if (w) return cli_fail(&c->a, "%s", err);
    char path[2048];
    sweep_unit_path(o, u, path, sizeof path);
    fprintf(stderr, "joule sweep: unit %d (%s) written to %s\n", u->index, u->id, path);
    return 0;
}

/* ---- the whole sweep: each unit as a child ---- */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void fmt_time(double s, char *buf, size_t len)
{
    if (s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

/* the child: this binary, the same options, --unit K; output into the unit's log */
static int spawn_unit(const struct sweep_opts *o, const struct sweep_unit *u, int argc, char **argv,
                      pid_t *pid, char *log, size_t loglen)
{
    snprintf(log, loglen, "%s/logs/%s.log", o->outdir, u->id);
    char **cargv = calloc((size_t)argc + 4, sizeof *cargv);
    char kbuf[32];
    if (!cargv) return -1;
    snprintf(kbuf, sizeof kbuf, "%d", u->index);
    int n = 0;
    cargv[n++] = "joule";
    for (int i = 0; i < argc; i++)
        cargv[n++] = argv[i]; /* argv[0] is "sweep" */
    cargv[n++] = "--unit";
    cargv[n++] = kbuf;
    cargv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    *pid = fork();
    if (*pid < 0) {
        free(cargv);
        return -1;
    }
    if (*pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        const char *self = getenv("JOULE_SELF"); /* tests that are not the joule binary */
        execv(self && *self ? self : "/proc/self/exe", cargv);
        fprintf(stderr, "joule sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    free(cargv);
    return 0;
}

static int run_all(struct sweep_cli *c, const struct sweep_plan *p, int argc, char **argv)
{
    const struct sweep_opts *o = &c->o;
    char logs[2048];
    snprintf(logs, sizeof logs, "%s/logs", o->outdir);
    char err[600];
    if (file_mkdirs(logs, err, sizeof err)) return cli_fail(&c->a, "%s", err);
    sweep_clean_tmp(o, p);
    bool *todo = calloc((size_t)p->n, sizeof *todo);
    if (!todo) return cli_fail(&c->a, "out of memory");
    int n_todo = 0, skipped = 0;
    for (int i = 0; i < p->n; i++) {
        todo[i] = c->force || !sweep_unit_done(o, &p->units[i]);
        if (todo[i])
            n_todo++;
        else
            skipped++;
    }
    fprintf(stderr, "joule sweep: %d units, %d done already, %d to run; results in %s\n", p->n,
            skipped, n_todo, o->outdir);
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double spent[2] = {0, 0};
    int ran[2] = {0, 0}, left[2] = {0, 0}, failed = 0, done = 0;
    for (int i = 0; i < p->n; i++)
        if (todo[i]) left[p->units[i].kind]++;
    for (int i = 0; i < p->n && !interrupted; i++) {
        if (!todo[i]) continue;
        const struct sweep_unit *u = &p->units[i];
        char log[2400];
        pid_t pid;
        double t0 = now_s();
        fprintf(stderr, "joule sweep: [%d/%d] %s ...\n", done + 1, n_todo, u->id);
        if (spawn_unit(o, u, argc, argv, &pid, log, sizeof log) != 0) {
            free(todo);
            return cli_fail(&c->a, "cannot start a process: %s", strerror(errno));
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        double dt = now_s() - t0;
        done++;
        left[u->kind]--;
        ran[u->kind]++;
        spent[u->kind] += dt;
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && sweep_unit_done(o, u);
        /* the time left: each kind at its own mean so far (a bench and an eval unit differ) */
        double all = (spent[0] + spent[1]) / (ran[0] + ran[1]), eta = 0;
        for (int k = 0; k < 2; k++)
            eta += left[k] * (ran[k] ? spent[k] / ran[k] : all);
        char t[32], e[32];
        fmt_time(dt, t, sizeof t);
        fmt_time(eta, e, sizeof e);
        if (ok) {
            fprintf(stderr, "joule sweep: [%d/%d] %s done in %s; about %s left\n", done, n_todo,
                    u->id, t, e);
        } else {
            failed++;
            if (WIFSIGNALED(st))
                fprintf(stderr, "joule sweep: [%d/%d] %s FAILED (signal %d) after %s; see %s\n",
                        done, n_todo, u->id, WTERMSIG(st), t, log);
            else
                fprintf(stderr, "joule sweep: [%d/%d] %s FAILED (exit %d) after %s; see %s\n", done,
                        n_todo, u->id, WIFEXITED(st) ? WEXITSTATUS(st) : -1, t, log);
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(todo);
    if (interrupted)
        return cli_fail(&c->a,
                        "interrupted: %d of %d units ran; run the same command again to resume",
                        done, n_todo);
    if (failed)
        return cli_fail(&c->a, "%d of %d units failed (their logs are in %s)", failed, n_todo,
                        logs);
    fprintf(stderr, "joule sweep: all %d units done; `joule report %s -o REPORTDIR` next\n", p->n,
            o->outdir);
    return 0;
}

static int print_plan(const struct sweep_cli *c, const struct sweep_plan *p)
{
    int done = 0;
    for (int i = 0; i < p->n; i++)
        done += sweep_unit_done(&c->o, &p->units[i]);
    printf("# %d units (%d done); columns: K id kind model device suite shard state\n", p->n, done);
    for (int i = 0; i < p->n; i++) {
        const struct sweep_unit *u = &p->units[i];
        printf("%d\t%s\t%s\t%s\t%s\t%s\t", u->index, u->id, sweep_kind_name(u->kind), u->model,
               u->device, u->suite ? u->suite : "-");
        if (u->kind == SWEEP_EVAL)
            printf("%d/%d", u->shard_i, u->shard_n);
        else
            printf("-");
        printf("\t%s\n", sweep_unit_done(&c->o, u) ? "done" : "todo");
    }
    return 0;
}

int cli_sweep(int argc, char **argv)
{
    struct sweep_cli c;
    int rc = parse(argc, argv, &c);
    if (rc) {
        free_cli(&c);
        return rc < 0 ? 0 : rc;
    }
    struct sweep_plan p;
    char err[512];
    if (sweep_plan_make(&c.o, &p, err, sizeof err) != 0) {
        free_cli(&c);
        return cli_usage(&c.a, "%s", err);
    }
    if (c.slurm.n_taken > 0) { /* a --slurm option */
        if (c.slurm.dry_run && c.slurm.submit && !c.plan && c.unit < 0) print_plan(&c, &p);
        rc = cli_slurm_run(&c.slurm, &c.a, &c.o, &p, c.force, c.plan, c.unit >= 0);
    } else if (c.plan) {
        rc = print_plan(&c, &p);
    } else {
        if (c.unit >= p.n)
            rc = cli_usage(&c.a, "--unit %ld: the plan has units 0 to %d", c.unit, p.n - 1);
        else if (file_mkdirs(c.o.outdir, err, sizeof err))
            rc = cli_fail(&c.a, "%s", err);
        else if (c.unit >= 0)
            rc = run_unit(&c, &p.units[c.unit], argc, argv);
        else
            rc = run_all(&c, &p, argc, argv);
    }
    sweep_plan_free(&p);
    free_cli(&c);
    return rc;
}
