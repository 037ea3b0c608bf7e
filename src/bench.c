/* bench — pp / tg tests with warm-up, repetitions and statistics. See bench.h. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "util.h"

void bench_test_name(const struct bench_test *t, char *buf, size_t len)
{
    int k = snprintf(buf, len, "%s%d", t->kind == BENCH_PP ? "pp" : "tg", t->n);
    if (t->kind == BENCH_TG && t->parallel > 1 && k > 0 && (size_t)k < len)
        k += snprintf(buf + k, len - (size_t)k, " x%d", t->parallel);
    if (t->depth > 0 && k > 0 && (size_t)k < len)
        snprintf(buf + k, len - (size_t)k, " @ d%d", t->depth);
}

void bench_stats(const double *x, int n, struct bench_stats *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0) return;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    out->mean = sum / n;
    if (n < 2) return;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - out->mean) * (x[i] - out->mean);
    out->stddev = sqrt(ss / (n - 1));
}

void bench_result_free(struct bench_result *r)
{
    free(r->ts);
    r->ts = NULL;
}

int32_t bench_ctx_needed(const struct bench_test *t)
{
    return t->depth + t->n;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct run_ctx {
    struct backend *b;
    int32_t *tokens; /* max(depth, n) random ids */
    float *logits;   /* parallel x n_vocab */
    char *err;
    size_t errlen;
    int32_t parallel;            /* sequences (1: forward, else forward_batch) */
    int32_t *btok, *bpos, *bseq; /* max_batch rows */
    bool *bwant;
};

/* Rows of slots 0..parallel-1: tokens tok[i], tok[i + 1].. of each at positions pos.. */
static int batch_step(struct run_ctx *c, int32_t rows_per_seq, int32_t pos, int32_t tok0, bool want)
{
    int32_t n = 0;
    for (int32_t s = 0; s < c->parallel; s++)
        for (int32_t i = 0; i < rows_per_seq; i++) {
            c->btok[n] = c->tokens[tok0 + i + s]; /* < max(n, depth) + parallel */
            c->bpos[n] = pos + i;
            c->bseq[n] = s;
            c->bwant[n] = want && i == rows_per_seq - 1;
            n++;
        }
    struct backend_batch bt = {n, c->btok, c->bpos, c->bseq, c->bwant};
    return backend_forward_batch(c->b, &bt, c->logits, c->err, c->errlen);
}

/* Fills the cache to depth (untimed). */
static int fill(struct run_ctx *c, int32_t depth)
{
    if (c->parallel > 1) { /* every sequence, in chunks that fit a batch */
        int32_t per = c->b->max_batch / c->parallel;
        for (int32_t done = 0; done < depth;) {
            int32_t n = depth - done < per ? depth - done : per;
            if (batch_step(c, n, done, done, false)) return -1;
            done += n;
        }
        return 0;
    }
    for (int32_t done = 0; done < depth;) {
        int32_t n = depth - done;
        if (n > c->b->max_batch) n = c->b->max_batch;
        if (backend_forward(c->b, c->tokens + done, n, done, false, c->logits, c->err, c->errlen))
            return -1;
        done += n;
    }
    return 0;
}

/* One timed run of n tokens from depth; *secs gets its wall time. */
static int timed(struct run_ctx *c, struct meter *meter, struct meter_window *w, enum bench_kind k,
                 int32_t n, int32_t depth, double *secs)
{
    if (meter) meter_window_begin(meter, w);
    double t0 = now_s();
    int rc = 0;
    if (k == BENCH_PP)
        rc = backend_forward(c->b, c->tokens, n, depth, false, c->logits, c->err, c->errlen);
    else if (c->parallel > 1)
        for (int32_t i = 0; i < n && rc == 0; i++)
            rc = batch_step(c, 1, depth + i, i, true);
    else
        for (int32_t i = 0; i < n && rc == 0; i++)
            rc = backend_forward(c->b, c->tokens + i, 1, depth + i, false, c->logits, c->err,
                                 c->errlen);
    *secs = now_s() - t0;
    if (meter) meter_window_end(meter, w);
    return rc;
}

static void run_ctx_free(struct run_ctx *c)
{
    free(c->tokens);
    free(c->logits);
    free(c->btok);
    free(c->bpos);
    free(c->bseq);
    free(c->bwant);
}

int bench_run(struct backend *b, struct meter *meter, const struct bench_test *t, int reps,
              double energy_min_s, uint64_t seed, bench_progress progress, void *ctx,
              struct bench_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->test = *t;
    out->reps = reps;
    if (t->n < 1 || t->depth < 0 || reps < 1) {
        snprintf(err, errlen, "bad test: n %d, depth %d, repetitions %d", t->n, t->depth, reps);
        return -1;
    }
    if (bench_ctx_needed(t) > b->n_ctx) {
        snprintf(err, errlen, "test needs %d positions but the context holds %d",
                 bench_ctx_needed(t), b->n_ctx);
        return -1;
    }
    const int32_t n_vocab = b->model->cfg.n_vocab;
    const int32_t par = t->kind == BENCH_TG && t->parallel > 1 ? t->parallel : 1;
    if (par > 1 && (!b->ops->forward_batch || b->n_seq < par || b->max_batch < par)) {
        snprintf(err, errlen, "%d sequences at once: the %s backend holds %d", par, b->name,
                 b->ops->forward_batch ? (b->n_seq < b->max_batch ? b->n_seq : b->max_batch) : 1);
        return -1;
    }
    int32_t ntok = (t->n > t->depth ? t->n : t->depth) + par;
    size_t mb = (size_t)b->max_batch;
    struct run_ctx c = {b,
                        malloc(sizeof(int32_t) * (size_t)ntok),
                        malloc(sizeof(float) * (size_t)n_vocab * (size_t)par),
                        err,
                        errlen,
                        par,
                        malloc(sizeof(int32_t) * mb),
                        malloc(sizeof(int32_t) * mb),
                        malloc(sizeof(int32_t) * mb),
                        malloc(sizeof(bool) * mb)};
    out->ts = calloc((size_t)reps, sizeof *out->ts);
    if (!c.tokens || !c.logits || !out->ts || !c.btok || !c.bpos || !c.bseq || !c.bwant) {
        run_ctx_free(&c);
        bench_result_free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t s = seed ? seed : 1;
    for (int32_t i = 0; i < ntok; i++)
        c.tokens[i] = (int32_t)(next_rand(&s) % (uint64_t)n_vocab);
    struct meter_window w;
    memset(&w, 0, sizeof w);
    int rc = 0;
    for (int rep = 0; rep <= reps && rc == 0; rep++) {
        if ((rc = fill(&c, t->depth)) != 0) break;
        int32_t n = rep == 0 && t->kind == BENCH_TG ? 1 : t->n; /* tg warm-up: one token */
        double secs;
        rc = timed(&c, rep > 0 ? meter : NULL, &w, t->kind, n, t->depth, &secs);
        if (rc) break;
        double tps = secs > 0 ? (double)n * par / secs : 0;
        if (rep > 0) {
            out->ts[rep - 1] = tps;
            out->seconds += secs;
            out->tokens += (uint64_t)n * (uint64_t)par;
        }
        if (progress) progress(ctx, t, rep, reps, tps);
    }
    out->energy_tokens = out->tokens;
    bool sensor =
        meter && (meter_source(meter) == METER_COUNTER || meter_source(meter) == METER_POWER);
    /* lengthen a short energy window; the cap stops a pathological loop */
    for (int extra = 1; rc == 0 && sensor && w.seconds < energy_min_s && extra <= 1000000;
         extra++) {
        double secs;
        if ((rc = fill(&c, t->depth)) != 0) break;
        if ((rc = timed(&c, meter, &w, t->kind, t->n, t->depth, &secs)) != 0) break;
        out->energy_tokens += (uint64_t)t->n * (uint64_t)par;
        out->energy_extra_reps = extra;
        if (progress)
            progress(ctx, t, reps + extra, reps, secs > 0 ? (double)t->n * par / secs : 0);
    }
    run_ctx_free(&c);
    if (rc) {
        bench_result_free(out);
        return -1;
    }
    bench_stats(out->ts, reps, &out->tps);
    if (meter)
        meter_read(meter, &w, &out->energy);
    else {
        out->energy.src = METER_NONE;
        out->energy.seconds = out->seconds;
        snprintf(out->energy.why, sizeof out->energy.why, "not metered");
    }
    return 0;
}
