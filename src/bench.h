/* bench — speed tests as llama-bench defines them, on any backend.
 *
 *   pp<N>  a prompt of N tokens in one forward call, from position d
 *   tg<N>  N forward calls of one token each, from position d
 * d is the KV depth: before each timed run the cache is filled with d tokens (not
 * timed). Each test runs once as a warm-up (tg: one token, as llama-bench does), then
 * r timed repetitions; the result is the mean and the sample standard deviation of
 * tokens/s over the repetitions. Token ids are random: speed does not depend on them.
 * Energy comes from the meter, over the timed spans only (fills and warm-up are
 * outside the window). Where the meter reads a real sensor and the r repetitions add up
 * to less than energy_min_s, more repetitions run for the energy window alone (a fast
 * GPU finishes pp512 in milliseconds, far below what a counter resolves); tokens/s
 * statistics still come from the r repetitions. The module prints nothing: progress
 * goes to a callback.
 *
 *   tg<N> xP  P sequences decoded together (parallel > 1): N steps, each one forward_batch
 *             of P rows (one token of each sequence, each at its own KV depth d + i), so a
 *             step reads the weights once for P tokens; tokens/s, J/token and $/Mtok are
 *             the aggregate over all sequences (N x P tokens a run). The backend must hold
 *             P sequences (backend n_seq).
 */
#ifndef JOULE_BENCH_H
#define JOULE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "meter.h"

enum bench_kind { BENCH_PP, BENCH_TG };

struct bench_test {
    enum bench_kind kind;
    int32_t n;
    int32_t depth;
    int32_t parallel; /* tg: sequences decoded together; 0 or 1 = one */
};

/* "pp512", "tg128", "pp512 @ d1024" (llama-bench's names), "tg128 x16" */
void bench_test_name(const struct bench_test *t, char *buf, size_t len);

struct bench_stats {
    double mean, stddev; /* stddev: sample (n - 1); 0 when n < 2 */
    int n;
};
void bench_stats(const double *x, int n, struct bench_stats *out);

struct bench_result {
    struct bench_test test;
    int reps;
    double *ts; /* tokens/s of each repetition (reps entries) */
    struct bench_stats tps;
    double seconds;  /* sum of the timed spans */
    uint64_t tokens; /* reps x n */
    struct meter_reading energy;
    uint64_t energy_tokens; /* tokens in the energy window (tokens + the extra repetitions) */
    int energy_extra_reps;
};
void bench_result_free(struct bench_result *r);

/* Called after each run: rep 0 is the warm-up, then 1..reps, then reps+1.. for the runs
 * that only lengthen the energy window. */
typedef void (*bench_progress)(void *ctx, const struct bench_test *t, int rep, int reps,
                               double tokens_per_s);

/* KV positions the test needs. */
int32_t bench_ctx_needed(const struct bench_test *t);

/* Runs one test; meter may be NULL. Returns 0, or -1 with the backend's message. */
int bench_run(struct backend *b, struct meter *meter, const struct bench_test *t, int reps,
              double energy_min_s, uint64_t seed, bench_progress progress, void *ctx,
              struct bench_result *out, char *err, size_t errlen);

#endif
