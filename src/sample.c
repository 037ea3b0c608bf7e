/* sample — logits to the next token. See sample.h. */
#include "sample.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct cand {
    int32_t id;
    float logit;
};

struct sampler {
    struct sample_params p;
    int32_t n_vocab;
    uint64_t rng;
    struct cand *cands;
    float *work;
    int32_t *recent; /* ring of the last repeat_last_n accepted ids */
    int32_t n_recent, recent_head;
};

void sample_defaults(struct sample_params *p)
{
    *p = (struct sample_params){.temp = 0.8f,
                                .top_k = 40,
                                .top_p = 0.95f,
                                .min_p = 0.05f,
                                .repeat_penalty = 1.0f,
                                .repeat_last_n = 64,
                                .seed = 0x6a6f756c65ULL};
}

struct sampler *sampler_new(const struct sample_params *p, int32_t n_vocab)
{
    struct sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = *p;
    if (s->p.repeat_last_n < 0) s->p.repeat_last_n = 0;
    s->n_vocab = n_vocab;
    s->rng = p->seed ^ 0x9e3779b97f4a7c15ULL;
    s->cands = malloc(sizeof *s->cands * (size_t)n_vocab);
    s->work = malloc(sizeof *s->work * (size_t)n_vocab);
    s->recent = malloc(sizeof *s->recent * (size_t)(s->p.repeat_last_n + 1));
    if (!s->cands || !s->work || !s->recent) {
        sampler_free(s);
        return NULL;
    }
    return s;
}

void sampler_free(struct sampler *s)
{
    if (!s) return;
    free(s->cands);
    free(s->work);
    free(s->recent);
    free(s);
}

void sampler_accept(struct sampler *s, int32_t id)
{
    int32_t cap = s->p.repeat_last_n;
    if (cap == 0) return;
    s->recent[s->recent_head] = id;
    s->recent_head = (s->recent_head + 1) % cap;
    if (s->n_recent < cap) s->n_recent++;
}

/* splitmix64: small, fast, and the same sequence on every platform */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *state)
{
    return (double)(next_u64(state) >> 11) * 0x1.0p-53;
}

int32_t sample_argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static int cmp_cand_desc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

int32_t sampler_sample(struct sampler *s, const float *logits)
{
    const struct sample_params *p = &s->p;
    float *l = s->work;
    memcpy(l, logits, sizeof *l * (size_t)s->n_vocab);
    /* repetition penalty (as llama.cpp): divide positive logits, multiply negative */
    if (p->repeat_penalty != 1.0f && p->repeat_penalty > 0.0f) {
        for (int32_t i = 0; i < s->n_recent; i++) {
            int32_t id = s->recent[i];
            if (id < 0 || id >= s->n_vocab || l[id] != logits[id]) continue; /* once per id */
            l[id] = l[id] > 0 ? l[id] / p->repeat_penalty : l[id] * p->repeat_penalty;
        }
    }
    if (p->temp <= 0.0f) return sample_argmax(l, s->n_vocab);

    int32_t n = s->n_vocab;
    for (int32_t i = 0; i < n; i++)
        s->cands[i] = (struct cand){i, l[i]};
    qsort(s->cands, (size_t)n, sizeof *s->cands, cmp_cand_desc);
    if (p->top_k > 0 && p->top_k < n) n = p->top_k;

    /* probabilities at temperature 1 for the filters, as common engines do */
    const float mx = s->cands[0].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        sum += exp((double)(s->cands[i].logit - mx));
    if (p->top_p < 1.0f) {
        double cum = 0.0;
        for (int32_t i = 0; i < n; i++) {
            cum += exp((double)(s->cands[i].logit - mx)) / sum;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0f) {
        /* keep tokens with p >= min_p * p_max; p_max corresponds to logit mx */
        const double floor_logit = (double)mx + log((double)p->min_p);
        int32_t keep = 1;
        while (keep < n && (double)s->cands[keep].logit >= floor_logit)
            keep++;
        n = keep;
    }
    double total = 0.0;
    for (int32_t i = 0; i < n; i++)
        total += exp((double)(s->cands[i].logit - mx) / p->temp);
    double r = next_unit(&s->rng) * total, acc = 0.0;
    for (int32_t i = 0; i < n; i++) {
        acc += exp((double)(s->cands[i].logit - mx) / p->temp);
        if (r < acc) return s->cands[i].id;
    }
    return s->cands[n - 1].id;
}
