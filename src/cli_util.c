/* cli_util — see cli_util.h. */
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cpu.h"
#include "device.h"
#include "model.h"

/* ---- cursor and messages ---- */

void cli_init(struct cli *a, const char *cmd, int argc, char **argv)
{
    a->cmd = cmd;
    a->argc = argc;
    a->argv = argv;
    a->i = 0;
}

bool cli_next(struct cli *a)
{
    if (a->i + 1 >= a->argc) {
        a->i = a->argc;
        return false;
    }
    a->i++;
    return true;
}

const char *cli_arg(const struct cli *a)
{
    return a->i < a->argc ? a->argv[a->i] : "";
}

bool cli_is(const struct cli *a, const char *short_name, const char *long_name)
{
    const char *s = cli_arg(a);
    return (short_name && !strcmp(s, short_name)) || (long_name && !strcmp(s, long_name));
}

bool cli_is_help(const struct cli *a)
{
    return cli_is(a, "-h", "--help");
}

int cli_usage(const struct cli *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", a->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see '%s --help')\n", a->cmd);
    va_end(ap);
    return 2;
}

int cli_unknown(const struct cli *a)
{
    const char *s = cli_arg(a);
    if (s[0] != '-' || !s[1]) return cli_usage(a, "unexpected argument '%s'", s);
    return cli_usage(a, "unknown option '%s'", s);
}

int cli_fail(const struct cli *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", a->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

/* ---- parsers ---- */

bool cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    /* strtol skips leading white space; a value is the whole argument */
    if (errno || end == s || *end || s[0] == ' ' || s[0] == '\t' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || s[0] == ' ' || s[0] == '\t' || !isfinite(v) || !(v >= lo) ||
        !(v <= hi))
        return false;
    *out = v;
    return true;
}

bool cli_parse_list(const char *s, long lo, long hi, int32_t *v, int max, int *n)
{
    *n = 0;
    const char *p = s;
    for (;;) {
        char buf[32];
        size_t k = strcspn(p, ",");
        long x;
        if (k == 0 || k >= sizeof buf || *n == max) return false;
        memcpy(buf, p, k);
        buf[k] = 0;
        if (!cli_parse_long(buf, lo, hi, &x)) return false;
        v[(*n)++] = (int32_t)x;
        if (!p[k]) return true;
        p += k + 1;
    }
}

/* ---- values ---- */

bool cli_str(struct cli *a, const char **out)
{
    if (a->i + 1 >= a->argc) {
        cli_usage(a, "option '%s' needs a value", cli_arg(a));
        return false;
    }
    a->i++;
    *out = a->argv[a->i];
    return true;
}

/* takes the value; *flag is the option's name for the message */
static bool value(struct cli *a, const char **flag, const char **v)
{
    *flag = cli_arg(a);
    return cli_str(a, v);
}

bool cli_long(struct cli *a, long lo, long hi, long *out)
{
    const char *f, *v;
    if (!value(a, &f, &v)) return false;
    if (cli_parse_long(v, lo, hi, out)) return true;
    cli_usage(a, "bad value '%s' for %s (an integer from %ld to %ld)", v, f, lo, hi);
    return false;
}

bool cli_int(struct cli *a, int32_t lo, int32_t hi, int32_t *out)
{
    long v;
    if (!cli_long(a, lo, hi, &v)) return false;
    *out = (int32_t)v;
    return true;
}

bool cli_double(struct cli *a, double lo, double hi, double *out)
{
    const char *f, *v;
    if (!value(a, &f, &v)) return false;
    if (cli_parse_double(v, lo, hi, out)) return true;
    cli_usage(a, "bad value '%s' for %s (a number from %g to %g)", v, f, lo, hi);
    return false;
}

bool cli_float(struct cli *a, double lo, double hi, float *out)
{
    double d;
    if (!cli_double(a, lo, hi, &d)) return false;
    *out = (float)d;
    return true;
}

bool cli_list(struct cli *a, long lo, long hi, int32_t *v, int max, int *n)
{
    const char *f, *s;
    if (!value(a, &f, &s)) return false;
    if (cli_parse_list(s, lo, hi, v, max, n)) return true;
    cli_usage(a, "bad value '%s' for %s (comma-separated integers from %ld to %ld, at most %d)", s,
              f, lo, hi, max);
    return false;
}

bool cli_choice(struct cli *a, const char *const *choices, int *out)
{
    const char *f, *v;
    if (!value(a, &f, &v)) return false;
    for (int k = 0; choices[k]; k++)
        if (!strcmp(v, choices[k])) {
            *out = k;
            return true;
        }
    char list[256] = "";
    for (int k = 0; choices[k]; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                 k == 0           ? ""
                 : choices[k + 1] ? ", "
                                  : " or ",
                 choices[k]);
    cli_usage(a, "bad value '%s' for %s (%s)", v, f, list);
    return false;
}

static uint64_t random_seed(void)
{
    uint64_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &s, sizeof s) != (ssize_t)sizeof s) s = 0;
        close(fd);
    }
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
    }
    return s & 0xffffffffu; /* 32 bits: valid for every command's seed (eval's is 32-bit) */
}

bool cli_seed(struct cli *a, uint64_t *out)
{
    const char *f, *v;
    if (!value(a, &f, &v)) return false;
    if (!strcmp(v, "-1")) {
        *out = random_seed();
        fprintf(stderr, "%s: seed %" PRIu64 " (random)\n", a->cmd, *out);
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] < '0' || v[0] > '9') {
        cli_usage(a, "bad value '%s' for %s (an integer from 0 to 2^64-1, or -1 for a random one)",
                  v, f);
        return false;
    }
    *out = s;
    return true;
}

/* ---- shared flags ---- */

const char cli_help_device[] =
    "  --device D               auto (default: a GPU if present, else the CPU), cpu, vulkan,\n"
    "                           vulkan:N\n"
    "  --precision P            exact (float activations, the reference; default) or fast\n"
    "                           (8-bit activations, integer dot products: the CPU, and\n"
    "                           Vulkan decode where the GPU accelerates them)\n";
const char cli_help_threads[] =
    "  -t, --threads N          CPU threads, 1 to 1024 (default: all cores)\n";
const char cli_help_ctx[] =
    "  -c, --ctx-size N         context size in tokens (default: the model's, at most 4096)\n";
const char cli_help_sampling[] =
    "  --temp T                 temperature, 0 to 100 (default 0.8; 0 = greedy)\n"
    "  --top-k K                keep the K most likely tokens (default 40; 0 = off)\n"
    "  --top-p P                nucleus sampling, 0 to 1 (default 0.95; 1 = off)\n"
    "  --min-p M                drop tokens below M x the best probability (default 0.05)\n"
    "  --repeat-penalty R       penalize recent tokens, 0.01 to 100 (default 1.0 = off)\n"
    "  --repeat-last-n N        window of the repetition penalty (default 64)\n"
    "  -s, --seed S             random seed (default fixed: runs are repeatable; -1 = random,\n"
    "                           printed)\n";
const char cli_help_tdp[] =
    "  --tdp W                  power for the energy estimate when the device has no sensor\n";
const char cli_help_energy[] =
    "  --idle S                 seconds of idle power measured first when a sensor exists\n"
    "                           (default 5; 0 = skip)\n"
    "  --energy-min S           with a sensor, repeat a test beyond -r until its energy window\n"
    "                           lasts S seconds (default 10; 0 = off); t/s still comes from -r\n";
const char cli_help_cost[] =
    "cost ($/Mtok = kWh x price x PUE + hours x hardware cost per hour):\n"
    "  --price-kwh P            electricity price per kWh (default 0.15)\n"
    "  --pue X                  power usage effectiveness (default 1.0)\n"
    "  --hw-price P             hardware purchase price (default none: hardware part n/a)\n"
    "  --hw-life-years Y        hardware lifetime (default 4)\n"
    "  --utilization U          fraction of the lifetime in use, 0..1 (default 0.5)\n"
    "  --cloud-hourly P         hourly price of a rented machine (replaces the purchase terms)\n"
    "  --cost-config FILE       'key = value' lines with the keys above (without --); flags "
    "win\n";

void cli_common_init(struct cli_common *c, unsigned groups)
{
    memset(c, 0, sizeof *c);
    c->groups = groups;
    c->device = "auto";
    c->precision = PRECISION_DEFAULT;
    sample_defaults(&c->sp);
    c->idle_s = 5;
    c->energy_min = 10;
    cost_defaults(&c->cost);
}

static const char *const cost_flags[] = {"--price-kwh",     "--pue",         "--hw-price",
                                         "--hw-life-years", "--utilization", "--cloud-hourly"};

int cli_common_flag(struct cli *a, struct cli_common *c)
{
    const char *v;
    unsigned g = c->groups;
    if ((g & CLI_MODEL) && cli_is(a, "-m", "--model")) return cli_str(a, &c->model) ? 1 : -1;
    if (g & CLI_DEVICE) {
        if (cli_is(a, NULL, "--device")) {
            if (!cli_str(a, &v)) return -1;
            if (!device_spec_valid(v)) {
                cli_usage(a, "bad value '%s' for --device (auto, cpu, vulkan or vulkan:N)", v);
                return -1;
            }
            c->device = v;
            return 1;
        }
        if (cli_is(a, "-t", "--threads")) return cli_int(a, 1, 1024, &c->threads) ? 1 : -1;
        if (cli_is(a, NULL, "--precision")) {
            static const char *const names[] = {"exact", "fast", NULL};
            int k;
            if (!cli_choice(a, names, &k)) return -1;
            c->precision = k == 1 ? PRECISION_FAST : PRECISION_EXACT;
            return 1;
        }
    }
    if ((g & CLI_CTX) && (cli_is(a, "-c", "--ctx") || cli_is(a, NULL, "--ctx-size")))
        return cli_int(a, 1, 1 << 20, &c->ctx) ? 1 : -1;
    if (g & CLI_SAMPLING) {
        struct sample_params *p = &c->sp;
        if (cli_is(a, NULL, "--temp")) return cli_float(a, 0, 100, &p->temp) ? 1 : -1;
        if (cli_is(a, NULL, "--top-k")) return cli_int(a, 0, INT32_MAX, &p->top_k) ? 1 : -1;
        if (cli_is(a, NULL, "--top-p")) return cli_float(a, 0, 1, &p->top_p) ? 1 : -1;
        if (cli_is(a, NULL, "--min-p")) return cli_float(a, 0, 1, &p->min_p) ? 1 : -1;
        if (cli_is(a, NULL, "--repeat-penalty"))
            return cli_float(a, 0.01, 100, &p->repeat_penalty) ? 1 : -1;
        if (cli_is(a, NULL, "--repeat-last-n"))
            return cli_int(a, 0, 1 << 20, &p->repeat_last_n) ? 1 : -1;
    }
    if ((g & CLI_SEED) && cli_is(a, "-s", "--seed")) {
        if (!cli_seed(a, &c->seed)) return -1;
        c->seed_set = true;
        return 1;
    }
    if ((g & CLI_TDP) && cli_is(a, NULL, "--tdp"))
        return cli_double(a, 0.1, 100000, &c->tdp) ? 1 : -1;
    if (g & CLI_ENERGY) {
        if (cli_is(a, NULL, "--idle")) return cli_double(a, 0, 600, &c->idle_s) ? 1 : -1;
        if (cli_is(a, NULL, "--energy-min")) return cli_double(a, 0, 3600, &c->energy_min) ? 1 : -1;
    }
    if (g & CLI_COST) {
        if (cli_is(a, NULL, "--cost-config")) return cli_str(a, &c->cost_file) ? 1 : -1;
        for (size_t k = 0; k < sizeof cost_flags / sizeof cost_flags[0]; k++) {
            if (!cli_is(a, NULL, cost_flags[k])) continue;
            const char *f = cli_arg(a);
            if (!cli_str(a, &v)) return -1;
            struct cost_params tmp;
            char err[256];
            cost_defaults(&tmp);
            if (cost_set(&tmp, f + 2, v, err, sizeof err) != 0) {
                cli_usage(a, "%s", err);
                return -1;
            }
            if (c->n_cost == CLI_MAX_COST_FLAGS) {
                cli_usage(a, "too many cost options");
                return -1;
            }
            c->cost_keys[c->n_cost] = f + 2;
            c->cost_vals[c->n_cost++] = v;
            return 1;
        }
    }
    return 0;
}

int cli_common_finish(const struct cli *a, struct cli_common *c)
{
    char err[512];
    if (c->seed_set && (c->groups & CLI_SAMPLING)) c->sp.seed = c->seed;
    cost_defaults(&c->cost);
    if (c->cost_file && cost_load(&c->cost, c->cost_file, err, sizeof err) != 0)
        return cli_fail(a, "%s", err);
    for (int i = 0; i < c->n_cost; i++)
        if (cost_set(&c->cost, c->cost_keys[i], c->cost_vals[i], err, sizeof err) != 0)
            return cli_usage(a, "%s", err);
    return 0;
}

/* ---- Ctrl-C ---- */

volatile sig_atomic_t cli_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (cli_stop) _exit(CLI_EXIT_INTERRUPTED);
    cli_stop = 1;
    static const char msg[] = "\njoule: interrupted: finishing the step in progress and writing "
                              "what is done (again to quit at once)\n";
    ssize_t w = write(2, msg, sizeof msg - 1); /* async-signal-safe, unlike fprintf */
    (void)w;
}

void cli_catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* reads and writes in progress complete */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- opening ---- */

int cli_load_model(const struct cli *a, const struct cli_common *c, struct model **m)
{
    *m = NULL;
    if (!c->model) return cli_usage(a, "missing -m MODEL");
    char err[512];
    if (model_load(c->model, m, err, sizeof err) != 0) return cli_fail(a, "%s", err);
    return 0;
}

int32_t cli_ctx_default(const struct cli_common *c, const struct model *m)
{
    if (c->ctx) return c->ctx;
    int32_t n = m->cfg.n_ctx_train;
    if (n > 4096) n = 4096; /* keep the default KV cache modest */
    if (n < 1) n = 1;
    return n;
}

int cli_open_backend(const struct cli *a, const struct cli_common *c, const struct model *m,
                     int32_t n_ctx, int32_t n_seq, struct backend **b)
{
    char err[512], notice[600];
    if (device_open_seq(c->device, m, n_ctx, n_seq, c->threads, b, notice, sizeof notice, err,
                        sizeof err) != 0)
        return cli_fail(a, "%s", err);
    if (notice[0]) fprintf(stderr, "%s: %s\n", a->cmd, notice);
    cli_apply_precision(a, c, *b);
    return 0;
}

void cli_apply_precision(const struct cli *a, const struct cli_common *c, struct backend *b)
{
    enum precision want = c->precision == PRECISION_FAST ? PRECISION_FAST : PRECISION_EXACT;
    if (backend_set_precision(b, want) != want)
        fprintf(stderr, "%s: %s has no '%s' precision; running '%s'\n", a->cmd, b->name,
                precision_name(want), precision_name(b->precision));
}

bool cli_backend_is_gpu(const struct backend *b)
{
    return strcmp(b->name, "cpu") != 0 && !strstr(b->device, "CPU");
}

struct meter *cli_meter_open(const struct cli_common *c, const struct backend *b)
{
    /* the CPU's share of its power; the meter charges at most the cores online */
    int32_t threads = c->threads ? c->threads : cpu_default_threads();
    struct meter_opts mo = {.gpu = cli_backend_is_gpu(b),
                            .device_name = b->device,
                            .pci_bus_id = b->pci_bus_id[0] ? b->pci_bus_id : NULL,
                            .cpu_threads = threads,
                            .tdp_w = c->tdp};
    return meter_open(&mo);
}
