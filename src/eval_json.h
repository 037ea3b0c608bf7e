/* eval_json — a small JSON reader (a tree of values) and the string escaping the eval
 * output uses. Numbers keep their source text (so "00" or 1e400 never change on the way
 * through); object members keep their file order (TruthfulQA lists answers as keys).
 */
#ifndef JOULE_EVAL_JSON_H
#define JOULE_EVAL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
    enum jtype type;
    char *str;         /* J_STR: the decoded UTF-8 text; J_NUM: the number as written;
                          J_BOOL: "true"/"false" */
    size_t len;        /* bytes of str */
    struct jval *kids; /* J_ARR / J_OBJ members */
    char **keys;       /* J_OBJ: member names */
    int n;             /* members */
};

/* Parses exactly one JSON value (whitespace around it allowed), strictly as RFC 8259
 * writes it: numbers by its grammar, no control characters (NUL included) inside strings,
 * no member name twice in an object; also refused: \u0000 (strings are C strings). On
 * error returns non-zero with a message giving the byte offset. depth is limited to 64. */
int json_parse(const char *text, size_t len, struct jval *out, char *err, size_t errlen);
void json_free(struct jval *v);

/* Object member by name (NULL if absent or v is not an object). */
const struct jval *json_get(const struct jval *v, const char *key);
/* Number (or numeric string) as double; def when absent or not a number. */
double json_num(const struct jval *v, double def);
/* An integer written as one (no fraction or exponent) in lo..hi: true and *out; false for
 * anything else. Every count or index read from an untrusted file goes through this. */
bool json_int(const struct jval *v, long long lo, long long hi, long long *out);
/* A finite number (true, *out), or null (true, NaN); false for anything else. */
bool json_real(const struct jval *v, double *out);
/* String value, "" when not a string/number. */
const char *json_str(const struct jval *v);

/* Writes s as a JSON string literal (quotes included). */
void json_write_str(FILE *f, const char *s);
/* Writes a double that reads back exactly (%.17g), or null for NaN/inf. */
void json_write_num(FILE *f, double x);

#endif
