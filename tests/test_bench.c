/* bench and synth: statistics, the synthetic models' published shapes and types, runs
 * on the CPU backend, and the report formats of `joule bench`. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench.h"
#include "cpu.h"
#include "meter.h"
#include "quant.h"
#include "synth.h"
#include "testutil.h"

START_TEST(test_stats)
{
    double x[] = {1, 2, 3, 4};
    struct bench_stats s;
    bench_stats(x, 4, &s);
    ck_assert_double_eq_tol(s.mean, 2.5, 1e-12);
    ck_assert_double_eq_tol(s.stddev, sqrt(5.0 / 3.0), 1e-12); /* sample stddev, n - 1 */
    bench_stats(x, 1, &s);
    ck_assert_double_eq_tol(s.mean, 1, 1e-12);
    ck_assert_double_eq(s.stddev, 0);
    double y[] = {10, 10, 10};
    bench_stats(y, 3, &s);
    ck_assert_double_eq(s.stddev, 0);
    char name[64];
    struct bench_test t = {BENCH_PP, 512, 0, 1};
    bench_test_name(&t, name, sizeof name);
    ck_assert_str_eq(name, "pp512");
    t = (struct bench_test){BENCH_TG, 128, 4096, 1};
    bench_test_name(&t, name, sizeof name);
    ck_assert_str_eq(name, "tg128 @ d4096");
}
END_TEST

/* ---- synthetic shapes ---- */

struct tally {
    uint32_t count[Q_TYPE_LIMIT];
    int has_output, bias;
    uint32_t embd_type, output_type;
    uint32_t v_type[64], down_type[64];
};

static void tally_one(const struct synth_tensor *t, void *ctx)
{
    struct tally *y = ctx;
    y->count[t->type]++;
    if (!strcmp(t->name, "output.weight")) y->has_output = 1, y->output_type = t->type;
    if (!strcmp(t->name, "token_embd.weight")) y->embd_type = t->type;
    if (strstr(t->name, ".bias")) y->bias++;
    if (strstr(t->name, "attn_v.weight") && t->layer < 64) y->v_type[t->layer] = t->type;
    if (strstr(t->name, "ffn_down.weight") && t->layer < 64) y->down_type[t->layer] = t->type;
}

static const struct synth_shape *shape(const char *name, enum synth_ftype *f)
{
    const struct synth_shape *s;
    char err[256];
    ck_assert_msg(synth_parse(name, &s, f, err, sizeof err) == 0, "%s", err);
    return s;
}

START_TEST(test_published_params)
{
    static const struct {
        const char *name;
        uint64_t params;
    } want[] = {{"tinyllama-1.1b", 1100048384ull},
                {"llama-3.2-1b", 1235814400ull},
                {"qwen2.5-0.5b", 494032768ull},
                {"llama-2-7b", 6738415616ull},
                {"llama-3.1-8b", 8030261248ull}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        for (int f = 0; f < SYNTH_FTYPE_COUNT; f++) {
            char name[64];
            snprintf(name, sizeof name, "%s-%s", want[i].name, synth_ftype_name(f));
            enum synth_ftype ft;
            const struct synth_shape *s = shape(name, &ft);
            ck_assert_int_eq(ft, f);
            struct synth_info in;
            synth_info(s, ft, &in);
            ck_assert_msg(in.n_params == want[i].params, "%s: %llu params", name,
                          (unsigned long long)in.n_params);
            ck_assert_uint_eq(s->published_params, want[i].params);
        }
}
END_TEST

START_TEST(test_tensor_types)
{
    enum synth_ftype f;
    struct tally y;
    /* llama-2-7b q4_k_m: llama.cpp's published mix, f32 65, q4_K 193, q6_K 33 */
    memset(&y, 0, sizeof y);
    const struct synth_shape *s = shape("llama-2-7b-q4_k_m", &f);
    ck_assert_int_eq(synth_foreach(s, f, tally_one, &y), 291);
    ck_assert_uint_eq(y.count[Q_F32], 65);
    ck_assert_uint_eq(y.count[Q_Q4_K], 193);
    ck_assert_uint_eq(y.count[Q_Q6_K], 33);
    ck_assert_uint_eq(y.output_type, Q_Q6_K);
    ck_assert_uint_eq(y.embd_type, Q_Q4_K);
    /* use_more_bits: layers 0-3, 28-31 and every third from 6 */
    ck_assert_uint_eq(y.v_type[0], Q_Q6_K);
    ck_assert_uint_eq(y.v_type[4], Q_Q4_K);
    ck_assert_uint_eq(y.v_type[6], Q_Q6_K);
    ck_assert_uint_eq(y.down_type[27], Q_Q6_K);
    ck_assert_uint_eq(y.down_type[31], Q_Q6_K);
    ck_assert_uint_eq(y.down_type[26], Q_Q4_K);
    /* q4_0: everything Q4_0 but the output, Q6_K */
    memset(&y, 0, sizeof y);
    s = shape("llama-3.1-8b-q4_0", &f);
    synth_foreach(s, f, tally_one, &y);
    ck_assert_uint_eq(y.count[Q_Q4_0], 225);
    ck_assert_uint_eq(y.count[Q_Q6_K], 1);
    ck_assert_uint_eq(y.output_type, Q_Q6_K);
    /* tied: no output tensor; token_embd takes the output's type */
    memset(&y, 0, sizeof y);
    s = shape("llama-3.2-1b", &f);
    ck_assert_int_eq(f, SYNTH_Q4_0);
    synth_foreach(s, f, tally_one, &y);
    ck_assert_int_eq(y.has_output, 0);
    ck_assert_uint_eq(y.embd_type, Q_Q6_K);
    /* qwen2.5-0.5b: biases; 896-wide rows fall back from K types (Q4_K->Q5_0, Q6_K->Q8_0) */
    memset(&y, 0, sizeof y);
    s = shape("qwen2.5-0.5b-q4_k_m", &f);
    ck_assert(s->tied && s->qkv_bias && s->rope_type == ROPE_NEOX);
    synth_foreach(s, f, tally_one, &y);
    ck_assert_int_eq(y.bias, 72);
    ck_assert_uint_eq(y.count[Q_F32], 121);
    ck_assert_uint_eq(y.count[Q_Q5_0], 132);
    ck_assert_uint_eq(y.count[Q_Q8_0], 13);
    ck_assert_uint_eq(y.count[Q_Q4_K], 12);
    ck_assert_uint_eq(y.count[Q_Q6_K], 12);
    ck_assert_uint_eq(y.embd_type, Q_Q8_0);
    /* q8_0: all matrices */
    memset(&y, 0, sizeof y);
    s = shape("tinyllama-1.1b-q8_0", &f);
    synth_foreach(s, f, tally_one, &y);
    ck_assert_uint_eq(y.count[Q_Q8_0], 2 + 7 * 22);
    ck_assert_uint_eq(y.count[Q_F32], 1 + 2 * 22);
    /* names */
    char err[256];
    ck_assert_int_ne(synth_parse("llama-9-9b", &s, &f, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "tinyllama-1.1b"));
    ck_assert_int_ne(synth_parse("llama-2-7b-q3_k", &s, &f, err, sizeof err), 0);
    ck_assert_int_ne(synth_parse("llama-2-7bx", &s, &f, err, sizeof err), 0);
}
END_TEST

START_TEST(test_synth_model_runs)
{
    for (int f = 0; f < SYNTH_FTYPE_COUNT; f++) {
        char name[64], err[512];
        snprintf(name, sizeof name, "test-tiny-%s", synth_ftype_name(f));
        enum synth_ftype ft;
        const struct synth_shape *s = shape(name, &ft);
        struct model *m;
        ck_assert_msg(synth_create(s, ft, 7, 0, &m, err, sizeof err) == 0, "%s", err);
        ck_assert_ptr_null(m->gguf);
        ck_assert_ptr_null(m->tok);
        ck_assert_int_eq(m->cfg.n_embd, 256);
        ck_assert_int_eq(m->layers[1].w_down.ne0, 512);
        ck_assert_int_eq(m->layers[1].w_down.ne1, 256);
        ck_assert_int_eq(m->layers[0].wk.ne1, 128);
        struct synth_info in;
        synth_info(s, ft, &in);
        ck_assert_uint_eq(m->n_params, in.n_params);
        struct backend *b = cpu_backend_new(m, 64, 2, err, sizeof err);
        ck_assert_msg(b != NULL, "%s", err);
        float *logits = malloc(sizeof(float) * (size_t)m->cfg.n_vocab * 8);
        int32_t toks[8] = {1, 2, 3, 4, 5, 6, 7, 1000};
        ck_assert_msg(backend_forward(b, toks, 8, 0, true, logits, err, sizeof err) == 0, "%s",
                      err);
        for (int64_t i = 0; i < (int64_t)m->cfg.n_vocab * 8; i++)
            ck_assert_msg(isfinite(logits[i]), "%s: logit %lld is not finite", name, (long long)i);
        free(logits);
        /* a bench run: pp and tg at a depth */
        struct bench_result r;
        struct bench_test t = {BENCH_PP, 16, 8, 1};
        ck_assert_msg(bench_run(b, NULL, &t, 3, 0, 1, NULL, NULL, &r, err, sizeof err) == 0, "%s",
                      err);
        ck_assert_int_eq(r.reps, 3);
        ck_assert_uint_eq(r.tokens, 48);
        ck_assert(r.tps.mean > 0 && r.seconds > 0);
        for (int i = 0; i < 3; i++)
            ck_assert(r.ts[i] > 0);
        ck_assert_int_eq(r.energy.src, METER_NONE);
        bench_result_free(&r);
        t = (struct bench_test){BENCH_TG, 4, 16, 1};
        ck_assert_msg(bench_run(b, NULL, &t, 2, 0, 1, NULL, NULL, &r, err, sizeof err) == 0, "%s",
                      err);
        ck_assert_uint_eq(r.tokens, 8);
        bench_result_free(&r);
        /* more than the context holds */
        t = (struct bench_test){BENCH_TG, 60, 16, 1};
        ck_assert_int_ne(bench_run(b, NULL, &t, 1, 0, 1, NULL, NULL, &r, err, sizeof err), 0);
        ck_assert_ptr_nonnull(strstr(err, "context"));
        backend_destroy(b);
        synth_free(m);
    }
}
END_TEST

START_TEST(test_synth_memory_limit)
{
    enum synth_ftype f;
    const struct synth_shape *s = shape("llama-3.1-8b-q8_0", &f);
    struct model *m = (struct model *)1;
    char err[512];
    /* a 1 MiB cap: refused with a message, nothing allocated */
    ck_assert_int_ne(synth_create(s, f, 1, 1 << 20, &m, err, sizeof err), 0);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err, "GiB") && strstr(err, "llama-3.1-8b-q8_0"), "%s", err);
    synth_free(NULL);
}
END_TEST

/* ---- the command ---- */

/* A small JSON validator: true when s is one well-formed value. */
static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}
static const char *value(const char *p, int depth);
static const char *string(const char *p)
{
    if (*p++ != '"') return NULL;
    for (; *p && *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i]) return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p))
                return NULL;
        }
    }
    return *p == '"' ? p + 1 : NULL;
}
static const char *number(const char *p)
{
    const char *s = p;
    if (*p == '-') p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p > s ? p : NULL;
}
static const char *value(const char *p, int depth)
{
    if (depth > 32) return NULL;
    p = ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                if (!(p = string(ws(p)))) return NULL;
                p = ws(p);
                if (*p++ != ':') return NULL;
            }
            if (!(p = value(p, depth + 1))) return NULL;
            p = ws(p);
            if (*p == ',') {
                p++;
                continue;
            }
            return *p == close ? p + 1 : NULL;
        }
    }
    if (*p == '"') return string(p);
    if (!strncmp(p, "true", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (!strncmp(p, "null", 4)) return p + 4;
    return number(p);
}
static bool json_valid(const char *s)
{
    const char *p = value(s, 0);
    return p && *ws(p) == 0;
}

START_TEST(test_json_validator)
{
    ck_assert(json_valid("{\"a\": [1, -2.5e3, null, true, \"x\\n\"]}"));
    ck_assert(!json_valid("{\"a\": [1, 2,]}"));
    ck_assert(!json_valid("{\"a\": nan}"));
    ck_assert(!json_valid("{\"a\": 1} x"));
}
END_TEST

/* r, a run of bench -o json, must have succeeded with valid JSON that holds each of want
 * (NULL-terminated). */
static void expect_json(const struct test_proc *r, const char *const *want)
{
    ck_assert_msg(r->code == 0, "exit %d: %s", r->code, r->err);
    ck_assert_msg(json_valid(r->out), "invalid JSON:\n%s", r->out);
    test_expect_text(r->out, want, NULL);
}

#define TINY "bench --synthetic test-tiny-q8_0 --device cpu -t 2 -p 16 -n 4 -d 0,8 -r 2"

START_TEST(test_cli_json)
{
    struct test_proc r = test_run(TINY " -o json --tdp 20 --hw-price 2000");
    static const char *const fields[] = {"\"model\"",
                                         "\"synthetic\": true",
                                         "\"weights\": \"synthetic weights\"",
                                         "\"size_bytes\"",
                                         "\"params\": 1705216",
                                         "\"backend\"",
                                         "\"device\"",
                                         "\"threads\": 2",
                                         "\"energy\"",
                                         "\"source\": \"estimate\"",
                                         "\"scope\": \"cpu-package\"",
                                         "\"method\"",
                                         "\"estimate_w\": 20",
                                         "\"idle_w\": null",
                                         "\"cost_inputs\"",
                                         "\"price_kwh\": 0.15",
                                         "\"pue\": 1",
                                         "\"hw_price\": 2000",
                                         "\"hw_life_years\": 4",
                                         "\"utilization\": 0.5",
                                         "\"cloud_hourly\": null",
                                         "\"hw_hourly\"",
                                         "\"tests\"",
                                         "\"test\": \"pp16\"",
                                         "\"test\": \"tg4\"",
                                         "\"test\": \"pp16 @ d8\"",
                                         "\"test\": \"tg4 @ d8\"",
                                         "\"samples_ts\"",
                                         "\"avg_ts\"",
                                         "\"stddev_ts\"",
                                         "\"seconds\"",
                                         "\"tokens\"",
                                         "\"joules\"",
                                         "\"above_idle_joules\"",
                                         "\"j_per_token\"",
                                         "\"extra_reps\"",
                                         "\"tokens_per_j\"",
                                         "\"short_window\"",
                                         "\"cost_per_mtok\"",
                                         "\"hardware\"",
                                         "\"total\"",
                                         "\"why\"",
                                         "\"limits\"",
                                         "\"bandwidth_bytes_per_s\"",
                                         "\"weight_bytes_per_token\"",
                                         "\"memory\"",
                                         "\"peak_rss_bytes\"",
                                         "\"kv_cache_bytes\": 49152",
                                         "\"roofline\"",
                                         "\"bandwidth_share\"",
                                         "\"macs_per_s\"",
                                         NULL};
    expect_json(&r, fields);
    ck_assert_ptr_nonnull(strstr(r.err, "warm-up")); /* progress on stderr */
    test_proc_free(&r);
}
END_TEST

/* Fields of one CSV line, quotes honoured. */
static int csv_fields(const char *line)
{
    int n = 1;
    bool q = false;
    for (const char *p = line; *p && *p != '\n'; p++) {
        if (*p == '"')
            q = !q;
        else if (*p == ',' && !q)
            n++;
    }
    return n;
}

START_TEST(test_cli_csv_md)
{
    struct test_proc r = test_run(TINY " -o csv");
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(!strncmp(r.out, "model,synthetic,", 16), "%s", r.out);
    int header = csv_fields(r.out), rows = 0;
    for (const char *p = strchr(r.out, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        ck_assert_int_eq(csv_fields(p + 1), header);
        rows++;
    }
    ck_assert_int_eq(rows, 4);
    ck_assert_ptr_nonnull(strstr(r.out, "\"CPU, 2 threads\""));
    test_proc_free(&r);

    r = test_run(TINY);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "| model | size | params | backend |"));
    ck_assert_ptr_nonnull(strstr(r.out, "| tg4 @ d8 |"));
    ck_assert_ptr_nonnull(strstr(r.out, "synthetic weights"));
    ck_assert_ptr_nonnull(strstr(r.out, "estimate"));
    ck_assert_ptr_nonnull(strstr(r.out, "cost: electricity 0.15/kWh"));
    test_proc_free(&r);

    r = test_run("bench --synthetic list");
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "llama-3.1-8b-q4_k_m"));
    ck_assert_ptr_nonnull(strstr(r.out, "qwen2.5-0.5b-q8_0"));
    test_proc_free(&r);

    test_expect_out(0, "usage", "bench --help");
}
END_TEST

/* A usage error of bench says so: "joule bench: ...". */
static void names_bench(const char *cmd, const struct test_proc *r)
{
    ck_assert_msg(strstr(r->err, "joule bench:") != NULL, "'%s': %s", cmd, r->err);
}

START_TEST(test_cli_errors)
{
    static const char *const bad[] = {
        "bench -o xml",
        "bench -p 1,x",
        "bench -r 0",
        "bench --device tpu",
        "bench --frob",
        "bench --synthetic nope-1b",
        "bench --pue 0.2",
        "bench -m a.gguf --synthetic test-tiny",
        "bench --synthetic test-tiny -p 0 -n 0",
        "bench -n",
        NULL,
    };
    test_expect_each(2, bad, names_bench);
    struct test_proc r = test_run("bench -m /nonexistent/model.gguf");
    ck_assert_int_eq(r.code, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/model.gguf"));
    test_proc_free(&r);
    r = test_run("bench --synthetic test-tiny --cost-config /nonexistent/cost.conf");
    ck_assert_int_eq(r.code, 1);
    test_proc_free(&r);
}
END_TEST

/* A fake sysfs with one RAPL package whose counter stands still. */
static void fake_rapl(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/joule-bench-sys-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[512];
    snprintf(
        cmd, sizeof cmd,
        "d='%s/class/powercap/intel-rapl:0' && mkdir -p \"$d\" && echo package-0 >\"$d/name\" && "
        "echo 5000000 >\"$d/energy_uj\" && echo 262143328850 >\"$d/max_energy_range_uj\"",
        dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void rm_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_energy_window)
{
    char dir[64], err[512];
    fake_rapl(dir, sizeof dir);
    enum synth_ftype f;
    const struct synth_shape *s = shape("test-tiny-q8_0", &f);
    struct model *m;
    ck_assert_int_eq(synth_create(s, f, 3, 0, &m, err, sizeof err), 0);
    struct backend *b = cpu_backend_new(m, 32, 1, err, sizeof err);
    ck_assert_ptr_nonnull(b);
    struct meter_opts o = {0};
    o.sysfs_root = dir;
    o.nvml_lib = "/nonexistent/libnvidia-ml.so.1";
    o.sample_hz = -1;
    struct meter *mt = meter_open(&o);
    ck_assert_int_eq(meter_source(mt), METER_COUNTER);
    struct bench_result r;
    struct bench_test t = {BENCH_TG, 2, 4, 1};
    /* two repetitions are far below 0.3 s: more runs lengthen the energy window only */
    ck_assert_msg(bench_run(b, mt, &t, 2, 0.3, 1, NULL, NULL, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r.tokens, 4);
    ck_assert_int_gt(r.energy_extra_reps, 0);
    ck_assert_uint_eq(r.energy_tokens, 4 + 2 * (uint64_t)r.energy_extra_reps);
    ck_assert(r.seconds < r.energy.seconds);
    /* a still counter: 0 J, but it is a figure (under 1 s windows are not reported) */
    ck_assert_int_eq(r.energy.src, METER_NONE);
    ck_assert_ptr_nonnull(strstr(r.energy.why, "under 1 s"));
    bench_result_free(&r);
    meter_close(mt);
    backend_destroy(b);
    synth_free(m);
    rm_dir(dir);
}
END_TEST

START_TEST(test_cli_counter)
{
    char dir[64];
    fake_rapl(dir, sizeof dir);
    setenv("JOULE_SYSFS_ROOT", dir, 1);
    setenv("JOULE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    struct test_proc r =
        test_run("bench --synthetic test-tiny-q8_0 --device cpu -t 1 -p 16 -n 2 -r 2 "
                 "--idle 0.2 --energy-min 1.1 -o json");
    unsetenv("JOULE_SYSFS_ROOT");
    unsetenv("JOULE_NVML_LIB");
    expect_json(&r,
                (const char *const[]){"\"source\": \"counter\"", "\"idle_w\": 0}", "\"joules\": 0,",
                                      "\"tokens_per_j\": null", /* 0 J: no ratio */
                                      "\"short_window\": true", NULL});
    ck_assert_ptr_nonnull(strstr(r.err, "energy run"));
    test_proc_free(&r);
    rm_dir(dir);
}
END_TEST

START_TEST(test_cli_gguf_model)
{
    NEED_SHARED(dir);
    struct test_proc r = test_run(
        "bench -m %s/models/tiny-llama-Q8_0.gguf --device cpu -p 8 -n 2 -r 1 -o json", dir);
    expect_json(&r, (const char *const[]){"\"name\": \"tiny-llama-Q8_0.gguf\"",
                                          "\"synthetic\": false", NULL});
    test_proc_free(&r);
}
END_TEST

START_TEST(test_cli_default_model)
{
    /* the default CPU model, with the shortest tests */
    struct test_proc r = test_run("bench --device cpu -p 1 -n 1 -r 1 -o json");
    expect_json(
        &r, (const char *const[]){"\"name\": \"tinyllama-1.1b-q4_0\"", "\"default\": true", NULL});
    test_proc_free(&r);
}
END_TEST

Suite *bench_suite(void)
{
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_published_params);
    tcase_add_test(tc, test_tensor_types);
    tcase_add_test(tc, test_synth_model_runs);
    tcase_add_test(tc, test_synth_memory_limit);
    tcase_add_test(tc, test_json_validator);
    tcase_add_test(tc, test_cli_json);
    tcase_add_test(tc, test_cli_csv_md);
    tcase_add_test(tc, test_cli_errors);
    tcase_add_test(tc, test_energy_window);
    tcase_add_test(tc, test_cli_counter);
    tcase_add_test(tc, test_cli_gguf_model);
    tcase_add_test(tc, test_cli_default_model);
    suite_add_tcase(s, tc);
    return s;
}
