/* sample — choose the next token from logits.
 *
 * Order (as common engines apply it): repetition penalty, then top-k, top-p and
 * min-p filtering, then temperature and a draw. temp <= 0 means greedy. The
 * random generator is seeded explicitly, so a seed makes a run repeatable.
 */
#ifndef JOULE_SAMPLE_H
#define JOULE_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

struct sample_params {
    float temp;           /* <= 0: greedy */
    int32_t top_k;        /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off */
    int32_t repeat_last_n;
    uint64_t seed;
};

void sample_defaults(struct sample_params *p);

struct sampler;
struct sampler *sampler_new(const struct sample_params *p, int32_t n_vocab);
void sampler_free(struct sampler *s);
/* Record an accepted token (for the repetition penalty window). */
void sampler_accept(struct sampler *s, int32_t id);
/* logits is not modified. */
int32_t sampler_sample(struct sampler *s, const float *logits);
/* index of the largest value (first on ties) */
int32_t sample_argmax(const float *x, int32_t n);

#endif
