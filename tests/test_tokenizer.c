/* Tests for the tokenizer: llama.cpp's published SentencePiece vectors, the tiny model's
 * reference prompts, special tokens, odd input, streaming decode, and metadata validation
 * on small GGUF files written here. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "testutil.h"
#include "tokenizer.h"

/* ---- helpers ---- */

/* The strings of a JSON list (prompts.txt): simple escapes and \uXXXX with surrogates. */
static size_t parse_json_strings(const char *s, char **out, size_t cap)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p != '"') continue;
        ck_assert(n < cap);
        char *o = malloc(strlen(p) + 1);
        ck_assert_ptr_nonnull(o);
        out[n++] = o;
        for (p++; *p && *p != '"'; p++) {
            if (*p != '\\') {
                *o++ = *p;
                continue;
            }
            p++;
            switch (*p) {
            case 'n': *o++ = '\n'; break;
            case 't': *o++ = '\t'; break;
            case 'r': *o++ = '\r'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'u': {
                unsigned cp = 0;
                ck_assert(sscanf(p + 1, "%4x", &cp) == 1);
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
                    unsigned lo = 0;
                    ck_assert(sscanf(p + 3, "%4x", &lo) == 1);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                if (cp < 0x80) {
                    *o++ = (char)cp;
                } else if (cp < 0x800) {
                    *o++ = (char)(0xC0 | cp >> 6);
                    *o++ = (char)(0x80 | (cp & 63));
                } else if (cp < 0x10000) {
                    *o++ = (char)(0xE0 | cp >> 12);
                    *o++ = (char)(0x80 | (cp >> 6 & 63));
                    *o++ = (char)(0x80 | (cp & 63));
                } else {
                    *o++ = (char)(0xF0 | cp >> 18);
                    *o++ = (char)(0x80 | (cp >> 12 & 63));
                    *o++ = (char)(0x80 | (cp >> 6 & 63));
                    *o++ = (char)(0x80 | (cp & 63));
                }
                break;
            }
            default: *o++ = *p; break; /* \" \\ \/ */
            }
        }
        *o = 0;
        if (!*p) break;
    }
    return n;
}

/* ---- a small GGUF writer for made-up vocabularies ---- */

struct gw {
    char *buf;
    size_t n, cap;
    uint64_t n_kv;
};

static void gw_bytes(struct gw *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 256;
        w->buf = realloc(w->buf, w->cap);
        ck_assert_ptr_nonnull(w->buf);
    }
    memcpy(w->buf + w->n, p, n);
    w->n += n;
}

static void gw_le(struct gw *w, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    gw_bytes(w, b, (size_t)bytes);
}

static void gw_string(struct gw *w, const char *s)
{
    gw_le(w, strlen(s), 8);
    gw_bytes(w, s, strlen(s));
}

static void gw_key(struct gw *w, const char *key, uint32_t type)
{
    gw_string(w, key);
    gw_le(w, type, 4);
    w->n_kv++;
}

static void kv_str(struct gw *w, const char *key, const char *v)
{
    gw_key(w, key, GGUF_STRING);
    gw_string(w, v);
}

static void kv_u32(struct gw *w, const char *key, uint32_t v)
{
    gw_key(w, key, GGUF_U32);
    gw_le(w, v, 4);
}

static void kv_bool(struct gw *w, const char *key, bool v)
{
    gw_key(w, key, GGUF_BOOL);
    gw_le(w, v, 1);
}

static void kv_strs(struct gw *w, const char *key, const char *const *v, size_t n)
{
    gw_key(w, key, GGUF_ARRAY);
    gw_le(w, GGUF_STRING, 4);
    gw_le(w, n, 8);
    for (size_t i = 0; i < n; i++)
        gw_string(w, v[i]);
}

static void kv_f32s(struct gw *w, const char *key, const float *v, size_t n)
{
    gw_key(w, key, GGUF_ARRAY);
    gw_le(w, GGUF_F32, 4);
    gw_le(w, n, 8);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        gw_le(w, u, 4);
    }
}

static void kv_i32s(struct gw *w, const char *key, const int32_t *v, size_t n)
{
    gw_key(w, key, GGUF_ARRAY);
    gw_le(w, GGUF_I32, 4);
    gw_le(w, n, 8);
    for (size_t i = 0; i < n; i++)
        gw_le(w, (uint32_t)v[i], 4);
}

/* Writes the file (no tensors) to a temporary path, returned malloc'd; frees w. */
static char *gw_finish(struct gw *w)
{
    const char *tmp = getenv("TMPDIR");
    char *path = malloc(1024);
    ck_assert_ptr_nonnull(path);
    snprintf(path, 1024, "%s/joule-tok-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp %s", path);
    struct gw h = {0};
    gw_bytes(&h, "GGUF", 4);
    gw_le(&h, 3, 4);
    gw_le(&h, 0, 8);
    gw_le(&h, w->n_kv, 8);
    gw_bytes(&h, w->buf, w->n);
    while (h.n % 32)
        gw_le(&h, 0, 1);
    ck_assert(write(fd, h.buf, h.n) == (ssize_t)h.n);
    close(fd);
    free(h.buf);
    free(w->buf);
    memset(w, 0, sizeof *w);
    return path;
}

/* A made-up SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then the pieces. */
struct synth {
    char bytes[256][7];
    const char *tokens[400];
    float scores[400];
    int32_t types[400];
    size_t n;
};

static void synth_base(struct synth *s)
{
    memset(s, 0, sizeof *s);
    s->tokens[0] = "<unk>";
    s->types[0] = TOK_UNKNOWN;
    s->tokens[1] = "<s>";
    s->types[1] = TOK_CONTROL;
    s->tokens[2] = "</s>";
    s->types[2] = TOK_CONTROL;
    for (int c = 0; c < 256; c++) {
        snprintf(s->bytes[c], sizeof s->bytes[c], "<0x%02X>", c);
        s->tokens[3 + c] = s->bytes[c];
        s->types[3 + c] = TOK_BYTE;
    }
    s->n = 259;
}

static int32_t synth_add(struct synth *s, const char *piece, float score, int32_t type)
{
    s->tokens[s->n] = piece;
    s->scores[s->n] = score;
    s->types[s->n] = type;
    return (int32_t)s->n++;
}

/* synth_base with ▁ (its id in *sp) and "a" (in *a) added: a SentencePiece vocabulary's start. */
static void synth_spm_base(struct synth *s, int32_t *sp, int32_t *a)
{
    synth_base(s);
    *sp = synth_add(s, "\xe2\x96\x81", -1, TOK_NORMAL);
    *a = synth_add(s, "a", -2, TOK_NORMAL);
}

/* The usual tokenizer.ggml.* keys of s, leaving out the key named in skip. */
static void synth_kvs(struct gw *w, const struct synth *s, const char *skip)
{
    if (!skip || strcmp(skip, "tokenizer.ggml.model")) kv_str(w, "tokenizer.ggml.model", "llama");
    if (!skip || strcmp(skip, "tokenizer.ggml.tokens"))
        kv_strs(w, "tokenizer.ggml.tokens", s->tokens, s->n);
    if (!skip || strcmp(skip, "tokenizer.ggml.scores"))
        kv_f32s(w, "tokenizer.ggml.scores", s->scores, s->n);
    if (!skip || strcmp(skip, "tokenizer.ggml.token_type"))
        kv_i32s(w, "tokenizer.ggml.token_type", s->types, s->n);
}

/* Finishes w and loads the tokenizer of that file (which must load); the file is removed. */
static struct tokenizer *gw_load(struct gw *w)
{
    char *path = gw_finish(w);
    struct tokenizer *t = test_load_tokenizer(path);
    unlink(path);
    free(path);
    return t;
}

static struct tokenizer *synth_load(const struct synth *s)
{
    struct gw w = {0};
    synth_kvs(&w, s, NULL);
    return gw_load(&w);
}

/* Loading must fail with a message naming the file and containing want. */
static void expect_load_error(struct gw *w, const char *want)
{
    char *path = gw_finish(w);
    char err[512] = "";
    struct tokenizer *t;
    int rc = test_try_load_tokenizer(path, &t, err, sizeof err);
    unlink(path);
    ck_assert_msg(rc != 0 && t == NULL, "expected a load error containing '%s'", want);
    ck_assert_msg(strstr(err, path) != NULL, "error does not name the file: %s", err);
    ck_assert_msg(strstr(err, want) != NULL, "error '%s' does not mention '%s'", err, want);
    free(path);
}

/* ---- tests on the shared data ---- */

START_TEST(test_vectors_llama_spm)
{
    NEED_SHARED(dir);
    ck_assert_int_eq(test_vocab_vectors(dir, "llama-spm", NULL), 46);
}
END_TEST

START_TEST(test_vectors_phi3)
{
    NEED_SHARED(dir);
    ck_assert_int_eq(test_vocab_vectors(dir, "phi-3", NULL), 46);
}
END_TEST

START_TEST(test_tiny_llama_prompts)
{
    NEED_TOKENIZER(dir, t, "models/tiny-llama-F32.gguf");
    ck_assert_int_eq(tokenizer_n_vocab(t), 1024);
    ck_assert(tokenizer_add_bos(t));
    ck_assert_int_eq(tokenizer_bos(t), 1);
    ck_assert_int_eq(tokenizer_eos(t), 2);
    ck_assert(tokenizer_is_eog(t, 2));
    ck_assert(!tokenizer_is_eog(t, 1));
    ck_assert_str_eq(tokenizer_model_name(t), "llama");

    char *json = test_read_in(dir, "models/tiny-llama-F32.ref/prompts.txt", NULL);
    char *prompts[8];
    size_t np = parse_json_strings(json, prompts, 8);
    ck_assert_int_eq(np, 3);
    ck_assert_str_eq(prompts[1],
                     "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n");
    for (size_t k = 0; k < np; k++) {
        int32_t want[1024];
        size_t n_want = test_ref_tokens(dir, "tiny-llama-F32", k, want, 1024);
        char what[64];
        snprintf(what, sizeof what, "tiny-llama prompt %zu", k);
        test_expect_encode(t, prompts[k], strlen(prompts[k]), tokenizer_add_bos(t), false, want,
                           n_want, what);
        free(prompts[k]);
    }
    free(json);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_special_parsing)
{
    NEED_TOKENIZER(dir, t, "vocab/llama-spm.gguf");
    const char *s = "<s>Hello</s>";
    /* parsed: the text after <s> gets the space prefix, as at the start */
    const int32_t on[] = {1, 15043, 2};
    int32_t *ids;
    size_t n = test_encode(t, s, strlen(s), false, true, &ids);
    test_expect_ids(ids, n, on, 3, "parse_special on");
    char *back = tokenizer_decode(t, ids, n);
    ck_assert_str_eq(back, "Hello"); /* control tokens hidden */
    free(back);
    struct detok d;
    detok_init(&d, t, true);
    d.show_special = true;
    char out[256];
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += detok_push(&d, ids[i], out + o, sizeof out - o);
    o += detok_flush(&d, out + o, sizeof out - o);
    ck_assert_int_eq(o, strlen("<s> Hello</s>"));
    ck_assert(memcmp(out, "<s> Hello</s>", o) == 0);
    free(ids);

    /* not parsed: plain text, and it comes back unchanged */
    n = test_encode(t, s, strlen(s), false, false, &ids);
    for (size_t i = 0; i < n; i++)
        ck_assert(ids[i] != 1 && ids[i] != 2);
    back = tokenizer_decode(t, ids, n);
    ck_assert_str_eq(back, s);
    free(back);
    free(ids);

    /* BOS plus a special token first: the prefix goes on the text after it */
    n = test_encode(t, "<s>", 3, true, true, &ids);
    const int32_t bos_s[] = {1, 1};
    test_expect_ids(ids, n, bos_s, 2, "BOS + <s>");
    free(ids);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_phi3_special)
{
    NEED_TOKENIZER(dir, t, "vocab/phi-3.gguf");
    ck_assert_int_eq(tokenizer_eos(t), 32000);
    ck_assert_int_eq(tokenizer_eot(t), 32007); /* <|end|>, found by its text */
    ck_assert(tokenizer_is_eog(t, 32000) && tokenizer_is_eog(t, 32007));
    ck_assert_int_eq(tokenizer_find(t, "<|user|>", 8), 32010);
    /* </s> is USER_DEFINED in the file, but it is EOS's text: CONTROL, so plain text never
     * gives it; parsed, it (Phi-3 rule) eats the whitespace after it */
    ck_assert_int_eq(tokenizer_token_type(t, 2), TOK_CONTROL);

    int32_t *a, *b, *ids;
    size_t na = test_encode(t, "a", 1, false, false, &a);
    size_t nb = test_encode(t, "b", 1, false, false, &b);
    size_t n = test_encode(t, "a</s> b", 7, false, false, &ids);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_ne(ids[i], 2);
    free(ids);
    n = test_encode(t, "a</s> b", 7, false, true, &ids);
    ck_assert_int_eq(n, na + 1 + nb);
    test_expect_ids(ids, na, a, na, "before </s>");
    ck_assert_int_eq(ids[na], 2);
    test_expect_ids(ids + na + 1, nb, b, nb, "after </s>");
    free(ids);

    /* <|user|> is CONTROL: text unless parsed */
    n = test_encode(t, "<|user|>\nb", 10, false, false, &ids);
    for (size_t i = 0; i < n; i++)
        ck_assert(ids[i] != 32010);
    free(ids);
    n = test_encode(t, "<|user|>\nb", 10, false, true, &ids);
    ck_assert_int_eq(n, 1 + nb);
    ck_assert_int_eq(ids[0], 32010);
    test_expect_ids(ids + 1, nb, b, nb, "after <|user|>");
    free(ids);
    free(a);
    free(b);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_empty_input)
{
    NEED_TOKENIZER(dir, t, "vocab/llama-spm.gguf");
    int32_t *ids;
    ck_assert_int_eq(test_encode(t, "", 0, false, false, &ids), 0);
    free(ids);
    ck_assert_int_eq(test_encode(t, NULL, 0, false, true, &ids), 0);
    free(ids);
    ck_assert_int_eq(test_encode(t, "", 0, true, false, &ids), 1);
    ck_assert_int_eq(ids[0], 1);
    char *s = tokenizer_decode(t, ids, 1);
    ck_assert_str_eq(s, "");
    free(s);
    free(ids);
    s = tokenizer_decode(t, NULL, 0);
    ck_assert_str_eq(s, "");
    free(s);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_invalid_utf8)
{
    NEED_TOKENIZER(dir, t, "vocab/llama-spm.gguf");
    /* stray bytes, an overlong form, a surrogate, a lead byte cut by ASCII, a truncated end */
    const char s[] = "\xff\xfe"
                     "A\xc0\xaf\xed\xa0\x80"
                     "B\xe4"
                     "C\xe4\xb8";
    const size_t len = sizeof s - 1;
    int32_t *ids;
    size_t n = test_encode(t, s, len, false, false, &ids);
    /* each bad byte is its own byte token, so the bytes survive */
    char raw[256];
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += tokenizer_token_bytes(t, ids[i], false, raw + o, 256 - o);
    ck_assert_int_eq(o, len + 1);
    ck_assert(raw[0] == ' ' && memcmp(raw + 1, s, len) == 0);
    ck_assert_int_eq(ids[1], 3 + 0xff);
    ck_assert_int_eq(ids[2], 3 + 0xfe);
    /* decoding gives valid UTF-8: one U+FFFD per bad byte, one for the cut sequences */
    char *d = tokenizer_decode(t, ids, n);
    const char *want = "\xef\xbf\xbd\xef\xbf\xbd"
                       "A"
                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                       "\xef\xbf\xbd\xef\xbf\xbd"
                       "B\xef\xbf\xbd"
                       "C\xef\xbf\xbd";
    ck_assert_str_eq(d, want);
    free(d);
    free(ids);
    /* every single byte value alone, and a NUL in the middle */
    for (int c = 0; c < 256; c++) {
        char one[3] = {(char)c, 0, 'x'};
        n = test_encode(t, one, 3, true, true, &ids);
        ck_assert(n >= 2);
        free(ids);
    }
    tokenizer_free(t);
}
END_TEST

START_TEST(test_detok_stream)
{
    NEED_TOKENIZER(dir, t, "vocab/llama-spm.gguf");
    /* "€" (E2 82 AC) from three byte tokens: nothing until the last one */
    struct detok d;
    detok_init(&d, t, false);
    char out[64];
    ck_assert_uint_eq(detok_push(&d, 3 + 0xE2, out, sizeof out), 0);
    ck_assert_uint_eq(detok_push(&d, 3 + 0x82, out, sizeof out), 0);
    ck_assert_uint_eq(detok_push(&d, 3 + 0xAC, out, sizeof out), 3);
    ck_assert(memcmp(out, "\xe2\x82\xac", 3) == 0);
    ck_assert_uint_eq(detok_flush(&d, out, sizeof out), 0);

    /* a cut sequence followed by text: U+FFFD, then the text */
    int32_t *ids;
    size_t n = test_encode(t, "Hello", 5, false, false, &ids);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(detok_push(&d, 3 + 0xF0, out, sizeof out), 0);
    ck_assert_uint_eq(detok_push(&d, 3 + 0x9F, out, sizeof out), 0);
    size_t o = detok_push(&d, ids[0], out, sizeof out);
    ck_assert_uint_eq(o, 3 + 6);
    ck_assert(memcmp(out, "\xef\xbf\xbd Hello", o) == 0);
    /* a cut sequence at the end: flushed as U+FFFD */
    ck_assert_uint_eq(detok_push(&d, 3 + 0xC3, out, sizeof out), 0);
    ck_assert_uint_eq(detok_flush(&d, out, sizeof out), 3);
    ck_assert(memcmp(out, "\xef\xbf\xbd", 3) == 0);
    free(ids);

    /* the leading space goes once, from the first piece that prints; BOS does not count */
    detok_init(&d, t, true);
    ck_assert_uint_eq(detok_push(&d, 1, out, sizeof out), 0);
    ck_assert_uint_eq(detok_push(&d, 15043, out, sizeof out), 5); /* "▁Hello" */
    ck_assert_uint_eq(detok_push(&d, 15043, out, sizeof out), 6);
    /* a tiny buffer drops whole characters, never half of one */
    ck_assert_uint_eq(detok_push(&d, 3 + 0xE2, out, 2), 0);
    ck_assert_uint_eq(detok_push(&d, 3 + 0x82, out, 2), 0);
    ck_assert_uint_eq(detok_push(&d, 3 + 0xAC, out, 2), 0);
    ck_assert_uint_eq(detok_push(&d, -5, out, sizeof out), 0);
    ck_assert_uint_eq(detok_push(&d, 1 << 30, out, sizeof out), 0);
    ck_assert(detok_max_bytes(t) >= 3 * 16);

    /* token bytes: spaces restored, control hidden unless asked */
    char buf[32];
    ck_assert_uint_eq(tokenizer_token_bytes(t, 15043, false, buf, sizeof buf), 6);
    ck_assert(memcmp(buf, " Hello", 6) == 0);
    ck_assert_uint_eq(tokenizer_token_bytes(t, 1, false, buf, sizeof buf), 0);
    ck_assert_uint_eq(tokenizer_token_bytes(t, 1, true, buf, sizeof buf), 3);
    ck_assert_uint_eq(tokenizer_token_bytes(t, 0, false, buf, sizeof buf), 0);
    ck_assert_uint_eq(tokenizer_token_bytes(t, 3 + 'A', false, buf, sizeof buf), 1);
    ck_assert_int_eq(buf[0], 'A');
    ck_assert_uint_eq(tokenizer_token_bytes(t, 15043, false, buf, 2), 6); /* full length */
    tokenizer_free(t);
}
END_TEST

START_TEST(test_long_text)
{
    NEED_TOKENIZER(dir, t, "vocab/llama-spm.gguf");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/ppl-text.txt", dir);
    size_t len = 0;
    char *txt = test_read_file(path, &len);
    ck_assert_ptr_nonnull(txt);
    int32_t *ids;
    size_t n = test_encode(t, txt, len, true, false, &ids);
    ck_assert(n > len / 8 && n < len);
    char *back = tokenizer_decode(t, ids, n);
    ck_assert_ptr_nonnull(back);
    ck_assert(strlen(back) == len && memcmp(back, txt, len) == 0);
    free(back);
    free(ids);
    free(txt);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_gpt2_loads)
{
    NEED_SHARED(dir);
    /* byte-level BPE is covered by the bpe suite; here: it loads and says what it is */
    struct tokenizer *t = test_load_tokenizer_at(dir, "vocab/gpt-2.gguf");
    ck_assert_str_eq(tokenizer_model_name(t), "gpt2");
    ck_assert_str_eq(tokenizer_pre_name(t), "gpt-2");
    ck_assert_ptr_null(tokenizer_chat_template(t));
    tokenizer_free(t);
    t = test_load_tokenizer_at(dir, "vocab/llama-spm.gguf");
    ck_assert_str_eq(tokenizer_pre_name(t), "");
    tokenizer_free(t);
}
END_TEST

/* ---- tests on made-up vocabularies (no shared data needed) ---- */

START_TEST(test_merge_order)
{
    struct synth s;
    int32_t sp, a;
    synth_spm_base(&s, &sp, &a);
    int32_t b = synth_add(&s, "b", -3, TOK_NORMAL);
    int32_t c = synth_add(&s, "c", -4, TOK_NORMAL);
    synth_add(&s, "ab", -5, TOK_NORMAL);
    synth_add(&s, "bc", -1.5f, TOK_NORMAL);
    int32_t spa = synth_add(&s,
                            "\xe2\x96\x81"
                            "a",
                            -10, TOK_NORMAL);
    int32_t abc = synth_add(&s, "abc", -6, TOK_NORMAL);
    int32_t aa = synth_add(&s, "aa", -1, TOK_NORMAL);
    int32_t ud = synth_add(&s, "{u}", 0, TOK_USER_DEFINED);
    int32_t ctl = synth_add(&s, "<|c|>", 0, TOK_CONTROL);
    int32_t udc = synth_add(&s, "<|v|>", 0, TOK_USER_DEFINED); /* looks like control */
    struct tokenizer *t = synth_load(&s);
    ck_assert_int_eq(tokenizer_n_vocab(t), (int32_t)s.n);

    /* bc (best score) first, then a+bc; the queued ab and ▁a went stale */
    const int32_t w1[] = {sp, abc};
    test_expect_encode(t, "abc", 3, false, false, w1, 2, "abc");
    /* equal scores: the leftmost pair wins */
    const int32_t w2[] = {sp, aa, a};
    test_expect_encode(t, "aaa", 3, false, false, w2, 3, "aaa");
    /* no piece: bytes */
    const int32_t w3[] = {sp, 3 + 0xC3, 3 + 0xA9, b};
    test_expect_encode(t,
                       "\xc3\xa9"
                       "b",
                       3, false, false, w3, 4, "byte fallback");
    /* user-defined: always split out; the text after it gets the prefix again */
    const int32_t w4[] = {spa, ud, sp, b};
    int32_t *ids;
    size_t n = test_encode(t, "a{u}b", 5, false, false, &ids);
    test_expect_ids(ids, n, w4, 4, "user-defined");
    /* as in llama.cpp, only the space at the very start is taken off again */
    char *back = tokenizer_decode(t, ids, n);
    ck_assert_str_eq(back, "a{u} b");
    free(back);
    free(ids);
    /* a user-defined token that looks like a control token is one: parsed only on request */
    ck_assert_int_eq(tokenizer_token_type(t, udc), TOK_CONTROL);
    n = test_encode(t, "a<|v|>", 6, false, false, &ids);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_ne(ids[i], udc);
    free(ids);
    n = test_encode(t, "a<|v|>", 6, false, true, &ids);
    ck_assert(n == 2 && ids[1] == udc);
    free(ids);
    /* control: only when parsed ("c" is a piece, the rest bytes) */
    const int32_t w5[] = {spa, 3 + '<', 3 + '|', c, 3 + '|', 3 + '>'};
    test_expect_encode(t, "a<|c|>", 6, false, false, w5, 6, "control as text");
    const int32_t w6[] = {1, spa, ctl};
    n = test_encode(t, "a<|c|>", 6, true, true, &ids);
    test_expect_ids(ids, n, w6, 3, "control parsed");
    free(ids);
    tokenizer_free(t);
}
END_TEST

/* Special tokens are found leftmost-longest in one scan, as Hugging Face does: "ab" starts
 * before "bcd" overlaps it, so "abcd" is ab + "cd" (llama.cpp's longest-token-first passes
 * would give "a" + bcd). Among tokens starting at one byte the longest wins. */
START_TEST(test_special_leftmost_longest)
{
    struct synth s;
    synth_base(&s);
    int32_t ab = synth_add(&s, "{ab", 0, TOK_USER_DEFINED);
    synth_add(&s, "ab}x", 0, TOK_USER_DEFINED);
    int32_t c = synth_add(&s, "c", -1, TOK_NORMAL);
    int32_t ab2 = synth_add(&s, "{ab}", 0, TOK_USER_DEFINED);
    int32_t sp = synth_add(&s, "\xe2\x96\x81", -1, TOK_NORMAL);
    struct tokenizer *t = synth_load(&s);
    int32_t *ids;
    /* "{ab" at 0 is the leftmost; "ab}x" overlaps it and loses */
    size_t n = test_encode(t, "{ab}xc", 6, false, false, &ids);
    ck_assert_uint_ge(n, 2);
    ck_assert_int_ne(ids[0], ab); /* "{ab}" (longer, same start) wins over "{ab" */
    ck_assert_int_eq(ids[0], ab2);
    free(ids);
    n = test_encode(t, "{abc", 4, false, false, &ids);
    const int32_t w[] = {ab, sp, c}; /* the raw text after a special gets the space prefix */
    test_expect_ids(ids, n, w, 3, "leftmost-longest");
    free(ids);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_no_space_prefix)
{
    struct synth s;
    int32_t sp, a;
    synth_spm_base(&s, &sp, &a);
    struct gw w = {0};
    synth_kvs(&w, &s, NULL);
    kv_bool(&w, "tokenizer.ggml.add_space_prefix", false);
    kv_bool(&w, "tokenizer.ggml.add_bos_token", false);
    kv_u32(&w, "tokenizer.ggml.padding_token_id", (uint32_t)s.n); /* one past: ignored */
    struct tokenizer *t = gw_load(&w);
    ck_assert(!tokenizer_add_bos(t));
    const int32_t w1[] = {a, sp, a};
    test_expect_encode(t, "a a", 3, false, false, w1, 3, "no prefix");
    test_expect_encode(t, " a", 2, false, false, w1 + 1, 2, "leading space kept");
    tokenizer_free(t);
}
END_TEST

START_TEST(test_load_errors)
{
    struct synth s;
    synth_base(&s);
    synth_add(&s, "a", -1, TOK_NORMAL);
    struct gw w = {0};

    synth_kvs(&w, &s, "tokenizer.ggml.model");
    kv_str(&w, "tokenizer.ggml.model", "bert");
    expect_load_error(&w, "'bert' is not supported");

    synth_kvs(&w, &s, "tokenizer.ggml.model");
    expect_load_error(&w, "tokenizer.ggml.model' is missing");

    synth_kvs(&w, &s, "tokenizer.ggml.tokens");
    expect_load_error(&w, "tokenizer.ggml.tokens' is missing");

    synth_kvs(&w, &s, "tokenizer.ggml.tokens");
    kv_i32s(&w, "tokenizer.ggml.tokens", s.types, s.n);
    expect_load_error(&w, "not an array of strings");

    synth_kvs(&w, &s, "tokenizer.ggml.scores");
    kv_f32s(&w, "tokenizer.ggml.scores", s.scores, s.n - 1);
    expect_load_error(&w, "tokenizer.ggml.scores' has 259 entries");

    synth_kvs(&w, &s, "tokenizer.ggml.token_type");
    kv_f32s(&w, "tokenizer.ggml.token_type", s.scores, s.n);
    expect_load_error(&w, "tokenizer.ggml.token_type' is not an array of");

    s.types[5] = 7;
    synth_kvs(&w, &s, NULL);
    expect_load_error(&w, "token_type[5] = 7");
    s.types[5] = TOK_BYTE;

    s.tokens[7] = "<0xZZ>";
    synth_kvs(&w, &s, NULL);
    expect_load_error(&w, "token 7 has type BYTE");
    s.tokens[7] = "<0x04>";

    synth_kvs(&w, &s, NULL);
    kv_u32(&w, "tokenizer.ggml.bos_token_id", (uint32_t)s.n);
    expect_load_error(&w, "tokenizer.ggml.bos_token_id' = 260 is not a token id");

    synth_kvs(&w, &s, NULL);
    kv_u32(&w, "tokenizer.ggml.eot_token_id", 100000);
    expect_load_error(&w, "eot_token_id");

    synth_kvs(&w, &s, NULL);
    kv_str(&w, "tokenizer.ggml.eos_token_id", "2");
    expect_load_error(&w, "eos_token_id' is not an integer");

    synth_kvs(&w, &s, NULL);
    kv_u32(&w, "tokenizer.ggml.add_bos_token", 1);
    expect_load_error(&w, "add_bos_token' is not a bool");

    /* and the same keys well formed load fine */
    synth_kvs(&w, &s, NULL);
    kv_u32(&w, "tokenizer.ggml.bos_token_id", 1);
    kv_bool(&w, "tokenizer.ggml.add_bos_token", true);
    struct tokenizer *t = gw_load(&w);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_no_bos)
{
    struct synth s;
    synth_base(&s);
    struct gw w = {0};
    synth_kvs(&w, &s, NULL);
    gw_key(&w, "tokenizer.ggml.bos_token_id", GGUF_I32);
    gw_le(&w, (uint32_t)-1, 4);
    struct tokenizer *t = gw_load(&w);
    ck_assert_int_eq(tokenizer_bos(t), -1);
    ck_assert(!tokenizer_add_bos(t));
    int32_t *ids = NULL;
    size_t n = 0;
    char err[256] = "";
    ck_assert(tokenizer_encode(t, "x", 1, true, false, &ids, &n, err, sizeof err) != 0);
    ck_assert_ptr_null(ids);
    ck_assert_msg(strstr(err, "BOS") != NULL, "%s", err);
    tokenizer_free(t);
}
END_TEST

Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_vectors_llama_spm);
    tcase_add_test(tc, test_vectors_phi3);
    tcase_add_test(tc, test_tiny_llama_prompts);
    tcase_add_test(tc, test_special_parsing);
    tcase_add_test(tc, test_phi3_special);
    tcase_add_test(tc, test_empty_input);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_detok_stream);
    tcase_add_test(tc, test_long_text);
    tcase_add_test(tc, test_gpt2_loads);
    tcase_add_test(tc, test_merge_order);
    tcase_add_test(tc, test_no_space_prefix);
    tcase_add_test(tc, test_special_leftmost_longest);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_no_bos);
    suite_add_tcase(s, tc);
    return s;
}
