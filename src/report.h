/* report — joins bench, eval and sweep results of any number of runs and machines into one
 * table of quality x speed x energy x cost, finds the Pareto front, and writes report.md,
 * report.html (self-contained: charts inline) and PNG charts (report_chart.c).
 *
 * Inputs are untrusted JSON files (a result may come from another machine or be cut short):
 * every field is checked for type and range, and a file that is not a well-formed joule
 * result is rejected with an error naming the file and the field.
 *
 * Rows are keyed by (model identity, device, precision); the model's identity is its
 * sha256 when the file carries one, else its file name and size. Several inputs for the same
 * row and suite (re-runs, shards) are combined only when their settings agree: shards of one
 * run merge (weighted by items), and results whose settings differ (limit, shots, style,
 * suite version, joule version...) are kept apart and listed in the report's "Differences"
 * section instead of being joined silently.
 */
#ifndef JOULE_REPORT_H
#define JOULE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { REPORT_MAX_SUITES = 32 };

struct report_score {
    bool have;
    char metric[48];    /* the suite's headline metric: acc_norm, acc, mc2, exact_match ... */
    double value, se;   /* se NaN when unknown */
    long items;         /* items scored */
    bool lower_better;  /* perplexities */
    int shards;         /* shard results merged into it (1 = a whole run) */
    char settings[256]; /* limit, shots, style ... as text (for the differences) */
};

struct report_row {
    char key[160];    /* model identity | device | precision */
    char model[160];  /* file stem, e.g. tiny-llama-Q4_0 */
    char base[160];   /* the stem without the quantization, e.g. tiny-llama */
    char quant[32];   /* Q4_0, Q4_K_M, F16 ... ("" unknown) */
    char sha256[65];  /* "" unknown */
    char backend[32]; /* cpu, vulkan */
    char device[256]; /* the backend's description */
    char precision[24];
    uint64_t size_bytes, params; /* 0 unknown */
    double bpw;                  /* bits per weight, NaN unknown */
    /* bench (the first pp and tg test at depth 0); NaN when absent */
    double pp_ts, pp_sd, tg_ts, tg_sd;
    int pp_n, tg_n;
    double pp_jtok, tg_jtok, tg_tokj;
    char pp_src[24], tg_src[24];          /* counter / power-integrated / estimate / none */
    double usd_energy, usd_hw, usd_total; /* $/Mtok of generation (tg), NaN unknown */
    char bench_settings[160];
    /* eval */
    struct report_score scores[REPORT_MAX_SUITES]; /* indexed like report.suites */
    double eval_jtok; /* energy per token over the eval runs, NaN unknown */
    char eval_src[24];
    /* derived */
    double quality, cost; /* the front's axes; NaN when the row has no figure */
    bool front;
    int n_inputs;
    char provenance[256]; /* joule version, commit, host, date of the latest input */
};

struct report_diff {
    char text[512];
};

struct report {
    struct report_row *rows;
    int n_rows, cap_rows;
    char suites[REPORT_MAX_SUITES][64];
    int n_suites;
    struct report_diff *diffs;
    int n_diffs, cap_diffs;
    int n_files;
    char quality_by[64]; /* "mean" or a suite */
    bool cost_usd;       /* front on $/Mtok instead of J/token */
};

struct report_opts {
    const char *quality; /* NULL/"mean": the mean of the suites every row has; else a suite */
    bool cost_usd;       /* front on $/Mtok (tg) instead of J/token (tg) */
    bool skip_bad;       /* a malformed input is reported on stderr and skipped */
};

/* Reads the files and folders (a folder: its *.json files, not recursing), joins them and
 * computes the front. Returns 0, or -1 with a message naming the file and the problem. */
int report_load(const char *const *paths, int n_paths, const struct report_opts *o,
                struct report *out, char *err, size_t errlen);
/* Reads one file into the report (used by report_load; exposed for tests). */
int report_add_file(struct report *r, const char *path, char *err, size_t errlen);
/* Recomputes the quality and cost axes and marks the front. */
void report_finish(struct report *r, const struct report_opts *o);
void report_free(struct report *r);

/* report.md, report.html and the charts into dir (made when missing). */
int report_write(const struct report *r, const char *dir, char *err, size_t errlen);
/* report.md's text without the charts (e.g. to stdout). */
void report_write_md(FILE *f, const struct report *r);

/* ---- charts (report_chart.c) ---- */

/* Writes the charts that have data into dir; names[] gets the file names (at most max),
 * *n their count. Returns 0, or -1 with a message. */
int report_charts(const struct report *r, const char *dir, char names[][64], int max, int *n,
                  char *err, size_t errlen);

#endif
