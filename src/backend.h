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

#include "model.h"

struct backend;

struct backend_ops {
    /* logits: n x n_vocab floats when all_logits, else 1 x n_vocab (the last token) */
    int (*forward)(struct backend *b, const int32_t *tokens, int32_t n, int32_t pos,
                   bool all_logits, float *logits, char *err, size_t errlen);
    void (*destroy)(struct backend *b);
};

struct backend {
    const struct backend_ops *ops;
    const struct model *model;
    int32_t n_ctx;       /* KV cache capacity in positions */
    int32_t max_batch;   /* largest n per forward call */
    char name[64];       /* "cpu", "vulkan" */
    char device[256];    /* human-readable device description */
    char pci_bus_id[16]; /* "0000:01:00.0" for a PCI GPU (meter matching), else "" */
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
static inline void backend_destroy(struct backend *b)
{
    if (b) b->ops->destroy(b);
}

#endif
