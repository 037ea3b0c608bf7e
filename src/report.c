/* report — reading and joining results; the front; report.md and report.html. See report.h. */
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval_json.h"
#include "fileio.h"

/* A result file larger than this is not one of ours (an eval with --log-items rows of
 * every MMLU item is about 3 MiB). */
#define REPORT_MAX_FILE (256u << 20)

/* ---- reading untrusted JSON: every access names the file and the field ---- */

struct rd {
    const char *file;
    char *err;
    size_t errlen;
};

static int bad(struct rd *d, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(d->err, d->errlen, "%s: %s", d->file, msg);
    return -1;
}

static bool num_of(const struct jval *v, double *out)
{
    if (!v || v->type != J_NUM) return false;
    char *end;
    errno = 0;
    double x = strtod(v->str, &end);
    if (end == v->str || *end || !isfinite(x)) return false;
    *out = x;
    return true;
}

/* a number in lo..hi at key (path names it in errors); null or absent gives NaN when
 * optional */
static int get_num(struct rd *d, const struct jval *obj, const char *key, const char *path,
                   double lo, double hi, bool optional, double *out)
{
    const struct jval *v = json_get(obj, key);
    *out = NAN;
    if (!v || v->type == J_NULL) {
        if (optional) return 0;
        return bad(d, "\"%s%s\" is missing", path, key);
    }
    double x;
    if (!num_of(v, &x)) return bad(d, "\"%s%s\" is not a number", path, key);
    if (!(x >= lo && x <= hi))
        return bad(d, "\"%s%s\" = %g is out of range (%g to %g)", path, key, x, lo, hi);
    *out = x;
    return 0;
}

/* a string at key copied into buf (truncated); absent/null gives "" when optional */
static int get_str(struct rd *d, const struct jval *obj, const char *key, const char *path,
                   bool optional, char *buf, size_t len)
{
    const struct jval *v = json_get(obj, key);
    buf[0] = 0;
    if (!v || v->type == J_NULL) {
        if (optional) return 0;
        return bad(d, "\"%s%s\" is missing", path, key);
    }
    if (v->type != J_STR) return bad(d, "\"%s%s\" is not a string", path, key);
    if (memchr(v->str, 0, v->len)) return bad(d, "\"%s%s\" holds a NUL character", path, key);
    snprintf(buf, len, "%s", v->str);
    return 0;
}

static const struct jval *get_typed(struct rd *d, const struct jval *obj, const char *key,
                                    const char *path, enum jtype t, bool optional, int *rc)
{
    const struct jval *v = json_get(obj, key);
    *rc = 0;
    if (!v || (optional && v->type == J_NULL)) {
        if (!optional) *rc = bad(d, "\"%s%s\" is missing", path, key);
        return NULL;
    }
    if (v->type != t) {
        *rc = bad(d, "\"%s%s\" is not %s", path, key, t == J_OBJ ? "an object" : "an array");
        return NULL;
    }
    return v;
}

/* ---- names ---- */

static void file_stem(const char *path, char *buf, size_t len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (!len) return;
    if (n >= len) n = len - 1; /* a long name, cut */
    memcpy(buf, b, n);
    buf[n] = 0;
    if (n > 5 && !strcmp(buf + n - 5, ".gguf")) buf[n - 5] = 0;
}

/* The quantization named in a file stem (the longest known name that ends a '-', '.' or
 * '_'-separated part), and the stem without it. */
static void split_quant(const char *stem, char *base, size_t blen, char *quant, size_t qlen)
{
    static const char *const q[] = {"F32",    "F16",     "BF16",    "Q8_0",  "Q8_1",   "Q4_0",
                                    "Q4_1",   "Q5_0",    "Q5_1",    "Q2_K",  "Q2_K_S", "Q3_K",
                                    "Q3_K_S", "Q3_K_M",  "Q3_K_L",  "Q4_K",  "Q4_K_S", "Q4_K_M",
                                    "Q5_K",   "Q5_K_S",  "Q5_K_M",  "Q6_K",  "Q8_K",   "IQ4_NL",
                                    "IQ4_XS", "IQ3_XXS", "IQ2_XXS", "TQ1_0", "TQ2_0"};
    snprintf(base, blen, "%s", stem);
    quant[0] = 0;
    size_t n = strlen(stem), best = 0;
    const char *bq = NULL;
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        size_t k = strlen(q[i]);
        for (size_t at = 1; at + k <= n; at++) {
            char sep = stem[at - 1];
            if (sep != '-' && sep != '.' && sep != '_') continue;
            if (strncasecmp(stem + at, q[i], k)) continue;
            char after = stem[at + k];
            if (after && after != '-' && after != '.') continue;
            if (k > best) {
                best = k;
                bq = q[i];
                if (blen > at - 1) base[at - 1] = 0;
            }
        }
    }
    if (bq) snprintf(quant, qlen, "%s", bq);
}

/* the device without a CPU thread count ("CPU, 2 threads" -> "CPU"): threads are a setting */
static void device_label(const char *dev, char *buf, size_t len)
{
    snprintf(buf, len, "%s", dev);
    char *p = strstr(buf, ", ");
    if (p && strstr(p, " threads") && strspn(p + 2, "0123456789") > 0) *p = 0;
}

/* ---- rows ---- */

static int add_diff(struct report *r, const char *fmt, ...);

static struct report_row *row_for(struct report *r, const char *model, const char *sha,
                                  const char *backend, const char *device, const char *precision,
                                  struct rd *d)
{
    char dev[256], key[160];
    device_label(device, dev, sizeof dev);
    snprintf(key, sizeof key, "%.60s|%.16s|%.60s|%.16s", model, backend, dev, precision);
    bool clash = false;
    for (int i = 0; i < r->n_rows; i++) {
        struct report_row *x = &r->rows[i];
        if (strncmp(x->key, key, strlen(key)) ||
            (x->key[strlen(key)] && x->key[strlen(key)] != '|'))
            continue;
        if (sha[0] && x->sha256[0] && strcmp(sha, x->sha256)) {
            clash = true;
            continue;
        }
        if (sha[0] && !x->sha256[0]) snprintf(x->sha256, sizeof x->sha256, "%s", sha);
        return x;
    }
    if (clash) {
        /* the same file name, other weights: a row of its own, and said so */
        if (add_diff(r,
                     "%s: two different files (sha256) share this name; they are separate "
                     "rows, told apart by the hash",
                     model)) {
            bad(d, "out of memory");
            return NULL;
        }
        size_t k = strlen(key);
        snprintf(key + k, sizeof key - k, "|%.12s", sha);
    }
    if (r->n_rows == r->cap_rows) {
        int cap = r->cap_rows ? r->cap_rows * 2 : 16;
        if (cap > 100000) {
            bad(d, "too many rows (more than 100000 models x devices)");
            return NULL;
        }
        struct report_row *n = realloc(r->rows, (size_t)cap * sizeof *n);
        if (!n) {
            bad(d, "out of memory");
            return NULL;
        }
        r->rows = n;
        r->cap_rows = cap;
    }
    struct report_row *x = &r->rows[r->n_rows++];
    memset(x, 0, sizeof *x);
    snprintf(x->key, sizeof x->key, "%s", key);
    snprintf(x->model, sizeof x->model, "%s", model);
    split_quant(model, x->base, sizeof x->base, x->quant, sizeof x->quant);
    snprintf(x->sha256, sizeof x->sha256, "%s", sha);
    snprintf(x->backend, sizeof x->backend, "%s", backend);
    snprintf(x->device, sizeof x->device, "%s", dev);
    snprintf(x->precision, sizeof x->precision, "%s", precision);
    x->bpw = x->pp_ts = x->pp_sd = x->tg_ts = x->tg_sd = NAN;
    x->pp_jtok = x->tg_jtok = x->tg_tokj = NAN;
    x->usd_energy = x->usd_hw = x->usd_total = NAN;
    x->eval_jtok = x->quality = x->cost = NAN;
    return x;
}

static int add_diff(struct report *r, const char *fmt, ...)
{
    if (r->n_diffs == r->cap_diffs) {
        int cap = r->cap_diffs ? r->cap_diffs * 2 : 16;
        if (cap > 10000) return 0; /* enough said */
        struct report_diff *n = realloc(r->diffs, (size_t)cap * sizeof *n);
        if (!n) return -1;
        r->diffs = n;
        r->cap_diffs = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->diffs[r->n_diffs].text, sizeof r->diffs[r->n_diffs].text, fmt, ap);
    va_end(ap);
    for (int i = 0; i < r->n_diffs; i++)
        if (!strcmp(r->diffs[i].text, r->diffs[r->n_diffs].text)) return 0;
    r->n_diffs++;
    return 0;
}

/* "a=1 b=2" vs "a=1 b=3" -> "b: 2 vs 3" */
static void settings_diff(const char *a, const char *b, char *out, size_t len)
{
    out[0] = 0;
    char ka[32][96], kb[32][96];
    int na = 0, nb = 0;
    for (const char *s = a; *s && na < 32; na++) {
        size_t k = strcspn(s, " ");
        snprintf(ka[na], sizeof ka[na], "%.*s", (int)(k < 95 ? k : 95), s);
        s += k + (s[k] ? 1 : 0);
    }
    for (const char *s = b; *s && nb < 32; nb++) {
        size_t k = strcspn(s, " ");
        snprintf(kb[nb], sizeof kb[nb], "%.*s", (int)(k < 95 ? k : 95), s);
        s += k + (s[k] ? 1 : 0);
    }
    for (int i = 0; i < na; i++) {
        const char *eq = strchr(ka[i], '=');
        size_t kl = eq ? (size_t)(eq - ka[i]) : strlen(ka[i]);
        const char *other = "(absent)";
        for (int j = 0; j < nb; j++)
            if (!strncmp(ka[i], kb[j], kl) && kb[j][kl] == '=') other = kb[j] + kl + 1;
        const char *mine = eq ? eq + 1 : "";
        if (strcmp(mine, other))
            snprintf(out + strlen(out), len - strlen(out), "%s%.*s %s vs %s", out[0] ? ", " : "",
                     (int)kl, ka[i], mine, other);
    }
    if (!out[0]) snprintf(out, len, "%s vs %s", a, b);
}

/* the column of a suite in the report */
static int suite_col(struct report *r, const char *suite)
{
    for (int i = 0; i < r->n_suites; i++)
        if (!strcmp(r->suites[i], suite)) return i;
    if (r->n_suites == REPORT_MAX_SUITES) return -1;
    snprintf(r->suites[r->n_suites], sizeof r->suites[0], "%s", suite);
    return r->n_suites++;
}

/* ---- one input of each kind ---- */

struct input_meta {
    char model[512];
    char sha256[65];
    char precision[24];
    char joule[80];  /* version and commit */
    char cpu[160];   /* provenance cpu model, for a CPU row */
    char stamp[160]; /* version, commit, host, date */
    double size_bytes;
};

static const char *prec_of(const struct input_meta *m)
{
    return m->precision[0] ? m->precision : "exact";
}

static int read_bench(struct report *r, struct rd *d, const struct jval *b, const char *path,
                      const struct input_meta *m)
{
    int rc;
    const struct jval *model = get_typed(d, b, "model", path, J_OBJ, false, &rc);
    if (rc) return rc;
    const struct jval *be = get_typed(d, b, "backend", path, J_OBJ, false, &rc);
    if (rc) return rc;
    const struct jval *tests = get_typed(d, b, "tests", path, J_ARR, false, &rc);
    if (rc) return rc;
    if (tests->n > 10000)
        return bad(d, "\"%stests\" has %d entries (at most 10000)", path, tests->n);
    char name[160], p2[96], bname[32], dev[256];
    snprintf(p2, sizeof p2, "%smodel.", path);
    if (get_str(d, model, "name", p2, false, name, sizeof name)) return -1;
    double size, params, threads;
    if (get_num(d, model, "size_bytes", p2, 0, 1e15, true, &size) ||
        get_num(d, model, "params", p2, 0, 1e15, true, &params))
        return -1;
    snprintf(p2, sizeof p2, "%sbackend.", path);
    if (get_str(d, be, "name", p2, false, bname, sizeof bname) ||
        get_str(d, be, "device", p2, false, dev, sizeof dev) ||
        get_num(d, be, "threads", p2, 0, 1e6, true, &threads))
        return -1;
    char stem[160];
    file_stem(m->model[0] ? m->model : name, stem, sizeof stem);
    if (!strcmp(bname, "cpu") && m->cpu[0]) snprintf(dev, sizeof dev, "CPU %s", m->cpu);
    struct report_row *x = row_for(r, stem, m->sha256, bname, dev, prec_of(m), d);
    if (!x) return -1;
    x->n_inputs++;
    if (m->stamp[0]) snprintf(x->provenance, sizeof x->provenance, "%s", m->stamp);
    if (!isnan(size) && size > 0) x->size_bytes = (uint64_t)size;
    if (!isnan(params) && params > 0) x->params = (uint64_t)params;
    if (x->size_bytes && x->params) x->bpw = 8.0 * (double)x->size_bytes / (double)x->params;
    char settings[160] = "";
    bool seen_pp = false, seen_tg = false;
    for (int i = 0; i < tests->n; i++) {
        const struct jval *t = &tests->kids[i];
        char tp[64], kind[8];
        snprintf(tp, sizeof tp, "%stests[%d].", path, i);
        if (t->type != J_OBJ) return bad(d, "\"%stests[%d]\" is not an object", path, i);
        double n, depth, reps, ts, sd;
        if (get_str(d, t, "kind", tp, false, kind, sizeof kind) ||
            get_num(d, t, "n_tokens", tp, 1, 1e9, false, &n) ||
            get_num(d, t, "depth", tp, 0, 1e9, true, &depth) ||
            get_num(d, t, "reps", tp, 1, 1e6, true, &reps) ||
            get_num(d, t, "avg_ts", tp, 0, 1e12, false, &ts) ||
            get_num(d, t, "stddev_ts", tp, 0, 1e12, true, &sd))
            return -1;
        if (strcmp(kind, "pp") && strcmp(kind, "tg"))
            return bad(d, "\"%skind\" is '%s' (pp or tg)", tp, kind);
        snprintf(settings + strlen(settings), sizeof settings - strlen(settings), "%s%s%.0f",
                 settings[0] ? "," : "tests=", kind, n);
        if (!isnan(depth) && depth > 0) continue; /* the table shows depth 0 */
        bool pp = !strcmp(kind, "pp");
        if ((pp && seen_pp) || (!pp && seen_tg)) continue; /* the first of each kind */
        const struct jval *e = json_get(t, "energy"), *c = json_get(t, "cost_per_mtok");
        if (e && e->type != J_OBJ) return bad(d, "\"%senergy\" is not an object", tp);
        if (c && c->type != J_OBJ) return bad(d, "\"%scost_per_mtok\" is not an object", tp);
        char ep[96], cp[96], src[24] = "none";
        double jt = NAN, tj = NAN, ce = NAN, ch = NAN, ct = NAN;
        snprintf(ep, sizeof ep, "%senergy.", tp);
        snprintf(cp, sizeof cp, "%scost_per_mtok.", tp);
        if (e && (get_str(d, e, "source", ep, true, src, sizeof src) ||
                  get_num(d, e, "j_per_token", ep, 0, 1e9, true, &jt) ||
                  get_num(d, e, "tokens_per_j", ep, 0, 1e12, true, &tj)))
            return -1;
        if (c && (get_num(d, c, "energy", cp, 0, 1e12, true, &ce) ||
                  get_num(d, c, "hardware", cp, 0, 1e12, true, &ch) ||
                  get_num(d, c, "total", cp, 0, 1e12, true, &ct)))
            return -1;
        if (!src[0]) snprintf(src, sizeof src, "none");
        if (pp) {
            seen_pp = true;
            x->pp_ts = ts, x->pp_sd = sd, x->pp_n = (int)n, x->pp_jtok = jt;
            snprintf(x->pp_src, sizeof x->pp_src, "%s", src);
        } else {
            seen_tg = true;
            x->tg_ts = ts, x->tg_sd = sd, x->tg_n = (int)n, x->tg_jtok = jt, x->tg_tokj = tj;
            x->usd_energy = ce, x->usd_hw = ch, x->usd_total = ct;
            snprintf(x->tg_src, sizeof x->tg_src, "%s", src);
        }
    }
    if (!isnan(threads))
        snprintf(settings + strlen(settings), sizeof settings - strlen(settings), " threads=%.0f",
                 threads);
    if (m->joule[0])
        snprintf(settings + strlen(settings), sizeof settings - strlen(settings), " joule=%s",
                 m->joule);
    if (x->bench_settings[0] && strcmp(x->bench_settings, settings)) {
        char df[300];
        settings_diff(x->bench_settings, settings, df, sizeof df);
        if (add_diff(r, "%s on %s: two bench runs differ (%s); the table shows the last", x->model,
                     x->device, df))
            return bad(d, "out of memory");
    }
    snprintf(x->bench_settings, sizeof x->bench_settings, "%s", settings);
    return 0;
}

/* the suite's headline metric: lm-eval's usual choice for each kind of suite */
static int headline(const struct jval *metrics, bool *lower)
{
    static const char *const pref[] = {"acc_norm",        "acc", "mc2",       "mc1", "exact_match",
                                       "word_perplexity", "ppl", "perplexity"};
    for (size_t p = 0; p < sizeof pref / sizeof pref[0]; p++)
        for (int i = 0; i < metrics->n; i++) {
            const struct jval *m = &metrics->kids[i];
            if (json_num(json_get(m, "level"), -1) != 0) continue;
            if (!strcmp(json_str(json_get(m, "metric")), pref[p])) {
                *lower = strstr(pref[p], "perplexity") || !strcmp(pref[p], "ppl");
                return i;
            }
        }
    for (int i = 0; i < metrics->n; i++)
        if (json_num(json_get(&metrics->kids[i], "level"), -1) == 0) {
            const char *n = json_str(json_get(&metrics->kids[i], "metric"));
            *lower = strstr(n, "perplexity") || strstr(n, "ppl") || strstr(n, "bits_per");
            return i;
        }
    return -1;
}

static int read_eval(struct report *r, struct rd *d, const struct jval *e, const char *path,
                     const struct input_meta *m)
{
    int rc;
    const struct jval *model = get_typed(d, e, "model", path, J_OBJ, false, &rc);
    if (rc) return rc;
    const struct jval *suites = get_typed(d, e, "suites", path, J_ARR, false, &rc);
    if (rc) return rc;
    const struct jval *set = get_typed(d, e, "settings", path, J_OBJ, true, &rc);
    if (rc) return rc;
    const struct jval *en = get_typed(d, e, "energy", path, J_OBJ, true, &rc);
    if (rc) return rc;
    if (suites->n > 1000)
        return bad(d, "\"%ssuites\" has %d entries (at most 1000)", path, suites->n);
    char mpath[160], sha[80], bname[32], dev[256], p2[96], shard[32];
    snprintf(p2, sizeof p2, "%smodel.", path);
    if (get_str(d, model, "path", p2, true, mpath, sizeof mpath) ||
        get_str(d, model, "sha256", p2, true, sha, sizeof sha) ||
        get_str(d, e, "backend", path, false, bname, sizeof bname) ||
        get_str(d, e, "device", path, false, dev, sizeof dev) ||
        get_str(d, e, "shard", path, true, shard, sizeof shard))
        return -1;
    if (sha[0] && (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64))
        return bad(d, "\"%smodel.sha256\" is not 64 hex digits", path);
    if (!mpath[0] && !m->model[0]) return bad(d, "\"%smodel.path\" is missing", path);
    char stem[160];
    file_stem(m->model[0] ? m->model : mpath, stem, sizeof stem);
    if (!strcmp(bname, "cpu") && m->cpu[0]) snprintf(dev, sizeof dev, "CPU %s", m->cpu);
    const char *id = m->sha256[0] ? m->sha256 : sha;
    struct report_row *x = row_for(r, stem, id, bname, dev, prec_of(m), d);
    if (!x) return -1;
    x->n_inputs++;
    if (m->stamp[0]) snprintf(x->provenance, sizeof x->provenance, "%s", m->stamp);
    if (!x->size_bytes && m->size_bytes > 0) x->size_bytes = (uint64_t)m->size_bytes;
    /* the settings that make two scores comparable */
    char base_set[200] = "";
    if (set) {
        double limit, shots, maxlen;
        char style[24], sp[96];
        snprintf(sp, sizeof sp, "%ssettings.", path);
        if (get_num(d, set, "limit", sp, 0, 1e12, true, &limit) ||
            get_num(d, set, "shots", sp, -1, 1e6, true, &shots) ||
            get_num(d, set, "max_length", sp, 0, 1e9, true, &maxlen) ||
            get_str(d, set, "style", sp, true, style, sizeof style))
            return -1;
        const struct jval *bos = json_get(set, "bos");
        snprintf(base_set, sizeof base_set, "limit=%.0f shots=%.0f max_length=%.0f style=%s bos=%s",
                 isnan(limit) ? 0 : limit, isnan(shots) ? -1 : shots, isnan(maxlen) ? 0 : maxlen,
                 style[0] ? style : "lm-eval", bos && bos->type == J_BOOL ? bos->str : "?");
    }
    if (m->joule[0])
        snprintf(base_set + strlen(base_set), sizeof base_set - strlen(base_set), " joule=%s",
                 m->joule);
    for (int i = 0; i < suites->n; i++) {
        const struct jval *s = &suites->kids[i];
        char sp[64], sname[64], def[128];
        snprintf(sp, sizeof sp, "%ssuites[%d].", path, i);
        if (s->type != J_OBJ) return bad(d, "\"%ssuites[%d]\" is not an object", path, i);
        double items, shots;
        if (get_str(d, s, "suite", sp, false, sname, sizeof sname) ||
            get_str(d, s, "def", sp, true, def, sizeof def) ||
            get_num(d, s, "items_done", sp, 0, 1e12, false, &items) ||
            get_num(d, s, "shots", sp, -1, 1e6, true, &shots))
            return -1;
        if (!sname[0]) return bad(d, "\"%ssuite\" is empty", sp);
        const struct jval *ms = get_typed(d, s, "metrics", sp, J_ARR, false, &rc);
        if (rc) return rc;
        for (int k = 0; k < ms->n; k++)
            if (ms->kids[k].type != J_OBJ)
                return bad(d, "\"%smetrics[%d]\" is not an object", sp, k);
        bool lower = false;
        int h = headline(ms, &lower);
        if (h < 0) return bad(d, "\"%smetrics\" has no suite-level metric", sp);
        char mp[96], mname[48];
        snprintf(mp, sizeof mp, "%smetrics[%d].", sp, h);
        double v, se;
        if (get_str(d, &ms->kids[h], "metric", mp, false, mname, sizeof mname) ||
            get_num(d, &ms->kids[h], "value", mp, -1e300, 1e300, true, &v) ||
            get_num(d, &ms->kids[h], "stderr", mp, 0, 1e300, true, &se))
            return -1;
        if (isnan(v)) continue; /* a suite with no score (no items) */
        if (!lower && (v < 0 || v > 1))
            return bad(d, "\"%svalue\" = %g is out of range (0 to 1 for %s)", mp, v, mname);
        int col = suite_col(r, sname);
        if (col < 0) return bad(d, "more than %d suites", REPORT_MAX_SUITES);
        char settings[256];
        snprintf(settings, sizeof settings, "%.120s shots_used=%.0f def=%.100s", base_set,
                 isnan(shots) ? -1 : shots, def);
        struct report_score *sc = &x->scores[col];
        bool partial = shard[0] != 0;
        if (!sc->have) {
            sc->have = true;
            snprintf(sc->metric, sizeof sc->metric, "%s", mname);
            sc->value = v, sc->se = se, sc->items = (long)items, sc->lower_better = lower;
            sc->shards = partial ? 1 : 0;
            snprintf(sc->settings, sizeof sc->settings, "%s", settings);
        } else if (strcmp(sc->settings, settings) || strcmp(sc->metric, mname)) {
            char df[300];
            settings_diff(sc->settings, settings, df, sizeof df);
            if (add_diff(r,
                         "%s on %s, %s: results with different settings not joined (%s); the "
                         "table shows the first",
                         x->model, x->device, sname, df))
                return bad(d, "out of memory");
        } else if (partial && sc->shards > 0) {
            /* shards of one run: the mean weighted by items; standard errors of independent
             * slices combined (exact merging of the rows: joule eval --merge) */
            double n1 = (double)sc->items, n2 = items, n = n1 + n2;
            if (n > 0) {
                double a = isnan(sc->se) ? NAN : sc->se * n1, b = isnan(se) ? NAN : se * n2;
                sc->value = (sc->value * n1 + v * n2) / n;
                sc->se = sqrt(a * a + b * b) / n;
            }
            sc->items += (long)items;
            sc->shards++;
        } else {
            if (add_diff(r,
                         "%s on %s, %s: measured more than once with the same settings; the "
                         "table shows the first",
                         x->model, x->device, sname))
                return bad(d, "out of memory");
        }
    }
    if (en) {
        char ep[96], src[24];
        double tj;
        snprintf(ep, sizeof ep, "%senergy.", path);
        if (get_str(d, en, "source", ep, true, src, sizeof src) ||
            get_num(d, en, "tokens_per_j", ep, 0, 1e12, true, &tj))
            return -1;
        if (!isnan(tj) && tj > 0 && isnan(x->eval_jtok)) {
            x->eval_jtok = 1.0 / tj;
            snprintf(x->eval_src, sizeof x->eval_src, "%s", src);
        }
    }
    return 0;
}

/* the provenance object of a result (a sweep unit's, or bench's and eval's own) */
static int read_prov(struct rd *d, const struct jval *prov, const char *path, struct input_meta *m)
{
    char ver[24], commit[64], host[64], ts[32];
    if (get_str(d, prov, "joule_version", path, true, ver, sizeof ver) ||
        get_str(d, prov, "git_commit", path, true, commit, sizeof commit) ||
        get_str(d, prov, "host", path, true, host, sizeof host) ||
        get_str(d, prov, "timestamp", path, true, ts, sizeof ts) ||
        get_str(d, prov, "cpu_model", path, true, m->cpu, sizeof m->cpu) ||
        get_str(d, prov, "precision", path, true, m->precision, sizeof m->precision))
        return -1;
    snprintf(m->joule, sizeof m->joule, "%s@%.12s", ver, commit);
    snprintf(m->stamp, sizeof m->stamp, "joule %s (%.12s), %s, %s", ver, commit, host, ts);
    return 0;
}

static int read_doc(struct report *r, struct rd *d, const struct jval *v)
{
    if (v->type != J_OBJ) return bad(d, "not a JSON object (not a joule result)");
    struct input_meta m = {0};
    const struct jval *u = json_get(v, "joule_sweep_unit");
    if (u) {
        double schema;
        int rc;
        if (get_num(d, v, "joule_sweep_unit", "", 0, 1e9, false, &schema)) return -1;
        if (schema != 1) return bad(d, "sweep unit schema %g (this joule reads 1)", schema);
        const struct jval *c = json_get(v, "complete");
        if (!c || c->type != J_BOOL || strcmp(c->str, "true"))
            return bad(d, "\"complete\" is not true (a unit cut short)");
        const struct jval *unit = get_typed(d, v, "unit", "", J_OBJ, false, &rc);
        if (rc) return rc;
        const struct jval *model = get_typed(d, v, "model", "", J_OBJ, false, &rc);
        if (rc) return rc;
        const struct jval *prov = get_typed(d, v, "provenance", "", J_OBJ, true, &rc);
        if (rc) return rc;
        const struct jval *res = get_typed(d, v, "result", "", J_OBJ, false, &rc);
        if (rc) return rc;
        char kind[16], path[512];
        if (get_str(d, unit, "kind", "unit.", false, kind, sizeof kind) ||
            get_str(d, model, "path", "model.", false, path, sizeof path) ||
            get_str(d, model, "sha256", "model.", true, m.sha256, sizeof m.sha256) ||
            get_num(d, model, "size_bytes", "model.", 0, 1e15, true, &m.size_bytes))
            return -1;
        if (m.sha256[0] && (strlen(m.sha256) != 64 || strspn(m.sha256, "0123456789abcdef") != 64))
            return bad(d, "\"model.sha256\" is not 64 hex digits");
        snprintf(m.model, sizeof m.model, "%s", path);
        if (prov && read_prov(d, prov, "provenance.", &m)) return -1;
        if (!strcmp(kind, "bench")) return read_bench(r, d, res, "result.", &m);
        if (!strcmp(kind, "eval")) return read_eval(r, d, res, "result.", &m);
        return bad(d, "\"unit.kind\" is '%s' (bench or eval)", kind);
    }
    int rc;
    const struct jval *prov = get_typed(d, v, "provenance", "", J_OBJ, true, &rc);
    if (rc || (prov && read_prov(d, prov, "provenance.", &m))) return -1;
    if (json_get(v, "joule_eval")) return read_eval(r, d, v, "", &m);
    if (json_get(v, "tests") && json_get(v, "backend")) return read_bench(r, d, v, "", &m);
    return bad(d, "not a joule bench, eval or sweep result (no \"joule_sweep_unit\", "
                  "\"joule_eval\" or \"tests\")");
}

int report_add_file(struct report *r, const char *path, char *err, size_t errlen)
{
    struct rd d = {path, err, errlen};
    struct stat st;
    if (stat(path, &st) != 0) return bad(&d, "%s", strerror(errno));
    if ((uint64_t)st.st_size > REPORT_MAX_FILE)
        return bad(&d, "%lld bytes is too large for a result (at most %u MiB)",
                   (long long)st.st_size, REPORT_MAX_FILE >> 20);
    size_t len;
    char *text = file_read_all(path, &len, err, errlen);
    if (!text) return -1;
    struct jval v;
    char perr[256];
    if (json_parse(text, len, &v, perr, sizeof perr) != 0) {
        free(text);
        return bad(&d, "not valid JSON: %s", perr);
    }
    free(text);
    /* checked first against an empty report, so that a file rejected halfway leaves nothing
     * behind (--skip-bad goes on without it) */
    struct report scratch = {0};
    int rc = read_doc(&scratch, &d, &v);
    report_free(&scratch);
    if (rc == 0) rc = read_doc(r, &d, &v);
    json_free(&v);
    if (rc == 0) r->n_files++;
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int report_load(const char *const *paths, int n_paths, const struct report_opts *o,
                struct report *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n_paths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            snprintf(err, errlen, "%s: %s", paths[i], strerror(errno));
            goto fail;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (report_add_file(out, paths[i], err, errlen) != 0) {
                if (!o->skip_bad) goto fail;
                fprintf(stderr, "joule report: skipped %s\n", err);
            }
            continue;
        }
        DIR *dir = opendir(paths[i]);
        if (!dir) {
            snprintf(err, errlen, "%s: %s", paths[i], strerror(errno));
            goto fail;
        }
        char **names = NULL;
        int n = 0, cap = 0;
        struct dirent *e;
        bool oom = false;
        while ((e = readdir(dir))) {
            size_t l = strlen(e->d_name);
            if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".json")) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                char **nn = realloc(names, (size_t)cap * sizeof *nn);
                if (!nn) {
                    oom = true;
                    break;
                }
                names = nn;
            }
            size_t pl = strlen(paths[i]) + l + 2;
            if (!(names[n] = malloc(pl))) {
                oom = true;
                break;
            }
            snprintf(names[n++], pl, "%s/%s", paths[i], e->d_name);
        }
        closedir(dir);
        if (!oom) qsort(names, (size_t)n, sizeof *names, cmp_str); /* a stable order */
        int rc = 0;
        for (int k = 0; k < n && !oom && !rc; k++)
            if (report_add_file(out, names[k], err, errlen) != 0) {
                if (!o->skip_bad)
                    rc = -1;
                else
                    fprintf(stderr, "joule report: skipped %s\n", err);
            }
        for (int k = 0; k < n; k++)
            free(names[k]);
        free(names);
        if (oom) snprintf(err, errlen, "%s: out of memory listing the folder", paths[i]);
        if (oom || rc) goto fail;
    }
    if (out->n_rows == 0) {
        snprintf(err, errlen, "no results in the inputs (bench, eval or sweep JSON files)");
        goto fail;
    }
    report_finish(out, o);
    return 0;
fail:
    report_free(out);
    return -1;
}

void report_free(struct report *r)
{
    free(r->rows);
    free(r->diffs);
    memset(r, 0, sizeof *r);
}

/* ---- the front ---- */

void report_finish(struct report *r, const struct report_opts *o)
{
    const char *q = o && o->quality && strcmp(o->quality, "mean") ? o->quality : NULL;
    r->cost_usd = o && o->cost_usd;
    snprintf(r->quality_by, sizeof r->quality_by, "%s", q ? q : "mean");
    /* the mean over the accuracy-like suites that every row with scores has, so that no row
     * gains by missing a hard suite */
    bool common[REPORT_MAX_SUITES];
    for (int s = 0; s < r->n_suites; s++) {
        common[s] = true;
        for (int i = 0; i < r->n_rows; i++) {
            const struct report_score *sc = &r->rows[i].scores[s];
            bool any = false;
            for (int k = 0; k < r->n_suites; k++)
                any |= r->rows[i].scores[k].have;
            if (any && (!sc->have || sc->lower_better)) common[s] = false;
        }
    }
    for (int i = 0; i < r->n_rows; i++) {
        struct report_row *x = &r->rows[i];
        x->quality = NAN;
        if (q) {
            for (int s = 0; s < r->n_suites; s++)
                if (!strcmp(r->suites[s], q) && x->scores[s].have)
                    x->quality =
                        x->scores[s].lower_better ? -x->scores[s].value : x->scores[s].value;
        } else {
            double sum = 0;
            int n = 0;
            for (int s = 0; s < r->n_suites; s++)
                if (common[s] && x->scores[s].have) sum += x->scores[s].value, n++;
            if (n) x->quality = sum / n;
        }
        x->cost = r->cost_usd ? x->usd_total : x->tg_jtok;
        x->front = false;
    }
    for (int i = 0; i < r->n_rows; i++) {
        struct report_row *x = &r->rows[i];
        if (isnan(x->quality) || isnan(x->cost)) continue;
        bool beaten = false;
        for (int j = 0; j < r->n_rows && !beaten; j++) {
            const struct report_row *y = &r->rows[j];
            if (j == i || isnan(y->quality) || isnan(y->cost)) continue;
            beaten = y->quality >= x->quality && y->cost <= x->cost &&
                     (y->quality > x->quality || y->cost < x->cost);
        }
        x->front = !beaten;
    }
}
