/* eval_data — see eval_data.h. */
#include "eval_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_json.h"
#include "fileio.h"

const char *rec_get(const struct eval_rec *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->key[i], name)) return r->val[i];
    return NULL;
}

int rec_all(const struct eval_rec *r, const char *name, const char **out, int max)
{
    int k = 0;
    for (int i = 0; i < r->n && k < max; i++)
        if (!strcmp(r->key[i], name)) out[k++] = r->val[i];
    return k;
}

int rec_add(struct eval_rec *r, const char *name, const char *val, size_t vlen)
{
    if (r->n == r->cap) {
        int nc = r->cap ? r->cap * 2 : 8;
        char **nk = realloc(r->key, sizeof *nk * (size_t)nc);
        if (!nk) return -1;
        r->key = nk;
        char **nv = realloc(r->val, sizeof *nv * (size_t)nc);
        if (!nv) return -1;
        r->val = nv;
        r->cap = nc;
    }
    char *k = strdup(name), *v = strndup(val, vlen);
    if (!k || !v) return free(k), free(v), -1;
    r->key[r->n] = k;
    r->val[r->n] = v;
    r->n++;
    return 0;
}

static void rec_free(struct eval_rec *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->key[i]), free(r->val[i]);
    free(r->key);
    free(r->val);
    memset(r, 0, sizeof *r);
}

void eval_recs_free(struct eval_recs *r)
{
    for (int i = 0; i < r->n; i++)
        rec_free(&r->r[i]);
    free(r->r);
    memset(r, 0, sizeof *r);
}

static struct eval_rec *recs_new(struct eval_recs *r)
{
    if (r->n == r->cap) {
        int nc = r->cap ? r->cap * 2 : 256;
        struct eval_rec *n = realloc(r->r, sizeof *n * (size_t)nc);
        if (!n) return NULL;
        r->r = n;
        r->cap = nc;
    }
    memset(&r->r[r->n], 0, sizeof r->r[0]);
    return &r->r[r->n++];
}

/* ---- JSON records ---- */

static int flatten(struct eval_rec *r, const struct jval *v, char *path, size_t plen, size_t cap)
{
    switch (v->type) {
    case J_ARR:
        for (int i = 0; i < v->n; i++)
            if (flatten(r, &v->kids[i], path, plen, cap)) return -1;
        return 0;
    case J_OBJ:
        for (int i = 0; i < v->n; i++) {
            size_t kl = strlen(v->keys[i]);
            if (plen + kl + 8 >= cap) return -1;
            size_t np = plen;
            if (plen) path[np++] = '.';
            memcpy(path + np, v->keys[i], kl + 1);
            if (flatten(r, &v->kids[i], path, np + kl, cap)) return -1;
            const struct jval *k = &v->kids[i];
            if (k->type != J_ARR && k->type != J_OBJ) {
                char *tail = path + plen;
                strcpy(tail, plen ? ".@key" : "@key");
                if (rec_add(r, path, v->keys[i], kl)) return -1;
                strcpy(tail, plen ? ".@value" : "@value");
                if (rec_add(r, path, json_str(k), strlen(json_str(k)))) return -1;
            }
            path[plen] = 0;
        }
        return 0;
    default: return rec_add(r, path, json_str(v), v->type == J_NULL ? 0 : v->len);
    }
}

static int add_json_record(struct eval_recs *out, const struct jval *v, const char *file, int line,
                           char *err, size_t errlen)
{
    if (v->type != J_OBJ) {
        snprintf(err, errlen, "%s:%d: a record is not a JSON object", file, line);
        return -1;
    }
    struct eval_rec *r = recs_new(out);
    char path[4096] = "";
    if (!r || flatten(r, v, path, 0, sizeof path)) {
        snprintf(err, errlen, "%s:%d: out of memory or names nested too deeply", file, line);
        return -1;
    }
    return 0;
}

static int read_jsonl(const char *path, const char *buf, size_t len, struct eval_recs *out,
                      char *err, size_t errlen)
{
    size_t i = 0;
    int line = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        line++;
        size_t s = i;
        while (s < e && (buf[s] == ' ' || buf[s] == '\r' || buf[s] == '\t'))
            s++;
        if (s < e) {
            struct jval v;
            char jerr[200];
            if (json_parse(buf + s, e - s, &v, jerr, sizeof jerr)) {
                snprintf(err, errlen, "%s:%d: %s", path, line, jerr);
                return -1;
            }
            int rc = add_json_record(out, &v, path, line, err, errlen);
            json_free(&v);
            if (rc) return rc;
        }
        i = e + 1;
    }
    return 0;
}

static int read_json(const char *path, const char *buf, size_t len, struct eval_recs *out,
                     char *err, size_t errlen)
{
    struct jval v;
    char jerr[200];
    if (json_parse(buf, len, &v, jerr, sizeof jerr)) {
        snprintf(err, errlen, "%s: %s", path, jerr);
        return -1;
    }
    int rc = 0;
    if (v.type != J_ARR) {
        snprintf(err, errlen, "%s: expected a JSON array of records", path);
        rc = -1;
    }
    for (int i = 0; !rc && i < v.n; i++)
        rc = add_json_record(out, &v.kids[i], path, i + 1, err, errlen);
    json_free(&v);
    return rc;
}

/* ---- CSV ---- */

/* Splits space-separated names into out (max); returns the count. */
static int split_names(const char *s, char out[][64], int max)
{
    int n = 0;
    while (s && *s && n < max) {
        while (*s == ' ')
            s++;
        if (!*s) break;
        size_t l = strcspn(s, " ");
        snprintf(out[n++], 64, "%.*s", (int)l, s);
        s += l;
    }
    return n;
}

enum { MAX_COLS = 64 };

static int read_csv(const char *path, const char *buf, size_t len, const char *columns, bool header,
                    struct eval_recs *out, char *err, size_t errlen)
{
    char names[MAX_COLS][64];
    int ncol = split_names(columns, names, MAX_COLS);
    size_t i = 0, cap = 256;
    char *field = malloc(cap);
    int row = 0, col = 0;
    struct eval_rec *r = NULL;
    bool have_header = !header || ncol > 0;
    if (!field) return snprintf(err, errlen, "out of memory"), -1;
    while (i < len) {
        size_t fl = 0;
        bool quoted = buf[i] == '"';
        if (quoted) i++;
        while (i < len) {
            char c = buf[i];
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < len && buf[i + 1] == '"')
                        i++;
                    else {
                        quoted = false;
                        i++;
                        continue;
                    }
                }
            } else if (c == ',' || c == '\n' || (c == '\r' && i + 1 < len && buf[i + 1] == '\n')) {
                break;
            }
            if (fl + 2 >= cap) {
                char *nf = realloc(field, cap *= 2);
                if (!nf) return free(field), snprintf(err, errlen, "out of memory"), -1;
                field = nf;
            }
            field[fl++] = buf[i++];
        }
        field[fl] = 0;
        if (!have_header) {
            if (ncol < MAX_COLS) snprintf(names[ncol++], 64, "%s", field);
        } else {
            if (col == 0 && !(r = recs_new(out)))
                return free(field), snprintf(err, errlen, "out of memory"), -1;
            if (col >= ncol) {
                free(field);
                snprintf(err, errlen, "%s: row %d has more than %d fields", path, row + 1, ncol);
                return -1;
            }
            if (rec_add(r, names[col], field, fl))
                return free(field), snprintf(err, errlen, "out of memory"), -1;
        }
        col++;
        if (i < len && buf[i] == ',') {
            i++;
            continue;
        }
        if (i < len && buf[i] == '\r') i++;
        if (i < len && buf[i] == '\n') i++;
        if (have_header && col != ncol) {
            free(field);
            snprintf(err, errlen, "%s: row %d has %d fields, expected %d", path, row + 1, col,
                     ncol);
            return -1;
        }
        have_header = true;
        row++;
        col = 0;
    }
    free(field);
    return 0;
}

/* ---- lines ---- */

static int read_lines(const char *path, const char *buf, size_t len, int group, const char *columns,
                      struct eval_recs *out, char *err, size_t errlen)
{
    char names[MAX_COLS][64];
    int ncol = split_names(columns, names, MAX_COLS);
    if (group < 1 || ncol != group) {
        snprintf(err, errlen, "%s: 'lines %d' needs %d column names (have %d)", path, group, group,
                 ncol);
        return -1;
    }
    size_t i = 0;
    int line = 0;
    struct eval_rec *r = NULL;
    while (i < len) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        size_t l = e - i;
        if (l && buf[e - 1] == '\r') l--;
        if (line % group == 0 && !(r = recs_new(out)))
            return snprintf(err, errlen, "out of memory"), -1;
        if (rec_add(r, names[line % group], buf + i, l))
            return snprintf(err, errlen, "out of memory"), -1;
        line++;
        i = e + 1;
    }
    if (line % group) {
        snprintf(err, errlen, "%s: %d lines is not a multiple of %d", path, line, group);
        return -1;
    }
    return 0;
}

int eval_read_records(const char *path, const char *format, int group, const char *columns,
                      bool csv_header, struct eval_recs *out, char *err, size_t errlen)
{
    size_t len;
    char *buf = file_read_all(path, &len, err, errlen);
    if (!buf) return -1;
    int rc;
    if (!strcmp(format, "jsonl"))
        rc = read_jsonl(path, buf, len, out, err, errlen);
    else if (!strcmp(format, "json"))
        rc = read_json(path, buf, len, out, err, errlen);
    else if (!strcmp(format, "csv"))
        rc = read_csv(path, buf, len, columns, csv_header, out, err, errlen);
    else if (!strcmp(format, "lines"))
        rc = read_lines(path, buf, len, group, columns, out, err, errlen);
    else if (!strcmp(format, "text")) {
        struct eval_rec *r = recs_new(out);
        rc = r && !rec_add(r, "text", buf, len) ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    } else {
        snprintf(err, errlen, "%s: unknown format '%s' (jsonl, json, csv, lines, text)", path,
                 format);
        rc = -1;
    }
    free(buf);
    return rc;
}

int eval_join_lines(struct eval_recs *recs, const char *path, const char *name, char *err,
                    size_t errlen)
{
    size_t len;
    char *buf = file_read_all(path, &len, err, errlen);
    if (!buf) return -1;
    size_t i = 0;
    int line = 0, rc = 0;
    while (i < len && !rc) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        size_t l = e - i;
        if (l && buf[e - 1] == '\r') l--;
        if (line < recs->n && rec_add(&recs->r[line], name, buf + i, l)) rc = -1;
        line++;
        i = e + 1;
    }
    free(buf);
    if (!rc && line != recs->n) {
        snprintf(err, errlen, "%s: %d lines for %d records", path, line, recs->n);
        return -1;
    }
    return rc;
}
