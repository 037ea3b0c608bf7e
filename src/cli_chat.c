/* cli_chat — `joule chat`: a conversation with an instruct model.
 *
 * Each user line is appended to the conversation, the whole conversation is rendered with the
 * chat template (chat.h) and tokenized; only the tokens after the longest prefix already in the
 * KV cache are run (the cache is position-addressed, so the rest is simply overwritten). The
 * reply is sampled and streamed until an end-of-generation token (EOS, EOT, <|im_end|>,
 * <|eot_id|>, <end_of_turn> ...) or -n tokens, then joins the conversation as the assistant's
 * message. Backend choice and sampling are those of `joule run`. */
#include "cli_chat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "chat.h"
#include "cli_util.h"
#include "fileio.h"
#include "generate.h"
#include "model.h"
#include "sample.h"
#include "tokenizer.h"
#include "util.h"

static const char *chat_help =
    "usage: joule chat -m MODEL [options]\n"
    "Chats with an instruct model: each line read is a user message, the reply is streamed to\n"
    "stdout. Interactive on a terminal (type /exit or Ctrl-D to leave); with --file or a\n"
    "pipe on stdin, every non-empty line is one user turn (scripted use).\n"
    "  -m, --model FILE         the GGUF file\n"
    "  --chat-template NAME     llama2, llama3, chatml (qwen), phi3, mistral, gemma, zephyr\n"
    "                           (default: recognised from the model's tokenizer.chat_template)\n"
    "  -sys, --system-prompt T  a system message first\n"
    "  -f, --file F             read the user messages from F ('-': standard input); also\n"
    "                           --prompt-file\n"
    "  -n, --n-predict N        at most N tokens per reply (default 256; -1 = until an\n"
    "                           end-of-generation token or the context is full)\n"
    "  --show-prompt            print each rendered prompt (special tokens as text) to stderr\n"
    "Ctrl-C ends the reply in progress and the chat (exit status 130).\n";

struct opts {
    struct cli_common c;
    const char *tmpl, *system, *pfile;
    long n_predict;
    bool show_prompt;
};

/* 0 ok, 1 help printed, 2 usage error */
static int parse(struct cli *a, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = 256;
    cli_common_init(&o->c, CLI_MODEL | CLI_DEVICE | CLI_CTX | CLI_SAMPLING | CLI_SEED);
    while (cli_next(a)) {
        if (cli_is_help(a)) {
            printf("%s%s%s%s%s", chat_help, cli_help_sampling, cli_help_device, cli_help_threads,
                   cli_help_ctx);
            return 1;
        }
        int r = cli_common_flag(a, &o->c);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is(a, NULL, "--show-prompt"))
            o->show_prompt = true;
        else if (cli_is(a, NULL, "--chat-template")) {
            if (!cli_str(a, &o->tmpl)) return 2;
            if (chat_tmpl_from_name(o->tmpl) < 0)
                return cli_usage(a, "unknown chat template '%s' (known: %s)", o->tmpl,
                                 chat_tmpl_list());
        } else if (cli_is(a, "-sys", "--system-prompt")) {
            if (!cli_str(a, &o->system)) return 2;
        } else if (cli_is(a, "-f", "--file") || cli_is(a, NULL, "--prompt-file")) {
            if (!cli_str(a, &o->pfile)) return 2;
        } else if (cli_is(a, "-n", "--n-predict")) {
            if (!cli_long(a, -1, 1 << 20, &o->n_predict)) return 2;
            if (o->n_predict == 0) return cli_usage(a, "-n 0 leaves no room for a reply");
        } else
            return cli_unknown(a);
    }
    int rc = cli_common_finish(a, &o->c);
    if (rc) return rc == 1 ? 3 : 2;
    if (!o->c.model) return cli_usage(a, "missing -m MODEL");
    return 0;
}

/* ---- the conversation ---- */

struct convo {
    struct chat_msg *m;
    size_t n, cap;
};

static int convo_add(struct convo *c, const char *role, const char *text, size_t len)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct chat_msg *m = realloc(c->m, cap * sizeof *m);
        if (!m) return -1;
        c->m = m;
        c->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s) return -1;
    memcpy(s, text, len);
    s[len] = 0;
    c->m[c->n++] = (struct chat_msg){role, s};
    return 0;
}

static void convo_free(struct convo *c)
{
    for (size_t i = 0; i < c->n; i++)
        free((char *)c->m[i].content);
    free(c->m);
}

struct session {
    const struct cli *a;
    const struct opts *o;
    struct model *m;
    struct backend *b;
    struct sampler *smp;
    enum chat_tmpl tmpl;
    int32_t n_ctx;
    int32_t *cache; /* the tokens in the KV cache, positions 0..n_cache-1 (n_ctx of room) */
    size_t n_cache;
    float *logits;
};

static void show_prompt(const struct tokenizer *tok, const int32_t *ids, size_t n, char *buf)
{
    struct detok d;
    detok_init(&d, tok, false);
    d.show_special = true;
    fprintf(stderr, "--- prompt (%zu tokens) ---\n", n);
    for (size_t i = 0; i < n; i++)
        fwrite(buf, 1, detok_push(&d, ids[i], buf, detok_max_bytes(tok)), stderr);
    fwrite(buf, 1, detok_flush(&d, buf, detok_max_bytes(tok)), stderr);
    fprintf(stderr, "\n--- reply ---\n");
}

/* One turn: the conversation so far is prompted, the reply streamed and appended. */
static int turn(struct session *s, struct convo *c)
{
    const struct tokenizer *tok = s->m->tok;
    char err[512];
    int32_t *ids = NULL;
    size_t n = 0;
    if (chat_encode(tok, s->tmpl, c->m, c->n, true, &ids, &n, err, sizeof err) != 0)
        return cli_fail(s->a, "%s", err);
    if (s->o->show_prompt) {
        char *buf = malloc(detok_max_bytes(tok));
        if (!buf) {
            free(ids);
            return cli_fail(s->a, "out of memory");
        }
        show_prompt(tok, ids, n, buf);
        free(buf);
    }
    size_t room = s->o->n_predict > 0 ? (size_t)s->o->n_predict : 1;
    if (n + room > (size_t)s->n_ctx) {
        free(ids);
        return cli_fail(s->a,
                        "the conversation (%zu tokens) and -n %ld no longer fit the context (%d); "
                        "use a larger -c",
                        n, s->o->n_predict, s->n_ctx);
    }
    size_t common = 0;
    while (common < n && common < s->n_cache && ids[common] == s->cache[common])
        common++;
    if (common == n) common = n - 1; /* the last token runs again for fresh logits */
    double t0 = now_s();
    memcpy(s->cache, ids, n * sizeof *ids);
    s->n_cache = common; /* rows past common are rewritten now */
    int rc = gen_prefill(s->b, ids + common, (int32_t)(n - common), (int32_t)common, s->logits,
                         NULL, err, sizeof err);
    for (size_t i = common; i < n && rc == 0; i++)
        sampler_accept(s->smp, ids[i]);
    free(ids);
    if (rc) return cli_fail(s->a, "%s", err);
    s->n_cache = n;

    double t1 = now_s();
    struct gen_state g = {s->b, tok, s->logits, s->cache, (int32_t)n, s->n_ctx, 0};
    struct gen_params gp = {.smp = s->smp,
                            .max_new = (int32_t)s->o->n_predict,
                            .emit = gen_emit_stdout,
                            .stop = &cli_stop};
    struct gen_result gr;
    rc = generate(&g, &gp, &gr, err, sizeof err);
    /* the last token appended was not run: the cache holds all but it */
    s->n_cache = g.len > (int32_t)n ? (size_t)g.len - 1 : n;
    if (rc == 0) rc = gen_emit_stdout(NULL, "\n", 1, err, sizeof err);
    if (rc) {
        free(gr.text);
        return cli_fail(s->a, "%s", err);
    }
    double t2 = now_s();
    fprintf(stderr, "%s: prompt %zu new tokens in %.3f s, reply %d tokens in %.3f s\n", s->a->cmd,
            n - common, t1 - t0, gr.n_gen, t2 - t1);
    rc = convo_add(c, "assistant", gr.text, strlen(gr.text)) ? cli_fail(s->a, "out of memory") : 0;
    if (rc == 0 && gr.stopped) rc = CLI_EXIT_INTERRUPTED;
    free(gr.text);
    return rc;
}

int cli_chat_prompt(const struct tokenizer *tok, const char *template_name, const char *text,
                    size_t len, int32_t **ids, size_t *n_ids, char *err, size_t errlen)
{
    enum chat_tmpl t;
    const char *note;
    if (chat_tmpl_for(tok, template_name, &t, &note, err, errlen)) return -1;
    if (note) fprintf(stderr, "joule: %s\n", note);
    char *s = malloc(len + 1);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(s, text, len);
    s[len] = 0;
    struct chat_msg msg = {"user", s};
    int rc = chat_encode(tok, t, &msg, 1, true, ids, n_ids, err, errlen);
    free(s);
    return rc;
}

/* a line without its end (\n, \r\n); NULL at the end of input */
static char *next_line(FILE *in, char **buf, size_t *cap, size_t *len)
{
    ssize_t n = getline(buf, cap, in);
    if (n < 0) return NULL;
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
        n--;
    (*buf)[n] = 0;
    *len = (size_t)n;
    return *buf;
}

int cli_chat(int argc, char **argv)
{
    struct cli a;
    cli_init(&a, "joule chat", argc, argv);
    struct opts o;
    int rc = parse(&a, &o);
    if (rc) return rc == 1 ? 0 : rc == 3 ? 1 : 2;
    char err[512];
    struct session s = {.a = &a, .o = &o};
    struct convo c = {0};
    FILE *in = stdin;
    char *line = NULL;
    size_t line_cap = 0, len;
    if (o.pfile && strcmp(o.pfile, "-") && !(in = fopen(o.pfile, "rb")))
        return cli_fail(&a, "%s: %s", o.pfile, strerror(errno));
    if ((rc = cli_load_model(&a, &o.c, &s.m))) goto done;
    if (!s.m->tok) {
        rc = cli_fail(&a, "%s", s.m->tok_err);
        goto done;
    }
    const char *note;
    if (chat_tmpl_for(s.m->tok, o.tmpl, &s.tmpl, &note, err, sizeof err)) {
        rc = cli_fail(&a, "%s", err);
        goto done;
    }
    if (note) fprintf(stderr, "%s: %s\n", a.cmd, note);
    s.n_ctx = cli_ctx_default(&o.c, s.m);
    if (!o.c.ctx && s.n_ctx < 16) s.n_ctx = 16;
    if ((rc = cli_open_backend(&a, &o.c, s.m, s.n_ctx, 1, &s.b))) goto done;
    bool tty = (!o.pfile || !strcmp(o.pfile, "-")) && isatty(0);
    cli_catch_interrupts(); /* Ctrl-C ends the reply in progress and the chat: status 130 */
    fprintf(stderr, "%s: %s on %s (%s), chat template %s%s\n", a.cmd, o.c.model, s.b->name,
            s.b->device, chat_tmpl_name(s.tmpl), tty ? "; /exit or Ctrl-D to leave" : "");
    s.smp = sampler_new(&o.c.sp, s.m->cfg.n_vocab);
    s.logits = malloc(sizeof(float) * (size_t)s.m->cfg.n_vocab);
    s.cache = malloc(sizeof(int32_t) * ((size_t)s.n_ctx + 1));
    if (!s.smp || !s.logits || !s.cache) {
        rc = cli_fail(&a, "out of memory");
        goto done;
    }
    if (o.system && convo_add(&c, "system", o.system, strlen(o.system))) {
        rc = cli_fail(&a, "out of memory");
        goto done;
    }
    for (;;) {
        if (tty) {
            printf("> ");
            fflush(stdout);
        }
        if (!next_line(in, &line, &line_cap, &len)) {
            if (cli_stop) rc = CLI_EXIT_INTERRUPTED;
            break;
        }
        if (len == 0) continue;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (convo_add(&c, "user", line, len)) {
            rc = cli_fail(&a, "out of memory");
            break;
        }
        if ((rc = turn(&s, &c))) break;
    }
    if (tty && rc == 0) printf("\n");
done:
    if (in && in != stdin) fclose(in);
    free(line);
    convo_free(&c);
    free(s.cache);
    free(s.logits);
    sampler_free(s.smp);
    backend_destroy(s.b);
    model_free(s.m);
    return rc;
}
