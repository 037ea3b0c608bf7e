/* eval_score — see eval_score.h. */
#include "eval_score.h"

#include <math.h>

int score_argmax(const double *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

int score_argmax_norm(const double *ll, const long *len, int n)
{
    int b = 0;
    double bv = 0;
    for (int i = 0; i < n; i++) {
        /* Python: ll / len, a zero length would raise; treat as length 1 */
        double v = ll[i] / (double)(len[i] > 0 ? len[i] : 1);
        if (i == 0 || v > bv) b = i, bv = v;
    }
    return b;
}

double score_mc2(const double *ll, const signed char *labels, int n)
{
    double mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = ll[i] > mx ? ll[i] : mx;
    double all = 0, t = 0;
    for (int i = 0; i < n; i++) {
        double p = exp(ll[i] - mx);
        all += p;
        if (labels[i]) t += p;
    }
    return all > 0 ? t / all : 0;
}

void score_mean_se(const double *x, int n, double *mean, double *se)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    double m = n ? s / n : NAN, v = 0;
    for (int i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *se = n > 1 ? sqrt(v / (n - 1)) / sqrt((double)n) : NAN;
}

double score_pooled_se(const double *se, const int *n, int k)
{
    double num = 0, total = 0;
    for (int i = 0; i < k; i++) {
        num += (n[i] - 1) * se[i] * se[i] * n[i];
        total += n[i];
    }
    if (total - k <= 0) return NAN;
    return sqrt(num / (total - k) / total);
}

double score_weighted_ppl(double sum_ll, double sum_units)
{
    return exp(-sum_ll / sum_units);
}

void score_token_ppl(double sum_nll, double sum_nll2, double count, double *ppl, double *se)
{
    double m = sum_nll / count, m2 = sum_nll2 / count;
    *ppl = exp(m);
    *se = count > 1 ? *ppl * sqrt((m2 - m * m) / (count - 1)) : NAN;
}
