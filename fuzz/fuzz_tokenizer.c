/* fuzz_tokenizer — encode (special tokens parsed or not, BOS or not), decode, the streaming
 * detokenizer and token_bytes on any text, for every vocabulary fuzz_vocabs gives.
 * Input: byte 0 picks the vocabulary, byte 1 the flags (1 parse special, 2 BOS, 4 show
 * special when decoding), the rest is the text.
 * Oracles: plain text (special parsing off) never gives a CONTROL or end-of-generation token;
 * every decoded string is valid UTF-8. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "tokenizer.h"

static void check_utf8(const char *s, size_t n, const char *what)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t need = c < 0x80                 ? 1
                      : c >= 0xC2 && c <= 0xDF ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 0;
        if (!need || i + need > n) fuzz_fail("%s: invalid UTF-8 at byte %zu", what, i);
        for (size_t k = 1; k < need; k++)
            if ((u[i + k] & 0xC0) != 0x80) fuzz_fail("%s: invalid UTF-8 at byte %zu", what, i + k);
        i += need;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t nv;
    struct tokenizer *const *v = fuzz_vocabs(&nv);
    const struct tokenizer *t = v[data[0] % nv];
    unsigned fl = data[1];
    bool special = fl & 1, bos = (fl & 2) && tokenizer_bos(t) >= 0;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    int32_t *ids = NULL;
    size_t n = 0;
    char err[256];
    if (tokenizer_encode(t, text, len, bos, special, &ids, &n, err, sizeof err) != 0)
        fuzz_fail("encode failed: %s", err);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tokenizer_n_vocab(t)) fuzz_fail("id %d out of range", ids[i]);
        if (special || (bos && i == 0)) continue;
        if (tokenizer_token_type(t, ids[i]) == TOK_CONTROL || tokenizer_is_eog(t, ids[i]))
            fuzz_fail("plain text gave control token %d", ids[i]);
    }
    char *d = tokenizer_decode(t, ids, n);
    if (!d) fuzz_fail("decode returned NULL");
    check_utf8(d, strlen(d), "decode");
    free(d);

    struct detok dt;
    detok_init(&dt, t, fl & 8);
    dt.show_special = fl & 4;
    size_t cap = detok_max_bytes(t);
    char *out = malloc(cap + 8);
    if (!out) return 0;
    for (size_t i = 0; i < n; i++) {
        size_t w = detok_push(&dt, ids[i], out, cap);
        if (w > cap) fuzz_fail("detok_push wrote %zu > %zu", w, cap);
        check_utf8(out, w, "detok_push");
        char small[4];
        size_t full = tokenizer_token_bytes(t, ids[i], fl & 4, small, sizeof small);
        (void)full;
    }
    size_t w = detok_flush(&dt, out, cap);
    check_utf8(out, w, "detok_flush");
    free(out);
    free(ids);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return fuzz_init_vocabs(argc, argv);
}
