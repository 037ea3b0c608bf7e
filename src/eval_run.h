/* eval_run — the log-likelihood runner: scores token sequences on a backend, reusing the
 * KV cache across requests.
 *
 * The backend's cache is addressed by position, so the runner remembers which tokens its
 * rows hold; a new sequence is run only from the first position where it differs (a
 * shared few-shot prefix or the shared context of a question's choices is computed once;
 * running a continuation at pos = len(context) overwrites the rows after the context,
 * which is the "truncate and restore" of the cache).
 */
#ifndef JOULE_EVAL_RUN_H
#define JOULE_EVAL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct backend;
struct model;
struct tokenizer;

struct eval_runner {
    struct backend *b;
    const struct model *m;
    const struct tokenizer *tok;
    int32_t n_vocab;
    int32_t max_len; /* lm-eval max_length: context + continuation are left-truncated to it */
    bool bos;        /* encode with the tokenizer's BOS (lm-eval >= 5302f2a); else none */
    int32_t *cache;  /* tokens held in KV rows 0..n_cache-1 */
    int32_t n_cache;
    float *logits;
    int32_t chunk;   /* rows of logits per forward call */
    uint64_t tokens; /* tokens run through the model */
    /* last encoded context (the choices of one question share it) */
    char *last_ctx;
    int32_t *last_ids;
    size_t last_n;
};

struct ll_result {
    double ll;   /* sum of log-probabilities of the scored tokens */
    double ll2;  /* sum of their squares (llama.cpp perplexity spread) */
    int32_t n;   /* scored tokens */
    bool greedy; /* every scored token was the argmax */
};

int runner_init(struct eval_runner *r, struct backend *b, const struct model *m, int32_t max_len,
                bool bos, char *err, size_t errlen);
void runner_free(struct eval_runner *r);

/* Encodes text (no special-token parsing). add_bos: put the BOS first. */
int runner_encode(struct eval_runner *r, const char *text, bool add_bos, int32_t **ids, size_t *n,
                  char *err, size_t errlen);

/* Scores seq[first..n-1], each token conditioned on all tokens before it (first >= 1);
 * per_tok (optional) gets each scored token's log-probability. */
int runner_score(struct eval_runner *r, const int32_t *seq, int32_t n, int32_t first,
                 struct ll_result *out, double *per_tok, char *err, size_t errlen);

/* lm-eval loglikelihood(context, continuation) as the HF backend computes it: trailing
 * whitespace of the context moves to the continuation; continuation tokens are
 * enc(context + continuation)[len(enc(context)):]; an empty context becomes the BOS (else
 * EOS) token; the input is left-truncated to max_len. n_ctx_out: context tokens used. */
int runner_ll(struct eval_runner *r, const char *context, const char *continuation,
              struct ll_result *out, char *err, size_t errlen);

/* lm-eval loglikelihood_rolling(text): disjoint windows of max_len tokens, the first
 * after the BOS (else EOS) token, each later one after the single token before it, the
 * last one with as much context as fits. */
int runner_rolling(struct eval_runner *r, const char *text, struct ll_result *out, char *err,
                   size_t errlen);

/* Greedy generation from context (left-truncated to max_len - max_gen) until an end of
 * generation token, max_gen tokens, or one of the n_until strings appears; the text is cut
 * before the stop string. *out is malloc'd. */
int runner_generate(struct eval_runner *r, const char *context, const char *const *until,
                    int n_until, int max_gen, char **out, char *err, size_t errlen);

#endif
