/* cli_bench_impl.h — what cli_bench.c hands to the report writers in cli_bench_out.c. */
#ifndef JOULE_CLI_BENCH_IMPL_H
#define JOULE_CLI_BENCH_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "bench.h"
#include "meter.h"
#include "roofline.h"

enum { BENCH_MAX_LIST = 16 };

struct int_list {
    int32_t v[BENCH_MAX_LIST];
    int n;
};

struct bench_model {
    char name[256]; /* file base name or synthetic name */
    bool synthetic;
    bool is_default; /* chosen because no model was given */
    uint64_t bytes;  /* weight bytes */
    uint64_t params;
    char path[1024]; /* the file as given ("" synthetic) */
    char type[96];   /* llama-bench's model_type: "llama 2M Q4_0" */
};

struct bench_report {
    const struct bench_model *model;
    const struct backend *backend;
    const struct meter *meter;
    const struct cost_params *cost;
    const struct bench_result *res;
    int n;
    int32_t threads;
    /* filled by bench_measure_limits after the tests (zero: not measured) */
    bool roof_known; /* roof and the per-token figures */
    bool kv_known;   /* the backend's KV element size is known (CPU: float32) */
    struct roofline_model roof;
    struct roofline_bandwidth bw;
    uint64_t peak_rss; /* bytes, after the tests */
    uint64_t kv_bytes; /* the backend's KV cache */
    bool no_header;    /* csv: a later run of one command (several models or thread counts) */
    int argc;          /* the command line, for the provenance */
    char *const *argv;
};

/* The hardware limits of a report: per-token bytes and multiply-adds of the model, the peak
 * RSS so far, and (on the CPU) the measured or cached memory bandwidth. Call after the tests,
 * before writing: the bandwidth buffer must not count in the peak RSS. */
void bench_measure_limits(struct bench_report *r);

/* A test's roofline figures; false where the report has none. */
struct bench_roof {
    bool bytes_known; /* bytes per token (needs the KV element size) */
    double bytes_per_token, bytes_per_s;
    bool share_known; /* a measured bandwidth to compare with (tg only) */
    double share;
    double macs_per_token, macs_per_s;
};
bool bench_roof_of(const struct bench_report *r, const struct bench_result *x,
                   struct bench_roof *out);

/* Figures derived from one result, shared by every format. */
struct bench_derived {
    bool energy; /* a joule figure exists */
    double joules, j_per_tok, tok_per_j;
    bool tok_per_j_known; /* joules > 0 */
    bool above_idle;
    double above_j;
    struct cost_result cost;
    bool hw_known;
};
void bench_derive(const struct bench_report *r, const struct bench_result *x,
                  struct bench_derived *d);

void bench_write_md(FILE *out, const struct bench_report *r);
void bench_write_json(FILE *out, const struct bench_report *r);
void bench_write_csv(FILE *out, const struct bench_report *r);
/* One line per test with llama-bench's JSONL field names (build_commit ... samples_ts) and
 * joule's energy and cost fields (joule_*). */
void bench_write_jsonl(FILE *out, const struct bench_report *r);
/* "<arch> <params> <main weight type>", as llama-bench's model_type reads. */
struct model;
void bench_model_type(const struct model *m, char *buf, size_t len);

#endif
