/* eval_json — see eval_json.h. */
#include "eval_json.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct jp {
    const char *s;
    size_t n, i;
    char *err;
    size_t errlen;
};

static int jfail(struct jp *p, const char *what)
{
    snprintf(p->err, p->errlen, "JSON error at byte %zu: %s", p->i, what);
    return -1;
}

static void skip_ws(struct jp *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(struct jp *p, uint32_t *out)
{
    if (p->i + 4 > p->n) return jfail(p, "short \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return jfail(p, "bad \\u escape");
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 63));
        o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63)), o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* p->i at the opening quote */
static int parse_string(struct jp *p, char **out, size_t *olen)
{
    p->i++;
    size_t start = p->i, cap = 16;
    while (p->i < p->n && p->s[p->i] != '"') { /* size estimate */
        if (p->s[p->i] == '\\') p->i++;
        p->i++;
    }
    if (p->i >= p->n) return jfail(p, "unterminated string");
    cap = p->i - start + 1;
    p->i = start;
    char *o = malloc(cap);
    if (!o) return jfail(p, "out of memory");
    size_t k = 0;
    while (p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i++];
        if (c < 0x20) { /* JSON: control characters (NUL too) only as escapes */
            p->i--;
            return free(o), jfail(p, "control character in a string");
        }
        if (c != '\\') {
            o[k++] = (char)c;
            continue;
        }
        char e = p->s[p->i++];
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(p, &cp)) return free(o), -1;
            if (cp >= 0xD800 && cp < 0xDC00 && p->i + 1 < p->n && p->s[p->i] == '\\' &&
                p->s[p->i + 1] == 'u') {
                size_t save = p->i;
                p->i += 2;
                if (hex4(p, &lo)) return free(o), -1;
                if (lo >= 0xDC00 && lo < 0xE000)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    p->i = save;
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD; /* lone surrogate */
            if (cp == 0) /* the strings are C strings: a NUL would cut them silently */
                return free(o), jfail(p, "\\u0000 in a string is not supported");
            k += put_utf8(o + k, cp); /* \uXXXX is 6 bytes, at most 4 out */
            break;
        }
        default: free(o); return jfail(p, "bad escape");
        }
    }
    p->i++;
    o[k] = 0;
    *out = o;
    *olen = k;
    return 0;
}

static int parse_value(struct jp *p, struct jval *v, int depth);

static bool is_digit(const struct jp *p)
{
    return p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9';
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? exactly, as RFC 8259 writes it */
static int scan_number(struct jp *p)
{
    if (p->s[p->i] == '-') p->i++;
    if (!is_digit(p)) return jfail(p, "bad number");
    if (p->s[p->i] == '0') {
        p->i++;
        if (is_digit(p)) return jfail(p, "bad number (a leading zero)");
    } else
        while (is_digit(p))
            p->i++;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!is_digit(p)) return jfail(p, "bad number (no digit after '.')");
        while (is_digit(p))
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        if (!is_digit(p)) return jfail(p, "bad number (no digit in the exponent)");
        while (is_digit(p))
            p->i++;
    }
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A member name given twice: which value is meant is not defined, so the object is
 * refused (sorting a copy of the names: O(n log n) for any size). */
static int check_unique_keys(struct jp *p, const struct jval *v)
{
    if (v->n < 2) return 0;
    char **k = malloc(sizeof *k * (size_t)v->n);
    if (!k) return jfail(p, "out of memory");
    memcpy(k, v->keys, sizeof *k * (size_t)v->n);
    qsort(k, (size_t)v->n, sizeof *k, cmp_key);
    int rc = 0;
    for (int i = 1; i < v->n && !rc; i++)
        if (!strcmp(k[i - 1], k[i])) {
            char msg[128];
            snprintf(msg, sizeof msg, "member \"%.60s\" given twice", k[i]);
            rc = jfail(p, msg);
        }
    free(k);
    return rc;
}

static int add_kid(struct jval *v, int *cap)
{
    if (v->n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        struct jval *nk = realloc(v->kids, sizeof *nk * (size_t)nc);
        if (!nk) return -1;
        v->kids = nk;
        if (v->type == J_OBJ) {
            char **nkeys = realloc(v->keys, sizeof *nkeys * (size_t)nc);
            if (!nkeys) return -1;
            v->keys = nkeys;
        }
        *cap = nc;
    }
    memset(&v->kids[v->n], 0, sizeof v->kids[0]);
    if (v->type == J_OBJ) v->keys[v->n] = NULL;
    v->n++;
    return 0;
}

static int parse_container(struct jp *p, struct jval *v, int depth)
{
    char close = p->s[p->i] == '[' ? ']' : '}';
    v->type = close == ']' ? J_ARR : J_OBJ;
    p->i++;
    int cap = 0;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) return p->i++, 0;
    for (;;) {
        skip_ws(p);
        if (add_kid(v, &cap)) return jfail(p, "out of memory");
        if (v->type == J_OBJ) {
            size_t kl;
            if (p->i >= p->n || p->s[p->i] != '"') return jfail(p, "expected a member name");
            if (parse_string(p, &v->keys[v->n - 1], &kl)) return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') return jfail(p, "expected ':'");
            p->i++;
        }
        if (parse_value(p, &v->kids[v->n - 1], depth + 1)) return -1;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return v->type == J_OBJ ? check_unique_keys(p, v) : 0;
        }
        return jfail(p, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
    }
}

static int parse_value(struct jp *p, struct jval *v, int depth)
{
    memset(v, 0, sizeof *v);
    if (depth > 64) return jfail(p, "nested too deeply");
    skip_ws(p);
    if (p->i >= p->n) return jfail(p, "unexpected end");
    char c = p->s[p->i];
    if (c == '{' || c == '[') return parse_container(p, v, depth);
    if (c == '"') {
        v->type = J_STR;
        return parse_string(p, &v->str, &v->len);
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++) {
        size_t l = strlen(words[w]);
        if (p->n - p->i >= l && !memcmp(p->s + p->i, words[w], l)) {
            p->i += l;
            v->type = w == 2 ? J_NULL : J_BOOL;
            if (w < 2 && !(v->str = strdup(words[w]))) return jfail(p, "out of memory");
            v->len = w < 2 ? l : 0;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t s = p->i;
        if (scan_number(p)) return -1;
        v->type = J_NUM;
        v->len = p->i - s;
        if (!(v->str = strndup(p->s + s, v->len))) return jfail(p, "out of memory");
        return 0;
    }
    return jfail(p, "unexpected character");
}

int json_parse(const char *text, size_t len, struct jval *out, char *err, size_t errlen)
{
    struct jp p = {text, len, 0, err, errlen};
    if (parse_value(&p, out, 0)) {
        json_free(out);
        return -1;
    }
    skip_ws(&p);
    if (p.i != p.n) {
        json_free(out);
        return jfail(&p, "trailing characters after the value");
    }
    return 0;
}

void json_free(struct jval *v)
{
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        json_free(&v->kids[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->kids);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const struct jval *json_get(const struct jval *v, const char *key)
{
    if (!v || v->type != J_OBJ) return NULL;
    for (int i = 0; i < v->n; i++)
        if (v->keys[i] && !strcmp(v->keys[i], key)) return &v->kids[i];
    return NULL;
}

double json_num(const struct jval *v, double def)
{
    if (!v || (v->type != J_NUM && v->type != J_STR) || !v->str) return def;
    char *end;
    double x = strtod(v->str, &end);
    return end == v->str ? def : x;
}

bool json_int(const struct jval *v, long long lo, long long hi, long long *out)
{
    if (!v || v->type != J_NUM || !v->str) return false;
    for (const char *c = v->str; *c; c++)
        if (*c == '.' || *c == 'e' || *c == 'E') return false; /* 1.0, 1e3: not written as ints */
    char *end;
    errno = 0;
    long long x = strtoll(v->str, &end, 10);
    if (errno || *end || x < lo || x > hi) return false;
    *out = x;
    return true;
}

bool json_real(const struct jval *v, double *out)
{
    if (v && v->type == J_NULL) {
        *out = NAN;
        return true;
    }
    if (!v || v->type != J_NUM || !v->str) return false;
    char *end;
    double x = strtod(v->str, &end);
    if (*end || !isfinite(x)) return false;
    *out = x;
    return true;
}

const char *json_str(const struct jval *v)
{
    return v && (v->type == J_STR || v->type == J_NUM || v->type == J_BOOL) && v->str ? v->str : "";
}

void json_write_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void json_write_num(FILE *f, double x)
{
    if (isnan(x) || isinf(x))
        fputs("null", f);
    else
        fprintf(f, "%.17g", x);
}
