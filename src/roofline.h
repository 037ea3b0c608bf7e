/* roofline — how close a bench result comes to the hardware's limit.
 *
 * Generation (tg) reads every weight once per token, plus the KV cache up to the token's
 * position: bytes per token x tokens/s is the memory traffic it achieves, and its share of
 * the device's measured bandwidth says how close to the metal it runs (llama.cpp's Q4_0
 * decode on a 2-core EPYC: 0.64 GB x 47.5 t/s = 30 GB/s, the machine's bandwidth).
 * Prompt processing (pp) reuses each weight for many tokens and is bound by arithmetic:
 * its figure is multiply-adds per second (a token's matrix-vector products, plus attention
 * over the positions before it).
 *
 * The bandwidth is measured by joule itself: a multi-threaded streaming read of a buffer
 * far larger than the caches (the best of several passes), with the bench's thread count,
 * and cached per CPU model and thread count in $JOULE_CACHE_DIR (default
 * $XDG_CACHE_HOME/joule or ~/.cache/joule), file bandwidth.tsv; delete a line to measure
 * again. Vulkan devices are not measured yet (a read shader is the way): their share is n/a.
 */
#ifndef JOULE_ROOFLINE_H
#define JOULE_ROOFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "model.h"

/* What one token costs, from the model's tensor shapes and types. */
struct roofline_model {
    uint64_t weight_bytes;      /* weights a single-token step reads: every matrix and norm, of
                                   the token embedding only its one row (unless it is also the
                                   output matrix) */
    uint64_t kv_bytes_per_pos;  /* K and V of one position, all layers */
    uint64_t layer_macs;        /* multiply-adds of the layers' matrices per token */
    uint64_t output_macs;       /* of the output matrix (once per forward call: last row only) */
    uint64_t attn_macs_per_pos; /* attention (q.k and the weighted sum of v), all heads and
                                   layers, per token per attended position */
};

/* kv_elem_bytes: bytes of one K or V element in the backend's cache (4: float32). */
void roofline_model_of(const struct model *m, uint32_t kv_elem_bytes, struct roofline_model *out);

/* Per-token figures of one test as bench runs it: tg is n single-token steps from depth d
 * (each reads all weights and d + i + 1 positions of KV), pp is one call of n tokens
 * (the output matrix once, attention over d + i + 1 positions for token i). */
struct roofline_test {
    double bytes_per_token; /* tg: weights + KV read per token; pp: weights once per call / n
                               + the KV it reads, per token */
    double macs_per_token;
};
void roofline_test_of(const struct roofline_model *rm, const struct bench_test *t,
                      struct roofline_test *out);

/* The device's memory bandwidth. */
struct roofline_bandwidth {
    bool known;
    double bytes_per_s;
    bool cached;    /* read from the cache file, not measured in this run */
    bool disturbed; /* every pass was preempted (a busy machine): a low bound, not cached */
    char how[160];  /* "2-thread streaming read of 256 MiB, best of 12 passes" or why not */
    char key[200];  /* the cache key (CPU model and threads) */
};

/* Measures (or reads from the cache) the CPU's streaming-read bandwidth with `threads`
 * threads; out->known is false with a reason in how when it cannot. */
void roofline_cpu_bandwidth(int threads, struct roofline_bandwidth *out);

/* The measurement itself, without the cache: a buffer of mib MiB read by `threads` threads,
 * up to `passes` times (3 s at most); returns the best pass in bytes/s, or 0 when the
 * buffer cannot be had. *clean: the figure comes from a pass no thread was preempted in
 * (thread CPU time >= 80% of the pass); without one it is the best disturbed pass. */
double roofline_measure_read(int threads, uint32_t mib, int passes, bool *clean);

/* Peak resident set size of this process so far (getrusage), in bytes. */
uint64_t roofline_peak_rss(void);

#endif
