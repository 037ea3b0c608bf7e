/* serve — an OpenAI-compatible HTTP server over one model, decoding many requests together,
 * that tells every client what its request cost in energy.
 *
 * Endpoints: POST /v1/completions, POST /v1/chat/completions (both with "stream": true as
 * server-sent events), GET /v1/models, GET /health, GET /metrics (Prometheus text).
 *
 * Scheduling (continuous batching): the backend holds `parallel` slots. One engine thread
 * runs steps; before each step, queued requests take free slots, and a finished, failed or
 * disconnected request leaves its slot at once. A step holds one decode row for every slot
 * that is generating, then prompt rows of slots still reading their prompt, chunked to fill
 * the backend's batch: prompts are processed in the same step as the others' decoding, so a
 * long prompt never stalls the streams already running (the decode rows ride along with the
 * prompt chunk's pass over the weights), and a new prompt never waits for others to finish.
 *
 * Energy: each step is a meter window; its joules (and its time) are shared among the
 * requests in the step by their rows (tokens) in it. Every response's usage gives the
 * request's joules, the meter's source label, the energy cost at the configured price and,
 * when a hardware cost per hour is given, its share of that; /metrics totals the joules.
 */
#ifndef JOULE_SERVE_H
#define JOULE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "meter.h"
#include "model.h"

struct serve_config {
    const char *host;          /* address to listen on (default 127.0.0.1) */
    int port;                  /* 0: an ephemeral port (serve_port tells which) */
    const char *api_key;       /* NULL: no key; else "Authorization: Bearer KEY" is required */
    const char *model_id;      /* the name /v1/models lists and requests may give */
    const char *chat_template; /* NULL: from the model's metadata */
    size_t max_body;           /* bytes (default 4 MiB) */
    int head_timeout_ms;       /* the request head must arrive within this (default 10 s) */
    int idle_timeout_ms;       /* longest silence inside a body (default 30 s) */
    int32_t max_queue;         /* requests waiting for a slot before 503 (default 64) */
    int32_t max_conns;         /* open connections before 503 (default 128) */
    int32_t max_prompts;       /* prompts in one completions request (default 16) */
    struct meter *meter;       /* NULL: energy n/a */
    double price_kwh, pue;     /* energy cost (defaults 0.15, 1.0) */
    bool hw_hourly_known;      /* hardware cost per hour (cost_hw_hourly) is given */
    double hw_hourly;
    FILE *log; /* one line per request; NULL: quiet */
};

/* Defaults for every field (host 127.0.0.1, port 8080, ...). */
void serve_config_defaults(struct serve_config *c);

struct server;

/* Listens and starts the threads; the backend's n_seq slots are used (forward_batch), or
 * one slot through forward() when the backend has no forward_batch. */
int serve_start(const struct serve_config *cfg, const struct model *m, struct backend *b,
                struct server **out, char *err, size_t errlen);
int serve_port(const struct server *s);
/* Stops accepting, ends running requests (their clients get what was generated, with
 * finish_reason "abort"), joins every thread and frees the server. */
void serve_stop(struct server *s);

struct serve_stats {
    uint64_t requests, errors, prompt_tokens, gen_tokens, steps, rows;
    int32_t queued, active, slots, conns;
    double joules, busy_s;
};
void serve_get_stats(struct server *s, struct serve_stats *st);

/* `joule serve` */
int serve_main(int argc, char **argv);

#endif
