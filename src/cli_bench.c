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
#include "gguf.h"
#include "meter.h"
#include "model.h"
#include "synth.h"
#include "vk.h"

#define DEFAULT_GPU_MODEL "llama-3.2-1b-q8_0"
#define DEFAULT_GPU_MODEL_BIG "llama-3.1-8b-q8_0"
#define DEFAULT_CPU_MODEL "tinyllama-1.1b-q4_0"

static const char *help =
    "usage: joule bench [-m MODEL | --synthetic NAME] [-p 512] [-n 128] [-d 0] [-r 5]\n"
    "                   [--device D] [-t N] [-o md|json|csv] [energy and cost options]\n"
    "Measures prompt processing (pp) and generation (tg) speed as llama-bench does, with the\n"
    "energy and cost of every token. Results on stdout, progress on stderr.\n"
    "  -m, --model FILE       a GGUF model\n"
    "  --synthetic NAME       random weights in a published model's shapes and types, made in\n"
    "                         memory (no download); 'list' shows them. Default without -m:\n"
    "                         " DEFAULT_GPU_MODEL " on a GPU, " DEFAULT_CPU_MODEL " on the CPU\n"
    "                         (CPU: -p 128 -n 64 -r 3 unless given; under a minute on 2 cores)\n"
    "  -p, --n-prompt LIST    prompt lengths, comma separated (default 512; 0 = none)\n"
    "  -n, --n-gen LIST       generation lengths (default 128; 0 = none)\n"
    "  -d, --depth LIST       KV cache depths the tests start at (default 0)\n"
    "  -r, --repetitions N    timed repetitions after one warm-up (default 5)\n"
    "  --device D             auto (default: a GPU if present, else the CPU), cpu, vulkan,\n"
    "                         vulkan:N\n"
    "  -t, --threads N        CPU threads (default: all cores)\n"
    "  -o, --output FMT       md (default), json or csv\n"
    "  --seed S               seed of the random weights and token ids (default fixed)\n"
    "energy (see README, 'Bench and energy'):\n"
    "  --idle S               seconds of idle power measured first when a sensor exists (default "
    "5;\n"
    "                         0 = skip)\n"
    "  --tdp W                power for the estimate when the device has no sensor\n"
    "  --energy-min S         with a sensor, repeat a test beyond -r until its energy window "
    "lasts\n"
    "                         S seconds (default 10; 0 = off); t/s still comes from the -r runs\n"
    "cost ($/Mtok = kWh x price x PUE + hours x hardware cost per hour):\n"
    "  --price-kwh P          electricity price per kWh (default 0.15)\n"
    "  --pue X                power usage effectiveness (default 1.0)\n"
    "  --hw-price P           hardware purchase price (default none: hardware part n/a)\n"
    "  --hw-life-years Y      hardware lifetime (default 4)\n"
    "  --utilization U        fraction of the lifetime in use, 0..1 (default 0.5)\n"
    "  --cloud-hourly P       hourly price of a rented machine (replaces the purchase terms)\n"
    "  --cost-config FILE     'key = value' lines with the keys above (without --); flags win\n";

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "joule bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'joule bench --help')\n");
    va_end(ap);
    return 2;
}

static int error_exit(const char *msg)
{
    fprintf(stderr, "joule bench: %s\n", msg);
    return 1;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

/* "128,512" into v (at most BENCH_MAX_LIST values) */
static int parse_list(const char *flag, const char *s, long lo, long hi, struct int_list *l)
{
    l->n = 0;
    const char *p = s;
    for (;;) {
        char buf[32];
        size_t k = strcspn(p, ",");
        long v;
        if (k == 0 || k >= sizeof buf || l->n == BENCH_MAX_LIST) goto bad;
        memcpy(buf, p, k);
        buf[k] = 0;
        if (!cli_parse_long(buf, lo, hi, &v)) goto bad;
        l->v[l->n++] = (int32_t)v;
        if (!p[k]) return 0;
        p += k + 1;
    }
bad:
    return usage_error(
        "bad value '%s' for %s (comma-separated integers from %ld to %ld, at most %d)", s, flag, lo,
        hi, BENCH_MAX_LIST);
}

struct opts {
    const char *model, *synthetic, *device, *format, *cost_file;
    struct int_list p, n, d;
    bool p_set, n_set, r_set;
    long reps, threads;
    double idle_s, tdp, energy_min;
    unsigned long long seed;
    const char *cost_keys[32], *cost_vals[32];
    int n_cost;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->device = "auto";
    o->format = "md";
    o->reps = 5;
    o->idle_s = 5;
    o->energy_min = 10;
    o->p = (struct int_list){{512}, 1};
    o->n = (struct int_list){{128}, 1};
    o->d = (struct int_list){{0}, 1};
    static const char *cost_flags[] = {"--price-kwh",     "--pue",         "--hw-price",
                                       "--hw-life-years", "--utilization", "--cloud-hourly"};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("%s", help);
            return -1;
        }
        bool known = !strcmp(f, "-m") || !strcmp(f, "--model") || !strcmp(f, "--synthetic") ||
                     !strcmp(f, "-p") || !strcmp(f, "--n-prompt") || !strcmp(f, "-n") ||
                     !strcmp(f, "--n-gen") || !strcmp(f, "-d") || !strcmp(f, "--depth") ||
                     !strcmp(f, "-r") || !strcmp(f, "--repetitions") || !strcmp(f, "--device") ||
                     !strcmp(f, "-t") || !strcmp(f, "--threads") || !strcmp(f, "-o") ||
                     !strcmp(f, "--output") || !strcmp(f, "--seed") || !strcmp(f, "--idle") ||
                     !strcmp(f, "--tdp") || !strcmp(f, "--cost-config") ||
                     !strcmp(f, "--energy-min");
        int cost = -1;
        for (int k = 0; k < 6; k++)
            if (!strcmp(f, cost_flags[k])) cost = k;
        if (!known && cost < 0) return usage_error("unknown option '%s'", f);
        if (i + 1 >= argc) return usage_error("option '%s' needs a value", f);
        const char *v = argv[++i];
        long x;
        if (cost >= 0) {
            struct cost_params tmp;
            char err[256];
            cost_defaults(&tmp);
            if (cost_set(&tmp, f + 2, v, err, sizeof err) != 0) return usage_error("%s", err);
            if (o->n_cost == 32) return usage_error("too many cost options");
            o->cost_keys[o->n_cost] = f + 2;
            o->cost_vals[o->n_cost++] = v;
        } else if (!strcmp(f, "-m") || !strcmp(f, "--model"))
            o->model = v;
        else if (!strcmp(f, "--synthetic"))
            o->synthetic = v;
        else if (!strcmp(f, "-p") || !strcmp(f, "--n-prompt")) {
            if (parse_list(f, v, 0, 1 << 20, &o->p)) return 2;
            o->p_set = true;
        } else if (!strcmp(f, "-n") || !strcmp(f, "--n-gen")) {
            if (parse_list(f, v, 0, 1 << 20, &o->n)) return 2;
            o->n_set = true;
        } else if (!strcmp(f, "-d") || !strcmp(f, "--depth")) {
            if (parse_list(f, v, 0, 1 << 20, &o->d)) return 2;
        } else if (!strcmp(f, "-r") || !strcmp(f, "--repetitions")) {
            if (!cli_parse_long(v, 1, 1000, &o->reps))
                return usage_error("bad value '%s' for %s (an integer from 1 to 1000)", v, f);
            o->r_set = true;
        } else if (!strcmp(f, "--device")) {
            if (!device_spec_valid(v))
                return usage_error("bad value '%s' for --device (auto, cpu, vulkan or vulkan:N)",
                                   v);
            o->device = v;
        } else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) {
            if (!cli_parse_long(v, 1, 1024, &x))
                return usage_error("bad value '%s' for %s (an integer from 1 to 1024)", v, f);
            o->threads = x;
        } else if (!strcmp(f, "-o") || !strcmp(f, "--output")) {
            if (strcmp(v, "md") && strcmp(v, "json") && strcmp(v, "csv"))
                return usage_error("bad value '%s' for %s (md, json or csv)", v, f);
            o->format = v;
        } else if (!strcmp(f, "--seed")) {
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            if (errno || end == v || *end || *v == '-')
                return usage_error("bad value '%s' for --seed (a non-negative integer)", v);
        } else if (!strcmp(f, "--idle")) {
            if (!parse_double(v, 0, 600, &o->idle_s))
                return usage_error("bad value '%s' for --idle (seconds from 0 to 600)", v);
        } else if (!strcmp(f, "--tdp")) {
            if (!parse_double(v, 0.1, 100000, &o->tdp))
                return usage_error("bad value '%s' for --tdp (watts from 0.1 to 100000)", v);
        } else if (!strcmp(f, "--energy-min")) {
            if (!parse_double(v, 0, 3600, &o->energy_min))
                return usage_error("bad value '%s' for --energy-min (seconds from 0 to 3600)", v);
        } else if (!strcmp(f, "--cost-config"))
            o->cost_file = v;
    }
    if (o->model && o->synthetic) return usage_error("give -m MODEL or --synthetic NAME, not both");
    return 0;
}

static int make_tests(const struct opts *o, struct bench_test *t, int *n)
{
    *n = 0;
    for (int d = 0; d < o->d.n; d++) {
        for (int i = 0; i < o->p.n; i++)
            if (o->p.v[i] > 0) t[(*n)++] = (struct bench_test){BENCH_PP, o->p.v[i], o->d.v[d]};
        for (int i = 0; i < o->n.n; i++)
            if (o->n.v[i] > 0) t[(*n)++] = (struct bench_test){BENCH_TG, o->n.v[i], o->d.v[d]};
    }
    if (*n == 0) return usage_error("no tests: every -p and -n value is 0");
    return 0;
}

static int32_t ctx_for(const struct bench_test *t, int n)
{
    int32_t c = 1;
    for (int i = 0; i < n; i++)
        if (bench_ctx_needed(&t[i]) > c) c = bench_ctx_needed(&t[i]);
    return c;
}

static int make_synthetic(const char *name, uint64_t seed, struct model **m, struct bench_model *bm)
{
    const struct synth_shape *s;
    enum synth_ftype f;
    char err[512];
    if (synth_parse(name, &s, &f, err, sizeof err) != 0) return usage_error("%s", err);
    struct synth_info info;
    synth_info(s, f, &info);
    fprintf(stderr, "joule bench: making synthetic %s-%s (%.2f GiB of random weights)\n", s->name,
            synth_ftype_name(f), (double)info.bytes / (1 << 30));
    if (synth_create(s, f, seed, 0, m, err, sizeof err) != 0) return error_exit(err);
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

/* Like engine.c's open_backend: "auto" prefers a GPU and falls back to the CPU. Returns
 * 0, 1 (error printed), or 3 when auto found no GPU and the caller should fall back. */
static int try_vulkan(const char *dev, const struct model *m, int32_t n_ctx, struct backend **out)
{
    char err[512];
    *out = NULL;
    int rc = vk_backend_new(m, dev, n_ctx, out, err, sizeof err);
    if (rc == VK_OK) return 0;
    if (rc == VK_FAILED || strcmp(dev, "auto") != 0) return error_exit(err);
    fprintf(stderr, "joule bench: no Vulkan GPU (%s); running on the CPU\n", err);
    return 3;
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

int cli_bench(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if (o.synthetic && !strcmp(o.synthetic, "list")) {
        synth_print_list(stdout);
        return 0;
    }
    struct cost_params cost;
    cost_defaults(&cost);
    char err[512];
    if (o.cost_file && cost_load(&cost, o.cost_file, err, sizeof err) != 0) return error_exit(err);
    for (int i = 0; i < o.n_cost; i++)
        if (cost_set(&cost, o.cost_keys[i], o.cost_vals[i], err, sizeof err) != 0)
            return usage_error("%s", err);

    struct bench_test tests[3 * BENCH_MAX_LIST * BENCH_MAX_LIST];
    int n_tests = 0;
    struct model *m = NULL;
    struct backend *b = NULL;
    struct meter *meter = NULL;
    struct bench_result *res = NULL;
    struct bench_model bm;
    memset(&bm, 0, sizeof bm);
    uint64_t seed = o.seed ? o.seed : 0x6a6f756c65ull;

    if (o.model || o.synthetic) {
        if (o.model) {
            if (model_load(o.model, &m, err, sizeof err) != 0) return error_exit(err);
            const char *base = strrchr(o.model, '/');
            snprintf(bm.name, sizeof bm.name, "%s", base ? base + 1 : o.model);
            bm.bytes = gguf_bytes(m);
        } else if ((rc = make_synthetic(o.synthetic, seed, &m, &bm)) != 0) {
            return rc;
        }
        if ((rc = make_tests(&o, tests, &n_tests)) != 0) goto done;
        int32_t n_ctx = ctx_for(tests, n_tests);
        if (strcmp(o.device, "cpu") != 0) {
            rc = try_vulkan(o.device, m, n_ctx, &b);
            if (rc == 3)
                rc = 0;
            else if (rc)
                goto done;
        }
    } else {
        bm.is_default = true;
        if (strcmp(o.device, "cpu") != 0 && gpu_present(o.device)) {
            /* device memory is not reported by struct backend yet: the small default */
            if ((rc = make_synthetic(default_gpu_model(0), seed, &m, &bm)) != 0) goto done;
            if ((rc = make_tests(&o, tests, &n_tests)) != 0) goto done;
            rc = try_vulkan(o.device, m, ctx_for(tests, n_tests), &b);
            if (rc == 3) {
                rc = 0;
                synth_free(m);
                m = NULL;
            } else if (rc)
                goto done;
        }
        if (!b) { /* the CPU default: a small model and short tests */
            if (!o.p_set) o.p = (struct int_list){{128}, 1};
            if (!o.n_set) o.n = (struct int_list){{64}, 1};
            if (!o.r_set) o.reps = 3;
            if ((rc = make_synthetic(DEFAULT_CPU_MODEL, seed, &m, &bm)) != 0) goto done;
            if ((rc = make_tests(&o, tests, &n_tests)) != 0) goto done;
        }
    }
    if (!b) {
        b = cpu_backend_new(m, ctx_for(tests, n_tests), (int32_t)o.threads, err, sizeof err);
        if (!b) {
            rc = error_exit(err);
            goto done;
        }
    }
    bm.params = m->n_params;
    bool gpu = strcmp(b->name, "cpu") != 0 && !strstr(b->device, "CPU");
    int32_t threads = o.threads ? (int32_t)o.threads : cpu_default_threads();
    struct meter_opts mo = {.gpu = gpu,
                            .device_name = b->device,
                            .cpu_threads = threads,
                            .tdp_w = o.tdp,
                            .pci_bus_id = b->pci_bus_id[0] ? b->pci_bus_id : NULL};
    meter = meter_open(&mo);
    if (!meter) {
        rc = error_exit("out of memory");
        goto done;
    }
    fprintf(stderr, "joule bench: %s%s on %s (%s); energy: %s\n", bm.name,
            bm.synthetic ? " (synthetic weights)" : "", b->name, b->device, meter_method(meter));
    if (o.idle_s > 0 &&
        (meter_source(meter) == METER_COUNTER || meter_source(meter) == METER_POWER)) {
        fprintf(stderr, "joule bench: measuring idle power for %.3g s\n", o.idle_s);
        meter_measure_idle(meter, o.idle_s);
    }
    res = calloc((size_t)n_tests, sizeof *res);
    if (!res) {
        rc = error_exit("out of memory");
        goto done;
    }
    struct progress_ctx pc = {0, n_tests, isatty(2) != 0};
    for (int i = 0; i < n_tests; i++) {
        pc.index = i;
        if (bench_run(b, meter, &tests[i], (int)o.reps, o.energy_min, seed + (uint64_t)i, progress,
                      &pc, &res[i], err, sizeof err) != 0) {
            if (pc.tty) fprintf(stderr, "\n");
            rc = error_exit(err);
            goto done;
        }
        if (pc.tty) fprintf(stderr, "\n");
    }
    struct bench_report rep = {.model = &bm,
                               .backend = b,
                               .meter = meter,
                               .cost = &cost,
                               .res = res,
                               .n = n_tests,
                               .threads = threads};
    bench_measure_limits(&rep);
    if (!strcmp(o.format, "json"))
        bench_write_json(stdout, &rep);
    else if (!strcmp(o.format, "csv"))
        bench_write_csv(stdout, &rep);
    else
        bench_write_md(stdout, &rep);
    fflush(stdout);
done:
    for (int i = 0; res && i < n_tests; i++)
        bench_result_free(&res[i]);
    free(res);
    meter_close(meter);
    backend_destroy(b);
    if (m) free_model(m, &bm);
    return rc;
}
