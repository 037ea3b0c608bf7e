/* Regression tests for findings of the fuzzers in fuzz/ (each built from its reproducer in
 * fuzz/corpus/NAME/regress-*), and the bounds on hostile sizes in the GGUF reader. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval_suite.h"
#include "testutil.h"

/* fuzz/corpus/suite/regress-doc-leak-bad-gold: an item whose gold index is past its choices
 * failed after the choices were built, and they leaked (eval stops at such an item). */
START_TEST(test_suite_doc_failure_frees)
{
    const char *suite = "name fuzz\ndata test.jsonl\nformat jsonl\ntype multiple_choice\n"
                        "text Q: {question}\nchoices {choices}\ngold {label}\nmetrics acc\n";
    struct suite_def d;
    char err[512];
    ck_assert_msg(suite_parse(suite, "fuzz", &d, err, sizeof err) == 0, "%s", err);
    char dir[] = "/tmp/joule-parsers-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/test.jsonl", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"question\":\"q\",\"choices\":[\"a\",\"b\"],\"label\":\"9\"}\n", f);
    fclose(f);
    struct suite_data sd;
    memset(&sd, 0, sizeof sd);
    ck_assert_msg(suite_load_data(&d, dir, &sd, err, sizeof err) == 0, "%s", err);
    struct eval_doc doc;
    ck_assert(suite_doc(&d, &sd, dir, 0, &doc, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "item 0") != NULL, "%s", err);
    /* nothing left to free (under ASan a leak would also fail the run) */
    ck_assert_ptr_null(doc.choices);
    ck_assert_int_eq(doc.n_choices, 0);
    ck_assert_ptr_null(doc.text);
    suite_data_free(&sd);
    suite_free(&d);
    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *parsers_suite(void)
{
    Suite *s = suite_create("parsers");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_suite_doc_failure_frees);
    suite_add_tcase(s, tc);
    return s;
}
