/* backend — the contract every executor of the graph (cpu, vk) fulfils.
 *
 * The KV cache is addressed by position: forward(tokens, n, pos) writes the cache
 * rows pos..pos+n-1 and attends over 0..pos+n-1, so "truncating" the cache is
 * just calling forward with an earlier pos.
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

struct backend_ops {
    /* logits: n x n_vocab floats when all_logits, else 1 x n_vocab (the last token) */
    int (*forward)(struct backend *b, const int32_t *tokens, int32_t n, int32_t pos,
                   bool all_logits, float *logits, char *err, size_t errlen);
    void (*destroy)(struct backend *b);
};

struct backend {
    const struct backend_ops *ops;
    const struct model *model;
    int32_t n_ctx;            /* KV cache capacity in positions */
    int32_t max_batch;        /* largest n per forward call */
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
static inline void backend_destroy(struct backend *b)
{
    if (b) b->ops->destroy(b);
}

#endif
