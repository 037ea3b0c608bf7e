/* eval — running suites item by item (see eval.h); aggregation and output are in
 * eval_report.c. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "eval_json.h"
#include "eval_score.h"
#include "eval_text.h"
#include "model.h"
#include "tokenizer.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int eval_col(const struct eval_result *res, const char *name)
{
    for (int i = 0; i < res->n_cols; i++)
        if (!strcmp(res->cols[i], name)) return i;
    return -1;
}

static int group_index(struct eval_result *res, const char *g)
{
    if (!g) return -1;
    for (int i = res->n_groups - 1; i >= 0; i--)
        if (!strcmp(res->groups[i], g)) return i;
    char **ng = realloc(res->groups, sizeof *ng * (size_t)(res->n_groups + 1));
    if (!ng) return -1;
    res->groups = ng;
    if (!(ng[res->n_groups] = strdup(g))) return -1;
    return res->n_groups++;
}

double *eval_result_row(struct eval_result *res, long idx, const char *group)
{
    if (res->n_rows == res->cap) {
        long nc = res->cap ? res->cap * 2 : 256;
        long *ni = realloc(res->idx, sizeof *ni * (size_t)nc);
        if (ni) res->idx = ni;
        int *ng = realloc(res->grp, sizeof *ng * (size_t)nc);
        if (ng) res->grp = ng;
        double *nv = realloc(res->vals, sizeof *nv * (size_t)nc * EVAL_MAX_COLS);
        if (nv) res->vals = nv;
        if (!ni || !ng || !nv) return NULL;
        res->cap = nc;
    }
    long r = res->n_rows++;
    res->idx[r] = idx;
    res->grp[r] = group_index(res, group);
    double *v = res->vals + (size_t)r * EVAL_MAX_COLS;
    for (int i = 0; i < EVAL_MAX_COLS; i++)
        v[i] = NAN;
    return v;
}

void eval_result_free(struct eval_result *res)
{
    free(res->idx);
    free(res->grp);
    free(res->vals);
    for (int i = 0; i < res->n_groups; i++)
        free(res->groups[i]);
    free(res->groups);
    free(res->metrics);
    memset(res, 0, sizeof *res);
}

static void set_cols(struct eval_result *res, const char *list)
{
    res->n_cols = 0;
    while (*list && res->n_cols < EVAL_MAX_COLS) {
        size_t l = strcspn(list, " ");
        snprintf(res->cols[res->n_cols++], sizeof res->cols[0], "%.*s", (int)l, list);
        list += l;
        while (*list == ' ')
            list++;
    }
}

/* ---- progress ---- */

struct progress {
    const struct eval_opts *o;
    const char *name;
    long done, total;
    double t0, last, sum;
    long n_sum;
};

/* reports to the caller's callback at most 4 times a second (and at the end) */
static void progress_show(struct progress *p, bool final)
{
    if (!p->o->progress) return;
    double t = now_s();
    if (!final && t - p->last < 0.25) return;
    p->last = t;
    struct eval_progress e = {
        p->name, p->done, p->total, t - p->t0, p->n_sum ? p->sum / p->n_sum : NAN, final};
    p->o->progress(p->o->progress_ctx, &e);
}

/* ---- one item ---- */

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) memcpy(s, a, la), memcpy(s + la, b, lb + 1);
    return s;
}

static void log_lls(FILE *f, const double *ll, int n)
{
    fputs(",\"ll\":[", f);
    for (int i = 0; i < n; i++) {
        if (i) fputc(',', f);
        json_write_num(f, ll[i]);
    }
    fputc(']', f);
}

/* llama.cpp multiple choice: mean log-prob of each choice's tokens after the common prefix
 * of tokenize(context + " " + choice) with BOS */
static int mc_llamacpp(struct eval_runner *r, const char *ctx, char **choices, int n,
                       bool join_space, const int *n_base, double *score, char *err, size_t errlen)
{
    int32_t *seq[64];
    size_t len[64];
    int rc = 0, made = 0;
    bool bos = tokenizer_add_bos(r->tok);
    for (int c = 0; c < n && c < 64 && !rc; c++, made++) {
        char *s = join_space ? NULL : strdup(choices[c]);
        if (join_space) {
            char *t = concat(ctx, " ");
            s = t ? concat(t, choices[c]) : NULL;
            free(t);
        }
        if (!s) return snprintf(err, errlen, "out of memory"), -1;
        rc = runner_encode(r, s, bos, &seq[c], &len[c], err, errlen);
        free(s);
        if (rc) seq[c] = NULL;
    }
    size_t cp = 0;
    if (!rc) {
        for (;; cp++) {
            bool same = true;
            for (int c = 0; c < n && same; c++)
                same = cp < len[c] && seq[c][cp] == seq[0][cp];
            if (!same) break;
        }
    }
    /* winogrande: n_base given; skip the option tokens when both tails are long enough */
    bool skip = n_base != NULL;
    for (int c = 0; skip && c < n; c++)
        skip = len[c] - cp > 3;
    for (int c = 0; c < n && !rc; c++) {
        int32_t first = (int32_t)(skip ? (size_t)n_base[c] : cp), end = (int32_t)len[c];
        if (n_base && end - first > 1) end--; /* the last token (usually '.') is not scored */
        struct ll_result lr = {0};
        if (first >= end) first = end - 1;
        rc = runner_score(r, seq[c], end, first, &lr, NULL, err, errlen);
        score[c] = lr.n ? lr.ll / lr.n : -INFINITY;
    }
    for (int c = 0; c < made; c++)
        free(seq[c]);
    return rc;
}

static int run_choice_item(const struct suite_def *d, struct eval_runner *r,
                           const struct eval_opts *o, const struct eval_doc *doc,
                           struct eval_result *res, double *row, long i, char *err, size_t errlen)
{
    int n = doc->n_choices;
    if (n < 1 || n > 64)
        return snprintf(err, errlen, "item %ld has %d choices (1 to 64)", i, n), -1;
    double *ll = calloc((size_t)(n ? n : 1), sizeof *ll);
    long *len = calloc((size_t)(n ? n : 1), sizeof *len);
    int rc = 0, pred = 0;
    if (!ll || !len) return free(ll), free(len), snprintf(err, errlen, "out of memory"), -1;
    char *ctx = d->type == SUITE_MC ? concat(doc->context, doc->text) : NULL;
    char *cont = d->type == SUITE_MI ? concat(d->delimiter, doc->target) : NULL;
    if (o->style == STYLE_LLAMACPP) {
        if (d->type == SUITE_MC) {
            rc = mc_llamacpp(r, ctx, doc->choices, n, true, NULL, ll, err, errlen);
        } else {
            int nb[64];
            char *full[64];
            int made = 0;
            for (int c = 0; c < n && c < 64 && !rc; c++) {
                int32_t *ids;
                size_t ni;
                rc = runner_encode(r, doc->choices[c], tokenizer_add_bos(r->tok), &ids, &ni, err,
                                   errlen);
                if (rc) break;
                free(ids);
                nb[c] = (int)ni;
                const char *t = doc->target;
                bool glue = strchr(".,'?!;:", t[0]) && t[0];
                char *a = concat(doc->choices[c], glue ? "" : " ");
                full[c] = a ? concat(a, t) : NULL;
                free(a);
                made++;
                if (!full[c]) rc = -1, snprintf(err, errlen, "out of memory");
            }
            if (!rc) rc = mc_llamacpp(r, NULL, full, n, false, nb, ll, err, errlen);
            for (int c = 0; c < made; c++)
                free(full[c]);
        }
        pred = score_argmax(ll, n);
        row[0] = doc->labels ? doc->labels[pred] : pred == doc->gold;
    } else {
        for (int c = 0; c < n && !rc; c++) {
            struct ll_result lr = {0};
            if (d->type == SUITE_MC) {
                char *cc = concat(d->delimiter, doc->choices[c]);
                rc = cc ? runner_ll(r, ctx, cc, &lr, err, errlen) : -1;
                free(cc);
            } else {
                char *cx = concat(doc->context, doc->choices[c]);
                rc = cx ? runner_ll(r, cx, cont, &lr, err, errlen) : -1;
                free(cx);
            }
            ll[c] = lr.ll;
            len[c] = text_count_chars(doc->choices[c]);
        }
        pred = score_argmax(ll, n);
        if (doc->labels) {
            row[0] = score_mc2(ll, doc->labels, n);
        } else {
            row[0] = pred == doc->gold;
            if (d->type == SUITE_MC) row[1] = score_argmax_norm(ll, len, n) == doc->gold;
        }
    }
    if (!rc && o->log_items) {
        fprintf(o->log_items, "{\"suite\":");
        json_write_str(o->log_items, res->suite);
        fprintf(o->log_items, ",\"item\":%ld", i);
        /* what was asked: the prompt (context, few-shot included) and each continuation */
        fprintf(o->log_items, ",\"prompt\":");
        json_write_str(o->log_items, ctx ? ctx : doc->text ? doc->text : "");
        fprintf(o->log_items, ",\"continuations\":[");
        for (int c = 0; c < n; c++) {
            if (c) fputc(',', o->log_items);
            json_write_str(o->log_items, doc->choices[c] ? doc->choices[c] : "");
        }
        fputc(']', o->log_items);
        log_lls(o->log_items, ll, n);
        fprintf(o->log_items, ",\"pred\":%d,\"gold\":%d", pred, doc->gold);
        for (int c = 0; c < res->n_cols; c++) {
            fprintf(o->log_items, ",\"%s\":", res->cols[c]);
            json_write_num(o->log_items, row[c]);
        }
        fprintf(o->log_items, "}\n");
    }
    free(ctx);
    free(cont);
    free(ll);
    free(len);
    return rc;
}

static int run_gen_item(const struct suite_def *d, struct eval_runner *r, const struct eval_opts *o,
                        const struct eval_doc *doc, struct eval_result *res, double *row, long i,
                        char *err, size_t errlen)
{
    char until_buf[256];
    const char *until[16];
    int nu = 0;
    snprintf(until_buf, sizeof until_buf, "%s", d->until);
    for (char *s = until_buf, *e; s && *s && nu < 16; s = e) {
        e = strstr(s, " | ");
        if (e) *e = 0, e += 3;
        until[nu++] = s;
    }
    char *ctx = concat(doc->context, doc->text), *outp = NULL;
    int rc = ctx ? runner_generate(r, ctx, until, nu, d->max_gen, &outp, err, errlen) : -1;
    free(ctx);
    if (rc) return rc;
    char *strict = text_gsm8k_strict(outp), *flex = text_gsm8k_flexible(outp);
    char *ref = text_gsm8k_norm(doc->target);
    char *ns = strict ? text_gsm8k_norm(strict) : NULL, *nf = flex ? text_gsm8k_norm(flex) : NULL;
    if (!ref || !ns || !nf)
        rc = -1, snprintf(err, errlen, "out of memory");
    else {
        row[0] = !strcmp(ns, ref);
        row[1] = !strcmp(nf, ref);
    }
    if (!rc && o->log_items) {
        FILE *f = o->log_items;
        fprintf(f, "{\"suite\":");
        json_write_str(f, res->suite);
        fprintf(f, ",\"item\":%ld,\"output\":", i);
        json_write_str(f, outp);
        fprintf(f, ",\"strict\":");
        json_write_str(f, strict);
        fprintf(f, ",\"flexible\":");
        json_write_str(f, flex);
        fprintf(f, ",\"reference\":");
        json_write_str(f, ref);
        fprintf(f, ",\"em_strict\":%g,\"em_flex\":%g}\n", row[0], row[1]);
    }
    free(outp), free(strict), free(flex), free(ref), free(ns), free(nf);
    return rc;
}

/* ---- perplexity suite: lm-eval rolling documents, then llama.cpp chunks ---- */

static int run_ppl(const struct suite_def *d, struct eval_runner *r, const struct eval_opts *o,
                   struct suite_data *sd, struct eval_result *res, struct progress *pg, char *err,
                   size_t errlen)
{
    const char *raw = rec_get(&sd->recs.r[0], "text");
    char **pages = NULL;
    int n_art = text_wikitext_articles(raw ? raw : "", &pages);
    int32_t *toks = NULL;
    size_t nt = 0;
    int rc = runner_encode(r, raw ? raw : "", tokenizer_add_bos(r->tok), &toks, &nt, err, errlen);
    int ctx = d->ppl_ctx;
    if (!rc && ctx > r->b->n_ctx) {
        snprintf(err, errlen, "ppl_ctx %d exceeds the backend context %d", ctx, r->b->n_ctx);
        rc = -1;
    }
    long n_chunk = rc ? 0 : (long)(nt / (size_t)ctx);
    /* run only the half the requested metrics need */
    bool docs = !d->metrics[0] || strstr(d->metrics, "word_") || strstr(d->metrics, "byte_") ||
                strstr(d->metrics, "bits_");
    bool chunks = !d->metrics[0] || strstr(d->metrics, "token_perplexity");
    long na = docs ? n_art : 0, nc = chunks ? n_chunk : 0;
    if (o->limit > 0) na = na < o->limit ? na : o->limit, nc = nc < o->limit ? nc : o->limit;
    res->n_items = na + nc;
    long lo = res->n_items * (o->shard_i - 1) / o->shard_n,
         hi = res->n_items * o->shard_i / o->shard_n;
    pg->total = hi - lo;
    int32_t *chunk = malloc(sizeof(int32_t) * (size_t)(ctx > 0 ? ctx : 1));
    if (!chunk) rc = -1;
    for (long i = lo; i < hi && !rc; i++) {
        double *row = eval_result_row(res, i, NULL);
        struct ll_result lr = {0};
        if (!row) {
            rc = -1;
            break;
        }
        if (i < na) {
            char *detok = text_wikitext_detok(pages[i]);
            rc = detok ? runner_rolling(r, detok, &lr, err, errlen) : -1;
            free(detok);
            row[0] = lr.ll;
            row[1] = (double)text_count_words(pages[i]);
            row[2] = (double)strlen(pages[i]);
        } else {
            long c = i - na;
            memcpy(chunk, toks + c * ctx, sizeof(int32_t) * (size_t)ctx);
            if (tokenizer_add_bos(r->tok) && tokenizer_bos(r->tok) >= 0)
                chunk[0] = tokenizer_bos(r->tok);
            rc = runner_score(r, chunk, ctx, ctx / 2 + 1, &lr, NULL, err, errlen);
            row[3] = -lr.ll;
            row[4] = lr.ll2;
            row[5] = lr.n;
        }
        if (!rc && o->log_items) {
            fprintf(o->log_items, "{\"suite\":");
            json_write_str(o->log_items, res->suite);
            fprintf(o->log_items, ",\"item\":%ld,\"kind\":\"%s\",\"ll\":", i,
                    i < na ? "document" : "chunk");
            json_write_num(o->log_items, lr.ll);
            fprintf(o->log_items, ",\"tokens\":%d}\n", lr.n);
        }
        pg->done++;
        progress_show(pg, false);
    }
    free(chunk);
    free(toks);
    for (int i = 0; i < n_art; i++)
        free(pages[i]);
    free(pages);
    return rc;
}

int eval_run_suite(const struct suite_def *d, struct eval_runner *r, const struct eval_opts *o,
                   struct eval_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    snprintf(res->suite, sizeof res->suite, "%s", d->name);
    snprintf(res->task, sizeof res->task, "%s", d->task);
    snprintf(res->def, sizeof res->def, "%s", d->name);
    snprintf(res->style, sizeof res->style, "%s",
             o->style == STYLE_LLAMACPP ? "llama.cpp" : "lm-eval");
    int k = o->shots >= 0 ? o->shots : d->shots;
    if (d->type == SUITE_PPL) k = 0;
    if (o->style == STYLE_LLAMACPP && (d->type == SUITE_MC || d->type == SUITE_MI)) {
        if (k > 0) {
            snprintf(err, errlen, "suite %s: the llama.cpp style is 0-shot only", d->name);
            return -1;
        }
        set_cols(res, "acc");
    } else if (d->type == SUITE_MC)
        set_cols(res, d->labels ? "acc" : "acc acc_norm");
    else if (d->type == SUITE_MI)
        set_cols(res, "acc");
    else if (d->type == SUITE_LL)
        set_cols(res, "acc ll");
    else if (d->type == SUITE_GEN)
        set_cols(res, "em_strict em_flex");
    else
        set_cols(res, "ll words bytes nll nll2 ntok");
    res->shots = k;
    struct suite_data sd;
    if (suite_load_data(d, o->data_dir, &sd, err, errlen)) return suite_data_free(&sd), -1;
    uint64_t tok0 = r->tokens;
    double t0 = now_s();
    struct progress pg = {o, d->name, 0, 0, t0, 0, 0, 0};
    int rc = 0;
    if (d->type == SUITE_PPL) {
        rc = run_ppl(d, r, o, &sd, res, &pg, err, errlen);
    } else {
        /* --limit N: the first N items, or with group_by the first N of each group (as lm-eval
         * limits each MMLU subject) */
        long n = 0, run = 0;
        long *sel = malloc(sizeof(long) * (size_t)(sd.n_docs ? sd.n_docs : 1));
        if (!sel) rc = -1, snprintf(err, errlen, "out of memory");
        for (long i = 0; sel && i < sd.n_docs; i++) {
            const char *g = d->group_by[0] ? rec_get(&sd.recs.r[i], d->group_by) : NULL;
            const char *pg_ = g && i ? rec_get(&sd.recs.r[i - 1], d->group_by) : NULL;
            run = g && pg_ && !strcmp(g, pg_) ? run + 1 : g ? 0 : i;
            if (o->limit <= 0 || run < o->limit) sel[n++] = i;
        }
        res->n_items = n;
        unsigned seed = o->seed >= 0 ? (unsigned)o->seed : d->seed;
        if (!rc && k > 0 && suite_plan_shots(d, &sd, o->data_dir, k, seed, sel, n, err, errlen))
            rc = -1;
        long lo = n * (o->shard_i - 1) / o->shard_n, hi = n * o->shard_i / o->shard_n;
        pg.total = hi - lo;
        for (long j = lo; j < hi && !rc; j++) {
            long i = sel[j];
            struct eval_doc doc;
            if (suite_doc(d, &sd, o->data_dir, (int)i, &doc, err, errlen)) {
                rc = -1;
                break;
            }
            double *row = eval_result_row(res, i, doc.group);
            if (!row)
                rc = -1, snprintf(err, errlen, "out of memory");
            else if (d->type == SUITE_MC || d->type == SUITE_MI)
                rc = run_choice_item(d, r, o, &doc, res, row, i, err, errlen);
            else if (d->type == SUITE_GEN)
                rc = run_gen_item(d, r, o, &doc, res, row, i, err, errlen);
            else {
                char *ctx = concat(doc.context, doc.text);
                struct ll_result lr = {0};
                rc = ctx ? runner_ll(r, ctx, doc.target, &lr, err, errlen) : -1;
                free(ctx);
                row[0] = lr.greedy;
                row[1] = lr.ll;
                if (!rc && o->log_items) {
                    fprintf(o->log_items, "{\"suite\":");
                    json_write_str(o->log_items, res->suite);
                    fprintf(o->log_items, ",\"item\":%ld,\"ll\":", i);
                    json_write_num(o->log_items, lr.ll);
                    fprintf(o->log_items, ",\"greedy\":%s}\n", lr.greedy ? "true" : "false");
                }
            }
            eval_doc_free(&doc);
            if (o->log_items) fflush(o->log_items); /* a killed run keeps what it logged */
            if (!rc) {
                pg.done++;
                pg.sum += row[0];
                pg.n_sum++;
                progress_show(&pg, false);
            }
        }
        free(sel);
    }
    progress_show(&pg, true);
    res->seconds = now_s() - t0;
    res->tokens = r->tokens - tok0;
    suite_data_free(&sd);
    if (!rc) rc = eval_aggregate(d, res, err, errlen);
    return rc;
}
