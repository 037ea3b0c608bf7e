/* chat — built-in chat templates. See chat.h. */
#include "chat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "util.h"

static const char *const names[CHAT_N_TMPL] = {"llama2",  "llama3", "chatml", "phi3",
                                               "mistral", "gemma",  "zephyr"};

static const struct {
    const char *alias;
    enum chat_tmpl t;
} aliases[] = {
    {"llama-2", CHAT_LLAMA2}, {"llama-3", CHAT_LLAMA3}, {"qwen", CHAT_CHATML},
    {"qwen2", CHAT_CHATML},   {"qwen3", CHAT_CHATML},   {"phi-3", CHAT_PHI3},
    {"gemma2", CHAT_GEMMA},   {"gemma3", CHAT_GEMMA},
};

const char *chat_tmpl_name(enum chat_tmpl t)
{
    return t < CHAT_N_TMPL ? names[t] : "?";
}

int chat_tmpl_from_name(const char *name)
{
    for (int i = 0; i < CHAT_N_TMPL; i++)
        if (!strcmp(name, names[i])) return i;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(name, aliases[i].alias)) return (int)aliases[i].t;
    return -1;
}

const char *chat_tmpl_list(void)
{
    return "llama2, llama3, chatml (qwen), phi3, mistral, gemma, zephyr";
}

int chat_tmpl_detect(const char *j)
{
    if (!j) return -1;
    if (strstr(j, "<|im_start|>")) return CHAT_CHATML;
    if (strstr(j, "<|start_header_id|>") && strstr(j, "<|end_header_id|>")) return CHAT_LLAMA3;
    if (strstr(j, "<start_of_turn>")) return CHAT_GEMMA;
    if (strstr(j, "[INST]")) return strstr(j, "<<SYS>>") ? CHAT_LLAMA2 : CHAT_MISTRAL;
    if (strstr(j, "<|assistant|>") && strstr(j, "<|end|>")) return CHAT_PHI3;
    if (strstr(j, "<|user|>") && strstr(j, "<|assistant|>")) return CHAT_ZEPHYR;
    return -1;
}

/* ---- a growable string ---- */

/* The rendered text, and the spans of it that are the template's own scaffolding (where
 * special tokens are parsed); message text (and role names) lies between them. */
struct sbuf {
    struct strbuf t;
    struct tok_span *sp;
    size_t n_sp, cap_sp;
};

static void put_raw(struct sbuf *b, const char *s, size_t len)
{
    strbuf_put(&b->t, s, len);
}

/* template scaffolding: special tokens in it are parsed */
static void put(struct sbuf *b, const char *s, size_t len)
{
    size_t at = b->t.n;
    put_raw(b, s, len);
    if (b->t.oom || len == 0) return;
    if (b->n_sp > 0 && b->sp[b->n_sp - 1].off + b->sp[b->n_sp - 1].len == at) {
        b->sp[b->n_sp - 1].len += len;
        return;
    }
    if (b->n_sp == b->cap_sp) {
        size_t cap = b->cap_sp ? 2 * b->cap_sp : 16;
        struct tok_span *sp = realloc(b->sp, cap * sizeof *sp);
        if (!sp) {
            b->t.oom = true;
            return;
        }
        b->sp = sp;
        b->cap_sp = cap;
    }
    b->sp[b->n_sp++] = (struct tok_span){at, len};
}

/* the strings, up to a NULL, as scaffolding */
static void cat(struct sbuf *b, ...)
{
    va_list ap;
    va_start(ap, b);
    for (const char *s; (s = va_arg(ap, const char *));)
        put(b, s, strlen(s));
    va_end(ap);
}

/* message text (or a role name): plain text, never special tokens */
static void msg(struct sbuf *b, const char *s)
{
    put_raw(b, s, strlen(s));
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* message text with leading (when left) and trailing white space removed (Jinja's trim,
 * Python's strip); returns the length put */
static size_t msg_trim(struct sbuf *b, const char *s, bool left)
{
    size_t len = strlen(s);
    while (len > 0 && is_ws(s[len - 1]))
        len--;
    while (left && len > 0 && is_ws(*s))
        s++, len--;
    put_raw(b, s, len);
    return len;
}

static bool role_is_known(const char *r)
{
    return !strcmp(r, "system") || !strcmp(r, "user") || !strcmp(r, "assistant");
}

static bool role_is(const struct chat_msg *m, const char *r)
{
    return !strcmp(m->role, r);
}

/* ---- the families ---- */

/* Llama 2: the system text joins the first message, which is then stripped as a whole. */
static void llama2(struct sbuf *b, const struct chat_msg *m, size_t n, const char *bos,
                   const char *eos)
{
    size_t i = 0;
    const char *sys = NULL;
    if (n > 0 && role_is(&m[0], "system")) sys = m[i++].content;
    for (bool first = true; i < n; i++, first = false) {
        bool asst = role_is(&m[i], "assistant");
        cat(b, asst ? " " : bos, asst ? "" : "[INST] ", (char *)NULL);
        if (first && sys) {
            /* strip("<<SYS>>\nS\n<</SYS>>\n\nU"): U loses its trailing white space only,
             * and when nothing is left of it the block's trailing newlines go too */
            cat(b, "<<SYS>>\n", (char *)NULL);
            msg(b, sys);
            size_t at = b->t.n;
            cat(b, "\n<</SYS>>\n\n", (char *)NULL);
            size_t k = b->t.n;
            if (msg_trim(b, m[i].content, false) == 0 && !b->t.oom) {
                b->t.n = at + strlen("\n<</SYS>>");
                b->t.s[b->t.n] = 0;
                b->sp[b->n_sp - 1].len -= k - b->t.n;
            }
        } else {
            msg_trim(b, m[i].content, true);
        }
        cat(b, " ", asst ? eos : "[/INST]", (char *)NULL);
    }
}

static void llama3(struct sbuf *b, const struct chat_msg *m, size_t n, bool gen, const char *bos)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 0) cat(b, bos, (char *)NULL);
        cat(b, "<|start_header_id|>", (char *)NULL);
        msg(b, m[i].role);
        cat(b, "<|end_header_id|>\n\n", (char *)NULL);
        msg_trim(b, m[i].content, true);
        cat(b, "<|eot_id|>", (char *)NULL);
    }
    if (gen) cat(b, "<|start_header_id|>assistant<|end_header_id|>\n\n", (char *)NULL);
}

static void chatml(struct sbuf *b, const struct chat_msg *m, size_t n, bool gen)
{
    for (size_t i = 0; i < n; i++) {
        cat(b, "<|im_start|>", (char *)NULL);
        msg(b, m[i].role);
        cat(b, "\n", (char *)NULL);
        msg(b, m[i].content);
        cat(b, "<|im_end|>\n", (char *)NULL);
    }
    if (gen) cat(b, "<|im_start|>assistant\n", (char *)NULL);
}

/* "<|ROLE|>\n": the tag is a token for the known roles; any other role is plain text */
static void role_tag(struct sbuf *b, const char *role)
{
    if (role_is_known(role)) {
        cat(b, "<|", role, "|>\n", (char *)NULL);
    } else {
        msg(b, "<|");
        msg(b, role);
        msg(b, "|>");
        cat(b, "\n", (char *)NULL);
    }
}

static void phi3(struct sbuf *b, const struct chat_msg *m, size_t n, bool gen, const char *eos)
{
    for (size_t i = 0; i < n; i++) {
        role_tag(b, m[i].role);
        msg(b, m[i].content);
        cat(b, "<|end|>\n", (char *)NULL);
    }
    cat(b, gen ? "<|assistant|>\n" : eos, (char *)NULL);
}

static void zephyr(struct sbuf *b, const struct chat_msg *m, size_t n, bool gen, const char *eos)
{
    for (size_t i = 0; i < n; i++) {
        role_tag(b, m[i].role);
        msg(b, m[i].content);
        cat(b, eos, "\n", (char *)NULL);
    }
    if (gen) cat(b, "<|assistant|>\n", (char *)NULL);
}

/* Mistral and Gemma have no system role: its text goes before the first user text. */
static void mistral(struct sbuf *b, const struct chat_msg *m, size_t n, const char *bos,
                    const char *eos)
{
    size_t i = 0;
    const char *sys = NULL;
    if (n > 0 && role_is(&m[0], "system")) sys = m[i++].content;
    cat(b, bos, (char *)NULL);
    for (; i < n; i++) {
        if (role_is(&m[i], "assistant")) {
            msg(b, m[i].content);
            cat(b, eos, (char *)NULL);
            continue;
        }
        cat(b, "[INST] ", (char *)NULL);
        if (sys) {
            msg(b, sys);
            cat(b, "\n\n", (char *)NULL);
        }
        sys = NULL;
        msg(b, m[i].content);
        cat(b, " [/INST]", (char *)NULL);
    }
}

static void gemma(struct sbuf *b, const struct chat_msg *m, size_t n, bool gen, const char *bos)
{
    size_t i = 0;
    const char *sys = NULL;
    if (n > 0 && role_is(&m[0], "system")) sys = m[i++].content;
    cat(b, bos, (char *)NULL);
    for (; i < n; i++) {
        bool model = role_is(&m[i], "assistant");
        cat(b, "<start_of_turn>", model ? "model" : "user", "\n", (char *)NULL);
        if (sys && !model) {
            msg(b, sys);
            cat(b, "\n\n", (char *)NULL);
            sys = NULL;
        }
        msg_trim(b, m[i].content, true);
        cat(b, "<end_of_turn>\n", (char *)NULL);
    }
    if (gen) cat(b, "<start_of_turn>model\n", (char *)NULL);
}

static int render(struct sbuf *b, enum chat_tmpl t, const struct chat_msg *msgs, size_t n,
                  bool add_generation_prompt, const char *bos, const char *eos)
{
    put_raw(b, "", 0);
    bos = bos ? bos : "";
    eos = eos ? eos : "";
    switch (t) {
    case CHAT_LLAMA2: llama2(b, msgs, n, bos, eos); break;
    case CHAT_LLAMA3: llama3(b, msgs, n, add_generation_prompt, bos); break;
    case CHAT_CHATML: chatml(b, msgs, n, add_generation_prompt); break;
    case CHAT_PHI3: phi3(b, msgs, n, add_generation_prompt, eos); break;
    case CHAT_MISTRAL: mistral(b, msgs, n, bos, eos); break;
    case CHAT_GEMMA: gemma(b, msgs, n, add_generation_prompt, bos); break;
    case CHAT_ZEPHYR: zephyr(b, msgs, n, add_generation_prompt, eos); break;
    default: break;
    }
    if (b->t.oom) {
        free(b->t.s);
        free(b->sp);
        *b = (struct sbuf){0};
        return -1;
    }
    return 0;
}

char *chat_render(enum chat_tmpl t, const struct chat_msg *msgs, size_t n,
                  bool add_generation_prompt, const char *bos, const char *eos)
{
    struct sbuf b = {0};
    if (render(&b, t, msgs, n, add_generation_prompt, bos, eos)) return NULL;
    free(b.sp);
    return b.t.s;
}

int chat_tmpl_for(const struct tokenizer *tok, const char *name, enum chat_tmpl *out,
                  const char **note, char *err, size_t errlen)
{
    *note = NULL;
    if (name) {
        int t = chat_tmpl_from_name(name);
        if (t < 0) {
            snprintf(err, errlen, "unknown chat template '%s' (known: %s)", name, chat_tmpl_list());
            return -1;
        }
        *out = (enum chat_tmpl)t;
        return 0;
    }
    const char *j = tokenizer_chat_template(tok);
    if (!j) {
        *out = CHAT_CHATML;
        *note = "the model has no chat template (tokenizer.chat_template); using chatml";
        return 0;
    }
    int t = chat_tmpl_detect(j);
    if (t < 0) {
        snprintf(err, errlen,
                 "the model's chat template is not one of the built-in families; name one "
                 "with --chat-template (%s)",
                 chat_tmpl_list());
        return -1;
    }
    *out = (enum chat_tmpl)t;
    return 0;
}

/* a special token's text, "" when there is none */
static char *token_text(const struct tokenizer *tok, int32_t id)
{
    size_t len = id >= 0 ? tokenizer_token_bytes(tok, id, true, NULL, 0) : 0;
    char *s = malloc(len + 1);
    if (!s) return NULL;
    if (len) tokenizer_token_bytes(tok, id, true, s, len);
    s[len] = 0;
    return s;
}

int chat_encode(const struct tokenizer *tok, enum chat_tmpl t, const struct chat_msg *msgs,
                size_t n, bool add_generation_prompt, int32_t **ids, size_t *n_ids, char *err,
                size_t errlen)
{
    *ids = NULL;
    *n_ids = 0;
    char *bos = token_text(tok, tokenizer_bos(tok));
    char *eos = token_text(tok, tokenizer_eos(tok));
    struct sbuf b = {0};
    int rc = -1;
    if (!bos || !eos || render(&b, t, msgs, n, add_generation_prompt, bos, eos)) {
        snprintf(err, errlen, "out of memory rendering the chat template");
    } else {
        /* special tokens only in the template's own text: a message that contains
         * "<|im_end|>" stays plain text and cannot forge a turn */
        size_t lb = strlen(bos);
        bool has_bos =
            lb && b.n_sp > 0 && b.sp[0].off == 0 && b.sp[0].len >= lb && !strncmp(b.t.s, bos, lb);
        rc = tokenizer_encode_spans(tok, b.t.s, b.t.n, b.sp, b.n_sp,
                                    !has_bos && tokenizer_add_bos(tok), ids, n_ids, err, errlen);
    }
    free(b.t.s);
    free(b.sp);
    free(bos);
    free(eos);
    return rc;
}
