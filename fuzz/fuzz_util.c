/* fuzz_util — see fuzz_util.h. */
#include "fuzz_util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_writer.h"
#include "tokenizer.h"

int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t cap)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return -1;
    for (size_t o = 0; o < size;) {
        ssize_t w = write(fd, data + o, size - o);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        o += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

void fuzz_memfd_close(int fd)
{
    if (fd >= 0) close(fd);
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz oracle failed: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static struct tokenizer *load_file(const char *path)
{
    char err[512];
    struct gguf_file *f = NULL;
    if (gguf_open(path, &f, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz: %s\n", err);
        return NULL;
    }
    struct tokenizer *t = NULL;
    if (tokenizer_load(f, &t, err, sizeof err) != 0) fprintf(stderr, "fuzz: %s\n", err);
    gguf_close(f);
    return t;
}

/* Writes w to a memfd and loads it. */
static struct tokenizer *load_writer(struct gguf_writer *w)
{
    char path[64];
    int fd = memfd_create("fuzz-vocab", 0);
    if (fd < 0) return NULL;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct tokenizer *t = gw_write(w, path) == 0 ? load_file(path) : NULL;
    close(fd);
    gw_free(w);
    return t;
}

/* SentencePiece: byte tokens, control / unknown / user-defined tokens and a few pieces */
static struct tokenizer *builtin_spm(void)
{
    static char bytes[256][7];
    const char *tok[300];
    float score[300];
    int32_t type[300];
    size_t n = 0;
    static const struct {
        const char *s;
        int32_t type;
    } fixed[] = {{"<unk>", TOK_UNKNOWN},
                 {"<s>", TOK_CONTROL},
                 {"</s>", TOK_USER_DEFINED},
                 {"<|user|>", TOK_CONTROL},
                 {"<|end|>", TOK_USER_DEFINED},
                 {"\xe2\x96\x81", TOK_NORMAL},
                 {"\xe2\x96\x81h", TOK_NORMAL},
                 {"\xe2\x96\x81hi", TOK_NORMAL},
                 {"hi", TOK_NORMAL},
                 {"</", TOK_NORMAL},
                 {"s>", TOK_NORMAL},
                 {"<|", TOK_NORMAL},
                 {"|>", TOK_NORMAL},
                 {"\xc3\xa9", TOK_NORMAL},
                 {"xyz", TOK_USER_DEFINED}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++, n++) {
        tok[n] = fixed[i].s;
        type[n] = fixed[i].type;
        score[n] = -(float)n;
    }
    for (int c = 0; c < 256; c++, n++) {
        snprintf(bytes[c], sizeof bytes[c], "<0x%02X>", c);
        tok[n] = bytes[c];
        type[n] = TOK_BYTE;
        score[n] = 0;
    }
    struct gguf_writer *w = gw_new();
    gw_add_str(w, "general.architecture", "llama");
    gw_add_str(w, "general.name", "phi-3 fuzz");
    gw_add_str(w, "tokenizer.ggml.model", "llama");
    gw_add_str_arr(w, "tokenizer.ggml.tokens", tok, n);
    gw_add_arr(w, "tokenizer.ggml.scores", GGUF_F32, score, n);
    gw_add_arr(w, "tokenizer.ggml.token_type", GGUF_I32, type, n);
    gw_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    return load_writer(w);
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* byte-level BPE: the GPT-2 byte characters, but none for 0x0B and 0xFF (as Falcon and mpt
 * lack some), a few merges, <|endoftext|> as BOS / EOS / unknown */
static struct tokenizer *builtin_bpe(void)
{
    static char chars[256][3];
    const char *tok[300];
    int32_t type[300];
    size_t n = 0;
    for (int c = 0; c < 256; c++) {
        if (c == 0x0B || c == 0xFF) continue;
        /* the GPT-2 mapping: printable bytes stand for themselves, the rest for U+0100.. */
        uint32_t cp;
        int k = 0;
        for (cp = 0; cp < 256; cp++) {
            bool printable = (cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) ||
                             (cp >= 0xAE && cp <= 0xFF);
            if (cp == (uint32_t)c) break;
            if (!printable) k++;
        }
        bool printable =
            (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        size_t l = put_utf8(chars[c], printable ? (uint32_t)c : 0x100u + (uint32_t)k);
        chars[c][l] = 0;
        tok[n] = chars[c];
        type[n++] = TOK_NORMAL;
    }
    static const struct {
        const char *s;
        int32_t type;
    } fixed[] = {{"<|endoftext|>", TOK_CONTROL},
                 {"<|im_start|>", TOK_CONTROL},
                 {"<|im_end|>", TOK_USER_DEFINED},
                 {"<pad>", TOK_USER_DEFINED},
                 {"  ", TOK_USER_DEFINED},
                 {"he", TOK_NORMAL},
                 {"ll", TOK_NORMAL},
                 {"hell", TOK_NORMAL},
                 {"\xc4\xa0h", TOK_NORMAL},
                 {"<|", TOK_NORMAL}};
    size_t first_fixed = n;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++, n++) {
        tok[n] = fixed[i].s;
        type[n] = fixed[i].type;
    }
    const char *merges[] = {"h e", "l l", "he ll", "\xc4\xa0 h", "< |"};
    struct gguf_writer *w = gw_new();
    gw_add_str(w, "general.architecture", "gpt2");
    gw_add_str(w, "tokenizer.ggml.model", "gpt2");
    gw_add_str(w, "tokenizer.ggml.pre", "gpt-2");
    gw_add_str_arr(w, "tokenizer.ggml.tokens", tok, n);
    gw_add_arr(w, "tokenizer.ggml.token_type", GGUF_I32, type, n);
    gw_add_str_arr(w, "tokenizer.ggml.merges", merges, sizeof merges / sizeof merges[0]);
    gw_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)first_fixed);
    gw_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)first_fixed);
    gw_add_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)first_fixed);
    return load_writer(w);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct tokenizer *const *fuzz_vocabs(size_t *n)
{
    static struct tokenizer *v[32];
    static size_t nv;
    if (nv == 0) {
        v[nv++] = builtin_spm();
        v[nv++] = builtin_bpe();
        if (!v[0] || !v[1]) {
            fprintf(stderr, "fuzz: the built-in vocabularies do not load\n");
            abort();
        }
        const char *sh = getenv("JOULE_SHARED");
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/vocab", sh && *sh ? sh : "../shared");
        DIR *dp = opendir(dir);
        char *names[32];
        size_t nn = 0;
        for (struct dirent *de; dp && (de = readdir(dp)) && nn < 32;) {
            size_t l = strlen(de->d_name);
            if (l > 5 && !strcmp(de->d_name + l - 5, ".gguf")) names[nn++] = strdup(de->d_name);
        }
        if (dp) closedir(dp);
        qsort(names, nn, sizeof names[0], cmp_str); /* the same index means the same vocab */
        for (size_t i = 0; i < nn; i++) {
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            struct tokenizer *t = names[i] && nv < 32 ? load_file(path) : NULL;
            if (t) v[nv++] = t;
            free(names[i]);
        }
        fprintf(stderr, "fuzz: %zu vocabularies (%zu from %s)\n", nv, nv - 2, dir);
    }
    *n = nv;
    return v;
}

int fuzz_init_vocabs(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    size_t n;
    (void)fuzz_vocabs(&n);
    return 0;
}
