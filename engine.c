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
#include "chat.h"
#include "cli_bench.h"
#include "cli_chat.h"
#include "cli_eval.h"
#include "cli_report.h"
#include "cli_sweep.h"
#include "cli_util.h"
#include "cpu.h"
#include "device.h"
#include "fileio.h"
#include "generate.h"
#include "gguf.h"
#include "meter.h"
#include "model.h"
#include "quant.h"
#include "sample.h"
#include "serve.h"
#include "synth_gguf.h"
#include "tokenizer.h"
#include "util.h"
#include "vk.h"

#define JOULE_VERSION "0.1.0"

/* ---- info ---- */

static const char *info_help =
    "usage: joule info -m MODEL\n"
    "Shows the architecture, dimensions, context, vocabulary, tensor type mix, parameter count\n"
    "and file size of a GGUF model. A file joule cannot run (an unknown architecture, a missing\n"
    "tensor, tensor data cut short) is described from its header (metadata and tensors), with a\n"
    "line 'runnable      no: WHY'; the exit status is then 0 too.\n"
    "  -m, --model FILE   the GGUF file\n";

static void info_file(const struct gguf_file *f)
{
    printf("file          %s\n", f->path);
    printf("file size     %" PRIu64 " bytes (%.2f MiB), GGUF v%u, %" PRIu64 " tensors, %" PRIu64
           " metadata keys\n",
           f->file_size, (double)f->file_size / (1 << 20), f->version, f->n_tensors, f->n_kv);
}

static void info_tensors(const struct gguf_file *f)
{
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
        printf("]%s\n", t->data ? "" : "  (data missing: past the end of the file)");
    }
}

/* Text from a file for the terminal: printable ASCII (others as '?'), cut at 60 bytes. */
static void info_text(const char *p, uint64_t len)
{
    for (uint64_t i = 0; i < len && i < 60; i++)
        putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?');
    if (len > 60) printf("...");
}

static void info_value(const struct gguf_value *v)
{
    switch (v->type) {
    case GGUF_U8:
    case GGUF_U16:
    case GGUF_U32:
    case GGUF_U64: printf("%" PRIu64, v->v.u); break;
    case GGUF_I8:
    case GGUF_I16:
    case GGUF_I32:
    case GGUF_I64: printf("%" PRId64, v->v.i); break;
    case GGUF_F32:
    case GGUF_F64: printf("%g", v->v.f); break;
    case GGUF_BOOL: printf("%s", v->v.u ? "true" : "false"); break;
    case GGUF_STRING: info_text(v->v.s.ptr, v->v.s.len); break;
    case GGUF_ARRAY: printf("[%" PRIu64 " %s]", v->v.arr.n, gguf_vtype_name(v->v.arr.elem)); break;
    default: printf("(%s)", gguf_vtype_name(v->type));
    }
}

/* A file joule cannot run (an architecture it does not know, a missing tensor, tensor data cut
 * short ...) is still described from its GGUF header: its metadata and tensors, with the reason
 * it cannot run. A file whose header itself cannot be read is refused with the reason. */
static int info_unrunnable(const struct cli *a, const char *path, const char *why)
{
    struct gguf_file *f;
    char err[512], damage[512];
    if (gguf_open_damaged(path, &f, damage, sizeof damage, err, sizeof err) != 0)
        return cli_fail(a, "%s", err);
    char *name = gguf_get_str(f, "general.name"), *arch = gguf_get_str(f, "general.architecture");
    info_file(f);
    printf("name          %s\n", name ? name : "(none)");
    printf("architecture  %s\n", arch ? arch : "(none)");
    printf("runnable      no: %s\n", damage[0] ? damage : why);
    printf("metadata:\n");
    for (uint64_t i = 0; i < f->n_kv; i++) {
        printf("  ");
        info_text(f->kv[i].key.ptr, f->kv[i].key.len);
        printf(" = ");
        info_value(&f->kv[i].val);
        printf("\n");
    }
    info_tensors(f);
    free(name);
    free(arch);
    gguf_close(f);
    return 0;
}

static int cmd_info(int argc, char **argv)
{
    struct cli cli, *a = &cli;
    cli_init(a, "joule info", argc, argv);
    struct cli_common c;
    cli_common_init(&c, CLI_MODEL);
    while (cli_next(a)) {
        if (cli_is_help(a)) return printf("%s", info_help), 0;
        int r = cli_common_flag(a, &c);
        if (r < 0) return 2;
        if (r == 0) return cli_unknown(a);
    }
    if (!c.model) return cli_usage(a, "missing -m MODEL");
    struct model *m;
    char err[512];
    if (model_load(c.model, &m, err, sizeof err) != 0) return info_unrunnable(a, c.model, err);
    const struct model_config *k = &m->cfg;
    info_file(m->gguf);
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
    info_tensors(m->gguf);
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

static int cmd_tokenize(int argc, char **argv)
{
    struct cli cli, *a = &cli;
    cli_init(a, "joule tokenize", argc, argv);
    struct cli_common c;
    cli_common_init(&c, CLI_MODEL);
    const char *text = NULL, *file = NULL;
    bool no_bos = false, special = false;
    while (cli_next(a)) {
        if (cli_is_help(a)) return printf("%s", tokenize_help), 0;
        int r = cli_common_flag(a, &c);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is(a, NULL, "--text")) {
            if (!cli_str(a, &text)) return 2;
        } else if (cli_is(a, "-f", "--file")) {
            if (!cli_str(a, &file)) return 2;
        } else if (cli_is(a, NULL, "--no-bos"))
            no_bos = true;
        else if (cli_is(a, NULL, "--special"))
            special = true;
        else
            return cli_unknown(a);
    }
    if (!text == !file) return cli_usage(a, "give exactly one of --text or --file");
    if (!c.model) return cli_usage(a, "missing -m MODEL");
    char err[512];
    size_t len = 0;
    char *buf = NULL;
    if (file && !(buf = file_read_all(file, &len, err, sizeof err))) return cli_fail(a, "%s", err);
    struct gguf_file *g;
    /* only the vocabulary is needed: vocab-only files work too */
    if (gguf_open(c.model, &g, err, sizeof err) != 0) {
        free(buf);
        return cli_fail(a, "%s", err);
    }
    struct tokenizer *t;
    if (tokenizer_load(g, &t, err, sizeof err) != 0) {
        free(buf);
        gguf_close(g);
        return cli_fail(a, "%s", err);
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
    return rc ? cli_fail(a, "%s", err) : 0;
}

/* ---- logits ---- */

static const char *logits_help =
    "usage: joule logits -m MODEL --tokens \"ID ID ...\" -o OUT.f32 [--batch N] [--device D]\n"
    "                    [-t N]\n"
    "Runs the tokens from an empty cache, as one batch or N at a time, and writes the logits of\n"
    "every position as raw little-endian float32, n_tokens x n_vocab, row-major.\n"
    "  -m, --model FILE   the GGUF file\n"
    "  --tokens IDS       token ids separated by spaces or commas\n"
    "  -o, --output FILE  where to write the logits\n"
    "  -b, --batch N      run the tokens N at a time, each batch after the previous ones with\n"
    "                     the KV cache carried along (1: one decode step per token); default:\n"
    "                     all of them in one batch (prefill)\n"
    "  --device D         auto (default: a GPU if present, else the CPU), cpu, vulkan, vulkan:N\n"
    "  -t, --threads N    CPU threads (default: all cores)\n"
    "  --precision P      exact (float activations, the reference; default) or fast (8-bit\n"
    "                     activations, integer dot products; CPU backend)\n";

static int parse_tokens(const struct cli *a, const char *s, int32_t **out, size_t *n)
{
    size_t cap = 16, k = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return cli_fail(a, "out of memory");
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
            return cli_usage(a, "bad token id near '%.20s' in --tokens", p);
        }
        if (k == cap) {
            int32_t *nb = realloc(ids, 2 * cap * sizeof *ids);
            if (!nb) {
                free(ids);
                return cli_fail(a, "out of memory");
            }
            ids = nb;
            cap *= 2;
        }
        ids[k++] = (int32_t)v;
        p = end;
    }
    if (k == 0) {
        free(ids);
        return cli_usage(a, "--tokens is empty");
    }
    *out = ids;
    *n = k;
    return 0;
}

static int cmd_logits(int argc, char **argv)
{
    struct cli cli, *a = &cli;
    cli_init(a, "joule logits", argc, argv);
    struct cli_common c;
    cli_common_init(&c, CLI_MODEL | CLI_DEVICE | CLI_CTX);
    const char *tokens = NULL, *outp = NULL;
    long batch = 0; /* 0: all tokens in one batch */
    while (cli_next(a)) {
        if (cli_is_help(a)) return printf("%s", logits_help), 0;
        int r = cli_common_flag(a, &c);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is(a, NULL, "--tokens")) {
            if (!cli_str(a, &tokens)) return 2;
        } else if (cli_is(a, "-o", "--output")) {
            if (!cli_str(a, &outp)) return 2;
        } else if (cli_is(a, "-b", "--batch")) {
            if (!cli_long(a, 1, 1 << 20, &batch)) return 2;
        } else
            return cli_unknown(a);
    }
    if (!tokens) return cli_usage(a, "missing --tokens");
    if (!outp) return cli_usage(a, "missing -o OUT.f32");
    if (!c.model) return cli_usage(a, "missing -m MODEL");
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = parse_tokens(a, tokens, &ids, &n);
    if (rc) return rc;
    struct model *m = NULL;
    struct backend *b = NULL;
    float *logits = NULL;
    char err[512];
    if ((rc = cli_load_model(a, &c, &m))) goto done;
    if (n > (size_t)(1 << 20)) {
        rc = cli_usage(a, "too many tokens");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= m->cfg.n_vocab) {
            rc = cli_fail(a, "token id %d is out of range: %s has %d tokens", ids[i], c.model,
                          m->cfg.n_vocab);
            goto done;
        }
    int32_t n_ctx = cli_ctx_default(&c, m);
    if (c.ctx && (size_t)n_ctx < n) {
        rc = cli_fail(a, "the %zu tokens exceed the context (-c %d)", n, n_ctx);
        goto done;
    }
    if (n_ctx < (int32_t)n) n_ctx = (int32_t)n;
    if ((rc = cli_open_backend(a, &c, m, n_ctx, 1, &b))) goto done;
    logits = malloc(sizeof(float) * n * (size_t)m->cfg.n_vocab);
    if (!logits) {
        rc = cli_fail(a, "out of memory for the logits");
        goto done;
    }
    /* N at a time: batch k starts at position k*N, after the previous ones in the cache */
    size_t step = batch > 0 && (size_t)batch < n ? (size_t)batch : n;
    for (size_t done = 0; done < n; done += step) {
        size_t k = n - done < step ? n - done : step;
        if (backend_forward(b, ids + done, (int32_t)k, (int32_t)done, true,
                            logits + done * (size_t)m->cfg.n_vocab, err, sizeof err) != 0) {
            rc = cli_fail(a, "%s", err);
            goto done;
        }
    }
    /* x86/arm: little-endian */
    if (file_write_all(outp, logits, sizeof(float) * n * (size_t)m->cfg.n_vocab, err, sizeof err) !=
        0)
        rc = cli_fail(a, "%s", err);
done:
    free(logits);
    free(ids);
    backend_destroy(b);
    model_free(m);
    return rc;
}

/* ---- run ---- */

static const char *run_help =
    "usage: joule run -m MODEL (-p PROMPT | -f FILE) [options]\n"
    "Generates text from a prompt, streaming it to stdout, then prints one line of statistics\n"
    "(prompt and generation tokens/s) to stderr.\n"
    "  -m, --model FILE         the GGUF file\n"
    "  -p, --prompt S           the prompt\n"
    "  -f, --file F             read the prompt from a file ('-': standard input); also\n"
    "                           --prompt-file\n"
    "  -n, --n-predict N        tokens to generate (default 128; -1 = until an end-of-generation\n"
    "                           token or the context is full)\n"
    "  --ignore-eos             keep generating after an end-of-generation token\n"
    "  --no-warmup              skip the warm-up (a 3- and a 1-token step before the prompt, so\n"
    "                           that shader compilation and first page faults are not timed)\n"
    "  --chat                   wrap the prompt as a user message in the model's chat template\n"
    "  --chat-template NAME     the same with a named template (llama2, llama3, chatml, ...)\n"
    "Ctrl-C stops the generation: the text so far, the statistics, exit status 130.\n";

static void print_energy(const struct cli *a, struct meter *meter, struct meter_window *win,
                         double tokens)
{
    meter_window_end(meter, win);
    struct meter_reading r;
    meter_read(meter, win, &r);
    if (r.src == METER_NONE)
        fprintf(stderr, "%s: energy n/a (%s)\n", a->cmd, r.why);
    else
        fprintf(stderr, "%s: energy %.2f J (%s%s, %s), %.4f J/token; %s\n", a->cmd, r.joules,
                meter_source_name(r.src), r.short_window ? ", short window" : "",
                meter_scope(meter), r.joules / tokens, meter_method(meter));
}

static int cmd_run(int argc, char **argv)
{
    struct cli cli, *a = &cli;
    cli_init(a, "joule run", argc, argv);
    struct cli_common c;
    cli_common_init(&c, CLI_MODEL | CLI_DEVICE | CLI_CTX | CLI_SAMPLING | CLI_SEED | CLI_TDP);
    const char *prompt = NULL, *pfile = NULL;
    long n_predict = 128;
    bool ignore_eos = false, chat = false, warmup = true;
    const char *chat_tmpl = NULL;
    while (cli_next(a)) {
        if (cli_is_help(a))
            return printf("%s%s%s%s%s", run_help, cli_help_sampling, cli_help_device, cli_help_ctx,
                          cli_help_tdp),
                   0;
        int r = cli_common_flag(a, &c);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is(a, "-p", "--prompt")) {
            if (!cli_str(a, &prompt)) return 2;
        } else if (cli_is(a, "-f", "--file") || cli_is(a, NULL, "--prompt-file")) {
            if (!cli_str(a, &pfile)) return 2;
        } else if (cli_is(a, "-n", "--n-predict")) {
            if (!cli_long(a, -1, 1 << 20, &n_predict)) return 2;
        } else if (cli_is(a, NULL, "--ignore-eos")) {
            ignore_eos = true;
        } else if (cli_is(a, NULL, "--no-warmup")) {
            warmup = false;
        } else if (cli_is(a, NULL, "--chat")) {
            chat = true;
        } else if (cli_is(a, NULL, "--chat-template")) {
            if (!cli_str(a, &chat_tmpl)) return 2;
            if (chat_tmpl_from_name(chat_tmpl) < 0)
                return cli_usage(a, "unknown chat template '%s' (known: %s)", chat_tmpl,
                                 chat_tmpl_list());
            chat = true;
        } else
            return cli_unknown(a);
    }
    int rc = cli_common_finish(a, &c);
    if (rc) return rc;
    if (!prompt == !pfile) return cli_usage(a, "give exactly one of -p PROMPT or -f FILE");
    if (!c.model) return cli_usage(a, "missing -m MODEL");
    char err[512];
    size_t plen = 0;
    char *pbuf = NULL;
    if (pfile && !(pbuf = file_read_all(pfile, &plen, err, sizeof err)))
        return cli_fail(a, "%s", err);
    if (prompt) plen = strlen(prompt);
    struct model *m = NULL;
    struct backend *b = NULL;
    struct sampler *smp = NULL;
    struct meter *meter = NULL;
    int32_t *ids = NULL, *seq = NULL;
    float *logits = NULL;
    size_t n_prompt = 0;
    struct gen_result gr = {0};
    if ((rc = cli_load_model(a, &c, &m))) goto done;
    if (!m->tok) {
        rc = cli_fail(a, "%s", m->tok_err);
        goto done;
    }
    if (chat ? cli_chat_prompt(m->tok, chat_tmpl, prompt ? prompt : pbuf, plen, &ids, &n_prompt,
                               err, sizeof err) != 0
             : tokenizer_encode(m->tok, prompt ? prompt : pbuf, plen, tokenizer_add_bos(m->tok),
                                false, &ids, &n_prompt, err, sizeof err) != 0) {
        rc = cli_fail(a, "%s", err);
        goto done;
    }
    if (n_prompt == 0) {
        rc = cli_fail(a, "the prompt is empty (no tokens)");
        goto done;
    }
    /* -c is the context asked for: too small is an error, never silently raised; without
     * it the default grows to fit the prompt and -n */
    int32_t n_ctx = cli_ctx_default(&c, m);
    size_t need = n_prompt + (n_predict > 0 ? (size_t)n_predict : 1);
    if (need > (size_t)(1 << 20)) {
        rc = cli_fail(a, "the prompt (%zu tokens) and -n %ld exceed the largest context (%d)",
                      n_prompt, n_predict, 1 << 20);
        goto done;
    }
    if ((size_t)n_ctx < need) {
        if (c.ctx) {
            rc = cli_fail(a, "the prompt (%zu tokens) and -n %ld exceed the context (-c %d)",
                          n_prompt, n_predict, n_ctx);
            goto done;
        }
        n_ctx = (int32_t)need;
    }
    if (m->cfg.n_ctx_train > 0 && n_ctx > m->cfg.n_ctx_train)
        fprintf(stderr,
                "%s: warning: the context (%d tokens) exceeds the model's trained context (%d); "
                "quality may drop past it\n",
                a->cmd, n_ctx, m->cfg.n_ctx_train);
    if ((rc = cli_open_backend(a, &c, m, n_ctx, 1, &b))) goto done;
    fprintf(stderr, "%s: %s on %s (%s)\n", a->cmd, c.model, b->name, b->device);
    if (warmup && device_warmup(b, err, sizeof err) != 0) {
        rc = cli_fail(a, "%s", err);
        goto done;
    }
    smp = sampler_new(&c.sp, m->cfg.n_vocab);
    logits = malloc(sizeof(float) * (size_t)m->cfg.n_vocab);
    seq = malloc(sizeof(int32_t) * (size_t)n_ctx);
    if (!smp || !logits || !seq) {
        rc = cli_fail(a, "out of memory");
        goto done;
    }
    memcpy(seq, ids, n_prompt * sizeof *ids);
    for (size_t i = 0; i < n_prompt; i++)
        sampler_accept(smp, ids[i]);
    meter = cli_meter_open(&c, b);
    struct meter_window win = {0};
    if (meter) meter_window_begin(meter, &win);
    cli_catch_interrupts(); /* Ctrl-C ends the generation, not the statistics */
    double t0 = now_s();
    if (gen_prefill(b, ids, (int32_t)n_prompt, 0, logits, NULL, err, sizeof err) != 0) {
        rc = cli_fail(a, "%s", err);
        goto done;
    }
    double t1 = now_s();
    struct gen_state g = {b, m->tok, logits, seq, (int32_t)n_prompt, n_ctx, 0};
    struct gen_params gp = {.smp = smp,
                            .max_new = (int32_t)n_predict,
                            .ignore_eos = ignore_eos,
                            .emit = gen_emit_stdout,
                            .stop = &cli_stop};
    if (generate(&g, &gp, &gr, err, sizeof err) != 0 ||
        gen_emit_stdout(NULL, "\n", 1, err, sizeof err) != 0) {
        rc = cli_fail(a, "%s", err);
        goto done;
    }
    double t2 = now_s();
    fprintf(stderr,
            "%s: prompt %zu tokens in %.3f s (%.2f tok/s), generation %d tokens in %.3f s "
            "(%.2f tok/s), device %s, precision %s\n",
            a->cmd, n_prompt, t1 - t0, (double)n_prompt / (t1 - t0), gr.n_gen, t2 - t1,
            gr.n_gen > 0 ? (double)gr.n_gen / (t2 - t1) : 0.0, b->name,
            precision_name(b->precision));
    if (meter) print_energy(a, meter, &win, (double)n_prompt + (double)gr.n_gen);
    if (gr.stopped) rc = CLI_EXIT_INTERRUPTED; /* the text so far and the statistics are out */
done:
    meter_close(meter);
    free(gr.text);
    free(ids);
    free(seq);
    free(pbuf);
    free(logits);
    sampler_free(smp);
    backend_destroy(b);
    model_free(m);
    return rc;
}

/* ---- devices ---- */

static const char *devices_help =
    "usage: joule devices [--verbose]\n"
    "Lists the Vulkan devices (name, vendor, driver, type, memory heaps, subgroup sizes,\n"
    "fp16 / int8-dot / cooperative-matrix support, storage buffer range, energy sensors)\n"
    "and the CPU backend.\n"
    "  -v, --verbose   also the JOULE_VK_* environment switches and the values in force\n";

static int cmd_devices(int argc, char **argv)
{
    struct cli cli, *a = &cli;
    cli_init(a, "joule devices", argc, argv);
    bool verbose = false;
    while (cli_next(a)) {
        if (cli_is_help(a)) return printf("%s", devices_help), 0;
        if (cli_is(a, "-v", "--verbose")) {
            verbose = true;
            continue;
        }
        return cli_unknown(a);
    }
    char err[512];
    int rc = vk_print_devices(stdout, err, sizeof err);
    if (rc != VK_OK) printf("vulkan: none (%s)\n", err);
    printf("cpu: %d threads\n", cpu_default_threads());
    meter_print_sensors(stdout, NULL);
    if (verbose) vk_print_switches(stdout);
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
    "  synth      write a synthetic model (real shapes, random weights) as a GGUF file\n"
    "  eval       score a model on quality suites (MMLU, HellaSwag, ...) as lm-eval does\n"
    "  sweep      bench and evaluate several models on several devices (resumable)\n"
    "  report     join sweep, bench and eval results: table, Pareto front, charts, HTML\n"
    "  serve      an OpenAI-compatible HTTP server (batched requests, energy per request)\n"
    "\n"
    "examples:\n"
    "  joule bench                        (a synthetic model; -m model.gguf for a real one)\n"
    "  joule info -m model.gguf\n"
    "  joule run -m model.gguf -p \"Once upon a time\" -n 64\n"
    "  joule tokenize -m model.gguf --text \"Hello world\"\n";

/* Every command: its name and its entry (argv[0] is the name). A new command is one line. */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"info", cmd_info},   {"tokenize", cmd_tokenize}, {"logits", cmd_logits},
    {"run", cmd_run},     {"devices", cmd_devices},   {"bench", cli_bench},
    {"chat", cli_chat},   {"eval", cli_eval},         {"synth", cli_synth},
    {"sweep", cli_sweep}, {"report", cli_report},     {"serve", serve_main},
};

/* Every command's output: a write that failed (a full disk, a closed pipe) is an error, never
 * a silent exit 0. */
static int finish(int rc, const char *cmd)
{
    char err[512], name[64];
    snprintf(name, sizeof name, "joule%s%s", cmd ? " " : "", cmd ? cmd : "");
    struct cli a;
    cli_init(&a, name, 0, NULL);
    if (file_close(stdout, "stdout", err, sizeof err) != 0 && rc == 0) rc = cli_fail(&a, "%s", err);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "%s", main_help);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
        return finish(printf("%s", main_help) < 0, NULL);
    if (!strcmp(cmd, "--version")) return finish(printf("joule %s\n", JOULE_VERSION) < 0, NULL);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return finish(commands[i].run(argc - 1, argv + 1), cmd);
    struct cli a;
    cli_init(&a, "joule", argc, argv);
    return cli_usage(&a, "unknown command '%s'", cmd);
}
