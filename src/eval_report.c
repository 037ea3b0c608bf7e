/* eval_report — aggregation of per-item rows into scores, the table and JSON output, and
 * merging shard results (see eval.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "eval_data.h"
#include "eval_json.h"
#include "eval_score.h"
#include "fileio.h"
#include "provenance.h"

/* rows selected by group (sel NULL: all) */
struct sel {
    const bool *grp; /* per group index: included */
};

static bool row_in(const struct eval_result *res, long r, const bool *grp)
{
    if (!grp) return true;
    return res->grp[r] >= 0 && grp[res->grp[r]];
}

static const char *col_of(const char *metric)
{
    if (!strcmp(metric, "exact_match,strict-match")) return "em_strict";
    if (!strcmp(metric, "exact_match,flexible-extract")) return "em_flex";
    return metric;
}

/* value, se and count of one metric over the selected rows */
static int agg(const struct eval_result *res, const char *m, const bool *grp, double *v, double *se,
               int *n)
{
    *v = *se = NAN;
    *n = 0;
    const double *vals = res->vals;
    int c_ll = eval_col(res, "ll");
    if (!strcmp(m, "word_perplexity") || !strcmp(m, "byte_perplexity") ||
        !strcmp(m, "bits_per_byte")) {
        int cu = eval_col(res, m[0] == 'w' ? "words" : "bytes");
        double sl = 0, su = 0;
        for (long r = 0; r < res->n_rows; r++) {
            const double *x = vals + (size_t)r * EVAL_MAX_COLS;
            if (!row_in(res, r, grp) || c_ll < 0 || cu < 0 || isnan(x[c_ll]) || isnan(x[cu]))
                continue;
            sl += x[c_ll], su += x[cu], (*n)++;
        }
        if (*n) *v = m[0] == 'b' && m[1] == 'i' ? -sl / su / log(2.0) : score_weighted_ppl(sl, su);
        return 0;
    }
    if (!strcmp(m, "token_perplexity")) {
        int a = eval_col(res, "nll"), b = eval_col(res, "nll2"), c = eval_col(res, "ntok");
        double s1 = 0, s2 = 0, cnt = 0;
        for (long r = 0; r < res->n_rows; r++) {
            const double *x = vals + (size_t)r * EVAL_MAX_COLS;
            if (!row_in(res, r, grp) || a < 0 || isnan(x[a])) continue;
            s1 += x[a], s2 += x[b], cnt += x[c], (*n)++;
        }
        if (cnt > 0) score_token_ppl(s1, s2, cnt, v, se);
        return 0;
    }
    int c = eval_col(res, !strcmp(m, "perplexity") ? "ll" : col_of(m));
    if (c < 0) return -1;
    double *x = malloc(sizeof(double) * (size_t)(res->n_rows ? res->n_rows : 1));
    if (!x) return -1;
    for (long r = 0; r < res->n_rows; r++) {
        double y = vals[(size_t)r * EVAL_MAX_COLS + c];
        if (row_in(res, r, grp) && !isnan(y)) x[(*n)++] = y;
    }
    score_mean_se(x, *n, v, se);
    if (!strcmp(m, "perplexity") && *n) {
        /* lm-eval: exp(-mean ll); its stderr is a bootstrap, this is the delta method */
        *v = exp(-*v);
        *se = *v * *se;
    }
    free(x);
    return 0;
}

static int add_metric(struct eval_result *res, const char *group, int level, const char *name,
                      double v, double se, int n)
{
    struct eval_metric *nm = realloc(res->metrics, sizeof *nm * (size_t)(res->n_metrics + 1));
    if (!nm) return -1;
    res->metrics = nm;
    struct eval_metric *m = &nm[res->n_metrics++];
    memset(m, 0, sizeof *m);
    snprintf(m->group, sizeof m->group, "%s", group);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->level = level, m->value = v, m->se = se, m->n = n;
    return 0;
}

static bool in_list(const char *list, const char *w)
{
    size_t l = strlen(w);
    for (const char *p = list; (p = strstr(p, w)); p += l)
        if ((p == list || p[-1] == ' ') && (p[l] == ' ' || !p[l])) return true;
    return false;
}

int eval_aggregate(const struct suite_def *d, struct eval_result *res, char *err, size_t errlen)
{
    free(res->metrics);
    res->metrics = NULL;
    res->n_metrics = 0;
    char metrics[256];
    bool llamacpp =
        !strcmp(res->style, "llama.cpp") && (d->type == SUITE_MC || d->type == SUITE_MI);
    snprintf(metrics, sizeof metrics, "%s",
             llamacpp        ? "acc"
             : d->metrics[0] ? d->metrics
                             : res->cols[0]);
    int ng = res->n_groups;
    bool *mask = calloc((size_t)(ng ? ng : 1), sizeof *mask);
    double *gse = calloc((size_t)(ng ? ng : 1) + SUITE_MAX_GROUPS, sizeof *gse);
    int *gn = calloc((size_t)(ng ? ng : 1) + SUITE_MAX_GROUPS, sizeof *gn);
    if (!mask || !gse || !gn)
        return free(mask), free(gse), free(gn), snprintf(err, errlen, "out of memory"), -1;
    int rc = 0;
    for (char *save = NULL, *m = strtok_r(metrics, " ", &save); m && !rc;
         m = strtok_r(NULL, " ", &save)) {
        double v, se;
        int n;
        if (agg(res, m, NULL, &v, &se, &n)) {
            snprintf(err, errlen, "suite %s: metric '%s' has no column", d->name, m);
            rc = -1;
            break;
        }
        if (ng == 0 || !d->group_by[0]) {
            rc = add_metric(res, "", 0, m, v, se, n);
            continue;
        }
        /* subjects, then categories pooled from them, then the whole pooled from those */
        size_t first_subject = (size_t)res->n_metrics + 1 + (size_t)d->n_groups;
        rc = add_metric(res, "", 0, m, v, se, n);
        for (int c = 0; c < d->n_groups && !rc; c++)
            rc = add_metric(res, d->groups[c].name, 1, m, NAN, NAN, 0);
        for (int g = 0; g < ng && !rc; g++) {
            memset(mask, 0, sizeof *mask * (size_t)ng);
            mask[g] = true;
            agg(res, m, mask, &v, &se, &n);
            gse[g] = se, gn[g] = n;
            rc = add_metric(res, res->groups[g], 2, m, v, se, n);
        }
        if (rc) break;
        int k = 0;
        double *cse = gse + ng;
        int *cn = gn + ng;
        for (int c = 0; c < d->n_groups; c++) {
            double sub_se[1024];
            int sub_n[1024], ns = 0;
            memset(mask, 0, sizeof *mask * (size_t)ng);
            for (int g = 0; g < ng; g++)
                if (in_list(d->groups[c].members, res->groups[g]) && ns < 1024) {
                    mask[g] = true;
                    sub_se[ns] = gse[g], sub_n[ns++] = gn[g];
                }
            agg(res, m, mask, &v, &se, &n);
            struct eval_metric *cm = &res->metrics[first_subject - (size_t)d->n_groups + (size_t)c];
            cm->value = v, cm->n = n;
            cm->se = score_pooled_se(sub_se, sub_n, ns);
            if (n) cse[k] = cm->se, cn[k++] = n;
        }
        struct eval_metric *top = &res->metrics[first_subject - 1 - (size_t)d->n_groups];
        top->se = k ? score_pooled_se(cse, cn, k) : score_pooled_se(gse, gn, ng);
    }
    free(mask), free(gse), free(gn);
    return rc;
}

/* ---- output ---- */

void eval_print_md(FILE *f, const struct eval_result *res, int n)
{
    fprintf(f, "| suite | style | n-shot | metric | value | | stderr | items |\n");
    fprintf(f, "|---|---|---:|---|---:|---|---:|---:|\n");
    for (int s = 0; s < n; s++) {
        const struct eval_result *r = &res[s];
        for (int i = 0; i < r->n_metrics; i++) {
            const struct eval_metric *m = &r->metrics[i];
            if (m->level > 0 && m->n == 0) continue;
            if (m->level == 0)
                fprintf(f, "| %s | %s | %d ", r->suite, r->style, r->shots);
            else
                fprintf(f, "| %s %s | | ", m->level == 1 ? " -" : "  -", m->group);
            fprintf(f, "| %s | %.4f | ± | ", m->name, m->value);
            if (isnan(m->se))
                fprintf(f, "N/A");
            else
                fprintf(f, "%.4f", m->se);
            fprintf(f, " | %d |\n", m->n);
        }
    }
    fprintf(f, "\n| suite | items | seconds | items/s | tokens | tokens/s "
               "|\n|---|---:|---:|---:|---:|---:|\n");
    for (int s = 0; s < n; s++) {
        const struct eval_result *r = &res[s];
        double t = r->seconds > 0 ? r->seconds : 1e-9;
        fprintf(f, "| %s | %ld | %.1f | %.2f | %llu | %.0f |\n", r->suite, r->n_rows, r->seconds,
                r->n_rows / t, (unsigned long long)r->tokens, r->tokens / t);
    }
}

static void jkey(FILE *f, const char *k, bool comma)
{
    if (comma) fputc(',', f);
    json_write_str(f, k);
    fputc(':', f);
}

void eval_print_json(FILE *f, const struct eval_run_info *in, const struct eval_result *res, int n)
{
    fprintf(f, "{\"joule_eval\":1,\"partial\":%s", in->shard_n > 1 ? "true" : "false");
    if (in->shard_n > 1) fprintf(f, ",\"shard\":\"%d/%d\"", in->shard_i, in->shard_n);
    if (in->argv) {
        struct prov_info pi = {
            .schema = "joule-eval/1", .argc = in->argc, .argv = in->argv, .device = in->device};
        fprintf(f, ",\"provenance\":");
        prov_write_json(f, &pi);
    }
    jkey(f, "model", true);
    fputc('{', f);
    jkey(f, "path", false), json_write_str(f, in->model_path ? in->model_path : "");
    jkey(f, "sha256", true), json_write_str(f, in->model_sha256 ? in->model_sha256 : "");
    jkey(f, "name", true), json_write_str(f, in->model_name ? in->model_name : "");
    jkey(f, "arch", true), json_write_str(f, in->arch ? in->arch : "");
    fputc('}', f);
    jkey(f, "backend", true), json_write_str(f, in->backend ? in->backend : "");
    jkey(f, "device", true), json_write_str(f, in->device ? in->device : "");
    fprintf(f,
            ",\"settings\":{\"limit\":%ld,\"shots\":%d,\"seed\":%ld,\"bos\":%s,\"max_length\":%d",
            in->limit, in->shots, in->seed, in->bos ? "true" : "false", in->max_len);
    jkey(f, "style", true), json_write_str(f, in->style ? in->style : "lm-eval");
    fputc('}', f);
    if (in->energy_json) fprintf(f, ",\"energy\":%s", in->energy_json);
    fprintf(f, ",\"suites\":[");
    for (int s = 0; s < n; s++) {
        const struct eval_result *r = &res[s];
        fprintf(f, "%s\n{", s ? "," : "");
        jkey(f, "suite", false), json_write_str(f, r->suite);
        jkey(f, "def", true), json_write_str(f, r->def);
        jkey(f, "task", true), json_write_str(f, r->task);
        jkey(f, "style", true), json_write_str(f, r->style);
        fprintf(f, ",\"shots\":%d,\"items\":%ld,\"items_done\":%ld,\"seconds\":", r->shots,
                r->n_items, r->n_rows);
        json_write_num(f, r->seconds);
        fprintf(f, ",\"items_per_s\":");
        json_write_num(f, r->seconds > 0 ? r->n_rows / r->seconds : NAN);
        fprintf(f, ",\"tokens\":%llu,\"metrics\":[", (unsigned long long)r->tokens);
        for (int i = 0; i < r->n_metrics; i++) {
            const struct eval_metric *m = &r->metrics[i];
            fprintf(f, "%s\n {", i ? "," : "");
            jkey(f, "group", false), json_write_str(f, m->group);
            fprintf(f, ",\"level\":%d", m->level);
            jkey(f, "metric", true), json_write_str(f, m->name);
            jkey(f, "value", true), json_write_num(f, m->value);
            jkey(f, "stderr", true), json_write_num(f, m->se);
            fprintf(f, ",\"n\":%d}", m->n);
        }
        fprintf(f, "],\n\"columns\":[");
        for (int c = 0; c < r->n_cols; c++)
            fprintf(f, "%s\"%s\"", c ? "," : "", r->cols[c]);
        fprintf(f, "],\"groups\":[");
        for (int g = 0; g < r->n_groups; g++)
            fprintf(f, "%s", g ? "," : ""), json_write_str(f, r->groups[g]);
        fprintf(f, "],\n\"rows\":[");
        for (long i = 0; i < r->n_rows; i++) {
            fprintf(f, "%s[%ld,%d", i ? (i % 8 ? "," : ",\n") : "", r->idx[i], r->grp[i]);
            for (int c = 0; c < r->n_cols; c++)
                fputc(',', f), json_write_num(f, r->vals[(size_t)i * EVAL_MAX_COLS + c]);
            fputc(']', f);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
}

/* ---- merge ---- */

static int cmp_row(const void *a, const void *b)
{
    long x = ((const long *)a)[0], y = ((const long *)b)[0];
    return x < y ? -1 : x > y;
}

static int merge_suite(struct eval_result *dst, const struct jval *s, const char *file, char *err,
                       size_t errlen)
{
    const struct jval *cols = json_get(s, "columns"), *groups = json_get(s, "groups"),
                      *rows = json_get(s, "rows");
    if (!cols || !rows || cols->type != J_ARR || rows->type != J_ARR || cols->n > EVAL_MAX_COLS) {
        snprintf(err, errlen, "%s: suite %s has no rows (not a joule eval result?)", file,
                 dst->suite);
        return -1;
    }
    if (dst->n_cols == 0) {
        dst->n_cols = cols->n;
        for (int c = 0; c < cols->n; c++)
            snprintf(dst->cols[c], sizeof dst->cols[c], "%s", json_str(&cols->kids[c]));
    } else if (dst->n_cols != cols->n) {
        snprintf(err, errlen, "%s: suite %s has other columns than the first file", file,
                 dst->suite);
        return -1;
    }
    for (int i = 0; i < rows->n; i++) {
        const struct jval *row = &rows->kids[i];
        if (row->type != J_ARR || row->n != 2 + dst->n_cols) {
            snprintf(err, errlen, "%s: suite %s: malformed row %d", file, dst->suite, i);
            return -1;
        }
        int gi = (int)json_num(&row->kids[1], -1);
        const char *gname =
            groups && gi >= 0 && gi < groups->n ? json_str(&groups->kids[gi]) : NULL;
        double *v = eval_result_row(dst, (long)json_num(&row->kids[0], -1), gname);
        if (!v) return snprintf(err, errlen, "out of memory"), -1;
        for (int c = 0; c < dst->n_cols; c++)
            v[c] = json_num(&row->kids[2 + c], NAN);
    }
    dst->seconds += json_num(json_get(s, "seconds"), 0);
    dst->tokens += (uint64_t)json_num(json_get(s, "tokens"), 0);
    return 0;
}

/* What makes results shards of one run, as "key=value" words: the model (sha256, else path),
 * the settings, the shard count and each suite's definition and task version. */
static void merge_identity(const struct jval *root, char *out, size_t len)
{
    const struct jval *m = json_get(root, "model"), *st = json_get(root, "settings");
    const char *sha = json_str(json_get(m, "sha256"));
    const char *shard = json_str(json_get(root, "shard"));
    const char *slash = strchr(shard, '/');
    int w = snprintf(out, len,
                     "model=%.80s limit=%s shots=%s seed=%s bos=%s max_length=%s style=%s "
                     "shards=%s",
                     *sha ? sha : json_str(json_get(m, "path")), json_str(json_get(st, "limit")),
                     json_str(json_get(st, "shots")), json_str(json_get(st, "seed")),
                     json_str(json_get(st, "bos")), json_str(json_get(st, "max_length")),
                     json_str(json_get(st, "style")), slash ? slash + 1 : "1");
    const struct jval *suites = json_get(root, "suites");
    for (int i = 0; suites && suites->type == J_ARR && i < suites->n && w > 0 && (size_t)w < len;
         i++) {
        const struct jval *sj = &suites->kids[i];
        char task[96];
        snprintf(task, sizeof task, "%s", json_str(json_get(sj, "task")));
        for (char *p = task; *p; p++)
            if (*p == ' ') *p = '_';
        w += snprintf(out + w, len - (size_t)w, " %.40s=%.60s", json_str(json_get(sj, "suite")),
                      task);
    }
}

/* "a=1 b=2" vs "a=1 b=3" -> "b 2 vs 3" */
static void merge_what_differs(const char *a, const char *b, char *out, size_t len)
{
    out[0] = 0;
    for (const char *p = a; *p;) {
        size_t k = strcspn(p, " "), kl = strcspn(p, "=");
        if (kl > k) kl = k;
        const char *q = b, *other = "(absent)";
        size_t ol = strlen(other);
        while (*q) {
            size_t qk = strcspn(q, " ");
            if (qk > kl && !strncmp(q, p, kl) && q[kl] == '=') {
                other = q + kl + 1, ol = qk - kl - 1;
                break;
            }
            q += qk + (q[qk] ? 1 : 0);
        }
        const char *mine = p + kl + (kl < k ? 1 : 0);
        size_t ml = k - kl - (kl < k ? 1 : 0);
        if ((ml != ol || strncmp(mine, other, ml)) && strlen(out) + 8 < len)
            snprintf(out + strlen(out), len - strlen(out), "%s%.*s %.*s vs %.*s",
                     out[0] ? ", " : "", (int)kl, p, (int)ml, mine, (int)ol, other);
        p += k + (p[k] ? 1 : 0);
    }
    if (!out[0]) snprintf(out, len, "different suites");
}

int eval_merge(const char *const *files, int n_files, struct eval_result **out, int *n_out,
               char *err, size_t errlen)
{
    struct eval_result *res = NULL;
    int n = 0, rc = 0;
    char first_id[512] = "";
    err[0] = 0;
    for (int f = 0; f < n_files && !rc; f++) {
        size_t len;
        char *text = file_read_all(files[f], &len, err, errlen);
        if (!text) {
            rc = -1;
            break;
        }
        struct jval root;
        char jerr[256];
        if (json_parse(text, len, &root, jerr, sizeof jerr)) {
            snprintf(err, errlen, "%s: %s", files[f], jerr);
            free(text);
            rc = -1;
            break;
        }
        free(text);
        /* shards of one run only: the same model, settings and shard count (a file of another
         * model would be merged silently into numbers that belong to neither) */
        char id[512];
        merge_identity(&root, id, sizeof id);
        if (f == 0)
            snprintf(first_id, sizeof first_id, "%s", id);
        else if (strcmp(id, first_id)) {
            char what[700];
            merge_what_differs(first_id, id, what, sizeof what);
            snprintf(err, errlen, "%s: not a shard of the same run as %s (%s)", files[f], files[0],
                     what);
            json_free(&root);
            rc = -1;
            break;
        }
        const struct jval *suites = json_get(&root, "suites");
        if (!suites || suites->type != J_ARR) {
            snprintf(err, errlen, "%s: not a joule eval result (no \"suites\")", files[f]);
            rc = -1;
        }
        for (int s = 0; !rc && s < suites->n; s++) {
            const struct jval *sj = &suites->kids[s];
            const char *name = json_str(json_get(sj, "suite"));
            int k = 0;
            while (k < n && strcmp(res[k].suite, name))
                k++;
            if (k == n) {
                struct eval_result *nr = realloc(res, sizeof *nr * (size_t)(n + 1));
                if (!nr) {
                    rc = -1;
                    break;
                }
                res = nr;
                memset(&res[n], 0, sizeof res[n]);
                snprintf(res[n].suite, sizeof res[n].suite, "%s", name);
                snprintf(res[n].def, sizeof res[n].def, "%s", json_str(json_get(sj, "def")));
                snprintf(res[n].task, sizeof res[n].task, "%s", json_str(json_get(sj, "task")));
                snprintf(res[n].style, sizeof res[n].style, "%s", json_str(json_get(sj, "style")));
                res[n].shots = (int)json_num(json_get(sj, "shots"), 0);
                res[n].n_items = (long)json_num(json_get(sj, "items"), 0);
                n++;
            } else if (res[k].shots != (int)json_num(json_get(sj, "shots"), 0) ||
                       res[k].n_items != (long)json_num(json_get(sj, "items"), 0)) {
                snprintf(err, errlen,
                         "%s: suite %s was run with other settings than in the first file",
                         files[f], name);
                rc = -1;
                break;
            }
            rc = merge_suite(&res[k], sj, files[f], err, errlen);
        }
        json_free(&root);
    }
    for (int k = 0; k < n && !rc; k++) {
        struct eval_result *r = &res[k];
        /* order rows by item index (shards may come in any order) */
        long *tmp = malloc(sizeof(long) * 2 * (size_t)(r->n_rows ? r->n_rows : 1));
        double *nv = malloc(sizeof(double) * EVAL_MAX_COLS * (size_t)(r->n_rows ? r->n_rows : 1));
        int *ngp = malloc(sizeof(int) * (size_t)(r->n_rows ? r->n_rows : 1));
        if (!tmp || !nv || !ngp) {
            free(tmp), free(nv), free(ngp);
            rc = -1;
            break;
        }
        for (long i = 0; i < r->n_rows; i++)
            tmp[2 * i] = r->idx[i], tmp[2 * i + 1] = i;
        qsort(tmp, (size_t)r->n_rows, sizeof(long) * 2, cmp_row);
        for (long i = 0; i < r->n_rows; i++) {
            long j = tmp[2 * i + 1];
            memcpy(nv + (size_t)i * EVAL_MAX_COLS, r->vals + (size_t)j * EVAL_MAX_COLS,
                   sizeof(double) * EVAL_MAX_COLS);
            ngp[i] = r->grp[j];
            r->idx[i] = tmp[2 * i];
            if (i && r->idx[i] == r->idx[i - 1]) {
                snprintf(err, errlen, "suite %s: item %ld appears in more than one file", r->suite,
                         r->idx[i]);
                rc = -1;
            }
        }
        free(r->vals);
        free(r->grp);
        r->vals = nv;
        r->grp = ngp;
        free(tmp);
        /* number the groups in order of first appearance, as a single run does */
        char **old = r->groups;
        int n_old = r->n_groups;
        int *map = malloc(sizeof(int) * (size_t)(n_old ? n_old : 1));
        r->groups = NULL;
        r->n_groups = 0;
        for (int g = 0; map && g < n_old; g++)
            map[g] = -1;
        for (long i = 0; map && i < r->n_rows; i++) {
            int g = r->grp[i];
            if (g < 0) continue;
            if (map[g] < 0) {
                char **ng = realloc(r->groups, sizeof *ng * (size_t)(r->n_groups + 1));
                if (!ng) break;
                r->groups = ng;
                ng[r->n_groups] = old[g];
                old[g] = NULL;
                map[g] = r->n_groups++;
            }
            r->grp[i] = map[g];
        }
        for (int g = 0; g < n_old; g++)
            free(old[g]);
        free(old);
        free(map);
        if (!rc && r->n_rows != r->n_items)
            fprintf(stderr,
                    "joule eval: warning: suite %s has %ld of %ld items (a shard is missing?)\n",
                    r->suite, r->n_rows, r->n_items);
        struct suite_def d;
        if (!rc && suite_load(r->def, &d, err, errlen) == 0) {
            rc = eval_aggregate(&d, r, err, errlen);
            suite_free(&d);
        } else {
            rc = -1;
        }
    }
    if (rc) {
        for (int k = 0; k < n; k++)
            eval_result_free(&res[k]);
        free(res);
        res = NULL;
        n = 0;
        if (!err[0]) snprintf(err, errlen, "out of memory");
    }
    *out = res;
    *n_out = n;
    return rc;
}
