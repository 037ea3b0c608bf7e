/* cli_bench — the `joule bench` command: arguments, model and backend, the meter,
 * progress on stderr, and the report on stdout (Markdown, JSON or CSV; cli_bench_out.c).
 *
 * With no model it benchmarks a synthetic one: on a GPU llama-3.2-1b-q8_0 (1.3 GiB,
 * fits any GPU with 2 GiB, and every type has Vulkan shaders) with llama-bench's tests;
 * on the CPU tinyllama-1.1b-q4_0 (0.6 GiB) with shorter tests (pp128, tg64, 3 repetitions):
 * about 30-40 s on a 2-core machine, and each test's timed window stays over 10 s there,
 * so its energy figure is not flagged as short. Flags given by the user win. */
#include "cli_bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "bench.h"
#include "cli_bench_impl.h"
#include "cli_util.h"
#include "cpu.h"
#include "device.h"
#include "fileio.h"
#include "gguf.h"
#include "meter.h"
#include "model.h"
#include "synth.h"
#include "vk.h"

#define DEFAULT_GPU_MODEL "llama-3.2-1b-q8_0"
#define DEFAULT_GPU_MODEL_BIG "llama-3.1-8b-q8_0"
#define DEFAULT_CPU_MODEL "tinyllama-1.1b-q4_0"

static const char *help =
    "usage: joule bench [-m MODEL[,MODEL...] | --synthetic NAME] [-p 512] [-n 128] [-d 0] [-r 5]\n"
    "                   [--device D] [-t N[,N...]] [-o md|json|jsonl|csv] [energy and cost "
    "options]\n"
    "Measures prompt processing (pp) and generation (tg) speed as llama-bench does, with the\n"
    "energy and cost of every token. Results on stdout, progress on stderr.\n"
    "  -m, --model LIST         GGUF models, comma separated or -m repeated: each is benched\n"
    "  --synthetic NAME         random weights in a published model's shapes and types, made\n"
    "                           in memory (no download); 'list' shows them. Default without\n"
    "                           -m: " DEFAULT_GPU_MODEL " on a GPU, " DEFAULT_CPU_MODEL " on the\n"
    "                           CPU (CPU: -p 128 -n 64 -r 3 unless given; under a minute on 2\n"
    "                           cores)\n"
    "  -p, --n-prompt LIST      prompt lengths, comma separated (default 512; 0 = none)\n"
    "  -n, --n-gen LIST         generation lengths (default 128; 0 = none)\n"
    "  -d, --depth LIST         KV cache depths the tests start at (default 0)\n"
    "  --parallel LIST          sequences decoded together in the tg tests (default 1): tgN xP\n"
    "                           is N steps of P tokens, one per sequence, in one pass over the\n"
    "                           weights (aggregate t/s, J/token, $/Mtok)\n"
    "  -r, --repetitions N      timed repetitions after one warm-up (default 5)\n"
    "  -t, --threads LIST       CPU thread counts, comma separated: each is benched (as\n"
    "                           llama-bench's -t)\n"
    "  -o, --output FMT         md (default), json (one object; an array for several models or\n"
    "                           thread counts), jsonl (llama-bench's fields, a line per test,\n"
    "                           plus joule's energy and cost) or csv\n"
    "  -s, --seed S             seed of the random weights and token ids (default fixed; -1 =\n"
    "                           random, printed)\n";

static int error_exit(const struct cli *a, const char *msg)
{
    return cli_fail(a, "%s", msg);
}

struct opts {
    struct cli_common c;
    const char *models[BENCH_MAX_LIST]; /* -m lists and repeated -m */
    int n_models;
    char *model_copies[BENCH_MAX_LIST];
    int n_copies;
    int32_t threads[BENCH_MAX_LIST]; /* -t lists */
    int n_threads;
    const char *synthetic, *format;
    struct int_list p, n, d, par;
    bool p_set, n_set, r_set;
    long reps;
};

static int parse_args(struct cli *a, struct opts *o)
{
    memset(o, 0, sizeof *o);
    cli_common_init(&o->c, CLI_MODEL | CLI_DEVICE | CLI_SEED | CLI_TDP | CLI_ENERGY | CLI_COST);
    o->format = "md";
    o->reps = 5;
    o->p = (struct int_list){{512}, 1};
    o->n = (struct int_list){{128}, 1};
    o->d = (struct int_list){{0}, 1};
    o->par = (struct int_list){{1}, 1};
    static const char *const formats[] = {"md", "json", "jsonl", "csv", NULL};
    while (cli_next(a)) {
        if (cli_is_help(a)) {
            printf("%s%s%s%s%s%s", help, cli_help_device,
                   "energy (see README, 'Bench and energy'):\n", cli_help_tdp, cli_help_energy,
                   cli_help_cost);
            return -1;
        }
        if (cli_is(a, "-m", "--model")) { /* a list, or repeated: every model is benched */
            const char *v;
            if (!cli_str(a, &v)) return 2;
            if (o->n_copies == BENCH_MAX_LIST || !(o->model_copies[o->n_copies] = strdup(v)))
                return cli_usage(a, "too many -m options");
            for (char *save = NULL, *t = strtok_r(o->model_copies[o->n_copies++], ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                if (o->n_models == BENCH_MAX_LIST)
                    return cli_usage(a, "too many models (at most %d)", BENCH_MAX_LIST);
                o->models[o->n_models++] = t;
            }
            o->c.model = o->n_models ? o->models[0] : NULL;
            continue;
        }
        if (cli_is(a, "-t", "--threads") && a->i + 1 < a->argc &&
            strchr(a->argv[a->i + 1], ',')) { /* a list; one value: the shared flag below */
            if (!cli_list(a, 1, 1024, o->threads, BENCH_MAX_LIST, &o->n_threads)) return 2;
            o->c.threads = o->threads[0];
            continue;
        }
        int r = cli_common_flag(a, &o->c), k;
        if (r < 0) return 2;
        if (r > 0) {
            if (cli_is(a, "-t", "--threads") ||
                (a->i > 0 &&
                 (!strcmp(a->argv[a->i - 1], "-t") || !strcmp(a->argv[a->i - 1], "--threads"))))
                o->n_threads = 0; /* a single -t after a list replaces it */
            continue;
        }
        if (cli_is(a, NULL, "--synthetic")) {
            if (!cli_str(a, &o->synthetic)) return 2;
        } else if (cli_is(a, "-p", "--n-prompt")) {
            if (!cli_list(a, 0, 1 << 20, o->p.v, BENCH_MAX_LIST, &o->p.n)) return 2;
            o->p_set = true;
        } else if (cli_is(a, "-n", "--n-gen")) {
            if (!cli_list(a, 0, 1 << 20, o->n.v, BENCH_MAX_LIST, &o->n.n)) return 2;
            o->n_set = true;
        } else if (cli_is(a, "-d", "--depth")) {
            if (!cli_list(a, 0, 1 << 20, o->d.v, BENCH_MAX_LIST, &o->d.n)) return 2;
        } else if (cli_is(a, NULL, "--parallel")) {
            if (!cli_list(a, 1, 256, o->par.v, BENCH_MAX_LIST, &o->par.n)) return 2;
        } else if (cli_is(a, "-r", "--repetitions")) {
            if (!cli_long(a, 1, 1000, &o->reps)) return 2;
            o->r_set = true;
        } else if (cli_is(a, "-o", "--output")) {
            if (!cli_choice(a, formats, &k)) return 2;
            o->format = formats[k];
        } else
            return cli_unknown(a);
    }
    if (o->c.model && o->synthetic)
        return cli_usage(a, "give -m MODEL or --synthetic NAME, not both");
    return 0;
}

static int make_tests(const struct cli *a, const struct opts *o, struct bench_test *t, int *n)
{
    *n = 0;
    for (int d = 0; d < o->d.n; d++) {
        for (int i = 0; i < o->p.n; i++)
            if (o->p.v[i] > 0) t[(*n)++] = (struct bench_test){BENCH_PP, o->p.v[i], o->d.v[d], 1};
        for (int i = 0; i < o->n.n; i++)
            for (int k = 0; k < o->par.n; k++)
                if (o->n.v[i] > 0)
                    t[(*n)++] = (struct bench_test){BENCH_TG, o->n.v[i], o->d.v[d], o->par.v[k]};
    }
    if (*n == 0) return cli_usage(a, "no tests: every -p and -n value is 0");
    return 0;
}

static int32_t ctx_for(const struct bench_test *t, int n)
{
    int32_t c = 1;
    for (int i = 0; i < n; i++)
        if (bench_ctx_needed(&t[i]) > c) c = bench_ctx_needed(&t[i]);
    /* a step of P sequences is P rows: the backends' batch is at most the context */
    for (int i = 0; i < n; i++)
        if (t[i].parallel > c) c = t[i].parallel;
    return c;
}

/* the most sequences a test decodes together */
static int32_t seqs_for(const struct bench_test *t, int n)
{
    int32_t s = 1;
    for (int i = 0; i < n; i++)
        if (t[i].parallel > s) s = t[i].parallel;
    return s;
}

/* The backend with the context and the sequences (--parallel) the tests need. */
static int open_backend(const struct cli *a, const struct cli_common *c, const struct model *m,
                        const struct bench_test *t, int n, struct backend **b)
{
    return cli_open_backend(a, c, m, ctx_for(t, n), seqs_for(t, n), b);
}

static int make_synthetic(const struct cli *a, const char *name, uint64_t seed, struct model **m,
                          struct bench_model *bm)
{
    const struct synth_shape *s;
    enum synth_ftype f;
    char err[512];
    if (synth_parse(name, &s, &f, err, sizeof err) != 0) return cli_usage(a, "%s", err);
    struct synth_info info;
    synth_info(s, f, &info);
    fprintf(stderr, "%s: making synthetic %s-%s (%.2f GiB of random weights)\n", a->cmd, s->name,
            synth_ftype_name(f), (double)info.bytes / (1 << 30));
    if (synth_create(s, f, seed, 0, m, err, sizeof err) != 0) return error_exit(a, err);
    bm->synthetic = true;
    bm->bytes = info.bytes;
    snprintf(bm->name, sizeof bm->name, "%s-%s", s->name, synth_ftype_name(f));
    return 0;
}

static void free_model(struct model *m, const struct bench_model *bm)
{
    if (bm->synthetic)
        synth_free(m);
    else
        model_free(m);
}

/* The GPU default by device-local memory (0 = unknown): q8_0, which every Vulkan build has
 * shaders for; the 8B model (7.95 GiB) where 12 GiB leaves room for its KV cache. */
static const char *default_gpu_model(uint64_t mem_bytes)
{
    return mem_bytes >= ((uint64_t)12 << 30) ? DEFAULT_GPU_MODEL_BIG : DEFAULT_GPU_MODEL;
}

/* Whether the device spec opens a Vulkan device, tried with a tiny model so that a machine
 * without a GPU does not first make the 1.2 GiB GPU default for nothing. */
static bool gpu_present(const char *dev)
{
    const struct synth_shape *s;
    enum synth_ftype f;
    struct model *m;
    struct backend *b = NULL;
    char err[512];
    if (synth_parse("test-tiny-q8_0", &s, &f, err, sizeof err) != 0 ||
        synth_create(s, f, 1, 0, &m, err, sizeof err) != 0)
        return true; /* cannot tell: let the real attempt decide */
    int rc = vk_backend_new(m, dev, 16, &b, err, sizeof err);
    backend_destroy(b);
    synth_free(m);
    return rc != VK_NO_DEVICE;
}

struct progress_ctx {
    int index, count;
    bool tty;
};

static void progress(void *ctx, const struct bench_test *t, int rep, int reps, double tps)
{
    struct progress_ctx *p = ctx;
    char name[64];
    bench_test_name(t, name, sizeof name);
    char line[160];
    if (rep > reps)
        snprintf(line, sizeof line, "[%d/%d] %s energy run %d: %.2f t/s", p->index + 1, p->count,
                 name, rep - reps, tps);
    else if (rep == 0)
        snprintf(line, sizeof line, "[%d/%d] %s warm-up: %.2f t/s", p->index + 1, p->count, name,
                 tps);
    else
        snprintf(line, sizeof line, "[%d/%d] %s rep %d/%d: %.2f t/s", p->index + 1, p->count, name,
                 rep, reps, tps);
    if (p->tty)
        fprintf(stderr, "\r\033[Kjoule bench: %s", line);
    else
        fprintf(stderr, "joule bench: %s\n", line);
    fflush(stderr);
}

static uint64_t gguf_bytes(const struct model *m)
{
    uint64_t b = 0;
    for (uint64_t i = 0; m->gguf && i < m->gguf->n_tensors; i++)
        b += m->gguf->tensors[i].nbytes;
    return b;
}

/* One model at one thread count; k of total runs (json: the array's separators; csv: one
 * header). */
static int bench_one(struct cli *a_, struct opts *o_, int k, int total)
{
    struct cli a = *a_;
    struct opts o = *o_;
    int rc;
    char err[512];
    struct bench_test tests[BENCH_MAX_LIST * (BENCH_MAX_LIST + BENCH_MAX_LIST * BENCH_MAX_LIST)];
    int n_tests = 0;
    struct model *m = NULL;
    struct backend *b = NULL;
    struct meter *meter = NULL;
    struct bench_result *res = NULL;
    struct bench_model bm;
    memset(&bm, 0, sizeof bm);
    uint64_t seed = o.c.seed_set ? o.c.seed : 0x6a6f756c65ull;

    if (o.c.model || o.synthetic) {
        if (o.c.model) {
            if ((rc = cli_load_model(&a, &o.c, &m))) return rc;
            const char *base = strrchr(o.c.model, '/');
            snprintf(bm.name, sizeof bm.name, "%s", base ? base + 1 : o.c.model);
            bm.bytes = gguf_bytes(m);
        } else if ((rc = make_synthetic(&a, o.synthetic, seed, &m, &bm)) != 0) {
            return rc;
        }
        if ((rc = make_tests(&a, &o, tests, &n_tests)) != 0) goto done;
        if ((rc = open_backend(&a, &o.c, m, tests, n_tests, &b))) goto done;
    } else {
        bm.is_default = true;
        if (strcmp(o.c.device, "cpu") != 0 && gpu_present(o.c.device)) {
            /* device memory is not reported by struct backend yet: the small default */
            if ((rc = make_synthetic(&a, default_gpu_model(0), seed, &m, &bm)) != 0) goto done;
            if ((rc = make_tests(&a, &o, tests, &n_tests)) != 0) goto done;
            if ((rc = open_backend(&a, &o.c, m, tests, n_tests, &b))) goto done;
            if (!strcmp(b->name, "cpu")) { /* auto fell back: the CPU default instead */
                backend_destroy(b);
                b = NULL;
                synth_free(m);
                m = NULL;
            }
        }
        if (!b) { /* the CPU default: a small model and short tests */
            if (!o.p_set) o.p = (struct int_list){{128}, 1};
            if (!o.n_set) o.n = (struct int_list){{64}, 1};
            if (!o.r_set) o.reps = 3;
            if ((rc = make_synthetic(&a, DEFAULT_CPU_MODEL, seed, &m, &bm)) != 0) goto done;
            if ((rc = make_tests(&a, &o, tests, &n_tests)) != 0) goto done;
            b = cpu_backend_new_seq(m, ctx_for(tests, n_tests), seqs_for(tests, n_tests),
                                    o.c.threads, err, sizeof err);
            if (!b) {
                rc = error_exit(&a, err);
                goto done;
            }
            cli_apply_precision(&a, &o.c, b);
        }
    }
    bm.params = m->n_params;
    int32_t threads = o.c.threads ? o.c.threads : cpu_default_threads();
    meter = cli_meter_open(&o.c, b);
    if (!meter) {
        rc = error_exit(&a, "out of memory");
        goto done;
    }
    fprintf(stderr, "%s: %s%s on %s (%s); energy: %s\n", a.cmd, bm.name,
            bm.synthetic ? " (synthetic weights)" : "", b->name, b->device, meter_method(meter));
    if (o.c.idle_s > 0 &&
        (meter_source(meter) == METER_COUNTER || meter_source(meter) == METER_POWER)) {
        fprintf(stderr, "%s: measuring idle power for %.3g s\n", a.cmd, o.c.idle_s);
        meter_measure_idle(meter, o.c.idle_s);
    }
    res = calloc((size_t)n_tests, sizeof *res);
    if (!res) {
        rc = error_exit(&a, "out of memory");
        goto done;
    }
    struct progress_ctx pc = {0, n_tests, isatty(2) != 0};
    for (int i = 0; i < n_tests; i++) {
        pc.index = i;
        if (bench_run(b, meter, &tests[i], (int)o.reps, o.c.energy_min, seed + (uint64_t)i,
                      progress, &pc, &res[i], err, sizeof err) != 0) {
            if (pc.tty) fprintf(stderr, "\n");
            rc = error_exit(&a, err);
            goto done;
        }
        if (pc.tty) fprintf(stderr, "\n");
    }
    if (o.c.model) snprintf(bm.path, sizeof bm.path, "%s", o.c.model);
    bench_model_type(m, bm.type, sizeof bm.type);
    struct bench_report rep = {.model = &bm,
                               .backend = b,
                               .meter = meter,
                               .cost = &o.c.cost,
                               .res = res,
                               .n = n_tests,
                               .threads = threads,
                               .no_header = k > 0,
                               .argc = a.argc,
                               .argv = a.argv};
    bench_measure_limits(&rep);
    if (!strcmp(o.format, "json")) {
        if (total > 1) fputs(k == 0 ? "[\n" : ",\n", stdout);
        bench_write_json(stdout, &rep);
        if (total > 1 && k == total - 1) fputs("]\n", stdout);
    } else if (!strcmp(o.format, "jsonl"))
        bench_write_jsonl(stdout, &rep);
    else if (!strcmp(o.format, "csv"))
        bench_write_csv(stdout, &rep);
    else {
        if (k) fputc('\n', stdout);
        bench_write_md(stdout, &rep);
    }
    if (file_check(stdout, "stdout", err, sizeof err) != 0) rc = error_exit(&a, err);
done:
    for (int i = 0; res && i < n_tests; i++)
        bench_result_free(&res[i]);
    free(res);
    meter_close(meter);
    backend_destroy(b);
    if (m) free_model(m, &bm);
    return rc;
}

int cli_bench(int argc, char **argv)
{
    struct cli a;
    cli_init(&a, "joule bench", argc, argv);
    struct opts o;
    int rc = parse_args(&a, &o);
    if (rc == 0 && o.synthetic && !strcmp(o.synthetic, "list")) {
        synth_print_list(stdout);
        rc = -1;
    }
    if (rc == 0) rc = cli_common_finish(&a, &o.c);
    /* every model at every thread count, in the order given (llama-bench's order) */
    int nm = o.n_models ? o.n_models : 1, nt = o.n_threads ? o.n_threads : 1;
    for (int i = 0; rc == 0 && i < nm; i++)
        for (int t = 0; rc == 0 && t < nt; t++) {
            if (o.n_models) o.c.model = o.models[i];
            if (o.n_threads) o.c.threads = o.threads[t];
            rc = bench_one(&a, &o, i * nt + t, nm * nt);
        }
    for (int i = 0; i < o.n_copies; i++)
        free(o.model_copies[i]);
    return rc < 0 ? 0 : rc;
}
