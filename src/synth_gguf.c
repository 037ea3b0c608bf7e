/* synth_gguf — a synthetic model written as a GGUF file. See synth_gguf.h. */
#include "synth_gguf.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_util.h"
#include "gguf.h"
#include "quant.h"

#define ALIGN 32u
/* Weight bytes generated per write: large enough that the file system sees big writes,
 * small enough that memory use stays flat (a 8 GiB model is written with this much). */
#define CHUNK_BYTES ((uint64_t)4 << 20)

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- an in-memory byte buffer for the header sections ---- */

struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 4096;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_le(struct buf *b, uint64_t v, unsigned n)
{
    uint8_t x[8];
    for (unsigned i = 0; i < n; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, n);
}

static void put_str(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    put_le(b, n, 8);
    put(b, s, n);
}

/* ---- metadata ---- */

struct kvs {
    struct buf b;
    uint64_t n;
};

static void kv_key(struct kvs *k, const char *key, enum gguf_vtype type)
{
    put_str(&k->b, key);
    put_le(&k->b, (uint32_t)type, 4);
    k->n++;
}

static void kv_u32(struct kvs *k, const char *key, uint32_t v)
{
    kv_key(k, key, GGUF_U32);
    put_le(&k->b, v, 4);
}

static void kv_u64(struct kvs *k, const char *key, uint64_t v)
{
    kv_key(k, key, GGUF_U64);
    put_le(&k->b, v, 8);
}

static void kv_f32(struct kvs *k, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    kv_key(k, key, GGUF_F32);
    put_le(&k->b, u, 4);
}

static void kv_bool(struct kvs *k, const char *key, bool v)
{
    kv_key(k, key, GGUF_BOOL);
    put_le(&k->b, v ? 1 : 0, 1);
}

static void kv_str(struct kvs *k, const char *key, const char *v)
{
    kv_key(k, key, GGUF_STRING);
    put_str(&k->b, v);
}

static void kv_arr_head(struct kvs *k, const char *key, enum gguf_vtype elem, uint64_t n)
{
    kv_key(k, key, GGUF_ARRAY);
    put_le(&k->b, (uint32_t)elem, 4);
    put_le(&k->b, n, 8);
}

/* ---- the vocabulary ---- */

enum { T_NORMAL = 1, T_UNKNOWN = 2, T_CONTROL = 3, T_USER = 4, T_UNUSED = 5, T_BYTE = 6 };

struct vocab {
    struct buf tok;   /* the token strings, GGUF-encoded one after another */
    struct buf score; /* f32 per token (SentencePiece only) */
    struct buf type;  /* i32 per token */
    struct buf merge; /* GGUF-encoded merge strings (BPE only) */
    int32_t n, n_merge;
};

static void add_tok(struct vocab *v, const char *s, float score, int32_t type)
{
    put_str(&v->tok, s);
    uint32_t u;
    memcpy(&u, &score, 4);
    put_le(&v->score, u, 4);
    put_le(&v->type, (uint32_t)type, 4);
    v->n++;
}

static void add_merge(struct vocab *v, const char *left, const char *right)
{
    char m[64];
    snprintf(m, sizeof m, "%s %s", left, right);
    put_str(&v->merge, m);
    v->n_merge++;
}

/* Letters by English frequency, so the short words come first. */
static const char alpha[] = "etaoinshrdlcumwfgypbvkjxqz";

/* The i-th word of length len over alpha (len <= 8). */
static void word(int len, uint64_t i, char *out)
{
    for (int j = len - 1; j >= 0; j--) {
        out[j] = alpha[i % 26];
        i /= 26;
    }
    out[len] = 0;
}

#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's space */
#define BPE_SPACE "\xc4\xa0"     /* U+0120 'Ġ', the byte-level BPE character of ' ' */

static void make_spm(struct vocab *v, int32_t n_vocab)
{
    add_tok(v, "<unk>", 0, T_UNKNOWN);
    add_tok(v, "<s>", 0, T_CONTROL);
    add_tok(v, "</s>", 0, T_CONTROL);
    for (int b = 0; b < 256 && v->n < n_vocab; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        add_tok(v, s, 0, T_BYTE);
    }
    float rank = 0;
    static const char *singles[] = {SPM_SPACE, "0", "1", "2", "3", "4",  "5", "6", "7", "8", "9",
                                    ".",       ",", "!", "?", "'", "\"", "-", ":", ";", "(", ")"};
    for (size_t i = 0; i < sizeof singles / sizeof singles[0] && v->n < n_vocab; i++)
        add_tok(v, singles[i], -(rank++), T_NORMAL);
    uint64_t count = 26;
    for (int len = 1; len <= 8 && v->n < n_vocab; len++, count *= 26)
        for (uint64_t i = 0; i < count && v->n < n_vocab; i++) {
            char w[16], s[32];
            word(len, i, w);
            snprintf(s, sizeof s, SPM_SPACE "%s", w);
            add_tok(v, s, -(rank++), T_NORMAL);
            if (v->n < n_vocab) add_tok(v, w, -(rank++), T_NORMAL);
        }
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for
 * U+0100 upwards in byte order. Writes the UTF-8 of byte b's character. */
static void byte_char(int b, char out[4])
{
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    unsigned cp = (unsigned)b;
    if (!printable) {
        unsigned k = 0;
        for (int c = 0; c < b; c++)
            if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)))
                k++;
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

static void make_bpe(struct vocab *v, int32_t n_regular)
{
    for (int b = 0; b < 256; b++) {
        char s[4];
        byte_char(b, s);
        add_tok(v, s, 0, T_NORMAL);
    }
    /* every longer token is one merge of two earlier ones: "Ġ" + "e", "th" + "e", ... */
    uint64_t count = 26;
    for (int len = 1; len <= 8 && v->n < n_regular; len++, count *= 26)
        for (uint64_t i = 0; i < count && v->n < n_regular; i++) {
            char w[16], s[32], left[32];
            word(len, i, w);
            snprintf(s, sizeof s, BPE_SPACE "%s", w);
            snprintf(left, sizeof left, BPE_SPACE "%.*s", len - 1, w);
            add_merge(v, left, w + len - 1);
            add_tok(v, s, 0, T_NORMAL);
            if (len >= 2 && v->n < n_regular) {
                snprintf(left, sizeof left, "%.*s", len - 1, w);
                add_merge(v, left, w + len - 1);
                add_tok(v, w, 0, T_NORMAL);
            }
        }
}

/* Llama 3's 256 special tokens, as published (ids 128000..128255). */
static void llama3_specials(struct vocab *v)
{
    static const char *named[] = {"<|begin_of_text|>",
                                  "<|end_of_text|>",
                                  "<|reserved_special_token_0|>",
                                  "<|reserved_special_token_1|>",
                                  "<|finetune_right_pad_id|>",
                                  "<|reserved_special_token_2|>",
                                  "<|start_header_id|>",
                                  "<|end_header_id|>",
                                  "<|eom_id|>",
                                  "<|eot_id|>",
                                  "<|python_tag|>"};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        add_tok(v, named[i], 0, T_CONTROL);
    for (int r = 3; v->n < 128256; r++) {
        char s[48];
        snprintf(s, sizeof s, "<|reserved_special_token_%d|>", r);
        add_tok(v, s, 0, T_CONTROL);
    }
}

/* Qwen2.5's 22 special tokens, as published (ids 151643..151664). */
static void qwen2_specials(struct vocab *v)
{
    static const char *named[] = {
        "<|endoftext|>",      "<|im_start|>",     "<|im_end|>",     "<|object_ref_start|>",
        "<|object_ref_end|>", "<|box_start|>",    "<|box_end|>",    "<|quad_start|>",
        "<|quad_end|>",       "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
        "<|image_pad|>",      "<|video_pad|>",    "<tool_call>",    "</tool_call>",
        "<|fim_prefix|>",     "<|fim_middle|>",   "<|fim_suffix|>", "<|fim_pad|>",
        "<|repo_name|>",      "<|file_sep|>"};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        add_tok(v, named[i], 0, named[i][1] == '|' ? T_CONTROL : T_USER);
}

static void vocab_free(struct vocab *v)
{
    free(v->tok.p);
    free(v->score.p);
    free(v->type.p);
    free(v->merge.p);
}

/* Fills the tokenizer.* metadata. Returns false when out of memory. */
static bool put_vocab(struct kvs *k, const struct synth_shape *s)
{
    struct vocab v;
    memset(&v, 0, sizeof v);
    int32_t bos = -1, eos = -1, eot = -1, pad = -1;
    bool add_bos = true;
    const char *model = "llama", *pre = NULL;
    if (s->vocab == SYNTH_VOCAB_SPM) {
        make_spm(&v, s->n_vocab);
        bos = 1, eos = 2;
    } else if (s->vocab == SYNTH_VOCAB_LLAMA3) {
        model = "gpt2", pre = "llama-bpe";
        make_bpe(&v, s->n_vocab - 256);
        llama3_specials(&v);
        bos = s->n_vocab - 256, eos = bos + 1, eot = bos + 9;
    } else {
        model = "gpt2", pre = "qwen2";
        add_bos = false;
        make_bpe(&v, 151643);
        bos = eos = pad = v.n;
        qwen2_specials(&v);
    }
    while (v.n < s->n_vocab) { /* the embedding's extra rows, as llama.cpp's converter names them */
        char p[32];
        snprintf(p, sizeof p, "[PAD%d]", (int)v.n);
        add_tok(&v, p, 0, T_UNUSED);
    }
    kv_str(k, "tokenizer.ggml.model", model);
    if (pre) kv_str(k, "tokenizer.ggml.pre", pre);
    kv_arr_head(k, "tokenizer.ggml.tokens", GGUF_STRING, (uint64_t)v.n);
    put(&k->b, v.tok.p, v.tok.len);
    if (s->vocab == SYNTH_VOCAB_SPM) {
        kv_arr_head(k, "tokenizer.ggml.scores", GGUF_F32, (uint64_t)v.n);
        put(&k->b, v.score.p, v.score.len);
    }
    kv_arr_head(k, "tokenizer.ggml.token_type", GGUF_I32, (uint64_t)v.n);
    put(&k->b, v.type.p, v.type.len);
    if (v.n_merge) {
        kv_arr_head(k, "tokenizer.ggml.merges", GGUF_STRING, (uint64_t)v.n_merge);
        put(&k->b, v.merge.p, v.merge.len);
    }
    kv_u32(k, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    kv_u32(k, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    if (eot >= 0) kv_u32(k, "tokenizer.ggml.eot_token_id", (uint32_t)eot);
    if (pad >= 0) kv_u32(k, "tokenizer.ggml.padding_token_id", (uint32_t)pad);
    if (s->vocab == SYNTH_VOCAB_SPM) kv_u32(k, "tokenizer.ggml.unknown_token_id", 0);
    kv_bool(k, "tokenizer.ggml.add_bos_token", add_bos);
    kv_bool(k, "tokenizer.ggml.add_eos_token", false);
    bool oom = v.tok.oom || v.score.oom || v.type.oom || v.merge.oom;
    vocab_free(&v);
    return !oom;
}

uint32_t synth_gguf_file_type(enum synth_ftype f)
{
    switch (f) {
    case SYNTH_Q8_0: return 7;    /* LLAMA_FTYPE_MOSTLY_Q8_0 */
    case SYNTH_Q4_K_M: return 15; /* LLAMA_FTYPE_MOSTLY_Q4_K_M */
    default: return 2;            /* LLAMA_FTYPE_MOSTLY_Q4_0 */
    }
}

static void put_config(struct kvs *k, const struct synth_shape *s, enum synth_ftype f,
                       uint64_t seed)
{
    const char *arch = s->vocab == SYNTH_VOCAB_QWEN2 ? "qwen2" : "llama";
    char name[128], key[96];
    snprintf(name, sizeof name, "%s-%s", s->name, synth_ftype_name(f));
    kv_str(k, "general.architecture", arch);
    kv_str(k, "general.name", name);
    kv_str(k, "general.description",
           "synthetic weights (random values) in the shapes and tensor types of the published "
           "model; written by joule synth");
    kv_u32(k, "general.file_type", synth_gguf_file_type(f));
    kv_u32(k, "general.quantization_version", 2);
    kv_u32(k, "general.alignment", ALIGN);
    kv_str(k, "joule.synth.name", name);
    kv_str(k, "joule.synth.source", s->source);
    kv_u64(k, "joule.synth.seed", seed);
#define KEY(sfx) (snprintf(key, sizeof key, "%s." sfx, arch), key)
    kv_u32(k, KEY("vocab_size"), (uint32_t)s->n_vocab);
    kv_u32(k, KEY("context_length"), (uint32_t)s->n_ctx_train);
    kv_u32(k, KEY("embedding_length"), (uint32_t)s->n_embd);
    kv_u32(k, KEY("block_count"), (uint32_t)s->n_layer);
    kv_u32(k, KEY("feed_forward_length"), (uint32_t)s->n_ff);
    kv_u32(k, KEY("rope.dimension_count"), (uint32_t)(s->n_embd / s->n_head));
    kv_u32(k, KEY("attention.head_count"), (uint32_t)s->n_head);
    kv_u32(k, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    kv_f32(k, KEY("attention.layer_norm_rms_epsilon"), s->rms_eps);
    kv_f32(k, KEY("rope.freq_base"), s->rope_base);
#undef KEY
}

/* ---- tensor table ---- */

struct infos {
    struct buf b;
    uint64_t offset; /* running data offset */
    uint64_t max_row_bytes;
    bool bad; /* a tensor type without a known row size */
};

static uint64_t align_up(uint64_t x)
{
    return (x + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

static void info_one(const struct synth_tensor *t, void *ctx)
{
    struct infos *in = ctx;
    uint64_t row = 0;
    if (!quant_row_bytes(t->type, (uint64_t)t->ne0, &row)) in->bad = true;
    put_str(&in->b, t->name);
    bool one_d = t->ne1 == 1;
    put_le(&in->b, one_d ? 1 : 2, 4);
    put_le(&in->b, (uint64_t)t->ne0, 8);
    if (!one_d) put_le(&in->b, (uint64_t)t->ne1, 8);
    put_le(&in->b, t->type, 4);
    in->offset = align_up(in->offset);
    put_le(&in->b, in->offset, 8);
    in->offset += row * (uint64_t)t->ne1;
    if (row > in->max_row_bytes) in->max_row_bytes = row;
}

/* ---- writing ---- */

struct out {
    FILE *f;
    const char *path;
    int err; /* first errno, 0 while fine */
    uint64_t pos;
};

static void out_write(struct out *o, const void *p, size_t n)
{
    o->pos += n; /* counted even after an error, so the padding loops end */
    if (o->err || n == 0) return;
    errno = 0;
    if (fwrite(p, 1, n, o->f) != n) o->err = errno ? errno : EIO;
}

static void out_pad(struct out *o, uint64_t to)
{
    static const uint8_t zeros[ALIGN];
    while (o->pos < to) {
        uint64_t n = to - o->pos < ALIGN ? to - o->pos : ALIGN;
        out_write(o, zeros, (size_t)n);
    }
}

struct data_ctx {
    struct out *o;
    uint8_t *chunk;
    uint64_t chunk_cap;
    uint64_t seed;
    int index;
};

static void data_one(const struct synth_tensor *t, void *ctx)
{
    struct data_ctx *d = ctx;
    struct out *o = d->o;
    uint64_t row = 0;
    quant_row_bytes(t->type, (uint64_t)t->ne0, &row);
    uint64_t rows_per = (d->chunk_cap / row) & ~(uint64_t)7; /* whole rows, a multiple of 8 */
    if (rows_per == 0) rows_per = 1; /* a single row larger than a chunk: cap was sized for it */
    struct synth_fill fill;
    synth_fill_init(&fill, t, d->index++, d->seed);
    out_pad(o, align_up(o->pos));
    for (int64_t r = 0; r < t->ne1 && !o->err; r += (int64_t)rows_per) {
        uint64_t n = (uint64_t)(t->ne1 - r) < rows_per ? (uint64_t)(t->ne1 - r) : rows_per;
        synth_fill_next(&fill, d->chunk, n * row);
        out_write(o, d->chunk, (size_t)(n * row));
    }
}

int synth_gguf_write(const struct synth_shape *s, enum synth_ftype f, uint64_t seed,
                     const char *path, uint64_t *bytes_out, char *err, size_t errlen)
{
    if (bytes_out) *bytes_out = 0;
    if (!seed) seed = SYNTH_DEFAULT_SEED;
    struct kvs k;
    memset(&k, 0, sizeof k);
    struct infos in;
    memset(&in, 0, sizeof in);
    put_config(&k, s, f, seed);
    bool vocab_ok = put_vocab(&k, s);
    int n_tensors = synth_foreach(s, f, info_one, &in);
    uint8_t *chunk = NULL;
    int rc = 0;
    if (!vocab_ok || k.b.oom || in.b.oom) {
        rc = fail(err, errlen, "%s: out of memory making the header", path);
        goto done;
    }
    if (in.bad) {
        rc = fail(err, errlen, "%s: a tensor type has no known size (internal error)", path);
        goto done;
    }
    uint64_t cap = CHUNK_BYTES > 8 * in.max_row_bytes ? CHUNK_BYTES : 8 * in.max_row_bytes;
    chunk = malloc((size_t)cap);
    if (!chunk) {
        rc = fail(err, errlen, "%s: out of memory (a %" PRIu64 "-byte write buffer)", path, cap);
        goto done;
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        rc = fail(err, errlen, "cannot create %s: %s", path, strerror(errno));
        goto done;
    }
    struct stat st;
    bool regular = fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode);
    struct out o = {fp, path, 0, 0};
    struct buf h = {0};
    put(&h, "GGUF", 4);
    put_le(&h, 3, 4);
    put_le(&h, (uint64_t)n_tensors, 8);
    put_le(&h, k.n, 8);
    if (h.oom) o.err = ENOMEM;
    out_write(&o, h.p, h.len);
    free(h.p);
    out_write(&o, k.b.p, k.b.len);
    out_write(&o, in.b.p, in.b.len);
    out_pad(&o, align_up(o.pos));
    struct data_ctx d = {&o, chunk, cap, seed, 0};
    synth_foreach(s, f, data_one, &d);
    if (!o.err && fflush(fp) != 0) o.err = errno ? errno : EIO;
    if (fclose(fp) != 0 && !o.err) o.err = errno ? errno : EIO;
    if (o.err) {
        rc = fail(err, errlen, "writing %s: %s%s", path, strerror(o.err),
                  regular ? " (the partial file was removed)" : "");
        if (regular) remove(path);
        goto done;
    }
    if (bytes_out) *bytes_out = o.pos;
done:
    free(chunk);
    free(k.b.p);
    free(in.b.p);
    return rc;
}

/* ---- the command ---- */

static const char *help =
    "usage: joule synth NAME -o FILE.gguf [--seed S]\n"
    "       joule synth list\n"
    "Writes a synthetic model (random weights in a published model's exact shapes and tensor\n"
    "types, the same bytes `joule bench --synthetic NAME` makes in memory) as a GGUF file, with\n"
    "a generated vocabulary of the model's size and kind, so that joule and other engines\n"
    "(llama.cpp's llama-bench, ../shared/tools/vs-llama.sh) can be measured on the very same\n"
    "file. The weights are generated and written in 4 MiB pieces: memory use stays small.\n"
    "  NAME                  SHAPE-FTYPE, e.g. tinyllama-1.1b-q4_k_m; 'list' shows them all\n"
    "  -o, --output FILE     the file to write (replaced if it exists; removed again if the\n"
    "                        write fails, e.g. on a full disk)\n"
    "  --seed S              seed of the random weights (default: bench's fixed seed; -1:\n"
    "                        a random one, printed)\n"
    "  -h, --help            this text\n"
    "example: joule synth tinyllama-1.1b-q4_0 -o /tmp/tl-q4_0.gguf && joule bench -m "
    "/tmp/tl-q4_0.gguf\n";

int cli_synth(int argc, char **argv)
{
    struct cli a;
    cli_init(&a, "joule synth", argc, argv);
    const char *name = NULL, *out = NULL;
    uint64_t seed = 0;
    while (cli_next(&a)) {
        if (cli_is_help(&a)) return printf("%s", help) < 0;
        if (cli_is(&a, "-o", "--output")) {
            if (!cli_str(&a, &out)) return 2;
        } else if (cli_is(&a, NULL, "--seed")) {
            if (!cli_seed(&a, &seed)) return 2;
        } else if (cli_arg(&a)[0] == '-' && cli_arg(&a)[1]) {
            return cli_unknown(&a);
        } else if (name) {
            return cli_usage(&a, "one model name only ('%s' and '%s')", name, cli_arg(&a));
        } else {
            name = cli_arg(&a);
        }
    }
    if (!name) return cli_usage(&a, "give a model NAME (joule synth list shows them)");
    if (!strcmp(name, "list")) {
        synth_print_list(stdout);
        return 0;
    }
    const struct synth_shape *s;
    enum synth_ftype f;
    char err[768];
    if (synth_parse(name, &s, &f, err, sizeof err) != 0) return cli_usage(&a, "%s", err);
    if (!out || !*out) return cli_usage(&a, "give the output file with -o FILE.gguf");
    struct synth_info info;
    synth_info(s, f, &info);
    fprintf(stderr, "joule synth: writing %s-%s (%.2f GiB of weights, %d tensors) to %s\n", s->name,
            synth_ftype_name(f), (double)info.bytes / (1 << 30), info.n_tensors, out);
    /* a file-size limit (ulimit -f) then fails the write with EFBIG, which names the
     * problem and removes the partial file, instead of killing the process */
    signal(SIGXFSZ, SIG_IGN);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t bytes = 0;
    if (synth_gguf_write(s, f, seed, out, &bytes, err, sizeof err) != 0) {
        return cli_fail(&a, "%s", err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    fprintf(stderr, "joule synth: wrote %s: %" PRIu64 " bytes in %.1f s\n", out, bytes, secs);
    return 0;
}
