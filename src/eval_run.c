/* eval_run — see eval_run.h. */
#include "eval_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "generate.h"
#include "model.h"
#include "tokenizer.h"

int runner_init(struct eval_runner *r, struct backend *b, const struct model *m, int32_t max_len,
                bool bos, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->b = b;
    r->m = m;
    r->tok = m->tok;
    if (!r->tok) {
        snprintf(err, errlen, "the model's vocabulary cannot be used for evaluation: %s",
                 m->tok_err);
        return -1;
    }
    r->n_vocab = m->cfg.n_vocab;
    r->max_len = max_len < b->n_ctx ? max_len : b->n_ctx;
    r->bos = bos;
    int64_t ch = (32 << 20) / (r->n_vocab > 0 ? r->n_vocab : 1);
    r->chunk = (int32_t)(ch < 16 ? 16 : ch > 512 ? 512 : ch);
    r->logits = malloc(sizeof(float) * (size_t)r->chunk * (size_t)r->n_vocab);
    r->cache = malloc(sizeof(int32_t) * ((size_t)b->n_ctx + 1));
    if (!r->logits || !r->cache) {
        runner_free(r);
        snprintf(err, errlen, "out of memory for the logits");
        return -1;
    }
    return 0;
}

void runner_free(struct eval_runner *r)
{
    free(r->logits);
    free(r->cache);
    free(r->last_ctx);
    free(r->last_ids);
    memset(r, 0, sizeof *r);
}

int runner_encode(struct eval_runner *r, const char *text, bool add_bos, int32_t **ids, size_t *n,
                  char *err, size_t errlen)
{
    if (add_bos && tokenizer_bos(r->tok) < 0) add_bos = false;
    return tokenizer_encode(r->tok, text, strlen(text), add_bos, false, ids, n, err, errlen);
}

static int fwd(struct eval_runner *r, const int32_t *t, int32_t n, int32_t pos, bool all, char *err,
               size_t errlen)
{
    r->tokens += (uint64_t)n;
    if (backend_forward(r->b, t, n, pos, all, r->logits, err, errlen) != 0) {
        r->n_cache = 0;
        return -1;
    }
    return 0;
}

int runner_score(struct eval_runner *r, const int32_t *seq, int32_t n, int32_t first,
                 struct ll_result *out, double *per_tok, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->greedy = true;
    if (first < 1) first = 1;
    if (n <= first) return 0;
    if (n - 1 > r->b->n_ctx) {
        snprintf(err, errlen, "sequence of %d tokens exceeds the context of %d", n, r->b->n_ctx);
        return -1;
    }
    int32_t n_in = n - 1, common = 0;
    while (common < r->n_cache && common < n_in && r->cache[common] == seq[common])
        common++;
    int32_t start = common < first - 1 ? common : first - 1;
    r->n_cache = start; /* rows past start are rewritten below */
    if (first - 1 > start && fwd(r, seq + start, first - 1 - start, start, false, err, errlen))
        return -1;
    const int32_t nv = r->n_vocab;
    for (int32_t row = first - 1; row < n_in; row += r->chunk) {
        int32_t cnt = n_in - row < r->chunk ? n_in - row : r->chunk;
        if (fwd(r, seq + row, cnt, row, true, err, errlen)) return -1;
        for (int32_t j = 0; j < cnt; j++) {
            const float *l = r->logits + (size_t)j * nv;
            int32_t want = seq[row + j + 1], best = 0;
            double mx = l[0];
            for (int32_t v = 1; v < nv; v++)
                if (l[v] > mx) mx = l[v], best = v;
            double s = 0;
            for (int32_t v = 0; v < nv; v++)
                s += exp((double)l[v] - mx);
            double lp = (double)l[want] - mx - log(s);
            if (per_tok) per_tok[out->n] = lp;
            out->ll += lp;
            out->ll2 += lp * lp;
            out->n++;
            if (best != want) out->greedy = false;
        }
    }
    memcpy(r->cache, seq, sizeof(int32_t) * (size_t)n_in);
    r->n_cache = n_in;
    return 0;
}

static int32_t prefix_token(const struct eval_runner *r)
{
    int32_t t = tokenizer_bos(r->tok);
    return t >= 0 ? t : tokenizer_eos(r->tok);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int runner_ll(struct eval_runner *r, const char *context, const char *continuation,
              struct ll_result *out, char *err, size_t errlen)
{
    size_t cl = strlen(context), sp = 0;
    while (sp < cl && is_ws(context[cl - 1 - sp]))
        sp++;
    size_t ctx_len = cl - sp, cont_len = sp + strlen(continuation);
    char *whole = malloc(cl + cont_len - sp + 1);
    if (!whole) return snprintf(err, errlen, "out of memory"), -1;
    memcpy(whole, context, cl);
    strcpy(whole + cl, continuation);
    int32_t *ctx_ids = NULL, *all = NULL, *seq = NULL;
    size_t n_ctx = 0, n_all = 0;
    int rc = -1;
    if (ctx_len == 0) {
        int32_t p = prefix_token(r);
        if (p < 0) {
            snprintf(err, errlen, "empty context and the vocabulary has neither BOS nor EOS");
            goto done;
        }
        if (!(ctx_ids = malloc(sizeof *ctx_ids))) goto oom;
        ctx_ids[0] = p;
        n_ctx = 1;
        if (runner_encode(r, whole, false, &all, &n_all, err, errlen)) goto done;
        /* all = continuation tokens; treat as whole minus an empty context */
        int32_t *w = malloc(sizeof(int32_t) * (n_all + 1));
        if (!w) goto oom;
        w[0] = p;
        memcpy(w + 1, all, sizeof(int32_t) * n_all);
        free(all);
        all = w;
        n_all++;
    } else {
        char save = whole[ctx_len];
        whole[ctx_len] = 0;
        if (r->last_ctx && !strcmp(r->last_ctx, whole)) {
            n_ctx = r->last_n;
            if (!(ctx_ids = malloc(sizeof(int32_t) * (n_ctx ? n_ctx : 1)))) goto oom;
            memcpy(ctx_ids, r->last_ids, sizeof(int32_t) * n_ctx);
        } else {
            if (runner_encode(r, whole, r->bos, &ctx_ids, &n_ctx, err, errlen)) goto done;
            free(r->last_ctx);
            free(r->last_ids);
            r->last_ctx = strdup(whole);
            r->last_ids = malloc(sizeof(int32_t) * (n_ctx ? n_ctx : 1));
            if (!r->last_ctx || !r->last_ids) goto oom;
            memcpy(r->last_ids, ctx_ids, sizeof(int32_t) * n_ctx);
            r->last_n = n_ctx;
        }
        whole[ctx_len] = save;
        if (runner_encode(r, whole, r->bos, &all, &n_all, err, errlen)) goto done;
    }
    {
        size_t n_cont = n_all > n_ctx ? n_all - n_ctx : 0;
        size_t n = n_ctx + n_cont;
        if (!(seq = malloc(sizeof(int32_t) * (n ? n : 1)))) goto oom;
        memcpy(seq, ctx_ids, sizeof(int32_t) * n_ctx);
        memcpy(seq + n_ctx, all + n_ctx, sizeof(int32_t) * n_cont);
        size_t off = n > (size_t)r->max_len + 1 ? n - (size_t)r->max_len - 1 : 0;
        int32_t first = (int32_t)(n - off - n_cont);
        rc = runner_score(r, seq + off, (int32_t)(n - off), first, out, NULL, err, errlen);
    }
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    free(whole);
    free(ctx_ids);
    free(all);
    free(seq);
    return rc;
}

int runner_rolling(struct eval_runner *r, const char *text, struct ll_result *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->greedy = true;
    int32_t *t;
    size_t nt;
    if (runner_encode(r, text, false, &t, &nt, err, errlen)) return -1;
    const int64_t L = r->max_len, n = (int64_t)nt;
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)(L + 2));
    int32_t pre = prefix_token(r);
    if (!seq || pre < 0) {
        free(t);
        free(seq);
        snprintf(err, errlen, seq ? "the vocabulary has neither BOS nor EOS" : "out of memory");
        return -1;
    }
    int64_t predicted = 0;
    int rc = 0;
    while (predicted < n && !rc) {
        /* window: predicts t[end-p, end); context per make_disjoint_window */
        int64_t p, end, a0, alen;
        if (predicted == 0) {
            p = n < L ? n : L;
            end = p;
            seq[0] = pre;
            a0 = -1;
            alen = 1;
        } else {
            p = n - predicted < L ? n - predicted : L;
            end = predicted + p;
            a0 = end - L - 1;
            alen = L - p + 1; /* a[:len(a) - (len(b) - 1)] with len(a) = L */
        }
        int64_t k = 0;
        if (a0 >= 0)
            for (int64_t i = 0; i < alen; i++)
                seq[k++] = t[a0 + i];
        else
            k = 1;
        for (int64_t i = end - p; i < end; i++)
            seq[k++] = t[i];
        int64_t off = k > L + 1 ? k - L - 1 : 0;
        struct ll_result w;
        rc = runner_score(r, seq + off, (int32_t)(k - off), (int32_t)(k - off - p), &w, NULL, err,
                          errlen);
        out->ll += w.ll;
        out->ll2 += w.ll2;
        out->n += w.n;
        out->greedy &= w.greedy;
        predicted += p;
    }
    free(t);
    free(seq);
    return rc;
}

int runner_generate(struct eval_runner *r, const char *context, const char *const *until,
                    int n_until, int max_gen, char **out, char *err, size_t errlen)
{
    *out = NULL;
    int32_t *ids;
    size_t n;
    if (runner_encode(r, context, r->bos, &ids, &n, err, errlen)) return -1;
    int32_t keep = r->max_len - max_gen;
    if (keep < 1) keep = 1;
    size_t off = n > (size_t)keep ? n - (size_t)keep : 0;
    int32_t *seq = malloc(sizeof(int32_t) * ((size_t)r->max_len + 1));
    if (!seq || n == 0) {
        free(ids);
        free(seq);
        snprintf(err, errlen, n ? "out of memory" : "empty prompt");
        return -1;
    }
    int32_t len = (int32_t)(n - off);
    memcpy(seq, ids + off, sizeof(int32_t) * (size_t)len);
    free(ids);
    /* prefill, reusing the cached prefix */
    int32_t common = 0;
    while (common < r->n_cache && common < len && r->cache[common] == seq[common])
        common++;
    if (common == len) common--;
    r->n_cache = common;
    int rc = fwd(r, seq + common, len - common, common, false, err, errlen);
    if (!rc) {
        /* greedy, as lm-eval's generate_until (do_sample false); the text as decoded */
        struct gen_state g = {r->b, r->tok, r->logits, seq, len, r->max_len, 0};
        struct gen_params p = {
            .max_new = max_gen, .decoded = true, .until = until, .n_until = n_until};
        struct gen_result gr;
        rc = generate(&g, &p, &gr, err, errlen);
        r->tokens += g.n_run;
        if (!rc) {
            /* the last token generated was not run */
            memcpy(r->cache, seq, sizeof(int32_t) * (size_t)(g.len - 1));
            r->n_cache = g.len - 1;
            *out = gr.text;
        } else {
            r->n_cache = 0;
        }
    }
    free(seq);
    return rc;
}
