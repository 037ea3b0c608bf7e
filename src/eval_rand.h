/* eval_rand — CPython's random module, as far as lm-eval's few-shot sampler uses it:
 * random.Random(seed) for a non-negative integer seed below 2^32 (init_by_array), and
 * random.sample(range(n), k), so few-shot prompts match lm-eval's bit for bit.
 */
#ifndef JOULE_EVAL_RAND_H
#define JOULE_EVAL_RAND_H

#include <stdint.h>

struct pyrand {
    uint32_t mt[624];
    int mti;
};

void pyrand_seed(struct pyrand *r, uint32_t seed);
uint32_t pyrand_u32(struct pyrand *r);
/* Random._randbelow(n), n >= 1 */
uint32_t pyrand_below(struct pyrand *r, uint32_t n);
/* Random.sample(range(n), k) into out (k <= n) */
void pyrand_sample(struct pyrand *r, int n, int k, int *out);

#endif
