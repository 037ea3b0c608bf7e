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
#include "device.h"
#include "model.h"
#include "sample.h"
#include "tokenizer.h"

static const char *chat_help =
    "usage: joule chat -m MODEL [options]\n"
    "Chats with an instruct model: each line read is a user message, the reply is streamed to\n"
    "stdout. Interactive on a terminal (type /exit or Ctrl-D to leave); with --prompt-file or a\n"
    "pipe on stdin, every non-empty line is one user turn (scripted use).\n"
    "  -m, --model FILE         the GGUF file\n"
    "  --chat-template NAME     llama2, llama3, chatml (qwen), phi3, mistral, gemma, zephyr\n"
    "                           (default: recognised from the model's tokenizer.chat_template)\n"
    "  -s, --system TEXT        a system message first\n"
    "  -f, --prompt-file F      read the user messages from F instead of stdin\n"
    "  -n, --n-predict N        at most N tokens per reply (default 256)\n"
    "  --temp T, --top-k K, --top-p P, --min-p M, --repeat-penalty R, --seed S\n"
    "                           sampling, as for joule run\n"
    "  --show-prompt            print each rendered prompt (special tokens as text) to stderr\n"
    "  --device D               auto (default), cpu, vulkan, vulkan:N\n"
    "  -t, --threads N          CPU threads (default: all cores)\n"
    "  -c, --ctx N              context size (default: the model's, at most 4096)\n";

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "joule chat: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

static bool num(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "joule chat: bad value '%s' for %s (from %g to %g)\n", s, flag, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

struct opts {
    const char *model, *device, *tmpl, *system, *pfile;
    long threads, ctx, n_predict;
    bool show_prompt;
    struct sample_params sp;
};

/* 0 ok, 1 help printed, 2 usage error */
static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = 256;
    sample_defaults(&o->sp);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("%s", chat_help);
            return 1;
        }
        if (!strcmp(f, "--show-prompt")) {
            o->show_prompt = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "joule chat: unknown option or missing value: '%s' (see --help)\n", f);
            return 2;
        }
        const char *v = argv[++i];
        double d;
        if (!strcmp(f, "-m") || !strcmp(f, "--model"))
            o->model = v;
        else if (!strcmp(f, "--device"))
            o->device = v;
        else if (!strcmp(f, "--chat-template"))
            o->tmpl = v;
        else if (!strcmp(f, "-s") || !strcmp(f, "--system"))
            o->system = v;
        else if (!strcmp(f, "-f") || !strcmp(f, "--prompt-file"))
            o->pfile = v;
        else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) {
            if (!num(f, v, 1, 1024, &d)) return 2;
            o->threads = (long)d;
        } else if (!strcmp(f, "-c") || !strcmp(f, "--ctx")) {
            if (!num(f, v, 1, 1 << 20, &d)) return 2;
            o->ctx = (long)d;
        } else if (!strcmp(f, "-n") || !strcmp(f, "--n-predict")) {
            if (!num(f, v, 1, 1 << 20, &d)) return 2;
            o->n_predict = (long)d;
        } else if (!strcmp(f, "--temp")) {
            if (!num(f, v, 0, 100, &d)) return 2;
            o->sp.temp = (float)d;
        } else if (!strcmp(f, "--top-k")) {
            if (!num(f, v, 0, 1e9, &d)) return 2;
            o->sp.top_k = (int32_t)d;
        } else if (!strcmp(f, "--top-p")) {
            if (!num(f, v, 0, 1, &d)) return 2;
            o->sp.top_p = (float)d;
        } else if (!strcmp(f, "--min-p")) {
            if (!num(f, v, 0, 1, &d)) return 2;
            o->sp.min_p = (float)d;
        } else if (!strcmp(f, "--repeat-penalty")) {
            if (!num(f, v, 0.01, 100, &d)) return 2;
            o->sp.repeat_penalty = (float)d;
        } else if (!strcmp(f, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || end == v || *end || *v == '-') {
                fprintf(stderr, "joule chat: bad value '%s' for --seed\n", v);
                return 2;
            }
            o->sp.seed = s;
        } else {
            fprintf(stderr, "joule chat: unknown option '%s' (see --help)\n", f);
            return 2;
        }
    }
    if (!o->model) {
        fprintf(stderr, "joule chat: missing -m MODEL (see --help)\n");
        return 2;
    }
    return 0;
}

static int open_backend(const struct opts *o, const struct model *m, int32_t n_ctx,
                        struct backend **out)
{
    char err[512], notice[600];
    if (device_open(o->device, m, n_ctx, (int32_t)o->threads, out, notice, sizeof notice, err,
                    sizeof err) != 0)
        return fail("%s", err);
    if (notice[0]) fprintf(stderr, "joule: %s\n", notice);
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
    const struct opts *o;
    struct model *m;
    struct backend *b;
    struct sampler *smp;
    enum chat_tmpl tmpl;
    int32_t n_ctx;
    int32_t *cache; /* the tokens in the KV cache, positions 0..n_cache-1 */
    size_t n_cache;
    float *logits;
};

static int forward(struct session *s, const int32_t *ids, size_t n, size_t pos)
{
    char err[512];
    size_t step = s->b->max_batch > 0 ? (size_t)s->b->max_batch : n;
    for (size_t done = 0; done < n; done += step) {
        size_t k = n - done < step ? n - done : step;
        if (backend_forward(s->b, ids + done, (int32_t)k, (int32_t)(pos + done), false, s->logits,
                            err, sizeof err) != 0)
            return fail("%s", err);
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One turn: the conversation so far is prompted, the reply streamed and appended. */
static int turn(struct session *s, struct convo *c)
{
    const struct tokenizer *tok = s->m->tok;
    char err[512];
    int32_t *ids = NULL;
    size_t n = 0;
    if (chat_encode(tok, s->tmpl, c->m, c->n, true, &ids, &n, err, sizeof err) != 0)
        return fail("%s", err);
    if (s->o->show_prompt) {
        struct detok d;
        detok_init(&d, tok, false);
        d.show_special = true;
        char *buf = malloc(detok_max_bytes(tok));
        if (!buf) {
            free(ids);
            return fail("out of memory");
        }
        fprintf(stderr, "--- prompt (%zu tokens) ---\n", n);
        for (size_t i = 0; i < n; i++)
            fwrite(buf, 1, detok_push(&d, ids[i], buf, detok_max_bytes(tok)), stderr);
        fwrite(buf, 1, detok_flush(&d, buf, detok_max_bytes(tok)), stderr);
        fprintf(stderr, "\n--- reply ---\n");
        free(buf);
    }
    if (n + (size_t)s->o->n_predict > (size_t)s->n_ctx) {
        free(ids);
        return fail("the conversation (%zu tokens) and -n %ld no longer fit the context (%d); "
                    "use a larger -c",
                    n, s->o->n_predict, s->n_ctx);
    }
    size_t common = 0;
    while (common < n && common < s->n_cache && ids[common] == s->cache[common])
        common++;
    if (common == n) common = n - 1; /* the last token runs again for fresh logits */
    double t0 = now_s();
    int rc = forward(s, ids + common, n - common, common);
    memcpy(s->cache, ids, n * sizeof *ids);
    s->n_cache = n;
    for (size_t i = common; i < n && rc == 0; i++)
        sampler_accept(s->smp, ids[i]);
    free(ids);
    if (rc) return rc;

    struct detok d;
    detok_init(&d, tok, false);
    size_t cap = detok_max_bytes(tok), len = 0, rcap = 256;
    char *out = malloc(cap), *reply = malloc(rcap);
    long n_gen = 0;
    double t1 = now_s();
    bool oom = !out || !reply;
    for (; !oom && n_gen < s->o->n_predict; n_gen++) {
        int32_t id = sampler_sample(s->smp, s->logits);
        if (tokenizer_is_eog(tok, id)) break;
        sampler_accept(s->smp, id);
        size_t k = detok_push(&d, id, out, cap);
        fwrite(out, 1, k, stdout);
        fflush(stdout);
        if (len + k + 1 > rcap) {
            while (len + k + 1 > rcap)
                rcap *= 2;
            char *r = realloc(reply, rcap);
            if (!r) {
                oom = true;
                break;
            }
            reply = r;
        }
        memcpy(reply + len, out, k);
        len += k;
        s->cache[s->n_cache] = id;
        if ((rc = forward(s, &id, 1, s->n_cache))) break;
        s->n_cache++;
    }
    if (rc == 0 && oom) rc = fail("out of memory");
    if (rc == 0) {
        size_t k = detok_flush(&d, out, cap);
        fwrite(out, 1, k, stdout);
        printf("\n");
        fflush(stdout);
        double t2 = now_s();
        fprintf(stderr, "joule: prompt %zu new tokens in %.3f s, reply %ld tokens in %.3f s\n",
                n - common, t1 - t0, n_gen, t2 - t1);
        if (convo_add(c, "assistant", reply, len)) rc = fail("out of memory");
    }
    free(out);
    free(reply);
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
    struct opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : 2;
    char err[512];
    struct session s = {.o = &o};
    struct convo c = {0};
    FILE *in = stdin;
    char *line = NULL;
    size_t line_cap = 0, len;
    if (o.pfile && !(in = fopen(o.pfile, "rb"))) return fail("%s: %s", o.pfile, strerror(errno));
    if (model_load(o.model, &s.m, err, sizeof err) != 0) {
        rc = fail("%s", err);
        goto done;
    }
    if (!s.m->tok) {
        rc = fail("%s", s.m->tok_err);
        goto done;
    }
    const char *note;
    if (chat_tmpl_for(s.m->tok, o.tmpl, &s.tmpl, &note, err, sizeof err)) {
        rc = fail("%s", err);
        goto done;
    }
    if (note) fprintf(stderr, "joule: %s\n", note);
    s.n_ctx = o.ctx ? (int32_t)o.ctx : s.m->cfg.n_ctx_train;
    if (!o.ctx && s.n_ctx > 4096) s.n_ctx = 4096;
    if (s.n_ctx < 16) s.n_ctx = 16;
    if ((rc = open_backend(&o, s.m, s.n_ctx, &s.b))) goto done;
    bool tty = !o.pfile && isatty(0);
    fprintf(stderr, "joule: %s on %s (%s), chat template %s%s\n", o.model, s.b->name, s.b->device,
            chat_tmpl_name(s.tmpl), tty ? "; /exit or Ctrl-D to leave" : "");
    s.smp = sampler_new(&o.sp, s.m->cfg.n_vocab);
    s.logits = malloc(sizeof(float) * (size_t)s.m->cfg.n_vocab);
    s.cache = malloc(sizeof(int32_t) * ((size_t)s.n_ctx + 1));
    if (!s.smp || !s.logits || !s.cache) {
        rc = fail("out of memory");
        goto done;
    }
    if (o.system && convo_add(&c, "system", o.system, strlen(o.system))) {
        rc = fail("out of memory");
        goto done;
    }
    for (;;) {
        if (tty) {
            printf("> ");
            fflush(stdout);
        }
        if (!next_line(in, &line, &line_cap, &len)) break;
        if (len == 0) continue;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (convo_add(&c, "user", line, len)) {
            rc = fail("out of memory");
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
