/* generate — the token loop shared by `joule run`, `joule chat` and eval's generation
 * suites (gsm8k ...): sample (or take the argmax), stop at an end-of-generation token, a
 * token budget, a full context or a stop string, stream the text, run the token.
 *
 * The backend's cache is addressed by position: seq[0..len-1] are the tokens whose rows
 * it holds, and logits are those after seq[len-1]. generate() appends to seq; the last
 * token it appends is not run (its logits would not be used), so on return the cache
 * holds seq[0..len-2]. */
#ifndef JOULE_GENERATE_H
#define JOULE_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct backend;
struct sampler;
struct tokenizer;

struct gen_state {
    struct backend *b;
    const struct tokenizer *tok;
    float *logits;  /* n_vocab floats */
    int32_t *seq;   /* cap entries */
    int32_t len;    /* tokens in seq */
    int32_t cap;    /* the context: generation stops when seq is full */
    uint64_t n_run; /* tokens run through the model (added to) */
};

struct gen_params {
    struct sampler *smp; /* NULL: greedy (the argmax, first on ties), nothing accepted */
    int32_t max_new;     /* < 0: until end of generation or a full context */
    bool ignore_eos;     /* keep going after an end-of-generation token */
    bool decoded;        /* out->text is tokenizer_decode of the new tokens (no space prefix) */
    const char *const *until; /* stop once the text holds one of these; it is cut there */
    int n_until;
    /* called with each piece of complete UTF-8 as it is generated (before any cut);
     * non-zero stops generation with that status (err set by the callee) */
    int (*emit)(void *ctx, const char *text, size_t n, char *err, size_t errlen);
    void *ctx;
};

struct gen_result {
    int32_t n_gen; /* tokens appended */
    char *text;    /* the text generated (cut before a stop string), malloc'd */
    bool eog;      /* stopped at an end-of-generation token */
};

/* 0, or -1 with err (the text is freed then). */
int generate(struct gen_state *g, const struct gen_params *p, struct gen_result *out, char *err,
             size_t errlen);

/* Runs n tokens from position pos in batches the backend accepts; logits: the last one's.
 * Adds n to *n_run when n_run is not NULL. */
int gen_prefill(struct backend *b, const int32_t *ids, int32_t n, int32_t pos, float *logits,
                uint64_t *n_run, char *err, size_t errlen);

#endif
