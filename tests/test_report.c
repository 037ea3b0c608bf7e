/* report: malformed inputs rejected with errors naming the file and the field; joins by
 * model and device; the Pareto front; differences; shards; charts decoded back (both the
 * TrueType font and the built-in one). No ../shared needed: the inputs are written here. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb/stb_image.h> /* its implementation is compiled in test_sweep.c */

#include "report.h"
#include "testutil.h"

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/joule-report-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* writes text to tmpdir/name; returns the path (static buffer per call slot) */
static const char *put(const char *name, const char *fmt, ...)
{
    static char paths[16][256];
    static int slot;
    char *p = paths[slot++ % 16];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
    return p;
}

/* a bench result as `joule bench -o json` writes it (the fields the report reads) */
#define BENCH                                                                                      \
    "{\"model\": {\"name\": \"%s.gguf\", \"size_bytes\": %d, \"params\": 2000000},"                \
    " \"backend\": {\"name\": \"cpu\", \"device\": \"CPU, 2 threads\", \"threads\": 2},"           \
    " \"tests\": [{\"test\": \"pp64\", \"kind\": \"pp\", \"n_tokens\": 64, \"depth\": 0,"          \
    " \"reps\": 3, \"avg_ts\": 900, \"stddev_ts\": 10, \"energy\": {\"source\": \"estimate\","     \
    " \"j_per_token\": 0.001, \"tokens_per_j\": 1000}},"                                           \
    " {\"test\": \"tg32\", \"kind\": \"tg\", \"n_tokens\": 32, \"depth\": 0, \"reps\": 3,"         \
    " \"avg_ts\": %s, \"stddev_ts\": 5, \"energy\": {\"source\": \"estimate\", \"j_per_token\":"   \
    " %g, \"tokens_per_j\": %g}, \"cost_per_mtok\": {\"energy\": %g, \"hardware\": null,"          \
    " \"total\": %g}}]}"

/* the same without an energy figure: %s is the tg test's energy object */
#define BENCH_NO_ENERGY                                                                            \
    "{\"model\": {\"name\": \"%s.gguf\", \"size_bytes\": %d, \"params\": 2000000},"                \
    " \"backend\": {\"name\": \"cpu\", \"device\": \"CPU, 2 threads\", \"threads\": 2},"           \
    " \"tests\": [{\"test\": \"tg32\", \"kind\": \"tg\", \"n_tokens\": 32, \"depth\": 0,"          \
    " \"reps\": 3, \"avg_ts\": 300, \"stddev_ts\": 5, \"energy\": %s, \"cost_per_mtok\":"          \
    " {\"energy\": null, \"hardware\": null, \"total\": null}}]}"

static const char *bench(const char *file, const char *model, double jtok)
{
    return put(file, BENCH, model, 1000000, "300", jtok, 1 / jtok, jtok * 41.7, jtok * 41.7);
}

#define EVAL                                                                                       \
    "{\"joule_eval\": 1, \"partial\": %s%s \"model\": {\"path\": \"/m/%s.gguf\", \"sha256\": "     \
    "\"\","                                                                                        \
    " \"name\": \"x\", \"arch\": \"llama\"}, \"backend\": \"cpu\", \"device\": \"CPU, 4 "          \
    "threads\","                                                                                   \
    " \"settings\": {\"limit\": %d, \"shots\": -1, \"seed\": -1, \"bos\": false,"                  \
    " \"max_length\": 2048, \"style\": \"lm-eval\"}, \"suites\": [{\"suite\": \"%s\","             \
    " \"def\": \"%s\", \"shots\": 0, \"items\": %d, \"items_done\": %d, \"metrics\": ["            \
    "{\"group\": \"\", \"level\": 0, \"metric\": \"acc\", \"value\": %s, \"stderr\": 0.05,"        \
    " \"n\": %d}]}]}"

static const char *eval(const char *file, const char *model, const char *suite, double acc,
                        int limit)
{
    char v[32];
    snprintf(v, sizeof v, "%g", acc);
    return put(file, EVAL, "false", ",", model, limit, suite, suite, limit, limit, v, limit);
}

static int load(struct report *r, const char *const *files, int n, const struct report_opts *o,
                char *err, size_t len)
{
    return report_load(files, n, o, r, err, len);
}

START_TEST(test_malformed_rejected)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{", "not valid JSON"},
        {"[1, 2]", "not a JSON object"},
        {"{\"x\": 1}", "not a joule bench, eval or sweep result"},
        {"{\"joule_sweep_unit\": 1, \"complete\": false}", "cut short"},
        {"{\"joule_sweep_unit\": 2, \"complete\": true}", "schema 2"},
        {"{\"joule_sweep_unit\": \"1\"}", "\"joule_sweep_unit\" is not a number"},
        {"{\"joule_sweep_unit\": 1, \"complete\": true, \"unit\": {\"kind\": \"foo\"}, \"model\": "
         "{\"path\": \"a.gguf\"}, \"result\": {}}",
         "\"unit.kind\" is 'foo'"},
        {"{\"joule_sweep_unit\": 1, \"complete\": true, \"unit\": {\"kind\": \"bench\"}, "
         "\"model\": {\"path\": \"a.gguf\", \"sha256\": \"xyz\"}, \"result\": {}}",
         "\"model.sha256\" is not 64 hex digits"},
        {"{\"joule_sweep_unit\": 1, \"complete\": true, \"unit\": {\"kind\": \"bench\"}, "
         "\"model\": {\"path\": \"a.gguf\"}, \"result\": {\"model\": {\"name\": \"a\"}, "
         "\"backend\": {\"name\": \"cpu\", \"device\": \"CPU\"}, \"tests\": [{\"kind\": \"tg\", "
         "\"n_tokens\": 8, \"avg_ts\": \"fast\"}]}}",
         "\"result.tests[0].avg_ts\" is not a number"},
        {"{\"model\": {\"name\": \"a\"}, \"backend\": {\"name\": \"cpu\", \"device\": \"CPU\"}, "
         "\"tests\": [{\"kind\": \"tg\", \"n_tokens\": 8, \"avg_ts\": -5}]}",
         "\"tests[0].avg_ts\" = -5 is out of range"},
        {"{\"model\": {\"name\": \"a\"}, \"backend\": {\"name\": \"cpu\", \"device\": \"CPU\"}, "
         "\"tests\": [{\"kind\": \"tg\", \"n_tokens\": 8, \"avg_ts\": 1e999}]}",
         "\"tests[0].avg_ts\" is not a number"},
        {"{\"model\": {\"name\": \"a\"}, \"backend\": {\"name\": \"cpu\", \"device\": \"CPU\"}, "
         "\"tests\": {}}",
         "\"tests\" is not an array"},
        {"{\"model\": {\"name\": \"a\"}, \"backend\": {\"name\": \"cpu\", \"device\": \"CPU\"}, "
         "\"tests\": [{\"kind\": \"xx\", \"n_tokens\": 8, \"avg_ts\": 5}]}",
         "\"tests[0].kind\" is 'xx' (pp or tg)"},
        {"{\"joule_eval\": 1, \"model\": {\"path\": \"a.gguf\"}, \"backend\": \"cpu\", "
         "\"device\": \"CPU\", \"suites\": [7]}",
         "\"suites[0]\" is not an object"},
        {"{\"joule_eval\": 1, \"model\": {\"path\": \"a.gguf\"}, \"backend\": \"cpu\", "
         "\"device\": \"CPU\", \"suites\": [{\"suite\": \"piqa\", \"items_done\": 5, "
         "\"metrics\": []}]}",
         "\"suites[0].metrics\" has no suite-level metric"},
        {"{\"joule_eval\": 1, \"model\": {\"path\": \"a.gguf\"}, \"backend\": \"cpu\", "
         "\"device\": \"CPU\", \"suites\": [{\"suite\": \"piqa\", \"items_done\": 5, "
         "\"metrics\": [{\"level\": 0, \"metric\": \"acc\", \"value\": 7}]}]}",
         "\"suites[0].metrics[0].value\" = 7 is out of range (0 to 1 for acc)"},
        {"{\"joule_eval\": 1, \"model\": {\"path\": \"a.gguf\"}, \"backend\": 3, "
         "\"device\": \"CPU\", \"suites\": []}",
         "\"backend\" is not a string"},
        {"{\"joule_eval\": 1, \"model\": {\"path\": \"a\\u0000b\"}, \"backend\": \"cpu\", "
         "\"device\": \"CPU\", \"suites\": []}",
         "\\u0000 in a string is not supported"}, /* the JSON reader refuses it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.json", i);
        const char *p = put(name, "%s", cases[i].text);
        struct report r = {0};
        char err[512] = "";
        ck_assert_msg(report_add_file(&r, p, err, sizeof err) != 0, "case %zu accepted", i);
        ck_assert_msg(strstr(err, p) == err, "case %zu: the error does not name the file: %s", i,
                      err);
        ck_assert_msg(strstr(err, cases[i].want), "case %zu: '%s' lacks '%s'", i, err,
                      cases[i].want);
        report_free(&r);
    }
    /* nesting past the parser's limit, and an empty folder */
    char deep[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    const char *p = put("deep.json", "%s", deep);
    struct report r = {0};
    char err[512];
    ck_assert(report_add_file(&r, p, err, sizeof err) != 0);
    ck_assert_ptr_nonnull(strstr(err, "deep.json"));
    report_free(&r);
    /* a folder with one bad file: rejected, or skipped with --skip-bad */
    bench("a.json", "m-Q4_0", 0.01);
    const char *dirs[] = {tmpdir};
    struct report_opts o = {0};
    ck_assert_int_ne(load(&r, dirs, 1, &o, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "bad0.json: not valid JSON"));
    o.skip_bad = true;
    ck_assert_int_eq(load(&r, dirs, 1, &o, err, sizeof err), 0);
    ck_assert_int_eq(r.n_rows, 1);
    ck_assert_int_eq(r.n_files, 1);
    report_free(&r);
}
END_TEST

static const struct report_row *row(const struct report *r, const char *model)
{
    for (int i = 0; i < r->n_rows; i++)
        if (!strcmp(r->rows[i].model, model)) return &r->rows[i];
    ck_abort_msg("no row %s", model);
    return NULL;
}

START_TEST(test_join_and_front)
{
    /* A: cheapest, B: best, C: beaten by B on both, D: no energy figure (off the front) */
    const char *f[] = {
        bench("a-b.json", "m-Q4_0", 0.010),        eval("a-e.json", "m-Q4_0", "arc", 0.50, 40),
        bench("b-b.json", "m-Q8_0", 0.020),        eval("b-e.json", "m-Q8_0", "arc", 0.60, 40),
        bench("c-b.json", "m-F16", 0.030),         eval("c-e.json", "m-F16", "arc", 0.55, 40),
        eval("d-e.json", "m-Q2_K", "arc", 0.9, 40)};
    struct report r;
    char err[512];
    struct report_opts o = {0};
    ck_assert_msg(load(&r, f, 7, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.n_rows, 4);
    ck_assert_int_eq(r.n_suites, 1);
    const struct report_row *a = row(&r, "m-Q4_0"), *b = row(&r, "m-Q8_0"), *c = row(&r, "m-F16"),
                            *d = row(&r, "m-Q2_K");
    /* bench ("CPU, 2 threads") and eval ("CPU, 4 threads") of one model join: threads are a
     * setting, not a device */
    ck_assert_int_eq(a->n_inputs, 2);
    ck_assert_str_eq(a->quant, "Q4_0");
    ck_assert_str_eq(a->base, "m");
    ck_assert_double_eq_tol(a->tg_ts, 300, 1e-9);
    ck_assert_double_eq_tol(a->tg_jtok, 0.01, 1e-12);
    ck_assert_double_eq_tol(a->bpw, 4.0, 1e-9); /* 1e6 bytes x 8 / 2e6 params */
    ck_assert_double_eq_tol(b->scores[0].value, 0.6, 1e-12);
    ck_assert(a->front && b->front && !c->front && !d->front);
    ck_assert(isnan(d->cost));
    /* on $/Mtok the same; on a suite that does not exist nobody */
    report_free(&r);
    o.cost_usd = true;
    ck_assert_int_eq(load(&r, f, 7, &o, err, sizeof err), 0);
    ck_assert(row(&r, "m-Q4_0")->front && row(&r, "m-Q8_0")->front && !row(&r, "m-F16")->front);
    o.quality = "nosuch";
    report_finish(&r, &o);
    for (int i = 0; i < r.n_rows; i++)
        ck_assert(!r.rows[i].front);
    report_free(&r);
}
END_TEST

START_TEST(test_differences_and_shards)
{
    /* the same model and suite with another limit: not joined, said so */
    const char *f[] = {eval("x1.json", "m-Q4_0", "arc", 0.5, 50),
                       eval("x2.json", "m-Q4_0", "arc", 0.7, 100)};
    struct report r;
    char err[512];
    struct report_opts o = {0};
    ck_assert_msg(load(&r, f, 2, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.n_rows, 1);
    ck_assert_double_eq_tol(r.rows[0].scores[0].value, 0.5, 1e-12);
    ck_assert_int_eq(r.n_diffs, 1);
    ck_assert_msg(strstr(r.diffs[0].text, "limit 50 vs 100"), "%s", r.diffs[0].text);
    ck_assert_ptr_nonnull(strstr(r.diffs[0].text, "not joined"));
    report_free(&r);
    /* two shards of one run merge: items add up, the mean is weighted */
    const char *s[] = {put("s1.json", EVAL, "true", ", \"shard\": \"1/2\",", "m-Q8_0", 30, "arc",
                           "arc", 30, 10, "0.4", 10),
                       put("s2.json", EVAL, "true", ", \"shard\": \"2/2\",", "m-Q8_0", 30, "arc",
                           "arc", 30, 30, "0.8", 30)};
    ck_assert_msg(load(&r, s, 2, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.n_rows, 1);
    ck_assert_int_eq(r.rows[0].scores[0].items, 40);
    ck_assert_int_eq(r.rows[0].scores[0].shards, 2);
    ck_assert_double_eq_tol(r.rows[0].scores[0].value, 0.7, 1e-12);
    ck_assert_int_eq(r.n_diffs, 0);
    report_free(&r);
}
END_TEST

static void check_png(const char *name, int min_h)
{
    char p[512];
    ck_assert_int_lt(snprintf(p, sizeof p, "%s/out/%s", tmpdir, name), (int)sizeof p);
    int w, h, ch;
    unsigned char *px = stbi_load(p, &w, &h, &ch, 3);
    ck_assert_msg(px != NULL, "%s does not decode", p);
    ck_assert_int_eq(w, 1100);
    ck_assert_int_ge(h, min_h);
    /* the title band (top 40 rows) holds text: dark pixels */
    long dark = 0, colors = 0;
    for (long i = 0; i < 40L * w; i++)
        dark += px[3 * i] + px[3 * i + 1] + px[3 * i + 2] < 200;
    for (long i = 0; i < (long)w * h; i++)
        colors += px[3 * i + 2] > px[3 * i] + 60; /* blue: bars, the front line */
    ck_assert_msg(dark > 300, "%s: no title text (%ld dark pixels)", name, dark);
    ck_assert_msg(colors > 50, "%s: no colored marks", name);
    stbi_image_free(px);
}

static void write_and_check(void)
{
    const char *f[] = {
        bench("a-b.json", "m-Q4_0", 0.010), eval("a-e.json", "m-Q4_0", "arc", 0.50, 40),
        bench("b-b.json", "m-Q8_0", 0.020), eval("b-e.json", "m-Q8_0", "arc", 0.60, 40)};
    struct report r;
    char err[512], out[300];
    struct report_opts o = {0};
    ck_assert_msg(load(&r, f, 4, &o, err, sizeof err) == 0, "%s", err);
    snprintf(out, sizeof out, "%s/out", tmpdir);
    ck_assert_msg(report_write(&r, out, err, sizeof err) == 0, "%s", err);
    check_png("quality_energy.png", 500);
    check_png("speed.png", 150);
    check_png("cost.png", 150);
    check_png("quant_m.png", 400);
    char *md = test_read_in(out, "report.md", NULL);
    ck_assert_ptr_nonnull(strstr(md, "| ★ | m-Q4_0 | Q4_0 | CPU | 0.95 MiB | 2.00 M | 4.00 |"));
    ck_assert_ptr_nonnull(strstr(md, "0.5000 ± 0.0500 (n=40)"));
    ck_assert_ptr_nonnull(strstr(md, "- m-Q8_0 @ cpu: quality 0.6000, 0.02 J/token\n"));
    ck_assert_ptr_nonnull(strstr(md, "![quality_energy.png](quality_energy.png)"));
    free(md);
    report_free(&r);
}

/* no row has an energy figure (windows under 1 s, no sensor): no scatter, no cost chart, the
 * report says why there is no front; speed and the quantization chart are still drawn */
START_TEST(test_charts_without_energy)
{
    const char *nrg = "{\"source\": \"n/a\", \"j_per_token\": null, \"tokens_per_j\": null}";
    const char *f[] = {put("a-b.json", BENCH_NO_ENERGY, "m-Q4_0", 1000000, nrg),
                       eval("a-e.json", "m-Q4_0", "arc", 0.50, 40),
                       put("b-b.json", BENCH_NO_ENERGY, "m-Q8_0", 2000000, nrg),
                       eval("b-e.json", "m-Q8_0", "arc", 0.60, 40)};
    struct report r;
    char err[512], out[300];
    struct report_opts o = {0};
    ck_assert_msg(load(&r, f, 4, &o, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < r.n_rows; i++)
        ck_assert(!r.rows[i].front && isnan(r.rows[i].cost));
    snprintf(out, sizeof out, "%s/out", tmpdir);
    ck_assert_msg(report_write(&r, out, err, sizeof err) == 0, "%s", err);
    check_png("speed.png", 150);
    check_png("quant_m.png", 400);
    static const char *const absent[] = {"quality_energy.png", "cost.png"};
    for (int i = 0; i < 2; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", out, absent[i]);
        ck_assert_msg(access(p, F_OK) != 0, "%s drawn without an energy figure", absent[i]);
    }
    char *md = test_read_in(out, "report.md", NULL);
    ck_assert_ptr_nonnull(strstr(md, "so there is no front"));
    ck_assert_ptr_null(strstr(md, "| ★ |"));
    ck_assert_ptr_null(strstr(md, "quality_energy.png"));
    free(md);
    report_free(&r);
}
END_TEST

/* the output directory's missing parents are made (mkdir -p); a file in the way is named */
START_TEST(test_write_makes_parents)
{
    const char *f[] = {bench("a-b.json", "m-Q4_0", 0.010)};
    struct report r;
    char err[512], out[300];
    struct report_opts o = {0};
    ck_assert_msg(load(&r, f, 1, &o, err, sizeof err) == 0, "%s", err);
    snprintf(out, sizeof out, "%s/new//deeper/out/", tmpdir);
    ck_assert_msg(report_write(&r, out, err, sizeof err) == 0, "%s", err);
    free(test_read_in(out, "report.md", NULL));
    snprintf(out, sizeof out, "%s/a-b.json/out", tmpdir);
    ck_assert_int_ne(report_write(&r, out, err, sizeof err), 0);
    char want[400];
    snprintf(want, sizeof want, "%s/a-b.json: Not a directory", tmpdir);
    ck_assert_str_eq(err, want);
    report_free(&r);
}
END_TEST

START_TEST(test_charts_truetype)
{
    if (access("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", R_OK) != 0) {
        fprintf(stderr, "SKIP %s: fonts-dejavu-core is not installed\n", __func__);
        return;
    }
    unsetenv("JOULE_FONT");
    write_and_check();
}
END_TEST

START_TEST(test_charts_builtin_font)
{
    setenv("JOULE_FONT", "/nonexistent/font.ttf", 1);
    write_and_check();
    unsetenv("JOULE_FONT");
}
END_TEST

Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    test_add_tcase(s, "report", 60, setup, teardown,
                   (const TTest *const[]){test_malformed_rejected, test_join_and_front,
                                          test_differences_and_shards, test_charts_truetype,
                                          test_charts_builtin_font, test_charts_without_energy,
                                          test_write_makes_parents, NULL});
    return s;
}
