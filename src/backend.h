/* backend — the contract every executor of the graph (cpu, vk) fulfils.
 *
 * The KV cache is addressed by position: forward(tokens, n, pos) writes the cache
 * rows pos..pos+n-1 and attends over 0..pos+n-1, so "truncating" the cache is
 * just calling forward with an earlier pos.
 *
 * A backend may hold several sequences (slots, n_seq of them), each with its own KV
 * cache addressed by position. forward() works on slot 0; forward_batch() runs rows of
 * any slots in one pass over the weights (every matrix product is read once for all
 * rows), which is what makes serving many clients cheaper per token than one.
 */
#ifndef JOULE_BACKEND_H
#define JOULE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

struct backend;

/* How activations meet the weights. exact: float activations against the weights as
 * stored (the reference; ../shared/models tolerances). fast: activations quantized to 8
 * bits per 32 values and integer dot products (CPU backend, quantized weight types).
 * Every output that reports speed or accuracy records which one ran. */
enum precision { PRECISION_EXACT = 0, PRECISION_FAST = 1 };
/* what a command uses when --precision is not given */
#define PRECISION_DEFAULT PRECISION_EXACT

static inline const char *precision_name(enum precision p)
{
    return p == PRECISION_FAST ? "fast" : "exact";
}
/* "exact" or "fast"; returns 0, or -1 for anything else */
static inline int precision_parse(const char *s, enum precision *out)
{
    if (s && strcmp(s, "exact") == 0)
        *out = PRECISION_EXACT;
    else if (s && strcmp(s, "fast") == 0)
        *out = PRECISION_FAST;
    else
        return -1;
    return 0;
}

/* Rows of several sequences for one forward step. Row i is token tokens[i] of slot
 * seq[i] at position pos[i] of that slot's cache; it attends to that slot's rows
 * 0..pos[i] (rows of the same slot in this batch included, so a prompt chunk and the
 * decode steps of other slots can share a step). Rows of one slot come in position order. */
struct backend_batch {
    int32_t n;             /* rows, 1..max_batch */
    const int32_t *tokens; /* n token ids */
    const int32_t *pos;    /* n positions */
    const int32_t *seq;    /* n slots, 0..n_seq-1 */
    const bool *logits;    /* n: whether a row's logits are wanted; NULL: none */
};

struct backend_ops {
    /* logits: n x n_vocab floats when all_logits, else 1 x n_vocab (the last token) */
    int (*forward)(struct backend *b, const int32_t *tokens, int32_t n, int32_t pos,
                   bool all_logits, float *logits, char *err, size_t errlen);
    void (*destroy)(struct backend *b);
    /* NULL when the backend holds one sequence. logits: one n_vocab row for each row
     * whose logits flag is set, in row order. */
    int (*forward_batch)(struct backend *b, const struct backend_batch *batch, float *logits,
                         char *err, size_t errlen);
};

struct backend {
    const struct backend_ops *ops;
    const struct model *model;
    int32_t n_ctx;            /* KV cache capacity in positions */
    int32_t max_batch;        /* largest n per forward call; rows per forward_batch call */
    int32_t n_seq;            /* sequences (slots) held: 1 unless forward_batch is set */
    char name[64];            /* "cpu", "vulkan" */
    char device[256];         /* human-readable device description */
    char pci_bus_id[16];      /* "0000:01:00.0" for a PCI GPU (meter matching), else "" */
    enum precision precision; /* in effect; set through backend_set_precision() */
    bool has_fast;            /* the backend implements PRECISION_FAST */
};

/* Checks the input once for every backend, so their forward() may trust it. */
static inline int backend_forward(struct backend *b, const int32_t *tokens, int32_t n, int32_t pos,
                                  bool all_logits, float *logits, char *err, size_t errlen)
{
    if (n < 1 || pos < 0 || pos > b->n_ctx - n) {
        snprintf(err, errlen, "context full: %d tokens at position %d exceed the context of %d", n,
                 pos, b->n_ctx);
        return -1;
    }
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= b->model->cfg.n_vocab) {
            snprintf(err, errlen, "token id %d is out of range (vocabulary has %d)", tokens[i],
                     b->model->cfg.n_vocab);
            return -1;
        }
    return b->ops->forward(b, tokens, n, pos, all_logits, logits, err, errlen);
}
/* Asks for a precision; a backend without the fast path stays exact. Returns the one
 * in effect (what outputs must record). */
static inline enum precision backend_set_precision(struct backend *b, enum precision p)
{
    b->precision = p == PRECISION_FAST && b->has_fast ? PRECISION_FAST : PRECISION_EXACT;
    return b->precision;
}
/* Checks a batch (sizes, slots, positions, token ids), then runs it. */
static inline int backend_forward_batch(struct backend *b, const struct backend_batch *bt,
                                        float *logits, char *err, size_t errlen)
{
    if (!b->ops->forward_batch) {
        snprintf(err, errlen, "the %s backend runs one sequence at a time", b->name);
        return -1;
    }
    if (bt->n < 1 || bt->n > b->max_batch) {
        snprintf(err, errlen, "a batch of %d rows (this backend takes 1..%d)", bt->n, b->max_batch);
        return -1;
    }
    for (int32_t i = 0; i < bt->n; i++) {
        if (bt->seq[i] < 0 || bt->seq[i] >= b->n_seq) {
            snprintf(err, errlen, "slot %d out of range (%d slots)", bt->seq[i], b->n_seq);
            return -1;
        }
        if (bt->pos[i] < 0 || bt->pos[i] >= b->n_ctx) {
            snprintf(err, errlen, "context full: position %d exceeds the context of %d", bt->pos[i],
                     b->n_ctx);
            return -1;
        }
        if (bt->tokens[i] < 0 || bt->tokens[i] >= b->model->cfg.n_vocab) {
            snprintf(err, errlen, "token id %d is out of range (vocabulary has %d)", bt->tokens[i],
                     b->model->cfg.n_vocab);
            return -1;
        }
    }
    return b->ops->forward_batch(b, bt, logits, err, errlen);
}
static inline void backend_destroy(struct backend *b)
{
    if (b) b->ops->destroy(b);
}

#endif
