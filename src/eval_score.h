/* eval_score — the scoring functions and aggregations of lm-evaluation-harness
 * (lm_eval/api/metrics.py and task.py), and llama.cpp's perplexity, as pure functions.
 */
#ifndef JOULE_EVAL_SCORE_H
#define JOULE_EVAL_SCORE_H

#include <stdint.h>

/* index of the first maximum (numpy argmax) */
int score_argmax(const double *x, int n);
/* argmax of ll_i / len_i (acc_norm; len = characters of the choice) */
int score_argmax_norm(const double *ll, const long *len, int n);
/* truthfulqa mc2: probability mass of the true answers, p_i = exp(ll_i) normalised */
double score_mc2(const double *ll, const signed char *labels, int n);
/* mean and its standard error: sample stddev (n-1) / sqrt(n); se is NaN when n < 2 */
void score_mean_se(const double *x, int n, double *mean, double *se);
/* lm-eval pooled_sample_stderr over subtasks of sizes n_i and standard errors se_i */
double score_pooled_se(const double *se, const int *n, int k);
/* exp(-sum ll / sum units): word / byte perplexity (lm-eval weighted_perplexity) */
double score_weighted_ppl(double sum_ll, double sum_units);
/* llama.cpp: PPL = exp(mean nll), +/- PPL * sqrt((<nll^2> - <nll>^2) / (count - 1)) */
void score_token_ppl(double sum_nll, double sum_nll2, double count, double *ppl, double *se);

#endif
