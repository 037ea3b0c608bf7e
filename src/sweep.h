/* sweep — bench and evaluate several models on several devices in one command, as a plan
 * of independent units, each written to its own result file.
 *
 * A sweep's options (models, devices, suites, shards, bench lists, limits) expand into a
 * plan: an ordered list of units. The order is fixed by the options alone, so the same
 * command line always gives the same plan, on any machine:
 *
 *   for each model (in -m order), for each device (in --device order):
 *       the bench unit (unless --no-bench), then
 *       for each suite (in --suite order), for each shard 1..N: an eval unit
 *
 * Unit K (0-based) is named by its id, "<model stem>.<device>.<bench|suite>[.<i>of<N>]"
 * (file-name safe: anything outside [A-Za-z0-9._-] becomes '_'), and its result is the
 * file <outdir>/<id>.json. A unit is done when that file exists and is a complete result
 * (sweep_unit_done); the file is written to <outdir>/.<id>.json.tmp.<host>.<pid> and renamed
 * into place, so a crash or Ctrl-C leaves either no file or a whole one, and a re-run of the same
 * command skips what is done (resume).
 *
 * The command-line interface built on this (cli_sweep.c), which job schedulers use:
 *
 *   joule sweep OPTIONS --plan       prints the plan, one unit a line, tab-separated:
 *                                      K  id  kind  model  device  suite  shard  state
 *                                    (kind bench|eval; suite and shard "-" for bench;
 *                                    shard "I/N"; state done|todo). Lines starting with
 *                                    '#' are comments (the first says how many units).
 *   joule sweep OPTIONS --unit K     runs unit K in this process and writes its file
 *                                    (exit 0 when written or already done, 1 on failure)
 *   joule sweep OPTIONS              runs every unit not done, each as a child process
 *                                    (/proc/self/exe sweep OPTIONS --unit K), so one unit
 *                                    that fails or crashes does not end the sweep
 *
 * For a Slurm job array: N=$(joule sweep OPTIONS --plan | grep -vc '^#'), then
 * `sbatch --array=0-$((N-1))` a script running `joule sweep OPTIONS --unit $SLURM_ARRAY_TASK_ID`;
 * the same -o folder on a shared file system collects every unit's file.
 *
 * The result file of a unit (schema "joule-sweep-unit", version 1):
 *   {"joule_sweep_unit": 1, "complete": true,
 *    "unit": {"index", "id", "kind", "model", "device", "suite", "shard"},
 *    "provenance": {...provenance.h...},
 *    "model": {"path", "file", "size_bytes", "sha256"},
 *    "result": <the JSON of `joule bench -o json` or `joule eval -o json`>}
 * This module builds plans and files; it prints nothing.
 */
#ifndef JOULE_SWEEP_H
#define JOULE_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

enum sweep_kind { SWEEP_BENCH, SWEEP_EVAL };

/* The schema version of a unit's result file. */
#define SWEEP_SCHEMA 1

enum { SWEEP_MAX_LIST = 64, SWEEP_MAX_PASS = 64 };

struct sweep_opts {
    const char *models[SWEEP_MAX_LIST]; /* GGUF paths */
    int n_models;
    const char *devices[SWEEP_MAX_LIST]; /* device specs (cpu, vulkan, vulkan:N, auto) */
    int n_devices;
    const char *suites[SWEEP_MAX_LIST]; /* eval suite names; none: bench only */
    int n_suites;
    int shards; /* eval units per suite (1 = whole suite) */
    bool bench; /* a bench unit per (model, device) */
    const char *outdir;
    /* passed through to each unit's command (validated by that command) */
    const char *bench_args[SWEEP_MAX_PASS]; /* e.g. "-p", "128", "-r", "3" */
    int n_bench_args;
    const char *eval_args[SWEEP_MAX_PASS]; /* e.g. "--limit", "50", "--data", DIR */
    int n_eval_args;
};

struct sweep_unit {
    int index; /* K, 0-based */
    enum sweep_kind kind;
    const char *model;  /* points into the options */
    const char *device; /* points into the options */
    const char *suite;  /* NULL for bench */
    int shard_i, shard_n;
    char id[320];
};

struct sweep_plan {
    struct sweep_unit *units;
    int n;
};

/* Expands the options into the plan. Returns 0, or -1 with a message (no models, an empty
 * plan, a name too long). */
int sweep_plan_make(const struct sweep_opts *o, struct sweep_plan *out, char *err, size_t errlen);
void sweep_plan_free(struct sweep_plan *p);

/* "bench" or "eval" */
const char *sweep_kind_name(enum sweep_kind k);

/* <outdir>/<id>.json */
int sweep_unit_path(const struct sweep_opts *o, const struct sweep_unit *u, char *buf, size_t len);

/* Whether the unit's result file exists and is complete (parses, "complete": true, the
 * same unit id). */
bool sweep_unit_done(const struct sweep_opts *o, const struct sweep_unit *u);

/* The argument vector of the joule command that measures the unit ("bench ..." or
 * "eval ..."), always with -o json: argv[0] is the command name. *argc is set; the strings
 * point into the options and the unit, or into buf (scratch of at least 64 bytes). Returns
 * the number of arguments, or -1 when max is too small. */
int sweep_unit_argv(const struct sweep_opts *o, const struct sweep_unit *u, const char **argv,
                    int max, char *buf, size_t buflen);

/* Writes the unit's result file atomically: the envelope around result_json (the command's
 * JSON output, checked to parse), with provenance (command line argc/argv, threads) and the
 * model's identity (sha256 when hash is true, else size and name). Returns 0, or -1 with a
 * message naming the file. */
int sweep_unit_write(const struct sweep_opts *o, const struct sweep_unit *u,
                     const char *result_json, size_t result_len, int argc, char *const *argv,
                     int threads, bool hash, char *err, size_t errlen);

/* Removes leftover temporary files (.<id>.json.tmp.<host>.<pid>) of units in the plan
 * written on this host by a process that is gone (a killed sweep); other hosts' files are
 * left alone (they may be writing). */
void sweep_clean_tmp(const struct sweep_opts *o, const struct sweep_plan *p);

#endif
