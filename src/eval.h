/* eval — runs suites on a model and backend and turns per-item values into the scores
 * lm-evaluation-harness reports (see ../shared/suites-data/SCORING.md).
 *
 * Every item of a suite leaves a row of values (its columns: acc, acc_norm, ll, ...).
 * The scores are aggregated from the rows alone, so results of shards (--shard i/N)
 * merge into exactly the numbers a whole run gives.
 */
#ifndef JOULE_EVAL_H
#define JOULE_EVAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "eval_run.h"
#include "eval_suite.h"

enum eval_style { STYLE_LMEVAL = 0, STYLE_LLAMACPP };

struct eval_progress {
    const char *suite;
    long done, total;
    double seconds;
    double running; /* mean of the first score column so far (NaN: none) */
    bool final;
};

struct eval_opts {
    const char *data_dir;
    long limit; /* items per suite, 0 = all */
    int shots;  /* -1: the suite's default */
    long seed;  /* -1: the suite's few-shot seed (1234) */
    enum eval_style style;
    int shard_i, shard_n; /* 1-based i of n; n = 1: whole */
    FILE *log_items;      /* JSONL per item, or NULL */
    /* called as items complete (at most 4 times a second, and once at the end of a suite) */
    void (*progress)(void *ctx, const struct eval_progress *p);
    void *progress_ctx;
};

enum { EVAL_MAX_COLS = 8 };

struct eval_metric {
    char group[64]; /* "" for the suite, else a group / subject */
    int level;      /* 0 suite, 1 group (MMLU category), 2 subject */
    char name[48];
    double value, se; /* se NaN when not defined */
    int n;
};

struct eval_result {
    char suite[64];
    char task[128];
    char def[256]; /* the suite name or .suite path it came from */
    int shots;
    long n_items; /* items of the whole (limited) suite */
    int n_cols;
    char cols[EVAL_MAX_COLS][16];
    long n_rows, cap;
    long *idx;    /* item index of each row */
    int *grp;     /* group index of each row, -1 none */
    double *vals; /* n_rows x n_cols */
    char **groups;
    int n_groups;
    double seconds;
    uint64_t tokens;
    struct eval_metric *metrics;
    int n_metrics;
    char style[16];
};

/* Runs one suite; res is filled (free with eval_result_free). */
int eval_run_suite(const struct suite_def *d, struct eval_runner *r, const struct eval_opts *o,
                   struct eval_result *res, char *err, size_t errlen);
/* (Re)computes res->metrics from the rows. */
int eval_aggregate(const struct suite_def *d, struct eval_result *res, char *err, size_t errlen);
void eval_result_free(struct eval_result *res);

/* Adds a row; returns its value array (n_cols, NaN-filled). */
double *eval_result_row(struct eval_result *res, long idx, const char *group);
int eval_col(const struct eval_result *res, const char *name);

/* Output: the lm-eval-like table, and JSON (rows included, so results can be merged). */
void eval_print_md(FILE *f, const struct eval_result *res, int n);
struct eval_run_info {
    const char *model_path, *model_sha256, *model_name, *arch, *backend, *device;
    int32_t max_len;
    bool bos;
    long limit;
    int shots;
    long seed;
    const char *style;
    int shard_i, shard_n;
    const char *energy_json; /* a JSON object, or NULL */
    int argc;                /* the command line for the provenance (argv NULL: none) */
    char *const *argv;
};
void eval_print_json(FILE *f, const struct eval_run_info *info, const struct eval_result *res,
                     int n);

/* Reads the JSON of one or more runs (shards) and merges the rows of each suite. */
int eval_merge(const char *const *files, int n_files, struct eval_result **out, int *n_out,
               char *info_json_err, size_t errlen);

#endif
