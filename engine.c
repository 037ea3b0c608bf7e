/* joule — command line. Parses arguments and wires the modules together; holds
 * no algorithm of its own. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "cli_bench.h"
#include "cli_chat.h"
#include "cli_eval.h"
#include "cli_util.h"
#include "cpu.h"
#include "device.h"
#include "fileio.h"
#include "gguf.h"
#include "meter.h"
#include "model.h"
#include "quant.h"
#include "sample.h"
#include "serve.h"
#include "tokenizer.h"
#include "vk.h"

#define JOULE_VERSION "0.1.0"

static const char *prog_cmd = "joule";

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see '%s --help')\n", prog_cmd);
    va_end(ap);
    return 2;
}

static int error_exit(const char *msg)
{
    fprintf(stderr, "%s: %s\n", prog_cmd, msg);
    return 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- argument helpers ---- */

struct args {
    int argc, i;
    char **argv;
};

/* Returns the value of the flag at argv[i] (and advances), or NULL after printing an error. */
static const char *flag_value(struct args *a)
{
    if (a->i + 1 >= a->argc) {
        usage_error("option '%s' needs a value", a->argv[a->i]);
        return NULL;
    }
    return a->argv[++a->i];
}

static bool parse_int(const char *flag, const char *s, long lo, long hi, long *out)
{
    if (cli_parse_long(s, lo, hi, out)) return true;
    usage_error("bad value '%s' for %s (an integer from %ld to %ld)", s, flag, lo, hi);
    return false;
}

static bool parse_float(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        usage_error("bad value '%s' for %s (a number from %g to %g)", s, flag, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

static bool is_help(const char *s)
{
    return !strcmp(s, "-h") || !strcmp(s, "--help");
}

/* ---- common: model + backend ---- */

struct common {
    const char *model;
    const char *device; /* auto, cpu, vulkan, vulkan:N */
    long threads;
    long ctx;
};

/* 1 = consumed, 0 = not a common flag, -1 = error */
static int common_flag(struct args *a, struct common *c, bool wants_device)
{
    const char *f = a->argv[a->i], *v;
    long n;
    if (!strcmp(f, "-m") || !strcmp(f, "--model")) {
        if (!(v = flag_value(a))) return -1;
        c->model = v;
        return 1;
    }
    if (wants_device && !strcmp(f, "--device")) {
        if (!(v = flag_value(a))) return -1;
        if (!device_spec_valid(v)) {
            usage_error("bad value '%s' for --device (auto, cpu, vulkan or vulkan:N)", v);
            return -1;
        }
        c->device = v;
        return 1;
    }
    if (wants_device && (!strcmp(f, "-t") || !strcmp(f, "--threads"))) {
        if (!(v = flag_value(a)) || !parse_int(f, v, 1, 1024, &n)) return -1;
        c->threads = n;
        return 1;
    }
    if (wants_device && (!strcmp(f, "-c") || !strcmp(f, "--ctx"))) {
        if (!(v = flag_value(a)) || !parse_int(f, v, 1, 1 << 20, &n)) return -1;
        c->ctx = n;
        return 1;
    }
    return 0;
}

static int load_model(const struct common *c, struct model **m)
{
    if (!c->model) return usage_error("missing -m MODEL");
    char err[512];
    if (model_load(c->model, m, err, sizeof err) != 0) return error_exit(err);
    return 0;
}

/* Opens the backend the user asked for; "auto" prefers a GPU and falls back to the CPU. */
static int open_backend(const struct common *c, const struct model *m, int32_t n_ctx,
                        struct backend **out)
{
    char err[512], notice[600];
    if (device_open(c->device, m, n_ctx, (int32_t)c->threads, out, notice, sizeof notice, err,
                    sizeof err) != 0)
        return error_exit(err);
    if (notice[0]) fprintf(stderr, "joule: %s\n", notice);
    return 0;
}

static int32_t context_size(const struct common *c, const struct model *m, int32_t need)
{
    int32_t n = c->ctx ? (int32_t)c->ctx : m->cfg.n_ctx_train;
    if (!c->ctx && n > 4096) n = 4096; /* keep the default KV cache modest */
    if (n < need) n = need;
    return n;
}

/* ---- info ---- */

static const char *info_help =
    "usage: joule info -m MODEL\n"
    "Shows the architecture, dimensions, context, vocabulary, tensor type mix, parameter count\n"
    "and file size of a GGUF model.\n"
    "  -m, --model FILE   the GGUF file\n";

static int cmd_info(struct args *a)
{
    struct common c = {0};
    for (a->i = 2; a->i < a->argc; a->i++) {
        if (is_help(a->argv[a->i])) return printf("%s", info_help), 0;
        int r = common_flag(a, &c, false);
        if (r < 0) return 2;
        if (r == 0) return usage_error("unknown option '%s'", a->argv[a->i]);
    }
    struct model *m;
    int rc = load_model(&c, &m);
    if (rc) return rc;
    const struct model_config *k = &m->cfg;
    const struct gguf_file *f = m->gguf;
    printf("file          %s\n", f->path);
    printf("file size     %" PRIu64 " bytes (%.2f MiB), GGUF v%u, %" PRIu64 " tensors, %" PRIu64
           " metadata keys\n",
           f->file_size, (double)f->file_size / (1 << 20), f->version, f->n_tensors, f->n_kv);
    printf("name          %s\n", k->name[0] ? k->name : "(none)");
    printf("architecture  %s\n", k->arch_name);
    printf("parameters    %" PRIu64 " (%.3f B)\n", m->n_params, (double)m->n_params / 1e9);
    printf("layers        %d\n", k->n_layer);
    printf("embedding     %d\n", k->n_embd);
    printf("heads         %d (kv %d, head dim %d)\n", k->n_head, k->n_head_kv, k->head_dim);
    printf("feed-forward  %d\n", k->n_ff);
    printf("context       %d (trained)\n", k->n_ctx_train);
    printf("rope          %s, base %g, %d dims, scaling %s",
           k->rope_type == ROPE_NEOX ? "neox" : "normal", (double)k->rope_base, k->rope_dim,
           k->rope_scaling);
    if (k->rope_freq_scale != 1.0f) printf(" (factor %g)", 1.0 / k->rope_freq_scale);
    printf("\n");
    if (k->sliding_window) printf("sliding window %d\n", k->sliding_window);
    printf("rms eps       %g\n", (double)k->rms_eps);
    if (m->tok)
        printf("vocabulary    %d tokens (%s tokenizer), bos %d, eos %d, add bos %s\n", k->n_vocab,
               tokenizer_model_name(m->tok), tokenizer_bos(m->tok), tokenizer_eos(m->tok),
               tokenizer_add_bos(m->tok) ? "yes" : "no");
    else
        printf("vocabulary    %d tokens (not usable: %s)\n", k->n_vocab, m->tok_err);
    printf("output        %s\n", m->tied_output ? "tied to token_embd" : "output.weight");
    /* type mix */
    uint64_t count[Q_TYPE_LIMIT] = {0}, bytes[Q_TYPE_LIMIT] = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint32_t t = f->tensors[i].type;
        if (t < Q_TYPE_LIMIT) {
            count[t]++;
            bytes[t] += f->tensors[i].nbytes;
        }
    }
    printf("tensor types ");
    for (uint32_t t = 0; t < Q_TYPE_LIMIT; t++)
        if (count[t])
            printf(" %s: %" PRIu64 " (%.2f MiB)", quant_name(t), count[t],
                   (double)bytes[t] / (1 << 20));
    printf("\ntensors:\n");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        printf("  %-28s %-5s [%" PRId64, t->name, quant_name(t->type), t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims; d++)
            printf(", %" PRId64, t->ne[d]);
        printf("]\n");
    }
    model_free(m);
    return 0;
}

/* ---- tokenize ---- */

static const char *tokenize_help =
    "usage: joule tokenize -m MODEL (--text S | --file F) [--no-bos] [--special]\n"
    "Prints the token ids of a text, space separated, on one line.\n"
    "  -m, --model FILE   the GGUF file (its vocabulary is used)\n"
    "  --text S           the text\n"
    "  --file F           read the text from a file (bytes as they are)\n"
    "  --no-bos           do not add the BOS token (added by default when the model asks)\n"
    "  --special          parse special/control tokens written in the text (e.g. <s>)\n";

static int cmd_tokenize(struct args *a)
{
    struct common c = {0};
    const char *text = NULL, *file = NULL;
    bool no_bos = false, special = false;
    for (a->i = 2; a->i < a->argc; a->i++) {
        const char *f = a->argv[a->i];
        if (is_help(f)) return printf("%s", tokenize_help), 0;
        int r = common_flag(a, &c, false);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(f, "--text")) {
            if (!(text = flag_value(a))) return 2;
        } else if (!strcmp(f, "--file")) {
            if (!(file = flag_value(a))) return 2;
        } else if (!strcmp(f, "--no-bos"))
            no_bos = true;
        else if (!strcmp(f, "--special"))
            special = true;
        else
            return usage_error("unknown option '%s'", f);
    }
    if (!text == !file) return usage_error("give exactly one of --text or --file");
    char err[512];
    size_t len = 0;
    char *buf = NULL;
    if (file && !(buf = file_read_all(file, &len, err, sizeof err))) return error_exit(err);
    struct gguf_file *g;
    if (!c.model) {
        free(buf);
        return usage_error("missing -m MODEL");
    }
    /* only the vocabulary is needed: vocab-only files work too */
    if (gguf_open(c.model, &g, err, sizeof err) != 0) {
        free(buf);
        return error_exit(err);
    }
    struct tokenizer *t;
    if (tokenizer_load(g, &t, err, sizeof err) != 0) {
        free(buf);
        gguf_close(g);
        return error_exit(err);
    }
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = tokenizer_encode(t, text ? text : buf, text ? strlen(text) : len,
                              !no_bos && tokenizer_add_bos(t), special, &ids, &n, err, sizeof err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    free(ids);
    free(buf);
    tokenizer_free(t);
    gguf_close(g);
    return rc ? error_exit(err) : 0;
}

/* ---- logits ---- */

static const char *logits_help =
    "usage: joule logits -m MODEL --tokens \"ID ID ...\" -o OUT.f32 [--device D] [-t N]\n"
    "Runs the tokens as one batch from an empty cache and writes the logits of every position\n"
    "as raw little-endian float32, n_tokens x n_vocab, row-major.\n"
    "  -m, --model FILE   the GGUF file\n"
    "  --tokens IDS       token ids separated by spaces or commas\n"
    "  -o, --output FILE  where to write the logits\n"
    "  --device D         auto (default: a GPU if present, else the CPU), cpu, vulkan, vulkan:N\n"
    "  -t, --threads N    CPU threads (default: all cores)\n";

static int parse_tokens(const char *s, int32_t **out, size_t *n)
{
    size_t cap = 16, k = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return error_exit("out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            free(ids);
            return usage_error("bad token id near '%.20s' in --tokens", p);
        }
        if (k == cap) {
            int32_t *nb = realloc(ids, 2 * cap * sizeof *ids);
            if (!nb) {
                free(ids);
                return error_exit("out of memory");
            }
            ids = nb;
            cap *= 2;
        }
        ids[k++] = (int32_t)v;
        p = end;
    }
    if (k == 0) {
        free(ids);
        return usage_error("--tokens is empty");
    }
    *out = ids;
    *n = k;
    return 0;
}

static int cmd_logits(struct args *a)
{
    struct common c = {0};
    const char *tokens = NULL, *outp = NULL;
    for (a->i = 2; a->i < a->argc; a->i++) {
        const char *f = a->argv[a->i];
        if (is_help(f)) return printf("%s", logits_help), 0;
        int r = common_flag(a, &c, true);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(f, "--tokens")) {
            if (!(tokens = flag_value(a))) return 2;
        } else if (!strcmp(f, "-o") || !strcmp(f, "--output")) {
            if (!(outp = flag_value(a))) return 2;
        } else
            return usage_error("unknown option '%s'", f);
    }
    if (!tokens) return usage_error("missing --tokens");
    if (!outp) return usage_error("missing -o OUT.f32");
    if (!c.model) return usage_error("missing -m MODEL");
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = parse_tokens(tokens, &ids, &n);
    if (rc) return rc;
    struct model *m = NULL;
    struct backend *b = NULL;
    float *logits = NULL;
    char err[512];
    if ((rc = load_model(&c, &m))) goto done;
    if (n > (size_t)(1 << 20)) {
        rc = usage_error("too many tokens");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= m->cfg.n_vocab) {
            snprintf(err, sizeof err, "token id %d is out of range: %s has %d tokens", ids[i],
                     c.model, m->cfg.n_vocab);
            rc = error_exit(err);
            goto done;
        }
    if ((rc = open_backend(&c, m, context_size(&c, m, (int32_t)n), &b))) goto done;
    logits = malloc(sizeof(float) * n * (size_t)m->cfg.n_vocab);
    if (!logits) {
        rc = error_exit("out of memory for the logits");
        goto done;
    }
    if (backend_forward(b, ids, (int32_t)n, 0, true, logits, err, sizeof err) != 0) {
        rc = error_exit(err);
        goto done;
    }
    FILE *f = fopen(outp, "wb");
    if (!f) {
        snprintf(err, sizeof err, "%s: %s", outp, strerror(errno));
        rc = error_exit(err);
        goto done;
    }
    size_t count = n * (size_t)m->cfg.n_vocab;
    bool ok = fwrite(logits, sizeof(float), count, f) == count; /* x86/arm: little-endian */
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        snprintf(err, sizeof err, "%s: write failed", outp);
        rc = error_exit(err);
    }
done:
    free(logits);
    free(ids);
    backend_destroy(b);
    model_free(m);
    return rc;
}

/* ---- run ---- */

static const char *run_help =
    "usage: joule run -m MODEL -p PROMPT [options]\n"
    "Generates text from a prompt, streaming it to stdout, then prints one line of statistics\n"
    "(prompt and generation tokens/s) to stderr.\n"
    "  -m, --model FILE        the GGUF file\n"
    "  -p, --prompt S          the prompt\n"
    "  -f, --prompt-file F     read the prompt from a file\n"
    "  -n, --n-predict N       tokens to generate (default 128)\n"
    "  --temp T                temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K               keep the K most likely tokens (default 40; 0 = off)\n"
    "  --top-p P               nucleus sampling (default 0.95; 1 = off)\n"
    "  --min-p M               drop tokens below M x the best probability (default 0.05; 0 = off)\n"
    "  --repeat-penalty R      penalize the last 64 tokens (default 1.0 = off)\n"
    "  --repeat-last-n N       window of the repetition penalty (default 64)\n"
    "  --seed S                random seed (default fixed: runs are repeatable)\n"
    "  --ignore-eos            keep generating after an end-of-generation token\n"
    "  --no-warmup             skip the warm-up (a 3- and a 1-token step before the prompt, so\n"
    "                          that shader compilation and first page faults are not timed)\n"
    "  --chat                  wrap the prompt as a user message in the model's chat template\n"
    "  --chat-template NAME    the same with a named template (llama2, llama3, chatml, ...)\n"
    "  --device D              auto (default: a GPU if present, else the CPU), cpu, vulkan, "
    "vulkan:N\n"
    "  -t, --threads N         CPU threads (default: all cores)\n"
    "  -c, --ctx N             context size (default: the model's, at most 4096)\n";

static int cmd_run(struct args *a)
{
    struct common c = {0};
    const char *prompt = NULL, *pfile = NULL;
    long n_predict = 128, v;
    double d;
    bool ignore_eos = false, chat = false, warmup = true;
    const char *chat_tmpl = NULL;
    struct sample_params sp;
    sample_defaults(&sp);
    for (a->i = 2; a->i < a->argc; a->i++) {
        const char *f = a->argv[a->i], *s;
        if (is_help(f)) return printf("%s", run_help), 0;
        int r = common_flag(a, &c, true);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(f, "-p") || !strcmp(f, "--prompt")) {
            if (!(prompt = flag_value(a))) return 2;
        } else if (!strcmp(f, "-f") || !strcmp(f, "--prompt-file")) {
            if (!(pfile = flag_value(a))) return 2;
        } else if (!strcmp(f, "-n") || !strcmp(f, "--n-predict")) {
            if (!(s = flag_value(a)) || !parse_int(f, s, 0, 1 << 20, &n_predict)) return 2;
        } else if (!strcmp(f, "--temp")) {
            if (!(s = flag_value(a)) || !parse_float(f, s, 0, 100, &d)) return 2;
            sp.temp = (float)d;
        } else if (!strcmp(f, "--top-k")) {
            if (!(s = flag_value(a)) || !parse_int(f, s, 0, INT32_MAX, &v)) return 2;
            sp.top_k = (int32_t)v;
        } else if (!strcmp(f, "--top-p")) {
            if (!(s = flag_value(a)) || !parse_float(f, s, 0, 1, &d)) return 2;
            sp.top_p = (float)d;
        } else if (!strcmp(f, "--min-p")) {
            if (!(s = flag_value(a)) || !parse_float(f, s, 0, 1, &d)) return 2;
            sp.min_p = (float)d;
        } else if (!strcmp(f, "--repeat-penalty")) {
            if (!(s = flag_value(a)) || !parse_float(f, s, 0.01, 100, &d)) return 2;
            sp.repeat_penalty = (float)d;
        } else if (!strcmp(f, "--repeat-last-n")) {
            if (!(s = flag_value(a)) || !parse_int(f, s, 0, 1 << 20, &v)) return 2;
            sp.repeat_last_n = (int32_t)v;
        } else if (!strcmp(f, "--seed")) {
            if (!(s = flag_value(a))) return 2;
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(s, &end, 10);
            if (errno || end == s || *end || *s == '-')
                return usage_error("bad value '%s' for --seed (a non-negative integer)", s);
            sp.seed = seed;
        } else if (!strcmp(f, "--ignore-eos")) {
            ignore_eos = true;
        } else if (!strcmp(f, "--no-warmup")) {
            warmup = false;
        } else if (!strcmp(f, "--chat")) {
            chat = true;
        } else if (!strcmp(f, "--chat-template")) {
            if (!(chat_tmpl = flag_value(a))) return 2;
            chat = true;
        } else
            return usage_error("unknown option '%s'", f);
    }
    if (!prompt == !pfile) return usage_error("give exactly one of -p PROMPT or -f FILE");
    if (!c.model) return usage_error("missing -m MODEL");
    char err[512];
    size_t plen = 0;
    char *pbuf = NULL;
    if (pfile && !(pbuf = file_read_all(pfile, &plen, err, sizeof err))) return error_exit(err);
    if (prompt) plen = strlen(prompt);
    struct model *m = NULL;
    struct backend *b = NULL;
    struct sampler *smp = NULL;
    struct meter *meter = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    size_t n_prompt = 0;
    int rc = load_model(&c, &m);
    if (rc) goto done;
    if (!m->tok) {
        rc = error_exit(m->tok_err);
        goto done;
    }
    if (chat ? cli_chat_prompt(m->tok, chat_tmpl, prompt ? prompt : pbuf, plen, &ids, &n_prompt,
                               err, sizeof err) != 0
             : tokenizer_encode(m->tok, prompt ? prompt : pbuf, plen, tokenizer_add_bos(m->tok),
                                false, &ids, &n_prompt, err, sizeof err) != 0) {
        rc = error_exit(err);
        goto done;
    }
    if (n_prompt == 0) {
        rc = error_exit("the prompt is empty (no tokens)");
        goto done;
    }
    int32_t n_ctx = context_size(&c, m, (int32_t)(n_prompt + (size_t)n_predict));
    if ((size_t)n_ctx < n_prompt + (size_t)n_predict) {
        snprintf(err, sizeof err, "the prompt (%zu tokens) and -n %ld exceed the context (%d)",
                 n_prompt, n_predict, n_ctx);
        rc = error_exit(err);
        goto done;
    }
    if ((rc = open_backend(&c, m, n_ctx, &b))) goto done;
    fprintf(stderr, "joule: %s on %s (%s)\n", c.model, b->name, b->device);
    if (warmup && device_warmup(b, err, sizeof err) != 0) {
        rc = error_exit(err);
        goto done;
    }
    smp = sampler_new(&sp, m->cfg.n_vocab);
    logits = malloc(sizeof(float) * (size_t)m->cfg.n_vocab);
    if (!smp || !logits) {
        rc = error_exit("out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_prompt; i++)
        sampler_accept(smp, ids[i]);
    struct meter_opts mo = {.gpu = strcmp(b->name, "cpu") != 0 && !strstr(b->device, "CPU"),
                            .device_name = b->device,
                            .pci_bus_id = b->pci_bus_id[0] ? b->pci_bus_id : NULL,
                            .cpu_threads = c.threads ? (int32_t)c.threads : cpu_default_threads()};
    meter = meter_open(&mo);
    struct meter_window win = {0};
    if (meter) meter_window_begin(meter, &win);
    double t0 = now_s();
    if (backend_forward(b, ids, (int32_t)n_prompt, 0, false, logits, err, sizeof err) != 0) {
        rc = error_exit(err);
        goto done;
    }
    double t1 = now_s();
    struct detok dt;
    detok_init(&dt, m->tok, false);
    char out[256];
    long n_gen = 0;
    int32_t pos = (int32_t)n_prompt;
    for (; n_gen < n_predict; n_gen++) {
        int32_t id = sampler_sample(smp, logits);
        if (!ignore_eos && tokenizer_is_eog(m->tok, id)) break;
        sampler_accept(smp, id);
        size_t k = detok_push(&dt, id, out, sizeof out);
        fwrite(out, 1, k, stdout);
        fflush(stdout);
        if (n_gen + 1 == n_predict) {
            n_gen++;
            break;
        }
        if (backend_forward(b, &id, 1, pos++, false, logits, err, sizeof err) != 0) {
            rc = error_exit(err);
            goto done;
        }
    }
    size_t k = detok_flush(&dt, out, sizeof out);
    fwrite(out, 1, k, stdout);
    printf("\n");
    double t2 = now_s();
    fprintf(stderr,
            "joule: prompt %zu tokens in %.3f s (%.2f tok/s), generation %ld tokens in %.3f s "
            "(%.2f tok/s), device %s\n",
            n_prompt, t1 - t0, (double)n_prompt / (t1 - t0), n_gen, t2 - t1,
            n_gen > 0 ? (double)n_gen / (t2 - t1) : 0.0, b->name);
    if (meter) {
        meter_window_end(meter, &win);
        struct meter_reading r;
        meter_read(meter, &win, &r);
        double tokens = (double)n_prompt + (double)n_gen;
        if (r.src == METER_NONE)
            fprintf(stderr, "joule: energy n/a (%s)\n", r.why);
        else
            fprintf(stderr, "joule: energy %.2f J (%s%s, %s), %.4f J/token; %s\n", r.joules,
                    meter_source_name(r.src), r.short_window ? ", short window" : "",
                    meter_scope(meter), r.joules / tokens, meter_method(meter));
    }
done:
    meter_close(meter);
    free(ids);
    free(pbuf);
    free(logits);
    sampler_free(smp);
    backend_destroy(b);
    model_free(m);
    return rc;
}

/* ---- devices ---- */

static const char *devices_help =
    "usage: joule devices\n"
    "Lists the Vulkan devices (name, vendor, driver, type, memory heaps, subgroup sizes,\n"
    "fp16 / int8-dot / cooperative-matrix support, storage buffer range, energy sensors)\n"
    "and the CPU backend.\n";

static int cmd_devices(struct args *a)
{
    for (a->i = 2; a->i < a->argc; a->i++) {
        if (is_help(a->argv[a->i])) return printf("%s", devices_help), 0;
        return usage_error("unknown option '%s'", a->argv[a->i]);
    }
    char err[512];
    int rc = vk_print_devices(stdout, err, sizeof err);
    if (rc != VK_OK) printf("vulkan: none (%s)\n", err);
    printf("cpu: %d threads\n", cpu_default_threads());
    meter_print_sensors(stdout, NULL);
    return 0;
}

/* ---- main ---- */

static const char *main_help =
    "joule " JOULE_VERSION " — run open LLMs (GGUF) on any GPU through Vulkan, and measure them\n"
    "\n"
    "usage: joule COMMAND [options]     (joule COMMAND --help for each command's options)\n"
    "\n"
    "commands:\n"
    "  bench      speed (pp/tg tokens/s), energy and cost per token; no model: a synthetic one\n"
    "  run        generate text from a prompt\n"
    "  chat       chat with an instruct model (its chat template; interactive or scripted)\n"
    "  logits     write the logits of a token sequence as raw float32\n"
    "  tokenize   print the token ids of a text\n"
    "  info       describe a GGUF model\n"
    "  devices    list the Vulkan devices and the CPU\n"
    "  eval       score a model on quality suites (MMLU, HellaSwag, ...) as lm-eval does\n"
    "  serve      an OpenAI-compatible HTTP server (batched requests, energy per request)\n"
    "\n"
    "examples:\n"
    "  joule bench                        (a synthetic model; -m model.gguf for a real one)\n"
    "  joule info -m model.gguf\n"
    "  joule run -m model.gguf -p \"Once upon a time\" -n 64\n"
    "  joule tokenize -m model.gguf --text \"Hello world\"\n";

int main(int argc, char **argv)
{
    struct args a = {argc, 1, argv};
    if (argc < 2) {
        fprintf(stderr, "%s", main_help);
        return 2;
    }
    const char *cmd = argv[1];
    if (is_help(cmd)) return printf("%s", main_help), 0;
    if (!strcmp(cmd, "--version")) return printf("joule %s\n", JOULE_VERSION), 0;
    static char cmdname[64];
    snprintf(cmdname, sizeof cmdname, "joule %s", cmd);
    prog_cmd = cmdname;
    if (!strcmp(cmd, "info")) return cmd_info(&a);
    if (!strcmp(cmd, "tokenize")) return cmd_tokenize(&a);
    if (!strcmp(cmd, "logits")) return cmd_logits(&a);
    if (!strcmp(cmd, "run")) return cmd_run(&a);
    if (!strcmp(cmd, "devices")) return cmd_devices(&a);
    if (!strcmp(cmd, "bench")) return cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "chat")) return cli_chat(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cli_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return serve_main(argc - 1, argv + 1);
    prog_cmd = "joule";
    return usage_error("unknown command '%s'", cmd);
}
