/* eval_suite — suite definitions (suites/NAME.suite, embedded at build time; see
 * suites/README.md for the format) and the documents they make from the data files:
 * the prompt text, the choices, the gold answer, few-shot contexts built as
 * lm-evaluation-harness builds them.
 */
#ifndef JOULE_EVAL_SUITE_H
#define JOULE_EVAL_SUITE_H

#include <stdbool.h>
#include <stddef.h>

#include "eval_data.h"

enum suite_type {
    SUITE_MC,  /* multiple_choice: one context, one continuation per choice */
    SUITE_MI,  /* multiple_input: one context per choice, one shared continuation */
    SUITE_LL,  /* loglikelihood: one context, one continuation (acc = greedy) */
    SUITE_GEN, /* generate: greedy generation, exact match */
    SUITE_PPL  /* perplexity: rolling (lm-eval) and chunked (llama.cpp) */
};

enum { SUITE_MAX_FILES = 8, SUITE_MAX_GROUPS = 8 };

struct suite_file {
    char path[256];  /* relative to the data folder */
    char sha256[66]; /* "-" when unknown, "~HASH" when only expected */
    char url[512];
    char how[128]; /* fetch transform: "", "bz2", "zip:MEMBER" */
};

struct suite_group {
    char name[64];
    char *members; /* space-separated group_by values */
};

struct suite_def {
    char name[64];
    char description[256];
    char task[128]; /* the reference task and version */
    char licence[128];
    int items; /* item count the data should have (0: not stated) */
    struct suite_file files[SUITE_MAX_FILES];
    int n_files;
    char data[256]; /* file (or one-'*' glob) with the evaluated records */
    char format[16];
    int lines; /* format lines N */
    char columns[256];
    char join[256], join_field[64];
    enum suite_type type;
    char *preamble, *text, *choices, *gold, *labels, *target;
    char delimiter[16], fewshot_delimiter[16];
    int shots;
    char fewshot[256]; /* "" none, "test", or a file path template */
    bool first_n;      /* sampler first_n (else random) */
    unsigned seed;
    char metrics[256];
    char until[256]; /* " | " separated stop strings (escapes done) */
    int max_gen;
    char fix[64];
    char group_by[64];
    struct suite_group groups[SUITE_MAX_GROUPS];
    int n_groups;
    int ppl_ctx;     /* llama.cpp chunk size (perplexity) */
    char sha256[65]; /* of the definition text: a result names the exact suite it ran */
};

/* Parses the text of a suite file; name is used in messages. */
int suite_parse(const char *text, const char *name, struct suite_def *d, char *err, size_t errlen);
void suite_free(struct suite_def *d);

/* Built-in suites (embedded from suites/NAME.suite). */
int suite_builtin_count(void);
const char *suite_builtin_name(int i);
/* Finds a built-in suite by name, or loads a suite file when name contains '/' or ends
 * in ".suite". */
int suite_load(const char *name, struct suite_def *d, char *err, size_t errlen);

/* One evaluated document. */
struct eval_doc {
    char *text;     /* doc_to_text */
    char **choices; /* continuations (MC) or contexts (MI) */
    int n_choices;
    int gold;
    signed char *labels; /* 0/1 per choice when the suite has labels (mc2) */
    char *target;        /* continuation (LL, MI) or reference answer (GEN) */
    char *group;         /* group_by value, or NULL */
    char *context;       /* preamble + few-shot examples (prefix of every context) */
};

struct suite_data {
    struct eval_recs recs;
    int n_docs;
    int *shots; /* n_docs x k record indices into the pool (random sampler), or NULL */
    int k;
    struct eval_recs pool; /* few-shot pool for a file pool (first_n: reloaded per path) */
    char pool_path[1024];
};

/* Reads the suite's records from data_dir. A missing file gives a message with the
 * command that fetches it. */
int suite_load_data(const struct suite_def *d, const char *data_dir, struct suite_data *sd,
                    char *err, size_t errlen);
/* Whether the suite's data file (or pattern) is present; if not, the message says how to fetch it.
 */
int suite_check_data(const struct suite_def *d, const char *data_dir, char *err, size_t errlen);
/* Draws the few-shot indices of the documents order[0..n_order-1] (NULL: all, in file order),
 * one random.sample per document in that order, as lm-eval does (k shots). */
int suite_plan_shots(const struct suite_def *d, struct suite_data *sd, const char *data_dir, int k,
                     unsigned seed, const long *order, long n_order, char *err, size_t errlen);
/* Builds document i (with its few-shot context when k > 0). */
int suite_doc(const struct suite_def *d, struct suite_data *sd, const char *data_dir, int i,
              struct eval_doc *doc, char *err, size_t errlen);
void eval_doc_free(struct eval_doc *doc);
void suite_data_free(struct suite_data *sd);

/* Renders a template against a record: {field|filter|filter:arg}, escapes \n \t \\ \{ \} \|.
 * Filters: strip, hellaswag, but_last_word, last_word, underscores (to spaces),
 * drop_prefix:TEXT. */
char *suite_render(const char *tpl, const struct eval_rec *r, char *err, size_t errlen);
/* Expands a list template ("A | B | C", or a single {field} naming a list). */
int suite_render_list(const char *tpl, const struct eval_rec *r, char ***out, char *err,
                      size_t errlen);
/* Unescapes \n \t \\ \s (space). */
void suite_unescape(char *s);

#endif
