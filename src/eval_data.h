/* eval_data — reading suite data files into records.
 *
 * A record is a list of (name, value) text pairs; a name may repeat, which is how lists
 * are held (the choices of a question). Formats (the `format` line of a suite file):
 *   jsonl    one JSON object per line. Nested members are named with dots
 *            ("question.stem"); arrays do not add a name part, so an array of objects
 *            gives repeated names ("question.choices.text" once per choice). For an
 *            object member with a plain value, "PATH.@key" and "PATH.@value" are added
 *            too, so an object used as a map (TruthfulQA's {answer: label}) reads as two
 *            lists in file order. true/false read as "true"/"false"; null as "".
 *   json     one JSON array of such objects.
 *   csv      RFC 4180 (quoted fields, "" escapes, newlines in quotes); the first row
 *            names the columns unless the suite gives `columns`.
 *   lines N  groups of N lines; `columns` names them (a repeated name makes a list).
 *   text     the whole file as one record with the field "text".
 */
#ifndef JOULE_EVAL_DATA_H
#define JOULE_EVAL_DATA_H

#include <stdbool.h>
#include <stddef.h>

struct eval_rec {
    int n, cap;
    char **key;
    char **val;
};

struct eval_recs {
    struct eval_rec *r;
    int n, cap;
};

/* First value of name, or NULL. */
const char *rec_get(const struct eval_rec *r, const char *name);
/* Every value of name in order into out (at most max); returns the count. */
int rec_all(const struct eval_rec *r, const char *name, const char **out, int max);
int rec_add(struct eval_rec *r, const char *name, const char *val, size_t vlen);

/* Appends the records of one file. columns: space-separated names (csv without a header
 * row, lines). group: lines per record for "lines". */
int eval_read_records(const char *path, const char *format, int group, const char *columns,
                      bool csv_header, struct eval_recs *out, char *err, size_t errlen);
/* Adds line i of a text file as field `name` of record i; the line count must match. */
int eval_join_lines(struct eval_recs *recs, const char *path, const char *name, char *err,
                    size_t errlen);
void eval_recs_free(struct eval_recs *r);

#endif
