/* tokenizer — vocabulary loading and validation, piece lookup, special-token splitting and
 * the encode driver. The SentencePiece merge loop is in tokenizer_spm.c, byte-level BPE in
 * tokenizer_bpe.c (its pre-tokenizers in tokenizer_pre.c), decoding in tokenizer_decode.c.
 * See tokenizer.h. */
#include "tokenizer.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer_impl.h"

/* Longest text one encode call accepts: keeps every escaped offset and symbol index within
 * int32 (each byte may become the 3 bytes of U+2581). */
#define TOK_MAX_TEXT ((size_t)1 << 29)
/* The largest published vocabularies have ~262k tokens; 4 M is ample, and keeps a file that
 * declares millions of (empty) tokens from costing gigabytes: each token takes ~70 bytes here
 * against 8 in the file. */
#define TOK_MAX_VOCAB (1 << 22)

int tok_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int tok_ids_push(struct tok_ids *o, int32_t id)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *o->v) return -1;
        int32_t *v = realloc(o->v, cap * sizeof *v);
        if (!v) return -1;
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = id;
    return 0;
}

int tok_utf8_len(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int need;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte (RFC 3629 table) */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0; /* overlong */
        if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90; /* overlong */
        if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
    } else {
        return -1;
    }
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= n) return 0;
        unsigned b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return -1;
    }
    return need;
}

int32_t tok_unk_fallback(const struct tokenizer *t)
{
    if (t->unk < 0) return -1;
    const struct tok_entry *e = &t->tok[t->unk];
    return e->type == TOK_CONTROL || (e->flags & TOKF_EOG) ? -1 : t->unk;
}

/* ---- piece -> id hash (FNV-1a, open addressing, linear probing) ---- */

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

int32_t tok_lookup(const struct tokenizer *t, const char *s, size_t len)
{
    for (uint32_t i = hash_bytes(s, len) & t->hash_mask;; i = (i + 1) & t->hash_mask) {
        int32_t id = t->hash[i];
        if (id < 0) return -1;
        const struct tok_entry *e = &t->tok[id];
        if (e->text_len == len && memcmp(t->text + e->text_off, s, len) == 0) return id;
    }
}

/* A later duplicate replaces the earlier one, as in llama.cpp (token_to_id[text] = i). */
static void hash_insert(struct tokenizer *t, int32_t id)
{
    const struct tok_entry *e = &t->tok[id];
    const char *s = t->text + e->text_off;
    for (uint32_t i = hash_bytes(s, e->text_len) & t->hash_mask;; i = (i + 1) & t->hash_mask) {
        int32_t old = t->hash[i];
        if (old < 0 || (t->tok[old].text_len == e->text_len &&
                        memcmp(t->text + t->tok[old].text_off, s, e->text_len) == 0)) {
            t->hash[i] = id;
            return;
        }
    }
}

/* ---- loading ---- */

void tokenizer_free(struct tokenizer *t)
{
    if (!t) return;
    free(t->tok);
    free(t->text);
    free(t->dec);
    free(t->hash);
    free(t->pairs);
    free(t->special);
    free(t->sp_hash);
    free(t->sp_lens);
    free(t->merges);
    free(t->chat_template);
    free(t);
}

/* Reads an optional token id: absent -> def (or -1 when def is out of range); -1 -> none. */
static int get_id(const struct gguf_file *f, const char *key, int32_t def, int32_t n_vocab,
                  int32_t *out, char *err, size_t errlen)
{
    int64_t v;
    if (!gguf_find(f, key)) {
        *out = def < n_vocab ? def : -1;
        return 0;
    }
    if (gguf_get_i64(f, key, &v) != 0)
        return tok_fail(err, errlen, "%s: metadata '%s' is not an integer", f->path, key);
    if (v == -1) {
        *out = -1;
        return 0;
    }
    if (v < 0 || v >= n_vocab)
        return tok_fail(err, errlen,
                        "%s: metadata '%s' = %" PRId64
                        " is not a token id (the vocabulary has %" PRId32 " tokens)",
                        f->path, key, v, n_vocab);
    *out = (int32_t)v;
    return 0;
}

static int get_flag(const struct gguf_file *f, const char *key, bool def, bool *out, char *err,
                    size_t errlen)
{
    if (!gguf_find(f, key)) {
        *out = def;
        return 0;
    }
    if (gguf_get_bool(f, key, out) != 0)
        return tok_fail(err, errlen, "%s: metadata '%s' is not a bool", f->path, key);
    return 0;
}

/* Optional per-token array: NULL when absent; an error when present but malformed. */
static int get_token_arr(const struct gguf_file *f, const char *key, enum gguf_vtype elem,
                         uint64_t n_vocab, const struct gguf_value **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!gguf_find(f, key)) return 0;
    uint64_t n = 0;
    const struct gguf_value *a = gguf_get_arr(f, key, elem, &n);
    if (!a)
        return tok_fail(err, errlen, "%s: metadata '%s' is not an array of %s", f->path, key,
                        gguf_vtype_name(elem));
    if (n != n_vocab)
        return tok_fail(err, errlen,
                        "%s: metadata '%s' has %" PRIu64
                        " entries but tokenizer.ggml.tokens has %" PRIu64,
                        f->path, key, n, n_vocab);
    *out = a;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Copies the pieces into one block (empty ones renamed "[EMPTY_i]" as llama.cpp does). */
static int load_pieces(struct tokenizer *t, const struct gguf_file *f,
                       const struct gguf_value *toks, char *err, size_t errlen)
{
    uint64_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint64_t len = toks[i].v.s.len;
        if (len == 0) len = (uint64_t)snprintf(NULL, 0, "[EMPTY_%" PRId32 "]", i);
        if (len > UINT32_MAX - total)
            return tok_fail(err, errlen, "%s: tokenizer.ggml.tokens is too large", f->path);
        total += len;
    }
    t->text = malloc(total + 1);
    t->dec = malloc(total + 1);
    if (!t->text || !t->dec) return tok_fail(err, errlen, "%s: out of memory", f->path);
    uint32_t off = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        struct tok_entry *e = &t->tok[i];
        e->text_off = off;
        if (toks[i].v.s.len == 0) {
            e->text_len = (uint32_t)sprintf(t->text + off, "[EMPTY_%" PRId32 "]", i);
        } else {
            e->text_len = (uint32_t)toks[i].v.s.len;
            memcpy(t->text + off, toks[i].v.s.ptr, e->text_len);
        }
        off += e->text_len;
    }
    return 0;
}

/* The printable form of each piece: spaces restored, byte tokens as their byte, nothing
 * for unused ones. Never longer than the piece. */
static int build_printable(struct tokenizer *t, const char *path, char *err, size_t errlen)
{
    uint32_t off = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        struct tok_entry *e = &t->tok[i];
        const char *s = t->text + e->text_off;
        char *o = t->dec + off;
        e->dec_off = off;
        e->dec_len = 0;
        switch (e->type) {
        case TOK_NORMAL:
            if (t->bpe) {
                e->dec_len = bpe_printable(s, e->text_len, o);
                break;
            }
            for (uint32_t j = 0; j < e->text_len; j++) {
                if (j + 2 < e->text_len && memcmp(s + j, "\xe2\x96\x81", 3) == 0) {
                    o[e->dec_len++] = ' ';
                    j += 2;
                } else {
                    o[e->dec_len++] = s[j];
                }
            }
            break;
        case TOK_BYTE: {
            int hi = e->text_len == 6 ? hexval(s[3]) : -1,
                lo = e->text_len == 6 ? hexval(s[4]) : -1;
            if (hi < 0 || lo < 0 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
                return tok_fail(err, errlen,
                                "%s: token %" PRId32
                                " has type BYTE but its text '%.*s' is not of the form <0xNN>",
                                path, i, (int)(e->text_len > 40 ? 40 : e->text_len), s);
            o[e->dec_len++] = (char)(hi * 16 + lo);
            break;
        }
        case TOK_CONTROL:
        case TOK_UNKNOWN:
        case TOK_USER_DEFINED:
            memcpy(o, s, e->text_len);
            e->dec_len = e->text_len;
            break;
        default: /* UNUSED, UNDEFINED print as nothing */ break;
        }
        off += e->dec_len;
        if (e->dec_len > t->max_dec_len) t->max_dec_len = e->dec_len;
    }
    return 0;
}

/* End-of-generation texts llama.cpp recognises when the metadata does not name them; it
 * also forces them to CONTROL. The first N_EOT_TEXTS may serve as the EOT token, the
 * earliest in this order winning. */
#define N_EOT_TEXTS 7
static const char *const eog_texts[] = {
    "<|eot_id|>",    "<|im_end|>", "<|end|>",         "<end_of_turn>",
    "<|endoftext|>", "<EOT>",      "_<EOT>",          "<|return|>",
    "<|call|>",      "<|eom_id|>", "<|end_of_text|>", "<end_of_utterance>",
};

static void mark_eog(struct tokenizer *t)
{
    for (size_t k = 0; k < sizeof eog_texts / sizeof eog_texts[0]; k++) {
        int32_t id = tok_lookup(t, eog_texts[k], strlen(eog_texts[k]));
        if (id < 0) continue;
        if (t->eot < 0 && k < N_EOT_TEXTS) t->eot = id;
        t->tok[id].flags |= TOKF_EOG;
        t->tok[id].type = TOK_CONTROL;
    }
    if (t->eos >= 0) t->tok[t->eos].flags |= TOKF_EOG;
    if (t->eot >= 0) t->tok[t->eot].flags |= TOKF_EOG;
    if (t->eom >= 0) t->tok[t->eom].flags |= TOKF_EOG;
}

/* Text that looks like a control token: "<...>" with no white space inside (</s>, <pad>,
 * <|im_start|>, <end_of_turn>, <｜fim▁hole｜>). */
static bool looks_control(const char *s, uint32_t len)
{
    if (len < 3 || s[0] != '<' || s[len - 1] != '>') return false;
    for (uint32_t i = 1; i + 1 < len; i++)
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' ||
            s[i] == '\f')
            return false;
    return true;
}

/* Plain text must never become a control token. Files mark some control tokens
 * USER_DEFINED (Phi-3's </s>, deepseek-coder's <｜fim▁hole｜> and <|EOT|>), and
 * USER_DEFINED tokens are matched in any text; like llama.cpp (and further), a USER_DEFINED
 * token is made CONTROL when it is an end of generation or its text looks like a control
 * token, and a BOS / EOS / EOT / EOM / padding token is CONTROL whatever its type, unless it
 * is a byte or an ordinary word (a NORMAL token whose text does not look like one). */
static void mark_control(struct tokenizer *t)
{
    for (int32_t i = 0; i < t->n_vocab; i++) {
        struct tok_entry *e = &t->tok[i];
        if (e->type == TOK_USER_DEFINED &&
            ((e->flags & TOKF_EOG) || looks_control(t->text + e->text_off, e->text_len)))
            e->type = TOK_CONTROL;
    }
    const int32_t ids[] = {t->bos, t->eos, t->eot, t->eom, t->pad};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        if (ids[k] < 0) continue;
        struct tok_entry *e = &t->tok[ids[k]];
        if (e->type == TOK_USER_DEFINED ||
            (e->type == TOK_NORMAL && looks_control(t->text + e->text_off, e->text_len)))
            e->type = TOK_CONTROL;
    }
}

struct special_key {
    uint32_t len;
    int32_t id;
};

static int cmp_special(const void *a, const void *b)
{
    const struct special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The tokens matched in text before merging, longest first (llama.cpp's
 * cache_special_tokens; ties by id for a deterministic order). */
static int build_special(struct tokenizer *t, const struct gguf_file *f, char *err, size_t errlen)
{
    size_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->tok[i].type;
        if (ty == TOK_CONTROL || ty == TOK_USER_DEFINED || ty == TOK_UNKNOWN) n++;
    }
    if (n == 0) return 0;
    struct special_key *k = malloc(n * sizeof *k);
    t->special = malloc(n * sizeof *t->special);
    if (!k || !t->special) {
        free(k);
        return tok_fail(err, errlen, "%s: out of memory", f->path);
    }
    n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->tok[i].type;
        if (ty == TOK_CONTROL || ty == TOK_USER_DEFINED || ty == TOK_UNKNOWN)
            k[n++] = (struct special_key){t->tok[i].text_len, i};
    }
    qsort(k, n, sizeof *k, cmp_special);
    for (size_t i = 0; i < n; i++)
        t->special[i] = k[i].id;
    t->n_special = n;
    free(k);
    if (special_index_build(t)) return tok_fail(err, errlen, "%s: out of memory", f->path);

    /* llama.cpp's Phi-3 rule (general.name contains phi-3 / phi3): special tokens eat the
     * whitespace after them, except <unk>, <s> and <|endoftext|>. */
    char *name = gguf_get_str(f, "general.name");
    if (name) {
        for (char *p = name; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        if (strstr(name, "phi-3") || strstr(name, "phi3")) {
            for (size_t i = 0; i < n; i++)
                t->tok[t->special[i]].flags |= TOKF_RSTRIP;
            int32_t id = tok_lookup(t, "</s>", 4);
            if (id >= 0) t->tok[id].flags |= TOKF_RSTRIP;
            static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
            for (size_t j = 0; j < 3; j++) {
                id = tok_lookup(t, keep[j], strlen(keep[j]));
                if (id >= 0) t->tok[id].flags &= (uint8_t)~TOKF_RSTRIP;
            }
        }
        free(name);
    }
    return 0;
}

int tokenizer_load(const struct gguf_file *f, struct tokenizer **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *path = f->path;
    char *model = gguf_get_str(f, "tokenizer.ggml.model");
    if (!model) {
        if (gguf_find(f, "tokenizer.ggml.model"))
            return tok_fail(err, errlen, "%s: metadata 'tokenizer.ggml.model' is not a string",
                            path);
        return tok_fail(
            err, errlen,
            "%s: metadata 'tokenizer.ggml.model' is missing (the file has no vocabulary)", path);
    }
    if (strcmp(model, "llama") != 0 && strcmp(model, "gpt2") != 0) {
        tok_fail(err, errlen,
                 "%s: tokenizer.ggml.model '%.40s' is not supported (supported: llama, gpt2)", path,
                 model);
        free(model);
        return -1;
    }
    bool bpe = strcmp(model, "gpt2") == 0;
    free(model);

    uint64_t n = 0;
    const struct gguf_value *toks = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &n);
    if (!toks) {
        if (gguf_find(f, "tokenizer.ggml.tokens"))
            return tok_fail(err, errlen,
                            "%s: metadata 'tokenizer.ggml.tokens' is not an array of strings",
                            path);
        return tok_fail(err, errlen, "%s: metadata 'tokenizer.ggml.tokens' is missing", path);
    }
    if (n == 0 || n > TOK_MAX_VOCAB)
        return tok_fail(err, errlen,
                        "%s: tokenizer.ggml.tokens has %" PRIu64 " entries (expected 1..%d)", path,
                        n, TOK_MAX_VOCAB);
    const struct gguf_value *scores, *types;
    if (get_token_arr(f, "tokenizer.ggml.scores", GGUF_F32, n, &scores, err, errlen) ||
        get_token_arr(f, "tokenizer.ggml.token_type", GGUF_I32, n, &types, err, errlen))
        return -1;

    struct tokenizer *t = calloc(1, sizeof *t);
    if (!t) return tok_fail(err, errlen, "%s: out of memory", path);
    snprintf(t->model, sizeof t->model, "%s", bpe ? "gpt2" : "llama");
    t->bpe = bpe;
    t->n_vocab = (int32_t)n;
    uint32_t hcap = 16;
    while (hcap < 2 * (uint32_t)n)
        hcap *= 2;
    t->hash_mask = hcap - 1;
    t->tok = calloc(n, sizeof *t->tok);
    t->hash = malloc(hcap * sizeof *t->hash);
    if (!t->tok || !t->hash) {
        tok_fail(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    memset(t->hash, 0xff, hcap * sizeof *t->hash);
    if (load_pieces(t, f, toks, err, errlen)) goto fail;

    for (int32_t i = 0; i < t->n_vocab; i++) {
        struct tok_entry *e = &t->tok[i];
        e->type = TOK_NORMAL;
        if (types) {
            int64_t ty = types[i].v.i;
            if (ty < TOK_UNDEFINED || ty > TOK_BYTE) {
                tok_fail(err, errlen,
                         "%s: tokenizer.ggml.token_type[%" PRId32 "] = %" PRId64
                         " is not a token type (0..6)",
                         path, i, ty);
                goto fail;
            }
            e->type = (uint8_t)ty;
        }
        if (scores) {
            double s = scores[i].v.f;
            if (s != s) {
                tok_fail(err, errlen, "%s: tokenizer.ggml.scores[%" PRId32 "] is NaN", path, i);
                goto fail;
            }
            e->score = (float)s;
        }
        hash_insert(t, i);
    }

    if (bpe && bpe_load(t, f, err, errlen)) goto fail;
    /* llama.cpp's defaults: SentencePiece has BOS 1, EOS 2, UNK 0, adds BOS and a space
     * prefix; byte-level BPE names its ids (none by default), adds BOS only for Llama 3 */
    if (get_id(f, "tokenizer.ggml.bos_token_id", bpe ? -1 : 1, t->n_vocab, &t->bos, err, errlen) ||
        get_id(f, "tokenizer.ggml.eos_token_id", bpe ? -1 : 2, t->n_vocab, &t->eos, err, errlen) ||
        get_id(f, "tokenizer.ggml.eot_token_id", -1, t->n_vocab, &t->eot, err, errlen) ||
        get_id(f, "tokenizer.ggml.eom_token_id", -1, t->n_vocab, &t->eom, err, errlen) ||
        get_id(f, "tokenizer.ggml.unknown_token_id", bpe ? -1 : 0, t->n_vocab, &t->unk, err,
               errlen) ||
        get_flag(f, "tokenizer.ggml.add_bos_token", bpe ? t->pre == PRE_LLAMA3 : true, &t->add_bos,
                 err, errlen) ||
        get_flag(f, "tokenizer.ggml.add_eos_token", false, &t->add_eos, err, errlen) ||
        get_flag(f, "tokenizer.ggml.add_space_prefix", !bpe, &t->add_space_prefix, err, errlen))
        goto fail;
    if (gguf_find(f, "tokenizer.chat_template") &&
        !(t->chat_template = gguf_get_str(f, "tokenizer.chat_template"))) {
        tok_fail(err, errlen, "%s: metadata 'tokenizer.chat_template' is not a string", path);
        goto fail;
    }
    /* Many converted models name a padding id one past the vocabulary (a pad token that was
     * added to the Hugging Face tokenizer only); like llama.cpp, such an id means none. */
    int64_t pad;
    if (gguf_get_i64(f, "tokenizer.ggml.padding_token_id", &pad) == 0 && pad >= t->n_vocab) {
        t->pad = -1;
    } else if (get_id(f, "tokenizer.ggml.padding_token_id", -1, t->n_vocab, &t->pad, err, errlen)) {
        goto fail;
    }

    mark_eog(t);
    mark_control(t);
    if (build_printable(t, path, err, errlen) || build_special(t, f, err, errlen)) goto fail;
    if (bpe) goto done; /* bpe_load filled byte_tok */
    if (spm_build_pairs(t)) {
        tok_fail(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    for (int c = 0; c < 256; c++) {
        char buf[7];
        snprintf(buf, sizeof buf, "<0x%02X>", c);
        int32_t id = tok_lookup(t, buf, 6);
        buf[0] = (char)c;
        t->byte_tok[c] = id >= 0 ? id : tok_lookup(t, buf, 1);
    }
done:
    *out = t;
    return 0;

fail:
    tokenizer_free(t);
    return -1;
}

/* ---- accessors ---- */

int32_t tokenizer_n_vocab(const struct tokenizer *t)
{
    return t->n_vocab;
}

int32_t tokenizer_bos(const struct tokenizer *t)
{
    return t->bos;
}

int32_t tokenizer_eos(const struct tokenizer *t)
{
    return t->eos;
}

int32_t tokenizer_eot(const struct tokenizer *t)
{
    return t->eot;
}

bool tokenizer_add_bos(const struct tokenizer *t)
{
    return t->add_bos && t->bos >= 0;
}

bool tokenizer_add_eos(const struct tokenizer *t)
{
    return t->add_eos && t->eos >= 0;
}

const char *tokenizer_model_name(const struct tokenizer *t)
{
    return t->model;
}

const char *tokenizer_pre_name(const struct tokenizer *t)
{
    return t->bpe ? t->pre_name : "";
}

const char *tokenizer_chat_template(const struct tokenizer *t)
{
    return t->chat_template;
}

bool tokenizer_is_eog(const struct tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && (t->tok[id].flags & TOKF_EOG);
}

int32_t tokenizer_find(const struct tokenizer *t, const char *piece, size_t len)
{
    return tok_lookup(t, piece, len);
}

enum tok_type tokenizer_token_type(const struct tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? (enum tok_type)t->tok[id].type : TOK_UNDEFINED;
}

/* ---- encoding ---- */

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool add_bos,
                     bool parse_special, int32_t **ids, size_t *n_ids, char *err, size_t errlen)
{
    struct tok_span all = {0, len};
    return tokenizer_encode_spans(t, text, len, parse_special ? &all : NULL, parse_special, add_bos,
                                  ids, n_ids, err, errlen);
}

int tokenizer_encode_spans(const struct tokenizer *t, const char *text, size_t len,
                           const struct tok_span *special, size_t n_special, bool add_bos,
                           int32_t **ids, size_t *n_ids, char *err, size_t errlen)
{
    *ids = NULL;
    *n_ids = 0;
    if (len > TOK_MAX_TEXT)
        return tok_fail(err, errlen, "tokenizer: text of %zu bytes is too long (limit %zu)", len,
                        TOK_MAX_TEXT);
    if (!text && len > 0) return tok_fail(err, errlen, "tokenizer: NULL text");
    if (add_bos && t->bos < 0)
        return tok_fail(err, errlen,
                        "tokenizer: a BOS token was asked for but the vocabulary has none");
    for (size_t i = 0; i < n_special; i++) {
        size_t prev_end = i ? special[i - 1].off + special[i - 1].len : 0;
        if (special[i].off < prev_end || special[i].off > len ||
            special[i].len > len - special[i].off)
            return tok_fail(err, errlen,
                            "tokenizer: special span %zu (%zu+%zu) is out of order or past the "
                            "text (%zu bytes)",
                            i, special[i].off, special[i].len, len);
    }

    struct tok_ids o = {0};
    struct frags a = {0};
    struct spm_scratch sc = {0};
    struct bpe_scratch bsc = {0};
    int rc = -1;
    if (add_bos && tok_ids_push(&o, t->bos)) goto oom;

    if (special_split(t, text, len, special, n_special, &a)) goto oom;

    /* The space prefix goes on raw text at the start and right after a special token. */
    bool prev_special = true;
    for (size_t i = 0; i < a.n; i++) {
        if (a.v[i].id >= 0) {
            if (tok_ids_push(&o, a.v[i].id)) goto oom;
            prev_special = true;
            continue;
        }
        if (t->bpe ? bpe_encode_fragment(t, &bsc, text + a.v[i].off, a.v[i].len, &o, err, errlen)
                   : spm_encode_fragment(t, &sc, text + a.v[i].off, a.v[i].len,
                                         t->add_space_prefix && prev_special, &o, err, errlen))
            goto out;
        prev_special = false;
    }
    if (!o.v && !(o.v = malloc(sizeof *o.v))) goto oom; /* success always gives an array */
    *ids = o.v;
    *n_ids = o.n;
    o.v = NULL;
    rc = 0;
    goto out;
oom:
    tok_fail(err, errlen, "tokenizer: out of memory encoding %zu bytes", len);
out:
    free(o.v);
    free(a.v);
    spm_scratch_free(&sc);
    bpe_scratch_free(&bsc);
    return rc;
}
