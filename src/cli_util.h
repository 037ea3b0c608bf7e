/* cli_util — the one command-line layer every command uses (engine.c, cli_*.c).
 *
 * It owns the argument cursor, the parsing of integers, numbers, lists, choices and seeds
 * (a bad value is a usage error naming the flag and the accepted range), the usage-error
 * exit (status 2; runtime errors exit 1), the flags shared by commands (model, device,
 * threads, context, sampling, energy and cost) and opening the model and backend. A flag
 * therefore means the same in every command: `-t 2.5` is an error everywhere, `--top-k`
 * has one range, `--device` is validated everywhere.
 *
 * A command's parser reads:
 *
 *     struct cli a;
 *     struct cli_common c;
 *     cli_init(&a, "joule run", argc, argv);         argv[0] is the command's name
 *     cli_common_init(&c, CLI_MODEL | CLI_DEVICE | CLI_SAMPLING);
 *     while (cli_next(&a)) {
 *         if (cli_is_help(&a)) return printf("%s", help), 0;
 *         int r = cli_common_flag(&a, &c);
 *         if (r < 0) return 2;                        the message is printed
 *         if (r > 0) continue;
 *         if (cli_is(&a, "-n", "--n-predict")) {
 *             if (!cli_long(&a, -1, 1 << 20, &n)) return 2;
 *         } else
 *             return cli_unknown(&a);
 *     }
 *     if ((rc = cli_common_finish(&a, &c))) return rc;
 */
#ifndef JOULE_CLI_UTIL_H
#define JOULE_CLI_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meter.h"
#include "sample.h"

struct backend;
struct model;

/* ---- the argument cursor and its messages ---- */

struct cli {
    const char *cmd; /* "joule run": the prefix of every message */
    int argc, i;     /* argv[i] is the current argument */
    char **argv;     /* argv[0] is the command's name */
};

void cli_init(struct cli *a, const char *cmd, int argc, char **argv);
/* Moves to the next argument; false when there is none. */
bool cli_next(struct cli *a);
/* The current argument. */
const char *cli_arg(const struct cli *a);
/* Whether the current argument is short_name or long_name (either may be NULL). */
bool cli_is(const struct cli *a, const char *short_name, const char *long_name);
bool cli_is_help(const struct cli *a); /* -h or --help */

/* "CMD: MESSAGE (see 'CMD --help')" on stderr; returns 2, the usage-error status. */
int cli_usage(const struct cli *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The current argument is not an option of this command: "unknown option '-x'", or for a
 * word without a dash "unexpected argument 'x'". Returns 2. */
int cli_unknown(const struct cli *a);
/* "CMD: MESSAGE" on stderr; returns 1, the status of an error at run time. */
int cli_fail(const struct cli *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- values: each takes the argument after the current flag (and moves past it); on a
 * missing or bad value it prints a usage error naming the flag and the range and returns
 * false (the caller returns 2). ---- */

bool cli_str(struct cli *a, const char **out);
/* A whole decimal integer in lo..hi ("2.5", "3x", "" and overflow are errors). */
bool cli_long(struct cli *a, long lo, long hi, long *out);
bool cli_int(struct cli *a, int32_t lo, int32_t hi, int32_t *out);
/* A finite decimal number in lo..hi. */
bool cli_double(struct cli *a, double lo, double hi, double *out);
bool cli_float(struct cli *a, double lo, double hi, float *out);
/* Comma-separated integers in lo..hi, at most max of them, into v[0..*n-1]. */
bool cli_list(struct cli *a, long lo, long hi, int32_t *v, int max, int *n);
/* One of choices (NULL-terminated); *out is its index. */
bool cli_choice(struct cli *a, const char *const *choices, int *out);
/* A seed: 0 to 2^64-1, or -1 for a random one (printed to stderr so the run can be
 * repeated). */
bool cli_seed(struct cli *a, uint64_t *out);

/* The parsers themselves, without a message: whole strings only. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);
bool cli_parse_double(const char *s, double lo, double hi, double *out);
/* "1,2,3" into v (at most max values, each in lo..hi). */
bool cli_parse_list(const char *s, long lo, long hi, int32_t *v, int max, int *n);

/* ---- the flags shared by commands ---- */

enum cli_group {
    CLI_MODEL = 1 << 0,    /* -m, --model FILE */
    CLI_DEVICE = 1 << 1,   /* --device D, -t/--threads N, --precision P */
    CLI_CTX = 1 << 2,      /* -c, --ctx, --ctx-size N */
    CLI_SAMPLING = 1 << 3, /* --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n */
    CLI_SEED = 1 << 4,     /* -s, --seed S (CLI_SAMPLING: the sampler's seed) */
    CLI_TDP = 1 << 5,      /* --tdp W */
    CLI_ENERGY = 1 << 6,   /* --idle S, --energy-min S (bench's measuring protocol) */
    CLI_COST = 1 << 7,     /* --price-kwh --pue --hw-price --hw-life-years --utilization
                              --cloud-hourly --cost-config FILE */
};

enum { CLI_MAX_COST_FLAGS = 32 };

struct cli_common {
    unsigned groups;
    const char *model;       /* NULL: not given */
    const char *device;      /* "auto" unless given */
    int32_t threads;         /* 0: all cores */
    int precision;           /* enum precision (backend.h); PRECISION_DEFAULT unless given */
    int32_t ctx;             /* 0: the default (cli_ctx_default) */
    struct sample_params sp; /* sample_defaults() unless given */
    uint64_t seed;           /* CLI_SEED */
    bool seed_set;
    double tdp, idle_s, energy_min; /* defaults 0 (no override), 5, 10 */
    struct cost_params cost;        /* filled by cli_common_finish: file, then flags */
    const char *cost_file;
    const char *cost_keys[CLI_MAX_COST_FLAGS], *cost_vals[CLI_MAX_COST_FLAGS];
    int n_cost;
};

/* The texts of the shared flags for --help, one line or two per flag. */
extern const char cli_help_device[];   /* --device, --precision */
extern const char cli_help_threads[];  /* -t N (bench has its own -t LIST) */
extern const char cli_help_ctx[];      /* -c */
extern const char cli_help_sampling[]; /* the sampling flags and --seed */
extern const char cli_help_tdp[];      /* --tdp */
extern const char cli_help_energy[];   /* --idle, --energy-min */
extern const char cli_help_cost[];     /* the cost flags */

void cli_common_init(struct cli_common *c, unsigned groups);
/* Consumes the current argument (and its value) when it is a flag of c->groups: returns
 * 1, 0 when it is not one, -1 after printing a usage error. */
int cli_common_flag(struct cli *a, struct cli_common *c);
/* After the loop: reads --cost-config then applies the cost flags, copies the seed into
 * the sampling parameters. Returns 0, 1 (a file error) or 2 (a bad value). */
int cli_common_finish(const struct cli *a, struct cli_common *c);

/* ---- Ctrl-C ---- */

enum { CLI_EXIT_INTERRUPTED = 130 }; /* 128 + SIGINT, as shells report it */

/* Set by the first SIGINT (Ctrl-C) or SIGTERM once cli_catch_interrupts() ran: the command
 * finishes the step in progress, writes what it has (marked partial) and exits 130. A
 * second signal exits at once with 130. */
extern volatile sig_atomic_t cli_stop;
void cli_catch_interrupts(void);

/* ---- opening ---- */

/* Loads c->model; 2 with a usage error when -m was not given, 1 with the error printed. */
int cli_load_model(const struct cli *a, const struct cli_common *c, struct model **m);
/* The context: -c when given, else the model's trained context at most 4096. */
int32_t cli_ctx_default(const struct cli_common *c, const struct model *m);
/* Opens the backend c->device names (auto: a GPU, else the CPU with a notice on stderr)
 * with n_seq caches (sequences, for forward_batch; 1 for one) of n_ctx positions each, at
 * c's precision. 0, or 1 with the error printed. */
int cli_open_backend(const struct cli *a, const struct cli_common *c, const struct model *m,
                     int32_t n_ctx, int32_t n_seq, struct backend **b);
/* Sets c's precision on b (a backend without the fast path stays exact, with a notice on
 * stderr); what runs is b->precision, which outputs record. */
void cli_apply_precision(const struct cli *a, const struct cli_common *c, struct backend *b);
/* Whether the backend runs on a GPU (not the CPU backend, not a CPU Vulkan device). */
bool cli_backend_is_gpu(const struct backend *b);
/* The energy meter for work on b with c's threads and --tdp; NULL when out of memory. */
struct meter *cli_meter_open(const struct cli_common *c, const struct backend *b);

#endif
