/* eval_suite — see eval_suite.h. */
#include "eval_suite.h"

#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval_rand.h"
#include "eval_sha256.h"
#include "eval_text.h"
#include "fileio.h"

#if defined(__has_include)
#if __has_include("suites_embed.h")
#include "suites_embed.h"
#define HAVE_EMBED 1
#endif
#endif
#ifndef HAVE_EMBED
static const struct suite_embedded {
    const char *name, *text;
} suite_embedded[] = {{NULL, NULL}};
#endif

/* ---- parsing ---- */

void suite_unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s != '\\' || !s[1]) {
            *o++ = *s;
            continue;
        }
        s++;
        *o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == 's' ? ' ' : *s;
    }
    *o = 0;
}

static void copy_val(char *dst, size_t cap, const char *v, bool unescape)
{
    snprintf(dst, cap, "%s", v);
    if (unescape) suite_unescape(dst);
}

static int set_type(struct suite_def *d, const char *v)
{
    static const char *const names[] = {"multiple_choice", "multiple_input", "loglikelihood",
                                        "generate", "perplexity"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(v, names[i])) return d->type = (enum suite_type)i, 0;
    return -1;
}

/* A template key given twice is an error (the first value used to leak, the second to win
 * silently); 2 says so to the caller, 1 is out of memory. */
static int set_str(char **dst, const char *v)
{
    if (*dst) return 2;
    return !(*dst = strdup(v));
}

static int parse_lines(const char *text, const char *name, struct suite_def *d, char *err,
                       size_t errlen);

/* On failure d holds nothing to free (whatever was built is freed). */
int suite_parse(const char *text, const char *name, struct suite_def *d, char *err, size_t errlen)
{
    int rc = parse_lines(text, name, d, err, errlen);
    if (rc) suite_free(d);
    return rc;
}

static int parse_lines(const char *text, const char *name, struct suite_def *d, char *err,
                       size_t errlen)
{
    memset(d, 0, sizeof *d);
    strcpy(d->delimiter, " ");
    strcpy(d->fewshot_delimiter, "\n\n");
    strcpy(d->format, "jsonl");
    d->seed = 1234;
    d->max_gen = 256;
    d->ppl_ctx = 512;
    d->type = SUITE_MC;
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, text, strlen(text));
    sha256_hex(&h, d->sha256);
    int lineno = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        lineno++;
        char line[4096];
        if (l >= sizeof line) {
            snprintf(err, errlen, "%s:%d: line too long", name, lineno);
            return -1;
        }
        memcpy(line, p, l);
        line[l] = 0;
        p = e ? e + 1 : p + l;
        while (l && (line[l - 1] == ' ' || line[l - 1] == '\r' || line[l - 1] == '\t'))
            line[--l] = 0;
        char *k = line;
        while (*k == ' ' || *k == '\t')
            k++;
        if (!*k || *k == '#') continue;
        char *v = k + strcspn(k, " \t");
        if (*v) *v++ = 0;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') v[vl - 1] = 0, v++;
        int bad = 0;
        if (!strcmp(k, "name"))
            copy_val(d->name, sizeof d->name, v, false);
        else if (!strcmp(k, "description"))
            copy_val(d->description, sizeof d->description, v, false);
        else if (!strcmp(k, "task"))
            copy_val(d->task, sizeof d->task, v, false);
        else if (!strcmp(k, "licence") || !strcmp(k, "license"))
            copy_val(d->licence, sizeof d->licence, v, false);
        else if (!strcmp(k, "items"))
            d->items = atoi(v);
        else if (!strcmp(k, "file")) {
            if (d->n_files == SUITE_MAX_FILES)
                bad = 1;
            else {
                struct suite_file *f = &d->files[d->n_files++];
                if (sscanf(v, "%255s %65s %511s %127s", f->path, f->sha256, f->url, f->how) < 3)
                    bad = 1;
            }
        } else if (!strcmp(k, "data"))
            copy_val(d->data, sizeof d->data, v, false);
        else if (!strcmp(k, "format")) {
            if (sscanf(v, "%15s %d", d->format, &d->lines) < 1) bad = 1;
        } else if (!strcmp(k, "columns"))
            copy_val(d->columns, sizeof d->columns, v, false);
        else if (!strcmp(k, "join")) {
            if (sscanf(v, "%255s %63s", d->join, d->join_field) != 2) bad = 1;
        } else if (!strcmp(k, "type"))
            bad = set_type(d, v);
        else if (!strcmp(k, "preamble"))
            bad = set_str(&d->preamble, v);
        else if (!strcmp(k, "text"))
            bad = set_str(&d->text, v);
        else if (!strcmp(k, "choices"))
            bad = set_str(&d->choices, v);
        else if (!strcmp(k, "gold"))
            bad = set_str(&d->gold, v);
        else if (!strcmp(k, "labels"))
            bad = set_str(&d->labels, v);
        else if (!strcmp(k, "target"))
            bad = set_str(&d->target, v);
        else if (!strcmp(k, "delimiter"))
            copy_val(d->delimiter, sizeof d->delimiter, v, true);
        else if (!strcmp(k, "fewshot_delimiter"))
            copy_val(d->fewshot_delimiter, sizeof d->fewshot_delimiter, v, true);
        else if (!strcmp(k, "shots"))
            d->shots = atoi(v);
        else if (!strcmp(k, "fewshot"))
            copy_val(d->fewshot, sizeof d->fewshot, v, false);
        else if (!strcmp(k, "sampler")) {
            if (!strcmp(v, "first_n"))
                d->first_n = true;
            else if (sscanf(v, "random %u", &d->seed) != 1)
                bad = 1;
        } else if (!strcmp(k, "metrics"))
            copy_val(d->metrics, sizeof d->metrics, v, false);
        else if (!strcmp(k, "until"))
            copy_val(d->until, sizeof d->until, v, true);
        else if (!strcmp(k, "max_gen"))
            d->max_gen = atoi(v);
        else if (!strcmp(k, "fix"))
            copy_val(d->fix, sizeof d->fix, v, false);
        else if (!strcmp(k, "group_by"))
            copy_val(d->group_by, sizeof d->group_by, v, false);
        else if (!strcmp(k, "group")) {
            if (d->n_groups == SUITE_MAX_GROUPS)
                bad = 1;
            else {
                struct suite_group *g = &d->groups[d->n_groups++];
                size_t nl = strcspn(v, " ");
                snprintf(g->name, sizeof g->name, "%.*s", (int)nl, v);
                bad = !(g->members = strdup(v + nl));
            }
        } else if (!strcmp(k, "ppl_ctx"))
            d->ppl_ctx = atoi(v);
        else if (!strcmp(k, "sha256")) { /* per-file hashes for tools/fetch-suites.sh */
        } else {
            snprintf(err, errlen, "%s:%d: unknown key '%s'", name, lineno, k);
            return -1;
        }
        if (bad) {
            snprintf(err, errlen,
                     bad == 2 ? "%s:%d: repeated key '%s'" : "%s:%d: bad value for '%s'", name,
                     lineno, k);
            return -1;
        }
    }
    const char *miss = !d->name[0] ? "name" : !d->data[0] ? "data" : NULL;
    if (!miss && d->type != SUITE_PPL && !d->text && d->type != SUITE_MI) miss = "text";
    if (!miss && (d->type == SUITE_MC || d->type == SUITE_MI) && !d->choices) miss = "choices";
    /* choices of any type are scored against a gold answer (a fuzzed wikitext suite with
     * choices and no gold crashed in gold_index) */
    if (!miss && (d->type == SUITE_MC || d->type == SUITE_MI || d->choices) && !d->gold)
        miss = "gold";
    if (!miss && d->type != SUITE_MC && d->type != SUITE_PPL && !d->target) miss = "target";
    if (miss) {
        snprintf(err, errlen, "%s: missing '%s'", name, miss);
        return -1;
    }
    return 0;
}

void suite_free(struct suite_def *d)
{
    free(d->preamble), free(d->text), free(d->choices), free(d->gold), free(d->labels);
    free(d->target);
    for (int i = 0; i < d->n_groups; i++)
        free(d->groups[i].members);
    memset(d, 0, sizeof *d);
}

int suite_builtin_count(void)
{
    int n = 0;
    while (suite_embedded[n].name)
        n++;
    return n;
}

const char *suite_builtin_name(int i)
{
    return suite_embedded[i].name;
}

int suite_load(const char *name, struct suite_def *d, char *err, size_t errlen)
{
    size_t nl = strlen(name);
    if (strchr(name, '/') || (nl > 6 && !strcmp(name + nl - 6, ".suite"))) {
        char *text = file_read_all(name, NULL, err, errlen);
        if (!text) return -1;
        int rc = suite_parse(text, name, d, err, errlen);
        free(text);
        return rc;
    }
    for (int i = 0; suite_embedded[i].name; i++)
        if (!strcmp(suite_embedded[i].name, name))
            return suite_parse(suite_embedded[i].text, name, d, err, errlen);
    char list[1024] = "";
    for (int i = 0; suite_embedded[i].name; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 suite_embedded[i].name);
    snprintf(err, errlen, "unknown suite '%s' (known: %s; or a path to a .suite file)", name, list);
    return -1;
}

/* ---- templates ---- */

struct buf {
    char *s;
    size_t n, cap;
};

static int bput(struct buf *b, const char *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 128;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) return -1;
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = 0;
    return 0;
}

/* applies "f1|f2:arg" to a malloc'd value */
static char *apply_filters(char *v, const char *filters, char *err, size_t errlen)
{
    while (v && *filters) {
        const char *f = filters;
        size_t fl = strcspn(f, "|");
        filters = f[fl] ? f + fl + 1 : f + fl;
        char name[64], arg[256] = "";
        const char *colon = memchr(f, ':', fl);
        size_t nl = colon ? (size_t)(colon - f) : fl;
        snprintf(name, sizeof name, "%.*s", (int)nl, f);
        if (colon) snprintf(arg, sizeof arg, "%.*s", (int)(fl - nl - 1), colon + 1);
        char *r = NULL;
        if (!strcmp(name, "strip"))
            r = text_strip(v);
        else if (!strcmp(name, "hellaswag"))
            r = text_hellaswag(v);
        else if (!strcmp(name, "but_last_word"))
            r = text_but_last_word(v);
        else if (!strcmp(name, "last_word"))
            r = text_last_word(v);
        else if (!strcmp(name, "underscores"))
            r = text_replace(v, "_", " ");
        else if (!strcmp(name, "drop_prefix")) {
            size_t al = strlen(arg);
            r = strdup(!strncmp(v, arg, al) ? v + al : v);
        } else {
            snprintf(err, errlen, "unknown filter '%s'", name);
            free(v);
            return NULL;
        }
        free(v);
        v = r;
    }
    return v;
}

/* parses "{name|filters}" at *pp (after '{'); fills name and filters (escapes done) */
static int parse_ref(const char **pp, char *name, size_t ncap, char *filters, size_t fcap)
{
    const char *p = *pp;
    struct buf b = {0};
    while (*p && *p != '}') {
        if (*p == '\\' && p[1]) {
            char c = p[1] == 'n' ? '\n' : p[1] == 't' ? '\t' : p[1] == 's' ? ' ' : p[1];
            if (bput(&b, &c, 1)) return free(b.s), -1;
            p += 2;
            continue;
        }
        if (bput(&b, p++, 1)) return free(b.s), -1;
    }
    if (*p != '}' || !b.s) return free(b.s), -1;
    *pp = p + 1;
    size_t nl = strcspn(b.s, "|");
    snprintf(name, ncap, "%.*s", (int)nl, b.s);
    snprintf(filters, fcap, "%s", b.s[nl] ? b.s + nl + 1 : "");
    free(b.s);
    return 0;
}

char *suite_render(const char *tpl, const struct eval_rec *r, char *err, size_t errlen)
{
    struct buf b = {0};
    const char *p = tpl;
    if (bput(&b, "", 0)) return NULL;
    while (*p) {
        if (*p == '\\' && p[1]) {
            char c = p[1] == 'n' ? '\n' : p[1] == 't' ? '\t' : p[1] == 's' ? ' ' : p[1];
            bput(&b, &c, 1);
            p += 2;
        } else if (*p == '{') {
            p++;
            char name[128], filters[512];
            if (parse_ref(&p, name, sizeof name, filters, sizeof filters)) {
                snprintf(err, errlen, "unterminated '{' in template '%s'", tpl);
                return free(b.s), NULL;
            }
            const char *v = rec_get(r, name);
            if (!v) {
                snprintf(err, errlen, "the record has no field '%s'", name);
                return free(b.s), NULL;
            }
            char *fv = apply_filters(strdup(v), filters, err, errlen);
            if (!fv) return free(b.s), NULL;
            bput(&b, fv, strlen(fv));
            free(fv);
        } else {
            bput(&b, p++, 1);
        }
    }
    return b.s;
}

int suite_render_list(const char *tpl, const struct eval_rec *r, char ***out, char *err,
                      size_t errlen)
{
    *out = NULL;
    /* a single {field} names a list */
    size_t tl = strlen(tpl);
    if (tpl[0] == '{' && tpl[tl - 1] == '}' && !strchr(tpl + 1, '{')) {
        const char *p = tpl + 1;
        char name[128], filters[512];
        if (parse_ref(&p, name, sizeof name, filters, sizeof filters) == 0 && !*p) {
            const char *vals[256];
            int n = rec_all(r, name, vals, 256);
            if (n == 0) {
                snprintf(err, errlen, "the record has no field '%s'", name);
                return -1;
            }
            char **o = calloc((size_t)n, sizeof *o);
            if (!o) return -1;
            for (int i = 0; i < n; i++) {
                if (!(o[i] = apply_filters(strdup(vals[i]), filters, err, errlen))) {
                    for (int j = 0; j < i; j++)
                        free(o[j]);
                    return free(o), -1;
                }
            }
            *out = o;
            return n;
        }
    }
    /* "a | b | c": split at '|' outside braces and escapes */
    int n = 0, cap = 8;
    char **o = calloc((size_t)cap, sizeof *o);
    const char *s = tpl;
    while (o) {
        const char *e = s;
        int depth = 0;
        while (*e && !(*e == '|' && depth == 0)) {
            if (*e == '\\' && e[1])
                e++;
            else if (*e == '{')
                depth++;
            else if (*e == '}')
                depth--;
            e++;
        }
        const char *a = s, *z = e;
        while (a < z && *a == ' ')
            a++;
        while (z > a && z[-1] == ' ')
            z--;
        char *part = strndup(a, (size_t)(z - a));
        char *v = part ? suite_render(part, r, err, errlen) : NULL;
        free(part);
        if (!v) break;
        if (n == cap) {
            char **no = realloc(o, sizeof *no * (size_t)(cap *= 2));
            if (!no) {
                free(v);
                break;
            }
            o = no;
        }
        o[n++] = v;
        if (!*e) {
            *out = o;
            return n;
        }
        s = e + 1;
    }
    for (int i = 0; o && i < n; i++)
        free(o[i]);
    free(o);
    return -1;
}

/* ---- data ---- */

static void fetch_hint(const struct suite_def *d, char *err, size_t errlen, const char *path)
{
    snprintf(err, errlen,
             "suite %s: data file %s not found; fetch it with:\n"
             "  tools/fetch-suites.sh %s\n"
             "(it downloads into ${JOULE_DATA:-~/.cache/joule}/suites), or point --data at a "
             "folder that holds %s",
             d->name, path, d->name, d->data);
}

int suite_check_data(const struct suite_def *d, const char *data_dir, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data_dir, d->data);
    glob_t g;
    bool ok = glob(path, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    if (ok) globfree(&g);
    if (!ok) fetch_hint(d, err, errlen, path);
    return ok ? 0 : -1;
}

int suite_load_data(const struct suite_def *d, const char *data_dir, struct suite_data *sd,
                    char *err, size_t errlen)
{
    memset(sd, 0, sizeof *sd);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data_dir, d->data);
    const char *star = strchr(d->data, '*');
    if (!star) {
        struct stat st;
        if (stat(path, &st) != 0) return fetch_hint(d, err, errlen, path), -1;
        if (eval_read_records(path, d->format, d->lines, d->columns, !d->columns[0], &sd->recs, err,
                              errlen))
            return -1;
    } else {
        glob_t g;
        if (glob(path, 0, NULL, &g) != 0 || g.gl_pathc == 0)
            return fetch_hint(d, err, errlen, path), -1;
        size_t pre = strlen(data_dir) + 1 + (size_t)(star - d->data), suf = strlen(star + 1);
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int before = sd->recs.n;
            if (eval_read_records(g.gl_pathv[i], d->format, d->lines, d->columns, !d->columns[0],
                                  &sd->recs, err, errlen)) {
                globfree(&g);
                return -1;
            }
            const char *m = g.gl_pathv[i];
            size_t ml = strlen(m);
            size_t stem_len = ml > pre + suf ? ml - pre - suf : 0;
            for (int j = before; j < sd->recs.n; j++)
                if (rec_add(&sd->recs.r[j], "_stem", m + pre, stem_len)) {
                    globfree(&g);
                    return snprintf(err, errlen, "out of memory"), -1;
                }
        }
        globfree(&g);
    }
    if (d->join[0]) {
        snprintf(path, sizeof path, "%s/%s", data_dir, d->join);
        if (eval_join_lines(&sd->recs, path, d->join_field, err, errlen)) return -1;
    }
    sd->n_docs = sd->recs.n;
    return 0;
}

static int load_pool(const struct suite_def *d, struct suite_data *sd, const char *data_dir,
                     const struct eval_rec *doc, char *err, size_t errlen)
{
    char *rel = suite_render(d->fewshot, doc, err, errlen);
    if (!rel) return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    free(rel);
    if (!strcmp(path, sd->pool_path)) return 0;
    eval_recs_free(&sd->pool);
    snprintf(sd->pool_path, sizeof sd->pool_path, "%s", path);
    struct stat st;
    if (stat(path, &st) != 0) return fetch_hint(d, err, errlen, path), -1;
    return eval_read_records(path, d->format, d->lines, d->columns, !d->columns[0], &sd->pool, err,
                             errlen);
}

int suite_plan_shots(const struct suite_def *d, struct suite_data *sd, const char *data_dir, int k,
                     unsigned seed, const long *order, long n_order, char *err, size_t errlen)
{
    free(sd->shots);
    sd->shots = NULL;
    sd->k = k;
    if (k <= 0 || d->first_n) return 0;
    if (!d->fewshot[0]) {
        snprintf(err, errlen, "suite %s has no few-shot pool (it is %d-shot only)", d->name,
                 d->shots);
        return -1;
    }
    bool from_test = !strcmp(d->fewshot, "test");
    if (!from_test && strchr(d->fewshot, '{')) {
        snprintf(err, errlen, "suite %s: a random sampler needs one fixed few-shot file", d->name);
        return -1;
    }
    int pop = from_test ? sd->n_docs : 0;
    if (!from_test) {
        if (sd->n_docs && load_pool(d, sd, data_dir, &sd->recs.r[0], err, errlen)) return -1;
        pop = sd->pool.n;
    }
    int draw = from_test ? k + 1 : k;
    if (draw > pop) {
        snprintf(err, errlen, "suite %s: %d shots need a pool of %d, have %d", d->name, k, draw,
                 pop);
        return -1;
    }
    sd->shots = malloc(sizeof(int) * (size_t)sd->n_docs * (size_t)k);
    int *tmp = malloc(sizeof(int) * (size_t)draw);
    if (!sd->shots || !tmp) return free(tmp), snprintf(err, errlen, "out of memory"), -1;
    struct pyrand r;
    pyrand_seed(&r, seed);
    long n = order ? n_order : sd->n_docs;
    for (long o = 0; o < n; o++) {
        long i = order ? order[o] : o;
        pyrand_sample(&r, pop, draw, tmp);
        int c = 0;
        for (int j = 0; j < draw && c < k; j++)
            if (!from_test || tmp[j] != i) sd->shots[(size_t)i * k + c++] = tmp[j];
    }
    free(tmp);
    return 0;
}

static int gold_index(const struct suite_def *d, const struct eval_rec *r, int n_choices, int *gold,
                      char *err, size_t errlen)
{
    const char *in = strstr(d->gold, " in ");
    char *lhs = in ? strndup(d->gold, (size_t)(in - d->gold)) : strdup(d->gold);
    char *v = lhs ? suite_render(lhs, r, err, errlen) : NULL;
    free(lhs);
    if (!v) return -1;
    int rc = 0;
    if (in) {
        char **list;
        int n = suite_render_list(in + 4, r, &list, err, errlen);
        if (n < 0) return free(v), -1;
        *gold = -1;
        for (int i = 0; i < n; i++) {
            if (*gold < 0 && !strcmp(list[i], v)) *gold = i;
            free(list[i]);
        }
        free(list);
    } else {
        char *end;
        long g = strtol(v, &end, 10);
        *gold = end == v || *end ? -1 : (int)g;
    }
    if (*gold < 0 || *gold >= n_choices) {
        snprintf(err, errlen, "gold answer '%s' is not one of the %d choices", v, n_choices);
        rc = -1;
    }
    free(v);
    return rc;
}

/* the choices, gold and target of one record */
static int doc_parts(const struct suite_def *d, const struct eval_rec *r, struct eval_doc *doc,
                     char *err, size_t errlen)
{
    if (d->text && d->type != SUITE_MI && !(doc->text = suite_render(d->text, r, err, errlen)))
        return -1;
    if (d->target && !(doc->target = suite_render(d->target, r, err, errlen))) return -1;
    if (d->choices) {
        doc->n_choices = suite_render_list(d->choices, r, &doc->choices, err, errlen);
        if (doc->n_choices < 0) return doc->n_choices = 0, -1;
        if (gold_index(d, r, doc->n_choices, &doc->gold, err, errlen)) return -1;
        if (!strcmp(d->fix, "llmfoundry-pad") && doc->n_choices > 1) {
            /* MosaicML padded 3-choice items with a copy of a wrong choice at index 0 */
            bool dup = false;
            for (int i = 1; i < doc->n_choices; i++)
                dup |= !strcmp(doc->choices[0], doc->choices[i]);
            if (dup && doc->gold > 0) {
                free(doc->choices[0]);
                memmove(doc->choices, doc->choices + 1,
                        sizeof(char *) * (size_t)(doc->n_choices - 1));
                doc->n_choices--;
                doc->gold--;
            }
        }
    }
    if (d->labels) {
        char **l;
        int n = suite_render_list(d->labels, r, &l, err, errlen);
        if (n < 0) return -1;
        doc->labels = calloc((size_t)(n ? n : 1), 1);
        for (int i = 0; i < n; i++) {
            if (doc->labels && i < doc->n_choices) doc->labels[i] = (signed char)(atoi(l[i]) != 0);
            free(l[i]);
        }
        free(l);
        if (!doc->labels || n != doc->n_choices) {
            snprintf(err, errlen, "%d labels for %d choices", n, doc->n_choices);
            return -1;
        }
    }
    if (d->group_by[0]) {
        const char *g = rec_get(r, d->group_by);
        doc->group = strdup(g ? g : "");
    }
    return 0;
}

/* text of a labelled few-shot example (without the few-shot delimiter) */
static char *example(const struct suite_def *d, const struct eval_rec *r, char *err, size_t errlen)
{
    struct eval_doc ex = {0};
    char *out = NULL;
    if (doc_parts(d, r, &ex, err, errlen) == 0) {
        struct buf b = {0};
        const char *a = d->type == SUITE_MI ? ex.choices[ex.gold] : ex.text;
        const char *z = d->type == SUITE_MC ? ex.choices[ex.gold] : ex.target;
        if (a && z && !bput(&b, a, strlen(a)) && !bput(&b, d->delimiter, strlen(d->delimiter)) &&
            !bput(&b, z, strlen(z)))
            out = b.s;
        else
            free(b.s);
    }
    eval_doc_free(&ex);
    return out;
}

static int doc_build(const struct suite_def *d, struct suite_data *sd, const char *data_dir, int i,
                     struct eval_doc *doc, char *err, size_t errlen)
{
    memset(doc, 0, sizeof *doc);
    const struct eval_rec *r = &sd->recs.r[i];
    char e2[400];
    if (doc_parts(d, r, doc, e2, sizeof e2)) {
        snprintf(err, errlen, "suite %s, item %d: %s", d->name, i, e2);
        return -1;
    }
    struct buf b = {0};
    bput(&b, "", 0);
    if (d->preamble) {
        char *p = suite_render(d->preamble, r, e2, sizeof e2);
        if (!p) return free(b.s), snprintf(err, errlen, "suite %s: preamble: %s", d->name, e2), -1;
        bput(&b, p, strlen(p));
        free(p);
    }
    int k = sd->k;
    if (k > 0 && d->first_n && load_pool(d, sd, data_dir, r, err, errlen)) return free(b.s), -1;
    for (int s = 0; s < k; s++) {
        const struct eval_rec *ex;
        if (d->first_n) {
            if (s >= sd->pool.n) break;
            ex = &sd->pool.r[s];
        } else {
            int j = sd->shots[(size_t)i * k + s];
            ex = !strcmp(d->fewshot, "test") ? &sd->recs.r[j] : &sd->pool.r[j];
        }
        char *t = example(d, ex, e2, sizeof e2);
        if (!t)
            return free(b.s), snprintf(err, errlen, "suite %s: few-shot example: %s", d->name, e2),
                   -1;
        bput(&b, t, strlen(t));
        bput(&b, d->fewshot_delimiter, strlen(d->fewshot_delimiter));
        free(t);
    }
    if (!b.s) return snprintf(err, errlen, "out of memory"), -1;
    doc->context = b.s;
    return 0;
}

/* A failed document frees what it had built (a bad gold index after the choices leaked
 * them; found by fuzz/fuzz_suite.c). */
int suite_doc(const struct suite_def *d, struct suite_data *sd, const char *data_dir, int i,
              struct eval_doc *doc, char *err, size_t errlen)
{
    int rc = doc_build(d, sd, data_dir, i, doc, err, errlen);
    if (rc) eval_doc_free(doc);
    return rc;
}

void eval_doc_free(struct eval_doc *doc)
{
    free(doc->text);
    for (int i = 0; i < doc->n_choices; i++)
        free(doc->choices[i]);
    free(doc->choices);
    free(doc->labels);
    free(doc->target);
    free(doc->group);
    free(doc->context);
    memset(doc, 0, sizeof *doc);
}

void suite_data_free(struct suite_data *sd)
{
    eval_recs_free(&sd->recs);
    eval_recs_free(&sd->pool);
    free(sd->shots);
    memset(sd, 0, sizeof *sd);
}
